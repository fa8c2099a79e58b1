//! KQL's string operators and functions.
//!
//! Case rules: `==`, `*_cs` are case-sensitive; `=~`, `has`, `contains`,
//! `startswith`, `endswith`, `in~` compare lower-cased text (ASCII fast
//! path, Unicode lower-casing otherwise).
//!
//! Terms (`has`): a term is a maximal run of ASCII letters and digits.
//! `x has "t"` holds when `t` occurs in `x` with no letter or digit
//! directly before it (if `t` starts with one) nor directly after it (if
//! `t` ends with one) — so `"www.microsoft.com" has "microsoft"` and
//! `has "microsoft.com"` hold, `"microsoftonline.com" has "microsoft"`
//! does not. `hasprefix`/`hassuffix` check only the start/end boundary.

use super::{arg, bools, ints, strs, utf8s, Strs};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::ColumnarValue;
use memchr::memmem;
use regex::Regex;
use std::collections::HashSet;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Match {
    Has,
    HasPrefix,
    HasSuffix,
    Contains,
    StartsWith,
    EndsWith,
    Eq,
}

/// Lower-cases `s` into `buf` (ASCII fast path) and returns it.
fn lower_into<'b>(s: &str, buf: &'b mut String) -> &'b str {
    buf.clear();
    if s.is_ascii() {
        buf.extend(s.bytes().map(|b| b.to_ascii_lowercase() as char));
    } else {
        buf.push_str(&s.to_lowercase());
    }
    buf.as_str()
}

fn lower(s: &str) -> String {
    let mut b = String::new();
    lower_into(s, &mut b);
    b
}

