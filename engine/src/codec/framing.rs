//! Message framing (RFC 9420 §6, §8.2): senders, framed content, authentication data,
//! `PublicMessage`, `PrivateMessage` and their signed / MACed / encrypted inputs.

use std::io::{Read, Write};

use tls_codec::{
    Deserialize, Error, Serialize, Size, TlsDeserialize, TlsSerialize, TlsSize, VLBytes,
};

use super::tree::{vl_len, vl_write};
use super::{
    bad_padding, from_decode_error, inconsistent, CodecError, Commit, ContentType, GroupContext,
    Mac, Proposal, ProtocolVersion, SenderType, WireFormat,
};

pub(crate) const NO_CONFIRMATION_TAG: &str = "commit without confirmation_tag";
pub(crate) const STRAY_CONFIRMATION_TAG: &str = "confirmation_tag on a non-commit";
pub(crate) const NO_MEMBERSHIP_TAG: &str = "member PublicMessage without membership_tag";
pub(crate) const STRAY_MEMBERSHIP_TAG: &str = "membership_tag on a non-member PublicMessage";
pub(crate) const NO_GROUP_CONTEXT: &str = "FramedContentTBS needs the group context";
pub(crate) const STRAY_GROUP_CONTEXT: &str = "FramedContentTBS must not carry a group context";

/// `Sender` (RFC 9420 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sender {
    /// `member`.
    Member {
        /// The sender's leaf index.
        leaf_index: u32,
    },
    /// `external`.
    External {
        /// Index into the `external_senders` extension.
        sender_index: u32,
    },
    /// `new_member_proposal`.
    NewMemberProposal,
    /// `new_member_commit`.
    NewMemberCommit,
}

impl Sender {
    /// The `sender_type`.
    pub fn sender_type(&self) -> SenderType {
        match self {
            Sender::Member { .. } => SenderType::Member,
            Sender::External { .. } => SenderType::External,
            Sender::NewMemberProposal => SenderType::NewMemberProposal,
            Sender::NewMemberCommit => SenderType::NewMemberCommit,
        }
    }

    /// Whether `FramedContentTBS` includes the group context for this sender.
    pub fn signs_group_context(&self) -> bool {
        matches!(self, Sender::Member { .. } | Sender::NewMemberCommit)
    }
}

impl Size for Sender {
    fn tls_serialized_len(&self) -> usize {
        match self {
            Sender::Member { .. } | Sender::External { .. } => 5,
            Sender::NewMemberProposal | Sender::NewMemberCommit => 1,
        }
    }
}

impl Serialize for Sender {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        let n = self.sender_type().tls_serialize(w)?;
        Ok(n + match self {
            Sender::Member { leaf_index: i } | Sender::External { sender_index: i } => {
                i.tls_serialize(w)?
            }
            Sender::NewMemberProposal | Sender::NewMemberCommit => 0,
        })
    }
}

impl Deserialize for Sender {
    fn tls_deserialize<R: Read>(r: &mut R) -> Result<Self, Error> {
        Ok(match SenderType::tls_deserialize(r)? {
            SenderType::Member => Sender::Member {
                leaf_index: u32::tls_deserialize(r)?,
            },
            SenderType::External => Sender::External {
                sender_index: u32::tls_deserialize(r)?,
            },
            SenderType::NewMemberProposal => Sender::NewMemberProposal,
            SenderType::NewMemberCommit => Sender::NewMemberCommit,
        })
    }
}

/// The `content_type`-dependent part of `FramedContent` (RFC 9420 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // One per message; boxing buys nothing.
pub enum FramedContentBody {
    /// `application`.
    Application {
        /// Application payload.
        application_data: VLBytes,
    },
    /// `proposal`.
    Proposal(Proposal),
    /// `commit`.
    Commit(Commit),
}

impl FramedContentBody {
    /// The `content_type`.
    pub fn content_type(&self) -> ContentType {
        match self {
            FramedContentBody::Application { .. } => ContentType::Application,
            FramedContentBody::Proposal(_) => ContentType::Proposal,
            FramedContentBody::Commit(_) => ContentType::Commit,
        }
    }

