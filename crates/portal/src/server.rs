//! The HTTP server: routes, the session and role checks in front of every
//! page, CSRF checks on every POST, security headers on every answer.

use crate::auth::{same, Limiter, Session, Sessions};
use crate::backend::{Backend, Grid, QueryError, EDITABLE_SETTINGS};
use crate::kql::{self, MAX_TOKENS_BODY};
use crate::listen::{check_transport, Bound, PortalTls};
use crate::pages::{self, IndicatorsView, TimelineFilter};
use crate::saved::SavedQueries;
use crate::timeline;
use crate::users::{Role, UserStore};
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::Markup;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

const COOKIE: &str = "netward_session";
/// Rows a hunting query keeps (the grid pages through them, CSV exports them).
const MAX_QUERY_ROWS: usize = 10_000;
const TIMELINE_ROWS: usize = 50;

pub struct PortalOptions {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// HTTPS; required for a non-loopback address.
    pub tls: Option<PortalTls>,
}

struct App {
    backend: Arc<dyn Backend>,
    data_dir: PathBuf,
    sessions: Sessions,
    limiter: Limiter,
    /// Cookies get `Secure` under TLS.
    tls: bool,
    /// The public corpus queries (title, text), offered on the hunting page.
    examples: Vec<(String, String)>,
    saved_lock: std::sync::Mutex<()>,
}

type St = State<Arc<App>>;
type Params = Query<HashMap<String, String>>;
type Fields = Form<HashMap<String, String>>;

/// Binds, prints where it listens (and the certificate's fingerprint), and
/// serves until the process ends.
pub async fn serve(backend: Arc<dyn Backend>, opts: PortalOptions) -> Result<(), String> {
    let bound = bind(backend, opts).await?;
    println!("{}", bound.banner());
    bound.run().await
}

/// Checks the transport, builds the routes and binds the address.
pub async fn bind(backend: Arc<dyn Backend>, opts: PortalOptions) -> Result<Bound, String> {
    check_transport(opts.listen, opts.tls.is_some())?;
    let tls = opts.tls.is_some();
    let examples = backend.example_queries();
    let app = Arc::new(App {
        backend,
        data_dir: opts.data_dir,
        sessions: Sessions::default(),
        limiter: Limiter::default(),
        tls,
        examples,
        saved_lock: std::sync::Mutex::new(()),
    });
    let mut router = Router::new()
        .route("/", get(|| async { Redirect::to("/timeline") }))
        .route("/static/portal.css", get(css))
        .route("/static/kql-editor.js", get(editor_js))
        .route("/api/kql/tokens", post(kql_tokens))
        .route("/api/kql/schema", get(kql_schema))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/timeline", get(timeline))
        .route("/event", get(event))
        .route("/alerts", get(alerts))
        .route("/hunt", get(hunt))
        .route("/hunt.csv", get(hunt_csv))
        .route("/hunt/save", post(hunt_save))
        .route("/hunt/delete", post(hunt_delete))
        .route("/indicators", get(indicators))
        .route("/indicators/add", post(indicator_add))
        .route("/indicators/remove", post(indicator_remove))
        .route("/indicators/import", post(indicator_import))
        .route("/settings", get(settings).post(settings_set))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn(server_timing));
    if tls {
        router = router.layer(axum::middleware::map_response(hsts));
    }
    let router = router.with_state(app);
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", opts.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    Ok(Bound { listener, router, tls: opts.tls, addr })
}

/// `Server-Timing: app;dur=MS`: the time the portal spent on the answer
/// (query included, network excluded), for the browser's tools and the
/// benchmark (bench/portal.sh).
async fn server_timing(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let t = std::time::Instant::now();
    let mut r = next.run(req).await;
    let v = format!("app;dur={:.3}", t.elapsed().as_secs_f64() * 1000.0);
    if let Ok(v) = HeaderValue::from_str(&v) {
        r.headers_mut().insert("server-timing", v);
    }
    r
}

/// Under TLS the browser is told to keep to HTTPS for this host.
async fn hsts(mut r: Response) -> Response {
    r.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    r
}

async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css")], include_str!("static/portal.css"))
}

/// The hunting editor's script (colouring and completions over the
/// textarea, which works without it).
async fn editor_js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("static/kql-editor.js"))
}

