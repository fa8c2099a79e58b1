#![forbid(unsafe_code)]
//! netward's hunting engine: KQL compiled onto Apache DataFusion.
//!
//! A query is parsed ([`parse`]: lexer and parser with byte positions),
//! compiled by the planner onto a DataFusion `LogicalPlan` (KQL functions
//! are DataFusion UDFs, [`func`]), and executed by DataFusion within a
//! per-query time and memory limit.
//!
//! ```no_run
//! # async fn f(ctx: datafusion::prelude::SessionContext) {
//! use netward_hunt::{Hunt, HuntOptions};
//! let hunt = Hunt::new(ctx, HuntOptions::default());
//! let r = hunt.run("DeviceNetworkEvents | where RemoteUrl has 'example' | take 10").await;
//! # }
//! ```
//!
//! The session must have `DeviceNetworkEvents` and `DeviceInfo` registered
//! (by the store, or MemTables); `DeviceEvents` is provided as a view over
//! `DeviceNetworkEvents`. Queries are read-only: only KQL's query
//! operators exist, no control commands.
//!
//! Without the default `engine` feature only the parser is built (no
//! DataFusion): that is what the fuzz target uses.
//!
//! Result columns carry `kql_type` field metadata (`string`, `long`,
//! `dynamic`, ...); dynamic columns hold JSON text.

// `is_multiple_of` is newer than the workspace's rust-version (1.85).
#![allow(clippy::manual_is_multiple_of)]

#[doc(hidden)]
pub mod corpus;
pub mod editor;
#[cfg(feature = "engine")]
mod engine;
pub mod error;
#[cfg(feature = "engine")]
pub mod func;
pub mod parse;
#[cfg(feature = "engine")]
mod plan;
pub mod value;

#[cfg(feature = "engine")]
pub use engine::{Cost, Hunt, HuntOptions, HuntResult, Planned, RenderHint};
pub use error::{ErrorKind, HuntError, Span};
#[cfg(feature = "engine")]
pub use func::KQL_TYPE;
#[cfg(feature = "engine")]
pub use plan::{
    PlanStats, DEFENDER_FUNCTIONS, MAX_PLAN_DEPTH, MAX_PLAN_NODES, NOT_COLLECTED_COLUMNS, NOT_COLLECTED_TABLES,
};
