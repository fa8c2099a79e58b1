//! Test fixtures that change nothing machine-wide: a network namespace of
//! the test's own, a child cgroup of the test's own (the BPF programs attach
//! there, never to the root), and child processes moved into that cgroup.
//! Everything is removed in Drop.
#![allow(dead_code)] // each test binary uses a part

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use netward_attribution::cgroup2_mount;

pub const PYTHON: &str = "/usr/bin/python3";

/// Whether this machine can run the live tests (root, cgroup2, the tools).
/// Outside CI a missing prerequisite skips with a message; with CI=true it
/// fails, as the project's other live tests do.
pub fn ready() -> bool {
    let mut missing = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        missing.push("root".to_string());
    }
    if cgroup2_mount().is_err() {
        missing.push("a cgroup2 mount".to_string());
    }
    for tool in ["ip", "bpftool", "setpriv", "sha256sum", "sha1sum", "md5sum", PYTHON] {
        let found =
            Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success());
        if !found {
            missing.push(tool.to_string());
        }
    }
    if missing.is_empty() {
        return true;
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "live test prerequisites missing under CI: {missing:?}");
    eprintln!("SKIPPED (prerequisite missing, CI is not true): {missing:?}");
    false
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A network namespace with its loopback up; deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let name = format!("nwattr-{}-{tag}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        run(Command::new("ip").args(["netns", "add", &name]));
        run(Command::new("ip").args(["-n", &name, "link", "set", "lo", "up"]));
        Netns { name }
    }

    /// Runs `f` on a thread that entered this namespace (only that thread:
    /// setns changes the calling thread's namespace).
    pub fn enter<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let ns = fs::File::open(&path).unwrap();
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            f()
        })
        .join()
        .unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

/// A child cgroup of the cgroup2 root for this test only.
pub struct TestCgroup {
    pub path: PathBuf,
}

impl TestCgroup {
    pub fn new(tag: &str) -> TestCgroup {
        let path = cgroup2_mount().unwrap().join(format!("netward-test-{}-{tag}", std::process::id()));
        if path.exists() {
            let _ = fs::remove_dir(&path);
        }
        fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TestCgroup { path }
    }

    fn pids(&self) -> Vec<i32> {
        fs::read_to_string(self.path.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // Only our own children are ever moved in here: kill what is left,
        // wait until the cgroup is empty, then remove it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.pids().is_empty() && Instant::now() < deadline {
            for pid in self.pids() {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).output();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = fs::remove_dir(&self.path);
    }
}

/// A child process killed and reaped on drop.
pub struct Proc {
    pub child: Child,
    pub out: BufReader<ChildStdout>,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn line(&mut self) -> String {
        let mut s = String::new();
        self.out.read_line(&mut s).unwrap();
        assert!(!s.is_empty(), "the process ended without a line");
        s.trim_end().to_string()
    }

    pub fn wait_success(&mut self) {
        let st = self.child.wait().unwrap();
        assert!(st.success(), "{st}");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `argv` in namespace `ns`, first moved into `cgroup` (if any), with
/// the same pid throughout: the wrapper shell moves itself, then exec's
/// `ip netns exec`, which exec's the program.
pub fn spawn(ns: &Netns, cgroup: Option<&TestCgroup>, argv: &[&str]) -> Proc {
    let procs = cgroup.map(|c| c.path.join("cgroup.procs").display().to_string()).unwrap_or_default();
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(r#"if [ -n "$1" ]; then echo $$ > "$1"; fi; shift; exec ip netns exec "$@""#)
        .arg("wrapper")
        .arg(procs)
        .arg(&ns.name)
        .args(argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    Proc { child, out }
}

/// A TCP listener on 127.0.0.1 of `ns` that prints its port, then the peer of
/// each connection it accepts (and keeps them open).
pub struct Listener {
    pub proc: Proc,
    pub addr: SocketAddr,
}

const LISTENER: &str = r#"
import socket, sys
host = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
s.bind((host, 0))
s.listen(64)
print(s.getsockname()[1], flush=True)
kept = []
while True:
    c, a = s.accept()
    kept.append(c)
    print(a[0], a[1], flush=True)
"#;

impl Listener {
    pub fn start(ns: &Netns) -> Listener {
        Listener::start_in(ns, None)
    }

    /// The listener itself in `cgroup` (a server the programs watch).
    pub fn start_in(ns: &Netns, cgroup: Option<&TestCgroup>) -> Listener {
        Listener::start_on(ns, cgroup, IpAddr::from([127, 0, 0, 1]))
    }

    /// On `ip` of the namespace's loopback (127.0.0.1 or ::1).
    pub fn start_on(ns: &Netns, cgroup: Option<&TestCgroup>, ip: IpAddr) -> Listener {
        let mut proc = spawn(ns, cgroup, &[PYTHON, "-c", LISTENER, &ip.to_string()]);
        let port: u16 = proc.line().parse().unwrap();
        Listener { proc, addr: SocketAddr::new(ip, port) }
    }

    /// The client end of the next accepted connection.
    pub fn next_peer(&mut self) -> SocketAddr {
        let line = self.proc.line();
        let (ip, port) = line.split_once(' ').unwrap();
        let ip: IpAddr = ip.parse().unwrap();
        // A v4 client of a dual-stack listener shows as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        SocketAddr::new(ip, port.parse().unwrap())
    }
}

/// The digest coreutils' `tool` (sha256sum, sha1sum, md5sum) gives `path`.
pub fn digest(tool: &str, path: &Path) -> String {
    let out = Command::new(tool).arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

/// A directory of the test's own, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("netward-attr-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
