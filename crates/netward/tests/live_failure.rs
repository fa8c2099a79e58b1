//! The live agent when things go wrong: killed with `kill -9` while traffic
//! runs, in fail-open and in fail-closed mode (`network_protection.fail_mode`
//! in the config file), then started again; a flood of new flows against a
//! small flow table; connections the server refuses (RST), the network
//! cannot deliver (ICMP unreachable) or nobody answers. Real agent, real nginx/dnsmasq, real
//! curl and real sockets in the testnet namespaces; the rules only in the
//! test's client namespace. Skips outside CI when a prerequisite is missing,
//! fails under `CI=true`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::agent::{block_evil_test, curl, hunt, netward, nw, rules_in_namespace, wait_for_rows, Agent};
use common::Topo;

/// 40 MB of the server's 200 MB file at 8 MB/s: a download that runs ~5 s.
const DOWNLOAD_BYTES: u64 = 40_000_000;

fn config_file(dir: &Path, fail_mode: &str) -> String {
    let path = dir.join("netward.toml");
    std::fs::write(&path, format!("[network_protection]\nfail_mode = \"{fail_mode}\"\n")).unwrap();
    path.to_string_lossy().into_owned()
}

fn start(topo: &Topo, data: &Path, config: &str, queue: u16, extra: &[&str]) -> Agent {
    let mut args = vec!["--config", config];
    args.extend_from_slice(extra);
    Agent::start_cmd(topo.cli(netward()), data, queue, &args)
}

/// A TLS download of [`DOWNLOAD_BYTES`] in the client namespace, running
/// while the test goes on; [`finish_download`] says how it ended.
fn start_download(topo: &Topo) -> Child {
    topo.cli("curl")
        .args(["-sS", "-o", "/dev/null", "--max-time", "30", "--limit-rate", "8M", "-w", "%{size_download}"])
        .args(["--cacert", topo.var("NW_CA"), "-r", &format!("0-{}", DOWNLOAD_BYTES - 1)])
        .arg("https://big.test/big.bin")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("curl download")
}

/// (succeeded, bytes received).
fn finish_download(c: Child) -> (bool, u64) {
    let out = c.wait_with_output().unwrap();
    let bytes = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
    (out.status.success(), bytes)
}

/// netward's lines of the namespace's rules (iptables-save prints no
/// counters without -c, so two installs of one set compare equal).
fn netward_rules(topo: &Topo) -> Vec<String> {
    rules_in_namespace(topo).lines().filter(|l| l.contains("NETWARD")).map(str::to_string).collect()
}

fn report_ids(data: &Path) -> BTreeSet<i64> {
    hunt(data, "DeviceNetworkEvents | project ReportId").iter().map(|r| r["ReportId"].as_i64().unwrap()).collect()
}

fn health(data: &Path) -> serde_json::Value {
    serde_json::from_slice(&nw(data, &["health"]).stdout).unwrap()
}

/// The agent's peak resident memory (`VmHWM`), in KiB.
fn peak_rss_kib(agent: &Agent) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", agent.pid())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

const BLOCKED: &str =
    "DeviceNetworkEvents | where ActionType == 'ExploitGuardNetworkProtectionBlocked' | project ReportId, RemoteUrl";

fn blocked_fast(topo: &Topo, url: &str) {
    let (ok, secs) = curl(topo, &[url]);
    assert!(!ok, "{url} must be blocked");
    assert!(secs < 1.0, "{url}: reset at once, not a timeout: {secs:.2} s");
}

