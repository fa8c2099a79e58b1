//! [`Store`]: opening (with recovery), appending, rolling and retention.
//! The protocol is described in the crate documentation.

use crate::log::{decode_log, encode_frame, log_file_name, parse_log_file_name};
use crate::manifest::{Manifest, MANIFEST, MANIFEST_TMP};
use crate::roll::Frozen;
use crate::segment::{parse_segment_file_name, Segment};
use crate::vfs::{LockGuard, StdFs, Vfs, VfsFile};
use crate::{records_to_batch, Result, StoreError};
use arrow::record_batch::RecordBatch;
use netward_events::{Record, Table, Timestamp};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub(crate) const LOCK: &str = "LOCK";

/// How a store is opened and when its log is rolled.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Open without the writer lock: no appends, no recovery writes. Many
    /// readers may open a store while one writer appends.
    pub read_only: bool,
    /// Roll the log into segments once it holds this many rows ...
    pub roll_rows: u64,
    /// ... or this many bytes. The roll happens at the next append (or on
    /// [`Store::roll`]), never after an acknowledgement.
    pub roll_bytes: u64,
    /// Rows per Parquet row group (the unit a time filter skips).
    pub row_group_rows: usize,
    /// Roll inside an append when the thresholds are reached (the default).
    /// Off: the owner rolls off the append path ([`Store::begin_roll`],
    /// [`Store::roll_due`]) and appends never wait for a roll.
    pub roll_in_append: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        // A reader decodes the whole live log before its first query, so the
        // log stays small: 64 MiB is about 150,000 events (a few minutes of a
        // busy agent, one import batch or so); rolled segments are read by
        // column and row group.
        StoreOptions {
            read_only: false,
            roll_rows: 1 << 20,
            roll_bytes: 64 << 20,
            row_group_rows: 64 * 1024,
            roll_in_append: true,
        }
    }
}

impl StoreOptions {
    pub fn read_only() -> Self {
        StoreOptions { read_only: true, ..Default::default() }
    }
}

/// What an append made durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendAck {
    pub table: Table,
    pub rows: usize,
    /// The log generation and byte offset of the append's frame.
    pub generation: u64,
    pub offset: u64,
    pub frame_bytes: u64,
}

/// One append encoded ahead (its log frame), so that the encoding can run
/// outside whatever serialises the store's writer; see
/// [`Store::append_encoded`].
#[derive(Debug, Clone)]
pub struct EncodedAppend {
    table: Table,
    batch: RecordBatch,
    frame: Vec<u8>,
}

impl EncodedAppend {
    /// Encodes `batch` (exactly the table's schema) as one log frame.
    pub fn new(table: Table, batch: RecordBatch) -> Result<EncodedAppend> {
        if !table.is_stored() {
            return Err(StoreError::NotStored(table.name()));
        }
        let frame = encode_frame(table, &batch)?;
        Ok(EncodedAppend { table, batch, frame })
    }

    pub fn table(&self) -> Table {
        self.table
    }

    pub fn rows(&self) -> usize {
        self.batch.num_rows()
    }

    pub fn frame_bytes(&self) -> u64 {
        self.frame.len() as u64
    }
}

/// What opening the store found and repaired.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecoveryReport {
    /// Appends and rows found in the live log.
    pub log_appends: usize,
    pub log_rows: u64,
    /// Bytes cut from the end of the log (a write that was never
    /// acknowledged), and why they were not a valid frame.
    pub torn_bytes_cut: u64,
    pub torn_reason: Option<String>,
    /// Leftovers of interrupted rolls and retention passes that were removed.
    pub removed_files: Vec<String>,
    /// Rows of a roll that was under way (two live log generations) and
    /// that opening completed.
    pub completed_roll_rows: u64,
}

/// What a roll wrote.
#[derive(Debug, Clone, Default)]
pub struct RollReport {
    pub segments: Vec<Segment>,
    pub rows: u64,
}

/// What a retention pass dropped.
#[derive(Debug, Clone, Default)]
pub struct RetentionReport {
    pub dropped: Vec<Segment>,
    pub rows: u64,
    pub bytes: u64,
}

