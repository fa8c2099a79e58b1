//! Temporary allows of warn destinations (Defender's "warn" mode): a user
//! who chose "Allow for 24 hours" on a warn notification, or an admin's
//! `netward warn allow DEST`, lets that destination through for that user
//! (or every user) until a time.
//!
//! Only a `warn` verdict is ever lifted by an allow here: a `block`
//! indicator stays a block whatever this table says. Times are unix
//! seconds passed in by the caller (this crate reads no clock); the table is
//! bounded ([`WarnAllows::MAX`]) and its JSON form is the file the edge
//! keeps in the data directory.

use serde::{Deserialize, Serialize};

/// One temporary allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarnAllow {
    /// The canonical host (or address) allowed: the site of the verdict.
    pub host: String,
    /// The user (uid) it is for; `None`: every user (an admin's allow on a
    /// headless device, or where connections cannot be attributed).
    pub user: Option<u32>,
    /// Unix seconds when it was added.
    pub added: i64,
    /// Unix seconds after which it no longer applies.
    pub until: i64,
    /// Who added it (an account name, or `uid N via notification`).
    pub by: String,
}

/// Why an allow or the table was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WarnError {
    /// The destination is not a host netward can name.
    #[error("invalid destination {0:?}: {1}")]
    Destination(String, String),
    /// The allow would end before it starts.
    #[error("the allow must end after now (until {until}, now {now})")]
    Expired {
        /// Its end.
        until: i64,
        /// Now.
        now: i64,
    },
    /// The stored table cannot be read.
    #[error("line {line}, column {column}: {reason}")]
    Damaged {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        reason: String,
    },
}

/// The temporary allows, at most [`WarnAllows::MAX`], one per (host, user).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarnAllows {
    allows: Vec<WarnAllow>,
}

/// The canonical host of a destination (a URL keeps only its host).
pub fn canonical_site(dest: &str) -> Result<String, WarnError> {
    netward_canon::canonical_destination(dest)
        .map(|d| d.host().to_string())
        .map_err(|e| WarnError::Destination(dest.to_string(), e.to_string()))
}

impl WarnAllows {
    /// Allows held at most: past it, adding one removes the one that ends
    /// first (expired ones go before that).
    pub const MAX: usize = 4096;

    /// The allow that lifts a warn on `host` for `user` at `now`, if any: one
    /// for that user, or one for every user. `host` is canonical
    /// ([`canonical_site`]).
    pub fn find(&self, user: Option<u32>, host: &str, now: i64) -> Option<&WarnAllow> {
        self.allows
            .iter()
            .filter(|a| a.host == host && a.until > now)
            .find(|a| a.user.is_none() || (a.user.is_some() && a.user == user))
    }

    /// Adds (or extends) an allow; `dest` is canonicalised. Returns the
    /// stored allow and the one removed to stay within [`WarnAllows::MAX`].
    pub fn add(
        &mut self,
        dest: &str,
        user: Option<u32>,
        now: i64,
        until: i64,
        by: &str,
    ) -> Result<(WarnAllow, Option<WarnAllow>), WarnError> {
        if until <= now {
            return Err(WarnError::Expired { until, now });
        }
        let host = canonical_site(dest)?;
        self.prune(now);
        let allow = WarnAllow { host, user, added: now, until, by: by.to_string() };
        if let Some(old) = self.allows.iter_mut().find(|a| a.host == allow.host && a.user == allow.user) {
            *old = allow.clone();
            return Ok((allow, None));
        }
        let evicted = if self.allows.len() >= Self::MAX {
            let first = (0..self.allows.len()).min_by_key(|&i| self.allows[i].until);
            first.map(|i| self.allows.swap_remove(i))
        } else {
            None
        };
        self.allows.push(allow.clone());
        Ok((allow, evicted))
    }

    /// Removes the allows of `dest` (for `user` only when given); how many.
    pub fn revoke(&mut self, dest: &str, user: Option<Option<u32>>) -> Result<Vec<WarnAllow>, WarnError> {
        let host = canonical_site(dest)?;
        let (gone, kept) = std::mem::take(&mut self.allows)
            .into_iter()
            .partition(|a| a.host == host && user.is_none_or(|u| a.user == u));
        self.allows = kept;
        Ok(gone)
    }

    /// Forgets the allows that ended at or before `now`; how many.
    pub fn prune(&mut self, now: i64) -> usize {
        let before = self.allows.len();
        self.allows.retain(|a| a.until > now);
        before - self.allows.len()
    }

    /// Every allow, soonest end first.
    pub fn list(&self) -> Vec<&WarnAllow> {
        let mut v: Vec<&WarnAllow> = self.allows.iter().collect();
        v.sort_by(|a, b| (a.until, &a.host).cmp(&(b.until, &b.host)));
        v
    }

    pub fn len(&self) -> usize {
        self.allows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.allows.is_empty()
    }

