#![forbid(unsafe_code)]
//! The policy's file store (an edge crate: the policy itself,
//! `netward-policy`, does no I/O): custom indicators and imported feeds in a
//! data directory, compiled into [`Matcher`] snapshots that readers load
//! without ever waiting for the writer.
//!
//! # Layout
//! ```text
//! <dir>/indicators.json        custom indicators and the next id
//! <dir>/feeds/<source>.feed    one file per feed source
//! <dir>/managed.json           indicators set by the fleet server (a managed device)
//! ```
//! The managed indicators are replaced as a whole each time the device
//! applies the server's policy ([`PolicyStore::replace_managed`]); they are
//! their own segment, beside the device's custom indicators and feeds.
//! Settings (the enforcement level) are not kept here.
//!
//! # Crash safety
//! All file I/O goes through a [`Vfs`] (the event store's file layer):
//! [`StdFs`] in production, [`netward_store::sim::SimFs`] in the crash tests,
//! which cut the power at every I/O step of each kind of update.
//!
//! Each update (add, replace or remove a custom indicator; import or remove
//! a feed) changes exactly one file, and every file is replaced atomically:
//! written to a temporary file in the same directory, synced, renamed over
//! the old name, then the directory is synced; a removal is followed by a
//! sync of the directory. An update returns `Ok` only after that last sync,
//! so after a power cut at any moment the indicator set is the one before or
//! after the update in flight, never a mixture, and an acknowledged update is
//! never lost. The directories themselves are made durable before the first
//! update of a store. An update that failed may or may not be visible after
//! a restart; until then the store keeps serving what it served before.
//! Temporary files left by a crash (`.<name>.tmp-<pid>-<n>`) are never read,
//! and are removed at open when their writer is gone. Feed files also end in
//! a trailer with the entry count and a checksum, so a file damaged by other
//! means is detected and reported (see [`PolicyStore::problems`]) instead of
//! loaded.
//!
//! # Concurrency
//! One `PolicyStore` writes; any number of threads read snapshots through
//! [`PolicyStore::snapshot`] or a [`MatcherHandle`]. Each change publishes a
//! new snapshot with one atomic pointer swap; a re-imported feed rebuilds
//! only its own segment. Two processes must not write one directory at the
//! same time (the CLI should hold a lock); a reader process picks up another
//! process's changes with [`PolicyStore::reload`].
//!
//! ```
//! use netward_policy::{Action, EnforcementLevel, IndicatorSpec, IndicatorType};
//! use netward_policy_store::PolicyStore;
//! let dir = tempfile::tempdir().unwrap();
//! let mut store = PolicyStore::open(dir.path()).unwrap();
//! store.add_indicator(IndicatorSpec::new(IndicatorType::Domain, "EVIL.example.", Action::Block), false).unwrap();
//! let v = store.snapshot().evaluate("https://WWW.evil.EXAMPLE:443/x", EnforcementLevel::Block, 0).unwrap();
//! assert!(v.enforced);
//! assert_eq!(v.matched[0].value, "evil.example");
//! ```

mod atomic;

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use netward_policy::action::{Action, Origin};
use netward_policy::feed::{parse_feed, FeedError, FeedFormat, FeedItem, FeedOptions, ImportReport};
use netward_policy::hash::{fnv1a, Seed, FNV_INIT};
use netward_policy::indicator::{feed_entry_id, Indicator, IndicatorError, IndicatorSpec, IndicatorType, Target};
use netward_policy::segment::{Segment, SegmentBuilder};
use netward_policy::Matcher;
pub use netward_policy::MatcherHandle;
pub use netward_store::{StdFs, Vfs};
use serde::{Deserialize, Serialize};

pub use atomic::{remove_stale_temps, write_atomic, write_atomic_in};

/// The source name of custom indicators.
pub const CUSTOM_SOURCE: &str = "custom";
const INDICATORS_FILE: &str = "indicators.json";
const MANAGED_FILE: &str = "managed.json";
/// The source name of the fleet server's indicators.
pub const MANAGED_SOURCE: &str = "fleet";
const FEEDS_DIR: &str = "feeds";
const FEED_EXT: &str = ".feed";

