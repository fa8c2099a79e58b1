//! Saved hunting queries: `<data dir>/portal-queries.json` (0600), each
//! user's own list. Bounded: a count per user, a name and a query length,
//! and the file's whole size, so a user saving in a loop cannot fill the
//! disk or make every page read a huge file.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const QUERIES_FILE: &str = "portal-queries.json";
pub const MAX_PER_USER: usize = 100;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_QUERY_BYTES: usize = 16 * 1024;
/// The whole file; a save that would pass it is refused.
const MAX_FILE_BYTES: usize = 4 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedQuery {
    pub name: String,
    pub query: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct QueriesFile {
    /// User name to their queries, in the order they were saved.
    users: BTreeMap<String, Vec<SavedQuery>>,
}

pub struct SavedQueries {
    path: PathBuf,
    file: QueriesFile,
}

impl SavedQueries {
    pub fn open(data_dir: &Path) -> Result<SavedQueries, String> {
        let path = data_dir.join(QUERIES_FILE);
        let file = match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => QueriesFile::default(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
            Ok(m) if m.len() > MAX_FILE_BYTES as u64 * 2 => {
                return Err(format!("{}: larger than the portal ever writes; not read", path.display()))
            }
            Ok(_) => {
                let text =
                    std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                serde_json::from_str(&text).map_err(|e| format!("{}: line {}: {e}", path.display(), e.line()))?
            }
        };
        Ok(SavedQueries { path, file })
    }

    pub fn list(&self, user: &str) -> &[SavedQuery] {
        self.file.users.get(user).map(Vec::as_slice).unwrap_or_default()
    }

    /// Saves (or replaces, by name) one of `user`'s queries.
    pub fn save(&mut self, user: &str, name: &str, query: &str) -> Result<(), String> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(format!("name: 1 to {MAX_NAME_CHARS} characters, no control characters"));
        }
        if query.trim().is_empty() {
            return Err("no query to save".into());
        }
        if query.len() > MAX_QUERY_BYTES {
            return Err(format!("the query has {} bytes; at most {MAX_QUERY_BYTES} are saved", query.len()));
        }
        let list = self.file.users.entry(user.to_string()).or_default();
        let entry = SavedQuery { name: name.to_string(), query: query.to_string() };
        let full = list.len() >= MAX_PER_USER;
        match list.iter_mut().find(|q| q.name == name) {
            Some(q) => *q = entry,
            None if full => return Err(format!("at most {MAX_PER_USER} saved queries a user; delete one first")),
            None => list.push(entry),
        }
        self.write()
    }

    /// Deletes one of `user`'s queries; false when there was none by that name.
    pub fn delete(&mut self, user: &str, name: &str) -> Result<bool, String> {
        let Some(list) = self.file.users.get_mut(user) else { return Ok(false) };
        let before = list.len();
        list.retain(|q| q.name != name);
        if list.len() == before {
            return Ok(false);
        }
        if list.is_empty() {
            self.file.users.remove(user);
        }
        self.write().map(|_| true)
    }

    fn write(&self) -> Result<(), String> {
        let body = serde_json::to_vec_pretty(&self.file).map_err(|e| e.to_string())?;
        if body.len() > MAX_FILE_BYTES {
            return Err(format!("the saved queries would pass {} MiB; delete some first", MAX_FILE_BYTES >> 20));
        }
        crate::users::write_private(&self.path, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_user_lists_survive_reopening_and_are_bounded() {
        let t = tempfile::tempdir().unwrap();
        let mut s = SavedQueries::open(t.path()).unwrap();
        s.save("alice", "top", "DeviceNetworkEvents | take 1").unwrap();
        s.save("alice", "top", "DeviceNetworkEvents | take 2").unwrap();
        s.save("bob", "mine", "DeviceInfo").unwrap();
        let s2 = SavedQueries::open(t.path()).unwrap();
        assert_eq!(s2.list("alice"), [SavedQuery { name: "top".into(), query: "DeviceNetworkEvents | take 2".into() }]);
        assert_eq!(s2.list("bob").len(), 1);
        assert!(s2.list("carol").is_empty());
        let mode = std::fs::metadata(t.path().join(QUERIES_FILE)).unwrap();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777, 0o600);

        assert!(s.save("alice", "", "x").is_err());
        assert!(s.save("alice", "a\nb", "x").is_err());
        assert!(s.save("alice", "big", &"x".repeat(MAX_QUERY_BYTES + 1)).is_err());
        for i in 1..MAX_PER_USER {
            s.save("alice", &format!("q{i}"), "DeviceInfo").unwrap();
        }
        assert!(s.save("alice", "one more", "DeviceInfo").unwrap_err().contains("at most"));
        assert!(s.delete("alice", "q1").unwrap());
        assert!(!s.delete("alice", "q1").unwrap());
        assert!(!s.delete("bob", "top").unwrap(), "one user cannot delete another's query");
        s.save("alice", "one more", "DeviceInfo").unwrap();
    }

    #[test]
    fn a_damaged_file_is_an_error_not_a_crash() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join(QUERIES_FILE), "{\"users\": [").unwrap();
        assert!(SavedQueries::open(t.path()).err().unwrap().contains("line 1"));
    }
}
