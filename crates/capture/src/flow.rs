//! The flow table: packets in, [`CaptureEvent`]s out. Owns flow identity
//! (5-tuple, client/server side), the TCP handshake and its outcome, FIN/RST
//! closing, idle timeouts and eviction, UDP flows. Sans-IO: time is the
//! packet's timestamp, so a live agent feeds it the same way a capture does.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::event::{CaptureEvent, Direction, EndReason, FlowId, FlowKey, FlowStats, Outcome, Proto};
use crate::ip::{TcpSegment, UdpDatagram};
use crate::stream::{Budget, Chunk, HalfStream, StreamLimits};
use crate::{IpPacket, PacketTime, Transport};

/// Limits and timeouts of the flow table.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Flows tracked at once (closed TCP flows lingering included); the least
    /// recently active is evicted beyond this.
    pub max_flows: usize,
    /// An open TCP flow idle this long ends.
    pub tcp_idle: Duration,
    /// A closed TCP flow is remembered this long, so its last ACKs do not start
    /// a new flow.
    pub tcp_closed_linger: Duration,
    /// A UDP flow idle this long ends.
    pub udp_idle: Duration,
    /// A TCP flow whose handshake has not completed this long after its
    /// first packet ends as an attempt (`EndReason::SetupTimeout`), so an
    /// unanswered SYN is reported when the program has given up, not after
    /// the idle timeout its retransmissions keep restarting. `None` (the
    /// default): only the idle timeout.
    pub tcp_setup_timeout: Option<Duration>,
    /// The server's SYN-ACK may never be shown (a live datapath that does not
    /// queue it): a client ACK after the SYN then completes the handshake,
    /// because the client's stack sends it only once the SYN-ACK came, and
    /// its acknowledgment number is the server's first sequence number + 1.
    /// `false` (the default, for captures): the SYN-ACK is required.
    pub synack_unseen: bool,
    /// The client's first SYN may never be shown either (a live datapath
    /// that lets it pass unqueued): a packet of an unknown TCP flow whose
    /// direction the caller knows ([`FlowTable::process_heading`]) and that
    /// carries ACK and bytes, FIN or RST then continues a handshake that
    /// happened unseen, instead of starting a mid-stream flow. The client's
    /// first bytes (or FIN) set up the flow at once: their sequence number is
    /// its first byte, their acknowledgment the server's; the server's RST
    /// (or an ICMP error turned into one) is the refusal of the unseen SYN;
    /// the server's first bytes (a protocol where it speaks first) set it
    /// up too. A retransmitted SYN still starts the flow as usual.
    /// `false` (the default, for captures): the port heuristic of a
    /// mid-stream pickup applies.
    pub syn_unseen: bool,
    /// Out-of-order limits per TCP direction.
    pub stream: StreamLimits,
    /// Out-of-order bytes buffered across all flows.
    pub max_buffered_total: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 65_536,
            tcp_idle: Duration::from_secs(600),
            tcp_closed_linger: Duration::from_secs(10),
            udp_idle: Duration::from_secs(60),
            tcp_setup_timeout: None,
            synack_unseen: false,
            syn_unseen: false,
            stream: StreamLimits { max_ooo_bytes: 256 * 1024, max_ooo_segments: 512, check_window: 1024 },
            max_buffered_total: 64 * 1024 * 1024,
        }
    }
}

/// Counters of the table as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableStats {
    pub flows: u64,
    pub tcp_packets: u64,
    pub udp_packets: u64,
    /// Packets ignored: other protocols, stray control segments of unknown
    /// flows, packets of closed flows.
    pub ignored_packets: u64,
    pub evicted: u64,
}

/// Flow lookup key: the 5-tuple with the endpoints in a fixed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Canon {
    proto: Proto,
    lo: SocketAddr,
    hi: SocketAddr,
}

impl Canon {
    fn new(proto: Proto, a: SocketAddr, b: SocketAddr) -> Self {
        if a <= b {
            Canon { proto, lo: a, hi: b }
        } else {
            Canon { proto, lo: b, hi: a }
        }
    }
}

/// Which expiry queue a flow is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    TcpOpen,
    TcpClosed,
    Udp,
}

