//! Process attribution: which process owns a connection.
//!
//! This crate owns the answer to "who made this flow": given a connection's
//! tuple as the agent sees it in a packet, [`Attributor::lookup`] names the
//! process (pid, executable, command line, hashes, account, parent). It owns
//! the kernel side (src/bpf/attribution.bpf.c: cgroup programs recording the
//! process that connects, sends or binds, by socket cookie; exec/exit raw
//! tracepoints), the sock_diag join from tuple to socket, the /proc
//! fallback, and the executable hash cache. It does not know about events or
//! the store: the agent copies [`ProcessInfo`] (and [`ProcessEvent`]s for
//! `DeviceProcessEvents`) into its own rows.
//!
//! How a lookup goes: sock_diag (in the network namespace of the thread that
//! called [`Attributor::open`]) gives the socket's cookie and inode. In
//! [`Mode::Bpf`] the cookie finds the kernel's record of the process that
//! called connect()/sendmsg() (or, for an accepted socket, bind() on the
//! listener), which names it even after it exited; the image (path, argv,
//! parent, hashes) is what was captured at its exec, from /proc if it was
//! still there or from the kernel's own exec record. Otherwise (BPF off, or
//! a socket the kernel never saw, e.g. older than the agent or outside the
//! attached cgroup) a bounded scan of /proc/*/fd finds a process holding the
//! inode ([`Source::Proc`]).
//!
//! Safety of use: the programs attach to [`Config::cgroup`], whose default
//! ([`Config::system`]) is the cgroup2 root, i.e. the whole machine. Tests
//! give a child cgroup of their own.
//!
//! No `unsafe` here: libbpf-rs wraps libbpf, and the object is loaded from
//! memory rather than through a generated skeleton (whose code is unsafe).
#![forbid(unsafe_code)]

mod accounts;
mod bpf;
mod cgroup;
mod diag;
mod execs;
mod facts;
mod hash;
mod procfs;
mod scan;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use bpf::{Hook, Owner};

/// Who held a socket when it was looked up ([`Attributor::claim`]), to be
/// named later ([`Attributor::name`]).
#[derive(Debug, Clone)]
pub struct Claim(Claimed);

#[derive(Debug, Clone)]
enum Claimed {
    /// The kernel's record of the connect/bind: the process is named from it.
    Kernel(Owner),
    /// Found by the /proc scan, named already.
    Named(Box<ProcessInfo>),
}
pub use cgroup::{cgroup2_mount, parse_cgroup2_mount};
pub use diag::{SockDiag, SockId};
pub use hash::ExeHashes;
pub use scan::ScanBudget;

use accounts::Accounts;
use bpf::{Bpf, ProcKind};
use execs::{At, ExecCache};
use facts::Facts;
use hash::HashCache;
use procfs::Snapshot;

/// The transport of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    fn ip_protocol(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
        }
    }
}

/// How the attributor works, for `netward health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Kernel records at connect time, /proc for sockets the kernel never saw.
    Bpf,
    /// sock_diag and a /proc scan only: long-lived processes.
    Proc,
    /// Attribution is off.
    None,
}

/// Where one [`ProcessInfo`] came from (`AdditionalFields.attribution`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Bpf,
    Proc,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Bpf => "bpf",
            Source::Proc => "proc",
        }
    }
}

/// The process that owns a connection, in Defender's InitiatingProcess* terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    /// Base name of the executable (its comm when the executable is unknown).
    pub file_name: String,
    /// The folder holding the executable.
    pub folder_path: Option<PathBuf>,
    pub command_line: Option<String>,
    pub hashes: Option<ExeHashes>,
    pub uid: Option<u32>,
    pub account_name: Option<String>,
    pub creation_time: Option<SystemTime>,
    pub parent_pid: Option<u32>,
    pub parent_file_name: Option<String>,
    pub source: Source,
}

