//! KQL's scalar and aggregate functions as DataFusion UDFs.
//!
//! Each scalar function is a [`KqlUdf`]: a name, a fixed return type and a
//! plain Rust function over the argument columns. The planner casts or
//! converts arguments before the call (dynamic values to text, and so on),
//! so implementations only see the types they document. Strings that are
//! null are read as `""`, as KQL strings cannot be null.
//!
//! Representation of `dynamic`: Arrow `Utf8` holding compact JSON text; the
//! field metadata `kql_type=dynamic` marks such columns (see [`dynamic`]).

pub mod agg;
pub mod bag_schema;
pub mod bags;
pub mod cmdline;
pub mod decompose;
pub mod dynamic;
pub mod misc;
pub mod more;
pub mod percentile;
pub mod series_agg;
pub mod strings;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Prefix of the error messages netward's own functions raise (shown to
/// the user without it); any other engine error is reworded.
pub const KQL_ERROR: &str = "kql: ";

/// Field metadata key naming the KQL type of a column.
pub const KQL_TYPE: &str = "kql_type";

/// `f` marked as KQL `dynamic` (JSON text in a Utf8 column).
pub(crate) fn as_dynamic(f: Field) -> Field {
    f.with_metadata(HashMap::from([(KQL_TYPE.to_string(), "dynamic".to_string())]))
}

type Imp = fn(&[ColumnarValue], usize) -> Result<ColumnarValue>;

/// A KQL scalar function.
#[derive(Debug)]
pub struct KqlUdf {
    name: &'static str,
    signature: Signature,
    ret: DataType,
    /// The result is a dynamic value (JSON text).
    dynamic: bool,
    imp: Imp,
}

impl PartialEq for KqlUdf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for KqlUdf {}
impl std::hash::Hash for KqlUdf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}

impl ScalarUDFImpl for KqlUdf {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.ret.clone())
    }
    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        let mut f = Field::new(self.name, self.ret.clone(), true);
        if self.dynamic {
            f = as_dynamic(f);
        }
        Ok(Arc::new(f))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        (self.imp)(&args.args, args.number_rows)
    }
}

fn udf(name: &'static str, ret: DataType, dynamic: bool, imp: Imp) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(KqlUdf {
        name,
        signature: Signature::variadic_any(Volatility::Immutable),
        ret,
        dynamic,
        imp,
    }))
}

