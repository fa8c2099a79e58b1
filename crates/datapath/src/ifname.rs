//! Interface names for the ifindexes NFQUEUE reports, so a forwarded flow's
//! events can say which container, VM or namespace link it came in on.
//!
//! Names come from `if_indextoname` (an ioctl in the calling thread's network
//! namespace: the agent's own, wherever it runs). Looked up once per index and
//! cached, but not forever: an index is reused when an interface goes away and
//! another appears (containers come and go), so an entry older than
//! [`REFRESH`] is looked up again. The cache is bounded by [`MAX_NAMES`]: full,
//! it is emptied, which costs at most one lookup per live interface.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Entries held at most (a host with more interfaces than this looks names up again).
pub const MAX_NAMES: usize = 1024;
/// How long a name is trusted before it is looked up again.
pub const REFRESH: Duration = Duration::from_secs(30);

/// The name of interface `index` now, if it exists.
pub fn lookup(index: u32) -> Option<String> {
    if index == 0 {
        return None;
    }
    let mut buf = [0 as nix::libc::c_char; nix::libc::IF_NAMESIZE];
    // SAFETY: `buf` has the IF_NAMESIZE bytes if_indextoname writes at most
    // (NUL included); on success it holds a NUL-terminated name.
    let p = unsafe { nix::libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: see above: NUL-terminated within `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

/// Cached [`lookup`]s. An index without an interface is cached too (as
/// `None`), so a flood of packets naming it costs one lookup per [`REFRESH`].
#[derive(Default)]
pub struct InterfaceNames {
    names: HashMap<u32, (Option<Arc<str>>, Instant)>,
    lookups: u64,
}

impl InterfaceNames {
    pub fn name(&mut self, index: u32, now: Instant) -> Option<Arc<str>> {
        if let Some((name, at)) = self.names.get(&index) {
            if now.saturating_duration_since(*at) < REFRESH {
                return name.clone();
            }
        }
        if self.names.len() >= MAX_NAMES {
            self.names.clear();
        }
        self.lookups += 1;
        let name: Option<Arc<str>> = lookup(index).map(Arc::from);
        self.names.insert(index, (name.clone(), now));
        name
    }

    /// Lookups done (not answered from the cache).
    pub fn lookups(&self) -> u64 {
        self.lookups
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Index 1 is the loopback in every network namespace.
    #[test]
    fn loopback_is_named_and_cached() {
        let mut n = InterfaceNames::default();
        let t = Instant::now();
        assert_eq!(n.name(1, t).as_deref(), Some("lo"));
        assert_eq!(n.name(1, t + Duration::from_secs(1)).as_deref(), Some("lo"));
        assert_eq!(n.lookups(), 1, "the second answer came from the cache");
        n.name(1, t + REFRESH);
        assert_eq!(n.lookups(), 2, "an old entry is looked up again");
        assert_eq!(n.name(0, t), None, "index 0: no interface");
    }

    #[test]
    fn bounded() {
        let mut n = InterfaceNames::default();
        let t = Instant::now();
        for i in 0..(MAX_NAMES as u32 * 3) {
            // Indexes past any real interface: cached as absent.
            assert_eq!(n.name(1_000_000 + i, t), None);
            assert!(n.len() <= MAX_NAMES);
        }
    }
}
