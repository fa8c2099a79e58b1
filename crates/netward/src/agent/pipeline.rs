//! Packets of the running device through the sensor: one queued IP packet
//! in, the mark its verdict carries out (and events queued for the store).
//! No sockets here: the queue loop in `mod.rs` feeds it, tests feed it
//! hand-made packets.

use netward_attribution::SockId;
use netward_capture::{CaptureEvent, Decoded, Direction, FlowConfig, FlowId, PacketDecoder, Transport};
use netward_datapath::{Hook, RuleSpec, HANDSHAKE_UNQUEUED, MARK_BLOCK, MARK_INSPECT, MARK_PASS, SYN_UNQUEUED};
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

/// The outbound flows not decided yet, whose queued packets count towards
/// the datapath's budget. The kernel queues an unmarked flow's first `limit`
/// packets (connbytes, both directions) and then lets it pass unseen: the
/// flow still undecided at the last of them is given up and flagged, so its
/// events say it was not followed to the end instead of it passing in
/// silence. The count itself is the flow table's (every packet it takes,
/// those without bytes too), plus, for TCP, the handshake packets the kernel
/// counts but does not queue: the SYN-ACK and the client's handshake ACK
/// ([`HANDSHAKE_UNQUEUED`]), and for a flow this device opened also its
/// first SYN ([`SYN_UNQUEUED`]), so such a flow's count starts at its
/// fourth packet. A flow begun by a SYN (forwarded, or a retransmitted one,
/// which conntrack does not count) has the two handshake packets added.
struct Budget {
    limit: u32,
    /// Undecided flows, with the packets the kernel counted but the table
    /// never saw.
    undecided: HashMap<FlowId, u32>,
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
    /// Outbound flows of this device's own begun by the last packets (its
    /// end first), for the attribution thread: taken with [`Pipeline::take_new_flows`].
    new_flows: Vec<NewFlow>,
    pub stats: PipelineStats,
}

/// A flow this device's own program opened: protocol, its local end, the
/// remote end, and its socket when the finder found it.
pub type NewFlow = (netward_events::Protocol, std::net::SocketAddr, std::net::SocketAddr, Option<SockId>);

/// Finds a new flow's socket while its first packet is held (the socket
/// surely exists then): `(protocol, local, remote)`. The queue loop passes
/// sock_diag; tests pass nothing.
pub type SocketFinder<'a> =
    dyn FnMut(netward_events::Protocol, std::net::SocketAddr, std::net::SocketAddr) -> Option<SockId> + 'a;

fn capture_ts(t: Timestamp) -> netward_capture::PacketTime {
    netward_capture::PacketTime(u64::try_from(t.unix_nanos() / 1000).unwrap_or(0))
}

