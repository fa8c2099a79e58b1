//! String, datetime, IP, array and series functions of everyday hunting
//! queries (`replace_string`, `format_datetime`, `ipv4_is_in_range`,
//! `set_union`, `series_stats`, ...), with Kusto's documented semantics.
//! Strings that are null read as `""`; invalid input gives null (or `""`
//! for strings), never an error, as in Kusto.

use super::{arg, ints, strs, utf8s, Ints, Strs};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, DurationNanosecondArray, Float64Array, Int32Array, Int64Array,
    TimestampNanosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::ColumnarValue;
use serde_json::Value as J;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

const NS: i64 = 1_000_000_000;
const DAY: i64 = 86_400 * NS;

fn s_at(args: &[Strs], k: usize, i: usize) -> &str {
    args.get(k).and_then(|s| s.at(i)).unwrap_or("")
}

fn all_strs(args: &[ColumnarValue]) -> Result<Vec<Strs>> {
    args.iter().map(strs).collect()
}

/// Reals (any numeric argument cast to Float64).
enum Reals {
    Scalar(Option<f64>),
    Array(Float64Array),
}
impl Reals {
    fn at(&self, i: usize) -> Option<f64> {
        match self {
            Reals::Scalar(s) => *s,
            Reals::Array(a) => (!a.is_null(i)).then(|| a.value(i)),
        }
    }
}
fn reals(cv: &ColumnarValue) -> Result<Reals> {
    Ok(match cv {
        ColumnarValue::Scalar(sv) if sv.is_null() => Reals::Scalar(None),
        ColumnarValue::Scalar(sv) => match sv.cast_to(&DataType::Float64)? {
            ScalarValue::Float64(x) => Reals::Scalar(x),
            _ => Reals::Scalar(None),
        },
        ColumnarValue::Array(a) => Reals::Array(cast(a, &DataType::Float64)?.as_primitive().clone()),
    })
}

/// Times and timespans as i64 nanoseconds.
fn nanos(cv: &ColumnarValue) -> Result<Ints> {
    match cv {
        ColumnarValue::Scalar(ScalarValue::TimestampNanosecond(v, _)) => Ok(Ints::Scalar(*v)),
        ColumnarValue::Scalar(ScalarValue::DurationNanosecond(v)) => Ok(Ints::Scalar(*v)),
        ColumnarValue::Array(a) if matches!(a.data_type(), DataType::Timestamp(..) | DataType::Duration(_)) => {
            let a = cast(a, &DataType::Int64)?;
            Ok(Ints::Array(a.as_primitive().clone()))
        }
        other => ints(other),
    }
}

fn opt_ints(args: &[ColumnarValue], k: usize) -> Result<Option<Ints>> {
    args.get(k).map(ints).transpose()
}

fn out_i64(n: usize, f: impl FnMut(usize) -> Option<i64>) -> ColumnarValue {
    ColumnarValue::Array(Arc::new((0..n).map(f).collect::<Int64Array>()))
}
fn out_i32(n: usize, mut f: impl FnMut(usize) -> Option<i64>) -> ColumnarValue {
    ColumnarValue::Array(Arc::new((0..n).map(|i| f(i).and_then(|v| i32::try_from(v).ok())).collect::<Int32Array>()))
}
fn out_bool(n: usize, f: impl FnMut(usize) -> Option<bool>) -> ColumnarValue {
    ColumnarValue::Array(Arc::new((0..n).map(f).collect::<BooleanArray>()))
}
fn out_dt(n: usize, f: impl FnMut(usize) -> Option<i64>) -> ColumnarValue {
    let a: TimestampNanosecondArray = (0..n).map(f).collect();
    ColumnarValue::Array(Arc::new(a.with_timezone("UTC")))
}
fn out_ts(n: usize, f: impl FnMut(usize) -> Option<i64>) -> ColumnarValue {
    let a: DurationNanosecondArray = (0..n).map(f).collect();
    ColumnarValue::Array(Arc::new(a))
}
fn out_json(n: usize, mut f: impl FnMut(usize) -> Option<J>) -> ColumnarValue {
    utf8s(n, |i| f(i).map(|v| v.to_string()))
}

// ---- strings ----------------------------------------------------------------

pub fn replace_string(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(utf8s(n, |i| {
        let (t, look, rep) = (s_at(&a, 0, i), s_at(&a, 1, i), s_at(&a, 2, i));
        Some(if look.is_empty() { t.to_string() } else { t.replace(look, rep) })
    }))
}

/// Kusto's rewrite strings name groups `\1`; the regex crate's `${1}`.
fn rewrite(rep: &str) -> String {
    let mut out = String::new();
    let mut chars = rep.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(|d| d.is_ascii_digit()) => {
                let mut num = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    num.push(*d);
                    chars.next();
                }
                out.push_str(&format!("${{{num}}}"));
            }
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out
}

fn regex_replace(text: &str, re: &str, rep: &str) -> Option<String> {
    let r = regex::Regex::new(re).ok()?;
    Some(r.replace_all(text, rewrite(rep).as_str()).into_owned())
}

/// `replace_regex(text, regex, rewrite)`.
pub fn replace_regex(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(utf8s(n, |i| regex_replace(s_at(&a, 0, i), s_at(&a, 1, i), s_at(&a, 2, i))))
}

