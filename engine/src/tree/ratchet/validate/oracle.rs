//! A test-only oracle for validation: whole-tree forms of the checks whose fast form is
//! restructured for parallel work (key uniqueness in one scan instead of shards, parent
//! hashes by a top-down pass with memoised pair hashes instead of a subtree recursion and a
//! batch per distinct pair). Validation, serial and parallel, is compared against it on the
//! same trees (`validate/tests.rs`). Checks that have one form only (the unmerged-leaf rules
//! of each parent node, the leaf checks) are called, not repeated.

use std::collections::HashSet;

use crate::batch::SerialJoin;
use crate::tree::NodeRef;
use crate::crypto::Provider;
use crate::error::{Error, Result};
use crate::tree::math::{self, NodeIndex};
use crate::tree::RatchetTree;
use crate::tree::TreeError;

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
            if n.as_ref().is_some_and(|n| !n.is_leaf()) && covered[i] != 1 {
                return Err(TreeError::ParentHashInvalid { index: i as u32 }.into());
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
                    Some(NodeRef::Leaf(_)) => 1,
                    Some(NodeRef::Parent(p)) => 1 + p.unmerged_leaves().len() as u32,
                    None => match (x.left(), x.right()) {
                        (Some(l), Some(r)) => out[l.0 as usize] + out[r.0 as usize],
                        _ => 0,
                    },
                };
            }
        }
        out
    }
    /// Full validation of a tree received from outside, as [`RatchetTree::validate`] does it:
    /// unmerged-leaf rules, key uniqueness, parent keys, every leaf's signature and
    /// capabilities, and parent hashes; returns the tree hash.
    pub(crate) fn oracle_validate(
        &mut self,
        provider: &Provider,
        group_id: &[u8],
    ) -> Result<Vec<u8>> {
        self.check_unmerged_leaves()?;
        self.oracle_check_key_uniqueness()?;
        self.check_parent_keys(provider)?;
        self.check_leaves::<SerialJoin>(provider, group_id)?;
        self.oracle_verify_parent_hashes(provider)?;
        self.tree_hash(provider)
    }

    /// §7.3 and §12.4.3.1: signature keys are unique among leaves, encryption keys among all
    /// nodes.
    pub(crate) fn oracle_check_key_uniqueness(&self) -> Result<(), TreeError> {
        let mut enc: HashSet<&[u8]> = HashSet::with_capacity(self.nodes.len());
        let mut sig: HashSet<&[u8]> = HashSet::with_capacity(self.nodes.len() / 2 + 1);
        for (i, n) in self.nodes.iter().enumerate() {
            let Some(n) = n else { continue };
            let key = match n.view() {
                NodeRef::Leaf(l) => {
                    if !sig.insert(l.signature_key()) {
                        return Err(TreeError::DuplicateSignatureKey { index: i as u32 });
                    }
                    l.encryption_key()
                }
                NodeRef::Parent(p) => p.encryption_key(),
            };
            if !enc.insert(key) {
                return Err(TreeError::DuplicateEncryptionKey { index: i as u32 });
            }
        }
        Ok(())
    }
}
