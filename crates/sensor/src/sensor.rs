//! The sensor proper: flow lifecycle calls in, events out.

use crate::fields::{self, Fields};
use crate::flow::{FlowMeta, FlowOrigin, FlowState, Named, Tunnel};
use netward_canon::canonical_host;
use netward_events::{ActionType, NetworkEvent, Protocol, Timestamp};
use netward_policy::{EnforcementLevel, Matcher, Verdict, VerdictAction, WarnAllows};
use netward_wire::{
    is_dns_port, Direction, DnsCache, DnsCacheConfig, FlowInspector, FlowKind, Host, Observation, Target, TunnelKind,
    TunnelStatus, Work,
};
use serde_json::json;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct SensorConfig {
    pub device_id: String,
    pub device_name: String,
    pub dns_cache: DnsCacheConfig,
    /// Flows followed at once; a new flow beyond it is counted, not followed
    /// (the datapath or capture layer bounds flows too; this is the backstop).
    pub max_flows: usize,
    /// What block mode does with a flow the inspector cannot follow (see
    /// [`Unfollowable`]); default [`Unfollowable::Allow`].
    pub unfollowable: Unfollowable,
    /// One budget for all bytes the flows' inspectors buffer (partial
    /// messages being reassembled): past it, the flows holding the most are
    /// given up (counted in [`SensorStats::buffer_evictions`], flagged lost).
    /// Default 64 MiB.
    pub max_buffered_bytes: usize,
    /// Per flow, the destinations judged and the proxy targets reported are
    /// remembered up to this many each (a keep-alive proxy connection may
    /// name any number); past it the oldest is forgotten, counted in
    /// [`SensorStats::key_evictions`], and may be judged or reported again.
    /// Default 256.
    pub max_keys_per_flow: usize,
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig {
            device_id: String::new(),
            device_name: String::new(),
            dns_cache: DnsCacheConfig::default(),
            max_flows: 1 << 20,
            unfollowable: Unfollowable::Allow,
            max_buffered_bytes: 64 << 20,
            max_keys_per_flow: 256,
        }
    }
}

/// What block mode does with a flow the inspector cannot follow (input it
/// cannot parse or a size cap before the flow named all it may: a TLS
/// ClientHello it cannot read, a QUIC Initial stream it gives up on, a
/// request head it cannot read, tunnels nested too deep, the memory budget).
/// Such a flow is always flagged: one inspected event with
/// `AdditionalFields.inspection = "lost"` and `inspection_reason`, and the
/// same two fields on every later event of the flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Unfollowable {
    /// The default: the flow goes on, judged by what was named (its remote
    /// address at least). Blocking what cannot be parsed would also block
    /// the merely unusual.
    #[default]
    Allow,
    /// With the policy at level `block`, the flow is blocked
    /// ([`Sensor::decision`] says [`FlowDecision::Block`]) and an
    /// `ExploitGuardNetworkProtectionBlocked` event says why; at level
    /// `audit`, an `ExploitGuardNetworkProtectionAudited` event instead. DNS
    /// flows are never blocked (as for verdicts on DNS answers).
    Block,
}

/// The policy the sensor judges names with, and the level that decides
/// whether a verdict is a block or an audit.
#[derive(Clone)]
pub struct PolicyContext {
    pub matcher: Arc<Matcher>,
    pub level: EnforcementLevel,
    /// Temporary allows that lift a `warn` verdict for a user (or everyone)
    /// until they end (`netward warn allow`, a notification's action).
    pub warn_allows: Arc<WarnAllows>,
}

impl PolicyContext {
    /// A policy without temporary warn allows.
    pub fn new(matcher: Arc<Matcher>, level: EnforcementLevel) -> Self {
        PolicyContext { matcher, level, warn_allows: Arc::default() }
    }
}

/// What a live datapath does with a flow's packets after the sensor has seen
/// one: the verdict lands on the very packet that completed a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowDecision {
    /// The destination is not known yet (no name, a tunnel not yet open):
    /// keep sending the flow's first packets.
    Inspect,
    /// Every later client request may name another host (plain HTTP, to a
    /// proxy or to a server): keep sending the client's packets for the
    /// flow's whole life.
    Follow,
    /// Nothing more to learn and nothing enforced: later packets may bypass
    /// the sensor.
    Pass,
    /// An enforced verdict: drop this packet and reset the connection.
    Block,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SensorStats {
    pub flows: u64,
    pub flows_not_followed: u64,
    pub unparsed_layers: u64,
    pub events: u64,
    pub verdicts: u64,
    /// Flows followed now.
    pub flows_live: u64,
    /// Flows flagged as not followable (`inspection: lost`).
    pub flows_lost: u64,
    /// Bytes the inspectors buffer now, across flows (at most
    /// [`SensorConfig::max_buffered_bytes`] after every call).
    pub buffered_bytes: u64,
    /// Flows given up to stay within the buffer budget.
    pub buffer_evictions: u64,
    /// Keys (judged destinations, reported targets) held now, across flows.
    pub keys_held: u64,
    /// Keys forgotten to stay within [`SensorConfig::max_keys_per_flow`].
    pub key_evictions: u64,
    /// Times an HTTP connection lost its framing and found the next request.
    pub resyncs: u64,
    /// DNS responses sent by the client side of a flow: not learned from.
    pub dns_answers_ignored: u64,
    /// Work done by the inspectors (of ended and live flows) and the DNS
    /// cache: bytes copied and scanned, range operations, bytes decrypted,
    /// name steps. `stats()` sums the live flows' (a few additions each).
    pub work: Work,
}

