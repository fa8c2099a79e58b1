//! Indicators, evaluate and replay --policy through the real binary.

mod common;

use common::cli::{lines, netward};
use std::path::Path;

#[test]
fn verdict_json_has_exactly_the_contract_fields() {
    let t = tempfile::tempdir().unwrap();
    netward(t.path())
        .args(["indicator", "add", "--type", "domain", "--value", "Evil.TEST.", "--action", "block"])
        .assert()
        .success();
    let out = netward(t.path())
        .args(["evaluate", "--enforcement-level", "block", "https://www.evil.test:443/a", "good.test"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = lines(&out.stdout);
    let keys: Vec<&str> = v[0].as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec!["input", "canonical", "action", "enforced", "enforcement_level", "category", "matched"];
    let mut got = keys.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(v[0]["action"], "block");
    assert_eq!(v[0]["enforced"], true);
    assert_eq!(v[0]["category"], "CustomBlockList");
    assert_eq!(v[1]["action"], "none");
    assert_eq!(v[1]["enforced"], false);
}

#[test]
fn duplicates_are_refused_with_the_existing_id_unless_replaced() {
    let t = tempfile::tempdir().unwrap();
    let add = |action: &str, replace: bool| {
        let mut c = netward(t.path());
        c.args(["indicator", "add", "--type", "ip", "--value", "198.18.2.3", "--action", action]);
        if replace {
            c.arg("--replace");
        }
        c.output().unwrap()
    };
    let first = add("block", false);
    let id = lines(&first.stdout)[0]["id"].as_str().unwrap().to_string();
    let dup = add("audit", false);
    assert_eq!(dup.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&dup.stderr).contains(&format!("id {id}")));
    assert!(add("audit", true).status.success());
    let list = lines(&netward(t.path()).args(["indicator", "list"]).output().unwrap().stdout);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["action"], "audit");
}

#[test]
fn malformed_feed_lines_are_reported_by_number_and_the_rest_imported() {
    let t = tempfile::tempdir().unwrap();
    let feed = t.path().join("feed.txt");
    std::fs::write(&feed, "# list\nphish.test\nnot a domain!\nmalware.test\n").unwrap();
    let out = netward(t.path())
        .args(["indicator", "import"])
        .arg(&feed)
        .args(["--feed-format", "domains", "--source", "tiny"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let summary = &lines(&out.stdout)[0];
    assert_eq!(summary["imported"], 2);
    assert_eq!(summary["errors"], 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("feed.txt:3:"));
    let v = lines(&netward(t.path()).args(["evaluate", "https://x.malware.test/"]).output().unwrap().stdout);
    assert_eq!(v[0]["action"], "block");
    assert_eq!(v[0]["matched"][0]["source"], "tiny");
}

#[test]
fn replay_with_policy_adds_audit_or_block_events() {
    let t = tempfile::tempdir().unwrap();
    netward(t.path())
        .args([
            "indicator",
            "add",
            "--type",
            "domain",
            "--value",
            "google.com",
            "--action",
            "block",
            "--title",
            "No Google",
        ])
        .assert()
        .success();
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/pcaps/zeek-socks-with-ssl.pcap");
    let run = |extra: &[&str]| {
        let out = netward(t.path()).args(["replay", "-q", "--policy"]).args(extra).arg(&pcap).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        lines(&out.stdout)
    };
    // Default level is disabled: replay judges as audit.
    let audit = run(&[]);
    let a: Vec<_> = audit.iter().filter(|e| e["ActionType"] == "ExploitGuardNetworkProtectionAudited").collect();
    assert!(!a.is_empty(), "an audit event for www.google.com");
    assert_eq!(a[0]["RemoteUrl"], "www.google.com");
    assert_eq!(a[0]["AdditionalFields"]["IsAudit"], true);
    assert_eq!(a[0]["AdditionalFields"]["ResponseCategory"], "CustomBlockList");
    assert_eq!(a[0]["AdditionalFields"]["DisplayName"], "No Google");
    let block = run(&["--enforcement-level", "block"]);
    assert!(block.iter().any(
        |e| e["ActionType"] == "ExploitGuardNetworkProtectionBlocked" && e["AdditionalFields"]["IsAudit"] == false
    ));
    // Without --policy: no verdict events at all.
    let out = netward(t.path()).args(["replay", "-q"]).arg(&pcap).output().unwrap();
    assert!(lines(&out.stdout).iter().all(|e| !e["ActionType"].as_str().unwrap().starts_with("ExploitGuard")));
}
