//! `PublicMessage` (RFC 9420 §6.2): signed content plus, for member senders, the
//! `membership_tag = MAC(membership_key, AuthenticatedContentTBM)`.

use super::{
    check_auth_shape, check_group_epoch, ct_eq, verify_sender, EpochFraming, PendingSignature,
};
use crate::codec::{
    self, AuthenticatedContent, AuthenticatedContentTbm, ContentType, FramedContentTbs,
    GroupContext, Mac, PublicMessage, Sender, WireFormat,
};
use crate::crypto::Provider;
use crate::error::PeerMisbehaved;
use crate::error::Result;

impl EpochFraming {
    /// `MAC(membership_key, AuthenticatedContentTBM)` (RFC 9420 §6.2).
    fn membership_tag(&self, content: &AuthenticatedContent) -> Result<Vec<u8>> {
        let tbm = AuthenticatedContentTbm {
            content_tbs: FramedContentTbs::new(
                WireFormat::PublicMessage,
                &content.content,
                &self.group_context,
            ),
            auth: &content.auth,
        };
        let tbm = codec::encode(&tbm)?;
        Ok(self.provider.mac(self.membership_key.as_bytes(), &tbm))
    }

    /// Encode signed content as a `PublicMessage` (RFC 9420 §6.2), adding the membership tag
    /// for a member sender. The content must have been authenticated for
    /// `mls_public_message`, for this group and epoch, and must not be application data.
    pub fn protect_public(&self, content: AuthenticatedContent) -> Result<PublicMessage> {
        if content.wire_format != WireFormat::PublicMessage {
            return Err(PeerMisbehaved::WrongWireFormat(content.wire_format).into());
        }
        if content.content.content_type() == ContentType::Application {
            return Err(PeerMisbehaved::ApplicationAsPublicMessage.into());
        }
        self.check_group_epoch(content.content.group_id.as_slice(), content.content.epoch)?;
        let membership_tag = match content.content.sender {
            Sender::Member { .. } => Some(Mac(self.membership_tag(&content)?.into())),
            _ => None,
        };
        Ok(PublicMessage {
            content: content.content,
            auth: content.auth,
            membership_tag,
        })
    }

    /// [`EpochFraming::unprotect_public`] but for its last step, the signature check, which
    /// is returned for the caller to run ([`PendingSignature::check`]): every other check in
    /// the same order, with the same errors. The content is not authenticated until the check
    /// passes; a caller works on it meanwhile only to discard the work if it fails.
    pub fn unprotect_public_deferred<F, K>(
        &self,
        message: PublicMessage,
        signature_key: F,
    ) -> Result<(AuthenticatedContent, PendingSignature)>
    where
        F: FnOnce(&Sender) -> Option<K>,
        K: AsRef<[u8]>,
    {
        let mut pending = None;
        let content = open_public_message_with(
            &self.group_context,
            message,
            |content, tag| {
                let want = self.membership_tag(content)?;
                if ct_eq(&want, tag) {
                    Ok(())
                } else {
                    Err(PeerMisbehaved::InvalidMembershipTag.into())
                }
            },
            |content| {
                let sender = content.content.sender;
                let key = signature_key(&sender).ok_or(PeerMisbehaved::UnknownSender(sender))?;
                pending = Some(PendingSignature::of(
                    key.as_ref(),
                    content,
                    &self.group_context,
                )?);
                Ok(())
            },
        )?;
        let pending = pending.ok_or(crate::Error::Internal("no signature to verify"))?;
        Ok((content, pending))
    }

    /// Decode a `PublicMessage` into verified [`AuthenticatedContent`] (RFC 9420 §6.2): the
    /// checks of [`open_public_message`], with the membership tag of a member sender checked
    /// against this epoch's `membership_key`. The confirmation tag of a commit is left to the
    /// caller, who computes the new epoch's confirmation key.
    pub fn unprotect_public<F, K>(
        &self,
        message: PublicMessage,
        signature_key: F,
    ) -> Result<AuthenticatedContent>
    where
        F: FnOnce(&Sender) -> Option<K>,
        K: AsRef<[u8]>,
    {
        open_public_message(
            &self.provider,
            &self.group_context,
            message,
            |content, tag| {
                let want = self.membership_tag(content)?;
                if ct_eq(&want, tag) {
                    Ok(())
                } else {
                    Err(PeerMisbehaved::InvalidMembershipTag.into())
                }
            },
            signature_key,
        )
    }
}

/// Decode a `PublicMessage` of the epoch of `group_context` into verified
/// [`AuthenticatedContent`] (RFC 9420 §6.2): checks the group and epoch, rejects application
/// data, requires a membership tag exactly for a member sender and has `membership_tag` check
/// its value, and verifies the signature with the key `signature_key` returns for the sender
/// (`None`: [`PeerMisbehaved::UnknownSender`]).
///
/// Everything but the membership tag's value needs no secret of the epoch: a delivery service
/// that tracks the group's public state cannot check the tag (it needs the `membership_key`,
/// §6.2) and passes a `membership_tag` that accepts.
pub fn open_public_message<F, K>(
    provider: &Provider,
    group_context: &GroupContext,
    message: PublicMessage,
    membership_tag: impl FnOnce(&AuthenticatedContent, &[u8]) -> Result<()>,
    signature_key: F,
) -> Result<AuthenticatedContent>
where
    F: FnOnce(&Sender) -> Option<K>,
    K: AsRef<[u8]>,
{
    open_public_message_with(group_context, message, membership_tag, |content| {
        verify_sender(provider, group_context, content, signature_key)
    })
}

/// [`open_public_message`] with the signature step given as `verify`, the last check.
fn open_public_message_with(
    group_context: &GroupContext,
    message: PublicMessage,
    membership_tag: impl FnOnce(&AuthenticatedContent, &[u8]) -> Result<()>,
    verify: impl FnOnce(&AuthenticatedContent) -> Result<()>,
) -> Result<AuthenticatedContent> {
    check_group_epoch(
        group_context,
        message.content.group_id.as_slice(),
        message.content.epoch,
    )?;
    if message.content.content_type() == ContentType::Application {
        return Err(PeerMisbehaved::ApplicationAsPublicMessage.into());
    }
    check_auth_shape(message.content.content_type(), &message.auth)?;
    let content = AuthenticatedContent {
        wire_format: WireFormat::PublicMessage,
        content: message.content,
        auth: message.auth,
    };
    match (content.content.sender, &message.membership_tag) {
        (Sender::Member { .. }, Some(tag)) => membership_tag(&content, tag.as_slice())?,
        (Sender::Member { .. }, None) | (_, Some(_)) => {
            return Err(PeerMisbehaved::InvalidMembershipTag.into())
        }
        (_, None) => {}
    }
    verify(&content)?;
    Ok(content)
}
