//! Byte ranges of stream reassembly, half-open `[start, end)` offsets.
//!
//! * [`walk`] splits a new piece into the parts already held and the parts
//!   not, given the held ranges that overlap it in order: the capture
//!   reader walks its buffered TCP segments with it (to buffer only new
//!   bytes and compare the overlapping ones), [`RangeSet::insert`] walks
//!   its own ranges with it.
//! * Users of [`RangeSet`]: QUIC CRYPTO reassembly (netward-wire) and IP
//!   defragmentation (netward-capture).
//! * [`RangeSet`] keeps received ranges merged (touching ranges become one)
//!   in a B-tree: inserting a piece costs `O((1 + k) log n)` where `k` is
//!   the number of held ranges it swallows, and each range is swallowed at
//!   most once, so `m` inserts cost `O(m log m)` in all. (A sorted `Vec`
//!   sorted and rebuilt per insert costs `O(n log n)` each: quadratic in
//!   the number of pieces, which an attacker chooses.) [`RangeSet::ops`]
//!   counts the tree operations, so tests can assert the bound.

use std::collections::BTreeMap;

/// Walks `[start, end)` against `held`: ranges `(start, end, tag)` sorted by
/// start and disjoint (those ending at or before `start` are skipped, the
/// walk stops at the first starting at or after `end`). Calls
/// `f(s, e, None)` for each part no held range covers and
/// `f(s, e, Some(tag))` for each part the range `tag` covers, in offset
/// order; the parts tile `[start, end)` exactly. Returns the number of held
/// ranges looked at.
pub fn walk<T>(
    start: u64,
    end: u64,
    held: impl IntoIterator<Item = (u64, u64, T)>,
    mut f: impl FnMut(u64, u64, Option<T>),
) -> usize {
    let mut cur = start;
    let mut steps = 0;
    for (s, e, tag) in held {
        steps += 1;
        if cur >= end || s >= end {
            break;
        }
        if e <= cur {
            continue;
        }
        if s > cur {
            f(cur, s, None);
            cur = s;
        }
        let covered_end = e.min(end);
        f(cur, covered_end, Some(tag));
        cur = covered_end;
    }
    if cur < end {
        f(cur, end, None);
    }
    steps
}

/// A set of byte offsets kept as merged, disjoint, non-touching ranges.
#[derive(Debug, Clone, Default)]
pub struct RangeSet {
    /// start -> end.
    map: BTreeMap<u64, u64>,
    ops: u64,
}

