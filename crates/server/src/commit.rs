//! Group commit of concurrent uploads, and the store's failure handling.
//!
//! Each upload, under the state lock, reserves its rows in the index and
//! queues its encoded appends with a sequence number ([`State::enqueue`]).
//! The first upload that finds the queue non-empty and no commit running
//! becomes the leader: it takes the whole queue, writes it to the store's
//! log and fsyncs once, with the state lock released, so that the uploads
//! arriving meanwhile queue up for the next commit. The others wait until
//! the commits have covered their sequence number. An upload whose rows
//! were all held waits too, for the commit of whatever it counted as held,
//! so nothing is acknowledged before it is on disk.
//!
//! A failed write or fsync poisons the store: every upload queued or in
//! that commit is refused (503, the devices retry), and the next request
//! reopens the store (recovery) and rebuilds the index from what is really
//! on disk once no commit and no roll is running. An epoch number tells
//! the requests of before the failure from those after.
//!
//! Locks: `state` may be held while taking `writer` (only to reopen, when
//! no commit and no roll runs); `writer` is never held while taking
//! `state`.

use crate::ingest::{Index, IngestError, IngestOptions};
use crate::segments::SegmentVfs;
use netward_store::{EncodedAppend, Store, StoreOptions};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Failures remembered for the requests waiting from before them.
const FAILURES_KEPT: usize = 16;

pub(crate) struct Shared {
    dir: PathBuf,
    pub vfs: Arc<SegmentVfs>,
    store_opts: StoreOptions,
    pub opts: IngestOptions,
    state: Mutex<State>,
    /// Commits done, rolls done, failures.
    changed: Condvar,
    writer: Mutex<Option<Store>>,
}

pub(crate) struct State {
    pub index: Index,
    queue: Vec<EncodedAppend>,
    /// The sequence number of the next queued upload.
    next_seq: u64,
    /// Every upload with a lower sequence number is on disk (or failed).
    durable: u64,
    /// A commit is being written.
    leader: bool,
    /// A roll is under way (one at a time).
    pub rolling: bool,
    epoch: u64,
    /// (epoch, its first sequence number that was not durable).
    failures: VecDeque<(u64, u64)>,
    /// Why the store must be reopened before the next upload.
    reopen: Option<String>,
    /// Log writes (each one fsync) since the server started.
    pub commits: u64,
}

/// What an upload waits for: every sequence number below `upto`, in `epoch`.
pub(crate) struct Ticket {
    upto: u64,
    epoch: u64,
}

impl State {
    /// Queues an upload's appends; its ticket covers them and everything
    /// queued before (rows it found held may be in those).
    pub fn enqueue(&mut self, appends: Vec<EncodedAppend>) -> Ticket {
        if !appends.is_empty() {
            self.queue.extend(appends);
            self.next_seq += 1;
        }
        Ticket { upto: self.next_seq, epoch: self.epoch }
    }

    /// The index no longer matches the store: reopen before the next upload.
    pub fn must_reopen(&mut self, why: String) {
        self.fail(why);
    }

    fn fail(&mut self, why: String) {
        self.failures.push_back((self.epoch, self.durable));
        if self.failures.len() > FAILURES_KEPT {
            self.failures.pop_front();
        }
        self.epoch += 1;
        self.queue.clear();
        self.durable = self.next_seq;
        self.reopen.get_or_insert(why);
    }

    /// `Some(result)` once the ticket is settled.
    fn settled(&self, t: &Ticket) -> Option<Result<(), IngestError>> {
        if t.epoch == self.epoch {
            return (self.durable >= t.upto).then_some(Ok(()));
        }
        // A failure came after the ticket: durable if before the first one.
        let durable_before = self.failures.iter().find(|(e, _)| *e == t.epoch).is_some_and(|&(_, d)| t.upto <= d);
        Some(if durable_before {
            Ok(())
        } else {
            Err(IngestError::Store("a write to the store failed; the upload was not stored, send it again".into()))
        })
    }
}

impl Shared {
    pub fn new(
        dir: &Path,
        vfs: Arc<SegmentVfs>,
        store_opts: StoreOptions,
        opts: IngestOptions,
        store: Store,
        index: Index,
    ) -> Shared {
        let state = State {
            index,
            queue: Vec::new(),
            next_seq: 0,
            durable: 0,
            leader: false,
            rolling: false,
            epoch: 0,
            failures: VecDeque::new(),
            reopen: None,
            commits: 0,
        };
        Shared {
            dir: dir.to_path_buf(),
            vfs,
            store_opts,
            opts,
            state: Mutex::new(state),
            changed: Condvar::new(),
            writer: Mutex::new(Some(store)),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        // Timed, so that a lost wake-up costs a moment, never a hang.
        self.changed.wait_timeout(st, Duration::from_millis(200)).unwrap_or_else(|e| e.into_inner()).0
    }

    pub fn notify(&self) {
        self.changed.notify_all();
    }

    pub fn writer(&self) -> MutexGuard<'_, Option<Store>> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The state, with the store reopened (and re-indexed) first if a
    /// failure asked for it.
    pub fn ready(&self) -> Result<MutexGuard<'_, State>, IngestError> {
        let mut st = self.lock();
        while st.reopen.is_some() {
            if st.leader || st.rolling {
                st = self.wait(st);
                continue;
            }
            let mut w = self.writer();
            // The old writer (poisoned) must let go of the lock first.
            *w = None;
            let (store, index) = crate::ingest::open_store(&self.vfs, &self.dir, &self.store_opts)?;
            *w = Some(store);
            st.index = index;
            st.reopen = None;
        }
        Ok(st)
    }

