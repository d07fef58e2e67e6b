//! Secret byte strings and private keys: zeroized on drop, never printed.

use core::fmt;
use std::sync::Arc;

use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair};

use super::SignatureScheme;
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

    pub(crate) fn as_mut_bytes(&mut self) -> &mut [u8] {
        &mut self.0
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

/// A signature private key of one of the suites' schemes ([`SignatureScheme`]).
///
/// Serialized as MLS test vectors and peers encode it: the RFC 8032 seed for Ed25519 (32
/// bytes) and Ed448 (57), the big-endian scalar for ECDSA (32, 48 or 66 bytes). The parsed
/// aws-lc key pair is cached beside it, so signing does not re-derive the key each time;
/// cloning is cheap (the key pair is shared). aws-lc clears its copy of the key when the last
/// clone is dropped. An Ed448 key is parsed by `crrl` for each signature, whose parsed key is
/// not zeroized (the seed here is).
#[derive(Clone)]
pub struct SignaturePrivateKey {
    scheme: SignatureScheme,
    private: Secret,
    public: Vec<u8>,
    signer: Signer,
}

#[derive(Clone)]
enum Signer {
    Ed25519(Arc<Ed25519KeyPair>),
    Ecdsa(Arc<EcdsaKeyPair>),
    Ed448,
}

impl SignaturePrivateKey {
    /// Parse a 32-byte Ed25519 seed.
    pub fn from_seed(seed: &[u8]) -> Result<Self, super::CryptoError> {
        Self::from_bytes(SignatureScheme::Ed25519, seed)
    }

    /// Parse a private key of `scheme` in its MLS encoding (see the type's documentation);
    /// [`CryptoError::InvalidPrivateKey`](super::CryptoError::InvalidPrivateKey) for one of the
    /// wrong length or, for ECDSA, a scalar that is zero or not below the group order.
    pub fn from_bytes(scheme: SignatureScheme, bytes: &[u8]) -> Result<Self, super::CryptoError> {
        use super::primitives::{ecdsa, ed448};
        use aws_lc_rs::signature::KeyPair;
        let invalid = || super::CryptoError::InvalidPrivateKey;
        // ECDSA scalars are big-endian and may come with leading zero bytes stripped (the
        // published MLS vectors carry 65-byte P-521 keys): left-pad them to full length.
        let ecdsa = !matches!(scheme, SignatureScheme::Ed25519 | SignatureScheme::Ed448);
        let full_len = scheme.private_key_len();
        if bytes.len() != full_len && !(ecdsa && (1..full_len).contains(&bytes.len())) {
            return Err(invalid());
        }
        let mut padded = Secret::new(vec![0u8; full_len]);
        padded.as_mut_bytes()[full_len - bytes.len()..].copy_from_slice(bytes);
        let bytes = padded.as_bytes();
        let (public, signer) = match scheme {
            SignatureScheme::Ed25519 => {
                let pair = Ed25519KeyPair::from_seed_unchecked(bytes).map_err(|_| invalid())?;
                (pair.public_key().as_ref().to_vec(), Signer::Ed25519(Arc::new(pair)))
            }
            SignatureScheme::EcdsaP256Sha256
            | SignatureScheme::EcdsaP384Sha384
            | SignatureScheme::EcdsaP521Sha512 => {
                let ecdsa_scheme = ecdsa_scheme(scheme);
                let public = ecdsa::public_key(ecdsa_scheme, bytes).map_err(|_| invalid())?;
                let pair = EcdsaKeyPair::from_private_key_and_public_key(
                    ecdsa_scheme.signing(),
                    bytes,
                    &public,
                )
                .map_err(|_| invalid())?;
                (public, Signer::Ecdsa(Arc::new(pair)))
            }
            SignatureScheme::Ed448 => (ed448::public_key(bytes).map_err(|_| invalid())?, Signer::Ed448),
        };
        Ok(SignaturePrivateKey {
            scheme,
            private: padded,
            public,
            signer,
        })
    }

    /// The scheme of this key.
    pub fn scheme(&self) -> SignatureScheme {
        self.scheme
    }

    /// The serialized private key (seed or scalar).
    pub fn as_bytes(&self) -> &[u8] {
        self.private.as_bytes()
    }

    /// The matching public key (Ed25519: 32 bytes; ECDSA: the uncompressed SEC1 point;
    /// Ed448: 57 bytes).
    pub fn public_key(&self) -> Vec<u8> {
        self.public.clone()
    }

    /// Sign `msg` (the scheme hashes it): not counted here; the provider counts.
    pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, super::CryptoError> {
        match &self.signer {
            Signer::Ed25519(pair) => Ok(pair.sign(msg).as_ref().to_vec()),
            Signer::Ecdsa(pair) => pair
                .sign(&aws_lc_rs::rand::SystemRandom::new(), msg)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| super::CryptoError::Backend("ECDSA signing failed".into())),
            Signer::Ed448 => Ok(super::primitives::ed448::sign(self.private.as_bytes(), msg)?),
        }
    }
}

/// The ECDSA scheme of the primitives module for a suite's ECDSA signature scheme.
pub(crate) fn ecdsa_scheme(scheme: SignatureScheme) -> super::primitives::ecdsa::Scheme {
    use super::primitives::ecdsa::Scheme;
    match scheme {
        SignatureScheme::EcdsaP384Sha384 => Scheme::P384Sha384,
        SignatureScheme::EcdsaP521Sha512 => Scheme::P521Sha512,
        _ => Scheme::P256Sha256,
    }
}

impl PartialEq for SignaturePrivateKey {
    fn eq(&self, other: &Self) -> bool {
        self.scheme == other.scheme && self.private == other.private
    }
}

impl Eq for SignaturePrivateKey {}

impl fmt::Debug for SignaturePrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SignaturePrivateKey({}, {} bytes)",
            self.scheme.name(),
            self.private.len()
        )
    }
}
