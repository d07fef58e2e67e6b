//! Basic types: registries, keys, credentials, capabilities, extensions (RFC 9420 §§5, 6, 7.2,
//! 13, 17).

use std::io::{Read, Write};

use tls_codec::{
    Deserialize, Error, Serialize, Size, TlsDeserialize, TlsSerialize, TlsSize, VLBytes,
};

use super::{unknown, Field};

u16_registry! {
    /// `ProtocolVersion` (RFC 9420 §6). Kept open: checking `mls10` is the caller's job.
    pub struct ProtocolVersion {
        /// `mls10(1)`.
        MLS10 = 1,
    }
}

u16_registry! {
    /// `CipherSuite` (RFC 9420 §5.1, §17.1) as a raw `uint16`; the crypto module maps it to
    /// the suites it supports.
    pub struct CipherSuiteId {
        /// MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519.
        MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519 = 1,
    }
}

u16_registry! {
    /// `ExtensionType` (RFC 9420 §13, §17.3).
    pub struct ExtensionType {
        /// `application_id`.
        APPLICATION_ID = 1,
        /// `ratchet_tree`.
        RATCHET_TREE = 2,
        /// `required_capabilities`.
        REQUIRED_CAPABILITIES = 3,
        /// `external_pub`.
        EXTERNAL_PUB = 4,
        /// `external_senders`.
        EXTERNAL_SENDERS = 5,
    }
}

u16_registry! {
    /// `ProposalType` (RFC 9420 §12.1, §17.4).
    pub struct ProposalType {
        /// `add`.
        ADD = 1,
        /// `update`.
        UPDATE = 2,
        /// `remove`.
        REMOVE = 3,
        /// `psk`.
        PSK = 4,
        /// `reinit`.
        REINIT = 5,
        /// `external_init`.
        EXTERNAL_INIT = 6,
        /// `group_context_extensions`.
        GROUP_CONTEXT_EXTENSIONS = 7,
    }
}

u16_registry! {
    /// `CredentialType` (RFC 9420 §5.3, §17.5).
    pub struct CredentialType {
        /// `basic`.
        BASIC = 1,
        /// `x509`.
        X509 = 2,
    }
}

wire_enum! {
    /// `WireFormat` (RFC 9420 §6, §17.2). Closed: an unknown wire format cannot be parsed.
    pub enum WireFormat: u16, Field::WireFormat {
        /// `mls_public_message`.
        PublicMessage = 1,
        /// `mls_private_message`.
        PrivateMessage = 2,
        /// `mls_welcome`.
        Welcome = 3,
        /// `mls_group_info`.
        GroupInfo = 4,
        /// `mls_key_package`.
        KeyPackage = 5,
    }
}

wire_enum! {
    /// `ContentType` (RFC 9420 §6).
    pub enum ContentType: u8, Field::ContentType {
        /// `application`.
        Application = 1,
        /// `proposal`.
        Proposal = 2,
        /// `commit`.
        Commit = 3,
    }
}

wire_enum! {
    /// `SenderType` (RFC 9420 §6).
    pub enum SenderType: u8, Field::SenderType {
        /// `member`.
        Member = 1,
        /// `external`.
        External = 2,
        /// `new_member_proposal`.
        NewMemberProposal = 3,
        /// `new_member_commit`.
        NewMemberCommit = 4,
    }
}

/// `HPKEPublicKey` (RFC 9420 §5.1.1): `opaque HPKEPublicKey<V>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct HpkePublicKey(pub VLBytes);

/// `SignaturePublicKey` (RFC 9420 §5.1.1): `opaque SignaturePublicKey<V>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct SignaturePublicKey(pub VLBytes);

/// `HashReference` (RFC 9420 §5.2): `opaque HashReference<V>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct HashReference(pub VLBytes);

/// `KeyPackageRef` (RFC 9420 §5.2).
pub type KeyPackageRef = HashReference;
/// `ProposalRef` (RFC 9420 §5.2).
pub type ProposalRef = HashReference;

/// `MAC` (RFC 9420 §6.1): `opaque MAC<V>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct Mac(pub VLBytes);

impl HpkePublicKey {
    /// The key bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.0.as_slice()
    }
}

