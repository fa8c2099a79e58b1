//! `netward import` of what Defender exports, through the real binary:
//! Streaming API envelopes (one a line, and Event Hub `records` bodies)
//! routed to their tables by `category`, the portal's CSV export of all
//! three tables, every column kept, rows without their table's required
//! columns rejected by line, and nothing left in the live log afterwards.

mod common;

use common::cli::netward;
use netward_events::{ColumnType, Table};
use serde_json::{json, Value as J};
use std::path::{Path, PathBuf};

fn hunt(data: &Path, q: &str) -> Vec<J> {
    let out = netward(data).args(["hunt", "--now", "2024-05-15T00:00:00Z", q]).output().unwrap();
    assert!(out.status.success(), "{q}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/defender").join(name)
}

/// The live log holds nothing after an import (it was rolled into Parquet).
fn assert_log_empty(data: &Path) {
    let store = data.join("store");
    for e in std::fs::read_dir(&store).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("wal-") {
            assert_eq!(e.metadata().unwrap().len(), 0, "{name} should be empty after an import");
        }
    }
}

#[test]
fn streaming_api_envelopes_are_routed_by_category_with_every_column() {
    let t = tempfile::tempdir().unwrap();
    let out = netward(t.path()).arg("import").arg(sample("streaming-api.jsonl")).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "a rejected row makes the exit code 2: {err}");
    assert!(err.contains("streaming-api.jsonl:6:") && err.contains("Timestamp"), "{err}");
    assert!(err.contains("AdvancedHunting-DeviceFileEvents (1)"), "skipped tables are counted: {err}");
    assert!(err.contains("1 into DeviceProcessEvents"), "{err}");
    assert!(err.contains("InitiatingProcessUniqueId"), "ignored columns are named: {err}");
    assert!(err.contains("2 into DeviceNetworkEvents") && err.contains("1 into DeviceEvents"), "{err}");
    assert!(err.contains("1 into DeviceInfo"), "{err}");
    assert_log_empty(t.path());

    let dne = hunt(t.path(), "DeviceNetworkEvents | sort by ReportId asc");
    assert_eq!(dne.len(), 2, "the row without a Timestamp is not stored: {dne:?}");
    let r = &dne[1];
    assert_eq!(r["ReportId"], 7251);
    assert_eq!(r["Timestamp"], "2024-05-14T09:46:02.768Z");
    assert_eq!(r["InitiatingProcessVersionInfoCompanyName"], "Vendor Ltd");
    assert_eq!(r["InitiatingProcessFileSize"], 482304);
    assert_eq!(r["InitiatingProcessParentCreationTime"], "2024-05-14T07:10:01.552Z");
    assert_eq!(r["InitiatingProcessIntegrityLevel"], "System");
    assert_eq!(r["InitiatingProcessAccountSid"], "S-1-5-18");
    assert_eq!(r["IsInitiatingProcessRemoteSession"], false);
    assert_eq!(r["InitiatingProcessSessionId"], 0);
    assert_eq!(r["InitiatingProcessSHA256"], "", "null strings are empty");
    assert_eq!(dne[0]["MachineGroup"], "Build servers");
    assert_eq!(dne[0]["AdditionalFields"]["qtype_name"], "A");

    let dpe = hunt(t.path(), "DeviceProcessEvents");
    assert_eq!(dpe.len(), 1, "{dpe:?}");
    assert_eq!((dpe[0]["FileName"].as_str(), dpe[0]["ReportId"].as_i64()), (Some("cmd.exe"), Some(2001)));

    let de = hunt(t.path(), "DeviceEvents");
    assert_eq!(de.len(), 1);
    assert_eq!(de[0]["ActionType"], "SmartScreenUrlWarning");
    assert_eq!(de[0]["InitiatingProcessLogonId"], 999);
    assert_eq!(de[0]["RemoteUrl"], "http://phish.example/login");
    assert_eq!(de[0]["AdditionalFields"]["Experience"], "Malicious");

    let info = hunt(t.path(), "DeviceInfo | extend u = tostring(LoggedOnUsers[0].UserName)");
    assert_eq!(info.len(), 1);
    assert_eq!(info[0]["u"], "builder");
    assert_eq!(info[0]["OSDistribution"], "Ubuntu");
    assert_eq!(info[0]["ExposureLevel"], "Medium");
    assert_eq!(info[0]["ConnectivityType"], "Streamlined");
    assert_eq!(info[0]["IsAzureADJoined"], false);

    // With --table, envelopes of the other tables are skipped, not stored.
    let t2 = tempfile::tempdir().unwrap();
    let out = netward(t2.path())
        .args(["import", "--table", "DeviceInfo"])
        .arg(sample("streaming-api.jsonl"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(hunt(t2.path(), "DeviceNetworkEvents | count")[0]["Count"], 0);
    assert_eq!(hunt(t2.path(), "DeviceInfo | count")[0]["Count"], 1);
}

#[test]
fn portal_csv_exports_of_all_three_tables_import_with_their_columns() {
    let t = tempfile::tempdir().unwrap();
    let out = netward(t.path())
        .args(["import", "--table", "DeviceNetworkEvents"])
        .arg(sample("portal-DeviceNetworkEvents.csv"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("portal-DeviceNetworkEvents.csv:4:") && err.contains("ActionType"), "{err}");
    for (table, file) in [("DeviceEvents", "portal-DeviceEvents.csv"), ("DeviceInfo", "portal-DeviceInfo.csv")] {
        let out = netward(t.path()).args(["import", "--table", table]).arg(sample(file)).output().unwrap();
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert_log_empty(t.path());
    let dne = hunt(t.path(), "DeviceNetworkEvents | sort by ReportId asc");
    assert_eq!(dne.len(), 2);
    assert_eq!(dne[0]["Timestamp"], "2024-05-14T09:46:02.768Z");
    assert_eq!(dne[0]["InitiatingProcessParentCreationTime"], "2024-05-14T07:10:01.552Z");
    assert_eq!(dne[0]["InitiatingProcessFileSize"], 482304);
    assert_eq!(dne[1]["Timestamp"], "2024-05-14T13:05:00.000Z");
    assert_eq!(dne[1]["IsInitiatingProcessRemoteSession"], true);
    assert_eq!(dne[1]["AdditionalFields"]["direction"], "Out");
    assert_eq!(dne[1]["MachineGroup"], "Workstations");
    let de = hunt(t.path(), "DeviceEvents | sort by ReportId asc");
    assert_eq!(de.len(), 2);
    assert_eq!(de[0]["ActionType"], "FirewallOutboundConnectionBlocked");
    assert_eq!(de[1]["RegistryKey"], r"HKEY_CURRENT_USER\Software\Example");
    assert_eq!(de[1]["InitiatingProcessLogonId"], 999);
    let info = hunt(t.path(), "DeviceInfo");
    assert_eq!((info[0]["OSBuild"].clone(), info[0]["AssetValue"].clone()), (json!(22631), json!("High")));
    // CSV rows do not name their table.
    let out = netward(t.path()).arg("import").arg(sample("portal-DeviceInfo.csv")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--table"));
}

/// A value for every column of a table, distinct per column, and what
/// `netward hunt --format json` prints for it.
fn full_row(table: Table, report_id: i64) -> (serde_json::Map<String, J>, serde_json::Map<String, J>) {
    let (mut input, mut want) = (serde_json::Map::new(), serde_json::Map::new());
    for (i, c) in table.columns().iter().enumerate() {
        let (inp, out) = match (c.name, c.ty) {
            ("ReportId", _) => (json!(report_id), json!(report_id)),
            ("ActionType", _) => (json!("ImportedAction"), json!("ImportedAction")),
            (_, ColumnType::String) => (json!(format!("s-{}", c.name)), json!(format!("s-{}", c.name))),
            (_, ColumnType::Int) => (json!(i), json!(i)),
            (_, ColumnType::Long) => (json!(1_000_000_000_000i64 + i as i64), json!(1_000_000_000_000i64 + i as i64)),
            (_, ColumnType::Real) => (json!(i as f64 + 0.5), json!(i as f64 + 0.5)),
            (_, ColumnType::Bool) => (json!(i % 2 == 0), json!(i % 2 == 0)),
            (_, ColumnType::DateTime) => (
                json!(format!("2024-05-14T09:{:02}:00.1234567Z", i % 60)),
                json!(format!("2024-05-14T09:{:02}:00.123Z", i % 60)),
            ),
            // Defender writes dynamic values as JSON text.
            (_, ColumnType::Dynamic) => (json!(json!({"col": c.name}).to_string()), json!({"col": c.name})),
        };
        input.insert(c.name.to_string(), inp);
        want.insert(c.name.to_string(), out);
    }
    (input, want)
}

fn check_row(data: &Path, table: Table, report_id: i64, want: &serde_json::Map<String, J>) {
    let rows = hunt(data, &format!("{table} | where ReportId == {report_id}"));
    assert_eq!(rows.len(), 1, "{table}: {rows:?}");
    let got = rows[0].as_object().unwrap();
    assert_eq!(got.len(), table.columns().len(), "{table}: every column is printed");
    for c in table.columns() {
        assert_eq!(got.get(c.name), want.get(c.name), "{table}.{}", c.name);
    }
}

#[test]
fn every_column_of_every_table_survives_envelopes_and_csv() {
    let t = tempfile::tempdir().unwrap();
    let envelopes = t.path().join("all.jsonl");
    let mut lines = String::new();
    let mut wants = Vec::new();
    for (k, table) in Table::ALL.into_iter().enumerate() {
        let (props, want) = full_row(table, 100 + k as i64);
        let env = json!({"time": "2024-05-14T10:00:00Z", "category": format!("AdvancedHunting-{table}"), "properties": props});
        lines.push_str(&env.to_string());
        lines.push('\n');
        wants.push((table, 100 + k as i64, want));
    }
    std::fs::write(&envelopes, lines).unwrap();
    let out = netward(t.path()).arg("import").arg(&envelopes).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("ignored"), "no column of the schema is ignored: {err}");

    // The same rows as CSV, one file per table, with the portal's header.
    for (k, table) in Table::ALL.into_iter().enumerate() {
        let (props, want) = full_row(table, 200 + k as i64);
        let mut w = csv::Writer::from_writer(Vec::new());
        let header: Vec<String> = table
            .columns()
            .iter()
            .map(|c| if c.name == "Timestamp" { "Timestamp [UTC]".into() } else { c.name.into() })
            .collect();
        w.write_record(&header).unwrap();
        let cells: Vec<String> = table
            .columns()
            .iter()
            .map(|c| match &props[c.name] {
                J::String(s) => s.clone(),
                J::Bool(b) => {
                    if *b {
                        "True".into()
                    } else {
                        "False".into()
                    }
                }
                other => other.to_string(),
            })
            .collect();
        w.write_record(&cells).unwrap();
        let path = t.path().join(format!("{table}.csv"));
        std::fs::write(&path, w.into_inner().unwrap()).unwrap();
        let out = netward(t.path()).args(["import", "--table", table.name()]).arg(&path).output().unwrap();
        assert!(out.status.success(), "{table}: {}", String::from_utf8_lossy(&out.stderr));
        wants.push((table, 200 + k as i64, want));
    }
    for (table, id, want) in &wants {
        check_row(t.path(), *table, *id, want);
    }
}
