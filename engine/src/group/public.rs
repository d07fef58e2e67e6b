//! A group's public state, and an observer that tracks it without any secret: what a delivery
//! service holds to follow a group whose handshake messages are PublicMessages (RFC 9420
//! §6.2), as openmls's `PublicGroup` and mls-rs's `ExternalGroup` do. See [`PublicGroup`].
//
// # Internal documentation
//
// Every `Group` holds its public state as a `PublicGroup`, and the checks that need no secret
// are `PublicGroup` methods that members and observers share: the proposal rules
// (`proposals.rs`), a member's commit (`apply_member_commit`), an external commit
// (`open_external_commit`, `apply_external_commit`), the path merge (`merge_path`). A member
// adds what needs its secrets around them (membership tag, path decryption, key schedule,
// confirmation tag, which PSKs it holds); the member a commit removes runs exactly the
// observer's checks under a journal it rolls back.

use std::sync::Arc;

use super::credentials::{CredentialChange, CredentialValidator};
use super::join;
use super::process::ProcessOutcome;
use super::proposals::{
    self, check_leaf_supports, check_sender_may_propose, external_senders, proposal_ref,
    required_capabilities, Applied, CachedProposal, Entry, MemberPsks, ProposalSender,
};
use super::{
    decode_message, digest_field, next_epoch, run_journaled, GroupConfig, ProposalRule,
    TreeDelivery,
};
use crate::batch::Executor;
use crate::codec::{
    self, AuthenticatedContent, Commit, Extension, ExtensionType, FramedContentBody,
    GroupContext, MlsMessageBody, Proposal, ProposalOrRef, ProposalType, PublicMessage, ReInit,
    Sender, UpdatePath,
};
use crate::crypto::{Provider, X25519Backend, X25519BackendError};
use crate::error::{ApiMisuse, PeerMisbehaved, Result};
use crate::framing::open_public_message;
use crate::kem::StagedPath;
use crate::key_package::Clock;
use crate::schedule;
use crate::tree::{check_leaf_contents, LeafIndex, RatchetTree, TreeRedo};
#[cfg(doc)]
use super::Group;

