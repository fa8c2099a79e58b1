//! `top-nested ... with others = V`: the rows that did not make a level's
//! top N, summarised into one extra row per parent group.
//!
//! Kusto's documented result (StormEvents, `with others` on levels 1 and 3
//! of three) fixes the shape:
//! * a level with `with others` adds, under each parent group, one row whose
//!   key is V and whose aggregate is the level's aggregation recomputed over
//!   the parent's rows outside the top N (a `dcount`, `avg` or `max` of the
//!   rest, not a combination of the kept values' aggregates);
//! * a group of such "other" rows is not split again: at each deeper level
//!   it is one row, with that level's V and its aggregation over the whole
//!   group when the level has `with others`, an empty key and aggregate
//!   when it has not;
//! * the rows outside a level's top N where that level has no `with others`
//!   still form such a group when a deeper level has one (the documented
//!   `KANSAS | | | All Other End Locations` rows); when no level from there
//!   on has one they are dropped, as without `with others`;
//! * no rows left over, no "others" row: it aggregates rows and there are
//!   none (a `summarize` by key gives no row for an empty group either).
//!   The docs do not show this case.
//!
//! Planned as a labelling of the input rows, so that the plan stays linear
//! in the number of levels (a DataFusion plan is a tree: a sub-plan used
//! twice is planned twice). Each level's kept values are ranked over the
//! input as in the plan without `with others`; a left join marks, level by
//! level, whether a row is still in a kept group (`__tn_o{i}` false) and
//! its key at the level (`__tn_k{i}`: its value, or V / null in a group of
//! others) and its aggregate, a window aggregate partitioned by the labels
//! down to the level; one row is kept per leaf.

use super::types::{df_err, lit_typed, null_of, KType, Typed};
use super::{Env, Planner};
use crate::error::{PResult, Span, SpannedError};
use crate::parse::ast::{Expr, Lit};
use datafusion::common::{Column, DFSchema, JoinType, NullEquality, ScalarValue};
use datafusion::logical_expr::expr::{WindowFunction, WindowFunctionParams};
use datafusion::logical_expr::{
    not, when, Expr as DfExpr, LogicalPlan, LogicalPlanBuilder, WindowFrame, WindowFunctionDefinition,
};
use datafusion::prelude::lit;

/// One `top-nested` level, planned.
pub(super) struct Level {
    /// The level's aggregate over the input's columns.
    pub agg: DfExpr,
    pub agg_ty: KType,
    pub agg_span: Span,
    pub n: Option<i64>,
    pub asc: bool,
    /// The `with others` value, of the key column's type.
    pub others: Option<Typed>,
    pub of_ty: KType,
}

/// The `with others` value: a constant of the key column's type (an
/// integer literal also serves an `int` or `real` column; `null` any).
pub(super) fn others_value(
    p: &Planner,
    w: &Expr,
    of_ty: KType,
    of_name: &str,
    env: &Env,
    schema: &DFSchema,
) -> PResult<Typed> {
    let Some(l) = p.const_value(w, env, schema) else {
        return Err(SpannedError::semantic("the `with others` value must be a constant", w.span));
    };
    let t = lit_typed(&l);
    let fits = match (&l, of_ty) {
        (Lit::Null, _) => return Ok(null_of(of_ty)),
        (Lit::Long(v), KType::Int) => i32::try_from(*v)
            .ok()
            .map(|v| Typed { expr: DfExpr::Literal(ScalarValue::Int32(Some(v)), None), ty: KType::Int }),
        (Lit::Long(v), KType::Real) => Some(lit_typed(&Lit::Real(*v as f64))),
        _ if t.ty == of_ty => Some(t.clone()),
        _ => None,
    };
    fits.ok_or_else(|| {
        SpannedError::semantic(
            format!("the `with others` value is of type {}, but `{of_name}` is of type {}", t.ty.name(), of_ty.name()),
            w.span,
        )
    })
}

fn col(n: String) -> DfExpr {
    DfExpr::Column(Column::new_unqualified(n))
}
fn of(i: usize) -> DfExpr {
    col(format!("__tn_of{i}"))
}
fn key(i: usize) -> DfExpr {
    col(format!("__tn_k{i}"))
}
fn other(i: usize) -> DfExpr {
    col(format!("__tn_o{i}"))
}

/// `agg OVER (PARTITION BY partition)` over the whole partition.
fn over(agg: DfExpr, partition: Vec<DfExpr>, span: Span) -> PResult<DfExpr> {
    let DfExpr::AggregateFunction(af) = agg else {
        return Err(SpannedError::unsupported("this aggregate is not supported with `with others`", span));
    };
    if !af.params.order_by.is_empty() {
        return Err(SpannedError::unsupported("an ordered aggregate is not supported with `with others`", span));
    }
    let p = af.params;
    Ok(DfExpr::WindowFunction(Box::new(WindowFunction {
        fun: WindowFunctionDefinition::AggregateUDF(af.func),
        params: WindowFunctionParams {
            args: p.args,
            partition_by: partition,
            order_by: vec![],
            window_frame: WindowFrame::new(None),
            filter: p.filter,
            null_treatment: p.null_treatment,
            distinct: p.distinct,
        },
    })))
}