/// A JSON answer of the API.
fn json(status: StatusCode, v: &serde_json::Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

/// An API refusal: `{"error": message}` with `status`.
fn api_error(status: StatusCode, message: &str) -> Response {
    json(status, &serde_json::json!({ "error": message }))
}

/// An API call's session (401 without); `csrf` also checks the
/// `X-CSRF-Token` header against it (403), as forms check their field.
#[allow(clippy::result_large_err)]
fn api_session(app: &App, h: &HeaderMap, csrf: bool) -> Result<Session, Response> {
    let Some(s) = cookie_token(h).and_then(|t| app.sessions.get(&t)) else {
        return Err(api_error(StatusCode::UNAUTHORIZED, "log in first: your session has ended"));
    };
    if csrf && !h.get("x-csrf-token").and_then(|v| v.to_str().ok()).is_some_and(|c| same(c, &s.csrf)) {
        return Err(api_error(StatusCode::FORBIDDEN, "missing or wrong CSRF token"));
    }
    Ok(s)
}

/// `POST /api/kql/tokens`: the body is the query text (UTF-8, at most
/// [`MAX_TOKENS_BODY`]); the answer its tokens and first error.
async fn kql_tokens(State(app): St, h: HeaderMap, body: axum::body::Body) -> Response {
    if let Err(r) = api_session(&app, &h, true) {
        return r;
    }
    let declared = h.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_TOKENS_BODY as u64) {
        return api_error(StatusCode::PAYLOAD_TOO_LARGE, &kql::too_large_message());
    }
    // A body without a length (chunked) is cut at the limit too.
    let Ok(bytes) = axum::body::to_bytes(body, MAX_TOKENS_BODY).await else {
        return api_error(StatusCode::PAYLOAD_TOO_LARGE, &kql::too_large_message());
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return api_error(StatusCode::BAD_REQUEST, "the query text is not UTF-8");
    };
    json(StatusCode::OK, &kql::tokens_json(text))
}

/// `GET /api/kql/schema`: tables, columns and the names to complete.
async fn kql_schema(State(app): St, h: HeaderMap) -> Response {
    if let Err(r) = api_session(&app, &h, false) {
        return r;
    }
    json(StatusCode::OK, &kql::schema_json())
}

fn cookie_token(h: &HeaderMap) -> Option<String> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(COOKIE).and_then(|r| r.strip_prefix('=')).map(str::to_string))
}

/// The page's session, or a redirect to the login page.
#[allow(clippy::result_large_err)] // the early answer is a whole response, as axum handlers return
fn session(app: &App, h: &HeaderMap) -> Result<Session, Response> {
    cookie_token(h).and_then(|t| app.sessions.get(&t)).ok_or_else(|| Redirect::to("/login").into_response())
}

/// A state change: a session (401 without), its CSRF token (403 without),
/// and for admin actions the admin role (403).
#[allow(clippy::result_large_err)]
fn change(app: &App, h: &HeaderMap, f: &HashMap<String, String>, admin: bool) -> Result<Session, Response> {
    let Some(s) = cookie_token(h).and_then(|t| app.sessions.get(&t)) else {
        return Err(
            (StatusCode::UNAUTHORIZED, pages::message("Log in first", None, "Your session has ended.")).into_response()
        );
    };
    if !f.get("csrf").is_some_and(|c| same(c, &s.csrf)) {
        return Err((StatusCode::FORBIDDEN, pages::message("Refused", Some(&s), "Missing or wrong CSRF token."))
            .into_response());
    }
    if admin && s.role != Role::Admin {
        return Err(forbidden(&s));
    }
    Ok(s)
}

fn forbidden(s: &Session) -> Response {
    (StatusCode::FORBIDDEN, pages::message("Refused", Some(s), "This page is for admins.")).into_response()
}

fn html(m: Markup) -> Response {
    m.into_response()
}

/// Runs a query on a blocking thread (the engine has its own runtime).
async fn run_query(app: &Arc<App>, q: String, max: usize) -> Result<Grid, QueryError> {
    let b = app.backend.clone();
    tokio::task::spawn_blocking(move || b.hunt(&q, max))
        .await
        .unwrap_or_else(|e| Err(QueryError { message: format!("query task failed: {e}"), line: 0, col: 0 }))
}

