//! The operational event log: settings changes (5007) and network protection
//! verdicts (1125 audit, 1126 block), as JSON lines in the data directory —
//! the Linux counterpart of Defender's Windows event log channel — and the
//! agent's own start, stop and errors. Each event also goes to the systemd
//! journal when its socket exists (`journal`).

pub mod journal;

use crate::datadir::DataDir;
use crate::error::{CliResult, Context};
use netward_events::Timestamp;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};

pub const OPLOG_FILE: &str = "operational.jsonl";

pub const EVENT_SETTINGS_CHANGED: u32 = 5007;
pub const EVENT_AUDITED: u32 = 1125;
pub const EVENT_BLOCKED: u32 = 1126;
/// The agent's lifecycle, numbered as Defender's nearest events: 1150 the
/// client is up, 5001 real-time protection off, 3002 it met an error.
pub const EVENT_AGENT_STARTED: u32 = 1150;
pub const EVENT_AGENT_STOPPED: u32 = 5001;
pub const EVENT_AGENT_ERROR: u32 = 3002;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OperationalEvent {
    pub timestamp: String,
    pub event_id: u32,
    pub level: String,
    pub message: String,
    #[serde(default)]
    pub data: serde_json::Map<String, serde_json::Value>,
}

impl OperationalEvent {
    pub fn settings_changed(now: Timestamp, who: &str, setting: &str, old: &str, new: &str) -> Self {
        let data = serde_json::json!({"User": who, "Setting": setting, "OldValue": old, "NewValue": new});
        OperationalEvent {
            timestamp: now.to_string(),
            event_id: EVENT_SETTINGS_CHANGED,
            level: "Information".into(),
            message: format!("Settings changed: {setting} from `{old}` to `{new}` by {who}"),
            data: data.as_object().cloned().unwrap_or_default(),
        }
    }
}

impl OperationalEvent {
    /// A temporary warn allow added, extended or removed (5007, as every
    /// change of what is enforced): `who` made it, for `user` (a label
    /// from `warn::user_label`), `change` says what happened.
    pub fn warn_allow(now: Timestamp, who: &str, host: &str, user: &str, change: &str) -> Self {
        let data = serde_json::json!({
            "User": who,
            "Setting": "warn_allow",
            "Destination": host,
            "AllowedUser": user,
            "NewValue": change,
        });
        OperationalEvent {
            timestamp: now.to_string(),
            event_id: EVENT_SETTINGS_CHANGED,
            level: "Information".into(),
            message: format!("Warn allow for {host}, {user}: {change} by {who}"),
            data: data.as_object().cloned().unwrap_or_default(),
        }
    }
}

impl OperationalEvent {
    fn lifecycle(now: Timestamp, event_id: u32, level: &str, message: String, data: serde_json::Value) -> Self {
        OperationalEvent {
            timestamp: now.to_string(),
            event_id,
            level: level.into(),
            message,
            data: data.as_object().cloned().unwrap_or_default(),
        }
    }

    /// The agent is running: queue bound, rules installed.
    pub fn agent_started(now: Timestamp, enforcement_level: &str) -> Self {
        let version = env!("CARGO_PKG_VERSION");
        let data =
            serde_json::json!({"Version": version, "EnforcementLevel": enforcement_level, "Pid": std::process::id()});
        Self::lifecycle(now, EVENT_AGENT_STARTED, "Information", format!("netward {version} agent started"), data)
    }

    /// The agent stopped; `reason` says why (a signal, an error).
    pub fn agent_stopped(now: Timestamp, reason: &str) -> Self {
        let data = serde_json::json!({"Reason": reason, "Pid": std::process::id()});
        Self::lifecycle(now, EVENT_AGENT_STOPPED, "Warning", format!("netward agent stopped: {reason}"), data)
    }

    /// The agent met an error it reports (and may survive).
    pub fn agent_error(now: Timestamp, component: &str, error: &str) -> Self {
        let data = serde_json::json!({"Component": component, "Error": error});
        Self::lifecycle(now, EVENT_AGENT_ERROR, "Error", format!("netward {component}: {error}"), data)
    }

