//! `netward server` (the fleet server, `netward-server`) and `netward server
//! token add|list|revoke`: the server's data directory and settings are the
//! CLI's own; its event store is `<data dir>/store` (the segments there or
//! in `[server] object_store`), its tokens
//! `<data dir>/server-tokens.json`. `netward server devices` asks a running
//! server which devices it holds, with their last contact. The fleet's
//! policy commands (`server indicator|config|group`) are `server_policy`'s.

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::RowWriter;
use netward_server::tls::{CertSource, ServerCert};
use netward_server::token::{parse_duration, Role, Tokens};
use netward_server::{SegmentStoreConfig, Transport};
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    #[command(subcommand)]
    pub command: Option<ServerCommand>,
    /// Address to serve on (default: setting server.listen)
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Serve cleartext HTTP instead of TLS: loopback addresses only
    #[arg(long)]
    pub plain_http: bool,
    /// Upload bodies read and stored at once (the rest wait: back-pressure)
    #[arg(long, default_value_t = 4)]
    pub max_uploads: usize,
}

#[derive(Debug, clap::Subcommand)]
pub enum ServerCommand {
    /// Enrollment tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// The devices a running server holds events of, with their last contact
    Devices(crate::cmd::sync::RemoteArgs),
    /// The server certificate's fingerprint devices pin ([server] fingerprint); generates the certificate if none
    Fingerprint,
    /// Indicators the devices take from the server (for every device or a --group)
    Indicator(crate::cmd::server_policy::ServerIndicatorArgs),
    /// Settings the devices take from the server (enforcement level, local changes), for every device or a --group
    Config(crate::cmd::server_policy::ServerConfigArgs),
    /// Device groups: a group's indicators and settings apply to its devices on top of every device's
    #[command(subcommand)]
    Group(crate::cmd::server_policy::ServerGroupCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Make a token: for one device (bound to the global --device-id ID) or, with --hunt, for fleet queries; printed once
    Add {
        /// A hunt token (queries the fleet, uploads nothing) instead of a device token
        #[arg(long)]
        hunt: bool,
        /// Lifetime: 30s, 15m, 12h, 7d (default: until revoked)
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
    },
    /// The tokens: id, role, device, created, expires, state (secrets are not kept)
    List,
    /// Revoke a token by id (a running server refuses it from its next request)
    Revoke { id: String },
}

pub fn run(ctx: &Ctx, a: &ServerArgs, device_id: Option<&str>) -> CliResult<()> {
    match &a.command {
        None => serve(ctx, a),
        Some(ServerCommand::Token(TokenCommand::Add { hunt, expires })) => {
            token_add(ctx, *hunt, device_id, expires.as_deref())
        }
        Some(ServerCommand::Token(TokenCommand::List)) => token_list(ctx),
        Some(ServerCommand::Token(TokenCommand::Revoke { id })) => token_revoke(ctx, id),
        Some(ServerCommand::Devices(r)) => crate::cmd::sync::devices(ctx, r),
        Some(ServerCommand::Indicator(a)) => crate::cmd::server_policy::indicator(ctx, a),
        Some(ServerCommand::Config(a)) => crate::cmd::server_policy::config(ctx, a),
        Some(ServerCommand::Group(c)) => crate::cmd::server_policy::group(ctx, c),
        Some(ServerCommand::Fingerprint) => {
            println!("{}", cert(ctx)?.fingerprint);
            Ok(())
        }
    }
}

fn serve(ctx: &Ctx, a: &ServerArgs) -> CliResult<()> {
    let listen = match a.listen {
        Some(l) => l,
        None => ctx
            .settings
            .get("server.listen")
            .parse()
            .map_err(|e| CliError::bad_input(format!("setting server.listen: {e}")))?,
    };
    ctx.announce_data_dir_if_new();
    ctx.data_dir.ensure()?;
    let mut opts = netward_server::ServerOptions::new(ctx.data_dir.path.clone(), listen);
    opts.max_uploads = a.max_uploads.max(1);
    opts.transport = if a.plain_http { Transport::Plain } else { Transport::Tls(cert_source(ctx)?) };
    opts.segments = segment_store(ctx)?;
    let timeout = ctx.settings.get_u64("hunt.timeout_seconds").max(1);
    let memory = ctx.settings.get_u64("hunt.memory_limit_mb").max(1);
    opts.hunt.timeout = Some(Duration::from_secs(timeout));
    opts.hunt.memory_limit = Some(usize::try_from(memory).unwrap_or(usize::MAX).saturating_mul(1 << 20));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("cannot start the server runtime: {e}")))?;
    rt.block_on(netward_server::serve(opts)).map_err(CliError::failure)
}