/// Policy store failures.
#[derive(Debug, thiserror::Error)]
pub enum PolicyStoreError {
    /// File system trouble.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A stored file is damaged.
    #[error("{path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The indicator's value is invalid.
    #[error(transparent)]
    Indicator(#[from] IndicatorError),
    /// An indicator of this type and value exists (pass `replace` to
    /// overwrite it).
    #[error("an indicator with this type and value already exists: id {existing_id}")]
    Duplicate {
        /// The existing indicator's id.
        existing_id: String,
    },
    /// No such indicator or source.
    #[error("not found: {0}")]
    NotFound(String),
    /// Feed entries cannot be removed one by one.
    #[error("{0} is a feed entry: remove or re-import its source instead")]
    FeedEntry(String),
    /// Source names are `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`, not `custom`.
    #[error("invalid source name {0:?} (letters, digits, '.', '_', '-'; at most 64; not \"custom\")")]
    InvalidSource(String),
    /// The feed could not be read at all; nothing was changed.
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// The caller's check refused the parsed feed; nothing was changed.
    #[error("{0}")]
    Refused(String),
}

/// Why an import stopped before its file was renamed into place.
enum FeedRefusal {
    Unreadable(FeedError),
    Refused(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PolicyStoreError + '_ {
    move |source| PolicyStoreError::Io { path: path.to_path_buf(), source }
}

/// What the store knows about one imported feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedInfo {
    /// The source name.
    pub source: String,
    /// Format it was imported from.
    pub format: FeedFormat,
    /// Options it was imported with.
    pub options: FeedOptions,
    /// When (unix seconds, as passed to `import_feed`).
    pub imported_at: i64,
    /// Entries stored.
    #[serde(default)]
    pub entries: u64,
}

#[derive(Serialize, Deserialize)]
struct CustomFile {
    version: u32,
    next_id: u64,
    indicators: Vec<Indicator>,
}

/// Indicators and feeds in a directory, and the snapshots compiled from them.
pub struct PolicyStore {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    /// Whether the directories have been made durable (before the first update).
    dirs_synced: bool,
    seed: Seed,
    custom: Vec<Indicator>,
    next_id: u64,
    custom_segment: Arc<Segment>,
    managed: Vec<Indicator>,
    /// One per (source, origin) of the managed indicators: an origin ranks
    /// a whole segment (the server's custom indicators over its feeds).
    managed_segments: Vec<Arc<Segment>>,
    feeds: BTreeMap<String, (FeedInfo, Arc<Segment>)>,
    handle: MatcherHandle,
    problems: Vec<String>,
}

impl PolicyStore {
    /// Open (creating if needed) the store in `dir`, with a random hash
    /// seed.
    pub fn open(dir: impl AsRef<Path>) -> Result<PolicyStore, PolicyStoreError> {
        Self::open_with_seed(dir, Seed::random())
    }

    /// [`PolicyStore::open`] with a given seed (tests, benchmarks).
    pub fn open_with_seed(dir: impl AsRef<Path>, seed: Seed) -> Result<PolicyStore, PolicyStoreError> {
        Self::open_in(Arc::new(StdFs), dir, seed)
    }

    /// Open the store in `dir` of the file system `vfs`.
    pub fn open_in(vfs: Arc<dyn Vfs>, dir: impl AsRef<Path>, seed: Seed) -> Result<PolicyStore, PolicyStoreError> {
        let dir = dir.as_ref().to_path_buf();
        let feeds_dir = dir.join(FEEDS_DIR);
        vfs.create_dir_all(&feeds_dir).map_err(io_err(&feeds_dir))?;
        let empty = Arc::new(SegmentBuilder::new(seed, CUSTOM_SOURCE, Origin::Custom).build());
        let mut store = PolicyStore {
            vfs,
            dir,
            dirs_synced: false,
            seed,
            custom: Vec::new(),
            next_id: 1,
            custom_segment: empty,
            managed: Vec::new(),
            managed_segments: Vec::new(),
            feeds: BTreeMap::new(),
            handle: MatcherHandle::new(Matcher::new(seed, Vec::new())),
            problems: Vec::new(),
        };
        store.reload()?;
        Ok(store)
    }

