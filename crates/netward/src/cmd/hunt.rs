//! `netward hunt QUERY | -f FILE | <stdin`: a KQL query over the event
//! store, read-only, within a time and memory limit, printed as a table,
//! JSON lines or CSV.

use crate::cli::HuntArgs;
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::RowWriter;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use netward_events::{Table, Timestamp};
use netward_hunt::{ErrorKind, Hunt, HuntOptions};
use netward_store::{Store, StoreOptions};
use serde_json::{json, Value as J};
use std::io::{IsTerminal, Read};
use std::sync::Arc;
use std::time::Duration;

pub fn run(ctx: &Ctx, a: &HuntArgs) -> CliResult<()> {
    let query = read_query(a)?;
    let now = match &a.now {
        Some(s) => Some(Timestamp::parse(s).map_err(|e| CliError::bad_input(format!("--now: {e}")))?.unix_nanos()),
        None => Some(crate::now().unix_nanos()),
    };
    let timeout = a.timeout.unwrap_or_else(|| ctx.settings.get_u64("hunt.timeout_seconds"));
    let memory_mb = a.memory_limit_mb.unwrap_or_else(|| ctx.settings.get_u64("hunt.memory_limit_mb"));
    let opts = HuntOptions {
        now,
        timeout: Some(Duration::from_secs(timeout.max(1))),
        memory_limit: Some(usize::try_from(memory_mb.max(1)).unwrap_or(usize::MAX).saturating_mul(1 << 20)),
    };
    let session = SessionContext::new();
    // Held for the query: the store's tables read through it.
    let _store = register_tables(ctx, &session)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("cannot start the query runtime: {e}")))?;
    let hunt = Hunt::new(session, opts);
    let result = rt.block_on(hunt.run(&query)).map_err(|e| {
        let msg = format!("query: {e}");
        match e.kind {
            ErrorKind::Syntax | ErrorKind::Semantic | ErrorKind::Unsupported => CliError::bad_input(msg),
            ErrorKind::Timeout => CliError::failure(msg)
                .with_hint("narrow the time range, or raise --timeout (setting hunt.timeout_seconds)"),
            ErrorKind::MemoryLimit => CliError::failure(msg)
                .with_hint("narrow the query, or raise --memory-limit-mb (setting hunt.memory_limit_mb)"),
            ErrorKind::Execution => CliError::failure(msg),
        }
    })?;
    // Once per query: what the query leans on that netward never fills.
    for n in &result.notes {
        eprintln!("note: {n}");
    }
    if let Some(r) = &result.render {
        eprintln!("render: {} (a chart hint; the rows follow)", r.kind);
    }
    let fields: Vec<Arc<Field>> = result.schema.fields().iter().cloned().collect();
    let columns = fields.iter().map(|f| f.name().clone()).collect();
    let mut w = RowWriter::new(ctx.format, columns, crate::output::stdout())?;
    for batch in &result.batches {
        write_batch(&mut w, &fields, batch)?;
    }
    let rows = w.rows();
    w.done()?;
    if std::io::stderr().is_terminal() {
        eprintln!("{rows} row(s)");
    }
    Ok(())
}

/// The query from the argument, `-f FILE` or stdin (local and fleet hunting).
pub(crate) fn read_query(a: &HuntArgs) -> CliResult<String> {
    let q = match (&a.query, &a.file) {
        (Some(q), None) => q.clone(),
        (None, Some(f)) => {
            std::fs::read_to_string(f).map_err(|e| CliError::bad_input(format!("cannot read {}: {e}", f.display())))?
        }
        (None, None) if !std::io::stdin().is_terminal() => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| CliError::bad_input(format!("cannot read the query from stdin: {e}")))?;
            s
        }
        _ => return Err(CliError::bad_input("give a query, -f FILE, or the query on stdin")),
    };
    if q.trim().is_empty() {
        return Err(CliError::bad_input("the query is empty"));
    }
    Ok(q)
}

