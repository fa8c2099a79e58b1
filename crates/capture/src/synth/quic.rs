//! QUIC v1 Initial packets protected as RFC 9001 says (keys from the
//! Destination Connection ID, AES-128-GCM, header protection), so that an
//! inspector can decrypt them and read the ClientHello's SNI.

use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use aes::Aes128;
use aes_gcm::{AeadInOut, Aes128Gcm};
use hkdf::Hkdf;
use sha2::Sha256;

const INITIAL_SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f,
    0x0a,
];

/// Smallest UDP payload of a client Initial (RFC 9000 §14.1).
const MIN_CLIENT_DATAGRAM: usize = 1200;

fn expand_label<const N: usize>(prk: &Hkdf<Sha256>, label: &str) -> [u8; N] {
    let mut info = Vec::with_capacity(4 + 6 + label.len());
    info.extend_from_slice(&(N as u16).to_be_bytes());
    info.push((6 + label.len()) as u8);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label.as_bytes());
    info.push(0);
    let mut out = [0u8; N];
    // N is at most 32: far below HKDF-SHA256's limit, so expand cannot fail.
    let _ = prk.expand(&info, &mut out);
    out
}

/// Initial packet protection keys of one side.
pub struct InitialKeys {
    pub key: [u8; 16],
    pub iv: [u8; 12],
    pub hp: [u8; 16],
}

impl InitialKeys {
    /// Keys for `dcid`; `client` picks "client in" or "server in".
    pub fn derive(dcid: &[u8], client: bool) -> InitialKeys {
        let (_, initial) = Hkdf::<Sha256>::extract(Some(&INITIAL_SALT_V1), dcid);
        let secret: [u8; 32] = expand_label(&initial, if client { "client in" } else { "server in" });
        let side = Hkdf::<Sha256>::from_prk(&secret).unwrap_or(initial);
        InitialKeys {
            key: expand_label(&side, "quic key"),
            iv: expand_label(&side, "quic iv"),
            hp: expand_label(&side, "quic hp"),
        }
    }
}

