//! Proposal-list validation and application (RFC 9420 §12.2, §12.3), shared by the committer,
//! every receiver and an observer tracking the public state ([`PublicGroup`]), so that all
//! apply exactly the same rules; the per-epoch proposal cache for proposals sent by
//! reference (§12.4); the PSK stores a member checks PreSharedKey proposals against.

use crate::error::PeerMisbehaved;
use std::collections::{HashMap, HashSet, VecDeque};

use super::credentials::CredentialChange;
use super::{ProposalRule, PublicGroup};
use crate::codec::{
    self, Extension, ExtensionType, GroupContext, KeyPackage, LeafNode, LeafNodeSourceData,
    PreSharedKeyId, Proposal, ProposalOrRef, PskSource, ReInit, RequiredCapabilities,
    ResumptionPskUsage,
};
use crate::crypto::{HpkePrivateKey, Provider, Secret};
use crate::batch::lane_block;
use crate::error::Result;
use crate::schedule;
use crate::key_package::{validate_key_package, validate_key_packages};
use crate::tree::{check_leaf_contents, validate_leaf_node, LeafFields, LeafIndex};

/// KeyPackages per task when validating adds: eight carry sixteen signatures, two registers
/// of the Ed25519 lanes, and about 0.15 ms of work with them (0.6 ms without).
const KEY_PACKAGE_BLOCK: usize = 8;
/// The most KeyPackages per task, in a large add ([`lane_block`]): 64 signatures, eight
/// registers that share one inversion.
const KEY_PACKAGE_BLOCK_MAX: usize = 32;

/// `ProposalRef = RefHash("MLS 1.0 Proposal Reference", AuthenticatedContent)` (RFC 9420
/// §5.2) over the encoded AuthenticatedContent.
pub(super) fn proposal_ref(provider: &Provider, authenticated_content: &[u8]) -> Result<Vec<u8>> {
    Ok(provider.ref_hash(b"MLS 1.0 Proposal Reference", authenticated_content)?)
}

/// Who sent a standalone proposal (RFC 9420 §6: the sender types that may propose).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProposalSender {
    /// A member, by leaf.
    Member(LeafIndex),
    /// An external sender, by its index in the `external_senders` extension (§12.1.8.1).
    External(u32),
    /// A new member proposing its own Add (`new_member_proposal`, §12.1.8).
    NewMember,
}

impl ProposalSender {
    /// The member's leaf; for senders outside the tree a leaf index no tree has, so that rules
    /// comparing a proposal's sender with the committer or a removed leaf never match it.
    pub(super) fn leaf(self) -> LeafIndex {
        match self {
            ProposalSender::Member(l) => l,
            _ => LeafIndex(u32::MAX),
        }
    }
}

/// A proposal received (or sent) standalone in the current epoch, which a commit may
/// reference.
#[derive(Debug, Clone)]
pub(super) struct CachedProposal {
    /// Its ProposalRef.
    pub reference: Vec<u8>,
    /// The proposal.
    pub proposal: Proposal,
    /// Who sent it.
    pub sender: ProposalSender,
}

/// Our own pending Update: the private key of the leaf it proposes.
#[derive(Debug, Clone)]
pub(super) struct PendingUpdate {
    /// The ProposalRef of our Update.
    pub reference: Vec<u8>,
    /// The new leaf's HPKE private key.
    pub leaf_key: HpkePrivateKey,
}

/// One entry of a commit's resolved proposal list: the proposal, who proposed it (the
/// committer for proposals by value) and its reference if it came by reference.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry<'a> {
    pub proposal: &'a Proposal,
    pub sender: LeafIndex,
    pub reference: Option<&'a [u8]>,
}

