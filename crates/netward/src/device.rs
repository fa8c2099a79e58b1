//! The device's identity (`DeviceId`, `DeviceName`) and its `ReportId`
//! sequence: unique and increasing per device, persisted so it survives
//! restarts and crashes.

use crate::datadir::{atomic_write, DataDir};
use crate::error::{CliError, CliResult, Context};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    pub id: String,
    pub name: String,
}

/// A stable 40-hex-digit id (the shape of Defender's DeviceId) derived from
/// the machine id, so it is the same on every run and differs per machine.
/// Hashing (with a netward-specific prefix) keeps the machine id itself
/// private, as machine-id(5) asks.
pub fn device_id_from_machine_id(machine_id: &str) -> String {
    let digest = Sha256::digest(format!("netward-device-id:{}", machine_id.trim()).as_bytes());
    digest.iter().take(20).map(|b| format!("{b:02x}")).collect()
}

impl DeviceIdentity {
    /// From the given overrides, else `/etc/machine-id` and the host name.
    pub fn detect(id: Option<&str>, name: Option<&str>) -> CliResult<Self> {
        let id = match id.filter(|s| !s.is_empty()) {
            Some(i) => i.to_string(),
            None => {
                let m = std::fs::read_to_string("/etc/machine-id")
                    .or_else(|_| std::fs::read_to_string("/var/lib/dbus/machine-id"))
                    .map_err(|e| {
                        CliError::failure(format!("cannot read /etc/machine-id: {e}")).with_hint("pass --device-id ID")
                    })?;
                device_id_from_machine_id(&m)
            }
        };
        let name = match name.filter(|s| !s.is_empty()) {
            Some(n) => n.to_string(),
            None => std::fs::read_to_string("/proc/sys/kernel/hostname")
                .or_else(|_| std::fs::read_to_string("/etc/hostname"))
                .map(|s| s.trim().to_lowercase())
                .unwrap_or_default(),
        };
        Ok(DeviceIdentity { id, name })
    }
}

const REPORT_ID_FILE: &str = "report-id";
/// Ids are reserved on disk in blocks, so a run writes the file once per
/// block, not once per event. A crash skips the rest of a block: ids stay
/// unique and increasing, with a gap.
const BLOCK: i64 = 10_000;

/// Hands out `ReportId`s. Hold the data directory lock while one is alive so
/// two processes never reserve the same block.
pub struct ReportIds<'a> {
    dir: &'a DataDir,
    next: i64,
    reserved_until: i64,
}

impl<'a> ReportIds<'a> {
    pub fn open(dir: &'a DataDir) -> CliResult<Self> {
        let path = dir.file(REPORT_ID_FILE);
        let start = match std::fs::read_to_string(&path) {
            Ok(s) => s
                .trim()
                .parse::<i64>()
                .map_err(|_| CliError::failure(format!("{} is damaged: `{}`", path.display(), s.trim())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 1,
            Err(e) => return Err(CliError::failure(format!("cannot read {}: {e}", path.display()))),
        };
        Ok(ReportIds { dir, next: start, reserved_until: start })
    }

    pub fn next_id(&mut self) -> CliResult<i64> {
        if self.next >= self.reserved_until {
            // Another process (the agent beside a `replay --store`) may have
            // reserved blocks since ours: continue after the newest one.
            if let Ok(on_disk) = std::fs::read_to_string(self.dir.file(REPORT_ID_FILE)) {
                if let Ok(v) = on_disk.trim().parse::<i64>() {
                    self.next = self.next.max(v);
                }
            }
            let until = self.next + BLOCK;
            self.dir.ensure()?;
            let path = self.dir.file(REPORT_ID_FILE);
            atomic_write(&path, until.to_string().as_bytes()).context(|| format!("cannot write {}", path.display()))?;
            self.reserved_until = until;
        }
        let id = self.next;
        self.next += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datadir::DataDirSource;

    #[test]
    fn device_id_is_stable_hex_and_differs_per_machine() {
        let a = device_id_from_machine_id("0123456789abcdef0123456789abcdef\n");
        assert_eq!(a, device_id_from_machine_id("0123456789abcdef0123456789abcdef"));
        assert_eq!(a.len(), 40);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, device_id_from_machine_id("fedcba9876543210fedcba9876543210"));
    }

    #[test]
    fn report_ids_increase_across_restarts() {
        let t = tempfile::tempdir().unwrap();
        let d = DataDir { path: t.path().to_path_buf(), source: DataDirSource::Flag };
        {
            let mut ids = ReportIds::open(&d).unwrap();
            let first: Vec<i64> = (0..3).map(|_| ids.next_id().unwrap()).collect();
            assert_eq!(first, vec![1, 2, 3]);
        } // a restart (or a crash) after using part of a block
        let mut ids = ReportIds::open(&d).unwrap();
        let after = ids.next_id().unwrap();
        assert!(after > 3, "{after}");
        std::fs::write(d.file(REPORT_ID_FILE), "garbage").unwrap();
        assert!(ReportIds::open(&d).is_err());
    }
}
