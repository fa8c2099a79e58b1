//! IP fragment reassembly through the decoder.

mod common;

use common::*;
use netward_capture::synth::packet;
use netward_capture::{Decoded, DefragConfig, PacketDecoder, PacketTime, Transport};

fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

fn udp_fragments(src: &str, dst: &str, payload: &[u8], id: u32, mtu: usize) -> Vec<Vec<u8>> {
    let (s, d) = (addr(src), addr(dst));
    let u = packet::udp(s, d, 1234, 53, payload);
    packet::fragments(s, d, 17, id, &u, mtu)
}

fn decode_all(dec: &mut PacketDecoder, frags: &[Vec<u8>]) -> Option<Vec<u8>> {
    let mut out = None;
    for (i, f) in frags.iter().enumerate() {
        match dec.decode_ip(PacketTime(1_000_000 + i as u64), f).expect("decodes") {
            Decoded::Ip(p) => {
                assert!(out.is_none(), "datagram delivered twice");
                match p.transport {
                    Transport::Udp(u) => out = Some(u.payload.to_vec()),
                    other => panic!("unexpected {other:?}"),
                }
            }
            Decoded::FragmentHeld => {}
            Decoded::NotIp(_) => panic!("not ip"),
        }
    }
    out
}

#[test]
fn ipv4_fragments_in_any_order() {
    let payload = body(3000);
    let mut frags = udp_fragments("10.0.0.1", "10.0.0.2", &payload, 77, 1000);
    assert_eq!(frags.len(), 4);
    frags.swap(0, 3);
    frags.swap(1, 2);
    let mut dec = PacketDecoder::default();
    assert_eq!(decode_all(&mut dec, &frags), Some(payload));
    assert_eq!(dec.defrag_stats().reassembled, 1);
}

#[test]
fn ipv6_fragments_in_any_order() {
    let payload = body(5000);
    let mut frags = udp_fragments("2001:db8::1", "2001:db8::2", &payload, 0xdead_beef, 1200);
    frags.reverse();
    let mut dec = PacketDecoder::default();
    assert_eq!(decode_all(&mut dec, &frags), Some(payload));
}

#[test]
fn duplicate_fragments_are_harmless_differing_overlap_counted() {
    let payload = body(2000);
    let frags = udp_fragments("10.0.0.1", "10.0.0.2", &payload, 5, 800);
    let mut dec = PacketDecoder::default();
    // Fragment 0 twice, then a forged copy of fragment 1 with other bytes first.
    let mut forged = frags[1].clone();
    let n = forged.len();
    forged[n - 1] ^= 0xff;
    let seq = vec![frags[0].clone(), frags[0].clone(), frags[1].clone(), forged, frags[2].clone()];
    assert_eq!(decode_all(&mut dec, &seq), Some(payload));
    assert_eq!(dec.defrag_stats().overlap_conflicts, 1);
}

#[test]
fn incomplete_datagrams_time_out_and_memory_is_bounded() {
    let cfg = DefragConfig { max_datagrams: 4, ..DefragConfig::default() };
    let mut dec = PacketDecoder::new(cfg);
    let payload = body(3000);
    // First fragments only, of 10 datagrams: at most 4 are held.
    for id in 0..10 {
        let frags = udp_fragments("10.0.0.1", "10.0.0.2", &payload, id, 1000);
        let r = dec.decode_ip(PacketTime(1_000_000), &frags[0]).unwrap();
        assert_eq!(r, Decoded::FragmentHeld);
    }
    assert_eq!(dec.defrag_stats().evicted, 6);
    // 31 s later, the rest of datagram 9 arrives: the held part has expired.
    let frags = udp_fragments("10.0.0.1", "10.0.0.2", &payload, 9, 1000);
    for f in &frags[1..] {
        let r = dec.decode_ip(PacketTime(32_000_000), f).unwrap();
        assert_eq!(r, Decoded::FragmentHeld);
    }
    assert_eq!(dec.defrag_stats().timed_out, 4);
}

#[test]
fn fragmented_tcp_reaches_the_flow_table() {
    let (s, d) = (addr("10.0.0.1"), addr("10.0.0.2"));
    let data = body(2500);
    let seg = packet::tcp(s, d, 40000, 80, 1, 0, packet::flags::SYN, &data);
    let frags = packet::fragments(s, d, 6, 9, &seg, 1480);
    let mut dec = PacketDecoder::default();
    let mut table = netward_capture::FlowTable::new(Default::default());
    let mut c = Collector::default();
    for f in &frags {
        feed(&mut dec, &mut table, ts(1), f, &mut c);
    }
    table.finish(&mut |e| c.push(e));
    assert_eq!(c.only().to_server, data);
}
