//! What a query editor needs from the hunting engine: each token of the
//! text with its class (for syntax colouring), the first error with its
//! place, and the names to complete (tabular operators, keywords,
//! functions). The tokens come from the parser's own lexer
//! ([`crate::parse::lexer`]) so an editor never needs a second KQL lexer
//! that could disagree with the one that runs the query.
//!
//! Sans-IO and cheap: one pass of the lexer and one parse, both linear in
//! the text and bounded by the parser's own limits.

use crate::error::{HuntError, Span};
use crate::parse::lexer::{next_token, skip_blank, Tok, Token};
use crate::parse::parse_query;
use netward_events::Table;

/// The tabular operators the parser knows (what may follow `|`), as the
/// parser's operator table spells them; `tests/editor_names.rs` checks
/// each parses.
pub const OPERATORS: &[&str] = &[
    "where",
    "filter",
    "project",
    "extend",
    "project-away",
    "project-keep",
    "project-reorder",
    "project-rename",
    "summarize",
    "count",
    "take",
    "limit",
    "top",
    "top-nested",
    "top-hitters",
    "sort",
    "order",
    "distinct",
    "join",
    "lookup",
    "union",
    "render",
    "invoke",
    "as",
    "serialize",
    "sample",
    "getschema",
    "mv-apply",
    "mv-expand",
    "mvexpand",
    "parse",
    "parse-where",
    "search",
    "evaluate",
    "make-series",
];

/// Operators that can also start a query (`print 1`, `union T1, T2`).
const QUERY_STARTS: &[&str] = &["let", "print", "range", "union", "search", "datatable"];

/// Words of the grammar inside operators and expressions.
pub const KEYWORDS: &[&str] = &[
    "let",
    "print",
    "range",
    "datatable",
    "by",
    "on",
    "and",
    "or",
    "in",
    "has",
    "has_cs",
    "hasprefix",
    "hasprefix_cs",
    "hassuffix",
    "hassuffix_cs",
    "contains",
    "contains_cs",
    "startswith",
    "startswith_cs",
    "endswith",
    "endswith_cs",
    "matches",
    "regex",
    "has_any",
    "has_all",
    "between",
    "asc",
    "desc",
    "nulls",
    "first",
    "last",
    "with",
    "kind",
    "withsource",
    "from",
    "to",
    "step",
    "true",
    "false",
    "null",
    "inner",
    "innerunique",
    "leftouter",
    "rightouter",
    "fullouter",
    "leftanti",
    "rightanti",
    "leftsemi",
    "rightsemi",
    "anti",
    "$left",
    "$right",
];

/// The scalar and aggregate functions the planner implements (what
/// `tests/editor_names.rs` checks it plans); Defender-only and refused
/// ones are not offered.
pub const FUNCTIONS: &[&str] = &[
    "ago",
    "any",
    "arg_max",
    "arg_min",
    "array_concat",
    "array_length",
    "array_sort_asc",
    "array_sort_desc",
    "avg",
    "avgif",
    "bag_keys",
    "bag_merge",
    "bag_pack",
    "bag_remove_keys",
    "base64_decode_tostring",
    "base64_decodestring",
    "base64_encode_tostring",
    "base64_encodestring",
    "bin",
    "case",
    "coalesce",
    "count",
    "count_distinct",
    "countif",
    "countof",
    "datepart",
    "datetime_add",
    "datetime_diff",
    "datetime_part",
    "dayofmonth",
    "dayofweek",
    "dayofyear",
    "dcount",
    "dcountif",
    "endofday",
    "endofmonth",
    "endofweek",
    "endofyear",
    "extract",
    "extract_all",
    "extract_json",
    "extractjson",
    "floor",
    "format_bytes",
    "format_datetime",
    "format_timespan",
    "getmonth",
    "getyear",
    "hash_md5",
    "hash_sha1",
    "hash_sha256",
    "hourofday",
    "iff",
    "iif",
    "indexof",
    "ipv4_compare",
    "ipv4_is_in_range",
    "ipv4_is_match",
    "ipv4_is_private",
    "ipv6_compare",
    "ipv6_is_match",
    "isempty",
    "isnotempty",
    "isnotnull",
    "isnull",
    "make_datetime",
    "make_list",
    "make_list_if",
    "make_set",
    "make_set_if",
    "make_timespan",
    "makelist",
    "makeset",
    "max",
    "maxif",
    "min",
    "minif",
    "monthofyear",
    "next",
    "not",
    "now",
    "pack",
    "pack_all",
    "pack_array",
    "pack_dictionary",
    "parse_command_line",
    "parse_ipv4",
    "parse_json",
    "parse_path",
    "parse_url",
    "percentile",
    "percentiles",
    "percentiles_array",
    "prev",
    "replace",
    "replace_regex",
    "replace_string",
    "reverse",
    "round",
    "row_cumsum",
    "row_number",
    "row_rank_dense",
    "row_rank_min",
    "series_decompose",
    "series_fit_line",
    "series_fit_line_dynamic",
    "series_stats",
    "series_stats_dynamic",
    "set_difference",
    "set_intersect",
    "set_union",
    "split",
    "startofday",
    "startofmonth",
    "startofweek",
    "startofyear",
    "stdev",
    "stdevp",
    "strcat",
    "strcat_array",
    "strcat_delim",
    "string_size",
    "strlen",
    "substring",
    "sum",
    "sumif",
    "take_any",
    "tobool",
    "toboolean",
    "todatetime",
    "todecimal",
    "todouble",
    "todynamic",
    "toint",
    "tolong",
    "tolower",
    "toreal",
    "toscalar",
    "tostring",
    "totimespan",
    "toupper",
    "trim",
    "trim_end",
    "trim_start",
    "url_decode",
    "url_encode",
    "url_encode_component",
    "variance",
    "variancep",
    "zip",
];

