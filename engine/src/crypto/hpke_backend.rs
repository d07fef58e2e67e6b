//! hpke-rs back end over aws-lc-rs, and the PRNG that makes HPKE encapsulation reproducible.
//!
//! [`HpkeAwsLc`] implements [`HpkeCrypto`] for DHKEM(X25519, HKDF-SHA256) (RFC 9180 §7.1),
//! HKDF-SHA256/384/512 (§7.2) and AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305 and the
//! export-only AEAD (§7.3). Every other algorithm returns an error.
//!
//! hpke-rs draws the ephemeral key of a DH-based KEM as `DeriveKeyPair(r)` for `Nsk` random
//! bytes `r` taken from the back end's PRNG (RFC 9180 §4.1, `Encap`). [`HpkeRng`] is that
//! PRNG: either aws-lc's RNG, or a one-shot source that hands out a caller-chosen `ikmE`
//! exactly once. With the latter the ephemeral key is `DeriveKeyPair(ikmE)`, which is what the
//! RFC 9180 test vectors and Canopy's seeded (serial-versus-parallel) tests need, without
//! re-implementing any part of HPKE outside hpke-rs.

use core::fmt;
use core::marker::PhantomData;

use hpke_rs::HpkeError;
use hpke_rs_crypto::error::Error;
use hpke_rs_crypto::types::{
    AeadAlgorithm, KdfAlgorithm, KemAlgorithm, SingleStageKdfAlgorithm, TwoStageKdfAlgorithm,
};
use hpke_rs_crypto::{HpkeCrypto, HpkeDefaultPrng, TryCryptoRng, TryRng};
use zeroize::Zeroizing;

use super::awslc::{self, AeadAlg, HashAlg};
use super::{CryptoError, HpkePrivateKey};

/// Messages the back end reports through `Error::CryptoLibraryError`, which hpke-rs passes on
/// verbatim as `HpkeError::CryptoError`; [`map_hpke_error`] turns them back into typed errors.
const MSG_ZERO_SHARED_SECRET: &str = "canopy: X25519 shared secret is all zero";
const MSG_INVALID_PUBLIC_KEY: &str = "canopy: invalid X25519 public key";
const MSG_INVALID_PRIVATE_KEY: &str = "canopy: invalid X25519 private key";

/// `Nsk` for DHKEM(X25519) (RFC 9180 §7.1): the length of a private key and of the
/// randomness an encapsulation draws.
pub const X25519_NSK: usize = 32;

/// hpke-rs crypto back end over aws-lc-rs.
#[derive(Debug, Clone, Copy, Default)]
pub struct HpkeAwsLc;

fn hash_alg(alg: TwoStageKdfAlgorithm) -> HashAlg {
    match alg {
        TwoStageKdfAlgorithm::HkdfSha256 => HashAlg::Sha256,
        TwoStageKdfAlgorithm::HkdfSha384 => HashAlg::Sha384,
        TwoStageKdfAlgorithm::HkdfSha512 => HashAlg::Sha512,
    }
}

fn aead_alg(alg: AeadAlgorithm) -> Result<AeadAlg, Error> {
    match alg {
        AeadAlgorithm::Aes128Gcm => Ok(AeadAlg::Aes128Gcm),
        AeadAlgorithm::Aes256Gcm => Ok(AeadAlg::Aes256Gcm),
        AeadAlgorithm::ChaCha20Poly1305 => Ok(AeadAlg::ChaCha20Poly1305),
        AeadAlgorithm::HpkeExport => Err(Error::UnknownAeadAlgorithm),
    }
}

fn x25519_only(alg: KemAlgorithm) -> Result<(), Error> {
    match alg {
        KemAlgorithm::DhKem25519 => Ok(()),
        _ => Err(Error::UnknownKemAlgorithm),
    }
}

fn dh_error(e: CryptoError) -> Error {
    let msg = match e {
        CryptoError::ZeroSharedSecret => MSG_ZERO_SHARED_SECRET,
        CryptoError::InvalidPublicKey => MSG_INVALID_PUBLIC_KEY,
        _ => MSG_INVALID_PRIVATE_KEY,
    };
    Error::CryptoLibraryError(msg.into())
}

impl HpkeCrypto for HpkeAwsLc {
    type HpkePrng = HpkeRng;

    fn name() -> String {
        "aws-lc-rs".into()
    }

    fn supports_kdf(alg: KdfAlgorithm) -> Result<(), Error> {
        TwoStageKdfAlgorithm::try_from(alg).map(|_| ())
    }

