//! Sans-IO policy: indicators, threat feeds, precedence and verdicts, a
//! compact lock-free matcher, and the durable store that feeds it.
//!
//! * [`indicator`]: indicator types and their canonical values;
//! * [`matcher`]: the compiled snapshot and the precedence rules;
//! * [`verdict`]: the verdict JSON and the meaning of `enforced` and
//!   `category`;
//! * [`feed`]: streaming threat-feed parsers (hosts, domain lists, AdBlock,
//!   URLhaus CSV, STIX 2.1);
//! * [`store`]: [`PolicyStore`], indicators and feeds kept durably in a
//!   directory, with atomic snapshot swaps for readers.
//!
//! Time is always passed in (unix seconds); nothing here reads a clock. The
//! store does file I/O (std only) and is the one edge of this crate.
//!
//! ```
//! use netward_policy::{Action, EnforcementLevel, IndicatorSpec, IndicatorType, PolicyStore};
//! let dir = tempfile::tempdir().unwrap();
//! let mut store = PolicyStore::open(dir.path()).unwrap();
//! store.add_indicator(IndicatorSpec::new(IndicatorType::Domain, "EVIL.example.", Action::Block), false).unwrap();
//! let v = store.snapshot().evaluate("https://WWW.evil.EXAMPLE:443/x", EnforcementLevel::Block, 0).unwrap();
//! assert!(v.enforced);
//! assert_eq!(v.matched[0].value, "evil.example");
//! ```

pub mod action;
pub mod feed;
pub mod hash;
pub mod indicator;
pub mod matcher;
pub mod segment;
pub mod store;
mod table;
pub mod time;
pub mod verdict;

pub use action::{Action, EnforcementLevel, Origin, ResponseCategory, UnknownWord};
pub use feed::{FeedFormat, FeedOptions, ImportReport, LineError};
pub use indicator::{Indicator, IndicatorError, IndicatorSpec, IndicatorType, Target};
pub use matcher::{Decision, Matcher};
pub use store::{MatcherHandle, PolicyStore, StoreError};
pub use verdict::{MatchedIndicator, Verdict, VerdictAction};
