//! The ratchet tree (RFC 9420 §4, §7): array-tree math below the MLS semantics.

pub mod math;
pub mod ratchet;

pub use math::{LeafIndex, NodeIndex};
pub(crate) use ratchet::check_leaf_contents;
pub use ratchet::{validate_leaf_node, RatchetTree, TreeRedo};

use thiserror::Error as ThisError;

/// Why a ratchet tree was rejected or an operation on it could not be applied. Each variant
/// names the RFC 9420 check that failed and the node concerned.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum TreeError {
    /// A leaf or node index beyond the tree.
    #[error("index {index} out of range for a tree of {width} nodes")]
    IndexOutOfRange { index: u32, width: u32 },
    /// The tree has more leaves than the engine supports (2^30).
    #[error("tree too large")]
    TooLarge,
    /// A ratchet tree with no nodes (§12.4.3.3).
    #[error("empty ratchet tree")]
    Empty,
    /// The last node of a transmitted tree is blank (§12.4.3.3).
    #[error("the last node of the transmitted tree is blank")]
    LastNodeBlank,
    /// A leaf node at a parent position or vice versa.
    #[error("node {index} has the wrong type for its position")]
    WrongNodeType { index: u32 },
    /// An operation needs a non-blank node that is blank.
    #[error("node {index} is blank")]
    BlankNode { index: u32 },
    /// §7.9.2: a non-blank parent node is not covered by exactly one parent-hash chain.
    #[error("parent node {index} is not parent-hash valid (§7.9.2)")]
    ParentHashInvalid { index: u32 },
    /// §7.1: unmerged_leaves must be sorted in increasing order.
    #[error("unmerged_leaves of node {index} not strictly increasing")]
    UnmergedLeavesUnsorted { index: u32 },
    /// §12.4.3.1: an unmerged leaf that is blank, not a descendant, or missing from an
    /// intermediate node's list.
    #[error("node {index}: unmerged leaf {leaf} violates §12.4.3.1")]
    BadUnmergedLeaf { index: u32, leaf: u32 },
    /// §7.3: two leaves share a signature key.
    #[error("duplicate signature key at node {index}")]
    DuplicateSignatureKey { index: u32 },
    /// §7.3, §12.4.3.1: two nodes share an encryption key.
    #[error("duplicate encryption key at node {index}")]
    DuplicateEncryptionKey { index: u32 },
    /// §7.3: a non-default extension not listed in the leaf's capabilities.
    #[error("leaf uses extension {extension_type} not listed in its capabilities")]
    UnsupportedExtension { extension_type: u16 },
    /// §7.3: a credential type in use that a leaf does not support.
    #[error("credential type {credential_type} not supported by a leaf")]
    UnsupportedCredential { credential_type: u16 },
    /// The tree hash does not match the one the group agreed on.
    #[error("tree hash mismatch")]
    TreeHashMismatch,
}
