//! The durable event store: checksummed append log plus Parquet segments.

mod batch;
mod error;

pub use batch::{batch_to_records, records_to_batch};
pub use error::{Result, StoreError};