    /// Whether `name` may name a feed source (checked before a caller
    /// saves anything that will import under it).
    pub fn check_source_name(name: &str) -> Result<(), PolicyStoreError> {
        check_source(name)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Re-read everything from disk and publish a new snapshot. Damaged
    /// feed files are skipped and listed in [`PolicyStore::problems`].
    pub fn reload(&mut self) -> Result<(), PolicyStoreError> {
        let vfs = &*self.vfs;
        remove_stale_temps(vfs, &self.dir);
        remove_stale_temps(vfs, &self.dir.join(FEEDS_DIR));
        self.problems.clear();
        let path = self.dir.join(INDICATORS_FILE);
        match vfs.read(&path) {
            Ok(bytes) => {
                let f: CustomFile = serde_json::from_slice(&bytes)
                    .map_err(|e| PolicyStoreError::Corrupt { path: path.clone(), reason: e.to_string() })?;
                self.custom = f.indicators;
                self.next_id = f.next_id;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.custom.clear();
                self.next_id = 1;
            }
            Err(e) => return Err(PolicyStoreError::Io { path, source: e }),
        }
        self.custom_segment = Arc::new(self.build_custom()?);
        let path = self.dir.join(MANAGED_FILE);
        self.managed = match vfs.read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| PolicyStoreError::Corrupt { path: path.clone(), reason: e.to_string() })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(PolicyStoreError::Io { path, source: e }),
        };
        self.managed_segments = build_managed(self.seed, &self.managed)?;
        self.feeds.clear();
        let feeds_dir = self.dir.join(FEEDS_DIR);
        let mut names: Vec<String> = vfs
            .list(&feeds_dir)
            .map_err(io_err(&feeds_dir))?
            .into_iter()
            .filter(|n| !n.starts_with('.') && n.ends_with(FEED_EXT))
            .collect();
        names.sort();
        for name in names {
            let path = feeds_dir.join(&name);
            match load_feed(vfs, &path, self.seed) {
                Ok((info, seg)) => {
                    self.feeds.insert(info.source.clone(), (info, Arc::new(seg)));
                }
                Err(e) => self.problems.push(e.to_string()),
            }
        }
        self.publish();
        Ok(())
    }

