//! Zero-copy parsing of a TLS ClientHello message body (RFC 8446 section 4.1.2), and
//! accessors for the extensions netward reads: SNI, ALPN, supported versions, ECH.

use crate::reader::Reader;
use crate::Error;

pub const EXT_SERVER_NAME: u16 = 0x0000;
pub const EXT_SUPPORTED_GROUPS: u16 = 0x000a;
pub const EXT_EC_POINT_FORMATS: u16 = 0x000b;
pub const EXT_SIGNATURE_ALGORITHMS: u16 = 0x000d;
pub const EXT_ALPN: u16 = 0x0010;
pub const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;
/// Encrypted Client Hello (draft-ietf-tls-esni).
pub const EXT_ECH: u16 = 0xfe0d;

/// GREASE values (RFC 8701) look like 0x?a?a with both bytes equal.
pub fn is_grease(v: u16) -> bool {
    (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// A parsed ClientHello borrowing from the message body. Lists are kept as raw slices
/// (validated at parse time) so that reading SNI or ALPN costs no allocation.
#[derive(Debug, Clone, Copy)]
pub struct ClientHello<'a> {
    /// `legacy_version` (0x0303 for TLS 1.2 and 1.3).
    pub legacy_version: u16,
    pub session_id: &'a [u8],
    cipher_suites: &'a [u8],
    pub compression_methods: &'a [u8],
    extensions: &'a [u8],
}

impl<'a> ClientHello<'a> {
    /// Parses the body of a ClientHello handshake message (without the 4-byte
    /// handshake header). Trailing bytes after the extensions are an error.
    pub fn parse(body: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let legacy_version = r.u16("truncated ClientHello version")?;
        r.bytes(32, "truncated ClientHello random")?;
        let session_id = r.vec8("truncated session id")?;
        let at = r.pos();
        let cipher_suites = r.vec16("truncated cipher suites")?;
        if cipher_suites.len() % 2 != 0 {
            return Err(Error::invalid(at, "odd cipher suites length"));
        }
        let compression_methods = r.vec8("truncated compression methods")?;
        // A ClientHello without extensions is legal (SSL 3.0 / old TLS clients).
        let (extensions, ext_base) = if r.is_empty() {
            (&[][..], r.pos())
        } else {
            let base = r.pos() + 2;
            (r.vec16("truncated extensions")?, base)
        };
        if !r.is_empty() {
            return Err(Error::invalid(r.pos(), "bytes after ClientHello extensions"));
        }
        let mut ext = Reader::new(extensions);
        while !ext.is_empty() {
            ext.u16("truncated extension type").map_err(|e| e.shifted(ext_base))?;
            ext.vec16("truncated extension").map_err(|e| e.shifted(ext_base))?;
        }
        Ok(ClientHello { legacy_version, session_id, cipher_suites, compression_methods, extensions })
    }

    /// Cipher suites in wire order, GREASE included.
    pub fn cipher_suites(&self) -> impl Iterator<Item = u16> + 'a {
        self.cipher_suites.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]))
    }

    /// Extensions `(type, data)` in wire order, GREASE included.
    pub fn extensions(&self) -> Extensions<'a> {
        Extensions { r: Reader::new(self.extensions) }
    }

    /// The data of the first extension of type `ty`.
    pub fn extension(&self, ty: u16) -> Option<&'a [u8]> {
        self.extensions().find(|&(t, _)| t == ty).map(|(_, d)| d)
    }

    /// The first `host_name` entry of the server_name extension, raw.
    pub fn sni(&self) -> Option<&'a [u8]> {
        let mut r = Reader::new(self.extension(EXT_SERVER_NAME)?);
        let mut list = Reader::new(r.vec16("").ok()?);
        while !list.is_empty() {
            let kind = list.u8("").ok()?;
            let name = list.vec16("").ok()?;
            if kind == 0 {
                return Some(name);
            }
        }
        None
    }

    /// ALPN protocol names in order, raw.
    pub fn alpn(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let list = self.extension(EXT_ALPN).and_then(|d| Reader::new(d).vec16("").ok()).unwrap_or(&[]);
        let mut r = Reader::new(list);
        std::iter::from_fn(move || if r.is_empty() { None } else { r.vec8("").ok() })
    }

    /// Versions of the supported_versions extension in order, GREASE included.
    pub fn supported_versions(&self) -> impl Iterator<Item = u16> + 'a {
        let list = self.extension(EXT_SUPPORTED_VERSIONS).and_then(|d| Reader::new(d).vec8("").ok()).unwrap_or(&[]);
        list.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]))
    }

    /// A u16 list extension with a two-byte length prefix (groups, signature algorithms).
    pub fn u16_list(&self, ty: u16) -> impl Iterator<Item = u16> + 'a {
        let list = self.extension(ty).and_then(|d| Reader::new(d).vec16("").ok()).unwrap_or(&[]);
        list.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]))
    }

    /// EC point formats (one-byte list).
    pub fn ec_point_formats(&self) -> &'a [u8] {
        self.extension(EXT_EC_POINT_FORMATS).and_then(|d| Reader::new(d).vec8("").ok()).unwrap_or(&[])
    }

    /// Whether the Encrypted Client Hello extension is offered (outer ClientHello).
    pub fn has_ech(&self) -> bool {
        self.extension(EXT_ECH).is_some()
    }
}

/// Iterator over `(type, data)` of a validated extension block.
pub struct Extensions<'a> {
    r: Reader<'a>,
}

impl<'a> Iterator for Extensions<'a> {
    type Item = (u16, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.r.is_empty() {
            return None;
        }
        let ty = self.r.u16("").ok()?;
        let data = self.r.vec16("").ok()?;
        Some((ty, data))
    }
}

/// Reads a handshake message header: `(msg_type, body_length)`.
pub fn handshake_header(buf: &[u8]) -> Result<(u8, usize), Error> {
    match buf {
        [ty, a, b, c, ..] => Ok((*ty, u32::from_be_bytes([0, *a, *b, *c]) as usize)),
        _ => Err(Error::Incomplete),
    }
}

pub const HANDSHAKE_CLIENT_HELLO: u8 = 1;
