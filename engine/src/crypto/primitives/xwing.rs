//! X-Wing, the hybrid KEM of ML-KEM-768 and X25519 (draft-connolly-cfrg-xwing-kem-06), as the
//! HPKE KEM 0x647A of the experimental MLS suite 0x004D.
//!
//! Built from parts the engine already trusts: X25519 on aws-lc (the wrappers of
//! [`crate::crypto::awslc`], counted as X25519), ML-KEM-768 decapsulation on aws-lc-rs
//! ([`super::mlkem`]), SHA3-256 on aws-lc-rs. What aws-lc-rs 1.18 does not offer comes from
//! libcrux: key generation from the 64-byte seed (`ML-KEM.KeyGen_internal(d, z)`, as
//! [`super::mlkem`] already does), encapsulation with caller-given randomness
//! (`ML-KEM.Encaps_internal(pk, m)`), which seeded, reproducible runs need, with the
//! encapsulation key check it takes (FIPS 203 §7.2) on the parsed key, and SHAKE256 (seed
//! expansion). Fresh encapsulations draw `m` from aws-lc's RNG and take the same path, so
//! there is one encapsulation code path.
//!
//! Tested on the draft's three known-answer tests (`engine/test_vectors/xwing/`): key
//! generation, derandomised encapsulation and decapsulation.

use aws_lc_rs::digest;
use zeroize::Zeroizing;

use super::mlkem::{self, ParameterSet};
use crate::crypto::{awslc, counters, CryptoError, Secret};

/// Bytes of a decapsulation key (the seed).
pub const SEED_LEN: usize = 32;
/// Bytes of an encapsulation key: ML-KEM-768's 1184 then X25519's 32.
pub const PUBLIC_KEY_LEN: usize = 1216;
/// Bytes of a ciphertext: ML-KEM-768's 1088 then X25519's 32.
pub const CIPHERTEXT_LEN: usize = 1120;
/// Bytes of the randomness of one encapsulation (`eseed`).
pub const ENCAPS_SEED_LEN: usize = 64;

const MLKEM_PK_LEN: usize = 1184;
const MLKEM_CT_LEN: usize = 1088;
/// `XWingLabel`, `\./` `/^\` (draft §5.3).
const LABEL: &[u8; 6] = b"\\./\x2f^\\";

/// A decapsulation key expanded from its seed (`expandDecapsulationKey`, draft §5.2): kept
/// so that opening several ciphertexts with one key expands it once.
pub struct Expanded {
    mlkem: mlkem::PrivateKey,
    sk_x: Zeroizing<[u8; 32]>,
    public: Vec<u8>,
}

impl core::fmt::Debug for Expanded {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("xwing::Expanded")
    }
}

impl Expanded {
    /// Expand a 32-byte seed: `SHAKE256(seed, 96)` gives ML-KEM-768's `(d, z)` and the X25519
    /// private key. Counted as one ML-KEM key generation and one X25519 fixed-base
    /// multiplication.
    pub fn from_seed(seed: &[u8]) -> Result<Self, CryptoError> {
        if seed.len() != SEED_LEN {
            return Err(CryptoError::InvalidPrivateKey);
        }
        let expanded = Zeroizing::new(libcrux_sha3::shake256::<96>(seed));
        // `from_seed` counts the ML-KEM key generation.
        let mlkem = mlkem::PrivateKey::from_seed(ParameterSet::MlKem768, &expanded[..64])?;
        let mut sk_x = Zeroizing::new([0u8; 32]);
        sk_x.copy_from_slice(&expanded[64..]);
        let pk_x = awslc::x25519_public(&*sk_x)?;
        let public = [mlkem.public_key(), pk_x.as_slice()].concat();
        Ok(Expanded {
            mlkem,
            sk_x,
            public,
        })
    }

    /// The encapsulation key.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// `Decapsulate(ct, sk)` (draft §5.5). A ciphertext of the right length always yields a
    /// secret (ML-KEM's implicit rejection makes a forged one pseudorandom).
    pub fn decapsulate(&self, ct: &[u8]) -> Result<Secret, CryptoError> {
        if ct.len() != CIPHERTEXT_LEN {
            return Err(CryptoError::InvalidPublicKey);
        }
        let (ct_m, ct_x) = ct.split_at(MLKEM_CT_LEN);
        // `decapsulate` counts the ML-KEM decapsulation.
        let ss_m = self.mlkem.decapsulate(ct_m)?;
        let ss_x = x25519_allowing_zero(&*self.sk_x, ct_x)?;
        Ok(combiner(
            ss_m.as_bytes(),
            ss_x.as_bytes(),
            ct_x,
            &self.public[MLKEM_PK_LEN..],
        ))
    }
}

