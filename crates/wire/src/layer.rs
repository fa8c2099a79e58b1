//! One protocol layer of a TCP flow: detection on the first client bytes, per
//! direction buffering (bounded), and the hand-over of tunnel bytes to the next layer
//! once a CONNECT or SOCKS request opened a tunnel.
//!
//! Bounds per layer: at most [`MAX_BUFFER`] bytes buffered per direction (plus
//! a ClientHello of up to 64 KiB being reassembled), at most
//! [`MAX_TCP_DNS_MESSAGES`] DNS messages per direction, tunnels followed
//! [`MAX_DEPTH`] deep. Each byte fed is copied into a buffer at most once and
//! moved at most once more (when the bytes before it are consumed), and a
//! buffer emptied of a large message gives its memory back.

use std::collections::VecDeque;

use crate::dns;
use crate::http::{looks_like_request, HttpConn, HttpEvent};
use crate::observation::{Direction, Observation, Protocol, TunnelKind, TunnelStatus};
use crate::socks::{SocksConn, SocksEvent};
use crate::step::Step;
use crate::target::Target;
use crate::tls::{ClientHelloAssembler, Progress};
use crate::Error;

/// Most bytes buffered per direction and layer (a ClientHello of 64 KiB plus headers).
pub const MAX_BUFFER: usize = 64 * 1024 + 64;
/// Tunnels inside tunnels are followed this deep.
pub const MAX_DEPTH: u8 = 4;
/// DNS messages read per direction of one TCP connection; past it the
/// connection is not followed (and flagged so).
pub const MAX_TCP_DNS_MESSAGES: usize = 256;
/// An empty buffer keeps at most this much memory.
const KEEP_CAPACITY: usize = 4096;

#[derive(Debug)]
enum Proto {
    /// Waiting for the first client bytes.
    Detect,
    Tls(ClientHelloAssembler),
    Http(HttpConn),
    Socks(SocksConn),
    Dns,
    /// Nothing more to learn on this layer.
    Done,
}

impl Proto {
    fn protocol(&self) -> Option<Protocol> {
        Some(match self {
            Proto::Tls(_) => Protocol::Tls,
            Proto::Http(_) => Protocol::Http,
            Proto::Socks(s) if s.is_v4() => Protocol::Socks4,
            Proto::Socks(_) => Protocol::Socks5,
            Proto::Dns => Protocol::Dns,
            Proto::Detect | Proto::Done => return None,
        })
    }
}

#[derive(Debug)]
pub(crate) struct Layer {
    depth: u8,
    proto: Proto,
    buf: [Vec<u8>; 2],
    /// Per direction: bytes now go to `inner`.
    routed: [bool; 2],
    inner: Option<Box<Layer>>,
    /// The tunnel this layer asked for (the last one, on a keep-alive connection).
    tunnel: Option<(TunnelKind, Target)>,
    /// The name this layer's tunnel was opened to, to compare with a TLS SNI.
    outer_name: Option<String>,
    /// The protocol of the layer carrying this one (to report a tunnel too deep).
    carrier: Option<Protocol>,
    dns_messages: [usize; 2],
    /// Work of this layer and of the parsers it has finished with.
    work: crate::Work,
}

impl Layer {
    pub(crate) fn new(depth: u8, dns: bool, outer_name: Option<String>, carrier: Option<Protocol>) -> Self {
        let proto = if depth > MAX_DEPTH {
            Proto::Done
        } else if dns {
            Proto::Dns
        } else {
            Proto::Detect
        };
        Layer {
            depth,
            proto,
            buf: [Vec::new(), Vec::new()],
            routed: [false; 2],
            inner: None,
            tunnel: None,
            outer_name,
            carrier,
            dns_messages: [0; 2],
            work: crate::Work::default(),
        }
    }

    /// A layer that skips detection (for fuzzing one parser at a time).
    pub(crate) fn forced(protocol: Protocol) -> Self {
        let mut l = Layer::new(0, protocol == Protocol::Dns, None, None);
        l.proto = match protocol {
            Protocol::Tls => Proto::Tls(ClientHelloAssembler::new()),
            Protocol::Http => Proto::Http(HttpConn::new(0)),
            Protocol::Socks4 => Proto::Socks(SocksConn::new(4)),
            Protocol::Socks5 => Proto::Socks(SocksConn::new(5)),
            Protocol::Dns => Proto::Dns,
            Protocol::Quic => Proto::Done,
        };
        l
    }

