//! HPKE base mode (RFC 9180 §5.1, §6.1) with the per-`info` work done once, for sealing one
//! message to many recipients: [`SealContext`] and [`OpenContext`].
//!
//! `EncryptWithLabel(pk, label, context, pt)` (RFC 9420 §5.1.3) is `SealBase(pk, info =
//! EncryptContext { "MLS 1.0 " + label, context }, aad = "", pt)`. HPKE's `KeySchedule`
//! (RFC 9180 §5.1) hashes all of `info` into `info_hash` on every call. A Welcome's context is
//! the encrypted GroupInfo, which grows with the group (about 10 MB at 50,000 members), and it
//! is sealed once per new member, so hashing it per seal is the dominant cost of a bulk add.
//! A [`SealContext`] computes `key_schedule_context = mode || psk_id_hash || info_hash` once;
//! each [`SealContext::seal`] then costs two X25519 operations, a few HMACs over short inputs
//! and the AEAD over the plaintext, independent of the context's length.
//!
//! The output is byte-identical to [`Provider::encrypt_with_label_with_ikm`] (hpke-rs) for the
//! same `ikm_e`, so the two paths are interchangeable and can be compared in tests.
//!
//! Every suite of [`CipherSuite`](super::CipherSuite) is implemented: its DHKEM (X25519,
//! P-256, P-384, P-521 or X448), its KDF (HKDF-SHA256/384/512) and its AEAD. Base mode only.
//! For the suites whose KEM is not X25519 this is also the provider's one-shot HPKE, with
//! the exporter ([`SealContext::send_export`], [`OpenContext::receiver_export`]) that
//! external joins use; X25519 suites use hpke-rs for those, and the tests hold the two equal.
//!
//! ```
//! use canopy_engine::batch::Executor;
//! use canopy_engine::crypto::{CipherSuite, Provider, SealContext};
//!
//! let provider = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
//! let recipients: Vec<Vec<u8>> = (0..4)
//!     .map(|_| provider.generate_hpke_key_pair().map(|(_, pk)| pk))
//!     .collect::<Result<_, _>>()?;
//! let encrypted_group_info = vec![0u8; 1 << 16];
//! // The context is hashed here, once ...
//! let ctx = SealContext::new(&provider, b"Welcome", &encrypted_group_info)?;
//! // ... and not again for each recipient.
//! let sealed = Executor::default().try_map(&recipients, 1, |_, pk| {
//!     ctx.seal(pk, b"group secrets", None)
//! })?;
//! assert_eq!(sealed.len(), 4);
//! # Ok::<(), canopy_engine::crypto::CryptoError>(())
//! ```
//
// # Internal documentation
//
// The sender side is RFC 9180 §4.1 `Encap` for DHKEM(X25519, HKDF-SHA256) (§7.1: `DeriveKeyPair`
// of `ikm_e`, `DH`, `ExtractAndExpand` with `kem_context = enc || pkR`), then §5.1
// `KeySchedule` in mode_base with the precomputed context, then §5.2 `Seal` with sequence
// number 0, so `nonce = base_nonce`. The receiver side is §4.1 `Decap` with the same schedule.
//
// Every intermediate secret we hold (the random `ikm_e`, the ephemeral private key, the DH
// output, `eae_prk`, `shared_secret`, `secret`, `key`, `base_nonce`, and buffers that embed
// any of them) is a [`Secret`], [`HpkePrivateKey`] or `Zeroizing` buffer, so it is wiped on
// drop, also on early returns. The one copy out of reach is the `Copy` `hmac::Tag` that
// aws-lc-rs returns from HKDF-Extract (see `awslc::hkdf_extract`) on the stack, which cannot be
// wiped without `unsafe`; the provider's own Extract shares this.

use core::fmt;

use aws_lc_rs::hmac;
use zeroize::Zeroizing;

use super::awslc::{self, AeadAlg, HashAlg, X25519_LEN};
use super::dhkem;
use super::primitives::{mlkem, xwing};
use super::hpke_backend::{labeled_expand, labeled_extract};
use super::suite::Kem;
use super::x25519::{self, X25519Backend};
use super::{labels, CryptoError, HpkePrivateKey, Provider, Result, Secret};

/// The version label every RFC 9180 labelled derivation starts with (§4).
const HPKE_V1: &[u8] = b"HPKE-v1";
/// `mode_base` (RFC 9180 §5.1, Table 1).
const MODE_BASE: u8 = 0x00;
/// The largest `Nh` (HKDF-SHA512), the length of `psk_id_hash` and `info_hash`.
const MAX_NH: usize = 64;

/// Seals per task when a batch of seals (an UpdatePath's, a Welcome's) runs on an
/// [`Executor`](crate::batch::Executor): one [`SealContext::seal_batch`] of this many per task
/// ([`Executor::try_map_blocks`](crate::batch::Executor::try_map_blocks)). One seal is
/// 70–160 µs on aws-lc (see the cutoff notes in [`crate::batch`]), so 8 of them amortise a
/// rayon fork, a stolen half waking a thread; and 8 fill one register of the widest X25519
/// lanes (AVX-512 IFMA), or two of AVX2's.
pub(crate) const SEAL_CUTOFF: usize = 8;

/// The most seals per task, in a large batch ([`crate::batch::lane_block`]): eight registers of
/// the AVX-512 IFMA lanes, which share one inversion.
pub(crate) const SEAL_BLOCK_MAX: usize = 64;

/// The HPKE key schedule of one (suite, `info`) in base mode, with everything that does not
/// depend on the recipient or the ephemeral key computed.
#[derive(Debug, Clone)]
struct BaseSchedule {
    aead: AeadAlg,
    /// The KDF's hash.
    hash: HashAlg,
    /// `"HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2)` (RFC 9180 §5.1).
    suite_id: [u8; 10],
    /// `mode || psk_id_hash || info_hash` (RFC 9180 §5.1); public. Its first
    /// `1 + 2 * Nh` bytes are used.
    key_schedule_context: [u8; 1 + 2 * MAX_NH],
}

impl BaseSchedule {
    fn new(provider: &Provider, info: &[u8]) -> Self {
        let hash = provider.suite().hash();
        Self::with_info_hash(provider, |suite_id| {
            labeled_extract_public(hash, suite_id, b"info_hash", &[info])
        })
    }

    /// The schedule of `EncryptContext { "MLS 1.0 " + label, context }` as `info`, hashed
    /// as its label header and then `context` where it lies (a Welcome's context is the
    /// encrypted GroupInfo, megabytes in a large group, so it is not copied behind the
    /// header). Fails only for a `context` of 2^30 bytes or more.
    fn for_context(provider: &Provider, label: &[u8], context: &[u8]) -> Result<Self> {
        let header = labels::labeled_pair_header(label, context.len())?;
        let hash = provider.suite().hash();
        Ok(Self::with_info_hash(provider, |suite_id| {
            labeled_extract_public(hash, suite_id, b"info_hash", &[&header, context])
        }))
    }

