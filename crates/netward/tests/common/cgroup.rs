//! A child cgroup of the test's own, for the attribution tests: the agent's
//! BPF programs attach there (never to the cgroup2 root, which would watch
//! the whole machine), and the test's clients run inside it, in the
//! topology's client namespace. Killed and removed in `Drop`.

use super::Topo;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct TestCgroup {
    pub path: PathBuf,
}

/// Where cgroup2 is mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on a hybrid host).
fn cgroup2_root() -> PathBuf {
    let mounts = fs::read_to_string("/proc/self/mounts").expect("read /proc/self/mounts");
    let dir = mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 2 && f[2] == "cgroup2").then(|| f[1].to_string())
    });
    PathBuf::from(dir.expect("a cgroup2 mount (the attribution tests need one)"))
}

impl TestCgroup {
    pub fn new(tag: &str) -> TestCgroup {
        let path = cgroup2_root().join(format!("netward-test-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir(&path);
        fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TestCgroup { path }
    }

    pub fn arg(&self) -> String {
        self.path.display().to_string()
    }

    /// `argv` in the topology's client namespace and in this cgroup: the
    /// shell moves itself in, then execs `ip netns exec`, which execs the
    /// program, so the child's pid is the program's.
    pub fn cli(&self, topo: &Topo, argv: &[&str]) -> Command {
        let mut c = Command::new("bash");
        c.args(["-c", r#"cg=$1; ns=$2; shift 2; echo $$ > "$cg/cgroup.procs" && exec ip netns exec "$ns" "$@""#, "_"])
            .arg(&self.path)
            .arg(topo.var("NW_NS_CLI"))
            .args(argv);
        c
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
        // Only the test's own children are ever moved in here.
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
