//! Importing rows from files (`netward import [--table T] FILE`): what
//! Defender exports, in batches of durable appends.
//!
//! * JSON lines. A line is either a row of the given table (advanced
//!   hunting's own JSON), or a Streaming API envelope as Event Hub and
//!   storage exports write it, `{"category": "AdvancedHunting-<Table>",
//!   "properties": {...row...}, "time": ...}`, routed to its table by
//!   `category`, or an Event Hub body `{"records": [envelope, ...]}`.
//!   Envelopes of tables netward does not keep (or, with a table given, of
//!   other tables) are counted and skipped.
//! * CSV with a header line (the portal's export): any column order, header
//!   names as the portal writes them (`Timestamp [UTC]` is `Timestamp`).
//!
//! Every column of the table is kept; input columns the table does not have
//! are named in the report. A bad row, or one without the table's required
//! columns ([`Table::required_columns`]), is reported with its line and
//! skipped, never stored empty; it never stops the import.

use crate::{Result, Store};
use netward_events::{read_csv_lines, Record, Table};
use serde_json::Value as J;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read};
use std::path::Path;

/// The file formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// One JSON object per line: a row, a Streaming API envelope, or
    /// `{"records": [...]}`.
    JsonLines,
    /// CSV with a header line naming the columns (any order, extra columns ignored).
    Csv,
}

impl ImportFormat {
    /// Guesses from the file name: `.csv` is CSV, anything else JSON lines.
    pub fn from_path(path: &Path) -> ImportFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => ImportFormat::Csv,
            _ => ImportFormat::JsonLines,
        }
    }
}

/// A row that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line of the input (for CSV, the header is line 1).
    pub line: u64,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Rows stored, in all tables.
    pub rows: u64,
    pub rows_by_table: BTreeMap<Table, u64>,
    pub appends: u64,
    /// The first `max_errors` bad rows; `error_count` counts all of them.
    pub errors: Vec<RowError>,
    pub error_count: u64,
    /// Input columns that are not columns of their table (ignored).
    pub unknown_columns: BTreeSet<String>,
    /// Envelopes skipped, by `category`: tables netward does not keep, or
    /// not the table asked for.
    pub skipped: BTreeMap<String, u64>,
}

impl ImportReport {
    fn error(&mut self, max: usize, line: u64, reason: String) {
        self.error_count += 1;
        if self.errors.len() < max {
            self.errors.push(RowError { line, reason });
        }
    }
}

/// The category prefix of advanced hunting tables in Streaming API exports.
pub const CATEGORY_PREFIX: &str = "AdvancedHunting-";

/// The longest JSON line read; longer lines are reported and skipped, so a
/// file without newlines cannot exhaust memory.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Reads one line into `buf` (without its newline). `Ok(None)` at the end
/// of the input; `Some(Err)` for a line that is too long or not UTF-8 (the
/// rest of it is skipped).
fn read_line<'a, R: BufRead>(r: &mut R, buf: &'a mut Vec<u8>) -> std::io::Result<Option<Result<&'a str, String>>> {
    buf.clear();
    let n = r.by_ref().take(MAX_LINE_BYTES as u64 + 1).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > MAX_LINE_BYTES {
        // Skip to the end of this line without keeping it.
        loop {
            let chunk = r.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    r.consume(i + 1);
                    break;
                }
                None => {
                    let len = chunk.len();
                    r.consume(len);
                }
            }
        }
        return Ok(Some(Err(format!("line longer than {MAX_LINE_BYTES} bytes"))));
    }
    Ok(Some(std::str::from_utf8(buf).map_err(|e| format!("not UTF-8: {e}"))))
}

/// Rows pending per table, appended `batch_rows` at a time.
struct Batches<'a> {
    store: &'a mut Store,
    batch_rows: usize,
    pending: BTreeMap<Table, Vec<Record>>,
}

