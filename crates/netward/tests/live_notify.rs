//! Desktop notifications and warn, live: the real agent in the client
//! namespace (BPF attribution in a cgroup of the test's own), a private
//! session bus (a real `dbus-daemon --session` run as the unprivileged user
//! nobody, with its own config and socket in a temp dir, so only uid 65534
//! may connect) and, on it, a small notification server in this process
//! (zbus, connected as nobody) that records `Notify` calls and can emit
//! `ActionInvoked`. Clients are real curl processes run as nobody (and as
//! root) in the test's cgroup. Skipped outside CI when a prerequisite is
//! missing, failing under `CI=true`.

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::agent::{block_evil_test, nw, Agent};
use common::cgroup::TestCgroup;
use common::Topo;

const NOBODY: u32 = 65534;

/// One `Notify` call as the server saw it.
#[derive(Debug, Clone)]
struct Notified {
    id: u32,
    summary: String,
    body: String,
    actions: Vec<String>,
    /// The caller's uid, as the bus daemon knows it.
    caller_uid: u32,
    at: Instant,
}

/// The private bus daemon; killed in `Drop`.
struct Bus {
    daemon: Child,
    socket: PathBuf,
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// `dbus-daemon --session` as nobody, listening on `<dir>/65534/bus`.
fn start_bus(dir: &Path) -> Option<Bus> {
    if Command::new("dbus-daemon").arg("--version").output().is_err() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "dbus-daemon missing under CI");
        eprintln!("SKIPPED (prerequisite missing, CI is not true): dbus-daemon");
        return None;
    }
    // The temp dir is root's: nobody needs to pass through it to its own.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    let user_dir = dir.join(NOBODY.to_string());
    std::fs::create_dir(&user_dir).unwrap();
    std::os::unix::fs::chown(&user_dir, Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::set_permissions(&user_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let socket = user_dir.join("bus");
    let config = dir.join("session.conf");
    std::fs::write(
        &config,
        format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
            socket.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut daemon = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "dbus-daemon", "--nofork", "--print-address"])
        .arg(format!("--config-file={}", config.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start dbus-daemon");
    // It prints its address once it listens.
    let mut out = daemon.stdout.take().unwrap();
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while std::io::Read::read(&mut out, &mut b).unwrap_or(0) == 1 && b[0] != b'\n' {
        line.push(b[0]);
    }
    assert!(String::from_utf8_lossy(&line).starts_with("unix:path="), "dbus-daemon: {line:?}");
    Some(Bus { daemon, socket })
}

/// The notification server's handle: what it recorded, and a way to press a button.
struct Server {
    seen: Arc<Mutex<Vec<Notified>>>,
    press: tokio::sync::mpsc::Sender<(u32, String)>,
}

impl Server {
    fn notified(&self) -> Vec<Notified> {
        self.seen.lock().unwrap().clone()
    }

    /// The calls once there are at least `n` (or what there is after 10 s).
    fn wait_for(&self, n: usize) -> Vec<Notified> {
        let t = Instant::now();
        while self.notified().len() < n && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.notified()
    }
}

/// Connects to `socket` as nobody: from a thread whose effective uid is
/// nobody's (the bus reads the peer's credentials), EXTERNAL with that uid.
async fn connect_as_nobody(socket: PathBuf) -> zbus::Connection {
    let stream = std::thread::spawn(move || {
        rustix::thread::set_thread_res_uid(None, rustix::process::Uid::from_raw(NOBODY), None).unwrap();
        std::os::unix::net::UnixStream::connect(&socket).unwrap()
    })
    .join()
    .unwrap();
    zbus::connection::Builder::unix_stream(stream)
        .auth_mechanism(zbus::connection::AuthMechanism::External)
        .user_id(NOBODY)
        .build()
        .await
        .expect("connect to the private bus as nobody")
}

/// Owns org.freedesktop.Notifications on the bus and answers `Notify`.
fn start_server(socket: PathBuf) -> Server {
    let seen: Arc<Mutex<Vec<Notified>>> = Arc::default();
    let (press, mut presses) = tokio::sync::mpsc::channel::<(u32, String)>(8);
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let record = seen.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            use futures_util::StreamExt;
            let conn = connect_as_nobody(socket).await;
            conn.request_name("org.freedesktop.Notifications").await.expect("own the name");
            let mut stream = zbus::MessageStream::from(&conn);
            ready_tx.send(()).unwrap();
            let mut next_id = 0u32;
            // Each id's caller, to address the button press to it.
            let mut callers: Vec<(u32, String)> = Vec::new();
            loop {
                tokio::select! {
                    msg = stream.next() => {
                        let Some(Ok(msg)) = msg else { return };
                        let h = msg.header();
                        if msg.message_type() != zbus::message::Type::MethodCall
                            || h.member().map(|m| m.as_str()) != Some("Notify")
                        {
                            continue;
                        }
                        type Body<'a> = (
                            &'a str, u32, &'a str, &'a str, &'a str, Vec<&'a str>,
                            std::collections::HashMap<&'a str, zbus::Variant<'a>>, i32,
                        );
                        let body = msg.body();
                        let (_app, _replaces, _icon, summary, text, actions, _hints, _expire): Body<'_> =
                            body.deserialize().expect("a Notify call as the spec has it");
                        let sender = h.sender().unwrap().to_string();
                        let uid: u32 = conn
                            .call_method(Some("org.freedesktop.DBus"), "/org/freedesktop/DBus",
                                Some("org.freedesktop.DBus"), "GetConnectionUnixUser", &(sender.as_str(),))
                            .await
                            .unwrap()
                            .body()
                            .deserialize()
                            .unwrap();
                        next_id += 1;
                        record.lock().unwrap().push(Notified {
                            id: next_id,
                            summary: summary.to_string(),
                            body: text.to_string(),
                            actions: actions.iter().map(|a| a.to_string()).collect(),
                            caller_uid: uid,
                            at: Instant::now(),
                        });
                        callers.push((next_id, sender));
                        let reply = zbus::Message::method_return(&h).build(&(next_id,)).unwrap();
                        conn.send(&reply).await.unwrap();
                    }
                    Some((id, key)) = presses.recv() => {
                        let to = callers.iter().find(|(i, _)| *i == id).map(|(_, s)| s.clone());
                        conn.emit_signal(to.as_deref(), "/org/freedesktop/Notifications",
                            "org.freedesktop.Notifications", "ActionInvoked", &(id, key.as_str()))
                            .await
                            .unwrap();
                    }
                }
            }
        });
    });
    ready.recv_timeout(Duration::from_secs(10)).expect("the notification server is up");
    Server { seen, press }
}