/// Kill -9 mid-traffic, what traffic does without the agent, and the restart.
fn kill_and_restart(topo: &Topo, data: &Path, fail_mode: &str, queue: u16) -> Agent {
    let config = config_file(data, fail_mode);
    let agent = start(topo, data, &config, queue, &[]);
    assert_eq!(health(data)["fail_mode"], fail_mode);
    let installed = netward_rules(topo);
    assert!(installed.iter().any(|l| l.contains("NFQUEUE")), "{installed:?}");
    assert!(curl(topo, &["https://good.test/"]).0, "allowed TLS passes");
    blocked_fast(topo, "https://www.evil.test/");
    // Acknowledged events: the store has them before the kill.
    let blocks = wait_for_rows(data, BLOCKED, 1).len();
    assert!(blocks >= 1, "the block is stored before the kill");
    std::thread::sleep(Duration::from_millis(600));
    let before = report_ids(data);
    assert!(before.len() >= 3, "connection, inspected and verdict events stored: {before:?}");

    let download = start_download(topo);
    std::thread::sleep(Duration::from_millis(1000));
    let status = agent.kill9();
    assert!(!status.success(), "killed: {status}");
    assert_eq!(netward_rules(topo), installed, "a killed agent leaves its rules behind");

    // No agent listens on the queue now.
    match fail_mode {
        "open" => {
            // --queue-bypass: new connections pass, unjudged.
            assert!(curl(topo, &["https://good.test/"]).0, "fail open: new connections work");
            assert!(curl(topo, &["https://www.evil.test/"]).0, "fail open: nothing judges them");
        }
        _ => {
            let (ok, secs) = curl(topo, &["--connect-timeout", "2", "https://good.test/"]);
            assert!(!ok && secs >= 1.9, "fail closed: a new connection waits and fails ({secs:.2} s)");
        }
    }
    // A connection passed before the kill skips the queue: it goes on in both modes.
    let (ok, bytes) = finish_download(download);
    assert!(ok && bytes == DOWNLOAD_BYTES, "the passed download survives the kill ({fail_mode}): {bytes} bytes");
    let after_kill = report_ids(data);
    assert!(before.is_subset(&after_kill), "acknowledged events survive kill -9: {before:?} vs {after_kill:?}");

    let agent = start(topo, data, &config, queue, &[]);
    assert_eq!(netward_rules(topo), installed, "the stale rules were replaced by exactly one set");
    assert_eq!(rules_in_namespace(topo).matches("-A OUTPUT -j NETWARD-OUT").count(), 1);
    // Judged again.
    blocked_fast(topo, "https://www.evil.test/");
    assert!(curl(topo, &["https://good.test/"]).0);
    let rows = wait_for_rows(data, BLOCKED, blocks + 1);
    assert!(rows.len() > blocks, "the restarted agent stores again: {rows:?}");
    let all = report_ids(data);
    assert!(before.is_subset(&all), "the recovered store keeps every acknowledged event");
    let max_before = *before.iter().max().unwrap();
    let new: Vec<i64> = all.difference(&after_kill).copied().collect();
    assert!(!new.is_empty() && new.iter().all(|id| *id > max_before), "no ReportId reused: {new:?} after {max_before}");
    agent
}

#[test]
fn fail_open_kill_restart_and_refused_connections() {
    let Some(topo) = Topo::up("fopen", 46) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    block_evil_test(data);
    let agent = kill_and_restart(&topo, data, "open", 14);

    // A closed port: the server's RST ends the attempt, written at once.
    let good = topo.var("NW_GOOD_IP").to_string();
    let t = Instant::now();
    assert!(!curl(&topo, &[&format!("http://{good}:81/")]).0);
    let q = format!(
        "DeviceNetworkEvents | where RemoteIP == '{good}' and RemotePort == 81 | project ActionType, RemoteIP, RemotePort"
    );
    let rows = wait_for_rows(data, &q, 1);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["ActionType"], "ConnectionFailed", "{rows:?}");
    assert!(t.elapsed() < Duration::from_secs(5), "written when refused, not at the idle timeout");

    // An address on the server link nobody has: the router's ICMP host
    // unreachable (after its ARP gives up, ~3 s) ends the attempt.
    let base = good.rsplit_once('.').unwrap().0.to_string();
    let nobody = format!("{base}.140");
    let t = Instant::now();
    let (ok, secs) = curl(&topo, &["--connect-timeout", "8", &format!("http://{nobody}/")]);
    assert!(!ok && secs < 7.5, "no route to host, reported by ICMP ({secs:.2} s)");
    let q = format!("DeviceNetworkEvents | where RemoteIP == '{nobody}' | project ActionType");
    let rows = wait_for_rows(data, &q, 1);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["ActionType"], "ConnectionFailed", "{rows:?}");
    assert!(t.elapsed() < Duration::from_secs(10), "written when refused, not at the idle timeout");
    assert!(health(data)["icmp_refusals"].as_u64().unwrap() >= 1);

    // No answer at all (the server namespace drops the SYNs): the attempt
    // is written at the setup timeout (10 s after the first SYN), though
    // the client's retransmitted SYNs keep the flow from idling out.
    let drop = ["-I", "INPUT", "-p", "tcp", "--dport", "82", "-j", "DROP"];
    let ok = std::process::Command::new("ip")
        .args(["netns", "exec", topo.var("NW_NS_SRV"), "iptables"])
        .args(drop)
        .status()
        .unwrap();
    assert!(ok.success(), "a DROP rule in the test's server namespace");
    let t = Instant::now();
    let (ok, _) = curl(&topo, &["--connect-timeout", "4", &format!("http://{good}:82/")]);
    assert!(!ok);
    let q = "DeviceNetworkEvents | where RemotePort == 82 | project ActionType, Timestamp";
    assert!(hunt(data, q).is_empty(), "nothing yet: the program may still be waiting");
    let rows = loop {
        let rows = hunt(data, q);
        if !rows.is_empty() || t.elapsed() > Duration::from_secs(20) {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["ActionType"], "ConnectionAttempt", "{rows:?}");
    let secs = t.elapsed().as_secs_f64();
    assert!((9.0..16.0).contains(&secs), "written at the setup timeout: {secs:.1} s");

    let status = agent.stop();
    assert!(status.success(), "agent exits 0 on SIGTERM: {status}");
    assert!(netward_rules(&topo).is_empty(), "rules removed on exit");
}

