//! The CLI contract every command shares, tested on the real binary:
//! data directory choice, config layering, output formats, exit codes,
//! the operational log and the writers' lock.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn netward(data: &Path) -> Command {
    let mut c = Command::cargo_bin("netward").unwrap();
    c.env_remove("NETWARD_DATA_DIR").arg("--data-dir").arg(data);
    c
}

fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

#[test]
fn piped_output_is_json_lines_and_format_flag_wins() {
    let t = tempfile::tempdir().unwrap();
    let out = netward(t.path()).arg("info").output().unwrap();
    assert!(out.status.success());
    let rows = json_lines(&out.stdout);
    assert!(rows.iter().any(|r| r["item"] == "data_dir" && r["value"] == t.path().to_str().unwrap()));
    netward(t.path())
        .args(["--format", "csv", "info"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("item,value\n"));
    netward(t.path())
        .args(["--format", "table", "info"])
        .assert()
        .success()
        .stdout(predicate::str::contains("item").and(predicate::str::contains("-----")));
}

#[test]
fn env_var_chooses_the_data_dir() {
    let t = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("netward").unwrap().env("NETWARD_DATA_DIR", t.path()).arg("info").output().unwrap();
    let rows = json_lines(&out.stdout);
    assert!(rows.iter().any(|r| r["item"] == "data_dir_source" && r["value"] == "$NETWARD_DATA_DIR"));
}

#[test]
fn exit_codes_follow_the_contract() {
    let t = tempfile::tempdir().unwrap();
    netward(t.path()).arg("no-such-command").assert().code(2);
    netward(t.path()).args(["config", "network-protection", "enforcement-level", "--value", "strict"]).assert().code(2);
    netward(t.path())
        .args(["--config", "/definitely/absent.toml", "info"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("absent.toml"));
    // A data directory that is a file: the work fails (1), with a message.
    let file = t.path().join("plainfile");
    std::fs::write(&file, "x").unwrap();
    netward(&file)
        .args(["config", "network-protection", "enforcement-level", "--value", "audit"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("error:"));
}

#[test]
fn enforcement_level_change_is_stored_wins_over_file_and_writes_5007() {
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("netward.toml");
    std::fs::write(&cfg, "[network_protection]\nenforcement_level = \"audit\"\n").unwrap();
    let data = t.path().join("data");
    let show = |data: &Path| {
        let out = netward(data).arg("--config").arg(&cfg).args(["config", "show"]).output().unwrap();
        json_lines(&out.stdout).into_iter().find(|r| r["setting"] == "network_protection.enforcement_level").unwrap()
    };
    let row = show(&data);
    assert_eq!(row["value"], "audit");
    assert!(row["source"].as_str().unwrap().starts_with("file"));
    netward(&data)
        .arg("--config")
        .arg(&cfg)
        .args(["config", "network-protection", "enforcement-level", "--value", "block"])
        .assert()
        .success()
        .stderr(predicate::str::contains("using data directory"));
    let row = show(&data);
    assert_eq!((row["value"].as_str(), row["source"].as_str()), (Some("block"), Some("set from the CLI")));
    let out = netward(&data).args(["events", "--id", "5007"]).output().unwrap();
    let ev = json_lines(&out.stdout);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["EventId"], 5007);
    assert_eq!(ev[0]["Data"]["OldValue"], "audit");
    assert_eq!(ev[0]["Data"]["NewValue"], "block");
}

#[test]
fn concurrent_writers_lose_nothing() {
    let t = tempfile::tempdir().unwrap();
    let levels = ["audit", "block", "disabled"];
    let children: Vec<_> = (0..12)
        .map(|i| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("netward"))
                .arg("--data-dir")
                .arg(t.path())
                .args(["config", "network-protection", "enforcement-level", "--value", levels[i % 3]])
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let out = netward(t.path()).arg("events").output().unwrap();
    let ev = json_lines(&out.stdout);
    assert_eq!(ev.len(), 12, "every change is logged, each line whole");
    // The changes form one chain: each old value is the previous new value.
    for w in ev.windows(2) {
        assert_eq!(w[1]["Data"]["OldValue"], w[0]["Data"]["NewValue"]);
    }
}
