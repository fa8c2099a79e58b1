//! The store on the real file system: reopening, locking, readers, format
//! checks, torn tails, retention, and DataFusion queries over segments plus
//! the log tail.
#![cfg(feature = "datafusion")]

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::common::TableReference;
use datafusion::prelude::SessionContext;
use netward_events::{Record, Table, Timestamp, Value};
use netward_store::gen::generate_network_events;
use netward_store::{Store, StoreError, StoreOptions};
use std::time::Duration;

const T0: i64 = 1_763_769_600_000_000_000; // 2025-11-22T00:00:00Z
const SEC: i64 = 1_000_000_000;

fn net(id: i64, url: &str) -> Record {
    let mut r = Record::new(Table::DeviceNetworkEvents);
    r.set("Timestamp", Value::DateTime(Timestamp(T0 + id * SEC))).unwrap();
    r.set("ReportId", Value::Long(id)).unwrap();
    r.set("RemoteUrl", Value::String(url.into())).unwrap();
    r.set("ActionType", Value::String("ConnectionSuccess".into())).unwrap();
    r
}

fn small() -> StoreOptions {
    StoreOptions { roll_rows: 100, row_group_rows: 10, ..Default::default() }
}

async fn count(ctx: &SessionContext, sql: &str) -> i64 {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let col = batches[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    col.value(0)
}

#[test]
fn appends_survive_reopen_and_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    for chunk in 0..5 {
        let rows: Vec<Record> = (chunk * 70..chunk * 70 + 70).map(|i| net(i, "a.example")).collect();
        s.append(Table::DeviceNetworkEvents, &rows).unwrap();
    }
    // Rolls happened at the appends after 100 rows.
    assert!(!s.snapshot().segments.is_empty());
    assert_eq!(s.snapshot().rows(Table::DeviceNetworkEvents), 350);
    drop(s);
    let s = Store::open(dir.path(), small()).unwrap();
    assert_eq!(s.snapshot().rows(Table::DeviceNetworkEvents), 350);
    let mut ids: Vec<i64> = s
        .read_table(Table::DeviceNetworkEvents)
        .unwrap()
        .iter()
        .flat_map(|b| netward_store::batch_to_records(Table::DeviceNetworkEvents, b).unwrap())
        .map(|r| r.get("ReportId").and_then(Value::as_i64).unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, (0..350).collect::<Vec<_>>());
    let files: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(files.iter().filter(|f| f.starts_with("wal-")).count(), 1, "{files:?}");
}

