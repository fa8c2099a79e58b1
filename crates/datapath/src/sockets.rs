//! Listening sockets of this network namespace, read from `/proc/net/tcp`,
//! `tcp6`, `udp` and `udp6` (the same table sock_diag dumps). The agent
//! compares successive reads to report each new listener once.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SocketProto {
    Tcp,
    Udp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Listener {
    pub proto: SocketProto,
    pub local: SocketAddr,
    pub uid: u32,
    pub inode: u64,
}

/// Lines past this are not read: a bound on the work per scan.
pub const MAX_SOCKETS: usize = 65_536;

/// Parses one `/proc/net/{tcp,udp}[6]` table. TCP: state `0A` (LISTEN);
/// UDP: state `07` with no remote address (a bound, unconnected socket).
pub fn parse_table(text: &str, proto: SocketProto) -> Vec<Listener> {
    text.lines()
        .skip(1)
        .take(MAX_SOCKETS)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (local, remote, state) = (f.get(1)?, f.get(2)?, f.get(3)?);
            let listening = match proto {
                SocketProto::Tcp => *state == "0A",
                SocketProto::Udp => *state == "07" && parse_addr(remote)?.port() == 0,
            };
            if !listening {
                return None;
            }
            Some(Listener {
                proto,
                local: parse_addr(local)?,
                uid: f.get(7)?.parse().ok()?,
                inode: f.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

/// `0100007F:0035` (IPv4, host byte order words) or the 32-hex IPv6 form.
fn parse_addr(s: &str) -> Option<SocketAddr> {
    let (a, p) = s.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    let ip = match a.len() {
        8 => IpAddr::V4(Ipv4Addr::from(u32::from_str_radix(a, 16).ok()?.swap_bytes())),
        32 => {
            let mut b = [0u8; 16];
            for (i, w) in (0..4).map(|i| &a[i * 8..i * 8 + 8]).enumerate() {
                let v = u32::from_str_radix(w, 16).ok()?.swap_bytes();
                b[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Every listener of the namespace now.
pub fn scan() -> Vec<Listener> {
    let mut all = Vec::new();
    for (file, proto) in [
        ("/proc/net/tcp", SocketProto::Tcp),
        ("/proc/net/tcp6", SocketProto::Tcp),
        ("/proc/net/udp", SocketProto::Udp),
        ("/proc/net/udp6", SocketProto::Udp),
    ] {
        if let Ok(text) = std::fs::read_to_string(file) {
            all.extend(parse_table(&text, proto));
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_listeners_of_both_families_and_skips_the_rest() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 12345 1\n   1: 0201A8C0:C350 0101A8C0:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 777 1\n";
        let l = parse_table(tcp, SocketProto::Tcp);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].local, "127.0.0.1:53".parse().unwrap());
        assert_eq!((l[0].uid, l[0].inode), (101, 12345));
        let tcp6 = "header\n 0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 99 1\n";
        let l = parse_table(tcp6, SocketProto::Tcp);
        assert_eq!(l[0].local, "[::1]:8080".parse().unwrap());
        let udp = "h\n 1: 00000000:14E9 00000000:0000 07 0:0 0:0 0 0 0 5 1\n 2: 0100007F:14E9 0100007F:0035 01 0:0 0:0 0 0 0 6 1\n";
        assert_eq!(parse_table(udp, SocketProto::Udp).len(), 1);
        assert!(parse_table("h\ngarbage line\n 0: zz:zz zz 0A\n", SocketProto::Tcp).is_empty());
    }
}
