//! Probes: the parts of a query whose answer the plan itself depends on
//! (`toscalar(...)`, the columns of `evaluate bag_unpack` and `pivot`,
//! `make-series` without `from`/`to`), run before the rest is planned.
//!
//! The planner fixes every column before any row is read, so such a part
//! is run first: the planner records it ([`Planner::pending`]) and stops;
//! the engine runs it within the query's limits, keeps its rows under the
//! text of its plan, and plans the query again, now with the answer. A
//! query may need at most [`MAX_PROBES`] of them.

use super::types::{df_err, KType, Typed};
use super::Env;
use super::Planner;
use crate::error::{ErrorKind, PResult, Span, SpannedError};
use crate::parse::ast::{Expr, Lit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::DFSchema;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr as DfExpr, LogicalPlan, LogicalPlanBuilder};
use std::collections::HashMap;

/// Most probes one query may run before the rest of it is planned.
pub const MAX_PROBES: usize = 16;

/// Most distinct values a table may give a list (`has_any (T)`, `in (T,
/// ...)`).
pub const MAX_LIST_VALUES: usize = 10_000;

/// A part of the query to run before planning the rest.
pub struct Probe {
    /// The text of its plan: the same plan gets the same answer.
    pub key: String,
    pub plan: LogicalPlan,
    /// Where the part is in the query (for the error past [`MAX_PROBES`]).
    pub span: Span,
}

/// The rows of each probe run so far, by key.
pub type Answers = HashMap<String, Vec<RecordBatch>>;

impl Planner<'_> {
    /// The rows of `plan` if the engine has run it; otherwise records it
    /// to be run and fails (the engine plans the query again once it has
    /// the rows).
    pub fn probe(&mut self, plan: LogicalPlan, what: &str, span: Span) -> PResult<Vec<RecordBatch>> {
        let key = format!("{}", plan.display_indent());
        if let Some(rows) = self.answers.get(&key) {
            return Ok(rows.clone());
        }
        if self.pending.is_none() {
            self.pending = Some(Probe { key, plan, span });
        }
        Err(SpannedError {
            message: format!("{what} is computed before the rest of the query"),
            span,
            kind: ErrorKind::Semantic,
        })
    }

    /// `toscalar(T)`: the first column of T's first row, as a constant
    /// (null of the column's type when T is empty).
    pub fn toscalar(&mut self, plan: LogicalPlan, span: Span) -> PResult<Typed> {
        let Some(field) = plan.schema().fields().first().cloned() else {
            return Err(SpannedError::semantic("`toscalar` needs a table with a column", span));
        };
        let ty = KType::of_field(&field);
        let first = DfExpr::Column(datafusion::common::Column::new_unqualified(field.name()));
        let one = LogicalPlanBuilder::from(plan)
            .limit(0, Some(1))
            .and_then(|b| b.project(vec![first]))
            .and_then(|b| b.build())
            .map_err(|e| df_err(e, span))?;
        let rows = self.probe(one, "`toscalar`", span)?;
        let value = match rows.iter().find(|b| b.num_rows() > 0) {
            Some(b) => ScalarValue::try_from_array(b.column(0), 0).map_err(|e| df_err(e, span))?,
            None => ScalarValue::try_from(&ty.arrow()).map_err(|e| df_err(e, span))?,
        };
        // The literal keeps the planner's arrow type for the KQL type.
        let value = value.cast_to(&ty.arrow()).map_err(|e| df_err(e, span))?;
        Ok(Typed { expr: DfExpr::Literal(value, None), ty })
    }

    /// The distinct values of the first column of `plan`, as constants (at
    /// most [`MAX_LIST_VALUES`]).
    pub fn table_values(&mut self, plan: LogicalPlan, span: Span) -> PResult<Vec<Typed>> {
        let Some(field) = plan.schema().fields().first().cloned() else {
            return Err(SpannedError::semantic("the table has no column", span));
        };
        let ty = KType::of_field(&field);
        let first = DfExpr::Column(datafusion::common::Column::new_unqualified(field.name()));
        let distinct = LogicalPlanBuilder::from(plan)
            .aggregate(vec![first], Vec::<DfExpr>::new())
            .and_then(|b| b.limit(0, Some(MAX_LIST_VALUES + 1)))
            .and_then(|b| b.build())
            .map_err(|e| df_err(e, span))?;
        let rows = self.probe(distinct, "the values of the table in the list", span)?;
        let mut out = Vec::new();
        for b in &rows {
            for i in 0..b.num_rows() {
                let v = ScalarValue::try_from_array(b.column(0), i).map_err(|e| df_err(e, span))?;
                out.push(Typed { expr: DfExpr::Literal(v, None), ty });
            }
        }
        if out.len() > MAX_LIST_VALUES {
            return Err(SpannedError::unsupported(
                format!("the table gives more than {MAX_LIST_VALUES} values to the list"),
                span,
            ));
        }
        Ok(out)
    }

    /// A constant an operator needs (`range` and `make-series` bounds, a
    /// series' `default`): folded by the planner, or computed first as a
    /// probe (`ago(1d)`, `toscalar(...)`). `Lit::Null` when it is none.
    pub fn constant(&mut self, e: &Expr, env: &Env) -> PResult<Lit> {
        if let Some(l) = self.const_value(e, env, &DFSchema::empty()) {
            return Ok(l);
        }
        let t = self.scalar(e, env, &DFSchema::empty())?;
        let value = match &t.expr {
            DfExpr::Literal(v, _) => v.clone(),
            _ => {
                let one = LogicalPlanBuilder::empty(true)
                    .project(vec![t.expr.clone().alias("v")])
                    .and_then(|b| b.build())
                    .map_err(|err| df_err(err, e.span))?;
                let rows = self.probe(one, "a constant", e.span)?;
                match rows.iter().find(|b| b.num_rows() > 0) {
                    Some(b) => ScalarValue::try_from_array(b.column(0), 0).map_err(|err| df_err(err, e.span))?,
                    None => ScalarValue::Null,
                }
            }
        };
        Ok(match value {
            ScalarValue::TimestampNanosecond(Some(v), _) => Lit::DateTime(v),
            ScalarValue::DurationNanosecond(Some(v)) => Lit::Timespan(v),
            ScalarValue::Int64(Some(v)) => Lit::Long(v),
            ScalarValue::Int32(Some(v)) => Lit::Long(v as i64),
            ScalarValue::Float64(Some(v)) => Lit::Real(v),
            _ => Lit::Null,
        })
    }
}
