#![forbid(unsafe_code)]
//! Canonical names: the one place where host names and URLs are
//! canonicalised. Every other netward crate compares names only after
//! passing them through here, so that two spellings of one place never
//! compare different anywhere.
//!
//! * [`canonical_host`]: a host with an optional port (domain, IDN, IPv4 in
//!   any `inet_aton` spelling, IPv6) — see [`host`] for the rules;
//! * [`canonical_url`]: Safe Browsing URL canonicalisation — see [`url`];
//! * [`canonical_destination`]: either of the two, saying which it was.
//!
//! ```
//! use netward_canon::{canonical_destination, canonical_host, canonical_url};
//! assert_eq!(canonical_host("BÜCHER.example.").unwrap().to_string(), "xn--bcher-kva.example");
//! assert_eq!(canonical_url("http://3279880203/blah").unwrap().to_string(), "http://195.127.0.11/blah");
//! assert_eq!(canonical_destination("[2001:DB8::1]:443").unwrap().to_string(), "[2001:db8::1]:443");
//! ```

pub mod dest;
pub mod error;
pub mod escape;
pub mod host;
mod ipv4;
pub mod url;

pub use dest::{canonical_destination, Destination};
pub use error::{CanonError, CanonErrorKind};
pub use host::{canonical_host, CanonHost, Host, HostKind};
pub use url::{canonical_url, canonical_url_bytes, default_port, CanonUrl};

/// Trim white space (bytes <= 0x20) at both ends and drop tab, CR and LF
/// inside, as Safe Browsing does before anything else.
pub(crate) fn prepare(input: &[u8]) -> Vec<u8> {
    let start = input.iter().position(|&b| b > 0x20).unwrap_or(input.len());
    let end = input.iter().rposition(|&b| b > 0x20).map_or(start, |i| i + 1);
    input[start..end].iter().copied().filter(|&b| !matches!(b, b'\t' | b'\r' | b'\n')).collect()
}
