//! The agent's fleet link: `crate::fleet` on a thread of its own (never the
//! queue thread) when `[server] url` is set. A policy the server changes
//! reaches the packet path as every other change does: a `reload` on the
//! agent's own control socket. `netward health` shows the link's state
//! under `server`.

use crate::context::Ctx;
use crate::fleet::Health;
use crate::oplog::{self, OperationalEvent};
use netward_datapath::wake;
use std::sync::{Arc, Mutex};

/// Starts the link, detached (the process exits under a long poll); `None`
/// when no server is configured or the settings are wrong (said and
/// recorded as 3002: the agent protects without the server).
pub fn spawn(ctx: Ctx) -> Option<Arc<Mutex<Health>>> {
    let client = match crate::fleet::client(&ctx) {
        Ok(Some(c)) => c,
        Ok(None) => return None,
        Err(e) => {
            report_error(&ctx, &e.message);
            return None;
        }
    };
    let health = Arc::new(Mutex::new(Health::default()));
    let h = health.clone();
    let started = std::thread::Builder::new().name("fleet".into()).spawn(move || {
        let reload = || match super::control::request(&ctx.data_dir, "reload") {
            Some(Ok(_)) => {}
            Some(Err(e)) => report_error(&ctx, &format!("reload after a policy change: {e}")),
            None => report_error(&ctx, "reload after a policy change: the control socket does not answer"),
        };
        if let Err(e) = crate::fleet::run(&ctx, client, h, &wake::stop_requested, &reload) {
            report_error(&ctx, &e.message);
        }
    });
    match started {
        Ok(_) => Some(health),
        Err(e) => {
            eprintln!("netward run: no fleet link: {e}");
            None
        }
    }
}

fn report_error(ctx: &Ctx, msg: &str) {
    eprintln!("netward run: fleet: {msg}");
    let _ = oplog::append(&ctx.data_dir, &[OperationalEvent::agent_error(crate::now(), "fleet", msg)]);
}
