//! The compact open-addressing table behind domain lookups.
//!
//! Slots are 16 bytes (`key`, `check`, payload), four to a 64-byte bucket,
//! which is one cache line; a lookup usually reads one line. Buckets are
//! probed linearly; the table is sized for a load of at most 0.8, so at 10
//! million names it takes 10M / 0.8 * 16 = 200 MB, 20 bytes a name, plus
//! one byte a name for the Bloom filter in front (see [`KeyTable`]). A key
//! may occur in several slots (one name in several indicators); lookups
//! report every slot with the key until they reach an empty slot.

use crate::hash::Key;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
struct Slot {
    key: u64,
    check: u32,
    payload: u32,
}

#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Bucket([Slot; 4]);

/// Fixed-capacity hash table from [`Key`] to `u32` payloads, with a
/// blocked Bloom filter in front.
///
/// Most probes of a lookup are misses (of a host's 2-6 suffixes at most one
/// or two are listed). The filter, 8 bits per entry with 3 bits set in one
/// 64-bit word (about 3% false positives), is small enough to stay in the
/// CPU cache (10 MB at 10M names), so a miss rarely costs a DRAM access and
/// TLB walk into the 200 MB table.
#[derive(Debug)]
pub struct KeyTable {
    buckets: Box<[Bucket]>,
    filter: Box<[u64]>,
    len: usize,
}

/// The filter word and bit mask of a key. The word comes from `check`,
/// the bits from the key's low bits: both independent of the bucket
/// choice, which uses the key's high bits.
#[inline(always)]
fn filter_pos(k: Key, words: usize) -> (usize, u64) {
    let word = ((u64::from(k.check) * words as u64) >> 32) as usize;
    let b = k.key >> 1;
    let mask = (1u64 << (b & 63)) | (1u64 << ((b >> 6) & 63)) | (1u64 << ((b >> 12) & 63));
    (word, mask)
}

/// `n` copies of `fill`, backed by 2 MB pages where the kernel allows.
/// Lookups read random lines of a table of hundreds of MB: with 4 KB
/// pages nearly every read also misses the TLB and walks the page tables;
/// with 2 MB pages the whole table fits in the TLB. Only the 2 MB-aligned
/// interior is advised; the call is a hint, and failure (no transparent
/// huge pages) changes nothing but speed.
/// The advice must come before the memory is first written, so the
/// allocation is advised while still untouched and filled afterwards.
fn huge_vec<T: Clone>(n: usize, fill: T) -> Box<[T]> {
    let mut v: Vec<T> = Vec::with_capacity(n);
    advise_huge_pages(v.as_ptr(), n * std::mem::size_of::<T>());
    v.resize(n, fill);
    v.into_boxed_slice()
}

fn advise_huge_pages<T>(ptr: *const T, bytes: usize) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = ptr as usize;
        let end = start + bytes;
        let (a, b) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
        if b > a {
            // SAFETY: madvise(MADV_HUGEPAGE) on whole pages inside a live
            // allocation we own changes only how the kernel backs them,
            // never their contents; nothing is dereferenced.
            #[allow(unsafe_code)]
            unsafe {
                libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, bytes);
}

impl KeyTable {
    /// A table for `n` entries (load at most 0.8).
    pub fn with_capacity(n: usize) -> KeyTable {
        // ceil(n / 3.2) buckets of 4 slots; n < 4 * buckets always holds,
        // so every probe sequence reaches an empty slot.
        let nb = (n * 5).div_ceil(16).max(1);
        let words = n.div_ceil(8).max(1);
        KeyTable { buckets: huge_vec(nb, Bucket::default()), filter: huge_vec(words, 0), len: 0 }
    }

    /// Number of entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes of heap memory the table holds.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.buckets) + std::mem::size_of_val(&*self.filter)
    }

    /// Whether `k` may be in the table (false: certainly not).
    #[inline(always)]
    pub fn may_contain(&self, k: Key) -> bool {
        let (w, m) = filter_pos(k, self.filter.len());
        self.filter.get(w).is_some_and(|&x| x & m == m)
    }

    #[inline(always)]
    fn home(&self, key: u64) -> usize {
        // Lemire's multiply-shift range reduction: uses the key's high bits.
        ((u128::from(key) * self.buckets.len() as u128) >> 64) as usize
    }

    /// Insert; returns false (and changes nothing) if the same key already
    /// holds the same payload, or if the table is full.
    pub fn insert(&mut self, k: Key, payload: u32) -> bool {
        if self.len + 1 >= self.buckets.len() * 4 {
            return false;
        }
        let nb = self.buckets.len();
        let mut b = self.home(k.key);
        loop {
            for slot in self.buckets[b].0.iter_mut() {
                if slot.key == 0 {
                    *slot = Slot { key: k.key, check: k.check, payload };
                    self.len += 1;
                    let (w, m) = filter_pos(k, self.filter.len());
                    if let Some(x) = self.filter.get_mut(w) {
                        *x |= m;
                    }
                    return true;
                }
                if slot.key == k.key && slot.check == k.check && slot.payload == payload {
                    return false;
                }
            }
            b = if b + 1 == nb { 0 } else { b + 1 };
        }
    }

    /// Read the first word of `k`'s home bucket. Lookups touch the buckets
    /// of all a host's suffixes first, so that their cache misses overlap
    /// (a prefetch without `unsafe`); the value itself is meaningless.
    #[inline(always)]
    pub fn touch(&self, k: Key) -> u64 {
        self.buckets.get(self.home(k.key)).map_or(0, |b| b.0[0].key)
    }

    /// Call `f` with every payload stored under `k`.
    #[inline]
    pub fn for_each(&self, k: Key, mut f: impl FnMut(u32)) {
        let nb = self.buckets.len();
        let mut b = self.home(k.key);
        loop {
            for slot in &self.buckets[b].0 {
                if slot.key == 0 {
                    return;
                }
                if slot.key == k.key && slot.check == k.check {
                    f(slot.payload);
                }
            }
            b = if b + 1 == nb { 0 } else { b + 1 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{name_key, Seed};

    #[test]
    fn insert_lookup_duplicates() {
        let mut t = KeyTable::with_capacity(1000);
        for i in 0..1000u32 {
            assert!(t.insert(name_key(Seed::FIXED, &format!("d{i}.example")), i));
        }
        let k = name_key(Seed::FIXED, "d7.example");
        assert!(!t.insert(k, 7), "same key and payload is a duplicate");
        let mut got = Vec::new();
        t.for_each(k, |p| got.push(p));
        assert_eq!(got, vec![7]);
        let mut none = Vec::new();
        t.for_each(name_key(Seed::FIXED, "absent.example"), |p| none.push(p));
        assert!(none.is_empty());
        assert_eq!(t.len(), 1000);
        assert!(t.heap_bytes() <= 1000 * 21 + 64);
        for i in 0..1000u32 {
            assert!(t.may_contain(name_key(Seed::FIXED, &format!("d{i}.example"))), "no false negatives");
        }
        let fp = (0..10_000).filter(|i| t.may_contain(name_key(Seed::FIXED, &format!("x{i}.absent")))).count();
        assert!(fp < 800, "false positive rate {fp}/10000");
    }

    #[test]
    fn full_table_refuses() {
        let mut t = KeyTable::with_capacity(0);
        let mut n = 0;
        for i in 0..10u32 {
            if t.insert(name_key(Seed::FIXED, &i.to_string()), i) {
                n += 1;
            }
        }
        assert_eq!(n, 3, "one bucket of 4 keeps one slot empty");
    }
}
