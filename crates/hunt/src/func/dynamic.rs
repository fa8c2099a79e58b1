//! KQL's `dynamic` values.
//!
//! Representation: a dynamic value is Arrow `Utf8` holding compact JSON
//! text (`{"a":1}`, `["x","y"]`, `"text"`, `5`); SQL null is KQL's null.
//! Columns of this kind carry the field metadata `kql_type=dynamic`.
//!
//! * `d.key`, `d["key"]`, `d[i]` (negative `i` counts from the end) →
//!   `kql_dyn_get`: the JSON text of the element, null when missing.
//! * `tostring(d)`: a JSON string gives its raw text, null gives `""`,
//!   anything else its JSON text. Comparing a dynamic value with a string
//!   compares `tostring(d)`; with a number, the number it holds.
//! * `parse_json(s)`/`todynamic(s)`: JSON text of `s` when it is valid
//!   JSON, else the JSON string `s`.

use super::{arg, bools, ints, strs, utf8s, Strs};
use datafusion::arrow::array::{AsArray, Float64Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::ColumnarValue;
use serde_json::Value as J;
use std::sync::Arc;

fn parse(text: &str) -> Option<J> {
    serde_json::from_str(text).ok()
}

/// The JSON text of `s` as a JSON string.
pub fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// KQL's `tostring` of a JSON value.
pub fn json_tostring(v: &J) -> String {
    match v {
        J::Null => String::new(),
        J::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `split(s, delimiter [, index])` → array of strings.
pub fn split(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let s = strs(arg(args, 0, "split")?)?;
    let d = strs(arg(args, 1, "split")?)?;
    let idx = match args.get(2) {
        Some(a) => Some(ints(a)?),
        None => None,
    };
    Ok(utf8s(n, |i| {
        let text = s.at(i)?;
        let delim = d.at(i).unwrap_or("");
        let parts: Vec<&str> = if delim.is_empty() { vec![text] } else { text.split(delim).collect() };
        let parts = match idx.as_ref().map(|x| x.at(i)) {
            None => parts,
            Some(Some(k)) if k >= 0 => parts.get(k as usize).map(|p| vec![*p]).unwrap_or_default(),
            Some(_) => Vec::new(),
        };
        serde_json::to_string(&parts).ok()
    }))
}

/// Marks JSON text as dynamic (the value is unchanged): used where
/// DataFusion drops field metadata, e.g. the result of a CASE.
pub fn mark(args: &[ColumnarValue], _n: usize) -> Result<ColumnarValue> {
    match args.first() {
        Some(a) => Ok(a.clone()),
        None => exec_err!("kql: dyn_mark: missing argument"),
    }
}

/// `parse_json(s)` for string input.
pub fn parse_json(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let s = strs(arg(args, 0, "parse_json")?)?;
    Ok(utf8s(n, |i| {
        let text = s.at(i)?;
        if text.is_empty() {
            return None;
        }
        Some(match parse(text) {
            Some(J::Null) => return None,
            Some(v) => v.to_string(),
            None => quote(text),
        })
    }))
}

/// A path step: member name or array index.
enum Step {
    Key(Strs),
    Index(Box<dyn Fn(usize) -> Option<i64>>),
}

fn step(v: &J, key: &Step, i: usize) -> Option<J> {
    match (key, v) {
        (Step::Key(k), J::Object(m)) => m.get(k.at(i)?).cloned(),
        (Step::Index(ix), J::Array(a)) => {
            let k = ix(i)?;
            let k = if k < 0 { a.len() as i64 + k } else { k };
            usize::try_from(k).ok().and_then(|k| a.get(k)).cloned()
        }
        // A string index on an array, or an integer on an object: KQL
        // converts; an object key that looks like a number still works.
        (Step::Index(ix), J::Object(m)) => m.get(&ix(i)?.to_string()).cloned(),
        _ => None,
    }
}

/// `kql_dyn_get(json, step, step, ...)`.
pub fn dyn_get(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let base = strs(arg(args, 0, "dynamic access")?)?;
    let mut steps = Vec::new();
    for a in args.iter().skip(1) {
        let is_int = matches!(
            a.data_type(),
            DataType::Int64 | DataType::Int32 | DataType::Int16 | DataType::Int8 | DataType::UInt64 | DataType::UInt32
        );
        if is_int {
            let v = ints(a)?;
            steps.push(Step::Index(Box::new(move |i| v.at(i))));
        } else {
            steps.push(Step::Key(strs(a)?));
        }
    }
    Ok(utf8s(n, |i| {
        let mut v = parse(base.at(i)?)?;
        for s in &steps {
            v = step(&v, s, i)?;
        }
        if v.is_null() {
            None
        } else {
            Some(v.to_string())
        }
    }))
}

pub fn dyn_tostring(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let s = strs(arg(args, 0, "tostring")?)?;
    Ok(utf8s(n, |i| {
        Some(match s.at(i) {
            None => String::new(),
            Some(t) => match parse(t) {
                Some(v) => json_tostring(&v),
                None => t.to_string(),
            },
        })
    }))
}

fn json_number(v: &J) -> Option<f64> {
    match v {
        J::Number(x) => x.as_f64(),
        J::String(s) => s.trim().parse().ok(),
        J::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

pub fn dyn_tolong(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let s = strs(arg(args, 0, "tolong")?)?;
    let out: Int64Array = (0..n)
        .map(|i| {
            let v = parse(s.at(i)?)?;
            if let Some(x) = v.as_i64() {
                return Some(x);
            }
            if let J::String(t) = &v {
                if let Ok(x) = t.trim().parse::<i64>() {
                    return Some(x);
                }
            }
            json_number(&v).filter(|f| f.is_finite()).map(|f| f.trunc() as i64)
        })
        .collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
}

pub fn dyn_todouble(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let s = strs(arg(args, 0, "todouble")?)?;
    let out: Float64Array = (0..n).map(|i| json_number(&parse(s.at(i)?)?)).collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
}

pub fn dyn_tobool(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let s = strs(arg(args, 0, "tobool")?)?;
    let out: datafusion::arrow::array::BooleanArray = (0..n)
        .map(|i| match parse(s.at(i)?)? {
            J::Bool(b) => Some(b),
            J::String(t) => match t.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            J::Number(x) => x.as_f64().map(|f| f != 0.0),
            _ => None,
        })
        .collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
}

/// `isempty(d)`: null, JSON null, or the empty string.
pub fn dyn_isempty(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let s = strs(arg(args, 0, "isempty")?)?;
    Ok(bools(n, |i| match s.at(i) {
        None => true,
        Some(t) => t.is_empty() || t == "null" || t == "\"\"",
    }))
}

pub fn array_length(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let s = strs(arg(args, 0, "array_length")?)?;
    let out: Int64Array = (0..n)
        .map(|i| match parse(s.at(i)?)? {
            J::Array(a) => Some(a.len() as i64),
            _ => None,
        })
        .collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
}

/// `pack_array(j1, j2, ...)`: arguments are JSON texts (see [`to_json`]).
pub fn pack_array(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let items: Vec<Strs> = args.iter().map(strs).collect::<Result<_>>()?;
    Ok(utf8s(n, |i| {
        let parts: Vec<&str> = items.iter().map(|s| s.at(i).unwrap_or("null")).collect();
        Some(format!("[{}]", parts.join(",")))
    }))
}

/// `pack(k1, j1, k2, j2, ...)`: keys are strings, values JSON texts. Keys
/// keep their order.
pub fn pack(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    if args.len() % 2 != 0 {
        return exec_err!("kql: pack: needs key/value pairs");
    }
    let items: Vec<Strs> = args.iter().map(strs).collect::<Result<_>>()?;
    Ok(utf8s(n, |i| {
        let mut out = String::from("{");
        let mut seen = std::collections::HashSet::new();
        for pair in items.chunks(2) {
            let k = pair[0].at(i).unwrap_or("");
            if !seen.insert(k.to_string()) {
                continue;
            }
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str(&quote(k));
            out.push(':');
            out.push_str(pair[1].at(i).unwrap_or("null"));
        }
        out.push('}');
        Some(out)
    }))
}

/// The JSON text of any scalar column: strings quoted, numbers as numbers,
/// datetimes and timespans as their KQL text. Null stays null.
pub fn to_json(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = arg(args, 0, "to_json")?.to_array(n)?;
    let out: Vec<Option<String>> = match a.data_type() {
        DataType::Int64 | DataType::Int32 | DataType::Int16 | DataType::Int8 | DataType::UInt32 | DataType::UInt64 => {
            let a = datafusion::arrow::compute::cast(&a, &DataType::Int64)?;
            a.as_primitive::<Int64Type>().iter().map(|v| v.map(|x| x.to_string())).collect()
        }
        DataType::Float64 | DataType::Float32 => {
            let a = datafusion::arrow::compute::cast(&a, &DataType::Float64)?;
            a.as_primitive::<Float64Type>()
                .iter()
                .map(|v| v.map(|x| serde_json::Number::from_f64(x).map(|n| n.to_string()).unwrap_or("null".into())))
                .collect()
        }
        DataType::Boolean => a.as_boolean().iter().map(|v| v.map(|b| b.to_string())).collect(),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => a
            .as_primitive::<datafusion::arrow::datatypes::TimestampNanosecondType>()
            .iter()
            .map(|v| v.map(|t| quote(&crate::value::format_datetime(t))))
            .collect(),
        DataType::Duration(TimeUnit::Nanosecond) => a
            .as_primitive::<datafusion::arrow::datatypes::DurationNanosecondType>()
            .iter()
            .map(|v| v.map(|t| quote(&crate::value::format_timespan(t))))
            .collect(),
        DataType::Null => vec![None; n],
        _ => {
            let s = strs(&ColumnarValue::Array(a))?;
            (0..n).map(|i| s.at(i).map(quote)).collect()
        }
    };
    let mut out = out;
    Ok(utf8s(n, |i| out.get_mut(i).and_then(|v| v.take())))
}

/// `extractjson(path, json)`: a JSONPath subset (`$`, `.key`, `['key']`,
/// `[n]`). Strings come out raw, other values as JSON text, missing as "".
pub fn extractjson(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let path = strs(arg(args, 0, "extractjson")?)?;
    let json = strs(arg(args, 1, "extractjson")?)?;
    Ok(utf8s(n, |i| {
        let steps = parse_json_path(path.at(i).unwrap_or(""))?;
        let mut v = parse(json.at(i)?)?;
        for s in steps {
            v = match (s, v) {
                (PathStep::Key(k), J::Object(mut m)) => m.remove(&k)?,
                (PathStep::Index(ix), J::Array(mut a)) => {
                    let k = if ix < 0 { a.len() as i64 + ix } else { ix };
                    let k = usize::try_from(k).ok()?;
                    if k < a.len() {
                        a.swap_remove(k)
                    } else {
                        return Some(String::new());
                    }
                }
                _ => return Some(String::new()),
            };
        }
        Some(json_tostring(&v))
    }))
}

enum PathStep {
    Key(String),
    Index(i64),
}

fn parse_json_path(p: &str) -> Option<Vec<PathStep>> {
    let rest = p.trim().strip_prefix('$')?;
    let mut out = Vec::new();
    let mut s = rest;
    while !s.is_empty() {
        if let Some(r) = s.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            out.push(PathStep::Key(r[..end].to_string()));
            s = &r[end..];
        } else if let Some(r) = s.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = r[..end].trim();
            if let Some(q) = inner.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
                out.push(PathStep::Key(q.to_string()));
            } else if let Some(q) = inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
                out.push(PathStep::Key(q.to_string()));
            } else {
                out.push(PathStep::Index(inner.parse().ok()?));
            }
            s = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(out)
}

/// A JSON literal as a DataFusion scalar (dynamic text).
pub fn json_scalar(v: &J) -> ScalarValue {
    match v {
        J::Null => ScalarValue::Utf8(None),
        other => ScalarValue::Utf8(Some(other.to_string())),
    }
}
