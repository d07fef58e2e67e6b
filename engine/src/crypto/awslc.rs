//! The aws-lc-rs primitives behind the provider and the HPKE back end.
//!
//! Every function validates lengths itself and reports a typed [`CryptoError`]; none panics.

use super::counters;
use aws_lc_rs::{aead, agreement, digest, hkdf, hmac, rand, signature};

use super::{CryptoError, Secret};

/// X25519 scalar and point length (RFC 7748 §5).
pub const X25519_LEN: usize = 32;
/// Ed25519 private-key seed length (RFC 8032 §5.1.5).
pub const ED25519_SEED_LEN: usize = 32;
/// Ed25519 public-key length (RFC 8032 §5.1.5).
pub const ED25519_PUBLIC_KEY_LEN: usize = 32;
/// Ed25519 signature length (RFC 8032 §5.1.6).
pub const ED25519_SIGNATURE_LEN: usize = 64;
/// Length of the 96-bit nonces every AEAD here takes (RFC 5116 §3.2).
pub const AEAD_NONCE_LEN: usize = 12;
/// Tag length of every AEAD here.
pub const AEAD_TAG_LEN: usize = 16;

/// The hash functions used by the KDFs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-256 (the MLS suites 1 and 3).
    Sha256,
    /// SHA-384 (HPKE KDF 0x0002).
    Sha384,
    /// SHA-512 (HPKE KDF 0x0003).
    Sha512,
}

impl HashAlg {
    pub(crate) fn hmac(self) -> hmac::Algorithm {
        match self {
            HashAlg::Sha256 => hmac::HMAC_SHA256,
            HashAlg::Sha384 => hmac::HMAC_SHA384,
            HashAlg::Sha512 => hmac::HMAC_SHA512,
        }
    }

    fn hkdf(self) -> hkdf::Algorithm {
        match self {
            HashAlg::Sha256 => hkdf::HKDF_SHA256,
            HashAlg::Sha384 => hkdf::HKDF_SHA384,
            HashAlg::Sha512 => hkdf::HKDF_SHA512,
        }
    }

    /// Output length in bytes (`Nh`).
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }
}

/// The AEADs Canopy can run (RFC 5116, RFC 8439). AES-192/256-GCM are not used by the MLS
/// suites Canopy implements; they are here for HPKE AEAD 0x0002 and for Wycheproof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeadAlg {
    /// AES-128-GCM.
    Aes128Gcm,
    /// AES-192-GCM.
    Aes192Gcm,
    /// AES-256-GCM.
    Aes256Gcm,
    /// ChaCha20-Poly1305.
    ChaCha20Poly1305,
}

impl AeadAlg {
    fn algorithm(self) -> &'static aead::Algorithm {
        match self {
            AeadAlg::Aes128Gcm => &aead::AES_128_GCM,
            AeadAlg::Aes192Gcm => &aead::AES_192_GCM,
            AeadAlg::Aes256Gcm => &aead::AES_256_GCM,
            AeadAlg::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
        }
    }

    /// Key length in bytes (`Nk`).
    pub fn key_len(self) -> usize {
        self.algorithm().key_len()
    }
}

/// SHA-256 digest.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    counters::hashed(data.len());
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

/// The digest of `data` with `alg`.
pub fn hash(alg: HashAlg, data: &[u8]) -> Vec<u8> {
    counters::hashed(data.len());
    let alg = match alg {
        HashAlg::Sha256 => &digest::SHA256,
        HashAlg::Sha384 => &digest::SHA384,
        HashAlg::Sha512 => &digest::SHA512,
    };
    digest::digest(alg, data).as_ref().to_vec()
}

/// HMAC (RFC 2104) with the given hash.
pub fn hmac(alg: HashAlg, key: &[u8], data: &[u8]) -> Vec<u8> {
    counters::hashed(data.len());
    let key = hmac::Key::new(alg.hmac(), key);
    hmac::sign(&key, data).as_ref().to_vec()
}

/// HKDF-Extract (RFC 5869 §2.2): `HMAC-Hash(salt, IKM)`.
///
/// aws-lc's `hkdf::Salt::extract` keeps the PRK opaque, and MLS needs its bytes (it is the
/// next key-schedule secret), so Extract is computed as the HMAC it is defined to be. An
/// empty salt is HMAC with an empty key, which equals the `HashLen` zero bytes of §2.2.
pub fn hkdf_extract(alg: HashAlg, salt: &[u8], ikm: &[u8]) -> Secret {
    Secret::new(hmac(alg, salt, ikm))
}