    /// The stored form (pretty JSON).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads the stored form. Each allow's host must be canonical and the
    /// table within [`WarnAllows::MAX`]; a problem is reported with its
    /// position, never half-read.
    pub fn from_json(text: &str) -> Result<WarnAllows, WarnError> {
        let t: WarnAllows = serde_json::from_str(text).map_err(|e| WarnError::Damaged {
            line: e.line(),
            column: e.column(),
            reason: e.to_string(),
        })?;
        let damaged = |i: usize, reason: String| WarnError::Damaged {
            line: 0,
            column: 0,
            reason: format!("allow {}: {reason}", i + 1),
        };
        if t.allows.len() > Self::MAX {
            return Err(damaged(Self::MAX, format!("more than {} allows", Self::MAX)));
        }
        for (i, a) in t.allows.iter().enumerate() {
            match canonical_site(&a.host) {
                Ok(h) if h == a.host => {}
                Ok(h) => return Err(damaged(i, format!("host {:?} is not canonical ({h:?})", a.host))),
                Err(e) => return Err(damaged(i, e.to_string())),
            }
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;
    const DAY: i64 = 86_400;

    #[test]
    fn an_allow_applies_to_its_user_and_host_until_it_ends() {
        let mut t = WarnAllows::default();
        let (a, evicted) = t.add("https://WWW.Warn.Test./x?y", Some(1000), NOW, NOW + DAY, "alice").unwrap();
        assert_eq!((a.host.as_str(), evicted), ("www.warn.test", None));
        assert!(t.find(Some(1000), "www.warn.test", NOW + 1).is_some());
        assert!(t.find(Some(1001), "www.warn.test", NOW + 1).is_none(), "another user is not allowed");
        assert!(t.find(None, "www.warn.test", NOW + 1).is_none(), "an unattributed flow is not that user");
        assert!(t.find(Some(1000), "warn.test", NOW + 1).is_none(), "the parent domain is another site");
        assert!(t.find(Some(1000), "www.warn.test", NOW + DAY - 1).is_some());
        assert!(t.find(Some(1000), "www.warn.test", NOW + DAY).is_none(), "expired at its end");
        assert_eq!(t.prune(NOW + DAY), 1);
        assert!(t.is_empty());
    }

    #[test]
    fn an_allow_for_every_user_applies_to_any_flow() {
        let mut t = WarnAllows::default();
        t.add("warn.test", None, NOW, NOW + 60, "root").unwrap();
        assert!(t.find(Some(5), "warn.test", NOW).is_some());
        assert!(t.find(None, "warn.test", NOW).is_some());
    }

    #[test]
    fn adding_again_extends_and_revoke_removes() {
        let mut t = WarnAllows::default();
        t.add("warn.test", Some(1), NOW, NOW + 60, "a").unwrap();
        t.add("warn.test", Some(1), NOW + 10, NOW + 600, "a").unwrap();
        t.add("warn.test", Some(2), NOW, NOW + 60, "b").unwrap();
        assert_eq!(t.len(), 2, "one per (host, user)");
        assert!(t.find(Some(1), "warn.test", NOW + 300).is_some(), "extended");
        assert_eq!(t.revoke("WARN.test", Some(Some(2))).unwrap().len(), 1);
        assert_eq!(t.revoke("warn.test", None).unwrap().len(), 1);
        assert!(t.is_empty());
    }

    #[test]
    fn the_table_is_bounded_and_drops_the_soonest_end_first() {
        let mut t = WarnAllows::default();
        for i in 0..WarnAllows::MAX as i64 {
            t.add(&format!("h{i}.test"), Some(1), NOW, NOW + 1000 + i, "a").unwrap();
        }
        let (_, evicted) = t.add("new.test", Some(1), NOW, NOW + 5000, "a").unwrap();
        assert_eq!(evicted.unwrap().host, "h0.test", "the one ending first goes");
        assert_eq!(t.len(), WarnAllows::MAX);
        // Expired ones are pruned before anything live is evicted.
        let (_, evicted) = t.add("later.test", Some(1), NOW + 1002, NOW + 9000, "a").unwrap();
        assert_eq!(evicted, None);
        assert_eq!(t.len(), WarnAllows::MAX - 2 + 1);
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        let mut t = WarnAllows::default();
        assert!(matches!(t.add("warn.test", None, NOW, NOW, "a"), Err(WarnError::Expired { .. })));
        assert!(matches!(t.add("", None, NOW, NOW + 1, "a"), Err(WarnError::Destination(..))));
        assert!(matches!(t.add("http://[::1/", None, NOW, NOW + 1, "a"), Err(WarnError::Destination(..))));
        assert!(t.is_empty());
        match WarnAllows::from_json("{\"allows\": [\n  {\"host\": 3}]}") {
            Err(WarnError::Damaged { line: 2, .. }) => {}
            other => panic!("{other:?}"),
        }
        let not_canonical = r#"{"allows":[{"host":"WARN.test","user":null,"added":0,"until":1,"by":"x"}]}"#;
        let e = WarnAllows::from_json(not_canonical).unwrap_err();
        assert!(e.to_string().contains("allow 1") && e.to_string().contains("canonical"), "{e}");
        assert!(WarnAllows::from_json("").is_err());
    }

    #[test]
    fn the_stored_form_round_trips() {
        let mut t = WarnAllows::default();
        t.add("warn.test", Some(65534), NOW, NOW + DAY, "uid 65534 via notification").unwrap();
        t.add("198.18.0.9", None, NOW, NOW + 60, "root").unwrap();
        assert_eq!(WarnAllows::from_json(&t.to_json()).unwrap(), t);
        assert_eq!(t.list()[0].host, "198.18.0.9", "soonest end first");
    }
}
