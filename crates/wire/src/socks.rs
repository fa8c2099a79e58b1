//! SOCKS4, SOCKS4a and SOCKS5 (RFC 1928, RFC 1929 user/password): the client's
//! greeting and request, the server's method choice and reply. After a granted
//! CONNECT the rest of the stream is tunnel data.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::observation::{TunnelKind, TunnelStatus};
use crate::step::Step;
use crate::target::{Host, Target};
use crate::Error;

/// What one step of the SOCKS parser learned.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SocksEvent {
    Request { kind: TunnelKind, target: Target, connect: bool },
    Reply(TunnelStatus),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Greeting,
    /// SOCKS5 after the greeting: a user/password sub-negotiation or the request.
    AuthOrRequest,
    Request,
    Tunnel,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    MethodChoice,
    AuthReply,
    Reply,
    Tunnel,
    Done,
}

/// Both directions of one SOCKS connection.
#[derive(Debug)]
pub struct SocksConn {
    version: u8,
    client: Client,
    server: Server,
    connect: bool,
}

const MAX_FIELD: usize = 255;

impl SocksConn {
    /// `version` is the first client byte: 4 or 5.
    pub(crate) fn new(version: u8) -> Self {
        let server = if version == 4 { Server::Reply } else { Server::MethodChoice };
        SocksConn { version, client: Client::Greeting, server, connect: true }
    }

    pub(crate) fn is_v4(&self) -> bool {
        self.version == 4
    }

    pub(crate) fn step_client(&mut self, data: &[u8], ev: &mut Vec<SocksEvent>) -> Result<Step, Error> {
        match (self.version, self.client) {
            (_, Client::Tunnel) => Ok(Step::Tunnel(0)),
            (_, Client::Done) => Ok(Step::Finished),
            (4, _) => self.socks4_request(data, ev),
            (_, Client::Greeting) => {
                let [5, n, ..] = *data else {
                    return need(data, 2, "bad SOCKS5 greeting");
                };
                if n == 0 {
                    return Err(Error::invalid(1, "SOCKS5 greeting without methods"));
                }
                let len = 2 + usize::from(n);
                if data.len() < len {
                    return Ok(Step::NeedMore);
                }
                self.client = Client::AuthOrRequest;
                Ok(Step::Consumed(len))
            }
            (_, Client::AuthOrRequest) if data.first() == Some(&1) => {
                // RFC 1929: 01 ULEN UNAME PLEN PASSWD
                let Some(&ulen) = data.get(1) else {
                    return Ok(Step::NeedMore);
                };
                let Some(&plen) = data.get(2 + usize::from(ulen)) else {
                    return Ok(Step::NeedMore);
                };
                let len = 3 + usize::from(ulen) + usize::from(plen);
                if data.len() < len {
                    return Ok(Step::NeedMore);
                }
                self.client = Client::Request;
                Ok(Step::Consumed(len))
            }
            (_, Client::AuthOrRequest | Client::Request) => self.socks5_request(data, ev),
        }
    }

    fn socks4_request(&mut self, data: &[u8], ev: &mut Vec<SocksEvent>) -> Result<Step, Error> {
        // 04 CMD PORT(2) IP(4) USERID 00 [HOST 00]
        if data.len() < 9 {
            return need(data, 1, "");
        }
        let cmd = data[1];
        if cmd != 1 && cmd != 2 {
            return Err(Error::invalid(1, "bad SOCKS4 command"));
        }
        let port = u16::from_be_bytes([data[2], data[3]]);
        let ip = Ipv4Addr::new(data[4], data[5], data[6], data[7]);
        let Some(user_end) = nul(&data[8..])? else {
            return Ok(Step::NeedMore);
        };
        let mut end = 8 + user_end + 1;
        // SOCKS4a: 0.0.0.x (x != 0) means "a host name follows".
        let socks4a = ip.octets()[..3] == [0, 0, 0] && ip.octets()[3] != 0;
        let (kind, host) = if socks4a {
            let rest = data.get(end..).unwrap_or(&[]);
            let Some(host_end) = nul(rest)? else {
                return Ok(Step::NeedMore);
            };
            let name = String::from_utf8_lossy(&rest[..host_end]).into_owned();
            end += host_end + 1;
            (TunnelKind::Socks4a, Host::parse(&name))
        } else {
            (TunnelKind::Socks4, Host::Ip(IpAddr::V4(ip)))
        };
        self.connect = cmd == 1;
        ev.push(SocksEvent::Request { kind, target: Target { host, port }, connect: self.connect });
        Ok(self.after_request(end))
    }

