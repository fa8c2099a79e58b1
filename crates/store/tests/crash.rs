//! Crash tests on the simulated file system: a deterministic workload of
//! appends, rolls and retention passes, with a power cut injected at every
//! single mutating I/O operation in turn (and failing writes/fsyncs), then
//! recovery. After each, every acknowledged row must be there exactly once,
//! a row of an append that failed either entirely there or entirely absent,
//! nothing else there, and the store must open.

use netward_events::{Record, Table, Timestamp, Value};
use netward_store::sim::SimFs;
use netward_store::{Store, StoreError, StoreOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const DIR: &str = "/data/store";

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn opts() -> StoreOptions {
    StoreOptions { roll_rows: 40, roll_bytes: 1 << 20, row_group_rows: 16, ..Default::default() }
}

/// Rows are identified by ReportId; their Timestamp is their id (seconds),
/// so a retention cutoff says which ids it may drop.
fn row(table: Table, id: i64) -> Record {
    let mut r = Record::new(table);
    r.set("Timestamp", Value::DateTime(Timestamp(id * 1_000_000_000))).unwrap();
    r.set("ReportId", Value::Long(id)).unwrap();
    r.set("DeviceName", Value::String(format!("dev-{}", id % 7))).unwrap();
    r.set("AdditionalFields", Value::Dynamic(serde_json::json!({"id": id}))).unwrap();
    r
}

/// What the workload was told.
#[derive(Default, Debug)]
struct Model {
    /// Acknowledged appends: id -> table.
    acked: BTreeMap<i64, Table>,
    /// Appends that returned an error: each may be stored (entirely) or not.
    maybe: Vec<Vec<i64>>,
    /// Rows with an id below this may have been dropped by retention.
    retention_floor: i64,
    next_id: i64,
}

/// Runs `steps` workload steps; stops at the first I/O error (the store is
/// then poisoned or the power is off). Returns whether it ran to the end.
fn workload(store: &mut Store, rng: &mut Rng, model: &mut Model, steps: usize) -> bool {
    for _ in 0..steps {
        let op = rng.below(22);
        let r: Result<(), StoreError> = if op < 15 {
            append(store, rng, model)
        } else if op < 18 {
            store.roll().map(|_| ())
        } else if op < 20 {
            rolled_while_appending(store, rng, model)
        } else {
            // Drop what is older than 30 ids ago.
            let cutoff = (model.next_id - 30).max(0);
            model.retention_floor = model.retention_floor.max(cutoff);
            store
                .enforce_retention(Timestamp(model.next_id * 1_000_000_000), Some(Duration::from_secs(30)), None)
                .map(|_| ())
        };
        if r.is_err() {
            return false;
        }
    }
    true
}

fn append(store: &mut Store, rng: &mut Rng, model: &mut Model) -> Result<(), StoreError> {
    let table = if rng.below(4) == 0 { Table::DeviceInfo } else { Table::DeviceNetworkEvents };
    let n = 1 + rng.below(12) as i64;
    let ids: Vec<i64> = (model.next_id..model.next_id + n).collect();
    model.next_id += n;
    let rows: Vec<Record> = ids.iter().map(|&i| row(table, i)).collect();
    match store.append(table, &rows) {
        Ok(ack) => {
            assert_eq!(ack.rows, rows.len());
            for i in ids {
                model.acked.insert(i, table);
            }
            Ok(())
        }
        Err(e) => {
            model.maybe.push(ids);
            Err(e)
        }
    }
}

/// A roll off the append path: appends between its three steps (so a cut
/// lands with two live generations, and with segments not yet committed).
fn rolled_while_appending(store: &mut Store, rng: &mut Rng, model: &mut Model) -> Result<(), StoreError> {
    let Some(job) = store.begin_roll()? else { return Ok(()) };
    for _ in 0..rng.below(4) {
        append(store, rng, model)?;
    }
    let done = job.write().inspect_err(|e| store.abort_roll(e))?;
    for _ in 0..rng.below(3) {
        append(store, rng, model)?;
    }
    store.finish_roll(done).map(|_| ())
}

/// Every row in the store, by id, with its table and count.
fn contents(store: &Store) -> BTreeMap<i64, (Table, usize)> {
    let mut out: BTreeMap<i64, (Table, usize)> = BTreeMap::new();
    for table in [Table::DeviceNetworkEvents, Table::DeviceInfo] {
        for b in store.read_table(table).expect("read table") {
            for r in netward_store::batch_to_records(table, &b).unwrap() {
                let id = r.get("ReportId").and_then(Value::as_i64).unwrap();
                assert_eq!(r, row(table, id), "row {id} comes back as written");
                out.entry(id).or_insert((table, 0)).1 += 1;
            }
        }
    }
    out
}

fn check(store: &Store, model: &Model, context: &str) -> BTreeMap<i64, (Table, usize)> {
    let got = contents(store);
    for (&id, &(table, count)) in &got {
        assert_eq!(count, 1, "{context}: row {id} stored {count} times");
        let known =
            model.acked.get(&id).map(|t| *t == table).unwrap_or(false) || model.maybe.iter().any(|m| m.contains(&id));
        assert!(known, "{context}: row {id} was never appended to {table}");
    }
    for &id in model.acked.keys() {
        if id >= model.retention_floor {
            assert!(got.contains_key(&id), "{context}: acknowledged row {id} lost");
        }
    }
    for m in &model.maybe {
        let present: BTreeSet<bool> =
            m.iter().filter(|&&id| id >= model.retention_floor).map(|id| got.contains_key(id)).collect();
        assert!(present.len() <= 1, "{context}: failed append {m:?} is partly stored");
    }
    got
}

fn open(fs: &SimFs) -> Result<Store, StoreError> {
    Store::open_with(Arc::new(fs.clone()), DIR, opts())
}

/// Recovers after a crash: the store opens, holds what it must, and a
/// second crash right after recovery changes nothing (recovery made its
/// view durable). The store then takes more appends.
fn recover_and_check(fs: &SimFs, model: &mut Model, rng: &mut Rng, context: &str) {
    let store = open(fs).unwrap_or_else(|e| panic!("{context}: store does not open: {e}"));
    let first = check(&store, model, context);
    drop(store);
    fs.crash(false);
    let mut store = open(fs).unwrap_or_else(|e| panic!("{context}: store does not reopen: {e}"));
    let second = check(&store, model, context);
    assert_eq!(first, second, "{context}: contents changed across a crash after recovery");
    // Settle the maybes: from here on they are known.
    model.maybe.retain(|m| m.iter().any(|id| second.contains_key(id)));
    for m in std::mem::take(&mut model.maybe) {
        for id in m {
            if second.contains_key(&id) {
                model.acked.insert(id, second[&id].0);
            }
        }
    }
    assert!(workload(&mut store, rng, model, 10), "{context}: appends after recovery fail");
    check(&store, model, context);
}

fn total_ops(seed: u64, steps: usize) -> u64 {
    let fs = SimFs::new(seed);
    let mut store = open(&fs).unwrap();
    let mut model = Model::default();
    assert!(workload(&mut store, &mut Rng(seed), &mut model, steps));
    fs.ops()
}

#[test]
fn power_cut_at_every_io_operation_loses_and_duplicates_nothing() {
    for seed in [1u64, 2] {
        let steps = 60;
        let total = total_ops(seed, steps);
        assert!(total > 100, "the workload should do real I/O ({total} ops)");
        for cut in 0..total {
            let fs = SimFs::new(seed * 1000 + cut);
            fs.power_cut_at(cut);
            let mut model = Model::default();
            let mut rng = Rng(seed);
            let context = format!("seed {seed}, power cut at op {cut}");
            // If opening fails, the cut hit the creation of the store.
            if let Ok(mut store) = open(&fs) {
                assert!(!workload(&mut store, &mut rng, &mut model, steps), "{context}: no failure seen");
            }
            fs.crash(cut % 2 == 0);
            recover_and_check(&fs, &mut model, &mut Rng(seed + 99), &context);
        }
    }
}

#[test]
fn crashes_during_recovery_are_recovered_too() {
    for seed in 0u64..40 {
        let fs = SimFs::new(seed);
        let mut rng = Rng(seed);
        let mut model = Model::default();
        let mut store = open(&fs).unwrap();
        assert!(workload(&mut store, &mut rng, &mut model, 30));
        // Leave a torn append behind: power off in the middle of the next steps.
        fs.power_cut_at(fs.ops() + rng.below(12));
        workload(&mut store, &mut rng, &mut model, 30);
        drop(store);
        fs.crash(true);
        // Now crash again somewhere inside recovery.
        fs.power_cut_at(fs.ops() + rng.below(8));
        let _ = open(&fs);
        fs.crash(true);
        recover_and_check(&fs, &mut model, &mut rng, &format!("seed {seed}"));
    }
}

#[test]
fn failing_writes_and_fsyncs_poison_the_store_and_reopening_recovers() {
    for seed in 0u64..150 {
        let fs = SimFs::new(seed);
        let mut rng = Rng(seed);
        let mut model = Model::default();
        let mut store = open(&fs).unwrap();
        for round in 0..4 {
            fs.fail_op(fs.ops() + rng.below(40));
            let context = format!("seed {seed}, round {round}");
            if workload(&mut store, &mut rng, &mut model, 25) {
                continue;
            }
            // Poisoned: every later call fails the same way until reopened.
            let e = store.append(Table::DeviceInfo, &[row(Table::DeviceInfo, -1)]).unwrap_err();
            assert!(matches!(e, StoreError::Poisoned(_)), "{context}: {e}");
            drop(store);
            match rng.below(3) {
                0 => {}
                1 => fs.crash(rng.below(2) == 0),
                _ => {
                    // Reopen, but lose power inside recovery.
                    fs.power_cut_at(fs.ops() + rng.below(6));
                    let _ = open(&fs);
                    fs.crash(true);
                }
            }
            recover_and_check(&fs, &mut model, &mut rng, &context);
            store = open(&fs).unwrap();
        }
    }
}

#[test]
fn a_flipped_bit_in_the_last_frame_is_cut_and_reported() {
    let fs = SimFs::new(9);
    let mut store = open(&fs).unwrap();
    store.append(Table::DeviceNetworkEvents, &[row(Table::DeviceNetworkEvents, 1)]).unwrap();
    let ack = store.append(Table::DeviceNetworkEvents, &[row(Table::DeviceNetworkEvents, 2)]).unwrap();
    drop(store);
    let wal = Path::new(DIR).join(format!("wal-{:020}.log", ack.generation));
    fs.corrupt(&wal, (ack.offset + 20) as usize);
    let store = open(&fs).unwrap();
    assert_eq!(store.recovery().torn_bytes_cut, ack.frame_bytes);
    assert!(store.recovery().torn_reason.as_deref().unwrap_or("").contains("checksum"));
    let ids: Vec<i64> = contents(&store).keys().copied().collect();
    assert_eq!(ids, vec![1]);
}
