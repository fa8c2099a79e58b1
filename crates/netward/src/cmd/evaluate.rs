//! `netward evaluate URL|HOST|IP...`: the verdict policy gives each input,
//! one JSON object per line with exactly the verdict's fields.

use crate::cli::EvaluateArgs;
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::{Format, RowWriter};
use crate::settings::ENFORCEMENT_LEVEL;
use netward_policy::EnforcementLevel;
use serde_json::json;

const COLUMNS: [&str; 7] = ["input", "canonical", "action", "enforced", "enforcement_level", "category", "matched"];

pub fn run(ctx: &Ctx, a: &EvaluateArgs) -> CliResult<()> {
    let level_name = a.enforcement_level.as_deref().unwrap_or(ctx.settings.get(ENFORCEMENT_LEVEL));
    let level: EnforcementLevel =
        level_name.parse().map_err(|e| CliError::bad_input(format!("enforcement level: {e}")))?;
    let matcher = super::indicator::open_store(ctx)?.snapshot();
    let now = crate::now().unix_nanos().div_euclid(1_000_000_000);
    let mut w = RowWriter::new(ctx.format, COLUMNS.map(String::from).to_vec(), crate::output::stdout())?;
    let mut bad = Vec::new();
    for input in &a.inputs {
        match matcher.evaluate(input, level, now) {
            Ok(v) => {
                if let Some(note) = v.note {
                    eprintln!("note: {input}: {note}");
                }
                let obj = serde_json::to_value(&v).unwrap_or_default();
                let mut cells: Vec<serde_json::Value> =
                    COLUMNS.iter().map(|c| obj.get(*c).cloned().unwrap_or(json!(null))).collect();
                if ctx.format == Format::Table {
                    // Tables show the winner only; JSON carries every match.
                    cells[6] = obj["matched"].get(0).map_or(json!(""), |m| {
                        json!(format!("{} {}", m["id"].as_str().unwrap_or(""), m["value"].as_str().unwrap_or("")))
                    });
                }
                w.write_row(&cells)?;
            }
            Err(e) => bad.push(format!("`{input}`: {e}")),
        }
    }
    w.done()?;
    if bad.is_empty() {
        Ok(())
    } else {
        Err(CliError::bad_input(format!("cannot evaluate {}", bad.join("; "))))
    }
}
