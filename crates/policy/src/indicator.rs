//! Indicators: what they are, how their values are canonicalised, and the
//! matching rule of each type.
//!
//! | type     | value (canonical)          | matches                                         |
//! |----------|----------------------------|-------------------------------------------------|
//! | `domain` | `evil.example`             | the domain and all its subdomains               |
//! | `url`    | `evil.example/bad/`        | that exact host, path prefix on whole segments  |
//! | `ip`     | `195.127.0.11`, `2001:db8::1` | that address                                 |
//! | `cidr`   | `10.0.0.0/8`               | every address in the range                      |
//!
//! All values go through `netward-canon`, so `EVIL.example.`, `bücher.example`
//! and `3279880203` are stored as `evil.example`, `xn--bcher-kva.example` and
//! `195.127.0.11`. URL indicators ignore scheme, port and query: they name a
//! place (host and path), not a protocol. A destination seen without a path
//! (TLS SNI, a `CONNECT` authority) can only match a URL indicator whose
//! path is `/` (the whole host); use a domain indicator to cover TLS. A
//! trailing slash does not matter
//! either: `/bad` and `/bad/` both match `/bad`, `/bad/` and `/bad/x`, never
//! `/badge`. A CIDR with a full-length prefix (`/32`, `/128`) is the `ip`
//! indicator it equals; host bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use netward_canon::{canonical_host, canonical_url, CanonError, Host};
use serde::{Deserialize, Serialize};

use crate::action::{Action, Origin, UnknownWord};

/// The four indicator types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndicatorType {
    /// A domain and its subdomains.
    Domain,
    /// A host plus path prefix.
    Url,
    /// One IP address.
    Ip,
    /// An IP range.
    Cidr,
}

impl IndicatorType {
    /// The lower-case name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorType::Domain => "domain",
            IndicatorType::Url => "url",
            IndicatorType::Ip => "ip",
            IndicatorType::Cidr => "cidr",
        }
    }
}

impl fmt::Display for IndicatorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IndicatorType {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "domain" => Ok(IndicatorType::Domain),
            "url" => Ok(IndicatorType::Url),
            "ip" => Ok(IndicatorType::Ip),
            "cidr" => Ok(IndicatorType::Cidr),
            _ => Err(UnknownWord { what: "indicator type", word: s.into(), expected: "domain, url, ip, cidr" }),
        }
    }
}

/// Why a value is not a valid indicator of its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndicatorError {
    /// The canonicaliser refused it.
    #[error("{0}")]
    Canon(#[from] CanonError),
    /// Canonical, but not of the type asked for.
    #[error("{value:?} is not a valid {kind} indicator: {reason}")]
    WrongType {
        /// The type asked for.
        kind: IndicatorType,
        /// The value given.
        value: String,
        /// Why not.
        reason: &'static str,
    },
}

/// A canonical indicator value, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// Canonical domain.
    Domain(String),
    /// Exact host and path prefix (canonical, starts with `/`, no trailing
    /// `/` except for the root).
    Url {
        /// The host.
        host: Host,
        /// The path prefix.
        path: String,
    },
    /// One address.
    Ip(IpAddr),
    /// A range: network address with host bits cleared, prefix length.
    Cidr(IpAddr, u8),
}

impl Target {
    /// The type of indicator this target belongs to.
    pub fn kind(&self) -> IndicatorType {
        match self {
            Target::Domain(_) => IndicatorType::Domain,
            Target::Url { .. } => IndicatorType::Url,
            Target::Ip(_) => IndicatorType::Ip,
            Target::Cidr(..) => IndicatorType::Cidr,
        }
    }