#[inline]
fn is_term(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

struct Needle {
    text: String,
    finder: memmem::Finder<'static>,
}

impl Needle {
    fn new(s: &str, cs: bool) -> Needle {
        let text = if cs { s.to_string() } else { lower(s) };
        let finder = memmem::Finder::new(text.as_bytes()).into_owned();
        Needle { text, finder }
    }
}

/// Whether `needle` occurs in `hay` at term boundaries (`start`/`end`
/// select which boundaries are required).
fn term_match(hay: &str, n: &Needle, start: bool, end: bool) -> bool {
    let nb = n.text.as_bytes();
    let Some((&first, &last)) = nb.first().zip(nb.last()) else { return true };
    let (need_start, need_end) = (start && is_term(first), end && is_term(last));
    let hb = hay.as_bytes();
    n.finder.find_iter(hb).any(|pos| boundary_ok(hb, pos, nb.len(), need_start, need_end))
}

/// Positions where the ASCII `needle` (lower-case) occurs in `hay`,
/// ignoring ASCII case, without copying `hay`.
fn ci_matches<'h>(hay: &'h [u8], needle: &'h [u8]) -> impl Iterator<Item = usize> + 'h {
    let first = needle.first().copied().unwrap_or(0);
    let n = needle.len();
    memchr::memchr2_iter(first, first.to_ascii_uppercase(), hay)
        .filter(move |&p| hay.get(p..p + n).is_some_and(|w| w.eq_ignore_ascii_case(needle)))
}

fn boundary_ok(hb: &[u8], pos: usize, len: usize, need_start: bool, need_end: bool) -> bool {
    let e = pos + len;
    (!need_start || pos == 0 || !hb.get(pos - 1).copied().is_some_and(is_term))
        && (!need_end || e >= hb.len() || !hb.get(e).copied().is_some_and(is_term))
}

fn test(m: Match, cs: bool, hay: &str, n: &Needle, buf: &mut String) -> bool {
    // Case-insensitive with an ASCII needle: compare bytes ignoring ASCII
    // case, no lower-cased copy of the haystack.
    if !cs && n.text.is_ascii() && !n.text.is_empty() {
        let (hb, nb) = (hay.as_bytes(), n.text.as_bytes());
        let (first, last) = (nb[0], nb[nb.len() - 1]);
        return match m {
            Match::Contains => ci_matches(hb, nb).next().is_some(),
            Match::StartsWith => hb.get(..nb.len()).is_some_and(|w| w.eq_ignore_ascii_case(nb)),
            Match::EndsWith => hb.len() >= nb.len() && hb[hb.len() - nb.len()..].eq_ignore_ascii_case(nb),
            Match::Eq => hb.eq_ignore_ascii_case(nb),
            Match::Has | Match::HasPrefix | Match::HasSuffix => {
                let start = m != Match::HasSuffix && is_term(first);
                let end = m != Match::HasPrefix && is_term(last);
                ci_matches(hb, nb).any(|p| boundary_ok(hb, p, nb.len(), start, end))
            }
        };
    }
    let h = if cs { hay } else { lower_into(hay, buf) };
    match m {
        Match::Contains => n.finder.find(h.as_bytes()).is_some(),
        Match::StartsWith => h.starts_with(n.text.as_str()),
        Match::EndsWith => h.ends_with(n.text.as_str()),
        Match::Eq => h == n.text,
        Match::Has => term_match(h, n, true, true),
        Match::HasPrefix => term_match(h, n, true, false),
        Match::HasSuffix => term_match(h, n, false, true),
    }
}

fn pred(args: &[ColumnarValue], n: usize, name: &str, m: Match, cs: bool) -> Result<ColumnarValue> {
    let hay = strs(arg(args, 0, name)?)?;
    let needle = strs(arg(args, 1, name)?)?;
    let mut buf = String::new();
    if let Some(s) = needle.scalar() {
        let nd = Needle::new(s.unwrap_or(""), cs);
        return Ok(bools(n, |i| test(m, cs, hay.at(i).unwrap_or(""), &nd, &mut buf)));
    }
    Ok(bools(n, |i| {
        let nd = Needle::new(needle.at(i).unwrap_or(""), cs);
        test(m, cs, hay.at(i).unwrap_or(""), &nd, &mut buf)
    }))
}

macro_rules! preds {
    ($($f:ident => $m:expr, $cs:expr;)*) => {$(
        pub fn $f(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
            pred(args, n, stringify!($f), $m, $cs)
        }
    )*};
}

preds! {
    has => Match::Has, false;
    has_cs => Match::Has, true;
    hasprefix => Match::HasPrefix, false;
    hasprefix_cs => Match::HasPrefix, true;
    hassuffix => Match::HasSuffix, false;
    hassuffix_cs => Match::HasSuffix, true;
    contains => Match::Contains, false;
    contains_cs => Match::Contains, true;
    startswith => Match::StartsWith, false;
    startswith_cs => Match::StartsWith, true;
    endswith => Match::EndsWith, false;
    endswith_cs => Match::EndsWith, true;
    eq_ci => Match::Eq, false;
}

/// `has_any(hay, t1, t2, ...)` / `has_all`: the needles are the 2nd..
/// arguments.
fn has_many(args: &[ColumnarValue], n: usize, all: bool) -> Result<ColumnarValue> {
    let hay = strs(arg(args, 0, "has_any")?)?;
    let needles: Vec<Strs> = args.iter().skip(1).map(strs).collect::<Result<_>>()?;
    let mut buf = String::new();
    if needles.iter().all(|s| s.scalar().is_some()) {
        let nds: Vec<Needle> = needles.iter().map(|s| Needle::new(s.scalar().flatten().unwrap_or(""), false)).collect();
        return Ok(bools(n, |i| {
            let h = hay.at(i).unwrap_or("");
            if all {
                nds.iter().all(|nd| test(Match::Has, false, h, nd, &mut buf))
            } else {
                nds.iter().any(|nd| test(Match::Has, false, h, nd, &mut buf))
            }
        }));
    }
    Ok(bools(n, |i| {
        let h = lower(hay.at(i).unwrap_or(""));
        let mut it = needles.iter().map(|s| term_match(&h, &Needle::new(s.at(i).unwrap_or(""), false), true, true));
        if all {
            it.all(|b| b)
        } else {
            it.any(|b| b)
        }
    }))
}

pub fn has_any(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    has_many(args, n, false)
}
pub fn has_all(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    has_many(args, n, true)
}

/// `x in~ (v1, v2, ...)`: case-insensitive membership.
pub fn in_ci(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let x = strs(arg(args, 0, "in~")?)?;
    let vals: Vec<Strs> = args.iter().skip(1).map(strs).collect::<Result<_>>()?;
    let mut buf = String::new();
    if vals.iter().all(|s| s.scalar().is_some()) {
        let set: HashSet<String> = vals.iter().map(|s| lower(s.scalar().flatten().unwrap_or(""))).collect();
        return Ok(bools(n, |i| set.contains(lower_into(x.at(i).unwrap_or(""), &mut buf))));
    }
    Ok(bools(n, |i| {
        let l = lower(x.at(i).unwrap_or(""));
        vals.iter().any(|v| lower(v.at(i).unwrap_or("")) == l)
    }))
}

/// Compiles a regex, naming the function in the error.
fn compile(p: &str, f: &str) -> Result<Regex> {
    match Regex::new(p) {
        Ok(r) => Ok(r),
        Err(e) => exec_err!("kql: {f}: bad regular expression `{p}`: {e}"),
    }
}

/// Regexes of a pattern argument: one for a scalar, else compiled per
/// distinct pattern as rows go (cached by the last pattern).
struct Patterns {
    pats: Strs,
    fixed: Option<Regex>,
    last: Option<(String, Regex)>,
    f: &'static str,
}

impl Patterns {
    fn new(pats: Strs, f: &'static str) -> Result<Self> {
        let fixed = match pats.scalar() {
            Some(p) => Some(compile(p.unwrap_or(""), f)?),
            None => None,
        };
        Ok(Patterns { pats, fixed, last: None, f })
    }
    fn at(&mut self, i: usize) -> Result<&Regex> {
        if let Some(r) = &self.fixed {
            return Ok(r);
        }
        let p = self.pats.at(i).unwrap_or("");
        if self.last.as_ref().map(|(s, _)| s.as_str()) != Some(p) {
            self.last = Some((p.to_string(), compile(p, self.f)?));
        }
        match &self.last {
            Some((_, r)) => Ok(r),
            None => exec_err!("kql: {}: no pattern", self.f),
        }
    }
}

pub fn matches_regex(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let s = strs(arg(args, 0, "matches regex")?)?;
    let mut pats = Patterns::new(strs(arg(args, 1, "matches regex")?)?, "matches regex")?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(pats.at(i)?.is_match(s.at(i).unwrap_or("")));
    }
    Ok(bools(n, |i| out[i]))
}