    fn socks5_request(&mut self, data: &[u8], ev: &mut Vec<SocksEvent>) -> Result<Step, Error> {
        // 05 CMD 00 ATYP ADDR PORT(2)
        let [ver, cmd, _rsv, atyp, ..] = *data else {
            return need(data, 1, "");
        };
        if ver != 5 {
            return Err(Error::invalid(0, "bad SOCKS5 request version"));
        }
        if !(1..=3).contains(&cmd) {
            return Err(Error::invalid(1, "bad SOCKS5 command"));
        }
        let Some((host, end)) = socks5_address(data, 3)? else {
            return Ok(Step::NeedMore);
        };
        let Some(port) = data.get(end..end + 2) else {
            return Ok(Step::NeedMore);
        };
        let port = u16::from_be_bytes([port[0], port[1]]);
        let _ = atyp;
        self.connect = cmd == 1;
        ev.push(SocksEvent::Request { kind: TunnelKind::Socks5, target: Target { host, port }, connect: self.connect });
        Ok(self.after_request(end + 2))
    }

    fn after_request(&mut self, used: usize) -> Step {
        if self.connect {
            // No retry exists in SOCKS: what follows a CONNECT request is tunnel data
            // (clients may send it before the reply arrives).
            self.client = Client::Tunnel;
            Step::Tunnel(used)
        } else {
            self.client = Client::Done;
            Step::Consumed(used)
        }
    }

    pub(crate) fn step_server(&mut self, data: &[u8], ev: &mut Vec<SocksEvent>) -> Result<Step, Error> {
        match self.server {
            Server::Tunnel => Ok(Step::Tunnel(0)),
            Server::Done => Ok(Step::Finished),
            Server::MethodChoice => {
                let [_, method, ..] = *data else {
                    return Ok(Step::NeedMore);
                };
                self.server = match method {
                    0x00 => Server::Reply,
                    0x02 => Server::AuthReply,
                    0xff => {
                        ev.push(SocksEvent::Reply(TunnelStatus::Refused { code: 0xff }));
                        Server::Done
                    }
                    _ => Server::Done, // GSSAPI or private methods encapsulate the rest
                };
                Ok(Step::Consumed(2))
            }
            Server::AuthReply => {
                let [_, status, ..] = *data else {
                    return Ok(Step::NeedMore);
                };
                if status != 0 {
                    ev.push(SocksEvent::Reply(TunnelStatus::Refused { code: u16::from(status) }));
                    self.server = Server::Done;
                } else {
                    self.server = Server::Reply;
                }
                Ok(Step::Consumed(2))
            }
            Server::Reply if self.version == 4 => {
                if data.len() < 8 {
                    return Ok(Step::NeedMore);
                }
                let granted = data[1] == 0x5a;
                Ok(self.reply(granted, u16::from(data[1]), 8, ev))
            }
            Server::Reply => {
                let [_, rep, ..] = *data else {
                    return Ok(Step::NeedMore);
                };
                let Some((_, end)) = socks5_address(data, 3)? else {
                    return Ok(Step::NeedMore);
                };
                if data.len() < end + 2 {
                    return Ok(Step::NeedMore);
                }
                Ok(self.reply(rep == 0, u16::from(rep), end + 2, ev))
            }
        }
    }

    fn reply(&mut self, granted: bool, code: u16, used: usize, ev: &mut Vec<SocksEvent>) -> Step {
        let status = if granted { TunnelStatus::Established } else { TunnelStatus::Refused { code } };
        ev.push(SocksEvent::Reply(status));
        if granted && self.connect {
            self.server = Server::Tunnel;
            Step::Tunnel(used)
        } else {
            self.server = Server::Done;
            Step::Consumed(used)
        }
    }
}

/// A SOCKS5 address (ATYP at `at`); returns the host and the offset after it.
fn socks5_address(data: &[u8], at: usize) -> Result<Option<(Host, usize)>, Error> {
    let Some(&atyp) = data.get(at) else {
        return Ok(None);
    };
    let start = at + 1;
    let (len, skip) = match atyp {
        1 => (4, 0),
        4 => (16, 0),
        3 => match data.get(start) {
            Some(&n) => (usize::from(n), 1),
            None => return Ok(None),
        },
        _ => return Err(Error::invalid(at, "bad SOCKS5 address type")),
    };
    let Some(addr) = data.get(start + skip..start + skip + len) else {
        return Ok(None);
    };
    let host = match atyp {
        1 => Host::Ip(IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]))),
        4 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(addr);
            Host::Ip(IpAddr::V6(Ipv6Addr::from(o)))
        }
        _ => Host::parse(&String::from_utf8_lossy(addr)),
    };
    Ok(Some((host, start + skip + len)))
}

