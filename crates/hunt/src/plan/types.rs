//! KQL types of planned expressions, read from DataFusion fields (data type
//! plus the `kql_type` metadata that marks dynamic columns), and the
//! conversions the planner inserts between them.

use crate::error::{PResult, Span, SpannedError};
use crate::func::{call, KQL_TYPE};
use crate::parse::ast::Lit;
use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};
use datafusion::common::metadata::FieldMetadata;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::{cast, try_cast, Expr, ExprSchemable};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KType {
    Bool,
    Int,
    Long,
    Real,
    String,
    DateTime,
    Timespan,
    Dynamic,
    /// An untyped null literal.
    Null,
}

impl KType {
    pub fn of_field(f: &Field) -> KType {
        let dynamic = f.metadata().get(KQL_TYPE).is_some_and(|t| t == "dynamic");
        match f.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View if dynamic => KType::Dynamic,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => KType::String,
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => KType::Int,
            DataType::Int64 | DataType::UInt32 | DataType::UInt64 => KType::Long,
            DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::Decimal128(..) => KType::Real,
            DataType::Boolean => KType::Bool,
            DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => KType::DateTime,
            DataType::Duration(_) | DataType::Interval(_) => KType::Timespan,
            DataType::Null => KType::Null,
            _ => KType::String,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KType::Bool => "bool",
            KType::Int => "int",
            KType::Long => "long",
            KType::Real => "real",
            KType::String => "string",
            KType::DateTime => "datetime",
            KType::Timespan => "timespan",
            KType::Dynamic => "dynamic",
            KType::Null => "null",
        }
    }

    pub fn arrow(self) -> DataType {
        match self {
            KType::Bool => DataType::Boolean,
            KType::Int => DataType::Int32,
            KType::Long => DataType::Int64,
            KType::Real => DataType::Float64,
            KType::String | KType::Dynamic => DataType::Utf8,
            KType::DateTime => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            KType::Timespan => DataType::Duration(TimeUnit::Nanosecond),
            KType::Null => DataType::Null,
        }
    }

    pub fn from_type_name(s: &str) -> Option<KType> {
        use crate::parse::ast::ScalarType as S;
        Some(match S::from_name(s)? {
            S::Bool => KType::Bool,
            S::Int => KType::Int,
            S::Long => KType::Long,
            S::Real => KType::Real,
            S::String => KType::String,
            S::DateTime => KType::DateTime,
            S::Timespan => KType::Timespan,
            S::Dynamic => KType::Dynamic,
        })
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, KType::Int | KType::Long | KType::Real)
    }

    /// Field metadata recording this type.
    pub fn metadata(self) -> FieldMetadata {
        FieldMetadata::from(BTreeMap::from([(KQL_TYPE.to_string(), self.name().to_string())]))
    }
}

/// A planned scalar expression and its KQL type.
#[derive(Debug, Clone)]
pub struct Typed {
    pub expr: Expr,
    pub ty: KType,
}

/// The KQL type of `expr` over `schema`.
pub fn type_of(expr: &Expr, schema: &DFSchema, span: Span) -> PResult<KType> {
    match expr.to_field(schema) {
        Ok((_, f)) => Ok(KType::of_field(&f)),
        Err(e) => Err(df_err(e, span)),
    }
}

pub fn typed(expr: Expr, schema: &DFSchema, span: Span) -> PResult<Typed> {
    let ty = type_of(&expr, schema, span)?;
    Ok(Typed { expr, ty })
}

/// A DataFusion error, placed at `span`, in netward's words: DataFusion's
/// own text (its stage prefixes, its internal names) never reaches the
/// user; the operator it arose in is named on the way out.
pub fn df_err(e: datafusion::error::DataFusionError, span: Span) -> SpannedError {
    SpannedError::engine(engine_reason(&e), span)
}

/// What an engine error means for the query, without the engine's text.
pub fn engine_reason(e: &datafusion::error::DataFusionError) -> String {
    use datafusion::common::SchemaError;
    use datafusion::error::DataFusionError as D;
    match e.find_root() {
        D::SchemaError(se, _) => match se.as_ref() {
            SchemaError::FieldNotFound { field, .. } => format!("unknown column `{}`", field.name()),
            SchemaError::AmbiguousReference { field } => format!("ambiguous column `{}`", field.name()),
            SchemaError::DuplicateQualifiedField { name, .. } | SchemaError::DuplicateUnqualifiedField { name } => {
                format!("duplicate column `{name}`")
            }
        },
        D::ResourcesExhausted(_) => "the query needs more memory than its limit".to_string(),
        D::ArrowError(ae, _) => match ae.as_ref() {
            datafusion::arrow::error::ArrowError::DivideByZero => "division by zero".to_string(),
            datafusion::arrow::error::ArrowError::CastError(_) => {
                "a value cannot be converted to the type needed here".to_string()
            }
            _ => "a value does not fit this operation".to_string(),
        },
        D::Plan(m) | D::Execution(m) => match m.strip_prefix(crate::func::KQL_ERROR) {
            // Raised by netward's own functions, in KQL's words.
            Some(ours) => ours.to_string(),
            None if m.contains("type") || m.contains("coerc") || m.contains("Cannot") => {
                "the operands' types do not fit this operation".to_string()
            }
            None => "this cannot be planned as written".to_string(),
        },
        D::NotImplemented(_) => "this combination is not supported".to_string(),
        _ => "this cannot be planned as written".to_string(),
    }
}