/// `extract(regex, group, text)`: the group's text, `""` when no match.
pub fn extract(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let mut pats = Patterns::new(strs(arg(args, 0, "extract")?)?, "extract")?;
    let group = ints(arg(args, 1, "extract")?)?;
    let text = strs(arg(args, 2, "extract")?)?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let r = pats.at(i)?;
        let g = group.at(i).unwrap_or(0);
        let v = match usize::try_from(g) {
            Ok(g) => r
                .captures(text.at(i).unwrap_or(""))
                .and_then(|c| c.get(g))
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
            Err(_) => String::new(),
        };
        out.push(Some(v));
    }
    Ok(utf8s(n, |i| out[i].take()))
}

/// `countof(text, search [, "normal"|"regex"])`: plain matches may overlap.
pub fn countof(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let text = strs(arg(args, 0, "countof")?)?;
    let search = strs(arg(args, 1, "countof")?)?;
    let kind = match args.get(2) {
        Some(k) => strs(k)?.at(0).unwrap_or("normal").to_string(),
        None => "normal".into(),
    };
    let regex = match kind.as_str() {
        "regex" => true,
        "normal" => false,
        other => return exec_err!("kql: countof: kind must be \"normal\" or \"regex\", not {other:?}"),
    };
    let mut out: Vec<i64> = Vec::with_capacity(n);
    let mut pats = if regex { Some(Patterns::new(strs(arg(args, 1, "countof")?)?, "countof")?) } else { None };
    for i in 0..n {
        let t = text.at(i).unwrap_or("");
        let c = match &mut pats {
            Some(p) => p.at(i)?.find_iter(t).count(),
            None => {
                let s = search.at(i).unwrap_or("");
                if s.is_empty() {
                    0
                } else {
                    let f = memmem::Finder::new(s.as_bytes());
                    let (mut c, mut from) = (0, 0);
                    while let Some(p) = t.as_bytes().get(from..).and_then(|h| f.find(h)) {
                        c += 1;
                        // Overlapping: restart one character after the match start.
                        let step = t[from + p..].chars().next().map(|ch| ch.len_utf8()).unwrap_or(1);
                        from += p + step;
                    }
                    c
                }
            }
        };
        out.push(c as i64);
    }
    let arr: datafusion::arrow::array::Int64Array = out.into_iter().map(Some).collect();
    Ok(ColumnarValue::Array(std::sync::Arc::new(arr)))
}

