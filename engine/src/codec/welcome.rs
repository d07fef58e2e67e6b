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

/// An extension whose data is at least this long is kept in the buffer its GroupInfo was
/// received in ([`decode_group_info_owned`]) rather than copied: in practice the ratchet tree.
const KEPT_EXTENSION_MIN_BYTES: usize = 64 << 10;

/// `decode::<GroupInfo>(&bytes)`, with the same result and errors, but the data of its
/// largest extension (if at least 64 KiB) is moved to the front of `bytes`, which becomes its
/// buffer, instead of being copied into a new one. A joiner's GroupInfo carries the ratchet
/// tree, 12.7 MB at 50,000 members, and the copy cost a fresh 12.7 MB and its page faults on
/// the join's serial path.
///
/// Why the result is `decode`'s: the extension's place is found by reading the headers
/// (`find_large_extension`); the GroupInfo is decoded from the same bytes with that data
/// left out (`decode_without`), and that decoding is re-encoded and compared with the bytes it
/// came from, and both headers it changed were minimal. So the bytes are the encoding of the
/// GroupInfo with the data put back, and the codec decodes an encoding to what was encoded.
/// Any step that fails falls back to `decode`, whose error is then the one returned.
pub fn decode_group_info_owned(bytes: Vec<u8>) -> Result<GroupInfo, crate::CodecError> {
    let Some(split) = find_large_extension(&bytes) else {
        return super::decode(&bytes);
    };
    let Some(mut group_info) = decode_without(&bytes, &split) else {
        return super::decode(&bytes);
    };
    let mut data = bytes;
    data.copy_within(split.data.clone(), 0);
    data.truncate(split.data.len());
    // Invariant: `decode_without` checked the extension is there, with no data.
    if let Some(e) = group_info.extensions.get_mut(split.index) {
        e.extension_data = data.into();
    }
    Ok(group_info)
}

/// Where the largest extension's data of an encoded GroupInfo lies.
#[derive(Debug)]
struct ExtensionSplit {
    /// The extensions vector's length header.
    list_header: std::ops::Range<usize>,
    /// The length it gives.
    list_len: usize,
    /// That extension's data length header.
    data_header: std::ops::Range<usize>,
    /// Its data.
    data: std::ops::Range<usize>,
    /// Its position in the list.
    index: usize,
}

/// The largest extension data of at least [`KEPT_EXTENSION_MIN_BYTES`] in an encoded
/// GroupInfo, found by decoding its GroupContext and reading the extension headers after it:
/// `None` if there is none or the bytes do not have that shape (minimal headers included).
fn find_large_extension(bytes: &[u8]) -> Option<ExtensionSplit> {
    let (_, rest) = super::decode_prefix::<GroupContext>(bytes).ok()?;
    let start = bytes.len() - rest.len();
    let (list_len, list_header_len) = super::decode_varint_length(rest).ok()?;
    let body_end = (start + list_header_len).checked_add(list_len as usize)?;
    let mut pos = start + list_header_len;
    let mut best: Option<ExtensionSplit> = None;
    let mut index = 0;
    while pos < body_end {
        // `extension_type`, then `opaque extension_data<V>`.
        let header_start = pos.checked_add(2)?;
        let (len, header_len) =
            super::decode_varint_length(bytes.get(header_start..body_end)?).ok()?;
        let data_start = header_start + header_len;
        let data = data_start..data_start.checked_add(len as usize)?;
        if data.end > body_end {
            return None;
        }
        let larger = best.as_ref().is_none_or(|b| data.len() > b.data.len());
        if data.len() >= KEPT_EXTENSION_MIN_BYTES && larger {
            best = Some(ExtensionSplit {
                list_header: start..start + list_header_len,
                list_len: list_len as usize,
                data_header: header_start..data_start,
                data: data.clone(),
                index,
            });
        }
        pos = data.end;
        index += 1;
    }
    best
}

/// The GroupInfo of `bytes` with the data of `split`'s extension left out: decoded from a
/// copy without it (its header replaced by an empty one, the list's length adjusted), if that
/// copy decodes to a GroupInfo whose extension `split.index` is empty, lies where the data
/// was, and which encodes back to the copy exactly. Then putting the data back gives the
/// GroupInfo whose encoding is `bytes`.
fn decode_without(bytes: &[u8], split: &ExtensionSplit) -> Option<GroupInfo> {
    // The list loses the data and its header, and gains a one-byte header for no data.
    let new_list_len = split
        .list_len
        .checked_sub(split.data_header.len() + split.data.len())?
        + 1;
    let mut without = Vec::with_capacity(bytes.len() - split.data.len() + 8);
    without.extend_from_slice(&bytes[..split.list_header.start]);
    super::encode_varint_length(new_list_len, &mut without).ok()?;
    without.extend_from_slice(&bytes[split.list_header.end..split.data_header.start]);
    // An empty `extension_data`.
    without.push(0);
    without.extend_from_slice(&bytes[split.data.end..]);
    let group_info: GroupInfo = super::decode(&without).ok()?;
    let kept = group_info.extensions.get(split.index)?;
    // Where the GroupInfo's own encoding puts that extension's data header: after the group
    // context, the list's header, the extensions before it and its type.
    let before: usize = group_info.extensions[..split.index]
        .iter()
        .map(Size::tls_serialized_len)
        .sum();
    // With the codec's canonical decoding and the walk reading the codec's layout, these
    // always hold; checking them keeps the argument from resting on either.
    let in_place = group_info.group_context.tls_serialized_len() == split.list_header.start
        && before + 2 == split.data_header.start - split.list_header.end;
    if !in_place
        || !kept.extension_data.as_slice().is_empty()
        || super::encode(&group_info).ok()? != without
    {
        return None;
    }
    Some(group_info)
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
