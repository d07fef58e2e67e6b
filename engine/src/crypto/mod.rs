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
//!
//! Primitives come from aws-lc-rs ([`awslc`]); HPKE runs in hpke-rs over the aws-lc back end
//! [`HpkeAwsLc`]. hpke-rs's RustCrypto back end is used in tests as an independent reference.
//!
// # Internal documentation
//
// The labelled structures are serialized in `labels` rather than through the codec so that
// the provider has no dependency on the rest of the engine. Seeded HPKE works by giving
// hpke-rs a PRNG (`HpkeRng::fixed`) that yields `ikm_e` once: hpke-rs derives the ephemeral
// key as `DeriveKeyPair` of exactly those bytes (RFC 9180 §4.1).

pub mod awslc;
pub mod counters;
pub mod hpke_backend;
pub mod hpke_batch;
pub mod labels;
pub mod primitives;
mod provider;
mod secret;
mod suite;

pub use hpke_backend::{HpkeAwsLc, HpkeRng, WithHpkeRng};
pub use hpke_batch::{OpenContext, SealContext};
pub use provider::{Provider, Result};
pub use secret::{HpkePrivateKey, Secret, SignaturePrivateKey};
pub use suite::CipherSuite;

pub use crate::error::CryptoError;

#[cfg(test)]
mod tests;