/// What applying a commit's proposals did.
#[derive(Debug, Default)]
pub(super) struct Applied {
    /// Leaves added, with the index of their Add in the proposal list.
    pub added: Vec<(LeafIndex, usize)>,
    /// Leaves removed.
    pub removed: Vec<LeafIndex>,
    /// The credentials of the removed leaves, in the order of `removed`.
    pub removed_credentials: Vec<codec::Credential>,
    /// Leaves replaced by an Update, with the Update's reference.
    pub updated: Vec<(LeafIndex, Option<Vec<u8>>)>,
    /// RFC 9420 §12.4: the commit must carry a path (an Update, Remove, ExternalInit or
    /// GroupContextExtensions proposal present, or no proposals at all).
    pub path_required: bool,
    /// The PSKs to inject, in proposal order.
    pub psks: Vec<PreSharedKeyId>,
    /// The new group context extensions, if a GroupContextExtensions proposal is present.
    pub extensions: Option<Vec<Extension>>,
    /// A committed ReInit.
    pub reinit: Option<ReInit>,
}

/// Resolve a commit's proposal list against the cache: proposals by value are the
/// committer's, references must name a cached proposal ([`PeerMisbehaved::UnknownProposalRef`]).
pub(super) fn resolve<'a>(
    proposals: &'a [ProposalOrRef],
    cache: &'a [CachedProposal],
    committer: LeafIndex,
) -> Result<Vec<Entry<'a>>> {
    proposals
        .iter()
        .map(|p| match p {
            ProposalOrRef::Proposal(p) => Ok(Entry {
                proposal: p,
                sender: committer,
                reference: None,
            }),
            ProposalOrRef::Reference(r) => cache
                .iter()
                .find(|c| c.reference == r.as_slice())
                .map(|c| Entry {
                    proposal: &c.proposal,
                    sender: c.sender.leaf(),
                    reference: Some(c.reference.as_slice()),
                })
                .ok_or_else(|| PeerMisbehaved::UnknownProposalRef.into()),
        })
        .collect()
}

fn violation(rule: ProposalRule) -> crate::Error {
    PeerMisbehaved::InvalidProposalList(rule).into()
}

/// The `required_capabilities` extension among `extensions`, decoded.
pub(super) fn required_capabilities(
    extensions: &[Extension],
) -> Result<Option<RequiredCapabilities>> {
    extensions
        .iter()
        .find(|e| e.extension_type == ExtensionType::REQUIRED_CAPABILITIES)
        .map(|e| codec::decode::<RequiredCapabilities>(e.extension_data.as_slice()))
        .transpose()
        .map_err(Into::into)
}

/// The `external_senders` extension among `extensions`, decoded (RFC 9420 §12.1.8.1).
pub(super) fn external_senders(extensions: &[Extension]) -> Result<Vec<codec::ExternalSender>> {
    Ok(extensions
        .iter()
        .find(|e| e.extension_type == ExtensionType::EXTERNAL_SENDERS)
        .map(|e| codec::decode::<Vec<codec::ExternalSender>>(e.extension_data.as_slice()))
        .transpose()?
        .unwrap_or_default())
}

/// RFC 9420 §12.1.8: the proposal types an `external` sender may send; a `new_member_proposal`
/// may only be an Add.
pub(super) fn check_sender_may_propose(sender: ProposalSender, p: &Proposal) -> Result<()> {
    let allowed = match sender {
        ProposalSender::Member(_) => !matches!(p, Proposal::ExternalInit(_)),
        ProposalSender::External(_) => matches!(
            p,
            Proposal::Add(_)
                | Proposal::Remove(_)
                | Proposal::PreSharedKey(_)
                | Proposal::ReInit(_)
                | Proposal::GroupContextExtensions(_)
        ),
        ProposalSender::NewMember => matches!(p, Proposal::Add(_)),
    };
    if allowed {
        Ok(())
    } else {
        Err(PeerMisbehaved::ProposalSender {
            sender: match sender {
                ProposalSender::Member(_) => "member",
                ProposalSender::External(_) => "external sender",
                ProposalSender::NewMember => "new member",
            },
            proposal_type: p.proposal_type().0,
        }
        .into())
    }
}

