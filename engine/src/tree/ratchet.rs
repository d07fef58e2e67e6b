//! The public ratchet tree (RFC 9420 §4, §7): node storage, resolutions, tree hashes cached per
//! node, parent hashes, full validation and the Add/Update/Remove edits.
//!
//! # Internal documentation
//!
//! The tree is always full (RFC 9420 §7.8): `n_leaves` is a power of two and `nodes` holds
//! `2 * n_leaves - 1` entries in array (in-order) layout. Blank nodes are `None`. A slot is
//! 72 bytes (a `ParentNode` inline, leaves boxed; see [`Node`]), so blank and parent slots,
//! about half of a 50,000-member tree, no longer pay for an inline `LeafNode`.
//!
//! Tree hashes live in one flat `Vec<u8>` (`hash_len` bytes per node) with a validity flag
//! per node, so a 50,000-member tree carries no per-node hash allocation. Every edit marks the
//! edited node and its ancestors stale (`RatchetTree::touch`); [`RatchetTree::tree_hash`]
//! recomputes only stale nodes, so an edit along one path costs O(log n) hashes.
//!
//! Validation (§7.9.2, §12.4.3.1) runs in linear time up to logarithmic factors in the number
//! of unmerged leaves: parent-hash coverage is checked bottom-up from each node to its first
//! non-blank ancestor (the only possible parent-hash partner, see
//! [`RatchetTree::verify_parent_hashes`]), resolution sizes are computed in one pass, and key
//! uniqueness uses hash sets.

use std::collections::hash_map::{Entry, RandomState};
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use super::math::{self, LeafIndex, NodeIndex};
use super::TreeError;
use crate::codec::{
    self, LeafNode, LeafNodeHashInput, LeafNodeSourceData, LeafNodeTbs, Node, ParentHashInput,
    ParentNode, ParentNodeHashInput, RatchetTree as WireTree, TreeHashInput,
};
use crate::crypto::Provider;
use crate::error::{Error, Result};

#[cfg(test)]
mod oracle;
mod validate;

/// Leaves per task when validating leaves in parallel: one Ed25519 verification is tens of
/// microseconds, so small chunks balance best (see [`crate::batch`]).
const LEAF_CHECK_CUTOFF: usize = 4;

/// Below this many adds, [`RatchetTree::reserve_leaves`] does nothing: the doubling it saves
/// is cheap for a few leaves, and counting the blank leaves is not.
pub const RESERVE_MIN_LEAVES: usize = 64;

/// The public state of a ratchet tree, with cached tree hashes.
#[derive(Clone)]
pub struct RatchetTree {
    nodes: Vec<Option<Node>>,
    n_leaves: u32,
    hash_len: usize,
    hashes: Vec<u8>,
    hash_valid: Vec<bool>,
    /// Number of non-blank nodes in the subtree of each node, kept by [`RatchetTree::write`]
    /// and `resize`, so "is this resolution empty?" is one look-up instead of a walk over a
    /// blank subtree (at 50,001 members the tree is 65,536 leaves wide and every filtered
    /// direct path of a leaf on the left used to walk the ~15,500 blank leaves on the right).
    filled: Vec<u32>,
    /// Every leaf below this index is non-blank (see [`RatchetTree::add_leaf`]).
    first_blank_hint: u32,
    /// Open journal of edits, newest last (see [`RatchetTree::begin_journal`]).
    journal: Option<Vec<JournalEntry>>,
    /// Lazily built index of the keys in the tree.
    key_index: Option<KeyIndex>,
}

impl core::fmt::Debug for RatchetTree {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let filled = self.nodes.iter().filter(|n| n.is_some()).count();
        f.debug_struct("RatchetTree")
            .field("n_leaves", &self.n_leaves)
            .field("non_blank_nodes", &filled)
            .finish()
    }
}

impl RatchetTree {
    /// Build a tree from the wire form (the `ratchet_tree` extension, RFC 9420 §12.4.3.3):
    /// trailing blank nodes were omitted, so pad to the full width; the last node sent must be
    /// non-blank, leaves must sit at even and parents at odd indices.
    pub fn from_wire(wire: WireTree, hash_len: usize) -> Result<Self, TreeError> {
        let mut nodes = wire.0;
        match nodes.last() {
            None => return Err(TreeError::Empty),
            Some(None) => return Err(TreeError::LastNodeBlank),
            Some(Some(_)) => {}
        }
        if nodes.len() > (1usize << 31) {
            return Err(TreeError::TooLarge);
        }
        for (i, n) in nodes.iter().enumerate() {
            let leaf_slot = i % 2 == 0;
            match n {
                Some(Node::Leaf(_)) if !leaf_slot => {
                    return Err(TreeError::WrongNodeType { index: i as u32 })
                }
                Some(Node::Parent(_)) if leaf_slot => {
                    return Err(TreeError::WrongNodeType { index: i as u32 })
                }
                _ => {}
            }
        }
        let sent_leaves = (nodes.len() as u32).div_ceil(2);
        let n_leaves = math::full_leaf_count(sent_leaves);
        // Every later computation turns unmerged leaf indices into node indices: reject
        // out-of-range ones here, at the trust boundary, so that math cannot overflow.
        for (i, n) in nodes.iter().enumerate() {
            if let Some(Node::Parent(p)) = n {
                if let Some(&leaf) = p.unmerged_leaves.iter().find(|&&u| u >= n_leaves) {
                    return Err(TreeError::BadUnmergedLeaf {
                        index: i as u32,
                        leaf,
                    });
                }
            }
        }
        nodes.resize(math::node_width(n_leaves) as usize, None);
        let mut tree = Self::from_full_nodes(nodes, n_leaves, hash_len);
        // Build the key index now, in this pass that is O(n) anyway, not on the first commit
        // the member makes or processes: that commit would pay ~30 ms at 50,000 members, and so
        // would every copy of a start state that was cloned before its first commit (the
        // criterion benches' commit at 10,000 measured 5.4 ms instead of ~0.7 ms).
        tree.build_index();
        Ok(tree)
    }

