//! HTTP/1.x: request heads of every request on a connection (bodies skipped by
//! Content-Length or chunked framing) and response heads, to know whether a
//! CONNECT opened a tunnel.
//!
//! Following a keep-alive proxy connection never quietly stops:
//! * a head may carry any number of headers (up to [`MAX_HEAD`] bytes, the
//!   default limit of squid);
//! * where the framing of a request cannot be known (a Transfer-Encoding
//!   whose last coding is not `chunked`, a bad or conflicting
//!   Content-Length, a malformed chunk, bytes that are not a request line,
//!   a head larger than [`MAX_HEAD`]), the client side resynchronises: it
//!   skips to the next line that is a request line (`METHOD target
//!   HTTP/1.x`) and reads on from there ([`crate::Observation::Resync`]);
//! * a request whose destination could not be read at all (a head larger
//!   than [`MAX_HEAD`] with no target in its first [`MAX_HEAD`] bytes) is
//!   reported lost ([`crate::Observation::Unparsed`]), and reading goes on after it;
//! * the server side is followed only to pair responses with requests (a
//!   CONNECT's answer); a response that cannot be read stops following the
//!   server side, never the client's requests.
//!
//! Cost: every byte is searched for boundaries a bounded number of times:
//! the search for the end of a head and for the end of a line resumes where
//! it stopped when more bytes arrive (a head fed one byte at a time is not
//! searched again from its start); body bytes are skipped unseen. Memory: a
//! head or line being read, at most [`MAX_HEAD`] bytes per direction (held
//! by the layer's buffer).

use std::collections::VecDeque;

use crate::observation::HttpRequestInfo;
use crate::step::Step;
use crate::target::{absolute_uri_target, Target};
use crate::Error;

/// Largest request or response head read (squid's default
/// `request_header_max_size`): a proxy refuses larger ones.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest chunk-size or trailer line.
const MAX_LINE: usize = 4 * 1024;
/// Requests awaiting their response; past this we stop following responses.
const MAX_PENDING: usize = 256;

