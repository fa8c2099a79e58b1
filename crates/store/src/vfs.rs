//! The file-system layer every byte of the store goes through.
//!
//! [`Vfs`] is the handful of operations the store needs, with the durability
//! points explicit: [`VfsFile::sync`] makes a file's contents durable and
//! [`Vfs::sync_dir`] makes a directory's entries (creations, renames,
//! removals) durable. [`StdFs`] is the real implementation; [`crate::sim::SimFs`]
//! is the test one that can lose everything not yet synced.

use std::any::Any;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// An open file, written only at its end.
pub trait VfsFile: Send {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Makes every byte written so far durable (fdatasync).
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the file to `len` bytes; later writes go to the new end.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

/// Held while a writer owns the store; dropping it releases the lock.
pub type LockGuard = Box<dyn Any + Send + Sync>;

pub trait Vfs: Send + Sync + 'static {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Creates (or empties) a file for writing.
    fn create(&self, path: &Path) -> io::Result<Box<dyn VfsFile>>;
    /// Opens an existing file to write at its end.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn VfsFile>>;
    /// The whole contents of a file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// A file's contents as a stream, for files too big to read whole (the
    /// default reads it whole).
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(io::Cursor::new(self.read(path)?)))
    }
    /// Atomically replaces `to` with `from` (durable after `sync_dir`).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// The names of the files in a directory.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Makes the directory's entries durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Takes an exclusive lock named by `path`; `WouldBlock` if another
    /// writer holds it.
    fn lock(&self, path: &Path) -> io::Result<LockGuard>;
    /// Whether paths name real files (DataFusion can then read segments
    /// itself, with its parallel, pruning Parquet reader).
    fn is_real(&self) -> bool {
        false
    }
    /// When this layer keeps segment files in an object store: the URL
    /// DataFusion knows that store by (`s3://bucket`, `file:///`), which the
    /// querying session must have registered. Segments are then read by
    /// DataFusion's Parquet scan through that store.
    fn object_store_url(&self) -> Option<String> {
        None
    }
    /// A segment's location in [`Vfs::object_store_url`]'s store.
    fn object_location(&self, _path: &Path) -> Option<String> {
        None
    }
}

/// The real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdFs;

struct StdFile(File);

impl VfsFile for StdFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)?;
        // Files made by `create` are not in append mode: move the cursor too.
        self.0.seek(SeekFrom::Start(len)).map(|_| ())
    }
}

impl Vfs for StdFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }
    fn create(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let f = OpenOptions::new().create(true).truncate(true).write(true).open(path)?;
        Ok(Box::new(StdFile(f)))
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let f = OpenOptions::new().append(true).open(path)?;
        Ok(Box::new(StdFile(f)))
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        File::open(path)?.read_to_end(&mut out)?;
        Ok(out)
    }
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(path)?))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                if let Some(name) = entry.file_name().to_str() {
                    out.push(name.to_string());
                }
            }
        }
        Ok(out)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
    fn lock(&self, path: &Path) -> io::Result<LockGuard> {
        let f = OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
        match f.try_lock() {
            Ok(()) => Ok(Box::new(f)),
            Err(std::fs::TryLockError::WouldBlock) => {
                Err(io::Error::new(io::ErrorKind::WouldBlock, "held by another writer"))
            }
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }
    fn is_real(&self) -> bool {
        true
    }
}