pub struct Sensor {
    config: SensorConfig,
    dns: DnsCache,
    flows: HashMap<u64, FlowState, foldhash::fast::RandomState>,
    out: VecDeque<NetworkEvent>,
    policy: Option<PolicyContext>,
    stats: SensorStats,
    /// Flows by bytes buffered (the largest is given up first).
    by_buffer: BTreeSet<(usize, u64)>,
    /// Seeds the hashes of judged and reported keys.
    hasher: RandomState,
}

fn since_epoch(ts: Timestamp) -> Duration {
    Duration::from_nanos(u64::try_from(ts.unix_nanos()).unwrap_or(0))
}

/// The canonical host of a name seen on the wire; `None` when it is not a
/// host at all (such a name names nothing and is not reported).
fn canon_name(name: &str) -> Option<String> {
    canonical_host(name).ok().map(|h| h.host.to_string())
}

fn canon_target(t: &Target) -> Option<String> {
    match &t.host {
        Host::Name(n) => canon_name(n),
        Host::Ip(ip) => canon_name(&ip.to_string()),
    }
}

fn tunnel_kind(k: TunnelKind) -> &'static str {
    match k {
        TunnelKind::HttpConnect => "http-connect",
        TunnelKind::Socks4 => "socks4",
        TunnelKind::Socks4a => "socks4a",
        TunnelKind::Socks5 => "socks5",
    }
}

impl Sensor {
    pub fn new(config: SensorConfig) -> Self {
        Sensor {
            dns: DnsCache::new(config.dns_cache),
            config,
            flows: HashMap::default(),
            out: VecDeque::new(),
            policy: None,
            stats: SensorStats::default(),
            by_buffer: BTreeSet::new(),
            hasher: RandomState::new(),
        }
    }

    /// Judge names with this policy from now on (`None`: no verdicts).
    pub fn set_policy(&mut self, policy: Option<PolicyContext>) {
        self.policy = policy;
    }

    pub fn stats(&self) -> SensorStats {
        let mut s = self.stats;
        s.flows_live = self.flows.len() as u64;
        s.work.add(&self.dns.work());
        s
    }

    /// The next event, oldest first.
    pub fn poll(&mut self) -> Option<NetworkEvent> {
        self.out.pop_front()
    }

    pub fn flow_start(&mut self, id: u64, meta: FlowMeta, ts: Timestamp) {
        // An id still live is a flow that ended unseen: end it first, so it
        // has its connection event and gives back what it held.
        if let Some(old) = self.flows.get(&id) {
            let outcome =
                if old.established.is_some() { ActionType::ConnectionSuccess } else { ActionType::ConnectionAttempt };
            self.flow_end(id, outcome, ts);
        }
        if self.flows.len() >= self.config.max_flows {
            self.stats.flows_not_followed += 1;
            return;
        }
        let kind = match meta.protocol {
            Protocol::Udp => FlowKind::Udp { dst_port: meta.remote.port() },
            _ => FlowKind::Tcp { dst_port: meta.remote.port() },
        };
        self.stats.flows += 1;
        self.flows.insert(id, FlowState::new(meta, FlowInspector::new(kind), ts));
    }

    /// The connection is set up (TCP handshake done; UDP: both sides spoke).
    pub fn established(&mut self, id: u64, ts: Timestamp) {
        let Some(flow) = self.flows.get_mut(&id) else { return };
        if flow.established.is_none() {
            flow.established = Some(ts);
        }
        if flow.name.is_some() && flow.meta.protocol == Protocol::Tcp {
            self.emit_connection(id, ActionType::ConnectionSuccess);
        }
    }

    /// Where flow `id` came from (told right after [`Sensor::flow_start`],
    /// before its first event); every later event of the flow says it.
    pub fn set_origin(&mut self, id: u64, origin: FlowOrigin) {
        if let Some(flow) = self.flows.get_mut(&id) {
            flow.origin = origin;
        }
    }

    /// The uid owning flow `id`'s socket (told right after
    /// [`Sensor::flow_start`], before its first bytes): its warn allows apply.
    pub fn set_user(&mut self, id: u64, uid: u32) {
        if let Some(flow) = self.flows.get_mut(&id) {
            flow.user = Some(uid);
        }
    }

