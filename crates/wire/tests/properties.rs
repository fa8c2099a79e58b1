//! Property tests: arbitrary bytes in arbitrary splits never panic and stay bounded;
//! valid streams give the same observations whatever the split.

mod common;

use common::{client_hello, records};
use netward_wire::Direction::{ToClient, ToServer};
use netward_wire::{dns, tls, ClientHello, Direction, FlowInspector, FlowKind, Observation};
use proptest::prelude::*;

fn feed_split(kind: FlowKind, pieces: &[(Direction, Vec<u8>)], cuts: &[usize]) -> Vec<Observation> {
    let mut insp = FlowInspector::new(kind);
    let mut out = Vec::new();
    let mut c = cuts.iter().cycle();
    for (dir, bytes) in pieces {
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = (*c.next().unwrap_or(&1)).clamp(1, rest.len());
            insp.feed(*dir, &rest[..n]);
            rest = &rest[n..];
            out.extend(std::iter::from_fn(|| insp.poll()));
        }
    }
    out
}

/// Prefixes that steer the inspector into each parser, so random tails exercise them.
fn prefixes() -> Vec<Vec<u8>> {
    vec![
        vec![],
        vec![0x16, 0x03, 0x01],
        b"GET / HTTP/1.1\r\n".to_vec(),
        b"CONNECT a:443 HTTP/1.1\r\n\r\n".to_vec(),
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
        vec![5, 1, 0],
        vec![5, 1, 0, 5, 1, 0, 3],
        vec![4, 1, 0, 80, 0, 0, 0, 1],
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_tcp_bytes_never_panic(
        prefix in 0usize..8,
        client in proptest::collection::vec(any::<u8>(), 0..3000),
        server in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec(1usize..400, 1..8),
        port in prop_oneof![Just(53u16), Just(443), Just(3128)],
    ) {
        let mut c = prefixes()[prefix].clone();
        c.extend(client);
        let pieces = vec![(ToServer, c.clone()), (ToClient, server.clone()), (ToServer, c)];
        let _ = feed_split(FlowKind::Tcp { dst_port: port }, &pieces, &cuts);
    }

    /// Whatever the bytes and however they are split, the work done is
    /// linear in the bytes fed (the constant covers a QUIC CRYPTO buffer's zero fill).
    #[test]
    fn work_is_linear_in_the_input(
        prefix in 0usize..8,
        client in proptest::collection::vec(any::<u8>(), 0..4000),
        server in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec(1usize..64, 1..8),
        udp in any::<bool>(),
        port in prop_oneof![Just(53u16), Just(443), Just(3128)],
    ) {
        let mut c = prefixes()[prefix].clone();
        c.extend(client);
        let kind = if udp { FlowKind::Udp { dst_port: port } } else { FlowKind::Tcp { dst_port: port } };
        let mut insp = FlowInspector::new(kind);
        let mut it = cuts.iter().cycle();
        for (dir, bytes) in [(ToServer, &c), (ToClient, &server), (ToServer, &c)] {
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let n = (*it.next().unwrap()).min(rest.len());
                insp.feed(dir, &rest[..n]);
                rest = &rest[n..];
                while insp.poll().is_some() {}
            }
        }
        let w = insp.work();
        prop_assert!(w.total() <= 8 * w.bytes_in + 20_000, "{:?}", w);
        prop_assert!(insp.buffered() <= 4 * netward_wire::MAX_BUFFER, "{}", insp.buffered());
    }

    #[test]
    fn arbitrary_datagrams_never_panic(
        datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1500), 1..6),
        quic_like in any::<bool>(),
        port in prop_oneof![Just(53u16), Just(443)],
    ) {
        let mut insp = FlowInspector::new(FlowKind::Udp { dst_port: port });
        for (i, mut d) in datagrams.into_iter().enumerate() {
            if quic_like && d.len() > 6 {
                d[0] = 0xc0 | (d[0] & 0x0f);
                d[1..5].copy_from_slice(&1u32.to_be_bytes());
            }
            insp.feed(if i % 3 == 2 { ToClient } else { ToServer }, &d);
            while insp.poll().is_some() {}
        }
    }

    #[test]
    fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        if let Ok(h) = ClientHello::parse(&data) {
            let _ = (h.sni(), h.alpn().count(), tls::ja4(&h, tls::Transport::Tcp), tls::ja3(&h));
        }
        let _ = tls::client_hello_from_records(&data);
        let _ = dns::parse_message(&data);
    }

    #[test]
    fn any_split_of_a_valid_stream_gives_the_same_observations(
        record in 1usize..600,
        cuts in proptest::collection::vec(1usize..200, 1..10),
        sni in "[a-z]{1,20}\\.example",
        alpn in proptest::collection::vec("[a-z0-9/.]{1,12}", 0..4),
    ) {
        let alpn: Vec<&str> = alpn.iter().map(String::as_str).collect();
        let hello = records(&client_hello(Some(&sni), &alpn, false), record);
        let mut connect = format!("CONNECT {sni}:443 HTTP/1.1\r\nHost: {sni}:443\r\n\r\n").into_bytes();
        connect.extend(&hello);
        let pieces = vec![
            (ToServer, b"GET http://x.example/ HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc".to_vec()),
            (ToClient, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n".to_vec()),
            (ToServer, connect),
            (ToClient, b"HTTP/1.1 200 OK\r\n\r\n".to_vec()),
        ];
        let kind = FlowKind::Tcp { dst_port: 8080 };
        let whole = feed_split(kind, &pieces, &[usize::MAX]);
        let split = feed_split(kind, &pieces, &cuts);
        prop_assert_eq!(&whole, &split);
        let names: Vec<_> = whole.iter().filter_map(|o| match o {
            Observation::TlsClientHello(h) => h.sni.clone(),
            _ => None,
        }).collect();
        prop_assert_eq!(names, vec![sni]);
    }
}