    /// Size without the `content_type` byte.
    pub fn untagged_len(&self) -> usize {
        match self {
            FramedContentBody::Application { application_data } => {
                application_data.tls_serialized_len()
            }
            FramedContentBody::Proposal(p) => p.tls_serialized_len(),
            FramedContentBody::Commit(c) => c.tls_serialized_len(),
        }
    }

    /// Write without the `content_type` byte (as in `PrivateMessageContent`).
    pub fn write_untagged<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        match self {
            FramedContentBody::Application { application_data } => {
                application_data.tls_serialize(w)
            }
            FramedContentBody::Proposal(p) => p.tls_serialize(w),
            FramedContentBody::Commit(c) => c.tls_serialize(w),
        }
    }

    /// Read the arm selected by `content_type`.
    pub fn read_untagged<R: Read>(content_type: ContentType, r: &mut R) -> Result<Self, Error> {
        Ok(match content_type {
            ContentType::Application => FramedContentBody::Application {
                application_data: VLBytes::tls_deserialize(r)?,
            },
            ContentType::Proposal => FramedContentBody::Proposal(Proposal::tls_deserialize(r)?),
            ContentType::Commit => FramedContentBody::Commit(Commit::tls_deserialize(r)?),
        })
    }
}

impl Size for FramedContentBody {
    fn tls_serialized_len(&self) -> usize {
        1 + self.untagged_len()
    }
}

impl Serialize for FramedContentBody {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        Ok(self.content_type().tls_serialize(w)? + self.write_untagged(w)?)
    }
}

impl Deserialize for FramedContentBody {
    fn tls_deserialize<R: Read>(r: &mut R) -> Result<Self, Error> {
        let ct = ContentType::tls_deserialize(r)?;
        Self::read_untagged(ct, r)
    }
}

/// `FramedContent` (RFC 9420 §6).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct FramedContent {
    /// Group identifier.
    pub group_id: VLBytes,
    /// Epoch.
    pub epoch: u64,
    /// Who sent it.
    pub sender: Sender,
    /// Additional authenticated data.
    pub authenticated_data: VLBytes,
    /// `content_type` and its arm.
    pub content: FramedContentBody,
}

impl FramedContent {
    /// The `content_type`.
    pub fn content_type(&self) -> ContentType {
        self.content.content_type()
    }
}

/// `FramedContentAuthData` (RFC 9420 §6.1). `confirmation_tag` is present iff the content
/// is a commit; decode it with [`FramedContentAuthData::read_for`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramedContentAuthData {
    /// `SignWithLabel(., "FramedContentTBS", FramedContentTBS)`.
    pub signature: VLBytes,
    /// Present iff `content_type == commit`.
    pub confirmation_tag: Option<Mac>,
}

impl FramedContentAuthData {
    /// Read the auth data of content of type `content_type`.
    pub fn read_for<R: Read>(content_type: ContentType, r: &mut R) -> Result<Self, Error> {
        let signature = VLBytes::tls_deserialize(r)?;
        let confirmation_tag = match content_type {
            ContentType::Commit => Some(Mac::tls_deserialize(r)?),
            ContentType::Application | ContentType::Proposal => None,
        };
        Ok(FramedContentAuthData {
            signature,
            confirmation_tag,
        })
    }

    /// Check that `confirmation_tag` matches `content_type`.
    pub fn check_for(&self, content_type: ContentType) -> Result<(), Error> {
        match (content_type, &self.confirmation_tag) {
            (ContentType::Commit, None) => Err(inconsistent(NO_CONFIRMATION_TAG)),
            (ContentType::Application | ContentType::Proposal, Some(_)) => {
                Err(inconsistent(STRAY_CONFIRMATION_TAG))
            }
            _ => Ok(()),
        }
    }
}

impl Size for FramedContentAuthData {
    fn tls_serialized_len(&self) -> usize {
        self.signature.tls_serialized_len()
            + self
                .confirmation_tag
                .as_ref()
                .map_or(0, Size::tls_serialized_len)
    }
}

