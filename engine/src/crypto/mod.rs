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

use thiserror::Error as ThisError;

pub mod awslc;
pub mod counters;
pub mod hpke_backend;
pub mod hpke_batch;
pub mod labels;
mod provider;
mod secret;
mod suite;

pub use hpke_backend::{HpkeAwsLc, HpkeRng, WithHpkeRng};
pub use hpke_batch::{OpenContext, SealContext};
pub use provider::{Provider, Result};
pub use secret::{HpkePrivateKey, Secret, SignaturePrivateKey};
pub use suite::CipherSuite;

/// Why a cryptographic operation failed.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum CryptoError {
    /// A signature did not verify (RFC 9420 §5.1.2 `VerifyWithLabel`).
    #[error("invalid signature")]
    InvalidSignature,
    /// An AEAD ciphertext did not authenticate.
    #[error("AEAD open failed")]
    AeadOpenFailed,
    /// An HPKE ciphertext did not authenticate (RFC 9180 `OpenError`).
    #[error("HPKE open failed")]
    HpkeOpenFailed,
    /// A public key of the wrong length or encoding.
    #[error("invalid public key")]
    InvalidPublicKey,
    /// A private key of the wrong length or encoding.
    #[error("invalid private key")]
    InvalidPrivateKey,
    /// X25519 produced the all-zero shared secret (a low-order public key), which RFC 9180
    /// §7.1.4 requires DHKEM(X25519) to reject.
    #[error("Diffie-Hellman shared secret is all zero")]
    ZeroSharedSecret,
    /// An X25519 public key of small order (RFC 7748 §7): every Diffie-Hellman with it gives
    /// the all-zero secret, so no one can seal to it. Rejected where the key enters the
    /// group, before any member has to seal to it.
    #[error("public key of small order")]
    SmallOrderPublicKey,
    /// An input or requested output of the wrong length.
    #[error("invalid length: {0}")]
    InvalidLength(&'static str),
    /// A cipher suite Canopy does not implement.
    #[error("unsupported cipher suite {0}")]
    UnsupportedCipherSuite(u16),
    /// Any other failure reported by aws-lc-rs or hpke-rs.
    #[error("crypto back end: {0}")]
    Backend(String),
}

#[cfg(test)]
mod tests;
