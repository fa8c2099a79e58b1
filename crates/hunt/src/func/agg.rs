//! `make_set` / `make_list` as a DataFusion aggregate: collects the JSON
//! text of each non-null input (the planner converts inputs with
//! `kql_to_json`) into a dynamic array, up to a maximum size. `make_set`
//! keeps the first occurrence of each distinct value.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};
use std::collections::HashSet;
use std::sync::Arc;

/// Kusto's default `make_set`/`make_list` maximum.
pub const DEFAULT_MAX: usize = 1_048_576;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MakeCollection {
    set: bool,
    max: usize,
    signature: Signature,
}

/// The aggregate UDF for `make_set(x, max)` (`set`) or `make_list(x, max)`.
pub fn make_collection(set: bool, max: usize) -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::new_from_impl(MakeCollection {
        set,
        max,
        signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
    }))
}

impl AggregateUDFImpl for MakeCollection {
    fn name(&self) -> &str {
        if self.set {
            "kql_make_set"
        } else {
            "kql_make_list"
        }
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
        Ok(Box::new(Collect { set: self.set, max: self.max, items: Vec::new(), seen: HashSet::new(), bytes: 0 }))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(format!("{}_items", args.name), DataType::Utf8, true))])
    }
}

#[derive(Debug)]
struct Collect {
    set: bool,
    max: usize,
    items: Vec<String>,
    seen: HashSet<String>,
    bytes: usize,
}

impl Collect {
    fn push(&mut self, v: &str) {
        if self.items.len() >= self.max {
            return;
        }
        if self.set {
            if self.seen.contains(v) {
                return;
            }
            self.seen.insert(v.to_string());
            self.bytes += v.len() + 48;
        }
        self.bytes += v.len() + 24;
        self.items.push(v.to_string());
    }

    fn json(&self) -> String {
        let mut out = String::with_capacity(self.bytes + 2);
        out.push('[');
        for (i, it) in self.items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(it);
        }
        out.push(']');
        out
    }
}

impl Accumulator for Collect {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(a) = values.first() else { return Ok(()) };
        let a = a.as_string::<i32>();
        for i in 0..a.len() {
            if a.is_valid(i) {
                self.push(a.value(i));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Utf8(Some(self.json())))
    }

    fn size(&self) -> usize {
        std::mem::size_of::<Self>() + self.bytes
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
            // States are arrays written by `json()`: re-split them by
            // parsing, so nested values stay whole.
            if let Ok(serde_json::Value::Array(items)) = serde_json::from_str(a.value(i)) {
                for it in items {
                    self.push(&it.to_string());
                }
            }
        }
        Ok(())
    }
}
