//! Hostile input, timed: per attack of the hardening issue, the cost of one
//! flow through the sensor (the product's path: inspector, DNS cache,
//! canonicaliser, policy at level audit) beside an ordinary flow of the same
//! protocol and about the same size, and the ratio. Cost bounded by input
//! size means an attacker's byte costs at most a few ordinary bytes; the goal
//! is each ratio within 10x. The work the code counts (`SensorStats::work`)
//! is printed as a ratio too.
//!
//! Run: `bench/hostile.sh` (or `cargo bench -p netward-sensor --bench hostile`).

use netward_events::{ActionType, Protocol, Timestamp};
use netward_policy::hash::Seed;
use netward_policy::segment::SegmentBuilder;
use netward_policy::{Action, EnforcementLevel, IndicatorType, Matcher, Origin, Target};
use netward_sensor::{FlowMeta, PolicyContext, Sensor, SensorConfig};
use netward_wire::testing::{self, Rdata};
use netward_wire::Direction::{self, ToClient, ToServer};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One flow: its protocol, server port, and the bytes each way in order.
struct Flow {
    udp: bool,
    port: u16,
    feeds: Vec<(Direction, Vec<u8>)>,
}

impl Flow {
    fn clone_feeds(&self) -> Flow {
        Flow { udp: self.udp, port: self.port, feeds: self.feeds.clone() }
    }

    fn bytes(&self) -> usize {
        self.feeds.iter().map(|(_, b)| b.len()).sum()
    }
}

fn tcp(port: u16, feeds: Vec<(Direction, Vec<u8>)>) -> Flow {
    Flow { udp: false, port, feeds }
}

fn udp(port: u16, feeds: Vec<(Direction, Vec<u8>)>) -> Flow {
    Flow { udp: true, port, feeds }
}

fn policy() -> PolicyContext {
    let mut b = SegmentBuilder::new(Seed::FIXED, "custom", Origin::Custom);
    for d in ["blocked.example", "ads.example", "tracker.example"] {
        b.add(&Target::parse(IndicatorType::Domain, d).expect("indicator"), Action::Audit, None);
    }
    PolicyContext::new(Arc::new(Matcher::new(Seed::FIXED, vec![Arc::new(b.build())])), EnforcementLevel::Audit)
}

/// Runs `flow` through a fresh sensor; returns the events and the work counted.
fn run(flow: &Flow, p: &PolicyContext) -> (usize, u64) {
    let mut s = Sensor::new(SensorConfig::default());
    s.set_policy(Some(p.clone()));
    let t = Timestamp::from_unix_millis(1_700_000_000_000);
    let meta = FlowMeta {
        protocol: if flow.udp { Protocol::Udp } else { Protocol::Tcp },
        local: "10.0.0.2:40000".parse().expect("addr"),
        remote: std::net::SocketAddr::from(([192, 0, 2, 1], flow.port)),
    };
    s.flow_start(1, meta, t);
    s.established(1, t);
    let mut events = 0;
    for (dir, bytes) in &flow.feeds {
        s.data(1, *dir, bytes, t);
        while s.poll().is_some() {
            events += 1;
        }
    }
    s.flow_end(1, ActionType::ConnectionSuccess, t);
    while s.poll().is_some() {
        events += 1;
    }
    (events, s.stats().work.total())
}

/// Nanoseconds per flow: the median of 7 rounds, each as many runs as fit in ~60 ms.
fn time(flow: &Flow, p: &PolicyContext) -> f64 {
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < Duration::from_millis(30) || n < 3 {
        black_box(run(flow, p));
        n += 1;
    }
    let per_round = (n * 2).max(3);
    let mut rounds: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_round {
                black_box(run(flow, p));
            }
            t.elapsed().as_nanos() as f64 / f64::from(per_round)
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[3]
}

fn quic_ordinary() -> Flow {
    let mut feeds: Vec<_> =
        testing::quic_ordinary("ordinary.example", 1800).into_iter().map(|d| (ToServer, d)).collect();
    // The rest of the connection: 1-RTT (short header) datagrams both ways.
    let mut i = 0u8;
    while feeds.len() < 64 {
        let mut d = vec![0x40 | (i & 0x3f); 1200];
        d[1..9].copy_from_slice(&[0x5a; 8]);
        feeds.push((if i.is_multiple_of(3) { ToServer } else { ToClient }, d));
        i = i.wrapping_add(1);
    }
    udp(443, feeds)
}

fn quic(datagrams: Vec<Vec<u8>>) -> Flow {
    udp(443, datagrams.into_iter().map(|d| (ToServer, d)).collect())
}

