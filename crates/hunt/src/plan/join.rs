//! `join`, `lookup` and `union`.
//!
//! `join` defaults to `innerunique`: the left side keeps one row per join
//! key (DataFusion `DISTINCT ON`), then an inner join. Output columns: the
//! left's, then the right's, a right name that clashes gets `1` (`2`, ...)
//! appended — so `join ... on DeviceId` yields `DeviceId` and `DeviceId1`.
//! Semi and anti joins keep only their side's columns. `lookup` (default
//! `leftouter`) does not repeat the right side's key columns.

use super::ops::unique_name;
use super::types::{df_err, null_of, KType, Typed};
use super::Planner;
use crate::error::{PResult, Span, SpannedError};
use crate::parse::ast::{BinOp, Expr, ExprKind, Ident, Lit};
use datafusion::common::{Column, JoinType};
use datafusion::logical_expr::{Expr as DfExpr, LogicalPlan, LogicalPlanBuilder};
use std::collections::HashSet;

const LEFT: &str = "__kql_left";
const RIGHT: &str = "__kql_right";

fn opt_text(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Ident(s) | ExprKind::Lit(Lit::Str(s)) => Some(s.clone()),
        ExprKind::Lit(Lit::Bool(b)) => Some(b.to_string()),
        _ => None,
    }
}

/// `$side.name`
fn side_col(e: &Expr) -> Option<(&str, &str)> {
    if let ExprKind::Member { expr, name } = &e.kind {
        if let ExprKind::Ident(s) = &expr.kind {
            if s == "$left" || s == "$right" {
                return Some((s.as_str(), name.name.as_str()));
            }
        }
    }
    None
}

/// The (left column, right column) pairs of a join condition.
fn conditions(on: &[Expr], out: &mut Vec<(String, String, Span)>) -> PResult<()> {
    for c in on {
        match &c.kind {
            ExprKind::Ident(n) => out.push((n.clone(), n.clone(), c.span)),
            ExprKind::Binary { op: BinOp::And, lhs, rhs } => {
                conditions(std::slice::from_ref(lhs), out)?;
                conditions(std::slice::from_ref(rhs), out)?;
            }
            ExprKind::Binary { op: BinOp::Eq, lhs, rhs } => match (side_col(lhs), side_col(rhs)) {
                (Some(("$left", l)), Some(("$right", r))) | (Some(("$right", r)), Some(("$left", l))) => {
                    out.push((l.to_string(), r.to_string(), c.span))
                }
                _ => {
                    return Err(SpannedError::semantic(
                        "a join condition compares `$left.column == $right.column`",
                        c.span,
                    ))
                }
            },
            _ => {
                return Err(SpannedError::unsupported(
                    "join conditions other than column equality are not supported",
                    c.span,
                ))
            }
        }
    }
    Ok(())
}

fn has_col(plan: &LogicalPlan, name: &str) -> bool {
    plan.schema().fields().iter().any(|f| f.name() == name)
}

