//! Random sequences of flow calls, shared by the property tests
//! (`tests/props.rs`) and the cargo-fuzz target (`fuzz/`): bytes decode into
//! calls of the sensor's API, and the sensor's invariants are checked after
//! every call (a violation panics, which both report). Not part of the API.

use crate::{FlowDecision, FlowMeta, PolicyContext, Sensor, SensorConfig, SensorStats, Unfollowable};
use netward_events::{ActionType, NetworkEvent, Protocol, Timestamp};
use netward_wire::testing::{self, Rdata};
use netward_wire::Direction;
use std::collections::HashMap;
use std::net::SocketAddr;

/// Flow ids the calls pick from (few, so they meet again).
const IDS: u64 = 8;
const PORTS: [u16; 7] = [443, 80, 3128, 53, 1080, 22, 8080];

/// A small config, so that every bound is reached.
pub fn config() -> SensorConfig {
    SensorConfig {
        max_flows: 6,
        max_buffered_bytes: 96 * 1024,
        max_keys_per_flow: 8,
        unfollowable: Unfollowable::Block,
        ..Default::default()
    }
}

/// A policy blocking `blocked.example` at `level` (the seeds name it).
pub fn block_policy(level: netward_policy::EnforcementLevel) -> PolicyContext {
    use netward_policy::hash::Seed;
    use netward_policy::segment::SegmentBuilder;
    use netward_policy::{Action, IndicatorType, Matcher, Origin, Target};
    let mut b = SegmentBuilder::new(Seed::FIXED, "custom", Origin::Custom);
    if let Ok(t) = Target::parse(IndicatorType::Domain, "blocked.example") {
        b.add(&t, Action::Block, None);
    }
    PolicyContext::new(std::sync::Arc::new(Matcher::new(Seed::FIXED, vec![std::sync::Arc::new(b.build())])), level)
}

/// Payloads that steer flows into each parser, so random calls go deep.
fn seeds() -> Vec<Vec<u8>> {
    let hello = testing::client_hello("seed.example", &["h2"], 0);
    let mut big = vec![1, 0x00, 0xea, 0x60];
    big.resize(16384, 0x41);
    vec![
        testing::records(&hello, 16384),
        testing::records(&hello, 40),
        b"CONNECT seed.example:443 HTTP/1.1\r\nHost: seed.example\r\n\r\n".to_vec(),
        b"CONNECT 192.0.2.1:443 HTTP/1.1\r\n\r\n".to_vec(),
        b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec(),
        b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n".to_vec(),
        testing::proxy_get("http://seed.example/a", "seed.example", 3),
        testing::proxy_get("http://Blocked.Example/", "blocked.example", 0),
        testing::proxy_post_chunked("http://seed.example/up", "seed.example", 30, 3),
        b"\x00\x01 garbage\r\n".to_vec(),
        b"POST http://x.example/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(),
        testing::dns_response(1, "seed.example", &[("seed.example", 60, Rdata::A([192, 0, 2, 1]))]),
        testing::tcp_framed(&testing::dns_query(2, "q.example")),
        testing::quic_ordinary("quic.example", 1800).remove(0),
        testing::quic_tiny_frames(1).remove(0),
        vec![5, 1, 0],
        vec![5, 1, 0, 3, 12, b'b', b'l', b'o', b'c', b'k', b'e', b'd', b'.', b'e', b'x', b'a', b'm', 1, 187],
        vec![5, 0],
        vec![5, 0, 0, 1, 0, 0, 0, 0, 0, 0],
        testing::records(&big, 16384),
    ]
}

/// The sensor and what the calls so far imply it must hold.
pub struct Driver {
    pub sensor: Sensor,
    config: SensorConfig,
    seeds: Vec<Vec<u8>>,
    /// Live flows (followed by the sensor): their connection events so far.
    live: HashMap<u64, usize>,
    clock: i64,
    pub calls: u64,
}

fn meta(id: u64, udp: bool, port: u16) -> FlowMeta {
    let local: SocketAddr = format!("10.0.0.2:{}", 10000 + id).parse().unwrap_or(SocketAddr::from(([0; 4], 0)));
    let remote = SocketAddr::from(([192, 0, 2, 1 + id as u8], port));
    FlowMeta { protocol: if udp { Protocol::Udp } else { Protocol::Tcp }, local, remote }
}

fn is_connection(e: &NetworkEvent) -> bool {
    matches!(
        e.action_type,
        Some(ActionType::ConnectionSuccess | ActionType::ConnectionFailed | ActionType::ConnectionAttempt)
    ) && !e.additional_fields.contains_key("proxy")
}

impl Driver {
    pub fn new(config: SensorConfig, policy: Option<PolicyContext>) -> Self {
        let mut sensor = Sensor::new(config.clone());
        sensor.set_policy(policy);
        Driver { sensor, config, seeds: seeds(), live: HashMap::new(), clock: 0, calls: 0 }
    }

    fn ts(&mut self) -> Timestamp {
        self.clock += 1_000_000;
        Timestamp::from_unix_millis(1_700_000_000_000 + self.clock / 1000)
    }