/// Check that `leaf` supports the group context `extensions` (RFC 9420 §7.2, §11.1, §12.1.7):
/// every non-default extension type in use, and everything `required_capabilities` lists.
pub(super) fn check_leaf_supports<L: LeafFields>(
    leaf: &L,
    index: Option<LeafIndex>,
    extensions: &[Extension],
    required: Option<&RequiredCapabilities>,
) -> Result<()> {
    let unsupported = |what: &'static str, value: u16| PeerMisbehaved::UnsupportedCapability {
        leaf: index.map(|l| l.0),
        what,
        value,
    };
    for e in extensions {
        let t = e.extension_type;
        if !(1..=5).contains(&t.0) && !leaf.supports_extension(t.0) {
            return Err(unsupported("extension", t.0).into());
        }
    }
    if let Some(req) = required {
        for t in &req.extension_types {
            if !(1..=5).contains(&t.0) && !leaf.supports_extension(t.0) {
                return Err(unsupported("extension", t.0).into());
            }
        }
        for t in &req.proposal_types {
            if !(1..=7).contains(&t.0) && !leaf.supports_proposal(t.0) {
                return Err(unsupported("proposal", t.0).into());
            }
        }
        for t in &req.credential_types {
            if !leaf.supports_credential(t.0) {
                return Err(unsupported("credential", t.0).into());
            }
        }
    }
    Ok(())
}

/// The PSK stores of a member (RFC 9420 §8.4): its external PSKs, its resumption PSKs of
/// this and past epochs, and a linked group's resumption PSK for the first commit of a group
/// that resumes another. An observer holds none: the checks of PreSharedKey proposals take
/// `Option<&MemberPsks>`, `None` for the checks that need no PSK.
pub(super) struct MemberPsks<'a> {
    /// This epoch's `resumption_psk`.
    pub current: &'a Secret,
    pub external: &'a HashMap<Vec<u8>, Secret>,
    pub resumption: &'a VecDeque<(u64, Secret)>,
    pub linked: Option<&'a (Vec<u8>, u64, Secret)>,
}

impl MemberPsks<'_> {
    /// The secret of the PSK `id` (in the group of `context`): an external PSK from the
    /// store, or the resumption PSK of this group's current or a retained past epoch.
    pub(super) fn value(&self, context: &GroupContext, id: &PreSharedKeyId) -> Option<Secret> {
        match &id.source {
            PskSource::External { psk_id } => self.external.get(psk_id.as_slice()).cloned(),
            PskSource::Resumption {
                psk_group_id,
                psk_epoch,
                ..
            } => {
                if psk_group_id.as_slice() != context.group_id.as_slice() {
                    return self
                        .linked
                        .filter(|(g, e, _)| g == psk_group_id.as_slice() && e == psk_epoch)
                        .map(|(_, _, s)| s.clone());
                }
                if *psk_epoch == context.epoch {
                    return Some(self.current.clone());
                }
                self.resumption
                    .iter()
                    .find(|(e, _)| e == psk_epoch)
                    .map(|(_, s)| s.clone())
            }
        }
    }

    /// `psk_secret` (RFC 9420 §8.4) of the committed PSKs `ids`.
    pub(super) fn secret(&self, public: &PublicGroup, ids: &[PreSharedKeyId]) -> Result<Secret> {
        let resolved = ids
            .iter()
            .map(|id| {
                self.value(&public.context, id)
                    .map(|v| (id.clone(), v))
                    .ok_or(PeerMisbehaved::MissingPsk)
            })
            .collect::<Result<Vec<_>, _>>()?;
        schedule::psk_secret(&public.provider, &resolved)
    }
}

impl PublicGroup {
    /// Ask the application's credential policy about `change`.
    pub(super) fn check_credential(&self, change: CredentialChange<'_>) -> Result<()> {
        if self.credential_validator.accept(&change) {
            Ok(())
        } else {
            Err(PeerMisbehaved::CredentialRejected {
                check: change.check(),
                leaf: change.leaf().map(|l| l.0),
            }
            .into())
        }
    }

