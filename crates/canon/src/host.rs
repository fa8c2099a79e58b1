//! Host names and IP addresses: the canonical form every netward crate
//! compares.
//!
//! Rules, in order (they are the Safe Browsing host rules plus IDN):
//! 1. percent-escapes are decoded to a fixed point;
//! 2. non-ASCII names are mapped with UTS #46 (case fold, width fold,
//!    `。` to `.`) and converted to punycode (`bücher` -> `xn--bcher-kva`);
//! 3. leading and trailing dots are removed, runs of dots become one dot;
//! 4. a host whose last label is a number is an IPv4 address in any
//!    `inet_aton` spelling and is written as a dotted quad; if it is not a
//!    valid address it is an error, never a domain;
//! 5. IPv6 addresses are written as RFC 5952 says (lower case, longest run
//!    of zero groups as `::`); an IPv4-mapped address (`::ffff:a.b.c.d`) and
//!    a NAT64 well-known-prefix address (`64:ff9b::a.b.c.d`) are the IPv4
//!    address they stand for, as the current Safe Browsing rules say (a
//!    dual-stack socket or a NAT64 gateway reaches exactly that host);
//! 6. the remaining name is lower-cased; bytes Safe Browsing escapes
//!    (<= 0x20, >= 0x7f, `#`, `%`) are written as `%XX`. Such names cannot
//!    be resolved, but two spellings of one of them still compare equal.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{CanonError, CanonErrorKind};
use crate::escape::{escape_into, unescape_fully};
use crate::ipv4;

/// A canonical host: a domain name or an IP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// Lower-case ASCII name, punycode for IDN labels, no trailing dot.
    Domain(String),
    /// An IPv4 address (from any spelling).
    Ipv4(Ipv4Addr),
    /// An IPv6 address that is not IPv4-mapped.
    Ipv6(Ipv6Addr),
}

/// The three kinds of [`Host`], for callers that only need to know which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostKind {
    /// A domain name.
    Domain,
    /// An IPv4 address.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
}

impl Host {
    /// Which kind of host this is.
    pub fn kind(&self) -> HostKind {
        match self {
            Host::Domain(_) => HostKind::Domain,
            Host::Ipv4(_) => HostKind::Ipv4,
            Host::Ipv6(_) => HostKind::Ipv6,
        }
    }

    /// The domain name, if this is one.
    pub fn as_domain(&self) -> Option<&str> {
        match self {
            Host::Domain(d) => Some(d),
            _ => None,
        }
    }

    /// The IP address, if this is one.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        match self {
            Host::Domain(_) => None,
            Host::Ipv4(a) => Some((*a).into()),
            Host::Ipv6(a) => Some((*a).into()),
        }
    }
}

/// Bare form: IPv6 without brackets.
impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "{a}"),
        }
    }
}

/// A canonical host with the port that came with it, if any.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CanonHost {
    /// The host.
    pub host: Host,
    /// The port, if the input named one (`host:` counts as none).
    pub port: Option<u16>,
}

/// `name`, `name:port`, `v6` or `[v6]:port`.
impl fmt::Display for CanonHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.host, self.port) {
            (Host::Ipv6(a), Some(p)) => write!(f, "[{a}]:{p}"),
            (h, Some(p)) => write!(f, "{h}:{p}"),
            (h, None) => write!(f, "{h}"),
        }
    }
}

/// Canonicalise a host, optionally with a port: `Example.COM.`,
/// `bücher.example:8080`, `3279880203`, `[2001:DB8::1]:443`, `::1`.
///
/// White space around the input and tab/CR/LF inside it are dropped, like
/// Safe Browsing does for URLs. An unbracketed input with two or more
/// colons is an IPv6 address without a port.
pub fn canonical_host(input: &str) -> Result<CanonHost, CanonError> {
    let prepared = crate::prepare(input.as_bytes());
    if prepared.is_empty() {
        return Err(CanonError::new(CanonErrorKind::Empty, 0));
    }
    let decoded = unescape_fully(&prepared);
    let colons = decoded.iter().filter(|&&b| b == b':').count();
    let (host_part, port) = if decoded.first() == Some(&b'[') || colons == 1 {
        split_host_port(&decoded, 0)?
    } else {
        (&decoded[..], None)
    };
    if let Some(pos) = host_part.iter().position(|b| matches!(b, b'/' | b'?' | b'@')) {
        return Err(CanonError::new(CanonErrorKind::InvalidHostChar, pos));
    }
    let host = if colons >= 2 && decoded.first() != Some(&b'[') {
        parse_ipv6(host_part, 0)?
    } else {
        canon_host_bytes(host_part, 0)?
    };
    Ok(CanonHost { host, port })
}

