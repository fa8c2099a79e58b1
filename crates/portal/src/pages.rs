//! The pages, rendered on the server (maud escapes every value): they work
//! with JavaScript off. Handlers in `server` fetch the data; these only
//! draw it.

use crate::auth::Session;
use crate::backend::{
    Grid, HistoryRow, ImportOutcome, QueryError, ENFORCEMENT_LEVEL, NOTIFICATION_HELP_URL, NOTIFICATION_TEXT,
};
use crate::chart::{self, cell_text};
use crate::saved::SavedQuery;
use crate::users::Role;
use maud::{html, Markup, PreEscaped, DOCTYPE};

pub fn layout(title: &str, s: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "netward — " (title) }
                link rel="stylesheet" href="/static/portal.css";
            }
            body {
                @if let Some(s) = s {
                    nav {
                        a href="/timeline" { "Timeline" }
                        a href="/alerts" { "Alerts" }
                        a href="/hunt" { "Advanced hunting" }
                        a href="/indicators" { "Indicators" }
                        @if s.role == Role::Admin { a href="/settings" { "Settings" } }
                        span.who { (s.user) " (" (s.role.as_str()) ")" }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" id="logout" { "Log out" }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

pub fn login(error: Option<&str>) -> Markup {
    layout(
        "Log in",
        None,
        html! {
            @if let Some(e) = error { p.error id="login-error" { (e) } }
            form method="post" action="/login" {
                p { label { "User " input name="user" id="user" autocomplete="username"; } }
                p { label { "Password " input name="password" id="password" type="password" autocomplete="current-password"; } }
                button type="submit" id="login" { "Log in" }
            }
        },
    )
}

pub fn message(title: &str, s: Option<&Session>, text: &str) -> Markup {
    layout(title, s, html! { p.error { (text) } })
}

fn verdict_class(action: &str) -> &'static str {
    if action.ends_with("Blocked") {
        "blocked"
    } else if action.ends_with("Audited") {
        "audited"
    } else {
        ""
    }
}

fn col<'a>(g: &Grid, row: &'a [serde_json::Value], name: &str) -> Option<&'a serde_json::Value> {
    g.columns.iter().position(|c| c == name).and_then(|i| row.get(i))
}

fn text(g: &Grid, row: &[serde_json::Value], name: &str) -> String {
    col(g, row, name).map(cell_text).unwrap_or_default()
}

pub struct TimelineFilter {
    pub action: String,
    pub process: String,
    pub remote: String,
    pub from: String,
    pub to: String,
}

/// The device timeline: newest first, a page of rows, an "older" link that
/// continues before the page's last timestamp.
pub fn timeline(s: &Session, f: &TimelineFilter, page: Result<&Grid, &QueryError>, older: Option<String>) -> Markup {
    let body = html! {
        form method="get" action="/timeline" {
            label { "Action type " input name="action" value=(f.action); } " "
            label { "Process " input name="process" value=(f.process); } " "
            label { "Remote name or address " input name="remote" value=(f.remote); } " "
            label { "From " input name="from" value=(f.from) placeholder="2024-01-01T00:00:00Z"; } " "
            label { "To " input name="to" value=(f.to); } " "
            button type="submit" { "Filter" }
        }
        @match page {
            Err(e) => { p.error { (e.message) } }
            Ok(g) => {
                table id="timeline" {
                    tr { th { "Timestamp" } th { "Device" } th { "Action" } th { "Process" } th { "Local" } th { "Remote" } th { "Real destination" } th { "Proxy" } th {} }
                    @for r in &g.rows {
                        @let action = text(g, r, "ActionType");
                        @let extra = col(g, r, "AdditionalFields").cloned().unwrap_or_default();
                        @let proxy = extra.get("proxy");
                        tr class=(verdict_class(&action)) {
                            td { (text(g, r, "Timestamp")) }
                            td { (text(g, r, "DeviceName")) }
                            td class={"verdict-" (verdict_class(&action))} { (action) }
                            td { (text(g, r, "InitiatingProcessFileName")) }
                            td { (text(g, r, "LocalIP")) ":" (text(g, r, "LocalPort")) }
                            td { (text(g, r, "RemoteIP")) ":" (text(g, r, "RemotePort")) }
                            td.destination { (text(g, r, "RemoteUrl")) }
                            td.proxy {
                                @if let Some(p) = proxy {
                                    (p.get("kind").map(cell_text).unwrap_or_default()) " proxy " (p.get("proxy").or(p.get("address")).map(cell_text).unwrap_or_default())
                                    " → " (p.get("target").map(cell_text).unwrap_or_default())
                                }
                            }
                            td { a href={"/event?ts=" (url(&text(g, r, "Timestamp"))) "&rid=" (url(&text(g, r, "ReportId")))} { "details" } }
                        }
                    }
                }
                @if g.rows.is_empty() { p { "No events." } }
                @if let Some(o) = older { p { a id="older" href=(o) { "Older events →" } } }
            }
        }
    };
    layout("Device timeline", Some(s), body)
}

