//! The command line: global options every command shares, and the commands.

use crate::output::Format;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "netward",
    version,
    about = "Network protection for Linux endpoints: see every connection, name its real destination, block or audit it, and hunt over the events with KQL",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, clap::Args)]
pub struct GlobalOpts {
    /// Data directory (indicators, settings, operational log, event store).
    /// Default: $NETWARD_DATA_DIR, else /var/lib/netward if readable, else the XDG data directory
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Config file (TOML); a missing default file means defaults
    #[arg(long, global = true, value_name = "FILE", default_value_os_t = PathBuf::from(crate::settings::DEFAULT_CONFIG), hide_default_value = false)]
    pub config: PathBuf,
    /// Output format; default: table on a terminal, JSON lines when piped
    #[arg(long, global = true, value_enum)]
    pub format: Option<Format>,
    /// DeviceId to write into events (default: derived from /etc/machine-id)
    #[arg(long, global = true, value_name = "ID")]
    pub device_id: Option<String>,
    /// DeviceName to write into events (default: the host name)
    #[arg(long, global = true, value_name = "NAME")]
    pub device_name: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent (root): watch, name and judge every connection of this network namespace
    Run(crate::agent::RunArgs),
    /// The running agent's state and counters
    Health,
    /// Remove netfilter rules and the control socket a stopped agent left (root; the package's removal runs it)
    Cleanup,
    /// Show where netward keeps its data, which config it reads, and the device identity
    Info,
    /// Show the operational event log (5007 settings changed, 1125 audited, 1126 blocked)
    Events(EventsArgs),
    /// Show or change settings
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Custom indicators and threat feeds
    #[command(subcommand)]
    Indicator(IndicatorCommand),
    /// Feed subscriptions: threat feeds downloaded on a schedule (through network.proxy_server)
    #[command(subcommand)]
    Feed(crate::cmd::feed::FeedCommand),
    /// Temporary allows of warn destinations (what a warn notification's \"Allow\" does), from a terminal
    #[command(subcommand)]
    Warn(crate::cmd::warn::WarnCommand),
    /// The policy's verdict for URLs, hosts or IPs (one JSON object per input)
    Evaluate(EvaluateArgs),
    /// Run a KQL query over the event store (advanced hunting)
    Hunt(HuntArgs),
    /// Import rows exported from Defender (Streaming API envelopes, advanced hunting JSON lines, portal CSV) into the event store
    Import(ImportArgs),
    /// Write a synthetic capture (a stated mix of TLS, CONNECT, proxy GET, SOCKS5, DNS, QUIC and bulk flows)
    GenCapture(GenCaptureArgs),
    /// Replay packet captures (pcap, pcapng) through the inspector and print the events the agent would produce
    Replay(ReplayArgs),
    /// The local web portal (timeline, alerts, hunting, indicators, settings) and its accounts
    Portal(crate::cmd::portal::PortalArgs),
    /// The fleet server devices upload their events to and hunters query; its enrollment tokens
    Server(crate::cmd::server::ServerArgs),
    /// Upload this device's stored events to the fleet server ([server] url, token), from where the last sync stopped
    Sync(crate::cmd::sync::SyncArgs),
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Capture files (pcap or pcapng)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Evaluate every named destination under the current policy and add the
    /// ExploitGuardNetworkProtectionAudited/Blocked events the agent would produce
    #[arg(long)]
    pub policy: bool,
    /// With --policy: the enforcement level to judge with (default: the configured one; disabled replays as audit)
    #[arg(long, value_parser = ["audit", "block"], requires = "policy")]
    pub enforcement_level: Option<String>,
    /// No summary on stderr
    #[arg(long, short)]
    pub quiet: bool,
    /// Also write the events to the event store in the data directory
    #[arg(long)]
    pub store: bool,
    /// With --store: do not print the events
    #[arg(long, requires = "store")]
    pub no_print: bool,
}

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Only events with this id (repeatable), e.g. --id 5007
    #[arg(long = "id", value_name = "EVENT_ID")]
    pub ids: Vec<u32>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Every setting with its value and where the value comes from (default, file, CLI)
    Show,
    /// Network protection settings
    #[command(name = "network-protection", subcommand)]
    NetworkProtection(NetworkProtectionCommand),
}