#[test]
fn one_writer_many_readers() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Store::open(dir.path(), small()).unwrap();
    let e = Store::open(dir.path(), small()).err().unwrap();
    assert!(matches!(e, StoreError::Locked { .. }), "{e}");
    w.append(Table::DeviceNetworkEvents, &[net(1, "x.example")]).unwrap();
    let mut r = Store::open(dir.path(), StoreOptions::read_only()).unwrap();
    assert_eq!(r.snapshot().rows(Table::DeviceNetworkEvents), 1);
    assert!(matches!(r.append(Table::DeviceNetworkEvents, &[net(2, "y")]), Err(StoreError::ReadOnly)));
    w.append(Table::DeviceNetworkEvents, &[net(2, "y.example")]).unwrap();
    w.roll().unwrap();
    w.append(Table::DeviceNetworkEvents, &[net(3, "z.example")]).unwrap();
    assert_eq!(r.snapshot().rows(Table::DeviceNetworkEvents), 1, "a reader's snapshot is stable");
    r.refresh().unwrap();
    assert_eq!(r.snapshot().rows(Table::DeviceNetworkEvents), 3);
    drop(w);
    Store::open(dir.path(), small()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_events_are_stored_rows_plus_netwards_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    let mut imported = Record::new(Table::DeviceEvents);
    imported.set_text("Timestamp", "2025-11-22T00:00:05Z").unwrap();
    imported.set_text("ActionType", "AntivirusDetection").unwrap();
    imported.set_text("SHA1", "da39a3ee5e6b4b0d3255bfef95601890afd80709").unwrap();
    s.append(Table::DeviceEvents, &[imported]).unwrap();
    let mut verdict = net(2, "evil.example");
    verdict.set_text("ActionType", "ExploitGuardNetworkProtectionBlocked").unwrap();
    verdict.set_text("InitiatingProcessFileName", "curl").unwrap();
    s.append(Table::DeviceNetworkEvents, &[net(1, "good.example"), verdict]).unwrap();
    // Half in a segment, half in the log: the view reads both.
    s.roll().unwrap();
    s.append(Table::DeviceNetworkEvents, &[net(3, "other.example")]).unwrap();
    let ctx = SessionContext::new();
    s.register(&ctx).unwrap();
    let q = r#"SELECT "ActionType", "RemoteUrl", "FileName", "SHA1" FROM "DeviceEvents" ORDER BY "ActionType""#;
    let batches = ctx.sql(q).await.unwrap().collect().await.unwrap();
    let rows = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
    let lines: Vec<&str> = rows.lines().filter(|l| l.starts_with("| ") && !l.contains("ActionType")).collect();
    assert_eq!(lines.len(), 2, "{rows}");
    assert!(lines[0].contains("AntivirusDetection") && lines[0].contains("da39a3ee"), "{rows}");
    assert!(lines[1].contains("ExploitGuardNetworkProtectionBlocked") && lines[1].contains("curl"), "{rows}");
    // The view keeps the kql_type of dynamic columns.
    let schema = ctx.table(TableReference::bare("DeviceEvents")).await.unwrap().schema().as_arrow().clone();
    let af = schema.field_with_name("AdditionalFields").unwrap();
    assert_eq!(af.metadata().get("kql_type").map(String::as_str), Some("dynamic"));
    assert_eq!(count(&ctx, r#"SELECT count(*) FROM "DeviceEvents" WHERE "SHA1" = ''"#).await, 1);
    // A row error writes nothing and does not poison the store.
    let e = s.append(Table::DeviceNetworkEvents, &[Record::new(Table::DeviceInfo)]).unwrap_err();
    assert!(matches!(e, StoreError::Row { .. }), "{e}");
    s.append(Table::DeviceNetworkEvents, &[net(4, "ok")]).unwrap();
}

#[test]
fn format_version_and_schema_are_checked_on_open() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), small()).unwrap());
    let path = dir.path().join("MANIFEST");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"version\": 2", "\"version\": 3")).unwrap();
    let e = Store::open(dir.path(), small()).err().unwrap();
    assert!(matches!(e, StoreError::Version { found: 3, supported: 2, .. }), "{e}");
    std::fs::write(&path, text.replace("RemotePort:int", "RemotePort:long")).unwrap();
    let e = Store::open(dir.path(), StoreOptions::read_only()).err().unwrap().to_string();
    assert!(e.contains("DeviceNetworkEvents") && e.contains("RemotePort:int"), "{e}");
    std::fs::write(&path, "{ not json").unwrap();
    assert!(matches!(Store::open(dir.path(), small()), Err(StoreError::Corrupt { .. })));
}

#[test]
fn a_directory_with_data_but_no_manifest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    s.append(Table::DeviceNetworkEvents, &[net(1, "a")]).unwrap();
    drop(s);
    std::fs::remove_file(dir.path().join("MANIFEST")).unwrap();
    let e = Store::open(dir.path(), small()).err().unwrap();
    assert!(matches!(e, StoreError::NotAStore { .. }), "{e}");
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("notes.txt"), "mine").unwrap();
    let e = Store::open(other.path(), small()).err().unwrap();
    assert!(e.to_string().contains("notes.txt"), "{e}");
    let e = Store::open(dir.path().join("nowhere"), StoreOptions::read_only()).err().unwrap();
    assert!(matches!(e, StoreError::NotAStore { .. }), "{e}");
}

