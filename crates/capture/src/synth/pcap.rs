//! Writing classic pcap files (microsecond timestamps). The format is a
//! 24-byte header and a 16-byte header per packet; not worth a dependency.

use std::io::{self, Write};

use crate::{LinkType, PacketTime};

/// Writes a pcap file to any `Write`.
pub struct PcapWriter<W: Write> {
    out: W,
    bytes: u64,
    packets: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Write the file header.
    pub fn new(mut out: W, link: LinkType) -> io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&262_144u32.to_le_bytes());
        h.extend_from_slice(&link.0.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out, bytes: 24, packets: 0 })
    }

    /// Write one packet.
    pub fn packet(&mut self, ts: PacketTime, data: &[u8]) -> io::Result<()> {
        let mut h = [0u8; 16];
        let secs = (ts.0 / 1_000_000) as u32;
        let micros = (ts.0 % 1_000_000) as u32;
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&micros.to_le_bytes());
        h[8..12].copy_from_slice(&(data.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&(data.len() as u32).to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(data)?;
        self.bytes += 16 + data.len() as u64;
        self.packets += 1;
        Ok(())
    }

    /// Bytes written so far (headers included).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn packets(&self) -> u64 {
        self.packets
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}
