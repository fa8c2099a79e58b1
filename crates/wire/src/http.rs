//! HTTP/1.x: request heads of every request on a connection (bodies skipped by
//! Content-Length or chunked framing) and response heads, to know whether a CONNECT
//! opened a tunnel. Heads are parsed by `httparse` once complete.

use std::collections::VecDeque;

use crate::observation::HttpRequestInfo;
use crate::step::Step;
use crate::target::{absolute_uri_target, Target};
use crate::Error;

/// Largest request or response head we buffer.
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest chunk-size or trailer line.
const MAX_LINE: usize = 4 * 1024;
/// Requests awaiting their response; past this we stop following responses.
const MAX_PENDING: usize = 256;
const MAX_HEADERS: usize = 96;

/// What one step of the HTTP parser learned.
#[derive(Debug)]
pub(crate) enum HttpEvent {
    Request(Box<HttpRequestInfo>),
    /// A 2xx answer to CONNECT: server bytes after `consumed` are tunnel data.
    ConnectEstablished,
    ConnectRefused(u16),
    /// 101 Switching Protocols: the rest is not HTTP/1.
    Upgraded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// Fixed-length body: bytes left.
    Length(u64),
    Chunked(Chunk),
    /// Response without framing: it lasts until the connection closes.
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Body(Body),
    /// CONNECT sent: whatever the client sends next is tunnel data unless the proxy
    /// refused first.
    ConnectSent,
    /// The server accepted CONNECT: the rest is tunnel data.
    Tunnel,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Head,
    Connect,
    Other,
}

/// Both directions of one HTTP/1.x connection.
#[derive(Debug)]
pub struct HttpConn {
    client: State,
    server: State,
    pending: VecDeque<Pending>,
    layer: u8,
}

impl HttpConn {
    pub(crate) fn new(layer: u8) -> Self {
        HttpConn { client: State::Head, server: State::Head, pending: VecDeque::new(), layer }
    }

    /// Bytes of the current direction that can be skipped unseen (body bytes).
    pub(crate) fn skippable(&self, to_server: bool) -> u64 {
        match if to_server { self.client } else { self.server } {
            State::Body(Body::Length(n)) | State::Body(Body::Chunked(Chunk::Data(n))) => n,
            State::Body(Body::UntilClose) => u64::MAX,
            _ => 0,
        }
    }

    /// Marks `n` body bytes of a direction as skipped (`n <= skippable`).
    pub(crate) fn skip(&mut self, to_server: bool, n: u64) {
        let st = if to_server { &mut self.client } else { &mut self.server };
        *st = match *st {
            State::Body(Body::Length(r)) if r <= n => State::Head,
            State::Body(Body::Length(r)) => State::Body(Body::Length(r - n)),
            State::Body(Body::Chunked(Chunk::Data(r))) if r <= n => State::Body(Body::Chunked(Chunk::DataEnd)),
            State::Body(Body::Chunked(Chunk::Data(r))) => State::Body(Body::Chunked(Chunk::Data(r - n))),
            s => s,
        };
    }

    /// One step over client bytes.
    pub(crate) fn step_client(&mut self, data: &[u8], ev: &mut Vec<HttpEvent>) -> Result<Step, Error> {
        match self.client {
            State::Head => self.request_head(data, ev),
            State::Body(b) => {
                let (step, next) = body_step(b, data)?;
                self.client = next.map_or(State::Head, State::Body);
                Ok(step)
            }
            State::ConnectSent | State::Tunnel => {
                self.client = State::Tunnel;
                Ok(Step::Tunnel(0))
            }
            State::Done => Ok(Step::Finished),
        }
    }

    /// One step over server bytes.
    pub(crate) fn step_server(&mut self, data: &[u8], ev: &mut Vec<HttpEvent>) -> Result<Step, Error> {
        match self.server {
            State::Head => self.response_head(data, ev),
            State::Body(b) => {
                let (step, next) = body_step(b, data)?;
                self.server = next.map_or(State::Head, State::Body);
                Ok(step)
            }
            State::Tunnel => Ok(Step::Tunnel(0)),
            State::ConnectSent | State::Done => Ok(Step::Finished),
        }
    }

