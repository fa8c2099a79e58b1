//! One conditional GET of a feed into a file: `If-None-Match` and
//! `If-Modified-Since` from the live copy's validators, the body streamed to
//! disk with its SHA-256, never more than `max_bytes`, the whole exchange
//! within `timeout`. A route that cannot be reached gives way to the next
//! one the proxy policy lists (only a PAC file lists more than one).

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use reqwest::header::{HeaderMap, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::net::{client, NetConfig, Route};

/// What the live copy was served with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Validators {
    fn any(&self) -> bool {
        self.etag.is_some() || self.last_modified.is_some()
    }
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// 304: the live copy is current.
    NotModified { route: Route },
    /// 200: the body is in the destination file.
    Body { route: Route, bytes: u64, sha256: String, validators: Validators },
}

/// A download that failed: what went wrong, by route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub String);

/// GET `url` into `dest` (created or truncated). On error `dest` may hold
/// part of a body; the caller removes it.
pub fn fetch(cfg: &NetConfig, url: &str, have: &Validators, dest: &Path) -> Result<Fetched, FetchError> {
    let routes = cfg.proxy.routes(url).map_err(FetchError)?;
    let mut failures = Vec::new();
    for route in routes {
        match fetch_via(cfg, &route, url, have, dest) {
            Ok(f) => return Ok(f),
            // Only a route that could not be reached gives way to the next;
            // an answer (404, a body too large) is the answer.
            Err(Attempt::Unreachable(e)) => failures.push(format!("{}: {e}", route.describe())),
            Err(Attempt::Failed(e)) => return Err(FetchError(format!("{} (via {})", e, route.describe()))),
        }
    }
    Err(FetchError(failures.join("; ")))
}

enum Attempt {
    Unreachable(String),
    Failed(String),
}

fn fetch_via(cfg: &NetConfig, route: &Route, url: &str, have: &Validators, dest: &Path) -> Result<Fetched, Attempt> {
    let c = client(cfg, route).map_err(Attempt::Failed)?;
    let mut req = c.get(url);
    if let Some(e) = &have.etag {
        req = req.header(IF_NONE_MATCH, e);
    }
    if let Some(m) = &have.last_modified {
        req = req.header(IF_MODIFIED_SINCE, m);
    }
    let mut resp = req.send().map_err(|e| {
        let msg = error_chain(&e);
        if e.is_connect() {
            Attempt::Unreachable(msg)
        } else {
            Attempt::Failed(msg)
        }
    })?;
    let status = resp.status();
    if status == StatusCode::NOT_MODIFIED {
        if !have.any() {
            return Err(Attempt::Failed("HTTP 304 Not Modified to a request without validators".into()));
        }
        return Ok(Fetched::NotModified { route: route.clone() });
    }
    if status != StatusCode::OK {
        return Err(Attempt::Failed(format!("HTTP {status}")));
    }
    if let Some(len) = resp.content_length().filter(|l| *l > cfg.max_bytes) {
        return Err(Attempt::Failed(too_large(len, cfg.max_bytes)));
    }
    let validators = validators(resp.headers());
    let mut file = File::create(dest).map_err(|e| Attempt::Failed(format!("{}: {e}", dest.display())))?;
    let mut hash = Sha256::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = resp.read(&mut buf).map_err(|e| Attempt::Failed(format!("reading the body: {e}")))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > cfg.max_bytes {
            return Err(Attempt::Failed(too_large(total, cfg.max_bytes)));
        }
        hash.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(|e| Attempt::Failed(format!("{}: {e}", dest.display())))?;
    }
    file.sync_all().map_err(|e| Attempt::Failed(format!("{}: {e}", dest.display())))?;
    let sha256 = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(Fetched::Body { route: route.clone(), bytes: total, sha256, validators })
}

fn too_large(got: u64, max: u64) -> String {
    format!("the feed is larger than the limit of {} MiB (at least {got} bytes; feeds.max_download_mb)", max >> 20)
}

fn validators(h: &HeaderMap) -> Validators {
    let text = |name| h.get(name).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok()).map(str::to_string);
    Validators { etag: text(ETAG), last_modified: text(LAST_MODIFIED) }
}

/// reqwest's message names the layer ("error sending request"); the cause
/// below it says what happened (refused, timed out, certificate).
fn error_chain(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() { "timed out".to_string() } else { e.to_string() };
    let mut src = std::error::Error::source(e);
    let mut depth = 0;
    while let Some(s) = src {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        src = s.source();
        depth += 1;
        if depth > 4 {
            break;
        }
    }
    msg
}
