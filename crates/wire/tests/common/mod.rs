//! Test-only capture reading: packets of a pcap/pcapng file (Ethernet, loopback,
//! Linux SLL, raw IP), TCP payloads put back in sequence order per direction (enough
//! for these clean captures), UDP payloads as they come. The product's reader lives
//! in netward-capture.
#![allow(dead_code)]

use netward_wire::testing::{alpn_ext, ext, handshake, sni_ext};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use netward_wire::{Direction, FlowInspector, FlowKind, Observation};
use pcap_parser::{create_reader, Block, PcapBlockOwned, PcapError};

pub fn testdata(rel: &str) -> String {
    format!("{}/../../testdata/{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[derive(Debug, Clone)]
pub struct Packet {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub udp: bool,
    pub seq: u32,
    pub syn: bool,
    pub ack: bool,
    pub payload: Vec<u8>,
}

pub fn read_packets(path: &str) -> Vec<Packet> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut reader = create_reader(1 << 20, file).expect("pcap reader");
    let mut linktypes = Vec::new();
    let mut out = Vec::new();
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => linktypes = vec![h.network.0],
                    PcapBlockOwned::Legacy(b) => out.extend(decode(linktypes[0], b.data)),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => linktypes.push(idb.linktype.0),
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let lt = linktypes[epb.if_id as usize];
                        out.extend(decode(lt, &epb.data[..epb.caplen as usize]));
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => out.extend(decode(linktypes[0], spb.data)),
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().expect("refill"),
            Err(e) => panic!("{path}: {e:?}"),
        }
    }
    out
}

fn decode(linktype: i32, d: &[u8]) -> Option<Packet> {
    let ip = match linktype {
        1 => {
            let (mut et, mut off) = (u16::from_be_bytes([d[12], d[13]]), 14);
            while et == 0x8100 || et == 0x88a8 {
                et = u16::from_be_bytes([d[off + 2], d[off + 3]]);
                off += 4;
            }
            if et != 0x0800 && et != 0x86dd {
                return None;
            }
            &d[off..]
        }
        0 | 108 => &d[4..],
        113 => &d[16..],
        276 => &d[20..],
        12 | 14 | 101 | 228 | 229 => d,
        _ => return None,
    };
    let (src, dst, proto, l4) = match ip.first()? >> 4 {
        4 => {
            let ihl = usize::from(ip[0] & 0xf) * 4;
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
            let s = IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]));
            let t = IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]));
            (s, t, ip[9], &ip[ihl..total])
        }
        6 => {
            let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
            let s: [u8; 16] = ip[8..24].try_into().ok()?;
            let t: [u8; 16] = ip[24..40].try_into().ok()?;
            let (mut nh, mut off) = (ip[6], 40);
            while matches!(nh, 0 | 43 | 60) {
                nh = ip[off];
                off += (usize::from(ip[off + 1]) + 1) * 8;
            }
            let end = (40 + plen).min(ip.len());
            (IpAddr::V6(Ipv6Addr::from(s)), IpAddr::V6(Ipv6Addr::from(t)), nh, &ip[off..end])
        }
        _ => return None,
    };
    let port = |i: usize| u16::from_be_bytes([l4[i], l4[i + 1]]);
    match proto {
        6 => {
            let hl = usize::from(l4[12] >> 4) * 4;
            Some(Packet {
                src: SocketAddr::new(src, port(0)),
                dst: SocketAddr::new(dst, port(2)),
                udp: false,
                seq: u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]),
                syn: l4[13] & 0x02 != 0,
                ack: l4[13] & 0x10 != 0,
                payload: l4[hl..].to_vec(),
            })
        }
        17 => Some(Packet {
            src: SocketAddr::new(src, port(0)),
            dst: SocketAddr::new(dst, port(2)),
            udp: true,
            seq: 0,
            syn: false,
            ack: false,
            payload: l4[8..].to_vec(),
        }),
        _ => None,
    }
}

/// One flow of a capture: its ends, the bytes fed (in order), what was observed.
#[derive(Debug)]
pub struct Flow {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub udp: bool,
    /// What was fed to the inspector, in capture order: stream pieces or datagrams.
    pub feeds: Vec<(Direction, Vec<u8>)>,
    pub observations: Vec<Observation>,
}

#[derive(Default)]
struct Dir {
    next: Option<u32>,
    pending: BTreeMap<u32, Vec<u8>>,
}

impl Dir {
    /// In-order bytes made available by this segment.
    fn push(&mut self, p: &Packet) -> Vec<u8> {
        if p.syn {
            self.next = Some(p.seq.wrapping_add(1));
            return Vec::new();
        }
        if p.payload.is_empty() {
            return Vec::new();
        }
        let next = *self.next.get_or_insert(p.seq);
        self.pending.insert(p.seq, p.payload.clone());
        let mut out = Vec::new();
        let mut next = next;
        while let Some((&seq, _)) = self.pending.iter().find(|(&s, d)| {
            let rel = s.wrapping_sub(next) as i32;
            rel <= 0 && (rel + d.len() as i32) > 0 || rel == 0
        }) {
            let data = self.pending.remove(&seq).unwrap_or_default();
            let skip = next.wrapping_sub(seq) as usize;
            out.extend_from_slice(&data[skip..]);
            next = next.wrapping_add((data.len() - skip) as u32);
            // Drop segments now wholly old.
            self.pending.retain(|&s, d| (s.wrapping_sub(next) as i32) + d.len() as i32 > 0);
        }
        self.next = Some(next);
        out
    }
}

