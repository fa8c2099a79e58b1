//! The real agent (`netward run`) in a topology's client namespace, and the
//! commands the live tests drive it with: `netward` on the test's data
//! directory, curl in the client namespace, hunting the store.

use super::Topo;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn netward() -> &'static str {
    env!("CARGO_BIN_EXE_netward")
}

/// A `netward` command on the test's data directory; it must succeed.
pub fn nw(data: &Path, args: &[&str]) -> Output {
    let out = Command::new(netward()).arg("--data-dir").arg(data).args(args).output().expect("run netward");
    assert!(out.status.success(), "netward {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The live tests' policy: evil.test (and its subdomains) blocked, enforcement at block.
pub fn block_evil_test(data: &Path) {
    nw(
        data,
        &["indicator", "add", "--type", "domain", "--value", "evil.test", "--action", "block", "--title", "test block"],
    );
    nw(data, &["config", "network-protection", "enforcement-level", "--value", "block"]);
}

/// `netward run` in the client namespace; killed in `Drop` if not stopped.
pub struct Agent {
    child: Child,
}

impl Agent {
    /// Starts the agent on NFQUEUE `queue` and waits until it answers `health`.
    pub fn start(topo: &Topo, data: &Path, queue: u16) -> Agent {
        Agent::start_cmd(topo.cli(netward()), data, queue, &[])
    }

    /// The same, as `cmd` runs `netward` (`topo.cli(netward())`,
    /// `topo.px(netward())`), with `extra` arguments after `run --queue N`.
    /// Attribution is off unless `extra` says otherwise: its default attaches
    /// BPF programs to the cgroup2 root (the whole machine), which a test
    /// must never do; the attribution tests give a cgroup of their own.
    pub fn start_cmd(mut cmd: Command, data: &Path, queue: u16, extra: &[&str]) -> Agent {
        let default_attribution: &[&str] =
            if extra.iter().any(|a| a.starts_with("--attribution")) { &[] } else { &["--attribution", "off"] };
        let child = cmd
            .arg("--data-dir")
            .arg(data)
            .args(["run", "--queue", &queue.to_string()])
            .args(default_attribution)
            .args(extra)
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

    /// The agent's process id (`ip netns exec` execs it in place).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no cleanup at all (rules stay, the store is cut where it was).
    pub fn kill9(mut self) -> std::process::ExitStatus {
        self.child.kill().expect("kill -9");
        self.child.wait().unwrap()
    }

    /// SIGTERM, as an operator stops it; its exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
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
pub fn curl(topo: &Topo, args: &[&str]) -> (bool, f64) {
    let t = Instant::now();
    let out = topo
        .cli("curl")
        .args(["-sS", "-o", "/dev/null", "--max-time", "5", "--cacert", topo.var("NW_CA")])
        .args(args)
        .output()
        .expect("curl");
    (out.status.success(), t.elapsed().as_secs_f64())
}

/// The client namespace's netfilter rules (`iptables-save`).
pub fn rules_in_namespace(topo: &Topo) -> String {
    let out = topo.cli("iptables-save").output().expect("iptables-save");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The rows of a KQL query over the store, as JSON objects.
pub fn hunt(data: &Path, q: &str) -> Vec<serde_json::Value> {
    let out = nw(data, &["--format", "json", "hunt", q]);
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The rows of `q` once there are at least `want` (the writer lags the
/// packets), or what there is after 10 s.
pub fn wait_for_rows(data: &Path, q: &str, want: usize) -> Vec<serde_json::Value> {
    let t = Instant::now();
    loop {
        let rows = hunt(data, q);
        if rows.len() >= want || t.elapsed() > Duration::from_secs(10) {
            return rows;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}
