//! A managed device: the fleet server's policy as this device last applied
//! it, in `<data dir>/managed-policy.json`, so the device keeps it while the
//! server is away and after a restart. The server's indicators live in the
//! policy store's managed segment (`policy/managed.json`), its settings are
//! the top settings layer (`Source::Server`, over the file and the CLI), and
//! its `allow_local_changes` decides whether `indicator`, `config`, `feed`
//! and the portal may still change this device's policy ([`refuse_local_change`]).
//!
//! [`apply`] turns a new server policy into the device's: under the data
//! directory's lock, the difference to what is applied is written as one
//! 5007 event per change (who: `fleet server <url>`), the same events the
//! local commands write.

use crate::context::Ctx;
use crate::datadir::DataDir;
use crate::error::{CliError, CliResult, Context};
use crate::oplog::{self, OperationalEvent};
use netward_policy::{Indicator, Origin};
use netward_server::policy::DevicePolicy;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub const MANAGED_FILE: &str = "managed-policy.json";
/// The 5007 `Setting` of the server's own switch.
pub const ALLOW_LOCAL_SETTING: &str = "fleet.allow_local_changes";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Managed {
    /// The server's URL.
    pub server: String,
    /// When this device applied it, RFC 3339.
    pub applied_at: String,
    pub policy: DevicePolicy,
}

/// The applied server policy; `None` on an unmanaged device.
pub fn load(dir: &DataDir) -> CliResult<Option<Managed>> {
    let path = dir.file(MANAGED_FILE);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
            CliError::failure(format!("{} is damaged: {e}", path.display()))
                .with_hint("the device takes the server's policy again at its next contact (remove the file)")
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::failure(format!("cannot read {}: {e}", path.display()))),
    }
}

/// The server's settings (the settings' top layer).
pub fn settings(dir: &DataDir) -> CliResult<BTreeMap<String, String>> {
    Ok(load(dir)?.map(|m| m.policy.settings).unwrap_or_default())
}

/// Refuses a local policy change (exit 2) on a device whose server does
/// not allow them; `what` names the change for the message.
pub fn refuse_local_change(dir: &DataDir, what: &str) -> CliResult<()> {
    let Some(m) = load(dir)? else { return Ok(()) };
    if m.policy.allow_local_changes {
        return Ok(());
    }
    let group = m.policy.group.as_deref().map(|g| format!(", group {g}")).unwrap_or_default();
    Err(CliError::bad_input(format!(
        "this device is managed by the fleet server {} (policy version {}{group}): local {what} changes are refused",
        m.server, m.policy.version
    ))
    .with_hint(
        "make the change on the server (netward server indicator|config ...), or ask its admin to allow local changes: netward server config local-changes --value allow",
    ))
}

fn describe(i: &Indicator) -> String {
    format!("{} {} {} ({})", i.action.as_str(), i.kind.as_str(), i.value, i.source)
}

/// Stops being managed (`netward sync --leave`): the server's indicators
/// and settings leave the device (5007 for each, as any change), local
/// changes are the device's again. Returns the changes.
pub fn leave(ctx: &Ctx) -> CliResult<usize> {
    let Some(m) = load(&ctx.data_dir)? else {
        return Err(CliError::bad_input("this device is not managed by a fleet server"));
    };
    let empty = DevicePolicy { version: m.policy.version, allow_local_changes: true, ..DevicePolicy::default() };
    let n = apply(ctx, &m.server, &empty)?;
    let _lock = ctx.data_dir.lock()?;
    let path = ctx.data_dir.file(MANAGED_FILE);
    std::fs::remove_file(&path).context(|| format!("cannot remove {}", path.display()))?;
    let who = oplog::current_user();
    oplog::append(
        &ctx.data_dir,
        &[OperationalEvent::settings_changed(crate::now(), &who, "fleet.server", &m.server, "")],
    )?;
    Ok(n + 1)
}