/// Byte offset of character index `ci` in `s` (clamped to the end).
fn char_to_byte(s: &str, ci: usize) -> usize {
    s.char_indices().nth(ci).map(|(b, _)| b).unwrap_or(s.len())
}

/// `indexof(s, lookup [, start [, length [, occurrence]]])`: the character
/// index of the match, -1 when not found, null for a bad start.
pub fn indexof(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let s = strs(arg(args, 0, "indexof")?)?;
    let lookup = strs(arg(args, 1, "indexof")?)?;
    let start = match args.get(2) {
        Some(a) => Some(ints(a)?),
        None => None,
    };
    let length = match args.get(3) {
        Some(a) => Some(ints(a)?),
        None => None,
    };
    let occ = match args.get(4) {
        Some(a) => Some(ints(a)?),
        None => None,
    };
    let out: datafusion::arrow::array::Int64Array = (0..n)
        .map(|i| {
            let text = s.at(i).unwrap_or("");
            let look = lookup.at(i).unwrap_or("");
            let nchars = text.chars().count() as i64;
            let st = start.as_ref().and_then(|a| a.at(i)).unwrap_or(0);
            let st = if st < 0 { nchars + st } else { st };
            if st < 0 || st > nchars {
                return None;
            }
            let len = length.as_ref().and_then(|a| a.at(i)).unwrap_or(-1);
            let end_ci = if len < 0 { nchars } else { (st + len).min(nchars) };
            let occurrence = occ.as_ref().and_then(|a| a.at(i)).unwrap_or(1).max(1);
            let (b0, b1) = (char_to_byte(text, st as usize), char_to_byte(text, end_ci as usize));
            let hay = &text[b0..b1];
            let mut found = 0;
            let mut from = 0;
            while let Some(p) = hay.get(from..).and_then(|h| h.find(look)) {
                found += 1;
                if found == occurrence {
                    let ci = text[..b0 + from + p].chars().count() as i64;
                    return Some(ci);
                }
                from += p + look.len().max(1);
                if from > hay.len() {
                    break;
                }
            }
            Some(-1)
        })
        .collect();
    Ok(ColumnarValue::Array(std::sync::Arc::new(out)))
}

