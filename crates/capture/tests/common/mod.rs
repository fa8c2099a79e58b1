//! Test helpers: collect events per flow, checking stream offsets as they come.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;

use netward_capture::synth::packet;
use netward_capture::{
    CaptureEvent, Decoded, Direction, EndReason, FlowId, FlowKey, FlowStats, FlowTable, Outcome, PacketDecoder,
    PacketTime,
};

#[derive(Debug, Default, Clone)]
pub struct FlowRec {
    pub key: Option<FlowKey>,
    pub mid_stream: bool,
    pub established: bool,
    pub to_server: Vec<u8>,
    pub to_client: Vec<u8>,
    /// Next stream offset expected per direction (data + gaps).
    pub next: [u64; 2],
    pub gaps: Vec<(Direction, u64, u64)>,
    pub conflicts: Vec<(Direction, u64, u64)>,
    pub datagrams: Vec<(Direction, Vec<u8>)>,
    pub end: Option<(Outcome, EndReason, FlowStats)>,
}

#[derive(Debug, Default)]
pub struct Collector {
    pub flows: BTreeMap<FlowId, FlowRec>,
}

fn di(d: Direction) -> usize {
    match d {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

impl Collector {
    pub fn push(&mut self, ev: CaptureEvent<'_>) {
        let id = ev.flow_id();
        match ev {
            CaptureEvent::FlowStart { key, mid_stream, .. } => {
                assert!(!self.flows.contains_key(&id), "flow {id} started twice");
                self.flows.insert(id, FlowRec { key: Some(key), mid_stream, ..Default::default() });
            }
            other => {
                let rec = self.flows.get_mut(&id).expect("event for a flow that never started");
                assert!(rec.end.is_none(), "event after FlowEnd: {other:?}");
                match other {
                    CaptureEvent::Established { .. } => {
                        assert!(!rec.established, "Established twice");
                        rec.established = true;
                    }
                    CaptureEvent::Data { dir, offset, bytes, .. } => {
                        assert_eq!(offset, rec.next[di(dir)], "data offset out of order");
                        rec.next[di(dir)] += bytes.len() as u64;
                        match dir {
                            Direction::ToServer => rec.to_server.extend_from_slice(&bytes),
                            Direction::ToClient => rec.to_client.extend_from_slice(&bytes),
                        }
                    }
                    CaptureEvent::Gap { dir, offset, len, .. } => {
                        assert_eq!(offset, rec.next[di(dir)], "gap offset out of order");
                        rec.next[di(dir)] += len;
                        rec.gaps.push((dir, offset, len));
                    }
                    CaptureEvent::OverlapConflict { dir, offset, len, .. } => rec.conflicts.push((dir, offset, len)),
                    CaptureEvent::Datagram { dir, payload, .. } => rec.datagrams.push((dir, payload.into_owned())),
                    CaptureEvent::FlowEnd { outcome, reason, stats, .. } => rec.end = Some((outcome, reason, stats)),
                    CaptureEvent::FlowStart { .. } => unreachable!(),
                }
            }
        }
    }

    pub fn only(&self) -> &FlowRec {
        assert_eq!(self.flows.len(), 1, "expected one flow: {:?}", self.flows.keys().collect::<Vec<_>>());
        self.flows.values().next().unwrap()
    }
}

/// Feed one IP packet (as bytes) to a table through a decoder.
pub fn feed(dec: &mut PacketDecoder, table: &mut FlowTable, ts: PacketTime, ip: &[u8], c: &mut Collector) {
    feed_heading(dec, table, ts, ip, None, c)
}

/// [`feed`] with the live datapath's hint of which way the packet goes.
pub fn feed_heading(
    dec: &mut PacketDecoder,
    table: &mut FlowTable,
    ts: PacketTime,
    ip: &[u8],
    heading: Option<netward_capture::Direction>,
    c: &mut Collector,
) {
    match dec.decode_ip(ts, ip).expect("decodes") {
        Decoded::Ip(p) => {
            table.process_heading(ts, &p, heading, &mut |e| c.push(e));
        }
        Decoded::FragmentHeld | Decoded::NotIp(_) => {}
    }
}

pub fn addr(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A TCP packet as IP bytes.
#[allow(clippy::too_many_arguments)]
pub fn tcp_ip(src: &str, sport: u16, dst: &str, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let (s, d) = (addr(src), addr(dst));
    packet::ip(s, d, 6, &packet::tcp(s, d, sport, dport, seq, ack, flags, payload))
}

pub fn udp_ip(src: &str, sport: u16, dst: &str, dport: u16, payload: &[u8]) -> Vec<u8> {
    let (s, d) = (addr(src), addr(dst));
    packet::ip(s, d, 17, &packet::udp(s, d, sport, dport, payload))
}

pub fn ts(ms: u64) -> PacketTime {
    PacketTime(1_700_000_000_000_000 + ms * 1000)
}

pub fn testdata(rel: &str) -> String {
    format!("{}/../../testdata/{rel}", env!("CARGO_MANIFEST_DIR"))
}