/// What one step of the HTTP parser learned.
#[derive(Debug)]
pub(crate) enum HttpEvent {
    Request(Box<HttpRequestInfo>),
    /// A 2xx answer to CONNECT: server bytes after `consumed` are tunnel data.
    ConnectEstablished,
    ConnectRefused(u16),
    /// 101 Switching Protocols: the rest is not HTTP/1.
    Upgraded,
    /// The client side lost the message framing (why) and looks for the next
    /// request line.
    Resync(&'static str),
    /// A request's destination could not be read (why).
    Lost(&'static str),
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
    /// The rest of a head too large to read; `after_lf`: the last byte
    /// skipped ended a line (an empty line next ends the head).
    SkipHead {
        after_lf: bool,
    },
    /// Looking for the next request line; `line_start`: the bytes buffered
    /// begin a line.
    Resync {
        line_start: bool,
    },
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
    /// Per direction: how far into the buffered bytes the current boundary
    /// search has looked (it resumes there when more bytes come).
    scan: [usize; 2],
    pub(crate) work: crate::Work,
}

/// How a message's body is framed, as far as its head tells.
enum Framing {
    None,
    Body(Body),
    /// The length cannot be known: the next message starts who knows where.
    Unknown(&'static str),
}

impl HttpConn {
    pub(crate) fn new(layer: u8) -> Self {
        HttpConn {
            client: State::Head,
            server: State::Head,
            pending: VecDeque::new(),
            layer,
            scan: [0; 2],
            work: crate::Work::default(),
        }
    }

    /// Whether a direction is in the middle of a head: only a line end can
    /// complete it.
    pub(crate) fn reading_head(&self, to_server: bool) -> bool {
        matches!(if to_server { self.client } else { self.server }, State::Head)
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
        let step = match self.client {
            State::Head => self.request_head(data, ev),
            State::Body(b) => match self.body_step(b, data, 0) {
                Ok((step, next)) => {
                    self.client = next.map_or(State::Head, State::Body);
                    step
                }
                Err(why) => self.resync_from(data, false, why, ev),
            },
            State::SkipHead { after_lf } => self.skip_head(data, after_lf),
            State::Resync { line_start } => self.resync(data, line_start, ev),
            State::ConnectSent | State::Tunnel => {
                self.client = State::Tunnel;
                Step::Tunnel(0)
            }
            State::Done => Step::Finished,
        };
        if !matches!(step, Step::NeedMore) {
            self.scan[0] = 0;
        }
        Ok(step)
    }

    /// One step over server bytes.
    pub(crate) fn step_server(&mut self, data: &[u8], ev: &mut Vec<HttpEvent>) -> Result<Step, Error> {
        let step = match self.server {
            State::Head => self.response_head(data, ev),
            State::Body(b) => match self.body_step(b, data, 1) {
                Ok((step, next)) => {
                    self.server = next.map_or(State::Head, State::Body);
                    step
                }
                Err(_) => self.stop_server(),
            },
            State::Tunnel => Step::Tunnel(0),
            _ => Step::Finished,
        };
        if !matches!(step, Step::NeedMore) {
            self.scan[1] = 0;
        }
        Ok(step)
    }

    /// Responses can no longer be read: stop following the server side (the
    /// client's requests are still read; client bytes after a CONNECT are
    /// taken as tunnel data, as when only the client side is seen).
    fn stop_server(&mut self) -> Step {
        self.server = State::Done;
        Step::Finished
    }

    /// The end of the head starting `data` (just past its empty line), resuming
    /// the search where the last call stopped; `None` while incomplete.
    fn head_end(&mut self, data: &[u8], d: usize) -> Option<usize> {
        let mut i = self.scan[d];
        loop {
            let Some(nl) = data[i..].iter().position(|&b| b == b'\n') else {
                self.work.bytes_scanned += (data.len() - i) as u64;
                self.scan[d] = data.len();
                return None;
            };
            self.work.bytes_scanned += nl as u64 + 1;
            let at = i + nl + 1;
            match &data[at..] {
                [b'\n', ..] => return Some(at + 1),
                [b'\r', b'\n', ..] => return Some(at + 2),
                [] | [b'\r'] => {
                    self.scan[d] = i + nl; // look at this line end again
                    return None;
                }
                _ => i = at,
            }
        }
    }

    fn request_head(&mut self, data: &[u8], ev: &mut Vec<HttpEvent>) -> Step {
        // RFC 9112 2.2: ignore empty lines before a request line.
        let blank = data.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
        if blank > 0 {
            self.work.bytes_scanned += blank as u64;
            return Step::Consumed(blank);
        }
        let Some(end) = self.head_end(data, 0) else {
            if data.len() >= MAX_HEAD {
                return self.oversized_head(data, ev);
            }
            return Step::NeedMore;
        };
        self.work.messages += 1;
        let head = &data[..end];
        let (line, rest) = split_line(head);
        let Some((method, uri, version)) = request_line(line) else {
            return self.resync_from(data, false, "bytes that are not an HTTP request", ev);
        };
        if method == b"PRI" && version.starts_with(b"HTTP/2") {
            self.client = State::Done; // HTTP/2 with prior knowledge: not HTTP/1 any more
            return Step::Finished;
        }
        let mut hv = HeaderValues::default();
        for_each_header(rest, |name, value| hv.take(name, value));
        let framing = hv.framing(false);
        let is_connect = method.eq_ignore_ascii_case(b"CONNECT");
        self.request(method, uri, version, &hv, ev);
        self.client = if is_connect {
            State::ConnectSent
        } else {
            match framing {
                Framing::None | Framing::Body(Body::Length(0)) => State::Head,
                Framing::Body(b) => State::Body(b),
                Framing::Unknown(why) => {
                    ev.push(HttpEvent::Resync(why));
                    State::Resync { line_start: true }
                }
            }
        };
        Step::Consumed(end)
    }

    /// Reports one request and records what its response will be.
    fn request(&mut self, method: &[u8], uri: &[u8], version: &[u8], hv: &HeaderValues, ev: &mut Vec<HttpEvent>) {
        let method = String::from_utf8_lossy(method).into_owned();
        let uri = String::from_utf8_lossy(uri).into_owned();
        let version = if version.ends_with(b"1.0") { "1.0" } else { "1.1" }.to_owned();
        let host = hv.host.map(header_string);
        let user_agent = hv.user_agent.map(header_string);
        let is_connect = method.eq_ignore_ascii_case("CONNECT");
        let (absolute_uri, connect_authority, target) = if is_connect {
            (None, Some(uri.clone()), Target::parse_authority(&uri, 443))
        } else if let Some((_, t)) = absolute_uri_target(&uri) {
            (Some(uri.clone()), None, Some(t))
        } else {
            (None, None, host.as_deref().and_then(|h| Target::parse_authority(h, 80)))
        };
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
        if target.is_none() && !is_connect {
            // An origin-form request without a Host header names nothing we can read.
            if hv.truncated {
                ev.push(HttpEvent::Lost("request head larger than 64 KiB without a Host header in it"));
            }
        }
        ev.push(HttpEvent::Request(Box::new(HttpRequestInfo {
            method,
            host,
            uri,
            absolute_uri,
            connect_authority,
            user_agent,
            version,
            target,
            layer: self.layer,
        })));
    }

    /// A head larger than [`MAX_HEAD`]: its request line and the headers in
    /// its first [`MAX_HEAD`] bytes are read, the rest skipped, and the
    /// framing is unknown.
    fn oversized_head(&mut self, data: &[u8], ev: &mut Vec<HttpEvent>) -> Step {
        let (line, rest) = split_line(data);
        let complete_line = line.len() < data.len();
        match request_line(line).filter(|_| complete_line) {
            Some((method, uri, version)) => {
                self.work.messages += 1;
                let last_nl = rest.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                let mut hv = HeaderValues { truncated: true, ..Default::default() };
                for_each_header(&rest[..last_nl], |name, value| hv.take(name, value));
                self.request(method, uri, version, &hv, ev);
            }
            None if crate::http::looks_like_request(data) == Some(true) => {
                ev.push(HttpEvent::Lost("request line longer than 64 KiB"))
            }
            None => {}
        }
        ev.push(HttpEvent::Resync("request head larger than 64 KiB"));
        let after_lf = data.ends_with(b"\n") || data.ends_with(b"\n\r");
        self.client = State::SkipHead { after_lf };
        Step::Consumed(data.len())
    }

    /// Skips the rest of an oversized head: up to and including its empty line.
    fn skip_head(&mut self, data: &[u8], mut after_lf: bool) -> Step {
        for (i, &b) in data.iter().enumerate() {
            match b {
                b'\n' if after_lf => {
                    self.work.bytes_scanned += i as u64 + 1;
                    self.client = State::Resync { line_start: true };
                    return Step::Consumed(i + 1);
                }
                b'\n' => after_lf = true,
                b'\r' => {}
                _ => after_lf = false,
            }
        }
        self.work.bytes_scanned += data.len() as u64;
        self.client = State::SkipHead { after_lf };
        Step::Consumed(data.len())
    }

    /// Enters resynchronisation at `data` (`line_start`: whether it begins a
    /// line that may be a request line) and looks for the next request.
    fn resync_from(&mut self, data: &[u8], line_start: bool, why: &'static str, ev: &mut Vec<HttpEvent>) -> Step {
        ev.push(HttpEvent::Resync(why));
        self.scan[0] = 0;
        self.resync(data, line_start, ev)
    }

    /// Looks for the next line that is a request line; reads the request from
    /// there. Lines that are not are consumed.
    fn resync(&mut self, data: &[u8], mut line_start: bool, ev: &mut Vec<HttpEvent>) -> Step {
        let mut pos = 0;
        loop {
            if !line_start {
                match data[pos..].iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        self.work.bytes_scanned += i as u64 + 1;
                        pos += i + 1;
                        line_start = true;
                    }
                    None => {
                        self.work.bytes_scanned += (data.len() - pos) as u64;
                        self.client = State::Resync { line_start: false };
                        return Step::Consumed(data.len());
                    }
                }
            }
            // A candidate line starts at `pos`.
            let rest = &data[pos..];
            let wait = |me: &mut Self, scanned: usize| {
                me.client = State::Resync { line_start: true };
                if pos == 0 {
                    me.scan[0] = scanned;
                    Step::NeedMore
                } else {
                    Step::Consumed(pos)
                }
            };
            match rest.first() {
                None => return wait(self, 0),
                Some(b'\r' | b'\n') => {
                    pos += 1; // an empty line
                    continue;
                }
                Some(&b) if !is_tchar(b) => {
                    line_start = false;
                    continue;
                }
                Some(_) => {}
            }
            let from = if pos == 0 { self.scan[0] } else { 0 };
            let Some(nl) = rest[from..].iter().position(|&b| b == b'\n').map(|i| i + from) else {
                self.work.bytes_scanned += (rest.len() - from) as u64;
                if rest.len() >= MAX_HEAD {
                    // Far too long for a request line: skip to its end.
                    self.client = State::Resync { line_start: false };
                    return Step::Consumed(data.len());
                }
                return wait(self, rest.len());
            };
            self.work.bytes_scanned += (nl + 1 - from) as u64;
            let line = rest[..nl].strip_suffix(b"\r").unwrap_or(&rest[..nl]);
            if request_line(line).is_some() {
                self.client = State::Head;
                self.scan[0] = 0;
                return match self.request_head(rest, ev) {
                    Step::NeedMore if pos == 0 => Step::NeedMore,
                    Step::NeedMore => Step::Consumed(pos),
                    Step::Consumed(n) => Step::Consumed(pos + n),
                    Step::Tunnel(n) => Step::Tunnel(pos + n),
                    Step::Finished => Step::Finished,
                };
            }
            pos += nl + 1;
        }
    }

    fn response_head(&mut self, data: &[u8], ev: &mut Vec<HttpEvent>) -> Step {
        let Some(end) = self.head_end(data, 1) else {
            if data.len() >= MAX_HEAD {
                return self.stop_server();
            }
            return Step::NeedMore;
        };
        self.work.messages += 1;
        let (line, rest) = split_line(&data[..end]);
        let Some(code) = status_line(line) else {
            return self.stop_server();
        };
        if code == 101 {
            ev.push(HttpEvent::Upgraded);
            self.client = State::Done;
            self.server = State::Done;
            return Step::Finished;
        }
        if (100..200).contains(&code) {
            return Step::Consumed(end); // interim response, the final one follows
        }
        let request = self.pending.pop_front().unwrap_or(Pending::Other);
        if request == Pending::Connect {
            if (200..300).contains(&code) {
                ev.push(HttpEvent::ConnectEstablished);
                self.server = State::Tunnel;
                return Step::Tunnel(end);
            }
            ev.push(HttpEvent::ConnectRefused(code));
            if self.client == State::ConnectSent {
                self.client = State::Head; // e.g. 407, the client may retry on this connection
            }
        }
        let framing = if request == Pending::Head || code == 204 || code == 304 {
            Framing::None
        } else {
            let mut hv = HeaderValues::default();
            for_each_header(rest, |name, value| hv.take(name, value));
            match hv.framing(true) {
                Framing::None => Framing::Body(Body::UntilClose),
                f => f,
            }
        };
        self.server = match framing {
            Framing::None | Framing::Body(Body::Length(0)) => State::Head,
            Framing::Body(b) => State::Body(b),
            Framing::Unknown(_) => return self.stop_server(),
        };
        Step::Consumed(end)
    }

    /// One step inside a body; returns the new body state, `None` when the
    /// body ended; `Err` when the framing broke.
    fn body_step(&mut self, body: Body, data: &[u8], d: usize) -> Result<(Step, Option<Body>), &'static str> {
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
                _ => return Err("missing CRLF after chunk data"),
            },
            Body::Chunked(Chunk::Size) => match self.line(data, d)? {
                None => (Step::NeedMore, Some(body)),
                Some((l, n)) => {
                    let digits = l.split(|&b| b == b';' || b == b' ' || b == b'\t').next().unwrap_or(&[]);
                    let size = std::str::from_utf8(digits)
                        .ok()
                        .filter(|s| !s.is_empty() && s.len() <= 16)
                        .and_then(|s| u64::from_str_radix(s, 16).ok())
                        .ok_or("bad chunk size")?;
                    let next = if size == 0 { Chunk::Trailers } else { Chunk::Data(size) };
                    (Step::Consumed(n), Some(Body::Chunked(next)))
                }
            },
            Body::Chunked(Chunk::Trailers) => match self.line(data, d)? {
                None => (Step::NeedMore, Some(body)),
                Some((b"", n)) => (Step::Consumed(n), None),
                Some((_, n)) => (Step::Consumed(n), Some(body)),
            },
        })
    }

    /// A line without its CRLF (or LF) and the bytes it spans; the search
    /// resumes where the last call stopped.
    fn line<'d>(&mut self, data: &'d [u8], d: usize) -> Result<Option<(&'d [u8], usize)>, &'static str> {
        let from = self.scan[d].min(data.len());
        match data[from..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                self.work.bytes_scanned += i as u64 + 1;
                let l = &data[..from + i];
                Ok(Some((l.strip_suffix(b"\r").unwrap_or(l), from + i + 1)))
            }
            None if data.len() > MAX_LINE => Err("chunk line longer than 4 KiB"),
            None => {
                self.work.bytes_scanned += (data.len() - from) as u64;
                self.scan[d] = data.len();
                Ok(None)
            }
        }
    }
}

