//! The notification rate limit: one notification per user and destination
//! within an interval, and at most [`PER_USER_PER_INTERVAL`] per user in any
//! interval whatever the destinations (a program cycling through blocked
//! names must not flood the desktop). Bounded: at most [`RateLimiter::cap`]
//! (user, destination) pairs are remembered; a pair whose interval is over
//! is forgotten first, and when every pair is recent a new one is refused
//! (counted as limited) rather than evicting one, so the bound can never be
//! used to get around the limit. Times are passed in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Notifications one user gets in one interval at most.
pub const PER_USER_PER_INTERVAL: u32 = 10;

pub struct RateLimiter {
    interval: Duration,
    cap: usize,
    /// (uid, destination) -> when it was last notified.
    last: HashMap<(u32, String), Instant>,
    /// uid -> (start of its current window, notifications in it).
    users: HashMap<u32, (Instant, u32)>,
}

impl RateLimiter {
    pub fn new(interval: Duration, cap: usize) -> Self {
        RateLimiter { interval, cap: cap.max(1), last: HashMap::new(), users: HashMap::new() }
    }

    #[cfg(test)]
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Pairs remembered now (at most [`RateLimiter::cap`]).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// Whether `uid` may be told about `dest` at `now`; when it may, the
    /// notification is counted.
    pub fn allow(&mut self, uid: u32, dest: &str, now: Instant) -> bool {
        let key = (uid, dest.to_string());
        if let Some(t) = self.last.get(&key) {
            if now.saturating_duration_since(*t) < self.interval {
                return false;
            }
        }
        let busy = self.users.get(&uid).is_some_and(|(start, n)| {
            now.saturating_duration_since(*start) < self.interval && *n >= PER_USER_PER_INTERVAL
        });
        if busy {
            return false;
        }
        if !self.last.contains_key(&key) && self.last.len() >= self.cap {
            let interval = self.interval;
            self.last.retain(|_, t| now.saturating_duration_since(*t) < interval);
            self.users.retain(|_, w| now.saturating_duration_since(w.0) < interval);
            if self.last.len() >= self.cap {
                return false;
            }
        }
        // A uid enters `users` only with a pair, and leaves with its pairs'
        // pruning: bounded by `cap` too.
        let window = self.users.entry(uid).or_insert((now, 0));
        if now.saturating_duration_since(window.0) >= self.interval {
            *window = (now, 0);
        }
        window.1 += 1;
        self.last.insert(key, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn one_per_user_and_destination_per_interval() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(MIN, 100);
        let sent = (0..10).filter(|i| r.allow(1000, "evil.test", t0 + Duration::from_millis(i * 100))).count();
        assert_eq!(sent, 1, "ten blocks in a second give one");
        assert!(r.allow(1001, "evil.test", t0), "another user is told too");
        assert!(r.allow(1000, "other.test", t0), "another destination is told too");
        assert!(!r.allow(1000, "evil.test", t0 + MIN - Duration::from_millis(1)));
        assert!(r.allow(1000, "evil.test", t0 + MIN), "again after the interval");
    }

    #[test]
    fn a_user_gets_at_most_a_few_per_interval_across_destinations() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(MIN, 1000);
        let sent = (0..100).filter(|i| r.allow(7, &format!("h{i}.test"), t0)).count();
        assert_eq!(sent as u32, PER_USER_PER_INTERVAL);
        assert!(r.allow(8, "h0.test", t0), "others are not limited by it");
        assert!(r.allow(7, "h99.test", t0 + MIN), "a new window");
    }

    #[test]
    fn the_table_is_bounded_and_never_evicts_a_recent_pair() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(MIN, 4);
        for uid in 0..4 {
            assert!(r.allow(uid, "a.test", t0));
        }
        assert!(!r.allow(9, "a.test", t0), "full of recent pairs: refused, not evicted");
        assert_eq!(r.len(), 4);
        for uid in 0..4 {
            assert!(!r.allow(uid, "a.test", t0 + Duration::from_secs(1)), "still limited");
        }
        assert!(r.allow(9, "a.test", t0 + MIN), "old pairs are forgotten first");
        assert!(r.len() <= r.cap());
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn a_clock_going_back_does_not_panic_or_unblock() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut r = RateLimiter::new(MIN, 4);
        assert!(r.allow(1, "a.test", t0));
        assert!(!r.allow(1, "a.test", t0 - Duration::from_secs(5)));
    }
}
