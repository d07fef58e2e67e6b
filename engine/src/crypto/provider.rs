//! [`Provider`]: every cryptographic operation MLS needs, for one cipher suite.

use hpke_rs::{Hpke, HpkePublicKey as RsHpkePublicKey, Mode};
use hpke_rs_crypto::types::{KdfAlgorithm, KemAlgorithm};

use super::awslc::{self, AeadAlg, HashAlg};
use super::hpke_backend::{self, HpkeAwsLc, HpkeRng, X25519_NSK};
use super::suite::Kem;
use super::{dhkem, OpenContext, SealContext, SignatureScheme};
use super::x25519::{X25519Backend, X25519BackendError};
use super::{labels, CipherSuite, CryptoError, HpkePrivateKey, Secret, SignaturePrivateKey};

/// Shorthand for results of this module.
pub type Result<T, E = CryptoError> = core::result::Result<T, E>;

/// The crypto provider, bound to one cipher suite when it is created (RFC 9420 §5.1).
///
/// It holds the suite and the [`X25519Backend`] of batched X25519, so it is `Copy`, `Send` and
/// `Sync`; the only per-call dispatch is a match on the suite's AEAD (and, per batch, on the
/// backend). Primitives are aws-lc-rs; HPKE (RFC 9180) runs in hpke-rs over the aws-lc back
/// end (`HpkeAwsLc`), and the seals and key derivations the engine batches compute their
/// X25519 on the backend (see [`X25519Backend`]: every backend gives the same bytes).
///
/// Conventions: secret inputs are taken as `&[u8]` (pass [`Secret::as_bytes`]) and secret
/// outputs are returned as [`Secret`]; public keys are plain bytes (`&[u8]` / `Vec<u8>`, the
/// serialized form RFC 9420 puts on the wire), private keys are `HpkePrivateKey` and
/// [`SignaturePrivateKey`]. Labels are passed without the `"MLS 1.0 "` prefix, which the
/// labelled functions add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provider {
    suite: CipherSuite,
    x25519: X25519Backend,
    /// The Ed25519 verifier, when one was chosen with the X25519 backend
    /// ([`Provider::with_x25519_backend`]); else the process's ([`super::backend::selected`]).
    ed25519: Option<super::backend::CryptoBackend>,
    /// Simulated crypto (feature `simulated-crypto`): see [`Provider::with_simulated_crypto`].
    #[cfg(feature = "simulated-crypto")]
    simulated: bool,
}

impl Provider {
    /// A provider for `suite`, with the X25519 backend `CANOPY_CRYPTO` chooses
    /// ([`X25519Backend::process_default`]; unset means `auto`).
    ///
    /// # Panics
    ///
    /// If `CANOPY_CRYPTO` names no backend, or one this host does not run: a misconfigured
    /// host fails at its first provider rather than silently running another backend.
    /// [`Provider::try_new`] returns that as an error.
    pub fn new(suite: CipherSuite) -> Self {
        match Self::try_new(suite) {
            Ok(provider) => provider,
            Err(e) => panic!("{e}"),
        }
    }

    /// [`Provider::new`], with an invalid `CANOPY_CRYPTO` as an error.
    pub fn try_new(suite: CipherSuite) -> core::result::Result<Self, X25519BackendError> {
        Ok(Provider {
            suite,
            x25519: X25519Backend::process_default()?,
            ed25519: None,
            #[cfg(feature = "simulated-crypto")]
            simulated: false,
        })
    }

    /// This provider with its batched X25519 on `backend`, and its Ed25519 verifications on
    /// the verifier that goes with it (`crypto::backend::ed25519_for_x25519`); an error
    /// naming the backend if this host does not run it. Changes no output, only how it is
    /// computed.
    pub fn with_x25519_backend(
        self,
        backend: X25519Backend,
    ) -> core::result::Result<Self, X25519BackendError> {
        let x25519 = backend.require()?;
        Ok(Provider {
            x25519,
            ed25519: Some(super::backend::ed25519_for_x25519(x25519)),
            ..self
        })
    }

    /// The suite this provider is bound to.
    pub fn suite(&self) -> CipherSuite {
        self.suite
    }

    /// The implementation of this provider's batched X25519.
    pub fn x25519_backend(&self) -> X25519Backend {
        self.x25519
    }

