//! QUIC: the client's Initial packets (v1, v2, drafts 23-34). Keys come from each
//! packet's Destination Connection ID, so Initials sent after a Retry (with the new
//! DCID) decrypt too; CRYPTO frames are reassembled out of order across packets and
//! coalesced packets until the ClientHello is complete.
//!
//! Cost per flow, whatever the client sends: at most [`MAX_INITIALS`] client
//! Initials are decrypted (failed attempts included, each at most one
//! datagram), at most [`MAX_CRYPTO_FRAMES`] CRYPTO frames are reassembled (each
//! `O(log 32)` range-set operations, only new bytes copied: see
//! `crypto_stream`), the CRYPTO stream holds at most 16 KiB; other frames and
//! packets cost a constant per byte. Past a bound the flow is given up
//! ([`Observation::Unparsed`]) and later datagrams cost nothing. A browser's
//! ClientHello takes one or two Initials and a few frames, so a forged flow
//! costs at most a few times an ordinary one.

mod crypto_stream;
pub mod keys;

use std::collections::VecDeque;

use crate::observation::{Direction, Observation, Protocol};
use crate::reader::Reader;
use crate::tls::{handshake_header, ClientHelloInfo, Transport, HANDSHAKE_CLIENT_HELLO, MAX_CLIENT_HELLO};
use crate::Error;
use crypto_stream::CryptoStream;
use keys::{InitialKeys, PacketType};

/// Client Initials that fail to parse or decrypt before we give up on the flow.
const MAX_BAD_PACKETS: u32 = 8;
/// Client Initial packets decrypted (or tried) before giving up: a ClientHello
/// needs one or two, a few more after a Retry or a retransmission.
pub const MAX_INITIALS: u32 = 16;
/// CRYPTO frames reassembled before giving up (a client sends a handful).
pub const MAX_CRYPTO_FRAMES: u32 = 256;

/// The client side of one QUIC connection, until its ClientHello is read.
#[derive(Debug, Default)]
pub struct QuicClient {
    keys: Option<(u32, Vec<u8>, InitialKeys)>,
    crypto: CryptoStream,
    largest_pn: Option<u64>,
    bad_packets: u32,
    packets: u32,
    frames: u32,
    done: bool,
    decrypted: u64,
    /// Frames parsed, and padding bytes stepped over.
    parsed: u64,
    padding: u64,
}

impl QuicClient {
    /// Whether a client datagram starts with a long-header Initial of a version we read.
    pub fn looks_like_initial(d: &[u8]) -> bool {
        match d {
            [first, v0, v1, v2, v3, ..] if first & 0xc0 == 0xc0 => {
                let version = u32::from_be_bytes([*v0, *v1, *v2, *v3]);
                keys::is_supported(version) && keys::packet_type(version, *first) == PacketType::Initial
            }
            _ => false,
        }
    }

    pub fn finished(&self) -> bool {
        self.done
    }

    /// The work done so far.
    pub fn work(&self) -> crate::Work {
        let (copied, ops) = self.crypto.work();
        crate::Work {
            bytes_copied: copied,
            range_ops: ops,
            bytes_decrypted: self.decrypted,
            messages: self.parsed,
            bytes_scanned: self.padding,
            ..Default::default()
        }
    }

    /// Bytes held for reassembly.
    pub fn buffered(&self) -> usize {
        self.crypto.buffered()
    }

    /// Stops following the flow (the caller's memory budget).
    pub fn give_up(&mut self) {
        self.crypto.reset();
        self.done = true;
    }

    /// Handles one UDP datagram of the flow.
    pub fn datagram(&mut self, dir: Direction, mut d: &[u8], out: &mut VecDeque<Observation>) {
        while !self.done && !d.is_empty() {
            match self.packet(dir, d, out) {
                Ok(len) => d = d.get(len..).unwrap_or(&[]),
                Err(e) => {
                    if dir == Direction::ToServer {
                        self.bad_packets += 1;
                        if self.bad_packets >= MAX_BAD_PACKETS {
                            self.fail(e, out);
                        }
                    }
                    return;
                }
            }
        }
    }

    fn fail(&mut self, error: Error, out: &mut VecDeque<Observation>) {
        out.push_back(Observation::Unparsed { protocol: Protocol::Quic, error, layer: 0 });
        self.done = true;
    }