impl Batches<'_> {
    fn push(&mut self, r: Record, report: &mut ImportReport) -> Result<()> {
        let table = r.table();
        let v = self.pending.entry(table).or_default();
        v.push(r);
        if v.len() >= self.batch_rows {
            let rows = std::mem::take(v);
            self.append(table, rows, report)?;
        }
        Ok(())
    }

    fn append(&mut self, table: Table, rows: Vec<Record>, report: &mut ImportReport) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.store.append(table, &rows)?;
        report.rows += rows.len() as u64;
        *report.rows_by_table.entry(table).or_default() += rows.len() as u64;
        report.appends += 1;
        Ok(())
    }

    fn finish(mut self, report: &mut ImportReport) -> Result<()> {
        for (table, rows) in std::mem::take(&mut self.pending) {
            self.append(table, rows, report)?;
        }
        Ok(())
    }
}

/// A row checked for the table's required columns.
fn checked(r: Record) -> std::result::Result<Record, String> {
    match r.missing_required() {
        None => Ok(r),
        Some(col) => Err(format!("a {} row needs {col}; the row has none", r.table())),
    }
}

/// What one JSON value of a line is.
enum Item<'a> {
    Row(Table, &'a serde_json::Map<String, J>),
    Skip(String),
}

/// The rows of one JSON line: a row of `table`, an envelope, or an Event Hub
/// body of envelopes.
fn items<'a>(v: &'a J, table: Option<Table>) -> std::result::Result<Vec<Item<'a>>, String> {
    let obj = v.as_object().ok_or("a line must be a JSON object")?;
    if let Some(records) = obj.get("records").filter(|_| !obj.contains_key("properties")) {
        let list = records.as_array().ok_or("`records` must be an array of envelopes")?;
        let mut out = Vec::with_capacity(list.len());
        for (i, e) in list.iter().enumerate() {
            let e = e.as_object().ok_or_else(|| format!("records[{i}] is not an object"))?;
            out.push(envelope(e, table).map_err(|m| format!("records[{i}]: {m}"))?);
        }
        return Ok(out);
    }
    if obj.contains_key("category") && obj.contains_key("properties") {
        return Ok(vec![envelope(obj, table)?]);
    }
    match table {
        Some(t) => Ok(vec![Item::Row(t, obj)]),
        None => Err("a row without a Streaming API envelope (`category`, `properties`) needs --table".into()),
    }
}

fn envelope<'a>(e: &'a serde_json::Map<String, J>, want: Option<Table>) -> std::result::Result<Item<'a>, String> {
    let category = e.get("category").and_then(J::as_str).ok_or("the envelope's `category` is not a string")?;
    let props = e.get("properties").and_then(J::as_object).ok_or("the envelope's `properties` is not an object")?;
    let name = category.strip_prefix(CATEGORY_PREFIX).unwrap_or(category);
    match name.parse::<Table>() {
        Ok(t) if want.is_none_or(|w| w == t) => Ok(Item::Row(t, props)),
        _ => Ok(Item::Skip(category.to_string())),
    }
}

