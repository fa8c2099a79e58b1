//! The KQL parser: recursive descent over [`lexer`] tokens into the
//! [`ast`]. Statements and plumbing live here; scalar expressions in
//! [`expr`], tabular operators in [`ops`].
//!
//! Nesting is bounded ([`MAX_DEPTH`]) so hostile input cannot overflow
//! the stack; every error carries the span of the offending token.

pub mod ast;
mod expr;
pub mod lexer;
mod ops;

use crate::error::{PResult, Span, SpannedError};
use ast::*;
pub use expr::parse_datetime;
use lexer::{next_token, Tok, Token};

/// `name=value` options of an operator.
pub type Options = Vec<(Ident, Expr)>;

/// Deepest nesting of parentheses/operators accepted (the parser's own
/// recursion).
pub const MAX_DEPTH: usize = 128;

/// Deepest syntax tree accepted ([`Expr::depth`]): each term of an
/// `and`/`or`/`+` chain, each `|` operator and each nesting is a level.
/// The parser stops at the first node past it, so a chain of 100,000
/// terms costs only the first few hundred; the planner and DataFusion,
/// which recurse over the tree, never see a deeper one.
pub const MAX_EXPR_DEPTH: u32 = 256;

/// Most `let` statements and function parameters in one query (names are
/// looked up along the chain of bindings).
pub const MAX_BINDINGS: usize = 512;

/// What the parser did: tokens read, deepest recursion, deepest tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseStats {
    pub tokens: usize,
    pub max_nesting: usize,
    pub max_expr_depth: u32,
    pub bindings: usize,
}

/// Parses a whole query.
pub fn parse_query(src: &str) -> PResult<Query> {
    parse_query_stats(src).0
}

/// Parses a whole query and says how much work that took.
pub fn parse_query_stats(src: &str) -> (PResult<Query>, ParseStats) {
    let mut p = Parser::new(src);
    let q = p.query();
    (q, p.stats)
}

pub(crate) struct Parser<'a> {
    src: &'a str,
    /// Where the lexer reads next (after the peeked tokens).
    pos: usize,
    peeked: Vec<Token>,
    depth: usize,
    /// End of the last consumed token.
    last_end: usize,
    stats: ParseStats,
}

impl<'a> Parser<'a> {
    pub fn new(src: &'a str) -> Self {
        Parser { src, pos: 0, peeked: Vec::new(), depth: 0, last_end: 0, stats: ParseStats::default() }
    }

    fn fill(&mut self, k: usize) -> PResult<()> {
        while self.peeked.len() <= k {
            let t = next_token(self.src, self.pos)?;
            self.stats.tokens += 1;
            self.pos = t.span.end;
            self.peeked.push(t);
        }
        Ok(())
    }

    pub fn peek_at(&mut self, k: usize) -> PResult<&Token> {
        self.fill(k)?;
        Ok(&self.peeked[k])
    }

    pub fn peek(&mut self) -> PResult<&Tok> {
        Ok(&self.peek_at(0)?.tok)
    }

    pub fn peek_span(&mut self) -> PResult<Span> {
        Ok(self.peek_at(0)?.span)
    }

    pub fn next(&mut self) -> PResult<Token> {
        self.fill(0)?;
        let t = self.peeked.remove(0);
        self.last_end = t.span.end;
        Ok(t)
    }

    /// Whether the next token is the word `w` (KQL keywords are lower case).
    pub fn at_word(&mut self, w: &str) -> PResult<bool> {
        Ok(matches!(self.peek()?, Tok::Ident(s) if s == w))
    }

    pub fn at(&mut self, t: &Tok) -> PResult<bool> {
        Ok(self.peek()? == t)
    }

