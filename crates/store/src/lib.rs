//! The durable event store: checksummed append log plus Parquet segments.
