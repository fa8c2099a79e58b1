//! A row of a table, and its JSON form.

use crate::{ColumnType, Table, Timestamp, Value};
use serde_json::Value as J;

/// A row: one value per column of its table, in column order.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    table: Table,
    values: Vec<Value>,
}

/// Why a row could not be read or changed; names the column.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordError {
    #[error("table {table} has no column `{column}`")]
    UnknownColumn { table: Table, column: String },
    #[error("column `{column}` is {expected}, got {got}")]
    WrongType { column: String, expected: &'static str, got: String },
    #[error("a row must be a JSON object, got {0}")]
    NotAnObject(String),
}

impl Record {
    /// A row with every column empty (see [`Value::empty`]).
    pub fn new(table: Table) -> Self {
        Record { table, values: table.columns().iter().map(|c| Value::empty(c.ty)).collect() }
    }

    pub fn table(&self) -> Table {
        self.table
    }

    pub fn values(&self) -> &[Value] {
        &self.values
    }

    pub fn get(&self, column: &str) -> Option<&Value> {
        self.table.column_index(column).map(|i| &self.values[i])
    }

    /// Sets a column, checking the value's type against the column's.
    pub fn set(&mut self, column: &str, value: Value) -> Result<(), RecordError> {
        let i = self
            .table
            .column_index(column)
            .ok_or_else(|| RecordError::UnknownColumn { table: self.table, column: column.to_string() })?;
        let ty = self.table.columns()[i].ty;
        let value = if value == Value::Null { Value::empty(ty) } else { value };
        if !value.fits(ty) {
            return Err(wrong_type(column, ty, format!("{value:?}")));
        }
        self.values[i] = value;
        Ok(())
    }

    /// Sets a column from text (a CSV cell, a command-line value).
    pub fn set_text(&mut self, column: &str, text: &str) -> Result<(), RecordError> {
        let ty = self.column_type(column)?;
        self.set(column, parse_text(column, ty, text)?)
    }

    fn column_type(&self, column: &str) -> Result<ColumnType, RecordError> {
        self.table
            .column_index(column)
            .map(|i| self.table.columns()[i].ty)
            .ok_or_else(|| RecordError::UnknownColumn { table: self.table, column: column.to_string() })
    }

    /// The first of the table's [required columns](Table::required_columns)
    /// this row lacks, named as the user should read it (`Timestamp`, or
    /// `DeviceId or DeviceName`); `None` when the row has them all.
    pub fn missing_required(&self) -> Option<String> {
        self.table.required_columns().iter().find_map(|any_of| {
            let present = any_of.iter().any(|c| self.get(c).is_some_and(|v| !v.is_empty()));
            (!present).then(|| any_of.join(" or "))
        })
    }

    /// The JSON object of the contract: exactly the table's keys, in column order.
    pub fn to_json_line(&self) -> String {
        let mut out = Vec::with_capacity(512);
        // Writing into a Vec cannot fail.
        let _ = self.write_json(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// [`Record::to_json_line`] written straight into `w`, without building
    /// intermediate values (a replay writes tens of thousands of rows).
    pub fn write_json<W: std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b"{")?;
        for (i, (col, v)) in self.table.columns().iter().zip(&self.values).enumerate() {
            if i > 0 {
                w.write_all(b",")?;
            }
            w.write_all(b"\"")?;
            w.write_all(col.name.as_bytes())?; // column names need no escaping
            w.write_all(b"\":")?;
            v.write_json(w)?;
        }
        w.write_all(b"}")
    }

    /// The row as a JSON value (key order is not kept by `serde_json::Map`;
    /// use [`Record::to_json_line`] for output).
    pub fn to_json(&self) -> J {
        J::Object(
            self.table.columns().iter().zip(&self.values).map(|(c, v)| (c.name.to_string(), v.to_json())).collect(),
        )
    }

    /// Reads a row from a JSON object. Missing columns are empty; keys that
    /// are not columns of the table are returned so the caller can report
    /// them (Defender's exports carry columns netward does not collect).
    pub fn from_json(table: Table, row: &J) -> Result<(Record, Vec<String>), RecordError> {
        let obj = row.as_object().ok_or_else(|| RecordError::NotAnObject(kind(row).into()))?;
        Record::from_object(table, obj)
    }

