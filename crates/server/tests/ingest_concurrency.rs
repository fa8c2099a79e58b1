//! The server's ingest under concurrent uploads: several devices upload at
//! once from their own threads, some of them resending (a retry, and a
//! second sync of the same device racing the first), with a small roll
//! threshold so that rolls run while the uploads go on. Every row must be
//! stored exactly once, acknowledged uploads must add up, and a reopen
//! (as after a restart) must find the same.

use arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use netward_events::{Record, Table, Timestamp, Value};
use netward_server::ingest::{Ingest, IngestOptions};
use netward_server::SegmentStoreConfig;
use std::collections::BTreeMap;
use std::sync::Arc;

const DEVICES: usize = 6;
const BATCHES: i64 = 24;
const ROWS: i64 = 250;

fn rows(device: &str, ids: std::ops::Range<i64>) -> RecordBatch {
    let recs: Vec<Record> = ids
        .map(|i| {
            let mut r = Record::new(Table::DeviceNetworkEvents);
            r.set("Timestamp", Value::DateTime(Timestamp(1_700_000_000_000_000_000 + i))).unwrap();
            r.set("DeviceId", Value::String(device.into())).unwrap();
            r.set("ReportId", Value::Long(i)).unwrap();
            r
        })
        .collect();
    netward_store::records_to_batch(Table::DeviceNetworkEvents, &recs).unwrap()
}

fn device(i: usize) -> String {
    format!("dev-{i:02}")
}

/// (DeviceId, ReportId) -> how many times the store holds it.
fn held(ingest: &Ingest) -> BTreeMap<(String, i64), u32> {
    let batches = ingest.with_store(|s| s.read_table(Table::DeviceNetworkEvents).unwrap()).unwrap();
    let mut m = BTreeMap::new();
    for b in &batches {
        let dev = b.column_by_name("DeviceId").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
        let ids = b.column_by_name("ReportId").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
        for i in 0..b.num_rows() {
            *m.entry((dev.value(i).to_string(), ids.value(i))).or_insert(0) += 1;
        }
    }
    m
}

fn check(ingest: &Ingest, context: &str) {
    let got = held(ingest);
    for d in 0..DEVICES {
        for id in 0..BATCHES * ROWS {
            let n = got.get(&(device(d), id)).copied().unwrap_or(0);
            assert_eq!(n, 1, "{context}: {} ReportId {id} stored {n} times", device(d));
        }
    }
    assert_eq!(got.len(), DEVICES * (BATCHES * ROWS) as usize, "{context}: rows nobody sent");
    let per_device = ingest.rows_per_device();
    assert!(per_device.values().all(|&n| n == (BATCHES * ROWS) as u64), "{context}: index {per_device:?}");
}

#[test]
fn concurrent_uploads_and_retries_are_stored_exactly_once_while_rolls_run() {
    let dir = tempfile::tempdir().unwrap();
    // ~6 batches per roll; the live log may grow by ~2 rolls' worth meanwhile.
    let opts = IngestOptions { roll_rows: 1500, roll_bytes: u64::MAX, live_log_limit: 2 << 20 };
    let ingest = Arc::new(Ingest::open_with(dir.path(), &SegmentStoreConfig::Local, opts.clone()).unwrap());
    let mut threads = Vec::new();
    // Each device once, and devices 0 and 1 a second time, racing (a sync
    // resending what another has in flight), in the other order.
    let senders: Vec<(usize, bool)> = (0..DEVICES).map(|d| (d, false)).chain([(0, true), (1, true)]).collect();
    for (d, reverse) in senders {
        let ingest = ingest.clone();
        threads.push(std::thread::spawn(move || {
            let dev = device(d);
            let mut order: Vec<i64> = (0..BATCHES).collect();
            if reverse {
                order.reverse();
            }
            let (mut stored, mut dups) = (0u64, 0u64);
            for (k, b) in order.into_iter().enumerate() {
                let batch = rows(&dev, b * ROWS..(b + 1) * ROWS);
                let (s, du) = ingest.accept(Table::DeviceNetworkEvents, &dev, vec![batch.clone()]).unwrap();
                assert_eq!(s + du, ROWS as u64);
                stored += s;
                dups += du;
                if k % 5 == 0 {
                    // A retry of an acknowledged upload: all duplicates.
                    assert_eq!(ingest.accept(Table::DeviceNetworkEvents, &dev, vec![batch]).unwrap(), (0, ROWS as u64));
                }
            }
            (d, stored, dups)
        }));
    }
    let mut stored: BTreeMap<usize, u64> = BTreeMap::new();
    for t in threads {
        let (d, s, _) = t.join().unwrap();
        *stored.entry(d).or_default() += s;
    }
    // Across a device's racing syncs, each row was stored by exactly one.
    assert!(stored.values().all(|&s| s == (BATCHES * ROWS) as u64), "stored per device: {stored:?}");
    check(&ingest, "live");
    let (segments, log_rows) = ingest.with_store(|s| (s.snapshot().segments.len(), s.log_size().0)).unwrap();
    assert!(segments >= 5, "rolls ran: {segments} segments");
    assert!(log_rows < (BATCHES * ROWS) as u64 * DEVICES as u64, "the log was rolled");
    drop(ingest);

    let ingest = Ingest::open_with(dir.path(), &SegmentStoreConfig::Local, opts).unwrap();
    check(&ingest, "after reopen");
    // A resend of everything after the restart is all duplicates.
    for d in 0..DEVICES {
        let dev = device(d);
        let r = ingest.accept(Table::DeviceNetworkEvents, &dev, vec![rows(&dev, 0..BATCHES * ROWS)]).unwrap();
        assert_eq!(r, (0, (BATCHES * ROWS) as u64));
    }
    check(&ingest, "after resending");
}
