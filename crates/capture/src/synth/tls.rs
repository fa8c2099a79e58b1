//! TLS messages that look like a current browser's: a ClientHello with GREASE,
//! SNI, ALPN, key share and the usual extensions, and a server's first flight.
//! Only the bytes are real-looking; nothing here is cryptographically live.

use super::Rng;

const GREASE: [u16; 16] = [
    0x0a0a, 0x1a1a, 0x2a2a, 0x3a3a, 0x4a4a, 0x5a5a, 0x6a6a, 0x7a7a, 0x8a8a, 0x9a9a, 0xaaaa, 0xbaba, 0xcaca, 0xdada,
    0xeaea, 0xfafa,
];

fn u16be(v: &mut Vec<u8>, x: usize) {
    v.extend_from_slice(&(x as u16).to_be_bytes());
}

fn ext(out: &mut Vec<u8>, typ: u16, body: &[u8]) {
    out.extend_from_slice(&typ.to_be_bytes());
    u16be(out, body.len());
    out.extend_from_slice(body);
}

/// For which transport the ClientHello is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelloFor {
    /// TLS over TCP: a TLS record, padded to 512 bytes like Chrome.
    Tcp,
    /// QUIC: the bare handshake message, with QUIC transport parameters.
    Quic,
}

/// A ClientHello naming `sni` and offering `alpn`.
pub fn client_hello(rng: &mut Rng, sni: &str, alpn: &[&str], kind: HelloFor) -> Vec<u8> {
    let grease = GREASE[(rng.next_u64() % 16) as usize];
    let grease2 = GREASE[(rng.next_u64() % 16) as usize];
    let mut body = Vec::with_capacity(512);
    body.extend_from_slice(&[0x03, 0x03]);
    body.extend_from_slice(&rng.bytes(32));
    if kind == HelloFor::Tcp {
        body.push(32);
        body.extend_from_slice(&rng.bytes(32));
    } else {
        body.push(0);
    }
    let mut suites: Vec<u16> = vec![grease, 0x1301, 0x1302, 0x1303];
    if kind == HelloFor::Tcp {
        suites.extend_from_slice(&[
            0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ]);
    }
    u16be(&mut body, suites.len() * 2);
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]);

    let mut exts = Vec::with_capacity(400);
    ext(&mut exts, grease, &[]);
    let mut sn = Vec::new();
    u16be(&mut sn, sni.len() + 3);
    sn.push(0);
    u16be(&mut sn, sni.len());
    sn.extend_from_slice(sni.as_bytes());
    ext(&mut exts, 0, &sn);
    ext(&mut exts, 23, &[]);
    ext(&mut exts, 0xff01, &[0]);
    let mut groups = Vec::new();
    u16be(&mut groups, 8);
    for g in [grease, 0x001d, 0x0017, 0x0018] {
        groups.extend_from_slice(&g.to_be_bytes());
    }
    ext(&mut exts, 10, &groups);
    if kind == HelloFor::Tcp {
        ext(&mut exts, 11, &[1, 0]);
        ext(&mut exts, 35, &[]);
    }
    if !alpn.is_empty() {
        let mut list = Vec::new();
        for p in alpn {
            list.push(p.len() as u8);
            list.extend_from_slice(p.as_bytes());
        }
        let mut a = Vec::new();
        u16be(&mut a, list.len());
        a.extend_from_slice(&list);
        ext(&mut exts, 16, &a);
    }
    ext(&mut exts, 5, &[1, 0, 0, 0, 0]);
    let mut sig = Vec::new();
    let algs: [u16; 8] = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];
    u16be(&mut sig, algs.len() * 2);
    for a in algs {
        sig.extend_from_slice(&a.to_be_bytes());
    }
    ext(&mut exts, 13, &sig);
    ext(&mut exts, 18, &[]);
    let mut ks = Vec::new();
    u16be(&mut ks, 4 + 1 + 4 + 32);
    ks.extend_from_slice(&grease.to_be_bytes());
    u16be(&mut ks, 1);
    ks.push(0);
    ks.extend_from_slice(&0x001du16.to_be_bytes());
    u16be(&mut ks, 32);
    ks.extend_from_slice(&rng.bytes(32));
    ext(&mut exts, 51, &ks);
    ext(&mut exts, 45, &[1, 1]);
    if kind == HelloFor::Tcp {
        let mut sv = vec![6];
        for v in [grease2, 0x0304, 0x0303] {
            sv.extend_from_slice(&v.to_be_bytes());
        }
        ext(&mut exts, 43, &sv);
    } else {
        ext(&mut exts, 43, &[2, 0x03, 0x04]);
    }
    ext(&mut exts, 27, &[2, 0, 2]);
    if kind == HelloFor::Quic {
        // initial_max_data, initial_max_streams_bidi, max_idle_timeout,
        // initial_source_connection_id (empty for brevity).
        let tp = [
            0x04, 0x04, 0x80, 0x98, 0x96, 0x80, 0x08, 0x02, 0x40, 0x64, 0x01, 0x04, 0x80, 0x00, 0x75, 0x30, 0x0f, 0x00,
        ];
        ext(&mut exts, 0x39, &tp);
    }
    ext(&mut exts, grease2, &[0]);
    if kind == HelloFor::Tcp {
        // Chrome pads the handshake to 512 bytes.
        let so_far = 4 + body.len() + 2 + exts.len();
        if so_far + 4 < 512 {
            ext(&mut exts, 21, &vec![0; 512 - so_far - 4]);
        }
    }
    u16be(&mut body, exts.len());
    body.extend_from_slice(&exts);

    let mut hs = Vec::with_capacity(4 + body.len());
    hs.push(1);
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    match kind {
        HelloFor::Quic => hs,
        HelloFor::Tcp => record(0x16, 0x0301, &hs),
    }
}

