//! Feed timestamps (STIX `valid_until`) to unix seconds, through netward's
//! one RFC 3339 parser, [`netward_events::Timestamp::parse`].

use netward_events::Timestamp;

const NANOS: i64 = 1_000_000_000;

/// Parse a timestamp to unix seconds (the fraction is dropped); `None` if
/// malformed. Accepts what [`Timestamp::parse`] accepts: RFC 3339 with any
/// offset, and the offset-less forms (taken as UTC).
///
/// [`Timestamp`] holds nanoseconds, so it covers 1677-09-21 to 2262-04-11.
/// Feeds write far-future expiries (`9999-12-31T23:59:59Z`); a date that is
/// valid but outside that range is clamped to its end: it expires at the
/// last instant netward can represent (or has always expired).
pub fn unix_seconds(s: &str) -> Option<i64> {
    if let Ok(t) = Timestamp::parse(s) {
        return Some(t.unix_nanos().div_euclid(NANOS));
    }
    // Out of range or malformed? Ask the same parser about the same text in
    // year 2000 (a leap year, so every month and day exists).
    let s = s.trim();
    let year: i64 = s.get(..4).filter(|y| y.bytes().all(|b| b.is_ascii_digit()))?.parse().ok()?;
    Timestamp::parse(&format!("2000{}", s.get(4..)?)).ok()?;
    match year {
        2262.. => Some(i64::MAX.div_euclid(NANOS)),
        ..=1677 => Some(i64::MIN.div_euclid(NANOS) + 1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2016-01-01T00:00:00.000Z"), Some(1_451_606_400));
        assert_eq!(unix_seconds("2024-02-29T12:30:15Z"), Some(1_709_209_815));
        assert_eq!(unix_seconds("2024-02-29T14:30:15+02:00"), Some(1_709_209_815));
        assert_eq!(unix_seconds("1969-12-31T23:59:59Z"), Some(-1));
        assert_eq!(unix_seconds("1969-12-31T23:59:59.999Z"), Some(-1));
    }

    #[test]
    fn far_future_and_past_are_clamped() {
        let end = i64::MAX / NANOS;
        assert_eq!(unix_seconds("9999-12-31T23:59:59Z"), Some(end));
        assert_eq!(unix_seconds("2262-12-01T00:00:00Z"), Some(end));
        assert!(unix_seconds("0001-01-01T00:00:00Z").is_some_and(|t| t < -9_000_000_000));
        assert_eq!(unix_seconds("9999-13-31T23:59:59Z"), None);
    }

    #[test]
    fn malformed() {
        for s in [
            "",
            "soon",
            "2016-13-01T00:00:00Z",
            "2016-01-01T00:00:00.Z",
            "x016-01-01T00:00:00Z",
            "2016-01-01T25:00:00Z",
        ] {
            assert_eq!(unix_seconds(s), None, "{s}");
        }
    }
}
