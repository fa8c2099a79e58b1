//! The planner: compiles a parsed KQL query onto a DataFusion
//! [`LogicalPlan`].
//!
//! * `let` bindings live in an immutable environment ([`Env`]); a binding
//!   keeps the environment it was defined in (lexical scope). A `let` body
//!   is planned once, where it is first used, and the plan reused (a scalar
//!   body once per row schema it is used over) — `materialize()` is planned
//!   the same way (DataFusion recomputes it; results are equal).
//! * Cost is bounded by the query's size: the planner counts the nodes it
//!   plans, a reused `let` body counting its size at each use (the size of
//!   the plan DataFusion is handed), and stops past [`MAX_PLAN_NODES`];
//!   the finished plan must be at most [`MAX_PLAN_DEPTH`] deep; the
//!   query's time limit is checked while planning.
//! * Tabular expressions become plans here and in [`ops`]; scalar ones
//!   become DataFusion expressions in [`expr`]; `summarize` is in
//!   [`summarize`], `join`/`lookup`/`union` in [`join`].
//! * Columns are resolved by name in the input plan's schema; every
//!   projection the planner writes records each column's KQL type in the
//!   field metadata (`kql_type`).

mod catalog;
mod expr;
mod funcs;
mod join;
mod make_series;
mod more_ops;
mod mv_apply;
mod ops;
mod percentile;
mod plugins;
pub mod probe;
mod series;
mod summarize;
mod top_nested_others;
pub mod types;
mod window;

use crate::error::ErrorKind;
use crate::error::{PResult, Span, SpannedError};
use crate::parse::ast::Lit;
use crate::parse::ast::{self, Expr, ExprKind, FunctionDef, LetValue, ParamType};
use crate::RenderHint;
use datafusion::catalog::TableProvider;
use datafusion::common::{Column, DFSchema};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{Expr as DfExpr, LogicalPlan, LogicalPlanBuilder};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;
use types::{df_err, KType, Typed};

pub use catalog::{DEFENDER_FUNCTIONS, NOT_COLLECTED_COLUMNS, NOT_COLLECTED_TABLES};

/// How deep user function calls may nest.
const MAX_CALL_DEPTH: usize = 32;

/// Largest plan, in syntax-tree nodes planned, each `let` body and
/// function body counted at every use (so `let b = union a, a` doubles
/// `a`). Bounds both the planner's work and the plan DataFusion is given.
pub const MAX_PLAN_NODES: usize = 100_000;

/// Deepest finished plan: DataFusion operators and the expressions in them
/// (subqueries included), once `let`s and functions are expanded.
pub const MAX_PLAN_DEPTH: usize = 512;

/// The planner's time check runs every this many nodes.
const DEADLINE_EVERY: usize = 64;

/// What planning one query cost, counted by the planner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanStats {
    /// The plan's size: nodes planned, a reused `let` body counted again at
    /// each use ([`MAX_PLAN_NODES`] bounds it).
    pub nodes: usize,
    /// Nodes the planner actually walked (a `let` body planned once is
    /// walked once, however often it is used).
    pub planned: usize,
    /// How many times each `let` body was planned, by name.
    pub let_bodies_planned: HashMap<String, usize>,
    /// Depth of the finished DataFusion plan ([`MAX_PLAN_DEPTH`]).
    pub plan_depth: usize,
}

/// What is known about one `let` binding once it has been planned.
#[derive(Default)]
pub(crate) struct LetCache {
    name: String,
    tabular: Cell<Option<bool>>,
    /// The plan of a tabular body and its size in nodes.
    plan: RefCell<Option<(LogicalPlan, usize)>>,
    /// Planned scalar bodies, per row schema they were planned over.
    scalars: RefCell<Vec<(DFSchema, Typed, usize)>>,
    /// The body's constant value, once asked.
    konst: RefCell<Option<Option<Lit>>>,
}

#[derive(Clone)]
pub(crate) enum Binding {
    /// `let x = <expr>`: scalar or tabular, decided where it is used.
    Expr {
        expr: Rc<Expr>,
        env: Env,
        cache: Rc<LetCache>,
    },
    Function {
        def: Rc<FunctionDef>,
        env: Env,
        tabular: Rc<Cell<Option<bool>>>,
    },
    /// A tabular function parameter.
    Plan(LogicalPlan),
    /// A scalar function parameter, already planned.
    Scalar(Typed),
}

