//! systemd's service notification protocol (`sd_notify`) for `Type=notify`:
//! `READY=1` once the agent watches (queue bound, rules installed),
//! `WATCHDOG=1` at half of `WATCHDOG_USEC`, `STOPPING=1` on the way out. Each
//! message is one datagram to `$NOTIFY_SOCKET` (a path, or `@name` in the
//! abstract namespace). Without the variable (not started by systemd) every
//! call is a no-op, and a failing send never stops the agent.

use std::os::unix::net::UnixDatagram;
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Sends one notification to `addr` (a socket path or `@abstract`).
pub fn notify_to(addr: &str, state: &str) -> std::io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    if let Some(name) = addr.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        let a = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        sock.send_to_addr(state.as_bytes(), &a)?;
    } else {
        sock.send_to(state.as_bytes(), addr)?;
    }
    Ok(())
}

/// Sends to `$NOTIFY_SOCKET`; Ok(false) when there is none.
pub fn notify(state: &str) -> std::io::Result<bool> {
    match std::env::var("NOTIFY_SOCKET") {
        Ok(addr) if !addr.is_empty() => notify_to(&addr, state).map(|()| true),
        _ => Ok(false),
    }
}

fn notify_or_warn(state: &str) {
    if let Err(e) = notify(state) {
        eprintln!("warning: cannot notify systemd ({}): {e}", state.lines().next().unwrap_or(""));
    }
}

/// The agent is watching: the queue is bound and the rules are installed.
pub fn ready(status: &str) {
    notify_or_warn(&format!("READY=1\nSTATUS={status}\nMAINPID={}", std::process::id()));
}

/// The agent is stopping (rules being removed, store flushed).
pub fn stopping() {
    notify_or_warn("STOPPING=1");
}

/// The watchdog interval systemd asked for, if it asked this process:
/// `WATCHDOG_USEC`, and `WATCHDOG_PID` when set naming us.
pub fn watchdog_interval_from(usec: Option<&str>, pid: Option<&str>) -> Option<Duration> {
    if let Some(p) = pid {
        if p.trim().parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    let us: u64 = usec?.trim().parse().ok()?;
    (us > 0).then(|| Duration::from_micros(us))
}

pub fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    watchdog_interval_from(usec.as_deref(), pid.as_deref())
}

/// Pings at half the interval, for a loop that already runs often (the
/// agent's tick thread): call `tick()` on every round; a stalled loop stops
/// the pings and systemd restarts the agent.
pub struct WatchdogPinger {
    every: Duration,
    last: Option<Instant>,
}

impl WatchdogPinger {
    pub fn from_env() -> Option<Self> {
        watchdog_interval().map(|i| WatchdogPinger { every: i / 2, last: None })
    }

    /// Sends WATCHDOG=1 if half the interval has passed since the last ping.
    pub fn tick(&mut self, now: Instant) {
        if self.last.is_none_or(|l| now.duration_since(l) >= self.every) {
            self.last = Some(now);
            notify_or_warn("WATCHDOG=1");
        }
    }
}

/// A thread that pings the watchdog until dropped (for when no loop of the
/// agent's own should carry the pings).
pub struct Watchdog {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// None when systemd asked for no watchdog.
    pub fn spawn() -> Option<Self> {
        let mut pinger = WatchdogPinger::from_env()?;
        let (tx, rx) = channel::<()>();
        let every = pinger.every;
        let thread = std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || loop {
                pinger.tick(Instant::now());
                match rx.recv_timeout(every) {
                    Err(RecvTimeoutError::Timeout) => continue,
                    _ => break,
                }
            })
            .ok()?;
        Some(Watchdog { stop: Some(tx), thread: Some(thread) })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The agent is up: tells systemd (READY=1), records event 1150 (JSON
/// lines and journal) and starts the watchdog pings; keep the guard alive
/// while the agent runs.
pub fn agent_up(data_dir: &crate::datadir::DataDir, level: &str) -> Option<Watchdog> {
    ready(&format!("watching (enforcement {level})"));
    let started = crate::oplog::OperationalEvent::agent_started(crate::now(), level);
    if let Err(e) = crate::oplog::append(data_dir, &[started]) {
        eprintln!("warning: {e}");
    }
    Watchdog::spawn()
}

/// The agent is going down: STOPPING=1, then 3002 if it failed and 5001.
pub fn agent_down<E: std::fmt::Display>(data_dir: &crate::datadir::DataDir, result: &Result<(), E>) {
    use crate::oplog::OperationalEvent;
    stopping();
    let now = crate::now();
    let events = match result {
        Ok(()) => vec![OperationalEvent::agent_stopped(now, "stop requested")],
        Err(e) => vec![
            OperationalEvent::agent_error(now, "agent", &e.to_string()),
            OperationalEvent::agent_stopped(now, "error"),
        ],
    };
    if let Err(e) = crate::oplog::append(data_dir, &events) {
        eprintln!("warning: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_reach_a_path_socket_and_an_abstract_one() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("notify.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        notify_to(path.to_str().unwrap(), "READY=1\nSTATUS=x").unwrap();
        let mut buf = [0u8; 256];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=x");

        use std::os::linux::net::SocketAddrExt;
        let name = format!("netward-test-notify-{}", std::process::id());
        let a = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&a).unwrap();
        notify_to(&format!("@{name}"), "WATCHDOG=1").unwrap();
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1");
    }

    #[test]
    fn the_watchdog_interval_is_for_this_process_only() {
        let me = std::process::id().to_string();
        assert_eq!(watchdog_interval_from(Some("30000000"), None), Some(Duration::from_secs(30)));
        assert_eq!(watchdog_interval_from(Some("30000000"), Some(&me)), Some(Duration::from_secs(30)));
        assert_eq!(watchdog_interval_from(Some("30000000"), Some("1")), None);
        assert_eq!(watchdog_interval_from(Some("0"), None), None);
        assert_eq!(watchdog_interval_from(Some("soon"), None), None);
        assert_eq!(watchdog_interval_from(None, None), None);
    }

    #[test]
    fn the_pinger_pings_at_half_the_interval() {
        let mut p = WatchdogPinger { every: Duration::from_secs(15), last: None };
        let t0 = Instant::now();
        p.tick(t0);
        assert_eq!(p.last, Some(t0));
        p.tick(t0 + Duration::from_secs(14));
        assert_eq!(p.last, Some(t0), "not yet due");
        p.tick(t0 + Duration::from_secs(15));
        assert_eq!(p.last, Some(t0 + Duration::from_secs(15)));
    }
}
