//! sock_diag (NETLINK_SOCK_DIAG): the socket cookie, inode and uid of the
//! socket with an exact tuple. The netlink socket belongs to the network
//! namespace of the thread that created it, so the lookups answer for the
//! namespace the agent was started in. The messages are a few fixed-layout
//! structs (linux/inet_diag.h), encoded here by hand.
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType};

use crate::Proto;

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_HDR: usize = 16;
const REQ_LEN: usize = NLMSG_HDR + 56; // nlmsghdr + inet_diag_req_v2
const MSG_LEN: usize = 72; // inet_diag_msg
/// The TCP state of a listening socket.
pub const TCP_LISTEN: u8 = 10;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// What sock_diag says about one socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockId {
    /// The kernel's socket cookie, the key of the BPF `owners` map.
    pub cookie: u64,
    /// The socket's inode; 0 once no file refers to it (closed, TIME_WAIT).
    pub inode: u64,
    pub uid: u32,
    /// TCP state (1 established ... 6 time-wait ... 10 listen), 7 for UDP.
    pub state: u8,
    /// The socket's own local port, to check which side the kernel matched.
    pub local_port: u16,
}

/// Encodes an inet_diag_req_v2 for one exact tuple. `src`/`dst` are the
/// socket id's fields, whose meaning differs per protocol (see `lookup`).
pub fn encode_request(seq: u32, proto: Proto, family: u8, src: (IpAddr, u16), dst: (IpAddr, u16)) -> [u8; REQ_LEN] {
    let mut b = [0u8; REQ_LEN];
    b[0..4].copy_from_slice(&(REQ_LEN as u32).to_ne_bytes());
    b[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    b[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    let r = &mut b[NLMSG_HDR..];
    r[0] = family;
    r[1] = proto.ip_protocol();
    r[4..8].copy_from_slice(&u32::MAX.to_ne_bytes()); // every state
    let id = &mut r[8..];
    id[0..2].copy_from_slice(&src.1.to_be_bytes());
    id[2..4].copy_from_slice(&dst.1.to_be_bytes());
    id[4..20].copy_from_slice(&addr_bytes(src.0));
    id[20..36].copy_from_slice(&addr_bytes(dst.0));
    // idiag_if = 0 (any), cookie = INET_DIAG_NOCOOKIE: match by tuple only.
    id[40..48].copy_from_slice(&[0xff; 8]);
    b
}

/// An address as inet_diag_sockid holds it: IPv4 in the first 4 bytes.
fn addr_bytes(ip: IpAddr) -> [u8; 16] {
    let mut out = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => out[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => out = v6.octets(),
    }
    out
}

/// The outcome of one reply datagram for request `seq`.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    Found(SockId),
    /// The kernel answered: no such socket (ENOENT) or another error.
    Error(i32),
    /// Nothing for this request in the datagram (a stale reply).
    Other,
}

/// Parses one reply datagram, looking only at messages of request `seq`.
pub fn parse_reply(buf: &[u8], seq: u32) -> Reply {
    let mut off = 0;
    while off + NLMSG_HDR <= buf.len() {
        let u32_at = |o: usize| u32::from_ne_bytes(buf[o..o + 4].try_into().unwrap());
        let len = u32_at(off) as usize;
        if len < NLMSG_HDR || off + len > buf.len() {
            break;
        }
        let ty = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
        let msg_seq = u32_at(off + 8);
        let body = &buf[off + NLMSG_HDR..off + len];
        if msg_seq == seq {
            if ty == NLMSG_ERROR && body.len() >= 4 {
                return Reply::Error(-i32::from_ne_bytes(body[0..4].try_into().unwrap()));
            }
            if ty == SOCK_DIAG_BY_FAMILY && body.len() >= MSG_LEN {
                let at = |o: usize| u32::from_ne_bytes(body[o..o + 4].try_into().unwrap());
                return Reply::Found(SockId {
                    state: body[1],
                    local_port: u16::from_be_bytes([body[4], body[5]]),
                    cookie: at(44) as u64 | (at(48) as u64) << 32,
                    uid: at(64),
                    inode: at(68) as u64,
                });
            }
        }
        off += (len + 3) & !3;
    }
    Reply::Other
}

/// A sock_diag netlink socket of the creating thread's network namespace.
pub struct SockDiag {
    fd: OwnedFd,
    seq: u32,
}

impl SockDiag {
    pub fn open() -> nix::Result<SockDiag> {
        let fd =
            socket(AddressFamily::Netlink, SockType::Datagram, SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkSockDiag)?;
        Ok(SockDiag { fd, seq: 0 })
    }

    /// The socket whose local and remote ends are `local` and `remote`.
    /// An IPv4 tuple is also tried as IPv4-mapped IPv6 (a dual-stack socket).
    pub fn lookup(&mut self, proto: Proto, local: SocketAddr, remote: SocketAddr) -> Option<SockId> {
        let (l, r) = ((local.ip(), local.port()), (remote.ip(), remote.port()));
        let mapped = |(ip, port): (IpAddr, u16)| match ip {
            IpAddr::V4(v4) => (IpAddr::V6(v4.to_ipv6_mapped()), port),
            v6 => (v6, port),
        };
        let mut tries = vec![(family_of(local.ip()), l, r)];
        if local.is_ipv4() {
            tries.push((AF_INET6, mapped(l), mapped(r)));
        }
        for (family, l, r) in tries {
            // TCP's lookup takes the socket id as (local, remote); UDP's
            // (__udp4_lib_lookup with the fields as given) as (remote,
            // local). Both orders are tried and the answer checked against
            // the local port, so a kernel changing this stays correct.
            let orders = match proto {
                Proto::Tcp => [(l, r), (r, l)],
                Proto::Udp => [(r, l), (l, r)],
            };
            for (src, dst) in orders {
                if let Some(id) = self.ask(proto, family, src, dst) {
                    if id.local_port == local.port() {
                        return Some(id);
                    }
                }
            }
        }
        None
    }

    fn ask(&mut self, proto: Proto, family: u8, src: (IpAddr, u16), dst: (IpAddr, u16)) -> Option<SockId> {
        self.seq = self.seq.wrapping_add(1);
        let req = encode_request(self.seq, proto, family, src, dst);
        sendto(self.fd.as_raw_fd(), &req, &NetlinkAddr::new(0, 0), MsgFlags::empty()).ok()?;
        // The kernel answers a single-socket request inside sendmsg, so the
        // reply is queued by now: never block the connection path on it.
        let mut buf = [0u8; 1024];
        loop {
            match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
                Ok(n) => match parse_reply(&buf[..n], self.seq) {
                    Reply::Found(id) => return Some(id),
                    Reply::Error(_) => return None,
                    Reply::Other => continue,
                },
                Err(Errno::EINTR) => continue,
                Err(_) => return None,
            }
        }
    }
}

