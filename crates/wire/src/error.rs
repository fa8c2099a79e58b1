//! The one error type of the crate's parsers: either more bytes are needed, or the
//! input is malformed at a known offset.

use std::fmt;

/// Why a parser stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input ends before the message does: feed more bytes.
    Incomplete,
    /// The input cannot be what the parser expects.
    Invalid {
        /// Offset of the offending byte, relative to the start of the parser's input.
        offset: usize,
        /// What was wrong, in a few words.
        what: &'static str,
    },
}

impl Error {
    pub(crate) fn invalid(offset: usize, what: &'static str) -> Self {
        Error::Invalid { offset, what }
    }

    /// Shifts the offset of an `Invalid` error by `base` (for a parser nested in another).
    pub(crate) fn shifted(self, base: usize) -> Self {
        match self {
            Error::Invalid { offset, what } => Error::Invalid { offset: offset + base, what },
            e => e,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Incomplete => f.write_str("incomplete input"),
            Error::Invalid { offset, what } => write!(f, "{what} at byte {offset}"),
        }
    }
}

impl std::error::Error for Error {}
