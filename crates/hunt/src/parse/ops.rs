//! Tabular operators: what follows each `|`.

use super::ast::*;
use super::lexer::Tok;
use super::Parser;
use crate::error::{PResult, Span, SpannedError};

/// Operators KQL has that netward does not run; named in the error.
const UNSUPPORTED_OPERATORS: &[&str] = &[
    "mv-expand",
    "mv-apply",
    "parse",
    "parse-where",
    "parse-kv",
    "make-series",
    "evaluate",
    "serialize",
    "scan",
    "search",
    "find",
    "sample",
    "sample-distinct",
    "fork",
    "facet",
    "partition",
    "reduce",
    "getschema",
    "top-hitters",
    "range",
    "print",
    "consume",
    "as",
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
            w if UNSUPPORTED_OPERATORS.contains(&w) => {
                return Err(SpannedError::unsupported(format!("operator `{w}` is not supported"), start));
            }
            w => return Err(SpannedError::syntax(format!("unknown operator `{w}`"), start)),
        };
        let span = start.to(Span::new(self.last_end, self.last_end));
        Ok(Operator { kind, span })
    }

    /// `Name = e`, `(A, B) = e` or `e`, comma-separated.
    pub fn named_list(&mut self) -> PResult<Vec<NamedExpr>> {
        let mut out = vec![self.named_expr()?];
        while self.eat(&Tok::Comma)? {
            out.push(self.named_expr()?);
        }
        Ok(out)
    }

    fn named_expr(&mut self) -> PResult<NamedExpr> {
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