    /// True once nothing more can be learned from the client side of this flow.
    pub(crate) fn finished(&self) -> bool {
        if self.routed[0] {
            return self.inner.as_ref().is_none_or(|i| i.finished());
        }
        matches!(self.proto, Proto::Done)
    }

    /// The parser is done with: keep its work counts, drop it and the buffers.
    fn finish(&mut self) {
        match std::mem::replace(&mut self.proto, Proto::Done) {
            Proto::Http(h) => self.work.add(&h.work),
            Proto::Tls(a) => {
                self.work.bytes_copied += a.copied;
                self.work.messages += a.records;
            }
            _ => {}
        }
        self.buf = [Vec::new(), Vec::new()];
    }

    /// Stops following this layer and the ones inside it, freeing their memory.
    pub(crate) fn give_up(&mut self) {
        self.finish();
        self.routed = [false; 2];
        if let Some(i) = &mut self.inner {
            i.give_up();
        }
    }

    /// The protocol of this layer, or of the innermost layer it carries.
    pub(crate) fn protocol(&self) -> Option<Protocol> {
        match &self.inner {
            Some(i) if self.routed[0] => i.protocol().or(self.proto.protocol()),
            _ => self.proto.protocol(),
        }
    }

    /// Bytes this layer and the ones inside it hold.
    pub(crate) fn buffered(&self) -> usize {
        let asm = match &self.proto {
            Proto::Tls(a) => a.buffered(),
            _ => 0,
        };
        self.buf[0].capacity() + self.buf[1].capacity() + asm + self.inner.as_ref().map_or(0, |i| i.buffered())
    }

    pub(crate) fn feed(&mut self, dir: Direction, mut input: &[u8], out: &mut VecDeque<Observation>) {
        let d = dir.index();
        if self.depth > MAX_DEPTH && dir == Direction::ToServer && !input.is_empty() && self.carrier.is_some() {
            let protocol = self.carrier.take().unwrap_or(Protocol::Tls);
            let error = Error::invalid(0, "tunnels nested deeper than 4");
            out.push_back(Observation::Unparsed { protocol, error, layer: self.depth });
        }
        loop {
            if self.routed[d] {
                if !input.is_empty() {
                    self.inner_layer().feed(dir, input, out);
                }
                return;
            }
            if matches!(self.proto, Proto::Done) {
                self.finish();
                return;
            }
            // Body bytes need not be buffered to be skipped.
            if let (Proto::Http(h), true) = (&mut self.proto, self.buf[d].is_empty()) {
                let to_server = dir == Direction::ToServer;
                let n = input.len().min(usize::try_from(h.skippable(to_server)).unwrap_or(usize::MAX));
                if n > 0 {
                    h.skip(to_server, n as u64);
                    input = &input[n..];
                }
            }
            // A head being read ends only at a line end: bytes without one
            // are kept without running the parser (a head sent one byte per
            // segment costs an append per byte).
            if let Proto::Http(h) = &mut self.proto {
                let to_server = dir == Direction::ToServer;
                let held = self.buf[d].len();
                if held > 0 && held + input.len() < crate::http::MAX_HEAD && h.reading_head(to_server) {
                    h.work.bytes_scanned += input.len() as u64;
                    if !input.contains(&b'\n') {
                        self.buf[d].extend_from_slice(input);
                        self.work.bytes_copied += input.len() as u64;
                        return;
                    }
                }
            }
            let take = input.len().min(MAX_BUFFER - self.buf[d].len());
            self.buf[d].extend_from_slice(&input[..take]);
            self.work.bytes_copied += take as u64;
            input = &input[take..];
            self.pump(dir, out);
            if self.routed[d] || matches!(self.proto, Proto::Done) {
                continue;
            }
            if input.is_empty() {
                return;
            }
            if self.buf[d].len() >= MAX_BUFFER {
                let protocol = self.proto.protocol().unwrap_or(Protocol::Tls);
                let error = Error::invalid(0, "message larger than the inspection buffer");
                out.push_back(Observation::Unparsed { protocol, error, layer: self.depth });
                self.finish();
                return;
            }
        }
    }

