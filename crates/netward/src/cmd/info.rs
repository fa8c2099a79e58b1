//! `netward info`: where data lives, which config is read, who this device is.

use crate::context::Ctx;
use crate::error::CliResult;
use crate::output::RowWriter;
use serde_json::json;

pub fn run(ctx: &Ctx) -> CliResult<()> {
    let device = ctx.device()?;
    let config = match &ctx.settings.config_file {
        Some(p) => p.display().to_string(),
        None => format!("{} (absent: defaults apply)", ctx.config_path.display()),
    };
    let rows = [
        ("data_dir", ctx.data_dir.path.display().to_string()),
        ("data_dir_source", ctx.data_dir.source.describe().to_string()),
        ("data_dir_empty", ctx.data_dir.is_empty().to_string()),
        ("config_file", config),
        ("device_id", device.id),
        ("device_name", device.name),
        ("version", env!("CARGO_PKG_VERSION").to_string()),
    ];
    let mut w = RowWriter::new(ctx.format, vec!["item".into(), "value".into()], crate::output::stdout())?;
    for (k, v) in rows {
        w.write_row(&[json!(k), json!(v)])?;
    }
    w.done()
}
