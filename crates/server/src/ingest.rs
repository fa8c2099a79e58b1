//! The server's side of an upload: decode the Arrow IPC body, check every
//! row against the token's DeviceId, drop the rows already held, append the
//! rest to the server's store (fsynced before the reply), and keep the
//! per-device index of held ReportIds. The store's segments live in the
//! configured object store ([`crate::segments`]); its append log, the
//! acknowledgement's durability point, on the local disk.
//!
//! The index is rebuilt from the store when the server starts, so it is
//! exactly what is stored: a row appended before a crash but never
//! acknowledged is found there when the device sends it again. Rows are
//! keyed by (table, DeviceId, ReportId): a device's ReportIds come from one
//! counter, so within a table they name one event each.

use crate::idset::IdSet;
use crate::segments::{SegmentStore, SegmentStoreConfig, SegmentVfs};
use arrow::array::{Array, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::filter_record_batch;
use netward_events::Table;
use netward_store::{Store, StoreOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
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

/// Rows per store append: one log frame each, well under the frame limit.
const APPEND_ROWS: usize = 16_384;

/// The server's store and its index.
pub struct Ingest {
    dir: PathBuf,
    vfs: Arc<SegmentVfs>,
    store: Option<Store>,
    index: HashMap<(Table, String), IdSet>,
}

impl Ingest {
    /// Opens (recovering) the server's store in `dir`, its segments in the
    /// configured object store, and indexes it.
    pub fn open(dir: &Path, segments: &SegmentStoreConfig) -> Result<Ingest, String> {
        let segments = SegmentStore::open(segments, dir)?;
        let vfs = Arc::new(SegmentVfs::new(segments).map_err(|e| format!("object store runtime: {e}"))?);
        let mut i = Ingest { dir: dir.to_path_buf(), vfs, store: None, index: HashMap::new() };
        i.reopen().map_err(|e| e.to_string())?;
        Ok(i)
    }

    fn reopen(&mut self) -> Result<&mut Store, IngestError> {
        if self.store.is_none() {
            // The old writer (poisoned) must let go of the lock first.
            let store = Store::open_with(self.vfs.clone(), &self.dir, StoreOptions::default())
                .map_err(|e| IngestError::Store(format!("{}: {e}", self.dir.display())))?;
            self.index = build_index(&store)?;
            self.store = Some(store);
        }
        Ok(self.store.as_mut().expect("opened above"))
    }

    /// The store, for queries (`register_snapshot`).
    pub fn store(&mut self) -> Result<&Store, IngestError> {
        Ok(self.reopen()?)
    }

    /// The object store the segments are in (a query's session registers it).
    pub fn segment_store(&self) -> &SegmentStore {
        self.vfs.segments()
    }

    /// Rolls the append log into segments now (a server rolls when its log
    /// is full; tests and tools that want the segments in the store now).
    pub fn roll(&mut self) -> Result<u64, IngestError> {
        let store = self.reopen()?;
        match store.roll() {
            Ok(r) => Ok(r.rows),
            Err(e) => {
                self.store = None;
                Err(IngestError::Store(e.to_string()))
            }
        }
    }

    /// Rows held per DeviceId, all tables.
    pub fn rows_per_device(&self) -> HashMap<String, u64> {
        let mut m = HashMap::new();
        for ((_, dev), ids) in &self.index {
            *m.entry(dev.clone()).or_insert(0) += ids.len();
        }
        m
    }

    /// Stores the rows of `batches` (checked by [`check_rows`]) that are not
    /// held yet. Returns (stored, duplicates).
    pub fn accept(&mut self, table: Table, device: &str, batches: Vec<RecordBatch>) -> Result<(u64, u64), IngestError> {
        let mut stored = 0u64;
        let mut dups = 0u64;
        for batch in batches {
            let ids = report_ids(&batch)?;
            let held = self.index.entry((table, device.to_string())).or_default();
            // Also drops a ReportId repeated inside the request.
            let mut fresh = IdSet::default();
            let keep: BooleanArray =
                (0..ids.len()).map(|i| Some(!held.contains(ids.value(i)) && fresh.insert(ids.value(i)))).collect();
            let kept = filter_record_batch(&batch, &keep).map_err(|e| IngestError::BadBody(e.to_string()))?;
            dups += (batch.num_rows() - kept.num_rows()) as u64;
            let store = self.reopen()?;
            let mut off = 0;
            while off < kept.num_rows() {
                let n = APPEND_ROWS.min(kept.num_rows() - off);
                if let Err(e) = store.append_batch(table, kept.slice(off, n)) {
                    // Poisoned: reopen (and re-index) on the next request;
                    // whatever of this one reached the disk is then found.
                    self.store = None;
                    return Err(IngestError::Store(e.to_string()));
                }
                off += n;
            }
            let held = self.index.entry((table, device.to_string())).or_default();
            for i in 0..ids.len() {
                if keep.value(i) {
                    held.insert(ids.value(i));
                }
            }
            stored += kept.num_rows() as u64;
        }
        Ok((stored, dups))
    }
}

/// Decodes an upload body: an Arrow IPC stream of exactly `table`'s columns.
pub fn decode(table: Table, body: &[u8]) -> Result<Vec<RecordBatch>, IngestError> {
    let bad = |m: String| IngestError::BadBody(m);
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(body), None)
        .map_err(|e| bad(format!("the body is not an Arrow IPC stream: {e}")))?;
    let want = Arc::new(table.arrow_schema());
    let got = reader.schema();
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
    let mut out = Vec::new();
    for b in reader {
        let b = b.map_err(|e| bad(format!("batch {}: {e}", out.len())))?;
        // The server's own schema (its metadata), the same columns.
        out.push(RecordBatch::try_new(want.clone(), b.columns().to_vec()).map_err(|e| bad(e.to_string()))?);
    }
    Ok(out)
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
fn build_index(store: &Store) -> Result<HashMap<(Table, String), IdSet>, IngestError> {
    let err = |e: String| IngestError::Store(format!("indexing {}: {e}", store.dir().display()));
    let snap = store.snapshot();
    let mut index: HashMap<(Table, String), IdSet> = HashMap::new();
    let mut add = |table: Table, b: &RecordBatch| -> Result<(), IngestError> {
        let dev = column::<StringArray>(b, "DeviceId")?;
        let ids = report_ids(b)?;
        for i in 0..b.num_rows() {
            if dev.is_null(i) || ids.is_null(i) {
                continue;
            }
            index.entry((table, dev.value(i).to_string())).or_default().insert(ids.value(i));
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
