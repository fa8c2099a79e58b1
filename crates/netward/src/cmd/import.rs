//! `netward import --table T FILE...`: rows exported from Defender's
//! advanced hunting (JSON lines, or CSV with a header) into
//! the event store. A bad row is reported with its file and line and
//! skipped; every good row is stored; the exit code is 2 when any row was
//! rejected.

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
    let table: Table = a.table.parse().map_err(CliError::bad_input)?;
    if !table.is_stored() {
        return Err(CliError::bad_input(format!("{table} is a view over DeviceNetworkEvents and is not stored"))
            .with_hint("import network protection rows into DeviceNetworkEvents; DeviceEvents shows them"));
    }
    ctx.announce_data_dir_if_new();
    let _lock = ctx.data_dir.lock()?;
    let mut store = open_store(ctx)?;
    let (mut stored, mut rejected) = (0u64, 0u64);
    let mut unknown = std::collections::BTreeSet::new();
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
        let report = netward_store::import::import(&mut store, table, format, reader, BATCH, SHOWN_ERRORS)
            .map_err(|e| CliError::failure(format!("{}: event store: {e}", file.display())))?;
        for e in &report.errors {
            eprintln!("{}:{}: {}", file.display(), e.line, e.reason);
        }
        let hidden = report.error_count.saturating_sub(report.errors.len() as u64);
        if hidden > 0 {
            eprintln!("{}: {hidden} more rejected row(s) not shown", file.display());
        }
        stored += report.rows;
        rejected += report.error_count;
        unknown.extend(report.unknown_columns);
    }
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.into_iter().collect();
        eprintln!("note: columns netward does not keep were ignored: {}", names.join(", "));
    }
    eprintln!("imported {stored} row(s) into {table}; {rejected} rejected");
    if rejected > 0 {
        return Err(CliError::bad_input(format!("{rejected} row(s) were rejected (the others are stored)")));
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
