//! `netward server indicator|config|group ...`: the fleet's policy, kept in
//! the server's data directory (`server-policy.json`, `netward-server`'s
//! `policy` module) and edited under its lock; a running server notices the
//! change and the connected devices have it within seconds. The arguments
//! are the local `indicator add` and `config network-protection` ones
//! (parsed by the same code), plus `--group G` (default: every device).
//! Each change is recorded on the server as event 5007, as local changes are.

use crate::cli::{IndicatorAddArgs, IndicatorImportArgs, IndicatorRemoveArgs, NetworkProtectionCommand};
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::oplog::{self, OperationalEvent};
use crate::output::RowWriter;
use crate::settings::{self, ENFORCEMENT_LEVEL};
use netward_policy::Origin;
use netward_server::policy::{FleetPolicy, Scope};
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct ServerIndicatorArgs {
    #[command(subcommand)]
    pub command: ServerIndicatorCommand,
    /// The device group it is for (default: every device)
    #[arg(long, global = true, value_name = "GROUP")]
    pub group: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ServerIndicatorCommand {
    /// Add an indicator for every device (or --group's): the arguments of `indicator add`
    Add(IndicatorAddArgs),
    /// The server's indicators for every device (or --group's), feed entries not included
    List,
    /// Remove a server indicator by id (f<n>), or a whole feed with --source (from --group's scope)
    Remove(IndicatorRemoveArgs),
    /// Import a threat feed for every device (or --group's), replacing what that source held: the arguments of `indicator import`
    Import(IndicatorImportArgs),
    /// The feeds of every device's (or --group's) scope
    Feeds,
}

#[derive(Debug, clap::Args)]
pub struct ServerConfigArgs {
    #[command(subcommand)]
    pub command: ServerConfigCommand,
    /// The device group it is for (default: every device)
    #[arg(long, global = true, value_name = "GROUP")]
    pub group: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ServerConfigCommand {
    /// The settings, local-changes switch and indicator count of every scope
    Show,
    /// Network protection settings the devices take: the arguments of `config network-protection`
    #[command(name = "network-protection", subcommand)]
    NetworkProtection(NetworkProtectionCommand),
    /// Whether devices may still change their own policy (indicator, config, feed, portal): refuse (default) or allow
    #[command(name = "local-changes")]
    LocalChanges {
        #[arg(long, value_parser = ["allow", "refuse"])]
        value: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum ServerGroupCommand {
    /// Put a device (its DeviceId) in a group; it leaves its former group
    Assign { device: String, group: String },
    /// Take a device out of its group (it keeps the all-devices policy)
    Unassign { device: String },
    /// Devices and their groups
    List,
}

fn scope(group: Option<&str>) -> CliResult<Scope> {
    Scope::new(group).map_err(|e| CliError::bad_input(format!("--group {e}")))
}

/// Loads, changes and saves the fleet policy under the data directory's
/// lock; `change` returns what to record as 5007 (setting, old, new).
fn edit(
    ctx: &Ctx,
    change: impl FnOnce(&mut FleetPolicy) -> CliResult<Vec<(String, String, String)>>,
) -> CliResult<u64> {
    ctx.announce_data_dir_if_new();
    let _lock = ctx.data_dir.lock()?;
    let path = FleetPolicy::path(&ctx.data_dir.path);
    let mut p = FleetPolicy::load(&path).map_err(CliError::failure)?;
    let changes = change(&mut p)?;
    p.save(&path).map_err(CliError::failure)?;
    let (now, who) = (crate::now(), oplog::current_user());
    let events: Vec<_> =
        changes.iter().map(|(s, o, n)| OperationalEvent::settings_changed(now, &who, s, o, n)).collect();
    oplog::append(&ctx.data_dir, &events)?;
    eprintln!("netward: fleet policy version {}", p.version);
    Ok(p.version)
}

fn describe(i: &netward_policy::Indicator) -> String {
    format!("{} {} {}", i.action.as_str(), i.kind.as_str(), i.value)
}

pub fn indicator(ctx: &Ctx, a: &ServerIndicatorArgs) -> CliResult<()> {
    let sc = scope(a.group.as_deref())?;
    match &a.command {
        ServerIndicatorCommand::Add(args) => {
            let spec = crate::cmd::indicator::spec(args)?;
            let mut added = None;
            edit(ctx, |p| {
                let i = p.add_indicator(&sc, spec, args.replace).map_err(CliError::bad_input)?;
                let rec = (format!("fleet indicator ({})", sc.describe()), String::new(), describe(&i));
                added = Some(i);
                Ok(vec![rec])
            })?;
            crate::cmd::indicator::write_indicators(ctx, added.iter())
        }
        ServerIndicatorCommand::List => {
            let p = FleetPolicy::load(&FleetPolicy::path(&ctx.data_dir.path)).map_err(CliError::failure)?;
            let items = p.scope(&sc).map(|s| s.indicators.as_slice()).unwrap_or_default();
            crate::cmd::indicator::write_indicators(ctx, items.iter().filter(|i| i.origin == Origin::Custom))
        }
        ServerIndicatorCommand::Import(args) => import(ctx, &sc, args),
        ServerIndicatorCommand::Feeds => {
            let p = FleetPolicy::load(&FleetPolicy::path(&ctx.data_dir.path)).map_err(CliError::failure)?;
            let items = p.scope(&sc).map(|s| s.indicators.as_slice()).unwrap_or_default();
            let mut feeds: std::collections::BTreeMap<&str, (u64, Origin)> = Default::default();
            for i in items.iter().filter(|i| i.origin != Origin::Custom) {
                feeds.entry(i.source.as_str()).or_insert((0, i.origin)).0 += 1;
            }
            let cols = ["source", "entries", "origin"].map(String::from).to_vec();
            let mut w = RowWriter::new(ctx.format, cols, crate::output::stdout())?;
            for (source, (n, origin)) in feeds {
                w.write_row(&[json!(source), json!(n), json!(origin)])?;
            }
            w.done()
        }
        ServerIndicatorCommand::Remove(IndicatorRemoveArgs { id: None, source: Some(source) }) => {
            edit(ctx, |p| {
                let n = p.remove_source(&sc, source).map_err(CliError::bad_input)?;
                eprintln!("removed feed {source} ({n} entries) from {}", sc.describe());
                Ok(vec![(format!("fleet feed {source} ({})", sc.describe()), format!("{n} entries"), String::new())])
            })?;
            Ok(())
        }
        ServerIndicatorCommand::Remove(IndicatorRemoveArgs { id: Some(id), .. }) => {
            edit(ctx, |p| {
                let (sc, gone) = p
                    .remove_indicator(id)
                    .map_err(|e| CliError::bad_input(e).with_hint("netward server indicator list [--group G]"))?;
                eprintln!("removed server indicator {} ({}) from {}", gone.id, describe(&gone), sc.describe());
                Ok(vec![(format!("fleet indicator ({})", sc.describe()), describe(&gone), String::new())])
            })?;
            Ok(())
        }
        ServerIndicatorCommand::Remove(_) => Err(CliError::bad_input("give an indicator ID or --source NAME")),
    }
}

/// `server indicator import`: parsed here with the device's own feed
/// parser, stored as canonical entries the devices take as they are.
fn import(ctx: &Ctx, sc: &Scope, a: &IndicatorImportArgs) -> CliResult<()> {
    use netward_policy::feed::{parse_feed, ImportReport};
    let (format, action) = a.entries.format_and_action()?;
    let origin = if a.entries.content_category { Origin::Category } else { Origin::ThreatFeed };
    let file = std::fs::File::open(&a.file)
        .map_err(|e| CliError::bad_input(format!("cannot open {}: {e}", a.file.display())))?;
    let mut report = ImportReport { source: a.source.clone(), ..ImportReport::default() };
    let mut entries = Vec::new();
    let mut too_many = false;
    let mut sink = |item: netward_policy::feed::FeedItem| {
        if entries.len() >= netward_server::policy::MAX_INDICATORS {
            too_many = true;
            return;
        }
        let value = item.target.to_string();
        let kind = item.target.kind();
        entries.push(netward_policy::Indicator {
            id: netward_policy::indicator::feed_entry_id(&a.source, kind, &value),
            kind,
            value,
            action,
            origin,
            source: a.source.clone(),
            title: item.details.title,
            description: item.details.description,
            expires: item.details.expires,
            category: a.entries.category.clone().or(item.category),
        });
    };
    parse_feed(std::io::BufReader::with_capacity(1 << 20, file), format, &mut report, &mut sink)
        .map_err(|e| CliError::bad_input(format!("{}: {e}", a.file.display())))?;
    if too_many {
        return Err(CliError::bad_input(format!(
            "{}: more than {} entries: too many to send to every device",
            a.file.display(),
            netward_server::policy::MAX_INDICATORS
        )));
    }
    for e in &report.error_samples {
        eprintln!("{}:{}: error: {}", a.file.display(), e.line, e.reason);
    }
    let n = entries.len();
    edit(ctx, |p| {
        let old = p.replace_source(sc, &a.source, entries).map_err(CliError::bad_input)?;
        eprintln!("feed {} for {}: {old} -> {n} entries ({} malformed lines)", a.source, sc.describe(), report.errors);
        Ok(vec![(
            format!("fleet feed {} ({})", a.source, sc.describe()),
            format!("{old} entries"),
            format!("{n} entries"),
        )])
    })?;
    Ok(())
}

pub fn config(ctx: &Ctx, a: &ServerConfigArgs) -> CliResult<()> {
    let sc = scope(a.group.as_deref())?;
    let setting = |key: &str, value: &str| -> CliResult<()> {
        let d = settings::def(key).ok_or_else(|| CliError::bad_input(format!("unknown setting `{key}`")))?;
        (d.check)(value).map_err(|e| CliError::bad_input(format!("invalid value `{value}` for {key}: {e}")))?;
        edit(ctx, |p| {
            let old = p.set_setting(&sc, key, value).map_err(CliError::bad_input)?.unwrap_or_default();
            eprintln!("{key} ({}): {} -> {value}", sc.describe(), if old.is_empty() { "unset" } else { &old });
            Ok(vec![(format!("fleet {key} ({})", sc.describe()), old, value.to_string())])
        })
        .map(|_| ())
    };
    match &a.command {
        ServerConfigCommand::NetworkProtection(NetworkProtectionCommand::EnforcementLevel { value }) => {
            setting(ENFORCEMENT_LEVEL, value)
        }
        ServerConfigCommand::LocalChanges { value } => {
            let allow = value == "allow";
            edit(ctx, |p| {
                p.set_allow_local_changes(&sc, allow).map_err(CliError::bad_input)?;
                eprintln!("local changes ({}): {value}", sc.describe());
                Ok(vec![(format!("fleet local changes ({})", sc.describe()), String::new(), value.clone())])
            })
            .map(|_| ())
        }
        ServerConfigCommand::Show => show(ctx),
    }
}

fn show(ctx: &Ctx) -> CliResult<()> {
    let p = FleetPolicy::load(&FleetPolicy::path(&ctx.data_dir.path)).map_err(CliError::failure)?;
    let cols = ["scope", "setting", "value"].map(String::from).to_vec();
    let mut w = RowWriter::new(ctx.format, cols, crate::output::stdout())?;
    let scopes = std::iter::once(("all devices".to_string(), &p.all))
        .chain(p.groups.iter().map(|(g, s)| (format!("group {g}"), s)));
    w.write_row(&[json!("server"), json!("policy_version"), json!(p.version.to_string())])?;
    for (name, s) in scopes {
        for (k, v) in &s.settings {
            w.write_row(&[json!(name), json!(k), json!(v)])?;
        }
        if let Some(a) = s.allow_local_changes {
            w.write_row(&[json!(name), json!("local_changes"), json!(if a { "allow" } else { "refuse" })])?;
        }
        w.write_row(&[json!(name), json!("indicators"), json!(s.indicators.len().to_string())])?;
    }
    w.done()
}

pub fn group(ctx: &Ctx, c: &ServerGroupCommand) -> CliResult<()> {
    match c {
        ServerGroupCommand::Assign { device, group } => edit(ctx, |p| {
            let old = p.assign(device, group).map_err(CliError::bad_input)?.unwrap_or_default();
            eprintln!("device {device}: group {group}");
            Ok(vec![(format!("fleet group of {device}"), old, group.clone())])
        })
        .map(|_| ()),
        ServerGroupCommand::Unassign { device } => edit(ctx, |p| {
            let old = p.unassign(device).map_err(CliError::bad_input)?;
            Ok(vec![(format!("fleet group of {device}"), old, String::new())])
        })
        .map(|_| ()),
        ServerGroupCommand::List => {
            let p = FleetPolicy::load(&FleetPolicy::path(&ctx.data_dir.path)).map_err(CliError::failure)?;
            let cols = ["DeviceId", "group"].map(String::from).to_vec();
            let mut w = RowWriter::new(ctx.format, cols, crate::output::stdout())?;
            for (d, g) in &p.members {
                w.write_row(&[json!(d), json!(g)])?;
            }
            w.done()
        }
    }
}
