//! `netward feed subscribe|list|unsubscribe|update`: threat feeds downloaded
//! on a schedule. The subscriptions live in `<data dir>/subscriptions.json`,
//! their entries in the policy store as the source NAME (the same store
//! `indicator import` fills). Every change, and every refresh that brings
//! new content, holds the data directory's lock, writes event 5007 and asks
//! a running agent to reload; downloads happen before the lock is taken.
//! The running agent refreshes due subscriptions itself (`agent::feeds`).

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::oplog::{self, OperationalEvent};
use crate::output::RowWriter;
use netward_events::Timestamp;
use netward_feeds::{Every, FeedState, Outcome, SubsError, Subscription, Subscriptions};
use serde_json::{json, Value};

#[derive(Debug, clap::Subcommand)]
pub enum FeedCommand {
    /// Subscribe to a feed and download it now; the running agent refreshes it every DURATION
    Subscribe(SubscribeArgs),
    /// The subscriptions with their last success, entries and last error
    List,
    /// Remove a subscription and its entries
    Unsubscribe {
        /// The subscription's name
        name: String,
    },
    /// Download now (all subscriptions, or NAME), whether due or not
    Update {
        /// Only this subscription
        name: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct SubscribeArgs {
    /// The subscription's name, also the source name of its entries (letters, digits, '.', '_', '-')
    pub name: String,
    /// http:// or https:// URL of the feed
    pub url: String,
    /// How often it is refreshed: 30m, 6h, 1d, 1h30m (at least 5s, at most 7d)
    #[arg(long, default_value = "6h")]
    pub every: String,
    #[command(flatten)]
    pub entries: crate::cli::FeedEntryArgs,
}

pub fn run(ctx: &Ctx, cmd: &FeedCommand) -> CliResult<()> {
    match cmd {
        FeedCommand::Subscribe(a) => subscribe(ctx, a),
        FeedCommand::List => list(ctx),
        FeedCommand::Unsubscribe { name } => unsubscribe(ctx, name),
        FeedCommand::Update { name } => update(ctx, name.as_deref()),
    }
}

pub fn subs_error(e: SubsError) -> CliError {
    match e {
        SubsError::NotFound(_) => {
            CliError::bad_input(e.to_string()).with_hint("`netward feed list` shows the subscriptions")
        }
        SubsError::Exists(_) | SubsError::TooMany | SubsError::Invalid(_) => CliError::bad_input(e.to_string()),
        SubsError::Io { .. } | SubsError::Damaged { .. } => CliError::failure(e.to_string()),
    }
}

fn unix_secs() -> i64 {
    crate::now().unix_nanos().div_euclid(1_000_000_000)
}

fn time(t: Option<i64>) -> Value {
    t.map(|s| json!(Timestamp::from_unix_nanos(s.saturating_mul(1_000_000_000)).to_string())).unwrap_or(Value::Null)
}

fn record(ctx: &Ctx, who: &str, setting: &str, old: &str, new: &str) -> CliResult<()> {
    oplog::append(&ctx.data_dir, &[OperationalEvent::settings_changed(crate::now(), who, setting, old, new)])
}

fn describe(s: &Subscription) -> String {
    format!("{} {} every {} ({})", s.url, s.format, s.every(), s.action)
}

fn subscribe(ctx: &Ctx, a: &SubscribeArgs) -> CliResult<()> {
    crate::managed::refuse_local_change(&ctx.data_dir, "feed")?;
    let (format, action) = a.entries.format_and_action()?;
    let every: Every = a.every.parse().map_err(|e| CliError::bad_input(format!("--every: {e}")))?;
    netward_feeds::subs::check_url(&a.url).map_err(subs_error)?;
    // Checked now, not at the first refresh: a bad proxy setting is the
    // user's to fix before anything is saved.
    crate::outbound::net_config(&ctx.settings)?;
    let sub = Subscription {
        name: a.name.clone(),
        url: a.url.clone(),
        format,
        every_secs: every.0,
        action,
        category: a.entries.category.clone(),
        content_category: a.entries.content_category,
        created_at: unix_secs(),
        state: FeedState::default(),
    };
    ctx.announce_data_dir_if_new();
    {
        let _lock = ctx.data_dir.lock()?;
        let store = crate::cmd::indicator::open_store(ctx)?;
        let mut subs = Subscriptions::load(&ctx.data_dir.path).map_err(subs_error)?;
        if subs.get(&a.name).is_none() && store.feeds().iter().any(|f| f.source == a.name) {
            return Err(CliError::bad_input(format!("an imported feed source named {:?} exists", a.name))
                .with_hint("choose another NAME, or remove it first: netward indicator remove --source NAME"));
        }
        // The source name rules of the store, checked before anything is saved.
        if let Err(e) = netward_policy_store::PolicyStore::check_source_name(&a.name) {
            return Err(crate::cmd::indicator::store_error(e));
        }
        subs.add(sub.clone()).map_err(subs_error)?;
        subs.save(&ctx.data_dir.path).map_err(subs_error)?;
        record(ctx, &oplog::current_user(), &format!("feed subscription {}", a.name), "", &describe(&sub))?;
    }
    eprintln!("subscribed to {} as {}; downloading it now", a.url, a.name);
    update(ctx, Some(&a.name))
}

const LIST_COLUMNS: [&str; 13] = [
    "name",
    "url",
    "format",
    "every",
    "action",
    "entries",
    "last_success",
    "last_change",
    "last_status",
    "last_error",
    "failures",
    "next_attempt",
    "line_errors",
];

/// One subscription as `feed list` and the agent's health show it.
pub fn row(s: &Subscription) -> Vec<Value> {
    let st = &s.state;
    vec![
        json!(s.name),
        json!(s.url),
        json!(s.format.as_str()),
        json!(s.every().to_string()),
        json!(s.action.as_str()),
        json!(st.entries),
        time(st.last_success),
        time(st.last_change),
        st.last_status.map(|c| json!(c)).unwrap_or(Value::Null),
        st.last_error.as_ref().map(|e| json!(e)).unwrap_or(Value::Null),
        json!(st.failures),
        time(st.next_attempt),
        json!(st.line_errors),
    ]
}

/// The subscriptions as JSON objects (the agent's health).
pub fn as_json(subs: &Subscriptions) -> Vec<Value> {
    subs.list.iter().map(|s| Value::Object(LIST_COLUMNS.iter().map(|c| c.to_string()).zip(row(s)).collect())).collect()
}

fn list(ctx: &Ctx) -> CliResult<()> {
    let subs = Subscriptions::load(&ctx.data_dir.path).map_err(subs_error)?;
    let mut w = RowWriter::new(ctx.format, LIST_COLUMNS.map(String::from).to_vec(), crate::output::stdout())?;
    for s in &subs.list {
        w.write_row(&row(s))?;
    }
    w.done()
}

fn unsubscribe(ctx: &Ctx, name: &str) -> CliResult<()> {
    crate::managed::refuse_local_change(&ctx.data_dir, "feed")?;
    let entries = {
        let _lock = ctx.data_dir.lock()?;
        let mut subs = Subscriptions::load(&ctx.data_dir.path).map_err(subs_error)?;
        let gone = subs.remove(name).map_err(subs_error)?;
        let mut store = crate::cmd::indicator::open_store(ctx)?;
        // The entries first: a crash between the two leaves a subscription
        // without entries, which the next refresh fills again, never
        // entries nobody refreshes or can unsubscribe.
        let entries = match store.remove_source(name) {
            Ok(info) => info.entries,
            Err(netward_policy_store::PolicyStoreError::NotFound(_)) => 0,
            Err(e) => return Err(crate::cmd::indicator::store_error(e)),
        };
        subs.save(&ctx.data_dir.path).map_err(subs_error)?;
        record(ctx, &oplog::current_user(), &format!("feed subscription {name}"), &describe(&gone), "")?;
        entries
    };
    eprintln!("unsubscribed {name}; removed its {entries} entries");
    crate::agent::control::notify_change(&ctx.data_dir);
    Ok(())
}

/// What one refresh did, for the table and the agent's log.
pub struct Refreshed {
    pub name: String,
    pub outcome: Outcome,
    pub entries: u64,
}

/// Downloads one subscription (no lock), then swaps it in under the lock,
/// saves its state and writes 5007 when the entries changed. `None` when
/// the subscription went away meanwhile.
pub fn refresh(ctx: &Ctx, sub: &Subscription, who: &str) -> CliResult<Option<Refreshed>> {
    let live = crate::cmd::indicator::open_store(ctx)?.feeds().iter().any(|f| f.source == sub.name);
    // A proxy setting or PAC file that fails is this feed's failure, kept
    // in its state with the backoff, like a failed download.
    let dl = match crate::outbound::net_config(&ctx.settings) {
        Ok(net) => netward_feeds::download(&ctx.data_dir.path, sub, live, &net),
        Err(e) => netward_feeds::Download::failed(sub, e.message),
    };
    let _lock = ctx.data_dir.lock()?;
    let mut subs = Subscriptions::load(&ctx.data_dir.path).map_err(subs_error)?;
    let mut store = crate::cmd::indicator::open_store(ctx)?;
    let Some(outcome) = netward_feeds::apply(&mut store, &mut subs, dl, unix_secs()) else { return Ok(None) };
    subs.save(&ctx.data_dir.path).map_err(subs_error)?;
    let entries = subs.get(&sub.name).map_or(0, |s| s.state.entries);
    if let Outcome::Updated { old_entries, .. } = &outcome {
        let setting = format!("feed {}", sub.name);
        record(ctx, who, &setting, &format!("{old_entries} entries"), &format!("{entries} entries"))?;
    }
    Ok(Some(Refreshed { name: sub.name.clone(), outcome, entries }))
}

fn update(ctx: &Ctx, only: Option<&str>) -> CliResult<()> {
    let subs = Subscriptions::load(&ctx.data_dir.path).map_err(subs_error)?;
    let chosen: Vec<&Subscription> = match only {
        Some(n) => vec![subs.get(n).ok_or_else(|| subs_error(SubsError::NotFound(n.into())))?],
        None => subs.list.iter().collect(),
    };
    let cols = ["name", "result", "status", "entries", "imported", "line_errors", "error"];
    let mut w = RowWriter::new(ctx.format, cols.map(String::from).to_vec(), crate::output::stdout())?;
    let (mut failed, mut changed) = (0, false);
    let who = oplog::current_user();
    for sub in chosen {
        let Some(r) = refresh(ctx, sub, &who)? else { continue };
        let (result, status, imported, errors, error) = match &r.outcome {
            Outcome::Unchanged { status } => ("unchanged", json!(status), Value::Null, Value::Null, Value::Null),
            Outcome::Updated { report, .. } => {
                changed = true;
                for e in report.error_samples.iter().take(5) {
                    eprintln!("{}:{}: error: {}", r.name, e.line, e.reason);
                }
                ("updated", json!(200), json!(report.imported), json!(report.errors), Value::Null)
            }
            Outcome::Failed { error } => {
                failed += 1;
                eprintln!("error: feed {}: {error}", r.name);
                ("failed", Value::Null, Value::Null, Value::Null, json!(error))
            }
        };
        w.write_row(&[json!(r.name), json!(result), status, json!(r.entries), imported, errors, error])?;
    }
    w.done()?;
    if changed {
        crate::agent::control::notify_change(&ctx.data_dir);
    }
    if failed > 0 {
        return Err(CliError::failure(format!("{failed} feed(s) could not be refreshed; their previous entries stay"))
            .with_hint("`netward feed list` shows each feed's last error; the running agent retries with backoff"));
    }
    Ok(())
}
