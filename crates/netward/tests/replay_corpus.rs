//! `netward replay` on real captures: every row of the corpus' EXPECTED.tsv
//! (names, and JA4 where listed) must appear among the events, with the
//! connection's own address and port.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn replay(files: &[PathBuf]) -> Vec<serde_json::Value> {
    let data = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("netward")
        .unwrap()
        .arg("--data-dir")
        .arg(data.path())
        .args(["--device-name", "corpus", "--device-id", "0123456789abcdef0123456789abcdef01234567"])
        .args(["replay", "-q", "--format", "json"])
        .args(files)
        .output()
        .unwrap();
    assert!(out.status.success(), "replay failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

struct Row {
    pcap: String,
    proto: String,
    ip: String,
    port: String,
    name: String,
    extra: String,
}

fn expected(dir: &str) -> Vec<Row> {
    let text = std::fs::read_to_string(testdata().join(dir).join("EXPECTED.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Row {
                pcap: f[0].into(),
                proto: f[1].into(),
                ip: f[2].into(),
                port: f[3].into(),
                name: f[4].into(),
                extra: f.get(5).unwrap_or(&"").to_string(),
            }
        })
        .collect()
}

fn matches_row(ev: &serde_json::Value, row: &Row) -> bool {
    let proto = if row.proto == "udp" { "Udp" } else { "Tcp" };
    ev["RemoteUrl"] == row.name.as_str()
        && ev["Protocol"] == proto
        && (row.ip == "-" || ev["RemoteIP"] == row.ip.as_str())
        && (row.port == "-" || ev["RemotePort"].as_u64().is_some_and(|p| p.to_string() == row.port))
}