    fn supports_kem(alg: KemAlgorithm) -> Result<(), Error> {
        x25519_only(alg)
    }

    fn supports_aead(alg: AeadAlgorithm) -> Result<(), Error> {
        match alg {
            AeadAlgorithm::HpkeExport => Ok(()),
            other => aead_alg(other).map(|_| ()),
        }
    }

    fn kdf_extract(alg: TwoStageKdfAlgorithm, salt: &[u8], ikm: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(awslc::hkdf_extract(hash_alg(alg), salt, ikm)
            .as_bytes()
            .to_vec())
    }

    fn kdf_expand(
        alg: TwoStageKdfAlgorithm,
        prk: &[u8],
        info: &[u8],
        output_size: usize,
    ) -> Result<Vec<u8>, Error> {
        awslc::hkdf_expand(hash_alg(alg), prk, info, output_size)
            .map(|okm| okm.as_bytes().to_vec())
            .map_err(|_| Error::HpkeInvalidOutputLength)
    }

    fn kdf_derive(_alg: SingleStageKdfAlgorithm, _ikm: &[u8], _l: usize) -> Result<Vec<u8>, Error> {
        Err(Error::UnknownKdfAlgorithm)
    }

    fn dh(alg: KemAlgorithm, pk: &[u8], sk: &[u8]) -> Result<Vec<u8>, Error> {
        x25519_only(alg)?;
        awslc::x25519(sk, pk)
            .map(|s| s.as_bytes().to_vec())
            .map_err(dh_error)
    }

    fn secret_to_public(alg: KemAlgorithm, sk: &[u8]) -> Result<Vec<u8>, Error> {
        x25519_only(alg)?;
        awslc::x25519_public(sk).map_err(dh_error)
    }

    fn kem_key_gen(alg: KemAlgorithm, prng: &mut HpkeRng) -> Result<(Vec<u8>, Vec<u8>), Error> {
        x25519_only(alg)?;
        // RFC 9180 §7.1.2: any 32 bytes are an X25519 private key.
        let mut sk = vec![0u8; X25519_NSK];
        prng.try_fill_bytes(&mut sk)?;
        let pk = awslc::x25519_public(&sk).map_err(dh_error)?;
        Ok((pk, sk))
    }

    fn kem_key_gen_derand(_alg: KemAlgorithm, _seed: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Error> {
        Err(Error::UnsupportedKemOperation)
    }

    fn kem_encaps(
        _alg: KemAlgorithm,
        _pk_r: &[u8],
        _prng: &mut HpkeRng,
    ) -> Result<(Vec<u8>, Vec<u8>), Error> {
        // hpke-rs runs DH-based KEMs itself (dh_kem.rs); only non-DH KEMs get here.
        Err(Error::UnsupportedKemOperation)
    }

    fn kem_encaps_derand(
        _alg: KemAlgorithm,
        _pk_r: &[u8],
        _randomness: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), Error> {
        Err(Error::UnsupportedKemOperation)
    }

    fn kem_decaps(_alg: KemAlgorithm, _ct: &[u8], _sk_r: &[u8]) -> Result<Vec<u8>, Error> {
        Err(Error::UnsupportedKemOperation)
    }

    fn dh_validate_sk(alg: KemAlgorithm, sk: &[u8]) -> Result<Vec<u8>, Error> {
        x25519_only(alg)?;
        if sk.len() == X25519_NSK {
            Ok(sk.to_vec())
        } else {
            Err(Error::KemInvalidSecretKey)
        }
    }

    fn aead_seal(
        alg: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        msg: &[u8],
    ) -> Result<Vec<u8>, Error> {
        awslc::aead_seal(aead_alg(alg)?, key, nonce, aad, msg)
            .map_err(|e| Error::CryptoLibraryError(e.to_string()))
    }

    fn aead_open(
        alg: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        msg: &[u8],
    ) -> Result<Vec<u8>, Error> {
        awslc::aead_open(aead_alg(alg)?, key, nonce, aad, msg).map_err(|e| match e {
            CryptoError::AeadOpenFailed => Error::AeadOpenError,
            other => Error::CryptoLibraryError(other.to_string()),
        })
    }
}

/// The PRNG hpke-rs draws encapsulation randomness and generated keys from.
///
/// [`HpkeRng::system`] is aws-lc's RNG. [`HpkeRng::fixed`] returns the given bytes to the
/// first request of exactly that length and fails every other request, so an operation that
/// draws more (or differently sized) randomness than expected fails loudly instead of
/// silently becoming random.
pub struct HpkeRng(RngSource);

enum RngSource {
    System,
    Fixed(Option<Zeroizing<Vec<u8>>>),
}

impl HpkeRng {
    /// aws-lc's RNG.
    pub fn system() -> Self {
        HpkeRng(RngSource::System)
    }

