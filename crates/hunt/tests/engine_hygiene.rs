//! Errors never show DataFusion's text and always name a position; the
//! notes a query gets about columns netward never fills and `ActionType`
//! values it never produces.

mod common;
use common::*;
use datafusion::arrow::array::{Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use std::sync::Arc;

/// Text DataFusion and Arrow put in their messages.
const ENGINE_WORDS: &[&str] = &[
    "DataFusion",
    "Error during planning",
    "Schema error",
    "Arrow error",
    "Execution error",
    "Internal error",
    "Optimizer",
    "Cast error",
    "Invalid argument",
    "This feature is not implemented",
    "Resources exhausted",
    "Utf8",
    "Int64",
    "Float64",
    "Timestamp(",
    "datatable.",
];

#[tokio::test]
async fn errors_have_a_position_and_no_engine_text() {
    let ctx = ctx_with(vec![]);
    let bad = [
        "datatable(a:long) [1] | extend b = a + 'x'",
        "datatable(a:long) [1] | where a",
        "datatable(a:long) [1] | summarize sum(nosuch)",
        "datatable(a:string) [''] | extend b = a * 2",
        "datatable(a:long) [1] | project a, a",
        "datatable(a:long) [1] | join (datatable(b:long)[1]) on c",
        "datatable(a:long) [1] | extend b = datetime(2024-01-01) - a",
        "datatable(a:datetime) [datetime(null)] | summarize avg(a)",
        "datatable(d:dynamic) [dynamic([1])] | mv-expand d to typeof(nosuchtype)",
        "datatable(t:string) ['x'] | parse kind=regex t with '(' a",
        "range x from 1 to 10 step 0",
        "datatable(a:long) [1] | extend p = prev(a)",
        "print x = 1 | lookup (print y = 2) on z",
        "datatable(a:long) [1] | sort by nosuch",
        "datatable(a:long) [1] | top 2 by a + 'x'",
        "print strcat_array(1, 2, 3)",
    ];
    for q in bad {
        let e = match try_run(&ctx, q).await {
            Err(e) => e,
            Ok(_) => panic!("ran: {q}"),
        };
        let m = e.to_string();
        for w in ENGINE_WORDS {
            assert!(!m.contains(w), "engine text {w:?} in {m:?} for {q}");
        }
        assert!(e.line > 0 && e.col > 0, "no position in {m:?} for {q}");
    }
}

#[tokio::test]
async fn engine_errors_name_the_operator() {
    let ctx = ctx_with(vec![]);
    let e = try_run(&ctx, "print x = 1 | lookup (print y = 2) on z").await.unwrap_err();
    assert!(e.message.starts_with("`lookup`") || e.message.contains("`z`"), "{e}");
}

fn events() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("ActionType", DataType::Utf8, true),
        Field::new("RemotePort", DataType::Int32, true),
        Field::new("InitiatingProcessVersionInfoCompanyName", DataType::Utf8, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec!["ConnectionSuccess", "ConnectionFailed"])),
            Arc::new(Int32Array::from(vec![3389, 443])),
            Arc::new(StringArray::from(vec!["", ""])),
        ],
    )
    .unwrap()
}

#[tokio::test]
async fn notes_name_unfilled_columns_and_unproduced_action_types() {
    let ctx = ctx_with(vec![("DeviceNetworkEvents", events())]);
    let r = run(
        &ctx,
        "DeviceNetworkEvents | where ActionType in ('SmartScreenUrlWarning', 'ConnectionSuccess') \
         | where ActionType != 'FirewallInboundConnectionBlocked' \
         | project InitiatingProcessVersionInfoCompanyName, RemotePort",
    )
    .await;
    assert_eq!(r.num_rows(), 1);
    let notes = r.notes.join("\n");
    assert!(notes.contains("`SmartScreenUrlWarning`"), "{notes}");
    assert!(notes.contains("`FirewallInboundConnectionBlocked`"), "{notes}");
    assert!(notes.contains("`InitiatingProcessVersionInfoCompanyName`"), "{notes}");
    assert!(!notes.contains("ConnectionSuccess"), "{notes}");
    assert!(!notes.contains("RemotePort"), "{notes}");
    assert_eq!(r.notes.len(), 3, "{notes}");
    // A query on what netward produces has none.
    let r = run(&ctx, "DeviceNetworkEvents | where ActionType == 'ConnectionSuccess' and RemotePort == '3389'").await;
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    assert_eq!(r.num_rows(), 1);
}
