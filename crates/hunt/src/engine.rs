//! The engine: plans a parsed query over a session's tables and runs it
//! within the query's time and memory limits.

use crate::error::{ErrorKind, HuntError};
use crate::func::KQL_TYPE;
use crate::{parse, plan};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Per-query settings.
#[derive(Debug, Clone)]
pub struct HuntOptions {
    /// `now()` for the query, Unix nanoseconds (UTC). `None`: the system
    /// clock when the query starts. Fixed once per query either way.
    pub now: Option<i64>,
    /// Wall-clock limit for planning and executing one query.
    pub timeout: Option<Duration>,
    /// Memory limit for one query's execution, bytes (DataFusion memory
    /// pool; operators that cannot spill fail when they reach it).
    pub memory_limit: Option<usize>,
}

impl Default for HuntOptions {
    fn default() -> Self {
        HuntOptions { now: None, timeout: Some(Duration::from_secs(60)), memory_limit: Some(1 << 30) }
    }
}

/// A `render` operator's chart hint: its kind (`timechart`, `linechart`,
/// ...) and `with (...)` properties as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderHint {
    pub kind: String,
    pub props: Vec<(String, String)>,
}

/// A query's result.
#[derive(Debug, Clone)]
pub struct HuntResult {
    /// Columns, each with `kql_type` metadata.
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub render: Option<RenderHint>,
}

impl HuntResult {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

/// The hunting engine over one DataFusion session.
pub struct Hunt {
    ctx: SessionContext,
    opts: HuntOptions,
}

impl Hunt {
    pub fn new(ctx: SessionContext, opts: HuntOptions) -> Self {
        Hunt { ctx, opts }
    }

    pub fn options(&self) -> &HuntOptions {
        &self.opts
    }

    fn now(&self) -> i64 {
        self.opts.now.unwrap_or_else(|| {
            let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
        })
    }

    /// The tables of the session's default schema.
    async fn tables(&self) -> Result<HashMap<String, Arc<dyn TableProvider>>, HuntError> {
        let mut out = HashMap::new();
        let state = self.ctx.state();
        let opts = state.config().options();
        let (cat, sch) = (&opts.catalog.default_catalog, &opts.catalog.default_schema);
        let Some(schema) = self.ctx.catalog(cat).and_then(|c| c.schema(sch)) else {
            return Ok(out);
        };
        for name in schema.table_names() {
            if let Ok(Some(t)) = schema.table(&name).await {
                // `register_table("DeviceInfo", ..)` normalises the name to
                // lower case; netward's tables keep KQL's spelling.
                let canonical = netward_events::Table::ALL
                    .iter()
                    .find(|tb| tb.name().eq_ignore_ascii_case(&name))
                    .map(|tb| tb.name().to_string())
                    .unwrap_or(name);
                out.insert(canonical, t);
            }
        }
        Ok(out)
    }

    /// Parses and plans `query` without running it.
    pub async fn plan(&self, query: &str) -> Result<(LogicalPlan, Option<RenderHint>), HuntError> {
        let ast = parse::parse_query(query).map_err(|e| e.locate(query))?;
        let tables = self.tables().await?;
        let mut planner = plan::Planner::new(&tables, self.now());
        let plan = planner.plan_query(&ast).map_err(|e| e.locate(query))?;
        Ok((plan, planner.render))
    }

    /// Runs `query` within the time and memory limits.
    pub async fn run(&self, query: &str) -> Result<HuntResult, HuntError> {
        let work = async {
            let (plan, render) = self.plan(query).await?;
            let logical_schema = plan.schema().inner().clone();
            let ctx = self.limited_context()?;
            let df = ctx.execute_logical_plan(plan).await.map_err(exec_error)?;
            let batches = df.collect().await.map_err(exec_error)?;
            let schema = result_schema(&logical_schema, batches.first().map(|b| b.schema()));
            let batches = batches
                .into_iter()
                .map(|b| RecordBatch::try_new(schema.clone(), b.columns().to_vec()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| exec_error(e.into()))?;
            Ok(HuntResult { schema, batches, render })
        };
        match self.opts.timeout {
            Some(t) => match tokio::time::timeout(t, work).await {
                Ok(r) => r,
                Err(_) => Err(HuntError {
                    message: format!("query exceeded its time limit of {:?}", t),
                    line: 0,
                    col: 0,
                    kind: ErrorKind::Timeout,
                }),
            },
            None => work.await,
        }
    }

    /// A context sharing the session's tables, with this query's memory pool.
    fn limited_context(&self) -> Result<SessionContext, HuntError> {
        let state = self.ctx.state();
        let Some(limit) = self.opts.memory_limit else {
            return Ok(SessionContext::new_with_state(state));
        };
        let rt = RuntimeEnvBuilder::from_runtime_env(state.runtime_env())
            .with_memory_limit(limit, 1.0)
            .build_arc()
            .map_err(exec_error)?;
        let state = SessionStateBuilder::new_from_existing(state).with_runtime_env(rt).build();
        Ok(SessionContext::new_with_state(state))
    }
}

/// The result schema: physical types, the planner's `kql_type` metadata.
fn result_schema(logical: &SchemaRef, physical: Option<SchemaRef>) -> SchemaRef {
    let Some(physical) = physical else { return logical.clone() };
    let fields: Vec<Field> = physical
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            // Every column says its KQL type (dynamic ones need it).
            let ty = plan::types::KType::of_field(logical.fields().get(i).map(|l| l.as_ref()).unwrap_or(f.as_ref()));
            let md = std::collections::HashMap::from([(KQL_TYPE.to_string(), ty.name().to_string())]);
            let name = logical.fields().get(i).map(|l| l.name().clone()).unwrap_or_else(|| f.name().clone());
            Field::new(name, f.data_type().clone(), true).with_metadata(md)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn exec_error(e: DataFusionError) -> HuntError {
    let root = e.find_root();
    let kind = match root {
        DataFusionError::ResourcesExhausted(_) => ErrorKind::MemoryLimit,
        _ => ErrorKind::Execution,
    };
    let message = match kind {
        ErrorKind::MemoryLimit => format!("query exceeded its memory limit: {root}"),
        _ => e.to_string(),
    };
    HuntError { message, line: 0, col: 0, kind }
}
