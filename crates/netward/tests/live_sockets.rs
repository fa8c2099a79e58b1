//! Socket events of the live agent that need no inspection: a program in
//! the agent's namespace starts listening (`ListeningConnectionCreated`) and
//! accepts a connection from another namespace (`InboundConnectionAccepted`).
//! Real agent, real sockets (python3's socket module, curl), rules only in
//! the test's namespace; skipped outside CI when a prerequisite is missing,
//! failing under `CI=true`.

use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::agent::{nw, wait_for_rows, Agent};
use common::Topo;

#[test]
fn a_new_listener_and_an_accepted_connection_are_recorded() {
    let Some(topo) = Topo::up("sockets", 48) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    // A listener from before the agent started is its baseline, not "created".
    let mut before = topo
        .cli("python3")
        .args(["-c", "import socket,time; s=socket.socket(); s.bind(('0.0.0.0', 7001)); s.listen(); time.sleep(60)"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // It must listen before the agent starts (python may take a while to
    // start on a busy machine): wait until the namespace's socket table shows it.
    let t = std::time::Instant::now();
    loop {
        let ss = topo.cli("ss").args(["-Hltn", "sport = :7001"]).output().unwrap();
        if !ss.stdout.is_empty() {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "the baseline listener never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    let agent = Agent::start(&topo, data, 15);
    // Listens after the start, accepts one connection, answers and closes.
    let mut server = topo
        .cli("python3")
        .args([
            "-c",
            "import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); \
             s.bind(('0.0.0.0', 7002)); s.listen(); c,_=s.accept(); c.recv(100); \
             c.sendall(b'HTTP/1.0 200 OK\\r\\n\\r\\nhi'); c.close()",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let listening = wait_for_rows(
        data,
        "DeviceNetworkEvents | where ActionType == 'ListeningConnectionCreated' | project LocalPort, RemoteIP, Protocol",
        1,
    );
    assert_eq!(listening.len(), 1, "exactly the new listener, not the baseline one: {listening:?}");
    assert_eq!(listening[0]["LocalPort"], 7002, "{listening:?}");
    assert_eq!(listening[0]["RemoteIP"], "", "a listener has no remote side: {listening:?}");
    assert_eq!(listening[0]["Protocol"], "Tcp");

    // A connection from the server namespace to the client's listener.
    let url = format!("http://{}:7002/", topo.var("NW_CLI_IP"));
    let out = Command::new("ip")
        .args(["netns", "exec", topo.var("NW_NS_SRV"), "curl", "-sS", "--max-time", "5", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "the inbound connection works: {}", String::from_utf8_lossy(&out.stderr));
    let _ = server.wait();
    let q = "DeviceNetworkEvents | where ActionType == 'InboundConnectionAccepted' and LocalPort == 7002 \
             | project RemoteIP, LocalIP";
    let inbound = wait_for_rows(data, q, 1);
    assert_eq!(inbound.len(), 1, "{inbound:?}");
    assert_eq!(inbound[0]["LocalIP"], topo.var("NW_CLI_IP"), "{inbound:?}");
    assert_ne!(inbound[0]["RemoteIP"], topo.var("NW_CLI_IP"), "{inbound:?}");
    assert!(agent.stop().success());
    let _ = before.kill();
    let _ = before.wait();
    // After the agent stopped, its store still answers with both events.
    let out = nw(data, &["--format", "json", "hunt", "DeviceNetworkEvents | where LocalPort == 7002 | count"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"Count\":2"), "{}", String::from_utf8_lossy(&out.stdout));
}
