//! The atomically swapped current snapshot.
//!
//! A [`MatcherHandle`] holds one [`Matcher`]; the writer (the policy store)
//! replaces it with [`MatcherHandle::publish`], one atomic pointer swap, and
//! any number of reader threads load it without ever waiting for the writer.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::matcher::Matcher;

/// A cheap, clonable handle through which any thread loads the current
/// snapshot. Clones share one slot.
#[derive(Clone)]
pub struct MatcherHandle(Arc<ArcSwap<Matcher>>);

impl MatcherHandle {
    /// A handle whose current snapshot is `m`.
    pub fn new(m: Matcher) -> MatcherHandle {
        MatcherHandle(Arc::new(ArcSwap::from_pointee(m)))
    }

    /// The current snapshot (a reference-count increment).
    pub fn snapshot(&self) -> Arc<Matcher> {
        self.0.load_full()
    }

    /// The current snapshot without touching the reference count: the
    /// fastest way for a hot loop. Do not hold the guard for long.
    pub fn load(&self) -> arc_swap::Guard<Arc<Matcher>> {
        self.0.load()
    }

    /// Make `m` the current snapshot for every clone of this handle (the
    /// writer's call). Readers holding the old one keep it until they drop it.
    pub fn publish(&self, m: Arc<Matcher>) {
        self.0.store(m);
    }
}

impl Default for MatcherHandle {
    fn default() -> Self {
        MatcherHandle::new(Matcher::default())
    }
}
