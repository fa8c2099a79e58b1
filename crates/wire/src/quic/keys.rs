//! QUIC Initial packet protection: the one implementation netward has, in
//! `netward-quic-keys` (shared with the capture generator, which writes the
//! Initials this module's users decrypt).

pub use netward_quic_keys::{is_supported, packet_type, InitialKeys, PacketType, Side, VERSION_1, VERSION_2};
