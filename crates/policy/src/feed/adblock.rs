//! AdBlock filter lists, domain subset: only `||domain^` (block the domain
//! and its subdomains) is taken. Every other rule is counted as skipped with
//! its reason: exceptions (`@@`), cosmetic rules (`##`), rules with
//! `$options` (they narrow the rule to request types or sites, which a
//! connection-level block cannot honour), `||domain` without `^` (a plain
//! prefix, which would also match `domain.evil`), paths and wildcards.
//! `!` comments and the `[Adblock Plus x.y]` header are ignored.

use std::io::BufRead;

use super::lines::{for_each_line, Line};
use super::text::{host_target, item, unusable};
use super::{FeedError, FeedItem, ImportReport};

/// Why a rule is not a `||domain^` rule, or the domain.
fn classify(rule: &str) -> Result<&str, &'static str> {
    if rule.starts_with("@@") {
        return Err("exception rule (@@)");
    }
    if rule.contains("##") || rule.contains("#@#") || rule.contains("#?#") || rule.contains("#$#") {
        return Err("cosmetic rule");
    }
    let Some(body) = rule.strip_prefix("||") else {
        return Err("not a ||domain^ rule");
    };
    if body.contains('$') {
        return Err("rule with $options");
    }
    let Some(domain) = body.strip_suffix('^') else {
        return Err("||rule without ^ separator (prefix match)");
    };
    if domain.is_empty() || domain.contains(['/', '*', '^', '|', '?']) {
        return Err("rule with a path or wildcard");
    }
    Ok(domain)
}

pub fn parse<R: BufRead>(r: R, report: &mut ImportReport, sink: &mut dyn FnMut(FeedItem)) -> Result<(), FeedError> {
    let lines = for_each_line(r, |n, line| {
        if !unusable(report, n, &line) {
            return;
        }
        let Line::Text(text) = line else { return };
        let rule = text.trim();
        if rule.is_empty() || rule.starts_with('!') || (rule.starts_with('[') && rule.ends_with(']')) {
            report.ignored += 1;
            return;
        }
        match classify(rule) {
            Err(reason) => report.skip(n, reason),
            Ok(domain) => match host_target(domain) {
                Ok(t) => {
                    report.imported += 1;
                    sink(item(t, n));
                }
                Err(e) => report.error(n, e),
            },
        }
    })?;
    report.lines = lines;
    Ok(())
}
