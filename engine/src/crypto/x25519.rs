//! Which implementation computes the engine's X25519: aws-lc-rs one scalar multiplication at a
//! time (the reference), or the SIMD lanes of `canopy-simd` for batches.
//!
//! Every [`Provider`] holds an [`X25519Backend`]. [`Provider::new`] takes the one the
//! environment variable `CANOPY_CRYPTO` chooses ([`X25519Backend::from_env`]), read once per
//! process; [`Provider::with_x25519_backend`] sets another. The backend changes how the
//! public keys and Diffie-Hellman outputs of a batch are computed, never what they are: every
//! backend gives the same bytes, the same errors and the same primitive counts
//! ([`super::counters`]).
//!
//! | `CANOPY_CRYPTO` | backend | |
//! |---|---|---|
//! | `portable` | [`X25519Backend::AwsLc`] | aws-lc-rs, one call per multiplication: the reference |
//! | `avx2` | [`X25519Backend::Avx2`] | 4 lanes (x86-64 with AVX2) |
//! | `avx512` | [`X25519Backend::Avx512Ifma`] | 8 lanes (x86-64 with AVX512F and AVX512IFMA) |
//! | `auto`, empty or unset | the best of those that beats aws-lc on this host | |
//!
//! `auto` takes AVX-512 IFMA where the CPU has it (about 4× aws-lc per shared secret on the
//! Xeon hosts) and aws-lc otherwise: 4 AVX2 lanes cost about as much as 4 aws-lc calls, so on
//! an AVX2-only host the lanes would add risk and no speed. A backend the host lacks is an
//! error naming it, never a silent fallback.
//!
//! What is batched: the ephemeral public keys and the DH outputs of the HPKE seals of an
//! UpdatePath and a Welcome ([`SealContext::seal_batch`](super::SealContext::seal_batch)),
//! and the node public keys derived together ([`Provider::derive_hpke_key_pairs`],
//! [`Provider::hpke_public_keys`]). Single operations (one open, one key pair) stay on aws-lc:
//! one lane of a register costs as much as the whole register.
//
// # Internal documentation
//
// The lanes are asked for only in batches of at least `MIN_LANES` multiplications; smaller
// ones go to aws-lc, where one multiplication costs one call. The counters are incremented
// here once per lane, exactly as the aws-lc wrappers count one per call: a seal is one
// fixed-base multiplication (its ephemeral public key) and one DH whatever computed them.
//
// Secret scalars are copied into `Zeroizing` buffers before they are handed to the lanes;
// canopy-simd's own stack copies (its padded registers) are out of this crate's reach, as
// aws-lc's are.

use core::fmt;
use std::sync::OnceLock;

use zeroize::Zeroizing;

use super::awslc::{self, X25519_LEN};
use super::hpke_backend::{derive_x25519_key_pair, derive_x25519_private};
use super::{counters, CryptoError, HpkePrivateKey, Provider, Result, Secret};

/// The environment variable that chooses the default backend ([`X25519Backend::from_env`]).
/// `canopy-simd` reads the same name, with the same values.
pub const CRYPTO_ENV: &str = canopy_simd::BACKEND_ENV;

/// The smallest batch worth a SIMD register: a register of 4 or 8 lanes costs the same
/// however few lanes are used. On the AVX-512 IFMA hosts a register of eight fixed-base
/// multiplications costs about 2.4 of aws-lc's (parse and public key), and one of eight seals
/// (fixed base and DH) about 2.2 of aws-lc's (`x25519_throughput`), so two lanes lose a little
/// and three win.
const MIN_LANES: usize = 3;

