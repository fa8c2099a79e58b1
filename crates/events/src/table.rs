//! The tables and their columns: names and KQL types exactly as Defender's
//! advanced hunting has them, so users' queries run unchanged.

use crate::ActionType;
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
    /// Whether netward's own sensors can fill this column on Linux. Columns
    /// that only Windows or Defender's cloud knows (version info, integrity
    /// levels, Entra IDs, RDP sessions, machine groups) are kept so queries
    /// and imports keep them, but netward leaves them empty (`""` or null).
    pub linux: LinuxFill,
}

/// Whether netward fills a column of its own events on Linux.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinuxFill {
    /// netward writes this column (when it knows the value).
    Filled,
    /// netward never writes this column; only imported Defender rows have it.
    Never,
}

impl Column {
    /// Whether netward fills this column on Linux; `false` means its value
    /// in netward's own rows is always empty (only imported rows carry it).
    pub fn filled_on_linux(&self) -> bool {
        self.linux == LinuxFill::Filled
    }
}

/// A column netward fills.
const fn c(name: &'static str, ty: ColumnType) -> Column {
    Column { name, ty, linux: LinuxFill::Filled }
}

/// A column of Defender's schema netward never fills on Linux.
const fn n(name: &'static str, ty: ColumnType) -> Column {
    Column { name, ty, linux: LinuxFill::Never }
}

use ColumnType::{Bool as B, DateTime as Dt, Dynamic as Dy, Int as I, Long as L, String as S};

/// Defender's `DeviceNetworkEvents`, in the order of Microsoft's schema
/// reference, plus `MachineGroup` (which the Streaming API exports carry).
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
    n("InitiatingProcessFileSize", L),
    n("InitiatingProcessVersionInfoCompanyName", S),
    n("InitiatingProcessVersionInfoProductName", S),
    n("InitiatingProcessVersionInfoProductVersion", S),
    n("InitiatingProcessVersionInfoInternalFileName", S),
    n("InitiatingProcessVersionInfoOriginalFileName", S),
    n("InitiatingProcessVersionInfoFileDescription", S),
    c("InitiatingProcessId", L),
    c("InitiatingProcessCommandLine", S),
    c("InitiatingProcessCreationTime", Dt),
    c("InitiatingProcessFolderPath", S),
    c("InitiatingProcessParentFileName", S),
    c("InitiatingProcessParentId", L),
    n("InitiatingProcessParentCreationTime", Dt),
    c("InitiatingProcessAccountDomain", S),
    c("InitiatingProcessAccountName", S),
    n("InitiatingProcessAccountSid", S),
    n("InitiatingProcessAccountUpn", S),
    n("InitiatingProcessAccountObjectId", S),
    n("InitiatingProcessIntegrityLevel", S),
    n("InitiatingProcessTokenElevation", S),
    c("ReportId", L),
    n("AppGuardContainerId", S),
    c("AdditionalFields", Dy),
    n("InitiatingProcessSessionId", L),
    n("IsInitiatingProcessRemoteSession", B),
    n("InitiatingProcessRemoteSessionDeviceName", S),
    n("InitiatingProcessRemoteSessionIP", S),
    n("MachineGroup", S),
];

