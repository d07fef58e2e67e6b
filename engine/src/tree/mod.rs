//! The ratchet tree (RFC 9420 §4, §7): array-tree math below the MLS semantics.

pub mod math;
pub mod ratchet;

pub use math::{LeafIndex, NodeIndex};
pub(crate) use ratchet::{check_leaf_contents, LeafFields};
pub use ratchet::{
    validate_leaf_node, LeafRef, NodeRef, ParentRef, ParsedLeaf, RatchetTree, StoredNode,
    TreeRedo, UnmergedLeaves,
};

pub use crate::error::TreeError;
