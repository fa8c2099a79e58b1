//! The server's side of an upload: decode the Arrow IPC body, check every
//! row against the token's DeviceId, drop the rows already held, append the
//! rest to the server's store (fsynced before the reply), and keep the
//! per-device index of held ReportIds. The store's segments live in the
//! configured object store ([`crate::segments`]); its append log, the
//! acknowledgement's durability point, on the local disk.
//!
//! Where an upload's time goes, and what runs where: decoding (no copy of
//! the body), checking and encoding the log frame run on the request's own
//! thread, outside any lock; only the dedup against the index and the
//! queueing are serialised; concurrent uploads then share one log write
//! and one fsync (`commit`); and the log is rolled into Parquet
//! segments by a thread of its own while uploads go on (`roller`),
//! with a bound on how far the live log may grow meanwhile.
//!
//! The index is rebuilt from the store when the server starts (and when
//! the store is reopened after a failure), so it is exactly what is
//! stored: a row appended before a crash but never acknowledged is found
//! there when the device sends it again. Rows are keyed by (table,
//! DeviceId, ReportId): a device's ReportIds come from one counter, so
//! within a table they name one event each.

use crate::commit::Shared;
use crate::idset::IdSet;
use crate::segments::{SegmentStore, SegmentStoreConfig, SegmentVfs};
use arrow::array::{Array, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::buffer::Buffer;
use arrow::compute::filter_record_batch;
use netward_events::Table;
use netward_store::{EncodedAppend, Store, StoreOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Why an upload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// The body is not a valid batch of the table (HTTP 400).
    #[error("{0}")]
    BadBody(String),
    /// A row of another device (HTTP 403).
    #[error("row {row} carries DeviceId `{found}`, but this token is bound to DeviceId `{expected}`")]
    WrongDevice { row: usize, found: String, expected: String },
    /// The store failed (HTTP 503: the device keeps its rows and retries).
    #[error("server store: {0}")]
    Store(String),
}

/// (table, DeviceId) -> the ReportIds held.
pub(crate) type Index = HashMap<(Table, String), IdSet>;

/// Rows per store append: one log frame each, well under the frame limit.
const APPEND_ROWS: usize = 16_384;

/// When the server's log is rolled, and how far it may grow meanwhile.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// A roll starts once the live log holds this many rows or bytes.
    pub roll_rows: u64,
    pub roll_bytes: u64,
    /// While a roll is under way, appends wait once the new live log holds
    /// this many bytes (the bound on the log, and on the rows it holds in
    /// memory, when the roll thread falls behind).
    pub live_log_limit: u64,
}

impl Default for IngestOptions {
    fn default() -> Self {
        let store = StoreOptions::default();
        // Four rolls' worth: the roll thread may lag a burst of uploads by
        // that much (~600,000 rows) before the uploads wait for it.
        IngestOptions { roll_rows: store.roll_rows, roll_bytes: store.roll_bytes, live_log_limit: 4 * store.roll_bytes }
    }
}

/// The server's store and its index. Shared by every request (`&self`).
pub struct Ingest {
    shared: Arc<Shared>,
    roller: Option<crate::roller::Roller>,
}

impl Ingest {
    /// Opens (recovering) the server's store in `dir`, its segments in the
    /// configured object store, and indexes it.
    pub fn open(dir: &Path, segments: &SegmentStoreConfig) -> Result<Ingest, String> {
        Ingest::open_with(dir, segments, IngestOptions::default())
    }