/// An immutable chain of bindings.
#[derive(Clone, Default)]
pub(crate) struct Env(Option<Rc<EnvNode>>);

pub(crate) struct EnvNode {
    name: String,
    binding: Binding,
    parent: Env,
}

impl Env {
    pub fn bind(&self, name: &str, binding: Binding) -> Env {
        Env(Some(Rc::new(EnvNode { name: name.to_string(), binding, parent: self.clone() })))
    }
    pub fn get(&self, name: &str) -> Option<&Binding> {
        let mut cur = self.0.as_ref();
        while let Some(n) = cur {
            if n.name == name {
                return Some(&n.binding);
            }
            cur = n.parent.0.as_ref();
        }
        None
    }
}

pub(crate) struct Planner<'a> {
    tables: &'a HashMap<String, Arc<dyn TableProvider>>,
    /// `now()` for the whole query, Unix nanoseconds.
    now: i64,
    pub render: Option<RenderHint>,
    depth: usize,
    /// When planning must have finished (the query's time limit).
    deadline: Option<Instant>,
    pub stats: PlanStats,
    /// The order of the rows at this point of the pipeline, when they are
    /// serialized (after `sort`, `top`, `serialize`, `range`, ...): what
    /// `prev`/`next`/`row_number`/`row_cumsum` number by. `None`: not
    /// serialized.
    pub order: Option<Vec<datafusion::logical_expr::SortExpr>>,
    /// Said once per query on stderr by the CLI: columns netward never
    /// fills, `ActionType` values it never produces.
    pub notes: std::collections::BTreeSet<String>,
    /// The rows of the probes run so far ([`probe`]).
    answers: &'a probe::Answers,
    /// A probe to run before this query can be planned.
    pub pending: Option<probe::Probe>,
    /// Planning a `where` predicate: `x in (T)` may be a subquery there.
    pub in_where: bool,
}

impl<'a> Planner<'a> {
    pub fn new(
        tables: &'a HashMap<String, Arc<dyn TableProvider>>,
        answers: &'a probe::Answers,
        now: i64,
        deadline: Option<Instant>,
    ) -> Self {
        Planner {
            tables,
            answers,
            pending: None,
            in_where: false,
            now,
            render: None,
            depth: 0,
            deadline,
            stats: PlanStats::default(),
            order: None,
            notes: Default::default(),
        }
    }

    pub fn plan_query(&mut self, q: &ast::Query) -> PResult<LogicalPlan> {
        self.check_deadline(q.body.span)?;
        let env = bind_lets(&Env::default(), &q.lets);
        let plan = self.tabular(&q.body, &env)?;
        self.stats.plan_depth = plan_depth(&plan, &mut HashMap::new());
        if self.stats.plan_depth > MAX_PLAN_DEPTH {
            return Err(SpannedError::unsupported(
                format!(
                    "the query's plan is too deep: {} levels once each `let` and function is expanded where it is \
                     used (the limit is {MAX_PLAN_DEPTH})",
                    self.stats.plan_depth
                ),
                q.body.span,
            ));
        }
        Ok(plan)
    }

    /// Counts `n` more nodes in the plan; fails past [`MAX_PLAN_NODES`].
    fn add_nodes(&mut self, n: usize, span: Span) -> PResult<()> {
        self.stats.nodes = self.stats.nodes.saturating_add(n);
        if self.stats.nodes > MAX_PLAN_NODES {
            return Err(SpannedError::unsupported(
                format!(
                    "the query is too large to plan: more than {MAX_PLAN_NODES} nodes once each `let` and function \
                     is expanded where it is used (here)"
                ),
                span,
            ));
        }
        Ok(())
    }

    /// One node planned: counted, and now and then the time limit checked.
    pub fn tick(&mut self, span: Span) -> PResult<()> {
        self.add_nodes(1, span)?;
        self.stats.planned += 1;
        if self.stats.planned % DEADLINE_EVERY == 0 {
            self.check_deadline(span)?;
        }
        Ok(())
    }

    fn check_deadline(&self, span: Span) -> PResult<()> {
        match self.deadline {
            Some(d) if Instant::now() >= d => Err(SpannedError {
                message: "query exceeded its time limit while being planned".into(),
                span,
                kind: ErrorKind::Timeout,
            }),
            _ => Ok(()),
        }
    }

