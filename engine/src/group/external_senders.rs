//! Proposals from outside the group (RFC 9420 §12.1.8): an `external` sender listed in the
//! group context's `external_senders` extension (a delivery service removing an inactive
//! member, a directory adding a new hire), and a `new_member_proposal`, a would-be member
//! proposing its own Add. Both are PublicMessages without a membership tag, signed with the
//! sender's key; the group's members validate and cache them like a member's proposal, and a
//! member's commit covers them by reference.

use super::encode_message;
use super::proposals::{check_sender_may_propose, ProposalSender};
use crate::codec::{
    self, Add, CipherSuiteId, FramedContent, FramedContentAuthData, FramedContentBody,
    GroupContext, KeyPackage, MlsMessageBody, Proposal, ProtocolVersion, PublicMessage, Sender,
    WireFormat,
};
use crate::crypto::{Provider, SignaturePrivateKey};
use crate::error::Result;
use crate::framing::sign_content;

/// A proposal from the external sender at `sender_index` of the group's `external_senders`
/// extension, for epoch `epoch` of group `group_id`, signed with `signer`: an
/// MLSMessage(PublicMessage) for the members. Only Add, Remove, PreSharedKey, ReInit and
/// GroupContextExtensions may come from an external sender
/// ([`crate::error::PeerMisbehaved::ProposalSender`] otherwise).
pub fn external_proposal(
    provider: &Provider,
    signer: &SignaturePrivateKey,
    sender_index: u32,
    group_id: &[u8],
    epoch: u64,
    proposal: Proposal,
) -> Result<Vec<u8>> {
    check_sender_may_propose(ProposalSender::External(sender_index), &proposal)?;
    frame(
        provider,
        signer,
        Sender::External { sender_index },
        group_id,
        epoch,
        proposal,
    )
}

/// A would-be member's proposal to add itself with `key_package` (`new_member_proposal`),
/// signed with the key of the KeyPackage's leaf (`signer`).
pub fn new_member_proposal(
    provider: &Provider,
    signer: &SignaturePrivateKey,
    group_id: &[u8],
    epoch: u64,
    key_package: KeyPackage,
) -> Result<Vec<u8>> {
    frame(
        provider,
        signer,
        Sender::NewMemberProposal,
        group_id,
        epoch,
        Proposal::Add(Add { key_package }),
    )
}

fn frame(
    provider: &Provider,
    signer: &SignaturePrivateKey,
    sender: Sender,
    group_id: &[u8],
    epoch: u64,
    proposal: Proposal,
) -> Result<Vec<u8>> {
    let content = FramedContent {
        group_id: group_id.to_vec().into(),
        epoch,
        sender,
        authenticated_data: Vec::new().into(),
        content: FramedContentBody::Proposal(proposal),
    };
    // The FramedContentTBS of these sender types does not cover the group context (§6.1):
    // an outsider does not know it. This one only fills the signature's argument.
    let unused_context = GroupContext {
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuiteId(provider.suite().id()),
        group_id: group_id.to_vec().into(),
        epoch,
        tree_hash: Vec::new().into(),
        confirmed_transcript_hash: Vec::new().into(),
        extensions: Vec::new(),
    };
    let signature = sign_content(
        provider,
        signer,
        WireFormat::PublicMessage,
        &content,
        &unused_context,
    )?;
    encode_message(MlsMessageBody::PublicMessage(PublicMessage {
        content,
        auth: FramedContentAuthData {
            signature,
            confirmation_tag: None,
        },
        membership_tag: None,
    }))
}

/// The `external_senders` extension (RFC 9420 §12.1.8.1) listing `senders`, for a
/// GroupContextExtensions proposal or a new group's context.
pub fn external_senders_extension(senders: &[codec::ExternalSender]) -> Result<codec::Extension> {
    Ok(codec::Extension {
        extension_type: codec::ExtensionType::EXTERNAL_SENDERS,
        extension_data: codec::encode(&senders.to_vec())?.into(),
    })
}
