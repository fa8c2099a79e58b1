//! Keyed 96-bit hashes of domain suffixes, computed right to left so that a
//! lookup gets the hash of every suffix of a host in one pass.
//!
//! `hash("b.c")` is `combine(combine(root, label("c")), label("b"))`; labels
//! cannot contain `.`, so distinct names are distinct label sequences. Each
//! suffix yields a 64-bit `key` (its lowest bit forced to 1, since 0 marks an
//! empty slot: 63 bits) and an independent 32-bit `check`: 95 bits in all.
//!
//! False match probability: a probe against `n` stored names matches a
//! different name with probability about `n / 2^95`; at n = 10^7 names and
//! 6 probes per lookup that is 1.5e-21 per lookup, i.e. one expected false
//! match in 10^13 years at 20 million lookups a second. The hash is keyed
//! with a seed the store draws at random per process, so nobody can craft a
//! name that collides with a listed (say, allowed) one; it is a fast
//! multiply-fold hash (wyhash's `mum`), not a cryptographic MAC.

/// The seed of the keyed hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seed(pub u64, pub u64);

impl Seed {
    /// A fixed seed, for tests and benchmarks that need reproducible
    /// layouts.
    pub const FIXED: Seed = Seed(0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344);

    /// A seed drawn from the standard library's per-process random keys
    /// (the ones `HashMap` uses).
    pub fn random() -> Seed {
        use std::hash::{BuildHasher, Hasher};
        let s = std::collections::hash_map::RandomState::new();
        let mut a = s.build_hasher();
        a.write_u64(0x5eed);
        let mut b = s.build_hasher();
        b.write_u64(0xfeed);
        Seed(a.finish(), b.finish())
    }
}

const P0: u64 = 0xa076_1d64_78bd_642f;
const P1: u64 = 0xe703_7ed1_a0b4_28db;
const P2: u64 = 0x8ebc_6af0_9c88_c6e3;
const P3: u64 = 0x5899_65cc_7537_4cc3;

#[inline(always)]
fn mum(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

#[inline(always)]
fn word(chunk: &[u8]) -> u64 {
    if let Ok(b) = <[u8; 8]>::try_from(chunk) {
        return u64::from_le_bytes(b);
    }
    // Tail of fewer than 8 bytes, little-endian, zero-padded: two
    // overlapping reads placed at their offsets (overlapping bytes agree,
    // so OR joins them) instead of a byte loop.
    let n = chunk.len();
    if n >= 4 {
        let lo = chunk.first_chunk::<4>().map_or(0, |b| u32::from_le_bytes(*b));
        let hi = chunk.last_chunk::<4>().map_or(0, |b| u32::from_le_bytes(*b));
        return u64::from(lo) | (u64::from(hi) << (8 * (n - 4)));
    }
    let byte = |i: usize| chunk.get(i).map_or(0, |&b| u64::from(b)) << (8 * i);
    if n == 0 {
        return 0;
    }
    byte(0) | byte(n / 2) | byte(n - 1)
}

/// Both lanes of one label's hash.
#[inline(always)]
fn label(seed: Seed, l: &[u8]) -> (u64, u64) {
    let n = l.len() as u64;
    let mut a = seed.0 ^ n.wrapping_mul(P0);
    let mut b = seed.1 ^ n.wrapping_mul(P1);
    for c in l.chunks(8) {
        let w = word(c);
        a = mum(a ^ w, P2);
        b = mum(b ^ w, P3);
    }
    (a, b)
}

#[inline(always)]
fn combine(parent: (u64, u64), l: (u64, u64)) -> (u64, u64) {
    (mum(parent.0.rotate_left(23) ^ l.0, P1), mum(parent.1.rotate_left(29) ^ l.1, P0))
}

#[inline(always)]
fn root(seed: Seed) -> (u64, u64) {
    (seed.0 ^ P3, seed.1 ^ P2)
}

/// The stored form of a suffix hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// 63 random bits, lowest bit 1 (never 0).
    pub key: u64,
    /// 32 further bits.
    pub check: u32,
}

#[inline(always)]
fn finish(s: (u64, u64)) -> Key {
    Key { key: s.0 | 1, check: (s.1 >> 32) as u32 }
}

/// Most labels a domain indicator may have; lookups hash at most this many
/// suffixes.
pub const MAX_LABELS: usize = 64;

