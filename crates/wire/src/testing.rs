//! Builders of flows, ordinary and hostile, shared by the tests of this crate
//! and of `netward-sensor`, and by the hostile-input benchmark
//! (`crates/sensor/benches/hostile.rs`). Not part of the API: names and
//! shapes change with the tests.

use crate::quic::keys::InitialKeys;

/// A ClientHello handshake message (4-byte header included) naming `sni`,
/// offering `alpn`, with QUIC transport parameters, padded with a padding
/// extension so the whole message is at least `min_len` bytes (a browser's
/// post-quantum key share makes them about 1.8 KB).
pub fn client_hello(sni: &str, alpn: &[&str], min_len: usize) -> Vec<u8> {
    let mut exts = Vec::new();
    ext(&mut exts, 0x0a0a, &[]); // GREASE
    sni_ext(&mut exts, sni);
    alpn_ext(&mut exts, alpn);
    ext(&mut exts, 0x000a, &[0, 4, 0x00, 0x1d, 0x00, 0x17]);
    ext(&mut exts, 0x000d, &[0, 4, 0x04, 0x03, 0x08, 0x04]);
    ext(&mut exts, 0x002b, &[2, 0x03, 0x04]);
    ext(&mut exts, 0x0039, &[0x01, 0x00]); // QUIC transport parameters
    let mut body = vec![0x03, 0x03];
    body.extend([7u8; 32]);
    body.push(0);
    body.extend([0, 6, 0x13, 0x01, 0x13, 0x02, 0x13, 0x03]);
    body.extend([1, 0]);
    let now = 4 + body.len() + 2 + exts.len();
    if now + 4 < min_len {
        ext(&mut exts, 0x0015, &vec![0u8; min_len - now - 4]);
    }
    handshake(body, &exts)
}

/// One TLS extension: type, length, data.
pub fn ext(out: &mut Vec<u8>, ty: u16, data: &[u8]) {
    out.extend(ty.to_be_bytes());
    out.extend((data.len() as u16).to_be_bytes());
    out.extend(data);
}

/// The server_name extension naming `name` (one host_name entry).
pub fn sni_ext(out: &mut Vec<u8>, name: &str) {
    let mut d = ((name.len() + 3) as u16).to_be_bytes().to_vec();
    d.push(0);
    d.extend((name.len() as u16).to_be_bytes());
    d.extend(name.as_bytes());
    ext(out, 0x0000, &d);
}

/// The ALPN extension offering `alpn` (nothing when empty).
pub fn alpn_ext(out: &mut Vec<u8>, alpn: &[&str]) {
    if alpn.is_empty() {
        return;
    }
    let mut list = Vec::new();
    for a in alpn {
        list.push(a.len() as u8);
        list.extend(a.as_bytes());
    }
    let mut d = (list.len() as u16).to_be_bytes().to_vec();
    d.extend(list);
    ext(out, 0x0010, &d);
}

/// A ClientHello handshake message (type 1, 3-byte length) from its body up
/// to the extensions, and the extensions.
pub fn handshake(mut body: Vec<u8>, exts: &[u8]) -> Vec<u8> {
    body.extend((exts.len() as u16).to_be_bytes());
    body.extend(exts);
    let mut msg = vec![1];
    msg.extend(&(body.len() as u32).to_be_bytes()[1..]);
    msg.extend(body);
    msg
}

/// Wraps a handshake message in TLS records of at most `max` bytes of payload each.
pub fn records(msg: &[u8], max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for frag in msg.chunks(max.max(1)) {
        out.extend([0x16, 0x03, 0x01]);
        out.extend((frag.len() as u16).to_be_bytes());
        out.extend(frag);
    }
    out
}

/// A QUIC variable-length integer.
pub fn varint(out: &mut Vec<u8>, v: u64) {
    if v < 1 << 6 {
        out.push(v as u8);
    } else if v < 1 << 14 {
        out.extend((0x4000 | v as u16).to_be_bytes());
    } else if v < 1 << 30 {
        out.extend((0x8000_0000 | v as u32).to_be_bytes());
    } else {
        out.extend((0xc000_0000_0000_0000 | v).to_be_bytes());
    }
}

