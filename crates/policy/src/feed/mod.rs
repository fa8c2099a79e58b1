//! Streaming threat-feed import: each parser reads a [`BufRead`] line by
//! line (or object by object), hands every indicator to a sink as soon as it
//! is read, and records per-line problems with their line numbers.
//!
//! Problems come in two kinds: an **error** is a line that should have been
//! an indicator but is malformed (bad host name, bad CSV row); a **skip**
//! is a well-formed rule this importer does not take (an AdBlock cosmetic
//! rule, a STIX pattern with `AND`), with the reason. Comments, blank lines
//! and non-indicator STIX objects are merely counted as ignored. Only the
//! first [`MAX_SAMPLES`] errors and skips are kept with their reasons; the
//! counters count all. A fatal problem (I/O error, STIX JSON that cannot be
//! parsed) aborts the import.

mod adblock;
mod csvfeed;
mod lines;
mod stix;
mod text;

use std::fmt;
use std::io::BufRead;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::action::{Action, Origin, UnknownWord};
use crate::indicator::Target;

pub use lines::MAX_LINE;

/// Most problems kept with their reasons in an [`ImportReport`].
pub const MAX_SAMPLES: usize = 1000;

/// The feed formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedFormat {
    /// `/etc/hosts` style: `0.0.0.0 evil.example [more names]`.
    Hosts,
    /// One domain (or IP) per line, `#` comments.
    Domains,
    /// AdBlock filter lists; only `||domain^` rules are taken.
    Adblock,
    /// URLhaus CSV export (`id,dateadded,url,url_status,...`).
    Urlhaus,
    /// A STIX 2.1 bundle of indicator objects.
    Stix,
}

impl FeedFormat {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedFormat::Hosts => "hosts",
            FeedFormat::Domains => "domains",
            FeedFormat::Adblock => "adblock",
            FeedFormat::Urlhaus => "urlhaus",
            FeedFormat::Stix => "stix",
        }
    }
}

impl fmt::Display for FeedFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FeedFormat {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "hosts" => Ok(FeedFormat::Hosts),
            "domains" | "domain-list" | "plain" => Ok(FeedFormat::Domains),
            "adblock" | "abp" => Ok(FeedFormat::Adblock),
            "urlhaus" | "urlhaus-csv" | "csv" => Ok(FeedFormat::Urlhaus),
            "stix" | "stix2" | "stix21" => Ok(FeedFormat::Stix),
            _ => Err(UnknownWord {
                what: "feed format",
                word: s.into(),
                expected: "hosts, domains, adblock, urlhaus, stix",
            }),
        }
    }
}

/// How a feed's entries are filed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedOptions {
    /// Threat feed (reputation) or content-category list.
    pub origin: Origin,
    /// Action of every entry.
    pub action: Action,
    /// Category label for every entry; when `None`, the feed's own label
    /// (URLhaus `threat`, STIX `indicator_types`) is used where it has one.
    pub category: Option<String>,
}

impl Default for FeedOptions {
    fn default() -> Self {
        FeedOptions { origin: Origin::ThreatFeed, action: Action::Block, category: None }
    }
}

/// Per-entry details some formats carry (STIX).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    /// Title (STIX `name`).
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Expiry, unix seconds (STIX `valid_until`).
    pub expires: Option<i64>,
}

impl Details {
    /// Whether there is anything to keep.
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.description.is_none() && self.expires.is_none()
    }
}

/// One indicator read from a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    /// Canonical target.
    pub target: Target,
    /// The feed's own category label for it, if any.
    pub category: Option<String>,
    /// Details, if the format has them.
    pub details: Details,
    /// The line it came from (for STIX: the line its object ends on).
    pub line: u64,
}

/// A problem with one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineError {
    /// 1-based line number.
    pub line: u64,
    /// What was wrong or why it was skipped.
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The source name.
    pub source: String,
    /// The format, if known.
    pub format: Option<FeedFormat>,
    /// Lines read.
    pub lines: u64,
    /// Indicators taken.
    pub imported: u64,
    /// Comments, blank lines, non-indicator objects.
    pub ignored: u64,
    /// Well-formed rules not taken (see the module docs).
    pub skipped: u64,
    /// Malformed entries.
    pub errors: u64,
    /// The first skips, with reasons.
    pub skipped_samples: Vec<LineError>,
    /// The first errors, with reasons.
    pub error_samples: Vec<LineError>,
}

impl ImportReport {
    pub(crate) fn error(&mut self, line: u64, reason: impl Into<String>) {
        self.errors += 1;
        if self.error_samples.len() < MAX_SAMPLES {
            self.error_samples.push(LineError { line, reason: reason.into() });
        }
    }

    pub(crate) fn skip(&mut self, line: u64, reason: impl Into<String>) {
        self.skipped += 1;
        if self.skipped_samples.len() < MAX_SAMPLES {
            self.skipped_samples.push(LineError { line, reason: reason.into() });
        }
    }
}

/// A problem that stops an import.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Reading failed.
    #[error("reading the feed: {0}")]
    Io(#[from] std::io::Error),
    /// The document as a whole is malformed (STIX JSON).
    #[error("line {line}: {reason}")]
    Malformed {
        /// Where.
        line: u64,
        /// What.
        reason: String,
    },
}

/// Parse a feed, calling `sink` for every indicator, and fill `report`'s
/// counters (`imported` counts the items passed to `sink`).
pub fn parse_feed<R: BufRead>(
    reader: R,
    format: FeedFormat,
    report: &mut ImportReport,
    sink: &mut dyn FnMut(FeedItem),
) -> Result<(), FeedError> {
    report.format = Some(format);
    match format {
        FeedFormat::Hosts => text::parse(reader, text::Kind::Hosts, report, sink),
        FeedFormat::Domains => text::parse(reader, text::Kind::Domains, report, sink),
        FeedFormat::Adblock => adblock::parse(reader, report, sink),
        FeedFormat::Urlhaus => csvfeed::parse(reader, report, sink),
        FeedFormat::Stix => stix::parse(reader, report, sink),
    }
}