/// The headers of a head that matter here.
#[derive(Default)]
struct HeaderValues<'a> {
    host: Option<&'a [u8]>,
    user_agent: Option<&'a [u8]>,
    /// The last coding of the last Transfer-Encoding header.
    te_last: Option<&'a [u8]>,
    content_length: Option<u64>,
    bad_length: bool,
    /// Only the head's first `MAX_HEAD` bytes were read.
    truncated: bool,
}

impl<'a> HeaderValues<'a> {
    fn take(&mut self, name: &[u8], value: &'a [u8]) {
        if name.eq_ignore_ascii_case(b"host") {
            self.host.get_or_insert(value);
        } else if name.eq_ignore_ascii_case(b"user-agent") {
            self.user_agent.get_or_insert(value);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = value.rsplit(|&b| b == b',').map(trim).find(|c| !c.is_empty());
            if let Some(c) = last {
                self.te_last = Some(c);
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            // `5, 5` is one length said twice (RFC 9110 8.6).
            for v in value.split(|&b| b == b',').map(trim) {
                let n = std::str::from_utf8(v)
                    .ok()
                    .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|s| s.parse::<u64>().ok());
                match (n, self.content_length) {
                    (Some(n), None) => self.content_length = Some(n),
                    (Some(n), Some(l)) if n == l => {}
                    _ => self.bad_length = true,
                }
            }
        }
    }