/// Reads rows from `input` and appends them to the store in appends of
/// `batch_rows` rows per table. `table` is the table of plain rows and CSV
/// (required for CSV); envelopes name their own. Returns `Err` only when the
/// store fails; the rows acknowledged before that are stored.
pub fn import<R: Read>(
    store: &mut Store,
    table: Option<Table>,
    format: ImportFormat,
    input: R,
    batch_rows: usize,
    max_errors: usize,
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    let mut out = Batches { store, batch_rows: batch_rows.max(1), pending: BTreeMap::new() };
    match format {
        ImportFormat::Csv => {
            let Some(table) = table else {
                report.error(max_errors, 1, "a CSV export needs --table (its rows do not name their table)".into());
                return Ok(report);
            };
            match read_csv_lines(input, table) {
                Err(e) => report.error(max_errors, e.line, e.reason),
                Ok((unknown, rows)) => {
                    report.unknown_columns.extend(unknown);
                    for row in rows {
                        let row = row.map_err(|e| (e.line, e.reason));
                        match row.and_then(|(line, r)| checked(r).map_err(|m| (line, m))) {
                            Ok(r) => out.push(r, &mut report)?,
                            Err((line, reason)) => report.error(max_errors, line, reason),
                        }
                    }
                }
            }
        }
        ImportFormat::JsonLines => {
            let mut reader = std::io::BufReader::new(input);
            let mut buf = Vec::new();
            let mut line_no = 0u64;
            loop {
                line_no += 1;
                let line = match read_line(&mut reader, &mut buf) {
                    Ok(None) => break,
                    Ok(Some(Ok(l))) => l,
                    Ok(Some(Err(reason))) => {
                        report.error(max_errors, line_no, reason);
                        continue;
                    }
                    Err(e) => {
                        report.error(max_errors, line_no, e.to_string());
                        break;
                    }
                };
                let text = line.trim().trim_start_matches('\u{feff}');
                if text.is_empty() {
                    continue;
                }
                let value = match serde_json::from_str::<J>(text) {
                    Ok(v) => v,
                    Err(e) => {
                        report.error(max_errors, line_no, format!("not JSON: {e}"));
                        continue;
                    }
                };
                let items = match items(&value, table) {
                    Ok(i) => i,
                    Err(reason) => {
                        report.error(max_errors, line_no, reason);
                        continue;
                    }
                };
                for item in items {
                    let (t, row) = match item {
                        Item::Row(t, row) => (t, row),
                        Item::Skip(category) => {
                            *report.skipped.entry(category).or_default() += 1;
                            continue;
                        }
                    };
                    match Record::from_object(t, row).map_err(|e| e.to_string()) {
                        Ok((r, unknown)) => {
                            report.unknown_columns.extend(unknown);
                            match checked(r) {
                                Ok(r) => out.push(r, &mut report)?,
                                Err(reason) => report.error(max_errors, line_no, reason),
                            }
                        }
                        Err(reason) => report.error(max_errors, line_no, reason),
                    }
                }
            }
        }
    }
    out.finish(&mut report)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimFs;
    use crate::StoreOptions;
    use std::sync::Arc;

    fn store(seed: u64) -> Store {
        Store::open_with(Arc::new(SimFs::new(seed)), "/s", StoreOptions::default()).unwrap()
    }

    const ROW: &str = r#""Timestamp": "2024-05-14T09:46:02Z", "DeviceName": "pc1", "ActionType": "ConnectionSuccess""#;

    #[test]
    fn json_lines_import_reports_bad_lines_and_unknown_columns() {
        let mut store = store(1);
        let input = format!(
            "{{{ROW}, \"RemotePort\": 443, \"Extra\": 1}}\n\nnot json\n{{{ROW}, \"RemotePort\": \"x\"}}\n{{{ROW}, \"RemoteUrl\": \"a.example\"}}\n"
        );
        let t = Some(Table::DeviceNetworkEvents);
        let r = import(&mut store, t, ImportFormat::JsonLines, input.as_bytes(), 1, 10).unwrap();
        assert_eq!((r.rows, r.appends, r.error_count), (2, 2, 2));
        assert_eq!(r.errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![3, 4]);
        assert!(r.errors[1].reason.contains("RemotePort"));
        assert_eq!(r.unknown_columns.into_iter().collect::<Vec<_>>(), vec!["Extra".to_string()]);
        assert_eq!(store.snapshot().rows(Table::DeviceNetworkEvents), 2);
    }

    #[test]
    fn rows_without_required_columns_are_rejected_by_line_never_stored_empty() {
        let mut store = store(4);
        let input = format!(
            "{{\"RemotePort\": 443}}\n{{{ROW}}}\n{{\"Timestamp\": \"2024-05-14T09:46:02Z\", \"ActionType\": \"X\"}}\n"
        );
        let t = Some(Table::DeviceNetworkEvents);
        let r = import(&mut store, t, ImportFormat::JsonLines, input.as_bytes(), 100, 10).unwrap();
        assert_eq!(r.rows, 1);
        assert_eq!(r.errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![1, 3]);
        assert!(r.errors[0].reason.contains("Timestamp"), "{:?}", r.errors);
        assert!(r.errors[1].reason.contains("DeviceId or DeviceName"), "{:?}", r.errors);
        let csv = "DeviceName,ActionType\npc1,ConnectionSuccess\n";
        let r = import(&mut store, t, ImportFormat::Csv, csv.as_bytes(), 100, 10).unwrap();
        assert_eq!((r.rows, r.errors[0].line), (0, 2));
        assert!(r.errors[0].reason.contains("Timestamp"));
        assert_eq!(store.snapshot().rows(Table::DeviceNetworkEvents), 1);
    }

    #[test]
    fn envelopes_are_routed_by_category_and_other_tables_skipped() {
        let mut store = store(5);
        let env = |cat: &str, extra: &str| {
            format!(
                r#"{{"time": "2024-05-14T09:47:00Z", "category": "{cat}", "operationName": "Publish", "properties": {{{ROW}{extra}}}}}"#
            )
        };
        let input = [
            env("AdvancedHunting-DeviceNetworkEvents", r#", "MachineGroup": "lab""#),
            env("AdvancedHunting-DeviceEvents", r#", "SHA1": "abc""#),
            env("AdvancedHunting-DeviceFileEvents", ""),
            format!(
                r#"{{"records": [{}, {}]}}"#,
                env("AdvancedHunting-DeviceInfo", ""),
                env("AdvancedHunting-DeviceEvents", "")
            ),
            r#"{"category": "AdvancedHunting-DeviceNetworkEvents", "properties": {"RemotePort": 1}}"#.to_string(),
            r#"{"RemotePort": 1}"#.to_string(),
        ]
        .join("\n");
        let r = import(&mut store, None, ImportFormat::JsonLines, input.as_bytes(), 100, 10).unwrap();
        assert_eq!(r.rows, 4);
        let by: Vec<(Table, u64)> = r.rows_by_table.clone().into_iter().collect();
        assert_eq!(by, vec![(Table::DeviceNetworkEvents, 1), (Table::DeviceEvents, 2), (Table::DeviceInfo, 1)]);
        assert_eq!(r.skipped.get("AdvancedHunting-DeviceFileEvents"), Some(&1));
        assert_eq!(r.errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![5, 6]);
        assert!(r.errors[1].reason.contains("--table"), "{:?}", r.errors);
        // With a table asked for, envelopes of the others are skipped.
        let r =
            import(&mut store, Some(Table::DeviceEvents), ImportFormat::JsonLines, input.as_bytes(), 100, 10).unwrap();
        assert_eq!((r.rows, r.skipped.values().sum::<u64>()), (2, 4));
    }

    #[test]
    fn overlong_and_non_utf8_lines_are_skipped() {
        let mut input = format!("{{{ROW}}}\n").into_bytes();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
        input.extend(b"\n\xff\xfe\n");
        input.extend(format!("{{{ROW}}}").into_bytes());
        let mut store = store(3);
        let t = Some(Table::DeviceNetworkEvents);
        let r = import(&mut store, t, ImportFormat::JsonLines, &input[..], 100, 10).unwrap();
        assert_eq!(r.rows, 2);
        assert_eq!(r.errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![2, 3]);
        assert!(r.errors[0].reason.contains("longer"));
    }

    #[test]
    fn csv_import_batches_rows_and_needs_a_table() {
        let mut store = store(2);
        let mut input = String::from("Timestamp [UTC],DeviceName,ClientVersion\n");
        for i in 0..25 {
            input.push_str(&format!("\"5/14/2024, 9:{i:02}:00.000 AM\",ws-{i},1.{i}\n"));
        }
        let r = import(&mut store, Some(Table::DeviceInfo), ImportFormat::Csv, input.as_bytes(), 10, 10).unwrap();
        assert_eq!((r.rows, r.appends, r.error_count), (25, 3, 0));
        let r = import(&mut store, None, ImportFormat::Csv, input.as_bytes(), 10, 10).unwrap();
        assert_eq!((r.rows, r.error_count), (0, 1));
        assert_eq!(ImportFormat::from_path(Path::new("x.CSV")), ImportFormat::Csv);
        assert_eq!(ImportFormat::from_path(Path::new("x.jsonl")), ImportFormat::JsonLines);
    }
}
