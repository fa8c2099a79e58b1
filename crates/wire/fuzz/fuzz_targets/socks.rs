//! Socks5: the stream parser, both directions, in arbitrary splits.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netward_wire::{fuzzing::feed_chunks, FlowInspector, Protocol};

fuzz_target!(|data: &[u8]| {
    feed_chunks(&mut FlowInspector::with_protocol(Protocol::Socks5), data);
    feed_chunks(&mut FlowInspector::with_protocol(Protocol::Socks4), data);
});
