//! Rolls off the append path on the real file system: appends (and group
//! commits) while a roll's segments are written on another thread, readers
//! during a roll, and a writer that dies with a roll under way.

use netward_events::{Record, Table, Timestamp, Value};
use netward_store::{EncodedAppend, Store, StoreError, StoreOptions};
use std::path::Path;
use std::sync::{Arc, Mutex};

fn net(id: i64) -> Record {
    let mut r = Record::new(Table::DeviceNetworkEvents);
    r.set("Timestamp", Value::DateTime(Timestamp(1_763_769_600_000_000_000 + id))).unwrap();
    r.set("ReportId", Value::Long(id)).unwrap();
    r
}

fn rows(ids: std::ops::Range<i64>) -> Vec<Record> {
    ids.map(net).collect()
}

fn opts() -> StoreOptions {
    StoreOptions { roll_rows: 50, row_group_rows: 16, roll_in_append: false, ..Default::default() }
}

/// Every ReportId in the store, sorted (a repeat shows twice).
fn ids(s: &Store) -> Vec<i64> {
    let mut v: Vec<i64> = s
        .read_table(Table::DeviceNetworkEvents)
        .unwrap()
        .iter()
        .flat_map(|b| netward_store::batch_to_records(Table::DeviceNetworkEvents, b).unwrap())
        .map(|r| r.get("ReportId").and_then(Value::as_i64).unwrap())
        .collect();
    v.sort();
    v
}

fn logs(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("wal-"))
        .collect();
    v.sort();
    v
}

#[test]
fn appends_go_on_while_a_roll_is_written_on_another_thread() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Mutex::new(Store::open(dir.path(), opts()).unwrap()));
    store.lock().unwrap().append(Table::DeviceNetworkEvents, &rows(0..60)).unwrap();
    assert!(store.lock().unwrap().roll_due());
    let job = store.lock().unwrap().begin_roll().unwrap().expect("rows to roll");
    assert_eq!(job.rows(), 60);
    assert!(matches!(store.lock().unwrap().begin_roll(), Err(StoreError::RollUnderWay)));
    assert_eq!(logs(dir.path()).len(), 2, "the frozen generation and the next one");
    let writer = std::thread::spawn(move || job.write().unwrap());
    // Appends (one of them a group commit of three) while the segments are written.
    {
        let mut s = store.lock().unwrap();
        s.append(Table::DeviceNetworkEvents, &rows(60..70)).unwrap();
        let group: Vec<EncodedAppend> = [70..75, 75..90, 90..91]
            .into_iter()
            .map(|r| {
                let b = netward_store::records_to_batch(Table::DeviceNetworkEvents, &rows(r)).unwrap();
                EncodedAppend::new(Table::DeviceNetworkEvents, b).unwrap()
            })
            .collect();
        let acks = s.append_encoded(group).unwrap();
        assert_eq!(acks.iter().map(|a| a.rows).collect::<Vec<_>>(), vec![5, 15, 1]);
        assert!(acks.windows(2).all(|w| w[1].offset == w[0].offset + w[0].frame_bytes));
        assert!(!s.roll_due(), "no second roll while one is under way");
        assert_eq!(ids(&s), (0..91).collect::<Vec<_>>());
        // A reader sees both live generations.
        let r = Store::open(dir.path(), StoreOptions::read_only()).unwrap();
        assert_eq!(ids(&r), (0..91).collect::<Vec<_>>());
    }
    let done = writer.join().unwrap();
    let mut s = store.lock().unwrap();
    let report = s.finish_roll(done).unwrap();
    assert_eq!(report.rows, 60);
    assert!(!s.rolling());
    assert_eq!(s.snapshot().segments.len(), 1);
    assert_eq!(s.log_size().0, 31, "the appends made during the roll stay in the live log");
    assert_eq!(ids(&s), (0..91).collect::<Vec<_>>());
    assert_eq!(logs(dir.path()).len(), 1);
    drop(s);
    drop(store);
    let s = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(ids(&s), (0..91).collect::<Vec<_>>());
    assert_eq!(s.recovery().completed_roll_rows, 0);
}

#[test]
fn a_writer_gone_with_a_roll_under_way_is_completed_on_open() {
    for segments_written in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), opts()).unwrap();
        s.append(Table::DeviceNetworkEvents, &rows(0..40)).unwrap();
        let job = s.begin_roll().unwrap().unwrap();
        s.append(Table::DeviceNetworkEvents, &rows(40..55)).unwrap();
        if segments_written {
            // Written but never committed: a leftover.
            drop(job.write().unwrap());
        }
        drop(s);
        let s = Store::open(dir.path(), opts()).unwrap();
        assert_eq!(s.recovery().completed_roll_rows, 40, "written: {segments_written}");
        assert_eq!(s.recovery().log_rows, 55);
        assert_eq!(ids(&s), (0..55).collect::<Vec<_>>(), "written: {segments_written}");
        assert_eq!(s.snapshot().segments.len(), 1);
        assert_eq!(s.log_size().0, 15);
        assert_eq!(logs(dir.path()).len(), 1);
        drop(s);
        let s = Store::open(dir.path(), opts()).unwrap();
        assert_eq!(ids(&s), (0..55).collect::<Vec<_>>());
    }
}

#[test]
fn a_failed_roll_poisons_and_reopening_completes_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), opts()).unwrap();
    s.append(Table::DeviceNetworkEvents, &rows(0..10)).unwrap();
    let _job = s.begin_roll().unwrap().unwrap();
    s.append(Table::DeviceNetworkEvents, &rows(10..12)).unwrap();
    s.abort_roll(&StoreError::ReadOnly);
    assert!(matches!(s.append(Table::DeviceNetworkEvents, &rows(12..13)), Err(StoreError::Poisoned(_))));
    drop(s);
    let s = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(s.recovery().completed_roll_rows, 10);
    assert_eq!(ids(&s), (0..12).collect::<Vec<_>>());
    drop(s);

    // A roll that died before any append went to its new generation: that
    // (empty) generation is removed and the frozen one stays live.
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), opts()).unwrap();
    s.append(Table::DeviceNetworkEvents, &rows(0..10)).unwrap();
    let _job = s.begin_roll().unwrap().unwrap();
    drop(s);
    assert_eq!(logs(dir.path()).len(), 2);
    let s = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(s.recovery().completed_roll_rows, 0);
    assert_eq!((s.log_size().0, logs(dir.path()).len()), (10, 1));
    assert_eq!(ids(&s), (0..10).collect::<Vec<_>>());
}
