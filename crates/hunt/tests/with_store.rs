//! The engine over the real store (log tail and Parquet segments), as the
//! CLI will use it.

mod common;
use common::*;
use datafusion::prelude::SessionContext;
use netward_events::{Record, Table, Timestamp, Value};
use netward_store::{Store, StoreOptions};

fn ev(i: i64, url: &str) -> Record {
    let mut r = Record::new(Table::DeviceNetworkEvents);
    r.set("Timestamp", Value::DateTime(Timestamp::from_unix_nanos(NOW - i * 60_000_000_000))).unwrap();
    r.set("DeviceId", Value::String(format!("d{}", i % 3))).unwrap();
    r.set("ActionType", Value::String("ConnectionSuccess".into())).unwrap();
    r.set("RemoteUrl", Value::String(url.into())).unwrap();
    r.set("AdditionalFields", Value::Dynamic(serde_json::json!({"n": i}))).unwrap();
    r
}

#[tokio::test]
async fn queries_run_over_segments_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let first: Vec<Record> = (0..50).map(|i| ev(i, "www.microsoft.com")).collect();
    store.append(Table::DeviceNetworkEvents, &first).unwrap();
    store.roll().unwrap(); // into a Parquet segment
    let second: Vec<Record> = (50..60).map(|i| ev(i, "evil.example")).collect();
    store.append(Table::DeviceNetworkEvents, &second).unwrap(); // stays in the log
    let ctx = SessionContext::new();
    store.register(&ctx).unwrap();
    let r = run(&ctx, "DeviceNetworkEvents | summarize n = count(), m = max(toint(AdditionalFields.n)) by RemoteUrl | order by RemoteUrl asc").await;
    assert_eq!(rows(&r), [["evil.example", "10", "59"], ["www.microsoft.com", "50", "49"]]);
    let r = run(&ctx, "DeviceNetworkEvents | where Timestamp > ago(10m) and RemoteUrl has 'microsoft' | count").await;
    assert_eq!(rows(&r), [["10"]]);
}