fn varint(out: &mut Vec<u8>, v: u64) {
    if v < 64 {
        out.push(v as u8);
    } else if v < 16384 {
        out.extend_from_slice(&(0x4000 | v as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&(0x8000_0000 | v as u32).to_be_bytes());
    }
}

/// A protected Initial packet carrying `crypto` (TLS handshake bytes) in one
/// CRYPTO frame at offset 0; a client's is padded to 1200 bytes. Both sides'
/// keys come from the client's first Destination Connection ID, `original_dcid`.
pub fn initial_packet(original_dcid: &[u8], dcid: &[u8], scid: &[u8], pn: u32, crypto: &[u8], client: bool) -> Vec<u8> {
    let keys = InitialKeys::derive(original_dcid, client);
    let pn_len = 4usize;
    let mut frames = Vec::with_capacity(MIN_CLIENT_DATAGRAM);
    frames.push(0x06);
    varint(&mut frames, 0);
    varint(&mut frames, crypto.len() as u64);
    frames.extend_from_slice(crypto);

    let mut header = Vec::with_capacity(64);
    header.push(0xc0 | (pn_len as u8 - 1));
    header.extend_from_slice(&1u32.to_be_bytes());
    header.push(dcid.len() as u8);
    header.extend_from_slice(dcid);
    header.push(scid.len() as u8);
    header.extend_from_slice(scid);
    if client {
        varint(&mut header, 0); // token length
    }
    if client {
        // Pad so that header + length field (2 bytes) + pn + frames + tag reach 1200.
        let total = header.len() + 2 + pn_len + frames.len() + 16;
        if total < MIN_CLIENT_DATAGRAM {
            frames.resize(frames.len() + MIN_CLIENT_DATAGRAM - total, 0);
        }
    }
    let length = pn_len + frames.len() + 16;
    header.extend_from_slice(&(0x4000 | length as u16).to_be_bytes());
    let pn_offset = header.len();
    header.extend_from_slice(&pn.to_be_bytes()[4 - pn_len..]);

    let mut nonce = keys.iv;
    for (n, p) in nonce[8..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    let aead = Aes128Gcm::new(&Array::from(keys.key));
    let tag = aead
        .encrypt_inout_detached(&Array::from(nonce), &header, frames.as_mut_slice().into())
        .map(|t| t.to_vec())
        .unwrap_or_default();
    let mut packet = header;
    packet.extend_from_slice(&frames);
    packet.extend_from_slice(&tag);

    // Header protection: sample 16 bytes starting 4 after the packet number.
    let mut sample = [0u8; 16];
    if let Some(s) = packet.get(pn_offset + 4..pn_offset + 20) {
        sample.copy_from_slice(s);
    }
    let mut block = Array::from(sample);
    Aes128::new(&Array::from(keys.hp)).encrypt_block(&mut block);
    let mask: [u8; 16] = block.into();
    packet[0] ^= mask[0] & 0x0f;
    for i in 0..pn_len {
        packet[pn_offset + i] ^= mask[1 + i];
    }
    packet
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9001 appendix A.1: keys of DCID 0x8394c8f03e515708.
    #[test]
    fn rfc9001_initial_keys() {
        let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
        let c = InitialKeys::derive(&dcid, true);
        assert_eq!(
            c.key,
            [0x1f, 0x36, 0x96, 0x13, 0xdd, 0x76, 0xd5, 0x46, 0x77, 0x30, 0xef, 0xcb, 0xe3, 0xb1, 0xa2, 0x2d]
        );
        assert_eq!(c.iv, [0xfa, 0x04, 0x4b, 0x2f, 0x42, 0xa3, 0xfd, 0x3b, 0x46, 0xfb, 0x25, 0x5c]);
        assert_eq!(
            c.hp,
            [0x9f, 0x50, 0x44, 0x9e, 0x04, 0xa0, 0xe8, 0x10, 0x28, 0x3a, 0x1e, 0x99, 0x33, 0xad, 0xed, 0xd2]
        );
        let s = InitialKeys::derive(&dcid, false);
        assert_eq!(
            s.key,
            [0xcf, 0x3a, 0x53, 0x31, 0x65, 0x3c, 0x36, 0x4c, 0x88, 0xf0, 0xf3, 0x79, 0xb6, 0x06, 0x7e, 0x37]
        );
    }

    /// A client Initial has the right shape and decrypts back with the keys an
    /// inspector derives from its DCID.
    #[test]
    fn client_initial_round_trip() {
        let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
        let hello = b"client hello bytes";
        let mut p = initial_packet(&dcid, &dcid, &[], 2, hello, true);
        assert_eq!(p.len(), MIN_CLIENT_DATAGRAM);
        assert_eq!(p[0] & 0xf0, 0xc0);
        assert_eq!(&p[1..5], &[0, 0, 0, 1]);
        assert_eq!(&p[6..14], &dcid);
        // Header: flags, version, dcid len+8, scid len 0, token len 0, length (2).
        let pn_offset = 1 + 4 + 1 + 8 + 1 + 1 + 2;
        let keys = InitialKeys::derive(&dcid, true);
        let mut block = Array::from(<[u8; 16]>::try_from(&p[pn_offset + 4..pn_offset + 20]).unwrap());
        Aes128::new(&Array::from(keys.hp)).encrypt_block(&mut block);
        let mask: [u8; 16] = block.into();
        p[0] ^= mask[0] & 0x0f;
        assert_eq!(p[0], 0xc3, "4-byte packet number after unmasking");
        for i in 0..4 {
            p[pn_offset + i] ^= mask[1 + i];
        }
        assert_eq!(&p[pn_offset..pn_offset + 4], &[0, 0, 0, 2]);
        let (header, rest) = p.split_at_mut(pn_offset + 4);
        let (msg, tag) = rest.split_at_mut(rest.len() - 16);
        let mut nonce = keys.iv;
        nonce[11] ^= 2;
        let aead = Aes128Gcm::new(&Array::from(keys.key));
        let tag = Array::try_from(&tag[..]).unwrap();
        aead.decrypt_inout_detached(&Array::from(nonce), header, msg.into(), &tag).unwrap();
        assert_eq!(&msg[..3], &[0x06, 0x00, hello.len() as u8]);
        assert_eq!(&msg[3..3 + hello.len()], hello);
    }
}
