//! The manifest: the one file that says what the store holds.
//!
//! It names the format version, the schema of every stored table, the
//! Parquet segments, and the log generation that is live. It is replaced
//! atomically (write `MANIFEST.tmp`, fsync it, rename over `MANIFEST`, fsync
//! the directory), so a reader or a recovery sees either the old or the new
//! one, never a mix: that rename is the commit point of a roll and of a
//! retention pass.

use crate::vfs::Vfs;
use crate::{Result, StoreError};
use netward_events::Table;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub(crate) const MANIFEST: &str = "MANIFEST";
pub(crate) const MANIFEST_TMP: &str = "MANIFEST.tmp";
pub(crate) const FORMAT: &str = "netward-store";
/// The on-disk format version this build reads and writes. Version 2: the
/// tables have Defender's full column sets and `DeviceEvents` is stored.
/// A table added since (`DeviceProcessEvents`) needs no new version: a
/// manifest without it holds none of its rows, so [`Manifest::load`] adds it
/// empty.
pub const FORMAT_VERSION: u32 = 2;

/// One Parquet segment as the manifest records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SegmentEntry {
    pub id: u64,
    pub table: String,
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
    /// Nanoseconds since the epoch; absent when no row has a Timestamp.
    pub min_ts: Option<i64>,
    pub max_ts: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub format: String,
    pub version: u32,
    /// Per stored table, its columns as `Name:kqltype`, in order.
    pub tables: BTreeMap<String, Vec<String>>,
    /// The live log is `wal-<log_generation>.log`; every earlier generation
    /// has been rolled into segments listed below.
    pub log_generation: u64,
    pub next_segment: u64,
    pub segments: Vec<SegmentEntry>,
}

pub(crate) fn table_signature(t: Table) -> Vec<String> {
    t.columns().iter().map(|c| format!("{}:{}", c.name, c.ty.kql_name())).collect()
}

pub(crate) fn stored_tables() -> impl Iterator<Item = Table> {
    Table::ALL.into_iter().filter(|t| t.is_stored())
}

impl Manifest {
    pub fn new() -> Self {
        Manifest {
            format: FORMAT.to_string(),
            version: FORMAT_VERSION,
            tables: stored_tables().map(|t| (t.name().to_string(), table_signature(t))).collect(),
            log_generation: 1,
            next_segment: 1,
            segments: Vec::new(),
        }
    }

    /// Reads and checks the manifest of `dir`: the format, its version and
    /// each table's columns must be what this build writes.
    pub fn load(vfs: &dyn Vfs, dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST);
        let bytes = vfs.read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                StoreError::NotAStore { path: dir.to_path_buf(), reason: "it has no MANIFEST".into() }
            }
            _ => StoreError::io("read", &path, e),
        })?;
        let mut m: Manifest = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            offset: e.column() as u64,
            reason: format!("manifest is not valid JSON: {e}"),
        })?;
        if m.format != FORMAT {
            return Err(StoreError::NotAStore { path, reason: format!("format is `{}`", m.format) });
        }
        if m.version != FORMAT_VERSION {
            return Err(StoreError::Version { path, found: m.version, supported: FORMAT_VERSION });
        }
        for t in stored_tables() {
            let want = table_signature(t);
            // A table this build stores and the manifest does not name was
            // added after the store was made: it has no segments or frames.
            if !m.tables.contains_key(t.name()) {
                m.tables.insert(t.name().to_string(), want.clone());
            }
            let have = m.tables.get(t.name()).cloned().unwrap_or_default();
            if have != want {
                let diff = want
                    .iter()
                    .zip(have.iter().map(Some).chain(std::iter::repeat(None)))
                    .find(|(w, h)| Some(*w) != *h)
                    .map(|(w, h)| format!("expected `{w}`, store has `{}`", h.map_or("nothing", |s| s.as_str())))
                    .unwrap_or_else(|| format!("store has {} extra columns", have.len().saturating_sub(want.len())));
                return Err(StoreError::Schema { table: t.name(), reason: diff });
            }
        }
        Ok(m)
    }

    /// Replaces the manifest atomically and durably. When this returns `Ok`
    /// the new manifest is what any later open reads.
    pub fn commit(&self, vfs: &dyn Vfs, dir: &Path) -> Result<()> {
        let tmp = dir.join(MANIFEST_TMP);
        let path = dir.join(MANIFEST);
        let mut body = serde_json::to_vec_pretty(self).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            offset: 0,
            reason: e.to_string(),
        })?;
        body.push(b'\n');
        let mut f = vfs.create(&tmp).map_err(|e| StoreError::io("create", &tmp, e))?;
        f.write_all(&body).map_err(|e| StoreError::io("write", &tmp, e))?;
        f.sync().map_err(|e| StoreError::io("fsync", &tmp, e))?;
        drop(f);
        vfs.rename(&tmp, &path).map_err(|e| StoreError::io("rename", &tmp, e))?;
        vfs.sync_dir(dir).map_err(|e| StoreError::io("fsync directory", dir, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimFs;

    #[test]
    fn commit_then_load_round_trips() {
        let fs = SimFs::new(1);
        let dir = Path::new("/s");
        let mut m = Manifest::new();
        m.log_generation = 7;
        m.commit(&fs, dir).unwrap();
        fs.crash(false);
        assert_eq!(Manifest::load(&fs, dir).unwrap(), m);
    }

    #[test]
    fn a_table_added_since_the_store_was_made_is_added_empty() {
        let fs = SimFs::new(3);
        let dir = Path::new("/s");
        let mut m = Manifest::new();
        m.tables.remove("DeviceProcessEvents");
        m.commit(&fs, dir).unwrap();
        let loaded = Manifest::load(&fs, dir).unwrap();
        assert_eq!(loaded.tables.get("DeviceProcessEvents"), Some(&table_signature(Table::DeviceProcessEvents)));
        assert_eq!(loaded, Manifest::new());
    }

    #[test]
    fn version_and_schema_mismatches_are_named() {
        let fs = SimFs::new(2);
        let dir = Path::new("/s");
        let mut m = Manifest::new();
        m.version = 99;
        m.commit(&fs, dir).unwrap();
        let e = Manifest::load(&fs, dir).unwrap_err();
        assert!(matches!(e, StoreError::Version { found: 99, .. }), "{e}");

        let mut m = Manifest::new();
        m.tables.get_mut("DeviceInfo").unwrap()[3] = "ClientVersion:long".into();
        m.commit(&fs, dir).unwrap();
        let e = Manifest::load(&fs, dir).unwrap_err().to_string();
        assert!(e.contains("DeviceInfo") && e.contains("ClientVersion:string"), "{e}");
    }
}