/// An implementation of the engine's batched X25519.
///
/// Variants run from the reference to the widest, the order of `canopy_simd::Backend`
/// (not alphabetical): [`X25519Backend::ALL`] lists them so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum X25519Backend {
    /// aws-lc-rs, one multiplication per call: the reference path, and `CANOPY_CRYPTO=portable`.
    AwsLc,
    /// `canopy-simd`'s portable reference, one lane in safe Rust (slower than aws-lc). For
    /// tests only: it shows that the batched code paths, not the lanes, compute the same bytes
    /// on every host. No `CANOPY_CRYPTO` value selects it.
    SimdPortable,
    /// `canopy-simd`'s four AVX2 lanes; `CANOPY_CRYPTO=avx2`.
    Avx2,
    /// `canopy-simd`'s eight AVX-512 IFMA lanes; `CANOPY_CRYPTO=avx512`.
    Avx512Ifma,
}

/// Why a backend cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum X25519BackendError {
    /// A choice that names no backend.
    #[error("{value:?} names no X25519 backend: expected one of auto, portable, avx2, avx512")]
    Unknown {
        /// The value given.
        value: String,
    },
    /// The backend needs CPU features this host lacks.
    #[error("the {backend} X25519 backend does not run on this host (CPU features: {features})")]
    Unavailable {
        /// The backend asked for.
        backend: X25519Backend,
        /// What the host has (`canopy_simd::host_features`).
        features: String,
    },
    /// `CANOPY_CRYPTO` holds an invalid value.
    #[error("{CRYPTO_ENV}: {source}")]
    Env {
        /// What is wrong with the value.
        source: Box<X25519BackendError>,
    },
}

impl X25519Backend {
    /// Every backend, the reference first.
    pub const ALL: [X25519Backend; 4] = [
        X25519Backend::AwsLc,
        X25519Backend::SimdPortable,
        X25519Backend::Avx2,
        X25519Backend::Avx512Ifma,
    ];

    /// The name `CANOPY_CRYPTO` and `canopy compare --crypto` use: `portable` (aws-lc),
    /// `avx2`, `avx512`; `simd-portable` for the test-only [`X25519Backend::SimdPortable`].
    pub fn name(self) -> &'static str {
        match self {
            X25519Backend::AwsLc => "portable",
            X25519Backend::SimdPortable => "simd-portable",
            X25519Backend::Avx2 => "avx2",
            X25519Backend::Avx512Ifma => "avx512",
        }
    }

    /// The `canopy-simd` backend behind this one; `None` for aws-lc.
    pub fn simd(self) -> Option<canopy_simd::Backend> {
        match self {
            X25519Backend::AwsLc => None,
            X25519Backend::SimdPortable => Some(canopy_simd::Backend::Portable),
            X25519Backend::Avx2 => Some(canopy_simd::Backend::Avx2),
            X25519Backend::Avx512Ifma => Some(canopy_simd::Backend::Avx512Ifma),
        }
    }

    /// Whether this host runs the backend (cached CPU feature detection).
    pub fn is_available(self) -> bool {
        self.simd().is_none_or(canopy_simd::Backend::is_available)
    }

    /// The backends this host runs, the reference first.
    pub fn available() -> Vec<X25519Backend> {
        Self::ALL.into_iter().filter(|b| b.is_available()).collect()
    }

    /// `self`, or [`X25519BackendError::Unavailable`] if this host does not run it.
    pub fn require(self) -> core::result::Result<Self, X25519BackendError> {
        if self.is_available() {
            Ok(self)
        } else {
            Err(X25519BackendError::Unavailable {
                backend: self,
                features: canopy_simd::host_features(),
            })
        }
    }

    /// What `auto` means on this host: AVX-512 IFMA if the CPU has it, else aws-lc. AVX2 is not
    /// taken: its 4 lanes cost about as much as 4 aws-lc calls, so they would add risk and no
    /// speed.
    pub fn auto() -> X25519Backend {
        if X25519Backend::Avx512Ifma.is_available() {
            X25519Backend::Avx512Ifma
        } else {
            X25519Backend::AwsLc
        }
    }

    /// Parse a choice as `CANOPY_CRYPTO` spells it (case-insensitive, surrounding blanks
    /// ignored): `auto` or empty ([`X25519Backend::auto`]), `portable`, `avx2`, `avx512`. A
    /// backend this host lacks is [`X25519BackendError::Unavailable`]; anything else
    /// [`X25519BackendError::Unknown`].
    pub fn from_choice(value: &str) -> core::result::Result<Self, X25519BackendError> {
        let chosen = match value.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => return Ok(X25519Backend::auto()),
            "portable" => X25519Backend::AwsLc,
            "avx2" => X25519Backend::Avx2,
            "avx512" | "avx512ifma" => X25519Backend::Avx512Ifma,
            _ => {
                return Err(X25519BackendError::Unknown {
                    value: value.to_owned(),
                })
            }
        };
        chosen.require()
    }

    /// The backend `CANOPY_CRYPTO` chooses now ([`X25519Backend::from_choice`]; unset means
    /// `auto`). Errors are [`X25519BackendError::Env`], naming the variable.
    pub fn from_env() -> core::result::Result<Self, X25519BackendError> {
        let in_env = |source| X25519BackendError::Env {
            source: Box::new(source),
        };
        match std::env::var(CRYPTO_ENV) {
            Ok(value) => X25519Backend::from_choice(&value).map_err(in_env),
            Err(std::env::VarError::NotPresent) => Ok(X25519Backend::auto()),
            Err(std::env::VarError::NotUnicode(raw)) => Err(in_env(X25519BackendError::Unknown {
                value: raw.to_string_lossy().into_owned(),
            })),
        }
    }

    /// [`X25519Backend::from_env`] as read the first time in this process: the backend of
    /// every [`Provider::new`].
    pub fn process_default() -> core::result::Result<Self, X25519BackendError> {
        static CHOSEN: OnceLock<core::result::Result<X25519Backend, X25519BackendError>> =
            OnceLock::new();
        CHOSEN.get_or_init(X25519Backend::from_env).clone()
    }
}

