//! The agent's feed refresher: a thread of its own (never the queue thread)
//! that looks at the subscriptions every few seconds and refreshes the due
//! ones, one at a time, exactly as `netward feed update` does
//! (`cmd::feed::refresh`: download unlocked, swap under the lock, 5007).
//! New entries reach the packet path the way every other policy change
//! does: a `reload` on the agent's own control socket. A failure is kept in
//! the subscription's state and retried with backoff (`netward_feeds::refresh`);
//! `netward health` shows each feed's state from the subscription file.

use crate::context::Ctx;
use crate::oplog::{self, OperationalEvent};
use netward_datapath::wake;
use netward_feeds::{Outcome, Subscriptions};
use std::time::{Duration, Instant};

/// How often the subscription file is looked at: a new subscription or a
/// due retry waits at most this long.
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// Who the 5007 events of the agent's refreshes name.
const WHO: &str = "netward agent (feed refresh)";

/// Starts the refresher, detached: it may be in a download when the agent
/// stops, and the process exits under it (the swap is atomic).
pub fn spawn(ctx: Ctx) {
    std::thread::Builder::new()
        .name("feeds".into())
        .spawn(move || run(ctx))
        .map(|_| ())
        .unwrap_or_else(|e| eprintln!("netward run: no feed refresher: {e}"));
}

fn run(ctx: Ctx) {
    let mut last = Instant::now() - LOOK_EVERY;
    // One complaint per distinct problem with the file, not one a tick.
    let mut last_problem = String::new();
    while !wake::stop_requested() {
        std::thread::sleep(Duration::from_millis(250));
        if last.elapsed() < LOOK_EVERY {
            continue;
        }
        last = Instant::now();
        let subs = match Subscriptions::load(&ctx.data_dir.path) {
            Ok(s) => s,
            Err(e) => {
                let msg = e.to_string();
                if msg != last_problem {
                    report_error(&ctx, &msg);
                    last_problem = msg;
                }
                continue;
            }
        };
        let now = crate::now().unix_nanos().div_euclid(1_000_000_000);
        for sub in subs.list.iter().filter(|s| s.due(now)) {
            if wake::stop_requested() {
                return;
            }
            // Settings as they are now: a changed proxy applies to the next download.
            let fresh = match ctx.reloaded() {
                Ok(c) => c,
                Err(e) => {
                    report_error(&ctx, &e.message);
                    break;
                }
            };
            match crate::cmd::feed::refresh(&fresh, sub, WHO) {
                Ok(Some(r)) => match &r.outcome {
                    Outcome::Updated { report, .. } => {
                        eprintln!(
                            "netward run: feed {}: {} entries ({} malformed lines)",
                            r.name, r.entries, report.errors
                        );
                        reload(&ctx);
                    }
                    Outcome::Unchanged { .. } => {}
                    Outcome::Failed { error } => eprintln!("netward run: feed {}: {error}", r.name),
                },
                Ok(None) => {}
                Err(e) => report_error(&ctx, &format!("feed {}: {}", sub.name, e.message)),
            }
        }
    }
}

/// The queue thread picks the new policy up like any CLI change.
fn reload(ctx: &Ctx) {
    match super::control::request(&ctx.data_dir, "reload") {
        Some(Ok(_)) => {}
        Some(Err(e)) => report_error(ctx, &format!("reload after a feed refresh: {e}")),
        None => report_error(ctx, "reload after a feed refresh: the control socket does not answer"),
    }
}

fn report_error(ctx: &Ctx, msg: &str) {
    eprintln!("netward run: feeds: {msg}");
    let _ = oplog::append(&ctx.data_dir, &[OperationalEvent::agent_error(crate::now(), "feeds", msg)]);
}

/// Each subscription's state, for `netward health`.
pub fn health(ctx: &Ctx) -> serde_json::Value {
    match Subscriptions::load(&ctx.data_dir.path) {
        Ok(subs) => serde_json::Value::Array(crate::cmd::feed::as_json(&subs)),
        Err(e) => serde_json::json!({"error": e.to_string()}),
    }
}
