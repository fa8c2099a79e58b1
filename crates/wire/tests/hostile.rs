//! Hostile input, one test per attack: the work the inspector does (bytes
//! copied and scanned, range-list operations, bytes decrypted, name steps),
//! counted by the inspector itself, held against the bound its module docs
//! state. Nothing here is timed.

use netward_wire::testing;
use netward_wire::Direction::{ToClient, ToServer};
use netward_wire::{dns, DnsCache, DnsCacheConfig, FlowInspector, FlowKind, Observation, Work};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

fn feed_all(kind: FlowKind, pieces: &[(netward_wire::Direction, Vec<u8>)]) -> (Vec<Observation>, Work) {
    let mut insp = FlowInspector::new(kind);
    let mut obs = Vec::new();
    for (dir, p) in pieces {
        insp.feed(*dir, p);
        obs.extend(std::iter::from_fn(|| insp.poll()));
    }
    (obs, insp.work())
}

fn quic(datagrams: Vec<Vec<u8>>) -> (Vec<Observation>, Work) {
    let pieces: Vec<_> = datagrams.into_iter().map(|d| (ToServer, d)).collect();
    feed_all(FlowKind::Udp { dst_port: 443 }, &pieces)
}

fn requests(obs: &[Observation]) -> Vec<String> {
    obs.iter()
        .filter_map(|o| match o {
            Observation::HttpRequest(r) => Some(r.uri.clone()),
            _ => None,
        })
        .collect()
}

/// Many tiny and overlapping CRYPTO frames in 64 forged Initials: each
/// Initial costs a few times an ordinary one (no sort and rebuild of the
/// range list per frame), and the flow no more than its Initial bound.
#[test]
fn quic_tiny_and_overlapping_crypto_frames() {
    let ordinary = testing::quic_ordinary("ordinary.example", 1800);
    let n_ordinary = ordinary.len() as u64;
    let (obs, ord) = quic(ordinary);
    assert!(matches!(&obs[..], [Observation::TlsClientHello(h)] if h.sni.as_deref() == Some("ordinary.example")));
    let per_initial = ord.total() / n_ordinary;

    eprintln!("ordinary Initials: {ord:?} / {n_ordinary}");
    for (what, forged) in [
        ("tiny frames", testing::quic_tiny_frames(64)),
        ("overlapping frames", testing::quic_overlapping_frames(64)),
        ("a few new bytes per Initial", testing::quic_slow_initials(64)),
    ] {
        let (obs, w) = quic(forged);
        eprintln!("64 forged Initials, {what}: {w:?}");
        assert!(w.total() <= 3 * per_initial * 64, "{what}, per Initial: {} > 3 x {per_initial}", w.total() / 64);
        let bound = 3 * per_initial * netward_wire::quic::MAX_INITIALS as u64;
        assert!(w.total() <= bound, "{what}, per flow: {} > {bound}", w.total());
        // Given up, and said so.
        assert!(matches!(&obs[..], [Observation::Unparsed { .. }]), "{what}: {obs:?}");
        // Past the bound a datagram costs nothing but being counted in.
        assert!(w.bytes_decrypted <= netward_wire::quic::MAX_INITIALS as u64 * 1200);
    }
}

/// A CNAME chain of 300 names leading to 300 addresses: resolved once per
/// message, not walked again for each address record.
#[test]
fn dns_cname_chain_resolved_once_per_message() {
    let msg = testing::dns_cname_chain(300, 300);
    let info = dns::parse_message(&msg).unwrap();
    let answers = info.answers.len() as u64;
    let mut cache = DnsCache::new(DnsCacheConfig::default());
    let client = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    cache.record(client, &info, Duration::from_secs(1));
    let w = cache.work();
    eprintln!("{answers} answers: {w:?}");
    assert!(w.name_steps <= 20 * answers, "{} name steps for {answers} answers", w.name_steps);
    // The address is still tied to the chain, the queried name first.
    let names = cache.lookup(client, IpAddr::V4(Ipv4Addr::new(10, 9, 0, 7)), Duration::from_secs(2));
    assert_eq!(names.first().map(|n| n.name.as_str()), Some("c0.chain.example"));
    assert_eq!(names.len(), DnsCacheConfig::default().max_names);
}

/// A request head fed one byte at a time is scanned a bounded number of
/// times per byte, not once per arriving byte.
#[test]
fn http_head_byte_by_byte_scanned_linearly() {
    let head = testing::proxy_get("http://slow.example/", "slow.example", 300);
    let mut insp = FlowInspector::new(FlowKind::Tcp { dst_port: 3128 });
    for b in &head {
        insp.feed(ToServer, std::slice::from_ref(b));
    }
    let obs: Vec<_> = std::iter::from_fn(|| insp.poll()).collect();
    assert_eq!(requests(&obs), ["http://slow.example/"]);
    let w = insp.work();
    eprintln!("{} bytes: {w:?}", head.len());
    assert!(w.bytes_scanned <= 4 * head.len() as u64, "{} bytes scanned for {}", w.bytes_scanned, head.len());
    assert!(w.total() <= 12 * head.len() as u64, "{w:?}");
}

