#![forbid(unsafe_code)]
//! The durable event store: a checksummed append log plus Parquet segments,
//! queried together through DataFusion.
//!
//! It owns everything netward keeps on disk about events: how an append is
//! made durable, how the log becomes columnar segments, how a crash is
//! recovered from, how old data is dropped, and how the tables are offered
//! to the hunting engine ([`Store::register`]). Rows come in as event-model
//! [`Record`](netward_events::Record)s or Arrow batches of
//! [`Table::arrow_schema`](netward_events::Table::arrow_schema).
//!
//! # On-disk layout
//!
//! One flat directory:
//!
//! ```text
//! MANIFEST                      JSON: format, version, table columns, segments, live log generation
//! LOCK                          held (flock) by the one writer
//! wal-<generation:020>.log      the live append log (exactly one generation is live)
//! seg-<id:020>-<Table>.parquet  a rolled segment: one table, rows sorted by Timestamp
//! ```
//!
//! A log frame is `len:u32 | crc32c:u32 | table:u8 + 7 pad | Arrow IPC batch`
//! (see the `log` module); one frame per append, so an append is atomic.
//!
//! # Protocol
//!
//! * **Append**: encode the rows as one frame, write it at the end of the
//!   live log, fsync the log, then acknowledge ([`AppendAck`]). The log file
//!   and its directory entry were fsynced when the generation was created.
//! * **Roll** (when the log passes [`StoreOptions::roll_rows`] /
//!   [`StoreOptions::roll_bytes`], checked before the next append, or on
//!   [`Store::roll`]): write one segment per table from the log's rows and
//!   fsync it; create the next log generation and fsync it; fsync the
//!   directory; then **commit** a manifest that lists the new segments *and*
//!   names the new generation (write `MANIFEST.tmp`, fsync, rename over
//!   `MANIFEST`, fsync the directory). Finally the old log is deleted.
//!   Because one rename both adds the segments and retires the old log, a
//!   rolled row is never in the segments and the live log at once: before
//!   the rename recovery replays the old log and ignores the new segments,
//!   after it the reverse.
//! * **Roll off the append path** (`roll` module: [`Store::begin_roll`],
//!   [`RollJob::write`], [`Store::finish_roll`]): the next generation is
//!   created first and takes the appends while the segments are written
//!   elsewhere; the same commit then names it. Until then both generations
//!   are live, and recovery replays both and completes the roll.
//! * **Group commit** ([`Store::append_encoded`]): appends encoded ahead
//!   ([`EncodedAppend`]), one frame each, written together with one fsync.
//! * **Retention** ([`Store::enforce_retention`]): commit a manifest without
//!   the dropped segments, then delete their files (deferred while a
//!   [`Snapshot`] of this process still holds them).
//! * **Open / recovery** (writer): take the lock; if there is no `MANIFEST`,
//!   create one (refusing when log or segment files exist without one);
//!   check format version and table columns; fsync the directory (so a
//!   manifest rename the last writer did not fsync becomes durable before
//!   anything it obsoletes is deleted); delete `MANIFEST.tmp`, segment files
//!   the manifest does not name, and log generations other than the live one
//!   and its successor (the successor is kept when it holds appends: a roll
//!   was under way, and is completed once the logs are read; anything newer
//!   can only be an empty leftover);
//!   read the live log frame by frame and cut it at the first invalid frame
//!   (a torn write, never acknowledged); fsync the log and the directory.
//! * **Failures**: an I/O error while appending, rolling or committing
//!   retention *poisons* the store: later calls fail with
//!   [`StoreError::Poisoned`] until it is reopened, which recovers. An append
//!   that failed may or may not be stored; one that was acknowledged always
//!   is, exactly once.
//! * **Readers** ([`StoreOptions::read_only`]) take no lock and write
//!   nothing: they read the manifest and the live log's valid frames (a roll
//!   racing them makes them read the manifest again), and see new data on
//!   [`Store::refresh`]. Within a process, queries see the consistent
//!   [`Snapshot`] current when they are planned.
//!
//! All file I/O goes through [`Vfs`]; [`sim::SimFs`] simulates power cuts
//! and failing I/O for the crash tests.
//!
//! # Around the store
//!
//! * [`import`]: `netward import --table T FILE` (JSON lines or CSV, bad
//!   rows reported by line and skipped, appends of N rows).
//! * [`gen`]: synthetic `DeviceNetworkEvents` for benchmarks and tests.
//! * Feature `datafusion` (default): [`Store::register`] and [`StoreTable`].
//!
//! # Costs (measured, `benches/ingest.rs`)
//!
//! A log frame costs ~430 bytes per event (Arrow IPC, uncompressed, so
//! appends stay cheap); a segment ~37 bytes per event (zstd, dictionaries,
//! delta-encoded times). Statistics are kept only where they prune: page
//! min/max on `Timestamp`, chunk min/max on other numbers and times.

mod batch;
mod error;
pub mod gen;
pub mod import;
mod log;
mod manifest;
#[cfg(feature = "datafusion")]
mod provider;
mod roll;
mod segment;
pub mod sim;
mod store;
mod vfs;

pub use batch::{batch_to_records, records_to_batch};
pub use error::{Result, StoreError};
pub use log::MAX_FRAME_PAYLOAD;
pub use manifest::FORMAT_VERSION;
#[cfg(feature = "datafusion")]
pub use provider::StoreTable;
pub use roll::{RollJob, WrittenRoll};
pub use segment::Segment;
pub use store::{AppendAck, EncodedAppend, RecoveryReport, RetentionReport, RollReport, Snapshot, Store, StoreOptions};
pub use vfs::{LockGuard, StdFs, Vfs, VfsFile};

/// Decodes a log file's bytes as recovery does: the number of valid appends
/// and the length of the valid prefix. For the fuzz targets.
#[doc(hidden)]
pub fn fuzz_decode_log(bytes: &[u8]) -> Result<(usize, u64)> {
    let c = log::decode_log(std::path::Path::new("fuzz"), bytes)?;
    Ok((c.appends.len(), c.valid_len))
}

/// Frames `payload` (table tag and IPC bytes) with a correct length and
/// checksum, so that fuzzing reaches the Arrow IPC decoder.
#[doc(hidden)]
pub fn fuzz_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}
