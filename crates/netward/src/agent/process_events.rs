//! `DeviceProcessEvents` rows (`ProcessCreated`) from the exec events the
//! attribution sensor collects anyway: the new process is the row's
//! `Process*`/file columns, the process that ran it its `InitiatingProcess*`
//! columns, so hunting queries can join network events to the processes
//! that made them (`InitiatingProcessId == ProcessId`).

use netward_attribution::ProcessEvent;
use netward_events::{ActionType, Record, Table, Value};
use serde_json::json;

/// Who the rows are about: the device, and the domain of local accounts.
pub struct Device<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

/// The row of one exec. `ReportId` is the writer's to assign.
pub fn row(dev: &Device, ev: &ProcessEvent) -> Record {
    let p = &ev.info;
    let s = |v: &str| Value::String(v.to_string());
    let (sha1, sha256, md5) =
        p.hashes.as_ref().map(|h| (h.sha1.as_str(), h.sha256.as_str(), h.md5.as_str())).unwrap_or_default();
    let folder = p.folder_path.as_ref().map(|f| f.display().to_string()).unwrap_or_default();
    let account = p.account_name.as_deref().unwrap_or_default();
    let domain = if account.is_empty() { "" } else { dev.name };
    let mut cells = vec![
        ("Timestamp", Value::DateTime(crate::timestamp(ev.exec_time))),
        ("DeviceId", s(dev.id)),
        ("DeviceName", s(dev.name)),
        ("ActionType", s(ActionType::ProcessCreated.as_str())),
        ("FileName", s(&p.file_name)),
        ("FolderPath", s(&folder)),
        ("SHA1", s(sha1)),
        ("SHA256", s(sha256)),
        ("MD5", s(md5)),
        ("ProcessId", Value::Long(i64::from(p.pid))),
        ("ProcessCommandLine", s(p.command_line.as_deref().unwrap_or_default())),
        ("AccountName", s(account)),
        ("AccountDomain", s(domain)),
        ("InitiatingProcessFileName", s(p.parent_file_name.as_deref().unwrap_or_default())),
        ("AdditionalFields", Value::Dynamic(json!({ "attribution": p.source.as_str() }))),
    ];
    if let Some(t) = p.creation_time {
        cells.push(("ProcessCreationTime", Value::DateTime(crate::timestamp(t))));
    }
    if let Some(ppid) = p.parent_pid {
        cells.push(("InitiatingProcessId", Value::Long(i64::from(ppid))));
    }
    let mut r = Record::new(Table::DeviceProcessEvents);
    for (col, v) in cells {
        // The columns are the table's own: a failure is a bug of this list.
        r.set(col, v).unwrap_or_else(|e| panic!("DeviceProcessEvents.{col}: {e}"));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use netward_attribution::{ProcessInfo, Source};
    use std::time::{Duration, SystemTime};

    #[test]
    fn an_exec_names_the_new_process_and_its_parent() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let ev = ProcessEvent {
            exec_time: t,
            info: ProcessInfo {
                pid: 42,
                file_name: "curl".into(),
                folder_path: Some("/usr/bin".into()),
                command_line: Some("curl -s http://x".into()),
                hashes: None,
                uid: Some(1000),
                account_name: Some("alice".into()),
                creation_time: Some(t),
                parent_pid: Some(7),
                parent_file_name: Some("bash".into()),
                source: Source::Bpf,
            },
        };
        let r = row(&Device { id: "dev1", name: "host" }, &ev);
        let j: serde_json::Value = serde_json::from_str(&r.to_json_line()).unwrap();
        assert_eq!(j["ActionType"], "ProcessCreated");
        assert_eq!((j["ProcessId"].as_i64(), j["InitiatingProcessId"].as_i64()), (Some(42), Some(7)));
        assert_eq!((j["FileName"].as_str(), j["FolderPath"].as_str()), (Some("curl"), Some("/usr/bin")));
        assert_eq!(
            (j["InitiatingProcessFileName"].as_str(), j["AccountDomain"].as_str()),
            (Some("bash"), Some("host"))
        );
        assert_eq!(j["AdditionalFields"]["attribution"], "bpf");
        assert!(r.missing_required().is_none(), "{:?}", r.missing_required());
    }
}
