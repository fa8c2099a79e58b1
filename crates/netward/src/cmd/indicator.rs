//! `netward indicator add|list|remove|import|feeds`: custom indicators and
//! threat feeds, kept in `<data dir>/policy`. Every change happens under the
//! data directory's writers' lock.

use crate::cli::{IndicatorAddArgs, IndicatorCommand, IndicatorImportArgs, IndicatorRemoveArgs};
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::RowWriter;
use netward_events::Timestamp;
use netward_policy::{FeedOptions, Indicator, IndicatorSpec};
use netward_policy_store::{PolicyStore, PolicyStoreError as StoreError};
use serde_json::json;

pub const POLICY_DIR: &str = "policy";

pub fn open_store(ctx: &Ctx) -> CliResult<PolicyStore> {
    let dir = ctx.data_dir.file(POLICY_DIR);
    let store = PolicyStore::open(&dir).map_err(store_error)?;
    for p in store.problems() {
        eprintln!("warning: {p}");
    }
    Ok(store)
}

/// Policy errors: bad values and duplicates are the user's input (2); the
/// rest are failures of the work (1).
pub fn store_error(e: StoreError) -> CliError {
    match &e {
        StoreError::Duplicate { existing_id } => {
            CliError::bad_input(e.to_string()).with_hint(format!("use --replace to overwrite indicator {existing_id}"))
        }
        StoreError::Indicator(_) | StoreError::InvalidSource(_) | StoreError::Feed(_) => {
            CliError::bad_input(e.to_string())
        }
        StoreError::NotFound(_) => {
            CliError::bad_input(e.to_string()).with_hint("`netward indicator list` shows the ids")
        }
        StoreError::FeedEntry(_) => CliError::bad_input(e.to_string()),
        _ => CliError::failure(e.to_string()),
    }
}

fn unix_secs(t: Timestamp) -> i64 {
    t.unix_nanos().div_euclid(1_000_000_000)
}

pub fn run(ctx: &Ctx, cmd: &IndicatorCommand) -> CliResult<()> {
    match cmd {
        IndicatorCommand::Add(a) => local(ctx).and_then(|_| add(ctx, a)).inspect(|_| changed(ctx)),
        IndicatorCommand::List => list(ctx),
        IndicatorCommand::Remove(a) => local(ctx).and_then(|_| remove(ctx, a)).inspect(|_| changed(ctx)),
        IndicatorCommand::Import(a) => local(ctx).and_then(|_| import(ctx, a)).inspect(|_| changed(ctx)),
        IndicatorCommand::Feeds => feeds(ctx),
    }
}

/// A managed device takes its indicators from the fleet server.
fn local(ctx: &Ctx) -> CliResult<()> {
    crate::managed::refuse_local_change(&ctx.data_dir, "indicator")
}

/// A running agent judges the next connection with the changed policy.
fn changed(ctx: &Ctx) {
    crate::agent::control::notify_change(&ctx.data_dir);
}

const COLUMNS: [&str; 10] =
    ["id", "type", "value", "action", "source", "title", "description", "expires", "category", "origin"];

pub fn write_indicators<'a>(ctx: &Ctx, items: impl Iterator<Item = &'a Indicator>) -> CliResult<()> {
    let mut w = RowWriter::new(ctx.format, COLUMNS.map(String::from).to_vec(), crate::output::stdout())?;
    for i in items {
        let v = serde_json::to_value(i).unwrap_or_default();
        let expires = i
            .expires
            .map(|s| json!(Timestamp::from_unix_nanos(s.saturating_mul(1_000_000_000)).to_string()))
            .unwrap_or(json!(null));
        let cells: Vec<serde_json::Value> = COLUMNS
            .iter()
            .map(|c| if *c == "expires" { expires.clone() } else { v.get(*c).cloned().unwrap_or(json!(null)) })
            .collect();
        w.write_row(&cells)?;
    }
    w.done()
}

/// The indicator `indicator add` (and `server indicator add`) describes, checked.
pub fn spec(a: &IndicatorAddArgs) -> CliResult<IndicatorSpec> {
    let kind = a.kind.parse().map_err(|e| CliError::bad_input(format!("--type: {e}")))?;
    let action = a.action.parse().map_err(|e| CliError::bad_input(format!("--action: {e}")))?;
    let expires = match &a.expires {
        Some(s) => {
            let t = Timestamp::parse(s).map_err(|e| CliError::bad_input(format!("--expires: {e}")))?;
            if t <= crate::now() {
                return Err(CliError::bad_input(format!("--expires {s} is in the past")));
            }
            Some(unix_secs(t))
        }
        None => None,
    };
    Ok(IndicatorSpec {
        kind,
        value: a.value.clone(),
        action,
        title: a.title.clone(),
        description: a.description.clone(),
        expires,
        category: a.category.clone(),
    })
}