impl Planner<'_> {
    /// `base` holds the input's columns and each level's value as
    /// `__tn_of{i}`; `names` are each level's (key name, aggregate name).
    pub(super) fn top_nested_others(
        &self,
        base: LogicalPlan,
        levels: Vec<Level>,
        names: Vec<(String, String)>,
        span: Span,
    ) -> PResult<LogicalPlan> {
        use datafusion::functions_window::expr_fn::row_number;
        use datafusion::logical_expr::ExprFunctionExt;
        let err = |e| df_err(e, span);
        // Whether rows leaving the top at level i form a group of others:
        // only when this level or a deeper one shows them.
        let keep_rest: Vec<bool> = (0..levels.len()).map(|i| levels[i..].iter().any(|l| l.others.is_some())).collect();
        let labels = |i: usize| -> Vec<DfExpr> { (0..=i).flat_map(|j| [key(j), other(j)]).collect() };
        let mut rows = base.clone();
        for (i, level) in levels.iter().enumerate() {
            let parent_other = if i == 0 { lit(false) } else { other(i - 1) };
            let kept = match level.n {
                // No count: every value of a kept group is kept.
                None => not(parent_other.clone()),
                Some(n) => {
                    // The top N values under each parent, ranked over the
                    // input: a kept parent's group is all its input rows.
                    let rank = row_number()
                        .partition_by((0..i).map(of).collect())
                        .order_by(vec![col("__tn_rank_agg".into()).sort(level.asc, level.asc)])
                        .build()
                        .map_err(err)?
                        .alias("__tn_rank");
                    let mut hit: Vec<DfExpr> = (0..=i).map(|j| of(j).alias(format!("__tn_h{j}"))).collect();
                    hit.push(lit(true).alias("__tn_hit"));
                    let top = LogicalPlanBuilder::from(base.clone())
                        .aggregate((0..=i).map(of).collect::<Vec<_>>(), vec![level.agg.clone().alias("__tn_rank_agg")])
                        .and_then(|b| b.window(vec![rank]))
                        .and_then(|b| b.filter(col("__tn_rank".into()).lt_eq(lit(n))))
                        .and_then(|b| b.project(hit))
                        .and_then(|b| b.build())
                        .map_err(err)?;
                    let lk: Vec<Column> = (0..=i).map(|j| Column::new_unqualified(format!("__tn_of{j}"))).collect();
                    let rk: Vec<Column> = (0..=i).map(|j| Column::new_unqualified(format!("__tn_h{j}"))).collect();
                    rows = LogicalPlanBuilder::from(rows)
                        .join_detailed(top, JoinType::Left, (lk, rk), None, NullEquality::NullEqualsNull)
                        .and_then(|b| b.build())
                        .map_err(err)?;
                    not(parent_other.clone()).and(col("__tn_hit".into()).is_not_null())
                }
            };
            let is_other = not(kept);
            let rest_key = level.others.clone().unwrap_or_else(|| null_of(level.of_ty)).expr;
            let mut proj: Vec<DfExpr> = rows
                .schema()
                .fields()
                .iter()
                .map(|f| f.name())
                .filter(|n| !n.starts_with("__tn_h"))
                .map(|n| col(n.clone()))
                .collect();
            proj.push(parent_other.clone().or(is_other.clone()).alias(format!("__tn_o{i}")));
            proj.push(
                when(parent_other.clone().or(is_other.clone()), rest_key)
                    .otherwise(of(i))
                    .map_err(err)?
                    .alias(format!("__tn_k{i}")),
            );
            let mut b = LogicalPlanBuilder::from(rows).project(proj).map_err(err)?;
            if !keep_rest[i] {
                // Drop the rows that leave the top here; a group of others
                // from a level above stays.
                b = b.filter(not(other(i)).or(parent_other)).map_err(err)?;
            }
            // The level's aggregate over each of its groups: partitioned by
            // the labels down to the level (the flags tell a group of others
            // from a kept value that is itself null), before a deeper level
            // drops rows of the group.
            let w = over(level.agg.clone(), labels(i), level.agg_span)?.alias(format!("__tn_w{i}"));
            rows = b.window(vec![w]).and_then(|b| b.build()).map_err(err)?;
        }
        let last = levels.len() - 1;
        let mut group = labels(last);
        group.extend((0..levels.len()).map(|i| col(format!("__tn_w{i}"))));
        let leaves = LogicalPlanBuilder::from(rows)
            .aggregate(group, Vec::<DfExpr>::new())
            .and_then(|b| b.build())
            .map_err(err)?;
        // A level without `with others` shows no aggregate for a group of others.
        let mut out = Vec::new();
        let mut order = Vec::new();
        for (i, (level, (of_name, agg_name))) in levels.iter().zip(names).enumerate() {
            let w = col(format!("__tn_w{i}"));
            let agg = match level.others {
                Some(_) => w,
                None => when(other(i), null_of(level.agg_ty).expr).otherwise(w).map_err(err)?,
            };
            // Kept values first, by their aggregate; the others row last.
            order.push(other(i).sort(true, true));
            order.push(agg.clone().sort(level.asc, level.asc));
            order.push(key(i).sort(true, true));
            out.push((Typed { expr: key(i), ty: level.of_ty }, of_name));
            out.push((Typed { expr: agg, ty: level.agg_ty }, agg_name));
        }
        let sorted = LogicalPlanBuilder::from(leaves).sort(order).and_then(|b| b.build()).map_err(err)?;
        self.project(sorted, out, span)
    }
}