impl Serialize for FramedContentAuthData {
    /// Writes the signature and, if present, the confirmation tag (no presence byte).
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        let mut n = self.signature.tls_serialize(w)?;
        if let Some(tag) = &self.confirmation_tag {
            n += tag.tls_serialize(w)?;
        }
        Ok(n)
    }
}

/// `AuthenticatedContent` (RFC 9420 §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedContent {
    /// Wire format the content is (to be) sent in.
    pub wire_format: WireFormat,
    /// The content.
    pub content: FramedContent,
    /// Signature and confirmation tag.
    pub auth: FramedContentAuthData,
}

impl Size for AuthenticatedContent {
    fn tls_serialized_len(&self) -> usize {
        self.wire_format.tls_serialized_len()
            + self.content.tls_serialized_len()
            + self.auth.tls_serialized_len()
    }
}

impl Serialize for AuthenticatedContent {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        self.auth.check_for(self.content.content_type())?;
        Ok(self.wire_format.tls_serialize(w)?
            + self.content.tls_serialize(w)?
            + self.auth.tls_serialize(w)?)
    }
}

impl Deserialize for AuthenticatedContent {
    fn tls_deserialize<R: Read>(r: &mut R) -> Result<Self, Error> {
        let wire_format = WireFormat::tls_deserialize(r)?;
        let content = FramedContent::tls_deserialize(r)?;
        let auth = FramedContentAuthData::read_for(content.content_type(), r)?;
        Ok(AuthenticatedContent {
            wire_format,
            content,
            auth,
        })
    }
}

/// `FramedContentTBS` (RFC 9420 §6.1), borrowing the content and group context.
/// `group_context` must be `Some` exactly when the sender is `member` or
/// `new_member_commit` ([`Sender::signs_group_context`]); encoding fails otherwise.
#[derive(Debug, Clone, Copy)]
pub struct FramedContentTbs<'a> {
    /// Wire format of the message.
    pub wire_format: WireFormat,
    /// The content.
    pub content: &'a FramedContent,
    /// The current group context (member / new-member-commit senders).
    pub group_context: Option<&'a GroupContext>,
}

impl<'a> FramedContentTbs<'a> {
    /// Build the TBS, taking the group context only when the sender type needs it.
    pub fn new(
        wire_format: WireFormat,
        content: &'a FramedContent,
        group_context: &'a GroupContext,
    ) -> Self {
        let group_context = content
            .sender
            .signs_group_context()
            .then_some(group_context);
        FramedContentTbs {
            wire_format,
            content,
            group_context,
        }
    }
}

impl Size for FramedContentTbs<'_> {
    fn tls_serialized_len(&self) -> usize {
        2 + 2
            + self.content.tls_serialized_len()
            + self.group_context.map_or(0, Size::tls_serialized_len)
    }
}

impl Serialize for FramedContentTbs<'_> {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        match (
            self.content.sender.signs_group_context(),
            self.group_context,
        ) {
            (true, None) => return Err(inconsistent(NO_GROUP_CONTEXT)),
            (false, Some(_)) => return Err(inconsistent(STRAY_GROUP_CONTEXT)),
            _ => {}
        }
        let mut n = ProtocolVersion::MLS10.tls_serialize(w)?
            + self.wire_format.tls_serialize(w)?
            + self.content.tls_serialize(w)?;
        if let Some(ctx) = self.group_context {
            n += ctx.tls_serialize(w)?;
        }
        Ok(n)
    }
}

/// `AuthenticatedContentTBM` (RFC 9420 §6.2): the membership-tag MAC input.
#[derive(Debug, Clone, Copy)]
pub struct AuthenticatedContentTbm<'a> {
    /// The TBS.
    pub content_tbs: FramedContentTbs<'a>,
    /// The auth data.
    pub auth: &'a FramedContentAuthData,
}

