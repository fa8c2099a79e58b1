//! `netward warn allow|list|revoke` through the real binary: what is stored
//! and listed, the 5007 entries, and bad input refused with exit code 2.
//! No agent runs (`live_notify.rs` drives a running one).

mod common;

use common::cli::{lines, netward};

#[test]
fn allow_list_revoke_and_their_5007_entries() {
    let t = tempfile::tempdir().unwrap();
    netward(t.path())
        .args(["warn", "allow", "https://Phish.Example/login", "--user", "0", "--for", "2h"])
        .assert()
        .success();
    netward(t.path()).args(["warn", "allow", "198.18.0.9"]).assert().success();
    let rows = lines(&netward(t.path()).args(["warn", "list"]).output().unwrap().stdout);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let phish = rows.iter().find(|r| r["destination"] == "phish.example").expect("the URL's host is allowed");
    assert_eq!(phish["user"], 0);
    let any = rows.iter().find(|r| r["destination"] == "198.18.0.9").unwrap();
    assert_eq!(any["user"], "*", "no --user: every user");
    netward(t.path()).args(["warn", "revoke", "PHISH.example"]).assert().success();
    let rows = lines(&netward(t.path()).args(["warn", "list"]).output().unwrap().stdout);
    assert_eq!(rows.len(), 1);
    let events = lines(&netward(t.path()).args(["events", "--id", "5007"]).output().unwrap().stdout);
    let changes: Vec<&str> = events.iter().map(|e| e["Data"]["NewValue"].as_str().unwrap()).collect();
    assert_eq!(changes.len(), 3, "{events:?}");
    assert!(changes[0].starts_with("allowed until ") && changes[2] == "revoked", "{changes:?}");
    assert_eq!(events[0]["Data"]["AllowedUser"], "root (uid 0)");
}

#[test]
fn bad_input_is_refused_with_exit_2() {
    let t = tempfile::tempdir().unwrap();
    for args in [
        &["warn", "allow", "http://[::1/"][..],
        &["warn", "allow", "a.test", "--for", "8d"],
        &["warn", "allow", "a.test", "--for", "10x"],
        &["warn", "allow", "a.test", "--user", "no-such-account-here"],
        &["warn", "revoke", "never-allowed.test"],
    ] {
        netward(t.path()).args(args).assert().code(2);
    }
    // A damaged table is the work's failure, with its position.
    std::fs::write(t.path().join("warn-allows.json"), "{\"allows\": [\n  x]}").unwrap();
    let out = netward(t.path()).args(["warn", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"), "{}", String::from_utf8_lossy(&out.stderr));
}
