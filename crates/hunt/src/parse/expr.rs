//! Scalar expressions: precedence climbing from `or` down to literals,
//! including KQL's literal forms (`datetime(...)`, `dynamic([...])`,
//! timespans, adjacent string concatenation).

use super::ast::*;
use super::lexer::Tok;
use super::Parser;
use crate::error::{PResult, Span, SpannedError};

fn bin(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
    let span = lhs.span.to(rhs.span);
    Expr::new(ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span)
}

/// The string operator named by a word, as (op, case-sensitive).
fn str_op(word: &str) -> Option<(StrOp, bool)> {
    let (base, cs) = match word.strip_suffix("_cs") {
        Some(b) => (b, true),
        None => (word, false),
    };
    let op = match base {
        "has" => StrOp::Has,
        "hasprefix" => StrOp::HasPrefix,
        "hassuffix" => StrOp::HasSuffix,
        "contains" => StrOp::Contains,
        "startswith" => StrOp::StartsWith,
        "endswith" => StrOp::EndsWith,
        _ => return None,
    };
    Some((op, cs))
}

impl Parser<'_> {
    #[recursive::recursive]
    pub fn expr(&mut self) -> PResult<Expr> {
        let sp = self.peek_span()?;
        self.enter(sp)?;
        let r = self.or_expr();
        self.leave();
        let e = r?;
        self.check_depth(&e, e.span)?;
        Ok(e)
    }

    /// `lhs op rhs` as the next link of a chain, checked against
    /// [`super::MAX_EXPR_DEPTH`] at `rhs` (the term that made it too deep).
    fn link(&mut self, op: BinOp, lhs: Expr, rhs: Expr) -> PResult<Expr> {
        let at = rhs.span;
        let e = bin(op, lhs, rhs);
        self.check_depth(&e, at)?;
        Ok(e)
    }

    fn or_expr(&mut self) -> PResult<Expr> {
        let mut lhs = self.and_expr()?;
        while self.eat_word("or")? {
            let rhs = self.and_expr()?;
            lhs = self.link(BinOp::Or, lhs, rhs)?;
        }
        Ok(lhs)
    }

    fn and_expr(&mut self) -> PResult<Expr> {
        let mut lhs = self.cmp_expr()?;
        while self.eat_word("and")? {
            let rhs = self.cmp_expr()?;
            lhs = self.link(BinOp::And, lhs, rhs)?;
        }
        Ok(lhs)
    }

    fn cmp_expr(&mut self) -> PResult<Expr> {
        let mut lhs = self.add_expr()?;
        loop {
            let tok = self.peek()?.clone();
            let simple = match tok {
                Tok::Eq => Some(BinOp::Eq),
                Tok::NotEq => Some(BinOp::NotEq),
                Tok::Lt => Some(BinOp::Lt),
                Tok::Le => Some(BinOp::Le),
                Tok::Gt => Some(BinOp::Gt),
                Tok::Ge => Some(BinOp::Ge),
                Tok::EqTilde => Some(BinOp::EqCi),
                Tok::NotTilde => Some(BinOp::NotEqCi),
                _ => None,
            };
            if let Some(op) = simple {
                self.next()?;
                let rhs = self.add_expr()?;
                lhs = self.link(op, lhs, rhs)?;
                continue;
            }
            // `!word` forms: the `!` must touch the word.
            let mut neg = false;
            let word = match &tok {
                Tok::Ident(w) => w.clone(),
                Tok::Bang => {
                    let t1 = self.peek_at(1)?.clone();
                    match t1.tok {
                        Tok::Ident(w) if t1.span.start == self.peek_span()?.end => {
                            neg = true;
                            w
                        }
                        _ => {
                            let sp = self.peek_span()?;
                            return Err(SpannedError::syntax(
                                "`!` must be followed by an operator such as `!in` or `!has`",
                                sp,
                            ));
                        }
                    }
                }
                _ => return Ok(lhs),
            };
            let op_span = self.peek_span()?;
            if let Some((op, cs)) = str_op(&word) {
                self.skip_op_words(neg)?;
                let rhs = self.add_expr()?;
                lhs = self.link(BinOp::Str { op, cs, neg }, lhs, rhs)?;
                continue;
            }
            match word.as_str() {
                "matches" => {
                    if neg {
                        return Err(SpannedError::syntax(
                            "`!matches` is not KQL; use `not(x matches regex y)`",
                            op_span,
                        ));
                    }
                    self.next()?;
                    self.expect_word("regex")?;
                    let rhs = self.add_expr()?;
                    lhs = self.link(BinOp::Str { op: StrOp::MatchesRegex, cs: true, neg: false }, lhs, rhs)?;
                }
                "in" => {
                    self.skip_op_words(neg)?;
                    let ci = self.at(&Tok::Tilde)? && self.peek_span()?.start == self.last_end;
                    if ci {
                        self.next()?;
                    }
                    let (list, end) = self.paren_list()?;
                    let span = lhs.span.to(end);
                    lhs = Expr::new(ExprKind::In { expr: Box::new(lhs), list, neg, ci }, span);
                    self.check_depth(&lhs, op_span)?;
                }
                "has_any" | "has_all" => {
                    if neg {
                        return Err(SpannedError::syntax(format!("`!{word}` is not KQL"), op_span));
                    }
                    self.next()?;
                    let (list, end) = self.paren_list()?;
                    let span = lhs.span.to(end);
                    let all = word == "has_all";
                    lhs = Expr::new(ExprKind::HasAny { expr: Box::new(lhs), list, all }, span);
                    self.check_depth(&lhs, op_span)?;
                }
                "between" => {
                    self.skip_op_words(neg)?;
                    self.expect(&Tok::LParen, "`(` after `between`")?;
                    let lo = self.add_expr()?;
                    self.expect(&Tok::DotDot, "`..` in `between`")?;
                    let hi = self.add_expr()?;
                    let end = self.expect(&Tok::RParen, "`)`")?;
                    let span = lhs.span.to(end);
                    lhs = Expr::new(
                        ExprKind::Between { expr: Box::new(lhs), lo: Box::new(lo), hi: Box::new(hi), neg },
                        span,
                    );
                    self.check_depth(&lhs, op_span)?;
                }
                "has_any_cs" | "has_all_cs" | "in_cs" | "matches_regex" => {
                    return Err(SpannedError::unsupported(format!("operator `{word}` is not supported"), op_span));
                }
                _ => {
                    if neg {
                        return Err(SpannedError::syntax(format!("unknown operator `!{word}`"), op_span));
                    }
                    return Ok(lhs);
                }
            }
        }
    }

    /// Consumes `!`? and the operator word.
    fn skip_op_words(&mut self, neg: bool) -> PResult<()> {
        if neg {
            self.next()?;
        }
        self.next()?;
        Ok(())
    }

    /// `( e, e, ... )`, elements may be pipelines (`in (T | where ...)`).
    fn paren_list(&mut self) -> PResult<(Vec<Expr>, Span)> {
        self.expect(&Tok::LParen, "`(`")?;
        let mut list = Vec::new();
        if !self.at(&Tok::RParen)? {
            loop {
                list.push(self.pipe_expr()?);
                if !self.eat(&Tok::Comma)? {
                    break;
                }
            }
        }
        let end = self.expect(&Tok::RParen, "`)` closing the list")?;
        Ok((list, end))
    }

    fn add_expr(&mut self) -> PResult<Expr> {
        let mut lhs = self.mul_expr()?;
        loop {
            let op = match self.peek()? {
                Tok::Plus => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                _ => return Ok(lhs),
            };
            self.next()?;
            let rhs = self.mul_expr()?;
            lhs = self.link(op, lhs, rhs)?;
        }
    }

    fn mul_expr(&mut self) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek()? {
                Tok::Star => BinOp::Mul,
                Tok::Slash => BinOp::Div,
                Tok::Percent => BinOp::Mod,
                _ => return Ok(lhs),
            };
            self.next()?;
            let rhs = self.unary()?;
            lhs = self.link(op, lhs, rhs)?;
        }
    }

    fn unary(&mut self) -> PResult<Expr> {
        let sp = self.peek_span()?;
        match self.peek()? {
            Tok::Minus => {
                self.next()?;
                self.enter(sp)?;
                let e = self.unary();
                self.leave();
                let e = e?;
                let span = sp.to(e.span);
                // Fold negative number literals so `-1` is a literal.
                Ok(match e.kind {
                    ExprKind::Lit(Lit::Long(v)) => Expr::new(ExprKind::Lit(Lit::Long(v.wrapping_neg())), span),
                    ExprKind::Lit(Lit::Real(v)) => Expr::new(ExprKind::Lit(Lit::Real(-v)), span),
                    ExprKind::Lit(Lit::Timespan(v)) => Expr::new(ExprKind::Lit(Lit::Timespan(v.wrapping_neg())), span),
                    _ => Expr::new(ExprKind::Neg(Box::new(e)), span),
                })
            }
            Tok::Plus => {
                // `+ + x` is `x`: a loop, so a run of `+` does not recurse.
                while self.eat(&Tok::Plus)? {}
                self.unary()
            }
            _ => self.postfix(),
        }
    }

    /// A primary followed by `.member` and `[index]`.
    pub fn postfix(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        loop {
            match self.peek()? {
                Tok::Dot => {
                    self.next()?;
                    let name = if self.at(&Tok::LBracket)? {
                        self.ident("a member name")?
                    } else {
                        self.ident("a member name after `.`")?
                    };
                    let (span, at) = (e.span.to(name.span), name.span);
                    e = Expr::new(ExprKind::Member { expr: Box::new(e), name }, span);
                    self.check_depth(&e, at)?;
                }
                Tok::LBracket => {
                    self.next()?;
                    let index = self.expr()?;
                    let end = self.expect(&Tok::RBracket, "`]`")?;
                    let span = e.span.to(end);
                    let at = index.span;
                    e = Expr::new(ExprKind::Index { expr: Box::new(e), index: Box::new(index) }, span);
                    self.check_depth(&e, at)?;
                }
                _ => return Ok(e),
            }
        }
    }

    pub fn primary(&mut self) -> PResult<Expr> {
        let t = self.next()?;
        let span = t.span;
        let lit = |l: Lit| Ok(Expr::new(ExprKind::Lit(l), span));
        match t.tok {
            Tok::Int(v) => lit(Lit::Long(v)),
            Tok::Real(v) => lit(Lit::Real(v)),
            Tok::Timespan(v) => lit(Lit::Timespan(v)),
            Tok::Str(mut s) => {
                // Adjacent string literals concatenate: "a" "b" == "ab".
                let mut end = span;
                while let Tok::Str(more) = self.peek()?.clone() {
                    end = self.next()?.span;
                    s.push_str(&more);
                }
                Ok(Expr::new(ExprKind::Lit(Lit::Str(s)), span.to(end)))
            }
            Tok::Star => Ok(Expr::new(ExprKind::Star, span)),
            Tok::LParen => {
                let e = self.pipe_expr()?;
                // `(a, b)` tuples only appear before `=`; not an expression.
                let end = self.expect(&Tok::RParen, "`)`")?;
                Ok(Expr { span: span.to(end), ..e })
            }
            Tok::LBracket => {
                // ['column name']
                let s = self.next()?;
                let Tok::Str(name) = s.tok else {
                    return Err(SpannedError::syntax("expected a quoted name in `[...]`", s.span));
                };
                let end = self.expect(&Tok::RBracket, "`]`")?;
                Ok(Expr::new(ExprKind::Ident(name), span.to(end)))
            }
            Tok::Ident(name) => self.ident_primary(name, span),
            other => Err(SpannedError::syntax(format!("expected an expression, found {}", other.describe()), span)),
        }
    }

    fn ident_primary(&mut self, name: String, span: Span) -> PResult<Expr> {
        match name.as_str() {
            "true" | "True" | "TRUE" => return Ok(Expr::new(ExprKind::Lit(Lit::Bool(true)), span)),
            "false" | "False" | "FALSE" => return Ok(Expr::new(ExprKind::Lit(Lit::Bool(false)), span)),
            _ => {}
        }
        if !self.at(&Tok::LParen)? {
            return Ok(Expr::new(ExprKind::Ident(name), span));
        }
        match name.as_str() {
            // `datetime("2014-05-25T08:20:03.123456Z")`: the string form.
            "datetime" if matches!(self.peek_at(1)?.tok, Tok::Str(_)) && self.peek_at(2)?.tok == Tok::RParen => {
                self.next()?;
                let t = self.next()?;
                let end = self.next()?.span;
                let Tok::Str(text) = t.tok else { unreachable!() };
                let ns = parse_datetime(&text)
                    .ok_or_else(|| SpannedError::syntax(format!("bad datetime literal `{text}`"), t.span))?;
                return Ok(Expr::new(ExprKind::Lit(Lit::DateTime(ns)), span.to(end)));
            }
            // `time(14.02:03:04.12345)`, `timespan(10:30)`: clock forms.
            "time" | "timespan" if self.clock_literal_follows()? => {
                self.next()?;
                let (text, tspan) = self.raw_until_rparen()?;
                let end = Span::new(tspan.end, tspan.end + 1);
                let ns = parse_clock_timespan(text.trim())
                    .ok_or_else(|| SpannedError::syntax(format!("bad timespan literal `{text}`"), tspan))?;
                return Ok(Expr::new(ExprKind::Lit(Lit::Timespan(ns)), span.to(end)));
            }
            "datetime" | "todatetime" if self.raw_literal_follows()? => {
                self.next()?;
                let (text, tspan) = self.raw_until_rparen()?;
                let end = Span::new(tspan.end, tspan.end + 1);
                let l = if text == "null" {
                    Lit::TypedNull(ScalarType::DateTime)
                } else {
                    Lit::DateTime(
                        parse_datetime(&text)
                            .ok_or_else(|| SpannedError::syntax(format!("bad datetime literal `{text}`"), tspan))?,
                    )
                };
                return Ok(Expr::new(ExprKind::Lit(l), span.to(end)));
            }
            "dynamic" => {
                self.next()?;
                let v = self.dynamic_value()?;
                let end = self.expect(&Tok::RParen, "`)` closing `dynamic(`")?;
                return Ok(Expr::new(ExprKind::Lit(Lit::Dynamic(v)), span.to(end)));
            }
            "datatable" => return self.datatable(span),
            "externaldata" => {
                return Err(SpannedError::unsupported(
                    "`externaldata` is not supported: netward does not fetch data from outside its store",
                    span,
                ))
            }
            "materialized_view" | "cluster" | "database" | "external_table" | "evaluate" | "range" | "print" => {
                return Err(SpannedError::unsupported(format!("`{name}` is not supported"), span))
            }
            _ => {}
        }
        if let Some(ty) = ScalarType::from_name(&name) {
            // Typed literals: int(null), long(5), real(1.5), bool(true), time(1d).
            if matches!(self.peek_at(1)?.tok, Tok::Ident(ref w) if w == "null") && self.peek_at(2)?.tok == Tok::RParen {
                self.next()?;
                self.next()?;
                let end = self.next()?.span;
                return Ok(Expr::new(ExprKind::Lit(Lit::TypedNull(ty)), span.to(end)));
            }
            if matches!(ty, ScalarType::Timespan) {
                self.next()?;
                let e = self.expr()?;
                let end = self.expect(&Tok::RParen, "`)`")?;
                return Ok(Expr { span: span.to(end), ..e });
            }
        }
        // A call.
        self.next()?;
        let mut args = Vec::new();
        if !self.at(&Tok::RParen)? {
            loop {
                args.push(self.pipe_expr()?);
                if !self.eat(&Tok::Comma)? {
                    break;
                }
            }
        }
        let end = self.expect(&Tok::RParen, "`)` closing the call")?;
        Ok(Expr::new(ExprKind::Call { name: Ident { name, span }, args }, span.to(end)))
    }

    /// `datetime(` followed by raw text rather than an expression: a digit or
    /// `null`. `todatetime(x)` with an expression is a normal call.
    /// Whether `(` is followed by a clock-form timespan: a number directly
    /// followed by `:` (`10:30`, `14.02:03:04`).
    fn clock_literal_follows(&mut self) -> PResult<bool> {
        let first = self.peek_at(1)?.clone();
        let second = self.peek_at(2)?.clone();
        Ok(matches!(first.tok, Tok::Int(_) | Tok::Real(_))
            && second.tok == Tok::Colon
            && second.span.start == first.span.end)
    }

    fn raw_literal_follows(&mut self) -> PResult<bool> {
        Ok(match &self.peek_at(1)?.tok {
            Tok::Int(_) | Tok::Real(_) | Tok::Timespan(_) => true,
            Tok::Ident(w) => w == "null",
            _ => false,
        })
    }

    /// The inside of `dynamic(...)`: JSON with KQL literals.
    fn dynamic_value(&mut self) -> PResult<serde_json::Value> {
        use serde_json::Value as J;
        let sp = self.peek_span()?;
        self.enter(sp)?;
        let t = self.next()?;
        let v = match t.tok {
            Tok::LBracket => {
                let mut items = Vec::new();
                if !self.at(&Tok::RBracket)? {
                    loop {
                        items.push(self.dynamic_value()?);
                        if !self.eat(&Tok::Comma)? {
                            break;
                        }
                        if self.at(&Tok::RBracket)? {
                            break;
                        }
                    }
                }
                self.expect(&Tok::RBracket, "`]`")?;
                J::Array(items)
            }
            Tok::LBrace => {
                let mut map = serde_json::Map::new();
                if !self.at(&Tok::RBrace)? {
                    loop {
                        let k = self.next()?;
                        let key = match k.tok {
                            Tok::Str(s) | Tok::Ident(s) => s,
                            other => {
                                return Err(SpannedError::syntax(
                                    format!("expected a key, found {}", other.describe()),
                                    k.span,
                                ))
                            }
                        };
                        self.expect(&Tok::Colon, "`:`")?;
                        map.insert(key, self.dynamic_value()?);
                        if !self.eat(&Tok::Comma)? {
                            break;
                        }
                    }
                }
                self.expect(&Tok::RBrace, "`}`")?;
                J::Object(map)
            }
            Tok::Str(s) => J::String(s),
            Tok::Int(i) => J::from(i),
            Tok::Real(r) => serde_json::Number::from_f64(r).map(J::Number).unwrap_or(J::Null),
            Tok::Timespan(ns) => J::String(crate::value::format_timespan(ns)),
            Tok::Minus => match self.next()?.tok {
                Tok::Int(i) => J::from(i.wrapping_neg()),
                Tok::Real(r) => serde_json::Number::from_f64(-r).map(J::Number).unwrap_or(J::Null),
                _ => return Err(SpannedError::syntax("expected a number after `-`", t.span)),
            },
            Tok::Ident(w) => match w.as_str() {
                "null" => J::Null,
                "true" => J::Bool(true),
                "false" => J::Bool(false),
                "datetime" => {
                    self.expect(&Tok::LParen, "`(`")?;
                    let (text, tspan) = self.raw_until_rparen()?;
                    let ns = parse_datetime(&text)
                        .ok_or_else(|| SpannedError::syntax(format!("bad datetime literal `{text}`"), tspan))?;
                    J::String(crate::value::format_datetime(ns))
                }
                _ => return Err(SpannedError::syntax(format!("unexpected `{w}` in a dynamic literal"), t.span)),
            },
            other => {
                return Err(SpannedError::syntax(
                    format!("unexpected {} in a dynamic literal", other.describe()),
                    t.span,
                ))
            }
        };
        self.leave();
        Ok(v)
    }

    /// `datatable(a:string, ...) [ v, v, ... ]`
    fn datatable(&mut self, start: Span) -> PResult<Expr> {
        self.expect(&Tok::LParen, "`(`")?;
        let mut columns = Vec::new();
        loop {
            let c = self.ident("a column name")?;
            self.expect(&Tok::Colon, "`:` and a type")?;
            let t = self.ident("a type")?;
            columns.push((c, t));
            if !self.eat(&Tok::Comma)? {
                break;
            }
        }
        self.expect(&Tok::RParen, "`)`")?;
        self.expect(&Tok::LBracket, "`[` and the rows")?;
        let mut values = Vec::new();
        if !self.at(&Tok::RBracket)? {
            loop {
                values.push(self.expr()?);
                if !self.eat(&Tok::Comma)? {
                    break;
                }
                if self.at(&Tok::RBracket)? {
                    break;
                }
            }
        }
        let end = self.expect(&Tok::RBracket, "`]`")?;
        Ok(Expr::new(ExprKind::Datatable { columns, values }, start.to(end)))
    }
}

