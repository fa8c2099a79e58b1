//! Reassembly of the Initial CRYPTO stream: frames may arrive out of order,
//! overlap, and span several packets.
//!
//! Cost: the received ranges live in a [`RangeSet`] (a B-tree of merged
//! ranges), so a frame costs `O(log r)` tree operations for the `r <=`
//! [`MAX_RANGES`] ranges held, plus one for each range it swallows (each
//! range is swallowed once); only bytes not held before are copied (the
//! first copy wins, as in TCP reassembly). Memory: at most [`MAX_END`] bytes
//! of stream and [`MAX_RANGES`] ranges.

use netward_quic_keys::ranges::RangeSet;

use crate::Error;

/// Highest stream offset kept: a QUIC ClientHello of up to 16 KiB and its
/// handshake header (browsers' are under 3 KiB, post-quantum key shares
/// included; over TCP the bound is 64 KiB).
pub const MAX_END: u64 = 16 * 1024 + 4;
/// Disjoint ranges held at once. A client splits its ClientHello into a
/// handful of frames (some shuffle them); more holes than this is not a
/// client sending a ClientHello.
pub const MAX_RANGES: usize = 32;

#[derive(Debug, Default)]
pub struct CryptoStream {
    data: Vec<u8>,
    have: RangeSet,
    copied: u64,
}

impl CryptoStream {
    /// Forgets the stream (a Retry: the client starts over); the work counts stay.
    pub fn reset(&mut self) {
        self.data = Vec::new();
        self.have.clear();
    }

    /// Stores the bytes of a CRYPTO frame at `offset`.
    pub fn insert(&mut self, offset: u64, bytes: &[u8]) -> Result<(), Error> {
        let end = offset.checked_add(bytes.len() as u64).filter(|&e| e <= MAX_END);
        let Some(end) = end else {
            return Err(Error::invalid(0, "CRYPTO data beyond 16 KiB"));
        };
        if bytes.is_empty() {
            return Ok(());
        }
        let end_us = end as usize;
        if self.data.len() < end_us {
            self.copied += (end_us - self.data.len()) as u64; // zero fill
            self.data.resize(end_us, 0);
        }
        let (data, copied) = (&mut self.data, &mut self.copied);
        self.have.insert(offset, end, |s, e| {
            let (s, e) = (s as usize, e as usize);
            let from = s - offset as usize;
            data[s..e].copy_from_slice(&bytes[from..from + (e - s)]);
            *copied += (e - s) as u64;
        });
        if self.have.len() > MAX_RANGES {
            return Err(Error::invalid(0, "CRYPTO stream in too many pieces"));
        }
        Ok(())
    }

    /// The bytes received without a gap from offset 0.
    pub fn contiguous(&self) -> &[u8] {
        match self.have.first() {
            Some((0, end)) => &self.data[..end as usize],
            _ => &[],
        }
    }

    /// Bytes held (capacity of the stream buffer).
    pub fn buffered(&self) -> usize {
        self.data.capacity()
    }

    /// Bytes copied (zero fill included) and range-set operations so far.
    pub fn work(&self) -> (u64, u64) {
        (self.copied, self.have.ops())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_and_overlap() {
        let mut s = CryptoStream::default();
        s.insert(4, b"efgh").unwrap();
        assert_eq!(s.contiguous(), b"");
        s.insert(2, b"XXef").unwrap();
        s.insert(0, b"ab").unwrap();
        assert_eq!(s.contiguous(), b"abXXefgh", "the first copy of a byte wins");
        s.insert(10, b"k").unwrap();
        assert_eq!(s.contiguous(), b"abXXefgh");
        assert!(s.insert(MAX_END, b"x").is_err());
        assert!(s.insert(u64::MAX, b"x").is_err());
    }

    #[test]
    fn too_many_holes() {
        let mut s = CryptoStream::default();
        for i in 0..MAX_RANGES as u64 {
            s.insert(2 * i + 1, b"x").unwrap();
        }
        assert!(s.insert(1000, b"x").is_err());
    }
}