fn add(ctx: &Ctx, a: &IndicatorAddArgs) -> CliResult<()> {
    let spec = spec(a)?;
    ctx.announce_data_dir_if_new();
    let _lock = ctx.data_dir.lock()?;
    let mut store = open_store(ctx)?;
    let added = store.add_indicator(spec, a.replace).map_err(store_error)?;
    write_indicators(ctx, std::iter::once(&added))
}

fn list(ctx: &Ctx) -> CliResult<()> {
    let store = open_store(ctx)?;
    write_indicators(ctx, store.list().iter())
}

fn remove(ctx: &Ctx, a: &IndicatorRemoveArgs) -> CliResult<()> {
    let _lock = ctx.data_dir.lock()?;
    let mut store = open_store(ctx)?;
    match (&a.id, &a.source) {
        (Some(id), None) => {
            let gone = store.remove(id).map_err(store_error)?;
            eprintln!("removed indicator {} ({} {})", gone.id, gone.kind.as_str(), gone.value);
        }
        (None, Some(src)) => {
            let gone = store.remove_source(src).map_err(store_error)?;
            eprintln!("removed feed {} ({} entries)", gone.source, gone.entries);
        }
        _ => return Err(CliError::bad_input("give an indicator ID or --source NAME")),
    }
    Ok(())
}

impl crate::cli::FeedEntryArgs {
    /// The feed's format and its entries' action, checked.
    pub fn format_and_action(&self) -> CliResult<(netward_policy::FeedFormat, netward_policy::Action)> {
        let format = self.feed_format.parse().map_err(|e| CliError::bad_input(format!("--feed-format: {e}")))?;
        let action = self.action.parse().map_err(|e| CliError::bad_input(format!("--action: {e}")))?;
        Ok((format, action))
    }
}

fn import(ctx: &Ctx, a: &IndicatorImportArgs) -> CliResult<()> {
    let (format, action) = a.entries.format_and_action()?;
    let origin =
        if a.entries.content_category { netward_policy::Origin::Category } else { netward_policy::Origin::ThreatFeed };
    let file = std::fs::File::open(&a.file)
        .map_err(|e| CliError::bad_input(format!("cannot open {}: {e}", a.file.display())))?;
    ctx.announce_data_dir_if_new();
    let _lock = ctx.data_dir.lock()?;
    // A subscription's entries come from its URL only: a file imported over
    // them would stay until the server's copy changes.
    let subs = netward_feeds::Subscriptions::load(&ctx.data_dir.path).map_err(crate::cmd::feed::subs_error)?;
    if subs.get(&a.source).is_some() {
        return Err(CliError::bad_input(format!("source {} is a feed subscription", a.source)).with_hint(format!(
            "`netward feed update {}` downloads it again; import under another --source",
            a.source
        )));
    }
    let mut store = open_store(ctx)?;
    eprintln!("importing {} as source {} ...", a.file.display(), a.source);
    let report = store
        .import_feed(
            std::io::BufReader::with_capacity(1 << 20, file),
            format,
            &a.source,
            FeedOptions { origin, action, category: a.entries.category.clone() },
            unix_secs(crate::now()),
        )
        .map_err(store_error)?;
    for e in &report.error_samples {
        eprintln!("{}:{}: error: {}", a.file.display(), e.line, e.reason);
    }
    for e in report.skipped_samples.iter().take(5) {
        eprintln!("{}:{}: skipped: {}", a.file.display(), e.line, e.reason);
    }
    let cols = ["source", "format", "lines", "imported", "ignored", "skipped", "errors"];
    let mut w = RowWriter::new(ctx.format, cols.map(String::from).to_vec(), crate::output::stdout())?;
    w.write_row(&[
        json!(report.source),
        json!(format.as_str()),
        json!(report.lines),
        json!(report.imported),
        json!(report.ignored),
        json!(report.skipped),
        json!(report.errors),
    ])?;
    w.done()
}

fn feeds(ctx: &Ctx) -> CliResult<()> {
    let store = open_store(ctx)?;
    let cols = ["source", "format", "entries", "imported_at", "action", "origin"];
    let mut w = RowWriter::new(ctx.format, cols.map(String::from).to_vec(), crate::output::stdout())?;
    for f in store.feeds() {
        let opts = serde_json::to_value(&f.options).unwrap_or_default();
        w.write_row(&[
            json!(f.source),
            json!(f.format.as_str()),
            json!(f.entries),
            json!(Timestamp::from_unix_nanos(f.imported_at.saturating_mul(1_000_000_000)).to_string()),
            opts.get("action").cloned().unwrap_or_default(),
            opts.get("origin").cloned().unwrap_or_default(),
        ])?;
    }
    w.done()
}