    /// The credential types of the members (kept by the tree as leaves are written, so no
    /// walk over the leaves).
    pub(super) fn credential_types_in_use(&self) -> HashSet<u16> {
        self.tree.credential_types().collect()
    }

    /// RFC 9420 §7.3: every member supports the credential type `t` of a new leaf. Every member
    /// supports every type in use (each was checked for that when it entered), so only a type
    /// not yet in use needs the walk that finds a member lacking it.
    pub(super) fn check_credential_supported(
        &self,
        t: u16,
        in_use: &HashSet<u16>,
        except: Option<LeafIndex>,
    ) -> Result<()> {
        if in_use.contains(&t) {
            return Ok(());
        }
        match self.tree.leaves().find(|(i, l)| {
            Some(*i) != except && !l.supports_credential(t)
        }) {
            Some((i, _)) => Err(PeerMisbehaved::UnsupportedCapability {
                leaf: Some(i.0),
                what: "credential",
                value: t,
            }
            .into()),
            None => Ok(()),
        }
    }

    /// §7.3: the keys a new or replacing leaf node brings are unique in the tree. `own` is the
    /// leaf it replaces (which may keep its signature key); checked before the node is in the
    /// tree.
    fn check_keys_fresh(&mut self, node: &LeafNode, own: Option<LeafIndex>, at: u32) -> Result<()> {
        let own_sig = own
            .and_then(|l| self.tree.leaf(l))
            .is_some_and(|l| l.signature_key() == node.signature_key.as_slice());
        let sig_count = self.tree.signature_key_count(node.signature_key.as_slice());
        if sig_count > u32::from(own_sig) {
            return Err(PeerMisbehaved::DuplicateKey {
                what: "signature key",
                leaf: at,
            }
            .into());
        }
        if self
            .tree
            .encryption_key_count(node.encryption_key.as_slice())
            > 0
        {
            return Err(PeerMisbehaved::DuplicateKey {
                what: "encryption key",
                leaf: at,
            }
            .into());
        }
        Ok(())
    }

    /// RFC 9420 §7.3 and §12.4.2 for the leaf node of a member's UpdatePath (its signature,
    /// source and parent hash are checked when the path is staged): it supports the new
    /// epoch's extensions and required capabilities, changes the encryption key, and passes
    /// the leaf checks of [`PublicGroup::check_replacement_leaf`].
    pub(super) fn check_path_leaf(
        &self,
        committer: LeafIndex,
        leaf: &LeafNode,
        extensions: &[Extension],
    ) -> Result<()> {
        let required = required_capabilities(extensions)?;
        check_leaf_supports(leaf, Some(committer), extensions, required.as_ref())?;
        let old = self
            .tree
            .leaf(committer)
            .ok_or(PeerMisbehaved::RemoveNonMember(committer.0))?
            .decode();
        self.check_replacement_leaf(committer, &old, leaf, false)
    }

