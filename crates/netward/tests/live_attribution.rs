//! Process attribution in the live agent: the real agent in the client
//! namespace with its BPF programs attached to a cgroup of the test's own,
//! real programs in that cgroup (a shell's /dev/tcp that exits at once, a
//! python socket as an unprivileged user under a shell, a renamed copy of
//! curl, curl through squid, a python server), and the store read back with
//! `netward hunt`. The same checks through the /proc fallback with BPF off.
//! Skipped outside CI when a prerequisite is missing, failing under `CI=true`.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::agent::{block_evil_test, nw, wait_for_rows, Agent};
use common::cgroup::TestCgroup;
use common::Topo;

/// Debian's python, whatever PATH says (its hash and name are checked).
const PYTHON: &str = "/usr/bin/python3";

fn sha256(path: &str) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("sha256sum");
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string()
}

fn real_dir(path: &str) -> String {
    std::fs::canonicalize(path).unwrap().parent().unwrap().display().to_string()
}

const COLUMNS: &str = "| project ActionType, RemoteIP, RemotePort, RemoteUrl, InitiatingProcessId, \
    InitiatingProcessFileName, InitiatingProcessFolderPath, InitiatingProcessCommandLine, \
    InitiatingProcessSHA256, InitiatingProcessAccountName, InitiatingProcessAccountDomain, \
    InitiatingProcessParentId, InitiatingProcessParentFileName, InitiatingProcessCreationTime, \
    Attribution = tostring(AdditionalFields.attribution)";

/// The rows of process `pid`, once at least `want` are there.
fn rows_of(data: &Path, pid: u32, filter: &str, want: usize) -> Vec<Value> {
    let q = format!("DeviceNetworkEvents | where InitiatingProcessId == {pid} {filter} {COLUMNS}");
    wait_for_rows(data, &q, want)
}

fn run_ok(mut c: Command) -> u32 {
    let mut child = c.stdout(Stdio::null()).spawn().expect("spawn");
    let pid = child.id();
    assert!(child.wait().unwrap().success(), "{c:?} failed");
    pid
}