    /// Plans a tabular expression.
    #[recursive::recursive]
    pub fn tabular(&mut self, e: &Expr, env: &Env) -> PResult<LogicalPlan> {
        self.tick(e.span)?;
        match &e.kind {
            ExprKind::Ident(name) => self.named_table(name, e.span, env),
            ExprKind::Pipe { source, ops } => {
                self.order = None;
                let mut plan = self.tabular(source, env)?;
                // `as Name` binds the rows so far for the rest of the pipeline.
                let mut env = env.clone();
                for op in ops {
                    if self.render.is_some() {
                        return Err(SpannedError::semantic("`render` must be the last operator", op.span));
                    }
                    if let ast::OpKind::As(name) = &op.kind {
                        env = env.bind(&name.name, Binding::Plan(plan.clone()));
                        continue;
                    }
                    let before = self.order.clone();
                    plan = self.operator(op, plan, &env).map_err(|e| e.in_construct(op_name(&op.kind)))?;
                    self.order = self.order_after(&op.kind, before);
                }
                Ok(plan)
            }
            ExprKind::Print(items) => self.print(items, env, e.span),
            ExprKind::Range { name, from, to, step } => {
                let p = self.range(name, from, to, step, env, e.span)?;
                self.order = Some(vec![DfExpr::Column(Column::new_unqualified(name.name.clone())).sort(true, false)]);
                Ok(p)
            }
            ExprKind::Union { opts, operands } if operands.is_empty() => {
                // `search` without `in (...)`: every stored table.
                let mut names: Vec<&String> = self.tables.keys().collect();
                names.sort();
                let mut plans = Vec::new();
                for n in names {
                    let p = LogicalPlanBuilder::scan(n.as_str(), provider_as_source(self.tables[n].clone()), None)
                        .and_then(|b| b.build())
                        .map_err(|err| df_err(err, e.span))?;
                    plans.push((p, n.clone()));
                }
                self.union_named(plans, opts, e.span)
            }
            ExprKind::Datatable { columns, values } => self.datatable(columns, values, env, e.span),
            ExprKind::Union { opts, operands } => {
                let mut plans = Vec::new();
                for o in operands {
                    plans.push((self.tabular(o, env)?, operand_name(o)));
                }
                self.union_named(plans, opts, e.span)
            }
            ExprKind::Call { name, args } => self.tabular_call(name, args, env, None, e.span),
            _ => Err(SpannedError::semantic("expected a tabular expression (a table or a pipeline)", e.span)),
        }
    }

    #[inline(never)]
    fn named_table(&mut self, name: &str, span: Span, env: &Env) -> PResult<LogicalPlan> {
        match env.get(name) {
            Some(Binding::Expr { expr, env: env2, cache }) => {
                let (expr, env2, cache) = (expr.clone(), env2.clone(), cache.clone());
                if !self.is_tabular(&expr, &env2) {
                    return Err(SpannedError::semantic(format!("`{name}` is a scalar, not a table"), span));
                }
                // Planned once; each further use adds its size to the plan.
                let hit = cache.plan.borrow().as_ref().map(|(p, n)| (p.clone(), *n));
                if let Some((plan, size)) = hit {
                    self.add_nodes(size, span)?;
                    return Ok(plan);
                }
                *self.stats.let_bodies_planned.entry(cache.name.clone()).or_default() += 1;
                let before = self.stats.nodes;
                let plan = self.tabular(&expr, &env2)?;
                *cache.plan.borrow_mut() = Some((plan.clone(), self.stats.nodes - before));
                return Ok(plan);
            }
            Some(Binding::Plan(p)) => return Ok(p.clone()),
            Some(Binding::Function { .. }) => {
                return Err(SpannedError::semantic(format!("function `{name}` needs `()` to be called"), span))
            }
            Some(Binding::Scalar(_)) => {
                return Err(SpannedError::semantic(format!("`{name}` is a scalar, not a table"), span))
            }
            None => {}
        }
        if let Some(p) = self.tables.get(name) {
            return LogicalPlanBuilder::scan(name, provider_as_source(p.clone()), None)
                .and_then(|b| b.build())
                .map_err(|e| df_err(e, span));
        }
        if name == netward_events::Table::DeviceEvents.name() {
            return self.device_events_view(span);
        }
        if NOT_COLLECTED_TABLES.contains(&name) {
            return Err(SpannedError::unsupported(format!("table `{name}` is not collected by netward"), span));
        }
        if netward_events::Table::ALL.iter().any(|t| t.name() == name) {
            return Err(SpannedError::semantic(format!("table `{name}` is not registered in this session"), span));
        }
        Err(SpannedError::semantic(format!("unknown table or variable `{name}`"), span))
    }