#[derive(Debug, Subcommand)]
pub enum NetworkProtectionCommand {
    /// Set the enforcement level: disabled (default), audit or block
    #[command(name = "enforcement-level")]
    EnforcementLevel {
        #[arg(long, value_parser = ["disabled", "audit", "block"])]
        value: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum IndicatorCommand {
    /// Add a custom indicator
    Add(IndicatorAddArgs),
    /// List custom indicators
    List,
    /// Remove a custom indicator by id, or a whole feed with --source
    Remove(IndicatorRemoveArgs),
    /// Import a threat feed as a named source (replacing what that source held)
    Import(IndicatorImportArgs),
    /// List imported feeds
    Feeds,
}

#[derive(Debug, clap::Args)]
pub struct IndicatorAddArgs {
    /// domain (matches subdomains too), url (host + path prefix), ip, cidr
    #[arg(long = "type", value_parser = ["domain", "url", "ip", "cidr"])]
    pub kind: String,
    #[arg(long)]
    pub value: String,
    #[arg(long, value_parser = ["allow", "audit", "warn", "block"])]
    pub action: String,
    #[arg(long)]
    pub title: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// When the indicator stops matching (RFC 3339, e.g. 2027-01-01T00:00:00Z)
    #[arg(long)]
    pub expires: Option<String>,
    #[arg(long)]
    pub category: Option<String>,
    /// Overwrite an existing indicator of the same type and value
    #[arg(long)]
    pub replace: bool,
}

#[derive(Debug, clap::Args)]
pub struct IndicatorRemoveArgs {
    /// The indicator's id
    #[arg(required_unless_present = "source", conflicts_with = "source")]
    pub id: Option<String>,
    /// Remove a whole imported feed
    #[arg(long)]
    pub source: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct IndicatorImportArgs {
    /// The feed file
    pub file: PathBuf,
    /// The source name (letters, digits, '.', '_', '-')
    #[arg(long)]
    pub source: String,
    #[command(flatten)]
    pub entries: FeedEntryArgs,
}

/// How a feed's entries are read and what they do: the same for a file
/// imported once (`indicator import`) and a subscription (`feed subscribe`).
#[derive(Debug, clap::Args)]
pub struct FeedEntryArgs {
    /// The feed's format (`--format` is the output format, as everywhere)
    #[arg(long, value_parser = ["hosts", "domains", "adblock", "urlhaus", "stix"])]
    pub feed_format: String,
    /// Action of every entry
    #[arg(long, default_value = "block", value_parser = ["allow", "audit", "warn", "block"])]
    pub action: String,
    /// Category label of every entry (default: the feed's own, where it has one)
    #[arg(long)]
    pub category: Option<String>,
    /// The list is a content category (web content filtering), not threat reputation
    #[arg(long)]
    pub content_category: bool,
}

#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    /// URLs, host names or IP addresses
    #[arg(required = true, value_name = "URL|HOST|IP")]
    pub inputs: Vec<String>,
    /// Judge as if at this level (default: the configured one)
    #[arg(long, value_parser = ["disabled", "audit", "block"])]
    pub enforcement_level: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct GenCaptureArgs {
    /// Number of flows
    #[arg(long, default_value_t = 10_000)]
    pub flows: usize,
    /// Output pcap file
    #[arg(long)]
    pub out: PathBuf,
    /// Server response size of each bulk flow
    #[arg(long, default_value_t = 1 << 20)]
    pub bulk_bytes: usize,
    /// Random seed (the same seed gives the same file)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// DeviceNetworkEvents, DeviceEvents or DeviceInfo: the table of plain rows and CSV
    /// (Streaming API envelopes name their own; with --table, envelopes of other tables are skipped)
    #[arg(long)]
    pub table: Option<String>,
    /// Files to import
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The files' format: json (JSON lines) or csv (default: from the extension, else from the content)
    #[arg(long = "input-format", value_parser = ["json", "csv"])]
    pub input_format: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct HuntArgs {
    /// The KQL query (or -f FILE, or the query on stdin)
    #[arg(conflicts_with = "file")]
    pub query: Option<String>,
    /// Read the query from a file
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Pin now() (and ago()) to this time, RFC 3339
    #[arg(long)]
    pub now: Option<String>,
    /// Time limit in seconds (default: setting hunt.timeout_seconds)
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Memory limit in MiB (default: setting hunt.memory_limit_mb)
    #[arg(long)]
    pub memory_limit_mb: Option<u64>,
    /// Run the query on this fleet server over every device's events (http://HOST:PORT)
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// With --server: a hunt token (default: setting server.token)
    #[arg(long, requires = "server")]
    pub token: Option<String>,
    /// With --server: the certificate fingerprint to pin (default: setting server.fingerprint)
    #[arg(long, requires = "server")]
    pub fingerprint: Option<String>,
}