/// Every scalar UDF, by name.
fn registry() -> &'static HashMap<String, Arc<ScalarUDF>> {
    static REG: OnceLock<HashMap<String, Arc<ScalarUDF>>> = OnceLock::new();
    REG.get_or_init(|| {
        use DataType::*;
        let list: Vec<Arc<ScalarUDF>> = vec![
            udf("kql_has", Boolean, false, strings::has),
            udf("kql_has_cs", Boolean, false, strings::has_cs),
            udf("kql_hasprefix", Boolean, false, strings::hasprefix),
            udf("kql_hasprefix_cs", Boolean, false, strings::hasprefix_cs),
            udf("kql_hassuffix", Boolean, false, strings::hassuffix),
            udf("kql_hassuffix_cs", Boolean, false, strings::hassuffix_cs),
            udf("kql_contains", Boolean, false, strings::contains),
            udf("kql_contains_cs", Boolean, false, strings::contains_cs),
            udf("kql_startswith", Boolean, false, strings::startswith),
            udf("kql_startswith_cs", Boolean, false, strings::startswith_cs),
            udf("kql_endswith", Boolean, false, strings::endswith),
            udf("kql_endswith_cs", Boolean, false, strings::endswith_cs),
            udf("kql_eq_ci", Boolean, false, strings::eq_ci),
            udf("kql_has_any", Boolean, false, strings::has_any),
            udf("kql_has_all", Boolean, false, strings::has_all),
            udf("kql_in_ci", Boolean, false, strings::in_ci),
            udf("kql_matches_regex", Boolean, false, strings::matches_regex),
            udf("kql_extract", Utf8, false, strings::extract),
            udf("kql_countof", Int64, false, strings::countof),
            udf("kql_indexof", Int64, false, strings::indexof),
            udf("kql_substring", Utf8, false, strings::substring),
            udf("kql_strlen", Int64, false, strings::strlen),
            udf("kql_tolower", Utf8, false, strings::tolower),
            udf("kql_toupper", Utf8, false, strings::toupper),
            udf("kql_isempty", Boolean, false, strings::isempty),
            udf("kql_split", Utf8, true, dynamic::split),
            udf("kql_dyn_mark", Utf8, true, dynamic::mark),
            udf("kql_parse_json", Utf8, true, dynamic::parse_json),
            udf("kql_dyn_get", Utf8, true, dynamic::dyn_get),
            udf("kql_dyn_tostring", Utf8, false, dynamic::dyn_tostring),
            udf("kql_dyn_tolong", Int64, false, dynamic::dyn_tolong),
            udf("kql_dyn_todouble", Float64, false, dynamic::dyn_todouble),
            udf("kql_dyn_tobool", Boolean, false, dynamic::dyn_tobool),
            udf("kql_dyn_isempty", Boolean, false, dynamic::dyn_isempty),
            udf("kql_array_length", Int64, false, dynamic::array_length),
            udf("kql_pack_array", Utf8, true, dynamic::pack_array),
            udf("kql_pack", Utf8, true, dynamic::pack),
            udf("kql_to_json", Utf8, false, dynamic::to_json),
            udf("kql_extractjson", Utf8, false, dynamic::extractjson),
            udf("kql_tostring", Utf8, false, misc::tostring),
            udf("kql_parse_url", Utf8, true, misc::parse_url),
            udf("kql_ipv4_is_private", Boolean, false, misc::ipv4_is_private),
            udf(
                "kql_bin_datetime",
                Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, Some("UTC".into())),
                false,
                misc::bin_datetime,
            ),
            udf("kql_replace_string", Utf8, false, more::replace_string),
            udf("kql_replace_regex", Utf8, false, more::replace_regex),
            udf("kql_replace_regex_r", Utf8, false, more::replace_regex_r),
            udf("kql_extract_all", Utf8, true, more::extract_all),
            udf("kql_strcat_array", Utf8, false, more::strcat_array),
            udf("kql_trim", Utf8, false, more::trim),
            udf("kql_trim_start", Utf8, false, more::trim_start),
            udf("kql_trim_end", Utf8, false, more::trim_end),
            udf("kql_round", Float64, false, more::round),
            udf("kql_reverse", Utf8, false, more::reverse),
            udf("kql_base64_encode", Utf8, false, more::base64_encode),
            udf("kql_base64_decode", Utf8, false, more::base64_decode),
            udf("kql_url_encode", Utf8, false, more::url_encode),
            udf("kql_url_decode", Utf8, false, more::url_decode),
            udf("kql_parse_path", Utf8, true, more::parse_path),
            udf("kql_format_bytes", Utf8, false, more::format_bytes),
            udf("kql_hash_sha256", Utf8, false, more::hash_sha256),
            udf("kql_hash_sha1", Utf8, false, more::hash_sha1),
            udf("kql_hash_md5", Utf8, false, more::hash_md5),
            udf("kql_format_datetime", Utf8, false, more::format_datetime),
            udf("kql_format_timespan", Utf8, false, more::format_timespan),
            udf("kql_datetime_diff", Int64, false, more::datetime_diff),
            udf(
                "kql_datetime_add",
                Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, Some("UTC".into())),
                false,
                more::datetime_add,
            ),
            udf("kql_datetime_part", Int64, false, more::datetime_part),
            udf(
                "kql_startofmonth",
                Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, Some("UTC".into())),
                false,
                more::startofmonth,
            ),
            udf(
                "kql_startofyear",
                Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, Some("UTC".into())),
                false,
                more::startofyear,
            ),
            udf(
                "kql_endofday",
                Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, Some("UTC".into())),
                false,
                more::endofday,
            ),
            udf(
                "kql_endofweek",
                Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, Some("UTC".into())),
                false,
                more::endofweek,
            ),
            udf(
                "kql_endofmonth",
                Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, Some("UTC".into())),
                false,
                more::endofmonth,
            ),
            udf(
                "kql_endofyear",
                Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, Some("UTC".into())),
                false,
                more::endofyear,
            ),
            udf("kql_hourofday", Int32, false, more::hourofday),
            udf("kql_getmonth", Int32, false, more::getmonth),
            udf("kql_getyear", Int32, false, more::getyear),
            udf("kql_dayofmonth", Int32, false, more::dayofmonth),
            udf("kql_dayofyear", Int32, false, more::dayofyear),
            udf(
                "kql_make_datetime",
                Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, Some("UTC".into())),
                false,
                more::make_datetime,
            ),
            udf(
                "kql_make_timespan",
                Duration(datafusion::arrow::datatypes::TimeUnit::Nanosecond),
                false,
                more::make_timespan,
            ),
            udf("kql_ipv4_is_in_range", Boolean, false, more::ipv4_is_in_range),
            udf("kql_ipv4_is_match", Boolean, false, more::ipv4_is_match),
            udf("kql_ipv4_compare", Int64, false, more::ipv4_compare),
            udf("kql_parse_ipv4", Int64, false, more::parse_ipv4),
            udf("kql_ipv6_compare", Int64, false, more::ipv6_compare),
            udf("kql_ipv6_is_match", Boolean, false, more::ipv6_is_match),
            udf("kql_array_sort_asc", Utf8, true, more::array_sort_asc),
            udf("kql_array_sort_desc", Utf8, true, more::array_sort_desc),
            udf("kql_array_concat", Utf8, true, more::array_concat),
            udf("kql_set_union", Utf8, true, more::set_union),
            udf("kql_set_intersect", Utf8, true, more::set_intersect),
            udf("kql_set_difference", Utf8, true, more::set_difference),
            udf("kql_bag_keys", Utf8, true, more::bag_keys),
            udf("kql_bag_merge", Utf8, true, more::bag_merge),
            udf("kql_zip", Utf8, true, more::zip),
            udf("kql_series_stats", Utf8, true, more::series_stats),
            udf("kql_parse_command_line", Utf8, true, cmdline::parse_command_line),
            udf("kql_series_decompose", Utf8, true, decompose::series_decompose),
            udf("kql_bag_remove_keys", Utf8, true, bags::bag_remove_keys),
            udf("kql_bag_drop_empty", Utf8, true, bags::bag_drop_empty),
            udf("kql_series_fit_line", Utf8, true, more::series_fit_line),
            udf("kql_mv_items", List(Arc::new(Field::new("item", Utf8, true))), false, more::mv_items),
            udf("kql_mv_index", List(Arc::new(Field::new("item", Utf8, true))), false, more::mv_index),
            udf("kql_bin_long", Int64, false, misc::bin_long),
            udf("kql_bin_real", Float64, false, misc::bin_real),
            udf(
                "kql_bin_timespan",
                Duration(datafusion::arrow::datatypes::TimeUnit::Nanosecond),
                false,
                misc::bin_timespan,
            ),
            udf(
                "kql_todatetime",
                Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, Some("UTC".into())),
                false,
                misc::todatetime,
            ),
        ];
        list.into_iter().map(|u| (u.name().to_string(), u)).collect()
    })
}

