//! Desktop notifications: the notifier thread between the attribution
//! thread and the users' session buses.
//!
//! The attribution thread knows, for each enforced verdict, the uid of the
//! process whose connection was stopped; it hands a [`Notice`] over with
//! `try_send` on a bounded channel (full: dropped and counted), so nothing
//! on the way from the packet to the store ever waits for a bus. This thread
//! limits the rate (`rate`: per user and destination, and per user), keeps
//! one connection per user's bus (`bus`: opened as that user, with
//! timeouts; a bus that cannot be reached is not tried again for a while),
//! and sends `org.freedesktop.Notifications.Notify` with the site, the
//! reason, the organisation's text and help URL. A warn's notification
//! carries the action "Allow for N hours": its `ActionInvoked` signal (from
//! the server that took the notification, for an id this thread sent to
//! that user) adds a temporary allow for that user and site (`crate::warn`,
//! with its 5007 entry) and asks the agent to reload, so the next
//! connection passes. Counters go to `netward health`.

pub mod bus;
pub mod rate;

use crate::datadir::DataDir;
use crate::settings::Settings;
use futures_util::StreamExt;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{self, error::TrySendError};

/// Notices waiting for the notifier at most.
const BACKLOG: usize = 256;
/// Actions (button presses) waiting at most.
const ACTION_BACKLOG: usize = 64;
/// Each step on a bus (connect, authenticate, a call) within this.
const BUS_TIMEOUT: Duration = Duration::from_secs(2);
/// A bus that could not be reached is tried again after this.
const RETRY_AFTER: Duration = Duration::from_secs(30);
/// Users' buses held open at once (the least recently used closes first).
const MAX_SESSIONS: usize = 32;
/// Warn notifications whose action is still awaited (oldest forgotten).
const MAX_PENDING: usize = 1024;
/// (user, destination) pairs the rate limiter remembers.
const RATE_PAIRS: usize = 4096;
/// The action key of "Allow for N hours".
pub const ALLOW_ACTION: &str = "netward-allow";

/// One enforced verdict to tell a user about.
#[derive(Debug, Clone)]
pub struct Notice {
    pub uid: u32,
    pub account: Option<String>,
    /// The canonical host stopped.
    pub site: String,
    /// The indicator's title, else the response category.
    pub reason: String,
    /// A warn indicator (the notification offers the temporary allow).
    pub warn: bool,
}

impl Notice {
    /// The notice of an event, when it is an enforced verdict.
    pub fn of(ev: &netward_events::NetworkEvent, uid: u32) -> Option<Notice> {
        if ev.action_type != Some(netward_events::ActionType::ExploitGuardNetworkProtectionBlocked) {
            return None;
        }
        let f = &ev.additional_fields;
        let text = |k: &str| f.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        let (title, url) = (text("DisplayName"), text("url"));
        let reason = if !title.is_empty() && title != url { title } else { text("ResponseCategory") };
        let account = Some(ev.process.account_name.clone()).filter(|a| !a.is_empty());
        Some(Notice { uid, account, site: ev.remote_url.clone(), reason, warn: text("action") == "warn" })
    }
}

/// What the notifications look like; read again at each reload.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub enabled: bool,
    pub text: String,
    pub help_url: String,
    pub bus: bus::BusTemplate,
    pub interval: Duration,
    pub allow_hours: u64,
}

impl NotifyConfig {
    pub fn from_settings(s: &Settings) -> Result<NotifyConfig, String> {
        use crate::settings as k;
        let text = match s.get(k::NOTIFICATION_TEXT) {
            "" => s.get("network_protection.help_text"),
            t => t,
        };
        Ok(NotifyConfig {
            enabled: s.get(k::NOTIFICATION_ENABLED) == "true",
            text: text.to_string(),
            help_url: s.get(k::NOTIFICATION_HELP_URL).to_string(),
            bus: bus::BusTemplate::parse(s.get(k::NOTIFICATION_BUS))?,
            interval: Duration::from_secs(s.get_u64(k::NOTIFICATION_INTERVAL).max(1)),
            allow_hours: s.get_u64(k::WARN_ALLOW_HOURS).max(1),
        })
    }
}

#[derive(Default)]
pub struct NotifyStats {
    pub queued: AtomicU64,
    /// The channel was full: the notice was not sent.
    pub dropped: AtomicU64,
    pub rate_limited: AtomicU64,
    pub sent: AtomicU64,
    /// A Notify call failed or timed out.
    pub failed: AtomicU64,
    /// The user's bus could not be reached (or was not retried yet).
    pub bus_unavailable: AtomicU64,
    pub actions: AtomicU64,
    /// Temporary allows added from a notification.
    pub allows: AtomicU64,
    pub sessions: AtomicU64,
    pub last_error: Mutex<String>,
}

