//! The one error type of the canonicaliser.

use std::fmt;

/// What was wrong with the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CanonErrorKind {
    /// Nothing left after trimming white space and dropping the fragment.
    Empty,
    /// The host part is empty (`http:///x`, `:443`, `...`).
    EmptyHost,
    /// The host ends in a number, so it must be an IPv4 address, but is not
    /// a valid one (`1.2.3.256`, `example.123`, `1.2.3.4.5`).
    InvalidIpv4,
    /// A bracketed or colon-bearing host that is not an IPv6 address
    /// (zone ids such as `fe80::1%eth0` are refused too).
    InvalidIpv6,
    /// A port that is not a decimal number in 0..=65535.
    InvalidPort,
    /// A character that cannot occur in a bare host (`/`, `?`, `@`).
    InvalidHostChar,
    /// A URL with a scheme but no `//` authority (`mailto:x@y`, `http:x`):
    /// it names no network destination.
    NotHierarchical,
}

impl fmt::Display for CanonErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CanonErrorKind::Empty => "empty input",
            CanonErrorKind::EmptyHost => "empty host",
            CanonErrorKind::InvalidIpv4 => "host ends in a number but is not a valid IPv4 address",
            CanonErrorKind::InvalidIpv6 => "invalid IPv6 address",
            CanonErrorKind::InvalidPort => "invalid port",
            CanonErrorKind::InvalidHostChar => "character not allowed in a host",
            CanonErrorKind::NotHierarchical => "URL without an authority (scheme not followed by //)",
        })
    }
}

/// A canonicalisation failure and where it happened.
///
/// `offset` is a byte offset into the *prepared* input: the input after
/// leading white space, tab/CR/LF, the fragment and percent-escapes were
/// dealt with (the text Safe Browsing parses). For an input with none of
/// those it is simply the byte offset into the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct CanonError {
    /// What was wrong.
    pub kind: CanonErrorKind,
    /// Where (see the type's docs).
    pub offset: usize,
}

impl CanonError {
    pub(crate) fn new(kind: CanonErrorKind, offset: usize) -> Self {
        CanonError { kind, offset }
    }
}
