//! Tabular operators: what follows each `|`.

use super::ast::*;
use super::lexer::Tok;
use super::Parser;
use crate::error::{PResult, Span, SpannedError};

/// Operators KQL has that netward does not run; named in the error.
const UNSUPPORTED_OPERATORS: &[&str] = &[
    "parse-kv",
    "scan",
    "find",
    "sample-distinct",
    "fork",
    "facet",
    "partition",
    "reduce",
    "consume",
    "execute",
    "graph-match",
    "make-graph",
];

impl Parser<'_> {
    pub fn operator(&mut self) -> PResult<Operator> {
        let t = self.next()?;
        let start = t.span;
        let Tok::Ident(word) = t.tok else {
            return Err(SpannedError::syntax(
                format!("expected an operator after `|`, found {}", t.tok.describe()),
                start,
            ));
        };
        let kind = match word.as_str() {
            "where" | "filter" => OpKind::Where(self.expr()?),
            "project" => OpKind::Project(self.named_list()?),
            "extend" => OpKind::Extend(self.named_list()?),
            "project-away" => OpKind::ProjectAway(self.patterns()?),
            "project-keep" => OpKind::ProjectKeep(self.patterns()?),
            "project-reorder" => OpKind::ProjectReorder(self.patterns()?),
            "project-rename" => {
                let mut pairs = Vec::new();
                loop {
                    let new = self.ident("a new column name")?;
                    self.expect(&Tok::Assign, "`=`")?;
                    let old = self.ident("a column name")?;
                    pairs.push((new, old));
                    if !self.eat(&Tok::Comma)? {
                        break;
                    }
                }
                OpKind::ProjectRename(pairs)
            }
            "summarize" => {
                self.options(&[])?; // hints (shuffle keys...) do not change results
                let aggs = if self.at_word("by")? { Vec::new() } else { self.named_list()? };
                let by = if self.eat_word("by")? { self.named_list()? } else { Vec::new() };
                if aggs.is_empty() && by.is_empty() {
                    return Err(SpannedError::syntax("`summarize` needs aggregates or `by`", start));
                }
                OpKind::Summarize { aggs, by }
            }
            "count" => OpKind::Count,
            "take" | "limit" => OpKind::Take(self.expr()?),
            "top" => {
                let n = self.expr()?;
                self.expect_word("by")?;
                let key = self.sort_key()?;
                OpKind::Top { n, key }
            }
            "top-nested" => OpKind::TopNested(self.top_nested()?),
            "sort" | "order" => {
                self.options(&[])?;
                self.expect_word("by")?;
                let mut keys = vec![self.sort_key()?];
                while self.eat(&Tok::Comma)? {
                    keys.push(self.sort_key()?);
                }
                OpKind::Sort(keys)
            }
            "distinct" => {
                if self.eat(&Tok::Star)? {
                    OpKind::Distinct(Vec::new())
                } else {
                    let mut cols = vec![self.expr()?];
                    while self.eat(&Tok::Comma)? {
                        cols.push(self.expr()?);
                    }
                    OpKind::Distinct(cols)
                }
            }
            "join" | "lookup" => {
                let opts = self.options(&["kind"])?;
                let right = self.tabular_operand()?;
                self.expect_word("on")?;
                let mut on = vec![self.expr()?];
                while self.eat(&Tok::Comma)? {
                    on.push(self.expr()?);
                }
                if word == "join" {
                    OpKind::Join { opts, right, on }
                } else {
                    OpKind::Lookup { opts, right, on }
                }
            }
            "union" => {
                let (opts, operands) = self.union_args()?;
                OpKind::Union { opts, operands }
            }
            "render" => {
                let kind = self.ident("a chart kind")?;
                let mut props = Vec::new();
                if self.eat_word("with")? {
                    self.expect(&Tok::LParen, "`(`")?;
                    loop {
                        let k = self.ident("a property")?;
                        self.expect(&Tok::Assign, "`=`")?;
                        let v = self.primary()?;
                        props.push((k, v));
                        if !self.eat(&Tok::Comma)? {
                            break;
                        }
                    }
                    self.expect(&Tok::RParen, "`)`")?;
                }
                OpKind::Render { kind, props }
            }
            "invoke" => {
                let call = self.postfix()?;
                if !matches!(call.kind, ExprKind::Call { .. }) {
                    return Err(SpannedError::syntax("`invoke` needs a function call", call.span));
                }
                OpKind::Invoke(call)
            }
            "as" => {
                self.options(&[])?;
                OpKind::As(self.ident("a name after `as`")?)
            }
            "serialize" => {
                if self.at_pipeline_end()? {
                    OpKind::Serialize(Vec::new())
                } else {
                    OpKind::Serialize(self.named_list()?)
                }
            }
            "sample" => OpKind::Sample(self.expr()?),
            "getschema" => OpKind::GetSchema,
            "top-hitters" => {
                let n = self.expr()?;
                self.expect_word("of")?;
                let of = self.expr()?;
                let by = if self.eat_word("by")? { Some(self.expr()?) } else { None };
                OpKind::TopHitters { n, of, by }
            }
            "mv-apply" => {
                let opts = self.options(&["with_itemindex", "itemindex"])?;
                let (items, limit) = self.mv_items()?;
                self.expect_word("on")?;
                self.expect(&Tok::LParen, "`(` and the subquery")?;
                let mut ops = vec![self.operator()?];
                while self.eat(&Tok::Pipe)? {
                    ops.push(self.operator()?);
                }
                self.expect(&Tok::RParen, "`)`")?;
                OpKind::MvApply { opts, items, limit, ops }
            }
            "mv-expand" | "mvexpand" => {
                let opts = self.options(&["kind", "with_itemindex", "bagexpansion", "itemindex"])?;
                let (items, limit) = self.mv_items()?;
                OpKind::MvExpand { opts, items, limit }
            }
            "parse" | "parse-where" => {
                let opts = self.options(&["kind", "flags"])?;
                let mut kind = ParseKind::Simple;
                let mut flags = String::new();
                for (k, v) in &opts {
                    let text = match &v.kind {
                        ExprKind::Ident(s) | ExprKind::Lit(Lit::Str(s)) => s.clone(),
                        _ => String::new(),
                    };
                    match (k.name.as_str(), text.as_str()) {
                        ("kind", "simple") => kind = ParseKind::Simple,
                        ("kind", "regex") => kind = ParseKind::Regex,
                        ("kind", "relaxed") => kind = ParseKind::Relaxed,
                        ("kind", other) => {
                            return Err(SpannedError::syntax(
                                format!("`{word}`: kind must be simple, regex or relaxed, not `{other}`"),
                                v.span,
                            ))
                        }
                        ("flags", f) => flags = f.to_string(),
                        _ => {}
                    }
                }
                let expr = self.expr()?;
                self.expect_word("with")?;
                let mut items: Vec<ParseItem> = Vec::new();
                while !self.at_pipeline_end()? {
                    let t = self.next()?;
                    match t.tok {
                        Tok::Star => items.push(ParseItem::Star),
                        Tok::Comma => {}
                        Tok::Str(s) => match items.last_mut() {
                            Some(ParseItem::Lit(prev)) => prev.push_str(&s),
                            _ => items.push(ParseItem::Lit(s)),
                        },
                        Tok::Ident(name) => {
                            let id = Ident { name, span: t.span };
                            let ty = if self.eat(&Tok::Colon)? { Some(self.ident("a type")?) } else { None };
                            items.push(ParseItem::Col(id, ty));
                        }
                        other => {
                            return Err(SpannedError::syntax(
                                format!(
                                    "`{word}`: expected a string, a column name or `*`, found {}",
                                    other.describe()
                                ),
                                t.span,
                            ))
                        }
                    }
                }
                if !items.iter().any(|i| matches!(i, ParseItem::Col(..))) {
                    return Err(SpannedError::syntax(format!("`{word}` needs at least one column to extract"), start));
                }
                OpKind::Parse { kind, flags, expr, items, filter: word == "parse-where" }
            }
            "search" => {
                let cs = self.search_kind()?;
                OpKind::Search(self.expr()?, cs)
            }
            "evaluate" => {
                self.options(&[])?;
                OpKind::Evaluate(self.plugin()?)
            }
            "make-series" => {
                let opts = self.options(&["kind"])?;
                let mut nonempty = false;
                for (k, v) in &opts {
                    match &v.kind {
                        ExprKind::Ident(s) | ExprKind::Lit(Lit::Str(s)) if k.name == "kind" => match s.as_str() {
                            "nonempty" => nonempty = true,
                            "empty" => {}
                            other => {
                                return Err(SpannedError::syntax(
                                    format!("`make-series`: kind must be nonempty, not `{other}`"),
                                    v.span,
                                ))
                            }
                        },
                        _ => {}
                    }
                }
                let mut aggs = Vec::new();
                loop {
                    let agg = self.named_expr()?;
                    let default = if self.eat_word("default")? {
                        self.expect(&Tok::Assign, "`=`")?;
                        Some(self.expr()?)
                    } else {
                        None
                    };
                    aggs.push(SeriesAgg { agg, default });
                    if !self.eat(&Tok::Comma)? {
                        break;
                    }
                }
                self.expect_word("on")?;
                // `on Axis in range(...)`: the axis is a column, and `in` is
                // the operator's, not a membership test.
                let range_form = matches!(&self.peek_at(1)?.tok, Tok::Ident(w) if w == "in")
                    && matches!(&self.peek_at(2)?.tok, Tok::Ident(w) if w == "range");
                let on = if range_form { self.postfix()? } else { self.expr()? };
                let from = if self.eat_word("from")? { Some(self.expr()?) } else { None };
                let to = if self.eat_word("to")? { Some(self.expr()?) } else { None };
                let (from, to, step) = if from.is_none() && to.is_none() && self.eat_word("in")? {
                    // `in range(start, stop, step)`, Kusto's older form: the
                    // axis is binned with `bin()` from `start`, and `stop`
                    // is inclusive.
                    self.expect_word("range")?;
                    self.expect(&Tok::LParen, "`(`")?;
                    let start = self.expr()?;
                    self.expect(&Tok::Comma, "`,` and the stop value")?;
                    let stop = self.expr()?;
                    self.expect(&Tok::Comma, "`,` and the step")?;
                    let step = self.expr()?;
                    self.expect(&Tok::RParen, "`)`")?;
                    let bin = |e: Expr| {
                        let span = e.span;
                        let args = vec![e, step.clone()];
                        Expr::new(ExprKind::Call { name: Ident { name: "bin".into(), span }, args }, span)
                    };
                    let stop_span = stop.span;
                    let to = Expr::new(
                        ExprKind::Binary { op: BinOp::Add, lhs: Box::new(bin(stop)), rhs: Box::new(step.clone()) },
                        stop_span,
                    );
                    (Some(bin(start)), Some(to), step)
                } else {
                    self.expect_word("step")?;
                    (from, to, self.expr()?)
                };
                let by = if self.eat_word("by")? { self.named_list()? } else { Vec::new() };
                OpKind::MakeSeries { aggs, on, from, to, step, by, nonempty }
            }
            w @ ("fork" | "facet") => {
                return Err(SpannedError::unsupported(
                    format!(
                        "operator `{w}` is not supported: it returns several result tables, and a netward query \
                         returns one (write one query per table)"
                    ),
                    start,
                ));
            }
            w if UNSUPPORTED_OPERATORS.contains(&w) => {
                return Err(SpannedError::unsupported(format!("operator `{w}` is not supported"), start));
            }
            w => return Err(SpannedError::syntax(format!("unknown operator `{w}`"), start)),
        };
        let span = start.to(Span::new(self.last_end, self.last_end));
        Ok(Operator { kind, span })
    }

    /// `mv-expand`/`mv-apply` items: `[Name =] Expr [to typeof(T)], ...
    /// [limit N]`.
    fn mv_items(&mut self) -> PResult<(Vec<MvItem>, Option<Expr>)> {
        let mut items = Vec::new();
        loop {
            let name = if matches!(self.peek()?, Tok::Ident(_)) && self.peek_at(1)?.tok == Tok::Assign {
                let n = self.ident("a column name")?;
                self.next()?;
                Some(n)
            } else {
                None
            };
            let expr = self.expr()?;
            let to = if self.eat_word("to")? {
                self.expect_word("typeof")?;
                self.expect(&Tok::LParen, "`(`")?;
                let t = self.ident("a type")?;
                self.expect(&Tok::RParen, "`)`")?;
                Some(t)
            } else {
                None
            };
            items.push(MvItem { name, expr, to });
            if !self.eat(&Tok::Comma)? {
                break;
            }
        }
        let limit = if self.eat_word("limit")? { Some(self.expr()?) } else { None };
        Ok((items, limit))
    }

    /// `search`'s options: `kind=case_sensitive` (true) or
    /// `kind=case_insensitive` (the default).
    pub fn search_kind(&mut self) -> PResult<bool> {
        let mut cs = false;
        for (k, v) in self.options(&["kind"])? {
            match &v.kind {
                ExprKind::Ident(s) | ExprKind::Lit(Lit::Str(s)) if k.name == "kind" => match s.as_str() {
                    "case_sensitive" => cs = true,
                    "case_insensitive" => cs = false,
                    other => {
                        return Err(SpannedError::syntax(
                            format!("`search`: kind must be case_sensitive or case_insensitive, not `{other}`"),
                            v.span,
                        ))
                    }
                },
                _ => {}
            }
        }
        Ok(cs)
    }

    /// `name(args, name = value, ...) [: ([*,] Col: type, ...)]` after
    /// `evaluate`.
    fn plugin(&mut self) -> PResult<Plugin> {
        let name = self.ident("a plugin name")?;
        self.expect(&Tok::LParen, "`(` after the plugin's name")?;
        let (mut args, mut named) = (Vec::new(), Vec::new());
        if !self.at(&Tok::RParen)? {
            loop {
                if matches!(self.peek()?, Tok::Ident(_)) && self.peek_at(1)?.tok == Tok::Assign {
                    let n = self.ident("an argument name")?;
                    self.next()?;
                    named.push((n, self.expr()?));
                } else {
                    args.push(self.pipe_expr()?);
                }
                if !self.eat(&Tok::Comma)? {
                    break;
                }
            }
        }
        self.expect(&Tok::RParen, "`)` closing the plugin's arguments")?;
        let schema = if self.eat(&Tok::Colon)? {
            self.expect(&Tok::LParen, "`(` and the output columns")?;
            let mut star = false;
            let mut columns = Vec::new();
            loop {
                if columns.is_empty() && !star && self.eat(&Tok::Star)? {
                    star = true;
                } else {
                    let c = self.ident("a column name")?;
                    self.expect(&Tok::Colon, "`:` and a type")?;
                    columns.push((c, self.ident("a type")?));
                }
                if !self.eat(&Tok::Comma)? {
                    break;
                }
            }
            self.expect(&Tok::RParen, "`)` closing the output columns")?;
            Some(OutputSchema { star, columns })
        } else {
            None
        };
        Ok(Plugin { name, args, named, schema })
    }

    /// Whether the operator's text has ended (`|`, `;`, `)`, `}` or the end).
    pub fn at_pipeline_end(&mut self) -> PResult<bool> {
        Ok(matches!(self.peek()?, Tok::Pipe | Tok::Semi | Tok::RParen | Tok::RBrace | Tok::Eof))
    }

    /// `Name = e`, `(A, B) = e` or `e`, comma-separated.
    pub fn named_list(&mut self) -> PResult<Vec<NamedExpr>> {
        let mut out = vec![self.named_expr()?];
        while self.eat(&Tok::Comma)? {
            out.push(self.named_expr()?);
        }
        Ok(out)
    }

    pub fn named_expr(&mut self) -> PResult<NamedExpr> {
        // Name = expr
        let named = (matches!(self.peek()?, Tok::Ident(_)) && self.peek_at(1)?.tok == Tok::Assign)
            || (self.at(&Tok::LBracket)?
                && matches!(self.peek_at(1)?.tok, Tok::Str(_))
                && self.peek_at(2)?.tok == Tok::RBracket
                && self.peek_at(3)?.tok == Tok::Assign);
        if named {
            let name = self.ident("a column name")?;
            self.expect(&Tok::Assign, "`=`")?;
            let expr = self.expr()?;
            return Ok(NamedExpr { names: vec![name], expr });
        }
        // (A, B, ...) = expr
        if self.at(&Tok::LParen)? {
            let mut k = 1;
            let mut is_tuple = false;
            loop {
                if !matches!(self.peek_at(k)?.tok, Tok::Ident(_)) {
                    break;
                }
                match self.peek_at(k + 1)?.tok {
                    Tok::Comma => k += 2,
                    Tok::RParen => {
                        is_tuple = self.peek_at(k + 2)?.tok == Tok::Assign;
                        break;
                    }
                    _ => break,
                }
                if k > 200 {
                    break;
                }
            }
            if is_tuple {
                self.next()?;
                let mut names = vec![self.ident("a column name")?];
                while self.eat(&Tok::Comma)? {
                    names.push(self.ident("a column name")?);
                }
                self.expect(&Tok::RParen, "`)`")?;
                self.expect(&Tok::Assign, "`=`")?;
                let expr = self.expr()?;
                return Ok(NamedExpr { names, expr });
            }
        }
        Ok(NamedExpr { names: Vec::new(), expr: self.expr()? })
    }

    fn sort_key(&mut self) -> PResult<SortKey> {
        let expr = self.expr()?;
        let asc = if self.eat_word("asc")? {
            Some(true)
        } else if self.eat_word("desc")? {
            Some(false)
        } else {
            None
        };
        let nulls_first = if self.eat_word("nulls")? {
            if self.eat_word("first")? {
                Some(true)
            } else {
                self.expect_word("last")?;
                Some(false)
            }
        } else {
            None
        };
        Ok(SortKey { expr, asc, nulls_first })
    }

    /// Column names with `*` wildcards: `a`, `Init*`, `*Id`.
    fn patterns(&mut self) -> PResult<Vec<NamePattern>> {
        let mut out = Vec::new();
        loop {
            let first = self.peek_span()?;
            let mut text = String::new();
            let mut end = first.end;
            loop {
                let t = self.peek_at(0)?.clone();
                if !text.is_empty() && t.span.start != end {
                    break;
                }
                match t.tok {
                    Tok::Ident(s) => text.push_str(&s),
                    Tok::Star => text.push('*'),
                    Tok::LBracket if text.is_empty() => {
                        let id = self.ident("a column name")?;
                        text.push_str(&id.name);
                        end = id.span.end;
                        break;
                    }
                    _ => break,
                }
                self.next()?;
                end = t.span.end;
            }
            if text.is_empty() {
                let t = self.next()?;
                return Err(SpannedError::syntax(
                    format!("expected a column name, found {}", t.tok.describe()),
                    t.span,
                ));
            }
            out.push(NamePattern { pattern: text, span: Span::new(first.start, end) });
            if !self.eat(&Tok::Comma)? {
                return Ok(out);
            }
        }
    }

    /// `top-nested [N] of Expr [with others = v] by Agg [asc|desc], ...`
    fn top_nested(&mut self) -> PResult<Vec<TopNestedLevel>> {
        let mut levels = Vec::new();
        loop {
            let n = if self.at_word("of")? { None } else { Some(self.expr()?) };
            self.expect_word("of")?;
            let of = self.named_expr()?;
            let with_others = if self.eat_word("with")? {
                self.expect_word("others")?;
                self.expect(&Tok::Assign, "`=`")?;
                Some(self.expr()?)
            } else {
                None
            };
            self.expect_word("by")?;
            let by = self.named_expr()?;
            let asc = if self.eat_word("asc")? {
                Some(true)
            } else if self.eat_word("desc")? {
                Some(false)
            } else {
                None
            };
            levels.push(TopNestedLevel { n, of, by, asc, with_others });
            if !self.eat(&Tok::Comma)? {
                return Ok(levels);
            }
            self.expect_word("top-nested")?;
        }
    }
}
