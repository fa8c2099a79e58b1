//! `netward import [--table T] FILE...`: what Defender exports (Streaming
//! API envelopes routed by their `category`, advanced hunting JSON lines,
//! the portal's CSV) into the event store, every column kept. A bad row,
//! or one without its table's required columns, is reported with its file
//! and line and skipped; every good row is stored; the exit code is 2 when
//! any row was rejected. The live log is rolled into Parquet at the end, so
//! queries after a bulk import read only columnar segments.

use crate::cli::ImportArgs;
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use netward_events::{Record, Table};
use netward_store::import::ImportFormat;
use netward_store::{Store, StoreOptions};
use std::io::{BufRead, BufReader};
use std::path::Path;

pub const STORE_DIR: &str = "store";
/// Rows per durable append: one fsync per batch keeps ingest fast.
const BATCH: usize = 10_000;
/// Rejected rows shown one by one; the rest are counted.
const SHOWN_ERRORS: usize = 20;

pub fn open_store(ctx: &Ctx) -> CliResult<Store> {
    let dir = ctx.data_dir.file(STORE_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| CliError::failure(format!("cannot create {}: {e}", dir.display())))?;
    Store::open(&dir, StoreOptions::default()).map_err(|e| CliError::failure(format!("event store: {e}")))
}

/// Appends rows in batches, counting what was stored.
pub struct Appender {
    store: Store,
    table: Table,
    pending: Vec<Record>,
    pub stored: u64,
}

impl Appender {
    pub fn new(store: Store, table: Table) -> Self {
        Appender { store, table, pending: Vec::with_capacity(BATCH), stored: 0 }
    }

    pub fn push(&mut self, r: Record) -> CliResult<()> {
        self.pending.push(r);
        if self.pending.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> CliResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let ack =
            self.store.append(self.table, &self.pending).map_err(|e| CliError::failure(format!("event store: {e}")))?;
        self.stored += ack.rows as u64;
        self.pending.clear();
        Ok(())
    }
}

pub fn run(ctx: &Ctx, a: &ImportArgs) -> CliResult<()> {
    let table: Option<Table> = a.table.as_deref().map(str::parse).transpose().map_err(CliError::bad_input)?;
    ctx.announce_data_dir_if_new();
    let _lock = ctx.data_dir.lock()?;
    let mut store = open_store(ctx)?;
    let (mut rejected, mut by_table) = (0u64, std::collections::BTreeMap::<Table, u64>::new());
    let mut unknown = std::collections::BTreeSet::new();
    let mut skipped = std::collections::BTreeMap::<String, u64>::new();
    for file in &a.files {
        let f = std::fs::File::open(file)
            .map_err(|e| CliError::bad_input(format!("cannot open {}: {e}", file.display())))?;
        let mut reader = BufReader::with_capacity(1 << 20, f);
        let format = match a.input_format.as_deref() {
            Some("csv") => ImportFormat::Csv,
            Some(_) => ImportFormat::JsonLines,
            None if sniff_csv(file, &mut reader)? => ImportFormat::Csv,
            None => ImportFormat::JsonLines,
        };
        if format == ImportFormat::Csv && table.is_none() {
            return Err(CliError::bad_input(format!("{}: a CSV export needs --table", file.display()))
                .with_hint("e.g. --table DeviceNetworkEvents (a CSV row does not name its table)"));
        }
        let report = netward_store::import::import(&mut store, table, format, reader, BATCH, SHOWN_ERRORS)
            .map_err(|e| CliError::failure(format!("{}: event store: {e}", file.display())))?;
        for e in &report.errors {
            eprintln!("{}:{}: {}", file.display(), e.line, e.reason);
        }
        let hidden = report.error_count.saturating_sub(report.errors.len() as u64);
        if hidden > 0 {
            eprintln!("{}: {hidden} more rejected row(s) not shown", file.display());
        }
        for (t, n) in report.rows_by_table {
            *by_table.entry(t).or_default() += n;
        }
        for (c, n) in report.skipped {
            *skipped.entry(c).or_default() += n;
        }
        rejected += report.error_count;
        unknown.extend(report.unknown_columns);
    }
    // A bulk import leaves nothing in the live log: every later query reads
    // only the Parquet segments (projection, statistics) instead of decoding
    // the whole log first.
    store.roll().map_err(|e| CliError::failure(format!("event store: {e}")))?;
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.into_iter().collect();
        eprintln!("note: columns netward does not keep were ignored: {}", names.join(", "));
    }
    if !skipped.is_empty() {
        let list: Vec<String> = skipped.iter().map(|(c, n)| format!("{c} ({n})")).collect();
        let why = match table {
            Some(t) => format!("not {t}"),
            None => "tables netward does not keep".to_string(),
        };
        eprintln!("note: skipped envelopes of {why}: {}", list.join(", "));
    }
    let stored: u64 = by_table.values().sum();
    let per: Vec<String> = by_table.iter().map(|(t, n)| format!("{n} into {t}")).collect();
    let into = match (per.is_empty(), table) {
        (true, Some(t)) => format!("0 row(s) into {t}"),
        (true, None) => "0 row(s)".to_string(),
        (false, _) => per.join(", "),
    };
    eprintln!("imported {into}; {rejected} rejected");
    if rejected > 0 {
        return Err(CliError::bad_input(format!("{rejected} row(s) were rejected (the others, {stored}, are stored)")));
    }
    Ok(())
}

/// CSV when the extension says so, else when the first byte is not `{`/`[`.
fn sniff_csv(file: &Path, reader: &mut BufReader<std::fs::File>) -> CliResult<bool> {
    if let Some(ext) = file.extension().and_then(|e| e.to_str()) {
        match ext.to_ascii_lowercase().as_str() {
            "csv" => return Ok(true),
            "json" | "jsonl" | "ndjson" => return Ok(false),
            _ => {}
        }
    }
    let head = reader.fill_buf().map_err(|e| CliError::failure(format!("cannot read {}: {e}", file.display())))?;
    let first = head.iter().copied().find(|b| !b.is_ascii_whitespace() && *b != 0xef && *b != 0xbb && *b != 0xbf);
    Ok(!matches!(first, Some(b'{') | Some(b'[')))
}
