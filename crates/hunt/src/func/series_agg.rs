//! The aggregate behind `make-series`: places each bin's value (JSON text,
//! with the bin's index) into a dynamic array of a fixed length, the bins
//! without a value holding the series' default.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};
use std::sync::Arc;

/// `kql_series(idx, value_json)`: an array of `len` elements, `default`
/// (JSON text) where no row gave a value.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SeriesBuild {
    len: usize,
    default: String,
    signature: Signature,
}

pub fn series_build(len: usize, default: String) -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::new_from_impl(SeriesBuild {
        len,
        default,
        signature: Signature::exact(vec![DataType::Int64, DataType::Utf8], Volatility::Immutable),
    }))
}

impl AggregateUDFImpl for SeriesBuild {
    fn name(&self) -> &str {
        "kql_series"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn return_field(&self, _arg_fields: &[FieldRef]) -> Result<FieldRef> {
        Ok(Arc::new(super::as_dynamic(Field::new(self.name(), DataType::Utf8, false))))
    }
    fn is_nullable(&self) -> bool {
        false
    }
    fn accumulator(&self, _acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Bins { len: self.len, default: self.default.clone(), items: Vec::new(), bytes: 0 }))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(format!("{}_bins", args.name), DataType::Utf8, true))])
    }
}

#[derive(Debug)]
struct Bins {
    len: usize,
    default: String,
    items: Vec<(usize, String)>,
    bytes: usize,
}

impl Bins {
    fn push(&mut self, idx: i64, v: String) {
        if let Ok(i) = usize::try_from(idx) {
            if i < self.len {
                self.bytes += v.len() + 32;
                self.items.push((i, v));
            }
        }
    }
}

impl Accumulator for Bins {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let [idx, val] = values else { return Ok(()) };
        let idx = idx.as_primitive::<Int64Type>();
        let val = val.as_string::<i32>();
        for i in 0..idx.len() {
            if idx.is_valid(i) {
                let v = if val.is_valid(i) { val.value(i).to_string() } else { "null".to_string() };
                self.push(idx.value(i), v);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut slots: Vec<&str> = vec![self.default.as_str(); self.len];
        for (i, v) in &self.items {
            slots[*i] = v.as_str();
        }
        Ok(ScalarValue::Utf8(Some(format!("[{}]", slots.join(",")))))
    }

    fn size(&self) -> usize {
        std::mem::size_of::<Self>() + self.bytes + self.len * 16
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let pairs: Vec<String> = self.items.iter().map(|(i, v)| format!("[{i},{v}]")).collect();
        Ok(vec![ScalarValue::Utf8(Some(format!("[{}]", pairs.join(","))))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(a) = states.first() else { return Ok(()) };
        let a = a.as_string::<i32>();
        for i in 0..a.len() {
            if a.is_null(i) {
                continue;
            }
            if let Ok(serde_json::Value::Array(pairs)) = serde_json::from_str(a.value(i)) {
                for p in pairs {
                    if let serde_json::Value::Array(kv) = p {
                        if let (Some(k), Some(v)) = (kv.first().and_then(|k| k.as_i64()), kv.get(1)) {
                            self.push(k, v.to_string());
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
