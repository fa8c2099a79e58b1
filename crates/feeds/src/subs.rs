//! The subscription file `<data dir>/subscriptions.json`: each subscription
//! (name, URL, format, interval, how its entries are filed) and its refresh
//! state (validators for the conditional GET, last success, last error,
//! consecutive failures, when it is next due).
//!
//! Replaced whole and atomically (temporary file, fsync, rename, fsync of
//! the directory: the policy store's [`write_atomic`]), so a crash leaves
//! the old or the new file. Writers hold the data directory's lock; the
//! agent's refresher and the CLI both write it.

use std::io;
use std::path::{Path, PathBuf};

use netward_policy::{Action, FeedFormat, FeedOptions, Origin};
use netward_policy_store::write_atomic;
use serde::{Deserialize, Serialize};

use crate::every::Every;

pub const SUBSCRIPTIONS_FILE: &str = "subscriptions.json";
const VERSION: u32 = 1;
/// Subscriptions at most: every one is a download and a segment of the
/// matcher; an organisation subscribes to a handful.
pub const MAX_SUBSCRIPTIONS: usize = 256;
/// The longest URL kept.
pub const MAX_URL: usize = 2048;

/// One subscription, as `netward feed subscribe` made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// Also the policy store's source name of its entries.
    pub name: String,
    pub url: String,
    pub format: FeedFormat,
    /// Seconds between refreshes.
    pub every_secs: u64,
    pub action: Action,
    /// Category label for every entry (default: the feed's own).
    #[serde(default)]
    pub category: Option<String>,
    /// A content-category list rather than threat reputation.
    #[serde(default)]
    pub content_category: bool,
    /// When it was made (unix seconds); a subscription removed and made
    /// again under the same name while a download was running is another.
    pub created_at: i64,
    #[serde(default)]
    pub state: FeedState,
}

impl Subscription {
    pub fn every(&self) -> Every {
        Every(self.every_secs)
    }

    /// How its entries are filed in the policy store.
    pub fn options(&self) -> FeedOptions {
        FeedOptions {
            origin: if self.content_category { Origin::Category } else { Origin::ThreatFeed },
            action: self.action,
            category: self.category.clone(),
        }
    }

    /// Whether a refresh is due at `now`.
    pub fn due(&self, now: i64) -> bool {
        self.state.next_attempt.is_none_or(|t| t <= now)
    }
}

/// What the refreshes so far have left. Times are unix seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedState {
    /// The last refresh tried.
    pub last_attempt: Option<i64>,
    /// The last refresh that left the entries current (new content
    /// imported, or the server said it is unchanged).
    pub last_success: Option<i64>,
    /// The last time new content was imported.
    pub last_change: Option<i64>,
    /// The HTTP status of the last answer (200, 304, 404, ...).
    pub last_status: Option<u16>,
    /// Why the last refresh failed; cleared by a success.
    pub last_error: Option<String>,
    /// Failures since the last success (the backoff grows with it).
    #[serde(default)]
    pub failures: u32,
    /// When the next refresh is due; `None`: now.
    pub next_attempt: Option<i64>,
    /// Validators of the copy whose entries are live (never of a copy that
    /// was refused), sent back as If-None-Match / If-Modified-Since.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// SHA-256 of that copy: a server without validators that sends the
    /// same bytes again costs no re-import.
    pub sha256: Option<String>,
    /// Entries live from this subscription.
    #[serde(default)]
    pub entries: u64,
    /// Malformed lines in the live copy.
    #[serde(default)]
    pub line_errors: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct FileBody {
    version: u32,
    subscriptions: Vec<Subscription>,
}

/// Problems with the subscription file or a subscription.
#[derive(Debug, thiserror::Error)]
pub enum SubsError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is damaged: {reason}")]
    Damaged { path: PathBuf, reason: String },
    #[error("no subscription named {0:?}")]
    NotFound(String),
    #[error("a subscription named {0:?} exists")]
    Exists(String),
    #[error("at most {MAX_SUBSCRIPTIONS} subscriptions")]
    TooMany,
    #[error("{0}")]
    Invalid(String),
}

/// The subscriptions of a data directory, as read from its file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscriptions {
    pub list: Vec<Subscription>,
}

pub fn file_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SUBSCRIPTIONS_FILE)
}