    /// What the datapath should do with flow `id` now; `None` for a flow the
    /// sensor does not follow (unknown, or over its flow bound).
    pub fn decision(&self, id: u64) -> Option<FlowDecision> {
        let flow = self.flows.get(&id)?;
        Some(if flow.blocked {
            FlowDecision::Block
        } else if flow.inspector.is_finished() && flow.pending_targets.is_empty() {
            FlowDecision::Pass
        } else if flow.proxy_form || flow.origin_form {
            // Plain HTTP, to a proxy or straight to a server: each later
            // request of a keep-alive connection may name another host (a
            // proxy-form request, another Host on a shared address), so each
            // one needs a decision and the client's packets stay followed.
            FlowDecision::Follow
        } else {
            FlowDecision::Inspect
        })
    }

    /// The datapath stops showing flow `id` before it was decided (its
    /// packet budget is spent): the flow is flagged as not followed to the
    /// end (`inspection: lost`, `inspection_reason` = `reason`) and
    /// [`SensorConfig::unfollowable`] applies, as for a flow the inspector
    /// itself gives up on. [`Sensor::decision`] says what to do with it now.
    pub fn give_up(&mut self, id: u64, reason: &'static str, ts: Timestamp) {
        let Some(flow) = self.flows.get_mut(&id) else { return };
        flow.inspector.give_up(reason);
        self.account(id);
        self.check_lost(id, ts);
        self.name_from_dns_when_done(id, ts);
    }

    /// A socket event that needs no inspection (`InboundConnectionAccepted`,
    /// `ListeningConnectionCreated`): `meta.local` is this device's side.
    pub fn socket_event(&mut self, meta: FlowMeta, action: ActionType, ts: Timestamp) {
        let ev = self.base_event(&meta, ts, action);
        self.push(ev);
    }

    /// `ListeningConnectionCreated`: a socket of this device began to listen
    /// on `local`. There is no remote side, so `RemoteIP`/`RemotePort` stay empty.
    pub fn listening(&mut self, protocol: Protocol, local: std::net::SocketAddr, ts: Timestamp) {
        let meta = FlowMeta { protocol, local, remote: local };
        let mut ev = self.base_event(&meta, ts, ActionType::ListeningConnectionCreated);
        ev.remote_ip = None;
        ev.remote_port = None;
        self.push(ev);
    }

    /// Bytes of one direction, in order (TCP), or one datagram (UDP).
    pub fn data(&mut self, id: u64, dir: Direction, bytes: &[u8], ts: Timestamp) {
        let Some(flow) = self.flows.get_mut(&id) else { return };
        // The verdict point is the first client bytes (after the handshake):
        // IP and CIDR indicators apply there whatever name follows.
        if dir == Direction::ToServer && !flow.address_judged {
            flow.address_judged = true;
            let remote = flow.meta.remote.ip().to_string();
            self.judge(id, &remote, ts, None);
        }
        let Some(flow) = self.flows.get_mut(&id) else { return };
        // Even when the client side can teach nothing more, the server's
        // answer can (a proxy accepting a tunnel), so every byte is fed.
        flow.inspector.feed(dir, bytes);
        let first = flow.inspector.poll();
        account(flow, id, &mut self.stats, &mut self.by_buffer);
        let unnamed_done = !flow.dns_name_tried && flow.name.is_none() && flow.inspector.is_finished();
        // The common case, a segment that teaches nothing: one map lookup.
        if first.is_none() && (flow.lost.is_some() || flow.inspector.lost().is_none()) && !unnamed_done {
            if self.stats.buffered_bytes > self.config.max_buffered_bytes as u64 {
                self.enforce_budget(ts);
            }
            return;
        }
        let mut batch: Vec<Observation> = first.into_iter().collect();
        while let Some(o) = flow.inspector.poll() {
            batch.push(o);
        }
        if !batch.is_empty() {
            self.observe(id, dir, batch, ts);
        }
        self.check_lost(id, ts);
        self.name_from_dns_when_done(id, ts);
        self.enforce_budget(ts);
    }

    /// A flow the inspector is done with that named nothing (a protocol
    /// without names, a ClientHello without SNI it could not read) is named
    /// from DNS answers now, and that name judged, before the datapath lets
    /// it pass: judged only at its end, a block would come too late.
    fn name_from_dns_when_done(&mut self, id: u64, ts: Timestamp) {
        let Some(flow) = self.flows.get_mut(&id) else { return };
        if flow.dns_name_tried || flow.name.is_some() || !flow.inspector.is_finished() {
            return;
        }
        flow.dns_name_tried = true;
        let (local, remote) = (flow.meta.local.ip(), flow.meta.remote.ip());
        let Some(named) = self.inferred(local, remote, ts) else { return };
        let host = named.host.clone();
        self.learn_name(id, named);
        self.judge(id, &host, ts, None);
    }

    /// Brings the buffer accounting up to date with flow `id`'s inspector.
    fn account(&mut self, id: u64) {
        if let Some(flow) = self.flows.get_mut(&id) {
            account(flow, id, &mut self.stats, &mut self.by_buffer);
        }
    }

