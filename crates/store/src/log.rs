//! The append log: one frame per acknowledged append.
//!
//! ```text
//! frame   := len:u32 LE | crc:u32 LE | payload            (len = payload bytes)
//! payload := table:u8 | 0u8 x 7 | Arrow IPC stream without its schema
//!            message (one batch, end marker; the schema is the table's)
//! crc     := CRC-32C of payload
//! ```
//!
//! A frame is valid when its length is within bounds and non-zero (zeroed
//! bytes never read as a frame) and its checksum matches. Reading stops at
//! the first invalid frame: everything before it is the log, everything from
//! it on is a torn tail (an append that was never acknowledged, since each
//! acknowledgement waits for the frame's fsync).

use crate::{Result, StoreError};
use arrow::buffer::Buffer;
use arrow::ipc::reader::StreamDecoder;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use netward_events::Table;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::OnceLock;

/// The largest payload a frame may carry; larger appends must be split by
/// the caller (an append is one frame, so that it is atomic).
pub const MAX_FRAME_PAYLOAD: usize = 512 << 20;
pub(crate) const HEADER: usize = 8;
/// The table tag, padded so that the IPC data (whose messages are multiples
/// of 8 bytes) stays 8-byte aligned in the file and decodes without copies.
pub(crate) const PAYLOAD_PREFIX: usize = 8;

pub(crate) fn table_tag(t: Table) -> u8 {
    match t {
        Table::DeviceNetworkEvents => 1,
        Table::DeviceEvents => 2,
        Table::DeviceInfo => 3,
        Table::DeviceProcessEvents => 4,
    }
}

fn tag_table(tag: u8) -> Option<Table> {
    match tag {
        1 => Some(Table::DeviceNetworkEvents),
        2 => Some(Table::DeviceEvents),
        3 => Some(Table::DeviceInfo),
        4 => Some(Table::DeviceProcessEvents),
        _ => None,
    }
}

/// The IPC schema message of a table: written once per table, not per frame
/// (it is larger than a small append), and put back in front of each
/// payload when reading.
fn schema_message(table: Table) -> Result<&'static [u8]> {
    static CACHE: OnceLock<Vec<(Table, Vec<u8>)>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| {
        Table::ALL
            .into_iter()
            .filter_map(|t| {
                let mut out = Vec::new();
                StreamWriter::try_new(&mut out, &t.arrow_schema()).ok()?;
                Some((t, out))
            })
            .collect()
    });
    cache
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, b)| b.as_slice())
        .ok_or_else(|| StoreError::NotStored(table.name()))
}

