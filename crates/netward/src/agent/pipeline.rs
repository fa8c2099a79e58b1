//! Packets of the running device through the sensor: one queued IP packet
//! in, the mark its verdict carries out (and events queued for the store).
//! No sockets here: the queue loop in `mod.rs` feeds it, tests feed it
//! hand-made packets.

use netward_capture::{CaptureEvent, Decoded, FlowConfig, FlowId, FlowKey, IpPacket, PacketDecoder, Transport};
use netward_datapath::{Hook, RuleSpec, MARK_BLOCK, MARK_INSPECT, MARK_PASS};
use netward_events::{ActionType, NetworkEvent, Timestamp};
use netward_sensor::{FlowDecision, FlowMeta, FlowOrigin, Sensor};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

/// Counters shown by `netward health`.
#[derive(Debug, Default, Clone, Copy)]
pub struct PipelineStats {
    pub packets: u64,
    pub undecodable: u64,
    pub passed: u64,
    pub blocked: u64,
    pub followed: u64,
    pub inbound: u64,
    /// Flows still undecided when their packet budget was spent: passed,
    /// flagged as not followed to the end.
    pub budget_spent: u64,
}

/// Why a flow is given up when the datapath stops queueing it.
const BUDGET_SPENT: &str = "the datapath's packet budget was spent before a decision";

/// A flow's two ends, the same whichever way a packet goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Ends {
    tcp: bool,
    low: SocketAddr,
    high: SocketAddr,
}

impl Ends {
    fn new(tcp: bool, a: SocketAddr, b: SocketAddr) -> Self {
        Ends { tcp, low: a.min(b), high: a.max(b) }
    }
    fn of_key(key: &FlowKey) -> Self {
        Ends::new(matches!(key.proto, netward_capture::Proto::Tcp), key.client, key.server)
    }
    fn of_packet(p: &IpPacket<'_>) -> Option<Self> {
        let (tcp, sport, dport) = match &p.transport {
            Transport::Tcp(s) => (true, s.src_port, s.dst_port),
            Transport::Udp(d) => (false, d.src_port, d.dst_port),
            Transport::Other(_) => return None,
        };
        Some(Ends::new(tcp, SocketAddr::new(p.src, sport), SocketAddr::new(p.dst, dport)))
    }
}

/// Packets the datapath queued of each outbound flow not decided yet. The
/// kernel queues an unmarked flow's first `limit` packets (connbytes, both
/// directions) and then lets it pass unseen: the flow still undecided at
/// the last of them is given up and flagged, so its events say it was not
/// followed to the end instead of it passing in silence.
struct Budget {
    limit: u32,
    seen: HashMap<Ends, (FlowId, u32)>,
}

pub struct Pipeline {
    decoder: PacketDecoder,
    table: netward_capture::FlowTable,
    pub sensor: Sensor,
    /// Flows opened towards this host (a SYN that arrived on INPUT): they
    /// are reported once accepted and never inspected.
    inbound: HashMap<FlowId, Option<FlowMeta>>,
    /// Flows whose setup completed (both sides spoke).
    established: HashSet<FlowId>,
    budget: Budget,
    pub stats: PipelineStats,
}

fn capture_ts(t: Timestamp) -> netward_capture::PacketTime {
    netward_capture::PacketTime(u64::try_from(t.unix_nanos() / 1000).unwrap_or(0))
}

/// The flow table as the agent needs it: flows that were passed are
/// forgotten by the sensor at once and linger here only until idle.
pub fn live_flow_config(max_flows: usize) -> FlowConfig {
    FlowConfig {
        max_flows,
        tcp_idle: Duration::from_secs(120),
        udp_idle: Duration::from_secs(30),
        max_buffered_total: 32 * 1024 * 1024,
        ..FlowConfig::default()
    }
}

impl Pipeline {
    pub fn new(sensor: Sensor, flows: FlowConfig) -> Self {
        Pipeline {
            decoder: PacketDecoder::default(),
            table: netward_capture::FlowTable::new(flows),
            sensor,
            inbound: HashMap::new(),
            established: HashSet::new(),
            budget: Budget { limit: RuleSpec::default().inspect_packets, seen: HashMap::new() },
            stats: PipelineStats::default(),
        }
    }

    /// The datapath's packet budget (`RuleSpec::inspect_packets`) the rules were installed with.
    pub fn with_inspect_packets(mut self, limit: u32) -> Self {
        self.budget.limit = limit;
        self
    }

    pub fn flows_tracked(&self) -> usize {
        self.table.len()
    }

    pub fn flows_evicted(&self) -> u64 {
        self.table.stats().evicted
    }

    /// Ends flows idle past their timeout (called on ticks, when no packet comes).
    pub fn tick(&mut self, now: Timestamp) {
        let Pipeline { table, sensor, inbound, established, budget, .. } = self;
        table.expire(capture_ts(now), &mut |ev| {
            budget.forget(&ev);
            drive(sensor, inbound, established, None, ev)
        });
    }

