//! The tree-hash cache (RFC 9420 §7.8) and its recomputation.
//!
//! Tree hashes live in one flat `Vec<u8>` (`hash_len` bytes per node) with a validity flag
//! per node, so a 50,000-member tree carries no per-node hash allocation. Every write marks
//! the written node and its ancestors stale ([`RatchetTree::touch`]); a hash is recomputed
//! when it is asked for, and only for stale nodes, so an edit along one path costs O(log n)
//! hashes. The recomputation is one recursion over subtrees, generic over [`Join`]: serial
//! for the subtree of one node (after edits, a few paths are stale), split over rayon when a
//! received tree (every node stale) is validated.
//! The "original" tree hashes of parent hashes (§7.9: some leaves removed) reuse the cache of
//! every subtree that holds none of those leaves.

use super::node::{self, StoredNode};
use super::{RatchetTree, SUBTREE_CUTOFF_NODES};
use crate::batch::{self, Join, SerialJoin};
use crate::codec::{self, LeafNodeHashInput, ParentNodeHashInput, TreeHashInput};
use crate::crypto::Provider;
use crate::error::{Error, Result};
use crate::tree::math::{self, LeafIndex, NodeIndex};

/// What the tree-hash recursion shares.
#[derive(Clone, Copy)]
struct HashCtx<'a> {
    provider: &'a Provider,
    hash_len: usize,
}

/// Recompute every stale tree hash in the subtree stored at `nodes` (whose first position is
/// global node index `first`), writing into `hashes` / `valid` (the same subtree's parts of
/// the cache). The subtree root sits in the middle.
fn refresh_subtree<J: Join>(
    ctx: HashCtx<'_>,
    first: u32,
    nodes: &[Option<StoredNode>],
    hashes: &mut [u8],
    valid: &mut [bool],
) -> Result<()> {
    let mid = nodes.len() / 2;
    if valid[mid] {
        return Ok(());
    }
    let hl = ctx.hash_len;
    let mut input = Vec::new();
    let h = if nodes.len() == 1 {
        node::leaf_hash_input(first / 2, nodes[0].as_ref(), &mut input);
        ctx.provider.hash(&input)
    } else {
        let (n_left, n_rest) = nodes.split_at(mid);
        let (n_mid, n_right) = n_rest.split_at(1);
        let (h_left, h_rest) = hashes.split_at_mut(mid * hl);
        let (_, h_right) = h_rest.split_at_mut(hl);
        let (v_left, v_rest) = valid.split_at_mut(mid);
        let (_, v_right) = v_rest.split_at_mut(1);
        let right_first = first + mid as u32 + 1;
        let (a, b) = batch::join_if::<J, _, _, _, _>(
            nodes.len() > SUBTREE_CUTOFF_NODES,
            || refresh_subtree::<J>(ctx, first, n_left, h_left, v_left),
            || refresh_subtree::<J>(ctx, right_first, n_right, h_right, v_right),
        );
        a.and(b)?;
        // Each child subtree has `mid` nodes, its root in its middle.
        let child = mid / 2;
        node::parent_hash_input(
            n_mid[0].as_ref(),
            &h_left[child * hl..(child + 1) * hl],
            &h_right[child * hl..(child + 1) * hl],
            &mut input,
        )?;
        ctx.provider.hash(&input)
    };
    if h.len() != hl {
        return Err(Error::Internal(
            "hash length differs from the tree's hash length",
        ));
    }
    hashes[mid * hl..(mid + 1) * hl].copy_from_slice(&h);
    valid[mid] = true;
    Ok(())
}

impl RatchetTree {
    /// Mark `x` and all its ancestors stale.
    pub(super) fn touch(&mut self, x: NodeIndex) {
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

    pub(super) fn cached_hash(&self, x: NodeIndex) -> &[u8] {
        let i = x.0 as usize * self.hash_len;
        &self.hashes[i..i + self.hash_len]
    }

    /// Tree hash of `x` in the tree with the leaves in `excluded` (sorted) blanked and removed
    /// from every `unmerged_leaves` list: the "original" tree hash of RFC 9420 §7.9. Reuses
    /// the cached hash of every subtree that contains no excluded leaf.
    pub(super) fn tree_hash_excluding(
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
    pub(super) fn cached_tree_hash_excluding(
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
                let filtered = self.parent_node(x).map(|p| {
                    let mut p = p.decode();
                    p.unmerged_leaves
                        .retain(|u| in_subtree.binary_search(u).is_err());
                    p
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

    /// Recompute every stale tree hash, split by subtree over `J`.
    pub(super) fn refresh_all<J: Join>(&mut self, provider: &Provider) -> Result<()> {
        let ctx = HashCtx {
            provider,
            hash_len: self.hash_len,
        };
        refresh_subtree::<J>(ctx, 0, &self.nodes, &mut self.hashes, &mut self.hash_valid)
    }

    /// Recompute the stale tree hashes of the subtree of `x` (serially).
    fn refresh_hash(&mut self, x: NodeIndex, provider: &Provider) -> Result<()> {
        let ctx = HashCtx {
            provider,
            hash_len: self.hash_len,
        };
        let half = (1usize << x.level()) - 1;
        let (lo, hi) = (x.0 as usize - half, x.0 as usize + half + 1);
        refresh_subtree::<SerialJoin>(
            ctx,
            lo as u32,
            &self.nodes[lo..hi],
            &mut self.hashes[lo * self.hash_len..hi * self.hash_len],
            &mut self.hash_valid[lo..hi],
        )
    }
}
