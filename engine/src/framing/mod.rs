//! Message framing (RFC 9420 §6): signing and verifying `FramedContent` (§6.1), protecting
//! and unprotecting `PublicMessage` (§6.2, membership tag) and `PrivateMessage` (§6.3,
//! content and sender-data encryption), and the confirmation tag check (§6.1, §8.2).
//!
//! - [`sign_content`] / [`verify_content`] / [`authenticate`]: the `FramedContentTBS`
//!   signature, independent of any epoch state beyond the group context.
//! - [`EpochFraming`]: the keys of one epoch (group context, `membership_key`,
//!   `sender_data_secret`, the secret tree) and the protect / unprotect operations.
//! - [`open_public_message`]: the checks of a `PublicMessage` that need no epoch secret, for
//!   a delivery service that tracks the group's public state.
//! - [`verify_confirmation_tag`]: `MAC(confirmation_key, confirmed_transcript_hash)`.
//! - Why a message was rejected: [`crate::PeerMisbehaved`] (beyond codec and crypto failures).
//!
//! Looking up a sender's signature key needs the ratchet tree (or the `external_senders`
//! extension), which this module does not hold: unprotecting takes a closure from
//! [`Sender`] to the key, returning `None` for a sender that is not (or no longer) in the
//! group.
//!
// # Internal documentation
//
// Unprotecting a PrivateMessage peeks the sender's ratchet key (`SecretTree::peek_key`) and
// commits the ratchet advance only after the content decrypts AND its signature verifies:
// every member can derive every ratchet key, so decryption alone would let a member forge a
// message that burns generations of another member's ratchet. The forward distance is
// bounded by `EpochFraming::max_forward_distance`.

use crate::error::{ApiMisuse, PeerMisbehaved};
use tls_codec::VLBytes;

use crate::codec::{
    self, AuthenticatedContent, CodecError, ContentType, FramedContent, FramedContentAuthData,
    FramedContentTbs, GroupContext, Mac, Sender, WireFormat,
};
use crate::crypto::{Provider, Secret, SignaturePrivateKey};
use crate::error::{Error, Result};
use crate::schedule::{EpochSecrets, RetainedSecrets, SecretTree};

mod private;
mod public;

pub use public::open_public_message;

#[cfg(test)]
mod tests;

/// `SignWithLabel(sk, "FramedContentTBS", FramedContentTBS)` (RFC 9420 §6.1). The group
/// context is covered only for `member` and `new_member_commit` senders.
pub fn sign_content(
    provider: &Provider,
    sk: &SignaturePrivateKey,
    wire_format: WireFormat,
    content: &FramedContent,
    group_context: &GroupContext,
) -> Result<VLBytes> {
    let sign_content = codec::encode_labeled(
        b"FramedContentTBS",
        &FramedContentTbs::new(wire_format, content, group_context),
    )?;
    Ok(provider.sign_labeled(sk, &sign_content)?.into())
}

/// `VerifyWithLabel(pk, "FramedContentTBS", FramedContentTBS, signature)` (RFC 9420 §6.1).
/// Fails with [`crate::crypto::CryptoError::InvalidSignature`].
pub fn verify_content(
    provider: &Provider,
    pk: &[u8],
    content: &AuthenticatedContent,
    group_context: &GroupContext,
) -> Result<()> {
    PendingSignature::of(pk, content, group_context)?.check(provider)
}

/// The verification [`verify_content`] runs, with everything it reads copied out (the
/// `SignContent`, the key and the signature): a caller can run [`PendingSignature::check`]
/// on another thread while it works on the content, and keep that work only if the check
/// passes.
#[derive(Debug, Clone)]
pub struct PendingSignature {
    sign_content: Vec<u8>,
    key: Vec<u8>,
    signature: Vec<u8>,
}

impl PendingSignature {
    /// What [`verify_content`] of `content` with `pk` checks.
    pub fn of(pk: &[u8], content: &AuthenticatedContent, group_context: &GroupContext) -> Result<Self> {
        let sign_content = codec::encode_labeled(
            b"FramedContentTBS",
            &FramedContentTbs::new(content.wire_format, &content.content, group_context),
        )?;
        Ok(PendingSignature {
            sign_content,
            key: pk.to_vec(),
            signature: content.auth.signature.as_slice().to_vec(),
        })
    }

    /// `VerifyWithLabel(pk, "FramedContentTBS", FramedContentTBS, signature)`: what
    /// [`verify_content`] returns.
    pub fn check(&self, provider: &Provider) -> Result<()> {
        provider.verify_labeled(&self.key, &self.sign_content, &self.signature)?;
        Ok(())
    }
}