    /// This provider with simulated crypto on or off. A simulated provider counts every
    /// primitive exactly as the real one does (the counters of [`super::counters`] see the
    /// same operations and byte lengths) and produces outputs of the real lengths, but skips
    /// the work whose result no later real operation reads:
    ///
    /// - HPKE Diffie-Hellman: the sender's ephemeral public key is a stand-in, the DH output
    ///   a hash of it and the recipient's public key in the KEM context a constant, so a
    ///   simulated receiver opens what a simulated sender sealed (the key schedule and the
    ///   AEAD stay real);
    /// - Ed25519 verification succeeds without checking, and a receiver takes the private
    ///   keys it derives for the sender's path on trust instead of recomputing their public
    ///   keys to compare;
    /// - a GroupInfo's signature, its encryption in a Welcome and the Welcome's HPKE context
    ///   hash are counted, not computed (no simulated Welcome can be joined).
    ///
    /// Key derivation (every public key in the tree is real), signing other than a
    /// GroupInfo's (leaf signatures stay valid), hashing and the key schedule are real, so a
    /// group driven by simulated commits has exactly the tree a real one would have, and a
    /// real member can commit to it, process and join it afterwards. Simulated and real
    /// messages do not mix: a real member cannot open a simulated HPKE ciphertext.
    ///
    /// For simulations only (the capacity planner's fast mode): no confidentiality, no
    /// authentication.
    #[cfg(feature = "simulated-crypto")]
    pub fn with_simulated_crypto(self, on: bool) -> Self {
        Provider {
            simulated: on,
            ..self
        }
    }

    /// Whether this provider simulates (see `Provider::with_simulated_crypto`, which exists
    /// with the `simulated-crypto` feature); always `false` without that feature.
    #[inline]
    pub fn is_simulated(&self) -> bool {
        #[cfg(feature = "simulated-crypto")]
        return self.simulated;
        #[cfg(not(feature = "simulated-crypto"))]
        return false;
    }
}

// The primitives below are what the engine's layers call; applications do not need them, so
// they stay out of the documented API (and carry no stability promise).
#[cfg_attr(not(feature = "unstable-internals"), doc(hidden))]
impl Provider {
    /// `KDF.Nh`: hash and KDF output length (32, 48 or 64).
    pub fn hash_len(&self) -> usize {
        self.hash_alg().output_len()
    }

    fn hash_alg(&self) -> HashAlg {
        self.suite.hash()
    }

    /// The suite's KEM.
    pub fn kem(&self) -> Kem {
        self.suite.kem()
    }

    /// The suite's signature scheme.
    pub fn signature_scheme(&self) -> SignatureScheme {
        self.suite.signature_scheme()
    }

    /// `AEAD.Nk`.
    pub fn aead_key_len(&self) -> usize {
        self.aead().key_len()
    }

    /// `AEAD.Nn`.
    pub fn aead_nonce_len(&self) -> usize {
        awslc::AEAD_NONCE_LEN
    }

    /// `Nsk` of the suite's KEM (RFC 9180 §7.1).
    pub fn hpke_private_key_len(&self) -> usize {
        self.kem().n_sk()
    }

    /// `Npk` of the suite's KEM (RFC 9180 §7.1).
    pub fn hpke_public_key_len(&self) -> usize {
        self.kem().n_pk()
    }

    /// Check an HPKE public key that arrives from the wire (a leaf's or parent node's
    /// encryption key, a KeyPackage's init key) before it enters the group: the suite's
    /// length, and a key every sender can seal to. For X25519 and X448 that excludes the
    /// small-order points, on which every Diffie-Hellman yields the all-zero secret (RFC 9180
    /// §7.1.4 makes the sender reject that secret, so a member's commit would fail on every
    /// path that seals to the key); for the NIST curves, it must be an uncompressed point on
    /// the curve.
    ///
    /// For X25519 and X448 the check compares against the fixed list of small-order encodings;
    /// it costs no scalar multiplication, so a 50,000-leaf tree is checked in microseconds.
    /// A NIST point is decoded and checked to lie on the curve (no scalar multiplication).
    pub fn check_hpke_public_key(&self, pk: &[u8]) -> Result<()> {
        dhkem::check_public_key(self.kem(), pk)
    }

    fn aead(&self) -> AeadAlg {
        self.suite.aead().alg()
    }

    // ----- hash, MAC, KDF (RFC 9420 §5.1, §8) -----

    /// `Hash(data)` (the suite's hash).
    pub fn hash(&self, data: &[u8]) -> Vec<u8> {
        awslc::hash(self.hash_alg(), data)
    }

    /// `MAC(key, data)`: HMAC with the suite's hash (RFC 9420 §5.1).
    pub fn mac(&self, key: &[u8], data: &[u8]) -> Vec<u8> {
        awslc::hmac(self.hash_alg(), key, data)
    }

