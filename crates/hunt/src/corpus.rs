//! The vendored corpus of public hunting queries, split into queries.
//! Used by tests (and the CORPUS.md status table).

/// Path of the corpus file.
pub const CORPUS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/kql/mde-hunting-queries.kql");

/// (title, query text) for each query, the title being its source line.
/// The text keeps its comment lines so positions match the file's chunk.
pub fn split(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for chunk in text.split("\n// ----\n").skip(1) {
        let title =
            chunk.lines().find_map(|l| l.strip_prefix("// source: ")).map(|s| s.to_string()).unwrap_or_default();
        out.push((title, chunk.to_string()));
    }
    out
}

pub fn queries() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(CORPUS_PATH).unwrap_or_default();
    split(&text)
}
