//! New listening sockets of the namespace, for `ListeningConnectionCreated`.
//! The kernel's socket table (`/proc/net/{tcp,udp}[6]`, read by
//! `netward_datapath::sockets`) is scanned every 2 s by the agent's tick thread (off the
//! packet path), and each scan is compared here, on the queue thread,
//! with the previous scan, so each listener is reported once, when it first
//! appears. The listeners present when the agent starts are its baseline:
//! they were created before it watched, and are not reported as created now.

use netward_datapath::sockets::{Listener, SocketProto, MAX_SOCKETS};
use netward_events::{Protocol, Timestamp};
use netward_sensor::Sensor;
use std::collections::HashSet;

pub struct ListenerWatch {
    /// The listeners of the last scan (at most `MAX_SOCKETS`: the scan's bound).
    known: HashSet<Listener>,
    pub reported: u64,
}

impl ListenerWatch {
    /// Takes the baseline: what listens already is not reported.
    pub fn start(now: Vec<Listener>) -> Self {
        ListenerWatch { known: now.into_iter().collect(), reported: 0 }
    }

    /// One scan: a `ListeningConnectionCreated` for each listener not in the
    /// last one. A socket closed and opened again on the same port is a new
    /// socket (another inode) and is reported again.
    pub fn scan(&mut self, now: Vec<Listener>, sensor: &mut Sensor, ts: Timestamp) {
        let now: HashSet<Listener> = now.into_iter().take(MAX_SOCKETS).collect();
        for l in now.difference(&self.known) {
            let protocol = match l.proto {
                SocketProto::Tcp => Protocol::Tcp,
                SocketProto::Udp => Protocol::Udp,
            };
            sensor.listening(protocol, l.local, ts);
            self.reported += 1;
        }
        self.known = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netward_events::ActionType;
    use netward_sensor::SensorConfig;

    fn listener(port: u16, inode: u64) -> Listener {
        Listener { proto: SocketProto::Tcp, local: ([0, 0, 0, 0], port).into(), uid: 0, inode }
    }

    #[test]
    fn reports_each_new_listener_once_and_not_the_baseline() {
        let mut sensor = Sensor::new(SensorConfig::default());
        let mut w = ListenerWatch::start(vec![listener(22, 1)]);
        w.scan(vec![listener(22, 1), listener(8080, 2)], &mut sensor, Timestamp(5));
        w.scan(vec![listener(22, 1), listener(8080, 2)], &mut sensor, Timestamp(6));
        let ev = sensor.poll().expect("the new listener");
        assert_eq!(ev.action_type, Some(ActionType::ListeningConnectionCreated));
        assert_eq!((ev.local_port, ev.remote_ip, ev.remote_port), (Some(8080), None, None));
        assert!(sensor.poll().is_none(), "reported once; the baseline never");
        // Closed, then a new socket on the same port: a new listener.
        w.scan(vec![listener(22, 1)], &mut sensor, Timestamp(7));
        w.scan(vec![listener(22, 1), listener(8080, 3)], &mut sensor, Timestamp(8));
        assert_eq!(sensor.poll().map(|e| e.local_port), Some(Some(8080)));
        assert_eq!(w.reported, 2);
    }
}
