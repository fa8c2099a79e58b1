//! The web portal inside `netward run` (`[portal] enabled = true`): the same
//! router `netward portal` serves (`cmd::portal`: the CLI's backend on the
//! agent's data directory, the same transport rules and certificate), on a
//! thread of its own with a small Tokio runtime, off the packet path. A
//! portal that cannot start (a bad certificate, a taken port) is said on
//! stderr and in `netward health`, and the agent goes on protecting: the
//! portal is a window on the data, not part of enforcement.

use crate::context::Ctx;
use crate::settings::PORTAL_ENABLED;
use serde_json::{json, Value};
use std::sync::{Mutex, OnceLock};

/// What `netward health` shows under `portal` (unset: not enabled).
static HEALTH: OnceLock<Mutex<Value>> = OnceLock::new();

fn set(v: Value) {
    let slot = HEALTH.get_or_init(|| Mutex::new(Value::Null));
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = v;
}

/// `{"url", "tls", "fingerprint"}` once listening, `{"error"}` if it could
/// not start; null when the portal is not enabled.
pub fn health() -> Value {
    HEALTH.get().map(|m| m.lock().unwrap_or_else(|e| e.into_inner()).clone()).unwrap_or(Value::Null)
}

/// Starts the portal when the settings enable it; detached (it blocks in
/// accept, and the process exits under it at stop).
pub fn spawn(ctx: Ctx) {
    if ctx.settings.get(PORTAL_ENABLED) != "true" {
        return;
    }
    let started = std::thread::Builder::new().name("portal".into()).spawn(move || {
        if let Err(e) = run(&ctx) {
            eprintln!("netward run: portal not served: {e}");
            set(json!({ "error": e }));
        }
    });
    if let Err(e) = started {
        eprintln!("netward run: no portal thread: {e}");
        set(json!({ "error": e.to_string() }));
    }
}

fn run(ctx: &Ctx) -> Result<(), String> {
    use crate::cmd::portal as p;
    let listen = p::listen_setting(ctx).map_err(|e| e.to_string())?;
    p::warn_if_no_users(ctx).map_err(|e| e.to_string())?;
    let opts = p::options(ctx, listen, false).map_err(|e| e.to_string())?;
    let fingerprint = opts.tls.as_ref().map(|t| t.fingerprint.clone());
    let backend = p::backend(ctx).map_err(|e| e.to_string())?;
    // Two workers: pages wait on queries in blocking threads, not here.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("portal-rt")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the portal runtime: {e}"))?;
    rt.block_on(async move {
        let bound = netward_portal::bind(backend, opts).await?;
        eprintln!("netward run: {}", bound.banner());
        set(json!({ "url": bound.url(), "tls": fingerprint.is_some(), "fingerprint": fingerprint }));
        bound.run().await
    })
}
