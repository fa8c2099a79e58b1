//! `summarize` and `top-nested`: KQL aggregates onto DataFusion aggregate
//! expressions, with KQL's automatic column names (`count_`,
//! `dcount_X`, `set_X`, `list_X`, `sum_X`, `avg_X`, `min_X`, `max_X`,
//! `any_X`, `countif_`, `aggregated_X`) and `arg_max`/`arg_min` expanded
//! into one column per returned value (`first_value` ordered by the
//! maximised expression).

use super::expr::find_column;
use super::ops::{expr_name, fresh_name, unique_name};
use super::top_nested_others::{others_value, Level};
use super::types::{convert, df_err, to_json, KType, Typed};
use super::{Env, Planner};
use crate::error::{PResult, Span, SpannedError};
use crate::func::agg::{make_collection, DEFAULT_MAX};
use crate::parse::ast::{Expr, ExprKind, Lit, NamedExpr, TopNestedLevel};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Column, DFSchema};
use datafusion::functions_aggregate::expr_fn as agg;
use datafusion::logical_expr::{cast, when, Expr as DfExpr, LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::lit;
use std::collections::HashSet;

/// One output column of an aggregate.
pub(super) struct AggOut {
    pub expr: DfExpr,
    pub ty: KType,
    /// KQL's default name.
    pub default: String,
}

/// The name of a `by` item without one: `bin(X, ...)` is named `X`.
fn by_name(e: &Expr) -> Option<String> {
    if let ExprKind::Call { name, args } = &e.kind {
        if matches!(name.name.as_str(), "bin" | "floor" | "bin_at" | "startofday" | "startofweek") {
            return args.first().and_then(expr_name);
        }
    }
    expr_name(e)
}

impl Planner<'_> {
    pub fn summarize(
        &mut self,
        plan: LogicalPlan,
        aggs: &[NamedExpr],
        by: &[NamedExpr],
        env: &Env,
        span: Span,
    ) -> PResult<LogicalPlan> {
        let schema = plan.schema().clone();
        let mut used = HashSet::new();
        let mut group = Vec::new();
        let mut by_cols = HashSet::new();
        // Output (name, type): metadata is applied by a projection after the
        // aggregate, as DataFusion's aggregate rewrites drop alias metadata.
        let mut out_types = Vec::new();
        for ne in by {
            if ne.names.len() > 1 {
                return Err(SpannedError::semantic("a `by` item has one name", ne.expr.span));
            }
            let t = self.scalar(&ne.expr, env, &schema)?;
            let name = match ne.names.first() {
                Some(n) => n.name.clone(),
                None => by_name(&ne.expr).unwrap_or_else(|| fresh_name(&used)),
            };
            if !used.insert(name.clone()) {
                return Err(SpannedError::semantic(format!("duplicate column `{name}`"), ne.expr.span));
            }
            if let ExprKind::Ident(n) = &ne.expr.kind {
                by_cols.insert(n.clone());
            }
            out_types.push((name.clone(), t.ty));
            group.push(t.expr.alias(name));
        }
        let mut aggr = Vec::new();
        for ne in aggs {
            let outs = self.aggregate(&ne.expr, env, &schema, &by_cols)?;
            if ne.names.len() > outs.len() {
                return Err(SpannedError::semantic("more names than values", ne.expr.span));
            }
            for (i, o) in outs.into_iter().enumerate() {
                let name = match ne.names.get(i) {
                    Some(n) => {
                        if used.contains(&n.name) {
                            return Err(SpannedError::semantic(format!("duplicate column `{}`", n.name), n.span));
                        }
                        n.name.clone()
                    }
                    None => unique_name(&o.default, &used),
                };
                used.insert(name.clone());
                out_types.push((name.clone(), o.ty));
                aggr.push(o.expr.alias(name));
            }
        }
        let agg = LogicalPlanBuilder::from(plan)
            .aggregate(group, aggr)
            .and_then(|b| b.build())
            .map_err(|e| df_err(e, span))?;
        self.retype(agg, out_types, span)
    }

    /// Projects every column of `plan` under its name with its KQL type.
    fn retype(&self, plan: LogicalPlan, types: Vec<(String, KType)>, span: Span) -> PResult<LogicalPlan> {
        let cols = types
            .into_iter()
            .map(|(n, ty)| (Typed { expr: DfExpr::Column(Column::new_unqualified(n.clone())), ty }, n))
            .collect();
        self.project(plan, cols, span)
    }

    /// Plans one aggregate call (`arg_max` gives several columns).
    fn aggregate(&mut self, e: &Expr, env: &Env, schema: &DFSchema, by_cols: &HashSet<String>) -> PResult<Vec<AggOut>> {
        let span = e.span;
        let ExprKind::Call { name, args } = &e.kind else {
            return Err(SpannedError::unsupported(
                "an aggregate must be a single aggregate function call (expressions over aggregates are not supported)",
                span,
            ));
        };
        let f = name.name.as_str();
        let argname = |i: usize| args.get(i).and_then(expr_name).unwrap_or_default();
        let one = |expr: DfExpr, ty: KType, default: String| Ok(vec![AggOut { expr, ty, default }]);
        let arity = |lo: usize, hi: usize| -> PResult<()> {
            if args.len() < lo || args.len() > hi {
                return Err(SpannedError::semantic(format!("wrong number of arguments to `{f}`"), span));
            }
            Ok(())
        };
        let pred = |p: &mut Self, i: usize| -> PResult<DfExpr> {
            let t = p.scalar(&args[i], env, schema)?;
            Ok(convert(t, KType::Bool, args[i].span)?.expr)
        };
        let only_if = |cond: DfExpr, x: DfExpr| -> PResult<DfExpr> { when(cond, x).end().map_err(|e| df_err(e, span)) };
        match f {
            "count" => {
                arity(0, 1)?;
                match args.first() {
                    // `count(X)`: the rows where X is not null, `count_X`.
                    Some(a) if !matches!(a.kind, ExprKind::Star) => {
                        let x = self.scalar(a, env, schema)?;
                        one(agg::count(x.expr), KType::Long, format!("count_{}", argname(0)))
                    }
                    _ => one(agg::count(lit(1i64)), KType::Long, "count_".into()),
                }
            }
            "countif" => {
                arity(1, 1)?;
                let c = pred(self, 0)?;
                one(agg::count(only_if(c, lit(1i64))?), KType::Long, "countif_".into())
            }
            "dcount" | "dcountif" => {
                let x = self.scalar(
                    &args.first().cloned().ok_or_else(|| SpannedError::semantic("missing argument", span))?,
                    env,
                    schema,
                )?;
                let x = if f == "dcountif" {
                    arity(2, 3)?;
                    let c = pred(self, 1)?;
                    only_if(c, x.expr)?
                } else {
                    arity(1, 2)?;
                    x.expr
                };
                // Exact distinct count: KQL's dcount is an estimate; exact
                // is within its error bound.
                one(agg::count_distinct(x), KType::Long, format!("{f}_{}", argname(0)))
            }
            "sum" | "sumif" | "avg" | "avgif" | "min" | "max" | "minif" | "maxif" => {
                let base = f.trim_end_matches("if");
                let has_if = f.ends_with("if");
                arity(if has_if { 2 } else { 1 }, if has_if { 2 } else { 1 })?;
                let x = self.scalar(&args[0], env, schema)?;
                let numeric = x.ty.is_numeric();
                if matches!(base, "sum" | "avg") && !numeric {
                    return Err(SpannedError::semantic(
                        format!("`{f}` needs a number, not {}", x.ty.name()),
                        args[0].span,
                    ));
                }
                let (mut xe, ty) = match (base, x.ty) {
                    ("sum", KType::Int | KType::Long) => (cast(x.expr, DataType::Int64), KType::Long),
                    ("sum", _) => (x.expr, KType::Real),
                    ("avg", _) => (cast(x.expr, DataType::Float64), KType::Real),
                    (_, t) => (x.expr, t),
                };
                if has_if {
                    let c = pred(self, 1)?;
                    xe = only_if(c, xe)?;
                }
                let e = match base {
                    "sum" => agg::sum(xe),
                    "avg" => agg::avg(xe),
                    "min" => agg::min(xe),
                    _ => agg::max(xe),
                };
                one(e, ty, format!("{f}_{}", argname(0)))
            }
            "make_set" | "makeset" | "make_list" | "makelist" | "make_set_if" | "make_list_if" => {
                let set = f.contains("set");
                let has_if = f.ends_with("_if");
                let base_args = if has_if { 2 } else { 1 };
                arity(base_args, base_args + 1)?;
                let max = match args.get(base_args) {
                    Some(m) => match self.const_value(m, env, schema) {
                        Some(Lit::Long(n)) if n > 0 => usize::try_from(n).unwrap_or(DEFAULT_MAX),
                        _ => {
                            return Err(SpannedError::semantic("the maximum size must be a positive constant", m.span))
                        }
                    },
                    None => DEFAULT_MAX,
                };
                let x = self.scalar(&args[0], env, schema)?;
                let mut j = to_json(x, span)?;
                if has_if {
                    let c = pred(self, 1)?;
                    j = only_if(c, j)?;
                }
                let prefix = if set { "set" } else { "list" };
                one(make_collection(set, max).call(vec![j]), KType::Dynamic, format!("{prefix}_{}", argname(0)))
            }
            "stdev" | "variance" | "stdevp" | "variancep" | "count_distinct" => {
                arity(1, 1)?;
                let x = self.scalar(&args[0], env, schema)?;
                if f == "count_distinct" {
                    return one(agg::count_distinct(x.expr), KType::Long, format!("{f}_{}", argname(0)));
                }
                if !x.ty.is_numeric() {
                    return Err(SpannedError::semantic(
                        format!("`{f}` needs a number, not {}", x.ty.name()),
                        args[0].span,
                    ));
                }
                let xe = cast(x.expr, DataType::Float64);
                let e = match f {
                    "stdev" => agg::stddev(xe),
                    "stdevp" => agg::stddev_pop(xe),
                    "variance" => agg::var_sample(xe),
                    _ => agg::var_pop(xe),
                };
                one(e, KType::Real, format!("{f}_{}", argname(0)))
            }
            "any" | "take_any" => {
                if args.len() != 1 || matches!(args[0].kind, ExprKind::Star) {
                    return Err(SpannedError::unsupported(
                        format!("`{f}` with other than one argument is not supported"),
                        span,
                    ));
                }
                let x = self.scalar(&args[0], env, schema)?;
                one(agg::first_value(x.expr, vec![]), x.ty, format!("any_{}", argname(0)))
            }
            "percentile" | "percentiles" | "percentiles_array" => {
                self.percentile_aggs(f, args, &argname(0), env, schema, span)
            }
            "arg_max" | "arg_min" => self.arg_extreme(f == "arg_max", args, env, schema, by_cols, span),
            other => {
                Err(SpannedError::unsupported(format!("aggregate function `{other}` is not supported"), name.span))
            }
        }
    }

    /// `arg_max(T, a, b)` / `arg_max(T, *)`: T's extreme, and the other
    /// values from the row where T is extreme.
    fn arg_extreme(
        &mut self,
        is_max: bool,
        args: &[Expr],
        env: &Env,
        schema: &DFSchema,
        by_cols: &HashSet<String>,
        span: Span,
    ) -> PResult<Vec<AggOut>> {
        let Some(target) = args.first() else {
            return Err(SpannedError::semantic("`arg_max` needs the expression to maximise", span));
        };
        let t = self.scalar(target, env, schema)?;
        let t_name = expr_name(target).unwrap_or_else(|| if is_max { "max_".into() } else { "min_".into() });
        let order = vec![t.expr.clone().sort(!is_max, false)];
        let mut outs = vec![AggOut {
            expr: if is_max { agg::max(t.expr.clone()) } else { agg::min(t.expr.clone()) },
            ty: t.ty,
            default: t_name.clone(),
        }];
        let mut seen: HashSet<String> = HashSet::from([t_name.clone()]);
        for a in &args[1..] {
            if matches!(a.kind, ExprKind::Star) {
                for (_, f) in schema.iter() {
                    let n = f.name();
                    if by_cols.contains(n) || seen.contains(n) {
                        continue;
                    }
                    seen.insert(n.clone());
                    let Some(c) = find_column(schema, n) else { continue };
                    let ty = KType::of_field(f);
                    outs.push(AggOut { expr: agg::first_value(c, order.clone()), ty, default: n.clone() });
                }
                continue;
            }
            let x = self.scalar(a, env, schema)?;
            let name = expr_name(a).unwrap_or_else(|| format!("{}_arg", if is_max { "max" } else { "min" }));
            seen.insert(name.clone());
            outs.push(AggOut { expr: agg::first_value(x.expr, order.clone()), ty: x.ty, default: name });
        }
        Ok(outs)
    }

    /// `top-nested N1 of X1 by Agg1, top-nested N2 of X2 by Agg2, ...`:
    /// level 1 keeps the top N1 values of X1 by Agg1; level k keeps, within
    /// each kept (X1..Xk-1) group, the top Nk values of Xk by Aggk. One row
    /// per leaf: X1, aggregated_X1, X2, aggregated_X2, ... With `with
    /// others` on any level, see [`super::top_nested_others`].
    pub fn top_nested(
        &mut self,
        plan: LogicalPlan,
        levels: &[TopNestedLevel],
        env: &Env,
        span: Span,
    ) -> PResult<LogicalPlan> {
        use datafusion::functions_window::expr_fn::row_number;
        use datafusion::logical_expr::ExprFunctionExt;
        let err = |e| df_err(e, span);
        let schema = plan.schema().clone();
        // The `of` values as columns next to the input's.
        let mut cols = self.columns(&plan, span)?;
        let mut names_types = Vec::new();
        let mut aggs = Vec::new();
        let mut dirs = Vec::new();
        let mut used = HashSet::new();
        let mut others = Vec::new();
        for (i, level) in levels.iter().enumerate() {
            let of_name = match level.of.names.first() {
                Some(n) => n.name.clone(),
                None => expr_name(&level.of.expr).unwrap_or_else(|| fresh_name(&used)),
            };
            let agg_name = match level.by.names.first() {
                Some(n) => n.name.clone(),
                None => format!("aggregated_{of_name}"),
            };
            for n in [&of_name, &agg_name] {
                if !used.insert(n.clone()) {
                    return Err(SpannedError::semantic(format!("duplicate column `{n}`"), level.of.expr.span));
                }
            }
            let of = self.scalar(&level.of.expr, env, &schema)?;
            others.push(match &level.with_others {
                Some(w) => Some(others_value(self, w, of.ty, &of_name, env, &schema)?),
                None => None,
            });
            cols.push((of.clone(), format!("__tn_of{i}")));
            names_types.push((of_name, of.ty, agg_name));
        }
        let base = self.project(plan, cols, span)?;
        // Aggregates read the input's columns, now in `base`.
        let base_schema = base.schema().clone();
        let mut out_names = Vec::new();
        for (level, (of_name, of_ty, agg_name)) in levels.iter().zip(names_types) {
            let mut outs = self.aggregate(&level.by.expr, env, &base_schema, &HashSet::new())?;
            if outs.len() != 1 {
                return Err(SpannedError::unsupported(
                    "`top-nested` needs a single-value aggregate",
                    level.by.expr.span,
                ));
            }
            let o = outs.remove(0);
            let n = match &level.n {
                Some(e) => match self.const_value(e, env, &base_schema) {
                    Some(Lit::Long(n)) if n >= 0 => Some(n),
                    _ => return Err(SpannedError::semantic("expected a constant non-negative count", e.span)),
                },
                None => None,
            };
            out_names.push((of_name, of_ty, agg_name, o.ty));
            dirs.push(level.asc.unwrap_or(false));
            aggs.push((o.expr, n, level.asc.unwrap_or(false)));
        }
        if others.iter().any(Option::is_some) {
            // Groups of other rows need the rows themselves, not only the
            // kept groups' aggregates: planned apart.
            let mut planned = Vec::new();
            let mut names = Vec::new();
            for (((agg, n, asc), (of_name, of_ty, agg_name, agg_ty)), (level, others)) in
                aggs.into_iter().zip(out_names).zip(levels.iter().zip(others))
            {
                planned.push(Level { agg, agg_ty, agg_span: level.by.expr.span, n, asc, others, of_ty });
                names.push((of_name, agg_name));
            }
            return self.top_nested_others(base, planned, names, span);
        }
        let of_col = |i: usize| DfExpr::Column(Column::new_unqualified(format!("__tn_of{i}")));
        // Each level: aggregate, rank within the parent group, keep the top.
        let mut joined: Option<LogicalPlan> = None;
        for (i, (agg_expr, n, asc)) in aggs.into_iter().enumerate() {
            let keys: Vec<DfExpr> = (0..=i).map(of_col).collect();
            let agg_col = DfExpr::Column(Column::new_unqualified(format!("__tn_agg{i}")));
            let rank = row_number()
                .partition_by((0..i).map(of_col).collect())
                .order_by(vec![agg_col.clone().sort(asc, asc)])
                .build()
                .map_err(err)?
                .alias("__tn_rank");
            let mut b = LogicalPlanBuilder::from(base.clone())
                .aggregate(keys, vec![agg_expr.alias(format!("__tn_agg{i}"))])
                .and_then(|b| b.window(vec![rank]))
                .map_err(err)?;
            if let Some(n) = n {
                b = b.filter(DfExpr::Column(Column::new_unqualified("__tn_rank")).lt_eq(lit(n))).map_err(err)?;
            }
            let mut proj: Vec<DfExpr> = (0..=i).map(of_col).collect();
            proj.push(agg_col);
            let level =
                b.project(proj).and_then(|b| b.alias(format!("__tn{i}"))).and_then(|b| b.build()).map_err(err)?;
            joined = Some(match joined {
                None => level,
                Some(prev) => {
                    let lk: Vec<Column> =
                        (0..i).map(|k| Column::new(Some(format!("__tn{}", i - 1)), format!("__tn_of{k}"))).collect();
                    let rk: Vec<Column> =
                        (0..i).map(|k| Column::new(Some(format!("__tn{i}")), format!("__tn_of{k}"))).collect();
                    // Null group values match each other, as groups do.
                    let j = LogicalPlanBuilder::from(prev)
                        .join_detailed(
                            level,
                            datafusion::common::JoinType::Inner,
                            (lk, rk),
                            None,
                            datafusion::common::NullEquality::NullEqualsNull,
                        )
                        .map_err(err)?;
                    // Keep the parent's aggregates and this level's columns.
                    let mut keep = Vec::new();
                    for k in 0..i {
                        keep.push(
                            DfExpr::Column(Column::new(Some(format!("__tn{}", i - 1)), format!("__tn_agg{k}")))
                                .alias(format!("__tn_agg{k}")),
                        );
                    }
                    for k in 0..=i {
                        keep.push(
                            DfExpr::Column(Column::new(Some(format!("__tn{i}")), format!("__tn_of{k}")))
                                .alias(format!("__tn_of{k}")),
                        );
                    }
                    keep.push(
                        DfExpr::Column(Column::new(Some(format!("__tn{i}")), format!("__tn_agg{i}")))
                            .alias(format!("__tn_agg{i}")),
                    );
                    j.project(keep).and_then(|b| b.alias(format!("__tn{i}"))).and_then(|b| b.build()).map_err(err)?
                }
            });
        }
        let Some(result) = joined else {
            return Err(SpannedError::semantic("`top-nested` needs a level", span));
        };
        let q = format!("__tn{}", out_names.len() - 1);
        // Parents in the order of their aggregates, then each level's.
        let order: Vec<_> = dirs
            .iter()
            .enumerate()
            .flat_map(|(i, asc)| {
                [
                    DfExpr::Column(Column::new(Some(q.clone()), format!("__tn_agg{i}"))).sort(*asc, *asc),
                    DfExpr::Column(Column::new(Some(q.clone()), format!("__tn_of{i}"))).sort(true, true),
                ]
            })
            .collect();
        let result = LogicalPlanBuilder::from(result).sort(order).and_then(|b| b.build()).map_err(err)?;
        let mut fin = Vec::new();
        for (i, (of_name, of_ty, agg_name, agg_ty)) in out_names.into_iter().enumerate() {
            fin.push((
                Typed { expr: DfExpr::Column(Column::new(Some(q.clone()), format!("__tn_of{i}"))), ty: of_ty },
                of_name,
            ));
            fin.push((
                Typed { expr: DfExpr::Column(Column::new(Some(q.clone()), format!("__tn_agg{i}"))), ty: agg_ty },
                agg_name,
            ));
        }
        self.project(result, fin, span)
    }
}
