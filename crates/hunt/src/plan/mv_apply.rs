//! `mv-apply`: for each input row, the subquery runs over the subtable of
//! that row's expanded values, and its result rows are joined with the
//! row's other columns (a row whose subquery gives nothing is dropped).
//!
//! Planned set-wise: each input row gets a number (`__mva_row`); the
//! subtable of all rows is the `mv-expand` of the items (each element with
//! its row's columns); the subquery's operators run over it
//! each within its row — `summarize` groups by the row number too, `top`
//! and `take` rank within it, `project` keeps it — and the result is
//! joined back to the other columns by it (`distinct` groups by it too). Operators whose meaning per row
//! would need more than that (`join`, `union`, `mv-apply`, ...) are refused
//! by name inside `mv-apply`.

use super::types::{df_err, KType, Typed};
use super::{op_name, Env, Planner};
use crate::error::{PResult, Span, SpannedError};
use crate::parse::ast::{Expr, ExprKind, Ident, MvItem, NamedExpr, OpKind, Operator};
use datafusion::common::{Column, JoinType};
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::{Expr as DfExpr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::lit;

const ROW: &str = "__mva_row";
const RANK: &str = "__mva_rank";

fn col(n: &str) -> DfExpr {
    DfExpr::Column(Column::new_unqualified(n))
}

impl Planner<'_> {
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub fn mv_apply(
        &mut self,
        plan: LogicalPlan,
        opts: &[(Ident, Expr)],
        items: &[MvItem],
        limit: Option<&Expr>,
        ops: &[Operator],
        env: &Env,
        span: Span,
    ) -> PResult<LogicalPlan> {
        let err = |e| df_err(e, span);
        let numbered = LogicalPlanBuilder::from(plan)
            .window(vec![row_number().alias(ROW)])
            .and_then(|b| b.build())
            .map_err(err)?;
        let expanded = self.mv_expand(numbered.clone(), opts, items, limit, env, span)?;
        // The subtable: the row's columns (the subquery may read them, as
        // Kusto's documented examples do), the expanded ones and the index.
        let mut sub = expanded;
        let order = self.order.take();
        for op in ops {
            sub = self.apply_op(op, sub, env).map_err(|e| e.in_construct(op_name(&op.kind)))?;
        }
        self.order = order;
        // The other columns of each row, joined with the subquery's rows.
        let sub_names: Vec<String> = sub.schema().fields().iter().map(|f| f.name().clone()).collect();
        let others: Vec<(Typed, String)> = self
            .columns(&numbered, span)?
            .into_iter()
            .filter(|(_, n)| !self.is_item(items, n) && (n == ROW || !sub_names.contains(n)))
            .collect();
        let out_cols: Vec<(KType, String, bool)> = others
            .iter()
            .filter(|(_, n)| n != ROW)
            .map(|(t, n)| (t.ty, n.clone(), true))
            .chain(self.columns(&sub, span)?.into_iter().filter(|(_, n)| n != ROW).map(|(t, n)| (t.ty, n, false)))
            .collect();
        let left = self.project(numbered, others, span)?;
        let left = LogicalPlanBuilder::from(left).alias("__mva_l").and_then(|b| b.build()).map_err(err)?;
        let right = LogicalPlanBuilder::from(sub).alias("__mva_r").and_then(|b| b.build()).map_err(err)?;
        let joined = LogicalPlanBuilder::from(left)
            .join(
                right,
                JoinType::Inner,
                (vec![Column::new(Some("__mva_l"), ROW)], vec![Column::new(Some("__mva_r"), ROW)]),
                None,
            )
            .and_then(|b| b.sort(vec![DfExpr::Column(Column::new(Some("__mva_l"), ROW)).sort(true, false)]))
            .and_then(|b| b.build())
            .map_err(err)?;
        let cols = out_cols
            .into_iter()
            .map(|(ty, n, left)| {
                let q = if left { "__mva_l" } else { "__mva_r" };
                (Typed { expr: DfExpr::Column(Column::new(Some(q), n.clone())), ty }, n)
            })
            .collect();
        self.project(joined, cols, span)
    }

    /// Whether `name` is one of the expanded items' names.
    fn is_item(&self, items: &[MvItem], name: &str) -> bool {
        items.iter().enumerate().any(|(i, it)| {
            let n = match &it.name {
                Some(n) => n.name.clone(),
                None => super::ops::expr_name(&it.expr).unwrap_or_else(|| format!("Column{}", i + 1)),
            };
            n == name
        })
    }

    /// One subquery operator, within each row's subtable.
    fn apply_op(&mut self, op: &Operator, plan: LogicalPlan, env: &Env) -> PResult<LogicalPlan> {
        let span = op.span;
        let row_ident = || Expr::new(ExprKind::Ident(ROW.into()), span);
        match &op.kind {
            OpKind::Where(_)
            | OpKind::Extend(_)
            | OpKind::ProjectRename(_)
            | OpKind::ProjectAway(_)
            | OpKind::Parse { .. }
            | OpKind::MvExpand { .. } => self.operator(op, plan, env),
            OpKind::Distinct(cols) if !cols.is_empty() => {
                let mut by = vec![NamedExpr { names: Vec::new(), expr: row_ident() }];
                by.extend(cols.iter().map(|c| NamedExpr { names: Vec::new(), expr: c.clone() }));
                self.summarize(plan, &[], &by, env, span)
            }
            OpKind::Project(items) => {
                let mut items = items.clone();
                items.push(NamedExpr { names: Vec::new(), expr: row_ident() });
                self.operator(&Operator { kind: OpKind::Project(items), span }, plan, env)
            }
            OpKind::Summarize { aggs, by } => {
                let mut by2 = vec![NamedExpr { names: Vec::new(), expr: row_ident() }];
                by2.extend(by.iter().cloned());
                self.summarize(plan, aggs, &by2, env, span)
            }
            OpKind::Count => {
                let count =
                    Expr::new(ExprKind::Call { name: Ident { name: "count".into(), span }, args: Vec::new() }, span);
                let aggs = vec![NamedExpr { names: vec![Ident { name: "Count".into(), span }], expr: count }];
                self.summarize(plan, &aggs, &[NamedExpr { names: Vec::new(), expr: row_ident() }], env, span)
            }
            OpKind::Top { n, key } => {
                let n = self.count_arg(n, env, plan.schema())?;
                let k = self.scalar(&key.expr, env, plan.schema())?;
                let asc = key.asc.unwrap_or(false);
                let nulls_first = key.nulls_first.unwrap_or(asc);
                self.rank_within(plan, vec![k.expr.sort(asc, nulls_first)], n, span)
            }
            OpKind::Take(n) => {
                let n = self.count_arg(n, env, plan.schema())?;
                self.rank_within(plan, Vec::new(), n, span)
            }
            // The rows come back in the asked order; the join keeps each
            // input row's rows together.
            OpKind::Sort(_) => self.operator(op, plan, env),
            other => {
                Err(SpannedError::unsupported(format!("`{}` inside `mv-apply` is not supported", op_name(other)), span))
            }
        }
    }

    /// The first `n` rows of each subtable in `order`.
    fn rank_within(
        &mut self,
        plan: LogicalPlan,
        order: Vec<datafusion::logical_expr::SortExpr>,
        n: usize,
        span: Span,
    ) -> PResult<LogicalPlan> {
        let err = |e| df_err(e, span);
        let cols = self.columns(&plan, span)?;
        // Without an order (`take`), any rows of the subtable: DataFusion
        // needs an order to rank by, the (constant) row number serves.
        let by = if order.is_empty() { vec![col(ROW).sort(true, false)] } else { order.clone() };
        let rank = row_number().partition_by(vec![col(ROW)]).order_by(by).build().map_err(err)?.alias(RANK);
        // Kept in rank order, so that a following `make_list` sees them so.
        let mut keys = vec![col(ROW).sort(true, false)];
        keys.extend(order);
        let ranked = LogicalPlanBuilder::from(plan)
            .window(vec![rank])
            .and_then(|b| b.filter(col(RANK).lt_eq(lit(n as u64))))
            .and_then(|b| b.sort(keys))
            .and_then(|b| b.build())
            .map_err(err)?;
        self.project(ranked, cols, span)
    }
}
