//! The Diffie-Hellman half of every suite's DHKEM (RFC 9180 §4.1, §7.1): `DeriveKeyPair`, the
//! public key of a private key, `DH`, and the check of a public key that arrives from the wire.
//!
//! X25519 runs on the aws-lc wrappers of [`super::awslc`] (and, batched, on the lanes of
//! [`super::x25519`]); P-256, P-384 and P-521 on aws-lc-rs ([`super::primitives::ecdh`]); X448
//! on `crrl` ([`super::primitives::x448`]). Every function here counts what it computes under
//! the KEM's own counters ([`super::counters`]), as the X25519 wrappers do.

use aws_lc_rs::agreement;

use super::awslc;
use super::counters;
use super::hpke_backend::{derive_x25519_private, labeled_expand, labeled_extract};
use super::primitives::mlkem::{self, ParameterSet};
use super::primitives::{ecdh, x448, xwing};
use super::suite::Kem;
use super::{CryptoError, HpkePrivateKey, Result, Secret};

/// `"KEM" || I2OSP(kem_id, 2)` (RFC 9180 §4.1).
pub(crate) fn kem_suite_id(kem: Kem) -> [u8; 5] {
    let mut id = *b"KEM\0\0";
    id[3..].copy_from_slice(&kem.id().to_be_bytes());
    id
}

fn curve(kem: Kem) -> Option<ecdh::Curve> {
    match kem {
        Kem::P256 => Some(ecdh::Curve::P256),
        Kem::P384 => Some(ecdh::Curve::P384),
        Kem::P521 => Some(ecdh::Curve::P521),
        Kem::X25519 | Kem::X448 | Kem::XWing | Kem::MlKem768 | Kem::MlKem1024 => None,
    }
}

/// The ML-KEM parameter set of a pure ML-KEM KEM.
pub(crate) fn mlkem_set(kem: Kem) -> Option<ParameterSet> {
    match kem {
        Kem::MlKem768 => Some(ParameterSet::MlKem768),
        Kem::MlKem1024 => Some(ParameterSet::MlKem1024),
        _ => None,
    }
}

/// The order of the NIST curve's group, big-endian, `Nsk` bytes (RFC 9180 §7.1.3).
fn order(curve: ecdh::Curve) -> &'static [u8] {
    const P256: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
        0x25, 0x51,
    ];
    const P384: [u8; 48] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37,
        0x2d, 0xdf, 0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc,
        0xc5, 0x29, 0x73,
    ];
    const P521: [u8; 66] = [
        0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xfa, 0x51, 0x86, 0x87, 0x83, 0xbf, 0x2f, 0x96, 0x6b, 0x7f, 0xcc, 0x01,
        0x48, 0xf7, 0x09, 0xa5, 0xd0, 0x3b, 0xb5, 0xc9, 0xb8, 0x89, 0x9c, 0x47, 0xae, 0xbb, 0x6f,
        0xb7, 0x1e, 0x91, 0x38, 0x64, 0x09,
    ];
    match curve {
        ecdh::Curve::P256 => &P256,
        ecdh::Curve::P384 => &P384,
        ecdh::Curve::P521 => &P521,
    }
}

/// `0 < sk < order` for big-endian `sk` of the order's length, in constant time: the
/// candidate is secret (RFC 9180 §7.1.3's loop runs on it, but how often it runs depends only
/// on whether a candidate is rejected, which happens with negligible probability).
fn in_range(sk: &[u8], order: &[u8]) -> bool {
    // Subtract order from sk with borrow: sk < order iff the final borrow is set.
    let mut borrow = 0i16;
    let mut nonzero = 0u8;
    for (a, b) in sk.iter().zip(order).rev() {
        let d = i16::from(*a) - i16::from(*b) - borrow;
        borrow = (d >> 8) & 1;
        nonzero |= a;
    }
    (borrow == 1) & (nonzero != 0)
}

