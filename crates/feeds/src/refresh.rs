//! Refreshing one subscription, in two steps so that the network is never
//! waited on while the data directory is locked:
//!
//! 1. [`download`] (no lock): the conditional GET into
//!    `<data dir>/feed-downloads/`.
//! 2. [`apply`] (the caller holds the lock, with the subscriptions just read
//!    again): the download swapped into the policy store in one
//!    [`PolicyStore::import_feed_if`] (one file renamed into place), and the
//!    subscription's state updated; the caller saves it.
//!
//! The last good copy is kept: a download that fails, or that parses into
//! more malformed lines than entries, or into nothing while the live copy
//! had entries (an error page served with 200, a truncated file), leaves the
//! live entries and their validators as they were and records the error;
//! the next try comes sooner than the regular interval, backing off
//! (30 s, 1 min, 2 min, ... up to the interval).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use netward_policy::ImportReport;
use netward_policy_store::{PolicyStore, PolicyStoreError};

use crate::fetch::{fetch, FetchError, Fetched, Validators};
use crate::net::NetConfig;
use crate::subs::{Subscription, Subscriptions};

pub const DOWNLOADS_DIR: &str = "feed-downloads";
/// The first retry after a failure; doubled each time, at most the interval.
pub const BACKOFF_START_SECS: u64 = 30;

/// When the next try is due after `failures` failures in a row.
pub fn next_attempt(now: i64, every_secs: u64, failures: u32) -> i64 {
    let wait = if failures == 0 {
        every_secs
    } else {
        let exp = failures.saturating_sub(1).min(30);
        BACKOFF_START_SECS.saturating_mul(1u64 << exp).min(every_secs)
    };
    now.saturating_add(i64::try_from(wait).unwrap_or(i64::MAX))
}

/// A finished download, waiting for [`apply`].
#[derive(Debug)]
pub struct Download {
    pub name: String,
    /// Which subscription it was for: one removed and made again meanwhile
    /// is another, and the download is dropped.
    created_at: i64,
    url: String,
    path: PathBuf,
    result: Result<Fetched, FetchError>,
}

impl Drop for Download {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Step 1: the conditional GET. `live` says whether the policy store holds
/// this subscription's entries: without them the validators are not sent
/// (a 304 would confirm a copy that is not there).
pub fn download(data_dir: &Path, sub: &Subscription, live: bool, net: &NetConfig) -> Download {
    let dir = data_dir.join(DOWNLOADS_DIR);
    remove_stale(&dir);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("{}.{}.{n}.part", sub.name, std::process::id()));
    let have = if live {
        Validators { etag: sub.state.etag.clone(), last_modified: sub.state.last_modified.clone() }
    } else {
        Validators::default()
    };
    let result = std::fs::create_dir_all(&dir)
        .map_err(|e| FetchError(format!("{}: {e}", dir.display())))
        .and_then(|()| fetch(net, &sub.url, &have, &path));
    Download { name: sub.name.clone(), created_at: sub.created_at, url: sub.url.clone(), path, result }
}

impl Download {
    /// A refresh that could not even start (the proxy settings or the PAC
    /// file failed): recorded like a failed download, with its backoff.
    pub fn failed(sub: &Subscription, error: String) -> Download {
        Download {
            name: sub.name.clone(),
            created_at: sub.created_at,
            url: sub.url.clone(),
            path: PathBuf::new(),
            result: Err(FetchError(error)),
        }
    }
}

/// What a refresh did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The live copy is current: `status` 304, or 200 with the same bytes.
    Unchanged { status: u16 },
    /// New content is live.
    Updated { old_entries: u64, report: ImportReport },
    /// Nothing changed in the policy; the error is recorded.
    Failed { error: String },
}

