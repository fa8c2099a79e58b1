#![forbid(unsafe_code)]
//! Sans-IO wire inspection: TLS, HTTP/1, SOCKS, DNS and QUIC parsers and the flow
//! inspector that is fed the bytes of a flow and learns its real destination.
//!
//! No sockets, clocks or threads: the caller feeds bytes (TCP stream bytes already
//! reassembled in order, or UDP datagrams) and polls what was learned.
//!
//! ```
//! use netward_wire::{Direction, FlowInspector, FlowKind, Observation};
//!
//! let mut flow = FlowInspector::new(FlowKind::Tcp { dst_port: 3128 });
//! flow.feed(Direction::ToServer, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
//! flow.feed(Direction::ToClient, b"HTTP/1.1 200 Connection established\r\n\r\n");
//! // ... then the tunnelled ClientHello, in pieces of any size.
//! while let Some(obs) = flow.poll() {
//!     if let Observation::ProxyTunnel { target, status, .. } = obs {
//!         println!("tunnel to {target}: {status:?}");
//!     }
//! }
//! ```
//!
//! What the [`FlowInspector`] recognises, by content on any port (DNS by port 53):
//! - TLS ClientHello (SNI, ALPN, versions, JA3, JA4, ECH), reassembled across
//!   records and segments: [`Observation::TlsClientHello`].
//! - HTTP/1.x: every request head of a keep-alive connection
//!   ([`Observation::HttpRequest`]), absolute-URI proxy requests
//!   ([`Observation::HttpForward`]), `CONNECT` tunnels ([`Observation::ProxyTunnel`]).
//! - SOCKS4, SOCKS4a, SOCKS5 tunnels ([`Observation::ProxyTunnel`]).
//! - Inside a tunnel, the same again one layer deeper (`layer` field); a tunnelled
//!   SNI that differs from the tunnel's host name gives [`Observation::SniMismatch`]
//!   (names compared as `netward-canon` spells them).
//! - DNS over UDP and TCP ([`Observation::Dns`]); [`DnsCache`] turns answers into
//!   names for later flows that carry none.
//! - QUIC Initial packets: the ClientHello inside, decrypted (`transport: Quic`).
//!
//! Cost is bounded by the input, per flow (what an inline datapath pays for
//! each connection, whatever its peer sends). [`Work`] counts it as it goes
//! ([`FlowInspector::work`]) and the property tests hold it to at most
//! 8 units per byte fed plus 20,000 per flow:
//! - TCP: each byte fed is copied into a buffer at most once and moved at most
//!   once more; searches for message boundaries (HTTP head and line ends, the
//!   next request line) resume where they stopped, so a head fed one byte at a
//!   time is not searched again from its start; body bytes are skipped unseen.
//! - Memory: at most [`MAX_BUFFER`] bytes per direction and layer, plus a
//!   ClientHello of up to 64 KiB being reassembled, for at most
//!   [`MAX_DEPTH`] + 1 layers (about 1 MiB in the worst case; one partial
//!   message in practice). [`FlowInspector::buffered`] says what a flow holds,
//!   [`FlowInspector::give_up`] frees it (the sensor's budget across flows).
//! - HTTP: any number of headers in a head of up to 64 KiB; where framing is
//!   lost the client side resynchronises on the next request line
//!   ([`Observation::Resync`]) instead of stopping (see [`http`]).
//! - DNS over TCP: at most [`MAX_TCP_DNS_MESSAGES`] messages per direction.
//! - QUIC: at most [`quic::MAX_INITIALS`] client Initials decrypted and
//!   [`quic::MAX_CRYPTO_FRAMES`] CRYPTO frames reassembled (each `O(log 32)`
//!   range operations, only new bytes copied), 16 KiB of CRYPTO stream.
//! - [`DnsCache::record`] is linear in the message (CNAME chains resolved once
//!   per message).
//!
//! Past a bound, or on input it cannot parse, a layer reports
//! [`Observation::Unparsed`] and the flow is flagged lost
//! ([`FlowInspector::lost`]): nothing gives up quietly. Bad input never panics.
//!
//! Tunnel bytes: a CONNECT's following client bytes go into the tunnel unless the
//! proxy has already refused (a 407 lets the client retry on the same connection);
//! SOCKS has no retry, so client bytes after a CONNECT request always do. This works
//! when only the client direction is fed, too.

pub mod dns;
mod dns_cache;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
mod inspector;
mod layer;
mod observation;
pub mod quic;
mod reader;
pub mod socks;
mod step;
mod target;
#[doc(hidden)]
pub mod testing;
pub mod tls;
mod work;

pub use dns::{DnsAnswer, DnsData, DnsInfo};
pub use dns_cache::{DnsCache, DnsCacheConfig, InferredName};
pub use error::Error;
pub use inspector::{is_dns_port, FlowInspector, FlowKind};
pub use layer::{MAX_BUFFER, MAX_DEPTH, MAX_TCP_DNS_MESSAGES};
pub use observation::{Direction, HttpRequestInfo, Lost, Observation, Protocol, TunnelKind, TunnelStatus};
pub use target::{absolute_uri_target, Host, Target};
pub use tls::{ClientHello, ClientHelloInfo, Transport};
pub use work::Work;