/// One suffix of a looked-up host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suffix {
    /// Its hash.
    pub key: Key,
    /// Byte offset where the suffix starts in the host.
    pub start: u32,
    /// Its number of labels (1 = the last label alone).
    pub labels: u8,
}

/// Lazily hashes a host's suffixes, shortest first, up to a label limit:
/// one pass over the host, no allocation.
pub struct SuffixIter<'a> {
    seed: Seed,
    bytes: &'a [u8],
    state: (u64, u64),
    end: usize,
    labels: usize,
    max: usize,
    done: bool,
}

impl<'a> SuffixIter<'a> {
    /// Suffixes of `host` with up to `max_labels` labels (at most
    /// [`MAX_LABELS`]). Empty labels (which canonical hosts never have) are
    /// hashed like any other.
    #[inline]
    pub fn new(seed: Seed, host: &'a str, max_labels: usize) -> Self {
        let bytes = host.as_bytes();
        SuffixIter {
            seed,
            bytes,
            state: root(seed),
            end: bytes.len(),
            labels: 0,
            max: max_labels.min(MAX_LABELS),
            done: false,
        }
    }
}

impl Iterator for SuffixIter<'_> {
    type Item = Suffix;

    #[inline]
    fn next(&mut self) -> Option<Suffix> {
        if self.done || self.labels >= self.max {
            return None;
        }
        let head = self.bytes.get(..self.end).unwrap_or(&[]);
        let start = head.iter().rposition(|&b| b == b'.').map_or(0, |d| d + 1);
        self.state = combine(self.state, label(self.seed, head.get(start..).unwrap_or(&[])));
        self.labels += 1;
        if start == 0 {
            self.done = true;
        } else {
            self.end = start - 1;
        }
        Some(Suffix { key: finish(self.state), start: start as u32, labels: self.labels as u8 })
    }
}

/// The key of a whole name (a domain indicator's value, or a URL
/// indicator's host text).
pub fn name_key(seed: Seed, name: &str) -> Key {
    let bytes = name.as_bytes();
    let mut state = root(seed);
    for l in bytes.rsplit(|&b| b == b'.') {
        state = combine(state, label(seed, l));
    }
    finish(state)
}

/// FNV-1a 64: a small seedless hash for stable ids and file checksums,
/// where the value must be the same in every process.
pub fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// FNV-1a's offset basis.
pub const FNV_INIT: u64 = 0xcbf2_9ce4_8422_2325;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_agree_with_name_key() {
        let s: Vec<Suffix> = SuffixIter::new(Seed::FIXED, "a.b.evil.example", 64).collect();
        let names = ["example", "evil.example", "b.evil.example", "a.b.evil.example"];
        assert_eq!(s.len(), 4);
        for (suf, name) in s.iter().zip(names) {
            assert_eq!(suf.key, name_key(Seed::FIXED, name), "{name}");
            assert_eq!(&"a.b.evil.example"[suf.start as usize..], name);
            assert_eq!(usize::from(suf.labels), name.split('.').count());
        }
        assert_eq!(SuffixIter::new(Seed::FIXED, "a.b.evil.example", 2).count(), 2);
        assert_eq!(SuffixIter::new(Seed::FIXED, "", 64).count(), 1);
    }

    #[test]
    fn word_is_little_endian_zero_padded() {
        assert_eq!(word(b"ab"), u64::from_le_bytes(*b"ab\0\0\0\0\0\0"));
        assert_eq!(word(b"abcdefgh"), u64::from_le_bytes(*b"abcdefgh"));
        assert_eq!(word(b""), 0);
        for n in 0..8 {
            let b = &b"\x01\x82\x03\xf4\x05\x06\x97"[..n];
            let slow = b.iter().rev().fold(0u64, |w, &x| (w << 8) | u64::from(x));
            assert_eq!(word(b), slow, "tail of {n} bytes");
        }
    }

    #[test]
    fn different_names_different_keys() {
        let a = name_key(Seed::FIXED, "ab.c");
        assert_ne!(a, name_key(Seed::FIXED, "a.bc"));
        assert_ne!(a, name_key(Seed::FIXED, "abc"));
        assert_ne!(name_key(Seed::FIXED, "x"), name_key(Seed(1, 2), "x"));
    }
}