    /// `KDF.Extract(salt, ikm)`: HKDF-Extract (RFC 5869 §2.2).
    pub fn extract(&self, salt: &[u8], ikm: &[u8]) -> Secret {
        awslc::hkdf_extract(self.hash_alg(), salt, ikm)
    }

    /// `KDF.Expand(prk, info, len)`: HKDF-Expand (RFC 5869 §2.3).
    pub fn expand(&self, prk: &[u8], info: &[u8], len: usize) -> Result<Secret> {
        awslc::hkdf_expand(self.hash_alg(), prk, info, len)
    }

    /// `ExpandWithLabel(secret, label, context, len)` (RFC 9420 §8): `KDF.Expand` over the
    /// serialized `KDFLabel { len, "MLS 1.0 " + label, context }`.
    pub fn expand_with_label(
        &self,
        secret: &[u8],
        label: &[u8],
        context: &[u8],
        len: u16,
    ) -> Result<Secret> {
        let info = labels::kdf_label(label, context, len)?;
        self.expand(secret, &info, usize::from(len))
    }

    /// `DeriveSecret(secret, label) = ExpandWithLabel(secret, label, "", KDF.Nh)` (RFC 9420 §8).
    pub fn derive_secret(&self, secret: &[u8], label: &[u8]) -> Result<Secret> {
        // Nh ≤ 64 fits in u16.
        self.expand_with_label(secret, label, &[], self.hash_len() as u16)
    }

    /// `DeriveTreeSecret(secret, label, generation, len) = ExpandWithLabel(secret, label,
    /// generation as big-endian uint32, len)` (RFC 9420 §9.1).
    pub fn derive_tree_secret(
        &self,
        secret: &[u8],
        label: &[u8],
        generation: u32,
        len: u16,
    ) -> Result<Secret> {
        self.expand_with_label(secret, label, &generation.to_be_bytes(), len)
    }

    /// `RefHash(label, value) = Hash(RefHashInput { label, value })` (RFC 9420 §5.2). The
    /// label is used as given (e.g. `b"MLS 1.0 KeyPackage Reference"`). Fails only for inputs
    /// of 2^30 bytes or more, which a variable-length vector cannot hold.
    pub fn ref_hash(&self, label: &[u8], value: &[u8]) -> Result<Vec<u8>> {
        Ok(self.hash(&labels::ref_hash_input(label, value)?))
    }

    // ----- AEAD (RFC 9420 §5.1, §6.3) -----

    /// `AEAD.Seal(key, nonce, aad, pt)`: returns `ciphertext || tag`.
    pub fn aead_seal(&self, key: &[u8], nonce: &[u8], aad: &[u8], pt: &[u8]) -> Result<Vec<u8>> {
        awslc::aead_seal(self.aead(), key, nonce, aad, pt)
    }

    /// `AEAD.Seal(key, nonce, aad, prefix || tail)` with the `tail_len` bytes of the tail
    /// given last ([`TailSeal::finish`](super::TailSeal::finish)): the same bytes and counts
    /// as [`Provider::aead_seal`] of the whole.
    pub(crate) fn aead_seal_tail_later(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        prefix: &[u8],
        tail_len: usize,
    ) -> Result<super::TailSeal> {
        super::TailSeal::new(self.aead(), key, nonce, aad, prefix, tail_len)
    }

    /// Count an [`Provider::aead_seal`] of `len` bytes without encrypting: what a simulated
    /// provider does for a Welcome's GroupInfo (see [`Provider::with_simulated_crypto`]).
    /// Returns zeros of the ciphertext's length.
    pub(crate) fn aead_seal_counted(&self, len: usize) -> Vec<u8> {
        super::counters::aead(len);
        vec![0; len + awslc::AEAD_TAG_LEN]
    }

    /// `AEAD.Open(key, nonce, aad, ct)`; [`CryptoError::AeadOpenFailed`] if it does not
    /// authenticate.
    pub fn aead_open(&self, key: &[u8], nonce: &[u8], aad: &[u8], ct: &[u8]) -> Result<Vec<u8>> {
        awslc::aead_open(self.aead(), key, nonce, aad, ct)
    }

    /// [`Provider::aead_open`] in the ciphertext's buffer ([`awslc::aead_open_in_place`]):
    /// `in_out` holds the plaintext on success and must not be read on failure.
    pub fn aead_open_in_place(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        in_out: &mut Vec<u8>,
    ) -> Result<()> {
        awslc::aead_open_in_place(self.aead(), key, nonce, aad, in_out)
    }

