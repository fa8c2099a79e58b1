//! Capture files: truncation and corruption errors with offsets, link types.

mod common;

use std::io::Cursor;

use common::*;
use netward_capture::synth::packet;
use netward_capture::synth::pcap::PcapWriter;
use netward_capture::{
    CaptureErrorKind, CaptureReader, Decoded, LinkType, OwnedPacket, PacketDecoder, PacketTime, Transport,
};

fn read_all(bytes: &[u8]) -> (Vec<OwnedPacket>, Option<netward_capture::CaptureError>) {
    let mut r = CaptureReader::new(Cursor::new(bytes.to_vec()));
    let mut pkts = Vec::new();
    let mut err = None;
    while let Some(item) = r.next_packet() {
        match item {
            Ok(p) => pkts.push(p.to_owned()),
            Err(e) => {
                assert!(err.is_none(), "only one fatal error");
                err = Some(e);
            }
        }
    }
    (pkts, err)
}

#[test]
fn truncated_pcap_keeps_packets_and_names_the_offset() {
    let bytes = std::fs::read(testdata("pcaps/sv-tls-client-hello-frag-01.pcap")).unwrap();
    let (full, err) = read_all(&bytes);
    assert!(err.is_none());
    assert!(full.len() > 20);
    // Cut inside each of several packets (header or data).
    for k in [1usize, 5, full.len() / 2, full.len() - 1] {
        for extra in [3u64, 17, 40] {
            let cut = (full[k].offset + extra) as usize;
            if cut >= bytes.len() {
                continue;
            }
            let (pkts, err) = read_all(&bytes[..cut]);
            let err = err.expect("truncation is an error");
            assert_eq!(err.kind, CaptureErrorKind::Truncated);
            assert_eq!(err.offset, full[k].offset, "cut at {cut}");
            assert_eq!(pkts, full[..k].to_vec(), "packets before the cut are kept");
        }
    }
}

#[test]
fn truncated_pcapng_keeps_packets() {
    let bytes = std::fs::read(testdata("ja4/tls-sni.pcapng")).unwrap();
    let (full, err) = read_all(&bytes);
    assert!(err.is_none());
    for k in [1usize, full.len() / 3, full.len() - 1] {
        let cut = full[k].offset as usize + 30;
        let (pkts, err) = read_all(&bytes[..cut]);
        let err = err.expect("truncation is an error");
        assert_eq!(err.offset, full[k].offset);
        assert_eq!(pkts, full[..k].to_vec());
    }
}

#[test]
fn corrupt_block_length_is_an_error_with_offset() {
    let mut bytes = std::fs::read(testdata("ja4/tls-sni.pcapng")).unwrap();
    let (full, _) = read_all(&bytes);
    // Break the second packet's block: a block length that is not a multiple of 4.
    let off = full[1].offset as usize;
    bytes[off + 4] = 0x03;
    let (pkts, err) = read_all(&bytes);
    let err = err.expect("corruption is an error");
    assert_eq!(err.offset, full[1].offset);
    assert_eq!(pkts, full[..1].to_vec());
}

#[test]
fn huge_caplen_is_refused_not_allocated() {
    let mut w = PcapWriter::new(Vec::new(), LinkType::RAW).unwrap();
    w.packet(PacketTime(1), &[0x45; 20]).unwrap();
    let mut bytes = w.into_inner();
    bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f]);
    bytes.extend_from_slice(&[0; 64]);
    let (pkts, err) = read_all(&bytes);
    assert_eq!(pkts.len(), 1);
    let err = err.unwrap();
    assert_eq!(err.offset, 24 + 16 + 20);
}

