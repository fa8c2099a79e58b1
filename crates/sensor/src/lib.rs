#![forbid(unsafe_code)]
//! The sensor: the sans-IO heart shared by the live agent and `netward
//! replay`. It is told about flows (start, established, bytes each way,
//! end) with their times, drives one [`netward_wire::FlowInspector`] per
//! flow, names each destination through the one canonicaliser, asks the
//! policy for a verdict, and emits `DeviceNetworkEvents` rows.
//!
//! What it emits, per flow (the contract replay and the agent share):
//! * one connection event — `ConnectionSuccess`, `ConnectionFailed` or
//!   `ConnectionAttempt` — timestamped when the connection was set up (or
//!   began), emitted as soon as the flow's first name is known (or at its
//!   end), with `RemoteUrl` = that name: the SNI, Host, `CONNECT` target or
//!   SOCKS target of the outer layer, else a name inferred from DNS answers
//!   (`name_source: dns`, every candidate in `dns_candidates`) — for a flow
//!   the inspector is done with that named nothing, as soon as it is done,
//!   and that name is judged then, before a datapath lets the flow pass;
//! * `SslConnectionInspected` per ClientHello (TCP or QUIC, any tunnel
//!   depth), `HttpConnectionInspected` per request head,
//!   `DnsConnectionInspected` per DNS response — all with the connection's
//!   own addresses and `RemoteUrl` = the canonical name;
//! * for each target reached through a proxy (a `CONNECT` or SOCKS tunnel
//!   the proxy accepted, or a proxy-form request), one `ConnectionSuccess`
//!   for the target itself: `RemoteUrl` = target, `RemoteIP` = its address
//!   when known (an address literal), else `""`, the proxy in
//!   `AdditionalFields.proxy`;
//! * with a policy, `ExploitGuardNetworkProtectionAudited`/`Blocked` for
//!   each named destination whose verdict is audit, warn or block; each
//!   destination is judged once per flow under its canonical spelling
//!   (`netward-canon`: two spellings of one URL are one verdict);
//! * a flow the inspector cannot follow (input it cannot parse or a size cap,
//!   tunnels nested too deep, the buffer budget) is flagged: one inspected
//!   event of the layer's kind (`Ssl` for TLS and QUIC, `Dns`, else `Http`)
//!   with `AdditionalFields.inspection = "lost"` and `inspection_reason`,
//!   and the same two fields on the flow's later events (its connection
//!   event if not out yet). With [`SensorConfig::unfollowable`] =
//!   [`Unfollowable::Block`] the policy's level decides: `block` blocks the
//!   flow ([`Sensor::decision`] is [`FlowDecision::Block`], a `Blocked`
//!   event), `audit` records an `Audited` event. The default is
//!   [`Unfollowable::Allow`].
//! * a flow the datapath stops showing before it was decided (its packet
//!   budget spent, [`Sensor::give_up`]) is flagged the same way, with the
//!   datapath's reason.
//! * an HTTP request read after lost framing (garbage between requests, a
//!   body of unknown length) carries `AdditionalFields.resync` = why.
//!
//! DNS answers are learned only from the server's side of a flow (bytes
//! `ToClient`): a client cannot teach the cache names for its own
//! connections. A `flow_start` for an id still live ends that flow first.
//!
//! Bounds, whatever the peers send (see `netward-wire` for the inspector's):
//! per flow, at most [`SensorConfig::max_keys_per_flow`] judged destinations
//! and as many reported targets are remembered (the oldest forgotten past
//! it, counted in [`SensorStats::key_evictions`]); across flows, the bytes
//! all inspectors buffer stay within [`SensorConfig::max_buffered_bytes`]
//! after every call (the flows holding the most are given up first, counted
//! in [`SensorStats::buffer_evictions`]); the DNS cache is bounded by its
//! config; [`SensorStats::work`] counts the inspectors' work.
//!
//! Times come in with the calls; `ReportId`s are the edge's to assign.

mod fields;
mod flow;
#[doc(hidden)]
pub mod fuzzing;
mod sensor;

pub use flow::{FlowMeta, FlowOrigin};
pub use sensor::{FlowDecision, PolicyContext, Sensor, SensorConfig, SensorStats, Unfollowable};
