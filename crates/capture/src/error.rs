//! Errors of this crate. Each one says where: a byte offset in the capture file,
//! or an offset inside one packet.

/// Reading a capture file failed at `offset` (bytes from the start of the file).
/// Every packet returned before this error is good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("capture error at byte offset {offset}: {kind}")]
pub struct CaptureError {
    /// Byte offset in the file of the block that could not be read.
    pub offset: u64,
    /// What went wrong.
    pub kind: CaptureErrorKind,
}

impl CaptureError {
    /// True when the reader cannot go on after this error (it then yields no more
    /// packets); false when only one block was skipped.
    pub fn is_fatal(&self) -> bool {
        !matches!(self.kind, CaptureErrorKind::UnknownInterface(_))
    }
}

/// The kinds of capture-file errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureErrorKind {
    /// The file starts with neither a pcap nor a pcapng header.
    #[error("not a pcap or pcapng file")]
    NotACapture,
    /// The file ends in the middle of a block (header or packet).
    #[error("truncated: the file ends inside a block")]
    Truncated,
    /// A block is malformed.
    #[error("corrupt block ({0})")]
    Corrupt(String),
    /// A block claims to be larger than the reader accepts.
    #[error("block larger than {0} bytes")]
    BlockTooLarge(usize),
    /// The underlying reader failed.
    #[error("read error")]
    Io,
    /// A pcapng packet names an interface that was never described (the packet
    /// is skipped; reading goes on).
    #[error("packet for undescribed interface {0}")]
    UnknownInterface(u32),
}

/// One packet could not be decoded (link, IP or transport header). `offset` is
/// the byte offset inside the packet's frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("packet decode error at frame offset {offset}: {what}")]
pub struct DecodeError {
    /// Offset inside the frame (link-layer header included).
    pub offset: usize,
    /// What was wrong.
    pub what: &'static str,
}

impl DecodeError {
    pub(crate) fn at(offset: usize, what: &'static str) -> Self {
        DecodeError { offset, what }
    }
    /// The same error, moved by `by` bytes (when a header was decoded from a
    /// sub-slice of the frame).
    pub(crate) fn shift(mut self, by: usize) -> Self {
        self.offset = self.offset.saturating_add(by);
        self
    }
}
