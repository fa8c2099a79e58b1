//! The HTTP/2 client devices and hunters use: one connection, many streams;
//! over TLS the server's certificate must have the pinned fingerprint.
//! Refusals come back as the server's message and hint, for the CLI to
//! print; failures to reach the server are told apart so a caller can retry.

use crate::api::{self, ApiError, DeviceContact, Hello, HuntRequest, UploadReply};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{header, Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use netward_events::Table;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached or did not answer in time: retry later.
    #[error("server {url} unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    /// The server answered with a refusal.
    #[error("server refused ({status}): {message}")]
    Refused { status: u16, message: String, hint: Option<String> },
    /// A configuration or protocol problem on this side.
    #[error("{0}")]
    Local(String),
}

impl ClientError {
    /// Worth trying again later (unreachable, or the server said 503).
    pub fn retryable(&self) -> bool {
        matches!(self, ClientError::Unreachable { .. } | ClientError::Refused { status: 503, .. })
    }
}

/// Largest reply read (a hunt result), bytes.
const MAX_REPLY: usize = 512 << 20;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
const KEEP_ALIVE: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Client {
    http: hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    base: String,
    token: String,
}

/// A fleet query's answer.
#[derive(Debug)]
pub struct HuntReply {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub notes: Vec<String>,
    pub render: Option<String>,
}

impl Client {
    /// `url` is `https://host:port` with the server certificate's
    /// `fingerprint` (`sha256:<hex>`), or `http://` to a loopback server
    /// run with `--plain-http`.
    pub fn new(url: &str, token: &str, fingerprint: Option<&str>) -> Result<Client, ClientError> {
        let base = url.trim_end_matches('/').to_string();
        let tls = match base.split_once("://") {
            Some(("https", rest)) if !rest.is_empty() => true,
            Some(("http", rest)) if !rest.is_empty() => false,
            _ => return Err(ClientError::Local(format!("server url `{url}`: expected https://HOST:PORT"))),
        };
        if token.trim().is_empty() {
            return Err(ClientError::Local(
                "no server token: set [server] token in the config, or pass --token".into(),
            ));
        }
        let fingerprint = fingerprint.filter(|f| !f.trim().is_empty());
        let cfg = match (tls, fingerprint) {
            (true, None) => {
                return Err(ClientError::Local(format!(
                    "{url}: no certificate fingerprint to pin: set [server] fingerprint (the admin's `netward server fingerprint` prints it)"
                )))
            }
            (_, Some(f)) => crate::tls::client_config(f).map_err(ClientError::Local)?,
            // Plain HTTP: the TLS side is never used; pin an impossible value.
            (false, None) => crate::tls::client_config(&format!("sha256:{}", "0".repeat(64))).map_err(ClientError::Local)?,
        };
        let connector =
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(cfg).https_or_http().enable_http2().build();
        // HTTP/2 only (ALPN h2 over TLS, prior knowledge in clear): every
        // request of this client shares one connection, each in its own stream.
        // Pings find a connection the network dropped under a long poll (or
        // an upload) within KEEP_ALIVE twice over, instead of waiting for
        // TCP to give up; the next request then connects afresh.
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .http2_only(true)
            .timer(hyper_util::rt::TokioTimer::new())
            .http2_keep_alive_interval(KEEP_ALIVE)
            .http2_keep_alive_timeout(KEEP_ALIVE)
            .http2_keep_alive_while_idle(true)
            .build(connector);
        Ok(Client { http, base, token: token.trim().to_string() })
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    async fn call(&self, method: Method, path: &str, content_type: &str, body: Bytes) -> Result<Bytes, ClientError> {
        let url = format!("{}{path}", self.base);
        let req = Request::builder()
            .method(method)
            .uri(&url)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, content_type)
            .body(Full::new(body))
            .map_err(|e| ClientError::Local(format!("{url}: {e}")))?;
        let unreachable = |reason: String| ClientError::Unreachable { url: self.base.clone(), reason };
        let resp = tokio::time::timeout(REQUEST_TIMEOUT, self.http.request(req))
            .await
            .map_err(|_| unreachable(format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())))?
            .map_err(|e| unreachable(error_chain(&e)))?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), MAX_REPLY)
            .collect()
            .await
            .map_err(|e| unreachable(format!("reading the reply: {e}")))?
            .to_bytes();
        if status == StatusCode::OK {
            return Ok(body);
        }
        if status == StatusCode::NO_CONTENT {
            return Ok(Bytes::new());
        }
        let (message, hint) = match serde_json::from_slice::<ApiError>(&body) {
            Ok(e) => (e.error, e.hint),
            Err(_) => (String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned(), None),
        };
        Err(ClientError::Refused { status: status.as_u16(), message, hint })
    }

    /// Uploads one Arrow IPC stream of `table`'s rows.
    pub async fn upload(&self, table: Table, ipc: Bytes) -> Result<UploadReply, ClientError> {
        let body =
            self.call(Method::POST, &format!("{}/{}", api::EVENTS_PATH, table.name()), api::ARROW_STREAM, ipc).await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Local(format!("the server's upload reply: {e}")))
    }

    /// Runs a KQL query over the fleet.
    pub async fn hunt(&self, query: &str, now: Option<i64>) -> Result<HuntReply, ClientError> {
        let req = serde_json::to_vec(&HuntRequest { query: query.to_string(), now })
            .map_err(|e| ClientError::Local(e.to_string()))?;
        let body = self.call(Method::POST, api::HUNT_PATH, "application/json", Bytes::from(req)).await?;
        let bad = |e: String| ClientError::Local(format!("the server's hunt reply: {e}"));
        let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(body), None)
            .map_err(|e| bad(e.to_string()))?;
        let schema = reader.schema();
        let notes = match schema.metadata().get(api::NOTES_KEY) {
            Some(n) => serde_json::from_str(n).map_err(|e| bad(e.to_string()))?,
            None => vec![],
        };
        let render = schema.metadata().get(api::RENDER_KEY).cloned();
        let batches = reader.collect::<Result<Vec<_>, _>>().map_err(|e| bad(e.to_string()))?;
        Ok(HuntReply { schema, batches, notes, render })
    }

    /// Checks the token: which device it is bound to.
    pub async fn hello(&self) -> Result<Hello, ClientError> {
        let body = self.call(Method::GET, api::HELLO_PATH, "application/json", Bytes::new()).await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Local(format!("the server's hello: {e}")))
    }

    /// The device's policy once the fleet policy's version is not `since`;
    /// `None` when the server's wait ended without a change (ask again).
    pub async fn policy(&self, since: Option<u64>) -> Result<Option<crate::policy::DevicePolicy>, ClientError> {
        let path = match since {
            Some(v) => format!("{}?since={v}", api::POLICY_PATH),
            None => api::POLICY_PATH.to_string(),
        };
        let body = self.call(Method::GET, &path, "application/json", Bytes::new()).await?;
        if body.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&body).map(Some).map_err(|e| ClientError::Local(format!("the server's policy: {e}")))
    }

    /// The devices the server holds rows of, with their last contact.
    pub async fn devices(&self) -> Result<Vec<DeviceContact>, ClientError> {
        let body = self.call(Method::GET, api::DEVICES_PATH, "application/json", Bytes::new()).await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Local(format!("the server's device list: {e}")))
    }
}

/// hyper's errors say "client error (Connect)"; the cause says why.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
