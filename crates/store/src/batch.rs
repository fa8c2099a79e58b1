//! Rows to Arrow and back: the one conversion between [`Record`] (the event
//! model's row) and an Arrow [`RecordBatch`] of [`Table::arrow_schema`].
//!
//! Dynamic cells are written as compact JSON text; reading parses them back
//! (text that is not JSON becomes a JSON string, as the event model's CSV
//! reader does).

use crate::{Result, StoreError};
use arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBuilder, Float64Array, Float64Builder, Int32Array,
    Int32Builder, Int64Array, Int64Builder, StringArray, StringBuilder, TimestampNanosecondArray,
    TimestampNanosecondBuilder,
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
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(table.columns().len());
    for (ci, col) in table.columns().iter().enumerate() {
        let cells = rows.iter().map(|r| r.values().get(ci).unwrap_or(&Value::Null));
        arrays.push(build_column(col.name, col.ty, cells, rows.len())?);
    }
    Ok(RecordBatch::try_new(schema, arrays)?)
}

fn mismatch(row: usize, column: &'static str, ty: ColumnType, v: &Value) -> StoreError {
    StoreError::Row { row, column, reason: format!("{v:?} does not fit a {} column", ty.kql_name()) }
}

fn build_column<'a>(
    name: &'static str,
    ty: ColumnType,
    cells: impl Iterator<Item = &'a Value>,
    n: usize,
) -> Result<ArrayRef> {
    Ok(match ty {
        ColumnType::String | ColumnType::Dynamic => {
            let mut b = StringBuilder::with_capacity(n, n * 16);
            let mut scratch = String::new();
            for (row, v) in cells.enumerate() {
                match (ty, v) {
                    (ColumnType::String, Value::String(s)) => b.append_value(s),
                    (ColumnType::Dynamic, Value::Dynamic(d)) => {
                        scratch.clear();
                        // Writing JSON into a String cannot fail.
                        let _ = serde_json::to_writer(string_writer(&mut scratch), d);
                        b.append_value(&scratch);
                    }
                    (ColumnType::Dynamic, Value::Null) => b.append_null(),
                    _ => return Err(mismatch(row, name, ty, v)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Int => {
            let mut b = Int32Builder::with_capacity(n);
            for (row, v) in cells.enumerate() {
                match v {
                    Value::Int(i) => b.append_value(*i),
                    Value::Null => b.append_null(),
                    _ => return Err(mismatch(row, name, ty, v)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Long => {
            let mut b = Int64Builder::with_capacity(n);
            for (row, v) in cells.enumerate() {
                match v {
                    Value::Long(i) => b.append_value(*i),
                    Value::Null => b.append_null(),
                    _ => return Err(mismatch(row, name, ty, v)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::DateTime => {
            let mut b = TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC");
            for (row, v) in cells.enumerate() {
                match v {
                    Value::DateTime(t) => b.append_value(t.unix_nanos()),
                    Value::Null => b.append_null(),
                    _ => return Err(mismatch(row, name, ty, v)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Bool => {
            let mut b = BooleanBuilder::with_capacity(n);
            for (row, v) in cells.enumerate() {
                match v {
                    Value::Bool(x) => b.append_value(*x),
                    Value::Null => b.append_null(),
                    _ => return Err(mismatch(row, name, ty, v)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Real => {
            let mut b = Float64Builder::with_capacity(n);
            for (row, v) in cells.enumerate() {
                match v {
                    Value::Real(x) => b.append_value(*x),
                    Value::Null => b.append_null(),
                    _ => return Err(mismatch(row, name, ty, v)),
                }
            }
            Arc::new(b.finish())
        }
    })
}

/// `serde_json` writes into an `io::Write`; a `String` is filled through a
/// writer that only ever receives valid UTF-8 from it.
fn string_writer(s: &mut String) -> impl std::io::Write + '_ {
    struct W<'a>(&'a mut String);
    impl std::io::Write for W<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let text = std::str::from_utf8(buf)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
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
                        Value::Dynamic(
                            serde_json::from_str(s).unwrap_or_else(|_| serde_json::Value::String(s.into())),
                        )
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