/// Sign `content` for `wire_format` and assemble the [`AuthenticatedContent`] (RFC 9420 §6.1).
/// `confirmation_tag` must be given exactly when the content is a commit; a committer that
/// needs the signature to compute the tag (§8.2) calls [`sign_content`] instead.
pub fn authenticate(
    provider: &Provider,
    sk: &SignaturePrivateKey,
    wire_format: WireFormat,
    content: FramedContent,
    group_context: &GroupContext,
    confirmation_tag: Option<Mac>,
) -> Result<AuthenticatedContent> {
    if (content.content_type() == ContentType::Commit) != confirmation_tag.is_some() {
        return Err(Error::ApiMisuse(ApiMisuse::InvalidArgument(
            "confirmation_tag must be given exactly for commits",
        )));
    }
    let signature = sign_content(provider, sk, wire_format, &content, group_context)?;
    Ok(AuthenticatedContent {
        wire_format,
        content,
        auth: FramedContentAuthData {
            signature,
            confirmation_tag,
        },
    })
}

/// Check `confirmation_tag == MAC(confirmation_key, confirmed_transcript_hash)` (RFC 9420
/// §6.1) in constant time.
pub fn verify_confirmation_tag(
    provider: &Provider,
    confirmation_key: &Secret,
    confirmed_transcript_hash: &[u8],
    confirmation_tag: &[u8],
) -> Result<()> {
    let want = provider.mac(confirmation_key.as_bytes(), confirmed_transcript_hash);
    if ct_eq(&want, confirmation_tag) {
        Ok(())
    } else {
        Err(PeerMisbehaved::InvalidConfirmationTag.into())
    }
}

/// Check that `auth` carries a confirmation tag exactly when the content is a commit
/// (RFC 9420 §6.1), for structures built by hand rather than decoded.
pub(crate) fn check_auth_shape(
    content_type: ContentType,
    auth: &FramedContentAuthData,
) -> Result<()> {
    if (content_type == ContentType::Commit) == auth.confirmation_tag.is_some() {
        Ok(())
    } else {
        Err(CodecError::Inconsistent("confirmation_tag present iff the content is a commit").into())
    }
}

/// Constant-time (in the contents) equality of two MACs.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// Default bound on how far ahead of a sender's ratchet a received generation may be.
pub const DEFAULT_MAX_FORWARD_DISTANCE: u32 = 1000;

/// The framing state of one epoch (RFC 9420 §6): the group context, the `membership_key`
/// (§6.2), the `sender_data_secret` (§6.3.2) and the secret tree (§9) with its ratchets.
///
/// Sending and receiving on a `PrivateMessage` ratchet consumes generations, so protecting
/// and unprotecting take `&mut self`. Each member holds its own `EpochFraming`.
///
/// It is deliberately not `Clone`: two states that both send from the same ratchets would
/// encrypt different messages under the same key and nonce. [`EpochFraming::receiving_copy`]
/// is the copy there is: exact receive state, no sending.
#[derive(Debug)]
pub struct EpochFraming {
    provider: Provider,
    group_context: GroupContext,
    membership_key: Secret,
    sender_data_secret: Secret,
    secret_tree: SecretTree,
    max_forward_distance: u32,
    /// Set on a [`EpochFraming::receiving_copy`]: `PrivateMessage`s cannot be sent.
    copy: bool,
}

impl EpochFraming {
    /// Framing state from the epoch's secrets; `n_leaves` is the ratchet tree's leaf count.
    ///
    /// The secret tree's root (`encryption_secret`) is split into its children at once, so
    /// the value itself is not kept (RFC 9420 §9.2: it is consumed when the epoch is set up).
    pub fn new(
        provider: Provider,
        group_context: GroupContext,
        membership_key: Secret,
        sender_data_secret: Secret,
        encryption_secret: Secret,
        n_leaves: u32,
    ) -> Self {
        let mut secret_tree = SecretTree::new(encryption_secret, n_leaves);
        // Splitting is two HKDF-Expand calls of `Nh` bytes under fixed labels, which cannot
        // fail; if it ever did, the tree stays as built and splits the root on first use
        // (returning the error then), which is correct, only later.
        let _ = secret_tree.split_root(&provider);
        EpochFraming {
            provider,
            group_context,
            membership_key,
            sender_data_secret,
            secret_tree,
            max_forward_distance: DEFAULT_MAX_FORWARD_DISTANCE,
            copy: false,
        }
    }

    /// Set up the framing of a key-schedule epoch (RFC 9420 §8), consuming its secrets:
    /// `encryption_secret` goes into the secret tree, `joiner_secret`, `welcome_secret` and
    /// `epoch_secret` are dropped (zeroized), and the secrets a member keeps for the epoch are
    /// returned (§9.2).
    pub fn from_epoch_secrets(
        provider: Provider,
        group_context: GroupContext,
        secrets: EpochSecrets,
        n_leaves: u32,
    ) -> (Self, RetainedSecrets) {
        let (retained, encryption_secret) = secrets.into_retained();
        let framing = Self::new(
            provider,
            group_context,
            retained.membership_key.clone(),
            retained.sender_data_secret.clone(),
            encryption_secret,
            n_leaves,
        );
        (framing, retained)
    }

