//! Joining from a Welcome (RFC 9420 §12.4.3.1): find our `EncryptedGroupSecrets`, decrypt the
//! `GroupSecrets` and the `GroupInfo`, verify the GroupInfo signature and confirmation tag,
//! and run the key schedule for the new epoch.
//!
//! The ratchet tree is not handled here: the caller validates the tree (from the
//! `ratchet_tree` extension or elsewhere) and supplies the signer's key through a closure
//! given the decrypted [`GroupInfo`]. [`join`] runs every step; the single steps are public
//! for callers that interleave tree work.
//!
//! The sending side ([`key_package_ref`], [`sign_group_info`], [`encrypt_group_info`],
//! [`encrypt_group_secrets`]) is here too. The committer's Welcome and
//! [`encrypt_group_secrets`] build each `EncryptedGroupSecrets` through one function,
//! `encrypted_group_secrets`; the Welcome seals its members' GroupSecrets in batches
//! (`SealContext::seal_batch`), [`encrypt_group_secrets`] one at a time
//! (`seal_group_secrets`), with the same output.

use std::borrow::Cow;

use crate::error::PeerMisbehaved;
use tls_codec::{Serialize, Size, VLBytes};

use crate::codec::{
    self, CipherSuiteId, ExtensionType, EncryptedGroupSecrets, GroupInfo, GroupInfoTbs, GroupSecrets,
    HpkeCiphertext, KeyPackage, PathSecret, PreSharedKeyId, PskSource, ResumptionPskUsage, Welcome,
};
use crate::crypto::awslc::AEAD_TAG_LEN;
use crate::crypto::{
    HpkePrivateKey, OpenContext, Provider, SealContext, Secret, SignaturePrivateKey,
};
use crate::error::Result;
use crate::framing::verify_confirmation_tag;
use crate::schedule::{self, EpochSecrets};
use crate::tree::RatchetTree;

/// The decrypted `GroupSecrets` (RFC 9420 §12.4.3.1), with its secrets moved into
/// [`Secret`]s.
#[derive(Debug, Clone)]
pub struct JoinerSecrets {
    /// `joiner_secret` of the new epoch.
    pub joiner_secret: Secret,
    /// The path secret of the lowest common ancestor with the committer, if any.
    pub path_secret: Option<Secret>,
    /// The PSKs the new epoch uses, in order.
    pub psks: Vec<PreSharedKeyId>,
}

impl From<GroupSecrets> for JoinerSecrets {
    fn from(gs: GroupSecrets) -> Self {
        // The secrets were decoded into `Secret`s already; this only moves them.
        JoinerSecrets {
            joiner_secret: gs.joiner_secret.into_secret(),
            path_secret: gs.path_secret.map(|p| p.path_secret.into_secret()),
            psks: gs.psks,
        }
    }
}

/// The state a new member gets from a Welcome ([`join`]).
#[derive(Debug, Clone)]
pub struct JoinedEpoch {
    /// The verified GroupInfo (its `group_context` is the new epoch's).
    pub group_info: GroupInfo,
    /// The path secret from the GroupSecrets, for the tree's private keys (§12.4.3.1).
    pub path_secret: Option<Secret>,
    /// The PSKs used.
    pub psks: Vec<PreSharedKeyId>,
    /// The key schedule of the new epoch.
    pub epoch_secrets: EpochSecrets,
    /// `interim_transcript_hash` of the new epoch (§8.2).
    pub interim_transcript_hash: Vec<u8>,
}

fn check_suite(provider: &Provider, got: CipherSuiteId) -> Result<()> {
    let expected = provider.suite().id();
    if got.0 == expected {
        Ok(())
    } else {
        Err(PeerMisbehaved::CipherSuiteMismatch {
            expected,
            got: got.0,
        }
        .into())
    }
}

/// `KeyPackageRef = RefHash("MLS 1.0 KeyPackage Reference", KeyPackage)` (RFC 9420 §5.2).
pub fn key_package_ref(provider: &Provider, key_package: &KeyPackage) -> Result<Vec<u8>> {
    Ok(provider.ref_hash(
        b"MLS 1.0 KeyPackage Reference",
        &codec::encode(key_package)?,
    )?)
}

/// The entry of `welcome.secrets` for the key package with reference `key_package_ref`.
pub fn find_secrets<'a>(
    welcome: &'a Welcome,
    key_package_ref: &[u8],
) -> Result<&'a EncryptedGroupSecrets> {
    welcome
        .secrets
        .iter()
        .find(|s| s.new_member.as_slice() == key_package_ref)
        .ok_or_else(|| PeerMisbehaved::NoMatchingKeyPackage.into())
}

