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
    /// Show where netward keeps its data, which config it reads, and the device identity
    Info,
    /// Show the operational event log (5007 settings changed, 1125 audited, 1126 blocked)
    Events(EventsArgs),
    /// Show or change settings
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Replay packet captures (pcap, pcapng) through the inspector and print the events the agent would produce
    Replay(ReplayArgs),
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