/// The store as of one instant: the segments (sorted by time) and the log's
/// appends in order. Holding a snapshot keeps its segment files from being
/// deleted by retention in this process.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub segments: Vec<Arc<Segment>>,
    pub tail: Vec<(Table, RecordBatch)>,
}

impl Snapshot {
    pub fn segments_of(&self, table: Table) -> impl Iterator<Item = &Arc<Segment>> {
        self.segments.iter().filter(move |s| s.table == table)
    }

    pub fn tail_of(&self, table: Table) -> Vec<RecordBatch> {
        self.tail.iter().filter(|(t, _)| *t == table).map(|(_, b)| b.clone()).collect()
    }

    /// Rows of `table` in this snapshot.
    pub fn rows(&self, table: Table) -> u64 {
        self.segments_of(table).map(|s| s.rows).sum::<u64>()
            + self.tail.iter().filter(|(t, _)| *t == table).map(|(_, b)| b.num_rows() as u64).sum::<u64>()
    }
}

/// A durable event store in one directory. See the crate documentation.
pub struct Store {
    pub(crate) vfs: Arc<dyn Vfs>,
    pub(crate) dir: PathBuf,
    pub(crate) opts: StoreOptions,
    _lock: Option<LockGuard>,
    pub(crate) manifest: Manifest,
    /// The generation taking appends: the manifest's, or the next one while
    /// a roll is under way.
    pub(crate) log: Option<Box<dyn VfsFile>>,
    pub(crate) log_len: u64,
    pub(crate) log_rows: u64,
    /// The manifest's generation while a roll of it is under way; its
    /// appends are the first ones of the snapshot's tail.
    pub(crate) frozen: Option<Frozen>,
    pub(crate) shared: Arc<RwLock<Snapshot>>,
    /// Segments dropped by retention whose files wait until no snapshot
    /// holds them.
    graveyard: Vec<Arc<Segment>>,
    pub(crate) poisoned: Option<String>,
    recovery: RecoveryReport,
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |e| StoreError::io(op, path, e)
}

impl Store {
    /// Opens (creating if needed) the store in `dir` on the real file system.
    pub fn open(dir: impl AsRef<Path>, opts: StoreOptions) -> Result<Store> {
        Store::open_with(Arc::new(StdFs), dir, opts)
    }

    /// Opens the store through a given file-system layer.
    pub fn open_with(vfs: Arc<dyn Vfs>, dir: impl AsRef<Path>, opts: StoreOptions) -> Result<Store> {
        let dir = dir.as_ref().to_path_buf();
        if opts.read_only {
            Store::open_reader(vfs, dir, opts)
        } else {
            Store::open_writer(vfs, dir, opts)
        }
    }