    /// A one-shot source yielding `bytes` once.
    pub fn fixed(bytes: &[u8]) -> Self {
        HpkeRng(RngSource::Fixed(Some(Zeroizing::new(bytes.to_vec()))))
    }
}

impl fmt::Debug for HpkeRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            RngSource::System => f.write_str("HpkeRng::System"),
            RngSource::Fixed(Some(b)) => write!(f, "HpkeRng::Fixed({} bytes left)", b.len()),
            RngSource::Fixed(None) => f.write_str("HpkeRng::Fixed(used)"),
        }
    }
}

impl TryRng for HpkeRng {
    type Error = Error;

    fn try_next_u32(&mut self) -> Result<u32, Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Error> {
        match &mut self.0 {
            RngSource::System => awslc::fill_random(dst).map_err(|_| Error::InsufficientRandomness),
            RngSource::Fixed(slot) => match slot.take() {
                Some(bytes) if bytes.len() == dst.len() => {
                    dst.copy_from_slice(&bytes);
                    Ok(())
                }
                _ => Err(Error::InsufficientRandomness),
            },
        }
    }
}

impl TryCryptoRng for HpkeRng {}

impl HpkeDefaultPrng for HpkeAwsLc {
    fn try_prng() -> Result<HpkeRng, Error> {
        Ok(HpkeRng::system())
    }
}

/// Any hpke-rs back end `C`, with its PRNG replaced by [`HpkeRng`]. Every primitive is `C`'s;
/// only the source of encapsulation randomness changes. Used to run the independent RustCrypto
/// back end deterministically against the RFC 9180 vectors and against [`HpkeAwsLc`].
pub struct WithHpkeRng<C>(PhantomData<fn() -> C>);

impl<C> fmt::Debug for WithHpkeRng<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WithHpkeRng")
    }
}

impl<C: HpkeCrypto + HpkeDefaultPrng> HpkeCrypto for WithHpkeRng<C> {
    type HpkePrng = HpkeRng;

    fn name() -> String {
        format!("{} (seeded)", C::name())
    }
    fn supports_kdf(alg: KdfAlgorithm) -> Result<(), Error> {
        C::supports_kdf(alg)
    }
    fn supports_kem(alg: KemAlgorithm) -> Result<(), Error> {
        C::supports_kem(alg)
    }
    fn supports_aead(alg: AeadAlgorithm) -> Result<(), Error> {
        C::supports_aead(alg)
    }
    fn kdf_extract(alg: TwoStageKdfAlgorithm, salt: &[u8], ikm: &[u8]) -> Result<Vec<u8>, Error> {
        C::kdf_extract(alg, salt, ikm)
    }
    fn kdf_expand(
        alg: TwoStageKdfAlgorithm,
        prk: &[u8],
        info: &[u8],
        output_size: usize,
    ) -> Result<Vec<u8>, Error> {
        C::kdf_expand(alg, prk, info, output_size)
    }
    fn kdf_derive(alg: SingleStageKdfAlgorithm, ikm: &[u8], l: usize) -> Result<Vec<u8>, Error> {
        C::kdf_derive(alg, ikm, l)
    }
    fn dh(alg: KemAlgorithm, pk: &[u8], sk: &[u8]) -> Result<Vec<u8>, Error> {
        C::dh(alg, pk, sk)
    }
    fn secret_to_public(alg: KemAlgorithm, sk: &[u8]) -> Result<Vec<u8>, Error> {
        C::secret_to_public(alg, sk)
    }
    fn kem_key_gen(alg: KemAlgorithm, _prng: &mut HpkeRng) -> Result<(Vec<u8>, Vec<u8>), Error> {
        // Fresh keys come from `C`'s own PRNG; only encapsulation randomness is injected.
        C::kem_key_gen(alg, &mut C::try_prng()?)
    }
    fn kem_key_gen_derand(alg: KemAlgorithm, seed: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Error> {
        C::kem_key_gen_derand(alg, seed)
    }
    fn kem_encaps(
        alg: KemAlgorithm,
        pk_r: &[u8],
        _prng: &mut HpkeRng,
    ) -> Result<(Vec<u8>, Vec<u8>), Error> {
        C::kem_encaps(alg, pk_r, &mut C::try_prng()?)
    }
    fn kem_encaps_derand(
        alg: KemAlgorithm,
        pk_r: &[u8],
        randomness: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), Error> {
        C::kem_encaps_derand(alg, pk_r, randomness)
    }
    fn kem_decaps(alg: KemAlgorithm, ct: &[u8], sk_r: &[u8]) -> Result<Vec<u8>, Error> {
        C::kem_decaps(alg, ct, sk_r)
    }
    fn dh_validate_sk(alg: KemAlgorithm, sk: &[u8]) -> Result<Vec<u8>, Error> {
        C::dh_validate_sk(alg, sk)
    }
    fn aead_seal(
        alg: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        msg: &[u8],
    ) -> Result<Vec<u8>, Error> {
        C::aead_seal(alg, key, nonce, aad, msg)
    }
    fn aead_open(
        alg: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        msg: &[u8],
    ) -> Result<Vec<u8>, Error> {
        C::aead_open(alg, key, nonce, aad, msg)
    }
}

/// The hpke-rs back end of a simulated provider's HPKE open (see
/// `Provider::with_simulated_crypto`): [`HpkeAwsLc`] with the Diffie-Hellman replaced by its
/// counted stand-in ([`awslc::x25519_simulated`]), so hpke-rs runs its own Decap and key
/// schedule, with the same counts as over [`HpkeAwsLc`], and opens what a simulated
/// [`super::SealContext`] sealed. The recipient's own public key in the KEM context
/// (`secret_to_public`) is a counted stand-in too, the one the simulated sender uses.
#[cfg(feature = "simulated-crypto")]
#[derive(Debug, Clone, Copy, Default)]
pub struct HpkeSimulated;

#[cfg(feature = "simulated-crypto")]
impl HpkeDefaultPrng for HpkeSimulated {
    fn try_prng() -> Result<HpkeRng, Error> {
        Ok(HpkeRng::system())
    }
}

#[cfg(feature = "simulated-crypto")]
impl HpkeCrypto for HpkeSimulated {
    type HpkePrng = HpkeRng;

