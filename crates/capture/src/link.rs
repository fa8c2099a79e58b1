//! Link layers: from a captured frame to the IP packet inside it. Owns Ethernet
//! (with 802.1Q/802.1ad/QinQ tags, MPLS and PPPoE sessions), Linux cooked
//! captures v1 and v2, BSD loopback (NULL/LOOP) and raw IP.

use crate::{DecodeError, LinkType};

/// What a frame carries at the network layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkLayer<'a> {
    /// An IPv4 packet (header onwards) at `offset` in the frame.
    Ipv4 { offset: usize, packet: &'a [u8] },
    /// An IPv6 packet at `offset` in the frame.
    Ipv6 { offset: usize, packet: &'a [u8] },
    /// Something else (ARP, LLC, ...): the EtherType or protocol number.
    Other(u32),
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;
const ETH_QINQ_OLD1: u16 = 0x9100;
const ETH_QINQ_OLD2: u16 = 0x9200;
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
const ETH_PPPOE_SESSION: u16 = 0x8864;
/// Tags accepted in a row before the frame is called malformed.
const MAX_TAGS: usize = 8;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Find the IP packet in `frame` of link type `link`.
pub fn network_layer(link: LinkType, frame: &[u8]) -> Result<NetworkLayer<'_>, DecodeError> {
    match link {
        LinkType::ETHERNET => {
            let ethertype = be16(frame, 12).ok_or(DecodeError::at(0, "short Ethernet header"))?;
            by_ethertype(frame, 14, ethertype)
        }
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 => by_version(frame, 0),
        LinkType::IPV4 => Ok(NetworkLayer::Ipv4 { offset: 0, packet: frame }),
        LinkType::IPV6 => Ok(NetworkLayer::Ipv6 { offset: 0, packet: frame }),
        LinkType::LINUX_SLL => {
            let proto = be16(frame, 14).ok_or(DecodeError::at(0, "short Linux cooked header"))?;
            by_ethertype(frame, 16, proto)
        }
        LinkType::LINUX_SLL2 => {
            let proto = be16(frame, 0).ok_or(DecodeError::at(0, "short Linux cooked v2 header"))?;
            if frame.len() < 20 {
                return Err(DecodeError::at(0, "short Linux cooked v2 header"));
            }
            by_ethertype(frame, 20, proto)
        }
        LinkType::NULL | LinkType::LOOP => {
            let b = frame.get(..4).ok_or(DecodeError::at(0, "short loopback header"))?;
            let be = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            // NULL is in the writer's byte order; a family fits in 16 bits, so the
            // reading that is small is the right one.
            let family = if link == LinkType::LOOP || be < 0x1_0000 { be } else { be.swap_bytes() };
            match family {
                2 => Ok(NetworkLayer::Ipv4 { offset: 4, packet: &frame[4..] }),
                // AF_INET6: Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30.
                10 | 24 | 28 | 30 => Ok(NetworkLayer::Ipv6 { offset: 4, packet: &frame[4..] }),
                other => Ok(NetworkLayer::Other(other)),
            }
        }
        _ => Err(DecodeError::at(0, "unsupported link type")),
    }
}

/// The IP version nibble decides (raw IP, MPLS payloads).
fn by_version(frame: &[u8], at: usize) -> Result<NetworkLayer<'_>, DecodeError> {
    let packet = frame.get(at..).unwrap_or(&[]);
    match packet.first().map(|b| b >> 4) {
        Some(4) => Ok(NetworkLayer::Ipv4 { offset: at, packet }),
        Some(6) => Ok(NetworkLayer::Ipv6 { offset: at, packet }),
        Some(_) => Err(DecodeError::at(at, "not an IP version")),
        None => Err(DecodeError::at(at, "empty packet")),
    }
}

fn by_ethertype(frame: &[u8], mut at: usize, mut ethertype: u16) -> Result<NetworkLayer<'_>, DecodeError> {
    for _ in 0..MAX_TAGS {
        match ethertype {
            ETH_IPV4 => {
                let packet = frame.get(at..).ok_or(DecodeError::at(at, "missing IPv4 packet"))?;
                return Ok(NetworkLayer::Ipv4 { offset: at, packet });
            }
            ETH_IPV6 => {
                let packet = frame.get(at..).ok_or(DecodeError::at(at, "missing IPv6 packet"))?;
                return Ok(NetworkLayer::Ipv6 { offset: at, packet });
            }
            ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD1 | ETH_QINQ_OLD2 => {
                ethertype = be16(frame, at + 2).ok_or(DecodeError::at(at, "short VLAN tag"))?;
                at += 4;
            }
            ETH_MPLS | ETH_MPLS_MC => {
                // Pop labels until the bottom-of-stack bit.
                loop {
                    let label = frame.get(at..at + 4).ok_or(DecodeError::at(at, "short MPLS label"))?;
                    at += 4;
                    if label[2] & 1 == 1 {
                        return by_version(frame, at);
                    }
                    if at > 4 * 16 + 14 + 4 * MAX_TAGS {
                        return Err(DecodeError::at(at, "MPLS label stack too deep"));
                    }
                }
            }
            ETH_PPPOE_SESSION => {
                let ppp = be16(frame, at + 6).ok_or(DecodeError::at(at, "short PPPoE header"))?;
                at += 8;
                return match ppp {
                    0x0021 => by_ethertype(frame, at, ETH_IPV4),
                    0x0057 => by_ethertype(frame, at, ETH_IPV6),
                    other => Ok(NetworkLayer::Other(u32::from(other))),
                };
            }
            other => return Ok(NetworkLayer::Other(u32::from(other))),
        }
    }
    Err(DecodeError::at(at, "too many VLAN tags"))
}
