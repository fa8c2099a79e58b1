//! Enrollment tokens: the file `<server data dir>/server-tokens.json`
//! (0600) the admin edits with `netward server token add|list|revoke`, and
//! the check of a presented token. A device token is bound to one DeviceId:
//! the server stores only rows of that device under it. A hunt token may
//! query the fleet and upload nothing. Only a SHA-256 of each secret is
//! kept, so the file does not hand out tokens if read.
//!
//! The clock is the caller's: every function that needs the time is given it.

use netward_events::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const TOKENS_FILE: &str = "server-tokens.json";
const PREFIX: &str = "nwt1";

/// What a token allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// Upload the events of this one device.
    Device { device_id: String },
    /// Run fleet-wide queries.
    Hunt,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    pub id: String,
    #[serde(flatten)]
    pub role: Role,
    secret_sha256: String,
    /// Unix nanoseconds.
    pub created: i64,
    pub expires: Option<i64>,
    pub revoked: Option<i64>,
}

impl TokenEntry {
    pub fn state(&self, now: Timestamp) -> &'static str {
        match (self.revoked, self.expires) {
            (Some(_), _) => "revoked",
            (None, Some(e)) if now.unix_nanos() >= e => "expired",
            _ => "valid",
        }
    }
}

/// Why a presented token is refused. The message is what the device prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no token: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("the token is not a netward token (expected nwt1.<id>.<secret>)")]
    Malformed,
    #[error("unknown token {0}")]
    Unknown(String),
    #[error("token {id} was revoked at {at}")]
    Revoked { id: String, at: Timestamp },
    #[error("token {id} expired at {at}")]
    Expired { id: String, at: Timestamp },
}

/// The token file's contents.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tokens {
    tokens: Vec<TokenEntry>,
}

/// Upper bound on the file's entries: tokens are made by hand, one per
/// device; this many means something is wrong.
const MAX_TOKENS: usize = 100_000;

impl Tokens {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(TOKENS_FILE)
    }

    /// The file's tokens; none when it does not exist.
    pub fn load(path: &Path) -> Result<Tokens, String> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Tokens::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Writes the file atomically, readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        let json = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        netward_policy_store::write_atomic(path, |w| {
            // The temporary file gets the mode before any secret hash is in it.
            w.write_all(&json)
        })
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("cannot restrict {}: {e}", path.display()))
    }

    pub fn entries(&self) -> &[TokenEntry] {
        &self.tokens
    }

    /// A new token; returns its entry and the token text, shown only now.
    pub fn add(
        &mut self,
        role: Role,
        now: Timestamp,
        lifetime: Option<Duration>,
    ) -> Result<(TokenEntry, String), String> {
        if self.tokens.len() >= MAX_TOKENS {
            return Err(format!("the token file already holds {MAX_TOKENS} tokens; revoke and remove old ones"));
        }
        if let Role::Device { device_id } = &role {
            check_device_id(device_id)?;
        }
        let mut raw = [0u8; 38];
        getrandom::fill(&mut raw).map_err(|e| format!("no randomness: {e}"))?;
        let id = hex(&raw[..6]);
        let secret = hex(&raw[6..]);
        let expires =
            lifetime.map(|d| now.unix_nanos().saturating_add(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)));
        let entry = TokenEntry {
            id: id.clone(),
            role,
            secret_sha256: digest(&secret),
            created: now.unix_nanos(),
            expires,
            revoked: None,
        };
        self.tokens.push(entry.clone());
        Ok((entry, format!("{PREFIX}.{id}.{secret}")))
    }

    /// Revokes by id (kept in the file, so `token list` shows it).
    pub fn revoke(&mut self, id: &str, now: Timestamp) -> Result<(), String> {
        let t = self.tokens.iter_mut().find(|t| t.id == id).ok_or_else(|| format!("no token with id {id}"))?;
        t.revoked.get_or_insert(now.unix_nanos());
        Ok(())
    }

    /// The entry a presented token (`nwt1.<id>.<secret>`) stands for, if it
    /// is known, unrevoked and unexpired at `now`.
    pub fn check(&self, presented: &str, now: Timestamp) -> Result<&TokenEntry, AuthError> {
        let mut parts = presented.trim().split('.');
        let (Some(PREFIX), Some(id), Some(secret), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed);
        };
        let t = self.tokens.iter().find(|t| t.id == id).ok_or_else(|| AuthError::Unknown(id.to_string()))?;
        // Comparing digests: equal-length values whose mismatch position says
        // nothing about the secret.
        if t.secret_sha256 != digest(secret) {
            return Err(AuthError::Unknown(id.to_string()));
        }
        if let Some(at) = t.revoked {
            return Err(AuthError::Revoked { id: t.id.clone(), at: Timestamp::from_unix_nanos(at) });
        }
        if let Some(at) = t.expires.filter(|&e| now.unix_nanos() >= e) {
            return Err(AuthError::Expired { id: t.id.clone(), at: Timestamp::from_unix_nanos(at) });
        }
        Ok(t)
    }
}

/// DeviceIds are what the rows carry; refuse what no row could match.
pub(crate) fn check_device_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c)) {
        return Err(format!("--device-id `{id}`: expected 1 to 128 letters, digits, '-', '_', '.' or ':'"));
    }
    Ok(())
}

fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `30s`, `15m`, `12h`, `7d` (a whole number and one unit).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("`{s}`: expected a number and a unit, e.g. 30s, 15m, 12h, 7d"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (s, m, h or d)")),
    };
    n.checked_mul(secs).map(Duration::from_secs).ok_or_else(|| format!("`{s}`: too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_check_expire_revoke() {
        let mut t = Tokens::default();
        let now = Timestamp::from_unix_nanos(1_000_000_000_000);
        let (e, text) = t.add(Role::Device { device_id: "dev1".into() }, now, Some(Duration::from_secs(60))).unwrap();
        assert_eq!(t.check(&text, now).unwrap().role, Role::Device { device_id: "dev1".into() });
        let later = Timestamp::from_unix_nanos(now.unix_nanos() + 61_000_000_000);
        assert!(matches!(t.check(&text, later), Err(AuthError::Expired { .. })));
        let wrong = format!("{}x", &text[..text.len() - 1]);
        assert_eq!(t.check(&wrong, now), Err(AuthError::Unknown(e.id.clone())));
        assert_eq!(t.check("Basic abc", now), Err(AuthError::Malformed));
        t.revoke(&e.id, now).unwrap();
        assert!(matches!(t.check(&text, now), Err(AuthError::Revoked { .. })));
        assert!(t.add(Role::Device { device_id: "a b".into() }, now, None).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert!(parse_duration("7").is_err());
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("h").is_err());
    }
}
