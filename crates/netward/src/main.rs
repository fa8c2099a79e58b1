#![forbid(unsafe_code)]
//! `netward`: the one binary. Parses the command line, builds the shared
//! context and hands each command to its module; maps errors to exit codes
//! (0 success, 1 failure of the work, 2 bad usage or bad input).

mod agent;
mod cli;
mod cmd;
mod context;
mod datadir;
mod device;
mod error;
mod fleet;
mod managed;
mod oplog;
mod outbound;
mod output;
mod sdnotify;
mod settings;
mod warn;

use clap::Parser;
use cli::{Cli, Command};
use error::CliResult;
use netward_events::Timestamp;

/// The edge reads the clock; the core crates are passed the time.
pub fn now() -> Timestamp {
    timestamp(std::time::SystemTime::now())
}

/// A wall-clock time as the events carry it.
pub fn timestamp(t: std::time::SystemTime) -> Timestamp {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp::from_unix_nanos(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn run(cli: Cli) -> CliResult<()> {
    if let Some(Command::GenCapture(a)) = &cli.command {
        // Needs no data directory or settings.
        return cmd::gen_capture::run(a);
    }
    let mut ctx = context::Ctx::new(&cli.global)?;
    let Some(command) = &cli.command else {
        // No command: the help, and where data would go.
        let mut help = <Cli as clap::CommandFactory>::command();
        let _ = help.print_help();
        println!(
            "\nData directory: {} ({}{})",
            ctx.data_dir.path.display(),
            ctx.data_dir.source.describe(),
            if ctx.data_dir.is_empty() { ", empty" } else { "" }
        );
        return Ok(());
    };
    match command {
        Command::Run(a) => agent::run(&ctx, a),
        Command::Health => agent::health(&ctx),
        Command::Cleanup => cmd::cleanup::run(&ctx),
        Command::Info => cmd::info::run(&ctx),
        Command::Events(a) => cmd::events::run(&ctx, a),
        Command::Config(c) => cmd::config::run(&mut ctx, c),
        Command::Replay(a) => cmd::replay::run(&ctx, a),
        Command::Indicator(c) => cmd::indicator::run(&ctx, c),
        Command::Feed(c) => cmd::feed::run(&ctx, c),
        Command::Warn(c) => cmd::warn::run(&ctx, c),
        Command::Evaluate(a) => cmd::evaluate::run(&ctx, a),
        Command::GenCapture(a) => cmd::gen_capture::run(a),
        Command::Import(a) => cmd::import::run(&ctx, a),
        Command::Hunt(a) if a.server.is_some() => cmd::sync::hunt(&ctx, a),
        Command::Hunt(a) => cmd::hunt::run(&ctx, a),
        Command::Portal(a) => cmd::portal::run(&ctx, a),
        Command::Server(a) => cmd::server::run(&ctx, a, cli.global.device_id.as_deref()),
        Command::Sync(a) => cmd::sync::run(&ctx, a),
    }
}

fn main() {
    // clap exits 2 on bad usage and 0 for --help/--version, as we want.
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("{e}");
        std::process::exit(e.exit_code());
    }
}