pub fn event(s: &Session, g: &Grid) -> Markup {
    let body = html! {
        @match g.rows.first() {
            None => p.error { "No such event." },
            Some(r) => table id="event" {
                @for (i, c) in g.columns.iter().enumerate() {
                    tr { th { (c) } td {
                        @if c == "AdditionalFields" {
                            pre { (serde_json::to_string_pretty(&r[i]).unwrap_or_default()) }
                        } @else { (cell_text(&r[i])) }
                    } }
                }
            },
        }
    };
    layout("Event", Some(s), body)
}

pub fn alerts(s: &Session, g: Result<&Grid, &QueryError>) -> Markup {
    let body = html! {
        @match g {
            Err(e) => p.error { (e.message) },
            Ok(g) => {
                table id="alerts" {
                    tr { @for c in &g.columns { th { (c) } } th { "Events" } }
                    @for r in &g.rows {
                        tr class=(verdict_class(&text(g, r, "ActionType"))) {
                            @for v in r { td { (cell_text(v)) } }
                            td { a href={"/timeline?remote=" (url(&text(g, r, "RemoteUrl")))} { "connections" } }
                        }
                    }
                }
                @if g.rows.is_empty() { p { "No audited or blocked connections." } }
            }
        }
    };
    layout("Alerts", Some(s), body)
}

pub const PAGE_ROWS: usize = 100;

pub struct HuntView<'a> {
    pub query: &'a str,
    /// None: nothing run (an empty editor, an example opened, a save).
    pub result: Option<Result<&'a Grid, &'a QueryError>>,
    pub page: usize,
    pub saved: &'a [SavedQuery],
    /// The public corpus queries: (title, text).
    pub examples: &'a [(String, String)],
    pub notice: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// The title's last part: the file the corpus query came from.
fn example_title(t: &str) -> &str {
    t.rsplit(" : ").next().unwrap_or(t)
}

