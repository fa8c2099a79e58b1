//! The event store and KQL hunting through the real binary: import of
//! Defender-style exports with per-row errors, replay --store, the seeds'
//! proxy query, pinned now(), and query errors with positions.

mod common;

use common::cli::{lines, netward};
use std::path::Path;

fn hunt(data: &Path, q: &str) -> Vec<serde_json::Value> {
    let out = netward(data).args(["hunt", "--now", "2024-05-15T00:00:00Z", q]).output().unwrap();
    assert!(out.status.success(), "{q}: {}", String::from_utf8_lossy(&out.stderr));
    lines(&out.stdout)
}

#[test]
fn import_keeps_good_rows_and_names_bad_lines() {
    let t = tempfile::tempdir().unwrap();
    let json = t.path().join("export.json");
    std::fs::write(
        &json,
        concat!(
            r#"{"Timestamp":"2024-05-14T09:46:02.7681927Z","DeviceName":"pc1","ActionType":"ConnectionSuccess","RemoteUrl":"evil.example","RemotePort":443,"AdditionalFields":"{\"k\":1}","InitiatingProcessUniqueId":"7"}"#, "\n",
            r#"{"Timestamp":"not a time","DeviceName":"pc1"}"#, "\n",
            "{broken\n",
            r#"{"Timestamp":"2024-05-14T10:00:00Z","DeviceName":"pc2","ActionType":"ConnectionFailed","RemoteUrl":"good.example","RemotePort":"80"}"#, "\n",
        ),
    )
    .unwrap();
    let out = netward(t.path()).args(["import", "--table", "DeviceNetworkEvents"]).arg(&json).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "rejected rows make the exit code 2");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("export.json:2:") && err.contains("Timestamp"), "{err}");
    assert!(err.contains("export.json:3:"), "{err}");
    assert!(err.contains("InitiatingProcessUniqueId"), "ignored columns are named: {err}");

    let csv = t.path().join("info.csv");
    std::fs::write(&csv, "Timestamp,DeviceId,DeviceName,OSPlatform,LoggedOnUsers\n2024-05-14T08:00:00Z,d1,pc1,Linux,\"[{\"\"UserName\"\":\"\"alice\"\"}]\"\n").unwrap();
    netward(t.path()).args(["import", "--table", "DeviceInfo"]).arg(&csv).assert().success();

    let rows = hunt(
        t.path(),
        "DeviceNetworkEvents | project DeviceName, RemoteUrl, RemotePort, AdditionalFields | sort by DeviceName asc",
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["RemoteUrl"], "evil.example");
    assert_eq!(rows[0]["AdditionalFields"]["k"], 1);
    assert_eq!(rows[1]["RemotePort"], 80);
    let users = hunt(t.path(), "DeviceInfo | extend u = tostring(LoggedOnUsers[0].UserName) | project DeviceName, u");
    assert_eq!(users[0]["u"], "alice");
}

#[test]
fn replayed_events_are_stored_and_the_seeds_proxy_query_lists_real_targets() {
    let t = tempfile::tempdir().unwrap();
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/own/proxy-get-keepalive.pcap");
    netward(t.path()).args(["replay", "-q", "--store", "--no-print"]).arg(&pcap).assert().success();
    let q = r#"DeviceNetworkEvents | where ActionType == "ConnectionSuccess" and RemoteIP != "198.18.1.1" | project RemoteUrl, ReportId | sort by ReportId asc"#;
    let rows = hunt(t.path(), q);
    let urls: Vec<&str> = rows.iter().map(|r| r["RemoteUrl"].as_str().unwrap()).collect();
    assert_eq!(urls, vec!["good.test", "www.evil.test", "phish.test"]);
    // ReportIds are unique and increase across runs (persisted).
    netward(t.path()).args(["replay", "-q", "--store", "--no-print"]).arg(&pcap).assert().success();
    let ids = hunt(t.path(), "DeviceNetworkEvents | summarize n = count(), d = dcount(ReportId)");
    assert_eq!(ids[0]["n"], ids[0]["d"]);
}

#[test]
fn verdicts_are_device_events_too() {
    let t = tempfile::tempdir().unwrap();
    netward(t.path())
        .args(["indicator", "add", "--type", "domain", "--value", "evil.test", "--action", "block"])
        .assert()
        .success();
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/own/connect-tls.pcap");
    netward(t.path()).args(["replay", "-q", "--policy", "--store", "--no-print"]).arg(&pcap).assert().success();
    let dne = hunt(t.path(), r#"DeviceNetworkEvents | where ActionType startswith "ExploitGuard" | count"#);
    let de = hunt(
        t.path(),
        r#"DeviceEvents | where ActionType == "ExploitGuardNetworkProtectionAudited" | project RemoteUrl, AdditionalFields"#,
    );
    assert!(dne[0]["Count"].as_i64().unwrap() >= 1);
    assert_eq!(de.len() as i64, dne[0]["Count"].as_i64().unwrap(), "one stored copy, seen in both tables");
    assert_eq!(de[0]["RemoteUrl"], "evil.test");
    assert_eq!(de[0]["AdditionalFields"]["ResponseCategory"], "CustomBlockList");
    // And each stored audit is event 1125 in the operational log.
    let ops = lines(&netward(t.path()).args(["events", "--id", "1125"]).output().unwrap().stdout);
    assert_eq!(ops.len(), de.len());
    assert_eq!(ops[0]["Data"]["RemoteUrl"], "evil.test");
}

#[test]
fn query_errors_give_position_and_exit_2() {
    let t = tempfile::tempdir().unwrap();
    let out = netward(t.path()).args(["hunt", "DeviceNetworkEvents | where"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("(1:"), "{err}");
    let out = netward(t.path())
        .args(["hunt", "DeviceNetworkEvents\n| join (DeviceFileEvents) on DeviceId"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DeviceFileEvents"));
    // An empty store answers queries with no rows.
    assert!(hunt(t.path(), "DeviceNetworkEvents | take 5").is_empty());
}