#[derive(Debug, Default)]
struct Tcp {
    to_server: HalfStream,
    to_client: HalfStream,
    /// Client SYN seen, with its sequence number.
    syn: Option<u32>,
    synack: bool,
    /// Client ACK after the SYN-ACK (handshake complete).
    ack3: bool,
    /// RST from the server before the handshake finished.
    refused: bool,
    closed: bool,
}

#[derive(Debug, Default)]
struct Udp {
    from_client: bool,
    from_server: bool,
}

#[derive(Debug)]
enum State {
    Tcp(Box<Tcp>),
    Udp(Udp),
}

#[derive(Debug)]
struct Flow {
    id: FlowId,
    key: FlowKey,
    state: State,
    stats: FlowStats,
    established: bool,
}

impl Flow {
    fn class(&self) -> Class {
        match &self.state {
            State::Tcp(t) if t.closed => Class::TcpClosed,
            State::Tcp(_) => Class::TcpOpen,
            State::Udp(_) => Class::Udp,
        }
    }

    fn outcome(&self) -> Outcome {
        if self.established {
            return Outcome::ConnectionSuccess;
        }
        match &self.state {
            State::Tcp(t) if t.refused => Outcome::ConnectionFailed,
            _ => Outcome::ConnectionAttempt,
        }
    }
}

/// Tracks flows and reassembles TCP streams; see the module docs.
pub struct FlowTable {
    config: FlowConfig,
    /// Keyed by a per-process random seed: SipHash cost 13% of a replay,
    /// and foldhash with a random seed still resists crafted collisions.
    flows: HashMap<Canon, Flow, foldhash::fast::RandomState>,
    /// Expiry queues, one per class, roughly in time order; entries may be stale
    /// (checked against the flow when popped).
    queues: [VecDeque<(PacketTime, Canon, FlowId)>; 3],
    /// TCP flows by start time, for [`FlowConfig::tcp_setup_timeout`]
    /// (entries of flows set up or gone are dropped when reached).
    setup: VecDeque<(PacketTime, Canon, FlowId)>,
    next_id: FlowId,
    budget: Budget,
    stats: TableStats,
    /// The flow the packet being processed was counted on, and its packets
    /// so far (both ways): what [`FlowTable::process`] returns.
    counted: Option<(FlowId, u64)>,
}

fn qi(c: Class) -> usize {
    match c {
        Class::TcpOpen => 0,
        Class::TcpClosed => 1,
        Class::Udp => 2,
    }
}

impl FlowTable {
    pub fn new(config: FlowConfig) -> Self {
        let budget = Budget { used: 0, max: config.max_buffered_total };
        FlowTable {
            config,
            flows: HashMap::default(),
            queues: Default::default(),
            setup: VecDeque::new(),
            next_id: 1,
            budget,
            stats: TableStats::default(),
            counted: None,
        }
    }

    pub fn stats(&self) -> &TableStats {
        &self.stats
    }

    /// Flows tracked now.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Out-of-order bytes buffered now, all flows.
    pub fn buffered_bytes(&self) -> usize {
        self.budget.used
    }