#[test]
fn public_captures_name_every_expected_destination() {
    let rows = expected("pcaps");
    assert!(rows.len() >= 11);
    let mut failures = Vec::new();
    for row in &rows {
        let events = replay(&[testdata().join("pcaps").join(&row.pcap)]);
        let hit = events.iter().any(|e| matches_row(e, row));
        if !hit {
            failures.push(format!("{}: no event names {} at {}:{}", row.pcap, row.name, row.ip, row.port));
        }
        // Every capture's connection events carry the device columns.
        assert!(events.iter().all(|e| e["DeviceName"] == "corpus"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The project's own captures, recorded from curl, openssl and dig through
/// squid, danted, nginx and dnsmasq (see testdata/own/README.md).
#[test]
fn own_captures_name_every_expected_destination() {
    let rows = expected("own");
    assert!(rows.len() >= 12);
    let mut failures = Vec::new();
    for row in &rows {
        let events = replay(&[testdata().join("own").join(&row.pcap)]);
        let hit = if row.extra == "http-host" {
            // A Host header that names another host than the request-target.
            events.iter().any(|e| {
                e["ActionType"] == "HttpConnectionInspected"
                    && e["AdditionalFields"]["host_mismatch"] == true
                    && netward_canon::canonical_host(e["AdditionalFields"]["host"].as_str().unwrap_or(""))
                        .is_ok_and(|h| h.host.to_string() == row.name)
            })
        } else {
            events.iter().any(|e| matches_row(e, row))
        };
        if !hit {
            failures
                .push(format!("{}: no event names {} at {}:{} ({})", row.pcap, row.name, row.ip, row.port, row.extra));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn keep_alive_proxy_connection_names_every_host_with_the_proxy_ip() {
    let events = replay(&[testdata().join("own/proxy-get-keepalive.pcap")]);
    let http: Vec<&str> = events
        .iter()
        .filter(|e| e["ActionType"] == "HttpConnectionInspected" && e["RemoteIP"] == "198.18.1.1")
        .map(|e| e["RemoteUrl"].as_str().unwrap())
        .collect();
    assert_eq!(http, vec!["good.test", "www.evil.test", "phish.test"]);
    // One connection to the proxy, and one target event per host whose
    // RemoteIP is not the proxy: the seeds' query lists the real targets.
    let targets: Vec<&str> = events
        .iter()
        .filter(|e| e["ActionType"] == "ConnectionSuccess" && e["RemoteIP"] != "198.18.1.1")
        .map(|e| e["RemoteUrl"].as_str().unwrap())
        .collect();
    assert_eq!(targets, vec!["good.test", "www.evil.test", "phish.test"]);
}

#[test]
fn a_tls_flow_without_sni_is_named_from_dns_and_marked_inferred() {
    let events = replay(&[testdata().join("own/dns-named.pcap")]);
    let conn = events
        .iter()
        .find(|e| e["ActionType"] == "ConnectionSuccess" && e["RemotePort"] == 443)
        .expect("the TLS connection");
    assert_eq!(conn["RemoteUrl"], "evil.test");
    assert_eq!(conn["AdditionalFields"]["name_source"], "dns");
    assert_eq!(conn["AdditionalFields"]["inferred"], true);
    assert_eq!(conn["AdditionalFields"]["dns_candidates"], serde_json::json!(["evil.test"]));
}

#[test]
fn ja4_captures_match_every_fingerprint() {
    let rows = expected("ja4");
    assert!(rows.len() >= 60);
    let mut failures = Vec::new();
    let mut by_file: std::collections::BTreeMap<String, Vec<&Row>> = Default::default();
    for r in &rows {
        by_file.entry(r.pcap.clone()).or_default().push(r);
    }
    for (file, rows) in by_file {
        let events = replay(&[testdata().join("ja4").join(&file)]);
        let hellos: Vec<&serde_json::Value> =
            events.iter().filter(|e| e["ActionType"] == "SslConnectionInspected").collect();
        for row in rows {
            let ok = hellos.iter().any(|e| matches_row(e, row) && e["AdditionalFields"]["ja4"] == row.extra.as_str());
            if !ok {
                failures.push(format!(
                    "{file}: no ClientHello to {} {}:{} with JA4 {}",
                    row.name, row.ip, row.port, row.extra
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn proxy_connections_keep_the_proxy_ip_and_add_the_real_targets() {
    let events = replay(&[testdata().join("pcaps/zeek-socks-with-ssl.pcap")]);
    let conn: Vec<_> = events.iter().filter(|e| e["ActionType"] == "ConnectionSuccess").collect();
    // The connection to the proxy: RemoteIP = proxy, RemoteUrl = the real target.
    assert!(conn.iter().any(|e| e["RemoteIP"] == "85.194.84.197" && e["RemoteUrl"] == "www.google.com"));
    // The target itself: RemoteIP is not the proxy, the proxy is named.
    let target = conn.iter().find(|e| e["RemoteIP"] != "85.194.84.197").expect("a ConnectionSuccess for the target");
    assert_eq!(target["RemoteUrl"], "www.google.com");
    assert_eq!(target["RemotePort"], 443);
    assert_eq!(target["AdditionalFields"]["proxy"]["kind"], "socks5");
    assert_eq!(target["AdditionalFields"]["proxy"]["address"], "85.194.84.197:1080");
}

#[test]
fn ech_is_flagged_and_only_the_outer_name_is_claimed() {
    let events = replay(&[testdata().join("pcaps/zeek-tls13-ech.pcap")]);
    let ssl: Vec<_> = events.iter().filter(|e| e["ActionType"] == "SslConnectionInspected").collect();
    assert!(!ssl.is_empty());
    assert!(ssl.iter().any(|e| e["AdditionalFields"]["ech"] == true));
}

#[test]
fn dns_answers_are_events_with_zeek_fields() {
    let events = replay(&[testdata().join("pcaps/sv-cond-log-dns-dig.pcap")]);
    let dns = events.iter().find(|e| e["ActionType"] == "DnsConnectionInspected").expect("a DNS event");
    let f = &dns["AdditionalFields"];
    assert_eq!(dns["RemoteUrl"], "www.suricata-ids.org");
    assert_eq!(f["qtype_name"], "A");
    assert_eq!(f["rcode_name"], "NOERROR");
    let answers: Vec<&str> = f["answers"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(
        answers.contains(&"suricata-ids.org") && answers.contains(&"192.0.78.24") && answers.contains(&"192.0.78.25"),
        "{answers:?}"
    );
}

#[test]
fn a_truncated_capture_keeps_its_events_and_names_the_offset() {
    let t = tempfile::tempdir().unwrap();
    let src = std::fs::read(testdata().join("ja4/tls-sni.pcapng")).unwrap();
    let cut = t.path().join("cut.pcapng");
    std::fs::write(&cut, &src[..src.len() * 2 / 3]).unwrap();
    let out = Command::cargo_bin("netward")
        .unwrap()
        .arg("--data-dir")
        .arg(t.path())
        .args(["replay", "--format", "json"])
        .arg(&cut)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cut.pcapng") && err.contains("offset"), "{err}");
    let kept = String::from_utf8_lossy(&out.stdout).lines().count();
    assert!(kept > 10, "events before the damage are kept: {kept}");
}
