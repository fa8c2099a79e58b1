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
//!   SNI that differs from the tunnel's host name gives [`Observation::SniMismatch`].
//! - DNS over UDP and TCP ([`Observation::Dns`]); [`DnsCache`] turns answers into
//!   names for later flows that carry none.
//! - QUIC Initial packets: the ClientHello inside, decrypted (`transport: Quic`).
//!
//! Memory is bounded per flow: at most [`MAX_BUFFER`] bytes per direction and layer
//! (64 KiB for a ClientHello, 16 KiB for an HTTP head); past a cap the layer reports
//! [`Observation::Unparsed`] and stops. Bad input never panics.
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
pub mod tls;

pub use dns::{DnsAnswer, DnsData, DnsInfo};
pub use dns_cache::{DnsCache, DnsCacheConfig, InferredName};
pub use error::Error;
pub use inspector::{FlowInspector, FlowKind};
pub use layer::MAX_BUFFER;
pub use observation::{Direction, HttpRequestInfo, Observation, Protocol, TunnelKind, TunnelStatus};
pub use target::{absolute_uri_target, Host, Target};
pub use tls::{ClientHello, ClientHelloInfo, Transport};
