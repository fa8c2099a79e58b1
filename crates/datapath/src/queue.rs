//! The NFQUEUE socket (through the `nfq` crate): queued packets in, one
//! verdict per packet out. A verdict accepts with netward's mark bits set
//! (the filter chains act on them) or drops.

use crate::MARK_MASK;
use std::io;

/// The netfilter hook a packet was queued from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// Arriving for this host (`INPUT`).
    LocalIn,
    /// Routed through this host (`FORWARD`): a container, VM or namespace.
    Forward,
    /// Sent by this host (`OUTPUT`).
    LocalOut,
    Other(u8),
}

impl Hook {
    fn from_raw(h: u8) -> Hook {
        match h {
            1 => Hook::LocalIn,
            2 => Hook::Forward,
            3 => Hook::LocalOut,
            other => Hook::Other(other),
        }
    }
}

/// One queued packet, waiting for its verdict.
pub struct Packet {
    msg: nfq::Message,
}

impl Packet {
    /// The IP packet (IPv4 or IPv6 header first).
    pub fn payload(&self) -> &[u8] {
        self.msg.get_payload()
    }
    pub fn hook(&self) -> Hook {
        Hook::from_raw(self.msg.get_hook())
    }
    /// Interface indexes (0 when none).
    pub fn indev(&self) -> u32 {
        self.msg.get_indev()
    }
    pub fn outdev(&self) -> u32 {
        self.msg.get_outdev()
    }
    /// The sending socket's owner, for locally sent packets.
    pub fn uid(&self) -> Option<u32> {
        self.msg.get_uid()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("cannot open the netfilter queue socket: {0} (netward run needs root: CAP_NET_ADMIN)")]
    Open(io::Error),
    #[error(
        "cannot bind netfilter queue {queue}: {source} (is another netward agent running in this network namespace?)"
    )]
    Bind { queue: u16, source: io::Error },
    #[error("netfilter queue: {0}")]
    Io(#[from] io::Error),
}

pub struct PacketQueue {
    q: nfq::Queue,
    num: u16,
}

impl PacketQueue {
    /// Binds queue `num`. `fail_open`: a full queue accepts new packets
    /// instead of dropping them. `max_len`: packets the kernel holds for us.
    pub fn open(num: u16, fail_open: bool, max_len: u32) -> Result<PacketQueue, QueueError> {
        let mut q = nfq::Queue::open().map_err(QueueError::Open)?;
        q.bind(num).map_err(|source| QueueError::Bind { queue: num, source })?;
        q.set_fail_open(num, fail_open)?;
        q.set_queue_max_len(num, max_len)?;
        // Large offloaded segments come whole: one verdict instead of many.
        q.set_recv_gso(num, true)?;
        q.set_recv_uid_gid(num, true)?;
        Ok(PacketQueue { q, num })
    }

    /// The next packet; `Ok(None)` when a signal woke the call (see
    /// [`crate::wake`]), so the caller can look at its clock and flags.
    pub fn recv(&mut self) -> Result<Option<Packet>, QueueError> {
        match self.q.recv() {
            Ok(msg) => Ok(Some(Packet { msg })),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
            // The kernel dropped messages for us (counted in its stats):
            // nothing to answer for them.
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOBUFS) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Accepts the packet with netward's mark bits set to `mark` (other
    /// bits of the packet's mark are kept).
    pub fn accept(&mut self, mut p: Packet, mark: u32) -> Result<(), QueueError> {
        let old = p.msg.get_nfmark();
        let new = (old & !MARK_MASK) | (mark & MARK_MASK);
        if new != old {
            p.msg.set_nfmark(new);
        }
        p.msg.set_verdict(nfq::Verdict::Accept);
        Ok(self.q.verdict(p.msg)?)
    }

    pub fn drop_packet(&mut self, mut p: Packet) -> Result<(), QueueError> {
        p.msg.set_verdict(nfq::Verdict::Drop);
        Ok(self.q.verdict(p.msg)?)
    }

    pub fn number(&self) -> u16 {
        self.num
    }
}

impl Drop for PacketQueue {
    fn drop(&mut self) {
        let _ = self.q.unbind(self.num);
    }
}

/// The kernel's counters for queue `num` in this namespace
/// (`/proc/net/netfilter/nfnetlink_queue`): (waiting, dropped because the
/// queue was full, dropped because netlink could not deliver).
pub fn kernel_counters(num: u16) -> Option<(u64, u64, u64)> {
    let text = std::fs::read_to_string("/proc/net/netfilter/nfnetlink_queue").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.first()?.parse::<u16>().ok()? != num {
            return None;
        }
        Some((f.get(2)?.parse().ok()?, f.get(5)?.parse().ok()?, f.get(6)?.parse().ok()?))
    })
}
