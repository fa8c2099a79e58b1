//! Write a synthetic capture: `cargo run --example gen -- OUT.pcap [FLOWS] [BULK_BYTES]`.

use netward_capture::synth::{generate, FlowKind, GenSpec};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "synthetic.pcap".into());
    let mut spec = GenSpec::default();
    if let Some(n) = args.next().and_then(|s| s.parse().ok()) {
        spec.flows = n;
    }
    if let Some(n) = args.next().and_then(|s| s.parse().ok()) {
        spec.bulk_bytes = n;
    }
    let file = std::fs::File::create(&out)?;
    let s = generate(file, &spec)?;
    println!("{out}: {} flows, {} packets, {} bytes", s.flows.len(), s.packets, s.file_bytes);
    for k in FlowKind::ALL {
        println!("  {k:?}: {}", s.count(k));
    }
    Ok(())
}
