//! Reassembly of the Initial CRYPTO stream: frames may arrive out of order, overlap,
//! and span several packets. Bounded to the size of a ClientHello we accept.

use crate::tls::MAX_CLIENT_HELLO;
use crate::Error;

/// Highest stream offset kept (a ClientHello and its handshake header).
const MAX_END: u64 = MAX_CLIENT_HELLO as u64 + 4;

#[derive(Debug, Default)]
pub struct CryptoStream {
    data: Vec<u8>,
    /// Received byte ranges `[start, end)`, sorted and disjoint.
    have: Vec<(u64, u64)>,
}

impl CryptoStream {
    pub fn reset(&mut self) {
        self.data.clear();
        self.have.clear();
    }

    /// Stores the bytes of a CRYPTO frame at `offset`.
    pub fn insert(&mut self, offset: u64, bytes: &[u8]) -> Result<(), Error> {
        let end = offset.checked_add(bytes.len() as u64).filter(|&e| e <= MAX_END);
        let Some(end) = end else {
            return Err(Error::invalid(0, "CRYPTO data beyond 64 KiB"));
        };
        if bytes.is_empty() {
            return Ok(());
        }
        let (start, end_us) = (offset as usize, end as usize);
        if self.data.len() < end_us {
            self.data.resize(end_us, 0);
        }
        self.data[start..end_us].copy_from_slice(bytes);
        self.have.push((offset, end));
        self.have.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.have.len());
        for &(s, e) in &self.have {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        self.have = merged;
        Ok(())
    }

    /// The bytes received without a gap from offset 0.
    pub fn contiguous(&self) -> &[u8] {
        match self.have.first() {
            Some(&(0, end)) => &self.data[..end as usize],
            _ => &[],
        }
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
        s.insert(2, b"cdef").unwrap();
        s.insert(0, b"ab").unwrap();
        assert_eq!(s.contiguous(), b"abcdefgh");
        s.insert(10, b"k").unwrap();
        assert_eq!(s.contiguous(), b"abcdefgh");
        assert!(s.insert(MAX_END, b"x").is_err());
        assert!(s.insert(u64::MAX, b"x").is_err());
    }
}
