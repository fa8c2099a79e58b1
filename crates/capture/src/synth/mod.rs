//! Synthetic captures for tests and benchmarks: N flows of a stated mix of
//! direct TLS, HTTP CONNECT, proxy GETs on keep-alive connections, SOCKS5,
//! DNS, QUIC Initials and bulk HTTP transfers, written as a pcap (Ethernet).
//! Deterministic for a given [`GenSpec`] (its own PRNG; no clock).

pub mod packet;
pub mod pcap;
pub mod quic;
pub mod tls;

mod conv;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::{LinkType, PacketTime};

/// A small deterministic PRNG (SplitMix64): reproducible captures, no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

/// The kinds of flow the generator writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowKind {
    /// TLS straight to the server: ClientHello with SNI and ALPN.
    DirectTls,
    /// `CONNECT host:443` to the proxy, then TLS inside the tunnel.
    HttpConnect,
    /// Several absolute-URI requests (`GET http://host/...`) on one keep-alive
    /// proxy connection, each to another host.
    ProxyGet,
    /// SOCKS5 CONNECT by domain name, then TLS.
    Socks5,
    /// A DNS A query and its answer over UDP.
    Dns,
    /// A QUIC v1 client Initial (correctly protected, SNI inside) and a server Initial.
    Quic,
    /// Plain HTTP GET answered with `GenSpec::bulk_bytes` bytes.
    Bulk,
}

impl FlowKind {
    pub const ALL: [FlowKind; 7] = [
        FlowKind::DirectTls,
        FlowKind::HttpConnect,
        FlowKind::ProxyGet,
        FlowKind::Socks5,
        FlowKind::Dns,
        FlowKind::Quic,
        FlowKind::Bulk,
    ];
}

/// Relative weights of each kind in the mix (exact proportions over the flows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    pub direct_tls: u32,
    pub http_connect: u32,
    pub proxy_get: u32,
    pub socks5: u32,
    pub dns: u32,
    pub quic: u32,
    pub bulk: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix { direct_tls: 40, http_connect: 15, proxy_get: 10, socks5: 5, dns: 20, quic: 8, bulk: 2 }
    }
}

impl Mix {
    fn weight(&self, k: FlowKind) -> u32 {
        match k {
            FlowKind::DirectTls => self.direct_tls,
            FlowKind::HttpConnect => self.http_connect,
            FlowKind::ProxyGet => self.proxy_get,
            FlowKind::Socks5 => self.socks5,
            FlowKind::Dns => self.dns,
            FlowKind::Quic => self.quic,
            FlowKind::Bulk => self.bulk,
        }
    }

    /// The kind of flow number `i`: kinds interleaved, in exact proportion.
    fn kind(&self, i: usize) -> FlowKind {
        let total: u32 = FlowKind::ALL.iter().map(|k| self.weight(*k)).sum();
        if total == 0 {
            return FlowKind::DirectTls;
        }
        // Walk the weights with a stride coprime to most totals, so kinds mix.
        let slot = ((i as u64).wrapping_mul(7919) % u64::from(total)) as u32;
        let mut acc = 0;
        for k in FlowKind::ALL {
            acc += self.weight(k);
            if slot < acc {
                return k;
            }
        }
        FlowKind::DirectTls
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenSpec {
    pub flows: usize,
    pub mix: Mix,
    /// Response size of a bulk flow.
    pub bulk_bytes: usize,
    /// Requests on one keep-alive proxy connection.
    pub requests_per_proxy_conn: usize,
    /// Share of flows over IPv6, in percent.
    pub ipv6_percent: u8,
    pub seed: u64,
    /// Time of the first packet.
    pub start: PacketTime,
    /// Time between the starts of two flows, in microseconds.
    pub flow_spacing_us: u64,
    /// HTTP proxy address (CONNECT and absolute-URI requests).
    pub http_proxy: SocketAddr,
    /// SOCKS5 proxy address.
    pub socks_proxy: SocketAddr,
    /// DNS server.
    pub dns_server: SocketAddr,
    /// TCP maximum segment size.
    pub mss: usize,
}

impl Default for GenSpec {
    fn default() -> Self {
        GenSpec {
            flows: 100,
            mix: Mix::default(),
            bulk_bytes: 1024 * 1024,
            requests_per_proxy_conn: 3,
            ipv6_percent: 10,
            seed: 1,
            start: PacketTime::from_secs_micros(1_700_000_000, 0),
            flow_spacing_us: 2_000,
            http_proxy: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 3128),
            socks_proxy: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 1080),
            dns_server: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53)), 53),
            mss: 1460,
        }
    }
}

