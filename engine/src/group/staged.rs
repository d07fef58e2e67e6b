//! Staged commits (RFC 9420 §5.3.1, §12.4): a commit is not final until the delivery service
//! has ordered it, and the application may refuse what a commit does.
//!
//! - A committer creates its commit with [`Group::create_commit`], which leaves the group in
//!   its epoch with the commit pending. Once the delivery service has accepted the commit,
//!   [`Group::merge_pending_commit`] moves to the new epoch; if another member's commit won
//!   the race, [`Group::clear_pending_commit`] drops it (processing the winning commit does
//!   that too).
//! - A receiver checks a commit with [`Group::process_staged`], which runs every check and
//!   computes the new epoch without changing the group, and gets a [`StagedCommit`] that shows
//!   what the commit does. [`StagedCommit::merge`] applies it; dropping it (or
//!   [`StagedCommit::discard`]) leaves the group as it was.
//!
//! [`Group::commit`] and [`Group::process`] do both steps at once, for applications (and
//! simulations) whose delivery service orders commits before they are sent, and without the
//! copy of the edited nodes a staged commit keeps.

use super::{Group, NextEpoch, ProcessOutcome};
use crate::codec::{Credential, Extension, PreSharedKeyId, ProposalType, ReInit};
use crate::tree::{LeafIndex, TreeRedo};

/// A commit this member created and has not merged ([`Group::create_commit`]).
#[derive(Debug, Clone)]
pub(super) struct PendingCommit {
    pub redo: TreeRedo,
    pub next: NextEpoch,
    pub reinit: Option<ReInit>,
}

/// What a commit does, for the application to judge before it merges the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommitSummary {
    /// The committer's leaf (for an external commit, the leaf the joiner takes).
    pub committer: LeafIndex,
    /// The commit is an external commit (a new member joining, RFC 9420 §12.4.3.2).
    pub external: bool,
    /// The epoch the commit leads to.
    pub epoch: u64,
    /// New members: leaf and credential.
    pub added: Vec<(LeafIndex, Credential)>,
    /// Removed members: leaf and the credential they held.
    pub removed: Vec<(LeafIndex, Credential)>,
    /// Members whose Update proposal is committed: leaf and new credential.
    pub updated: Vec<(LeafIndex, Credential)>,
    /// The committer's credential if its path leaf (or, for an external commit, its new
    /// leaf) brings one different from before.
    pub committer_credential: Option<Credential>,
    /// PSKs injected.
    pub psks: Vec<PreSharedKeyId>,
    /// New group context extensions.
    pub extensions: Option<Vec<Extension>>,
    /// A committed ReInit.
    pub reinit: Option<ReInit>,
    /// The commit removes this member.
    pub removes_me: bool,
}

/// A verified commit that has not changed the group yet ([`Group::process_staged`]).
/// Dropping it leaves the group as it was (apart from the PrivateMessage generation its
/// decryption consumed, which a replay must not get back).
#[derive(Debug)]
pub struct StagedCommit<'a> {
    pub(super) group: &'a mut Group,
    pub(super) apply: Option<Box<PendingCommit>>,
    pub(super) summary: Box<CommitSummary>,
}

impl StagedCommit<'_> {
    /// What the commit does.
    pub fn summary(&self) -> &CommitSummary {
        &self.summary
    }

    /// Apply the commit: the group moves to the new epoch, or, if the commit removes this
    /// member, the member is marked removed.
    pub fn merge(self) -> ProcessOutcome {
        let StagedCommit {
            group,
            apply,
            summary,
        } = self;
        match apply {
            Some(p) => {
                group.public.tree.redo(p.redo);
                group.pending_commit = None;
                group.advance(p.next);
                group.public.reinit = p.reinit;
                ProcessOutcome::Committed {
                    epoch: group.public.context.epoch,
                    committer: summary.committer,
                }
            }
            None => {
                group.pending_commit = None;
                group.removed = true;
                ProcessOutcome::Removed
            }
        }
    }

    /// Drop the commit; the group stays as it was.
    pub fn discard(self) {}
}

/// The result of [`Group::process_staged`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Staged<'a> {
    /// A commit, checked and ready to merge.
    Commit(StagedCommit<'a>),
    /// A standalone proposal, validated and cached (as [`Group::process`] does).
    Proposal {
        /// Who proposed it.
        sender: super::ProposalSender,
        /// Its type.
        proposal_type: ProposalType,
    },
}
