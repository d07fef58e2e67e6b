//! Processing another member's handshake messages: standalone proposals, which are
//! validated and cached for the epoch (RFC 9420 §12.1, §12.4), and commits (§12.4.2), as
//! PublicMessage or PrivateMessage.

use super::proposals::{
    self, check_sender_may_propose, external_senders, proposal_ref, CachedProposal, ProposalSender,
};
use super::staged::{CommitSummary, PendingCommit, Staged, StagedCommit};
use super::{decode_message, next_epoch, Group, NextEpoch};
use crate::codec::{
    self, AuthenticatedContent, FramedContentBody, GroupContext, MlsMessageBody, ProposalType,
    Sender,
};
use crate::crypto::Secret;
use crate::error::{ApiMisuse, PeerMisbehaved};
use crate::error::{Error, Result};
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
        sender: ProposalSender,
        /// Its type.
        proposal_type: ProposalType,
    },
}

/// A processed handshake message, before the caller applies it ([`Group::process`]) or hands
/// it to the application ([`Group::process_staged`]).
pub(super) enum Processed {
    Proposal {
        sender: ProposalSender,
        proposal_type: ProposalType,
    },
    Commit {
        /// The next epoch (and with it the tree edits, when staged), or `None` when the
        /// commit removes this member.
        apply: Option<Box<PendingCommit>>,
        committer: LeafIndex,
        /// Made when staged.
        summary: Option<Box<CommitSummary>>,
    },
}