/// The legacy `replace(regex, rewrite, text)`.
pub fn replace_regex_r(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(utf8s(n, |i| regex_replace(s_at(&a, 2, i), s_at(&a, 0, i), s_at(&a, 1, i))))
}

/// `extract_all(regex, text)`: every match; with one group, its texts;
/// with several, an array per match.
pub fn extract_all(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    // `extract_all(regex, [captureGroups,] source)`: the groups to keep,
    // by number or by name, as a dynamic array.
    let (src, picks) = if a.len() == 3 { (2, Some(1)) } else { (1, None) };
    Ok(out_json(n, |i| {
        let r = regex::Regex::new(s_at(&a, 0, i)).ok()?;
        let groups = r.captures_len() - 1;
        let picks: Option<Vec<J>> = match picks {
            Some(k) => match serde_json::from_str::<J>(s_at(&a, k, i)).ok()? {
                J::Array(v) if !v.is_empty() => Some(v),
                _ => return None,
            },
            None => None,
        };
        let mut out = Vec::new();
        for c in r.captures_iter(s_at(&a, src, i)) {
            let g = |k: usize| J::String(c.get(k).map(|m| m.as_str()).unwrap_or("").to_string());
            out.push(match &picks {
                Some(p) => {
                    let pick = |v: &J| match v {
                        J::Number(k) => k.as_u64().map(|k| g(k as usize)),
                        J::String(name) => Some(J::String(c.name(name).map(|m| m.as_str()).unwrap_or("").into())),
                        _ => None,
                    };
                    let vals: Vec<J> = p.iter().map(pick).collect::<Option<_>>()?;
                    if vals.len() == 1 {
                        vals.into_iter().next()?
                    } else {
                        J::Array(vals)
                    }
                }
                None => match groups {
                    0 => g(0),
                    1 => g(1),
                    k => J::Array((1..=k).map(g).collect()),
                },
            });
        }
        (!out.is_empty()).then_some(J::Array(out))
    }))
}

fn json_at(a: &[Strs], k: usize, i: usize) -> Option<J> {
    a.get(k).and_then(|s| s.at(i)).and_then(|t| serde_json::from_str(t).ok())
}

/// A JSON value as Kusto's `tostring` writes it.
fn j_text(v: &J) -> String {
    super::dynamic::json_tostring(v)
}

pub fn strcat_array(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(utf8s(n, |i| match json_at(&a, 0, i) {
        Some(J::Array(items)) => Some(items.iter().map(j_text).collect::<Vec<_>>().join(s_at(&a, 1, i))),
        _ => Some(String::new()),
    }))
}

fn trim_with(args: &[ColumnarValue], n: usize, start: bool, end: bool) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(utf8s(n, |i| {
        let re = s_at(&a, 0, i);
        let text = s_at(&a, 1, i);
        let mut out = text.to_string();
        if start {
            let r = regex::Regex::new(&format!("^(?:{re})+")).ok()?;
            out = r.replace(&out, "").into_owned();
        }
        if end {
            let r = regex::Regex::new(&format!("(?:{re})+$")).ok()?;
            out = r.replace(&out, "").into_owned();
        }
        Some(out)
    }))
}
pub fn trim(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    trim_with(args, n, true, true)
}
pub fn trim_start(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    trim_with(args, n, true, false)
}
pub fn trim_end(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    trim_with(args, n, false, true)
}

pub fn reverse(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(utf8s(n, |i| Some(s_at(&a, 0, i).chars().rev().collect())))
}

pub fn base64_encode(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    use base64::Engine;
    let a = all_strs(args)?;
    Ok(utf8s(n, |i| Some(base64::engine::general_purpose::STANDARD.encode(s_at(&a, 0, i)))))
}

pub fn base64_decode(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    use base64::Engine;
    let a = all_strs(args)?;
    Ok(utf8s(n, |i| {
        let b = base64::engine::general_purpose::STANDARD.decode(s_at(&a, 0, i)).ok()?;
        String::from_utf8(b).ok()
    }))
}

/// `round(x [, precision])`: half away from zero, as .NET's `Math.Round`
/// with `MidpointRounding.AwayFromZero`.
pub fn round(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let x = reals(arg(args, 0, "round")?)?;
    let p = opt_ints(args, 1)?;
    let out: Float64Array = (0..n)
        .map(|i| {
            let v = x.at(i)?;
            let k = p.as_ref().map(|p| p.at(i)).unwrap_or(Some(0))?.clamp(-15, 15) as i32;
            let m = 10f64.powi(k);
            Some((v * m).round() / m)
        })
        .collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
}

/// `url_encode`: as .NET's `HttpUtility.UrlEncode` (lower-case hex, space
/// as `+`, `-_.!*()` kept).
pub fn url_encode(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const SET: &AsciiSet =
        &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'!').remove(b'*').remove(b'(').remove(b')');
    let a = all_strs(args)?;
    Ok(utf8s(n, |i| {
        let enc = utf8_percent_encode(s_at(&a, 0, i), SET).to_string();
        let mut out = String::with_capacity(enc.len());
        let mut chars = enc.chars();
        while let Some(c) = chars.next() {
            if c == '%' {
                let h: String = chars.by_ref().take(2).collect();
                if h == "20" {
                    out.push('+');
                } else {
                    out.push('%');
                    out.push_str(&h.to_ascii_lowercase());
                }
            } else {
                out.push(c);
            }
        }
        Some(out)
    }))
}

