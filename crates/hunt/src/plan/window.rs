//! Window functions over serialized rows: `prev`, `next`, `row_number`,
//! `row_cumsum`. KQL numbers rows in the order they are in after `sort`,
//! `top`, `serialize`, `range` (the planner's [`Planner::order`]); here
//! each becomes a DataFusion window expression ordered by those keys, and
//! [`Planner::windowed`] puts them in a `Window` node under the projection
//! that uses them.

use super::types::{df_err, KType, Typed};
use super::Planner;
use crate::error::{PResult, Span, SpannedError};
use crate::parse::ast::OpKind;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{
    cast, Expr as DfExpr, ExprFunctionExt, LogicalPlan, SortExpr, WindowFrame, WindowFrameBound, WindowFrameUnits,
    WindowFunctionDefinition,
};

/// Functions that need serialized rows.
pub const WINDOW_FUNCTIONS: &[&str] = &["prev", "next", "row_number", "row_cumsum", "row_rank_dense", "row_rank_min"];

impl Planner<'_> {
    /// The sort keys window functions order by, or an error naming the
    /// function when the rows are not serialized.
    fn window_order(&self, f: &str, schema: &datafusion::common::DFSchema, span: Span) -> PResult<Vec<SortExpr>> {
        let Some(order) = &self.order else {
            return Err(SpannedError::semantic(
                format!("`{f}` needs serialized rows: put `serialize` or `sort by` before it"),
                span,
            ));
        };
        // Keys whose columns a later projection dropped: the rows keep
        // their order, number them as they come.
        // Keys by column name: projections drop the table qualifiers.
        let unqualified: Vec<SortExpr> = order
            .iter()
            .map(|s| {
                let e = s
                    .expr
                    .clone()
                    .transform_up(|x| match x {
                        DfExpr::Column(c) => Ok(Transformed::yes(DfExpr::Column(Column::new_unqualified(c.name)))),
                        o => Ok(Transformed::no(o)),
                    })
                    .map(|t| t.data)
                    .unwrap_or_else(|_| s.expr.clone());
                SortExpr { expr: e, asc: s.asc, nulls_first: s.nulls_first }
            })
            .collect();
        let all_present = unqualified
            .iter()
            .all(|s| s.expr.column_refs().iter().all(|c| schema.fields().iter().any(|f| f.name() == &c.name)));
        Ok(if all_present { unqualified } else { Vec::new() })
    }

    /// `prev(x [, offset [, default]])`, `next(...)`, `row_number([start])`,
    /// `row_cumsum(x)`.
    pub fn window_call(
        &mut self,
        f: &str,
        args: Vec<Typed>,
        consts: Vec<Option<crate::parse::ast::Lit>>,
        schema: &datafusion::common::DFSchema,
        span: Span,
    ) -> PResult<Typed> {
        use datafusion::functions_window::expr_fn::{lag, lead, row_number};
        let order = self.window_order(f, schema, span)?;
        let err = |e| df_err(e, span);
        match f {
            "prev" | "next" => {
                let mut it = args.into_iter();
                let Some(x) = it.next() else {
                    return Err(SpannedError::semantic(format!("`{f}` needs a column"), span));
                };
                let offset = match consts.get(1) {
                    None => 1,
                    Some(Some(crate::parse::ast::Lit::Long(n))) if *n >= 0 => *n,
                    Some(_) => {
                        return Err(SpannedError::semantic(format!("`{f}`: the offset must be a constant ≥ 0"), span))
                    }
                };
                let default = match consts.get(2) {
                    None => None,
                    Some(Some(l)) => {
                        let d = super::types::lit_typed(l);
                        match d.expr {
                            DfExpr::Literal(sv, _) => Some(sv.cast_to(&x.ty.arrow()).map_err(err)?),
                            _ => None,
                        }
                    }
                    Some(None) => {
                        return Err(SpannedError::semantic(format!("`{f}`: the default must be a constant"), span))
                    }
                };
                let w =
                    if f == "prev" { lag(x.expr, Some(offset), default) } else { lead(x.expr, Some(offset), default) };
                let e = w.order_by(order).build().map_err(err)?;
                Ok(Typed { expr: e, ty: x.ty })
            }
            "row_number" => {
                let start = match consts.first() {
                    None => 1,
                    Some(Some(crate::parse::ast::Lit::Long(n))) => *n,
                    Some(_) => return Err(SpannedError::semantic("`row_number`: the start must be a constant", span)),
                };
                if consts.len() > 1 {
                    return Err(SpannedError::unsupported(
                        "`row_number` with a restart condition is not supported",
                        span,
                    ));
                }
                let e = row_number().order_by(order).build().map_err(err)?;
                let e = cast(e, DataType::Int64) + datafusion::prelude::lit(start - 1);
                Ok(Typed { expr: e, ty: KType::Long })
            }
            "row_cumsum" => {
                if args.len() != 1 {
                    return Err(SpannedError::unsupported(
                        "`row_cumsum` with a restart condition is not supported",
                        span,
                    ));
                }
                let Some(x) = args.into_iter().next() else { unreachable!() };
                let (xe, ty) = match x.ty {
                    KType::Int | KType::Long => (cast(x.expr, DataType::Int64), KType::Long),
                    KType::Real => (x.expr, KType::Real),
                    other => {
                        return Err(SpannedError::semantic(
                            format!("`row_cumsum` needs a number, not {}", other.name()),
                            span,
                        ))
                    }
                };
                let sum = datafusion::functions_aggregate::sum::sum_udaf();
                let frame = WindowFrame::new_bounds(
                    WindowFrameUnits::Rows,
                    WindowFrameBound::Preceding(ScalarValue::UInt64(None)),
                    WindowFrameBound::CurrentRow,
                );
                let e = DfExpr::from(WindowFunction::new(WindowFunctionDefinition::AggregateUDF(sum), vec![xe]))
                    .order_by(order)
                    .window_frame(frame)
                    .build()
                    .map_err(err)?;
                Ok(Typed { expr: e, ty })
            }
            other => Err(SpannedError::unsupported(format!("function `{other}` is not supported"), span)),
        }
    }

    /// Puts the window functions inside `exprs` in a `Window` node over
    /// `plan`, and makes `exprs` read their results as columns.
    pub fn windowed(&self, plan: LogicalPlan, exprs: &mut [DfExpr], span: Span) -> PResult<LogicalPlan> {
        let found = datafusion::logical_expr::utils::find_window_exprs(exprs.iter());
        if found.is_empty() {
            return Ok(plan);
        }
        // Each window result under a name of its own, read back by it.
        let base = plan.schema().fields().len();
        let names: Vec<String> = (0..found.len()).map(|i| format!("__w{}_{i}", base)).collect();
        let aliased: Vec<DfExpr> = found.iter().zip(&names).map(|(e, n)| e.clone().alias(n)).collect();
        // One node: every window of a query orders by the same keys.
        let plan = datafusion::logical_expr::Window::try_new(aliased, std::sync::Arc::new(plan))
            .map(LogicalPlan::Window)
            .map_err(|e| df_err(e, span))?;
        for e in exprs.iter_mut() {
            let taken = std::mem::replace(e, DfExpr::Literal(ScalarValue::Null, None));
            let rebased = taken
                .transform_up(|x| match found.iter().position(|f| *f == x) {
                    Some(i) => Ok(Transformed::yes(DfExpr::Column(Column::from_name(names[i].clone())))),
                    None => Ok(Transformed::no(x)),
                })
                .map_err(|e| df_err(e, span))?;
            *e = rebased.data;
        }
        Ok(plan)
    }

    /// The rows' order after `op`, given the order before it.
    pub fn order_after(&self, op: &OpKind, before: Option<Vec<SortExpr>>) -> Option<Vec<SortExpr>> {
        match op {
            // Set by the operator itself.
            OpKind::Sort(_) | OpKind::Top { .. } | OpKind::TopHitters { .. } => self.order.clone(),
            OpKind::Serialize(_) => Some(before.unwrap_or_default()),
            OpKind::GetSchema => Some(Vec::new()),
            OpKind::Where(_)
            | OpKind::Extend(_)
            | OpKind::Project(_)
            | OpKind::ProjectAway(_)
            | OpKind::ProjectKeep(_)
            | OpKind::ProjectRename(_)
            | OpKind::ProjectReorder(_)
            | OpKind::Take(_)
            | OpKind::Parse { .. }
            | OpKind::Render { .. }
            | OpKind::As(_) => before,
            _ => None,
        }
    }
}
