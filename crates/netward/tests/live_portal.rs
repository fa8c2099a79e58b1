//! The web portal served by the live agent (`[portal] enabled = true`):
//! `netward run` in a client namespace (testnet/), real curl making a
//! connection the agent records and one it blocks, then a real curl in the
//! same namespace logging in to the agent's portal over HTTP and finding
//! both on the device timeline; `netward health` shows the portal's address.
//! Needs root and the packages `.ci/run` installs; outside CI a missing
//! prerequisite skips (said on stderr), under `CI=true` it fails.

use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::agent::{block_evil_test, curl, netward, nw, wait_for_rows, Agent};
use common::Topo;

const PW: &str = "correct horse battery";

#[test]
fn the_agent_serves_the_portal_with_what_it_just_recorded() {
    let Some(topo) = Topo::up("portal", 70) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    block_evil_test(data);
    let mut add = std::process::Command::new(netward())
        .arg("--data-dir")
        .arg(data)
        .args(["portal", "user", "add", "alice", "--role", "analyst"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut add.stdin.take().unwrap(), format!("{PW}\n").as_bytes()).unwrap();
    assert!(add.wait().unwrap().success());
    // The namespace's own loopback: nothing outside the test reaches it.
    let cfg = data.join("netward.toml");
    std::fs::write(&cfg, "[portal]\nenabled = true\nlisten = \"127.0.0.1:7878\"\n").unwrap();
    let cfg_arg = cfg.to_str().unwrap();
    let agent = Agent::start_cmd(topo.cli(netward()), data, 24, &["--config", cfg_arg]);

    // Health says where the portal is, once it listens.
    let t = Instant::now();
    let url = loop {
        let h: serde_json::Value = serde_json::from_slice(&nw(data, &["health"]).stdout).unwrap();
        if let Some(u) = h["portal"]["url"].as_str() {
            assert_eq!(h["portal"]["tls"], false, "{h}");
            break u.to_string();
        }
        assert!(h["portal"]["error"].is_null(), "the portal did not start: {h}");
        assert!(t.elapsed() < Duration::from_secs(10), "no portal in health: {h}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(url, "http://127.0.0.1:7878/");

    // Something for the timeline: an allowed connection and a blocked one.
    assert!(curl(&topo, &["https://good.test/"]).0, "allowed TLS passes");
    assert!(!curl(&topo, &["https://www.evil.test/"]).0, "blocked TLS fails");
    let rows = wait_for_rows(
        data,
        "DeviceNetworkEvents | where RemoteUrl in (\"good.test\", \"www.evil.test\") | distinct RemoteUrl",
        2,
    );
    assert_eq!(rows.len(), 2, "both recorded: {rows:?}");

    // Log in with curl in the agent's namespace, then read the timeline.
    let jar = data.join("cookies.txt");
    let jar_arg = jar.to_str().unwrap();
    let login = topo
        .cli("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-c", jar_arg, "--max-time", "10"])
        .args(["--data-urlencode", "user=alice", "--data-urlencode", &format!("password={PW}")])
        .arg(format!("{url}login"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&login.stdout), "303", "{}", String::from_utf8_lossy(&login.stderr));
    let page = topo
        .cli("curl")
        .args(["-sS", "-b", jar_arg, "--max-time", "20"])
        .arg(format!("{url}timeline"))
        .output()
        .unwrap();
    let html = String::from_utf8_lossy(&page.stdout);
    assert!(html.contains("id=\"timeline\""), "{html}");
    assert!(html.contains("good.test"), "the allowed connection on the timeline: {html}");
    let evil: Vec<&str> = html.split("<tr").filter(|r| r.contains("www.evil.test")).collect();
    assert!(evil.iter().any(|r| r.starts_with(" class=\"blocked\"")), "the block stands out: {evil:?}");
    // Without the cookie: the login page.
    let anon = topo
        .cli("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10"])
        .arg(format!("{url}timeline"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&anon.stdout), "303");
    assert!(agent.stop().success(), "the agent stops cleanly with the portal running");
}
