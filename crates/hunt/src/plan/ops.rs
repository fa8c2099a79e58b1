//! Tabular operators other than `summarize`/`join`/`union`: `where`,
//! `project*`, `extend`, `take`, `top`, `sort`, `distinct`, `count`,
//! `render`, `invoke`.

use super::types::{convert, df_err, typed, KType, Typed};
use super::{Env, Planner};
use crate::error::{PResult, Span, SpannedError};
use crate::parse::ast::{Expr, ExprKind, Lit, NamePattern, NamedExpr, OpKind, Operator, SortKey};
use crate::RenderHint;
use datafusion::common::{Column, DFSchema};
use datafusion::logical_expr::{Expr as DfExpr, LogicalPlan, LogicalPlanBuilder, SortExpr};
use std::collections::HashSet;

/// The name KQL gives an unnamed expression: a column keeps its name, a
/// dynamic path `a.b["c"]` becomes `a_b_c`; other expressions get none.
pub fn expr_name(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Ident(n) => Some(n.clone()),
        // `tostring(a.b)` is named `a_b`, as Kusto names it.
        ExprKind::Call { name, args } if args.len() == 1 && CONVERSIONS.contains(&name.name.as_str()) => {
            expr_name(&args[0])
        }
        ExprKind::Member { expr, name } => Some(format!("{}_{}", expr_name(expr)?, name.name)),
        ExprKind::Index { expr, index } => match &index.kind {
            ExprKind::Lit(Lit::Str(k)) => Some(format!("{}_{}", expr_name(expr)?, k)),
            ExprKind::Lit(Lit::Long(i)) => Some(format!("{}_{}", expr_name(expr)?, i)),
            _ => None,
        },
        _ => None,
    }
}

/// Conversions that keep their argument's name.
const CONVERSIONS: &[&str] = &[
    "tostring",
    "toint",
    "tolong",
    "todouble",
    "toreal",
    "tobool",
    "toboolean",
    "todatetime",
    "totimespan",
    "todynamic",
    "todecimal",
    "toguid",
];

/// `Column1`, `Column2`, ...: the first not in `used`.
pub fn fresh_name(used: &HashSet<String>) -> String {
    (1..).map(|i| format!("Column{i}")).find(|n| !used.contains(n)).unwrap_or_default()
}

/// `name`, or `name1`, `name2`... if taken (KQL's rule for clashes).
pub fn unique_name(name: &str, used: &HashSet<String>) -> String {
    if !used.contains(name) {
        return name.to_string();
    }
    (1..).map(|i| format!("{name}{i}")).find(|n| !used.contains(n)).unwrap_or_default()
}