/// The public state of an MLS group in one epoch, and an observer that follows the group
/// through its PublicMessages without holding any secret: what a delivery service (DS) holds
/// to check and order a group's handshake messages.
///
/// It holds the GroupContext, the ratchet tree, the interim transcript hash, the confirmation
/// tag of the last commit, the proposals cached in the epoch and a committed ReInit. It is
/// built from a member's GroupInfo and the tree ([`PublicGroup::from_group_info`], checked as
/// a joiner checks them) or copied from a member ([`Group::public_group`]), and then follows
/// the group: [`PublicGroup::process`] takes every PublicMessage proposal and commit
/// (members', external senders', new members' external commits) and runs every check a
/// member runs that needs no secret, through the members' own code. A failed `process`
/// leaves the state unchanged ([`PublicGroup::state_digest`]) and returns the error a member
/// returns for the same fault. Every [`Group`] holds one and runs the same checks through it.
///
/// # What it cannot check
///
/// Some checks need the epoch's secrets, which a DS does not have (RFC 9420 §6.2, §8.2, and
/// the delivery service of the MLS architecture, RFC 9750 §5):
///
/// - the **membership tag** of a member's PublicMessage (`membership_key`, §6.2): it checks
///   that a tag is present exactly when the sender is a member, not its value;
/// - the **confirmation tag** of a commit (`confirmation_key`, §8.2): it takes the tag from
///   the message into the interim transcript hash, as a member does after checking it;
/// - what only the **path secrets** show (§7.5): that each member's ciphertext of the
///   UpdatePath decrypts and that the path secrets derive the path's public keys. It checks
///   the path's shape (one node per filtered-direct-path node, one ciphertext per member of
///   each resolution), the leaf's source and signature, the parent hashes and that the keys
///   are new to the tree;
/// - which **PSKs** the members hold: a PreSharedKey proposal is checked for its nonce length
///   and usage only, and an external commit's `kem_output` not at all.
///
/// So a commit the observer accepts may still be refused by the members, for a wrong tag or
/// a ciphertext that does not decrypt, and an observer built from a GroupInfo trusts the
/// GroupInfo's confirmation tag. PrivateMessages are refused: a DS cannot read them.
///
/// # Example
///
/// A delivery service tracks Alice's group from its GroupInfo and follows Alice's commit.
///
/// ```
/// use canopy_engine::{
///     key_package, CipherSuite, CommitOptions, Group, GroupConfig, ProcessOutcome, Provider,
///     PublicGroup, TreeDelivery,
/// };
///
/// # fn main() -> Result<(), canopy_engine::Error> {
/// let provider = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
/// let (signer, _) = provider.generate_signature_key_pair();
/// let mut alice = Group::create(provider, b"g", b"alice", signer, GroupConfig::default())?;
///
/// // The delivery service starts from a GroupInfo that carries the tree.
/// let group_info = alice.group_info(TreeDelivery::Included)?;
/// let mut ds = PublicGroup::from_group_info(provider, &group_info, None, GroupConfig::default())?;
///
/// let (kp, _) = key_package(&provider, b"bob")?;
/// let added = alice.commit(&CommitOptions::new().add_member(kp))?;
/// let outcome = ds.process(&added.commit)?;
/// assert!(matches!(outcome, ProcessOutcome::Committed { epoch: 1, .. }));
/// assert_eq!(ds.context(), alice.context());
/// assert_eq!(ds.member_count(), 2);
///
/// // A copy of a member's public state is the same observer.
/// assert_eq!(ds.state_digest()?, alice.public_group().state_digest()?);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PublicGroup {
    pub(super) provider: Provider,
    pub(super) context: GroupContext,
    pub(super) tree: RatchetTree,
    pub(super) interim_transcript_hash: Vec<u8>,
    /// The confirmation tag of the commit (or GroupInfo) that started the epoch.
    pub(super) confirmation_tag: Vec<u8>,
    /// Proposals sent standalone in this epoch (RFC 9420 §12.4), cleared on epoch change.
    pub(super) proposal_cache: Vec<CachedProposal>,
    /// A committed ReInit (RFC 9420 §11.2): the group is closed.
    pub(super) reinit: Option<ReInit>,
    /// How KeyPackage lifetimes are checked.
    pub(super) clock: Clock,
    /// Where KeyPackage checks run as a batch.
    pub(super) executor: Executor,
    /// The application's credential policy.
    pub(super) credential_validator: Arc<dyn CredentialValidator>,
}

/// What an observer knows of the GroupInfo of its epoch (RFC 9420 §12.4.3): the GroupContext,
/// the confirmation tag and, when asked for, the `ratchet_tree` extension. A member's
/// GroupInfo also carries `external_pub` (derived from the epoch's `external_secret`) and the
/// member's signature, which an observer cannot produce.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnsignedGroupInfo {
    /// The epoch's GroupContext.
    pub group_context: GroupContext,
    /// The GroupInfo extensions: `ratchet_tree` with [`TreeDelivery::Included`], else none.
    pub extensions: Vec<Extension>,
    /// The confirmation tag of the commit that started the epoch.
    pub confirmation_tag: Vec<u8>,
}

/// A commit's public effect, computed on the tree under its journal: the proposals applied,
/// the path merged, the provisional GroupContext of the next epoch with the new tree hash
/// (its confirmed transcript hash still the old one).
pub(super) struct PublicCommit {
    pub applied: Applied,
    /// The committer's leaf (for an external commit, the leaf the joiner took).
    pub committer: LeafIndex,
    pub context: GroupContext,
    /// The merged UpdatePath, which a member decrypts.
    pub path: Option<StagedPath>,
}

/// The proposals of an external commit (RFC 9420 §12.2): the ExternalInit's KEM output, the
/// joiner's old leaf if it rejoins, and the Remove and PreSharedKey proposals.
pub(super) struct ExternalProposals {
    pub kem_output: Vec<u8>,
    pub removed: Option<LeafIndex>,
    pub entries: Vec<Proposal>,
}