/// A TLS record.
pub fn record(content_type: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(5 + body.len());
    r.push(content_type);
    r.extend_from_slice(&version.to_be_bytes());
    u16be(&mut r, body.len());
    r.extend_from_slice(body);
    r
}

/// A TLS 1.3 server's first flight: ServerHello, ChangeCipherSpec and the
/// encrypted rest (random bytes of about a certificate chain's size).
pub fn server_flight(rng: &mut Rng) -> Vec<u8> {
    let mut sh = Vec::new();
    sh.extend_from_slice(&[0x03, 0x03]);
    sh.extend_from_slice(&rng.bytes(32));
    sh.push(32);
    sh.extend_from_slice(&rng.bytes(32));
    sh.extend_from_slice(&0x1301u16.to_be_bytes());
    sh.push(0);
    let mut exts = Vec::new();
    ext(&mut exts, 43, &[0x03, 0x04]);
    let mut ks = Vec::new();
    ks.extend_from_slice(&0x001du16.to_be_bytes());
    u16be(&mut ks, 32);
    ks.extend_from_slice(&rng.bytes(32));
    ext(&mut exts, 51, &ks);
    u16be(&mut sh, exts.len());
    sh.extend_from_slice(&exts);
    let mut hs = vec![2];
    hs.extend_from_slice(&(sh.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&sh);
    let mut out = record(0x16, 0x0303, &hs);
    out.extend_from_slice(&record(0x14, 0x0303, &[1]));
    let n = 2500 + (rng.next_u64() % 1500) as usize;
    out.extend_from_slice(&record(0x17, 0x0303, &rng.bytes(n)));
    out
}

/// Application data records carrying `n` bytes in total (16 KiB records).
pub fn app_data(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + n / 16384 * 5 + 5);
    let mut left = n;
    while left > 0 {
        let k = left.min(16384);
        out.extend_from_slice(&record(0x17, 0x0303, &rng.bytes(k)));
        left -= k;
    }
    out
}
