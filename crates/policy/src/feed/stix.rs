//! STIX 2.1 bundles, read as a stream: the `objects` array is visited one
//! object at a time (each at most [`MAX_OBJECT`] bytes), so a bundle of any
//! size is imported in bounded memory.
//!
//! From each `indicator` object: `pattern` (with `pattern_type` `stix` or
//! absent), `name` (title), `description`, `valid_until` (expiry),
//! `indicator_types` (first one: category label), `revoked` (skipped).
//! Patterns taken: one or more observation expressions `[...]` joined by
//! `OR`, each one or more comparisons `<object>:value = '<string>'` joined
//! by `OR`, for `domain-name`, `url`, `ipv4-addr` and `ipv6-addr` (address
//! values may be CIDR ranges). `AND`, other operators, other objects and
//! qualifiers are skipped with their reason. Other object types are
//! ignored. A problem's line is the line the object ends on.

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, Read};
use std::rc::Rc;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{Details, FeedError, FeedItem, ImportReport};
use crate::indicator::{IndicatorType, Target};
use crate::time::unix_seconds;

/// Largest single STIX object accepted.
pub const MAX_OBJECT: u64 = 1 << 20;

#[derive(Default)]
struct Position {
    newlines: Cell<u64>,
    since_mark: Cell<u64>,
}

/// Counts lines and bytes since the last object, refusing oversized ones.
struct Counting<R> {
    inner: R,
    pos: Rc<Position>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let got = buf.get(..n).unwrap_or(&[]);
        self.pos.newlines.set(self.pos.newlines.get() + got.iter().filter(|&&b| b == b'\n').count() as u64);
        let since = self.pos.since_mark.get() + n as u64;
        self.pos.since_mark.set(since);
        if since > MAX_OBJECT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("STIX object larger than {MAX_OBJECT} bytes"),
            ));
        }
        Ok(n)
    }
}

struct Ctx<'a> {
    report: &'a mut ImportReport,
    sink: &'a mut dyn FnMut(FeedItem),
    pos: Rc<Position>,
}

struct BundleVisitor<'a>(Ctx<'a>);

impl<'de> Visitor<'de> for BundleVisitor<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a STIX bundle object")
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<bool, A::Error> {
        let mut saw_objects = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "objects" {
                map.next_value_seed(Objects(&mut self.0))?;
                saw_objects = true;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(saw_objects)
    }
}

struct Objects<'c, 'a>(&'c mut Ctx<'a>);

impl<'de> DeserializeSeed<'de> for Objects<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Objects<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of STIX objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.pos.since_mark.set(0);
        while let Some(obj) = seq.next_element::<Value>()? {
            let line = self.0.pos.newlines.get() + 1;
            handle_object(&obj, line, self.0.report, self.0.sink);
            self.0.pos.since_mark.set(0);
        }
        Ok(())
    }
}

pub fn parse<R: BufRead>(r: R, report: &mut ImportReport, sink: &mut dyn FnMut(FeedItem)) -> Result<(), FeedError> {
    let pos = Rc::new(Position::default());
    let reader = Counting { inner: r, pos: pos.clone() };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let ctx = Ctx { report, sink, pos: pos.clone() };
    let result = serde::Deserializer::deserialize_map(&mut de, BundleVisitor(ctx)).and_then(|saw| {
        de.end()?;
        Ok(saw)
    });
    report.lines = pos.newlines.get() + 1;
    match result {
        Ok(true) => Ok(()),
        Ok(false) => Err(FeedError::Malformed { line: 1, reason: "not a STIX bundle: no \"objects\" array".into() }),
        Err(e) if e.is_io() => match e.io_error_kind() {
            Some(io::ErrorKind::InvalidData) => {
                Err(FeedError::Malformed { line: e.line() as u64, reason: e.to_string() })
            }
            _ => Err(FeedError::Io(io::Error::other(e.to_string()))),
        },
        Err(e) => Err(FeedError::Malformed { line: e.line() as u64, reason: format!("invalid JSON: {e}") }),
    }
}

fn handle_object(obj: &Value, line: u64, report: &mut ImportReport, sink: &mut dyn FnMut(FeedItem)) {
    if obj.get("type").and_then(Value::as_str) != Some("indicator") {
        report.ignored += 1;
        return;
    }
    if obj.get("revoked").and_then(Value::as_bool) == Some(true) {
        return report.skip(line, "revoked indicator");
    }
    if let Some(pt) = obj.get("pattern_type").and_then(Value::as_str) {
        if pt != "stix" {
            return report.skip(line, format!("pattern_type {pt:?} is not supported"));
        }
    }
    let Some(pattern) = obj.get("pattern").and_then(Value::as_str) else {
        return report.error(line, "indicator without a pattern");
    };
    let comparisons = match parse_pattern(pattern) {
        Ok(c) => c,
        Err(reason) => return report.skip(line, format!("unsupported pattern: {reason}")),
    };
    let expires = match obj.get("valid_until") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str().and_then(unix_seconds) {
            Some(t) => Some(t),
            None => return report.error(line, "valid_until is not an RFC 3339 timestamp"),
        },
    };
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    let details = Details { title: text("name"), description: text("description"), expires };
    let category = obj
        .get("indicator_types")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .map(str::to_string);
    for (object, value) in comparisons {
        let kind = match object {
            "domain-name" => IndicatorType::Domain,
            "url" => IndicatorType::Url,
            _ if value.contains('/') => IndicatorType::Cidr,
            _ => IndicatorType::Ip,
        };
        match Target::parse(kind, &value) {
            Ok(target) => {
                report.imported += 1;
                sink(FeedItem { target, category: category.clone(), details: details.clone(), line });
            }
            Err(e) => report.error(line, format!("{object}:value {value:?}: {e}")),
        }
    }
}

