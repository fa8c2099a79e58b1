#![forbid(unsafe_code)]
//! The event model: the one definition of netward's tables and how their rows
//! are written and read.
//!
//! It owns the tables `DeviceNetworkEvents`, `DeviceEvents` and `DeviceInfo`
//! with Defender's column names and KQL types ([`Table`], [`Column`]), the
//! row type every other crate passes around ([`Record`]), a typed builder for
//! network events ([`NetworkEvent`]), and the serialisation contract:
//!
//! * JSON: one object per row with exactly the table's keys, in column order;
//!   `Timestamp` (and every datetime) as RFC 3339 UTC with milliseconds and
//!   `Z`; string columns never null (`""` when unknown); `AdditionalFields`
//!   a JSON object.
//! * CSV: the same columns in the same order, dynamic values as JSON text.
//! * Arrow: [`Table::arrow_schema`], used by the store and the hunting engine.
//!   Dynamic columns are Arrow `Utf8` holding JSON text (DataFusion has no
//!   variant type); the field metadata `kql_type = dynamic` says so.
//!
//! The tables have Defender's full column sets, so that pasted queries and
//! imported exports keep every column; [`Column::filled_on_linux`] (and
//! [`Table::never_filled_on_linux`]) say which of them netward's own rows
//! always leave empty, and [`Table::produces_action_type`] which
//! `ActionType`s its own rows can have.
//!
//! Network protection verdicts (`ExploitGuardNetworkProtection*`) are rows of
//! `DeviceNetworkEvents`, stored once; `DeviceEvents` shows them beside the
//! `DeviceEvents` rows imported from Defender ([`device_events_source`] says
//! where each of its columns comes from).
//!
//! No I/O, no clocks: callers pass times in.

mod csvio;
mod network;
mod record;
mod table;
mod time;
mod value;

pub use csvio::{read_csv, read_csv_lines, write_csv_header, write_csv_row, CsvRowError};
pub use network::{classify_ip, ActionType, IpType, NetworkEvent, ProcessInfo, Protocol};
pub use record::{Record, RecordError};
pub use table::{
    device_events_source, Column, ColumnType, DeviceEventsSource, LinuxFill, Table, DEVICE_EVENTS_ACTION_PREFIX,
};
pub use time::{Timestamp, TimestampError};
pub use value::Value;
