//! The operators of everyday hunting queries beyond the core ones:
//! `print`, `range`, `getschema`, `serialize`, `sample`, `top-hitters`,
//! `mv-expand`, `parse`/`parse-where` and `search`.

use super::ops::{expr_name, fresh_name};
use super::types::{convert, df_err, to_json, to_str, typed, ufn, KType, Typed};
use super::{Env, Planner};
use crate::error::{PResult, Span, SpannedError};
use crate::parse::ast::{BinOp, Expr, ExprKind, Ident, Lit, MvItem, NamedExpr, ParseItem, ParseKind};
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{Column, DFSchema, UnnestOptions};
use datafusion::logical_expr::{Expr as DfExpr, LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::lit;
use std::collections::HashSet;
use std::sync::Arc;

/// Most rows `range` makes (it builds them while planning).
pub const MAX_RANGE_ROWS: usize = 10_000_000;

impl Planner<'_> {
    /// A constant table: columns with their KQL types, and their values.
    pub fn const_table(&self, cols: Vec<(String, KType)>, arrays: Vec<ArrayRef>, span: Span) -> PResult<LogicalPlan> {
        let fields: Vec<Field> = cols
            .iter()
            .map(|(n, k)| {
                let md = [(crate::func::KQL_TYPE.to_string(), k.name().to_string())].into_iter().collect();
                Field::new(n, k.arrow(), true).with_metadata(md)
            })
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| df_err(e.into(), span))?;
        let table =
            datafusion::datasource::MemTable::try_new(schema, vec![vec![batch]]).map_err(|e| df_err(e, span))?;
        LogicalPlanBuilder::scan("const", datafusion::datasource::provider_as_source(Arc::new(table)), None)
            .and_then(|b| b.build())
            .map_err(|e| df_err(e, span))
    }

    /// `print a = 1, "x"`: one row; unnamed values are `print_0`, `print_1`, ...
    #[inline(never)]
    pub fn print(&mut self, items: &[NamedExpr], env: &Env, span: Span) -> PResult<LogicalPlan> {
        let one = LogicalPlan::EmptyRelation(datafusion::logical_expr::EmptyRelation {
            produce_one_row: true,
            schema: Arc::new(DFSchema::empty()),
        });
        let empty = DFSchema::empty();
        let mut cols = Vec::new();
        let mut used = HashSet::new();
        for (i, ne) in items.iter().enumerate() {
            let t = self.scalar(&ne.expr, env, &empty)?;
            let t = if t.ty == KType::Null { super::types::null_of(KType::String) } else { t };
            let name = match ne.names.as_slice() {
                [] => format!("print_{i}"),
                [n] => n.name.clone(),
                _ => return Err(SpannedError::semantic("`print` takes one name per value", ne.expr.span)),
            };
            if !used.insert(name.clone()) {
                return Err(SpannedError::semantic(format!("duplicate column `{name}`"), ne.expr.span));
            }
            cols.push((t, name));
        }
        let mut exprs: Vec<DfExpr> = cols.iter().map(|(t, _)| t.expr.clone()).collect();
        let one = self.windowed(one, &mut exprs, span)?;
        let cols = cols.into_iter().zip(exprs).map(|((t, n), e)| (Typed { expr: e, ty: t.ty }, n)).collect();
        self.project(one, cols, span)
    }

    /// `range x from a to b step s`: constant bounds, at most
    /// [`MAX_RANGE_ROWS`] rows, `b` included when reached.
    #[inline(never)]
    pub fn range(
        &mut self,
        name: &Ident,
        from: &Expr,
        to: &Expr,
        step: &Expr,
        env: &Env,
        span: Span,
    ) -> PResult<LogicalPlan> {
        use datafusion::arrow::array::{DurationNanosecondArray, Float64Array, Int64Array, TimestampNanosecondArray};
        let empty = DFSchema::empty();
        let konst = |p: &mut Self, e: &Expr| match p.const_value(e, env, &empty) {
            Some(l) => Ok(l),
            None => match p.constant(e, env)? {
                Lit::Null => Err(SpannedError::semantic("`range` needs constant bounds and step", e.span)),
                l => Ok(l),
            },
        };
        let (a, b, s) = (konst(self, from)?, konst(self, to)?, konst(self, step)?);
        let too_many = || SpannedError::semantic(format!("`range` would make more than {MAX_RANGE_ROWS} rows"), span);
        let count = |a: f64, b: f64, s: f64| -> PResult<usize> {
            if s == 0.0 || !s.is_finite() {
                return Err(SpannedError::semantic("`range` needs a step other than zero", step.span));
            }
            let n = ((b - a) / s).floor();
            if n < 0.0 {
                return Ok(0);
            }
            if n >= MAX_RANGE_ROWS as f64 {
                return Err(too_many());
            }
            Ok(n as usize + 1)
        };
        let ints = |a: i64, b: i64, s: i64| -> PResult<Vec<i64>> {
            if s == 0 {
                return Err(SpannedError::semantic("`range` needs a step other than zero", step.span));
            }
            let n = count(a as f64, b as f64, s as f64)?;
            Ok((0..n as i64)
                .map_while(|i| a.checked_add(i.checked_mul(s)?))
                .filter(|v| if s > 0 { *v <= b } else { *v >= b })
                .collect())
        };
        let (ty, arr): (KType, ArrayRef) = match (a, b, s) {
            (Lit::Long(a), Lit::Long(b), Lit::Long(s)) => (KType::Long, Arc::new(Int64Array::from(ints(a, b, s)?))),
            (Lit::DateTime(a), Lit::DateTime(b), Lit::Timespan(s)) => {
                (KType::DateTime, Arc::new(TimestampNanosecondArray::from(ints(a, b, s)?).with_timezone("UTC")))
            }
            (Lit::Timespan(a), Lit::Timespan(b), Lit::Timespan(s)) => {
                (KType::Timespan, Arc::new(DurationNanosecondArray::from(ints(a, b, s)?)))
            }
            (a, b, s) => {
                let f = |l: &Lit| match l {
                    Lit::Long(v) => Some(*v as f64),
                    Lit::Real(v) => Some(*v),
                    _ => None,
                };
                let (Some(a), Some(b), Some(s)) = (f(&a), f(&b), f(&s)) else {
                    return Err(SpannedError::semantic(
                        "`range` takes numbers, datetimes with a timespan step, or timespans",
                        span,
                    ));
                };
                let n = count(a, b, s)?;
                (KType::Real, Arc::new(Float64Array::from((0..n).map(|i| a + i as f64 * s).collect::<Vec<_>>())))
            }
        };
        self.const_table(vec![(name.name.clone(), ty)], vec![arr], span)
    }

    /// `getschema`: one row per column, as Kusto describes them.
    #[inline(never)]
    pub fn getschema(&self, plan: &LogicalPlan, span: Span) -> PResult<LogicalPlan> {
        use datafusion::arrow::array::{Int32Array, StringArray};
        let mut names = Vec::new();
        let mut dotnet = Vec::new();
        let mut kql = Vec::new();
        for f in plan.schema().fields() {
            let k = KType::of_field(f);
            names.push(f.name().clone());
            dotnet.push(match k {
                KType::Bool => "System.SByte",
                KType::Int => "System.Int32",
                KType::Long => "System.Int64",
                KType::Real => "System.Double",
                KType::String | KType::Null => "System.String",
                KType::DateTime => "System.DateTime",
                KType::Timespan => "System.TimeSpan",
                KType::Dynamic => "System.Object",
            });
            kql.push(if k == KType::Null { "string" } else { k.name() });
        }
        let ords: Vec<i32> = (0..names.len() as i32).collect();
        self.const_table(
            vec![
                ("ColumnName".into(), KType::String),
                ("ColumnOrdinal".into(), KType::Int),
                ("DataType".into(), KType::String),
                ("ColumnType".into(), KType::String),
            ],
            vec![
                Arc::new(StringArray::from(names)),
                Arc::new(Int32Array::from(ords)),
                Arc::new(StringArray::from(dotnet)),
                Arc::new(StringArray::from(kql)),
            ],
            span,
        )
    }

    /// `extend`/`serialize` items: each computed over the row so far, window
    /// functions included, replacing a column of the same name in place.
    #[inline(never)]
    pub fn extend_items(
        &mut self,
        mut plan: LogicalPlan,
        items: &[NamedExpr],
        env: &Env,
        span: Span,
    ) -> PResult<LogicalPlan> {
        for ne in items {
            let schema = plan.schema().clone();
            if let Some(p) = self.extend_multi(&plan, ne, env, span)? {
                plan = p;
                continue;
            }
            let t = self.scalar(&ne.expr, env, &schema)?;
            let mut cols = self.columns(&plan, span)?;
            let used: HashSet<String> = cols.iter().map(|(_, n)| n.clone()).collect();
            let name =
                match ne.names.as_slice() {
                    [] => expr_name(&ne.expr).unwrap_or_else(|| fresh_name(&used)),
                    [n] => n.name.clone(),
                    _ => return Err(SpannedError::semantic(
                        "several names need a function returning several values (series_stats, series_fit_line, ...)",
                        ne.expr.span,
                    )),
                };
            let mut e = [t.expr];
            plan = self.windowed(plan, &mut e, span)?;
            let [expr] = e;
            let t = Typed { expr, ty: t.ty };
            match cols.iter_mut().find(|(_, n)| *n == name) {
                Some(slot) => slot.0 = t,
                None => cols.push((t, name)),
            }
            plan = self.project(plan, cols, span)?;
        }
        Ok(plan)
    }

    /// `extend (a, b) = f(x)` / `extend f(x)` for the functions that return
    /// several values (a bag, split into columns). `None`: not one of them.
    pub fn extend_multi(
        &mut self,
        plan: &LogicalPlan,
        ne: &NamedExpr,
        env: &Env,
        span: Span,
    ) -> PResult<Option<LogicalPlan>> {
        let ExprKind::Call { name, args } = &ne.expr.kind else { return Ok(None) };
        let Some(fields) = super::series::multi_fields(&name.name) else { return Ok(None) };
        if ne.names.len() == 1 {
            return Ok(None);
        }
        let schema = plan.schema().clone();
        let bag = self.scalar(&ne.expr, env, &schema)?;
        let arg_name = args.first().and_then(expr_name).unwrap_or_default();
        if ne.names.len() > fields.len() {
            return Err(SpannedError::semantic(
                format!("`{}` returns {} values, not {}", name.name, fields.len(), ne.names.len()),
                ne.expr.span,
            ));
        }
        let mut cols = self.columns(plan, span)?;
        for (i, (field, ty)) in fields.iter().enumerate() {
            let out = match ne.names.get(i) {
                Some(n) => n.name.clone(),
                None if ne.names.is_empty() => format!("{}_{arg_name}_{field}", name.name),
                None => break,
            };
            let v = Typed { expr: ufn("kql_dyn_get", vec![bag.expr.clone(), lit(*field)], span)?, ty: KType::Dynamic };
            let v = if *ty == KType::Dynamic { v } else { convert(v, *ty, span)? };
            match cols.iter_mut().find(|(_, n)| *n == out) {
                Some(slot) => slot.0 = v,
                None => cols.push((v, out)),
            }
        }
        Ok(Some(self.project(plan.clone(), cols, span)?))
    }

    /// `sample N`: N rows chosen at random.
    pub fn sample(&mut self, plan: LogicalPlan, n: usize, span: Span) -> PResult<LogicalPlan> {
        let r = datafusion::functions::math::expr_fn::random();
        LogicalPlanBuilder::from(plan)
            .sort(vec![r.sort(true, false)])
            .and_then(|b| b.limit(0, Some(n)))
            .and_then(|b| b.build())
            .map_err(|e| df_err(e, span))
    }

    /// `top-hitters N of X [by Y]`: the N values of X with the most rows
    /// (`approximate_count_X`), or the largest sum of Y
    /// (`approximate_sum_Y`). Counted exactly.
    #[inline(never)]
    pub fn top_hitters(
        &mut self,
        plan: LogicalPlan,
        n: usize,
        of: &Expr,
        by: Option<&Expr>,
        env: &Env,
        span: Span,
    ) -> PResult<LogicalPlan> {
        let of_name = expr_name(of).unwrap_or_else(|| "Column1".into());
        let (agg, agg_name) = match by {
            None => (call("count", vec![], of.span), format!("approximate_count_{of_name}")),
            Some(y) => {
                let y_name = expr_name(y).unwrap_or_else(|| "Column1".into());
                (call("sum", vec![y.clone()], y.span), format!("approximate_sum_{y_name}"))
            }
        };
        let aggs = [NamedExpr { names: vec![Ident { name: agg_name.clone(), span }], expr: agg }];
        let byl = [NamedExpr { names: vec![Ident { name: of_name, span }], expr: of.clone() }];
        let p = self.summarize(plan, &aggs, &byl, env, span)?;
        let key = DfExpr::Column(Column::new_unqualified(agg_name)).sort(false, false);
        self.order = Some(vec![key.clone()]);
        LogicalPlanBuilder::from(p)
            .sort_with_limit(vec![key], Some(n))
            .and_then(|b| b.build())
            .map_err(|e| df_err(e, span))
    }

    /// `mv-expand`: each element of the arrays (or bags) in its own row;
    /// several columns expand side by side, the shorter padded with nulls.
    #[inline(never)]
    pub fn mv_expand(
        &mut self,
        plan: LogicalPlan,
        opts: &[(Ident, Expr)],
        items: &[MvItem],
        limit: Option<&Expr>,
        env: &Env,
        span: Span,
    ) -> PResult<LogicalPlan> {
        let mut bag_as_array = false;
        let mut index_col: Option<String> = None;
        for (k, v) in opts {
            let text = match &v.kind {
                ExprKind::Ident(s) | ExprKind::Lit(Lit::Str(s)) => s.clone(),
                _ => String::new(),
            };
            match (k.name.as_str(), text.as_str()) {
                ("kind" | "bagexpansion", "bag") => bag_as_array = false,
                ("kind" | "bagexpansion", "array") => bag_as_array = true,
                ("with_itemindex" | "itemindex", n) if !n.is_empty() => index_col = Some(n.to_string()),
                (h, _) if h.starts_with("hint.") => {}
                (other, _) => {
                    return Err(SpannedError::semantic(format!("`mv-expand`: unknown option `{other}={text}`"), k.span))
                }
            }
        }
        let limit = match limit {
            None => i64::MAX,
            Some(l) => match self.const_value(l, env, plan.schema()) {
                Some(Lit::Long(n)) if n >= 0 => n,
                _ => return Err(SpannedError::semantic("`mv-expand`: the limit must be a constant ≥ 0", l.span)),
            },
        };
        let schema = plan.schema().clone();
        let mut cols = self.columns(&plan, span)?;
        let mut expanded: Vec<(String, Option<KType>, usize)> = Vec::new();
        let mut json_args = vec![lit(limit)];
        for (i, it) in items.iter().enumerate() {
            let t = self.scalar(&it.expr, env, &schema)?;
            let j = match t.ty {
                KType::Dynamic => t.expr,
                KType::String => ufn("kql_parse_json", vec![t.expr], it.expr.span)?,
                _ => to_json(t, it.expr.span)?,
            };
            let name = match &it.name {
                Some(n) => n.name.clone(),
                None => expr_name(&it.expr).unwrap_or_else(|| format!("Column{}", i + 1)),
            };
            let to = match &it.to {
                None => None,
                Some(ty) => Some(
                    KType::from_type_name(&ty.name)
                        .ok_or_else(|| SpannedError::semantic(format!("unknown type `{}`", ty.name), ty.span))?,
                ),
            };
            let items_expr = ufn("kql_mv_items", vec![j.clone(), lit(bag_as_array), lit(limit)], it.expr.span)?;
            json_args.push(j);
            cols.push((Typed { expr: items_expr, ty: KType::String }, format!("__mv{i}")));
            expanded.push((name, to, i));
        }
        if index_col.is_some() {
            cols.push((Typed { expr: ufn("kql_mv_index", json_args, span)?, ty: KType::String }, "__mvidx".into()));
        }
        let base_names: Vec<String> = self.columns(&plan, span)?.into_iter().map(|(_, n)| n).collect();
        let pre = LogicalPlanBuilder::from(plan)
            .project(cols.into_iter().map(|(t, n)| t.expr.alias(n)).collect::<Vec<_>>())
            .and_then(|b| b.build())
            .map_err(|e| df_err(e, span))?;
        let mut unnest: Vec<Column> = (0..items.len()).map(|i| Column::from_name(format!("__mv{i}"))).collect();
        if index_col.is_some() {
            unnest.push(Column::from_name("__mvidx"));
        }
        let un = LogicalPlanBuilder::from(pre)
            .unnest_columns_with_options(unnest, UnnestOptions::new().with_preserve_nulls(false))
            .and_then(|b| b.build())
            .map_err(|e| df_err(e, span))?;
        // The final row: the input's columns (an expanded one in its place),
        // then new expanded columns, then the index.
        let us = un.schema().clone();
        let mut out: Vec<(Typed, String)> = Vec::new();
        let value_of = |i: usize, to: Option<KType>| -> PResult<Typed> {
            let raw = Typed { expr: DfExpr::Column(Column::from_name(format!("__mv{i}"))), ty: KType::Dynamic };
            let raw = Typed { expr: ufn("kql_dyn_mark", vec![raw.expr], span)?, ty: KType::Dynamic };
            match to {
                None | Some(KType::Dynamic) => Ok(raw),
                Some(k) => convert(raw, k, span),
            }
        };
        for n in &base_names {
            match expanded.iter().find(|(m, _, _)| m == n) {
                Some((_, to, i)) => out.push((value_of(*i, *to)?, n.clone())),
                None => {
                    let c = super::expr::find_column(&us, n)
                        .ok_or_else(|| SpannedError::engine(format!("column `{n}` lost"), span))?;
                    out.push((typed(c, &us, span)?, n.clone()));
                }
            }
        }
        for (n, to, i) in &expanded {
            if !base_names.contains(n) {
                out.push((value_of(*i, *to)?, n.clone()));
            }
        }
        if let Some(ix) = index_col {
            let e = datafusion::logical_expr::cast(
                DfExpr::Column(Column::from_name("__mvidx")),
                datafusion::arrow::datatypes::DataType::Int64,
            );
            out.push((Typed { expr: e, ty: KType::Long }, ix));
        }
        self.project(un, out, span)
    }

    /// `parse` / `parse-where`: the pattern as one regular expression, one
    /// capture group per column.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub fn parse_op(
        &mut self,
        plan: LogicalPlan,
        kind: ParseKind,
        flags: &str,
        expr: &Expr,
        items: &[ParseItem],
        filter: bool,
        env: &Env,
        span: Span,
    ) -> PResult<LogicalPlan> {
        let what = if filter { "parse-where" } else { "parse" };
        let mut re = String::new();
        if kind == ParseKind::Regex {
            let mut f = String::new();
            for c in flags.chars() {
                match c {
                    'U' | 'm' | 's' | 'i' | 'x' => f.push(c),
                    other => {
                        return Err(SpannedError::semantic(format!("`{what}`: unknown regex flag `{other}`"), span))
                    }
                }
            }
            if !f.is_empty() {
                re.push_str(&format!("(?{f})"));
            }
        } else {
            // The text must match the pattern whole, newlines included.
            re.push_str("(?s)^");
        }
        // Columns and their capture group (a regex literal's own groups count).
        let mut cols: Vec<(Ident, KType, usize)> = Vec::new();
        let mut groups = 0usize;
        for (i, it) in items.iter().enumerate() {
            let last = i + 1 == items.len();
            match it {
                // In regex mode `*` and string columns are greedy, as
                // Kusto's documented results show (`flags=U` makes them
                // lazy); the other modes match the literals in turn.
                ParseItem::Star if kind == ParseKind::Regex => re.push_str(".*"),
                ParseItem::Star => re.push_str(".*?"),
                ParseItem::Lit(s) if kind == ParseKind::Regex => {
                    groups += regex::Regex::new(s).map(|r| r.captures_len() - 1).unwrap_or(0);
                    re.push_str(s)
                }
                ParseItem::Lit(s) => re.push_str(&regex::escape(s)),
                ParseItem::Col(name, ty) => {
                    let k = match ty {
                        None => KType::String,
                        Some(t) => KType::from_type_name(&t.name).ok_or_else(|| {
                            SpannedError::semantic(format!("`{what}`: unknown type `{}`", t.name), t.span)
                        })?,
                    };
                    if k == KType::Timespan {
                        return Err(SpannedError::unsupported(
                            format!("`{what}`: timespan columns are not supported; parse as string and convert"),
                            ty.as_ref().map(|t| t.span).unwrap_or(name.span),
                        ));
                    }
                    let group = match (kind, k) {
                        // A number where one is, else anything (then null).
                        (ParseKind::Relaxed, KType::Int | KType::Long) => r"(-?\d+|.*?)",
                        (ParseKind::Relaxed, KType::Real) => r"(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|.*?)",
                        (ParseKind::Relaxed, _) if last => "(.*)",
                        (ParseKind::Relaxed, _) => "(.*?)",
                        (_, KType::Int | KType::Long) => r"(-?\d+)",
                        (_, KType::Real) => r"(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)",
                        (ParseKind::Regex, _) => "(.*)",
                        (_, _) if last => "(.*)",
                        _ => "(.*?)",
                    };
                    re.push_str(group);
                    groups += 1;
                    cols.push((name.clone(), k, groups));
                }
            }
        }
        if kind != ParseKind::Regex {
            re.push('$');
        }
        if let Err(e) = regex::Regex::new(&re) {
            let msg = e.to_string();
            let first = msg.lines().last().unwrap_or("bad pattern").trim().to_string();
            return Err(SpannedError::semantic(
                format!("`{what}`: the pattern is not a valid regular expression: {first}"),
                span,
            ));
        }
        let schema = plan.schema().clone();
        let text = self.scalar(expr, env, &schema)?;
        let text = to_str(text, expr.span)?;
        let mut plan = plan;
        if filter {
            let m = ufn("kql_matches_regex", vec![text.clone(), lit(re.clone())], span)?;
            plan = LogicalPlanBuilder::from(plan).filter(m).and_then(|b| b.build()).map_err(|e| df_err(e, span))?;
        }
        let mut out = self.columns(&plan, span)?;
        for (name, k, g) in cols {
            let group = ufn("kql_extract", vec![lit(re.clone()), lit(g as i64), text.clone()], span)?;
            let s = Typed { expr: group, ty: KType::String };
            let t = match k {
                KType::String => s,
                KType::Dynamic => Typed { expr: ufn("kql_parse_json", vec![s.expr], span)?, ty: KType::Dynamic },
                other => convert(s, other, span)?,
            };
            match out.iter_mut().find(|(_, n)| *n == name.name) {
                Some(slot) => slot.0 = t,
                None => out.push((t, name.name.clone())),
            }
        }
        self.project(plan, out, span)
    }

    /// `search <predicate>`: a bare string term matches any column that
    /// has it (`*` wildcards: prefix, suffix, contains); the rest of the
    /// predicate is an ordinary condition.
    pub fn search(&mut self, plan: LogicalPlan, pred: &Expr, cs: bool, env: &Env, span: Span) -> PResult<LogicalPlan> {
        let schema = plan.schema().clone();
        let cond = self.search_pred(pred, cs, env, &schema)?;
        LogicalPlanBuilder::from(plan).filter(cond).and_then(|b| b.build()).map_err(|e| df_err(e, span))
    }

    fn search_pred(&mut self, e: &Expr, cs: bool, env: &Env, schema: &DFSchema) -> PResult<DfExpr> {
        match &e.kind {
            ExprKind::Lit(Lit::Str(term)) => {
                let (f, t) = match (term.starts_with('*'), term.ends_with('*') && term.len() > 1) {
                    (true, true) => ("kql_contains", term.trim_matches('*')),
                    (true, false) => ("kql_hassuffix", term.trim_start_matches('*')),
                    (false, true) => ("kql_hasprefix", term.trim_end_matches('*')),
                    (false, false) => ("kql_has", term.as_str()),
                };
                // `kind=case_sensitive`: the `_cs` form of each test.
                let f = if cs { format!("{f}_cs") } else { f.to_string() };
                let f = f.as_str();
                let mut any: Option<DfExpr> = None;
                for (q, fld) in schema.iter() {
                    let c = typed(DfExpr::Column(Column::new(q.cloned(), fld.name())), schema, e.span)?;
                    let s = to_str(c, e.span)?;
                    let m = ufn(f, vec![s, lit(t.to_string())], e.span)?;
                    any = Some(match any {
                        None => m,
                        Some(a) => a.or(m),
                    });
                }
                Ok(any.unwrap_or(lit(false)))
            }
            ExprKind::Binary { op: BinOp::And, lhs, rhs } => {
                Ok(self.search_pred(lhs, cs, env, schema)?.and(self.search_pred(rhs, cs, env, schema)?))
            }
            ExprKind::Binary { op: BinOp::Or, lhs, rhs } => {
                Ok(self.search_pred(lhs, cs, env, schema)?.or(self.search_pred(rhs, cs, env, schema)?))
            }
            ExprKind::Call { name, args } if name.name == "not" && args.len() == 1 => {
                Ok(DfExpr::Not(Box::new(self.search_pred(&args[0], cs, env, schema)?)))
            }
            _ => {
                let t = self.scalar(e, env, schema)?;
                Ok(convert(t, KType::Bool, e.span)?.expr)
            }
        }
    }
}

/// A call expression (for operators planned through `summarize`).
pub fn call(name: &str, args: Vec<Expr>, span: Span) -> Expr {
    Expr::new(ExprKind::Call { name: Ident { name: name.into(), span }, args }, span)
}

/// Whether `ne` calls a function returning several values.
pub fn is_multi(ne: &NamedExpr) -> bool {
    matches!(&ne.expr.kind, ExprKind::Call { name, .. } if super::series::multi_fields(&name.name).is_some())
        && ne.names.len() != 1
}