/// What a token is, for colouring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenClass {
    /// A tabular operator after `|` or a word of the grammar (`by`, `and`,
    /// `has`, `let`).
    Keyword,
    /// A table of the event model.
    Table,
    /// A column of one of the tables.
    Column,
    /// A name called with `(`.
    Function,
    /// Any other name: a `let` binding, a new column.
    Name,
    /// A string literal.
    String,
    /// A number, a timespan, or the raw inside of `datetime(...)`.
    Number,
    Comment,
    /// Punctuation and symbolic operators (`|`, `==`, `(`).
    Punct,
    /// Text the lexer refused (an unterminated string, a stray character).
    Error,
}

impl TokenClass {
    /// The short name an editor uses (a CSS class suffix).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenClass::Keyword => "keyword",
            TokenClass::Table => "table",
            TokenClass::Column => "column",
            TokenClass::Function => "function",
            TokenClass::Name => "name",
            TokenClass::String => "string",
            TokenClass::Number => "number",
            TokenClass::Comment => "comment",
            TokenClass::Punct => "punct",
            TokenClass::Error => "error",
        }
    }
}

/// One classified piece of the text (byte offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassSpan {
    pub span: Span,
    pub class: TokenClass,
}

/// The first error parsing the text: where (bytes) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstError {
    pub span: Span,
    pub error: HuntError,
}

/// The text's tokens in order (spans never overlap) and its first parse
/// error, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Highlight {
    pub tokens: Vec<ClassSpan>,
    pub error: Option<FirstError>,
}

/// Whether `name` is a table of the event model.
fn is_table(name: &str) -> bool {
    Table::ALL.iter().any(|t| t.name() == name)
}

/// Whether `name` is a column of any table.
fn is_column(name: &str) -> bool {
    Table::ALL.iter().any(|t| t.column(name).is_some())
}

/// Classifies every token of `src` and parses it once for its first
/// error. Never fails: text the lexer refuses is an [`TokenClass::Error`]
/// span and lexing goes on after it.
pub fn highlight(src: &str) -> Highlight {
    let tokens = classify(&lex_all(src));
    let error = parse_query(src).err().map(|e| {
        let start = ceil_boundary(src, e.span.start);
        let span = Span::new(start, ceil_boundary(src, e.span.end).max(start));
        FirstError { span, error: e.locate(src) }
    });
    Highlight { tokens, error }
}

/// A lexed piece: a token, a comment, or a refused stretch.
enum Piece {
    Tok(Token),
    /// The raw inside of `datetime(...)` / `time(...)`, which the parser
    /// re-reads as text rather than tokens.
    Raw(Span),
    Comment(Span),
    Error(Span),
}

