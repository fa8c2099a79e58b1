//! Property tests: any order and duplication of a stream's segments
//! reassembles to the stream; arbitrary bytes never panic anything.

mod common;

use std::io::Cursor;

use common::*;
use netward_capture::synth::packet::flags::{ACK, SYN};
use netward_capture::synth::pcap::PcapWriter;
use netward_capture::{CaptureReader, FlowTable, LinkType, PacketDecoder, PacketTime, Replayer};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn shuffled_and_duplicated_segments_reassemble(
        data in proptest::collection::vec(any::<u8>(), 1..3000),
        // Segments of at least 8 bytes: at most 375 of them, under the 512
        // out-of-order segments a direction buffers by default. Past that
        // cap the stream skips ahead with a Gap by design (bounded memory),
        // which `reassembly.rs` tests on its own.
        cuts in proptest::collection::vec(8usize..200, 1..40),
        order in proptest::collection::vec(any::<u32>(), 1..120),
        isn in any::<u32>(),
    ) {
        // Segment the stream at the given sizes.
        let mut segs = Vec::new();
        let mut off = 0;
        let mut i = 0;
        while off < data.len() {
            let n = cuts[i % cuts.len()].min(data.len() - off);
            segs.push((off, n));
            off += n;
            i += 1;
        }
        // Send every segment at least once, in a random order, with repeats.
        let mut sends: Vec<usize> = (0..segs.len()).collect();
        for o in &order {
            sends.push(*o as usize % segs.len());
        }
        for (k, o) in order.iter().enumerate() {
            let a = k % sends.len();
            let b = *o as usize % sends.len();
            sends.swap(a, b);
        }
        let mut dec = PacketDecoder::default();
        let mut table = FlowTable::new(Default::default());
        let mut c = Collector::default();
        let t = ts(1);
        feed(&mut dec, &mut table, t, &tcp_ip("10.0.0.1", 999, "10.0.0.2", 80, isn, 0, SYN, b""), &mut c);
        for s in sends {
            let (o, n) = segs[s];
            let seq = isn.wrapping_add(1).wrapping_add(o as u32);
            feed(&mut dec, &mut table, t, &tcp_ip("10.0.0.1", 999, "10.0.0.2", 80, seq, 1, ACK, &data[o..o + n]), &mut c);
        }
        table.finish(&mut |e| c.push(e));
        let f = c.only();
        prop_assert_eq!(&f.to_server, &data);
        prop_assert!(f.gaps.is_empty());
        prop_assert!(f.conflicts.is_empty());
        prop_assert_eq!(table.buffered_bytes(), 0);
    }

    #[test]
    fn arbitrary_bytes_as_capture_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut r = Replayer::default();
        let _ = r.feed(Cursor::new(bytes), &mut |_| {});
        r.finish(&mut |_| {});
    }

    #[test]
    fn arbitrary_frames_never_panic(
        frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..30),
        link in prop_oneof![Just(0u32), Just(1), Just(101), Just(113), Just(276), Just(12), Just(108)],
    ) {
        // Valid file, arbitrary frames: exercises decoder and flow table.
        let mut w = PcapWriter::new(Vec::new(), LinkType(link)).unwrap();
        for (i, f) in frames.iter().enumerate() {
            w.packet(PacketTime(i as u64 * 1000), f).unwrap();
        }
        let mut r = Replayer::default();
        let mut n = 0;
        prop_assert!(r.feed(Cursor::new(w.into_inner()), &mut |_| n += 1).is_ok());
        r.finish(&mut |_| {});
        prop_assert_eq!(r.stats().packets, frames.len() as u64);
    }

    #[test]
    fn corrupted_real_capture_keeps_a_prefix(pos in 0usize..8034, val in any::<u8>(), cut in 0usize..8034) {
        let mut bytes = std::fs::read(testdata("pcaps/sv-bug-2430.pcap")).unwrap();
        if pos < bytes.len() { bytes[pos] = val; }
        bytes.truncate(cut.max(1));
        let mut reader = CaptureReader::new(Cursor::new(bytes.clone()));
        let mut last = 0;
        while let Some(item) = reader.next_packet() {
            match item {
                Ok(p) => { prop_assert!(p.offset >= last); last = p.offset; }
                Err(e) => prop_assert!(e.offset as usize <= bytes.len()),
            }
        }
    }
}