/// Position of the NUL ending a SOCKS4 field; error past 255 bytes.
fn nul(data: &[u8]) -> Result<Option<usize>, Error> {
    match data.iter().take(MAX_FIELD + 1).position(|&b| b == 0) {
        Some(i) => Ok(Some(i)),
        None if data.len() > MAX_FIELD => Err(Error::invalid(0, "SOCKS4 field too long")),
        None => Ok(None),
    }
}

fn need(data: &[u8], n: usize, what: &'static str) -> Result<Step, Error> {
    if data.len() < n || what.is_empty() {
        Ok(Step::NeedMore)
    } else {
        Err(Error::invalid(0, what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_client(conn: &mut SocksConn, mut data: &[u8]) -> (Vec<SocksEvent>, Step) {
        let (mut ev, mut used) = (Vec::new(), 0);
        loop {
            match conn.step_client(data, &mut ev).unwrap() {
                Step::Consumed(n) => {
                    data = &data[n..];
                    used += n;
                }
                Step::Tunnel(n) => return (ev, Step::Tunnel(used + n)),
                s => return (ev, s),
            }
        }
    }

    #[test]
    fn socks5_domain_with_user_password() {
        let mut c = SocksConn::new(5);
        let mut msg = vec![5, 2, 0, 2, 1, 3, b'b', b'o', b'b', 2, b'p', b'w'];
        msg.extend([5, 1, 0, 3, 11]);
        msg.extend(b"example.com");
        msg.extend([1, 187, 0x16, 0x03]);
        let (ev, step) = run_client(&mut c, &msg);
        assert_eq!(step, Step::Tunnel(msg.len() - 2));
        assert_eq!(
            ev,
            vec![SocksEvent::Request {
                kind: TunnelKind::Socks5,
                target: Target { host: Host::Name("example.com".into()), port: 443 },
                connect: true
            }]
        );
        let mut ev = Vec::new();
        assert_eq!(c.step_server(&[5, 2], &mut ev).unwrap(), Step::Consumed(2));
        assert_eq!(c.step_server(&[1, 0], &mut ev).unwrap(), Step::Consumed(2));
        let reply = [5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80];
        assert_eq!(c.step_server(&reply[..10], &mut ev).unwrap(), Step::NeedMore);
        assert_eq!(c.step_server(&reply, &mut ev).unwrap(), Step::Tunnel(22));
        assert_eq!(ev, vec![SocksEvent::Reply(TunnelStatus::Established)]);
    }

    #[test]
    fn socks4a_and_refusal() {
        let mut c = SocksConn::new(4);
        let mut msg = vec![4, 1, 0, 80, 0, 0, 0, 1];
        msg.extend(b"user\0host.example\0");
        let (ev, step) = run_client(&mut c, &msg);
        assert_eq!(step, Step::Tunnel(msg.len()));
        assert!(matches!(&ev[0], SocksEvent::Request { kind: TunnelKind::Socks4a, target, .. }
            if target.to_string() == "host.example:80"));
        let mut ev = Vec::new();
        assert_eq!(c.step_server(&[0, 0x5b, 0, 0, 0, 0, 0, 0], &mut ev).unwrap(), Step::Consumed(8));
        assert_eq!(ev, vec![SocksEvent::Reply(TunnelStatus::Refused { code: 0x5b })]);
    }

    #[test]
    fn socks4_ipv4_and_bad_input() {
        let mut c = SocksConn::new(4);
        let (ev, _) = run_client(&mut c, b"\x04\x01\x01\xbb\x0a\x00\x00\x01\0");
        assert!(matches!(&ev[0], SocksEvent::Request { kind: TunnelKind::Socks4, target, .. }
            if target.to_string() == "10.0.0.1:443"));
        let mut c = SocksConn::new(4);
        assert!(c.step_client(&[4, 9, 0, 0, 0, 0, 0, 0, 0], &mut Vec::new()).is_err());
        let mut c = SocksConn::new(5);
        assert!(c.step_client(&[5, 0], &mut Vec::new()).is_err());
    }
}
