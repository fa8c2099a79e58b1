//! The fleet's policy, kept by the server in `<data dir>/server-policy.json`:
//! indicators and settings for every device (the scope [`Scope::All`]) or
//! for a named device group, which device is in which group, and whether a
//! scope's devices may still change their own policy. The admin edits it
//! with `netward server indicator|config|group ...` under the data
//! directory's lock; the running server notices the file's change and
//! wakes the devices waiting on `/v1/policy` ([`crate::serve`]).
//!
//! One version number for the whole file, raised by every change: a device
//! asks "newer than V?" and gets its effective policy ([`DevicePolicy`]),
//! the all-devices scope with its group's on top. A change to another
//! group wakes a device too; it finds nothing new and writes nothing.
//!
//! The clock is the caller's.

use netward_policy::{Indicator, IndicatorSpec, Origin, Target};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const POLICY_FILE: &str = "server-policy.json";
/// Indicators in one scope at most (they travel to every device of the
/// scope in each policy reply).
pub const MAX_INDICATORS: usize = 100_000;
/// Groups at most, and devices assigned to groups at most.
const MAX_GROUPS: usize = 10_000;
const MAX_ASSIGNED: usize = 100_000;

/// Where a policy item applies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    All,
    Group(String),
}

impl Scope {
    pub fn new(group: Option<&str>) -> Result<Scope, String> {
        match group {
            None => Ok(Scope::All),
            Some(g) => check_group(g).map(|_| Scope::Group(g.to_string())),
        }
    }

    /// The indicators' `source`: `fleet` or `fleet/<group>`.
    pub fn source(&self) -> String {
        match self {
            Scope::All => netward_policy_store::MANAGED_SOURCE.to_string(),
            Scope::Group(g) => format!("{}/{g}", netward_policy_store::MANAGED_SOURCE),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Scope::All => "all devices".into(),
            Scope::Group(g) => format!("group {g}"),
        }
    }
}

/// What one scope sets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopePolicy {
    #[serde(default)]
    pub indicators: Vec<Indicator>,
    /// Settings by dotted key (`network_protection.enforcement_level`); the
    /// CLI checks keys and values against the device's own definitions.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Whether the scope's devices may change their policy locally; unset
    /// in a group: the all-devices value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_local_changes: Option<bool>,
}

/// The file's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetPolicy {
    /// Raised by every change.
    pub version: u64,
    /// Ids are `f<n>`, never reused, unique across scopes.
    next_id: u64,
    #[serde(default)]
    pub all: ScopePolicy,
    #[serde(default)]
    pub groups: BTreeMap<String, ScopePolicy>,
    /// DeviceId -> group.
    #[serde(default)]
    pub members: BTreeMap<String, String>,
}

/// A device's effective policy: what `/v1/policy` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicePolicy {
    pub version: u64,
    pub group: Option<String>,
    pub indicators: Vec<Indicator>,
    pub settings: BTreeMap<String, String>,
    pub allow_local_changes: bool,
}

