//! Joining (RFC 9420 §12.4.3) and the top-level `MLSMessage` (RFC 9420 §6).

use std::io::{Read, Write};

use tls_codec::{
    Deserialize, Error, Serialize, Size, TlsDeserialize, TlsSerialize, TlsSize, VLByteSlice,
    VLBytes,
};
use zeroize::Zeroizing;

use super::{
    CipherSuiteId, Extension, GroupContext, HpkeCiphertext, KeyPackage, KeyPackageRef, Mac,
    PreSharedKeyId, PrivateMessage, ProtocolVersion, PublicMessage, WireFormat,
};
use crate::crypto::Secret;

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

/// Secret bytes in an `opaque<V>` field (the joiner and path secrets of `GroupSecrets`),
/// decoded straight into a [`Secret`].
///
/// Encoded exactly like [`VLBytes`]. Decoding reads the bytes directly into one buffer of
/// the announced length that is zeroized on drop (on error too), never through a growable or
/// intermediate buffer; `Debug` prints only the length.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretBytes(Secret);

/// Bytes read per step when decoding a [`SecretBytes`], so a length header claiming more
/// than the input holds cannot force a large allocation up front.
const SECRET_READ_CHUNK: usize = 4096;

impl SecretBytes {
    /// Wrap a secret.
    pub fn new(secret: Secret) -> Self {
        SecretBytes(secret)
    }

    /// The secret bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The secret.
    pub fn as_secret(&self) -> &Secret {
        &self.0
    }

    /// Take the secret out (no copy).
    pub fn into_secret(self) -> Secret {
        self.0
    }
}

impl From<Secret> for SecretBytes {
    fn from(secret: Secret) -> Self {
        SecretBytes(secret)
    }
}

impl From<SecretBytes> for Secret {
    fn from(bytes: SecretBytes) -> Self {
        bytes.0
    }
}

impl From<&[u8]> for SecretBytes {
    fn from(bytes: &[u8]) -> Self {
        SecretBytes(Secret::from_slice(bytes))
    }
}

impl Size for SecretBytes {
    fn tls_serialized_len(&self) -> usize {
        VLByteSlice(self.0.as_bytes()).tls_serialized_len()
    }
}

impl Serialize for SecretBytes {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        // Writes the length header, then the bytes straight from the secret.
        VLByteSlice(self.0.as_bytes()).tls_serialize(w)
    }
}

impl Deserialize for SecretBytes {
    fn tls_deserialize<R: Read>(r: &mut R) -> Result<Self, Error> {
        // The same length header rules as `VLBytes`.
        let (len, _) = tls_codec::vlen::read_length(r)?;
        if len <= SECRET_READ_CHUNK {
            // The usual case (a secret is `Nh` bytes): one exact buffer, filled in place.
            let mut buf = Zeroizing::new(vec![0u8; len]);
            r.read_exact(&mut buf)?;
            return Ok(SecretBytes(Secret::new(std::mem::take(&mut *buf))));
        }
        // Longer: grow chunk by chunk, copying into a larger zeroizing buffer and letting
        // the smaller one be zeroized, so no unwiped copy is left by a reallocation.
        let mut buf = Zeroizing::new(Vec::with_capacity(SECRET_READ_CHUNK));
        while buf.len() < len {
            let start = buf.len();
            let want = (len - start).min(SECRET_READ_CHUNK);
            if buf.capacity() - start < want {
                let cap = (buf.capacity() * 2).clamp(start + want, len);
                let mut bigger = Zeroizing::new(Vec::with_capacity(cap));
                bigger.extend_from_slice(&buf);
                buf = bigger;
            }
            buf.resize(start + want, 0);
            r.read_exact(&mut buf[start..])?;
        }
        Ok(SecretBytes(Secret::new(std::mem::take(&mut *buf))))
    }
}

/// `PathSecret` (RFC 9420 §12.4.3.1).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct PathSecret {
    /// The path secret.
    pub path_secret: SecretBytes,
}

/// `GroupSecrets` (RFC 9420 §12.4.3.1). The secrets decode straight into zeroizing
/// [`SecretBytes`]; `Debug` does not print them.
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct GroupSecrets {
    /// The joiner secret.
    pub joiner_secret: SecretBytes,
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
    pub encrypted_group_info: super::BigBytes,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode, encode, CodecError};

    /// `SecretBytes` encodes and decodes exactly as `VLBytes`, errors included.
    #[test]
    fn secret_bytes_match_vlbytes() {
        for n in [0usize, 1, 32, 63, 64, 4095, 4096, 4097, 10_000] {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 7 + 1) as u8).collect();
            let secret = SecretBytes::from(bytes.as_slice());
            let wire = encode(&secret).unwrap();
            assert_eq!(wire, encode(&VLBytes::from(bytes.clone())).unwrap(), "{n}");
            assert_eq!(secret.tls_serialized_len(), wire.len());
            let back: SecretBytes = decode(&wire).unwrap();
            assert_eq!(back.as_bytes(), bytes.as_slice());
            for cut in [0, 1, wire.len() / 2, wire.len().saturating_sub(1)] {
                if cut < wire.len() {
                    assert_eq!(
                        decode::<SecretBytes>(&wire[..cut]).map(|s| s.as_bytes().to_vec()),
                        decode::<VLBytes>(&wire[..cut]).map(|v| v.as_slice().to_vec()),
                        "{n} cut at {cut}"
                    );
                }
            }
        }
        // A header claiming ~1 GiB over a few bytes: a typed error, no large allocation.
        let lie = [0xbf, 0xff, 0xff, 0xff, 1, 2, 3];
        assert_eq!(decode::<SecretBytes>(&lie), Err(CodecError::Truncated));
        assert_eq!(
            decode::<SecretBytes>(&lie).map(|_| ()),
            decode::<VLBytes>(&lie).map(|_| ())
        );
        // Non-minimal and 8-byte headers are refused as for VLBytes.
        for bad in [&[0x40, 0x01, 9][..], &[0xc0, 0, 0, 0, 0, 0, 0, 1, 9]] {
            assert!(decode::<SecretBytes>(bad).is_err());
            assert_eq!(
                decode::<SecretBytes>(bad).map(|_| ()),
                decode::<VLBytes>(bad).map(|_| ())
            );
        }
    }

    #[test]
    fn group_secrets_debug_hides_secrets() {
        let gs = GroupSecrets {
            joiner_secret: SecretBytes::from(&[0xab; 32][..]),
            path_secret: Some(PathSecret {
                path_secret: SecretBytes::from(&[0xcd; 32][..]),
            }),
            psks: Vec::new(),
        };
        let out = format!("{gs:?}");
        assert!(!out.contains("171") && !out.contains("205"), "{out}");
    }
}
