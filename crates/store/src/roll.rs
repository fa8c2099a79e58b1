//! Rolling without holding up appends.
//!
//! A roll in three steps, so that its slow part (sorting the rows and
//! writing the Parquet segments) needs no access to the store and can run
//! on another thread while appends go on:
//!
//! 1. [`Store::begin_roll`] freezes the live generation G: it creates
//!    generation G+1, fsyncs it and the directory, and sends every later
//!    append there. Quick: one file creation, two fsyncs.
//! 2. [`RollJob::write`] writes (and fsyncs) one segment per table from G's
//!    rows, then fsyncs the directory. No borrow of the store.
//! 3. [`Store::finish_roll`] commits the manifest that lists the segments
//!    and names G+1 as the live generation (the same commit point as an
//!    inline roll), drops G's rows from the snapshot's tail in the same step
//!    as it adds the segments, and deletes G.
//!
//! While a roll is under way two generations are live: the manifest's G
//! (frozen) and G+1. Recovery replays both and completes the roll before
//! the store is handed out; readers read both. Before the commit G's rows
//! are only in G (uncommitted segments are leftovers), after it only in the
//! segments: never twice, never lost. At most one roll is under way.

use crate::log::log_file_name;
use crate::manifest::stored_tables;
use crate::segment::{write_segment, Segment};
use crate::store::{sort_segments, RollReport, Store};
use crate::vfs::Vfs;
use crate::{Result, StoreError};
use arrow::record_batch::RecordBatch;
use netward_events::Table;
use std::path::PathBuf;
use std::sync::Arc;

/// The frozen generation of a roll under way.
#[derive(Debug, Clone)]
pub(crate) struct Frozen {
    pub generation: u64,
    /// Its appends: the first ones of the snapshot's tail.
    pub appends: usize,
    pub bytes: u64,
}

/// The slow part of a roll: the frozen rows and where their segments go.
pub struct RollJob {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    generation: u64,
    /// Segment id, table, rows.
    parts: Vec<(u64, Table, Vec<RecordBatch>)>,
    row_group_rows: usize,
}

/// Segments written by a [`RollJob`], to be committed by
/// [`Store::finish_roll`].
pub struct WrittenRoll {
    generation: u64,
    segments: Vec<Segment>,
}

impl RollJob {
    /// Rows the roll moves into segments.
    pub fn rows(&self) -> u64 {
        self.parts.iter().flat_map(|(_, _, b)| b).map(|b| b.num_rows() as u64).sum()
    }

    /// Writes and fsyncs the segments, then the directory (their entries
    /// must be durable before a manifest names them).
    pub fn write(self) -> Result<WrittenRoll> {
        let vfs = self.vfs.as_ref();
        let mut segments = Vec::with_capacity(self.parts.len());
        for (id, table, batches) in &self.parts {
            segments.push(write_segment(vfs, &self.dir, *id, *table, batches, self.row_group_rows)?);
        }
        if !segments.is_empty() {
            vfs.sync_dir(&self.dir).map_err(|e| StoreError::io("fsync directory", &self.dir, e))?;
        }
        Ok(WrittenRoll { generation: self.generation, segments })
    }
}

impl Store {
    /// Freezes the live log generation and starts the next one (step 1 in
    /// the module docs). `None` when the log is empty. Fails with
    /// [`StoreError::RollUnderWay`] when a roll is under way already.
    pub fn begin_roll(&mut self) -> Result<Option<RollJob>> {
        self.writable()?;
        if self.frozen.is_some() {
            return Err(StoreError::RollUnderWay);
        }
        if self.log_rows == 0 {
            return Ok(None);
        }
        let generation = self.manifest.log_generation;
        let path = self.dir.join(log_file_name(generation + 1));
        let vfs = self.vfs.clone();
        let r = (|| {
            let mut log = vfs.create(&path).map_err(|e| StoreError::io("create", &path, e))?;
            log.sync().map_err(|e| StoreError::io("fsync", &path, e))?;
            vfs.sync_dir(&self.dir).map_err(|e| StoreError::io("fsync directory", &self.dir, e))?;
            Ok(log)
        })();
        let log = self.poison(r)?;
        let appends = self.shared.read().unwrap_or_else(|e| e.into_inner()).tail.len();
        self.frozen = Some(Frozen { generation, appends, bytes: self.log_len });
        self.log = Some(log);
        self.log_len = 0;
        self.log_rows = 0;
        Ok(Some(self.frozen_job()))
    }

    /// The job for the frozen generation's rows; reserves its segment ids.
    pub(crate) fn frozen_job(&mut self) -> RollJob {
        let frozen = self.frozen.clone().expect("a roll is under way");
        let tail: Vec<(Table, RecordBatch)> =
            self.shared.read().unwrap_or_else(|e| e.into_inner()).tail[..frozen.appends].to_vec();
        let mut parts = Vec::new();
        for table in stored_tables() {
            let batches: Vec<RecordBatch> =
                tail.iter().filter(|(t, b)| *t == table && b.num_rows() > 0).map(|(_, b)| b.clone()).collect();
            if batches.is_empty() {
                continue;
            }
            // An id reserved and never committed is only a gap.
            parts.push((self.manifest.next_segment, table, batches));
            self.manifest.next_segment += 1;
        }
        RollJob {
            vfs: self.vfs.clone(),
            dir: self.dir.clone(),
            generation: frozen.generation,
            parts,
            row_group_rows: self.opts.row_group_rows,
        }
    }

    /// Commits a written roll (step 3 in the module docs).
    pub fn finish_roll(&mut self, done: WrittenRoll) -> Result<RollReport> {
        self.writable()?;
        let frozen = match &self.frozen {
            Some(f) if f.generation == done.generation => f.clone(),
            _ => return Err(StoreError::RollUnderWay),
        };
        let mut next = self.manifest.clone();
        next.segments.extend(done.segments.iter().map(Segment::entry));
        next.log_generation = frozen.generation + 1;
        // The commit point: the segments and the new generation, together.
        let r = next.commit(self.vfs.as_ref(), &self.dir);
        self.poison(r)?;
        self.manifest = next;
        self.frozen = None;
        {
            let mut snap = self.shared.write().unwrap_or_else(|e| e.into_inner());
            snap.tail.drain(..frozen.appends);
            snap.segments.extend(done.segments.iter().cloned().map(Arc::new));
            sort_segments(&mut snap.segments);
        }
        // The old generation is obsolete now; if this fails, the next open
        // removes it.
        let _ = self.vfs.remove(&self.dir.join(log_file_name(frozen.generation)));
        self.collect_garbage();
        let rows = done.segments.iter().map(|s| s.rows).sum();
        Ok(RollReport { segments: done.segments, rows })
    }

    /// A roll's [`RollJob::write`] failed: the store is poisoned (reopening
    /// completes the roll from the two live generations).
    pub fn abort_roll(&mut self, why: &StoreError) {
        if self.frozen.is_some() && self.poisoned.is_none() {
            self.poisoned = Some(format!("roll: {why}"));
        }
    }
}