    /// `"HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2)` of the
    /// provider's suite.
    fn suite_id(provider: &Provider) -> [u8; 10] {
        let suite = provider.suite();
        let mut suite_id = [0u8; 10];
        suite_id[..4].copy_from_slice(b"HPKE");
        suite_id[4..6].copy_from_slice(&suite.kem().id().to_be_bytes());
        suite_id[6..8].copy_from_slice(&suite.hpke_kdf_id().to_be_bytes());
        suite_id[8..].copy_from_slice(&suite.aead().hpke_id().to_be_bytes());
        suite_id
    }

    /// The schedule with `info_hash` computed by `info_hash(suite_id)`.
    fn with_info_hash(
        provider: &Provider,
        info_hash: impl FnOnce(&[u8]) -> hmac::Tag,
    ) -> Self {
        let suite = provider.suite();
        let aead = suite.aead();
        let hash = suite.hash();
        let suite_id = Self::suite_id(provider);

        // Both are LabeledExtract("", label, ikm) over public inputs; the HMAC is streamed so a
        // large `info` is hashed in place, not copied behind its label.
        let psk_id_hash = labeled_extract_public(hash, &suite_id, b"psk_id_hash", &[]);
        let info_hash = info_hash(&suite_id);
        let nh = hash.output_len();
        let mut key_schedule_context = [0u8; 1 + 2 * MAX_NH];
        key_schedule_context[0] = MODE_BASE;
        key_schedule_context[1..1 + nh].copy_from_slice(psk_id_hash.as_ref());
        key_schedule_context[1 + nh..1 + 2 * nh].copy_from_slice(info_hash.as_ref());
        BaseSchedule {
            aead: aead.alg(),
            hash,
            suite_id,
            key_schedule_context,
        }
    }

    /// `mode || psk_id_hash || info_hash`.
    fn context(&self) -> &[u8] {
        &self.key_schedule_context[..1 + 2 * self.hash.output_len()]
    }

    /// `secret = LabeledExtract(shared_secret, "secret", psk = "")` (RFC 9180 §5.1).
    fn secret(&self, shared_secret: &Secret) -> Secret {
        labeled_extract(
            self.hash,
            &self.suite_id,
            shared_secret.as_bytes(),
            b"secret",
            b"",
        )
    }

    /// `Context.Export(exporter_context, length)` of the context whose key schedule started
    /// from `shared_secret` (RFC 9180 §5.3): `LabeledExpand(exporter_secret, "sec",
    /// exporter_context, L)` with `exporter_secret = LabeledExpand(secret, "exp",
    /// key_schedule_context, Nh)`.
    fn export(&self, shared_secret: &Secret, exporter_context: &[u8], len: usize) -> Result<Secret> {
        let len = u16::try_from(len)
            .ok()
            .filter(|&l| usize::from(l) <= 255 * self.hash.output_len())
            .ok_or(CryptoError::InvalidLength("HPKE export length exceeds 255 * Nh"))?;
        let secret = self.secret(shared_secret);
        let exporter_secret = labeled_expand(
            self.hash,
            &self.suite_id,
            secret.as_bytes(),
            b"exp",
            self.context(),
            self.hash.output_len() as u16,
        )?;
        labeled_expand(
            self.hash,
            &self.suite_id,
            exporter_secret.as_bytes(),
            b"sec",
            exporter_context,
            len,
        )
    }

    /// RFC 9180 §5.1 `KeySchedule` in mode_base from `shared_secret`: (`key`, `base_nonce`).
    /// `psk` is empty, so `secret = LabeledExtract(shared_secret, "secret", "")`.
    fn key_and_nonce(&self, shared_secret: &Secret) -> Result<(Secret, Secret)> {
        let secret = self.secret(shared_secret);
        // Nk (16 or 32) and Nn (12) fit in u16.
        let key = labeled_expand(
            self.hash,
            &self.suite_id,
            secret.as_bytes(),
            b"key",
            self.context(),
            self.aead.key_len() as u16,
        )?;
        let base_nonce = labeled_expand(
            self.hash,
            &self.suite_id,
            secret.as_bytes(),
            b"base_nonce",
            self.context(),
            awslc::AEAD_NONCE_LEN as u16,
        )?;
        Ok((key, base_nonce))
    }
}

/// `SealBase` / `EncryptWithLabel` to many recipients with the same `info`: the
/// `info`-dependent part of the HPKE key schedule is computed once, in [`SealContext::new`].
///
/// Cheap to share: it is `Send + Sync` and holds only public data (the suite and the key
/// schedule context), so one context can serve every thread of a parallel seal.
#[derive(Debug, Clone)]
pub struct SealContext {
    schedule: BaseSchedule,
    kem: Kem,
    /// The provider's: what computes the X25519 of [`SealContext::seal_batch`].
    x25519: X25519Backend,
    /// Simulated Diffie-Hellman (a simulated provider's, see
    /// [`Provider::with_simulated_crypto`]).
    simulated: bool,
}

/// The hash of a [`SealContext`]'s context as it arrives ([`SealContext::hasher`]).
pub(crate) struct ContextHasher {
    hmac: hmac::Context,
    /// Context bytes announced in the label header and not yet hashed.
    remaining: usize,
}

impl fmt::Debug for ContextHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextHasher")
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl ContextHasher {
    /// Hash the next piece of the context. Errors with [`CryptoError::InvalidLength`] past
    /// the length announced to [`SealContext::hasher`] (nothing is hashed then).
    pub(crate) fn update(&mut self, piece: &[u8]) -> Result<()> {
        self.remaining = self
            .remaining
            .checked_sub(piece.len())
            .ok_or(CryptoError::InvalidLength("HPKE context longer than announced"))?;
        super::counters::hashed(piece.len());
        self.hmac.update(piece);
        Ok(())
    }

    /// The [`SealContext`] once the whole context is hashed; [`CryptoError::InvalidLength`]
    /// if part of it is missing.
    pub(crate) fn finish(self, provider: &Provider) -> Result<SealContext> {
        if self.remaining != 0 {
            return Err(CryptoError::InvalidLength("HPKE context shorter than announced"));
        }
        let hmac = self.hmac;
        let schedule = BaseSchedule::with_info_hash(provider, |_| hmac.sign());
        Ok(SealContext::with_schedule(provider, schedule))
    }
}

/// One seal of [`SealContext::seal_batch`]: the arguments of [`SealContext::seal`].
#[derive(Clone, Copy)]
pub struct SealRequest<'a> {
    /// The recipient's public key.
    pub pk_r: &'a [u8],
    /// What to seal.
    pub plaintext: &'a [u8],
    /// The ephemeral key's seed (`DeriveKeyPair(ikm_e)`), or `None` for a random one.
    pub ikm_e: Option<&'a [u8]>,
}

