//! Arbitrary bytes as a capture file, through the reader and the whole replay.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netward_capture::{CaptureReader, Replayer};

fuzz_target!(|data: &[u8]| {
    let mut reader = CaptureReader::new(std::io::Cursor::new(data));
    while let Some(item) = reader.next_packet() {
        if let Err(e) = item {
            assert!(e.offset as usize <= data.len());
        }
    }
    let mut r = Replayer::default();
    let _ = r.feed(std::io::Cursor::new(data), &mut |_| {});
    r.finish(&mut |_| {});
});
