//! What attribution knows about one process image, however it learned it
//! (a /proc read at exec time, at lookup time, or only the kernel's record).
use std::path::PathBuf;

use crate::hash::{ExeHashes, HashCache};
use crate::procfs::Snapshot;

#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub exe: Option<PathBuf>,
    /// The kernel's task name (15 bytes at most): the file name when the
    /// executable could not be read.
    pub comm: String,
    pub cmdline: Option<String>,
    pub hashes: Option<ExeHashes>,
    pub uid: Option<u32>,
    pub ppid: Option<u32>,
    pub parent_name: Option<String>,
    pub start_ticks: Option<u64>,
}

impl Facts {
    /// Facts from a /proc snapshot; the image is hashed (or found in the
    /// cache) and then closed.
    pub fn from_snapshot(snap: Snapshot, hashes: &mut HashCache) -> Facts {
        Facts {
            hashes: snap.image.as_ref().and_then(|f| hashes.hashes(f)),
            exe: snap.exe,
            comm: snap.stat.comm,
            cmdline: snap.cmdline,
            uid: snap.uid,
            ppid: Some(snap.stat.ppid),
            parent_name: snap.parent_name,
            start_ticks: Some(snap.stat.start_ticks),
        }
    }

    /// All that is left when /proc had nothing: the kernel's name and uid.
    pub fn minimal(comm: String, uid: u32) -> Facts {
        Facts { comm, uid: Some(uid), ..Facts::default() }
    }
}
