//! Which process made each flow: the attribution thread between the queue
//! thread and the store writer.
//!
//! The queue thread sends, in order, a [`Msg::Flow`] when an outbound flow
//! starts (its first packet is in the queue, so the socket exists and
//! sock_diag finds it) and then the flow's events. This thread asks the
//! attributor at [`Msg::Flow`], keeps the answer by the flow's local end,
//! and copies it into every event of that flow (connection, inspected, proxy
//! targets, verdicts) before the writer gets it. The order of one channel is
//! what makes this right without waiting: a flow's lookup always precedes its
//! events. The lookup is done in three steps. The socket is found by the
//! queue thread itself (one sock_diag request, about 10 µs) while it holds
//! the flow's first packet, because only then is the socket sure to exist:
//! a short connection's is gone a millisecond later, and on a busy machine
//! this thread may not run that soon. The claim (the kernel's record of the
//! socket's owner, which outlives it) is made here for every flow start as
//! soon as it is read, ahead of the events waiting before it; the naming
//! (the first hash of a new executable: milliseconds) waits until the flow's
//! first event.
//!
//! Inbound and listening sockets are looked up when their event arrives:
//! the socket is there then (accepted, or listening).

use netward_attribution::{Attributor, Claim, Mode, ProcessInfo, Proto, SockId, Source};
use netward_events::{ActionType, NetworkEvent, Protocol};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// What the queue thread sends this thread.
pub enum Msg {
    /// A flow of this device's own began: `local` is the device's end.
    Flow {
        proto: Protocol,
        local: SocketAddr,
        remote: SocketAddr,
        /// The socket, found by the queue thread while it held the flow's
        /// first packet (`None`: not found, or no finder there).
        sock: Option<SockId>,
        at: Instant,
    },
    Event(Box<NetworkEvent>),
}

/// Flows whose owner is remembered at once (oldest forgotten first): the
/// agent's flow table bound, so a flow is named as long as it is followed.
const REMEMBERED: usize = 65_536;

/// A flow start older than this when its turn comes is not looked up: the
/// thread is behind (a flood of new flows), and catching up matters more
/// than naming flows whose sockets may be gone. Counted as `late`.
const TOO_LATE: Duration = Duration::from_secs(1);

/// Processes whose columns are shared by their flows at once: a process
/// making thousands of connections holds one copy, not one per flow.
const PROCESSES: usize = 4096;

/// Events read ahead of the one being filled, so that the flow starts among
/// and behind them are claimed first; past this the channel waits.
const READ_AHEAD: usize = 4096;

/// How long the thread lets messages gather after a busy moment.
const GATHER: Duration = Duration::from_millis(1);

/// How often a full writer channel is tried again (meanwhile flow starts are claimed).
const WRITER_BUSY_POLL: Duration = Duration::from_micros(200);

/// What the queue thread sent and this thread has read: the events not yet
/// handed to the writer, in order.
struct Inbox {
    rx: Receiver<Msg>,
    ahead: VecDeque<Box<NetworkEvent>>,
    /// The queue thread has not hung up.
    open: bool,
}

impl Inbox {
    /// Reads what is waiting (up to [`READ_AHEAD`] events), claiming the
    /// flow starts among it.
    fn read_ahead(&mut self, owners: &mut Owners) {
        while self.open && self.ahead.len() < READ_AHEAD {
            match self.rx.try_recv() {
                Ok(m) => owners.take(m, &mut self.ahead),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => self.open = false,
            }
        }
    }
}

/// How often exec events are taken from the attributor when the network is
/// quiet (on a busy one, every 256 messages).
const PROCESS_EVENTS_EVERY: Duration = Duration::from_millis(500);

/// How attribution is set up (`attribution.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Bpf,
    Proc,
    Off,
}

impl std::str::FromStr for Setting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bpf" => Ok(Setting::Bpf),
            "proc" => Ok(Setting::Proc),
            "off" => Ok(Setting::Off),
            other => Err(format!("attribution.mode: expected bpf, proc or off, not `{other}`")),
        }
    }
}

/// Opens the attributor as configured, in the calling thread's network
/// namespace. `cgroup`: where the programs attach (empty: the cgroup2 root,
/// i.e. every process of the machine). Never fails the agent: without
/// attribution the process columns stay empty and health says why.
pub fn open(setting: Setting, cgroup: &str) -> (Option<Attributor>, Option<String>) {
    if setting == Setting::Off {
        return (None, Some("off by configuration (attribution.mode)".into()));
    }
    let cfg = if cgroup.is_empty() {
        match netward_attribution::Config::system() {
            Ok(c) => c,
            Err(e) => {
                // No cgroup2: the /proc fallback still works.
                let mut c = netward_attribution::Config::new(std::path::PathBuf::new());
                c.bpf = false;
                return open_with(c, Some(format!("no cgroup2 mount: {e}")));
            }
        }
    } else {
        netward_attribution::Config::new(cgroup.into())
    };
    let mut cfg = cfg;
    cfg.bpf = setting == Setting::Bpf;
    open_with(cfg, None)
}