impl Planner<'_> {
    pub fn join(
        &mut self,
        left: LogicalPlan,
        right: LogicalPlan,
        opts: &[(Ident, Expr)],
        on: &[Expr],
        lookup: bool,
        span: Span,
    ) -> PResult<LogicalPlan> {
        let mut kind = if lookup { "leftouter".to_string() } else { "innerunique".to_string() };
        for (k, v) in opts {
            match k.name.as_str() {
                "kind" => kind = opt_text(v).ok_or_else(|| SpannedError::semantic("bad join kind", v.span))?,
                h if h.starts_with("hint.") => {} // execution hints: no effect on results
                other => {
                    return Err(SpannedError::unsupported(format!("join option `{other}` is not supported"), k.span))
                }
            }
        }
        let kind_span = opts.iter().find(|(k, _)| k.name == "kind").map(|(_, v)| v.span).unwrap_or(span);
        let jt = match kind.as_str() {
            "innerunique" | "inner" => JoinType::Inner,
            "leftouter" => JoinType::Left,
            "rightouter" => JoinType::Right,
            "fullouter" => JoinType::Full,
            "leftanti" | "anti" | "leftantisemi" => JoinType::LeftAnti,
            "rightanti" | "rightantisemi" => JoinType::RightAnti,
            "leftsemi" => JoinType::LeftSemi,
            "rightsemi" => JoinType::RightSemi,
            other => return Err(SpannedError::semantic(format!("unknown join kind `{other}`"), kind_span)),
        };
        if lookup && !matches!(kind.as_str(), "leftouter" | "inner") {
            return Err(SpannedError::semantic("`lookup` supports kind=leftouter or kind=inner", kind_span));
        }
        let mut keys = Vec::new();
        conditions(on, &mut keys)?;
        for (l, r, sp) in &keys {
            if !has_col(&left, l) {
                return Err(SpannedError::semantic(format!("the left side of the join has no column `{l}`"), *sp));
            }
            if !has_col(&right, r) {
                return Err(SpannedError::semantic(format!("the right side of the join has no column `{r}`"), *sp));
            }
        }
        let err = |e| df_err(e, span);
        // innerunique: one left row per key.
        let left = if kind == "innerunique" && !lookup {
            let on: Vec<DfExpr> = keys.iter().map(|(l, _, _)| self.col(&left, l)).collect();
            let all: Vec<DfExpr> =
                left.schema().iter().map(|(q, f)| DfExpr::Column(Column::new(q.cloned(), f.name()))).collect();
            LogicalPlanBuilder::from(left).distinct_on(on, all, None).and_then(|b| b.build()).map_err(err)?
        } else {
            left
        };
        let left_names: Vec<String> = left.schema().fields().iter().map(|f| f.name().clone()).collect();
        let right_names: Vec<String> = right.schema().fields().iter().map(|f| f.name().clone()).collect();
        let l = LogicalPlanBuilder::from(left).alias(LEFT).and_then(|b| b.build()).map_err(err)?;
        let r = LogicalPlanBuilder::from(right).alias(RIGHT).and_then(|b| b.build()).map_err(err)?;
        let eqs: Vec<DfExpr> = keys
            .iter()
            .map(|(a, b, _)| DfExpr::Column(Column::new(Some(LEFT), a)).eq(DfExpr::Column(Column::new(Some(RIGHT), b))))
            .collect();
        let joined = LogicalPlanBuilder::from(l).join_on(r, jt, eqs).and_then(|b| b.build()).map_err(err)?;
        let schema = joined.schema().clone();
        let colref = |q: &str, n: &str| -> PResult<Typed> {
            super::types::typed(DfExpr::Column(Column::new(Some(q), n)), &schema, span)
        };
        let mut cols = Vec::new();
        let mut used = HashSet::new();
        if !matches!(jt, JoinType::RightSemi | JoinType::RightAnti) {
            for n in &left_names {
                used.insert(n.clone());
                cols.push((colref(LEFT, n)?, n.clone()));
            }
        }
        if !matches!(jt, JoinType::LeftSemi | JoinType::LeftAnti) {
            let right_keys: HashSet<&str> = keys.iter().map(|(_, r, _)| r.as_str()).collect();
            for n in &right_names {
                if lookup && right_keys.contains(n.as_str()) {
                    continue;
                }
                let name = unique_name(n, &used);
                used.insert(name.clone());
                cols.push((colref(RIGHT, n)?, name));
            }
        }
        self.project(joined, cols, span)
    }

    fn col(&self, plan: &LogicalPlan, name: &str) -> DfExpr {
        super::expr::find_column(plan.schema(), name).unwrap_or_else(|| DfExpr::Column(Column::new_unqualified(name)))
    }

    /// `union`: columns by name (the union of all inputs' columns, in order
    /// of first appearance; `kind=inner`: only the common ones). A missing
    /// string column reads `""`, other missing columns null.
    /// `union`: each plan with the name `withsource=` gives it.
    #[inline(never)]
    pub fn union_named(
        &mut self,
        named: Vec<(LogicalPlan, String)>,
        opts: &[(Ident, Expr)],
        span: Span,
    ) -> PResult<LogicalPlan> {
        let mut inner = false;
        let mut source_col: Option<String> = None;
        for (k, v) in opts {
            match (k.name.as_str(), opt_text(v).as_deref()) {
                ("withsource", Some(name)) => source_col = Some(name.to_string()),
                ("kind", Some("outer")) => inner = false,
                ("kind", Some("inner")) => inner = true,
                ("isfuzzy", _) => {}
                (h, _) if h.starts_with("hint.") => {}
                (other, _) => {
                    return Err(SpannedError::unsupported(format!("union option `{other}` is not supported"), k.span))
                }
            }
        }
        let mut names: Vec<(String, KType)> = Vec::new();
        if let Some(c) = &source_col {
            names.push((c.clone(), KType::String));
        }
        let mut per_plan = Vec::new();
        let mut plans = Vec::new();
        for (p, source) in named {
            let mut cols = self.columns(&p, span)?;
            if let Some(c) = &source_col {
                cols.insert(0, (Typed { expr: datafusion::prelude::lit(source), ty: KType::String }, c.clone()));
            }
            plans.push(p);
            for (t, n) in &cols {
                match names.iter_mut().find(|(m, _)| m == n) {
                    Some((_, ty)) if *ty == KType::Null => *ty = t.ty,
                    Some((_, ty)) if *ty != t.ty && t.ty != KType::Null => {
                        return Err(SpannedError::unsupported(
                            format!(
                                "union of column `{n}` with types {} and {} is not supported",
                                ty.name(),
                                t.ty.name()
                            ),
                            span,
                        ))
                    }
                    Some(_) => {}
                    None => names.push((n.clone(), t.ty)),
                }
            }
            per_plan.push(cols);
        }
        if inner {
            names.retain(|(n, _)| per_plan.iter().all(|cols| cols.iter().any(|(_, m)| m == n)));
        }
        let mut out: Option<LogicalPlanBuilder> = None;
        for (p, cols) in plans.into_iter().zip(per_plan) {
            let mut proj = Vec::new();
            for (n, ty) in &names {
                let t = match cols.iter().find(|(_, m)| m == n) {
                    Some((t, _)) if t.ty == KType::Null => {
                        Typed { expr: datafusion::logical_expr::cast(t.expr.clone(), ty.arrow()), ty: *ty }
                    }
                    Some((t, _)) => t.clone(),
                    None if *ty == KType::String => Typed { expr: datafusion::prelude::lit(""), ty: KType::String },
                    None => null_of(*ty),
                };
                proj.push((t, n.clone()));
            }
            let p = self.project(p, proj, span)?;
            out = Some(match out {
                None => LogicalPlanBuilder::from(p),
                Some(b) => b.union(p).map_err(|e| df_err(e, span))?,
            });
        }
        match out {
            Some(b) => b.build().map_err(|e| df_err(e, span)),
            None => Err(SpannedError::semantic("`union` needs tables", span)),
        }
    }
}
