//! Work an inspector does, counted as it goes (a few additions per step), so
//! that tests and benchmarks hold the cost of hostile input against the
//! stated bounds by counting, never by timing.

/// What one inspector (or the DNS cache) has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// Bytes fed in (`FlowInspector::feed`).
    pub bytes_in: u64,
    /// Bytes copied into or moved within inspection buffers (layer buffers,
    /// ClientHello and QUIC CRYPTO reassembly).
    pub bytes_copied: u64,
    /// Bytes looked at by searches for message boundaries (HTTP head and
    /// line ends, the resynchronisation scan for the next request line).
    pub bytes_scanned: u64,
    /// Operations on reassembly range lists (QUIC CRYPTO frames).
    pub range_ops: u64,
    /// QUIC Initial bytes run through AES-GCM, failed attempts included.
    pub bytes_decrypted: u64,
    /// Messages parsed: HTTP heads, TLS records, DNS messages, QUIC frames.
    pub messages: u64,
    /// DNS cache: name comparisons and map lookups resolving CNAME chains.
    pub name_steps: u64,
}

impl Work {
    /// Every counter summed: one figure of work for ratios.
    pub fn total(&self) -> u64 {
        self.bytes_in
            + self.bytes_copied
            + self.bytes_scanned
            + self.range_ops
            + self.bytes_decrypted
            + self.messages
            + self.name_steps
    }

    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &Work) {
        self.bytes_in += other.bytes_in;
        self.bytes_copied += other.bytes_copied;
        self.bytes_scanned += other.bytes_scanned;
        self.range_ops += other.range_ops;
        self.bytes_decrypted += other.bytes_decrypted;
        self.messages += other.messages;
        self.name_steps += other.name_steps;
    }
}
