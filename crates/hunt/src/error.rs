//! Errors of the hunting engine: every error a user sees names a position
//! (`line:col`, 1-based, columns counted in characters) in the query text.

use std::fmt;

/// A byte range in the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

/// What went wrong, where. `line`/`col` are 1-based; both are 0 when the
/// error has no place in the text (a time limit, a memory limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HuntError {
    pub message: String,
    pub line: usize,
    pub col: usize,
    pub kind: ErrorKind,
}

/// The class of an error, so callers can tell a bad query from a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text does not parse.
    Syntax,
    /// It parses, but names something unknown, or mixes types.
    Semantic,
    /// A construct netward does not run: a table it does not collect,
    /// a Defender-only function, an operator not implemented.
    Unsupported,
    /// The query ran past its time limit.
    Timeout,
    /// The query needed more memory than its limit.
    MemoryLimit,
    /// Execution failed.
    Execution,
}

impl fmt::Display for HuntError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "{} ({}:{})", self.message, self.line, self.col)
        }
    }
}

impl std::error::Error for HuntError {}

/// Marks a message written for an engine error until the construct is named.
const ENGINE_MARK: &str = "\u{1}";

/// An error before it is placed in the text: a message and a span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpannedError {
    pub message: String,
    pub span: Span,
    pub kind: ErrorKind,
}

impl SpannedError {
    pub fn syntax(message: impl Into<String>, span: Span) -> Self {
        SpannedError { message: message.into(), span, kind: ErrorKind::Syntax }
    }
    pub fn semantic(message: impl Into<String>, span: Span) -> Self {
        SpannedError { message: message.into(), span, kind: ErrorKind::Semantic }
    }
    pub fn unsupported(message: impl Into<String>, span: Span) -> Self {
        SpannedError { message: message.into(), span, kind: ErrorKind::Unsupported }
    }

    /// An error the engine (DataFusion) raised, in netward's words: the
    /// engine's own text never reaches the user. The construct it arose in
    /// is named by [`SpannedError::in_construct`] on the way out.
    pub fn engine(message: impl Into<String>, span: Span) -> Self {
        SpannedError { message: format!("{ENGINE_MARK}{}", message.into()), span, kind: ErrorKind::Semantic }
    }

    /// Names the operator an engine error arose in (`` `extend`: ... ``).
    pub fn in_construct(mut self, construct: &str) -> Self {
        if let Some(rest) = self.message.strip_prefix(ENGINE_MARK) {
            self.message = format!("`{construct}`: {rest}");
        }
        self
    }

    /// Places the error in `text`, turning the byte offset into line:col.
    pub fn locate(self, text: &str) -> HuntError {
        let (line, col) = line_col(text, self.span.start);
        let message = match self.message.strip_prefix(ENGINE_MARK) {
            Some(rest) => format!("in this expression: {rest}"),
            None => self.message,
        };
        HuntError { message, line, col, kind: self.kind }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
/// Offsets past the end, or inside a character, are clamped.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut off = offset.min(text.len());
    while off > 0 && !text.is_char_boundary(off) {
        off -= 1;
    }
    let before = text.get(..off).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = before.get(line_start..).map(|s| s.chars().count()).unwrap_or(0) + 1;
    (line, col)
}

pub type PResult<T> = Result<T, SpannedError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one_in_characters() {
        let t = "ab\ncé d\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 3), (2, 1));
        // 'é' is two bytes: "d" is at byte 7, column 4.
        assert_eq!(line_col(t, 7), (2, 4));
        assert_eq!(line_col(t, 1000), (3, 1));
        // Inside a multibyte char: clamped back to its start.
        assert_eq!(line_col(t, 5), (2, 2));
    }
}