/// Applies `p` from `server`: indicators, settings, the local-changes
/// switch. Returns the changes applied (one 5007 each). Applying the same
/// policy again changes and writes nothing.
pub fn apply(ctx: &Ctx, server: &str, p: &DevicePolicy) -> CliResult<usize> {
    ctx.data_dir.ensure()?;
    let _lock = ctx.data_dir.lock()?;
    let before = ctx.reloaded()?.settings;
    let prev = load(&ctx.data_dir)?;
    let now = crate::now();
    let who = format!("fleet server {server}");
    let mut events = Vec::new();
    let mut record = |setting: &str, old: &str, new: &str| {
        events.push(OperationalEvent::settings_changed(now, &who, setting, old, new));
    };
    if prev.is_none() {
        record("fleet.server", "", &format!("{server} (policy version {})", p.version));
    }

    let mut store = crate::cmd::indicator::open_store(ctx)?;
    let custom = |i: &&Indicator| i.origin == Origin::Custom;
    let old: BTreeMap<&str, &Indicator> = store.managed().iter().filter(custom).map(|i| (i.id.as_str(), i)).collect();
    let new: BTreeMap<&str, &Indicator> = p.indicators.iter().filter(custom).map(|i| (i.id.as_str(), i)).collect();
    // Feeds: one 5007 per source whose entries changed, not one per entry.
    let feeds = |list: &[Indicator]| {
        let mut by: BTreeMap<String, Vec<Indicator>> = BTreeMap::new();
        for i in list.iter().filter(|i| i.origin != Origin::Custom) {
            by.entry(i.source.clone()).or_default().push(i.clone());
        }
        by
    };
    let (old_feeds, new_feeds) = (feeds(store.managed()), feeds(&p.indicators));
    let feed_names: BTreeSet<&String> = old_feeds.keys().chain(new_feeds.keys()).collect();
    for name in feed_names {
        let (o, n) = (old_feeds.get(name), new_feeds.get(name));
        if o != n {
            let count = |v: Option<&Vec<Indicator>>| format!("{} entries", v.map_or(0, Vec::len));
            record(&format!("feed {name} (fleet)"), &count(o), &count(n));
        }
    }
    let feeds_changed = old_feeds != new_feeds;
    for (id, o) in &old {
        match new.get(id) {
            None => record("indicator", &describe(o), ""),
            Some(n) if n != o => record("indicator", &describe(o), &describe(n)),
            Some(_) => {}
        }
    }
    for (id, n) in &new {
        if !old.contains_key(id) {
            record("indicator", "", &describe(n));
        }
    }
    if old != new || feeds_changed {
        store.replace_managed(p.indicators.clone()).map_err(crate::cmd::indicator::store_error)?;
    }

    let m = Managed { server: server.to_string(), applied_at: now.to_string(), policy: p.clone() };
    let path = ctx.data_dir.file(MANAGED_FILE);
    let json = serde_json::to_vec_pretty(&m).context(|| "cannot encode the managed policy".into())?;
    crate::datadir::atomic_write(&path, &json).context(|| format!("cannot write {}", path.display()))?;
    let after = ctx.reloaded()?.settings;
    let prev_keys = prev.as_ref().map(|m| m.policy.settings.keys().cloned().collect()).unwrap_or_default();
    let keys: BTreeSet<String> = p.settings.keys().cloned().chain::<BTreeSet<String>>(prev_keys).collect();
    for k in &keys {
        if before.get(k) != after.get(k) {
            record(k, before.get(k), after.get(k));
        }
    }
    let was = prev.as_ref().map(|m| m.policy.allow_local_changes);
    if was != Some(p.allow_local_changes) {
        let word = |a: bool| if a { "allow" } else { "refuse" };
        record(ALLOW_LOCAL_SETTING, was.map(word).unwrap_or(""), word(p.allow_local_changes));
    }
    oplog::append(&ctx.data_dir, &events)?;
    Ok(events.len())
}
