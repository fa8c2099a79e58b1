//! URLs, canonicalised as Safe Browsing (v4 "URLs and hashing") says:
//! fragment dropped, white space trimmed, tab/CR/LF removed, percent-escapes
//! decoded to a fixed point and the whole URL re-escaped (bytes up to
//! 0x20, from 0x7f, `#`, `%`), then scheme lower-cased (`http` when missing),
//! userinfo dropped, host canonicalised by [`crate::host`], default port
//! dropped, path dot-segments resolved and slash runs collapsed; the query
//! is kept as it is (after the re-escaping).
//!
//! One deliberate difference: Safe Browsing drops *every* port from the
//! string it hashes; [`CanonUrl`] keeps a non-default port (a policy may
//! care about it) and [`CanonUrl::safe_browsing_form`] gives the port-less
//! Safe Browsing string.

use std::fmt;

use crate::error::{CanonError, CanonErrorKind};
use crate::escape::{escape_into, unescape_fully};
use crate::host::{canon_host_bytes, split_host_port, CanonHost, Host};

/// A canonical URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CanonUrl {
    /// Lower-case scheme, `http` if the input had none.
    pub scheme: String,
    /// Canonical host.
    pub host: Host,
    /// Port, `None` when absent or the scheme's default.
    pub port: Option<u16>,
    /// Path: starts with `/`, no `.`/`..` segments, no empty segments;
    /// keeps a trailing `/` if the input had one.
    pub path: String,
    /// Query without the `?`; `Some("")` for a URL ending in `?`.
    pub query: Option<String>,
}

impl CanonUrl {
    /// Host and port as a [`CanonHost`].
    pub fn host_port(&self) -> CanonHost {
        CanonHost { host: self.host.clone(), port: self.port }
    }

    /// The string Safe Browsing hashes: like `Display` but without a port.
    pub fn safe_browsing_form(&self) -> String {
        let mut s = String::new();
        self.write(&mut s, false);
        s
    }

    fn write(&self, out: &mut String, with_port: bool) {
        use std::fmt::Write;
        out.push_str(&self.scheme);
        out.push_str("://");
        match &self.host {
            Host::Ipv6(a) => {
                let _ = write!(out, "[{a}]");
            }
            h => {
                let _ = write!(out, "{h}");
            }
        }
        if let (true, Some(p)) = (with_port, self.port) {
            let _ = write!(out, ":{p}");
        }
        out.push_str(&self.path);
        if let Some(q) = &self.query {
            out.push('?');
            out.push_str(q);
        }
    }
}

/// `scheme://host[:port]/path[?query]`, IPv6 hosts in brackets.
impl fmt::Display for CanonUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write(&mut s, true);
        f.write_str(&s)
    }
}

/// The port a scheme implies, which the canonical form leaves out.
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "ftp" => Some(21),
        _ => None,
    }
}

/// Length of a `scheme://` prefix, if the text starts with one.
pub(crate) fn scheme_len(text: &[u8]) -> Option<usize> {
    let first = *text.first()?;
    if !first.is_ascii_alphabetic() {
        return None;
    }
    let end = text.iter().position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))?;
    text[end..].starts_with(b"://").then_some(end)
}

/// `mailto:x@y`, `http:host`: a scheme followed by something that is
/// neither `//` nor a port number. Returns the colon's offset.
fn opaque_scheme(text: &[u8]) -> Option<usize> {
    let colon = text.iter().position(|&b| b == b':')?;
    let (name, after) = (&text[..colon], &text[colon + 1..]);
    let scheme_like = name.first().is_some_and(u8::is_ascii_alphabetic)
        && name.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    let port_like = after.first().is_none_or(|&b| b.is_ascii_digit() || b == b'/' || b == b'?');
    (scheme_like && !port_like).then_some(colon)
}

/// Canonicalise a URL (see the module docs). Input without a scheme is
/// taken as `http://`.
pub fn canonical_url(input: &str) -> Result<CanonUrl, CanonError> {
    canonical_url_bytes(input.as_bytes())
}

