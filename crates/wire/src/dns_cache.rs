//! Names for flows that carry none: an address-to-names map per client, learned from
//! the DNS answers that client received. Entries live as long as the answers' TTLs
//! (clamped by the config) and the map is bounded in size (least recently used
//! entries go first). Time is passed in by the caller, as a `Duration` since any
//! fixed epoch.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::dns::{DnsData, DnsInfo};

/// Bounds of a [`DnsCache`].
#[derive(Debug, Clone, Copy)]
pub struct DnsCacheConfig {
    /// Most (client, address) entries kept.
    pub capacity: usize,
    /// Most names kept per entry.
    pub max_names: usize,
    /// TTLs are raised to this: connections often start just after a 0-60 s TTL ends.
    pub min_ttl: Duration,
    /// TTLs are cut to this.
    pub max_ttl: Duration,
}

impl Default for DnsCacheConfig {
    fn default() -> Self {
        DnsCacheConfig {
            capacity: 65_536,
            max_names: 16,
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

/// A name inferred for an address from DNS answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InferredName {
    pub name: String,
    /// When the answer that gave it stops being valid.
    pub expires: Duration,
}

#[derive(Debug)]
struct Entry {
    /// Most recently answered first.
    names: Vec<InferredName>,
    last_used: u64,
}

/// Address-to-names map per client, bounded by TTL and size.
#[derive(Debug)]
pub struct DnsCache {
    config: DnsCacheConfig,
    entries: HashMap<(IpAddr, IpAddr), Entry>,
    clock: u64,
}

impl DnsCache {
    pub fn new(config: DnsCacheConfig) -> Self {
        DnsCache { config, entries: HashMap::new(), clock: 0 }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Learns from a DNS response that `client` received at `now`. Each A/AAAA
    /// answer is tied to every name of the CNAME chain that led to it, the queried
    /// name first.
    pub fn record(&mut self, client: IpAddr, info: &DnsInfo, now: Duration) {
        if !info.is_response || info.rcode != Some(0) {
            return;
        }
        for answer in &info.answers {
            let addr = match answer.data {
                DnsData::A(a) => IpAddr::V4(a),
                DnsData::Aaaa(a) => IpAddr::V6(a),
                _ => continue,
            };
            let (chain, ttl) = chain_to(info, &answer.name, answer.ttl);
            let ttl = Duration::from_secs(u64::from(ttl)).clamp(self.config.min_ttl, self.config.max_ttl);
            for name in chain.into_iter().rev() {
                self.insert(client, addr, name, now + ttl);
            }
        }
        self.evict(now);
    }

    fn insert(&mut self, client: IpAddr, addr: IpAddr, name: String, expires: Duration) {
        self.clock += 1;
        let entry = self.entries.entry((client, addr)).or_insert(Entry { names: Vec::new(), last_used: 0 });
        entry.last_used = self.clock;
        entry.names.retain(|n| !n.name.eq_ignore_ascii_case(&name));
        entry.names.insert(0, InferredName { name, expires });
        entry.names.truncate(self.config.max_names);
    }

    /// All live names `client` was told for `addr`, most recent first. Several names
    /// mean the address serves several sites: all are candidates.
    pub fn lookup(&mut self, client: IpAddr, addr: IpAddr, now: Duration) -> Vec<InferredName> {
        self.clock += 1;
        let Some(entry) = self.entries.get_mut(&(client, addr)) else {
            return Vec::new();
        };
        entry.names.retain(|n| n.expires > now);
        if entry.names.is_empty() {
            self.entries.remove(&(client, addr));
            return Vec::new();
        }
        entry.last_used = self.clock;
        entry.names.clone()
    }

    /// Over capacity: drop expired entries, then the least recently used eighth.
    fn evict(&mut self, now: Duration) {
        if self.entries.len() <= self.config.capacity {
            return;
        }
        self.entries.retain(|_, e| {
            e.names.retain(|n| n.expires > now);
            !e.names.is_empty()
        });
        let excess = self.entries.len().saturating_sub(self.config.capacity);
        if excess == 0 {
            return;
        }
        let drop = excess.max(self.config.capacity / 8).min(self.entries.len());
        let mut ages: Vec<u64> = self.entries.values().map(|e| e.last_used).collect();
        let (_, &mut cut, _) = ages.select_nth_unstable(drop - 1);
        self.entries.retain(|_, e| e.last_used > cut);
    }
}

/// The names leading to `owner` through the CNAME answers (query name first) and
/// the smallest TTL along the way.
fn chain_to(info: &DnsInfo, owner: &str, ttl: u32) -> (Vec<String>, u32) {
    let mut chain = vec![owner.to_owned()];
    let mut ttl = ttl;
    // Walk backwards: who has a CNAME pointing at the current head? Bounded by the
    // answer count, so a CNAME loop cannot spin.
    for _ in 0..info.answers.len() {
        let head = chain[0].clone();
        let prev = info.answers.iter().find(|a| {
            matches!(&a.data, DnsData::Cname(t) if t.eq_ignore_ascii_case(&head))
                && !chain.iter().any(|c| c.eq_ignore_ascii_case(&a.name))
        });
        match prev {
            Some(a) => {
                ttl = ttl.min(a.ttl);
                chain.insert(0, a.name.clone());
            }
            None => break,
        }
    }
    (chain, ttl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::DnsAnswer;
    use std::net::Ipv4Addr;

    fn response(query: &str, answers: Vec<DnsAnswer>) -> DnsInfo {
        DnsInfo {
            id: 1,
            is_response: true,
            query: Some(query.into()),
            qtype: Some(1),
            qtype_name: Some("A".into()),
            rcode: Some(0),
            rcode_name: Some("NOERROR".into()),
            answers,
        }
    }

    fn a(name: &str, ip: [u8; 4], ttl: u32) -> DnsAnswer {
        DnsAnswer { name: name.into(), rtype: 1, ttl, data: DnsData::A(Ipv4Addr::from(ip)) }
    }

    fn cname(name: &str, target: &str, ttl: u32) -> DnsAnswer {
        DnsAnswer { name: name.into(), rtype: 5, ttl, data: DnsData::Cname(target.into()) }
    }

    const C: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    const S: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 78, 24));

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn chain_ttl_and_expiry() {
        let cfg = DnsCacheConfig { min_ttl: secs(0), ..Default::default() };
        let mut cache = DnsCache::new(cfg);
        let r = response("www.x.org", vec![cname("www.x.org", "x.org", 100), a("x.org", [192, 0, 78, 24], 300)]);
        cache.record(C, &r, secs(1000));
        let names: Vec<_> = cache.lookup(C, S, secs(1050)).into_iter().map(|n| n.name).collect();
        assert_eq!(names, ["www.x.org", "x.org"]);
        // The CNAME's TTL (100 s) bounds the chain.
        assert!(cache.lookup(C, S, secs(1101)).is_empty());
        // Another client asked nothing.
        cache.record(C, &r, secs(2000));
        assert!(cache.lookup(IpAddr::V4(Ipv4Addr::LOCALHOST), S, secs(2001)).is_empty());
    }

    #[test]
    fn several_names_per_address_and_min_ttl() {
        let mut cache = DnsCache::new(DnsCacheConfig::default());
        cache.record(C, &response("a.cdn.net", vec![a("a.cdn.net", [192, 0, 78, 24], 0)]), secs(0));
        cache.record(C, &response("b.cdn.net", vec![a("b.cdn.net", [192, 0, 78, 24], 0)]), secs(1));
        let names: Vec<_> = cache.lookup(C, S, secs(30)).into_iter().map(|n| n.name).collect();
        assert_eq!(names, ["b.cdn.net", "a.cdn.net"]);
        assert_eq!(cache.lookup(C, S, secs(60)).len(), 1, "a.cdn.net expired at 60 s (min TTL)");
    }

    #[test]
    fn bounded_size_keeps_recent() {
        let cfg = DnsCacheConfig { capacity: 64, ..Default::default() };
        let mut cache = DnsCache::new(cfg);
        for i in 0..1000u32 {
            let ip = (0x0a00_0000 + i).to_be_bytes();
            cache.record(C, &response("n.example", vec![a("n.example", ip, 600)]), secs(u64::from(i)));
            assert!(cache.len() <= 64);
        }
        let last = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + 999u32));
        assert_eq!(cache.lookup(C, last, secs(1000)).len(), 1);
        let first = IpAddr::V4(Ipv4Addr::from(0x0a00_0000u32));
        assert!(cache.lookup(C, first, secs(1000)).is_empty());
    }

    #[test]
    fn failures_and_queries_are_ignored() {
        let mut cache = DnsCache::new(DnsCacheConfig::default());
        let mut r = response("x", vec![a("x", [1, 2, 3, 4], 60)]);
        r.rcode = Some(3);
        cache.record(C, &r, secs(0));
        r.rcode = Some(0);
        r.is_response = false;
        cache.record(C, &r, secs(0));
        assert!(cache.is_empty());
    }
}
