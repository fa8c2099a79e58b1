//! Rows to Arrow and back: the one conversion between [`Record`] (the event
//! model's row) and an Arrow [`RecordBatch`] of [`Table::arrow_schema`].
//!
//! Dynamic cells are written as compact JSON text; reading parses them back
//! (text that is not JSON becomes a JSON string, as the event model's CSV
//! reader does).

use crate::{Result, StoreError};
use arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBuilder, Float64Array, Float64Builder, Int32Array, Int32Builder, Int64Array,
    Int64Builder, StringArray, StringBuilder, TimestampNanosecondArray, TimestampNanosecondBuilder,
};
use arrow::record_batch::RecordBatch;
use netward_events::{ColumnType, Record, Table, Timestamp, Value};
use std::sync::Arc;

/// Builds one Arrow batch of `table`'s schema from rows of that table.
/// A row of another table or a cell whose type does not fit its column is an
/// error naming the row (0-based) and column.
pub fn records_to_batch(table: Table, rows: &[Record]) -> Result<RecordBatch> {
    let schema = Arc::new(table.arrow_schema());
    if let Some(i) = rows.iter().position(|r| r.table() != table) {
        return Err(StoreError::Row {
            row: i,
            column: "",
            reason: format!("row of table {} in a batch of {table}", rows[i].table()),
        });
    }
    // Row by row into one builder per column: each row's values are read
    // while they are in cache.
    let mut builders: Vec<ColumnBuilder> =
        table.columns().iter().map(|c| ColumnBuilder::new(c.ty, rows.len())).collect();
    let mut scratch = String::new();
    for (row, rec) in rows.iter().enumerate() {
        for ((b, col), v) in builders.iter_mut().zip(table.columns()).zip(rec.values()) {
            if !b.push(v, &mut scratch) {
                return Err(StoreError::Row {
                    row,
                    column: col.name,
                    reason: format!("{v:?} does not fit a {} column", col.ty.kql_name()),
                });
            }
        }
    }
    let arrays: Vec<ArrayRef> = builders.into_iter().map(ColumnBuilder::finish).collect();
    Ok(RecordBatch::try_new(schema, arrays)?)
}

/// An Arrow builder for one column of a KQL type.
enum ColumnBuilder {
    String(StringBuilder),
    Dynamic(StringBuilder),
    Int(Int32Builder),
    Long(Int64Builder),
    DateTime(TimestampNanosecondBuilder),
    Bool(BooleanBuilder),
    Real(Float64Builder),
}