/// `X25519(k, u)` as X-Wing uses it: unlike DHKEM it does not reject the all-zero output of a
/// small-order `u` (the combined secret then rests on ML-KEM alone, as the draft intends).
/// aws-lc refuses exactly that output and nothing else once both inputs are 32 bytes, so its
/// refusal is the all-zero value.
fn x25519_allowing_zero(sk: &[u8], pk: &[u8]) -> Result<Secret, CryptoError> {
    match awslc::x25519(sk, pk) {
        Err(CryptoError::ZeroSharedSecret) => Ok(Secret::new(vec![0; 32])),
        other => other,
    }
}

/// `Combiner(ss_M, ss_X, ct_X, pk_X) = SHA3-256(ss_M || ss_X || ct_X || pk_X || XWingLabel)`.
fn combiner(ss_m: &[u8], ss_x: &[u8], ct_x: &[u8], pk_x: &[u8]) -> Secret {
    let mut ctx = digest::Context::new(&digest::SHA3_256);
    for part in [ss_m, ss_x, ct_x, pk_x, LABEL.as_slice()] {
        ctx.update(part);
    }
    Secret::from_slice(ctx.finish().as_ref())
}

/// ML-KEM-768's half of an encapsulation key, parsed and put through FIPS 203 §7.2's modulus
/// check (every coefficient below q), which encapsulation must pass.
fn mlkem_key(pk_m: &[u8]) -> Result<libcrux_ml_kem::mlkem768::MlKem768PublicKey, CryptoError> {
    let key = libcrux_ml_kem::mlkem768::MlKem768PublicKey::try_from(pk_m)
        .map_err(|_| CryptoError::InvalidPublicKey)?;
    if !libcrux_ml_kem::mlkem768::validate_public_key(&key) {
        return Err(CryptoError::InvalidPublicKey);
    }
    Ok(key)
}

/// Check an encapsulation key from the wire: its length, ML-KEM-768's modulus check (FIPS 203
/// §7.2, which encapsulation must pass), and an X25519 part that is not of small order (which
/// would leave the combined secret resting on ML-KEM alone; no honest key has one).
pub fn check_public_key(pk: &[u8]) -> Result<(), CryptoError> {
    if pk.len() != PUBLIC_KEY_LEN {
        return Err(CryptoError::InvalidPublicKey);
    }
    let (pk_m, pk_x) = pk.split_at(MLKEM_PK_LEN);
    mlkem_key(pk_m)?;
    if awslc::x25519_is_small_order(pk_x) {
        return Err(CryptoError::SmallOrderPublicKey);
    }
    Ok(())
}

/// `EncapsulateDerand(pk, eseed)` (draft §5.4.1): (ciphertext, shared secret). Counted as one
/// ML-KEM encapsulation and, through the aws-lc wrapper, one X25519 fixed-base multiplication
/// and one DH. An encapsulation key failing ML-KEM's check is
/// [`CryptoError::InvalidPublicKey`] (the draft's EncapError).
pub fn encapsulate_derand(pk: &[u8], eseed: &[u8]) -> Result<(Vec<u8>, Secret), CryptoError> {
    if eseed.len() != ENCAPS_SEED_LEN {
        return Err(CryptoError::InvalidLength("X-Wing eseed must be 64 bytes"));
    }
    if pk.len() != PUBLIC_KEY_LEN {
        return Err(CryptoError::InvalidPublicKey);
    }
    let (pk_m, pk_x) = pk.split_at(MLKEM_PK_LEN);
    let key = mlkem_key(pk_m)?;
    let (ct_x, ss_x) = match awslc::x25519_key_pair_and_dh(&eseed[32..], pk_x) {
        Err(CryptoError::ZeroSharedSecret) => {
            (awslc::x25519_public(&eseed[32..])?, Secret::new(vec![0; 32]))
        }
        other => other?,
    };
    let mut m = Zeroizing::new([0u8; 32]);
    m.copy_from_slice(&eseed[..32]);
    counters::mlkem_encaps(ParameterSet::MlKem768);
    let (ct_m, ss_m) = libcrux_ml_kem::mlkem768::encapsulate(&key, *m);
    let ss_m = Secret::from_slice(ss_m.as_ref());
    let ss = combiner(ss_m.as_bytes(), ss_x.as_bytes(), &ct_x, pk_x);
    Ok(([ct_m.as_ref(), ct_x.as_slice()].concat(), ss))
}