/// Find our entry and `DecryptWithLabel(init_priv, "Welcome", encrypted_group_info,
/// kem_output, ciphertext)` it into the `GroupSecrets` (RFC 9420 §12.4.3.1). Checks that
/// the Welcome and the key package are of the provider's cipher suite.
pub fn decrypt_group_secrets(
    provider: &Provider,
    welcome: &Welcome,
    key_package: &KeyPackage,
    init_priv: &HpkePrivateKey,
) -> Result<JoinerSecrets> {
    check_suite(provider, welcome.cipher_suite)?;
    check_suite(provider, key_package.cipher_suite)?;
    let kp_ref = key_package_ref(provider, key_package)?;
    let entry = find_secrets(welcome, &kp_ref)?;
    // The plaintext holds the secrets: it is a `Secret`, zeroized when dropped (on every
    // path), and decoding copies the secrets from it straight into `Secret`s.
    // `OpenContext` hashes the context (the encrypted GroupInfo, megabytes in a large group)
    // where it lies; `Provider::decrypt_with_label` (hpke-rs) would copy it twice, behind its
    // label and behind HPKE's, before hashing it, and would also derive the recipient's public
    // key a second time and an exporter secret: the same result, one X25519 public key and
    // one HKDF-Expand fewer.
    let plaintext = Secret::new(
        OpenContext::new(provider, b"Welcome", welcome.encrypted_group_info.as_slice())?.open(
            init_priv,
            entry.encrypted_group_secrets.kem_output.as_slice(),
            entry.encrypted_group_secrets.ciphertext.as_slice(),
        )?,
    );
    let secrets: GroupSecrets = codec::decode(plaintext.as_bytes())?;
    Ok(secrets.into())
}

/// `welcome_secret` (RFC 9420 §8); see [`schedule::welcome_secret`].
pub fn welcome_secret(
    provider: &Provider,
    joiner_secret: &Secret,
    psk_secret: &Secret,
) -> Result<Secret> {
    schedule::welcome_secret(provider, joiner_secret.as_bytes(), psk_secret.as_bytes())
}

/// Decrypt `encrypted_group_info` with `welcome_key` / `welcome_nonce` (RFC 9420 §12.4.3.1;
/// the AAD is empty) and decode it. The signature is not checked here.
pub fn decrypt_group_info(
    provider: &Provider,
    welcome: &Welcome,
    welcome_secret: &Secret,
) -> Result<GroupInfo> {
    open_encrypted_group_info(
        provider,
        welcome.encrypted_group_info.as_slice().to_vec(),
        welcome_secret,
    )
}

/// [`decrypt_group_info`] of a Welcome's `encrypted_group_info`, opened in its own buffer.
fn open_encrypted_group_info(
    provider: &Provider,
    mut encrypted_group_info: Vec<u8>,
    welcome_secret: &Secret,
) -> Result<GroupInfo> {
    let (key, nonce) = schedule::welcome_key_nonce(provider, welcome_secret.as_bytes())?;
    provider.aead_open_in_place(key.as_bytes(), nonce.as_bytes(), &[], &mut encrypted_group_info)?;
    // The tree extension keeps the opened buffer rather than a copy of its bytes.
    let group_info = codec::decode_group_info_owned(encrypted_group_info)?;
    check_suite(provider, group_info.group_context.cipher_suite)?;
    Ok(group_info)
}

/// `VerifyWithLabel(signer_pub, "GroupInfoTBS", GroupInfoTBS, signature)` (RFC 9420
/// §12.4.3).
pub fn verify_group_info(
    provider: &Provider,
    group_info: &GroupInfo,
    signer_pub: &[u8],
) -> Result<()> {
    // Written into the verification, not built: with the tree it is megabytes long.
    let tbs = GroupInfoTbs { group_info };
    let len = tbs.tls_serialized_len();
    let sig = group_info.signature.as_slice();
    let mut verification = provider.labeled_verification(signer_pub, b"GroupInfoTBS", len, sig)?;
    tbs.tls_serialize(&mut verification)
        .map_err(codec::from_encode_error)?;
    if verification.written() != len {
        return Err(crate::Error::Internal(
            "tls_serialized_len disagrees with the serialization",
        ));
    }
    verification.finish()?;
    Ok(())
}

/// Set `group_info.signature = SignWithLabel(sk, "GroupInfoTBS", GroupInfoTBS)` (RFC 9420
/// §12.4.3).
pub fn sign_group_info(
    provider: &Provider,
    sk: &SignaturePrivateKey,
    group_info: &mut GroupInfo,
) -> Result<()> {
    let tbs = GroupInfoTbs {
        group_info: &*group_info,
    };
    if provider.is_simulated() {
        // Counted over the SignContent's length, not built: with the tree it is ~10 MB.
        let tbs_len = tbs.tls_serialized_len();
        let len = crate::crypto::labels::labeled_pair_header(b"GroupInfoTBS", tbs_len)?.len()
            + tbs_len;
        group_info.signature = provider.sign_labeled_counted(len).into();
        return Ok(());
    }
    let sign_content = codec::encode_labeled(b"GroupInfoTBS", &tbs)?;
    group_info.signature = provider.sign_labeled(sk, &sign_content)?.into();
    Ok(())
}