fn open_with(cfg: netward_attribution::Config, why: Option<String>) -> (Option<Attributor>, Option<String>) {
    match Attributor::open(cfg) {
        Ok(a) => {
            let why = why.or_else(|| a.bpf_error().map(str::to_string));
            (Some(a), why)
        }
        Err(e) => (None, Some(e.to_string())),
    }
}

/// One flow's owner as the events carry it.
#[derive(Clone)]
struct Owner {
    process: Arc<netward_events::ProcessInfo>,
    source: Source,
    /// Whose process it is: the user a block is told to.
    uid: Option<u32>,
}

/// A flow's owner as it is kept: claimed at the flow's start, named at its
/// first event.
enum Held {
    Claimed(Claim),
    Named(Owner),
}

/// Counters for `netward health`.
#[derive(Default)]
pub struct OwnerStats {
    pub flows: AtomicU64,
    pub named: AtomicU64,
    pub unnamed: AtomicU64,
    /// Flow starts the queue thread could not hand over (channel full).
    pub dropped: AtomicU64,
    /// Flow starts not looked up because they waited past [`TOO_LATE`].
    pub late: AtomicU64,
}

type ProcessKey = (u32, Option<SystemTime>, String, Option<String>);

pub struct Owners {
    attributor: Option<Attributor>,
    /// The device's host name: `InitiatingProcessAccountDomain` of a local
    /// account, as Defender writes it on Linux.
    domain: String,
    device_id: String,
    by_local: HashMap<(Protocol, SocketAddr), Held>,
    order: VecDeque<(Protocol, SocketAddr)>,
    processes: HashMap<ProcessKey, Arc<netward_events::ProcessInfo>>,
    pub stats: Arc<OwnerStats>,
    /// What health shows about the attributor (mode, why BPF is off, its own counters).
    pub health: Arc<Mutex<serde_json::Value>>,
    why_not_bpf: Option<String>,
    /// Enforced verdicts are told to the user whose process it was.
    pub notifier: Option<super::notify::Notifier>,
}

pub(super) fn proto_of(p: Protocol) -> Option<Proto> {
    match p {
        Protocol::Tcp => Some(Proto::Tcp),
        Protocol::Udp => Some(Proto::Udp),
        _ => None,
    }
}

fn unspecified(ip: IpAddr) -> SocketAddr {
    let any: IpAddr = if ip.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() };
    SocketAddr::new(any, 0)
}

impl Owners {
    pub fn new(
        attributor: Option<Attributor>,
        why_not_bpf: Option<String>,
        device_id: String,
        domain: String,
    ) -> Owners {
        let o = Owners {
            attributor,
            domain,
            device_id,
            by_local: HashMap::new(),
            order: VecDeque::new(),
            processes: HashMap::new(),
            stats: Arc::default(),
            health: Arc::default(),
            why_not_bpf,
            notifier: None,
        };
        o.publish();
        o
    }

    pub fn mode(&self) -> Mode {
        self.attributor.as_ref().map_or(Mode::None, Attributor::mode)
    }

