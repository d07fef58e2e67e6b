//! `PrivateMessage` (RFC 9420 §6.3): content encrypted under the sender's secret-tree ratchet
//! key with a reuse guard (§6.3.1), sender data encrypted under a key sampled from the
//! ciphertext (§6.3.2).

use crate::error::{ApiMisuse, PeerMisbehaved};
use std::io::Write;

use tls_codec::{Serialize, Size};

use super::{check_auth_shape, EpochFraming};
use crate::codec::{
    self, AuthenticatedContent, ContentType, FramedContent, FramedContentAuthData,
    FramedContentBody, PrivateContentAad, PrivateMessage, PrivateMessageContent, Sender,
    SenderData, SenderDataAad, WireFormat,
};
use crate::crypto::Secret;
use crate::error::{Error, Result};
use crate::schedule::secret_tree::{sender_data_key_nonce, RatchetKind};
use crate::tree::math::LeafIndex;

/// `PrivateMessageContent` borrowing the content and auth data (encoding only), so
/// protecting a commit does not clone it.
struct PrivateMessageContentRef<'a> {
    content: &'a FramedContentBody,
    auth: &'a FramedContentAuthData,
    padding_len: usize,
}

impl Size for PrivateMessageContentRef<'_> {
    fn tls_serialized_len(&self) -> usize {
        self.content.untagged_len() + self.auth.tls_serialized_len() + self.padding_len
    }
}

impl Serialize for PrivateMessageContentRef<'_> {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, tls_codec::Error> {
        let n = self.content.write_untagged(w)? + self.auth.tls_serialize(w)?;
        const ZEROS: [u8; 64] = [0; 64];
        let mut left = self.padding_len;
        while left > 0 {
            let k = left.min(ZEROS.len());
            w.write_all(&ZEROS[..k])?;
            left -= k;
        }
        Ok(n + self.padding_len)
    }
}

/// The ratchet a content type is encrypted under (RFC 9420 §6.3.1, §9.1).
fn ratchet_kind(content_type: ContentType) -> RatchetKind {
    match content_type {
        ContentType::Application => RatchetKind::Application,
        ContentType::Proposal | ContentType::Commit => RatchetKind::Handshake,
    }
}

/// The content nonce: the ratchet nonce with `reuse_guard` XORed into its first four bytes
/// (RFC 9420 §6.3.1).
fn guarded_nonce(nonce: &Secret, reuse_guard: [u8; 4]) -> Result<Secret> {
    let mut out = nonce.as_bytes().to_vec();
    let head = out
        .get_mut(..4)
        .ok_or(Error::Internal("AEAD nonce shorter than the reuse guard"))?;
    for (b, g) in head.iter_mut().zip(reuse_guard) {
        *b ^= g;
    }
    Ok(Secret::new(out))
}

impl EpochFraming {
    /// Encrypt signed content as a `PrivateMessage` (RFC 9420 §6.3) under the sender's next
    /// unused generation, with a fresh random reuse guard and `padding_len` zero bytes of
    /// padding. The content must have been authenticated for `mls_private_message`, for this
    /// group and epoch, by a member.
    pub fn protect_private(
        &mut self,
        content: &AuthenticatedContent,
        padding_len: usize,
    ) -> Result<PrivateMessage> {
        let guard = self.provider.random_bytes(4);
        let reuse_guard = <[u8; 4]>::try_from(guard.as_slice())
            .map_err(|_| Error::Internal("random_bytes(4) returned another length"))?;
        self.protect_private_with_reuse_guard(content, padding_len, reuse_guard)
    }

    /// Keep the keys of up to `tolerance` skipped generations below each sender's ratchet
    /// position, so `PrivateMessage`s arriving out of order within that window still decrypt
    /// (each once). The default, `0`, keeps none. See
    /// [`SecretTree::with_out_of_order_tolerance`](crate::schedule::SecretTree::with_out_of_order_tolerance).
    pub fn with_out_of_order_tolerance(mut self, tolerance: u32) -> Self {
        self.secret_tree = self.secret_tree.with_out_of_order_tolerance(tolerance);
        self
    }