#[test]
fn a_torn_tail_is_cut_and_later_appends_follow_the_last_good_frame() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    let ack = s.append(Table::DeviceNetworkEvents, &[net(1, "a")]).unwrap();
    drop(s);
    let wal = dir.path().join(format!("wal-{:020}.log", ack.generation));
    let mut f = std::fs::OpenOptions::new().append(true).open(&wal).unwrap();
    f.write_all(&[0x40, 0, 0, 0, 1, 2, 3]).unwrap(); // a header promising 64 bytes, then nothing
    drop(f);
    let mut s = Store::open(dir.path(), small()).unwrap();
    assert_eq!(s.recovery().torn_bytes_cut, 7);
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), ack.frame_bytes);
    s.append(Table::DeviceNetworkEvents, &[net(2, "b")]).unwrap();
    drop(s);
    let s = Store::open(dir.path(), small()).unwrap();
    assert_eq!(s.recovery().torn_bytes_cut, 0);
    assert_eq!(s.snapshot().rows(Table::DeviceNetworkEvents), 2);
}

#[test]
fn retention_drops_old_segments_by_age_then_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    for day in 0..4 {
        let rows: Vec<Record> = (0..50).map(|i| net(day * 86_400 + i, "a.example")).collect();
        s.append(Table::DeviceNetworkEvents, &rows).unwrap();
        s.roll().unwrap();
    }
    assert_eq!(s.snapshot().segments.len(), 4);
    let now = Timestamp(T0 + 3 * 86_400 * SEC + 3600 * SEC);
    let r = s.enforce_retention(now, Some(Duration::from_secs(2 * 86_400)), None).unwrap();
    assert_eq!(r.dropped.len(), 2, "days 0 and 1 are older than two days");
    assert_eq!(r.rows, 100);
    let seg_bytes: u64 = s.snapshot().segments.iter().map(|x| x.bytes).sum();
    let r = s.enforce_retention(now, None, Some(seg_bytes - 1)).unwrap();
    assert_eq!(r.dropped.len(), 1);
    assert_eq!(r.dropped[0].min_ts, Some(Timestamp(T0 + 2 * 86_400 * SEC)), "the oldest goes first");
    drop(s);
    let s = Store::open(dir.path(), small()).unwrap();
    assert_eq!(s.snapshot().rows(Table::DeviceNetworkEvents), 50);
    let parquet = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".parquet"))
        .count();
    assert_eq!(parquet, 1, "dropped segment files are deleted");
}

