//! Scalar expressions: literals, columns, operators with KQL's type and
//! case rules, and the scalar function table.

use super::types::{convert, df_err, lit_typed, to_json, to_str, typed, ufn, KType, Typed};
use super::{Binding, Env, FnResult, Planner, DEFENDER_FUNCTIONS, NOT_COLLECTED_COLUMNS};
use crate::error::{PResult, Span, SpannedError};
use crate::parse::ast::{BinOp, Expr, ExprKind, Lit, StrOp};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Column, DFSchema, ScalarValue, Spans, UnnestOptions};
use datafusion::logical_expr::expr::{InList, InSubquery};
use datafusion::logical_expr::{cast, when, Expr as DfExpr, LogicalPlanBuilder, Operator, Subquery};
use datafusion::prelude::lit;
use serde_json::Value as J;
use std::sync::Arc;

/// The column `name` of `schema`, qualified as the schema has it.
pub fn find_column(schema: &DFSchema, name: &str) -> Option<DfExpr> {
    schema.iter().find(|(_, f)| f.name() == name).map(|(q, _)| DfExpr::Column(Column::new(q.cloned(), name)))
}

/// Aggregate function names: using one outside `summarize` is an error.
pub const AGGREGATES: &[&str] = &[
    "count",
    "countif",
    "dcount",
    "dcountif",
    "sum",
    "sumif",
    "avg",
    "avgif",
    "min",
    "max",
    "minif",
    "maxif",
    "make_set",
    "makeset",
    "make_list",
    "makelist",
    "make_set_if",
    "make_list_if",
    "arg_max",
    "arg_min",
    "any",
    "take_any",
    "percentile",
    "percentiles",
    "percentiles_array",
    "stdev",
    "variance",
    "stdevp",
    "variancep",
    "count_distinct",
    "make_bag",
    "hll",
    "tdigest",
];

fn binary(l: DfExpr, op: Operator, r: DfExpr) -> DfExpr {
    datafusion::logical_expr::binary_expr(l, op, r)
}

/// A JSON value as a literal of the closest KQL type (for `in` lists).
fn json_lit(v: &J) -> Lit {
    match v {
        J::Null => Lit::Null,
        J::Bool(b) => Lit::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Lit::Long(i),
            None => Lit::Real(n.as_f64().unwrap_or(0.0)),
        },
        J::String(s) => Lit::Str(s.clone()),
        other => Lit::Dynamic(other.clone()),
    }
}

/// A literal as a JSON value (for `pack_array` of constants, ...).
pub fn lit_json(l: &Lit) -> J {
    match l {
        Lit::Null | Lit::TypedNull(_) => J::Null,
        Lit::Bool(b) => J::Bool(*b),
        Lit::Long(v) => J::from(*v),
        Lit::Real(v) => serde_json::Number::from_f64(*v).map(J::Number).unwrap_or(J::Null),
        Lit::Str(s) => J::String(s.clone()),
        Lit::DateTime(ns) => J::String(crate::value::format_datetime(*ns)),
        Lit::Timespan(ns) => J::String(crate::value::format_timespan(*ns)),
        Lit::Dynamic(v) => v.clone(),
    }
}

