//! Secret byte strings and private keys: zeroized on drop, never printed.

use core::fmt;
use std::sync::Arc;

use aws_lc_rs::signature::Ed25519KeyPair;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Owned secret bytes (a key-schedule secret, an AEAD key, a private key).
///
/// The bytes are zeroized when the value is dropped, `Debug` prints only the length, and
/// equality is constant-time in the contents (not in the length).
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wrap bytes (takes ownership; the caller's buffer is not copied).
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }

    /// Copy bytes into a new secret.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Secret(bytes.to_vec())
    }

    /// The secret bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for Secret {
    fn from(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }
}

impl From<&[u8]> for Secret {
    fn from(bytes: &[u8]) -> Self {
        Secret::from_slice(bytes)
    }
}

impl AsRef<[u8]> for Secret {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl Eq for Secret {}

/// Constant-time (in the contents) equality of two byte strings.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    // aws-lc's CRYPTO_memcmp; leaks only whether the lengths differ.
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// An HPKE (X25519) private key: the raw 32-byte scalar as serialized by `SerializePrivateKey`
/// (RFC 9180 §7.1.2). The matching public key is plain bytes (`Vec<u8>` / `&[u8]`).
#[derive(Clone, PartialEq, Eq)]
pub struct HpkePrivateKey(Secret);

impl HpkePrivateKey {
    /// Wrap serialized private-key bytes. The length is checked when the key is used.
    pub fn new(bytes: Vec<u8>) -> Self {
        HpkePrivateKey(Secret(bytes))
    }

    /// The serialized private key.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The serialized private key as a [`Secret`].
    pub fn as_secret(&self) -> &Secret {
        &self.0
    }
}

impl From<Vec<u8>> for HpkePrivateKey {
    fn from(bytes: Vec<u8>) -> Self {
        HpkePrivateKey::new(bytes)
    }
}

impl From<Secret> for HpkePrivateKey {
    fn from(secret: Secret) -> Self {
        HpkePrivateKey(secret)
    }
}

impl fmt::Debug for HpkePrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HpkePrivateKey({} bytes)", self.0.len())
    }
}

/// An Ed25519 signature private key.
///
/// Serialized as the 32-byte RFC 8032 seed (the form used by the MLS test vectors). The parsed
/// aws-lc key pair is cached beside it, so signing does not re-derive the key each time;
/// cloning is cheap (the key pair is shared).
#[derive(Clone)]
pub struct SignaturePrivateKey {
    seed: Secret,
    key_pair: Arc<Ed25519KeyPair>,
}

impl SignaturePrivateKey {
    /// Parse a 32-byte Ed25519 seed.
    pub fn from_seed(seed: &[u8]) -> Result<Self, super::CryptoError> {
        if seed.len() != super::awslc::ED25519_SEED_LEN {
            return Err(super::CryptoError::InvalidPrivateKey);
        }
        let key_pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|_| super::CryptoError::InvalidPrivateKey)?;
        Ok(SignaturePrivateKey {
            seed: Secret::from_slice(seed),
            key_pair: Arc::new(key_pair),
        })
    }

    /// The serialized private key (the 32-byte seed).
    pub fn as_bytes(&self) -> &[u8] {
        self.seed.as_bytes()
    }

    /// The matching public key (32 bytes).
    pub fn public_key(&self) -> Vec<u8> {
        use aws_lc_rs::signature::KeyPair;
        self.key_pair.public_key().as_ref().to_vec()
    }

    pub(crate) fn key_pair(&self) -> &Ed25519KeyPair {
        &self.key_pair
    }
}

impl PartialEq for SignaturePrivateKey {
    fn eq(&self, other: &Self) -> bool {
        self.seed == other.seed
    }
}

impl Eq for SignaturePrivateKey {}

impl fmt::Debug for SignaturePrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignaturePrivateKey(Ed25519, {} bytes)", self.seed.len())
    }
}
