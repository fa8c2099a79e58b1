//! The CLI tests' runner: the real binary on a data directory, JSON output,
//! the environment's data directory ignored; and its JSON lines parsed.

use assert_cmd::Command;
use std::path::Path;

pub fn netward(data: &Path) -> Command {
    let mut c = Command::cargo_bin("netward").unwrap();
    c.env_remove("NETWARD_DATA_DIR").arg("--data-dir").arg(data).args(["--format", "json"]);
    c
}

/// Each line of `out` as JSON (panics on a line that is not).
pub fn lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}