    fn request_head(&mut self, data: &[u8], ev: &mut Vec<HttpEvent>) -> Result<Step, Error> {
        // RFC 9112 2.2: ignore empty lines before a request line.
        let blank = data.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
        if blank > 0 {
            return Ok(Step::Consumed(blank));
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let n = match req.parse(data) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if data.len() >= MAX_HEAD => {
                return Err(Error::invalid(0, "HTTP request head larger than 16 KiB"))
            }
            Ok(httparse::Status::Partial) => return Ok(Step::NeedMore),
            Err(e) => return Err(Error::invalid(0, httparse_what(e))),
        };
        let method = req.method.unwrap_or_default().to_owned();
        let uri = req.path.unwrap_or_default().to_owned();
        let version = if req.version == Some(0) { "1.0" } else { "1.1" }.to_owned();
        let header = |name: &str| {
            req.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
        };
        let host = header("host");
        let user_agent = header("user-agent");
        let body = body_framing(req.headers, false)?;
        let is_connect = method.eq_ignore_ascii_case("CONNECT");
        let (absolute_uri, connect_authority, target) = if is_connect {
            (None, Some(uri.clone()), Target::parse_authority(&uri, 443))
        } else if let Some((_, t)) = absolute_uri_target(&uri) {
            (Some(uri.clone()), None, Some(t))
        } else {
            (None, None, host.as_deref().and_then(|h| Target::parse_authority(h, 80)))
        };
        ev.push(HttpEvent::Request(Box::new(HttpRequestInfo {
            method: method.clone(),
            host,
            uri,
            absolute_uri,
            connect_authority,
            user_agent,
            version,
            target,
            layer: self.layer,
        })));
        if self.pending.len() < MAX_PENDING {
            self.pending.push_back(if is_connect {
                Pending::Connect
            } else if method.eq_ignore_ascii_case("HEAD") {
                Pending::Head
            } else {
                Pending::Other
            });
        } else {
            // Too many unanswered requests: responses can no longer be paired.
            self.server = State::Done;
        }
        self.client = if is_connect {
            State::ConnectSent
        } else {
            match body {
                Some(Body::Length(0)) | None => State::Head,
                Some(b) => State::Body(b),
            }
        };
        Ok(Step::Consumed(n))
    }

    fn response_head(&mut self, data: &[u8], ev: &mut Vec<HttpEvent>) -> Result<Step, Error> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        let n = match resp.parse(data) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if data.len() >= MAX_HEAD => {
                return Err(Error::invalid(0, "HTTP response head larger than 16 KiB"))
            }
            Ok(httparse::Status::Partial) => return Ok(Step::NeedMore),
            Err(e) => return Err(Error::invalid(0, httparse_what(e))),
        };
        let code = resp.code.unwrap_or(0);
        if code == 101 {
            ev.push(HttpEvent::Upgraded);
            self.client = State::Done;
            self.server = State::Done;
            return Ok(Step::Finished);
        }
        if (100..200).contains(&code) {
            return Ok(Step::Consumed(n)); // interim response, the final one follows
        }
        let request = self.pending.pop_front().unwrap_or(Pending::Other);
        if request == Pending::Connect {
            if (200..300).contains(&code) {
                ev.push(HttpEvent::ConnectEstablished);
                self.server = State::Tunnel;
                return Ok(Step::Tunnel(n));
            }
            ev.push(HttpEvent::ConnectRefused(code));
            if self.client == State::ConnectSent {
                self.client = State::Head; // e.g. 407, the client may retry on this connection
            }
        }
        let body = if request == Pending::Head || code == 204 || code == 304 {
            None
        } else {
            Some(body_framing(resp.headers, true)?.unwrap_or(Body::UntilClose))
        };
        self.server = match body {
            Some(Body::Length(0)) | None => State::Head,
            Some(b) => State::Body(b),
        };
        Ok(Step::Consumed(n))
    }
}