/// The output length handed to aws-lc's HKDF-Expand.
struct OkmLen(usize);

impl hkdf::KeyType for OkmLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand (RFC 5869 §2.3) through aws-lc. Fails with [`CryptoError::InvalidLength`] if
/// `len > 255 * HashLen` or the PRK is longer than the largest digest (64 bytes; aws-lc's
/// limit, and never the case for a PRK produced by Extract).
pub fn hkdf_expand(
    alg: HashAlg,
    prk: &[u8],
    info: &[u8],
    len: usize,
) -> Result<Secret, CryptoError> {
    counters::hkdf_expand();
    if prk.len() > digest::MAX_OUTPUT_LEN {
        return Err(CryptoError::InvalidLength("HKDF PRK longer than 64 bytes"));
    }
    if len > 255 * alg.output_len() {
        return Err(CryptoError::InvalidLength(
            "HKDF output longer than 255 * Nh",
        ));
    }
    // `new_less_safe` panics only for a PRK over MAX_OUTPUT_LEN, excluded above.
    let prk = hkdf::Prk::new_less_safe(alg.hkdf(), prk);
    let info = [info];
    let okm = prk
        .expand(&info, OkmLen(len))
        .map_err(|_| CryptoError::InvalidLength("HKDF output longer than 255 * Nh"))?;
    let mut out = vec![0u8; len];
    okm.fill(&mut out)
        .map_err(|_| CryptoError::Backend("HKDF-Expand failed".into()))?;
    Ok(Secret::new(out))
}

fn aead_key(
    alg: AeadAlg,
    key: &[u8],
    nonce: &[u8],
) -> Result<(aead::LessSafeKey, aead::Nonce), CryptoError> {
    if key.len() != alg.key_len() {
        return Err(CryptoError::InvalidLength("AEAD key"));
    }
    let nonce = aead::Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| CryptoError::InvalidLength("AEAD nonce (must be 96 bits)"))?;
    let key = aead::UnboundKey::new(alg.algorithm(), key)
        .map_err(|_| CryptoError::InvalidLength("AEAD key"))?;
    Ok((aead::LessSafeKey::new(key), nonce))
}

/// AEAD seal: returns `ciphertext || tag`.
pub fn aead_seal(
    alg: AeadAlg,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut in_out = Vec::with_capacity(plaintext.len() + AEAD_TAG_LEN);
    in_out.extend_from_slice(plaintext);
    aead_seal_in_place(alg, key, nonce, aad, &mut in_out)?;
    Ok(in_out)
}

/// [`aead_seal`] of the plaintext in `in_out`, replaced by `ciphertext || tag`.
pub(crate) fn aead_seal_in_place(
    alg: AeadAlg,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    in_out: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    counters::aead(in_out.len());
    let (key, nonce) = aead_key(alg, key, nonce)?;
    key.seal_in_place_append_tag(nonce, aead::Aad::from(aad), in_out)
        .map_err(|_| CryptoError::Backend("AEAD seal failed".into()))
}

/// AEAD open of `ciphertext || tag`. Any authentication failure, including a ciphertext
/// shorter than the tag, is [`CryptoError::AeadOpenFailed`].
pub fn aead_open(
    alg: AeadAlg,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut in_out = ciphertext.to_vec();
    aead_open_in_place(alg, key, nonce, aad, &mut in_out)?;
    Ok(in_out)
}

/// [`aead_open`] in the ciphertext's own buffer: on success `in_out` holds the plaintext (the
/// tag cut off). On failure its contents are unspecified (part may be decrypted), so a caller
/// must not read them. For a Welcome's encrypted GroupInfo, megabytes long, whose buffer the
/// joiner owns: one copy fewer, and 12.7 MB less at a 50,000-member join's peak.
pub fn aead_open_in_place(
    alg: AeadAlg,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    in_out: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    counters::aead(in_out.len());
    let (key, nonce) = aead_key(alg, key, nonce)?;
    if in_out.len() < AEAD_TAG_LEN {
        return Err(CryptoError::AeadOpenFailed);
    }
    let len = key
        .open_in_place(nonce, aead::Aad::from(aad), in_out)
        .map_err(|_| CryptoError::AeadOpenFailed)?
        .len();
    in_out.truncate(len);
    Ok(())
}