impl fmt::Display for X25519Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failure of the lanes themselves (the host lost a feature, a length bug): never a property
/// of the inputs.
fn lanes_error(e: canopy_simd::Error) -> CryptoError {
    CryptoError::Backend(format!("canopy-simd: {e}"))
}

/// The lanes to run a batch of `n` multiplications on, or `None` for aws-lc.
fn lanes_for(backend: X25519Backend, n: usize) -> Option<canopy_simd::Backend> {
    backend.simd().filter(|_| n >= MIN_LANES)
}

fn scalar(sk: &[u8]) -> Result<[u8; X25519_LEN]> {
    sk.try_into().map_err(|_| CryptoError::InvalidPrivateKey)
}

/// `X25519(sk, 9)` for every `sk` (RFC 7748 §6.1): the public keys, in order, counted one
/// fixed-base multiplication each. The errors of [`awslc::x25519_public`].
pub(crate) fn public_keys(backend: X25519Backend, sks: &[&[u8]]) -> Result<Vec<Vec<u8>>> {
    let Some(lanes) = lanes_for(backend, sks.len()) else {
        return sks.iter().map(|sk| awslc::x25519_public(sk)).collect();
    };
    // Reserved up front, so that growing the vector leaves no copy of a scalar behind.
    let mut scalars = Zeroizing::new(Vec::with_capacity(sks.len()));
    for sk in sks {
        scalars.push(scalar(sk)?);
    }
    let mut out = vec![[0u8; X25519_LEN]; scalars.len()];
    let zero = canopy_simd::x25519_base_batch(lanes, &scalars, &mut out).map_err(lanes_error)?;
    for _ in 0..scalars.len() {
        counters::x25519_base();
    }
    // A clamped scalar is a multiple of 8 in [2^254, 2^255), never a multiple of the base
    // point's prime order ℓ (8ℓ > 2^255), so no public key is all zero.
    if !zero.is_empty() {
        return Err(CryptoError::Backend(
            "X25519: an all-zero public key".into(),
        ));
    }
    Ok(out.iter().map(|pk| pk.to_vec()).collect())
}

