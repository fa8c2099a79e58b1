//! Warm, in-process query times of the hunting engine over the real event
//! store on disk (Parquet segments plus the live log, registered with
//! DataFusion by `Store::register` as `netward hunt` does), beside DuckDB
//! running the same questions in SQL over the same rows, in the same run.
//!
//! `cargo bench -p netward-hunt --bench queries` (env `BENCH_EVENTS`, default
//! 1,000,000 rows of `netward_store::gen`). Needs `python3` with `duckdb`:
//! without it the bench fails. Prints, per question, the median of 5 warm
//! runs for each engine and the ratio netward / DuckDB, and exits non-zero
//! when the two engines' answers differ.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::{SessionConfig, SessionContext};
use netward_events::{Record, Table, Timestamp, Value};
use netward_hunt::{Hunt, HuntOptions};
use netward_store::{Store, StoreOptions};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// (name, KQL) — each gives one number, compared with DuckDB's.
const QUERIES: &[(&str, &str)] = &[
    ("contains_host", "DeviceNetworkEvents | where RemoteUrl contains 'evil' | count"),
    ("has_url", "DeviceNetworkEvents | where RemoteUrl has 'example' | count"),
    ("device_5m_bins", "DeviceNetworkEvents | summarize count() by DeviceId, bin(Timestamp, 5m) | count"),
    ("top_domains", "DeviceNetworkEvents | summarize c = count() by RemoteUrl | top 10 by c | summarize sum(c)"),
    (
        "join_device_info",
        "DeviceNetworkEvents | join kind=inner (DeviceInfo | project DeviceId, OSVersion) on DeviceId | where OSVersion == '6.1' | count",
    ),
];

fn answer(batches: &[RecordBatch]) -> i64 {
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else { fail("a query gave no row".into()) };
    let c = b.column(0);
    let c = datafusion::arrow::compute::cast(c, &datafusion::arrow::datatypes::DataType::Int64).unwrap();
    let a = c.as_primitive::<Int64Type>();
    if a.is_null(0) {
        0
    } else {
        a.value(0)
    }
}

fn write_parquet(path: &std::path::Path, batches: &[RecordBatch], schema: datafusion::arrow::datatypes::SchemaRef) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(f, schema, None).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

fn fail(msg: String) -> ! {
    eprintln!("bench failed: {msg}");
    std::process::exit(1)
}