/// Glob match with `*` only.
pub fn wildcard(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

impl Planner<'_> {
    /// Every column of `plan`, in order, as typed column references.
    pub fn columns(&self, plan: &LogicalPlan, span: Span) -> PResult<Vec<(Typed, String)>> {
        let schema = plan.schema();
        schema
            .iter()
            .map(|(q, f)| {
                let e = DfExpr::Column(Column::new(q.cloned(), f.name()));
                Ok((typed(e, schema, span)?, f.name().clone()))
            })
            .collect()
    }

    // DataFusion reads a plan's schema by recursing down a chain of
    // filters: the operator starts with stack to spare for that.
    #[recursive::recursive]
    pub fn operator(&mut self, op: &Operator, plan: LogicalPlan, env: &Env) -> PResult<LogicalPlan> {
        let span = op.span;
        self.tick(span)?;
        let build =
            |b: datafusion::error::Result<LogicalPlanBuilder>| b.and_then(|b| b.build()).map_err(|e| df_err(e, span));
        match &op.kind {
            OpKind::Where(e) => {
                let outer = std::mem::replace(&mut self.in_where, true);
                let t = self.scalar(e, env, plan.schema());
                self.in_where = outer;
                let t = t?;
                let t = match t.ty {
                    KType::Bool => t,
                    KType::Dynamic => convert(t, KType::Bool, e.span)?,
                    other => {
                        return Err(SpannedError::semantic(
                            format!("`where` needs a bool condition, found {}", other.name()),
                            e.span,
                        ))
                    }
                };
                build(LogicalPlanBuilder::from(plan).filter(t.expr))
            }
            OpKind::Project(items) if items.iter().any(super::more_ops::is_multi) => {
                // `project series_stats(x)`: extend, then keep the named columns.
                let before = self.columns(&plan, span)?.into_iter().map(|(_, n)| n).collect::<HashSet<_>>();
                let p = self.extend_items(plan, items, env, span)?;
                let mut keep = Vec::new();
                for (t, n) in self.columns(&p, span)? {
                    let named = items.iter().any(|ne| {
                        ne.names.iter().any(|i| i.name == n) || expr_name(&ne.expr).as_deref() == Some(n.as_str())
                    });
                    if !before.contains(&n) || named {
                        keep.push((t, n));
                    }
                }
                self.project(p, keep, span)
            }
            OpKind::Project(items) => {
                let schema = plan.schema().clone();
                let mut used = HashSet::new();
                let mut cols = Vec::new();
                for ne in items {
                    let t = self.scalar(&ne.expr, env, &schema)?;
                    let name = self.item_name(ne, &used)?;
                    if !used.insert(name.clone()) {
                        return Err(SpannedError::semantic(format!("duplicate column `{name}`"), ne.expr.span));
                    }
                    cols.push((t, name));
                }
                let mut exprs: Vec<DfExpr> = cols.iter().map(|(t, _)| t.expr.clone()).collect();
                let plan = self.windowed(plan, &mut exprs, span)?;
                let cols = cols.into_iter().zip(exprs).map(|((t, n), e)| (Typed { expr: e, ty: t.ty }, n)).collect();
                self.project(plan, cols, span)
            }
            OpKind::Extend(items) => self.extend_items(plan, items, env, span),
            OpKind::Serialize(items) => {
                // The rows are serialized from here on, in their current order.
                if self.order.is_none() {
                    self.order = Some(Vec::new());
                }
                self.extend_items(plan, items, env, span)
            }
            OpKind::Sample(n) => {
                let n = self.count_arg(n, env, plan.schema())?;
                self.sample(plan, n, span)
            }
            OpKind::TopHitters { n, of, by } => {
                let n = self.count_arg(n, env, plan.schema())?;
                self.top_hitters(plan, n, of, by.as_ref(), env, span)
            }
            OpKind::GetSchema => self.getschema(&plan, span),
            OpKind::MvExpand { opts, items, limit } => self.mv_expand(plan, opts, items, limit.as_ref(), env, span),
            OpKind::MvApply { opts, items, limit, ops } => {
                self.mv_apply(plan, opts, items, limit.as_ref(), ops, env, span)
            }
            OpKind::Parse { kind, flags, expr, items, filter } => {
                self.parse_op(plan, *kind, flags, expr, items, *filter, env, span)
            }
            OpKind::Search(pred, cs) => self.search(plan, pred, *cs, env, span),
            OpKind::Evaluate(call) => self.evaluate(plan, call, env, span),
            OpKind::MakeSeries { aggs, on, from, to, step, by, nonempty } => {
                let spec = super::make_series::Spec { aggs, on, from: from.as_ref(), to: to.as_ref(), step, by };
                self.make_series(plan, &spec, *nonempty, env, span)
            }
            OpKind::ProjectAway(pats) => {
                let cols = self.columns(&plan, span)?;
                let drop = matched(pats, &cols)?;
                let keep = cols.into_iter().filter(|(_, n)| !drop.contains(n)).collect();
                self.project(plan, keep, span)
            }
            OpKind::ProjectKeep(pats) => {
                let cols = self.columns(&plan, span)?;
                let keep_names = matched(pats, &cols)?;
                let keep = cols.into_iter().filter(|(_, n)| keep_names.contains(n)).collect();
                self.project(plan, keep, span)
            }
            OpKind::ProjectReorder(pats) => {
                let cols = self.columns(&plan, span)?;
                let mut first = Vec::new();
                for p in pats {
                    let mut any = false;
                    for (_, n) in &cols {
                        if wildcard(&p.pattern, n) && !first.contains(n) {
                            first.push(n.clone());
                            any = true;
                        }
                    }
                    if !any && !p.pattern.contains('*') {
                        return Err(SpannedError::semantic(format!("unknown column `{}`", p.pattern), p.span));
                    }
                }
                let mut out: Vec<(Typed, String)> = Vec::new();
                for n in &first {
                    if let Some(c) = cols.iter().find(|(_, m)| m == n) {
                        out.push(c.clone());
                    }
                }
                out.extend(cols.into_iter().filter(|(_, n)| !first.contains(n)));
                self.project(plan, out, span)
            }
            OpKind::ProjectRename(pairs) => {
                let mut cols = self.columns(&plan, span)?;
                for (new, old) in pairs {
                    let Some(i) = cols.iter().position(|(_, n)| *n == old.name) else {
                        return Err(SpannedError::semantic(format!("unknown column `{}`", old.name), old.span));
                    };
                    if cols.iter().enumerate().any(|(j, (_, n))| j != i && *n == new.name) {
                        return Err(SpannedError::semantic(format!("column `{}` already exists", new.name), new.span));
                    }
                    cols[i].1 = new.name.clone();
                }
                self.project(plan, cols, span)
            }
            OpKind::Summarize { aggs, by } => self.summarize(plan, aggs, by, env, span),
            OpKind::TopNested(levels) => self.top_nested(plan, levels, env, span),
            OpKind::Count => {
                let count =
                    datafusion::functions_aggregate::expr_fn::count(datafusion::prelude::lit(1i64)).alias("Count");
                build(LogicalPlanBuilder::from(plan).aggregate(Vec::<DfExpr>::new(), vec![count]))
            }
            OpKind::Take(n) => {
                let n = self.count_arg(n, env, plan.schema())?;
                build(LogicalPlanBuilder::from(plan).limit(0, Some(n)))
            }
            OpKind::Top { n, key } => {
                let n = self.count_arg(n, env, plan.schema())?;
                let sort = self.sort_exprs(std::slice::from_ref(key), env, plan.schema())?;
                self.order = Some(sort.clone());
                build(LogicalPlanBuilder::from(plan).sort_with_limit(sort, Some(n)))
            }
            OpKind::Sort(keys) => {
                let sort = self.sort_exprs(keys, env, plan.schema())?;
                self.order = Some(sort.clone());
                build(LogicalPlanBuilder::from(plan).sort(sort))
            }
            OpKind::Distinct(cols) => {
                if cols.is_empty() {
                    return build(LogicalPlanBuilder::from(plan).distinct());
                }
                let by: Vec<NamedExpr> = cols.iter().map(|e| NamedExpr { names: vec![], expr: e.clone() }).collect();
                self.summarize(plan, &[], &by, env, span)
            }
            OpKind::Join { opts, right, on } => {
                let right = self.tabular(right, env)?;
                self.join(plan, right, opts, on, false, span)
            }
            OpKind::Lookup { opts, right, on } => {
                let right = self.tabular(right, env)?;
                self.join(plan, right, opts, on, true, span)
            }
            OpKind::Union { opts, operands } => {
                let mut plans = vec![(plan, String::new())];
                for o in operands {
                    plans.push((self.tabular(o, env)?, super::operand_name(o)));
                }
                self.union_named(plans, opts, span)
            }
            OpKind::Render { kind, props } => {
                let props = props
                    .iter()
                    .map(|(k, v)| {
                        let text = match &v.kind {
                            ExprKind::Lit(Lit::Str(s)) => s.clone(),
                            ExprKind::Lit(Lit::Long(i)) => i.to_string(),
                            ExprKind::Lit(Lit::Real(r)) => r.to_string(),
                            ExprKind::Lit(Lit::Bool(b)) => b.to_string(),
                            ExprKind::Ident(s) => s.clone(),
                            _ => String::new(),
                        };
                        (k.name.clone(), text)
                    })
                    .collect();
                self.render = Some(RenderHint { kind: kind.name.clone(), props });
                Ok(plan)
            }
            OpKind::Invoke(call) => match &call.kind {
                ExprKind::Call { name, args } => self.tabular_call(name, args, env, Some(plan), call.span),
                _ => Err(SpannedError::syntax("`invoke` needs a function call", call.span)),
            },
            // Bound by the pipeline (`Planner::tabular`).
            OpKind::As(_) => Ok(plan),
        }
    }

    /// The name of a `project`/`extend` item.
    fn item_name(&self, ne: &NamedExpr, used: &HashSet<String>) -> PResult<String> {
        if ne.names.len() > 1 {
            return Err(SpannedError::semantic("tuple names are only allowed in `summarize`", ne.expr.span));
        }
        Ok(match ne.names.first() {
            Some(n) => n.name.clone(),
            None => expr_name(&ne.expr).unwrap_or_else(|| fresh_name(used)),
        })
    }

    /// A row count: a constant non-negative integer.
    pub fn count_arg(&mut self, e: &Expr, env: &Env, schema: &DFSchema) -> PResult<usize> {
        match self.const_value(e, env, schema) {
            Some(Lit::Long(n)) if n >= 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => Err(SpannedError::semantic("expected a constant non-negative row count", e.span)),
        }
    }

    /// Sort keys: descending by default; nulls first when ascending and
    /// last when descending, unless said otherwise (KQL's defaults).
    pub fn sort_exprs(&mut self, keys: &[SortKey], env: &Env, schema: &DFSchema) -> PResult<Vec<SortExpr>> {
        keys.iter()
            .map(|k| {
                let t = self.scalar(&k.expr, env, schema)?;
                let asc = k.asc.unwrap_or(false);
                Ok(t.expr.sort(asc, k.nulls_first.unwrap_or(asc)))
            })
            .collect()
    }
}

