//! What the portal asks of netward: queries through the hunting engine,
//! indicator and settings changes through the CLI's own code. Every method
//! is blocking; the server calls them off its async threads.

/// A query result as the pages show it: column names and JSON cells.
#[derive(Debug, Clone, Default)]
pub struct Grid {
    pub columns: Vec<String>,
    /// Whether each column is a datetime (chart x axes).
    pub datetime: Vec<bool>,
    pub rows: Vec<Vec<serde_json::Value>>,
    /// `render` kind of the query, if it ended in one.
    pub render: Option<String>,
    /// The result had more rows than the backend keeps.
    pub truncated: bool,
}

/// A failed query, with where in the query it failed (1-based; 0 = unknown).
#[derive(Debug, Clone)]
pub struct QueryError {
    pub message: String,
    pub line: usize,
    pub col: usize,
}

/// One 5007 entry of the operational log.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub time: String,
    pub user: String,
    pub setting: String,
    pub old: String,
    pub new: String,
}

/// An indicator import: the summary line and each rejected line's error.
#[derive(Debug, Clone, Default)]
pub struct ImportOutcome {
    pub summary: String,
    pub errors: Vec<String>,
}

/// The settings the Settings page changes (netward's setting keys).
pub const ENFORCEMENT_LEVEL: &str = "network_protection.enforcement_level";
pub const NOTIFICATION_TEXT: &str = "notification.text";
pub const NOTIFICATION_HELP_URL: &str = "notification.help_url";
pub const EDITABLE_SETTINGS: [&str; 3] = [ENFORCEMENT_LEVEL, NOTIFICATION_TEXT, NOTIFICATION_HELP_URL];

pub trait Backend: Send + Sync + 'static {
    /// Runs KQL through the hunting engine on the store, keeping at most
    /// `max_rows` rows.
    fn hunt(&self, query: &str, max_rows: usize) -> Result<Grid, QueryError>;
    /// The indicators (id, type, value, action, source, title, ...).
    fn indicators(&self) -> Result<Grid, String>;
    fn add_indicator(&self, user: &str, kind: &str, value: &str, action: &str, title: &str) -> Result<String, String>;
    fn remove_indicator(&self, user: &str, id: &str) -> Result<String, String>;
    fn import_indicators(&self, user: &str, source: &str, format: &str, text: &str) -> Result<ImportOutcome, String>;
    /// A setting's current value (one of [`EDITABLE_SETTINGS`]).
    fn setting(&self, key: &str) -> String;
    /// Changes a setting as the CLI does (checked, 5007 with `user`).
    fn set_setting(&self, user: &str, key: &str, value: &str) -> Result<(), String>;
    /// 5007 entries, newest first.
    fn settings_history(&self) -> Result<Vec<HistoryRow>, String>;
    /// The time spans of the stored DeviceNetworkEvents segments (not the
    /// live log), which the timeline reads newest first. Empty when not
    /// known: the timeline then reads the whole table at once.
    fn timeline_spans(&self) -> Vec<crate::TimeSpan> {
        Vec::new()
    }
    /// Queries offered as examples on the hunting page: (title, text).
    fn example_queries(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}