fn dns_flow(response: Vec<u8>) -> Flow {
    udp(53, vec![(ToServer, testing::dns_query(0x4242, "c0.chain.example")), (ToClient, response)])
}

/// A response of 600 A records for one name, no CNAME: the ordinary big answer.
fn dns_big_ordinary() -> Vec<u8> {
    let answers: Vec<_> =
        (0..600).map(|a| ("c0.chain.example", 300, Rdata::A([10, 9, (a >> 8) as u8, a as u8]))).collect();
    testing::dns_response(0x4242, "c0.chain.example", &answers)
}

fn keep_alive(requests: impl Iterator<Item = Vec<u8>>) -> Flow {
    let mut c = Vec::new();
    for r in requests {
        c.extend(r);
    }
    let feeds = c.chunks(1448).map(|s| (ToServer, s.to_vec())).collect();
    tcp(3128, feeds)
}

/// Ordinary keep-alive proxy requests (10 headers each) until `bytes`.
fn keep_alive_ordinary(bytes: usize, distinct: bool) -> Flow {
    let mut n = 0usize;
    let mut total = 0usize;
    let reqs = std::iter::from_fn(move || {
        if total >= bytes {
            return None;
        }
        let host = if distinct { format!("h{n}.example") } else { "same.example".to_owned() };
        let r = testing::proxy_get(&format!("http://{host}/page/{n}?q=1"), &host, 10);
        n += 1;
        total += r.len();
        Some(r)
    });
    keep_alive(reqs)
}

fn tcp_dns(messages: usize) -> Flow {
    let mut s = Vec::new();
    for i in 0..messages {
        let name = format!("n{i}.example");
        s.extend(testing::tcp_framed(&testing::dns_response(i as u16, &name, &[(&name, 60, Rdata::A([10, 1, 0, 1]))])));
    }
    let mut feeds = vec![(ToServer, testing::tcp_framed(&testing::dns_query(1, "n0.example")))];
    feeds.extend(s.chunks(1448).map(|c| (ToClient, c.to_vec())));
    tcp(53, feeds)
}

/// One TCP DNS response of about `bytes` (A records): an ordinary big answer over TCP.
fn tcp_dns_ordinary(bytes: usize) -> Flow {
    let n = (bytes / 32).min(2000);
    let answers: Vec<_> = (0..n).map(|a| ("big.example", 60, Rdata::A([10, 2, (a >> 8) as u8, a as u8]))).collect();
    let m = testing::tcp_framed(&testing::dns_response(1, "big.example", &answers));
    let mut feeds = vec![(ToServer, testing::tcp_framed(&testing::dns_query(1, "big.example")))];
    feeds.extend(m.chunks(1448).map(|c| (ToClient, c.to_vec())));
    tcp(53, feeds)
}

/// A TLS flow: a ClientHello then application data records, `bytes` in all.
fn tls_ordinary(bytes: usize) -> Flow {
    let mut c = testing::records(&testing::client_hello("ordinary.example", &["h2"], 1800), 16384);
    while c.len() < bytes {
        c.extend([0x17, 0x03, 0x03, 0x40, 0x00]);
        c.extend(std::iter::repeat_n(0x77, 16384));
    }
    tcp(443, c.chunks(1448).map(|s| (ToServer, s.to_vec())).collect())
}

/// A ClientHello announced as 60000 bytes and never finished: 48 KiB buffered.
fn tls_partial_hello() -> Flow {
    let mut hello = vec![1, 0x00, 0xea, 0x60];
    hello.resize(3 * 16384, 0x41);
    let c = testing::records(&hello, 16384);
    tcp(443, c.chunks(1448).map(|s| (ToServer, s.to_vec())).collect())
}

/// A POST through the proxy sent in `segments` segments of 1448 bytes: an
/// ordinary flow with as many segments as a one-byte-per-segment attack.
fn post_segments(segments: usize) -> Flow {
    let body = segments * 1448;
    let mut c =
        format!("POST http://upload.example/ HTTP/1.1\r\nHost: upload.example\r\nContent-Length: {body}\r\n\r\n")
            .into_bytes();
    c.resize(c.len() + body, 0x61);
    let feeds: Vec<_> = c.chunks(1448).take(segments).map(|s| (ToServer, s.to_vec())).collect();
    tcp(3128, feeds)
}

