//! Property-bag edits: `bag_remove_keys(bag, keys)` (top-level keys, or
//! `$.key` paths one level deep) and the helper behind `pack_all(true)`,
//! which leaves out null and empty values.

use super::{arg, strs, utf8s};
use datafusion::common::Result;
use datafusion::logical_expr::ColumnarValue;
use serde_json::Value as J;

pub fn bag_remove_keys(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let bag = strs(arg(args, 0, "bag_remove_keys")?)?;
    let keys = strs(arg(args, 1, "bag_remove_keys")?)?;
    Ok(utf8s(n, |i| {
        let Ok(J::Object(mut m)) = serde_json::from_str::<J>(bag.at(i)?) else { return None };
        if let Some(Ok(J::Array(ks))) = keys.at(i).map(serde_json::from_str::<J>) {
            for k in ks {
                if let Some(k) = k.as_str() {
                    m.remove(k.strip_prefix("$.").unwrap_or(k));
                }
            }
        }
        Some(J::Object(m).to_string())
    }))
}

pub fn bag_drop_empty(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let bag = strs(arg(args, 0, "pack_all")?)?;
    Ok(utf8s(n, |i| {
        let Ok(J::Object(mut m)) = serde_json::from_str::<J>(bag.at(i)?) else { return None };
        m.retain(|_, v| !(v.is_null() || v.as_str() == Some("")));
        Some(J::Object(m).to_string())
    }))
}