/// Where the segments go: `[server] object_store` and its S3 keys.
fn segment_store(ctx: &Ctx) -> CliResult<SegmentStoreConfig> {
    let mut c = SegmentStoreConfig::parse(ctx.settings.get("server.object_store"))
        .map_err(|e| CliError::bad_input(format!("setting server.object_store: {e}")))?;
    if let SegmentStoreConfig::S3(s3) = &mut c {
        s3.endpoint = ctx.settings.get("server.s3_endpoint").to_string();
        s3.region = ctx.settings.get("server.s3_region").to_string();
        s3.access_key_id = ctx.settings.get("server.s3_access_key_id").to_string();
        s3.secret_access_key = ctx.settings.get("server.s3_secret_access_key").to_string();
        s3.allow_http = ctx.settings.get("server.s3_allow_http") == "true";
        if s3.access_key_id.is_empty() != s3.secret_access_key.is_empty() {
            return Err(CliError::bad_input(
                "set both server.s3_access_key_id and server.s3_secret_access_key, or neither (the AWS environment)",
            ));
        }
    }
    Ok(c)
}

/// The certificate: the config's PEM files, else the generated one.
fn cert_source(ctx: &Ctx) -> CliResult<CertSource> {
    let (cert, key) = (ctx.settings.get("server.tls_cert"), ctx.settings.get("server.tls_key"));
    match (cert.is_empty(), key.is_empty()) {
        (true, true) => Ok(CertSource::Generated { data_dir: ctx.data_dir.path.clone(), names: vec![] }),
        (false, false) => Ok(CertSource::Files { cert: cert.into(), key: key.into() }),
        _ => Err(CliError::bad_input(
            "set both server.tls_cert and server.tls_key, or neither (a generated certificate)",
        )),
    }
}

fn cert(ctx: &Ctx) -> CliResult<ServerCert> {
    let source = cert_source(ctx)?;
    if matches!(source, CertSource::Generated { .. }) {
        ctx.data_dir.ensure()?;
    }
    ServerCert::load(&source).map_err(CliError::failure)
}

fn token_add(ctx: &Ctx, hunt: bool, device_id: Option<&str>, expires: Option<&str>) -> CliResult<()> {
    let role = match (hunt, device_id) {
        (true, None) => Role::Hunt,
        (true, Some(_)) => return Err(CliError::bad_input("a hunt token is bound to no device: drop --device-id")),
        (false, Some(d)) => Role::Device { device_id: d.to_string() },
        (false, None) => {
            return Err(CliError::bad_input("give the device the token is bound to").with_hint(
                "netward server token add --device-id ID (the device's `netward info` shows it), or --hunt",
            ))
        }
    };
    let lifetime =
        expires.map(parse_duration).transpose().map_err(|e| CliError::bad_input(format!("--expires {e}")))?;
    let _lock = ctx.data_dir.lock()?;
    let path = Tokens::path(&ctx.data_dir.path);
    let mut tokens = Tokens::load(&path).map_err(CliError::failure)?;
    let (entry, text) = tokens.add(role, crate::now(), lifetime).map_err(CliError::bad_input)?;
    tokens.save(&path).map_err(CliError::failure)?;
    // Enrollment: the device needs the token and the fingerprint to pin.
    let fp = cert(ctx)?.fingerprint;
    eprintln!("netward: token {} added; it is shown only now. On the device: [server] token = (below), fingerprint = \"{fp}\"", entry.id);
    println!("{text}");
    Ok(())
}

fn token_list(ctx: &Ctx) -> CliResult<()> {
    let tokens = Tokens::load(&Tokens::path(&ctx.data_dir.path)).map_err(CliError::failure)?;
    let cols = ["id", "role", "device_id", "created", "expires", "state"];
    let mut w = RowWriter::new(ctx.format, cols.iter().map(|c| c.to_string()).collect(), crate::output::stdout())?;
    let now = crate::now();
    let time = |n: Option<i64>| {
        n.map(|n| json!(netward_events::Timestamp::from_unix_nanos(n).to_string())).unwrap_or(json!(null))
    };
    for t in tokens.entries() {
        let (role, dev) = match &t.role {
            Role::Device { device_id } => ("device", json!(device_id)),
            Role::Hunt => ("hunt", json!(null)),
        };
        w.write_row(&[json!(t.id), json!(role), dev, time(Some(t.created)), time(t.expires), json!(t.state(now))])?;
    }
    w.done()
}

fn token_revoke(ctx: &Ctx, id: &str) -> CliResult<()> {
    let _lock = ctx.data_dir.lock()?;
    let path = Tokens::path(&ctx.data_dir.path);
    let mut tokens = Tokens::load(&path).map_err(CliError::failure)?;
    tokens.revoke(id, crate::now()).map_err(|e| CliError::bad_input(e).with_hint("netward server token list"))?;
    tokens.save(&path).map_err(CliError::failure)?;
    eprintln!("netward: token {id} revoked");
    Ok(())
}
