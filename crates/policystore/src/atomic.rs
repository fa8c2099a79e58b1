//! Atomic file replacement through a [`Vfs`], and the clean-up of what a
//! crash leaves behind.
//!
//! `write_atomic` writes a temporary file `.<name>.tmp-<pid>-<n>` in the
//! same directory, syncs it, renames it over the target and syncs the
//! directory; only then does it return `Ok`. A crash at any step leaves the
//! target's old or new content (rename is atomic), never a mixture, and a
//! returned `Ok` is durable.

use std::collections::HashSet;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use netward_store::{StdFs, Vfs, VfsFile};

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Temporary files this process is writing right now.
static IN_FLIGHT: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

fn in_flight() -> MutexGuard<'static, Option<HashSet<PathBuf>>> {
    IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner())
}

/// `io::Write` over a [`VfsFile`].
struct VfsWriter(Box<dyn VfsFile>);

impl Write for VfsWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Replace `path` atomically with what `write` produces (see the module
/// docs). On any error the target keeps its old content as far as readers
/// of the directory can tell after a crash, and the temporary file is
/// removed.
pub fn write_atomic_in(
    vfs: &dyn Vfs,
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| io::Error::other("path without a directory"))?;
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| io::Error::other("bad file name"))?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    in_flight().get_or_insert_with(HashSet::new).insert(tmp.clone());
    let result = (|| {
        let file = vfs.create(&tmp)?;
        let mut w = BufWriter::with_capacity(1 << 16, VfsWriter(file));
        write(&mut w)?;
        let VfsWriter(mut file) = w.into_inner().map_err(|e| e.into_error())?;
        file.sync()?;
        drop(file);
        vfs.rename(&tmp, path)?;
        vfs.sync_dir(dir)
    })();
    if result.is_err() {
        // Gone already if the rename happened.
        let _ = vfs.remove(&tmp);
    }
    if let Some(set) = in_flight().as_mut() {
        set.remove(&tmp);
    }
    result
}

/// [`write_atomic_in`] on the real file system: netward's one atomic-write
/// implementation (settings and other small files of the data directory
/// use it too).
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    write_atomic_in(&StdFs, path, write)
}

/// Remove the temporary files in `dir` whose writer is gone: this
/// process's when it is not writing them now, another process's when that
/// process no longer exists (on a simulated file system no other process
/// can exist).
pub fn remove_stale_temps(vfs: &dyn Vfs, dir: &Path) {
    let Ok(names) = vfs.list(dir) else { return };
    let me = std::process::id();
    for name in names {
        let Some((_, tail)) = name.rsplit_once(".tmp-") else { continue };
        if !name.starts_with('.') {
            continue;
        }
        let path = dir.join(&name);
        let pid = tail.split('-').next().and_then(|p| p.parse::<u32>().ok());
        let alive = match pid {
            Some(p) if p == me => in_flight().as_ref().is_some_and(|s| s.contains(&path)),
            Some(p) => vfs.is_real() && Path::new(&format!("/proc/{p}")).exists(),
            None => false,
        };
        if !alive {
            let _ = vfs.remove(&path);
        }
    }
}