    /// Canonicalise `raw` as an indicator of type `kind`. The type of the
    /// result can differ only for a full-length CIDR, which becomes `ip`.
    pub fn parse(kind: IndicatorType, raw: &str) -> Result<Target, IndicatorError> {
        let wrong = |reason| IndicatorError::WrongType { kind, value: raw.to_string(), reason };
        match kind {
            IndicatorType::Domain => {
                let trimmed = raw.trim();
                // `*.evil.example` says "and subdomains", which every domain
                // indicator means anyway.
                let name = trimmed.strip_prefix("*.").unwrap_or(trimmed);
                if name.contains("://") || name.contains('/') {
                    return Err(wrong("a domain has no scheme or path (use type url)"));
                }
                let h = canonical_host(name)?;
                if h.port.is_some() {
                    return Err(wrong("a domain indicator has no port"));
                }
                match h.host {
                    // Checked on the canonical name: `%2a` decodes to `*`.
                    Host::Domain(d) if d.contains('*') => Err(wrong("a wildcard is allowed only as a leading `*.`")),
                    Host::Domain(d) if d.split('.').count() > crate::hash::MAX_LABELS => {
                        Err(wrong("more than 64 labels"))
                    }
                    Host::Domain(d) => Ok(Target::Domain(d)),
                    _ => Err(wrong("this is an IP address (use type ip)")),
                }
            }
            IndicatorType::Url => {
                let u = canonical_url(raw)?;
                Ok(Target::Url { host: u.host, path: path_prefix(&u.path).to_string() })
            }
            IndicatorType::Ip => {
                if raw.contains('/') {
                    return Err(wrong("an ip indicator has no prefix length (use type cidr)"));
                }
                let h = canonical_host(raw)?;
                match (h.host.ip(), h.port) {
                    (Some(ip), None) => Ok(Target::Ip(ip)),
                    (Some(_), Some(_)) => Err(wrong("an ip indicator has no port")),
                    (None, _) => Err(wrong("not an IP address (use type domain)")),
                }
            }
            IndicatorType::Cidr => {
                let (addr, len) = raw.trim().rsplit_once('/').ok_or_else(|| wrong("missing /prefix-length"))?;
                let len: u8 = len.parse().map_err(|_| wrong("prefix length is not a number"))?;
                let h = canonical_host(addr)?;
                let ip = match (h.host.ip(), h.port) {
                    (Some(ip), None) => ip,
                    _ => return Err(wrong("not an IP address")),
                };
                // `::ffff:10.0.0.0/104` was folded to IPv4 by the canonicaliser;
                // its prefix length counts from the IPv6 width.
                let len = if ip.is_ipv4() && addr.contains(':') {
                    len.checked_sub(96).ok_or_else(|| wrong("prefix shorter than the IPv4-mapped part"))?
                } else {
                    len
                };
                let width = if ip.is_ipv4() { 32 } else { 128 };
                if len > width {
                    return Err(wrong("prefix length longer than the address"));
                }
                let net = mask(ip, len);
                Ok(if len == width { Target::Ip(net) } else { Target::Cidr(net, len) })
            }
        }
    }

    /// Specificity within the target's own class: path length for URLs,
    /// label count for domains, prefix length for IPs and ranges.
    pub fn specificity(&self) -> u32 {
        match self {
            Target::Domain(d) => d.split('.').count() as u32,
            Target::Url { path, .. } => path.len() as u32,
            Target::Ip(IpAddr::V4(_)) => 32,
            Target::Ip(IpAddr::V6(_)) => 128,
            Target::Cidr(_, len) => u32::from(*len),
        }
    }
}

/// The canonical string: `evil.example`, `evil.example/bad`,
/// `[2001:db8::1]/x`, `195.127.0.11`, `10.0.0.0/8`.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Domain(d) => f.write_str(d),
            Target::Url { host: Host::Ipv6(a), path } => write!(f, "[{a}]{path}"),
            Target::Url { host, path } => write!(f, "{host}{path}"),
            Target::Ip(a) => write!(f, "{a}"),
            Target::Cidr(a, l) => write!(f, "{a}/{l}"),
        }
    }
}

/// The stable id of a bulk feed entry: the source name and 48 bits of a
/// seedless hash of type and value, so a re-import gives an entry the id it
/// had before.
pub fn feed_entry_id(source: &str, kind: IndicatorType, value: &str) -> String {
    use crate::hash::{fnv1a, FNV_INIT};
    let h = fnv1a(value.as_bytes(), fnv1a(kind.as_str().as_bytes(), FNV_INIT) ^ 0xff);
    format!("{source}:{:012x}", h >> 16)
}

/// A canonical path without its trailing slashes (`/` stays `/`).
pub fn path_prefix(path: &str) -> &str {
    let t = path.trim_end_matches('/');
    if t.is_empty() {
        "/"
    } else {
        t
    }
}

/// Whether URL indicator path `prefix` (from [`path_prefix`]) covers the
/// canonical request path `path`: equal, or followed by a `/` in `path`.
pub fn path_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Clear the host bits of `ip` beyond `len`.
pub fn mask(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len.min(32))) };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len.min(128))) };
            IpAddr::V6((bits & m).into())
        }
    }
}