/// A CRYPTO frame carrying `data` at stream `offset`.
pub fn crypto_frame(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x06];
    varint(&mut f, offset);
    varint(&mut f, data.len() as u64);
    f.extend(data);
    f
}

/// Room for frames in a 1200-byte client Initial with an 8-byte DCID and a 2-byte packet number.
pub const INITIAL_FRAME_ROOM: usize = 1200 - (1 + 4 + 1 + 8 + 1 + 1 + 2 + 2 + 16);

/// A protected QUIC v1 client Initial (2-byte packet number) carrying `frames`,
/// padded to 1200 bytes.
pub fn initial(dcid: &[u8], pn: u64, frames: &[u8]) -> Vec<u8> {
    let version = crate::quic::keys::VERSION_1;
    let mut payload = frames.to_vec();
    let room = 1200 - (1 + 4 + 1 + dcid.len() + 1 + 1 + 2 + 2 + 16);
    if payload.len() < room {
        payload.resize(room, 0); // PADDING
    }
    let mut header = vec![0xc1];
    header.extend(version.to_be_bytes());
    header.push(dcid.len() as u8);
    header.extend(dcid);
    header.extend([0, 0]); // SCID, token
    let length = 2 + payload.len() + 16;
    header.extend([0x40 | (length >> 8) as u8, length as u8]);
    let pn_offset = header.len();
    header.extend((pn as u16).to_be_bytes());
    let Some(keys) = InitialKeys::client(version, dcid) else { return Vec::new() };
    keys.encrypt(pn, &header, &mut payload);
    let mut pkt = header;
    pkt.extend(payload);
    let mut sample = [0u8; 16];
    sample.copy_from_slice(&pkt[pn_offset + 4..pn_offset + 20]);
    let mask = keys.mask(&sample);
    pkt[0] ^= mask[0] & 0x0f;
    pkt[pn_offset] ^= mask[1];
    pkt[pn_offset + 1] ^= mask[2];
    pkt
}

/// An ordinary QUIC connection's client Initials: a ClientHello of `hello_len`
/// bytes (1.8 KB for a browser with a post-quantum key share) in as many
/// Initials as it needs, one CRYPTO frame each.
pub fn quic_ordinary(sni: &str, hello_len: usize) -> Vec<Vec<u8>> {
    let hello = client_hello(sni, &["h3"], hello_len);
    let room = INITIAL_FRAME_ROOM - 8;
    let dcid = [0x5a; 8];
    hello.chunks(room).enumerate().map(|(i, c)| initial(&dcid, i as u64, &crypto_frame((i * room) as u64, c))).collect()
}

/// `n` forged client Initials full of one-byte CRYPTO frames at odd offsets
/// (so no two ever merge into one range), each Initial also re-sending one
/// larger frame that overlaps what was sent before; offset 0 never comes, so
/// no ClientHello ever completes.
pub fn quic_tiny_frames(n: usize) -> Vec<Vec<u8>> {
    let dcid = [0xa5; 8];
    let mut next = 1u64;
    (0..n)
        .map(|i| {
            let mut frames = crypto_frame(3001, &[0x55; 300]); // overlaps itself every packet
            while frames.len() + 8 < INITIAL_FRAME_ROOM {
                frames.extend(crypto_frame(next, &[0x42]));
                next += 2;
            }
            initial(&dcid, i as u64, &frames)
        })
        .collect()
}

/// `n` forged client Initials whose CRYPTO frames all overlap one another in
/// the first 300 bytes of the stream, which start with a handshake header
/// announcing a ClientHello of 16000 bytes that never comes.
pub fn quic_overlapping_frames(n: usize) -> Vec<Vec<u8>> {
    let dcid = [0xb6; 8];
    let mut stream = vec![1u8, 0, 0x3e, 0x80];
    stream.resize(300, 0x33);
    (0..n)
        .map(|i| {
            let mut frames = Vec::new();
            let mut k = 0;
            while frames.len() + 220 < INITIAL_FRAME_ROOM {
                let at = (k * 37) % 100;
                frames.extend(crypto_frame(at as u64, &stream[at..at + 200]));
                k += 1;
            }
            initial(&dcid, i as u64, &frames)
        })
        .collect()
}

