//! Importing rows from files (`netward import --table T FILE`): JSON lines
//! or CSV with a header, in batches of durable appends. A bad row is
//! reported with its line and skipped; it never stops the import.

use crate::{Result, Store};
use netward_events::{read_csv, Record, Table};
use std::collections::BTreeSet;
use std::io::{BufRead, Read};
use std::path::Path;

/// The file formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// One JSON object per line (the event model's JSON contract).
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
    pub rows: u64,
    pub appends: u64,
    /// The first `max_errors` bad rows; `error_count` counts all of them.
    pub errors: Vec<RowError>,
    pub error_count: u64,
    /// Input columns that are not columns of the table (ignored).
    pub unknown_columns: BTreeSet<String>,
}

impl ImportReport {
    fn error(&mut self, max: usize, line: u64, reason: String) {
        self.error_count += 1;
        if self.errors.len() < max {
            self.errors.push(RowError { line, reason });
        }
    }
}

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

/// Reads rows of `table` from `input` and appends them to the store in
/// appends of `batch_rows` rows. Returns `Err` only when the store fails;
/// the rows acknowledged before that are stored.
pub fn import<R: Read>(
    store: &mut Store,
    table: Table,
    format: ImportFormat,
    input: R,
    batch_rows: usize,
    max_errors: usize,
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    let mut pending: Vec<Record> = Vec::with_capacity(batch_rows.max(1));
    let flush = |store: &mut Store, pending: &mut Vec<Record>, report: &mut ImportReport| -> Result<()> {
        if !pending.is_empty() {
            store.append(table, pending)?;
            report.rows += pending.len() as u64;
            report.appends += 1;
            pending.clear();
        }
        Ok(())
    };
    match format {
        ImportFormat::Csv => match read_csv(input, table) {
            Err(e) => report.error(max_errors, e.line, e.reason),
            Ok((unknown, rows)) => {
                report.unknown_columns.extend(unknown);
                for row in rows {
                    match row {
                        Ok(r) => pending.push(r),
                        Err(e) => report.error(max_errors, e.line, e.reason),
                    }
                    if pending.len() >= batch_rows.max(1) {
                        flush(store, &mut pending, &mut report)?;
                    }
                }
            }
        },
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
                let text = line.trim();
                if text.is_empty() {
                    continue;
                }
                let parsed = serde_json::from_str::<serde_json::Value>(text)
                    .map_err(|e| format!("not JSON: {e}"))
                    .and_then(|v| Record::from_json(table, &v).map_err(|e| e.to_string()));
                match parsed {
                    Ok((r, unknown)) => {
                        report.unknown_columns.extend(unknown);
                        pending.push(r);
                    }
                    Err(reason) => report.error(max_errors, line_no, reason),
                }
                if pending.len() >= batch_rows.max(1) {
                    flush(store, &mut pending, &mut report)?;
                }
            }
        }
    }
    flush(store, &mut pending, &mut report)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimFs;
    use crate::StoreOptions;
    use std::sync::Arc;

    #[test]
    fn json_lines_import_reports_bad_lines_and_unknown_columns() {
        let fs = SimFs::new(1);
        let mut store = Store::open_with(Arc::new(fs), "/s", StoreOptions::default()).unwrap();
        let input = "{\"RemotePort\": 443, \"Extra\": 1}\n\nnot json\n{\"RemotePort\": \"x\"}\n{\"RemoteUrl\": \"a.example\"}\n";
        let r =
            import(&mut store, Table::DeviceNetworkEvents, ImportFormat::JsonLines, input.as_bytes(), 1, 10).unwrap();
        assert_eq!((r.rows, r.appends, r.error_count), (2, 2, 2));
        assert_eq!(r.errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![3, 4]);
        assert!(r.errors[1].reason.contains("RemotePort"));
        assert_eq!(r.unknown_columns.into_iter().collect::<Vec<_>>(), vec!["Extra".to_string()]);
        assert_eq!(store.snapshot().rows(Table::DeviceNetworkEvents), 2);
    }

    #[test]
    fn overlong_and_non_utf8_lines_are_skipped() {
        let mut input = b"{\"RemotePort\": 1}\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
        input.extend(b"\n\xff\xfe\n{\"RemotePort\": 2}");
        let fs = SimFs::new(3);
        let mut store = Store::open_with(Arc::new(fs), "/s", StoreOptions::default()).unwrap();
        let r = import(&mut store, Table::DeviceNetworkEvents, ImportFormat::JsonLines, &input[..], 100, 10).unwrap();
        assert_eq!(r.rows, 2);
        assert_eq!(r.errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![2, 3]);
        assert!(r.errors[0].reason.contains("longer"));
    }

    #[test]
    fn csv_import_batches_rows() {
        let fs = SimFs::new(2);
        let mut store = Store::open_with(Arc::new(fs), "/s", StoreOptions::default()).unwrap();
        let mut input = String::from("DeviceName,ClientVersion\n");
        for i in 0..25 {
            input.push_str(&format!("ws-{i},1.{i}\n"));
        }
        let r = import(&mut store, Table::DeviceInfo, ImportFormat::Csv, input.as_bytes(), 10, 10).unwrap();
        assert_eq!((r.rows, r.appends, r.error_count), (25, 3, 0));
        assert_eq!(ImportFormat::from_path(Path::new("x.CSV")), ImportFormat::Csv);
        assert_eq!(ImportFormat::from_path(Path::new("x.jsonl")), ImportFormat::JsonLines);
    }
}