    /// One (possibly coalesced) long-header packet; returns its length.
    fn packet(&mut self, dir: Direction, d: &[u8], out: &mut VecDeque<Observation>) -> Result<usize, Error> {
        let mut r = Reader::new(d);
        let first = r.u8("empty packet")?;
        if first & 0x80 == 0 {
            return Ok(d.len()); // short header: 1-RTT, nothing for us
        }
        let version = r.u32("truncated version")?;
        if version == 0 {
            return Ok(d.len()); // version negotiation
        }
        let dcid = r.vec8("truncated DCID")?;
        let _scid = r.vec8("truncated SCID")?;
        if dcid.len() > 20 {
            return Err(Error::invalid(5, "connection ID longer than 20 bytes"));
        }
        if !keys::is_supported(version) {
            return Ok(d.len());
        }
        let ty = keys::packet_type(version, first);
        if ty == PacketType::Retry {
            if dir == Direction::ToClient {
                // The client starts over with a new DCID (new keys, same ClientHello).
                self.crypto.reset();
            }
            return Ok(d.len());
        }
        if ty == PacketType::Initial {
            let token_len = r.varint("truncated token length")?;
            r.bytes(usize::try_from(token_len).unwrap_or(usize::MAX), "truncated token")?;
        }
        let length = r.varint("truncated length")?;
        let pn_offset = r.pos();
        let end = usize::try_from(length)
            .ok()
            .and_then(|l| pn_offset.checked_add(l))
            .filter(|&e| e <= d.len())
            .ok_or(Error::invalid(pn_offset, "packet length beyond datagram"))?;
        if ty != PacketType::Initial || dir != Direction::ToServer {
            return Ok(end);
        }
        self.packets += 1;
        if self.packets > MAX_INITIALS {
            self.fail(Error::invalid(0, "no ClientHello in the first 16 Initial packets"), out);
            return Ok(end);
        }
        let payload = self.decrypt(version, dcid, &d[..end], pn_offset)?;
        // An authenticated packet whose frames we cannot take: not a client
        // sending its ClientHello.
        match self.frames(&payload) {
            Ok(()) => self.try_client_hello(out),
            Err(e) => self.fail(e, out),
        }
        Ok(end)
    }

    /// Removes header protection and decrypts an Initial packet; returns its frames.
    fn decrypt(&mut self, version: u32, dcid: &[u8], pkt: &[u8], pn_offset: usize) -> Result<Vec<u8>, Error> {
        let fresh = !matches!(&self.keys, Some((v, c, _)) if *v == version && c == dcid);
        if fresh {
            let k = InitialKeys::client(version, dcid).ok_or(Error::invalid(1, "unsupported QUIC version"))?;
            self.keys = Some((version, dcid.to_vec(), k));
        }
        let Some((_, _, keys)) = &self.keys else {
            return Err(Error::invalid(0, "no keys"));
        };
        let sample: &[u8; 16] = pkt
            .get(pn_offset + 4..pn_offset + 20)
            .and_then(|s| s.try_into().ok())
            .ok_or(Error::invalid(pn_offset, "packet too short for a header sample"))?;
        let mask = keys.mask(sample);
        let mut header = pkt[..pn_offset].to_vec();
        header[0] ^= mask[0] & 0x0f;
        let pn_len = usize::from(header[0] & 3) + 1;
        let mut truncated = 0u64;
        for i in 0..pn_len {
            let b = pkt[pn_offset + i] ^ mask[1 + i];
            header.push(b);
            truncated = (truncated << 8) | u64::from(b);
        }
        let pn = decode_pn(self.largest_pn, truncated, pn_len);
        let mut payload = pkt[pn_offset + pn_len..].to_vec();
        self.decrypted += payload.len() as u64;
        let len = keys
            .decrypt(pn, &header, &mut payload)
            .ok_or(Error::invalid(pn_offset, "Initial packet does not decrypt"))?;
        payload.truncate(len);
        self.largest_pn = Some(self.largest_pn.map_or(pn, |l| l.max(pn)));
        Ok(payload)
    }