    /// Over the buffer budget: give up the flows holding the most until under it.
    fn enforce_budget(&mut self, ts: Timestamp) {
        while self.stats.buffered_bytes > self.config.max_buffered_bytes as u64 {
            let Some(&(_, victim)) = self.by_buffer.last() else { break };
            if let Some(flow) = self.flows.get_mut(&victim) {
                flow.inspector.give_up("inspection memory budget exceeded");
            }
            self.stats.buffer_evictions += 1;
            self.account(victim);
            self.check_lost(victim, ts);
            if self.flows.get(&victim).is_none_or(|f| f.buffered > 0) {
                // Cannot happen (give_up frees everything): never spin.
                self.by_buffer.retain(|&(_, f)| f != victim);
                break;
            }
        }
    }

    /// Flags flow `id` once its inspector says it can no longer be followed:
    /// one inspected event saying why, the flag on its later events, and
    /// what [`SensorConfig::unfollowable`] asks for.
    fn check_lost(&mut self, id: u64, ts: Timestamp) {
        let Some(flow) = self.flows.get_mut(&id) else { return };
        if flow.lost.is_some() {
            return;
        }
        let Some(lost) = flow.inspector.lost().copied() else { return };
        let reason = format!("{}: {}", lost.protocol.name(), lost.reason);
        flow.lost = Some(reason.clone());
        self.stats.flows_lost += 1;
        let meta = flow.meta;
        let name = flow.name.clone();
        let action = match lost.protocol {
            netward_wire::Protocol::Tls | netward_wire::Protocol::Quic => ActionType::SslConnectionInspected,
            netward_wire::Protocol::Dns => ActionType::DnsConnectionInspected,
            _ => ActionType::HttpConnectionInspected,
        };
        let mut ev = self.base_event(&meta, ts, action);
        ev.additional_fields.insert("direction".into(), json!("Out"));
        ev.additional_fields.insert("protocol".into(), json!(lost.protocol.name()));
        ev.additional_fields.insert("layer".into(), json!(lost.layer));
        if let Some(n) = &name {
            ev.remote_url = n.host.clone();
            ev.additional_fields.insert("name_source".into(), json!(n.source));
        }
        self.push_for(id, ev);
        if self.config.unfollowable != Unfollowable::Block {
            return;
        }
        let Some(level) = self.policy.as_ref().map(|p| p.level) else { return };
        let enforced = match level {
            EnforcementLevel::Block => !is_dns_port(meta.remote.port()),
            EnforcementLevel::Audit => false,
            EnforcementLevel::Disabled => return,
        };
        let action = if enforced {
            if let Some(flow) = self.flows.get_mut(&id) {
                flow.blocked = true;
            }
            ActionType::ExploitGuardNetworkProtectionBlocked
        } else {
            ActionType::ExploitGuardNetworkProtectionAudited
        };
        self.stats.verdicts += 1;
        let mut ev = self.base_event(&meta, ts, action);
        ev.remote_url = name.map(|n| n.host).unwrap_or_default();
        let f = &mut ev.additional_fields;
        f.insert("IsAudit".into(), json!(!enforced));
        f.insert("ResponseCategory".into(), json!(""));
        f.insert("DisplayName".into(), json!("flow that cannot be inspected"));
        f.insert("action".into(), json!(if enforced { "block" } else { "audit" }));
        f.insert("enforcement_level".into(), json!(level.as_str()));
        f.insert("unfollowable".into(), json!("block"));
        self.push_for(id, ev);
    }

    /// Bytes of a retransmission differed from the first copy: an evasion
    /// attempt, flagged on the flow's connection event.
    pub fn overlap_conflict(&mut self, id: u64) {
        if let Some(flow) = self.flows.get_mut(&id) {
            flow.overlap_conflict = true;
        }
    }

    /// The flow is over; `outcome` is its connection action type.
    pub fn flow_end(&mut self, id: u64, outcome: ActionType, ts: Timestamp) {
        let pending = self.flows.get_mut(&id).map(|f| std::mem::take(&mut f.pending_targets)).unwrap_or_default();
        for (_, t) in pending {
            self.emit_target(id, &t, None, tunnel_source_name(t.kind), ts);
        }
        if let Some(flow) = self.flows.get_mut(&id) {
            if flow.established.is_none() && outcome == ActionType::ConnectionSuccess {
                flow.established = Some(ts);
            }
            if !flow.connection_emitted {
                self.emit_connection(id, outcome);
            }
        }
        self.account(id);
        if let Some(flow) = self.flows.remove(&id) {
            self.stats.work.add(&flow.inspector.work());
            self.by_buffer.remove(&(flow.buffered, id));
            self.stats.buffered_bytes -= flow.buffered as u64;
            self.stats.keys_held -= (flow.judged.len() + flow.targets_done.len()) as u64;
        }
    }