/// One generated flow: what an inspector should find in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenFlow {
    pub kind: FlowKind,
    pub client: SocketAddr,
    /// The address the packets go to (the proxy, for proxied kinds).
    pub server: SocketAddr,
    /// Destination names carried, in order (one per request for `ProxyGet`).
    pub names: Vec<String>,
    /// Payload bytes client → server and server → client.
    pub bytes_to_server: u64,
    pub bytes_to_client: u64,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct GenSummary {
    pub packets: u64,
    /// Bytes of the pcap file.
    pub file_bytes: u64,
    /// Transport payload bytes in all flows.
    pub payload_bytes: u64,
    pub flows: Vec<GenFlow>,
}

impl GenSummary {
    /// Flows of one kind.
    pub fn count(&self, kind: FlowKind) -> usize {
        self.flows.iter().filter(|f| f.kind == kind).count()
    }
}

const DOMAINS: [&str; 8] = [
    "example.com",
    "example.net",
    "example.org",
    "cdn.example.com",
    "api.example.net",
    "static.example.org",
    "login.example.com",
    "updates.example.net",
];

fn name(rng: &mut Rng) -> String {
    let base = DOMAINS[(rng.next_u64() % DOMAINS.len() as u64) as usize];
    format!("h{}.{}", rng.next_u64() % 100_000, base)
}

fn client_addr(i: usize, v6: bool) -> SocketAddr {
    let port = 32768 + (i % 28_000) as u16;
    let host = (i / 28_000) as u16 + 2;
    if v6 {
        SocketAddr::new(IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, host)), port)
    } else {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 1, (host >> 8) as u8, host as u8)), port)
    }
}

fn server_addr(rng: &mut Rng, v6: bool, port: u16) -> SocketAddr {
    let r = rng.next_u64();
    if v6 {
        SocketAddr::new(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, (r >> 16) as u16, r as u16)), port)
    } else {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 18, (r >> 8) as u8, r as u8)), port)
    }
}

/// Packets waiting to be written, earliest first (flows overlap in time).
struct Pending {
    heap: BinaryHeap<Reverse<(PacketTime, u64, Vec<u8>)>>,
    order: u64,
}

/// Write a synthetic capture described by `spec` to `w`.
pub fn generate(w: impl Write, spec: &GenSpec) -> io::Result<GenSummary> {
    let mut out = pcap::PcapWriter::new(io::BufWriter::new(w), LinkType::ETHERNET)?;
    let mut rng = Rng::new(spec.seed);
    let mut summary = GenSummary::default();
    let mut pending = Pending { heap: BinaryHeap::new(), order: 0 };
    for i in 0..spec.flows {
        let kind = spec.mix.kind(i);
        let v6 = (rng.next_u64() % 100) < u64::from(spec.ipv6_percent);
        let start = PacketTime(spec.start.0 + i as u64 * spec.flow_spacing_us);
        let (flow, packets) = conv::flow(&mut rng, spec, kind, client_addr(i, v6), v6, start);
        summary.payload_bytes += flow.bytes_to_server + flow.bytes_to_client;
        summary.flows.push(flow);
        for (ts, frame) in packets {
            pending.heap.push(Reverse((ts, pending.order, frame)));
            pending.order += 1;
        }
        // Everything before the next flow's start can be written now.
        let next_start = PacketTime(spec.start.0 + (i as u64 + 1) * spec.flow_spacing_us);
        while let Some(Reverse((ts, _, _))) = pending.heap.peek() {
            if *ts >= next_start {
                break;
            }
            if let Some(Reverse((ts, _, frame))) = pending.heap.pop() {
                out.packet(ts, &frame)?;
            }
        }
    }
    while let Some(Reverse((ts, _, frame))) = pending.heap.pop() {
        out.packet(ts, &frame)?;
    }
    summary.packets = out.packets();
    summary.file_bytes = out.bytes();
    out.into_inner().flush()?;
    Ok(summary)
}

/// Generate into memory.
pub fn generate_vec(spec: &GenSpec) -> (Vec<u8>, GenSummary) {
    let mut v = Vec::new();
    // Writing to a Vec cannot fail.
    let summary = generate(&mut v, spec).unwrap_or_default();
    (v, summary)
}
