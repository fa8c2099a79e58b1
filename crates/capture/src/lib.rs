//! Packet captures: pcap/pcapng reading, link layers, IP defragmentation and
//! TCP reassembly. Feeds the flow inspector offline.
//!
//! Pipeline: [`CaptureReader`] (file → frames) → [`PacketDecoder`] (frame → IP
//! packet, fragments reassembled) → [`FlowTable`] (packets → ordered byte
//! streams per direction and connection outcomes, as [`CaptureEvent`]s).
//! [`Replayer`] runs the three over one or more files. Everything is sans-IO:
//! time comes from the packets, so a live agent can feed [`FlowTable`] too.

mod error;
mod reader;
mod time;

pub use error::{CaptureError, CaptureErrorKind, DecodeError};
pub use reader::{CaptureReader, LinkType, OwnedPacket, OwnedPackets, RawPacket, MAX_BLOCK};
pub use time::Timestamp;

mod decode;
mod defrag;
pub mod ip;
pub mod link;

pub use decode::{Decoded, IpPacket, PacketDecoder, Transport};
pub use defrag::{DefragConfig, DefragStats, Defragmenter, Reassembled};
mod event;
mod flow;
pub mod stream;

pub use event::{CaptureEvent, Direction, EndReason, FlowId, FlowKey, FlowStats, Outcome, Proto};
pub use flow::{FlowConfig, FlowTable, TableStats};
mod replay;

pub use replay::{ReplayStats, Replayer};
pub mod synth;

pub use synth::{generate, GenSpec, GenSummary};