    fn observe(&mut self, id: u64, dir: Direction, batch: Vec<Observation>, ts: Timestamp) {
        // A mismatch is reported after the ClientHello it concerns; look
        // ahead so the SslConnectionInspected event carries it.
        let mismatched: Vec<u8> = batch
            .iter()
            .filter_map(|o| match o {
                Observation::SniMismatch { layer, .. } => Some(*layer),
                _ => None,
            })
            .collect();
        for o in batch {
            match o {
                Observation::TlsClientHello(info) => {
                    self.on_client_hello(id, &info, mismatched.contains(&info.layer), ts)
                }
                Observation::HttpRequest(req) => self.on_http_request(id, &req, ts),
                Observation::HttpForward { target, .. } => {
                    if let Some(host) = canon_target(&target) {
                        let t = Tunnel { kind: "http-forward", host: host.clone(), port: target.port };
                        self.emit_target(id, &t, Some(&host), "host", ts);
                    }
                }
                Observation::ProxyTunnel { kind, target, status, layer } => {
                    self.on_tunnel(id, kind, &target, status, layer, ts)
                }
                Observation::Dns(info) => self.on_dns(id, dir, &info, ts),
                Observation::SniMismatch { .. } => {}
                Observation::Unparsed { .. } => self.stats.unparsed_layers += 1,
                Observation::Resync { reason, .. } => {
                    self.stats.resyncs += 1;
                    if let Some(flow) = self.flows.get_mut(&id) {
                        flow.resync = Some(reason);
                    }
                }
            }
        }
    }

    fn base_event(&self, meta: &FlowMeta, ts: Timestamp, action: ActionType) -> NetworkEvent {
        NetworkEvent {
            timestamp: ts,
            device_id: self.config.device_id.clone(),
            device_name: self.config.device_name.clone(),
            action_type: Some(action),
            remote_ip: Some(meta.remote.ip()),
            remote_port: Some(meta.remote.port()),
            local_ip: Some(meta.local.ip()),
            local_port: Some(meta.local.port()),
            protocol: Some(meta.protocol),
            ..Default::default()
        }
    }

    fn push(&mut self, ev: NetworkEvent) {
        self.stats.events += 1;
        self.out.push_back(ev);
    }

    /// Pushes an event of flow `id`: once the flow is lost, it says so.
    fn push_for(&mut self, id: u64, mut ev: NetworkEvent) {
        if let Some(FlowOrigin::Forwarded { interface }) = self.flows.get(&id).map(|f| &f.origin) {
            ev.additional_fields.insert("forwarded".into(), json!(true));
            ev.additional_fields.insert("interface".into(), json!(interface.as_ref()));
        }
        if let Some(why) = self.flows.get(&id).and_then(|f| f.lost.as_ref()) {
            ev.additional_fields.insert("inspection".into(), json!("lost"));
            ev.additional_fields.insert("inspection_reason".into(), json!(why));
        }
        self.push(ev);
    }

    /// The key a destination is remembered under: its canonical spelling, hashed.
    fn key(&self, s: &str) -> u64 {
        self.hasher.hash_one(s)
    }

    /// A name from DNS answers for an address, with every candidate.
    fn inferred(&mut self, client: IpAddr, addr: IpAddr, ts: Timestamp) -> Option<Named> {
        let names: Vec<String> =
            self.dns.lookup(client, addr, since_epoch(ts)).into_iter().filter_map(|n| canon_name(&n.name)).collect();
        let host = names.first()?.clone();
        Some(Named { host, source: "dns", candidates: names })
    }

    /// Records the outer layer's name; the connection event follows once the
    /// connection is known to be set up.
    fn learn_name(&mut self, id: u64, named: Named) {
        let Some(flow) = self.flows.get_mut(&id) else { return };
        if flow.name.is_some() {
            return;
        }
        flow.name = Some(named);
        if flow.established.is_some() && flow.meta.protocol == Protocol::Tcp {
            self.emit_connection(id, ActionType::ConnectionSuccess);
        }
    }

    fn emit_connection(&mut self, id: u64, action: ActionType) {
        let Some(flow) = self.flows.get_mut(&id) else { return };
        if flow.connection_emitted {
            return;
        }
        flow.connection_emitted = true;
        let meta = flow.meta;
        let ts = flow.established.unwrap_or(flow.started);
        let overlap = flow.overlap_conflict;
        let mut name = flow.name.clone();
        if name.is_none() {
            name = self.inferred(meta.local.ip(), meta.remote.ip(), ts);
        }
        let mut ev = self.base_event(&meta, ts, action);
        if let Some(n) = &name {
            ev.remote_url = n.host.clone();
            ev.additional_fields.insert("name_source".into(), json!(n.source));
            if n.source == "dns" {
                ev.additional_fields.insert("inferred".into(), json!(true));
                ev.additional_fields.insert("dns_candidates".into(), json!(n.candidates));
            }
        }
        if overlap {
            ev.additional_fields.insert("overlap_conflict".into(), json!(true));
        }
        self.push_for(id, ev);
        // The address itself is judged too: IP and CIDR indicators apply
        // whatever name the connection carries.
        self.judge(id, &meta.remote.ip().to_string(), ts, None);
        if let Some(n) = name {
            if n.source == "dns" {
                self.judge(id, &n.host, ts, None);
            }
        }
    }

