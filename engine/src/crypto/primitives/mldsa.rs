//! ML-DSA-65 and ML-DSA-87 (FIPS 204), pure mode with the empty context string, the
//! signature schemes of the post-quantum MLS suites, through aws-lc-rs.
//!
//! Encodings are FIPS 204's: a private key is the 32-byte seed `ξ` (`ML-DSA.KeyGen_internal`),
//! a public key and a signature the raw byte strings of the parameter set's lengths.
//! aws-lc-rs signs and verifies only with the empty context, which is what MLS uses (its
//! labels are inside the signed content, RFC 9420 §5.1.2).

use aws_lc_rs::signature::{self, KeyPair, PqdsaKeyPair};

use super::{random_bytes, PrimitiveError};
use crate::crypto::Secret;

/// An ML-DSA parameter set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterSet {
    /// ML-DSA-65.
    MlDsa65,
    /// ML-DSA-87.
    MlDsa87,
}

/// Bytes of the seed `ξ`.
pub const SEED_LEN: usize = 32;

impl ParameterSet {
    /// The name errors carry.
    pub fn name(self) -> &'static str {
        match self {
            ParameterSet::MlDsa65 => "ML-DSA-65",
            ParameterSet::MlDsa87 => "ML-DSA-87",
        }
    }

    /// Bytes of a public key.
    pub fn public_key_len(self) -> usize {
        match self {
            ParameterSet::MlDsa65 => 1952,
            ParameterSet::MlDsa87 => 2592,
        }
    }

    /// Bytes of a signature.
    pub fn signature_len(self) -> usize {
        match self {
            ParameterSet::MlDsa65 => 3309,
            ParameterSet::MlDsa87 => 4627,
        }
    }

    fn signing(self) -> &'static signature::PqdsaSigningAlgorithm {
        match self {
            ParameterSet::MlDsa65 => &signature::ML_DSA_65_SIGNING,
            ParameterSet::MlDsa87 => &signature::ML_DSA_87_SIGNING,
        }
    }

    fn verification(self) -> &'static signature::PqdsaVerificationAlgorithm {
        match self {
            ParameterSet::MlDsa65 => &signature::ML_DSA_65,
            ParameterSet::MlDsa87 => &signature::ML_DSA_87,
        }
    }
}

fn key_pair(set: ParameterSet, seed: &[u8]) -> Result<PqdsaKeyPair, PrimitiveError> {
    if seed.len() != SEED_LEN {
        return Err(PrimitiveError::InvalidPrivateKey(set.name()));
    }
    PqdsaKeyPair::from_seed(set.signing(), seed)
        .map_err(|_| PrimitiveError::InvalidPrivateKey(set.name()))
}

/// A fresh key pair: `(seed, public key)`.
pub fn generate(set: ParameterSet) -> Result<(Secret, Vec<u8>), PrimitiveError> {
    let seed = Secret::new(random_bytes(SEED_LEN, set.name())?);
    let pk = public_key(set, seed.as_bytes())?;
    Ok((seed, pk))
}

/// The public key of a seed.
pub fn public_key(set: ParameterSet, seed: &[u8]) -> Result<Vec<u8>, PrimitiveError> {
    Ok(key_pair(set, seed)?.public_key().as_ref().to_vec())
}

/// Sign `msg` (hedged: aws-lc mixes fresh randomness into the signing nonce).
pub fn sign(set: ParameterSet, seed: &[u8], msg: &[u8]) -> Result<Vec<u8>, PrimitiveError> {
    let pair = key_pair(set, seed)?;
    let mut sig = vec![0u8; set.signature_len()];
    let n = pair
        .sign(msg, &mut sig)
        .map_err(|_| PrimitiveError::Backend(set.name()))?;
    sig.truncate(n);
    Ok(sig)
}

/// Verify `sig` over `msg` (empty context).
pub fn verify(set: ParameterSet, pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), PrimitiveError> {
    if pk.len() != set.public_key_len() {
        return Err(PrimitiveError::InvalidPublicKey(set.name()));
    }
    if sig.len() != set.signature_len() {
        return Err(PrimitiveError::InvalidSignature(set.name()));
    }
    signature::UnparsedPublicKey::new(set.verification(), pk)
        .verify(msg, sig)
        .map_err(|_| PrimitiveError::InvalidSignature(set.name()))
}