    // ----- signatures (RFC 9420 §5.1.2) -----

    /// `SignWithLabel(sk, label, content)`: the suite's signature over
    /// `SignContent { "MLS 1.0 " + label, content }`.
    pub fn sign_with_label(
        &self,
        sk: &SignaturePrivateKey,
        label: &[u8],
        content: &[u8],
    ) -> Result<Vec<u8>> {
        self.sign_labeled(sk, &labels::labeled_pair(label, content)?)
    }

    /// The suite's signature over an already built `SignContent` (see
    /// [`labels::labeled_pair_header`]): `sign_with_label(sk, label, content)` is
    /// `sign_labeled(sk, labeled_pair(label, content))`. A key of another scheme is
    /// [`CryptoError::InvalidPrivateKey`].
    pub fn sign_labeled(&self, sk: &SignaturePrivateKey, sign_content: &[u8]) -> Result<Vec<u8>> {
        if sk.scheme() != self.signature_scheme() {
            return Err(CryptoError::InvalidPrivateKey);
        }
        super::counters::sign(sk.scheme(), sign_content.len());
        sk.sign(sign_content)
    }

    /// Verify Ed25519 over an already built `SignContent`; the counterpart of
    /// [`Provider::sign_labeled`], with the errors of [`Provider::verify_with_label`].
    pub fn verify_labeled(&self, pk: &[u8], sign_content: &[u8], sig: &[u8]) -> Result<()> {
        use super::primitives::{ecdsa, ed448};
        let scheme = self.signature_scheme();
        if scheme == SignatureScheme::Ed25519 {
            if self.is_simulated() {
                return awslc::ed25519_verify_counted(pk, sign_content);
            }
            return match self.ed25519 {
                Some(backend) => super::backend::ed25519_verify_by(backend, pk, sign_content, sig),
                None => super::backend::ed25519_verify(pk, sign_content, sig),
            };
        }
        super::counters::verify(scheme, sign_content.len());
        if self.is_simulated() {
            return Ok(());
        }
        match scheme {
            SignatureScheme::Ed448 => ed448::verify(pk, sign_content, sig),
            _ => ecdsa::verify(super::secret::ecdsa_scheme(scheme), pk, sign_content, sig),
        }
        .map_err(CryptoError::from)
    }

    /// `VerifyWithLabel(pk, label, content, sig)` for a `content` of `content_len` bytes
    /// written into the returned [`LabeledVerification`] (`io::Write`), then
    /// [`LabeledVerification::finish`]ed: the verdict and errors of [`Provider::verify_labeled`]
    /// over `labeled_pair(label, content)`.
    ///
    /// A large Ed25519 content is hashed as it is written, where its pieces lie, and never
    /// gathered: a GroupInfo carrying the ratchet tree is 12.7 MB at 50,000 members, and
    /// building its `SignContent` only to hash it costs a copy and 12.7 MB of fresh pages.
    /// That takes this module's second implementation of aws-lc's rule
    /// ([`super::ed25519::Verification`]), so it runs where the backend is not aws-lc (which
    /// takes the message in one buffer); on aws-lc, for small contents and for the other
    /// schemes the content is gathered and verified as `verify_labeled` does.
    pub(crate) fn labeled_verification<'a>(
        &'a self,
        pk: &'a [u8],
        label: &[u8],
        content_len: usize,
        sig: &'a [u8],
    ) -> Result<LabeledVerification<'a>> {
        let header = labels::labeled_header(label, content_len)?;
        let backend = match self.ed25519 {
            Some(b) => Some(b),
            None => super::backend::selected().ok(),
        };
        let streamed = self.signature_scheme() == SignatureScheme::Ed25519
            && !self.is_simulated()
            && content_len >= STREAMED_VERIFY_MIN_BYTES
            && backend.is_some_and(|b| b != super::backend::CryptoBackend::Portable);
        let inner = if streamed {
            let mut v = super::ed25519::Verification::new(pk, sig);
            v.update(&header);
            Labeled::Streamed(v)
        } else {
            let mut sign_content = header;
            sign_content.reserve_exact(content_len);
            Labeled::Gathered {
                provider: self,
                pk,
                sig,
                sign_content,
            }
        };
        Ok(LabeledVerification { inner, written: 0 })
    }

    /// [`Provider::verify_labeled`] of many `(key, SignContent, signature)`: one result per
    /// item, in order, each what `verify_labeled` returns for it. Ed25519 verifications share
    /// the registers of the AVX-512 IFMA lanes where `CANOPY_CRYPTO` selects them
    /// (`crypto::backend::ed25519_verify_batch`); every other case verifies one by one.
    pub fn verify_labeled_batch(&self, items: &[(&[u8], &[u8], &[u8])]) -> Vec<Result<()>> {
        if self.signature_scheme() == SignatureScheme::Ed25519 && !self.is_simulated() {
            return match self.ed25519 {
                Some(backend) => super::backend::ed25519_verify_batch_by(backend, items),
                None => super::backend::ed25519_verify_batch(items),
            };
        }
        items
            .iter()
            .map(|&(pk, content, sig)| self.verify_labeled(pk, content, sig))
            .collect()
    }

    /// Count a [`Provider::sign_labeled`] over a `sign_content` of `len` bytes without
    /// signing: what a simulated provider does for a GroupInfo (see
    /// [`Provider::with_simulated_crypto`]). Returns an all-zero signature of the real length.
    pub(crate) fn sign_labeled_counted(&self, len: usize) -> Vec<u8> {
        let scheme = self.signature_scheme();
        super::counters::sign(scheme, len);
        vec![0; scheme.typical_signature_len()]
    }

    /// `VerifyWithLabel(pk, label, content, sig)`; [`CryptoError::InvalidSignature`] on a bad
    /// signature, [`CryptoError::InvalidPublicKey`] on a key of the wrong length. Runs on the
    /// backend `CANOPY_CRYPTO` selects (`crypto::backend`), which accepts exactly what aws-lc
    /// accepts; an invalid or unavailable setting is [`CryptoError::Backend`] naming it.
    pub fn verify_with_label(
        &self,
        pk: &[u8],
        label: &[u8],
        content: &[u8],
        sig: &[u8],
    ) -> Result<()> {
        self.verify_labeled(pk, &labels::labeled_pair(label, content)?, sig)
    }
}

