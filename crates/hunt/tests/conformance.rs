//! Kusto's documented examples with their documented results
//! (`tests/conformance/*.kqlt`, one case per block; see the file's header
//! for the format). Values are written as Kusto shows them: datetimes
//! `2017-01-29T09:00:05Z` (RFC 3339 as netward prints them), timespans
//! `1.12:30:55.1230000`, dynamic strings without quotes, nulls empty.

mod common;
use common::*;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::util::display::array_value_to_string;

struct Case {
    name: String,
    source: String,
    sorted: bool,
    query: String,
    expect: Expect,
}

enum Expect {
    Table(Vec<String>, Vec<Vec<String>>),
    Error(String),
}

fn cases(text: &str, file: &str) -> Vec<Case> {
    let mut out = Vec::new();
    for block in text.split("\n====").map(|b| b.trim_matches('\n')).filter(|b| !b.trim().is_empty()) {
        let lines: Vec<&str> =
            block.lines().filter(|l| !l.starts_with("//!")).skip_while(|l| l.trim().is_empty()).collect();
        let Some(head) = lines.first().and_then(|l| l.strip_prefix("# ")) else {
            panic!("{file}: a case starts with `# name | source`: {block}")
        };
        let parts: Vec<&str> = head.split(" | ").collect();
        let sep = lines.iter().position(|l| l.trim() == "----").unwrap_or_else(|| panic!("{file}: no ---- in {head}"));
        let query = lines[1..sep].join("\n");
        let rest: Vec<&str> = lines[sep + 1..].to_vec();
        let expect = match rest.first().and_then(|l| l.strip_prefix("error: ")) {
            Some(e) => Expect::Error(e.to_string()),
            None => {
                let split = |l: &str| l.split(" | ").map(|c| c.trim().to_string()).collect::<Vec<_>>();
                let cols = rest.first().map(|l| split(l)).unwrap_or_default();
                Expect::Table(cols, rest.iter().skip(1).map(|l| split(l)).collect())
            }
        };
        out.push(Case {
            name: parts[0].to_string(),
            source: parts.get(1).unwrap_or(&"").to_string(),
            sorted: parts.get(2) == Some(&"sorted"),
            query,
            expect,
        });
    }
    out
}

/// One value as Kusto shows it.
fn shown(r: &netward_hunt::HuntResult, b: usize, c: usize, i: usize) -> String {
    let batch = &r.batches[b];
    let col = batch.column(c);
    if col.is_null(i) {
        return String::new();
    }
    let f = r.schema.field(c);
    match col.data_type() {
        DataType::Timestamp(..) => {
            let ns = datafusion::arrow::compute::cast(col, &DataType::Int64).unwrap();
            netward_hunt::value::format_datetime(ns.as_primitive::<datafusion::arrow::datatypes::Int64Type>().value(i))
        }
        DataType::Duration(_) => {
            let ns = datafusion::arrow::compute::cast(col, &DataType::Int64).unwrap();
            netward_hunt::value::format_timespan(ns.as_primitive::<datafusion::arrow::datatypes::Int64Type>().value(i))
        }
        DataType::Float64 => {
            let v = col.as_primitive::<Float64Type>().value(i);
            if v.fract() == 0.0 && v.abs() < 1e15 {
                format!("{}", v as i64)
            } else {
                format!("{v}")
            }
        }
        DataType::Utf8 if f.metadata().get("kql_type").is_some_and(|t| t == "dynamic") => {
            let s = col.as_string::<i32>().value(i);
            match serde_json::from_str::<serde_json::Value>(s) {
                Ok(serde_json::Value::String(t)) => t,
                Ok(v) => v.to_string(),
                Err(_) => s.to_string(),
            }
        }
        _ => array_value_to_string(col, i).unwrap(),
    }
}

fn table(r: &netward_hunt::HuntResult) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for (b, batch) in r.batches.iter().enumerate() {
        for i in 0..batch.num_rows() {
            rows.push((0..batch.num_columns()).map(|c| shown(r, b, c, i)).collect());
        }
    }
    rows
}

#[tokio::test]
async fn kusto_documented_examples() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let ctx = ctx_with(vec![]);
    let mut failures = Vec::new();
    let mut count = 0;
    for f in files.iter().filter(|p| p.extension().is_some_and(|e| e == "kqlt")) {
        let text = std::fs::read_to_string(f).unwrap();
        for c in cases(&text, &f.display().to_string()) {
            count += 1;
            let got = try_run(&ctx, &c.query).await;
            let problem = match (&c.expect, got) {
                (Expect::Table(cols, rows), Ok(r)) => {
                    let mut want = rows.clone();
                    // The case's cells are written trimmed; so are the results'.
                    let mut have: Vec<Vec<String>> = table(&r)
                        .into_iter()
                        .map(|row| row.into_iter().map(|c| c.trim().to_string()).collect())
                        .collect();
                    if c.sorted {
                        want.sort();
                        have.sort();
                    }
                    let names = names(&r);
                    if &names != cols || have != want {
                        Some(format!("want {cols:?} {want:?}\n   got {names:?} {have:?}"))
                    } else {
                        None
                    }
                }
                (Expect::Table(..), Err(e)) => Some(format!("failed: {e}")),
                (Expect::Error(want), Err(e)) if e.to_string().contains(want.as_str()) && e.line > 0 => None,
                (Expect::Error(want), Err(e)) => Some(format!("want an error with {want:?} and a position, got {e}")),
                (Expect::Error(want), Ok(_)) => Some(format!("want an error with {want:?}, it ran")),
            };
            if let Some(p) = problem {
                failures.push(format!("{} ({}):\n{}\n   {p}", c.name, c.source, c.query));
            }
        }
    }
    assert!(count >= 50, "only {count} cases read");
    assert!(failures.is_empty(), "{} of {count} cases fail:\n\n{}", failures.len(), failures.join("\n\n"));
}
