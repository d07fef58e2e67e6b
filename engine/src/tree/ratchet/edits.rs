//! The edits of RFC 9420 §7.7 and §12.1: Add, Update and Remove, and the node writes of an
//! UpdatePath merge ([`RatchetTree::set_node`]), with the growth and truncation of the tree
//! they cause.
//!
//! Each edit is a few calls of storage's one write path, so it is journaled, indexed and
//! hash-invalidated with no code of its own for that. What is here is the RFC's choice of
//! position (the leftmost blank leaf, found from a hint so that `n` Adds cost O(n)), the
//! unmerged-leaf lists an Add extends, and the blanking and truncation a Remove implies.

use super::journal::JournalEntry;
use super::node::{NodeRef, StoredNode};
use super::RatchetTree;
use crate::codec::{LeafNode, Node};
use crate::tree::math::{self, LeafIndex, NodeIndex};
use crate::tree::TreeError;

/// Below this many adds, [`RatchetTree::reserve_leaves`] does nothing: the doubling it saves
/// is cheap for a few leaves, and counting the blank leaves is not.
pub const RESERVE_MIN_LEAVES: usize = 64;

impl RatchetTree {
    /// Add a leaf (RFC 9420 §12.1.1): the leftmost blank leaf, else extend the tree; the new
    /// leaf index is added to the unmerged leaves of every non-blank ancestor.
    ///
    /// The search for the leftmost blank leaf starts at a hint below which every leaf is
    /// known to be occupied, so `n` adds cost O(n) in total, not O(n^2).
    pub fn add_leaf(&mut self, leaf: &LeafNode) -> Result<LeafIndex, TreeError> {
        let idx = match (self.first_blank_hint.min(self.n_leaves)..self.n_leaves)
            .map(LeafIndex)
            .find(|&l| self.leaf(l).is_none())
        {
            Some(l) => l,
            None => {
                let l = LeafIndex(self.n_leaves);
                self.extend();
                l
            }
        };
        let x = idx.node();
        let stored =
            StoredNode::encode_leaf(leaf).map_err(|_| TreeError::NodeEncoding { index: x.0 })?;
        self.first_blank_hint = idx.0 + 1;
        self.write(x, Some(stored));
        for a in math::direct_path(x, self.n_leaves) {
            if self.set_unmerged(a, idx.0, true)? {
                self.record(JournalEntry::UnmergedInsert(a, idx.0));
            }
        }
        self.touch(x);
        Ok(idx)
    }

    /// Insert `leaf` into (or, without `insert`, remove it from) the unmerged leaves of the
    /// parent node at `a`, keeping the list sorted; false if `a` is not a parent node or the
    /// list already had (or lacked) it. The node's keys and the fill counts do not change,
    /// so this bypasses `write`; the caller records the edit and marks the hashes stale.
    pub(super) fn set_unmerged(
        &mut self,
        a: NodeIndex,
        leaf: u32,
        insert: bool,
    ) -> Result<bool, TreeError> {
        let Some(NodeRef::Parent(p)) = self.node(a) else {
            return Ok(false);
        };
        let mut parent = match (p.unmerged_leaves().binary_search(leaf), insert) {
            (Err(_), true) | (Ok(_), false) => p.decode(),
            _ => return Ok(false),
        };
        match (parent.unmerged_leaves.binary_search(&leaf), insert) {
            (Err(pos), true) => parent.unmerged_leaves.insert(pos, leaf),
            (Ok(pos), false) => {
                parent.unmerged_leaves.remove(pos);
            }
            _ => {}
        }
        let stored =
            StoredNode::encode_parent(&parent).map_err(|_| TreeError::NodeEncoding { index: a.0 })?;
        self.nodes[a.0 as usize] = Some(stored);
        Ok(true)
    }

