//! The `DeviceInfo` row the agent writes at start and whenever what it
//! says changes (the enforcement level on a reload): the device's name, OS
//! (from `/etc/os-release` and the kernel's release), netward's version.

use netward_events::{Record, Table, Timestamp, Value};
use serde_json::json;

/// What `/etc/os-release` says (os-release(5)): distribution name and version.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct OsRelease {
    pub name: String,
    pub version_id: String,
}

/// Parses os-release text: `KEY=value` lines, values optionally quoted.
pub fn parse_os_release(text: &str) -> OsRelease {
    let mut os = OsRelease::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else { continue };
        let v = v.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
        match k.trim() {
            "NAME" => os.name = v,
            "VERSION_ID" => os.version_id = v,
            _ => {}
        }
    }
    os
}

fn os_release() -> OsRelease {
    ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|t| parse_os_release(&t))
        .unwrap_or_default()
}

fn kernel_release() -> String {
    // uname(2)'s release, as the kernel shows it in /proc.
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// Defender's spelling of the architecture.
fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" | "aarch64" | "powerpc64" | "riscv64" | "s390x" => "64-bit",
        _ => "32-bit",
    }
}

/// The row for now. `ReportId` is the writer's to assign.
pub fn row(ts: Timestamp, device_id: &str, device_name: &str, level: &str, attribution: &str) -> Record {
    let os = os_release();
    let kernel = kernel_release();
    let mut r = Record::new(Table::DeviceInfo);
    let s = |v: &str| Value::String(v.to_string());
    let cells = [
        ("Timestamp", Value::DateTime(ts)),
        ("DeviceId", s(device_id)),
        ("DeviceName", s(device_name)),
        ("ClientVersion", s(env!("CARGO_PKG_VERSION"))),
        ("OSArchitecture", s(architecture())),
        ("OSPlatform", s("Linux")),
        ("OSVersion", s(&os.version_id)),
        ("OSDistribution", s(&os.name)),
        ("OnboardingStatus", s("Onboarded")),
        (
            "AdditionalFields",
            Value::Dynamic(json!({
                "kernel": kernel,
                "netward_version": env!("CARGO_PKG_VERSION"),
                "enforcement_level": level,
                "attribution": attribution,
            })),
        ),
    ];
    for (col, v) in cells {
        // The columns are the table's own: a failure is a bug of this list.
        r.set(col, v).unwrap_or_else(|e| panic!("DeviceInfo.{col}: {e}"));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_fields_quoted_or_not() {
        let os = parse_os_release("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n# c\nbad line\n");
        assert_eq!(os, OsRelease { name: "Debian GNU/Linux".into(), version_id: "12".into() });
        assert_eq!(
            parse_os_release("NAME=Alpine\nVERSION_ID=3.19.1"),
            OsRelease { name: "Alpine".into(), version_id: "3.19.1".into() }
        );
    }

    #[test]
    fn the_row_fits_the_table() {
        let r = row(Timestamp(1), "d", "host", "block", "bpf");
        assert_eq!(r.get("OSPlatform"), Some(&Value::String("Linux".into())));
        assert_eq!(r.get("DeviceName"), Some(&Value::String("host".into())));
        let af = r.get("AdditionalFields").unwrap();
        assert!(matches!(af, Value::Dynamic(v) if v["enforcement_level"] == "block" && v["kernel"] != ""), "{af:?}");
    }
}