impl RangeSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `[start, end)`, calling `new(s, e)` for each part that was not
    /// held before, in order. Returns how many bytes were new.
    pub fn insert(&mut self, start: u64, end: u64, mut new: impl FnMut(u64, u64)) -> u64 {
        self.insert_parts(start, end, |s, e, held| {
            if !held {
                new(s, e)
            }
        })
    }

    /// Adds `[start, end)`, calling `part(s, e, held)` for each part in
    /// order: `held` when it was held before (to compare the bytes), else
    /// new. Returns how many bytes were new.
    pub fn insert_parts(&mut self, start: u64, end: u64, mut part: impl FnMut(u64, u64, bool)) -> u64 {
        if start >= end {
            return 0;
        }
        // The held range starting at or before `start`, if it reaches `start`.
        self.ops += 1;
        let pred = self.map.range(..=start).next_back().map(|(&s, &e)| (s, e)).filter(|&(_, e)| e >= start);
        let mut added = 0;
        let later = self.map.range(start..=end).map(|(&s, &e)| (s, e, ()));
        let steps = walk(start, end, pred.map(|(s, e)| (s, e, ())).into_iter().chain(later), |s, e, held| {
            if held.is_none() {
                added += e - s;
            }
            part(s, e, held.is_some());
        });
        self.ops += steps as u64;
        // Swallow every range touching [start, end] into one.
        let lo = pred.map_or(start, |(s, _)| s);
        let mut hi = end;
        loop {
            self.ops += 1;
            let Some((&s, &e)) = self.map.range(lo..=end).next() else { break };
            self.map.remove(&s);
            hi = hi.max(e);
        }
        self.ops += 1;
        self.map.insert(lo, hi);
        added
    }

    /// The range holding `offset`, if any.
    pub fn containing(&self, offset: u64) -> Option<(u64, u64)> {
        self.map.range(..=offset).next_back().map(|(&s, &e)| (s, e)).filter(|&(_, e)| e > offset)
    }

    /// The lowest range.
    pub fn first(&self) -> Option<(u64, u64)> {
        self.map.first_key_value().map(|(&s, &e)| (s, e))
    }

    /// Ranges in offset order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.map.iter().map(|(&s, &e)| (s, e))
    }

    /// Number of (merged) ranges.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Tree operations done so far (lookups, range steps, inserts, removals).
    pub fn ops(&self) -> u64 {
        self.ops
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pieces(held: &[(u64, u64)], start: u64, end: u64) -> Vec<(u64, u64, bool)> {
        let mut out = Vec::new();
        walk(start, end, held.iter().map(|&(s, e)| (s, e, ())), |s, e, h| out.push((s, e, h.is_some())));
        out
    }

    #[test]
    fn walk_splits_into_held_and_new() {
        let held = [(0, 2), (4, 6), (8, 10)];
        assert_eq!(pieces(&held, 1, 9), [(1, 2, true), (2, 4, false), (4, 6, true), (6, 8, false), (8, 9, true)]);
        assert_eq!(pieces(&held, 10, 12), [(10, 12, false)]);
        assert_eq!(pieces(&[], 3, 5), [(3, 5, false)]);
        assert_eq!(pieces(&held, 4, 6), [(4, 6, true)]);
    }

    #[test]
    fn insert_merges_and_reports_new_parts() {
        let mut r = RangeSet::new();
        let mut new = Vec::new();
        r.insert(4, 8, |s, e| new.push((s, e)));
        r.insert(0, 2, |s, e| new.push((s, e)));
        r.insert(1, 6, |s, e| new.push((s, e)));
        assert_eq!(new, [(4, 8), (0, 2), (2, 4)]);
        assert_eq!(r.iter().collect::<Vec<_>>(), [(0, 8)]);
        assert_eq!(r.insert(8, 9, |_, _| {}), 1, "touching ranges merge");
        assert_eq!(r.len(), 1);
        assert_eq!(r.insert(3, 3, |_, _| {}), 0);
        assert_eq!(r.containing(8), Some((0, 9)));
        assert_eq!(r.containing(9), None);
    }

    #[test]
    fn many_tiny_pieces_cost_log_per_piece() {
        // Every other byte, backwards, then the holes: 2n inserts.
        let n = 20_000u64;
        let mut r = RangeSet::new();
        for i in (0..n).rev() {
            r.insert(2 * i, 2 * i + 1, |_, _| {});
        }
        assert_eq!(r.len() as u64, n);
        for i in 0..n {
            r.insert(2 * i + 1, 2 * i + 2, |_, _| {});
        }
        assert_eq!(r.iter().collect::<Vec<_>>(), [(0, 2 * n)]);
        // Tree operations, each O(log n): a few per insert, amortised.
        assert!(r.ops() <= 8 * 2 * n, "{} ops for {} inserts", r.ops(), 2 * n);
    }

    proptest! {
        #[test]
        fn same_as_a_bitmap(ops in proptest::collection::vec((0u64..300, 0u64..40), 1..80)) {
            let mut r = RangeSet::new();
            let mut bits = [false; 340];
            for (start, len) in ops {
                let end = start + len;
                let mut new = Vec::new();
                let added = r.insert(start, end, |s, e| new.push((s, e)));
                let expect: Vec<u64> = (start..end).filter(|&i| !bits[i as usize]).collect();
                let got: Vec<u64> = new.iter().flat_map(|&(s, e)| s..e).collect();
                prop_assert_eq!(&got, &expect);
                prop_assert_eq!(added, expect.len() as u64);
                for i in start..end {
                    bits[i as usize] = true;
                }
                // Merged, disjoint, not touching, and exactly the bitmap.
                let ranges: Vec<_> = r.iter().collect();
                for w in ranges.windows(2) {
                    prop_assert!(w[0].1 < w[1].0);
                }
                let held: Vec<u64> = ranges.iter().flat_map(|&(s, e)| s..e).collect();
                let set: Vec<u64> = (0..340).filter(|&i| bits[i as usize]).collect();
                prop_assert_eq!(held, set);
            }
        }
    }
}