#[test]
fn bpf_names_short_lived_programs_users_parents_copies_servers_and_proxy_clients() {
    let Some(topo) = Topo::up("attr", 49) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    block_evil_test(data);
    let cg = TestCgroup::new("agent");
    // nsenter, not `ip netns exec`: that one mounts a sysfs of its own over
    // /sys, where the cgroup2 mount (and so the test's cgroup) is not seen.
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net=/run/netns/{}", topo.var("NW_NS_CLI"))).arg(common::agent::netward());
    let agent = Agent::start_cmd(cmd, data, 21, &["--attribution", "bpf", "--attribution-cgroup", &cg.arg()]);
    let health = nw(data, &["health"]);
    let health: Value = serde_json::from_slice(&health.stdout).unwrap();
    assert_eq!(health["attribution"]["mode"], "bpf", "the programs loaded: {health}");

    let good = topo.var("NW_GOOD_IP").to_string();
    // A shell that connects and exits at once.
    let script = format!("exec 3<>/dev/tcp/{good}/80");
    let shell = run_ok(cg.cli(&topo, &["bash", "-c", &script]));
    let rows = rows_of(data, shell, "and ActionType == 'ConnectionSuccess'", 1);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let r = &rows[0];
    assert_eq!(r["RemoteIP"], good.as_str());
    assert_eq!(r["InitiatingProcessFileName"], "bash", "{r}");
    assert_eq!(r["InitiatingProcessFolderPath"], real_dir("/bin/bash"), "{r}");
    assert_eq!(r["InitiatingProcessCommandLine"], format!("bash -c {script}"), "{r}");
    assert_eq!(r["InitiatingProcessSHA256"], sha256("/bin/bash"), "{r}");
    assert_eq!(r["InitiatingProcessAccountName"], "root", "{r}");
    assert_eq!(r["InitiatingProcessParentId"], std::process::id(), "the test started it: {r}");
    assert_ne!(r["InitiatingProcessCreationTime"], "", "{r}");
    assert_eq!(r["Attribution"], "bpf", "{r}");

    // An unprivileged user's python, under a shell (its parent).
    let py = format!(
        "import socket; s=socket.create_connection(('{good}', 80)); s.sendall(b'GET / HTTP/1.0\\r\\nHost: good.test\\r\\n\\r\\n'); s.recv(100)"
    );
    let sh_line = format!("setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 -c \"{py}\"; true");
    let parent = run_ok(cg.cli(&topo, &["bash", "-c", &sh_line]));
    let q = format!(
        "DeviceNetworkEvents | where InitiatingProcessParentId == {parent} and ActionType == 'ConnectionSuccess' {COLUMNS}"
    );
    let rows = wait_for_rows(data, &q, 1);
    let all = || common::agent::hunt(data, &format!("DeviceNetworkEvents | where RemotePort == 80 {COLUMNS}"));
    assert_eq!(rows.len(), 1, "{rows:#?}, port 80: {:#?}", all());
    let r = &rows[0];
    assert_eq!(r["InitiatingProcessAccountName"], "nobody", "{r}");
    assert_eq!(r["InitiatingProcessParentFileName"], "bash", "{r}");
    assert!(r["InitiatingProcessFileName"].as_str().unwrap().starts_with("python3"), "{r}");
    assert_eq!(r["InitiatingProcessSHA256"], sha256("/usr/bin/python3"), "{r}");

    // A renamed copy of curl: its own name, curl's hash.
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = copy_dir.path().join("fetcher");
    std::fs::copy("/usr/bin/curl", &copy).unwrap();
    let copy = copy.display().to_string();
    let fetch = run_ok(cg.cli(&topo, &[&copy, "-sS", "-o", "/dev/null", &format!("http://{good}/")]));
    let rows = rows_of(data, fetch, "and ActionType == 'ConnectionSuccess'", 1);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["InitiatingProcessFileName"], "fetcher");
    assert_eq!(rows[0]["InitiatingProcessFolderPath"], copy_dir.path().display().to_string());
    assert_eq!(rows[0]["InitiatingProcessSHA256"], sha256("/usr/bin/curl"));

    // curl through squid: the proxy connection and the real target carry curl.
    let proxy = topo.var("NW_HTTP_PROXY").to_string();
    let curl = run_ok(cg.cli(&topo, &["curl", "-sS", "-o", "/dev/null", "-x", &proxy, "http://good.test/"]));
    let rows = rows_of(data, curl, "and ActionType == 'ConnectionSuccess'", 2);
    let urls: Vec<&str> = rows.iter().map(|r| r["RemoteUrl"].as_str().unwrap()).collect();
    assert!(urls.contains(&"good.test"), "the real target is attributed: {rows:#?}");
    assert!(
        rows.iter().any(|r| r["RemoteIP"] == topo.var("NW_PROXY_IP")),
        "the proxy connection is attributed: {rows:#?}"
    );
    assert!(rows.iter().all(|r| r["InitiatingProcessFileName"] == "curl"), "{rows:#?}");

    // A blocked connection names its process.
    let mut blocked = cg.cli(&topo, &["curl", "-sS", "-o", "/dev/null", "--max-time", "5", "--cacert"]);
    blocked.arg(topo.var("NW_CA")).arg("https://evil.test/").stderr(Stdio::null());
    let child = blocked.stdout(Stdio::null()).spawn().unwrap();
    let blocked_pid = child.id();
    assert!(!child.wait_with_output().unwrap().status.success(), "evil.test is blocked");
    let rows =
        rows_of(data, blocked_pid, "and ActionType == 'ExploitGuardNetworkProtectionBlocked' and RemotePort == 443", 1);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["InitiatingProcessFileName"], "curl");
    assert_eq!(rows[0]["RemoteUrl"], "evil.test");
    // ... and the exec of that process is in DeviceProcessEvents, found by
    // the join hunting queries write (exec keeps the pid: `ip netns exec`
    // then curl are two rows of it; curl's is the one asked for).
    let q = format!(
        "DeviceNetworkEvents | where ActionType == 'ExploitGuardNetworkProtectionBlocked' and InitiatingProcessId == \
         {blocked_pid} | join kind=inner DeviceProcessEvents on $left.InitiatingProcessId == $right.ProcessId \
         | where FileName == 'curl' | project ProcessId, FileName, FolderPath, ProcessCommandLine, SHA256, \
         RemoteUrl"
    );
    let rows = wait_for_rows(data, &q, 1);
    let curl = real_dir("/usr/bin/curl");
    let r = &rows[0];
    assert_eq!((r["ProcessId"].as_u64(), r["RemoteUrl"].as_str()), (Some(u64::from(blocked_pid)), Some("evil.test")));
    assert_eq!(r["FolderPath"].as_str(), Some(curl.as_str()), "{r:#?}");
    assert_eq!(r["SHA256"].as_str(), Some(sha256("/usr/bin/curl").as_str()), "{r:#?}");
    assert!(r["ProcessCommandLine"].as_str().is_some_and(|c| c.contains("https://evil.test/")), "{r:#?}");

    // A server: its listening socket and the connection it accepts.
    let server = "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); \
                  s.bind(('0.0.0.0', 7003)); s.listen(); c,_=s.accept(); c.recv(100); \
                  c.sendall(b'HTTP/1.0 200 OK\\r\\n\\r\\nhi'); time.sleep(1); c.close()";
    let mut srv = cg.cli(&topo, &[PYTHON, "-c", server]).stdout(Stdio::null()).spawn().unwrap();
    let srv_pid = srv.id();
    let q = format!(
        "DeviceNetworkEvents | where ActionType == 'ListeningConnectionCreated' and LocalPort == 7003 {COLUMNS}"
    );
    let rows = wait_for_rows(data, &q, 1);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["InitiatingProcessId"], srv_pid, "{rows:#?}");
    let url = format!("http://{}:7003/", topo.var("NW_CLI_IP"));
    let out = Command::new("ip")
        .args(["netns", "exec", topo.var("NW_NS_SRV"), "curl", "-sS", "--max-time", "5", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "inbound: {}", String::from_utf8_lossy(&out.stderr));
    let _ = srv.wait();
    let rows = rows_of(data, srv_pid, "and ActionType == 'InboundConnectionAccepted'", 1);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["InitiatingProcessFileName"].as_str().map(|n| n.starts_with("python3")), Some(true));
    assert_eq!(agent.stop().code(), Some(0));
}

