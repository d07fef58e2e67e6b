//! ML-KEM-768 and ML-KEM-1024 (FIPS 203), the KEMs of the post-quantum MLS suites (alone, or
//! inside X-Wing).
//!
//! The private key MLS stores is the 64-byte seed `d || z` (FIPS 203 §6.1
//! `ML-KEM.KeyGen_internal`), as the HPKE ML-KEM and X-Wing drafts specify: it is what
//! `DeriveKeyPair` produces and what a Welcome's path secret turns into. aws-lc-rs 1.18
//! generates keys only from its own RNG and imports only the expanded decapsulation key, so
//! the seed is expanded by libcrux-ml-kem (formally verified for functional correctness and
//! secret independence); encapsulation and decapsulation run in aws-lc, the engine's back end.
//! Wycheproof checks both halves together: the encapsulation key derived from each seed, and
//! the shared secret aws-lc decapsulates with the expanded key.

use aws_lc_rs::kem;

use super::{random_bytes, PrimitiveError};
use crate::crypto::{counters, Secret};

/// An ML-KEM parameter set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterSet {
    /// ML-KEM-768.
    MlKem768,
    /// ML-KEM-1024.
    MlKem1024,
}

/// Bytes of the seed `d || z`.
pub const SEED_LEN: usize = 64;
/// Bytes of the shared secret.
pub const SHARED_SECRET_LEN: usize = 32;

impl ParameterSet {
    /// The name errors carry.
    pub fn name(self) -> &'static str {
        match self {
            ParameterSet::MlKem768 => "ML-KEM-768",
            ParameterSet::MlKem1024 => "ML-KEM-1024",
        }
    }

    /// Bytes of an encapsulation (public) key.
    pub fn encapsulation_key_len(self) -> usize {
        match self {
            ParameterSet::MlKem768 => 1184,
            ParameterSet::MlKem1024 => 1568,
        }
    }

    /// Bytes of a ciphertext.
    pub fn ciphertext_len(self) -> usize {
        match self {
            ParameterSet::MlKem768 => 1088,
            ParameterSet::MlKem1024 => 1568,
        }
    }

    fn algorithm(self) -> &'static kem::Algorithm<kem::AlgorithmId> {
        match self {
            ParameterSet::MlKem768 => &kem::ML_KEM_768,
            ParameterSet::MlKem1024 => &kem::ML_KEM_1024,
        }
    }
}

/// A decapsulation key, expanded once from its seed.
pub struct PrivateKey {
    set: ParameterSet,
    key: kem::DecapsulationKey<kem::AlgorithmId>,
    public: Vec<u8>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("set", &self.set)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Expand a 64-byte seed (`ML-KEM.KeyGen_internal(d, z)`), counted as one key
    /// generation.
    pub fn from_seed(set: ParameterSet, seed: &[u8]) -> Result<Self, PrimitiveError> {
        let seed: [u8; SEED_LEN] = seed
            .try_into()
            .map_err(|_| PrimitiveError::InvalidPrivateKey(set.name()))?;
        counters::mlkem_keygen(set);
        let (expanded, public) = match set {
            ParameterSet::MlKem768 => {
                let pair = libcrux_ml_kem::mlkem768::generate_key_pair(seed);
                (Secret::from_slice(pair.sk()), pair.pk().to_vec())
            }
            ParameterSet::MlKem1024 => {
                let pair = libcrux_ml_kem::mlkem1024::generate_key_pair(seed);
                (Secret::from_slice(pair.sk()), pair.pk().to_vec())
            }
        };
        let key = kem::DecapsulationKey::new(set.algorithm(), expanded.as_bytes())
            .map_err(|_| PrimitiveError::InvalidPrivateKey(set.name()))?;
        Ok(PrivateKey { set, key, public })
    }

    /// The encapsulation key.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// Decapsulate a ciphertext. A ciphertext of the right length always yields a secret
    /// (FIPS 203 implicit rejection: a forged one yields a pseudorandom secret); one of any
    /// other length is refused.
    pub fn decapsulate(&self, ct: &[u8]) -> Result<Secret, PrimitiveError> {
        if ct.len() != self.set.ciphertext_len() {
            return Err(PrimitiveError::InvalidCiphertext(self.set.name()));
        }
        counters::mlkem_decaps(self.set);
        let shared = self
            .key
            .decapsulate(kem::Ciphertext::from(ct))
            .map_err(|_| PrimitiveError::InvalidCiphertext(self.set.name()))?;
        Ok(Secret::from_slice(shared.as_ref()))
    }
}

