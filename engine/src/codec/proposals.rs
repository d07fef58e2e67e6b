//! Key packages, the group context, proposals and commits (RFC 9420 §§8.1, 8.4, 10, 12).

use std::io::{Read, Write};

use tls_codec::{
    Deserialize, Error, Serialize, Size, TlsDeserialize, TlsSerialize, TlsSize, VLBytes,
};

use super::{
    unknown, CipherSuiteId, Extension, Field, HpkePublicKey, LeafNode, ProposalRef, ProposalType,
    ProtocolVersion, UpdatePath,
};

/// `KeyPackage` (RFC 9420 §10).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct KeyPackage {
    /// Protocol version.
    pub version: ProtocolVersion,
    /// Cipher suite.
    pub cipher_suite: CipherSuiteId,
    /// HPKE key the Welcome is encrypted to.
    pub init_key: HpkePublicKey,
    /// The joiner's leaf (source `key_package`).
    pub leaf_node: LeafNode,
    /// Key package extensions.
    pub extensions: Vec<Extension>,
    /// `SignWithLabel(., "KeyPackageTBS", KeyPackageTBS)`.
    pub signature: VLBytes,
}

/// `KeyPackageTBS` (RFC 9420 §10): every `KeyPackage` field but the signature, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct KeyPackageTbs<'a> {
    /// The key package.
    pub key_package: &'a KeyPackage,
}

impl Size for KeyPackageTbs<'_> {
    fn tls_serialized_len(&self) -> usize {
        let kp = self.key_package;
        kp.version.tls_serialized_len()
            + kp.cipher_suite.tls_serialized_len()
            + kp.init_key.tls_serialized_len()
            + kp.leaf_node.tls_serialized_len()
            + kp.extensions.tls_serialized_len()
    }
}

impl Serialize for KeyPackageTbs<'_> {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        let kp = self.key_package;
        Ok(kp.version.tls_serialize(w)?
            + kp.cipher_suite.tls_serialize(w)?
            + kp.init_key.tls_serialize(w)?
            + kp.leaf_node.tls_serialize(w)?
            + kp.extensions.tls_serialize(w)?)
    }
}

/// `GroupContext` (RFC 9420 §8.1).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct GroupContext {
    /// Protocol version.
    pub version: ProtocolVersion,
    /// Cipher suite.
    pub cipher_suite: CipherSuiteId,
    /// Group identifier.
    pub group_id: VLBytes,
    /// Epoch number.
    pub epoch: u64,
    /// Tree hash of the ratchet tree.
    pub tree_hash: VLBytes,
    /// Confirmed transcript hash.
    pub confirmed_transcript_hash: VLBytes,
    /// Group context extensions.
    pub extensions: Vec<Extension>,
}

/// `Add` proposal (RFC 9420 §12.1.1).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct Add {
    /// The new member's key package.
    pub key_package: KeyPackage,
}

/// `Update` proposal (RFC 9420 §12.1.2).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct Update {
    /// The sender's new leaf.
    pub leaf_node: LeafNode,
}

/// `Remove` proposal (RFC 9420 §12.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct Remove {
    /// Leaf index to remove.
    pub removed: u32,
}

wire_enum! {
    /// `PSKType` (RFC 9420 §8.4).
    pub enum PskType: u8, Field::PskType {
        /// `external`.
        External = 1,
        /// `resumption`.
        Resumption = 2,
    }
}

wire_enum! {
    /// `ResumptionPSKUsage` (RFC 9420 §8.4).
    pub enum ResumptionPskUsage: u8, Field::ResumptionPskUsage {
        /// `application`.
        Application = 1,
        /// `reinit`.
        Reinit = 2,
        /// `branch`.
        Branch = 3,
    }
}

/// The `psktype`-dependent part of a `PreSharedKeyID` (RFC 9420 §8.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PskSource {
    /// `external`.
    External {
        /// The external PSK's identifier.
        psk_id: VLBytes,
    },
    /// `resumption`.
    Resumption {
        /// Why the PSK is used.
        usage: ResumptionPskUsage,
        /// Group the resumption secret comes from.
        psk_group_id: VLBytes,
        /// Epoch the resumption secret comes from.
        psk_epoch: u64,
    },
}

impl PskSource {
    /// The `psktype`.
    pub fn psktype(&self) -> PskType {
        match self {
            PskSource::External { .. } => PskType::External,
            PskSource::Resumption { .. } => PskType::Resumption,
        }
    }
}

