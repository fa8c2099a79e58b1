//! The tables and their columns: names and KQL types exactly as Defender's
//! advanced hunting has them, so users' queries run unchanged.

use arrow_schema::{DataType, Field, Schema, TimeUnit};
use std::collections::HashMap;
use std::str::FromStr;

/// A column's KQL type. The Arrow type follows from it ([`ColumnType::arrow`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    String,
    /// KQL `int`: 32-bit.
    Int,
    /// KQL `long`: 64-bit.
    Long,
    DateTime,
    /// KQL `dynamic`: any JSON value.
    Dynamic,
    Bool,
    Real,
}

impl ColumnType {
    /// The KQL name of the type, as `getschema` prints it.
    pub fn kql_name(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Int => "int",
            ColumnType::Long => "long",
            ColumnType::DateTime => "datetime",
            ColumnType::Dynamic => "dynamic",
            ColumnType::Bool => "bool",
            ColumnType::Real => "real",
        }
    }

    /// The Arrow type used in the store. Datetimes are UTC nanoseconds, the
    /// precision DataFusion's own time functions use, so no casts are needed.
    pub fn arrow(self) -> DataType {
        match self {
            ColumnType::String | ColumnType::Dynamic => DataType::Utf8,
            ColumnType::Int => DataType::Int32,
            ColumnType::Long => DataType::Int64,
            ColumnType::DateTime => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Real => DataType::Float64,
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
}

const fn c(name: &'static str, ty: ColumnType) -> Column {
    Column { name, ty }
}

use ColumnType::{DateTime as Dt, Dynamic as Dy, Int as I, Long as L, String as S};

const DEVICE_NETWORK_EVENTS: &[Column] = &[
    c("Timestamp", Dt),
    c("DeviceId", S),
    c("DeviceName", S),
    c("ActionType", S),
    c("RemoteIP", S),
    c("RemotePort", I),
    c("RemoteUrl", S),
    c("LocalIP", S),
    c("LocalPort", I),
    c("Protocol", S),
    c("LocalIPType", S),
    c("RemoteIPType", S),
    c("InitiatingProcessSHA1", S),
    c("InitiatingProcessSHA256", S),
    c("InitiatingProcessMD5", S),
    c("InitiatingProcessFileName", S),
    c("InitiatingProcessFolderPath", S),
    c("InitiatingProcessId", L),
    c("InitiatingProcessCommandLine", S),
    c("InitiatingProcessCreationTime", Dt),
    c("InitiatingProcessParentId", L),
    c("InitiatingProcessParentFileName", S),
    c("InitiatingProcessAccountDomain", S),
    c("InitiatingProcessAccountName", S),
    c("ReportId", L),
    c("AdditionalFields", Dy),
];

/// The columns of Defender's `DeviceEvents` that netward can fill. Network
/// protection rows carry the remote/local endpoint and the initiating process.
const DEVICE_EVENTS: &[Column] = &[
    c("Timestamp", Dt),
    c("DeviceId", S),
    c("DeviceName", S),
    c("ActionType", S),
    c("FileName", S),
    c("FolderPath", S),
    c("RemoteUrl", S),
    c("RemoteIP", S),
    c("RemotePort", I),
    c("LocalIP", S),
    c("LocalPort", I),
    c("ProcessId", L),
    c("ProcessCommandLine", S),
    c("InitiatingProcessSHA1", S),
    c("InitiatingProcessSHA256", S),
    c("InitiatingProcessMD5", S),
    c("InitiatingProcessFileName", S),
    c("InitiatingProcessFolderPath", S),
    c("InitiatingProcessId", L),
    c("InitiatingProcessCommandLine", S),
    c("InitiatingProcessCreationTime", Dt),
    c("InitiatingProcessParentId", L),
    c("InitiatingProcessParentFileName", S),
    c("InitiatingProcessAccountDomain", S),
    c("InitiatingProcessAccountName", S),
    c("ReportId", L),
    c("AdditionalFields", Dy),
];

const DEVICE_INFO: &[Column] = &[
    c("Timestamp", Dt),
    c("DeviceId", S),
    c("DeviceName", S),
    c("ClientVersion", S),
    c("PublicIP", S),
    c("OSPlatform", S),
    c("OSVersion", S),
    c("OSDistribution", S),
    c("OSArchitecture", S),
    c("MachineGroup", S),
    c("LoggedOnUsers", Dy),
    c("OnboardingStatus", S),
    c("ReportId", L),
    c("AdditionalFields", Dy),
];

/// A table of the event model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    DeviceNetworkEvents,
    DeviceEvents,
    DeviceInfo,
}

impl Table {
    pub const ALL: [Table; 3] = [Table::DeviceNetworkEvents, Table::DeviceEvents, Table::DeviceInfo];