    pub fn open_with(dir: &Path, segments: &SegmentStoreConfig, opts: IngestOptions) -> Result<Ingest, String> {
        let segments = SegmentStore::open(segments, dir)?;
        let vfs = Arc::new(SegmentVfs::new(segments).map_err(|e| format!("object store runtime: {e}"))?);
        let store_opts = StoreOptions {
            roll_rows: opts.roll_rows,
            roll_bytes: opts.roll_bytes,
            roll_in_append: false,
            ..StoreOptions::default()
        };
        let (store, index) = open_store(&vfs, dir, &store_opts).map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared::new(dir, vfs, store_opts, opts, store, index));
        let roller = crate::roller::Roller::start(shared.clone()).map_err(|e| format!("roll thread: {e}"))?;
        // A recovered log may be due already.
        roller.wake();
        Ok(Ingest { shared, roller: Some(roller) })
    }

    #[cfg(test)]
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Log writes (one fsync each) since the store was opened: fewer than
    /// the uploads when they commit together.
    pub fn commits(&self) -> u64 {
        self.shared.lock().commits
    }

    /// Runs `f` on the store (a query's `register_snapshot`).
    pub fn with_store<T>(&self, f: impl FnOnce(&Store) -> T) -> Result<T, IngestError> {
        self.shared.with_store(f)
    }

    /// The object store the segments are in (a query's session registers it).
    pub fn segment_store(&self) -> &SegmentStore {
        self.shared.vfs.segments()
    }

    /// Rolls the append log into segments now, waiting for a roll under way
    /// first (tests and tools that want the segments in the store now).
    pub fn roll(&self) -> Result<u64, IngestError> {
        self.shared.roll_once(true)
    }

    /// Rows held per DeviceId, all tables.
    pub fn rows_per_device(&self) -> HashMap<String, u64> {
        let st = self.shared.lock();
        let mut m = HashMap::new();
        for ((_, dev), ids) in &st.index {
            *m.entry(dev.clone()).or_insert(0) += ids.len();
        }
        m
    }

    /// Stores the rows of `batches` (checked by [`check_rows`]) that are not
    /// held yet; returns when they are durable. Returns (stored, duplicates).
    pub fn accept(&self, table: Table, device: &str, batches: Vec<RecordBatch>) -> Result<(u64, u64), IngestError> {
        // Outside any lock: each append's frame, as if every row were new
        // (the usual case; a retry's rows are re-encoded below).
        let mut chunks = Vec::new();
        for b in batches {
            let mut off = 0;
            while off < b.num_rows() {
                let n = APPEND_ROWS.min(b.num_rows() - off);
                let chunk = b.slice(off, n);
                let ids = report_ids(&chunk)?;
                if ids.null_count() > 0 {
                    return Err(IngestError::BadBody("a row has no ReportId (it could not be deduplicated)".into()));
                }
                let ids = ids.values().to_vec();
                let encoded = encode(table, chunk.clone())?;
                chunks.push((chunk, ids, encoded));
                off += n;
            }
        }
        let mut st = self.shared.ready()?;
        let (mut stored, mut dups) = (0u64, 0u64);
        let mut appends = Vec::with_capacity(chunks.len());
        let held = st.index.entry((table, device.to_string())).or_default();
        for (chunk, ids, encoded) in chunks {
            // Reserved now: a concurrent retry of these rows sees them held
            // and waits for this commit before it acknowledges them.
            match held.insert_new(&ids) {
                None => {
                    stored += ids.len() as u64;
                    appends.push(encoded);
                }
                Some(added) if !added.contains(&true) => dups += ids.len() as u64,
                Some(added) => {
                    let kept = filter_record_batch(&chunk, &BooleanArray::from(added));
                    let kept =
                        match kept.map_err(|e| e.to_string()).and_then(|k| encode(table, k).map_err(|e| e.to_string()))
                        {
                            Ok(k) => k,
                            Err(e) => {
                                // Ids are reserved that will not be written:
                                // re-index from the store before the next upload.
                                st.must_reopen(format!("re-encoding a batch: {e}"));
                                return Err(IngestError::Store(e));
                            }
                        };
                    stored += kept.rows() as u64;
                    dups += (chunk.num_rows() - kept.rows()) as u64;
                    if kept.rows() > 0 {
                        appends.push(kept);
                    }
                }
            }
        }
        let ticket = st.enqueue(appends);
        self.shared.commit(st, ticket, self.roller.as_ref())?;
        Ok((stored, dups))
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        // Lets a roll under way finish, then stops the thread.
        if let Some(r) = self.roller.take() {
            r.stop();
        }
    }
}

fn encode(table: Table, batch: RecordBatch) -> Result<EncodedAppend, IngestError> {
    EncodedAppend::new(table, batch).map_err(|e| IngestError::BadBody(e.to_string()))
}

/// Opens the store and indexes it.
pub(crate) fn open_store(
    vfs: &Arc<SegmentVfs>,
    dir: &Path,
    opts: &StoreOptions,
) -> Result<(Store, Index), IngestError> {
    let store = Store::open_with(vfs.clone(), dir, opts.clone())
        .map_err(|e| IngestError::Store(format!("{}: {e}", dir.display())))?;
    let index = build_index(&store)?;
    Ok((store, index))
}