    fn name() -> String {
        "aws-lc-rs (simulated Diffie-Hellman)".into()
    }
    fn supports_kdf(alg: KdfAlgorithm) -> Result<(), Error> {
        HpkeAwsLc::supports_kdf(alg)
    }
    fn supports_kem(alg: KemAlgorithm) -> Result<(), Error> {
        HpkeAwsLc::supports_kem(alg)
    }
    fn supports_aead(alg: AeadAlgorithm) -> Result<(), Error> {
        HpkeAwsLc::supports_aead(alg)
    }
    fn kdf_extract(alg: TwoStageKdfAlgorithm, salt: &[u8], ikm: &[u8]) -> Result<Vec<u8>, Error> {
        HpkeAwsLc::kdf_extract(alg, salt, ikm)
    }
    fn kdf_expand(
        alg: TwoStageKdfAlgorithm,
        prk: &[u8],
        info: &[u8],
        output_size: usize,
    ) -> Result<Vec<u8>, Error> {
        HpkeAwsLc::kdf_expand(alg, prk, info, output_size)
    }
    fn kdf_derive(alg: SingleStageKdfAlgorithm, ikm: &[u8], l: usize) -> Result<Vec<u8>, Error> {
        HpkeAwsLc::kdf_derive(alg, ikm, l)
    }
    fn dh(alg: KemAlgorithm, pk: &[u8], sk: &[u8]) -> Result<Vec<u8>, Error> {
        x25519_only(alg)?;
        awslc::x25519_simulated(sk, pk)
            .map(|s| s.as_bytes().to_vec())
            .map_err(dh_error)
    }
    fn secret_to_public(alg: KemAlgorithm, sk: &[u8]) -> Result<Vec<u8>, Error> {
        x25519_only(alg)?;
        awslc::x25519_public_simulated(sk).map_err(dh_error)
    }
    fn kem_key_gen(alg: KemAlgorithm, prng: &mut HpkeRng) -> Result<(Vec<u8>, Vec<u8>), Error> {
        HpkeAwsLc::kem_key_gen(alg, prng)
    }
    fn kem_key_gen_derand(alg: KemAlgorithm, seed: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Error> {
        HpkeAwsLc::kem_key_gen_derand(alg, seed)
    }
    fn kem_encaps(
        alg: KemAlgorithm,
        pk_r: &[u8],
        prng: &mut HpkeRng,
    ) -> Result<(Vec<u8>, Vec<u8>), Error> {
        HpkeAwsLc::kem_encaps(alg, pk_r, prng)
    }
    fn kem_encaps_derand(
        alg: KemAlgorithm,
        pk_r: &[u8],
        randomness: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), Error> {
        HpkeAwsLc::kem_encaps_derand(alg, pk_r, randomness)
    }
    fn kem_decaps(alg: KemAlgorithm, ct: &[u8], sk_r: &[u8]) -> Result<Vec<u8>, Error> {
        HpkeAwsLc::kem_decaps(alg, ct, sk_r)
    }
    fn dh_validate_sk(alg: KemAlgorithm, sk: &[u8]) -> Result<Vec<u8>, Error> {
        HpkeAwsLc::dh_validate_sk(alg, sk)
    }
    fn aead_seal(
        alg: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        msg: &[u8],
    ) -> Result<Vec<u8>, Error> {
        HpkeAwsLc::aead_seal(alg, key, nonce, aad, msg)
    }
    fn aead_open(
        alg: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        msg: &[u8],
    ) -> Result<Vec<u8>, Error> {
        HpkeAwsLc::aead_open(alg, key, nonce, aad, msg)
    }
}

/// RFC 9180 §4 `LabeledExtract` for a KEM suite id.
pub(super) fn labeled_extract(
    hash: HashAlg,
    suite_id: &[u8],
    salt: &[u8],
    label: &[u8],
    ikm: &[u8],
) -> super::Secret {
    let labeled_ikm = Zeroizing::new([b"HPKE-v1".as_slice(), suite_id, label, ikm].concat());
    awslc::hkdf_extract(hash, salt, &labeled_ikm)
}

/// RFC 9180 §4 `LabeledExpand`.
pub(super) fn labeled_expand(
    hash: HashAlg,
    suite_id: &[u8],
    prk: &[u8],
    label: &[u8],
    info: &[u8],
    len: u16,
) -> Result<super::Secret, CryptoError> {
    let labeled_info = [
        &len.to_be_bytes(),
        b"HPKE-v1".as_slice(),
        suite_id,
        label,
        info,
    ]
    .concat();
    awslc::hkdf_expand(hash, prk, &labeled_info, usize::from(len))
}

/// RFC 9180 §7.1.3 `DeriveKeyPair(ikm)` for DHKEM(X25519, HKDF-SHA256):
/// `dkp_prk = LabeledExtract("", "dkp_prk", ikm)`, `sk = LabeledExpand(dkp_prk, "sk", "", 32)`.
///
/// hpke-rs derives ephemeral keys the same way internally but does not hand out private-key
/// bytes without its `hazmat` feature, so the derivation is repeated here for the long-term
/// keys; the conformance runner checks both against the RFC 9180 vectors.
pub fn derive_x25519_key_pair(ikm: &[u8]) -> Result<(HpkePrivateKey, Vec<u8>), CryptoError> {
    let sk = derive_x25519_private(ikm)?;
    let pk = awslc::x25519_public(sk.as_bytes())?;
    Ok((sk, pk))
}

/// The private half of [`derive_x25519_key_pair`], for callers that get the public key from
/// the same parse as a DH ([`awslc::x25519_key_pair_and_dh`]).
pub fn derive_x25519_private(ikm: &[u8]) -> Result<HpkePrivateKey, CryptoError> {
    // suite_id = "KEM" || I2OSP(kem_id = 0x0020, 2)
    const SUITE_ID: &[u8] = b"KEM\x00\x20";
    let dkp_prk = labeled_extract(HashAlg::Sha256, SUITE_ID, b"", b"dkp_prk", ikm);
    // Nsk fits in u16.
    let sk = labeled_expand(
        HashAlg::Sha256,
        SUITE_ID,
        dkp_prk.as_bytes(),
        b"sk",
        b"",
        X25519_NSK as u16,
    )?;
    Ok(HpkePrivateKey::from(sk))
}

/// Turn an hpke-rs error into a typed [`CryptoError`].
pub fn map_hpke_error(e: HpkeError) -> CryptoError {
    match e {
        HpkeError::OpenError => CryptoError::HpkeOpenFailed,
        HpkeError::CryptoError(msg) => match msg.as_str() {
            MSG_ZERO_SHARED_SECRET => CryptoError::ZeroSharedSecret,
            MSG_INVALID_PUBLIC_KEY | "Invalid KEM public key" => CryptoError::InvalidPublicKey,
            MSG_INVALID_PRIVATE_KEY | "Invalid KEM secret key" => CryptoError::InvalidPrivateKey,
            _ => CryptoError::Backend(msg),
        },
        HpkeError::InsufficientRandomness => {
            CryptoError::Backend("HPKE: randomness source exhausted".into())
        }
        other => CryptoError::Backend(other.to_string()),
    }
}