/// The flood: `n` nonblocking connects to random closed ports of `ip` (each
/// refused by a RST) and `n` UDP datagrams of garbage to random ports.
const FLOOD: &str = r#"
import random, socket, sys
ip, n = sys.argv[1], int(sys.argv[2])
open_ = []
for i in range(n):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect((ip, random.randint(2000, 60000)))
    except BlockingIOError:
        pass
    open_.append(s)
    if len(open_) >= 256:
        for x in open_:
            x.close()
        open_ = []
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    u.sendto(random.randbytes(64), (ip, random.randint(2000, 60000)))
"#;

/// Peak resident memory the agent may reach under the flood (debug build,
/// --max-flows 512): see README "Memory bound".
const RSS_BOUND_KIB: u64 = 128 * 1024;

#[test]
fn fail_closed_kill_restart_and_flood() {
    let Some(topo) = Topo::up("fclosed", 47) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    block_evil_test(data);
    let agent = kill_and_restart(&topo, data, "closed", 15);
    let status = agent.stop();
    assert!(status.success(), "{status}");

    let config = config_file(data, "closed");
    let agent = start(&topo, data, &config, 15, &["--max-flows", "512"]);
    let idle_kib = peak_rss_kib(&agent);
    let mut flood = topo
        .cli("/usr/bin/python3")
        .args(["-c", FLOOD, topo.var("NW_GOOD_IP"), "20000"])
        .spawn()
        .expect("python3 flood");
    // During the flood: the blocked name is still blocked, the allowed one passes.
    std::thread::sleep(Duration::from_millis(500));
    let (ok, _) = curl(&topo, &["https://www.evil.test/"]);
    assert!(!ok, "blocked during the flood");
    assert!(flood.wait().unwrap().success(), "the flood ran");
    blocked_fast(&topo, "https://deep.sub.evil.test/");
    assert!(curl(&topo, &["https://good.test/"]).0, "allowed after the flood");
    std::thread::sleep(Duration::from_millis(700));
    let h = health(data);
    let c = &h["counters"];
    assert!(c["flows_evicted"].as_u64().unwrap() > 1000, "the flow table evicts: {h}");
    assert!(c["flows_tracked"].as_u64().unwrap() <= 512, "{h}");
    assert!(c["packets_queued"].as_u64().unwrap() > 5_000, "the flood went through the agent: {h}");
    let peak = peak_rss_kib(&agent);
    eprintln!("agent VmHWM: {idle_kib} KiB before the flood, {peak} KiB after; health {h}");
    assert!(peak < RSS_BOUND_KIB, "VmHWM {peak} KiB over the bound {RSS_BOUND_KIB} KiB");
    let status = agent.stop();
    assert!(status.success(), "{status}");
}
