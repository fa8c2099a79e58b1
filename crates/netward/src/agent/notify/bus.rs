//! A user's session bus, as that user: where it is (`notification.bus_address`,
//! `{uid}` replaced), the connection, the `Notify` call and the
//! `ActionInvoked` signals, with zbus on the notifier's own Tokio runtime.
//!
//! How the agent (root) connects as the user: the bus daemon takes the
//! peer's credentials from the socket (SO_PEERCRED, the connecting thread's
//! effective uid at connect time) and, with the EXTERNAL mechanism, checks
//! them against the uid the client claims; a session bus lets only its own
//! user in. So the socket is connected from a short-lived thread that has
//! first set its own effective uid to the user's (Linux credentials are per
//! thread; `rustix::thread::set_thread_res_uid` makes the raw syscall, not
//! glibc's process-wide setresuid), and the thread ends there, so no other
//! code ever runs as the user. The file access to `/run/user/UID` is the
//! user's own, too. The connected socket is handed to zbus, which
//! authenticates with EXTERNAL and the user's uid (`Builder::user_id`).

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;
use zbus::connection::{AuthMechanism, Builder};
use zbus::{Connection, MatchRule, Message, MessageStream};

pub const NOTIFICATIONS: &str = "org.freedesktop.Notifications";
const NOTIFICATIONS_PATH: &str = "/org/freedesktop/Notifications";

/// `unix:path=...` with `{uid}` in it (other transports are refused: a user's
/// bus is a local socket, and the agent must connect as that user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusTemplate(String);

impl BusTemplate {
    pub fn parse(v: &str) -> Result<BusTemplate, String> {
        let path = v
            .strip_prefix("unix:path=")
            .ok_or("expected unix:path=/PATH (with {uid} for the user's uid), e.g. unix:path=/run/user/{uid}/bus")?;
        if !path.starts_with('/') || path.contains(',') || path.contains(';') {
            return Err("expected one absolute path after unix:path= (no other keys)".into());
        }
        let rest = path.replace("{uid}", "");
        if rest.contains('{') || rest.contains('}') {
            return Err("only {uid} may stand in braces".into());
        }
        Ok(BusTemplate(path.to_string()))
    }

    pub fn path_for(&self, uid: u32) -> PathBuf {
        PathBuf::from(self.0.replace("{uid}", &uid.to_string()))
    }
}

/// Connects to `path` from a thread whose effective uid is `uid`; the thread
/// ends with the connect.
fn connect_as(uid: u32, path: &Path) -> std::io::Result<UnixStream> {
    rustix::thread::set_thread_res_uid(None, rustix::process::Uid::from_raw(uid), None)?;
    UnixStream::connect(path)
}

/// The user's bus, connected and authenticated within `timeout`.
pub async fn open(uid: u32, path: PathBuf, timeout: Duration) -> Result<Connection, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("netward-bus-connect".into())
        .spawn(move || {
            let _ = tx.send(connect_as(uid, &path).map_err(|e| format!("{}: {e}", path.display())));
        })
        .map_err(|e| format!("cannot start the connecting thread: {e}"))?;
    let stream = tokio::time::timeout(timeout, rx)
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|_| "the connecting thread ended".to_string())??;
    let build = Builder::unix_stream(stream)
        .auth_mechanism(AuthMechanism::External)
        .user_id(uid)
        .method_timeout(timeout)
        .build();
    tokio::time::timeout(timeout, build)
        .await
        .map_err(|_| "authentication timed out".to_string())?
        .map_err(|e| format!("cannot authenticate: {e}"))
}

/// One notification as the desktop shows it.
pub struct Toast {
    pub summary: String,
    pub body: String,
    /// (key, label) pairs: the buttons.
    pub actions: Vec<(String, String)>,
}

/// Sends `Notify`; the notification's id and the unique name of the server
/// that answered (only its `ActionInvoked` signals are believed).
pub async fn notify(conn: &Connection, t: &Toast, timeout: Duration) -> Result<(u32, Option<String>), String> {
    let actions: Vec<&str> = t.actions.iter().flat_map(|(k, l)| [k.as_str(), l.as_str()]).collect();
    // urgency 1 (normal); a warn asks for a choice, so it does not expire by itself.
    let mut hints = std::collections::HashMap::<&str, zbus::Variant<'_>>::new();
    hints.insert("urgency", zbus::Variant::U8(1));
    let expire: i32 = if t.actions.is_empty() { -1 } else { 0 };
    let body = ("netward", 0u32, "security-high", t.summary.as_str(), t.body.as_str(), actions, hints, expire);
    let call = conn.call_method(Some(NOTIFICATIONS), NOTIFICATIONS_PATH, Some(NOTIFICATIONS), "Notify", &body);
    let reply = tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| "Notify timed out".to_string())?
        .map_err(|e| format!("Notify failed: {e}"))?;
    let id: u32 = reply.body().deserialize().map_err(|e| format!("bad Notify reply: {e}"))?;
    let server = reply.header().sender().map(|s| s.to_string());
    Ok((id, server))
}

/// The `ActionInvoked` signals of this connection.
pub async fn actions(conn: &Connection) -> Result<MessageStream, String> {
    let rule = MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(NOTIFICATIONS)
        .member("ActionInvoked")
        .build()
        .map_err(|e| e.to_string())?;
    MessageStream::for_match_rule(rule, conn, None).await.map_err(|e| format!("cannot watch ActionInvoked: {e}"))
}

/// An `ActionInvoked(id, key)` signal and its sender.
pub fn action_of(msg: &Message) -> Option<(u32, String, Option<String>)> {
    let h = msg.header();
    if h.member().map(|m| m.as_str()) != Some("ActionInvoked") {
        return None;
    }
    let sender = h.sender().map(|s| s.to_string());
    let (id, key): (u32, String) = msg.body().deserialize().ok()?;
    Some((id, key, sender))
}

/// Notification bodies may be markup: the organisation's and the site's
/// text are shown as written.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bus_template_is_a_unix_path_with_the_uid() {
        let t = BusTemplate::parse("unix:path=/run/user/{uid}/bus").unwrap();
        assert_eq!(t.path_for(1000), PathBuf::from("/run/user/1000/bus"));
        assert_eq!(BusTemplate::parse("unix:path=/tmp/b").unwrap().path_for(5), PathBuf::from("/tmp/b"));
        for bad in
            ["", "tcp:host=x", "unix:abstract=x", "unix:path=rel/bus", "unix:path=/a,guid=1", "unix:path=/{user}"]
        {
            assert!(BusTemplate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(escape("<b>a&b</b>"), "&lt;b&gt;a&amp;b&lt;/b&gt;");
    }
}
