//! `netward events`: the operational event log.

use crate::cli::EventsArgs;
use crate::context::Ctx;
use crate::error::CliResult;
use crate::oplog;
use crate::output::RowWriter;
use serde_json::json;

pub fn run(ctx: &Ctx, args: &EventsArgs) -> CliResult<()> {
    let (events, damaged) = oplog::read(&ctx.data_dir)?;
    for d in &damaged {
        eprintln!("warning: skipped a damaged line: {d}");
    }
    let cols = ["Timestamp", "EventId", "Level", "Message", "Data"];
    let mut w = RowWriter::new(ctx.format, cols.iter().map(|c| c.to_string()).collect(), crate::output::stdout())?;
    for e in events.iter().filter(|e| args.ids.is_empty() || args.ids.contains(&e.event_id)) {
        w.write_row(&[json!(e.timestamp), json!(e.event_id), json!(e.level), json!(e.message), json!(e.data)])?;
    }
    w.done()
}