/// The u-coordinates of small order on Curve25519 and its twist (RFC 7748 §7), with bit 255
/// clear: 0, 1, the two points of order 8, p - 1, and the non-canonical p and p + 1. The
/// crypto tests derive each entry's order and check the list against Wycheproof's low-order
/// cases.
const X25519_SMALL_ORDER: [[u8; X25519_LEN]; 7] = [
    [0; 32],
    [
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0,
    ],
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
        0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
        0xb8, 0x00,
    ],
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef,
        0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f,
        0x11, 0x57,
    ],
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    [
        0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    [
        0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
];

/// Whether a 32-byte X25519 public key is a point of small order (in any of its encodings),
/// with which every Diffie-Hellman gives the all-zero secret. Public input: not constant time.
pub fn x25519_is_small_order(pk: &[u8]) -> bool {
    if pk.len() != X25519_LEN {
        return false;
    }
    let mut masked = [0u8; X25519_LEN];
    masked.copy_from_slice(pk);
    masked[31] &= 0x7f;
    X25519_SMALL_ORDER.contains(&masked)
}

/// The small-order list, for the crypto tests.
#[cfg(test)]
pub(crate) fn x25519_small_order_points() -> &'static [[u8; X25519_LEN]] {
    &X25519_SMALL_ORDER
}

/// Parse an X25519 private key. aws-lc derives the public key while parsing
/// (`EVP_PKEY_new_raw_private_key` stores both halves of the key pair), so every parse is a
/// fixed-base scalar multiplication, and is counted as one.
///
/// aws-lc-rs 1.18 offers no way to run a DH from raw private-key bytes without that parse
/// (`agreement::PrivateKey::from_private_key` is the only constructor from bytes;
/// `EphemeralPrivateKey` draws its own randomness, which seeded ephemerals cannot use), so the
/// wrappers below parse once per key and use the parsed key for everything it is needed for:
/// [`x25519_key_pair_and_dh`] gives the public key and the shared secret for one parse.
fn x25519_private(sk: &[u8]) -> Result<agreement::PrivateKey, CryptoError> {
    if sk.len() != X25519_LEN {
        return Err(CryptoError::InvalidPrivateKey);
    }
    counters::x25519_base();
    agreement::PrivateKey::from_private_key(&agreement::X25519, sk)
        .map_err(|_| CryptoError::InvalidPrivateKey)
}

/// The X25519 public key of a 32-byte private key (RFC 7748 §6.1): one fixed-base
/// multiplication.
pub fn x25519_public(sk: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let sk = x25519_private(sk)?;
    public_of(&sk)
}

fn public_of(sk: &agreement::PrivateKey) -> Result<Vec<u8>, CryptoError> {
    // Reads the public key computed by the parse: no further multiplication.
    let pk = sk
        .compute_public_key()
        .map_err(|_| CryptoError::InvalidPrivateKey)?;
    Ok(pk.as_ref().to_vec())
}

fn dh(sk: &agreement::PrivateKey, pk: &[u8]) -> Result<Secret, CryptoError> {
    if pk.len() != X25519_LEN {
        return Err(CryptoError::InvalidPublicKey);
    }
    counters::x25519_dh();
    let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, pk);
    let shared = agreement::agree(sk, peer, CryptoError::ZeroSharedSecret, |s| {
        Ok(Secret::from_slice(s))
    })?;
    if super::secret::ct_eq(shared.as_bytes(), &[0u8; X25519_LEN]) {
        return Err(CryptoError::ZeroSharedSecret);
    }
    Ok(shared)
}

/// X25519 Diffie-Hellman (RFC 7748 §6.1) that rejects an all-zero shared secret, as RFC 9180
/// §7.1.4 requires of DHKEM(X25519). Costs a fixed-base multiplication (parsing `sk`, see
/// `x25519_private`) and the DH; prefer [`x25519_key_pair_and_dh`] when the own public key
/// is needed too.
///
/// X25519 accepts every 32-byte string as a public key, so once both lengths are right the only
/// way aws-lc's `X25519()` fails is the all-zero output (it checks for it); that failure is
/// reported as [`CryptoError::ZeroSharedSecret`]. The output is checked again here in case
/// the back end ever stops doing so.
pub fn x25519(sk: &[u8], pk: &[u8]) -> Result<Secret, CryptoError> {
    let sk = x25519_private(sk)?;
    dh(&sk, pk)
}

/// `(public key of sk, X25519(sk, pk))` for one parse of `sk`: what an HPKE Encap (the
/// ephemeral's public key and the DH) and Decap (the DH and the recipient's own public key,
/// RFC 9180 §4.1) need, at one fixed-base multiplication and one DH. The same checks and
/// errors as [`x25519`].
pub fn x25519_key_pair_and_dh(sk: &[u8], pk: &[u8]) -> Result<(Vec<u8>, Secret), CryptoError> {
    let sk = x25519_private(sk)?;
    let shared = dh(&sk, pk)?;
    Ok((public_of(&sk)?, shared))
}

