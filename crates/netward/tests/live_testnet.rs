//! Real clients through real servers: curl through squid (CONNECT and a
//! keep-alive proxy GET) and danted (SOCKS5), nginx serving TLS, dnsmasq
//! answering, all in network namespaces this test creates (198.19.0.0/16,
//! torn down even on failure). The traffic is captured with tcpdump in the
//! client namespace and replayed through netward; the events must name the
//! real destinations. Needs root and the packages `.ci/run` installs; outside
//! CI a missing prerequisite skips (said on stderr), under `CI=true` it fails.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;
use common::Topo;

/// tcpdump in the client namespace, stopped (and its file flushed) on drop.
struct Tcpdump(Child);

impl Tcpdump {
    fn start(topo: &Topo, file: &std::path::Path) -> Tcpdump {
        let child = topo
            .cli("tcpdump")
            .args(["-i", topo.var("NW_CLI_IF"), "-s", "0", "-U", "--immediate-mode", "-w"])
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpdump");
        // tcpdump says "listening on" once the capture is open.
        std::thread::sleep(Duration::from_millis(700));
        Tcpdump(child)
    }
    fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn curl(topo: &Topo, args: &[&str]) {
    let out = topo
        .cli("curl")
        .args(["-sS", "--max-time", "10", "--cacert", topo.var("NW_CA"), "-o", "/dev/null"])
        .args(args)
        .output()
        .expect("curl");
    assert!(out.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn names_through_squid_and_danted_from_a_live_capture() {
    let Some(topo) = Topo::up("names", 41) else { return };
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("live.pcap");
    let dump = Tcpdump::start(&topo, &pcap);
    let proxy = topo.var("NW_HTTP_PROXY").to_string();
    let socks = format!("{}:{}", topo.var("NW_PROXY_IP"), topo.var("NW_SOCKS_PORT"));
    curl(&topo, &["-x", &proxy, "https://evil.test/"]);
    curl(&topo, &["-x", &proxy, "http://good.test/", "http://www.evil.test/", "http://phish.test/"]);
    curl(&topo, &["--socks5-hostname", &socks, "https://www.good.test/"]);
    curl(&topo, &["https://good.test/"]);
    std::thread::sleep(Duration::from_millis(300));
    dump.stop();

    let out = assert_cmd::Command::cargo_bin("netward")
        .unwrap()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["replay", "-q", "--format", "json"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let events: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let proxy_ip = topo.var("NW_PROXY_IP");
    let has = |action: &str, ip: &str, url: &str| {
        events.iter().any(|e| e["ActionType"] == action && e["RemoteIP"] == ip && e["RemoteUrl"] == url)
    };
    // CONNECT through squid: the proxy connection names the target, and so
    // does the ClientHello inside the tunnel.
    assert!(has("ConnectionSuccess", proxy_ip, "evil.test"), "CONNECT connection");
    assert!(has("SslConnectionInspected", proxy_ip, "evil.test"), "tunnelled ClientHello");
    // Every request of the keep-alive proxy connection.
    for host in ["good.test", "www.evil.test", "phish.test"] {
        assert!(has("HttpConnectionInspected", proxy_ip, host), "proxy GET {host}");
        assert!(
            events.iter().any(|e| e["ActionType"] == "ConnectionSuccess"
                && e["RemoteUrl"] == host
                && e["RemoteIP"] != proxy_ip
                && e["AdditionalFields"]["proxy"]["kind"] == "http-forward"),
            "target event for {host}"
        );
    }
    // SOCKS5 by name through danted.
    assert!(has("ConnectionSuccess", proxy_ip, "www.good.test"), "SOCKS connection");
    // Direct TLS after a DNS answer from dnsmasq.
    assert!(has("DnsConnectionInspected", topo.var("NW_DNS_IP"), "good.test"), "DNS answer");
    assert!(has("SslConnectionInspected", topo.var("NW_GOOD_IP"), "good.test"), "direct TLS");
}
