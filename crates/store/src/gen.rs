//! Synthetic `DeviceNetworkEvents`, for benchmarks and tests of the store
//! and the hunting engine.
//!
//! The rows look like a small fleet's week: ~200 devices (a third of them
//! behind a forward proxy), ~5,000 host names (popular domains, their
//! subdomains, a long tail, and a few malicious ones), skewed popularity,
//! the action-type mix of real telemetry (mostly connections, then DNS, TLS
//! and HTTP inspections, and rare network protection verdicts), common ports,
//! the usual Linux processes, and `AdditionalFields` for inspected events and
//! verdicts. Deterministic for a seed; timestamps increase through the span
//! with a little jitter, as agents deliver them.

use netward_events::{ActionType, NetworkEvent, ProcessInfo, Protocol, Record, Timestamp};
use serde_json::{json, Map, Value as J};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// SplitMix64: small, fast and deterministic; statistical quality is ample
/// for synthetic data.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// An index in `0..n` skewed towards 0 (popular items first).
    fn skewed(&mut self, n: usize) -> usize {
        ((self.unit().powi(3)) * n as f64) as usize % n.max(1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Names of the malicious hosts mixed into the data (rarely), so hunts have
/// something to find.
pub const MALICIOUS_HOSTS: &[&str] =
    &["c2.evil.example", "evil.example", "login.phish.example.net", "dl.malware.example.org"];

/// The forward proxy that proxied devices use.
pub const PROXY_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 8);

struct Device {
    id: String,
    name: String,
    ip: Ipv4Addr,
    proxied: bool,
    user: String,
    report_id: i64,
}

struct Proc {
    name: &'static str,
    folder: &'static str,
    cmd: &'static str,
    parent: &'static str,
}

const PROCS: &[Proc] = &[
    Proc {
        name: "firefox",
        folder: "/usr/lib/firefox/firefox",
        cmd: "/usr/lib/firefox/firefox",
        parent: "gnome-shell",
    },
    Proc {
        name: "chrome",
        folder: "/opt/google/chrome/chrome",
        cmd: "/opt/google/chrome/chrome --type=utility",
        parent: "chrome",
    },
    Proc {
        name: "curl",
        folder: "/usr/bin/curl",
        cmd: "curl -fsSL https://get.example.com/install.sh",
        parent: "bash",
    },
    Proc {
        name: "wget",
        folder: "/usr/bin/wget",
        cmd: "wget -q https://mirror.example.org/file.tar.gz",
        parent: "bash",
    },
    Proc { name: "python3", folder: "/usr/bin/python3", cmd: "python3 sync.py --daemon", parent: "systemd" },
    Proc { name: "apt", folder: "/usr/bin/apt", cmd: "apt update", parent: "sudo" },
    Proc {
        name: "systemd-resolved",
        folder: "/usr/lib/systemd/systemd-resolved",
        cmd: "/usr/lib/systemd/systemd-resolved",
        parent: "systemd",
    },
    Proc { name: "ssh", folder: "/usr/bin/ssh", cmd: "ssh deploy@build.corp.example", parent: "bash" },
    Proc { name: "sshd", folder: "/usr/sbin/sshd", cmd: "sshd: /usr/sbin/sshd -D", parent: "systemd" },
    Proc { name: "java", folder: "/usr/lib/jvm/java-17/bin/java", cmd: "java -jar app.jar", parent: "systemd" },
    Proc { name: "node", folder: "/usr/bin/node", cmd: "node server.js", parent: "npm" },
    Proc {
        name: "code",
        folder: "/usr/share/code/code",
        cmd: "/usr/share/code/code --no-sandbox",
        parent: "gnome-shell",
    },
    Proc {
        name: "slack",
        folder: "/usr/lib/slack/slack",
        cmd: "/usr/lib/slack/slack --startup",
        parent: "gnome-shell",
    },
    Proc { name: "snapd", folder: "/usr/lib/snapd/snapd", cmd: "/usr/lib/snapd/snapd", parent: "systemd" },
];

const WORDS: &[&str] = &[
    "acme", "alpha", "apex", "aqua", "atlas", "bolt", "byte", "cedar", "cloud", "coral", "delta", "echo", "ember",
    "falcon", "flux", "forge", "gamma", "globe", "grid", "harbor", "helix", "hydra", "iris", "jade", "kilo", "lumen",
    "lynx", "maple", "metro", "nexus", "nova", "onyx", "orbit", "pixel", "prism", "quartz", "radar", "raven", "sable",
    "sigma", "solar", "spark", "tango", "terra", "titan", "umbra", "vega", "vertex", "willow", "xenon", "yonder",
    "zephyr",
];
const TLDS: &[&str] = &["com", "net", "org", "io", "dev", "example", "co.uk", "de", "app", "cloud"];
const SUBS: &[&str] = &[
    "www",
    "api",
    "cdn",
    "static",
    "login",
    "mail",
    "auth",
    "img",
    "assets",
    "update",
    "telemetry",
    "eu",
    "us-east-1",
];
const UAS: &[&str] = &[
    "curl/8.5.0",
    "Wget/1.21.3",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "python-requests/2.31.0",
    "Debian APT-HTTP/1.3 (2.6.1)",
];
const CATEGORIES: &[&str] = &["Malicious", "Phishing", "CustomBlockList", "CustomPolicy", "Gambling", "Adult content"];

fn hex(rng: &mut Rng, n: usize) -> String {
    const H: &[u8] = b"0123456789abcdef";
    (0..n).map(|_| H[rng.below(16)] as char).collect()
}

fn build_hosts(rng: &mut Rng) -> Vec<String> {
    let mut hosts = Vec::with_capacity(5200);
    // ~1,500 registrable domains; popular ones get several subdomains.
    let mut i = 0;
    while hosts.len() < 5000 {
        let a = WORDS[i % WORDS.len()];
        let b = WORDS[(i / WORDS.len() + i * 7) % WORDS.len()];
        let base = format!(
            "{a}{b}{}.{}",
            if i >= WORDS.len() * 4 { format!("{i}") } else { String::new() },
            TLDS[i % TLDS.len()]
        );
        hosts.push(base.clone());
        let subs = if i < 150 { 4 + rng.below(6) } else { rng.below(3) };
        for _ in 0..subs {
            hosts.push(format!("{}.{base}", rng.pick(SUBS)));
        }
        i += 1;
    }
    hosts.truncate(5000);
    hosts
}

/// Deterministic pseudo-public address of a host name.
fn host_ip(host: &str) -> Ipv4Addr {
    let h = crc32fast(host.as_bytes());
    let first = [23u8, 34, 52, 93, 104, 142, 151, 185, 199, 203][(h % 10) as usize];
    Ipv4Addr::new(first, (h >> 8) as u8, (h >> 16) as u8, ((h >> 24) as u8).max(1))
}

fn crc32fast(b: &[u8]) -> u32 {
    crc32c::crc32c(b)
}

/// The generator; see [`generate_network_events`].
pub struct NetworkEventGen {
    rng: Rng,
    devices: Vec<Device>,
    hosts: Vec<String>,
    /// Per process: its binary's SHA-256 and its TLS client's JA3 / JA4
    /// (one program, one fingerprint, as in real fleets).
    proc_ids: Vec<(String, String, String)>,
    n: u64,
    i: u64,
    start: i64,
    step: f64,
}

/// `n` `DeviceNetworkEvents` rows with timestamps spread over `span` from
/// `start`, deterministic for `seed`.
pub fn generate_network_events(n: u64, seed: u64, start: Timestamp, span: Duration) -> NetworkEventGen {
    let mut rng = Rng(seed ^ 0x006e_6574_7761_7264);
    let devices = (0..200)
        .map(|d| {
            let server = d % 10 == 0;
            Device {
                id: hex(&mut rng, 40),
                name: if server { format!("srv-{d:03}.corp.example") } else { format!("ws-{d:03}.corp.example") },
                ip: Ipv4Addr::new(10, 1 + (d / 250) as u8, (d % 250) as u8, 10 + (d % 200) as u8),
                proxied: d % 3 == 0,
                user: if server { "root".into() } else { format!("user{d:03}") },
                report_id: 1000 * d as i64,
            }
        })
        .collect();
    let hosts = build_hosts(&mut rng);
    let proc_ids = PROCS
        .iter()
        .map(|_| {
            let ja4 = format!("t13d1516h2_{}_{}", hex(&mut rng, 12), hex(&mut rng, 12));
            (hex(&mut rng, 64), hex(&mut rng, 32), ja4)
        })
        .collect();
    let span_ns = i64::try_from(span.as_nanos()).unwrap_or(i64::MAX) as f64;
    NetworkEventGen { rng, devices, hosts, proc_ids, n, i: 0, start: start.0, step: span_ns / n.max(1) as f64 }
}

impl NetworkEventGen {
    fn host(&mut self) -> String {
        if self.rng.below(2000) == 0 {
            return (*self.rng.pick(MALICIOUS_HOSTS)).to_string();
        }
        let i = self.rng.skewed(self.hosts.len());
        self.hosts[i].clone()
    }

    fn event(&mut self) -> NetworkEvent {
        let rng = &mut self.rng;
        let jitter = (rng.unit() * 2.0 - 1.0) * self.step.min(5e9);
        let ts = self.start + (self.i as f64 * self.step + jitter).max(0.0) as i64;
        let d = rng.skewed(self.devices.len());
        let pi = rng.skewed(PROCS.len());
        let p = &PROCS[pi];
        let roll = rng.below(1000);
        let action = match roll {
            0..=529 => ActionType::ConnectionSuccess,
            530..=579 => ActionType::ConnectionFailed,
            580..=609 => ActionType::ConnectionAttempt,
            610..=649 => ActionType::InboundConnectionAccepted,
            650..=659 => ActionType::ListeningConnectionCreated,
            660..=809 => ActionType::DnsConnectionInspected,
            810..=919 => ActionType::SslConnectionInspected,
            920..=979 => ActionType::HttpConnectionInspected,
            980..=994 => ActionType::ExploitGuardNetworkProtectionAudited,
            _ => ActionType::ExploitGuardNetworkProtectionBlocked,
        };
        let host = self.host();
        let rng = &mut self.rng;
        let dev = &mut self.devices[d];
        dev.report_id += 1;
        let mut e = NetworkEvent {
            timestamp: Timestamp(ts),
            device_id: dev.id.clone(),
            device_name: dev.name.clone(),
            action_type: Some(action),
            local_ip: Some(IpAddr::V4(dev.ip)),
            local_port: Some(32768 + rng.below(28000) as u16),
            protocol: Some(Protocol::Tcp),
            report_id: dev.report_id,
            process: ProcessInfo {
                file_name: p.name.to_string(),
                folder_path: p.folder.to_string(),
                command_line: p.cmd.to_string(),
                sha256: self.proc_ids[pi].0.clone(),
                id: Some(1000 + rng.below(60000) as i64),
                parent_id: Some(1 + rng.below(5000) as i64),
                parent_file_name: p.parent.to_string(),
                account_name: dev.user.clone(),
                account_domain: dev.name.split('.').next().unwrap_or_default().to_string(),
                creation_time: Some(Timestamp(ts - (rng.unit() * 3.6e12) as i64)),
                ..Default::default()
            },
            ..Default::default()
        };
        let port = *rng.pick(&[443u16, 443, 443, 443, 443, 443, 443, 80, 80, 8080, 22]);
        let mut af = Map::new();
        match action {
            ActionType::InboundConnectionAccepted | ActionType::ListeningConnectionCreated => {
                e.local_port = Some(*rng.pick(&[22u16, 443, 8080, 5432]));
                e.remote_ip = Some(IpAddr::V4(Ipv4Addr::new(10, 1, rng.below(4) as u8, 10 + rng.below(200) as u8)));
                e.remote_port = Some(32768 + rng.below(28000) as u16);
                if action == ActionType::ListeningConnectionCreated {
                    e.remote_ip = None;
                    e.remote_port = None;
                }
            }
            ActionType::DnsConnectionInspected => {
                e.protocol = Some(Protocol::Udp);
                e.remote_ip = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53)));
                e.remote_port = Some(53);
                let nx = rng.below(50) == 0;
                af.insert("direction".into(), J::from("Out"));
                af.insert("query".into(), J::from(host.clone()));
                af.insert("qtype_name".into(), J::from(*rng.pick(&["A", "A", "AAAA", "HTTPS"])));
                af.insert("rcode_name".into(), J::from(if nx { "NXDOMAIN" } else { "NOERROR" }));
                af.insert("answers".into(), if nx { json!([]) } else { json!([host_ip(&host).to_string()]) });
            }
            _ => {
                e.remote_url = host.clone();
                e.remote_port = Some(port);
                e.remote_ip = Some(IpAddr::V4(host_ip(&host)));
                if dev.proxied && action == ActionType::ConnectionSuccess && rng.below(2) == 0 {
                    // The proxied connection's own event: only the proxy is seen.
                    e.remote_ip = Some(IpAddr::V4(PROXY_IP));
                    e.remote_port = Some(3128);
                    e.remote_url.clear();
                } else if dev.proxied {
                    // The real target named behind the proxy: no address known.
                    e.remote_ip = None;
                }
                match action {
                    ActionType::SslConnectionInspected => {
                        af.insert("direction".into(), J::from("Out"));
                        af.insert("server_name".into(), J::from(host.clone()));
                        af.insert("ja3".into(), J::from(self.proc_ids[pi].1.clone()));
                        af.insert("ja4".into(), J::from(self.proc_ids[pi].2.clone()));
                        af.insert("alpn".into(), json!(["h2", "http/1.1"]));
                    }
                    ActionType::HttpConnectionInspected => {
                        e.remote_port = Some(*rng.pick(&[80u16, 80, 8080]));
                        af.insert("direction".into(), J::from("Out"));
                        af.insert("host".into(), J::from(host.clone()));
                        af.insert("method".into(), J::from(*rng.pick(&["GET", "GET", "GET", "POST", "HEAD"])));
                        af.insert("uri".into(), J::from(format!("/{}/{}", rng.pick(WORDS), rng.below(1000))));
                        af.insert("user_agent".into(), J::from(*rng.pick(UAS)));
                        af.insert("version".into(), J::from("1.1"));
                    }
                    ActionType::ExploitGuardNetworkProtectionAudited
                    | ActionType::ExploitGuardNetworkProtectionBlocked => {
                        let audit = action == ActionType::ExploitGuardNetworkProtectionAudited;
                        af.insert("IsAudit".into(), J::from(audit));
                        af.insert("ResponseCategory".into(), J::from(*rng.pick(CATEGORIES)));
                        af.insert("DisplayName".into(), J::from(format!("Blocked: {host}")));
                    }
                    _ => {}
                }
            }
        }
        e.additional_fields = af;
        e
    }
}

