//! Property tests over random sequences of flow calls (the same decoder as
//! the fuzz target, `netward_sensor::fuzzing`): no panic, bounded state
//! (flows, buffered bytes, keys), work linear in the input, a decision
//! exactly for live flows, and every flow_end (or restart) of a followed
//! flow leaves exactly one connection event for it.

mod common;

use netward_policy::{Action, EnforcementLevel};
use netward_sensor::fuzzing::{config, Driver};
use proptest::prelude::*;

/// Call bytes: an op byte, then its argument (seeds are picked often).
fn call() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0u8..16, any::<u8>()).prop_map(|(id, a)| vec![id << 4, a]),
        (0u8..16, any::<u8>()).prop_map(|(id, a)| vec![(id << 4) | 2, a]),
        (0u8..16, 3u8..7, 0x80u8..0xff).prop_map(|(id, op, seed)| vec![(id << 4) | op, seed]),
        (0u8..16, 3u8..7, proptest::collection::vec(any::<u8>(), 0..120)).prop_map(|(id, op, b)| {
            let mut v = vec![(id << 4) | op, b.len() as u8];
            v.extend(b);
            v
        }),
        (0u8..16, 7u8..11, any::<u8>()).prop_map(|(id, op, a)| vec![(id << 4) | op, a]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_call_sequences_keep_the_contract(calls in proptest::collection::vec(call(), 1..120), with_policy in any::<bool>()) {
        let policy = with_policy.then(|| common::policy(&[("blocked.example", Action::Block)], EnforcementLevel::Block));
        let mut d = Driver::new(config(), policy);
        d.run(&calls.concat());
        d.finish();
    }

    #[test]
    fn arbitrary_bytes_as_calls(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut d = Driver::new(config(), Some(common::policy(&[], EnforcementLevel::Audit)));
        d.run(&data);
        d.finish();
    }
}
