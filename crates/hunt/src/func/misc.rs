//! Conversions, URLs, IP addresses and binning.

use super::dynamic::quote;
use super::{arg, ints, strs, utf8s};
use datafusion::arrow::array::{
    Array, AsArray, DurationNanosecondArray, Float64Array, Int64Array, TimestampNanosecondArray,
};
use datafusion::arrow::datatypes::{DataType, DurationNanosecondType, Float64Type, TimeUnit, TimestampNanosecondType};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::ColumnarValue;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// `tostring(x)` for non-dynamic `x`: KQL's text forms; null gives `""`.
pub fn tostring(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let a = arg(args, 0, "tostring")?.to_array(n)?;
    let out: Vec<String> = match a.data_type() {
        DataType::Timestamp(TimeUnit::Nanosecond, _) => a
            .as_primitive::<TimestampNanosecondType>()
            .iter()
            .map(|v| v.map(crate::value::format_datetime).unwrap_or_default())
            .collect(),
        DataType::Duration(TimeUnit::Nanosecond) => a
            .as_primitive::<DurationNanosecondType>()
            .iter()
            .map(|v| v.map(crate::value::format_timespan).unwrap_or_default())
            .collect(),
        DataType::Null => vec![String::new(); n],
        _ => {
            let s = strs(&ColumnarValue::Array(a))?;
            (0..n).map(|i| s.at(i).unwrap_or("").to_string()).collect()
        }
    };
    let mut out = out;
    Ok(utf8s(n, |i| Some(std::mem::take(&mut out[i]))))
}

/// `parse_url(s)`: `{"Scheme","Host","Port","Path","Username","Password",
/// "Query Parameters","Fragment"}` in that order; all empty when `s` is not
/// an absolute URL.
pub fn parse_url(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let s = strs(arg(args, 0, "parse_url")?)?;
    Ok(utf8s(n, |i| Some(url_json(s.at(i).unwrap_or("")))))
}

fn url_json(s: &str) -> String {
    let parsed = url::Url::parse(s).ok();
    let (scheme, host, port, path, user, pass, query, frag) = match &parsed {
        Some(u) => (
            u.scheme().to_string(),
            u.host_str().unwrap_or("").to_string(),
            u.port().map(|p| p.to_string()).unwrap_or_default(),
            u.path().to_string(),
            u.username().to_string(),
            u.password().unwrap_or("").to_string(),
            u.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect::<Vec<_>>(),
            u.fragment().unwrap_or("").to_string(),
        ),
        None => Default::default(),
    };
    let q: Vec<String> = query.iter().map(|(k, v)| format!("{}:{}", quote(k), quote(v))).collect();
    format!(
        "{{\"Scheme\":{},\"Host\":{},\"Port\":{},\"Path\":{},\"Username\":{},\"Password\":{},\"Query Parameters\":{{{}}},\"Fragment\":{}}}",
        quote(&scheme),
        quote(&host),
        quote(&port),
        quote(&path),
        quote(&user),
        quote(&pass),
        q.join(","),
        quote(&frag)
    )
}

/// `ipv4_is_private(ip)`: 10/8, 172.16/12, 192.168/16 (RFC 1918). An
/// address with a `/prefix` is judged by its address. Not IPv4: null.
pub fn ipv4_is_private(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let s = strs(arg(args, 0, "ipv4_is_private")?)?;
    let out: datafusion::arrow::array::BooleanArray = (0..n)
        .map(|i| {
            let t = s.at(i)?;
            let addr = t.split('/').next()?.trim().parse::<Ipv4Addr>().ok()?;
            Some(addr.is_private())
        })
        .collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
}

/// Nanoseconds from 0001-01-01 to 1970-01-01: KQL datetimes are .NET
/// ticks since 0001-01-01, and `bin()` floors that tick count, so bins
/// larger than a day are aligned to 0001-01-01 (a Monday), not to the Unix
/// epoch (a Thursday).
const DOTNET_EPOCH_OFFSET_NS: i128 = 62_135_596_800 * 1_000_000_000;

/// `bin(datetime, timespan)`.
pub fn bin_datetime(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let t = arg(args, 0, "bin")?.to_array(n)?;
    let t = datafusion::arrow::compute::cast(&t, &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())))?;
    let t = t.as_primitive::<TimestampNanosecondType>();
    let size = durations(arg(args, 1, "bin")?, n)?;
    let out: TimestampNanosecondArray = (0..n)
        .map(|i| {
            if t.is_null(i) || size.is_null(i) {
                return None;
            }
            let s = size.value(i) as i128;
            if s <= 0 {
                return None;
            }
            let x = t.value(i) as i128 + DOTNET_EPOCH_OFFSET_NS;
            i64::try_from(x.div_euclid(s) * s - DOTNET_EPOCH_OFFSET_NS).ok()
        })
        .collect();
    Ok(ColumnarValue::Array(Arc::new(out.with_timezone("UTC"))))
}

