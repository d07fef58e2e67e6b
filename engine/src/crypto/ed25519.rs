//! Ed25519 verification (RFC 8032 §5.1.7) on curve25519-dalek, accepting exactly the
//! signatures aws-lc's `ED25519_verify` accepts.
//!
//! Members that disagree on a signature disagree on the tree and fork the group, so this
//! verifier is not "an" Ed25519 verifier but a second implementation of aws-lc's rule, decided
//! case by case against aws-lc in `engine/tests/ed25519_agreement.rs`. The rule, as aws-lc
//! (aws-lc-sys 0.45, `crypto/fipsmodule/curve25519/curve25519.c`, `ed25519_verify_internal`)
//! applies it on x86-64 and AArch64 under Linux, macOS and the BSDs, where it decodes points
//! with s2n-bignum's `edwards25519_decode`:
//!
//! 1. The key is 32 bytes ([`CryptoError::InvalidPublicKey`] otherwise) and the signature 64
//!    (`R` then `s`, [`CryptoError::InvalidSignature`] otherwise, as for every rule below).
//! 2. `s`, little-endian, is below the group order ℓ (a set top bit, or any `s ≥ ℓ`, rejects:
//!    no `s + ℓ` malleability).
//! 3. `A` decodes: `y`, the low 255 bits, is canonical (`y < p`; the 19 encodings
//!    `p ≤ y < 2²⁵⁵` are rejected, not reduced); `x² = (y² − 1)/(d·y² + 1)` has a root; and if
//!    that root is 0 (`y = ±1`) the sign bit is clear (no "negative zero"). Small-order and
//!    mixed-order keys are accepted: nothing checks the subgroup.
//! 4. `k = SHA-512(R ‖ A ‖ M) mod ℓ`, over the bytes of `R` and `A` as received.
//! 5. Cofactorless: accept iff the canonical encoding of `[s]B − [k]A` equals `R` byte for
//!    byte, with `k` reduced mod ℓ and `A` negated as a point (for a key with a torsion
//!    component, `[ℓ − k]A ≠ −[k]A`). `R` is never decoded, so a non-canonical `R` (or one
//!    off the curve) never matches, and a torsion component in `R` or `A` rejects unless it
//!    cancels exactly.
//!
//! Where aws-lc is built without its assembly (Windows, `OPENSSL_NO_ASM`) it decodes with
//! ref10's `x25519_ge_frombytes_vartime` instead, which reduces a non-canonical `y` and
//! accepts a negative zero; that build is not this rule, and the agreement tests would say so.
//!
//! Two implementations of the arithmetic sit behind the same checks (see [`super::backend`]):
//!
//! - [`verify`]: curve25519-dalek's `vartime_double_scalar_mul_basepoint`, one signature at a
//!   time, on the vector backend dalek chose for the CPU (AVX2 in this workspace's builds);
//! - [`verify_lanes`]: canopy-simd's `ed25519_double_base_batch`, eight signatures per AVX-512
//!   IFMA register, which decodes the key by the same rule 3 (its own byte checks and square
//!   root, tested against its serial reference and, through this module, against aws-lc).
//!
//! Rules 1, 2 and 4 and the final comparison are this module's in both. [`verify`] hashes
//! with aws-lc's SHA-512; [`verify_lanes`] hashes its batch eight messages at a time in the
//! same registers (canopy-simd's `sha512_batch`, held equal to aws-lc's digest in its tests and
//! here through every verification the agreement tests decide).

use aws_lc_rs::digest;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;

use super::awslc::ED25519_PUBLIC_KEY_LEN;
use super::{counters, CryptoError};

/// Ed25519 signature length: `R` (32 bytes) then `s` (32 bytes) (RFC 8032 §5.1.6).
pub const ED25519_SIGNATURE_LEN: usize = 64;

/// Ed25519 verification of `sig` over `msg` with aws-lc's acceptance rule (module docs), with
/// the errors of [`super::awslc::ed25519_verify`]: [`CryptoError::InvalidPublicKey`] for a
/// key that is not 32 bytes, [`CryptoError::InvalidSignature`] for every other rejection.
/// Counted as one `ed25519_verify` whatever the outcome, like the aws-lc path.
pub fn verify(pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
    let mut v = Verification::new(pk, sig);
    v.update(msg);
    v.finish()
}

