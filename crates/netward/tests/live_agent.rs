//! The live agent itself: `netward run` in a client namespace, with real
//! squid, nginx (TLS) and dnsmasq in other namespaces and real curl clients
//! (testnet/), in block and audit mode. Needs root and the packages `.ci/run`
//! installs; outside CI a missing prerequisite skips (said on stderr), under
//! `CI=true` it fails. The rules are installed inside the test's own
//! namespace only, never the root namespace.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::Topo;

fn netward() -> &'static str {
    env!("CARGO_BIN_EXE_netward")
}

/// A `netward` command on the test's data directory.
fn nw(data: &Path, args: &[&str]) -> Output {
    let out = Command::new(netward()).arg("--data-dir").arg(data).args(args).output().expect("run netward");
    assert!(out.status.success(), "netward {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

struct Agent {
    child: Child,
}

impl Agent {
    fn start(topo: &Topo, data: &Path) -> Agent {
        let child = topo
            .cli(netward())
            .arg("--data-dir")
            .arg(data)
            .args(["run", "--queue", "11"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start agent");
        let agent = Agent { child };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(20) {
            let out = Command::new(netward()).arg("--data-dir").arg(data).arg("health").output().unwrap();
            if out.status.success() {
                return agent;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the agent did not answer health within 20 s");
    }

    fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id() as i32;
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        let t = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(t.elapsed() < Duration::from_secs(10), "agent did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// curl in the client namespace: (succeeded, seconds taken).
fn curl(topo: &Topo, args: &[&str]) -> (bool, f64) {
    let t = Instant::now();
    let out = topo
        .cli("curl")
        .args(["-sS", "-o", "/dev/null", "--max-time", "5", "--cacert", topo.var("NW_CA")])
        .args(args)
        .output()
        .expect("curl");
    (out.status.success(), t.elapsed().as_secs_f64())
}

fn rules_in_namespace(topo: &Topo) -> String {
    let out = topo.cli("iptables-save").output().expect("iptables-save");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn hunt(data: &Path, q: &str) -> Vec<serde_json::Value> {
    let out = nw(data, &["--format", "json", "hunt", q]);
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn wait_for_rows(data: &Path, q: &str, want: usize) -> Vec<serde_json::Value> {
    let t = Instant::now();
    loop {
        let rows = hunt(data, q);
        if rows.len() >= want || t.elapsed() > Duration::from_secs(10) {
            return rows;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn agent_blocks_and_audits_real_connections() {
    let Some(topo) = Topo::up("agent", 41) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    nw(
        data,
        &["indicator", "add", "--type", "domain", "--value", "evil.test", "--action", "block", "--title", "test block"],
    );
    nw(data, &["config", "network-protection", "enforcement-level", "--value", "block"]);
    let agent = Agent::start(&topo, data);
    assert!(rules_in_namespace(&topo).contains("NETWARD-Q"), "rules installed in the client namespace");
    let proxy = topo.var("NW_HTTP_PROXY").to_string();

    // Direct TLS: the allowed name works, the blocked one is reset at once.
    assert!(curl(&topo, &["https://good.test/"]).0, "allowed TLS passes");
    let (ok, secs) = curl(&topo, &["https://www.evil.test/"]);
    assert!(!ok, "a blocked name over TLS must fail");
    assert!(secs < 1.0, "reset at once, not a timeout: {secs:.2} s");
    // Through CONNECT.
    assert!(curl(&topo, &["-x", &proxy, "https://good.test/"]).0, "CONNECT to an allowed name passes");
    assert!(!curl(&topo, &["-x", &proxy, "https://evil.test/"]).0, "CONNECT to a blocked name fails");
    // A keep-alive proxy connection: first request allowed, second blocked.
    let (ok, _) = curl(&topo, &["-x", &proxy, "http://good.test/", "http://EVIL.test./"]);
    assert!(!ok, "the second request on the keep-alive proxy connection is blocked");
    // Plain HTTP straight to the server, the blocked name in another spelling.
    assert!(!curl(&topo, &["http://Evil.Test:80/"]).0, "plain HTTP Host in another spelling is blocked");
    assert!(curl(&topo, &["http://good.test/"]).0);

    // Audit: everything passes, and takes effect without a restart.
    nw(data, &["config", "network-protection", "enforcement-level", "--value", "audit"]);
    assert!(curl(&topo, &["https://evil.test/"]).0, "audit mode lets the blocked name pass");
    // Counters are published twice a second; the agent saw every packet above.
    let t = Instant::now();
    let h = loop {
        let h: serde_json::Value = serde_json::from_slice(&nw(data, &["health"]).stdout).unwrap();
        if h["counters"]["verdicts"]["block"].as_u64().unwrap_or(0) >= 4 || t.elapsed() > Duration::from_secs(5) {
            break h;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(h["enforcement_level"], "audit", "{h}");
    assert!(h["counters"]["verdicts"]["block"].as_u64().unwrap() >= 4, "{h}");
    assert!(h["counters"]["packets_queued"].as_u64().unwrap() > 10, "{h}");
    assert_eq!(h["fail_mode"], "open");

    let blocked = wait_for_rows(
        data,
        "DeviceNetworkEvents | where ActionType == 'ExploitGuardNetworkProtectionBlocked' | project RemoteUrl",
        4,
    );
    assert!(blocked.len() >= 4, "blocked verdicts stored: {blocked:?}");
    assert!(blocked.iter().all(|r| r["RemoteUrl"].as_str().unwrap().ends_with("evil.test")), "{blocked:?}");
    let audited = wait_for_rows(
        data,
        "DeviceNetworkEvents | where ActionType == 'ExploitGuardNetworkProtectionAudited' | project RemoteUrl",
        1,
    );
    assert!(!audited.is_empty(), "the audit-mode verdict is stored");
    // The seeds' queries: proxy connections and the real targets.
    let q = format!(
        "DeviceNetworkEvents | where ActionType == 'ConnectionSuccess' and RemoteIP != '{}' | project RemoteUrl",
        topo.var("NW_PROXY_IP")
    );
    let targets: Vec<String> = hunt(data, &q).iter().map(|r| r["RemoteUrl"].as_str().unwrap().to_string()).collect();
    assert!(targets.iter().any(|t| t == "good.test"), "real targets listed: {targets:?}");

    let status = agent.stop();
    assert!(status.success(), "agent exits 0 on SIGTERM: {status}");
    assert!(!rules_in_namespace(&topo).contains("NETWARD"), "rules removed on exit");
    assert!(curl(&topo, &["https://evil.test/"]).0, "no agent, no rules: traffic flows");
}
