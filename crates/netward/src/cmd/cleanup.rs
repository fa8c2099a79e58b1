//! `netward cleanup`: removes what a stopped or killed agent left in this
//! network namespace — netward's netfilter chains (both families) and the
//! control socket. The package's removal scripts call it after stopping the
//! service, so `apt remove` never leaves packets queued to nobody.

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use netward_datapath::{rules, Family};

pub fn run(ctx: &Ctx) -> CliResult<()> {
    if !nix::unistd::geteuid().is_root() {
        return Err(CliError::failure("netward cleanup needs root (it removes netfilter rules)")
            .with_hint("sudo netward cleanup"));
    }
    let mut failed = Vec::new();
    for fam in [Family::V4, Family::V6] {
        match rules::installed(fam) {
            Ok(false) => eprintln!("{fam:?}: no netward rules"),
            Ok(true) => match rules::remove(fam) {
                Ok(()) => eprintln!("{fam:?}: netward rules removed"),
                Err(e) => failed.push(format!("{fam:?}: {e}")),
            },
            // No ip6tables (or no IPv6) means no IPv6 rules to remove.
            Err(e) if fam == Family::V6 => eprintln!("{fam:?}: not checked: {e}"),
            Err(e) => failed.push(format!("{fam:?}: {e}")),
        }
    }
    let sock = crate::agent::control::socket_path(&ctx.data_dir);
    match std::fs::remove_file(&sock) {
        Ok(()) => eprintln!("removed {}", sock.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => failed.push(format!("{}: {e}", sock.display())),
    }
    match failed.is_empty() {
        true => Ok(()),
        false => Err(CliError::failure(format!("cleanup incomplete: {}", failed.join("; ")))),
    }
}
