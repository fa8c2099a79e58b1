//! The live agent itself: `netward run` in a client namespace, with real
//! squid, nginx (TLS) and dnsmasq in other namespaces and real curl clients
//! (testnet/), in block and audit mode. Needs root and the packages `.ci/run`
//! installs; outside CI a missing prerequisite skips (said on stderr), under
//! `CI=true` it fails. The rules are installed inside the test's own
//! namespace only, never the root namespace.

use std::time::{Duration, Instant};

mod common;
use common::agent::{block_evil_test, curl, hunt, nw, rules_in_namespace, wait_for_rows, Agent};
use common::Topo;

#[test]
fn agent_blocks_and_audits_real_connections() {
    let Some(topo) = Topo::up("agent", 41) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    block_evil_test(data);
    let agent = Agent::start(&topo, data, 11);
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

    // A followed plain-HTTP download (200 MB straight from the server): the
    // rules return its bare ACKs, so the agent sees a few dozen packets, not
    // one per ACK (about a thousand before they were skipped).
    let queued = || {
        std::thread::sleep(Duration::from_millis(1200)); // counters are published twice a second
        let h: serde_json::Value = serde_json::from_slice(&nw(data, &["health"]).stdout).unwrap();
        h["counters"]["packets_queued"].as_u64().unwrap()
    };
    // A passed TLS connection (no DNS: the address given) queues its
    // ClientHello only: its first SYN, the handshake's SYN-ACK and last ACK
    // skip the queue, the rest of it follows the PASS mark.
    let before = queued();
    let resolve = format!("good.test:443:{}", topo.var("NW_GOOD_IP"));
    assert!(curl(&topo, &["--resolve", &resolve, "https://good.test/"]).0, "allowed TLS passes");
    let tls = queued() - before;
    assert!(tls <= 1, "{tls} packets queued for one passed TLS connection (its ClientHello expected)");
    let before = queued();
    assert!(curl(&topo, &["--max-time", "30", "http://good.test/big.bin"]).0, "the plain-HTTP download completes");
    let during = queued() - before;
    assert!(during < 300, "{during} packets queued for one followed 200 MB download");

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