/// Defender's `DeviceEvents`, in the order of Microsoft's schema reference,
/// plus `MachineGroup`. netward's own rows of it are its network protection
/// verdicts (see [`device_events_source`]): they carry the endpoints and the
/// initiating process; imported rows may carry every column.
const DEVICE_EVENTS: &[Column] = &[
    c("Timestamp", Dt),
    c("DeviceId", S),
    c("DeviceName", S),
    c("ActionType", S),
    c("FileName", S),
    c("FolderPath", S),
    n("SHA1", S),
    n("SHA256", S),
    n("MD5", S),
    n("FileSize", L),
    n("AccountDomain", S),
    n("AccountName", S),
    n("AccountSid", S),
    c("RemoteUrl", S),
    n("RemoteDeviceName", S),
    c("ProcessId", L),
    c("ProcessCommandLine", S),
    n("ProcessCreationTime", Dt),
    n("ProcessTokenElevation", S),
    n("LogonId", L),
    n("RegistryKey", S),
    n("RegistryValueName", S),
    n("RegistryValueData", S),
    c("RemoteIP", S),
    c("RemotePort", I),
    c("LocalIP", S),
    c("LocalPort", I),
    n("FileOriginUrl", S),
    n("FileOriginIP", S),
    c("InitiatingProcessSHA1", S),
    c("InitiatingProcessSHA256", S),
    c("InitiatingProcessMD5", S),
    c("InitiatingProcessFileName", S),
    n("InitiatingProcessFileSize", L),
    c("InitiatingProcessFolderPath", S),
    c("InitiatingProcessId", L),
    c("InitiatingProcessCommandLine", S),
    c("InitiatingProcessCreationTime", Dt),
    c("InitiatingProcessAccountDomain", S),
    c("InitiatingProcessAccountName", S),
    n("InitiatingProcessAccountSid", S),
    n("InitiatingProcessAccountUpn", S),
    n("InitiatingProcessAccountObjectId", S),
    n("InitiatingProcessVersionInfoCompanyName", S),
    n("InitiatingProcessVersionInfoProductName", S),
    n("InitiatingProcessVersionInfoProductVersion", S),
    n("InitiatingProcessVersionInfoInternalFileName", S),
    n("InitiatingProcessVersionInfoOriginalFileName", S),
    n("InitiatingProcessVersionInfoFileDescription", S),
    c("InitiatingProcessParentId", L),
    c("InitiatingProcessParentFileName", S),
    n("InitiatingProcessParentCreationTime", Dt),
    n("InitiatingProcessLogonId", L),
    c("ReportId", L),
    n("AppGuardContainerId", S),
    c("AdditionalFields", Dy),
    n("InitiatingProcessSessionId", L),
    n("IsInitiatingProcessRemoteSession", B),
    n("InitiatingProcessRemoteSessionDeviceName", S),
    n("InitiatingProcessRemoteSessionIP", S),
    n("CreatedProcessSessionId", L),
    n("IsProcessRemoteSession", B),
    n("ProcessRemoteSessionDeviceName", S),
    n("ProcessRemoteSessionIP", S),
    n("MachineGroup", S),
];

/// Defender's `DeviceProcessEvents`, in the order of Microsoft's schema
/// reference, plus `MachineGroup`. netward's own rows are `ProcessCreated`
/// (an exec seen by the attribution sensor): the new process in the
/// `Process*`/file columns, the process that ran it as `InitiatingProcess*`.
const DEVICE_PROCESS_EVENTS: &[Column] = &[
    c("Timestamp", Dt),
    c("DeviceId", S),
    c("DeviceName", S),
    c("ActionType", S),
    c("FileName", S),
    c("FolderPath", S),
    c("SHA1", S),
    c("SHA256", S),
    c("MD5", S),
    n("FileSize", L),
    n("ProcessVersionInfoCompanyName", S),
    n("ProcessVersionInfoProductName", S),
    n("ProcessVersionInfoProductVersion", S),
    n("ProcessVersionInfoInternalFileName", S),
    n("ProcessVersionInfoOriginalFileName", S),
    n("ProcessVersionInfoFileDescription", S),
    c("ProcessId", L),
    c("ProcessCommandLine", S),
    n("ProcessIntegrityLevel", S),
    n("ProcessTokenElevation", S),
    c("ProcessCreationTime", Dt),
    c("AccountDomain", S),
    c("AccountName", S),
    n("AccountSid", S),
    n("AccountUpn", S),
    n("AccountObjectId", S),
    n("LogonId", L),
    c("InitiatingProcessAccountDomain", S),
    c("InitiatingProcessAccountName", S),
    n("InitiatingProcessAccountSid", S),
    n("InitiatingProcessAccountUpn", S),
    n("InitiatingProcessAccountObjectId", S),
    n("InitiatingProcessLogonId", L),
    n("InitiatingProcessIntegrityLevel", S),
    n("InitiatingProcessTokenElevation", S),
    c("InitiatingProcessSHA1", S),
    c("InitiatingProcessSHA256", S),
    c("InitiatingProcessMD5", S),
    c("InitiatingProcessFileName", S),
    n("InitiatingProcessFileSize", L),
    n("InitiatingProcessVersionInfoCompanyName", S),
    n("InitiatingProcessVersionInfoProductName", S),
    n("InitiatingProcessVersionInfoProductVersion", S),
    n("InitiatingProcessVersionInfoInternalFileName", S),
    n("InitiatingProcessVersionInfoOriginalFileName", S),
    n("InitiatingProcessVersionInfoFileDescription", S),
    c("InitiatingProcessId", L),
    c("InitiatingProcessCommandLine", S),
    c("InitiatingProcessCreationTime", Dt),
    c("InitiatingProcessFolderPath", S),
    c("InitiatingProcessParentId", L),
    c("InitiatingProcessParentFileName", S),
    n("InitiatingProcessParentCreationTime", Dt),
    n("InitiatingProcessSignerType", S),
    n("InitiatingProcessSignatureStatus", S),
    c("ReportId", L),
    n("AppGuardContainerId", S),
    c("AdditionalFields", Dy),
    n("InitiatingProcessSessionId", L),
    n("IsInitiatingProcessRemoteSession", B),
    n("InitiatingProcessRemoteSessionDeviceName", S),
    n("InitiatingProcessRemoteSessionIP", S),
    n("CreatedProcessSessionId", L),
    n("IsProcessRemoteSession", B),
    n("ProcessRemoteSessionDeviceName", S),
    n("ProcessRemoteSessionIP", S),
    n("MachineGroup", S),
];

