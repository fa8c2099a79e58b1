//! `netward portal [--listen ADDR:PORT]` and `netward portal user add`:
//! serves the web portal (`netward-portal`) with a backend made of the
//! CLI's own code — queries through `hunt`'s store registration and the
//! hunting engine, indicators through `indicator`'s policy store, settings
//! through `Settings::set_from_cli` — and every admin change recorded as
//! event 5007 with the portal user's name through the oplog writer. It also
//! decides the transport (HTTPS with the fleet server's certificate code:
//! configured PEM files or a generated self-signed pair) for `netward run`.

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::oplog::{self, OperationalEvent};
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use netward_hunt::{Hunt, HuntOptions};
use netward_policy::{FeedOptions, IndicatorSpec};
use netward_portal::{Backend, Grid, HistoryRow, ImportOutcome, PortalOptions, PortalTls, QueryError, Role, UserStore};
use netward_server::tls::{CertSource, ServerCert};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct PortalArgs {
    #[command(subcommand)]
    pub command: Option<PortalCommand>,
    /// Address to serve on (default: the portal.listen setting,
    /// 127.0.0.1:7878); a non-loopback address is served over HTTPS only
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// HTTPS on a loopback address too (default: the portal.tls setting)
    #[arg(long)]
    pub tls: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum PortalCommand {
    /// Portal accounts
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Add an account (or set its password and role); the password is read
    /// from a prompt, or from the first line of stdin when piped
    Add {
        /// User name (letters, digits, . _ - @)
        name: String,
        /// admin (settings, indicators) or analyst (read and hunt)
        #[arg(long, value_parser = ["admin", "analyst"])]
        role: String,
    },
}

pub fn run(ctx: &Ctx, a: &PortalArgs) -> CliResult<()> {
    match &a.command {
        Some(PortalCommand::User(UserCommand::Add { name, role })) => user_add(ctx, name, role),
        None => serve(ctx, a),
    }
}

fn users_error(e: netward_portal::UsersError) -> CliError {
    match e {
        netward_portal::UsersError::BadInput(m) => CliError::bad_input(m),
        netward_portal::UsersError::Io(m) => CliError::failure(m),
    }
}

fn user_add(ctx: &Ctx, name: &str, role: &str) -> CliResult<()> {
    let role: Role = role.parse().map_err(CliError::bad_input)?;
    let password = netward_portal::read_password().map_err(users_error)?;
    ctx.announce_data_dir_if_new();
    ctx.data_dir.ensure()?;
    let _lock = ctx.data_dir.lock()?;
    let mut users = UserStore::open(&ctx.data_dir.path).map_err(users_error)?;
    users.add(name, role, &password).map_err(users_error)?;
    eprintln!("portal user {name} ({})", role.as_str());
    Ok(())
}

fn serve(ctx: &Ctx, a: &PortalArgs) -> CliResult<()> {
    let listen = match a.listen {
        Some(l) => l,
        None => listen_setting(ctx)?,
    };
    warn_if_no_users(ctx)?;
    let opts = options(ctx, listen, a.tls)?;
    let backend = backend(ctx)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("cannot start the portal runtime: {e}")))?;
    rt.block_on(netward_portal::serve(backend, opts)).map_err(CliError::failure)
}

pub fn listen_setting(ctx: &Ctx) -> CliResult<SocketAddr> {
    let v = ctx.settings.get(crate::settings::PORTAL_LISTEN);
    v.parse().map_err(|e| CliError::bad_input(format!("portal.listen `{v}`: {e}")))
}

pub fn warn_if_no_users(ctx: &Ctx) -> CliResult<()> {
    let users = UserStore::open(&ctx.data_dir.path).map_err(users_error)?;
    if users.is_empty() {
        eprintln!("warning: no portal users yet; nobody can log in");
        eprintln!("hint: netward portal user add NAME --role admin");
    }
    Ok(())
}

/// The portal's backend: the CLI's own code on this data directory.
pub fn backend(ctx: &Ctx) -> CliResult<Arc<dyn Backend>> {
    Ok(Arc::new(NetwardBackend { ctx: Mutex::new(ctx.reloaded()?) }))
}