    /// A leaf node `leaf` that takes the place of `old` (at `at`): the committer's path leaf,
    /// or in a resync the joiner's leaf taking the place of its removed one (`resync`, which
    /// must meet the criteria of an Update of the removed leaf, §12.2). A new encryption key
    /// valid for the suite, no duplicate extensions, extensions and its own credential type
    /// in its capabilities, credential types supported both ways (§7.3), and the
    /// application's credential policy.
    ///
    /// Credential support needs a walk over the members, except in the common case: the same
    /// credential type as `old` and at least `old`'s supported credential types. Then `leaf`
    /// supports every type in use (as `old` had to) and its own type is in use already.
    pub(super) fn check_replacement_leaf(
        &self,
        at: LeafIndex,
        old: &LeafNode,
        leaf: &LeafNode,
        resync: bool,
    ) -> Result<()> {
        if leaf.encryption_key == old.encryption_key {
            return Err(PeerMisbehaved::EncryptionKeyUnchanged { leaf: at.0 }.into());
        }
        let provider = self.provider;
        let same_type = leaf.credential.credential_type() == old.credential.credential_type();
        let superset = old
            .capabilities
            .credentials
            .iter()
            .all(|c| leaf.capabilities.credentials.contains(c));
        if same_type && superset {
            check_leaf_contents(&provider, leaf, &HashSet::new())?;
        } else {
            let in_use = self.credential_types_in_use();
            check_leaf_contents(&provider, leaf, &in_use)?;
            self.check_credential_supported(
                leaf.credential.credential_type().0,
                &in_use,
                Some(at),
            )?;
        }
        if resync {
            self.check_credential(CredentialChange::Resync {
                leaf: at,
                removed: &old.credential,
                joiner: &leaf.credential,
            })
        } else if leaf.credential != old.credential {
            self.check_credential(CredentialChange::Update {
                leaf: at,
                old: &old.credential,
                new: &leaf.credential,
            })
        } else {
            Ok(())
        }
    }

    /// Validate a proposal on its own against the current epoch, as far as the epoch allows
    /// (RFC 9420 §12.1): what [`PublicGroup::check_standalone`] checks, plus KeyPackages (version,
    /// suite, lifetime, signatures, capabilities against the group context, keys new to the
    /// tree, credential supported by every member and accepted by the application), Update
    /// leaf nodes (signature at the sender's position, a new encryption key, keys unique,
    /// capabilities, the credential policy), GroupContextExtensions that every member
    /// supports, and ReInit extension lists. Run on every standalone proposal before it is
    /// cached, so that no invalid proposal can reach a commit.
    pub(super) fn validate_standalone(
        &mut self,
        sender: LeafIndex,
        proposal: &Proposal,
        psks: Option<&MemberPsks<'_>>,
    ) -> Result<()> {
        self.check_standalone(sender, proposal, psks)?;
        let provider = self.provider;
        let extensions = self.context.extensions.clone();
        let extensions = &extensions;
        let required = required_capabilities(extensions)?;
        match proposal {
            Proposal::Add(add) => {
                let kp = &add.key_package;
                let in_use = self.credential_types_in_use();
                validate_key_package(&provider, kp, self.clock, &in_use)?;
                check_leaf_supports(&kp.leaf_node, None, extensions, required.as_ref())?;
                let t = kp.leaf_node.credential.credential_type().0;
                self.check_credential_supported(t, &in_use, None)?;
                self.check_keys_fresh(&kp.leaf_node, None, self.tree.n_leaves())?;
                self.check_credential(CredentialChange::Add {
                    credential: &kp.leaf_node.credential,
                })?;
            }
            Proposal::Update(u) => {
                let old = self
                    .tree
                    .leaf(sender)
                    .map(|l| l.decode())
                    .ok_or(PeerMisbehaved::RemoveNonMember(sender.0))?;
                let group_id = self.context.group_id.as_slice();
                let in_use = self.credential_types_in_use();
                validate_leaf_node(&provider, &u.leaf_node, Some((group_id, sender)), &in_use)?;
                check_leaf_supports(&u.leaf_node, Some(sender), extensions, required.as_ref())?;
                if u.leaf_node.encryption_key == old.encryption_key {
                    return Err(PeerMisbehaved::EncryptionKeyUnchanged { leaf: sender.0 }.into());
                }
                let t = u.leaf_node.credential.credential_type().0;
                self.check_credential_supported(t, &in_use, Some(sender))?;
                self.check_keys_fresh(&u.leaf_node, Some(sender), sender.0)?;
                if u.leaf_node.credential != old.credential {
                    self.check_credential(CredentialChange::Update {
                        leaf: sender,
                        old: &old.credential,
                        new: &u.leaf_node.credential,
                    })?;
                }
            }
            Proposal::GroupContextExtensions(gce) => {
                let required = required_capabilities(&gce.extensions)?;
                for (i, leaf) in self.tree.leaves() {
                    check_leaf_supports(&leaf.parse(), Some(i), &gce.extensions, required.as_ref())?;
                }
            }
            Proposal::ReInit(r) => {
                codec::check_unique_extensions(&r.extensions)?;
            }
            Proposal::Remove(_) | Proposal::PreSharedKey(_) | Proposal::ExternalInit(_) => {}
        }
        Ok(())
    }

