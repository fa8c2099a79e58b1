//! From a captured frame to a transport-level packet: link layer, IP header,
//! fragment reassembly, TCP/UDP header. The output, [`IpPacket`], is what the
//! flow table takes; a live agent that already has IP packets calls
//! [`PacketDecoder::decode_ip`].

use std::net::IpAddr;

use crate::defrag::{DefragConfig, DefragStats, Defragmenter};
use crate::ip::{self, IpHeader, TcpSegment, UdpDatagram, PROTO_TCP, PROTO_UDP};
use crate::link::{network_layer, NetworkLayer};
use crate::{DecodeError, LinkType, PacketTime};

/// The transport part of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport<'a> {
    Tcp(TcpSegment<'a>),
    Udp(UdpDatagram<'a>),
    /// Another protocol (ICMP, ESP, ...), by IP protocol number.
    Other(u8),
}

/// A decoded IP packet (a whole datagram: fragments are reassembled first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub transport: Transport<'a>,
}

/// Result of decoding one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// An IP packet.
    Ip(IpPacket<'a>),
    /// A fragment, kept until its datagram is complete.
    FragmentHeld,
    /// Not IP (ARP, LLC, ...): the EtherType / family.
    NotIp(u32),
}

/// Decodes frames; holds the fragment reassembly state.
pub struct PacketDecoder {
    defrag: Defragmenter,
    /// The last reassembled datagram; decoded packets may borrow from it.
    reassembled: Vec<u8>,
}

impl Default for PacketDecoder {
    fn default() -> Self {
        Self::new(DefragConfig::default())
    }
}

impl PacketDecoder {
    pub fn new(defrag: DefragConfig) -> Self {
        PacketDecoder { defrag: Defragmenter::new(defrag), reassembled: Vec::new() }
    }

    pub fn defrag_stats(&self) -> &DefragStats {
        self.defrag.stats()
    }

    /// Decode one captured frame of link type `link`.
    pub fn decode<'a>(
        &'a mut self,
        ts: PacketTime,
        link: LinkType,
        frame: &'a [u8],
    ) -> Result<Decoded<'a>, DecodeError> {
        match network_layer(link, frame)? {
            NetworkLayer::Ipv4 { offset, packet } => {
                let h = ip::parse_ipv4(packet).map_err(|e| e.shift(offset))?;
                self.finish(ts, h, 4, offset)
            }
            NetworkLayer::Ipv6 { offset, packet } => {
                let h = ip::parse_ipv6(packet).map_err(|e| e.shift(offset))?;
                self.finish(ts, h, 6, offset)
            }
            NetworkLayer::Other(t) => Ok(Decoded::NotIp(t)),
        }
    }

    /// Decode one IP packet (IPv4 or IPv6, by its version nibble).
    pub fn decode_ip<'a>(&'a mut self, ts: PacketTime, packet: &'a [u8]) -> Result<Decoded<'a>, DecodeError> {
        self.decode(ts, LinkType::RAW, packet)
    }

    fn finish<'a>(
        &'a mut self,
        ts: PacketTime,
        h: IpHeader<'a>,
        version: u8,
        offset: usize,
    ) -> Result<Decoded<'a>, DecodeError> {
        let Some(frag) = h.fragment else {
            let transport = transport(h.proto, h.payload, h.missing).map_err(|e| e.shift(offset + h.payload_offset))?;
            return Ok(Decoded::Ip(IpPacket { src: h.src, dst: h.dst, transport }));
        };
        if h.missing > 0 {
            // A fragment cut by the snap length cannot be rebuilt.
            return Err(DecodeError::at(offset, "fragment truncated by capture"));
        }
        let Some(done) = self.defrag.add(ts, h.src, h.dst, h.proto, frag, h.payload) else {
            return Ok(Decoded::FragmentHeld);
        };
        self.reassembled = done.payload;
        let buf: &'a [u8] = &self.reassembled;
        let (proto, at) = if version == 6 {
            // The fragmentable part may start with more extension headers.
            ip::skip_ipv6_extensions(done.proto, buf).map_err(|e| e.shift(offset))?
        } else {
            (done.proto, 0)
        };
        let payload = buf.get(at..).unwrap_or(&[]);
        let transport = transport(proto, payload, 0).map_err(|e| e.shift(offset))?;
        Ok(Decoded::Ip(IpPacket { src: h.src, dst: h.dst, transport }))
    }
}

fn transport(proto: u8, payload: &[u8], missing: usize) -> Result<Transport<'_>, DecodeError> {
    Ok(match proto {
        PROTO_TCP => Transport::Tcp(ip::parse_tcp(payload, missing)?),
        PROTO_UDP => Transport::Udp(ip::parse_udp(payload, missing)?),
        other => Transport::Other(other),
    })
}