/// [`canonical_url`] for raw bytes, e.g. a request target that is not UTF-8.
pub fn canonical_url_bytes(input: &[u8]) -> Result<CanonUrl, CanonError> {
    let no_fragment = match input.iter().position(|&b| b == b'#') {
        Some(i) => &input[..i],
        None => input,
    };
    let prepared = crate::prepare(no_fragment);
    if prepared.is_empty() {
        return Err(CanonError::new(CanonErrorKind::Empty, 0));
    }
    let mut text = String::with_capacity(prepared.len());
    escape_into(&unescape_fully(&prepared), &mut text);
    let bytes = text.as_bytes();

    let (scheme, rest_at) = match scheme_len(bytes) {
        Some(n) => (text[..n].to_ascii_lowercase(), n + 3),
        None => {
            if let Some(colon) = opaque_scheme(bytes) {
                return Err(CanonError::new(CanonErrorKind::NotHierarchical, colon));
            }
            ("http".to_string(), 0)
        }
    };
    let rest = &bytes[rest_at..];
    let auth_end = rest.iter().position(|&b| b == b'/' || b == b'?').unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    // Userinfo ends at the last '@' of the authority.
    let host_at = authority.iter().rposition(|&b| b == b'@').map_or(0, |i| i + 1);
    let (host_text, port) = split_host_port(&authority[host_at..], rest_at + host_at)?;
    if host_text.is_empty() {
        return Err(CanonError::new(CanonErrorKind::EmptyHost, rest_at + host_at));
    }
    let host = canon_host_bytes(&unescape_fully(host_text), rest_at + host_at)?;
    let port = port.filter(|&p| Some(p) != default_port(&scheme));

    let tail = &text[rest_at + auth_end..];
    let (path_text, query) = match tail.find('?') {
        Some(q) => (&tail[..q], Some(tail[q + 1..].to_string())),
        None => (tail, None),
    };
    Ok(CanonUrl { scheme, host, port, path: canonical_path(path_text), query })
}

/// Resolve `.`/`..` segments and collapse slash runs; always starts with
/// `/`; a trailing `/` is kept, and a final `.` or `..` leaves one.
pub(crate) fn canonical_path(path: &str) -> String {
    let mut stack: Vec<&str> = Vec::new();
    let mut last = "";
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        match seg {
            "." => {}
            ".." => {
                stack.pop();
            }
            s => stack.push(s),
        }
        last = seg;
    }
    // A final `.` or `..` names a directory, so it leaves a slash.
    let trailing_slash = path.ends_with('/') || last == "." || last == "..";
    let mut out = String::with_capacity(path.len() + 1);
    for s in &stack {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() || trailing_slash {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(canonical_path(""), "/");
        assert_eq!(canonical_path("/"), "/");
        assert_eq!(canonical_path("/a/./b"), "/a/b");
        assert_eq!(canonical_path("/a/../b"), "/b");
        assert_eq!(canonical_path("/a/b/.."), "/a/");
        assert_eq!(canonical_path("/a/b/."), "/a/b/");
        assert_eq!(canonical_path("/../../a"), "/a");
        assert_eq!(canonical_path("//a///b//"), "/a/b/");
        assert_eq!(canonical_path("/a/..b"), "/a/..b");
        assert_eq!(canonical_path("/a/.b/"), "/a/.b/");
    }

    #[test]
    fn ports_and_userinfo() {
        let u = canonical_url("HTTPS://user:pw@WWW.Evil.EXAMPLE:443/x").unwrap();
        assert_eq!(u.to_string(), "https://www.evil.example/x");
        let u = canonical_url("http://evil.example:8080/x?a=b").unwrap();
        assert_eq!(u.port, Some(8080));
        assert_eq!(u.to_string(), "http://evil.example:8080/x?a=b");
        assert_eq!(u.safe_browsing_form(), "http://evil.example/x?a=b");
        let u = canonical_url("http://[2001:DB8::0:1]:8443/").unwrap();
        assert_eq!(u.to_string(), "http://[2001:db8::1]:8443/");
        let u = canonical_url("http://[2001:DB8::0:1]/").unwrap();
        assert_eq!(u.to_string(), "http://[2001:db8::1]/");
    }

    #[test]
    fn errors_have_positions() {
        let e = canonical_url("http://evil.example:99999/").unwrap_err();
        assert_eq!(e, CanonError::new(CanonErrorKind::InvalidPort, 20));
        let e = canonical_url("http:///path").unwrap_err();
        assert_eq!(e, CanonError::new(CanonErrorKind::EmptyHost, 7));
        let e = canonical_url("http://[::1/").unwrap_err();
        assert_eq!(e.kind, CanonErrorKind::InvalidIpv6);
        assert_eq!(canonical_url("  #frag").unwrap_err().kind, CanonErrorKind::Empty);
        let e = canonical_url("mailto:someone@evil.example").unwrap_err();
        assert_eq!(e, CanonError::new(CanonErrorKind::NotHierarchical, 6));
        assert_eq!(canonical_url("www.google.com:xxyy/foo.html:80").unwrap_err().kind, CanonErrorKind::NotHierarchical);
        assert_eq!(canonical_url("www.google.com:80").unwrap().to_string(), "http://www.google.com/");
    }
}