/// Encrypt a (signed) GroupInfo under the welcome key and nonce (RFC 9420 §12.4.3.1).
pub fn encrypt_group_info(
    provider: &Provider,
    group_info: &GroupInfo,
    welcome_secret: &Secret,
) -> Result<VLBytes> {
    let (key, nonce) = schedule::welcome_key_nonce(provider, welcome_secret.as_bytes())?;
    if provider.is_simulated() {
        // Counted, not encrypted: a simulated Welcome is never opened.
        return Ok(provider
            .aead_seal_counted(group_info.tls_serialized_len())
            .into());
    }
    let plaintext = codec::encode(group_info)?;
    Ok(provider
        .aead_seal(key.as_bytes(), nonce.as_bytes(), &[], &plaintext)?
        .into())
}

/// Room left after a GroupInfo's signed content for the signature and its header, so that
/// appending them does not move a buffer that holds a whole tree: more than any suite's
/// signature (ML-DSA-87's is 4,627 bytes). A longer one would only cost a reallocation.
const SIGNATURE_ROOM: usize = 8 << 10;

/// A GroupInfo carrying the ratchet tree, signed and encoded in one buffer
/// ([`sign_group_info_with_tree`]).
#[derive(Debug)]
pub(crate) struct EncodedGroupInfo {
    /// The `SignContent` (label header, then GroupInfoTBS), then the signature: the
    /// GroupInfo's encoding starts after the label header.
    buf: Vec<u8>,
    header: usize,
}

impl EncodedGroupInfo {
    /// The GroupInfo's encoding.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[self.header..]
    }
}

/// `group_info` (whose `signature` is not read) with a `ratchet_tree` extension holding
/// `tree` after its other extensions, signed (`SignWithLabel(sk, "GroupInfoTBS",
/// GroupInfoTBS)`, RFC 9420 §12.4.3) and encoded. The same bytes as pushing
/// [`RatchetTree::wire_bytes`] as an extension, [`sign_group_info`] and encoding the result,
/// but the tree, megabytes long in a large group, is written once, from the tree's storage
/// into the signed content, and the encoding is that content's GroupInfoTBS part followed by
/// the signature: no copy of the tree as an extension, a `SignContent` or a GroupInfo.
pub(crate) fn sign_group_info_with_tree(
    provider: &Provider,
    sk: &SignaturePrivateKey,
    group_info: &GroupInfo,
    tree: &RatchetTree,
) -> Result<EncodedGroupInfo> {
    let EncodedGroupInfo { mut buf, header } = group_info_tbs_with_tree(group_info, tree)?;
    let signature = provider.sign_labeled(sk, &buf)?;
    codec::encode_varint_length(signature.len(), &mut buf)?;
    buf.extend_from_slice(&signature);
    Ok(EncodedGroupInfo { buf, header })
}

/// The `SignContent` of [`sign_group_info_with_tree`] (label header, then GroupInfoTBS with
/// the tree), with room after it for the signature.
fn group_info_tbs_with_tree(group_info: &GroupInfo, tree: &RatchetTree) -> Result<EncodedGroupInfo> {
    let tree_len = tree.wire_len();
    // `Extension { extension_type, opaque extension_data<V> }` with the tree as its data.
    let tree_extension = 2 + codec::vl_length(tree_len)?;
    let extensions: usize = group_info
        .extensions
        .iter()
        .map(Size::tls_serialized_len)
        .sum::<usize>()
        + tree_extension;
    let tbs_len = group_info.group_context.tls_serialized_len()
        + codec::vl_length(extensions)?
        + group_info.confirmation_tag.tls_serialized_len()
        + 4;
    let label_header = crate::crypto::labels::labeled_pair_header(b"GroupInfoTBS", tbs_len)?;
    let header = label_header.len();
    let mut buf = Vec::with_capacity(header + tbs_len + SIGNATURE_ROOM);
    buf.extend_from_slice(&label_header);
    codec::encode_into(&group_info.group_context, &mut buf)?;
    codec::encode_varint_length(extensions, &mut buf)?;
    for e in &group_info.extensions {
        codec::encode_into(e, &mut buf)?;
    }
    codec::encode_into(&ExtensionType::RATCHET_TREE, &mut buf)?;
    codec::encode_varint_length(tree_len, &mut buf)?;
    tree.write_wire(&mut buf)?;
    codec::encode_into(&group_info.confirmation_tag, &mut buf)?;
    codec::encode_into(&group_info.signer, &mut buf)?;
    if buf.len() != header + tbs_len {
        return Err(crate::Error::Internal(
            "GroupInfoTBS length disagrees with its serialization",
        ));
    }
    Ok(EncodedGroupInfo { buf, header })
}