    /// The mode as health, DeviceInfo and `AdditionalFields.attribution` spell it.
    pub fn mode_name(&self) -> &'static str {
        match self.mode() {
            Mode::Bpf => "bpf",
            Mode::Proc => "proc",
            Mode::None => "none",
        }
    }

    /// Runs until the queue thread hangs up; events go on to the writer
    /// (waiting for it when it is busy, claiming the flow starts that come
    /// meanwhile: the queue thread's channel to here is the bounded one that
    /// never waits).
    pub fn run(mut self, rx: Receiver<Msg>, writer: SyncSender<super::writer::Item>) {
        let mut since_publish = 0u32;
        let mut inbox = Inbox { rx, ahead: VecDeque::new(), open: true };
        let mut busy = false;
        while inbox.open || !inbox.ahead.is_empty() {
            if inbox.ahead.is_empty() {
                if std::mem::take(&mut busy) {
                    // Messages came a moment ago: more are likely, and
                    // taking them together spares the queue thread a wake-up
                    // per packet (a system call on the packet's path). The
                    // flows' sockets were found already: a claim can wait
                    // this long.
                    std::thread::sleep(GATHER);
                }
                match inbox.rx.recv_timeout(PROCESS_EVENTS_EVERY) {
                    Ok(m) => self.take(m, &mut inbox.ahead),
                    Err(RecvTimeoutError::Timeout) => {
                        // Quiet network: exec events still reach the store.
                        if self.send_process_events(&mut inbox, &writer).is_err() {
                            return;
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            busy = true;
            // Claim every flow start already waiting before anything slow.
            inbox.read_ahead(&mut self);
            let Some(mut ev) = inbox.ahead.pop_front() else { continue };
            let uid = self.fill(&mut ev);
            if let (Some(n), Some(uid)) = (&self.notifier, uid) {
                // Never waits: the notifier's channel drops when full.
                if let Some(notice) = super::notify::Notice::of(&ev, uid) {
                    n.tell(notice);
                }
            }
            if self.hand_over(&mut inbox, &writer, super::writer::Item::Network(*ev)).is_err() {
                return;
            }
            since_publish += 1;
            if since_publish >= 256 {
                since_publish = 0;
                self.publish();
                if self.send_process_events(&mut inbox, &writer).is_err() {
                    return;
                }
            }
        }
        let _ = self.send_process_events(&mut inbox, &writer);
        self.publish();
    }

    /// One message from the queue thread: a flow start is claimed now, an
    /// event waits its turn.
    fn take(&mut self, m: Msg, ahead: &mut VecDeque<Box<NetworkEvent>>) {
        match m {
            // With its socket found, a late flow start is still named: the
            // kernel's record outlives the socket.
            Msg::Flow { at, sock: None, .. } if at.elapsed() > TOO_LATE => {
                self.stats.late.fetch_add(1, Ordering::Relaxed);
            }
            Msg::Flow { proto, local, remote, sock, .. } => self.flow(proto, local, remote, sock),
            Msg::Event(ev) => ahead.push_back(ev),
        }
    }

    /// Gives the writer one item. While its channel is full (a store
    /// append's fsync), the flow starts arriving are claimed: their sockets
    /// may be gone by the time the writer is free.
    fn hand_over(
        &mut self,
        inbox: &mut Inbox,
        writer: &SyncSender<super::writer::Item>,
        mut item: super::writer::Item,
    ) -> Result<(), ()> {
        loop {
            match writer.try_send(item) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(back)) => {
                    item = back;
                    inbox.read_ahead(self);
                    std::thread::sleep(WRITER_BUSY_POLL);
                }
                Err(TrySendError::Disconnected(_)) => return Err(()),
            }
        }
    }

    /// The exec events collected since the last call, as `DeviceProcessEvents` rows.
    fn send_process_events(&mut self, inbox: &mut Inbox, writer: &SyncSender<super::writer::Item>) -> Result<(), ()> {
        let Some(a) = &self.attributor else { return Ok(()) };
        let events = a.take_process_events();
        if events.is_empty() {
            return Ok(());
        }
        let dev = super::process_events::Device { id: &self.device_id, name: &self.domain };
        let rows = events.iter().map(|e| super::process_events::row(&dev, e)).collect();
        self.hand_over(inbox, writer, super::writer::Item::Rows(netward_events::Table::DeviceProcessEvents, rows))
    }

    fn lookup(&self, proto: Protocol, local: SocketAddr, remote: SocketAddr) -> Option<ProcessInfo> {
        self.attributor.as_ref()?.lookup(proto_of(proto)?, local, remote)
    }

    fn flow(&mut self, proto: Protocol, local: SocketAddr, remote: SocketAddr, sock: Option<SockId>) {
        self.stats.flows.fetch_add(1, Ordering::Relaxed);
        let claim = self.attributor.as_ref().zip(proto_of(proto)).and_then(|(a, p)| match sock {
            Some(s) => a.claim_socket(p, local, Some(s)),
            // Not found by the queue thread: perhaps by now.
            None => a.claim(p, local, remote),
        });
        match claim {
            Some(claim) => {
                self.stats.named.fetch_add(1, Ordering::Relaxed);
                self.remember(proto, local, Held::Claimed(claim));
            }
            None => {
                self.stats.unnamed.fetch_add(1, Ordering::Relaxed);
                // A port used again by a process we cannot name must not
                // inherit the last owner's name.
                self.by_local.remove(&(proto, local));
            }
        }
    }

    fn remember(&mut self, proto: Protocol, local: SocketAddr, owner: Held) {
        if self.by_local.insert((proto, local), owner).is_none() {
            self.order.push_back((proto, local));
        }
        while self.order.len() > REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.by_local.remove(&old);
            }
        }
    }

    /// The owner's columns on one event, and `AdditionalFields.attribution`;
    /// the owner's uid.
    fn fill(&mut self, ev: &mut NetworkEvent) -> Option<u32> {
        let (Some(proto), Some(ip), Some(port)) = (ev.protocol, ev.local_ip, ev.local_port) else { return None };
        let local = SocketAddr::new(ip, port);
        let owner = match ev.action_type {
            // Not announced by the queue thread: the socket is looked up now.
            Some(ActionType::ListeningConnectionCreated) => self.now(proto, local, unspecified(ip)),
            Some(ActionType::InboundConnectionAccepted) => {
                let remote = ev.remote_ip.zip(ev.remote_port).map(|(i, p)| SocketAddr::new(i, p));
                remote.and_then(|r| self.now(proto, local, r))
            }
            _ if ev.additional_fields.contains_key("forwarded") => None,
            _ => self.held(proto, local),
        };
        let source = match &owner {
            Some(o) => {
                ev.process = (*o.process).clone();
                o.source.as_str()
            }
            None => "none",
        };
        ev.additional_fields.insert("attribution".into(), json!(source));
        owner.and_then(|o| o.uid)
    }

    /// The owner kept for a flow's local end, named now if it was only claimed.
    fn held(&mut self, proto: Protocol, local: SocketAddr) -> Option<Owner> {
        let claim = match self.by_local.get(&(proto, local))? {
            Held::Named(o) => return Some(o.clone()),
            Held::Claimed(c) => c.clone(),
        };
        let info = self.attributor.as_ref()?.name(claim);
        let owner = Owner { process: self.shared(&info), source: info.source, uid: info.uid };
        self.by_local.insert((proto, local), Held::Named(owner.clone()));
        Some(owner)
    }

    fn now(&mut self, proto: Protocol, local: SocketAddr, remote: SocketAddr) -> Option<Owner> {
        let info = self.lookup(proto, local, remote)?;
        Some(Owner { process: self.shared(&info), source: info.source, uid: info.uid })
    }

    /// The process's columns, one copy per process.
    fn shared(&mut self, info: &ProcessInfo) -> Arc<netward_events::ProcessInfo> {
        // An exec keeps the pid and the start time: the image is part of the key.
        let key = (info.pid, info.creation_time, info.file_name.clone(), info.command_line.clone());
        if let Some(p) = self.processes.get(&key) {
            return p.clone();
        }
        if self.processes.len() >= PROCESSES {
            self.processes.clear();
        }
        let p = Arc::new(self.columns(info));
        self.processes.insert(key, p.clone());
        p
    }

    /// Defender's InitiatingProcess* columns from the attributor's answer.
    fn columns(&self, p: &ProcessInfo) -> netward_events::ProcessInfo {
        let (sha1, sha256, md5) =
            p.hashes.as_ref().map(|h| (h.sha1.clone(), h.sha256.clone(), h.md5.clone())).unwrap_or_default();
        netward_events::ProcessInfo {
            file_name: p.file_name.clone(),
            folder_path: p.folder_path.as_ref().map(|f| f.display().to_string()).unwrap_or_default(),
            command_line: p.command_line.clone().unwrap_or_default(),
            sha1,
            sha256,
            md5,
            id: Some(i64::from(p.pid)),
            creation_time: p.creation_time.map(crate::timestamp),
            parent_id: p.parent_pid.map(i64::from),
            parent_file_name: p.parent_file_name.clone().unwrap_or_default(),
            account_domain: if p.account_name.is_some() { self.domain.clone() } else { String::new() },
            account_name: p.account_name.clone().unwrap_or_default(),
        }
    }

    fn publish(&self) {
        let s = &self.stats;
        let mut v = json!({
            "mode": self.mode_name(),
            "flows": s.flows.load(Ordering::Relaxed),
            "named": s.named.load(Ordering::Relaxed),
            "unnamed": s.unnamed.load(Ordering::Relaxed),
            "dropped": s.dropped.load(Ordering::Relaxed),
            "late": s.late.load(Ordering::Relaxed),
        });
        if let Some(why) = &self.why_not_bpf {
            v["bpf_error"] = json!(why);
        }
        if let Some(a) = &self.attributor {
            let st = a.stats();
            v["programs"] = json!(a.attached_programs());
            v["by_bpf"] = json!(st.by_bpf.load(Ordering::Relaxed));
            v["by_proc"] = json!(st.by_proc.load(Ordering::Relaxed));
            v["no_socket"] = json!(st.no_socket.load(Ordering::Relaxed));
            v["exec_events"] = json!(st.exec_events.load(Ordering::Relaxed));
        }
        if let Ok(mut h) = self.health.lock() {
            *h = v;
        }
    }
}
