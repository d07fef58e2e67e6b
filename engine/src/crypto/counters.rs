//! Exact counts of the primitives the engine runs (and of its whole-tree leaf walks), for reports (`canopy compare`, the crypto
//! floor) and the performance-regression gate, which fails a change that makes the engine do
//! more work.
//!
//! The counters are process-wide relaxed atomics, incremented at the one place each
//! primitive is called (the aws-lc wrappers in [`super::awslc`], Ed25519 signing in the
//! provider, the batched HPKE info hash). An increment costs a few nanoseconds against tens of
//! microseconds for the cheapest counted public-key operation. Counts are exact for work done
//! between two [`snapshot`]s on a process that runs nothing else at the same time; they do
//! not depend on the executor or the number of threads.

use core::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident => $field:ident,)*) => {
        $( $(#[$doc])* static $name: AtomicU64 = AtomicU64::new(0); )*

        /// A snapshot of every counter (or, after subtraction, the work between two).
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct Counts {
            $( $(#[$doc])* pub $field: u64, )*
        }

        /// Read every counter.
        pub fn snapshot() -> Counts {
            Counts { $( $field: $name.load(Ordering::Relaxed), )* }
        }

        impl core::ops::Sub for Counts {
            type Output = Counts;
            fn sub(self, rhs: Counts) -> Counts {
                Counts { $( $field: self.$field.wrapping_sub(rhs.$field), )* }
            }
        }

        impl Counts {
            /// `(name, value)` of every counter, in a fixed order.
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![ $( (stringify!($field), self.$field), )* ]
            }
        }
    };
}

counters! {
    /// X25519 scalar multiplications with a peer key (Diffie-Hellman).
    X25519_DH => x25519_dh,
    /// X25519 public keys computed from private keys (key generation / derivation).
    X25519_BASE => x25519_base,
    /// Ed25519 signatures.
    ED25519_SIGN => ed25519_sign,
    /// Ed25519 verifications.
    ED25519_VERIFY => ed25519_verify,
    /// P-256 ECDH with a peer key (suite 2).
    P256_DH => p256_dh,
    /// P-256 public keys computed from private keys (suite 2).
    P256_BASE => p256_base,
    /// P-384 ECDH with a peer key (suite 7).
    P384_DH => p384_dh,
    /// P-384 public keys computed from private keys (suite 7).
    P384_BASE => p384_base,
    /// P-521 ECDH with a peer key (suite 5).
    P521_DH => p521_dh,
    /// P-521 public keys computed from private keys (suite 5).
    P521_BASE => p521_base,
    /// X448 scalar multiplications with a peer key (suites 4 and 6).
    X448_DH => x448_dh,
    /// X448 public keys computed from private keys (suites 4 and 6).
    X448_BASE => x448_base,
    /// ECDSA P-256/SHA-256 signatures (suite 2).
    ECDSA_P256_SIGN => ecdsa_p256_sign,
    /// ECDSA P-256/SHA-256 verifications (suite 2).
    ECDSA_P256_VERIFY => ecdsa_p256_verify,
    /// ECDSA P-384/SHA-384 signatures (suite 7).
    ECDSA_P384_SIGN => ecdsa_p384_sign,
    /// ECDSA P-384/SHA-384 verifications (suite 7).
    ECDSA_P384_VERIFY => ecdsa_p384_verify,
    /// ECDSA P-521/SHA-512 signatures (suite 5).
    ECDSA_P521_SIGN => ecdsa_p521_sign,
    /// ECDSA P-521/SHA-512 verifications (suite 5).
    ECDSA_P521_VERIFY => ecdsa_p521_verify,
    /// ML-KEM-768 key generations from a seed (X-Wing keys, suite 0x004D; suite 0xFDEA).
    MLKEM768_KEYGEN => mlkem768_keygen,
    /// ML-KEM-768 encapsulations (X-Wing, suite 0x004D; suite 0xFDEA).
    MLKEM768_ENCAPS => mlkem768_encaps,
    /// ML-KEM-768 decapsulations (X-Wing, suite 0x004D; suite 0xFDEA).
    MLKEM768_DECAPS => mlkem768_decaps,
    /// ML-KEM-1024 key generations from a seed (suite 0xFDEB).
    MLKEM1024_KEYGEN => mlkem1024_keygen,
    /// ML-KEM-1024 encapsulations (suite 0xFDEB).
    MLKEM1024_ENCAPS => mlkem1024_encaps,
    /// ML-KEM-1024 decapsulations (suite 0xFDEB).
    MLKEM1024_DECAPS => mlkem1024_decaps,
    /// Ed448 signatures (suites 4 and 6).
    ED448_SIGN => ed448_sign,
    /// Ed448 verifications (suites 4 and 6).
    ED448_VERIFY => ed448_verify,
    /// Message bytes Ed25519 hashes with SHA-512: twice the message for a signature (RFC 8032
    /// §5.1.6 hashes it for the nonce and again for the challenge), once for a verification.
    /// Apart from `hash_bytes` because SHA-512's cost per byte is not the suite's hash's, and a
    /// GroupInfo carrying the whole tree makes it the largest part of a signature's cost.
    ED25519_MSG_BYTES => ed25519_msg_bytes,
    /// Message bytes Ed448 hashes with SHAKE256: twice for a signature, once for a
    /// verification (RFC 8032 §5.2.6), as for Ed25519.
    ED448_MSG_BYTES => ed448_msg_bytes,
    /// Bytes hashed with the suite's hash (its SHA-2 function: hashes, HMAC and HKDF-Extract
    /// inputs, and the messages ECDSA signs or verifies, which it hashes once with it); EdDSA's
    /// messages count in `ed25519_msg_bytes` and `ed448_msg_bytes`.
    HASH_BYTES => hash_bytes,
    /// HKDF-Expand calls.
    HKDF_EXPAND => hkdf_expand,
    /// Bytes AEAD-sealed or -opened.
    AEAD_BYTES => aead_bytes,
    /// HPKE `SealBase` calls (batched [`super::SealContext`] and the provider's one-shot path).
    HPKE_SEAL => hpke_seal,
    /// HPKE `OpenBase` calls (batched [`super::OpenContext`] and the provider's one-shot path).
    HPKE_OPEN => hpke_open,
    /// Leaf slots visited by whole-tree leaf walks ([`crate::tree::RatchetTree::leaves`] and
    /// the blank-leaf count of `reserve_leaves`), counted as the tree's leaf width once per
    /// walk. Not crypto, but the work the engine must not do per commit: a commit that adds
    /// or updates no leaf, and its processing, walk none. The gate's exact tier fails a change
    /// that adds a walk to an operation.
    LEAF_WALK_SLOTS => leaf_walk_slots,
}

impl Counts {
    /// The count that grows by one per HPKE seal to a `kem` key: the DHs of a DHKEM (which a
    /// seal runs once, and so does an open) or the ML-KEM encapsulations of X-Wing and of the
    /// ML-KEM suites. What a check of
    /// "one encapsulation per seal" compares.
    pub fn encapsulations(&self, kem: crate::crypto::Kem) -> u64 {
        use crate::crypto::Kem;
        match kem {
            Kem::X25519 => self.x25519_dh,
            Kem::P256 => self.p256_dh,
            Kem::P384 => self.p384_dh,
            Kem::P521 => self.p521_dh,
            Kem::X448 => self.x448_dh,
            Kem::XWing | Kem::MlKem768 => self.mlkem768_encaps,
            Kem::MlKem1024 => self.mlkem1024_encaps,
        }
    }
}

#[inline]
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    // Without `metrics` the counting sites compile to nothing and every count stays zero.
    #[cfg(feature = "metrics")]
    counter.fetch_add(n, Ordering::Relaxed);
    #[cfg(not(feature = "metrics"))]
    let _ = (counter, n);
}

pub(crate) fn x25519_dh() {
    add(&X25519_DH, 1);
}
pub(crate) fn x25519_base() {
    add(&X25519_BASE, 1);
}
pub(crate) fn ed25519_verify(msg_len: usize) {
    add(&ED25519_VERIFY, 1);
    add(&ED25519_MSG_BYTES, msg_len as u64);
}
/// A fixed-base multiplication of `kem`'s group.
pub(crate) fn kem_base(kem: crate::crypto::Kem) {
    use crate::crypto::Kem;
    add(
        match kem {
            Kem::X25519 => &X25519_BASE,
            Kem::P256 => &P256_BASE,
            Kem::P384 => &P384_BASE,
            Kem::P521 => &P521_BASE,
            Kem::X448 => &X448_BASE,
            // X-Wing's parts count themselves (ML-KEM-768 and X25519) in `primitives::xwing`;
            // ML-KEM's key generation is `mlkem_keygen`.
            Kem::XWing | Kem::MlKem768 | Kem::MlKem1024 => return,
        },
        1,
    );
}
/// A Diffie-Hellman of `kem`'s group.
pub(crate) fn kem_dh(kem: crate::crypto::Kem) {
    use crate::crypto::Kem;
    add(
        match kem {
            Kem::X25519 => &X25519_DH,
            Kem::P256 => &P256_DH,
            Kem::P384 => &P384_DH,
            Kem::P521 => &P521_DH,
            Kem::X448 => &X448_DH,
            Kem::XWing | Kem::MlKem768 | Kem::MlKem1024 => return,
        },
        1,
    );
}
/// A signature of `scheme` over `msg_len` bytes, and the message bytes it hashes: twice with
/// EdDSA's own hash, once with ECDSA's (the suite's hash).
pub(crate) fn sign(scheme: crate::crypto::SignatureScheme, msg_len: usize) {
    use crate::crypto::SignatureScheme as S;
    let len = msg_len as u64;
    let (counter, hashed, bytes) = match scheme {
        S::Ed25519 => (&ED25519_SIGN, &ED25519_MSG_BYTES, 2 * len),
        S::EcdsaP256Sha256 => (&ECDSA_P256_SIGN, &HASH_BYTES, len),
        S::EcdsaP384Sha384 => (&ECDSA_P384_SIGN, &HASH_BYTES, len),
        S::EcdsaP521Sha512 => (&ECDSA_P521_SIGN, &HASH_BYTES, len),
        S::Ed448 => (&ED448_SIGN, &ED448_MSG_BYTES, 2 * len),
    };
    add(counter, 1);
    add(hashed, bytes);
}
/// A verification of `scheme` over `msg_len` bytes, and the message bytes it hashes (once).
pub(crate) fn verify(scheme: crate::crypto::SignatureScheme, msg_len: usize) {
    use crate::crypto::SignatureScheme as S;
    let (counter, hashed) = match scheme {
        S::Ed25519 => (&ED25519_VERIFY, &ED25519_MSG_BYTES),
        S::EcdsaP256Sha256 => (&ECDSA_P256_VERIFY, &HASH_BYTES),
        S::EcdsaP384Sha384 => (&ECDSA_P384_VERIFY, &HASH_BYTES),
        S::EcdsaP521Sha512 => (&ECDSA_P521_VERIFY, &HASH_BYTES),
        S::Ed448 => (&ED448_VERIFY, &ED448_MSG_BYTES),
    };
    add(counter, 1);
    add(hashed, msg_len as u64);
}
/// An ML-KEM key generation from a seed, of `set`.
pub(crate) fn mlkem_keygen(set: super::primitives::mlkem::ParameterSet) {
    use super::primitives::mlkem::ParameterSet;
    match set {
        ParameterSet::MlKem768 => add(&MLKEM768_KEYGEN, 1),
        ParameterSet::MlKem1024 => add(&MLKEM1024_KEYGEN, 1),
    }
}
/// An ML-KEM encapsulation, of `set`.
pub(crate) fn mlkem_encaps(set: super::primitives::mlkem::ParameterSet) {
    use super::primitives::mlkem::ParameterSet;
    match set {
        ParameterSet::MlKem768 => add(&MLKEM768_ENCAPS, 1),
        ParameterSet::MlKem1024 => add(&MLKEM1024_ENCAPS, 1),
    }
}
/// An ML-KEM decapsulation, of `set`.
pub(crate) fn mlkem_decaps(set: super::primitives::mlkem::ParameterSet) {
    use super::primitives::mlkem::ParameterSet;
    match set {
        ParameterSet::MlKem768 => add(&MLKEM768_DECAPS, 1),
        ParameterSet::MlKem1024 => add(&MLKEM1024_DECAPS, 1),
    }
}
pub(crate) fn hashed(len: usize) {
    add(&HASH_BYTES, len as u64);
}
pub(crate) fn hkdf_expand() {
    add(&HKDF_EXPAND, 1);
}
pub(crate) fn aead(len: usize) {
    add(&AEAD_BYTES, len as u64);
}
pub(crate) fn hpke_seal() {
    add(&HPKE_SEAL, 1);
}
pub(crate) fn hpke_open() {
    add(&HPKE_OPEN, 1);
}
pub(crate) fn leaf_walk(width: u32) {
    add(&LEAF_WALK_SLOTS, u64::from(width));
}