pub fn url_decode(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(utf8s(n, |i| {
        let t = s_at(&a, 0, i).replace('+', " ");
        percent_encoding::percent_decode_str(&t).decode_utf8().ok().map(|c| c.into_owned())
    }))
}

/// `parse_path(path)`: Scheme, RootPath, DirectoryPath, DirectoryName,
/// Filename, Extension, AlternateDataStreamName.
pub fn parse_path(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(out_json(n, |i| {
        let p = s_at(&a, 0, i);
        let (scheme, rest) = match p.find("://") {
            Some(k) => (&p[..k], &p[k + 3..]),
            None => ("", p),
        };
        let sep = if rest.contains('\\') { '\\' } else { '/' };
        // A drive letter is the root; a UNC share has none (Kusto's
        // documented `\\shared\users\...` gives `RootPath: ""`).
        let root = if rest.len() >= 2 && rest.as_bytes()[1] == b':' {
            rest[..2].to_string()
        } else if !scheme.is_empty() {
            rest.split(sep).next().unwrap_or("").to_string()
        } else {
            String::new()
        };
        let (dir, file) = match rest.rfind(sep) {
            Some(k) => (&rest[..k], &rest[k + 1..]),
            None => ("", rest),
        };
        let (file, ads) = match file.find(':') {
            Some(k) => (&file[..k], &file[k + 1..]),
            None => (file, ""),
        };
        let ext = file.rfind('.').map(|k| &file[k + 1..]).unwrap_or("");
        let dir_name = dir.rsplit(sep).next().unwrap_or("");
        Some(serde_json::json!({
            "Scheme": scheme,
            "RootPath": root,
            "DirectoryPath": dir,
            "DirectoryName": dir_name,
            "Filename": file,
            "Extension": ext,
            "AlternateDataStreamName": ads,
        }))
    }))
}