fn durations(cv: &ColumnarValue, n: usize) -> Result<DurationNanosecondArray> {
    let a = cv.to_array(n)?;
    let a = match a.data_type() {
        DataType::Duration(TimeUnit::Nanosecond) => a,
        DataType::Int64 | DataType::Int32 => datafusion::arrow::compute::cast(&a, &DataType::Int64)
            .and_then(|x| datafusion::arrow::compute::cast(&x, &DataType::Duration(TimeUnit::Nanosecond)))?,
        other => return exec_err!("kql: bin: a datetime needs a timespan bin size, not {other}"),
    };
    Ok(a.as_primitive::<DurationNanosecondType>().clone())
}

/// `bin(timespan, timespan)`, aligned to zero.
pub fn bin_timespan(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let t = durations(arg(args, 0, "bin")?, n)?;
    let size = durations(arg(args, 1, "bin")?, n)?;
    let out: DurationNanosecondArray = (0..n)
        .map(|i| {
            if t.is_null(i) || size.is_null(i) || size.value(i) <= 0 {
                return None;
            }
            t.value(i).div_euclid(size.value(i)).checked_mul(size.value(i))
        })
        .collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
}

/// `bin(long, long)`: floor to a multiple (toward minus infinity).
pub fn bin_long(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let x = ints(arg(args, 0, "bin")?)?;
    let s = ints(arg(args, 1, "bin")?)?;
    let out: Int64Array = (0..n)
        .map(|i| {
            let (v, sz) = (x.at(i)?, s.at(i)?);
            if sz <= 0 {
                return None;
            }
            v.div_euclid(sz).checked_mul(sz)
        })
        .collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
}

/// `bin(real, real)`.
pub fn bin_real(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let cast = |cv: &ColumnarValue| -> Result<Float64Array> {
        let a = datafusion::arrow::compute::cast(&cv.to_array(n)?, &DataType::Float64)?;
        Ok(a.as_primitive::<Float64Type>().clone())
    };
    let x = cast(arg(args, 0, "bin")?)?;
    let s = cast(arg(args, 1, "bin")?)?;
    let out: Float64Array = (0..n)
        .map(|i| {
            if x.is_null(i) || s.is_null(i) || s.value(i) <= 0.0 {
                return None;
            }
            Some((x.value(i) / s.value(i)).floor() * s.value(i))
        })
        .collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
}

/// `todatetime(string)`: the formats of datetime literals; else null.
pub fn todatetime(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let s = strs(arg(args, 0, "todatetime")?)?;
    let out: TimestampNanosecondArray = (0..n).map(|i| crate::parse::parse_datetime(s.at(i)?)).collect();
    Ok(ColumnarValue::Array(Arc::new(out.with_timezone("UTC"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::common::ScalarValue;

    fn bin_at(t: &str, span_ns: i64) -> String {
        let ns = crate::parse::parse_datetime(t).unwrap();
        let args = [
            ColumnarValue::Scalar(ScalarValue::TimestampNanosecond(Some(ns), Some("UTC".into()))),
            ColumnarValue::Scalar(ScalarValue::DurationNanosecond(Some(span_ns))),
        ];
        let out = bin_datetime(&args, 1).unwrap().to_array(1).unwrap();
        crate::value::format_datetime(out.as_primitive::<TimestampNanosecondType>().value(0))
    }

    #[test]
    fn bin_on_datetimes_floors_ticks_since_year_one() {
        const D: i64 = 86_400_000_000_000;
        // Kusto's documented example.
        assert_eq!(bin_at("1970-05-11 13:45:07", D), "1970-05-11T00:00:00Z");
        assert_eq!(bin_at("2024-03-05 10:07:00", 5 * 60_000_000_000), "2024-03-05T10:05:00Z");
        // 7-day bins start on Mondays (0001-01-01 was a Monday):
        // 2024-03-07 is a Thursday; its bin starts Monday 2024-03-04.
        assert_eq!(bin_at("2024-03-07 12:00", 7 * D), "2024-03-04T00:00:00Z");
        assert_eq!(bin_at("1960-01-01 00:00:01", D), "1960-01-01T00:00:00Z");
    }

    #[test]
    fn parse_url_gives_kusto_keys() {
        let j: serde_json::Value =
            serde_json::from_str(&url_json("https://user:pw@host.example:8080/a/b?k1=v1&k2=v2#frag")).unwrap();
        assert_eq!(j["Scheme"], "https");
        assert_eq!(j["Host"], "host.example");
        assert_eq!(j["Port"], "8080");
        assert_eq!(j["Path"], "/a/b");
        assert_eq!(j["Username"], "user");
        assert_eq!(j["Query Parameters"]["k2"], "v2");
        assert_eq!(j["Fragment"], "frag");
        let j: serde_json::Value = serde_json::from_str(&url_json("not a url")).unwrap();
        assert_eq!(j["Host"], "");
    }
}