/// Encodes one append as a frame. The batch must have exactly the table's
/// Arrow schema (field names, types, nullability and metadata).
pub(crate) fn encode_frame(table: Table, batch: &RecordBatch) -> Result<Vec<u8>> {
    let schema_msg = schema_message(table)?;
    let mut out = Vec::with_capacity(HEADER + 1 + batch.get_array_memory_size());
    out.extend_from_slice(&[0u8; HEADER]);
    out.push(table_tag(table));
    out.extend_from_slice(&[0u8; PAYLOAD_PREFIX - 1]);
    let start = out.len();
    {
        let mut w = StreamWriter::try_new(&mut out, batch.schema_ref())?;
        let schema_end = w.get_ref().len();
        if w.get_ref().get(start..schema_end) != Some(schema_msg) {
            return Err(StoreError::Row {
                row: 0,
                column: "",
                reason: format!("batch schema differs from the {table} schema"),
            });
        }
        w.write(batch)?;
        w.finish()?;
    }
    out.drain(start..start + schema_msg.len());
    let payload_len = out.len() - HEADER;
    if payload_len > MAX_FRAME_PAYLOAD {
        return Err(StoreError::BatchTooLarge { bytes: payload_len, max: MAX_FRAME_PAYLOAD });
    }
    let crc = crc32c::crc32c(&out[HEADER..]);
    // payload_len <= MAX_FRAME_PAYLOAD < u32::MAX.
    out[0..4].copy_from_slice(&(payload_len as u32).to_le_bytes());
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// A decoded log: its appends in order, the length of the valid prefix, and
/// why reading stopped early, if it did.
#[derive(Debug, Default)]
pub(crate) struct LogContents {
    pub appends: Vec<(Table, RecordBatch)>,
    pub valid_len: u64,
    pub torn: Option<String>,
}

/// Reads every valid frame of a log file's bytes. Memory stays within a
/// small multiple of the input: lengths are checked against the bytes
/// present before anything is allocated for them.
pub(crate) fn decode_log(path: &Path, bytes: &[u8]) -> Result<LogContents> {
    let mut out = LogContents::default();
    // One aligned copy of the file; the batches are slices of it.
    let all = Buffer::from(bytes);
    let mut pos = 0usize;
    while pos < bytes.len() {
        let Some(header) = bytes.get(pos..pos + HEADER) else {
            out.torn = Some(format!("{} header bytes at offset {pos}", bytes.len() - pos));
            break;
        };
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if !(PAYLOAD_PREFIX..=MAX_FRAME_PAYLOAD).contains(&len) {
            out.torn = Some(format!("bad frame length {len} at offset {pos}"));
            break;
        }
        let Some(payload) = bytes.get(pos + HEADER..pos + HEADER + len) else {
            out.torn = Some(format!("frame at offset {pos} needs {len} bytes, {} left", bytes.len() - pos - HEADER));
            break;
        };
        if crc32c::crc32c(payload) != crc {
            out.torn = Some(format!("checksum mismatch in frame at offset {pos}"));
            break;
        }
        // A frame with a good checksum was written whole by this store: a
        // payload that does not decode is corruption, not a torn write.
        let corrupt = |reason: String| StoreError::Corrupt { path: path.to_path_buf(), offset: pos as u64, reason };
        let table = tag_table(payload[0]).ok_or_else(|| corrupt(format!("unknown table tag {}", payload[0])))?;
        let ipc = all.slice_with_length(pos + HEADER + PAYLOAD_PREFIX, len - PAYLOAD_PREFIX);
        for batch in decode_ipc(table, ipc).map_err(corrupt)? {
            out.appends.push((table, batch));
        }
        pos += HEADER + len;
        out.valid_len = pos as u64;
    }
    Ok(out)
}

/// Decodes the IPC batches of one frame (after the table's schema message).
/// The streaming decoder only ever buffers bytes it has been given, so a
/// forged length cannot make it allocate; a malformed message that makes
/// Arrow panic is reported as corruption.
fn decode_ipc(table: Table, mut body: Buffer) -> std::result::Result<Vec<RecordBatch>, String> {
    let schema_msg = schema_message(table).map_err(|e| e.to_string())?;
    let decoded = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut decoder = StreamDecoder::new();
        let mut schema = Buffer::from(schema_msg);
        let mut batches = Vec::new();
        if let Some(b) = decoder.decode(&mut schema)? {
            batches.push(b);
        }
        while !body.is_empty() {
            if let Some(b) = decoder.decode(&mut body)? {
                batches.push(b);
            }
        }
        decoder.finish()?;
        Ok::<_, arrow::error::ArrowError>(batches)
    }));
    match decoded {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("the Arrow IPC decoder panicked on this frame".to_string()),
    }
}

pub(crate) fn log_file_name(generation: u64) -> String {
    format!("wal-{generation:020}.log")
}

