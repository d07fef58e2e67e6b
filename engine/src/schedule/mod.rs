//! The key schedule (RFC 9420 §8), PSK secret (§8.4), transcript hashes (§8.2) and the secret
//! tree with its hash ratchets (§9).

pub mod secret_tree;

pub use secret_tree::{RatchetKey, RatchetKind, SecretTree};

use crate::codec::{
    self, ConfirmedTranscriptHashInput, FramedContent, InterimTranscriptHashInput, PreSharedKeyId,
    PskLabel, WireFormat,
};
use crate::crypto::{Provider, Secret};
use crate::error::ApiMisuse;
use crate::error::{Error, Result};

/// The secrets of one epoch (RFC 9420 §8, table "Epoch-derived secrets"): the whole output of
/// the key schedule. Every field is a [`Secret`]: zeroized on drop, never printed.
///
/// This is what setting up an epoch needs; a member does not keep it. `joiner_secret`,
/// `welcome_secret` (for the Welcome a committer builds), `epoch_secret` and
/// `encryption_secret` (the root of the secret tree) are consumed once the epoch is set up and
/// must then be deleted (§9.2): [`EpochSecrets::into_retained`] splits off what lasts for the
/// epoch ([`RetainedSecrets`]) and hands over `encryption_secret`, dropping the rest.
#[derive(Debug, Clone)]
pub struct EpochSecrets {
    /// `joiner_secret`, from which the epoch secret and the welcome secret come.
    pub joiner_secret: Secret,
    /// `welcome_secret`, keying the GroupInfo in a Welcome.
    pub welcome_secret: Secret,
    /// `epoch_secret`.
    pub epoch_secret: Secret,
    /// `sender_data_secret`.
    pub sender_data_secret: Secret,
    /// `encryption_secret`: root of the secret tree.
    pub encryption_secret: Secret,
    /// `exporter_secret`.
    pub exporter_secret: Secret,
    /// `external_secret`: seeds the external_pub key pair.
    pub external_secret: Secret,
    /// `confirmation_key`.
    pub confirmation_key: Secret,
    /// `membership_key`.
    pub membership_key: Secret,
    /// `resumption_psk`.
    pub resumption_psk: Secret,
    /// `epoch_authenticator`.
    pub epoch_authenticator: Secret,
    /// `init_secret` of the next epoch.
    pub init_secret: Secret,
}

/// The secrets of one epoch that a member keeps for as long as it is in the epoch: those used
/// after set-up (message framing, exports, external joins, confirmation tags, PSKs, the next
/// epoch's key schedule). Nothing here derives one of the others, so holding them all does
/// not keep a consumed value alive (RFC 9420 §9.2).
#[derive(Debug, Clone)]
pub struct RetainedSecrets {
    /// `sender_data_secret`.
    pub sender_data_secret: Secret,
    /// `exporter_secret`.
    pub exporter_secret: Secret,
    /// `external_secret`: seeds the external_pub key pair.
    pub external_secret: Secret,
    /// `confirmation_key`.
    pub confirmation_key: Secret,
    /// `membership_key`.
    pub membership_key: Secret,
    /// `resumption_psk`.
    pub resumption_psk: Secret,
    /// `epoch_authenticator`.
    pub epoch_authenticator: Secret,
    /// `init_secret` of the next epoch.
    pub init_secret: Secret,
}

impl EpochSecrets {
    /// Run the key schedule from the previous epoch's `init_secret` and this epoch's
    /// `commit_secret` (all zeros when the commit has no path), `psk_secret` (all zeros without
    /// PSKs) and serialized GroupContext.
    pub fn derive(
        provider: &Provider,
        init_secret: &[u8],
        commit_secret: &[u8],
        psk_secret: &[u8],
        group_context: &[u8],
    ) -> Result<Self> {
        let nh = provider.hash_len() as u16;
        let pre_joiner = provider.extract(init_secret, commit_secret);
        let joiner_secret =
            provider.expand_with_label(pre_joiner.as_bytes(), b"joiner", group_context, nh)?;
        Self::from_joiner(provider, joiner_secret, psk_secret, group_context)
    }