/// Parses the text of a `datetime(...)` literal into Unix nanoseconds (UTC),
/// with the event model's one parser of written times.
pub fn parse_datetime(text: &str) -> Option<i64> {
    netward_events::Timestamp::parse(text).ok().map(|t| t.unix_nanos())
}

/// `[-][d.]hh:mm[:ss[.fffffff]]` as nanoseconds (Kusto's clock form of a
/// timespan literal).
fn parse_clock_timespan(text: &str) -> Option<i64> {
    let (neg, t) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let parts: Vec<&str> = t.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let (days, hours) = match parts[0].split_once('.') {
        Some((d, h)) => (d.parse::<i64>().ok()?, h.parse::<i64>().ok()?),
        None => (0, parts[0].parse::<i64>().ok()?),
    };
    let minutes = parts[1].parse::<i64>().ok()?;
    let (secs, frac) = match parts.get(2) {
        None => (0, 0),
        Some(s) => match s.split_once('.') {
            Some((a, f)) if !f.is_empty() && f.len() <= 7 && f.bytes().all(|b| b.is_ascii_digit()) => {
                let ticks: i64 = format!("{f:0<7}").parse().ok()?;
                (a.parse::<i64>().ok()?, ticks * 100)
            }
            Some(_) => return None,
            None => (s.parse::<i64>().ok()?, 0),
        },
    };
    if hours > 23 || minutes > 59 || secs > 59 {
        return None;
    }
    let ns = (((days * 24 + hours) * 60 + minutes) * 60 + secs).checked_mul(1_000_000_000)?.checked_add(frac)?;
    Some(if neg { -ns } else { ns })
}