/// [`verify`] of a message given in pieces, as it is written (`io::Write`): the message need
/// not be in one buffer. A GroupInfo carrying the ratchet tree is 12.7 MB at 50,000 members,
/// and building its `SignContent` only to hash it costs a copy and fresh pages; serialized
/// into a `Verification` it is hashed where its fields lie. [`verify`] is this with one
/// piece, so the two decide alike by construction, and the agreement tests decide every case
/// through it.
pub struct Verification<'a> {
    pk: &'a [u8],
    sig: &'a [u8],
    /// `SHA-512(R ‖ A ‖ …)` so far; `None` when the key or the signature has the wrong
    /// length (rejected by [`Verification::finish`] whatever the message).
    hash: Option<digest::Context>,
    len: usize,
}

impl<'a> Verification<'a> {
    /// A verification of `sig` by `pk` over the message written next.
    pub fn new(pk: &'a [u8], sig: &'a [u8]) -> Self {
        let hash = (pk.len() == ED25519_PUBLIC_KEY_LEN && sig.len() == ED25519_SIGNATURE_LEN)
            .then(|| {
                // Rule 4's hash starts with the bytes of `R` and `A` as received.
                let mut h = digest::Context::new(&digest::SHA512);
                h.update(&sig[..32]);
                h.update(pk);
                h
            });
        Verification {
            pk,
            sig,
            hash,
            len: 0,
        }
    }

    /// The next piece of the message.
    pub fn update(&mut self, piece: &[u8]) {
        if let Some(h) = &mut self.hash {
            h.update(piece);
        }
        self.len += piece.len();
    }

    /// The verdict over the message written: [`verify`]'s result and count for it.
    pub fn finish(self) -> Result<(), CryptoError> {
        counters::ed25519_verify(self.len);
        let pk: &[u8; ED25519_PUBLIC_KEY_LEN] =
            self.pk.try_into().map_err(|_| CryptoError::InvalidPublicKey)?;
        let sig: &[u8; ED25519_SIGNATURE_LEN] = self
            .sig
            .try_into()
            .map_err(|_| CryptoError::InvalidSignature)?;
        // Invariant: with both lengths right, `new` started the hash.
        let hash = self.hash.ok_or(CryptoError::InvalidSignature)?;
        let digest = hash.finish();
        let mut wide = [0u8; 64];
        // Invariant: a SHA-512 digest is 64 bytes.
        wide.copy_from_slice(digest.as_ref());
        if accepts(pk, sig, &Scalar::from_bytes_mod_order_wide(&wide)) {
            Ok(())
        } else {
            Err(CryptoError::InvalidSignature)
        }
    }
}

impl std::fmt::Debug for Verification<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verification")
            .field("written", &self.len)
            .finish_non_exhaustive()
    }
}

