//! The scalar functions of item 4 beyond the core table in [`super::expr`]:
//! each is a KQL UDF ([`crate::func::more`]) with its arguments converted
//! to the types it documents.

use super::types::{convert, to_json, to_str, ufn, KType, Typed};
use super::{Env, Planner};
use crate::error::{PResult, Span, SpannedError};
use crate::parse::ast::{Expr, Lit};
use datafusion::common::DFSchema;

/// How an argument is passed to the UDF.
#[derive(Clone, Copy)]
enum A {
    Str,
    Long,
    Real,
    Dt,
    Ts,
    Json,
}

/// name, UDF, argument kinds (the first `min` required), result type.
const TABLE: &[(&str, &str, &[A], usize, KType)] = &[
    ("replace_string", "kql_replace_string", &[A::Str, A::Str, A::Str], 3, KType::String),
    ("replace_regex", "kql_replace_regex", &[A::Str, A::Str, A::Str], 3, KType::String),
    ("replace", "kql_replace_regex_r", &[A::Str, A::Str, A::Str], 3, KType::String),
    // `extract_all(regex, [captureGroups,] source)`: the UDF tells the
    // forms apart by their number of arguments.
    ("extract_all", "kql_extract_all", &[A::Str, A::Str, A::Str], 2, KType::Dynamic),
    ("strcat_array", "kql_strcat_array", &[A::Json, A::Str], 2, KType::String),
    ("trim", "kql_trim", &[A::Str, A::Str], 2, KType::String),
    ("trim_start", "kql_trim_start", &[A::Str, A::Str], 2, KType::String),
    ("trim_end", "kql_trim_end", &[A::Str, A::Str], 2, KType::String),
    ("round", "kql_round", &[A::Real, A::Long], 1, KType::Real),
    ("reverse", "kql_reverse", &[A::Str], 1, KType::String),
    ("base64_encode_tostring", "kql_base64_encode", &[A::Str], 1, KType::String),
    ("base64_encodestring", "kql_base64_encode", &[A::Str], 1, KType::String),
    ("base64_decode_tostring", "kql_base64_decode", &[A::Str], 1, KType::String),
    ("base64_decodestring", "kql_base64_decode", &[A::Str], 1, KType::String),
    ("url_encode", "kql_url_encode", &[A::Str], 1, KType::String),
    ("url_encode_component", "kql_url_encode", &[A::Str], 1, KType::String),
    ("url_decode", "kql_url_decode", &[A::Str], 1, KType::String),
    ("parse_path", "kql_parse_path", &[A::Str], 1, KType::Dynamic),
    ("parse_command_line", "kql_parse_command_line", &[A::Str, A::Str], 2, KType::Dynamic),
    ("bag_remove_keys", "kql_bag_remove_keys", &[A::Json, A::Json], 2, KType::Dynamic),
    ("series_decompose", "kql_series_decompose", &[A::Json, A::Long, A::Str, A::Long], 1, KType::Dynamic),
    ("format_bytes", "kql_format_bytes", &[A::Real, A::Long, A::Str], 1, KType::String),
    ("hash_sha256", "kql_hash_sha256", &[A::Str], 1, KType::String),
    ("hash_sha1", "kql_hash_sha1", &[A::Str], 1, KType::String),
    ("hash_md5", "kql_hash_md5", &[A::Str], 1, KType::String),
    ("format_datetime", "kql_format_datetime", &[A::Dt, A::Str], 2, KType::String),
    ("format_timespan", "kql_format_timespan", &[A::Ts, A::Str], 2, KType::String),
    ("datetime_diff", "kql_datetime_diff", &[A::Str, A::Dt, A::Dt], 3, KType::Long),
    ("datetime_add", "kql_datetime_add", &[A::Str, A::Long, A::Dt], 3, KType::DateTime),
    ("datetime_part", "kql_datetime_part", &[A::Str, A::Dt], 2, KType::Long),
    ("datepart", "kql_datetime_part", &[A::Str, A::Dt], 2, KType::Long),
    ("startofmonth", "kql_startofmonth", &[A::Dt, A::Long], 1, KType::DateTime),
    ("startofyear", "kql_startofyear", &[A::Dt, A::Long], 1, KType::DateTime),
    ("endofday", "kql_endofday", &[A::Dt, A::Long], 1, KType::DateTime),
    ("endofweek", "kql_endofweek", &[A::Dt, A::Long], 1, KType::DateTime),
    ("endofmonth", "kql_endofmonth", &[A::Dt, A::Long], 1, KType::DateTime),
    ("endofyear", "kql_endofyear", &[A::Dt, A::Long], 1, KType::DateTime),
    ("hourofday", "kql_hourofday", &[A::Dt], 1, KType::Int),
    ("getmonth", "kql_getmonth", &[A::Dt], 1, KType::Int),
    ("monthofyear", "kql_getmonth", &[A::Dt], 1, KType::Int),
    ("getyear", "kql_getyear", &[A::Dt], 1, KType::Int),
    ("dayofmonth", "kql_dayofmonth", &[A::Dt], 1, KType::Int),
    ("dayofyear", "kql_dayofyear", &[A::Dt], 1, KType::Int),
    ("make_datetime", "kql_make_datetime", &[A::Long, A::Long, A::Long, A::Long, A::Long, A::Real], 3, KType::DateTime),
    ("make_timespan", "kql_make_timespan", &[A::Long, A::Long, A::Long, A::Real], 2, KType::Timespan),
    ("ipv4_is_in_range", "kql_ipv4_is_in_range", &[A::Str, A::Str], 2, KType::Bool),
    ("ipv4_is_match", "kql_ipv4_is_match", &[A::Str, A::Str, A::Long], 2, KType::Bool),
    ("ipv4_compare", "kql_ipv4_compare", &[A::Str, A::Str, A::Long], 2, KType::Long),
    ("parse_ipv4", "kql_parse_ipv4", &[A::Str], 1, KType::Long),
    ("ipv6_compare", "kql_ipv6_compare", &[A::Str, A::Str, A::Long], 2, KType::Long),
    ("ipv6_is_match", "kql_ipv6_is_match", &[A::Str, A::Str, A::Long], 2, KType::Bool),
    ("array_sort_asc", "kql_array_sort_asc", &[A::Json], 1, KType::Dynamic),
    ("array_sort_desc", "kql_array_sort_desc", &[A::Json], 1, KType::Dynamic),
    ("array_concat", "kql_array_concat", &[A::Json, A::Json, A::Json, A::Json], 1, KType::Dynamic),
    ("set_union", "kql_set_union", &[A::Json, A::Json, A::Json, A::Json], 2, KType::Dynamic),
    ("set_intersect", "kql_set_intersect", &[A::Json, A::Json, A::Json, A::Json], 2, KType::Dynamic),
    ("set_difference", "kql_set_difference", &[A::Json, A::Json, A::Json, A::Json], 2, KType::Dynamic),
    ("bag_keys", "kql_bag_keys", &[A::Json], 1, KType::Dynamic),
    ("bag_merge", "kql_bag_merge", &[A::Json, A::Json, A::Json, A::Json], 2, KType::Dynamic),
    ("zip", "kql_zip", &[A::Json, A::Json, A::Json, A::Json], 2, KType::Dynamic),
    ("series_stats_dynamic", "kql_series_stats", &[A::Json], 1, KType::Dynamic),
    ("series_stats", "kql_series_stats", &[A::Json], 1, KType::Dynamic),
    ("series_fit_line_dynamic", "kql_series_fit_line", &[A::Json], 1, KType::Dynamic),
    ("series_fit_line", "kql_series_fit_line", &[A::Json], 1, KType::Dynamic),
];

