//! `netward import --table T FILE...`: rows exported from Defender's
//! advanced hunting (JSON lines, a JSON array, or CSV with a header) into
//! the event store. A bad row is reported with its file and line and
//! skipped; every good row is stored; the exit code is 2 when any row was
//! rejected.

use crate::cli::ImportArgs;
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use netward_events::{read_csv, Record, Table};
use netward_store::{Store, StoreOptions};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

pub const STORE_DIR: &str = "store";
/// Rows per durable append: one fsync per batch keeps ingest fast.
const BATCH: usize = 10_000;
/// Rejected rows shown one by one; the rest are counted.
const SHOWN_ERRORS: u64 = 20;

pub fn open_store(ctx: &Ctx) -> CliResult<Store> {
    let dir = ctx.data_dir.file(STORE_DIR);
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::failure(format!("cannot create {}: {e}", dir.display())))?;
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
        let ack = self
            .store
            .append(self.table, &self.pending)
            .map_err(|e| CliError::failure(format!("event store: {e}")))?;
        self.stored += ack.rows as u64;
        self.pending.clear();
        Ok(())
    }
}

struct Tally {
    rejected: u64,
    unknown_columns: Vec<String>,
}

impl Tally {
    fn reject(&mut self, file: &Path, line: u64, reason: &str) {
        self.rejected += 1;
        if self.rejected <= SHOWN_ERRORS {
            eprintln!("{}:{line}: {reason}", file.display());
        }
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
    let mut out = Appender::new(open_store(ctx)?, table);
    let mut tally = Tally { rejected: 0, unknown_columns: Vec::new() };
    for file in &a.files {
        let f = std::fs::File::open(file)
            .map_err(|e| CliError::bad_input(format!("cannot open {}: {e}", file.display())))?;
        let mut reader = BufReader::with_capacity(1 << 20, f);
        let is_csv = match a.input_format.as_deref() {
            Some(f) => f == "csv",
            None => sniff_csv(file, &mut reader)?,
        };
        if is_csv {
            import_csv(file, reader, table, &mut out, &mut tally)?;
        } else {
            import_json(file, reader, table, &mut out, &mut tally)?;
        }
    }
    out.flush()?;
    if !tally.unknown_columns.is_empty() {
        tally.unknown_columns.sort();
        tally.unknown_columns.dedup();
        eprintln!("note: columns netward does not keep were ignored: {}", tally.unknown_columns.join(", "));
    }
    eprintln!("imported {} row(s) into {table}; {} rejected", out.stored, tally.rejected);
    if tally.rejected > 0 {
        return Err(CliError::bad_input(format!("{} row(s) were rejected (the others are stored)", tally.rejected)));
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

fn import_csv(file: &Path, reader: impl Read, table: Table, out: &mut Appender, tally: &mut Tally) -> CliResult<()> {
    let (unknown, rows) = read_csv(reader, table).map_err(|e| {
        CliError::bad_input(format!("{}:{}: {}", file.display(), e.line, e.reason))
    })?;
    tally.unknown_columns.extend(unknown);
    for row in rows {
        match row {
            Ok(r) => out.push(r)?,
            Err(e) => tally.reject(file, e.line, &e.reason),
        }
    }
    Ok(())
}

fn import_json(file: &Path, mut reader: impl BufRead, table: Table, out: &mut Appender, tally: &mut Tally) -> CliResult<()> {
    let head = reader.fill_buf().map_err(|e| CliError::failure(format!("cannot read {}: {e}", file.display())))?;
    if head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        // A JSON array (Defender's "export to JSON"): parsed whole, rows by index.
        let rows: Vec<serde_json::Value> = serde_json::from_reader(reader).map_err(|e| {
            CliError::bad_input(format!("{}:{}:{}: {e}", file.display(), e.line(), e.column()))
        })?;
        for (i, row) in rows.iter().enumerate() {
            add_json_row(file, i as u64 + 1, row, table, out, tally)?;
        }
        return Ok(());
    }
    let mut line = String::new();
    let mut n = 0u64;
    loop {
        line.clear();
        n += 1;
        match reader.read_line(&mut line) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) => {
                tally.reject(file, n, &format!("unreadable line: {e}"));
                continue;
            }
        }
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(v) => add_json_row(file, n, &v, table, out, tally)?,
            Err(e) => tally.reject(file, n, &format!("column {}: {e}", e.column())),
        }
    }
}

fn add_json_row(file: &Path, line: u64, v: &serde_json::Value, table: Table, out: &mut Appender, tally: &mut Tally) -> CliResult<()> {
    match Record::from_json(table, v) {
        Ok((r, unknown)) => {
            for u in unknown {
                if !tally.unknown_columns.contains(&u) {
                    tally.unknown_columns.push(u);
                }
            }
            out.push(r)
        }
        Err(e) => {
            tally.reject(file, line, &e.to_string());
            Ok(())
        }
    }
}
