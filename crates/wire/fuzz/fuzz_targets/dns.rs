//! Dns: the stream parser, both directions, in arbitrary splits.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netward_wire::{fuzzing::feed_chunks, FlowInspector, Protocol};

fuzz_target!(|data: &[u8]| {
    feed_chunks(&mut FlowInspector::with_protocol(Protocol::Dns), data);
    let _ = netward_wire::dns::parse_message(data);
});
