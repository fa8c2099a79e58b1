//! Replay every vendored capture: the expected destination names must appear
//! in the reassembled client stream of the right flow (so reassembly put the
//! bytes in order), and flows must look sane.

mod common;

use std::fs::File;
use std::io::BufReader;
use std::net::SocketAddr;

use common::*;
use netward_capture::{CaptureReader, Outcome, Proto, Replayer};

fn replay(path: &str) -> (Collector, Replayer) {
    let mut r = Replayer::default();
    let mut c = Collector::default();
    let f = File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    r.feed(BufReader::new(f), &mut |e| c.push(e)).unwrap_or_else(|e| panic!("{path}: {e}"));
    r.finish(&mut |e| c.push(e));
    assert_eq!(r.stats().decode_errors, 0, "{path}: {:?}", r.stats().first_decode_error);
    (c, r)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn dns_labels(name: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for l in name.split('.') {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v
}

/// Rows of an EXPECTED.tsv: (file, proto, remote ip, remote port, name).
fn rows(dir: &str) -> Vec<(String, String, String, String, String)> {
    let text = std::fs::read_to_string(testdata(&format!("{dir}/EXPECTED.tsv"))).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].into(), f[1].into(), f[2].into(), f[3].into(), f[4].into())
        })
        .collect()
}

fn check_rows(dir: &str) {
    let rows = rows(dir);
    assert!(rows.len() >= 8, "{dir}: EXPECTED.tsv has rows");
    for (file, proto, ip, port, name) in rows {
        let path = testdata(&format!("{dir}/{file}"));
        let (c, _) = replay(&path);
        if ip == "-" {
            // DNS: the name, label-encoded, in a datagram of a flow that got an answer.
            let found = c.flows.values().any(|f| {
                f.end.map(|e| e.0) == Some(Outcome::ConnectionSuccess)
                    && f.datagrams.iter().any(|(_, d)| contains(d, &dns_labels(&name)))
            });
            assert!(found, "{file}: DNS name {name} not found");
            continue;
        }
        let server: SocketAddr = SocketAddr::new(ip.parse().unwrap(), port.parse().unwrap());
        let want = if proto == "tcp" { Proto::Tcp } else { Proto::Udp };
        let flows: Vec<_> =
            c.flows.values().filter(|f| f.key.unwrap().server == server && f.key.unwrap().proto == want).collect();
        assert!(!flows.is_empty(), "{file}: no {proto} flow to {server}");
        match proto.as_str() {
            "tcp" => {
                let hit = flows.iter().any(|f| contains(&f.to_server, name.as_bytes()));
                assert!(hit, "{file}: {name} not in the client stream to {server}");
                for f in &flows {
                    let (outcome, _, stats) = f.end.unwrap();
                    assert_eq!(outcome, Outcome::ConnectionSuccess, "{file}: {server}");
                    assert_eq!(stats.bytes_to_server, f.to_server.len() as u64);
                    assert!(!stats.overlap_conflict, "{file}: conflict");
                }
            }
            "udp" => {
                // QUIC: encrypted; a client Initial of at least 1200 bytes was sent.
                let hit = flows.iter().any(|f| f.datagrams.iter().any(|(_, d)| d.len() >= 1200));
                assert!(hit, "{file}: no QUIC Initial to {server}");
            }
            other => panic!("unknown proto {other}"),
        }
    }
}

#[test]
fn pcaps_expected_names_in_streams() {
    check_rows("pcaps");
}

#[test]
fn ja4_expected_names_in_streams() {
    check_rows("ja4");
}

#[test]
fn every_capture_reads_to_the_end() {
    let mut total = 0;
    for dir in ["pcaps", "ja4"] {
        for entry in std::fs::read_dir(testdata(dir)).unwrap() {
            let path = entry.unwrap().path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if ext != "pcap" && ext != "pcapng" {
                continue;
            }
            let mut reader = CaptureReader::new(BufReader::new(File::open(&path).unwrap()));
            let mut n = 0;
            let mut last_offset = 0;
            while let Some(p) = reader.next_packet() {
                let p = p.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(p.offset >= last_offset && !p.data.is_empty());
                assert!(p.ts.as_micros() > 1_000_000_000_000_000, "plausible timestamp");
                last_offset = p.offset;
                n += 1;
            }
            assert!(n > 0, "{}", path.display());
            total += 1;
        }
    }
    assert_eq!(total, 19);
}

#[test]
fn ipv6_and_pcapng_flows() {
    let (c, _) = replay(&testdata("ja4/ipv6.pcapng"));
    let f = c.only();
    assert!(f.key.unwrap().client.is_ipv6());
    assert!(f.established);
    let (c, _) = replay(&testdata("pcaps/zeek-connect-with-header.pcap"));
    let f = c.only();
    assert!(f.to_server.starts_with(b"CONNECT secure.newegg.com:443 HTTP/1.1\r\n"));
    assert!(f.to_client.starts_with(b"HTTP/1.0 200 Connection Established"));
}

#[test]
fn ech_capture_has_a_mid_stream_flow() {
    let (c, _) = replay(&testdata("pcaps/zeek-tls13-ech.pcap"));
    assert_eq!(c.flows.len(), 3);
    assert_eq!(c.flows.values().filter(|f| f.mid_stream).count(), 1);
}
