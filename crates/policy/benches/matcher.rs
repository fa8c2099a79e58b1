//! Matcher benchmark on 10 million generated domains (harness = false: a
//! 10M-entry build does not fit criterion's repeat-and-sample model).
//!
//! Run: `cargo bench -p netward-policy --bench matcher` (env `NW_DOMAINS`
//! changes the number of listed domains, `NW_QUERIES` the number of
//! queries). Prints measured figures:
//! * build time and resident memory per domain (RSS from /proc/self/statm
//!   before/after, beside the table's exact allocation), for the matcher and
//!   for a plain `HashSet<String>` holding the same names;
//! * the headline: `Matcher::evaluate(input, level, now_secs)` exactly as
//!   the sensor calls it, from raw input (host names, URLs with a path,
//!   `host:port`, upper case with a trailing dot, in turn) to a verdict,
//!   beside canonicalisation + the `HashSet` suffix walk on the same input;
//! * `decide_domain` on canonical names, beside the `HashSet` suffix walk on
//!   the same names;
//! * a 10k-entry feed update (parse + canonicalise + compile + atomic swap,
//!   in memory: the file store's write and fsync are not included) while a
//!   reader thread keeps looking up: time until the reader sees it, and the
//!   reader's slowest lookup meanwhile.
//!
//! The bench fails (exit code 1) when any answer of `evaluate` or
//! `decide_domain` differs from the `HashSet` baseline's for the same query
//! in the same run, or when the update never becomes visible to the reader.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netward_canon::canonical_destination;
use netward_policy::feed::parse_feed;
use netward_policy::hash::Seed;
use netward_policy::segment::SegmentBuilder;
use netward_policy::{
    Action, EnforcementLevel, FeedFormat, ImportReport, Matcher, MatcherHandle, Origin, Target, VerdictAction,
};

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

/// Stop the bench with a failure (exit code 1).
fn fail(msg: String) -> ! {
    eprintln!("FAIL: {msg}");
    std::process::exit(1);
}

/// Compare per-query answers with the baseline's.
fn check_answers(what: &str, inputs: &[String], got: &[bool], want: &[bool]) {
    if got.len() != want.len() {
        fail(format!("{what}: {} answers for {} queries", got.len(), want.len()));
    }
    let diff: Vec<usize> = (0..got.len()).filter(|&i| got[i] != want[i]).collect();
    if let Some(&i) = diff.first() {
        fail(format!(
            "{what}: {} of {} answers differ from the HashSet baseline; first: query {i} {:?}: matcher {}, HashSet {}",
            diff.len(),
            got.len(),
            inputs[i],
            got[i],
            want[i]
        ));
    }
    println!("  answers checked: all {} equal to the HashSet baseline's", got.len());
}

/// The raw form the sensor may be handed for a host: a bare name (SNI), a
/// URL with a path (HTTP), `host:port` (CONNECT), or an unusual spelling.
fn raw_input(i: usize, host: &str) -> String {
    // (i / 2: even queries hit, odd ones miss; every form gets both.)
    match (i / 2) % 4 {
        0 => host.to_string(),
        1 => format!("http://{host}/path/{i}?q=1"),
        2 => format!("{host}:443"),
        _ => format!("{}.", host.to_ascii_uppercase()),
    }
}

/// The `HashSet` baseline: is the name or one of its parent domains listed?
fn set_walk(set: &HashSet<String>, name: &str) -> bool {
    let mut s = name;
    loop {
        if set.contains(s) {
            return true;
        }
        match s.find('.') {
            Some(i) => s = &s[i + 1..],
            None => return false,
        }
    }
}

