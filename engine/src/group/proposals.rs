//! Proposal-list validation and application (RFC 9420 §12.2, §12.3), shared by the committer
//! and every receiver so both sides apply exactly the same rules.

use std::collections::HashSet;

use super::{Group, GroupError};
use crate::codec::{KeyPackage, Proposal, ProposalOrRef};
use crate::error::Result;
use crate::key_package::validate_key_package;
use crate::tree::LeafIndex;

/// Below this many KeyPackages, validating them in parallel does not pay for the fork.
const KEY_PACKAGE_CUTOFF: usize = 16;

/// What applying a commit's proposals did to the tree.
#[derive(Debug, Default)]
pub(super) struct Applied {
    /// Leaves added, with the index of their Add in the proposal list.
    pub added: Vec<(LeafIndex, usize)>,
    /// Leaves removed.
    pub removed: Vec<LeafIndex>,
    /// RFC 9420 §12.4: the commit must carry a path (Remove or Update present, or no
    /// proposals at all).
    pub path_required: bool,
}

/// The inline proposals of a commit; references are refused for now.
pub(super) fn inline(proposals: &[ProposalOrRef]) -> Result<Vec<&Proposal>> {
    proposals
        .iter()
        .map(|p| match p {
            ProposalOrRef::Proposal(p) => Ok(p),
            ProposalOrRef::Reference(_) => Err(GroupError::ProposalByReference.into()),
        })
        .collect()
}

impl Group {
    /// Validate `proposals` (committed by `committer`) and apply them to the tree in RFC 9420
    /// order (Removes, then Adds). The tree must be under a journal: on error the caller
    /// rolls it back.
    ///
    /// Checks: only Add and Remove (by value); a Remove names a current member other than
    /// the committer, at most once; every KeyPackage is valid (§10.1: signatures, suite,
    /// lifetime against the group's clock, capabilities) — checked as one parallel batch —
    /// and brings a signature key and encryption keys new to the tree and to the commit.
    pub(super) fn apply_proposals(
        &mut self,
        committer: LeafIndex,
        proposals: &[&Proposal],
    ) -> Result<Applied> {
        let mut applied = Applied {
            path_required: proposals.is_empty(),
            ..Applied::default()
        };
        let mut adds: Vec<(usize, &KeyPackage)> = Vec::new();
        let mut removed = HashSet::new();
        for (i, p) in proposals.iter().enumerate() {
            match p {
                Proposal::Add(add) => adds.push((i, &add.key_package)),
                Proposal::Remove(r) => {
                    let leaf = LeafIndex(r.removed);
                    if leaf == committer {
                        return Err(GroupError::CommitterRemovesSelf.into());
                    }
                    if r.removed >= self.tree.n_leaves() || self.tree.leaf(leaf).is_none() {
                        return Err(GroupError::RemoveNonMember(r.removed).into());
                    }
                    if !removed.insert(r.removed) {
                        return Err(GroupError::ConflictingProposals(r.removed).into());
                    }
                    applied.path_required = true;
                }
                Proposal::Update(_) => return Err(GroupError::UpdateByValue.into()),
                other => {
                    return Err(GroupError::UnsupportedProposal(other.proposal_type().0).into())
                }
            }
        }

        if !adds.is_empty() {
            let credentials: HashSet<u16> = self
                .tree
                .leaves()
                .map(|(_, l)| l.credential.credential_type().0)
                .collect();
            let provider = self.provider;
            let clock = self.config.clock;
            self.config
                .executor
                .try_map(&adds, KEY_PACKAGE_CUTOFF, |_, (_, kp)| {
                    validate_key_package(&provider, kp, clock, &credentials)
                })?;
        }

        let mut removed: Vec<u32> = removed.into_iter().collect();
        removed.sort_unstable();
        for &r in &removed {
            self.tree.remove_leaf(LeafIndex(r))?;
            applied.removed.push(LeafIndex(r));
        }
        for (i, kp) in adds {
            let leaf = self.tree.add_leaf(kp.leaf_node.clone());
            let sig = kp.leaf_node.signature_key.as_slice();
            let enc = kp.leaf_node.encryption_key.as_slice();
            if self.tree.signature_key_count(sig) > 1 {
                return Err(GroupError::DuplicateKey {
                    what: "signature key",
                    leaf: leaf.0,
                }
                .into());
            }
            if self.tree.encryption_key_count(enc) > 1 {
                return Err(GroupError::DuplicateKey {
                    what: "encryption key",
                    leaf: leaf.0,
                }
                .into());
            }
            applied.added.push((leaf, i));
        }
        Ok(applied)
    }
}
