//! What the flow table reports: the event stream that the flow inspector reads.

use std::borrow::Cow;
use std::net::SocketAddr;

use crate::PacketTime;

/// Identifies one flow for its lifetime (unique within one [`FlowTable`](crate::FlowTable)).
pub type FlowId = u64;

/// Transport protocol of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

/// A flow's 5-tuple, oriented: `client` opened (or is taken to have opened) it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub proto: Proto,
    pub client: SocketAddr,
    pub server: SocketAddr,
}

/// Direction of bytes within a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    ToServer,
    ToClient,
}

/// How a connection went, in the `ActionType` vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// TCP: SYN, SYN-ACK and ACK seen, or data both ways, or the flow was
    /// already established when the capture began. UDP: both sides sent.
    ConnectionSuccess,
    /// TCP: the SYN was answered by a RST.
    ConnectionFailed,
    /// TCP: SYN without an answer. UDP: only one side sent.
    ConnectionAttempt,
}

impl Outcome {
    /// The `ActionType` string.
    pub fn action_type(self) -> &'static str {
        match self {
            Outcome::ConnectionSuccess => "ConnectionSuccess",
            Outcome::ConnectionFailed => "ConnectionFailed",
            Outcome::ConnectionAttempt => "ConnectionAttempt",
        }
    }
}

/// Why a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// Both sides sent FIN (and their data was delivered).
    Fin,
    /// A RST.
    Rst,
    /// No packet for the idle timeout.
    IdleTimeout,
    /// The TCP handshake did not complete within
    /// [`FlowConfig::tcp_setup_timeout`](crate::FlowConfig::tcp_setup_timeout).
    SetupTimeout,
    /// Dropped to make room for a new flow (the table was full).
    Evicted,
    /// A new connection (SYN with a new sequence number) reused the 5-tuple.
    PortReuse,
    /// The capture ended ([`FlowTable::finish`](crate::FlowTable::finish)).
    EndOfCapture,
}

/// Counters of one flow, reported when it ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub packets_to_server: u64,
    pub packets_to_client: u64,
    /// Payload bytes delivered in order (TCP) or sent (UDP).
    pub bytes_to_server: u64,
    pub bytes_to_client: u64,
    /// TCP bytes never delivered (lost, not captured, or given up on).
    pub gap_bytes_to_server: u64,
    pub gap_bytes_to_client: u64,
    /// A retransmission or overlap carried bytes that differ from the first copy.
    pub overlap_conflict: bool,
    /// The capture began after the connection was set up (no SYN seen).
    pub mid_stream: bool,
    pub first_ts: PacketTime,
    pub last_ts: PacketTime,
}

/// One event of the capture layer. Byte payloads are borrowed from the packet
/// when they can be (in-order data), owned otherwise; [`CaptureEvent::into_owned`]
/// detaches an event from the packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureEvent<'a> {
    /// A new flow. `mid_stream`: no SYN was seen (TCP).
    FlowStart { flow_id: FlowId, key: FlowKey, ts: PacketTime, mid_stream: bool },
    /// The connection is set up (TCP handshake done, or data both ways; UDP:
    /// both sides sent). The verdict point of network protection follows it.
    Established { flow_id: FlowId, ts: PacketTime },
    /// In-order TCP bytes of one direction, starting at stream `offset`.
    Data { flow_id: FlowId, dir: Direction, offset: u64, bytes: Cow<'a, [u8]>, ts: PacketTime },
    /// TCP bytes of one direction that will never be delivered: the stream
    /// continues at `offset + len`.
    Gap { flow_id: FlowId, dir: Direction, offset: u64, len: u64, ts: PacketTime },
    /// A retransmission/overlap whose bytes differ from the first copy (kept).
    OverlapConflict { flow_id: FlowId, dir: Direction, offset: u64, len: u64, ts: PacketTime },
    /// One UDP datagram.
    Datagram { flow_id: FlowId, key: FlowKey, dir: Direction, payload: Cow<'a, [u8]>, ts: PacketTime },
    /// The flow is over. `ts` is the time of its last packet.
    FlowEnd { flow_id: FlowId, key: FlowKey, ts: PacketTime, outcome: Outcome, reason: EndReason, stats: FlowStats },
}

impl CaptureEvent<'_> {
    /// The same event owning its bytes.
    pub fn into_owned(self) -> CaptureEvent<'static> {
        match self {
            CaptureEvent::FlowStart { flow_id, key, ts, mid_stream } => {
                CaptureEvent::FlowStart { flow_id, key, ts, mid_stream }
            }
            CaptureEvent::Established { flow_id, ts } => CaptureEvent::Established { flow_id, ts },
            CaptureEvent::Data { flow_id, dir, offset, bytes, ts } => {
                CaptureEvent::Data { flow_id, dir, offset, bytes: Cow::Owned(bytes.into_owned()), ts }
            }
            CaptureEvent::Gap { flow_id, dir, offset, len, ts } => CaptureEvent::Gap { flow_id, dir, offset, len, ts },
            CaptureEvent::OverlapConflict { flow_id, dir, offset, len, ts } => {
                CaptureEvent::OverlapConflict { flow_id, dir, offset, len, ts }
            }
            CaptureEvent::Datagram { flow_id, key, dir, payload, ts } => {
                CaptureEvent::Datagram { flow_id, key, dir, payload: Cow::Owned(payload.into_owned()), ts }
            }
            CaptureEvent::FlowEnd { flow_id, key, ts, outcome, reason, stats } => {
                CaptureEvent::FlowEnd { flow_id, key, ts, outcome, reason, stats }
            }
        }
    }

    /// The flow this event belongs to.
    pub fn flow_id(&self) -> FlowId {
        match self {
            CaptureEvent::FlowStart { flow_id, .. }
            | CaptureEvent::Established { flow_id, .. }
            | CaptureEvent::Data { flow_id, .. }
            | CaptureEvent::Gap { flow_id, .. }
            | CaptureEvent::OverlapConflict { flow_id, .. }
            | CaptureEvent::Datagram { flow_id, .. }
            | CaptureEvent::FlowEnd { flow_id, .. } => *flow_id,
        }
    }
}