impl Subscriptions {
    /// Reads the file; a missing file is no subscriptions.
    pub fn load(data_dir: &Path) -> Result<Subscriptions, SubsError> {
        let path = file_path(data_dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Subscriptions::default()),
            Err(e) => return Err(SubsError::Io { path, source: e }),
        };
        let body: FileBody = serde_json::from_slice(&bytes)
            .map_err(|e| SubsError::Damaged { path: path.clone(), reason: e.to_string() })?;
        if body.version != VERSION {
            return Err(SubsError::Damaged {
                path,
                reason: format!("version {} (this netward reads {VERSION})", body.version),
            });
        }
        Ok(Subscriptions { list: body.subscriptions })
    }

    /// Writes the file atomically and durably. The caller holds the lock.
    pub fn save(&self, data_dir: &Path) -> Result<(), SubsError> {
        let path = file_path(data_dir);
        let body = FileBody { version: VERSION, subscriptions: self.list.clone() };
        write_atomic(&path, |w| {
            serde_json::to_writer_pretty(&mut *w, &body).map_err(io::Error::other)?;
            w.write_all(b"\n")
        })
        .map_err(|e| SubsError::Io { path, source: e })
    }

    pub fn get(&self, name: &str) -> Option<&Subscription> {
        self.list.iter().find(|s| s.name == name)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Subscription> {
        self.list.iter_mut().find(|s| s.name == name)
    }

    /// Adds a subscription, due at once.
    pub fn add(&mut self, sub: Subscription) -> Result<(), SubsError> {
        check_url(&sub.url)?;
        if self.get(&sub.name).is_some() {
            return Err(SubsError::Exists(sub.name));
        }
        if self.list.len() >= MAX_SUBSCRIPTIONS {
            return Err(SubsError::TooMany);
        }
        self.list.push(sub);
        self.list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(())
    }

    pub fn remove(&mut self, name: &str) -> Result<Subscription, SubsError> {
        let at = self.list.iter().position(|s| s.name == name).ok_or_else(|| SubsError::NotFound(name.into()))?;
        Ok(self.list.remove(at))
    }
}

/// Feeds come over HTTP or HTTPS, nothing else (no `file:`, no FTP): the
/// URL names a server the proxy settings apply to.
pub fn check_url(url: &str) -> Result<(), SubsError> {
    if url.len() > MAX_URL {
        return Err(SubsError::Invalid(format!("the URL is longer than {MAX_URL} characters")));
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| SubsError::Invalid(format!("{url:?}: the URL must start with http:// or https://")))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() {
        return Err(SubsError::Invalid(format!("{url:?}: no host after the scheme")));
    }
    if let Some(pos) = url.find(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(SubsError::Invalid(format!("{url:?}: a space or control character at character {}", pos + 1)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(name: &str) -> Subscription {
        Subscription {
            name: name.into(),
            url: "http://feeds.test/x.txt".into(),
            format: FeedFormat::Domains,
            every_secs: 3600,
            action: Action::Block,
            category: None,
            content_category: false,
            created_at: 1,
            state: FeedState::default(),
        }
    }

    #[test]
    fn round_trip_sorted_and_unique() {
        let t = tempfile::tempdir().unwrap();
        let mut s = Subscriptions::load(t.path()).unwrap();
        assert!(s.list.is_empty());
        s.add(sub("b")).unwrap();
        s.add(sub("a")).unwrap();
        assert!(matches!(s.add(sub("a")), Err(SubsError::Exists(_))));
        s.get_mut("a").unwrap().state.etag = Some("\"x\"".into());
        s.save(t.path()).unwrap();
        let back = Subscriptions::load(t.path()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.list[0].name, "a");
        assert!(back.list[0].due(0), "a new subscription is due at once");
    }

    #[test]
    fn urls_are_http_or_https_with_a_host() {
        assert!(check_url("https://feeds.test/a").is_ok());
        assert!(check_url("file:///etc/passwd").is_err());
        assert!(check_url("http:///x").is_err());
        let e = check_url("http://a.test/x y").unwrap_err().to_string();
        assert!(e.contains("character 16"), "{e}");
    }

    #[test]
    fn a_damaged_file_is_an_error_not_an_empty_list() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(file_path(t.path()), "{\"version\":1,\"subscr").unwrap();
        assert!(matches!(Subscriptions::load(t.path()), Err(SubsError::Damaged { .. })));
    }
}
