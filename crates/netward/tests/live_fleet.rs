//! The agent's fleet link, live: a real `netward server` in the topology's
//! router namespace, the real agent (`netward run` with `[server]` in its
//! config) in the client namespace, real curl through it. The agent uploads
//! its events by itself; a block indicator set on the server blocks a real
//! connection within seconds; `health` shows the link; the server made
//! unreachable (its traffic dropped by iptables inside the client namespace
//! only) and restored: the agent keeps blocking, buffers in its store,
//! takes the policy changed meanwhile, and catches up with no doubles; so
//! does a second device in the namespace without an agent (`sync --follow`
//! over a store filled by `replay --store`, replayed again during the outage).
//! Needs root and testnet's packages (as every live test: skipped with a
//! message outside CI, failing under `CI=true`).

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::agent::{curl, hunt, netward, nw, Agent};
use common::fleet::{write_device_config, Server};
use common::Topo;

const PORT: &str = "7443";

fn count(rows: &[serde_json::Value]) -> u64 {
    rows.first().and_then(|r| r["Count"].as_u64()).unwrap_or(0)
}

#[test]
fn agent_uploads_takes_server_policy_and_catches_up_after_an_outage() {
    let Some(topo) = Topo::up("fleet", 62) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (srv, data, hunter) = (dir.path().join("server"), dir.path().join("device"), dir.path().join("hunter"));
    for d in [&srv, &data, &hunter] {
        std::fs::create_dir_all(d).unwrap();
    }
    // The server listens on the router's client-side address.
    let listen = format!("{}:{PORT}", topo.var("NW_PROXY_IP"));
    let mut cmd = topo.px(netward());
    cmd.arg("--data-dir").arg(&srv).args(["server", "--listen", &listen]);
    let server = Server::spawn(cmd, &srv);
    let (url, fp) = (server.url.clone(), server.fingerprint.clone());
    let admin = |args: &[&str]| nw(&srv, &[&["server"], args].concat());
    let token = |args: &[&str]| String::from_utf8(nw(&srv, args).stdout).unwrap().trim().to_string();
    let dev_token = token(&["--device-id", "live-dev", "server", "token", "add"]);
    let hunt_token = token(&["server", "token", "add", "--hunt"]);
    let config = dir.path().join("device.toml");
    write_device_config(&config, &url, &dev_token, &fp);
    let cfg = config.to_str().unwrap().to_string();
    let fleet = |q: &str| -> Vec<serde_json::Value> {
        let out = topo
            .px(netward())
            .arg("--data-dir")
            .arg(&hunter)
            .args(["--format", "json", "hunt", "--server", &url, "--token", &hunt_token, "--fingerprint", &fp, q])
            .output()
            .unwrap();
        assert!(out.status.success(), "fleet hunt: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let health =
        || -> serde_json::Value { serde_json::from_slice(&nw(&data, &["--config", &cfg, "health"]).stdout).unwrap() };
    let local = |q: &str| hunt(&data, q);

    let agent = Agent::start_cmd(topo.cli(netward()), &data, 14, &["--config", &cfg, "--device-id", "live-dev"]);
    // A second device without an agent, in the same namespace: its store
    // filled by replays, uploaded by `sync --follow`.
    let data2 = dir.path().join("device2");
    let cfg2 = dir.path().join("device2.toml");
    let tok2 = token(&["--device-id", "replay-dev", "server", "token", "add"]);
    write_device_config(&cfg2, &url, &tok2, &fp);
    let cfg2 = cfg2.to_str().unwrap().to_string();
    let pcaps: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .map(|p| p.display().to_string())
        .collect();
    let replay = || {
        let args = [&["--config", &cfg2, "--device-id", "replay-dev", "replay", "--store", "--no-print", "-q"][..]];
        let pc: Vec<&str> = pcaps.iter().map(String::as_str).collect();
        nw(&data2, &[args[0], &pc[..]].concat());
    };
    replay();
    let follower = KillOnDrop(
        topo.cli(netward())
            .arg("--data-dir")
            .arg(&data2)
            .args(["--config", &cfg2, "--device-id", "replay-dev", "sync", "--follow"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let q2 = "DeviceNetworkEvents | where DeviceId == 'replay-dev' | count";
    let local2 = |q: &str| hunt(&data2, q);
    assert!(curl(&topo, &["https://www.evil.test/"]).0, "nothing blocked before the server says so");
    assert!(curl(&topo, &["https://good.test/"]).0);

    // The agent uploads by itself.
    let q = "DeviceNetworkEvents | where DeviceId == 'live-dev' | count";
    let t = Instant::now();
    while count(&fleet(q)) == 0 {
        assert!(t.elapsed() < Duration::from_secs(15), "no event of the agent reached the server: {}", health());
        std::thread::sleep(Duration::from_millis(300));
    }

    // A block indicator on the server blocks a real connection within seconds.
    let t = Instant::now();
    admin(&["indicator", "add", "--type", "domain", "--value", "evil.test", "--action", "block"]);
    admin(&["config", "network-protection", "enforcement-level", "--value", "block"]);
    loop {
        if !curl(&topo, &["--max-time", "2", "https://www.evil.test/"]).0 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "not blocked 10 s after the server's change: {}", health());
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("server indicator to blocked connection on the agent: {:?}", t.elapsed());
    assert!(curl(&topo, &["https://good.test/"]).0, "the rest still passes");
    let h = health();
    let s = &h["server"];
    assert_eq!(s["url"], url.as_str(), "{h}");
    assert_eq!(s["connected"], true, "{h}");
    assert!(s["policy_version"].as_u64().unwrap() >= 2, "{h}");
    assert!(s["last_upload"].is_string() && s["cursor_lag_seconds"].is_u64(), "{h}");
    assert_eq!(h["enforcement_level"], "block", "{h}");

    // The server unreachable: its traffic dropped inside the client namespace.
    // Both ways: an answer already on its way would otherwise still arrive.
    let px = topo.var("NW_PROXY_IP");
    let rules = [
        ["OUTPUT", "-d", px, "-p", "tcp", "--dport", PORT, "-j", "DROP"],
        ["INPUT", "-s", px, "-p", "tcp", "--sport", PORT, "-j", "DROP"],
    ];
    for r in &rules {
        assert!(topo.cli("iptables").arg("-I").args(r).status().unwrap().success(), "iptables -I {r:?}");
    }
    let dropped = OnDrop(Some(|| {
        for r in &rules {
            let _ = topo.cli("iptables").arg("-D").args(r).status();
        }
    }));
    admin(&["indicator", "add", "--type", "domain", "--value", "phish.test", "--action", "block"]);
    for _ in 0..5 {
        assert!(curl(&topo, &["https://good.test/"]).0, "traffic goes on while the server is away");
    }
    assert!(!curl(&topo, &["https://www.evil.test/"]).0, "the agent keeps the server's policy while it is away");
    let t = Instant::now();
    loop {
        let h = health();
        if h["server"]["connected"] == false && h["server"]["last_error"].is_string() {
            eprintln!("outage seen by the agent after {:?}: {}", t.elapsed(), h["server"]["last_error"]);
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(40), "the agent did not notice the outage: {h}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let local_before = count(&local(q));
    replay();
    let local2_before = count(&local2(q2));
    assert!(count(&fleet(q2)) < local2_before, "the replayed events of the outage wait in device2's store");
    assert!(count(&fleet(q)) < local_before, "events of the outage wait in the device's store");
    let phish = String::from_utf8(nw(&data, &["--format", "json", "evaluate", "https://phish.test/"]).stdout).unwrap();
    assert!(phish.contains("\"action\":\"none\""), "the change made during the outage has not arrived: {phish}");

    // Back: the agent catches up (every local event once) and takes the
    // policy changed meanwhile.
    drop(dropped);
    let t = Instant::now();
    loop {
        let (l, f) = (count(&local(q)), count(&fleet(q)));
        let (l2, f2) = (count(&local2(q2)), count(&fleet(q2)));
        if f == l && l >= local_before && f2 == l2 {
            eprintln!("caught up {:?} after the outage: {f} + {f2} events", t.elapsed());
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "server {f}/{f2} events, devices {l}/{l2}: {}", health());
        std::thread::sleep(Duration::from_millis(500));
    }
    let doubles = fleet("DeviceNetworkEvents | summarize n = count() by DeviceId, ReportId | where n > 1 | count");
    assert_eq!(count(&doubles), 0, "no event twice on the server");
    let t = Instant::now();
    while curl(&topo, &["--max-time", "2", "https://phish.test/"]).0 {
        assert!(t.elapsed() < Duration::from_secs(40), "the indicator added during the outage never arrived");
        std::thread::sleep(Duration::from_millis(200));
    }
    let events = String::from_utf8(nw(&data, &["--format", "json", "events", "--id", "5007"]).stdout).unwrap();
    assert!(events.contains("block domain phish.test"), "5007 for the change applied on reconnect: {events}");
    assert_eq!(agent.stop().code(), Some(0));
    drop(follower);
    drop(server);
}

/// The server process, killed (-9) when the test ends, also on panic.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs its closure when dropped: the drop rule goes also when the test panics.
struct OnDrop<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}
