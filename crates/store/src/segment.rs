//! Parquet segments: the rolled, columnar, time-sorted part of the store.
//!
//! A roll writes one segment per table: the log's rows of that table sorted
//! by `Timestamp`, in row groups of [`crate::StoreOptions::row_group_rows`]
//! with page statistics on `Timestamp`, zstd-compressed, the columns of each
//! row group encoded in parallel. Sorting makes each row group cover
//! a narrow time range, so a query's time filter skips most of them. The
//! file is written through the [`Vfs`] and fsynced; it becomes part of the
//! store only when a manifest naming it is committed.

use crate::manifest::SegmentEntry;
use crate::vfs::Vfs;
use crate::{Result, StoreError};
use arrow::array::{Array, TimestampNanosecondArray};
use arrow::compute::{concat_batches, interleave_record_batch, sort_to_indices, SortOptions};
use arrow::record_batch::RecordBatch;
use netward_events::{ColumnType, Table, Timestamp};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory,
};
use parquet::arrow::{add_encoded_arrow_schema_to_metadata, ArrowSchemaConverter};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A segment of the store: one Parquet file of one table.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub id: u64,
    pub table: Table,
    /// The file's path (real when the store is on the real file system).
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
    pub min_ts: Option<Timestamp>,
    pub max_ts: Option<Timestamp>,
}

impl Segment {
    pub(crate) fn from_entry(dir: &Path, e: &SegmentEntry) -> Result<Segment> {
        let table = e.table.parse::<Table>().map_err(|reason| StoreError::Corrupt {
            path: dir.join(crate::manifest::MANIFEST),
            offset: 0,
            reason: format!("segment {}: {reason}", e.id),
        })?;
        Ok(Segment {
            id: e.id,
            table,
            path: dir.join(&e.file),
            rows: e.rows,
            bytes: e.bytes,
            min_ts: e.min_ts.map(Timestamp),
            max_ts: e.max_ts.map(Timestamp),
        })
    }

    pub(crate) fn entry(&self) -> SegmentEntry {
        SegmentEntry {
            id: self.id,
            table: self.table.name().to_string(),
            file: segment_file_name(self.id, self.table),
            rows: self.rows,
            bytes: self.bytes,
            min_ts: self.min_ts.map(|t| t.0),
            max_ts: self.max_ts.map(|t| t.0),
        }
    }

    /// Reads the whole segment through the file-system layer.
    pub fn read(&self, vfs: &dyn Vfs) -> Result<Vec<RecordBatch>> {
        let bytes = vfs.read(&self.path).map_err(|e| StoreError::io("read", &self.path, e))?;
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))?.with_batch_size(8192).build()?;
        Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
    }
}

pub(crate) fn segment_file_name(id: u64, table: Table) -> String {
    format!("seg-{id:020}-{table}.parquet")
}

pub(crate) fn parse_segment_file_name(name: &str) -> Option<u64> {
    let rest = name.strip_prefix("seg-")?.strip_suffix(".parquet")?;
    rest.split('-').next()?.parse().ok()
}

/// Columns whose values are (nearly) all distinct.
const UNIQUE_COLUMNS: &[&str] = &[
    "LocalPort",
    "InitiatingProcessId",
    "InitiatingProcessParentId",
    "InitiatingProcessCreationTime",
    "AdditionalFields",
];
/// Integer columns that increase (nearly) monotonically within a segment.
const DELTA_COLUMNS: &[&str] = &["Timestamp", "ReportId"];

