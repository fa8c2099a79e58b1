//! The KQL lexer: turns query text into tokens with byte spans, one token at
//! a time, so the parser can re-read raw text where KQL is not tokenised
//! (the inside of `datetime(...)`).

use crate::error::{PResult, Span, SpannedError};

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A name: letters, digits, `_`; also `$left`/`$right` and the
    /// hyphenated operator names (`project-away`, `top-nested`, ...).
    Ident(String),
    Int(i64),
    Real(f64),
    /// A string literal, escapes resolved.
    Str(String),
    /// A timespan literal (`1d`, `5m`, `100ms`), in nanoseconds.
    Timespan(i64),
    Pipe,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Semi,
    Dot,
    DotDot,
    Colon,
    Assign,
    Eq,
    NotEq,
    EqTilde,
    NotTilde,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    /// `!` directly before a word: `!in`, `!has`, `!contains`...
    Bang,
    /// `~` directly after `in`: `in~`.
    Tilde,
    Eof,
}

impl Tok {
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Int(i) => format!("number {i}"),
            Tok::Real(r) => format!("number {r}"),
            Tok::Str(_) => "a string".into(),
            Tok::Timespan(_) => "a timespan".into(),
            Tok::Eof => "end of query".into(),
            other => format!("`{}`", punct_text(other)),
        }
    }
}