/// How long a TCP connection may take to be set up before it is reported as an attempt.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// The flow table as the agent needs it: flows that were passed are
/// forgotten by the sensor at once and linger here only until idle.
pub fn live_flow_config(max_flows: usize) -> FlowConfig {
    FlowConfig {
        max_flows,
        tcp_idle: Duration::from_secs(120),
        udp_idle: Duration::from_secs(30),
        // An unanswered SYN is written as an attempt 10 s after it was sent
        // (a program waiting longer sees a new flow on its next SYN).
        tcp_setup_timeout: Some(SETUP_TIMEOUT),
        // The datapath does not queue it (netward_datapath::HANDSHAKE_UNQUEUED).
        synack_unseen: true,
        // Nor the first SYN of a connection this device opens
        // (netward_datapath::SYN_UNQUEUED): its first queued packet
        // continues the handshake, told which way it goes by its hook.
        syn_unseen: true,
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
            budget: Budget { limit: RuleSpec::default().inspect_packets, undecided: HashMap::new() },
            new_flows: Vec::new(),
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
    #[cfg(test)]
    pub fn packet(&mut self, now: Timestamp, payload: &[u8], hook: Hook, origin: &FlowOrigin) -> u32 {
        self.packet_with(now, payload, hook, origin, &mut |_, _, _| None)
    }

    /// [`Pipeline::packet`], with the socket of a flow this packet begins
    /// found by `find`: its uid is told to the sensor before the flow's
    /// first bytes are judged (a user's warn allows apply), and the socket
    /// goes on to the attribution thread with the flow.
    pub fn packet_with(
        &mut self,
        now: Timestamp,
        payload: &[u8],
        hook: Hook,
        origin: &FlowOrigin,
        find: &mut SocketFinder<'_>,
    ) -> u32 {
        self.stats.packets += 1;
        let ts = capture_ts(now);
        let Pipeline { decoder, table, sensor, inbound, established, budget, new_flows, stats } = self;
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
        // Which way a packet of a flow not seen yet goes: one this host sent
        // is its client's (an inbound connection's SYN is always queued, so
        // its flow is known), one it received the server's. Forwarded flows
        // have their SYN queued: the table needs no hint.
        let heading = match hook {
            Hook::LocalOut => Some(Direction::ToServer),
            Hook::LocalIn if !inbound_syn => Some(Direction::ToClient),
            _ => None,
        };
        let tcp = matches!(pkt.transport, Transport::Tcp(_));
        let tuple = match &pkt.transport {
            Transport::Tcp(s) => Some((SocketAddr::new(pkt.src, s.src_port), SocketAddr::new(pkt.dst, s.dst_port))),
            _ => None,
        };
        let syn = matches!(&pkt.transport, Transport::Tcp(s) if s.flags.syn());
        let mut touched: Option<FlowId> = None;
        let counted = table.process_heading(ts, &pkt, heading, &mut |ev| {
            let id = ev.flow_id();
            let mut user = None;
            match (&ev, inbound_syn) {
                (CaptureEvent::FlowStart { key, .. }, true) => {
                    let meta =
                        FlowMeta { protocol: netward_events::Protocol::Tcp, local: key.server, remote: key.client };
                    inbound.insert(id, Some(meta));
                }
                (CaptureEvent::FlowStart { key, .. }, false) => {
                    let unseen = match (tcp, syn) {
                        (false, _) => 0,
                        (true, true) => HANDSHAKE_UNQUEUED,
                        (true, false) => HANDSHAKE_UNQUEUED + SYN_UNQUEUED,
                    };
                    budget.undecided.insert(id, unseen);
                    // This device's own connection (begun by a packet it
                    // sent, or by the answer to a SYN it sent unqueued): a
                    // local socket made it.
                    if hook == Hook::LocalOut || (hook == Hook::LocalIn && tcp) {
                        let proto = crate::cmd::replay::protocol(key.proto);
                        let sock = find(proto, key.client, key.server);
                        user = sock.map(|s| s.uid);
                        new_flows.push((proto, key.client, key.server, sock));
                    }
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
            if let (true, Some(uid)) = (start, user) {
                sensor.set_user(id, uid);
            }
        });
        // Every queued packet counts, those that carry no bytes too.
        let counted = counted.and_then(|(id, n)| budget.undecided.get(&id).map(|unseen| (id, n + u64::from(*unseen))));
        let Some(id) = touched.or(counted.map(|(id, _)| id)) else { return 0 };
        if inbound.contains_key(&id) {
            return if established.contains(&id) { MARK_PASS } else { 0 };
        }
        let mut decision = sensor.decision(id);
        let spent = counted.is_some_and(|(c, n)| c == id && n >= u64::from(budget.limit));
        if decision == Some(FlowDecision::Inspect) && spent {
            stats.budget_spent += 1;
            sensor.give_up(id, BUDGET_SPENT, now);
            decision = sensor.decision(id);
        }
        if decision != Some(FlowDecision::Inspect) {
            // Decided (or followed past the budget): nothing more to count.
            budget.undecided.remove(&id);
        }
        match decision {
            Some(FlowDecision::Block) => {
                stats.blocked += 1;
                self.finish(id, tuple, now);
                MARK_BLOCK
            }
            // A UDP flow is passed only once both sides spoke, so its
            // outcome is known when the sensor lets it go.
            // A flow given up at its budget passes now: no more of it comes.
            Some(FlowDecision::Pass) if self.established.contains(&id) || spent => {
                self.stats.passed += 1;
                self.finish(id, tuple, now);
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
    /// A TCP flow leaves the flow table too: its mark keeps the rest of it
    /// from the queue, and a later connection on the same tuple, whose SYN
    /// is not queued, must not be taken for more of it.
    fn finish(&mut self, id: FlowId, tuple: Option<(SocketAddr, SocketAddr)>, now: Timestamp) {
        let outcome =
            if self.established.remove(&id) { ActionType::ConnectionSuccess } else { ActionType::ConnectionAttempt };
        self.sensor.flow_end(id, outcome, now);
        if let Some((a, b)) = tuple {
            self.table.forget_tcp(a, b);
        }
    }

    /// The flows of this device's own begun since the last call.
    pub fn take_new_flows(&mut self) -> std::vec::Drain<'_, NewFlow> {
        self.new_flows.drain(..)
    }

    pub fn next_event(&mut self) -> Option<NetworkEvent> {
        self.sensor.poll()
    }
}

impl Budget {
    /// A flow that ended is not counted any more.
    fn forget(&mut self, ev: &CaptureEvent<'_>) {
        if let CaptureEvent::FlowEnd { .. } = ev {
            self.undecided.remove(&ev.flow_id());
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

#[cfg(test)]
mod tests {
    use super::*;
    use netward_capture::synth::packet::{flags, ip, tcp};
    use netward_sensor::SensorConfig;
    use std::net::IpAddr;

    /// One segment of a client (198.18.0.2:40000) to server (198.18.0.3:80) flow.
    fn seg(from_client: bool, seq: u32, ack: u32, fl: u8, payload: &[u8]) -> Vec<u8> {
        let (c, s): (IpAddr, IpAddr) = ("198.18.0.2".parse().unwrap(), "198.18.0.3".parse().unwrap());
        let (src, dst, sp, dp) = if from_client { (c, s, 40000, 80) } else { (s, c, 80, 40000) };
        ip(src, dst, 6, &tcp(src, dst, sp, dp, seq, ack, fl, payload))
    }

    /// Sends a request head one line per segment, a server ACK after the
    /// first; the marks of all packets and the events. `own`: the device's
    /// own connection (its SYN is not queued); else a forwarded one (its SYN
    /// is).
    fn drive_head(budget: u32, lines: &[&str], own: bool) -> (Vec<u32>, Vec<NetworkEvent>, PipelineStats) {
        let sensor = Sensor::new(SensorConfig::default());
        let mut p = Pipeline::new(sensor, live_flow_config(16)).with_inspect_packets(budget);
        let t = Timestamp::from_unix_nanos(1_000_000_000);
        let o = if own { FlowOrigin::Local } else { FlowOrigin::Forwarded { interface: "veth0".into() } };
        let (out, back) = if own { (Hook::LocalOut, Hook::LocalIn) } else { (Hook::Forward, Hook::Forward) };
        // The kernel queues neither the SYN-ACK nor the client's handshake
        // ACK, nor this device's own SYN.
        let mut marks = Vec::new();
        if !own {
            marks.push(p.packet(t, &seg(true, 0, 0, flags::SYN, b""), out, &o));
        }
        let mut seq = 1;
        for (i, line) in lines.iter().enumerate() {
            marks.push(p.packet(t, &seg(true, seq, 1, flags::ACK | flags::PSH, line.as_bytes()), out, &o));
            seq += line.len() as u32;
            if i == 0 {
                marks.push(p.packet(t, &seg(false, 1, seq, flags::ACK, b""), back, &o));
            }
        }
        let mut events = Vec::new();
        while let Some(e) = p.next_event() {
            events.push(e);
        }
        (marks, events, p.stats)
    }

    /// A flow still undecided at the last packet the kernel queues is given
    /// up there: passed, flagged on its events (ACK-only packets count).
    #[test]
    fn an_undecided_flow_is_flagged_at_its_packet_budget() {
        let lines = ["GET / HTTP/1.1\r\n", "A: 1\r\n", "B: 1\r\n", "C: 1\r\n", "D: 1\r\n", "E: 1\r\n"];
        // Forwarded: the kernel's 10th packet is the 8th queued (SYN-ACK and
        // handshake ACK were not).
        let (marks, events, stats) = drive_head(10, &lines, false);
        assert_eq!(marks, [0, 0, 0, 0, 0, 0, 0, MARK_PASS], "the 10th packet passes");
        assert_eq!(stats.budget_spent, 1);
        let lost: Vec<_> = events.iter().filter(|e| e.additional_fields.get("inspection").is_some()).collect();
        assert_eq!(lost.len(), 2, "the inspected event and the connection event: {events:#?}");
        let reason = lost[0].additional_fields["inspection_reason"].as_str().unwrap();
        assert_eq!(reason, format!("http: {BUDGET_SPENT}"));
        assert_eq!(lost[1].action_type, Some(ActionType::ConnectionSuccess));
        // The device's own: the 10th is the 7th queued (its SYN was not either).
        let (marks, events, stats) = drive_head(10, &lines, true);
        assert_eq!(marks, [0, 0, 0, 0, 0, 0, MARK_PASS], "the 10th packet passes");
        assert_eq!(stats.budget_spent, 1);
        let success = events.iter().filter(|e| e.action_type == Some(ActionType::ConnectionSuccess)).count();
        assert_eq!(success, 1, "set up from the first bytes: {events:#?}");
    }

    /// A head complete within the budget is decided (plain HTTP: followed),
    /// never flagged.
    #[test]
    fn a_flow_decided_within_its_budget_is_not_flagged() {
        let (marks, events, stats) = drive_head(10, &["GET / HTTP/1.1\r\n", "Host: a.example\r\n\r\n"], true);
        assert_eq!(marks.last(), Some(&MARK_INSPECT), "direct plain HTTP stays followed");
        assert_eq!(stats.budget_spent, 0);
        assert!(events.iter().all(|e| e.additional_fields.get("inspection").is_none()), "{events:#?}");
    }
}

#[cfg(test)]
mod unqueued_syn {
    use super::*;
    use netward_capture::synth::packet::{flags, ip, tcp};
    use netward_events::ActionType;
    use netward_sensor::SensorConfig;
    use std::net::IpAddr;

    fn seg(from_client: bool, port: u16, fl: u8, seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
        let (c, s): (IpAddr, IpAddr) = ("198.18.0.2".parse().unwrap(), "198.18.0.3".parse().unwrap());
        let (src, dst, sp, dp) = if from_client { (c, s, 40000, port) } else { (s, c, port, 40000) };
        ip(src, dst, 6, &tcp(src, dst, sp, dp, seq, ack, fl, payload))
    }

    fn events(p: &mut Pipeline) -> Vec<NetworkEvent> {
        std::iter::from_fn(|| p.next_event()).collect()
    }

    /// What the device's own connections look like with their first SYN
    /// unqueued: a request is judged on its first packet and the
    /// connection is a success; the server's RST makes a failed one, found
    /// with its socket while the RST is held.
    #[test]
    fn a_flow_starts_at_its_first_queued_packet() {
        let t = Timestamp::from_unix_nanos(1_000_000_000);
        let o = FlowOrigin::Local;
        let mut p = Pipeline::new(Sensor::new(SensorConfig::default()), live_flow_config(16));
        let head = b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";
        let mark = p.packet(t, &seg(true, 80, flags::ACK | flags::PSH, 1, 1, head), Hook::LocalOut, &o);
        assert_eq!(mark, MARK_INSPECT, "plain HTTP is followed");
        let evs = events(&mut p);
        let c = evs.iter().find(|e| e.action_type == Some(ActionType::ConnectionSuccess)).expect("{evs:#?}");
        assert_eq!((c.remote_port, c.local_port), (Some(80), Some(40000)), "the client is this device");

        let mut found = Vec::new();
        let mut find = |proto, local, remote| {
            found.push((proto, local, remote));
            None
        };
        let mark =
            p.packet_with(t, &seg(false, 81, flags::RST | flags::ACK, 0, 101, b""), Hook::LocalIn, &o, &mut find);
        assert_eq!(mark, 0);
        assert_eq!(found.len(), 1, "the refused socket is looked up while its RST is held");
        assert_eq!((found[0].1.port(), found[0].2.port()), (40000, 81));
        let evs = events(&mut p);
        assert!(
            evs.iter().any(|e| e.action_type == Some(ActionType::ConnectionFailed) && e.remote_port == Some(81)),
            "{evs:#?}"
        );
    }
}
