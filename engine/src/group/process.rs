//! Processing another member's handshake messages: standalone proposals, which are
//! validated and cached for the epoch (RFC 9420 §12.1, §12.4), and commits (§12.4.2), as
//! PublicMessage or PrivateMessage.

use super::proposals::{self, proposal_ref, CachedProposal};
use super::{decode_message, next_epoch, Group, GroupError, NextEpoch};
use crate::codec::{
    self, AuthenticatedContent, FramedContentBody, GroupContext, MlsMessageBody, ProposalType,
    ReInit, Sender,
};
use crate::crypto::Secret;
use crate::error::Result;
use crate::framing::verify_confirmation_tag;
use crate::kem::{process_update_path, StagedPath, TreeKemPrivate};
use crate::schedule::{self, EpochSecrets};
use crate::tree::{LeafIndex, RatchetTree};

/// The result of [`Group::process`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProcessOutcome {
    /// The commit was applied; the group is in the new epoch.
    Committed {
        /// The new epoch.
        epoch: u64,
        /// The committer.
        committer: LeafIndex,
    },
    /// The commit removed this member: the state is frozen at the last epoch.
    Removed,
    /// A standalone proposal was validated and cached for this epoch; a later commit may
    /// reference it.
    Proposal {
        /// Who proposed it.
        sender: LeafIndex,
        /// Its type.
        proposal_type: ProposalType,
    },
}

/// The signature key of a member sender, from the tree.
fn member_key(tree: &RatchetTree, sender: &Sender) -> Option<Vec<u8>> {
    match sender {
        Sender::Member { leaf_index } => tree
            .leaf(LeafIndex(*leaf_index))
            .map(|l| l.signature_key.as_slice().to_vec()),
        _ => None,
    }
}

impl Group {
    /// Process an MLSMessage (PublicMessage or PrivateMessage) carrying another member's
    /// proposal or commit, or an external commit (RFC 9420 §12.4.2, §12.4.3.2).
    ///
    /// - A proposal is verified (signature, membership tag or decryption), checked on its
    ///   own (§12.1) and cached under its ProposalRef until the epoch ends.
    /// - A commit is verified, its proposal list (by value and by reference) validated
    ///   (§12.2) and applied, its path decrypted, the key schedule run (with the PSKs it
    ///   injects) and the confirmation tag checked.
    ///
    /// On any error the state is unchanged, with one exception inherent to PrivateMessage:
    /// a message that decrypts and verifies consumes its generation of the sender's
    /// handshake ratchet even if its content is then rejected (a replay must fail anyway).
    pub fn process(&mut self, bytes: &[u8]) -> Result<ProcessOutcome> {
        if self.removed {
            return Err(GroupError::NotAMember.into());
        }
        let message = decode_message(bytes)?;
        let auth = match message.body {
            MlsMessageBody::PublicMessage(public) => {
                if let Sender::NewMemberCommit = public.content.sender {
                    return self.process_external_commit(public);
                }
                let tree = &self.tree;
                self.framing
                    .unprotect_public(public, |s| member_key(tree, s))?
            }
            MlsMessageBody::PrivateMessage(private) => {
                let tree = &self.tree;
                self.framing
                    .unprotect_private(&private, |s| member_key(tree, s))?
            }
            _ => {
                return Err(
                    GroupError::UnexpectedMessage("not a PublicMessage or PrivateMessage").into(),
                )
            }
        };
        match &auth.content.content {
            FramedContentBody::Proposal(_) => self.receive_proposal(auth),
            FramedContentBody::Commit(_) => self.process_commit(auth),
            FramedContentBody::Application { .. } => Err(GroupError::UnexpectedMessage(
                "application data (use unprotect_application)",
            )
            .into()),
        }
    }

    /// Validate and cache a verified standalone proposal.
    fn receive_proposal(&mut self, auth: AuthenticatedContent) -> Result<ProcessOutcome> {
        if self.reinit.is_some() {
            return Err(GroupError::ReInitialized.into());
        }
        let Sender::Member { leaf_index } = auth.content.sender else {
            return Err(GroupError::UnexpectedMessage(
                "proposals from external senders are not supported",
            )
            .into());
        };
        let sender = LeafIndex(leaf_index);
        let reference = proposal_ref(&self.provider, &codec::encode(&auth)?)?;
        let FramedContentBody::Proposal(proposal) = auth.content.content else {
            return Err(GroupError::UnexpectedMessage("not a proposal").into());
        };
        self.validate_standalone(sender, &proposal)?;
        let proposal_type = proposal.proposal_type();
        if !self.proposal_cache.iter().any(|c| c.reference == reference) {
            self.proposal_cache.push(CachedProposal {
                reference,
                proposal,
                sender,
            });
        }
        Ok(ProcessOutcome::Proposal {
            sender,
            proposal_type,
        })
    }

