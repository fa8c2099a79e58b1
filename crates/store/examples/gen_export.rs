//! Writes a synthetic Defender Streaming API export to stdout: `N`
//! `DeviceNetworkEvents` rows of [`netward_store::gen`] (a fleet of devices
//! over a week) as `{"category": "AdvancedHunting-DeviceNetworkEvents",
//! "properties": {...}}` lines, then one `DeviceInfo` envelope per device
//! (every fourth device has `OSVersion` 6.1). For `bench/hunt_vs_duckdb.sh`:
//!
//! ```text
//! cargo run --release -p netward-store --example gen_export -- 10000000 | netward import /dev/stdin
//! ```

use netward_events::{Record, Table, Timestamp, Value};
use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

/// The row's non-empty columns as JSON (Defender's exports leave out nothing,
/// but empty columns only make the file larger).
fn properties(r: &Record) -> serde_json::Map<String, serde_json::Value> {
    r.table()
        .columns()
        .iter()
        .zip(r.values())
        .filter(|(_, v)| !v.is_empty())
        .map(|(c, v)| {
            let j = match v {
                // Defender writes dynamic values as JSON text.
                Value::Dynamic(d) => serde_json::Value::String(d.to_string()),
                other => other.to_json(),
            };
            (c.name.to_string(), j)
        })
        .collect()
}

fn envelope(r: &Record) -> String {
    let time = r.get("Timestamp").map(Value::to_text).unwrap_or_default();
    serde_json::json!({
        "time": time,
        "operationName": "Publish",
        "category": format!("AdvancedHunting-{}", r.table()),
        "properties": properties(r),
    })
    .to_string()
}

fn main() {
    let n: u64 = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(n)) => n,
        _ => {
            eprintln!("usage: gen_export N   (N DeviceNetworkEvents rows, then DeviceInfo rows)");
            std::process::exit(2);
        }
    };
    let start = Timestamp(1_709_251_200_000_000_000); // 2024-03-01
    let out = std::io::stdout();
    let mut w = std::io::BufWriter::with_capacity(1 << 20, out.lock());
    let mut devices = BTreeSet::new();
    for r in netward_store::gen::generate_network_events(n, 42, start, Duration::from_secs(7 * 86_400)) {
        if let Some(Value::String(d)) = r.get("DeviceId") {
            if !devices.contains(d) {
                devices.insert(d.clone());
            }
        }
        if writeln!(w, "{}", envelope(&r)).is_err() {
            return; // the reader went away
        }
    }
    for (i, d) in devices.iter().enumerate() {
        let mut r = Record::new(Table::DeviceInfo);
        let _ = r.set("Timestamp", Value::DateTime(start));
        let _ = r.set("DeviceId", Value::String(d.clone()));
        let _ = r.set("OSPlatform", Value::String("Windows10".into()));
        let _ = r.set("OSVersion", Value::String(if i % 4 == 0 { "6.1" } else { "10.0" }.into()));
        if writeln!(w, "{}", envelope(&r)).is_err() {
            return;
        }
    }
    let _ = w.flush();
}