/// A fresh key pair: `(seed, encapsulation key)`.
pub fn generate(set: ParameterSet) -> Result<(Secret, Vec<u8>), PrimitiveError> {
    let seed = Secret::new(random_bytes(SEED_LEN, set.name())?);
    let pk = PrivateKey::from_seed(set, seed.as_bytes())?.public;
    Ok((seed, pk))
}

/// Encapsulate to an encapsulation key: `(ciphertext, shared secret)`, counted. aws-lc refuses a key
/// of the wrong length or whose coefficients are not reduced (the FIPS 203 §7.2 modulus
/// check, which it makes when it encapsulates, not when it parses): both are
/// [`PrimitiveError::InvalidPublicKey`].
pub fn encapsulate(set: ParameterSet, ek: &[u8]) -> Result<(Vec<u8>, Secret), PrimitiveError> {
    if ek.len() != set.encapsulation_key_len() {
        return Err(PrimitiveError::InvalidPublicKey(set.name()));
    }
    let key = kem::EncapsulationKey::new(set.algorithm(), ek)
        .map_err(|_| PrimitiveError::InvalidPublicKey(set.name()))?;
    counters::mlkem_encaps(set);
    // The length is right, so the modulus check is what aws-lc refused.
    let (ct, shared) = key
        .encapsulate()
        .map_err(|_| PrimitiveError::InvalidPublicKey(set.name()))?;
    Ok((ct.as_ref().to_vec(), Secret::from_slice(shared.as_ref())))
}

/// Check an encapsulation key that arrives from the wire: its length, and FIPS 203 §7.2's
/// modulus check (every coefficient below q), which encapsulation must pass. A key that fails
/// it would make every commit that seals to it fail, so it is refused at the door.
pub fn check_encapsulation_key(set: ParameterSet, ek: &[u8]) -> Result<(), PrimitiveError> {
    if ek.len() != set.encapsulation_key_len() {
        return Err(PrimitiveError::InvalidPublicKey(set.name()));
    }
    let valid = match set {
        ParameterSet::MlKem768 => libcrux_ml_kem::mlkem768::MlKem768PublicKey::try_from(ek)
            .is_ok_and(|key| libcrux_ml_kem::mlkem768::validate_public_key(&key)),
        ParameterSet::MlKem1024 => libcrux_ml_kem::mlkem1024::MlKem1024PublicKey::try_from(ek)
            .is_ok_and(|key| libcrux_ml_kem::mlkem1024::validate_public_key(&key)),
    };
    if valid {
        Ok(())
    } else {
        Err(PrimitiveError::InvalidPublicKey(set.name()))
    }
}

/// `ML-KEM.Encaps_internal(ek, m)` (FIPS 203 §6.2): encapsulation with caller-chosen
/// randomness `m`, for reproducible runs (seeded ephemerals in tests and benchmarks); libcrux,
/// since aws-lc-rs encapsulates only with its own RNG. The key passes
/// [`check_encapsulation_key`] first, as FIPS 203 §7.2 requires.
pub fn encapsulate_derand(
    set: ParameterSet,
    ek: &[u8],
    m: &[u8; 32],
) -> Result<(Vec<u8>, Secret), PrimitiveError> {
    check_encapsulation_key(set, ek)?;
    counters::mlkem_encaps(set);
    let bad = || PrimitiveError::InvalidPublicKey(set.name());
    Ok(match set {
        ParameterSet::MlKem768 => {
            let key = libcrux_ml_kem::mlkem768::MlKem768PublicKey::try_from(ek).map_err(|_| bad())?;
            let (ct, ss) = libcrux_ml_kem::mlkem768::encapsulate(&key, *m);
            (ct.as_ref().to_vec(), Secret::from_slice(ss.as_ref()))
        }
        ParameterSet::MlKem1024 => {
            let key =
                libcrux_ml_kem::mlkem1024::MlKem1024PublicKey::try_from(ek).map_err(|_| bad())?;
            let (ct, ss) = libcrux_ml_kem::mlkem1024::encapsulate(&key, *m);
            (ct.as_ref().to_vec(), Secret::from_slice(ss.as_ref()))
        }
    })
}

/// Decapsulate with a seed: [`PrivateKey::from_seed`] then [`PrivateKey::decapsulate`].
pub fn decapsulate(set: ParameterSet, seed: &[u8], ct: &[u8]) -> Result<Secret, PrimitiveError> {
    PrivateKey::from_seed(set, seed)?.decapsulate(ct)
}
