//! What the inspector tells its caller: one [`Observation`] per fact learned.

use crate::dns::DnsInfo;
use crate::target::Target;
use crate::tls::ClientHelloInfo;
use crate::Error;

/// Direction of bytes within a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to server (the connection's originator sends).
    ToServer,
    /// Server to client.
    ToClient,
}

impl Direction {
    pub(crate) fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }
}

/// Protocols the inspector recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tls,
    Http,
    Socks4,
    Socks5,
    Dns,
    Quic,
}

/// How a tunnel was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    /// HTTP `CONNECT host:port`.
    HttpConnect,
    Socks4,
    /// SOCKS4a: SOCKS4 with a host name instead of an address.
    Socks4a,
    Socks5,
}

/// Where a tunnel request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TunnelStatus {
    /// The client asked; the proxy has not answered (yet, or we do not see its side).
    Requested,
    /// The proxy answered with success (HTTP 2xx, SOCKS granted).
    Established,
    /// The proxy refused; `code` is the HTTP status or SOCKS reply code.
    Refused { code: u16 },
}

/// One HTTP/1.x request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequestInfo {
    pub method: String,
    /// Host header.
    pub host: Option<String>,
    /// Request target as sent (origin-form path, absolute URI, or CONNECT authority).
    pub uri: String,
    /// The request target when it is an absolute URI (proxy form).
    pub absolute_uri: Option<String>,
    /// The authority of a CONNECT request.
    pub connect_authority: Option<String>,
    pub user_agent: Option<String>,
    /// "1.0" or "1.1".
    pub version: String,
    /// The destination this request names: CONNECT authority, absolute URI authority,
    /// else the Host header (port 80 by default).
    pub target: Option<Target>,
    pub layer: u8,
}

/// A fact learned from a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// A TLS ClientHello, over TCP or in a QUIC Initial (`info.transport`).
    TlsClientHello(ClientHelloInfo),
    /// An HTTP/1.x request head (every request of a keep-alive connection).
    HttpRequest(HttpRequestInfo),
    /// A request in absolute-URI form: the connection is to a forward proxy that
    /// fetches `url` from `target` on the client's behalf.
    HttpForward { target: Target, url: String, layer: u8 },
    /// A proxy tunnel was requested, established or refused.
    ProxyTunnel { kind: TunnelKind, target: Target, status: TunnelStatus, layer: u8 },
    /// The TLS SNI inside a tunnel differs from the name the tunnel was opened to
    /// (the CONNECT authority or SOCKS host name): domain fronting or a misdirected
    /// tunnel.
    SniMismatch { outer: String, sni: String, layer: u8 },
    /// A DNS query or response.
    Dns(DnsInfo),
    /// The inspector could not follow this layer past this point (malformed
    /// input or a size cap): a destination may have gone unnamed, and the flow
    /// is flagged ([`crate::FlowInspector::lost`]). HTTP reads on from the next
    /// request line; every other protocol learns nothing more from the layer.
    Unparsed { protocol: Protocol, error: Error, layer: u8 },
    /// The message framing was lost (`reason`: bytes that are not a request, a
    /// body whose length cannot be known, a head too large) and the inspector
    /// skips to the next message start (HTTP: the next request line).
    Resync { protocol: Protocol, reason: &'static str, layer: u8 },
}

/// Why a flow can no longer be followed: the first [`Observation::Unparsed`]
/// of a TCP layer or of QUIC, or the caller's [`crate::FlowInspector::give_up`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lost {
    pub protocol: Protocol,
    pub reason: &'static str,
    pub layer: u8,
}

impl Protocol {
    /// Lower-case name: `tls`, `http`, `socks4`, `socks5`, `dns`, `quic`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tls => "tls",
            Protocol::Http => "http",
            Protocol::Socks4 => "socks4",
            Protocol::Socks5 => "socks5",
            Protocol::Dns => "dns",
            Protocol::Quic => "quic",
        }
    }
}