impl SignaturePublicKey {
    /// The key bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.0.as_slice()
    }
}

impl HashReference {
    /// The reference bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.0.as_slice()
    }
}

impl Mac {
    /// The MAC bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// `Certificate` (RFC 9420 §5.3).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct Certificate {
    /// DER certificate.
    pub cert_data: VLBytes,
}

/// `Credential` (RFC 9420 §5.3). Only `basic` and `x509` decode; any other credential type
/// is [`super::CodecError::UnknownValue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// `basic`: an opaque identity.
    Basic {
        /// The identity.
        identity: VLBytes,
    },
    /// `x509`: a certificate chain.
    X509 {
        /// The chain, leaf first.
        certificates: Vec<Certificate>,
    },
}

impl Credential {
    /// The `credential_type`.
    pub fn credential_type(&self) -> CredentialType {
        match self {
            Credential::Basic { .. } => CredentialType::BASIC,
            Credential::X509 { .. } => CredentialType::X509,
        }
    }
}

impl Size for Credential {
    fn tls_serialized_len(&self) -> usize {
        2 + match self {
            Credential::Basic { identity } => identity.tls_serialized_len(),
            Credential::X509 { certificates } => certificates.tls_serialized_len(),
        }
    }
}

impl Serialize for Credential {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        let n = self.credential_type().tls_serialize(w)?;
        Ok(n + match self {
            Credential::Basic { identity } => identity.tls_serialize(w)?,
            Credential::X509 { certificates } => certificates.tls_serialize(w)?,
        })
    }
}

impl Deserialize for Credential {
    fn tls_deserialize<R: Read>(r: &mut R) -> Result<Self, Error> {
        match CredentialType::tls_deserialize(r)? {
            CredentialType::BASIC => Ok(Credential::Basic {
                identity: VLBytes::tls_deserialize(r)?,
            }),
            CredentialType::X509 => Ok(Credential::X509 {
                certificates: Vec::tls_deserialize(r)?,
            }),
            CredentialType(other) => Err(unknown(Field::CredentialType, u64::from(other))),
        }
    }
}

/// `Capabilities` (RFC 9420 §7.2).
#[derive(Debug, Clone, PartialEq, Eq, Default, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct Capabilities {
    /// Supported protocol versions.
    pub versions: Vec<ProtocolVersion>,
    /// Supported cipher suites.
    pub cipher_suites: Vec<CipherSuiteId>,
    /// Supported non-default extension types.
    pub extensions: Vec<ExtensionType>,
    /// Supported non-default proposal types.
    pub proposals: Vec<ProposalType>,
    /// Supported credential types.
    pub credentials: Vec<CredentialType>,
}

/// `Lifetime` (RFC 9420 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct Lifetime {
    /// Seconds since the Unix epoch.
    pub not_before: u64,
    /// Seconds since the Unix epoch.
    pub not_after: u64,
}

/// `Extension` (RFC 9420 §7.2, §13).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct Extension {
    /// Its type (any value decodes).
    pub extension_type: ExtensionType,
    /// Its body, to be decoded per type (e.g. `RequiredCapabilities`); the `ratchet_tree`
    /// extension's body is the whole tree, megabytes long, so it decodes with one allocation.
    pub extension_data: super::BigBytes,
}

/// `RequiredCapabilities` extension body (RFC 9420 §11.1).
#[derive(Debug, Clone, PartialEq, Eq, Default, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct RequiredCapabilities {
    /// Extension types every member must support.
    pub extension_types: Vec<ExtensionType>,
    /// Proposal types every member must support.
    pub proposal_types: Vec<ProposalType>,
    /// Credential types every member must support.
    pub credential_types: Vec<CredentialType>,
}

/// `ExternalPub` extension body (RFC 9420 §12.4.3.2).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct ExternalPub {
    /// The external HPKE public key.
    pub external_pub: HpkePublicKey,
}

/// `ExternalSender` (RFC 9420 §12.1.8.1); the `external_senders` extension body is a
/// `Vec<ExternalSender>`.
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct ExternalSender {
    /// The sender's signature key.
    pub signature_key: SignaturePublicKey,
    /// The sender's credential.
    pub credential: Credential,
}
