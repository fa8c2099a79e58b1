//! IPv4 / IPv6 headers (IPv6 extension headers skipped) and the TCP and UDP
//! headers above them. Lax about captures cut short by the snap length (the
//! captured part is used and the cut is reported), strict about lengths that
//! contradict each other.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::DecodeError;

pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
const V6_HOP_BY_HOP: u8 = 0;
const V6_ROUTING: u8 = 43;
const V6_FRAGMENT: u8 = 44;
const V6_AUTH: u8 = 51;
const V6_DEST_OPTS: u8 = 60;
const V6_MOBILITY: u8 = 135;
const V6_HIP: u8 = 139;
const V6_SHIM6: u8 = 140;
/// Extension headers walked before the packet is called malformed.
const MAX_EXT_HEADERS: usize = 16;

/// Where a fragment belongs in its datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentInfo {
    /// IPv4 identification (16 bits) or IPv6 fragment identification.
    pub id: u32,
    /// Offset of this fragment's payload in the datagram, in bytes.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
}

/// One IP packet: addresses, upper protocol, payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpHeader<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Upper-layer protocol (after IPv6 extension headers).
    pub proto: u8,
    /// Upper-layer bytes captured (for a fragment: this fragment's part).
    pub payload: &'a [u8],
    /// Offset of `payload` in the slice that was parsed.
    pub payload_offset: usize,
    /// Bytes of payload the header announces but the capture does not hold.
    pub missing: usize,
    /// Set when this packet is a fragment (not the whole datagram).
    pub fragment: Option<FragmentInfo>,
}

/// Parse an IPv4 packet.
pub fn parse_ipv4(p: &[u8]) -> Result<IpHeader<'_>, DecodeError> {
    if p.len() < 20 {
        return Err(DecodeError::at(0, "short IPv4 header"));
    }
    if p[0] >> 4 != 4 {
        return Err(DecodeError::at(0, "not IPv4"));
    }
    let ihl = usize::from(p[0] & 0x0f) * 4;
    if ihl < 20 || ihl > p.len() {
        return Err(DecodeError::at(0, "bad IPv4 header length"));
    }
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    // A total length of 0 is written by segmentation offload: use what was captured.
    let total = if total == 0 { p.len() } else { total };
    if total < ihl {
        return Err(DecodeError::at(2, "IPv4 total length shorter than header"));
    }
    let end = total.min(p.len());
    let missing = total - end;
    let flags_frag = u16::from_be_bytes([p[6], p[7]]);
    let more = flags_frag & 0x2000 != 0;
    let offset = u32::from(flags_frag & 0x1fff) * 8;
    let fragment =
        (more || offset != 0).then_some(FragmentInfo { id: u32::from(u16::from_be_bytes([p[4], p[5]])), offset, more });
    Ok(IpHeader {
        src: IpAddr::V4(Ipv4Addr::new(p[12], p[13], p[14], p[15])),
        dst: IpAddr::V4(Ipv4Addr::new(p[16], p[17], p[18], p[19])),
        proto: p[9],
        payload: &p[ihl..end],
        payload_offset: ihl,
        missing,
        fragment,
    })
}

fn v6_addr(b: &[u8]) -> IpAddr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    IpAddr::V6(Ipv6Addr::from(a))
}

/// Parse an IPv6 packet, skipping extension headers. A fragment stops the walk:
/// the rest is the fragmentable part, whose headers are walked after reassembly
/// (see [`skip_ipv6_extensions`]).
pub fn parse_ipv6(p: &[u8]) -> Result<IpHeader<'_>, DecodeError> {
    if p.len() < 40 {
        return Err(DecodeError::at(0, "short IPv6 header"));
    }
    if p[0] >> 4 != 6 {
        return Err(DecodeError::at(0, "not IPv6"));
    }
    let plen = usize::from(u16::from_be_bytes([p[4], p[5]]));
    // Payload length 0 means a jumbogram (or offload): use what was captured.
    let total = if plen == 0 { p.len() } else { 40 + plen };
    let end = total.min(p.len());
    let missing = total - end;
    let body = &p[..end];
    let mut next = p[6];
    let mut at = 40;
    let mut fragment = None;
    for _ in 0..MAX_EXT_HEADERS {
        match next {
            V6_FRAGMENT => {
                let h = body.get(at..at + 8).ok_or(DecodeError::at(at, "short IPv6 fragment header"))?;
                let off_flags = u16::from_be_bytes([h[2], h[3]]);
                let info = FragmentInfo {
                    id: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                    offset: u32::from(off_flags & 0xfff8),
                    more: off_flags & 1 != 0,
                };
                next = h[0];
                at += 8;
                if info.more || info.offset != 0 {
                    fragment = Some(info);
                    break;
                }
                // An atomic fragment (offset 0, no more): just a header to skip.
            }
            h if is_ext_header(h) => {
                let (nh, len) = ext_header(body, at, h)?;
                next = nh;
                at += len;
            }
            _ => break,
        }
    }
    if fragment.is_none() && is_ext_header(next) {
        return Err(DecodeError::at(at, "too many IPv6 extension headers"));
    }
    Ok(IpHeader {
        src: v6_addr(&p[8..24]),
        dst: v6_addr(&p[24..40]),
        proto: next,
        payload: body.get(at..).unwrap_or(&[]),
        payload_offset: at,
        missing,
        fragment,
    })
}

