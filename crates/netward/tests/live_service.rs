//! The agent as a systemd service sees it, in a testnet client namespace:
//! `READY=1` on `$NOTIFY_SOCKET` only once its rules are installed,
//! `WATCHDOG=1` pings at half `WATCHDOG_USEC`, `STOPPING=1` on SIGTERM, the
//! start (1150) and stop (5001) events in a journald stand-in; and `netward
//! cleanup` removing the rules a `kill -9`ed agent left (what the package's
//! prerm and the unit's ExecStopPost run). Rules only in the test's namespace.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

mod common;
use common::agent::{netward, rules_in_namespace, Agent};
use common::Topo;

fn datagrams(rx: &UnixDatagram, until: impl Fn(&[String]) -> bool, within: Duration) -> Vec<String> {
    rx.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let t = Instant::now();
    while t.elapsed() < within && !until(&got) {
        if let Ok(n) = rx.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    got
}

#[test]
fn ready_watchdog_stopping_journal_and_cleanup() {
    let Some(topo) = Topo::up("service", 51) else { return };
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let notify_path = t.path().join("notify.sock");
    let journal_path = t.path().join("journal.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    let journal = UnixDatagram::bind(&journal_path).unwrap();

    let mut cmd = topo.cli(netward());
    cmd.env("NOTIFY_SOCKET", &notify_path).env("WATCHDOG_USEC", "400000").env("NETWARD_JOURNAL_SOCKET", &journal_path);
    let agent = Agent::start_cmd(cmd, &data, 7941, &[]);
    let got = datagrams(&notify, |g| g.iter().any(|m| m.starts_with("READY=1")), Duration::from_secs(10));
    let ready = got.iter().find(|m| m.starts_with("READY=1")).expect("READY=1");
    assert!(ready.contains(&format!("MAINPID={}", agent.pid())), "{ready}");
    // Ready means the rules are in: they are there when it said so.
    assert!(rules_in_namespace(&topo).contains("NETWARD"), "{}", rules_in_namespace(&topo));
    let pings = datagrams(&notify, |g| g.iter().filter(|m| *m == "WATCHDOG=1").count() >= 3, Duration::from_secs(10));
    assert!(pings.iter().filter(|m| *m == "WATCHDOG=1").count() >= 3, "{pings:?}");

    assert!(agent.stop().success());
    let rest = datagrams(&notify, |g| g.iter().any(|m| m == "STOPPING=1"), Duration::from_secs(5));
    assert!(rest.iter().any(|m| m == "STOPPING=1"), "{rest:?}");
    let entries =
        datagrams(&journal, |g| g.iter().any(|m| m.contains("NETWARD_EVENT_ID=5001")), Duration::from_secs(5));
    let started = entries.iter().find(|m| m.contains("NETWARD_EVENT_ID=1150")).expect("1150 in the journal");
    assert!(started.contains("MESSAGE_ID=6e2f3c0a9d1b4f5e8a7c2b1d0e9f1150"), "{started}");
    assert!(started.contains("NETWARD_ENFORCEMENT_LEVEL="), "{started}");
    assert!(entries.iter().any(|m| m.contains("NETWARD_EVENT_ID=5001")), "{entries:?}");

    // kill -9 leaves the rules; cleanup takes them away.
    let agent = Agent::start(&topo, &data, 7941);
    agent.kill9();
    assert!(rules_in_namespace(&topo).contains("NETWARD"), "rules left by kill -9");
    let out = topo.cli(netward()).arg("--data-dir").arg(&data).arg("cleanup").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!rules_in_namespace(&topo).contains("NETWARD"), "{}", rules_in_namespace(&topo));
    // Again: nothing left is no error.
    let out = topo.cli(netward()).arg("--data-dir").arg(&data).arg("cleanup").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no netward rules"));
}