impl Planner<'_> {
    /// Plans `name(args)` when it is one of [`TABLE`]'s functions.
    pub fn call_more(
        &mut self,
        name: &str,
        args: &[Expr],
        env: &Env,
        schema: &DFSchema,
        span: Span,
    ) -> PResult<Option<Typed>> {
        if name == "geo_info_from_ip_address" {
            return Err(SpannedError::unsupported(
                "function `geo_info_from_ip_address` needs a MaxMind-format database, and none is configured",
                span,
            ));
        }
        if name == "parse_command_line" {
            if let Some(a) = args.get(1) {
                match self.const_value(a, env, schema) {
                    Some(Lit::Str(k)) if k.eq_ignore_ascii_case("windows") => {}
                    Some(_) => {
                        return Err(SpannedError::semantic(
                            "`parse_command_line`: the only parser is \"windows\"",
                            a.span,
                        ))
                    }
                    None => {}
                }
            }
        }
        if name == "series_decompose" {
            // Seasonality autodetection (Kusto's default) needs
            // `series_periods_detect`, which netward does not have.
            let season = args.get(1).map(|a| (self.const_value(a, env, schema), a.span));
            if !matches!(season, Some((Some(Lit::Long(p)), _)) if p >= 0) {
                return Err(SpannedError::unsupported(
                    "`series_decompose` with seasonality autodetection (-1, the default) is not supported; give the \
                     period in bins, or 0",
                    season.map_or(span, |(_, s)| s),
                ));
            }
            if args.get(4).is_some() {
                return Err(SpannedError::unsupported(
                    "`series_decompose`: a seasonality threshold is only for autodetection, which is not supported",
                    args[4].span,
                ));
            }
        }
        let Some((_, udf, kinds, min, ret)) = TABLE.iter().find(|(n, ..)| *n == name) else {
            return Ok(None);
        };
        if args.len() < *min || args.len() > kinds.len() {
            let want = if *min == kinds.len() { format!("{min}") } else { format!("{min} to {}", kinds.len()) };
            return Err(SpannedError::semantic(format!("`{name}` takes {want} arguments, got {}", args.len()), span));
        }
        let mut v = Vec::new();
        for (a, k) in args.iter().zip(kinds.iter()) {
            let t = self.scalar(a, env, schema)?;
            let sp = a.span;
            let e = match k {
                A::Str => to_str(t, sp)?,
                A::Json => to_json(t, sp)?,
                A::Long => convert(t, KType::Long, sp)?.expr,
                A::Real => convert(t, KType::Real, sp)?.expr,
                A::Dt if t.ty == KType::DateTime || t.ty == KType::Null => t.expr,
                A::Dt => convert(t, KType::DateTime, sp)?.expr,
                A::Ts if t.ty == KType::Timespan || t.ty == KType::Null => t.expr,
                A::Ts => {
                    return Err(SpannedError::semantic(format!("`{name}` needs a timespan, not {}", t.ty.name()), sp))
                }
            };
            v.push(e);
        }
        Ok(Some(Typed { expr: ufn(udf, v, span)?, ty: *ret }))
    }
}
