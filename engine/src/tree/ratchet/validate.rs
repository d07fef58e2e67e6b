//! Full validation of a received tree (RFC 9420 §7.3, §7.8, §7.9.2, §12.4.3.1), split by
//! subtree and written once, generic over [`Join`]: [`SerialJoin`] is the reference,
//! [`RayonJoin`] runs the same recursion on rayon's pool. Both return the same tree hash or
//! the same error.
//!
//! # Internal documentation
//!
//! The in-order array layout puts the subtree of a node of level `k` at `2^(k+1) - 1`
//! consecutive positions: the left subtree, the node, the right subtree. So a recursion over
//! a subtree can hand its two halves to [`Join::join`] as disjoint slices of node storage,
//! hash cache and per-node outputs (`split_at_mut`), with no locking and no `unsafe`.
//!
//! Every check costs work linear in the number of nodes (plus the unmerged-leaf walks of
//! §12.4.3.1 and the exclusion of unmerged leaves from original sibling tree hashes, both
//! bounded by the total length of the unmerged-leaf lists times the depth):
//!
//! - unmerged leaves: one independent check per parent node ([`crate::batch::try_map`]);
//! - key uniqueness: the keys are split into shards by a few key bytes; each shard is scanned
//!   in node order by one task with its own hash sets, and the reported duplicate is the
//!   smallest `(node index, signature before encryption key)` over all shards, which is the
//!   one the plain left-to-right scan meets first;
//! - leaf signatures and capabilities: one task per few leaves;
//! - tree hash: the subtree recursion above, hashing each stale node once;
//! - parent hashes: the first non-blank ancestor and resolution size of every node in one
//!   subtree recursion, then the distinct `(parent, sibling)` pairs that some node claims a
//!   parent hash against are hashed once each, then every candidate is checked
//!   independently.
//!
//! Errors are reported in a fixed order of checks (unmerged leaves, keys, leaves, parent
//! hashes), and within a check at the lowest index, so serial and parallel agree.

use std::collections::HashSet;

use super::super::math::{self, LeafIndex, NodeIndex};
use super::super::TreeError;
use super::{validate_leaf_node, RatchetTree, LEAF_CHECK_CUTOFF};
use crate::batch::{self, Executor, Join, RayonJoin, SerialJoin};
use crate::codec::{
    self, LeafNode, LeafNodeHashInput, Node, ParentNode, ParentNodeHashInput, TreeHashInput,
};
use crate::crypto::Provider;
use crate::error::{Error, Result};

/// Subtrees of at most this many nodes are processed by one task: a tree hash is about a
/// microsecond of work per node, so a task carries a few hundred microseconds.
/// (Tiny under `cfg(test)`, so that small test trees split too.)
const SUBTREE_CUTOFF_NODES: usize = if cfg!(test) { 3 } else { 511 };
/// Items per task for the cheap per-node checks (unmerged leaves, parent-hash candidates).
const NODE_CUTOFF: usize = if cfg!(test) { 2 } else { 1024 };
/// Parent-hash computations per task (one short hash each, more with unmerged leaves).
const PAIR_CUTOFF: usize = if cfg!(test) { 1 } else { 256 };
/// Number of key shards for the uniqueness check: a few per core, each scanning all nodes
/// (a pointer and a byte test per node) and hashing its own share of the keys.
const KEY_SHARDS: usize = 8;

