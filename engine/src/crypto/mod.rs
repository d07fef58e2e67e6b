//! The cryptographic provider: everything RFC 9420 §5.1 asks of a cipher suite, bound to one
//! suite at construction.
//!
//! - [`CipherSuite`]: the suites Canopy implements (1 and 3: X25519, SHA-256, Ed25519, with
//!   AES-128-GCM or ChaCha20-Poly1305).
//! - [`Provider`]: hash, HMAC, HKDF and the labelled derivations (`ExpandWithLabel`,
//!   `DeriveSecret`, `DeriveTreeSecret`, `RefHash`), AEAD, `SignWithLabel` /
//!   `VerifyWithLabel` (Ed25519), and HPKE (`SealBase` / `OpenBase`, `EncryptWithLabel` /
//!   `DecryptWithLabel`), plus seeded HPKE variants for reproducible runs.
//! - [`Secret`], [`HpkePrivateKey`], [`SignaturePrivateKey`]: zeroized on drop, never printed.
//!   Public keys are plain bytes.
//! - [`CryptoError`]: why an operation failed.
//! - [`X25519Backend`]: what computes the X25519 of batched seals and key derivations
//!   (aws-lc, or the SIMD lanes of `canopy-simd`), chosen by `CANOPY_CRYPTO` ([`x25519`]).
//!
//! Primitives come from aws-lc-rs ([`awslc`]); HPKE runs in hpke-rs over the aws-lc back end
//! [`HpkeAwsLc`]. hpke-rs's RustCrypto back end is used in tests as an independent reference.
//! Ed25519 verification can also run on curve25519-dalek's vector backends ([`ed25519`],
//! with exactly aws-lc's acceptance rule), as `CANOPY_CRYPTO` selects ([`backend`]).
//!
// # Internal documentation
//
// The labelled structures are serialized in `labels` rather than through the codec so that
// the provider has no dependency on the rest of the engine. Seeded HPKE works by giving
// hpke-rs a PRNG (`HpkeRng::fixed`) that yields `ikm_e` once: hpke-rs derives the ephemeral
// key as `DeriveKeyPair` of exactly those bytes (RFC 9180 §4.1).

mod aead_tail;
pub mod awslc;
pub mod backend;
pub mod counters;
mod dhkem;
pub mod ed25519;
pub mod hpke_backend;
pub mod hpke_batch;
pub mod labels;
pub mod primitives;
mod provider;
mod secret;
mod suite;
pub mod x25519;

pub(crate) use aead_tail::TailSeal;
pub use hpke_backend::{HpkeAwsLc, HpkeRng, WithHpkeRng};
pub use hpke_batch::{OpenContext, SealContext, SealRequest};
pub use provider::{Provider, Result};
pub use secret::{HpkePrivateKey, Secret, SignaturePrivateKey};
pub use suite::{CipherSuite, Kem, SignatureScheme};
pub use x25519::{X25519Backend, X25519BackendError};

pub use crate::error::CryptoError;

#[cfg(test)]
mod tests;