/// `curl` as `uid` in the client namespace and the test's cgroup; whether it got through.
fn curl_as(cg: &TestCgroup, topo: &Topo, uid: u32, url: &str) -> bool {
    let uid = uid.to_string();
    let mut argv = vec!["setpriv", "--reuid", &uid, "--regid", &uid, "--clear-groups"];
    argv.extend(["curl", "-sS", "-o", "/dev/null", "--max-time", "5", url]);
    cg.cli(topo, &argv).stderr(Stdio::null()).status().expect("curl").success()
}

fn health(data: &Path) -> Value {
    serde_json::from_slice(&nw(data, &["health"]).stdout).unwrap()
}

/// The 5007 entries once one names `host` (or none after 10 s).
fn allow_entries(data: &Path, host: &str) -> Vec<Value> {
    let t = Instant::now();
    loop {
        let out = nw(data, &["--format", "json", "events", "--id", "5007"]);
        let rows: Vec<Value> =
            String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let hits: Vec<Value> = rows.into_iter().filter(|r| r["Data"]["Destination"] == host).collect();
        if !hits.is_empty() || t.elapsed() > Duration::from_secs(10) {
            return hits;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn blocks_and_warns_reach_the_users_desktop_and_allow_for_24_hours_lets_the_next_try_pass() {
    let Some(topo) = Topo::up("notify", 53) else { return };
    let dir = tempfile::tempdir().unwrap();
    let Some(bus) = start_bus(dir.path()) else { return };
    let server = start_server(bus.socket.clone());
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path();
    block_evil_test(data);
    let config = dir.path().join("netward.toml");
    let org_text = "Questions? The IT desk, extension 4357.";
    std::fs::write(
        &config,
        format!(
            "[notification]\ntext = \"{org_text}\"\nhelp_url = \"https://help.example/netward\"\n\
             bus_address = \"unix:path={}/{{uid}}/bus\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let cg = TestCgroup::new("notify");
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net=/run/netns/{}", topo.var("NW_NS_CLI"))).arg(common::agent::netward());
    let cfg = config.display().to_string();
    let extra = ["--attribution", "bpf", "--attribution-cgroup", &cg.arg(), "--config", &cfg];
    let agent = Agent::start_cmd(cmd, data, 31, &extra);

    // Ten blocks of nobody's curl within about a second: one notification,
    // on nobody's bus, with the site and the organisation's text.
    let t = Instant::now();
    for _ in 0..10 {
        assert!(!curl_as(&cg, &topo, NOBODY, "http://evil.test/"), "evil.test is blocked");
    }
    let burst = t.elapsed();
    let seen = server.wait_for(1);
    if let Some(n) = seen.first() {
        eprintln!("ten blocks took {burst:?}; the notification came {:?} after the first", n.at - t);
    }
    std::thread::sleep(Duration::from_secs(1)); // time for any second one to arrive
    let seen_after = server.notified();
    assert_eq!(seen_after.len(), 1, "ten blocks in {burst:?} give one notification: {seen_after:#?}");
    let n = &seen[0];
    assert_eq!(n.caller_uid, NOBODY, "the agent reached nobody's bus as nobody");
    assert!(n.summary.contains("evil.test") && n.body.contains("evil.test"), "{n:?}");
    assert!(n.body.contains(org_text) && n.body.contains("https://help.example/netward"), "{n:?}");
    assert!(n.body.contains("test block"), "the reason is the indicator's title: {n:?}");
    assert!(n.actions.is_empty(), "a block offers no allow: {n:?}");
    let h = health(data);
    let notes = &h["notifications"];
    assert_eq!(notes["sent"], 1, "{h}");
    assert!(notes["rate_limited"].as_u64().unwrap() >= 9, "{h}");
    assert_eq!(notes["dropped"], 0, "{h}");

    // A warn: the first try is blocked and the notification offers the allow.
    nw(
        data,
        &["indicator", "add", "--type", "domain", "--value", "phish.test", "--action", "warn", "--title", "test warn"],
    );
    assert!(!curl_as(&cg, &topo, NOBODY, "http://phish.test/"), "a warn blocks the first try");
    let seen = server.wait_for(2);
    assert_eq!(seen.len(), 2, "{seen:#?}");
    let w = &seen[1];
    assert_eq!(w.actions, ["netward-allow", "Allow for 24 hours"], "{w:?}");
    assert!(w.summary.contains("phish.test") && w.body.contains(org_text), "{w:?}");

    // The user chooses "Allow for 24 hours": a 5007 naming the user, and the next try passes.
    server.press.blocking_send((w.id, "netward-allow".into())).unwrap();
    let entries = allow_entries(data, "phish.test");
    assert_eq!(entries.len(), 1, "one 5007 for the allow: {entries:#?}");
    let d = &entries[0]["Data"];
    assert!(d["AllowedUser"].as_str().unwrap().contains("uid 65534"), "{d}");
    assert!(d["User"].as_str().unwrap().contains("via notification"), "{d}");
    assert!(d["NewValue"].as_str().unwrap().starts_with("allowed until "), "{d}");
    // The entry is written before the agent reloads; `allows` counts the reload done.
    let t = Instant::now();
    while health(data)["notifications"]["allows"] != 1 && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(curl_as(&cg, &topo, NOBODY, "http://phish.test/"), "the next try of that user passes");
    assert!(!curl_as(&cg, &topo, 0, "http://phish.test/"), "another user (root) is still warned");
    let list = nw(data, &["--format", "json", "warn", "list"]);
    let rows: Vec<Value> =
        String::from_utf8_lossy(&list.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0]["destination"].as_str(), rows[0]["user"].as_u64()), (Some("phish.test"), Some(65534)));

    // From a terminal: revoke, and allow for every user.
    nw(data, &["warn", "revoke", "phish.test"]);
    assert!(!curl_as(&cg, &topo, NOBODY, "http://phish.test/"), "revoked at once");
    nw(data, &["warn", "allow", "phish.test", "--for", "1h"]);
    assert!(curl_as(&cg, &topo, 0, "http://phish.test/"), "an allow for every user lets root through");
    assert!(!curl_as(&cg, &topo, 0, "http://evil.test/"), "a block indicator is never lifted");
    assert_eq!(allow_entries(data, "phish.test").len(), 3, "allow, revoke, allow: each a 5007");

    // A bus that accepts and never answers (uid 65533's): the blocks of that
    // user are still reset at once; the notifier gives up after its timeout.
    let silent_dir = dir.path().join("65533");
    std::fs::create_dir(&silent_dir).unwrap();
    std::os::unix::fs::chown(&silent_dir, Some(65533), Some(65533)).unwrap();
    let silent = std::os::unix::net::UnixListener::bind(silent_dir.join("bus")).unwrap();
    std::fs::set_permissions(silent_dir.join("bus"), std::fs::Permissions::from_mode(0o777)).unwrap();
    for _ in 0..5 {
        let t = Instant::now();
        assert!(!curl_as(&cg, &topo, 65533, "http://evil.test/"), "blocked");
        let took = t.elapsed();
        assert!(took < Duration::from_millis(1500), "a silent bus does not slow the block: {took:?}");
    }
    let t = Instant::now();
    let h = loop {
        let h = health(data);
        if h["notifications"]["bus_unavailable"].as_u64().unwrap() >= 3 || t.elapsed() > Duration::from_secs(10) {
            break h;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(h["notifications"]["last_error"].as_str().unwrap().contains("timed out"), "{h}");
    assert_eq!(server.notified().len(), 2, "nothing more reached nobody's bus");
    drop(silent);

    // `[notification] enabled = false`, applied at the next reload: nothing is sent.
    std::fs::write(&config, "[notification]\nenabled = false\n").unwrap();
    nw(data, &["config", "network-protection", "enforcement-level", "--value", "block"]);
    let queued = health(data)["notifications"]["queued"].as_u64().unwrap();
    assert!(!curl_as(&cg, &topo, NOBODY, "http://www.evil.test/"), "still blocked");
    std::thread::sleep(Duration::from_secs(1));
    let h = health(data);
    assert_eq!(h["notifications"]["enabled"], false, "{h}");
    assert_eq!(h["notifications"]["queued"], queued, "{h}");
    assert_eq!(server.notified().len(), 2, "disabled: no notification");

    let status = agent.stop();
    assert!(status.success(), "agent exits 0: {status}");
    drop(bus);
}
