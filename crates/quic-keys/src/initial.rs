//! QUIC Initial packet protection (RFC 9001 section 5, RFC 9369 for v2): keys
//! derived from the client's Destination Connection ID, header protection
//! with AES-128-ECB, payload protection with AES-128-GCM.

use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use aes::Aes128;
use aes_gcm::{AeadInOut, Aes128Gcm};
use hkdf::Hkdf;
use sha2::Sha256;

pub const VERSION_1: u32 = 0x0000_0001;
pub const VERSION_2: u32 = 0x6b33_43cf;

const SALT_V1: [u8; 20] = hex20("38762cf7f55934b34d179ae6a4c80cadccbb7f0a");
const SALT_V2: [u8; 20] = hex20("0dede3def700a6db819381be6e269dcbf9bd2ed9");
const SALT_DRAFT29: [u8; 20] = hex20("afbfec289993d24c9e9786f19c6111e04390a899");
const SALT_DRAFT23: [u8; 20] = hex20("c3eef712c72ebb5a11a7d2432bb46365bef9f502");

const fn hex20(s: &str) -> [u8; 20] {
    let b = s.as_bytes();
    let mut out = [0u8; 20];
    let mut i = 0;
    while i < 20 {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

/// Initial salt and whether the labels are v2's; `None` for versions we cannot read.
fn version_params(version: u32) -> Option<(&'static [u8; 20], bool)> {
    Some(match version {
        VERSION_1 => (&SALT_V1, false),
        VERSION_2 => (&SALT_V2, true),
        0xff00_0021..=0xff00_0022 => (&SALT_V1, false),
        0xff00_001d..=0xff00_0020 => (&SALT_DRAFT29, false),
        0xff00_0017..=0xff00_001c => (&SALT_DRAFT23, false),
        _ => return None,
    })
}

/// Whether Initial keys of `version` can be derived (v1, v2, drafts 23-34).
pub fn is_supported(version: u32) -> bool {
    version_params(version).is_some()
}

/// Long-header packet types, numbered as in v1 (v2 permutes the bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

/// The type of a long-header packet of `version` from its first byte.
pub fn packet_type(version: u32, first: u8) -> PacketType {
    let bits = (first >> 4) & 3;
    let v1_bits = if version == VERSION_2 { (bits + 3) & 3 } else { bits };
    match v1_bits {
        0 => PacketType::Initial,
        1 => PacketType::ZeroRtt,
        2 => PacketType::Handshake,
        _ => PacketType::Retry,
    }
}

/// Which side's Initial keys: "client in" or "server in".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// One side's Initial keys for one Destination Connection ID.
pub struct InitialKeys {
    key: [u8; 16],
    iv: [u8; 12],
    hp: [u8; 16],
    aead: Aes128Gcm,
    hp_cipher: Aes128,
}

impl std::fmt::Debug for InitialKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InitialKeys")
    }
}

fn expand_label<const N: usize>(prk: &Hkdf<Sha256>, label: &str) -> [u8; N] {
    let mut info = Vec::with_capacity(4 + 6 + label.len());
    info.extend_from_slice(&(N as u16).to_be_bytes());
    info.push((6 + label.len()) as u8);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label.as_bytes());
    info.push(0);
    let mut out = [0u8; N];
    // N is at most 32 here, far below HKDF-SHA256's limit of 255 * 32: expand cannot fail.
    let _ = prk.expand(&info, &mut out);
    out
}

impl InitialKeys {
    /// `side`'s Initial keys of `version` for the client's Destination
    /// Connection ID `dcid`; `None` for a version we cannot read.
    pub fn new(version: u32, dcid: &[u8], side: Side) -> Option<InitialKeys> {
        let (salt, v2) = version_params(version)?;
        let (_, initial) = Hkdf::<Sha256>::extract(Some(salt), dcid);
        let label = match side {
            Side::Client => "client in",
            Side::Server => "server in",
        };
        let secret: [u8; 32] = expand_label(&initial, label);
        let secret = Hkdf::<Sha256>::from_prk(&secret).ok()?;
        let (k, iv, hp) =
            if v2 { ("quicv2 key", "quicv2 iv", "quicv2 hp") } else { ("quic key", "quic iv", "quic hp") };
        let key: [u8; 16] = expand_label(&secret, k);
        let iv: [u8; 12] = expand_label(&secret, iv);
        let hp: [u8; 16] = expand_label(&secret, hp);
        Some(InitialKeys {
            key,
            iv,
            hp,
            aead: Aes128Gcm::new(&Array::from(key)),
            hp_cipher: Aes128::new(&Array::from(hp)),
        })
    }

    /// The client's Initial keys (what an inspector decrypts with).
    pub fn client(version: u32, dcid: &[u8]) -> Option<InitialKeys> {
        Self::new(version, dcid, Side::Client)
    }

    /// The AEAD key.
    pub fn key(&self) -> &[u8; 16] {
        &self.key
    }

    /// The AEAD IV (XORed with the packet number for each nonce).
    pub fn iv(&self) -> &[u8; 12] {
        &self.iv
    }

    /// The header protection key.
    pub fn hp(&self) -> &[u8; 16] {
        &self.hp
    }

