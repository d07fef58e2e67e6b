//! Parent hashes (RFC 9420 §7.9): the parent hash of a node against its copath child, and
//! the check that every non-blank parent node is parent-hash valid (§7.9.2).
//!
//! A node D can be parent-hash valid only with respect to its first non-blank ancestor P
//! ([`RatchetTree::verify_parent_hashes`] says why), so the check is linear in the number of
//! nodes: one subtree recursion finds every node's first non-blank ancestor and resolution
//! size, the distinct (parent, sibling) pairs some node claims a parent hash against are
//! hashed once each, and every candidate is then checked on its own. All three steps run on a
//! [`Join`], so validation can split them over threads.

use super::node::{NodeRef, StoredNode};
use super::{RatchetTree, NODE_CUTOFF, SUBTREE_CUTOFF_NODES};
use crate::batch::{self, Executor, Join, RayonJoin, SerialJoin};
use crate::codec::{self, ParentHashInput};
use crate::crypto::Provider;
use crate::error::{Error, Result};
use crate::tree::math::{self, LeafIndex, NodeIndex};
use crate::tree::TreeError;

/// Parent-hash computations per task (one short hash each, more with unmerged leaves).
const PAIR_CUTOFF: usize = if cfg!(test) { 1 } else { 256 };

/// First non-blank strict ancestor (`anc`) and resolution size (`res`) of every node of the
/// subtree stored at `nodes` (first global index `first`), `above` being the first non-blank
/// strict ancestor of the subtree root.
fn structure<J: Join>(
    first: u32,
    nodes: &[Option<StoredNode>],
    above: Option<NodeIndex>,
    anc: &mut [Option<NodeIndex>],
    res: &mut [u32],
) {
    let mid = nodes.len() / 2;
    anc[mid] = above;
    res[mid] = match nodes[mid].as_ref().map(StoredNode::view) {
        Some(NodeRef::Leaf(_)) => 1,
        Some(NodeRef::Parent(p)) => 1 + p.unmerged_leaves().len() as u32,
        None => 0,
    };
    if nodes.len() == 1 {
        return;
    }
    let next = if nodes[mid].is_some() {
        Some(NodeIndex(first + mid as u32))
    } else {
        above
    };
    let (n_left, n_rest) = nodes.split_at(mid);
    let n_right = &n_rest[1..];
    let (a_left, a_rest) = anc.split_at_mut(mid);
    let a_right = &mut a_rest[1..];
    let (r_left, r_rest) = res.split_at_mut(mid);
    let (r_mid, r_right) = r_rest.split_at_mut(1);
    batch::join_if::<J, _, _, _, _>(
        nodes.len() > SUBTREE_CUTOFF_NODES,
        || structure::<J>(first, n_left, next, a_left, r_left),
        || structure::<J>(first + mid as u32 + 1, n_right, next, a_right, r_right),
    );
    if nodes[mid].is_none() {
        let child = mid / 2;
        r_mid[0] = r_left[child] + r_right[child];
    }
}