/// The rows of all batches sorted by `Timestamp` (nulls first, stable), in
/// one batch. Only the time column is concatenated to find the order; the
/// rows are then gathered once from the input batches.
fn sorted_by_time(table: Table, batches: &[RecordBatch]) -> Result<RecordBatch> {
    let schema = Arc::new(table.arrow_schema());
    let batches: Vec<&RecordBatch> = batches.iter().filter(|b| b.num_rows() > 0).collect();
    let Some(ts_idx) = table.column_index("Timestamp") else {
        return Ok(concat_batches(&schema, batches)?);
    };
    if batches.is_empty() {
        return Ok(RecordBatch::new_empty(schema));
    }
    let times: Vec<&dyn Array> = batches.iter().map(|b| b.column(ts_idx).as_ref()).collect();
    let times = arrow::compute::concat(&times)?;
    let order = sort_to_indices(&times, Some(SortOptions { descending: false, nulls_first: true }), None)?;
    if order.values().windows(2).all(|w| w[0] < w[1]) {
        // Already in time order (agents deliver events nearly in order).
        return Ok(concat_batches(&schema, batches)?);
    }
    // Global row number -> (batch, row).
    let mut starts = Vec::with_capacity(batches.len());
    let mut n = 0usize;
    for b in &batches {
        starts.push(n);
        n += b.num_rows();
    }
    let pairs: Vec<(usize, usize)> = order
        .values()
        .iter()
        .map(|&g| {
            let g = g as usize;
            let b = starts.partition_point(|&s| s <= g) - 1;
            (b, g - starts[b])
        })
        .collect();
    Ok(interleave_record_batch(&batches, &pairs)?)
}

fn time_range(batch: &RecordBatch) -> (Option<Timestamp>, Option<Timestamp>) {
    let Some(ts) =
        batch.column_by_name("Timestamp").and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>().cloned())
    else {
        return (None, None);
    };
    (arrow::compute::min(&ts).map(Timestamp), arrow::compute::max(&ts).map(Timestamp))
}

/// Encodes a batch as Parquet, the columns of each row group in parallel
/// (a roll is CPU-bound: encoding and compressing 26 columns).
fn encode_parquet(batch: &RecordBatch, mut props: WriterProperties, row_group_rows: usize) -> Result<Vec<u8>> {
    let schema = batch.schema();
    // Readers get the exact Arrow schema back (time zone, kql_type metadata).
    add_encoded_arrow_schema_to_metadata(&schema, &mut props);
    let props = Arc::new(props);
    let parquet_schema = ArrowSchemaConverter::new().with_coerce_types(props.coerce_types()).convert(&schema)?;
    let mut out = Vec::new();
    let mut writer = SerializedFileWriter::new(&mut out, parquet_schema.root_schema_ptr(), props.clone())?;
    let factory = ArrowRowGroupWriterFactory::new(&writer, schema.clone());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let mut offset = 0;
    let mut row_group = 0;
    while offset < batch.num_rows() {
        let len = row_group_rows.min(batch.num_rows() - offset);
        let slice = batch.slice(offset, len);
        let writers = factory.create_column_writers(row_group)?;
        let mut leaves = Vec::with_capacity(writers.len());
        for (field, array) in schema.fields().iter().zip(slice.columns()) {
            leaves.extend(compute_leaves(field, array)?);
        }
        if leaves.len() != writers.len() {
            return Err(
                ParquetError::General(format!("{} leaves for {} column writers", leaves.len(), writers.len())).into()
            );
        }
        let jobs: Vec<Mutex<Option<(ArrowColumnWriter, ArrowLeafColumn)>>> =
            writers.into_iter().zip(leaves).map(|j| Mutex::new(Some(j))).collect();
        let next = AtomicUsize::new(0);
        let encode = || -> Vec<(usize, parquet::errors::Result<ArrowColumnChunk>)> {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { return done };
                let taken = job.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some((mut w, leaf)) = taken {
                    done.push((i, w.write(&leaf).and_then(|()| w.close())));
                }
            }
        };
        let mut chunks: Vec<(usize, parquet::errors::Result<ArrowColumnChunk>)> = std::thread::scope(|s| {
            let helpers: Vec<_> = (1..threads).map(|_| s.spawn(encode)).collect();
            let mut all = encode();
            for h in helpers {
                // An encoder thread can only panic on a bug in parquet; its
                // columns are then missing and reported below.
                all.extend(h.join().unwrap_or_default());
            }
            all
        });
        chunks.sort_by_key(|(i, _)| *i);
        if chunks.len() != jobs.len() {
            return Err(ParquetError::General("a column encoder failed".into()).into());
        }
        let mut rg = writer.next_row_group()?;
        for (_, chunk) in chunks {
            chunk?.append_to_row_group(&mut rg)?;
        }
        rg.close()?;
        offset += len;
        row_group += 1;
    }
    writer.close()?;
    Ok(out)
}