    pub(crate) fn work(&self) -> crate::Work {
        let mut w = self.work;
        match &self.proto {
            Proto::Http(h) => w.add(&h.work),
            Proto::Tls(a) => {
                w.bytes_copied += a.copied;
                w.messages += a.records;
            }
            _ => {}
        }
        if let Some(i) = &self.inner {
            w.add(&i.work());
        }
        w
    }

    fn inner_layer(&mut self) -> &mut Layer {
        let depth = self.depth + 1;
        let name = self.tunnel.as_ref().and_then(|(_, t)| t.host.name().map(str::to_owned));
        let carrier = self.proto.protocol();
        self.inner.get_or_insert_with(|| Box::new(Layer::new(depth, false, name, carrier)))
    }

    /// Runs the parser over the buffered bytes of `dir`.
    fn pump(&mut self, dir: Direction, out: &mut VecDeque<Observation>) {
        let d = dir.index();
        let to_server = dir == Direction::ToServer;
        let mut pos = 0;
        loop {
            let data = &self.buf[d][pos..];
            if data.is_empty() {
                break;
            }
            if let Proto::Detect = self.proto {
                if !to_server {
                    pos = self.buf[d].len(); // a server speaking first is not what we look for
                    continue;
                }
                match detect(data, self.depth) {
                    None => break,
                    Some(p) => {
                        self.proto = p;
                        continue;
                    }
                }
            }
            let step = self.step(to_server, pos, out);
            match step {
                Ok(Step::Consumed(n)) if n > 0 => pos += n,
                Ok(Step::Consumed(_)) | Ok(Step::NeedMore) => break,
                Ok(Step::Tunnel(n)) => {
                    let rest = self.buf[d].split_off((pos + n).min(self.buf[d].len()));
                    self.work.bytes_copied += rest.len() as u64;
                    self.buf[d] = Vec::new();
                    self.routed[d] = true;
                    self.inner_layer().feed(dir, &rest, out);
                    return;
                }
                Ok(Step::Finished) if to_server => {
                    self.finish();
                    return;
                }
                Ok(Step::Finished) => {
                    pos = self.buf[d].len();
                    break;
                }
                Err(error) => {
                    if let Some(protocol) = self.proto.protocol() {
                        out.push_back(Observation::Unparsed { protocol, error, layer: self.depth });
                    }
                    self.finish();
                    return;
                }
            }
        }
        let cut = pos.min(self.buf[d].len());
        if cut > 0 {
            self.work.bytes_copied += (self.buf[d].len() - cut) as u64;
            self.buf[d].drain(..cut);
            if self.buf[d].is_empty() && self.buf[d].capacity() > KEEP_CAPACITY {
                self.buf[d] = Vec::new();
            }
        }
    }

    /// One parser step on `buf[dir][pos..]`, turning what it learned into observations.
    fn step(&mut self, to_server: bool, pos: usize, out: &mut VecDeque<Observation>) -> Result<Step, Error> {
        let layer = self.depth;
        let data = &self.buf[if to_server { 0 } else { 1 }][pos..];
        match &mut self.proto {
            Proto::Tls(asm) if to_server => match asm.step(data, layer) {
                Ok(Progress::Consumed(n)) => Ok(Step::Consumed(n)),
                Ok(Progress::Hello(info, _)) => {
                    let mismatch = match (&self.outer_name, &info.sni) {
                        (Some(outer), Some(sni)) if !same_name(outer, sni) => {
                            Some(Observation::SniMismatch { outer: outer.clone(), sni: sni.clone(), layer })
                        }
                        _ => None,
                    };
                    out.push_back(Observation::TlsClientHello(*info));
                    out.extend(mismatch);
                    Ok(Step::Finished)
                }
                Err(Error::Incomplete) => Ok(Step::NeedMore),
                Err(e) => Err(e),
            },
            Proto::Tls(_) => Ok(Step::Finished),
            Proto::Http(h) => {
                let mut ev = Vec::new();
                let step = if to_server { h.step_client(data, &mut ev) } else { h.step_server(data, &mut ev) };
                for e in ev {
                    self.http_event(e, out);
                }
                step
            }
            Proto::Socks(s) => {
                let mut ev = Vec::new();
                let step = if to_server { s.step_client(data, &mut ev) } else { s.step_server(data, &mut ev) };
                for e in ev {
                    self.socks_event(e, out);
                }
                step
            }
            Proto::Dns => {
                let d = usize::from(!to_server);
                if self.dns_messages[d] >= MAX_TCP_DNS_MESSAGES && data.len() >= 2 {
                    return Err(Error::invalid(0, "more than 256 DNS messages on one connection"));
                }
                let mut msgs = Vec::new();
                let step = dns::tcp_step(data, &mut msgs);
                self.dns_messages[d] += msgs.len();
                self.work.messages += msgs.len() as u64;
                out.extend(msgs.into_iter().map(Observation::Dns));
                step
            }
            Proto::Detect | Proto::Done => Ok(Step::Finished),
        }
    }