    /// Make room, in one allocation per array, for the width `additional` more
    /// [`RatchetTree::add_leaf`] calls will grow the tree to. Without it a bulk add doubles the
    /// node, hash and count arrays one width at a time (17 times from 1 to 65,536 leaves),
    /// copying them and faulting in fresh pages each time: ~0.2 s of serial time in the
    /// 49,999-member build. Changes no content. Small batches (fewer than
    /// [`RESERVE_MIN_LEAVES`]) return at once: counting the blank leaves walks the leaves
    /// above the blank-leaf hint.
    pub fn reserve_leaves(&mut self, additional: usize) {
        if additional < RESERVE_MIN_LEAVES {
            return;
        }
        let start = self.first_blank_hint.min(self.n_leaves);
        crate::crypto::counters::leaf_walk(self.n_leaves - start);
        let blanks = (start..self.n_leaves)
            .filter(|&l| self.leaf(LeafIndex(l)).is_none())
            .count();
        // Adds fill the blank leaves first, then go to the right of the current width.
        let beyond = additional.saturating_sub(blanks) as u64;
        let mut n_final = u64::from(self.n_leaves.max(1));
        while n_final < u64::from(self.n_leaves) + beyond {
            n_final *= 2;
        }
        let width = (2 * n_final - 1) as usize;
        if width <= self.nodes.len() {
            return;
        }
        let more = width - self.nodes.len();
        self.nodes.reserve_exact(more);
        self.filled.reserve_exact(more);
        self.hash_valid.reserve_exact(more);
        self.hashes.reserve_exact(more * self.hash_len);
    }

    /// Double the number of leaves: the old tree becomes the left subtree of a new blank root.
    fn extend(&mut self) {
        self.resize(self.n_leaves * 2);
        // The old root gained a parent.
        let root = self.root();
        self.touch(root);
    }

    /// Replace `leaf`'s node and blank its direct path (an Update, RFC 9420 §12.1.2).
    pub fn update_leaf(&mut self, leaf: LeafIndex, node: &LeafNode) -> Result<(), TreeError> {
        if self.leaf(leaf).is_none() {
            return Err(TreeError::BlankNode {
                index: leaf.node().0,
            });
        }
        let stored = StoredNode::encode_leaf(node).map_err(|_| TreeError::NodeEncoding {
            index: leaf.node().0,
        })?;
        self.write(leaf.node(), Some(stored));
        self.blank_direct_path(leaf);
        Ok(())
    }

    /// Remove a member (RFC 9420 §12.1.3): blank its leaf and direct path, then truncate.
    pub fn remove_leaf(&mut self, leaf: LeafIndex) -> Result<(), TreeError> {
        if self.leaf(leaf).is_none() {
            return Err(TreeError::BlankNode {
                index: leaf.node().0,
            });
        }
        self.write(leaf.node(), None);
        self.blank_direct_path(leaf);
        self.truncate();
        Ok(())
    }

    fn blank_direct_path(&mut self, leaf: LeafIndex) {
        for a in math::direct_path(leaf.node(), self.n_leaves) {
            if self.nodes[a.0 as usize].is_some() {
                self.write(a, None);
            }
        }
    }

    /// While the right half holds no non-blank leaf, drop it and the root. Every node dropped
    /// is blank: a non-blank parent has a non-blank leaf below it, and the root was blanked
    /// with the direct path of the removed leaf.
    fn truncate(&mut self) {
        while self.n_leaves > 1 {
            let right = self.root().right();
            if right.is_some_and(|r| self.has_leaf_below(r)) {
                break;
            }
            self.resize(self.n_leaves / 2);
        }
    }

    /// True if some leaf in the subtree of `x` is non-blank: the same answer as a scan of its
    /// leaves, but subtrees whose count in `filled` is 0 (entirely blank) are skipped. So a
    /// blank right half, the case that truncates, costs one look-up instead of a scan of up
    /// to half the leaves on every Remove, and a right half holding members is answered after
    /// O(log n) steps, since every non-blank parent in a valid tree has a non-blank leaf
    /// below it.
    fn has_leaf_below(&self, x: NodeIndex) -> bool {
        if self.filled.get(x.0 as usize).is_none_or(|&n| n == 0) {
            return false;
        }
        match (x.left(), x.right()) {
            (Some(l), Some(r)) => self.has_leaf_below(l) || self.has_leaf_below(r),
            _ => self.leaf(LeafIndex(x.0 / 2)).is_some(),
        }
    }

    /// Replace the node at `x` (used when merging an UpdatePath). `node` must match the slot
    /// type (leaf at even index, parent at odd).
    pub fn set_node(&mut self, x: NodeIndex, node: Option<&Node>) -> Result<(), TreeError> {
        let stored = node
            .map(StoredNode::encode)
            .transpose()
            .map_err(|_| TreeError::NodeEncoding { index: x.0 })?;
        self.set_stored(x, stored)
    }

    /// [`RatchetTree::set_node`] with the node already encoded.
    pub fn set_stored(&mut self, x: NodeIndex, node: Option<StoredNode>) -> Result<(), TreeError> {
        self.check_index(x)?;
        if node.as_ref().is_some_and(|n| n.is_leaf() != x.is_leaf()) {
            return Err(TreeError::WrongNodeType { index: x.0 });
        }
        self.write(x, node);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