fn main() {
    let p = policy();
    let first_200 = testing::proxy_post_chunked("http://first.example/upload", "first.example", 200, 40);
    let mut many_headers = first_200.clone();
    many_headers.extend(testing::proxy_get("http://blocked.example/", "blocked.example", 3));
    let many_headers_len = many_headers.len();
    let mut garbage = Vec::new();
    let mut te = Vec::new();
    for i in 0..60 {
        garbage.extend(testing::proxy_get(&format!("http://g{i}.example/"), &format!("g{i}.example"), 10));
        garbage.extend(b"\x00\x01\x02 junk between requests \xff\xfe\r\nmore junk\r\n");
        te.extend(
            format!("POST http://t{i}.example/ HTTP/1.1\r\nHost: t{i}.example\r\nTransfer-Encoding: chunked, x-odd\r\n\r\nbody bytes\r\n")
                .as_bytes(),
        );
        te.extend(testing::proxy_get(&format!("http://u{i}.example/"), &format!("u{i}.example"), 8));
    }
    let slow_head = testing::proxy_get("http://slow.example/", "slow.example", 300);
    let slow = tcp(3128, slow_head.iter().map(|b| (ToServer, vec![*b])).collect());
    let slow_ordinary = tcp(3128, slow_head.chunks(1448).map(|c| (ToServer, c.to_vec())).collect());
    let distinct = keep_alive_ordinary(400_000, true);
    let same = keep_alive_ordinary(400_000, false);

    let cases: Vec<(&str, Flow, &str, Flow)> = vec![
        (
            "QUIC: 64 forged Initials, tiny CRYPTO frames",
            quic(testing::quic_tiny_frames(64)),
            "QUIC: 2 Initials + 62 1-RTT datagrams",
            quic_ordinary(),
        ),
        (
            "QUIC: 64 forged Initials, overlapping frames",
            quic(testing::quic_overlapping_frames(64)),
            "same",
            quic_ordinary(),
        ),
        (
            "QUIC: 64 forged Initials, a few new bytes each",
            quic(testing::quic_slow_initials(64)),
            "same",
            quic_ordinary(),
        ),
        (
            "DNS: CNAME chain of 300 to 300 addresses (23 KB)",
            dns_flow(testing::dns_cname_chain(300, 300)),
            "DNS: 600 A records, no chain, same size",
            dns_flow(dns_big_ordinary()),
        ),
        (
            "DNS/TCP: 1000 responses on one connection",
            tcp_dns(1000),
            "DNS/TCP: one response of the same size",
            tcp_dns_ordinary(1000 * 36),
        ),
        (
            "HTTP: 200 headers + chunked body, then a request",
            keep_alive(std::iter::once(many_headers)),
            "HTTP keep-alive, 10-header requests, same size",
            keep_alive_ordinary(many_headers_len, false),
        ),
        (
            "HTTP: junk between 60 requests",
            keep_alive(std::iter::once(garbage.clone())),
            "same, without junk",
            keep_alive_ordinary(garbage.len(), false),
        ),
        (
            "HTTP: 60 bodies with Transfer-Encoding 'chunked, x-odd'",
            keep_alive(std::iter::once(te.clone())),
            "same size, ordinary",
            keep_alive_ordinary(te.len(), false),
        ),
        (
            "HTTP: 7 KB head fed one byte per segment",
            slow.clone_feeds(),
            "the same head in 1448-byte segments",
            slow_ordinary,
        ),
        ("same attack", slow, "a POST, as many 1448-byte segments", post_segments(slow_head.len())),
        ("HTTP: a new host in every request (400 KB)", distinct, "every request to one host, same size", same),
        (
            "TLS: 48 KB of a ClientHello that never ends",
            tls_partial_hello(),
            "TLS: ClientHello + 46 KB of records",
            tls_ordinary(48 * 1024),
        ),
    ];
    println!(
        "{:<52} {:>9} {:>11} | {:<46} {:>9} {:>11} | {:>6} {:>6}",
        "attack flow", "bytes", "ns/flow", "ordinary flow", "bytes", "ns/flow", "time", "work"
    );
    let mut worst: f64 = 0.0;
    for (name, attack, oname, ordinary) in &cases {
        let (ta, to) = (time(attack, &p), time(ordinary, &p));
        let (wa, wo) = (run(attack, &p).1, run(ordinary, &p).1);
        let ratio = ta / to;
        worst = worst.max(ratio);
        println!(
            "{name:<52} {:>9} {ta:>11.0} | {oname:<46} {:>9} {to:>11.0} | {ratio:>5.2}x {:>5.2}x",
            attack.bytes(),
            ordinary.bytes(),
            wa as f64 / wo.max(1) as f64,
        );
    }
    println!("worst time ratio {worst:.2}x (goal: each within 10x)");
}
