//! The fleet tests' parts, shared by `fleet_server`, `fleet_policy` and
//! `live_fleet`: a real `netward server` read from its first stdout line
//! (URL and certificate fingerprint), killed (-9) on drop; its tokens; and a
//! device's data directory with the config that names the server.

use assert_cmd::cargo::CommandCargoExt;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The real binary on `data`, JSON output, the environment's data dir ignored.
pub fn netward(data: &Path) -> Command {
    let mut c = Command::cargo_bin("netward").unwrap();
    c.env_remove("NETWARD_DATA_DIR").arg("--data-dir").arg(data).args(["--format", "json"]);
    c
}

pub fn ok(mut c: Command) -> Output {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{c:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A running `netward server`; killed (-9) on drop.
pub struct Server {
    child: Child,
    pub url: String,
    pub fingerprint: String,
    pub data: PathBuf,
}

impl Server {
    /// `netward server --listen LISTEN` on `data`.
    pub fn start(data: &Path, listen: &str) -> Server {
        Server::start_with(data, &["--listen", listen])
    }

    pub fn start_with(data: &Path, args: &[&str]) -> Server {
        let mut c = netward(data);
        c.arg("server").args(args);
        Server::spawn(c, data)
    }

    /// `cmd` (a `netward ... server ...` command, e.g. inside a namespace)
    /// started, and its first line read: "netward server listening on
    /// https://ADDR/ certificate sha256:HEX".
    pub fn spawn(mut cmd: Command, data: &Path) -> Server {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(line.starts_with("netward server listening on https://") && words.len() == 7, "server said `{line}`");
        let url = words[4].trim_end_matches('/').to_string();
        Server { child, url, fingerprint: words[6].to_string(), data: data.to_path_buf() }
    }

    pub fn addr(&self) -> &str {
        self.url.strip_prefix("https://").unwrap()
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }

    /// `netward server ARGS` on the server's data directory.
    pub fn admin(&self, args: &[&str]) -> Output {
        let mut c = netward(&self.data);
        c.arg("server").args(args);
        ok(c)
    }

    /// A token from `server token add ARGS` (e.g. `--hunt`).
    pub fn token(&self, args: &[&str]) -> String {
        token(&self.data, args)
    }

    /// A device token bound to DeviceId `device`.
    pub fn device_token(&self, device: &str, more: &[&str]) -> String {
        device_token(&self.data, device, more)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn token(server_data: &Path, args: &[&str]) -> String {
    let mut c = netward(server_data);
    c.args(["server", "token", "add"]).args(args);
    String::from_utf8(ok(c).stdout).unwrap().trim().to_string()
}

pub fn device_token(server_data: &Path, device: &str, more: &[&str]) -> String {
    let mut c = netward(server_data);
    // --device-id is the global option, given before the subcommand.
    c.args(["--device-id", device, "server", "token", "add"]).args(more);
    String::from_utf8(ok(c).stdout).unwrap().trim().to_string()
}

/// The `[server]` section a device's config carries.
pub fn write_device_config(path: &Path, url: &str, token: &str, pin: &str) {
    std::fs::write(path, format!("[server]\nurl = \"{url}\"\ntoken = \"{token}\"\nfingerprint = \"{pin}\"\n")).unwrap();
}

/// A device: its data directory and the config naming the server and token.
pub struct Device {
    pub data: PathBuf,
    pub config: PathBuf,
    pub id: String,
}

impl Device {
    pub fn new(root: &Path, id: &str, server: &Server, token: &str) -> Device {
        Device::pinned(root, id, server, token, &server.fingerprint)
    }

    pub fn pinned(root: &Path, id: &str, server: &Server, token: &str, pin: &str) -> Device {
        let data = root.join(id);
        std::fs::create_dir_all(&data).unwrap();
        let config = root.join(format!("{id}.toml"));
        write_device_config(&config, &server.url, token, pin);
        Device { data, config, id: id.to_string() }
    }

    /// `netward` on the device: its data dir, config and DeviceId.
    pub fn cmd(&self) -> Command {
        let mut c = netward(&self.data);
        c.arg("--config").arg(&self.config).args(["--device-id", &self.id]);
        c
    }
}