    /// A network protection verdict: 1125 when audited, 1126 when blocked.
    pub fn verdict(ev: &netward_events::NetworkEvent) -> Option<Self> {
        use netward_events::ActionType;
        let (id, level, verb) = match ev.action_type? {
            ActionType::ExploitGuardNetworkProtectionAudited => (EVENT_AUDITED, "Warning", "audited"),
            ActionType::ExploitGuardNetworkProtectionBlocked => (EVENT_BLOCKED, "Warning", "blocked"),
            _ => return None,
        };
        let f = &ev.additional_fields;
        let mut data = f.clone();
        data.insert("RemoteUrl".into(), serde_json::json!(ev.remote_url));
        data.insert("RemoteIP".into(), serde_json::json!(ev.remote_ip.map(|i| i.to_string()).unwrap_or_default()));
        data.insert("ReportId".into(), serde_json::json!(ev.report_id));
        Some(OperationalEvent {
            timestamp: ev.timestamp.to_string(),
            event_id: id,
            level: level.into(),
            message: format!(
                "Network protection {verb} a connection to {} ({})",
                ev.remote_url,
                f.get("ResponseCategory").and_then(|c| c.as_str()).unwrap_or("")
            ),
            data,
        })
    }
}

/// Appends events and fsyncs before returning. The caller holds the data
/// directory lock, so lines from concurrent writers never interleave.
/// Also sends them to the journal (best effort: a journal error is not the
/// caller's failure, the file is the record).
pub fn append(dir: &DataDir, events: &[OperationalEvent]) -> CliResult<()> {
    if let Err(e) = journal::send(events) {
        journal_error_once(&e);
    }
    dir.ensure()?;
    let path = dir.file(OPLOG_FILE);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(&path)
        .context(|| format!("cannot open {}", path.display()))?;
    let mut buf = Vec::new();
    if ends_torn(&mut f).context(|| format!("cannot read {}", path.display()))? {
        // A crash cut the last line: start ours on a fresh line so that only
        // the torn one is lost, not ours too.
        buf.push(b'\n');
    }
    for e in events {
        serde_json::to_writer(&mut buf, e).context(|| "cannot encode event".into())?;
        buf.push(b'\n');
    }
    f.write_all(&buf).context(|| format!("cannot write {}", path.display()))?;
    f.sync_data().context(|| format!("cannot sync {}", path.display()))
}

/// One line on stderr per process about a failing journal, not one per event.
fn journal_error_once(e: &std::io::Error) {
    static SHOWN: std::sync::Once = std::sync::Once::new();
    SHOWN.call_once(|| eprintln!("warning: cannot write to the systemd journal: {e}"));
}

fn ends_torn(f: &mut std::fs::File) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    if f.metadata()?.len() == 0 {
        return Ok(false);
    }
    f.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    f.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// Reads the log. A damaged line (a torn write after a crash) is reported by
/// line number and skipped; it never hides the lines after it.
pub fn read(dir: &DataDir) -> CliResult<(Vec<OperationalEvent>, Vec<String>)> {
    let path = dir.file(OPLOG_FILE);
    let f = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((vec![], vec![])),
        Err(e) => return Err(crate::error::CliError::failure(format!("cannot read {}: {e}", path.display()))),
    };
    let mut events = Vec::new();
    let mut damaged = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(e) => events.push(e),
            Err(e) => damaged.push(format!("{}:{}: {e}", path.display(), i + 1)),
        }
    }
    Ok((events, damaged))
}

/// Who changed a setting: the sudo caller if any, else the user.
pub fn current_user() -> String {
    for var in ["SUDO_USER", "USER", "LOGNAME"] {
        if let Ok(u) = std::env::var(var) {
            if !u.is_empty() {
                return u;
            }
        }
    }
    uid_name().unwrap_or_else(|| "unknown".into())
}

/// The account name of our real uid, from /proc and /etc/passwd (services
/// run without $USER).
fn uid_name() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().next()?.to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)? == uid).then(|| name.to_string())
        })
        .or(Some(format!("uid {uid}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datadir::DataDirSource;

    #[test]
    fn append_then_read_skips_a_torn_line() {
        let t = tempfile::tempdir().unwrap();
        let d = DataDir { path: t.path().to_path_buf(), source: DataDirSource::Flag };
        let e = OperationalEvent::settings_changed(Timestamp(0), "root", "x", "a", "b");
        append(&d, std::slice::from_ref(&e)).unwrap();
        std::fs::OpenOptions::new().append(true).open(d.file(OPLOG_FILE)).unwrap().write_all(b"{\"Times").unwrap();
        append(&d, std::slice::from_ref(&e)).unwrap();
        let (events, damaged) = read(&d).unwrap();
        assert_eq!(events, vec![e.clone(), e.clone()]);
        assert_eq!(damaged.len(), 1);
        assert_eq!(events[0].event_id, 5007);
        assert_eq!(events[0].data["OldValue"], "a");
    }
}
