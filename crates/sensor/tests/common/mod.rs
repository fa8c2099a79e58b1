//! Driving a `Sensor` directly through its API, as the live agent does.
#![allow(dead_code)]

use netward_events::{ActionType, NetworkEvent, Protocol, Timestamp};
use netward_policy::hash::Seed;
use netward_policy::segment::SegmentBuilder;
use netward_policy::{Action, EnforcementLevel, IndicatorType, Matcher, Origin, Target};
use netward_sensor::{FlowDecision, FlowMeta, PolicyContext, Sensor, SensorConfig};
use netward_wire::Direction;
use std::net::SocketAddr;
use std::sync::Arc;

pub const CLIENT: &str = "10.0.0.2";

pub fn ts(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_700_000_000_000 + ms)
}

/// A flow from the client's port `10000 + id` to `remote`.
pub fn meta(protocol: Protocol, id: u64, remote: &str) -> FlowMeta {
    let local: SocketAddr = format!("{CLIENT}:{}", 10000 + id).parse().unwrap();
    FlowMeta { protocol, local, remote: remote.parse().unwrap() }
}

/// A policy of domain and URL indicators (`(value, action)`).
pub fn policy(indicators: &[(&str, Action)], level: EnforcementLevel) -> PolicyContext {
    let mut b = SegmentBuilder::new(Seed::FIXED, "custom", Origin::Custom);
    for (v, a) in indicators {
        let kind = if v.contains('/') { IndicatorType::Url } else { IndicatorType::Domain };
        b.add(&Target::parse(kind, v).unwrap(), *a, None);
    }
    PolicyContext::new(Arc::new(Matcher::new(Seed::FIXED, vec![Arc::new(b.build())])), level)
}

/// A sensor and every event it emitted.
pub struct Run {
    pub sensor: Sensor,
    pub events: Vec<NetworkEvent>,
    pub clock: i64,
}

impl Run {
    pub fn new(config: SensorConfig) -> Self {
        Run { sensor: Sensor::new(config), events: Vec::new(), clock: 0 }
    }

    pub fn with_policy(config: SensorConfig, p: PolicyContext) -> Self {
        let mut r = Self::new(config);
        r.sensor.set_policy(Some(p));
        r
    }

    fn tick(&mut self) -> Timestamp {
        self.clock += 1;
        ts(self.clock)
    }

    fn drain(&mut self) {
        while let Some(e) = self.sensor.poll() {
            self.events.push(e);
        }
    }

    pub fn start(&mut self, id: u64, m: FlowMeta) {
        let t = self.tick();
        self.sensor.flow_start(id, m, t);
        self.drain();
    }

    pub fn established(&mut self, id: u64) {
        let t = self.tick();
        self.sensor.established(id, t);
        self.drain();
    }

    /// A TCP flow started and set up.
    pub fn tcp(&mut self, id: u64, remote: &str) {
        self.start(id, meta(Protocol::Tcp, id, remote));
        self.established(id);
    }

    pub fn send(&mut self, id: u64, bytes: &[u8]) -> Option<FlowDecision> {
        let t = self.tick();
        self.sensor.data(id, Direction::ToServer, bytes, t);
        self.drain();
        self.sensor.decision(id)
    }

    pub fn recv(&mut self, id: u64, bytes: &[u8]) -> Option<FlowDecision> {
        let t = self.tick();
        self.sensor.data(id, Direction::ToClient, bytes, t);
        self.drain();
        self.sensor.decision(id)
    }

    pub fn end(&mut self, id: u64, outcome: ActionType) {
        let t = self.tick();
        self.sensor.flow_end(id, outcome, t);
        self.drain();
    }

    /// Events of one action type.
    pub fn of(&self, action: ActionType) -> Vec<&NetworkEvent> {
        self.events.iter().filter(|e| e.action_type == Some(action)).collect()
    }

    /// Events of flow `id` (by its client port).
    pub fn of_flow(&self, id: u64) -> Vec<&NetworkEvent> {
        self.events.iter().filter(|e| e.local_port == Some(10000 + id as u16)).collect()
    }
}

/// A connection event: `ConnectionSuccess/Failed/Attempt` of the connection
/// itself (a proxy target's `ConnectionSuccess` carries `proxy`).
pub fn is_connection(e: &NetworkEvent) -> bool {
    matches!(
        e.action_type,
        Some(ActionType::ConnectionSuccess | ActionType::ConnectionFailed | ActionType::ConnectionAttempt)
    ) && !e.additional_fields.contains_key("proxy")
}

pub fn is_target(e: &NetworkEvent) -> bool {
    e.action_type == Some(ActionType::ConnectionSuccess) && e.additional_fields.contains_key("proxy")
}

pub fn field<'e>(e: &'e NetworkEvent, k: &str) -> Option<&'e serde_json::Value> {
    e.additional_fields.get(k)
}
