//! Parquet segments: the rolled, columnar, time-sorted part of the store.
//!
//! A roll writes one segment per table: the log's rows of that table sorted
//! by `Timestamp`, in row groups of [`crate::StoreOptions::row_group_rows`]
//! with page statistics, zstd-compressed. Sorting makes each row group cover
//! a narrow time range, so a query's time filter skips most of them. The
//! file is written through the [`Vfs`] and fsynced; it becomes part of the
//! store only when a manifest naming it is committed.

use crate::manifest::SegmentEntry;
use crate::vfs::Vfs;
use crate::{Result, StoreError};
use arrow::array::{Array, TimestampNanosecondArray};
use arrow::compute::{concat_batches, sort_to_indices, take_record_batch, SortOptions};
use arrow::record_batch::RecordBatch;
use netward_events::{Table, Timestamp};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::file::metadata::SortingColumn;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))?
            .with_batch_size(8192)
            .build()?;
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

/// Concatenates and sorts the rows by `Timestamp` (nulls first).
fn sorted_by_time(table: Table, batches: &[RecordBatch]) -> Result<RecordBatch> {
    let schema = Arc::new(table.arrow_schema());
    let all = concat_batches(&schema, batches)?;
    match all.column_by_name("Timestamp") {
        Some(ts) if all.num_rows() > 1 => {
            let idx = sort_to_indices(ts, Some(SortOptions { descending: false, nulls_first: true }), None)?;
            Ok(take_record_batch(&all, &idx)?)
        }
        _ => Ok(all),
    }
}

fn time_range(batch: &RecordBatch) -> (Option<Timestamp>, Option<Timestamp>) {
    let Some(ts) = batch.column_by_name("Timestamp").and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>().cloned())
    else {
        return (None, None);
    };
    (arrow::compute::min(&ts).map(Timestamp), arrow::compute::max(&ts).map(Timestamp))
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
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_max_row_group_row_count(Some(row_group_rows.max(1)))
        .set_sorting_columns(ts_col.map(|c| vec![SortingColumn { column_idx: c, descending: false, nulls_first: true }]))
        .build();
    let mut w = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props))?;
    w.write(&batch)?;
    let bytes = w.into_inner()?;
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
