//! Feed subscriptions against the real servers of testnet/: the feed is a
//! file nginx serves (with its own ETag and Last-Modified), fetched from the
//! client namespace through squid as `network.proxy_server` says (squid's
//! access log is the witness), refreshed conditionally (304), kept when a
//! broken copy is served, and refreshed by a running agent, whose next
//! connection to a newly listed domain is blocked without a restart. Needs
//! root and the packages `.ci/run` installs; outside CI a missing
//! prerequisite skips (said on stderr), under `CI=true` it fails.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

mod common;
use common::agent::{curl, netward, Agent};
use common::Topo;

/// The feed file nginx serves at http://good.test/feeds/threats.txt.
fn feed_file(topo: &Topo) -> PathBuf {
    let dir = Path::new(topo.var("NW_STATE")).join("www/feeds");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("threats.txt")
}

/// Replaces the feed; the sleep makes nginx's Last-Modified (and so its
/// ETag, mtime-size) differ from the previous copy's.
fn serve(file: &Path, text: &str) {
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(file, text).unwrap();
}

const URL: &str = "http://good.test/feeds/threats.txt";

fn config(dir: &Path, proxy: &str) -> PathBuf {
    let cfg = dir.join("netward.toml");
    std::fs::write(&cfg, format!("[network]\nproxy_server = \"{proxy}\"\n")).unwrap();
    cfg
}

