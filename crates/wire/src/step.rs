//! The step protocol between a stream parser and the layer that buffers for it.

/// Result of one parser step over a direction's buffered bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// This many bytes were used; call again with the rest.
    Consumed(usize),
    /// The bytes present are a prefix of a message: wait for more.
    NeedMore,
    /// The bytes from this offset on belong to a tunnel (the next layer).
    Tunnel(usize),
    /// Nothing more to learn in this direction.
    Finished,
}