/// Decodes an upload body: an Arrow IPC stream of exactly `table`'s columns.
/// The batches are views of the body's bytes, not copies.
pub fn decode(table: Table, body: &bytes::Bytes) -> Result<Vec<RecordBatch>, IngestError> {
    let bad = |m: String| IngestError::BadBody(m);
    let mut buf = Buffer::from(body.clone());
    let mut decoder = arrow::ipc::reader::StreamDecoder::new();
    let mut batches = Vec::new();
    // A malformed message that makes Arrow panic is a bad body, not a crash.
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        while !buf.is_empty() {
            if let Some(b) = decoder.decode(&mut buf)? {
                batches.push(b);
            }
        }
        decoder.finish()
    }));
    match decoded {
        Ok(Ok(())) => {}
        Ok(Err(e)) if decoder.schema().is_none() => {
            return Err(bad(format!("the body is not an Arrow IPC stream: {e}")))
        }
        Ok(Err(e)) => return Err(bad(format!("batch {}: {e}", batches.len()))),
        Err(_) => return Err(bad("the body is not a valid Arrow IPC stream (the decoder panicked)".into())),
    }
    let Some(got) = decoder.schema() else {
        return Err(bad("the body is not an Arrow IPC stream: it is empty".into()));
    };
    let want = Arc::new(table.arrow_schema());
    if got.fields().len() != want.fields().len() {
        return Err(bad(format!(
            "{} has {} columns, the upload {} (is the device's netward of another version?)",
            table.name(),
            want.fields().len(),
            got.fields().len()
        )));
    }
    for (i, (w, g)) in want.fields().iter().zip(got.fields()).enumerate() {
        if w.name() != g.name() || w.data_type() != g.data_type() {
            return Err(bad(format!(
                "column {i}: expected {} {}, got {} {}",
                w.name(),
                w.data_type(),
                g.name(),
                g.data_type()
            )));
        }
    }
    batches
        .into_iter()
        // The server's own schema (its metadata), the same columns.
        .map(|b| RecordBatch::try_new(want.clone(), b.columns().to_vec()).map_err(|e| bad(e.to_string())))
        .collect()
}

/// Every row must carry the token's DeviceId and a ReportId.
pub fn check_rows(batches: &[RecordBatch], device: &str) -> Result<(), IngestError> {
    let mut row = 0usize;
    for b in batches {
        let dev = column::<StringArray>(b, "DeviceId")?;
        let ids = report_ids(b)?;
        for i in 0..b.num_rows() {
            if dev.is_null(i) || dev.value(i) != device {
                let found = if dev.is_null(i) { String::new() } else { dev.value(i).to_string() };
                return Err(IngestError::WrongDevice { row: row + i, found, expected: device.to_string() });
            }
            if ids.is_null(i) {
                return Err(IngestError::BadBody(format!(
                    "row {} has no ReportId (it could not be deduplicated)",
                    row + i
                )));
            }
        }
        row += b.num_rows();
    }
    Ok(())
}

fn report_ids(b: &RecordBatch) -> Result<&Int64Array, IngestError> {
    column::<Int64Array>(b, "ReportId")
}

fn column<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> Result<&'a T, IngestError> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| IngestError::BadBody(format!("no {name} column of the right type")))
}

/// (table, DeviceId) -> ReportIds held, from the segments (two columns
/// read) and the live log.
fn build_index(store: &Store) -> Result<Index, IngestError> {
    let err = |e: String| IngestError::Store(format!("indexing {}: {e}", store.dir().display()));
    let snap = store.snapshot();
    let mut index: HashMap<(Table, String), IdSet> = HashMap::new();
    let mut add = |table: Table, b: &RecordBatch| -> Result<(), IngestError> {
        let dev = column::<StringArray>(b, "DeviceId")?;
        let ids = report_ids(b)?;
        // Runs of one device's rows, added a run of ids at a time.
        let mut run: Vec<i64> = Vec::new();
        let mut run_dev: Option<&str> = None;
        for i in 0..b.num_rows() {
            if dev.is_null(i) || ids.is_null(i) {
                continue;
            }
            if run_dev != Some(dev.value(i)) {
                if let Some(d) = run_dev {
                    index.entry((table, d.to_string())).or_default().insert_all(&run);
                }
                run.clear();
                run_dev = Some(dev.value(i));
            }
            run.push(ids.value(i));
        }
        if let Some(d) = run_dev {
            index.entry((table, d.to_string())).or_default().insert_all(&run);
        }
        Ok(())
    };
    for seg in &snap.segments {
        let bytes = store.vfs().read(&seg.path).map_err(|e| err(format!("{}: {e}", seg.path.display())))?;
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).map_err(|e| err(e.to_string()))?;
        let mask = ProjectionMask::columns(builder.parquet_schema(), ["DeviceId", "ReportId"]);
        for b in builder.with_projection(mask).build().map_err(|e| err(e.to_string()))? {
            add(seg.table, &b.map_err(|e| err(e.to_string()))?)?;
        }
    }
    for (table, b) in &snap.tail {
        add(*table, b)?;
    }
    Ok(index)
}