impl fmt::Debug for SealRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The plaintext and the seed are secret: lengths only.
        f.debug_struct("SealRequest")
            .field("pk_r", &self.pk_r)
            .field("plaintext_len", &self.plaintext.len())
            .field("ikm_e_len", &self.ikm_e.map(<[u8]>::len))
            .finish()
    }
}

impl SealContext {
    /// The context of `EncryptWithLabel(_, label, context, _)` (RFC 9420 §5.1.3): `info` is the
    /// serialized `EncryptContext { "MLS 1.0 " + label, context }`, built exactly as
    /// [`Provider::encrypt_with_label`] builds it. Costs one pass of SHA-256 over `context`.
    /// Fails only if `context` is too long for a variable-length vector (2^30 bytes).
    pub fn new(provider: &Provider, label: &[u8], context: &[u8]) -> Result<Self> {
        let schedule = BaseSchedule::for_context(provider, label, context)?;
        Ok(Self::with_schedule(provider, schedule))
    }

    /// The context of plain HPKE `SealBase(_, info, _, _)` (RFC 9180 §6.1) for the provider's
    /// suite.
    pub fn from_info(provider: &Provider, info: &[u8]) -> Self {
        Self::with_schedule(provider, BaseSchedule::new(provider, info))
    }

    /// The context with `schedule`, sealing as `provider` does.
    fn with_schedule(provider: &Provider, schedule: BaseSchedule) -> Self {
        SealContext {
            schedule,
            kem: provider.kem(),
            x25519: provider.x25519_backend(),
            simulated: provider.is_simulated(),
        }
    }

    /// [`SealContext::new`] for a `context` of `context_len` bytes that arrives in pieces
    /// ([`ContextHasher::update`], then [`ContextHasher::finish`]): the same context and the
    /// same counts. For a Welcome whose encrypted GroupInfo is hashed as it is encrypted.
    pub(crate) fn hasher(
        provider: &Provider,
        label: &[u8],
        context_len: usize,
    ) -> Result<ContextHasher> {
        let header = labels::labeled_pair_header(label, context_len)?;
        let suite_id = BaseSchedule::suite_id(provider);
        // `LabeledExtract("", "info_hash", info)` as `BaseSchedule::for_context` computes it,
        // with `info` = the label header, then the context as it comes.
        let mut hmac = labeled_extract_start(provider.suite().hash(), &suite_id, b"info_hash");
        super::counters::hashed(header.len());
        hmac.update(&header);
        Ok(ContextHasher {
            hmac,
            remaining: context_len,
        })
    }

    /// A simulated provider's [`SealContext::new`] for a `context` of `context_len` bytes
    /// that is never opened (a simulated Welcome's): the pass over the context is counted as
    /// `new` counts it, not computed. Seals with it have the real lengths and counts.
    pub fn counted(provider: &Provider, label: &[u8], context_len: usize) -> Result<Self> {
        let header = labels::labeled_pair_header(label, context_len)?.len();
        let hash = provider.suite().hash();
        let schedule = BaseSchedule::with_info_hash(provider, |suite_id| {
            for part in [HPKE_V1, suite_id, b"info_hash".as_slice()] {
                super::counters::hashed(part.len());
            }
            super::counters::hashed(header + context_len);
            // Any tag of the right length, not counted: nobody opens these seals.
            hmac::sign(&hmac::Key::new(hash.hmac(), b""), b"")
        });
        Ok(SealContext {
            schedule,
            kem: provider.kem(),
            x25519: provider.x25519_backend(),
            simulated: true,
        })
    }

    /// `EncryptWithLabel(pk_r, label, context, plaintext)` for this context's label and
    /// context: (`kem_output`, ciphertext). The same bytes as
    /// [`Provider::encrypt_with_label_with_ikm`] when `ikm_e` is given (the ephemeral key is
    /// then `DeriveKeyPair(ikm_e)`; it must be `Nsk` = 32 bytes, unpredictable and never
    /// reused outside tests), and as [`Provider::encrypt_with_label`] otherwise (a fresh
    /// random ephemeral key).
    ///
    /// Errors: [`CryptoError::InvalidLength`] for an `ikm_e` that is not `Nsk` bytes,
    /// [`CryptoError::InvalidPublicKey`] for a `pk_r` that is not `Npk` bytes (or, on a NIST
    /// curve, not a point of it), [`CryptoError::ZeroSharedSecret`] for a low-order X25519 or
    /// X448 `pk_r` (RFC 9180 §7.1.4).
    pub fn seal(
        &self,
        pk_r: &[u8],
        plaintext: &[u8],
        ikm_e: Option<&[u8]>,
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        self.seal_with_aad(pk_r, b"", plaintext, ikm_e)
    }

    /// `SealBase(pk_r, info, aad, plaintext)` (RFC 9180 §6.1) with this context's `info`:
    /// [`SealContext::seal`] with a caller-chosen `aad` (MLS always uses the empty one).
    pub fn seal_with_aad(
        &self,
        pk_r: &[u8],
        aad: &[u8],
        plaintext: &[u8],
        ikm_e: Option<&[u8]>,
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        if !self.kem.is_dhkem() {
            let (enc, shared_secret) = self.kem_encap(pk_r, ikm_e)?;
            return self.seal_with_shared_secret(enc, &shared_secret, aad, plaintext);
        }
        let sk_e = self.ephemeral_private(pk_r, ikm_e)?;
        // Encap (RFC 9180 §4.1): enc = pkE, kem_context = enc || pkR; simulated, a stand-in
        // DH and a constant recipient key in the context (`Provider::with_simulated_crypto`).
        let (enc, dh, kem_pk_r) = if self.simulated {
            let (enc, dh) = dhkem::key_pair_and_dh_simulated(self.kem, sk_e.as_bytes(), pk_r)?;
            (enc, dh, dhkem::simulated_recipient(self.kem))
        } else {
            let (enc, dh) = dhkem::key_pair_and_dh(self.kem, sk_e.as_bytes(), pk_r)?;
            (enc, dh, pk_r)
        };
        drop(sk_e);
        self.seal_with_dh(kem_pk_r, enc, dh, aad, plaintext)
    }

