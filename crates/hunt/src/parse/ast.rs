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
    /// Levels of the tree below and including this node (a leaf is 1):
    /// each operator of a chain (`a and b and c` is 3 deep), each `|`
    /// operator of a pipeline and each nesting is a level. Computed by
    /// [`Expr::new`] from the children, so the parser bounds it without
    /// walking the tree.
    pub depth: u32,
}

impl Expr {
    /// A node over `kind`, its depth computed from its children.
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        let depth = kind.depth();
        Expr { kind, span, depth }
    }
}

fn max_depth(list: &[Expr]) -> u32 {
    list.iter().map(|e| e.depth).max().unwrap_or(0)
}

impl ExprKind {
    /// The depth of a node of this kind: one more than its deepest child;
    /// a pipeline adds one level per operator.
    pub fn depth(&self) -> u32 {
        let below = match self {
            ExprKind::Ident(_) | ExprKind::Lit(_) | ExprKind::Star => 0,
            ExprKind::Neg(x) => x.depth,
            ExprKind::Binary { lhs, rhs, .. } => lhs.depth.max(rhs.depth),
            ExprKind::In { expr, list, .. } | ExprKind::HasAny { expr, list, .. } => expr.depth.max(max_depth(list)),
            ExprKind::Between { expr, lo, hi, .. } => expr.depth.max(lo.depth).max(hi.depth),
            ExprKind::Call { args, .. } => max_depth(args),
            ExprKind::Member { expr, .. } => expr.depth,
            ExprKind::Index { expr, index } => expr.depth.max(index.depth),
            ExprKind::Pipe { source, ops } => {
                let mut m = source.depth;
                for op in ops {
                    op.kind.for_each_expr(&mut |e| m = m.max(e.depth));
                }
                m.saturating_add(u32::try_from(ops.len()).unwrap_or(u32::MAX))
            }
            ExprKind::Datatable { values, .. } => max_depth(values),
            ExprKind::Print(items) => items.iter().map(|n| n.expr.depth).max().unwrap_or(0),
            ExprKind::Range { from, to, step, .. } => from.depth.max(to.depth).max(step.depth),
            ExprKind::Union { opts, operands } => {
                max_depth(operands).max(opts.iter().map(|(_, e)| e.depth).max().unwrap_or(0))
            }
        };
        below.saturating_add(1)
    }
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
    /// `print a = 1, "x"`: one row.
    Print(Vec<NamedExpr>),
    /// `range x from a to b step s`.
    Range {
        name: Ident,
        from: Box<Expr>,
        to: Box<Expr>,
        step: Box<Expr>,
    },
}

/// One column of `mv-expand`: `[Name =] expr [to typeof(T)]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MvItem {
    pub name: Option<Ident>,
    pub expr: Expr,
    pub to: Option<Ident>,
}

/// `parse` flavours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseKind {
    Simple,
    Regex,
    Relaxed,
}

/// One element of a `parse` pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseItem {
    /// `*`: skip anything.
    Star,
    /// A string constant (a regex with `kind=regex`).
    Lit(String),
    /// `Name [: type]`.
    Col(Ident, Option<Ident>),
}

