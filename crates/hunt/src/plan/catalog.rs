//! What netward knows about Defender's schema beyond what it stores: the
//! tables and columns it does not collect and the functions only Defender
//! has, so queries using them are rejected by name instead of failing with
//! "unknown name".

/// Advanced-hunting / Sentinel tables that netward does not collect.
pub const NOT_COLLECTED_TABLES: &[&str] = &[
    "DeviceFileEvents",
    "DeviceRegistryEvents",
    "DeviceLogonEvents",
    "DeviceImageLoadEvents",
    "DeviceFileCertificateInfo",
    "DeviceNetworkInfo",
    "DeviceTvmSoftwareInventory",
    "DeviceTvmSoftwareVulnerabilities",
    "DeviceTvmSecureConfigurationAssessment",
    "IdentityQueryEvents",
    "IdentityLogonEvents",
    "IdentityDirectoryEvents",
    "IdentityInfo",
    "EmailEvents",
    "EmailAttachmentInfo",
    "EmailUrlInfo",
    "EmailPostDeliveryEvents",
    "UrlClickEvents",
    "CloudAppEvents",
    "AlertInfo",
    "AlertEvidence",
    "BehaviorInfo",
    "BehaviorEntities",
    "AADSignInEventsBeta",
    "AADSpnSignInEventsBeta",
    "SecurityEvent",
    "SecurityAlert",
    "SigninLogs",
    "AuditLogs",
    "OfficeActivity",
    "CommonSecurityLog",
    "Syslog",
    "Heartbeat",
    "ThreatIntelligenceIndicator",
];

/// Defender's built-in functions that netward cannot provide.
pub const DEFENDER_FUNCTIONS: &[&str] =
    &["FileProfile", "DeviceFromIP", "SeenBy", "AssignedIPAddresses", "_GetWatchlist"];

/// Columns Defender's DeviceNetworkEvents/DeviceEvents/DeviceInfo have and
/// netward does not collect.
pub const NOT_COLLECTED_COLUMNS: &[&str] = &[
    "InitiatingProcessVersionInfoCompanyName",
    "InitiatingProcessVersionInfoProductName",
    "InitiatingProcessVersionInfoProductVersion",
    "InitiatingProcessVersionInfoInternalFileName",
    "InitiatingProcessVersionInfoOriginalFileName",
    "InitiatingProcessVersionInfoFileDescription",
    "InitiatingProcessFileSize",
    "InitiatingProcessIntegrityLevel",
    "InitiatingProcessTokenElevation",
    "InitiatingProcessAccountSid",
    "InitiatingProcessAccountUpn",
    "InitiatingProcessAccountObjectId",
    "InitiatingProcessParentCreationTime",
    "InitiatingProcessUniqueId",
    "InitiatingProcessSessionId",
    "InitiatingProcessRemoteSessionDeviceName",
    "InitiatingProcessRemoteSessionIP",
    "IsInitiatingProcessRemoteSession",
    "AppGuardContainerId",
    "SHA1",
    "SHA256",
    "MD5",
    "FileOriginUrl",
    "FileOriginIP",
    "AccountName",
    "AccountDomain",
    "AccountSid",
    "RegistryKey",
    "RegistryValueName",
    "RegistryValueData",
    "IsAzureADJoined",
    "DeviceCategory",
    "DeviceType",
    "Model",
    "Vendor",
    "SensorHealthState",
    "ExposureLevel",
    "AssetValue",
];

/// Whether netward never fills the column `name` on Linux (it exists so
/// Defender's queries run, and reads empty): the event model's marker
/// (`Column::filled_on_linux`), in every table that has the column.
pub fn never_filled(name: &str) -> bool {
    use netward_events::Table;
    let mut seen = false;
    for t in Table::ALL {
        for c in t.columns().iter().filter(|c| c.name == name) {
            if c.filled_on_linux() {
                return false;
            }
            seen = true;
        }
    }
    seen || NOT_COLLECTED_COLUMNS.contains(&name)
}

/// Whether netward produces the `ActionType` value `v` in some table
/// (case-insensitive, as `=~` and `has` compare; part of one counts, for
/// `startswith`/`contains`).
pub fn produced_action_type(v: &str) -> bool {
    let v = v.to_ascii_lowercase();
    netward_events::Table::ALL
        .iter()
        .flat_map(|t| t.action_types_produced().iter())
        .any(|a| a.as_str().to_ascii_lowercase().contains(&v))
}