    fn http_event(&mut self, e: HttpEvent, out: &mut VecDeque<Observation>) {
        let layer = self.depth;
        match e {
            HttpEvent::Request(req) => {
                if let (Some(url), Some(target)) = (&req.absolute_uri, &req.target) {
                    out.push_back(Observation::HttpForward { target: target.clone(), url: url.clone(), layer });
                }
                let connect = req.connect_authority.is_some().then(|| req.target.clone()).flatten();
                out.push_back(Observation::HttpRequest(*req));
                if let Some(target) = connect {
                    self.tunnel = Some((TunnelKind::HttpConnect, target.clone()));
                    let status = TunnelStatus::Requested;
                    out.push_back(Observation::ProxyTunnel { kind: TunnelKind::HttpConnect, target, status, layer });
                }
            }
            HttpEvent::ConnectEstablished => self.tunnel_status(TunnelStatus::Established, out),
            HttpEvent::ConnectRefused(code) => self.tunnel_status(TunnelStatus::Refused { code }, out),
            HttpEvent::Upgraded => {}
            HttpEvent::Resync(reason) => {
                out.push_back(Observation::Resync { protocol: Protocol::Http, reason, layer });
            }
            HttpEvent::Lost(why) => {
                let error = Error::invalid(0, why);
                out.push_back(Observation::Unparsed { protocol: Protocol::Http, error, layer });
            }
        }
    }

    fn socks_event(&mut self, e: SocksEvent, out: &mut VecDeque<Observation>) {
        match e {
            SocksEvent::Request { kind, target, connect: _ } => {
                self.tunnel = Some((kind, target.clone()));
                let (status, layer) = (TunnelStatus::Requested, self.depth);
                out.push_back(Observation::ProxyTunnel { kind, target, status, layer });
            }
            SocksEvent::Reply(status) => self.tunnel_status(status, out),
        }
    }

    fn tunnel_status(&mut self, status: TunnelStatus, out: &mut VecDeque<Observation>) {
        if let Some((kind, target)) = &self.tunnel {
            out.push_back(Observation::ProxyTunnel { kind: *kind, target: target.clone(), status, layer: self.depth });
        }
    }
}

/// Protocol detection on the first client bytes; `None` while too few to tell.
fn detect(data: &[u8], depth: u8) -> Option<Proto> {
    match data {
        [0x16] | [0x04] | [0x05] => None,
        [0x16, 0x03, ..] => Some(Proto::Tls(ClientHelloAssembler::new())),
        [0x04, 1 | 2, ..] => Some(Proto::Socks(SocksConn::new(4))),
        [0x05, 1..=32, ..] => Some(Proto::Socks(SocksConn::new(5))),
        _ => match looks_like_request(data) {
            None => None,
            Some(true) => Some(Proto::Http(HttpConn::new(depth))),
            Some(false) => Some(Proto::Done),
        },
    }
}

/// Names compare as the canonicaliser spells them (case, trailing dot, IDN
/// and punycode, address spellings); a name it refuses compares as written.
fn same_name(a: &str, b: &str) -> bool {
    let canon = |n: &str| netward_canon::canonical_host(n).map(|h| h.host.to_string());
    match (canon(a), canon(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
