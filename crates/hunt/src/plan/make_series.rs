//! `make-series`: per `by` group, one dynamic array per aggregate with a
//! value for each step of the axis (`default`, 0 unless given, where no
//! row falls in a step), and the axis itself as an array.
//!
//! Planned as Kusto describes it: rows outside `[from, to)` are dropped,
//! each row's step index is `floor((axis - from) / step)`, the aggregates
//! are computed per (`by`, index) by `summarize`, and a second aggregate
//! ([`crate::func::series_agg`]) places each index's value into the
//! group's array. Without `from`/`to` the axis spans the data: from the
//! step holding the smallest value to the end of the step holding the
//! largest (computed first, as a probe, over the whole input; Kusto's text
//! says "in each series", netward uses one axis for all groups). An empty
//! input gives no rows, or with `kind=nonempty` one row of defaults when
//! there is no `by`.

use super::ops::expr_name;
use super::types::{df_err, lit_typed, KType, Typed};
use super::{Env, Planner};
use crate::error::{PResult, Span, SpannedError};
use crate::func::dynamic::quote;
use crate::func::series_agg::series_build;
use crate::parse::ast::{Expr, ExprKind, Lit, NamedExpr, SeriesAgg};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Column, ScalarValue};
use datafusion::functions_aggregate::expr_fn as agg;
use datafusion::logical_expr::{cast, Expr as DfExpr, LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::lit;

/// Most steps in one series.
pub const MAX_SERIES_POINTS: usize = 100_000;

/// Offset of .NET's epoch (0001-01-01) before Unix's, nanoseconds: Kusto
/// bins datetimes from it.
const DOTNET_EPOCH_OFFSET_NS: i128 = 62_135_596_800 * 1_000_000_000;

/// The operator's parts, as written.
pub struct Spec<'q> {
    pub aggs: &'q [SeriesAgg],
    pub on: &'q Expr,
    pub from: Option<&'q Expr>,
    pub to: Option<&'q Expr>,
    pub step: &'q Expr,
    pub by: &'q [NamedExpr],
}

/// A position on the axis: integer nanoseconds or numbers, or reals.
#[derive(Clone, Copy, PartialEq)]
enum Pos {
    Int(i64),
    Real(f64),
}

impl Pos {
    fn of(l: &Lit) -> Option<Pos> {
        match l {
            Lit::Long(v) | Lit::DateTime(v) | Lit::Timespan(v) => Some(Pos::Int(*v)),
            Lit::Real(v) => Some(Pos::Real(*v)),
            _ => None,
        }
    }
    fn real(self) -> f64 {
        match self {
            Pos::Int(v) => v as f64,
            Pos::Real(v) => v,
        }
    }
}

