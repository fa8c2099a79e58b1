//! QUIC: datagrams of a UDP flow (first byte steered to a v1 long-header Initial).
#![no_main]
use libfuzzer_sys::fuzz_target;
use netward_wire::{fuzzing::feed_chunks, FlowInspector, FlowKind};

fuzz_target!(|data: &[u8]| {
    let mut insp = FlowInspector::new(FlowKind::Udp { dst_port: 443 });
    let mut first = data.to_vec();
    if first.len() > 8 {
        first[1] = 0xc0 | (first[1] & 0x0f);
        first[2..6].copy_from_slice(&1u32.to_be_bytes());
    }
    feed_chunks(&mut insp, &first);
});
