//! KQL's text forms of datetimes and timespans, shared by literals,
//! `tostring()` and dynamic values.

use chrono::{DateTime, SecondsFormat};

/// A datetime as KQL prints it: ISO 8601 UTC, `Z`, fraction only when
/// non-zero (`2024-01-02T03:04:05Z`, `2024-01-02T03:04:05.1234567Z`).
pub fn format_datetime(unix_nanos: i64) -> String {
    let dt = DateTime::from_timestamp_nanos(unix_nanos);
    if unix_nanos.rem_euclid(1_000_000_000) == 0 {
        dt.to_rfc3339_opts(SecondsFormat::Secs, true)
    } else {
        // KQL prints 7 fraction digits (ticks); nanoseconds beyond ticks are
        // not representable in KQL, so truncating to ticks matches it.
        let base = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
        let ticks = unix_nanos.rem_euclid(1_000_000_000) / 100;
        format!("{base}.{ticks:07}Z")
    }
}

/// A timespan as KQL prints it: `[-][d.]hh:mm:ss[.fffffff]`.
pub fn format_timespan(nanos: i64) -> String {
    let neg = nanos < 0;
    let n = nanos.unsigned_abs();
    let ticks = (n % 1_000_000_000) / 100;
    let secs = n / 1_000_000_000;
    let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if d > 0 {
        out.push_str(&format!("{d}."));
    }
    out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
    if ticks > 0 {
        out.push_str(&format!(".{ticks:07}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_kql() {
        assert_eq!(format_datetime(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_datetime(1_500_000_000), "1970-01-01T00:00:01.5000000Z");
        assert_eq!(format_timespan(86_400_000_000_000 + 3_600_000_000_000), "1.01:00:00");
        assert_eq!(format_timespan(-300_000_000_000), "-00:05:00");
        assert_eq!(format_timespan(100_000_000), "00:00:00.1000000");
    }
}
