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
//! - tree hash: the subtree recursion of the hash cache (`hashes`), hashing each stale node
//!   once;
//! - parent hashes (`parent_hash`): the first non-blank ancestor and resolution size of
//!   every node in one subtree recursion, then the distinct `(parent, sibling)` pairs that
//!   some node claims a parent hash against are hashed once each, then every candidate is
//!   checked independently.
//!
//! Errors are reported in a fixed order of checks (unmerged leaves, keys, leaves, parent
//! hashes), and within a check at the lowest index, so serial and parallel agree.

use std::collections::HashSet;

use super::node::{LeafRef, NodeRef, ParentRef};
use super::leaf::validate_stored_leaves;
use super::{RatchetTree, NODE_CUTOFF};
use crate::batch::{self, Executor, Join, RayonJoin, SerialJoin};
use crate::crypto::Provider;
use crate::error::Result;
use crate::tree::math::{self, LeafIndex, NodeIndex};
use crate::tree::TreeError;

/// Leaves per task when validating leaves in parallel: two registers of the Ed25519 lanes
/// (eight each), about 0.15 ms of work per task with them and 0.6 ms without, small enough to
/// balance over the cores (see [`crate::batch`]).
const LEAF_BATCH: usize = 16;
/// The most leaves per task, in a large tree ([`batch::lane_block`]): eight registers, which
/// share one inversion.
const LEAF_BATCH_MAX: usize = 64;
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
    /// ([`super::validate_leaf_node`]) against the credential types in use, a batch of leaves
    /// per task; the error is that of the lowest failing leaf.
    fn check_leaves<J: Join>(&self, provider: &Provider, group_id: &[u8]) -> Result<()> {
        let credential_types: HashSet<u16> = self.credential_types().collect();
        let leaves: Vec<(LeafIndex, LeafRef<'_>)> = self.leaves().collect();
        let block = batch::lane_block(leaves.len(), LEAF_BATCH, LEAF_BATCH_MAX);
        let batches: Vec<&[(LeafIndex, LeafRef<'_>)]> = leaves.chunks(block).collect();
        batch::try_map::<J, _, _, _>(&batches, 1, |_, leaves| {
            validate_stored_leaves(provider, leaves, group_id, &credential_types)
        })
        .map(drop)
    }

    /// Every parent node's encryption key is valid for the suite (leaves are checked with
    /// [`validate_leaf_node`]): a member must be able to seal to every node of a resolution.
    pub(crate) fn check_parent_keys(&self, provider: &Provider) -> Result<()> {
        for n in self.nodes.iter().flatten() {
            if let NodeRef::Parent(p) = n.view() {
                provider.check_hpke_public_key(p.encryption_key())?;
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
        batch::try_map::<J, _, _, _>(&self.nodes, NODE_CUTOFF, |i, n| {
            match n.as_ref().map(|n| n.view()) {
                Some(NodeRef::Parent(p)) => self.check_unmerged_leaves_of(NodeIndex(i as u32), p),
                _ => Ok(()),
            }
        })
        .map(drop)
    }

    /// §12.4.3.1 for the parent node `p` at `px`: its list is sorted, every leaf in it is a
    /// non-blank descendant, and every non-blank node between that leaf and `px` lists it too.
    fn check_unmerged_leaves_of(&self, px: NodeIndex, p: ParentRef<'_>) -> Result<(), TreeError> {
        let unmerged = p.unmerged_leaves();
        if unmerged
            .iter()
            .zip(unmerged.iter().skip(1))
            .any(|(a, b)| a >= b)
        {
            return Err(TreeError::UnmergedLeavesUnsorted { index: px.0 });
        }
        for u in unmerged.iter() {
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
                    if !q.unmerged_leaves().contains(u) {
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
        // A decoded tree's index was built in node order, meeting the same first repeat.
        let first = match self.first_key_repeat_at_build() {
            Some(first) => first,
            None => self.first_key_repeat::<J>(),
        };
        match first {
            None => Ok(()),
            Some((index, 0)) => Err(TreeError::DuplicateSignatureKey { index }),
            Some((index, _)) => Err(TreeError::DuplicateEncryptionKey { index }),
        }
    }

    /// The first key repeat, found by a pass over the tree's keys in shards.
    fn first_key_repeat<J: Join>(&self) -> Option<(u32, u8)> {
        let shards: Vec<usize> = (0..KEY_SHARDS).collect();
        // Per shard: the first repeat, as (node index, 0 for a signature key / 1 for an
        // encryption key).
        let firsts: Vec<Option<(u32, u8)>> = batch::map::<J, _, _>(&shards, 1, |_, &shard| {
            let mut enc: HashSet<&[u8]> = HashSet::new();
            let mut sig: HashSet<&[u8]> = HashSet::new();
            for (i, n) in self.nodes.iter().enumerate() {
                let Some(n) = n else { continue };
                let key = match n.view() {
                    NodeRef::Leaf(l) => {
                        let s = l.signature_key();
                        if shard_of(s) == shard && !sig.insert(s) {
                            return Some((i as u32, 0));
                        }
                        l.encryption_key()
                    }
                    NodeRef::Parent(p) => p.encryption_key(),
                };
                if shard_of(key) == shard && !enc.insert(key) {
                    return Some((i as u32, 1));
                }
            }
            None
        });
        firsts.into_iter().flatten().min()
    }
}

#[cfg(test)]
mod oracle;
#[cfg(test)]
mod tests;