/// `format_bytes(size [, precision [, units]])`: 1024-based, as Kusto.
pub fn format_bytes(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let size = reals(arg(args, 0, "format_bytes")?)?;
    let prec = opt_ints(args, 1)?;
    let unit = args.get(2).map(strs).transpose()?;
    const UNITS: [&str; 7] = ["Bytes", "KB", "MB", "GB", "TB", "PB", "EB"];
    Ok(utf8s(n, |i| {
        let v = size.at(i)?;
        let p = prec.as_ref().and_then(|p| p.at(i)).unwrap_or(0).clamp(0, 12) as usize;
        let want = unit.as_ref().and_then(|u| u.at(i)).unwrap_or("");
        let k = match UNITS.iter().position(|u| u.eq_ignore_ascii_case(want)) {
            Some(k) => k,
            None => {
                let mut k = 0;
                let mut x = v.abs();
                while x >= 1024.0 && k + 1 < UNITS.len() {
                    x /= 1024.0;
                    k += 1;
                }
                k
            }
        };
        let x = v / 1024f64.powi(k as i32);
        Some(format!("{x:.p$} {}", UNITS[k]))
    }))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn hash_sha256(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    use sha2::Digest;
    let a = all_strs(args)?;
    Ok(utf8s(n, |i| Some(hex(&sha2::Sha256::digest(s_at(&a, 0, i).as_bytes())))))
}
pub fn hash_sha1(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    use sha1::Digest;
    let a = all_strs(args)?;
    Ok(utf8s(n, |i| Some(hex(&sha1::Sha1::digest(s_at(&a, 0, i).as_bytes())))))
}
pub fn hash_md5(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    use md5::Digest;
    let a = all_strs(args)?;
    Ok(utf8s(n, |i| Some(hex(&md5::Md5::digest(s_at(&a, 0, i).as_bytes())))))
}

// ---- datetimes ---------------------------------------------------------------

fn civil(ns: i64) -> Option<chrono::NaiveDateTime> {
    chrono::DateTime::from_timestamp(ns.div_euclid(NS), ns.rem_euclid(NS) as u32).map(|d| d.naive_utc())
}
fn to_ns(d: chrono::NaiveDateTime) -> Option<i64> {
    d.and_utc().timestamp_nanos_opt()
}

/// `format_datetime(t, format)` with .NET's custom format specifiers.
pub fn format_datetime(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    use chrono::{Datelike, Timelike};
    let t = nanos(arg(args, 0, "format_datetime")?)?;
    let f = strs(arg(args, 1, "format_datetime")?)?;
    Ok(utf8s(n, |i| {
        let d = civil(t.at(i)?)?;
        let frac = t.at(i)?.rem_euclid(NS);
        Some(dotnet_format(f.at(i).unwrap_or(""), |spec| {
            let len = spec.len();
            Some(match spec.as_bytes()[0] {
                b'y' if len <= 2 => format!("{:0len$}", d.year().rem_euclid(100)),
                b'y' => format!("{:0len$}", d.year()),
                b'M' => format!("{:0len$}", d.month()),
                b'd' => format!("{:0len$}", d.day()),
                b'H' => format!("{:0len$}", d.hour()),
                b'h' => format!("{:0len$}", (d.hour() + 11) % 12 + 1),
                b'm' => format!("{:0len$}", d.minute()),
                b's' => format!("{:0len$}", d.second()),
                b'f' | b'F' => {
                    let digits = format!("{frac:09}");
                    let mut s = digits[..len.min(9)].to_string();
                    if spec.starts_with('F') {
                        s = s.trim_end_matches('0').to_string();
                    }
                    s
                }
                b't' => (if d.hour() < 12 { "AM" } else { "PM" })[..len.min(2)].to_string(),
                _ => return None,
            })
        }))
    }))
}

/// Expands a .NET custom format: runs of the same specifier letter go to
/// `spec`, other characters are kept (quoted text and `\x` literally).
fn dotnet_format(fmt: &str, mut spec: impl FnMut(&str) -> Option<String>) -> String {
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            out.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if c == '\'' || c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != c {
                out.push(chars[j]);
                j += 1;
            }
            i = j + 1;
            continue;
        }
        if "yMdHhmsfFtd".contains(c) {
            let mut j = i;
            while j < chars.len() && chars[j] == c {
                j += 1;
            }
            let run: String = chars[i..j].iter().collect();
            match spec(&run) {
                Some(s) => out.push_str(&s),
                None => out.push_str(&run),
            }
            i = j;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// `format_timespan(t, format)`: `d`, `h`/`H`, `m`, `s`, `f`/`F`.
pub fn format_timespan(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let t = nanos(arg(args, 0, "format_timespan")?)?;
    let f = strs(arg(args, 1, "format_timespan")?)?;
    Ok(utf8s(n, |i| {
        let v = t.at(i)?;
        let a = v.unsigned_abs();
        let ns = NS as u64;
        let (days, h, m, s, frac) = (a / (DAY as u64), a / (3600 * ns) % 24, a / (60 * ns) % 60, a / ns % 60, a % ns);
        let body = dotnet_format(f.at(i).unwrap_or(""), |spec| {
            let len = spec.len();
            Some(match spec.as_bytes()[0] {
                b'd' => format!("{days:0len$}"),
                b'h' | b'H' => format!("{h:0len$}"),
                b'm' => format!("{m:0len$}"),
                b's' => format!("{s:0len$}"),
                b'f' | b'F' => {
                    let digits = format!("{frac:09}");
                    let mut x = digits[..len.min(9)].to_string();
                    if spec.starts_with('F') {
                        x = x.trim_end_matches('0').to_string();
                    }
                    x
                }
                _ => return None,
            })
        });
        Some(if v < 0 { format!("-{body}") } else { body })
    }))
}

/// Nanoseconds of one unit of a datetime part, for the fixed-length parts.
fn part_nanos(part: &str) -> Option<i64> {
    Some(match part.to_ascii_lowercase().as_str() {
        "week" => 7 * DAY,
        "day" => DAY,
        "hour" => 3600 * NS,
        "minute" => 60 * NS,
        "second" => NS,
        "millisecond" => 1_000_000,
        "microsecond" => 1_000,
        "nanosecond" => 1,
        _ => return None,
    })
}

/// `datetime_diff(part, a, b)`: calendar boundaries crossed from b to a.
pub fn datetime_diff(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    use chrono::Datelike;
    let part = strs(arg(args, 0, "datetime_diff")?)?;
    let a = nanos(arg(args, 1, "datetime_diff")?)?;
    let b = nanos(arg(args, 2, "datetime_diff")?)?;
    Ok(out_i64(n, |i| {
        let (x, y) = (a.at(i)?, b.at(i)?);
        let p = part.at(i).unwrap_or("").to_ascii_lowercase();
        let (dx, dy) = (civil(x)?, civil(y)?);
        Some(match p.as_str() {
            "year" => (dx.year() - dy.year()) as i64,
            "quarter" => {
                ((dx.year() * 4 + (dx.month0() / 3) as i32) - (dy.year() * 4 + (dy.month0() / 3) as i32)) as i64
            }
            "month" => ((dx.year() * 12 + dx.month0() as i32) - (dy.year() * 12 + dy.month0() as i32)) as i64,
            "week" => {
                // Weeks start on Sunday.
                let sow = |t: i64| (t + 4 * DAY).div_euclid(7 * DAY);
                sow(x) - sow(y)
            }
            other => {
                let u = part_nanos(other)?;
                x.div_euclid(u) - y.div_euclid(u)
            }
        })
    }))
}

fn add_months(d: chrono::NaiveDateTime, months: i64) -> Option<chrono::NaiveDateTime> {
    use chrono::Months;
    if months >= 0 {
        d.checked_add_months(Months::new(u32::try_from(months).ok()?))
    } else {
        d.checked_sub_months(Months::new(u32::try_from(-months).ok()?))
    }
}

/// `datetime_add(part, amount, t)`.
pub fn datetime_add(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let part = strs(arg(args, 0, "datetime_add")?)?;
    let k = ints(arg(args, 1, "datetime_add")?)?;
    let t = nanos(arg(args, 2, "datetime_add")?)?;
    Ok(out_dt(n, |i| {
        let (k, t) = (k.at(i)?, t.at(i)?);
        let p = part.at(i).unwrap_or("").to_ascii_lowercase();
        match p.as_str() {
            "year" => to_ns(add_months(civil(t)?, k.checked_mul(12)?)?),
            "quarter" => to_ns(add_months(civil(t)?, k.checked_mul(3)?)?),
            "month" => to_ns(add_months(civil(t)?, k)?),
            other => t.checked_add(k.checked_mul(part_nanos(other)?)?),
        }
    }))
}

/// `datetime_part(part, t)`.
pub fn datetime_part(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    use chrono::{Datelike, Timelike};
    let part = strs(arg(args, 0, "datetime_part")?)?;
    let t = nanos(arg(args, 1, "datetime_part")?)?;
    Ok(out_i64(n, |i| {
        let ns = t.at(i)?;
        let d = civil(ns)?;
        let frac = ns.rem_euclid(NS);
        Some(match part.at(i).unwrap_or("").to_ascii_lowercase().as_str() {
            "year" => d.year() as i64,
            "quarter" => (d.month0() / 3 + 1) as i64,
            "month" => d.month() as i64,
            "weekofyear" | "week_of_year" => d.iso_week().week() as i64,
            "day" => d.day() as i64,
            "dayofyear" => d.ordinal() as i64,
            "hour" => d.hour() as i64,
            "minute" => d.minute() as i64,
            "second" => d.second() as i64,
            "millisecond" => frac / 1_000_000,
            "microsecond" => frac / 1_000,
            "nanosecond" => frac,
            _ => return None,
        })
    }))
}

fn start_of(ns: i64, unit: &str, offset: i64) -> Option<i64> {
    use chrono::{Datelike, NaiveDate};
    let d = civil(ns)?;
    let first = match unit {
        "month" => add_months(NaiveDate::from_ymd_opt(d.year(), d.month(), 1)?.and_hms_opt(0, 0, 0)?, offset)?,
        "year" => {
            NaiveDate::from_ymd_opt(d.year().checked_add(i32::try_from(offset).ok()?)?, 1, 1)?.and_hms_opt(0, 0, 0)?
        }
        "day" => return ns.div_euclid(DAY).checked_add(offset)?.checked_mul(DAY),
        _ => {
            // Weeks start on Sunday (1970-01-01 was a Thursday).
            let w = (ns + 4 * DAY).div_euclid(7 * DAY).checked_add(offset)?;
            return w.checked_mul(7 * DAY).map(|x| x - 4 * DAY);
        }
    };
    to_ns(first)
}

fn start_end(args: &[ColumnarValue], n: usize, unit: &'static str, end: bool) -> Result<ColumnarValue> {
    let t = nanos(arg(args, 0, unit)?)?;
    let off = opt_ints(args, 1)?;
    Ok(out_dt(n, |i| {
        let o = off.as_ref().map(|o| o.at(i)).unwrap_or(Some(0))?;
        if end {
            // The last tick (100 ns) before the next period starts.
            start_of(t.at(i)?, unit, o.checked_add(1)?).map(|x| x - 100)
        } else {
            start_of(t.at(i)?, unit, o)
        }
    }))
}
pub fn startofmonth(a: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    start_end(a, n, "month", false)
}
pub fn startofyear(a: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    start_end(a, n, "year", false)
}
pub fn endofday(a: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    start_end(a, n, "day", true)
}
pub fn endofweek(a: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    start_end(a, n, "week", true)
}
pub fn endofmonth(a: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    start_end(a, n, "month", true)
}
pub fn endofyear(a: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    start_end(a, n, "year", true)
}

fn date_field(args: &[ColumnarValue], n: usize, f: fn(chrono::NaiveDateTime) -> i64) -> Result<ColumnarValue> {
    let t = nanos(arg(args, 0, "datetime")?)?;
    Ok(out_i32(n, |i| civil(t.at(i)?).map(f)))
}
pub fn hourofday(a: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    date_field(a, n, |d| chrono::Timelike::hour(&d) as i64)
}
pub fn getmonth(a: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    date_field(a, n, |d| chrono::Datelike::month(&d) as i64)
}
pub fn getyear(a: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    date_field(a, n, |d| chrono::Datelike::year(&d) as i64)
}
pub fn dayofmonth(a: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    date_field(a, n, |d| chrono::Datelike::day(&d) as i64)
}
pub fn dayofyear(a: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    date_field(a, n, |d| chrono::Datelike::ordinal(&d) as i64)
}

/// `make_datetime(year, month, day [, hour, minute, second])`.
pub fn make_datetime(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let parts: Vec<Ints> = args.iter().take(5).map(ints).collect::<Result<_>>()?;
    let sec = args.get(5).map(reals).transpose()?;
    Ok(out_dt(n, |i| {
        let p = |k: usize| parts.get(k).map(|x| x.at(i)).unwrap_or(Some(0));
        let (y, mo, d, h, mi) = (p(0)?, p(1)?, p(2)?, p(3)?, p(4)?);
        let s = sec.as_ref().map(|s| s.at(i)).unwrap_or(Some(0.0))?;
        let date =
            chrono::NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, u32::try_from(mo).ok()?, u32::try_from(d).ok()?)?;
        let t = date.and_hms_opt(u32::try_from(h).ok()?, u32::try_from(mi).ok()?, 0)?;
        if !(0.0..60.0).contains(&s) {
            return None;
        }
        to_ns(t)?.checked_add((s * NS as f64).round() as i64)
    }))
}

/// `make_timespan(hour, minute)`, `(hour, minute, second)`, `(day, hour, minute, second)`.
pub fn make_timespan(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let k = args.len();
    let whole: Vec<Ints> = args.iter().take(k.saturating_sub(1).clamp(2, 3)).map(ints).collect::<Result<_>>()?;
    let last = if k >= 3 { Some(reals(&args[k - 1])?) } else { None };
    Ok(out_ts(n, |i| {
        let w: Vec<i64> = whole.iter().map(|x| x.at(i)).collect::<Option<_>>()?;
        let secs = last.as_ref().map(|l| l.at(i)).unwrap_or(Some(0.0))?;
        let (d, h, m) = match (k, w.as_slice()) {
            (2, [h, m]) => (0, *h, *m),
            (3, [h, m]) => (0, *h, *m),
            (4, [d, h, m]) => (*d, *h, *m),
            _ => return None,
        };
        let base = d.checked_mul(DAY)?.checked_add(h.checked_mul(3600 * NS)?)?.checked_add(m.checked_mul(60 * NS)?)?;
        base.checked_add((secs * NS as f64).round() as i64)
    }))
}

// ---- IP addresses --------------------------------------------------------------

/// An IPv4 address with an optional `/prefix` (default 32).
fn v4(s: &str) -> Option<(u32, u32)> {
    let (a, p) = match s.trim().split_once('/') {
        Some((a, p)) => (a, p.parse::<u32>().ok().filter(|p| *p <= 32)?),
        None => (s.trim(), 32),
    };
    Some((u32::from(a.parse::<Ipv4Addr>().ok()?), p))
}
fn mask4(p: u32) -> u32 {
    if p == 0 {
        0
    } else {
        u32::MAX << (32 - p)
    }
}

pub fn ipv4_is_in_range(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(out_bool(n, |i| {
        let (ip, _) = v4(s_at(&a, 0, i))?;
        let (net, p) = v4(s_at(&a, 1, i))?;
        Some(ip & mask4(p) == net & mask4(p))
    }))
}

/// `ipv4_compare(a, b [, prefix])`: -1, 0 or 1 over the common prefix.
fn cmp4(a: &str, b: &str, prefix: Option<i64>) -> Option<i64> {
    let (x, px) = v4(a)?;
    let (y, py) = v4(b)?;
    let p = prefix.map(|p| p.clamp(0, 32) as u32).unwrap_or(32).min(px).min(py);
    Some(match (x & mask4(p)).cmp(&(y & mask4(p))) {
        std::cmp::Ordering::Less => -1,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
    })
}

pub fn ipv4_compare(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a: Vec<Strs> = args.iter().take(2).map(strs).collect::<Result<_>>()?;
    let p = opt_ints(args, 2)?;
    Ok(out_i64(n, |i| cmp4(s_at(&a, 0, i), s_at(&a, 1, i), p.as_ref().and_then(|p| p.at(i)))))
}

pub fn ipv4_is_match(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a: Vec<Strs> = args.iter().take(2).map(strs).collect::<Result<_>>()?;
    let p = opt_ints(args, 2)?;
    Ok(out_bool(n, |i| cmp4(s_at(&a, 0, i), s_at(&a, 1, i), p.as_ref().and_then(|p| p.at(i))).map(|c| c == 0)))
}

pub fn parse_ipv4(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(out_i64(n, |i| {
        let (ip, p) = v4(s_at(&a, 0, i))?;
        Some((ip & mask4(p)) as i64)
    }))
}

/// An IPv6 address (IPv4 ones as v4-mapped) with an optional `/prefix`.
fn v6(s: &str) -> Option<(u128, u32)> {
    let (a, p) = match s.trim().split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u32>().ok()?)),
        None => (s.trim(), None),
    };
    if let Ok(v) = a.parse::<Ipv4Addr>() {
        let p = p.map(|p| p.min(32) + 96).unwrap_or(128);
        return Some((u128::from(v.to_ipv6_mapped()), p));
    }
    Some((u128::from(a.parse::<Ipv6Addr>().ok()?), p.unwrap_or(128).min(128)))
}