/// Names of `cols` matched by `pats`; a plain name must exist.
fn matched(pats: &[NamePattern], cols: &[(Typed, String)]) -> PResult<HashSet<String>> {
    let mut out = HashSet::new();
    for p in pats {
        let mut any = false;
        for (_, n) in cols {
            if wildcard(&p.pattern, n) {
                out.insert(n.clone());
                any = true;
            }
        }
        if !any && !p.pattern.contains('*') {
            return Err(SpannedError::semantic(format!("unknown column `{}`", p.pattern), p.span));
        }
    }
    Ok(out)
}

impl Planner<'_> {
    /// `datatable(a:string, ...) [ values ]`: constant rows in a MemTable.
    pub fn datatable(
        &mut self,
        columns: &[(crate::parse::ast::Ident, crate::parse::ast::Ident)],
        values: &[Expr],
        env: &Env,
        span: Span,
    ) -> PResult<LogicalPlan> {
        use datafusion::arrow::datatypes::{Field, Schema};
        use datafusion::arrow::record_batch::RecordBatch;
        use datafusion::common::ScalarValue;
        use std::sync::Arc;
        let mut fields = Vec::new();
        let mut types = Vec::new();
        for (name, ty) in columns {
            let k = KType::from_type_name(&ty.name)
                .ok_or_else(|| SpannedError::semantic(format!("unknown type `{}`", ty.name), ty.span))?;
            let md = [(crate::func::KQL_TYPE.to_string(), k.name().to_string())].into_iter().collect();
            fields.push(Field::new(&name.name, k.arrow(), true).with_metadata(md));
            types.push(k);
        }
        if values.len() % columns.len().max(1) != 0 {
            return Err(SpannedError::semantic(
                format!("{} values do not fill rows of {} columns", values.len(), columns.len()),
                span,
            ));
        }
        let empty = DFSchema::empty();
        let mut cols: Vec<Vec<ScalarValue>> = vec![Vec::new(); columns.len()];
        for (i, v) in values.iter().enumerate() {
            let c = i % columns.len();
            let l = self
                .const_value(v, env, &empty)
                .ok_or_else(|| SpannedError::semantic("datatable values must be constants", v.span))?;
            cols[c].push(datatable_value(&l, types[c], v.span)?);
        }
        let schema = Arc::new(Schema::new(fields));
        let arrays = cols
            .into_iter()
            .zip(&types)
            .map(|(vals, k)| {
                if vals.is_empty() {
                    Ok(datafusion::arrow::array::new_empty_array(&k.arrow()))
                } else {
                    ScalarValue::iter_to_array(vals)
                }
            })
            .collect::<datafusion::error::Result<Vec<_>>>()
            .map_err(|e| df_err(e, span))?;
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| df_err(e.into(), span))?;
        let table =
            datafusion::datasource::MemTable::try_new(schema, vec![vec![batch]]).map_err(|e| df_err(e, span))?;
        LogicalPlanBuilder::scan("datatable", datafusion::datasource::provider_as_source(Arc::new(table)), None)
            .and_then(|b| b.build())
            .map_err(|e| df_err(e, span))
    }
}

