//! The HTTP server: TLS, routes, token checks, bounded uploads, fleet hunting.
//!
//! HTTP/2 over TLS (ALPN `h2`; HTTP/1.1 is answered too; cleartext only
//! on loopback with `--plain-http`): one connection per device carries many uploads at once, each in
//! its own stream with its own flow control. Back-pressure instead of
//! loss: at most [`ServerOptions::max_uploads`] bodies are read and held at
//! once; the rest wait in their streams, whose flow-control windows make
//! the devices wait, and a device keeps its rows until they are
//! acknowledged.

// Handlers answer early with a whole response; boxing it buys nothing.
#![allow(clippy::result_large_err)]

use crate::api::{self, ApiError, DeviceContact, Hello, HuntRequest, UploadReply};
use crate::ingest::{self, Ingest, IngestError};
use crate::policy::FleetPolicy;
use crate::segments::SegmentStoreConfig;
use crate::token::{AuthError, Role, TokenEntry, Tokens};
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use datafusion::prelude::SessionContext;
use netward_events::{Table, Timestamp};
use netward_hunt::{Hunt, HuntOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::Semaphore;

#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The server's data directory: `store/` (a netward store: its log and
    /// manifest, and its segments unless `segments` says elsewhere) and the token file.
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Limits of one fleet query (`now` is ignored: each request sets it).
    pub hunt: HuntOptions,
    /// Largest upload body, bytes.
    pub max_body: usize,
    /// Upload bodies read and processed at once.
    pub max_uploads: usize,
    pub transport: Transport,
    /// Where the store's Parquet segments are kept (`[server] object_store`).
    pub segments: SegmentStoreConfig,
}

/// How devices reach the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// HTTPS with this certificate (ALPN h2).
    Tls(crate::tls::CertSource),
    /// Cleartext HTTP/2 (prior knowledge) or HTTP/1.1: loopback only.
    Plain,
}

/// Connections served at once; more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 1024;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Uploads in flight on one connection, and the unread bytes each may hold:
/// the per-connection memory bound is their product.
const H2_STREAMS: u32 = 16;
const H2_STREAM_WINDOW: u32 = 1 << 20;

impl ServerOptions {
    pub fn new(data_dir: PathBuf, listen: SocketAddr) -> Self {
        let transport = Transport::Tls(crate::tls::CertSource::Generated { data_dir: data_dir.clone(), names: vec![] });
        ServerOptions {
            data_dir,
            listen,
            hunt: HuntOptions::default(),
            max_body: 64 << 20,
            max_uploads: 4,
            transport,
            segments: SegmentStoreConfig::Local,
        }
    }
}

/// The server's store directory inside its data directory (the CLI's own).
pub const STORE_DIR: &str = "store";

struct App {
    /// Synchronised inside: uploads commit together (see `ingest`).
    ingest: Ingest,
    tokens: TokenCache,
    uploads: Semaphore,
    opts: ServerOptions,
    contacts: crate::contacts::Contacts,
    /// The fleet policy as the file last said; devices' long polls wait on it.
    policy: tokio::sync::watch::Receiver<Arc<FleetPolicy>>,
}