/// Writes (and fsyncs) a segment of `table` holding `batches`. The caller
/// fsyncs the directory and commits a manifest naming it.
pub(crate) fn write_segment(
    vfs: &dyn Vfs,
    dir: &Path,
    id: u64,
    table: Table,
    batches: &[RecordBatch],
    row_group_rows: usize,
) -> Result<Segment> {
    let batch = sorted_by_time(table, batches)?;
    let (min_ts, max_ts) = time_range(&batch);
    let ts_col = table.column_index("Timestamp").and_then(|i| i32::try_from(i).ok());
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_max_row_group_row_count(Some(row_group_rows.max(1)))
        .set_sorting_columns(
            ts_col.map(|c| vec![SortingColumn { column_idx: c, descending: false, nulls_first: true }]),
        );
    // Dictionaries pay off for the many low-cardinality columns (devices,
    // hosts, action types, processes) and are wasted work on nearly unique
    // ones; sorted times and increasing ids delta-encode to almost nothing.
    // Min/max statistics are what lets a time filter skip row groups and
    // pages; on string columns of time-sorted rows they span nearly every
    // value, never prune, and cost more than all the encoding. So: page
    // statistics on Timestamp, chunk statistics on the other numbers and
    // times, none on strings.
    for col in table.columns() {
        let level = match col.ty {
            _ if col.name == "Timestamp" => EnabledStatistics::Page,
            ColumnType::String | ColumnType::Dynamic => EnabledStatistics::None,
            _ => EnabledStatistics::Chunk,
        };
        props = props.set_column_statistics_enabled(ColumnPath::from(col.name), level);
    }
    for col in UNIQUE_COLUMNS {
        if table.column_index(col).is_some() {
            props = props.set_column_dictionary_enabled(ColumnPath::from(*col), false);
        }
    }
    for col in DELTA_COLUMNS {
        if table.column_index(col).is_some() {
            props = props
                .set_column_dictionary_enabled(ColumnPath::from(*col), false)
                .set_column_encoding(ColumnPath::from(*col), Encoding::DELTA_BINARY_PACKED);
        }
    }
    let bytes = encode_parquet(&batch, props.build(), row_group_rows.max(1))?;
    let file = segment_file_name(id, table);
    let path = dir.join(&file);
    let mut f = vfs.create(&path).map_err(|e| StoreError::io("create", &path, e))?;
    f.write_all(&bytes).map_err(|e| StoreError::io("write", &path, e))?;
    f.sync().map_err(|e| StoreError::io("fsync", &path, e))?;
    Ok(Segment { id, table, path, rows: batch.num_rows() as u64, bytes: bytes.len() as u64, min_ts, max_ts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimFs;
    use crate::{batch_to_records, records_to_batch};
    use netward_events::{Record, Value};

    #[test]
    fn segments_are_time_sorted_and_read_back_whole() {
        let rows: Vec<Record> = [5i64, 1, 3, 2, 4]
            .iter()
            .map(|&t| {
                let mut r = Record::new(Table::DeviceNetworkEvents);
                r.set("Timestamp", Value::DateTime(Timestamp(t))).unwrap();
                r.set("ReportId", Value::Long(t * 10)).unwrap();
                r
            })
            .collect();
        let b1 = records_to_batch(Table::DeviceNetworkEvents, &rows[..2]).unwrap();
        let b2 = records_to_batch(Table::DeviceNetworkEvents, &rows[2..]).unwrap();
        let fs = SimFs::new(1);
        let seg = write_segment(&fs, Path::new("/s"), 9, Table::DeviceNetworkEvents, &[b1, b2], 2).unwrap();
        assert_eq!((seg.min_ts, seg.max_ts, seg.rows), (Some(Timestamp(1)), Some(Timestamp(5)), 5));
        assert_eq!(parse_segment_file_name(seg.path.file_name().unwrap().to_str().unwrap()), Some(9));
        let back = seg.read(&fs).unwrap();
        assert_eq!(back[0].schema().as_ref(), &Table::DeviceNetworkEvents.arrow_schema());
        let recs: Vec<Record> =
            back.iter().flat_map(|b| batch_to_records(Table::DeviceNetworkEvents, b).unwrap()).collect();
        let ids: Vec<i64> = recs.iter().map(|r| r.get("ReportId").unwrap().as_i64().unwrap()).collect();
        assert_eq!(ids, vec![10, 20, 30, 40, 50]);
    }
}