fn lex_all(src: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < src.len() {
        pos = skip_blank(src, pos, &mut |s| out.push(Piece::Comment(s)));
        match next_token(src, pos) {
            Ok(t) if t.tok == Tok::Eof => break,
            Ok(t) => {
                pos = t.span.end;
                let raw = raw_after(src, &out, &t);
                out.push(Piece::Tok(t));
                if let Some(raw) = raw {
                    out.push(Piece::Raw(raw));
                    pos = raw.end;
                }
            }
            Err(e) => {
                // Go on after the refused text (at least one character),
                // on a character boundary.
                let next = src.get(pos..).and_then(|s| s.chars().next()).map_or(1, char::len_utf8);
                let end = ceil_boundary(src, e.span.end.max(pos + next));
                out.push(Piece::Error(Span::new(pos.min(e.span.start), end)));
                pos = end;
            }
        }
    }
    out
}

/// The first character boundary at or after `i` (at most the text's end).
fn ceil_boundary(src: &str, mut i: usize) -> usize {
    while i < src.len() && !src.is_char_boundary(i) {
        i += 1;
    }
    i.min(src.len())
}

/// When `t` is the `(` of `datetime(`, `todatetime(`, `time(` or
/// `timespan(` followed by a literal the parser reads as raw text (see
/// `ident_primary` in `parse/expr.rs`), that text up to the `)`.
fn raw_after(src: &str, before: &[Piece], t: &Token) -> Option<Span> {
    if t.tok != Tok::LParen {
        return None;
    }
    let Some(Piece::Tok(Token { tok: Tok::Ident(f), .. })) = before.last() else { return None };
    let first = next_token(src, t.span.end).ok()?;
    let raw = match f.as_str() {
        "datetime" | "todatetime" => match &first.tok {
            Tok::Int(_) | Tok::Real(_) | Tok::Timespan(_) => true,
            Tok::Ident(w) => w == "null",
            _ => false,
        },
        "time" | "timespan" => {
            matches!(first.tok, Tok::Int(_) | Tok::Real(_))
                && next_token(src, first.span.end).is_ok_and(|c| c.tok == Tok::Colon && c.span.start == first.span.end)
        }
        _ => false,
    };
    if !raw {
        return None;
    }
    let close = src.get(t.span.end..)?.find(')')?;
    Some(Span::new(t.span.end, t.span.end + close))
}

fn classify(pieces: &[Piece]) -> Vec<ClassSpan> {
    let toks: Vec<Option<&Token>> = pieces.iter().map(|p| if let Piece::Tok(t) = p { Some(t) } else { None }).collect();
    // The token before / after piece `i`, skipping comments.
    let prev = |i: usize| toks[..i].iter().rev().find_map(|t| *t);
    let next = |i: usize| toks[i + 1..].iter().find_map(|t| *t);
    let mut out = Vec::with_capacity(pieces.len());
    for (i, p) in pieces.iter().enumerate() {
        let (span, class) = match p {
            Piece::Comment(s) => (*s, TokenClass::Comment),
            Piece::Raw(s) => (*s, TokenClass::Number),
            Piece::Error(s) => (*s, TokenClass::Error),
            Piece::Tok(t) => (t.span, token_class(t, prev(i), next(i))),
        };
        out.push(ClassSpan { span, class });
    }
    out
}