impl Provider {
    /// A fresh key pair of the suite's signature scheme: (private key, public key).
    pub fn generate_signature_key_pair(&self) -> (SignaturePrivateKey, Vec<u8>) {
        let ikm = Secret::new(self.random_bytes(self.signature_scheme().private_key_len()));
        // Invariant: derivation fails only when the expansion fails, which it cannot for the
        // lengths of the suites' keys (≤ 66 bytes, far below 255 · Nh).
        self.derive_signature_key_pair(ikm.as_bytes())
            .expect("derivation from random bytes always gives a valid private key")
    }

    /// The key pair whose private key has this MLS encoding (the seed for EdDSA, the scalar
    /// for ECDSA; see [`SignaturePrivateKey`]): what test vectors and peers hand over.
    pub fn signature_key_pair_from_seed(
        &self,
        seed: &[u8],
    ) -> Result<(SignaturePrivateKey, Vec<u8>)> {
        let sk = SignaturePrivateKey::from_bytes(self.signature_scheme(), seed)?;
        let pk = sk.public_key();
        Ok((sk, pk))
    }

    /// A key pair derived from `ikm` (secret, ≥ 32 bytes of entropy), reproducibly: for
    /// Ed25519 with a 32-byte `ikm`, the key whose seed is `ikm` (so
    /// [`Provider::signature_key_pair_from_seed`] of the same bytes); otherwise the first
    /// `ExpandWithLabel(Extract("", ikm), "signature key", counter, Nsk)` (counter = 0, 1, …)
    /// that is a
    /// valid private key of the scheme (an ECDSA scalar must lie in [1, order), which all
    /// but a negligible share of candidates do; an Ed448 seed always is).
    pub fn derive_signature_key_pair(&self, ikm: &[u8]) -> Result<(SignaturePrivateKey, Vec<u8>)> {
        let scheme = self.signature_scheme();
        if scheme == SignatureScheme::Ed25519 && ikm.len() == scheme.private_key_len() {
            return self.signature_key_pair_from_seed(ikm);
        }
        // Private keys are ≤ 66 bytes: the length fits in u16.
        let len = scheme.private_key_len() as u16;
        // Extract first: `ikm` may be longer than the hash, which Expand takes as its key.
        let prk = self.extract(&[], ikm);
        for counter in 0u8..=255 {
            let mut candidate =
                self.expand_with_label(prk.as_bytes(), b"signature key", &[counter], len)?;
            if scheme == SignatureScheme::EcdsaP521Sha512 {
                // A P-521 scalar has 521 bits: keep 1 of the top byte's 8, as RFC 9180's
                // DeriveKeyPair does, so candidates are rejected rarely.
                let mut bytes = candidate.as_bytes().to_vec();
                bytes[0] &= 0x01;
                candidate = Secret::new(bytes);
            }
            if let Ok(pair) = self.signature_key_pair_from_seed(candidate.as_bytes()) {
                return Ok(pair);
            }
        }
        Err(CryptoError::InvalidPrivateKey)
    }