    /// `DeviceEvents`: the network-protection rows of DeviceNetworkEvents,
    /// with DeviceEvents' columns.
    fn device_events_view(&mut self, span: Span) -> PResult<LogicalPlan> {
        use netward_events::{device_events_source, DeviceEventsSource, Table, DEVICE_EVENTS_ACTION_PREFIX};
        let src = Table::DeviceNetworkEvents.name();
        let Some(p) = self.tables.get(src) else {
            return Err(SpannedError::semantic(
                "`DeviceEvents` is a view over `DeviceNetworkEvents`, which is not registered",
                span,
            ));
        };
        let scan = LogicalPlanBuilder::scan(src, provider_as_source(p.clone()), None).map_err(|e| df_err(e, span))?;
        let action = DfExpr::Column(Column::new_unqualified("ActionType"));
        let filter =
            types::ufn("kql_startswith_cs", vec![action, datafusion::prelude::lit(DEVICE_EVENTS_ACTION_PREFIX)], span)?;
        let plan = scan.filter(filter).and_then(|b| b.build()).map_err(|e| df_err(e, span))?;
        // The view's projection: one expression per column.
        self.add_nodes(Table::DeviceEvents.columns().len(), span)?;
        let mut cols = Vec::new();
        for c in Table::DeviceEvents.columns() {
            let ty = KType::of_field(&Field::new(c.name, c.ty.arrow(), true).with_metadata(
                [(crate::func::KQL_TYPE.to_string(), c.ty.kql_name().to_string())].into_iter().collect(),
            ));
            let e = match device_events_source(c.name) {
                DeviceEventsSource::Column(s) => DfExpr::Column(Column::new_unqualified(s)),
                DeviceEventsSource::Empty if ty == KType::String => datafusion::prelude::lit(""),
                DeviceEventsSource::Empty => types::null_of(ty).expr,
            };
            cols.push((Typed { expr: e, ty }, c.name.to_string()));
        }
        self.project(plan, cols, span)
    }

    /// A projection: each expression under its name, with its KQL type
    /// recorded in the field metadata.
    pub fn project(&self, plan: LogicalPlan, cols: Vec<(Typed, String)>, span: Span) -> PResult<LogicalPlan> {
        let exprs: Vec<DfExpr> =
            cols.into_iter().map(|(t, name)| t.expr.alias_with_metadata(name, Some(t.ty.metadata()))).collect();
        LogicalPlanBuilder::from(plan).project(exprs).and_then(|b| b.build()).map_err(|e| df_err(e, span))
    }

    /// Whether `e` denotes a table (as opposed to a scalar). Known once
    /// per binding.
    #[recursive::recursive]
    pub fn is_tabular(&self, e: &Expr, env: &Env) -> bool {
        match &e.kind {
            ExprKind::Pipe { .. }
            | ExprKind::Datatable { .. }
            | ExprKind::Union { .. }
            | ExprKind::Print(_)
            | ExprKind::Range { .. } => true,
            ExprKind::Ident(name) => match env.get(name) {
                Some(Binding::Expr { expr, env, cache }) => match cache.tabular.get() {
                    Some(t) => t,
                    None => {
                        let t = self.is_tabular(expr, env);
                        cache.tabular.set(Some(t));
                        t
                    }
                },
                Some(Binding::Plan(_)) => true,
                Some(_) => false,
                None => {
                    self.tables.contains_key(name)
                        || NOT_COLLECTED_TABLES.contains(&name.as_str())
                        || netward_events::Table::ALL.iter().any(|t| t.name() == name)
                }
            },
            ExprKind::Call { name, .. } => match env.get(&name.name) {
                Some(Binding::Function { def, env, tabular }) => match tabular.get() {
                    Some(t) => t,
                    None => {
                        let t = self.function_is_tabular(def, env);
                        tabular.set(Some(t));
                        t
                    }
                },
                _ => name.name == "materialize" || DEFENDER_FUNCTIONS.contains(&name.name.as_str()),
            },
            _ => false,
        }
    }

