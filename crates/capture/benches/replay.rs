//! Throughput of reader + decoder + flow table over a generated capture of
//! 10,000 flows (the default mix, 256 KiB bulk responses).
//!
//! `cargo bench -p netward-capture --bench replay`

use std::io::Cursor;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use netward_capture::synth::{generate_vec, GenSpec};
use netward_capture::{CaptureReader, Replayer};

fn bench(c: &mut Criterion) {
    let spec = GenSpec { flows: 10_000, bulk_bytes: 256 * 1024, ..GenSpec::default() };
    let (capture, summary) = generate_vec(&spec);
    eprintln!(
        "capture: {} flows, {} packets, {:.1} MB",
        summary.flows.len(),
        summary.packets,
        capture.len() as f64 / 1e6
    );

    let mut g = c.benchmark_group("capture");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(capture.len() as u64));
    g.bench_function("read_only", |b| {
        b.iter(|| {
            let mut r = CaptureReader::new(Cursor::new(&capture[..]));
            let mut n = 0u64;
            while let Some(p) = r.next_packet() {
                n += p.map(|p| p.data.len() as u64).unwrap_or(0);
            }
            n
        })
    });
    g.bench_function("replay_10k_flows_bytes", |b| {
        b.iter(|| {
            let mut r = Replayer::default();
            let mut data = 0u64;
            let mut sink = |e: netward_capture::CaptureEvent<'_>| {
                if let netward_capture::CaptureEvent::Data { bytes, .. } = e {
                    data += bytes.len() as u64;
                }
            };
            r.feed(Cursor::new(&capture[..]), &mut sink).ok();
            r.finish(&mut sink);
            data
        })
    });
    g.throughput(Throughput::Elements(summary.flows.len() as u64));
    g.bench_function("replay_10k_flows_flows", |b| {
        b.iter(|| {
            let mut r = Replayer::default();
            let mut ends = 0u64;
            let mut sink = |e: netward_capture::CaptureEvent<'_>| {
                if matches!(e, netward_capture::CaptureEvent::FlowEnd { .. }) {
                    ends += 1;
                }
            };
            r.feed(Cursor::new(&capture[..]), &mut sink).ok();
            r.finish(&mut sink);
            assert_eq!(ends, 10_000);
            ends
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
