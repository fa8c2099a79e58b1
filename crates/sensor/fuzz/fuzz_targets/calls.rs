//! Random sequences of sensor calls (flow_start, established, data both
//! ways with seeded payloads, overlap_conflict, flow_end, socket events),
//! with the sensor's invariants checked after every call
//! (`netward_sensor::fuzzing`): a violation panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netward_policy::EnforcementLevel;
use netward_sensor::fuzzing::{block_policy, config, Driver};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, calls)) = data.split_first() else { return };
    let policy = match sel % 3 {
        0 => None,
        1 => Some(block_policy(EnforcementLevel::Audit)),
        _ => Some(block_policy(EnforcementLevel::Block)),
    };
    let mut d = Driver::new(config(), policy);
    d.run(calls);
    d.finish();
});