/// Defender's `DeviceInfo`, in the order of Microsoft's schema reference.
/// `LoggedOnUsers` and `AdditionalFields` are JSON text in Defender's
/// exports and dynamic here, as queries use them.
const DEVICE_INFO: &[Column] = &[
    c("Timestamp", Dt),
    c("DeviceId", S),
    c("DeviceName", S),
    c("ClientVersion", S),
    n("PublicIP", S),
    c("OSArchitecture", S),
    c("OSPlatform", S),
    n("OSBuild", L),
    n("IsAzureADJoined", B),
    n("JoinType", S),
    n("AadDeviceId", S),
    n("LoggedOnUsers", Dy),
    n("RegistryDeviceTag", S),
    c("OSVersion", S),
    n("MachineGroup", S),
    c("ReportId", L),
    c("OnboardingStatus", S),
    c("AdditionalFields", Dy),
    n("DeviceCategory", S),
    n("DeviceType", S),
    n("DeviceSubtype", S),
    n("Model", S),
    n("Vendor", S),
    c("OSDistribution", S),
    n("OSVersionInfo", S),
    n("MergedDeviceIds", S),
    n("MergedToDeviceId", S),
    n("IsInternetFacing", B),
    n("SensorHealthState", S),
    n("IsExcluded", B),
    n("ExclusionReason", S),
    n("ExposureLevel", S),
    n("AssetValue", S),
    n("DeviceManualTags", S),
    n("DeviceDynamicTags", S),
    n("ConnectivityType", S),
    n("HostDeviceId", S),
    n("AzureResourceId", S),
    n("AwsResourceName", S),
    n("GcpFullResourceName", S),
];

/// A table of the event model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    DeviceNetworkEvents,
    DeviceEvents,
    DeviceInfo,
    DeviceProcessEvents,
}

impl Table {
    pub const ALL: [Table; 4] =
        [Table::DeviceNetworkEvents, Table::DeviceEvents, Table::DeviceInfo, Table::DeviceProcessEvents];

