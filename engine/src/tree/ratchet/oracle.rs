//! The validation code as it was before subtree-parallel validation: a test-only oracle that
//! the new code (serial and parallel) is compared against on the same trees.

use crate::error::TreeError;
use std::collections::HashSet;

use super::super::math::{self, LeafIndex, NodeIndex};
use super::{validate_leaf_node, RatchetTree, LEAF_CHECK_CUTOFF};
use crate::batch::Executor;
use crate::codec::{LeafNode, Node};
use crate::crypto::Provider;
use crate::error::{Error, Result};

#[allow(dead_code)]
impl RatchetTree {
    /// Verify that every non-blank parent node is parent-hash valid (RFC 9420 §7.9.2).
    ///
    /// A node D can be parent-hash valid only with respect to its first non-blank ancestor P:
    /// D must lie in the resolution of P's child C on D's side, and the rest of that resolution
    /// must consist of P's unmerged leaves — leaves, so no non-blank parent may sit between D
    /// and P. So each D has at most one candidate P, found by a top-down pass, and the check is
    /// linear in the number of nodes (plus the unmerged-leaf walks). Each non-blank parent
    /// must be covered by exactly one D.
    pub(crate) fn oracle_verify_parent_hashes(&mut self, provider: &Provider) -> Result<()> {
        let width = self.nodes.len();
        // First non-blank strict ancestor of every node, top-down.
        let mut anc: Vec<Option<NodeIndex>> = vec![None; width];
        self.oracle_fill_first_ancestor(self.root(), None, &mut anc);
        let res_len = self.oracle_resolution_lengths();
        let mut covered = vec![0u32; width];
        // Parent hash of (P, S) is needed by every candidate below P on S's other side: compute
        // it at most once per (P, side).
        let mut memo: std::collections::HashMap<(u32, u32), Vec<u8>> = Default::default();
        for d in 0..width as u32 {
            let d = NodeIndex(d);
            let (Some(claimed), Some(p)) = (self.claimed_parent_hash(d), anc[d.0 as usize]) else {
                continue;
            };
            // C: P's child on D's side; S: the other child.
            let (Some(pl), Some(pr)) = (p.left(), p.right()) else {
                return Err(Error::Internal("non-blank ancestor is not a parent"));
            };
            let (c, s) = if math::in_subtree(d, pl) {
                (pl, pr)
            } else {
                (pr, pl)
            };
            let claimed = claimed.to_vec();
            let expected = match memo.get(&(p.0, s.0)) {
                Some(h) => h,
                None => {
                    let h = self.parent_hash(p, s, provider)?;
                    memo.entry((p.0, s.0)).or_insert(h)
                }
            };
            if &claimed != expected {
                continue;
            }
            if self.resolution_matches_unmerged(p, c, d, &res_len) {
                covered[p.0 as usize] += 1;
            }
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

    fn oracle_fill_first_ancestor(
        &self,
        x: NodeIndex,
        above: Option<NodeIndex>,
        out: &mut [Option<NodeIndex>],
    ) {
        out[x.0 as usize] = above;
        let next = if self.is_blank(x) { above } else { Some(x) };
        if let (Some(l), Some(r)) = (x.left(), x.right()) {
            self.oracle_fill_first_ancestor(l, next, out);
            self.oracle_fill_first_ancestor(r, next, out);
        }
    }

    /// Size of the resolution of every node, in one bottom-up pass.
    fn oracle_resolution_lengths(&self) -> Vec<u32> {
        let mut out = vec![0u32; self.nodes.len()];
        // Process by level so children come before parents.
        let depth = self.root().level();
        for level in 0..=depth {
            let step = 1usize << (level + 1);
            let start = (1usize << level) - 1;
            for i in (start..self.nodes.len()).step_by(step) {
                let x = NodeIndex(i as u32);
                out[i] = match self.node(x) {
                    Some(Node::Leaf(_)) => 1,
                    Some(Node::Parent(p)) => 1 + p.unmerged_leaves.len() as u32,
                    None => match (x.left(), x.right()) {
                        (Some(l), Some(r)) => out[l.0 as usize] + out[r.0 as usize],
                        _ => 0,
                    },
                };
            }
        }
        out
    }
    // ---------------------------------------------------------------------------------------
    // Validation (RFC 9420 §7.3, §12.4.3.1)

    /// Full validation of a tree received from outside (joining a group): unmerged-leaf
    /// rules, key uniqueness, every leaf's signature and capabilities, and parent hashes.
    /// Returns the tree hash, for the caller to compare with the GroupContext.
    pub(crate) fn oracle_validate(
        &mut self,
        provider: &Provider,
        group_id: &[u8],
    ) -> Result<Vec<u8>> {
        self.oracle_validate_with(provider, group_id, Executor::default())
    }

    /// [`RatchetTree::validate`] with the leaf checks (one signature verification each, the
    /// dominant cost of joining a large group) run as one batch on `executor`. The error
    /// reported is that of the lowest failing leaf, whatever the executor.
    pub(crate) fn oracle_validate_with(
        &mut self,
        provider: &Provider,
        group_id: &[u8],
        _executor: Executor,
    ) -> Result<Vec<u8>> {
        self.oracle_check_unmerged_leaves()?;
        self.oracle_check_key_uniqueness()?;
        self.check_parent_keys(provider)?;
        let credential_types: HashSet<u16> = self
            .leaves()
            .map(|(_, l)| l.credential.credential_type().0)
            .collect();
        let leaves: Vec<(LeafIndex, &LeafNode)> = self.leaves().collect();
        crate::batch::Executor::Serial.try_map(&leaves, LEAF_CHECK_CUTOFF, |_, &(i, leaf)| {
            validate_leaf_node(provider, leaf, Some((group_id, i)), &credential_types)
        })?;
        self.oracle_verify_parent_hashes(provider)?;
        self.tree_hash(provider)
    }

    /// §12.4.3.1: every unmerged leaf is a non-blank descendant, lists are sorted, and every
    /// non-blank node between the leaf and the parent lists it too.
    pub(crate) fn oracle_check_unmerged_leaves(&self) -> Result<(), TreeError> {
        for (i, n) in self.nodes.iter().enumerate() {
            let Some(Node::Parent(p)) = n else { continue };
            let px = NodeIndex(i as u32);
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
        }
        Ok(())
    }

    /// §7.3 and §12.4.3.1: signature keys are unique among leaves, encryption keys among all
    /// nodes.
    pub(crate) fn oracle_check_key_uniqueness(&self) -> Result<(), TreeError> {
        let mut enc: HashSet<&[u8]> = HashSet::with_capacity(self.nodes.len());
        let mut sig: HashSet<&[u8]> = HashSet::with_capacity(self.nodes.len() / 2 + 1);
        for (i, n) in self.nodes.iter().enumerate() {
            let Some(n) = n else { continue };
            let key = match n {
                Node::Leaf(l) => {
                    if !sig.insert(l.signature_key.as_slice()) {
                        return Err(TreeError::DuplicateSignatureKey { index: i as u32 });
                    }
                    l.encryption_key.as_slice()
                }
                Node::Parent(p) => p.encryption_key.as_slice(),
            };
            if !enc.insert(key) {
                return Err(TreeError::DuplicateEncryptionKey { index: i as u32 });
            }
        }
        Ok(())
    }
}