    /// Take in one packet seen at `ts`. Returns the flow it was counted on,
    /// with that flow's packets so far in both directions (this one
    /// included); `None` for a packet no flow takes (a stray control segment,
    /// a packet of a closed flow, not TCP or UDP).
    pub fn process<'a, F>(&mut self, ts: PacketTime, pkt: &IpPacket<'a>, sink: &mut F) -> Option<(FlowId, u64)>
    where
        F: FnMut(CaptureEvent<'a>),
    {
        self.process_heading(ts, pkt, None, sink)
    }

    /// [`FlowTable::process`], told which way the packet goes when the
    /// caller knows it (a live datapath knows a packet it sent from one it
    /// received): with [`FlowConfig::syn_unseen`], a packet of an unknown
    /// TCP flow then continues its unseen handshake.
    pub fn process_heading<'a, F>(
        &mut self,
        ts: PacketTime,
        pkt: &IpPacket<'a>,
        heading: Option<Direction>,
        sink: &mut F,
    ) -> Option<(FlowId, u64)>
    where
        F: FnMut(CaptureEvent<'a>),
    {
        self.counted = None;
        self.expire(ts, sink);
        match pkt.transport {
            Transport::Tcp(seg) => {
                self.stats.tcp_packets += 1;
                self.tcp(ts, pkt.src, pkt.dst, &seg, heading, sink)
            }
            Transport::Udp(dgram) => {
                self.stats.udp_packets += 1;
                self.udp(ts, pkt.src, pkt.dst, &dgram, sink)
            }
            Transport::Other(_) => self.stats.ignored_packets += 1,
        }
        self.counted.take()
    }

    /// Forget the TCP flow between `a` and `b` without reporting its end:
    /// its owner decided it and will be shown none of its packets again (a
    /// live datapath's verdict). A new connection on the same tuple then
    /// starts a flow of its own, even when its SYN is not shown.
    pub fn forget_tcp(&mut self, a: SocketAddr, b: SocketAddr) {
        if let Some(mut flow) = self.flows.remove(&Canon::new(Proto::Tcp, a, b)) {
            if let State::Tcp(t) = &mut flow.state {
                t.to_server.release(&mut self.budget);
                t.to_client.release(&mut self.budget);
            }
        }
    }

    /// End flows idle past their timeout at `now` (also done by `process`).
    pub fn expire<'a, F: FnMut(CaptureEvent<'a>)>(&mut self, now: PacketTime, sink: &mut F) {
        if let Some(limit) = self.config.tcp_setup_timeout {
            while let Some(&(started, canon, id)) = self.setup.front() {
                let pending =
                    self.flows.get(&canon).is_some_and(|f| f.id == id && !f.established && f.class() == Class::TcpOpen);
                if pending && now.since(started) < limit {
                    break;
                }
                self.setup.pop_front();
                if pending {
                    self.end(canon, EndReason::SetupTimeout, sink);
                }
            }
        }
        for class in [Class::TcpOpen, Class::TcpClosed, Class::Udp] {
            let timeout = self.timeout(class);
            while let Some(&(qts, canon, id)) = self.queues[qi(class)].front() {
                let Some(flow) = self.flows.get(&canon).filter(|f| f.id == id && f.class() == class) else {
                    self.queues[qi(class)].pop_front();
                    continue;
                };
                let last = flow.stats.last_ts;
                if now.since(last) >= timeout {
                    self.queues[qi(class)].pop_front();
                    self.end(canon, EndReason::IdleTimeout, sink);
                } else if last > qts {
                    self.queues[qi(class)].pop_front();
                    self.queues[qi(class)].push_back((last, canon, id));
                } else {
                    break;
                }
            }
        }
    }

    /// End every flow (the capture is over).
    pub fn finish<'a, F: FnMut(CaptureEvent<'a>)>(&mut self, sink: &mut F) {
        let mut all: Vec<(FlowId, Canon)> = self.flows.iter().map(|(c, f)| (f.id, *c)).collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        for (_, canon) in all {
            self.end(canon, EndReason::EndOfCapture, sink);
        }
        self.queues = Default::default();
        self.setup.clear();
    }

    fn timeout(&self, class: Class) -> Duration {
        match class {
            Class::TcpOpen => self.config.tcp_idle,
            Class::TcpClosed => self.config.tcp_closed_linger,
            Class::Udp => self.config.udp_idle,
        }
    }

    /// Close a flow: flush its streams, report its end (unless it already
    /// ended: a lingering closed TCP flow), forget it.
    fn end<'a, F: FnMut(CaptureEvent<'a>)>(&mut self, canon: Canon, reason: EndReason, sink: &mut F) {
        let Some(mut flow) = self.flows.remove(&canon) else {
            return;
        };
        let already = matches!(&flow.state, State::Tcp(t) if t.closed);
        if !already {
            self.report_end(&mut flow, reason, sink);
        }
    }

    fn report_end<'a, F: FnMut(CaptureEvent<'a>)>(&mut self, flow: &mut Flow, reason: EndReason, sink: &mut F) {
        let ts = flow.stats.last_ts;
        if let State::Tcp(t) = &mut flow.state {
            let id = flow.id;
            for dir in [Direction::ToServer, Direction::ToClient] {
                let half = match dir {
                    Direction::ToServer => &mut t.to_server,
                    Direction::ToClient => &mut t.to_client,
                };
                half.flush(&mut self.budget, &mut |c| sink(chunk_event(id, dir, ts, c)));
                half.release(&mut self.budget);
            }
            flow.stats.bytes_to_server = t.to_server.delivered;
            flow.stats.bytes_to_client = t.to_client.delivered;
            flow.stats.gap_bytes_to_server = t.to_server.gap_bytes;
            flow.stats.gap_bytes_to_client = t.to_client.gap_bytes;
            flow.stats.overlap_conflict = t.to_server.conflict || t.to_client.conflict;
            t.closed = true;
        }
        sink(CaptureEvent::FlowEnd {
            flow_id: flow.id,
            key: flow.key,
            ts,
            outcome: flow.outcome(),
            reason,
            stats: flow.stats,
        });
    }

    /// Make room for one more flow.
    fn make_room<'a, F: FnMut(CaptureEvent<'a>)>(&mut self, sink: &mut F) {
        while self.flows.len() >= self.config.max_flows.max(1) {
            // The queue whose front is oldest; closed flows go first.
            let pick = [Class::TcpClosed, Class::TcpOpen, Class::Udp]
                .into_iter()
                .filter_map(|c| self.queues[qi(c)].front().map(|e| (c, e.0)))
                .min_by_key(|(c, t)| (*c != Class::TcpClosed, *t));
            let Some((class, _)) = pick else {
                // Queues lost track (cannot happen); drop an arbitrary flow.
                if let Some(c) = self.flows.keys().next().copied() {
                    self.stats.evicted += 1;
                    self.end(c, EndReason::Evicted, sink);
                }
                continue;
            };
            let Some((qts, canon, id)) = self.queues[qi(class)].pop_front() else {
                continue;
            };
            let Some(flow) = self.flows.get(&canon).filter(|f| f.id == id && f.class() == class) else {
                continue;
            };
            if flow.stats.last_ts > qts {
                let last = flow.stats.last_ts;
                self.queues[qi(class)].push_back((last, canon, id));
                continue;
            }
            self.stats.evicted += 1;
            self.end(canon, EndReason::Evicted, sink);
        }
    }

    fn start<'a, F: FnMut(CaptureEvent<'a>)>(
        &mut self,
        ts: PacketTime,
        canon: Canon,
        key: FlowKey,
        state: State,
        mid_stream: bool,
        sink: &mut F,
    ) {
        self.make_room(sink);
        let id = self.next_id;
        self.next_id += 1;
        self.stats.flows += 1;
        let stats = FlowStats { mid_stream, first_ts: ts, last_ts: ts, ..Default::default() };
        let flow = Flow { id, key, state, stats, established: false };
        let class = flow.class();
        self.flows.insert(canon, flow);
        self.queues[qi(class)].push_back((ts, canon, id));
        if class == Class::TcpOpen && !mid_stream && self.config.tcp_setup_timeout.is_some() {
            self.setup.push_back((ts, canon, id));
        }
        sink(CaptureEvent::FlowStart { flow_id: id, key, ts, mid_stream });
    }

    fn tcp<'a, F: FnMut(CaptureEvent<'a>)>(
        &mut self,
        ts: PacketTime,
        src: IpAddr,
        dst: IpAddr,
        seg: &TcpSegment<'a>,
        heading: Option<Direction>,
        sink: &mut F,
    ) {
        let s = SocketAddr::new(src, seg.src_port);
        let d = SocketAddr::new(dst, seg.dst_port);
        let canon = Canon::new(Proto::Tcp, s, d);
        let f = seg.flags;
        let bare_syn = f.syn() && !f.ack();
        if let Some(flow) = self.flows.get(&canon) {
            // A SYN with a new sequence number from the client side of a flow
            // that is past its handshake: the 5-tuple is being reused.
            let reuse = match &flow.state {
                State::Tcp(t) => {
                    bare_syn
                        && t.syn != Some(seg.seq)
                        && (t.closed || t.synack || t.to_server.delivered > 0 || t.to_client.delivered > 0)
                }
                State::Udp(_) => false,
            };
            // With the SYN unseen, a reused tuple shows itself by its client
            // sending bytes the old connection cannot carry: after it closed
            // by a RST, or past (or far from) the client's FIN.
            let reuse_unseen = match &flow.state {
                State::Tcp(t) => {
                    self.config.syn_unseen
                        && heading == Some(Direction::ToServer)
                        && s == flow.key.client
                        && !f.syn()
                        && !seg.payload.is_empty()
                        && (t.closed || t.to_server.fin_seen())
                        && !t.to_server.before_fin(seg.seq)
                }
                State::Udp(_) => false,
            };
            if reuse || reuse_unseen {
                self.end(canon, EndReason::PortReuse, sink);
            }
        }
        // A packet continuing a handshake that was not shown (FlowConfig::syn_unseen).
        let mut after_syn = None;
        if !self.flows.contains_key(&canon) {
            let continues = !f.syn() && f.ack() && (!seg.payload.is_empty() || f.fin() || f.rst());
            if let Some(dir) = heading.filter(|_| continues && self.config.syn_unseen) {
                after_syn = Some(dir);
            }
            // Stray control segments (ACK, FIN, RST) of an unknown flow: ignored.
            if after_syn.is_none() && !f.syn() && seg.payload.is_empty() {
                self.stats.ignored_packets += 1;
                return;
            }
            let (client, server, mid_stream) = if let Some(dir) = after_syn {
                match dir {
                    Direction::ToServer => (s, d, false),
                    Direction::ToClient => (d, s, false),
                }
            } else if bare_syn {
                (s, d, false)
            } else if f.syn() {
                (d, s, false) // SYN-ACK: the sender is the server
            } else if seg.src_port < seg.dst_port {
                (d, s, true) // mid-stream: the lower port is the server
            } else {
                (s, d, true)
            };
            let key = FlowKey { proto: Proto::Tcp, client, server };
            self.start(ts, canon, key, State::Tcp(Box::new(Tcp::new(&self.config))), mid_stream, sink);
        }
        let limits = self.config.stream;
        let synack_unseen = self.config.synack_unseen;
        let budget = &mut self.budget;
        let Some(flow) = self.flows.get_mut(&canon) else {
            return;
        };
        flow.stats.last_ts = flow.stats.last_ts.max(ts);
        let State::Tcp(t) = &mut flow.state else {
            return;
        };
        if t.closed {
            self.stats.ignored_packets += 1;
            return;
        }
        let dir = if s == flow.key.client { Direction::ToServer } else { Direction::ToClient };
        match dir {
            Direction::ToServer => flow.stats.packets_to_server += 1,
            Direction::ToClient => flow.stats.packets_to_client += 1,
        }
        let id = flow.id;
        self.counted = Some((id, flow.stats.packets_to_server + flow.stats.packets_to_client));
        let mut became_established = false;

        // Handshake.
        if after_syn.is_some() {
            // The sender's sequence number is its first byte (the SYN took
            // the one before), the acknowledgment the other side's.
            let (own, other) = match dir {
                Direction::ToServer => (&mut t.to_server, &mut t.to_client),
                Direction::ToClient => (&mut t.to_client, &mut t.to_server),
            };
            own.set_base(seg.seq);
            other.set_base(seg.ack);
            t.syn = Some(match dir {
                Direction::ToServer => seg.seq.wrapping_sub(1),
                Direction::ToClient => seg.ack.wrapping_sub(1),
            });
            // Bytes or a FIN come only once the handshake is done; the
            // server's RST before any of them refuses the SYN.
            if !(f.rst() && dir == Direction::ToClient) {
                t.synack = true;
                t.ack3 = true;
                became_established = true;
            }
        }
        match dir {
            // A (re)sent SYN before any answer sets the client's start.
            Direction::ToServer if bare_syn && (t.syn.is_none() || !t.synack) => {
                t.syn = Some(seg.seq);
                t.to_server.set_base(seg.seq.wrapping_add(1));
            }
            Direction::ToClient if f.syn() && f.ack() => {
                t.synack = true;
                t.to_client.set_base(seg.seq.wrapping_add(1));
                // The SYN may be missing from the capture: its ACK tells the base.
                if t.to_server.base().is_none() {
                    t.to_server.set_base(seg.ack);
                }
            }
            Direction::ToServer if synack_unseen && f.ack() && !f.syn() && !f.rst() && !t.synack && t.syn.is_some() => {
                t.synack = true;
                t.to_client.set_base(seg.ack);
                t.ack3 = true;
                became_established = true;
            }
            Direction::ToServer if f.ack() && t.synack && !t.ack3 => {
                // SYN-ACK then ACK: the handshake happened (even if the SYN
                // itself was not captured).
                t.ack3 = true;
                became_established = true;
            }
            _ => {}
        }
        if flow.stats.mid_stream && !flow.established {
            became_established = true;
        }
        if f.rst() && dir == Direction::ToClient && !flow.established && !t.ack3 {
            t.refused = true;
        }

        // Payload (a SYN may carry data: TCP Fast Open) and FIN.
        if !f.rst() {
            let half = match dir {
                Direction::ToServer => &mut t.to_server,
                Direction::ToClient => &mut t.to_client,
            };
            let seq = if f.syn() { seg.seq.wrapping_add(1) } else { seg.seq };
            if f.syn() && half.base().is_none() {
                half.set_base(seq);
            }
            if !seg.payload.is_empty() || seg.missing > 0 || f.fin() {
                half.segment(seq, seg.payload, seg.missing, f.fin(), &limits, budget, &mut |c| {
                    sink(chunk_event(id, dir, ts, c))
                });
            }
            if t.to_server.delivered > 0 && t.to_client.delivered > 0 && !flow.established {
                became_established = true;
            }
        }
        if became_established && !flow.established {
            flow.established = true;
            sink(CaptureEvent::Established { flow_id: id, ts });
        }
        let done = f.rst() || (t.to_server.finished() && t.to_client.finished());
        if done {
            let reason = if f.rst() { EndReason::Rst } else { EndReason::Fin };
            // Report now, keep the flow (closed) for a while to absorb its last
            // ACKs and retransmitted FINs.
            let mut flow = match self.flows.remove(&canon) {
                Some(fl) => fl,
                None => return,
            };
            self.report_end(&mut flow, reason, sink);
            self.flows.insert(canon, flow);
            self.queues[qi(Class::TcpClosed)].push_back((ts, canon, id));
        }
    }

    fn udp<'a, F: FnMut(CaptureEvent<'a>)>(
        &mut self,
        ts: PacketTime,
        src: IpAddr,
        dst: IpAddr,
        dgram: &UdpDatagram<'a>,
        sink: &mut F,
    ) {
        let s = SocketAddr::new(src, dgram.src_port);
        let d = SocketAddr::new(dst, dgram.dst_port);
        let canon = Canon::new(Proto::Udp, s, d);
        if !self.flows.contains_key(&canon) {
            // The first sender is the client, unless it sends from a well-known
            // port to an ephemeral one (a reply whose query was not captured).
            let (client, server) = if dgram.src_port < 1024 && dgram.dst_port >= 1024 { (d, s) } else { (s, d) };
            let key = FlowKey { proto: Proto::Udp, client, server };
            self.start(ts, canon, key, State::Udp(Udp::default()), false, sink);
        }
        let Some(flow) = self.flows.get_mut(&canon) else {
            return;
        };
        flow.stats.last_ts = flow.stats.last_ts.max(ts);
        let State::Udp(u) = &mut flow.state else {
            return;
        };
        let dir = if s == flow.key.client { Direction::ToServer } else { Direction::ToClient };
        let n = dgram.payload.len() as u64;
        match dir {
            Direction::ToServer => {
                u.from_client = true;
                flow.stats.packets_to_server += 1;
                flow.stats.bytes_to_server += n;
            }
            Direction::ToClient => {
                u.from_server = true;
                flow.stats.packets_to_client += 1;
                flow.stats.bytes_to_client += n;
            }
        }
        self.counted = Some((flow.id, flow.stats.packets_to_server + flow.stats.packets_to_client));
        if u.from_client && u.from_server && !flow.established {
            flow.established = true;
            sink(CaptureEvent::Established { flow_id: flow.id, ts });
        }
        sink(CaptureEvent::Datagram {
            flow_id: flow.id,
            key: flow.key,
            dir,
            payload: Cow::Borrowed(dgram.payload),
            ts,
        });
    }
}

impl Tcp {
    fn new(config: &FlowConfig) -> Self {
        let w = config.stream.check_window;
        Tcp { to_server: HalfStream::new(w), to_client: HalfStream::new(w), ..Default::default() }
    }
}

fn chunk_event(flow_id: FlowId, dir: Direction, ts: PacketTime, c: Chunk<'_>) -> CaptureEvent<'_> {
    match c {
        Chunk::Data { offset, bytes } => CaptureEvent::Data { flow_id, dir, offset, bytes, ts },
        Chunk::Gap { offset, len } => CaptureEvent::Gap { flow_id, dir, offset, len, ts },
        Chunk::Conflict { offset, len } => CaptureEvent::OverlapConflict { flow_id, dir, offset, len, ts },
    }
}
