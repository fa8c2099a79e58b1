//! The device's live link to the fleet server (`[server] url`, `token`,
//! `fingerprint`): what `netward sync` does once, done continuously, and
//! the policy subscription. The agent runs it on a thread of its own
//! (`netward run`); `netward sync --follow` runs it in the foreground on a
//! device without an agent. Two loops share one HTTP/2 connection:
//!
//! * upload: a sync every [`UPLOAD_EVERY`] from the cursor; the local store
//!   is the buffer while the server is away, and a failed sync is tried
//!   again after a backoff (1 s doubling to [`MAX_BACKOFF`]).
//! * policy: a long poll on `/v1/policy?since=V` answered as soon as the
//!   server's policy changes (or after its wait, then asked again); each
//!   answer is applied with `managed::apply` (5007 per change) and the
//!   caller's `on_policy` is told (the agent reloads). Unreachable: the
//!   device keeps its applied policy and asks again after a backoff; on
//!   reconnect the first answer is whatever changed meanwhile.
//!
//! [`Health`] is what `netward health` shows under `server`.

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use netward_server::{Client, SyncOptions};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const UPLOAD_EVERY: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The link's state.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Health {
    pub url: String,
    /// The last request of either loop got an answer.
    pub connected: bool,
    /// The last acknowledged upload, RFC 3339.
    pub last_upload: Option<String>,
    pub rows_uploaded: u64,
    /// Seconds since the store was last sent up to its end (0 right after
    /// a complete sync): how far the server's copy may be behind.
    pub cursor_lag_seconds: Option<u64>,
    pub policy_version: Option<u64>,
    pub policy_applied_at: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    #[serde(skip)]
    synced_at: Option<Instant>,
}

impl Health {
    /// A copy with the lag computed now.
    pub fn snapshot(&self) -> Health {
        let mut h = self.clone();
        h.cursor_lag_seconds = self.synced_at.map(|t| t.elapsed().as_secs());
        h
    }
}

/// The client the settings describe; `None` when `[server] url` is unset.
pub fn client(ctx: &Ctx) -> CliResult<Option<Client>> {
    let url = ctx.settings.get("server.url");
    if url.is_empty() {
        return Ok(None);
    }
    let (token, pin) = (ctx.settings.get("server.token"), ctx.settings.get("server.fingerprint"));
    Client::new(url, token, Some(pin)).map(Some).map_err(|e| CliError::bad_input(format!("[server]: {e}")))
}

/// Runs both loops until `stop()` says so. Blocking (its own runtime).
pub fn run(
    ctx: &Ctx,
    client: Client,
    health: Arc<Mutex<Health>>,
    stop: &(dyn Fn() -> bool + Sync),
    on_policy: &(dyn Fn() + Sync),
) -> CliResult<()> {
    set(&health, |h| h.url = client.url().to_string());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("cannot start the fleet link's runtime: {e}")))?;
    rt.block_on(async {
        tokio::join!(upload_loop(ctx, &client, &health, stop), policy_loop(ctx, &client, &health, stop, on_policy))
    });
    Ok(())
}

fn set(health: &Mutex<Health>, f: impl FnOnce(&mut Health)) {
    f(&mut health.lock().unwrap_or_else(|e| e.into_inner()));
}

fn failed(health: &Mutex<Health>, what: &str, e: &dyn std::fmt::Display) {
    let msg = format!("{what}: {e}");
    set(health, |h| {
        if h.last_error.as_deref() != Some(msg.as_str()) {
            eprintln!("netward: fleet server: {msg}");
        }
        h.connected = false;
        h.last_error = Some(msg);
        h.last_error_at = Some(crate::now().to_string());
    });
}

/// Sleeps `d`, waking early when asked to stop.
async fn nap(d: Duration, stop: &(dyn Fn() -> bool + Sync)) {
    let until = Instant::now() + d;
    while !stop() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100).min(until.saturating_duration_since(Instant::now()))).await;
    }
}

async fn upload_loop(ctx: &Ctx, client: &Client, health: &Mutex<Health>, stop: &(dyn Fn() -> bool + Sync)) {
    let store = ctx.data_dir.file(crate::cmd::import::STORE_DIR);
    let cursor = ctx.data_dir.file(netward_server::sync::CURSOR_FILE);
    let opts = SyncOptions::default();
    let mut backoff = Duration::from_secs(1);
    while !stop() {
        match netward_server::sync(&store, &cursor, client, &opts, &mut |_| {}).await {
            Ok(r) => {
                let sent: u64 = r.sent.values().sum();
                set(health, |h| {
                    h.connected = true;
                    h.rows_uploaded += sent;
                    if sent > 0 {
                        h.last_upload = Some(crate::now().to_string());
                    }
                    h.synced_at = Some(Instant::now());
                });
                backoff = Duration::from_secs(1);
                nap(UPLOAD_EVERY, stop).await;
            }
            Err(e) => {
                failed(health, "upload", &e);
                nap(backoff, stop).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn policy_loop(
    ctx: &Ctx,
    client: &Client,
    health: &Mutex<Health>,
    stop: &(dyn Fn() -> bool + Sync),
    on_policy: &(dyn Fn() + Sync),
) {
    // What this device holds from this server: ask only for what is newer.
    let applied = crate::managed::load(&ctx.data_dir).ok().flatten().filter(|m| m.server == client.url());
    let mut since = applied.as_ref().map(|m| m.policy.version);
    set(health, |h| {
        h.policy_version = since;
        h.policy_applied_at = applied.map(|m| m.applied_at);
    });
    let mut backoff = Duration::from_secs(1);
    while !stop() {
        let answer = tokio::select! {
            r = client.policy(since) => r,
            _ = nap(Duration::from_secs(3600), stop) => return,
        };
        match answer {
            Ok(None) => set(health, |h| h.connected = true),
            // Version 0: the server has no policy yet; the device stays unmanaged.
            Ok(Some(p)) if p.version == 0 => {
                since = Some(0);
                set(health, |h| h.connected = true);
            }
            Ok(Some(p)) => match crate::managed::apply(ctx, client.url(), &p) {
                Ok(changes) => {
                    since = Some(p.version);
                    backoff = Duration::from_secs(1);
                    if changes > 0 {
                        eprintln!("netward: fleet policy version {} applied ({changes} change(s))", p.version);
                        on_policy();
                    }
                    set(health, |h| {
                        h.connected = true;
                        h.policy_version = Some(p.version);
                        h.policy_applied_at = Some(crate::now().to_string());
                    });
                }
                Err(e) => {
                    failed(health, "applying the policy", &e);
                    nap(backoff, stop).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            },
            Err(e) => {
                failed(health, "policy", &e);
                nap(backoff, stop).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