impl FleetPolicy {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(POLICY_FILE)
    }

    /// The file's policy; empty (version 0) when it does not exist.
    pub fn load(path: &Path) -> Result<FleetPolicy, String> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FleetPolicy::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Writes the file atomically with the version raised.
    pub fn save(&mut self, path: &Path) -> Result<(), String> {
        self.version += 1;
        let json = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        netward_policy_store::write_atomic(path, |w| w.write_all(&json))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    pub fn scope(&self, s: &Scope) -> Option<&ScopePolicy> {
        match s {
            Scope::All => Some(&self.all),
            Scope::Group(g) => self.groups.get(g),
        }
    }

    fn scope_mut(&mut self, s: &Scope) -> Result<&mut ScopePolicy, String> {
        match s {
            Scope::All => Ok(&mut self.all),
            Scope::Group(g) => {
                if !self.groups.contains_key(g) && self.groups.len() >= MAX_GROUPS {
                    return Err(format!("the server already has {MAX_GROUPS} groups"));
                }
                Ok(self.groups.entry(g.clone()).or_default())
            }
        }
    }

    /// Adds an indicator to a scope: its value canonicalised as the device's
    /// store does; one of the same type and value in the scope is refused
    /// with its id unless `replace` (then it keeps its id).
    pub fn add_indicator(&mut self, scope: &Scope, spec: IndicatorSpec, replace: bool) -> Result<Indicator, String> {
        let target = Target::parse(spec.kind, &spec.value).map_err(|e| e.to_string())?;
        let (kind, value) = (target.kind(), target.to_string());
        let next = self.next_id.max(1);
        let sp = self.scope_mut(scope)?;
        let existing = sp.indicators.iter().position(|i| i.kind == kind && i.value == value);
        let id = match existing {
            Some(at) if !replace => {
                return Err(format!(
                    "{} already has an indicator of this type and value: id {} (use --replace)",
                    scope.describe(),
                    sp.indicators[at].id
                ))
            }
            Some(at) => sp.indicators[at].id.clone(),
            None if sp.indicators.len() >= MAX_INDICATORS => {
                return Err(format!("{} already holds {MAX_INDICATORS} indicators", scope.describe()))
            }
            None => format!("f{next}"),
        };
        let ind = Indicator {
            id,
            kind,
            value,
            action: spec.action,
            origin: Origin::Custom,
            source: scope.source(),
            title: spec.title,
            description: spec.description,
            expires: spec.expires,
            category: spec.category,
        };
        match existing {
            Some(at) => sp.indicators[at] = ind.clone(),
            None => {
                sp.indicators.push(ind.clone());
                self.next_id = next + 1;
            }
        }
        Ok(ind)
    }

    /// Removes an indicator by id from whichever scope holds it.
    pub fn remove_indicator(&mut self, id: &str) -> Result<(Scope, Indicator), String> {
        let scopes = std::iter::once((Scope::All, &mut self.all))
            .chain(self.groups.iter_mut().map(|(g, s)| (Scope::Group(g.clone()), s)));
        for (scope, sp) in scopes {
            if let Some(at) = sp.indicators.iter().position(|i| i.id == id) {
                return Ok((scope, sp.indicators.remove(at)));
            }
        }
        Err(format!("no server indicator with id {id}"))
    }

    /// Replaces the entries of feed `source` in a scope (an import); returns
    /// the entries it held before. The entries come parsed and canonical.
    pub fn replace_source(&mut self, scope: &Scope, source: &str, entries: Vec<Indicator>) -> Result<usize, String> {
        if source == netward_policy_store::MANAGED_SOURCE || source.starts_with("fleet/") {
            return Err(format!("source `{source}` is the server's own indicators' name; choose another"));
        }
        netward_policy_store::PolicyStore::check_source_name(source).map_err(|e| e.to_string())?;
        let sp = self.scope_mut(scope)?;
        let before = sp.indicators.len();
        sp.indicators.retain(|i| i.source != source);
        let old = before - sp.indicators.len();
        if sp.indicators.len() + entries.len() > MAX_INDICATORS {
            return Err(format!(
                "{} would hold {} indicators, more than {MAX_INDICATORS} (each device receives them all)",
                scope.describe(),
                sp.indicators.len() + entries.len()
            ));
        }
        sp.indicators.extend(entries);
        Ok(old)
    }

    /// Removes feed `source` from a scope; returns its entry count.
    pub fn remove_source(&mut self, scope: &Scope, source: &str) -> Result<usize, String> {
        let sp = self.scope_mut(scope)?;
        let before = sp.indicators.len();
        sp.indicators.retain(|i| i.source != source);
        match before - sp.indicators.len() {
            0 => Err(format!("{} has no feed `{source}`", scope.describe())),
            n => Ok(n),
        }
    }

    /// Sets a setting of a scope; returns the previous value of that scope.
    pub fn set_setting(&mut self, scope: &Scope, key: &str, value: &str) -> Result<Option<String>, String> {
        Ok(self.scope_mut(scope)?.settings.insert(key.to_string(), value.to_string()))
    }

    pub fn set_allow_local_changes(&mut self, scope: &Scope, allow: bool) -> Result<(), String> {
        self.scope_mut(scope)?.allow_local_changes = Some(allow);
        Ok(())
    }

    /// Puts a device in a group (a device is in at most one).
    pub fn assign(&mut self, device: &str, group: &str) -> Result<Option<String>, String> {
        check_group(group)?;
        crate::token::check_device_id(device)?;
        if !self.members.contains_key(device) && self.members.len() >= MAX_ASSIGNED {
            return Err(format!("the server already has {MAX_ASSIGNED} devices in groups"));
        }
        self.groups.entry(group.to_string()).or_default();
        Ok(self.members.insert(device.to_string(), group.to_string()))
    }

    pub fn unassign(&mut self, device: &str) -> Result<String, String> {
        self.members.remove(device).ok_or_else(|| format!("device {device} is in no group"))
    }

    /// What a device applies: all devices' indicators and settings, its
    /// group's on top (a group's indicator of the same type and value
    /// replaces the all-devices one).
    pub fn for_device(&self, device: &str) -> DevicePolicy {
        let group = self.members.get(device).cloned();
        let gp = group.as_ref().and_then(|g| self.groups.get(g));
        let mut indicators = self.all.indicators.clone();
        let mut settings = self.all.settings.clone();
        let mut allow = self.all.allow_local_changes.unwrap_or(false);
        if let Some(gp) = gp {
            indicators.retain(|i| !gp.indicators.iter().any(|g| g.kind == i.kind && g.value == i.value));
            indicators.extend(gp.indicators.iter().cloned());
            settings.extend(gp.settings.clone());
            allow = gp.allow_local_changes.unwrap_or(allow);
        }
        DevicePolicy { version: self.version, group, indicators, settings, allow_local_changes: allow }
    }
}