/// Where and how to serve: HTTPS when certificate files are configured,
/// when asked (`--tls`, portal.tls), and always on a non-loopback address
/// (with a certificate generated in the data directory if none is
/// configured). Bad combinations are refused before anything is bound.
pub fn options(ctx: &Ctx, listen: SocketAddr, force_tls: bool) -> CliResult<PortalOptions> {
    use crate::settings::{PORTAL_TLS, PORTAL_TLS_CERT, PORTAL_TLS_KEY};
    let (cert, key) = (ctx.settings.get(PORTAL_TLS_CERT), ctx.settings.get(PORTAL_TLS_KEY));
    let source = match (cert.is_empty(), key.is_empty()) {
        (false, false) => Some(CertSource::Files { cert: cert.into(), key: key.into() }),
        (true, true) if force_tls || ctx.settings.get(PORTAL_TLS) == "true" || !listen.ip().is_loopback() => {
            ctx.data_dir.ensure()?;
            Some(CertSource::GeneratedAt {
                cert: ctx.data_dir.path.join(PORTAL_CERT_FILE),
                key: ctx.data_dir.path.join(PORTAL_KEY_FILE),
                names: vec![listen.ip().to_string()],
            })
        }
        (true, true) => None,
        _ => {
            return Err(CliError::bad_input(
                "set both portal.tls_cert and portal.tls_key, or neither (a generated certificate)",
            ))
        }
    };
    let tls = match source {
        None => None,
        Some(s) => {
            let cert = ServerCert::load(&s).map_err(CliError::failure)?;
            let acceptor = cert.acceptor().map_err(CliError::failure)?;
            Some(PortalTls { acceptor, fingerprint: cert.fingerprint })
        }
    };
    netward_portal::check_transport(listen, tls.is_some()).map_err(CliError::bad_input)?;
    Ok(PortalOptions { listen, data_dir: ctx.data_dir.path.clone(), tls })
}

/// The generated certificate's files in the data directory (beside the
/// fleet server's own, which a data directory serving both keeps apart).
pub const PORTAL_CERT_FILE: &str = "portal-cert.pem";
pub const PORTAL_KEY_FILE: &str = "portal-key.pem";

/// The public hunting queries vendored for the engine's conformance test,
/// embedded so the portal can offer them as examples.
const CORPUS: &str = include_str!("../../../../testdata/kql/mde-hunting-queries.kql");

struct NetwardBackend {
    /// Settings are read again under the data directory lock before each
    /// change, as the CLI does.
    ctx: Mutex<Ctx>,
}

impl NetwardBackend {
    fn ctx(&self) -> std::sync::MutexGuard<'_, Ctx> {
        self.ctx.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A managed device takes its policy from the fleet server.
    fn local_change_allowed(&self) -> Result<(), String> {
        crate::managed::refuse_local_change(&self.ctx().data_dir, "portal").map_err(|e| e.to_string())
    }

    /// An admin change on record: event 5007 with the portal user's name.
    fn record(ctx: &Ctx, user: &str, setting: &str, old: &str, new: &str) -> Result<(), String> {
        oplog::append(&ctx.data_dir, &[OperationalEvent::settings_changed(crate::now(), user, setting, old, new)])
            .map_err(|e| e.to_string())?;
        crate::agent::control::notify_change(&ctx.data_dir);
        Ok(())
    }
}

fn unix_secs() -> i64 {
    crate::now().unix_nanos().div_euclid(1_000_000_000)
}