#[test]
fn not_a_capture() {
    let (pkts, err) = read_all(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert!(pkts.is_empty());
    let err = err.unwrap();
    assert_eq!((err.offset, err.kind), (0, CaptureErrorKind::NotACapture));
    let (_, err) = read_all(b"");
    assert_eq!(err.unwrap().offset, 0);
}

/// One TCP packet framed by each link type decodes to the same segment.
#[test]
fn link_types() {
    let ip = tcp_ip("10.1.1.1", 1234, "10.2.2.2", 443, 9, 0, packet::flags::SYN, b"hi");
    let ip6 = tcp_ip("2001:db8::1", 1234, "2001:db8::2", 443, 9, 0, packet::flags::SYN, b"hi");
    let eth = packet::ethernet(&ip);
    let mut vlan = eth[..12].to_vec();
    vlan.extend_from_slice(&[0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20, 0x08, 0x00]);
    vlan.extend_from_slice(&ip);
    let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0, 0, 1, 0x86, 0xdd];
    sll.extend_from_slice(&ip6);
    let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0, 0, 1];
    sll2.extend_from_slice(&ip);
    let mut null_le = 2u32.to_le_bytes().to_vec();
    null_le.extend_from_slice(&ip);
    let mut null6_be = 30u32.to_be_bytes().to_vec();
    null6_be.extend_from_slice(&ip6);
    let cases: Vec<(LinkType, Vec<u8>)> = vec![
        (LinkType::ETHERNET, eth),
        (LinkType::ETHERNET, vlan),
        (LinkType::LINUX_SLL, sll),
        (LinkType::LINUX_SLL2, sll2),
        (LinkType::NULL, null_le),
        (LinkType::NULL, null6_be),
        (LinkType::RAW, ip.clone()),
        (LinkType::RAW_12, ip6.clone()),
        (LinkType::RAW_14, ip.clone()),
        (LinkType(228), ip.clone()),
    ];
    for (link, frame) in cases {
        // Through a file of that link type, to check the header too.
        let mut w = PcapWriter::new(Vec::new(), link).unwrap();
        w.packet(PacketTime(5_000_001), &frame).unwrap();
        let (pkts, err) = read_all(&w.into_inner());
        assert!(err.is_none());
        assert_eq!(pkts[0].link, link);
        assert_eq!(pkts[0].ts, PacketTime(5_000_001));
        let mut dec = PacketDecoder::default();
        match dec.decode(pkts[0].ts, link, &pkts[0].data) {
            Ok(Decoded::Ip(p)) => match p.transport {
                Transport::Tcp(t) => {
                    assert_eq!((t.src_port, t.dst_port, t.seq, t.payload), (1234, 443, 9, &b"hi"[..]), "{link:?}")
                }
                other => panic!("{link:?}: {other:?}"),
            },
            other => panic!("{link:?}: {other:?}"),
        }
    }
}

#[test]
fn ipv6_extension_headers_are_skipped() {
    let (s, d) = (addr("2001:db8::1"), addr("2001:db8::2"));
    let tcp = packet::tcp(s, d, 1, 2, 3, 0, packet::flags::SYN, b"x");
    // Hop-by-hop (8 bytes) then destination options (16 bytes) then TCP.
    let mut body = vec![60, 0, 1, 4, 0, 0, 0, 0];
    body.extend_from_slice(&[6, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    body.extend_from_slice(&tcp);
    let ip = packet::ipv6_raw(
        match s {
            std::net::IpAddr::V6(a) => a.octets(),
            _ => unreachable!(),
        },
        match d {
            std::net::IpAddr::V6(a) => a.octets(),
            _ => unreachable!(),
        },
        0,
        &body,
    );
    let mut dec = PacketDecoder::default();
    match dec.decode_ip(PacketTime(0), &ip).unwrap() {
        Decoded::Ip(p) => assert!(matches!(p.transport, Transport::Tcp(t) if t.payload == b"x")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn decode_errors_name_the_offset() {
    let mut dec = PacketDecoder::default();
    let ip = tcp_ip("10.1.1.1", 1, "10.2.2.2", 2, 0, 0, 0, b"");
    let eth = packet::ethernet(&ip[..30]); // TCP header cut short
    let err = dec.decode(PacketTime(0), LinkType::ETHERNET, &eth).unwrap_err();
    assert_eq!(err.offset, 14 + 20);
}
