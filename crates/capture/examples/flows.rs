//! Print the flows of capture files: `cargo run --example flows -- FILE...`.

use std::collections::HashMap;

use netward_capture::{CaptureEvent, Direction, Replayer};

fn main() {
    let mut replayer = Replayer::default();
    let mut first: HashMap<u64, (Vec<u8>, Vec<u8>)> = HashMap::new();
    let mut sink = |ev: CaptureEvent<'_>| match ev {
        CaptureEvent::FlowStart { flow_id, key, ts, mid_stream } => {
            println!("{flow_id} start {:?} {} -> {} ts={} mid={mid_stream}", key.proto, key.client, key.server, ts.0)
        }
        CaptureEvent::Data { flow_id, dir, bytes, .. } => {
            let e = first.entry(flow_id).or_default();
            let b = if dir == Direction::ToServer { &mut e.0 } else { &mut e.1 };
            if b.len() < 48 {
                b.extend_from_slice(&bytes[..bytes.len().min(48 - b.len())]);
            }
        }
        CaptureEvent::Datagram { flow_id, dir, payload, .. } => {
            println!("{flow_id} datagram {dir:?} {} bytes", payload.len())
        }
        CaptureEvent::FlowEnd { flow_id, outcome, reason, stats, .. } => {
            let e = first.remove(&flow_id).unwrap_or_default();
            println!(
                "{flow_id} end {outcome:?} {reason:?} c->s {}B/{}p s->c {}B/{}p gaps {}/{} conflict={}\n   c: {:?}\n   s: {:?}",
                stats.bytes_to_server, stats.packets_to_server, stats.bytes_to_client, stats.packets_to_client,
                stats.gap_bytes_to_server, stats.gap_bytes_to_client, stats.overlap_conflict,
                String::from_utf8_lossy(&e.0), String::from_utf8_lossy(&e.1)
            )
        }
        other => println!("{other:?}"),
    };
    for path in std::env::args().skip(1) {
        println!("== {path}");
        let file = std::fs::File::open(&path).expect("open");
        if let Err(e) = replayer.feed(std::io::BufReader::new(file), &mut sink) {
            println!("error: {e}");
        }
    }
    replayer.finish(&mut sink);
    println!("{:?}\n{:?}\n{:?}", replayer.stats(), replayer.table().stats(), replayer.decoder().defrag_stats());
}
