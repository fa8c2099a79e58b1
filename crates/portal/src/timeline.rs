//! Where a timeline page looks first: lower time bounds from the stored
//! segments' spans, newest segments first, so a page of the newest events
//! reads the few segments that hold them instead of every row's Timestamp.
//!
//! A bound only narrows the query (`Timestamp >= bound`); the page is the
//! answer when the narrowed query still finds a full page, because every
//! row left out is older than every row found. Otherwise the next, wider
//! bound is tried, and last the whole table (the live log's rows and any
//! segment older than every bound included), so no answer changes.

/// A segment's time span, nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeSpan {
    pub oldest: i64,
    pub newest: i64,
}

/// The bounds to try, narrowest first: the oldest time of the newest 1, 2,
/// 4, ... segments that can hold rows at or before `before` (the cursor's
/// time, ns). Doubling keeps the work of a page that matches little at
/// about twice one full read, in a logarithmic number of queries. The
/// whole table (no bound) is the caller's last step and is not listed.
pub fn lower_bounds(spans: &[TimeSpan], before: Option<i64>) -> Vec<i64> {
    let mut spans: Vec<TimeSpan> = spans.iter().copied().filter(|s| before.is_none_or(|b| s.oldest <= b)).collect();
    spans.sort_by_key(|s| std::cmp::Reverse(s.newest));
    let mut bounds = Vec::new();
    let (mut oldest, mut k) = (i64::MAX, 1);
    for (i, s) in spans.iter().enumerate() {
        oldest = oldest.min(s.oldest);
        // All segments taken is the whole table's cost: left to the caller.
        if i + 1 == k && i + 1 < spans.len() {
            if bounds.last() != Some(&oldest) {
                bounds.push(oldest);
            }
            k *= 2;
        }
    }
    bounds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(oldest: i64, newest: i64) -> TimeSpan {
        TimeSpan { oldest, newest }
    }

    #[test]
    fn bounds_widen_over_the_newest_segments_first() {
        let spans = [s(0, 9), s(30, 39), s(10, 19), s(20, 29), s(40, 49)];
        assert_eq!(lower_bounds(&spans, None), vec![40, 30, 10]);
    }

    #[test]
    fn segments_newer_than_the_cursor_are_passed_over() {
        let spans = [s(0, 9), s(10, 19), s(20, 29), s(30, 39)];
        assert_eq!(lower_bounds(&spans, Some(15)), vec![10]);
        assert_eq!(lower_bounds(&spans, Some(-1)), Vec::<i64>::new());
    }

    #[test]
    fn an_overlapping_older_segment_lowers_the_bound() {
        // The second newest by its newest row reaches back furthest.
        let spans = [s(50, 60), s(5, 55), s(0, 4)];
        assert_eq!(lower_bounds(&spans, None), vec![50, 5]);
    }
}