    /// Files that could not be loaded at the last open or reload.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Matcher> {
        self.handle.snapshot()
    }

    /// A handle for reader threads.
    pub fn handle(&self) -> MatcherHandle {
        self.handle.clone()
    }

    /// Custom indicators, by id.
    pub fn list(&self) -> &[Indicator] {
        &self.custom
    }

    /// One custom indicator by id.
    pub fn get(&self, id: &str) -> Option<&Indicator> {
        self.custom.iter().find(|i| i.id == id)
    }

    /// Imported feeds.
    pub fn feeds(&self) -> Vec<FeedInfo> {
        self.feeds.values().map(|(i, _)| i.clone()).collect()
    }

    /// Add a custom indicator. An indicator with the same type and
    /// canonical value is refused with its id, unless `replace`, in which
    /// case it is overwritten and keeps its id.
    pub fn add_indicator(&mut self, spec: IndicatorSpec, replace: bool) -> Result<Indicator, PolicyStoreError> {
        let target = Target::parse(spec.kind, &spec.value)?;
        let (kind, value) = (target.kind(), target.to_string());
        let existing = self.custom.iter().position(|i| i.kind == kind && i.value == value);
        let id = match existing {
            Some(at) if !replace => {
                return Err(PolicyStoreError::Duplicate { existing_id: self.custom[at].id.clone() })
            }
            Some(at) => self.custom[at].id.clone(),
            None => self.next_id.to_string(),
        };
        let ind = Indicator {
            id,
            kind,
            value,
            action: spec.action,
            origin: Origin::Custom,
            source: CUSTOM_SOURCE.into(),
            title: spec.title,
            description: spec.description,
            expires: spec.expires,
            category: spec.category,
        };
        let mut custom = self.custom.clone();
        let mut next_id = self.next_id;
        match existing {
            Some(at) => custom[at] = ind.clone(),
            None => {
                custom.push(ind.clone());
                next_id += 1;
            }
        }
        self.commit_custom(custom, next_id)?;
        Ok(ind)
    }

    /// Remove a custom indicator by id.
    pub fn remove(&mut self, id: &str) -> Result<Indicator, PolicyStoreError> {
        let Some(at) = self.custom.iter().position(|i| i.id == id) else {
            if id.contains(':') {
                return Err(PolicyStoreError::FeedEntry(id.into()));
            }
            return Err(PolicyStoreError::NotFound(id.into()));
        };
        let mut custom = self.custom.clone();
        let removed = custom.remove(at);
        self.commit_custom(custom, self.next_id)?;
        Ok(removed)
    }

    /// Before the first update: make the directory entries of the store's
    /// directories durable (`<dir>` in its parent, `feeds` in `<dir>`), so
    /// that synced files inside them cannot vanish with them.
    fn sync_dirs(&mut self) -> Result<(), PolicyStoreError> {
        if self.dirs_synced {
            return Ok(());
        }
        for d in
            [self.dir.parent().filter(|p| !p.as_os_str().is_empty()), Some(self.dir.as_path())].into_iter().flatten()
        {
            self.vfs.sync_dir(d).map_err(io_err(d))?;
        }
        self.dirs_synced = true;
        Ok(())
    }

    /// Write the custom indicators durably, then make them live.
    fn commit_custom(&mut self, custom: Vec<Indicator>, next_id: u64) -> Result<(), PolicyStoreError> {
        self.sync_dirs()?;
        let file = CustomFile { version: 1, next_id, indicators: custom };
        let path = self.dir.join(INDICATORS_FILE);
        write_atomic_in(&*self.vfs, &path, |w| {
            serde_json::to_writer_pretty(&mut *w, &file).map_err(io::Error::other)?;
            w.write_all(b"\n")
        })
        .map_err(io_err(&path))?;
        self.custom = file.indicators;
        self.next_id = file.next_id;
        self.custom_segment = Arc::new(self.build_custom()?);
        self.publish();
        Ok(())
    }

    fn build_custom(&self) -> Result<Segment, PolicyStoreError> {
        build_segment(self.seed, CUSTOM_SOURCE, &self.custom)
    }

    /// The fleet server's indicators this device applies (empty when unmanaged).
    pub fn managed(&self) -> &[Indicator] {
        &self.managed
    }

    /// Replaces the fleet server's indicators as a whole (one atomic file
    /// write, as every update), then makes them live. Values must be
    /// canonical (they are the server's store's); a bad one refuses the
    /// whole set and the old one stays.
    pub fn replace_managed(&mut self, indicators: Vec<Indicator>) -> Result<(), PolicyStoreError> {
        let segments = build_managed(self.seed, &indicators)?;
        self.sync_dirs()?;
        let path = self.dir.join(MANAGED_FILE);
        write_atomic_in(&*self.vfs, &path, |w| {
            serde_json::to_writer(&mut *w, &indicators).map_err(io::Error::other)?;
            w.write_all(b"\n")
        })
        .map_err(io_err(&path))?;
        self.managed = indicators;
        self.managed_segments = segments;
        self.publish();
        Ok(())
    }

    /// Import a feed as `source`, replacing whatever that source held. The
    /// feed is streamed: entries are written to the new file and compiled as
    /// they are read. If the feed cannot be read at all the old one stays.
    /// `now` (unix seconds) is recorded as the import time.
    pub fn import_feed<R: BufRead>(
        &mut self,
        reader: R,
        format: FeedFormat,
        source: &str,
        options: FeedOptions,
        now: i64,
    ) -> Result<ImportReport, PolicyStoreError> {
        self.import_feed_if(reader, format, source, options, now, |_| Ok(()))
    }

    /// [`PolicyStore::import_feed`] that first asks `accept` about the
    /// parsed feed: when it refuses (a subscription's download that parsed
    /// into nothing but errors), the new file is never renamed into place
    /// and the source keeps its old entries, as when the feed is unreadable.
    pub fn import_feed_if<R: BufRead>(
        &mut self,
        reader: R,
        format: FeedFormat,
        source: &str,
        options: FeedOptions,
        now: i64,
        accept: impl FnOnce(&ImportReport) -> Result<(), String>,
    ) -> Result<ImportReport, PolicyStoreError> {
        check_source(source)?;
        self.sync_dirs()?;
        let path = self.dir.join(FEEDS_DIR).join(format!("{source}{FEED_EXT}"));
        let mut report = ImportReport { source: source.into(), ..ImportReport::default() };
        let mut builder = SegmentBuilder::new(self.seed, source, options.origin);
        let mut info =
            FeedInfo { source: source.into(), format, options: options.clone(), imported_at: now, entries: 0 };
        let mut feed_err = None;
        write_atomic_in(&*self.vfs, &path, |w| {
            let mut cw = ChecksumWriter { inner: w, sum: FNV_INIT };
            serde_json::to_writer(&mut cw, &info).map_err(io::Error::other)?;
            cw.write_all(b"\n")?;
            let mut write_err = None;
            let mut count = 0u64;
            let mut sink = |item: FeedItem| {
                if write_err.is_some() {
                    return;
                }
                count += 1;
                let r = add_item(&mut builder, &mut cw, source, &options, item);
                if let Err(e) = r {
                    write_err = Some(e);
                }
            };
            let parsed = parse_feed(reader, format, &mut report, &mut sink);
            if let Some(e) = write_err {
                return Err(e);
            }
            if let Err(e) = parsed {
                feed_err = Some(FeedRefusal::Unreadable(e));
                return Err(io::Error::other("feed unreadable"));
            }
            if let Err(why) = accept(&report) {
                feed_err = Some(FeedRefusal::Refused(why));
                return Err(io::Error::other("feed refused"));
            }
            let sum = cw.sum;
            writeln!(cw.inner, "end\t{count}\t{sum:016x}")?;
            info.entries = count;
            Ok(())
        })
        .map_err(|e| match feed_err.take() {
            Some(FeedRefusal::Unreadable(fe)) => PolicyStoreError::Feed(fe),
            Some(FeedRefusal::Refused(why)) => PolicyStoreError::Refused(why),
            None => PolicyStoreError::Io { path: path.clone(), source: e },
        })?;
        self.feeds.insert(source.into(), (info, Arc::new(builder.build())));
        self.publish();
        Ok(report)
    }

    /// Remove a feed source and all its entries.
    pub fn remove_source(&mut self, source: &str) -> Result<FeedInfo, PolicyStoreError> {
        check_source(source)?;
        let Some((info, _)) = self.feeds.get(source).cloned() else {
            return Err(PolicyStoreError::NotFound(source.into()));
        };
        let feeds_dir = self.dir.join(FEEDS_DIR);
        let path = feeds_dir.join(format!("{source}{FEED_EXT}"));
        self.vfs.remove(&path).map_err(io_err(&path))?;
        self.vfs.sync_dir(&feeds_dir).map_err(io_err(&feeds_dir))?;
        self.feeds.remove(source);
        self.publish();
        Ok(info)
    }

    /// Read back every entry of a feed source, in file order.
    pub fn for_each_feed_entry(&self, source: &str, mut f: impl FnMut(Indicator)) -> Result<(), PolicyStoreError> {
        check_source(source)?;
        let path = self.dir.join(FEEDS_DIR).join(format!("{source}{FEED_EXT}"));
        if !self.feeds.contains_key(source) {
            return Err(PolicyStoreError::NotFound(source.into()));
        }
        read_feed_file(&*self.vfs, &path, |info, entry| {
            f(match entry {
                FeedLine::Bulk { kind, action, value, category } => Indicator {
                    id: feed_entry_id(&info.source, kind, &value),
                    kind,
                    value,
                    action,
                    origin: info.options.origin,
                    source: info.source.clone(),
                    title: None,
                    description: None,
                    expires: None,
                    category,
                },
                FeedLine::Record(ind) => ind,
            })
        })
        .map(|_| ())
    }

    fn publish(&self) {
        let mut segs = vec![self.custom_segment.clone()];
        segs.extend(self.managed_segments.iter().cloned());
        segs.extend(self.feeds.values().map(|(_, s)| s.clone()));
        self.handle.publish(Arc::new(Matcher::new(self.seed, segs)));
    }
}

