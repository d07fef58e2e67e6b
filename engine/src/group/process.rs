//! Processing another member's handshake messages: standalone proposals, which are
//! validated and cached for the epoch (RFC 9420 §12.1, §12.4), and commits (§12.4.2), as
//! PublicMessage or PrivateMessage.

use super::proposals::{self, CachedProposal, ProposalSender};
use super::public::{confirmation_tag, member_key, PublicCommit};
use super::staged::{CommitSummary, PendingCommit, Staged, StagedCommit};
use super::{decode_message, Group, NextEpoch, PublicGroup};
use crate::codec::{
    self, AuthenticatedContent, FramedContentBody, GroupContext, MlsMessageBody, ProposalType,
    Sender,
};
use crate::crypto::Secret;
use crate::error::{ApiMisuse, PeerMisbehaved};
use crate::error::{Error, Result};
use crate::framing::{verify_confirmation_tag, PendingSignature};
use core::cell::Cell;
use crate::kem::{StagedPath, TreeKemPrivate};
use crate::schedule::{self, EpochSecrets};
use crate::tree::LeafIndex;

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
                self.public.reinit = p.reinit;
                ProcessOutcome::Committed {
                    epoch: self.public.context.epoch,
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
        // A PublicMessage's signature is checked last of its framing checks; here it is left
        // pending, so that a commit's processing can run beside it (see `process_commit`).
        let (auth, signature) = match message.body {
            MlsMessageBody::PublicMessage(public) => {
                if public.content.sender == Sender::NewMemberCommit {
                    return self.process_external_commit(public, staged);
                }
                let key = self.public.sender_key(&public)?;
                let (auth, signature) = self.framing.unprotect_public_deferred(public, |_| key)?;
                (auth, Some(signature))
            }
            MlsMessageBody::PrivateMessage(private) => {
                let tree = &self.public.tree;
                let auth = self
                    .framing
                    .unprotect_private(&private, |s| member_key(tree, s))?;
                (auth, None)
            }
            _ => {
                return Err(
                    ApiMisuse::UnexpectedMessage("not a PublicMessage or PrivateMessage").into(),
                )
            }
        };
        if !matches!(auth.content.content, FramedContentBody::Commit(_)) {
            if let Some(s) = &signature {
                s.check(&self.public.provider)?;
            }
        }
        match &auth.content.content {
            FramedContentBody::Proposal(_) => self.receive_proposal(auth),
            FramedContentBody::Commit(_) => self.process_commit(auth, signature, staged),
            FramedContentBody::Application { .. } => Err(ApiMisuse::UnexpectedMessage(
                "application data (use unprotect_application)",
            )
            .into()),
        }
    }

    /// Validate and cache a verified standalone proposal.
    fn receive_proposal(&mut self, auth: AuthenticatedContent) -> Result<Processed> {
        let psks = member_psks!(self);
        let (sender, proposal_type) = self.public.receive_proposal(auth, Some(&psks))?;
        Ok(Processed::Proposal {
            sender,
            proposal_type,
        })
    }

    /// Process a commit from a member whose framing is verified but for `signature`, if given
    /// (a PublicMessage's, still to be checked).
    ///
    /// The signature check runs beside the commit's processing (on the group's executor),
    /// inside the tree's journal, and a commit whose signature fails is rolled back like any
    /// other failure. Errors keep the order of a check before everything else: an error of
    /// the processing is returned only once the signature is known to be good, and a bad
    /// signature wins over it.
    fn process_commit(
        &mut self,
        auth: AuthenticatedContent,
        signature: Option<PendingSignature>,
        staged: bool,
    ) -> Result<Processed> {
        let provider = self.public.provider;
        let checked = Cell::new(signature.is_none());
        let result = self.process_commit_checked(&auth, signature.as_ref(), &checked, staged);
        match (result, &signature) {
            (Err(e), Some(s)) if !checked.get() => {
                s.check(&provider)?;
                Err(e)
            }
            (result, _) => result,
        }
    }

    /// [`Group::process_commit`] with the signature check still to run (`checked` says
    /// whether it has).
    fn process_commit_checked(
        &mut self,
        auth: &AuthenticatedContent,
        signature: Option<&PendingSignature>,
        checked: &Cell<bool>,
        staged: bool,
    ) -> Result<Processed> {
        let (committer, commit) = self.public.member_commit(auth)?;
        if committer == self.own_leaf() {
            return Err(ApiMisuse::OwnCommit.into());
        }
        let cache = std::mem::take(&mut self.public.proposal_cache);
        let result =
            self.process_commit_with(auth, commit, committer, &cache, signature, checked, staged);
        self.public.proposal_cache = cache;
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
    /// epoch's secrets — what an observer of the public state checks
    /// ([`PublicGroup::apply_member_commit`]: the proposal list (§12.2), the path-required
    /// rule, the UpdatePath's length and ciphertext counts against the resolutions, the path
    /// leaf and its parent hash, key uniqueness) — on the tree under a journal that is then
    /// rolled back. Only the path decryption and the confirmation tag, which a removed member
    /// cannot compute, are skipped, so a commit the other members reject cannot eject its
    /// victim.
    #[allow(clippy::too_many_arguments)]
    fn process_commit_with(
        &mut self,
        auth: &AuthenticatedContent,
        commit: &codec::Commit,
        committer: LeafIndex,
        cache: &[CachedProposal],
        signature: Option<&PendingSignature>,
        checked: &Cell<bool>,
        staged: bool,
    ) -> Result<CommitResult> {
        let tag = confirmation_tag(auth);
        let resolved = proposals::resolve(&commit.proposals, cache, committer)?;
        let me = self.own_leaf().0;
        let removes_me = resolved
            .iter()
            .any(|e| matches!(e.proposal, codec::Proposal::Remove(r) if r.removed == me));
        // Only a staged commit's summary needs the committer's old credential.
        let old_credential = staged
            .then(|| self.public.tree.leaf(committer).map(|l| l.decode().credential))
            .flatten();
        let psks = member_psks!(self);
        let provider = self.public.provider;
        if removes_me {
            // Rare: the signature is checked first, as it always was.
            if let Some(s) = signature {
                checked.set(true);
                s.check(&provider)?;
            }
            let summary = self.public.dry_run(|p| {
                let c = p.apply_member_commit(commit, committer, &resolved, Some(&psks), false)?;
                Ok(staged.then(|| {
                    p.summarize(&c, false, old_credential, true)
                }))
            })?;
            return Ok((None, summary.map(Box::new)));
        }
        let (private, pending, secrets) = (&self.private, &self.pending_updates, &self.secrets);
        let decrypt_and_finish = |p: &mut PublicGroup, c: PublicCommit| -> Result<_> {
            // Our own Update was committed: our leaf key is the one we proposed.
            let base = match c.applied.updated.iter().find(|(l, _)| l.0 == me) {
                Some((_, reference)) => {
                    let key = reference
                        .as_ref()
                        .and_then(|r| pending.iter().find(|p| &p.reference == r))
                        .ok_or(PeerMisbehaved::UnknownProposalRef)?;
                    TreeKemPrivate::new(LeafIndex(me), key.leaf_key.clone())
                }
                None => private.clone(),
            };
            let (private, commit_secret) = decrypt_path(p, commit, &c, base)?;
            let psk_secret = psks.secret(p, &c.applied.psks)?;
            let summary =
                staged.then(|| Box::new(p.summarize(&c, false, old_credential, false)));
            let reinit = c.applied.reinit.clone();
            let next = finish_epoch(
                p,
                auth,
                c.context,
                private,
                &commit_secret,
                &psk_secret,
                secrets.init_secret.clone(),
                &tag,
            )?;
            Ok((next, reinit, summary))
        };
        let apply_and_decrypt = |p: &mut PublicGroup| -> Result<_> {
            let mut c = p.apply_member_commit(commit, committer, &resolved, Some(&psks), true)?;
            // The path leaf's signature check, left pending by the staging, beside the rest:
            // every check that follows comes after it, so its failure is reported first.
            let leaf_signature = c.path.as_mut().and_then(StagedPath::take_leaf_signature);
            let (rest, leaf_verified) = p.executor.beside(
                || decrypt_and_finish(p, c),
                || leaf_signature.map_or(Ok(()), |s| s.check(&provider)),
            );
            leaf_verified?;
            rest
        };
        // The signature check (an Ed25519 verification, tens of microseconds) beside the
        // commit's processing, under the journal: a bad signature rolls the edits back.
        let ((next, reinit, summary), redo) = self.public.run_edit(staged, |p| {
            let executor = p.executor;
            let (work, verified) = executor.beside(
                || apply_and_decrypt(p),
                || signature.map_or(Ok(()), |s| s.check(&provider)),
            );
            checked.set(true);
            verified?;
            work
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
}

impl PublicGroup {
    /// What a commit did, read from the tree while its edits are in place: the credentials of
    /// new and updated leaves, those of removed leaves (kept by `apply_proposals`), and the
    /// committer's if it changed (`old_credential` is the one its leaf had, `None` for a
    /// joiner).
    pub(super) fn summarize(
        &self,
        c: &PublicCommit,
        external: bool,
        old_credential: Option<codec::Credential>,
        removes_me: bool,
    ) -> CommitSummary {
        let (committer, applied) = (c.committer, &c.applied);
        let credential = |l: LeafIndex| self.tree.leaf(l).map(|n| n.decode().credential);
        let committer_credential =
            credential(committer).filter(|c| Some(c) != old_credential.as_ref());
        CommitSummary {
            committer,
            external,
            epoch: c.context.epoch,
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
}

/// A member's private TreeKEM state and `commit_secret` after a commit whose public steps
/// `c` are in the tree: the UpdatePath decrypted from `base` (the member's state, with its
/// own committed Update's key) and the keys of blanked nodes dropped; without a path, `base`
/// and a zero commit secret (RFC 9420 §8).
pub(super) fn decrypt_path(
    public: &PublicGroup,
    commit: &codec::Commit,
    c: &PublicCommit,
    base: TreeKemPrivate,
) -> Result<(TreeKemPrivate, Secret)> {
    let provider = public.provider;
    let (mut private, commit_secret) = match (&c.path, &commit.path) {
        (Some(staged), Some(path)) => {
            let context = codec::encode(&c.context)?;
            let d = staged.decrypt(&provider, path, &base, &context)?;
            (d.private, d.commit_secret)
        }
        _ => (base, Secret::new(vec![0; provider.hash_len()])),
    };
    private.prune(&public.tree);
    Ok((private, commit_secret))
}

/// The key schedule of the new epoch from a verified commit (RFC 9420 §8, §8.2): the
/// confirmed transcript hash, the epoch secrets, the confirmation tag check and the interim
/// transcript hash.
#[allow(clippy::too_many_arguments)]
pub(super) fn finish_epoch(
    public: &PublicGroup,
    auth: &AuthenticatedContent,
    provisional: GroupContext,
    private: TreeKemPrivate,
    commit_secret: &Secret,
    psk_secret: &Secret,
    init_secret: Secret,
    tag: &[u8],
) -> Result<NextEpoch> {
    let provider = public.provider;
    let confirmed = public.confirmed_transcript_hash(auth)?;
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
        confirmation_tag: tag.to_vec(),
    })
}
