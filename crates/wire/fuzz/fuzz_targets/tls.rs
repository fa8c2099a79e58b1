//! TLS: the ClientHello parser on raw bodies, and record reassembly via the inspector.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netward_wire::{fuzzing::feed_chunks, tls, ClientHello, FlowInspector, Protocol};

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = ClientHello::parse(data) {
        let _ = (
            h.sni(),
            h.alpn().count(),
            tls::ja3(&h),
            tls::ja4(&h, tls::Transport::Tcp),
        );
    }
    let _ = tls::client_hello_from_records(data);
    feed_chunks(&mut FlowInspector::with_protocol(Protocol::Tls), data);
});
