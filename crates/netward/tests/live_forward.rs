//! The agent on a router: `netward run` in the testnet's proxy/router
//! namespace, which forwards between the client and the servers (as a host
//! forwards for its containers, VMs or routed namespaces). The client's own
//! connections are FORWARDed through the agent; squid and danted also run
//! there, so their outgoing connections are the router's own (OUTPUT). Real
//! agent, real squid/nginx/dnsmasq, real curl; the rules only in the test's
//! router namespace. Skips outside CI when a prerequisite is missing, fails
//! under `CI=true`.

use std::path::Path;
use std::time::Duration;

mod common;
use common::agent::{block_evil_test, curl, hunt, netward, nw, wait_for_rows, Agent};
use common::Topo;

/// The router's interface towards the client (testnet/lib.sh).
const CLIENT_SIDE_IF: &str = "pxa0";

fn fields(row: &serde_json::Value) -> serde_json::Value {
    match &row["AdditionalFields"] {
        serde_json::Value::String(s) => serde_json::from_str(s).unwrap_or_default(),
        v => v.clone(),
    }
}

fn rules_in(topo: &Topo, ns: &str) -> String {
    let out = std::process::Command::new("ip").args(["netns", "exec", topo.var(ns), "iptables-save"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn rows(data: &Path, action: &str, want: usize) -> Vec<serde_json::Value> {
    let q = format!(
        "DeviceNetworkEvents | where ActionType == '{action}' and RemotePort != 53 \
         | project ActionType, RemoteUrl, RemoteIP, LocalIP, AdditionalFields"
    );
    wait_for_rows(data, &q, want)
}

#[test]
fn forwarded_flows_are_judged_and_say_where_they_came_from() {
    let Some(topo) = Topo::up("fwd", 45) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    block_evil_test(data);
    let agent = Agent::start_cmd(topo.px(netward()), data, 16, &[]);
    assert!(rules_in(&topo, "NW_NS_PX").contains("-A FORWARD -j NETWARD-FWD"), "rules in the router namespace");
    assert!(!rules_in(&topo, "NW_NS_CLI").contains("NETWARD"), "none in the client's");
    let client = topo.var("NW_CLI_IP").to_string();

    // The client's own connections, forwarded by the router.
    assert!(curl(&topo, &["https://good.test/"]).0, "an allowed name passes the router");
    let (ok, secs) = curl(&topo, &["https://www.evil.test/"]);
    assert!(!ok, "a blocked name is blocked for the routed client");
    assert!(secs < 1.0, "reset at once, not a timeout: {secs:.2} s");
    assert!(!curl(&topo, &["http://evil.test/"]).0, "plain HTTP to a blocked name");
    assert!(curl(&topo, &["http://good.test/"]).0);
    // Through squid on the router: the client's connection is the router's
    // inbound one; squid's own connection to the blocked name is judged
    // (OUTPUT) and reset, so the client gets no tunnel.
    let proxy = topo.var("NW_HTTP_PROXY").to_string();
    assert!(!curl(&topo, &["-x", &proxy, "https://evil.test/"]).0, "squid's own connection is blocked");
    assert!(curl(&topo, &["-x", &proxy, "https://good.test/"]).0);

    let blocked = rows(data, "ExploitGuardNetworkProtectionBlocked", 3);
    assert!(blocked.len() >= 3, "{blocked:?}");
    let forwarded: Vec<&serde_json::Value> = blocked.iter().filter(|r| r["LocalIP"] == client.as_str()).collect();
    assert!(forwarded.len() >= 2, "the client's blocked flows, with the client's address: {blocked:?}");
    for r in &forwarded {
        let f = fields(r);
        assert_eq!(f["forwarded"], true, "{r}");
        assert_eq!(f["interface"], CLIENT_SIDE_IF, "{r}");
    }
    let own: Vec<&serde_json::Value> = blocked.iter().filter(|r| r["LocalIP"] != client.as_str()).collect();
    assert!(!own.is_empty(), "squid's own blocked connection: {blocked:?}");
    for r in &own {
        assert!(fields(r).get("forwarded").is_none(), "the router's own flow is not forwarded: {r}");
    }
    let good = rows(data, "ConnectionSuccess", 1);
    let routed: Vec<_> =
        good.iter().filter(|r| r["RemoteUrl"] == "good.test" && r["LocalIP"] == client.as_str()).collect();
    assert!(!routed.is_empty(), "{good:?}");
    assert!(routed.iter().all(|r| fields(r)["interface"] == CLIENT_SIDE_IF), "{routed:?}");

    // Audit: the routed client's blocked name passes and is audited.
    nw(data, &["config", "network-protection", "enforcement-level", "--value", "audit"]);
    assert!(curl(&topo, &["https://deep.sub.evil.test/"]).0, "audit mode lets it pass");
    std::thread::sleep(Duration::from_millis(300));
    let audited = rows(data, "ExploitGuardNetworkProtectionAudited", 1);
    let a: Vec<_> = audited.iter().filter(|r| r["RemoteUrl"] == "deep.sub.evil.test").collect();
    assert_eq!(a.len(), 1, "{audited:?}");
    assert_eq!(fields(a[0])["interface"], CLIENT_SIDE_IF, "{audited:?}");
    assert_eq!(a[0]["LocalIP"], client.as_str());
    // The DNS answers forwarded to the client taught the agent too.
    let dns =
        hunt(data, "DeviceNetworkEvents | where ActionType == 'DnsConnectionInspected' | project AdditionalFields");
    assert!(dns.iter().any(|r| fields(r)["interface"] == CLIENT_SIDE_IF), "{dns:?}");

    let status = agent.stop();
    assert!(status.success(), "agent exits 0 on SIGTERM: {status}");
    assert!(!rules_in(&topo, "NW_NS_PX").contains("NETWARD"), "rules removed on exit");
}