    /// `SetupBaseS(pk_r, info)` then `Context.Export(exporter_context, length)` (RFC 9180
    /// §5.3, §6.1): (`enc`, exported secret), with a random ephemeral key. RFC 9420 §8.3 uses
    /// it for external joins.
    pub fn send_export(
        &self,
        pk_r: &[u8],
        exporter_context: &[u8],
        length: usize,
    ) -> Result<(Vec<u8>, Secret)> {
        let (enc, shared_secret) = if !self.kem.is_dhkem() {
            self.kem_encap(pk_r, None)?
        } else {
            let sk_e = self.ephemeral_private(pk_r, None)?;
            let (enc, dh) = dhkem::key_pair_and_dh(self.kem, sk_e.as_bytes(), pk_r)?;
            drop(sk_e);
            let shared_secret = extract_and_expand(self.kem, &dh, &enc, pk_r)?;
            (enc, shared_secret)
        };
        let exported = self.schedule.export(&shared_secret, exporter_context, length)?;
        Ok((enc, exported))
    }

    /// [`SealContext::seal`] of every request, in order, with the X25519 of the whole batch
    /// computed at once on the provider's [`X25519Backend`]: every ephemeral public key in one
    /// fixed-base batch, every DH in one batch. Each result is what [`SealContext::seal`] of
    /// that request returns, byte for byte and error for error (an all-zero DH fails its own
    /// seal only), with the same primitive counts. On aws-lc this is [`SealContext::seal`]
    /// request by request.
    pub fn seal_batch(&self, requests: &[SealRequest<'_>]) -> Vec<Result<(Vec<u8>, Vec<u8>)>> {
        // Simulated seals skip the DH altogether: nothing to batch; only X25519 has lanes.
        if self.simulated || self.kem != Kem::X25519 || self.x25519.simd().is_none() {
            return requests
                .iter()
                .map(|r| self.seal(r.pk_r, r.plaintext, r.ikm_e))
                .collect();
        }
        // The checks and the ephemeral private key of each request, as `seal` does them; the
        // requests that pass are the lanes, in request order.
        let mut sks = Zeroizing::new(Vec::with_capacity(requests.len()));
        let mut pks = Vec::with_capacity(requests.len());
        let prepared: Vec<Result<()>> = requests
            .iter()
            .map(|r| {
                let sk_e = self.ephemeral_private(r.pk_r, r.ikm_e)?;
                let sk = Zeroizing::new(lane(sk_e.as_bytes(), CryptoError::InvalidPrivateKey)?);
                let pk = lane(r.pk_r, CryptoError::InvalidPublicKey)?;
                // Within the capacity reserved above: no reallocation leaves a copy behind.
                sks.push(*sk);
                pks.push(pk);
                Ok(())
            })
            .collect();
        let lanes = match x25519::key_pairs_and_dh(self.x25519, &sks, &pks) {
            Ok(lanes) => lanes,
            Err(e) => vec![Err(e); sks.len()],
        };
        drop(sks);
        let mut lanes = lanes.into_iter();
        prepared
            .into_iter()
            .zip(requests)
            .map(|(ready, r)| {
                ready?;
                // Invariant: one lane per request that passed its checks, in order.
                let (enc, dh) = lanes
                    .next()
                    .ok_or(CryptoError::Backend("X25519 batch: a lane is missing".into()))??;
                self.seal_with_dh(r.pk_r, enc, dh, b"", r.plaintext)
            })
            .collect()
    }

    /// `Encap(pk_r)` of a KEM that is not a DHKEM, with the checks and count of `SealBase`:
    /// (`enc`, `shared_secret`).
    /// - X-Wing (draft-06 §5.6): with `ikm_e` (`Nsk` bytes) the encapsulation randomness is
    ///   [`xwing::eseed_from`]`(ikm_e)`, otherwise fresh.
    /// - ML-KEM (FIPS 203): with `ikm_e` (`Nsk` = 64 bytes) its first 32 bytes are the
    ///   randomness `m` of `ML-KEM.Encaps_internal` (a Canopy convention for reproducible
    ///   runs, never on the wire), otherwise aws-lc draws it; the shared secret is ML-KEM's,
    ///   as mls-rs's HPKE uses it.
    ///
    /// Neither is simulated: a simulated provider runs them for real, with the same counts
    /// either way.
    fn kem_encap(&self, pk_r: &[u8], ikm_e: Option<&[u8]>) -> Result<(Vec<u8>, Secret)> {
        if ikm_e.is_some_and(|ikm| ikm.len() != self.kem.n_sk()) {
            return Err(CryptoError::InvalidLength("HPKE ikm_e must be Nsk bytes"));
        }
        if pk_r.len() != self.kem.n_pk() {
            return Err(CryptoError::InvalidPublicKey);
        }
        super::counters::hpke_seal();
        let Some(set) = dhkem::mlkem_set(self.kem) else {
            return match ikm_e {
                Some(ikm) => xwing::encapsulate_derand(pk_r, &*xwing::eseed_from(ikm)),
                None => xwing::encapsulate(pk_r),
            };
        };
        Ok(match ikm_e {
            Some(ikm) => {
                let mut m = Zeroizing::new([0u8; 32]);
                m.copy_from_slice(&ikm[..32]);
                mlkem::encapsulate_derand(set, pk_r, &m)?
            }
            None => mlkem::encapsulate(set, pk_r)?,
        })
    }

    /// The checks of `SealBase` and the ephemeral private key `DeriveKeyPair(ikm_e)` (RFC 9180
    /// §4.1), a random one without `ikm_e`; counts the seal.
    fn ephemeral_private(&self, pk_r: &[u8], ikm_e: Option<&[u8]>) -> Result<HpkePrivateKey> {
        // The same checks, in the same order, as `Provider::hpke_seal_with_ikm`.
        if ikm_e.is_some_and(|ikm| ikm.len() != self.kem.n_sk()) {
            return Err(CryptoError::InvalidLength("HPKE ikm_e must be Nsk bytes"));
        }
        if pk_r.len() != self.kem.n_pk() {
            return Err(CryptoError::InvalidPublicKey);
        }
        super::counters::hpke_seal();
        let mut random_ikm;
        let ikm_e = match ikm_e {
            Some(ikm) => ikm,
            None => {
                // hpke-rs draws its ephemeral key the same way: DeriveKeyPair of Nsk random
                // bytes (RFC 9180 §4.1).
                random_ikm = Zeroizing::new(vec![0u8; self.kem.n_sk()]);
                awslc::fill_random(&mut random_ikm)?;
                random_ikm.as_slice()
            }
        };
        dhkem::derive_private(self.kem, ikm_e)
    }

    /// The rest of the seal once `Encap`'s X25519 is done (`enc` = pkE, `dh` = DH(skE,
    /// pkR)): `ExtractAndExpand`, the key schedule and the AEAD. `pk_r` is the recipient key
    /// of the KEM context (a simulated seal's stand-in).
    fn seal_with_dh(
        &self,
        pk_r: &[u8],
        enc: Vec<u8>,
        dh: Secret,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        // kem_context = enc || pkR (RFC 9180 §4.1).
        let shared_secret = extract_and_expand(self.kem, &dh, &enc, pk_r)?;
        drop(dh);
        self.seal_with_shared_secret(enc, &shared_secret, aad, plaintext)
    }

    /// The rest of the seal once `Encap` is done: the key schedule and the AEAD.
    fn seal_with_shared_secret(
        &self,
        enc: Vec<u8>,
        shared_secret: &Secret,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        let (key, base_nonce) = self.schedule.key_and_nonce(shared_secret)?;
        // Seal with sequence number 0: nonce = base_nonce XOR 0 (RFC 9180 §5.2).
        let ct = awslc::aead_seal(
            self.schedule.aead,
            key.as_bytes(),
            base_nonce.as_bytes(),
            aad,
            plaintext,
        )?;
        Ok((enc, ct))
    }
}

/// A key as one X25519 lane; `error` if it is not 32 bytes (checked before, so never).
fn lane(key: &[u8], error: CryptoError) -> Result<[u8; X25519_LEN]> {
    key.try_into().map_err(|_| error)
}

/// `OpenBase` / `DecryptWithLabel` of many ciphertexts with the same `info`: the receiving
/// counterpart of [`SealContext`].
#[derive(Debug, Clone)]
pub struct OpenContext {
    schedule: BaseSchedule,
    kem: Kem,
    /// Simulated Diffie-Hellman (a simulated provider's, see
    /// [`Provider::with_simulated_crypto`]): opens what a simulated [`SealContext`] sealed.
    simulated: bool,
}

impl OpenContext {
    /// The context of `DecryptWithLabel(_, label, context, _, _)` (RFC 9420 §5.1.3).
    pub fn new(provider: &Provider, label: &[u8], context: &[u8]) -> Result<Self> {
        let schedule = BaseSchedule::for_context(provider, label, context)?;
        Ok(Self::with_schedule(provider, schedule))
    }

