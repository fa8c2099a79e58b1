//! The whole inspector: detection, tunnels, nested layers, on TCP and UDP.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netward_wire::{fuzzing::feed_chunks, FlowInspector, FlowKind};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let port = [443, 53, 8080, 1080][usize::from(sel & 3)];
    let kind = if sel & 4 != 0 {
        FlowKind::Udp { dst_port: port }
    } else {
        FlowKind::Tcp { dst_port: port }
    };
    feed_chunks(&mut FlowInspector::new(kind), rest);
});
