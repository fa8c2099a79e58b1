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

/// The parts computed before the rest (`toscalar`, the keys `bag_unpack`
/// makes columns of, `make-series` without bounds) and the aggregates that
/// merge partial states (`percentile`, `make-series`' arrays) over a
/// segment and the log together.
#[tokio::test]
async fn probes_and_merged_aggregates_over_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let first: Vec<Record> = (0..50).map(|i| ev(i, "www.microsoft.com")).collect();
    store.append(Table::DeviceNetworkEvents, &first).unwrap();
    store.roll().unwrap();
    let second: Vec<Record> = (50..60).map(|i| ev(i, "evil.example")).collect();
    store.append(Table::DeviceNetworkEvents, &second).unwrap();
    let ctx = SessionContext::new();
    store.register(&ctx).unwrap();
    // n = 0..59, one a minute back from NOW: the 90th percentile is 53.
    let r = run(&ctx, "DeviceNetworkEvents | summarize percentile(toint(AdditionalFields.n), 90)").await;
    assert_eq!(rows(&r), [["53"]]);
    let r = run(
        &ctx,
        "let top = toscalar(DeviceNetworkEvents | summarize max(toint(AdditionalFields.n)));
         DeviceNetworkEvents | where toint(AdditionalFields.n) >= top - 1 | count",
    )
    .await;
    assert_eq!(rows(&r), [["2"]]);
    let r = run(&ctx, "DeviceNetworkEvents | where RemoteUrl == 'evil.example' | evaluate bag_unpack(AdditionalFields) | summarize min(n), max(n)").await;
    assert_eq!(rows(&r), [["50", "59"]]);
    // Without `from`/`to` the axis covers the data: every row is counted.
    let r = run(
        &ctx,
        "DeviceNetworkEvents | make-series c = count() on Timestamp step 10m
         | mv-expand c to typeof(long) | summarize total = sum(c), steps = count()",
    )
    .await;
    let got = rows(&r);
    assert_eq!(got[0][0], "60");
    // 59 minutes of rows cover 6 or 7 ten-minute steps, by where NOW falls.
    assert!(["6", "7"].contains(&got[0][1].as_str()), "{got:?}");
}