/// A Welcome's GroupInfo with the tree, signed ([`sign_group_info_with_tree`]), encrypted
/// under the welcome secret ([`encrypt_encoded_group_info`]), and the HPKE context of the
/// Welcome's seals, whose context is that ciphertext (`SealContext::new(provider,
/// "Welcome", ciphertext)`): the same bytes as those three one after the other, which stay
/// as the reference (and which the tests hold this equal to), but in less time.
///
/// The GroupInfo ends with its signature, and signing a tree of megabytes is a chain (EdDSA
/// hashes the message twice, the second pass after the first), so here everything before
/// the signature is encrypted (`Provider::aead_seal_tail_later`) and hashed as context on
/// `executor`'s side while the calling thread signs; only the signature's own bytes and the
/// tag are encrypted and hashed after. The context's hash starts with its length, so this
/// needs the signature's length in advance: for ECDSA (DER, of varying length) the three
/// steps run one after the other.
pub(crate) fn seal_group_info_with_tree(
    provider: &Provider,
    executor: crate::batch::Executor,
    sk: &SignaturePrivateKey,
    group_info: &GroupInfo,
    tree: &RatchetTree,
    welcome_secret: &Secret,
) -> Result<(VLBytes, SealContext)> {
    let Some(signature_len) = provider.signature_scheme().fixed_signature_len() else {
        let signed = sign_group_info_with_tree(provider, sk, group_info, tree)?;
        let encrypted = encrypt_encoded_group_info(provider, signed.bytes(), welcome_secret)?;
        let context = SealContext::new(provider, b"Welcome", encrypted.as_slice())?;
        return Ok((encrypted, context));
    };
    let tbs = group_info_tbs_with_tree(group_info, tree)?;
    let (key, nonce) = schedule::welcome_key_nonce(provider, welcome_secret.as_bytes())?;
    // What follows GroupInfoTBS in the GroupInfo: `opaque signature<V>`.
    let mut tail = Vec::with_capacity(8 + signature_len);
    codec::encode_varint_length(signature_len, &mut tail)?;
    let encrypted_len = tbs.bytes().len() + tail.len() + signature_len + AEAD_TAG_LEN;
    let (signature, prefix) = executor.beside(
        || provider.sign_labeled(sk, &tbs.buf),
        || -> Result<_> {
            let seal = provider.aead_seal_tail_later(
                key.as_bytes(),
                nonce.as_bytes(),
                &[],
                tbs.bytes(),
                tail.len() + signature_len,
            )?;
            let mut hasher = SealContext::hasher(provider, b"Welcome", encrypted_len)?;
            hasher.update(seal.prefix_ciphertext())?;
            Ok((seal, hasher))
        },
    );
    let signature = signature?;
    let (seal, mut hasher) = prefix?;
    if signature.len() != signature_len {
        return Err(crate::Error::Internal(
            "signature length differs from its scheme's",
        ));
    }
    tail.extend_from_slice(&signature);
    let encrypted = seal.finish(&tail)?;
    hasher.update(&encrypted[tbs.bytes().len()..])?;
    Ok((encrypted.into(), hasher.finish(provider)?))
}

/// [`encrypt_group_info`] of a GroupInfo already encoded (`plaintext`).
pub(crate) fn encrypt_encoded_group_info(
    provider: &Provider,
    plaintext: &[u8],
    welcome_secret: &Secret,
) -> Result<VLBytes> {
    let (key, nonce) = schedule::welcome_key_nonce(provider, welcome_secret.as_bytes())?;
    Ok(provider
        .aead_seal(key.as_bytes(), nonce.as_bytes(), &[], plaintext)?
        .into())
}

/// The encoded GroupSecrets (RFC 9420 §12.4.3.1) as a [`Secret`]. The field copies are
/// [`codec::SecretBytes`] (zeroized on drop) and `encode` sizes its buffer exactly, so no
/// copy of a secret is left behind.
pub(crate) fn group_secrets_plaintext(
    joiner_secret: &Secret,
    path_secret: Option<&Secret>,
    psks: &[PreSharedKeyId],
) -> Result<Secret> {
    let gs = GroupSecrets {
        joiner_secret: joiner_secret.clone().into(),
        path_secret: path_secret.map(|s| PathSecret {
            path_secret: s.clone().into(),
        }),
        psks: psks.to_vec(),
    };
    Ok(Secret::new(codec::encode(&gs)?))
}

/// One new member's `EncryptedGroupSecrets`: the encoded GroupSecrets `plaintext` sealed to
/// its init key under `seal`, the context of `EncryptWithLabel(_, "Welcome",
/// encrypted_group_info, _)`. The committer's Welcome and [`encrypt_group_secrets`] both seal
/// here; `ikm_e` is the ephemeral's seed, or `None` for a random one.
pub(crate) fn seal_group_secrets(
    provider: &Provider,
    seal: &SealContext,
    key_package: &KeyPackage,
    plaintext: &Secret,
    ikm_e: Option<&[u8]>,
) -> Result<EncryptedGroupSecrets> {
    let sealed = seal.seal(key_package.init_key.as_slice(), plaintext.as_bytes(), ikm_e)?;
    encrypted_group_secrets(provider, key_package, sealed)
}