/// A call of the KQL UDF `name`. Names are fixed in this crate; an unknown
/// one is a bug, reported as an error rather than a panic.
pub fn call(name: &str, args: Vec<Expr>) -> Result<Expr> {
    match registry().get(name) {
        Some(u) => Ok(u.call(args)),
        None => datafusion::common::internal_err!("no KQL function {name}"),
    }
}

/// All scalar UDFs, to register in a `SessionContext` (for SQL or plan
/// serialisation; KQL plans reference them directly).
pub fn all_udfs() -> Vec<Arc<ScalarUDF>> {
    registry().values().cloned().collect()
}

// ---- argument access helpers -------------------------------------------------

/// A string argument: one value for all rows, or a column.
pub(crate) enum Strs {
    Scalar(Option<String>),
    Array(StringArray),
}

impl Strs {
    #[inline]
    pub fn at(&self, i: usize) -> Option<&str> {
        match self {
            Strs::Scalar(s) => s.as_deref(),
            Strs::Array(a) => {
                if a.is_null(i) {
                    None
                } else {
                    Some(a.value(i))
                }
            }
        }
    }
    pub fn scalar(&self) -> Option<Option<&str>> {
        match self {
            Strs::Scalar(s) => Some(s.as_deref()),
            Strs::Array(_) => None,
        }
    }
}

pub(crate) fn strs(cv: &ColumnarValue) -> Result<Strs> {
    Ok(match cv {
        ColumnarValue::Scalar(sv) => Strs::Scalar(match sv {
            ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) => s.clone(),
            v if v.is_null() => None,
            v => Some(v.to_string()),
        }),
        ColumnarValue::Array(a) => {
            let a: ArrayRef = if a.data_type() == &DataType::Utf8 { a.clone() } else { cast(a, &DataType::Utf8)? };
            Strs::Array(a.as_string::<i32>().clone())
        }
    })
}

/// An integer argument (cast to Int64).
pub(crate) enum Ints {
    Scalar(Option<i64>),
    Array(Int64Array),
}

impl Ints {
    #[inline]
    pub fn at(&self, i: usize) -> Option<i64> {
        match self {
            Ints::Scalar(s) => *s,
            Ints::Array(a) => {
                if a.is_null(i) {
                    None
                } else {
                    Some(a.value(i))
                }
            }
        }
    }
}

pub(crate) fn ints(cv: &ColumnarValue) -> Result<Ints> {
    Ok(match cv {
        ColumnarValue::Scalar(sv) => {
            if sv.is_null() {
                Ints::Scalar(None)
            } else {
                let v = sv.cast_to(&DataType::Int64)?;
                match v {
                    ScalarValue::Int64(x) => Ints::Scalar(x),
                    _ => return exec_err!("kql: expected an integer"),
                }
            }
        }
        ColumnarValue::Array(a) => {
            let a = cast(a, &DataType::Int64)?;
            Ints::Array(a.as_primitive::<datafusion::arrow::datatypes::Int64Type>().clone())
        }
    })
}

/// The argument at `i`, or an execution error naming the function.
pub(crate) fn arg<'a>(args: &'a [ColumnarValue], i: usize, f: &str) -> Result<&'a ColumnarValue> {
    match args.get(i) {
        Some(a) => Ok(a),
        None => exec_err!("kql: {f}: missing argument {}", i + 1),
    }
}

pub(crate) fn bools(n: usize, f: impl FnMut(usize) -> bool) -> ColumnarValue {
    let arr: BooleanArray = (0..n).map(f).map(Some).collect();
    ColumnarValue::Array(Arc::new(arr))
}

pub(crate) fn utf8s(n: usize, mut f: impl FnMut(usize) -> Option<String>) -> ColumnarValue {
    let arr: StringArray = (0..n).map(&mut f).collect();
    ColumnarValue::Array(Arc::new(arr))
}