/// A stored indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicator {
    /// Stable id: a decimal number for custom indicators (never reused),
    /// `source:hash` for feed entries (the same entry keeps its id across
    /// re-imports).
    pub id: String,
    /// The type.
    #[serde(rename = "type")]
    pub kind: IndicatorType,
    /// The canonical value (see the module docs).
    pub value: String,
    /// What to do on a match.
    pub action: Action,
    /// Where it comes from.
    pub origin: Origin,
    /// The named source: `custom` or the feed's name.
    pub source: String,
    /// Short title (shown in notifications).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Longer description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Unix seconds after which the indicator no longer matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    /// Category label (feed: `phishing`, `malware_download`, ...; content
    /// category list: `Gambling`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

impl Indicator {
    /// Whether the indicator still matches at `now` (unix seconds): it
    /// expires at the instant `expires`.
    pub fn is_live(&self, now: i64) -> bool {
        self.expires.is_none_or(|e| now < e)
    }

    /// Parse the stored value back into its target.
    pub fn target(&self) -> Result<Target, IndicatorError> {
        Target::parse(self.kind, &self.value)
    }
}

/// What an admin supplies to add an indicator; the store canonicalises the
/// value and assigns the id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorSpec {
    /// The type.
    #[serde(rename = "type")]
    pub kind: IndicatorType,
    /// The value as typed.
    pub value: String,
    /// The action.
    pub action: Action,
    /// Optional title.
    #[serde(default)]
    pub title: Option<String>,
    /// Optional description.
    #[serde(default)]
    pub description: Option<String>,
    /// Optional expiry, unix seconds.
    #[serde(default)]
    pub expires: Option<i64>,
    /// Optional category label.
    #[serde(default)]
    pub category: Option<String>,
}

impl IndicatorSpec {
    /// A spec with only the required fields.
    pub fn new(kind: IndicatorType, value: impl Into<String>, action: Action) -> Self {
        IndicatorSpec {
            kind,
            value: value.into(),
            action,
            title: None,
            description: None,
            expires: None,
            category: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(kind: IndicatorType, v: &str) -> String {
        Target::parse(kind, v).map(|t| format!("{}:{t}", t.kind())).unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn canonical_values() {
        use IndicatorType::*;
        assert_eq!(canon(Domain, "EVIL.example."), "domain:evil.example");
        assert_eq!(canon(Domain, "*.Evil.example"), "domain:evil.example");
        assert!(canon(Domain, "*.*.evil.example").starts_with("ERR"));
        assert!(canon(Domain, "ev*l.example").starts_with("ERR"));
        assert!(canon(Domain, ".%2a-J-\x00\x006").starts_with("ERR"), "fuzz: escaped wildcard");
        assert_eq!(canon(Domain, "bücher.example"), "domain:xn--bcher-kva.example");
        assert!(canon(Domain, "1.2.3.4").starts_with("ERR"));
        assert!(canon(Domain, "evil.example/x").starts_with("ERR"));
        assert!(canon(Domain, "evil.example:443").starts_with("ERR"));
        assert_eq!(canon(Url, "HTTPS://Evil.example:8443/bad/?q=1#f"), "url:evil.example/bad");
        assert_eq!(canon(Url, "evil.example"), "url:evil.example/");
        assert_eq!(canon(Url, "http://[2001:DB8::1]/a/../b"), "url:[2001:db8::1]/b");
        assert_eq!(canon(Ip, "3279880203"), "ip:195.127.0.11");
        assert_eq!(canon(Ip, "2001:DB8:0::1"), "ip:2001:db8::1");
        assert!(canon(Ip, "evil.example").starts_with("ERR"));
        assert!(canon(Ip, "10.0.0.0/8").starts_with("ERR"));
        assert_eq!(canon(Cidr, "10.1.2.3/8"), "cidr:10.0.0.0/8");
        assert_eq!(canon(Cidr, "10.1.2.3/32"), "ip:10.1.2.3");
        assert_eq!(canon(Cidr, "2001:db8::1/32"), "cidr:2001:db8::/32");
        assert_eq!(canon(Cidr, "::ffff:10.1.0.0/112"), "cidr:10.1.0.0/16");
        assert_eq!(canon(Cidr, "0.0.0.0/0"), "cidr:0.0.0.0/0");
        assert!(canon(Cidr, "10.0.0.0/33").starts_with("ERR"));
        assert!(canon(Cidr, "10.0.0.0").starts_with("ERR"));
    }

    #[test]
    fn path_segments() {
        for p in ["/bad", "/bad/"] {
            let pre = path_prefix(p);
            assert!(path_matches(pre, "/bad"));
            assert!(path_matches(pre, "/bad/"));
            assert!(path_matches(pre, "/bad/x"));
            assert!(!path_matches(pre, "/badge"));
            assert!(!path_matches(pre, "/"));
        }
        assert!(path_matches("/", "/anything"));
    }
}