    /// Decodes and runs every call in `data`, checking after each.
    pub fn run(&mut self, mut data: &[u8]) {
        while let Some((&ctl, rest)) = data.split_first() {
            data = rest;
            let id = u64::from(ctl >> 4) % IDS;
            let mut arg = || {
                let (&b, r) = data.split_first().unwrap_or((&0, &[]));
                data = r;
                b
            };
            match ctl & 0x0f {
                0 | 1 => {
                    let a = arg();
                    self.start(id, a & 1 == 1, PORTS[usize::from(a >> 1) % PORTS.len()]);
                }
                2 => self.established(id),
                3..=6 => {
                    let dir = if ctl & 1 == 0 { Direction::ToServer } else { Direction::ToClient };
                    let a = arg();
                    let bytes = if a & 0x80 != 0 {
                        self.seeds[usize::from(a & 0x7f) % self.seeds.len()].clone()
                    } else {
                        let n = usize::from(a).min(data.len());
                        let (b, r) = data.split_at(n);
                        data = r;
                        b.to_vec()
                    };
                    self.data(id, dir, &bytes);
                }
                7 => self.sensor.overlap_conflict(id),
                8 | 9 => {
                    let outcome =
                        [ActionType::ConnectionSuccess, ActionType::ConnectionFailed, ActionType::ConnectionAttempt]
                            [usize::from(arg()) % 3];
                    self.end(id, outcome);
                }
                10 => {
                    let m = meta(id, false, 8080);
                    let t = self.ts();
                    self.sensor.socket_event(m, ActionType::InboundConnectionAccepted, t);
                }
                _ => {}
            }
            self.calls += 1;
            self.drain();
            self.check();
        }
    }

    /// Ends every live flow (each must give its one connection event).
    pub fn finish(&mut self) {
        let ids: Vec<u64> = self.live.keys().copied().collect();
        for id in ids {
            self.end(id, ActionType::ConnectionSuccess);
            self.drain();
        }
        self.check();
        assert!(self.live.is_empty());
        let s = self.sensor.stats();
        assert_eq!((s.buffered_bytes, s.keys_held, s.flows_live), (0, 0, 0), "{s:?}");
    }

    fn start(&mut self, id: u64, udp: bool, port: u16) {
        // A live id started again ends the old flow first.
        let restarted = self.live.contains_key(&id);
        let before = self.sensor.stats().flows;
        let t = self.ts();
        self.sensor.flow_start(id, meta(id, udp, port), t);
        self.drain();
        if restarted {
            let n = self.live.remove(&id).unwrap_or(0);
            assert_eq!(n, 1, "a restarted flow gave {n} connection events");
        }
        if self.sensor.stats().flows > before {
            self.live.insert(id, 0);
        }
    }

    fn established(&mut self, id: u64) {
        let t = self.ts();
        self.sensor.established(id, t);
    }

    fn data(&mut self, id: u64, dir: Direction, bytes: &[u8]) {
        let t = self.ts();
        self.sensor.data(id, dir, bytes, t);
        let d = self.sensor.decision(id);
        assert_eq!(d.is_some(), self.live.contains_key(&id), "decision for a flow that is live or not");
        if d == Some(FlowDecision::Block) {
            // Blocked flows stay blocked.
            assert_eq!(self.sensor.decision(id), Some(FlowDecision::Block));
        }
    }

    fn end(&mut self, id: u64, outcome: ActionType) {
        let t = self.ts();
        self.sensor.flow_end(id, outcome, t);
        let events = self.drain_events();
        if let Some(n) = self.live.remove(&id) {
            assert_eq!(n, 1, "flow {id} ended with {n} connection events");
        } else {
            assert!(events.is_empty(), "an unknown flow's end emitted {events:?}");
        }
    }

    fn drain_events(&mut self) -> Vec<NetworkEvent> {
        let mut out = Vec::new();
        while let Some(e) = self.sensor.poll() {
            out.push(e);
        }
        self.count(&out);
        out
    }

    fn drain(&mut self) {
        let _ = self.drain_events();
    }

    fn count(&mut self, events: &[NetworkEvent]) {
        for e in events {
            assert!(e.remote_ip.is_some() || e.additional_fields.contains_key("proxy"), "{e:?}");
            if !is_connection(e) {
                continue;
            }
            let id = u64::from(e.local_port.unwrap_or(0).saturating_sub(10000));
            if let Some(n) = self.live.get_mut(&id) {
                *n += 1;
                assert!(*n <= 1, "flow {id}: a second connection event");
            }
        }
    }

    fn check(&self) {
        let s: SensorStats = self.sensor.stats();
        assert!(s.buffered_bytes <= self.config.max_buffered_bytes as u64, "{s:?}");
        assert_eq!(s.flows_live, self.live.len() as u64, "{s:?}");
        assert!(s.flows_live <= self.config.max_flows as u64);
        assert!(s.keys_held <= 2 * self.config.max_keys_per_flow as u64 * s.flows_live, "{s:?}");
        // Work is linear in the bytes fed (see netward-wire), plus a constant per flow.
        assert!(s.work.total() <= 8 * s.work.bytes_in + 25_000 * s.flows + 50_000, "{s:?}");
        for id in 0..IDS {
            assert_eq!(self.sensor.decision(id).is_some(), self.live.contains_key(&id));
        }
    }
}
