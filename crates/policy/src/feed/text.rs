//! Hosts files and plain domain lists.
//!
//! Hosts: `<ip> <name> [<name>...]`, `#` starts a comment; the address is
//! ignored (blocklists use `0.0.0.0` or `127.0.0.1`), names such as
//! `localhost` that every hosts file carries are ignored. Domain lists: one
//! domain (or IP address) per line, `*.` prefix allowed, `#` comments.

use std::io::BufRead;
use std::net::IpAddr;

use super::lines::{for_each_line, Line};
use super::{Details, FeedError, FeedItem, ImportReport};
use crate::indicator::{IndicatorType, Target};

/// Which of the two formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Hosts file.
    Hosts,
    /// Domain list.
    Domains,
}

/// Names every hosts file maps to itself, canonical; not indicators (nor is
/// `0.0.0.0` written as a name).
const LOCAL_NAMES: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-mcastprefix",
    "ip6-allnodes",
    "ip6-allrouters",
    "ip6-allhosts",
];

/// Whether a canonical hosts-file target is one of [`LOCAL_NAMES`].
fn is_local_name(t: &Target) -> bool {
    match t {
        Target::Domain(d) => LOCAL_NAMES.contains(&d.as_str()),
        Target::Ip(ip) => ip.is_unspecified() && ip.is_ipv4(),
        _ => false,
    }
}

/// A domain, or failing that an IP address.
pub(crate) fn host_target(tok: &str) -> Result<Target, String> {
    match Target::parse(IndicatorType::Domain, tok) {
        Ok(t) => Ok(t),
        Err(e) => Target::parse(IndicatorType::Ip, tok).map_err(|_| e.to_string()),
    }
}

/// Report an unusable line; `true` if the line was text.
pub(crate) fn unusable(report: &mut ImportReport, n: u64, line: &Line<'_>) -> bool {
    match line {
        Line::Text(_) => return true,
        Line::TooLong => report.error(n, format!("line longer than {} bytes", super::MAX_LINE)),
        Line::NotUtf8(at) => report.error(n, format!("not UTF-8 at byte {at}")),
    }
    false
}

pub(crate) fn item(target: Target, line: u64) -> FeedItem {
    FeedItem { target, category: None, details: Details::default(), line }
}

pub fn parse<R: BufRead>(
    r: R,
    kind: Kind,
    report: &mut ImportReport,
    sink: &mut dyn FnMut(FeedItem),
) -> Result<(), FeedError> {
    let lines = for_each_line(r, |n, line| {
        if !unusable(report, n, &line) {
            return;
        }
        let Line::Text(text) = line else { return };
        let body = text.split('#').next().unwrap_or("").trim();
        if body.is_empty() {
            report.ignored += 1;
            return;
        }
        let mut tokens = body.split_whitespace();
        let names: Vec<&str> = match kind {
            Kind::Domains => {
                let first = tokens.next().unwrap_or("");
                if tokens.next().is_some() {
                    report.error(n, "more than one field on a domain-list line");
                    return;
                }
                vec![first]
            }
            Kind::Hosts => {
                let addr = tokens.next().unwrap_or("");
                if addr.parse::<IpAddr>().is_err() {
                    report.error(n, format!("first field {addr:?} is not an IP address"));
                    return;
                }
                let names: Vec<&str> = tokens.collect();
                if names.is_empty() {
                    report.error(n, "no host name after the address");
                    return;
                }
                names
            }
        };
        for name in names {
            match host_target(name) {
                // Checked on the canonical form, so `LOCALHOST.`, `local.` or
                // `0` (inet_aton for 0.0.0.0) are recognised as well.
                Ok(t) if kind == Kind::Hosts && is_local_name(&t) => report.ignored += 1,
                Ok(t) => {
                    report.imported += 1;
                    sink(item(t, n));
                }
                Err(e) => report.error(n, e),
            }
        }
    })?;
    report.lines = lines;
    Ok(())
}