/// `n` forged client Initials that each add a few new bytes to a ClientHello
/// announced as 16000 bytes long: every Initial makes progress, none completes.
pub fn quic_slow_initials(n: usize) -> Vec<Vec<u8>> {
    let dcid = [0xc7; 8];
    (0..n)
        .map(|i| {
            let frames = if i == 0 {
                crypto_frame(0, &[1, 0, 0x3e, 0x80, 3, 3])
            } else {
                crypto_frame(6 + 10 * (i as u64 - 1), &[0x44; 10])
            };
            initial(&dcid, i as u64, &frames)
        })
        .collect()
}

/// A DNS name in wire form (no compression).
pub fn dns_name(out: &mut Vec<u8>, name: &str) {
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend(label.as_bytes());
    }
    out.push(0);
}

/// What a DNS answer record says.
#[derive(Debug, Clone)]
pub enum Rdata<'a> {
    A([u8; 4]),
    Cname(&'a str),
}

/// A DNS response (NOERROR) to an A query for `query` with `answers` `(owner, ttl, data)`.
pub fn dns_response(id: u16, query: &str, answers: &[(&str, u32, Rdata<'_>)]) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend([0x81, 0x80, 0, 1]);
    m.extend((answers.len() as u16).to_be_bytes());
    m.extend([0, 0, 0, 0]);
    dns_name(&mut m, query);
    m.extend([0, 1, 0, 1]);
    for (owner, ttl, data) in answers {
        dns_name(&mut m, owner);
        let (ty, rdata) = match data {
            Rdata::A(a) => (1u16, a.to_vec()),
            Rdata::Cname(t) => {
                let mut n = Vec::new();
                dns_name(&mut n, t);
                (5, n)
            }
        };
        m.extend(ty.to_be_bytes());
        m.extend([0, 1]);
        m.extend(ttl.to_be_bytes());
        m.extend((rdata.len() as u16).to_be_bytes());
        m.extend(rdata);
    }
    m
}

/// A DNS query for `name` (A).
pub fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend([0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    dns_name(&mut m, name);
    m.extend([0, 1, 0, 1]);
    m
}

/// A response whose query name leads through a CNAME chain of `links` names
/// to `addresses` A records of the chain's last name: resolving it once per
/// address record, walking the chain each time, costs `links * addresses`
/// name steps (times the answer count, with a linear search per step).
pub fn dns_cname_chain(links: usize, addresses: usize) -> Vec<u8> {
    let names: Vec<String> = (0..=links).map(|i| format!("c{i}.chain.example")).collect();
    let mut answers = Vec::new();
    for i in 0..links {
        answers.push((names[i].as_str(), 300, Rdata::Cname(names[i + 1].as_str())));
    }
    for a in 0..addresses {
        answers.push((names[links].as_str(), 300, Rdata::A([10, 9, (a >> 8) as u8, a as u8])));
    }
    dns_response(0x4242, &names[0], &answers)
}

/// A DNS message framed for TCP (two-byte length first).
pub fn tcp_framed(msg: &[u8]) -> Vec<u8> {
    let mut out = (msg.len() as u16).to_be_bytes().to_vec();
    out.extend(msg);
    out
}

/// A proxy-form GET of `url` with `extra` header lines, no body.
pub fn proxy_get(url: &str, host: &str, extra: usize) -> Vec<u8> {
    let mut r = format!("GET {url} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: test/1\r\n");
    for i in 0..extra {
        r.push_str(&format!("X-Header-{i}: value {i}\r\n"));
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// A proxy-form POST with `headers` header lines and a chunked body of `chunks` chunks.
pub fn proxy_post_chunked(url: &str, host: &str, headers: usize, chunks: usize) -> Vec<u8> {
    let mut r = format!("POST {url} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n");
    for i in 0..headers {
        r.push_str(&format!("X-Header-{i}: value {i}\r\n"));
    }
    r.push_str("\r\n");
    for i in 0..chunks {
        r.push_str(&format!("5;i={i}\r\nhello\r\n"));
    }
    r.push_str("0\r\n\r\n");
    r.into_bytes()
}
