//! Typed network events: the `DeviceNetworkEvents` row as Rust code builds it,
//! with its action types, protocols and IP types named as Defender names them.

use crate::{Record, Table, Timestamp, Value};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// `ActionType` values of netward's own rows: those of `DeviceNetworkEvents`
/// ([`ActionType::NETWORK`]) and `ProcessCreated` of `DeviceProcessEvents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ActionType {
    ConnectionSuccess,
    ConnectionFailed,
    ConnectionAttempt,
    ConnectionRequest,
    InboundConnectionAccepted,
    ListeningConnectionCreated,
    HttpConnectionInspected,
    SslConnectionInspected,
    DnsConnectionInspected,
    ExploitGuardNetworkProtectionAudited,
    ExploitGuardNetworkProtectionBlocked,
    ProcessCreated,
}

impl ActionType {
    /// Every action type of netward's `DeviceNetworkEvents` rows.
    pub const NETWORK: [ActionType; 11] = [
        ActionType::ConnectionSuccess,
        ActionType::ConnectionFailed,
        ActionType::ConnectionAttempt,
        ActionType::ConnectionRequest,
        ActionType::InboundConnectionAccepted,
        ActionType::ListeningConnectionCreated,
        ActionType::HttpConnectionInspected,
        ActionType::SslConnectionInspected,
        ActionType::DnsConnectionInspected,
        ActionType::ExploitGuardNetworkProtectionAudited,
        ActionType::ExploitGuardNetworkProtectionBlocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionType::ConnectionSuccess => "ConnectionSuccess",
            ActionType::ConnectionFailed => "ConnectionFailed",
            ActionType::ConnectionAttempt => "ConnectionAttempt",
            ActionType::ConnectionRequest => "ConnectionRequest",
            ActionType::InboundConnectionAccepted => "InboundConnectionAccepted",
            ActionType::ListeningConnectionCreated => "ListeningConnectionCreated",
            ActionType::HttpConnectionInspected => "HttpConnectionInspected",
            ActionType::SslConnectionInspected => "SslConnectionInspected",
            ActionType::DnsConnectionInspected => "DnsConnectionInspected",
            ActionType::ExploitGuardNetworkProtectionAudited => "ExploitGuardNetworkProtectionAudited",
            ActionType::ExploitGuardNetworkProtectionBlocked => "ExploitGuardNetworkProtectionBlocked",
            ActionType::ProcessCreated => "ProcessCreated",
        }
    }
}

/// `Protocol`: `Tcp`, `Udp` or `Icmp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "Tcp",
            Protocol::Udp => "Udp",
            Protocol::Icmp => "Icmp",
        }
    }
}

/// `LocalIPType` / `RemoteIPType` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IpType {
    Public,
    Private,
    Reserved,
    Loopback,
    Teredo,
    FourToSixMapping,
    Broadcast,
}

impl IpType {
    pub fn as_str(self) -> &'static str {
        match self {
            IpType::Public => "Public",
            IpType::Private => "Private",
            IpType::Reserved => "Reserved",
            IpType::Loopback => "Loopback",
            IpType::Teredo => "Teredo",
            IpType::FourToSixMapping => "FourToSixMapping",
            IpType::Broadcast => "Broadcast",
        }
    }
}

/// Classifies an address as Defender's IP type columns do.
pub fn classify_ip(ip: IpAddr) -> IpType {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_loopback() {
                IpType::Loopback
            } else if v4.is_broadcast() {
                IpType::Broadcast
            } else if v4.is_private() || v4.is_link_local() || (o[0] == 100 && (o[1] & 0xc0) == 64) {
                // RFC 1918, link-local and carrier-grade NAT are all private to a site.
                IpType::Private
            } else if v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] >= 240
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] == 0
            {
                IpType::Reserved
            } else {
                IpType::Public
            }
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if v6.is_loopback() {
                IpType::Loopback
            } else if v6.to_ipv4_mapped().is_some() {
                IpType::FourToSixMapping
            } else if s[0] == 0x2001 && s[1] == 0 {
                IpType::Teredo
            } else if (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfe80 {
                IpType::Private
            } else if v6.is_unspecified() || v6.is_multicast() || (s[0] == 0x2001 && s[1] == 0xdb8) {
                IpType::Reserved
            } else {
                IpType::Public
            }
        }
    }
}

/// A `DeviceNetworkEvents` row as code builds it. Unknown strings are `""`,
/// unknown numbers `None`; [`NetworkEvent::to_record`] applies the contract.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NetworkEvent {
    pub timestamp: Timestamp,
    pub device_id: String,
    pub device_name: String,
    pub action_type: Option<ActionType>,
    pub remote_ip: Option<IpAddr>,
    pub remote_port: Option<u16>,
    pub remote_url: String,
    pub local_ip: Option<IpAddr>,
    pub local_port: Option<u16>,
    pub protocol: Option<Protocol>,
    pub process: ProcessInfo,
    pub report_id: i64,
    pub additional_fields: serde_json::Map<String, serde_json::Value>,
}