    // ----- HPKE (RFC 9180; RFC 9420 §5.1.3) -----

    fn hpke(&self, rng: HpkeRng) -> Hpke<HpkeAwsLc> {
        Hpke::new_with_rng(
            Mode::Base,
            KemAlgorithm::DhKem25519,
            KdfAlgorithm::HkdfSha256,
            self.suite.hpke_aead(),
            rng,
        )
    }
}

// The primitives below are what the engine's layers call; applications do not need them, so
// they stay out of the documented API (and carry no stability promise).
#[cfg_attr(not(feature = "unstable-internals"), doc(hidden))]
impl Provider {
    /// `DeriveKeyPair(ikm)` (RFC 9180 §7.1.3): (private key, public key).
    pub fn derive_hpke_key_pair(&self, ikm: &[u8]) -> Result<(HpkePrivateKey, Vec<u8>)> {
        let kem = self.kem();
        if kem == Kem::X25519 {
            return hpke_backend::derive_x25519_key_pair(ikm);
        }
        let sk = dhkem::derive_private(kem, ikm)?;
        let pk = dhkem::public_key(kem, sk.as_bytes())?;
        Ok((sk, pk))
    }

    /// The private key of `DeriveKeyPair(ikm)` if its public key is `public`, `None` if not:
    /// a receiver's check of a path key (RFC 9420 §12.4.2). A simulated provider counts the
    /// fixed-base multiplication of the check and takes the key on trust (see
    /// [`Provider::with_simulated_crypto`]): the private key is the real one either way.
    pub fn derive_hpke_private_key_for(
        &self,
        ikm: &[u8],
        public: &[u8],
    ) -> Result<Option<HpkePrivateKey>> {
        // Only DHKEMs are simulated (X-Wing's and ML-KEM's parts count themselves as they run).
        if self.is_simulated() && self.kem().is_dhkem() {
            let sk = dhkem::derive_private(self.kem(), ikm)?;
            super::counters::kem_base(self.kem());
            return Ok(Some(sk));
        }
        let (sk, pk) = self.derive_hpke_key_pair(ikm)?;
        Ok((pk.as_slice() == public).then_some(sk))
    }

    /// The private key of `DeriveKeyPair(ikm)`, without the fixed-base multiplication that
    /// gives the public key: for callers that hold the public key already.
    pub fn derive_hpke_private_key(&self, ikm: &[u8]) -> Result<HpkePrivateKey> {
        dhkem::derive_private(self.kem(), ikm)
    }

    /// A fresh HPKE key pair: `DeriveKeyPair` of `Nsk` random bytes.
    pub fn generate_hpke_key_pair(&self) -> Result<(HpkePrivateKey, Vec<u8>)> {
        let ikm = Secret::new(self.random_bytes(self.kem().n_sk()));
        self.derive_hpke_key_pair(ikm.as_bytes())
    }

    /// `DH(sk, pk)` of the suite's KEM, counted as the engine's HPKE counts it (a fixed-base
    /// multiplication for parsing `sk`, then the DH): what cost calibration measures.
    pub fn hpke_dh(&self, sk: &HpkePrivateKey, pk: &[u8]) -> Result<Secret> {
        dhkem::key_pair_and_dh(self.kem(), sk.as_bytes(), pk).map(|(_, shared)| shared)
    }

    /// The public key of an HPKE private key.
    pub fn hpke_public_key(&self, sk: &HpkePrivateKey) -> Result<Vec<u8>> {
        dhkem::public_key(self.kem(), sk.as_bytes())
    }

    /// `SealBase(pk, info, aad, pt)` (RFC 9180 §6.1): (`enc` / `kem_output`, ciphertext).
    pub fn hpke_seal(
        &self,
        pk: &[u8],
        info: &[u8],
        aad: &[u8],
        pt: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        if self.kem() != Kem::X25519 {
            return SealContext::from_info(self, info).seal_with_aad(pk, aad, pt, None);
        }
        self.seal_with_rng(HpkeRng::system(), pk, info, aad, pt)
    }