impl Backend for NetwardBackend {
    fn hunt(&self, query: &str, max_rows: usize) -> Result<Grid, QueryError> {
        let fail = |m: String| QueryError { message: m, line: 0, col: 0 };
        let ctx = self.ctx().reloaded().map_err(|e| fail(e.to_string()))?;
        let opts = HuntOptions {
            now: Some(crate::now().unix_nanos()),
            timeout: Some(Duration::from_secs(ctx.settings.get_u64("hunt.timeout_seconds").max(1))),
            memory_limit: Some(
                usize::try_from(ctx.settings.get_u64("hunt.memory_limit_mb").max(1))
                    .unwrap_or(usize::MAX)
                    .saturating_mul(1 << 20),
            ),
        };
        let session = SessionContext::new();
        let _store = crate::cmd::hunt::register_tables(&ctx, &session).map_err(|e| fail(e.to_string()))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| fail(format!("cannot start the query runtime: {e}")))?;
        let result = rt.block_on(Hunt::new(session, opts).run(query)).map_err(|e| QueryError {
            message: e.message.clone(),
            line: e.line,
            col: e.col,
        })?;
        let fields: Vec<_> = result.schema.fields().iter().cloned().collect();
        let mut grid = Grid {
            columns: fields.iter().map(|f| f.name().clone()).collect(),
            datetime: fields.iter().map(|f| matches!(f.data_type(), DataType::Timestamp(..))).collect(),
            render: result.render.as_ref().map(|r| r.kind.clone()),
            ..Grid::default()
        };
        'outer: for batch in &result.batches {
            for row in 0..batch.num_rows() {
                if grid.rows.len() >= max_rows {
                    grid.truncated = true;
                    break 'outer;
                }
                let cells = fields
                    .iter()
                    .zip(batch.columns())
                    .map(|(f, col)| crate::cmd::hunt::cell(f, col.as_ref(), row))
                    .collect();
                grid.rows.push(cells);
            }
        }
        Ok(grid)
    }

    fn indicators(&self) -> Result<Grid, String> {
        let ctx = self.ctx();
        let store = crate::cmd::indicator::open_store(&ctx).map_err(|e| e.to_string())?;
        let columns = ["id", "type", "value", "action", "source", "title", "category", "origin"];
        let rows = store
            .list()
            .iter()
            .map(|i| {
                let v = serde_json::to_value(i).unwrap_or_default();
                columns.iter().map(|c| v.get(*c).cloned().unwrap_or(json!(null))).collect()
            })
            .collect();
        Ok(Grid {
            columns: columns.map(String::from).to_vec(),
            datetime: vec![false; columns.len()],
            rows,
            ..Grid::default()
        })
    }

    fn add_indicator(&self, user: &str, kind: &str, value: &str, action: &str, title: &str) -> Result<String, String> {
        self.local_change_allowed()?;
        let spec = IndicatorSpec {
            kind: kind.parse().map_err(|e| format!("type: {e}"))?,
            value: value.to_string(),
            action: action.parse().map_err(|e| format!("action: {e}"))?,
            title: (!title.is_empty()).then(|| title.to_string()),
            description: None,
            expires: None,
            category: None,
        };
        let ctx = self.ctx();
        ctx.data_dir.ensure().map_err(|e| e.to_string())?;
        let _lock = ctx.data_dir.lock().map_err(|e| e.to_string())?;
        let mut store = crate::cmd::indicator::open_store(&ctx).map_err(|e| e.to_string())?;
        let added = store.add_indicator(spec, false).map_err(|e| e.to_string())?;
        let what = format!("{} {} {}", added.action.as_str(), added.kind.as_str(), added.value);
        Self::record(&ctx, user, "indicator", "", &what)?;
        Ok(format!("added indicator {}: {what}", added.id))
    }

    fn remove_indicator(&self, user: &str, id: &str) -> Result<String, String> {
        self.local_change_allowed()?;
        let ctx = self.ctx();
        let _lock = ctx.data_dir.lock().map_err(|e| e.to_string())?;
        let mut store = crate::cmd::indicator::open_store(&ctx).map_err(|e| e.to_string())?;
        let gone = store.remove(id).map_err(|e| e.to_string())?;
        let what = format!("{} {} {}", gone.action.as_str(), gone.kind.as_str(), gone.value);
        Self::record(&ctx, user, "indicator", &what, "")?;
        Ok(format!("removed indicator {}: {what}", gone.id))
    }

    fn import_indicators(&self, user: &str, source: &str, format: &str, text: &str) -> Result<ImportOutcome, String> {
        self.local_change_allowed()?;
        let fmt = format.parse().map_err(|e| format!("format: {e}"))?;
        let ctx = self.ctx();
        ctx.data_dir.ensure().map_err(|e| e.to_string())?;
        let _lock = ctx.data_dir.lock().map_err(|e| e.to_string())?;
        let mut store = crate::cmd::indicator::open_store(&ctx).map_err(|e| e.to_string())?;
        let opts = FeedOptions {
            origin: netward_policy::Origin::ThreatFeed,
            action: netward_policy::Action::Block,
            category: None,
        };
        let report = store.import_feed(text.as_bytes(), fmt, source, opts, unix_secs()).map_err(|e| e.to_string())?;
        Self::record(&ctx, user, "feed", "", &format!("import {source} ({} entries)", report.imported))?;
        Ok(ImportOutcome {
            summary: format!(
                "source {}: {} lines, {} imported, {} ignored, {} skipped, {} errors",
                report.source, report.lines, report.imported, report.ignored, report.skipped, report.errors
            ),
            errors: report.error_samples.iter().map(|e| format!("line {}: {}", e.line, e.reason)).collect(),
        })
    }

    fn setting(&self, key: &str) -> String {
        let mut ctx = self.ctx();
        let _ = ctx.reload_settings();
        ctx.settings.get(key).to_string()
    }

    fn set_setting(&self, user: &str, key: &str, value: &str) -> Result<(), String> {
        if !netward_portal::EDITABLE_SETTINGS.contains(&key) {
            return Err(format!("{key}: not changed from the portal"));
        }
        self.local_change_allowed()?;
        let mut ctx = self.ctx();
        ctx.data_dir.ensure().map_err(|e| e.to_string())?;
        let _lock = ctx.data_dir.lock().map_err(|e| e.to_string())?;
        ctx.reload_settings().map_err(|e| e.to_string())?;
        let dir = ctx.data_dir.clone();
        let old = ctx.settings.set_from_cli(key, value, &dir).map_err(|e| e.to_string())?;
        Self::record(&ctx, user, key, &old, value)
    }

    fn timeline_spans(&self) -> Vec<netward_portal::TimeSpan> {
        let ctx = self.ctx();
        let dir = ctx.data_dir.file(crate::cmd::import::STORE_DIR);
        if !dir.join("MANIFEST").exists() {
            return Vec::new();
        }
        // No store (or one that will not open): no spans, the timeline reads
        // the table whole and reports the store's error itself.
        let Ok(store) = netward_store::Store::open(&dir, netward_store::StoreOptions::read_only()) else {
            return Vec::new();
        };
        let snapshot = store.snapshot();
        let spans = snapshot
            .segments_of(netward_events::Table::DeviceNetworkEvents)
            .filter_map(|s| Some(netward_portal::TimeSpan { oldest: s.min_ts?.0, newest: s.max_ts?.0 }));
        spans.collect()
    }

    fn example_queries(&self) -> Vec<(String, String)> {
        netward_hunt::corpus::split(CORPUS)
    }

    fn settings_history(&self) -> Result<Vec<HistoryRow>, String> {
        let ctx = self.ctx();
        let (events, _damaged) = oplog::read(&ctx.data_dir).map_err(|e| e.to_string())?;
        let s = |e: &OperationalEvent, k: &str| e.data.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        Ok(events
            .iter()
            .rev()
            .filter(|e| e.event_id == oplog::EVENT_SETTINGS_CHANGED)
            .take(500)
            .map(|e| HistoryRow {
                time: e.timestamp.clone(),
                user: s(e, "User"),
                setting: s(e, "Setting"),
                old: s(e, "OldValue"),
                new: s(e, "NewValue"),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_portal_changes_only_settings_netward_has() {
        for k in netward_portal::EDITABLE_SETTINGS {
            assert!(crate::settings::def(k).is_some(), "{k}");
        }
    }
}