fn main() {
    let n: u64 = std::env::var("BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    // DuckDB first: without it there is nothing to compare with.
    let probe = std::process::Command::new("python3").args(["-c", "import duckdb"]).output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => fail(format!("python3 cannot import duckdb: {}", String::from_utf8_lossy(&o.stderr).trim())),
        Err(e) => fail(format!("python3 not runnable: {e}")),
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let t0 = Instant::now();
    let start = Timestamp(1_709_251_200_000_000_000); // 2024-03-01
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");

    // The store, written as the agent would: appends rolled into Parquet
    // segments by the store's own thresholds, the rest left in the log.
    // (At small sizes the row threshold is lowered to a third of the rows,
    // so that there are segments as well as a log.)
    let defaults = StoreOptions::default();
    let opts = StoreOptions { roll_rows: defaults.roll_rows.min((n / 3).max(1)), ..defaults };
    let mut store = Store::open(&store_dir, opts).unwrap();
    let gen = netward_store::gen::generate_network_events(n, 42, start, Duration::from_secs(7 * 86_400));
    let chunk_rows = usize::try_from(n / 10).unwrap_or(65_536).clamp(1, 65_536);
    let mut chunk = Vec::with_capacity(chunk_rows);
    let mut devices = BTreeSet::new();
    for r in gen {
        if let Some(Value::String(d)) = r.get("DeviceId") {
            if !devices.contains(d) {
                devices.insert(d.clone());
            }
        }
        chunk.push(r);
        if chunk.len() == chunk_rows {
            store.append(Table::DeviceNetworkEvents, &chunk).unwrap();
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        store.append(Table::DeviceNetworkEvents, &chunk).unwrap();
    }
    let info: Vec<Record> = devices
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut r = Record::new(Table::DeviceInfo);
            r.set("Timestamp", Value::DateTime(start)).unwrap();
            r.set("DeviceId", Value::String(d.clone())).unwrap();
            r.set("OSVersion", Value::String(if i % 4 == 0 { "6.1" } else { "10.0" }.into())).unwrap();
            r
        })
        .collect();
    store.append(Table::DeviceInfo, &info).unwrap();
    drop(store);
    let (mut segments, mut log_bytes) = (0, 0);
    for e in std::fs::read_dir(&store_dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".parquet") {
            segments += 1;
        } else if name.starts_with("wal-") {
            log_bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    if segments == 0 || log_bytes == 0 {
        fail(format!("the store should have both segments and a live log: {segments} segments, {log_bytes} log bytes"));
    }
    eprintln!(
        "stored {n} events in {:.1?}: {segments} Parquet segments, {:.1} MiB in the live log",
        t0.elapsed(),
        log_bytes as f64 / (1 << 20) as f64
    );

    // Read back as `netward hunt` does: read-only, registered by the store.
    let store = Store::open(&store_dir, StoreOptions::read_only()).unwrap();
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
    store.register(&ctx).unwrap();
    let hunt = Hunt::new(
        ctx,
        HuntOptions { now: Some(start.0), timeout: Some(Duration::from_secs(600)), memory_limit: Some(8 << 30) },
    );

    // DuckDB gets the same rows: read through the store and written to
    // Parquet (the live log is netward's own format).
    for (table, file) in [("DeviceNetworkEvents", "dne.parquet"), ("DeviceInfo", "info.parquet")] {
        let all = rt.block_on(hunt.run(table)).unwrap_or_else(|e| fail(format!("reading {table}: {e}")));
        let rows = all.num_rows();
        write_parquet(&dir.path().join(file), &all.batches, all.schema.clone());
        eprintln!("exported {rows} rows of {table} for DuckDB");
        if table == "DeviceNetworkEvents" && rows as u64 != n {
            fail(format!("the store gave {rows} rows, {n} were appended"));
        }
    }

    let mut ours = Vec::new();
    for (name, q) in QUERIES {
        let first = rt.block_on(hunt.run(q)).unwrap_or_else(|e| fail(format!("{name}: {e}")));
        let mut times = Vec::new();
        let mut ans = answer(&first.batches);
        for _ in 0..5 {
            let t = Instant::now();
            let r = rt.block_on(hunt.run(q)).unwrap_or_else(|e| fail(format!("{name}: {e}")));
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            ans = answer(&r.batches);
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        ours.push((name.to_string(), times[2], ans));
    }

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/duckdb_queries.py");
    let out = std::process::Command::new("python3").arg(script).arg(dir.path()).output();
    let duck: Vec<serde_json::Value> = match out {
        Ok(o) if o.status.success() => {
            String::from_utf8_lossy(&o.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
        }
        Ok(o) => fail(format!("duckdb failed: {}", String::from_utf8_lossy(&o.stderr))),
        Err(e) => fail(format!("python3 not runnable: {e}")),
    };

    println!("{n} events in the store ({segments} segments + live log), 2 threads, median of 5 warm runs");
    println!("| question | netward-hunt (ms) | DuckDB (ms) | netward / DuckDB | answers |");
    println!("|---|---|---|---|---|");
    let mut differ = Vec::new();
    for (name, ms, ans) in &ours {
        let Some(d) = duck.iter().find(|d| d["name"] == name.as_str()) else {
            fail(format!("DuckDB gave no answer for {name}"))
        };
        let (Some(dms), Some(dans)) = (d["ms"].as_f64(), d["answer"].as_i64()) else {
            fail(format!("DuckDB's answer for {name} is malformed: {d}"))
        };
        let same = if dans == *ans {
            format!("equal ({ans})")
        } else {
            differ.push(name.clone());
            format!("DIFFER: {ans} vs {dans}")
        };
        println!("| {name} | {ms:.1} | {dms:.1} | {:.2}x | {same} |", ms / dms);
    }
    if !differ.is_empty() {
        fail(format!("netward and DuckDB gave different answers for {}", differ.join(", ")));
    }
}