/// Runs every flow of a capture through a `FlowInspector`, in capture order.
pub fn run_capture(path: &str) -> Vec<Flow> {
    let packets = read_packets(path);
    let mut index: HashMap<(bool, SocketAddr, SocketAddr), usize> = HashMap::new();
    let mut flows: Vec<(Flow, FlowInspector, [Dir; 2])> = Vec::new();
    for p in &packets {
        let key = (p.udp, p.src, p.dst);
        let rkey = (p.udp, p.dst, p.src);
        let (i, dir) = if let Some(&i) = index.get(&key) {
            (i, Direction::ToServer)
        } else if let Some(&i) = index.get(&rkey) {
            (i, Direction::ToClient)
        } else {
            // The first packet's sender is the client, unless it is a SYN-ACK.
            let reversed = p.syn && p.ack;
            let (client, server) = if reversed { (p.dst, p.src) } else { (p.src, p.dst) };
            let kind = if p.udp {
                FlowKind::Udp { dst_port: server.port() }
            } else {
                FlowKind::Tcp { dst_port: server.port() }
            };
            let flow = Flow { client, server, udp: p.udp, feeds: Vec::new(), observations: Vec::new() };
            flows.push((flow, FlowInspector::new(kind), [Dir::default(), Dir::default()]));
            index.insert((p.udp, client, server), flows.len() - 1);
            (flows.len() - 1, if reversed { Direction::ToClient } else { Direction::ToServer })
        };
        let (flow, insp, dirs) = &mut flows[i];
        let bytes =
            if p.udp { p.payload.clone() } else { dirs[if dir == Direction::ToServer { 0 } else { 1 }].push(p) };
        if bytes.is_empty() {
            continue;
        }
        insp.feed(dir, &bytes);
        flow.feeds.push((dir, bytes));
        while let Some(o) = insp.poll() {
            flow.observations.push(o);
        }
    }
    flows.into_iter().map(|(f, _, _)| f).collect()
}

/// Feeds `feeds` again, each piece cut in `chunk`-byte pieces, and returns what is observed.
pub fn refeed(flow: &Flow, chunk: usize) -> Vec<Observation> {
    let kind = if flow.udp {
        FlowKind::Udp { dst_port: flow.server.port() }
    } else {
        FlowKind::Tcp { dst_port: flow.server.port() }
    };
    let mut insp = FlowInspector::new(kind);
    let mut out = Vec::new();
    for (dir, bytes) in &flow.feeds {
        if flow.udp {
            insp.feed(*dir, bytes);
        } else {
            for piece in bytes.chunks(chunk.max(1)) {
                insp.feed(*dir, piece);
            }
        }
        while let Some(o) = insp.poll() {
            out.push(o);
        }
    }
    out
}

/// A TLS 1.3-style ClientHello handshake message (header included).
pub fn client_hello(sni: Option<&str>, alpn: &[&str], ech: bool) -> Vec<u8> {
    let mut exts = Vec::new();
    ext(&mut exts, 0x0a0a, &[]); // GREASE
    if let Some(name) = sni {
        sni_ext(&mut exts, name);
    }
    alpn_ext(&mut exts, alpn);
    ext(&mut exts, 0x000a, &[0, 4, 0x00, 0x1d, 0x00, 0x17]);
    ext(&mut exts, 0x000d, &[0, 4, 0x04, 0x03, 0x08, 0x04]);
    ext(&mut exts, 0x002b, &[4, 0x03, 0x04, 0x03, 0x03]);
    if ech {
        ext(&mut exts, 0xfe0d, &[0; 40]);
    }
    let mut body = vec![0x03, 0x03];
    body.extend([7u8; 32]);
    body.push(32);
    body.extend([9u8; 32]);
    body.extend([0, 6, 0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f]);
    body.extend([1, 0]);
    handshake(body, &exts)
}

#[allow(unused_imports)] // not every test binary wraps records
pub use netward_wire::testing::records;

/// Feeds `(direction, bytes)` pieces to a TCP inspector and collects what it observes.
pub fn inspect(dst_port: u16, pieces: &[(Direction, &[u8])]) -> Vec<Observation> {
    let mut insp = FlowInspector::new(FlowKind::Tcp { dst_port });
    let mut out = Vec::new();
    for (dir, bytes) in pieces {
        insp.feed(*dir, bytes);
        while let Some(o) = insp.poll() {
            out.push(o);
        }
    }
    out
}