/// The sending side, held by the attribution thread and the control thread.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::Sender<Notice>,
    enabled: Arc<AtomicBool>,
    config: Arc<Mutex<NotifyConfig>>,
    pub stats: Arc<NotifyStats>,
}

impl Notifier {
    /// Never waits: a full channel drops the notice (counted).
    pub fn tell(&self, n: Notice) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        match self.tx.try_send(n) {
            Ok(()) => self.stats.queued.fetch_add(1, Ordering::Relaxed),
            Err(TrySendError::Full(_) | TrySendError::Closed(_)) => self.stats.dropped.fetch_add(1, Ordering::Relaxed),
        };
    }

    /// The settings changed (the agent's reload).
    pub fn reconfigure(&self, settings: &Settings) {
        match NotifyConfig::from_settings(settings) {
            Ok(c) => {
                self.enabled.store(c.enabled, Ordering::Relaxed);
                if let Ok(mut cur) = self.config.lock() {
                    *cur = c;
                }
            }
            Err(e) => note_error(&self.stats, &format!("settings: {e}")),
        }
    }

    pub fn health(&self) -> serde_json::Value {
        let s = &self.stats;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        json!({
            "enabled": self.enabled.load(Ordering::Relaxed),
            "queued": n(&s.queued),
            "dropped": n(&s.dropped),
            "rate_limited": n(&s.rate_limited),
            "sent": n(&s.sent),
            "failed": n(&s.failed),
            "bus_unavailable": n(&s.bus_unavailable),
            "actions": n(&s.actions),
            "allows": n(&s.allows),
            "sessions": n(&s.sessions),
            "last_error": s.last_error.lock().map(|e| e.clone()).unwrap_or_default(),
        })
    }
}

fn note_error(stats: &NotifyStats, e: &str) {
    if let Ok(mut last) = stats.last_error.lock() {
        *last = e.to_string();
    }
}

