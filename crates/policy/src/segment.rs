//! One source's compiled indicators: the custom indicators, or one feed.
//!
//! A matcher is a list of segments, so re-importing a feed rebuilds only
//! that feed's segment and shares the others (an update of 10k entries does
//! not rebuild a 10M-entry feed).
//!
//! Bulk feed entries cost one 16-byte table slot each (20 bytes at the
//! table's load factor): their action and category live in a shared
//! [`Meta`], their value is recovered from the looked-up name, and their id
//! from the value ([`feed_entry_id`]). Indicators with anything of their own
//! (title, expiry, custom ids) are kept whole as records.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::action::{Action, Origin};
use crate::hash::{name_key, Key, Seed};
use crate::indicator::{feed_entry_id, mask, Indicator, IndicatorError, Target};
use crate::table::KeyTable;

/// Payloads with this bit set index `records`; others index `metas`.
const RECORD_BIT: u32 = 1 << 31;

/// Shared attributes of bulk entries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Meta {
    /// The action.
    pub action: Action,
    /// The category label.
    pub category: Option<Arc<str>>,
}

/// What one payload stands for.
#[derive(Debug, Clone, Copy)]
pub enum Entry<'a> {
    /// A bulk entry.
    Bulk(&'a Meta),
    /// A whole indicator.
    Record(&'a Indicator),
}

impl Entry<'_> {
    /// The entry's action.
    pub fn action(&self) -> Action {
        match self {
            Entry::Bulk(m) => m.action,
            Entry::Record(r) => r.action,
        }
    }

    /// Whether it matches at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        match self {
            Entry::Bulk(_) => true,
            Entry::Record(r) => r.is_live(now),
        }
    }
}

/// One source's indicators, compiled for lookup. Immutable.
#[derive(Debug)]
pub struct Segment {
    source: Arc<str>,
    origin: Origin,
    domains: KeyTable,
    /// Bit `n - 1` is set when some domain indicator has `n` labels.
    label_mask: u64,
    urls: HashMap<Key, Vec<(Box<str>, u32)>>,
    ips: HashMap<(IpAddr, u8), Vec<u32>>,
    v4_lens: Vec<u8>,
    v6_lens: Vec<u8>,
    metas: Vec<Meta>,
    records: Vec<Indicator>,
    entries: usize,
}

impl Segment {
    /// The source name.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The origin of every indicator in this segment.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// Number of indicators compiled in.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether the segment holds no indicators.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Label-count bitmask of its domain indicators.
    pub(crate) fn label_mask(&self) -> u64 {
        self.label_mask
    }

    /// Whether it has URL indicators.
    pub(crate) fn has_urls(&self) -> bool {
        !self.urls.is_empty()
    }

    /// Whether it has IP or CIDR indicators.
    pub(crate) fn has_ips(&self) -> bool {
        !self.ips.is_empty()
    }

    /// Approximate heap bytes of the domain table (the part that scales).
    pub fn domain_table_bytes(&self) -> usize {
        self.domains.heap_bytes()
    }

    /// Decode a payload.
    pub fn entry(&self, payload: u32) -> Option<Entry<'_>> {
        if payload & RECORD_BIT != 0 {
            self.records.get((payload & !RECORD_BIT) as usize).map(Entry::Record)
        } else {
            self.metas.get(payload as usize).map(Entry::Bulk)
        }
    }

    /// Id of the entry behind `payload`, given its canonical value.
    pub fn entry_id(&self, payload: u32, target_kind: crate::IndicatorType, value: &str) -> String {
        match self.entry(payload) {
            Some(Entry::Record(r)) => r.id.clone(),
            _ => feed_entry_id(&self.source, target_kind, value),
        }
    }

    /// Payloads of domain indicators equal to the name with this key.
    #[inline]
    pub(crate) fn domain_payloads(&self, k: Key, f: impl FnMut(u32)) {
        self.domains.for_each(k, f)
    }

    /// See [`KeyTable::touch`].
    #[inline(always)]
    pub(crate) fn touch(&self, k: Key) -> u64 {
        self.domains.touch(k)
    }

    /// See [`KeyTable::may_contain`].
    #[inline(always)]
    pub(crate) fn may_contain(&self, k: Key) -> bool {
        self.domains.may_contain(k)
    }

    /// URL indicators of the host with this key: (path prefix, payload).
    pub(crate) fn url_entries(&self, host: Key) -> &[(Box<str>, u32)] {
        self.urls.get(&host).map_or(&[], |v| v.as_slice())
    }

    /// IP and CIDR payloads covering `ip`: (prefix length, payload).
    pub(crate) fn ip_payloads(&self, ip: IpAddr, mut f: impl FnMut(u8, u32)) {
        let lens = if ip.is_ipv4() { &self.v4_lens } else { &self.v6_lens };
        for &len in lens {
            if let Some(ps) = self.ips.get(&(mask(ip, len), len)) {
                for &p in ps {
                    f(len, p);
                }
            }
        }
    }

    /// Every whole record (custom indicators, feed entries with details).
    pub fn records(&self) -> &[Indicator] {
        &self.records
    }
}

