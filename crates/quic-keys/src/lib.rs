#![forbid(unsafe_code)]
//! The two pieces `netward-wire` (the inspector) and `netward-capture` (the
//! reader and the synthetic capture generator) share without depending on
//! each other:
//!
//! * [`InitialKeys`]: QUIC Initial packet protection (RFC 9001 section 5,
//!   RFC 9369 for v2), derived from the client's first Destination
//!   Connection ID: header protection with AES-128-ECB, payload protection
//!   with AES-128-GCM. The inspector decrypts client Initials with it; the
//!   generator protects the Initials it writes with it.
//! * [`ranges`]: the byte-range bookkeeping of stream reassembly (QUIC
//!   CRYPTO frames in the inspector, TCP segments in the capture reader):
//!   which parts of a new piece are already held, and a merged range set
//!   whose cost is logarithmic per operation, never a sort per piece.
//!
//! ```
//! use netward_quic_keys::{InitialKeys, Side, VERSION_1};
//! let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
//! let keys = InitialKeys::new(VERSION_1, &dcid, Side::Client).unwrap();
//! assert_eq!(keys.iv()[..4], [0xfa, 0x04, 0x4b, 0x2f]);
//! ```

mod initial;
pub mod ranges;

pub use initial::{is_supported, packet_type, InitialKeys, PacketType, Side, VERSION_1, VERSION_2};
