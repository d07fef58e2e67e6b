//! Standalone proposals sent by this member (RFC 9420 §12.1), cached for the epoch so that
//! a later commit (by any member) can reference them, and the PSK store.

use super::proposals::{proposal_ref, CachedProposal, PendingUpdate, ProposalSender};
use super::{encode_message, Group, Protection};
use crate::codec::{
    self, Add, AuthenticatedContent, Extension, FramedContent, FramedContentBody,
    GroupContextExtensions, KeyPackage, LeafNodeSourceData, LeafNodeTbs, MlsMessageBody,
    PreSharedKey, PreSharedKeyId, Proposal, Remove, Sender, Update, WireFormat,
};
use crate::crypto::{HpkePrivateKey, Secret};
use crate::error::ApiMisuse;
use crate::error::{Error, Result};
use crate::tree::LeafIndex;

/// A proposal in this epoch's cache ([`Group::cached_proposals`]).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct CachedProposalView<'a> {
    /// Its ProposalRef.
    pub reference: &'a [u8],
    /// Who sent it.
    pub sender: ProposalSender,
    /// The proposal.
    pub proposal: &'a Proposal,
}

impl Group {
    /// Register an external PSK (RFC 9420 §8.4) under `psk_id`, for PreSharedKey proposals
    /// and Welcomes that name it.
    pub fn add_external_psk(&mut self, psk_id: &[u8], psk: Secret) {
        self.external_psks.insert(psk_id.to_vec(), psk);
    }

    /// The ProposalRefs cached in this epoch (received or sent), in arrival order.
    pub fn pending_proposals(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.public.proposal_cache.iter().map(|c| c.reference.as_slice())
    }

    /// The proposals cached in this epoch, in arrival order: each one's reference, sender and
    /// the proposal itself, for an application that decides what its next commit covers.
    pub fn cached_proposals(&self) -> impl Iterator<Item = CachedProposalView<'_>> + '_ {
        self.public.proposal_cache.iter().map(|c| CachedProposalView {
            reference: &c.reference,
            sender: c.sender,
            proposal: &c.proposal,
        })
    }

    /// Drop the cached proposal with `reference`, so that this member's commits do not cover
    /// it (another member's commit may still reference it: the proposal is dropped from this
    /// member's cache only, and such a commit then fails here with
    /// [`PeerMisbehaved::UnknownProposalRef`](crate::PeerMisbehaved::UnknownProposalRef)). Dropping an own Update also forgets its key.
    /// Returns whether it was cached.
    pub fn discard_proposal(&mut self, reference: &[u8]) -> bool {
        let before = self.public.proposal_cache.len();
        self.public.proposal_cache.retain(|c| c.reference != reference);
        self.pending_updates.retain(|u| u.reference != reference);
        self.public.proposal_cache.len() != before
    }

    /// The private leaf key of this member's own Update proposal `reference` (the key its leaf
    /// takes if a commit in this epoch includes the proposal), for simulators that hold the
    /// members' keys outside their groups.
    #[cfg(feature = "unstable-internals")]
    pub fn pending_update_key(&self, reference: &[u8]) -> Option<&HpkePrivateKey> {
        self.pending_updates
            .iter()
            .find(|u| u.reference == reference)
            .map(|u| &u.leaf_key)
    }

    /// The ReInit committed in this group, if any (RFC 9420 §11.2): the group is closed
    /// and its members are expected to start the new group it describes.
    pub fn reinit(&self) -> Option<&codec::ReInit> {
        self.public.reinit.as_ref()
    }

    /// Propose adding `key_package` (RFC 9420 §12.1.1). Returns the MLSMessage to send.
    pub fn propose_add(&mut self, key_package: KeyPackage, protection: Protection) -> Result<Vec<u8>> {
        self.propose(Proposal::Add(Add { key_package }), protection, None)
    }

    /// Propose removing `leaf` (RFC 9420 §12.1.3).
    pub fn propose_remove(&mut self, leaf: LeafIndex, protection: Protection) -> Result<Vec<u8>> {
        self.propose(Proposal::Remove(Remove { removed: leaf.0 }), protection, None)
    }

    /// Propose injecting a PSK (RFC 9420 §12.1.4); this member must hold it.
    pub fn propose_psk(&mut self, psk: PreSharedKeyId, protection: Protection) -> Result<Vec<u8>> {
        self.propose(Proposal::PreSharedKey(PreSharedKey { psk }), protection, None)
    }

