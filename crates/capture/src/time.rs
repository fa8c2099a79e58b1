//! Capture time. Every timestamp in this crate comes from the capture (or, for a
//! live feeder, from whoever hands the packet in); nothing here reads a clock.

use std::time::Duration;

/// Microseconds since the Unix epoch, as recorded by the capture. Named apart
/// from `netward_events::Timestamp` (signed nanoseconds, an event's time): the
/// sensor's caller converts one into the other in one place.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PacketTime(pub u64);

impl PacketTime {
    /// From whole seconds and microseconds.
    pub const fn from_secs_micros(secs: u64, micros: u64) -> Self {
        PacketTime(secs.saturating_mul(1_000_000).saturating_add(micros))
    }
    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }
    /// As a `Duration` since the epoch.
    pub const fn as_duration(self) -> Duration {
        Duration::from_micros(self.0)
    }
    /// `self + d`, saturating.
    pub fn plus(self, d: Duration) -> Self {
        PacketTime(self.0.saturating_add(d.as_micros().min(u64::MAX as u128) as u64))
    }
    /// `self` + `us` microseconds, saturating.
    pub fn plus_us(self, us: u64) -> Self {
        PacketTime(self.0.saturating_add(us))
    }
    /// Time from `earlier` to `self`; zero if `earlier` is later (captures are not
    /// always in time order).
    pub fn since(self, earlier: PacketTime) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}
