//! The primitives of the RFC 9420 cipher suites beyond 1 and 3, and of the post-quantum
//! suites, each self-contained: one module per primitive, with exactly the operations and
//! encodings MLS uses (key generation, Diffie-Hellman or encapsulation, signing and
//! verification), plain byte slices in and out, and a typed [`PrimitiveError`].
//!
//! | module | primitive | MLS suites | back end |
//! |---|---|---|---|
//! | [`ecdh`] | ECDH on P-256, P-384, P-521 (DHKEM) | 2, 5, 7 | aws-lc-rs `agreement` |
//! | [`ecdsa`] | ECDSA P-256/SHA-256, P-384/SHA-384, P-521/SHA-512 | 2, 5, 7 | aws-lc-rs `signature` |
//! | [`x448`] | X448 (DHKEM) | 4, 6 | crrl |
//! | [`ed448`] | Ed448 | 4, 6 | crrl |
//! | [`mlkem`] | ML-KEM-768, ML-KEM-1024 | X-Wing and ML-KEM suites | libcrux-ml-kem (key generation from the seed) and aws-lc-rs `kem` |
//! | [`mldsa`] | ML-DSA-65, ML-DSA-87 | post-quantum signature suites (not wired) | aws-lc-rs `signature` |
//! | [`xwing`] | X-Wing (ML-KEM-768 + X25519, draft-06) | 0x004D (experimental) | the above, SHA-3 of aws-lc-rs and libcrux |
//!
//! HKDF and HMAC with SHA-384 and SHA-512 need no module of their own: [`super::awslc`]'s
//! `HashAlg` already covers them.
//!
//! Each module is proven on its own (Wycheproof through `crate::conformance::wycheproof`;
//! X-Wing on its draft's known answers) and reaches the provider through
//! `crate::crypto::dhkem` (the KEMs) and the signature key (the signature schemes).

pub mod ecdh;
pub mod ecdsa;
pub mod ed448;
pub mod mldsa;
pub mod mlkem;
pub mod x448;
pub mod xwing;

use super::CryptoError;

/// Why a primitive refused its input. Each variant names the algorithm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrimitiveError {
    /// A public key of the wrong length or encoding, or not a valid point of the curve (or
    /// of its prime-order subgroup).
    #[error("{0}: invalid public key")]
    InvalidPublicKey(&'static str),
    /// A private key (scalar or seed) of the wrong length or out of range.
    #[error("{0}: invalid private key")]
    InvalidPrivateKey(&'static str),
    /// A signature that does not verify, or is not in the encoding MLS uses.
    #[error("{0}: invalid signature")]
    InvalidSignature(&'static str),
    /// A KEM ciphertext of the wrong length.
    #[error("{0}: invalid ciphertext")]
    InvalidCiphertext(&'static str),
    /// The Diffie-Hellman output is all zero (a low-order public key), which RFC 9180 §7.1.4
    /// requires DHKEM to reject.
    #[error("{0}: Diffie-Hellman shared secret is all zero")]
    ZeroSharedSecret(&'static str),
    /// The back end failed for a reason it does not tell (e.g. its RNG).
    #[error("{0}: crypto back end failure")]
    Backend(&'static str),
}

impl From<PrimitiveError> for CryptoError {
    fn from(e: PrimitiveError) -> Self {
        match e {
            PrimitiveError::InvalidPublicKey(_) => CryptoError::InvalidPublicKey,
            PrimitiveError::InvalidPrivateKey(_) => CryptoError::InvalidPrivateKey,
            PrimitiveError::InvalidSignature(_) => CryptoError::InvalidSignature,
            PrimitiveError::ZeroSharedSecret(_) => CryptoError::ZeroSharedSecret,
            other => CryptoError::Backend(other.to_string()),
        }
    }
}

/// `n` random bytes from aws-lc's RNG, for the generators whose back end takes a seed.
fn random_bytes(n: usize, alg: &'static str) -> Result<Vec<u8>, PrimitiveError> {
    let mut out = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut out).map_err(|_| PrimitiveError::Backend(alg))?;
    Ok(out)
}

/// Whether every byte is zero, without a data-dependent branch per byte.
fn all_zero(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |acc, &b| acc | b) == 0
}

#[cfg(test)]
mod tests;