#[test]
fn a_snapshot_keeps_dropped_segment_files_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    s.append(Table::DeviceNetworkEvents, &[net(0, "a")]).unwrap();
    s.roll().unwrap();
    let snap = s.snapshot();
    let path = snap.segments[0].path.clone();
    s.enforce_retention(Timestamp(T0 + 1000 * SEC), Some(Duration::from_secs(1)), None).unwrap();
    assert!(path.exists());
    assert_eq!(snap.segments[0].read(s.vfs().as_ref()).unwrap()[0].num_rows(), 1);
    drop(snap);
    s.collect_garbage();
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datafusion_sees_segments_and_tail_with_the_exact_schema() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    // 0..300 rolled into segments (sorted within each), 300..350 in the log.
    for chunk in 0..7 {
        let rows: Vec<Record> = (chunk * 50..chunk * 50 + 50)
            .rev()
            .map(|i| net(i, if i % 10 == 0 { "evil.example" } else { "good.example" }))
            .collect();
        s.append(Table::DeviceNetworkEvents, &rows).unwrap();
    }
    let info = {
        let mut r = Record::new(Table::DeviceInfo);
        r.set("DeviceName", Value::String("ws-1".into())).unwrap();
        r
    };
    s.append(Table::DeviceInfo, &[info]).unwrap();
    let snap = s.snapshot();
    assert!(!snap.segments.is_empty() && !snap.tail.is_empty());

    let ctx = SessionContext::new();
    s.register(&ctx).unwrap();
    let df = ctx.table(datafusion::common::TableReference::bare("DeviceNetworkEvents")).await.unwrap();
    let want = Table::DeviceNetworkEvents.arrow_schema();
    let got = df.schema().as_arrow();
    for (g, w) in got.fields().iter().zip(want.fields()) {
        assert_eq!((g.name(), g.data_type(), g.is_nullable()), (w.name(), w.data_type(), w.is_nullable()));
    }
    assert_eq!(count(&ctx, "SELECT count(*) FROM \"DeviceNetworkEvents\"").await, 350);
    assert_eq!(count(&ctx, "SELECT count(*) FROM \"DeviceInfo\"").await, 1);
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM \"DeviceNetworkEvents\" WHERE \"RemoteUrl\" = 'evil.example'").await,
        35
    );
    let t = |secs: i64| format!("to_timestamp_nanos({})", T0 + secs * SEC);
    let q = format!(
        "SELECT count(*) FROM \"DeviceNetworkEvents\" WHERE \"Timestamp\" >= {} AND \"Timestamp\" < {}",
        t(120),
        t(320)
    );
    assert_eq!(count(&ctx, &q).await, 200);
    let sum = ctx
        .sql("SELECT sum(\"ReportId\") FROM \"DeviceNetworkEvents\" WHERE \"RemoteUrl\" LIKE '%.example'")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let v = sum[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0);
    assert_eq!(v, (0..350).sum::<i64>());

    // A snapshot registration does not move; the live one does.
    let frozen = SessionContext::new();
    s.register_snapshot(&frozen).unwrap();
    s.append(Table::DeviceNetworkEvents, &[net(1000, "late.example")]).unwrap();
    s.roll().unwrap();
    assert_eq!(count(&ctx, "SELECT count(*) FROM \"DeviceNetworkEvents\"").await, 351);
    let self_join = "SELECT count(*) FROM \"DeviceNetworkEvents\" a JOIN \"DeviceNetworkEvents\" b ON a.\"ReportId\" = b.\"ReportId\"";
    assert_eq!(count(&frozen, self_join).await, 350);
    assert_eq!(count(&ctx, self_join).await, 351);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_filters_skip_segments_that_cannot_match() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    for day in 0..3 {
        let rows: Vec<Record> = (0..40).map(|i| net(day * 86_400 + i, "a.example")).collect();
        s.append(Table::DeviceNetworkEvents, &rows).unwrap();
        s.roll().unwrap();
    }
    let ctx = SessionContext::new();
    s.register(&ctx).unwrap();
    let q = format!(
        "SELECT count(*) FROM \"DeviceNetworkEvents\" WHERE \"Timestamp\" >= to_timestamp_nanos({})",
        T0 + 2 * 86_400 * SEC
    );
    assert_eq!(count(&ctx, &q).await, 40);
    let plan = ctx.sql(&format!("EXPLAIN {q}")).await.unwrap().collect().await.unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&plan).unwrap().to_string();
    let files = text.matches(".parquet").count();
    assert_eq!(files, 1, "only the last day's segment is scanned:\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_events_query_the_same_from_log_and_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), StoreOptions { roll_rows: 5_000, ..Default::default() }).unwrap();
    let rows: Vec<Record> = generate_network_events(12_000, 3, Timestamp(T0), Duration::from_secs(86_400)).collect();
    for chunk in rows.chunks(2_000) {
        s.append(Table::DeviceNetworkEvents, chunk).unwrap();
    }
    let ctx = SessionContext::new();
    s.register(&ctx).unwrap();
    let q = "SELECT count(*) FROM \"DeviceNetworkEvents\" WHERE \"ActionType\" = 'SslConnectionInspected'";
    let before = count(&ctx, q).await;
    let expected =
        rows.iter().filter(|r| r.get("ActionType").and_then(Value::as_str) == Some("SslConnectionInspected")).count();
    assert_eq!(before as usize, expected);
    s.roll().unwrap();
    assert!(s.snapshot().tail.is_empty());
    assert_eq!(count(&ctx, q).await, before);
}
