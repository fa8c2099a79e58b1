//! CSV: the same columns as JSON, in table order; dynamic cells are JSON text.
//! Reading accepts any column order and extra columns (Defender's exports),
//! matched by header name.

use crate::record::parse_text;
use crate::{Record, RecordError, Table};
use std::io::{Read, Write};

/// A CSV row that could not be read: its line (1-based, the header is line 1)
/// and why.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct CsvRowError {
    pub line: u64,
    pub reason: String,
}

pub fn write_csv_header<W: Write>(w: &mut csv::Writer<W>, table: Table) -> csv::Result<()> {
    w.write_record(table.columns().iter().map(|c| c.name))
}

pub fn write_csv_row<W: Write>(w: &mut csv::Writer<W>, rec: &Record) -> csv::Result<()> {
    w.write_record(rec.values().iter().map(|v| v.to_text()))
}

/// Reads rows of `table` from CSV with a header line. Returns the header
/// columns that are not columns of the table (ignored), and an iterator of
/// rows, each `Ok` or an error naming its line; a bad row never stops the rest.
#[allow(clippy::type_complexity)]
pub fn read_csv<R: Read>(
    reader: R,
    table: Table,
) -> Result<(Vec<String>, impl Iterator<Item = Result<Record, CsvRowError>>), CsvRowError> {
    let (unknown, rows) = read_csv_lines(reader, table)?;
    Ok((unknown, rows.map(|r| r.map(|(_, rec)| rec))))
}

/// A header cell as a column name: the portal's and Log Analytics' exports
/// write `Timestamp [UTC]`; a byte-order mark may start the file.
fn header_name(h: &str) -> &str {
    let h = h.trim().trim_start_matches('\u{feff}');
    h.strip_suffix("[UTC]").map_or(h, str::trim_end)
}

/// [`read_csv`] with each row's line (1-based; the header is line 1).
#[allow(clippy::type_complexity)]
pub fn read_csv_lines<R: Read>(
    reader: R,
    table: Table,
) -> Result<(Vec<String>, impl Iterator<Item = Result<(u64, Record), CsvRowError>>), CsvRowError> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let headers = rdr.headers().map_err(|e| CsvRowError { line: 1, reason: e.to_string() })?.clone();
    let mapping: Vec<Option<(usize, &'static str)>> =
        headers.iter().map(|h| table.column_index(header_name(h)).map(|i| (i, table.columns()[i].name))).collect();
    let unknown = headers.iter().zip(&mapping).filter(|(_, m)| m.is_none()).map(|(h, _)| h.to_string()).collect();
    let rows = rdr.into_records().map(move |rec| {
        let rec = rec.map_err(|e| CsvRowError { line: e.position().map_or(0, |p| p.line()), reason: e.to_string() })?;
        let line = rec.position().map_or(0, |p| p.line());
        let mut out = Record::new(table);
        for (cell, m) in rec.iter().zip(&mapping) {
            if let Some((i, name)) = m {
                let ty = table.columns()[*i].ty;
                let v =
                    parse_text(name, ty, cell).map_err(|e: RecordError| CsvRowError { line, reason: e.to_string() })?;
                out.set(name, v).map_err(|e| CsvRowError { line, reason: e.to_string() })?;
            }
        }
        Ok((line, out))
    });
    Ok((unknown, rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    #[test]
    fn csv_round_trip_keeps_every_value() {
        let mut r = Record::new(Table::DeviceNetworkEvents);
        r.set_text("Timestamp", "2026-11-22T10:00:00.250Z").unwrap();
        r.set_text("RemoteUrl", "a,b \"quoted\"\nnext").unwrap();
        r.set("RemotePort", Value::Int(443)).unwrap();
        r.set("ReportId", Value::Long(1 << 40)).unwrap();
        r.set("AdditionalFields", Value::Dynamic(serde_json::json!({"k": [1, "x"]}))).unwrap();
        let mut w = csv::Writer::from_writer(Vec::new());
        write_csv_header(&mut w, Table::DeviceNetworkEvents).unwrap();
        write_csv_row(&mut w, &r).unwrap();
        let bytes = w.into_inner().unwrap();
        let (unknown, rows) = read_csv(&bytes[..], Table::DeviceNetworkEvents).unwrap();
        assert!(unknown.is_empty());
        let rows: Vec<_> = rows.collect::<Result<_, _>>().unwrap();
        assert_eq!(rows, vec![r]);
    }

    #[test]
    fn bad_rows_name_their_line_and_do_not_stop_the_rest() {
        let text = "RemotePort,RemoteUrl,Extra\n80,a.example,x\nnot-a-port,b.example,y\n443,c.example,z\n";
        let (unknown, rows) = read_csv(text.as_bytes(), Table::DeviceNetworkEvents).unwrap();
        assert_eq!(unknown, vec!["Extra"]);
        let rows: Vec<_> = rows.collect();
        assert_eq!(rows.len(), 3);
        assert!(rows[0].is_ok() && rows[2].is_ok());
        let e = rows[1].as_ref().unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.reason.contains("RemotePort"), "{e}");
    }

    #[test]
    fn portal_headers_name_their_columns() {
        let text =
            "\u{feff}Timestamp [UTC],DeviceName,IsInitiatingProcessRemoteSession\n2024-05-14T09:46:02Z,pc1,True\n";
        let (unknown, rows) = read_csv_lines(text.as_bytes(), Table::DeviceNetworkEvents).unwrap();
        assert!(unknown.is_empty(), "{unknown:?}");
        let (line, r) = rows.into_iter().next().unwrap().unwrap();
        assert_eq!(line, 2);
        assert_eq!(r.get("Timestamp").unwrap().to_text(), "2024-05-14T09:46:02.000Z");
        assert_eq!(r.get("IsInitiatingProcessRemoteSession"), Some(&Value::Bool(true)));
    }
}