/// What the attributor does and where.
#[derive(Debug, Clone)]
pub struct Config {
    /// Try the kernel programs (off: the /proc fallback only).
    pub bpf: bool,
    /// Scan /proc when BPF is off or did not see the socket.
    pub proc_fallback: bool,
    /// The cgroup v2 directory the programs attach to; they see processes in
    /// it and below. Production: the cgroup2 root ([`Config::system`]).
    pub cgroup: PathBuf,
    pub proc_root: PathBuf,
    pub passwd: PathBuf,
    pub scan: ScanBudget,
    pub hash_cache_entries: usize,
    /// Executables larger than this are not hashed.
    pub max_hash_bytes: u64,
    pub exec_cache_entries: usize,
}

impl Config {
    /// Defaults with the programs attached to `cgroup`.
    pub fn new(cgroup: PathBuf) -> Config {
        Config {
            bpf: true,
            proc_fallback: true,
            cgroup,
            proc_root: PathBuf::from("/proc"),
            passwd: PathBuf::from("/etc/passwd"),
            scan: ScanBudget { max_procs: 4096, max_fds: 65536 },
            hash_cache_entries: 1024,
            max_hash_bytes: 256 << 20,
            exec_cache_entries: 16384,
        }
    }

    /// The production setting: every process of the machine, i.e. the root
    /// of the cgroup2 hierarchy wherever it is mounted.
    pub fn system() -> std::io::Result<Config> {
        Ok(Config::new(cgroup2_mount()?))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("opening a sock_diag socket: {0}")]
    SockDiag(nix::Error),
    #[error("starting the hasher thread: {0}")]
    Thread(std::io::Error),
}

/// Counters for health and for cost measurements.
#[derive(Debug, Default)]
pub struct Stats {
    pub lookups: AtomicU64,
    pub by_bpf: AtomicU64,
    pub by_proc: AtomicU64,
    pub no_socket: AtomicU64,
    pub unnamed: AtomicU64,
    pub exec_events: AtomicU64,
    /// Exec events where /proc no longer showed the process: named from the
    /// kernel's exec record.
    pub exec_from_kernel: AtomicU64,
    pub exit_events: AtomicU64,
    /// Exec events dropped from the queue for [`Attributor::take_process_events`].
    pub process_events_dropped: AtomicU64,
}

struct Shared {
    execs: Mutex<ExecCache>,
    hashes: Mutex<HashCache>,
    /// Exec events not yet taken by [`Attributor::take_process_events`].
    created: Mutex<VecDeque<(u32, u64)>>,
}

/// The longest a lookup waits for the ring thread to handle the exec events
/// that precede a connect (only when neither the exec cache nor /proc knows
/// the process: the thread is behind).
const DRAIN_WAIT: Duration = Duration::from_millis(200);

/// At most this many exec events wait for the agent; older ones are dropped
/// (and counted) when it does not keep up.
const CREATED_QUEUE: usize = 4096;

/// A process image that started (exec), for `DeviceProcessEvents`
/// (`ProcessCreated`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessEvent {
    pub exec_time: SystemTime,
    pub info: ProcessInfo,
}

/// Names the process owning a connection. Create one per network namespace
/// the agent judges (sock_diag answers for the creating thread's namespace).
pub struct Attributor {
    cfg: Config,
    mode: Mode,
    diag: Mutex<SockDiag>,
    bpf: Option<Bpf>,
    bpf_error: Option<String>,
    shared: Arc<Shared>,
    accounts: Mutex<Accounts>,
    boot: Boot,
    stats: Arc<Stats>,
}

/// Turning /proc start ticks into times.
#[derive(Debug, Clone, Copy)]
struct Boot {
    btime_s: u64,
    ticks_per_s: u64,
}

impl Boot {
    fn read(proc_root: &Path) -> Boot {
        let btime_s =
            std::fs::read_to_string(proc_root.join("stat")).ok().and_then(|t| procfs::parse_btime(&t)).unwrap_or(0);
        let ticks_per_s = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .and_then(|t| u64::try_from(t).ok())
            .filter(|t| *t > 0)
            .unwrap_or(100);
        Boot { btime_s, ticks_per_s }
    }

    fn tick_ns(self) -> u64 {
        1_000_000_000 / self.ticks_per_s
    }

