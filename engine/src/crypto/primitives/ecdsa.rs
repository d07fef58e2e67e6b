//! ECDSA with P-256/SHA-256, P-384/SHA-384 and P-521/SHA-512, the signature schemes
//! `ecdsa_secp256r1_sha256`, `ecdsa_secp384r1_sha384` and `ecdsa_secp521r1_sha512` of MLS
//! suites 2, 7 and 5 (RFC 9420 §5.1.1).
//!
//! Encodings are those of RFC 9420 §5.1.1 and the MLS interoperability vectors: a signature
//! is the DER `Ecdsa-Sig-Value` (`SEQUENCE { r INTEGER, s INTEGER }`; aws-lc refuses BER and
//! any other deviation from DER), a public key the uncompressed SEC1 point, a private key the
//! big-endian scalar of the field's byte length.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};

use super::{ecdh, PrimitiveError};
use crate::crypto::Secret;

/// An MLS ECDSA signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `ecdsa_secp256r1_sha256` (suite 2).
    P256Sha256,
    /// `ecdsa_secp384r1_sha384` (suite 7).
    P384Sha384,
    /// `ecdsa_secp521r1_sha512` (suite 5).
    P521Sha512,
}

impl Scheme {
    /// The name errors carry.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::P256Sha256 => "ECDSA P-256/SHA-256",
            Scheme::P384Sha384 => "ECDSA P-384/SHA-384",
            Scheme::P521Sha512 => "ECDSA P-521/SHA-512",
        }
    }

    /// The curve of the keys.
    pub fn curve(self) -> ecdh::Curve {
        match self {
            Scheme::P256Sha256 => ecdh::Curve::P256,
            Scheme::P384Sha384 => ecdh::Curve::P384,
            Scheme::P521Sha512 => ecdh::Curve::P521,
        }
    }

    pub(crate) fn signing(self) -> &'static signature::EcdsaSigningAlgorithm {
        match self {
            Scheme::P256Sha256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            Scheme::P384Sha384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            Scheme::P521Sha512 => &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
        }
    }

    fn verification(self) -> &'static signature::EcdsaVerificationAlgorithm {
        match self {
            Scheme::P256Sha256 => &signature::ECDSA_P256_SHA256_ASN1,
            Scheme::P384Sha384 => &signature::ECDSA_P384_SHA384_ASN1,
            Scheme::P521Sha512 => &signature::ECDSA_P521_SHA512_ASN1,
        }
    }
}

/// A fresh key pair: `(private scalar, uncompressed public key)`. The keys are those of
/// ECDH on the same curve.
pub fn generate(scheme: Scheme) -> Result<(Secret, Vec<u8>), PrimitiveError> {
    ecdh::generate(scheme.curve()).map_err(|e| rename(e, scheme))
}

/// The uncompressed public key of a private scalar.
pub fn public_key(scheme: Scheme, sk: &[u8]) -> Result<Vec<u8>, PrimitiveError> {
    ecdh::public_key(scheme.curve(), sk).map_err(|e| rename(e, scheme))
}

/// Carry the signature scheme's name rather than the curve's in an error from [`ecdh`].
fn rename(e: PrimitiveError, scheme: Scheme) -> PrimitiveError {
    match e {
        PrimitiveError::InvalidPrivateKey(_) => PrimitiveError::InvalidPrivateKey(scheme.name()),
        PrimitiveError::InvalidPublicKey(_) => PrimitiveError::InvalidPublicKey(scheme.name()),
        _ => PrimitiveError::Backend(scheme.name()),
    }
}

/// Sign `msg` (hashed inside with the scheme's hash): the DER signature.
pub fn sign(scheme: Scheme, sk: &[u8], msg: &[u8]) -> Result<Vec<u8>, PrimitiveError> {
    let pk = public_key(scheme, sk)?;
    let pair = EcdsaKeyPair::from_private_key_and_public_key(scheme.signing(), sk, &pk)
        .map_err(|_| PrimitiveError::InvalidPrivateKey(scheme.name()))?;
    debug_assert_eq!(pair.public_key().as_ref(), pk.as_slice());
    let sig = pair
        .sign(&SystemRandom::new(), msg)
        .map_err(|_| PrimitiveError::Backend(scheme.name()))?;
    Ok(sig.as_ref().to_vec())
}

/// Verify a DER signature over `msg` with an uncompressed public key.
pub fn verify(scheme: Scheme, pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), PrimitiveError> {
    ecdh::check_public_key_encoding(scheme.curve(), pk)
        .map_err(|_| PrimitiveError::InvalidPublicKey(scheme.name()))?;
    signature::UnparsedPublicKey::new(scheme.verification(), pk)
        .verify(msg, sig)
        .map_err(|_| PrimitiveError::InvalidSignature(scheme.name()))
}
