//! The ratchet tree (RFC 9420 §4, §7): array-tree math below the MLS semantics.

pub mod math;
pub mod ratchet;

pub use math::{LeafIndex, NodeIndex};
pub(crate) use ratchet::check_leaf_contents;
pub use ratchet::{validate_leaf_node, RatchetTree, TreeRedo};

pub use crate::error::TreeError;
