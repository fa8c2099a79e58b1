//! Replaying capture files: reader → decoder → flow table, with the counters
//! a user wants to see after `netward replay FILE...`.

use std::io::Read;

use crate::{
    CaptureError, CaptureEvent, CaptureReader, DecodeError, Decoded, DefragConfig, FlowConfig, FlowTable,
    PacketDecoder, RawPacket,
};

/// Counters over everything fed so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayStats {
    pub packets: u64,
    /// Captured bytes (frames).
    pub bytes: u64,
    /// Frames that carry no IP (ARP, ...).
    pub not_ip: u64,
    /// IP fragments held for reassembly.
    pub fragments: u64,
    /// Frames that could not be decoded.
    pub decode_errors: u64,
    /// The first undecodable frame: its file offset and the error.
    pub first_decode_error: Option<(u64, DecodeError)>,
    /// Non-fatal file errors (blocks skipped).
    pub skipped_blocks: u64,
}

/// Runs captures through a [`PacketDecoder`] and a [`FlowTable`].
pub struct Replayer {
    decoder: PacketDecoder,
    table: FlowTable,
    stats: ReplayStats,
}

impl Default for Replayer {
    fn default() -> Self {
        Self::new(FlowConfig::default(), DefragConfig::default())
    }
}

impl Replayer {
    pub fn new(flows: FlowConfig, defrag: DefragConfig) -> Self {
        Replayer { decoder: PacketDecoder::new(defrag), table: FlowTable::new(flows), stats: ReplayStats::default() }
    }

    pub fn stats(&self) -> &ReplayStats {
        &self.stats
    }

    pub fn table(&self) -> &FlowTable {
        &self.table
    }

    pub fn decoder(&self) -> &PacketDecoder {
        &self.decoder
    }

    /// Feed one captured packet.
    pub fn feed_packet<F>(&mut self, pkt: &RawPacket<'_>, sink: &mut F)
    where
        F: for<'e> FnMut(CaptureEvent<'e>),
    {
        self.stats.packets += 1;
        self.stats.bytes += pkt.data.len() as u64;
        match self.decoder.decode(pkt.ts, pkt.link, pkt.data) {
            Ok(Decoded::Ip(ip)) => {
                self.table.process(pkt.ts, &ip, sink);
            }
            Ok(Decoded::FragmentHeld) => self.stats.fragments += 1,
            Ok(Decoded::NotIp(_)) => self.stats.not_ip += 1,
            Err(e) => {
                self.stats.decode_errors += 1;
                if self.stats.first_decode_error.is_none() {
                    self.stats.first_decode_error = Some((pkt.offset, e));
                }
            }
        }
    }

    /// Feed a whole capture file. Flows stay open across files (call
    /// [`finish`](Self::finish) after the last). On a fatal file error, every
    /// packet before it has been fed; the error says where the file broke.
    pub fn feed<R, F>(&mut self, reader: R, sink: &mut F) -> Result<(), CaptureError>
    where
        R: Read + Send,
        F: for<'e> FnMut(CaptureEvent<'e>),
    {
        let mut reader = CaptureReader::new(reader);
        while let Some(item) = reader.next_packet() {
            match item {
                Ok(pkt) => self.feed_packet(&pkt, sink),
                Err(e) if e.is_fatal() => return Err(e),
                Err(_) => self.stats.skipped_blocks += 1,
            }
        }
        Ok(())
    }

    /// End all flows.
    pub fn finish<F>(&mut self, sink: &mut F)
    where
        F: for<'e> FnMut(CaptureEvent<'e>),
    {
        self.table.finish(sink);
    }
}