/// A constant as a value of a datatable column of type `k`.
fn datatable_value(l: &Lit, k: KType, span: Span) -> PResult<datafusion::common::ScalarValue> {
    use datafusion::common::ScalarValue as S;
    let bad = || SpannedError::semantic(format!("value does not fit a {} column", k.name()), span);
    Ok(match (k, l) {
        (_, Lit::Null | Lit::TypedNull(_)) => S::try_from(&k.arrow()).map_err(|_| bad())?,
        (KType::String, Lit::Str(s)) => S::Utf8(Some(s.clone())),
        (KType::Int, Lit::Long(v)) => S::Int32(Some(i32::try_from(*v).map_err(|_| bad())?)),
        (KType::Long, Lit::Long(v)) => S::Int64(Some(*v)),
        (KType::Real, Lit::Long(v)) => S::Float64(Some(*v as f64)),
        (KType::Real, Lit::Real(v)) => S::Float64(Some(*v)),
        (KType::Bool, Lit::Bool(b)) => S::Boolean(Some(*b)),
        (KType::DateTime, Lit::DateTime(ns)) => S::TimestampNanosecond(Some(*ns), Some("UTC".into())),
        (KType::Timespan, Lit::Timespan(ns)) => S::DurationNanosecond(Some(*ns)),
        (KType::Dynamic, other) => S::Utf8(Some(super::expr::lit_json(other).to_string())),
        _ => return Err(bad()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("Init*", "InitiatingProcessId"));
        assert!(wildcard("*Id", "InitiatingProcessId"));
        assert!(wildcard("I*P*Id", "InitiatingProcessId"));
        assert!(!wildcard("*Ip", "InitiatingProcessId"));
        assert!(wildcard("a", "a"));
        assert!(!wildcard("a", "ab"));
    }
}
