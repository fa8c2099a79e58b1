//! The wire contract between devices, hunters and the server: paths, the
//! JSON bodies, and the Arrow IPC conventions. Shared by `serve` and
//! `client` so the two cannot drift apart.
//!
//! * `POST /v1/events/<Table>`: body an Arrow IPC stream of the table's
//!   schema ([`netward_events::Table::arrow_schema`]); `Authorization:
//!   Bearer <device token>`; reply [`UploadReply`]. Rows whose (DeviceId,
//!   ReportId) the server already holds are acknowledged and not stored
//!   again, so a retry is always safe.
//! * `POST /v1/hunt`: body [`HuntRequest`]; hunt token; reply an Arrow IPC
//!   stream of the result, the notes and render hint in the schema
//!   metadata ([`NOTES_KEY`], [`RENDER_KEY`]).
//! * `GET /v1/devices`: hunt token; reply [`DeviceContact`]s.
//! * `GET /v1/hello`: any token; reply [`Hello`] (a sync checks its token
//!   first, so a bad one is told even when there is nothing to send).
//! * `GET /v1/policy?since=V`: device token; reply the device's
//!   [`crate::policy::DevicePolicy`] as soon as the fleet policy's version
//!   is not `V`, else, after [`POLICY_WAIT_SECS`], status 204 (ask again).
//!   A long poll: each waiting device holds one HTTP/2 stream of its
//!   connection, and a change reaches it when the server notices the file
//!   changed (within [`POLICY_LOOK_MS`]).
//! * Any refusal: a status code and [`ApiError`].

use serde::{Deserialize, Serialize};

pub const EVENTS_PATH: &str = "/v1/events";
pub const HUNT_PATH: &str = "/v1/hunt";
pub const DEVICES_PATH: &str = "/v1/devices";
pub const HELLO_PATH: &str = "/v1/hello";
pub const POLICY_PATH: &str = "/v1/policy";
/// How long a policy request waits for a change before answering 204.
pub const POLICY_WAIT_SECS: u64 = 25;
/// How often the server looks at the policy file for a change.
pub const POLICY_LOOK_MS: u64 = 200;
/// Schema metadata of a hunt reply: the notes, a JSON array of strings.
pub const NOTES_KEY: &str = "netward.notes";
/// Schema metadata of a hunt reply: the render hint's kind.
pub const RENDER_KEY: &str = "netward.render";
pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadReply {
    /// Rows in the request.
    pub received: u64,
    /// Rows stored now.
    pub stored: u64,
    /// Rows the server already held (a retry or a repeated sync).
    pub duplicates: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HuntRequest {
    pub query: String,
    /// `now()` for the query, Unix nanoseconds; default: the server's clock.
    #[serde(default)]
    pub now: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceContact {
    pub device_id: String,
    /// The last accepted upload, RFC 3339; none since the server started.
    pub last_contact: Option<String>,
    /// Rows the server holds for the device, all tables.
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The token's id.
    pub token: String,
    /// The device a device token is bound to; none for a hunt token.
    pub device_id: Option<String>,
}
