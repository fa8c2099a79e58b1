//! IPv4 in every spelling `inet_aton` (and so browsers and Safe Browsing)
//! accept: 1 to 4 parts, each decimal, octal (leading `0`) or hex (`0x`),
//! the last part filling the remaining bytes (`1.2.3` is `1.2.0.3`,
//! `3279880203` is `195.127.0.11`).

use std::net::Ipv4Addr;

/// Whether the host "ends in a number" (WHATWG URL): its last label is all
/// decimal digits, or `0x`/`0X` followed by hex digits. Such a host must be
/// an IPv4 address; it is never a domain name.
pub fn ends_in_number(host: &[u8]) -> bool {
    let last = host.rsplit(|&b| b == b'.').next().unwrap_or(host);
    if last.is_empty() {
        return false;
    }
    if last.iter().all(u8::is_ascii_digit) {
        return true;
    }
    match last {
        [b'0', b'x' | b'X', rest @ ..] => rest.iter().all(u8::is_ascii_hexdigit),
        _ => false,
    }
}

/// Parse one part; `None` if it is not a number or exceeds `u32`.
fn parse_part(part: &[u8]) -> Option<u64> {
    let (digits, radix) = match part {
        [] => return None,
        [b'0', b'x' | b'X', rest @ ..] => (rest, 16),
        [b'0', rest @ ..] if !rest.is_empty() => (rest, 8),
        _ => (part, 10),
    };
    let mut v: u64 = 0;
    for &d in digits {
        let digit = char::from(d).to_digit(radix)?;
        v = v.checked_mul(u64::from(radix))?.checked_add(u64::from(digit))?;
        if v > u64::from(u32::MAX) {
            return None;
        }
    }
    Some(v)
}

/// Parse a host (already lower-level normalised: no empty labels) as IPv4.
pub fn parse(host: &[u8]) -> Option<Ipv4Addr> {
    let parts: Vec<&[u8]> = host.split(|&b| b == b'.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(4);
    for p in &parts {
        nums.push(parse_part(p)?);
    }
    let (last, init) = nums.split_last()?;
    if init.iter().any(|&n| n > 255) {
        return None;
    }
    // The last part fills 4 - (n - 1) bytes.
    let last_bytes = 5 - nums.len() as u32;
    if *last >= 1u64 << (8 * last_bytes) {
        return None;
    }
    let mut v: u64 = *last;
    for (i, &n) in init.iter().enumerate() {
        v |= n << (8 * (3 - i as u32));
    }
    Some(Ipv4Addr::from(u32::try_from(v).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<String> {
        parse(s.as_bytes()).map(|a| a.to_string())
    }

    #[test]
    fn spellings() {
        assert_eq!(p("3279880203").as_deref(), Some("195.127.0.11"));
        assert_eq!(p("0xC3.0x7F.0.0xB").as_deref(), Some("195.127.0.11"));
        assert_eq!(p("0303.0177.0.013").as_deref(), Some("195.127.0.11"));
        assert_eq!(p("0xc37f000b").as_deref(), Some("195.127.0.11"));
        assert_eq!(p("195.127.11").as_deref(), Some("195.127.0.11"));
        assert_eq!(p("195.8323083").as_deref(), Some("195.127.0.11"));
        assert_eq!(p("1.2.3").as_deref(), Some("1.2.0.3"));
        assert_eq!(p("0x").as_deref(), Some("0.0.0.0"));
        assert_eq!(p("0").as_deref(), Some("0.0.0.0"));
        assert_eq!(p("255.255.255.255").as_deref(), Some("255.255.255.255"));
    }

    #[test]
    fn invalid() {
        assert_eq!(p("256.1.1.1"), None);
        assert_eq!(p("1.2.3.256"), None);
        assert_eq!(p("1.2.65536"), None);
        assert_eq!(p("4294967296"), None);
        assert_eq!(p("1.2.3.4.5"), None);
        assert_eq!(p("08"), None);
        assert_eq!(p("0xg"), None);
        assert_eq!(p("example.123"), None);
        assert_eq!(p("99999999999999999999999"), None);
    }

    #[test]
    fn ends_in_number_rule() {
        assert!(ends_in_number(b"example.123"));
        assert!(ends_in_number(b"a.0x1f"));
        assert!(ends_in_number(b"0x"));
        assert!(!ends_in_number(b"123.example"));
        assert!(!ends_in_number(b"a.0x1g"));
        assert!(!ends_in_number(b"1x"));
    }
}