/// The `EncryptedGroupSecrets` of the new member of `key_package` from its sealed
/// GroupSecrets (`kem_output`, ciphertext).
pub(crate) fn encrypted_group_secrets(
    provider: &Provider,
    key_package: &KeyPackage,
    (kem_output, ciphertext): (Vec<u8>, Vec<u8>),
) -> Result<EncryptedGroupSecrets> {
    Ok(EncryptedGroupSecrets {
        new_member: codec::HashReference(key_package_ref(provider, key_package)?.into()),
        encrypted_group_secrets: HpkeCiphertext {
            kem_output: kem_output.into(),
            ciphertext: ciphertext.into(),
        },
    })
}

/// `EncryptWithLabel(init_key, "Welcome", encrypted_group_info, group_secrets)` for one new
/// member (RFC 9420 §12.4.3.1), with a random ephemeral key: the committer's seal
/// (`seal_group_secrets`) for a single recipient, for callers that build a Welcome by hand.
pub fn encrypt_group_secrets(
    provider: &Provider,
    key_package: &KeyPackage,
    encrypted_group_info: &[u8],
    secrets: &JoinerSecrets,
) -> Result<EncryptedGroupSecrets> {
    let plaintext = group_secrets_plaintext(
        &secrets.joiner_secret,
        secrets.path_secret.as_ref(),
        &secrets.psks,
    )?;
    let seal = SealContext::new(provider, b"Welcome", encrypted_group_info)?;
    seal_group_secrets(provider, &seal, key_package, &plaintext, None)
}

/// Whether a PSK is a resumption PSK with usage `reinit` or `branch`.
fn is_reinit_or_branch(id: &PreSharedKeyId) -> bool {
    matches!(
        id.source,
        PskSource::Resumption {
            usage: ResumptionPskUsage::Reinit | ResumptionPskUsage::Branch,
            ..
        }
    )
}

/// Process a Welcome for `key_package` (RFC 9420 §12.4.3.1), except for the ratchet tree:
///
/// 1. find and decrypt our `GroupSecrets` with `init_priv`;
/// 2. resolve each PSK with `psk` (`None`: [`PeerMisbehaved::MissingPsk`]) and check there is
///    at most one reinit / branch resumption PSK;
/// 3. derive the welcome secret and decrypt the `GroupInfo`;
/// 4. verify its signature with the key `signer_key` returns for it (the caller looks up
///    leaf `group_info.signer` in the validated tree; `None`:
///    [`PeerMisbehaved::UnknownSigner`]);
/// 5. run the key schedule from the joiner secret, verify the confirmation tag against the
///    GroupInfo's `confirmed_transcript_hash`, and compute the interim transcript hash;
/// 6. with a reinit / branch PSK, check the new epoch is 1.
pub fn join<P, S, K>(
    provider: &Provider,
    welcome: &Welcome,
    key_package: &KeyPackage,
    init_priv: &HpkePrivateKey,
    psk: P,
    signer_key: S,
) -> Result<JoinedEpoch>
where
    P: FnMut(&PreSharedKeyId) -> Option<Secret>,
    S: FnOnce(&GroupInfo) -> Option<K>,
    K: AsRef<[u8]>,
{
    join_with(provider, welcome, key_package, init_priv, psk, |gi| {
        let key = signer_key(gi).ok_or(PeerMisbehaved::UnknownSigner(gi.signer))?;
        verify_group_info(provider, gi, key.as_ref())
    })
}

/// [`join`], with step 4 left to `verify_signer`: it checks the GroupInfo's signature by its
/// signer, as [`verify_group_info`] with that leaf's key does, and its error is the join's.
/// For a caller that looks the key up in a tree it decodes meanwhile.
pub fn join_with<P, V>(
    provider: &Provider,
    welcome: &Welcome,
    key_package: &KeyPackage,
    init_priv: &HpkePrivateKey,
    psk: P,
    verify_signer: V,
) -> Result<JoinedEpoch>
where
    P: FnMut(&PreSharedKeyId) -> Option<Secret>,
    V: FnOnce(&GroupInfo) -> Result<()>,
{
    join_from(
        provider,
        Cow::Borrowed(welcome),
        key_package,
        init_priv,
        psk,
        verify_signer,
    )
}

/// [`join_with`] of a Welcome the caller gives up (decoded from the wire for this join): its
/// encrypted GroupInfo, 12.7 MB at 50,000 members, is opened in its own buffer rather than
/// copied into a fresh one first.
pub(crate) fn join_with_owned<P, V>(
    provider: &Provider,
    welcome: Welcome,
    key_package: &KeyPackage,
    init_priv: &HpkePrivateKey,
    psk: P,
    verify_signer: V,
) -> Result<JoinedEpoch>
where
    P: FnMut(&PreSharedKeyId) -> Option<Secret>,
    V: FnOnce(&GroupInfo) -> Result<()>,
{
    join_from(
        provider,
        Cow::Owned(welcome),
        key_package,
        init_priv,
        psk,
        verify_signer,
    )
}