    /// Collects the CRYPTO frames of a decrypted Initial payload.
    fn frames(&mut self, payload: &[u8]) -> Result<(), Error> {
        let mut r = Reader::new(payload);
        while !r.is_empty() {
            let ty = r.varint("truncated frame type")?;
            if ty == 0 {
                self.padding += 1;
                continue;
            }
            self.parsed += 1;
            match ty {
                0x01 => {} // PING
                ty @ (0x02 | 0x03) => {
                    // ACK: largest, delay, range count, first range, ranges, [ECN counts]
                    r.varint("ACK")?;
                    r.varint("ACK")?;
                    let ranges = r.varint("ACK")?;
                    r.varint("ACK")?;
                    for _ in 0..ranges {
                        r.varint("ACK range")?;
                        r.varint("ACK range")?;
                    }
                    if ty == 0x03 {
                        for _ in 0..3 {
                            r.varint("ACK ECN")?;
                        }
                    }
                }
                0x06 => {
                    self.frames += 1;
                    if self.frames > MAX_CRYPTO_FRAMES {
                        return Err(Error::invalid(r.pos(), "more than 256 CRYPTO frames"));
                    }
                    let offset = r.varint("CRYPTO offset")?;
                    let len = r.varint("CRYPTO length")?;
                    let at = r.pos();
                    let data = r.bytes(usize::try_from(len).unwrap_or(usize::MAX), "truncated CRYPTO frame")?;
                    self.crypto.insert(offset, data).map_err(|e| e.shifted(at))?;
                }
                0x1c | 0x1d => return Ok(()), // CONNECTION_CLOSE
                _ => return Err(Error::invalid(r.pos(), "frame not allowed in an Initial packet")),
            }
        }
        Ok(())
    }

    fn try_client_hello(&mut self, out: &mut VecDeque<Observation>) {
        let stream = self.crypto.contiguous();
        let Ok((ty, len)) = handshake_header(stream) else {
            return;
        };
        if ty != HANDSHAKE_CLIENT_HELLO || len > MAX_CLIENT_HELLO {
            self.fail(Error::invalid(0, "CRYPTO stream does not start with a ClientHello"), out);
            return;
        }
        if stream.len() < 4 + len {
            return;
        }
        match ClientHelloInfo::from_handshake(stream, Transport::Quic, 0) {
            Ok(info) => {
                out.push_back(Observation::TlsClientHello(info));
                self.done = true;
            }
            Err(e) => self.fail(e, out),
        }
    }
}

