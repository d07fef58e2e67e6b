//! Crypto provider (placeholder: being written).
use thiserror::Error as ThisError;

/// Why a cryptographic operation failed.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum CryptoError {
    /// Placeholder.
    #[error("crypto failure")]
    Failed,
}