    fn open_writer(vfs: Arc<dyn Vfs>, dir: PathBuf, opts: StoreOptions) -> Result<Store> {
        let existed = vfs.list(&dir).is_ok();
        vfs.create_dir_all(&dir).map_err(io("create directory", &dir))?;
        if !existed {
            // The new directory's own entry must survive a power cut.
            let parent = match dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            vfs.sync_dir(&parent).map_err(io("fsync directory", &parent))?;
        }
        let lock_path = dir.join(LOCK);
        let lock = vfs.lock(&lock_path).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => StoreError::Locked { path: dir.clone() },
            _ => StoreError::io("lock", &lock_path, e),
        })?;
        let names = vfs.list(&dir).map_err(io("list", &dir))?;
        if !names.iter().any(|n| n == MANIFEST) {
            // A new store starts only in an empty directory: log or segment
            // files without a manifest mean a damaged store (never start it
            // over), anything else a directory that is not ours.
            if let Some(n) = names.iter().find(|n| *n != LOCK && *n != MANIFEST_TMP) {
                return Err(StoreError::NotAStore {
                    path: dir.clone(),
                    reason: format!("it holds {n} but no MANIFEST; a new store needs an empty directory"),
                });
            }
            // Nothing can have been acknowledged before the first manifest.
            Manifest::new().commit(vfs.as_ref(), &dir)?;
        }
        let manifest = Manifest::load(vfs.as_ref(), &dir)?;
        // What we read may include a manifest rename that is not durable yet
        // (the last writer died before its directory fsync): make it durable
        // before deleting anything it made obsolete.
        vfs.sync_dir(&dir).map_err(io("fsync directory", &dir))?;

        let mut report = RecoveryReport::default();
        let live: HashSet<&str> = manifest.segments.iter().map(|s| s.file.as_str()).collect();
        let log_name = log_file_name(manifest.log_generation);
        for name in vfs.list(&dir).map_err(io("list", &dir))? {
            let path = dir.join(&name);
            let garbage = if name == MANIFEST_TMP {
                true
            } else if parse_segment_file_name(&name).is_some() {
                !live.contains(name.as_str())
            } else if let Some(g) = parse_log_file_name(&name) {
                if g == manifest.log_generation + 1 {
                    // The next generation of a roll that never committed:
                    // it took appends while the roll was under way (kept,
                    // and the roll is completed below), or none (removed).
                    vfs.read(&path).map_err(io("read", &path))?.is_empty()
                } else if g > manifest.log_generation {
                    // No roll ever creates two generations ahead.
                    let len = vfs.read(&path).map_err(io("read", &path))?.len();
                    if len != 0 {
                        return Err(StoreError::Corrupt {
                            path,
                            offset: 0,
                            reason: format!(
                                "log generation {g} is newer than the manifest's {} and its successor",
                                manifest.log_generation
                            ),
                        });
                    }
                    true
                } else {
                    g != manifest.log_generation
                }
            } else {
                false
            };
            if garbage {
                vfs.remove(&path).map_err(io("remove", &path))?;
                report.removed_files.push(name);
            }
        }
        let names: HashSet<String> = vfs.list(&dir).map_err(io("list", &dir))?.into_iter().collect();
        let mut segments = Vec::with_capacity(manifest.segments.len());
        for e in &manifest.segments {
            if !names.contains(&e.file) {
                return Err(StoreError::Corrupt {
                    path: dir.join(MANIFEST),
                    offset: 0,
                    reason: format!("segment {} is listed but missing", e.file),
                });
            }
            segments.push(Arc::new(Segment::from_entry(&dir, e)?));
        }

        let (log, contents) = recover_log(vfs.as_ref(), &dir, &log_name, names.contains(&log_name), &mut report)?;
        let next_name = log_file_name(manifest.log_generation + 1);
        let next = if names.contains(&next_name) {
            Some(recover_log(vfs.as_ref(), &dir, &next_name, true, &mut report)?)
        } else {
            None
        };
        vfs.sync_dir(&dir).map_err(io("fsync directory", &dir))?;

        let rows_of = |c: &crate::log::LogContents| c.appends.iter().map(|(_, b)| b.num_rows() as u64).sum::<u64>();
        report.log_appends = contents.appends.len();
        report.log_rows = rows_of(&contents);
        let (frozen, log, log_len, log_rows, tail) = match next {
            None => (None, log, contents.valid_len, report.log_rows, contents.appends),
            Some((next_log, next_contents)) => {
                report.log_appends += next_contents.appends.len();
                let next_rows = rows_of(&next_contents);
                report.log_rows += next_rows;
                let frozen = Frozen {
                    generation: manifest.log_generation,
                    appends: contents.appends.len(),
                    bytes: contents.valid_len,
                };
                // The frozen generation's appends first, as during the roll.
                let mut tail = contents.appends;
                tail.extend(next_contents.appends);
                (Some(frozen), next_log, next_contents.valid_len, next_rows, tail)
            }
        };
        let mut snap = Snapshot { segments, tail };
        sort_segments(&mut snap.segments);
        let mut store = Store {
            vfs,
            dir,
            opts,
            _lock: Some(lock),
            manifest,
            log: Some(log),
            log_len,
            log_rows,
            frozen,
            shared: Arc::new(RwLock::new(snap)),
            graveyard: Vec::new(),
            poisoned: None,
            recovery: report,
        };
        if store.frozen.is_some() {
            // A roll was under way: finish it now, so that at most one roll
            // is ever pending (its segments were removed above, if any).
            let job = store.frozen_job();
            let done = job.write()?;
            let r = store.finish_roll(done)?;
            store.recovery.completed_roll_rows = r.rows;
        }
        Ok(store)
    }

    fn open_reader(vfs: Arc<dyn Vfs>, dir: PathBuf, opts: StoreOptions) -> Result<Store> {
        let (manifest, snap, log_len) = read_snapshot(vfs.as_ref(), &dir)?;
        let log_rows = snap.tail.iter().map(|(_, b)| b.num_rows() as u64).sum();
        Ok(Store {
            vfs,
            dir,
            opts,
            _lock: None,
            manifest,
            log: None,
            log_len,
            log_rows,
            frozen: None,
            shared: Arc::new(RwLock::new(snap)),
            graveyard: Vec::new(),
            poisoned: None,
            recovery: RecoveryReport::default(),
        })
    }

    /// Re-reads the store from disk (for read-only stores, to see what the
    /// writer appended since).
    pub fn refresh(&mut self) -> Result<()> {
        if !self.opts.read_only {
            return Ok(());
        }
        let (manifest, snap, log_len) = read_snapshot(self.vfs.as_ref(), &self.dir)?;
        self.log_rows = snap.tail.iter().map(|(_, b)| b.num_rows() as u64).sum();
        self.manifest = manifest;
        self.log_len = log_len;
        *self.shared.write().unwrap_or_else(|e| e.into_inner()) = snap;
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn vfs(&self) -> &Arc<dyn Vfs> {
        &self.vfs
    }

    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The current consistent view (cheap: segment handles and batch references).
    pub fn snapshot(&self) -> Snapshot {
        self.shared.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    #[cfg(feature = "datafusion")]
    pub(crate) fn shared(&self) -> Arc<RwLock<Snapshot>> {
        self.shared.clone()
    }

    /// Bytes on disk: segments plus the live log (both generations while a
    /// roll is under way).
    pub fn disk_bytes(&self) -> u64 {
        self.manifest.segments.iter().map(|s| s.bytes).sum::<u64>() + self.log_len + self.frozen_bytes()
    }

    /// Rows and bytes in the generation taking appends (not yet rolled;
    /// while a roll is under way, not counting the generation it rolls).
    pub fn log_size(&self) -> (u64, u64) {
        (self.log_rows, self.log_len)
    }

    pub(crate) fn frozen_bytes(&self) -> u64 {
        self.frozen.as_ref().map_or(0, |f| f.bytes)
    }

    /// The live log has reached [`StoreOptions::roll_rows`] or
    /// [`StoreOptions::roll_bytes`] and no roll is under way.
    pub fn roll_due(&self) -> bool {
        self.frozen.is_none() && (self.log_rows >= self.opts.roll_rows || self.log_len >= self.opts.roll_bytes)
    }

    /// A roll is under way ([`Store::begin_roll`] without its
    /// [`Store::finish_roll`] yet).
    pub fn rolling(&self) -> bool {
        self.frozen.is_some()
    }

    /// The generation appends go to.
    fn live_generation(&self) -> u64 {
        self.manifest.log_generation + u64::from(self.frozen.is_some())
    }

    /// Every row of `table`, read through the file-system layer (segments in
    /// time order, then the log). For tests and exports; queries use
    /// [`Store::register`].
    pub fn read_table(&self, table: Table) -> Result<Vec<RecordBatch>> {
        let snap = self.snapshot();
        let mut out = Vec::new();
        for s in snap.segments_of(table) {
            out.extend(s.read(self.vfs.as_ref())?);
        }
        out.extend(snap.tail_of(table));
        Ok(out)
    }

    pub(crate) fn writable(&self) -> Result<()> {
        if self.opts.read_only {
            return Err(StoreError::ReadOnly);
        }
        if let Some(why) = &self.poisoned {
            return Err(StoreError::Poisoned(why.clone()));
        }
        Ok(())
    }

    pub(crate) fn poison<T>(&mut self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            self.poisoned = Some(e.to_string());
        }
        r
    }

    /// Appends rows of one table as one atomic, durable append: when this
    /// returns `Ok`, the rows survive any crash, exactly once. On `Err`, a
    /// row error means nothing was written; an I/O error means the append
    /// may or may not be stored, and the store must be reopened.
    pub fn append(&mut self, table: Table, rows: &[Record]) -> Result<AppendAck> {
        self.writable()?;
        if !table.is_stored() {
            return Err(StoreError::NotStored(table.name()));
        }
        let batch = records_to_batch(table, rows)?;
        self.append_batch(table, batch)
    }

    /// [`Store::append`] for rows already in Arrow form (exactly the
    /// table's schema, see [`Table::arrow_schema`]).
    pub fn append_batch(&mut self, table: Table, batch: RecordBatch) -> Result<AppendAck> {
        self.writable()?;
        let append = EncodedAppend::new(table, batch)?;
        if append.rows() == 0 {
            return Ok(AppendAck {
                table,
                rows: 0,
                generation: self.live_generation(),
                offset: self.log_len,
                frame_bytes: 0,
            });
        }
        let mut acks = self.append_encoded(vec![append])?;
        Ok(acks.pop().expect("one ack per append"))
    }

    /// Appends several encoded appends with one fsync (a group commit):
    /// each is its own frame, so each is atomic; when this returns `Ok`
    /// all of them survive any crash, exactly once. On `Err` each may or
    /// may not be stored, and the store must be reopened. Appends without
    /// rows are acknowledged and not written.
    pub fn append_encoded(&mut self, appends: Vec<EncodedAppend>) -> Result<Vec<AppendAck>> {
        self.writable()?;
        if self.opts.roll_in_append && self.roll_due() && appends.iter().any(|a| a.rows() > 0) {
            self.roll()?;
        }
        let generation = self.live_generation();
        let path = self.dir.join(log_file_name(generation));
        let r = match self.log.as_mut() {
            Some(log) => appends
                .iter()
                .filter(|a| a.rows() > 0)
                .try_for_each(|a| log.write_all(&a.frame).map_err(io("write", &path)))
                .and_then(|()| log.sync().map_err(io("fsync", &path))),
            None => Err(StoreError::ReadOnly),
        };
        self.poison(r)?;
        let mut acks = Vec::with_capacity(appends.len());
        let mut shared = self.shared.write().unwrap_or_else(|e| e.into_inner());
        for a in appends {
            let (rows, frame_bytes) = (a.rows(), if a.rows() == 0 { 0 } else { a.frame_bytes() });
            acks.push(AppendAck { table: a.table, rows, generation, offset: self.log_len, frame_bytes });
            if rows > 0 {
                self.log_len += frame_bytes;
                self.log_rows += rows as u64;
                shared.tail.push((a.table, a.batch));
            }
        }
        Ok(acks)
    }

    /// Rolls the live log into Parquet segments (one per table with rows)
    /// and starts the next log generation: [`Store::begin_roll`],
    /// [`crate::RollJob::write`] and [`Store::finish_roll`] in a row. A
    /// no-op when the log is empty.
    pub fn roll(&mut self) -> Result<RollReport> {
        let Some(job) = self.begin_roll()? else { return Ok(RollReport::default()) };
        let done = match job.write() {
            Ok(d) => d,
            Err(e) => {
                self.abort_roll(&e);
                return Err(e);
            }
        };
        self.finish_roll(done)
    }

    /// Drops whole segments whose newest row is older than `now - max_age`,
    /// then the oldest segments while segments plus log exceed `max_bytes`.
    /// The live log is never dropped (roll first to make it eligible).
    pub fn enforce_retention(
        &mut self,
        now: Timestamp,
        max_age: Option<Duration>,
        max_bytes: Option<u64>,
    ) -> Result<RetentionReport> {
        self.writable()?;
        let snap = self.snapshot();
        let mut keep: Vec<Arc<Segment>> = snap.segments.clone();
        let mut dropped: Vec<Arc<Segment>> = Vec::new();
        if let Some(age) = max_age {
            let cutoff = now.0.saturating_sub(i64::try_from(age.as_nanos()).unwrap_or(i64::MAX));
            let (old, young): (Vec<_>, Vec<_>) = keep.into_iter().partition(|s| s.max_ts.is_some_and(|t| t.0 < cutoff));
            dropped.extend(old);
            keep = young;
        }
        if let Some(max) = max_bytes {
            keep.sort_by_key(|s| (s.max_ts.map_or(i64::MIN, |t| t.0), s.id));
            let mut total: u64 = keep.iter().map(|s| s.bytes).sum::<u64>() + self.log_len + self.frozen_bytes();
            let mut n = 0;
            while total > max && n < keep.len() {
                total -= keep[n].bytes;
                n += 1;
            }
            dropped.extend(keep.drain(..n));
        }
        if dropped.is_empty() {
            return Ok(RetentionReport::default());
        }
        let gone: HashSet<u64> = dropped.iter().map(|s| s.id).collect();
        let mut next = self.manifest.clone();
        next.segments.retain(|e| !gone.contains(&e.id));
        let r = next.commit(self.vfs.as_ref(), &self.dir);
        self.poison(r)?;
        self.manifest = next;
        self.shared.write().unwrap_or_else(|e| e.into_inner()).segments.retain(|s| !gone.contains(&s.id));
        let report = RetentionReport {
            rows: dropped.iter().map(|s| s.rows).sum(),
            bytes: dropped.iter().map(|s| s.bytes).sum(),
            dropped: dropped.iter().map(|s| s.as_ref().clone()).collect(),
        };
        self.graveyard.extend(dropped);
        self.collect_garbage();
        Ok(report)
    }

    /// Deletes the files of dropped segments that no snapshot holds any more.
    /// Files it cannot delete now are removed by the next open.
    pub fn collect_garbage(&mut self) {
        let vfs = self.vfs.clone();
        self.graveyard.retain(|s| {
            if Arc::strong_count(s) > 1 {
                return true;
            }
            let _ = vfs.remove(&s.path);
            false
        });
    }
}

