//! The aggregate behind `evaluate bag_unpack` without an output schema:
//! the top-level keys of the property bags of a column, each with the KQL
//! type of its values (`long`, `real`, `string`, `bool`, or `dynamic` when
//! they differ or are arrays/bags). Nulls are ignored, as the plugin
//! ignores them. At most `max` keys are kept; past that the result says
//! `{"": "overflow"}` so the planner can refuse by name.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};
use serde_json::Value as J;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BagSchema {
    max: usize,
    signature: Signature,
}

pub fn bag_schema(max: usize) -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::new_from_impl(BagSchema {
        max,
        signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
    }))
}

impl AggregateUDFImpl for BagSchema {
    fn name(&self) -> &str {
        "kql_bag_schema"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn accumulator(&self, _acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Keys { max: self.max, keys: BTreeMap::new(), overflow: false }))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(format!("{}_keys", args.name), DataType::Utf8, true))])
    }
}

#[derive(Debug)]
struct Keys {
    max: usize,
    keys: BTreeMap<String, &'static str>,
    overflow: bool,
}

fn kind(v: &J) -> Option<&'static str> {
    Some(match v {
        J::Null => return None,
        J::Bool(_) => "bool",
        J::Number(n) if n.is_i64() || n.is_u64() => "long",
        J::Number(_) => "real",
        J::String(_) => "string",
        _ => "dynamic",
    })
}

impl Keys {
    fn add(&mut self, key: &str, k: &'static str) {
        let full = self.keys.len() >= self.max;
        match self.keys.get_mut(key) {
            Some(have) if *have != k => *have = "dynamic",
            Some(_) => {}
            None if full => self.overflow = true,
            None => {
                self.keys.insert(key.to_string(), k);
            }
        }
    }

    fn json(&self) -> String {
        let mut m: serde_json::Map<String, J> =
            self.keys.iter().map(|(k, v)| (k.clone(), J::String(v.to_string()))).collect();
        if self.overflow {
            m.insert(String::new(), J::String("overflow".into()));
        }
        J::Object(m).to_string()
    }
}

impl Accumulator for Keys {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(a) = values.first() else { return Ok(()) };
        let a = a.as_string::<i32>();
        for i in 0..a.len() {
            if a.is_null(i) {
                continue;
            }
            if let Ok(J::Object(m)) = serde_json::from_str::<J>(a.value(i)) {
                for (k, v) in &m {
                    if let Some(t) = kind(v) {
                        self.add(k, t);
                    }
                }
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Utf8(Some(self.json())))
    }

    fn size(&self) -> usize {
        std::mem::size_of::<Self>() + self.keys.keys().map(|k| k.len() + 48).sum::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Utf8(Some(self.json()))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(a) = states.first() else { return Ok(()) };
        let a = a.as_string::<i32>();
        for i in 0..a.len() {
            if a.is_null(i) {
                continue;
            }
            if let Ok(J::Object(m)) = serde_json::from_str::<J>(a.value(i)) {
                for (k, v) in m {
                    let t = match v.as_str() {
                        Some("bool") => "bool",
                        Some("long") => "long",
                        Some("real") => "real",
                        Some("string") => "string",
                        Some("overflow") if k.is_empty() => {
                            self.overflow = true;
                            continue;
                        }
                        _ => "dynamic",
                    };
                    self.add(&k, t);
                }
            }
        }
        Ok(())
    }
}
