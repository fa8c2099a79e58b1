//! The portal tests' parts, shared by `portal_e2e` and `portal_http`: the
//! real binary run on a data directory with text on its stdin (passwords
//! are read from stdin, never an argument), and a child killed on drop.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// Kills what it holds when the test ends, pass or fail.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `netward --data-dir DATA ARGS`, `stdin` written to it and closed.
pub fn netward(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_netward"))
        .env_remove("NETWARD_DATA_DIR")
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(s) = stdin {
        c.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(c.stdin.take());
    c.wait_with_output().unwrap()
}

/// The stdout of a run that must succeed.
pub fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
