//! One generated conversation: TCP handshake, data in MSS-sized segments with
//! ACKs, FIN close; or UDP datagrams. And the content of each flow kind.

use std::net::SocketAddr;

use super::packet::{self, flags};
use super::tls::{self, HelloFor};
use super::{name, quic, server_addr, FlowKind, GenFlow, GenSpec, Rng};
use crate::PacketTime;

/// Round-trip time of generated connections, microseconds.
const RTT_US: u64 = 10_000;
/// Time between back-to-back segments, microseconds.
const SEG_US: u64 = 20;

pub(super) struct Conv {
    client: SocketAddr,
    server: SocketAddr,
    cseq: u32,
    sseq: u32,
    t: PacketTime,
    mss: usize,
    packets: Vec<(PacketTime, Vec<u8>)>,
    to_server: u64,
    to_client: u64,
}

impl Conv {
    fn new(rng: &mut Rng, client: SocketAddr, server: SocketAddr, t: PacketTime, mss: usize) -> Self {
        Conv {
            client,
            server,
            cseq: rng.next_u64() as u32,
            sseq: rng.next_u64() as u32,
            t,
            mss: mss.max(1),
            packets: Vec::new(),
            to_server: 0,
            to_client: 0,
        }
    }

    fn tcp(&mut self, to_server: bool, fl: u8, payload: &[u8]) {
        let (s, d, seq, ack) = if to_server {
            (self.client, self.server, self.cseq, self.sseq)
        } else {
            (self.server, self.client, self.sseq, self.cseq)
        };
        let ack = if fl & flags::ACK != 0 { ack } else { 0 };
        let seg = packet::tcp(s.ip(), d.ip(), s.port(), d.port(), seq, ack, fl, payload);
        let ip = packet::ip(s.ip(), d.ip(), 6, &seg);
        self.packets.push((self.t, packet::ethernet(&ip)));
        let adv = payload.len() as u32 + u32::from(fl & (flags::SYN | flags::FIN) != 0);
        if to_server {
            self.cseq = self.cseq.wrapping_add(adv);
        } else {
            self.sseq = self.sseq.wrapping_add(adv);
        }
    }

    fn handshake(&mut self) {
        self.tcp(true, flags::SYN, &[]);
        self.t = self.t.plus_us(RTT_US / 2);
        self.tcp(false, flags::SYN | flags::ACK, &[]);
        self.t = self.t.plus_us(RTT_US / 2);
        self.tcp(true, flags::ACK, &[]);
        self.t = self.t.plus_us(SEG_US);
    }

    /// Send `data` one way in MSS segments; the peer ACKs every other segment.
    fn send(&mut self, to_server: bool, data: &[u8]) {
        let chunks: Vec<&[u8]> = data.chunks(self.mss).collect();
        let n = chunks.len();
        for (i, c) in chunks.into_iter().enumerate() {
            let last = i + 1 == n;
            self.tcp(to_server, flags::ACK | if last { flags::PSH } else { 0 }, c);
            self.t = self.t.plus_us(SEG_US);
            if i % 2 == 1 || last {
                self.tcp(!to_server, flags::ACK, &[]);
            }
        }
        if to_server {
            self.to_server += data.len() as u64;
        } else {
            self.to_client += data.len() as u64;
        }
        self.t = self.t.plus_us(RTT_US / 2);
    }

    fn close(&mut self) {
        self.tcp(true, flags::FIN | flags::ACK, &[]);
        self.t = self.t.plus_us(RTT_US / 2);
        self.tcp(false, flags::FIN | flags::ACK, &[]);
        self.t = self.t.plus_us(RTT_US / 2);
        self.tcp(true, flags::ACK, &[]);
    }

    fn udp(&mut self, to_server: bool, payload: &[u8]) {
        let (s, d) = if to_server { (self.client, self.server) } else { (self.server, self.client) };
        let u = packet::udp(s.ip(), d.ip(), s.port(), d.port(), payload);
        let ip = packet::ip(s.ip(), d.ip(), 17, &u);
        self.packets.push((self.t, packet::ethernet(&ip)));
        if to_server {
            self.to_server += payload.len() as u64;
        } else {
            self.to_client += payload.len() as u64;
        }
        self.t = self.t.plus_us(RTT_US / 2);
    }

    fn finish(self, kind: FlowKind, names: Vec<String>) -> (GenFlow, Vec<(PacketTime, Vec<u8>)>) {
        let flow = GenFlow {
            kind,
            client: self.client,
            server: self.server,
            names,
            bytes_to_server: self.to_server,
            bytes_to_client: self.to_client,
        };
        (flow, self.packets)
    }
}

/// TLS inside an established connection: hello, server flight, a request and
/// a response of `response` bytes.
fn tls_session(rng: &mut Rng, c: &mut Conv, host: &str, response: usize) {
    let alpn: &[&str] = if rng.next_u64().is_multiple_of(4) { &["http/1.1"] } else { &["h2", "http/1.1"] };
    c.send(true, &tls::client_hello(rng, host, alpn, HelloFor::Tcp));
    c.send(false, &tls::server_flight(rng));
    let mut fin = tls::record(0x14, 0x0303, &[1]);
    fin.extend_from_slice(&tls::app_data(rng, 53));
    c.send(true, &fin);
    let req = 200 + (rng.next_u64() % 300) as usize;
    c.send(true, &tls::app_data(rng, req));
    c.send(false, &tls::app_data(rng, response));
}

fn dns_name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