impl PublicGroup {
    /// The public state of an epoch from its parts; the settings of the checks come from
    /// `config` (its randomness is not used: the public state draws none).
    pub(super) fn new(
        provider: Provider,
        context: GroupContext,
        tree: RatchetTree,
        interim_transcript_hash: Vec<u8>,
        confirmation_tag: Vec<u8>,
        config: &GroupConfig,
    ) -> Self {
        PublicGroup {
            provider,
            context,
            tree,
            interim_transcript_hash,
            confirmation_tag,
            proposal_cache: Vec::new(),
            reinit: None,
            clock: config.clock,
            executor: config.executor,
            credential_validator: config.credential_validator.clone(),
        }
    }

    /// Track a group from an MLSMessage(GroupInfo) signed by a member (RFC 9420 §12.4.3),
    /// with the tree from its `ratchet_tree` extension or `ratchet_tree`. The GroupInfo and
    /// tree are checked as a joiner checks them (the tree's validity, leaf signatures and
    /// parent hashes, its hash against the GroupContext, the GroupInfo's signature by its
    /// signer's leaf, the extensions, every member's capabilities and the credential policy
    /// of `config`), except the confirmation tag, which needs the epoch's secrets: it is
    /// taken as the GroupInfo carries it.
    pub fn from_group_info(
        provider: Provider,
        group_info: &[u8],
        ratchet_tree: Option<&[u8]>,
        config: GroupConfig,
    ) -> Result<Self> {
        Ok(Self::open_group_info(provider, group_info, ratchet_tree, &config)?.0)
    }

    /// [`PublicGroup::from_group_info`], also returning the GroupInfo's extensions (an
    /// external joiner needs `external_pub`).
    pub(super) fn open_group_info(
        provider: Provider,
        group_info: &[u8],
        ratchet_tree: Option<&[u8]>,
        config: &GroupConfig,
    ) -> Result<(Self, Vec<Extension>)> {
        let message = decode_message(group_info)?;
        let MlsMessageBody::GroupInfo(gi) = message.body else {
            return Err(ApiMisuse::UnexpectedMessage("not a GroupInfo").into());
        };
        if gi.group_context.cipher_suite.0 != provider.suite().id() {
            return Err(ApiMisuse::UnexpectedMessage("GroupInfo for another cipher suite").into());
        }
        let tree = join::open_group_info(&provider, &gi, ratchet_tree, config)?;
        let interim_transcript_hash = schedule::interim_transcript_hash(
            &provider,
            gi.group_context.confirmed_transcript_hash.as_slice(),
            gi.confirmation_tag.as_slice(),
        )?;
        let public = Self::new(
            provider,
            gi.group_context,
            tree,
            interim_transcript_hash,
            gi.confirmation_tag.as_slice().to_vec(),
            config,
        );
        Ok((public, gi.extensions))
    }

