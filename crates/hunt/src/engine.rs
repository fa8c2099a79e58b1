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
use std::time::{Duration, Instant};

/// Per-query settings.
#[derive(Debug, Clone)]
pub struct HuntOptions {
    /// `now()` for the query, Unix nanoseconds (UTC). `None`: the system
    /// clock when the query starts. Fixed once per query either way.
    pub now: Option<i64>,
    /// Wall-clock limit for one query: parsing and planning (the planner
    /// checks it as it goes), DataFusion's optimisation and physical
    /// planning (checked between the stages) and execution.
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
    /// Said once per query (the CLI prints them on stderr): referenced
    /// columns netward never fills, `ActionType` values it never produces.
    pub notes: Vec<String>,
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

    /// Parses and plans `query` without running it, within the time limit.
    pub async fn plan(&self, query: &str) -> Result<(LogicalPlan, Option<RenderHint>), HuntError> {
        self.plan_with_stats(query).await.0.map(|p| (p.plan, p.render))
    }

    /// [`Hunt::plan`], and what parsing and planning cost (counted by the
    /// parser and the planner, whether or not they succeeded).
    pub async fn plan_with_stats(&self, query: &str) -> (Result<Planned, HuntError>, Cost) {
        let deadline = self.opts.timeout.map(|t| Instant::now() + t);
        self.plan_until(query, deadline).await
    }

    async fn plan_until(&self, query: &str, deadline: Option<Instant>) -> (Result<Planned, HuntError>, Cost) {
        let (ast, parse) = parse::parse_query_stats(query);
        let mut cost = Cost { parse, plan: plan::PlanStats::default() };
        let ast = match ast {
            Ok(a) => a,
            Err(e) => return (Err(e.locate(query)), cost),
        };
        let tables = match self.tables().await {
            Ok(t) => t,
            Err(e) => return (Err(e), cost),
        };
        let now = self.now();
        let mut answers = plan::probe::Answers::new();
        loop {
            let mut planner = plan::Planner::new(&tables, &answers, now, deadline);
            let r = planner.plan_query(&ast).map_err(|e| placed(e, query));
            cost.plan = std::mem::take(&mut planner.stats);
            // A part of the query its plan depends on (`toscalar`, ...):
            // run it, then plan again with its rows.
            if let Some(probe) = planner.pending.take() {
                if answers.len() >= plan::probe::MAX_PROBES {
                    let e = crate::error::SpannedError::unsupported(
                        format!(
                            "the query needs more than {} parts computed before the rest (`toscalar`, `bag_unpack`, \
                             `pivot`, ...); this is one too many",
                            plan::probe::MAX_PROBES
                        ),
                        probe.span,
                    );
                    return (Err(e.locate(query)), cost);
                }
                match self.execute(probe.plan, deadline).await {
                    Ok(rows) => answers.insert(probe.key, rows),
                    Err(e) => return (Err(e), cost),
                };
                continue;
            }
            let notes = std::mem::take(&mut planner.notes).into_iter().collect();
            return (r.map(|plan| Planned { plan, render: planner.render.take(), notes }), cost);
        }
    }

    /// Runs a planned query within the memory limit (the caller's timeout
    /// covers it).
    async fn execute(&self, plan: LogicalPlan, deadline: Option<Instant>) -> Result<Vec<RecordBatch>, HuntError> {
        let ctx = self.limited_context()?;
        past(deadline, "being planned")?;
        let physical = physical_plan(ctx.state(), plan, deadline).await?;
        datafusion::physical_plan::collect(physical, ctx.task_ctx()).await.map_err(exec_error)
    }