impl Iterator for NetworkEventGen {
    type Item = Record;
    fn next(&mut self) -> Option<Record> {
        if self.i >= self.n {
            return None;
        }
        let e = self.event();
        self.i += 1;
        Some(e.to_record())
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.n - self.i).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn deterministic_and_spread_like_a_fleet() {
        let start = Timestamp::from_unix_millis(1_763_769_600_000);
        let a: Vec<Record> = generate_network_events(20_000, 7, start, Duration::from_secs(86_400)).collect();
        let b: Vec<Record> = generate_network_events(20_000, 7, start, Duration::from_secs(86_400)).collect();
        assert_eq!(a, b);
        let s = |r: &Record, c: &str| r.get(c).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let devices: HashSet<String> = a.iter().map(|r| s(r, "DeviceId")).collect();
        assert!(devices.len() > 150, "{}", devices.len());
        let urls: HashSet<String> = a.iter().map(|r| s(r, "RemoteUrl")).filter(|u| !u.is_empty()).collect();
        assert!(urls.len() > 1000, "{}", urls.len());
        let mut actions: HashMap<String, usize> = HashMap::new();
        for r in &a {
            *actions.entry(s(r, "ActionType")).or_default() += 1;
        }
        assert!(actions["ConnectionSuccess"] > actions["DnsConnectionInspected"]);
        assert!(actions.contains_key("ExploitGuardNetworkProtectionBlocked"));
        let ts: Vec<i64> = a.iter().map(|r| r.get("Timestamp").unwrap().as_timestamp().unwrap().0).collect();
        assert!(ts.iter().all(|&t| t >= start.0 && t <= start.0 + 86_400_000_000_000 + 5_000_000_000));
        assert!(ts.first() < ts.last());
        let proxied = a.iter().filter(|r| s(r, "RemoteIP") == PROXY_IP.to_string()).count();
        assert!(proxied > 0);
    }
}