    /// Per-proposal checks that do not depend on the rest of the list (RFC 9420 §12.1), run
    /// when a standalone proposal arrives (and again, with the list rules, at commit time).
    pub(super) fn check_standalone(
        &self,
        sender: LeafIndex,
        proposal: &Proposal,
        psks: Option<&MemberPsks<'_>>,
    ) -> Result<()> {
        match proposal {
            Proposal::Remove(r) => {
                if r.removed >= self.tree.n_leaves()
                    || self.tree.leaf(LeafIndex(r.removed)).is_none()
                {
                    return Err(PeerMisbehaved::RemoveNonMember(r.removed).into());
                }
            }
            Proposal::Update(u) => {
                if !matches!(u.leaf_node.leaf_node_source, LeafNodeSourceData::Update) {
                    return Err(violation(ProposalRule::UpdateLeafSource));
                }
                let _ = sender;
            }
            Proposal::PreSharedKey(p) => self.check_psk(&p.psk, psks)?,
            Proposal::ExternalInit(_) => {
                return Err(violation(ProposalRule::ExternalInitInMemberCommit))
            }
            Proposal::GroupContextExtensions(gce) => {
                codec::check_unique_extensions(&gce.extensions)?;
                external_senders(&gce.extensions)?;
            }
            Proposal::ReInit(r) => {
                codec::check_unique_extensions(&r.extensions)?;
            }
            Proposal::Add(_) => {}
        }
        Ok(())
    }

    /// RFC 9420 §8.4, §12.1.4: a PSK in a regular commit has a nonce of length `Nh`, is
    /// external or an `application` resumption PSK, and is one this member holds (`psks`;
    /// an observer, with `None`, cannot know which PSKs the members hold).
    fn check_psk(&self, id: &PreSharedKeyId, psks: Option<&MemberPsks<'_>>) -> Result<()> {
        if id.psk_nonce.as_slice().len() != self.provider.hash_len() {
            return Err(violation(ProposalRule::PskNonceLength));
        }
        if let PskSource::Resumption {
            usage,
            psk_group_id,
            ..
        } = &id.source
        {
            // A reinit or branch PSK only in the first commit of the group that resumes the
            // PSK's group, made by its creator (RFC 9420 §11.2, §11.3); in any other commit
            // such a proposal is invalid.
            let first_commit_of_resumed = self.context.epoch == 0
                && psks
                    .and_then(|p| p.linked)
                    .is_some_and(|(g, _, _)| g == psk_group_id.as_slice());
            if *usage != ResumptionPskUsage::Application && !first_commit_of_resumed {
                return Err(violation(ProposalRule::PskUsage));
            }
        }
        if psks.is_some_and(|p| p.value(&self.context, id).is_none()) {
            return Err(PeerMisbehaved::MissingPsk.into());
        }
        Ok(())
    }