fn token_class(t: &Token, prev: Option<&Token>, next: Option<&Token>) -> TokenClass {
    let word = match &t.tok {
        Tok::Str(_) => return TokenClass::String,
        Tok::Int(_) | Tok::Real(_) | Tok::Timespan(_) => return TokenClass::Number,
        Tok::Ident(w) => w.as_str(),
        _ => return TokenClass::Punct,
    };
    let prev_tok = prev.map(|p| &p.tok);
    let after_pipe = prev_tok == Some(&Tok::Pipe);
    let at_start = matches!(prev_tok, None | Some(Tok::Semi));
    let called = next.is_some_and(|n| n.tok == Tok::LParen);
    // `!has`, `!contains`: the `!` is glued to the word.
    let negated = prev.is_some_and(|p| p.tok == Tok::Bang && p.span.end == t.span.start);
    if (after_pipe && OPERATORS.contains(&word)) || (at_start && QUERY_STARTS.contains(&word)) {
        return TokenClass::Keyword;
    }
    if KEYWORDS.contains(&word) && !(called && FUNCTIONS.contains(&word)) {
        return TokenClass::Keyword;
    }
    if negated {
        return TokenClass::Keyword;
    }
    if is_table(word) {
        return TokenClass::Table;
    }
    if called {
        return TokenClass::Function;
    }
    if is_column(word) {
        return TokenClass::Column;
    }
    TokenClass::Name
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (text, class) of each token.
    fn classes(src: &str) -> Vec<(String, &'static str)> {
        highlight(src).tokens.iter().map(|t| (src[t.span.start..t.span.end].to_string(), t.class.as_str())).collect()
    }

    fn class_of(src: &str, text: &str) -> &'static str {
        classes(src).into_iter().find(|(t, _)| t == text).unwrap_or_else(|| panic!("no token `{text}` in {src}")).1
    }

    #[test]
    fn classes_of_a_query() {
        let q = "DeviceNetworkEvents // recent\n| where RemoteUrl has \"example\" and RemotePort == 443\n| summarize n = count() by bin(Timestamp, 1h)\n| project-away n";
        let c = classes(q);
        let want = [
            ("DeviceNetworkEvents", "table"),
            ("// recent", "comment"),
            ("|", "punct"),
            ("where", "keyword"),
            ("RemoteUrl", "column"),
            ("has", "keyword"),
            ("\"example\"", "string"),
            ("and", "keyword"),
            ("RemotePort", "column"),
            ("==", "punct"),
            ("443", "number"),
            ("summarize", "keyword"),
            ("n", "name"),
            ("count", "function"),
            ("by", "keyword"),
            ("bin", "function"),
            ("Timestamp", "column"),
            ("1h", "number"),
            ("project-away", "keyword"),
        ];
        for (text, class) in want {
            assert!(c.contains(&(text.to_string(), class)), "{text} as {class}: {c:?}");
        }
        assert!(highlight(q).error.is_none());
        // Spans are in order and never overlap.
        let t = highlight(q).tokens;
        assert!(t.windows(2).all(|w| w[0].span.end <= w[1].span.start), "{t:?}");
    }

    #[test]
    fn operators_are_keywords_only_after_a_pipe() {
        // `count` after `|` is the operator, with `(` the aggregate.
        assert_eq!(class_of("DeviceInfo | count", "count"), "keyword");
        assert_eq!(class_of("DeviceInfo | summarize count()", "count"), "function");
        // A column may share no name with an operator, but a `let` name may.
        assert_eq!(class_of("let top5 = 5; print top5", "top5"), "name");
        assert_eq!(class_of("let x = 1; print x", "print"), "keyword");
        assert_eq!(class_of("DeviceEvents | where FileName !has 'a'", "has"), "keyword");
    }

    #[test]
    fn raw_datetime_is_one_literal_not_an_error() {
        let q = "DeviceInfo | where Timestamp > datetime(2024-01-01T10:00:00Z)";
        let c = classes(q);
        assert!(c.contains(&("2024-01-01T10:00:00Z".to_string(), "number")), "{c:?}");
        assert!(c.iter().all(|(_, k)| *k != "error"), "{c:?}");
        assert!(highlight(q).error.is_none());
    }

    #[test]
    fn the_first_error_has_its_place_and_lexing_goes_on() {
        let q = "DeviceInfo | wher x";
        let e = highlight(q).error.expect("an error");
        assert_eq!(&q[e.span.start..e.span.end], "wher");
        assert_eq!((e.error.line, e.error.col), (1, 14));
        assert!(e.error.message.contains("unknown operator"), "{}", e.error.message);

        // A stray character is an error span; the rest is still classified.
        let q = "DeviceInfo # | take 1";
        let c = classes(q);
        assert!(c.contains(&("#".to_string(), "error")), "{c:?}");
        assert!(c.contains(&("take".to_string(), "keyword")), "{c:?}");
        let e = highlight(q).error.unwrap();
        assert_eq!(e.span, Span::new(11, 12));

        // An unterminated string runs to the end.
        let q = "DeviceInfo | where DeviceName == 'ab";
        let t = highlight(q).tokens;
        let last = t.last().unwrap();
        assert_eq!((last.class, &q[last.span.start..]), (TokenClass::Error, "'ab"));
    }

    #[test]
    fn hostile_text_never_panics() {
        let long = "(".repeat(10_000);
        for q in [
            "",
            " ",
            "'",
            "\"\\",
            "@'",
            "```",
            "1e",
            "0x",
            "99999999999999999999",
            "datetime(",
            "time(1:",
            "é|ü",
            "\u{a0}",
            "!",
            "$",
            &long,
            "h'",
            "1.5zz",
            "[",
            "//",
        ] {
            let h = highlight(q);
            for t in &h.tokens {
                assert!(t.span.start <= t.span.end && t.span.end <= q.len(), "{q:?}: {t:?}");
                assert!(q.is_char_boundary(t.span.start) && q.is_char_boundary(t.span.end), "{q:?}: {t:?}");
            }
        }
    }
}
