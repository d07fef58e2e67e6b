//! Canopy's error type: one `#[non_exhaustive]` enum that wraps one enum per category
//! (codec, tree validation, API misuse, crypto, internal), in the manner of rustls.

use thiserror::Error as ThisError;

/// Every fallible engine operation returns this.
#[derive(Debug, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that do not decode as the RFC 9420 structure they claim to be.
    #[error("invalid message: {0}")]
    InvalidMessage(#[from] crate::codec::CodecError),
    /// A ratchet tree that fails RFC 9420 validation, or an operation it cannot take.
    #[error("invalid tree: {0}")]
    InvalidTree(#[from] crate::tree::TreeError),
    /// A cryptographic operation failed (bad signature, AEAD or HPKE open failure, bad key).
    #[error("crypto: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),
    /// A message rejected by the framing checks (RFC 9420 §6).
    #[error("framing: {0}")]
    Framing(#[from] crate::framing::FramingError),
    /// A Welcome that cannot be processed (RFC 9420 §12.4.3.1).
    #[error("welcome: {0}")]
    Welcome(#[from] crate::welcome::WelcomeError),
    /// TreeKEM: an UpdatePath could not be created or processed (boxed: `TreeKemError` can
    /// itself carry an `Error` from a lower layer).
    #[error("TreeKEM: {0}")]
    TreeKem(Box<crate::kem::TreeKemError>),
    /// A KeyPackage or leaf node that fails validation (RFC 9420 §10.1, §7.3).
    #[error("key package: {0}")]
    KeyPackage(#[from] crate::key_package::KeyPackageError),
    /// A group operation refused (RFC 9420 §12: proposals, commits, Welcome).
    #[error("group: {0}")]
    Group(#[from] crate::group::GroupError),
    /// The caller asked for something the API does not allow.
    #[error("API misuse: {0}")]
    ApiMisuse(&'static str),
    /// An invariant the engine relies on did not hold: a bug in Canopy.
    #[error("internal error (a bug in Canopy): {0}")]
    Internal(&'static str),
}

/// Shorthand used across the engine.
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl From<crate::kem::TreeKemError> for Error {
    fn from(e: crate::kem::TreeKemError) -> Self {
        Error::TreeKem(Box::new(e))
    }
}