/// Starts the notifier thread (it ends when every [`Notifier`] is dropped).
pub fn spawn(data_dir: DataDir, settings: &Settings) -> Result<Notifier, String> {
    let config = NotifyConfig::from_settings(settings)?;
    let (tx, rx) = mpsc::channel(BACKLOG);
    let notifier = Notifier {
        tx,
        enabled: Arc::new(AtomicBool::new(config.enabled)),
        config: Arc::new(Mutex::new(config)),
        stats: Arc::default(),
    };
    let (config, stats) = (notifier.config.clone(), notifier.stats.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the notifier's runtime: {e}"))?;
    std::thread::Builder::new()
        .name("netward-notify".into())
        .spawn(move || rt.block_on(Desk::new(data_dir, config, stats).run(rx)))
        .map_err(|e| format!("cannot start the notifier thread: {e}"))?;
    Ok(notifier)
}

/// A user's bus, open.
struct Session {
    conn: zbus::Connection,
    /// The unique name of the notification server that answered last.
    server: Option<String>,
    used: Instant,
    listener: tokio::task::JoinHandle<()>,
}

/// A press on a notification's button, read from a user's bus.
struct Action {
    uid: u32,
    id: u32,
    key: String,
    sender: Option<String>,
}

/// The notifier thread's state.
struct Desk {
    data_dir: DataDir,
    config: Arc<Mutex<NotifyConfig>>,
    stats: Arc<NotifyStats>,
    limiter: rate::RateLimiter,
    sessions: HashMap<u32, Session>,
    /// uid -> when its bus may be tried again.
    down: HashMap<u32, Instant>,
    /// (uid, notification id) -> (site, account, sent): warns awaiting a choice.
    pending: HashMap<(u32, u32), (String, Option<String>, Instant)>,
    actions_tx: mpsc::Sender<Action>,
    actions_rx: Option<mpsc::Receiver<Action>>,
}

impl Desk {
    fn new(data_dir: DataDir, config: Arc<Mutex<NotifyConfig>>, stats: Arc<NotifyStats>) -> Desk {
        let interval = config.lock().map(|c| c.interval).unwrap_or(Duration::from_secs(60));
        let (actions_tx, actions_rx) = mpsc::channel(ACTION_BACKLOG);
        Desk {
            data_dir,
            config,
            stats,
            limiter: rate::RateLimiter::new(interval, RATE_PAIRS),
            sessions: HashMap::new(),
            down: HashMap::new(),
            pending: HashMap::new(),
            actions_tx,
            actions_rx: Some(actions_rx),
        }
    }

    fn config(&self) -> NotifyConfig {
        self.config.lock().map(|c| c.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    async fn run(mut self, mut notices: mpsc::Receiver<Notice>) {
        let Some(mut actions) = self.actions_rx.take() else { return };
        loop {
            tokio::select! {
                n = notices.recv() => match n {
                    Some(n) => self.notice(n).await,
                    None => return,
                },
                Some(a) = actions.recv() => self.action(a).await,
            }
        }
    }

    async fn notice(&mut self, n: Notice) {
        let cfg = self.config();
        if !cfg.enabled {
            return;
        }
        if !self.limiter.allow(n.uid, &n.site, Instant::now()) {
            self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Some(conn) = self.session(n.uid, &cfg).await else {
            self.stats.bus_unavailable.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let toast = toast(&n, &cfg);
        match bus::notify(&conn, &toast, BUS_TIMEOUT).await {
            Ok((id, server)) => {
                self.stats.sent.fetch_add(1, Ordering::Relaxed);
                if let Some(s) = self.sessions.get_mut(&n.uid) {
                    s.server = server.or(s.server.take());
                }
                if n.warn {
                    if self.pending.len() >= MAX_PENDING {
                        let oldest = self.pending.iter().min_by_key(|(_, v)| v.2).map(|(k, _)| *k);
                        if let Some(k) = oldest {
                            self.pending.remove(&k);
                        }
                    }
                    self.pending.insert((n.uid, id), (n.site, n.account, Instant::now()));
                }
            }
            Err(e) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                note_error(&self.stats, &format!("uid {}: {e}", n.uid));
                // The connection may be broken: the next notice opens a new one.
                self.close(n.uid);
            }
        }
    }

    /// The user's open bus, or a new one (as that user); `None` while it
    /// cannot be reached.
    async fn session(&mut self, uid: u32, cfg: &NotifyConfig) -> Option<zbus::Connection> {
        if let Some(s) = self.sessions.get_mut(&uid) {
            if !s.listener.is_finished() {
                s.used = Instant::now();
                return Some(s.conn.clone());
            }
            self.close(uid);
        }
        if self.down.get(&uid).is_some_and(|t| Instant::now() < *t) {
            return None;
        }
        let opened = async {
            let conn = bus::open(uid, cfg.bus.path_for(uid), BUS_TIMEOUT).await?;
            let stream = tokio::time::timeout(BUS_TIMEOUT, bus::actions(&conn))
                .await
                .map_err(|_| "AddMatch timed out".to_string())??;
            Ok::<_, String>((conn, stream))
        };
        match opened.await {
            Ok((conn, mut stream)) => {
                self.down.remove(&uid);
                if self.sessions.len() >= MAX_SESSIONS {
                    let lru = self.sessions.iter().min_by_key(|(_, s)| s.used).map(|(u, _)| *u);
                    if let Some(u) = lru {
                        self.close(u);
                    }
                }
                let tx = self.actions_tx.clone();
                let listener = tokio::spawn(async move {
                    while let Some(Ok(msg)) = stream.next().await {
                        if let Some((id, key, sender)) = bus::action_of(&msg) {
                            let _ = tx.try_send(Action { uid, id, key, sender });
                        }
                    }
                });
                let s = Session { conn: conn.clone(), server: None, used: Instant::now(), listener };
                self.sessions.insert(uid, s);
                self.stats.sessions.store(self.sessions.len() as u64, Ordering::Relaxed);
                Some(conn)
            }
            Err(e) => {
                note_error(&self.stats, &format!("uid {uid}: {e}"));
                if self.down.len() >= MAX_SESSIONS * 4 {
                    let now = Instant::now();
                    self.down.retain(|_, t| *t > now);
                }
                if self.down.len() < MAX_SESSIONS * 4 {
                    self.down.insert(uid, Instant::now() + RETRY_AFTER);
                }
                None
            }
        }
    }

    fn close(&mut self, uid: u32) {
        if let Some(s) = self.sessions.remove(&uid) {
            s.listener.abort();
        }
        self.stats.sessions.store(self.sessions.len() as u64, Ordering::Relaxed);
    }

    /// A button pressed: the allow is added when it is ours, for a warn this
    /// thread sent to that user, and comes from the server that took it.
    async fn action(&mut self, a: Action) {
        self.stats.actions.fetch_add(1, Ordering::Relaxed);
        if a.key != ALLOW_ACTION {
            return;
        }
        let server = self.sessions.get(&a.uid).and_then(|s| s.server.clone());
        if server.is_some() && server != a.sender {
            note_error(&self.stats, &format!("uid {}: ActionInvoked from {:?}, not the server", a.uid, a.sender));
            return;
        }
        let Some((site, account, _)) = self.pending.remove(&(a.uid, a.id)) else { return };
        let hours = self.config().allow_hours;
        let (dir, stats, uid) = (self.data_dir.clone(), self.stats.clone(), a.uid);
        // File writes, the lock and the reload request off the async thread.
        let done = tokio::task::spawn_blocking(move || {
            let who = format!("{} via notification", account.as_deref().map_or(format!("uid {uid}"), str::to_string));
            crate::warn::allow(&dir, &site, Some(uid), account.as_deref(), crate::now(), hours * 3600, &who)
                .map_err(|e| e.to_string())?;
            match super::control::request(&dir, "reload") {
                Some(Err(e)) => Err(format!("reload: {e}")),
                _ => Ok(()),
            }
        })
        .await;
        match done {
            Ok(Ok(())) => {
                stats.allows.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(e)) => note_error(&stats, &format!("uid {uid}: cannot allow: {e}")),
            Err(e) => note_error(&stats, &format!("uid {uid}: cannot allow: {e}")),
        }
    }
}

/// The notification's words.
fn toast(n: &Notice, cfg: &NotifyConfig) -> bus::Toast {
    let site = bus::escape(&n.site);
    let reason = bus::escape(&n.reason);
    let (summary, mut body) = if n.warn {
        (
            format!("Warning: {} was blocked", n.site),
            format!(
                "{site} may be unsafe ({reason}). Choose \u{201c}Allow for {} hours\u{201d} to open it anyway.",
                cfg.allow_hours
            ),
        )
    } else {
        (format!("Blocked: {}", n.site), format!("Your organisation blocked {site} ({reason})."))
    };
    if !cfg.text.is_empty() {
        body.push('\n');
        body.push_str(&bus::escape(&cfg.text));
    }
    if !cfg.help_url.is_empty() {
        body.push('\n');
        body.push_str(&bus::escape(&cfg.help_url));
    }
    let actions = if n.warn {
        vec![(ALLOW_ACTION.to_string(), format!("Allow for {} hours", cfg.allow_hours))]
    } else {
        Vec::new()
    };
    bus::Toast { summary, body, actions }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> NotifyConfig {
        NotifyConfig {
            enabled: true,
            text: "Ask IT <it@example>".into(),
            help_url: "https://help.example/np".into(),
            bus: bus::BusTemplate::parse("unix:path=/run/user/{uid}/bus").unwrap(),
            interval: Duration::from_secs(60),
            allow_hours: 24,
        }
    }

    #[test]
    fn a_warn_offers_the_allow_and_a_block_does_not() {
        let n = Notice { uid: 1, account: None, site: "warn.test".into(), reason: "risky".into(), warn: true };
        let t = toast(&n, &cfg());
        assert_eq!(t.actions, vec![(ALLOW_ACTION.to_string(), "Allow for 24 hours".to_string())]);
        assert!(t.body.contains("warn.test") && t.body.contains("risky"), "{}", t.body);
        assert!(t.body.contains("Ask IT &lt;it@example&gt;") && t.body.contains("https://help.example/np"));
        let t = toast(&Notice { warn: false, ..n }, &cfg());
        assert!(t.actions.is_empty());
        assert_eq!(t.summary, "Blocked: warn.test");
    }

    #[test]
    fn a_full_channel_drops_and_counts_without_waiting() {
        let (tx, _rx) = mpsc::channel(1);
        let n = Notifier {
            tx,
            enabled: Arc::new(AtomicBool::new(true)),
            config: Arc::new(Mutex::new(cfg())),
            stats: Arc::default(),
        };
        let notice = Notice { uid: 1, account: None, site: "a.test".into(), reason: String::new(), warn: false };
        for _ in 0..5 {
            n.tell(notice.clone());
        }
        assert_eq!(n.stats.queued.load(Ordering::Relaxed), 1);
        assert_eq!(n.stats.dropped.load(Ordering::Relaxed), 4);
        n.enabled.store(false, Ordering::Relaxed);
        n.tell(notice);
        assert_eq!(n.stats.dropped.load(Ordering::Relaxed), 4, "disabled: nothing queued, nothing counted");
    }
}
