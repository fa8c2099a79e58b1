//! Policy from the fleet server through the real binary: a real `netward
//! server` on loopback (TLS, pinned), devices in separate data directories
//! following it with `netward sync --follow` (the agent's fleet link, run
//! in the foreground; `live_fleet.rs` runs it inside `netward run`). An
//! indicator and the enforcement level set on the server make `netward
//! evaluate` on a device say block within seconds; a group's indicator
//! reaches only the group's devices; every applied change is a 5007 on the
//! device; local changes are refused (exit 2) until the server allows them;
//! a device keeps its policy with the server killed and its link restarted.

mod common;
use common::fleet::{netward, ok, Device, Server};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

/// The bound the "within seconds" is held to.
const POLICY_BOUND: Duration = Duration::from_secs(10);

/// A child process killed (-9) on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Device {
    fn follow(&self) -> Proc {
        let mut c = self.cmd();
        c.args(["sync", "--follow"]).stdout(Stdio::null()).stderr(Stdio::inherit());
        Proc(c.spawn().unwrap())
    }

    /// `evaluate`'s verdict for one input: (action, enforced).
    fn verdict(&self, input: &str) -> (String, bool) {
        let mut c = self.cmd();
        c.args(["evaluate", input]);
        let v: serde_json::Value = serde_json::from_slice(&ok(c).stdout).unwrap();
        (v["action"].as_str().unwrap().to_string(), v["enforced"].as_bool().unwrap())
    }

    /// Waits until `evaluate` blocks `input`; the time it took.
    fn wait_blocked(&self, input: &str) -> Duration {
        let t = Instant::now();
        loop {
            if self.verdict(input) == ("block".into(), true) {
                return t.elapsed();
            }
            assert!(t.elapsed() < POLICY_BOUND * 3, "{}: {input} not blocked after {:?}", self.id, t.elapsed());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The policy version the device applied (0: none).
    fn applied_version(&self) -> u64 {
        match std::fs::read(self.data.join("managed-policy.json")) {
            Ok(b) => serde_json::from_slice::<serde_json::Value>(&b).unwrap()["policy"]["version"].as_u64().unwrap(),
            Err(_) => 0,
        }
    }

    fn wait_version(&self, at_least: u64) {
        let t = Instant::now();
        while self.applied_version() < at_least {
            assert!(t.elapsed() < POLICY_BOUND, "{}: policy version {at_least} not applied", self.id);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn events_5007(&self) -> Vec<serde_json::Value> {
        let mut c = self.cmd();
        c.args(["events", "--id", "5007"]);
        String::from_utf8(ok(c).stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    fn try_cmd(&self, args: &[&str]) -> Output {
        let mut c = self.cmd();
        c.args(args);
        c.output().unwrap()
    }
}

fn server_version(s: &Server) -> u64 {
    let rows = String::from_utf8(s.admin(&["config", "show"]).stdout).unwrap();
    let first: serde_json::Value = serde_json::from_str(rows.lines().next().unwrap()).unwrap();
    assert_eq!(first["setting"], "policy_version");
    first["value"].as_str().unwrap().parse().unwrap()
}

#[test]
fn server_policy_reaches_devices_keeps_and_refuses_local_changes() {
    let root = tempfile::tempdir().unwrap();
    let mut server = Server::start(&root.path().join("server"), "127.0.0.1:0");
    server.admin(&["group", "assign", "dev-a", "web"]);
    let a = Device::new(root.path(), "dev-a", &server, &server.device_token("dev-a", &[]));
    let b = Device::new(root.path(), "dev-b", &server, &server.device_token("dev-b", &[]));
    let (fa, fb) = (a.follow(), b.follow());
    a.wait_version(1);
    b.wait_version(1);
    assert_eq!(a.verdict("https://www.evil.example/").0, "none", "nothing blocked before the server says so");

    // A managed device refuses local policy changes, with the reason.
    for args in [
        &["indicator", "add", "--type", "domain", "--value", "local.example", "--action", "block"][..],
        &["config", "network-protection", "enforcement-level", "--value", "audit"][..],
    ] {
        let out = b.try_cmd(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("managed by the fleet server") && err.contains(&server.url), "{err}");
    }

    // All devices: a block indicator and the enforcement level, timed from
    // the admin's command to the device's verdict.
    let t = Instant::now();
    server.admin(&["indicator", "add", "--type", "domain", "--value", "evil.example", "--action", "block"]);
    server.admin(&["config", "network-protection", "enforcement-level", "--value", "block"]);
    let took_a = a.wait_blocked("https://www.evil.example/");
    let took_b = b.wait_blocked("https://www.evil.example/");
    let total = t.elapsed();
    eprintln!("server policy to device verdict: dev-a {took_a:?}, dev-b {took_b:?} (both {total:?})");
    assert!(total < POLICY_BOUND, "the policy took {total:?} to reach both devices");

    // A group's indicator reaches the group's device only.
    server.admin(&[
        "indicator",
        "add",
        "--type",
        "domain",
        "--value",
        "web-only.example",
        "--action",
        "block",
        "--group",
        "web",
    ]);
    let v = server_version(&server);
    a.wait_blocked("https://web-only.example/x");
    b.wait_version(v);
    assert_eq!(b.verdict("https://web-only.example/x").0, "none", "dev-b is not in group web");

    // A feed imported on the server (its entries travel as they are; one
    // 5007 for the feed on the device, not one per entry).
    let feed = root.path().join("feed.txt");
    std::fs::write(&feed, "# a feed\nfeed-bad.example\nfeed-worse.example\nnot a domain!\n").unwrap();
    let f = feed.to_str().unwrap();
    server.admin(&["indicator", "import", f, "--source", "srvfeed", "--feed-format", "domains"]);
    b.wait_blocked("https://www.feed-worse.example/");
    a.wait_blocked("https://feed-bad.example/");
    let feeds = String::from_utf8(server.admin(&["indicator", "feeds"]).stdout).unwrap();
    let row: serde_json::Value = serde_json::from_str(feeds.trim()).unwrap();
    assert_eq!((row["source"].as_str(), row["entries"].as_u64()), (Some("srvfeed"), Some(2)), "{feeds}");
    let b_feed: Vec<_> =
        b.events_5007().into_iter().filter(|e| e["Data"]["Setting"] == "feed srvfeed (fleet)").collect();
    assert_eq!(b_feed.len(), 1, "{b_feed:?}");
    assert_eq!(b_feed[0]["Data"]["NewValue"], "2 entries");

    // 5007 for each applied change, named as the server's.
    let who = format!("fleet server {}", server.url);
    let a5007 = a.events_5007();
    let from_server: Vec<_> = a5007.iter().filter(|e| e["Data"]["User"] == who.as_str()).collect();
    let has = |setting: &str, new: &str| {
        from_server
            .iter()
            .any(|e| e["Data"]["Setting"] == setting && e["Data"]["NewValue"].as_str().unwrap().contains(new))
    };
    assert!(has("indicator", "block domain evil.example"), "{a5007:?}");
    assert!(has("indicator", "block domain web-only.example"), "{a5007:?}");
    assert!(has("network_protection.enforcement_level", "block"), "{a5007:?}");
    assert!(has("fleet.allow_local_changes", "refuse"), "{a5007:?}");
    // Applied once each: a policy version that changed nothing for a device writes nothing.
    let evil = from_server.iter().filter(|e| e["Data"]["NewValue"].as_str().unwrap().contains("evil.example")).count();
    assert_eq!(evil, 1, "{a5007:?}");
    let b5007 = b.events_5007();
    assert!(!b5007.iter().any(|e| e.to_string().contains("web-only")), "{b5007:?}");

    // The server allows local changes for the group: dev-a may, dev-b still may not.
    server.admin(&["config", "local-changes", "--value", "allow", "--group", "web"]);
    let v = server_version(&server);
    a.wait_version(v);
    b.wait_version(v);
    let add = ["indicator", "add", "--type", "domain", "--value", "local.example", "--action", "block"];
    let out = a.try_cmd(&add);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(b.try_cmd(&add).status.code(), Some(2));

    // The server goes away: the devices keep their policy, also with their
    // links restarted while it is gone (the policy is in the data directory).
    server.kill9();
    drop((fa, fb));
    let (_fa, _fb) = (a.follow(), b.follow());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(a.verdict("https://www.evil.example/"), ("block".into(), true));
    assert_eq!(a.verdict("https://web-only.example/"), ("block".into(), true));
    assert_eq!(b.verdict("https://www.evil.example/"), ("block".into(), true));
    let mut c = b.cmd();
    c.args(["config", "show"]);
    let shown = String::from_utf8(ok(c).stdout).unwrap();
    assert!(shown.lines().any(|l| l.contains("enforcement_level") && l.contains("set by the fleet server")), "{shown}");

    // Leaving: the server's policy leaves the device, recorded.
    drop((_fa, _fb));
    let out = b.try_cmd(&["sync", "--leave"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(b.verdict("https://www.evil.example/").0, "none");
    assert!(b.try_cmd(&add).status.success(), "local changes are the device's again");
    let left = b.events_5007();
    let gone = |setting: &str, old: &str| {
        left.iter().any(|e| e["Data"]["Setting"] == setting && e["Data"]["OldValue"].as_str().unwrap().contains(old))
    };
    assert!(gone("indicator", "block domain evil.example") && gone("fleet.server", &server.url), "{left:?}");
    assert!(gone("network_protection.enforcement_level", "block"), "{left:?}");
    assert_eq!(b.try_cmd(&["sync", "--leave"]).status.code(), Some(2), "not managed any more");
}

#[test]
fn server_policy_commands_check_their_input() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("server");
    let run = |args: &[&str]| {
        let mut c = netward(&data);
        c.arg("server").args(args);
        c.output().unwrap()
    };
    let bad = [
        &["indicator", "add", "--type", "ip", "--value", "not-an-ip", "--action", "block"][..],
        &["indicator", "add", "--type", "domain", "--value", "x.example", "--action", "block", "--group", "a b"][..],
        &["indicator", "remove", "f99"][..],
        &["group", "assign", "dev 1", "web"][..],
        &["group", "unassign", "dev-1"][..],
    ];
    for args in bad {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let add = ["indicator", "add", "--type", "domain", "--value", "X.example.", "--action", "block"];
    assert!(run(&add).status.success());
    let dup = run(&add);
    assert_eq!(dup.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("id f1"), "{}", String::from_utf8_lossy(&dup.stderr));
    let listed = String::from_utf8(run(&["indicator", "list"]).stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(listed.trim()).unwrap();
    assert_eq!(
        (v["id"].as_str(), v["value"].as_str(), v["source"].as_str()),
        (Some("f1"), Some("x.example"), Some("fleet"))
    );
    // Nothing in another group's list.
    assert!(run(&["indicator", "list", "--group", "web"]).stdout.is_empty());
}
