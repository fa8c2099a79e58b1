//! The series functions returning several values (`series_stats`,
//! `series_fit_line`, `series_decompose`): their values and types, in order.

use super::types::KType;

/// The values a multi-value function returns, in order, with their types.
pub fn multi_fields(f: &str) -> Option<&'static [(&'static str, KType)]> {
    match f {
        "series_stats" => Some(&[
            ("min", KType::Real),
            ("min_idx", KType::Long),
            ("max", KType::Real),
            ("max_idx", KType::Long),
            ("avg", KType::Real),
            ("variance", KType::Real),
            ("stdev", KType::Real),
        ]),
        "series_fit_line" => Some(&[
            ("rsquare", KType::Real),
            ("slope", KType::Real),
            ("variance", KType::Real),
            ("rvariance", KType::Real),
            ("interception", KType::Real),
            ("line_fit", KType::Dynamic),
        ]),
        "series_decompose" => Some(&[
            ("baseline", KType::Dynamic),
            ("seasonal", KType::Dynamic),
            ("trend", KType::Dynamic),
            ("residual", KType::Dynamic),
        ]),
        _ => None,
    }
}
