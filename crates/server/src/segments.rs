//! Where the server keeps its events' Parquet segments: an object store
//! (the `object_store` crate DataFusion reads through), the local file
//! system by default, an S3-compatible bucket by config.
//!
//! The server's store is a netward store whose file layer ([`SegmentVfs`])
//! sends the segment files (`seg-*.parquet`) to the object store and keeps
//! the rest (the append log, the manifest, the lock) on the local disk in
//! the store directory. The append log is what makes an upload durable
//! before it is acknowledged (an object store has no append, and a PUT per
//! upload would make millions of tiny objects); a roll writes each segment
//! with one PUT (atomic in every object store), and only then commits the
//! local manifest that names it, so a segment the manifest does not name is
//! a leftover that recovery deletes. Fleet queries read the segments with
//! DataFusion's Parquet scan through the same store, registered in the
//! query's session under [`SegmentStore::url`].

use futures_util::TryStreamExt;
use netward_store::{LockGuard, StdFs, Vfs, VfsFile};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use url::Url;

/// Where the segments go (`[server] object_store` and its keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SegmentStoreConfig {
    /// The local file system, in the store directory itself (the default).
    #[default]
    Local,
    /// The local file system, in another directory (`file:///DIR`).
    LocalDir(PathBuf),
    /// An S3-compatible bucket (`s3://bucket/prefix`).
    S3(S3Config),
}

/// An S3-compatible store. Unset credentials and region come from the
/// usual AWS environment variables.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    pub prefix: String,
    /// e.g. `http://127.0.0.1:9000` for MinIO or moto; empty: AWS.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Allow an `http://` endpoint.
    pub allow_http: bool,
}

impl std::fmt::Debug for S3Config {
    // The secret never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl SegmentStoreConfig {
    /// Parses `[server] object_store`: empty (local, in the store
    /// directory), `file:///DIR` or `s3://BUCKET[/PREFIX]`.
    pub fn parse(v: &str) -> Result<SegmentStoreConfig, String> {
        if v.is_empty() {
            return Ok(SegmentStoreConfig::Local);
        }
        let url = Url::parse(v)
            .map_err(|e| format!("`{v}` is not a URL ({e}); expected file:///DIR or s3://BUCKET/PREFIX"))?;
        match url.scheme() {
            "file" => {
                let dir = url.to_file_path().map_err(|_| format!("`{v}`: expected file:///ABSOLUTE/DIR"))?;
                Ok(SegmentStoreConfig::LocalDir(dir))
            }
            "s3" => {
                let bucket = url.host_str().filter(|b| !b.is_empty()).ok_or_else(|| format!("`{v}`: no bucket"))?;
                let prefix = url.path().trim_matches('/').to_string();
                Ok(SegmentStoreConfig::S3(S3Config { bucket: bucket.to_string(), prefix, ..Default::default() }))
            }
            other => Err(format!("`{v}`: object store scheme `{other}` is not supported (file:// or s3://)")),
        }
    }
}

/// The opened object store, its URL for DataFusion and the prefix the
/// segments live under.
#[derive(Clone)]
pub struct SegmentStore {
    pub store: Arc<dyn ObjectStore>,
    pub url: Url,
    prefix: ObjectPath,
    /// The directory of a local store: fsynced after each PUT, because the
    /// local object store renames into place without fsync.
    local_dir: Option<PathBuf>,
}

impl std::fmt::Debug for SegmentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.url, self.prefix)
    }
}