    fn from_full_nodes(nodes: Vec<Option<Node>>, n_leaves: u32, hash_len: usize) -> Self {
        let width = nodes.len();
        let filled = subtree_fill_counts(&nodes);
        RatchetTree {
            nodes,
            n_leaves,
            hash_len,
            hashes: vec![0; width * hash_len],
            hash_valid: vec![false; width],
            filled,
            first_blank_hint: 0,
            journal: None,
            key_index: None,
        }
    }

    /// A one-member tree holding `leaf` (a new group, RFC 9420 §11).
    pub fn new(leaf: LeafNode, hash_len: usize) -> Self {
        Self::from_full_nodes(vec![Some(Node::Leaf(Box::new(leaf)))], 1, hash_len)
    }

    /// The wire form: the nodes with trailing blanks removed.
    pub fn to_wire(&self) -> WireTree {
        let end = self
            .nodes
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |i| i + 1);
        WireTree(self.nodes[..end].to_vec())
    }

    /// The wire form serialized (the body of the `ratchet_tree` extension): the same bytes
    /// as `codec::encode(&self.to_wire())`, encoded straight from node storage without
    /// copying the tree first.
    pub fn wire_bytes(&self) -> Result<Vec<u8>, codec::CodecError> {
        let end = self
            .nodes
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |i| i + 1);
        codec::encode(&&self.nodes[..end])
    }

    /// Number of leaves (a power of two; trailing leaves may be blank).
    pub fn n_leaves(&self) -> u32 {
        self.n_leaves
    }

    /// Number of nodes, `2 * n_leaves - 1`.
    pub fn width(&self) -> u32 {
        self.nodes.len() as u32
    }

    /// The root's node index.
    pub fn root(&self) -> NodeIndex {
        math::root(self.n_leaves)
    }

    /// The node at `x`, `None` if blank or out of range.
    pub fn node(&self, x: NodeIndex) -> Option<&Node> {
        self.nodes.get(x.0 as usize).and_then(Option::as_ref)
    }

    /// True if `x` is blank (or out of range).
    pub fn is_blank(&self, x: NodeIndex) -> bool {
        self.node(x).is_none()
    }

    /// The leaf node at `leaf`, if any.
    pub fn leaf(&self, leaf: LeafIndex) -> Option<&LeafNode> {
        match self.node(leaf.node()) {
            Some(Node::Leaf(l)) => Some(l),
            _ => None,
        }
    }

    /// The parent node at `x`, if any.
    pub fn parent_node(&self, x: NodeIndex) -> Option<&ParentNode> {
        match self.node(x) {
            Some(Node::Parent(p)) => Some(p),
            _ => None,
        }
    }

    /// The HPKE public key held at `x`, if the node is not blank.
    pub fn encryption_key(&self, x: NodeIndex) -> Option<&[u8]> {
        match self.node(x)? {
            Node::Leaf(l) => Some(l.encryption_key.as_slice()),
            Node::Parent(p) => Some(p.encryption_key.as_slice()),
        }
    }

    /// Iterate over the non-blank leaves.
    pub fn leaves(&self) -> impl Iterator<Item = (LeafIndex, &LeafNode)> + '_ {
        crate::crypto::counters::leaf_walk(self.n_leaves);
        self.nodes
            .iter()
            .step_by(2)
            .enumerate()
            .filter_map(|(i, n)| match n {
                Some(Node::Leaf(l)) => Some((LeafIndex(i as u32), &**l)),
                _ => None,
            })
    }

    fn check_index(&self, x: NodeIndex) -> Result<(), TreeError> {
        if (x.0 as usize) < self.nodes.len() {
            Ok(())
        } else {
            Err(TreeError::IndexOutOfRange {
                index: x.0,
                width: self.width(),
            })
        }
    }

    // ---------------------------------------------------------------------------------------
    // Resolutions and paths (RFC 9420 §4.1.1, §4.1.2)

    /// The resolution of `x` (RFC 9420 §4.1.1), appended to `out` in left-to-right order.
    pub fn resolution_into(&self, x: NodeIndex, out: &mut Vec<NodeIndex>) {
        match self.node(x) {
            Some(Node::Leaf(_)) => out.push(x),
            Some(Node::Parent(p)) => {
                out.push(x);
                out.extend(p.unmerged_leaves.iter().map(|&l| LeafIndex(l).node()));
            }
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

    // ---------------------------------------------------------------------------------------
    // Tree hashes (RFC 9420 §7.8)

    /// Mark `x` and all its ancestors stale.
    fn touch(&mut self, x: NodeIndex) {
        let mut cur = Some(x);
        while let Some(c) = cur {
            if let Some(v) = self.hash_valid.get_mut(c.0 as usize) {
                *v = false;
            }
            cur = math::parent(c, self.n_leaves);
        }
    }

    /// The tree hash of the root, recomputing stale nodes only.
    pub fn tree_hash(&mut self, provider: &Provider) -> Result<Vec<u8>> {
        let root = self.root();
        self.node_tree_hash(root, provider)
    }

    /// The tree hash of node `x`, recomputing stale nodes of its subtree.
    pub fn node_tree_hash(&mut self, x: NodeIndex, provider: &Provider) -> Result<Vec<u8>> {
        self.check_index(x)?;
        self.refresh_hash(x, provider)?;
        Ok(self.cached_hash(x).to_vec())
    }

    fn cached_hash(&self, x: NodeIndex) -> &[u8] {
        let i = x.0 as usize * self.hash_len;
        &self.hashes[i..i + self.hash_len]
    }

    /// Tree hash of `x` in the tree with the leaves in `excluded` (sorted) blanked and removed
    /// from every `unmerged_leaves` list: the "original" tree hash of RFC 9420 §7.9. Reuses
    /// the cached hash of every subtree that contains no excluded leaf.
    fn tree_hash_excluding(
        &mut self,
        x: NodeIndex,
        excluded: &[u32],
        provider: &Provider,
    ) -> Result<Vec<u8>> {
        self.check_index(x)?;
        self.refresh_hash(x, provider)?;
        self.cached_tree_hash_excluding(x, excluded, provider)
    }

    /// [`RatchetTree::tree_hash_excluding`] on a tree whose hashes in the subtree of `x` are
    /// all cached (an internal error otherwise): read-only, so many can run in parallel.
    fn cached_tree_hash_excluding(
        &self,
        x: NodeIndex,
        excluded: &[u32],
        provider: &Provider,
    ) -> Result<Vec<u8>> {
        let in_subtree: Vec<u32> = excluded
            .iter()
            .copied()
            .filter(|&l| math::in_subtree(LeafIndex(l).node(), x))
            .collect();
        if in_subtree.is_empty() {
            return match self.hash_valid.get(x.0 as usize) {
                Some(true) => Ok(self.cached_hash(x).to_vec()),
                _ => Err(Error::Internal("tree hash not cached")),
            };
        }
        match (x.left(), x.right()) {
            (Some(l), Some(r)) => {
                let lh = self.cached_tree_hash_excluding(l, &in_subtree, provider)?;
                let rh = self.cached_tree_hash_excluding(r, &in_subtree, provider)?;
                let filtered = self.parent_node(x).map(|p| ParentNode {
                    encryption_key: p.encryption_key.clone(),
                    parent_hash: p.parent_hash.clone(),
                    unmerged_leaves: p
                        .unmerged_leaves
                        .iter()
                        .copied()
                        .filter(|u| in_subtree.binary_search(u).is_err())
                        .collect(),
                });
                let input = TreeHashInput::Parent(ParentNodeHashInput {
                    parent_node: filtered.as_ref(),
                    left_hash: &lh,
                    right_hash: &rh,
                });
                Ok(provider.hash(&codec::encode(&input)?))
            }
            // `x` is an excluded leaf: hash it as blank.
            _ => {
                let input = TreeHashInput::Leaf(LeafNodeHashInput {
                    leaf_index: x.0 / 2,
                    leaf_node: None,
                });
                Ok(provider.hash(&codec::encode(&input)?))
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Parent hashes (RFC 9420 §7.9)

    /// The parent hash of parent node `p` with copath child `s` (RFC 9420 §7.9), given the
    /// original sibling tree hash.
    pub fn parent_hash_with(
        &self,
        p: NodeIndex,
        original_sibling_tree_hash: &[u8],
        provider: &Provider,
    ) -> Result<Vec<u8>> {
        let parent = self
            .parent_node(p)
            .ok_or(TreeError::BlankNode { index: p.0 })?;
        let input = ParentHashInput {
            encryption_key: parent.encryption_key.as_slice(),
            parent_hash: parent.parent_hash.as_slice(),
            original_sibling_tree_hash,
        };
        Ok(provider.hash(&codec::encode(&input)?))
    }

    /// The parent hash of `p` with copath child `s`, computing the original sibling tree hash
    /// (the tree hash of `s` with `p`'s unmerged leaves removed).
    pub fn parent_hash(
        &mut self,
        p: NodeIndex,
        s: NodeIndex,
        provider: &Provider,
    ) -> Result<Vec<u8>> {
        let unmerged = self
            .parent_node(p)
            .ok_or(TreeError::BlankNode { index: p.0 })?
            .unmerged_leaves
            .clone();
        let osth = self.tree_hash_excluding(s, &unmerged, provider)?;
        self.parent_hash_with(p, &osth, provider)
    }

    /// The `parent_hash` a node claims: a parent node's field, or a leaf's if its source is
    /// `commit`. `None` for other leaves.
    fn claimed_parent_hash(&self, x: NodeIndex) -> Option<&[u8]> {
        match self.node(x)? {
            Node::Parent(p) => Some(p.parent_hash.as_slice()),
            Node::Leaf(l) => match &l.leaf_node_source {
                LeafNodeSourceData::Commit { parent_hash } => Some(parent_hash.as_slice()),
                _ => None,
            },
        }
    }

    /// §7.9.2, third condition: `d` is in the resolution of `c`, and the resolution of `c`
    /// without `d` equals the set of `p`'s unmerged leaves under `c`.
    fn resolution_matches_unmerged(
        &self,
        p: NodeIndex,
        c: NodeIndex,
        d: NodeIndex,
        res_len: &[u32],
    ) -> bool {
        let Some(parent) = self.parent_node(p) else {
            return false;
        };
        let mut count = 0u32;
        for &u in &parent.unmerged_leaves {
            let un = LeafIndex(u).node();
            if !math::in_subtree(un, c) {
                continue;
            }
            if un == d || !self.in_resolution(c, un) {
                return false;
            }
            count += 1;
        }
        // `d` is in res(c): every node strictly between `d` and `p` is blank, because `p` is
        // `d`'s first non-blank ancestor. With the unmerged leaves (all distinct, all in
        // res(c), none equal to d) that accounts for count + 1 members; equality of sizes
        // makes the sets equal.
        res_len[c.0 as usize] == count + 1
    }

    /// True if node `u` (in the subtree of `c`) is in the resolution of `c`.
    fn in_resolution(&self, c: NodeIndex, u: NodeIndex) -> bool {
        let mut x = c;
        loop {
            match self.node(x) {
                Some(Node::Parent(p)) if x != u => {
                    return u
                        .leaf()
                        .is_some_and(|l| p.unmerged_leaves.binary_search(&l.0).is_ok())
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

    // ---------------------------------------------------------------------------------------
    // Edits (RFC 9420 §7.7, §12.1)

    /// Add a leaf (RFC 9420 §12.1.1): the leftmost blank leaf, else extend the tree; the new
    /// leaf index is added to the unmerged leaves of every non-blank ancestor.
    ///
    /// The search for the leftmost blank leaf starts at a hint below which every leaf is
    /// known to be occupied, so `n` adds cost O(n) in total, not O(n^2).
    pub fn add_leaf(&mut self, leaf: LeafNode) -> LeafIndex {
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
        self.first_blank_hint = idx.0 + 1;
        let x = idx.node();
        self.write(x, Some(Node::Leaf(Box::new(leaf))));
        for a in math::direct_path(x, self.n_leaves) {
            if let Some(Some(Node::Parent(p))) = self.nodes.get_mut(a.0 as usize) {
                if let Err(pos) = p.unmerged_leaves.binary_search(&idx.0) {
                    p.unmerged_leaves.insert(pos, idx.0);
                    if let Some(j) = self.journal.as_mut() {
                        j.push(JournalEntry::UnmergedInsert(a, idx.0));
                    }
                }
            }
        }
        self.touch(x);
        idx
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

    /// Set the leaf count (a power of two), growing with blank nodes or dropping the nodes
    /// beyond the new width (which the caller has checked are blank).
    fn resize(&mut self, n_leaves: u32) {
        let old_root = self.root();
        let new_root = math::root(n_leaves);
        if n_leaves < self.n_leaves
            && self.filled.get(old_root.0 as usize) != self.filled.get(new_root.0 as usize)
        {
            // Non-blank nodes beyond the new width (only a tree with a non-blank parent above
            // blank leaves has them): blank them through `write`, so the journal records them
            // and a rollback or redo is exact, and the key index stays right.
            let new_width = math::node_width(n_leaves) as usize;
            for x in new_width..self.nodes.len() {
                if self.nodes[x].is_some() {
                    self.write(NodeIndex(x as u32), None);
                }
            }
        }
        if let Some(j) = self.journal.as_mut() {
            j.push(JournalEntry::Width(self.n_leaves));
        }
        let old_width = self.nodes.len();
        self.n_leaves = n_leaves;
        let width = math::node_width(n_leaves) as usize;
        self.nodes.resize(width, None);
        // Shrinking drops only blank nodes and keeps whole subtrees, so the kept counts stay
        // right. Growing adds blank nodes: the new right subtrees count 0 and every new
        // ancestor of the old root counts what the old root does.
        self.filled.resize(width, 0);
        if width > old_width {
            let below = self.filled[old_root.0 as usize];
            let mut cur = math::parent(old_root, n_leaves);
            while let Some(a) = cur {
                self.filled[a.0 as usize] = below;
                cur = math::parent(a, n_leaves);
            }
        }
        self.hashes.resize(width * self.hash_len, 0);
        // New positions are stale.
        self.hash_valid.resize(width, false);
    }

    /// Replace `leaf`'s node and blank its direct path (an Update, RFC 9420 §12.1.2).
    pub fn update_leaf(&mut self, leaf: LeafIndex, node: LeafNode) -> Result<(), TreeError> {
        if self.leaf(leaf).is_none() {
            return Err(TreeError::BlankNode {
                index: leaf.node().0,
            });
        }
        self.write(leaf.node(), Some(Node::Leaf(Box::new(node))));
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
    pub fn set_node(&mut self, x: NodeIndex, node: Option<Node>) -> Result<(), TreeError> {
        self.check_index(x)?;
        match (&node, x.is_leaf()) {
            (Some(Node::Leaf(_)), false) | (Some(Node::Parent(_)), true) => {
                return Err(TreeError::WrongNodeType { index: x.0 })
            }
            _ => {}
        }
        self.write(x, node);
        Ok(())
    }

    /// The one place a node is written: keeps the journal, the key index, the blank-leaf hint
    /// and the hash cache in step. The old node moves into the open journal (no copy), or is
    /// dropped when no journal is open.
    fn write(&mut self, x: NodeIndex, node: Option<Node>) {
        if let Some(index) = self.key_index.as_mut() {
            if let Some(old) = &self.nodes[x.0 as usize] {
                index.remove(old, x);
            }
            if let Some(new) = &node {
                index.insert(new, x);
            }
        }
        if node.is_none() && x.is_leaf() {
            self.first_blank_hint = self.first_blank_hint.min(x.0 / 2);
        }
        let old = core::mem::replace(&mut self.nodes[x.0 as usize], node);
        match (old.is_some(), self.nodes[x.0 as usize].is_some()) {
            (false, true) => self.adjust_filled(x, true),
            (true, false) => self.adjust_filled(x, false),
            _ => {}
        }
        if let Some(j) = self.journal.as_mut() {
            j.push(JournalEntry::Node(x, old));
        }
        self.touch(x);
    }

    /// Add or take one non-blank node at `x` in the counts of `x` and its ancestors.
    fn adjust_filled(&mut self, x: NodeIndex, filled: bool) {
        let mut cur = Some(x);
        while let Some(c) = cur {
            if let Some(n) = self.filled.get_mut(c.0 as usize) {
                *n = if filled { *n + 1 } else { n.saturating_sub(1) };
            }
            cur = math::parent(c, self.n_leaves);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Journal: all-or-nothing edits

    /// Start recording edits so that [`RatchetTree::rollback`] can undo them. A group applies
    /// a commit's proposals and path under a journal and either keeps the result
    /// ([`RatchetTree::commit_journal`]) or restores the tree exactly. The cost is one saved
    /// node per written node, nothing per untouched node (no whole-tree clone).
    pub fn begin_journal(&mut self) -> Result<(), Error> {
        if self.journal.is_some() {
            return Err(Error::ApiMisuse("a tree journal is already open"));
        }
        self.journal = Some(Vec::new());
        Ok(())
    }

    /// Keep every edit since [`RatchetTree::begin_journal`].
    pub fn commit_journal(&mut self) {
        self.journal = None;
    }

    /// True while a journal is open.
    pub fn journal_open(&self) -> bool {
        self.journal.is_some()
    }

    /// Undo every edit since [`RatchetTree::begin_journal`] and close the journal. Tree
    /// hashes of the restored nodes are recomputed on demand.
    pub fn rollback(&mut self) {
        self.undo(false);
    }

    /// Undo every edit since [`RatchetTree::begin_journal`], as [`RatchetTree::rollback`]
    /// does, and return what was undone so that [`RatchetTree::redo`] can put it back: a
    /// staged commit keeps the tree as it was until the application merges the commit. The
    /// record holds a copy of each edited node's new value: O(edited nodes).
    pub fn rollback_with_redo(&mut self) -> TreeRedo {
        TreeRedo(self.undo(true))
    }

    /// Run `edit` on the tree all or nothing: if it fails, the edits it made are undone and
    /// the tree is as it was before the call. Inside an open journal only this call's edits
    /// are undone, and the journal stays open with the earlier ones (a group merges an
    /// UpdatePath this way, under the journal of the whole commit); with none open, one is
    /// opened for the call and closed after it. `edit` must not open or close the journal.
    pub(crate) fn all_or_nothing<T, E>(
        &mut self,
        edit: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E> {
        let outer = self.journal.as_ref().map(Vec::len);
        if outer.is_none() {
            self.journal = Some(Vec::new());
        }
        let result = edit(self);
        match (&result, outer) {
            (Ok(_), None) => self.commit_journal(),
            (Ok(_), Some(_)) => {}
            (Err(_), None) => self.rollback(),
            (Err(_), Some(mark)) => {
                // Closed while the newer edits are undone, so that undoing records nothing.
                if let Some(mut journal) = self.journal.take() {
                    let newer = journal.split_off(mark.min(journal.len()));
                    self.undo_entries(newer, false);
                    self.journal = Some(journal);
                }
            }
        }
        result
    }

    /// Undo the open journal's edits, newest first, and close it; with `record`, return each
    /// undone edit's new value in the original order (a copy of each edited node, which a
    /// plain rollback does not pay for).
    fn undo(&mut self, record: bool) -> Vec<JournalEntry> {
        match self.journal.take() {
            Some(entries) => self.undo_entries(entries, record),
            None => Vec::new(),
        }
    }

    /// Undo `entries`, newest first, with no journal open (see [`RatchetTree::undo`]).
    fn undo_entries(&mut self, entries: Vec<JournalEntry>, record: bool) -> Vec<JournalEntry> {
        let mut redo = Vec::with_capacity(if record { entries.len() } else { 0 });
        for entry in entries.into_iter().rev() {
            match entry {
                JournalEntry::Node(x, old) => {
                    if record {
                        redo.push(JournalEntry::Node(x, self.nodes[x.0 as usize].clone()));
                    }
                    self.write(x, old);
                }
                JournalEntry::UnmergedInsert(x, leaf) => {
                    if let Some(Some(Node::Parent(p))) = self.nodes.get_mut(x.0 as usize) {
                        if let Ok(pos) = p.unmerged_leaves.binary_search(&leaf) {
                            p.unmerged_leaves.remove(pos);
                        }
                    }
                    self.touch(x);
                    if record {
                        redo.push(JournalEntry::UnmergedInsert(x, leaf));
                    }
                }
                JournalEntry::Width(n) => {
                    if record {
                        redo.push(JournalEntry::Width(self.n_leaves));
                    }
                    self.resize(n);
                    let root = self.root();
                    self.touch(root);
                }
            }
        }
        self.first_blank_hint = 0;
        redo.reverse();
        redo
    }

    /// Re-apply the edits a [`RatchetTree::rollback_with_redo`] undid, in their order, on the
    /// tree it left (the caller guarantees nothing changed the tree in between).
    pub fn redo(&mut self, redo: TreeRedo) {
        for entry in redo.0 {
            match entry {
                JournalEntry::Node(x, new) => self.write(x, new),
                JournalEntry::UnmergedInsert(x, leaf) => {
                    if let Some(Some(Node::Parent(p))) = self.nodes.get_mut(x.0 as usize) {
                        if let Err(pos) = p.unmerged_leaves.binary_search(&leaf) {
                            p.unmerged_leaves.insert(pos, leaf);
                        }
                    }
                    self.touch(x);
                }
                JournalEntry::Width(n) => {
                    self.resize(n);
                    let root = self.root();
                    self.touch(root);
                }
            }
        }
        self.first_blank_hint = 0;
    }

    // ---------------------------------------------------------------------------------------
    // Key index: uniqueness checks for new keys without scanning the tree

    /// How many nodes hold HPKE public key `key` (0 or 1 in a valid tree). The index is built
    /// when a tree is decoded ([`RatchetTree::from_wire`]) or on first use (one pass over the
    /// tree), and then kept up to date by every edit.
    pub fn encryption_key_count(&mut self, key: &[u8]) -> u32 {
        self.build_index();
        match &self.key_index {
            Some(index) => index.count(KeyKind::Encryption, key, &self.nodes),
            None => unreachable!(),
        }
    }

    /// How many leaves hold signature key `key` (0 or 1 in a valid tree).
    pub fn signature_key_count(&mut self, key: &[u8]) -> u32 {
        self.build_index();
        match &self.key_index {
            Some(index) => index.count(KeyKind::Signature, key, &self.nodes),
            None => unreachable!(),
        }
    }

    fn build_index(&mut self) {
        if self.key_index.is_none() {
            let mut index = KeyIndex::default();
            for (i, n) in self.nodes.iter().enumerate() {
                if let Some(n) = n {
                    index.insert(n, NodeIndex(i as u32));
                }
            }
            self.key_index = Some(index);
        }
    }
}

/// The number of non-blank nodes in the subtree of every node of a full (2^k − 1 wide) node
/// array, bottom-up by level: a node at level `l` has its children `2^(l−1)` to each side.
fn subtree_fill_counts(nodes: &[Option<Node>]) -> Vec<u32> {
    let mut filled: Vec<u32> = nodes.iter().map(|n| u32::from(n.is_some())).collect();
    let mut level = 1u32;
    while (1usize << level) <= nodes.len() {
        let half = 1usize << (level - 1);
        let mut x = (1usize << level) - 1;
        while x < nodes.len() {
            filled[x] += filled[x - half] + filled.get(x + half).copied().unwrap_or(0);
            x += 1usize << (level + 1);
        }
        level += 1;
    }
    filled
}

/// Edits undone by [`RatchetTree::rollback_with_redo`], to be put back with
/// [`RatchetTree::redo`].
#[derive(Debug, Clone, Default)]
pub struct TreeRedo(Vec<JournalEntry>);

/// One recorded edit (see [`RatchetTree::begin_journal`]).
#[derive(Debug, Clone)]
enum JournalEntry {
    /// The node at this index was replaced; this was its old value (moved here by
    /// [`RatchetTree::write`]; a leaf is already boxed, so the entry stays small).
    Node(NodeIndex, Option<Node>),
    /// This leaf was inserted into the unmerged leaves of this parent node.
    UnmergedInsert(NodeIndex, u32),
    /// The leaf count was changed; this was the old one.
    Width(u32),
}

/// Which key of a node an index look-up is about.
#[derive(Debug, Clone, Copy)]
enum KeyKind {
    /// The HPKE encryption key (leaves and parents).
    Encryption,
    /// The signature key (leaves only).
    Signature,
}

impl KeyKind {
    fn of(self, node: &Node) -> Option<&[u8]> {
        match (self, node) {
            (KeyKind::Encryption, Node::Leaf(l)) => Some(l.encryption_key.as_slice()),
            (KeyKind::Encryption, Node::Parent(p)) => Some(p.encryption_key.as_slice()),
            (KeyKind::Signature, Node::Leaf(l)) => Some(l.signature_key.as_slice()),
            (KeyKind::Signature, Node::Parent(_)) => None,
        }
    }
}

/// Multiset of the keys in the tree, as the positions of the nodes holding them.
///
/// The maps hold a 64-bit hash of each key (keyed per index with a random [`RandomState`],
/// so members cannot aim keys at one bucket) and the node index of one holder; every hit is
/// confirmed against the key stored in the node, so counts are exact whatever collides.
/// Further nodes with the same hash (the same key twice, or a 64-bit collision) go to the
/// rarely used `more` lists. That is 16 bytes per key and no allocation, where a map of
/// owned keys cost ~24 bytes plus a ~48-byte key allocation per key (~12 MB at 50,000
/// members, for ~100,000 encryption and ~50,000 signature keys).
#[derive(Debug, Clone, Default)]
struct KeyIndex {
    state: RandomState,
    enc: HashMap<u64, u32>,
    sig: HashMap<u64, u32>,
    more_enc: HashMap<u64, Vec<u32>>,
    more_sig: HashMap<u64, Vec<u32>>,
}

impl KeyIndex {
    fn maps(&mut self, kind: KeyKind) -> (&mut HashMap<u64, u32>, &mut HashMap<u64, Vec<u32>>) {
        match kind {
            KeyKind::Encryption => (&mut self.enc, &mut self.more_enc),
            KeyKind::Signature => (&mut self.sig, &mut self.more_sig),
        }
    }

    /// Number of nodes in `nodes` holding `key` as their `kind` key.
    fn count(&self, kind: KeyKind, key: &[u8], nodes: &[Option<Node>]) -> u32 {
        let (first, more) = match kind {
            KeyKind::Encryption => (&self.enc, &self.more_enc),
            KeyKind::Signature => (&self.sig, &self.more_sig),
        };
        let h = self.state.hash_one(key);
        let holds = |x: &u32| {
            nodes
                .get(*x as usize)
                .and_then(Option::as_ref)
                .and_then(|n| kind.of(n))
                == Some(key)
        };
        let extra = more
            .get(&h)
            .map_or(0, |v| v.iter().filter(|x| holds(x)).count());
        u32::from(first.get(&h).is_some_and(holds)) + extra as u32
    }

    fn insert(&mut self, node: &Node, x: NodeIndex) {
        for kind in [KeyKind::Encryption, KeyKind::Signature] {
            let Some(key) = kind.of(node) else { continue };
            let h = self.state.hash_one(key);
            let (first, more) = self.maps(kind);
            match first.entry(h) {
                Entry::Vacant(e) => {
                    e.insert(x.0);
                }
                Entry::Occupied(_) => more.entry(h).or_default().push(x.0),
            }
        }
    }

    fn remove(&mut self, node: &Node, x: NodeIndex) {
        for kind in [KeyKind::Encryption, KeyKind::Signature] {
            let Some(key) = kind.of(node) else { continue };
            let h = self.state.hash_one(key);
            let (first, more) = self.maps(kind);
            let mut extra = match more.entry(h) {
                Entry::Occupied(e) => Some(e),
                Entry::Vacant(_) => None,
            };
            if first.get(&h) == Some(&x.0) {
                // Promote another holder of the hash, if any.
                match extra.as_mut().and_then(|e| e.get_mut().pop()) {
                    Some(y) => {
                        first.insert(h, y);
                    }
                    None => {
                        first.remove(&h);
                    }
                }
            } else if let Some(e) = extra.as_mut() {
                if let Some(pos) = e.get().iter().position(|&y| y == x.0) {
                    e.get_mut().swap_remove(pos);
                }
            }
            if let Some(e) = extra {
                if e.get().is_empty() {
                    e.remove();
                }
            }
        }
    }
}

impl RatchetTree {
    /// Every parent node's encryption key is valid for the suite (leaves are checked with
    /// [`validate_leaf_node`]): a member must be able to seal to every node of a resolution.
    pub(crate) fn check_parent_keys(&self, provider: &Provider) -> Result<()> {
        for n in self.nodes.iter().flatten() {
            if let Node::Parent(p) = n {
                provider.check_hpke_public_key(p.encryption_key.as_slice())?;
            }
        }
        Ok(())
    }
}

/// Validate one LeafNode (RFC 9420 §7.3): signature over LeafNodeTBS (with the group id and
/// leaf index for `update` and `commit` sources), an encryption key valid for the suite, no
/// extension type twice (§13.4), non-default extensions listed in its
/// capabilities, its credential type listed in its capabilities and every credential type in
/// use supported. The lifetime is not checked here (the caller owns the clock).
pub fn validate_leaf_node(
    provider: &Provider,
    leaf: &LeafNode,
    position: Option<(&[u8], LeafIndex)>,
    credential_types_in_use: &HashSet<u16>,
) -> Result<()> {
    let tbs = match position {
        Some((group_id, i)) => LeafNodeTbs::in_group(leaf, group_id, i.0),
        None => LeafNodeTbs::key_package(leaf),
    };
    provider.verify_with_label(
        leaf.signature_key.as_slice(),
        b"LeafNodeTBS",
        &codec::encode(&tbs)?,
        leaf.signature.as_slice(),
    )?;
    check_leaf_contents(provider, leaf, credential_types_in_use)
}

/// The checks of [`validate_leaf_node`] other than the signature, for leaves whose signature
/// was verified elsewhere (an UpdatePath's leaf is verified when the path is staged).
pub(crate) fn check_leaf_contents(
    provider: &Provider,
    leaf: &LeafNode,
    credential_types_in_use: &HashSet<u16>,
) -> Result<()> {
    provider.check_hpke_public_key(leaf.encryption_key.as_slice())?;
    codec::check_unique_extensions(&leaf.extensions)?;
    // Extension types 1..=5 are RFC 9420's "default" ones (§7.2), which MUST NOT be listed.
    for ext in &leaf.extensions {
        let t = ext.extension_type;
        if !(1..=5).contains(&t.0) && !leaf.capabilities.extensions.contains(&t) {
            return Err(TreeError::UnsupportedExtension {
                extension_type: t.0,
            }
            .into());
        }
    }
    let caps: HashSet<u16> = leaf.capabilities.credentials.iter().map(|c| c.0).collect();
    for t in credential_types_in_use
        .iter()
        .chain([&leaf.credential.credential_type().0])
    {
        if !caps.contains(t) {
            return Err(TreeError::UnsupportedCredential {
                credential_type: *t,
            }
            .into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod reserve_tests {
    use super::*;
    use crate::codec::{LeafNodeSourceData, Lifetime};
    use crate::crypto::CipherSuite;
    use crate::key_package::signed_leaf_node;

    fn leaf(p: &Provider, i: u32) -> LeafNode {
        let mut seed = [0u8; 32];
        seed[..4].copy_from_slice(&i.to_be_bytes());
        let (signer, _) = p.signature_key_pair_from_seed(&seed).unwrap();
        seed[31] = 1;
        let (_, enc) = p.derive_hpke_key_pair(&seed).unwrap();
        let lifetime = Lifetime {
            not_before: 0,
            not_after: u64::MAX,
        };
        signed_leaf_node(
            p,
            &signer,
            format!("m{i}").as_bytes(),
            enc,
            LeafNodeSourceData::KeyPackage { lifetime },
            None,
        )
        .unwrap()
    }

    fn capacities(t: &RatchetTree) -> [usize; 4] {
        [
            t.nodes.capacity(),
            t.filled.capacity(),
            t.hash_valid.capacity(),
            t.hashes.capacity(),
        ]
    }

    /// After `reserve_leaves(k)`, `k` adds never reallocate, and the tree is the one built
    /// without the reservation: from a 1-leaf tree, from a full power-of-two tree, and from a
    /// tree with blank leaves (which adds fill first).
    #[test]
    fn reserved_adds_do_not_reallocate_and_change_nothing() {
        let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
        let leaves: Vec<LeafNode> = (0..400).map(|i| leaf(&p, i)).collect();
        let hl = p.hash_len();
        let start_trees = |kind: u8| {
            let mut t = RatchetTree::new(leaves[0].clone(), hl);
            let n = match kind {
                0 => 1,
                1 => 64,
                _ => 100,
            };
            for l in &leaves[1..n] {
                t.add_leaf(l.clone());
            }
            if kind == 2 {
                for i in [3, 10, 11, 50, 99] {
                    t.remove_leaf(LeafIndex(i)).unwrap();
                }
            }
            t
        };
        for kind in 0..3u8 {
            for k in [RESERVE_MIN_LEAVES, 100, 129, 290] {
                let mut plain = start_trees(kind);
                let mut reserved = start_trees(kind);
                reserved.reserve_leaves(k);
                let before = capacities(&reserved);
                for (a, l) in leaves[100..100 + k].iter().enumerate() {
                    plain.add_leaf(l.clone());
                    reserved.add_leaf(l.clone());
                    assert_eq!(capacities(&reserved), before, "kind {kind} k {k} add {a}");
                }
                assert!(reserved.nodes.len() * 2 > before[0], "over-reserved");
                assert_eq!(reserved.to_wire(), plain.to_wire(), "kind {kind} k {k}");
                assert_eq!(
                    reserved.tree_hash(&p).unwrap(),
                    plain.tree_hash(&p).unwrap()
                );
            }
        }
    }
}