/// Split `host[:port]` or `[v6][:port]`; `offset` is where `text` starts in
/// the prepared input, for error positions. The host part keeps its
/// brackets so that [`canon_host_bytes`] knows it is IPv6.
pub(crate) fn split_host_port(text: &[u8], offset: usize) -> Result<(&[u8], Option<u16>), CanonError> {
    let (host, port_text, port_at) = if text.first() == Some(&b'[') {
        let Some(close) = text.iter().position(|&b| b == b']') else {
            return Err(CanonError::new(CanonErrorKind::InvalidIpv6, offset));
        };
        let rest = &text[close + 1..];
        match rest.split_first() {
            None => (&text[..=close], None, 0),
            Some((b':', port)) => (&text[..=close], Some(port), close + 2),
            Some(_) => return Err(CanonError::new(CanonErrorKind::InvalidPort, offset + close + 1)),
        }
    } else {
        match text.iter().position(|&b| b == b':') {
            Some(colon) => (&text[..colon], Some(&text[colon + 1..]), colon + 1),
            None => (text, None, 0),
        }
    };
    let port = match port_text {
        None | Some([]) => None,
        Some(p) => Some(parse_port(p).ok_or(CanonError::new(CanonErrorKind::InvalidPort, offset + port_at))?),
    };
    Ok((host, port))
}

/// Decimal port 0..=65535; leading zeros allowed (as in URLs).
fn parse_port(text: &[u8]) -> Option<u16> {
    let mut v: u32 = 0;
    for &b in text {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
        if v > u32::from(u16::MAX) {
            return None;
        }
    }
    u16::try_from(v).ok()
}

/// Parse an IPv6 address (without brackets), folding IPv4-mapped to IPv4.
fn parse_ipv6(text: &[u8], offset: usize) -> Result<Host, CanonError> {
    let err = CanonError::new(CanonErrorKind::InvalidIpv6, offset);
    let s = std::str::from_utf8(text).map_err(|_| err)?;
    let a: Ipv6Addr = s.parse().map_err(|_| err)?;
    let seg = a.segments();
    let nat64 = seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    Ok(match a.to_ipv4_mapped() {
        Some(v4) => Host::Ipv4(v4),
        None if nat64 => Host::Ipv4(std::net::Ipv4Addr::from(u32::from(seg[6]) << 16 | u32::from(seg[7]))),
        None => Host::Ipv6(a),
    })
}

/// Remove leading/trailing dots and collapse runs of dots.
fn normalise_dots(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for label in text.split(|&b| b == b'.').filter(|l| !l.is_empty()) {
        if !out.is_empty() {
            out.push(b'.');
        }
        out.extend_from_slice(label);
    }
    out
}

/// UTS #46 mapping can produce `%` (from `％`), so decoding and mapping are
/// repeated until stable; a few rounds always suffice in practice, and the
/// bound keeps hostile input cheap.
const MAX_IDNA_ROUNDS: usize = 4;