/// Serves until the process ends. Opens (recovering) the store first.
pub async fn serve(opts: ServerOptions) -> Result<(), String> {
    let tls = match &opts.transport {
        Transport::Plain if !opts.listen.ip().is_loopback() => {
            return Err(format!(
                "--listen {} with --plain-http: cleartext is for loopback only (tokens would cross the network in clear text)",
                opts.listen
            ))
        }
        Transport::Plain => None,
        Transport::Tls(source) => Some(crate::tls::ServerCert::load(source)?),
    };
    let dir = opts.data_dir.join(STORE_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let segments = opts.segments.clone();
    let ingest =
        tokio::task::spawn_blocking(move || Ingest::open(&dir, &segments)).await.map_err(|e| e.to_string())??;
    let segments_at = ingest.segment_store().describe();
    let policy_path = FleetPolicy::path(&opts.data_dir);
    let (policy_tx, policy_rx) = tokio::sync::watch::channel(Arc::new(FleetPolicy::load(&policy_path)?));
    tokio::spawn(watch_policy(policy_path, policy_tx));
    let app = Arc::new(App {
        ingest,
        tokens: TokenCache::new(Tokens::path(&opts.data_dir)),
        uploads: Semaphore::new(opts.max_uploads.max(1)),
        opts: opts.clone(),
        contacts: crate::contacts::Contacts::load(&opts.data_dir),
        policy: policy_rx,
    });
    let router = Router::new()
        .route("/v1/events/{table}", post(upload))
        .route(api::HUNT_PATH, post(hunt))
        .route(api::DEVICES_PATH, get(devices))
        .route(api::HELLO_PATH, get(hello))
        .route(api::POLICY_PATH, get(policy))
        .with_state(app.clone());
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", opts.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let acceptor = match &tls {
        Some(c) => Some(c.acceptor()?),
        None => None,
    };
    eprintln!("netward server: event segments in {segments_at}");
    // Tests and users read this line to know where to connect (and what to pin).
    match &tls {
        Some(c) => println!("netward server listening on https://{addr}/ certificate {}", c.fingerprint),
        None => println!("netward server listening on http://{addr}/ (plain, loopback)"),
    }
    let flusher = app.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(crate::contacts::SAVE_EVERY).await;
            let f = flusher.clone();
            let _ = tokio::task::spawn_blocking(move || f.contacts.flush()).await;
        }
    });
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = connections.clone().acquire_owned().await.map_err(|e| e.to_string())?;
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of descriptors and the like: wait, do not spin.
                eprintln!("netward server: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let svc = hyper_util::service::TowerToHyperService::new(router.clone());
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut http = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            // Streams waiting for an upload slot leave their bodies unread. The
            // connection window covers every stream's full window, so they can
            // never take the credit the stream holding a slot needs (else all
            // uploads of the connection wait on each other forever).
            http.http2()
                .max_concurrent_streams(H2_STREAMS)
                .initial_stream_window_size(H2_STREAM_WINDOW)
                .initial_connection_window_size(H2_STREAM_WINDOW * (H2_STREAMS + 1))
                .adaptive_window(false);
            // A connection's end (or error) concerns only that device.
            let _ = match acceptor {
                Some(a) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, a.accept(tcp)).await {
                    Ok(Ok(stream)) => http.serve_connection(hyper_util::rt::TokioIo::new(stream), svc).await,
                    // A failed handshake (a device without the pin, a scanner) ends here.
                    _ => return,
                },
                None => http.serve_connection(hyper_util::rt::TokioIo::new(tcp), svc).await,
            };
        });
    }
}

fn now() -> Timestamp {
    let d = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    Timestamp::from_unix_nanos(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn refuse(status: StatusCode, error: impl Into<String>, hint: Option<&str>) -> Response {
    let body =
        serde_json::to_vec(&ApiError { error: error.into(), hint: hint.map(str::to_string) }).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn json<T: serde::Serialize>(v: &T) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The token's entry, or the refusal to send.
fn authorize(app: &App, headers: &HeaderMap) -> Result<TokenEntry, Response> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(AuthError::Missing);
    let r = presented.and_then(|p| app.tokens.check(p, now()));
    r.map_err(|e| {
        let hint = match e {
            AuthError::Expired { .. } | AuthError::Revoked { .. } => {
                "ask the server's admin for a new token (netward server token add) and set [server] token"
            }
            _ => "check [server] token in the config; the admin lists tokens with `netward server token list`",
        };
        refuse(StatusCode::UNAUTHORIZED, e.to_string(), Some(hint))
    })
}

async fn upload(State(app): State<Arc<App>>, UrlPath(table): UrlPath<String>, req: Request) -> Response {
    let entry = match authorize(&app, req.headers()) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let Role::Device { device_id } = entry.role else {
        return refuse(StatusCode::FORBIDDEN, format!("token {} is a hunt token: it may not upload", entry.id), None);
    };
    let table = match table.parse::<Table>() {
        Ok(t) if t.is_stored() => t,
        _ => return refuse(StatusCode::NOT_FOUND, format!("no stored table `{table}`"), None),
    };
    // Held while the body is read and stored: the bound on memory.
    let Ok(_permit) = app.uploads.acquire().await else {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping", None);
    };
    let body = match axum::body::to_bytes(req.into_body(), app.opts.max_body).await {
        Ok(b) => b,
        Err(e) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("cannot read the body (at most {} bytes): {e}", app.opts.max_body),
                Some("send smaller batches (netward sync --batch-rows)"),
            )
        }
    };
    let app2 = app.clone();
    let dev = device_id.clone();
    let r = tokio::task::spawn_blocking(move || store_upload(&app2, table, &dev, &body)).await;
    match r {
        Ok(Ok(reply)) => {
            let app2 = app.clone();
            let _ = tokio::task::spawn_blocking(move || app2.contacts.touch(&device_id, now().unix_nanos())).await;
            json(&reply)
        }
        Ok(Err(e @ IngestError::BadBody(_))) => refuse(StatusCode::BAD_REQUEST, e.to_string(), None),
        Ok(Err(e @ IngestError::WrongDevice { .. })) => refuse(
            StatusCode::FORBIDDEN,
            format!("batch refused: {e}"),
            Some("a device token uploads only its own device's rows; rows imported from other devices need their own tokens"),
        ),
        Ok(Err(e @ IngestError::Store(_))) => {
            refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string(), Some("the device keeps its rows; sync again later"))
        }
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None),
    }
}

