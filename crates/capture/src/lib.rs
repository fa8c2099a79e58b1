#![forbid(unsafe_code)]
//! Packet captures: pcap/pcapng reading, link layers, IP defragmentation and
//! TCP reassembly. Feeds the flow inspector offline.
//!
//! Pipeline: [`CaptureReader`] (file → frames) → [`PacketDecoder`] (frame → IP
//! packet, fragments reassembled) → [`FlowTable`] (packets → ordered byte
//! streams per direction and connection outcomes, as [`CaptureEvent`]s).
//! [`Replayer`] runs the three over one or more files. Everything is sans-IO:
//! time comes from the packets, so a live agent can feed [`FlowTable`] too.
//! [`synth`] writes synthetic captures for tests and benchmarks.

mod decode;
mod defrag;
mod error;
mod event;
mod flow;
pub mod ip;
pub mod link;
mod reader;
mod replay;
pub mod stream;
pub mod synth;
mod time;

pub use decode::{Decoded, IpPacket, PacketDecoder, Transport};
pub use defrag::{DefragConfig, DefragStats, Defragmenter, Reassembled};
pub use error::{CaptureError, CaptureErrorKind, DecodeError};
pub use event::{CaptureEvent, Direction, EndReason, FlowId, FlowKey, FlowStats, Outcome, Proto};
pub use flow::{FlowConfig, FlowTable, TableStats};
pub use reader::{CaptureReader, LinkType, OwnedPacket, OwnedPackets, RawPacket, MAX_BLOCK};
pub use replay::{ReplayStats, Replayer};
pub use synth::{generate, GenSpec, GenSummary};
pub use time::PacketTime;