fn cmp6(a: &str, b: &str, prefix: Option<i64>) -> Option<i64> {
    let (x, px) = v6(a)?;
    let (y, py) = v6(b)?;
    let p = prefix.map(|p| p.clamp(0, 128) as u32).unwrap_or(128).min(px).min(py);
    let m = if p == 0 { 0 } else { u128::MAX << (128 - p) };
    Some(match (x & m).cmp(&(y & m)) {
        std::cmp::Ordering::Less => -1,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
    })
}

pub fn ipv6_compare(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a: Vec<Strs> = args.iter().take(2).map(strs).collect::<Result<_>>()?;
    let p = opt_ints(args, 2)?;
    Ok(out_i64(n, |i| cmp6(s_at(&a, 0, i), s_at(&a, 1, i), p.as_ref().and_then(|p| p.at(i)))))
}

pub fn ipv6_is_match(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a: Vec<Strs> = args.iter().take(2).map(strs).collect::<Result<_>>()?;
    let p = opt_ints(args, 2)?;
    Ok(out_bool(n, |i| cmp6(s_at(&a, 0, i), s_at(&a, 1, i), p.as_ref().and_then(|p| p.at(i))).map(|c| c == 0)))
}

// ---- arrays and bags -----------------------------------------------------------

fn arrays_at(a: &[Strs], i: usize) -> Option<Vec<Vec<J>>> {
    (0..a.len())
        .map(|k| match json_at(a, k, i) {
            Some(J::Array(v)) => Some(v),
            _ => None,
        })
        .collect()
}