    fn function_is_tabular(&self, def: &FunctionDef, env: &Env) -> bool {
        let mut env = env.clone();
        for p in &def.params {
            let b = match &p.ty {
                ParamType::Tabular(_) => {
                    Binding::Plan(LogicalPlan::EmptyRelation(datafusion::logical_expr::EmptyRelation {
                        produce_one_row: false,
                        schema: Arc::new(DFSchema::empty()),
                    }))
                }
                ParamType::Scalar(_) => Binding::Scalar(types::null_of(KType::Null)),
            };
            env = env.bind(&p.name.name, b);
        }
        let env = bind_lets(&env, &def.lets);
        self.is_tabular(&def.body, &env)
    }

    /// A tabular call: `materialize(T)`, a user function, or `invoke f()`
    /// (then `input` is the piped table, bound to the first tabular
    /// parameter).
    pub fn tabular_call(
        &mut self,
        name: &ast::Ident,
        args: &[Expr],
        env: &Env,
        input: Option<LogicalPlan>,
        span: Span,
    ) -> PResult<LogicalPlan> {
        match env.get(&name.name) {
            Some(Binding::Function { def, env: fenv, .. }) => {
                let (def, fenv) = (def.clone(), fenv.clone());
                return self.call_function(&def, &fenv, args, env, input, None, span).and_then(|r| match r {
                    FnResult::Table(p) => Ok(p),
                    FnResult::Scalar(_) => Err(SpannedError::semantic(
                        format!("function `{}` returns a scalar, not a table", name.name),
                        name.span,
                    )),
                });
            }
            Some(_) => return Err(SpannedError::semantic(format!("`{}` is not a function", name.name), name.span)),
            None => {}
        }
        if name.name == "materialize" && input.is_none() {
            let [arg] = args else {
                return Err(SpannedError::semantic("`materialize` takes one tabular expression", span));
            };
            return self.tabular(arg, env);
        }
        if DEFENDER_FUNCTIONS.contains(&name.name.as_str()) {
            return Err(SpannedError::unsupported(
                format!("function `{}` is Defender-only; netward does not provide it", name.name),
                name.span,
            ));
        }
        Err(SpannedError::semantic(format!("unknown tabular function `{}`", name.name), name.span))
    }

    /// Calls a user-defined function. Scalar arguments are planned over
    /// `row_schema` (the caller's row, for scalar functions) or as
    /// constants (for tabular functions).
    #[allow(clippy::too_many_arguments)]
    pub fn call_function(
        &mut self,
        def: &FunctionDef,
        fenv: &Env,
        args: &[Expr],
        caller_env: &Env,
        mut input: Option<LogicalPlan>,
        row_schema: Option<&DFSchema>,
        span: Span,
    ) -> PResult<FnResult> {
        if self.depth >= MAX_CALL_DEPTH {
            return Err(SpannedError::semantic("function calls nested too deeply", span));
        }
        let empty = DFSchema::empty();
        let schema = row_schema.unwrap_or(&empty);
        let mut env = fenv.clone();
        let mut args_iter = args.iter();
        for p in &def.params {
            let binding = match &p.ty {
                ParamType::Tabular(cols) => {
                    let plan = match input.take() {
                        Some(p) => p,
                        None => match args_iter.next() {
                            Some(a) => self.tabular(a, caller_env)?,
                            None => {
                                return Err(SpannedError::semantic(
                                    format!("missing table argument `{}`", p.name.name),
                                    span,
                                ))
                            }
                        },
                    };
                    for (c, _ty) in cols {
                        if !plan.schema().fields().iter().any(|f| f.name() == &c.name) {
                            return Err(SpannedError::semantic(
                                format!("the table passed as `{}` has no column `{}`", p.name.name, c.name),
                                span,
                            ));
                        }
                    }
                    Binding::Plan(plan)
                }
                ParamType::Scalar(ty) => {
                    let t = match (args_iter.next(), &p.default) {
                        (Some(a), _) => self.scalar(a, caller_env, schema)?,
                        (None, Some(d)) => self.scalar(d, fenv, &empty)?,
                        (None, None) => {
                            return Err(SpannedError::semantic(format!("missing argument `{}`", p.name.name), span))
                        }
                    };
                    let t = match KType::from_type_name(&ty.name) {
                        Some(k) if k != t.ty && t.ty != KType::Null => types::convert(t, k, span)?,
                        _ => t,
                    };
                    Binding::Scalar(t)
                }
            };
            env = env.bind(&p.name.name, binding);
        }
        if let Some(extra) = args_iter.next() {
            return Err(SpannedError::semantic("too many arguments", extra.span));
        }
        if input.is_some() {
            return Err(SpannedError::semantic("`invoke` needs a function with a table parameter", span));
        }
        let env = bind_lets(&env, &def.lets);
        self.depth += 1;
        let r = if self.is_tabular(&def.body, &env) {
            self.tabular(&def.body, &env).map(FnResult::Table)
        } else {
            self.scalar(&def.body, &env, schema).map(FnResult::Scalar)
        };
        self.depth -= 1;
        r
    }

