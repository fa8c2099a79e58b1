//! What the sensor keeps per flow.

use netward_events::{Protocol, Timestamp};
use netward_wire::FlowInspector;
use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;

/// A flow as the datapath or the capture sees it: our side and theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowMeta {
    pub protocol: Protocol,
    /// The side that opened the flow (this device, for outbound flows).
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// Where a flow came from, as the datapath tells it at the flow's start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FlowOrigin {
    /// This device's own flow (or one the datapath cannot place).
    #[default]
    Local,
    /// Routed through this device (a container, VM or routed namespace):
    /// its packets came in on `interface`. Each event of the flow carries
    /// `AdditionalFields.forwarded = true` and `interface`.
    Forwarded { interface: std::sync::Arc<str> },
}

/// A name the sensor learned, canonical, and how.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Named {
    /// Canonical host (no port).
    pub host: String,
    /// `sni`, `host`, `connect`, `socks`, `quic` or `dns`.
    pub source: &'static str,
    /// For names inferred from DNS: every candidate.
    pub candidates: Vec<String>,
}

/// A tunnel one layer carries: the next layer's bytes go to `target`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tunnel {
    /// `http-connect`, `socks4`, `socks4a`, `socks5`.
    pub kind: &'static str,
    /// Canonical host of the target.
    pub host: String,
    pub port: u16,
}

impl Tunnel {
    pub fn target(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

pub(crate) struct FlowState {
    pub meta: FlowMeta,
    pub inspector: FlowInspector,
    pub started: Timestamp,
    pub established: Option<Timestamp>,
    pub connection_emitted: bool,
    /// The outer layer's name: the connection event's `RemoteUrl`.
    pub name: Option<Named>,
    /// `tunnels[l]`: the tunnel layer `l` opened, carrying layer `l + 1`.
    pub tunnels: Vec<Tunnel>,
    /// Proxy targets already reported (`kind target`), so a keep-alive
    /// connection naming one host ten times gives one target event.
    pub targets_done: KeySet,
    /// Tunnels accepted to an address literal, waiting for the name the
    /// next layer gives (SNI, Host) before their target event is emitted.
    pub pending_targets: Vec<(u8, Tunnel)>,
    /// Destinations already judged by policy on this flow (their canonical
    /// spelling, so two spellings of one URL are one verdict).
    pub judged: KeySet,
    /// The remote address was judged (on the first client bytes).
    pub address_judged: bool,
    /// The outer layer carried a proxy-form request (absolute URI) or an
    /// origin-form one: every later request may name another host (a
    /// proxy-form request on a direct connection, another Host on a shared
    /// address), so the flow is followed to its end.
    pub proxy_form: bool,
    pub origin_form: bool,
    /// An enforced verdict fell on this flow: the datapath drops the packet
    /// that carried the name and resets the connection.
    pub blocked: bool,
    pub overlap_conflict: bool,
    /// Why the flow can no longer be followed, once it cannot
    /// (`protocol: reason`); carried by its later events.
    pub lost: Option<String>,
    /// The HTTP framing was lost and found again: the next request event says why.
    pub resync: Option<&'static str>,
    /// What the inspector held after the last call (for the global budget).
    pub buffered: usize,
    pub origin: FlowOrigin,
    /// The inspector finished without a name and DNS answers were asked for one.
    pub dns_name_tried: bool,
    /// The uid owning the flow's socket, when the datapath found it at the
    /// flow's start: a user's temporary warn allows apply to it.
    pub user: Option<u32>,
}

/// Keys (64-bit hashes of canonical strings, seeded per process) remembered
/// up to a bound; past it the oldest is forgotten (and may be judged or
/// reported again, which the caller counts).
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    set: HashSet<u64>,
    order: VecDeque<u64>,
}

impl KeySet {
    /// Adds `key`; returns whether it was new and whether an old key went.
    pub fn insert(&mut self, key: u64, cap: usize) -> (bool, bool) {
        if !self.set.insert(key) {
            return (false, false);
        }
        self.order.push_back(key);
        let mut evicted = false;
        while self.order.len() > cap.max(1) {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
                evicted = true;
            }
        }
        (true, evicted)
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }
}

impl FlowState {
    pub fn new(meta: FlowMeta, inspector: FlowInspector, started: Timestamp) -> Self {
        FlowState {
            meta,
            inspector,
            started,
            established: None,
            connection_emitted: false,
            name: None,
            tunnels: Vec::new(),
            targets_done: KeySet::default(),
            pending_targets: Vec::new(),
            judged: KeySet::default(),
            address_judged: false,
            proxy_form: false,
            origin_form: false,
            blocked: false,
            overlap_conflict: false,
            lost: None,
            resync: None,
            buffered: 0,
            origin: FlowOrigin::Local,
            dns_name_tried: false,
            user: None,
        }
    }

    /// The tunnel that carries `layer` (none for the outer layer).
    pub fn tunnel_of(&self, layer: u8) -> Option<&Tunnel> {
        usize::from(layer).checked_sub(1).and_then(|i| self.tunnels.get(i))
    }

    pub fn set_tunnel(&mut self, layer: u8, t: Tunnel) {
        let i = usize::from(layer);
        if i < self.tunnels.len() {
            self.tunnels[i] = t;
        } else if i == self.tunnels.len() {
            self.tunnels.push(t);
        }
        // A tunnel reported for a deeper layer than we know of cannot happen
        // (layers open one by one); ignoring it keeps the vector dense.
    }
}