/// `substring(s, start [, length])`, in characters; a start before 0 is
/// taken as 0 and lengths are clamped to the string.
pub fn substring(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let s = strs(arg(args, 0, "substring")?)?;
    let start = ints(arg(args, 1, "substring")?)?;
    let length = match args.get(2) {
        Some(a) => Some(ints(a)?),
        None => None,
    };
    Ok(utf8s(n, |i| {
        let text = s.at(i).unwrap_or("");
        let st = start.at(i).unwrap_or(0).max(0) as usize;
        let len = length.as_ref().and_then(|l| l.at(i));
        let b0 = char_to_byte(text, st);
        let rest = &text[b0..];
        Some(match len {
            Some(l) if l <= 0 => String::new(),
            Some(l) => rest[..char_to_byte(rest, l as usize)].to_string(),
            None => rest.to_string(),
        })
    }))
}

/// `strlen`: characters.
pub fn strlen(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let s = strs(arg(args, 0, "strlen")?)?;
    let out: datafusion::arrow::array::Int64Array =
        (0..n).map(|i| Some(s.at(i).unwrap_or("").chars().count() as i64)).collect();
    Ok(ColumnarValue::Array(std::sync::Arc::new(out)))
}

pub fn tolower(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let s = strs(arg(args, 0, "tolower")?)?;
    Ok(utf8s(n, |i| Some(lower(s.at(i).unwrap_or("")))))
}

pub fn toupper(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let s = strs(arg(args, 0, "toupper")?)?;
    Ok(utf8s(n, |i| Some(s.at(i).unwrap_or("").to_uppercase())))
}

/// `isempty(s)`: null or `""`.
pub fn isempty(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let s = strs(arg(args, 0, "isempty")?)?;
    Ok(bools(n, |i| s.at(i).is_none_or(|v| v.is_empty())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(m: Match, cs: bool, hay: &str, needle: &str) -> bool {
        test(m, cs, hay, &Needle::new(needle, cs), &mut String::new())
    }

    #[test]
    fn has_matches_whole_terms_case_insensitively() {
        // Kusto's examples: "North America" has "america"; terms split on
        // non-alphanumerics; "KustoExplorerQueryRun" has "Explorer" is false.
        assert!(t(Match::Has, false, "North America", "america"));
        assert!(!t(Match::Has, false, "KustoExplorerQueryRun", "Explorer"));
        assert!(t(Match::Has, false, "Kusto: ad67d136-c1db-4f9f", "C1DB"));
        assert!(t(Match::Has, false, "www.microsoft.com", "microsoft"));
        assert!(t(Match::Has, false, "www.microsoft.com", "microsoft.com"));
        assert!(!t(Match::Has, false, "microsoftonline.com", "microsoft"));
        assert!(!t(Match::Has, true, "North America", "america"));
        assert!(t(Match::Has, false, "a/b", "/"));
        assert!(t(Match::HasPrefix, false, "North America", "amer"));
        assert!(!t(Match::HasPrefix, false, "North America", "meri"));
        assert!(t(Match::HasSuffix, false, "North America", "rica"));
    }

    #[test]
    fn contains_and_friends_follow_the_case_rules() {
        assert!(t(Match::Contains, false, "FabriKam", "BRik"));
        assert!(!t(Match::Contains, true, "FabriKam", "brik"));
        assert!(t(Match::StartsWith, false, "Fabrikam", "fab"));
        assert!(t(Match::EndsWith, false, "Fabrikam", "KAM"));
        assert!(!t(Match::EndsWith, true, "Fabrikam", "KAM"));
        assert!(t(Match::Eq, false, "aBc", "ABC"));
        assert!(t(Match::Contains, false, "ÉCOLE", "éc"));
        assert!(t(Match::Contains, false, "xxÉcoleAbC", "abc"));
        assert!(t(Match::Has, false, "é-microsoft-é", "MICROSOFT"));
        assert!(!t(Match::Has, false, "ém̈icrosoftx", "microsoft"));
        assert!(t(Match::Eq, false, "ABC", "abc"));
        assert!(!t(Match::Eq, false, "ABCD", "abc"));
        assert!(!t(Match::StartsWith, false, "ab", "abc"));
        assert!(t(Match::EndsWith, false, "xAbC", "abc"));
        assert!(t(Match::Contains, false, "anything", ""));
    }
}