pub fn ufn(name: &str, args: Vec<Expr>, span: Span) -> PResult<Expr> {
    call(name, args).map_err(|e| df_err(e, span))
}

/// A literal as a typed expression.
pub fn lit_typed(l: &Lit) -> Typed {
    let (sv, ty) = match l {
        Lit::Null => (ScalarValue::Null, KType::Null),
        Lit::Bool(b) => (ScalarValue::Boolean(Some(*b)), KType::Bool),
        Lit::Long(v) => (ScalarValue::Int64(Some(*v)), KType::Long),
        Lit::Real(v) => (ScalarValue::Float64(Some(*v)), KType::Real),
        Lit::Str(s) => (ScalarValue::Utf8(Some(s.clone())), KType::String),
        Lit::DateTime(ns) => (ScalarValue::TimestampNanosecond(Some(*ns), Some("UTC".into())), KType::DateTime),
        Lit::Timespan(ns) => (ScalarValue::DurationNanosecond(Some(*ns)), KType::Timespan),
        Lit::Dynamic(v) => (crate::func::dynamic::json_scalar(v), KType::Dynamic),
        Lit::TypedNull(t) => {
            let k = KType::from_type_name(match t {
                crate::parse::ast::ScalarType::Bool => "bool",
                crate::parse::ast::ScalarType::Int => "int",
                crate::parse::ast::ScalarType::Long => "long",
                crate::parse::ast::ScalarType::Real => "real",
                crate::parse::ast::ScalarType::String => "string",
                crate::parse::ast::ScalarType::DateTime => "datetime",
                crate::parse::ast::ScalarType::Timespan => "timespan",
                crate::parse::ast::ScalarType::Dynamic => "dynamic",
            })
            .unwrap_or(KType::Null);
            (ScalarValue::try_from(&k.arrow()).unwrap_or(ScalarValue::Null), k)
        }
    };
    let meta = if ty == KType::Dynamic { Some(ty.metadata()) } else { None };
    Typed { expr: Expr::Literal(sv, meta), ty }
}

/// A typed null of `ty`.
pub fn null_of(ty: KType) -> Typed {
    let sv = ScalarValue::try_from(&ty.arrow()).unwrap_or(ScalarValue::Null);
    let meta = if ty == KType::Dynamic { Some(ty.metadata()) } else { None };
    Typed { expr: Expr::Literal(sv, meta), ty }
}

/// `tostring(x)` with KQL's rules, for any type.
pub fn to_str(t: Typed, span: Span) -> PResult<Expr> {
    Ok(match t.ty {
        KType::String => t.expr,
        KType::Dynamic => ufn("kql_dyn_tostring", vec![t.expr], span)?,
        _ => ufn("kql_tostring", vec![t.expr], span)?,
    })
}

/// The JSON text of `x` (a dynamic value).
pub fn to_json(t: Typed, span: Span) -> PResult<Expr> {
    Ok(match t.ty {
        KType::Dynamic => t.expr,
        _ => ufn("kql_to_json", vec![t.expr], span)?,
    })
}

/// Converts `t` to `target` as KQL's `to<type>()` functions do: failures
/// give null.
pub fn convert(t: Typed, target: KType, span: Span) -> PResult<Typed> {
    if t.ty == target {
        return Ok(t);
    }
    let expr = match (t.ty, target) {
        (_, KType::String) => to_str(t, span)?,
        (_, KType::Dynamic) => to_json(t, span)?,
        (KType::Dynamic, KType::Long) => ufn("kql_dyn_tolong", vec![t.expr], span)?,
        (KType::Dynamic, KType::Int) => cast(ufn("kql_dyn_tolong", vec![t.expr], span)?, DataType::Int32),
        (KType::Dynamic, KType::Real) => ufn("kql_dyn_todouble", vec![t.expr], span)?,
        (KType::Dynamic, KType::Bool) => ufn("kql_dyn_tobool", vec![t.expr], span)?,
        (KType::Dynamic, KType::DateTime) => {
            ufn("kql_todatetime", vec![ufn("kql_dyn_tostring", vec![t.expr], span)?], span)?
        }
        (KType::String, KType::DateTime) => ufn("kql_todatetime", vec![t.expr], span)?,
        (KType::String, KType::Bool) => {
            // "true"/"false" in any case; anything else null.
            try_cast(ufn("kql_tolower", vec![t.expr], span)?, DataType::Boolean)
        }
        (KType::Real, KType::Int | KType::Long) => {
            // KQL truncates toward zero, as the cast does.
            try_cast(t.expr, target.arrow())
        }
        (_, other) => try_cast(t.expr, other.arrow()),
    };
    Ok(Typed { expr, ty: target })
}
