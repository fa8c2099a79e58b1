//! URLhaus CSV: `#` comment lines (the header is one), then quoted rows
//! `"id","dateadded","url","url_status",["last_online",]"threat","tags",
//! "urlhaus_link","reporter"`. The URL is column 3 in both the current and
//! the older (8-column) layout; `threat` (e.g. `malware_download`) is the
//! entry's category label. Rows are read one line at a time (URLhaus never
//! puts line breaks inside fields), so line numbers are exact and a
//! runaway quote costs at most one line.

use std::io::BufRead;

use super::lines::{for_each_line, Line};
use super::text::unusable;
use super::{Details, FeedError, FeedItem, ImportReport};
use crate::indicator::{IndicatorType, Target};

/// Split one CSV line into fields.
fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(line.as_bytes());
    let mut rec = csv::StringRecord::new();
    match rdr.read_record(&mut rec) {
        Ok(true) => {}
        Ok(false) => return Ok(Vec::new()),
        Err(e) => return Err(format!("bad CSV: {e}")),
    }
    // A second record means a quote left open or a stray line break.
    let mut extra = csv::StringRecord::new();
    if let Ok(true) = rdr.read_record(&mut extra) {
        return Err("bad CSV: more than one record on a line".into());
    }
    Ok(rec.iter().map(str::to_string).collect())
}

pub fn parse<R: BufRead>(r: R, report: &mut ImportReport, sink: &mut dyn FnMut(FeedItem)) -> Result<(), FeedError> {
    let lines = for_each_line(r, |n, line| {
        if !unusable(report, n, &line) {
            return;
        }
        let Line::Text(text) = line else { return };
        if text.trim().is_empty() || text.trim_start().starts_with('#') {
            report.ignored += 1;
            return;
        }
        let f = match fields(text) {
            Ok(f) => f,
            Err(e) => return report.error(n, e),
        };
        if f.len() < 8 {
            return report.error(n, format!("expected at least 8 fields, found {}", f.len()));
        }
        let threat = if f.len() >= 9 { &f[5] } else { &f[4] };
        match Target::parse(IndicatorType::Url, &f[2]) {
            Ok(target) => {
                report.imported += 1;
                let category = (!threat.is_empty()).then(|| threat.clone());
                sink(FeedItem { target, category, details: Details::default(), line: n });
            }
            Err(e) => report.error(n, format!("url {:?}: {e}", f[2])),
        }
    })?;
    report.lines = lines;
    Ok(())
}
