//! The store writer thread: events from the queue thread, in batches, into
//! the durable store (ReportIds assigned, 1125/1126 into the operational
//! log). The queue thread never waits for the disk: the channel between them
//! is bounded and an event that finds it full is counted as dropped.

use crate::context::Ctx;
use crate::device::ReportIds;
use crate::oplog::OperationalEvent;
use netward_events::{NetworkEvent, Record, Table};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Events a batch holds at most; a batch is also written after [`LINGER`].
const BATCH: usize = 2_000;
/// How long an event waits for company before it is written: the bound on
/// how late `netward hunt` in another process sees it (plus the fsync).
pub const LINGER: Duration = Duration::from_millis(250);
/// While a batch gathers, the writer looks at its channel this often
/// (the channel holds far more than arrives meanwhile).
const GATHER: Duration = Duration::from_millis(20);

/// The store keeps its live log's rows in memory (for hunts) until they are
/// rolled into Parquet; the agent rolls at these sizes, not the store's
/// defaults (1M rows / 256 MiB), so the writer's memory stays small under a
/// flood of events. See README "Memory bound".
const ROLL_ROWS: u64 = 16 * 1024;
const ROLL_BYTES: u64 = 4 << 20;

fn open_store(ctx: &Ctx) -> Result<netward_store::Store, String> {
    let dir = ctx.data_dir.file(crate::cmd::import::STORE_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let opts = netward_store::StoreOptions { roll_rows: ROLL_ROWS, roll_bytes: ROLL_BYTES, ..Default::default() };
    netward_store::Store::open(&dir, opts).map_err(|e| format!("event store: {e}"))
}

#[derive(Default)]
pub struct WriterStats {
    pub written: AtomicU64,
    pub failed: AtomicU64,
    /// Milliseconds the last batch waited between its first event and its fsync.
    pub lag_ms: AtomicU64,
}

/// What the writer is sent.
// Network events are nearly every item: boxing them would cost an
// allocation each.
#[allow(clippy::large_enum_variant)]
pub enum Item {
    Network(NetworkEvent),
    /// Rows of another table (`DeviceInfo`, `DeviceProcessEvents`), written
    /// at once as one append; ReportIds assigned here.
    Rows(Table, Vec<Record>),
}

/// Runs until the sending side is dropped, then writes what is left.
pub fn run(ctx: &Ctx, rx: Receiver<Item>, stats: Arc<WriterStats>) -> Result<(), String> {
    let mut store = open_store(ctx)?;
    let mut ids: Option<ReportIds> = None;
    let mut batch: Vec<NetworkEvent> = Vec::with_capacity(BATCH);
    let mut first: Option<Instant> = None;
    loop {
        let timeout = first.map_or(Duration::from_secs(3600), |f| LINGER.saturating_sub(f.elapsed()));
        if first.is_some() {
            // A batch is gathering: let the next events come together
            // rather than be woken for each (a context switch per event,
            // taken from the programs on a busy device).
            std::thread::sleep(timeout.min(GATHER));
        }
        let closed = match rx.recv_timeout(timeout) {
            Ok(Item::Rows(table, mut rows)) => {
                // Rare (DeviceInfo at start and reload) or already batched
                // (process events): written at once.
                match write_rows(ctx, &mut store, &mut ids, table, &mut rows) {
                    Ok(n) => {
                        stats.written.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(e) => {
                        stats.failed.fetch_add(rows.len() as u64, Ordering::Relaxed);
                        eprintln!("netward run: cannot store {} {table} row(s): {e}", rows.len());
                    }
                }
                continue;
            }
            Ok(Item::Network(ev)) => {
                first.get_or_insert_with(Instant::now);
                batch.push(ev);
                if batch.len() < BATCH {
                    continue;
                }
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        if !batch.is_empty() {
            match write(ctx, &mut store, &mut ids, &mut batch) {
                Ok(n) => {
                    stats.written.fetch_add(n, Ordering::Relaxed);
                }
                Err(e) => {
                    stats.failed.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    eprintln!("netward run: cannot store {} event(s): {e}", batch.len());
                    batch.clear();
                }
            }
            if let Some(f) = first.take() {
                stats.lag_ms.store(f.elapsed().as_millis() as u64, Ordering::Relaxed);
            }
        }
        if closed {
            return Ok(());
        }
    }
}

/// The ReportId blocks, opened on first use (call under the data directory lock).
fn report_ids<'a, 'b>(ctx: &'a Ctx, ids: &'b mut Option<ReportIds<'a>>) -> Result<&'b mut ReportIds<'a>, String> {
    match ids {
        Some(i) => Ok(i),
        None => Ok(ids.insert(ReportIds::open(&ctx.data_dir).map_err(|e| e.to_string())?)),
    }
}

fn write_rows<'a>(
    ctx: &'a Ctx,
    store: &mut netward_store::Store,
    ids: &mut Option<ReportIds<'a>>,
    table: Table,
    rows: &mut [Record],
) -> Result<u64, String> {
    let _lock = ctx.data_dir.lock().map_err(|e| e.to_string())?;
    let ids = report_ids(ctx, ids)?;
    for row in rows.iter_mut() {
        let id = ids.next_id().map_err(|e| e.to_string())?;
        row.set("ReportId", netward_events::Value::Long(id)).map_err(|e| e.to_string())?;
    }
    let ack = store.append(table, rows).map_err(|e| format!("event store: {e}"))?;
    Ok(ack.rows as u64)
}

fn write<'a>(
    ctx: &'a Ctx,
    store: &mut netward_store::Store,
    ids: &mut Option<ReportIds<'a>>,
    batch: &mut Vec<NetworkEvent>,
) -> Result<u64, String> {
    // ReportIds are reserved in blocks under the data directory lock, so a
    // `replay --store` running beside the agent never takes the same ids.
    let _lock = ctx.data_dir.lock().map_err(|e| e.to_string())?;
    let ids = report_ids(ctx, ids)?;
    let mut rows = Vec::with_capacity(batch.len());
    let mut oplog = Vec::new();
    for mut ev in batch.drain(..) {
        ev.report_id = ids.next_id().map_err(|e| e.to_string())?;
        oplog.extend(OperationalEvent::verdict(&ev));
        rows.push(ev.to_record());
    }
    let ack = store.append(Table::DeviceNetworkEvents, &rows).map_err(|e| format!("event store: {e}"))?;
    if !oplog.is_empty() {
        crate::oplog::append(&ctx.data_dir, &oplog).map_err(|e| e.to_string())?;
    }
    Ok(ack.rows as u64)
}