/// Kusto's sort order for array elements: nulls last, numbers, then text.
fn sort_key(v: &J) -> (u8, f64, String) {
    match v {
        J::Null => (3, 0.0, String::new()),
        J::Number(x) => (0, x.as_f64().unwrap_or(0.0), String::new()),
        J::Bool(b) => (0, *b as u8 as f64, String::new()),
        other => (1, 0.0, j_text(other)),
    }
}

fn array_sort(args: &[ColumnarValue], n: usize, desc: bool) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(out_json(n, |i| {
        let mut v = match json_at(&a, 0, i)? {
            J::Array(v) => v,
            _ => return None,
        };
        v.sort_by(|x, y| {
            let (kx, ky) = (sort_key(x), sort_key(y));
            let o = kx.0.cmp(&ky.0).then(kx.1.total_cmp(&ky.1)).then(kx.2.cmp(&ky.2));
            // Nulls stay last either way.
            if desc && kx.0 != 3 && ky.0 != 3 {
                o.reverse()
            } else {
                o
            }
        });
        Some(J::Array(v))
    }))
}
pub fn array_sort_asc(a: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    array_sort(a, n, false)
}
pub fn array_sort_desc(a: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    array_sort(a, n, true)
}

pub fn array_concat(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(out_json(n, |i| Some(J::Array(arrays_at(&a, i)?.into_iter().flatten().collect()))))
}