/// Opens one live log generation for recovery: its valid frames, the file
/// cut after them (a torn tail was never acknowledged) and fsynced, so that
/// what it holds now is what later opens find.
fn recover_log(
    vfs: &dyn Vfs,
    dir: &Path,
    name: &str,
    exists: bool,
    report: &mut RecoveryReport,
) -> Result<(Box<dyn VfsFile>, crate::log::LogContents)> {
    let path = dir.join(name);
    let (mut f, contents) = if exists {
        let bytes = vfs.read(&path).map_err(io("read", &path))?;
        let contents = decode_log(&path, &bytes)?;
        let mut f = vfs.open_append(&path).map_err(io("open", &path))?;
        if contents.torn.is_some() {
            report.torn_bytes_cut += bytes.len() as u64 - contents.valid_len;
            report.torn_reason = contents.torn.clone();
            f.truncate(contents.valid_len).map_err(io("truncate", &path))?;
        }
        (f, contents)
    } else {
        (vfs.create(&path).map_err(io("create", &path))?, Default::default())
    };
    f.sync().map_err(io("fsync", &path))?;
    Ok((f, contents))
}

pub(crate) fn sort_segments(segments: &mut [Arc<Segment>]) {
    segments.sort_by_key(|s| (s.min_ts.map_or(i64::MIN, |t| t.0), s.id));
}

