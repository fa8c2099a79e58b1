//! Per-query limits, the DeviceEvents view, and result metadata.

mod common;
use common::*;
use datafusion::prelude::SessionContext;
use netward_events::{Record, Table, Timestamp, Value};
use netward_hunt::{ErrorKind, Hunt, HuntOptions};
use std::time::Duration;

fn big_table(n: i64) -> String {
    // A datatable of n keys; the tests below square it with a self join.
    let vals: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    format!("datatable(k:long)[{}]", vals.join(","))
}

#[tokio::test]
async fn time_limit_stops_a_long_query() {
    let t = big_table(3000);
    // A 9-million-row self join on a constant key, then an aggregate.
    let src = format!("let T = {t} | extend one = 1; T | join kind=inner T on one | summarize dcount(k1)");
    let h = Hunt::new(
        SessionContext::new(),
        HuntOptions { now: Some(NOW), timeout: Some(Duration::from_millis(20)), memory_limit: None },
    );
    let e = h.run(&src).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
    assert!(e.message.contains("time limit"), "{e}");
}

#[tokio::test]
async fn memory_limit_fails_cleanly() {
    let t = big_table(3000);
    let src = format!("let T = {t} | extend one = 1, pad = strcat('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', k); T | join kind=inner T on one | summarize make_list(pad1)");
    let h = Hunt::new(
        SessionContext::new(),
        HuntOptions { now: Some(NOW), timeout: Some(Duration::from_secs(120)), memory_limit: Some(64 * 1024) },
    );
    let e = h.run(&src).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::MemoryLimit, "{e}");
    assert!(e.message.contains("memory limit"), "{e}");
}

fn dne(action: &str, url: &str, dev: &str) -> Record {
    let mut r = Record::new(Table::DeviceNetworkEvents);
    r.set("Timestamp", Value::DateTime(Timestamp::from_unix_nanos(NOW - 1_000_000_000))).unwrap();
    r.set("ActionType", Value::String(action.into())).unwrap();
    r.set("RemoteUrl", Value::String(url.into())).unwrap();
    r.set("DeviceId", Value::String(dev.into())).unwrap();
    r.set("InitiatingProcessFileName", Value::String("curl".into())).unwrap();
    r.set("AdditionalFields", Value::Dynamic(serde_json::json!({"ResponseCategory": "Malicious"}))).unwrap();
    r
}

fn session() -> SessionContext {
    let rows = vec![
        dne("ConnectionSuccess", "a.example", "d1"),
        dne("ExploitGuardNetworkProtectionBlocked", "bad.example", "d2"),
        dne("ExploitGuardNetworkProtectionAudited", "meh.example", "d3"),
    ];
    ctx_with(vec![("DeviceNetworkEvents", netward_store::records_to_batch(Table::DeviceNetworkEvents, &rows).unwrap())])
}

#[tokio::test]
async fn device_events_is_a_view_of_network_protection_rows() {
    let ctx = session();
    let r = run(
        &ctx,
        "DeviceEvents | project ActionType, RemoteUrl, FileName, ProcessId, AdditionalFields | order by RemoteUrl asc",
    )
    .await;
    let want: Vec<String> = Table::DeviceEvents.columns().iter().map(|c| c.name.to_string()).collect();
    let all = run(&ctx, "DeviceEvents").await;
    assert_eq!(names(&all), want);
    assert_eq!(
        rows(&r),
        [
            [
                "ExploitGuardNetworkProtectionBlocked",
                "bad.example",
                "curl",
                "<null>",
                "{\"ResponseCategory\":\"Malicious\"}"
            ],
            [
                "ExploitGuardNetworkProtectionAudited",
                "meh.example",
                "curl",
                "<null>",
                "{\"ResponseCategory\":\"Malicious\"}"
            ],
        ]
    );
    let r = run(&ctx, "DeviceEvents | where AdditionalFields.ResponseCategory == 'Malicious' | count").await;
    assert_eq!(rows(&r), [["2"]]);
}

#[tokio::test]
async fn result_columns_carry_kql_types() {
    let ctx = session();
    let r = run(
        &ctx,
        "DeviceNetworkEvents | summarize n = count(), s = make_set(RemoteUrl), t = max(Timestamp) by DeviceId | take 1",
    )
    .await;
    assert_eq!(kql_types(&r), ["string", "long", "dynamic", "datetime"]);
    let r = run(&ctx, "DeviceNetworkEvents | project AdditionalFields, RemotePort, LocalIP | take 1").await;
    assert_eq!(kql_types(&r), ["dynamic", "int", "string"]);
}

#[tokio::test]
async fn queries_cannot_write() {
    // Only KQL query operators exist; control commands do not parse.
    let ctx = session();
    for q in
        [".drop table DeviceNetworkEvents", ".set-or-append T <| DeviceNetworkEvents", "set x = 1; DeviceNetworkEvents"]
    {
        assert!(try_run(&ctx, q).await.is_err(), "{q}");
    }
    let r = run(&ctx, "DeviceNetworkEvents | count").await;
    assert_eq!(rows(&r), [["3"]]);
}