/// The store's tables, or empty ones when there is no store yet.
pub fn register_tables(ctx: &Ctx, session: &SessionContext) -> CliResult<Option<Store>> {
    let dir = ctx.data_dir.file(crate::cmd::import::STORE_DIR);
    if dir.join("MANIFEST").exists() {
        let store =
            Store::open(&dir, StoreOptions::read_only()).map_err(|e| CliError::failure(format!("event store: {e}")))?;
        store.register(session).map_err(|e| CliError::failure(format!("event store: {e}")))?;
        return Ok(Some(store));
    }
    for t in Table::ALL.into_iter().filter(|t| t.is_stored()) {
        let schema = Arc::new(t.arrow_schema());
        let mem = MemTable::try_new(schema, vec![vec![]]).map_err(|e| CliError::failure(e.to_string()))?;
        session.register_table(t.name(), Arc::new(mem)).map_err(|e| CliError::failure(e.to_string()))?;
    }
    Ok(None)
}

pub(crate) fn write_batch<W: std::io::Write>(
    w: &mut RowWriter<W>,
    fields: &[Arc<Field>],
    batch: &RecordBatch,
) -> CliResult<()> {
    for row in 0..batch.num_rows() {
        let cells: Vec<J> = fields.iter().zip(batch.columns()).map(|(f, col)| cell(f, col.as_ref(), row)).collect();
        w.write_row(&cells)?;
    }
    Ok(())
}

/// One value as JSON: dynamic columns (JSON text, `kql_type = dynamic`)
/// as the JSON they hold, datetimes in the contract's RFC 3339 form.
pub fn cell(field: &Field, col: &dyn Array, row: usize) -> J {
    if col.is_null(row) {
        return J::Null;
    }
    let dynamic = field.metadata().get(netward_hunt::KQL_TYPE).is_some_and(|t| t == "dynamic");
    match col.data_type() {
        DataType::Utf8 => text(col.as_string::<i32>().value(row), dynamic),
        DataType::LargeUtf8 => text(col.as_string::<i64>().value(row), dynamic),
        DataType::Utf8View => text(col.as_string_view().value(row), dynamic),
        DataType::Boolean => json!(col.as_boolean().value(row)),
        DataType::Int8 => json!(col.as_primitive::<datafusion::arrow::datatypes::Int8Type>().value(row)),
        DataType::Int16 => json!(col.as_primitive::<datafusion::arrow::datatypes::Int16Type>().value(row)),
        DataType::Int32 => json!(col.as_primitive::<datafusion::arrow::datatypes::Int32Type>().value(row)),
        DataType::Int64 => json!(col.as_primitive::<datafusion::arrow::datatypes::Int64Type>().value(row)),
        DataType::UInt32 => json!(col.as_primitive::<datafusion::arrow::datatypes::UInt32Type>().value(row)),
        DataType::UInt64 => json!(col.as_primitive::<datafusion::arrow::datatypes::UInt64Type>().value(row)),
        DataType::Float32 => json!(col.as_primitive::<datafusion::arrow::datatypes::Float32Type>().value(row)),
        DataType::Float64 => json!(col.as_primitive::<datafusion::arrow::datatypes::Float64Type>().value(row)),
        DataType::Timestamp(unit, _) => {
            use datafusion::arrow::datatypes as t;
            let n = match unit {
                TimeUnit::Second => {
                    col.as_primitive::<t::TimestampSecondType>().value(row).saturating_mul(1_000_000_000)
                }
                TimeUnit::Millisecond => {
                    col.as_primitive::<t::TimestampMillisecondType>().value(row).saturating_mul(1_000_000)
                }
                TimeUnit::Microsecond => {
                    col.as_primitive::<t::TimestampMicrosecondType>().value(row).saturating_mul(1_000)
                }
                TimeUnit::Nanosecond => col.as_primitive::<t::TimestampNanosecondType>().value(row),
            };
            json!(Timestamp::from_unix_nanos(n).to_string())
        }
        _ => {
            // Anything else (durations, lists): Arrow's own display.
            let fmt = datafusion::arrow::util::display::ArrayFormatter::try_new(col, &Default::default());
            match fmt {
                Ok(f) => json!(f.value(row).to_string()),
                Err(_) => J::Null,
            }
        }
    }
}

fn text(s: &str, dynamic: bool) -> J {
    if dynamic {
        serde_json::from_str(s).unwrap_or_else(|_| json!(s))
    } else {
        json!(s)
    }
}