    pub fn now(&self) -> i64 {
        self.now
    }
}

pub(crate) enum FnResult {
    Table(LogicalPlan),
    Scalar(Typed),
}

/// The name a `union` operand gives `withsource`: its table or `let` name.
pub(crate) fn operand_name(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Ident(n) => n.clone(),
        ExprKind::Pipe { source, .. } => operand_name(source),
        _ => "union_arg".to_string(),
    }
}

/// The operator's name as the user wrote it, for error messages.
pub(crate) fn op_name(k: &ast::OpKind) -> &'static str {
    use ast::OpKind as O;
    match k {
        O::Where(_) => "where",
        O::Project(_) => "project",
        O::Extend(_) => "extend",
        O::ProjectAway(_) => "project-away",
        O::ProjectKeep(_) => "project-keep",
        O::ProjectRename(_) => "project-rename",
        O::ProjectReorder(_) => "project-reorder",
        O::Summarize { .. } => "summarize",
        O::Count => "count",
        O::Take(_) => "take",
        O::Top { .. } => "top",
        O::TopNested(_) => "top-nested",
        O::Sort(_) => "sort",
        O::Distinct(_) => "distinct",
        O::Join { .. } => "join",
        O::Lookup { .. } => "lookup",
        O::Union { .. } => "union",
        O::Render { .. } => "render",
        O::Invoke(_) => "invoke",
        O::As(_) => "as",
        O::Serialize(_) => "serialize",
        O::Sample(_) => "sample",
        O::TopHitters { .. } => "top-hitters",
        O::GetSchema => "getschema",
        O::MvExpand { .. } => "mv-expand",
        O::MvApply { .. } => "mv-apply",
        O::Parse { filter: false, .. } => "parse",
        O::Parse { filter: true, .. } => "parse-where",
        O::Search(..) => "search",
        O::Evaluate(_) => "evaluate",
        O::MakeSeries { .. } => "make-series",
    }
}

fn bind_lets(env: &Env, lets: &[ast::Let]) -> Env {
    let mut env = env.clone();
    for l in lets {
        let b = match &l.value {
            LetValue::Expr(e) => Binding::Expr {
                expr: Rc::new(e.clone()),
                env: env.clone(),
                cache: Rc::new(LetCache { name: l.name.name.clone(), ..LetCache::default() }),
            },
            LetValue::Function(f) => {
                Binding::Function { def: Rc::new(f.clone()), env: env.clone(), tabular: Rc::default() }
            }
        };
        env = env.bind(&l.name.name, b);
    }
    env
}

use datafusion::arrow::datatypes::Field;

/// Depth of `plan`: its operators and the expressions in them, subqueries
/// included. A subplan shared by two parents (a reused `let`) is measured
/// once.
fn plan_depth(root: &LogicalPlan, seen: &mut HashMap<*const LogicalPlan, usize>) -> usize {
    #[recursive::recursive]
    fn plan(p: &LogicalPlan, seen: &mut HashMap<*const LogicalPlan, usize>) -> usize {
        if let Some(d) = seen.get(&(p as *const LogicalPlan)) {
            return *d;
        }
        let mut d = 0;
        for i in p.inputs() {
            d = d.max(plan(i, seen));
        }
        let _ = p.apply_expressions(|e| {
            d = d.max(expr(e, seen));
            Ok(TreeNodeRecursion::Continue)
        });
        seen.insert(p as *const LogicalPlan, d + 1);
        d + 1
    }
    #[recursive::recursive]
    fn expr(e: &DfExpr, seen: &mut HashMap<*const LogicalPlan, usize>) -> usize {
        let mut d = match e {
            DfExpr::InSubquery(s) => plan(&s.subquery.subquery, seen),
            DfExpr::ScalarSubquery(s) => plan(&s.subquery, seen),
            DfExpr::Exists(s) => plan(&s.subquery.subquery, seen),
            _ => 0,
        };
        let _ = e.apply_children(|c| {
            d = d.max(expr(c, seen));
            Ok(TreeNodeRecursion::Continue)
        });
        d + 1
    }
    plan(root, seen)
}

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
