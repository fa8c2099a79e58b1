//! One entry point for "where is this going": a URL, a host, `host:port`,
//! an IP or `[v6]:port`, and which of those it was.

use std::fmt;

use crate::error::CanonError;
use crate::host::{canonical_host, CanonHost, Host};
use crate::url::{canonical_url, scheme_len, CanonUrl};

/// A canonical destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    /// The input was a URL (it had a `scheme://`, or a `/` or `?` after the
    /// host, as in `evil.example/path`).
    Url(CanonUrl),
    /// The input was a host, IP, `host:port` or `[v6]:port`; the host's
    /// [`crate::HostKind`] and `port` tell which.
    Host(CanonHost),
}

impl Destination {
    /// The host, whichever form the destination had.
    pub fn host(&self) -> &Host {
        match self {
            Destination::Url(u) => &u.host,
            Destination::Host(h) => &h.host,
        }
    }

    /// The port, if named and (for URLs) not the scheme's default.
    pub fn port(&self) -> Option<u16> {
        match self {
            Destination::Url(u) => u.port,
            Destination::Host(h) => h.port,
        }
    }

    /// The URL path, if the destination is a URL.
    pub fn path(&self) -> Option<&str> {
        match self {
            Destination::Url(u) => Some(&u.path),
            Destination::Host(_) => None,
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Url(u) => u.fmt(f),
            Destination::Host(h) => h.fmt(f),
        }
    }
}

/// Canonicalise anything that names a destination. A `scheme://` prefix,
/// or a `/` or `?` anywhere, makes it a URL; anything else is a host with
/// an optional port.
pub fn canonical_destination(input: &str) -> Result<Destination, CanonError> {
    let prepared = crate::prepare(input.as_bytes());
    let is_url = scheme_len(&prepared).is_some() || prepared.iter().any(|&b| b == b'/' || b == b'?');
    if is_url {
        canonical_url(input).map(Destination::Url)
    } else {
        canonical_host(input).map(Destination::Host)
    }
}