impl SegmentStore {
    /// Opens the configured store; `store_dir` is the server's store
    /// directory (the default place).
    pub fn open(config: &SegmentStoreConfig, store_dir: &Path) -> Result<SegmentStore, String> {
        let local = |dir: &Path| -> Result<SegmentStore, String> {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let dir = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let prefix = ObjectPath::from_absolute_path(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let url = Url::parse("file:///").map_err(|e| e.to_string())?;
            Ok(SegmentStore { store: Arc::new(LocalFileSystem::new()), url, prefix, local_dir: Some(dir) })
        };
        match config {
            SegmentStoreConfig::Local => local(store_dir),
            SegmentStoreConfig::LocalDir(d) => local(d),
            SegmentStoreConfig::S3(c) => open_s3(c),
        }
    }

    fn location(&self, name: &str) -> ObjectPath {
        self.prefix.clone().join(name)
    }

    /// Human form, for the server's start line and errors.
    pub fn describe(&self) -> String {
        match &self.local_dir {
            Some(d) => d.display().to_string(),
            None => format!("{}{}", self.url, self.prefix),
        }
    }
}

#[cfg(feature = "s3")]
fn open_s3(c: &S3Config) -> Result<SegmentStore, String> {
    use object_store::aws::AmazonS3Builder;
    let mut b = AmazonS3Builder::from_env().with_bucket_name(&c.bucket).with_allow_http(c.allow_http);
    if !c.endpoint.is_empty() {
        b = b.with_endpoint(&c.endpoint);
    }
    if !c.region.is_empty() {
        b = b.with_region(&c.region);
    }
    if !c.access_key_id.is_empty() {
        b = b.with_access_key_id(&c.access_key_id).with_secret_access_key(&c.secret_access_key);
    }
    let store = b.build().map_err(|e| format!("object store s3://{}: {e}", c.bucket))?;
    let url = Url::parse(&format!("s3://{}", c.bucket)).map_err(|e| e.to_string())?;
    Ok(SegmentStore { store: Arc::new(store), url, prefix: ObjectPath::from(c.prefix.as_str()), local_dir: None })
}

#[cfg(not(feature = "s3"))]
fn open_s3(c: &S3Config) -> Result<SegmentStore, String> {
    Err(format!(
        "object store s3://{}: this netward was built without S3 support (build with `--features s3`)",
        c.bucket
    ))
}

/// A segment file (the store's `seg-<id>-<Table>.parquet`).
fn is_segment(path: &Path) -> Option<&str> {
    let name = path.file_name()?.to_str()?;
    (name.starts_with("seg-") && name.ends_with(".parquet")).then_some(name)
}

/// Runs the object store's futures on its own runtime, so the store's
/// blocking calls work from any thread (a request's worker included).
struct Bridge(Option<tokio::runtime::Runtime>);

impl Bridge {
    fn run<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = object_store::Result<T>> + Send + 'static,
    ) -> io::Result<T> {
        let rt = self.0.as_ref().expect("runtime lives until drop");
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let _ = tx.send(f.await);
        });
        match rx.recv() {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(object_store::Error::NotFound { path, .. })) => {
                Err(io::Error::new(io::ErrorKind::NotFound, format!("{path}: not found")))
            }
            Ok(Err(e)) => Err(io::Error::other(e.to_string())),
            Err(_) => Err(io::Error::other("object store task ended without an answer")),
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // May be dropped on an async worker (the last query holding it).
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// The server store's file layer: segments in the object store, the rest
/// on the local disk (see the module docs).
pub struct SegmentVfs {
    local: StdFs,
    segments: SegmentStore,
    bridge: Bridge,
}

impl SegmentVfs {
    pub fn new(segments: SegmentStore) -> io::Result<SegmentVfs> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("segment-store")
            .enable_all()
            .build()?;
        Ok(SegmentVfs { local: StdFs, segments, bridge: Bridge(Some(rt)) })
    }

    pub fn segments(&self) -> &SegmentStore {
        &self.segments
    }
}

/// A segment being written: kept in memory, PUT whole on `sync` (the one
/// durability point the store asks of a segment file). A local store's
/// file and directory are fsynced after the PUT.
struct PendingObject {
    store: Arc<dyn ObjectStore>,
    loc: ObjectPath,
    local_file: Option<PathBuf>,
    rt: tokio::runtime::Handle,
    bytes: Vec<u8>,
}

impl VfsFile for PendingObject {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.bytes.extend_from_slice(buf);
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        let (store, loc, bytes) = (self.store.clone(), self.loc.clone(), PutPayload::from(self.bytes.clone()));
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.rt.spawn(async move {
            let _ = tx.send(store.put(&loc, bytes).await);
        });
        match rx.recv() {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(io::Error::other(e.to_string())),
            Err(_) => return Err(io::Error::other("object store task ended without an answer")),
        }
        if let Some(f) = &self.local_file {
            std::fs::File::open(f)?.sync_data()?;
            if let Some(dir) = f.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
        }
        Ok(())
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.bytes.truncate(usize::try_from(len).unwrap_or(usize::MAX));
        Ok(())
    }
}