    /// [`Provider::hpke_seal`] with the ephemeral key pair `DeriveKeyPair(ikm_e)` instead of a
    /// random one: the same inputs give the same output bytes. `ikm_e` must be `Nsk` bytes,
    /// and must be unpredictable and never reused outside tests.
    pub fn hpke_seal_with_ikm(
        &self,
        pk: &[u8],
        info: &[u8],
        aad: &[u8],
        pt: &[u8],
        ikm_e: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        if self.kem() != Kem::X25519 {
            return SealContext::from_info(self, info).seal_with_aad(pk, aad, pt, Some(ikm_e));
        }
        if ikm_e.len() != X25519_NSK {
            return Err(CryptoError::InvalidLength("HPKE ikm_e must be Nsk bytes"));
        }
        self.seal_with_rng(HpkeRng::fixed(ikm_e), pk, info, aad, pt)
    }

    fn seal_with_rng(
        &self,
        rng: HpkeRng,
        pk: &[u8],
        info: &[u8],
        aad: &[u8],
        pt: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        if pk.len() != awslc::X25519_LEN {
            return Err(CryptoError::InvalidPublicKey);
        }
        super::counters::hpke_seal();
        let pk = RsHpkePublicKey::new(pk.to_vec());
        self.hpke(rng)
            .seal(&pk, info, aad, pt, None, None, None)
            .map_err(hpke_backend::map_hpke_error)
    }

    /// `SetupBaseS(pk, info)` then `context.export(exporter_context, length)` (RFC 9180
    /// §5.3): (`enc` / `kem_output`, exported secret). RFC 9420 §8.3 uses it for external
    /// joins.
    pub fn hpke_send_export(
        &self,
        pk: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        length: usize,
    ) -> Result<(Vec<u8>, Secret)> {
        if self.kem() != Kem::X25519 {
            return SealContext::from_info(self, info).send_export(pk, exporter_context, length);
        }
        if pk.len() != awslc::X25519_LEN {
            return Err(CryptoError::InvalidPublicKey);
        }
        let pk = RsHpkePublicKey::new(pk.to_vec());
        let (enc, secret) = self
            .hpke(HpkeRng::system())
            .send_export(&pk, info, None, None, None, exporter_context, length)
            .map_err(hpke_backend::map_hpke_error)?;
        Ok((enc, Secret::new(secret)))
    }

    /// `SetupBaseR(enc, sk, info)` then `context.export(exporter_context, length)` (RFC 9180
    /// §5.3): the receiving side of [`Provider::hpke_send_export`].
    pub fn hpke_receiver_export(
        &self,
        sk: &HpkePrivateKey,
        kem_output: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        length: usize,
    ) -> Result<Secret> {
        if self.kem() != Kem::X25519 {
            return OpenContext::from_info(self, info).receiver_export(
                sk,
                kem_output,
                exporter_context,
                length,
            );
        }
        if sk.as_bytes().len() != X25519_NSK {
            return Err(CryptoError::InvalidPrivateKey);
        }
        if kem_output.len() != awslc::X25519_LEN {
            return Err(CryptoError::InvalidPublicKey);
        }
        let sk = hpke_rs::HpkePrivateKey::new(sk.as_bytes().to_vec());
        let secret = self
            .hpke(HpkeRng::fixed(&[]))
            .receiver_export(
                kem_output,
                &sk,
                info,
                None,
                None,
                None,
                exporter_context,
                length,
            )
            .map_err(hpke_backend::map_hpke_error)?;
        Ok(Secret::new(secret))
    }

    /// `OpenBase(enc, sk, info, aad, ct)` (RFC 9180 §6.1); [`CryptoError::HpkeOpenFailed`] if
    /// the ciphertext does not authenticate.
    pub fn hpke_open(
        &self,
        sk: &HpkePrivateKey,
        kem_output: &[u8],
        info: &[u8],
        aad: &[u8],
        ct: &[u8],
    ) -> Result<Vec<u8>> {
        if self.kem() != Kem::X25519 {
            return OpenContext::from_info(self, info).open_with_aad(sk, kem_output, aad, ct);
        }
        if sk.as_bytes().len() != X25519_NSK {
            return Err(CryptoError::InvalidPrivateKey);
        }
        if kem_output.len() != awslc::X25519_LEN {
            return Err(CryptoError::InvalidPublicKey);
        }
        super::counters::hpke_open();
        let sk = hpke_rs::HpkePrivateKey::new(sk.as_bytes().to_vec());
        #[cfg(feature = "simulated-crypto")]
        if self.simulated {
            // hpke-rs's own Decap and key schedule over the simulating back end: the same
            // calls, and so the same counts, as below.
            return Hpke::<hpke_backend::HpkeSimulated>::new_with_rng(
                Mode::Base,
                KemAlgorithm::DhKem25519,
                KdfAlgorithm::HkdfSha256,
                self.suite.hpke_aead(),
                HpkeRng::fixed(&[]),
            )
            .open(kem_output, &sk, info, aad, ct, None, None, None)
            .map_err(hpke_backend::map_hpke_error);
        }
        // `open` draws no randomness; the one-shot source is empty so it could not.
        self.hpke(HpkeRng::fixed(&[]))
            .open(kem_output, &sk, info, aad, ct, None, None, None)
            .map_err(hpke_backend::map_hpke_error)
    }