    /// A copy with exactly this state's ratchets (so whatever this state can no longer
    /// decrypt, a replay in particular, the copy cannot either) that does not send
    /// `PrivateMessage`s ([`ApiMisuse::SendFromCopy`]). Two copies that both sent would
    /// reuse keys: the copy cannot know which generations the original goes on to use, and
    /// with seeded randomness even the reuse guard would repeat. A copy sends again from the
    /// next epoch, whose framing is built afresh. `PublicMessage`s need no ratchet and are
    /// unaffected.
    pub fn receiving_copy(&self) -> Self {
        EpochFraming {
            provider: self.provider,
            group_context: self.group_context.clone(),
            membership_key: self.membership_key.clone(),
            sender_data_secret: self.sender_data_secret.clone(),
            secret_tree: self.secret_tree.clone(),
            max_forward_distance: self.max_forward_distance,
            copy: true,
        }
    }

    /// This state, turned into a [`EpochFraming::receiving_copy`] without copying it: for a
    /// state handed to a context that cannot know which generations its sender already used.
    pub fn into_receiving_copy(mut self) -> Self {
        self.copy = true;
        self
    }

    /// Whether this state is a [`EpochFraming::receiving_copy`] (and so cannot send
    /// `PrivateMessage`s).
    pub fn is_receiving_copy(&self) -> bool {
        self.copy
    }

    /// Every secret held. The destructuring is exhaustive so that a field added later cannot
    /// be missed.
    pub(crate) fn for_each_secret(&self, f: &mut dyn FnMut(&Secret)) {
        let EpochFraming {
            provider: _,
            group_context: _,
            membership_key,
            sender_data_secret,
            secret_tree,
            max_forward_distance: _,
            copy: _,
        } = self;
        f(membership_key);
        f(sender_data_secret);
        secret_tree.for_each_secret(f);
    }

    /// Set how far ahead of a ratchet a received generation may be (default
    /// [`DEFAULT_MAX_FORWARD_DISTANCE`]).
    pub fn with_max_forward_distance(mut self, max_forward_distance: u32) -> Self {
        self.max_forward_distance = max_forward_distance;
        self
    }

    /// Append the framing state (keys and every ratchet) to `out`, for a state digest.
    pub(crate) fn digest_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.membership_key.as_bytes());
        out.extend_from_slice(self.sender_data_secret.as_bytes());
        out.extend_from_slice(&self.max_forward_distance.to_be_bytes());
        out.push(u8::from(self.copy));
        self.secret_tree.digest_into(out);
    }

    /// The epoch's group context.
    pub fn group_context(&self) -> &GroupContext {
        &self.group_context
    }

    /// The provider.
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// Replace the provider (its suite stays): a member switching its X25519 backend, or to or
    /// from simulated crypto.
    pub(crate) fn set_provider(&mut self, provider: Provider) {
        self.provider = provider;
    }

    /// [`authenticate`] with this epoch's group context.
    pub fn authenticate(
        &self,
        sk: &SignaturePrivateKey,
        wire_format: WireFormat,
        content: FramedContent,
        confirmation_tag: Option<Mac>,
    ) -> Result<AuthenticatedContent> {
        authenticate(
            &self.provider,
            sk,
            wire_format,
            content,
            &self.group_context,
            confirmation_tag,
        )
    }

    /// Check that a message is for this group and epoch.
    fn check_group_epoch(&self, group_id: &[u8], epoch: u64) -> Result<()> {
        check_group_epoch(&self.group_context, group_id, epoch)
    }
}

/// Check that a message is for the group and epoch of `group_context`.
fn check_group_epoch(group_context: &GroupContext, group_id: &[u8], epoch: u64) -> Result<()> {
    if group_id != group_context.group_id.as_slice() {
        return Err(PeerMisbehaved::WrongGroup.into());
    }
    if epoch != group_context.epoch {
        return Err(PeerMisbehaved::WrongEpoch {
            expected: group_context.epoch,
            got: epoch,
        }
        .into());
    }
    Ok(())
}

/// Verify the signature of `content` with the key `signature_key` gives for its sender.
fn verify_sender<F, K>(
    provider: &Provider,
    group_context: &GroupContext,
    content: &AuthenticatedContent,
    signature_key: F,
) -> Result<()>
where
    F: FnOnce(&Sender) -> Option<K>,
    K: AsRef<[u8]>,
{
    let sender = content.content.sender;
    let key = signature_key(&sender).ok_or(PeerMisbehaved::UnknownSender(sender))?;
    verify_content(provider, key.as_ref(), content, group_context)
}
