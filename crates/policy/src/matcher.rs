//! The compiled matcher and the precedence rules.
//!
//! A [`Matcher`] is an immutable snapshot: a list of [`Segment`]s (one per
//! source). The store swaps whole snapshots atomically; lookups never wait.
//!
//! # Precedence (first difference decides)
//! 1. **Origin**: custom indicators beat threat feeds, which beat content
//!    categories, whatever the specificity (Defender evaluates custom
//!    indicators before reputation, and reputation before web content
//!    filtering; an admin's allow for `example.com` therefore also covers
//!    a feed's block of `cdn.example.com`).
//! 2. **Specificity**, within one origin: a URL indicator (host and path)
//!    beats a host-level one; among URL indicators the longer path wins;
//!    among domains the one with more labels (subdomain beats parent); among
//!    IP indicators the narrower range (longer prefix; an `ip` is a /32 or
//!    /128).
//! 3. **Action**, among equally specific matches: Allow > Warn > Block >
//!    Audit.
//! 4. Then segment order and entry order, so the result is deterministic.
//!
//! Expired indicators (`expires <= now`) do not match at all.

use std::cmp::Reverse;
use std::sync::Arc;

use netward_canon::{canonical_destination, CanonError, Destination, Host};

use crate::action::{Action, EnforcementLevel, Origin, ResponseCategory};
use crate::hash::{name_key, Key, Seed, SuffixIter};

/// Suffixes whose buckets the fast path touches before probing.
const PREFETCH_LABELS: usize = 16;
use crate::indicator::{path_matches, IndicatorType};
use crate::segment::{Entry, Segment};
use crate::verdict::{MatchedIndicator, Verdict, VerdictAction, WARN_NOTE};

/// Where a match was found.
#[derive(Debug, Clone, Copy)]
pub enum Via<'m> {
    /// A domain indicator equal to the host's suffix that starts at byte
    /// `start` and has `labels` labels.
    Domain {
        /// Start of the suffix in the host.
        start: usize,
        /// Its label count.
        labels: u8,
    },
    /// A URL indicator with this path prefix.
    Url(&'m str),
    /// An IP (`exact`: full-length prefix) or CIDR indicator.
    Ip {
        /// Prefix length.
        len: u8,
        /// Whether it is a single address.
        exact: bool,
    },
}

/// One live matching indicator.
#[derive(Debug, Clone, Copy)]
pub struct Match<'m> {
    /// Index of its segment in the matcher.
    pub segment: usize,
    /// Its segment.
    pub seg: &'m Segment,
    /// Its payload in the segment.
    pub payload: u32,
    /// Its action.
    pub action: Action,
    /// How it matched.
    pub via: Via<'m>,
}

impl Match<'_> {
    fn kind(&self) -> IndicatorType {
        match self.via {
            Via::Domain { .. } => IndicatorType::Domain,
            Via::Url(_) => IndicatorType::Url,
            Via::Ip { exact: true, .. } => IndicatorType::Ip,
            Via::Ip { exact: false, .. } => IndicatorType::Cidr,
        }
    }

    /// Sort key: smaller is preferred (see the module docs).
    fn rank(&self) -> (u8, u8, Reverse<u32>, u8, usize, u32) {
        let (class, spec) = match self.via {
            Via::Url(p) => (0, p.len() as u32),
            Via::Domain { labels, .. } => (1, u32::from(labels)),
            Via::Ip { len, .. } => (1, u32::from(len)),
        };
        (self.seg.origin().precedence(), class, Reverse(spec), self.action.precedence(), self.segment, self.payload)
    }
}

/// A fast-path result: the winning action and its origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The winning action.
    pub action: Action,
    /// The winner's origin.
    pub origin: Origin,
}

/// An immutable, compiled policy snapshot.
#[derive(Debug)]
pub struct Matcher {
    seed: Seed,
    segments: Vec<Arc<Segment>>,
    label_mask: u64,
    has_urls: bool,
    has_ips: bool,
}

impl Default for Matcher {
    fn default() -> Self {
        Matcher::new(Seed::FIXED, Vec::new())
    }
}