/// Generate one flow of `kind` starting at `start`.
pub(super) fn flow(
    rng: &mut Rng,
    spec: &GenSpec,
    kind: FlowKind,
    client: SocketAddr,
    v6: bool,
    start: PacketTime,
) -> (GenFlow, Vec<(PacketTime, Vec<u8>)>) {
    // Proxies and the DNS server are IPv4 in the spec; keep a flow in one family.
    let family = |a: SocketAddr| if v6 { mapped(a) } else { a };
    match kind {
        FlowKind::DirectTls => {
            let host = name(rng);
            let server = server_addr(rng, v6, 443);
            let mut c = Conv::new(rng, client, server, start, spec.mss);
            c.handshake();
            let resp = 2_000 + (rng.next_u64() % 30_000) as usize;
            tls_session(rng, &mut c, &host, resp);
            c.close();
            c.finish(kind, vec![host])
        }
        FlowKind::HttpConnect => {
            let host = name(rng);
            let mut c = Conv::new(rng, client, family(spec.http_proxy), start, spec.mss);
            c.handshake();
            let req = format!(
                "CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nProxy-Connection: keep-alive\r\n\r\n"
            );
            c.send(true, req.as_bytes());
            c.send(false, b"HTTP/1.1 200 Connection established\r\n\r\n");
            let resp = 2_000 + (rng.next_u64() % 30_000) as usize;
            tls_session(rng, &mut c, &host, resp);
            c.close();
            c.finish(kind, vec![host])
        }
        FlowKind::ProxyGet => {
            let mut c = Conv::new(rng, client, family(spec.http_proxy), start, spec.mss);
            c.handshake();
            let mut names = Vec::new();
            for r in 0..spec.requests_per_proxy_conn.max(1) {
                let host = name(rng);
                let req = format!(
                    "GET http://{host}/page/{r}?q={} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nProxy-Connection: Keep-Alive\r\n\r\n",
                    rng.next_u64() % 1000
                );
                c.send(true, req.as_bytes());
                let body_len = 500 + (rng.next_u64() % 5_000) as usize;
                let mut resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {body_len}\r\nVia: 1.1 proxy\r\n\r\n"
                )
                .into_bytes();
                resp.extend(std::iter::repeat_n(b'x', body_len));
                c.send(false, &resp);
                names.push(host);
            }
            c.close();
            c.finish(kind, names)
        }
        FlowKind::Socks5 => {
            let host = name(rng);
            let mut c = Conv::new(rng, client, family(spec.socks_proxy), start, spec.mss);
            c.handshake();
            c.send(true, &[5, 1, 0]);
            c.send(false, &[5, 0]);
            let mut req = vec![5, 1, 0, 3, host.len() as u8];
            req.extend_from_slice(host.as_bytes());
            req.extend_from_slice(&443u16.to_be_bytes());
            c.send(true, &req);
            c.send(false, &[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
            let resp = 2_000 + (rng.next_u64() % 30_000) as usize;
            tls_session(rng, &mut c, &host, resp);
            c.close();
            c.finish(kind, vec![host])
        }
        FlowKind::Dns => {
            let host = name(rng);
            let mut c = Conv::new(rng, client, family(spec.dns_server), start, spec.mss);
            let id = (rng.next_u64() as u16).to_be_bytes();
            let mut q = Vec::new();
            q.extend_from_slice(&id);
            q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
            dns_name(&mut q, &host);
            q.extend_from_slice(&[0, 1, 0, 1]);
            c.udp(true, &q);
            let mut a = q.clone();
            a[2] = 0x81;
            a[3] = 0x80;
            a[7] = 1; // ANCOUNT
            a.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4]);
            let r = rng.next_u64();
            a.extend_from_slice(&[198, 18, (r >> 8) as u8, r as u8]);
            c.udp(false, &a);
            c.finish(kind, vec![host])
        }
        FlowKind::Quic => {
            let host = name(rng);
            let server = server_addr(rng, v6, 443);
            let mut c = Conv::new(rng, client, server, start, spec.mss);
            let dcid = rng.bytes(8);
            let scid = rng.bytes(8);
            let hello = tls::client_hello(rng, &host, &["h3"], HelloFor::Quic);
            c.udp(true, &quic::initial_packet(&dcid, &dcid, &scid, 0, &hello, true));
            let server_cid = rng.bytes(8);
            let sh = rng.bytes(90);
            c.udp(false, &quic::initial_packet(&dcid, &scid, &server_cid, 0, &sh, false));
            c.finish(kind, vec![host])
        }
        FlowKind::Bulk => {
            let host = name(rng);
            let server = server_addr(rng, v6, 80);
            let mut c = Conv::new(rng, client, server, start, spec.mss);
            c.handshake();
            let req = format!(
                "GET /download/file.bin HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Wget/1.21\r\nAccept: */*\r\n\r\n"
            );
            c.send(true, req.as_bytes());
            let mut resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
                spec.bulk_bytes
            )
            .into_bytes();
            resp.extend_from_slice(&rng.bytes(spec.bulk_bytes));
            c.send(false, &resp);
            c.close();
            c.finish(kind, vec![host])
        }
    }
}

/// The IPv6 twin of an IPv4 service address (fd00:0:0:ff::a.b.c.d), for
/// IPv6 clients.
fn mapped(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V4(v4) => {
            let o = v4.ip().octets();
            let ip = std::net::Ipv6Addr::new(
                0xfd00,
                0,
                0,
                0xff,
                0,
                0,
                u16::from_be_bytes([o[0], o[1]]),
                u16::from_be_bytes([o[2], o[3]]),
            );
            SocketAddr::new(std::net::IpAddr::V6(ip), v4.port())
        }
        v6 => v6,
    }
}
