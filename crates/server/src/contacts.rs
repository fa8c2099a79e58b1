//! Each device's last contact (an accepted upload or hello), kept in
//! `<server data dir>/server-devices.json` so a restart still knows when a
//! device was last seen. A device's first contact is written at once; later
//! ones at most every [`SAVE_EVERY`], so a busy device does not cost a file
//! write per batch (a crash loses at most that much of the times, never a
//! device). Only devices with a valid token get here, so the map is bounded
//! by the token file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const CONTACTS_FILE: &str = "server-devices.json";
pub const SAVE_EVERY: Duration = Duration::from_secs(2);

pub struct Contacts {
    path: PathBuf,
    state: Mutex<State>,
}

struct State {
    /// DeviceId -> Unix nanoseconds.
    last: BTreeMap<String, i64>,
    saved: Option<Instant>,
    dirty: bool,
}

impl Contacts {
    /// What the file holds (nothing when absent; a damaged file is said and
    /// started afresh: the times are informational).
    pub fn load(data_dir: &Path) -> Contacts {
        let path = data_dir.join(CONTACTS_FILE);
        let last = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
                eprintln!("netward server: {} is damaged ({e}); last contacts start afresh", path.display());
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        Contacts { path, state: Mutex::new(State { last, saved: None, dirty: false }) }
    }

    pub fn snapshot(&self) -> BTreeMap<String, i64> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).last.clone()
    }

    /// Records a contact; writes the file when the device is new or the
    /// last write is old enough. Blocking (a small atomic file write).
    pub fn touch(&self, device: &str, now_ns: i64) {
        let to_write = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let new = s.last.insert(device.to_string(), now_ns).is_none();
            s.dirty = true;
            if new || s.saved.is_none_or(|t| t.elapsed() >= SAVE_EVERY) {
                s.saved = Some(Instant::now());
                s.dirty = false;
                Some(s.last.clone())
            } else {
                None
            }
        };
        if let Some(map) = to_write {
            self.write(&map);
        }
    }

    /// Writes pending times (called on a timer).
    pub fn flush(&self) {
        let to_write = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if !s.dirty {
                return;
            }
            s.dirty = false;
            s.saved = Some(Instant::now());
            s.last.clone()
        };
        self.write(&to_write);
    }

    fn write(&self, map: &BTreeMap<String, i64>) {
        let json = serde_json::to_vec(map).unwrap_or_default();
        if let Err(e) = netward_policy_store::write_atomic(&self.path, |w| w.write_all(&json)) {
            eprintln!("netward server: cannot write {}: {e}", self.path.display());
        }
    }
}
