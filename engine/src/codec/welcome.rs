//! Joining (RFC 9420 §12.4.3) and the top-level `MLSMessage` (RFC 9420 §6).

use std::io::{Read, Write};

use tls_codec::{
    Deserialize, Error, Serialize, Size, TlsDeserialize, TlsSerialize, TlsSize, VLBytes,
};

use super::{
    CipherSuiteId, Extension, GroupContext, HpkeCiphertext, KeyPackage, KeyPackageRef, Mac,
    PreSharedKeyId, PrivateMessage, ProtocolVersion, PublicMessage, WireFormat,
};

/// `GroupInfo` (RFC 9420 §12.4.3).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct GroupInfo {
    /// The group context of the new epoch.
    pub group_context: GroupContext,
    /// GroupInfo extensions (e.g. `ratchet_tree`, `external_pub`).
    pub extensions: Vec<Extension>,
    /// Confirmation tag of the new epoch.
    pub confirmation_tag: Mac,
    /// Leaf index of the signer.
    pub signer: u32,
    /// `SignWithLabel(., "GroupInfoTBS", GroupInfoTBS)`.
    pub signature: VLBytes,
}

/// `GroupInfoTBS` (RFC 9420 §12.4.3): every `GroupInfo` field but the signature, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct GroupInfoTbs<'a> {
    /// The group info.
    pub group_info: &'a GroupInfo,
}

impl Size for GroupInfoTbs<'_> {
    fn tls_serialized_len(&self) -> usize {
        let gi = self.group_info;
        gi.group_context.tls_serialized_len()
            + gi.extensions.tls_serialized_len()
            + gi.confirmation_tag.tls_serialized_len()
            + 4
    }
}

impl Serialize for GroupInfoTbs<'_> {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        let gi = self.group_info;
        Ok(gi.group_context.tls_serialize(w)?
            + gi.extensions.tls_serialize(w)?
            + gi.confirmation_tag.tls_serialize(w)?
            + gi.signer.tls_serialize(w)?)
    }
}

/// `PathSecret` (RFC 9420 §12.4.3.1).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct PathSecret {
    /// The path secret.
    pub path_secret: VLBytes,
}

/// `GroupSecrets` (RFC 9420 §12.4.3.1).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct GroupSecrets {
    /// The joiner secret.
    pub joiner_secret: VLBytes,
    /// Path secret for the lowest common ancestor with the committer, if any.
    pub path_secret: Option<PathSecret>,
    /// PSKs used in the epoch.
    pub psks: Vec<PreSharedKeyId>,
}

/// `EncryptedGroupSecrets` (RFC 9420 §12.4.3.1).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct EncryptedGroupSecrets {
    /// Reference of the new member's key package.
    pub new_member: KeyPackageRef,
    /// HPKE-encrypted `GroupSecrets`.
    pub encrypted_group_secrets: HpkeCiphertext,
}

/// `Welcome` (RFC 9420 §12.4.3.1).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct Welcome {
    /// Cipher suite of the group.
    pub cipher_suite: CipherSuiteId,
    /// One entry per new member.
    pub secrets: Vec<EncryptedGroupSecrets>,
    /// AEAD-encrypted `GroupInfo`.
    pub encrypted_group_info: VLBytes,
}

/// The `wire_format`-dependent body of an `MLSMessage` (RFC 9420 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // One per message; boxing buys nothing.
pub enum MlsMessageBody {
    /// `mls_public_message`.
    PublicMessage(PublicMessage),
    /// `mls_private_message`.
    PrivateMessage(PrivateMessage),
    /// `mls_welcome`.
    Welcome(Welcome),
    /// `mls_group_info`.
    GroupInfo(GroupInfo),
    /// `mls_key_package`.
    KeyPackage(KeyPackage),
}

impl MlsMessageBody {
    /// The `wire_format`.
    pub fn wire_format(&self) -> WireFormat {
        match self {
            MlsMessageBody::PublicMessage(_) => WireFormat::PublicMessage,
            MlsMessageBody::PrivateMessage(_) => WireFormat::PrivateMessage,
            MlsMessageBody::Welcome(_) => WireFormat::Welcome,
            MlsMessageBody::GroupInfo(_) => WireFormat::GroupInfo,
            MlsMessageBody::KeyPackage(_) => WireFormat::KeyPackage,
        }
    }
}

impl Size for MlsMessageBody {
    fn tls_serialized_len(&self) -> usize {
        2 + match self {
            MlsMessageBody::PublicMessage(m) => m.tls_serialized_len(),
            MlsMessageBody::PrivateMessage(m) => m.tls_serialized_len(),
            MlsMessageBody::Welcome(m) => m.tls_serialized_len(),
            MlsMessageBody::GroupInfo(m) => m.tls_serialized_len(),
            MlsMessageBody::KeyPackage(m) => m.tls_serialized_len(),
        }
    }
}

impl Serialize for MlsMessageBody {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        let n = self.wire_format().tls_serialize(w)?;
        Ok(n + match self {
            MlsMessageBody::PublicMessage(m) => m.tls_serialize(w)?,
            MlsMessageBody::PrivateMessage(m) => m.tls_serialize(w)?,
            MlsMessageBody::Welcome(m) => m.tls_serialize(w)?,
            MlsMessageBody::GroupInfo(m) => m.tls_serialize(w)?,
            MlsMessageBody::KeyPackage(m) => m.tls_serialize(w)?,
        })
    }
}

impl Deserialize for MlsMessageBody {
    fn tls_deserialize<R: Read>(r: &mut R) -> Result<Self, Error> {
        Ok(match WireFormat::tls_deserialize(r)? {
            WireFormat::PublicMessage => {
                MlsMessageBody::PublicMessage(PublicMessage::tls_deserialize(r)?)
            }
            WireFormat::PrivateMessage => {
                MlsMessageBody::PrivateMessage(PrivateMessage::tls_deserialize(r)?)
            }
            WireFormat::Welcome => MlsMessageBody::Welcome(Welcome::tls_deserialize(r)?),
            WireFormat::GroupInfo => MlsMessageBody::GroupInfo(GroupInfo::tls_deserialize(r)?),
            WireFormat::KeyPackage => MlsMessageBody::KeyPackage(KeyPackage::tls_deserialize(r)?),
        })
    }
}

/// `MLSMessage` (RFC 9420 §6).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct MlsMessage {
    /// Protocol version (`mls10`; not checked here).
    pub version: ProtocolVersion,
    /// `wire_format` and its arm.
    pub body: MlsMessageBody,
}

impl MlsMessage {
    /// The `wire_format`.
    pub fn wire_format(&self) -> WireFormat {
        self.body.wire_format()
    }
}