/// The shard of a key: a mix of its first bytes (public keys are uniformly distributed; keys
/// crafted to collide only make one shard bigger, never the answer different).
fn shard_of(key: &[u8]) -> usize {
    let x = key
        .iter()
        .take(4)
        .fold(0usize, |h, &b| h.wrapping_mul(31) ^ b as usize);
    x % KEY_SHARDS
}

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
    nodes: &[Option<Node>],
    hashes: &mut [u8],
    valid: &mut [bool],
) -> Result<()> {
    let mid = nodes.len() / 2;
    if valid[mid] {
        return Ok(());
    }
    let hl = ctx.hash_len;
    let h = if nodes.len() == 1 {
        let leaf_node: Option<&LeafNode> = match &nodes[0] {
            Some(Node::Leaf(l)) => Some(l),
            _ => None,
        };
        ctx.provider
            .hash(&codec::encode(&TreeHashInput::Leaf(LeafNodeHashInput {
                leaf_index: first / 2,
                leaf_node,
            }))?)
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
        let parent_node = match &n_mid[0] {
            Some(Node::Parent(p)) => Some(p),
            _ => None,
        };
        let input = TreeHashInput::Parent(ParentNodeHashInput {
            parent_node,
            left_hash: &h_left[child * hl..(child + 1) * hl],
            right_hash: &h_right[child * hl..(child + 1) * hl],
        });
        ctx.provider.hash(&codec::encode(&input)?)
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

/// First non-blank strict ancestor (`anc`) and resolution size (`res`) of every node of the
/// subtree stored at `nodes` (first global index `first`), `above` being the first non-blank
/// strict ancestor of the subtree root.
fn structure<J: Join>(
    first: u32,
    nodes: &[Option<Node>],
    above: Option<NodeIndex>,
    anc: &mut [Option<NodeIndex>],
    res: &mut [u32],
) {
    let mid = nodes.len() / 2;
    anc[mid] = above;
    res[mid] = match &nodes[mid] {
        Some(Node::Leaf(_)) => 1,
        Some(Node::Parent(p)) => 1 + p.unmerged_leaves.len() as u32,
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
    /// Full validation of a tree received from outside (joining a group): unmerged-leaf
    /// rules, key uniqueness, every leaf's signature and capabilities, and parent hashes.
    /// Returns the tree hash, for the caller to compare with the GroupContext.
    pub fn validate(&mut self, provider: &Provider, group_id: &[u8]) -> Result<Vec<u8>> {
        self.validate_with(provider, group_id, Executor::default())
    }

    /// [`RatchetTree::validate`] with every check split by subtree or by index and run on
    /// `executor` (see the module docs). The result, and the error if any, does not
    /// depend on the executor.
    pub fn validate_with(
        &mut self,
        provider: &Provider,
        group_id: &[u8],
        executor: Executor,
    ) -> Result<Vec<u8>> {
        match executor {
            Executor::Parallel => self.validate_generic::<RayonJoin>(provider, group_id),
            Executor::Serial => self.validate_generic::<SerialJoin>(provider, group_id),
        }
    }

    fn validate_generic<J: Join>(
        &mut self,
        provider: &Provider,
        group_id: &[u8],
    ) -> Result<Vec<u8>> {
        self.check_unmerged_leaves_generic::<J>()?;
        self.check_key_uniqueness_generic::<J>()?;
        self.check_parent_keys(provider)?;
        self.check_leaves::<J>(provider, group_id)?;
        self.refresh_all::<J>(provider)?;
        self.verify_parent_hashes_generic::<J>(provider)?;
        Ok(self.cached_hash(self.root()).to_vec())
    }

    /// Every leaf's signature (with the group id and its index) and contents
    /// ([`validate_leaf_node`]) against the credential types in use, a few leaves per task;
    /// the error is that of the lowest failing leaf.
    pub(super) fn check_leaves<J: Join>(&self, provider: &Provider, group_id: &[u8]) -> Result<()> {
        let credential_types: HashSet<u16> = self
            .leaves()
            .map(|(_, l)| l.credential.credential_type().0)
            .collect();
        let leaves: Vec<(LeafIndex, &LeafNode)> = self.leaves().collect();
        batch::try_map::<J, _, _, _>(&leaves, LEAF_CHECK_CUTOFF, |_, &(i, leaf)| {
            validate_leaf_node(provider, leaf, Some((group_id, i)), &credential_types)
        })
        .map(drop)
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
    pub(super) fn refresh_hash(&mut self, x: NodeIndex, provider: &Provider) -> Result<()> {
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
    fn verify_parent_hashes_generic<J: Join>(&self, provider: &Provider) -> Result<()> {
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
                let unmerged = &self
                    .parent_node(p)
                    .ok_or(TreeError::BlankNode { index: p.0 })?
                    .unmerged_leaves;
                let osth = self.cached_tree_hash_excluding(NodeIndex(s), unmerged, provider)?;
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
            if let Some(Node::Parent(_)) = n {
                if covered[i] != 1 {
                    return Err(TreeError::ParentHashInvalid { index: i as u32 }.into());
                }
            }
        }
        Ok(())
    }

    /// §12.4.3.1: every unmerged leaf is a non-blank descendant, lists are sorted, and every
    /// non-blank node between the leaf and the parent lists it too.
    pub fn check_unmerged_leaves(&self) -> Result<(), TreeError> {
        self.check_unmerged_leaves_generic::<SerialJoin>()
    }

    fn check_unmerged_leaves_generic<J: Join>(&self) -> Result<(), TreeError> {
        batch::try_map::<J, _, _, _>(&self.nodes, NODE_CUTOFF, |i, n| match n {
            Some(Node::Parent(p)) => self.check_unmerged_leaves_of(NodeIndex(i as u32), p),
            _ => Ok(()),
        })
        .map(drop)
    }

    /// §12.4.3.1 for the parent node `p` at `px`: its list is sorted, every leaf in it is a
    /// non-blank descendant, and every non-blank node between that leaf and `px` lists it too.
    fn check_unmerged_leaves_of(&self, px: NodeIndex, p: &ParentNode) -> Result<(), TreeError> {
        if p.unmerged_leaves.windows(2).any(|w| w[0] >= w[1]) {
            return Err(TreeError::UnmergedLeavesUnsorted { index: px.0 });
        }
        for &u in &p.unmerged_leaves {
            let un = LeafIndex(u).node();
            if un.0 as usize >= self.nodes.len()
                || !math::in_subtree(un, px)
                || self.leaf(LeafIndex(u)).is_none()
            {
                return Err(TreeError::BadUnmergedLeaf {
                    index: px.0,
                    leaf: u,
                });
            }
            let mut cur = math::parent(un, self.n_leaves);
            while let Some(x) = cur {
                if x == px {
                    break;
                }
                if let Some(q) = self.parent_node(x) {
                    if q.unmerged_leaves.binary_search(&u).is_err() {
                        return Err(TreeError::BadUnmergedLeaf {
                            index: x.0,
                            leaf: u,
                        });
                    }
                }
                cur = math::parent(x, self.n_leaves);
            }
        }
        Ok(())
    }

    /// §7.3 and §12.4.3.1: signature keys are unique among leaves, encryption keys among all
    /// nodes. The error names the first node, in node order, whose key repeats an earlier
    /// node's (its signature key before its encryption key).
    pub fn check_key_uniqueness(&self) -> Result<(), TreeError> {
        self.check_key_uniqueness_generic::<SerialJoin>()
    }

    fn check_key_uniqueness_generic<J: Join>(&self) -> Result<(), TreeError> {
        let shards: Vec<usize> = (0..KEY_SHARDS).collect();
        // Per shard: the first repeat, as (node index, 0 for a signature key / 1 for an
        // encryption key).
        let firsts: Vec<Option<(u32, u8)>> = batch::map::<J, _, _>(&shards, 1, |_, &shard| {
            let mut enc: HashSet<&[u8]> = HashSet::new();
            let mut sig: HashSet<&[u8]> = HashSet::new();
            for (i, n) in self.nodes.iter().enumerate() {
                let Some(n) = n else { continue };
                let key = match n {
                    Node::Leaf(l) => {
                        let s = l.signature_key.as_slice();
                        if shard_of(s) == shard && !sig.insert(s) {
                            return Some((i as u32, 0));
                        }
                        l.encryption_key.as_slice()
                    }
                    Node::Parent(p) => p.encryption_key.as_slice(),
                };
                if shard_of(key) == shard && !enc.insert(key) {
                    return Some((i as u32, 1));
                }
            }
            None
        });
        match firsts.into_iter().flatten().min() {
            None => Ok(()),
            Some((index, 0)) => Err(TreeError::DuplicateSignatureKey { index }),
            Some((index, _)) => Err(TreeError::DuplicateEncryptionKey { index }),
        }
    }
}

#[cfg(test)]
mod tests;
