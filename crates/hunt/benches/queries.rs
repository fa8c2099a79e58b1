//! Warm, in-process query times of the hunting engine beside DuckDB running
//! the same questions in SQL over the same data, in the same run.
//!
//! `cargo bench -p netward-hunt --bench queries` (env `BENCH_EVENTS`, default
//! 10,000,000 rows of `netward_store::gen`). Needs `python3` with `duckdb`.
//! Prints, per question, the median of 5 warm runs for each engine and
//! checks both gave the same answer.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::datasource::MemTable;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::{SessionConfig, SessionContext};
use netward_events::{Record, Table, Timestamp, Value};
use netward_hunt::{Hunt, HuntOptions};
use std::collections::BTreeSet;
use std::sync::Arc;
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
    let b = batches.iter().find(|b| b.num_rows() > 0).expect("a row");
    let c = b.column(0);
    let c = datafusion::arrow::compute::cast(c, &datafusion::arrow::datatypes::DataType::Int64).unwrap();
    let a = c.as_primitive::<Int64Type>();
    if a.is_null(0) {
        0
    } else {
        a.value(0)
    }
}

fn write_parquet(path: &std::path::Path, batches: &[RecordBatch]) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(f, batches[0].schema(), None).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

fn main() {
    let n: u64 = std::env::var("BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let t0 = Instant::now();
    let start = Timestamp(1_709_251_200_000_000_000); // 2024-03-01
    let gen = netward_store::gen::generate_network_events(n, 42, start, Duration::from_secs(7 * 86_400));
    let mut batches = Vec::new();
    let mut chunk = Vec::with_capacity(65_536);
    let mut devices = BTreeSet::new();
    for r in gen {
        if let Some(Value::String(d)) = r.get("DeviceId") {
            if !devices.contains(d) {
                devices.insert(d.clone());
            }
        }
        chunk.push(r);
        if chunk.len() == 65_536 {
            batches.push(netward_store::records_to_batch(Table::DeviceNetworkEvents, &chunk).unwrap());
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        batches.push(netward_store::records_to_batch(Table::DeviceNetworkEvents, &chunk).unwrap());
    }
    let info: Vec<Record> = devices
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut r = Record::new(Table::DeviceInfo);
            r.set("DeviceId", Value::String(d.clone())).unwrap();
            r.set("OSVersion", Value::String(if i % 4 == 0 { "6.1" } else { "10.0" }.into())).unwrap();
            r
        })
        .collect();
    let info_batch = netward_store::records_to_batch(Table::DeviceInfo, &info).unwrap();
    let bytes: usize = batches.iter().map(|b| b.get_array_memory_size()).sum();
    eprintln!("generated {n} events ({:.1} GiB in Arrow) in {:.1?}", bytes as f64 / (1u64 << 30) as f64, t0.elapsed());

    let dir = tempfile::tempdir().unwrap();
    write_parquet(&dir.path().join("dne.parquet"), &batches);
    write_parquet(&dir.path().join("info.parquet"), std::slice::from_ref(&info_batch));

    // Two partitions, one per core.
    let schema = batches[0].schema();
    let mut parts = vec![Vec::new(), Vec::new()];
    for (i, b) in batches.into_iter().enumerate() {
        parts[i % 2].push(b);
    }
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
    ctx.register_table("DeviceNetworkEvents", Arc::new(MemTable::try_new(schema, parts).unwrap())).unwrap();
    ctx.register_table("DeviceInfo", Arc::new(MemTable::try_new(info_batch.schema(), vec![vec![info_batch]]).unwrap()))
        .unwrap();
    let hunt = Hunt::new(
        ctx,
        HuntOptions { now: Some(start.0), timeout: Some(Duration::from_secs(600)), memory_limit: Some(8 << 30) },
    );

    let mut ours = Vec::new();
    for (name, q) in QUERIES {
        let first = rt.block_on(hunt.run(q)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut times = Vec::new();
        let mut ans = answer(&first.batches);
        for _ in 0..5 {
            let t = Instant::now();
            let r = rt.block_on(hunt.run(q)).unwrap();
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
        Ok(o) => {
            eprintln!("duckdb failed: {}", String::from_utf8_lossy(&o.stderr));
            Vec::new()
        }
        Err(e) => {
            eprintln!("python3 not runnable: {e}");
            Vec::new()
        }
    };

    println!("{n} events, 2 threads, median of 5 warm runs");
    println!("| question | netward-hunt (ms) | DuckDB (ms) | ratio | answers |");
    println!("|---|---|---|---|---|");
    for (name, ms, ans) in &ours {
        let d = duck.iter().find(|d| d["name"] == name.as_str());
        let (dms, dans) = match d {
            Some(d) => (d["ms"].as_f64().unwrap_or(f64::NAN), d["answer"].as_i64()),
            None => (f64::NAN, None),
        };
        let same = match dans {
            Some(x) if x == *ans => format!("equal ({ans})"),
            Some(x) => format!("DIFFER: {ans} vs {x}"),
            None => format!("{ans} / -"),
        };
        println!("| {name} | {ms:.1} | {dms:.1} | {:.2}x | {same} |", ms / dms);
    }
}