    /// Body framing (RFC 9112 6.3): chunked wins over Content-Length; a
    /// request whose last coding is not chunked has no knowable length.
    fn framing(&self, response: bool) -> Framing {
        match self.te_last {
            Some(c) if c.eq_ignore_ascii_case(b"chunked") => return Framing::Body(Body::Chunked(Chunk::Size)),
            Some(_) if response => return Framing::Body(Body::UntilClose),
            Some(_) => return Framing::Unknown("request body without chunked framing"),
            None => {}
        }
        if self.bad_length {
            return Framing::Unknown("bad or conflicting Content-Length");
        }
        self.content_length.map_or(Framing::None, |n| Framing::Body(Body::Length(n)))
    }
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    &v[start..end]
}

fn header_string(v: &[u8]) -> String {
    String::from_utf8_lossy(trim(v)).into_owned()
}

/// The first line (without CR LF) and what follows it.
fn split_line(head: &[u8]) -> (&[u8], &[u8]) {
    match head.iter().position(|&b| b == b'\n') {
        Some(i) => (head[..i].strip_suffix(b"\r").unwrap_or(&head[..i]), &head[i + 1..]),
        None => (head, &[]),
    }
}

/// Calls `f(name, value)` for each `name: value` line of a header block;
/// lines that are not one (continuations, junk) are passed over.
fn for_each_header<'a>(block: &'a [u8], mut f: impl FnMut(&'a [u8], &'a [u8])) {
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = &line[..colon];
            if !name.is_empty() && name.iter().all(|&b| is_tchar(b)) {
                f(name, &line[colon + 1..]);
            }
        }
    }
}