/// `netward` in the client namespace (where the feed server is reachable).
fn nw_cli(topo: &Topo, cfg: &Path, data: &Path, args: &[&str]) -> Output {
    topo.cli(netward())
        .arg("--config")
        .arg(cfg)
        .arg("--data-dir")
        .arg(data)
        .args(["--format", "json"])
        .args(args)
        .env_remove("NETWARD_DATA_DIR")
        .output()
        .expect("run netward")
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn squid_log(topo: &Topo) -> String {
    std::fs::read_to_string(Path::new(topo.var("NW_STATE")).join("squid/access.log")).unwrap_or_default()
}

/// squid writes its log line when the exchange ends; give it a moment.
fn wait_for_log(topo: &Topo, want: impl Fn(&str) -> bool) -> String {
    let t = Instant::now();
    loop {
        let log = squid_log(topo);
        if want(&log) || t.elapsed() > Duration::from_secs(5) {
            return log;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn verdict(topo: &Topo, cfg: &Path, data: &Path, host: &str) -> String {
    let out = nw_cli(topo, cfg, data, &["evaluate", "--enforcement-level", "block", host]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    json_lines(&out)[0]["action"].as_str().unwrap().to_string()
}

#[test]
fn feed_through_squid_conditional_and_kept_when_broken() {
    let Some(topo) = Topo::up("feeds", 60) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = config(dir.path(), topo.var("NW_HTTP_PROXY"));
    let file = feed_file(&topo);
    serve(&file, "# test feed\nevil.test\n");

    // Subscribe: the first download goes through squid as a plain
    // (absolute-form) GET, which squid logs with the URL.
    let out =
        nw_cli(&topo, &cfg, &data, &["feed", "subscribe", "threats", URL, "--feed-format", "domains", "--every", "1h"]);
    assert!(out.status.success(), "subscribe: {}", String::from_utf8_lossy(&out.stderr));
    let rows = json_lines(&out);
    assert_eq!((rows[0]["result"].as_str(), rows[0]["entries"].as_u64()), (Some("updated"), Some(1)), "{rows:?}");
    let log = wait_for_log(&topo, |l| l.contains(URL));
    let first: Vec<&str> = log.lines().filter(|l| l.contains(URL)).collect();
    assert_eq!(first.len(), 1, "one download through squid: {log}");
    assert!(first[0].contains("/200 ") && first[0].contains("GET"), "{}", first[0]);
    assert_eq!(verdict(&topo, &cfg, &data, "www.evil.test"), "block");

    // The subscription owns its source: a file imported over it is refused.
    let other = dir.path().join("other.txt");
    std::fs::write(&other, "x.test\n").unwrap();
    let out = nw_cli(
        &topo,
        &cfg,
        &data,
        &["indicator", "import", other.to_str().unwrap(), "--feed-format", "domains", "--source", "threats"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));

    // https:// goes through squid with CONNECT, verified against the system's
    // roots plus network.ca_file (the test CA); without it, it is refused.
    let tls = dir.path().join("tls.toml");
    std::fs::write(
        &tls,
        format!("[network]\nproxy_server = \"{}\"\nca_file = \"{}\"\n", topo.var("NW_HTTP_PROXY"), topo.var("NW_CA")),
    )
    .unwrap();
    let https = "https://good.test/feeds/threats.txt";
    let out =
        nw_cli(&topo, &tls, &data, &["feed", "subscribe", "tls", https, "--feed-format", "domains", "--every", "1h"]);
    assert!(out.status.success(), "https: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_lines(&out)[0]["entries"], 1);
    let log = wait_for_log(&topo, |l| l.contains("CONNECT good.test:443"));
    assert!(log.contains("CONNECT good.test:443"), "{log}");
    let out = nw_cli(&topo, &cfg, &data, &["feed", "update", "tls"]);
    assert_eq!(out.status.code(), Some(1), "an unknown CA is refused");
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains("certificate"), "{err}");
    assert!(nw_cli(&topo, &cfg, &data, &["feed", "unsubscribe", "tls"]).status.success());

    // Bounded: a 200 MB body against feeds.max_download_mb = 1 is refused
    // (nginx announces its length) and nothing is imported.
    let small = dir.path().join("small.toml");
    std::fs::write(
        &small,
        format!("[network]\nproxy_server = \"{}\"\n[feeds]\nmax_download_mb = 1\n", topo.var("NW_HTTP_PROXY")),
    )
    .unwrap();
    let out = nw_cli(
        &topo,
        &small,
        &data,
        &["feed", "subscribe", "big", "http://good.test/big.bin", "--feed-format", "domains"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("larger than the limit of 1 MiB"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(nw_cli(&topo, &cfg, &data, &["feed", "unsubscribe", "big"]).status.success());

    // The second refresh is conditional: nginx answers 304, squid logs it.
    let out = nw_cli(&topo, &cfg, &data, &["feed", "update", "threats"]);
    assert!(out.status.success(), "update: {}", String::from_utf8_lossy(&out.stderr));
    let rows = json_lines(&out);
    assert_eq!((rows[0]["result"].as_str(), rows[0]["status"].as_u64()), (Some("unchanged"), Some(304)), "{rows:?}");
    let log = wait_for_log(&topo, |l| l.lines().filter(|l| l.contains(URL)).count() >= 2);
    let second = log.lines().filter(|l| l.contains(URL)).nth(1).unwrap_or_default().to_string();
    assert!(second.contains("/304 "), "the 304 passed through squid: {log}");

    // The same bytes under new validators (the file touched): 200, but no
    // re-import (the SHA-256 matches) and no 5007.
    serve(&file, "# test feed\nevil.test\n");
    let rows = json_lines(&nw_cli(&topo, &cfg, &data, &["feed", "update", "threats"]));
    assert_eq!((rows[0]["result"].as_str(), rows[0]["status"].as_u64()), (Some("unchanged"), Some(200)), "{rows:?}");

    // A broken copy (nothing but malformed lines) is refused: the entries
    // stay, the error is shown, the command fails.
    serve(&file, "<html>\n503 Service 1.2.3\nBackend..fetch..failed..9\n");
    let out = nw_cli(&topo, &cfg, &data, &["feed", "update"]);
    assert_eq!(out.status.code(), Some(1), "a refused refresh fails: {}", String::from_utf8_lossy(&out.stderr));
    let rows = json_lines(&out);
    assert_eq!(rows[0]["result"], "failed", "{rows:?}");
    assert!(rows[0]["error"].as_str().unwrap().contains("previous 1 entries are kept"), "{rows:?}");
    let list = json_lines(&nw_cli(&topo, &cfg, &data, &["feed", "list"]));
    assert_eq!(list[0]["entries"], 1, "{list:?}");
    assert_eq!(list[0]["failures"], 1, "{list:?}");
    assert!(list[0]["last_error"].as_str().unwrap().contains("malformed lines"), "{list:?}");
    assert_eq!(verdict(&topo, &cfg, &data, "evil.test"), "block", "the last good copy still blocks");

    // Fixed at the source: the next refresh imports it and clears the error.
    serve(&file, "evil.test\nphish.test\n");
    let out = nw_cli(&topo, &cfg, &data, &["feed", "update", "threats"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list = json_lines(&nw_cli(&topo, &cfg, &data, &["feed", "list"]));
    assert_eq!((list[0]["entries"].as_u64(), &list[0]["last_error"]), (Some(2), &serde_json::Value::Null), "{list:?}");
    assert_eq!(verdict(&topo, &cfg, &data, "phish.test"), "block");
    // Each change of the entries is on record as 5007.
    let ev = json_lines(&nw_cli(&topo, &cfg, &data, &["events", "--id", "5007"]));
    let feed_changes: Vec<_> = ev.iter().filter(|e| e["Data"]["Setting"] == "feed threats").collect();
    assert_eq!(feed_changes.len(), 2, "{ev:?}");
    assert_eq!(feed_changes[1]["Data"]["NewValue"], "2 entries");

    // Never around the proxy: with the proxy unreachable the refresh fails
    // (the server itself is reachable directly), and the environment's
    // proxy variables are never used.
    let dead = config(dir.path(), &format!("http://{}:3999", topo.var("NW_PROXY_IP")));
    let before = squid_log(&topo).lines().count();
    let out = nw_cli(&topo, &dead, &data, &["feed", "update"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":3999"), "the error names the proxy: {err}");
    assert!(curl(&topo, &[URL]).0, "the server answers direct, so a fallback would have worked");
    let direct = dir.path().join("direct.toml");
    std::fs::write(&direct, "").unwrap();
    let out = topo
        .cli(netward())
        .arg("--config")
        .arg(&direct)
        .arg("--data-dir")
        .arg(&data)
        .args(["--format", "json", "feed", "update"])
        .env("HTTP_PROXY", topo.var("NW_HTTP_PROXY"))
        .env("http_proxy", topo.var("NW_HTTP_PROXY"))
        .env("ALL_PROXY", topo.var("NW_HTTP_PROXY"))
        .output()
        .unwrap();
    assert!(out.status.success(), "direct: {}", String::from_utf8_lossy(&out.stderr));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(squid_log(&topo).lines().count(), before, "neither the dead proxy nor $HTTP_PROXY reached squid");

    // Bounded in time: a proxy that accepts and never answers costs
    // feeds.timeout_seconds, then the refresh fails.
    let stall_addr = format!("{}:3998", topo.var("NW_PROXY_IP"));
    let script = format!(
        "import socket, time\ns = socket.socket()\ns.bind(('{}', 3998))\ns.listen()\nprint('up', flush=True)\nc = s.accept()\ntime.sleep(60)\n",
        topo.var("NW_PROXY_IP")
    );
    let mut stall = topo.px("python3").args(["-c", &script]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut up = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stall.stdout.as_mut().unwrap()), &mut up).unwrap();
    let slow = dir.path().join("slow.toml");
    std::fs::write(&slow, format!("[network]\nproxy_server = \"http://{stall_addr}\"\n[feeds]\ntimeout_seconds = 2\n"))
        .unwrap();
    let t = Instant::now();
    let out = nw_cli(&topo, &slow, &data, &["feed", "update", "threats"]);
    let took = t.elapsed().as_secs_f64();
    let _ = stall.kill();
    let _ = stall.wait();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("timed out"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!((1.5..8.0).contains(&took), "gave up after the 2 s limit, took {took:.1} s");

    // A PAC file (fetched directly, run in the embedded engine with the
    // standard functions) picks squid for the feed; the first proxy it
    // names is dead, so the second is used. Squid sees the request.
    let (px, good) = (topo.var("NW_PROXY_IP"), topo.var("NW_GOOD_IP"));
    let www = Path::new(topo.var("NW_STATE")).join("www");
    std::fs::write(
        www.join("proxy.pac"),
        format!(
            "function FindProxyForURL(url, host) {{\n\
             if (dnsDomainIs(host, 'good.test') && shExpMatch(url, '*/feeds/*')\n\
                 && isInNet(dnsResolve(host), '{good}', '255.255.255.255'))\n\
               return 'PROXY {px}:3999; PROXY {px}:3128';\n\
             return 'DIRECT';\n}}\n"
        ),
    )
    .unwrap();
    let pac = dir.path().join("pac.toml");
    std::fs::write(&pac, "[network]\nproxy_pac_url = \"http://good.test/proxy.pac\"\n").unwrap();
    let before = squid_log(&topo).lines().filter(|l| l.contains(URL)).count();
    let out = nw_cli(&topo, &pac, &data, &["feed", "update", "threats"]);
    assert!(out.status.success(), "PAC: {}", String::from_utf8_lossy(&out.stderr));
    let log = wait_for_log(&topo, |l| l.lines().filter(|l| l.contains(URL)).count() > before);
    assert_eq!(log.lines().filter(|l| l.contains(URL)).count(), before + 1, "the PAC file's proxy was used: {log}");
    assert!(!log.contains("proxy.pac"), "the PAC file itself is fetched directly: {log}");
    // A PAC file that throws is an error of the feed, not a quiet DIRECT.
    std::fs::write(www.join("proxy.pac"), "function FindProxyForURL(url, host) {\n  return nope();\n}\n").unwrap();
    let out = nw_cli(&topo, &pac, &data, &["feed", "update", "threats"]);
    assert_eq!(out.status.code(), Some(1));
    let list = json_lines(&nw_cli(&topo, &cfg, &data, &["feed", "list"]));
    let err = list[0]["last_error"].as_str().unwrap_or_default().to_string();
    assert!(err.contains("PAC file") && err.contains("nope") && err.contains("proxy.pac:2"), "{list:?}");
    assert_eq!(list[0]["entries"], 2, "{list:?}");

    // Unsubscribe removes the entries too.
    let out = nw_cli(&topo, &cfg, &data, &["feed", "unsubscribe", "threats"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(verdict(&topo, &cfg, &data, "evil.test"), "none");
    assert!(json_lines(&nw_cli(&topo, &cfg, &data, &["feed", "list"])).is_empty());
}

/// `netward health` of the agent, once `ok` holds for it (or after 30 s).
fn health_until(data: &Path, ok: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let out = std::process::Command::new(netward()).arg("--data-dir").arg(data).arg("health").output().unwrap();
        let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if ok(&h) || t.elapsed() > Duration::from_secs(30) {
            return h;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn running_agent_refreshes_and_blocks_a_new_domain_without_restart() {
    let Some(topo) = Topo::up("feedagent", 61) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = config(dir.path(), topo.var("NW_HTTP_PROXY"));
    let file = feed_file(&topo);
    serve(&file, "evil.test\n");
    let out = nw_cli(&topo, &cfg, &data, &["config", "network-protection", "enforcement-level", "--value", "block"]);
    assert!(out.status.success());
    let out =
        nw_cli(&topo, &cfg, &data, &["feed", "subscribe", "threats", URL, "--feed-format", "domains", "--every", "5s"]);
    assert!(out.status.success(), "subscribe: {}", String::from_utf8_lossy(&out.stderr));

    let mut cmd = topo.cli(netward());
    cmd.arg("--config").arg(&cfg);
    let agent = Agent::start_cmd(cmd, &data, 61, &[]);
    assert!(!curl(&topo, &["https://evil.test/"]).0, "the subscribed domain is blocked");
    assert!(curl(&topo, &["https://phish.test/"]).0, "not listed yet: passes");

    // The feed gains a domain; the agent's refresher (every 5 s) swaps it in
    // and the next connection is blocked, with no restart and no CLI call.
    serve(&file, "evil.test\nphish.test\n");
    let h = health_until(&data, |h| h["feeds"][0]["entries"] == 2);
    assert_eq!(h["feeds"][0]["entries"], 2, "the agent refreshed the feed: {h}");
    assert!(h["feeds"][0]["last_success"].is_string(), "{h}");
    let t = Instant::now();
    while curl(&topo, &["https://phish.test/"]).0 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!curl(&topo, &["https://phish.test/"]).0, "the newly listed domain is blocked");

    // A broken copy: health shows the error, the entries stay, and the
    // next try backs off to the interval (5 s here).
    serve(&file, "x..y..1\nz..w..2\nq..r..3\n");
    let h = health_until(&data, |h| h["feeds"][0]["last_error"].is_string());
    let f = &h["feeds"][0];
    assert!(f["last_error"].as_str().unwrap_or("").contains("kept"), "{h}");
    assert_eq!(f["entries"], 2, "{h}");
    assert!(!curl(&topo, &["https://phish.test/"]).0, "the last good copy still blocks");
    assert!(curl(&topo, &["https://good.test/"]).0);

    // The agent's refresh is on record as 5007, by the agent.
    let ev = json_lines(&nw_cli(&topo, &cfg, &data, &["events", "--id", "5007"]));
    assert!(
        ev.iter().any(|e| e["Data"]["Setting"] == "feed threats"
            && e["Data"]["NewValue"] == "2 entries"
            && e["Data"]["User"].as_str().unwrap_or("").contains("agent")),
        "{ev:?}"
    );

    // The refreshes went through squid, the agent's own connections too.
    assert!(squid_log(&topo).lines().filter(|l| l.contains(URL)).count() >= 3, "{}", squid_log(&topo));
    let status = agent.stop();
    assert!(status.success(), "agent exits 0: {status}");
}