fn main() {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let n = env("NW_DOMAINS").unwrap_or(10_000_000);
    let qs = queries(n, env("NW_QUERIES").unwrap_or(2_000_000) as usize);
    let raw: Vec<String> = qs.iter().enumerate().map(|(i, q)| raw_input(i, q)).collect();
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

    // --- HashSet<String> baseline: build, and its answers ---
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
    let mut want: Vec<bool> = Vec::with_capacity(qs.len());
    rate("HashSet<String> suffix-walk lookups (canonical names)", qs.len(), || {
        want.extend(qs.iter().map(|q| set_walk(&set, q)));
        format!("({} hits)", want.iter().filter(|&&h| h).count())
    });
    if want.iter().filter(|&&h| h).count() < qs.len() / 2 {
        fail("every even query must hit".into());
    }

    // --- headline: evaluate from raw input to a verdict, as the sensor calls it ---
    let mut got: Vec<bool> = Vec::with_capacity(raw.len());
    let mut errors = 0usize;
    rate("HEADLINE matcher evaluate(raw input, Block, now) -> verdict", raw.len(), || {
        for input in &raw {
            match matcher.evaluate(input, EnforcementLevel::Block, 0) {
                Ok(v) => got.push(v.action == VerdictAction::Block && v.enforced),
                Err(_) => {
                    errors += 1;
                    got.push(false);
                }
            }
        }
        format!("({} blocked, {errors} canonicalisation errors)", got.iter().filter(|&&b| b).count())
    });
    check_answers("evaluate", &raw, &got, &want);
    let mut base: Vec<bool> = Vec::with_capacity(raw.len());
    rate("  baseline: canonical_destination + HashSet suffix walk", raw.len(), || {
        for input in &raw {
            let hit = match canonical_destination(input) {
                Ok(d) => d.host().as_domain().is_some_and(|h| set_walk(&set, h)),
                Err(_) => false,
            };
            base.push(hit);
        }
        format!("({} hits)", base.iter().filter(|&&b| b).count())
    });
    check_answers("canonicalise + HashSet", &raw, &base, &want);

    // --- decide_domain on canonical names ---
    let mut fast: Vec<bool> = Vec::with_capacity(qs.len());
    rate("matcher decide_domain lookups (canonical names)", qs.len(), || {
        fast.extend(qs.iter().map(|q| matcher.decide_domain(q, 0).is_some()));
        format!("({} hits of {})", fast.iter().filter(|&&h| h).count(), qs.len())
    });
    check_answers("decide_domain", &qs, &fast, &want);

    rate("  of which suffix hashing alone", qs.len(), || {
        let mut x = 0u64;
        for q in &qs {
            for s in netward_policy::hash::SuffixIter::new(Seed::FIXED, q, 4) {
                x ^= s.key.key;
            }
        }
        format!("(checksum {:x})", x & 0xff)
    });
    drop(matcher);

    // --- a 10k-entry update, swapped in while a reader thread looks up ---
    let handle = MatcherHandle::new(Matcher::new(Seed::FIXED, vec![seg.clone()]));
    let stop = Arc::new(AtomicBool::new(false));
    let seen_at_ns = Arc::new(AtomicU64::new(0));
    let origin = Instant::now();
    let reader = {
        let (stop, seen, qs, handle) = (stop.clone(), seen_at_ns.clone(), qs[..100_000].to_vec(), handle.clone());
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
                    seen.store(origin.elapsed().as_nanos().max(1) as u64, Ordering::Relaxed);
                }
            }
            (max, count, slow)
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let mut update = String::from("marker.update.example\n");
    let fresh_names: Vec<String> = (0..9_999u64).map(|i| domain(u64::MAX / 2 + i)).collect();
    for d in &fresh_names {
        update.push_str(d);
        update.push('\n');
    }
    let t0 = origin.elapsed();
    let mut report = ImportReport::default();
    let mut ub = SegmentBuilder::new(Seed::FIXED, "update", Origin::ThreatFeed);
    let parsed = parse_feed(update.as_bytes(), FeedFormat::Domains, &mut report, &mut |item| {
        ub.add(&item.target, Action::Block, None);
    });
    if let Err(e) = parsed {
        fail(format!("update feed: {e}"));
    }
    handle.publish(Arc::new(Matcher::new(Seed::FIXED, vec![seg.clone(), Arc::new(ub.build())])));
    let t1 = origin.elapsed();
    // Wait (at most 5 s) for the reader to see it.
    while seen_at_ns.load(Ordering::Relaxed) == 0 && origin.elapsed() < t1 + Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let (max, count, slow) = reader.join().expect("reader");
    let seen = seen_at_ns.load(Ordering::Relaxed);
    if seen == 0 {
        fail(format!("the update was published but the reader thread never saw it ({count} reader iterations)"));
    }
    let seen = Duration::from_nanos(seen);
    println!(
        "update of {} entries (parse + compile + atomic swap, in memory): {:.1} ms, visible to the reader {:.1} ms after the update started",
        report.imported,
        (t1 - t0).as_secs_f64() * 1e3,
        seen.saturating_sub(t0).as_secs_f64() * 1e3
    );
    println!(
        "reader during the update: {count} iterations (2 lookups each), max latency {:.1} us; slower than 10us/100us/1ms/10ms: {slow:?}",
        max.as_secs_f64() * 1e6
    );
    // The updated snapshot answers for the new entries and as before for the rest.
    let m = handle.snapshot();
    let missing: Vec<&String> = fresh_names.iter().filter(|d| m.decide_domain(d, 0).is_none()).collect();
    if report.imported != 10_000 || !missing.is_empty() {
        fail(format!("update: {} imported, {} of its names not matched", report.imported, missing.len()));
    }
    let sample = &qs[..100_000];
    let after: Vec<bool> = sample.iter().map(|q| m.decide_domain(q, 0).is_some()).collect();
    let fresh_set: HashSet<String> = fresh_names.iter().cloned().chain(["marker.update.example".into()]).collect();
    let want_after: Vec<bool> = sample.iter().map(|q| set_walk(&set, q) || set_walk(&fresh_set, q)).collect();
    check_answers("after the update", sample, &after, &want_after);
}