    pub fn name(self) -> &'static str {
        match self {
            Table::DeviceNetworkEvents => "DeviceNetworkEvents",
            Table::DeviceEvents => "DeviceEvents",
            Table::DeviceInfo => "DeviceInfo",
        }
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::DeviceNetworkEvents => DEVICE_NETWORK_EVENTS,
            Table::DeviceEvents => DEVICE_EVENTS,
            Table::DeviceInfo => DEVICE_INFO,
        }
    }

    /// Whether rows of this table are stored. `DeviceEvents` is a view over
    /// `DeviceNetworkEvents` (see [`device_events_source`]).
    pub fn is_stored(self) -> bool {
        !matches!(self, Table::DeviceEvents)
    }

    pub fn column_index(self, name: &str) -> Option<usize> {
        self.columns().iter().position(|c| c.name == name)
    }

    /// The Arrow schema of the table. Each field carries `kql_type` metadata
    /// so that dynamic columns (Utf8 holding JSON) can be told from strings.
    pub fn arrow_schema(self) -> Schema {
        let fields: Vec<Field> = self
            .columns()
            .iter()
            .map(|col| {
                let nullable = !matches!(col.ty, ColumnType::String);
                Field::new(col.name, col.ty.arrow(), nullable)
                    .with_metadata(HashMap::from([("kql_type".to_string(), col.ty.kql_name().to_string())]))
            })
            .collect();
        Schema::new(fields)
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Table {
    type Err = String;
    /// Table names are case-sensitive in KQL; so are they here.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Table::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("unknown table `{s}` (known: DeviceNetworkEvents, DeviceEvents, DeviceInfo)"))
    }
}

/// Where a column of the `DeviceEvents` view comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceEventsSource {
    /// The `DeviceNetworkEvents` column of this name.
    Column(&'static str),
    /// No source: empty string (or null for non-string columns).
    Empty,
}

/// The `DeviceEvents` view: which rows and where each column comes from.
/// Rows are the `DeviceNetworkEvents` rows whose `ActionType` starts with
/// [`DEVICE_EVENTS_ACTION_PREFIX`] — network protection verdicts.
pub fn device_events_source(column: &str) -> DeviceEventsSource {
    match column {
        "FileName" => DeviceEventsSource::Column("InitiatingProcessFileName"),
        "FolderPath" => DeviceEventsSource::Column("InitiatingProcessFolderPath"),
        "ProcessId" => DeviceEventsSource::Column("InitiatingProcessId"),
        "ProcessCommandLine" => DeviceEventsSource::Column("InitiatingProcessCommandLine"),
        other => match Table::DeviceNetworkEvents.column_index(other) {
            Some(i) => DeviceEventsSource::Column(DEVICE_NETWORK_EVENTS[i].name),
            None => DeviceEventsSource::Empty,
        },
    }
}

/// The `ActionType` prefix of the `DeviceNetworkEvents` rows that the
/// `DeviceEvents` view shows.
pub const DEVICE_EVENTS_ACTION_PREFIX: &str = "ExploitGuardNetworkProtection";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_network_events_has_the_brief_columns_and_types() {
        let t = Table::DeviceNetworkEvents;
        for (name, ty) in [
            ("Timestamp", Dt),
            ("RemotePort", I),
            ("LocalPort", I),
            ("InitiatingProcessId", L),
            ("InitiatingProcessParentId", L),
            ("ReportId", L),
            ("InitiatingProcessCreationTime", Dt),
            ("AdditionalFields", Dy),
            ("RemoteUrl", S),
        ] {
            let col = t.columns()[t.column_index(name).expect(name)];
            assert_eq!(col.ty, ty, "{name}");
        }
        assert_eq!(t.columns().len(), 26);
    }

    #[test]
    fn every_device_events_column_has_a_source_of_the_right_type() {
        for col in Table::DeviceEvents.columns() {
            if let DeviceEventsSource::Column(src) = device_events_source(col.name) {
                let i = Table::DeviceNetworkEvents.column_index(src).expect(src);
                assert_eq!(DEVICE_NETWORK_EVENTS[i].ty, col.ty, "{}", col.name);
            }
        }
    }

    #[test]
    fn arrow_schema_marks_dynamic_columns() {
        let s = Table::DeviceInfo.arrow_schema();
        let f = s.field_with_name("LoggedOnUsers").unwrap();
        assert_eq!(f.data_type(), &DataType::Utf8);
        assert_eq!(f.metadata().get("kql_type").map(String::as_str), Some("dynamic"));
        assert!(!s.field_with_name("DeviceName").unwrap().is_nullable());
    }

    #[test]
    fn table_names_parse_case_sensitively() {
        assert_eq!("DeviceInfo".parse::<Table>(), Ok(Table::DeviceInfo));
        assert!("deviceinfo".parse::<Table>().is_err());
    }
}
