//! The generator's captures replay to the flows it says it wrote.

mod common;

use std::io::Cursor;

use common::*;
use netward_capture::synth::{generate_vec, FlowKind, GenSpec, Mix};
use netward_capture::{Outcome, Proto, Replayer};

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn generated_flows_replay_with_names_and_byte_counts() {
    let spec = GenSpec { flows: 140, bulk_bytes: 200_000, ipv6_percent: 25, ..GenSpec::default() };
    let (bytes, summary) = generate_vec(&spec);
    assert_eq!(summary.flows.len(), 140);
    assert_eq!(summary.file_bytes as usize, bytes.len());
    // The mix is exact: 140 flows over weights summing to 100 ... within one.
    let m = Mix::default();
    assert!((summary.count(FlowKind::DirectTls) as i64 - (140 * m.direct_tls / 100) as i64).abs() <= 1);
    for k in FlowKind::ALL {
        assert!(summary.count(k) > 0, "{k:?} present");
    }

    let mut r = Replayer::default();
    let mut c = Collector::default();
    r.feed(Cursor::new(bytes), &mut |e| c.push(e)).unwrap();
    r.finish(&mut |e| c.push(e));
    assert_eq!(r.stats().packets, summary.packets);
    assert_eq!(r.stats().decode_errors, 0);
    assert_eq!(c.flows.len(), summary.flows.len());

    for (rec, gen) in c.flows.values().zip(&summary.flows) {
        let key = rec.key.unwrap();
        assert_eq!((key.client, key.server), (gen.client, gen.server), "{:?}", gen.kind);
        let (outcome, _, stats) = rec.end.unwrap();
        assert_eq!(outcome, Outcome::ConnectionSuccess);
        assert_eq!((stats.bytes_to_server, stats.bytes_to_client), (gen.bytes_to_server, gen.bytes_to_client));
        assert!(rec.gaps.is_empty() && rec.conflicts.is_empty());
        match gen.kind {
            FlowKind::Dns => {
                assert_eq!(key.proto, Proto::Udp);
                assert_eq!(rec.datagrams.len(), 2);
            }
            FlowKind::Quic => {
                assert_eq!(key.proto, Proto::Udp);
                assert_eq!(rec.datagrams[0].1.len(), 1200);
            }
            _ => {
                assert_eq!(key.proto, Proto::Tcp);
                for name in &gen.names {
                    assert!(contains(&rec.to_server, name.as_bytes()), "{:?}: {name}", gen.kind);
                }
                if gen.kind == FlowKind::ProxyGet {
                    assert!(rec.to_server.starts_with(b"GET http://"));
                    assert_eq!(gen.names.len(), spec.requests_per_proxy_conn);
                }
                if gen.kind == FlowKind::Bulk {
                    assert!(stats.bytes_to_client > 200_000);
                }
            }
        }
    }
}

#[test]
fn generation_is_deterministic() {
    let spec = GenSpec { flows: 30, bulk_bytes: 10_000, ..GenSpec::default() };
    assert_eq!(generate_vec(&spec).0, generate_vec(&spec).0);
    let other = GenSpec { seed: 2, ..spec.clone() };
    assert_ne!(generate_vec(&spec).0, generate_vec(&other).0);
}