impl ColumnBuilder {
    fn new(ty: ColumnType, n: usize) -> Self {
        match ty {
            ColumnType::String => ColumnBuilder::String(StringBuilder::with_capacity(n, n * 16)),
            ColumnType::Dynamic => ColumnBuilder::Dynamic(StringBuilder::with_capacity(n, n * 64)),
            ColumnType::Int => ColumnBuilder::Int(Int32Builder::with_capacity(n)),
            ColumnType::Long => ColumnBuilder::Long(Int64Builder::with_capacity(n)),
            ColumnType::DateTime => {
                ColumnBuilder::DateTime(TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC"))
            }
            ColumnType::Bool => ColumnBuilder::Bool(BooleanBuilder::with_capacity(n)),
            ColumnType::Real => ColumnBuilder::Real(Float64Builder::with_capacity(n)),
        }
    }

    /// Appends a cell; `false` if the value does not fit the column (string
    /// columns never hold null).
    fn push(&mut self, v: &Value, scratch: &mut String) -> bool {
        match (self, v) {
            (ColumnBuilder::String(b), Value::String(s)) => b.append_value(s),
            (ColumnBuilder::Dynamic(b), Value::Dynamic(d)) => {
                scratch.clear();
                // Writing JSON into a String cannot fail.
                let _ = serde_json::to_writer(string_writer(scratch), d);
                b.append_value(&*scratch);
            }
            (ColumnBuilder::Dynamic(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Int(b), Value::Int(i)) => b.append_value(*i),
            (ColumnBuilder::Int(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Long(b), Value::Long(i)) => b.append_value(*i),
            (ColumnBuilder::Long(b), Value::Null) => b.append_null(),
            (ColumnBuilder::DateTime(b), Value::DateTime(t)) => b.append_value(t.unix_nanos()),
            (ColumnBuilder::DateTime(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (ColumnBuilder::Bool(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Real(b), Value::Real(x)) => b.append_value(*x),
            (ColumnBuilder::Real(b), Value::Null) => b.append_null(),
            _ => return false,
        }
        true
    }

    fn finish(self) -> ArrayRef {
        match self {
            ColumnBuilder::String(mut b) | ColumnBuilder::Dynamic(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Int(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Long(mut b) => Arc::new(b.finish()),
            ColumnBuilder::DateTime(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Real(mut b) => Arc::new(b.finish()),
        }
    }
}

/// `serde_json` writes into an `io::Write`; a `String` is filled through a
/// writer that only ever receives valid UTF-8 from it.
fn string_writer(s: &mut String) -> impl std::io::Write + '_ {
    struct W<'a>(&'a mut String);
    impl std::io::Write for W<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let text = std::str::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            self.0.push_str(text);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    W(s)
}

/// Reads the rows of a batch of `table`'s schema back into records (for
/// tests, exports and replays). Columns are found by name, so a batch with
/// the columns in another order, or a projection, also reads; missing
/// columns are empty.
pub fn batch_to_records(table: Table, batch: &RecordBatch) -> Result<Vec<Record>> {
    let mut out: Vec<Record> = (0..batch.num_rows()).map(|_| Record::new(table)).collect();
    for col in table.columns() {
        let Some(array) = batch.column_by_name(col.name) else { continue };
        let bad = |reason: String| StoreError::Row { row: 0, column: col.name, reason };
        let wrong = || bad(format!("Arrow type {} for a {} column", array.data_type(), col.ty.kql_name()));
        for (row, rec) in out.iter_mut().enumerate() {
            let v = if array.is_null(row) {
                Value::Null
            } else {
                match col.ty {
                    ColumnType::String => Value::String(
                        array.as_any().downcast_ref::<StringArray>().ok_or_else(wrong)?.value(row).to_string(),
                    ),
                    ColumnType::Dynamic => {
                        let s = array.as_any().downcast_ref::<StringArray>().ok_or_else(wrong)?.value(row);
                        Value::Dynamic(serde_json::from_str(s).unwrap_or_else(|_| serde_json::Value::String(s.into())))
                    }
                    ColumnType::Int => {
                        Value::Int(array.as_any().downcast_ref::<Int32Array>().ok_or_else(wrong)?.value(row))
                    }
                    ColumnType::Long => {
                        Value::Long(array.as_any().downcast_ref::<Int64Array>().ok_or_else(wrong)?.value(row))
                    }
                    ColumnType::DateTime => Value::DateTime(Timestamp(
                        array.as_any().downcast_ref::<TimestampNanosecondArray>().ok_or_else(wrong)?.value(row),
                    )),
                    ColumnType::Bool => {
                        Value::Bool(array.as_any().downcast_ref::<BooleanArray>().ok_or_else(wrong)?.value(row))
                    }
                    ColumnType::Real => {
                        Value::Real(array.as_any().downcast_ref::<Float64Array>().ok_or_else(wrong)?.value(row))
                    }
                }
            };
            rec.set(col.name, v).map_err(|e| StoreError::Row { row, column: col.name, reason: e.to_string() })?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(i: i64) -> Record {
        let mut r = Record::new(Table::DeviceNetworkEvents);
        r.set("Timestamp", Value::DateTime(Timestamp(1_700_000_000_000_000_000 + i))).unwrap();
        r.set("DeviceName", Value::String(format!("host-{i}"))).unwrap();
        r.set("RemoteUrl", Value::String("a \"quoted\" ü".into())).unwrap();
        if i % 2 == 0 {
            r.set("RemotePort", Value::Int(443)).unwrap();
        }
        r.set("ReportId", Value::Long(i << 33)).unwrap();
        r.set("AdditionalFields", Value::Dynamic(serde_json::json!({"k": [i, "x", null], "f": 1.5}))).unwrap();
        r
    }

    #[test]
    fn round_trip_keeps_every_value() {
        let rows: Vec<Record> = (0..50).map(sample).collect();
        let batch = records_to_batch(Table::DeviceNetworkEvents, &rows).unwrap();
        assert_eq!(batch.num_rows(), 50);
        assert_eq!(batch.schema().as_ref(), &Table::DeviceNetworkEvents.arrow_schema());
        let port = batch.column_by_name("RemotePort").unwrap();
        assert_eq!(port.null_count(), 25);
        assert_eq!(batch_to_records(Table::DeviceNetworkEvents, &batch).unwrap(), rows);
    }

    #[test]
    fn dynamic_is_compact_json_text() {
        let batch = records_to_batch(Table::DeviceNetworkEvents, &[sample(3)]).unwrap();
        let af = batch.column_by_name("AdditionalFields").unwrap();
        let af = af.as_any().downcast_ref::<StringArray>().unwrap();
        let v: serde_json::Value = serde_json::from_str(af.value(0)).unwrap();
        assert_eq!(v, serde_json::json!({"k": [3, "x", null], "f": 1.5}));
        assert!(!af.value(0).contains(' '));
    }

    #[test]
    fn rows_of_another_table_are_rejected_by_position() {
        let rows = vec![sample(0), Record::new(Table::DeviceInfo)];
        let e = records_to_batch(Table::DeviceNetworkEvents, &rows).unwrap_err();
        assert!(matches!(e, StoreError::Row { row: 1, .. }), "{e}");
    }

    #[test]
    fn empty_input_is_an_empty_batch() {
        let b = records_to_batch(Table::DeviceInfo, &[]).unwrap();
        assert_eq!(b.num_rows(), 0);
        assert_eq!(b.num_columns(), Table::DeviceInfo.columns().len());
        assert!(batch_to_records(Table::DeviceInfo, &b).unwrap().is_empty());
    }
}