fn build_segment(seed: Seed, source: &str, indicators: &[Indicator]) -> Result<Segment, PolicyStoreError> {
    let mut b = SegmentBuilder::new(seed, source, Origin::Custom);
    for ind in indicators {
        b.add_record(ind.clone())?;
    }
    Ok(b.build())
}

/// The managed indicators as one segment per (source, origin).
fn build_managed(seed: Seed, indicators: &[Indicator]) -> Result<Vec<Arc<Segment>>, PolicyStoreError> {
    let mut builders: BTreeMap<(&str, Origin), SegmentBuilder> = BTreeMap::new();
    for ind in indicators {
        builders
            .entry((ind.source.as_str(), ind.origin))
            .or_insert_with(|| SegmentBuilder::new(seed, &ind.source, ind.origin))
            .add_record(ind.clone())?;
    }
    Ok(builders.into_values().map(|b| Arc::new(b.build())).collect())
}

fn check_source(s: &str) -> Result<(), PolicyStoreError> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s != CUSTOM_SOURCE
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(PolicyStoreError::InvalidSource(s.into()))
    }
}

/// Add one feed item to the builder and the file.
fn add_item(
    b: &mut SegmentBuilder,
    w: &mut dyn Write,
    source: &str,
    o: &FeedOptions,
    item: FeedItem,
) -> io::Result<()> {
    let category = o.category.clone().or(item.category);
    if item.details.is_empty() {
        let value = item.target.to_string();
        writeln!(w, "{}\t{}\t{}\t{}", item.target.kind(), o.action, value, category.as_deref().unwrap_or(""))?;
        b.add(&item.target, o.action, category.as_deref());
    } else {
        let value = item.target.to_string();
        let ind = Indicator {
            id: feed_entry_id(source, item.target.kind(), &value),
            kind: item.target.kind(),
            value,
            action: o.action,
            origin: o.origin,
            source: source.into(),
            title: item.details.title,
            description: item.details.description,
            expires: item.details.expires,
            category,
        };
        w.write_all(b"r\t")?;
        serde_json::to_writer(&mut *w, &ind).map_err(io::Error::other)?;
        w.write_all(b"\n")?;
        b.add_record(ind).map_err(io::Error::other)?;
    }
    Ok(())
}

