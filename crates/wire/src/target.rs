//! Destinations named on the wire: a host (name or address literal) and a port, as
//! carried by a CONNECT authority, an absolute URI, or a SOCKS request.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The host part of a destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, as written on the wire (not canonicalised: see netward-canon).
    Name(String),
    /// An address literal.
    Ip(IpAddr),
}

impl Host {
    /// Parses a host as written in a URI authority: a bracketed IPv6 literal, an IPv4
    /// literal, or a name.
    pub fn parse(s: &str) -> Host {
        let unbracketed = s.strip_prefix('[').and_then(|r| r.strip_suffix(']'));
        if let Some(v6) = unbracketed {
            if let Ok(ip) = v6.parse::<Ipv6Addr>() {
                return Host::Ip(IpAddr::V6(ip));
            }
        }
        if let Ok(ip) = s.parse::<Ipv4Addr>() {
            return Host::Ip(IpAddr::V4(ip));
        }
        Host::Name(s.to_owned())
    }

    /// The name, if this host is a name.
    pub fn name(&self) -> Option<&str> {
        match self {
            Host::Name(n) => Some(n),
            Host::Ip(_) => None,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// A destination: host and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub host: Host,
    pub port: u16,
}

impl Target {
    /// Parses `host:port` (`[v6]:port` for IPv6); without a port, `default_port` is used.
    /// Returns `None` for an empty host or a bad port.
    pub fn parse_authority(authority: &str, default_port: u16) -> Option<Target> {
        // Userinfo (`user:pass@`) may precede the host in an absolute URI.
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = if hostport.starts_with('[') {
            let close = hostport.find(']')?;
            let (h, rest) = hostport.split_at(close + 1);
            match rest.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None if rest.is_empty() => (h, None),
                None => return None,
            }
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() || host.bytes().any(|b| b.is_ascii_whitespace() || b == b'/') {
            return None;
        }
        let port = match port {
            Some("") | None => default_port,
            Some(p) => p.parse().ok()?,
        };
        Some(Target { host: Host::parse(host), port })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Splits an absolute URI (`scheme://authority/path`) into its scheme and target.
/// Returns `None` when the request target is not in absolute form.
pub fn absolute_uri_target(uri: &str) -> Option<(String, Target)> {
    let (scheme, rest) = uri.split_once("://")?;
    if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let default_port = match scheme.as_str() {
        "https" | "wss" => 443,
        "ftp" => 21,
        _ => 80,
    };
    let target = Target::parse_authority(&rest[..end], default_port)?;
    Some((scheme, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities() {
        let t = Target::parse_authority("abc:443", 80).unwrap();
        assert_eq!(t, Target { host: Host::Name("abc".into()), port: 443 });
        let t = Target::parse_authority("[::1]:8080", 80).unwrap();
        assert_eq!(t.host, Host::Ip("::1".parse().unwrap()));
        assert_eq!(t.port, 8080);
        assert_eq!(Target::parse_authority("1.2.3.4", 80).unwrap().to_string(), "1.2.3.4:80");
        assert!(Target::parse_authority("abc:99999", 80).is_none());
        assert!(Target::parse_authority(":443", 80).is_none());
        assert!(Target::parse_authority("[::1]x", 80).is_none());
    }

    #[test]
    fn absolute_uris() {
        let (s, t) = absolute_uri_target("http://u:p@Example.com:8080/x?y").unwrap();
        assert_eq!(s, "http");
        assert_eq!(t.to_string(), "Example.com:8080");
        let (_, t) = absolute_uri_target("https://[2001:db8::1]/").unwrap();
        assert_eq!(t.port, 443);
        assert!(absolute_uri_target("/index.html").is_none());
        assert!(absolute_uri_target("*").is_none());
    }
}
