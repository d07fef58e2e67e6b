//! `PublicMessage` (RFC 9420 §6.2): signed content plus, for member senders, the
//! `membership_tag = MAC(membership_key, AuthenticatedContentTBM)`.

use super::{check_auth_shape, ct_eq, EpochFraming};
use crate::codec::{
    self, AuthenticatedContent, AuthenticatedContentTbm, ContentType, FramedContentTbs, Mac,
    PublicMessage, Sender, WireFormat,
};
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

    /// Decode a `PublicMessage` into verified [`AuthenticatedContent`] (RFC 9420 §6.2): checks
    /// the group and epoch, rejects application data, checks the membership tag of a member
    /// sender and verifies the signature with the key `signature_key` returns for the sender
    /// (`None`: [`PeerMisbehaved::UnknownSender`]). The confirmation tag of a commit is left
    /// to the caller, who computes the new epoch's confirmation key.
    pub fn unprotect_public<F, K>(
        &self,
        message: PublicMessage,
        signature_key: F,
    ) -> Result<AuthenticatedContent>
    where
        F: FnOnce(&Sender) -> Option<K>,
        K: AsRef<[u8]>,
    {
        self.check_group_epoch(message.content.group_id.as_slice(), message.content.epoch)?;
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
            (Sender::Member { .. }, Some(tag)) => {
                let want = self.membership_tag(&content)?;
                if !ct_eq(&want, tag.as_slice()) {
                    return Err(PeerMisbehaved::InvalidMembershipTag.into());
                }
            }
            (Sender::Member { .. }, None) | (_, Some(_)) => {
                return Err(PeerMisbehaved::InvalidMembershipTag.into())
            }
            (_, None) => {}
        }
        self.verify_sender(&content, signature_key)?;
        Ok(content)
    }
}