async fn blocking<T: Send + 'static>(app: &Arc<App>, f: impl FnOnce(&dyn Backend) -> T + Send + 'static) -> T {
    let b = app.backend.clone();
    // A panic in the backend is a bug; surface it as one.
    tokio::task::spawn_blocking(move || f(b.as_ref())).await.expect("backend task panicked")
}

async fn login_page(State(app): St, h: HeaderMap) -> Response {
    if session(&app, &h).is_ok() {
        return Redirect::to("/timeline").into_response();
    }
    html(pages::login(None))
}

async fn login(State(app): St, ConnectInfo(peer): ConnectInfo<SocketAddr>, Form(f): Fields) -> Response {
    let user = f.get("user").cloned().unwrap_or_default();
    let password = f.get("password").cloned().unwrap_or_default();
    if app.limiter.blocked(peer.ip(), &user) {
        return (StatusCode::TOO_MANY_REQUESTS, pages::login(Some("Too many failed logins; wait a minute.")))
            .into_response();
    }
    let dir = app.data_dir.clone();
    let (u2, p2) = (user.clone(), password);
    let role = tokio::task::spawn_blocking(move || UserStore::open(&dir).ok().and_then(|s| s.verify(&u2, &p2)))
        .await
        .ok()
        .flatten();
    let Some(role) = role else {
        app.limiter.failed(peer.ip(), &user);
        return (StatusCode::UNAUTHORIZED, pages::login(Some("Wrong user or password."))).into_response();
    };
    app.limiter.succeeded(&user);
    let token = app.sessions.create(&user, role);
    let secure = if app.tls { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{secure}");
    let mut r = Redirect::to("/timeline").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn logout(State(app): St, h: HeaderMap, Form(f): Fields) -> Response {
    if let Err(r) = change(&app, &h, &f, false) {
        return r;
    }
    if let Some(t) = cookie_token(&h) {
        app.sessions.remove(&t);
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("netward_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    r
}

/// A KQL string literal (verbatim: only `"` needs doubling).
fn lit(s: &str) -> String {
    format!("@\"{}\"", s.replace(['\n', '\r'], " ").replace('"', "\"\""))
}

fn param(p: &HashMap<String, String>, k: &str) -> String {
    p.get(k).map(|v| v.trim().to_string()).unwrap_or_default()
}

/// Where the next (older) timeline page starts: the last shown event's
/// exact time (nanoseconds, as the store keeps it; shown times are cut to
/// milliseconds) and its ReportId. Many events can share a millisecond, or
/// even a nanosecond on an imported store, so the time alone would skip or
/// repeat some of them at a page's edge.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    /// RFC 3339 with nanoseconds, UTC.
    time: String,
    report_id: i64,
}

impl Cursor {
    /// `before=<time>~<ReportId>` of the "older" link.
    fn parse(v: &str) -> Result<Option<Cursor>, String> {
        if v.is_empty() {
            return Ok(None);
        }
        let bad = || format!("before `{v}`: expected TIME~REPORTID from an \"older\" link");
        let (time, rid) = v.rsplit_once('~').ok_or_else(bad)?;
        let report_id = rid.parse().map_err(|_| bad())?;
        let time_ok = !time.is_empty() && time.bytes().all(|b| b.is_ascii_digit() || b"-:.TZ".contains(&b));
        if !time_ok {
            return Err(bad());
        }
        Ok(Some(Cursor { time: time.to_string(), report_id }))
    }

    fn param(&self) -> String {
        format!("{}~{}", self.time, self.report_id)
    }
}

/// The column the timeline query adds for the cursor.
const CURSOR_COLUMN: &str = "TimelineCursor";

/// The timeline's filters and cursor as KQL `where` lines.
fn timeline_filters(f: &TimelineFilter, before: Option<&Cursor>) -> String {
    let mut q = String::new();
    if let Some(c) = before {
        // The first condition alone is what the store can prune segments by.
        let t = lit(&c.time);
        q += &format!(
            "\n| where Timestamp <= todatetime({t})\n| where Timestamp < todatetime({t}) or ReportId < {}",
            c.report_id
        );
    }
    if !f.from.is_empty() {
        q += &format!("\n| where Timestamp >= todatetime({})", lit(&f.from));
    }
    if !f.to.is_empty() {
        q += &format!("\n| where Timestamp <= todatetime({})", lit(&f.to));
    }
    if !f.action.is_empty() {
        q += &format!("\n| where ActionType =~ {}", lit(&f.action));
    }
    if !f.process.is_empty() {
        q += &format!("\n| where InitiatingProcessFileName contains {}", lit(&f.process));
    }
    if !f.remote.is_empty() {
        let l = lit(&f.remote);
        q += &format!("\n| where RemoteUrl contains {l} or RemoteIP == {l}");
    }
    q
}

/// KQL of an exact time, nanoseconds kept.
const EXACT_TIME: &str = "strcat(format_datetime(Timestamp, 'yyyy-MM-ddTHH:mm:ss.fffffffff'), 'Z')";

/// First step of a page: which times it spans. Only the time, the
/// ReportId and the filtered columns are read (the store reads columns,
/// not rows), and only at or after `since` (ns) when given: the store then
/// reads just the segments reaching that far.
fn timeline_span_query(f: &TimelineFilter, before: Option<&Cursor>, since: Option<i64>) -> String {
    let since = since
        .map(|t| format!("\n| where Timestamp >= todatetime({})", lit(&netward_events::Timestamp(t).to_string())))
        .unwrap_or_default();
    format!(
        "DeviceNetworkEvents{since}{}\n| project Timestamp, ReportId\n| order by Timestamp desc, ReportId desc\n| take {}\n| summarize Rows = count(), Newest = max(Timestamp), Oldest = min(Timestamp)\n| project Rows, Newest = {}, Oldest = {}",
        timeline_filters(f, before),
        TIMELINE_ROWS + 1,
        EXACT_TIME.replace("Timestamp", "Newest"),
        EXACT_TIME.replace("Timestamp", "Oldest"),
    )
}

/// Second step: the page's rows with every column, within the span found
/// (which the store prunes segments and row groups by), newest first,
/// ties in time broken by ReportId.
fn timeline_query(f: &TimelineFilter, before: Option<&Cursor>, span: Option<(&str, &str)>) -> String {
    let mut q = String::from("DeviceNetworkEvents");
    if let Some((newest, oldest)) = span {
        q +=
            &format!("\n| where Timestamp >= todatetime({}) and Timestamp <= todatetime({})", lit(oldest), lit(newest));
    }
    q + &timeline_filters(f, before)
        + &format!(
            "\n| order by Timestamp desc, ReportId desc\n| take {}\n| extend {CURSOR_COLUMN} = {EXACT_TIME}",
            TIMELINE_ROWS + 1
        )
}

/// The page: its span, then its rows. The span is looked for among the
/// newest segments first (see `timeline`); a narrowed look that finds a
/// full page has found the page, else the next wider one is tried, last
/// the whole table.
async fn timeline_page(app: &Arc<App>, f: &TimelineFilter, before: Option<&Cursor>) -> Result<Grid, QueryError> {
    let spans = blocking(app, |b| b.timeline_spans()).await;
    let cursor_ns = before.and_then(|c| netward_events::Timestamp::parse(&c.time).ok()).map(|t| t.0);
    let bounds = timeline::lower_bounds(&spans, cursor_ns);
    for since in bounds.into_iter().map(Some).chain([None]) {
        let span = run_query(app, timeline_span_query(f, before, since), 1).await?;
        let cell = |name: &str| {
            let i = span.columns.iter().position(|c| c == name)?;
            span.rows.first()?.get(i).cloned()
        };
        let text = |name: &str| cell(name).and_then(|v| v.as_str().map(str::to_string));
        let rows = cell("Rows").and_then(|v| v.as_i64()).unwrap_or(0);
        if since.is_some() && rows <= TIMELINE_ROWS as i64 {
            continue;
        }
        return match (text("Newest"), text("Oldest")) {
            (Some(n), Some(o)) if rows > 0 => {
                run_query(app, timeline_query(f, before, Some((&n, &o))), TIMELINE_ROWS + 1).await
            }
            // No row matched: an empty page, without reading any more.
            _ => Ok(Grid { columns: span.columns, ..Grid::default() }),
        };
    }
    // Not reached: the last look has no bound and returns.
    Ok(Grid::default())
}

/// The cursor after a page's last row.
fn cursor_after(g: &Grid) -> Option<Cursor> {
    let at = |name: &str| g.columns.iter().position(|c| c == name);
    let last = g.rows.last()?;
    let time = last.get(at(CURSOR_COLUMN)?)?.as_str()?.to_string();
    let report_id = last.get(at("ReportId")?)?.as_i64()?;
    Some(Cursor { time, report_id })
}

async fn timeline(State(app): St, h: HeaderMap, Query(p): Params) -> Response {
    let s = match session(&app, &h) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let f = TimelineFilter {
        action: param(&p, "action"),
        process: param(&p, "process"),
        remote: param(&p, "remote"),
        from: param(&p, "from"),
        to: param(&p, "to"),
    };
    let before = match Cursor::parse(&param(&p, "before")) {
        Ok(c) => c,
        Err(e) => return (StatusCode::BAD_REQUEST, pages::message("Device timeline", Some(&s), &e)).into_response(),
    };
    let mut res = timeline_page(&app, &f, before.as_ref()).await;
    let mut older = None;
    if let Ok(g) = &mut res {
        if g.rows.len() > TIMELINE_ROWS {
            g.rows.truncate(TIMELINE_ROWS);
            if let Some(c) = cursor_after(g) {
                let mut link = format!("/timeline?before={}", pages::url(&c.param()).0);
                for (k, v) in [
                    ("action", &f.action),
                    ("process", &f.process),
                    ("remote", &f.remote),
                    ("from", &f.from),
                    ("to", &f.to),
                ] {
                    link += &format!("&{k}={}", pages::url(v).0);
                }
                older = Some(link);
            }
        }
    }
    html(pages::timeline(&s, &f, res.as_ref(), older))
}

async fn event(State(app): St, h: HeaderMap, Query(p): Params) -> Response {
    let s = match session(&app, &h) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let rid: i64 = match param(&p, "rid").parse() {
        Ok(v) => v,
        Err(_) => {
            return (StatusCode::BAD_REQUEST, pages::message("Event", Some(&s), "rid: not a number")).into_response()
        }
    };
    let q = format!(
        // Shown times are cut to milliseconds; the stored ones are finer.
        "DeviceNetworkEvents\n| where ReportId == {rid} and Timestamp >= todatetime({t}) - 1ms and Timestamp < todatetime({t}) + 1ms\n| take 1",
        t = lit(&param(&p, "ts"))
    );
    match run_query(&app, q, 1).await {
        Ok(g) => html(pages::event(&s, &g)),
        Err(e) => html(pages::message("Event", Some(&s), &e.message)),
    }
}

async fn alerts(State(app): St, h: HeaderMap) -> Response {
    let s = match session(&app, &h) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let q = "DeviceNetworkEvents\n| where ActionType in (\"ExploitGuardNetworkProtectionBlocked\", \"ExploitGuardNetworkProtectionAudited\")\n| summarize Count = count(), FirstSeen = min(Timestamp), LastSeen = max(Timestamp) by RemoteUrl, DeviceName, ActionType\n| order by LastSeen desc\n| take 500";
    let res = run_query(&app, q.to_string(), 500).await;
    html(pages::alerts(&s, res.as_ref()))
}

/// What the hunting page shows besides the query's result.
struct HuntExtras {
    notice: Option<String>,
    error: Option<String>,
}

async fn hunt_page(app: &Arc<App>, s: &Session, q: &str, page: usize, run: bool, x: HuntExtras) -> Response {
    let (dir, user) = (app.data_dir.clone(), s.user.clone());
    let saved = tokio::task::spawn_blocking(move || SavedQueries::open(&dir).map(|sq| sq.list(&user).to_vec()))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    let (saved, saved_error) = match saved {
        Ok(v) => (v, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let res =
        if run && !q.trim().is_empty() { Some(run_query(app, q.to_string(), MAX_QUERY_ROWS).await) } else { None };
    let view = pages::HuntView {
        query: q,
        result: res.as_ref().map(|r| r.as_ref()),
        page,
        saved: &saved,
        examples: &app.examples,
        notice: x.notice.as_deref(),
        error: x.error.as_deref().or(saved_error.as_deref()),
    };
    let status = if x.error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    (status, pages::hunt(s, view)).into_response()
}

async fn hunt(State(app): St, h: HeaderMap, Query(p): Params) -> Response {
    let s = match session(&app, &h) {
        Ok(s) => s,
        Err(r) => return r,
    };
    // A public corpus example opens in the editor, not run: some scan a lot.
    if let Ok(i) = param(&p, "example").parse::<usize>() {
        let q = app.examples.get(i).map(|e| e.1.clone()).unwrap_or_default();
        return hunt_page(&app, &s, &q, 0, false, HuntExtras { notice: None, error: None }).await;
    }
    let q = p.get("q").cloned().unwrap_or_default();
    let page = param(&p, "page").parse().unwrap_or(0);
    hunt_page(&app, &s, &q, page, true, HuntExtras { notice: None, error: None }).await
}

/// Read, change and write the saved queries under one lock (this process's
/// handlers must not lose each other's saves).
async fn change_saved(
    app: &Arc<App>,
    f: impl FnOnce(&mut SavedQueries) -> Result<String, String> + Send + 'static,
) -> Result<String, String> {
    let app2 = app.clone();
    tokio::task::spawn_blocking(move || {
        let _g = app2.saved_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut sq = SavedQueries::open(&app2.data_dir)?;
        f(&mut sq)
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()))
}

async fn hunt_save(State(app): St, h: HeaderMap, Form(f): Fields) -> Response {
    let s = match change(&app, &h, &f, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (user, name, q) = (s.user.clone(), param(&f, "name"), f.get("q").cloned().unwrap_or_default());
    let q2 = q.clone();
    let r = change_saved(&app, move |sq| sq.save(&user, &name, &q2).map(|_| format!("saved query {name}"))).await;
    let x = match r {
        Ok(n) => HuntExtras { notice: Some(n), error: None },
        Err(e) => HuntExtras { notice: None, error: Some(e) },
    };
    hunt_page(&app, &s, &q, 0, false, x).await
}

async fn hunt_delete(State(app): St, h: HeaderMap, Form(f): Fields) -> Response {
    let s = match change(&app, &h, &f, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (user, name) = (s.user.clone(), param(&f, "name"));
    let r = change_saved(&app, move |sq| match sq.delete(&user, &name)? {
        true => Ok(format!("deleted query {name}")),
        false => Err(format!("no saved query named {name}")),
    })
    .await;
    let x = match r {
        Ok(n) => HuntExtras { notice: Some(n), error: None },
        Err(e) => HuntExtras { notice: None, error: Some(e) },
    };
    hunt_page(&app, &s, "", 0, false, x).await
}

async fn hunt_csv(State(app): St, h: HeaderMap, Query(p): Params) -> Response {
    if let Err(r) = session(&app, &h) {
        return r;
    }
    let q = p.get("q").cloned().unwrap_or_default();
    match run_query(&app, q, MAX_QUERY_ROWS).await {
        Err(e) => {
            (StatusCode::BAD_REQUEST, format!("line {}, column {}: {}\n", e.line, e.col, e.message)).into_response()
        }
        Ok(g) => {
            let mut out = String::new();
            let row = |cells: Vec<String>| {
                cells.iter().map(|c| format!("\"{}\"", c.replace('"', "\"\""))).collect::<Vec<_>>().join(",") + "\r\n"
            };
            out += &row(g.columns.clone());
            for r in &g.rows {
                out += &row(r.iter().map(crate::chart::cell_text).collect());
            }
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (header::CONTENT_DISPOSITION, "attachment; filename=\"hunt.csv\""),
                ],
                out,
            )
                .into_response()
        }
    }
}

struct IndicatorPage {
    notice: Option<String>,
    error: Option<String>,
    import: Option<crate::backend::ImportOutcome>,
    search: String,
}

async fn indicators_page(app: &Arc<App>, s: &Session, v: IndicatorPage) -> Response {
    let grid = blocking(app, |b| b.indicators()).await;
    let view = IndicatorsView {
        search: &v.search,
        grid: grid.as_ref().map_err(String::as_str),
        notice: v.notice.as_deref(),
        error: v.error.as_deref(),
        import: v.import.as_ref(),
    };
    let status = if v.error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    (status, pages::indicators(s, view)).into_response()
}

async fn indicators(State(app): St, h: HeaderMap, Query(p): Params) -> Response {
    let s = match session(&app, &h) {
        Ok(s) => s,
        Err(r) => return r,
    };
    indicators_page(&app, &s, IndicatorPage { notice: None, error: None, import: None, search: param(&p, "search") })
        .await
}

fn outcome(r: Result<String, String>) -> IndicatorPage {
    let (notice, error) = match r {
        Ok(n) => (Some(n), None),
        Err(e) => (None, Some(e)),
    };
    IndicatorPage { notice, error, import: None, search: String::new() }
}

async fn indicator_add(State(app): St, h: HeaderMap, Form(f): Fields) -> Response {
    let s = match change(&app, &h, &f, true) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let user = s.user.clone();
    let r = blocking(&app, move |b| {
        b.add_indicator(&user, &param(&f, "type"), &param(&f, "value"), &param(&f, "action"), &param(&f, "title"))
    })
    .await;
    indicators_page(&app, &s, outcome(r)).await
}

async fn indicator_remove(State(app): St, h: HeaderMap, Form(f): Fields) -> Response {
    let s = match change(&app, &h, &f, true) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let user = s.user.clone();
    let r = blocking(&app, move |b| b.remove_indicator(&user, &param(&f, "id"))).await;
    indicators_page(&app, &s, outcome(r)).await
}

async fn indicator_import(State(app): St, h: HeaderMap, Form(f): Fields) -> Response {
    let s = match change(&app, &h, &f, true) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let user = s.user.clone();
    let text = f.get("text").cloned().unwrap_or_default();
    let r =
        blocking(&app, move |b| b.import_indicators(&user, &param(&f, "source"), &param(&f, "format"), &text)).await;
    let page = match r {
        Ok(o) => IndicatorPage { notice: None, error: None, import: Some(o), search: String::new() },
        Err(e) => outcome(Err(e)),
    };
    indicators_page(&app, &s, page).await
}

async fn settings_page(app: &Arc<App>, s: &Session, notice: Option<&str>, error: Option<&str>) -> Response {
    let (values, hist) = blocking(app, |b| {
        let values: Vec<(&'static str, String)> = EDITABLE_SETTINGS.iter().map(|k| (*k, b.setting(k))).collect();
        (values, b.settings_history())
    })
    .await;
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let view = pages::SettingsView { values: &values, history: hist.as_deref().map_err(String::as_str), notice, error };
    (status, pages::settings(s, view)).into_response()
}

async fn settings(State(app): St, h: HeaderMap) -> Response {
    let s = match session(&app, &h) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if s.role != Role::Admin {
        return forbidden(&s);
    }
    settings_page(&app, &s, None, None).await
}

/// Saves the fields that changed, each as its own change (its own 5007);
/// an unchanged field writes nothing.
async fn settings_set(State(app): St, h: HeaderMap, Form(f): Fields) -> Response {
    let s = match change(&app, &h, &f, true) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let user = s.user.clone();
    let r = blocking(&app, move |b| {
        let mut changed = Vec::new();
        for key in EDITABLE_SETTINGS {
            let Some(new) = f.get(key).map(|v| v.trim().to_string()) else { continue };
            if new != b.setting(key) {
                b.set_setting(&user, key, &new).map_err(|e| format!("{key}: {e}"))?;
                changed.push(key);
            }
        }
        Ok::<_, String>(changed)
    })
    .await;
    match r {
        Ok(c) if c.is_empty() => settings_page(&app, &s, Some("Nothing changed."), None).await,
        Ok(c) => settings_page(&app, &s, Some(&format!("Saved: {}.", c.join(", "))), None).await,
        Err(e) => settings_page(&app, &s, None, Some(&e)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_only_from_older_links() {
        let c = Cursor::parse("2024-05-14T09:46:02.768000500Z~1061").unwrap().unwrap();
        assert_eq!(c, Cursor { time: "2024-05-14T09:46:02.768000500Z".into(), report_id: 1061 });
        assert_eq!(Cursor::parse(&c.param()).unwrap(), Some(c));
        assert_eq!(Cursor::parse("").unwrap(), None);
        for bad in ["2024", "~5", "2024-05-14~x", "2024\") or 1==1 //~1", "2024-05-14 09:46~1"] {
            assert!(Cursor::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn filter_values_cannot_break_out_of_their_literal() {
        assert_eq!(lit(r#"a"b"#), r#"@"a""b""#);
        let f = TimelineFilter {
            action: String::new(),
            process: String::new(),
            remote: "x\" or 1==1 //".into(),
            from: String::new(),
            to: String::new(),
        };
        let q = timeline_query(&f, None, None);
        assert!(q.contains(r#"contains @"x"" or 1==1 //""#), "{q}");
    }
}