/// Step 2, under the lock: swap the download in and update the state of
/// its subscription in `subs`. `None` when the subscription is gone or was
/// made again (or its URL changed) since the download started.
pub fn apply(store: &mut PolicyStore, subs: &mut Subscriptions, dl: Download, now: i64) -> Option<Outcome> {
    let sub = subs.get(&dl.name).filter(|s| s.created_at == dl.created_at && s.url == dl.url)?.clone();
    let old_entries = store.feeds().into_iter().find(|f| f.source == sub.name).map(|f| f.entries);
    let mut st = sub.state.clone();
    st.last_attempt = Some(now);
    let outcome = match &dl.result {
        Err(e) => Outcome::Failed { error: e.0.clone() },
        Ok(Fetched::NotModified { .. }) => Outcome::Unchanged { status: 304 },
        Ok(Fetched::Body { sha256, .. }) if old_entries.is_some() && st.sha256.as_deref() == Some(sha256) => {
            Outcome::Unchanged { status: 200 }
        }
        Ok(Fetched::Body { sha256, validators, .. }) => {
            let old_entries = old_entries.unwrap_or(0);
            match import(store, &sub, &dl.path, old_entries, now) {
                Ok(report) => {
                    st.etag = validators.etag.clone();
                    st.last_modified = validators.last_modified.clone();
                    st.sha256 = Some(sha256.clone());
                    st.last_change = Some(now);
                    st.line_errors = report.errors;
                    Outcome::Updated { old_entries, report }
                }
                Err(error) => Outcome::Failed { error },
            }
        }
    };
    st.entries = store.feeds().into_iter().find(|f| f.source == sub.name).map_or(0, |f| f.entries);
    match &outcome {
        Outcome::Failed { error } => {
            st.failures = st.failures.saturating_add(1);
            st.last_error = Some(error.clone());
            st.last_status = match &dl.result {
                Ok(Fetched::NotModified { .. }) => Some(304),
                Ok(Fetched::Body { .. }) => Some(200),
                Err(e) => status_of(e),
            };
        }
        Outcome::Unchanged { status } => {
            st.failures = 0;
            st.last_error = None;
            st.last_success = Some(now);
            st.last_status = Some(*status);
        }
        Outcome::Updated { .. } => {
            st.failures = 0;
            st.last_error = None;
            st.last_success = Some(now);
            st.last_status = Some(200);
        }
    }
    st.next_attempt = Some(next_attempt(now, sub.every_secs, st.failures));
    subs.get_mut(&dl.name)?.state = st;
    Some(outcome)
}

fn import(
    store: &mut PolicyStore,
    sub: &Subscription,
    path: &Path,
    old_entries: u64,
    now: i64,
) -> Result<ImportReport, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    store.import_feed_if(reader, sub.format, &sub.name, sub.options(), now, |r| acceptable(r, old_entries)).map_err(
        |e| match e {
            PolicyStoreError::Refused(why) => format!("{why}; the previous {old_entries} entries are kept"),
            PolicyStoreError::Feed(fe) => {
                format!("the feed is not valid {}: {fe}; the previous {old_entries} entries are kept", sub.format)
            }
            other => other.to_string(),
        },
    )
}

/// Whether a parsed download may replace the live copy (module docs).
pub fn acceptable(r: &ImportReport, old_entries: u64) -> Result<(), String> {
    let first =
        || r.error_samples.first().map(|e| format!(", first at line {}: {}", e.line, e.reason)).unwrap_or_default();
    if r.errors > r.imported {
        return Err(format!(
            "the download has more malformed lines ({}) than entries ({}){}",
            r.errors,
            r.imported,
            first()
        ));
    }
    if r.imported == 0 && old_entries > 0 {
        return Err(format!("the download has no entries ({} lines)", r.lines));
    }
    Ok(())
}

/// The status of an answer that was an error (`HTTP 404 Not Found`);
/// `None` when there was no answer.
fn status_of(e: &FetchError) -> Option<u16> {
    let rest = e.0.strip_prefix("HTTP ")?;
    rest.get(..3)?.parse().ok()
}

/// Downloads of a process that is gone (killed mid-download).
fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".part") else { continue };
        let pid = stem.rsplit('.').nth(1).and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_interval() {
        assert_eq!(next_attempt(100, 3600, 0), 3700);
        assert_eq!(next_attempt(100, 3600, 1), 130);
        assert_eq!(next_attempt(100, 3600, 2), 160);
        assert_eq!(next_attempt(100, 3600, 4), 340);
        assert_eq!(next_attempt(100, 3600, 12), 3700);
        assert_eq!(next_attempt(100, 3600, u32::MAX), 3700);
        assert_eq!(next_attempt(100, 10, 3), 110, "never later than the interval");
    }

    #[test]
    fn garbage_and_emptiness_are_refused() {
        let r = |imported, errors, lines| ImportReport { imported, errors, lines, ..ImportReport::default() };
        assert!(acceptable(&r(10, 2, 12), 5).is_ok());
        assert!(acceptable(&r(0, 0, 0), 0).is_ok(), "an empty feed replacing nothing is fine");
        assert!(acceptable(&r(1, 5, 6), 5).unwrap_err().contains("more malformed"));
        assert!(acceptable(&r(0, 0, 3), 5).unwrap_err().contains("no entries"));
    }
}
