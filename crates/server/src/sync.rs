//! The device's side of an upload (`netward sync`): read the local store
//! from where the last sync stopped and send what the server has not
//! acknowledged, at-least-once.
//!
//! The cursor (`<data dir>/sync-cursor.json`, per server URL) holds, per
//! table, the newest segment fully acknowledged and the ReportIds
//! acknowledged since (rows of the live log, and of a segment being sent).
//! Segments are immutable and numbered in the order they were rolled, so a
//! sync reads only newer segments and the live log; a row acknowledged while
//! in the live log is skipped again when its roll puts it in a segment, and
//! its id leaves the cursor once that segment is done, so the cursor stays
//! the size of the live log. The cursor is written after every
//! acknowledgement; a crash between the server's acknowledgement and that
//! write only makes the next sync send those rows again, and the server
//! drops them as duplicates. A refusal or an unreachable server stops the
//! sync with the error; what was acknowledged stays acknowledged.
//!
//! Back-pressure: at most [`SyncOptions::in_flight`] uploads are
//! outstanding; the next batch is encoded only when one is answered.

use crate::client::{Client, ClientError};
use crate::idset::IdSet;
use arrow::array::{Array, BooleanArray, Int64Array, RecordBatch};
use arrow::compute::filter_record_batch;
use bytes::Bytes;
use netward_events::Table;
use netward_store::{Store, StoreOptions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

pub const CURSOR_FILE: &str = "sync-cursor.json";

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Rows per upload.
    pub batch_rows: usize,
    /// Uploads outstanding at once.
    pub in_flight: usize,
    /// Tries of one upload while the server is unreachable (or busy).
    pub attempts: u32,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions { batch_rows: 8192, in_flight: 4, attempts: 4 }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Rows sent and acknowledged, per table.
    pub sent: BTreeMap<Table, u64>,
    /// Of those, rows the server already held.
    pub duplicates: u64,
    /// Rows without a ReportId: never sent, the server could not deduplicate them.
    pub without_report_id: u64,
    /// The cursor started afresh (first sync to this server).
    pub fresh_cursor: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{0}")]
    Local(String),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Cursor {
    server: String,
    tables: BTreeMap<String, TableCursor>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TableCursor {
    /// Segments with ids up to this are fully acknowledged.
    segments_through: u64,
    /// ReportIds acknowledged outside those segments.
    acked: IdSet,
}

struct Syncer<'a> {
    client: &'a Client,
    opts: &'a SyncOptions,
    cursor: Cursor,
    path: PathBuf,
    report: SyncReport,
    progress: &'a mut dyn FnMut(&str),
    last_said: Option<Instant>,
}

/// Sends the store in `store_dir` to the server, resuming from the cursor
/// at `cursor_path`. `progress` is told how far it got (first
/// acknowledgement, then at most once a second).
pub async fn sync(
    store_dir: &Path,
    cursor_path: &Path,
    client: &Client,
    opts: &SyncOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<SyncReport, SyncError> {
    let mut s = Syncer {
        client,
        opts,
        cursor: Cursor::default(),
        path: cursor_path.to_path_buf(),
        report: SyncReport::default(),
        progress,
        last_said: None,
    };
    s.cursor = match std::fs::read(cursor_path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| {
            SyncError::Local(format!("{} is damaged: {e} (remove it to send everything again)", cursor_path.display()))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Cursor::default(),
        Err(e) => return Err(SyncError::Local(format!("cannot read {}: {e}", cursor_path.display()))),
    };
    // A bad token is told even when there is nothing to send.
    let hello = client.hello().await?;
    if hello.device_id.is_none() {
        return Err(SyncError::Local(format!(
            "token {} is a hunt token: a device syncs with its device token",
            hello.token
        )));
    }
    if s.cursor.server != client.url() {
        // Another server holds none of our rows: start again.
        s.report.fresh_cursor = true;
        s.cursor = Cursor { server: client.url().to_string(), tables: BTreeMap::new() };
    }
    if !store_dir.join("MANIFEST").exists() {
        return Ok(s.report);
    }
    let store = Store::open(store_dir, StoreOptions::read_only())
        .map_err(|e| SyncError::Local(format!("event store {}: {e}", store_dir.display())))?;
    let snap = store.snapshot();
    for table in Table::ALL.into_iter().filter(|t| t.is_stored()) {
        let mut segs: Vec<_> = snap.segments_of(table).cloned().collect();
        segs.sort_by_key(|s| s.id);
        for seg in segs {
            if seg.id <= s.table(table).segments_through {
                continue;
            }
            let batches = seg.read(store.vfs().as_ref()).map_err(|e| SyncError::Local(format!("event store: {e}")))?;
            s.send(table, &batches).await?;
            // Done: its ids leave the cursor (the segment number covers them).
            let tc = s.table(table);
            for b in &batches {
                let ids = report_ids(b)?;
                let ids: Vec<i64> = ids.iter().flatten().collect();
                tc.acked.remove_all(&ids);
            }
            tc.segments_through = seg.id;
            s.save()?;
        }
        s.send(table, &snap.tail_of(table)).await?;
    }
    s.save()?;
    Ok(s.report)
}

fn report_ids(b: &RecordBatch) -> Result<&Int64Array, SyncError> {
    b.column_by_name("ReportId")
        .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
        .ok_or_else(|| SyncError::Local("a stored batch without ReportId".into()))
}

impl Syncer<'_> {
    fn table(&mut self, t: Table) -> &mut TableCursor {
        self.cursor.tables.entry(t.name().to_string()).or_default()
    }

    fn save(&self) -> Result<(), SyncError> {
        let json = serde_json::to_vec(&self.cursor).map_err(|e| SyncError::Local(e.to_string()))?;
        netward_policy_store::write_atomic(&self.path, |w| w.write_all(&json))
            .map_err(|e| SyncError::Local(format!("cannot write {}: {e}", self.path.display())))
    }

    /// Sends the rows of `batches` not acknowledged yet, `in_flight` at a time.
    async fn send(&mut self, table: Table, batches: &[RecordBatch]) -> Result<(), SyncError> {
        let mut tasks: JoinSet<(Vec<i64>, Result<crate::api::UploadReply, ClientError>)> = JoinSet::new();
        let mut first_error: Option<SyncError> = None;
        for b in batches {
            let ids = report_ids(b)?;
            let acked = &self.table(table).acked;
            let keep: BooleanArray =
                (0..ids.len()).map(|i| Some(!ids.is_null(i) && !acked.contains(ids.value(i)))).collect();
            self.report.without_report_id += ids.null_count() as u64;
            let todo = filter_record_batch(b, &keep).map_err(|e| SyncError::Local(e.to_string()))?;
            let mut off = 0;
            while off < todo.num_rows() && first_error.is_none() {
                let n = self.opts.batch_rows.max(1).min(todo.num_rows() - off);
                let chunk = todo.slice(off, n);
                off += n;
                while tasks.len() >= self.opts.in_flight.max(1) {
                    let done = tasks.join_next().await.expect("non-empty");
                    if let Err(e) = self.settle(table, done) {
                        first_error.get_or_insert(e);
                    }
                }
                if first_error.is_some() {
                    break;
                }
                let ids = report_ids(&chunk)?.values().to_vec();
                let body = encode(&chunk)?;
                let client = self.client.clone();
                let attempts = self.opts.attempts.max(1);
                tasks.spawn(async move { (ids, upload_with_retry(&client, table, body, attempts).await) });
            }
        }
        // The rest still count: record each acknowledgement that comes back.
        while let Some(done) = tasks.join_next().await {
            if let Err(e) = self.settle(table, done) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn settle(
        &mut self,
        table: Table,
        done: Result<(Vec<i64>, Result<crate::api::UploadReply, ClientError>), tokio::task::JoinError>,
    ) -> Result<(), SyncError> {
        let (ids, r) = done.map_err(|e| SyncError::Local(format!("upload task: {e}")))?;
        let reply = r?;
        self.table(table).acked.insert_all(&ids);
        *self.report.sent.entry(table).or_insert(0) += ids.len() as u64;
        self.report.duplicates += reply.duplicates;
        self.save()?;
        if self.last_said.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            self.last_said = Some(Instant::now());
            let total: u64 = self.report.sent.values().sum();
            (self.progress)(&format!("{total} row(s) acknowledged so far ({} now in {})", ids.len(), table.name()));
        }
        Ok(())
    }
}

fn encode(b: &RecordBatch) -> Result<Bytes, SyncError> {
    let mut out = Vec::new();
    let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut out, &b.schema())
        .map_err(|e| SyncError::Local(e.to_string()))?;
    w.write(b).map_err(|e| SyncError::Local(e.to_string()))?;
    w.finish().map_err(|e| SyncError::Local(e.to_string()))?;
    drop(w);
    Ok(Bytes::from(out))
}

async fn upload_with_retry(
    client: &Client,
    table: Table,
    body: Bytes,
    attempts: u32,
) -> Result<crate::api::UploadReply, ClientError> {
    let mut wait = Duration::from_millis(250);
    let mut n = 1;
    loop {
        match client.upload(table, body.clone()).await {
            Err(e) if e.retryable() && n < attempts => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(4));
                n += 1;
            }
            r => return r,
        }
    }
}