    /// Validate `proposals` (committed by `committer`) against RFC 9420 §12.2 and apply them
    /// to the tree in §12.3 order (GroupContextExtensions, Updates, Removes, Adds; PSKs are
    /// collected). The tree must be under a journal: on error the caller rolls it back.
    ///
    /// Checks, each failing with a typed error: every proposal valid on its own (§12.1:
    /// Remove of a member, Update leaf nodes signed for their sender's position with source
    /// `update`, KeyPackages valid for the group — checked as one parallel batch — PSKs
    /// known with an `Nh` nonce and `application` usage); no Update or Remove of the
    /// committer; no Update by value; at most one Update/Remove per leaf; no two Adds with
    /// the same signature key; no PSK twice; at most one GroupContextExtensions; a ReInit
    /// alone; no ExternalInit in a member's commit; new keys new to the tree; every member
    /// and every new leaf supporting the group context extensions and required
    /// capabilities.
    pub(super) fn apply_proposals(
        &mut self,
        committer: LeafIndex,
        proposals: &[Entry<'_>],
        psks: Option<&MemberPsks<'_>>,
    ) -> Result<Applied> {
        let mut applied = Applied {
            path_required: proposals.is_empty(),
            ..Applied::default()
        };
        let mut adds: Vec<(usize, &KeyPackage)> = Vec::new();
        let mut updates: Vec<(LeafIndex, &LeafNode, Option<&[u8]>)> = Vec::new();
        let mut touched = HashSet::new();
        let mut removed = Vec::new();
        let mut add_keys = HashSet::new();
        let mut psk_ids = Vec::new();
        let mut n_reinit = 0;
        for (i, entry) in proposals.iter().enumerate() {
            let p = entry.proposal;
            self.check_standalone(entry.sender, p, psks)?;
            match p {
                Proposal::Add(add) => {
                    if !add_keys.insert(add.key_package.leaf_node.signature_key.as_slice()) {
                        return Err(violation(ProposalRule::DuplicateAddSignatureKey));
                    }
                    adds.push((i, &add.key_package));
                }
                Proposal::Remove(r) => {
                    let leaf = LeafIndex(r.removed);
                    if leaf == committer {
                        return Err(PeerMisbehaved::CommitterRemovesSelf.into());
                    }
                    if !touched.insert(r.removed) {
                        return Err(PeerMisbehaved::ConflictingProposals(r.removed).into());
                    }
                    removed.push(leaf);
                    applied.path_required = true;
                }
                Proposal::Update(u) => {
                    if entry.reference.is_none() {
                        return Err(PeerMisbehaved::UpdateByValue.into());
                    }
                    if entry.sender == committer {
                        return Err(violation(ProposalRule::CommitterUpdate));
                    }
                    if !touched.insert(entry.sender.0) {
                        return Err(PeerMisbehaved::ConflictingProposals(entry.sender.0).into());
                    }
                    updates.push((entry.sender, &u.leaf_node, entry.reference));
                    applied.path_required = true;
                }
                Proposal::PreSharedKey(psk) => {
                    if psk_ids.contains(&&psk.psk) {
                        return Err(violation(ProposalRule::DuplicatePsk));
                    }
                    psk_ids.push(&psk.psk);
                }
                Proposal::GroupContextExtensions(gce) => {
                    if applied.extensions.is_some() {
                        return Err(violation(ProposalRule::MultipleGroupContextExtensions));
                    }
                    applied.extensions = Some(gce.extensions.clone());
                    applied.path_required = true;
                }
                Proposal::ReInit(r) => {
                    n_reinit += 1;
                    applied.reinit = Some(r.clone());
                }
                Proposal::ExternalInit(_) => {
                    return Err(violation(ProposalRule::ExternalInitInMemberCommit))
                }
            }
        }
        if n_reinit > 0 && proposals.len() > 1 {
            return Err(violation(ProposalRule::ReInitNotAlone));
        }
        applied.psks = psk_ids.into_iter().cloned().collect();

        // The extensions of the new epoch, against which leaves are checked.
        let extensions = applied
            .extensions
            .clone()
            .unwrap_or_else(|| self.context.extensions.clone());
        let required = required_capabilities(&extensions)?;

        // The credential types in use, against which new leaves are checked (§7.3). Collecting
        // them walks every leaf, so only commits that bring leaves pay for it: at 50,000 members
        // the walk was ~1 ms, most of an empty commit's or its receiver's time.
        let credentials: HashSet<u16> = if adds.is_empty() && updates.is_empty() {
            HashSet::new()
        } else {
            self.credential_types_in_use()
        };
        let provider = self.provider;
        let group_id = self.context.group_id.as_slice().to_vec();
        if !adds.is_empty() {
            let clock = self.clock;
            let (ext, req) = (&extensions, required.as_ref());
            let block = lane_block(adds.len(), KEY_PACKAGE_BLOCK, KEY_PACKAGE_BLOCK_MAX);
            self.executor
                .try_map_blocks(&adds, block, |_, block| {
                    let kps: Vec<&KeyPackage> = block.iter().map(|(_, kp)| *kp).collect();
                    let valid = validate_key_packages(&provider, &kps, clock, &credentials);
                    for (kp, valid) in kps.iter().zip(valid) {
                        valid?;
                        check_leaf_supports(&kp.leaf_node, None, ext, req)?;
                    }
                    Ok::<_, crate::error::Error>(vec![(); block.len()])
                })?;
            for (_, kp) in &adds {
                let leaf = &kp.leaf_node;
                self.check_credential_supported(
                    leaf.credential.credential_type().0,
                    &credentials,
                    None,
                )?;
                self.check_credential(CredentialChange::Add {
                    credential: &leaf.credential,
                })?;
            }
        }
        for &(leaf, node, _) in &updates {
            let old = self
                .tree
                .leaf(leaf)
                .ok_or(PeerMisbehaved::RemoveNonMember(leaf.0))?
                .decode();
            validate_leaf_node(&provider, node, Some((&group_id, leaf)), &credentials)?;
            check_leaf_supports(node, Some(leaf), &extensions, required.as_ref())?;
            if node.encryption_key == old.encryption_key {
                return Err(PeerMisbehaved::EncryptionKeyUnchanged { leaf: leaf.0 }.into());
            }
            self.check_credential_supported(
                node.credential.credential_type().0,
                &credentials,
                Some(leaf),
            )?;
            if node.credential != old.credential {
                self.check_credential(CredentialChange::Update {
                    leaf,
                    old: &old.credential,
                    new: &node.credential,
                })?;
            }
        }

        for &(leaf, node, reference) in &updates {
            self.tree.update_leaf(leaf, node)?;
            self.check_new_keys(leaf, node, "update")?;
            applied.updated.push((leaf, reference.map(<[u8]>::to_vec)));
        }
        removed.sort_unstable();
        for &r in &removed {
            if let Some(leaf) = self.tree.leaf(r) {
                applied.removed_credentials.push(leaf.decode().credential);
            }
            self.tree.remove_leaf(r)?;
            applied.removed.push(r);
        }
        self.tree.reserve_leaves(adds.len());
        for (i, kp) in adds {
            let leaf = self.tree.add_leaf(&kp.leaf_node)?;
            self.check_new_keys(leaf, &kp.leaf_node, "add")?;
            applied.added.push((leaf, i));
        }
        if applied.extensions.is_some() {
            // §12.1.7: every member (after this commit's changes) supports the new
            // extensions.
            for (i, leaf) in self.tree.leaves() {
                check_leaf_supports(&leaf.parse(), Some(i), &extensions, required.as_ref())?;
            }
        }
        Ok(applied)
    }

    /// §7.3, §12.2: the keys `node` brought to `leaf` must be new to the tree.
    fn check_new_keys(&mut self, leaf: LeafIndex, node: &LeafNode, _why: &str) -> Result<()> {
        if self.tree.signature_key_count(node.signature_key.as_slice()) > 1 {
            return Err(PeerMisbehaved::DuplicateKey {
                what: "signature key",
                leaf: leaf.0,
            }
            .into());
        }
        if self
            .tree
            .encryption_key_count(node.encryption_key.as_slice())
            > 1
        {
            return Err(PeerMisbehaved::DuplicateKey {
                what: "encryption key",
                leaf: leaf.0,
            }
            .into());
        }
        Ok(())
    }
}