fn punct_text(t: &Tok) -> &'static str {
    match t {
        Tok::Pipe => "|",
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::LBracket => "[",
        Tok::RBracket => "]",
        Tok::LBrace => "{",
        Tok::RBrace => "}",
        Tok::Comma => ",",
        Tok::Semi => ";",
        Tok::Dot => ".",
        Tok::DotDot => "..",
        Tok::Colon => ":",
        Tok::Assign => "=",
        Tok::Eq => "==",
        Tok::NotEq => "!=",
        Tok::EqTilde => "=~",
        Tok::NotTilde => "!~",
        Tok::Lt => "<",
        Tok::Le => "<=",
        Tok::Gt => ">",
        Tok::Ge => ">=",
        Tok::Plus => "+",
        Tok::Minus => "-",
        Tok::Star => "*",
        Tok::Slash => "/",
        Tok::Percent => "%",
        Tok::Bang => "!",
        Tok::Tilde => "~",
        _ => "?",
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// Operator names written with a hyphen. The lexer joins `project` `-`
/// `away` into one name only for these, so `a-b` stays a subtraction.
const HYPHENATED: &[&str] = &[
    "project-away",
    "project-rename",
    "project-reorder",
    "project-keep",
    "top-nested",
    "top-hitters",
    "mv-expand",
    "mv-apply",
    "make-series",
    "parse-where",
    "parse-kv",
];

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Nanoseconds in one unit of a timespan suffix.
fn timespan_unit(unit: &str) -> Option<i64> {
    Some(match unit {
        "d" | "day" | "days" => 86_400 * NANOS_PER_SEC,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600 * NANOS_PER_SEC,
        "m" | "min" | "minute" | "minutes" => 60 * NANOS_PER_SEC,
        "s" | "sec" | "second" | "seconds" => NANOS_PER_SEC,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1_000_000,
        "microsecond" | "microseconds" => 1_000,
        "tick" | "ticks" => 100,
        "nanosecond" | "nanoseconds" => 1,
        _ => return None,
    })
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}
fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Reads the token starting at or after `pos` (skipping blanks and `//`
/// comments). Returns the token; its span ends where the next read starts.
pub fn next_token(src: &str, pos: usize) -> PResult<Token> {
    next_token_at(src, skip_blank(src, pos, &mut |_| {}))
}

/// Where the next token starts at or after `pos`: past whitespace and `//`
/// comments, each comment's span handed to `comment` (the editor colours
/// them; the parser ignores them).
pub fn skip_blank(src: &str, mut pos: usize, comment: &mut dyn FnMut(Span)) -> usize {
    let b = src.as_bytes();
    loop {
        while pos < b.len() && (b[pos] as char).is_ascii_whitespace() {
            pos += 1;
        }
        if pos + 1 < b.len() && b[pos] == b'/' && b[pos + 1] == b'/' {
            let start = pos;
            while pos < b.len() && b[pos] != b'\n' {
                pos += 1;
            }
            comment(Span::new(start, pos));
            continue;
        }
        // Non-ASCII whitespace (e.g. NBSP) also separates tokens.
        if let Some(c) = src.get(pos..).and_then(|s| s.chars().next()) {
            if !c.is_ascii() && c.is_whitespace() {
                pos += c.len_utf8();
                continue;
            }
        }
        break;
    }
    pos
}

/// The token starting exactly at `pos` (after [`skip_blank`]).
fn next_token_at(src: &str, pos: usize) -> PResult<Token> {
    let b = src.as_bytes();
    let start = pos;
    let tok = |t: Tok, end: usize| Ok(Token { tok: t, span: Span::new(start, end) });
    let Some(&c) = b.get(pos) else {
        return tok(Tok::Eof, pos);
    };
    let peek = |i: usize| b.get(pos + i).copied().unwrap_or(0);

    // Strings: "..", '..', @"..", h"..", h@'..', ```..```.
    if c == b'"' || c == b'\'' {
        return lex_quoted(src, start, pos, false);
    }
    if c == b'@' && (peek(1) == b'"' || peek(1) == b'\'') {
        return lex_quoted(src, start, pos + 1, true);
    }
    if (c == b'h' || c == b'H') && (peek(1) == b'"' || peek(1) == b'\'') {
        return lex_quoted(src, start, pos + 1, false);
    }
    if (c == b'h' || c == b'H') && peek(1) == b'@' && (peek(2) == b'"' || peek(2) == b'\'') {
        return lex_quoted(src, start, pos + 2, true);
    }
    if c == b'`' && peek(1) == b'`' && peek(2) == b'`' {
        let body_start = pos + 3;
        let rest = src.get(body_start..).unwrap_or("");
        return match rest.find("```") {
            Some(i) => tok(Tok::Str(rest[..i].to_string()), body_start + i + 3),
            None => Err(SpannedError::syntax("unterminated ``` string", Span::new(start, src.len()))),
        };
    }

    if c.is_ascii_digit() || (c == b'.' && peek(1).is_ascii_digit()) {
        return lex_number(src, start);
    }

    if is_ident_start(c) || (c == b'$' && is_ident_start(peek(1))) {
        let mut end = pos + 1;
        while end < b.len() && is_ident_char(b[end]) {
            end += 1;
        }
        // Hyphenated operator names.
        if b.get(end) == Some(&b'-') {
            let mut e2 = end + 1;
            while e2 < b.len() && (is_ident_char(b[e2])) {
                e2 += 1;
            }
            let word = &src[start..e2];
            if HYPHENATED.contains(&word) {
                return tok(Tok::Ident(word.to_string()), e2);
            }
        }
        return tok(Tok::Ident(src[start..end].to_string()), end);
    }

    let two = |t: Tok| tok(t, pos + 2);
    let one = |t: Tok| tok(t, pos + 1);
    match (c, peek(1)) {
        (b'=', b'=') => two(Tok::Eq),
        (b'=', b'~') => two(Tok::EqTilde),
        (b'=', _) => one(Tok::Assign),
        (b'!', b'=') => two(Tok::NotEq),
        (b'!', b'~') => two(Tok::NotTilde),
        (b'!', _) => one(Tok::Bang),
        (b'<', b'=') => two(Tok::Le),
        (b'<', b'>') => two(Tok::NotEq),
        (b'<', _) => one(Tok::Lt),
        (b'>', b'=') => two(Tok::Ge),
        (b'>', _) => one(Tok::Gt),
        (b'.', b'.') => two(Tok::DotDot),
        (b'.', _) => one(Tok::Dot),
        (b'|', _) => one(Tok::Pipe),
        (b'(', _) => one(Tok::LParen),
        (b')', _) => one(Tok::RParen),
        (b'[', _) => one(Tok::LBracket),
        (b']', _) => one(Tok::RBracket),
        (b'{', _) => one(Tok::LBrace),
        (b'}', _) => one(Tok::RBrace),
        (b',', _) => one(Tok::Comma),
        (b';', _) => one(Tok::Semi),
        (b':', _) => one(Tok::Colon),
        (b'+', _) => one(Tok::Plus),
        (b'-', _) => one(Tok::Minus),
        (b'*', _) => one(Tok::Star),
        (b'/', _) => one(Tok::Slash),
        (b'%', _) => one(Tok::Percent),
        (b'~', _) => one(Tok::Tilde),
        _ => {
            let ch = src.get(pos..).and_then(|s| s.chars().next()).unwrap_or('?');
            Err(SpannedError::syntax(format!("unexpected character `{ch}`"), Span::new(start, pos + ch.len_utf8())))
        }
    }
}

/// A quoted string whose opening quote is at `q`. Verbatim strings (`@`)
/// take backslashes literally and write a quote as two quotes.
fn lex_quoted(src: &str, start: usize, q: usize, verbatim: bool) -> PResult<Token> {
    let b = src.as_bytes();
    let quote = b[q];
    let mut out = String::new();
    let mut i = q + 1;
    let unterminated = || SpannedError::syntax("unterminated string literal", Span::new(start, src.len()));
    loop {
        let Some(&c) = b.get(i) else { return Err(unterminated()) };
        if c == quote {
            if verbatim && b.get(i + 1) == Some(&quote) {
                out.push(quote as char);
                i += 2;
                continue;
            }
            return Ok(Token { tok: Tok::Str(out), span: Span::new(start, i + 1) });
        }
        if c == b'\n' && !verbatim {
            return Err(SpannedError::syntax("newline in string literal", Span::new(start, i)));
        }
        if c == b'\\' && !verbatim {
            let Some(&e) = b.get(i + 1) else { return Err(unterminated()) };
            let esc = match e {
                b'n' => '\n',
                b't' => '\t',
                b'r' => '\r',
                b'0' => '\0',
                b'\\' => '\\',
                b'"' => '"',
                b'\'' => '\'',
                b'u' => {
                    let hex = src.get(i + 2..i + 6).ok_or_else(unterminated)?;
                    let v = u32::from_str_radix(hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| SpannedError::syntax("bad \\u escape", Span::new(i, i + 6)))?;
                    out.push(v);
                    i += 6;
                    continue;
                }
                _ => {
                    // The whole character after the backslash (it may be
                    // more than one byte), so the span ends on a boundary.
                    let ch = src.get(i + 1..).and_then(|s| s.chars().next()).unwrap_or('?');
                    let span = Span::new(i, i + 1 + ch.len_utf8());
                    return Err(SpannedError::syntax(format!("unknown escape `\\{ch}`"), span));
                }
            };
            out.push(esc);
            i += 2;
            continue;
        }
        // Copy one whole character.
        let ch = src.get(i..).and_then(|s| s.chars().next()).ok_or_else(unterminated)?;
        out.push(ch);
        i += ch.len_utf8();
    }
}

fn lex_number(src: &str, start: usize) -> PResult<Token> {
    let b = src.as_bytes();
    let mut i = start;
    if b.get(i) == Some(&b'0') && matches!(b.get(i + 1), Some(b'x') | Some(b'X')) {
        let mut e = i + 2;
        while e < b.len() && b[e].is_ascii_hexdigit() {
            e += 1;
        }
        let v = i64::from_str_radix(&src[i + 2..e], 16)
            .map_err(|_| SpannedError::syntax("bad hex number", Span::new(start, e)))?;
        return Ok(Token { tok: Tok::Int(v), span: Span::new(start, e) });
    }
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut real = false;
    // A fraction, but not the `..` of a range.
    if b.get(i) == Some(&b'.') && b.get(i + 1) != Some(&b'.') {
        real = true;
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if matches!(b.get(i), Some(b'e') | Some(b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+') | Some(b'-')) {
            j += 1;
        }
        if b.get(j).is_some_and(|c| c.is_ascii_digit()) {
            real = true;
            i = j;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    let num = &src[start..i];
    // A unit suffix makes it a timespan.
    if b.get(i).is_some_and(|c| c.is_ascii_alphabetic()) {
        let mut e = i;
        while e < b.len() && is_ident_char(b[e]) {
            e += 1;
        }
        let unit = &src[i..e];
        let span = Span::new(start, e);
        let per =
            timespan_unit(unit).ok_or_else(|| SpannedError::syntax(format!("unknown timespan unit `{unit}`"), span))?;
        let v: f64 = num.parse().map_err(|_| SpannedError::syntax("bad number", span))?;
        let nanos = v * per as f64;
        if !nanos.is_finite() || nanos.abs() > i64::MAX as f64 {
            return Err(SpannedError::syntax("timespan out of range", span));
        }
        return Ok(Token { tok: Tok::Timespan(nanos.round() as i64), span });
    }
    let span = Span::new(start, i);
    if real {
        let v: f64 = num.parse().map_err(|_| SpannedError::syntax("bad number", span))?;
        Ok(Token { tok: Tok::Real(v), span })
    } else {
        match num.parse::<i64>() {
            Ok(v) => Ok(Token { tok: Tok::Int(v), span }),
            Err(_) => Err(SpannedError::syntax("integer out of range", span)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(src: &str) -> Vec<Tok> {
        let mut pos = 0;
        let mut out = vec![];
        loop {
            let t = next_token(src, pos).unwrap();
            pos = t.span.end;
            if t.tok == Tok::Eof {
                return out;
            }
            out.push(t.tok);
        }
    }

    #[test]
    fn lexes_operators_timespans_and_strings() {
        use Tok::*;
        assert_eq!(
            all(r#"T | where a !in~ ("x") and b =~ 'y' // c"#),
            vec![
                Ident("T".into()),
                Pipe,
                Ident("where".into()),
                Ident("a".into()),
                Bang,
                Ident("in".into()),
                Tilde,
                LParen,
                Str("x".into()),
                RParen,
                Ident("and".into()),
                Ident("b".into()),
                EqTilde,
                Str("y".into())
            ]
        );
        assert_eq!(
            all("1d 5m 30s 100ms 1.5h"),
            vec![
                Timespan(86_400_000_000_000),
                Timespan(300_000_000_000),
                Timespan(30_000_000_000),
                Timespan(100_000_000),
                Timespan(5_400_000_000_000)
            ]
        );
        assert_eq!(
            all(r#"@'c:\x' "a\\b\"" h@"q""q""#),
            vec![Str(r"c:\x".into()), Str("a\\b\"".into()), Str("q\"q".into())]
        );
        assert_eq!(
            all("project-away a-b"),
            vec![Ident("project-away".into()), Ident("a".into()), Minus, Ident("b".into())]
        );
        assert_eq!(all("1..2 $left.x"), vec![Int(1), DotDot, Int(2), Ident("$left".into()), Dot, Ident("x".into())]);
    }

    #[test]
    fn errors_carry_spans() {
        let e = next_token("  \"abc", 0).unwrap_err();
        assert_eq!(e.span.start, 2);
        let e = next_token("5zz", 0).unwrap_err();
        assert!(e.message.contains("zz"));
        let e = next_token("  #", 0).unwrap_err();
        assert_eq!(e.span, Span::new(2, 3));
        // An unknown escape of a multibyte character: named whole, the span
        // ends on its boundary.
        let e = next_token("'\\®'", 0).unwrap_err();
        assert_eq!((e.span, e.message.as_str()), (Span::new(1, 4), "unknown escape `\\®`"));
    }
}