    /// [`EpochFraming::protect_private`] with a given reuse guard. The guard only matters if
    /// the ratchet state is lost; it must be random outside tests. A
    /// [`EpochFraming::receiving_copy`] fails with [`ApiMisuse::SendFromCopy`].
    pub fn protect_private_with_reuse_guard(
        &mut self,
        content: &AuthenticatedContent,
        padding_len: usize,
        reuse_guard: [u8; 4],
    ) -> Result<PrivateMessage> {
        if self.copy {
            return Err(ApiMisuse::SendFromCopy.into());
        }
        if content.wire_format != WireFormat::PrivateMessage {
            return Err(PeerMisbehaved::WrongWireFormat(content.wire_format).into());
        }
        let framed = &content.content;
        let Sender::Member { leaf_index } = framed.sender else {
            return Err(PeerMisbehaved::NonMemberSender.into());
        };
        self.check_group_epoch(framed.group_id.as_slice(), framed.epoch)?;
        let content_type = framed.content_type();
        check_auth_shape(content_type, &content.auth)?;

        // Content encryption (§6.3.1).
        let leaf = LeafIndex(leaf_index);
        let kind = ratchet_kind(content_type);
        let generation = self
            .secret_tree
            .next_generation(&self.provider, leaf, kind)?;
        let key = self
            .secret_tree
            .key(&self.provider, leaf, kind, generation)?;
        let nonce = guarded_nonce(&key.nonce, reuse_guard)?;
        let plaintext = Secret::new(codec::encode(&PrivateMessageContentRef {
            content: &framed.content,
            auth: &content.auth,
            padding_len,
        })?);
        let aad = codec::encode(&PrivateContentAad {
            group_id: framed.group_id.as_slice(),
            epoch: framed.epoch,
            content_type,
            authenticated_data: framed.authenticated_data.as_slice(),
        })?;
        let ciphertext = self.provider.aead_seal(
            key.key.as_bytes(),
            nonce.as_bytes(),
            &aad,
            plaintext.as_bytes(),
        )?;

        // Sender data encryption (§6.3.2).
        let sender_data = codec::encode(&SenderData {
            leaf_index,
            generation,
            reuse_guard,
        })?;
        let (sd_key, sd_nonce) = sender_data_key_nonce(
            &self.provider,
            self.sender_data_secret.as_bytes(),
            &ciphertext,
        )?;
        let sd_aad = codec::encode(&SenderDataAad {
            group_id: framed.group_id.as_slice(),
            epoch: framed.epoch,
            content_type,
        })?;
        let encrypted_sender_data = self.provider.aead_seal(
            sd_key.as_bytes(),
            sd_nonce.as_bytes(),
            &sd_aad,
            &sender_data,
        )?;

        Ok(PrivateMessage {
            group_id: framed.group_id.clone(),
            epoch: framed.epoch,
            content_type,
            authenticated_data: framed.authenticated_data.clone(),
            encrypted_sender_data: encrypted_sender_data.into(),
            ciphertext: ciphertext.into(),
        })
    }

