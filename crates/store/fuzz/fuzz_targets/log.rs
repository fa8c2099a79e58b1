//! The append log decoder, as recovery runs it on whatever a crash left.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Raw bytes of a log file.
    let _ = netward_store::fuzz_decode_log(data);
    // The same bytes as the payload of a frame with a valid checksum, so the
    // table tag and the Arrow IPC decoder behind it are reached too.
    if !data.is_empty() {
        let _ = netward_store::fuzz_decode_log(&netward_store::fuzz_frame(data));
    }
});