impl Planner<'_> {
    #[inline(never)]
    pub fn make_series(
        &mut self,
        plan: LogicalPlan,
        spec: &Spec,
        nonempty: bool,
        env: &Env,
        span: Span,
    ) -> PResult<LogicalPlan> {
        let err = |e| df_err(e, span);
        let schema = plan.schema().clone();
        let axis = self.scalar(spec.on, env, &schema)?;
        let axis_name = expr_name(spec.on).unwrap_or_else(|| "Column1".into());
        let int_axis = match axis.ty {
            KType::DateTime | KType::Timespan | KType::Long | KType::Int => true,
            KType::Real => false,
            other => {
                return Err(SpannedError::semantic(
                    format!("`make-series` needs a datetime, timespan or numeric axis, not {}", other.name()),
                    spec.on.span,
                ))
            }
        };
        let pos_expr = if int_axis { cast(axis.expr.clone(), DataType::Int64) } else { axis.expr.clone() };
        let step = self.constant(spec.step, env)?;
        let step = match (Pos::of(&step), int_axis) {
            (Some(Pos::Int(s)), true) if s > 0 => Pos::Int(s),
            (Some(p), false) if p.real() > 0.0 => Pos::Real(p.real()),
            _ => {
                return Err(SpannedError::semantic(
                    "`step` must be a positive constant of the axis' kind",
                    spec.step.span,
                ))
            }
        };
        let bound = |p: &mut Self, e: Option<&Expr>| -> PResult<Option<Pos>> {
            let Some(e) = e else { return Ok(None) };
            let l = p.constant(e, env)?;
            match (Pos::of(&l), int_axis) {
                (Some(Pos::Int(v)), true) => Ok(Some(Pos::Int(v))),
                (Some(v), false) => Ok(Some(Pos::Real(v.real()))),
                _ => Err(SpannedError::semantic("`from` and `to` must be constants of the axis' type", e.span)),
            }
        };
        let mut from = bound(self, spec.from)?;
        let mut to = bound(self, spec.to)?;
        if from.is_none() || to.is_none() {
            // The data's extent, binned.
            let p = LogicalPlanBuilder::from(plan.clone())
                .aggregate(Vec::<DfExpr>::new(), vec![agg::min(pos_expr.clone()), agg::max(pos_expr.clone())])
                .and_then(|b| b.build())
                .map_err(err)?;
            let rows = self.probe(p, "the extent of the `make-series` axis", span)?;
            let b = rows.iter().find(|b| b.num_rows() > 0);
            let at = |c: usize| b.and_then(|b| ScalarValue::try_from_array(b.column(c), 0).ok());
            let (lo, hi) = (at(0), at(1));
            let as_pos = |v: Option<ScalarValue>| match v {
                Some(ScalarValue::Int64(Some(x))) => Some(Pos::Int(x)),
                Some(ScalarValue::Float64(Some(x))) => Some(Pos::Real(x)),
                _ => None,
            };
            let (lo, hi) = (as_pos(lo), as_pos(hi));
            let dt = axis.ty == KType::DateTime;
            if from.is_none() {
                from = lo.map(|v| floor_to(v, step, dt));
            }
            if to.is_none() {
                to = hi.map(|v| add(floor_to(v, step, dt), step));
            }
        }
        // No data and no bounds: no series.
        let (from, to) = match (from, to) {
            (Some(f), Some(t)) => (f, t),
            _ => (Pos::Int(0), Pos::Int(0)),
        };
        let len = match (from, to, step) {
            (Pos::Int(f), Pos::Int(t), Pos::Int(s)) if t > f => {
                ((t as i128 - f as i128 + s as i128 - 1) / s as i128) as u128
            }
            (f, t, s) if t.real() > f.real() => ((t.real() - f.real()) / s.real()).ceil() as u128,
            _ => 0,
        };
        if len > MAX_SERIES_POINTS as u128 {
            return Err(SpannedError::unsupported(
                format!("`make-series` would make {len} steps; at most {MAX_SERIES_POINTS} are supported"),
                spec.step.span,
            ));
        }
        let len = len as usize;
        let pos_lit = |p: Pos| match p {
            Pos::Int(v) => lit(v),
            Pos::Real(v) => lit(v),
        };
        // Rows in range, with their step index.
        let in_range = pos_expr.clone().gt_eq(pos_lit(from)).and(pos_expr.clone().lt(pos_lit(to)));
        let idx = match (from, step) {
            (Pos::Int(f), Pos::Int(s)) => (pos_expr.clone() - lit(f)) / lit(s),
            (f, s) => cast(
                datafusion::functions::math::expr_fn::floor((pos_expr.clone() - lit(f.real())) / lit(s.real())),
                DataType::Int64,
            ),
        };
        let mut cols = self.columns(&plan, span)?;
        cols.push((Typed { expr: idx, ty: KType::Long }, "__ms_idx".into()));
        let filtered = LogicalPlanBuilder::from(plan).filter(in_range).and_then(|b| b.build()).map_err(err)?;
        let indexed = self.project(filtered, cols, span)?;
        // Per (by, index): the aggregates.
        let idx_ident = Expr::new(ExprKind::Ident("__ms_idx".into()), span);
        let mut by = spec.by.to_vec();
        by.push(NamedExpr { names: Vec::new(), expr: idx_ident });
        let aggs: Vec<NamedExpr> = spec.aggs.iter().map(|a| a.agg.clone()).collect();
        let per_step = self.summarize(indexed, &aggs, &by, env, span)?;
        // Per by group: the arrays.
        let fields: Vec<(String, KType)> =
            per_step.schema().fields().iter().map(|f| (f.name().clone(), KType::of_field(f))).collect();
        let n_by = spec.by.len();
        let col = |n: &str| DfExpr::Column(Column::new_unqualified(n));
        let group: Vec<DfExpr> = fields[..n_by].iter().map(|(n, _)| col(n)).collect();
        let mut arrays = Vec::new();
        for (a, (name, ty)) in spec.aggs.iter().zip(fields[n_by + 1..].iter()) {
            if !ty.is_numeric() {
                return Err(SpannedError::semantic(
                    format!("`make-series` needs aggregates with numeric results; `{name}` is {}", ty.name()),
                    a.agg.expr.span,
                ));
            }
            let default = match &a.default {
                Some(d) => self.constant(d, env)?,
                None => Lit::Long(0),
            };
            let default = default_json(&default, *ty).ok_or_else(|| {
                SpannedError::semantic(
                    "`default` must be a constant number or null",
                    a.default.as_ref().map_or(span, |d| d.span),
                )
            })?;
            let value = super::types::to_json(Typed { expr: col(name), ty: *ty }, span)?;
            arrays.push(series_build(len, default).call(vec![col("__ms_idx"), value]).alias(name.clone()));
        }
        arrays.push(agg::count(lit(1i64)).alias("__ms_rows"));
        let mut b = LogicalPlanBuilder::from(per_step).aggregate(group, arrays).map_err(err)?;
        if !(nonempty && n_by == 0) {
            b = b.filter(col("__ms_rows").gt(lit(0i64))).map_err(err)?;
        }
        let grouped = b.build().map_err(err)?;
        // The axis: one value per step.
        let axis_json: Vec<String> = (0..len)
            .map(|i| {
                let p = match (from, step) {
                    (Pos::Int(f), Pos::Int(s)) => Pos::Int(f + s * i as i64),
                    (f, s) => Pos::Real(f.real() + s.real() * i as f64),
                };
                pos_json(p, axis.ty)
            })
            .collect();
        let mut out = Vec::new();
        for (name, ty) in fields[..n_by].iter() {
            out.push((Typed { expr: col(name), ty: *ty }, name.clone()));
        }
        for (name, _) in fields[n_by + 1..].iter() {
            out.push((Typed { expr: col(name), ty: KType::Dynamic }, name.clone()));
        }
        let axis_arr =
            lit_typed(&Lit::Dynamic(serde_json::from_str(&format!("[{}]", axis_json.join(","))).unwrap_or_default()));
        out.push((axis_arr, axis_name));
        self.project(grouped, out, span)
    }
}