    /// The context of plain HPKE `OpenBase(_, _, info, _, _)` (RFC 9180 §6.1).
    pub fn from_info(provider: &Provider, info: &[u8]) -> Self {
        Self::with_schedule(provider, BaseSchedule::new(provider, info))
    }

    /// The context with `schedule`, opening as `provider` does.
    fn with_schedule(provider: &Provider, schedule: BaseSchedule) -> Self {
        OpenContext {
            schedule,
            kem: provider.kem(),
            simulated: provider.is_simulated(),
        }
    }

    /// `DecryptWithLabel(sk_r, label, context, kem_output, ciphertext)`; the same result as
    /// [`Provider::decrypt_with_label`], including its errors
    /// ([`CryptoError::HpkeOpenFailed`] if the ciphertext does not authenticate).
    pub fn open(
        &self,
        sk_r: &HpkePrivateKey,
        kem_output: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>> {
        self.open_with_aad(sk_r, kem_output, b"", ciphertext)
    }

    /// `OpenBase(kem_output, sk_r, info, aad, ciphertext)` (RFC 9180 §6.1).
    pub fn open_with_aad(
        &self,
        sk_r: &HpkePrivateKey,
        kem_output: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>> {
        // The same checks, in the same order, as `Provider::hpke_open`, before the count.
        self.check_decap_inputs(sk_r, kem_output)?;
        super::counters::hpke_open();
        // Decap (RFC 9180 §4.1); simulated, the stand-in DH and recipient key of a simulated
        // seal, with the same counts.
        let shared_secret = self.decap(sk_r, kem_output)?;
        let (key, base_nonce) = self.schedule.key_and_nonce(&shared_secret)?;
        awslc::aead_open(
            self.schedule.aead,
            key.as_bytes(),
            base_nonce.as_bytes(),
            aad,
            ciphertext,
        )
        .map_err(|e| match e {
            CryptoError::AeadOpenFailed => CryptoError::HpkeOpenFailed,
            other => other,
        })
    }

    /// `SetupBaseR(kem_output, sk_r, info)` then `Context.Export(exporter_context, length)`
    /// (RFC 9180 §5.3): the receiving side of [`SealContext::send_export`].
    pub fn receiver_export(
        &self,
        sk_r: &HpkePrivateKey,
        kem_output: &[u8],
        exporter_context: &[u8],
        length: usize,
    ) -> Result<Secret> {
        let shared_secret = self.decap(sk_r, kem_output)?;
        self.schedule.export(&shared_secret, exporter_context, length)
    }

    /// The length checks of `Decap`: the private key's, then the encapsulation's.
    fn check_decap_inputs(&self, sk_r: &HpkePrivateKey, kem_output: &[u8]) -> Result<()> {
        if !dhkem::private_key_len_ok(self.kem, sk_r.as_bytes().len()) {
            return Err(CryptoError::InvalidPrivateKey);
        }
        if kem_output.len() != self.kem.n_enc() {
            return Err(CryptoError::InvalidPublicKey);
        }
        Ok(())
    }

    /// `Decap(enc, skR)` (RFC 9180 §4.1): `kem_context = enc || pkRm`. The same checks, in
    /// the same order, as `Provider::hpke_open`.
    fn decap(&self, sk_r: &HpkePrivateKey, kem_output: &[u8]) -> Result<Secret> {
        self.check_decap_inputs(sk_r, kem_output)?;
        if self.kem == Kem::XWing {
            return xwing::Expanded::from_seed(sk_r.as_bytes())?.decapsulate(kem_output);
        }
        if let Some(set) = dhkem::mlkem_set(self.kem) {
            let key = mlkem::PrivateKey::from_seed(set, sk_r.as_bytes())?;
            return Ok(key.decapsulate(kem_output)?);
        }
        let (pk_r, dh) = if self.simulated {
            let dh = dhkem::dh_simulated(self.kem, sk_r.as_bytes(), kem_output)?;
            (dhkem::simulated_recipient(self.kem).to_vec(), dh)
        } else {
            dhkem::key_pair_and_dh(self.kem, sk_r.as_bytes(), kem_output)?
        };
        extract_and_expand(self.kem, &dh, kem_output, &pk_r)
    }
}

/// `ExtractAndExpand(dh, kem_context)` of DHKEM (RFC 9180 §4.1), with `kem_context = enc ||
/// pk_r`: `eae_prk = LabeledExtract("", "eae_prk", dh)`, `shared_secret =
/// LabeledExpand(eae_prk, "shared_secret", kem_context, Nsecret)`.
fn extract_and_expand(kem: Kem, dh: &Secret, enc: &[u8], pk_r: &[u8]) -> Result<Secret> {
    let suite_id = dhkem::kem_suite_id(kem);
    let eae_prk = labeled_extract(kem.kdf(), &suite_id, b"", b"eae_prk", dh.as_bytes());
    let kem_context = [enc, pk_r].concat();
    // Nsecret ≤ 64 fits in u16.
    labeled_expand(
        kem.kdf(),
        &suite_id,
        eae_prk.as_bytes(),
        b"shared_secret",
        &kem_context,
        kem.n_secret() as u16,
    )
}

/// `LabeledExtract("", label, ikm)` for a public (and possibly very large) `ikm`, given as the
/// parts it is the concatenation of, streamed through HMAC without copying them. An empty
/// salt is the HMAC key of `Nh` zero bytes (RFC 5869 §2.2), which HMAC pads to the same block
/// as the empty key.
fn labeled_extract_public(
    hash: HashAlg,
    suite_id: &[u8],
    label: &[u8],
    ikm: &[&[u8]],
) -> hmac::Tag {
    let mut ctx = labeled_extract_start(hash, suite_id, label);
    for part in ikm {
        super::counters::hashed(part.len());
        ctx.update(part);
    }
    ctx.sign()
}

/// The HMAC of `LabeledExtract("", label, ·)` with `HPKE-v1 || suite_id || label` fed and
/// counted: what is left to feed is the `ikm`.
fn labeled_extract_start(hash: HashAlg, suite_id: &[u8], label: &[u8]) -> hmac::Context {
    let mut ctx = hmac::Context::with_key(&hmac::Key::new(hash.hmac(), b""));
    for part in [HPKE_V1, suite_id, label] {
        super::counters::hashed(part.len());
        ctx.update(part);
    }
    ctx
}

#[cfg(test)]
mod tests {
    //! Differential tests against hpke-rs (through [`Provider`], over aws-lc and over the
    //! independent RustCrypto back end) and the RFC 9180 vectors. Each test counts the values
    //! it compared and checks the count, so a loop that silently runs zero times fails.

    use hpke_rs::{Hpke, Mode};
    use hpke_rs_crypto::types::{KdfAlgorithm, KemAlgorithm};
    use hpke_rs_rust_crypto::HpkeRustCrypto;
    use rand::{Rng, RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use serde_json::Value;

    use super::*;
    use crate::crypto::{CipherSuite, HpkeRng, WithHpkeRng, X25519Backend};

    const SUITE_1: CipherSuite = CipherSuite::Mls128X25519Aes128GcmSha256Ed25519;

    /// The suites these tests compare with hpke-rs over aws-lc, which runs X25519 only; the
    /// other KEMs are held to the RFC 9180 and MLS vectors (`conformance`).
    fn x25519_suites() -> impl Iterator<Item = CipherSuite> {
        CipherSuite::ALL
            .iter()
            .copied()
            .filter(|s| s.kem() == crate::crypto::Kem::X25519)
    }
    const SUITE_3: CipherSuite = CipherSuite::Mls128X25519ChaCha20Poly1305Sha256Ed25519;

    /// A low-order X25519 point (order 8, RFC 7748 / Wycheproof): DH with it is all zero.
    const LOW_ORDER_POINT: [u8; 32] = [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
        0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
        0xb8, 0x00,
    ];

    fn random_bytes(rng: &mut ChaCha8Rng, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        rng.fill_bytes(&mut out);
        out
    }

    /// (label, context) pairs: empty, at each varint-header boundary, and about 1 MB (the
    /// size class of a large group's encrypted GroupInfo).
    fn contexts(rng: &mut ChaCha8Rng) -> Vec<(&'static [u8], Vec<u8>)> {
        let mut out: Vec<(&'static [u8], Vec<u8>)> = vec![(b"", Vec::new()), (b"Welcome", vec![])];
        for len in [1, 63, 64, 16383, 16384] {
            out.push((b"UpdatePathNode", random_bytes(rng, len)));
        }
        out.push((b"Welcome", random_bytes(rng, (1 << 20) + 17)));
        out
    }

    /// For every context, `SEALS` recipients: `SealContext::seal` with a given `ikm_e` equals
    /// `Provider::encrypt_with_label_with_ikm` byte for byte; both `decrypt_with_label` and
    /// `OpenContext::open` recover the plaintext.
    fn seal_matches_provider(suite: CipherSuite, seed: u64) {
        const SEALS: usize = 12;
        let p = Provider::new(suite);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut checks = 0;
        let ctxs = contexts(&mut rng);
        for (label, context) in &ctxs {
            let seal_ctx = SealContext::new(&p, label, context).unwrap();
            let open_ctx = OpenContext::new(&p, label, context).unwrap();
            for i in 0..SEALS {
                let (sk, pk) = p.derive_hpke_key_pair(&random_bytes(&mut rng, 32)).unwrap();
                let ikm_e = random_bytes(&mut rng, 32);
                // Empty, short, and a few AEAD blocks plus a partial one.
                let pt_len = [0, 1, 32, 100, 1000][i % 5] + rng.random_range(0..3);
                let pt = random_bytes(&mut rng, pt_len);

                let ours = seal_ctx.seal(&pk, &pt, Some(&ikm_e)).unwrap();
                let reference = p
                    .encrypt_with_label_with_ikm(&pk, label, context, &pt, &ikm_e)
                    .unwrap();
                assert_eq!(ours, reference, "suite {suite}, label {label:?}, seal {i}");
                checks += 1;
                let (enc, ct) = ours;
                assert_eq!(
                    p.decrypt_with_label(&sk, label, context, &enc, &ct)
                        .unwrap(),
                    pt
                );
                assert_eq!(open_ctx.open(&sk, &enc, &ct).unwrap(), pt);
                checks += 2;
            }
        }
        assert_eq!(checks, ctxs.len() * SEALS * 3);
    }

    /// A context hashed in pieces (`SealContext::hasher`) is the context `SealContext::new`
    /// computes from the whole, in every suite, for every context of `contexts` cut at
    /// random places; a context longer or shorter than announced is an error.
    #[test]
    fn context_hashed_in_pieces_equals_the_whole() {
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        let mut checked = 0;
        for &suite in CipherSuite::ALL {
            let p = Provider::new(suite);
            let (_, pk) = p.derive_hpke_key_pair(&[7; 32]).unwrap();
            let ikm_e = vec![0x44; p.kem().n_sk()];
            for (label, context) in contexts(&mut rng) {
                let mut hasher = SealContext::hasher(&p, label, context.len()).unwrap();
                let mut at = 0;
                while at < context.len() {
                    let next = rng.random_range(at..=context.len());
                    hasher.update(&context[at..next]).unwrap();
                    at = next;
                }
                let pieces = hasher.finish(&p).unwrap();
                let whole = SealContext::new(&p, label, &context).unwrap();
                assert_eq!(
                    pieces.seal(&pk, b"pt", Some(&ikm_e)).unwrap(),
                    whole.seal(&pk, b"pt", Some(&ikm_e)).unwrap(),
                    "{suite:?} {label:?} {}",
                    context.len()
                );
                checked += 1;
            }
            let mut long = SealContext::hasher(&p, b"Welcome", 3).unwrap();
            assert!(long.update(b"ab").is_ok());
            assert!(matches!(long.update(b"cd"), Err(CryptoError::InvalidLength(_))));
            let short = SealContext::hasher(&p, b"Welcome", 3).unwrap();
            assert!(matches!(short.finish(&p), Err(CryptoError::InvalidLength(_))));
        }
        assert_eq!(checked, CipherSuite::ALL.len() * 8);
    }

    #[test]
    fn seal_matches_provider_awslc_suite1() {
        seal_matches_provider(SUITE_1, 1);
    }

    #[test]
    fn seal_matches_provider_awslc_suite3() {
        seal_matches_provider(SUITE_3, 3);
    }

    /// Plain `SealBase` with a non-empty `aad` against hpke-rs over RustCrypto: independent
    /// primitives as well as an independent HPKE.
    fn seal_matches_rust_crypto(suite: CipherSuite, seed: u64) {
        const SEALS: usize = 16;
        let p = Provider::new(suite);
        let rc = |rng| {
            Hpke::<WithHpkeRng<HpkeRustCrypto>>::new_with_rng(
                Mode::Base,
                KemAlgorithm::DhKem25519,
                KdfAlgorithm::HkdfSha256,
                suite.hpke_aead(),
                rng,
            )
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut checks = 0;
        for i in 0..SEALS {
            let info = random_bytes(&mut rng, [0, 5, 200, 70_000][i % 4]);
            let aad = random_bytes(&mut rng, i % 3 * 9);
            let pt = random_bytes(&mut rng, i * 13);
            let (sk, pk) = p.derive_hpke_key_pair(&random_bytes(&mut rng, 32)).unwrap();
            let ikm_e = random_bytes(&mut rng, 32);
            let ours = SealContext::from_info(&p, &info)
                .seal_with_aad(&pk, &aad, &pt, Some(&ikm_e))
                .unwrap();
            let theirs = rc(HpkeRng::fixed(&ikm_e))
                .seal(&pk.clone().into(), &info, &aad, &pt, None, None, None)
                .unwrap();
            assert_eq!(ours, theirs, "suite {suite}, seal {i}");
            // A random RustCrypto encryption opens with OpenContext.
            let (enc, ct) = rc(HpkeRng::system())
                .seal(&pk.clone().into(), &info, &aad, &pt, None, None, None)
                .unwrap();
            let opened = OpenContext::from_info(&p, &info)
                .open_with_aad(&sk, &enc, &aad, &ct)
                .unwrap();
            assert_eq!(opened, pt);
            checks += 2;
        }
        assert_eq!(checks, 2 * SEALS);
    }

    #[test]
    fn seal_matches_rust_crypto_awslc_suite1() {
        seal_matches_rust_crypto(SUITE_1, 11);
    }

    #[test]
    fn seal_matches_rust_crypto_awslc_suite3() {
        seal_matches_rust_crypto(SUITE_3, 13);
    }

    /// Without `ikm_e` every seal draws a fresh ephemeral key, and the output opens.
    #[test]
    fn random_ephemeral_opens_awslc_all_suites() {
        let mut checks = 0;
        for suite in x25519_suites() {
            let p = Provider::new(suite);
            let (sk, pk) = p.generate_hpke_key_pair().unwrap();
            let ctx = SealContext::new(&p, b"Welcome", b"group info").unwrap();
            let (enc1, ct1) = ctx.seal(&pk, b"secrets", None).unwrap();
            let (enc2, ct2) = ctx.seal(&pk, b"secrets", None).unwrap();
            assert_ne!(enc1, enc2);
            assert_ne!(ct1, ct2);
            for (enc, ct) in [(&enc1, &ct1), (&enc2, &ct2)] {
                let opened = p
                    .decrypt_with_label(&sk, b"Welcome", b"group info", enc, ct)
                    .unwrap();
                assert_eq!(opened, b"secrets");
                checks += 1;
            }
        }
        assert_eq!(checks, 2 * x25519_suites().count());
    }

    /// RFC 9180 Appendix A: base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, with
    /// AES-128-GCM (A.1.1) and ChaCha20-Poly1305 (A.2.1). `ikmE` must reproduce `enc` and the
    /// first ciphertext; the intermediate values and the receiver side are checked too.
    #[test]
    fn rfc9180_vectors_base_x25519_sha256_all_suites() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/test_vectors/hpke/test-vectors.json"
        );
        let json: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let hex = |v: &Value, k: &str| hex::decode(v[k].as_str().unwrap()).unwrap();
        let (mut vectors, mut checks) = (0, 0);
        for (i, v) in json.as_array().unwrap().iter().enumerate() {
            let ids = ["mode", "kem_id", "kdf_id", "aead_id"].map(|k| v[k].as_u64().unwrap());
            let suite = match ids {
                [0, 0x20, 1, 1] => SUITE_1,
                [0, 0x20, 1, 3] => SUITE_3,
                _ => continue,
            };
            println!("vector {i}: {suite}");
            let p = Provider::new(suite);
            let info = hex(v, "info");
            let first = &v["encryptions"][0];
            let (aad, pt, ct) = (hex(first, "aad"), hex(first, "pt"), hex(first, "ct"));
            let ikm_e = hex(v, "ikmE");
            let pk_r = hex(v, "pkRm");

            let seal_ctx = SealContext::from_info(&p, &info);
            assert_eq!(
                seal_ctx.schedule.context(),
                hex(v, "key_schedule_context")
            );
            let (enc, sealed) = seal_ctx
                .seal_with_aad(&pk_r, &aad, &pt, Some(&ikm_e))
                .unwrap();
            assert_eq!(enc, hex(v, "enc"));
            assert_eq!(sealed, ct);
            checks += 3;

            // Intermediate values from the ephemeral side.
            let dh = awslc::x25519(&hex(v, "skEm"), &pk_r).unwrap();
            let shared_secret = extract_and_expand(Kem::X25519, &dh, &enc, &pk_r).unwrap();
            assert_eq!(shared_secret.as_bytes(), hex(v, "shared_secret"));
            let (key, base_nonce) = seal_ctx.schedule.key_and_nonce(&shared_secret).unwrap();
            assert_eq!(key.as_bytes(), hex(v, "key"));
            assert_eq!(base_nonce.as_bytes(), hex(v, "base_nonce"));
            assert_eq!(base_nonce.as_bytes(), hex(first, "nonce"));
            checks += 4;

            // The receiver opens the vector's ciphertext, and rejects it under another aad.
            let sk_r = HpkePrivateKey::new(hex(v, "skRm"));
            let open_ctx = OpenContext::from_info(&p, &info);
            assert_eq!(open_ctx.open_with_aad(&sk_r, &enc, &aad, &ct).unwrap(), pt);
            assert_eq!(
                open_ctx.open_with_aad(&sk_r, &enc, b"Count-1", &ct),
                Err(CryptoError::HpkeOpenFailed)
            );
            checks += 2;
            vectors += 1;
        }
        assert_eq!(vectors, 2, "one vector per MLS suite");
        assert_eq!(checks, 9 * 2);
    }

    /// Degenerate inputs give the same typed errors as the provider's hpke-rs path.
    #[test]
    fn errors_match_provider_awslc_all_suites() {
        let mut checks = 0;
        for suite in x25519_suites() {
            let p = Provider::new(suite);
            let (sk, pk) = p.derive_hpke_key_pair(&[5; 32]).unwrap();
            let seal_ctx = SealContext::new(&p, b"l", b"c").unwrap();
            let open_ctx = OpenContext::new(&p, b"l", b"c").unwrap();
            let seal_cases: [(&[u8], Option<&[u8]>); 6] = [
                (&LOW_ORDER_POINT, Some(&[7; 32])),
                (&LOW_ORDER_POINT, None),
                (&[0; 32], Some(&[7; 32])),
                (&pk[..31], Some(&[7; 32])),
                (&pk, Some(&[7; 31])),
                (&pk[..31], Some(&[7; 33])),
            ];
            for (pk_r, ikm_e) in seal_cases {
                let ours = seal_ctx.seal(pk_r, b"pt", ikm_e).unwrap_err();
                let reference = match ikm_e {
                    Some(ikm) => p.encrypt_with_label_with_ikm(pk_r, b"l", b"c", b"pt", ikm),
                    None => p.encrypt_with_label(pk_r, b"l", b"c", b"pt"),
                }
                .unwrap_err();
                assert_eq!(ours, reference, "{pk_r:?} {ikm_e:?}");
                checks += 1;
            }
            assert_eq!(
                seal_ctx
                    .seal(&LOW_ORDER_POINT, b"pt", Some(&[7; 32]))
                    .unwrap_err(),
                CryptoError::ZeroSharedSecret
            );
            checks += 1;

            let (enc, ct) = seal_ctx.seal(&pk, b"pt", Some(&[9; 32])).unwrap();
            let mut bad_ct = ct.clone();
            bad_ct[0] ^= 1;
            let (other_sk, _) = p.derive_hpke_key_pair(&[6; 32]).unwrap();
            let short_sk = HpkePrivateKey::new(vec![1; 31]);
            let open_cases: [(&HpkePrivateKey, &[u8], &[u8]); 7] = [
                (&sk, &enc, &bad_ct),
                (&sk, &enc, &ct[..15]),
                (&other_sk, &enc, &ct),
                (&sk, &LOW_ORDER_POINT, &ct),
                (&sk, &enc[..31], &ct),
                (&short_sk, &enc, &ct),
                (&short_sk, &enc[..31], &ct),
            ];
            for (sk_r, enc, ct) in open_cases {
                let ours = open_ctx.open(sk_r, enc, ct).unwrap_err();
                let reference = p.decrypt_with_label(sk_r, b"l", b"c", enc, ct).unwrap_err();
                assert_eq!(ours, reference);
                checks += 1;
            }
            // Another label or context does not open.
            let other = OpenContext::new(&p, b"l", b"d").unwrap();
            assert_eq!(other.open(&sk, &enc, &ct), Err(CryptoError::HpkeOpenFailed));
            assert_eq!(open_ctx.open(&sk, &enc, &ct).unwrap(), b"pt");
            checks += 2;
        }
        assert_eq!(checks, 16 * x25519_suites().count());
    }

    /// `seal_batch` on every X25519 backend this host runs equals `seal` request by request:
    /// the same bytes, and the same error in the same position, for batches around the
    /// register widths that mix good recipients with low-order keys (an all-zero DH), keys and
    /// seeds of the wrong length, and random ephemerals (which must open).
    fn seal_batch_matches_seal(suite: CipherSuite, seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let reference = Provider::new(suite)
            .with_x25519_backend(X25519Backend::AwsLc)
            .unwrap();
        let (sk, pk) = reference.derive_hpke_key_pair(&[4; 32]).unwrap();
        let short_pk = pk[..31].to_vec();
        let mut checks = 0;
        for backend in X25519Backend::ALL {
            let Ok(p) = reference.with_x25519_backend(backend) else {
                println!("UNTESTED: the {backend} backend does not run on this host");
                continue;
            };
            let ctx = SealContext::new(&p, b"UpdatePathNode", b"group context").unwrap();
            let plain = SealContext::new(&reference, b"UpdatePathNode", b"group context").unwrap();
            for n in [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17] {
                let ikms: Vec<Vec<u8>> = (0..n)
                    .map(|i| random_bytes(&mut rng, if i % 11 == 6 { 31 } else { 32 }))
                    .collect();
                let pts: Vec<Vec<u8>> = (0..n).map(|i| random_bytes(&mut rng, i * 7)).collect();
                let requests: Vec<SealRequest<'_>> = (0..n)
                    .map(|i| SealRequest {
                        pk_r: match i % 5 {
                            3 => &LOW_ORDER_POINT,
                            4 if i % 2 == 0 => &short_pk,
                            _ => &pk,
                        },
                        plaintext: &pts[i],
                        // Every seventh request draws a random ephemeral.
                        ikm_e: (i % 7 != 5).then_some(ikms[i].as_slice()),
                    })
                    .collect();
                let batched = ctx.seal_batch(&requests);
                assert_eq!(batched.len(), n);
                for (i, (r, ours)) in requests.iter().zip(batched).enumerate() {
                    let single = plain.seal(r.pk_r, r.plaintext, r.ikm_e);
                    match (r.ikm_e, ours) {
                        (Some(_), ours) => assert_eq!(ours, single, "{backend} n={n} i={i}"),
                        (None, Ok((enc, ct))) => {
                            assert!(single.is_ok(), "{backend} n={n} i={i}");
                            let opened = OpenContext::new(&p, b"UpdatePathNode", b"group context")
                                .unwrap()
                                .open(&sk, &enc, &ct)
                                .unwrap();
                            assert_eq!(opened, r.plaintext);
                        }
                        (None, Err(e)) => assert_eq!(Err(e), single, "{backend} n={n} i={i}"),
                    }
                    checks += 1;
                }
            }
        }
        assert_eq!(checks, 72 * X25519Backend::available().len());
    }

    #[test]
    fn seal_batch_matches_seal_every_backend_suite1() {
        seal_batch_matches_seal(SUITE_1, 21);
    }

    #[test]
    fn seal_batch_matches_seal_every_backend_suite3() {
        seal_batch_matches_seal(SUITE_3, 23);
    }

    #[test]
    fn contexts_are_send_sync() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<SealContext>();
        assert_send_sync::<OpenContext>();
    }
}
