//! Building packets: Ethernet, IPv4/IPv6 (with fragmentation), TCP, UDP, with
//! correct lengths and checksums. Used by the capture generator and by tests.

use std::net::IpAddr;

/// TCP flag bits, for building segments.
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

const ETH_IPV4: [u8; 2] = [0x08, 0x00];
const ETH_IPV6: [u8; 2] = [0x86, 0xdd];

/// Wrap an IP packet in an Ethernet II header (fixed locally administered MACs).
pub fn ethernet(ip: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + ip.len());
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]);
    f.extend_from_slice(if ip.first().map(|b| b >> 4) == Some(6) { &ETH_IPV6 } else { &ETH_IPV4 });
    f.extend_from_slice(ip);
    f
}

/// A TCP segment (header + payload) with its checksum for `src` → `dst`.
#[allow(clippy::too_many_arguments)]
pub fn tcp(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + payload.len());
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.push(5 << 4);
    t.push(flags);
    t.extend_from_slice(&64240u16.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(payload);
    let c = transport_checksum(src, dst, 6, &t);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    t
}

/// A UDP datagram (header + payload) with its checksum.
pub fn udp(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    let mut c = transport_checksum(src, dst, 17, &u);
    if c == 0 {
        c = 0xffff;
    }
    u[6..8].copy_from_slice(&c.to_be_bytes());
    u
}

/// An IP packet carrying `proto` bytes `body` (IPv4 or IPv6 by the addresses).
pub fn ip(src: IpAddr, dst: IpAddr, proto: u8, body: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4_raw(s.octets(), d.octets(), proto, 0, 0, false, body),
        _ => ipv6_raw(v6(src), v6(dst), proto, body),
    }
}

fn v6(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
        IpAddr::V6(v) => v.octets(),
    }
}

/// An IPv4 packet with explicit fragment fields (`frag_off` in bytes, multiple of 8).
pub fn ipv4_raw(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, frag_off: u16, more: bool, body: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(20 + body.len());
    p.push(0x45);
    p.push(0);
    p.extend_from_slice(&((20 + body.len()) as u16).to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    let ff = (frag_off / 8) | if more { 0x2000 } else { 0 };
    p.extend_from_slice(&ff.to_be_bytes());
    p.push(64);
    p.push(proto);
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let c = checksum(&[&p[..20]]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(body);
    p
}

/// An IPv6 packet whose `body` starts with header `next` (an extension header
/// or the upper protocol).
pub fn ipv6_raw(src: [u8; 16], dst: [u8; 16], next: u8, body: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(40 + body.len());
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&(body.len() as u16).to_be_bytes());
    p.push(next);
    p.push(64);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(body);
    p
}

/// Split an upper-layer `body` of protocol `proto` into IP fragments whose
/// payloads are at most `max_payload` bytes (rounded down to a multiple of 8).
pub fn fragments(src: IpAddr, dst: IpAddr, proto: u8, id: u32, body: &[u8], max_payload: usize) -> Vec<Vec<u8>> {
    let step = (max_payload / 8).max(1) * 8;
    let mut out = Vec::new();
    let mut off = 0;
    while off < body.len() || out.is_empty() {
        let end = (off + step).min(body.len());
        let more = end < body.len();
        let part = &body[off..end];
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                out.push(ipv4_raw(s.octets(), d.octets(), proto, id as u16, off as u16, more, part))
            }
            _ => {
                let mut fh = Vec::with_capacity(8 + part.len());
                fh.push(proto);
                fh.push(0);
                fh.extend_from_slice(&((off as u16) | u16::from(more)).to_be_bytes());
                fh.extend_from_slice(&id.to_be_bytes());
                fh.extend_from_slice(part);
                out.push(ipv6_raw(v6(src), v6(dst), 44, &fh));
            }
        }
        off = end;
    }
    out
}

/// The Internet checksum of some byte slices taken as one.
pub fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for part in parts {
        let mut b: &[u8] = part;
        if let Some(hi) = odd.take() {
            if let Some((&lo, rest)) = b.split_first() {
                sum += u32::from(u16::from_be_bytes([hi, lo]));
                b = rest;
            } else {
                odd = Some(hi);
                continue;
            }
        }
        let mut chunks = b.chunks_exact(2);
        for c in &mut chunks {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = chunks.remainder() {
            odd = Some(*last);
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn transport_checksum(src: IpAddr, dst: IpAddr, proto: u8, seg: &[u8]) -> u16 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let len = (seg.len() as u16).to_be_bytes();
            checksum(&[&s.octets(), &d.octets(), &[0, proto], &len, seg])
        }
        _ => {
            let len = (seg.len() as u32).to_be_bytes();
            checksum(&[&v6(src), &v6(dst), &len, &[0, 0, 0, proto], seg])
        }
    }
}