fn distinct(items: impl IntoIterator<Item = J>) -> Vec<J> {
    let mut seen = std::collections::HashSet::new();
    items.into_iter().filter(|v| seen.insert(v.to_string())).collect()
}

pub fn set_union(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(out_json(n, |i| Some(J::Array(distinct(arrays_at(&a, i)?.into_iter().flatten())))))
}

pub fn set_intersect(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(out_json(n, |i| {
        let arrs = arrays_at(&a, i)?;
        let (first, rest) = arrs.split_first()?;
        let keep = first.iter().filter(|v| rest.iter().all(|r| r.contains(v))).cloned();
        Some(J::Array(distinct(keep)))
    }))
}

pub fn set_difference(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(out_json(n, |i| {
        let arrs = arrays_at(&a, i)?;
        let (first, rest) = arrs.split_first()?;
        let keep = first.iter().filter(|v| !rest.iter().any(|r| r.contains(v))).cloned();
        Some(J::Array(distinct(keep)))
    }))
}

pub fn bag_keys(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(out_json(n, |i| match json_at(&a, 0, i)? {
        J::Object(m) => Some(J::Array(m.keys().map(|k| J::String(k.clone())).collect())),
        _ => None,
    }))
}

/// `bag_merge(b1, b2, ...)`: the first bag's value wins on a clash.
pub fn bag_merge(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(out_json(n, |i| {
        let mut out = serde_json::Map::new();
        for k in 0..a.len() {
            if let Some(J::Object(m)) = json_at(&a, k, i) {
                for (key, v) in m {
                    out.entry(key).or_insert(v);
                }
            }
        }
        Some(J::Object(out))
    }))
}

/// `zip(a1, a2, ...)`: arrays of the i-th elements, the shorter padded with null.
pub fn zip(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(out_json(n, |i| {
        let arrs = arrays_at(&a, i)?;
        let len = arrs.iter().map(Vec::len).max().unwrap_or(0);
        Some(J::Array(
            (0..len).map(|k| J::Array(arrs.iter().map(|v| v.get(k).cloned().unwrap_or(J::Null)).collect())).collect(),
        ))
    }))
}

// ---- mv-expand -----------------------------------------------------------------

/// The elements `mv-expand` makes of a dynamic value, as JSON texts: an
/// array's elements, a bag's properties (`{k: v}`, or `[k, v]` with
/// `kind=array`), a scalar as itself; at most `limit`.
fn mv_elements(v: Option<J>, bag_as_array: bool, limit: usize) -> Vec<String> {
    match v {
        None | Some(J::Null) => Vec::new(),
        Some(J::Array(items)) => items.iter().take(limit).map(J::to_string).collect(),
        Some(J::Object(m)) => m
            .into_iter()
            .take(limit)
            .map(|(k, v)| {
                if bag_as_array {
                    J::Array(vec![J::String(k), v]).to_string()
                } else {
                    J::Object([(k, v)].into_iter().collect()).to_string()
                }
            })
            .collect(),
        Some(other) => vec![other.to_string()],
    }
}