    fn on_client_hello(&mut self, id: u64, info: &netward_wire::ClientHelloInfo, mismatch: bool, ts: Timestamp) {
        let Some(flow) = self.flows.get(&id) else { return };
        let meta = flow.meta;
        let tunnel = flow.tunnel_of(info.layer).cloned();
        let quic = matches!(info.transport, netward_wire::Transport::Quic);
        let named = match info.sni.as_deref().and_then(canon_name) {
            Some(host) => Some(Named { host, source: if quic { "quic" } else { "sni" }, candidates: vec![] }),
            None => match &tunnel {
                Some(t) => match t.host.parse::<IpAddr>() {
                    // A tunnel to an address: only DNS can name it.
                    Ok(ip) => self.inferred(meta.local.ip(), ip, ts),
                    Err(_) => {
                        Some(Named { host: t.host.clone(), source: tunnel_source_name(t.kind), candidates: vec![] })
                    }
                },
                None => self.inferred(meta.local.ip(), meta.remote.ip(), ts),
            },
        };
        let mut ev = self.base_event(&meta, ts, ActionType::SslConnectionInspected);
        let mut f: Fields = fields::tls(info, tunnel.as_ref(), mismatch);
        if let Some(n) = &named {
            ev.remote_url = n.host.clone();
            f.insert("name_source".into(), json!(n.source));
            if n.source == "dns" {
                f.insert("dns_candidates".into(), json!(n.candidates));
            }
        }
        ev.additional_fields = f;
        self.push_for(id, ev);
        if let Some(n) = named {
            if n.source != "dns" {
                self.name_inner_layer(id, info.layer, &n, ts);
            }
            if info.layer == 0 || n.source != "dns" {
                self.learn_name(id, n.clone());
            }
            self.judge(id, &n.host, ts, tunnel.as_ref());
        }
    }

    /// A name seen inside a tunnel opened to an address literal names that
    /// tunnel's target (and, through `learn_name`, the outer connection).
    fn name_inner_layer(&mut self, id: u64, layer: u8, n: &Named, ts: Timestamp) {
        let Some(outer) = layer.checked_sub(1) else { return };
        let Some(flow) = self.flows.get_mut(&id) else { return };
        let Some(pos) = flow.pending_targets.iter().position(|(l, _)| *l == outer) else { return };
        let (_, t) = flow.pending_targets.remove(pos);
        self.emit_target(id, &t, Some(&n.host), n.source, ts);
    }

    fn on_http_request(&mut self, id: u64, req: &netward_wire::HttpRequestInfo, ts: Timestamp) {
        let Some(flow) = self.flows.get(&id) else { return };
        let meta = flow.meta;
        let outer = flow.tunnel_of(req.layer).cloned();
        let Some(target) = &req.target else { return };
        let Some(host) = canon_target(target) else { return };
        if req.layer == 0 {
            if let Some(flow) = self.flows.get_mut(&id) {
                match (&req.absolute_uri, &req.connect_authority) {
                    (Some(_), _) => flow.proxy_form = true,
                    (None, None) => flow.origin_form = true,
                    (None, Some(_)) => {}
                }
            }
        }
        let (source, proxy_field) = if let Some(auth) = &req.connect_authority {
            ("connect", Some(fields::proxy("http-connect", auth)))
        } else if req.absolute_uri.is_some() {
            let t = Tunnel { kind: "http-forward", host: host.clone(), port: target.port };
            ("host", Some(fields::proxy("http-forward", &t.target())))
        } else {
            ("host", outer.as_ref().map(|t| fields::proxy(t.kind, &t.target())))
        };
        let url = match (&req.absolute_uri, &req.connect_authority) {
            (Some(u), _) => u.clone(),
            (None, Some(a)) => a.clone(),
            (None, None) => {
                let port = if target.port == 80 { String::new() } else { format!(":{}", target.port) };
                let h = if host.contains(':') { format!("[{host}]") } else { host.clone() };
                format!("http://{h}{port}{}", req.uri)
            }
        };
        let mut ev = self.base_event(&meta, ts, ActionType::HttpConnectionInspected);
        ev.remote_url = host.clone();
        let mut f = fields::http(req, &url, req.host.as_deref().unwrap_or(""), proxy_field);
        f.insert("name_source".into(), json!(source));
        // A Host header naming another host than the request-target: the
        // proxy follows the target (RFC 9112 3.2.2) but a server behind it
        // may follow the header, so both names are judged and the mismatch
        // is flagged.
        let header_host = req.host.as_deref().and_then(canon_name);
        let host_mismatch = req.absolute_uri.is_some() && header_host.as_ref().is_some_and(|h| *h != host);
        if host_mismatch {
            f.insert("host_mismatch".into(), json!(true));
        }
        // The framing was lost before this request and found again here.
        if let Some(why) = self.flows.get_mut(&id).and_then(|f| f.resync.take()) {
            f.insert("resync".into(), json!(why));
        }
        ev.additional_fields = f;
        self.push_for(id, ev);
        let named = Named { host: host.clone(), source, candidates: vec![] };
        self.name_inner_layer(id, req.layer, &named, ts);
        self.learn_name(id, named);
        // URL indicators need the path; CONNECT has none, so the host.
        let address = host.parse::<IpAddr>().ok();
        let judged = if req.connect_authority.is_some() { host } else { url };
        self.judge(id, &judged, ts, outer.as_ref());
        if let (true, Some(h)) = (host_mismatch, header_host) {
            self.judge(id, &h, ts, outer.as_ref());
        }
        // A request that names only an address (`Host: 192.0.2.1`) names
        // nothing more than a ClientHello without SNI: the name the client's
        // DNS answers gave that address is judged too. (Not a CONNECT: the
        // tunnel's content names its target better.)
        let to_address = req.connect_authority.is_none() && !host_mismatch;
        if let (true, Some(ip)) = (to_address, address) {
            if let Some(n) = self.inferred(meta.local.ip(), ip, ts) {
                self.judge(id, &n.host, ts, outer.as_ref());
            }
        }
    }

