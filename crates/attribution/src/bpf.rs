//! Loading and attaching the kernel side (src/bpf/attribution.bpf.c), reading
//! its `owners` map and draining its `procs` ring buffer.
//!
//! The compiled object is embedded; libbpf-rs loads it from memory. Cgroup
//! programs attach to the configured cgroup (and so see every process in it
//! and below); the links detach when [`Bpf`] is dropped.
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use libbpf_rs::{Link, MapCore, MapFlags, MapHandle, Object, ObjectBuilder, RingBufferBuilder};

/// The object file, 8-aligned as an ELF image read in place wants.
#[repr(C, align(8))]
struct Aligned<B: ?Sized> {
    bytes: B,
}
static OBJECT: &Aligned<[u8]> = &Aligned { bytes: *include_bytes!(concat!(env!("OUT_DIR"), "/attribution.bpf.o")) };

const CGROUP_PROGRAMS: [&str; 6] = ["connect4", "connect6", "sendmsg4", "sendmsg6", "post_bind4", "post_bind6"];
const TRACE_PROGRAMS: [(&str, &str); 2] = [("on_exec", "sched_process_exec"), ("on_exit", "sched_process_exit")];
const COMM_LEN: usize = 16;

fn comm(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_ne_bytes(b[o..o + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_ne_bytes(b[o..o + 8].try_into().unwrap())
}

/// The kernel's record of who connected a socket (`struct owner`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// CLOCK_BOOTTIME nanoseconds of the connect/sendmsg.
    pub at_ns: u64,
    pub tgid: u32,
    pub uid: u32,
    pub gid: u32,
    pub hook: Hook,
    pub comm: String,
}

/// Which program recorded an owner (`enum hook`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Connect4,
    Connect6,
    Sendmsg4,
    Sendmsg6,
    /// An explicit bind(): a server's listening socket (or a client that
    /// chose its source address before connecting; connect overwrites).
    Bind4,
    Bind6,
}

impl Owner {
    pub const SIZE: usize = 24 + COMM_LEN;

