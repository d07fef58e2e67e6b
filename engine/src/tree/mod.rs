//! The ratchet tree (RFC 9420 §4, §7): array-tree math below the MLS semantics.

pub mod math;

pub use math::{LeafIndex, NodeIndex};

use thiserror::Error as ThisError;

/// Why a ratchet tree was rejected or an operation on it could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum TreeError {
    /// A leaf or node index beyond the tree.
    #[error("index {index} out of range for a tree of {width} nodes")]
    IndexOutOfRange { index: u32, width: u32 },
    /// The tree has more leaves than the engine supports (2^31).
    #[error("tree too large")]
    TooLarge,
}
