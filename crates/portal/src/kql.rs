//! The hunting editor's two answers: the classified tokens of a query and
//! its first error (`POST /api/kql/tokens`), and the names it completes
//! (`GET /api/kql/schema`). Both come from the crates that run the query:
//! the tokens from netward-hunt's own lexer (`netward_hunt::editor`), the
//! columns from the event model's one schema (`netward_events::Table`), so
//! the editor has no KQL knowledge of its own to drift.
//!
//! Offsets in the answers are UTF-16 code units, the browser's string
//! indices, not the bytes the lexer counts.

use netward_events::Table;
use netward_hunt::editor::{highlight, FUNCTIONS, KEYWORDS, OPERATORS};
use serde_json::{json, Value};

/// The largest query text the tokens endpoint reads (413 above): ten
/// times the longest public corpus query, and small enough that a keystroke
/// never costs much.
pub const MAX_TOKENS_BODY: usize = 64 * 1024;

/// The refusal of a body over [`MAX_TOKENS_BODY`].
pub fn too_large_message() -> String {
    format!("query text over {} KiB: the editor highlights at most that much", MAX_TOKENS_BODY / 1024)
}

/// UTF-16 offset of every byte offset of `src` (a byte inside a character
/// maps to that character's start), and one past the end.
fn utf16_offsets(src: &str) -> Vec<usize> {
    let mut out = vec![0; src.len() + 1];
    let mut u = 0;
    for (i, c) in src.char_indices() {
        for slot in &mut out[i..i + c.len_utf8()] {
            *slot = u;
        }
        u += c.len_utf16();
    }
    out[src.len()] = u;
    out
}

/// `{"tokens": [[start, end, class], ...], "error": null | {start, end,
/// line, col, message}}` for the query text.
pub fn tokens_json(src: &str) -> Value {
    let h = highlight(src);
    let at = utf16_offsets(src);
    let pos = |b: usize| at[b.min(src.len())];
    let tokens: Vec<Value> =
        h.tokens.iter().map(|t| json!([pos(t.span.start), pos(t.span.end), t.class.as_str()])).collect();
    let error = h.error.map(|e| {
        json!({
            "start": pos(e.span.start),
            "end": pos(e.span.end),
            "line": e.error.line,
            "col": e.error.col,
            "message": e.error.message,
        })
    });
    json!({ "tokens": tokens, "error": error })
}

/// The tables with their columns (name, KQL type), and the operators,
/// keywords and functions the engine knows.
pub fn schema_json() -> Value {
    let tables: Vec<Value> = Table::ALL
        .iter()
        .map(|t| {
            let cols: Vec<Value> = t.columns().iter().map(|c| json!([c.name, c.ty.kql_name()])).collect();
            json!({ "name": t.name(), "columns": cols })
        })
        .collect();
    json!({ "tables": tables, "operators": OPERATORS, "keywords": KEYWORDS, "functions": FUNCTIONS })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The class of the token whose text is `text`.
    fn class_of(v: &Value, src: &str, text: &str) -> String {
        let units: Vec<u16> = src.encode_utf16().collect();
        v["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| {
                let (s, e) = (t[0].as_u64().unwrap() as usize, t[1].as_u64().unwrap() as usize);
                String::from_utf16_lossy(&units[s..e]) == text
            })
            .unwrap_or_else(|| panic!("no token `{text}`: {v}"))[2]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn tokens_carry_classes_in_utf16_offsets() {
        // `é` is 2 bytes but 1 UTF-16 unit, `𝄞` 4 bytes but 2 units: offsets
        // after them are the browser's, or the wrong text would be coloured.
        let q = "DeviceNetworkEvents | where RemoteUrl has 'é𝄞' and RemotePort == 443 | take 5";
        let v = tokens_json(q);
        assert_eq!(class_of(&v, q, "where"), "keyword");
        assert_eq!(class_of(&v, q, "RemoteUrl"), "column");
        assert_eq!(class_of(&v, q, "'é𝄞'"), "string");
        assert_eq!(class_of(&v, q, "RemotePort"), "column");
        assert_eq!(class_of(&v, q, "443"), "number");
        assert_eq!(class_of(&v, q, "take"), "keyword");
        assert!(v["error"].is_null(), "{v}");
    }

    #[test]
    fn the_first_error_is_placed() {
        let q = "DeviceInfo | where 'é' == | take 1";
        let v = tokens_json(q);
        let e = &v["error"];
        let units: Vec<u16> = q.encode_utf16().collect();
        let (s, end) = (e["start"].as_u64().unwrap() as usize, e["end"].as_u64().unwrap() as usize);
        assert_eq!(String::from_utf16_lossy(&units[s..end]), "|", "{v}");
        assert_eq!((e["line"].as_u64(), e["col"].as_u64()), (Some(1), Some(27)), "{v}");
        assert!(e["message"].as_str().unwrap().contains("expected an expression"), "{v}");
    }

    #[test]
    fn schema_lists_every_table_and_column_of_the_event_model() {
        let v = schema_json();
        let tables = v["tables"].as_array().unwrap();
        assert_eq!(tables.len(), Table::ALL.len());
        let dne = tables.iter().find(|t| t["name"] == "DeviceNetworkEvents").unwrap();
        let cols = dne["columns"].as_array().unwrap();
        assert_eq!(cols.len(), Table::DeviceNetworkEvents.columns().len());
        assert!(cols.iter().any(|c| c[0] == "RemoteUrl" && c[1] == "string"), "{dne}");
        assert!(v["operators"].as_array().unwrap().iter().any(|o| o == "summarize"));
        assert!(v["functions"].as_array().unwrap().iter().any(|o| o == "strlen"));
    }

    #[test]
    fn utf16_offsets_map_inside_characters_to_their_start() {
        assert_eq!(utf16_offsets("aé𝄞b"), vec![0, 1, 1, 2, 2, 2, 2, 4, 5]);
        assert_eq!(utf16_offsets(""), vec![0]);
    }
}