    /// One queued packet; returns the mark for its verdict (0: no decision yet).
    /// `origin`: where it came from (a forwarded flow's input interface),
    /// told to the sensor when the packet starts a flow.
    pub fn packet(&mut self, now: Timestamp, payload: &[u8], hook: Hook, origin: &FlowOrigin) -> u32 {
        self.stats.packets += 1;
        let ts = capture_ts(now);
        let Pipeline { decoder, table, sensor, inbound, established, budget, stats } = self;
        let pkt = match decoder.decode_ip(ts, payload) {
            Ok(Decoded::Ip(p)) => p,
            Ok(_) => return 0,
            Err(_) => {
                stats.undecodable += 1;
                return 0;
            }
        };
        // A SYN arriving for this host opens an inbound flow.
        let inbound_syn =
            hook == Hook::LocalIn && matches!(&pkt.transport, Transport::Tcp(s) if s.flags.syn() && !s.flags.ack());
        let ends = Ends::of_packet(&pkt);
        let mut touched: Option<FlowId> = None;
        table.process(ts, &pkt, &mut |ev| {
            let id = ev.flow_id();
            match (&ev, inbound_syn) {
                (CaptureEvent::FlowStart { key, .. }, true) => {
                    let meta =
                        FlowMeta { protocol: netward_events::Protocol::Tcp, local: key.server, remote: key.client };
                    inbound.insert(id, Some(meta));
                }
                (CaptureEvent::FlowStart { key, .. }, false) => {
                    budget.seen.insert(Ends::of_key(key), (id, 0));
                }
                _ => budget.forget(&ev),
            }
            if !matches!(ev, CaptureEvent::FlowEnd { .. }) {
                touched = Some(id);
            }
            let start = matches!(ev, CaptureEvent::FlowStart { .. });
            drive(sensor, inbound, established, Some(stats), ev);
            if start && *origin != FlowOrigin::Local {
                sensor.set_origin(id, origin.clone());
            }
        });
        // Every queued packet counts, those that carry no bytes too.
        let counted = ends.and_then(|e| budget.seen.get_mut(&e)).map(|(id, n)| {
            *n += 1;
            (*id, *n)
        });
        let Some(id) = touched.or(counted.map(|(id, _)| id)) else { return 0 };
        if inbound.contains_key(&id) {
            return if established.contains(&id) { MARK_PASS } else { 0 };
        }
        let mut decision = sensor.decision(id);
        let spent = counted.is_some_and(|(c, n)| c == id && n >= budget.limit);
        if decision == Some(FlowDecision::Inspect) && spent {
            stats.budget_spent += 1;
            sensor.give_up(id, BUDGET_SPENT, now);
            decision = sensor.decision(id);
        }
        if decision != Some(FlowDecision::Inspect) {
            // Decided (or followed past the budget): nothing more to count.
            if let Some(e) = ends {
                budget.seen.remove(&e);
            }
        }
        match decision {
            Some(FlowDecision::Block) => {
                stats.blocked += 1;
                self.finish(id, now);
                MARK_BLOCK
            }
            // A UDP flow is passed only once both sides spoke, so its
            // outcome is known when the sensor lets it go.
            // A flow given up at its budget passes now: no more of it comes.
            Some(FlowDecision::Pass) if self.established.contains(&id) || spent => {
                self.stats.passed += 1;
                self.finish(id, now);
                MARK_PASS
            }
            Some(FlowDecision::Follow) => {
                self.stats.followed += 1;
                MARK_INSPECT
            }
            _ => 0,
        }
    }

    /// The sensor forgets a decided flow: its connection event is written
    /// now (it was set up, so it is a success), not when the flow idles out.
    fn finish(&mut self, id: FlowId, now: Timestamp) {
        let outcome =
            if self.established.remove(&id) { ActionType::ConnectionSuccess } else { ActionType::ConnectionAttempt };
        self.sensor.flow_end(id, outcome, now);
    }

    pub fn next_event(&mut self) -> Option<NetworkEvent> {
        self.sensor.poll()
    }
}

impl Budget {
    /// A flow that ended is not counted any more.
    fn forget(&mut self, ev: &CaptureEvent<'_>) {
        if let CaptureEvent::FlowEnd { key, .. } = ev {
            self.seen.remove(&Ends::of_key(key));
        }
    }
}

/// One flow-table event to the sensor; an inbound flow gives only its
/// acceptance event, once.
fn drive(
    sensor: &mut Sensor,
    inbound: &mut HashMap<FlowId, Option<FlowMeta>>,
    established: &mut HashSet<FlowId>,
    stats: Option<&mut PipelineStats>,
    ev: CaptureEvent<'_>,
) {
    let id = ev.flow_id();
    if let CaptureEvent::Established { .. } = &ev {
        established.insert(id);
    }
    if let CaptureEvent::FlowEnd { .. } = &ev {
        established.remove(&id);
    }
    if let Some(slot) = inbound.get_mut(&id) {
        match &ev {
            CaptureEvent::Established { ts, .. } => {
                if let Some(meta) = slot.take() {
                    if let Some(s) = stats {
                        s.inbound += 1;
                    }
                    sensor.socket_event(meta, ActionType::InboundConnectionAccepted, crate::cmd::replay::ts(*ts));
                }
            }
            CaptureEvent::FlowEnd { .. } => {
                inbound.remove(&id);
            }
            _ => {}
        }
        return;
    }
    crate::cmd::replay::drive(sensor, ev);
}