    /// Process a verified commit from a member.
    fn process_commit(&mut self, auth: AuthenticatedContent) -> Result<ProcessOutcome> {
        let Sender::Member { leaf_index } = auth.content.sender else {
            return Err(GroupError::UnexpectedMessage("commit from a non-member").into());
        };
        let committer = LeafIndex(leaf_index);
        if committer == self.own_leaf() {
            return Err(GroupError::OwnCommit.into());
        }
        if self.reinit.is_some() {
            return Err(GroupError::ReInitialized.into());
        }
        let FramedContentBody::Commit(commit) = &auth.content.content else {
            return Err(GroupError::UnexpectedMessage("not a commit").into());
        };
        let cache = std::mem::take(&mut self.proposal_cache);
        let result = self.process_commit_with(&auth, commit, committer, &cache);
        self.proposal_cache = cache;
        let (next, reinit) = match result? {
            Some(done) => done,
            None => {
                // Everything a removed member can check has passed (see
                // `process_commit_with`); it cannot derive the new epoch, so it stops here with
                // its state unchanged.
                self.removed = true;
                return Ok(ProcessOutcome::Removed);
            }
        };
        self.advance(next);
        self.reinit = reinit;
        Ok(ProcessOutcome::Committed {
            epoch: self.context.epoch,
            committer,
        })
    }

    /// The next epoch of a verified member commit, or `None` if it removes this member.
    ///
    /// A commit that removes this member goes through every check that does not need the new
    /// epoch's secrets — the proposal list (§12.2), the path-required rule, the UpdatePath's
    /// length and ciphertext counts against the resolutions, the path leaf and its parent
    /// hash, key uniqueness — on the tree under a journal that is then rolled back. Only the
    /// path decryption and the confirmation tag, which a removed member cannot compute, are
    /// skipped, so a commit the other members reject cannot eject its victim.
    fn process_commit_with(
        &mut self,
        auth: &AuthenticatedContent,
        commit: &codec::Commit,
        committer: LeafIndex,
        cache: &[CachedProposal],
    ) -> Result<Option<(NextEpoch, Option<ReInit>)>> {
        let tag = auth
            .auth
            .confirmation_tag
            .as_ref()
            .map(|t| t.as_slice().to_vec())
            .unwrap_or_default();
        let resolved = proposals::resolve(&commit.proposals, cache, committer)?;
        let me = self.own_leaf().0;
        let removes_me = resolved
            .iter()
            .any(|e| matches!(e.proposal, codec::Proposal::Remove(r) if r.removed == me));
        if removes_me {
            self.dry_run(|g| {
                let applied = g.apply_proposals(committer, &resolved)?;
                if applied.path_required && commit.path.is_none() {
                    return Err(GroupError::PathRequired.into());
                }
                let provisional = g.provisional_context(&applied)?;
                if let Some(path) = &commit.path {
                    g.check_path_leaf(committer, &path.leaf_node, &provisional.extensions)?;
                }
                let base = g.private.clone();
                g.apply_path(commit, committer, &applied, base, provisional, false)?;
                Ok(())
            })?;
            return Ok(None);
        }
        let pending = self.pending_updates.clone();
        self.transact(|g| {
            let applied = g.apply_proposals(committer, &resolved)?;
            if applied.path_required && commit.path.is_none() {
                return Err(GroupError::PathRequired.into());
            }
            // Our own Update was committed: our leaf key is the one we proposed.
            let mut base = g.private.clone();
            if let Some((_, reference)) = applied.updated.iter().find(|(l, _)| l.0 == me) {
                let key = reference
                    .as_ref()
                    .and_then(|r| pending.iter().find(|p| &p.reference == r))
                    .ok_or(GroupError::UnknownProposalRef)?;
                base = TreeKemPrivate::new(LeafIndex(me), key.leaf_key.clone());
                base.prune(&g.tree);
            }
            let provisional = g.provisional_context(&applied)?;
            if let Some(path) = &commit.path {
                g.check_path_leaf(committer, &path.leaf_node, &provisional.extensions)?;
            }
            let (private, commit_secret, provisional) =
                g.apply_path(commit, committer, &applied, base, provisional, true)?;
            let psk_secret = g.psk_secret(&applied.psks)?;
            let next = g.finish_epoch(
                auth,
                provisional,
                private,
                &commit_secret,
                &psk_secret,
                g.secrets.init_secret.clone(),
                &tag,
            )?;
            Ok(Some((next, applied.reinit)))
        })
    }

    /// The provisional GroupContext of the next epoch (RFC 9420 §12.4.2): epoch + 1 and the
    /// new extensions if a GroupContextExtensions proposal is committed. The tree hash is
    /// filled in once the path is merged.
    pub(super) fn provisional_context(&self, applied: &proposals::Applied) -> Result<GroupContext> {
        let mut provisional = GroupContext {
            epoch: next_epoch(self.context.epoch)?,
            ..self.context.clone()
        };
        if let Some(ext) = &applied.extensions {
            provisional.extensions = ext.clone();
        }
        Ok(provisional)
    }