    /// Process an MLSMessage(PublicMessage) carrying a proposal or a commit: a member's, an
    /// external sender's or a new member's (its Add proposal or its external commit). Runs
    /// every check a member runs that needs no secret (see [`PublicGroup`] for those it
    /// cannot run): the group and epoch, the sender's signature, the proposal
    /// rules (§12.1, §12.2), the path leaf, the parent hashes and the tree hash; then caches a
    /// proposal, or applies a commit and moves to the next epoch with the confirmed
    /// transcript hash computed from the commit and the confirmation tag it carries.
    ///
    /// On error the state is unchanged, and the error is the one a member returns for the
    /// same fault.
    pub fn process(&mut self, bytes: &[u8]) -> Result<ProcessOutcome> {
        let message = decode_message(bytes)?;
        let MlsMessageBody::PublicMessage(public) = message.body else {
            return Err(ApiMisuse::UnexpectedMessage(
                "not a PublicMessage (an observer holds no key to read others)",
            )
            .into());
        };
        let (provider, context) = (self.provider, &self.context);
        if public.content.sender == Sender::NewMemberCommit {
            let (auth, parsed) = self.open_external_commit(public, |m, key| {
                open_public_message(&provider, context, m, accept_tag, |_| Some(key))
            })?;
            let tag = confirmation_tag(&auth);
            let commit = commit_of(&auth)?;
            let (committer, _) = self.run_edit(false, |p| {
                let checked = p.apply_external_commit(commit, &parsed, None)?;
                let committer = checked.committer;
                p.advance(&auth, checked, tag)?;
                Ok(committer)
            })?;
            return Ok(self.committed(committer));
        }
        let key = self.sender_key(&public)?;
        let auth = open_public_message(&provider, context, public, accept_tag, |_| key)?;
        if let FramedContentBody::Proposal(_) = &auth.content.content {
            let (sender, proposal_type) = self.receive_proposal(auth, None)?;
            return Ok(ProcessOutcome::Proposal {
                sender,
                proposal_type,
            });
        }
        let (committer, commit) = self.member_commit(&auth)?;
        let tag = confirmation_tag(&auth);
        let cache = std::mem::take(&mut self.proposal_cache);
        let result = proposals::resolve(&commit.proposals, &cache, committer).and_then(|resolved| {
            self.run_edit(false, |p| {
                let checked = p.apply_member_commit(commit, committer, &resolved, None, false)?;
                p.advance(&auth, checked, tag)
            })
        });
        self.proposal_cache = cache;
        result?;
        // The cache belonged to the epoch just left.
        self.proposal_cache.clear();
        Ok(self.committed(committer))
    }

    /// The outcome of a commit just applied.
    fn committed(&self, committer: LeafIndex) -> ProcessOutcome {
        ProcessOutcome::Committed {
            epoch: self.context.epoch,
            committer,
        }
    }

    /// The observer's step into the next epoch, on the tree under the commit's journal (its
    /// last fallible step): the confirmed transcript hash from the commit, the interim one
    /// from the commit's confirmation tag (RFC 9420 §8.2), a committed ReInit.
    fn advance(&mut self, auth: &AuthenticatedContent, c: PublicCommit, tag: Vec<u8>) -> Result<()> {
        let mut context = c.context;
        let confirmed = self.confirmed_transcript_hash(auth)?;
        let interim = schedule::interim_transcript_hash(&self.provider, &confirmed, &tag)?;
        context.confirmed_transcript_hash = confirmed.into();
        self.enter_epoch(context, interim, tag);
        self.reinit = c.applied.reinit;
        Ok(())
    }

    /// Enter the next epoch: its context and transcript state. The proposals cached in the
    /// epoch just left are dropped.
    pub(super) fn enter_epoch(
        &mut self,
        context: GroupContext,
        interim_transcript_hash: Vec<u8>,
        confirmation_tag: Vec<u8>,
    ) {
        self.context = context;
        self.interim_transcript_hash = interim_transcript_hash;
        self.confirmation_tag = confirmation_tag;
        self.proposal_cache.clear();
    }