/// Ed25519 verification (RFC 8032 §5.1.7) of `sig` over `msg`.
pub fn ed25519_verify(pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
    counters::ed25519_verify(msg.len());
    if pk.len() != ED25519_PUBLIC_KEY_LEN {
        return Err(CryptoError::InvalidPublicKey);
    }
    signature::UnparsedPublicKey::new(&signature::ED25519, pk)
        .verify(msg, sig)
        .map_err(|_| CryptoError::InvalidSignature)
}

/// What [`ed25519_verify`] counts, and its key-length check, without verifying: a simulated
/// provider's verification (see `Provider::with_simulated_crypto`).
pub fn ed25519_verify_counted(pk: &[u8], msg: &[u8]) -> Result<(), CryptoError> {
    counters::ed25519_verify(msg.len());
    if pk.len() != ED25519_PUBLIC_KEY_LEN {
        return Err(CryptoError::InvalidPublicKey);
    }
    Ok(())
}

/// The simulated stand-in of [`x25519_key_pair_and_dh`] for an HPKE sender's ephemeral key
/// `sk` (see `Provider::with_simulated_crypto`): counted as one fixed-base multiplication and
/// one DH, like the real one, with the same length checks; returns a stand-in public key
/// (a hash of `sk`) and the stand-in DH output of that key ([`x25519_simulated`]).
pub fn x25519_key_pair_and_dh_simulated(
    sk: &[u8],
    pk: &[u8],
) -> Result<(Vec<u8>, Secret), CryptoError> {
    count_simulated_dh(sk, pk)?;
    let enc = uncounted_hash(b"canopy simulated x25519 public", sk);
    let shared = simulated_dh(&enc);
    Ok((enc, shared))
}

/// The simulated stand-in of [`x25519`] on the receiving side of HPKE, where `pk` is the
/// sender's ephemeral public key: counted as one fixed-base multiplication and one DH, like
/// the real one, with the same length checks; returns what the simulated sender
/// ([`x25519_key_pair_and_dh_simulated`]) computed for the same `pk`.
pub fn x25519_simulated(sk: &[u8], pk: &[u8]) -> Result<Secret, CryptoError> {
    count_simulated_dh(sk, pk)?;
    Ok(simulated_dh(pk))
}

/// The simulated stand-in of [`x25519_public`] for the recipient's own public key in an HPKE
/// KEM context: counted as one fixed-base multiplication, with the same length check;
/// returns [`SIMULATED_RECIPIENT`], which the simulated sender puts in the KEM context too.
pub fn x25519_public_simulated(sk: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sk.len() != X25519_LEN {
        return Err(CryptoError::InvalidPrivateKey);
    }
    counters::x25519_base();
    Ok(SIMULATED_RECIPIENT.to_vec())
}

/// The recipient's public key in a simulated HPKE KEM context (`enc || pkR`, RFC 9180 §4.1),
/// on both sides: the sender has the real key, the receiver only its private key, whose public
/// key a simulated provider does not compute.
pub const SIMULATED_RECIPIENT: [u8; X25519_LEN] = [0; X25519_LEN];

/// The counts and checks of [`x25519_key_pair_and_dh`] and [`x25519`], in their order: the
/// private key parsed (a fixed-base multiplication), then the DH.
fn count_simulated_dh(sk: &[u8], pk: &[u8]) -> Result<(), CryptoError> {
    if sk.len() != X25519_LEN {
        return Err(CryptoError::InvalidPrivateKey);
    }
    counters::x25519_base();
    if pk.len() != X25519_LEN {
        return Err(CryptoError::InvalidPublicKey);
    }
    counters::x25519_dh();
    Ok(())
}

/// The simulated DH output for the sender's ephemeral public key `enc`.
fn simulated_dh(enc: &[u8]) -> Secret {
    Secret::new(uncounted_hash(b"canopy simulated x25519 dh", enc))
}

/// SHA-256 of `label || data`, not counted: the stand-ins' own bookkeeping, which a real
/// operation does not do.
fn uncounted_hash(label: &[u8], data: &[u8]) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(label);
    ctx.update(data);
    ctx.finish().as_ref().to_vec()
}

/// `n` bytes from aws-lc's RNG.
pub fn fill_random(out: &mut [u8]) -> Result<(), CryptoError> {
    rand::fill(out).map_err(|_| CryptoError::Backend("aws-lc RNG failure".into()))
}