impl Size for AuthenticatedContentTbm<'_> {
    fn tls_serialized_len(&self) -> usize {
        self.content_tbs.tls_serialized_len() + self.auth.tls_serialized_len()
    }
}

impl Serialize for AuthenticatedContentTbm<'_> {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        self.auth
            .check_for(self.content_tbs.content.content_type())?;
        Ok(self.content_tbs.tls_serialize(w)? + self.auth.tls_serialize(w)?)
    }
}

/// `PublicMessage` (RFC 9420 §6.2). `membership_tag` is present iff the sender is a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicMessage {
    /// The content.
    pub content: FramedContent,
    /// Signature and confirmation tag.
    pub auth: FramedContentAuthData,
    /// Present iff `sender_type == member`.
    pub membership_tag: Option<Mac>,
}

impl Size for PublicMessage {
    fn tls_serialized_len(&self) -> usize {
        self.content.tls_serialized_len()
            + self.auth.tls_serialized_len()
            + self
                .membership_tag
                .as_ref()
                .map_or(0, Size::tls_serialized_len)
    }
}

impl Serialize for PublicMessage {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        self.auth.check_for(self.content.content_type())?;
        let is_member = self.content.sender.sender_type() == SenderType::Member;
        match (is_member, &self.membership_tag) {
            (true, None) => return Err(inconsistent(NO_MEMBERSHIP_TAG)),
            (false, Some(_)) => return Err(inconsistent(STRAY_MEMBERSHIP_TAG)),
            _ => {}
        }
        let mut n = self.content.tls_serialize(w)? + self.auth.tls_serialize(w)?;
        if let Some(tag) = &self.membership_tag {
            n += tag.tls_serialize(w)?;
        }
        Ok(n)
    }
}

impl Deserialize for PublicMessage {
    fn tls_deserialize<R: Read>(r: &mut R) -> Result<Self, Error> {
        let content = FramedContent::tls_deserialize(r)?;
        let auth = FramedContentAuthData::read_for(content.content_type(), r)?;
        let membership_tag = match content.sender {
            Sender::Member { .. } => Some(Mac::tls_deserialize(r)?),
            _ => None,
        };
        Ok(PublicMessage {
            content,
            auth,
            membership_tag,
        })
    }
}

/// `PrivateMessage` (RFC 9420 §6.3).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct PrivateMessage {
    /// Group identifier.
    pub group_id: VLBytes,
    /// Epoch.
    pub epoch: u64,
    /// Type of the encrypted content.
    pub content_type: ContentType,
    /// Additional authenticated data.
    pub authenticated_data: VLBytes,
    /// Encrypted `SenderData`.
    pub encrypted_sender_data: VLBytes,
    /// Encrypted `PrivateMessageContent`.
    pub ciphertext: VLBytes,
}

/// `PrivateMessageContent` (RFC 9420 §6.3.1): the plaintext of `PrivateMessage.ciphertext`.
/// Decode with [`PrivateMessageContent::decode`]; the padding must be all zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateMessageContent {
    /// The content (its type is `PrivateMessage.content_type`, not encoded here).
    pub content: FramedContentBody,
    /// Signature and confirmation tag.
    pub auth: FramedContentAuthData,
    /// Number of zero padding bytes.
    pub padding_len: usize,
}

impl PrivateMessageContent {
    /// Decode a decrypted plaintext of type `content_type`: everything after the auth data
    /// is padding and must be zero ([`CodecError::InvalidPadding`]).
    pub fn decode(content_type: ContentType, bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = bytes;
        let parse = |r: &mut &[u8]| -> Result<_, Error> {
            let content = FramedContentBody::read_untagged(content_type, r)?;
            let auth = FramedContentAuthData::read_for(content_type, r)?;
            if !r.iter().all(|b| *b == 0) {
                return Err(bad_padding());
            }
            Ok((content, auth))
        };
        let (content, auth) = parse(&mut r).map_err(from_decode_error)?;
        Ok(PrivateMessageContent {
            content,
            auth,
            padding_len: r.len(),
        })
    }
}

