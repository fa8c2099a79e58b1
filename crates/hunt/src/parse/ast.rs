//! The syntax tree of a KQL query. Every node keeps the span of its text so
//! the planner can place its errors.
//!
//! Scalar and tabular expressions share one [`Expr`] type: whether
//! `Foo` is a table, a tabular `let` or a column is decided by the planner,
//! as in KQL itself.

use crate::error::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A whole query: `let` statements, then the tabular expression that is
/// the result.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub lets: Vec<Let>,
    pub body: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Let {
    pub name: Ident,
    pub value: LetValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LetValue {
    Expr(Expr),
    Function(FunctionDef),
}

/// `(a:string, T:(x:long)) { body }`
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    pub params: Vec<Param>,
    pub lets: Vec<Let>,
    pub body: Box<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub ty: ParamType,
    pub default: Option<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParamType {
    Scalar(Ident),
    /// A tabular parameter with the columns it needs; `(*)` needs none.
    Tabular(Vec<(Ident, Ident)>),
}

/// A scalar literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Long(i64),
    Real(f64),
    Str(String),
    /// Unix nanoseconds, UTC.
    DateTime(i64),
    /// Nanoseconds.
    Timespan(i64),
    Dynamic(serde_json::Value),
    /// A typed null: `int(null)`, `datetime(null)`.
    TypedNull(ScalarType),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarType {
    Bool,
    Int,
    Long,
    Real,
    String,
    DateTime,
    Timespan,
    Dynamic,
}

impl ScalarType {
    pub fn from_name(s: &str) -> Option<ScalarType> {
        Some(match s {
            "bool" | "boolean" => ScalarType::Bool,
            "int" | "int32" => ScalarType::Int,
            "long" | "int64" => ScalarType::Long,
            "real" | "double" | "float" | "decimal" => ScalarType::Real,
            "string" => ScalarType::String,
            "datetime" | "date" => ScalarType::DateTime,
            "timespan" | "time" => ScalarType::Timespan,
            "dynamic" => ScalarType::Dynamic,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    /// `=~`
    EqCi,
    /// `!~`
    NotEqCi,
    /// The string operators; `cs` = case-sensitive, `neg` = `!`-form.
    Str {
        op: StrOp,
        cs: bool,
        neg: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrOp {
    Has,
    HasPrefix,
    HasSuffix,
    Contains,
    StartsWith,
    EndsWith,
    MatchesRegex,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Ident(String),
    Lit(Lit),
    /// `*` as an argument: `arg_max(T, *)`, `count(*)`.
    Star,
    Neg(Box<Expr>),
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `x in (a, b)`, `x !in~ (T)`. The list may be one tabular expression.
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        neg: bool,
        ci: bool,
    },
    /// `x has_any (a, b)` / `has_all`; `cs` for `has_any_cs`-like forms.
    HasAny {
        expr: Box<Expr>,
        list: Vec<Expr>,
        all: bool,
    },
    /// `x between (lo .. hi)`.
    Between {
        expr: Box<Expr>,
        lo: Box<Expr>,
        hi: Box<Expr>,
        neg: bool,
    },
    Call {
        name: Ident,
        args: Vec<Expr>,
    },
    /// `x.name`
    Member {
        expr: Box<Expr>,
        name: Ident,
    },
    /// `x[i]`
    Index {
        expr: Box<Expr>,
        index: Box<Expr>,
    },
    /// `source | op | op ...`
    Pipe {
        source: Box<Expr>,
        ops: Vec<Operator>,
    },
    /// `datatable(a:string, b:long) [ "x", 1, ... ]`
    Datatable {
        columns: Vec<(Ident, Ident)>,
        values: Vec<Expr>,
    },
    /// `union A, B` as the start of a pipeline.
    Union {
        opts: Vec<(Ident, Expr)>,
        operands: Vec<Expr>,
    },
}

/// `Name = expr`, `(A, B) = expr`, or a bare `expr`.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedExpr {
    pub names: Vec<Ident>,
    pub expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    /// None: the operator's default (descending).
    pub asc: Option<bool>,
    pub nulls_first: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TopNestedLevel {
    pub n: Option<Expr>,
    pub of: NamedExpr,
    pub by: NamedExpr,
    pub asc: Option<bool>,
    pub with_others: Option<Expr>,
}

/// A column-name pattern: a name, or a name with `*` wildcards.
#[derive(Debug, Clone, PartialEq)]
pub struct NamePattern {
    pub pattern: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operator {
    pub kind: OpKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OpKind {
    Where(Expr),
    Project(Vec<NamedExpr>),
    Extend(Vec<NamedExpr>),
    ProjectAway(Vec<NamePattern>),
    ProjectKeep(Vec<NamePattern>),
    ProjectRename(Vec<(Ident, Ident)>),
    ProjectReorder(Vec<NamePattern>),
    Summarize {
        aggs: Vec<NamedExpr>,
        by: Vec<NamedExpr>,
    },
    Count,
    Take(Expr),
    Top {
        n: Expr,
        key: SortKey,
    },
    TopNested(Vec<TopNestedLevel>),
    Sort(Vec<SortKey>),
    /// `distinct *` is an empty list.
    Distinct(Vec<Expr>),
    Join {
        opts: Vec<(Ident, Expr)>,
        right: Expr,
        on: Vec<Expr>,
    },
    Lookup {
        opts: Vec<(Ident, Expr)>,
        right: Expr,
        on: Vec<Expr>,
    },
    Union {
        opts: Vec<(Ident, Expr)>,
        operands: Vec<Expr>,
    },
    Render {
        kind: Ident,
        props: Vec<(Ident, Expr)>,
    },
    Invoke(Expr),
    /// `as Name`
    As(Ident),
}
