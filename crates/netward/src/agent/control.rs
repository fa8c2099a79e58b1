//! The agent's control socket: `<data dir>/agent.sock`, mode 0600, and the
//! peer's uid checked (root only). One JSON request per connection, one JSON
//! answer: `{"cmd":"health"}` or `{"cmd":"reload"}` (settings and policy
//! read again from the data directory and applied to the next connection).
//! The CLI's `config` and `indicator` commands write the data directory as
//! always and then ask a running agent to reload.

use crate::datadir::DataDir;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::Duration;

pub const SOCKET: &str = "agent.sock";
/// A request is one short line; anything longer is refused.
const MAX_REQUEST: u64 = 4096;

pub fn socket_path(dir: &DataDir) -> PathBuf {
    dir.file(SOCKET)
}

pub fn bind(dir: &DataDir) -> std::io::Result<UnixListener> {
    let path = socket_path(dir);
    // A socket file left by a killed agent: nobody answers on it.
    if path.exists() && UnixStream::connect(&path).is_err() {
        std::fs::remove_file(&path)?;
    }
    let l = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

/// Serves requests until the listener fails; `handle` answers each one.
pub fn serve(listener: UnixListener, handle: impl Fn(&str) -> Value) {
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
        let allowed = nix::sys::socket::getsockopt(&conn, nix::sys::socket::sockopt::PeerCredentials)
            .map(|c| c.uid() == 0)
            .unwrap_or(false);
        let answer = if !allowed {
            json!({"error": "only root may control the agent"})
        } else {
            let mut line = String::new();
            let mut r = BufReader::new((&conn).take(MAX_REQUEST));
            match r.read_line(&mut line) {
                Ok(_) => match serde_json::from_str::<Value>(&line) {
                    Ok(req) => handle(req.get("cmd").and_then(Value::as_str).unwrap_or("")),
                    Err(e) => json!({"error": format!("bad request: {e}")}),
                },
                Err(e) => json!({"error": format!("cannot read request: {e}")}),
            }
        };
        let _ = writeln!(conn, "{answer}");
    }
}

/// Asks the agent of this data directory; `None` when no agent listens.
pub fn request(dir: &DataDir, cmd: &str) -> Option<Result<Value, String>> {
    let mut conn = UnixStream::connect(socket_path(dir)).ok()?;
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let res = (|| {
        writeln!(conn, "{}", json!({ "cmd": cmd })).map_err(|e| e.to_string())?;
        let mut line = String::new();
        BufReader::new(&conn).read_line(&mut line).map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&line).map_err(|e| format!("bad answer from the agent: {e}"))?;
        match v.get("error").and_then(Value::as_str) {
            Some(e) => Err(e.to_string()),
            None => Ok(v),
        }
    })();
    Some(res)
}

/// After a change to the data directory: a running agent applies it now.
pub fn notify_change(dir: &DataDir) {
    match request(dir, "reload") {
        None => {}
        Some(Ok(_)) => eprintln!("applied to the running agent"),
        Some(Err(e)) => eprintln!("warning: the running agent did not apply the change: {e}"),
    }
}
