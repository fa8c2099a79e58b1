//! The Linux datapath: the edge where packets of the running device meet the
//! sans-IO sensor. It owns
//!
//! * [`rules`]: netward's own netfilter chains (IPv4 and IPv6), installed in
//!   one `iptables-restore` transaction per family, replaced when a killed
//!   run left them behind, removed on exit;
//! * [`queue`]: the NFQUEUE socket: queued packets in, a verdict (accept
//!   with a mark, or drop) out, with the fail-open flag;
//! * [`wake`]: waking the thread that blocks on the queue (ticks, stop
//!   signals) without a busy loop;
//! * [`sockets`]: listening sockets of the namespace, from `/proc/net`;
//! * [`ifname`]: interface names for the ifindexes of queued packets
//!   (where a forwarded flow came in), cached and bounded;
//! * [`icmp`]: an ICMP unreachable error about a SYN read as the reset it means.
//!
//! It knows nothing about names, policy or events: the agent (in the
//! `netward` binary) wires it to the sensor and the store.
//!
//! # How a flow is followed
//!
//! A connection's packets are queued from its SYN until the agent marks it:
//! `MARK_PASS` (saved into the connection's mark, so its later packets skip
//! the queue), `MARK_BLOCK` (the packet is rejected with a TCP reset towards
//! the sender, or dropped for UDP, and so is every later packet of the
//! connection) or `MARK_INSPECT` (keep queueing past the packet budget: a
//! plain-HTTP proxy connection, where every request may name another host).
//! A flow the agent never marks is queued for its first
//! [`RuleSpec::inspect_packets`] packets only (connbytes), so an unknown
//! protocol cannot keep the queue busy.

pub mod icmp;
pub mod ifname;
pub mod queue;
pub mod rules;
pub mod sockets;
pub mod wake;

pub use queue::{Hook, Packet, PacketQueue, QueueError};
pub use rules::{FailMode, Family, RuleError, RuleSpec, HANDSHAKE_UNQUEUED, SYN_UNQUEUED};

/// The connection-mark bits netward uses (and only these: other software's
/// marks in the other bits are left alone).
pub const MARK_MASK: u32 = 0x0007_0000;
/// Decided, nothing enforced: later packets bypass the queue.
pub const MARK_PASS: u32 = 0x0001_0000;
/// Blocked: this and every later packet is rejected (TCP reset) or dropped.
pub const MARK_BLOCK: u32 = 0x0002_0000;
/// Keep inspecting every packet (past the connbytes budget).
pub const MARK_INSPECT: u32 = 0x0004_0000;
