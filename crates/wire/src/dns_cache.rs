//! Names for flows that carry none: an address-to-names map per client, learned from
//! the DNS answers that client received. Entries live as long as the answers' TTLs
//! (clamped by the config) and the map is bounded in size (least recently used
//! entries go first). Time is passed in by the caller, as a `Duration` since any
//! fixed epoch.
//!
//! Names are stored as `netward-canon` spells them (a name it refuses is not
//! learned), so lookups compare canonical names only. The caller passes only
//! answers the client *received* (the server's side of the flow): a client
//! cannot teach the cache names for its own connections by sending answers.
//!
//! Cost of [`DnsCache::record`], linear in the message: each record's names are
//! canonicalised once, the CNAME records are put in one map (target to
//! owner), and the chain leading to an owner name is resolved once per
//! distinct owner (at most `max_names` map lookups), not walked again for each
//! address record; merging an address's names into its entry costs at most
//! `max_names`² comparisons. [`DnsCache::work`] counts these steps.

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
    work: crate::Work,
}

impl DnsCache {
    pub fn new(config: DnsCacheConfig) -> Self {
        DnsCache { config, entries: HashMap::new(), clock: 0, work: crate::Work::default() }
    }

    /// The work done so far (name steps resolving CNAME chains).
    pub fn work(&self) -> crate::Work {
        self.work
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Learns from a DNS response that `client` received at `now`. Each A/AAAA
    /// answer is tied to every name of the CNAME chain that led to it (at most
    /// `max_names`), the queried name first.
    pub fn record<'a>(&mut self, client: IpAddr, info: &'a DnsInfo, now: Duration) {
        if !info.is_response || info.rcode != Some(0) {
            return;
        }
        // Each distinct spelling is canonicalised once per message (records
        // of one owner repeat its name).
        let mut spelled: HashMap<&str, Option<String>> = HashMap::new();
        let mut canon = |n: &'a str| {
            spelled
                .entry(n)
                .or_insert_with(|| netward_canon::canonical_host(n).ok().map(|h| h.host.to_string()))
                .clone()
        };
        let max = self.config.max_names.max(1);
        // CNAME target -> (owner, ttl); the first record for a target wins.
        let mut back: HashMap<String, (String, u32)> = HashMap::new();
        for a in &info.answers {
            if let DnsData::Cname(target) = &a.data {
                self.work.name_steps += 2;
                if let (Some(owner), Some(target)) = (canon(&a.name), canon(target)) {
                    back.entry(target).or_insert((owner, a.ttl));
                }
            }
        }
        // Name -> its chain (query name first, at most `max` names) and the
        // smallest CNAME TTL on it; every name is resolved once.
        let mut chains: HashMap<String, (Vec<String>, u32)> = HashMap::new();
        for answer in &info.answers {
            let addr = match answer.data {
                DnsData::A(a) => IpAddr::V4(a),
                DnsData::Aaaa(a) => IpAddr::V6(a),
                _ => continue,
            };
            self.work.name_steps += 1;
            let Some(owner) = canon(&answer.name) else { continue };
            if !chains.contains_key(&owner) {
                self.work.name_steps += resolve(&owner, &back, &mut chains, max);
            }
            let Some((chain, chain_ttl)) = chains.get(&owner) else { continue };
            let ttl = Duration::from_secs(u64::from(answer.ttl.min(*chain_ttl)))
                .clamp(self.config.min_ttl, self.config.max_ttl);
            let steps = self.insert(client, addr, chain, now + ttl);
            self.work.name_steps += steps;
        }
        self.evict(now);
    }

    /// Puts `chain` (distinct names, query name first) at the front of the
    /// entry's names; returns the name comparisons made.
    fn insert(&mut self, client: IpAddr, addr: IpAddr, chain: &[String], expires: Duration) -> u64 {
        self.clock += 1;
        let max = self.config.max_names;
        let entry = self.entries.entry((client, addr)).or_insert(Entry { names: Vec::new(), last_used: 0 });
        entry.last_used = self.clock;
        let mut names: Vec<InferredName> =
            chain.iter().take(max).map(|name| InferredName { name: name.clone(), expires }).collect();
        let fresh = names.len();
        let mut steps = 0u64;
        for old in entry.names.drain(..) {
            if names.len() >= max {
                break;
            }
            steps += fresh as u64;
            if !names[..fresh].iter().any(|n| n.name == old.name) {
                names.push(old);
            }
        }
        entry.names = names;
        steps
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

/// Resolves the chain of `name` into `chains`, and of every name on the way
/// to it not resolved yet: walks the CNAME map back from `name` until a
/// resolved name, the start of the chain, or a loop, then fills the chains
/// forward. Returns the map lookups made (about two per name resolved).
fn resolve(
    name: &str,
    back: &HashMap<String, (String, u32)>,
    chains: &mut HashMap<String, (Vec<String>, u32)>,
    max: usize,
) -> u64 {
    let mut steps = 0u64;
    let mut path: Vec<&str> = vec![name];
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::from([name]);
    let mut base: (Vec<String>, u32) = (Vec::new(), u32::MAX);
    loop {
        steps += 1;
        let cur = path[path.len() - 1];
        if let Some(done) = chains.get(cur) {
            base = done.clone();
            path.pop();
            break;
        }
        match back.get(cur) {
            Some((prev, _)) if seen.insert(prev.as_str()) => path.push(prev),
            _ => break,
        }
    }
    for node in path.into_iter().rev() {
        steps += 1;
        let (mut chain, mut ttl) = base;
        if !chain.is_empty() {
            if let Some((_, t)) = back.get(node) {
                ttl = ttl.min(*t);
            }
        }
        if chain.len() < max {
            chain.push(node.to_owned());
        }
        chains.insert(node.to_owned(), (chain.clone(), ttl));
        base = (chain, ttl);
    }
    steps
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
