//! The small vocabularies of policy: actions, enforcement levels, where an
//! indicator comes from, and Defender's `ResponseCategory`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What an indicator asks for.
///
/// Among equally specific matches of one origin the order is
/// `Allow > Warn > Block > Audit` (Defender: "Allow > Warn > Block"; audit
/// only records, so it yields to every action that decides something).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Let the connection through, overriding less preferred matches.
    Allow,
    /// Let it through and record an audit event.
    Audit,
    /// Defender shows a bypassable warning page. netward blocks the
    /// connection like a block and tells the user in a notification whose
    /// "Allow for N hours" adds a temporary allow for that user
    /// ([`crate::warn`]); the verdict's `note` says so.
    Warn,
    /// Reset the connection (in block mode).
    Block,
}

impl Action {
    /// Rank among equally specific matches: lower wins.
    pub fn precedence(self) -> u8 {
        match self {
            Action::Allow => 0,
            Action::Warn => 1,
            Action::Block => 2,
            Action::Audit => 3,
        }
    }

    /// Whether this action stops the connection when enforced.
    pub fn blocks(self) -> bool {
        matches!(self, Action::Block | Action::Warn)
    }

    /// The lower-case name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Audit => "audit",
            Action::Warn => "warn",
            Action::Block => "block",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown word where an [`Action`], [`EnforcementLevel`] or [`Origin`]
/// was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {word:?} (expected one of: {expected})")]
pub struct UnknownWord {
    /// What was being parsed.
    pub what: &'static str,
    /// The word given.
    pub word: String,
    /// The accepted words.
    pub expected: &'static str,
}

impl FromStr for Action {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "allow" => Ok(Action::Allow),
            "audit" => Ok(Action::Audit),
            "warn" => Ok(Action::Warn),
            "block" => Ok(Action::Block),
            _ => Err(UnknownWord { what: "action", word: s.into(), expected: "allow, audit, warn, block" }),
        }
    }
}

/// Network protection's enforcement level (`mdatp config network-protection
/// enforcement-level --value ...`). The default is `disabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnforcementLevel {
    /// Verdicts are computed but nothing is blocked or reported as such.
    #[default]
    Disabled,
    /// Would-be blocks are recorded (event 1125), nothing is blocked.
    Audit,
    /// Blocks are enforced (event 1126).
    Block,
}

impl EnforcementLevel {
    /// The lower-case name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            EnforcementLevel::Disabled => "disabled",
            EnforcementLevel::Audit => "audit",
            EnforcementLevel::Block => "block",
        }
    }
}

impl fmt::Display for EnforcementLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EnforcementLevel {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "disabled" => Ok(EnforcementLevel::Disabled),
            "audit" => Ok(EnforcementLevel::Audit),
            "block" => Ok(EnforcementLevel::Block),
            _ => Err(UnknownWord { what: "enforcement level", word: s.into(), expected: "disabled, audit, block" }),
        }
    }
}

/// Where an indicator comes from. Across origins the order is
/// `Custom > ThreatFeed > Category` (Defender: custom indicators, then
/// reputation, then web content categories), whatever the specificity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Added by an admin (`netward indicator add`).
    Custom,
    /// Imported from a threat feed (reputation).
    ThreatFeed,
    /// Imported from a content-category list (web content filtering).
    Category,
}

impl Origin {
    /// Rank across origins: lower wins.
    pub fn precedence(self) -> u8 {
        match self {
            Origin::Custom => 0,
            Origin::ThreatFeed => 1,
            Origin::Category => 2,
        }
    }
}

impl FromStr for Origin {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "custom" => Ok(Origin::Custom),
            "threat_feed" | "feed" => Ok(Origin::ThreatFeed),
            "category" => Ok(Origin::Category),
            _ => Err(UnknownWord { what: "origin", word: s.into(), expected: "custom, threat-feed, category" }),
        }
    }
}

/// Defender's `ResponseCategory` (AdditionalFields of the
/// ExploitGuardNetworkProtection events).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResponseCategory {
    /// A custom indicator decided.
    CustomBlockList,
    /// A content-category (web content filtering) policy decided.
    CustomPolicy,
    /// Reputation: malware, unwanted software, generic bad.
    Malicious,
    /// Reputation: phishing.
    Phishing,
    /// Reputation: command and control.
    CmdCtrl,
    /// Reputation: exploit hosting.
    Exploit,
}

impl ResponseCategory {
    /// The name Defender uses.
    pub fn as_str(&self) -> &'static str {
        match self {
            ResponseCategory::CustomBlockList => "CustomBlockList",
            ResponseCategory::CustomPolicy => "CustomPolicy",
            ResponseCategory::Malicious => "Malicious",
            ResponseCategory::Phishing => "Phishing",
            ResponseCategory::CmdCtrl => "CmdCtrl",
            ResponseCategory::Exploit => "Exploit",
        }
    }

    /// Map a threat feed's category label onto a reputation category:
    /// phishing, command and control and exploit labels keep their
    /// meaning, everything else (malware, malware_download, botnet, ...) is
    /// `Malicious`.
    pub fn from_feed_label(label: Option<&str>) -> Self {
        let l = label.unwrap_or("").to_ascii_lowercase();
        if l.contains("phish") {
            ResponseCategory::Phishing
        } else if l.contains("c2") || l.contains("cmdctrl") || l.contains("command") {
            ResponseCategory::CmdCtrl
        } else if l.contains("exploit") {
            ResponseCategory::Exploit
        } else {
            ResponseCategory::Malicious
        }
    }
}

impl fmt::Display for ResponseCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ResponseCategory {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResponseCategory {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "CustomBlockList" => ResponseCategory::CustomBlockList,
            "CustomPolicy" => ResponseCategory::CustomPolicy,
            "Phishing" => ResponseCategory::Phishing,
            "CmdCtrl" => ResponseCategory::CmdCtrl,
            "Exploit" => ResponseCategory::Exploit,
            "Malicious" => ResponseCategory::Malicious,
            other => {
                return Err(serde::de::Error::unknown_variant(
                    other,
                    &["CustomBlockList", "CustomPolicy", "Malicious", "Phishing", "CmdCtrl", "Exploit"],
                ))
            }
        })
    }
}
