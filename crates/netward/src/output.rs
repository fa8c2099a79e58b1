//! Output in the three formats every command shares: `table` (aligned, for
//! people; the default on a terminal), `json` (one object per line with
//! stable field names; the default when piped) and `csv` (a header, then a
//! line per row).

use crate::error::{CliResult, Context};
use serde_json::Value as J;
use std::io::{IsTerminal, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

impl Format {
    /// The format asked for, else table on a terminal and JSON when piped.
    pub fn resolve(asked: Option<Format>) -> Format {
        asked.unwrap_or_else(|| if std::io::stdout().is_terminal() { Format::Table } else { Format::Json })
    }
}

/// Standard output, buffered: a replay writes tens of thousands of lines,
/// and one write per line would cost a syscall each. [`RowWriter::done`]
/// flushes.
pub fn stdout() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
    std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock())
}

/// Writes rows with a fixed list of columns. JSON and CSV stream; a table
/// must see every row to size its columns, so it buffers.
pub struct RowWriter<W: Write> {
    format: Format,
    columns: Vec<String>,
    out: W,
    table_rows: Vec<Vec<String>>,
    rows: u64,
}

impl<W: Write> RowWriter<W> {
    pub fn new(format: Format, columns: Vec<String>, out: W) -> CliResult<Self> {
        let mut w = RowWriter { format, columns, out, table_rows: Vec::new(), rows: 0 };
        if format == Format::Csv {
            let header = w.columns.clone();
            w.write_csv(header.iter())?;
        }
        Ok(w)
    }

    /// One row: a value per column, in column order.
    pub fn write_row(&mut self, cells: &[J]) -> CliResult<()> {
        self.rows += 1;
        match self.format {
            Format::Json => {
                let mut line = String::from("{");
                for (i, (col, v)) in self.columns.iter().zip(cells).enumerate() {
                    if i > 0 {
                        line.push(',');
                    }
                    line.push_str(&J::String(col.clone()).to_string());
                    line.push(':');
                    line.push_str(&v.to_string());
                }
                line.push_str("}\n");
                self.out.write_all(line.as_bytes()).context(|| "cannot write output".into())
            }
            Format::Csv => self.write_csv(cells.iter().map(cell_text)),
            Format::Table => {
                self.table_rows.push(cells.iter().map(cell_text).collect());
                Ok(())
            }
        }
    }

    /// A row already serialised as one JSON object (format json only).
    pub fn write_json_object(&mut self, write: impl FnOnce(&mut W) -> std::io::Result<()>) -> CliResult<()> {
        self.rows += 1;
        write(&mut self.out).and_then(|()| self.out.write_all(b"\n")).context(|| "cannot write output".into())
    }

    /// One CSV line, streamed: the csv crate does the quoting.
    fn write_csv<I, T>(&mut self, cells: I) -> CliResult<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut c = csv::Writer::from_writer(Vec::new());
        c.write_record(cells).context(|| "cannot write CSV".into())?;
        let buf = c.into_inner().map_err(|e| crate::error::CliError::failure(format!("cannot write CSV: {e}")))?;
        self.out.write_all(&buf).context(|| "cannot write output".into())
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes what is buffered (the table) and flushes.
    pub fn done(self) -> CliResult<()> {
        self.finish().map(drop)
    }

    /// As [`RowWriter::done`], giving the writer back.
    pub fn finish(mut self) -> CliResult<W> {
        if self.format == Format::Table {
            let text = render_table(&self.columns, &self.table_rows);
            self.out.write_all(text.as_bytes()).context(|| "cannot write output".into())?;
        }
        self.out.flush().context(|| "cannot write output".into())?;
        Ok(self.out)
    }
}

/// A cell as text: strings as they are, null as empty, the rest as JSON.
pub fn cell_text(v: &J) -> String {
    match v {
        J::String(s) => s.clone(),
        J::Null => String::new(),
        other => other.to_string(),
    }
}

/// Cells wider than this are cut with an ellipsis in tables (JSON and CSV
/// always carry the whole value).
const MAX_CELL: usize = 60;

fn render_table(columns: &[String], rows: &[Vec<String>]) -> String {
    let clip = |s: &str| -> String {
        let one_line = s.replace(['\n', '\r', '\t'], " ");
        if one_line.chars().count() > MAX_CELL {
            one_line.chars().take(MAX_CELL - 1).chain(std::iter::once('…')).collect()
        } else {
            one_line
        }
    };
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| clip(c)).collect()).collect();
    let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let parts: Vec<String> =
            cells.iter().zip(&widths).map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count()))).collect();
        format!("{}\n", parts.join("  ").trim_end())
    };
    let mut out = line(columns);
    out.push_str(&line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>()));
    for r in &rows {
        out.push_str(&line(r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(format: Format) -> String {
        let mut w = RowWriter::new(format, vec!["a".into(), "b".into()], Vec::new()).unwrap();
        w.write_row(&[json!("x,y"), json!(1)]).unwrap();
        w.write_row(&[json!(null), json!({"k": true})]).unwrap();
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    #[test]
    fn json_lines_keep_column_order_and_types() {
        assert_eq!(run(Format::Json), "{\"a\":\"x,y\",\"b\":1}\n{\"a\":null,\"b\":{\"k\":true}}\n");
    }

    #[test]
    fn csv_quotes_and_writes_json_for_objects() {
        assert_eq!(run(Format::Csv), "a,b\n\"x,y\",1\n,\"{\"\"k\"\":true}\"\n");
    }

    #[test]
    fn table_aligns_columns() {
        let t = run(Format::Table);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "a    b");
        assert_eq!(lines[2], "x,y  1");
    }
}