/// One aggregate of `make-series`: `[Name =] agg(...) [default = v]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plugin {
    pub name: Ident,
    /// Positional arguments, in order.
    pub args: Vec<Expr>,
    /// `name = value` arguments.
    pub named: Vec<(Ident, Expr)>,
    /// `: ([*,] Name: type, ...)`: the output columns, `*` first keeping
    /// the input's.
    pub schema: Option<OutputSchema>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutputSchema {
    pub star: bool,
    pub columns: Vec<(Ident, Ident)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesAgg {
    pub agg: NamedExpr,
    pub default: Option<Expr>,
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
    /// `serialize [Name = expr, ...]`
    Serialize(Vec<NamedExpr>),
    /// `sample N`
    Sample(Expr),
    /// `top-hitters N of X [by Y]`
    TopHitters {
        n: Expr,
        of: Expr,
        by: Option<Expr>,
    },
    GetSchema,
    /// `mv-expand [kind=..] [with_itemindex=I] items [limit N]`
    MvExpand {
        opts: Vec<(Ident, Expr)>,
        items: Vec<MvItem>,
        limit: Option<Expr>,
    },
    /// `parse` / `parse-where` (`filter`).
    Parse {
        kind: ParseKind,
        flags: String,
        expr: Expr,
        items: Vec<ParseItem>,
        filter: bool,
    },
    /// `search [kind=case_sensitive] <predicate>` over the piped table;
    /// `true`: terms match case-sensitively.
    Search(Expr, bool),
    /// `evaluate plugin(args) [: (schema)]`
    Evaluate(Plugin),
    /// `mv-apply [with_itemindex=I] items [limit N] on (subquery)`
    MvApply {
        opts: Vec<(Ident, Expr)>,
        items: Vec<MvItem>,
        limit: Option<Expr>,
        ops: Vec<Operator>,
    },
    /// `make-series aggs on Axis [from a] [to b] step s [by ...]`
    MakeSeries {
        aggs: Vec<SeriesAgg>,
        on: Expr,
        from: Option<Expr>,
        to: Option<Expr>,
        step: Expr,
        by: Vec<NamedExpr>,
        /// `kind=nonempty`: an empty input still gives one row of defaults.
        nonempty: bool,
    },
}

impl OpKind {
    /// Calls `f` on each expression directly inside the operator.
    pub fn for_each_expr(&self, f: &mut dyn FnMut(&Expr)) {
        let named = |list: &[NamedExpr], f: &mut dyn FnMut(&Expr)| list.iter().for_each(|n| f(&n.expr));
        match self {
            OpKind::Where(e) | OpKind::Take(e) | OpKind::Invoke(e) => f(e),
            OpKind::Project(l) | OpKind::Extend(l) => named(l, f),
            OpKind::Summarize { aggs, by } => {
                named(aggs, f);
                named(by, f);
            }
            OpKind::Top { n, key } => {
                f(n);
                f(&key.expr);
            }
            OpKind::TopNested(levels) => {
                for l in levels {
                    if let Some(n) = &l.n {
                        f(n);
                    }
                    f(&l.of.expr);
                    f(&l.by.expr);
                    if let Some(w) = &l.with_others {
                        f(w);
                    }
                }
            }
            OpKind::Sort(keys) => keys.iter().for_each(|k| f(&k.expr)),
            OpKind::Distinct(l) => l.iter().for_each(&mut *f),
            OpKind::Join { opts, right, on } | OpKind::Lookup { opts, right, on } => {
                opts.iter().for_each(|(_, e)| f(e));
                f(right);
                on.iter().for_each(&mut *f);
            }
            OpKind::Union { opts, operands } => {
                opts.iter().for_each(|(_, e)| f(e));
                operands.iter().for_each(&mut *f);
            }
            OpKind::Render { props, .. } => props.iter().for_each(|(_, e)| f(e)),
            OpKind::Serialize(l) => named(l, f),
            OpKind::Sample(e) | OpKind::Search(e, _) => f(e),
            OpKind::Evaluate(p) => {
                p.args.iter().for_each(&mut *f);
                p.named.iter().for_each(|(_, e)| f(e));
            }
            OpKind::TopHitters { n, of, by } => {
                f(n);
                f(of);
                if let Some(b) = by {
                    f(b);
                }
            }
            OpKind::MvExpand { opts, items, limit } => {
                opts.iter().for_each(|(_, e)| f(e));
                items.iter().for_each(|i| f(&i.expr));
                if let Some(l) = limit {
                    f(l);
                }
            }
            OpKind::MvApply { opts, items, limit, ops } => {
                opts.iter().for_each(|(_, e)| f(e));
                items.iter().for_each(|i| f(&i.expr));
                if let Some(l) = limit {
                    f(l);
                }
                ops.iter().for_each(|o| o.kind.for_each_expr(f));
            }
            OpKind::Parse { expr, .. } => f(expr),
            OpKind::MakeSeries { aggs, on, from, to, step, by, .. } => {
                for a in aggs {
                    f(&a.agg.expr);
                    if let Some(d) = &a.default {
                        f(d);
                    }
                }
                f(on);
                for e in [from, to].into_iter().flatten() {
                    f(e);
                }
                f(step);
                named(by, f);
            }
            OpKind::GetSchema => {}
            OpKind::ProjectAway(_)
            | OpKind::ProjectKeep(_)
            | OpKind::ProjectRename(_)
            | OpKind::ProjectReorder(_)
            | OpKind::Count
            | OpKind::As(_) => {}
        }
    }
}