    pub fn name(self) -> &'static str {
        match self {
            Table::DeviceNetworkEvents => "DeviceNetworkEvents",
            Table::DeviceEvents => "DeviceEvents",
            Table::DeviceInfo => "DeviceInfo",
            Table::DeviceProcessEvents => "DeviceProcessEvents",
        }
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::DeviceNetworkEvents => DEVICE_NETWORK_EVENTS,
            Table::DeviceEvents => DEVICE_EVENTS,
            Table::DeviceInfo => DEVICE_INFO,
            Table::DeviceProcessEvents => DEVICE_PROCESS_EVENTS,
        }
    }

    /// Whether rows of this table are stored. Every table is: `DeviceEvents`
    /// holds imported Defender rows, and netward's own network protection
    /// verdicts, stored once as `DeviceNetworkEvents` rows, are shown in it
    /// too (see [`device_events_source`]).
    pub fn is_stored(self) -> bool {
        true
    }

    pub fn column_index(self, name: &str) -> Option<usize> {
        self.columns().iter().position(|c| c.name == name)
    }

    /// The column of this name (case-sensitive, as in KQL).
    pub fn column(self, name: &str) -> Option<&'static Column> {
        self.columns().iter().find(|c| c.name == name)
    }

    /// The columns of Defender's schema that netward never fills on Linux:
    /// a query may name them (they are empty in netward's own rows, filled
    /// only in imported ones).
    pub fn never_filled_on_linux(self) -> impl Iterator<Item = &'static Column> {
        self.columns().iter().filter(|c| !c.filled_on_linux())
    }

    /// What a row must have to be a row of this table: each inner list names
    /// columns of which at least one must be non-empty. An import rejects a
    /// row without them rather than storing it empty.
    pub fn required_columns(self) -> &'static [&'static [&'static str]] {
        match self {
            Table::DeviceNetworkEvents | Table::DeviceEvents | Table::DeviceProcessEvents => {
                &[&["Timestamp"], &["ActionType"], &["DeviceId", "DeviceName"]]
            }
            Table::DeviceInfo => &[&["Timestamp"], &["DeviceId", "DeviceName"]],
        }
    }

    /// The `ActionType` values netward's own rows of this table have.
    /// Defender has many more (SmartScreen, firewall, antivirus events);
    /// only imported rows carry those.
    pub fn action_types_produced(self) -> &'static [ActionType] {
        match self {
            Table::DeviceNetworkEvents => &ActionType::NETWORK,
            Table::DeviceEvents => {
                &[ActionType::ExploitGuardNetworkProtectionAudited, ActionType::ExploitGuardNetworkProtectionBlocked]
            }
            Table::DeviceInfo => &[],
            Table::DeviceProcessEvents => &[ActionType::ProcessCreated],
        }
    }

    /// Whether netward's own rows of this table ever have this `ActionType`
    /// (exact, case-sensitive).
    pub fn produces_action_type(self, action: &str) -> bool {
        self.action_types_produced().iter().any(|a| a.as_str() == action)
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
        Table::ALL.into_iter().find(|t| t.name() == s).ok_or_else(|| {
            format!("unknown table `{s}` (known: DeviceNetworkEvents, DeviceEvents, DeviceInfo, DeviceProcessEvents)")
        })
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

/// netward's own `DeviceEvents` rows: which rows and where each column comes
/// from. They are the `DeviceNetworkEvents` rows whose `ActionType` starts
/// with [`DEVICE_EVENTS_ACTION_PREFIX`] — network protection verdicts — shown
/// beside the `DeviceEvents` rows stored by import.
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
        assert_eq!(t.columns().len(), 45);
    }

    #[test]
    fn column_names_are_unique_and_the_linux_marker_is_exposed() {
        for t in Table::ALL {
            let mut names: Vec<&str> = t.columns().iter().map(|c| c.name).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(names.len(), before, "{t} has a duplicate column");
            for req in t.required_columns().iter().flat_map(|r| r.iter()) {
                assert!(t.column(req).is_some_and(Column::filled_on_linux), "{t}.{req}");
            }
        }
        let never: Vec<&str> = Table::DeviceNetworkEvents.never_filled_on_linux().map(|c| c.name).collect();
        assert!(never.contains(&"InitiatingProcessIntegrityLevel") && never.contains(&"MachineGroup"), "{never:?}");
        assert!(!never.contains(&"RemoteUrl") && !never.contains(&"InitiatingProcessSHA256"));
        assert!(!Table::DeviceEvents.column("RegistryKey").unwrap().filled_on_linux());
        assert!(Table::DeviceInfo.column("OSDistribution").unwrap().filled_on_linux());
    }

    #[test]
    fn device_events_columns_netward_fills_are_exactly_those_with_a_filled_source() {
        for col in Table::DeviceEvents.columns() {
            let src_filled = match device_events_source(col.name) {
                DeviceEventsSource::Column(s) => Table::DeviceNetworkEvents.column(s).unwrap().filled_on_linux(),
                DeviceEventsSource::Empty => false,
            };
            assert_eq!(col.filled_on_linux(), src_filled, "{}", col.name);
        }
    }

    #[test]
    fn action_types_netward_never_produces_are_known() {
        assert!(Table::DeviceNetworkEvents.produces_action_type("ConnectionSuccess"));
        assert!(!Table::DeviceNetworkEvents.produces_action_type("NetworkSignatureInspected"));
        assert!(Table::DeviceEvents.produces_action_type("ExploitGuardNetworkProtectionBlocked"));
        assert!(!Table::DeviceEvents.produces_action_type("SmartScreenUrlWarning"));
        assert!(!Table::DeviceEvents.produces_action_type("FirewallOutboundConnectionBlocked"));
        assert!(Table::DeviceEvents
            .action_types_produced()
            .iter()
            .all(|a| a.as_str().starts_with(DEVICE_EVENTS_ACTION_PREFIX)));
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
