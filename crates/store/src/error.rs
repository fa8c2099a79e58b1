//! The store's one error type. Every variant says which file or row it is about.

use std::path::{Path, PathBuf};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{op} {path}: {source}")]
    Io { op: &'static str, path: PathBuf, source: std::io::Error },
    #[error("row {row}, column `{column}`: {reason}")]
    Row { row: usize, column: &'static str, reason: String },
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[cfg(feature = "datafusion")]
    #[error("datafusion: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("{path} is corrupt at offset {offset}: {reason}")]
    Corrupt { path: PathBuf, offset: u64, reason: String },
    #[error(
        "{path}: store format version {found}, this build reads version {supported}; \
             use a matching netward or start a new store"
    )]
    Version { path: PathBuf, found: u32, supported: u32 },
    #[error(
        "table {table}: the store's columns differ from this build's ({reason}); \
             use a matching netward or start a new store"
    )]
    Schema { table: &'static str, reason: String },
    #[error("{path} is not a netward store: {reason}")]
    NotAStore { path: PathBuf, reason: String },
    #[error("{path}: another writer has the store open")]
    Locked { path: PathBuf },
    #[error("the store was opened read-only")]
    ReadOnly,
    #[error("table {0} is not stored")]
    NotStored(&'static str),
    #[error("an append of {bytes} bytes is larger than the {max}-byte limit; split it")]
    BatchTooLarge { bytes: usize, max: usize },
    #[error("a roll is under way (begin_roll without its finish_roll)")]
    RollUnderWay,
    #[error("a write or fsync failed earlier ({0}); the store must be reopened, which recovers it")]
    Poisoned(String),
}

impl StoreError {
    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> Self {
        StoreError::Io { op, path: path.to_path_buf(), source }
    }
}