    /// The header protection mask for a 16-byte sample.
    pub fn mask(&self, sample: &[u8; 16]) -> [u8; 16] {
        let mut block = Array::from(*sample);
        self.hp_cipher.encrypt_block(&mut block);
        block.into()
    }

    fn nonce(&self, pn: u64) -> [u8; 12] {
        let mut nonce = self.iv;
        for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        nonce
    }

    /// Decrypts `payload` (ciphertext then 16-byte tag) in place; returns the
    /// plaintext length, or `None` if authentication fails.
    pub fn decrypt(&self, pn: u64, header: &[u8], payload: &mut [u8]) -> Option<usize> {
        let len = payload.len().checked_sub(16)?;
        let (msg, tag) = payload.split_at_mut(len);
        let tag = Array::try_from(&tag[..]).ok()?;
        self.aead.decrypt_inout_detached(&Array::from(self.nonce(pn)), header, msg.into(), &tag).ok()?;
        Some(len)
    }

    /// Protects `payload` in place and appends the 16-byte tag.
    pub fn encrypt(&self, pn: u64, header: &[u8], payload: &mut Vec<u8>) {
        let nonce = Array::from(self.nonce(pn));
        // AES-GCM refuses only payloads beyond 64 GiB; a packet is far below.
        if let Ok(tag) = self.aead.encrypt_inout_detached(&nonce, header, payload.as_mut_slice().into()) {
            payload.extend_from_slice(&tag);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

    /// RFC 9001 appendix A.1 and A.2: keys and a header protection mask of DCID 0x8394c8f03e515708.
    #[test]
    fn rfc9001_keys_and_mask() {
        let c = InitialKeys::new(VERSION_1, &DCID, Side::Client).unwrap();
        assert_eq!(
            c.key,
            [0x1f, 0x36, 0x96, 0x13, 0xdd, 0x76, 0xd5, 0x46, 0x77, 0x30, 0xef, 0xcb, 0xe3, 0xb1, 0xa2, 0x2d]
        );
        assert_eq!(c.iv, [0xfa, 0x04, 0x4b, 0x2f, 0x42, 0xa3, 0xfd, 0x3b, 0x46, 0xfb, 0x25, 0x5c]);
        assert_eq!(
            c.hp,
            [0x9f, 0x50, 0x44, 0x9e, 0x04, 0xa0, 0xe8, 0x10, 0x28, 0x3a, 0x1e, 0x99, 0x33, 0xad, 0xed, 0xd2]
        );
        let sample = [0xd1, 0xb1, 0xc9, 0x8d, 0xd7, 0x68, 0x9f, 0xb8, 0xec, 0x11, 0xd2, 0x42, 0xb1, 0x23, 0xdc, 0x9b];
        assert_eq!(c.mask(&sample)[..5], [0x43, 0x7b, 0x9a, 0xec, 0x36]);
        let s = InitialKeys::new(VERSION_1, &DCID, Side::Server).unwrap();
        assert_eq!(
            s.key,
            [0xcf, 0x3a, 0x53, 0x31, 0x65, 0x3c, 0x36, 0x4c, 0x88, 0xf0, 0xf3, 0x79, 0xb6, 0x06, 0x7e, 0x37]
        );
    }

    /// RFC 9369 appendix A.1: v2 client Initial keys of the same DCID.
    #[test]
    fn rfc9369_v2_keys() {
        let keys = InitialKeys::client(VERSION_2, &DCID).unwrap();
        assert_eq!(keys.iv, [0x91, 0xf7, 0x3e, 0x23, 0x51, 0xd8, 0xfa, 0x91, 0x66, 0x0e, 0x90, 0x9f]);
        let sample = [0xff, 0xe6, 0x7b, 0x6a, 0xbc, 0xdb, 0x42, 0x98, 0xb4, 0x85, 0xdd, 0x04, 0xde, 0x80, 0x60, 0x71];
        assert_eq!(keys.mask(&sample)[..5], [0x94, 0xa0, 0xc9, 0x5e, 0x80]);
        assert_eq!(packet_type(VERSION_2, 0xd3), PacketType::Initial);
        assert_eq!(packet_type(VERSION_1, 0xc3), PacketType::Initial);
        assert_eq!(packet_type(VERSION_1, 0xf0), PacketType::Retry);
        assert_eq!(packet_type(VERSION_2, 0xc0), PacketType::Retry);
        assert!(InitialKeys::client(0x1234_5678, &DCID).is_none());
    }

    #[test]
    fn encrypt_then_decrypt() {
        let keys = InitialKeys::client(VERSION_1, &DCID).unwrap();
        let mut p = b"crypto frames".to_vec();
        keys.encrypt(7, b"hdr", &mut p);
        assert_eq!(p.len(), 13 + 16);
        assert_eq!(keys.decrypt(7, b"hdr", &mut p), Some(13));
        assert_eq!(&p[..13], b"crypto frames");
        let mut q = b"crypto frames".to_vec();
        keys.encrypt(7, b"hdr", &mut q);
        assert_eq!(keys.decrypt(8, b"hdr", &mut q), None, "another packet number");
    }
}