fn store_upload(app: &App, table: Table, device: &str, body: &Bytes) -> Result<UploadReply, IngestError> {
    let batches = ingest::decode(table, body)?;
    ingest::check_rows(&batches, device)?;
    let received = batches.iter().map(|b| b.num_rows() as u64).sum();
    let (stored, duplicates) = app.ingest.accept(table, device, batches)?;
    Ok(UploadReply { received, stored, duplicates })
}

fn require_hunt(app: &App, headers: &HeaderMap) -> Result<(), Response> {
    let entry = authorize(app, headers)?;
    match entry.role {
        Role::Hunt => Ok(()),
        Role::Device { .. } => Err(refuse(
            StatusCode::FORBIDDEN,
            format!("token {} is a device token: it may upload, not query the fleet", entry.id),
            Some("the admin makes a hunt token with `netward server token add --hunt`"),
        )),
    }
}

async fn hunt(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = require_hunt(&app, &headers) {
        return r;
    }
    let req: HuntRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("the body is not a hunt request: {e}"), None),
    };
    let session = SessionContext::new();
    {
        // One snapshot for the whole query, as local hunting has; DeviceInfo
        // with each device's last contact.
        let contacts = app.contacts.snapshot();
        let segments = app.ingest.segment_store().clone();
        let r = app
            .ingest
            .with_store(|s| crate::fleet::register(s, &segments, &contacts, &session))
            .map_err(|e| e.to_string())
            .and_then(|r| r);
        if let Err(e) = r {
            return refuse(StatusCode::SERVICE_UNAVAILABLE, e, None);
        }
    }
    let mut opts = app.opts.hunt.clone();
    opts.now = Some(req.now.unwrap_or_else(|| now().unix_nanos()));
    match Hunt::new(session, opts).run(&req.query).await {
        Ok(result) => match crate::encode_result(&result) {
            Ok(bytes) => {
                let mut r = Response::new(Body::from(bytes));
                r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(api::ARROW_STREAM));
                r
            }
            Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e, None),
        },
        Err(e) => {
            use netward_hunt::ErrorKind as K;
            let status = match e.kind {
                K::Syntax | K::Semantic | K::Unsupported => StatusCode::BAD_REQUEST,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let hint = match e.kind {
                K::Timeout => Some("narrow the time range (the server's limit is hunt.timeout_seconds)"),
                K::MemoryLimit => Some("narrow the query (the server's limit is hunt.memory_limit_mb)"),
                _ => None,
            };
            refuse(status, format!("query: {e}"), hint)
        }
    }
}

async fn hello(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let entry = match authorize(&app, &headers) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let device_id = match entry.role {
        Role::Device { device_id } => {
            let (app2, dev) = (app.clone(), device_id.clone());
            let _ = tokio::task::spawn_blocking(move || app2.contacts.touch(&dev, now().unix_nanos())).await;
            Some(device_id)
        }
        Role::Hunt => None,
    };
    json(&Hello { token: entry.id, device_id })
}