impl Vfs for SegmentVfs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.local.create_dir_all(dir)
    }
    fn create(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        match is_segment(path) {
            Some(name) => Ok(Box::new(PendingObject {
                store: self.segments.store.clone(),
                loc: self.segments.location(name),
                local_file: self.segments.local_dir.as_ref().map(|d| d.join(name)),
                rt: self.bridge.0.as_ref().expect("runtime lives until drop").handle().clone(),
                bytes: Vec::new(),
            })),
            None => self.local.create(path),
        }
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        match is_segment(path) {
            Some(_) => Err(io::Error::new(io::ErrorKind::Unsupported, "segments are written whole")),
            None => self.local.open_append(path),
        }
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        match is_segment(path) {
            Some(name) => {
                let (store, loc) = (self.segments.store.clone(), self.segments.location(name));
                let bytes = self.bridge.run(async move { store.get(&loc).await?.bytes().await })?;
                Ok(bytes.to_vec())
            }
            None => self.local.read(path),
        }
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        match (is_segment(from), is_segment(to)) {
            (None, None) => self.local.rename(from, to),
            (Some(a), Some(b)) => {
                let (store, from, to) =
                    (self.segments.store.clone(), self.segments.location(a), self.segments.location(b));
                self.bridge.run(async move { store.rename(&from, &to).await })
            }
            _ => {
                Err(io::Error::new(io::ErrorKind::Unsupported, "a rename between the object store and the local disk"))
            }
        }
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        match is_segment(path) {
            Some(name) => {
                let (store, loc) = (self.segments.store.clone(), self.segments.location(name));
                self.bridge.run(async move { store.delete(&loc).await })
            }
            None => self.local.remove(path),
        }
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        // The local files (their segments only when the object store is
        // this same directory) and the object store's segments.
        let same_dir =
            self.segments.local_dir.as_deref().zip(std::path::absolute(dir).ok()).is_some_and(|(a, b)| a == b);
        let mut names: BTreeSet<String> =
            self.local.list(dir)?.into_iter().filter(|n| same_dir || is_segment(Path::new(n)).is_none()).collect();
        if !same_dir {
            let (store, prefix) = (self.segments.store.clone(), self.segments.prefix.clone());
            let metas = self.bridge.run(async move { store.list(Some(&prefix)).try_collect::<Vec<_>>().await })?;
            for m in metas {
                if let Some(name) = m.location.filename().filter(|n| is_segment(Path::new(n)).is_some()) {
                    // Only the prefix's own objects, not a deeper prefix's.
                    if m.location == self.segments.location(name) {
                        names.insert(name.to_string());
                    }
                }
            }
        }
        Ok(names.into_iter().collect())
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.local.sync_dir(dir)
    }
    fn lock(&self, path: &Path) -> io::Result<LockGuard> {
        self.local.lock(path)
    }
    fn object_store_url(&self) -> Option<String> {
        Some(self.segments.url.to_string())
    }
    fn object_location(&self, path: &Path) -> Option<String> {
        is_segment(path).map(|name| self.segments.location(name).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_urls() {
        assert_eq!(SegmentStoreConfig::parse("").unwrap(), SegmentStoreConfig::Local);
        assert_eq!(
            SegmentStoreConfig::parse("file:///srv/seg").unwrap(),
            SegmentStoreConfig::LocalDir("/srv/seg".into())
        );
        match SegmentStoreConfig::parse("s3://events/fleet/a/").unwrap() {
            SegmentStoreConfig::S3(c) => assert_eq!((c.bucket.as_str(), c.prefix.as_str()), ("events", "fleet/a")),
            other => panic!("{other:?}"),
        }
        assert!(SegmentStoreConfig::parse("gs://x").unwrap_err().contains("not supported"));
        assert!(SegmentStoreConfig::parse("s3:///p").unwrap_err().contains("no bucket"));
        assert!(SegmentStoreConfig::parse("bucket").unwrap_err().contains("not a URL"));
    }
}