    /// Run the key schedule from a `joiner_secret` (as a new member does from a Welcome).
    pub fn from_joiner(
        provider: &Provider,
        joiner_secret: Secret,
        psk_secret: &[u8],
        group_context: &[u8],
    ) -> Result<Self> {
        let nh = provider.hash_len() as u16;
        let member = provider.extract(joiner_secret.as_bytes(), psk_secret);
        let welcome_secret = provider.derive_secret(member.as_bytes(), b"welcome")?;
        let epoch_secret =
            provider.expand_with_label(member.as_bytes(), b"epoch", group_context, nh)?;
        let d = |label: &[u8]| provider.derive_secret(epoch_secret.as_bytes(), label);
        Ok(EpochSecrets {
            sender_data_secret: d(b"sender data")?,
            encryption_secret: d(b"encryption")?,
            exporter_secret: d(b"exporter")?,
            external_secret: d(b"external")?,
            confirmation_key: d(b"confirm")?,
            membership_key: d(b"membership")?,
            resumption_psk: d(b"resumption")?,
            epoch_authenticator: d(b"authentication")?,
            init_secret: d(b"init")?,
            joiner_secret,
            welcome_secret,
            epoch_secret,
        })
    }

    /// Finish setting up the epoch: the secrets kept for the epoch, and `encryption_secret`
    /// for the secret tree (moved, not copied). `joiner_secret`, `welcome_secret` and
    /// `epoch_secret` are consumed by now (RFC 9420 §9.2) and are dropped here, which zeroizes
    /// them.
    pub fn into_retained(self) -> (RetainedSecrets, Secret) {
        let EpochSecrets {
            joiner_secret,
            welcome_secret,
            epoch_secret,
            sender_data_secret,
            encryption_secret,
            exporter_secret,
            external_secret,
            confirmation_key,
            membership_key,
            resumption_psk,
            epoch_authenticator,
            init_secret,
        } = self;
        drop((joiner_secret, welcome_secret, epoch_secret));
        (
            RetainedSecrets {
                sender_data_secret,
                exporter_secret,
                external_secret,
                confirmation_key,
                membership_key,
                resumption_psk,
                epoch_authenticator,
                init_secret,
            },
            encryption_secret,
        )
    }

    /// `MLS-Exporter(label, context, length)` (RFC 9420 §8.5).
    pub fn export(
        &self,
        provider: &Provider,
        label: &[u8],
        context: &[u8],
        length: u16,
    ) -> Result<Secret> {
        export(provider, &self.exporter_secret, label, context, length)
    }

    /// The group's `external_pub` (RFC 9420 §8.3): the public half of
    /// `DeriveKeyPair(external_secret)`.
    pub fn external_pub(&self, provider: &Provider) -> Result<Vec<u8>> {
        external_pub(provider, &self.external_secret)
    }

    /// `confirmation_tag = MAC(confirmation_key, confirmed_transcript_hash)` (RFC 9420 §6.1).
    pub fn confirmation_tag(
        &self,
        provider: &Provider,
        confirmed_transcript_hash: &[u8],
    ) -> Vec<u8> {
        provider.mac(self.confirmation_key.as_bytes(), confirmed_transcript_hash)
    }
}

impl RetainedSecrets {
    /// `MLS-Exporter(label, context, length)` (RFC 9420 §8.5).
    pub fn export(
        &self,
        provider: &Provider,
        label: &[u8],
        context: &[u8],
        length: u16,
    ) -> Result<Secret> {
        export(provider, &self.exporter_secret, label, context, length)
    }

    /// The group's `external_pub` (RFC 9420 §8.3): the public half of
    /// `DeriveKeyPair(external_secret)`.
    pub fn external_pub(&self, provider: &Provider) -> Result<Vec<u8>> {
        external_pub(provider, &self.external_secret)
    }

    /// `confirmation_tag = MAC(confirmation_key, confirmed_transcript_hash)` (RFC 9420 §6.1).
    pub fn confirmation_tag(
        &self,
        provider: &Provider,
        confirmed_transcript_hash: &[u8],
    ) -> Vec<u8> {
        provider.mac(self.confirmation_key.as_bytes(), confirmed_transcript_hash)
    }

    /// Every secret held, for checks that a value is (or is no longer) kept. The destructuring
    /// is exhaustive so that a field added later cannot be missed.
    pub(crate) fn for_each_secret(&self, f: &mut dyn FnMut(&Secret)) {
        let RetainedSecrets {
            sender_data_secret,
            exporter_secret,
            external_secret,
            confirmation_key,
            membership_key,
            resumption_psk,
            epoch_authenticator,
            init_secret,
        } = self;
        for s in [
            sender_data_secret,
            exporter_secret,
            external_secret,
            confirmation_key,
            membership_key,
            resumption_psk,
            epoch_authenticator,
            init_secret,
        ] {
            f(s);
        }
    }
}

/// Whether `secret` equals `value`, in constant time in the contents (for the `holds_secret`
/// checks of the deletion schedule).
pub(crate) fn secret_matches(secret: &Secret, value: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(secret.as_bytes(), value).is_ok()
}

