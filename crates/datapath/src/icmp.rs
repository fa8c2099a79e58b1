//! ICMP "destination unreachable" for a connection being set up, read as
//! the refusal it is. A SYN answered by ICMP (host or port unreachable,
//! administratively prohibited) ends that connection attempt just as a RST
//! would; the flow table follows TCP, not ICMP, so the agent hands it the
//! RST the ICMP error means ([`refusal_as_reset`]) and the attempt ends at
//! once as `ConnectionFailed` instead of idling out minutes later.
//!
//! Only an error quoting a client SYN (SYN without ACK, the whole TCP header
//! quoted, as Linux and RFC 1812 routers do) is translated: an ICMP error
//! about an established connection (a soft error, or "fragmentation needed"
//! for path MTU discovery) ends nothing.

use std::net::{Ipv4Addr, Ipv6Addr};

const PROTO_TCP: u8 = 6;
const PROTO_ICMP: u8 = 1;
const PROTO_ICMPV6: u8 = 58;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;

/// ICMPv4 destination-unreachable codes that refuse a connection: net, host,
/// protocol, port unreachable; net/host/communication administratively
/// prohibited. Not 4 (fragmentation needed): that is path MTU discovery.
fn v4_refuses(code: u8) -> bool {
    matches!(code, 0..=3 | 9 | 10 | 13)
}

