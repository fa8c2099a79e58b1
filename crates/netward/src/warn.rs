//! The temporary warn allows on disk: `<data dir>/warn-allows.json` (the
//! policy crate's `WarnAllows` table, written atomically under the data
//! directory's writers' lock, mode 0600). Both writers come here: `netward
//! warn allow|revoke` and the agent's notifier when a user chooses "Allow
//! for N hours". Each change is a 5007 entry naming the user it is for and
//! who made it; a running agent applies it at once (control socket reload).

use crate::datadir::{atomic_write, DataDir};
use crate::error::{CliError, CliResult, Context};
use crate::oplog::OperationalEvent;
use netward_events::Timestamp;
use netward_policy::{WarnAllow, WarnAllows};
use std::os::unix::fs::PermissionsExt;

pub const WARN_FILE: &str = "warn-allows.json";

fn secs(t: Timestamp) -> i64 {
    t.unix_nanos().div_euclid(1_000_000_000)
}

/// The stored allows (none when the file is absent). A damaged file is an
/// error with its position: it is never silently emptied.
pub fn load(dir: &DataDir) -> CliResult<WarnAllows> {
    let path = dir.file(WARN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => WarnAllows::from_json(&text).map_err(|e| {
            CliError::failure(format!("{}: {e}", path.display()))
                .with_hint("fix or remove the file (it holds only temporary warn allows)")
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(WarnAllows::default()),
        Err(e) => Err(CliError::failure(format!("cannot read {}: {e}", path.display()))),
    }
}

fn save(dir: &DataDir, t: &WarnAllows) -> CliResult<()> {
    dir.ensure()?;
    let path = dir.file(WARN_FILE);
    atomic_write(&path, t.to_json().as_bytes()).context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .context(|| format!("cannot set the mode of {}", path.display()))
}

/// How a user is named in 5007 entries and listings.
pub fn user_label(user: Option<u32>, name: Option<&str>) -> String {
    match (user, name) {
        (None, _) => "every user".into(),
        (Some(uid), Some(n)) => format!("{n} (uid {uid})"),
        (Some(uid), None) => format!("uid {uid}"),
    }
}

/// Adds an allow of `dest` for `user` (None: every user) lasting `for_secs`
/// from `now`, under the lock, with its 5007 entry. `who` made the change;
/// `user_name` names `user` in the entry.
pub fn allow(
    dir: &DataDir,
    dest: &str,
    user: Option<u32>,
    user_name: Option<&str>,
    now: Timestamp,
    for_secs: u64,
    who: &str,
) -> CliResult<WarnAllow> {
    let _lock = dir.lock()?;
    let mut t = load(dir)?;
    let until = secs(now).saturating_add(i64::try_from(for_secs).unwrap_or(i64::MAX));
    let (a, evicted) = t.add(dest, user, secs(now), until, who).map_err(|e| CliError::bad_input(e.to_string()))?;
    save(dir, &t)?;
    let until_ts = Timestamp::from_unix_nanos(a.until.saturating_mul(1_000_000_000));
    let mut events = vec![OperationalEvent::warn_allow(
        now,
        who,
        &a.host,
        &user_label(user, user_name),
        &format!("allowed until {until_ts}"),
    )];
    if let Some(old) = evicted {
        let label = user_label(old.user, None);
        events.push(OperationalEvent::warn_allow(now, who, &old.host, &label, "removed (table full)"));
    }
    crate::oplog::append(dir, &events)?;
    Ok(a)
}

/// Removes the allows of `dest` (only `user`'s when given), with a 5007
/// entry each; the removed ones.
pub fn revoke(dir: &DataDir, dest: &str, user: Option<Option<u32>>, who: &str) -> CliResult<Vec<WarnAllow>> {
    let _lock = dir.lock()?;
    let mut t = load(dir)?;
    let gone = t.revoke(dest, user).map_err(|e| CliError::bad_input(e.to_string()))?;
    if gone.is_empty() {
        return Ok(gone);
    }
    save(dir, &t)?;
    let now = crate::now();
    let events: Vec<_> = gone
        .iter()
        .map(|a| OperationalEvent::warn_allow(now, who, &a.host, &user_label(a.user, None), "revoked"))
        .collect();
    crate::oplog::append(dir, &events)?;
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datadir::DataDirSource;

    fn dir(t: &tempfile::TempDir) -> DataDir {
        DataDir { path: t.path().to_path_buf(), source: DataDirSource::Flag }
    }

    #[test]
    fn allow_and_revoke_are_stored_private_and_logged_as_5007() {
        let t = tempfile::tempdir().unwrap();
        let d = dir(&t);
        let now = Timestamp::from_unix_nanos(1_700_000_000 * 1_000_000_000);
        let a = allow(&d, "https://Warn.Test/x", Some(65534), Some("nobody"), now, 3600, "root").unwrap();
        assert_eq!((a.host.as_str(), a.until), ("warn.test", 1_700_003_600));
        let mode = std::fs::metadata(d.file(WARN_FILE)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(load(&d).unwrap().find(Some(65534), "warn.test", 1_700_000_001).is_some());
        let (events, _) = crate::oplog::read(&d).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_id, 5007);
        assert_eq!(events[0].data["User"], "root");
        assert_eq!(events[0].data["AllowedUser"], "nobody (uid 65534)");
        assert_eq!(revoke(&d, "warn.test", None, "root").unwrap().len(), 1);
        assert!(load(&d).unwrap().is_empty());
        assert_eq!(crate::oplog::read(&d).unwrap().0.len(), 2);
    }

    #[test]
    fn bad_input_and_a_damaged_file_are_errors() {
        let t = tempfile::tempdir().unwrap();
        let d = dir(&t);
        let e = allow(&d, "http://[::1/", None, None, crate::now(), 60, "root").unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
        std::fs::write(d.file(WARN_FILE), "{\"allows\": [\n  nope]}").unwrap();
        let e = load(&d).unwrap_err();
        assert!(e.message.contains("line 2"), "{e}");
        assert_eq!(e.exit_code(), 1);
    }
}