impl Matcher {
    /// A matcher over these segments (all built with `seed`).
    pub fn new(seed: Seed, segments: Vec<Arc<Segment>>) -> Matcher {
        let label_mask = segments.iter().fold(0, |m, s| m | s.label_mask());
        let has_urls = segments.iter().any(|s| s.has_urls());
        let has_ips = segments.iter().any(|s| s.has_ips());
        Matcher { seed, segments, label_mask, has_urls, has_ips }
    }

    /// The hash seed its segments were built with.
    pub fn seed(&self) -> Seed {
        self.seed
    }

    /// Its segments, in order.
    pub fn segments(&self) -> &[Arc<Segment>] {
        &self.segments
    }

    /// Number of indicators over all segments.
    pub fn len(&self) -> usize {
        self.segments.iter().map(|s| s.len()).sum()
    }

    /// Whether there are no indicators.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn max_labels(&self) -> usize {
        64 - self.label_mask.leading_zeros() as usize
    }

    /// Fast path: the winning domain-indicator action for an already
    /// canonical domain name (as [`netward_canon::canonical_host`] prints
    /// it), without allocating. URL and IP indicators are not consulted.
    #[inline]
    pub fn decide_domain(&self, host: &str, now: i64) -> Option<Decision> {
        // Hash the suffixes, keep those some segment's filter admits, and
        // touch their buckets so that the memory reads of all probes are in
        // flight together; then probe.
        let mut keys = [(Key { key: 0, check: 0 }, 0u8, 0u64); PREFETCH_LABELS];
        let mut n = 0;
        let mut touched = 0u64;
        for s in SuffixIter::new(self.seed, host, self.max_labels().min(PREFETCH_LABELS)) {
            let bit = 1u64 << (s.labels - 1);
            if self.label_mask & bit == 0 {
                continue;
            }
            // Bit i set: segment i may hold this suffix (segments beyond 64
            // are always probed).
            let mut segs = 0u64;
            for (i, seg) in self.segments.iter().enumerate() {
                if seg.label_mask() & bit != 0 && (i >= 64 || seg.may_contain(s.key)) {
                    touched ^= seg.touch(s.key);
                    segs |= 1u64 << i.min(63);
                }
            }
            if segs != 0 {
                keys[n] = (s.key, s.labels, segs);
                n += 1;
            }
        }
        std::hint::black_box(touched);
        let mut best: Option<(u8, Reverse<u8>, u8, Decision)> = None;
        let mut consider = |seg: &Segment, labels: u8, p: u32| {
            let Some(e) = seg.entry(p) else { return };
            if !e.is_live(now) {
                return;
            }
            let d = Decision { action: e.action(), origin: seg.origin() };
            let rank = (seg.origin().precedence(), Reverse(labels), d.action.precedence(), d);
            if best.as_ref().is_none_or(|b| (rank.0, rank.1, rank.2) < (b.0, b.1, b.2)) {
                best = Some(rank);
            }
        };
        for &(key, labels, segs) in &keys[..n] {
            for (i, seg) in self.segments.iter().enumerate() {
                if segs & (1u64 << i.min(63)) != 0 {
                    seg.domain_payloads(key, |p| consider(seg, labels, p));
                }
            }
        }
        // Names with more labels than the prefetch window (rare): the rest.
        if self.max_labels() > PREFETCH_LABELS {
            for s in SuffixIter::new(self.seed, host, self.max_labels()).skip(PREFETCH_LABELS) {
                let bit = 1u64 << (s.labels - 1);
                for seg in &self.segments {
                    if seg.label_mask() & bit != 0 {
                        seg.domain_payloads(s.key, |p| consider(seg, s.labels, p));
                    }
                }
            }
        }
        best.map(|b| b.3)
    }

    /// Every live match for a canonical destination, winner first.
    pub fn matches<'m>(&'m self, dest: &Destination, now: i64) -> Vec<Match<'m>> {
        let mut out: Vec<Match<'m>> = Vec::new();
        let host = dest.host();
        let host_text = host.to_string();
        if let Host::Domain(d) = host {
            for s in SuffixIter::new(self.seed, d, self.max_labels()) {
                for (i, seg) in self.segments.iter().enumerate() {
                    if seg.label_mask() & (1 << (s.labels - 1)) == 0 {
                        continue;
                    }
                    seg.domain_payloads(s.key, |p| {
                        push(&mut out, i, seg, p, now, Via::Domain { start: s.start as usize, labels: s.labels });
                    });
                }
            }
        }
        if self.has_urls {
            // A destination without a path (TLS SNI, CONNECT, a bare host)
            // matches only URL indicators for the whole host (path `/`).
            let path = dest.path();
            let hk = name_key(self.seed, &host_text);
            for (i, seg) in self.segments.iter().enumerate() {
                for (prefix, p) in seg.url_entries(hk) {
                    let hit = match path {
                        Some(path) => path_matches(prefix, path),
                        None => &**prefix == "/",
                    };
                    if hit {
                        push(&mut out, i, seg, *p, now, Via::Url(prefix));
                    }
                }
            }
        }
        if let (true, Some(ip)) = (self.has_ips, host.ip()) {
            for (i, seg) in self.segments.iter().enumerate() {
                let width = if ip.is_ipv4() { 32 } else { 128 };
                seg.ip_payloads(ip, |len, p| push(&mut out, i, seg, p, now, Via::Ip { len, exact: len == width }));
            }
        }
        out.sort_by_key(Match::rank);
        out
    }

    /// Evaluate any destination text (URL, host, `host:port`, IP,
    /// `[v6]:port`) at an enforcement level and time (unix seconds).
    pub fn evaluate(&self, input: &str, level: EnforcementLevel, now: i64) -> Result<Verdict, CanonError> {
        let dest = canonical_destination(input)?;
        Ok(self.evaluate_destination(input, &dest, level, now))
    }

    /// [`Matcher::evaluate`] for an already canonical destination.
    pub fn evaluate_destination(&self, input: &str, dest: &Destination, level: EnforcementLevel, now: i64) -> Verdict {
        let ms = self.matches(dest, now);
        let host_text = match dest.host() {
            Host::Ipv6(a) => format!("[{a}]"),
            h => h.to_string(),
        };
        let matched: Vec<MatchedIndicator> = ms
            .iter()
            .map(|m| {
                let value = match m.via {
                    Via::Domain { start, .. } => host_text.get(start..).unwrap_or_default().to_string(),
                    Via::Url(path) => format!("{host_text}{path}"),
                    Via::Ip { len, .. } => match dest.host().ip().map(|ip| crate::indicator::mask(ip, len)) {
                        Some(net) if m.kind() == IndicatorType::Cidr => format!("{net}/{len}"),
                        Some(net) => net.to_string(),
                        None => String::new(),
                    },
                };
                MatchedIndicator {
                    id: m.seg.entry_id(m.payload, m.kind(), &value),
                    kind: m.kind(),
                    value,
                    action: m.action,
                    source: m.seg.source().to_string(),
                }
            })
            .collect();
        let winner = ms.first();
        let action = winner.map_or(VerdictAction::None, |m| m.action.into());
        let category = match winner {
            Some(m) if m.action != Action::Allow => Some(response_category(m)),
            _ => None,
        };
        let title = winner.and_then(|m| match m.seg.entry(m.payload) {
            Some(Entry::Record(r)) => r.title.clone(),
            _ => None,
        });
        Verdict {
            input: input.to_string(),
            canonical: dest.to_string(),
            action,
            enforced: level == EnforcementLevel::Block && action.blocks(),
            enforcement_level: level,
            category,
            matched,
            note: (action == VerdictAction::Warn).then_some(WARN_NOTE),
            title,
        }
    }
}

fn push<'m>(out: &mut Vec<Match<'m>>, i: usize, seg: &'m Segment, p: u32, now: i64, via: Via<'m>) {
    if let Some(e) = seg.entry(p) {
        if e.is_live(now) {
            out.push(Match { segment: i, seg, payload: p, action: e.action(), via });
        }
    }
}

/// Defender's ResponseCategory for a winning match (see [`crate::verdict`]).
fn response_category(m: &Match<'_>) -> ResponseCategory {
    match m.seg.origin() {
        Origin::Custom => ResponseCategory::CustomBlockList,
        Origin::Category => ResponseCategory::CustomPolicy,
        Origin::ThreatFeed => {
            let label = match m.seg.entry(m.payload) {
                Some(Entry::Record(r)) => r.category.clone(),
                Some(Entry::Bulk(meta)) => meta.category.as_deref().map(str::to_string),
                None => None,
            };
            ResponseCategory::from_feed_label(label.as_deref())
        }
    }
}