/// The next epoch of a processed commit (`None`: it removes this member) and, when staged,
/// its summary.
type CommitResult = (Option<Box<PendingCommit>>, Option<Box<CommitSummary>>);

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
        Ok(match self.process_message(bytes, false)? {
            Processed::Proposal {
                sender,
                proposal_type,
            } => ProcessOutcome::Proposal {
                sender,
                proposal_type,
            },
            Processed::Commit { apply: None, .. } => {
                // Everything a removed member can check has passed; it cannot derive the
                // new epoch, so it stops here with its state unchanged.
                self.pending_commit = None;
                self.removed = true;
                ProcessOutcome::Removed
            }
            Processed::Commit {
                apply: Some(p),
                committer,
                ..
            } => {
                // The tree journal was committed already (no redo record on this path).
                self.pending_commit = None;
                self.advance(p.next);
                self.reinit = p.reinit;
                ProcessOutcome::Committed {
                    epoch: self.context.epoch,
                    committer,
                }
            }
        })
    }

    /// [`Group::process`] in two steps: a commit is verified and its new epoch computed
    /// (every check of `process`), but the group is left as it was until the returned
    /// [`StagedCommit`] is merged; its [`CommitSummary`] shows what the commit does, for the
    /// application to accept or refuse. A standalone proposal is validated and cached as
    /// `process` does.
    pub fn process_staged(&mut self, bytes: &[u8]) -> Result<Staged<'_>> {
        Ok(match self.process_message(bytes, true)? {
            Processed::Proposal {
                sender,
                proposal_type,
            } => Staged::Proposal {
                sender,
                proposal_type,
            },
            Processed::Commit { apply, summary, .. } => Staged::Commit(StagedCommit {
                group: self,
                apply,
                summary: summary.ok_or(Error::Internal("staged commit without a summary"))?,
            }),
        })
    }

    /// Verify a handshake message and process it: cache a proposal, or check a commit and
    /// compute its next epoch. With `staged`, the tree is left as it was (the edits are
    /// returned as a redo record) and a summary is made; otherwise the tree journal is
    /// committed and the caller must advance.
    fn process_message(&mut self, bytes: &[u8], staged: bool) -> Result<Processed> {
        if self.removed {
            return Err(ApiMisuse::NotAMember.into());
        }
        let message = decode_message(bytes)?;
        let auth = match message.body {
            MlsMessageBody::PublicMessage(public) => {
                let key = match public.content.sender {
                    Sender::NewMemberCommit => {
                        return self.process_external_commit(public, staged);
                    }
                    Sender::Member { .. } => member_key(&self.tree, &public.content.sender),
                    // §12.1.8: an external sender signs with its key from the group context's
                    // `external_senders` extension, and may only send proposals.
                    Sender::External { sender_index } => {
                        if !matches!(public.content.content, FramedContentBody::Proposal(_)) {
                            return Err(ApiMisuse::UnexpectedMessage(
                                "an external sender may only send proposals",
                            )
                            .into());
                        }
                        external_senders(&self.context.extensions)?
                            .get(sender_index as usize)
                            .map(|s| s.signature_key.as_slice().to_vec())
                    }
                    // A new member proposing its own Add signs with the key of the leaf in
                    // the KeyPackage it brings.
                    Sender::NewMemberProposal => match &public.content.content {
                        FramedContentBody::Proposal(codec::Proposal::Add(a)) => {
                            Some(a.key_package.leaf_node.signature_key.as_slice().to_vec())
                        }
                        FramedContentBody::Proposal(p) => {
                            return Err(PeerMisbehaved::ProposalSender {
                                sender: "new member",
                                proposal_type: p.proposal_type().0,
                            }
                            .into())
                        }
                        _ => {
                            return Err(ApiMisuse::UnexpectedMessage(
                                "a new_member_proposal sender on a non-proposal",
                            )
                            .into())
                        }
                    },
                };
                self.framing.unprotect_public(public, |_| key)?
            }
            MlsMessageBody::PrivateMessage(private) => {
                let tree = &self.tree;
                self.framing
                    .unprotect_private(&private, |s| member_key(tree, s))?
            }
            _ => {
                return Err(
                    ApiMisuse::UnexpectedMessage("not a PublicMessage or PrivateMessage").into(),
                )
            }
        };
        match &auth.content.content {
            FramedContentBody::Proposal(_) => self.receive_proposal(auth),
            FramedContentBody::Commit(_) => self.process_commit(auth, staged),
            FramedContentBody::Application { .. } => Err(ApiMisuse::UnexpectedMessage(
                "application data (use unprotect_application)",
            )
            .into()),
        }
    }

    /// Validate and cache a verified standalone proposal.
    fn receive_proposal(&mut self, auth: AuthenticatedContent) -> Result<Processed> {
        if self.reinit.is_some() {
            return Err(ApiMisuse::ReInitialized.into());
        }
        let sender = match auth.content.sender {
            Sender::Member { leaf_index } => ProposalSender::Member(LeafIndex(leaf_index)),
            Sender::External { sender_index } => ProposalSender::External(sender_index),
            Sender::NewMemberProposal => ProposalSender::NewMember,
            Sender::NewMemberCommit => {
                return Err(ApiMisuse::UnexpectedMessage("a new_member_commit proposal").into())
            }
        };
        let reference = proposal_ref(&self.provider, &codec::encode(&auth)?)?;
        let FramedContentBody::Proposal(proposal) = auth.content.content else {
            return Err(ApiMisuse::UnexpectedMessage("not a proposal").into());
        };
        check_sender_may_propose(sender, &proposal)?;
        self.validate_standalone(sender.leaf(), &proposal)?;
        let proposal_type = proposal.proposal_type();
        if !self.proposal_cache.iter().any(|c| c.reference == reference) {
            self.proposal_cache.push(CachedProposal {
                reference,
                proposal,
                sender,
            });
        }
        Ok(Processed::Proposal {
            sender,
            proposal_type,
        })
    }

    /// Process a verified commit from a member.
    fn process_commit(&mut self, auth: AuthenticatedContent, staged: bool) -> Result<Processed> {
        let Sender::Member { leaf_index } = auth.content.sender else {
            return Err(ApiMisuse::UnexpectedMessage("commit from a non-member").into());
        };
        let committer = LeafIndex(leaf_index);
        if committer == self.own_leaf() {
            return Err(ApiMisuse::OwnCommit.into());
        }
        if self.reinit.is_some() {
            return Err(ApiMisuse::ReInitialized.into());
        }
        let FramedContentBody::Commit(commit) = &auth.content.content else {
            return Err(ApiMisuse::UnexpectedMessage("not a commit").into());
        };
        let cache = std::mem::take(&mut self.proposal_cache);
        let result = self.process_commit_with(&auth, commit, committer, &cache, staged);
        self.proposal_cache = cache;
        let (apply, summary) = result?;
        Ok(Processed::Commit {
            apply,
            committer,
            summary,
        })
    }

    /// The next epoch of a verified member commit, or `None` if it removes this member, and
    /// (when `staged`) the commit's summary.
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
        staged: bool,
    ) -> Result<CommitResult> {
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
        // Only a staged commit's summary needs the committer's old credential.
        let old_credential = staged
            .then(|| self.tree.leaf(committer).map(|l| l.credential.clone()))
            .flatten();
        if removes_me {
            let summary = self.dry_run(|g| {
                let applied = g.apply_proposals(committer, &resolved)?;
                if applied.path_required && commit.path.is_none() {
                    return Err(PeerMisbehaved::PathRequired.into());
                }
                let provisional = g.provisional_context(&applied)?;
                if let Some(path) = &commit.path {
                    g.check_path_leaf(committer, &path.leaf_node, &provisional.extensions)?;
                }
                let epoch = provisional.epoch;
                let base = g.private.clone();
                g.apply_path(commit, committer, &applied, base, provisional, false)?;
                Ok(staged
                    .then(|| g.summarize(committer, false, epoch, &applied, old_credential, true)))
            })?;
            return Ok((None, summary.map(Box::new)));
        }
        let pending = self.pending_updates.clone();
        let ((next, reinit, summary), redo) = self.run_edit(staged, |g| {
            let applied = g.apply_proposals(committer, &resolved)?;
            if applied.path_required && commit.path.is_none() {
                return Err(PeerMisbehaved::PathRequired.into());
            }
            // Our own Update was committed: our leaf key is the one we proposed.
            let mut base = g.private.clone();
            if let Some((_, reference)) = applied.updated.iter().find(|(l, _)| l.0 == me) {
                let key = reference
                    .as_ref()
                    .and_then(|r| pending.iter().find(|p| &p.reference == r))
                    .ok_or(PeerMisbehaved::UnknownProposalRef)?;
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
            let summary = staged.then(|| {
                Box::new(g.summarize(
                    committer,
                    false,
                    next.context.epoch,
                    &applied,
                    old_credential,
                    false,
                ))
            });
            Ok((next, applied.reinit, summary))
        })?;
        Ok((
            Some(Box::new(PendingCommit {
                redo: redo.unwrap_or_default(),
                next,
                reinit,
            })),
            summary,
        ))
    }

    /// What a commit did, read from the tree while its edits are in place: the credentials of
    /// new and updated leaves, those of removed leaves (kept by `apply_proposals`), and the
    /// committer's if it changed (`old_credential` is the one its leaf had, `None` for a
    /// joiner).
    pub(super) fn summarize(
        &self,
        committer: LeafIndex,
        external: bool,
        epoch: u64,
        applied: &proposals::Applied,
        old_credential: Option<codec::Credential>,
        removes_me: bool,
    ) -> CommitSummary {
        let credential = |l: LeafIndex| self.tree.leaf(l).map(|n| n.credential.clone());
        let committer_credential =
            credential(committer).filter(|c| Some(c) != old_credential.as_ref());
        CommitSummary {
            committer,
            external,
            epoch,
            added: applied
                .added
                .iter()
                .filter_map(|&(l, _)| credential(l).map(|c| (l, c)))
                .collect(),
            removed: applied
                .removed
                .iter()
                .copied()
                .zip(applied.removed_credentials.iter().cloned())
                .collect(),
            updated: applied
                .updated
                .iter()
                .filter_map(|(l, _)| credential(*l).map(|c| (*l, c)))
                .collect(),
            committer_credential,
            psks: applied.psks.clone(),
            extensions: applied.extensions.clone(),
            reinit: applied.reinit.clone(),
            removes_me,
        }
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
                    staged.merge(&mut self.tree)?;
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
                    return Err(PeerMisbehaved::DuplicateKey {
                        what: "encryption key",
                        leaf: committer.0,
                    }
                    .into());
                }
                if self.tree.signature_key_count(leaf.signature_key.as_slice()) > 1 {
                    return Err(PeerMisbehaved::DuplicateKey {
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
                    .ok_or(PeerMisbehaved::MissingPsk)
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