/// The quoted SYN's addresses and ports: (client port, server port, client seq).
fn quoted_syn(tcp: &[u8]) -> Option<(u16, u16, u32)> {
    if tcp.len() < 20 {
        return None;
    }
    let flags = tcp[13];
    if flags & TCP_SYN == 0 || flags & TCP_ACK != 0 {
        return None;
    }
    let sport = u16::from_be_bytes([tcp[0], tcp[1]]);
    let dport = u16::from_be_bytes([tcp[2], tcp[3]]);
    let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
    Some((sport, dport, seq))
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn add_words(sum: &mut u32, bytes: &[u8]) {
    for c in bytes.chunks(2) {
        *sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
}

/// A bare RST|ACK from the server (`sport`) to the client (`dport`), acking `seq + 1`.
fn rst_segment(sport: u16, dport: u16, seq: u32) -> [u8; 20] {
    let mut t = [0u8; 20];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[8..12].copy_from_slice(&seq.wrapping_add(1).to_be_bytes());
    t[12] = 5 << 4;
    t[13] = TCP_RST | TCP_ACK;
    t
}

/// The RST (an IP packet, from the unreachable server to the client) that
/// `packet` means, when `packet` is an ICMP or ICMPv6 destination-unreachable
/// error about a client's SYN; `None` for anything else.
pub fn refusal_as_reset(packet: &[u8]) -> Option<Vec<u8>> {
    match packet.first()? >> 4 {
        4 => v4(packet),
        6 => v6(packet),
        _ => None,
    }
}

fn v4(p: &[u8]) -> Option<Vec<u8>> {
    let ihl = usize::from(p.first()? & 0x0f) * 4;
    if ihl < 20 || *p.get(9)? != PROTO_ICMP {
        return None;
    }
    let icmp = p.get(ihl..)?;
    if *icmp.first()? != 3 || !v4_refuses(*icmp.get(1)?) {
        return None;
    }
    let inner = icmp.get(8..)?;
    let inner_ihl = usize::from(inner.first()? & 0x0f) * 4;
    if inner.first()? >> 4 != 4 || inner_ihl < 20 || *inner.get(9)? != PROTO_TCP {
        return None;
    }
    let client = Ipv4Addr::from(<[u8; 4]>::try_from(inner.get(12..16)?).ok()?);
    let server = Ipv4Addr::from(<[u8; 4]>::try_from(inner.get(16..20)?).ok()?);
    let (cport, sport, seq) = quoted_syn(inner.get(inner_ihl..)?)?;
    let mut tcp = rst_segment(sport, cport, seq);
    let mut sum = 0u32;
    add_words(&mut sum, &server.octets());
    add_words(&mut sum, &client.octets());
    sum += u32::from(PROTO_TCP) + 20;
    add_words(&mut sum, &tcp);
    tcp[16..18].copy_from_slice(&fold(sum).to_be_bytes());
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&40u16.to_be_bytes());
    ip[6] = 0x40; // don't fragment
    ip[8] = 64;
    ip[9] = PROTO_TCP;
    ip[12..16].copy_from_slice(&server.octets());
    ip[16..20].copy_from_slice(&client.octets());
    let mut s = 0u32;
    add_words(&mut s, &ip);
    let c = fold(s);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    Some([&ip[..], &tcp[..]].concat())
}

fn v6(p: &[u8]) -> Option<Vec<u8>> {
    // ICMPv6 right after the fixed header (errors carry no extension headers in practice).
    if p.len() < 40 || p[6] != PROTO_ICMPV6 {
        return None;
    }
    let icmp = &p[40..];
    // Type 1: destination unreachable, every code refuses.
    if *icmp.first()? != 1 {
        return None;
    }
    let inner = icmp.get(8..)?;
    if inner.first()? >> 4 != 6 || *inner.get(6)? != PROTO_TCP {
        return None;
    }
    let client = Ipv6Addr::from(<[u8; 16]>::try_from(inner.get(8..24)?).ok()?);
    let server = Ipv6Addr::from(<[u8; 16]>::try_from(inner.get(24..40)?).ok()?);
    let (cport, sport, seq) = quoted_syn(inner.get(40..)?)?;
    let mut tcp = rst_segment(sport, cport, seq);
    let mut sum = 0u32;
    add_words(&mut sum, &server.octets());
    add_words(&mut sum, &client.octets());
    sum += 20 + u32::from(PROTO_TCP);
    add_words(&mut sum, &tcp);
    tcp[16..18].copy_from_slice(&fold(sum).to_be_bytes());
    let mut ip = [0u8; 40];
    ip[0] = 0x60;
    ip[4..6].copy_from_slice(&20u16.to_be_bytes());
    ip[6] = PROTO_TCP;
    ip[7] = 64;
    ip[8..24].copy_from_slice(&server.octets());
    ip[24..40].copy_from_slice(&client.octets());
    Some([&ip[..], &tcp[..]].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client SYN 10.0.0.2:40000 -> 10.0.0.9:81, seq 1000.
    fn syn_v4(flags: u8) -> Vec<u8> {
        let mut ip = vec![0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, PROTO_TCP, 0, 0, 10, 0, 0, 2, 10, 0, 0, 9];
        let mut tcp = vec![0u8; 20];
        tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&81u16.to_be_bytes());
        tcp[4..8].copy_from_slice(&1000u32.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        ip.append(&mut tcp);
        ip
    }

    fn unreachable_v4(code: u8, quoted: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, PROTO_ICMP, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        p.extend_from_slice(&[3, code, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(quoted);
        p
    }

    fn sum_ok(bytes: &[u8], pseudo: u32) -> bool {
        let mut s = pseudo;
        add_words(&mut s, bytes);
        fold(s) == 0
    }

    #[test]
    fn host_unreachable_for_a_syn_is_the_servers_reset() {
        let rst = refusal_as_reset(&unreachable_v4(1, &syn_v4(TCP_SYN))).expect("a refusal");
        assert_eq!(rst.len(), 40);
        assert_eq!(&rst[12..16], &[10, 0, 0, 9], "from the server");
        assert_eq!(&rst[16..20], &[10, 0, 0, 2], "to the client");
        let tcp = &rst[20..];
        assert_eq!(u16::from_be_bytes([tcp[0], tcp[1]]), 81);
        assert_eq!(u16::from_be_bytes([tcp[2], tcp[3]]), 40000);
        assert_eq!(u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]), 1001, "acks the SYN");
        assert_eq!(tcp[13], TCP_RST | TCP_ACK);
        assert!(sum_ok(&rst[..20], 0), "IPv4 header checksum");
        let mut pseudo = 0;
        add_words(&mut pseudo, &rst[12..20]);
        assert!(sum_ok(tcp, pseudo + 6 + 20), "TCP checksum");
    }

    #[test]
    fn only_refusals_of_a_syn_are_translated() {
        assert!(refusal_as_reset(&unreachable_v4(3, &syn_v4(TCP_SYN))).is_some(), "port unreachable");
        assert!(refusal_as_reset(&unreachable_v4(13, &syn_v4(TCP_SYN))).is_some(), "prohibited");
        assert!(refusal_as_reset(&unreachable_v4(4, &syn_v4(TCP_SYN))).is_none(), "fragmentation needed");
        assert!(refusal_as_reset(&unreachable_v4(1, &syn_v4(TCP_ACK))).is_none(), "an established segment");
        assert!(refusal_as_reset(&unreachable_v4(1, &syn_v4(TCP_SYN | TCP_ACK))).is_none(), "a server's SYN-ACK");
        assert!(
            refusal_as_reset(&unreachable_v4(1, &syn_v4(TCP_SYN)[..28])).is_none(),
            "8 bytes quoted: flags unknown"
        );
        assert!(refusal_as_reset(&syn_v4(TCP_SYN)).is_none(), "not ICMP");
        assert!(refusal_as_reset(&[]).is_none());
    }

    #[test]
    fn icmpv6_unreachable() {
        let a: [u8; 16] = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2).octets();
        let b: [u8; 16] = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 9).octets();
        let mut inner = vec![0x60, 0, 0, 0, 0, 20, PROTO_TCP, 64];
        inner.extend_from_slice(&a);
        inner.extend_from_slice(&b);
        inner.extend_from_slice(&syn_v4(TCP_SYN)[20..]);
        let mut p = vec![0x60, 0, 0, 0, 0, 0, PROTO_ICMPV6, 64];
        p.extend_from_slice(&[0u8; 32]);
        p.extend_from_slice(&[1, 4, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(&inner);
        let rst = refusal_as_reset(&p).expect("a refusal");
        assert_eq!(&rst[8..24], &b);
        assert_eq!(&rst[24..40], &a);
        assert_eq!(rst[40 + 13], TCP_RST | TCP_ACK);
    }
}
