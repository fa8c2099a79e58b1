//! Streaming pcap / pcapng reader. Owns the file formats: headers, interface
//! descriptions, timestamp resolutions and offsets, and the byte offset of each
//! block, so a truncated or corrupt file yields every good packet and then one
//! error naming where it broke.
//!
//! Reads from any `Read` with a bounded buffer (grown only for a block larger than
//! the buffer, up to [`MAX_BLOCK`]); the packet bytes are lent out of that buffer.

use std::io::Read;

use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{Block, PcapBlockOwned, PcapError};

use crate::{CaptureError, CaptureErrorKind, PacketTime};

/// Initial read buffer.
const INITIAL_BUFFER: usize = 256 * 1024;
/// Largest block accepted; a larger one is reported as corrupt.
pub const MAX_BLOCK: usize = 16 * 1024 * 1024;

/// Link-layer type of a packet (the pcap LINKTYPE_ number).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: 4-byte address family in host byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II (with 802.1Q / QinQ tags).
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP, as written by some systems under their DLT_RAW value.
    pub const RAW_12: LinkType = LinkType(12);
    /// Raw IP (OpenBSD's DLT_RAW).
    pub const RAW_14: LinkType = LinkType(14);
    /// LINKTYPE_RAW: raw IPv4/IPv6.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: 4-byte address family, big-endian.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1 (`any` interface).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// One captured packet, lent from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// Capture time.
    pub ts: PacketTime,
    /// Link-layer type of `data`.
    pub link: LinkType,
    /// Captured bytes (possibly fewer than `orig_len`).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
    /// Byte offset of this packet's block in the file.
    pub offset: u64,
}

/// An owned copy of a [`RawPacket`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedPacket {
    pub ts: PacketTime,
    pub link: LinkType,
    pub data: Vec<u8>,
    pub orig_len: u32,
    pub offset: u64,
}

impl RawPacket<'_> {
    pub fn to_owned(&self) -> OwnedPacket {
        OwnedPacket {
            ts: self.ts,
            link: self.link,
            data: self.data.to_vec(),
            orig_len: self.orig_len,
            offset: self.offset,
        }
    }
}

/// One pcapng interface: its link type and clock.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    /// PacketTime units per second.
    units_per_sec: u64,
    /// Seconds added to every timestamp.
    offset_secs: i64,
}

/// Where the packet's bytes lie in the reader's buffer, found while the block was
/// borrowed, so they can be lent out after the borrow ends.
struct Located {
    block_len: usize,
    data_start: usize,
    data_len: usize,
    ts: PacketTime,
    link: LinkType,
    orig_len: u32,
    offset: u64,
}

/// Streaming reader of pcap and pcapng files.
pub struct CaptureReader<'r> {
    inner: Option<Box<dyn PcapReaderIterator + Send + 'r>>,
    /// Set when opening failed; reported by the first `next_packet`.
    open_error: Option<CaptureError>,
    /// Bytes of the block returned last, consumed on the next call.
    pending: usize,
    capacity: usize,
    // Legacy pcap state.
    legacy_link: LinkType,
    legacy_nanos: bool,
    // pcapng state (reset by each section header).
    interfaces: Vec<Interface>,
    last_ts: PacketTime,
    done: bool,
}