/// RFC 9180 §7.1.3 `DeriveKeyPair(ikm)`, private half: for X25519 and X448 a single
/// `LabeledExpand`, for the NIST curves rejection sampling of a scalar in `[1, order)`.
pub(crate) fn derive_private(kem: Kem, ikm: &[u8]) -> Result<HpkePrivateKey> {
    match kem {
        Kem::X25519 => return derive_x25519_private(ikm),
        Kem::XWing => return Ok(HpkePrivateKey::from(xwing::derive_seed(ikm))),
        // mls-rs's construction: RFC 9180's `dkp_prk` (below), then the seed `d || z` as
        // plain `HKDF-Expand(dkp_prk, "", 64)`. (mls-rs takes a 64-byte PRK as the seed
        // itself; with SHA-256 and SHA-384 a PRK never is one.)
        Kem::MlKem768 | Kem::MlKem1024 => {
            let dkp_prk = labeled_extract(kem.kdf(), &kem_suite_id(kem), b"", b"dkp_prk", ikm);
            let seed = awslc::hkdf_expand(kem.kdf(), dkp_prk.as_bytes(), b"", mlkem::SEED_LEN)?;
            return Ok(HpkePrivateKey::from(seed));
        }
        _ => {}
    }
    let hash = kem.kdf();
    let suite_id = kem_suite_id(kem);
    let dkp_prk = labeled_extract(hash, &suite_id, b"", b"dkp_prk", ikm);
    // Nsk ≤ 66 fits in u16.
    let n_sk = kem.n_sk() as u16;
    let Some(curve) = curve(kem) else {
        let sk = labeled_expand(hash, &suite_id, dkp_prk.as_bytes(), b"sk", b"", n_sk)?;
        return Ok(HpkePrivateKey::from(sk));
    };
    let bitmask = if curve == ecdh::Curve::P521 { 0x01 } else { 0xff };
    for counter in 0u8..=255 {
        let candidate = labeled_expand(
            hash,
            &suite_id,
            dkp_prk.as_bytes(),
            b"candidate",
            &[counter],
            n_sk,
        )?;
        let mut bytes = candidate.as_bytes().to_vec();
        bytes[0] &= bitmask;
        let sk = Secret::new(bytes);
        if in_range(sk.as_bytes(), order(curve)) {
            return Ok(HpkePrivateKey::from(sk));
        }
    }
    Err(CryptoError::Backend(
        "DeriveKeyPair: no scalar in range after 256 candidates".into(),
    ))
}

/// The public key of `sk` (`pk(sk)`): one fixed-base multiplication, counted.
pub(crate) fn public_key(kem: Kem, sk: &[u8]) -> Result<Vec<u8>> {
    match kem {
        Kem::X25519 => awslc::x25519_public(sk),
        Kem::X448 => {
            counters::kem_base(kem);
            Ok(x448::public_key(sk)?)
        }
        Kem::XWing => Ok(xwing::Expanded::from_seed(sk)?.public_key().to_vec()),
        Kem::MlKem768 | Kem::MlKem1024 => {
            let set = mlkem_set(kem).ok_or(CryptoError::InvalidPrivateKey)?;
            Ok(mlkem::PrivateKey::from_seed(set, sk)?.public_key().to_vec())
        }
        Kem::P256 | Kem::P384 | Kem::P521 => {
            let sk = nist_scalar(kem, sk)?;
            counters::kem_base(kem);
            Ok(ecdh::public_key(curve_of(kem), &sk)?)
        }
    }
}

/// Whether `len` is the length of a private key of `kem` as peers send it: `Nsk`, or for the
/// NIST curves also shorter. Serialized scalars are big-endian, and some implementations
/// strip leading zero bytes (the published MLS vectors carry 65-byte P-521 keys), so a
/// shorter one is the same scalar, left-padded with zeros ([`nist_scalar`]).
pub(crate) fn private_key_len_ok(kem: Kem, len: usize) -> bool {
    match kem {
        Kem::X25519 | Kem::X448 | Kem::XWing | Kem::MlKem768 | Kem::MlKem1024 => len == kem.n_sk(),
        Kem::P256 | Kem::P384 | Kem::P521 => (1..=kem.n_sk()).contains(&len),
    }
}

