//! A writer process killed with SIGKILL at an arbitrary moment (mid-append,
//! mid-roll) on the real file system: every append it acknowledged is in
//! the store exactly once, and the store opens. The test re-runs its own
//! binary as the writer.

use netward_events::{Record, Table, Timestamp, Value};
use netward_store::{Store, StoreOptions};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const CHILD_DIR: &str = "NETWARD_STORE_KILL_DIR";
const CHILD_START: &str = "NETWARD_STORE_KILL_START";
const BATCH: i64 = 50;

fn opts() -> StoreOptions {
    StoreOptions { roll_rows: 400, row_group_rows: 100, ..Default::default() }
}

fn row(id: i64) -> Record {
    let mut r = Record::new(Table::DeviceNetworkEvents);
    r.set("Timestamp", Value::DateTime(Timestamp(id))).unwrap();
    r.set("ReportId", Value::Long(id)).unwrap();
    r.set("RemoteUrl", Value::String(format!("host-{}.example", id % 97))).unwrap();
    r
}

/// The writer: appends batches forever, printing each acknowledgement.
fn child(dir: &str, start: i64) {
    let mut store = Store::open(dir, opts()).expect("child opens the store");
    let mut out = std::io::stdout().lock();
    let mut id = start;
    loop {
        let rows: Vec<Record> = (id..id + BATCH).map(row).collect();
        store.append(Table::DeviceNetworkEvents, &rows).expect("append");
        writeln!(out, "ack {id}").and_then(|()| out.flush()).expect("stdout");
        id += BATCH;
    }
}

fn stored_ids(dir: &std::path::Path) -> BTreeMap<i64, usize> {
    let store = Store::open(dir, opts()).expect("store opens after SIGKILL");
    let mut ids = BTreeMap::new();
    for b in store.read_table(Table::DeviceNetworkEvents).unwrap() {
        for r in netward_store::batch_to_records(Table::DeviceNetworkEvents, &b).unwrap() {
            *ids.entry(r.get("ReportId").and_then(Value::as_i64).unwrap()).or_insert(0) += 1;
        }
    }
    ids
}

#[test]
fn sigkill_loses_no_acknowledged_append() {
    if let (Ok(dir), Ok(start)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_START)) {
        child(&dir, start.parse().unwrap());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut next = 0i64;
    let mut acked_until = 0i64; // every id below this was acknowledged
    for round in 0..6u64 {
        let mut c = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "sigkill_loses_no_acknowledged_append", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_START, next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = c.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        // Kill after a varying number of acknowledgements (crossing rolls).
        let wanted = 5 + round * 7;
        let mut seen = 0;
        while seen < wanted {
            match lines.next() {
                Some(Ok(l)) if l.starts_with("ack ") => {
                    let id: i64 = l[4..].parse().unwrap();
                    acked_until = acked_until.max(id + BATCH);
                    seen += 1;
                }
                Some(Ok(_)) => {}
                _ => panic!("writer stopped early"),
            }
        }
        c.kill().unwrap(); // SIGKILL
        for l in lines.map_while(Result::ok) {
            if let Some(id) = l.strip_prefix("ack ") {
                acked_until = acked_until.max(id.parse::<i64>().unwrap() + BATCH);
            }
        }
        c.wait().unwrap();
        let ids = stored_ids(dir.path());
        assert!(ids.values().all(|&n| n == 1), "round {round}: duplicated rows");
        for id in 0..acked_until {
            assert!(ids.contains_key(&id), "round {round}: acknowledged row {id} lost");
        }
        let max = ids.keys().next_back().copied().unwrap_or(-1);
        // At most the one batch in flight beyond the acknowledged ones, whole.
        assert!(max < acked_until + BATCH, "round {round}: rows beyond the in-flight batch");
        assert_eq!(ids.len() as i64, max + 1, "round {round}: a partial batch");
        next = max + 1;
        acked_until = next;
    }
}