/// Computes the checksum of what passes through.
struct ChecksumWriter<'a> {
    inner: &'a mut dyn Write,
    sum: u64,
}

impl Write for ChecksumWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sum = fnv1a(buf.get(..n).unwrap_or(&[]), self.sum);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

enum FeedLine {
    Bulk { kind: IndicatorType, action: Action, value: String, category: Option<String> },
    Record(Indicator),
}

fn corrupt(path: &Path, line: u64, reason: impl std::fmt::Display) -> PolicyStoreError {
    PolicyStoreError::Corrupt { path: path.to_path_buf(), reason: format!("line {line}: {reason}") }
}

/// Read a feed file, checking its trailer; `f` sees every entry.
fn read_feed_file(
    vfs: &dyn Vfs,
    path: &Path,
    mut f: impl FnMut(&FeedInfo, FeedLine),
) -> Result<FeedInfo, PolicyStoreError> {
    let file = vfs.open_read(path).map_err(io_err(path))?;
    let mut r = BufReader::with_capacity(1 << 16, file);
    let mut line = Vec::new();
    let mut sum = FNV_INIT;
    let mut n = 0u64;
    let mut info: Option<FeedInfo> = None;
    let mut count = 0u64;
    loop {
        line.clear();
        let got = r.read_until(b'\n', &mut line).map_err(io_err(path))?;
        if got == 0 {
            return Err(corrupt(path, n, "missing end trailer (truncated file)"));
        }
        n += 1;
        let text = std::str::from_utf8(&line).map_err(|e| corrupt(path, n, e))?;
        let Some(text) = text.strip_suffix('\n') else {
            return Err(corrupt(path, n, "missing end trailer (truncated file)"));
        };
        let Some(inf) = &info else {
            info = Some(serde_json::from_str(text).map_err(|e| corrupt(path, n, e))?);
            sum = fnv1a(&line, sum);
            continue;
        };
        let mut cols = text.split('\t');
        match cols.next() {
            Some("end") => {
                let want_count: Option<u64> = cols.next().and_then(|c| c.parse().ok());
                let want_sum = cols.next().and_then(|s| u64::from_str_radix(s, 16).ok());
                if want_count != Some(count) || want_sum != Some(sum) {
                    return Err(corrupt(path, n, "entry count or checksum mismatch"));
                }
                let mut inf = inf.clone();
                inf.entries = count;
                return Ok(inf);
            }
            Some("r") => {
                let ind: Indicator =
                    serde_json::from_str(cols.next().unwrap_or("")).map_err(|e| corrupt(path, n, e))?;
                f(inf, FeedLine::Record(ind));
            }
            Some(kind) => {
                let kind: IndicatorType = kind.parse().map_err(|e| corrupt(path, n, e))?;
                let action: Action = cols.next().unwrap_or("").parse().map_err(|e| corrupt(path, n, e))?;
                let value = cols.next().unwrap_or("").to_string();
                let category = cols.next().filter(|c| !c.is_empty()).map(str::to_string);
                f(inf, FeedLine::Bulk { kind, action, value, category });
            }
            None => return Err(corrupt(path, n, "empty line")),
        }
        count += 1;
        sum = fnv1a(&line, sum);
    }
}

