//! `percentile(X, P)`, `percentiles(X, P1, P2, ...)` and
//! `percentiles_array(X, P1, ... | dynamic([...]))` in `summarize` (and so
//! in `make-series`): one column per percentile, named as Kusto names them
//! (`percentile_X_95`, `percentile_X_99_5`; `percentiles_X` for the
//! array), of X's type. See [`crate::func::percentile`] for the definition.

use super::summarize::AggOut;
use super::types::KType;
use super::{Env, Planner};
use crate::error::{PResult, Span, SpannedError};
use crate::func::percentile::percentiles;
use crate::parse::ast::{Expr, Lit};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::DFSchema;
use datafusion::logical_expr::cast;

/// How a percentile appears in a column name: `95`, `99_5`.
fn p_name(p: f64) -> String {
    let s = format!("{p}");
    s.replace(['.', '-'], "_")
}

impl Planner<'_> {
    /// Plans `f(args)` for `f` one of `percentile`, `percentiles`,
    /// `percentiles_array`; `argname` is X's name for the column name.
    pub(super) fn percentile_aggs(
        &mut self,
        f: &str,
        args: &[Expr],
        argname: &str,
        env: &Env,
        schema: &DFSchema,
        span: Span,
    ) -> PResult<Vec<AggOut>> {
        let Some((x_arg, p_args)) = args.split_first() else {
            return Err(SpannedError::semantic(format!("`{f}` needs an expression and percentiles"), span));
        };
        if p_args.is_empty() || (f == "percentile" && p_args.len() != 1) {
            return Err(SpannedError::semantic(format!("wrong number of arguments to `{f}`"), span));
        }
        let mut ps = Vec::new();
        for a in p_args {
            let bad = || SpannedError::semantic("a percentile must be a constant number from 0 to 100", a.span);
            let mut vals = Vec::new();
            match self.const_value(a, env, schema) {
                Some(Lit::Long(v)) => vals.push(v as f64),
                Some(Lit::Real(v)) => vals.push(v),
                Some(Lit::Dynamic(serde_json::Value::Array(items))) if f == "percentiles_array" => {
                    for it in items {
                        vals.push(it.as_f64().ok_or_else(bad)?);
                    }
                }
                _ => return Err(bad()),
            }
            for v in vals {
                if !(0.0..=100.0).contains(&v) {
                    return Err(bad());
                }
                ps.push(v);
            }
        }
        let x = self.scalar(x_arg, env, schema)?;
        let ints = match x.ty {
            KType::Int | KType::Long | KType::DateTime | KType::Timespan => true,
            KType::Real => false,
            other => {
                return Err(SpannedError::semantic(
                    format!("`{f}` needs a number, datetime or timespan, not {}", other.name()),
                    x_arg.span,
                ))
            }
        };
        let input = if ints { cast(x.expr, DataType::Int64) } else { cast(x.expr, DataType::Float64) };
        if f == "percentiles_array" {
            if !x.ty.is_numeric() {
                return Err(SpannedError::unsupported(
                    "`percentiles_array` of datetimes or timespans is not supported; use `percentiles`",
                    x_arg.span,
                ));
            }
            let e = percentiles(ps, ints, true).call(vec![input]);
            return Ok(vec![AggOut { expr: e, ty: KType::Dynamic, default: format!("percentiles_{argname}") }]);
        }
        let mut outs = Vec::new();
        for p in ps {
            let raw = percentiles(vec![p], ints, false).call(vec![input.clone()]);
            // Back to X's type: Int64 holds datetime and timespan nanoseconds.
            let expr = match x.ty {
                KType::DateTime | KType::Timespan | KType::Int => cast(raw, x.ty.arrow()),
                _ => raw,
            };
            let ty = if x.ty == KType::Int { KType::Int } else { x.ty };
            outs.push(AggOut { expr, ty, default: format!("percentile_{argname}_{}", p_name(p)) });
        }
        Ok(outs)
    }
}