    pub fn parse(b: &[u8]) -> Option<Owner> {
        if b.len() < Owner::SIZE {
            return None;
        }
        let hook = match u32_at(b, 20) {
            1 => Hook::Connect4,
            2 => Hook::Connect6,
            3 => Hook::Sendmsg4,
            4 => Hook::Sendmsg6,
            5 => Hook::Bind4,
            6 => Hook::Bind6,
            _ => return None,
        };
        Some(Owner {
            at_ns: u64_at(b, 0),
            tgid: u32_at(b, 8),
            uid: u32_at(b, 12),
            gid: u32_at(b, 16),
            hook,
            comm: comm(&b[24..24 + COMM_LEN]),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcKind {
    Exec,
    Exit,
}

/// The exec-time facts the kernel read (CO-RE), for a program gone before
/// user space could read /proc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelExec {
    pub ppid: u32,
    /// CLOCK_BOOTTIME nanoseconds the process started (fork, not exec).
    pub start_ns: u64,
    pub exe_ino: u64,
    /// The kernel's dev_t of the image's file system.
    pub exe_dev: u32,
    /// The image's own file name (the link target's name for a symlink).
    pub exe_name: String,
    /// The path exec'd (for a script: its interpreter).
    pub interp: String,
    /// argv as NUL-separated bytes, cut at 1024.
    pub args: Vec<u8>,
}

/// One `struct proc_event` of the ring buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcEvent {
    pub at_ns: u64,
    pub kind: ProcKind,
    pub tgid: u32,
    pub uid: u32,
    pub comm: String,
    pub exec: Option<KernelExec>,
}

const EXE_NAME: std::ops::Range<usize> = 64..128;
const INTERP: std::ops::Range<usize> = 128..384;
const ARGS_AT: usize = 384;
const ARGS_LEN: usize = 1024;

impl ProcEvent {
    pub const SIZE: usize = ARGS_AT + ARGS_LEN;

    pub fn parse(b: &[u8]) -> Option<ProcEvent> {
        if b.len() < ProcEvent::SIZE {
            return None;
        }
        let kind = match u32_at(b, 8) {
            1 => ProcKind::Exec,
            2 => ProcKind::Exit,
            _ => return None,
        };
        let exec = (kind == ProcKind::Exec).then(|| KernelExec {
            ppid: u32_at(b, 20),
            start_ns: u64_at(b, 40),
            exe_ino: u64_at(b, 48),
            exe_dev: u32_at(b, 56),
            exe_name: comm(&b[EXE_NAME]),
            interp: comm(&b[INTERP]),
            args: b[ARGS_AT..ARGS_AT + (u32_at(b, 60) as usize).min(ARGS_LEN)].to_vec(),
        });
        Some(ProcEvent {
            at_ns: u64_at(b, 0),
            kind,
            tgid: u32_at(b, 12),
            uid: u32_at(b, 16),
            comm: comm(&b[24..24 + COMM_LEN]),
            exec,
        })
    }
}

/// The loaded object, its links and the ring buffer thread.
pub struct Bpf {
    owners: MapHandle,
    /// Names of the programs attached, for health and the report.
    pub attached: Vec<String>,
    links: Vec<Link>,
    stop: Arc<AtomicBool>,
    /// CLOCK_BOOTTIME ns before the last completed poll: every exec/exit
    /// event the kernel submitted before it has been handled.
    drained: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
    _object: Object,
}

fn load_object(with_tracepoints: bool) -> libbpf_rs::Result<Object> {
    let mut open = ObjectBuilder::default().open_memory(&OBJECT.bytes)?;
    if !with_tracepoints {
        for mut p in open.progs_mut() {
            if TRACE_PROGRAMS.iter().any(|(name, _)| p.name() == *name) {
                p.set_autoload(false);
            }
        }
    }
    open.load()
}

impl Bpf {
    /// Loads, attaches the cgroup programs to `cgroup` (all six required)
    /// and the exec/exit tracepoints (wanted, not required: without them
    /// only processes still alive at lookup are fully named), and starts
    /// delivering exec/exit events to `on_event` on a thread of its own.
    pub fn load(cgroup: &Path, on_event: impl FnMut(ProcEvent) + Send + 'static) -> Result<Bpf, String> {
        let cg = File::open(cgroup).map_err(|e| format!("opening cgroup {}: {e}", cgroup.display()))?;
        let (object, tracepoints) = match load_object(true) {
            Ok(o) => (o, true),
            Err(_) => (load_object(false).map_err(|e| format!("loading the BPF object: {e}"))?, false),
        };
        let mut links = Vec::new();
        let mut attached = Vec::new();
        for p in object.progs_mut() {
            let name = p.name().to_string_lossy().into_owned();
            if CGROUP_PROGRAMS.contains(&name.as_str()) {
                links.push(p.attach_cgroup(cg.as_raw_fd()).map_err(|e| format!("attaching {name}: {e}"))?);
                attached.push(name);
            } else if let Some((_, tp)) = TRACE_PROGRAMS.iter().find(|(n, _)| *n == name).filter(|_| tracepoints) {
                if let Ok(link) = p.attach_raw_tracepoint(tp) {
                    links.push(link);
                    attached.push(name);
                }
            }
        }
        let map = |name: &str| {
            object
                .maps()
                .find(|m| m.name() == name)
                .ok_or_else(|| format!("no map {name}"))
                .and_then(|m| MapHandle::try_from(&m).map_err(|e| format!("map {name}: {e}")))
        };
        let owners = map("owners")?;
        let procs = map("procs")?;
        map("watched")?
            .update(&0u32.to_ne_bytes(), &(cg.as_raw_fd() as u32).to_ne_bytes(), MapFlags::ANY)
            .map_err(|e| format!("setting the watched cgroup: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let drained = Arc::new(AtomicU64::new(0));
        let thread = if attached.iter().any(|n| n == "on_exec") {
            let stop = stop.clone();
            let drained = drained.clone();
            let spawned = std::thread::Builder::new()
                .name("attribution-procs".into())
                .spawn(move || drain(procs, on_event, &stop, &drained))
                .map_err(|e| format!("starting the ring buffer thread: {e}"))?;
            Some(spawned)
        } else {
            None
        };
        Ok(Bpf { owners, attached, links, stop, drained, thread, _object: object })
    }

    /// Waits (at most `max`) until the exec/exit events up to `at_ns` have
    /// been handled; false if there is no ring thread or it is behind.
    pub fn wait_drained(&self, at_ns: u64, max: Duration) -> bool {
        if self.thread.is_none() {
            return false;
        }
        let deadline = std::time::Instant::now() + max;
        while self.drained.load(Ordering::Acquire) < at_ns {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// Who connected the socket with this cookie, if a program saw it.
    pub fn owner(&self, cookie: u64) -> Option<Owner> {
        let value = self.owners.lookup(&cookie.to_ne_bytes(), MapFlags::ANY).ok()??;
        Owner::parse(&value)
    }
}

/// The boot-time clock, the one of bpf_ktime_get_boot_ns().
pub fn boot_now_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

/// How often the ring thread wakes when idle: it bounds how stale the
/// `drained` mark can be, hence a lookup's wait in [`Bpf::wait_drained`].
const POLL: Duration = Duration::from_millis(20);

fn drain(procs: MapHandle, mut on_event: impl FnMut(ProcEvent), stop: &AtomicBool, drained: &AtomicU64) {
    let mut builder = RingBufferBuilder::new();
    let callback = |data: &[u8]| {
        if let Some(ev) = ProcEvent::parse(data) {
            on_event(ev);
        }
        0
    };
    if builder.add(&procs, callback).is_err() {
        return;
    }
    let Ok(ring) = builder.build() else { return };
    while !stop.load(Ordering::Relaxed) {
        // Events wake the poll at once and it consumes all that is there
        // (level-triggered): whatever was submitted before `t0` is handled
        // when it returns.
        let t0 = boot_now_ns();
        let _ = ring.poll(POLL);
        drained.store(t0, Ordering::Release);
    }
}

impl Drop for Bpf {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Detach before the object (and its programs) go.
        self.links.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_layout() {
        let mut b = vec![0u8; Owner::SIZE];
        b[0..8].copy_from_slice(&123u64.to_ne_bytes());
        b[8..12].copy_from_slice(&77u32.to_ne_bytes());
        b[12..16].copy_from_slice(&65534u32.to_ne_bytes());
        b[16..20].copy_from_slice(&5u32.to_ne_bytes());
        b[20..24].copy_from_slice(&2u32.to_ne_bytes());
        b[24..28].copy_from_slice(b"curl");
        let o = Owner::parse(&b).unwrap();
        assert_eq!(
            (o.at_ns, o.tgid, o.uid, o.gid, o.hook, o.comm.as_str()),
            (123, 77, 65534, 5, Hook::Connect6, "curl")
        );
        b[20] = 9;
        assert_eq!(Owner::parse(&b), None, "an unknown hook is refused");
        assert_eq!(Owner::parse(&b[..10]), None);
    }

    #[test]
    fn proc_event_layout() {
        let mut b = vec![0u8; ProcEvent::SIZE];
        b[0..8].copy_from_slice(&9u64.to_ne_bytes());
        b[8..12].copy_from_slice(&1u32.to_ne_bytes());
        b[12..16].copy_from_slice(&42u32.to_ne_bytes());
        b[20..24].copy_from_slice(&7u32.to_ne_bytes());
        b[24..28].copy_from_slice(b"bash");
        b[48..56].copy_from_slice(&1234u64.to_ne_bytes());
        b[60..64].copy_from_slice(&5000u32.to_ne_bytes()); // more than the buffer: cut
        b[64..74].copy_from_slice(b"python3.11");
        b[128..144].copy_from_slice(b"/usr/bin/python3");
        b[384..387].copy_from_slice(b"a\0b");
        let e = ProcEvent::parse(&b).unwrap();
        let x = e.exec.unwrap();
        assert_eq!((e.tgid, e.comm.as_str(), x.ppid, x.exe_ino), (42, "bash", 7, 1234));
        assert_eq!((x.exe_name.as_str(), x.interp.as_str()), ("python3.11", "/usr/bin/python3"));
        assert_eq!(x.args.len(), 1024);
        assert_eq!(&x.args[..3], b"a\0b");
        b[8] = 2;
        assert_eq!(ProcEvent::parse(&b).unwrap().exec, None, "exit events carry no exec facts");
        assert_eq!(ProcEvent::parse(&b[..100]), None);
    }

    #[test]
    fn the_object_is_embedded() {
        assert_eq!(&OBJECT.bytes[..4], b"\x7fELF");
        assert_eq!(OBJECT.bytes.as_ptr() as usize % 8, 0);
    }
}
