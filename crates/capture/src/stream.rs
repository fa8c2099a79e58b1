//! One direction of a TCP connection: sequence numbers to stream offsets,
//! out-of-order buffering, retransmissions and overlaps. The first copy of a
//! byte wins; a later copy that differs is reported as an overlap conflict
//! (the classic IDS-evasion trick). Memory is bounded per direction and, via
//! [`Budget`], across all flows: when a limit is hit the stream skips ahead to
//! the buffered data and reports the hole as a gap.

use std::borrow::Cow;
use std::collections::BTreeMap;

use netward_quic_keys::ranges;

/// Per-direction limits.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// Out-of-order bytes buffered per direction.
    pub max_ooo_bytes: usize,
    /// Out-of-order segments buffered per direction.
    pub max_ooo_segments: usize,
    /// Delivered bytes kept per direction to check retransmissions against.
    pub check_window: usize,
}

/// Out-of-order bytes buffered across all streams, and the cap.
#[derive(Debug, Clone, Copy, Default)]
pub struct Budget {
    pub used: usize,
    pub max: usize,
}

/// What a direction produces, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// In-order bytes starting at stream `offset`.
    Data { offset: u64, bytes: Cow<'a, [u8]> },
    /// Bytes that will never be delivered (lost, not captured, or given up on).
    Gap { offset: u64, len: u64 },
    /// A retransmission or overlap that differs from the first copy.
    Conflict { offset: u64, len: u64 },
}

/// One direction's reassembly state.
#[derive(Debug, Default)]
pub struct HalfStream {
    /// Sequence number of stream offset 0, once known.
    base: Option<u32>,
    /// Offset of the next byte to deliver.
    next: u64,
    /// Out-of-order data by offset; disjoint; every key > `next`.
    ooo: BTreeMap<u64, Vec<u8>>,
    ooo_bytes: usize,
    /// The last delivered bytes, ending at `next` (cleared by a gap).
    recent: Vec<u8>,
    /// Offset just past the last byte, once a FIN was seen.
    fin: Option<u64>,
    pub delivered: u64,
    pub gap_bytes: u64,
    pub conflict: bool,
    /// How many delivered bytes `recent` keeps.
    window: usize,
}

impl HalfStream {
    /// A stream that keeps `check_window` delivered bytes for overlap checks.
    pub fn new(check_window: usize) -> Self {
        HalfStream { window: check_window, ..Default::default() }
    }

    /// Sequence number of offset 0 (the initial sequence number + 1 after a SYN).
    pub fn base(&self) -> Option<u32> {
        self.base
    }

    /// Set where the stream starts. Only before any byte was taken in.
    pub fn set_base(&mut self, seq: u32) {
        if self.next == 0 && self.ooo.is_empty() {
            self.base = Some(seq);
        }
    }

    /// Offset of the next byte to deliver.
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    /// True once every byte up to the FIN was delivered.
    pub fn finished(&self) -> bool {
        matches!(self.fin, Some(f) if self.next >= f)
    }

    pub fn fin_seen(&self) -> bool {
        self.fin.is_some()
    }

    /// Whether a byte at `seq` lies before this direction's FIN (a
    /// retransmission may still bring one); `false` when no FIN was seen.
    pub fn before_fin(&self, seq: u32) -> bool {
        self.fin.is_some_and(|f| (0..f as i64).contains(&self.offset_of(seq)))
    }

    pub fn buffered(&self) -> usize {
        self.ooo_bytes
    }

    /// Stream offset of `seq`, taken relative to the next expected byte so that
    /// sequence wrap-around is handled; negative before the stream start.
    fn offset_of(&self, seq: u32) -> i64 {
        let base = self.base.unwrap_or(seq);
        let next_seq = base.wrapping_add(self.next as u32);
        self.next as i64 + i64::from(seq.wrapping_sub(next_seq) as i32)
    }

    /// Take in one segment. `missing` bytes followed `payload` on the wire but
    /// were not captured.
    #[allow(clippy::too_many_arguments)]
    pub fn segment<'a>(
        &mut self,
        seq: u32,
        payload: &'a [u8],
        missing: usize,
        fin: bool,
        limits: &StreamLimits,
        budget: &mut Budget,
        out: &mut dyn FnMut(Chunk<'a>),
    ) {
        if self.base.is_none() {
            self.base = Some(seq);
        }
        let off = self.offset_of(seq);
        if fin {
            let end = off + payload.len() as i64 + missing as i64;
            if end >= 0 && self.fin.is_none() {
                self.fin = Some(end as u64);
            }
        }
        if payload.is_empty() {
            return;
        }
        let mut start = off;
        let mut data = payload;
        let next = self.next as i64;
        if start < next {
            let old = ((next - start) as usize).min(data.len());
            self.check_retransmission(start, &data[..old], out);
            data = &data[old..];
            start = next;
            if data.is_empty() {
                return;
            }
        }
        let start = start as u64;
        let end = start + data.len() as u64;
        for (ps, pe) in self.uncovered(start, end, data, out) {
            let piece = &data[(ps - start) as usize..(pe - start) as usize];
            self.place(ps, piece, limits, budget, out);
        }
        // Bytes the capture cut off right after in-order data: a known hole.
        if missing > 0 && self.next == end {
            out(Chunk::Gap { offset: self.next, len: missing as u64 });
            self.skip(self.next + missing as u64);
            self.drain(budget, out);
        }
    }