/// One lane of [`key_pairs_and_dh`]: the public key of the private key and the shared secret.
pub(crate) type KeyPairAndDh = Result<(Vec<u8>, Secret)>;

/// `(X25519(sk, 9), X25519(sk, pk))` for every pair (RFC 7748 §6.1), what an HPKE `Encap`
/// needs (RFC 9180 §4.1): one fixed-base multiplication and one DH per lane, counted so. A
/// lane whose shared secret is all zero is [`CryptoError::ZeroSharedSecret`], as
/// [`awslc::x25519_key_pair_and_dh`] reports it; the outer error is a failure of the lanes.
pub(crate) fn key_pairs_and_dh(
    backend: X25519Backend,
    sks: &[[u8; X25519_LEN]],
    pks: &[[u8; X25519_LEN]],
) -> Result<Vec<KeyPairAndDh>> {
    if sks.len() != pks.len() {
        return Err(CryptoError::Backend(
            "X25519 batch: as many private keys as peer keys".into(),
        ));
    }
    let Some(lanes) = lanes_for(backend, sks.len()) else {
        return Ok(sks
            .iter()
            .zip(pks)
            .map(|(sk, pk)| awslc::x25519_key_pair_and_dh(sk, pk))
            .collect());
    };
    let n = sks.len();
    let mut public = vec![[0u8; X25519_LEN]; n];
    let base_zero = canopy_simd::x25519_base_batch(lanes, sks, &mut public).map_err(lanes_error)?;
    let mut shared = Zeroizing::new(vec![[0u8; X25519_LEN]; n]);
    let dh_zero = canopy_simd::x25519_batch(lanes, sks, pks, &mut shared).map_err(lanes_error)?;
    for _ in 0..n {
        counters::x25519_base();
        counters::x25519_dh();
    }
    // See `public_keys`: a clamped scalar never gives the all-zero public key.
    if !base_zero.is_empty() {
        return Err(CryptoError::Backend(
            "X25519: an all-zero public key".into(),
        ));
    }
    Ok((0..n)
        .map(|i| {
            if dh_zero.contains(i) {
                Err(CryptoError::ZeroSharedSecret)
            } else {
                Ok((public[i].to_vec(), Secret::from_slice(&shared[i])))
            }
        })
        .collect())
}

// Batched key derivation: what the engine's layers call, not part of the documented API.
#[cfg_attr(not(feature = "unstable-internals"), doc(hidden))]
impl Provider {
    /// [`Provider::derive_hpke_key_pair`] of every `ikm`, in order, with the public keys
    /// computed as one batch on this provider's [`X25519Backend`]: the same key pairs, the
    /// same errors (the first failing `ikm`'s) and the same primitive counts.
    pub fn derive_hpke_key_pairs(&self, ikms: &[&[u8]]) -> Result<Vec<(HpkePrivateKey, Vec<u8>)>> {
        if self.suite().kem() != super::Kem::X25519 {
            // Only X25519 has lanes: the other KEMs derive one key pair at a time.
            return ikms
                .iter()
                .map(|ikm| self.derive_hpke_key_pair(ikm))
                .collect();
        }
        if lanes_for(self.x25519_backend(), ikms.len()).is_none() {
            return ikms.iter().map(|ikm| derive_x25519_key_pair(ikm)).collect();
        }
        let sks = ikms
            .iter()
            .map(|ikm| derive_x25519_private(ikm))
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&[u8]> = sks.iter().map(HpkePrivateKey::as_bytes).collect();
        let pks = public_keys(self.x25519_backend(), &refs)?;
        Ok(sks.into_iter().zip(pks).collect())
    }