pub fn hunt(s: &Session, v: HuntView<'_>) -> Markup {
    let (query, page) = (v.query, v.page);
    let body = html! {
        @if let Some(n) = v.notice { p.ok id="notice" { (n) } }
        @if let Some(e) = v.error { p.error id="error" { (e) } }
        form method="get" action="/hunt" {
            // The editor script colours it and completes names; without
            // JavaScript it is a plain textarea.
            div.kql-editor id="kql-editor" data-csrf=(s.csrf) {
                textarea name="q" id="query" rows="8" spellcheck="false" autocomplete="off" { (query) }
            }
            p { button type="submit" id="run" { "Run query" } }
        }
        script src="/static/kql-editor.js" defer {}
        @if !query.trim().is_empty() {
            form method="post" action="/hunt/save" id="save-query" {
                input type="hidden" name="csrf" value=(s.csrf);
                input type="hidden" name="q" value=(query);
                label { "Save as " input name="name" id="save-name" maxlength="100"; } " "
                button type="submit" id="save-button" { "Save query" }
            }
        }
        h2 { "Saved queries" }
        @if v.saved.is_empty() { p { "None yet." } }
        ul id="saved" {
            @for q in v.saved {
                li {
                    a href={"/hunt?q=" (url(&q.query))} { (q.name) } " "
                    form.inline method="post" action="/hunt/delete" {
                        input type="hidden" name="csrf" value=(s.csrf);
                        input type="hidden" name="name" value=(q.name);
                        button type="submit" { "Delete" }
                    }
                }
            }
        }
        p { "Examples: "
            @for (name, q) in EXAMPLES { a href={"/hunt?q=" (url(q))} { (name) } " · " }
        }
        @if !v.examples.is_empty() {
            details id="corpus" {
                summary { "Public hunting queries (" (v.examples.len()) "), opened in the editor" }
                ul { @for (i, (t, _)) in v.examples.iter().enumerate() { li { a href={"/hunt?example=" (i)} { (example_title(t)) } } } }
            }
        }
        @match v.result {
            None => {},
            Some(Err(e)) => {
                div.error id="query-error" {
                    "line " (e.line) ", column " (e.col) ": " (e.message) "\n"
                    @if let Some(l) = query.lines().nth(e.line.saturating_sub(1)) {
                        (l) "\n" (" ".repeat(e.col.saturating_sub(1))) "^"
                    }
                }
            },
            Some(Ok(g)) => {
                @if chart::wanted(g, query) { div id="chart" { (chart::draw(g)) } }
                p { (g.rows.len()) " row(s)" @if g.truncated { " (cut at the row limit)" } " · "
                    a id="csv" href={"/hunt.csv?q=" (url(query))} { "Export CSV" } }
                table id="results" {
                    tr { @for c in &g.columns { th { (c) } } }
                    @for r in g.rows.iter().skip(page * PAGE_ROWS).take(PAGE_ROWS) {
                        tr { @for v in r { td { (cell_text(v)) } } }
                    }
                }
                p {
                    @if page > 0 { a href={"/hunt?q=" (url(query)) "&page=" (page - 1)} { "← previous" } " " }
                    @if (page + 1) * PAGE_ROWS < g.rows.len() { a id="next" href={"/hunt?q=" (url(query)) "&page=" (page + 1)} { "next →" } }
                }
            }
        }
    };
    layout("Advanced hunting", Some(s), body)
}

const EXAMPLES: [(&str, &str); 3] = [
    ("latest connections", "DeviceNetworkEvents\n| order by Timestamp desc\n| take 50"),
    ("connections per hour", "DeviceNetworkEvents\n| summarize count() by bin(Timestamp, 1h)\n| render timechart"),
    ("top destinations", "DeviceNetworkEvents\n| where RemoteUrl != \"\"\n| summarize Connections = count() by RemoteUrl\n| top 20 by Connections\n| render barchart"),
];

pub struct IndicatorsView<'a> {
    pub search: &'a str,
    pub grid: Result<&'a Grid, &'a str>,
    pub notice: Option<&'a str>,
    pub error: Option<&'a str>,
    pub import: Option<&'a ImportOutcome>,
}