    /// Compare re-sent bytes with what was delivered (within the check window).
    fn check_retransmission<'a>(&mut self, start: i64, data: &[u8], out: &mut dyn FnMut(Chunk<'a>)) {
        let end = start + data.len() as i64;
        // A keep-alive probe re-sends the last byte with arbitrary content.
        if data.len() <= 1 && end == self.next as i64 {
            return;
        }
        let win_start = self.next as i64 - self.recent.len() as i64;
        let s = start.max(win_start);
        if s >= end {
            return;
        }
        let old = self.recent.get((s - win_start) as usize..(end - win_start) as usize);
        let new = data.get((s - start) as usize..);
        if old != new {
            self.conflict = true;
            out(Chunk::Conflict { offset: s as u64, len: (end - s) as u64 });
        }
    }

    /// Split [start, end) into the parts no buffered segment covers, reporting
    /// covered parts whose bytes differ. The walk is the one QUIC CRYPTO
    /// reassembly uses too (`netward_quic_keys::ranges::walk`).
    fn uncovered<'a>(&mut self, start: u64, end: u64, data: &[u8], out: &mut dyn FnMut(Chunk<'a>)) -> Vec<(u64, u64)> {
        let mut pieces = Vec::new();
        let mut conflict = None;
        let first = self.ooo.range(..start).next_back();
        let held = first.into_iter().chain(self.ooo.range(start..end)).map(|(&k, v)| (k, k + v.len() as u64, (k, v)));
        ranges::walk(start, end, held, |s, e, seg| match seg {
            None => pieces.push((s, e)),
            Some((k, v)) => {
                let old = v.get((s - k) as usize..(e - k) as usize);
                let new = data.get((s - start) as usize..(e - start) as usize);
                if old != new {
                    conflict = Some((s, e));
                }
            }
        });
        if let Some((os, oe)) = conflict {
            self.conflict = true;
            out(Chunk::Conflict { offset: os, len: oe - os });
        }
        pieces
    }

    /// Deliver a piece at `next`, or buffer it.
    fn place<'a>(
        &mut self,
        at: u64,
        piece: &'a [u8],
        limits: &StreamLimits,
        budget: &mut Budget,
        out: &mut dyn FnMut(Chunk<'a>),
    ) {
        if at < self.next {
            // Skipped past by a gap while earlier pieces were placed.
            let cut = ((self.next - at) as usize).min(piece.len());
            let rest = &piece[cut..];
            if rest.is_empty() {
                return;
            }
            return self.place(self.next, rest, limits, budget, out);
        }
        if at == self.next {
            self.deliver(Cow::Borrowed(piece), out);
            self.drain(budget, out);
            return;
        }
        // Make room: skip ahead to whichever comes first, this piece or the
        // first buffered one.
        while self.ooo_bytes + piece.len() > limits.max_ooo_bytes
            || self.ooo.len() >= limits.max_ooo_segments
            || budget.used + piece.len() > budget.max
        {
            let first = self.ooo.keys().next().copied();
            let target = match first {
                Some(k) => k.min(at),
                None => at,
            };
            out(Chunk::Gap { offset: self.next, len: target - self.next });
            self.skip(target);
            self.drain(budget, out);
            if at <= self.next {
                return self.place(at, piece, limits, budget, out);
            }
        }
        self.ooo_bytes += piece.len();
        budget.used += piece.len();
        self.ooo.insert(at, piece.to_vec());
    }

    fn deliver<'a>(&mut self, bytes: Cow<'a, [u8]>, out: &mut dyn FnMut(Chunk<'a>)) {
        let n = bytes.len();
        self.remember(&bytes);
        let offset = self.next;
        self.next += n as u64;
        self.delivered += n as u64;
        out(Chunk::Data { offset, bytes });
    }

    fn remember(&mut self, bytes: &[u8]) {
        if bytes.len() >= self.window {
            self.recent.clear();
            self.recent.extend_from_slice(&bytes[bytes.len() - self.window..]);
        } else {
            self.recent.extend_from_slice(bytes);
            if self.recent.len() > self.window {
                let drop = self.recent.len() - self.window;
                self.recent.drain(..drop);
            }
        }
    }

    /// Move `next` forward over bytes that will never come.
    fn skip(&mut self, to: u64) {
        if to > self.next {
            self.gap_bytes += to - self.next;
            self.next = to;
            self.recent.clear();
        }
    }

    /// Deliver buffered segments that are now in order.
    fn drain<'a>(&mut self, budget: &mut Budget, out: &mut dyn FnMut(Chunk<'a>)) {
        while let Some(entry) = self.ooo.first_entry() {
            let k = *entry.key();
            if k > self.next {
                break;
            }
            let v = entry.remove();
            self.ooo_bytes -= v.len();
            budget.used = budget.used.saturating_sub(v.len());
            let cut = (self.next - k) as usize;
            if cut >= v.len() {
                continue;
            }
            let v = if cut > 0 { v[cut..].to_vec() } else { v };
            self.deliver(Cow::Owned(v), out);
        }
    }

    /// At the end of the flow: deliver what is buffered, with gaps for holes.
    pub fn flush<'a>(&mut self, budget: &mut Budget, out: &mut dyn FnMut(Chunk<'a>)) {
        while let Some(k) = self.ooo.keys().next().copied() {
            if k > self.next {
                out(Chunk::Gap { offset: self.next, len: k - self.next });
                self.skip(k);
            }
            self.drain(budget, out);
        }
    }

    /// Free the buffers (the flow is closed).
    pub fn release(&mut self, budget: &mut Budget) {
        budget.used = budget.used.saturating_sub(self.ooo_bytes);
        self.ooo = BTreeMap::new();
        self.ooo_bytes = 0;
        self.recent = Vec::new();
    }
}
