//! `percentile`, `percentiles` and `percentiles_array` as a DataFusion
//! aggregate: the exact nearest-rank percentile (Kusto's documented
//! definition: the smallest value such that P percent of the values are
//! less or equal to it; the 0th is the smallest). Kusto estimates it with a
//! T-Digest whose error is bounded on the rank; the exact value is within
//! that bound.
//!
//! The planner casts the input to `Int64` (integers, datetimes and
//! timespans: exact) or `Float64` (reals) and casts the result back. The
//! values of a group are kept (their bytes count against the query's
//! memory pool through `size()`).

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};
use std::sync::Arc;

/// The aggregate over `Int64` (`ints`) or `Float64` values, for the
/// percentiles `ps` (0..=100). One percentile gives that value; `array`
/// gives the dynamic array of all of them (`percentiles_array`).
#[derive(Debug)]
pub struct Percentiles {
    /// Unique per percentile set: DataFusion names an aggregate by its
    /// text, and two percentiles of one column must not clash.
    name: String,
    ps: Vec<f64>,
    ints: bool,
    array: bool,
    signature: Signature,
}

impl PartialEq for Percentiles {
    fn eq(&self, o: &Self) -> bool {
        self.ints == o.ints
            && self.array == o.array
            && self.ps.iter().map(|p| p.to_bits()).eq(o.ps.iter().map(|p| p.to_bits()))
    }
}
impl Eq for Percentiles {}
impl std::hash::Hash for Percentiles {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (self.ints, self.array).hash(h);
        for p in &self.ps {
            p.to_bits().hash(h);
        }
    }
}

pub fn percentiles(ps: Vec<f64>, ints: bool, array: bool) -> Arc<AggregateUDF> {
    let ty = if ints { DataType::Int64 } else { DataType::Float64 };
    let list: Vec<String> = ps.iter().map(|p| format!("{p}").replace(['.', '-'], "_")).collect();
    let name = format!("kql_percentile{}_{}", if array { "s_array" } else { "" }, list.join("_"));
    Arc::new(AggregateUDF::new_from_impl(Percentiles {
        name,
        ps,
        ints,
        array,
        signature: Signature::exact(vec![ty], Volatility::Immutable),
    }))
}

impl Percentiles {
    fn value_type(&self) -> DataType {
        if self.ints {
            DataType::Int64
        } else {
            DataType::Float64
        }
    }
}

impl AggregateUDFImpl for Percentiles {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(if self.array { DataType::Utf8 } else { self.value_type() })
    }
    fn return_field(&self, _arg_fields: &[FieldRef]) -> Result<FieldRef> {
        let f = Field::new(self.name(), self.return_type(&[])?, true);
        Ok(Arc::new(if self.array { super::as_dynamic(f) } else { f }))
    }
    fn accumulator(&self, _acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Ranks { ps: self.ps.clone(), ints: self.ints, array: self.array, i: Vec::new(), f: Vec::new() }))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let item = Arc::new(Field::new_list_field(self.value_type(), true));
        Ok(vec![Arc::new(Field::new(format!("{}_values", args.name), DataType::List(item), true))])
    }
}

#[derive(Debug)]
struct Ranks {
    ps: Vec<f64>,
    ints: bool,
    array: bool,
    i: Vec<i64>,
    f: Vec<f64>,
}

/// The nearest rank (0-based index into `n` sorted values) of percentile `p`.
pub fn nearest_rank(p: f64, n: usize) -> usize {
    let r = (p / 100.0 * n as f64).ceil();
    if r <= 1.0 {
        0
    } else {
        (r as usize).min(n) - 1
    }
}

impl Ranks {
    fn add(&mut self, a: &ArrayRef) {
        if self.ints {
            self.i.extend(a.as_primitive::<Int64Type>().iter().flatten());
        } else {
            self.f.extend(a.as_primitive::<Float64Type>().iter().flatten().filter(|v| !v.is_nan()));
        }
    }

    fn answers(&mut self) -> Vec<ScalarValue> {
        if self.ints {
            self.i.sort_unstable();
            let n = self.i.len();
            self.ps.iter().map(|p| ScalarValue::Int64((n > 0).then(|| self.i[nearest_rank(*p, n)]))).collect()
        } else {
            self.f.sort_unstable_by(|a, b| a.total_cmp(b));
            let n = self.f.len();
            self.ps.iter().map(|p| ScalarValue::Float64((n > 0).then(|| self.f[nearest_rank(*p, n)]))).collect()
        }
    }
}

impl Accumulator for Ranks {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        if let Some(a) = values.first() {
            self.add(a);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let answers = self.answers();
        if !self.array {
            return Ok(answers.into_iter().next().unwrap_or(ScalarValue::Null));
        }
        let items: Vec<serde_json::Value> = answers
            .iter()
            .map(|v| match v {
                ScalarValue::Int64(Some(x)) => serde_json::Value::from(*x),
                ScalarValue::Float64(Some(x)) => serde_json::Number::from_f64(*x).map(Into::into).unwrap_or_default(),
                _ => serde_json::Value::Null,
            })
            .collect();
        if items.iter().all(|v| v.is_null()) {
            return Ok(ScalarValue::Utf8(None));
        }
        Ok(ScalarValue::Utf8(Some(serde_json::Value::Array(items).to_string())))
    }

    fn size(&self) -> usize {
        std::mem::size_of::<Self>() + self.i.capacity() * 8 + self.f.capacity() * 8
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (vals, ty): (Vec<ScalarValue>, DataType) = if self.ints {
            (self.i.iter().map(|v| ScalarValue::Int64(Some(*v))).collect(), DataType::Int64)
        } else {
            (self.f.iter().map(|v| ScalarValue::Float64(Some(*v))).collect(), DataType::Float64)
        };
        Ok(vec![ScalarValue::List(ScalarValue::new_list_nullable(&vals, &ty))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(a) = states.first() else { return Ok(()) };
        let lists = a.as_list::<i32>();
        for i in 0..lists.len() {
            if lists.is_valid(i) {
                self.add(&lists.value(i));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::nearest_rank;

    #[test]
    fn nearest_rank_of_one_to_hundred_is_p() {
        // Values 1..=100: the P-th percentile is P, the 0th the smallest.
        for p in [1.0, 5.0, 50.0, 95.0, 100.0] {
            assert_eq!(nearest_rank(p, 100) + 1, p as usize);
        }
        assert_eq!(nearest_rank(0.0, 100), 0);
        assert_eq!(nearest_rank(50.0, 4), 1);
        assert_eq!(nearest_rank(50.1, 4), 2);
        assert_eq!(nearest_rank(100.0, 1), 0);
    }
}