    fn start_ns(self, ticks: u64) -> u64 {
        ticks.saturating_mul(1_000_000_000) / self.ticks_per_s
    }

    /// A CLOCK_BOOTTIME instant as wall time (to the second of `btime`).
    fn wall(self, boot_ns: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.btime_s) + Duration::from_nanos(boot_ns)
    }

    fn creation_time(self, ticks: u64) -> Option<SystemTime> {
        (self.btime_s > 0)
            .then(|| UNIX_EPOCH + Duration::from_secs(self.btime_s) + Duration::from_nanos(self.start_ns(ticks)))
    }
}

impl Attributor {
    /// Opens the sock_diag socket (in this thread's network namespace) and,
    /// if configured, loads and attaches the kernel programs; when they do
    /// not load ([`Attributor::bpf_error`] says why) it works in
    /// [`Mode::Proc`]. Fails only if sock_diag itself is unavailable.
    pub fn open(cfg: Config) -> Result<Attributor, Error> {
        let diag = SockDiag::open().map_err(Error::SockDiag)?;
        let shared = Arc::new(Shared {
            execs: Mutex::new(ExecCache::new(cfg.exec_cache_entries)),
            hashes: Mutex::new(HashCache::new(cfg.hash_cache_entries, cfg.max_hash_bytes)),
            created: Mutex::new(VecDeque::new()),
        });
        let stats = Arc::new(Stats::default());
        let boot = Boot::read(&cfg.proc_root);
        let (bpf, bpf_error) = if cfg.bpf {
            let (to_hash, queue) = sync_channel(4096);
            let hashing = shared.clone();
            std::thread::Builder::new()
                .name("attribution-hash".into())
                .spawn(move || hasher(hashing, queue))
                .map_err(Error::Thread)?;
            match Bpf::load(
                &cfg.cgroup,
                exec_handler(cfg.proc_root.clone(), boot, shared.clone(), stats.clone(), to_hash),
            ) {
                Ok(b) => (Some(b), None),
                Err(e) => (None, Some(e)),
            }
        } else {
            (None, Some("disabled by configuration".to_string()))
        };
        let mode = match (&bpf, cfg.proc_fallback) {
            (Some(_), _) => Mode::Bpf,
            (None, true) => Mode::Proc,
            (None, false) => Mode::None,
        };
        Ok(Attributor {
            accounts: Mutex::new(Accounts::new(cfg.passwd.clone())),
            boot,
            cfg,
            mode,
            diag: Mutex::new(diag),
            bpf,
            bpf_error,
            shared,
            stats,
        })
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Why the kernel programs are not used, when they are not.
    pub fn bpf_error(&self) -> Option<&str> {
        self.bpf_error.as_deref()
    }

    /// The kernel programs attached (connect4, ..., on_exec, on_exit).
    pub fn attached_programs(&self) -> &[String] {
        self.bpf.as_ref().map_or(&[], |b| &b.attached)
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The processes exec'd (in the attached cgroup) since the last call,
    /// oldest first, named as at their exec. Empty unless in [`Mode::Bpf`]
    /// with the exec tracepoint attached.
    pub fn take_process_events(&self) -> Vec<ProcessEvent> {
        let keys: Vec<(u32, u64)> = self.shared.created.lock().unwrap_or_else(|p| p.into_inner()).drain(..).collect();
        let mut out = Vec::with_capacity(keys.len());
        for (pid, exec_ns) in keys {
            let At::Image(facts) = self.shared.execs.lock().unwrap_or_else(|p| p.into_inner()).at(pid, exec_ns) else {
                continue; // evicted already
            };
            let mut facts = *facts;
            facts.hash_now(&self.shared.hashes);
            let exec_time = self.boot.wall(exec_ns);
            out.push(ProcessEvent { exec_time, info: self.info(pid, facts, Source::Bpf) });
        }
        out
    }

    /// The socket with this tuple, as sock_diag reports it.
    pub fn socket(&self, proto: Proto, local: SocketAddr, remote: SocketAddr) -> Option<SockId> {
        self.diag.lock().unwrap_or_else(|p| p.into_inner()).lookup(proto, local, remote)
    }

    /// The kernel's record for a socket cookie.
    pub fn kernel_owner(&self, cookie: u64) -> Option<Owner> {
        self.bpf.as_ref()?.owner(cookie)
    }

    /// The process owning the connection `local` ↔ `remote` (the agent's
    /// side first: for an outbound flow the client end, for an inbound one
    /// the server end). Call once per new flow. Cost: tens of µs when the
    /// kernel saw the socket (two sock_diag round trips at most, a map
    /// lookup, cache reads); a /proc scan (hundreds of µs, bounded by
    /// [`Config::scan`]) otherwise; plus, the first time a binary is seen
    /// and the hasher thread has not finished it, one read of the file.
    pub fn lookup(&self, proto: Proto, local: SocketAddr, remote: SocketAddr) -> Option<ProcessInfo> {
        self.claim(proto, local, remote).map(|c| self.name(c))
    }

    /// The first half of [`Attributor::lookup`], the part that needs the
    /// socket to exist: which process holds it (the kernel's record, or the
    /// /proc scan's answer). Fast when the kernel saw the socket. A caller
    /// with many new flows claims each as it comes and names them after
    /// ([`Attributor::name`]), so that a slow naming (a first hash) never
    /// delays a claim until a short-lived socket is gone.
    pub fn claim(&self, proto: Proto, local: SocketAddr, remote: SocketAddr) -> Option<Claim> {
        if self.mode == Mode::None {
            return None;
        }
        let sock = self.socket(proto, local, remote);
        self.claim_socket(proto, local, sock)
    }

    /// [`Attributor::claim`] for a socket found already (`None`: it was
    /// not), by a caller that looked it up while it surely existed — the
    /// agent's queue thread, holding the connection's first packet, with a
    /// [`SockDiag`] of its own. The kernel's record outlives the socket.
    pub fn claim_socket(&self, proto: Proto, local: SocketAddr, sock: Option<SockId>) -> Option<Claim> {
        if self.mode == Mode::None {
            return None;
        }
        self.stats.lookups.fetch_add(1, Ordering::Relaxed);
        let Some(sock) = sock else {
            self.stats.no_socket.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        if let Some(owner) = self.kernel_owner(sock.cookie).or_else(|| self.listener_owner(proto, local)) {
            self.stats.by_bpf.fetch_add(1, Ordering::Relaxed);
            return Some(Claim(Claimed::Kernel(owner)));
        }
        // The scan must find the process holding the socket: it is done now.
        let found = self.cfg.proc_fallback.then(|| self.named_by_scan(sock.inode)).flatten();
        match &found {
            Some(_) => self.stats.by_proc.fetch_add(1, Ordering::Relaxed),
            None => self.stats.unnamed.fetch_add(1, Ordering::Relaxed),
        };
        found.map(|p| Claim(Claimed::Named(Box::new(p))))
    }

    /// The process of a claim, named as when it connected: the image kept
    /// from its exec (read and hashed now if the hasher has not), else what
    /// the kernel recorded.
    pub fn name(&self, claim: Claim) -> ProcessInfo {
        match claim.0 {
            Claimed::Kernel(owner) => self.named_by_kernel(&owner),
            Claimed::Named(info) => *info,
        }
    }

    /// An accepted socket was never connect()ed, so the kernel has no record
    /// of it; the listening socket on the same local address was bound, by
    /// the server process.
    fn listener_owner(&self, proto: Proto, local: SocketAddr) -> Option<Owner> {
        if proto != Proto::Tcp || self.bpf.is_none() {
            return None;
        }
        let any = SocketAddr::new(
            if local.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() },
            0,
        );
        let listener = self.socket(proto, local, any).filter(|s| s.state == diag::TCP_LISTEN)?;
        self.kernel_owner(listener.cookie)
    }

    fn named_by_kernel(&self, owner: &Owner) -> ProcessInfo {
        let execs_at = || self.shared.execs.lock().unwrap_or_else(|p| p.into_inner()).at(owner.tgid, owner.at_ns);
        let mut cached = execs_at();
        // The kept image is of an earlier exec than the connect's (the comm
        // the kernel recorded at connect differs: `ip netns exec` then
        // bash), while the newer exec event still waits in the ring buffer.
        let stale = matches!(&cached, At::Image(f) if !same_comm(&f.comm, &owner.comm));
        if stale && self.bpf.as_ref().is_some_and(|b| b.wait_drained(owner.at_ns, DRAIN_WAIT)) {
            cached = execs_at();
        }
        if let At::Unknown = cached {
            // Never exec'd while we watched (started before the agent): the
            // live process is the one that connected if it started before.
            let live = Snapshot::read(&self.cfg.proc_root, owner.tgid)
                .ok()
                .filter(|s| self.boot.start_ns(s.stat.start_ticks) <= owner.at_ns);
            if let Some(snap) = live {
                cached = At::Image(Box::new(Facts::captured(snap, &self.shared.hashes)));
            }
        }
        if !matches!(cached, At::Image(_)) {
            // Its exec event may still wait in the ring buffer (the ring
            // thread is behind): let it catch up to the connect, briefly.
            if self.bpf.as_ref().is_some_and(|b| b.wait_drained(owner.at_ns, DRAIN_WAIT)) {
                cached = execs_at();
            }
        }
        let mut facts = match cached {
            At::Image(f) => *f,
            At::Unknown | At::Superseded => Facts::minimal(owner.comm.clone(), owner.uid),
        };
        // Not hashed yet (the hasher is behind): hash the kept image here.
        facts.hash_now(&self.shared.hashes);
        // The uid at connect time is the kernel's, whatever /proc says now.
        self.info(owner.tgid, Facts { uid: Some(owner.uid), ..facts }, Source::Bpf)
    }

    fn named_by_scan(&self, inode: u64) -> Option<ProcessInfo> {
        let pid = scan::find_socket_owner(&self.cfg.proc_root, inode, self.cfg.scan).pid?;
        let snap = Snapshot::read(&self.cfg.proc_root, pid).ok()?;
        let facts = Facts::from_snapshot(snap, &self.shared.hashes);
        Some(self.info(pid, facts, Source::Proc))
    }

    fn info(&self, pid: u32, f: Facts, source: Source) -> ProcessInfo {
        let account_name = f.uid.and_then(|u| self.accounts.lock().unwrap_or_else(|p| p.into_inner()).name(u));
        ProcessInfo {
            pid,
            file_name: f
                .exe
                .as_deref()
                .and_then(Path::file_name)
                .map_or(f.comm.clone(), |n| n.to_string_lossy().into_owned()),
            folder_path: f.exe.as_deref().and_then(Path::parent).map(Path::to_path_buf),
            command_line: f.cmdline,
            hashes: f.hashes,
            uid: f.uid,
            account_name,
            creation_time: f.start_ticks.and_then(|t| self.boot.creation_time(t)),
            parent_pid: f.ppid,
            parent_file_name: f.parent_name,
            source,
        }
    }
}

/// Whether an image's name is the comm the kernel recorded (task comm is
/// the executable's base name cut to 15 bytes).
fn same_comm(image: &str, comm: &str) -> bool {
    let cut: String = image.chars().take(15).collect();
    cut == comm || image == comm
}

/// What the ring buffer thread does per event: at exec, read /proc at once
/// (a short-lived program may be gone a millisecond later) keeping the image
/// open, and leave the hashing to the hasher thread so the next exec event is
/// not delayed by a read; at exit, mark the image ended.
fn exec_handler(
    proc_root: PathBuf,
    boot: Boot,
    shared: Arc<Shared>,
    stats: Arc<Stats>,
    to_hash: SyncSender<(u32, u64)>,
) -> impl FnMut(bpf::ProcEvent) + Send {
    move |ev| match ev.kind {
        ProcKind::Exec => {
            stats.exec_events.fetch_add(1, Ordering::Relaxed);
            // /proc is used if it still shows this process (same start time
            // as the kernel's, within a tick) with this image: it may have
            // exec'd again since, or be exiting (no image any more, while
            // its stat still reads); else the kernel's record.
            let same = |s: &Snapshot| {
                ev.exec.as_ref().is_none_or(|k| {
                    let image_ino = s.image.as_ref().and_then(|f| f.metadata().ok()).map(|m| m.ino());
                    boot.start_ns(s.stat.start_ticks).abs_diff(k.start_ns) <= boot.tick_ns()
                        && image_ino == Some(k.exe_ino)
                })
            };
            let facts = match (Snapshot::read(&proc_root, ev.tgid).ok().filter(same), &ev.exec) {
                (Some(snap), k) => {
                    let mut f = Facts::captured(snap, &shared.hashes);
                    // The process may exit while it is read: what /proc
                    // no longer gave, the kernel's record does. That
                    // includes the end of a command line: /proc/<pid>/cmdline
                    // is read a page at a time, so an exit mid-read leaves
                    // only its start (seen cut at a page boundary), while
                    // the exec record holds the argv whole (to ARGS_LEN).
                    if let Some(k) = k {
                        f.cmdline = facts::whole_cmdline(f.cmdline.take(), &k.args);
                    }
                    if let Some(k) = k.as_ref().filter(|_| f.exe.is_none() || f.cmdline.is_none()) {
                        let from_kernel = Facts::from_kernel(ev.comm.clone(), ev.uid, k, boot.ticks_per_s, &proc_root);
                        f.cmdline = f.cmdline.or(from_kernel.cmdline);
                        if f.exe.is_none() {
                            f.exe = from_kernel.exe;
                        }
                    }
                    f
                }
                (None, Some(k)) => {
                    stats.exec_from_kernel.fetch_add(1, Ordering::Relaxed);
                    Facts::from_kernel(ev.comm, ev.uid, k, boot.ticks_per_s, &proc_root)
                }
                (None, None) => Facts::minimal(ev.comm, ev.uid),
            };
            let pending = facts.image.is_some();
            shared.execs.lock().unwrap_or_else(|p| p.into_inner()).insert(ev.tgid, ev.at_ns, facts);
            let mut created = shared.created.lock().unwrap_or_else(|p| p.into_inner());
            if created.len() >= CREATED_QUEUE {
                created.pop_front();
                stats.process_events_dropped.fetch_add(1, Ordering::Relaxed);
            }
            created.push_back((ev.tgid, ev.at_ns));
            drop(created);
            // A full queue is not a loss: a lookup hashes the kept image itself.
            if pending {
                let _ = to_hash.try_send((ev.tgid, ev.at_ns));
            }
        }
        ProcKind::Exit => {
            stats.exit_events.fetch_add(1, Ordering::Relaxed);
            shared.execs.lock().unwrap_or_else(|p| p.into_inner()).exited(ev.tgid, ev.at_ns);
        }
    }
}

/// Hashes the images captured at exec, outside the exec path; ends when the
/// exec handler (the channel's sender) is dropped with the BPF side.
fn hasher(shared: Arc<Shared>, queue: Receiver<(u32, u64)>) {
    for key in queue {
        let Some(image) = shared.execs.lock().unwrap_or_else(|p| p.into_inner()).pending_image(key) else { continue };
        let hashes = HashCache::hashes_shared(&shared.hashes, &image);
        drop(image);
        shared.execs.lock().unwrap_or_else(|p| p.into_inner()).set_hashes(key, hashes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The agent shares one attributor between its threads.
    #[test]
    fn attributor_is_send_and_sync() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Attributor>();
    }

    #[test]
    fn boot_clock_conversions() {
        let boot = Boot { btime_s: 1_000, ticks_per_s: 100 };
        assert_eq!(boot.start_ns(250), 2_500_000_000);
        assert_eq!(boot.tick_ns(), 10_000_000);
        assert_eq!(boot.creation_time(250), Some(UNIX_EPOCH + Duration::from_millis(1_002_500)));
        assert_eq!(Boot { btime_s: 0, ticks_per_s: 100 }.creation_time(1), None, "unknown boot time: no guess");
    }
}
