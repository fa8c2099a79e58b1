#![forbid(unsafe_code)]
//! netward's fleet server and the device side of talking to it.
//!
//! It owns: the enrollment tokens ([`token`]: one DeviceId per device
//! token, hunt tokens for fleet queries, expiry, revocation); the upload
//! protocol ([`api`]: HTTP/2 with Arrow IPC stream bodies); the server's
//! ingest ([`ingest`]: every row checked against the token's DeviceId,
//! deduplicated by (table, DeviceId, ReportId), appended to the server's own
//! netward store before it is acknowledged, concurrent uploads sharing one
//! fsync (`commit`), the log rolled into segments by a thread of its own
//! (`roller`)), the store's Parquet segments in
//! an object store, local or S3-compatible ([`segments`]); fleet-wide KQL over that store
//! with the same engine as local hunting ([`serve`]); and the device's
//! side: [`sync`] reads the local store from its cursor and uploads with a
//! bounded number of requests in flight ([`client`]); TLS with the
//! server's certificate pinned by fingerprint ([`tls`]). The fleet's policy
//! ([`policy`]: indicators and settings for all devices or a group) reaches
//! the devices by long polls on `/v1/policy` ([`serve`], [`client`]).
//!
//! Why HTTP/2 with Arrow IPC rather than Arrow Flight: the bodies are the
//! same Arrow IPC messages Flight would carry, the server is axum (already
//! in the workspace for the portal) and the client is hyper, both already
//! in the dependency tree; Flight would add tonic, prost and a gRPC
//! toolchain for one request type and one reply. HTTP/2 gives what Flight's
//! transport would: many concurrent uploads on one connection, each with
//! flow control.

pub mod api;
pub mod client;
mod commit;
mod contacts;
mod fleet;
mod idset;
pub mod ingest;
pub mod policy;
mod roller;
pub mod segments;
pub mod serve;
pub mod sync;
pub mod tls;
pub mod token;

pub use client::{Client, ClientError, HuntReply};
pub use idset::IdSet;
pub use segments::{S3Config, SegmentStoreConfig};
pub use serve::{serve, ServerOptions, Transport, STORE_DIR};
pub use sync::{sync, SyncOptions, SyncReport};

use arrow::datatypes::Schema;
use netward_hunt::HuntResult;
use std::sync::Arc;

/// A hunt result as an Arrow IPC stream, notes and render kind in the
/// schema metadata.
pub fn encode_result(r: &HuntResult) -> Result<Vec<u8>, String> {
    let mut meta = r.schema.metadata().clone();
    meta.insert(api::NOTES_KEY.into(), serde_json::to_string(&r.notes).map_err(|e| e.to_string())?);
    if let Some(h) = &r.render {
        meta.insert(api::RENDER_KEY.into(), h.kind.clone());
    }
    let schema = Arc::new(Schema::new_with_metadata(r.schema.fields().clone(), meta));
    let mut out = Vec::new();
    let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut out, &schema).map_err(|e| e.to_string())?;
    for b in &r.batches {
        let b = arrow::record_batch::RecordBatch::try_new(schema.clone(), b.columns().to_vec())
            .map_err(|e| e.to_string())?;
        w.write(&b).map_err(|e| e.to_string())?;
    }
    w.finish().map_err(|e| e.to_string())?;
    drop(w);
    Ok(out)
}
