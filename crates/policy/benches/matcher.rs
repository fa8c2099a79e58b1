//! Matcher benchmark on 10 million generated domains (harness = false: a
//! 10M-entry build does not fit criterion's repeat-and-sample model).
//!
//! Run: `cargo bench -p netward-policy --bench matcher` (env `NW_DOMAINS`
//! changes the count; `NW_QUICK=1` stops after the matcher lookups). Prints one table of measured figures:
//! * build time and resident memory per domain (RSS from /proc/self/statm
//!   before/after, beside the table's exact allocation), for the matcher and
//!   for a plain `HashSet<String>` holding the same names;
//! * single-core lookups/s for hosts of 2-6 labels, half hits (a listed
//!   domain, possibly below extra labels) and half misses, for the matcher's
//!   fast path, for the full `evaluate` (canonicalisation + verdict), and
//!   for the `HashSet` suffix walk;
//! * the store path: streaming import of the 10M-line feed (parse,
//!   canonicalise, write, fsync, compile), reopen from disk, then a 10k-entry
//!   update imported while a reader thread keeps looking up: time until the
//!   reader sees it, and the reader's max lookup latency during the swap.

use std::collections::HashSet;
use std::io::{BufRead, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netward_policy::hash::Seed;
use netward_policy::segment::SegmentBuilder;
use netward_policy::{Action, EnforcementLevel, FeedFormat, FeedOptions, Matcher, Origin, PolicyStore, Target};

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn label(mut r: u64, len: usize, out: &mut String) {
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    for _ in 0..len {
        out.push(char::from(A[(r % 36) as usize]));
        r /= 36;
        if r == 0 {
            r = mix(len as u64);
        }
    }
}

const TLDS: &[&str] = &["com", "net", "org", "info", "xyz", "top", "ru", "de", "io", "example"];

/// The i-th listed domain: 2 to 4 labels, deterministic.
fn domain(i: u64) -> String {
    let r = mix(i);
    let labels = 2 + (r % 3) as usize;
    let mut s = String::with_capacity(32);
    for l in 0..labels - 1 {
        if l > 0 {
            s.push('.');
        }
        let rl = mix(r ^ (l as u64 + 1));
        label(rl, 5 + (rl >> 60) as usize % 8, &mut s);
    }
    s.push('.');
    s.push_str(TLDS[(r >> 8) as usize % TLDS.len()]);
    s
}

/// Query hosts of 2-6 labels: even ones hit (listed domain, maybe with
/// extra labels in front), odd ones miss (unlisted domain).
fn queries(n_listed: u64, count: usize) -> Vec<String> {
    (0..count as u64)
        .map(|q| {
            let r = mix(q ^ 0xabcdef);
            let base = if q % 2 == 0 { domain(r % n_listed) } else { domain(n_listed + r % n_listed) };
            let have = base.split('.').count();
            let want = 2 + (r >> 32) as usize % 5;
            let mut h = String::new();
            for k in have..want {
                label(mix(r ^ k as u64), 3 + k, &mut h);
                h.push('.');
            }
            h.push_str(&base);
            h
        })
        .collect()
}

/// Anonymous memory in transparent huge pages (kB line of smaps_rollup).
fn huge_page_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    let kb = s
        .lines()
        .find(|l| l.starts_with("AnonHugePages:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok());
    kb.unwrap_or(0) * 1024
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// A feed file generated on the fly: `domain(0..n)`, one per line.
struct GenFeed {
    next: u64,
    n: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for GenFeed {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let avail = self.fill_buf()?;
        let k = avail.len().min(out.len());
        out[..k].copy_from_slice(&avail[..k]);
        self.consume(k);
        Ok(k)
    }
}

impl BufRead for GenFeed {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            while self.buf.len() < 1 << 16 && self.next < self.n {
                self.buf.extend_from_slice(domain(self.next).as_bytes());
                self.buf.push(b'\n');
                self.next += 1;
            }
        }
        Ok(&self.buf[self.pos..])
    }
    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.buf.len());
    }
}

