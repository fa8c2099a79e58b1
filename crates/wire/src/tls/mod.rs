//! TLS: the ClientHello (zero-copy parser, fingerprints) and the reassembly of the
//! ClientHello handshake message across TLS records and TCP segments.

mod fingerprint;
mod hello;

pub use fingerprint::{ja3, ja4, Transport};
pub use hello::{handshake_header, is_grease, ClientHello, Extensions, EXT_ECH, HANDSHAKE_CLIENT_HELLO};

use crate::Error;

/// Largest ClientHello handshake message we buffer (post-quantum key shares make
/// ClientHellos of 2-3 KiB common; 64 KiB is generous and bounded).
pub const MAX_CLIENT_HELLO: usize = 64 * 1024;
/// Largest TLS record payload allowed by RFC 8446 (2^14 plus expansion).
const MAX_RECORD: usize = (1 << 14) + 2048;
const CONTENT_HANDSHAKE: u8 = 22;

/// What netward learns from a ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHelloInfo {
    /// Server Name Indication (the outer, public name when ECH is used).
    pub sni: Option<String>,
    /// ALPN protocols offered, in order (lossy UTF-8).
    pub alpn: Vec<String>,
    /// `legacy_version` field.
    pub legacy_version: u16,
    /// supported_versions entries without GREASE (empty when the extension is absent).
    pub versions: Vec<u16>,
    /// JA3 string and its MD5.
    pub ja3: String,
    pub ja3_md5: String,
    /// JA4 TLS client fingerprint.
    pub ja4: String,
    /// Encrypted Client Hello offered (extension 0xfe0d): the real name is hidden.
    pub ech: bool,
    pub transport: Transport,
    /// Tunnel depth: 0 on the connection itself, 1 inside a CONNECT/SOCKS tunnel, ...
    pub layer: u8,
}

impl ClientHelloInfo {
    pub fn new(hello: &ClientHello<'_>, transport: Transport, layer: u8) -> Self {
        let (ja3, ja3_md5) = ja3(hello);
        ClientHelloInfo {
            sni: hello.sni().map(|s| String::from_utf8_lossy(s).into_owned()),
            alpn: hello.alpn().map(|a| String::from_utf8_lossy(a).into_owned()).collect(),
            legacy_version: hello.legacy_version,
            versions: hello.supported_versions().filter(|&v| !is_grease(v)).collect(),
            ja3,
            ja3_md5,
            ja4: ja4(hello, transport),
            ech: hello.has_ech(),
            transport,
            layer,
        }
    }

    /// Parses a complete ClientHello handshake message (4-byte header included).
    pub fn from_handshake(msg: &[u8], transport: Transport, layer: u8) -> Result<Self, Error> {
        let (ty, len) = handshake_header(msg)?;
        if ty != HANDSHAKE_CLIENT_HELLO {
            return Err(Error::invalid(0, "handshake message is not a ClientHello"));
        }
        let body = msg.get(4..4 + len).ok_or(Error::Incomplete)?;
        Ok(ClientHelloInfo::new(&ClientHello::parse(body).map_err(|e| e.shifted(4))?, transport, layer))
    }
}

/// Progress of [`ClientHelloAssembler::step`].
#[derive(Debug)]
pub enum Progress {
    /// This many bytes (whole records) were consumed; call again with the rest.
    Consumed(usize),
    /// The ClientHello is complete; this many bytes were consumed.
    Hello(Box<ClientHelloInfo>, usize),
}

/// Reassembles the first handshake message of a TLS client stream from records that
/// may carry a fragment of it each. Fed bytes at record boundaries; a partial record
/// is `Error::Incomplete` (the caller keeps it and calls again with more).
#[derive(Debug, Default)]
pub struct ClientHelloAssembler {
    handshake: Vec<u8>,
    consumed: usize,
    /// Bytes copied into `handshake`, and records read.
    pub(crate) copied: u64,
    pub(crate) records: u64,
}

impl ClientHelloAssembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes held (the capacity of the handshake buffer).
    pub fn buffered(&self) -> usize {
        self.handshake.capacity()
    }

    /// Consumes at most one record from `data`.
    pub fn step(&mut self, data: &[u8], layer: u8) -> Result<Progress, Error> {
        let base = self.consumed;
        let [ty, major, _minor, hi, lo, ..] = *data else {
            return Err(Error::Incomplete);
        };
        if ty != CONTENT_HANDSHAKE {
            return Err(Error::invalid(base, "TLS record before the ClientHello is not a handshake"));
        }
        if major != 3 {
            return Err(Error::invalid(base + 1, "TLS record version is not 3.x"));
        }
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len > MAX_RECORD || len == 0 {
            return Err(Error::invalid(base + 3, "bad TLS record length"));
        }
        let fragment = data.get(5..5 + len).ok_or(Error::Incomplete)?;
        let used = 5 + len;
        self.consumed += used;
        self.records += 1;
        // Common case: the whole ClientHello sits in this one record, parse in place.
        let msg: &[u8] = if self.handshake.is_empty() { fragment } else { &[] };
        if !msg.is_empty() {
            if let Some(p) = self.try_hello(msg, base + 5, layer)? {
                return Ok(Progress::Hello(Box::new(p), used));
            }
        }
        if self.handshake.len() + fragment.len() > MAX_CLIENT_HELLO + 4 {
            return Err(Error::invalid(base, "ClientHello larger than 64 KiB"));
        }
        self.handshake.extend_from_slice(fragment);
        self.copied += fragment.len() as u64;
        let buffered = std::mem::take(&mut self.handshake);
        let res = self.try_hello(&buffered, base + 5, layer);
        self.handshake = buffered;
        match res? {
            Some(info) => Ok(Progress::Hello(Box::new(info), used)),
            None => Ok(Progress::Consumed(used)),
        }
    }

    /// `Ok(None)` while the handshake message is still incomplete.
    fn try_hello(&self, msg: &[u8], at: usize, layer: u8) -> Result<Option<ClientHelloInfo>, Error> {
        let (ty, len) = match handshake_header(msg) {
            Ok(h) => h,
            Err(_) => return Ok(None),
        };
        if ty != HANDSHAKE_CLIENT_HELLO {
            return Err(Error::invalid(at, "first handshake message is not a ClientHello"));
        }
        if len > MAX_CLIENT_HELLO {
            return Err(Error::invalid(at + 1, "ClientHello larger than 64 KiB"));
        }
        if msg.len() < 4 + len {
            return Ok(None);
        }
        match ClientHelloInfo::from_handshake(msg, Transport::Tcp, layer) {
            Ok(info) => Ok(Some(info)),
            Err(e) => Err(e.shifted(at)),
        }
    }
}

/// Convenience for tests and tools: the ClientHello of a complete TLS client byte
/// stream prefix (records from the first byte).
pub fn client_hello_from_records(mut data: &[u8]) -> Result<ClientHelloInfo, Error> {
    let mut asm = ClientHelloAssembler::new();
    loop {
        match asm.step(data, 0)? {
            Progress::Consumed(n) => data = data.get(n..).unwrap_or(&[]),
            Progress::Hello(info, _) => return Ok(*info),
        }
    }
}
