//! The data directory: where indicators, settings, the operational event log
//! and the event store live, how it is chosen, and the lock that makes
//! concurrent writers safe.
//!
//! Choice, first that applies: `--data-dir DIR`, `$NETWARD_DATA_DIR`,
//! `/var/lib/netward` when it exists and is readable (root creates it at
//! install), else the XDG data directory (`$XDG_DATA_HOME/netward`, or
//! `~/.local/share/netward`).

use crate::error::{CliError, CliResult, Context};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

pub const SYSTEM_DATA_DIR: &str = "/var/lib/netward";

/// Why this directory was chosen; `netward info` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataDirSource {
    Flag,
    Env,
    System,
    Xdg,
}

impl DataDirSource {
    pub fn describe(self) -> &'static str {
        match self {
            DataDirSource::Flag => "--data-dir",
            DataDirSource::Env => "$NETWARD_DATA_DIR",
            DataDirSource::System => "/var/lib/netward exists",
            DataDirSource::Xdg => "XDG data directory",
        }
    }
}

#[derive(Debug, Clone)]
pub struct DataDir {
    pub path: PathBuf,
    pub source: DataDirSource,
}

impl DataDir {
    /// Resolves the directory from the flag and the environment (`env` is
    /// passed in so tests need not change the process environment).
    pub fn resolve(flag: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> CliResult<DataDir> {
        Self::resolve_in(flag, env, Path::new(SYSTEM_DATA_DIR))
    }

    fn resolve_in(flag: Option<&Path>, env: &dyn Fn(&str) -> Option<String>, system: &Path) -> CliResult<DataDir> {
        if let Some(p) = flag {
            return Ok(DataDir { path: p.to_path_buf(), source: DataDirSource::Flag });
        }
        if let Some(p) = env("NETWARD_DATA_DIR").filter(|s| !s.is_empty()) {
            return Ok(DataDir { path: PathBuf::from(p), source: DataDirSource::Env });
        }
        if fs::read_dir(system).is_ok() {
            return Ok(DataDir { path: system.to_path_buf(), source: DataDirSource::System });
        }
        let xdg = env("XDG_DATA_HOME")
            .filter(|s| Path::new(s).is_absolute())
            .map(PathBuf::from)
            .or_else(|| env("HOME").filter(|s| !s.is_empty()).map(|h| Path::new(&h).join(".local/share")))
            .ok_or_else(|| {
                CliError::bad_input("cannot choose a data directory: neither $XDG_DATA_HOME nor $HOME is set")
                    .with_hint("pass --data-dir DIR or set NETWARD_DATA_DIR")
            })?;
        Ok(DataDir { path: xdg.join("netward"), source: DataDirSource::Xdg })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Creates the directory (owner-only) if it does not exist yet.
    pub fn ensure(&self) -> CliResult<()> {
        if !self.path.exists() {
            fs::create_dir_all(&self.path)
                .context(|| format!("cannot create data directory {}", self.path.display()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = fs::set_permissions(&self.path, fs::Permissions::from_mode(0o700));
            }
        }
        Ok(())
    }

    /// Whether the directory holds nothing netward wrote yet.
    pub fn is_empty(&self) -> bool {
        fs::read_dir(&self.path).map(|mut d| d.next().is_none()).unwrap_or(true)
    }

    /// Takes the writers' lock, waiting for another writer to finish. Held
    /// until the returned guard is dropped; the OS releases it if we die.
    pub fn lock(&self) -> CliResult<DataDirLock> {
        self.ensure()?;
        let path = self.file(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .context(|| format!("cannot open lock file {}", path.display()))?;
        file.lock().context(|| format!("cannot lock {}", path.display()))?;
        Ok(DataDirLock { _file: file })
    }
}

/// The writers' lock on a data directory.
pub struct DataDirLock {
    _file: File,
}

/// Replaces `path` with `bytes` so that a crash at any moment leaves either
/// the old or the new content (temporary file, fsync, rename, fsync of the
/// directory). One implementation serves all of netward: the policy store's.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    netward_policy_store::write_atomic(path, |w| w.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn flag_beats_env() {
        let d = DataDir::resolve(Some(Path::new("/x")), &env_of(&[("NETWARD_DATA_DIR", "/y")])).unwrap();
        assert_eq!((d.path, d.source), (PathBuf::from("/x"), DataDirSource::Flag));
        let d = DataDir::resolve(None, &env_of(&[("NETWARD_DATA_DIR", "/y")])).unwrap();
        assert_eq!((d.path, d.source), (PathBuf::from("/y"), DataDirSource::Env));
    }

    #[test]
    fn system_dir_when_readable_else_xdg() {
        let sys = tempfile::tempdir().unwrap();
        let env = env_of(&[("XDG_DATA_HOME", "/xdg"), ("HOME", "/home/u")]);
        let d = DataDir::resolve_in(None, &env, sys.path()).unwrap();
        assert_eq!((d.path.as_path(), d.source), (sys.path(), DataDirSource::System));
        let missing = sys.path().join("absent");
        let d = DataDir::resolve_in(None, &env, &missing).unwrap();
        assert_eq!((d.path, d.source), (PathBuf::from("/xdg/netward"), DataDirSource::Xdg));
        let d = DataDir::resolve_in(None, &env_of(&[("HOME", "/home/u")]), &missing).unwrap();
        assert_eq!(d.path, PathBuf::from("/home/u/.local/share/netward"));
        assert!(DataDir::resolve_in(None, &env_of(&[]), &missing).is_err());
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f.json");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1);
    }
}
