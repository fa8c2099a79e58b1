//! SHA-256, SHA-1 and MD5 of executables: one read of the file feeds all
//! three, and the result is cached by what identifies a file's content
//! without reading it (device, inode, size, mtime), with a bound on entries.
use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::Mutex;

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The hashes of one executable, lower-case hex as Defender's columns carry them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExeHashes {
    pub sha256: String,
    pub sha1: String,
    pub md5: String,
}

/// What names a file's content cheaply: a rewrite in place changes the mtime
/// (and usually the size), a replacement changes the inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileKey {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
}

impl FileKey {
    pub fn of(file: &File) -> io::Result<FileKey> {
        let m = file.metadata()?;
        Ok(FileKey {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Hashes `reader` to its end, each chunk going to all three digests.
pub fn hash_reader(mut reader: impl Read) -> io::Result<ExeHashes> {
    let (mut sha256, mut sha1, mut md5) = (Sha256::new(), Sha1::new(), Md5::new());
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        sha256.update(&buf[..n]);
        sha1.update(&buf[..n]);
        md5.update(&buf[..n]);
    }
    Ok(ExeHashes { sha256: hex(&sha256.finalize()), sha1: hex(&sha1.finalize()), md5: hex(&md5.finalize()) })
}

/// Reads a file from offset 0 with pread, leaving the handle's offset alone.
struct PosReader<'a> {
    file: &'a File,
    off: u64,
}

impl Read for PosReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.off)?;
        self.off += n as u64;
        Ok(n)
    }
}

struct Entry {
    hashes: ExeHashes,
    last_used: u64,
}

/// Hashes by [`FileKey`], at most `cap` of them; when full the least
/// recently used goes (an O(cap) scan, paid only on a miss that inserts,
/// i.e. once per distinct binary).
pub struct HashCache {
    cap: usize,
    max_file_bytes: u64,
    tick: u64,
    entries: HashMap<FileKey, Entry>,
    /// Files actually read (cache misses), for tests and health.
    pub reads: u64,
}

impl HashCache {
    pub fn new(cap: usize, max_file_bytes: u64) -> HashCache {
        HashCache { cap: cap.max(1), max_file_bytes, tick: 0, entries: HashMap::new(), reads: 0 }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The hashes of `image` if the cache has them; never reads the file.
    pub fn cached(&mut self, image: &File) -> Option<ExeHashes> {
        self.get(FileKey::of(image).ok()?)
    }

    /// The hashes of the open file `image`; `None` for a file larger than the
    /// bound (not worth one read on the connection path) or unreadable.
    /// (Single-owner form of [`HashCache::hashes_shared`], for the tests.)
    #[cfg(test)]
    pub fn hashes(&mut self, image: &File) -> Option<ExeHashes> {
        let key = FileKey::of(image).ok()?;
        if let Some(h) = self.get(key) {
            return Some(h);
        }
        let hashes = self.read(image, key)?;
        self.insert(key, hashes.clone());
        Some(hashes)
    }

    /// [`HashCache::hashes`] for a shared cache: the lock is not held while
    /// the file is read, so the exec path's cache checks never wait on it.
    pub fn hashes_shared(cache: &Mutex<HashCache>, image: &File) -> Option<ExeHashes> {
        let key = FileKey::of(image).ok()?;
        let lock = || cache.lock().unwrap_or_else(|p| p.into_inner());
        let (hit, max) = {
            let mut c = lock();
            (c.get(key), c.max_file_bytes)
        };
        if hit.is_some() {
            return hit;
        }
        if key.size > max {
            return None;
        }
        let hashes = hash_reader(PosReader { file: image, off: 0 }.take(key.size)).ok()?;
        let mut c = lock();
        c.reads += 1;
        c.insert(key, hashes.clone());
        Some(hashes)
    }

    fn get(&mut self, key: FileKey) -> Option<ExeHashes> {
        self.tick += 1;
        let e = self.entries.get_mut(&key)?;
        e.last_used = self.tick;
        Some(e.hashes.clone())
    }

    #[cfg(test)]
    fn read(&mut self, image: &File, key: FileKey) -> Option<ExeHashes> {
        if key.size > self.max_file_bytes {
            return None;
        }
        // Positional reads from 0: the handle's own offset may be anywhere.
        let hashes = hash_reader(PosReader { file: image, off: 0 }.take(key.size)).ok()?;
        self.reads += 1;
        Some(hashes)
    }

    fn insert(&mut self, key: FileKey, hashes: ExeHashes) {
        if self.entries.len() >= self.cap {
            if let Some(oldest) = self.entries.iter().min_by_key(|(_, e)| e.last_used).map(|(k, _)| *k) {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(key, Entry { hashes, last_used: self.tick });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    fn temp_file(content: &[u8]) -> File {
        let mut f = tempfile_in_tmp();
        f.write_all(content).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f
    }

    // An unnamed file of our own (O_TMPFILE-like: created then unlinked).
    fn tempfile_in_tmp() -> File {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "netward-hash-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let f = File::options().read(true).write(true).create_new(true).open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        f
    }

    #[test]
    fn known_digests() {
        let h = hash_reader(&b"abc"[..]).unwrap();
        assert_eq!(h.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(h.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(h.md5, "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn cached_by_file_identity() {
        let mut cache = HashCache::new(8, 1 << 20);
        let f = temp_file(b"abc");
        let a = cache.hashes(&f).unwrap();
        let b = cache.hashes(&f).unwrap();
        assert_eq!(a, b);
        assert_eq!(cache.cached(&f), Some(a.clone()));
        assert_eq!(cache.cached(&temp_file(b"other")), None, "cached() never reads");
        assert_eq!(cache.reads, 1, "the second ask is served from the cache");
        assert_eq!(a.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn bounded_and_least_recently_used_goes() {
        let mut cache = HashCache::new(2, 1 << 20);
        let (f1, f2, f3) = (temp_file(b"one"), temp_file(b"two"), temp_file(b"three"));
        cache.hashes(&f1).unwrap();
        cache.hashes(&f2).unwrap();
        cache.hashes(&f1).unwrap(); // f1 is now the most recent
        cache.hashes(&f3).unwrap(); // evicts f2
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.reads, 3);
        cache.hashes(&f1).unwrap();
        assert_eq!(cache.reads, 3, "f1 stayed");
        let again = cache.hashes(&f2).unwrap();
        assert_eq!(cache.reads, 4, "f2 had been evicted and is read again");
        assert_eq!(again, hash_reader(&b"two"[..]).unwrap(), "a second read hashes the whole file again");
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn shared_cache_counts_one_read() {
        let cache = Mutex::new(HashCache::new(4, 1 << 20));
        let f = temp_file(b"abc");
        let a = HashCache::hashes_shared(&cache, &f).unwrap();
        assert_eq!(HashCache::hashes_shared(&cache, &f), Some(a.clone()));
        assert_eq!(cache.lock().unwrap().reads, 1);
        assert_eq!(a.md5, "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn too_large_is_not_read() {
        let mut cache = HashCache::new(2, 2);
        assert_eq!(cache.hashes(&temp_file(b"abc")), None);
        assert_eq!(cache.reads, 0);
    }
}
