//! QUIC v1 Initial packets protected as RFC 9001 says (keys from the
//! Destination Connection ID, AES-128-GCM, header protection), so that an
//! inspector can decrypt them and read the ClientHello's SNI.

use netward_quic_keys::{InitialKeys, Side, VERSION_1};

/// Smallest UDP payload of a client Initial (RFC 9000 §14.1).
const MIN_CLIENT_DATAGRAM: usize = 1200;

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
    let side = if client { Side::Client } else { Side::Server };
    let Some(keys) = InitialKeys::new(VERSION_1, original_dcid, side) else {
        return Vec::new(); // v1 is always supported
    };
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

    let mut packet = header.clone();
    keys.encrypt(u64::from(pn), &header, &mut frames);
    packet.extend_from_slice(&frames);

    // Header protection: sample 16 bytes starting 4 after the packet number.
    let mut sample = [0u8; 16];
    if let Some(s) = packet.get(pn_offset + 4..pn_offset + 20) {
        sample.copy_from_slice(s);
    }
    let mask = keys.mask(&sample);
    packet[0] ^= mask[0] & 0x0f;
    for i in 0..pn_len {
        packet[pn_offset + i] ^= mask[1 + i];
    }
    packet
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client Initial has the right shape and decrypts back with the keys an
    /// inspector derives from its DCID (the keys themselves are checked against
    /// RFC 9001 in netward-quic-keys).
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
        let keys = InitialKeys::client(VERSION_1, &dcid).unwrap();
        let sample: [u8; 16] = p[pn_offset + 4..pn_offset + 20].try_into().unwrap();
        let mask = keys.mask(&sample);
        p[0] ^= mask[0] & 0x0f;
        assert_eq!(p[0], 0xc3, "4-byte packet number after unmasking");
        for i in 0..4 {
            p[pn_offset + i] ^= mask[1 + i];
        }
        assert_eq!(&p[pn_offset..pn_offset + 4], &[0, 0, 0, 2]);
        let (header, rest) = p.split_at_mut(pn_offset + 4);
        let len = keys.decrypt(2, header, rest).expect("decrypts");
        let msg = &rest[..len];
        assert_eq!(&msg[..3], &[0x06, 0x00, hello.len() as u8]);
        assert_eq!(&msg[3..3 + hello.len()], hello);
    }

    /// The server's Initial is protected with the server keys of the client's first DCID.
    #[test]
    fn server_initial_uses_server_keys() {
        let dcid = [7u8; 8];
        let mut p = initial_packet(&dcid, &[1; 8], &[2; 8], 0, b"server hello", false);
        let pn_offset = 1 + 4 + 1 + 8 + 1 + 8 + 2;
        let keys = InitialKeys::new(VERSION_1, &dcid, Side::Server).unwrap();
        let sample: [u8; 16] = p[pn_offset + 4..pn_offset + 20].try_into().unwrap();
        let mask = keys.mask(&sample);
        p[0] ^= mask[0] & 0x0f;
        for i in 0..4 {
            p[pn_offset + i] ^= mask[1 + i];
        }
        let (header, rest) = p.split_at_mut(pn_offset + 4);
        assert!(keys.decrypt(0, header, rest).is_some());
    }
}
