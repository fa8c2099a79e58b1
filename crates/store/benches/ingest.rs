//! Durable ingest throughput: N generated `DeviceNetworkEvents` rows appended
//! in batches (one fsync per batch), including the rolls into Parquet.
//!
//! ```text
//! NETWARD_BENCH_EVENTS=1000000 NETWARD_BENCH_BATCH=10000 \
//!   cargo bench -p netward-store --bench ingest
//! ```
//!
//! Reports events/s for the durable append (rows → Arrow, then
//! `Store::append_batch`: log frame → write → fsync), for the rolls, and end to end, plus the bytes on disk. Generating
//! the rows is timed separately and not counted. `NETWARD_BENCH_DIR` picks
//! the directory (default: a temporary one under `$TMPDIR`); the bench prints
//! its filesystem and refuses tmpfs/ramfs, where fsync costs nothing
//! (`NETWARD_BENCH_ALLOW_TMPFS=1` to run there anyway).

use netward_events::{Table, Timestamp};
use netward_store::gen::generate_network_events;
use netward_store::{Store, StoreOptions};
use std::time::{Duration, Instant};

/// The filesystem type of `dir`, as `stat -f` names it (`ext2/ext3` covers ext4).
fn filesystem_type(dir: &std::path::Path) -> String {
    std::process::Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(dir)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn dir_bytes(dir: &std::path::Path) -> (u64, u64, u64) {
    let (mut log, mut seg, mut other) = (0, 0, 0);
    for e in std::fs::read_dir(dir).expect("read store dir").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let len = e.metadata().map(|m| m.len()).unwrap_or(0);
        if name.ends_with(".log") {
            log += len;
        } else if name.ends_with(".parquet") {
            seg += len;
        } else {
            other += len;
        }
    }
    (log, seg, other)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let n = env("NETWARD_BENCH_EVENTS", 1_000_000);
    let batch = env("NETWARD_BENCH_BATCH", 10_000).max(1) as usize;
    let tmp = tempfile::tempdir_in(
        std::env::var("NETWARD_BENCH_DIR").unwrap_or_else(|_| std::env::temp_dir().display().to_string()),
    )
    .expect("temp dir");
    // The figure means durable ingest only on a real disk: a tmpfs or ramfs
    // directory makes every fsync free, so it is refused unless asked for.
    let fs = filesystem_type(tmp.path());
    println!("store directory {} (filesystem {fs})", tmp.path().display());
    if (fs == "tmpfs" || fs == "ramfs") && std::env::var_os("NETWARD_BENCH_ALLOW_TMPFS").is_none() {
        eprintln!(
            "ingest bench: {} is on {fs}, not a disk; set NETWARD_BENCH_DIR to a directory on disk",
            tmp.path().display()
        );
        std::process::exit(2);
    }
    let opts = StoreOptions::default();
    let mut store = Store::open(tmp.path(), opts.clone()).expect("open store");
    let start = Timestamp::from_unix_millis(1_763_769_600_000);
    let mut events = generate_network_events(n, 42, start, Duration::from_secs(7 * 86_400));

    let (mut gen_t, mut append_t, mut roll_t, mut convert_t) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut appended = 0u64;
    let mut rolls = 0;
    loop {
        let t = Instant::now();
        let rows: Vec<_> = events.by_ref().take(batch).collect();
        gen_t += t.elapsed();
        if rows.is_empty() {
            break;
        }
        // Time the roll separately: it happens at the start of an append
        // once the log is full.
        let (log_rows, log_bytes) = store.log_size();
        if log_rows >= opts.roll_rows || log_bytes >= opts.roll_bytes {
            let t = Instant::now();
            store.roll().expect("roll");
            roll_t += t.elapsed();
            rolls += 1;
        }
        let t = Instant::now();
        let batch = netward_store::records_to_batch(Table::DeviceNetworkEvents, &rows).expect("rows to Arrow");
        convert_t += t.elapsed();
        store.append_batch(Table::DeviceNetworkEvents, batch).expect("append");
        append_t += t.elapsed();
        appended += rows.len() as u64;
    }
    let (log_b, _, _) = dir_bytes(tmp.path());
    let t = Instant::now();
    let r = store.roll().expect("final roll");
    roll_t += t.elapsed();
    rolls += usize::from(!r.segments.is_empty());
    let (log_after, seg_b, other_b) = dir_bytes(tmp.path());
    let total = append_t + roll_t;
    let rate = |d: Duration| appended as f64 / d.as_secs_f64().max(1e-9);
    println!(
        "events                 {appended} in batches of {batch} ({} fsynced appends)",
        appended.div_ceil(batch as u64)
    );
    println!("generate (not counted) {:>8.2} s", gen_t.as_secs_f64());
    println!("append (durable)       {:>8.2} s  {:>12.0} events/s", append_t.as_secs_f64(), rate(append_t));
    println!("  of which rows->Arrow {:>8.2} s  {:>12.0} events/s", convert_t.as_secs_f64(), rate(convert_t));
    println!(
        "  of which log+fsync   {:>8.2} s  {:>12.0} events/s",
        (append_t - convert_t).as_secs_f64(),
        rate(append_t - convert_t)
    );
    println!(
        "roll to parquet        {:>8.2} s  {:>12.0} events/s  ({rolls} rolls)",
        roll_t.as_secs_f64(),
        rate(roll_t)
    );
    println!("end to end             {:>8.2} s  {:>12.0} events/s", total.as_secs_f64(), rate(total));
    println!(
        "log before final roll  {:>8.1} MB  ({:.0} B/event)",
        log_b as f64 / 1e6,
        log_b as f64 / appended.max(1) as f64
    );
    println!(
        "on disk after roll     {:>8.1} MB  ({:.0} B/event; segments {:.1} MB, log {} B, other {} B)",
        (seg_b + log_after + other_b) as f64 / 1e6,
        (seg_b + log_after + other_b) as f64 / appended.max(1) as f64,
        seg_b as f64 / 1e6,
        log_after,
        other_b
    );
}
