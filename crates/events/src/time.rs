//! Timestamps: UTC instants with nanosecond resolution, written as RFC 3339
//! with milliseconds and `Z` — the one format netward prints and stores.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use std::fmt;
use std::str::FromStr;

/// A UTC instant, nanoseconds since the Unix epoch (the Arrow representation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a datetime: `{input}` (expected RFC 3339, e.g. 2026-11-22T10:15:00.123Z)")]
pub struct TimestampError {
    pub input: String,
}

impl Timestamp {
    pub fn from_unix_nanos(n: i64) -> Self {
        Timestamp(n)
    }
    pub fn from_unix_millis(ms: i64) -> Self {
        Timestamp(ms.saturating_mul(1_000_000))
    }
    pub fn from_unix_micros(us: i64) -> Self {
        Timestamp(us.saturating_mul(1_000))
    }
    pub fn unix_nanos(self) -> i64 {
        self.0
    }
    pub fn unix_millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    fn to_chrono(self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.0)
    }

    /// Parses RFC 3339 (any fraction, any offset, converted to UTC), and the
    /// forms Defender's CSV exports, KQL's `datetime(...)` and humans use:
    /// `2026-11-22 10:15:00.123`, `2026-11-22T10:15`, `2026/11/22`, each
    /// without an offset or with a bare `Z` (taken as UTC). The one parser of
    /// written times in the workspace: imports, feeds and KQL literals all
    /// come here.
    pub fn parse(input: &str) -> Result<Self, TimestampError> {
        let s = input.trim();
        let err = || TimestampError { input: input.to_string() };
        let dt: DateTime<Utc> = if let Ok(d) = DateTime::parse_from_rfc3339(s) {
            d.with_timezone(&Utc)
        } else {
            let bare = s.strip_suffix(['Z', 'z']).unwrap_or(s);
            const DATE_TIMES: [&str; 5] = [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M",
                "%Y-%m-%d %H:%M",
                "%Y/%m/%d %H:%M:%S%.f",
            ];
            const DATES: [&str; 2] = ["%Y-%m-%d", "%Y/%m/%d"];
            // As the Defender portal and Log Analytics show and export times
            // (always UTC): `5/14/2024, 9:46:02.768 AM`, `May 14, 2024 9:46:02 AM`;
            // and the 24-hour US form Kusto's `todatetime` reads
            // (`02/17/2016 08:39:01`, in its documented `parse` examples).
            const PORTAL: [&str; 4] = [
                "%m/%d/%Y, %I:%M:%S%.f %p",
                "%m/%d/%Y %I:%M:%S%.f %p",
                "%b %d, %Y %I:%M:%S%.f %p",
                "%m/%d/%Y %H:%M:%S%.f",
            ];
            let naive = DATE_TIMES
                .iter()
                .chain(&PORTAL)
                .find_map(|f| NaiveDateTime::parse_from_str(bare, f).ok())
                .or_else(|| {
                    DATES.iter().find_map(|f| chrono::NaiveDate::parse_from_str(bare, f).ok()?.and_hms_opt(0, 0, 0))
                })
                .ok_or_else(err)?;
            naive.and_utc()
        };
        dt.timestamp_nanos_opt().map(Timestamp).ok_or_else(err)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_chrono().to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_millis_and_z() {
        let t = Timestamp::from_unix_millis(1_763_770_500_123);
        assert_eq!(t.to_string(), "2025-11-22T00:15:00.123Z");
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn parses_offsets_fractions_and_naive_forms() {
        let z = Timestamp::parse("2025-11-22T00:15:00.123Z").unwrap();
        assert_eq!(Timestamp::parse("2025-11-22T01:15:00.123+01:00").unwrap(), z);
        assert_eq!(Timestamp::parse("2025-11-22 00:15:00.123").unwrap(), z);
        assert_eq!(Timestamp::parse("2025-11-22T00:15:00.1234567Z").unwrap().0, z.0 + 456_700);
        assert_eq!(Timestamp::parse("2025-11-22").unwrap().to_string(), "2025-11-22T00:00:00.000Z");
        // The forms KQL's `datetime(...)` takes, through the same parser.
        let minute = Timestamp::parse("2025-11-22T00:15:00Z").unwrap();
        assert_eq!(Timestamp::parse("2025-11-22T00:15").unwrap(), minute);
        assert_eq!(Timestamp::parse("2025-11-22 00:15Z").unwrap(), minute);
        assert_eq!(Timestamp::parse("2025/11/22 00:15:00").unwrap(), minute);
        assert_eq!(Timestamp::parse("2025/11/22").unwrap(), Timestamp::parse("2025-11-22").unwrap());
        // The portal's forms (UTC, 12-hour clock).
        assert_eq!(Timestamp::parse("11/22/2025, 12:15:00.123 AM").unwrap(), z);
        assert_eq!(Timestamp::parse("11/22/2025 12:15:00 PM").unwrap().to_string(), "2025-11-22T12:15:00.000Z");
        assert_eq!(Timestamp::parse("Nov 22, 2025 12:15:00 AM").unwrap(), minute);
        assert_eq!(Timestamp::parse("11/22/2025 00:15:00").unwrap(), minute);
        assert!(Timestamp::parse("2025-13-01").is_err());
        assert!(Timestamp::parse("yesterday").is_err());
        assert!(Timestamp::parse("").is_err());
    }

    #[test]
    fn negative_times_format_before_the_epoch() {
        assert_eq!(Timestamp::from_unix_millis(-1).to_string(), "1969-12-31T23:59:59.999Z");
    }
}