/// `Encapsulate(pk)` (draft §5.4): [`encapsulate_derand`] with 64 fresh random bytes.
pub fn encapsulate(pk: &[u8]) -> Result<(Vec<u8>, Secret), CryptoError> {
    let mut eseed = Zeroizing::new([0u8; ENCAPS_SEED_LEN]);
    awslc::fill_random(&mut *eseed)?;
    encapsulate_derand(pk, &*eseed)
}

/// The `eseed` of a seeded encapsulation: `SHAKE256(ikm_e, 64)`. Canopy's own rule for
/// reproducible runs, where every other KEM takes an `Nsk`-byte `ikm_e`; only the sender
/// uses it, so it does not affect interoperability.
pub fn eseed_from(ikm_e: &[u8]) -> Zeroizing<[u8; ENCAPS_SEED_LEN]> {
    Zeroizing::new(libcrux_sha3::shake256::<ENCAPS_SEED_LEN>(ikm_e))
}

/// HPKE `DeriveKeyPair(ikm)`, private half (draft §5.6): `SHAKE256(ikm, 32)`.
pub fn derive_seed(ikm: &[u8]) -> Secret {
    Secret::from_slice(&libcrux_sha3::shake256::<SEED_LEN>(ikm))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(v: &serde_json::Value, k: &str) -> Vec<u8> {
        ::hex::decode(v[k].as_str().unwrap()).unwrap()
    }

    /// The draft's three known-answer tests: the public key of the seed, the ciphertext and
    /// secret of the derandomised encapsulation, and the decapsulated secret.
    #[test]
    fn draft_06_known_answers() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/test_vectors/xwing/draft-connolly-cfrg-xwing-kem-06.json"
        );
        let vectors: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut checked = 0;
        for v in vectors.as_array().unwrap() {
            assert_eq!(hex(v, "seed"), hex(v, "sk"));
            let key = Expanded::from_seed(&hex(v, "sk")).unwrap();
            assert_eq!(key.public_key(), hex(v, "pk").as_slice());
            check_public_key(key.public_key()).unwrap();
            let (ct, ss) = encapsulate_derand(&hex(v, "pk"), &hex(v, "eseed")).unwrap();
            assert_eq!(ct, hex(v, "ct"));
            assert_eq!(ss.as_bytes(), hex(v, "ss").as_slice());
            assert_eq!(key.decapsulate(&ct).unwrap().as_bytes(), hex(v, "ss").as_slice());
            checked += 1;
        }
        assert_eq!(checked, 3);
    }

    /// A fresh encapsulation opens; a modified ciphertext gives another secret (implicit
    /// rejection), not an error; bad lengths and an unreduced key are typed errors.
    #[test]
    fn round_trip_and_rejections() {
        let key = Expanded::from_seed(&[3; 32]).unwrap();
        let (ct, ss) = encapsulate(key.public_key()).unwrap();
        assert_eq!(key.decapsulate(&ct).unwrap(), ss);
        let mut forged = ct.clone();
        forged[10] ^= 1;
        assert_ne!(key.decapsulate(&forged).unwrap(), ss);
        assert_eq!(key.decapsulate(&ct[1..]), Err(CryptoError::InvalidPublicKey));
        assert_eq!(
            encapsulate(&key.public_key()[1..]).err(),
            Some(CryptoError::InvalidPublicKey)
        );
        // A coefficient of 4095 (≥ q = 3329) in the first ML-KEM polynomial.
        let mut unreduced = key.public_key().to_vec();
        unreduced[0] = 0xff;
        unreduced[1] |= 0x0f;
        assert_eq!(check_public_key(&unreduced), Err(CryptoError::InvalidPublicKey));
        assert_eq!(encapsulate(&unreduced).err(), Some(CryptoError::InvalidPublicKey));
        // The X25519 part at a small-order point.
        let mut small = key.public_key().to_vec();
        small[MLKEM_PK_LEN..].fill(0);
        assert_eq!(check_public_key(&small), Err(CryptoError::SmallOrderPublicKey));
        assert_eq!(Expanded::from_seed(&[1; 31]).err(), Some(CryptoError::InvalidPrivateKey));
    }
}