impl RatchetTree {
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
            encryption_key: parent.encryption_key(),
            parent_hash: parent.parent_hash(),
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
            .unmerged_leaves()
            .to_vec();
        let osth = self.tree_hash_excluding(s, &unmerged, provider)?;
        self.parent_hash_with(p, &osth, provider)
    }

    /// The `parent_hash` a node claims: a parent node's field, or a leaf's if its source is
    /// `commit`. `None` for other leaves.
    pub(super) fn claimed_parent_hash(&self, x: NodeIndex) -> Option<&[u8]> {
        match self.node(x)? {
            NodeRef::Parent(p) => Some(p.parent_hash()),
            NodeRef::Leaf(l) => l.parent_hash(),
        }
    }

    /// §7.9.2, third condition: `d` is in the resolution of `c`, and the resolution of `c`
    /// without `d` equals the set of `p`'s unmerged leaves under `c`.
    pub(super) fn resolution_matches_unmerged(
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
        for u in parent.unmerged_leaves().iter() {
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

    /// Verify that every non-blank parent node is parent-hash valid (RFC 9420 §7.9.2).
    ///
    /// A node D can be parent-hash valid only with respect to its first non-blank ancestor P:
    /// D must lie in the resolution of P's child C on D's side, and the rest of that resolution
    /// must consist of P's unmerged leaves — leaves, so no non-blank parent may sit between D
    /// and P. So each D has at most one candidate P, and the check is linear in the number of
    /// nodes (plus the unmerged-leaf walks). Each non-blank parent must be covered by exactly
    /// one D. Runs serially; see [`RatchetTree::verify_parent_hashes_with`].
    pub fn verify_parent_hashes(&mut self, provider: &Provider) -> Result<()> {
        self.verify_parent_hashes_with(provider, Executor::Serial)
    }

    /// [`RatchetTree::verify_parent_hashes`] on `executor`; the same result either way.
    pub fn verify_parent_hashes_with(
        &mut self,
        provider: &Provider,
        executor: Executor,
    ) -> Result<()> {
        match executor {
            Executor::Parallel => {
                self.refresh_all::<RayonJoin>(provider)?;
                self.verify_parent_hashes_generic::<RayonJoin>(provider)
            }
            Executor::Serial => {
                self.refresh_all::<SerialJoin>(provider)?;
                self.verify_parent_hashes_generic::<SerialJoin>(provider)
            }
        }
    }

    /// The parent-hash check on a tree whose hash cache is complete.
    pub(super) fn verify_parent_hashes_generic<J: Join>(&self, provider: &Provider) -> Result<()> {
        let width = self.nodes.len();
        let mut anc: Vec<Option<NodeIndex>> = vec![None; width];
        let mut res_len = vec![0u32; width];
        structure::<J>(0, &self.nodes, None, &mut anc, &mut res_len);

        // Candidates: (d, p, c, s) for every node d that claims a parent hash and has a
        // non-blank ancestor p; c is p's child on d's side, s the other child.
        let index: Vec<u32> = (0..width as u32).collect();
        let candidates: Vec<Option<[u32; 4]>> =
            batch::try_map::<J, _, _, Error>(&index, NODE_CUTOFF, |_, &d| {
                let d = NodeIndex(d);
                let (Some(_), Some(p)) = (self.claimed_parent_hash(d), anc[d.0 as usize]) else {
                    return Ok(None);
                };
                let (Some(pl), Some(pr)) = (p.left(), p.right()) else {
                    return Err(Error::Internal("non-blank ancestor is not a parent"));
                };
                let (c, s) = if math::in_subtree(d, pl) {
                    (pl, pr)
                } else {
                    (pr, pl)
                };
                Ok(Some([d.0, p.0, c.0, s.0]))
            })?;
        drop(index);
        let candidates: Vec<[u32; 4]> = candidates.into_iter().flatten().collect();

        // The parent hash of each distinct (p, s), computed once.
        let mut pairs: Vec<(u32, u32)> = candidates.iter().map(|c| (c[1], c[3])).collect();
        pairs.sort_unstable();
        pairs.dedup();
        let expected: Vec<Vec<u8>> =
            batch::try_map::<J, _, _, _>(&pairs, PAIR_CUTOFF, |_, &(p, s)| {
                let p = NodeIndex(p);
                let unmerged = self
                    .parent_node(p)
                    .ok_or(TreeError::BlankNode { index: p.0 })?
                    .unmerged_leaves()
                    .to_vec();
                let osth = self.cached_tree_hash_excluding(NodeIndex(s), &unmerged, provider)?;
                self.parent_hash_with(p, &osth, provider)
            })?;

        // Which parent each candidate covers, if any.
        let covers: Vec<Option<u32>> =
            batch::try_map::<J, _, _, Error>(&candidates, NODE_CUTOFF, |_, &[d, p, c, s]| {
                let k = pairs
                    .binary_search(&(p, s))
                    .map_err(|_| Error::Internal("parent-hash pair missing"))?;
                let claimed = self.claimed_parent_hash(NodeIndex(d));
                if claimed != Some(expected[k].as_slice()) {
                    return Ok(None);
                }
                let ok = self.resolution_matches_unmerged(
                    NodeIndex(p),
                    NodeIndex(c),
                    NodeIndex(d),
                    &res_len,
                );
                Ok(ok.then_some(p))
            })?;
        let mut covered = vec![0u32; width];
        for p in covers.into_iter().flatten() {
            covered[p as usize] += 1;
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if n.as_ref().is_some_and(|n| !n.is_leaf()) && covered[i] != 1 {
                return Err(TreeError::ParentHashInvalid { index: i as u32 }.into());
            }
        }
        Ok(())
    }
}
