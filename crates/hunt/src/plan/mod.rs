//! The planner: compiles a parsed KQL query onto a DataFusion
//! [`LogicalPlan`].
//!
//! * `let` bindings live in an immutable environment ([`Env`]); a binding
//!   keeps the environment it was defined in (lexical scope) and is planned
//!   where it is used — `materialize()` is planned the same way (DataFusion
//!   recomputes it; results are equal).
//! * Tabular expressions become plans here and in [`ops`]; scalar ones
//!   become DataFusion expressions in [`expr`]; `summarize` is in
//!   [`summarize`], `join`/`lookup`/`union` in [`join`].
//! * Columns are resolved by name in the input plan's schema; every
//!   projection the planner writes records each column's KQL type in the
//!   field metadata (`kql_type`).

mod catalog;
mod expr;
mod join;
mod ops;
mod summarize;
pub mod types;

use crate::error::{PResult, Span, SpannedError};
use crate::parse::ast::{self, Expr, ExprKind, FunctionDef, LetValue, ParamType};
use crate::RenderHint;
use datafusion::catalog::TableProvider;
use datafusion::common::{Column, DFSchema};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{Expr as DfExpr, LogicalPlan, LogicalPlanBuilder};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use types::{df_err, KType, Typed};

pub use catalog::{DEFENDER_FUNCTIONS, NOT_COLLECTED_COLUMNS, NOT_COLLECTED_TABLES};

/// How deep user function calls may nest.
const MAX_CALL_DEPTH: usize = 32;

#[derive(Clone)]
pub(crate) enum Binding {
    /// `let x = <expr>`: scalar or tabular, decided where it is used.
    Expr {
        expr: Rc<Expr>,
        env: Env,
    },
    Function {
        def: Rc<FunctionDef>,
        env: Env,
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
}

impl<'a> Planner<'a> {
    pub fn new(tables: &'a HashMap<String, Arc<dyn TableProvider>>, now: i64) -> Self {
        Planner { tables, now, render: None, depth: 0 }
    }

    pub fn plan_query(&mut self, q: &ast::Query) -> PResult<LogicalPlan> {
        let env = bind_lets(&Env::default(), &q.lets);
        self.tabular(&q.body, &env)
    }

    /// Plans a tabular expression.
    pub fn tabular(&mut self, e: &Expr, env: &Env) -> PResult<LogicalPlan> {
        match &e.kind {
            ExprKind::Ident(name) => self.named_table(name, e.span, env),
            ExprKind::Pipe { source, ops } => {
                let mut plan = self.tabular(source, env)?;
                for (i, op) in ops.iter().enumerate() {
                    if self.render.is_some() {
                        return Err(SpannedError::semantic("`render` must be the last operator", op.span));
                    }
                    plan = self.operator(op, plan, env)?;
                    let _ = i;
                }
                Ok(plan)
            }
            ExprKind::Datatable { columns, values } => self.datatable(columns, values, env, e.span),
            ExprKind::Union { opts, operands } => {
                let mut plans = Vec::new();
                for o in operands {
                    plans.push(self.tabular(o, env)?);
                }
                self.union(plans, opts, e.span)
            }
            ExprKind::Call { name, args } => self.tabular_call(name, args, env, None, e.span),
            _ => Err(SpannedError::semantic("expected a tabular expression (a table or a pipeline)", e.span)),
        }
    }

    fn named_table(&mut self, name: &str, span: Span, env: &Env) -> PResult<LogicalPlan> {
        match env.get(name) {
            Some(Binding::Expr { expr, env: env2 }) => {
                let (expr, env2) = (expr.clone(), env2.clone());
                if !self.is_tabular(&expr, &env2) {
                    return Err(SpannedError::semantic(format!("`{name}` is a scalar, not a table"), span));
                }
                return self.tabular(&expr, &env2);
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

    /// Whether `e` denotes a table (as opposed to a scalar).
    pub fn is_tabular(&self, e: &Expr, env: &Env) -> bool {
        match &e.kind {
            ExprKind::Pipe { .. } | ExprKind::Datatable { .. } | ExprKind::Union { .. } => true,
            ExprKind::Ident(name) => match env.get(name) {
                Some(Binding::Expr { expr, env }) => self.is_tabular(expr, env),
                Some(Binding::Plan(_)) => true,
                Some(_) => false,
                None => {
                    self.tables.contains_key(name)
                        || NOT_COLLECTED_TABLES.contains(&name.as_str())
                        || netward_events::Table::ALL.iter().any(|t| t.name() == name)
                }
            },
            ExprKind::Call { name, .. } => match env.get(&name.name) {
                Some(Binding::Function { def, env }) => self.function_is_tabular(def, env),
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
            Some(Binding::Function { def, env: fenv }) => {
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

fn bind_lets(env: &Env, lets: &[ast::Let]) -> Env {
    let mut env = env.clone();
    for l in lets {
        let b = match &l.value {
            LetValue::Expr(e) => Binding::Expr { expr: Rc::new(e.clone()), env: env.clone() },
            LetValue::Function(f) => Binding::Function { def: Rc::new(f.clone()), env: env.clone() },
        };
        env = env.bind(&l.name.name, b);
    }
    env
}

use datafusion::arrow::datatypes::Field;
