//! MLS cipher suites Canopy implements (RFC 9420 §5.1, IANA registry in §17.1).

use core::fmt;

/// An MLS cipher suite supported by Canopy.
///
/// Only the X25519 / SHA-256 / Ed25519 suites are implemented: they share one KEM, one KDF and
/// one signature scheme and differ only in the AEAD. Suite 2 (P-256) is not implemented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum CipherSuite {
    /// `MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519` (0x0001, mandatory to implement).
    Mls128X25519Aes128GcmSha256Ed25519 = 1,
    /// `MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519` (0x0003).
    Mls128X25519ChaCha20Poly1305Sha256Ed25519 = 3,
}

/// The AEAD of a suite, the only algorithm that differs between the supported suites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aead {
    /// AES-128-GCM (RFC 5116).
    Aes128Gcm,
    /// ChaCha20-Poly1305 (RFC 8439).
    ChaCha20Poly1305,
}

impl CipherSuite {
    /// Every supported suite, in code-point order.
    pub const ALL: &'static [CipherSuite] = &[
        CipherSuite::Mls128X25519Aes128GcmSha256Ed25519,
        CipherSuite::Mls128X25519ChaCha20Poly1305Sha256Ed25519,
    ];

    /// The suite with this RFC 9420 code point, if Canopy implements it.
    pub fn from_u16(id: u16) -> Option<Self> {
        match id {
            1 => Some(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519),
            3 => Some(CipherSuite::Mls128X25519ChaCha20Poly1305Sha256Ed25519),
            _ => None,
        }
    }

    /// The RFC 9420 code point.
    pub fn id(self) -> u16 {
        self as u16
    }

    pub(crate) fn aead(self) -> Aead {
        match self {
            CipherSuite::Mls128X25519Aes128GcmSha256Ed25519 => Aead::Aes128Gcm,
            CipherSuite::Mls128X25519ChaCha20Poly1305Sha256Ed25519 => Aead::ChaCha20Poly1305,
        }
    }

    /// The HPKE AEAD identifier (RFC 9180 §7.3).
    pub(crate) fn hpke_aead(self) -> hpke_rs_crypto::types::AeadAlgorithm {
        match self.aead() {
            Aead::Aes128Gcm => hpke_rs_crypto::types::AeadAlgorithm::Aes128Gcm,
            Aead::ChaCha20Poly1305 => hpke_rs_crypto::types::AeadAlgorithm::ChaCha20Poly1305,
        }
    }
}

impl TryFrom<u16> for CipherSuite {
    type Error = crate::error::Unsupported;

    fn try_from(id: u16) -> Result<Self, Self::Error> {
        CipherSuite::from_u16(id).ok_or(crate::error::Unsupported::CipherSuite(id))
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            CipherSuite::Mls128X25519Aes128GcmSha256Ed25519 => {
                "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519"
            }
            CipherSuite::Mls128X25519ChaCha20Poly1305Sha256Ed25519 => {
                "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519"
            }
        };
        f.write_str(name)
    }
}
