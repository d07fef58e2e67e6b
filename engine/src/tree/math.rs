//! Array-based tree math (RFC 9420 Appendix C).
//!
//! Nodes of a left-balanced binary tree are numbered in-order: leaves sit at even indices
//! (leaf `i` is node `2i`), parents at odd ones, and node `x` has level = number of trailing
//! one bits of `x`. All functions are O(1) or O(log n), allocation-free except where a path is
//! returned.

use core::fmt;

/// Index of a leaf among the leaves (`0..n_leaves`). A newtype, not an alias, so a leaf index
/// can never be passed where a node index is meant.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LeafIndex(pub u32);

/// Index of a node in the array representation (`0..2*n_leaves-1`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NodeIndex(pub u32);

impl fmt::Debug for LeafIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "leaf {}", self.0)
    }
}

impl fmt::Debug for NodeIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {}", self.0)
    }
}

impl From<LeafIndex> for NodeIndex {
    /// Leaf indices come from the wire (senders, Removes, a GroupInfo's signer) before any
    /// range check, so the doubling saturates: an index of 2^31 or more maps to `u32::MAX`,
    /// which is beyond every tree (at most 2^30 leaves) instead of wrapping onto a real node.
    fn from(leaf: LeafIndex) -> Self {
        NodeIndex(leaf.0.saturating_mul(2))
    }
}

impl LeafIndex {
    /// The node index of this leaf.
    pub fn node(self) -> NodeIndex {
        NodeIndex::from(self)
    }
}

impl NodeIndex {
    /// True for leaves (even indices).
    pub fn is_leaf(self) -> bool {
        self.0 & 1 == 0
    }

    /// The leaf index, if this node is a leaf.
    pub fn leaf(self) -> Option<LeafIndex> {
        self.is_leaf().then_some(LeafIndex(self.0 >> 1))
    }

    /// Level of the node: 0 for leaves, k for a parent whose subtree has 2^k leaves.
    pub fn level(self) -> u32 {
        (!self.0).trailing_zeros().min(31)
    }

    /// Left child of a parent node; `None` for a leaf.
    pub fn left(self) -> Option<NodeIndex> {
        let k = self.level();
        (k > 0).then(|| NodeIndex(self.0 ^ (1 << (k - 1))))
    }

    /// Right child of a parent node; `None` for a leaf.
    pub fn right(self) -> Option<NodeIndex> {
        let k = self.level();
        (k > 0).then(|| NodeIndex(self.0 ^ (3 << (k - 1))))
    }

    /// Parent in the full (power-of-two) tree containing this node. In a tree of `n` leaves,
    /// use [`parent`] instead, which returns `None` at the root.
    fn parent_unbounded(self) -> NodeIndex {
        let k = self.level();
        let b = (self.0 >> (k + 1)) & 1;
        NodeIndex((self.0 | (1 << k)) ^ (b << (k + 1)))
    }
}

/// Number of nodes in a tree with `n_leaves` leaves.
pub fn node_width(n_leaves: u32) -> u32 {
    if n_leaves == 0 {
        0
    } else {
        2 * (n_leaves - 1) + 1
    }
}

/// Number of leaves in the smallest full tree holding `n_leaves`: MLS trees always have a
/// power-of-two number of leaves (RFC 9420 §7.8), the rightmost possibly blank.
pub fn full_leaf_count(n_leaves: u32) -> u32 {
    n_leaves.max(1).next_power_of_two()
}

/// Root of a tree with `n_leaves` leaves (`n_leaves >= 1`).
pub fn root(n_leaves: u32) -> NodeIndex {
    let w = node_width(n_leaves);
    NodeIndex((1u32 << log2(w)) - 1)
}

fn log2(x: u32) -> u32 {
    if x == 0 {
        0
    } else {
        31 - x.leading_zeros()
    }
}

/// Parent of `x` in a tree of `n_leaves` leaves; `None` for the root.
pub fn parent(x: NodeIndex, n_leaves: u32) -> Option<NodeIndex> {
    if x == root(n_leaves) {
        return None;
    }
    Some(x.parent_unbounded())
}

/// Sibling of `x` in a tree of `n_leaves` leaves; `None` for the root.
pub fn sibling(x: NodeIndex, n_leaves: u32) -> Option<NodeIndex> {
    let p = parent(x, n_leaves)?;
    if x < p {
        p.right()
    } else {
        p.left()
    }
}

/// Direct path of `x` (RFC 9420 §4.1): its ancestors from its parent up to the root.
pub fn direct_path(x: NodeIndex, n_leaves: u32) -> Vec<NodeIndex> {
    let mut out = Vec::with_capacity(log2(n_leaves.max(1)) as usize + 1);
    let mut cur = x;
    while let Some(p) = parent(cur, n_leaves) {
        out.push(p);
        cur = p;
    }
    out
}

/// Copath of `x`: the sibling of `x` and of each node of its direct path except the root.
pub fn copath(x: NodeIndex, n_leaves: u32) -> Vec<NodeIndex> {
    let mut out = Vec::with_capacity(log2(n_leaves.max(1)) as usize + 1);
    let mut cur = x;
    while let Some(p) = parent(cur, n_leaves) {
        // `p` is a parent, so both children exist; the sibling is the one that is not `cur`.
        out.push(if cur < p { p.right() } else { p.left() }.unwrap_or(cur));
        cur = p;
    }
    out
}

/// Lowest common ancestor of two nodes.
pub fn common_ancestor(x: NodeIndex, y: NodeIndex) -> NodeIndex {
    let (lx, ly) = (x.level() + 1, y.level() + 1);
    if lx <= ly && (x.0 >> ly) == (y.0 >> ly) {
        return y;
    }
    if ly <= lx && (x.0 >> lx) == (y.0 >> lx) {
        return x;
    }
    let (mut xn, mut yn, mut k) = (x.0, y.0, 0u32);
    while xn != yn {
        xn >>= 1;
        yn >>= 1;
        k += 1;
    }
    NodeIndex((xn << k) + (1 << (k - 1)) - 1)
}

/// True if `x` is in the subtree rooted at `ancestor` (including `ancestor` itself).
pub fn in_subtree(x: NodeIndex, ancestor: NodeIndex) -> bool {
    let k = ancestor.level();
    (x.0 >> (k + 1)) == (ancestor.0 >> (k + 1))
}