    fn on_tunnel(
        &mut self,
        id: u64,
        kind: TunnelKind,
        target: &Target,
        status: TunnelStatus,
        layer: u8,
        ts: Timestamp,
    ) {
        let Some(host) = canon_target(target) else { return };
        let t = Tunnel { kind: tunnel_kind(kind), host: host.clone(), port: target.port };
        if let Some(flow) = self.flows.get_mut(&id) {
            flow.set_tunnel(layer, t.clone());
        }
        let by_address = target_is_address(target);
        if !by_address {
            self.learn_name(id, Named { host: host.clone(), source: tunnel_source_name(t.kind), candidates: vec![] });
        }
        match status {
            TunnelStatus::Established if by_address => {
                if let Some(flow) = self.flows.get_mut(&id) {
                    flow.pending_targets.push((layer, t));
                }
            }
            TunnelStatus::Established => self.emit_target(id, &t, Some(&host), tunnel_source_name(t.kind), ts),
            TunnelStatus::Requested => self.judge(id, &host, ts, None),
            TunnelStatus::Refused { .. } => {}
        }
    }

    /// The `ConnectionSuccess` of a target reached through a proxy: once per
    /// target per connection. `name` is the target's name: its own, or the
    /// one the tunnel's content gave an address literal; `None` when unknown.
    fn emit_target(&mut self, id: u64, t: &Tunnel, name: Option<&str>, source: &'static str, ts: Timestamp) {
        let key = self.key(&format!("{} {}", t.kind, t.target()));
        let cap = self.config.max_keys_per_flow;
        let Some(flow) = self.flows.get_mut(&id) else { return };
        if !first_time(&mut self.stats, &mut flow.targets_done, key, cap) {
            return;
        }
        let meta = flow.meta;
        let mut ev = self.base_event(&meta, ts, ActionType::ConnectionSuccess);
        ev.remote_ip = t.host.parse::<IpAddr>().ok();
        ev.remote_port = Some(t.port);
        ev.remote_url = name.unwrap_or_default().to_string();
        if name.is_some() {
            ev.additional_fields.insert("name_source".into(), json!(source));
        }
        ev.additional_fields.insert(
            "proxy".into(),
            json!({ "kind": t.kind, "target": t.target(), "address": meta.remote.to_string() }),
        );
        self.push_for(id, ev);
        self.judge(id, &t.host, ts, Some(t));
        if let Some(n) = name {
            self.judge(id, n, ts, Some(t));
        }
    }

    fn on_dns(&mut self, id: u64, dir: Direction, info: &netward_wire::DnsInfo, ts: Timestamp) {
        let Some(flow) = self.flows.get(&id) else { return };
        if !info.is_response {
            return;
        }
        // Only answers the client received teach anything: a "response" the
        // client sends would name its own connections as it likes.
        if dir != Direction::ToClient {
            self.stats.dns_answers_ignored += 1;
            return;
        }
        let meta = flow.meta;
        self.dns.record(meta.local.ip(), info, since_epoch(ts));
        let mut ev = self.base_event(&meta, ts, ActionType::DnsConnectionInspected);
        let query = info.query.as_deref().and_then(canon_name);
        ev.remote_url = query.clone().unwrap_or_default();
        let mut f = fields::dns(info);
        f.insert("name_source".into(), json!("dns"));
        ev.additional_fields = f;
        // The query name is not judged here: a lookup is never what is
        // blocked (the program would wait for a resolver timeout), so a
        // verdict row on the DNS flow would claim a block that did not
        // happen. The connection to the name is judged (and blocked) when it
        // comes, named by its SNI or Host or by this answer; the lookup
        // itself stays on record in the DnsConnectionInspected row above.
        self.push_for(id, ev);
    }