pub(crate) fn parse_log_file_name(name: &str) -> Option<u64> {
    name.strip_prefix("wal-")?.strip_suffix(".log")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records_to_batch;
    use netward_events::{Record, Value};

    fn batch(n: usize) -> RecordBatch {
        let rows: Vec<Record> = (0..n)
            .map(|i| {
                let mut r = Record::new(Table::DeviceNetworkEvents);
                r.set("RemotePort", Value::Int(i as i32)).unwrap();
                r
            })
            .collect();
        records_to_batch(Table::DeviceNetworkEvents, &rows).unwrap()
    }

    #[test]
    fn frames_round_trip_and_every_cut_is_detected() {
        let mut log = encode_frame(Table::DeviceNetworkEvents, &batch(3)).unwrap();
        let first = log.len();
        log.extend(encode_frame(Table::DeviceNetworkEvents, &batch(5)).unwrap());
        let p = Path::new("wal");
        let all = decode_log(p, &log).unwrap();
        assert_eq!(all.appends.len(), 2);
        assert_eq!(all.appends[1].1.num_rows(), 5);
        assert_eq!(all.valid_len, log.len() as u64);
        assert!(all.torn.is_none());
        for cut in 0..log.len() {
            let c = decode_log(p, &log[..cut]).unwrap();
            let expect = if cut >= first { 1 } else { 0 };
            assert_eq!(c.appends.len(), expect, "cut at {cut}");
            assert_eq!(c.valid_len, if expect == 1 { first as u64 } else { 0 });
            assert_eq!(c.torn.is_some(), cut != 0 && cut != first);
        }
    }

    #[test]
    fn flipped_bits_and_zeroes_are_not_frames() {
        let log = encode_frame(Table::DeviceInfo, &records_to_batch(Table::DeviceInfo, &[]).unwrap()).unwrap();
        for i in 0..log.len() {
            let mut bad = log.clone();
            bad[i] ^= 0x01;
            let c = decode_log(Path::new("wal"), &bad).unwrap();
            assert!(c.appends.is_empty() && c.torn.is_some(), "flip at {i}");
        }
        let c = decode_log(Path::new("wal"), &[0u8; 64]).unwrap();
        assert!(c.appends.is_empty() && c.valid_len == 0);
    }

    #[test]
    fn forged_lengths_inside_a_valid_frame_are_corruption_not_allocation() {
        // Found by fuzzing: an IPC message length of ~2 GB behind a correct
        // checksum made the stream reader allocate it up front.
        let payload = [3u8, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x06, 0x01, 0x7f];
        let frame = crate::fuzz_frame(&payload);
        let e = decode_log(Path::new("wal"), &frame).unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { offset: 0, .. }), "{e}");
    }

    #[test]
    fn log_names_parse_back() {
        assert_eq!(parse_log_file_name(&log_file_name(42)), Some(42));
        assert_eq!(parse_log_file_name("wal-x.log"), None);
        assert_eq!(parse_log_file_name("MANIFEST"), None);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn log_of(sizes: &[usize]) -> (Vec<u8>, Vec<u64>) {
            let mut log = Vec::new();
            let mut ends = Vec::new();
            for &n in sizes {
                log.extend(encode_frame(Table::DeviceNetworkEvents, &batch(n)).unwrap());
                ends.push(log.len() as u64);
            }
            (log, ends)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// Whatever happens to the bytes after some point (cut, garbage,
            /// a flipped byte), decoding never fails or panics, and yields
            /// exactly the frames that end before the damage.
            #[test]
            fn damage_only_loses_frames_from_the_damage_on(
                sizes in proptest::collection::vec(0usize..20, 1..6),
                at in any::<prop::sample::Index>(),
                garbage in proptest::collection::vec(any::<u8>(), 0..64),
                flip in any::<bool>(),
            ) {
                let (log, ends) = log_of(&sizes);
                let pos = at.index(log.len());
                let mut bad = log[..pos].to_vec();
                if flip {
                    bad.push(log[pos] ^ 0xff);
                    bad.extend_from_slice(&log[pos + 1..]);
                } else {
                    bad.extend_from_slice(&garbage);
                }
                let c = decode_log(Path::new("wal"), &bad).unwrap();
                let whole = ends.iter().filter(|&&e| e <= pos as u64).count();
                // Garbage appended exactly at a frame boundary could, in
                // principle, form a valid frame only with a matching CRC.
                prop_assert_eq!(c.appends.len(), whole);
                prop_assert_eq!(c.valid_len, if whole == 0 { 0 } else { ends[whole - 1] });
                for ((_, b), &n) in c.appends.iter().zip(&sizes) {
                    prop_assert_eq!(b.num_rows(), n);
                }
            }

            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = decode_log(Path::new("wal"), &bytes);
            }
        }
    }
}