    /// Decrypt a `PrivateMessage` into verified [`AuthenticatedContent`] (RFC 9420 §6.3):
    /// checks the group and epoch, decrypts the sender data, looks up the sender's signature
    /// key with `signature_key` (`None`, e.g. for a blank leaf:
    /// [`PeerMisbehaved::UnknownSender`]), decrypts the content with the sender's ratchet key
    /// for the generation, checks the padding is all zeros and verifies the signature. The
    /// confirmation tag of a commit is left to the caller.
    ///
    /// The generation's key is consumed (and the ratchet moved past it) only when every check
    /// has passed: a message that fails leaves the secret tree as it was, so a forged message
    /// cannot burn another member's generations. A generation already used, or deleted
    /// (skipped beyond the out-of-order tolerance), fails with
    /// [`PeerMisbehaved::GenerationConsumed`]; one more than `max_forward_distance` ahead with
    /// [`PeerMisbehaved::GenerationTooFar`].
    pub fn unprotect_private<F, K>(
        &mut self,
        message: &PrivateMessage,
        signature_key: F,
    ) -> Result<AuthenticatedContent>
    where
        F: FnOnce(&Sender) -> Option<K>,
        K: AsRef<[u8]>,
    {
        self.check_group_epoch(message.group_id.as_slice(), message.epoch)?;
        let content_type = message.content_type;

        // Sender data (§6.3.2).
        let ciphertext = message.ciphertext.as_slice();
        let (sd_key, sd_nonce) = sender_data_key_nonce(
            &self.provider,
            self.sender_data_secret.as_bytes(),
            ciphertext,
        )?;
        let sd_aad = codec::encode(&SenderDataAad {
            group_id: message.group_id.as_slice(),
            epoch: message.epoch,
            content_type,
        })?;
        let sender_data = self
            .provider
            .aead_open(
                sd_key.as_bytes(),
                sd_nonce.as_bytes(),
                &sd_aad,
                message.encrypted_sender_data.as_slice(),
            )
            .map_err(|_| PeerMisbehaved::SenderDataDecryption)?;
        let sender_data: SenderData = codec::decode(&sender_data)?;

        // The sender must be a non-blank leaf: ask before touching its ratchet.
        let sender = Sender::Member {
            leaf_index: sender_data.leaf_index,
        };
        if sender_data.leaf_index >= self.secret_tree.n_leaves() {
            return Err(PeerMisbehaved::UnknownSender(sender).into());
        }
        let verification_key =
            signature_key(&sender).ok_or(PeerMisbehaved::UnknownSender(sender))?;

        // Content (§6.3.1). The key is looked up without consuming it: the ratchet moves
        // (and the key is deleted) only once the message has fully verified below.
        let leaf = LeafIndex(sender_data.leaf_index);
        let kind = ratchet_kind(content_type);
        let generation = sender_data.generation;
        let next = self
            .secret_tree
            .next_generation(&self.provider, leaf, kind)?;
        if !self
            .secret_tree
            .is_available(&self.provider, leaf, kind, generation)?
        {
            return Err(PeerMisbehaved::GenerationConsumed { generation }.into());
        }
        if generation >= next && generation - next > self.max_forward_distance {
            return Err(PeerMisbehaved::GenerationTooFar { generation, next }.into());
        }
        let pending = self
            .secret_tree
            .peek_key(&self.provider, leaf, kind, generation)?;
        let nonce = guarded_nonce(&pending.key().nonce, sender_data.reuse_guard)?;
        let aad = codec::encode(&PrivateContentAad {
            group_id: message.group_id.as_slice(),
            epoch: message.epoch,
            content_type,
            authenticated_data: message.authenticated_data.as_slice(),
        })?;
        let plaintext = Secret::new(
            self.provider
                .aead_open(
                    pending.key().key.as_bytes(),
                    nonce.as_bytes(),
                    &aad,
                    ciphertext,
                )
                .map_err(|_| PeerMisbehaved::ContentDecryption)?,
        );
        let PrivateMessageContent { content, auth, .. } =
            PrivateMessageContent::decode(content_type, plaintext.as_bytes())?;

        let content = AuthenticatedContent {
            wire_format: WireFormat::PrivateMessage,
            content: FramedContent {
                group_id: message.group_id.clone(),
                epoch: message.epoch,
                sender,
                authenticated_data: message.authenticated_data.clone(),
                content,
            },
            auth,
        };
        super::verify_content(
            &self.provider,
            verification_key.as_ref(),
            &content,
            &self.group_context,
        )?;
        // Every member can derive every leaf's ratchet keys, so a content AEAD that opens
        // proves only membership; the signature proves the sender. Consume the key only now,
        // so nobody but the sender can burn the sender's generations.
        self.secret_tree.commit_key(pending)?;
        Ok(content)
    }
}