/// A NIST private key at its full `Nsk` bytes (see [`private_key_len_ok`]).
fn nist_scalar(kem: Kem, sk: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    if !private_key_len_ok(kem, sk.len()) {
        return Err(CryptoError::InvalidPrivateKey);
    }
    let mut full = zeroize::Zeroizing::new(vec![0u8; kem.n_sk()]);
    full[kem.n_sk() - sk.len()..].copy_from_slice(sk);
    Ok(full)
}

fn curve_of(kem: Kem) -> ecdh::Curve {
    // Invariant: called only for the NIST KEMs.
    curve(kem).unwrap_or(ecdh::Curve::P256)
}

/// `(pk(sk), DH(sk, pk))`: what an HPKE Encap (the ephemeral's public key and the DH) and
/// Decap (the DH and the recipient's own public key) need, counted as one fixed-base
/// multiplication and one DH. An all-zero X25519/X448 output is
/// [`CryptoError::ZeroSharedSecret`] (RFC 9180 §7.1.4); a NIST point that is not on the curve
/// is [`CryptoError::InvalidPublicKey`].
pub(crate) fn key_pair_and_dh(kem: Kem, sk: &[u8], pk: &[u8]) -> Result<(Vec<u8>, Secret)> {
    match kem {
        Kem::X25519 => awslc::x25519_key_pair_and_dh(sk, pk),
        Kem::X448 => {
            counters::kem_base(kem);
            let own = x448::public_key(sk)?;
            if pk.len() != kem.n_pk() {
                return Err(CryptoError::InvalidPublicKey);
            }
            counters::kem_dh(kem);
            Ok((own, x448::dh(sk, pk)?))
        }
        Kem::XWing | Kem::MlKem768 | Kem::MlKem1024 => Err(CryptoError::Backend(format!(
            "{} is a KEM, not a Diffie-Hellman group",
            kem.name()
        ))),
        Kem::P256 | Kem::P384 | Kem::P521 => {
            let curve = curve_of(kem);
            let sk = nist_scalar(kem, sk)?;
            counters::kem_base(kem);
            let own = ecdh::public_key(curve, &sk)?;
            counters::kem_dh(kem);
            Ok((own, ecdh::dh(curve, &sk, pk)?))
        }
    }
}

/// The check of an HPKE public key that arrives from the wire, before it enters the group:
/// the KEM's length, and
/// - X25519: not one of the small-order points (every DH with them is all zero, which the
///   sender must reject, so a commit sealing to the key would fail);
/// - NIST curves: an uncompressed point on the curve (aws-lc parses and validates it), since a
///   DH with any other bytes fails;
/// - X448: not u = 0, 1 or −1 (the points of order dividing 4, on the curve or its twist,
///   which the clamped scalar, a multiple of 4, sends to the all-zero output), in any
///   encoding;
/// - X-Wing and ML-KEM: FIPS 203 §7.2's modulus check (and X-Wing's X25519 half as above).
pub(crate) fn check_public_key(kem: Kem, pk: &[u8]) -> Result<()> {
    if pk.len() != kem.n_pk() {
        return Err(CryptoError::InvalidPublicKey);
    }
    match kem {
        Kem::X25519 => {
            if awslc::x25519_is_small_order(pk) {
                return Err(CryptoError::SmallOrderPublicKey);
            }
        }
        Kem::X448 => {
            if x448_is_small_order(pk) {
                return Err(CryptoError::SmallOrderPublicKey);
            }
        }
        Kem::XWing => xwing::check_public_key(pk)?,
        Kem::MlKem768 | Kem::MlKem1024 => {
            let set = mlkem_set(kem).ok_or(CryptoError::InvalidPublicKey)?;
            mlkem::check_encapsulation_key(set, pk)?;
        }
        Kem::P256 | Kem::P384 | Kem::P521 => {
            let alg = match kem {
                Kem::P256 => &agreement::ECDH_P256,
                Kem::P384 => &agreement::ECDH_P384,
                _ => &agreement::ECDH_P521,
            };
            if pk.first() != Some(&0x04) {
                return Err(CryptoError::InvalidPublicKey);
            }
            agreement::ParsedPublicKey::try_from(&agreement::UnparsedPublicKey::new(alg, pk))
                .map_err(|_| CryptoError::InvalidPublicKey)?;
        }
    }
    Ok(())
}

