//! `SimFs`: an in-memory [`Vfs`] that behaves like a disk under power cuts.
//!
//! Per file it keeps the bytes as the page cache sees them and the bytes
//! that are durable; per directory the entries as processes see them and
//! the entries that are durable. [`SimFs::crash`] throws away everything not
//! synced (optionally keeping a random prefix of the unsynced writes, a torn
//! write), as a power cut would. Faults are injected by counting the
//! mutating operations (create, write, sync, truncate, rename, remove,
//! sync_dir): [`SimFs::power_cut_at`] makes operation N and every later one
//! fail (the machine is off until `crash`), [`SimFs::fail_op`] makes only
//! operation N fail with an I/O error (a failing write may leave a prefix).
//! Clones share one file system.

use crate::vfs::{LockGuard, Vfs, VfsFile};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Default)]
struct Inode {
    /// What reads see.
    data: Vec<u8>,
    /// What survives a power cut.
    durable: Vec<u8>,
    /// `data[..dirty_from]` equals `durable[..dirty_from]`.
    dirty_from: usize,
}

impl Inode {
    fn sync(&mut self) {
        let from = self.dirty_from.min(self.durable.len()).min(self.data.len());
        self.durable.truncate(from);
        self.durable.extend_from_slice(&self.data[from..]);
        self.dirty_from = self.data.len();
    }

    /// The contents after a power cut: the durable bytes, with the first
    /// `keep` unsynced bytes (those from `dirty_from` on) landed as well.
    fn after_crash(&mut self, keep: usize) {
        let k = (self.dirty_from + keep).min(self.data.len());
        let mut out = self.data[..k].to_vec();
        if k < self.durable.len() {
            out.extend_from_slice(&self.durable[k..]);
        }
        self.durable = out.clone();
        self.data = out;
        self.dirty_from = self.data.len();
    }
}

/// A directory change not yet made durable by `sync_dir`.
#[derive(Debug, Clone)]
enum DirOp {
    Link(PathBuf, u64),
    Unlink(PathBuf),
    Rename(PathBuf, PathBuf, u64),
}