    /// Runs `query` within the time and memory limits.
    pub async fn run(&self, query: &str) -> Result<HuntResult, HuntError> {
        let deadline = self.opts.timeout.map(|t| Instant::now() + t);
        let work = async {
            let Planned { plan, render, notes } = self.plan_until(query, deadline).await.0?;
            let logical_schema = plan.schema().inner().clone();
            // DataFusion's optimiser and physical planner do not yield, and
            // recurse over the plan partly without growing the stack: they
            // run on a thread of their own with a large stack, and the time
            // limit is checked between them.
            let batches = self.execute(plan, deadline).await?;
            let schema = result_schema(&logical_schema, batches.first().map(|b| b.schema()));
            let batches = batches
                .into_iter()
                .map(|b| RecordBatch::try_new(schema.clone(), b.columns().to_vec()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| exec_error(e.into()))?;
            Ok(HuntResult { schema, batches, render, notes })
        };
        let r = match (self.opts.timeout, deadline) {
            (Some(t), Some(d)) => match tokio::time::timeout_at(tokio::time::Instant::from_std(d), work).await {
                Ok(r) => r,
                Err(_) => Err(HuntError {
                    message: format!("query exceeded its time limit of {:?}", t),
                    line: 0,
                    col: 0,
                    kind: ErrorKind::Timeout,
                }),
            },
            _ => work.await,
        };
        match (r, self.opts.timeout) {
            // The stages' own checks say where the limit was reached.
            (Err(mut e), Some(t)) if e.kind == ErrorKind::Timeout && !e.message.contains("time limit of") => {
                e.message = e.message.replacen("its time limit", &format!("its time limit of {t:?}"), 1);
                Err(e)
            }
            (r, _) => r,
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

/// A planned query: the DataFusion plan, its `render` hint and its notes.
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: LogicalPlan,
    pub render: Option<RenderHint>,
    pub notes: Vec<String>,
}

/// What parsing and planning one query cost, as counted by the parser and
/// the planner: the bounds on hostile queries are asserted on these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cost {
    pub parse: parse::ParseStats,
    pub plan: plan::PlanStats,
}

/// Places a planner error in the text; a time limit has no place.
fn placed(e: crate::error::SpannedError, query: &str) -> HuntError {
    let timeout = e.kind == ErrorKind::Timeout;
    let mut e = e.locate(query);
    if timeout {
        (e.line, e.col) = (0, 0);
    }
    e
}

/// Stack of the thread that runs DataFusion's optimiser and physical
/// planner (reserved, touched only as deep as a plan needs).
const DATAFUSION_PLANNER_STACK: usize = 256 << 20;

/// Optimises `plan` and makes its physical plan, on a thread with a stack
/// of [`DATAFUSION_PLANNER_STACK`].
async fn physical_plan(
    state: datafusion::execution::SessionState,
    plan: LogicalPlan,
    deadline: Option<Instant>,
) -> Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>, HuntError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let handle = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name("netward-hunt-planner".into())
        .stack_size(DATAFUSION_PLANNER_STACK)
        .spawn(move || {
            let r = (|| {
                let optimized = state.optimize(&plan).map_err(exec_error)?;
                past(deadline, "being optimised")?;
                let physical = handle
                    .block_on(state.query_planner().create_physical_plan(&optimized, &state))
                    .map_err(exec_error)?;
                past(deadline, "being planned")?;
                Ok(physical)
            })();
            let _ = tx.send(r);
        })
        .map_err(|e| HuntError {
            message: format!("cannot start the query planner's thread: {e}"),
            line: 0,
            col: 0,
            kind: ErrorKind::Execution,
        })?;
    rx.await.unwrap_or_else(|_| {
        Err(HuntError { message: "the query planner failed".into(), line: 0, col: 0, kind: ErrorKind::Execution })
    })
}

/// A time-limit error when `deadline` has passed.
fn past(deadline: Option<Instant>, stage: &str) -> Result<(), HuntError> {
    match deadline {
        Some(d) if Instant::now() >= d => Err(HuntError {
            message: format!("query exceeded its time limit while {stage}"),
            line: 0,
            col: 0,
            kind: ErrorKind::Timeout,
        }),
        _ => Ok(()),
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
    // DataFusion's own text never reaches the user.
    let message = match kind {
        ErrorKind::MemoryLimit => "query exceeded its memory limit".to_string(),
        _ => format!("the query failed while running: {}", crate::plan::types::engine_reason(&e)),
    };
    HuntError { message, line: 0, col: 0, kind }
}
