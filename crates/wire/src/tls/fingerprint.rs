//! Client fingerprints of a ClientHello: JA3 (string and MD5) and JA4 (FoxIO, BSD
//! 3-Clause). Only the client fingerprint JA4 is implemented; the rest of JA4+ (JA4S,
//! JA4H, JA4X, ...) is under a licence netward does not accept.

use std::fmt::Write as _;

use md5::{Digest as _, Md5};
use sha2::Sha256;

use super::hello::{is_grease, ClientHello, EXT_ALPN, EXT_SERVER_NAME, EXT_SIGNATURE_ALGORITHMS, EXT_SUPPORTED_GROUPS};

/// The transport that carried the ClientHello; it is JA4's first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Quic,
}

/// The JA3 string `version,ciphers,extensions,groups,point_formats` (decimal values,
/// GREASE removed) and its MD5 in lowercase hex.
pub fn ja3(hello: &ClientHello<'_>) -> (String, String) {
    let mut s = String::with_capacity(256);
    let _ = write!(s, "{},", hello.legacy_version);
    join_dec(&mut s, hello.cipher_suites().filter(|&c| !is_grease(c)));
    s.push(',');
    join_dec(&mut s, hello.extensions().map(|(t, _)| t).filter(|&t| !is_grease(t)));
    s.push(',');
    join_dec(&mut s, hello.u16_list(EXT_SUPPORTED_GROUPS).filter(|&g| !is_grease(g)));
    s.push(',');
    join_dec(&mut s, hello.ec_point_formats().iter().map(|&f| u16::from(f)));
    let md5 = hex(&Md5::digest(s.as_bytes()));
    (s, md5)
}

fn join_dec(s: &mut String, it: impl Iterator<Item = u16>) {
    for (i, v) in it.enumerate() {
        if i > 0 {
            s.push('-');
        }
        let _ = write!(s, "{v}");
    }
}

/// JA4 TLS client fingerprint: `{t|q}{version}{d|i}{nciphers}{nexts}{alpn}_{b}_{c}`.
pub fn ja4(hello: &ClientHello<'_>, transport: Transport) -> String {
    let mut ciphers: Vec<u16> = hello.cipher_suites().filter(|&c| !is_grease(c)).collect();
    let mut exts: Vec<u16> = hello.extensions().map(|(t, _)| t).filter(|&t| !is_grease(t)).collect();
    let has_sni = exts.contains(&EXT_SERVER_NAME);
    let (ncipher, next) = (ciphers.len().min(99), exts.len().min(99));

    let mut out = String::with_capacity(36);
    out.push(match transport {
        Transport::Tcp => 't',
        Transport::Quic => 'q',
    });
    out.push_str(version_code(ja4_version(hello)));
    out.push(if has_sni { 'd' } else { 'i' });
    let _ = write!(out, "{ncipher:02}{next:02}");
    out.push_str(&alpn_code(hello.alpn().next()));

    ciphers.sort_unstable();
    exts.retain(|&t| t != EXT_SERVER_NAME && t != EXT_ALPN);
    exts.sort_unstable();
    out.push('_');
    out.push_str(&hash12(&hex_list(ciphers.into_iter())));
    out.push('_');
    let mut c = hex_list(exts.into_iter());
    let sigs = hex_list(hello.u16_list(EXT_SIGNATURE_ALGORITHMS));
    // "If there are no signature algorithms, the string ends without an underscore."
    if !sigs.is_empty() {
        c.push('_');
        c.push_str(&sigs);
    }
    out.push_str(&hash12(&c));
    out
}

/// The version JA4 reports: the highest non-GREASE supported_versions entry, else
/// the ClientHello's legacy version.
fn ja4_version(hello: &ClientHello<'_>) -> u16 {
    hello.supported_versions().filter(|&v| !is_grease(v)).max().unwrap_or(hello.legacy_version)
}

fn version_code(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0200 => "s2",
        0x0100 => "s1",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// First and last character of the first ALPN value, "00" without ALPN. When the
/// first or last byte is not ASCII, "99": that is what FoxIO's own implementations
/// (Python and Rust) and their test vectors produce (the prose would give hex digits;
/// fingerprints exist to be compared, so we follow the reference output). For other
/// non-alphanumeric ASCII, the prose rule: first and last hex digit of the value.
fn alpn_code(first: Option<&[u8]>) -> String {
    let v = match first {
        Some(v) if !v.is_empty() => v,
        _ => return "00".to_owned(),
    };
    let (a, z) = (v[0], v[v.len() - 1]);
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        [a as char, z as char].iter().collect()
    } else if !a.is_ascii() || !z.is_ascii() {
        "99".to_owned()
    } else {
        [HEX[usize::from(a >> 4)] as char, HEX[usize::from(z & 0xf)] as char].iter().collect()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Comma-separated 4-digit lowercase hex (a table, not `format!`: this runs per hello).
fn hex_list(it: impl Iterator<Item = u16>) -> String {
    let mut s = String::with_capacity(256);
    for (i, v) in it.enumerate() {
        if i > 0 {
            s.push(',');
        }
        for shift in [12, 8, 4, 0] {
            s.push(HEX[usize::from((v >> shift) & 0xf)] as char);
        }
    }
    s
}

/// First 12 hex digits of SHA-256; twelve zeros for an empty list.
fn hash12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".to_owned();
    }
    let mut h = hex(&Sha256::digest(s.as_bytes()));
    h.truncate(12);
    h
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0xf)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease_values() {
        assert!(is_grease(0x0a0a));
        assert!(is_grease(0xfafa));
        assert!(!is_grease(0x0a1a));
        assert!(!is_grease(0x1301));
    }

    #[test]
    fn alpn_codes() {
        assert_eq!(alpn_code(None), "00");
        assert_eq!(alpn_code(Some(b"h2")), "h2");
        assert_eq!(alpn_code(Some(b"http/1.1")), "h1");
        assert_eq!(alpn_code(Some(b"h")), "hh");
        // Non-ASCII: FoxIO's implementations and vectors (tls-non-ascii-alpn.pcapng).
        assert_eq!(alpn_code(Some(&[0xba, 0xad])), "99");
        assert_eq!(alpn_code(Some(&[0x30, 0xab])), "99");
        // Non-alphanumeric ASCII: the specification's hex rule.
        assert_eq!(alpn_code(Some(b"0-")), "3d");
        assert_eq!(alpn_code(Some(b"-a")), "21");
    }

    #[test]
    fn hash12_of_known_list() {
        // The JA4 specification's example: sorted cipher list of Chrome.
        let ciphers = "002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9";
        assert_eq!(hash12(ciphers), "8daaf6152771");
        assert_eq!(hash12(""), "000000000000");
    }
}
