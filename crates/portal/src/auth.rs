//! Sessions (random tokens held in memory: a logout or restart ends them,
//! so a copied cookie is worthless after), their CSRF tokens, and the
//! login limiter. Both tables are bounded.

use crate::users::Role;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
const MAX_SESSIONS: usize = 10_000;
/// Failed logins allowed per client address and per account in a window.
pub const LOGIN_FAILURES: u32 = 5;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(60);
const MAX_LIMITER_KEYS: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub role: Role,
    pub csrf: String,
    created: Instant,
}

pub fn random_token() -> String {
    let mut b = [0u8; 32];
    // The OS generator failing leaves no safe token; nothing can go on.
    getrandom::fill(&mut b).expect("the OS random generator failed");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// A new session; returns its cookie token.
    pub fn create(&self, user: &str, role: Role) -> String {
        let token = random_token();
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, s| s.created.elapsed() < SESSION_TTL);
        if m.len() >= MAX_SESSIONS {
            // Drop the oldest: a flood of logins must not grow memory.
            if let Some(k) = m.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| k.clone()) {
                m.remove(&k);
            }
        }
        m.insert(token.clone(), Session { user: user.into(), role, csrf: random_token(), created: Instant::now() });
        token
    }

    pub fn get(&self, token: &str) -> Option<Session> {
        let m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        m.get(token).filter(|s| s.created.elapsed() < SESSION_TTL).cloned()
    }

    pub fn remove(&self, token: &str) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).remove(token);
    }
}

/// Constant-time comparison for tokens.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Counts failed logins per client address and per account name; either
/// reaching the limit refuses logins for the rest of the window.
#[derive(Default)]
pub struct Limiter {
    map: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Limiter {
    fn keys(ip: IpAddr, user: &str) -> [String; 2] {
        [format!("ip:{ip}"), format!("user:{user}")]
    }

    pub fn blocked(&self, ip: IpAddr, user: &str) -> bool {
        let m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        Self::keys(ip, user)
            .iter()
            .any(|k| m.get(k).is_some_and(|(start, n)| start.elapsed() < LOGIN_WINDOW && *n >= LOGIN_FAILURES))
    }

    pub fn failed(&self, ip: IpAddr, user: &str) {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= MAX_LIMITER_KEYS {
            m.retain(|_, (start, _)| start.elapsed() < LOGIN_WINDOW);
        }
        for k in Self::keys(ip, user) {
            if m.len() >= MAX_LIMITER_KEYS && !m.contains_key(&k) {
                continue;
            }
            let e = m.entry(k).or_insert((Instant::now(), 0));
            if e.0.elapsed() >= LOGIN_WINDOW {
                *e = (Instant::now(), 0);
            }
            e.1 += 1;
        }
    }

    pub fn succeeded(&self, user: &str) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).remove(&format!("user:{user}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_engages_after_the_limit_and_is_per_account_and_address() {
        let l = Limiter::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        for _ in 0..LOGIN_FAILURES {
            assert!(!l.blocked(ip, "a"));
            l.failed(ip, "a");
        }
        assert!(l.blocked(ip, "a"));
        assert!(l.blocked(ip, "b"), "same address");
        assert!(l.blocked(other, "a"), "same account");
        assert!(!l.blocked(other, "b"));
    }

    #[test]
    fn sessions_end_on_remove() {
        let s = Sessions::default();
        let t = s.create("u", Role::Admin);
        assert_eq!(s.get(&t).unwrap().user, "u");
        s.remove(&t);
        assert!(s.get(&t).is_none());
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
