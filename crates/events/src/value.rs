//! A cell value of a row, typed by its column.

use crate::{ColumnType, Timestamp};

/// One cell. String columns never hold [`Value::Null`]: unknown is `""`, so
/// that `RemoteIP != "x"` keeps rows whose address is unknown.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    String(String),
    Int(i32),
    Long(i64),
    DateTime(Timestamp),
    Dynamic(serde_json::Value),
    Bool(bool),
    Real(f64),
}

impl Value {
    /// The value an unset column has: `""` for strings, `{}` for dynamic
    /// columns (AdditionalFields is always an object), null for the rest.
    pub fn empty(ty: ColumnType) -> Value {
        match ty {
            ColumnType::String => Value::String(String::new()),
            ColumnType::Dynamic => Value::Dynamic(serde_json::Value::Object(Default::default())),
            _ => Value::Null,
        }
    }

    /// Whether this is the empty value of its column: null, `""`, or an
    /// empty dynamic value (`{}`, `[]`, `null`, `""`).
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Dynamic(serde_json::Value::Object(m)) => m.is_empty(),
            Value::Dynamic(serde_json::Value::Array(a)) => a.is_empty(),
            Value::Dynamic(serde_json::Value::String(s)) => s.is_empty(),
            Value::Dynamic(serde_json::Value::Null) => true,
            _ => false,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(i64::from(*i)),
            Value::Long(l) => Some(*l),
            _ => None,
        }
    }

    pub fn as_timestamp(&self) -> Option<Timestamp> {
        match self {
            Value::DateTime(t) => Some(*t),
            _ => None,
        }
    }

    /// Whether this value may stand in a column of type `ty`.
    pub fn fits(&self, ty: ColumnType) -> bool {
        matches!(
            (self, ty),
            (Value::Null, t) if t != ColumnType::String
        ) || matches!(
            (self, ty),
            (Value::String(_), ColumnType::String)
                | (Value::Int(_), ColumnType::Int)
                | (Value::Long(_), ColumnType::Long)
                | (Value::DateTime(_), ColumnType::DateTime)
                | (Value::Dynamic(_), ColumnType::Dynamic)
                | (Value::Bool(_), ColumnType::Bool)
                | (Value::Real(_), ColumnType::Real)
        )
    }

    /// The JSON form of the contract.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::String(s) => J::String(s.clone()),
            Value::Int(i) => J::from(*i),
            Value::Long(l) => J::from(*l),
            Value::DateTime(t) => J::String(t.to_string()),
            Value::Dynamic(d) => d.clone(),
            Value::Bool(b) => J::Bool(*b),
            Value::Real(r) => serde_json::Number::from_f64(*r).map_or(J::Null, J::Number),
        }
    }

    /// [`Value::to_json`] written into `w` without cloning.
    pub fn write_json<W: std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        let r = match self {
            Value::Null => return w.write_all(b"null"),
            Value::String(s) => serde_json::to_writer(&mut *w, s),
            Value::Int(i) => return write!(w, "{i}"),
            Value::Long(l) => return write!(w, "{l}"),
            Value::DateTime(t) => return write!(w, "\"{t}\""),
            Value::Dynamic(d) => serde_json::to_writer(&mut *w, d),
            Value::Bool(b) => return write!(w, "{b}"),
            Value::Real(_) => serde_json::to_writer(&mut *w, &self.to_json()),
        };
        r.map_err(std::io::Error::other)
    }

    /// The text form used in CSV cells and tables: strings as they are,
    /// dynamic values as compact JSON, null as the empty cell.
    pub fn to_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Long(l) => l.to_string(),
            Value::DateTime(t) => t.to_string(),
            Value::Dynamic(d) => d.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Real(r) => r.to_string(),
        }
    }
}
