//! How often a subscription is refreshed: `30s`, `15m`, `6h`, `1d`, or
//! combinations such as `1h30m`; kept as whole seconds.

use std::fmt;
use std::str::FromStr;

/// The shortest refresh interval: a feed server is somebody else's, and a
/// minute-by-minute poll of a big list is abuse, not freshness. Tests use it.
pub const MIN_EVERY_SECS: u64 = 5;
/// The longest: a week.
pub const MAX_EVERY_SECS: u64 = 7 * 86_400;

/// A refresh interval in seconds, within [`MIN_EVERY_SECS`]..=[`MAX_EVERY_SECS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Every(pub u64);

/// A malformed or out-of-range interval, with the position of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid interval {text:?} at character {pos}: {reason}")]
pub struct EveryError {
    /// What was given.
    pub text: String,
    /// 1-based character position of the problem.
    pub pos: usize,
    /// What is wrong.
    pub reason: String,
}

impl FromStr for Every {
    type Err = EveryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |pos: usize, reason: &str| EveryError { text: s.into(), pos, reason: reason.into() };
        if s.is_empty() {
            return Err(err(1, "empty (expected e.g. 30m, 6h, 1d)"));
        }
        let mut total: u64 = 0;
        let mut num: Option<u64> = None;
        for (i, c) in s.char_indices() {
            let pos = i + 1;
            if let Some(d) = c.to_digit(10) {
                let n = num.unwrap_or(0).checked_mul(10).and_then(|n| n.checked_add(u64::from(d)));
                num = Some(n.ok_or_else(|| err(pos, "number too large"))?);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                _ => return Err(err(pos, "expected a digit or one of the units s, m, h, d")),
            };
            let n = num.take().ok_or_else(|| err(pos, "a unit needs a number before it"))?;
            total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(|| err(pos, "too long"))?;
        }
        if num.is_some() {
            return Err(err(s.len(), "the last number needs a unit (s, m, h, d)"));
        }
        if total < MIN_EVERY_SECS {
            return Err(err(1, &format!("shorter than the minimum of {MIN_EVERY_SECS}s")));
        }
        if total > MAX_EVERY_SECS {
            return Err(err(1, "longer than the maximum of 7d"));
        }
        Ok(Every(total))
    }
}

impl fmt::Display for Every {
    /// The largest units that divide it exactly: `90s` prints `1m30s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut left = self.0;
        if left == 0 {
            return f.write_str("0s");
        }
        for (unit, name) in [(86_400, 'd'), (3600, 'h'), (60, 'm'), (1, 's')] {
            if left >= unit {
                write!(f, "{}{name}", left / unit)?;
                left %= unit;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!("30s".parse::<Every>().unwrap(), Every(30));
        assert_eq!("15m".parse::<Every>().unwrap(), Every(900));
        assert_eq!("1h30m".parse::<Every>().unwrap(), Every(5400));
        assert_eq!("1d".parse::<Every>().unwrap().to_string(), "1d");
        assert_eq!(Every(5400).to_string(), "1h30m");
        assert_eq!(Every(90).to_string(), "1m30s");
    }

    #[test]
    fn errors_say_where() {
        let e = "6x".parse::<Every>().unwrap_err();
        assert_eq!(e.pos, 2, "{e}");
        assert_eq!("h".parse::<Every>().unwrap_err().pos, 1);
        assert!("10".parse::<Every>().unwrap_err().reason.contains("unit"));
        assert!("1s".parse::<Every>().unwrap_err().reason.contains("minimum"));
        assert!("8d".parse::<Every>().unwrap_err().reason.contains("maximum"));
        assert!("99999999999999999999s".parse::<Every>().is_err());
    }
}