impl Planner<'_> {
    /// Evaluates `e` at planning time when it is a constant (literals,
    /// scalar `let`s, `ago()`, `now()`, `pack_array` of constants, and
    /// datetime/timespan arithmetic). Columns are never constants.
    #[recursive::recursive]
    pub fn const_value(&self, e: &Expr, env: &Env, schema: &DFSchema) -> Option<Lit> {
        match &e.kind {
            ExprKind::Lit(l) => Some(l.clone()),
            ExprKind::Ident(name) => {
                if find_column(schema, name).is_some() {
                    return None;
                }
                match env.get(name)? {
                    Binding::Expr { expr, env, cache } => {
                        // Known once per binding: a chain of `let`s is walked once.
                        if let Some(k) = cache.konst.borrow().as_ref() {
                            return k.clone();
                        }
                        let k = self.const_value(expr, env, &DFSchema::empty());
                        *cache.konst.borrow_mut() = Some(k.clone());
                        k
                    }
                    Binding::Scalar(t) => match &t.expr {
                        DfExpr::Literal(sv, _) => scalar_lit(sv, t.ty),
                        _ => None,
                    },
                    _ => None,
                }
            }
            ExprKind::Neg(x) => match self.const_value(x, env, schema)? {
                Lit::Long(v) => Some(Lit::Long(v.checked_neg()?)),
                Lit::Real(v) => Some(Lit::Real(-v)),
                Lit::Timespan(v) => Some(Lit::Timespan(v.checked_neg()?)),
                _ => None,
            },
            ExprKind::Binary { op, lhs, rhs } => {
                let (a, b) = (self.const_value(lhs, env, schema)?, self.const_value(rhs, env, schema)?);
                fold_arith(*op, a, b)
            }
            ExprKind::Call { name, args } => self.const_call(&name.name, args, env, schema),
            _ => None,
        }
    }

    /// The constant value of a call to `name`, for the functions that
    /// have one (`ago`, `now`, `pack_array` of constants, `parse_json` of a
    /// constant).
    fn const_call(&self, name: &str, args: &[Expr], env: &Env, schema: &DFSchema) -> Option<Lit> {
        match (name, args) {
            ("ago", [x]) => match self.const_value(x, env, schema)? {
                Lit::Timespan(t) => Some(Lit::DateTime(self.now().checked_sub(t)?)),
                _ => None,
            },
            ("now", []) => Some(Lit::DateTime(self.now())),
            ("now", [x]) => match self.const_value(x, env, schema)? {
                Lit::Timespan(t) => Some(Lit::DateTime(self.now().checked_add(t)?)),
                _ => None,
            },
            ("pack_array", items) => {
                let vals: Option<Vec<J>> =
                    items.iter().map(|i| self.const_value(i, env, schema).map(|l| lit_json(&l))).collect();
                Some(Lit::Dynamic(J::Array(vals?)))
            }
            ("todynamic" | "parse_json", [x]) => match self.const_value(x, env, schema)? {
                Lit::Str(s) => Some(Lit::Dynamic(serde_json::from_str(&s).unwrap_or(J::String(s)))),
                d @ Lit::Dynamic(_) => Some(d),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Constant arithmetic: datetimes and timespans, longs (None on overflow
/// or for other types).
fn fold_arith(op: BinOp, a: Lit, b: Lit) -> Option<Lit> {
    match (op, a, b) {
        (BinOp::Add, Lit::DateTime(d), Lit::Timespan(t)) => Some(Lit::DateTime(d.checked_add(t)?)),
        (BinOp::Add, Lit::Timespan(t), Lit::DateTime(d)) => Some(Lit::DateTime(d.checked_add(t)?)),
        (BinOp::Sub, Lit::DateTime(d), Lit::Timespan(t)) => Some(Lit::DateTime(d.checked_sub(t)?)),
        (BinOp::Sub, Lit::DateTime(a), Lit::DateTime(b)) => Some(Lit::Timespan(a.checked_sub(b)?)),
        (BinOp::Add, Lit::Timespan(a), Lit::Timespan(b)) => Some(Lit::Timespan(a.checked_add(b)?)),
        (BinOp::Sub, Lit::Timespan(a), Lit::Timespan(b)) => Some(Lit::Timespan(a.checked_sub(b)?)),
        (BinOp::Mul, Lit::Timespan(a), Lit::Long(b)) | (BinOp::Mul, Lit::Long(b), Lit::Timespan(a)) => {
            Some(Lit::Timespan(a.checked_mul(b)?))
        }
        (BinOp::Add, Lit::Long(a), Lit::Long(b)) => Some(Lit::Long(a.checked_add(b)?)),
        (BinOp::Sub, Lit::Long(a), Lit::Long(b)) => Some(Lit::Long(a.checked_sub(b)?)),
        (BinOp::Mul, Lit::Long(a), Lit::Long(b)) => Some(Lit::Long(a.checked_mul(b)?)),
        _ => None,
    }
}

/// The literal a planned expression is, if it is one.
fn lit_of(t: &Typed) -> Option<Lit> {
    match &t.expr {
        DfExpr::Literal(sv, _) => scalar_lit(sv, t.ty),
        _ => None,
    }
}

/// The KQL type of `a op b` from the operands' types alone (DataFusion's
/// rules on typed nulls), so a chain of `+` is typed in one step per link
/// rather than by walking the whole expression below each one.
fn arith_type(a: KType, op: Operator, b: KType, span: Span) -> PResult<KType> {
    let shape = binary(super::types::null_of(a).expr, op, super::types::null_of(b).expr);
    super::types::type_of(&shape, &DFSchema::empty(), span)
}

impl Planner<'_> {
    /// Plans a scalar expression over rows of `schema`.
    #[recursive::recursive]
    pub fn scalar(&mut self, e: &Expr, env: &Env, schema: &DFSchema) -> PResult<Typed> {
        let span = e.span;
        self.tick(span)?;
        match &e.kind {
            ExprKind::Lit(l) => Ok(lit_typed(l)),
            ExprKind::Ident(name) => self.ident(name, span, env, schema),
            ExprKind::Star => Err(SpannedError::semantic("`*` is not a value here", span)),
            ExprKind::Neg(x) => {
                let t = self.scalar(x, env, schema)?;
                // Negation keeps the type (and DataFusion checks it).
                Ok(Typed { expr: DfExpr::Negative(Box::new(t.expr)), ty: t.ty })
            }
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, env, schema, span),
            ExprKind::In { expr, list, neg, ci } => self.in_list(expr, list, *neg, *ci, env, schema, span),
            ExprKind::HasAny { expr, list, all } => {
                let x = self.scalar(expr, env, schema)?;
                self.note_action_types(expr, list, env, schema);
                let mut args = vec![to_str(x, span)?];
                for item in self.expand_list(list, env, schema)? {
                    args.push(to_str(item, span)?);
                }
                if args.len() == 1 {
                    return Ok(Typed { expr: lit(*all), ty: KType::Bool });
                }
                let f = if *all { "kql_has_all" } else { "kql_has_any" };
                Ok(Typed { expr: ufn(f, args, span)?, ty: KType::Bool })
            }
            ExprKind::Between { expr, lo, hi, neg } => {
                let x = self.scalar(expr, env, schema)?;
                let lo = self.scalar(lo, env, schema)?;
                let mut hi = self.scalar(hi, env, schema)?;
                if lo.ty == KType::DateTime && hi.ty == KType::Timespan {
                    // `between (start .. duration)`
                    hi = Typed { expr: binary(lo.expr.clone(), Operator::Plus, hi.expr), ty: KType::DateTime };
                }
                let ge = self.compare(x.clone(), Operator::GtEq, lo, span)?;
                let le = self.compare(x, Operator::LtEq, hi, span)?;
                let both = ge.and(le);
                Ok(Typed { expr: if *neg { DfExpr::Not(Box::new(both)) } else { both }, ty: KType::Bool })
            }
            ExprKind::Call { name, args } => self.call(&name.name, name.span, args, env, schema, span),
            ExprKind::Member { .. } | ExprKind::Index { .. } => self.path(e, env, schema),
            ExprKind::Pipe { .. }
            | ExprKind::Datatable { .. }
            | ExprKind::Union { .. }
            | ExprKind::Print(_)
            | ExprKind::Range { .. } => {
                Err(SpannedError::semantic("a tabular expression cannot be used as a scalar", span))
            }
        }
    }

    fn ident(&mut self, name: &str, span: Span, env: &Env, schema: &DFSchema) -> PResult<Typed> {
        if let Some(c) = find_column(schema, name) {
            if super::catalog::never_filled(name) {
                self.notes.insert(format!("column `{name}` is never filled by netward on Linux: it reads empty"));
            }
            return typed(c, schema, span);
        }
        match env.get(name) {
            Some(Binding::Expr { expr, env: env2, cache }) => {
                let (expr, env2, cache) = (expr.clone(), env2.clone(), cache.clone());
                if self.is_tabular(&expr, &env2) {
                    return Err(SpannedError::semantic(format!("`{name}` is a table, not a scalar"), span));
                }
                // A scalar `let` is evaluated where it is used, but only
                // sees the names in scope where it was defined. Planned once
                // per row schema; each further use adds its size to the plan.
                let hit = cache
                    .scalars
                    .borrow()
                    .iter()
                    .find(|(s, _, _)| same_schema(s, schema))
                    .map(|(_, t, n)| (t.clone(), *n));
                if let Some((t, size)) = hit {
                    self.add_nodes(size, span)?;
                    return Ok(t);
                }
                *self.stats.let_bodies_planned.entry(cache.name.clone()).or_default() += 1;
                let before = self.stats.nodes;
                let t = self.scalar(&expr, &env2, schema)?;
                cache.scalars.borrow_mut().push((schema.clone(), t.clone(), self.stats.nodes - before));
                return Ok(t);
            }
            Some(Binding::Scalar(t)) => return Ok(t.clone()),
            Some(Binding::Plan(_)) => {
                return Err(SpannedError::semantic(format!("`{name}` is a table, not a scalar"), span))
            }
            Some(Binding::Function { .. }) => {
                return Err(SpannedError::semantic(format!("function `{name}` needs `()` to be called"), span))
            }
            None => {}
        }
        // Sentinel names the event time TimeGenerated; netward records one
        // time per event, Timestamp.
        if name == "TimeGenerated" {
            if let Some(c) = find_column(schema, "Timestamp") {
                return typed(c, schema, span);
            }
        }
        if NOT_COLLECTED_COLUMNS.contains(&name) {
            return Err(SpannedError::unsupported(format!("column `{name}` is not collected by netward"), span));
        }
        if self.is_tabular(&Expr::new(ExprKind::Ident(name.to_string()), span), env) {
            return Err(SpannedError::semantic(format!("`{name}` is a table, not a scalar"), span));
        }
        Err(SpannedError::semantic(format!("unknown column or variable `{name}`"), span))
    }

    /// `a.b["c"][0]`: dynamic access, planned as one `kql_dyn_get` call.
    fn path(&mut self, e: &Expr, env: &Env, schema: &DFSchema) -> PResult<Typed> {
        let mut steps = Vec::new();
        let mut cur = e;
        loop {
            match &cur.kind {
                ExprKind::Member { expr, name } => {
                    steps.push(lit(name.name.clone()));
                    cur = expr;
                }
                ExprKind::Index { expr, index } => {
                    let k = self.scalar(index, env, schema)?;
                    let k = match k.ty {
                        KType::Int | KType::Long => cast(k.expr, DataType::Int64),
                        KType::String => k.expr,
                        KType::Dynamic => to_str(k, index.span)?,
                        other => {
                            return Err(SpannedError::semantic(
                                format!("an index must be a number or a string, not {}", other.name()),
                                index.span,
                            ))
                        }
                    };
                    steps.push(k);
                    cur = expr;
                }
                _ => break,
            }
        }
        if let ExprKind::Ident(n) = &cur.kind {
            if n == "$left" || n == "$right" {
                return Err(SpannedError::semantic(format!("`{n}` is only valid in a join condition"), cur.span));
            }
        }
        let base = self.scalar(cur, env, schema)?;
        if base.ty != KType::Dynamic {
            return Err(SpannedError::semantic(
                format!("member access needs a dynamic value, not {} (use parse_json)", base.ty.name()),
                cur.span,
            ));
        }
        steps.reverse();
        let mut args = vec![base.expr];
        args.extend(steps);
        Ok(Typed { expr: ufn("kql_dyn_get", args, e.span)?, ty: KType::Dynamic })
    }

    /// Brings two operands of a comparison to comparable types: dynamic is
    /// compared as the other side's type (string, number, bool, datetime).
    fn unify_cmp(&self, a: Typed, b: Typed, span: Span) -> PResult<(Typed, Typed)> {
        use KType::*;
        Ok(match (a.ty, b.ty) {
            (x, y) if x == y => (a, b),
            (Null, _) | (_, Null) => (a, b),
            (Dynamic, t) => (convert(a, t, span)?, b),
            (t, Dynamic) => {
                let b = convert(b, t, span)?;
                (a, b)
            }
            (x, y) if x.is_numeric() && y.is_numeric() => (a, b),
            // `RemotePort == "3389"`: the string is read as a number of the
            // other side's type, as Kusto does (a string that is not one
            // compares as null: no row matches).
            (x, String) if x.is_numeric() => {
                let b = convert(b, KType::Real, span)?;
                (a, b)
            }
            (String, y) if y.is_numeric() => (convert(a, KType::Real, span)?, b),
            (x, y) => {
                return Err(SpannedError::semantic(format!("cannot compare {} with {}", x.name(), y.name()), span))
            }
        })
    }

    pub fn compare(&self, a: Typed, op: Operator, b: Typed, span: Span) -> PResult<DfExpr> {
        let (a, b) = self.unify_cmp(a, b, span)?;
        Ok(binary(a.expr, op, b.expr))
    }

    fn binary(
        &mut self,
        op: BinOp,
        lhs: &Expr,
        rhs: &Expr,
        env: &Env,
        schema: &DFSchema,
        span: Span,
    ) -> PResult<Typed> {
        let a = self.scalar(lhs, env, schema)?;
        let b = self.scalar(rhs, env, schema)?;
        self.note_action_types(lhs, std::slice::from_ref(rhs), env, schema);
        // Constant arithmetic folds (`ago(1d) - 2h`, `7d * 2`), bottom up:
        // the operands were folded already.
        if matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul) {
            if let Some(l) = lit_of(&a).zip(lit_of(&b)).and_then(|(x, y)| fold_arith(op, x, y)) {
                return Ok(lit_typed(&l));
            }
        }
        let bool_of = |t: Typed, sp: Span| -> PResult<DfExpr> {
            match t.ty {
                KType::Bool | KType::Null => Ok(t.expr),
                KType::Dynamic => Ok(convert(t, KType::Bool, sp)?.expr),
                other => Err(SpannedError::semantic(format!("expected a bool, found {}", other.name()), sp)),
            }
        };
        let cmp = |p: &Self, o: Operator, a: Typed, b: Typed| -> PResult<Typed> {
            Ok(Typed { expr: p.compare(a, o, b, span)?, ty: KType::Bool })
        };
        match op {
            BinOp::And => Ok(Typed { expr: bool_of(a, lhs.span)?.and(bool_of(b, rhs.span)?), ty: KType::Bool }),
            BinOp::Or => Ok(Typed { expr: bool_of(a, lhs.span)?.or(bool_of(b, rhs.span)?), ty: KType::Bool }),
            BinOp::Eq => cmp(self, Operator::Eq, a, b),
            BinOp::NotEq => cmp(self, Operator::NotEq, a, b),
            BinOp::Lt => cmp(self, Operator::Lt, a, b),
            BinOp::Le => cmp(self, Operator::LtEq, a, b),
            BinOp::Gt => cmp(self, Operator::Gt, a, b),
            BinOp::Ge => cmp(self, Operator::GtEq, a, b),
            BinOp::EqCi | BinOp::NotEqCi => {
                let e = ufn("kql_eq_ci", vec![to_str(a, span)?, to_str(b, span)?], span)?;
                Ok(Typed { expr: if op == BinOp::NotEqCi { DfExpr::Not(Box::new(e)) } else { e }, ty: KType::Bool })
            }
            BinOp::Str { op: sop, cs, neg } => {
                let name = match sop {
                    StrOp::Has => "has",
                    StrOp::HasPrefix => "hasprefix",
                    StrOp::HasSuffix => "hassuffix",
                    StrOp::Contains => "contains",
                    StrOp::StartsWith => "startswith",
                    StrOp::EndsWith => "endswith",
                    StrOp::MatchesRegex => "matches_regex",
                };
                let f = if cs && sop != StrOp::MatchesRegex { format!("kql_{name}_cs") } else { format!("kql_{name}") };
                let e = ufn(&f, vec![to_str(a, span)?, to_str(b, span)?], span)?;
                Ok(Typed { expr: if neg { DfExpr::Not(Box::new(e)) } else { e }, ty: KType::Bool })
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                use KType::*;
                let o = match op {
                    BinOp::Add => Operator::Plus,
                    BinOp::Sub => Operator::Minus,
                    BinOp::Mul => Operator::Multiply,
                    BinOp::Div => Operator::Divide,
                    _ => Operator::Modulo,
                };
                let ok = match (a.ty, b.ty) {
                    (x, y) if x.is_numeric() && y.is_numeric() => true,
                    (DateTime, Timespan) | (Timespan, DateTime) => {
                        matches!(op, BinOp::Add) || (a.ty == DateTime && op == BinOp::Sub)
                    }
                    (DateTime, DateTime) => op == BinOp::Sub,
                    (Timespan, Timespan) => matches!(op, BinOp::Add | BinOp::Sub),
                    (Null, _) | (_, Null) => true,
                    _ => false,
                };
                if !ok {
                    return Err(SpannedError::semantic(
                        format!("cannot apply `{}` to {} and {}", o, a.ty.name(), b.ty.name()),
                        span,
                    ));
                }
                // KQL divides integers as integers; so does DataFusion.
                let ty = arith_type(a.ty, o, b.ty, span)?;
                Ok(Typed { expr: binary(a.expr, o, b.expr), ty })
            }
        }
    }

    /// The elements of an `in`/`has_any` list: constant dynamic arrays
    /// are spread into their elements.
    fn expand_list(&mut self, list: &[Expr], env: &Env, schema: &DFSchema) -> PResult<Vec<Typed>> {
        let mut out = Vec::new();
        for item in list {
            match self.const_value(item, env, schema) {
                Some(Lit::Dynamic(J::Array(items))) => {
                    out.extend(items.iter().map(|v| lit_typed(&json_lit(v))));
                }
                Some(l) => out.push(lit_typed(&l)),
                None => {
                    if self.is_tabular(item, env) {
                        // The values of the table's first column, computed
                        // first (a probe) and spread into the list.
                        let order = self.order.take();
                        let plan = self.tabular(item, env);
                        self.order = order;
                        out.extend(self.table_values(plan?, item.span)?);
                        continue;
                    }
                    let t = self.scalar(item, env, schema)?;
                    if t.ty == KType::Dynamic {
                        return Err(SpannedError::unsupported(
                            "a non-constant dynamic array in a list is not supported",
                            item.span,
                        ));
                    }
                    out.push(t);
                }
            }
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn in_list(
        &mut self,
        x: &Expr,
        list: &[Expr],
        neg: bool,
        ci: bool,
        env: &Env,
        schema: &DFSchema,
        span: Span,
    ) -> PResult<Typed> {
        let xt = self.scalar(x, env, schema)?;
        self.note_action_types(x, list, env, schema);
        // `x in (T)`: the first column of a table.
        // In a `where`, as a subquery (no bound on the table's size);
        // elsewhere DataFusion cannot run one, so the values are computed
        // first (a probe) and compared as a list.
        if let [single] = list {
            if self.is_tabular(single, env) && self.in_where {
                return self.in_subquery(xt, single, neg, ci, env, span);
            }
        }
        let items = self.expand_list(list, env, schema)?;
        if ci {
            let mut args = vec![to_str(xt, span)?];
            for it in items {
                args.push(to_str(it, span)?);
            }
            let e = ufn("kql_in_ci", args, span)?;
            return Ok(Typed { expr: if neg { DfExpr::Not(Box::new(e)) } else { e }, ty: KType::Bool });
        }
        if items.is_empty() {
            return Ok(Typed { expr: lit(neg), ty: KType::Bool });
        }
        // Compare as strings when either side is a string or dynamic.
        let as_string =
            matches!(xt.ty, KType::String | KType::Dynamic) || items.iter().any(|i| matches!(i.ty, KType::String));
        let (xe, list): (DfExpr, Vec<DfExpr>) = if as_string {
            (to_str(xt, span)?, items.into_iter().map(|i| to_str(i, span)).collect::<PResult<_>>()?)
        } else {
            for i in &items {
                if !(i.ty == xt.ty || (i.ty.is_numeric() && xt.ty.is_numeric()) || i.ty == KType::Null) {
                    return Err(SpannedError::semantic(
                        format!("cannot compare {} with {} in `in`", xt.ty.name(), i.ty.name()),
                        span,
                    ));
                }
            }
            (xt.expr, items.into_iter().map(|i| i.expr).collect())
        };
        Ok(Typed { expr: DfExpr::InList(InList::new(Box::new(xe), list, neg)), ty: KType::Bool })
    }

    fn in_subquery(&mut self, xt: Typed, table: &Expr, neg: bool, ci: bool, env: &Env, span: Span) -> PResult<Typed> {
        let plan = self.tabular(table, env)?;
        let Some(field) = plan.schema().fields().first().cloned() else {
            return Err(SpannedError::semantic("the table in `in (...)` has no columns", table.span));
        };
        let (q, _) = plan.schema().qualified_field(0);
        let mut col = typed(DfExpr::Column(Column::new(q.cloned(), field.name())), plan.schema(), span)?;
        let mut plan = plan;
        // A dynamic column (`summarize make_set(X)`) is flattened, as Kusto
        // flattens `x in (dynamic([1,[2,3]]))` to `x in (1,2,3)`: each
        // element of each row's array is a value (a scalar is itself).
        if col.ty == KType::Dynamic {
            let items = ufn("kql_mv_items", vec![col.expr, lit(false), lit(i64::MAX)], span)?;
            plan = LogicalPlanBuilder::from(plan)
                .project(vec![items.alias("__in_items")])
                .and_then(|b| {
                    b.unnest_columns_with_options(
                        vec![Column::from_name("__in_items")],
                        UnnestOptions::new().with_preserve_nulls(false),
                    )
                })
                .and_then(|b| b.build())
                .map_err(|e| df_err(e, span))?;
            let raw = DfExpr::Column(Column::from_name("__in_items"));
            col = Typed { expr: ufn("kql_dyn_mark", vec![raw], span)?, ty: KType::Dynamic };
        }
        let (mut xe, mut ce) = if xt.ty == col.ty || (xt.ty.is_numeric() && col.ty.is_numeric()) {
            (xt.expr, col.expr)
        } else {
            (to_str(xt, span)?, to_str(col, span)?)
        };
        if ci {
            xe = ufn("kql_tolower", vec![to_str(Typed { expr: xe, ty: KType::String }, span)?], span)?;
            ce = ufn("kql_tolower", vec![to_str(Typed { expr: ce, ty: KType::String }, span)?], span)?;
        }
        // Nulls would make `!in` unknown for every row; KQL has no such rule.
        let sub = LogicalPlanBuilder::from(plan)
            .project(vec![ce.alias("__in")])
            .and_then(|b| b.filter(DfExpr::Column(Column::new_unqualified("__in")).is_not_null()))
            .and_then(|b| b.build())
            .map_err(|e| df_err(e, span))?;
        let subquery = Subquery { subquery: Arc::new(sub), outer_ref_columns: vec![], spans: Spans::new() };
        Ok(Typed { expr: DfExpr::InSubquery(InSubquery::new(Box::new(xe), subquery, neg)), ty: KType::Bool })
    }

    /// Notes the string constants compared with `ActionType` that netward
    /// never produces (SmartScreen, firewall events, ...).
    fn note_action_types(&mut self, x: &Expr, others: &[Expr], env: &Env, schema: &DFSchema) {
        if !matches!(&x.kind, ExprKind::Ident(n) if n == "ActionType") || find_column(schema, "ActionType").is_none() {
            return;
        }
        let mut vals = Vec::new();
        for o in others {
            match self.const_value(o, env, schema) {
                Some(Lit::Str(v)) => vals.push(v),
                Some(Lit::Dynamic(J::Array(items))) => {
                    vals.extend(items.iter().filter_map(|i| i.as_str().map(str::to_string)))
                }
                _ => {}
            }
        }
        for v in vals {
            if !super::catalog::produced_action_type(&v) {
                self.notes.insert(format!("ActionType `{v}` is never produced by netward: no row has it"));
            }
        }
    }

    fn args(&mut self, args: &[Expr], env: &Env, schema: &DFSchema) -> PResult<Vec<Typed>> {
        args.iter().map(|a| self.scalar(a, env, schema)).collect()
    }

    /// A scalar function call.
    fn call(
        &mut self,
        name: &str,
        name_span: Span,
        args: &[Expr],
        env: &Env,
        schema: &DFSchema,
        span: Span,
    ) -> PResult<Typed> {
        // User functions shadow built-ins.
        if let Some(Binding::Function { def, env: fenv, .. }) = env.get(name) {
            let (def, fenv) = (def.clone(), fenv.clone());
            return match self.call_function(&def, &fenv, args, env, None, Some(schema), span)? {
                FnResult::Scalar(t) => Ok(t),
                FnResult::Table(_) => {
                    Err(SpannedError::semantic(format!("function `{name}` returns a table"), name_span))
                }
            };
        }
        if let Some(l) = self.const_call(name, args, env, schema) {
            return Ok(lit_typed(&l));
        }
        let arity = |lo: usize, hi: usize| -> PResult<()> {
            if args.len() < lo || args.len() > hi {
                let want = if lo == hi { format!("{lo}") } else { format!("{lo} to {hi}") };
                return Err(SpannedError::semantic(
                    format!("`{name}` takes {want} arguments, got {}", args.len()),
                    span,
                ));
            }
            Ok(())
        };
        let boolean = |e: DfExpr| Ok(Typed { expr: e, ty: KType::Bool });
        if name == "toscalar" {
            arity(1, 1)?;
            if !self.is_tabular(&args[0], env) {
                return self.scalar(&args[0], env, schema);
            }
            // The subquery's row order is its own.
            let order = self.order.take();
            let plan = self.tabular(&args[0], env);
            self.order = order;
            return self.toscalar(plan?, span);
        }
        if super::window::WINDOW_FUNCTIONS.contains(&name) {
            let consts = args.iter().map(|a| self.const_value(a, env, schema)).collect();
            let planned = match name {
                "prev" | "next" => args.iter().take(1).map(|a| self.scalar(a, env, schema)).collect::<PResult<_>>()?,
                "row_cumsum" => self.args(args, env, schema)?,
                _ => Vec::new(),
            };
            return self.window_call(name, planned, consts, schema, span);
        }
        if let Some(t) = self.call_more(name, args, env, schema, span)? {
            return Ok(t);
        }
        match name {
            "ago" => {
                arity(1, 1)?;
                let t = self.scalar(&args[0], env, schema)?;
                let now = lit_typed(&Lit::DateTime(self.now()));
                let ty = arith_type(KType::DateTime, Operator::Minus, t.ty, span)?;
                Ok(Typed { expr: binary(now.expr, Operator::Minus, t.expr), ty })
            }
            "now" => {
                arity(0, 1)?;
                let now = lit_typed(&Lit::DateTime(self.now()));
                if let Some(a) = args.first() {
                    let t = self.scalar(a, env, schema)?;
                    let ty = arith_type(KType::DateTime, Operator::Plus, t.ty, span)?;
                    return Ok(Typed { expr: binary(now.expr, Operator::Plus, t.expr), ty });
                }
                Ok(now)
            }
            "tostring" => {
                arity(1, 1)?;
                let t = self.scalar(&args[0], env, schema)?;
                Ok(Typed { expr: to_str(t, span)?, ty: KType::String })
            }
            "toint" | "tolong" | "todouble" | "toreal" | "tobool" | "toboolean" | "todatetime" | "totimespan"
            | "todecimal" => {
                arity(1, 1)?;
                let t = self.scalar(&args[0], env, schema)?;
                let target = match name {
                    "toint" => KType::Int,
                    "tolong" => KType::Long,
                    "todouble" | "toreal" | "todecimal" => KType::Real,
                    "tobool" | "toboolean" => KType::Bool,
                    "todatetime" => KType::DateTime,
                    _ => KType::Timespan,
                };
                if target == KType::Timespan && t.ty != KType::Timespan {
                    return Err(SpannedError::unsupported("totimespan of a non-timespan is not supported", span));
                }
                convert(t, target, span)
            }
            "todynamic" | "parse_json" => {
                arity(1, 1)?;
                let t = self.scalar(&args[0], env, schema)?;
                Ok(match t.ty {
                    KType::Dynamic => t,
                    KType::String => Typed { expr: ufn("kql_parse_json", vec![t.expr], span)?, ty: KType::Dynamic },
                    _ => Typed { expr: to_json(t, span)?, ty: KType::Dynamic },
                })
            }
            "parse_url" => {
                arity(1, 1)?;
                let t = self.scalar(&args[0], env, schema)?;
                Ok(Typed { expr: ufn("kql_parse_url", vec![to_str(t, span)?], span)?, ty: KType::Dynamic })
            }
            "split" => {
                arity(2, 3)?;
                let a = self.args(args, env, schema)?;
                let mut it = a.into_iter();
                let (s, d) = (it.next(), it.next());
                let (Some(s), Some(d)) = (s, d) else {
                    return Err(SpannedError::semantic("split needs 2 arguments", span));
                };
                let mut v = vec![to_str(s, span)?, to_str(d, span)?];
                if let Some(i) = it.next() {
                    v.push(cast(i.expr, DataType::Int64));
                }
                Ok(Typed { expr: ufn("kql_split", v, span)?, ty: KType::Dynamic })
            }
            "strcat" => {
                if args.is_empty() {
                    return Ok(lit_typed(&Lit::Str(String::new())));
                }
                let mut parts = Vec::new();
                for t in self.args(args, env, schema)? {
                    parts.push(to_str(t, span)?);
                }
                Ok(Typed { expr: datafusion::functions::string::expr_fn::concat(parts), ty: KType::String })
            }
            "strcat_delim" => {
                arity(2, 64)?;
                let mut parts = Vec::new();
                for t in self.args(args, env, schema)? {
                    parts.push(to_str(t, span)?);
                }
                let delim = parts.remove(0);
                Ok(Typed { expr: datafusion::functions::string::expr_fn::concat_ws(delim, parts), ty: KType::String })
            }
            "tolower" | "toupper" | "strlen" | "isempty" | "isnotempty" => {
                arity(1, 1)?;
                let t = self.scalar(&args[0], env, schema)?;
                match name {
                    "tolower" => {
                        Ok(Typed { expr: ufn("kql_tolower", vec![to_str(t, span)?], span)?, ty: KType::String })
                    }
                    "toupper" => {
                        Ok(Typed { expr: ufn("kql_toupper", vec![to_str(t, span)?], span)?, ty: KType::String })
                    }
                    "strlen" => Ok(Typed { expr: ufn("kql_strlen", vec![to_str(t, span)?], span)?, ty: KType::Long }),
                    _ => {
                        let e = match t.ty {
                            KType::String => ufn("kql_isempty", vec![t.expr], span)?,
                            KType::Dynamic => ufn("kql_dyn_isempty", vec![t.expr], span)?,
                            _ => t.expr.is_null(),
                        };
                        boolean(if name == "isnotempty" { DfExpr::Not(Box::new(e)) } else { e })
                    }
                }
            }
            "isnull" | "isnotnull" => {
                arity(1, 1)?;
                let t = self.scalar(&args[0], env, schema)?;
                boolean(if name == "isnull" { t.expr.is_null() } else { t.expr.is_not_null() })
            }
            "string_size" => {
                arity(1, 1)?;
                let t = self.scalar(&args[0], env, schema)?;
                let e = datafusion::functions::string::expr_fn::octet_length(to_str(t, span)?);
                Ok(Typed { expr: cast(e, DataType::Int64), ty: KType::Long })
            }
            "substring" => {
                arity(2, 3)?;
                let a = self.args(args, env, schema)?;
                let mut v = Vec::new();
                for (i, t) in a.into_iter().enumerate() {
                    v.push(if i == 0 { to_str(t, span)? } else { cast(t.expr, DataType::Int64) });
                }
                Ok(Typed { expr: ufn("kql_substring", v, span)?, ty: KType::String })
            }
            "indexof" => {
                arity(2, 5)?;
                let a = self.args(args, env, schema)?;
                let mut v = Vec::new();
                for (i, t) in a.into_iter().enumerate() {
                    v.push(if i < 2 { to_str(t, span)? } else { cast(t.expr, DataType::Int64) });
                }
                Ok(Typed { expr: ufn("kql_indexof", v, span)?, ty: KType::Long })
            }
            "extract" => {
                if args.len() == 4 {
                    return Err(SpannedError::unsupported("`extract` with a result type is not supported", span));
                }
                arity(3, 3)?;
                let a = self.args(args, env, schema)?;
                let mut it = a.into_iter();
                let (Some(r), Some(g), Some(t)) = (it.next(), it.next(), it.next()) else { unreachable_args(span)? };
                let e =
                    ufn("kql_extract", vec![to_str(r, span)?, cast(g.expr, DataType::Int64), to_str(t, span)?], span)?;
                Ok(Typed { expr: e, ty: KType::String })
            }
            "extractjson" | "extract_json" => {
                if args.len() == 3 {
                    return Err(SpannedError::unsupported("`extractjson` with a result type is not supported", span));
                }
                arity(2, 2)?;
                let a = self.args(args, env, schema)?;
                let mut it = a.into_iter();
                let (Some(p), Some(j)) = (it.next(), it.next()) else { unreachable_args(span)? };
                Ok(Typed {
                    expr: ufn("kql_extractjson", vec![to_str(p, span)?, to_json_text(j, span)?], span)?,
                    ty: KType::String,
                })
            }
            "countof" => {
                arity(2, 3)?;
                let a = self.args(args, env, schema)?;
                let v = a.into_iter().map(|t| to_str(t, span)).collect::<PResult<Vec<_>>>()?;
                Ok(Typed { expr: ufn("kql_countof", v, span)?, ty: KType::Long })
            }
            "iff" | "iif" => {
                arity(3, 3)?;
                let a = self.args(args, env, schema)?;
                self.case(a, span)
            }
            "case" => {
                if args.len() < 3 || args.len() % 2 == 0 {
                    return Err(SpannedError::semantic("`case` takes condition/value pairs and an else value", span));
                }
                let a = self.args(args, env, schema)?;
                self.case(a, span)
            }
            "coalesce" => {
                arity(1, 64)?;
                let a = self.args(args, env, schema)?;
                let ty = unify_types(&a, span)?;
                let vals: Vec<Typed> = a.into_iter().map(|t| convert(t, ty, span)).collect::<PResult<_>>()?;
                if ty == KType::String {
                    // For strings KQL's coalesce skips empty values too.
                    let mut it = vals.into_iter().rev();
                    let Some(mut acc) = it.next().map(|t| t.expr) else { unreachable_args(span)? };
                    for v in it {
                        let empty = ufn("kql_isempty", vec![v.expr.clone()], span)?;
                        acc = when(DfExpr::Not(Box::new(empty)), v.expr).otherwise(acc).map_err(|e| df_err(e, span))?;
                    }
                    return Ok(Typed { expr: acc, ty });
                }
                let e = datafusion::functions::core::expr_fn::coalesce(vals.into_iter().map(|t| t.expr).collect());
                Ok(Typed { expr: e, ty })
            }
            "not" => {
                arity(1, 1)?;
                let t = self.scalar(&args[0], env, schema)?;
                let t = convert(t, KType::Bool, span)?;
                boolean(DfExpr::Not(Box::new(t.expr)))
            }
            "ipv4_is_private" => {
                arity(1, 1)?;
                let t = self.scalar(&args[0], env, schema)?;
                boolean(ufn("kql_ipv4_is_private", vec![to_str(t, span)?], span)?)
            }
            "array_length" => {
                arity(1, 1)?;
                let t = self.scalar(&args[0], env, schema)?;
                if t.ty != KType::Dynamic {
                    return Err(SpannedError::semantic("`array_length` needs a dynamic value", span));
                }
                Ok(Typed { expr: ufn("kql_array_length", vec![t.expr], span)?, ty: KType::Long })
            }
            "pack_array" => {
                let a = self.args(args, env, schema)?;
                let v = a.into_iter().map(|t| to_json(t, span)).collect::<PResult<Vec<_>>>()?;
                if v.is_empty() {
                    return Ok(lit_typed(&Lit::Dynamic(J::Array(vec![]))));
                }
                Ok(Typed { expr: ufn("kql_pack_array", v, span)?, ty: KType::Dynamic })
            }
            "pack_all" => {
                // A bag of the row's columns, by name (`pack_all(true)`
                // leaves out null and empty values).
                arity(0, 1)?;
                let skip_empty = match args.first() {
                    None => false,
                    Some(a) => match self.const_value(a, env, schema) {
                        Some(Lit::Bool(b)) => b,
                        _ => return Err(SpannedError::semantic("`pack_all` takes a constant bool", a.span)),
                    },
                };
                let mut v = Vec::new();
                for (q, f) in schema.iter() {
                    if f.name().starts_with("__") {
                        continue;
                    }
                    let c = Typed { expr: DfExpr::Column(Column::new(q.cloned(), f.name())), ty: KType::of_field(f) };
                    v.push(lit(f.name().clone()));
                    v.push(to_json(c, span)?);
                }
                if v.is_empty() {
                    return Ok(lit_typed(&Lit::Dynamic(J::Object(Default::default()))));
                }
                let bag = ufn("kql_pack", v, span)?;
                let bag = if skip_empty { ufn("kql_bag_drop_empty", vec![bag], span)? } else { bag };
                Ok(Typed { expr: bag, ty: KType::Dynamic })
            }
            "pack" | "bag_pack" | "pack_dictionary" => {
                if args.len() % 2 != 0 {
                    return Err(SpannedError::semantic(format!("`{name}` takes key/value pairs"), span));
                }
                let a = self.args(args, env, schema)?;
                let mut v = Vec::new();
                for (i, t) in a.into_iter().enumerate() {
                    v.push(if i % 2 == 0 { to_str(t, span)? } else { to_json(t, span)? });
                }
                if v.is_empty() {
                    return Ok(lit_typed(&Lit::Dynamic(J::Object(Default::default()))));
                }
                Ok(Typed { expr: ufn("kql_pack", v, span)?, ty: KType::Dynamic })
            }
            "bin" | "floor" => {
                arity(2, 2)?;
                let x = self.scalar(&args[0], env, schema)?;
                let size = self.scalar(&args[1], env, schema)?;
                self.bin(x, size, span)
            }
            "startofday" => {
                arity(1, 1)?;
                let x = self.scalar(&args[0], env, schema)?;
                self.bin(x, lit_typed(&Lit::Timespan(86_400_000_000_000)), span)
            }
            "startofweek" => {
                // Weeks start on Sunday: one day before the Monday-aligned
                // 7-day bin of (t + 1d).
                arity(1, 1)?;
                let x = self.scalar(&args[0], env, schema)?;
                if x.ty != KType::DateTime {
                    return Err(SpannedError::semantic("`startofweek` needs a datetime", span));
                }
                let day = lit_typed(&Lit::Timespan(86_400_000_000_000));
                let shifted = Typed { expr: binary(x.expr, Operator::Plus, day.expr.clone()), ty: KType::DateTime };
                let b = self.bin(shifted, lit_typed(&Lit::Timespan(7 * 86_400_000_000_000)), span)?;
                Ok(Typed { expr: binary(b.expr, Operator::Minus, day.expr), ty: KType::DateTime })
            }
            "dayofweek" => {
                arity(1, 1)?;
                if self.scalar(&args[0], env, schema)?.ty != KType::DateTime {
                    return Err(SpannedError::semantic("`dayofweek` needs a datetime", span));
                }
                // Whole days since the preceding Sunday's midnight.
                let sod = self.call("startofday", name_span, args, env, schema, span)?;
                let sow = self.call("startofweek", name_span, args, env, schema, span)?;
                Ok(Typed { expr: binary(sod.expr, Operator::Minus, sow.expr), ty: KType::Timespan })
            }
            "ingestion_time" => Err(SpannedError::unsupported(
                "`ingestion_time()` is not supported: netward's store does not record when it took each row",
                name_span,
            )),
            n if AGGREGATES.contains(&n) => Err(SpannedError::semantic(
                format!("aggregate function `{n}` is only allowed in `summarize`"),
                name_span,
            )),
            n if DEFENDER_FUNCTIONS.contains(&n) => Err(SpannedError::unsupported(
                format!("function `{n}` is Defender-only; netward does not provide it"),
                name_span,
            )),
            n => Err(SpannedError::unsupported(format!("function `{n}` is not supported"), name_span)),
        }
    }

    /// `iff`/`case`: conditions and values alternate, the last is the else.
    fn case(&mut self, a: Vec<Typed>, span: Span) -> PResult<Typed> {
        let mut conds = Vec::new();
        let mut vals = Vec::new();
        let n = a.len();
        for (i, t) in a.into_iter().enumerate() {
            if i % 2 == 0 && i + 1 < n {
                conds.push(convert(t, KType::Bool, span)?.expr);
            } else {
                vals.push(t);
            }
        }
        let ty = unify_types(&vals, span)?;
        let vals: Vec<DfExpr> =
            vals.into_iter().map(|t| convert(t, ty, span).map(|t| t.expr)).collect::<PResult<_>>()?;
        let mut vit = vals.into_iter();
        let mut cit = conds.into_iter();
        let (Some(c0), Some(v0)) = (cit.next(), vit.next()) else { unreachable_args(span)? };
        let mut b = when(c0, v0);
        let mut rest: Vec<DfExpr> = vit.collect();
        let otherwise = rest.pop();
        for (c, v) in cit.zip(rest) {
            b = b.when(c, v);
        }
        let Some(otherwise) = otherwise else { unreachable_args(span)? };
        let e = b.otherwise(otherwise).map_err(|e| df_err(e, span))?;
        let e = if ty == KType::Dynamic { ufn("kql_dyn_mark", vec![e], span)? } else { e };
        Ok(Typed { expr: e, ty })
    }

    fn bin(&mut self, x: Typed, size: Typed, span: Span) -> PResult<Typed> {
        use KType::*;
        let (f, ty) = match (x.ty, size.ty) {
            (DateTime, Timespan) => ("kql_bin_datetime", DateTime),
            (Timespan, Timespan) => ("kql_bin_timespan", Timespan),
            (Int | Long, Int | Long) => ("kql_bin_long", Long),
            (a, b) if a.is_numeric() && b.is_numeric() => ("kql_bin_real", Real),
            (a, b) => return Err(SpannedError::semantic(format!("cannot bin {} by {}", a.name(), b.name()), span)),
        };
        Ok(Typed { expr: ufn(f, vec![x.expr, size.expr], span)?, ty })
    }
}

/// JSON text for `extractjson`: a string column holds JSON text already.
fn to_json_text(t: Typed, span: Span) -> PResult<DfExpr> {
    match t.ty {
        KType::String | KType::Dynamic => Ok(t.expr),
        _ => to_json(t, span),
    }
}

fn unreachable_args<T>(span: Span) -> PResult<T> {
    Err(SpannedError::semantic("wrong number of arguments", span))
}

/// The common type of `iff`/`case`/`coalesce` values: equal types, numbers
/// widened, and a dynamic value mixed with a string taken as a string.
pub fn unify_types(vals: &[Typed], span: Span) -> PResult<KType> {
    use KType::*;
    let mut ty = Null;
    for v in vals {
        ty = match (ty, v.ty) {
            (Null, t) | (t, Null) => t,
            (a, b) if a == b => a,
            (Real, b) | (b, Real) if b.is_numeric() => Real,
            (Long, Int) | (Int, Long) => Long,
            (Dynamic, String) | (String, Dynamic) => String,
            (Dynamic, t) | (t, Dynamic) => t,
            (a, b) => {
                return Err(SpannedError::semantic(
                    format!("values of different types: {} and {}", a.name(), b.name()),
                    span,
                ))
            }
        };
    }
    Ok(if ty == Null { String } else { ty })
}

fn scalar_lit(sv: &ScalarValue, ty: KType) -> Option<Lit> {
    Some(match (sv, ty) {
        (ScalarValue::Utf8(Some(s)), KType::Dynamic) => Lit::Dynamic(serde_json::from_str(s).ok()?),
        (ScalarValue::Utf8(Some(s)), _) => Lit::Str(s.clone()),
        (ScalarValue::Int64(Some(v)), _) => Lit::Long(*v),
        (ScalarValue::Int32(Some(v)), _) => Lit::Long(*v as i64),
        (ScalarValue::Float64(Some(v)), _) => Lit::Real(*v),
        (ScalarValue::Boolean(Some(v)), _) => Lit::Bool(*v),
        (ScalarValue::TimestampNanosecond(Some(v), _), _) => Lit::DateTime(*v),
        (ScalarValue::DurationNanosecond(Some(v)), _) => Lit::Timespan(*v),
        _ => return None,
    })
}

/// Whether two row schemas are the same (a scalar `let` planned over one
/// can be reused over the other).
fn same_schema(a: &DFSchema, b: &DFSchema) -> bool {
    a == b
}
