//! `netward sync` (a device uploads its stored events to the fleet server,
//! resuming from `<data dir>/sync-cursor.json`), `netward hunt --server URL`
//! (a KQL query over every device's events, printed as local hunting
//! prints) and the client half of `netward server devices`. The protocol,
//! cursor and client are `netward-server`'s; this is the glue to the
//! settings (`[server] url`, `token`) and the output formats.

use crate::cli::HuntArgs;
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::RowWriter;
use netward_server::{Client, ClientError, SyncOptions};
use serde_json::json;
use std::io::IsTerminal;

/// Where the server is and which token to show it.
#[derive(Debug, clap::Args)]
pub struct RemoteArgs {
    /// The server, http://HOST:PORT (default: setting server.url)
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The token (default: setting server.token)
    #[arg(long)]
    pub token: Option<String>,
    /// The server certificate's fingerprint to pin, sha256:HEX (default: setting server.fingerprint)
    #[arg(long)]
    pub fingerprint: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Rows per upload
    #[arg(long, default_value_t = 8192)]
    pub batch_rows: usize,
    /// Uploads outstanding at once (back-pressure: the next waits for an answer)
    #[arg(long, default_value_t = 4)]
    pub in_flight: usize,
    /// Keep running: upload events as they are stored and apply the server's
    /// policy as it changes (what the agent does; for a device without one).
    /// Uses [server] url, token and fingerprint from the config
    #[arg(long, conflicts_with_all = ["url", "token", "fingerprint"])]
    pub follow: bool,
    /// Stop being managed by the fleet server: its indicators and settings
    /// leave this device (5007 for each). Remove [server] from the config
    /// too, or the next contact manages the device again
    #[arg(long, conflicts_with_all = ["follow", "url", "token", "fingerprint"])]
    pub leave: bool,
}

fn client(ctx: &Ctx, url: Option<&str>, token: Option<&str>, fingerprint: Option<&str>) -> CliResult<Client> {
    let url = url.unwrap_or_else(|| ctx.settings.get("server.url"));
    if url.is_empty() {
        return Err(CliError::bad_input("no server: set [server] url in the config, or pass --url"));
    }
    let token = token.unwrap_or_else(|| ctx.settings.get("server.token"));
    let fingerprint = fingerprint.unwrap_or_else(|| ctx.settings.get("server.fingerprint"));
    Client::new(url, token, Some(fingerprint)).map_err(|e| CliError::bad_input(e.to_string()))
}

fn runtime() -> CliResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("cannot start the runtime: {e}")))
}

/// A refusal prints the server's own message and hint.
fn client_error(e: ClientError) -> CliError {
    match e {
        ClientError::Refused { status, message, hint } => {
            let err = if status == 400 {
                CliError::bad_input(format!("server: {message}"))
            } else {
                CliError::failure(format!("server refused ({status}): {message}"))
            };
            match hint {
                Some(h) => err.with_hint(h),
                None => err,
            }
        }
        e @ ClientError::Unreachable { .. } => CliError::failure(e.to_string())
            .with_hint("what was acknowledged stays acknowledged; sync again when the server is back"),
        ClientError::Local(m) => CliError::failure(m),
    }
}

