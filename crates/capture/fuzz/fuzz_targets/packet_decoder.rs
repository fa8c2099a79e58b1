//! Arbitrary frames of each link type through the decoder (fragments included):
//! the first byte picks the link type, the rest is split into frames at 0xFF 0x00.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netward_capture::{LinkType, PacketDecoder, PacketTime};

const LINKS: [u32; 8] = [0, 1, 12, 14, 101, 108, 113, 276];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let link = LinkType(LINKS[usize::from(first) % LINKS.len()]);
    let mut dec = PacketDecoder::default();
    for (i, frame) in rest.split(|b| *b == 0xff).enumerate() {
        if let Err(e) = dec.decode(PacketTime(i as u64 * 1_000_000), link, frame) {
            assert!(e.offset <= frame.len() + 64);
        }
    }
});