    /// [`Provider::hpke_public_key`] of every private key, in order, computed as one batch on
    /// this provider's [`X25519Backend`].
    pub fn hpke_public_keys(&self, sks: &[&HpkePrivateKey]) -> Result<Vec<Vec<u8>>> {
        if self.suite().kem() != super::Kem::X25519 {
            return sks.iter().map(|sk| self.hpke_public_key(sk)).collect();
        }
        let refs: Vec<&[u8]> = sks.iter().map(|sk| sk.as_bytes()).collect();
        public_keys(self.x25519_backend(), &refs)
    }
}

#[cfg(test)]
mod tests {
    use rand::{RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::crypto::CipherSuite;

    const SUITE: CipherSuite = CipherSuite::Mls128X25519Aes128GcmSha256Ed25519;

    /// Every backend this host runs, each named; the others printed as untested so a host
    /// without them never passes silently.
    fn backends() -> Vec<X25519Backend> {
        for b in X25519Backend::ALL {
            if !b.is_available() {
                println!("UNTESTED: the {b} backend does not run on this host");
            }
        }
        X25519Backend::available()
    }

    #[test]
    fn choices_map_to_backends() {
        assert_eq!(X25519Backend::from_choice("portable"), Ok(X25519Backend::AwsLc));
        assert_eq!(X25519Backend::from_choice(" PORTABLE "), Ok(X25519Backend::AwsLc));
        for auto in ["auto", "", "Auto"] {
            assert_eq!(X25519Backend::from_choice(auto), Ok(X25519Backend::auto()));
        }
        // `auto` never takes the AVX2 lanes, and takes AVX-512 IFMA whenever the CPU has it.
        let expected = if canopy_simd::Backend::Avx512Ifma.is_available() {
            X25519Backend::Avx512Ifma
        } else {
            X25519Backend::AwsLc
        };
        assert_eq!(X25519Backend::auto(), expected);
        for (value, backend) in [
            ("avx2", X25519Backend::Avx2),
            ("avx512", X25519Backend::Avx512Ifma),
            ("AVX512IFMA", X25519Backend::Avx512Ifma),
        ] {
            let chosen = X25519Backend::from_choice(value);
            if backend.is_available() {
                assert_eq!(chosen, Ok(backend), "{value}");
            } else {
                let e = chosen.unwrap_err();
                assert!(e.to_string().contains(backend.name()), "{value}: {e}");
            }
        }
        // canopy-simd's portable lane is no choice: `portable` is aws-lc.
        for value in ["neon", "simd-portable", "aws-lc"] {
            assert_eq!(
                X25519Backend::from_choice(value),
                Err(X25519BackendError::Unknown {
                    value: value.into()
                })
            );
        }
    }

    #[test]
    fn an_unavailable_backend_is_an_error_naming_it() {
        for b in X25519Backend::ALL {
            let p = Provider::new(SUITE);
            match p.with_x25519_backend(b) {
                Ok(q) => {
                    assert!(b.is_available());
                    assert_eq!(q.x25519_backend(), b);
                    assert_eq!(q.suite(), p.suite());
                }
                Err(e) => {
                    assert!(!b.is_available());
                    assert_eq!(
                        e,
                        X25519BackendError::Unavailable {
                            backend: b,
                            features: canopy_simd::host_features()
                        }
                    );
                    assert!(e.to_string().contains(b.name()), "{e}");
                }
            }
        }
        let e = X25519BackendError::Env {
            source: Box::new(X25519BackendError::Unknown { value: "x".into() }),
        };
        assert!(e.to_string().starts_with("CANOPY_CRYPTO: \"x\""), "{e}");
    }

    /// Batched key pairs and public keys equal the single aws-lc ones on every backend, for
    /// every batch length around the register widths.
    #[test]
    fn batched_key_pairs_equal_single_ones_every_backend() {
        let mut rng = ChaCha8Rng::seed_from_u64(25519);
        let mut checks = 0;
        for backend in backends() {
            let p = Provider::new(SUITE).with_x25519_backend(backend).unwrap();
            for n in [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17] {
                let ikms: Vec<Vec<u8>> = (0..n)
                    .map(|_| {
                        let mut ikm = vec![0u8; 32];
                        rng.fill_bytes(&mut ikm);
                        ikm
                    })
                    .collect();
                let refs: Vec<&[u8]> = ikms.iter().map(Vec::as_slice).collect();
                let batched = p.derive_hpke_key_pairs(&refs).unwrap();
                assert_eq!(batched.len(), n);
                let sks: Vec<&HpkePrivateKey> = batched.iter().map(|(sk, _)| sk).collect();
                let publics = p.hpke_public_keys(&sks).unwrap();
                for ((ikm, (sk, pk)), public) in ikms.iter().zip(&batched).zip(&publics) {
                    let (single_sk, single_pk) = p.derive_hpke_key_pair(ikm).unwrap();
                    assert_eq!(sk, &single_sk, "{backend} n={n}");
                    assert_eq!(pk, &single_pk, "{backend} n={n}");
                    assert_eq!(public, &single_pk, "{backend} n={n}");
                    checks += 1;
                }
            }
        }
        assert_eq!(checks, backends().len() * 72);
    }

    /// A private key of the wrong length is the error aws-lc reports, in a batch too.
    #[test]
    fn a_short_private_key_is_invalid_every_backend() {
        for backend in backends() {
            let p = Provider::new(SUITE).with_x25519_backend(backend).unwrap();
            let good = HpkePrivateKey::new(vec![7; 32]);
            let short = HpkePrivateKey::new(vec![7; 31]);
            assert_eq!(
                p.hpke_public_keys(&[&good, &short, &good]),
                Err(CryptoError::InvalidPrivateKey),
                "{backend}"
            );
            // In a full register and in the padded tail past it.
            for (len, at) in [(9, 3), (9, 8), (10, 9), (11, 10)] {
                let mut keys = vec![&good; len];
                keys[at] = &short;
                assert_eq!(
                    p.hpke_public_keys(&keys),
                    Err(CryptoError::InvalidPrivateKey),
                    "{backend}: {len} keys, the short one at {at}"
                );
            }
        }
    }

    /// The DH lanes report exactly the all-zero lanes, with aws-lc's error, and agree with
    /// aws-lc on the others.
    #[test]
    fn key_pairs_and_dh_match_awslc_every_backend() {
        let low_order = awslc::x25519_small_order_points();
        let mut rng = ChaCha8Rng::seed_from_u64(7748);
        for backend in backends() {
            let n = 11;
            let mut sks = vec![[0u8; 32]; n];
            let mut pks = vec![[0u8; 32]; n];
            for (i, (sk, pk)) in sks.iter_mut().zip(pks.iter_mut()).enumerate() {
                rng.fill_bytes(sk);
                if i % 4 == 1 {
                    *pk = low_order[i % low_order.len()];
                } else {
                    rng.fill_bytes(pk);
                }
            }
            let lanes = key_pairs_and_dh(backend, &sks, &pks).unwrap();
            for (i, lane) in lanes.iter().enumerate() {
                let reference = awslc::x25519_key_pair_and_dh(&sks[i], &pks[i]);
                assert_eq!(lane.is_err(), i % 4 == 1, "{backend} lane {i}");
                match (lane, reference) {
                    (Ok((pk, dh)), Ok((ref_pk, ref_dh))) => {
                        assert_eq!((pk, dh), (&ref_pk, &ref_dh), "{backend} lane {i}")
                    }
                    (Err(e), Err(ref_e)) => assert_eq!(e, &ref_e, "{backend} lane {i}"),
                    (ours, theirs) => panic!("{backend} lane {i}: {ours:?} vs {theirs:?}"),
                }
            }
        }
    }
}
