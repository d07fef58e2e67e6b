//! Resolutions (RFC 9420 §4.1.1) and filtered direct paths (§4.1.2): the nodes a path secret
//! is encrypted to, and the direct-path nodes an UpdatePath carries.
//!
//! Whether a resolution is empty is one look-up in the fill counts that storage keeps, so
//! filtering a direct path never walks a blank subtree.

use super::node::NodeRef;
use super::RatchetTree;
use crate::tree::math::{self, LeafIndex, NodeIndex};

impl RatchetTree {
    /// The resolution of `x` (RFC 9420 §4.1.1), appended to `out` in left-to-right order.
    pub fn resolution_into(&self, x: NodeIndex, out: &mut Vec<NodeIndex>) {
        match self.node(x) {
            Some(NodeRef::Leaf(_)) => out.push(x),
            Some(NodeRef::Parent(p)) => {
                out.push(x);
                out.extend(p.unmerged_leaves().iter().map(|l| LeafIndex(l).node()));
            }
            // A blank subtree (one look-up in the fill counts) adds nothing: not walking it
            // saves a walk over the blank right edge of a tree that is not full (~15,500
            // blank leaves at 50,000 members) on every path that has it on its copath.
            None if self.resolution_is_empty(x) => {}
            None => {
                if let (Some(l), Some(r)) = (x.left(), x.right()) {
                    self.resolution_into(l, out);
                    self.resolution_into(r, out);
                }
            }
        }
    }

    /// The resolution of `x`.
    pub fn resolution(&self, x: NodeIndex) -> Vec<NodeIndex> {
        let mut out = Vec::new();
        self.resolution_into(x, &mut out);
        out
    }

    /// True if the resolution of `x` is empty (no allocation).
    pub fn resolution_is_empty(&self, x: NodeIndex) -> bool {
        // A resolution is empty exactly when every node of the subtree is blank.
        self.filled.get(x.0 as usize).is_none_or(|&n| n == 0)
    }

    /// The filtered direct path of `leaf` (RFC 9420 §4.1.2), with the copath child of each
    /// node: `(direct-path node, copath child)` for every direct-path node whose copath child
    /// has a non-empty resolution.
    pub fn filtered_direct_path(&self, leaf: LeafIndex) -> Vec<(NodeIndex, NodeIndex)> {
        let n = self.n_leaves;
        let x = leaf.node();
        math::direct_path(x, n)
            .into_iter()
            .zip(math::copath(x, n))
            .filter(|&(_, c)| !self.resolution_is_empty(c))
            .collect()
    }

    /// True if node `u` (in the subtree of `c`) is in the resolution of `c`.
    pub(super) fn in_resolution(&self, c: NodeIndex, u: NodeIndex) -> bool {
        let mut x = c;
        loop {
            match self.node(x) {
                Some(NodeRef::Parent(p)) if x != u => {
                    return u
                        .leaf()
                        .is_some_and(|l| p.unmerged_leaves().contains(l.0))
                }
                Some(_) => return x == u,
                None if x == u => return false,
                None => {
                    let (Some(l), Some(r)) = (x.left(), x.right()) else {
                        return false;
                    };
                    x = if math::in_subtree(u, l) { l } else { r };
                }
            }
        }
    }
}