    /// Propose new group context extensions (RFC 9420 §12.1.7).
    pub fn propose_group_context_extensions(
        &mut self,
        extensions: Vec<Extension>,
        protection: Protection,
    ) -> Result<Vec<u8>> {
        self.propose(
            Proposal::GroupContextExtensions(GroupContextExtensions { extensions }),
            protection,
            None,
        )
    }

    /// Propose an Update of this member's leaf with a fresh HPKE key (RFC 9420 §12.1.2). The
    /// new private key is kept until the epoch ends; if another member commits the Update,
    /// processing that commit switches to it.
    pub fn propose_update(&mut self, protection: Protection) -> Result<Vec<u8>> {
        let provider = self.public.provider;
        let me = self.own_leaf();
        let mut leaf = self
            .public.tree
            .leaf(me)
            .map(|l| l.decode())
            .ok_or(Error::Internal("own leaf missing from the tree"))?;
        let ikm = self
            .rng
            .secret(&provider, b"update leaf", provider.hash_len())?;
        let (leaf_key, leaf_pub) = provider.derive_hpke_key_pair(ikm.as_bytes())?;
        leaf.encryption_key = codec::HpkePublicKey(leaf_pub.into());
        leaf.leaf_node_source = LeafNodeSourceData::Update;
        let tbs = LeafNodeTbs::in_group(&leaf, self.public.context.group_id.as_slice(), me.0);
        leaf.signature = provider
            .sign_with_label(&self.signer, b"LeafNodeTBS", &codec::encode(&tbs)?)?
            .into();
        self.propose(
            Proposal::Update(Update { leaf_node: leaf }),
            protection,
            Some(leaf_key),
        )
    }

    /// Protect a signed handshake message (proposal or commit) as a PrivateMessage, with a
    /// reuse guard from the group's randomness, or as a PublicMessage, and encode it as an
    /// MLSMessage.
    pub(super) fn frame_handshake(
        &mut self,
        auth: AuthenticatedContent,
        protection: Protection,
    ) -> Result<Vec<u8>> {
        if protection == Protection::Private {
            let guard = self.rng.secret(&self.public.provider, b"reuse guard", 4)?;
            let mut reuse_guard = [0u8; 4];
            reuse_guard.copy_from_slice(guard.as_bytes());
            let message = self
                .framing
                .protect_private_with_reuse_guard(&auth, 0, reuse_guard)?;
            encode_message(MlsMessageBody::PrivateMessage(message))
        } else {
            let message = self.framing.protect_public(auth)?;
            encode_message(MlsMessageBody::PublicMessage(message))
        }
    }

    /// Frame, sign and protect a proposal from this member, and cache it.
    fn propose(
        &mut self,
        proposal: Proposal,
        protection: Protection,
        update_key: Option<HpkePrivateKey>,
    ) -> Result<Vec<u8>> {
        if self.removed {
            return Err(ApiMisuse::NotAMember.into());
        }
        if self.public.reinit.is_some() {
            return Err(ApiMisuse::ReInitialized.into());
        }
        let me = self.own_leaf();
        // An Update's leaf is not in the tree yet: validate it as the receivers will.
        let psks = member_psks!(self);
        self.public.validate_standalone(me, &proposal, Some(&psks))?;
        let wire_format = if protection == Protection::Private {
            WireFormat::PrivateMessage
        } else {
            WireFormat::PublicMessage
        };
        let content = FramedContent {
            group_id: self.public.context.group_id.clone(),
            epoch: self.public.context.epoch,
            sender: Sender::Member { leaf_index: me.0 },
            authenticated_data: Vec::new().into(),
            content: FramedContentBody::Proposal(proposal.clone()),
        };
        let auth: AuthenticatedContent =
            self.framing
                .authenticate(&self.signer, wire_format, content, None)?;
        let reference = proposal_ref(&self.public.provider, &codec::encode(&auth)?)?;
        let bytes = self.frame_handshake(auth, protection)?;
        if let Some(leaf_key) = update_key {
            self.pending_updates.push(PendingUpdate {
                reference: reference.clone(),
                leaf_key,
            });
        }
        self.public.proposal_cache.push(CachedProposal {
            reference,
            proposal,
            sender: ProposalSender::Member(me),
        });
        Ok(bytes)
    }
}