impl Size for PskSource {
    fn tls_serialized_len(&self) -> usize {
        1 + match self {
            PskSource::External { psk_id } => psk_id.tls_serialized_len(),
            PskSource::Resumption { psk_group_id, .. } => 1 + psk_group_id.tls_serialized_len() + 8,
        }
    }
}

impl Serialize for PskSource {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        let n = self.psktype().tls_serialize(w)?;
        Ok(n + match self {
            PskSource::External { psk_id } => psk_id.tls_serialize(w)?,
            PskSource::Resumption {
                usage,
                psk_group_id,
                psk_epoch,
            } => {
                usage.tls_serialize(w)?
                    + psk_group_id.tls_serialize(w)?
                    + psk_epoch.tls_serialize(w)?
            }
        })
    }
}

impl Deserialize for PskSource {
    fn tls_deserialize<R: Read>(r: &mut R) -> Result<Self, Error> {
        Ok(match PskType::tls_deserialize(r)? {
            PskType::External => PskSource::External {
                psk_id: VLBytes::tls_deserialize(r)?,
            },
            PskType::Resumption => PskSource::Resumption {
                usage: ResumptionPskUsage::tls_deserialize(r)?,
                psk_group_id: VLBytes::tls_deserialize(r)?,
                psk_epoch: u64::tls_deserialize(r)?,
            },
        })
    }
}

/// `PreSharedKeyID` (RFC 9420 §8.4).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct PreSharedKeyId {
    /// `psktype` and its arm.
    pub source: PskSource,
    /// Fresh nonce.
    pub psk_nonce: VLBytes,
}

/// `PSKLabel` (RFC 9420 §8.4), borrowing the id.
#[derive(Debug, Clone, Copy)]
pub struct PskLabel<'a> {
    /// The PSK.
    pub id: &'a PreSharedKeyId,
    /// Its position in the list.
    pub index: u16,
    /// Number of PSKs.
    pub count: u16,
}

impl Size for PskLabel<'_> {
    fn tls_serialized_len(&self) -> usize {
        self.id.tls_serialized_len() + 4
    }
}

impl Serialize for PskLabel<'_> {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        Ok(self.id.tls_serialize(w)?
            + self.index.tls_serialize(w)?
            + self.count.tls_serialize(w)?)
    }
}

/// `PreSharedKey` proposal (RFC 9420 §12.1.4).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct PreSharedKey {
    /// The PSK to inject.
    pub psk: PreSharedKeyId,
}

/// `ReInit` proposal (RFC 9420 §12.1.5).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct ReInit {
    /// The new group's id.
    pub group_id: VLBytes,
    /// The new group's version.
    pub version: ProtocolVersion,
    /// The new group's cipher suite.
    pub cipher_suite: CipherSuiteId,
    /// The new group's extensions.
    pub extensions: Vec<Extension>,
}

/// `ExternalInit` proposal (RFC 9420 §12.1.6).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct ExternalInit {
    /// KEM output to the group's external public key.
    pub kem_output: VLBytes,
}

/// `GroupContextExtensions` proposal (RFC 9420 §12.1.7).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct GroupContextExtensions {
    /// The new group context extensions.
    pub extensions: Vec<Extension>,
}

/// `Proposal` (RFC 9420 §12.1). An unknown `proposal_type` is a decode error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // Proposals are transient; boxing Add/Update costs an allocation each.
pub enum Proposal {
    /// `add`.
    Add(Add),
    /// `update`.
    Update(Update),
    /// `remove`.
    Remove(Remove),
    /// `psk`.
    PreSharedKey(PreSharedKey),
    /// `reinit`.
    ReInit(ReInit),
    /// `external_init`.
    ExternalInit(ExternalInit),
    /// `group_context_extensions`.
    GroupContextExtensions(GroupContextExtensions),
}

impl Proposal {
    /// The `proposal_type`.
    pub fn proposal_type(&self) -> ProposalType {
        match self {
            Proposal::Add(_) => ProposalType::ADD,
            Proposal::Update(_) => ProposalType::UPDATE,
            Proposal::Remove(_) => ProposalType::REMOVE,
            Proposal::PreSharedKey(_) => ProposalType::PSK,
            Proposal::ReInit(_) => ProposalType::REINIT,
            Proposal::ExternalInit(_) => ProposalType::EXTERNAL_INIT,
            Proposal::GroupContextExtensions(_) => ProposalType::GROUP_CONTEXT_EXTENSIONS,
        }
    }
}