impl Size for PrivateMessageContent {
    fn tls_serialized_len(&self) -> usize {
        self.content.untagged_len() + self.auth.tls_serialized_len() + self.padding_len
    }
}

impl Serialize for PrivateMessageContent {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        self.auth.check_for(self.content.content_type())?;
        let mut n = self.content.write_untagged(w)? + self.auth.tls_serialize(w)?;
        const ZEROS: [u8; 256] = [0; 256];
        let mut left = self.padding_len;
        while left > 0 {
            let k = left.min(ZEROS.len());
            w.write_all(&ZEROS[..k])?;
            left -= k;
        }
        n += self.padding_len;
        Ok(n)
    }
}

/// `PrivateContentAAD` (RFC 9420 §6.3.1), borrowing its byte fields.
#[derive(Debug, Clone, Copy)]
pub struct PrivateContentAad<'a> {
    /// Group identifier.
    pub group_id: &'a [u8],
    /// Epoch.
    pub epoch: u64,
    /// Content type.
    pub content_type: ContentType,
    /// Additional authenticated data.
    pub authenticated_data: &'a [u8],
}

impl Size for PrivateContentAad<'_> {
    fn tls_serialized_len(&self) -> usize {
        vl_len(self.group_id) + 8 + 1 + vl_len(self.authenticated_data)
    }
}

impl Serialize for PrivateContentAad<'_> {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        Ok(vl_write(self.group_id, w)?
            + self.epoch.tls_serialize(w)?
            + self.content_type.tls_serialize(w)?
            + vl_write(self.authenticated_data, w)?)
    }
}

/// `SenderData` (RFC 9420 §6.3.2): the plaintext of `encrypted_sender_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct SenderData {
    /// Sender's leaf index.
    pub leaf_index: u32,
    /// Secret-tree generation.
    pub generation: u32,
    /// XORed into the nonce.
    pub reuse_guard: [u8; 4],
}

/// `SenderDataAAD` (RFC 9420 §6.3.2), borrowing the group id.
#[derive(Debug, Clone, Copy)]
pub struct SenderDataAad<'a> {
    /// Group identifier.
    pub group_id: &'a [u8],
    /// Epoch.
    pub epoch: u64,
    /// Content type.
    pub content_type: ContentType,
}

impl Size for SenderDataAad<'_> {
    fn tls_serialized_len(&self) -> usize {
        vl_len(self.group_id) + 8 + 1
    }
}

impl Serialize for SenderDataAad<'_> {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        Ok(vl_write(self.group_id, w)?
            + self.epoch.tls_serialize(w)?
            + self.content_type.tls_serialize(w)?)
    }
}

/// `ConfirmedTranscriptHashInput` (RFC 9420 §8.2), borrowing the commit content.
#[derive(Debug, Clone, Copy)]
pub struct ConfirmedTranscriptHashInput<'a> {
    /// Wire format the commit was sent in.
    pub wire_format: WireFormat,
    /// The commit's framed content.
    pub content: &'a FramedContent,
    /// The commit's signature.
    pub signature: &'a [u8],
}

impl Size for ConfirmedTranscriptHashInput<'_> {
    fn tls_serialized_len(&self) -> usize {
        2 + self.content.tls_serialized_len() + vl_len(self.signature)
    }
}

impl Serialize for ConfirmedTranscriptHashInput<'_> {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        Ok(self.wire_format.tls_serialize(w)?
            + self.content.tls_serialize(w)?
            + vl_write(self.signature, w)?)
    }
}

/// `InterimTranscriptHashInput` (RFC 9420 §8.2), borrowing the confirmation tag.
#[derive(Debug, Clone, Copy)]
pub struct InterimTranscriptHashInput<'a> {
    /// The commit's confirmation tag.
    pub confirmation_tag: &'a [u8],
}

impl Size for InterimTranscriptHashInput<'_> {
    fn tls_serialized_len(&self) -> usize {
        vl_len(self.confirmation_tag)
    }
}

impl Serialize for InterimTranscriptHashInput<'_> {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        vl_write(self.confirmation_tag, w)
    }
}
