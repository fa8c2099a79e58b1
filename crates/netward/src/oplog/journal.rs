//! The operational events in the systemd journal, besides the JSON-lines log:
//! journald's native protocol (one datagram per entry of `KEY=value` lines, the
//! length-prefixed form for values with a newline or binary, and a sealed memfd
//! passed over the socket when an entry is larger than a datagram), so admins
//! find netward where they look (`journalctl MESSAGE_ID=...`). Best effort:
//! an absent or slow journal never fails or holds up the caller.

use super::OperationalEvent;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// Overrides the socket path (tests point it at a stand-in they bind).
pub const SOCKET_ENV: &str = "NETWARD_JOURNAL_SOCKET";
pub const DEFAULT_SOCKET: &str = "/run/systemd/journal/socket";

/// The journal socket to use, if one exists.
pub fn socket_path() -> Option<PathBuf> {
    let p = std::env::var_os(SOCKET_ENV).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
    p.exists().then_some(p)
}

/// A stable MESSAGE_ID per event kind (128-bit, as `journalctl -o verbose`
/// shows them); never change one, admins filter on them.
pub fn message_id(event_id: u32) -> &'static str {
    match event_id {
        super::EVENT_SETTINGS_CHANGED => "6e2f3c0a9d1b4f5e8a7c2b1d0e9f5007",
        super::EVENT_AUDITED => "6e2f3c0a9d1b4f5e8a7c2b1d0e9f1125",
        super::EVENT_BLOCKED => "6e2f3c0a9d1b4f5e8a7c2b1d0e9f1126",
        super::EVENT_AGENT_STARTED => "6e2f3c0a9d1b4f5e8a7c2b1d0e9f1150",
        super::EVENT_AGENT_STOPPED => "6e2f3c0a9d1b4f5e8a7c2b1d0e9f5001",
        super::EVENT_AGENT_ERROR => "6e2f3c0a9d1b4f5e8a7c2b1d0e9f3002",
        _ => "6e2f3c0a9d1b4f5e8a7c2b1d0e9f0000",
    }
}

/// syslog priority of a Windows-style level.
pub fn priority(level: &str) -> u8 {
    match level {
        "Critical" => 2,
        "Error" => 3,
        "Warning" => 4,
        "Verbose" => 7,
        _ => 6,
    }
}

/// A data key as a journal field name: `RemoteUrl` -> `NETWARD_REMOTE_URL`.
/// The prefix keeps event fields apart from journald's own (`USER`...).
pub fn field_name(key: &str) -> String {
    let mut out = String::from("NETWARD_");
    let mut prev_lower = false;
    for c in key.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' });
    }
    // journald's limit on field names is 64 bytes.
    out.truncate(64);
    out
}

/// The journal fields of one event.
pub fn fields(e: &OperationalEvent) -> Vec<(String, Vec<u8>)> {
    let mut f: Vec<(String, Vec<u8>)> = vec![
        ("MESSAGE".into(), e.message.clone().into_bytes()),
        ("MESSAGE_ID".into(), message_id(e.event_id).into()),
        ("PRIORITY".into(), priority(&e.level).to_string().into_bytes()),
        ("SYSLOG_IDENTIFIER".into(), b"netward".to_vec()),
        ("NETWARD_EVENT_ID".into(), e.event_id.to_string().into_bytes()),
        ("NETWARD_LEVEL".into(), e.level.clone().into_bytes()),
        ("NETWARD_TIMESTAMP".into(), e.timestamp.clone().into_bytes()),
    ];
    for (k, v) in &e.data {
        let value = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        f.push((field_name(k), value.into_bytes()));
    }
    f
}