/// Load one feed file into a segment.
fn load_feed(vfs: &dyn Vfs, path: &Path, seed: Seed) -> Result<(FeedInfo, Segment), PolicyStoreError> {
    let mut builder: Option<SegmentBuilder> = None;
    let mut bad: Option<PolicyStoreError> = None;
    let info = read_feed_file(vfs, path, |info, line| {
        let b = builder.get_or_insert_with(|| SegmentBuilder::new(seed, &info.source, info.options.origin));
        match line {
            // Stored values are canonical and checksummed: domains (the bulk
            // of big feeds) are taken as they are, without re-canonicalising.
            FeedLine::Bulk { kind: IndicatorType::Domain, action, value, category } => {
                b.add(&Target::Domain(value), action, category.as_deref())
            }
            FeedLine::Bulk { kind, action, value, category } => match Target::parse(kind, &value) {
                Ok(t) => b.add(&t, action, category.as_deref()),
                Err(e) => {
                    bad = bad.take().or(Some(PolicyStoreError::Corrupt { path: path.into(), reason: e.to_string() }))
                }
            },
            FeedLine::Record(ind) => {
                if let Err(e) = b.add_record(ind) {
                    bad = bad.take().or(Some(PolicyStoreError::Corrupt { path: path.into(), reason: e.to_string() }));
                }
            }
        }
    })?;
    if let Some(e) = bad {
        return Err(e);
    }
    let seg = builder.unwrap_or_else(|| SegmentBuilder::new(seed, &info.source, info.options.origin)).build();
    Ok((info, seg))
}
