//! Benchmarks: what a real ClientHello costs the product (`ClientHelloInfo` with
//! JA3 and JA4) beside the parse alone, and inspector throughput on a mix of real
//! flows. Run: `cargo bench -p netward-wire --bench wire`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use netward_wire::tls::{self, ClientHello, Transport};
use netward_wire::{ClientHelloInfo, Direction, FlowInspector, FlowKind};

/// The body of the first ClientHello in tls-sni.pcapng (a Chrome ClientHello).
fn real_client_hello() -> Vec<u8> {
    let flows = common::run_capture(&common::testdata("ja4/tls-sni.pcapng"));
    let flow = flows.iter().find(|f| !f.udp && f.server.port() == 443).expect("TLS flow");
    let first = &flow.feeds.iter().find(|(d, _)| *d == Direction::ToServer).expect("client bytes").1;
    let msg = &first[5..];
    let len = u32::from_be_bytes([0, msg[1], msg[2], msg[3]]) as usize;
    msg[4..4 + len].to_vec()
}

/// What the product pays per ClientHello (the headline: `ClientHelloInfo`
/// with SNI, ALPN, versions, JA3 and JA4, from the complete handshake
/// message, as the assembler calls it) beside the parse alone and each
/// fingerprint on its own.
fn fingerprints(c: &mut Criterion) {
    let body = real_client_hello();
    let mut msg = vec![1];
    msg.extend(&(body.len() as u32).to_be_bytes()[1..]);
    msg.extend(&body);
    let mut g = c.benchmark_group("client_hello");
    g.bench_function("info_with_ja3_ja4", |b| {
        b.iter(|| ClientHelloInfo::from_handshake(black_box(&msg), Transport::Tcp, 0).expect("valid"))
    });
    g.bench_function("parse_sni_alpn", |b| {
        b.iter(|| {
            let h = ClientHello::parse(black_box(&body)).expect("valid");
            (h.sni().map(<[u8]>::len), h.alpn().next().map(<[u8]>::len))
        })
    });
    let h = ClientHello::parse(&body).expect("valid");
    g.bench_function("ja4", |b| b.iter(|| tls::ja4(black_box(&h), Transport::Tcp)));
    g.bench_function("ja3", |b| b.iter(|| tls::ja3(black_box(&h))));
    g.finish();
}

fn inspector(c: &mut Criterion) {
    let files = [
        "ja4/tls-sni.pcapng",
        "pcaps/sv-bug-2430.pcap",
        "pcaps/zeek-socks-with-ssl.pcap",
        "pcaps/zeek-connect-with-header.pcap",
        "pcaps/sv-quic-frag-unordered.pcap",
        "pcaps/sv-cond-log-dns-dig.pcap",
        "pcaps/sv-tls-client-hello-frag-01.pcap",
    ];
    let flows: Vec<_> = files.iter().flat_map(|f| common::run_capture(&common::testdata(f))).collect();
    let bytes: usize = flows.iter().flat_map(|f| f.feeds.iter().map(|(_, b)| b.len())).sum();
    let mut g = c.benchmark_group("inspector");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function(format!("mix_{}_flows", flows.len()), |b| {
        b.iter(|| {
            let mut n = 0;
            for f in &flows {
                let port = f.server.port();
                let kind = if f.udp { FlowKind::Udp { dst_port: port } } else { FlowKind::Tcp { dst_port: port } };
                let mut insp = FlowInspector::new(kind);
                for (dir, b) in &f.feeds {
                    insp.feed(*dir, b);
                    while insp.poll().is_some() {
                        n += 1;
                    }
                }
            }
            n
        })
    });
    // A plain-HTTP proxy connection: 100 requests with 16 KiB bodies each.
    let mut stream = Vec::new();
    for i in 0..100 {
        stream.extend(
            format!("POST http://h{i}.example/upload HTTP/1.1\r\nHost: h{i}.example\r\nContent-Length: 16384\r\n\r\n")
                .as_bytes(),
        );
        stream.extend(std::iter::repeat_n(b'x', 16384));
    }
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("http_keepalive_100_requests", |b| {
        b.iter(|| {
            let mut insp = FlowInspector::new(FlowKind::Tcp { dst_port: 3128 });
            for seg in stream.chunks(1448) {
                insp.feed(Direction::ToServer, seg);
            }
            std::iter::from_fn(|| insp.poll()).count()
        })
    });
    g.finish();
}

criterion_group!(benches, fingerprints, inspector);
criterion_main!(benches);