/// The native protocol: `KEY=value\n`, or `KEY\n<u64 LE length><value>\n`
/// when the value holds a newline (or anything else not text-safe).
pub fn encode(fields: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in fields {
        out.extend_from_slice(k.as_bytes());
        if v.contains(&b'\n') {
            out.push(b'\n');
            out.extend_from_slice(&(v.len() as u64).to_le_bytes());
        } else {
            out.push(b'=');
        }
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

/// Sends the events to the journal if its socket exists; errors are returned
/// for the caller to ignore or show, never to fail on.
pub fn send(events: &[OperationalEvent]) -> std::io::Result<()> {
    let Some(path) = socket_path() else { return Ok(()) };
    let sock = UnixDatagram::unbound()?;
    // A journal that stopped reading must not stall the agent.
    sock.set_nonblocking(true)?;
    for e in events {
        send_one(&sock, &path, &encode(&fields(e)))?;
    }
    Ok(())
}

fn send_one(sock: &UnixDatagram, path: &Path, entry: &[u8]) -> std::io::Result<()> {
    match sock.send_to(entry, path) {
        Ok(_) => Ok(()),
        // Larger than a datagram may be: hand the entry over in a sealed memfd.
        Err(e) if matches!(e.raw_os_error(), Some(nix::libc::EMSGSIZE | nix::libc::ENOBUFS)) => {
            send_memfd(sock, path, entry)
        }
        Err(e) => Err(e),
    }
}

fn send_memfd(sock: &UnixDatagram, path: &Path, entry: &[u8]) -> std::io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, SealFlag};
    use nix::sys::memfd::{memfd_create, MFdFlags};
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
    let fd = memfd_create(c"netward-journal", MFdFlags::MFD_ALLOW_SEALING | MFdFlags::MFD_CLOEXEC)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(entry)?;
    // journald accepts only a sealed memfd (it reads it after we return).
    let seals = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE | SealFlag::F_SEAL_SEAL;
    fcntl(&file, FcntlArg::F_ADD_SEALS(seals))?;
    let addr = UnixAddr::new(path)?;
    let fds = [file.as_raw_fd()];
    sendmsg(sock.as_raw_fd(), &[], &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), Some(&addr))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{IoSliceMut, Read, Seek};

    /// journald's side of the protocol, for the tests.
    fn decode(mut b: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let nl = b.iter().position(|&c| c == b'\n').expect("line end");
            let line = &b[..nl];
            if let Some(eq) = line.iter().position(|&c| c == b'=') {
                out.push((String::from_utf8(line[..eq].to_vec()).unwrap(), line[eq + 1..].to_vec()));
                b = &b[nl + 1..];
            } else {
                let len = u64::from_le_bytes(b[nl + 1..nl + 9].try_into().unwrap()) as usize;
                let v = b[nl + 9..nl + 9 + len].to_vec();
                assert_eq!(b[nl + 9 + len], b'\n');
                out.push((String::from_utf8(line.to_vec()).unwrap(), v));
                b = &b[nl + 10 + len..];
            }
        }
        out
    }

    #[test]
    fn field_names_are_journal_names() {
        assert_eq!(field_name("RemoteUrl"), "NETWARD_REMOTE_URL");
        assert_eq!(field_name("ReportId"), "NETWARD_REPORT_ID");
        assert_eq!(field_name("OldValue"), "NETWARD_OLD_VALUE");
        assert_eq!(field_name("a.b-c"), "NETWARD_A_B_C");
    }

    #[test]
    fn values_with_newlines_take_the_length_form() {
        let f = vec![("A".to_string(), b"x=1".to_vec()), ("B".to_string(), b"two\nlines".to_vec())];
        let enc = encode(&f);
        assert_eq!(&enc[..6], b"A=x=1\n");
        assert_eq!(&enc[6..8], b"B\n");
        assert_eq!(decode(&enc), f);
    }

    #[test]
    fn an_entry_larger_than_a_datagram_goes_in_a_sealed_memfd() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("journal.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        let tx = UnixDatagram::unbound().unwrap();
        let big = vec![("MESSAGE".to_string(), vec![b'y'; 4 << 20])];
        send_one(&tx, &path, &encode(&big)).unwrap();
        let mut buf = [0u8; 64];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg =
            nix::sys::socket::recvmsg::<()>(rx.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty()).unwrap();
        assert_eq!(msg.bytes, 0, "the entry is in the memfd, not the datagram");
        let fd = msg
            .cmsgs()
            .unwrap()
            .find_map(|c| match c {
                nix::sys::socket::ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
                _ => None,
            })
            .expect("a passed fd");
        // Reopened by path (the crate forbids unsafe, so no from_raw_fd).
        let mut f = std::fs::File::open(format!("/proc/self/fd/{fd}")).unwrap();
        nix::unistd::close(fd).unwrap();
        let seals = nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_GET_SEALS).unwrap();
        assert_ne!(seals & nix::libc::F_SEAL_WRITE, 0, "sealed");
        f.rewind().unwrap();
        let mut entry = Vec::new();
        f.read_to_end(&mut entry).unwrap();
        assert_eq!(decode(&entry), big);
    }
    use nix::sys::socket::MsgFlags;
}