fn is_ext_header(h: u8) -> bool {
    matches!(h, V6_HOP_BY_HOP | V6_ROUTING | V6_FRAGMENT | V6_AUTH | V6_DEST_OPTS | V6_MOBILITY | V6_HIP | V6_SHIM6)
}

/// One extension header at `at`: (next header, length in bytes).
fn ext_header(b: &[u8], at: usize, kind: u8) -> Result<(u8, usize), DecodeError> {
    let h = b.get(at..at + 2).ok_or(DecodeError::at(at, "short IPv6 extension header"))?;
    let len = if kind == V6_AUTH {
        // AH counts 4-byte words, minus 2.
        (usize::from(h[1]) + 2) * 4
    } else {
        (usize::from(h[1]) + 1) * 8
    };
    if at + len > b.len() {
        return Err(DecodeError::at(at, "IPv6 extension header beyond packet"));
    }
    Ok((h[0], len))
}

/// Walk IPv6 extension headers starting with `next` at the start of `b` (used on
/// a reassembled fragmentable part). Returns (upper protocol, payload offset).
pub fn skip_ipv6_extensions(mut next: u8, b: &[u8]) -> Result<(u8, usize), DecodeError> {
    let mut at = 0;
    for _ in 0..MAX_EXT_HEADERS {
        if next == V6_FRAGMENT {
            // A second fragment header after reassembly: nothing sane to do.
            return Err(DecodeError::at(at, "nested IPv6 fragment header"));
        }
        if !is_ext_header(next) {
            return Ok((next, at));
        }
        let (nh, len) = ext_header(b, at, next)?;
        next = nh;
        at += len;
    }
    Err(DecodeError::at(at, "too many IPv6 extension headers"))
}

/// TCP flag bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// A TCP segment's header fields and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// Captured payload.
    pub payload: &'a [u8],
    /// Payload bytes sent but not captured (snap length).
    pub missing: usize,
}

/// Parse a TCP header. `missing` is what the IP layer says was cut off.
pub fn parse_tcp(b: &[u8], missing: usize) -> Result<TcpSegment<'_>, DecodeError> {
    if b.len() < 20 {
        return Err(DecodeError::at(0, "short TCP header"));
    }
    let hlen = usize::from(b[12] >> 4) * 4;
    if hlen < 20 {
        return Err(DecodeError::at(12, "bad TCP data offset"));
    }
    if hlen > b.len() {
        // Options cut off by the snap length (or a lying data offset).
        return Err(DecodeError::at(12, "TCP header beyond captured bytes"));
    }
    Ok(TcpSegment {
        src_port: u16::from_be_bytes([b[0], b[1]]),
        dst_port: u16::from_be_bytes([b[2], b[3]]),
        seq: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        ack: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        flags: TcpFlags(b[13]),
        window: u16::from_be_bytes([b[14], b[15]]),
        payload: &b[hlen..],
        missing,
    })
}

/// A UDP datagram's ports and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    /// Captured payload.
    pub payload: &'a [u8],
    /// Payload bytes sent but not captured.
    pub missing: usize,
}

/// Parse a UDP header.
pub fn parse_udp(b: &[u8], missing: usize) -> Result<UdpDatagram<'_>, DecodeError> {
    if b.len() < 8 {
        return Err(DecodeError::at(0, "short UDP header"));
    }
    let len = usize::from(u16::from_be_bytes([b[4], b[5]]));
    let announced = b.len() + missing;
    // Length 0 is allowed for jumbograms; a length past the IP payload is a lie
    // we correct to the IP payload, a shorter one trims trailing padding.
    let (payload, missing) = if len >= 8 && len <= announced {
        let end = len.min(b.len());
        (&b[8..end], len - end)
    } else if len != 0 && len < 8 {
        return Err(DecodeError::at(4, "UDP length shorter than header"));
    } else {
        (&b[8..], missing)
    };
    Ok(UdpDatagram {
        src_port: u16::from_be_bytes([b[0], b[1]]),
        dst_port: u16::from_be_bytes([b[2], b[3]]),
        payload,
        missing,
    })
}