/// BPF off by setting: long-lived processes are still named, through /proc,
/// and the events say so.
#[test]
fn proc_fallback_names_long_lived_programs() {
    let Some(topo) = Topo::up("attrproc", 50) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let agent = Agent::start_cmd(topo.cli(common::agent::netward()), data, 22, &["--attribution", "proc"]);
    let health: Value = serde_json::from_slice(&nw(data, &["health"]).stdout).unwrap();
    assert_eq!(health["attribution"]["mode"], "proc", "{health}");
    let good = topo.var("NW_GOOD_IP").to_string();
    // Holds the connection a second: alive when the agent looks.
    let py = format!(
        "import socket,time; s=socket.create_connection(('{good}', 80)); s.sendall(b'GET / HTTP/1.0\\r\\nHost: good.test\\r\\n\\r\\n'); s.recv(100); time.sleep(1)"
    );
    let mut child = topo.cli(PYTHON).args(["-c", &py]).spawn().unwrap();
    let pid = child.id();
    assert!(child.wait().unwrap().success());
    let rows = rows_of(data, pid, "and ActionType == 'ConnectionSuccess'", 1);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let r = &rows[0];
    assert_eq!(r["Attribution"], "proc", "{r}");
    assert!(r["InitiatingProcessFileName"].as_str().unwrap().starts_with("python3"), "{r}");
    assert_eq!(r["InitiatingProcessSHA256"], sha256("/usr/bin/python3"), "{r}");
    assert_eq!(r["InitiatingProcessAccountName"], "root", "{r}");
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(agent.stop().code(), Some(0));
}