    /// Merge the commit's path (if any) into the tree under the journal (the caller has
    /// checked the path leaf against the leaf it replaces): decrypt our path secret (unless `decrypt` is false: a member the
    /// commit removes checks everything else), check the new keys are unique, and return the
    /// new private state, the commit secret and the provisional context with the new tree
    /// hash.
    pub(super) fn apply_path(
        &mut self,
        commit: &codec::Commit,
        committer: LeafIndex,
        applied: &proposals::Applied,
        base: TreeKemPrivate,
        mut provisional: GroupContext,
        decrypt: bool,
    ) -> Result<(TreeKemPrivate, Secret, GroupContext)> {
        let provider = self.provider;
        let new_leaves: Vec<LeafIndex> = applied.added.iter().map(|&(l, _)| l).collect();
        match &commit.path {
            Some(path) => {
                let (private, commit_secret, tree_hash) = if decrypt {
                    let processed = process_update_path(
                        &provider,
                        &mut self.tree,
                        &base,
                        committer,
                        path,
                        &new_leaves,
                        &provisional,
                    )?;
                    drop(processed.undo);
                    (
                        processed.private,
                        processed.commit_secret,
                        processed.tree_hash,
                    )
                } else {
                    let staged = StagedPath::stage(
                        &provider,
                        &mut self.tree,
                        committer,
                        path,
                        &new_leaves,
                        provisional.group_id.as_slice(),
                    )?;
                    // The journal records the merge; the caller rolls it back.
                    drop(staged.merge(&mut self.tree)?);
                    let tree_hash = self.tree.tree_hash(&provider)?;
                    (base, Secret::new(vec![0; provider.hash_len()]), tree_hash)
                };
                // §7.3: the committer's new leaf and path keys must be new to the tree.
                let leaf = &path.leaf_node;
                if self
                    .tree
                    .encryption_key_count(leaf.encryption_key.as_slice())
                    > 1
                    || path
                        .nodes
                        .iter()
                        .any(|n| self.tree.encryption_key_count(n.encryption_key.as_slice()) > 1)
                {
                    return Err(GroupError::DuplicateKey {
                        what: "encryption key",
                        leaf: committer.0,
                    }
                    .into());
                }
                if self.tree.signature_key_count(leaf.signature_key.as_slice()) > 1 {
                    return Err(GroupError::DuplicateKey {
                        what: "signature key",
                        leaf: committer.0,
                    }
                    .into());
                }
                provisional.tree_hash = tree_hash.into();
                let mut private = private;
                private.prune(&self.tree);
                Ok((private, commit_secret, provisional))
            }
            None => {
                provisional.tree_hash = self.tree.tree_hash(&provider)?.into();
                let mut private = base;
                private.prune(&self.tree);
                Ok((
                    private,
                    Secret::new(vec![0; provider.hash_len()]),
                    provisional,
                ))
            }
        }
    }

    /// `psk_secret` (RFC 9420 §8.4) of the committed PSKs, resolved from this member's
    /// stores.
    pub(super) fn psk_secret(&self, ids: &[codec::PreSharedKeyId]) -> Result<Secret> {
        let resolved = ids
            .iter()
            .map(|id| {
                self.psk_value(id)
                    .map(|v| (id.clone(), v))
                    .ok_or(GroupError::MissingPsk)
            })
            .collect::<Result<Vec<_>, _>>()?;
        schedule::psk_secret(&self.provider, &resolved)
    }

    /// The key schedule of the new epoch from a verified commit (RFC 9420 §8, §8.2): the
    /// confirmed transcript hash, the epoch secrets, the confirmation tag check and the
    /// interim transcript hash.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn finish_epoch(
        &self,
        auth: &AuthenticatedContent,
        provisional: GroupContext,
        private: TreeKemPrivate,
        commit_secret: &Secret,
        psk_secret: &Secret,
        init_secret: Secret,
        tag: &[u8],
    ) -> Result<NextEpoch> {
        let provider = self.provider;
        let confirmed = schedule::confirmed_transcript_hash(
            &provider,
            &self.interim_transcript_hash,
            auth.wire_format,
            &auth.content,
            auth.auth.signature.as_slice(),
        )?;
        let mut context = provisional;
        context.confirmed_transcript_hash = confirmed.clone().into();
        let secrets = EpochSecrets::derive(
            &provider,
            init_secret.as_bytes(),
            commit_secret.as_bytes(),
            psk_secret.as_bytes(),
            &codec::encode(&context)?,
        )?;
        verify_confirmation_tag(&provider, &secrets.confirmation_key, &confirmed, tag)?;
        let interim = schedule::interim_transcript_hash(&provider, &confirmed, tag)?;
        Ok(NextEpoch {
            context,
            private,
            secrets,
            interim_transcript_hash: interim,
        })
    }
}
