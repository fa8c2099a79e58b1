#![deny(unsafe_code)]
//! Sans-IO policy: indicators, threat feeds, precedence and verdicts, and a
//! compact lock-free matcher.
//!
//! * [`indicator`]: indicator types and their canonical values;
//! * [`matcher`]: the compiled snapshot and the precedence rules;
//! * [`handle`]: [`MatcherHandle`], the current snapshot swapped atomically;
//! * [`verdict`]: the verdict JSON and the meaning of `enforced` and
//!   `category`;
//! * [`warn`]: temporary allows of warn destinations per user, expiring;
//! * [`feed`]: streaming threat-feed parsers (hosts, domain lists, AdBlock,
//!   URLhaus CSV, STIX 2.1).
//!
//! Time is always passed in (unix seconds); nothing here reads a clock,
//! opens a file or starts a thread. Feeds are read from any `BufRead`. The
//! indicator files in the data directory are the edge crate
//! `netward-policy-store`'s.
//!
//! The one `unsafe` block (an `madvise` hint in `table`) is allowed locally;
//! everything else is safe code.
//!
//! ```
//! use std::sync::Arc;
//! use netward_policy::hash::Seed;
//! use netward_policy::segment::SegmentBuilder;
//! use netward_policy::{Action, EnforcementLevel, IndicatorType, Matcher, Origin, Target};
//! let mut b = SegmentBuilder::new(Seed::FIXED, "custom", Origin::Custom);
//! b.add(&Target::parse(IndicatorType::Domain, "EVIL.example.").unwrap(), Action::Block, None);
//! let m = Matcher::new(Seed::FIXED, vec![Arc::new(b.build())]);
//! let v = m.evaluate("https://WWW.evil.EXAMPLE:443/x", EnforcementLevel::Block, 0).unwrap();
//! assert!(v.enforced);
//! assert_eq!(v.matched[0].value, "evil.example");
//! ```

pub mod action;
pub mod feed;
pub mod handle;
pub mod hash;
pub mod indicator;
pub mod matcher;
pub mod segment;
mod table;
pub mod time;
pub mod verdict;
pub mod warn;

pub use action::{Action, EnforcementLevel, Origin, ResponseCategory, UnknownWord};
pub use feed::{FeedFormat, FeedOptions, ImportReport, LineError};
pub use handle::MatcherHandle;
pub use indicator::{Indicator, IndicatorError, IndicatorSpec, IndicatorType, Target};
pub use matcher::{Decision, Matcher};
pub use verdict::{MatchedIndicator, Verdict, VerdictAction};
pub use warn::{WarnAllow, WarnAllows, WarnError};