/// RFC 9110 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `METHOD SP request-target SP HTTP/x.y`, leniently (runs of spaces or tabs,
/// any case of the method): `(method, target, version)`.
fn request_line(line: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let mut parts = line.split(|&b| b == b' ' || b == b'\t').filter(|p| !p.is_empty());
    let (method, uri, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || method.len() > 32 || !method.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    let v = version.strip_prefix(b"HTTP/").or_else(|| version.strip_prefix(b"http/"))?;
    match v {
        [a, b'.', b] if a.is_ascii_digit() && b.is_ascii_digit() => Some((method, uri, version)),
        _ => None,
    }
}

/// The code of an `HTTP/x.y NNN reason` status line.
fn status_line(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/")?;
    let mut parts = rest.splitn(3, |&b| b == b' ');
    parts.next()?;
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_status_lines() {
        assert!(request_line(b"GET http://a/ HTTP/1.1").is_some());
        assert!(request_line(b"get  /x\tHTTP/1.0").is_some());
        assert!(request_line(b"GET /x").is_none());
        assert!(request_line(b"\x00\x01 x HTTP/1.1").is_none());
        assert!(request_line(b"GET / HTTP/1.1 extra").is_none());
        assert_eq!(status_line(b"HTTP/1.1 407 Proxy Authentication Required"), Some(407));
        assert_eq!(status_line(b"HTTP/1.1 20 OK"), None);
    }

    #[test]
    fn framing_rules() {
        let mut hv = HeaderValues::default();
        hv.take(b"Transfer-Encoding", b" gzip, chunked ");
        assert!(matches!(hv.framing(false), Framing::Body(Body::Chunked(_))));
        hv.take(b"transfer-encoding", b"gzip");
        assert!(matches!(hv.framing(false), Framing::Unknown(_)));
        assert!(matches!(hv.framing(true), Framing::Body(Body::UntilClose)));
        let mut hv = HeaderValues::default();
        hv.take(b"Content-Length", b"5, 5");
        assert!(matches!(hv.framing(false), Framing::Body(Body::Length(5))));
        hv.take(b"Content-Length", b"6");
        assert!(matches!(hv.framing(false), Framing::Unknown(_)));
    }
}