/// Whether a 56-byte X448 public key encodes a point on which every DH is all zero: u = 0,
/// u = 1 (order 2 and 4 on the twist's side) or u = p − 1 = −1, in their canonical encodings
/// and in the non-canonical ones u + p (only 0 + p = p and 1 + p fit in 448 bits).
fn x448_is_small_order(pk: &[u8]) -> bool {
    // p = 2^448 − 2^224 − 1, little-endian.
    let mut p = [0xffu8; 56];
    p[28] = 0xfe;
    let mut p_minus_1 = p;
    p_minus_1[0] = 0xfe;
    // p + 1 = 2^448 − 2^224: the low 28 bytes zero, the high 28 all ones.
    let mut p_plus_1 = [0xffu8; 56];
    p_plus_1[..28].fill(0);
    let zero = [0u8; 56];
    let mut one = [0u8; 56];
    one[0] = 1;
    [zero, one, p_minus_1, p, p_plus_1]
        .iter()
        .any(|bad| bad.as_slice() == pk)
}

/// The length of `DH(sk, pk)`: the x-coordinate (NIST) or u-coordinate (X25519, X448).
fn dh_len(kem: Kem) -> usize {
    match kem {
        Kem::X25519 | Kem::P256 | Kem::XWing | Kem::MlKem768 | Kem::MlKem1024 => 32,
        Kem::P384 => 48,
        Kem::P521 => 66,
        Kem::X448 => 56,
    }
}

/// The simulated stand-in of [`key_pair_and_dh`] for an HPKE sender's ephemeral key (see
/// `Provider::with_simulated_crypto`): the same counts and length checks, a stand-in public
/// key derived from `sk` and the stand-in DH of [`dh_simulated`].
pub(crate) fn key_pair_and_dh_simulated(kem: Kem, sk: &[u8], pk: &[u8]) -> Result<(Vec<u8>, Secret)> {
    if kem == Kem::X25519 {
        return awslc::x25519_key_pair_and_dh_simulated(sk, pk);
    }
    count_simulated_dh(kem, sk, pk)?;
    let enc = stand_in(b"canopy simulated public", sk, kem.n_pk());
    let shared = Secret::new(stand_in(b"canopy simulated dh", &enc, dh_len(kem)));
    Ok((enc, shared))
}

/// The simulated stand-in of [`dh`] on the receiving side of HPKE, `pk` being the sender's
/// ephemeral public key: what [`key_pair_and_dh_simulated`] computed for it.
pub(crate) fn dh_simulated(kem: Kem, sk: &[u8], pk: &[u8]) -> Result<Secret> {
    if kem == Kem::X25519 {
        return awslc::x25519_simulated(sk, pk);
    }
    count_simulated_dh(kem, sk, pk)?;
    Ok(Secret::new(stand_in(b"canopy simulated dh", pk, dh_len(kem))))
}

/// The recipient's public key in a simulated KEM context, on both sides (all zero).
pub(crate) fn simulated_recipient(kem: Kem) -> &'static [u8] {
    const ZERO: [u8; 133] = [0; 133];
    &ZERO[..kem.n_pk()]
}

fn count_simulated_dh(kem: Kem, sk: &[u8], pk: &[u8]) -> Result<()> {
    if !private_key_len_ok(kem, sk.len()) {
        return Err(CryptoError::InvalidPrivateKey);
    }
    counters::kem_base(kem);
    if pk.len() != kem.n_pk() {
        return Err(CryptoError::InvalidPublicKey);
    }
    counters::kem_dh(kem);
    Ok(())
}

/// `len` bytes of SHA-512(label || counter || data) blocks, not counted: the stand-ins' own
/// bookkeeping, which a real operation does not do.
fn stand_in(label: &[u8], data: &[u8], len: usize) -> Vec<u8> {
    use aws_lc_rs::digest;
    let mut out = Vec::with_capacity(len + 64);
    let mut counter = 0u8;
    while out.len() < len {
        let mut ctx = digest::Context::new(&digest::SHA512);
        ctx.update(label);
        ctx.update(&[counter]);
        ctx.update(data);
        out.extend_from_slice(ctx.finish().as_ref());
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}