fn join_from<P, V>(
    provider: &Provider,
    welcome: Cow<'_, Welcome>,
    key_package: &KeyPackage,
    init_priv: &HpkePrivateKey,
    mut psk: P,
    verify_signer: V,
) -> Result<JoinedEpoch>
where
    P: FnMut(&PreSharedKeyId) -> Option<Secret>,
    V: FnOnce(&GroupInfo) -> Result<()>,
{
    let secrets = decrypt_group_secrets(provider, &welcome, key_package, init_priv)?;

    let mut resolved = Vec::with_capacity(secrets.psks.len());
    for id in &secrets.psks {
        let value = psk(id).ok_or(PeerMisbehaved::MissingPsk)?;
        resolved.push((id.clone(), value));
    }
    let special = secrets
        .psks
        .iter()
        .filter(|id| is_reinit_or_branch(id))
        .count();
    if special > 1 {
        return Err(PeerMisbehaved::MultipleReinitOrBranchPsks.into());
    }
    let psk_secret = schedule::psk_secret(provider, &resolved)?;

    let welcome_secret = welcome_secret(provider, &secrets.joiner_secret, &psk_secret)?;
    let encrypted_group_info = match welcome {
        Cow::Borrowed(w) => w.encrypted_group_info.as_slice().to_vec(),
        Cow::Owned(w) => w.encrypted_group_info.into(),
    };
    let group_info = open_encrypted_group_info(provider, encrypted_group_info, &welcome_secret)?;
    verify_signer(&group_info)?;

    let context = codec::encode(&group_info.group_context)?;
    let epoch_secrets = EpochSecrets::from_joiner(
        provider,
        secrets.joiner_secret.clone(),
        psk_secret.as_bytes(),
        &context,
    )?;
    let confirmed = group_info
        .group_context
        .confirmed_transcript_hash
        .as_slice();
    let tag = group_info.confirmation_tag.as_slice();
    verify_confirmation_tag(provider, &epoch_secrets.confirmation_key, confirmed, tag)?;
    let interim_transcript_hash = schedule::interim_transcript_hash(provider, confirmed, tag)?;

    if special == 1 && group_info.group_context.epoch != 1 {
        return Err(PeerMisbehaved::ReinitOrBranchEpoch(group_info.group_context.epoch).into());
    }

    Ok(JoinedEpoch {
        group_info,
        path_secret: secrets.path_secret,
        psks: secrets.psks,
        epoch_secrets,
        interim_transcript_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{MlsMessage, MlsMessageBody};
    use crate::crypto::{CipherSuite, CryptoError};
    use crate::Error;

    /// Case 0 of `welcome.json` (suite 1): (welcome, key package, init_priv, signer_pub).
    fn vector() -> (Welcome, KeyPackage, HpkePrivateKey, Vec<u8>) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test_vectors/mls/welcome.json");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let case = &json[0];
        assert_eq!(case["cipher_suite"], 1);
        let hex = |k: &str| hex::decode(case[k].as_str().unwrap()).unwrap();
        let MlsMessageBody::Welcome(w) = codec::decode::<MlsMessage>(&hex("welcome")).unwrap().body
        else {
            panic!("not a welcome")
        };
        let MlsMessageBody::KeyPackage(kp) = codec::decode::<MlsMessage>(&hex("key_package"))
            .unwrap()
            .body
        else {
            panic!("not a key package")
        };
        (
            w,
            kp,
            HpkePrivateKey::new(hex("init_priv")),
            hex("signer_pub"),
        )
    }

    fn provider() -> Provider {
        Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519)
    }

    fn join_with(
        w: &Welcome,
        kp: &KeyPackage,
        init: &HpkePrivateKey,
        signer: &[u8],
    ) -> Result<JoinedEpoch> {
        join(&provider(), w, kp, init, |_| None, |_| Some(signer))
    }

    #[test]
    fn joins_the_vector() {
        let (w, kp, init, signer) = vector();
        let joined = join_with(&w, &kp, &init, &signer).unwrap();
        assert_eq!(joined.psks.len(), 0);
        assert_eq!(joined.interim_transcript_hash.len(), 32);
    }

    #[test]
    fn failures_are_typed() {
        let (w, kp, init, signer) = vector();

        // Not our key package.
        let mut other = w.clone();
        other.secrets[0].new_member = codec::HashReference(vec![0; 32].into());
        assert!(matches!(
            join_with(&other, &kp, &init, &signer),
            Err(Error::PeerMisbehaved(PeerMisbehaved::NoMatchingKeyPackage))
        ));

        // encrypted_group_info is the HPKE context of the group secrets.
        let mut other = w.clone();
        let mut egi = other.encrypted_group_info.as_slice().to_vec();
        egi[0] ^= 1;
        other.encrypted_group_info = egi.into();
        assert!(matches!(
            join_with(&other, &kp, &init, &signer),
            Err(Error::Crypto(CryptoError::HpkeOpenFailed))
        ));

        // Wrong init key.
        assert!(matches!(
            join_with(&w, &kp, &HpkePrivateKey::new(vec![1; 32]), &signer),
            Err(Error::Crypto(CryptoError::HpkeOpenFailed))
        ));

        // Wrong signer key, unknown signer.
        let (_, wrong) = provider().signature_key_pair_from_seed(&[3; 32]).unwrap();
        assert!(matches!(
            join_with(&w, &kp, &init, &wrong),
            Err(Error::Crypto(CryptoError::InvalidSignature))
        ));
        assert!(matches!(
            join(&provider(), &w, &kp, &init, |_| None, |_| None::<Vec<u8>>),
            Err(Error::PeerMisbehaved(PeerMisbehaved::UnknownSigner(_)))
        ));

        // Suite mismatch.
        let mut other = w.clone();
        other.cipher_suite = CipherSuiteId(3);
        assert!(matches!(
            join_with(&other, &kp, &init, &signer),
            Err(Error::PeerMisbehaved(PeerMisbehaved::CipherSuiteMismatch {
                expected: 1,
                got: 3
            }))
        ));
    }

    /// Re-issue the vector's Welcome with a GroupInfo we sign ourselves (through the sending
    /// helpers), optionally changed by `edit`, and with `psks` in the GroupSecrets.
    fn reissue(
        edit: impl FnOnce(&mut GroupInfo),
        psks: Vec<PreSharedKeyId>,
    ) -> (Welcome, KeyPackage, HpkePrivateKey, Vec<u8>) {
        let p = provider();
        let (w, kp, init, _) = vector();
        let secrets = decrypt_group_secrets(&p, &w, &kp, &init).unwrap();
        let zero = schedule::psk_secret(&p, &[]).unwrap();
        let ws = welcome_secret(&p, &secrets.joiner_secret, &zero).unwrap();
        let mut gi = decrypt_group_info(&p, &w, &ws).unwrap();
        edit(&mut gi);
        let (sk, pk) = p.signature_key_pair_from_seed(&[5; 32]).unwrap();
        sign_group_info(&p, &sk, &mut gi).unwrap();
        let resolved: Vec<_> = psks
            .iter()
            .map(|id| (id.clone(), Secret::new(vec![7; 32])))
            .collect();
        let psk_secret = schedule::psk_secret(&p, &resolved).unwrap();
        let ws = welcome_secret(&p, &secrets.joiner_secret, &psk_secret).unwrap();
        let egi = encrypt_group_info(&p, &gi, &ws).unwrap();
        let secrets = JoinerSecrets { psks, ..secrets };
        let entry = encrypt_group_secrets(&p, &kp, egi.as_slice(), &secrets).unwrap();
        let w = Welcome {
            cipher_suite: w.cipher_suite,
            secrets: vec![entry],
            encrypted_group_info: egi.into(),
        };
        (w, kp, init, pk)
    }

    #[test]
    fn sending_helpers_round_trip() {
        let (w, kp, init, pk) = reissue(|_| {}, Vec::new());
        join_with(&w, &kp, &init, &pk).unwrap();
    }

    #[test]
    fn bad_confirmation_tag() {
        let (w, kp, init, pk) = reissue(
            |gi| {
                let mut tag = gi.confirmation_tag.as_slice().to_vec();
                tag[0] ^= 1;
                gi.confirmation_tag = codec::Mac(tag.into());
            },
            Vec::new(),
        );
        assert!(matches!(
            join_with(&w, &kp, &init, &pk),
            Err(Error::PeerMisbehaved(
                PeerMisbehaved::InvalidConfirmationTag
            ))
        ));
    }

    #[test]
    fn psks() {
        let external = PreSharedKeyId {
            source: PskSource::External {
                psk_id: b"psk".to_vec().into(),
            },
            psk_nonce: vec![0; 32].into(),
        };
        // The confirmation tag was made without the PSK, so the signature and decryption
        // pass but the tag then fails: the PSK went into the key schedule.
        let (w, kp, init, pk) = reissue(|_| {}, vec![external.clone()]);
        assert!(matches!(
            join_with(&w, &kp, &init, &pk),
            Err(Error::PeerMisbehaved(PeerMisbehaved::MissingPsk))
        ));
        let psk = |_: &PreSharedKeyId| Some(Secret::new(vec![7; 32]));
        assert!(matches!(
            join(&provider(), &w, &kp, &init, psk, |_| Some(&pk)),
            Err(Error::PeerMisbehaved(
                PeerMisbehaved::InvalidConfirmationTag
            ))
        ));

        let reinit = |epoch| PreSharedKeyId {
            source: PskSource::Resumption {
                usage: ResumptionPskUsage::Reinit,
                psk_group_id: b"old".to_vec().into(),
                psk_epoch: epoch,
            },
            psk_nonce: vec![1; 32].into(),
        };
        let (w, kp, init, pk) = reissue(|_| {}, vec![reinit(1), reinit(2)]);
        assert!(matches!(
            join(&provider(), &w, &kp, &init, psk, |_| Some(&pk)),
            Err(Error::PeerMisbehaved(
                PeerMisbehaved::MultipleReinitOrBranchPsks
            ))
        ));
    }

    /// A GroupInfo whose signed content is large is verified with its content hashed as it
    /// is written, on every backend but aws-lc, and each verdict, error included, is the one
    /// aws-lc gives over the built `SignContent`: for the signed GroupInfo, one with a byte
    /// of its large extension, of its small fields or of the signature changed, a wrong key,
    /// and truncated key and signature. A small one is gathered everywhere.
    #[test]
    fn large_group_infos_verify_as_written_on_every_backend() {
        use crate::crypto::X25519Backend;
        let p = provider();
        let (w, kp, init, _) = vector();
        let secrets = decrypt_group_secrets(&p, &w, &kp, &init).unwrap();
        let zero = schedule::psk_secret(&p, &[]).unwrap();
        let ws = welcome_secret(&p, &secrets.joiner_secret, &zero).unwrap();
        let small = decrypt_group_info(&p, &w, &ws).unwrap();
        let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let mut large = small.clone();
        large.extensions.push(crate::codec::Extension {
            extension_type: ExtensionType::RATCHET_TREE,
            extension_data: big.into(),
        });
        let (sk, pk) = p.signature_key_pair_from_seed(&[5; 32]).unwrap();
        let (_, other_pk) = p.signature_key_pair_from_seed(&[6; 32]).unwrap();
        let mut checked = 0;
        let mut streamed = 0;
        for mut gi in [small, large] {
            sign_group_info(&p, &sk, &mut gi).unwrap();
            let len = GroupInfoTbs { group_info: &gi }.tls_serialized_len();
            let mut cases: Vec<(&str, GroupInfo, Vec<u8>)> = vec![("signed", gi.clone(), pk.clone())];
            let mut tampered = gi.clone();
            if let Some(e) = tampered.extensions.last_mut() {
                let mut data = e.extension_data.as_slice().to_vec();
                data[150_001] ^= 0x10;
                e.extension_data = data.into();
                cases.push(("extension byte", tampered, pk.clone()));
            }
            let mut tampered = gi.clone();
            let mut tag = tampered.confirmation_tag.as_slice().to_vec();
            tag[0] ^= 0x80;
            tampered.confirmation_tag = codec::Mac(tag.into());
            cases.push(("confirmation tag", tampered, pk.clone()));
            let mut tampered = gi.clone();
            tampered.signer ^= 1;
            cases.push(("signer", tampered, pk.clone()));
            let mut tampered = gi.clone();
            let mut sig = tampered.signature.as_slice().to_vec();
            sig[40] ^= 1;
            tampered.signature = sig.into();
            cases.push(("signature byte", tampered, pk.clone()));
            cases.push(("other key", gi.clone(), other_pk.clone()));
            cases.push(("short key", gi.clone(), pk[..31].to_vec()));
            let mut tampered = gi.clone();
            tampered.signature = tampered.signature.as_slice()[..63].to_vec().into();
            cases.push(("short signature", tampered, pk.clone()));
            for (case, gi, key) in &cases {
                let sign_content = codec::encode_labeled(b"GroupInfoTBS", &GroupInfoTbs {
                    group_info: gi,
                })
                .unwrap();
                let reference =
                    crate::crypto::awslc::ed25519_verify(key, &sign_content, gi.signature.as_slice())
                        .map_err(Error::from);
                assert_eq!(reference.is_ok(), *case == "signed", "{case}");
                for backend in X25519Backend::available() {
                    let q = p.with_x25519_backend(backend).unwrap();
                    let got = verify_group_info(&q, gi, key);
                    assert_eq!(
                        format!("{got:?}"),
                        format!("{reference:?}"),
                        "{case} on {backend:?}"
                    );
                    let v = q
                        .labeled_verification(key, b"GroupInfoTBS", len, gi.signature.as_slice())
                        .unwrap();
                    let portable = matches!(backend, X25519Backend::AwsLc | X25519Backend::SimdPortable);
                    let expect = if len >= 64 << 10 && !portable {
                        "streamed"
                    } else {
                        "gathered"
                    };
                    assert!(format!("{v:?}").contains(expect), "{case} on {backend:?}: {v:?}");
                    streamed += usize::from(expect == "streamed");
                    checked += 1;
                }
            }
        }
        eprintln!("{checked} GroupInfo verifications checked, {streamed} streamed");
        assert!(streamed > 0, "no backend besides aws-lc on this host");
    }
}