/// 200 headers and a chunked body, then the next request of the keep-alive connection.
#[test]
fn http_many_headers_then_next_request() {
    let mut c = testing::proxy_post_chunked("http://first.example/up", "first.example", 200, 50);
    c.extend(testing::proxy_get("http://second.example/x", "second.example", 0));
    let (obs, _) = feed_all(FlowKind::Tcp { dst_port: 3128 }, &[(ToServer, c)]);
    assert_eq!(requests(&obs), ["http://first.example/up", "http://second.example/x"], "{obs:#?}");
}

/// A Transfer-Encoding the inspector cannot frame, then the next request.
#[test]
fn http_unusual_transfer_encoding_then_next_request() {
    for te in ["chunked, gzip", "x-custom", "identity", "gzip"] {
        let mut c = format!("POST http://a.example/ HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: {te}\r\n\r\n")
            .into_bytes();
        c.extend(b"some body bytes\r\nthat are not chunked\r\n");
        c.extend(testing::proxy_get("http://b.example/", "b.example", 2));
        let (obs, _) = feed_all(FlowKind::Tcp { dst_port: 3128 }, &[(ToServer, c)]);
        assert_eq!(requests(&obs), ["http://a.example/", "http://b.example/"], "{te}: {obs:#?}");
    }
    // Several Transfer-Encoding headers: the last coding of the last one counts.
    let mut c =
        b"POST http://a.example/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    c.extend(b"4\r\nbody\r\n0\r\n\r\n");
    c.extend(testing::proxy_get("http://b.example/", "b.example", 0));
    let (obs, _) = feed_all(FlowKind::Tcp { dst_port: 3128 }, &[(ToServer, c)]);
    assert_eq!(requests(&obs), ["http://a.example/", "http://b.example/"], "{obs:#?}");
}

/// Garbage between requests (and a malformed chunk size) does not stop the
/// later requests from being read.
#[test]
fn http_garbage_between_requests() {
    let mut c = testing::proxy_get("http://one.example/", "one.example", 1);
    c.extend(b"\x00\x01\x02 binary junk\r\nnot a request line\r\n\r\n");
    c.extend(testing::proxy_get("http://two.example/", "two.example", 1));
    c.extend(b"POST http://three.example/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nxx\r\n");
    c.extend(testing::proxy_get("http://four.example/", "four.example", 1));
    let server = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\x00garbage\r\n\r\n".to_vec();
    let (obs, _) = feed_all(FlowKind::Tcp { dst_port: 3128 }, &[(ToClient, server), (ToServer, c)]);
    assert_eq!(
        requests(&obs),
        ["http://one.example/", "http://two.example/", "http://three.example/", "http://four.example/"],
        "{obs:#?}"
    );
}

/// The SNI inside a tunnel is compared with the CONNECT name through the
/// canonicaliser: an IDN and its punycode are one name.
#[test]
fn sni_mismatch_compares_canonical_names() {
    let hello = testing::records(&testing::client_hello("xn--bcher-kva.example", &[], 0), 1000);
    let mut c = "CONNECT BÜCHER.example.:443 HTTP/1.1\r\n\r\n".as_bytes().to_vec();
    c.extend(&hello);
    let (obs, _) = feed_all(FlowKind::Tcp { dst_port: 3128 }, &[(ToServer, c)]);
    assert!(obs.iter().any(|o| matches!(o, Observation::TlsClientHello(_))), "{obs:#?}");
    assert!(!obs.iter().any(|o| matches!(o, Observation::SniMismatch { .. })), "{obs:#?}");
    // A real mismatch is still one.
    let mut c = b"CONNECT real.example:443 HTTP/1.1\r\n\r\n".to_vec();
    c.extend(&hello);
    let (obs, _) = feed_all(FlowKind::Tcp { dst_port: 3128 }, &[(ToServer, c)]);
    assert!(obs.iter().any(|o| matches!(o, Observation::SniMismatch { .. })), "{obs:#?}");
}

/// A TCP DNS connection carries a bounded number of messages; past it the
/// flow is flagged as not followed.
#[test]
fn tcp_dns_messages_per_connection_bounded() {
    let mut c = Vec::new();
    for i in 0..5000u16 {
        c.extend(testing::tcp_framed(&testing::dns_query(i, &format!("q{i}.example"))));
    }
    let mut insp = FlowInspector::new(FlowKind::Tcp { dst_port: 53 });
    insp.feed(ToServer, &c);
    let obs: Vec<_> = std::iter::from_fn(|| insp.poll()).collect();
    let n = obs.iter().filter(|o| matches!(o, Observation::Dns(_))).count();
    eprintln!("{n} DNS messages read of 5000; {:?}", insp.work());
    assert!(n <= netward_wire::MAX_TCP_DNS_MESSAGES, "{n} messages");
    assert!(insp.work().messages <= netward_wire::MAX_TCP_DNS_MESSAGES as u64 + 1);
}
