//! RFC 9420 wire codec (placeholder: being written).
use thiserror::Error as ThisError;

/// Why bytes failed to decode.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum CodecError {
    /// Placeholder.
    #[error("decode error: {0}")]
    Decode(String),
}