/// Collects one source's indicators and compiles them into a [`Segment`].
#[derive(Debug)]
pub struct SegmentBuilder {
    seed: Seed,
    source: Arc<str>,
    origin: Origin,
    domains: Vec<(Key, u32)>,
    label_mask: u64,
    urls: HashMap<Key, Vec<(Box<str>, u32)>>,
    ips: HashMap<(IpAddr, u8), Vec<u32>>,
    metas: Vec<Meta>,
    meta_ids: HashMap<Meta, u32>,
    records: Vec<Indicator>,
    entries: usize,
}

impl SegmentBuilder {
    /// An empty builder for `source`.
    pub fn new(seed: Seed, source: &str, origin: Origin) -> Self {
        SegmentBuilder {
            seed,
            source: source.into(),
            origin,
            domains: Vec::new(),
            label_mask: 0,
            urls: HashMap::new(),
            ips: HashMap::new(),
            metas: Vec::new(),
            meta_ids: HashMap::new(),
            records: Vec::new(),
            entries: 0,
        }
    }

    /// Number of indicators added so far.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Add a bulk entry (action and category shared with other entries).
    pub fn add(&mut self, target: &Target, action: Action, category: Option<&str>) {
        let meta = Meta { action, category: category.map(Arc::from) };
        let next = self.metas.len() as u32;
        let id = *self.meta_ids.entry(meta.clone()).or_insert(next);
        if id == next {
            self.metas.push(meta);
        }
        self.add_payload(target, id);
    }

    /// Add a whole indicator (its value must be canonical).
    pub fn add_record(&mut self, ind: Indicator) -> Result<(), IndicatorError> {
        let target = ind.target()?;
        let payload = RECORD_BIT | self.records.len() as u32;
        self.records.push(ind);
        self.add_payload(&target, payload);
        Ok(())
    }

    fn add_payload(&mut self, target: &Target, payload: u32) {
        self.entries += 1;
        match target {
            Target::Domain(d) => {
                let labels = d.split('.').count().clamp(1, 64);
                self.label_mask |= 1 << (labels - 1);
                self.domains.push((name_key(self.seed, d), payload));
            }
            Target::Url { host, path } => {
                let k = name_key(self.seed, &host.to_string());
                self.urls.entry(k).or_default().push((path.as_str().into(), payload));
            }
            Target::Ip(ip) => {
                let len = if ip.is_ipv4() { 32 } else { 128 };
                self.ips.entry((*ip, len)).or_default().push(payload);
            }
            Target::Cidr(net, len) => {
                self.ips.entry((*net, *len)).or_default().push(payload);
            }
        }
    }

    /// Compile.
    pub fn build(self) -> Segment {
        let mut domains = KeyTable::with_capacity(self.domains.len());
        for (k, p) in self.domains {
            domains.insert(k, p);
        }
        let mut urls = self.urls;
        for v in urls.values_mut() {
            v.sort();
            v.dedup();
            v.shrink_to_fit();
        }
        let mut ips = self.ips;
        let (mut v4_lens, mut v6_lens) = (Vec::new(), Vec::new());
        for (ip, len) in ips.keys() {
            if ip.is_ipv4() {
                v4_lens.push(*len)
            } else {
                v6_lens.push(*len)
            }
        }
        for v in ips.values_mut() {
            v.sort_unstable();
            v.dedup();
        }
        for lens in [&mut v4_lens, &mut v6_lens] {
            lens.sort_unstable_by(|a, b| b.cmp(a));
            lens.dedup();
        }
        Segment {
            source: self.source,
            origin: self.origin,
            domains,
            label_mask: self.label_mask,
            urls,
            ips,
            v4_lens,
            v6_lens,
            metas: self.metas,
            records: self.records,
            entries: self.entries,
        }
    }
}
