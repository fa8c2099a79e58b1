//! Process images seen at exec time, by (pid, exec time), bounded. A pid is
//! reused and a process may exec several times (a shell exec'ing `ip netns
//! exec` exec'ing the real program), so the image that made a connection is
//! the last one exec'd by that pid at or before the connect, provided that
//! process had not exited by then.
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::sync::Arc;

use crate::facts::Facts;
use crate::hash::ExeHashes;

struct Entry {
    facts: Facts,
    exit_ns: Option<u64>,
}

pub struct ExecCache {
    cap: usize,
    entries: BTreeMap<(u32, u64), Entry>,
    /// Insertion order (exec events arrive in time order, nearly), for eviction.
    order: VecDeque<(u32, u64)>,
}

/// What the cache says about a pid at an instant.
#[derive(Debug)]
pub enum At {
    Image(Box<Facts>),
    /// The pid exec'd only after that instant, or its image then had
    /// exited: /proc now shows another program, not the one asked about.
    Superseded,
    Unknown,
}

impl ExecCache {
    pub fn new(cap: usize) -> ExecCache {
        ExecCache { cap: cap.max(1), entries: BTreeMap::new(), order: VecDeque::new() }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn insert(&mut self, pid: u32, exec_ns: u64, facts: Facts) {
        while self.entries.len() >= self.cap {
            let Some(old) = self.order.pop_front() else { break };
            self.entries.remove(&old);
        }
        if self.entries.insert((pid, exec_ns), Entry { facts, exit_ns: None }).is_none() {
            self.order.push_back((pid, exec_ns));
        }
    }

    /// The image kept open for entry `key`, if it still waits for hashing.
    pub fn pending_image(&self, key: (u32, u64)) -> Option<Arc<File>> {
        self.entries.get(&key)?.facts.image.clone()
    }

    /// Stores the hashes of entry `key` and closes its image.
    pub fn set_hashes(&mut self, key: (u32, u64), hashes: Option<ExeHashes>) {
        if let Some(e) = self.entries.get_mut(&key) {
            e.facts.image = None;
            if e.facts.hashes.is_none() {
                e.facts.hashes = hashes;
            }
        }
    }

    pub fn exited(&mut self, pid: u32, exit_ns: u64) {
        if let Some((_, e)) = self.entries.range_mut((pid, 0)..=(pid, exit_ns)).next_back() {
            e.exit_ns.get_or_insert(exit_ns);
        }
    }

    pub fn at(&self, pid: u32, t_ns: u64) -> At {
        match self.entries.range((pid, 0)..=(pid, t_ns)).next_back() {
            Some((_, e)) if e.exit_ns.is_none_or(|x| x >= t_ns) => At::Image(Box::new(e.facts.clone())),
            Some(_) => At::Superseded,
            None if self.entries.range((pid, t_ns)..=(pid, u64::MAX)).next().is_some() => At::Superseded,
            None => At::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(comm: &str) -> Facts {
        Facts { comm: comm.into(), ..Facts::default() }
    }

    fn name_at(c: &ExecCache, pid: u32, t: u64) -> String {
        match c.at(pid, t) {
            At::Image(f) => f.comm,
            At::Superseded => "superseded".into(),
            At::Unknown => "unknown".into(),
        }
    }

    #[test]
    fn the_last_exec_before_the_connect() {
        let mut c = ExecCache::new(16);
        c.insert(10, 100, named("bash"));
        c.insert(10, 200, named("ip"));
        c.insert(10, 300, named("curl"));
        assert_eq!(name_at(&c, 10, 250), "ip");
        assert_eq!(name_at(&c, 10, 300), "curl");
        assert_eq!(name_at(&c, 10, 99), "superseded", "before any exec we know: /proc shows a later image");
        assert_eq!(name_at(&c, 11, 250), "unknown");
    }

    #[test]
    fn a_reused_pid_is_not_the_old_program() {
        let mut c = ExecCache::new(16);
        c.insert(10, 100, named("old"));
        c.exited(10, 150);
        assert_eq!(name_at(&c, 10, 120), "old", "connected while alive");
        assert_eq!(name_at(&c, 10, 160), "superseded", "a fork reusing pid 10 later is not 'old'");
    }

    #[test]
    fn bounded() {
        let mut c = ExecCache::new(3);
        for i in 0..10u32 {
            c.insert(i, u64::from(i), named("p"));
        }
        assert_eq!(c.len(), 3);
        assert_eq!(name_at(&c, 9, 9), "p");
        assert_eq!(name_at(&c, 0, 0), "unknown", "the oldest went first");
    }
}
