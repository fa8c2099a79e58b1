//! The per-test network of testnet/ (three namespaces with real servers),
//! shared by the network tests: up in a fresh prefix and block, torn down in
//! `Drop`, even on panic. Its submodules hold what the agent (`agent`,
//! `cgroup`), CLI (`cli`), fleet (`fleet`) and portal (`portal`) tests share.
#![allow(dead_code)]

pub mod agent;
pub mod cgroup;
pub mod cli;
pub mod fleet;
pub mod portal;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

pub struct Topo {
    prefix: String,
    env: HashMap<String, String>,
}

impl Topo {
    pub fn up(test: &str, block_index: u8) -> Option<Topo> {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testnet/topo.sh");
        let prefix = format!("t{}-{}", std::process::id() % 100_000, test);
        let block = format!("198.19.{block_index}.0/24");
        let out = Command::new("bash")
            .arg(&script)
            .args(["up", &prefix, &block])
            .env("NW_OWNER_PID", std::process::id().to_string())
            .output()
            .expect("run topo.sh");
        match out.status.code() {
            Some(0) => {}
            Some(77) => {
                eprintln!("SKIPPED (prerequisite missing, CI is not true): {}", String::from_utf8_lossy(&out.stderr));
                return None;
            }
            _ => panic!("topo.sh up failed: {}", String::from_utf8_lossy(&out.stderr)),
        }
        let env = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(Topo { prefix, env })
    }

    pub fn var(&self, k: &str) -> &str {
        &self.env[k]
    }

    pub fn cli(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", self.var("NW_NS_CLI"), program]);
        c
    }

    /// `program` in the proxy/router namespace (squid, danted; it forwards
    /// between the client and the servers).
    pub fn px(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", self.var("NW_NS_PX"), program]);
        c
    }
}

impl Drop for Topo {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(self.var("NW_TOPO")).args(["down", &self.prefix]).status();
    }
}
