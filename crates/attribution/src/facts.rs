//! What attribution knows about one process image, however it learned it
//! (a /proc read at exec time, at lookup time, or only the kernel's record).
use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::bpf::KernelExec;
use crate::hash::{ExeHashes, HashCache};
use crate::procfs::{parse_cmdline, process_name, Snapshot};

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
    /// The executable opened at capture time, kept only until it is hashed
    /// (so a short-lived or deleted binary can still be read).
    pub image: Option<Arc<File>>,
}

impl Facts {
    /// Facts from a /proc snapshot; the image is hashed (or found in the
    /// cache) and then closed.
    pub fn from_snapshot(snap: Snapshot, hashes: &Mutex<HashCache>) -> Facts {
        let mut facts = Facts::captured(snap, hashes);
        facts.hash_now(hashes);
        facts
    }

    /// Facts from a /proc snapshot without reading the image: hashes only
    /// if the cache knows the file already, else the image is kept open for
    /// [`Facts::hash_now`] (the exec path must not stall on a read).
    pub fn captured(snap: Snapshot, hashes: &Mutex<HashCache>) -> Facts {
        let known = snap.image.as_ref().and_then(|f| hashes.lock().unwrap_or_else(|p| p.into_inner()).cached(f));
        Facts {
            image: if known.is_some() { None } else { snap.image.map(Arc::new) },
            hashes: known,
            exe: snap.exe,
            comm: snap.stat.comm,
            cmdline: snap.cmdline,
            uid: snap.uid,
            ppid: Some(snap.stat.ppid),
            parent_name: snap.parent_name,
            start_ticks: Some(snap.stat.start_ticks),
        }
    }

    /// Hashes a kept image (one read, or a cache hit) and closes it.
    pub fn hash_now(&mut self, hashes: &Mutex<HashCache>) {
        if let Some(image) = self.image.take() {
            if self.hashes.is_none() {
                self.hashes = HashCache::hashes_shared(hashes, &image);
            }
        }
    }

    /// Facts from the kernel's exec record, when /proc was already gone (or
    /// showed another process). The exec'd path names the image only if the
    /// file there now is the one the kernel mapped (same inode; st_dev is
    /// not compared, overlay and btrfs report another one than the kernel's
    /// s_dev); then it is also what gets hashed.
    pub fn from_kernel(ev_comm: String, uid: u32, k: &KernelExec, ticks_per_s: u64, proc_root: &Path) -> Facts {
        let verified = Path::new(&k.interp)
            .is_absolute()
            .then(|| fs::canonicalize(&k.interp).ok())
            .flatten()
            .and_then(|p| File::open(&p).ok().map(|f| (p, f)))
            .filter(|(_, f)| f.metadata().is_ok_and(|m| m.ino() == k.exe_ino));
        let (exe, image) = match verified {
            Some((p, f)) => (Some(p), Some(Arc::new(f))),
            None => (None, None),
        };
        Facts {
            exe,
            comm: if k.exe_name.is_empty() { ev_comm } else { k.exe_name.clone() },
            cmdline: parse_cmdline(&k.args),
            hashes: None,
            uid: Some(uid),
            ppid: Some(k.ppid),
            parent_name: process_name(proc_root, k.ppid),
            start_ticks: Some(k.start_ns.saturating_mul(ticks_per_s) / 1_000_000_000),
            image,
        }
    }

    /// All that is left when /proc had nothing: the kernel's name and uid.
    pub fn minimal(comm: String, uid: u32) -> Facts {
        Facts { comm, uid: Some(uid), ..Facts::default() }
    }
}

/// /proc's command line, or the exec record's when /proc's is only its
/// start (a read cut short by the process's exit); a longer or different
/// /proc line (argv past ARGS_LEN, or rewritten by the program) is kept.
pub fn whole_cmdline(from_proc: Option<String>, exec_args: &[u8]) -> Option<String> {
    match (from_proc, parse_cmdline(exec_args)) {
        (Some(cut), Some(whole)) if whole.len() > cut.len() && whole.starts_with(&cut) => Some(whole),
        (p, _) => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec_of(interp: &str, ino: u64) -> KernelExec {
        KernelExec {
            ppid: 1,
            start_ns: 3_000_000_000,
            exe_ino: ino,
            exe_dev: 0,
            exe_name: "bash".into(),
            interp: interp.into(),
            args: b"bash\0-c\0true\0".to_vec(),
        }
    }

    #[test]
    fn a_cmdline_cut_by_an_exit_is_completed_from_the_exec_record() {
        let args = b"bash\0-c\0exec 3<>/dev/tcp/127.0.0.1/53841\0";
        let cut = Some("bash -c exec 3<>/dev/tcp/127.0.0".to_string());
        assert_eq!(whole_cmdline(cut, args).as_deref(), Some("bash -c exec 3<>/dev/tcp/127.0.0.1/53841"));
        // Longer in /proc (past what the record holds) or rewritten: /proc's.
        let longer = Some("bash -c exec 3<>/dev/tcp/127.0.0.1/53841 and more".to_string());
        assert_eq!(whole_cmdline(longer.clone(), args), longer);
        let rewritten = Some("worker: idle".to_string());
        assert_eq!(whole_cmdline(rewritten.clone(), args), rewritten);
        assert_eq!(whole_cmdline(None, args), None, "no /proc line: the caller's fallback decides");
        assert_eq!(whole_cmdline(Some("bash".into()), b""), Some("bash".into()));
    }

    #[test]
    fn kernel_record_names_the_image_when_the_inode_matches() {
        let ino = fs::metadata("/bin/bash").unwrap().ino();
        let f = Facts::from_kernel("bash".into(), 0, &exec_of("/bin/bash", ino), 100, Path::new("/proc"));
        assert_eq!(f.exe, Some(fs::canonicalize("/bin/bash").unwrap()));
        assert!(f.image.is_some(), "kept for hashing");
        assert_eq!(f.cmdline.as_deref(), Some("bash -c true"));
        assert_eq!((f.ppid, f.start_ticks, f.uid), (Some(1), Some(300), Some(0)));
    }

    #[test]
    fn kernel_record_without_a_matching_file_keeps_only_the_name() {
        let ino = fs::metadata("/bin/bash").unwrap().ino();
        for k in [exec_of("/bin/bash", ino + 1), exec_of("bash", ino), exec_of("/nonexistent/x", ino)] {
            let f = Facts::from_kernel("bas".into(), 0, &k, 100, Path::new("/proc"));
            assert_eq!((f.exe, f.image.is_none(), f.comm.as_str()), (None, true, "bash"), "{}", k.interp);
        }
    }
}