impl<'r> CaptureReader<'r> {
    /// Start reading. Never fails here: a bad header is reported by the first
    /// [`next_packet`](Self::next_packet).
    pub fn new<R: Read + Send + 'r>(reader: R) -> Self {
        let (inner, open_error) = match pcap_parser::create_reader(INITIAL_BUFFER, reader) {
            Ok(r) => (Some(r), None),
            Err(e) => {
                let kind = match e {
                    PcapError::Eof | PcapError::Incomplete(_) | PcapError::UnexpectedEof => CaptureErrorKind::Truncated,
                    PcapError::ReadError => CaptureErrorKind::Io,
                    _ => CaptureErrorKind::NotACapture,
                };
                (None, Some(CaptureError { offset: 0, kind }))
            }
        };
        CaptureReader {
            inner,
            open_error,
            pending: 0,
            capacity: INITIAL_BUFFER,
            legacy_link: LinkType::ETHERNET,
            legacy_nanos: false,
            interfaces: Vec::new(),
            last_ts: PacketTime(0),
            done: false,
        }
    }

    /// The next packet, or an error naming the file offset where reading failed,
    /// or `None` at the end. After a fatal error, returns `None`.
    #[allow(clippy::should_implement_trait)]
    pub fn next_packet(&mut self) -> Option<Result<RawPacket<'_>, CaptureError>> {
        if let Some(e) = self.open_error.take() {
            self.done = true;
            return Some(Err(e));
        }
        if self.done {
            return None;
        }
        match self.locate_next() {
            Ok(Some(loc)) => {
                self.pending = loc.block_len;
                let inner = self.inner.as_ref()?;
                let data = inner.data().get(loc.data_start..loc.data_start + loc.data_len);
                match data {
                    Some(data) => Some(Ok(RawPacket {
                        ts: loc.ts,
                        link: loc.link,
                        data,
                        orig_len: loc.orig_len,
                        offset: loc.offset,
                    })),
                    None => {
                        self.done = true;
                        Some(Err(CaptureError {
                            offset: loc.offset,
                            kind: CaptureErrorKind::Corrupt("packet outside its block".into()),
                        }))
                    }
                }
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                if e.is_fatal() {
                    self.done = true;
                }
                Some(Err(e))
            }
        }
    }

    /// An iterator of owned packets (copies each packet).
    pub fn owned(self) -> OwnedPackets<'r> {
        OwnedPackets { reader: self }
    }

    /// Parse blocks until a packet block; return where its bytes are.
    fn locate_next(&mut self) -> Result<Option<Located>, CaptureError> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(None);
        };
        if self.pending > 0 {
            inner.consume(self.pending);
            self.pending = 0;
        }
        loop {
            let offset = inner.consumed() as u64;
            let buf_start = inner.data().as_ptr() as usize;
            match inner.next() {
                Ok((block_len, block)) => {
                    let step = match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            self.legacy_link = LinkType(h.network.0 as u32);
                            self.legacy_nanos = h.is_nanosecond_precision();
                            None
                        }
                        PcapBlockOwned::Legacy(p) => {
                            let frac =
                                if self.legacy_nanos { u64::from(p.ts_usec) / 1000 } else { u64::from(p.ts_usec) };
                            let ts = PacketTime::from_secs_micros(u64::from(p.ts_sec), frac);
                            Some(Ok((ts, self.legacy_link, p.data, p.origlen)))
                        }
                        PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                            self.interfaces.clear();
                            None
                        }
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            // An invalid resolution falls back to the default (µs).
                            let units_per_sec = idb.ts_resolution().unwrap_or(1_000_000).max(1);
                            self.interfaces.push(Interface {
                                link: LinkType(idb.linktype.0 as u32),
                                units_per_sec,
                                offset_secs: idb.ts_offset(),
                            });
                            None
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            match self.interfaces.get(epb.if_id as usize) {
                                Some(ifc) => {
                                    let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                                    let ts = ng_timestamp(units, ifc);
                                    Some(Ok((ts, ifc.link, epb.data, epb.origlen)))
                                }
                                None => Some(Err(epb.if_id)),
                            }
                        }
                        PcapBlockOwned::NG(Block::SimplePacket(spb)) => match self.interfaces.first() {
                            // A simple packet has no timestamp: use the last one seen.
                            Some(ifc) => Some(Ok((self.last_ts, ifc.link, spb.data, spb.origlen))),
                            None => Some(Err(0)),
                        },
                        PcapBlockOwned::NG(_) => None,
                    };
                    match step {
                        None => inner.consume(block_len),
                        Some(Err(if_id)) => {
                            inner.consume(block_len);
                            return Err(CaptureError { offset, kind: CaptureErrorKind::UnknownInterface(if_id) });
                        }
                        Some(Ok((ts, link, data, orig_len))) => {
                            let data_start = (data.as_ptr() as usize).wrapping_sub(buf_start);
                            self.last_ts = ts;
                            return Ok(Some(Located {
                                block_len,
                                data_start,
                                data_len: data.len(),
                                ts,
                                link,
                                orig_len,
                                offset,
                            }));
                        }
                    }
                }
                Err(PcapError::Eof) => return Ok(None),
                Err(PcapError::Incomplete(_)) => {
                    if inner.refill().is_err() {
                        return Err(CaptureError { offset, kind: CaptureErrorKind::Io });
                    }
                }
                Err(PcapError::UnexpectedEof) => {
                    // pcap-parser reports a clean end as UnexpectedEof when its buffer
                    // position is not at 0; an empty remainder is a clean end.
                    if inner.data().is_empty() {
                        return Ok(None);
                    }
                    return Err(CaptureError { offset, kind: CaptureErrorKind::Truncated });
                }
                Err(PcapError::BufferTooSmall) => {
                    if self.capacity >= MAX_BLOCK {
                        return Err(CaptureError { offset, kind: CaptureErrorKind::BlockTooLarge(MAX_BLOCK) });
                    }
                    self.capacity = (self.capacity * 2).min(MAX_BLOCK);
                    if !inner.grow(self.capacity) || inner.refill().is_err() {
                        return Err(CaptureError { offset, kind: CaptureErrorKind::Io });
                    }
                }
                Err(PcapError::ReadError) => return Err(CaptureError { offset, kind: CaptureErrorKind::Io }),
                Err(PcapError::HeaderNotRecognized) => {
                    return Err(CaptureError { offset, kind: CaptureErrorKind::NotACapture })
                }
                Err(PcapError::NomError(_, k)) | Err(PcapError::OwnedNomError(_, k)) => {
                    return Err(CaptureError { offset, kind: CaptureErrorKind::Corrupt(format!("{k:?}")) })
                }
            }
        }
    }
}

/// pcapng timestamp units to microseconds.
fn ng_timestamp(units: u64, ifc: &Interface) -> PacketTime {
    let micros = (u128::from(units) * 1_000_000 / u128::from(ifc.units_per_sec)).min(u128::from(u64::MAX)) as u64;
    let off = ifc.offset_secs.saturating_mul(1_000_000);
    let micros = if off >= 0 { micros.saturating_add(off as u64) } else { micros.saturating_sub(off.unsigned_abs()) };
    PacketTime(micros)
}

/// Iterator of owned packets; see [`CaptureReader::owned`].
pub struct OwnedPackets<'r> {
    reader: CaptureReader<'r>,
}

impl Iterator for OwnedPackets<'_> {
    type Item = Result<OwnedPacket, CaptureError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.reader.next_packet().map(|r| r.map(|p| p.to_owned()))
    }
}