    /// `EncryptWithLabel(pk, label, context, pt) = SealBase(pk, EncryptContext, "", pt)`
    /// (RFC 9420 §5.1.3): (`kem_output`, ciphertext).
    pub fn encrypt_with_label(
        &self,
        pk: &[u8],
        label: &[u8],
        context: &[u8],
        pt: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        let info = labels::labeled_pair(label, context)?;
        self.hpke_seal(pk, &info, &[], pt)
    }

    /// [`Provider::encrypt_with_label`] with the ephemeral key `DeriveKeyPair(ikm_e)`.
    pub fn encrypt_with_label_with_ikm(
        &self,
        pk: &[u8],
        label: &[u8],
        context: &[u8],
        pt: &[u8],
        ikm_e: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        let info = labels::labeled_pair(label, context)?;
        self.hpke_seal_with_ikm(pk, &info, &[], pt, ikm_e)
    }

    /// `DecryptWithLabel(sk, label, context, kem_output, ct)
    /// = OpenBase(kem_output, sk, EncryptContext, "", ct)` (RFC 9420 §5.1.3).
    pub fn decrypt_with_label(
        &self,
        sk: &HpkePrivateKey,
        label: &[u8],
        context: &[u8],
        kem_output: &[u8],
        ct: &[u8],
    ) -> Result<Vec<u8>> {
        let info = labels::labeled_pair(label, context)?;
        self.hpke_open(sk, kem_output, &info, &[], ct)
    }

    // ----- randomness -----

    /// `n` bytes from aws-lc's RNG.
    pub fn random_bytes(&self, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n];
        // Invariant: aws-lc's RAND_bytes always returns 1 (it aborts the process rather than
        // report an entropy failure), so `rand::fill` cannot fail.
        awslc::fill_random(&mut out).expect("aws-lc RAND_bytes does not fail");
        out
    }
}

/// The content size from which [`Provider::labeled_verification`] hashes an Ed25519 content
/// as it is written: below it, gathering it costs less than a page of copying, and the
/// verification runs where `verify_labeled` runs it.
const STREAMED_VERIFY_MIN_BYTES: usize = 64 << 10;

/// A `VerifyWithLabel` whose content is being written ([`Provider::labeled_verification`]).
pub(crate) struct LabeledVerification<'a> {
    inner: Labeled<'a>,
    written: usize,
}

enum Labeled<'a> {
    /// Hashed as written (Ed25519 off aws-lc).
    Streamed(super::ed25519::Verification<'a>),
    /// Gathered into the `SignContent`, for [`Provider::verify_labeled`].
    Gathered {
        provider: &'a Provider,
        pk: &'a [u8],
        sig: &'a [u8],
        sign_content: Vec<u8>,
    },
}

impl std::fmt::Debug for LabeledVerification<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = match self.inner {
            Labeled::Streamed(_) => "streamed",
            Labeled::Gathered { .. } => "gathered",
        };
        f.debug_struct("LabeledVerification")
            .field("content", &how)
            .field("written", &self.written)
            .finish()
    }
}

impl LabeledVerification<'_> {
    /// The content's bytes written so far (the label's header not included).
    pub(crate) fn written(&self) -> usize {
        self.written
    }

    /// The verdict over the content written.
    pub(crate) fn finish(self) -> Result<()> {
        match self.inner {
            Labeled::Streamed(v) => v.finish(),
            Labeled::Gathered {
                provider,
                pk,
                sig,
                sign_content,
            } => provider.verify_labeled(pk, &sign_content, sig),
        }
    }
}

impl std::io::Write for LabeledVerification<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.inner {
            Labeled::Streamed(v) => v.update(buf),
            Labeled::Gathered { sign_content, .. } => sign_content.extend_from_slice(buf),
        }
        self.written += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