    pub fn with_store<T>(&self, f: impl FnOnce(&Store) -> T) -> Result<T, IngestError> {
        drop(self.ready()?);
        let w = self.writer();
        let store = w.as_ref().ok_or_else(|| IngestError::Store("the store is being reopened".into()))?;
        Ok(f(store))
    }

    /// Waits until the ticket is settled, leading commits while the queue
    /// holds appends and no one else is writing.
    pub fn commit<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        ticket: Ticket,
        roller: Option<&crate::roller::Roller>,
    ) -> Result<(), IngestError> {
        loop {
            if let Some(r) = st.settled(&ticket) {
                return r;
            }
            if st.leader || st.queue.is_empty() {
                st = self.wait(st);
                continue;
            }
            st.leader = true;
            let group = std::mem::take(&mut st.queue);
            let upto = st.next_seq;
            drop(st);
            let r = self.write_group(group);
            st = self.lock();
            st.leader = false;
            match r {
                Ok(roll_due) => {
                    // (A failure since then has moved `durable` past it.)
                    st.durable = st.durable.max(upto);
                    st.commits += 1;
                    if roll_due {
                        if let Some(r) = roller {
                            r.wake();
                        }
                    }
                }
                Err(e) => st.fail(e),
            }
            self.notify();
        }
    }

    /// One log write and one fsync for the group; whether a roll is due.
    fn write_group(&self, group: Vec<EncodedAppend>) -> Result<bool, String> {
        let mut w = self.writer();
        loop {
            let store = w.as_ref().ok_or("the store is closed")?;
            if !(store.rolling() && store.log_size().1 >= self.opts.live_log_limit) {
                break;
            }
            // The roll is behind: wait for it (without the writer, which
            // it needs to finish).
            drop(w);
            let mut st = self.lock();
            if !st.rolling {
                // No roll runs, yet the store is mid-roll: a failed roll
                // left it poisoned, and the append below says so.
                drop(st);
                w = self.writer();
                break;
            }
            while st.rolling {
                st = self.wait(st);
            }
            drop(st);
            w = self.writer();
        }
        let store = w.as_mut().ok_or("the store is closed")?;
        store.append_encoded(group).map_err(|e| e.to_string())?;
        Ok(store.roll_due())
    }

    /// Runs one roll (when due, or `force`d), waiting for one under way
    /// first. Returns the rows rolled.
    pub fn roll_once(&self, force: bool) -> Result<u64, IngestError> {
        let mut st = self.ready()?;
        while st.rolling {
            st = self.wait(st);
        }
        st.rolling = true;
        drop(st);
        let r = self.roll_unlocked(force);
        let mut st = self.lock();
        st.rolling = false;
        if let Err(e) = &r {
            // A failed roll poisons the store; reopening completes it.
            st.fail(e.to_string());
        }
        drop(st);
        self.notify();
        r
    }

    fn roll_unlocked(&self, force: bool) -> Result<u64, IngestError> {
        let err = |e: netward_store::StoreError| IngestError::Store(e.to_string());
        let job = {
            let mut w = self.writer();
            let Some(store) = w.as_mut() else { return Ok(0) };
            if !force && !store.roll_due() {
                return Ok(0);
            }
            match store.begin_roll().map_err(err)? {
                Some(job) => job,
                None => return Ok(0),
            }
        };
        // The slow part, with no lock held: uploads go on.
        let written = job.write();
        let mut w = self.writer();
        let store = w.as_mut().ok_or_else(|| IngestError::Store("the store was closed during a roll".into()))?;
        match written {
            Ok(done) => store.finish_roll(done).map(|r| r.rows).map_err(err),
            Err(e) => {
                store.abort_roll(&e);
                Err(err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Ingest;
    use crate::SegmentStoreConfig;
    use arrow::array::RecordBatch;
    use netward_events::{Record, Table, Value};

    fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
        let recs: Vec<Record> = ids
            .map(|i| {
                let mut r = Record::new(Table::DeviceNetworkEvents);
                r.set("DeviceId", Value::String("dev-a".into())).unwrap();
                r.set("ReportId", Value::Long(i)).unwrap();
                r
            })
            .collect();
        netward_store::records_to_batch(Table::DeviceNetworkEvents, &recs).unwrap()
    }

    fn append(ids: std::ops::Range<i64>) -> EncodedAppend {
        EncodedAppend::new(Table::DeviceNetworkEvents, batch(ids)).unwrap()
    }

    fn rows(shared: &Shared) -> u64 {
        shared.with_store(|s| s.snapshot().rows(Table::DeviceNetworkEvents)).unwrap()
    }

    #[test]
    fn uploads_queued_together_share_one_commit() {
        let dir = tempfile::tempdir().unwrap();
        let ingest = Ingest::open(dir.path(), &SegmentStoreConfig::Local).unwrap();
        let shared = ingest.shared();
        let mut st = shared.ready().unwrap();
        let first = st.enqueue(vec![append(0..10)]);
        let second = st.enqueue(vec![append(10..20), append(20..25)]);
        // All held already: waits for what is queued before it.
        let held = st.enqueue(vec![]);
        assert!(st.settled(&first).is_none() && st.settled(&held).is_none());
        shared.commit(st, second, None).unwrap();
        let st = shared.lock();
        assert_eq!(st.commits, 1, "one write and fsync for both uploads");
        assert!(matches!(st.settled(&first), Some(Ok(()))));
        assert!(matches!(st.settled(&held), Some(Ok(()))));
        drop(st);
        assert_eq!(rows(shared), 25);
        // Nothing queued: an upload of duplicates is settled at once.
        let st = shared.ready().unwrap();
        let t = Ticket { upto: st.next_seq, epoch: st.epoch };
        shared.commit(st, t, None).unwrap();
        assert_eq!(shared.lock().commits, 1);
    }

    #[test]
    fn a_failure_refuses_what_was_not_durable_and_the_next_upload_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let ingest = Ingest::open(dir.path(), &SegmentStoreConfig::Local).unwrap();
        let shared = ingest.shared();
        ingest.accept(Table::DeviceNetworkEvents, "dev-a", vec![batch(0..5)]).unwrap();
        let mut st = shared.ready().unwrap();
        let done = Ticket { upto: st.next_seq, epoch: st.epoch };
        let pending = st.enqueue(vec![append(5..9)]);
        st.index.get_mut(&(Table::DeviceNetworkEvents, "dev-a".into())).unwrap().insert_range(5, 8);
        st.must_reopen("simulated".into());
        assert!(matches!(st.settled(&done), Some(Ok(()))), "durable before the failure");
        assert!(matches!(st.settled(&pending), Some(Err(IngestError::Store(_)))));
        drop(st);
        // Reopened and re-indexed from disk: 5..9 were never written.
        assert_eq!(ingest.accept(Table::DeviceNetworkEvents, "dev-a", vec![batch(0..9)]).unwrap(), (4, 5));
        assert_eq!(rows(shared), 9);
    }

    #[test]
    fn uploads_go_on_during_a_roll_up_to_the_live_log_limit() {
        let dir = tempfile::tempdir().unwrap();
        let opts = crate::ingest::IngestOptions { roll_rows: u64::MAX, roll_bytes: u64::MAX, live_log_limit: 1 };
        let ingest = Ingest::open_with(dir.path(), &SegmentStoreConfig::Local, opts).unwrap();
        let ingest = std::sync::Arc::new(ingest);
        let shared = ingest.shared();
        ingest.accept(Table::DeviceNetworkEvents, "dev-a", vec![batch(0..100)]).unwrap();
        // A roll under way, as the roll thread runs it (its segments not written yet).
        shared.lock().rolling = true;
        let job = shared.writer().as_mut().unwrap().begin_roll().unwrap().unwrap();
        // The live log is empty, under the limit: an upload goes through.
        assert_eq!(ingest.accept(Table::DeviceNetworkEvents, "dev-a", vec![batch(100..150)]).unwrap(), (50, 0));
        // Now it is over the limit: the next one waits for the roll.
        let i2 = ingest.clone();
        let waiting = std::thread::spawn(move || i2.accept(Table::DeviceNetworkEvents, "dev-a", vec![batch(150..160)]));
        std::thread::sleep(Duration::from_millis(500));
        assert!(!waiting.is_finished(), "an upload past the live log limit did not wait for the roll");
        let done = job.write().unwrap();
        assert_eq!(shared.writer().as_mut().unwrap().finish_roll(done).unwrap().rows, 100);
        shared.lock().rolling = false;
        shared.notify();
        assert_eq!(waiting.join().unwrap().unwrap(), (10, 0));
        assert_eq!(rows(shared), 160);
        shared.with_store(|s| assert_eq!((s.snapshot().segments.len(), s.log_size().0), (1, 60))).unwrap();
    }
}