/// Canonicalise a host that is already percent-decoded and split from its
/// port. A leading `[` means IPv6. `offset` locates `raw` in the prepared
/// input for error positions.
pub(crate) fn canon_host_bytes(raw: &[u8], offset: usize) -> Result<Host, CanonError> {
    if let Some(inner) = raw.strip_prefix(b"[") {
        let inner = inner.strip_suffix(b"]").ok_or(CanonError::new(CanonErrorKind::InvalidIpv6, offset))?;
        return parse_ipv6(inner, offset + 1);
    }
    let mut name = unescape_fully(raw);
    for _ in 0..MAX_IDNA_ROUNDS {
        if name.is_ascii() {
            break;
        }
        let dotted = normalise_dots(&name);
        match idna::domain_to_ascii_cow(&dotted, idna::AsciiDenyList::EMPTY) {
            Ok(mapped) => {
                let mapped = mapped.into_owned().into_bytes();
                name = if mapped.contains(&b'%') { unescape_fully(&mapped) } else { mapped };
            }
            // Not a valid IDN (or not UTF-8): keep the bytes, escaped below.
            Err(_) => break,
        }
    }
    let name = normalise_dots(&name);
    // Characters that delimit URL parts would make the printed form parse
    // differently (UTS #46 maps e.g. `：` to `:`), so they are refused.
    if let Some(pos) = name.iter().position(|b| matches!(b, b':' | b'/' | b'?' | b'@' | b'[' | b']')) {
        return Err(CanonError::new(CanonErrorKind::InvalidHostChar, offset + pos));
    }
    if name.is_empty() {
        return Err(CanonError::new(CanonErrorKind::EmptyHost, offset));
    }
    if ipv4::ends_in_number(&name) {
        return ipv4::parse(&name).map(Host::Ipv4).ok_or(CanonError::new(CanonErrorKind::InvalidIpv4, offset));
    }
    let lower = name.to_ascii_lowercase();
    let mut out = String::with_capacity(lower.len());
    escape_into(&lower, &mut out);
    Ok(Host::Domain(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> String {
        canonical_host(s).map(|h| h.to_string()).unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn domains() {
        assert_eq!(h("EVIL.example."), "evil.example");
        assert_eq!(h("..www..Evil.example..."), "www.evil.example");
        assert_eq!(h("bücher.example"), "xn--bcher-kva.example");
        assert_eq!(h("BÜCHER.Example"), "xn--bcher-kva.example");
        assert_eq!(h("xn--BCHER-kva.example"), "xn--bcher-kva.example");
        assert_eq!(h("www.foo。bar.com"), "www.foo.bar.com");
        assert_eq!(h("  evil.example\t"), "evil.example");
        assert_eq!(h("%65vil.example"), "evil.example");
    }

    #[test]
    fn ips_and_ports() {
        assert_eq!(h("3279880203"), "195.127.0.11");
        assert_eq!(h("0xC3.0x7f.0.11:8080"), "195.127.0.11:8080");
        assert_eq!(h("1.2.3"), "1.2.0.3");
        assert_eq!(h("[2001:DB8:0:0:0:0:0:1]:443"), "[2001:db8::1]:443");
        assert_eq!(h("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
        assert_eq!(h("[::FFFF:195.127.0.11]"), "195.127.0.11");
        assert_eq!(h("::1"), "::1");
        assert_eq!(h("example.com:"), "example.com");
        assert_eq!(h("example.com:0080"), "example.com:80");
    }

    #[test]
    fn errors() {
        let e = |s: &str| canonical_host(s).unwrap_err();
        assert_eq!(e("").kind, CanonErrorKind::Empty);
        assert_eq!(e("...").kind, CanonErrorKind::EmptyHost);
        assert_eq!(e("example.com:65536"), CanonError::new(CanonErrorKind::InvalidPort, 12));
        assert_eq!(e("example.com:8o").kind, CanonErrorKind::InvalidPort);
        assert_eq!(e("1.2.3.256").kind, CanonErrorKind::InvalidIpv4);
        assert_eq!(e("example.123").kind, CanonErrorKind::InvalidIpv4);
        assert_eq!(e("[::1").kind, CanonErrorKind::InvalidIpv6);
        assert_eq!(e("[::1]x").kind, CanonErrorKind::InvalidPort);
        assert_eq!(e("fe80::1%25eth0").kind, CanonErrorKind::InvalidIpv6);
        assert_eq!(e("[zz::1]").kind, CanonErrorKind::InvalidIpv6);
        assert_eq!(e("evil.com/x"), CanonError::new(CanonErrorKind::InvalidHostChar, 8));
        assert_eq!(e(":443").kind, CanonErrorKind::EmptyHost);
    }
}
