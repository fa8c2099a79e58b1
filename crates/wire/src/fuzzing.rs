//! Helpers shared by the cargo-fuzz targets (crates/wire/fuzz): turn one fuzz input
//! into a sequence of feeds, so every target explores arbitrary splits and directions.

use crate::{Direction, FlowInspector, Observation};

/// Feeds `data` as chunks: each chunk starts with a byte whose top bit is the
/// direction (set: to client) and whose low 7 bits are the chunk length. Returns
/// everything observed.
pub fn feed_chunks(insp: &mut FlowInspector, mut data: &[u8]) -> Vec<Observation> {
    let mut out = Vec::new();
    while let Some((&ctl, rest)) = data.split_first() {
        let dir = if ctl & 0x80 != 0 { Direction::ToClient } else { Direction::ToServer };
        let n = usize::from(ctl & 0x7f).min(rest.len());
        insp.feed(dir, &rest[..n]);
        data = &rest[n..];
        out.extend(std::iter::from_fn(|| insp.poll()));
    }
    out
}
