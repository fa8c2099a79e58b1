//! `netward warn allow|list|revoke`: the temporary allows of warn
//! destinations from a terminal (headless devices, or an admin acting for a
//! user), the same allows a user makes with a warn notification's action.
//! Kept by `crate::warn`; a running agent applies each change at once.

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::RowWriter;
use netward_events::Timestamp;
use netward_feeds::every::Every;
use serde_json::json;

#[derive(Debug, clap::Subcommand)]
pub enum WarnCommand {
    /// Let a warn destination through for a while (for one user, or every user)
    Allow(AllowArgs),
    /// The temporary allows in force
    List,
    /// Remove the allows of a destination
    Revoke(RevokeArgs),
}

#[derive(Debug, clap::Args)]
pub struct AllowArgs {
    /// The destination: a host, an address or a URL (its host is allowed)
    pub dest: String,
    /// The user it is for: an account name or a uid. Default: every user
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// How long: 30m, 24h, 1d12h (at most 7d). Default: the `warn.allow_hours` setting
    #[arg(long = "for", value_name = "DURATION")]
    pub duration: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// The destination whose allows go
    pub dest: String,
    /// Only this user's allow (an account name or a uid). Default: all of them
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
}

pub fn run(ctx: &Ctx, cmd: &WarnCommand) -> CliResult<()> {
    match cmd {
        WarnCommand::Allow(a) => allow(ctx, a),
        WarnCommand::List => list(ctx),
        WarnCommand::Revoke(a) => revoke(ctx, a),
    }
}

/// uid of an account name or a number, from /etc/passwd.
fn resolve_user(spec: &str) -> CliResult<(u32, Option<String>)> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let accounts: Vec<(String, u32)> = passwd
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?.to_string();
            let uid = f.nth(1)?.parse().ok()?;
            Some((name, uid))
        })
        .collect();
    if let Ok(uid) = spec.parse::<u32>() {
        let name = accounts.iter().find(|(_, u)| *u == uid).map(|(n, _)| n.clone());
        return Ok((uid, name));
    }
    accounts
        .iter()
        .find(|(n, _)| n == spec)
        .map(|(n, u)| (*u, Some(n.clone())))
        .ok_or_else(|| CliError::bad_input(format!("--user: no account `{spec}` in /etc/passwd")))
}

fn allow(ctx: &Ctx, a: &AllowArgs) -> CliResult<()> {
    let secs = match &a.duration {
        Some(d) => d.parse::<Every>().map_err(|e| CliError::bad_input(format!("--for: {e}")))?.0,
        None => ctx.settings.get_u64(crate::settings::WARN_ALLOW_HOURS).saturating_mul(3600),
    };
    let (user, name) = match &a.user {
        Some(u) => {
            let (uid, name) = resolve_user(u)?;
            (Some(uid), name)
        }
        None => (None, None),
    };
    let who = crate::oplog::current_user();
    let allowed = crate::warn::allow(&ctx.data_dir, &a.dest, user, name.as_deref(), crate::now(), secs, &who)?;
    eprintln!(
        "allowed {} for {} until {}",
        allowed.host,
        crate::warn::user_label(user, name.as_deref()),
        until(allowed.until)
    );
    crate::agent::control::notify_change(&ctx.data_dir);
    Ok(())
}

fn until(secs: i64) -> Timestamp {
    Timestamp::from_unix_nanos(secs.saturating_mul(1_000_000_000))
}

fn list(ctx: &Ctx) -> CliResult<()> {
    let t = crate::warn::load(&ctx.data_dir)?;
    let now = crate::now().unix_nanos().div_euclid(1_000_000_000);
    let cols = ["destination", "user", "until", "added", "by"].map(String::from).to_vec();
    let mut w = RowWriter::new(ctx.format, cols, crate::output::stdout())?;
    for a in t.list().into_iter().filter(|a| a.until > now) {
        let user = a.user.map_or(json!("*"), |u| json!(u));
        let row =
            [json!(a.host), user, json!(until(a.until).to_string()), json!(until(a.added).to_string()), json!(a.by)];
        w.write_row(&row)?;
    }
    w.done()
}

fn revoke(ctx: &Ctx, a: &RevokeArgs) -> CliResult<()> {
    let user = match &a.user {
        Some(u) => Some(Some(resolve_user(u)?.0)),
        None => None,
    };
    let gone = crate::warn::revoke(&ctx.data_dir, &a.dest, user, &crate::oplog::current_user())?;
    if gone.is_empty() {
        return Err(CliError::bad_input(format!("no temporary allow of `{}`", a.dest))
            .with_hint("`netward warn list` shows them"));
    }
    eprintln!("revoked {} allow(s)", gone.len());
    crate::agent::control::notify_change(&ctx.data_dir);
    Ok(())
}