    /// The signature key of the sender of a PublicMessage that is not an external commit:
    /// a member's from its leaf, an external sender's from the `external_senders` extension
    /// (§12.1.8; it may only send proposals), a new member's from the KeyPackage of the Add
    /// it proposes. `None`: no such sender.
    pub(super) fn sender_key(&self, public: &PublicMessage) -> Result<Option<Vec<u8>>> {
        Ok(match public.content.sender {
            Sender::Member { .. } => member_key(&self.tree, &public.content.sender),
            // Signed by its path leaf ([`PublicGroup::open_external_commit`]).
            Sender::NewMemberCommit => None,
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
            // A new member proposing its own Add signs with the key of the leaf in the
            // KeyPackage it brings.
            Sender::NewMemberProposal => match &public.content.content {
                FramedContentBody::Proposal(Proposal::Add(a)) => {
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
        })
    }

    /// Validate and cache a verified standalone proposal (RFC 9420 §12.1, §12.4).
    pub(super) fn receive_proposal(
        &mut self,
        auth: AuthenticatedContent,
        psks: Option<&MemberPsks<'_>>,
    ) -> Result<(ProposalSender, ProposalType)> {
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
        self.validate_standalone(sender.leaf(), &proposal, psks)?;
        let proposal_type = proposal.proposal_type();
        if !self.proposal_cache.iter().any(|c| c.reference == reference) {
            self.proposal_cache.push(CachedProposal {
                reference,
                proposal,
                sender,
            });
        }
        Ok((sender, proposal_type))
    }

    /// The committer and the Commit of a verified commit from a member, in a group that
    /// takes commits.
    pub(super) fn member_commit<'a>(
        &self,
        auth: &'a AuthenticatedContent,
    ) -> Result<(LeafIndex, &'a Commit)> {
        let Sender::Member { leaf_index } = auth.content.sender else {
            return Err(ApiMisuse::UnexpectedMessage("commit from a non-member").into());
        };
        if self.reinit.is_some() {
            return Err(ApiMisuse::ReInitialized.into());
        }
        Ok((LeafIndex(leaf_index), commit_of(auth)?))
    }

    /// The public steps of a member's commit (RFC 9420 §12.4.2) on the tree under its
    /// journal: the proposal list validated and applied (§12.2, §12.3), the path-required
    /// rule, the provisional GroupContext, the path leaf's checks, and the path staged and
    /// merged ([`PublicGroup::merge_path`]). With `defer_leaf_signature`, the path leaf's
    /// signature check is left in the result's staged path for the caller to run
    /// ([`StagedPath::stage_deferred`]).
    pub(super) fn apply_member_commit(
        &mut self,
        commit: &Commit,
        committer: LeafIndex,
        resolved: &[Entry<'_>],
        psks: Option<&MemberPsks<'_>>,
        defer_leaf_signature: bool,
    ) -> Result<PublicCommit> {
        let applied = self.apply_proposals(committer, resolved, psks)?;
        if applied.path_required && commit.path.is_none() {
            return Err(PeerMisbehaved::PathRequired.into());
        }
        let provisional = self.provisional_context(&applied)?;
        if let Some(path) = &commit.path {
            self.check_path_leaf(committer, &path.leaf_node, &provisional.extensions)?;
        }
        self.merge_path(commit, committer, applied, provisional, defer_leaf_signature)
    }

    /// Open an external commit (RFC 9420 §12.4.3.2) in a group that takes commits: its path
    /// is required, and its signature is by the path leaf's key (`unprotect` verifies the
    /// message with the key it is given). Returns the verified content and its proposals,
    /// checked against the rules for external commits (§12.2: one ExternalInit, at most one
    /// Remove, PSKs, all by value).
    pub(super) fn open_external_commit(
        &self,
        public: PublicMessage,
        unprotect: impl FnOnce(PublicMessage, Vec<u8>) -> Result<AuthenticatedContent>,
    ) -> Result<(AuthenticatedContent, ExternalProposals)> {
        if self.reinit.is_some() {
            return Err(ApiMisuse::ReInitialized.into());
        }
        let FramedContentBody::Commit(commit) = &public.content.content else {
            return Err(
                ApiMisuse::UnexpectedMessage("new_member_commit sender on a non-commit").into(),
            );
        };
        let path = commit.path.as_ref().ok_or(PeerMisbehaved::PathRequired)?;
        let key = path.leaf_node.signature_key.as_slice().to_vec();
        let auth = unprotect(public, key)?;
        let invalid =
            || PeerMisbehaved::InvalidProposalList(ProposalRule::ExternalCommitProposals).into();
        let mut kem_output = None;
        let mut removed = None;
        let mut entries = Vec::new();
        for p in &commit_of(&auth)?.proposals {
            let ProposalOrRef::Proposal(p) = p else {
                return Err(invalid());
            };
            match p {
                Proposal::ExternalInit(e) if kem_output.is_none() => {
                    kem_output = Some(e.kem_output.as_slice().to_vec())
                }
                Proposal::Remove(r) if removed.is_none() => {
                    removed = Some(LeafIndex(r.removed));
                    entries.push(p.clone());
                }
                Proposal::PreSharedKey(_) => entries.push(p.clone()),
                _ => return Err(invalid()),
            }
        }
        let kem_output = kem_output.ok_or_else(invalid)?;
        Ok((
            auth,
            ExternalProposals {
                kem_output,
                removed,
                entries,
            },
        ))
    }

    /// The public steps of an external commit on the tree under its journal: the joiner's
    /// leaf checked (against its old leaf as an Update of it when it rejoins, §12.2; else as
    /// a new leaf), its Remove and PSKs through the shared rules, its leaf added at the
    /// leftmost free position and checked against the new epoch's extensions, and the path
    /// staged and merged ([`PublicGroup::merge_path`]).
    pub(super) fn apply_external_commit(
        &mut self,
        commit: &Commit,
        parsed: &ExternalProposals,
        psks: Option<&MemberPsks<'_>>,
    ) -> Result<PublicCommit> {
        let path = commit.path.as_ref().ok_or(PeerMisbehaved::PathRequired)?;
        let leaf = &path.leaf_node;
        match parsed.removed {
            Some(old) => {
                let old_leaf = self
                    .tree
                    .leaf(old)
                    .ok_or(PeerMisbehaved::RemoveNonMember(old.0))?
                    .decode();
                self.check_replacement_leaf(old, &old_leaf, leaf, true)?;
            }
            None => {
                let in_use = self.credential_types_in_use();
                check_leaf_contents(&self.provider, leaf, &in_use)?;
                self.check_credential_supported(
                    leaf.credential.credential_type().0,
                    &in_use,
                    None,
                )?;
                self.check_credential(CredentialChange::ExternalJoin {
                    credential: &leaf.credential,
                })?;
            }
        }
        // The committer is not yet a member, so no leaf of the tree is "the committer".
        let resolved: Vec<Entry<'_>> = parsed
            .entries
            .iter()
            .map(|p| Entry {
                proposal: p,
                sender: LeafIndex(u32::MAX),
                reference: None,
            })
            .collect();
        let applied = self.apply_proposals(LeafIndex(u32::MAX), &resolved, psks)?;
        let committer = self.tree.add_leaf(leaf)?;
        let provisional = self.provisional_context(&applied)?;
        let required = required_capabilities(&provisional.extensions)?;
        check_leaf_supports(
            leaf,
            Some(committer),
            &provisional.extensions,
            required.as_ref(),
        )?;
        self.merge_path(commit, committer, applied, provisional, false)
    }

    /// Merge a commit's UpdatePath (if any) into the tree under the journal (the caller has
    /// checked the path leaf against the leaf it replaces): stage it (its shape, the leaf's
    /// signature and source, the parent hashes: [`StagedPath::stage`]), merge it, check that
    /// its keys are new to the tree (§7.3), and fill in the provisional context's tree hash.
    pub(super) fn merge_path(
        &mut self,
        commit: &Commit,
        committer: LeafIndex,
        applied: Applied,
        mut provisional: GroupContext,
        defer_leaf_signature: bool,
    ) -> Result<PublicCommit> {
        let provider = self.provider;
        let path = match &commit.path {
            Some(path) => {
                let new_leaves: Vec<LeafIndex> = applied.added.iter().map(|&(l, _)| l).collect();
                let stage = if defer_leaf_signature {
                    StagedPath::stage_deferred
                } else {
                    StagedPath::stage
                };
                let staged = stage(
                    &provider,
                    &mut self.tree,
                    committer,
                    path,
                    &new_leaves,
                    provisional.group_id.as_slice(),
                )?;
                if let Err(e) = self.merge_staged(&staged, path, committer) {
                    // These checks come after the leaf's signature: a bad one is reported
                    // first.
                    if let Some(s) = staged.leaf_signature() {
                        s.check(&provider)?;
                    }
                    return Err(e);
                }
                Some(staged)
            }
            None => None,
        };
        provisional.tree_hash = self.tree.tree_hash(&provider)?.into();
        Ok(PublicCommit {
            applied,
            committer,
            context: provisional,
            path,
        })
    }

    /// Merge a staged path into the tree and check that the keys it brings are new to it
    /// (§7.3).
    fn merge_staged(
        &mut self,
        staged: &StagedPath,
        path: &UpdatePath,
        committer: LeafIndex,
    ) -> Result<()> {
        staged.merge(&mut self.tree)?;
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
        Ok(())
    }

    /// The provisional GroupContext of the next epoch (RFC 9420 §12.4.2): epoch + 1 and the
    /// new extensions if a GroupContextExtensions proposal is committed. The tree hash is
    /// filled in once the path is merged.
    pub(super) fn provisional_context(&self, applied: &Applied) -> Result<GroupContext> {
        let mut provisional = GroupContext {
            epoch: next_epoch(self.context.epoch)?,
            ..self.context.clone()
        };
        if let Some(ext) = &applied.extensions {
            provisional.extensions = ext.clone();
        }
        Ok(provisional)
    }

    /// The confirmed transcript hash after the commit `auth` (RFC 9420 §8.2).
    pub(super) fn confirmed_transcript_hash(&self, auth: &AuthenticatedContent) -> Result<Vec<u8>> {
        schedule::confirmed_transcript_hash(
            &self.provider,
            &self.interim_transcript_hash,
            auth.wire_format,
            &auth.content,
            auth.auth.signature.as_slice(),
        )
    }

    /// [`run_journaled`] on this state's tree.
    pub(super) fn run_edit<T>(
        &mut self,
        staged: bool,
        op: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<(T, Option<TreeRedo>)> {
        run_journaled(self, |p| &mut p.tree, staged, op)
    }

    /// Run `op` on the tree under a journal and restore the tree exactly afterwards, whatever
    /// the outcome: the checks a removed member runs on the commit that removes it.
    pub(super) fn dry_run<T>(&mut self, op: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.tree.begin_journal()?;
        let result = op(self);
        self.tree.rollback();
        result
    }

    /// Append the public state to a state digest's input: the context, the tree, the
    /// transcript state, the proposal cache and a committed ReInit.
    pub(super) fn digest_into(&self, out: &mut Vec<u8>) -> Result<()> {
        digest_field(out, &codec::encode(&self.context)?);
        digest_field(out, &self.tree.wire_bytes()?);
        digest_field(out, &self.interim_transcript_hash);
        digest_field(out, &self.confirmation_tag);
        for c in &self.proposal_cache {
            digest_field(out, &c.reference);
            digest_field(out, &codec::encode(&c.proposal)?);
            let sender = match c.sender {
                ProposalSender::Member(l) => [0, l.0],
                ProposalSender::External(i) => [1, i],
                ProposalSender::NewMember => [2, 0],
            };
            digest_field(out, &sender[0].to_be_bytes());
            digest_field(out, &sender[1].to_be_bytes());
        }
        out.push(0xff);
        match &self.reinit {
            Some(r) => digest_field(out, &codec::encode(r)?),
            None => out.push(0),
        }
        Ok(())
    }

    /// A SHA-256 digest of the whole public state: GroupContext, tree, interim transcript
    /// hash, confirmation tag, proposal cache and committed ReInit. Two observers with the
    /// same digest behave identically; tests use it to show that a rejected message left
    /// nothing changed.
    pub fn state_digest(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.digest_into(&mut out)?;
        Ok(self.provider.hash(&out))
    }

    /// The `ratchet_tree` extension of a GroupInfo of this epoch.
    pub(super) fn ratchet_tree_extension(&self) -> Result<Extension> {
        Ok(Extension {
            extension_type: ExtensionType::RATCHET_TREE,
            extension_data: self.tree.wire_bytes()?.into(),
        })
    }

    /// What this state knows of the epoch's GroupInfo, with the `ratchet_tree` extension if
    /// `tree` is [`TreeDelivery::Included`] (see [`UnsignedGroupInfo`]).
    pub fn group_info(&self, tree: TreeDelivery) -> Result<UnsignedGroupInfo> {
        let mut extensions = Vec::new();
        if tree == TreeDelivery::Included {
            extensions.push(self.ratchet_tree_extension()?);
        }
        Ok(UnsignedGroupInfo {
            group_context: self.context.clone(),
            extensions,
            confirmation_tag: self.confirmation_tag.clone(),
        })
    }

    /// Replace the executor (e.g. force the serial reference path).
    pub fn set_executor(&mut self, executor: Executor) {
        self.executor = executor;
    }

    /// Replace the clock that KeyPackage lifetimes are checked against.
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// Compute the batched X25519 on `backend` from now on
    /// ([`Provider::with_x25519_backend`]): the same bytes, another implementation. An error
    /// naming the backend if this host does not run it.
    pub fn set_x25519_backend(
        &mut self,
        backend: X25519Backend,
    ) -> core::result::Result<(), X25519BackendError> {
        self.provider = self.provider.with_x25519_backend(backend)?;
        Ok(())
    }

    /// Switch this observer's crypto to simulated or back to real (see
    /// [`Provider::with_simulated_crypto`]), for the messages that follow. A simulated
    /// observer counts every check as the real one and skips the signature verifications, so
    /// it follows a group driven by simulated commits: the tree and its hash are the real ones.
    #[cfg(feature = "simulated-crypto")]
    pub fn set_simulated_crypto(&mut self, on: bool) {
        self.provider = self.provider.with_simulated_crypto(on);
    }

    /// The provider (cipher suite).
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.context.epoch
    }

    /// The current GroupContext.
    pub fn context(&self) -> &GroupContext {
        &self.context
    }

    /// The tree hash of the current tree (the GroupContext's `tree_hash`).
    pub fn tree_hash(&self) -> &[u8] {
        self.context.tree_hash.as_slice()
    }

    /// The confirmation tag of the commit that started the epoch.
    pub fn confirmation_tag(&self) -> &[u8] {
        &self.confirmation_tag
    }

    /// The public ratchet tree.
    #[cfg(feature = "unstable-internals")]
    pub fn tree(&self) -> &RatchetTree {
        &self.tree
    }

    /// Number of members (non-blank leaves).
    pub fn member_count(&self) -> usize {
        self.tree.leaves().count()
    }

    /// The ratchet tree in its wire form (the `ratchet_tree` extension body), serialized.
    pub fn ratchet_tree_bytes(&self) -> Result<Vec<u8>> {
        Ok(self.tree.wire_bytes()?)
    }

    /// The length of [`PublicGroup::ratchet_tree_bytes`]: what a joiner downloads when the
    /// tree travels out of band.
    pub fn ratchet_tree_size(&self) -> Result<usize> {
        Ok(self.tree.wire_bytes()?.len())
    }

    /// The ProposalRefs cached in this epoch, in arrival order.
    pub fn pending_proposals(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.proposal_cache.iter().map(|c| c.reference.as_slice())
    }

    /// The ReInit committed in this group, if any (RFC 9420 §11.2).
    pub fn reinit(&self) -> Option<&ReInit> {
        self.reinit.as_ref()
    }
}

/// The signature key of a member sender, from the tree.
pub(super) fn member_key(tree: &RatchetTree, sender: &Sender) -> Option<Vec<u8>> {
    match sender {
        Sender::Member { leaf_index } => tree
            .leaf(LeafIndex(*leaf_index))
            .map(|l| l.signature_key().to_vec()),
        _ => None,
    }
}

/// The Commit of verified content.
pub(super) fn commit_of(auth: &AuthenticatedContent) -> Result<&Commit> {
    match &auth.content.content {
        FramedContentBody::Commit(commit) => Ok(commit),
        _ => Err(ApiMisuse::UnexpectedMessage("not a commit").into()),
    }
}

/// The confirmation tag a commit carries (empty if it carries none; decoding requires one).
pub(super) fn confirmation_tag(auth: &AuthenticatedContent) -> Vec<u8> {
    auth.auth
        .confirmation_tag
        .as_ref()
        .map(|t| t.as_slice().to_vec())
        .unwrap_or_default()
}

/// The membership tag check of an observer, which cannot compute the tag (RFC 9420 §6.2: it
/// needs the epoch's `membership_key`).
fn accept_tag(_: &AuthenticatedContent, _: &[u8]) -> Result<()> {
    Ok(())
}