/// Looks at the policy file every [`api::POLICY_LOOK_MS`] and publishes a
/// new version to the waiting devices. A file that cannot be read keeps the
/// last good policy (said once per distinct problem): devices keep theirs.
async fn watch_policy(path: PathBuf, tx: tokio::sync::watch::Sender<Arc<FleetPolicy>>) {
    let mut stamp = file_stamp(&path);
    let mut last_problem = String::new();
    loop {
        tokio::time::sleep(Duration::from_millis(api::POLICY_LOOK_MS)).await;
        let now = file_stamp(&path);
        if now == stamp {
            continue;
        }
        stamp = now;
        let p = path.clone();
        match tokio::task::spawn_blocking(move || FleetPolicy::load(&p)).await {
            Ok(Ok(p)) => {
                last_problem.clear();
                tx.send_if_modified(|cur| {
                    let newer = cur.version != p.version;
                    if newer {
                        *cur = Arc::new(p);
                    }
                    newer
                });
            }
            Ok(Err(e)) if e != last_problem => {
                eprintln!("netward server: policy: {e} (devices keep the last policy)");
                last_problem = e;
            }
            _ => {}
        }
    }
}

/// `GET /v1/policy?since=V`: the device's policy once the version is not V.
async fn policy(State(app): State<Arc<App>>, uri: axum::http::Uri, headers: HeaderMap) -> Response {
    let entry = match authorize(&app, &headers) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let Role::Device { device_id } = entry.role else {
        return refuse(
            StatusCode::FORBIDDEN,
            format!("token {} is a hunt token: policy is for devices", entry.id),
            None,
        );
    };
    let since = match uri.query().unwrap_or("").split('&').find_map(|kv| kv.strip_prefix("since=")) {
        None => None,
        Some(v) => match v.parse::<u64>() {
            Ok(v) => Some(v),
            Err(_) => return refuse(StatusCode::BAD_REQUEST, format!("since=`{v}`: expected a version number"), None),
        },
    };
    let (app2, dev) = (app.clone(), device_id.clone());
    let _ = tokio::task::spawn_blocking(move || app2.contacts.touch(&dev, now().unix_nanos())).await;
    let mut rx = app.policy.clone();
    let changed = async {
        loop {
            if Some(rx.borrow_and_update().version) != since {
                return true;
            }
            if rx.changed().await.is_err() {
                return false;
            }
        }
    };
    match tokio::time::timeout(Duration::from_secs(api::POLICY_WAIT_SECS), changed).await {
        Ok(true) => {
            let p = app.policy.borrow().for_device(&device_id);
            json(&p)
        }
        _ => StatusCode::NO_CONTENT.into_response(),
    }
}

fn file_stamp(path: &std::path::Path) -> FileStamp {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        Ok(m) => (m.ino(), m.len(), m.modified().ok()),
        Err(_) => (0, 0, None),
    }
}

async fn devices(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(r) = require_hunt(&app, &headers) {
        return r;
    }
    let rows = app.ingest.rows_per_device();
    let contacts = app.contacts.snapshot();
    let mut ids: Vec<&String> = rows.keys().chain(contacts.keys()).collect();
    ids.sort();
    ids.dedup();
    let list: Vec<DeviceContact> = ids
        .into_iter()
        .map(|d| DeviceContact {
            device_id: d.clone(),
            last_contact: contacts.get(d).map(|&n| Timestamp::from_unix_nanos(n).to_string()),
            rows: rows.get(d).copied().unwrap_or(0),
        })
        .collect();
    json(&list)
}

/// The token file, read again when it changes (a `token add` or `revoke`
/// beside the running server takes effect at the next request).
struct TokenCache {
    path: PathBuf,
    cached: Mutex<Option<(FileStamp, Tokens)>>,
}

type FileStamp = (u64, u64, Option<SystemTime>);

impl TokenCache {
    fn new(path: PathBuf) -> Self {
        TokenCache { path, cached: Mutex::new(None) }
    }

    fn check(&self, presented: &str, now: Timestamp) -> Result<TokenEntry, AuthError> {
        let stamp = file_stamp(&self.path);
        let mut c = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if c.as_ref().is_none_or(|(s, _)| *s != stamp) {
            // An unreadable file refuses every token rather than serving stale ones.
            let tokens = Tokens::load(&self.path).unwrap_or_else(|e| {
                eprintln!("netward server: {e}");
                Tokens::default()
            });
            *c = Some((stamp, tokens));
        }
        c.as_ref().expect("set above").1.check(presented, now).cloned()
    }
}
