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
}
