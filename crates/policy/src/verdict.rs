//! The verdict: what policy says about one destination, as one JSON object
//! per line with exactly the fields `input`, `canonical`, `action`,
//! `enforced`, `enforcement_level`, `category`, `matched`.
//!
//! # `action`
//! The winning indicator's action (`allow`, `audit`, `warn`, `block`), or
//! `none` when nothing matched. It is computed the same way at every
//! enforcement level: it says what the policy *asks*.
//!
//! # `enforced`
//! `true` exactly when netward stops the connection: the enforcement level
//! is `block` **and** the action is `block` or `warn` (warn is enforced as
//! block; the user it was shown to may lift it for a while with a temporary
//! allow, see [`crate::warn`], applied by the sensor). Otherwise `false`:
//! at level `audit` a block/warn verdict is only recorded (event 1125,
//! `ExploitGuardNetworkProtectionAudited`); at level `disabled` nothing is
//! enforced or reported; `allow`, `audit` and `none` never stop anything.
//! See [`Verdict::event_id`].
//!
//! # `category` (Defender's `ResponseCategory`)
//! `null` when the action is `none` or `allow`. Otherwise it follows the
//! winning indicator's origin:
//! * custom indicator: `CustomBlockList` (for block, warn and audit alike);
//! * content-category list: `CustomPolicy` (a web content filtering policy);
//! * threat feed: from the entry's (or the feed's) category label:
//!   `Phishing` for phishing labels, `CmdCtrl` for C2, `Exploit` for
//!   exploits, `Malicious` for everything else.
//!
//! # `matched`
//! Every live matching indicator, the winner first, then in precedence
//! order (see [`crate::matcher`]); each `{id, type, value, action, source}`.

use serde::{Deserialize, Serialize};

use crate::action::{Action, EnforcementLevel, ResponseCategory};
use crate::indicator::IndicatorType;

/// The verdict's action: an [`Action`] or `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictAction {
    /// An allow indicator won.
    Allow,
    /// An audit indicator won.
    Audit,
    /// A warn indicator won (enforced as block).
    Warn,
    /// A block indicator won.
    Block,
    /// Nothing matched.
    None,
}

impl From<Action> for VerdictAction {
    fn from(a: Action) -> Self {
        match a {
            Action::Allow => VerdictAction::Allow,
            Action::Audit => VerdictAction::Audit,
            Action::Warn => VerdictAction::Warn,
            Action::Block => VerdictAction::Block,
        }
    }
}

impl VerdictAction {
    /// Whether the action stops the connection when enforced.
    pub fn blocks(self) -> bool {
        matches!(self, VerdictAction::Block | VerdictAction::Warn)
    }
}

/// One matching indicator in a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchedIndicator {
    /// The indicator's id.
    pub id: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: IndicatorType,
    /// Its canonical value.
    pub value: String,
    /// Its action.
    pub action: Action,
    /// Its source (`custom` or a feed name).
    pub source: String,
}

/// Warn is enforced as block; said in [`Verdict::note`].
pub const WARN_NOTE: &str =
    "warn is enforced as block until the user allows it from the notification (or `netward warn allow`)";

/// The policy decision for one destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The input as given.
    pub input: String,
    /// Its canonical form.
    pub canonical: String,
    /// See the module docs.
    pub action: VerdictAction,
    /// See the module docs.
    pub enforced: bool,
    /// The level the verdict was computed for.
    pub enforcement_level: EnforcementLevel,
    /// See the module docs.
    pub category: Option<ResponseCategory>,
    /// See the module docs.
    pub matched: Vec<MatchedIndicator>,
    /// Not serialised (the JSON has exactly the seven fields above): set to
    /// [`WARN_NOTE`] when the action is `warn`.
    #[serde(skip)]
    pub note: Option<&'static str>,
    /// Not serialised: the winning indicator's title, for a notification's
    /// DisplayName.
    #[serde(skip)]
    pub title: Option<String>,
}

impl Verdict {
    /// Whether the verdict would stop the connection in block mode.
    pub fn would_block(&self) -> bool {
        self.action.blocks()
    }

    /// The operational event the verdict raises: 1125 (fired in audit
    /// mode) or 1126 (fired in block mode) for a block/warn action, none
    /// otherwise and none at level `disabled`.
    pub fn event_id(&self) -> Option<u32> {
        match (self.action.blocks(), self.enforcement_level) {
            (true, EnforcementLevel::Audit) => Some(1125),
            (true, EnforcementLevel::Block) => Some(1126),
            _ => None,
        }
    }

    /// One JSON line (no trailing newline).
    pub fn to_json_line(&self) -> String {
        // Serialising plain strings, bools and enums cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}
