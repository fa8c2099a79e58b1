//! Helpers shared by the integration tests: sessions with MemTables and
//! results as strings.
#![allow(dead_code)]

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use netward_hunt::{Hunt, HuntError, HuntOptions, HuntResult};
use std::sync::Arc;

/// 2024-03-07T12:00:00Z, a Thursday.
pub const NOW: i64 = 1_709_812_800_000_000_000;

pub fn ctx_with(tables: Vec<(&str, RecordBatch)>) -> SessionContext {
    let ctx = SessionContext::new();
    for (name, b) in tables {
        let t = MemTable::try_new(b.schema(), vec![vec![b]]).unwrap();
        ctx.register_table(name, Arc::new(t)).unwrap();
    }
    ctx
}

pub fn hunt(ctx: SessionContext) -> Hunt {
    Hunt::new(ctx, HuntOptions { now: Some(NOW), ..HuntOptions::default() })
}

pub async fn try_run(ctx: &SessionContext, q: &str) -> Result<HuntResult, HuntError> {
    hunt(ctx.clone()).run(q).await
}

pub async fn run(ctx: &SessionContext, q: &str) -> HuntResult {
    match try_run(ctx, q).await {
        Ok(r) => r,
        Err(e) => panic!("query failed: {e}\n{q}"),
    }
}

/// Column names of a result.
pub fn names(r: &HuntResult) -> Vec<String> {
    r.schema.fields().iter().map(|f| f.name().clone()).collect()
}

/// The `kql_type` of each column.
pub fn kql_types(r: &HuntResult) -> Vec<String> {
    r.schema.fields().iter().map(|f| f.metadata().get("kql_type").cloned().unwrap_or_default()).collect()
}

/// Rows as strings ("" for null).
pub fn rows(r: &HuntResult) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for b in &r.batches {
        for i in 0..b.num_rows() {
            out.push(
                b.columns()
                    .iter()
                    .map(|c| if c.is_null(i) { "<null>".to_string() } else { array_value_to_string(c, i).unwrap() })
                    .collect(),
            );
        }
    }
    out
}

/// Rows as strings, sorted (for results whose order KQL leaves open).
pub fn sorted_rows(r: &HuntResult) -> Vec<Vec<String>> {
    let mut v = rows(r);
    v.sort();
    v
}

/// One column's values.
pub fn column(r: &HuntResult, name: &str) -> Vec<String> {
    let i = names(r).iter().position(|n| n == name).unwrap_or_else(|| panic!("no column {name} in {:?}", names(r)));
    rows(r).into_iter().map(|mut row| row.swap_remove(i)).collect()
}

/// (column names, sorted rows)
pub type Rows = (Vec<String>, Vec<Vec<String>>);

/// Runs a query over an empty session (datatable queries).
pub async fn q(src: &str) -> HuntResult {
    run(&SessionContext::new(), src).await
}

pub async fn q_err(src: &str) -> HuntError {
    match try_run(&SessionContext::new(), src).await {
        Ok(r) => panic!("expected an error, got {:?}", rows(&r)),
        Err(e) => e,
    }
}