impl Size for Proposal {
    fn tls_serialized_len(&self) -> usize {
        2 + match self {
            Proposal::Add(p) => p.tls_serialized_len(),
            Proposal::Update(p) => p.tls_serialized_len(),
            Proposal::Remove(p) => p.tls_serialized_len(),
            Proposal::PreSharedKey(p) => p.tls_serialized_len(),
            Proposal::ReInit(p) => p.tls_serialized_len(),
            Proposal::ExternalInit(p) => p.tls_serialized_len(),
            Proposal::GroupContextExtensions(p) => p.tls_serialized_len(),
        }
    }
}

impl Serialize for Proposal {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        let n = self.proposal_type().tls_serialize(w)?;
        Ok(n + match self {
            Proposal::Add(p) => p.tls_serialize(w)?,
            Proposal::Update(p) => p.tls_serialize(w)?,
            Proposal::Remove(p) => p.tls_serialize(w)?,
            Proposal::PreSharedKey(p) => p.tls_serialize(w)?,
            Proposal::ReInit(p) => p.tls_serialize(w)?,
            Proposal::ExternalInit(p) => p.tls_serialize(w)?,
            Proposal::GroupContextExtensions(p) => p.tls_serialize(w)?,
        })
    }
}

impl Deserialize for Proposal {
    fn tls_deserialize<R: Read>(r: &mut R) -> Result<Self, Error> {
        Ok(match ProposalType::tls_deserialize(r)? {
            ProposalType::ADD => Proposal::Add(Add::tls_deserialize(r)?),
            ProposalType::UPDATE => Proposal::Update(Update::tls_deserialize(r)?),
            ProposalType::REMOVE => Proposal::Remove(Remove::tls_deserialize(r)?),
            ProposalType::PSK => Proposal::PreSharedKey(PreSharedKey::tls_deserialize(r)?),
            ProposalType::REINIT => Proposal::ReInit(ReInit::tls_deserialize(r)?),
            ProposalType::EXTERNAL_INIT => {
                Proposal::ExternalInit(ExternalInit::tls_deserialize(r)?)
            }
            ProposalType::GROUP_CONTEXT_EXTENSIONS => {
                Proposal::GroupContextExtensions(GroupContextExtensions::tls_deserialize(r)?)
            }
            ProposalType(other) => return Err(unknown(Field::ProposalType, u64::from(other))),
        })
    }
}

wire_enum! {
    /// `ProposalOrRefType` (RFC 9420 §12.4).
    pub enum ProposalOrRefType: u8, Field::ProposalOrRefType {
        /// `proposal`.
        Proposal = 1,
        /// `reference`.
        Reference = 2,
    }
}

/// `ProposalOrRef` (RFC 9420 §12.4).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // See `Proposal`.
pub enum ProposalOrRef {
    /// An inline proposal.
    Proposal(Proposal),
    /// A reference to a proposal sent earlier in the epoch.
    Reference(ProposalRef),
}

impl ProposalOrRef {
    /// The `type`.
    pub fn proposal_or_ref_type(&self) -> ProposalOrRefType {
        match self {
            ProposalOrRef::Proposal(_) => ProposalOrRefType::Proposal,
            ProposalOrRef::Reference(_) => ProposalOrRefType::Reference,
        }
    }
}

impl Size for ProposalOrRef {
    fn tls_serialized_len(&self) -> usize {
        1 + match self {
            ProposalOrRef::Proposal(p) => p.tls_serialized_len(),
            ProposalOrRef::Reference(r) => r.tls_serialized_len(),
        }
    }
}

impl Serialize for ProposalOrRef {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        let n = self.proposal_or_ref_type().tls_serialize(w)?;
        Ok(n + match self {
            ProposalOrRef::Proposal(p) => p.tls_serialize(w)?,
            ProposalOrRef::Reference(r) => r.tls_serialize(w)?,
        })
    }
}

impl Deserialize for ProposalOrRef {
    fn tls_deserialize<R: Read>(r: &mut R) -> Result<Self, Error> {
        Ok(match ProposalOrRefType::tls_deserialize(r)? {
            ProposalOrRefType::Proposal => ProposalOrRef::Proposal(Proposal::tls_deserialize(r)?),
            ProposalOrRefType::Reference => {
                ProposalOrRef::Reference(ProposalRef::tls_deserialize(r)?)
            }
        })
    }
}

/// `Commit` (RFC 9420 §12.4).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct Commit {
    /// Proposals committed, inline or by reference.
    pub proposals: Vec<ProposalOrRef>,
    /// The committer's update path, if any.
    pub path: Option<UpdatePath>,
}