fn check_group(g: &str) -> Result<(), String> {
    let ok = !g.is_empty()
        && g.len() <= 64
        && g.as_bytes()[0].is_ascii_alphanumeric()
        && g.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!("group `{g}`: expected 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netward_policy::{Action, IndicatorType};

    #[test]
    fn group_on_top_of_all() {
        let mut p = FleetPolicy::default();
        let web = Scope::new(Some("web")).unwrap();
        p.add_indicator(&Scope::All, IndicatorSpec::new(IndicatorType::Domain, "EVIL.example", Action::Block), false)
            .unwrap();
        let g = p.add_indicator(&web, IndicatorSpec::new(IndicatorType::Domain, "evil.example.", Action::Allow), false);
        assert_eq!(g.unwrap().source, "fleet/web");
        p.add_indicator(&web, IndicatorSpec::new(IndicatorType::Ip, "198.18.0.9", Action::Block), false).unwrap();
        assert!(p
            .add_indicator(&web, IndicatorSpec::new(IndicatorType::Ip, "198.18.0.9", Action::Audit), false)
            .is_err());
        p.set_setting(&Scope::All, "network_protection.enforcement_level", "audit").unwrap();
        p.set_setting(&web, "network_protection.enforcement_level", "block").unwrap();
        p.assign("dev-a", "web").unwrap();
        let a = p.for_device("dev-a");
        assert_eq!(a.indicators.len(), 2);
        assert!(a.indicators.iter().any(|i| i.value == "evil.example" && i.action == Action::Allow));
        assert_eq!(a.settings["network_protection.enforcement_level"], "block");
        let b = p.for_device("dev-b");
        assert_eq!((b.indicators.len(), b.group.as_deref()), (1, None));
        assert_eq!(b.settings["network_protection.enforcement_level"], "audit");
        assert!(!b.allow_local_changes);
        p.set_allow_local_changes(&Scope::All, true).unwrap();
        p.set_allow_local_changes(&web, false).unwrap();
        assert!(p.for_device("dev-b").allow_local_changes && !p.for_device("dev-a").allow_local_changes);
        let (scope, gone) = p.remove_indicator("f3").unwrap();
        assert_eq!((scope, gone.value.as_str()), (web, "198.18.0.9"));
        assert!(Scope::new(Some("a b")).is_err());
    }
}