pub fn indicators(s: &Session, v: IndicatorsView<'_>) -> Markup {
    let admin = s.role == Role::Admin;
    let needle = v.search.to_lowercase();
    let body = html! {
        @if let Some(n) = v.notice { p.ok id="notice" { (n) } }
        @if let Some(e) = v.error { p.error id="error" { (e) } }
        @if let Some(i) = v.import {
            div.ok id="import-summary" { (i.summary) }
            @if !i.errors.is_empty() { div.error id="import-errors" { @for e in &i.errors { (e) "\n" } } }
        }
        form method="get" action="/indicators" {
            input name="search" value=(v.search) placeholder="search"; " " button type="submit" { "Search" }
        }
        @match v.grid {
            Err(e) => p.error { (e) },
            Ok(g) => table id="indicators" {
                tr { @for c in &g.columns { th { (c) } } @if admin { th {} } }
                @for r in g.rows.iter().filter(|r| needle.is_empty() || r.iter().any(|c| cell_text(c).to_lowercase().contains(&needle))) {
                    tr {
                        @for c in r { td { (cell_text(c)) } }
                        @if admin { td { form.inline method="post" action="/indicators/remove" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            input type="hidden" name="id" value=(r.first().map(cell_text).unwrap_or_default());
                            button type="submit" { "Remove" }
                        } } }
                    }
                }
            },
        }
        @if admin {
            h2 { "Add an indicator" }
            form method="post" action="/indicators/add" id="add" {
                input type="hidden" name="csrf" value=(s.csrf);
                label { "Type " select name="type" { @for t in ["domain", "url", "ip", "cidr"] { option { (t) } } } } " "
                label { "Value " input name="value" id="value"; } " "
                label { "Action " select name="action" id="action" { @for a in ["block", "audit", "warn", "allow"] { option { (a) } } } } " "
                label { "Title " input name="title"; } " "
                button type="submit" id="add-button" { "Add" }
            }
            h2 { "Import a feed" }
            form method="post" action="/indicators/import" {
                input type="hidden" name="csrf" value=(s.csrf);
                label { "Source " input name="source" value="portal-import"; } " "
                label { "Format " select name="format" { @for f in ["domains", "hosts", "adblock", "urlhaus", "stix"] { option { (f) } } } }
                textarea name="text" rows="6" placeholder="one entry a line" {}
                button type="submit" { "Import" }
            }
        }
    };
    layout("Indicators", Some(s), body)
}

pub struct SettingsView<'a> {
    /// (key, current value) of each editable setting.
    pub values: &'a [(&'static str, String)],
    pub history: Result<&'a [HistoryRow], &'a str>,
    pub notice: Option<&'a str>,
    pub error: Option<&'a str>,
}

pub fn settings(s: &Session, v: SettingsView<'_>) -> Markup {
    let value = |k: &str| v.values.iter().find(|(key, _)| *key == k).map(|(_, v)| v.as_str()).unwrap_or("");
    let level = value(ENFORCEMENT_LEVEL);
    let body = html! {
        @if let Some(n) = v.notice { p.ok id="notice" { (n) } }
        @if let Some(e) = v.error { p.error id="error" { (e) } }
        form method="post" action="/settings" {
            input type="hidden" name="csrf" value=(s.csrf);
            p { label { "Network protection enforcement level "
                select name=(ENFORCEMENT_LEVEL) id="enforcement_level" {
                    @for l in ["disabled", "audit", "block"] { option value=(l) selected[l == level] { (l) } }
                }
            } }
            p { label { "Notification text (shown to the user whose program was blocked or warned) "
                input name=(NOTIFICATION_TEXT) id="notification_text" size="80" value=(value(NOTIFICATION_TEXT));
            } }
            p { label { "Notification help page "
                input name=(NOTIFICATION_HELP_URL) id="notification_help_url" size="60" placeholder="https://" value=(value(NOTIFICATION_HELP_URL));
            } }
            button type="submit" id="save" { "Save" }
        }
        h2 { "History (event 5007)" }
        @match v.history {
            Err(e) => p.error { (e) },
            Ok(h) => table id="history" {
                tr { th { "Time" } th { "User" } th { "Setting" } th { "Old" } th { "New" } }
                @for r in h { tr { td { (r.time) } td.user { (r.user) } td { (r.setting) } td { (r.old) } td { (r.new) } } }
            },
        }
    };
    layout("Settings", Some(s), body)
}

/// Percent-encoding for query string values.
pub fn url(s: &str) -> PreEscaped<String> {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    // Only [A-Za-z0-9%-_.~] remain: nothing to escape in an attribute.
    PreEscaped(o)
}
