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
//!   (`name_source: dns`, every candidate in `dns_candidates`);
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
//!   each named destination whose verdict is audit, warn or block.
//!
//! Times come in with the calls; `ReportId`s are the edge's to assign.

mod fields;
mod flow;
mod sensor;

pub use flow::FlowMeta;
pub use sensor::{FlowDecision, PolicyContext, Sensor, SensorConfig, SensorStats};