fn family_of(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => AF_INET,
        IpAddr::V6(_) => AF_INET6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout() {
        let src = ("10.1.2.3".parse().unwrap(), 0x1234);
        let dst = ("198.18.0.1".parse().unwrap(), 443);
        let b = encode_request(7, Proto::Tcp, AF_INET, src, dst);
        assert_eq!(u32::from_ne_bytes(b[0..4].try_into().unwrap()), 72);
        assert_eq!(u32::from_ne_bytes(b[8..12].try_into().unwrap()), 7);
        assert_eq!(b[16], AF_INET);
        assert_eq!(b[17], 6);
        assert_eq!(&b[24..28], &[0x12, 0x34, 0x01, 0xbb]);
        assert_eq!(&b[28..32], &[10, 1, 2, 3]);
        assert_eq!(&b[44..48], &[198, 18, 0, 1]);
        assert_eq!(&b[64..72], &[0xff; 8]);
    }

    #[test]
    fn error_and_stale_replies() {
        let mut err = vec![0u8; 36];
        err[0..4].copy_from_slice(&36u32.to_ne_bytes());
        err[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        err[8..12].copy_from_slice(&5u32.to_ne_bytes());
        err[16..20].copy_from_slice(&(-2i32).to_ne_bytes());
        assert_eq!(parse_reply(&err, 5), Reply::Error(2));
        assert_eq!(parse_reply(&err, 6), Reply::Other);
        assert_eq!(parse_reply(&err[..10], 5), Reply::Other, "a truncated datagram is ignored");
    }
}