impl DirOp {
    fn dir(&self) -> Option<&Path> {
        match self {
            DirOp::Link(p, _) | DirOp::Unlink(p) | DirOp::Rename(_, p, _) => p.parent(),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    inodes: HashMap<u64, Inode>,
    entries: BTreeMap<PathBuf, u64>,
    durable_entries: BTreeMap<PathBuf, u64>,
    /// Changes since the last `sync_dir` of their directory, in order.
    pending: Vec<DirOp>,
    next_inode: u64,
    locks: HashSet<PathBuf>,
    lock_epoch: u64,
    /// Mutating operations done so far.
    ops: u64,
    power_cut_at: Option<u64>,
    fail_ops: HashSet<u64>,
    powered_off: bool,
    rng: u64,
}

impl State {
    fn rand(&mut self) -> u64 {
        // SplitMix64: deterministic per seed, enough for picking tear points.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Counts a mutating operation: `Err` if the power is off or this
    /// operation is set to fail; `Ok(true)` when it must fail softly.
    fn step(&mut self, what: &str) -> io::Result<bool> {
        if self.powered_off {
            return Err(io::Error::other(format!("simulated power cut ({what})")));
        }
        let n = self.ops;
        self.ops += 1;
        if self.power_cut_at.is_some_and(|at| n >= at) {
            self.powered_off = true;
            return Err(io::Error::other(format!("simulated power cut at op {n} ({what})")));
        }
        Ok(self.fail_ops.contains(&n))
    }

    fn inode_of(&self, path: &Path) -> io::Result<u64> {
        self.entries
            .get(path)
            .copied()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{}: no such file", path.display())))
    }

    fn collect_garbage(&mut self, open: &HashSet<u64>) {
        let live: HashSet<u64> =
            self.entries.values().chain(self.durable_entries.values()).chain(open).copied().collect();
        self.inodes.retain(|k, _| live.contains(k));
    }
}

/// The simulated file system. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct SimFs {
    state: Arc<Mutex<State>>,
}

fn injected(what: &str) -> io::Error {
    io::Error::other(format!("injected I/O error ({what})"))
}

impl SimFs {
    pub fn new(seed: u64) -> Self {
        let fs = SimFs::default();
        fs.lock_state().rng = seed;
        fs
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent-enough state for a
        // test that is already failing.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The number of mutating operations done so far.
    pub fn ops(&self) -> u64 {
        self.lock_state().ops
    }

    /// From operation `n` (0-based, counted since creation) on, the power is off.
    pub fn power_cut_at(&self, n: u64) {
        self.lock_state().power_cut_at = Some(n);
    }

    /// Operation `n` fails with an I/O error (the others succeed).
    pub fn fail_op(&self, n: u64) {
        self.lock_state().fail_ops.insert(n);
    }

    /// A power cut: every byte and directory entry not synced is lost, except
    /// that with `torn`, each file keeps a random prefix of its unsynced
    /// writes and each unsynced directory change (create, rename, remove)
    /// independently survives or not, as POSIX allows without an fsync of
    /// the directory. The power is back on afterwards and injected faults
    /// cleared.
    pub fn crash(&self, torn: bool) {
        let mut s = self.lock_state();
        for op in std::mem::take(&mut s.pending) {
            if !torn || s.rand().is_multiple_of(2) {
                continue;
            }
            let d = &mut s.durable_entries;
            match op {
                DirOp::Link(p, id) => {
                    d.insert(p, id);
                }
                DirOp::Unlink(p) => {
                    d.remove(&p);
                }
                DirOp::Rename(from, to, id) => {
                    // Atomic on its own: the target is the old or the new file.
                    if d.get(&from) == Some(&id) {
                        d.remove(&from);
                        d.insert(to, id);
                    }
                }
            }
        }
        s.entries = s.durable_entries.clone();
        s.collect_garbage(&HashSet::new());
        let ids: Vec<u64> = s.inodes.keys().copied().collect();
        for id in ids {
            let unsynced = s.inodes.get(&id).map_or(0, |i| i.data.len().saturating_sub(i.dirty_from));
            let keep = if torn && unsynced > 0 { (s.rand() % (unsynced as u64 + 1)) as usize } else { 0 };
            if let Some(i) = s.inodes.get_mut(&id) {
                i.after_crash(keep);
            }
        }
        s.locks.clear();
        s.lock_epoch += 1;
        s.power_cut_at = None;
        s.fail_ops.clear();
        s.powered_off = false;
    }

    /// The current (page cache) contents of a file, for tests.
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.lock_state();
        s.entries.get(path).and_then(|id| s.inodes.get(id)).map(|i| i.data.clone())
    }

    /// Overwrites the byte at `offset` of a file, durably (bit rot), for tests.
    pub fn corrupt(&self, path: &Path, offset: usize) {
        let mut s = self.lock_state();
        if let Some(id) = s.entries.get(path).copied() {
            if let Some(i) = s.inodes.get_mut(&id) {
                if let Some(b) = i.data.get_mut(offset) {
                    *b ^= 0x5a;
                }
                i.dirty_from = i.dirty_from.min(offset);
                i.sync();
            }
        }
    }
}

struct SimFile {
    fs: SimFs,
    inode: u64,
}

impl VfsFile for SimFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut s = self.fs.lock_state();
        let fail = s.step("write")?;
        let n = if fail { (s.rand() % (buf.len() as u64 + 1)) as usize } else { buf.len() };
        let inode = s.inodes.entry(self.inode).or_default();
        inode.dirty_from = inode.dirty_from.min(inode.data.len());
        inode.data.extend_from_slice(&buf[..n]);
        if fail {
            return Err(injected("write"));
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut s = self.fs.lock_state();
        if s.step("sync")? {
            return Err(injected("sync"));
        }
        s.inodes.entry(self.inode).or_default().sync();
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let mut s = self.fs.lock_state();
        if s.step("truncate")? {
            return Err(injected("truncate"));
        }
        let inode = s.inodes.entry(self.inode).or_default();
        let len = usize::try_from(len).unwrap_or(usize::MAX).min(inode.data.len());
        inode.data.truncate(len);
        inode.dirty_from = inode.dirty_from.min(len);
        Ok(())
    }
}

struct SimLock {
    fs: SimFs,
    path: PathBuf,
    epoch: u64,
}

impl Drop for SimLock {
    fn drop(&mut self) {
        let mut s = self.fs.lock_state();
        if s.lock_epoch == self.epoch {
            s.locks.remove(&self.path);
        }
    }
}

impl Vfs for SimFs {
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        // Directories are implicit: a path's parent is its directory.
        Ok(())
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let mut s = self.lock_state();
        if s.step("create")? {
            return Err(injected("create"));
        }
        let id = match s.entries.get(path) {
            Some(&id) => {
                let inode = s.inodes.entry(id).or_default();
                inode.data.clear();
                inode.dirty_from = 0;
                id
            }
            None => {
                s.next_inode += 1;
                let id = s.next_inode;
                s.inodes.insert(id, Inode::default());
                s.entries.insert(path.to_path_buf(), id);
                s.pending.push(DirOp::Link(path.to_path_buf(), id));
                id
            }
        };
        Ok(Box::new(SimFile { fs: self.clone(), inode: id }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let s = self.lock_state();
        if s.powered_off {
            return Err(io::Error::other("simulated power cut (open)"));
        }
        let id = s.inode_of(path)?;
        Ok(Box::new(SimFile { fs: self.clone(), inode: id }))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let s = self.lock_state();
        if s.powered_off {
            return Err(io::Error::other("simulated power cut (read)"));
        }
        let id = s.inode_of(path)?;
        Ok(s.inodes.get(&id).map(|i| i.data.clone()).unwrap_or_default())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.lock_state();
        if s.step("rename")? {
            return Err(injected("rename"));
        }
        let id = s.inode_of(from)?;
        s.entries.remove(from);
        s.entries.insert(to.to_path_buf(), id);
        s.pending.push(DirOp::Rename(from.to_path_buf(), to.to_path_buf(), id));
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut s = self.lock_state();
        if s.step("remove")? {
            return Err(injected("remove"));
        }
        s.inode_of(path)?;
        s.entries.remove(path);
        s.pending.push(DirOp::Unlink(path.to_path_buf()));
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let s = self.lock_state();
        if s.powered_off {
            return Err(io::Error::other("simulated power cut (list)"));
        }
        Ok(s.entries
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .collect())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock_state();
        if s.step("sync_dir")? {
            return Err(injected("sync_dir"));
        }
        let in_dir = |p: &PathBuf| p.parent() == Some(dir);
        let current: Vec<(PathBuf, u64)> =
            s.entries.iter().filter(|(p, _)| in_dir(p)).map(|(p, id)| (p.clone(), *id)).collect();
        s.durable_entries.retain(|p, _| !in_dir(p));
        s.durable_entries.extend(current);
        s.pending.retain(|op| op.dir() != Some(dir));
        Ok(())
    }

    fn lock(&self, path: &Path) -> io::Result<LockGuard> {
        let mut s = self.lock_state();
        if !s.locks.insert(path.to_path_buf()) {
            return Err(io::Error::new(io::ErrorKind::WouldBlock, "held by another writer"));
        }
        Ok(Box::new(SimLock { fs: self.clone(), path: path.to_path_buf(), epoch: s.lock_epoch }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn unsynced_bytes_and_entries_are_lost_in_a_crash() {
        let fs = SimFs::new(1);
        let mut f = fs.create(&p("/d/a")).unwrap();
        f.write_all(b"hello").unwrap();
        f.sync().unwrap();
        f.write_all(b" world").unwrap();
        // The entry is not durable yet: the file vanishes.
        fs.crash(false);
        assert!(fs.read(&p("/d/a")).is_err());

        let mut f = fs.create(&p("/d/a")).unwrap();
        f.write_all(b"hello").unwrap();
        f.sync().unwrap();
        fs.sync_dir(&p("/d")).unwrap();
        f.write_all(b" world").unwrap();
        fs.crash(false);
        assert_eq!(fs.read(&p("/d/a")).unwrap(), b"hello");
    }

    #[test]
    fn renames_need_a_directory_sync() {
        let fs = SimFs::new(2);
        for (name, body) in [("/d/m", b"old" as &[u8]), ("/d/m.tmp", b"new")] {
            let mut f = fs.create(&p(name)).unwrap();
            f.write_all(body).unwrap();
            f.sync().unwrap();
        }
        fs.sync_dir(&p("/d")).unwrap();
        fs.rename(&p("/d/m.tmp"), &p("/d/m")).unwrap();
        assert_eq!(fs.read(&p("/d/m")).unwrap(), b"new");
        fs.crash(false);
        assert_eq!(fs.read(&p("/d/m")).unwrap(), b"old");
        fs.rename(&p("/d/m.tmp"), &p("/d/m")).unwrap();
        fs.sync_dir(&p("/d")).unwrap();
        fs.crash(false);
        assert_eq!(fs.read(&p("/d/m")).unwrap(), b"new");
        assert_eq!(fs.list(&p("/d")).unwrap(), vec!["m".to_string()]);
    }

    #[test]
    fn torn_crashes_keep_some_unsynced_directory_changes() {
        let mut outcomes = HashSet::new();
        for seed in 0..40 {
            let fs = SimFs::new(seed);
            for name in ["/d/a", "/d/b"] {
                let mut f = fs.create(&p(name)).unwrap();
                f.write_all(name.as_bytes()).unwrap();
                f.sync().unwrap();
            }
            fs.sync_dir(&p("/d")).unwrap();
            fs.rename(&p("/d/a"), &p("/d/c")).unwrap();
            fs.remove(&p("/d/b")).unwrap();
            fs.crash(true);
            let names = fs.list(&p("/d")).unwrap();
            if names.contains(&"c".to_string()) {
                assert_eq!(fs.read(&p("/d/c")).unwrap(), b"/d/a");
                assert!(!names.contains(&"a".to_string()));
            }
            outcomes.insert(names);
        }
        assert_eq!(outcomes.len(), 4, "each change survives independently: {outcomes:?}");
    }

    #[test]
    fn torn_crashes_keep_a_prefix_of_unsynced_writes() {
        let mut seen = HashSet::new();
        for seed in 0..40 {
            let fs = SimFs::new(seed);
            let mut f = fs.create(&p("/d/a")).unwrap();
            f.write_all(b"abc").unwrap();
            f.sync().unwrap();
            fs.sync_dir(&p("/d")).unwrap();
            f.write_all(b"defgh").unwrap();
            fs.crash(true);
            let got = fs.read(&p("/d/a")).unwrap();
            assert!(b"abcdefgh".starts_with(&got) && got.len() >= 3, "{got:?}");
            seen.insert(got.len());
        }
        assert!(seen.len() > 2, "tears should vary: {seen:?}");
    }

    #[test]
    fn truncation_is_undone_by_a_crash_before_sync() {
        let fs = SimFs::new(3);
        let mut f = fs.create(&p("/d/a")).unwrap();
        f.write_all(b"abcdef").unwrap();
        f.sync().unwrap();
        fs.sync_dir(&p("/d")).unwrap();
        f.truncate(2).unwrap();
        f.write_all(b"XY").unwrap();
        assert_eq!(fs.read(&p("/d/a")).unwrap(), b"abXY");
        fs.crash(false);
        assert_eq!(fs.read(&p("/d/a")).unwrap(), b"abcdef");
    }

    #[test]
    fn faults_fire_at_the_chosen_operation() {
        let fs = SimFs::new(4);
        let mut f = fs.create(&p("/d/a")).unwrap(); // op 0
        fs.fail_op(2);
        f.write_all(b"ok").unwrap(); // op 1
        assert!(f.sync().is_err()); // op 2
        f.sync().unwrap(); // op 3
        fs.power_cut_at(5);
        f.write_all(b"x").unwrap(); // op 4
        assert!(f.write_all(b"y").is_err()); // op 5: power is off
        assert!(fs.read(&p("/d/a")).is_err());
        fs.crash(false);
        assert!(fs.read(&p("/d/a")).is_err(), "the entry was never synced");
    }

    #[test]
    fn one_writer_lock_at_a_time_and_crash_releases_it() {
        let fs = SimFs::new(5);
        let g = fs.lock(&p("/d/LOCK")).unwrap();
        assert_eq!(fs.lock(&p("/d/LOCK")).err().map(|e| e.kind()), Some(io::ErrorKind::WouldBlock));
        drop(g);
        let g = fs.lock(&p("/d/LOCK")).unwrap();
        fs.crash(false);
        let _g2 = fs.lock(&p("/d/LOCK")).unwrap();
        drop(g); // a stale guard from before the crash does not release the new lock
        assert!(fs.lock(&p("/d/LOCK")).is_err());
    }
}