fn list_of<T: AsRef<str>>(rows: Vec<Vec<T>>) -> ArrayRef {
    use datafusion::arrow::array::{ListBuilder, StringBuilder};
    let mut b = ListBuilder::new(StringBuilder::new());
    for r in rows {
        for s in r {
            b.values().append_value(s.as_ref());
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

/// `kql_mv_items(json, bag_as_array, limit)` -> List<Utf8>.
pub fn mv_items(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = strs(arg(args, 0, "mv-expand")?)?;
    let bag_as_array = matches!(args.get(1), Some(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true)))));
    let limit = opt_ints(args, 2)?.and_then(|l| l.at(0)).unwrap_or(i64::MAX).max(0);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let rows =
        (0..n).map(|i| mv_elements(a.at(i).and_then(|t| serde_json::from_str(t).ok()), bag_as_array, limit)).collect();
    Ok(ColumnarValue::Array(list_of(rows)))
}

/// `kql_mv_index(limit, json1, json2, ...)` -> List<Utf8> of 0..n, n the
/// longest expansion of the row.
pub fn mv_index(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let limit = ints(arg(args, 0, "mv-expand")?)?.at(0).unwrap_or(i64::MAX).max(0);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let cols: Vec<Strs> = args.iter().skip(1).map(strs).collect::<Result<_>>()?;
    let rows = (0..n)
        .map(|i| {
            let len = cols
                .iter()
                .map(|c| mv_elements(c.at(i).and_then(|t| serde_json::from_str(t).ok()), false, limit).len())
                .max()
                .unwrap_or(0);
            (0..len).map(|k| k.to_string()).collect()
        })
        .collect();
    Ok(ColumnarValue::Array(list_of(rows)))
}

// ---- series --------------------------------------------------------------------

fn series(a: &[Strs], i: usize) -> Option<Vec<f64>> {
    match json_at(a, 0, i)? {
        J::Array(v) => Some(v.iter().filter_map(J::as_f64).collect()),
        _ => None,
    }
}

fn num(x: f64) -> J {
    serde_json::Number::from_f64(x).map(J::Number).unwrap_or(J::Null)
}

/// `series_stats(x)`: min, min_idx, max, max_idx, avg, variance (sample), stdev.
pub fn series_stats(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(out_json(n, |i| {
        let v = series(&a, i)?;
        if v.is_empty() {
            return None;
        }
        let (mut mi, mut ma) = (0, 0);
        for (k, x) in v.iter().enumerate() {
            if *x < v[mi] {
                mi = k;
            }
            if *x > v[ma] {
                ma = k;
            }
        }
        let len = v.len() as f64;
        let avg = v.iter().sum::<f64>() / len;
        let var = if v.len() > 1 { v.iter().map(|x| (x - avg).powi(2)).sum::<f64>() / (len - 1.0) } else { 0.0 };
        Some(serde_json::json!({
            "min": num(v[mi]), "min_idx": mi, "max": num(v[ma]), "max_idx": ma,
            "avg": num(avg), "variance": num(var), "stdev": num(var.sqrt()),
        }))
    }))
}

/// `series_fit_line(y)`: least squares over x = 1..n.
pub fn series_fit_line(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = all_strs(args)?;
    Ok(out_json(n, |i| {
        let y = series(&a, i)?;
        let len = y.len() as f64;
        if y.is_empty() {
            return None;
        }
        let xs: Vec<f64> = (1..=y.len()).map(|k| k as f64).collect();
        let (mx, my) = (xs.iter().sum::<f64>() / len, y.iter().sum::<f64>() / len);
        let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
        let sxy: f64 = xs.iter().zip(&y).map(|(x, v)| (x - mx) * (v - my)).sum();
        let slope = if sxx == 0.0 { 0.0 } else { sxy / sxx };
        let icpt = my - slope * mx;
        let fit: Vec<f64> = xs.iter().map(|x| icpt + slope * x).collect();
        let ss_res: f64 = y.iter().zip(&fit).map(|(v, f)| (v - f).powi(2)).sum();
        let ss_tot: f64 = y.iter().map(|v| (v - my).powi(2)).sum();
        let rsq = if ss_tot == 0.0 { 1.0 } else { 1.0 - ss_res / ss_tot };
        Some(serde_json::json!({
            // Sample variances (n - 1), as Kusto reports them.
            "rsquare": num(rsq), "slope": num(slope), "variance": num(ss_tot / (len - 1.0).max(1.0)),
            "rvariance": num(ss_res / (len - 1.0).max(1.0)), "interception": num(icpt),
            "line_fit": J::Array(fit.into_iter().map(num).collect::<Vec<_>>()),
        }))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_groups() {
        assert_eq!(rewrite(r"\1-\2"), "${1}-${2}");
        assert_eq!(rewrite("a$b"), "a$$b");
    }

    #[test]
    fn dotnet_formats() {
        let f = |s: &str| dotnet_format(s, |r| Some(format!("<{r}>")));
        assert_eq!(f("yyyy-MM-dd"), "<yyyy>-<MM>-<dd>");
        assert_eq!(f("'x'd"), "x<d>");
    }

    #[test]
    fn ipv4_ranges() {
        assert_eq!(cmp4("192.168.1.1", "192.168.1.255", Some(24)), Some(0));
        assert_eq!(cmp4("192.168.1.1", "192.168.1.255", None), Some(-1));
        assert_eq!(cmp4("x", "1.2.3.4", None), None);
    }
}