pub fn run(ctx: &Ctx, a: &SyncArgs) -> CliResult<()> {
    if a.follow {
        return follow(ctx);
    }
    if a.leave {
        let n = crate::managed::leave(ctx)?;
        eprintln!("sync: this device is no longer managed ({n} change(s)); remove [server] from the config to stay so");
        crate::agent::control::notify_change(&ctx.data_dir);
        return Ok(());
    }
    let client = client(ctx, a.remote.url.as_deref(), a.remote.token.as_deref(), a.remote.fingerprint.as_deref())?;
    let opts = SyncOptions { batch_rows: a.batch_rows.max(1), in_flight: a.in_flight.max(1), ..SyncOptions::default() };
    let store = ctx.data_dir.file(crate::cmd::import::STORE_DIR);
    let cursor = ctx.data_dir.file(netward_server::sync::CURSOR_FILE);
    ctx.data_dir.ensure()?;
    let mut progress = |m: &str| eprintln!("sync: {m}");
    let report = runtime()?.block_on(netward_server::sync(&store, &cursor, &client, &opts, &mut progress)).map_err(
        |e| match e {
            netward_server::sync::SyncError::Client(c) => client_error(c),
            netward_server::sync::SyncError::Local(m) => CliError::failure(m),
        },
    )?;
    if report.fresh_cursor {
        eprintln!("sync: first sync to {}: sending the whole store", client.url());
    }
    if report.without_report_id > 0 {
        eprintln!(
            "note: {} row(s) without ReportId not sent: the server could not deduplicate them",
            report.without_report_id
        );
    }
    let total: u64 = report.sent.values().sum();
    let per: Vec<String> = report.sent.iter().map(|(t, n)| format!("{} {n}", t.name())).collect();
    eprintln!(
        "sync: {total} row(s) sent to {}{}{}",
        client.url(),
        if per.is_empty() { String::new() } else { format!(" ({})", per.join(", ")) },
        if report.duplicates > 0 { format!("; {} the server already held", report.duplicates) } else { String::new() }
    );
    Ok(())
}

/// `netward sync --follow`: the agent's fleet link in the foreground, until killed.
fn follow(ctx: &Ctx) -> CliResult<()> {
    let client = crate::fleet::client(ctx)?
        .ok_or_else(|| CliError::bad_input("no server: set [server] url, token and fingerprint in the config"))?;
    ctx.data_dir.ensure()?;
    eprintln!("sync: following {} (events up, policy down); stop with Ctrl-C", client.url());
    let health = std::sync::Arc::new(std::sync::Mutex::new(crate::fleet::Health::default()));
    crate::fleet::run(ctx, client, health, &|| false, &|| {})
}

/// `netward hunt --server URL QUERY`.
pub fn hunt(ctx: &Ctx, a: &HuntArgs) -> CliResult<()> {
    let query = &crate::cmd::hunt::read_query(a)?;
    let client = client(ctx, a.server.as_deref(), a.token.as_deref(), a.fingerprint.as_deref())?;
    let now = match &a.now {
        Some(s) => Some(
            netward_events::Timestamp::parse(s).map_err(|e| CliError::bad_input(format!("--now: {e}")))?.unix_nanos(),
        ),
        None => None,
    };
    let reply = runtime()?.block_on(client.hunt(query, now)).map_err(client_error)?;
    for n in &reply.notes {
        eprintln!("note: {n}");
    }
    if let Some(r) = &reply.render {
        eprintln!("render: {r} (a chart hint; the rows follow)");
    }
    let fields: Vec<_> = reply.schema.fields().iter().cloned().collect();
    let mut w = RowWriter::new(ctx.format, fields.iter().map(|f| f.name().clone()).collect(), crate::output::stdout())?;
    for b in &reply.batches {
        crate::cmd::hunt::write_batch(&mut w, &fields, b)?;
    }
    let rows = w.rows();
    w.done()?;
    if std::io::stderr().is_terminal() {
        eprintln!("{rows} row(s)");
    }
    Ok(())
}

/// `netward server devices`.
pub fn devices(ctx: &Ctx, r: &RemoteArgs) -> CliResult<()> {
    let client = client(ctx, r.url.as_deref(), r.token.as_deref(), r.fingerprint.as_deref())?;
    let list = runtime()?.block_on(client.devices()).map_err(client_error)?;
    let cols = ["DeviceId", "LastContact", "Rows"];
    let mut w = RowWriter::new(ctx.format, cols.iter().map(|c| c.to_string()).collect(), crate::output::stdout())?;
    for d in list {
        w.write_row(&[json!(d.device_id), json!(d.last_contact), json!(d.rows)])?;
    }
    w.done()
}
