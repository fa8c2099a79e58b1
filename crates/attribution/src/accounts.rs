//! uid → account name from /etc/passwd, reloaded when the file changes.
use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::time::SystemTime;

/// Parses passwd lines (`name:x:uid:gid:gecos:home:shell`); comments, blank
/// and malformed lines are skipped. The first name of a uid wins, as
/// getpwuid(3) does.
pub fn parse_passwd(text: &str) -> HashMap<u32, String> {
    let mut names = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut fields = line.split(':');
        let (Some(name), Some(_pw), Some(uid)) = (fields.next(), fields.next(), fields.next()) else { continue };
        if name.is_empty() {
            continue;
        }
        if let Ok(uid) = uid.parse::<u32>() {
            names.entry(uid).or_insert_with(|| name.to_string());
        }
    }
    names
}

/// The account names of one passwd file.
pub struct Accounts {
    path: PathBuf,
    loaded_mtime: Option<SystemTime>,
    names: HashMap<u32, String>,
}

impl Accounts {
    pub fn new(path: PathBuf) -> Accounts {
        let mut accounts = Accounts { path, loaded_mtime: None, names: HashMap::new() };
        accounts.reload_if_changed();
        accounts
    }

    /// The name of `uid`; a miss rereads the file only if it changed (an
    /// account added while the agent runs), so unknown uids stay cheap.
    pub fn name(&mut self, uid: u32) -> Option<String> {
        if let Some(name) = self.names.get(&uid) {
            return Some(name.clone());
        }
        self.reload_if_changed();
        self.names.get(&uid).cloned()
    }

    fn reload_if_changed(&mut self) {
        let mtime = fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        if mtime.is_some() && mtime == self.loaded_mtime {
            return;
        }
        if let Ok(text) = fs::read_to_string(&self.path) {
            self.names = parse_passwd(&text);
            self.loaded_mtime = mtime;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_parsed() {
        let text = "root:x:0:0:root:/root:/bin/bash\n# comment\n\nbroken\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\ntoor:x:0:0::/:/bin/sh\nbad:x:notanumber:0::/:/bin/sh\n";
        let names = parse_passwd(text);
        assert_eq!(names.get(&0).map(String::as_str), Some("root"));
        assert_eq!(names.get(&65534).map(String::as_str), Some("nobody"));
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn reloads_when_the_file_changes() {
        let dir = std::env::temp_dir().join(format!("netward-passwd-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("passwd");
        fs::write(&file, "root:x:0:0::/root:/bin/sh\n").unwrap();
        let mut acc = Accounts::new(file.clone());
        assert_eq!(acc.name(0).as_deref(), Some("root"));
        assert_eq!(acc.name(1234), None);
        fs::write(&file, "root:x:0:0::/root:/bin/sh\nalice:x:1234:1234::/home/alice:/bin/sh\n").unwrap();
        // mtime granularity: make sure the change is visible as a new mtime.
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        fs::File::options().write(true).open(&file).unwrap().set_modified(later).unwrap();
        assert_eq!(acc.name(1234).as_deref(), Some("alice"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
