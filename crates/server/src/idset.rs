//! A set of `ReportId`s kept as closed intervals. A device hands out its
//! ReportIds from one increasing counter, so the ids of its rows form a few
//! long runs and the set stays a few entries however many rows it covers:
//! the server's per-device index of what it holds, and the device's record
//! of what the server acknowledged.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<[i64; 2]>", into = "Vec<[i64; 2]>")]
pub struct IdSet {
    /// start -> end, both inclusive; intervals never touch or overlap.
    runs: BTreeMap<i64, i64>,
}

impl IdSet {
    pub fn contains(&self, id: i64) -> bool {
        self.runs.range(..=id).next_back().is_some_and(|(_, &end)| id <= end)
    }

    /// Adds `id`; false when it was already there.
    pub fn insert(&mut self, id: i64) -> bool {
        if self.contains(id) {
            return false;
        }
        let before =
            self.runs.range(..id).next_back().map(|(&s, &e)| (s, e)).filter(|&(_, e)| e.checked_add(1) == Some(id));
        let after = id.checked_add(1).and_then(|n| self.runs.get(&n).map(|&e| (n, e)));
        match (before, after) {
            (Some((s, _)), Some((n, e))) => {
                self.runs.remove(&n);
                self.runs.insert(s, e);
            }
            (Some((s, _)), None) => {
                self.runs.insert(s, id);
            }
            (None, Some((n, e))) => {
                self.runs.remove(&n);
                self.runs.insert(id, e);
            }
            (None, None) => {
                self.runs.insert(id, id);
            }
        }
        true
    }

    /// Removes `id` (splitting its run); false when it was not there.
    pub fn remove(&mut self, id: i64) -> bool {
        let Some((&s, &e)) = self.runs.range(..=id).next_back() else { return false };
        if id > e {
            return false;
        }
        self.runs.remove(&s);
        if s < id {
            self.runs.insert(s, id - 1);
        }
        if id < e {
            self.runs.insert(id + 1, e);
        }
        true
    }

    /// Whether any id in `lo..=hi` is in the set.
    pub fn overlaps(&self, lo: i64, hi: i64) -> bool {
        lo <= hi && self.runs.range(..=hi).next_back().is_some_and(|(_, &end)| end >= lo)
    }

    /// Adds `lo..=hi`, merged with the runs it overlaps or touches: one
    /// map operation or so for a whole batch of consecutive ids.
    pub fn insert_range(&mut self, lo: i64, hi: i64) {
        if lo > hi {
            return;
        }
        let (reach_lo, reach_hi) = (lo.saturating_sub(1), hi.saturating_add(1));
        let touched: Vec<(i64, i64)> =
            self.runs.range(..=reach_hi).rev().take_while(|(_, &end)| end >= reach_lo).map(|(&s, &e)| (s, e)).collect();
        let (mut start, mut end) = (lo, hi);
        for (s, e) in touched {
            self.runs.remove(&s);
            start = start.min(s);
            end = end.max(e);
        }
        self.runs.insert(start, end);
    }

    /// Removes `lo..=hi` (splitting the runs at its ends).
    pub fn remove_range(&mut self, lo: i64, hi: i64) {
        if lo > hi {
            return;
        }
        let touched: Vec<(i64, i64)> =
            self.runs.range(..=hi).rev().take_while(|(_, &end)| end >= lo).map(|(&s, &e)| (s, e)).collect();
        for (s, e) in touched {
            self.runs.remove(&s);
            if s < lo {
                self.runs.insert(s, lo - 1);
            }
            if e > hi {
                self.runs.insert(hi + 1, e);
            }
        }
    }

    /// Adds every id of `ids`, a run of consecutive ids at a time.
    pub fn insert_all(&mut self, ids: &[i64]) {
        for (lo, hi) in consecutive_runs(ids) {
            self.insert_range(lo, hi);
        }
    }

    /// Removes every id of `ids`, a run of consecutive ids at a time.
    pub fn remove_all(&mut self, ids: &[i64]) {
        for (lo, hi) in consecutive_runs(ids) {
            self.remove_range(lo, hi);
        }
    }

    /// Adds the ids of `ids` not in the set yet (a repeat within `ids`
    /// counts as held from its second time on). Returns which positions
    /// were added, or `None` when all were: the usual upload, whose
    /// consecutive ids cost one lookup and one insert per run.
    pub fn insert_new(&mut self, ids: &[i64]) -> Option<Vec<bool>> {
        let mut added: Option<Vec<bool>> = None;
        let mut at = 0;
        for (lo, hi) in consecutive_runs(ids) {
            let n = (hi - lo) as usize + 1;
            if !self.overlaps(lo, hi) {
                self.insert_range(lo, hi);
                if let Some(m) = &mut added {
                    m.extend(std::iter::repeat_n(true, n));
                }
            } else {
                let m = added.get_or_insert_with(|| {
                    let mut v = Vec::with_capacity(ids.len());
                    v.resize(at, true);
                    v
                });
                for &id in &ids[at..at + n] {
                    m.push(self.insert(id));
                }
            }
            at += n;
        }
        added
    }