    pub fn eat(&mut self, t: &Tok) -> PResult<bool> {
        if self.at(t)? {
            self.next()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    pub fn eat_word(&mut self, w: &str) -> PResult<bool> {
        if self.at_word(w)? {
            self.next()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    pub fn expect(&mut self, t: &Tok, what: &str) -> PResult<Span> {
        let tok = self.next()?;
        if &tok.tok == t {
            Ok(tok.span)
        } else {
            Err(SpannedError::syntax(format!("expected {what}, found {}", tok.tok.describe()), tok.span))
        }
    }

    pub fn expect_word(&mut self, w: &str) -> PResult<Span> {
        let tok = self.next()?;
        match &tok.tok {
            Tok::Ident(s) if s == w => Ok(tok.span),
            other => Err(SpannedError::syntax(format!("expected `{w}`, found {}", other.describe()), tok.span)),
        }
    }

    pub fn ident(&mut self, what: &str) -> PResult<Ident> {
        let tok = self.next()?;
        match tok.tok {
            Tok::Ident(name) => Ok(Ident { name, span: tok.span }),
            Tok::LBracket => {
                // ['quoted name']
                let s = self.next()?;
                let Tok::Str(name) = s.tok else {
                    return Err(SpannedError::syntax(format!("expected {what}"), s.span));
                };
                let end = self.expect(&Tok::RBracket, "`]`")?;
                Ok(Ident { name, span: tok.span.to(end) })
            }
            other => Err(SpannedError::syntax(format!("expected {what}, found {}", other.describe()), tok.span)),
        }
    }

    pub fn enter(&mut self, span: Span) -> PResult<()> {
        self.depth += 1;
        self.stats.max_nesting = self.stats.max_nesting.max(self.depth);
        if self.depth > MAX_DEPTH {
            return Err(SpannedError::syntax("query nested too deeply", span));
        }
        Ok(())
    }

    /// Fails when `e` is deeper than [`MAX_EXPR_DEPTH`]; `at` is where the
    /// limit was crossed (the term or operator that made it too deep).
    pub fn check_depth(&mut self, e: &Expr, at: Span) -> PResult<()> {
        self.stats.max_expr_depth = self.stats.max_expr_depth.max(e.depth);
        if e.depth > MAX_EXPR_DEPTH {
            return Err(SpannedError::syntax(
                format!(
                    "expression too deep: more than {MAX_EXPR_DEPTH} levels here (each term of an `and`/`or`/`+` \
                     chain, each `|` operator and each nesting is a level); split the query, or use `in (...)` or \
                     `has_any (...)` for long lists"
                ),
                at,
            ));
        }
        Ok(())
    }

    /// Counts a `let` or a parameter against [`MAX_BINDINGS`].
    fn bind(&mut self, at: Span) -> PResult<()> {
        self.stats.bindings += 1;
        if self.stats.bindings > MAX_BINDINGS {
            return Err(SpannedError::syntax(
                format!("too many `let` statements and function parameters: more than {MAX_BINDINGS}"),
                at,
            ));
        }
        Ok(())
    }

    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Raw text from the current position up to the matching `)`, which is
    /// consumed. Used where KQL does not tokenise: `datetime(2024-01-01 10:00)`.
    pub fn raw_until_rparen(&mut self) -> PResult<(String, Span)> {
        // Everything after the last consumed token (the `(`) is re-read.
        let start = self.last_end;
        self.peeked.clear();
        let rest = self.src.get(start..).unwrap_or("");
        let Some(i) = rest.find(')') else {
            return Err(SpannedError::syntax("expected `)`", Span::new(start, self.src.len())));
        };
        let text = rest[..i].trim().to_string();
        self.pos = start + i + 1;
        self.last_end = self.pos;
        Ok((text, Span::new(start, start + i)))
    }

    fn query(&mut self) -> PResult<Query> {
        let mut lets = Vec::new();
        loop {
            while self.eat(&Tok::Semi)? {}
            if self.at_word("let")? {
                lets.push(self.let_stmt()?);
                continue;
            }
            if let Tok::Ident(w) = self.peek()?.clone() {
                if matches!(w.as_str(), "set" | "declare" | "alias" | "restrict" | "pattern")
                    && matches!(self.peek_at(1)?.tok, Tok::Ident(_))
                {
                    let sp = self.peek_span()?;
                    return Err(SpannedError::unsupported(format!("statement `{w}` is not supported"), sp));
                }
            }
            break;
        }
        if self.at(&Tok::Eof)? {
            let sp = self.peek_span()?;
            return Err(SpannedError::syntax("the query has no tabular expression", sp));
        }
        let body = self.pipe_expr()?;
        while self.eat(&Tok::Semi)? {}
        let t = self.next()?;
        if t.tok != Tok::Eof {
            let msg = if matches!(t.tok, Tok::Ident(_)) {
                format!("unexpected {}: a query has one tabular expression (missing `|` or `;`?)", t.tok.describe())
            } else {
                format!("unexpected {}", t.tok.describe())
            };
            return Err(SpannedError::syntax(msg, t.span));
        }
        Ok(Query { lets, body })
    }

    /// `let name = value` (without the `;`, which the caller eats).
    fn let_stmt(&mut self) -> PResult<Let> {
        let at = self.expect_word("let")?;
        self.bind(at)?;
        let name = self.ident("a name after `let`")?;
        self.expect(&Tok::Assign, "`=` after the `let` name")?;
        let value = if self.at_function_def()? {
            LetValue::Function(self.function_def()?)
        } else {
            LetValue::Expr(self.pipe_expr()?)
        };
        if !self.eat(&Tok::Semi)? {
            let sp = self.peek_span()?;
            return Err(SpannedError::syntax("expected `;` after the `let` statement", sp));
        }
        Ok(Let { name, value })
    }

    /// `(` `)` `{` or `(` name `:` starts a function definition.
    fn at_function_def(&mut self) -> PResult<bool> {
        if !self.at(&Tok::LParen)? {
            return Ok(false);
        }
        let t1 = self.peek_at(1)?.tok.clone();
        Ok(match t1 {
            Tok::RParen => self.peek_at(2)?.tok == Tok::LBrace,
            Tok::Ident(_) => self.peek_at(2)?.tok == Tok::Colon,
            _ => false,
        })
    }

    fn function_def(&mut self) -> PResult<FunctionDef> {
        let start = self.expect(&Tok::LParen, "`(`")?;
        let mut params = Vec::new();
        if !self.at(&Tok::RParen)? {
            loop {
                let name = self.ident("a parameter name")?;
                self.bind(name.span)?;
                self.expect(&Tok::Colon, "`:` and a type")?;
                let ty = if self.at(&Tok::LParen)? {
                    self.next()?;
                    let mut cols = Vec::new();
                    if self.eat(&Tok::Star)? {
                        self.expect(&Tok::RParen, "`)`")?;
                    } else {
                        loop {
                            let c = self.ident("a column name")?;
                            self.expect(&Tok::Colon, "`:`")?;
                            let t = self.ident("a type")?;
                            cols.push((c, t));
                            if !self.eat(&Tok::Comma)? {
                                break;
                            }
                        }
                        self.expect(&Tok::RParen, "`)`")?;
                    }
                    ParamType::Tabular(cols)
                } else {
                    ParamType::Scalar(self.ident("a type")?)
                };
                let default = if self.eat(&Tok::Assign)? { Some(self.expr()?) } else { None };
                params.push(Param { name, ty, default });
                if !self.eat(&Tok::Comma)? {
                    break;
                }
            }
        }
        self.expect(&Tok::RParen, "`)` after the parameters")?;
        self.expect(&Tok::LBrace, "`{` and the function body")?;
        let mut lets = Vec::new();
        loop {
            while self.eat(&Tok::Semi)? {}
            if self.at_word("let")? {
                lets.push(self.let_stmt()?);
            } else {
                break;
            }
        }
        let body = self.pipe_expr()?;
        while self.eat(&Tok::Semi)? {}
        let end = self.expect(&Tok::RBrace, "`}` closing the function body")?;
        Ok(FunctionDef { params, lets, body: Box::new(body), span: start.to(end) })
    }

    /// An expression followed by any number of `| operator`.
    #[recursive::recursive]
    pub fn pipe_expr(&mut self) -> PResult<Expr> {
        let sp = self.peek_span()?;
        self.enter(sp)?;
        let next_is_body = !matches!(self.peek_at(1)?.tok, Tok::Pipe | Tok::Eof | Tok::Semi | Tok::RParen);
        let source = if self.at_word("union")? && next_is_body {
            let start = self.next()?.span;
            let (opts, operands) = self.union_args()?;
            let end = operands.last().map(|e| e.span).unwrap_or(start);
            Expr::new(ExprKind::Union { opts, operands }, start.to(end))
        } else if self.at_word("print")? && next_is_body {
            let start = self.next()?.span;
            let items = self.named_list()?;
            Expr::new(ExprKind::Print(items), start.to(Span::new(self.last_end, self.last_end)))
        } else if self.at_word("range")? && matches!(self.peek_at(1)?.tok, Tok::Ident(_)) {
            let start = self.next()?.span;
            let name = self.ident("a column name")?;
            self.expect_word("from")?;
            let from = self.expr()?;
            self.expect_word("to")?;
            let to = self.expr()?;
            self.expect_word("step")?;
            let step = self.expr()?;
            let span = start.to(step.span);
            Expr::new(ExprKind::Range { name, from: Box::new(from), to: Box::new(to), step: Box::new(step) }, span)
        } else if self.at_word("search")? && next_is_body {
            // `search [in (T, ...)] predicate`: over the named tables, or
            // every table, with the `$table` column Kusto adds.
            let start = self.next()?.span;
            let cs = self.search_kind()?;
            let mut operands = Vec::new();
            if self.at_word("in")? && self.peek_at(1)?.tok == Tok::LParen {
                self.next()?;
                self.next()?;
                loop {
                    operands.push(self.tabular_operand()?);
                    if !self.eat(&Tok::Comma)? {
                        break;
                    }
                }
                self.expect(&Tok::RParen, "`)`")?;
            }
            let pred = self.expr()?;
            let span = start.to(pred.span);
            let src_name = Ident { name: "withsource".into(), span: start };
            let opts = vec![(src_name, Expr::new(ExprKind::Ident("$table".into()), start))];
            let source = Expr::new(ExprKind::Union { opts, operands }, start);
            let op = Operator { kind: OpKind::Search(pred, cs), span };
            Expr::new(ExprKind::Pipe { source: Box::new(source), ops: vec![op] }, span)
        } else {
            self.expr()?
        };
        let mut ops = Vec::new();
        // The pipeline's depth so far (as `ExprKind::depth` counts it).
        let mut below = source.depth;
        while self.at(&Tok::Pipe)? {
            self.next()?;
            let op = self.operator()?;
            op.kind.for_each_expr(&mut |e| below = below.max(e.depth));
            let depth = below.saturating_add(u32::try_from(ops.len() + 1).unwrap_or(u32::MAX)).saturating_add(1);
            self.check_depth(&Expr { kind: ExprKind::Star, span: op.span, depth }, op.span)?;
            ops.push(op);
        }
        self.leave();
        if ops.is_empty() {
            return Ok(source);
        }
        let span = source.span.to(ops.last().map(|o| o.span).unwrap_or(source.span));
        let e = Expr::new(ExprKind::Pipe { source: Box::new(source), ops }, span);
        self.check_depth(&e, span)?;
        Ok(e)
    }

    /// Options `name=value` (and `hint.x=value`) before an operator's body.
    /// Only the names in `allowed` (and `hint.*`) are options, so that
    /// `summarize c = count()` is not read as an option `c`.
    pub fn options(&mut self, allowed: &[&str]) -> PResult<Vec<(Ident, Expr)>> {
        let mut opts = Vec::new();
        loop {
            let name_ok = match self.peek()? {
                Tok::Ident(w) => allowed.contains(&w.as_str()) || w == "hint",
                _ => false,
            };
            let is_opt = name_ok
                && (self.peek_at(1)?.tok == Tok::Assign
                    || (self.peek_at(1)?.tok == Tok::Dot
                        && matches!(self.peek_at(2)?.tok, Tok::Ident(_))
                        && self.peek_at(3)?.tok == Tok::Assign));
            if !is_opt {
                return Ok(opts);
            }
            let mut name = self.ident("an option")?;
            if self.eat(&Tok::Dot)? {
                let sub = self.ident("an option")?;
                name = Ident { name: format!("{}.{}", name.name, sub.name), span: name.span.to(sub.span) };
            }
            self.expect(&Tok::Assign, "`=`")?;
            // One token: `kind=inner (T)` must not read `inner (T)` as a call.
            let t = self.next()?;
            let kind = match t.tok {
                Tok::Ident(w) => match w.as_str() {
                    "true" | "True" => ExprKind::Lit(Lit::Bool(true)),
                    "false" | "False" => ExprKind::Lit(Lit::Bool(false)),
                    _ => ExprKind::Ident(w),
                },
                Tok::Str(s) => ExprKind::Lit(Lit::Str(s)),
                Tok::Int(i) => ExprKind::Lit(Lit::Long(i)),
                other => {
                    return Err(SpannedError::syntax(
                        format!("expected an option value, found {}", other.describe()),
                        t.span,
                    ))
                }
            };
            opts.push((name, Expr::new(kind, t.span)));
        }
    }

    /// `[options] T1, (T2 | ...), ...`
    pub fn union_args(&mut self) -> PResult<(Options, Vec<Expr>)> {
        let opts = self.options(&["kind", "withsource", "isfuzzy"])?;
        let mut operands = vec![self.tabular_operand()?];
        while self.eat(&Tok::Comma)? {
            operands.push(self.tabular_operand()?);
        }
        Ok((opts, operands))
    }

    /// A table-valued operand: a name, a call, or a parenthesised pipeline.
    pub fn tabular_operand(&mut self) -> PResult<Expr> {
        let sp = self.peek_span()?;
        if matches!(self.peek()?, Tok::Ident(_) | Tok::LParen | Tok::LBracket) {
            if let (Tok::Ident(_), Tok::Star) = (self.peek()?.clone(), self.peek_at(1)?.tok.clone()) {
                return Err(SpannedError::unsupported("wildcard table names are not supported", sp));
            }
            return self.postfix();
        }
        let t = self.next()?;
        Err(SpannedError::syntax(format!("expected a table, found {}", t.tok.describe()), t.span))
    }
}

#[cfg(test)]
mod tests;