/// A reader's view: the manifest, its segments and the live log's valid
/// frames (and those of the next generation, which takes the appends while
/// a roll is under way). A roll may delete the log between reading the
/// manifest and the log; then the manifest is read again.
fn read_snapshot(vfs: &dyn Vfs, dir: &Path) -> Result<(Manifest, Snapshot, u64)> {
    let mut attempts = 0;
    loop {
        let manifest = Manifest::load(vfs, dir)?;
        let log_path = dir.join(log_file_name(manifest.log_generation));
        let bytes = match vfs.read(&log_path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 10 => {
                attempts += 1;
                let again = Manifest::load(vfs, dir)?;
                if again.log_generation == manifest.log_generation {
                    // No roll raced us: the log was simply never created.
                    Vec::new()
                } else {
                    continue;
                }
            }
            Err(e) => return Err(StoreError::io("read", &log_path, e)),
        };
        let mut contents = decode_log(&log_path, &bytes)?;
        // Absent unless a roll is under way (or done since: then its rows
        // are newer than this manifest, and this view is as of before).
        let next_path = dir.join(log_file_name(manifest.log_generation + 1));
        match vfs.read(&next_path) {
            Ok(b) => {
                let next = decode_log(&next_path, &b)?;
                contents.appends.extend(next.appends);
                contents.valid_len += next.valid_len;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io("read", &next_path, e)),
        }
        let mut segments =
            manifest.segments.iter().map(|e| Segment::from_entry(dir, e).map(Arc::new)).collect::<Result<Vec<_>>>()?;
        sort_segments(&mut segments);
        return Ok((manifest, Snapshot { segments, tail: contents.appends }, contents.valid_len));
    }
}