    /// Number of runs (the memory the set takes).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Number of ids.
    pub fn len(&self) -> u64 {
        self.runs.iter().map(|(&s, &e)| (e - s) as u64 + 1).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }
}

/// `ids` cut into maximal runs of consecutive increasing ids, in order, as
/// (first, last).
fn consecutive_runs(ids: &[i64]) -> impl Iterator<Item = (i64, i64)> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let lo = *ids.get(i)?;
        let mut hi = lo;
        i += 1;
        while i < ids.len() && hi.checked_add(1) == Some(ids[i]) {
            hi = ids[i];
            i += 1;
        }
        Some((lo, hi))
    })
}

impl From<Vec<[i64; 2]>> for IdSet {
    fn from(v: Vec<[i64; 2]>) -> Self {
        let mut set = IdSet::default();
        for [s, e] in v {
            // Re-inserted one by one would be slow for long runs; runs from a
            // file we wrote are disjoint and sorted, anything else merges.
            if s <= e && set.runs.range(..=e).next_back().is_none_or(|(_, &pe)| pe.saturating_add(1) < s) {
                set.runs.insert(s, e);
            } else {
                for id in s..=e {
                    set.insert(id);
                }
            }
        }
        set
    }
}

impl From<IdSet> for Vec<[i64; 2]> {
    fn from(s: IdSet) -> Self {
        s.runs.into_iter().map(|(s, e)| [s, e]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_merge_split_and_round_trip() {
        let mut s = IdSet::default();
        for id in [5, 3, 4, 10, 1, 2, 11] {
            assert!(s.insert(id));
        }
        assert!(!s.insert(4));
        assert_eq!(s.runs(), 2);
        assert_eq!(s.len(), 7);
        assert!(s.contains(1) && s.contains(5) && !s.contains(6) && s.contains(11) && !s.contains(0));
        assert!(s.remove(3));
        assert!(!s.remove(3));
        assert!(!s.contains(3) && s.contains(2) && s.contains(4));
        assert_eq!(s.runs(), 3);
        let v: Vec<[i64; 2]> = s.clone().into();
        assert_eq!(v, vec![[1, 2], [4, 5], [10, 11]]);
        assert_eq!(IdSet::from(v), s);
        // Overlapping runs from a hand-edited file merge.
        assert_eq!(IdSet::from(vec![[1, 3], [2, 5]]).runs(), 1);
        let mut e = IdSet::default();
        assert!(e.insert(i64::MAX) && e.insert(i64::MIN) && e.contains(i64::MAX));
    }

    /// The range operations agree with one id at a time, on random ids.
    #[test]
    fn range_operations_match_single_ids() {
        let mut seed = 7u64;
        let mut next = move |n: i64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) as i64) % n
        };
        for _ in 0..200 {
            let (mut ranged, mut single) = (IdSet::default(), IdSet::default());
            for _ in 0..20 {
                let lo = next(100);
                let hi = lo + next(12) - 2;
                if next(3) == 0 {
                    ranged.remove_range(lo, hi);
                    for id in lo..=hi {
                        single.remove(id);
                    }
                } else {
                    ranged.insert_range(lo, hi);
                    for id in lo..=hi {
                        single.insert(id);
                    }
                }
                assert_eq!(ranged, single, "after {lo}..={hi}");
                let (a, b) = (next(110) - 5, next(110) - 5);
                assert_eq!(ranged.overlaps(a, b), (a..=b).any(|id| single.contains(id)), "overlaps {a}..={b}");
            }
            let ids: Vec<i64> = (0..30).map(|_| next(120)).collect();
            let before = single.clone();
            let added = ranged.insert_new(&ids);
            let mut want = Vec::new();
            for &id in &ids {
                want.push(single.insert(id));
            }
            assert_eq!(ranged, single);
            assert_eq!(added.unwrap_or_else(|| vec![true; ids.len()]), want, "insert_new {ids:?} into {before:?}");
        }
        let mut s = IdSet::default();
        assert_eq!(s.insert_new(&[5, 6, 7, 9, 10]), None);
        assert_eq!(s.runs(), 2);
        assert_eq!(s.insert_new(&[1, 2, 7, 8, 8]), Some(vec![true, true, false, true, false]));
        assert_eq!(Vec::<[i64; 2]>::from(s.clone()), vec![[1, 2], [5, 10]]);
        s.insert_range(i64::MAX - 1, i64::MAX);
        s.insert_range(i64::MIN, i64::MIN + 1);
        assert!(s.contains(i64::MAX) && s.contains(i64::MIN) && s.runs() == 4);
        s.remove_all(&[i64::MIN, i64::MIN + 1, 3, 4, 5]);
        assert_eq!(Vec::<[i64; 2]>::from(s), vec![[1, 2], [6, 10], [i64::MAX - 1, i64::MAX]]);
    }
}