/// `v` floored to a multiple of `step` (datetimes from .NET's epoch, as
/// Kusto's `bin` does).
fn floor_to(v: Pos, step: Pos, datetime: bool) -> Pos {
    match (v, step) {
        (Pos::Int(v), Pos::Int(s)) => {
            let off = if datetime { DOTNET_EPOCH_OFFSET_NS } else { 0 };
            let x = v as i128 + off;
            Pos::Int(i64::try_from(x.div_euclid(s as i128) * s as i128 - off).unwrap_or(v))
        }
        (v, s) => Pos::Real((v.real() / s.real()).floor() * s.real()),
    }
}

fn add(a: Pos, b: Pos) -> Pos {
    match (a, b) {
        (Pos::Int(a), Pos::Int(b)) => Pos::Int(a.saturating_add(b)),
        (a, b) => Pos::Real(a.real() + b.real()),
    }
}

/// The JSON text of an axis value of type `ty`.
fn pos_json(p: Pos, ty: KType) -> String {
    match (p, ty) {
        (Pos::Int(v), KType::DateTime) => quote(&crate::value::format_datetime(v)),
        (Pos::Int(v), KType::Timespan) => quote(&crate::value::format_timespan(v)),
        (Pos::Int(v), _) => v.to_string(),
        (Pos::Real(v), _) => real_json(v),
    }
}

fn real_json(v: f64) -> String {
    serde_json::Number::from_f64(v).map(|n| n.to_string()).unwrap_or_else(|| "null".into())
}

/// The JSON text of a series' default for an aggregate of type `ty`.
fn default_json(l: &Lit, ty: KType) -> Option<String> {
    match (l, ty) {
        (Lit::Null | Lit::TypedNull(_), _) => Some("null".into()),
        (Lit::Long(v), KType::Real) => Some(real_json(*v as f64)),
        (Lit::Real(v), KType::Real) => Some(real_json(*v)),
        (Lit::Long(v), _) => Some(v.to_string()),
        (Lit::Real(v), _) => Some(real_json(*v)),
        _ => None,
    }
}