/// The initiating process, when the datapath knows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProcessInfo {
    pub file_name: String,
    pub folder_path: String,
    pub command_line: String,
    pub sha1: String,
    pub sha256: String,
    pub md5: String,
    pub id: Option<i64>,
    pub creation_time: Option<Timestamp>,
    pub parent_id: Option<i64>,
    pub parent_file_name: String,
    pub account_domain: String,
    pub account_name: String,
}

impl NetworkEvent {
    pub fn to_record(&self) -> Record {
        let mut r = Record::new(Table::DeviceNetworkEvents);
        let s = |v: &str| Value::String(v.to_string());
        let ip = |v: Option<IpAddr>| Value::String(v.map(|a| a.to_string()).unwrap_or_default());
        let ip_type =
            |v: Option<IpAddr>| Value::String(v.map(|a| classify_ip(a).as_str().to_string()).unwrap_or_default());
        let port = |p: Option<u16>| p.map_or(Value::Null, |p| Value::Int(i32::from(p)));
        let long = |l: Option<i64>| l.map_or(Value::Null, Value::Long);
        let p = &self.process;
        // Columns not named here (Windows-only ones) stay empty.
        let cells: [(&str, Value); 26] = [
            ("Timestamp", Value::DateTime(self.timestamp)),
            ("DeviceId", s(&self.device_id)),
            ("DeviceName", s(&self.device_name)),
            ("ActionType", s(self.action_type.map_or("", ActionType::as_str))),
            ("RemoteIP", ip(self.remote_ip)),
            ("RemotePort", port(self.remote_port)),
            ("RemoteUrl", s(&self.remote_url)),
            ("LocalIP", ip(self.local_ip)),
            ("LocalPort", port(self.local_port)),
            ("Protocol", s(self.protocol.map_or("", Protocol::as_str))),
            ("LocalIPType", ip_type(self.local_ip)),
            ("RemoteIPType", ip_type(self.remote_ip)),
            ("InitiatingProcessSHA1", s(&p.sha1)),
            ("InitiatingProcessSHA256", s(&p.sha256)),
            ("InitiatingProcessMD5", s(&p.md5)),
            ("InitiatingProcessFileName", s(&p.file_name)),
            ("InitiatingProcessFolderPath", s(&p.folder_path)),
            ("InitiatingProcessId", long(p.id)),
            ("InitiatingProcessCommandLine", s(&p.command_line)),
            ("InitiatingProcessCreationTime", p.creation_time.map_or(Value::Null, Value::DateTime)),
            ("InitiatingProcessParentId", long(p.parent_id)),
            ("InitiatingProcessParentFileName", s(&p.parent_file_name)),
            ("InitiatingProcessAccountDomain", s(&p.account_domain)),
            ("InitiatingProcessAccountName", s(&p.account_name)),
            ("ReportId", Value::Long(self.report_id)),
            ("AdditionalFields", Value::Dynamic(serde_json::Value::Object(self.additional_fields.clone()))),
        ];
        for (name, v) in cells {
            // Every name above is a DeviceNetworkEvents column of the matching
            // type (checked by a test), so this cannot fail.
            let _ = r.set(name, v);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_types_follow_defender() {
        let t = |s: &str| classify_ip(s.parse().unwrap());
        assert_eq!(t("127.0.0.1"), IpType::Loopback);
        assert_eq!(t("10.1.2.3"), IpType::Private);
        assert_eq!(t("192.168.0.1"), IpType::Private);
        assert_eq!(t("255.255.255.255"), IpType::Broadcast);
        assert_eq!(t("198.18.1.2"), IpType::Reserved);
        assert_eq!(t("8.8.8.8"), IpType::Public);
        assert_eq!(t("::1"), IpType::Loopback);
        assert_eq!(t("::ffff:1.2.3.4"), IpType::FourToSixMapping);
        assert_eq!(t("2001:0:4136:e378::1"), IpType::Teredo);
        assert_eq!(t("fe80::1"), IpType::Private);
        assert_eq!(t("2606:4700::6811:d209"), IpType::Public);
    }

    #[test]
    fn to_record_fills_every_column_with_the_right_type() {
        let ev = NetworkEvent {
            timestamp: Timestamp::from_unix_millis(1_000),
            action_type: Some(ActionType::ConnectionSuccess),
            remote_ip: Some("198.18.1.1".parse().unwrap()),
            remote_port: Some(3128),
            local_ip: Some("198.18.1.2".parse().unwrap()),
            local_port: Some(50000),
            protocol: Some(Protocol::Tcp),
            remote_url: "good.test".into(),
            report_id: 7,
            process: ProcessInfo { id: Some(42), ..Default::default() },
            ..Default::default()
        };
        let r = ev.to_record();
        for (col, v) in Table::DeviceNetworkEvents.columns().iter().zip(r.values()) {
            assert!(v.fits(col.ty), "{} = {v:?}", col.name);
        }
        assert_eq!(r.get("RemoteIPType").and_then(Value::as_str), Some("Reserved"));
        assert_eq!(r.get("Protocol").and_then(Value::as_str), Some("Tcp"));
        assert_eq!(r.get("InitiatingProcessId"), Some(&Value::Long(42)));
        assert_eq!(r.get("InitiatingProcessParentId"), Some(&Value::Null));
        assert_eq!(r.get("InitiatingProcessFileName").and_then(Value::as_str), Some(""));
    }
}