/// The object types taken, as they appear before `:value`.
const OBJECTS: &[&str] = &["domain-name", "url", "ipv4-addr", "ipv6-addr"];

struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        self.s.get(self.i..).unwrap_or("")
    }
    fn ws(&mut self) {
        let r = self.rest();
        self.i += r.len() - r.trim_start().len();
    }
    fn eat(&mut self, t: &str) -> bool {
        if self.rest().starts_with(t) {
            self.i += t.len();
            true
        } else {
            false
        }
    }
    /// A keyword followed by a non-word character.
    fn keyword(&mut self, k: &str) -> bool {
        let r = self.rest();
        let after = r.get(k.len()..).and_then(|a| a.chars().next());
        if r.starts_with(k) && !after.is_some_and(|c| c.is_ascii_alphanumeric()) {
            self.i += k.len();
            true
        } else {
            false
        }
    }
    fn word(&mut self) -> &'a str {
        let r = self.rest();
        let n = r
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | '\'' | '[' | ']')))
            .unwrap_or(r.len());
        // Stop before a closing bracket that ends the observation.
        let n = r[..n].find(']').unwrap_or(n);
        self.i += n;
        &r[..n]
    }
    fn string(&mut self) -> Result<String, String> {
        if !self.eat("'") {
            return Err(format!("expected a quoted string at byte {}", self.i));
        }
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((k, c)) = chars.next() {
            match c {
                '\'' => {
                    self.i += k + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('\'' | '\\'))) => out.push(e),
                    _ => return Err("invalid escape in string".into()),
                },
                c => out.push(c),
            }
        }
        Err("unterminated string".into())
    }
}

/// `(object type, value)` of every comparison, or why the pattern is not
/// one this importer takes.
pub fn parse_pattern(p: &str) -> Result<Vec<(&'static str, String)>, String> {
    let mut c = Cursor { s: p, i: 0 };
    let mut out = Vec::new();
    loop {
        c.ws();
        if !c.eat("[") {
            return Err(format!("expected [ at byte {}", c.i));
        }
        loop {
            c.ws();
            let path = c.word();
            let Some(object) = path.strip_suffix(":value").and_then(|o| OBJECTS.iter().find(|k| **k == o)) else {
                return Err(format!("object path {path:?} is not supported"));
            };
            c.ws();
            if !c.eat("=") || c.rest().starts_with('=') {
                return Err(format!("only = comparisons are supported (at byte {})", c.i));
            }
            c.ws();
            out.push((*object, c.string()?));
            c.ws();
            if c.eat("]") {
                break;
            }
            if c.keyword("OR") {
                continue;
            }
            return Err(format!("expected OR or ] at byte {}", c.i));
        }
        c.ws();
        if c.rest().is_empty() {
            return Ok(out);
        }
        if !c.keyword("OR") {
            return Err(format!("only OR between observations is supported (at byte {})", c.i));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert_eq!(
            parse_pattern("[domain-name:value = 'evil.example']").unwrap(),
            [("domain-name", "evil.example".into())]
        );
        assert_eq!(
            parse_pattern(
                "[url:value = 'http://x/it''s'] OR [ipv4-addr:value='10.0.0.0/8' OR ipv6-addr:value = '::1']"
            )
            .unwrap_err(),
            "expected OR or ] at byte 26"
        );
        assert_eq!(
            parse_pattern(
                r"[url:value = 'http://x/it\'s'] OR [ipv4-addr:value='10.0.0.0/8' OR ipv6-addr:value = '::1']"
            )
            .unwrap(),
            [("url", "http://x/it's".into()), ("ipv4-addr", "10.0.0.0/8".into()), ("ipv6-addr", "::1".into())]
        );
        assert!(parse_pattern("[domain-name:value = 'a' AND url:value = 'b']").unwrap_err().contains("expected OR"));
        assert!(parse_pattern("[file:hashes.MD5 = 'x']").unwrap_err().contains("not supported"));
        assert!(parse_pattern("[domain-name:value != 'a']").unwrap_err().contains("only ="));
        assert!(parse_pattern("[domain-name:value = 'a'] WITHIN 5 SECONDS").unwrap_err().contains("only OR"));
        assert!(parse_pattern("[domain-name:value = 'a").unwrap_err().contains("unterminated"));
        assert!(parse_pattern("").is_err());
    }
}