    /// Asks the policy about one destination of a flow (once per flow and
    /// canonical spelling: two spellings of one URL are one verdict) and
    /// emits the audit/block event when it says so.
    fn judge(&mut self, id: u64, input: &str, ts: Timestamp, via: Option<&Tunnel>) {
        let Some(policy) = &self.policy else { return };
        if policy.level == EnforcementLevel::Disabled {
            return;
        }
        // A destination the canonicaliser refuses names nothing to judge.
        let Ok(dest) = netward_canon::canonical_destination(input) else { return };
        let key = self.hasher.hash_one(dest.to_string());
        let cap = self.config.max_keys_per_flow;
        let Some(flow) = self.flows.get_mut(&id) else { return };
        if !first_time(&mut self.stats, &mut flow.judged, key, cap) {
            return;
        }
        let meta = flow.meta;
        let now_secs = ts.unix_nanos().div_euclid(1_000_000_000);
        let mut verdict = policy.matcher.evaluate_destination(input, &dest, policy.level, now_secs);
        // A warn the user (or an admin) chose to allow for a while passes,
        // reported as audited with the allow that lifted it.
        let lifted = if verdict.action == VerdictAction::Warn && verdict.enforced {
            policy.warn_allows.find(flow.user, &verdict_host(&verdict), now_secs).cloned()
        } else {
            None
        };
        if lifted.is_some() {
            verdict.enforced = false;
        }
        // A DNS flow is never blocked (the program would wait for a
        // resolver timeout; the connection to the name is blocked instead),
        // so its verdict is recorded as what happened: audited.
        if verdict.enforced && is_dns_port(meta.remote.port()) {
            verdict.enforced = false;
            verdict.note = Some("a DNS flow is never blocked; the connection to the name is");
        }
        let action = match verdict.action {
            VerdictAction::Block | VerdictAction::Warn | VerdictAction::Audit => {
                if verdict.enforced {
                    flow.blocked = true;
                    ActionType::ExploitGuardNetworkProtectionBlocked
                } else {
                    ActionType::ExploitGuardNetworkProtectionAudited
                }
            }
            VerdictAction::Allow | VerdictAction::None => return,
        };
        self.stats.verdicts += 1;
        let mut ev = self.base_event(&meta, ts, action);
        ev.remote_url = verdict_host(&verdict);
        ev.additional_fields = verdict_fields(&verdict, via);
        if let Some(a) = lifted {
            let until = Timestamp::from_unix_nanos(a.until.saturating_mul(1_000_000_000));
            let allow = json!({"user": a.user, "until": until.to_string(), "by": a.by});
            ev.additional_fields.insert("warn_allowed".into(), allow);
        }
        self.push_for(id, ev);
    }
}

/// Brings the buffer accounting up to date with a flow's inspector (indexed
/// by size for the budget).
fn account(flow: &mut FlowState, id: u64, stats: &mut SensorStats, by_buffer: &mut BTreeSet<(usize, u64)>) {
    let b = flow.inspector.buffered();
    if b != flow.buffered {
        by_buffer.remove(&(flow.buffered, id));
        if b > 0 {
            by_buffer.insert((b, id));
        }
        stats.buffered_bytes = stats.buffered_bytes + b as u64 - flow.buffered as u64;
        flow.buffered = b;
    }
}

fn target_is_address(t: &Target) -> bool {
    match &t.host {
        Host::Ip(_) => true,
        Host::Name(n) => canonical_host(n).is_ok_and(|h| h.host.ip().is_some()),
    }
}

/// `name_source` of a name a tunnel gives: `connect` or `socks`.
fn tunnel_source_name(kind: &str) -> &'static str {
    if kind == "http-connect" {
        "connect"
    } else {
        "socks"
    }
}

/// The host of a verdict's canonical destination (URLs keep only the host,
/// as `RemoteUrl` does for every other event).
fn verdict_host(v: &Verdict) -> String {
    netward_canon::canonical_destination(&v.canonical)
        .map(|d| d.host().to_string())
        .unwrap_or_else(|_| v.canonical.clone())
}

fn verdict_fields(v: &Verdict, via: Option<&Tunnel>) -> Fields {
    let mut f = Fields::new();
    f.insert("IsAudit".into(), json!(!v.enforced));
    f.insert("ResponseCategory".into(), json!(v.category.as_ref().map(|c| c.as_str()).unwrap_or("")));
    f.insert("DisplayName".into(), json!(v.title.clone().unwrap_or_else(|| v.canonical.clone())));
    f.insert("action".into(), serde_json::to_value(v.action).unwrap_or_default());
    f.insert("enforcement_level".into(), json!(v.enforcement_level.as_str()));
    f.insert("url".into(), json!(v.canonical));
    f.insert("matched".into(), serde_json::to_value(&v.matched).unwrap_or_default());
    if let Some(note) = v.note {
        f.insert("note".into(), json!(note));
    }
    if let Some(t) = via {
        f.insert("proxy".into(), fields::proxy(t.kind, &t.target()));
    }
    f
}

/// Adds `key` to one of a flow's bounded key sets, counting what it holds
/// and evicts; `false` when the key was there already (done before).
fn first_time(stats: &mut SensorStats, set: &mut crate::flow::KeySet, key: u64, cap: usize) -> bool {
    let (new, evicted) = set.insert(key, cap);
    if new && evicted {
        stats.key_evictions += 1;
    } else if new {
        stats.keys_held += 1;
    }
    new
}