/// Full packet number from its truncated encoding (RFC 9000 appendix A.3).
fn decode_pn(largest: Option<u64>, truncated: u64, pn_len: usize) -> u64 {
    let expected = largest.map_or(0, |l| l + 1);
    let win = 1u64 << (pn_len * 8);
    let (hwin, mask) = (win / 2, win - 1);
    let candidate = (expected & !mask) | truncated;
    if candidate + hwin <= expected && candidate < (1 << 62) - win {
        candidate + win
    } else if candidate > expected + hwin && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::ClientHelloInfo;

    /// A minimal ClientHello handshake message naming `sni`, with QUIC transport parameters.
    fn hello(sni: &str) -> Vec<u8> {
        let mut exts = Vec::new();
        let mut name = ((sni.len() + 3) as u16).to_be_bytes().to_vec();
        name.push(0);
        name.extend((sni.len() as u16).to_be_bytes());
        name.extend(sni.as_bytes());
        exts.extend([0, 0]);
        exts.extend((name.len() as u16).to_be_bytes());
        exts.extend(name);
        exts.extend([0x00, 0x10, 0, 5, 0, 3, 2, b'h', b'3']);
        exts.extend([0x00, 0x2b, 0, 3, 2, 0x03, 0x04]);
        exts.extend([0x00, 0x39, 0, 2, 0x01, 0x00]);
        let mut body = vec![3, 3];
        body.extend([1u8; 32]);
        body.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend((exts.len() as u16).to_be_bytes());
        body.extend(exts);
        let mut m = vec![1];
        m.extend(&(body.len() as u32).to_be_bytes()[1..]);
        m.extend(body);
        m
    }

    fn crypto_frame(offset: u64, data: &[u8]) -> Vec<u8> {
        let mut f = vec![0x06, 0x80 | (offset >> 24) as u8, (offset >> 16) as u8, (offset >> 8) as u8, offset as u8];
        f.extend([0x40 | (data.len() >> 8) as u8, data.len() as u8]);
        f.extend(data);
        f
    }

    /// A protected client Initial packet (2-byte packet number), padded to 1200 bytes.
    fn initial(version: u32, dcid: &[u8], pn: u64, frames: &[u8]) -> Vec<u8> {
        let ty = if version == keys::VERSION_2 { 1 } else { 0 };
        let mut payload = frames.to_vec();
        payload.extend([0x02, 0, 0, 0, 0]); // an ACK frame, skipped
        payload.resize(1100, 0); // PADDING
        let mut header = vec![0xc0 | (ty << 4) | 1];
        header.extend(version.to_be_bytes());
        header.push(dcid.len() as u8);
        header.extend(dcid);
        header.extend([0, 0]); // SCID, token
        let length = 2 + payload.len() + 16;
        header.extend([0x40 | (length >> 8) as u8, length as u8]);
        let pn_offset = header.len();
        header.extend((pn as u16).to_be_bytes());
        let keys = InitialKeys::client(version, dcid).unwrap();
        keys.encrypt(pn, &header, &mut payload);
        let mut pkt = header;
        pkt.extend(payload);
        let sample: [u8; 16] = pkt[pn_offset + 4..pn_offset + 20].try_into().unwrap();
        let mask = keys.mask(&sample);
        pkt[0] ^= mask[0] & 0x0f;
        pkt[pn_offset] ^= mask[1];
        pkt[pn_offset + 1] ^= mask[2];
        pkt
    }

    fn run(datagrams: &[(Direction, Vec<u8>)]) -> Vec<Observation> {
        let mut q = QuicClient::default();
        let mut out = VecDeque::new();
        for (dir, d) in datagrams {
            q.datagram(*dir, d, &mut out);
        }
        out.into_iter().collect()
    }

    fn sni_of(obs: &[Observation]) -> Vec<(Option<String>, String)> {
        obs.iter()
            .filter_map(|o| match o {
                Observation::TlsClientHello(ClientHelloInfo { sni, ja4, .. }) => Some((sni.clone(), ja4.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn v2_crypto_frames_out_of_order_in_coalesced_packets() {
        let ch = hello("v2.example");
        let (a, b) = ch.split_at(40);
        let dcid = [0xaa; 8];
        let mut d = initial(keys::VERSION_2, &dcid, 0, &crypto_frame(40, b));
        d.extend(initial(keys::VERSION_2, &dcid, 1, &crypto_frame(0, a)));
        assert!(QuicClient::looks_like_initial(&d));
        let got = sni_of(&run(&[(Direction::ToServer, d)]));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0.as_deref(), Some("v2.example"));
        assert!(got[0].1.starts_with("q13d0104h3_"), "{}", got[0].1);
    }

    #[test]
    fn retry_then_initials_with_the_new_dcid() {
        let ch = hello("after-retry.example");
        let first = initial(keys::VERSION_1, &[1; 8], 0, &crypto_frame(0, &ch[..30]));
        // Retry: long header type 3, new SCID, token, integrity tag (not checked).
        let mut retry = vec![0xf0];
        retry.extend(keys::VERSION_1.to_be_bytes());
        retry.extend([0, 8]);
        retry.extend([2; 8]);
        retry.extend(b"token");
        retry.extend([0; 16]);
        let second = initial(keys::VERSION_1, &[2; 8], 1, &crypto_frame(0, &ch));
        let obs = run(&[(Direction::ToServer, first), (Direction::ToClient, retry), (Direction::ToServer, second)]);
        assert_eq!(sni_of(&obs)[0].0.as_deref(), Some("after-retry.example"));
    }

    #[test]
    fn undecryptable_initials_give_up_after_a_bound() {
        let mut d = initial(keys::VERSION_1, &[3; 8], 0, &crypto_frame(0, &hello("x")));
        let last = d.len() - 1;
        d[last] ^= 1; // break the tag
        let obs = run(&vec![(Direction::ToServer, d); 40]);
        assert!(matches!(&obs[..], [Observation::Unparsed { protocol: Protocol::Quic, .. }]), "{obs:?}");
    }

    #[test]
    fn packet_number_decoding() {
        // RFC 9000 A.3 example.
        assert_eq!(decode_pn(Some(0xa82f30ea), 0x9b32, 2), 0xa82f9b32);
        assert_eq!(decode_pn(None, 0, 1), 0);
        assert_eq!(decode_pn(Some(1), 2, 4), 2);
    }
}
