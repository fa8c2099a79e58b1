//! `netward config`: show settings with their sources; change them from the
//! CLI (stored in the data directory, winning over the config file), writing
//! event 5007 for every change.

use crate::cli::{ConfigCommand, NetworkProtectionCommand};
use crate::context::Ctx;
use crate::error::CliResult;
use crate::oplog::{self, OperationalEvent};
use crate::output::RowWriter;
use crate::settings::{self, ENFORCEMENT_LEVEL};
use serde_json::json;

pub fn run(ctx: &mut Ctx, cmd: &ConfigCommand) -> CliResult<()> {
    match cmd {
        ConfigCommand::Show => show(ctx),
        ConfigCommand::NetworkProtection(NetworkProtectionCommand::EnforcementLevel { value }) => {
            set(ctx, ENFORCEMENT_LEVEL, value)
        }
    }
}

fn show(ctx: &Ctx) -> CliResult<()> {
    let cols = ["setting", "value", "source", "help"].map(String::from).to_vec();
    let mut w = RowWriter::new(ctx.format, cols, crate::output::stdout())?;
    for (key, value, source) in ctx.settings.iter() {
        let help = settings::def(key).map_or("", |d| d.help);
        w.write_row(&[json!(key), json!(value), json!(source.describe()), json!(help)])?;
    }
    w.done()
}

/// Sets a value and records who changed what (event 5007). Setting a value
/// to what it already is still records the request: an auditor wants to see
/// that someone asked.
pub fn set(ctx: &mut Ctx, key: &str, value: &str) -> CliResult<()> {
    crate::managed::refuse_local_change(&ctx.data_dir, "setting")?;
    ctx.announce_data_dir_if_new();
    let _lock = ctx.data_dir.lock()?;
    ctx.reload_settings()?;
    let old = ctx.settings.set_from_cli(key, value, &ctx.data_dir)?;
    let who = oplog::current_user();
    oplog::append(&ctx.data_dir, &[OperationalEvent::settings_changed(crate::now(), &who, key, &old, value)])?;
    eprintln!("{key}: {old} -> {value}");
    crate::agent::control::notify_change(&ctx.data_dir);
    Ok(())
}