    /// [`Record::from_json`] from the object itself (a Streaming API
    /// envelope's `properties`).
    pub fn from_object(table: Table, obj: &serde_json::Map<String, J>) -> Result<(Record, Vec<String>), RecordError> {
        let mut rec = Record::new(table);
        let mut unknown = Vec::new();
        for (k, v) in obj {
            match table.column_index(k) {
                Some(i) => {
                    let ty = table.columns()[i].ty;
                    rec.values[i] = parse_json(k, ty, v)?;
                }
                None => unknown.push(k.clone()),
            }
        }
        Ok((rec, unknown))
    }
}

fn kind(v: &J) -> &'static str {
    match v {
        J::Null => "null",
        J::Bool(_) => "a bool",
        J::Number(_) => "a number",
        J::String(_) => "a string",
        J::Array(_) => "an array",
        J::Object(_) => "an object",
    }
}

fn wrong_type(column: &str, ty: ColumnType, got: String) -> RecordError {
    RecordError::WrongType { column: column.to_string(), expected: ty.kql_name(), got }
}

/// A JSON value into a cell of type `ty`. Numbers may come as strings and
/// dynamic values as JSON text, as Defender's exports write them.
fn parse_json(column: &str, ty: ColumnType, v: &J) -> Result<Value, RecordError> {
    match (ty, v) {
        (ColumnType::Dynamic, J::String(s)) => Ok(parse_dynamic_text(s)),
        (ColumnType::Dynamic, J::Null) => Ok(Value::empty(ty)),
        (ColumnType::Dynamic, other) => Ok(Value::Dynamic(other.clone())),
        (ColumnType::String, J::Null) => Ok(Value::String(String::new())),
        (ColumnType::String, J::String(s)) => Ok(Value::String(s.clone())),
        (ColumnType::String, J::Number(n)) => Ok(Value::String(n.to_string())),
        (ColumnType::String, J::Bool(b)) => Ok(Value::String(b.to_string())),
        (_, J::Null) => Ok(Value::Null),
        (_, J::String(s)) => parse_text(column, ty, s),
        (ColumnType::Int, J::Number(n)) => n
            .as_i64()
            .and_then(|i| i32::try_from(i).ok())
            .map(Value::Int)
            .ok_or_else(|| wrong_type(column, ty, n.to_string())),
        (ColumnType::Long, J::Number(n)) => {
            n.as_i64().map(Value::Long).ok_or_else(|| wrong_type(column, ty, n.to_string()))
        }
        (ColumnType::Real, J::Number(n)) => {
            n.as_f64().map(Value::Real).ok_or_else(|| wrong_type(column, ty, n.to_string()))
        }
        (ColumnType::Bool, J::Bool(b)) => Ok(Value::Bool(*b)),
        (_, other) => Err(wrong_type(column, ty, kind(other).to_string())),
    }
}

/// Text into a cell of type `ty`; the empty text is the empty value.
pub(crate) fn parse_text(column: &str, ty: ColumnType, s: &str) -> Result<Value, RecordError> {
    if s.is_empty() {
        return Ok(Value::empty(ty));
    }
    let bad = || wrong_type(column, ty, format!("`{s}`"));
    Ok(match ty {
        ColumnType::String => Value::String(s.to_string()),
        ColumnType::Int => Value::Int(s.trim().parse().map_err(|_| bad())?),
        ColumnType::Long => Value::Long(s.trim().parse().map_err(|_| bad())?),
        ColumnType::Real => Value::Real(s.trim().parse().map_err(|_| bad())?),
        ColumnType::Bool => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => return Err(bad()),
        },
        ColumnType::DateTime => Value::DateTime(Timestamp::parse(s).map_err(|_| bad())?),
        ColumnType::Dynamic => parse_dynamic_text(s),
    })
}

