//! `evaluate` plugins: `bag_unpack`, `pivot`, `narrow`. Others are refused
//! by name.
//!
//! `bag_unpack` and `pivot` make columns from the data: without an output
//! schema (`: (Col: type, ...)`) the planner first runs a probe
//! ([`super::probe`]) for the bags' keys and their types, or for the
//! pivot column's distinct values, at most [`MAX_PLUGIN_COLUMNS`] of them.
//! Columns made from data come in sorted order.

use super::types::{convert, df_err, to_str, ufn, KType, Typed};
use super::{Env, Planner};
use crate::error::{PResult, Span, SpannedError};
use crate::func::bag_schema::bag_schema;
use crate::parse::ast::{BinOp, Expr, ExprKind, Ident, Lit, NamedExpr, Plugin};
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::{Expr as DfExpr, LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::lit;
use std::collections::BTreeMap;

/// Most columns a plugin may make from the data.
pub const MAX_PLUGIN_COLUMNS: usize = 1024;

fn col(n: &str) -> DfExpr {
    DfExpr::Column(Column::new_unqualified(n))
}

impl Planner<'_> {
    #[inline(never)]
    pub fn evaluate(&mut self, plan: LogicalPlan, p: &Plugin, env: &Env, span: Span) -> PResult<LogicalPlan> {
        match p.name.name.as_str() {
            "bag_unpack" => self.bag_unpack(plan, p, env, span),
            "pivot" => self.pivot(plan, p, env, span),
            "narrow" => self.narrow(plan, p, span),
            other => Err(SpannedError::unsupported(
                format!("`evaluate {other}` is not supported: netward does not provide this plugin"),
                p.name.span,
            )),
        }
    }

    /// A plugin argument by position or by name.
    fn plugin_arg<'p>(p: &'p Plugin, pos: usize, name: &str) -> Option<&'p Expr> {
        p.named.iter().find(|(n, _)| n.name.eq_ignore_ascii_case(name)).map(|(_, e)| e).or_else(|| p.args.get(pos))
    }

    /// A constant string argument.
    fn str_arg(&mut self, e: Option<&Expr>, env: &Env) -> PResult<Option<String>> {
        let Some(e) = e else { return Ok(None) };
        match self.constant(e, env)? {
            Lit::Str(s) => Ok(Some(s)),
            _ => Err(SpannedError::semantic("expected a constant string", e.span)),
        }
    }

    fn bag_unpack(&mut self, plan: LogicalPlan, p: &Plugin, env: &Env, span: Span) -> PResult<LogicalPlan> {
        let Some(arg) = p.args.first() else {
            return Err(SpannedError::semantic("`bag_unpack` needs the column to unpack", p.name.span));
        };
        let ExprKind::Ident(source) = &arg.kind else {
            return Err(SpannedError::semantic("`bag_unpack` unpacks a column: name it", arg.span));
        };
        let schema = plan.schema().clone();
        let bag = self.scalar(arg, env, &schema)?;
        let bag = match bag.ty {
            KType::Dynamic => bag.expr,
            KType::String => ufn("kql_parse_json", vec![bag.expr], arg.span)?,
            other => {
                return Err(SpannedError::semantic(
                    format!("`bag_unpack` needs a dynamic column, not {}", other.name()),
                    arg.span,
                ))
            }
        };
        let prefix = self.str_arg(Self::plugin_arg(p, 1, "OutputColumnPrefix"), env)?.unwrap_or_default();
        let conflict_arg = Self::plugin_arg(p, 2, "columnsConflict");
        let conflict = self.str_arg(conflict_arg, env)?.unwrap_or_else(|| "error".into());
        if !matches!(conflict.as_str(), "error" | "replace_source" | "keep_source") {
            return Err(SpannedError::semantic(
                "`columnsConflict` is `error`, `replace_source` or `keep_source`",
                conflict_arg.map_or(span, |e| e.span),
            ));
        }
        let ignored: Vec<String> = match Self::plugin_arg(p, 3, "ignoredProperties") {
            None => Vec::new(),
            Some(e) => match self.constant(e, env)? {
                Lit::Dynamic(serde_json::Value::Array(a)) => {
                    a.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect()
                }
                _ => return Err(SpannedError::semantic("`ignoredProperties` is a constant dynamic array", e.span)),
            },
        };
        // The slots: from the output schema, or from the data.
        let inputs = self.columns(&plan, span)?;
        let (keep_input, slots): (bool, Vec<(String, KType)>) = match &p.schema {
            Some(s) => {
                let mut slots = Vec::new();
                for (c, t) in &s.columns {
                    let ty = KType::from_type_name(&t.name)
                        .ok_or_else(|| SpannedError::semantic(format!("unknown type `{}`", t.name), t.span))?;
                    slots.push((c.name.clone(), ty));
                }
                (s.star, slots)
            }
            None => {
                let probe = LogicalPlanBuilder::from(plan.clone())
                    .aggregate(Vec::<DfExpr>::new(), vec![bag_schema(MAX_PLUGIN_COLUMNS).call(vec![bag.clone()])])
                    .and_then(|b| b.build())
                    .map_err(|e| df_err(e, span))?;
                let rows = self.probe(probe, "the keys of the bags `bag_unpack` unpacks", span)?;
                let text = rows
                    .iter()
                    .find(|b| b.num_rows() > 0)
                    .and_then(|b| ScalarValue::try_from_array(b.column(0), 0).ok())
                    .and_then(|v| match v {
                        ScalarValue::Utf8(Some(s)) => Some(s),
                        _ => None,
                    })
                    .unwrap_or_else(|| "{}".into());
                let keys: BTreeMap<String, String> = serde_json::from_str(&text).unwrap_or_default();
                if keys.contains_key("") {
                    return Err(SpannedError::unsupported(
                        format!("`bag_unpack`: the bags have more than {MAX_PLUGIN_COLUMNS} distinct keys"),
                        p.name.span,
                    ));
                }
                let slots = keys
                    .into_iter()
                    .filter(|(k, _)| !ignored.contains(k))
                    .map(|(k, t)| (format!("{prefix}{k}"), KType::from_type_name(&t).unwrap_or(KType::Dynamic)))
                    .collect();
                (true, slots)
            }
        };
        let mut out: Vec<(Typed, String)> = Vec::new();
        let mut slot_cols = Vec::new();
        for (name, ty) in &slots {
            let input = inputs.iter().find(|(_, n)| n == name && n != source);
            if p.schema.is_some() {
                // A schema column that is an input column comes from the input.
                if let Some((t, n)) = input.filter(|_| !keep_input) {
                    slot_cols.push((t.clone(), n.clone()));
                    continue;
                }
            }
            if input.is_some() && keep_input {
                match conflict.as_str() {
                    "keep_source" => continue,
                    "replace_source" => {}
                    _ => {
                        return Err(SpannedError::semantic(
                            format!("`bag_unpack`: column `{name}` is already in the input (see `columnsConflict`)"),
                            p.name.span,
                        ))
                    }
                }
            }
            let key = name.strip_prefix(prefix.as_str()).unwrap_or(name);
            let v = Typed { expr: ufn("kql_dyn_get", vec![bag.clone(), lit(key)], span)?, ty: KType::Dynamic };
            slot_cols.push((convert(v, *ty, span)?, name.clone()));
        }
        if keep_input {
            for (t, n) in inputs {
                let replaced = conflict == "replace_source" && slot_cols.iter().any(|(_, s)| *s == n);
                if n != *source && !replaced {
                    out.push((t, n));
                }
            }
        }
        out.extend(slot_cols);
        if out.is_empty() {
            return Err(SpannedError::semantic(
                "`bag_unpack`: nothing to unpack (no property bag with a key, and no other column)",
                p.name.span,
            ));
        }
        self.project(plan, out, span)
    }

    /// `pivot(Col [, agg(...)] [, by1, by2, ...])`: one row per `by`
    /// group (default: every other column), one column per distinct value
    /// of `Col` holding the aggregate over the group's rows with that value
    /// (`count()` by default; missing counts and sums are 0).
    fn pivot(&mut self, plan: LogicalPlan, p: &Plugin, env: &Env, span: Span) -> PResult<LogicalPlan> {
        let Some(pc) = p.args.first() else {
            return Err(SpannedError::semantic("`pivot` needs the column to pivot", p.name.span));
        };
        let ExprKind::Ident(pc_name) = &pc.kind else {
            return Err(SpannedError::semantic("`pivot` pivots a column: name it", pc.span));
        };
        let mut rest = &p.args[1..];
        let count = Expr::new(ExprKind::Call { name: Ident { name: "count".into(), span }, args: Vec::new() }, span);
        let agg = match rest.first() {
            Some(e @ Expr { kind: ExprKind::Call { .. }, .. }) => {
                rest = &rest[1..];
                e.clone()
            }
            _ => count,
        };
        let ExprKind::Call { name: agg_name, args: agg_args } = &agg.kind else { unreachable!() };
        let cond_name = match agg_name.name.as_str() {
            "count" => "countif",
            "sum" => "sumif",
            "avg" => "avgif",
            "min" => "minif",
            "max" => "maxif",
            "dcount" => "dcountif",
            "make_list" => "make_list_if",
            "make_set" => "make_set_if",
            other => {
                return Err(SpannedError::unsupported(
                    format!("`pivot` with `{other}()` is not supported (count, sum, avg, min, max, dcount, make_list, make_set are)"),
                    agg_name.span,
                ))
            }
        };
        let mut agg_cols: Vec<String> = Vec::new();
        for a in agg_args {
            if let ExprKind::Ident(n) = &a.kind {
                agg_cols.push(n.clone());
            }
        }
        let mut by: Vec<NamedExpr> = Vec::new();
        for e in rest {
            by.push(NamedExpr { names: Vec::new(), expr: e.clone() });
        }
        let inputs = self.columns(&plan, span)?;
        if by.is_empty() {
            for (_, n) in &inputs {
                if n != pc_name && !agg_cols.contains(n) {
                    by.push(NamedExpr { names: Vec::new(), expr: Expr::new(ExprKind::Ident(n.clone()), span) });
                }
            }
        }
        let by_names: Vec<String> = by.iter().filter_map(|b| super::ops::expr_name(&b.expr)).collect();
        // The pivot values: from the schema, or from the data.
        let values: Vec<String> = match &p.schema {
            Some(s) => s.columns.iter().map(|(c, _)| c.name.clone()).filter(|c| !by_names.contains(c)).collect(),
            None => {
                let schema = plan.schema().clone();
                let v = self.scalar(pc, env, &schema)?;
                let v = to_str(v, pc.span)?;
                let probe = LogicalPlanBuilder::from(plan.clone())
                    .aggregate(vec![v.alias("v")], Vec::<DfExpr>::new())
                    .and_then(|b| b.limit(0, Some(MAX_PLUGIN_COLUMNS + 1)))
                    .and_then(|b| b.build())
                    .map_err(|e| df_err(e, span))?;
                let rows = self.probe(probe, "the values `pivot` turns into columns", span)?;
                let mut vals = Vec::new();
                for b in &rows {
                    for i in 0..b.num_rows() {
                        if let Ok(ScalarValue::Utf8(s)) = ScalarValue::try_from_array(b.column(0), i) {
                            vals.push(s.unwrap_or_default());
                        }
                    }
                }
                if vals.len() > MAX_PLUGIN_COLUMNS {
                    return Err(SpannedError::unsupported(
                        format!("`pivot`: `{pc_name}` has more than {MAX_PLUGIN_COLUMNS} distinct values"),
                        pc.span,
                    ));
                }
                vals.sort();
                vals
            }
        };
        let pc_str =
            Expr::new(ExprKind::Call { name: Ident { name: "tostring".into(), span }, args: vec![pc.clone()] }, span);
        let mut aggs = Vec::new();
        for v in &values {
            let cond = Expr::new(
                ExprKind::Binary {
                    op: BinOp::Eq,
                    lhs: Box::new(pc_str.clone()),
                    rhs: Box::new(Expr::new(ExprKind::Lit(Lit::Str(v.clone())), span)),
                },
                span,
            );
            let mut args = agg_args.clone();
            args.push(cond);
            let call = Expr::new(ExprKind::Call { name: Ident { name: cond_name.into(), span }, args }, span);
            aggs.push(NamedExpr { names: vec![Ident { name: v.clone(), span }], expr: call });
        }
        let summarized = self.summarize(plan, &aggs, &by, env, span)?;
        if cond_name != "sumif" {
            return Ok(summarized);
        }
        // A group without the value sums to 0, as Kusto shows it.
        let cols = self
            .columns(&summarized, span)?
            .into_iter()
            .map(|(t, n)| {
                if values.contains(&n) && !by_names.contains(&n) {
                    let e = datafusion::functions::expr_fn::coalesce(vec![t.expr, lit(0i64)]);
                    (Typed { expr: datafusion::logical_expr::cast(e, t.ty.arrow()), ty: t.ty }, n)
                } else {
                    (t, n)
                }
            })
            .collect();
        self.project(summarized, cols, span)
    }

    /// `narrow()`: each cell of the input as a row `Row` (the row's number
    /// from 0), `Column` (its name), `Value` (as a string).
    fn narrow(&mut self, plan: LogicalPlan, p: &Plugin, span: Span) -> PResult<LogicalPlan> {
        use datafusion::functions_window::expr_fn::row_number;
        if let Some(a) = p.args.first() {
            return Err(SpannedError::semantic("`narrow` takes no arguments", a.span));
        }
        let err = |e| df_err(e, span);
        let inputs = self.columns(&plan, span)?;
        let numbered = LogicalPlanBuilder::from(plan)
            .window(vec![row_number().alias("__nw_row")])
            .and_then(|b| b.build())
            .map_err(err)?;
        let row = Typed {
            expr: datafusion::logical_expr::cast(col("__nw_row"), datafusion::arrow::datatypes::DataType::Int64)
                - lit(1i64),
            ty: KType::Long,
        };
        let mut parts: Option<LogicalPlanBuilder> = None;
        for (i, (t, n)) in inputs.into_iter().enumerate() {
            let value = match t.ty {
                KType::Dynamic => ufn("kql_dyn_tostring", vec![t.expr], span)?,
                _ => to_str(t, span)?,
            };
            let part = self.project(
                numbered.clone(),
                vec![
                    (row.clone(), "Row".into()),
                    (Typed { expr: lit(n.clone()), ty: KType::String }, "Column".into()),
                    (Typed { expr: value, ty: KType::String }, "Value".into()),
                    (Typed { expr: lit(i as i64), ty: KType::Long }, "__nw_col".into()),
                ],
                span,
            )?;
            parts = Some(match parts {
                None => LogicalPlanBuilder::from(part),
                Some(b) => b.union(part).map_err(err)?,
            });
        }
        let Some(all) = parts else {
            return Err(SpannedError::semantic("`narrow` needs a table with columns", span));
        };
        let sorted = all
            .sort(vec![col("Row").sort(true, false), col("__nw_col").sort(true, false)])
            .and_then(|b| b.build())
            .map_err(err)?;
        let out = vec![
            (Typed { expr: col("Row"), ty: KType::Long }, "Row".to_string()),
            (Typed { expr: col("Column"), ty: KType::String }, "Column".to_string()),
            (Typed { expr: col("Value"), ty: KType::String }, "Value".to_string()),
        ];
        self.project(sorted, out, span)
    }
}