/// `MLS-Exporter(label, context, length)` from `exporter_secret` (RFC 9420 §8.5).
fn export(
    provider: &Provider,
    exporter_secret: &Secret,
    label: &[u8],
    context: &[u8],
    length: u16,
) -> Result<Secret> {
    let derived = provider.derive_secret(exporter_secret.as_bytes(), label)?;
    Ok(provider.expand_with_label(
        derived.as_bytes(),
        b"exported",
        &provider.hash(context),
        length,
    )?)
}

/// The public half of `DeriveKeyPair(external_secret)` (RFC 9420 §8.3).
fn external_pub(provider: &Provider, external_secret: &Secret) -> Result<Vec<u8>> {
    Ok(provider.derive_hpke_key_pair(external_secret.as_bytes())?.1)
}

/// An AEAD key and nonce from one secret: `ExpandWithLabel(secret, "key" | "nonce", context,
/// Nk | Nn)`. RFC 9420 uses this shape for the Welcome (§12.4.3.1, empty context) and for
/// sender data (§6.3.2, the ciphertext sample as context).
pub(crate) fn aead_key_nonce(
    provider: &Provider,
    secret: &[u8],
    context: &[u8],
) -> Result<(Secret, Secret)> {
    let key =
        provider.expand_with_label(secret, b"key", context, provider.aead_key_len() as u16)?;
    let nonce =
        provider.expand_with_label(secret, b"nonce", context, provider.aead_nonce_len() as u16)?;
    Ok((key, nonce))
}

/// `welcome_key` and `welcome_nonce` (RFC 9420 §12.4.3.1) from the welcome secret.
pub fn welcome_key_nonce(provider: &Provider, welcome_secret: &[u8]) -> Result<(Secret, Secret)> {
    aead_key_nonce(provider, welcome_secret, &[])
}

/// `welcome_secret = DeriveSecret(KDF.Extract(joiner_secret, psk_secret), "welcome")`
/// (RFC 9420 §8), for a joiner who needs it before the GroupContext is known (the GroupInfo
/// it decrypts carries the context).
pub fn welcome_secret(
    provider: &Provider,
    joiner_secret: &[u8],
    psk_secret: &[u8],
) -> Result<Secret> {
    let member = provider.extract(joiner_secret, psk_secret);
    Ok(provider.derive_secret(member.as_bytes(), b"welcome")?)
}

/// `psk_secret` (RFC 9420 §8.4) over `(id, psk)` pairs in order; all zeros for none.
pub fn psk_secret(provider: &Provider, psks: &[(PreSharedKeyId, Secret)]) -> Result<Secret> {
    let nh = provider.hash_len();
    let zero = vec![0u8; nh];
    let count = u16::try_from(psks.len())
        .map_err(|_| Error::ApiMisuse(ApiMisuse::InvalidArgument("more than 65535 PSKs")))?;
    let mut acc = Secret::new(zero.clone());
    for (index, (id, psk)) in psks.iter().enumerate() {
        let extracted = provider.extract(&zero, psk.as_bytes());
        // `index < count <= u16::MAX`.
        let label = PskLabel {
            id,
            index: index as u16,
            count,
        };
        let input = provider.expand_with_label(
            extracted.as_bytes(),
            b"derived psk",
            &codec::encode(&label)?,
            nh as u16,
        )?;
        acc = provider.extract(input.as_bytes(), acc.as_bytes());
    }
    Ok(acc)
}

/// `confirmed_transcript_hash = Hash(interim_transcript_hash || ConfirmedTranscriptHashInput)`
/// (RFC 9420 §8.2).
pub fn confirmed_transcript_hash(
    provider: &Provider,
    interim_before: &[u8],
    wire_format: WireFormat,
    content: &FramedContent,
    signature: &[u8],
) -> Result<Vec<u8>> {
    let mut buf = interim_before.to_vec();
    codec::encode_into(
        &ConfirmedTranscriptHashInput {
            wire_format,
            content,
            signature,
        },
        &mut buf,
    )?;
    Ok(provider.hash(&buf))
}

/// `interim_transcript_hash = Hash(confirmed_transcript_hash || InterimTranscriptHashInput)`
/// (RFC 9420 §8.2).
pub fn interim_transcript_hash(
    provider: &Provider,
    confirmed: &[u8],
    confirmation_tag: &[u8],
) -> Result<Vec<u8>> {
    let mut buf = confirmed.to_vec();
    codec::encode_into(&InterimTranscriptHashInput { confirmation_tag }, &mut buf)?;
    Ok(provider.hash(&buf))
}