/// Dynamic text: JSON when it parses as JSON, else the string itself.
fn parse_dynamic_text(s: &str) -> Value {
    if s.is_empty() {
        return Value::empty(ColumnType::Dynamic);
    }
    Value::Dynamic(serde_json::from_str(s).unwrap_or_else(|_| J::String(s.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_rows_have_empty_strings_and_an_object_for_additional_fields() {
        let r = Record::new(Table::DeviceNetworkEvents);
        let j: J = serde_json::from_str(&r.to_json_line()).unwrap();
        assert_eq!(j["RemoteIP"], J::String(String::new()));
        assert_eq!(j["AdditionalFields"], serde_json::json!({}));
        assert_eq!(j["RemotePort"], J::Null);
        assert_eq!(j.as_object().unwrap().len(), Table::DeviceNetworkEvents.columns().len());
    }

    #[test]
    fn json_line_keeps_column_order() {
        let line = Record::new(Table::DeviceInfo).to_json_line();
        let pos: Vec<usize> =
            Table::DeviceInfo.columns().iter().map(|c| line.find(&format!("\"{}\":", c.name)).unwrap()).collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{line}");
    }

    #[test]
    fn set_checks_types_and_names() {
        let mut r = Record::new(Table::DeviceNetworkEvents);
        assert!(r.set("RemotePort", Value::String("443".into())).is_err());
        assert!(r.set("NoSuchColumn", Value::Int(1)).is_err());
        r.set_text("RemotePort", "443").unwrap();
        assert_eq!(r.get("RemotePort"), Some(&Value::Int(443)));
        // Null on a string column becomes "", never null.
        r.set("RemoteIP", Value::Null).unwrap();
        assert_eq!(r.get("RemoteIP"), Some(&Value::String(String::new())));
    }

    #[test]
    fn reads_defender_style_exports() {
        let row = serde_json::json!({
            "Timestamp": "2024-05-14T09:46:02.7681927Z",
            "RemotePort": "443",
            "ReportId": 12345678901i64,
            "RemoteIP": null,
            "AdditionalFields": "{\"direction\":\"Out\"}",
            "InitiatingProcessIntegrityLevel": "High",
            "IsInitiatingProcessRemoteSession": false,
            "InitiatingProcessUniqueId": "0"
        });
        let (r, unknown) = Record::from_json(Table::DeviceNetworkEvents, &row).unwrap();
        assert_eq!(unknown, vec!["InitiatingProcessUniqueId".to_string()]);
        assert_eq!(r.get("InitiatingProcessIntegrityLevel").and_then(Value::as_str), Some("High"));
        assert_eq!(r.get("IsInitiatingProcessRemoteSession"), Some(&Value::Bool(false)));
        assert_eq!(r.get("RemotePort"), Some(&Value::Int(443)));
        assert_eq!(r.get("RemoteIP").and_then(Value::as_str), Some(""));
        assert_eq!(r.get("AdditionalFields"), Some(&Value::Dynamic(serde_json::json!({"direction":"Out"}))));
        assert_eq!(r.get("Timestamp").unwrap().to_text(), "2024-05-14T09:46:02.768Z");
    }

    #[test]
    fn required_columns_are_named_when_missing() {
        let mut r = Record::new(Table::DeviceNetworkEvents);
        assert_eq!(r.missing_required().as_deref(), Some("Timestamp"));
        r.set_text("Timestamp", "2024-05-14T09:46:02Z").unwrap();
        assert_eq!(r.missing_required().as_deref(), Some("ActionType"));
        r.set_text("ActionType", "ConnectionSuccess").unwrap();
        assert_eq!(r.missing_required().as_deref(), Some("DeviceId or DeviceName"));
        r.set_text("DeviceName", "pc1").unwrap();
        assert_eq!(r.missing_required(), None);
    }

    #[test]
    fn bad_cells_name_their_column() {
        let row = serde_json::json!({"RemotePort": 3_000_000_000i64});
        let e = Record::from_json(Table::DeviceNetworkEvents, &row).unwrap_err();
        assert!(e.to_string().contains("RemotePort"), "{e}");
        let row = serde_json::json!({"Timestamp": "tomorrow"});
        assert!(Record::from_json(Table::DeviceNetworkEvents, &row).unwrap_err().to_string().contains("Timestamp"));
        assert!(Record::from_json(Table::DeviceInfo, &serde_json::json!([1])).is_err());
    }
}