/// Body framing from headers (RFC 9112 6.3): chunked wins over Content-Length.
/// `None` when there is no body indication.
fn body_framing(headers: &[httparse::Header<'_>], response: bool) -> Result<Option<Body>, Error> {
    let mut length: Option<u64> = None;
    for h in headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let v = String::from_utf8_lossy(h.value);
            let last = v.rsplit(',').next().unwrap_or("").trim();
            return Ok(Some(if last.eq_ignore_ascii_case("chunked") {
                Body::Chunked(Chunk::Size)
            } else if response {
                Body::UntilClose
            } else {
                return Err(Error::invalid(0, "request body without chunked framing"));
            }));
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value).map(str::trim).unwrap_or("");
            let n: u64 = match v.parse() {
                Ok(n) if v.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(Error::invalid(0, "bad Content-Length")),
            };
            if length.is_some_and(|l| l != n) {
                return Err(Error::invalid(0, "conflicting Content-Length headers"));
            }
            length = Some(n);
        }
    }
    Ok(length.map(Body::Length))
}

/// One step inside a body; returns the new body state, `None` when the body ended.
fn body_step(body: Body, data: &[u8]) -> Result<(Step, Option<Body>), Error> {
    let take = |r: u64| data.len().min(usize::try_from(r).unwrap_or(usize::MAX));
    Ok(match body {
        Body::Length(r) => {
            let n = take(r);
            let left = r - n as u64;
            (Step::Consumed(n), (left > 0).then_some(Body::Length(left)))
        }
        Body::UntilClose => (Step::Consumed(data.len()), Some(Body::UntilClose)),
        Body::Chunked(Chunk::Data(r)) => {
            let n = take(r);
            let left = r - n as u64;
            let next = if left > 0 { Chunk::Data(left) } else { Chunk::DataEnd };
            (Step::Consumed(n), Some(Body::Chunked(next)))
        }
        Body::Chunked(Chunk::DataEnd) => match data {
            [b'\r', b'\n', ..] => (Step::Consumed(2), Some(Body::Chunked(Chunk::Size))),
            [b'\n', ..] => (Step::Consumed(1), Some(Body::Chunked(Chunk::Size))),
            [b'\r'] | [] => (Step::NeedMore, Some(body)),
            _ => return Err(Error::invalid(0, "missing CRLF after chunk data")),
        },
        Body::Chunked(Chunk::Size) => match line(data)? {
            None => (Step::NeedMore, Some(body)),
            Some((l, n)) => {
                let digits = l.split(|&b| b == b';' || b == b' ' || b == b'\t').next().unwrap_or(&[]);
                let size = std::str::from_utf8(digits)
                    .ok()
                    .filter(|s| !s.is_empty() && s.len() <= 16)
                    .and_then(|s| u64::from_str_radix(s, 16).ok())
                    .ok_or(Error::invalid(0, "bad chunk size"))?;
                let next = if size == 0 { Chunk::Trailers } else { Chunk::Data(size) };
                (Step::Consumed(n), Some(Body::Chunked(next)))
            }
        },
        Body::Chunked(Chunk::Trailers) => match line(data)? {
            None => (Step::NeedMore, Some(body)),
            Some((b"", n)) => (Step::Consumed(n), None),
            Some((_, n)) => (Step::Consumed(n), Some(body)),
        },
    })
}

/// A line without its CRLF (or LF) and the bytes it spans.
fn line(data: &[u8]) -> Result<Option<(&[u8], usize)>, Error> {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => {
            let l = &data[..i];
            Ok(Some((l.strip_suffix(b"\r").unwrap_or(l), i + 1)))
        }
        None if data.len() > MAX_LINE => Err(Error::invalid(0, "chunk line too long")),
        None => Ok(None),
    }
}

fn httparse_what(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid HTTP header name",
        httparse::Error::HeaderValue => "invalid HTTP header value",
        httparse::Error::NewLine => "invalid HTTP line ending",
        httparse::Error::Status => "invalid HTTP status",
        httparse::Error::Token => "invalid HTTP token",
        httparse::Error::TooManyHeaders => "too many HTTP headers",
        httparse::Error::Version => "invalid HTTP version",
    }
}

/// Whether `data` can be the start of an HTTP/1 request: a method token (upper-case
/// letters) followed by a space. `None` while too short to tell.
pub(crate) fn looks_like_request(data: &[u8]) -> Option<bool> {
    for (i, &b) in data.iter().enumerate().take(20) {
        if b == b' ' {
            return Some(i >= 3);
        }
        if !(b.is_ascii_uppercase() || b == b'-' || b == b'_') {
            return Some(false);
        }
    }
    if data.len() >= 20 {
        Some(false)
    } else {
        None
    }
}