impl std::io::Write for Verification<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// [`verify`] of every `(key, message, signature)` of a batch on canopy-simd's eight-lane
/// AVX-512 IFMA arithmetic: the same rule, the same errors, the same counts, one result per
/// item in order. A host without AVX-512 IFMA gets [`CryptoError::Backend`] for every item.
pub fn verify_lanes(items: &[(&[u8], &[u8], &[u8])]) -> Vec<Result<(), CryptoError>> {
    let mut results = Vec::with_capacity(items.len());
    let mut inputs = Vec::with_capacity(items.len());
    // Where each lane's input came from, and the `R` its result must equal.
    let mut lanes: Vec<(usize, [u8; 32])> = Vec::with_capacity(items.len());
    // Rules 1 and 2 item by item; the `(R, A, M)` of the items that pass, hashed together.
    let mut hashed: Vec<[&[u8]; 3]> = Vec::with_capacity(items.len());
    let mut s_values = Vec::with_capacity(items.len());
    for (i, &(pk, msg, sig)) in items.iter().enumerate() {
        counters::ed25519_verify(msg.len());
        let Ok(pk) = <&[u8; ED25519_PUBLIC_KEY_LEN]>::try_from(pk) else {
            results.push(Err(CryptoError::InvalidPublicKey));
            continue;
        };
        let Ok(sig) = <&[u8; ED25519_SIGNATURE_LEN]>::try_from(sig) else {
            results.push(Err(CryptoError::InvalidSignature));
            continue;
        };
        // Rejected for now; a lane whose encoding matches `R` turns it into an acceptance.
        results.push(Err(CryptoError::InvalidSignature));
        let Some(s) = canonical_s(sig) else {
            continue;
        };
        let mut r = [0u8; 32];
        r.copy_from_slice(&sig[..32]);
        lanes.push((i, r));
        hashed.push([&sig[..32], pk, msg]);
        s_values.push((*pk, s));
    }
    // Rule 4 for the whole batch.
    let messages: Vec<&[&[u8]]> = hashed.iter().map(|parts| parts.as_slice()).collect();
    let mut digests = vec![[0u8; canopy_simd::SHA512_LEN]; messages.len()];
    if let Err(e) =
        canopy_simd::sha512_batch(canopy_simd::Backend::Avx512Ifma, &messages, &mut digests)
    {
        let e = CryptoError::Backend(format!("SHA-512 lanes: {e}"));
        return vec![Err(e); items.len()];
    }
    for ((key, s), digest) in s_values.into_iter().zip(&digests) {
        inputs.push(canopy_simd::DoubleBaseInput {
            key,
            k: Scalar::from_bytes_mod_order_wide(digest).to_bytes(),
            s: s.to_bytes(),
        });
    }
    let mut out = vec![None; inputs.len()];
    if let Err(e) = canopy_simd::ed25519_double_base_batch(
        canopy_simd::Backend::Avx512Ifma,
        &inputs,
        &mut out,
    ) {
        let e = CryptoError::Backend(format!("Ed25519 lanes: {e}"));
        return vec![Err(e); items.len()];
    }
    for ((i, r), got) in lanes.into_iter().zip(out) {
        // Rule 3 (`None`: the key does not decode) and rule 5.
        if got == Some(r) {
            results[i] = Ok(());
        }
    }
    results
}

/// Rule 2: the signature's `s` if it is below ℓ.
fn canonical_s(sig: &[u8; 64]) -> Option<Scalar> {
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&sig[32..]);
    // `from_canonical_bytes` refuses exactly the s ≥ ℓ (which includes a set top bit).
    Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
}

/// Rules 2, 3 and 5, with rule 4's `k = SHA-512(R ‖ A ‖ M) mod ℓ` given.
fn accepts(pk: &[u8; 32], sig: &[u8; 64], k: &Scalar) -> bool {
    let r = &sig[..32];
    // Rule 2.
    let Some(s) = canonical_s(sig) else {
        return false;
    };
    // Rule 3.
    let Some(a) = decode_point(pk) else {
        return false;
    };
    // Rule 5: [s]B − [k]A as [k](−A) + [s]B, compressed (always canonical) and compared. The
    // point is negated, as aws-lc does, not the scalar: −k as a scalar is ℓ − k, and
    // [ℓ − k]A = −[k]A + [ℓ]A differs from −[k]A by [ℓ]A, which is not zero for a key with a
    // torsion component.
    let check = EdwardsPoint::vartime_double_scalar_mul_basepoint(k, &-a, &s);
    check.compress().as_bytes() == r
}

/// aws-lc's point decoding (rule 3). curve25519-dalek's `decompress` alone is more lenient:
/// it reads a `y ≥ p` modulo p and accepts a negative zero; the byte checks before it
/// (canopy-simd's, the ones its lanes apply) refuse exactly those encodings, and for every
/// other input the two decoders agree (same square root, same sign convention).
fn decode_point(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    if !canopy_simd::ed25519_key_bytes_ok(bytes) {
        return None;
    }
    CompressedEdwardsY(*bytes).decompress()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two negative zeros are refused, their positive encodings decode to (0, ±1).
    #[test]
    fn negative_zero_is_refused() {
        let mut y_one = [0u8; 32];
        y_one[0] = 1;
        // p − 1.
        let mut y_minus_one = [0xff; 32];
        y_minus_one[0] = 0xec;
        y_minus_one[31] = 0x7f;
        for y in [y_one, y_minus_one] {
            let point = decode_point(&y).expect("x = 0 with a clear sign bit decodes");
            assert_eq!(point.compress().to_bytes(), y);
            let mut negative = y;
            negative[31] |= 0x80;
            assert!(decode_point(&negative).is_none());
            assert!(CompressedEdwardsY(negative).decompress().is_some());
        }
    }
}