fn per_sec(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Time this thread spent on a CPU (from /proc/thread-self/schedstat), so
/// that rates stay honest when other processes compete for the cores.
fn cpu_time() -> Duration {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(s.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Run `f`, print `what` as M items/s by wall clock and by on-CPU time.
fn rate(what: &str, n: usize, f: impl FnOnce() -> String) {
    let (t, c) = (Instant::now(), cpu_time());
    let extra = f();
    let (wall, cpu) = (t.elapsed(), cpu_time().saturating_sub(c));
    println!(
        "{what}: {:.2} M/s per core on-CPU ({:.2} M/s wall) {extra}",
        per_sec(n, cpu) / 1e6,
        per_sec(n, wall) / 1e6
    );
}

fn main() {
    let n: u64 = std::env::var("NW_DOMAINS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let qs = queries(n, 2_000_000);
    println!("netward-policy matcher bench: {n} domains, {} queries (2-6 labels, 50% hits)", qs.len());

    // --- in-memory build ---
    let rss0 = rss_bytes();
    let t = Instant::now();
    let mut b = SegmentBuilder::new(Seed::FIXED, "bench", Origin::ThreatFeed);
    for i in 0..n {
        b.add(&Target::Domain(domain(i)), Action::Block, Some("malware"));
    }
    let seg = Arc::new(b.build());
    let build = t.elapsed();
    let rss1 = rss_bytes();
    let matcher = Matcher::new(Seed::FIXED, vec![seg.clone()]);
    println!("matcher build (hash + table, from generated names): {:.2} s", build.as_secs_f64());
    println!(
        "matcher memory: RSS +{:.1} MB = {:.1} B/domain; table allocation {:.1} B/domain",
        (rss1 - rss0) as f64 / 1e6,
        (rss1 - rss0) as f64 / n as f64,
        seg.domain_table_bytes() as f64 / n as f64
    );
    println!("process memory in 2 MB pages: {:.1} MB", huge_page_bytes() as f64 / 1e6);

    // --- lookups, matcher fast path ---
    let mut hits = 0usize;
    rate("matcher decide_domain lookups", qs.len(), || {
        for q in &qs {
            hits += usize::from(matcher.decide_domain(q, 0).is_some());
        }
        format!("({hits} hits of {})", qs.len())
    });
    assert!(hits >= qs.len() / 2, "every even query must hit");

    rate("  of which suffix hashing alone", qs.len(), || {
        let mut x = 0u64;
        for q in &qs {
            for s in netward_policy::hash::SuffixIter::new(Seed::FIXED, q, 4) {
                x ^= s.key.key;
            }
        }
        format!("(checksum {:x})", x & 0xff)
    });

    let few = &qs[..200_000];
    rate("matcher evaluate (canonicalise + verdict)", few.len(), || {
        let mut blocked = 0usize;
        for q in few {
            if let Ok(v) = matcher.evaluate(q, EnforcementLevel::Block, 0) {
                blocked += usize::from(v.enforced);
            }
        }
        format!("({blocked} blocked)")
    });

    if std::env::var_os("NW_QUICK").is_some() {
        return;
    }

    // --- HashSet<String> baseline ---
    let rss2 = rss_bytes();
    let t = Instant::now();
    let mut set: HashSet<String> = HashSet::with_capacity(n as usize);
    for i in 0..n {
        set.insert(domain(i));
    }
    let set_build = t.elapsed();
    let rss3 = rss_bytes();
    println!(
        "HashSet<String> build: {:.2} s, RSS +{:.1} MB = {:.1} B/domain",
        set_build.as_secs_f64(),
        (rss3 - rss2) as f64 / 1e6,
        (rss3 - rss2) as f64 / n as f64
    );
    let mut set_hits = 0usize;
    rate("HashSet<String> suffix-walk lookups", qs.len(), || {
        for q in &qs {
            let mut s: &str = q;
            loop {
                if set.contains(s) {
                    set_hits += 1;
                    break;
                }
                match s.find('.') {
                    Some(i) => s = &s[i + 1..],
                    None => break,
                }
            }
        }
        format!("({set_hits} hits)")
    });
    assert_eq!(set_hits, hits, "both must agree");
    drop(set);
    drop(matcher);
    drop(seg);

    // --- store: import, reopen, 10k update under load ---
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = PolicyStore::open_with_seed(dir.path(), Seed::FIXED).expect("open");
    let t = Instant::now();
    let feed = GenFeed { next: 0, n, buf: Vec::new(), pos: 0 };
    let r = store.import_feed(feed, FeedFormat::Domains, "big", FeedOptions::default(), 0).expect("import");
    println!(
        "store import of {} domains (parse, canonicalise, write+fsync, compile): {:.2} s",
        r.imported,
        t.elapsed().as_secs_f64()
    );
    drop(store);
    let t = Instant::now();
    let mut store = PolicyStore::open_with_seed(dir.path(), Seed::FIXED).expect("reopen");
    println!("store reopen (read + verify + compile {n}): {:.2} s", t.elapsed().as_secs_f64());

    let handle = store.handle();
    let stop = Arc::new(AtomicBool::new(false));
    let seen_at_ns = Arc::new(AtomicU64::new(0));
    let origin = Instant::now();
    let reader = {
        let (stop, seen, qs) = (stop.clone(), seen_at_ns.clone(), qs[..100_000].to_vec());
        std::thread::spawn(move || {
            let mut max = Duration::ZERO;
            let mut count = 0u64;
            // Iterations slower than 10 us, 100 us, 1 ms, 10 ms.
            let mut slow = [0u64; 4];
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let m = handle.load();
                let _ = m.decide_domain(&qs[i % qs.len()], 0);
                let fresh = m.decide_domain("marker.update.example", 0).is_some();
                drop(m);
                let el = t.elapsed();
                max = max.max(el);
                for (k, lim) in [10u64, 100, 1000, 10_000].iter().enumerate() {
                    if el > Duration::from_micros(*lim) {
                        slow[k] += 1;
                    }
                }
                count += 1;
                i += 1;
                if fresh && seen.load(Ordering::Relaxed) == 0 {
                    seen.store(origin.elapsed().as_nanos() as u64, Ordering::Relaxed);
                }
            }
            (max, count, slow)
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let mut update = String::from("marker.update.example\n");
    for i in 0..9_999u64 {
        update.push_str(&domain(u64::MAX / 2 + i));
        update.push('\n');
    }
    let t0 = origin.elapsed();
    let r =
        store.import_feed(update.as_bytes(), FeedFormat::Domains, "update", FeedOptions::default(), 1).expect("update");
    let t1 = origin.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let (max, count, slow) = reader.join().expect("reader");
    let seen = Duration::from_nanos(seen_at_ns.load(Ordering::Relaxed));
    println!(
        "update of {} entries: import+swap {:.1} ms, visible to the reader {:.1} ms after the update started",
        r.imported,
        (t1 - t0).as_secs_f64() * 1e3,
        seen.saturating_sub(t0).as_secs_f64() * 1e3
    );
    println!(
        "reader during the update: {count} iterations (2 lookups each), max latency {:.1} us; slower than 10us/100us/1ms/10ms: {slow:?}",
        max.as_secs_f64() * 1e6
    );
}
