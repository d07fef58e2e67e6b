//! MLS cipher suites Canopy implements (RFC 9420 §5.1, IANA registry in §17.1) and the
//! algorithms each one binds.

use core::fmt;

use super::awslc::{AeadAlg, HashAlg};

/// An MLS cipher suite supported by Canopy: the seven of RFC 9420 §17.1, and three
/// experimental post-quantum ones ([`CipherSuite::is_experimental`]): the X-Wing hybrid suite
/// 0x004D that openmls speaks, and the pure ML-KEM suites 0xFDEA and 0xFDEB that mls-rs speaks.
///
/// The IETF's post-quantum MLS suites (draft-ietf-mls-pq-ciphersuites-06) have no code points
/// yet (all "TBD"), and their ML-KEM HPKE (draft-ietf-hpke-pq) derives keys and names its KEMs
/// differently from both peers, so no implementation of them could be checked against anyone;
/// Canopy implements what the peers speak, and says where each suite comes from.
///
/// A suite binds one KEM ([`Kem`]), one AEAD, one hash (for the KDF, the MAC and the
/// transcript) and one signature scheme ([`SignatureScheme`]); the [`Provider`](super::Provider)
/// reads them from the suite it was made for, so each operation dispatches on a `Copy` enum
/// (a predictable branch), never through a trait object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum CipherSuite {
    /// `MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519` (0x0001, mandatory to implement).
    Mls128X25519Aes128GcmSha256Ed25519 = 1,
    /// `MLS_128_DHKEMP256_AES128GCM_SHA256_P256` (0x0002).
    Mls128P256Aes128GcmSha256P256 = 2,
    /// `MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519` (0x0003).
    Mls128X25519ChaCha20Poly1305Sha256Ed25519 = 3,
    /// `MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448` (0x0004).
    Mls256X448Aes256GcmSha512Ed448 = 4,
    /// `MLS_256_DHKEMP521_AES256GCM_SHA512_P521` (0x0005).
    Mls256P521Aes256GcmSha512P521 = 5,
    /// `MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448` (0x0006).
    Mls256X448ChaCha20Poly1305Sha512Ed448 = 6,
    /// `MLS_256_DHKEMP384_AES256GCM_SHA384_P384` (0x0007).
    Mls256P384Aes256GcmSha384P384 = 7,
    /// `MLS_256_XWING_CHACHA20POLY1305_SHA256_Ed25519` (0x004D), experimental: X-Wing
    /// (ML-KEM-768 + X25519, draft-connolly-cfrg-xwing-kem-06, HPKE KEM 0x647A),
    /// ChaCha20-Poly1305, SHA-256, Ed25519. The code point is not in the RFC 9420 registry; it
    /// is the one openmls (`openmls_traits` 0.6, feature `draft-ietf-mls-pq-ciphersuites`) and
    /// draft-mahy-mls-xwing use, and may change.
    MlsXWingChaCha20Poly1305Sha256Ed25519 = 0x004D,
    /// `MLS_128_MLKEM768_AES128GCM_SHA256_Ed25519` (0xFDEA = 65002), experimental: suite 1
    /// with ML-KEM-768 (FIPS 203) in place of DHKEM(X25519). The private-use code point and
    /// the construction are mls-rs's (`mls-rs-core` 0.27 `CipherSuite::ML_KEM_768`, feature
    /// `post-quantum`): HPKE KEM identifier 0x000F; `DeriveKeyPair(ikm)` takes RFC 9180's
    /// `dkp_prk = LabeledExtract("", "dkp_prk", ikm)` and expands it with plain
    /// `HKDF-Expand(dkp_prk, "", 64)` into ML-KEM's seed `d || z`; the raw ML-KEM shared
    /// secret is HPKE's. Not an IETF suite.
    MlsMlKem768Aes128GcmSha256Ed25519 = 0xFDEA,
    /// `MLS_256_MLKEM1024_AES256GCM_SHA384_P384` (0xFDEB = 65003), experimental: suite 7 with
    /// ML-KEM-1024 in place of DHKEM(P-384), as mls-rs defines it (`CipherSuite::ML_KEM_1024`;
    /// otherwise as 0xFDEA, with HKDF-SHA384).
    MlsMlKem1024Aes256GcmSha384P384 = 0xFDEB,
}

/// The AEAD of a suite (RFC 9420 §17.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aead {
    /// AES-128-GCM (RFC 5116).
    Aes128Gcm,
    /// AES-256-GCM (RFC 5116).
    Aes256Gcm,
    /// ChaCha20-Poly1305 (RFC 8439).
    ChaCha20Poly1305,
}

impl Aead {
    pub(crate) fn alg(self) -> AeadAlg {
        match self {
            Aead::Aes128Gcm => AeadAlg::Aes128Gcm,
            Aead::Aes256Gcm => AeadAlg::Aes256Gcm,
            Aead::ChaCha20Poly1305 => AeadAlg::ChaCha20Poly1305,
        }
    }

    /// The HPKE AEAD identifier (RFC 9180 §7.3).
    pub(crate) fn hpke_id(self) -> u16 {
        match self {
            Aead::Aes128Gcm => 0x0001,
            Aead::Aes256Gcm => 0x0002,
            Aead::ChaCha20Poly1305 => 0x0003,
        }
    }
}

/// The HPKE KEM of a suite: a DHKEM (RFC 9180 §4.1, §7.1), X-Wing, or ML-KEM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kem {
    /// DHKEM(X25519, HKDF-SHA256), 0x0020.
    X25519,
    /// DHKEM(P-256, HKDF-SHA256), 0x0010.
    P256,
    /// DHKEM(P-384, HKDF-SHA384), 0x0011.
    P384,
    /// DHKEM(P-521, HKDF-SHA512), 0x0012.
    P521,
    /// DHKEM(X448, HKDF-SHA512), 0x0021.
    X448,
    /// X-Wing (draft-connolly-cfrg-xwing-kem-06), 0x647A: a KEM, not a DHKEM.
    XWing,
    /// ML-KEM-768 (FIPS 203) as mls-rs runs it in HPKE (identifier 0x000F; see
    /// [`CipherSuite::MlsMlKem768Aes128GcmSha256Ed25519`]).
    MlKem768,
    /// ML-KEM-1024 (FIPS 203) as mls-rs runs it in HPKE (identifier 0x000F; see
    /// [`CipherSuite::MlsMlKem1024Aes256GcmSha384P384`]).
    MlKem1024,
}

impl Kem {
    /// The HPKE KEM identifier (RFC 9180 §7.1).
    pub fn id(self) -> u16 {
        match self {
            Kem::P256 => 0x0010,
            Kem::P384 => 0x0011,
            Kem::P521 => 0x0012,
            Kem::X25519 => 0x0020,
            Kem::X448 => 0x0021,
            Kem::XWing => 0x647A,
            // mls-rs's placeholder for both parameter sets ("not set by any RFC");
            // draft-ietf-hpke-pq would assign 0x0041 and 0x0042 to a different construction.
            Kem::MlKem768 | Kem::MlKem1024 => 0x000F,
        }
    }

    /// Whether the KEM is a DHKEM (a Diffie-Hellman group behind RFC 9180's construction),
    /// rather than a KEM with its own encapsulation (X-Wing, ML-KEM).
    pub fn is_dhkem(self) -> bool {
        !matches!(self, Kem::XWing | Kem::MlKem768 | Kem::MlKem1024)
    }

    /// The name counters and errors use.
    pub fn name(self) -> &'static str {
        match self {
            Kem::X25519 => "X25519",
            Kem::P256 => "P-256",
            Kem::P384 => "P-384",
            Kem::P521 => "P-521",
            Kem::X448 => "X448",
            Kem::XWing => "X-Wing",
            Kem::MlKem768 => "ML-KEM-768",
            Kem::MlKem1024 => "ML-KEM-1024",
        }
    }

    /// The KEM's own KDF, which `DeriveKeyPair` and `ExtractAndExpand` use (RFC 9180 §7.1).
    /// X-Wing uses none (SHA-3 inside); its 32-byte secret is that of SHA-256. ML-KEM's
    /// `DeriveKeyPair` expands with its suite's KDF.
    pub(crate) fn kdf(self) -> HashAlg {
        match self {
            Kem::X25519 | Kem::P256 | Kem::XWing | Kem::MlKem768 => HashAlg::Sha256,
            Kem::P384 | Kem::MlKem1024 => HashAlg::Sha384,
            Kem::P521 | Kem::X448 => HashAlg::Sha512,
        }
    }

    /// `Nsecret` (RFC 9180 §7.1): ML-KEM's shared secret is 32 bytes at every parameter set.
    pub fn n_secret(self) -> usize {
        match self {
            Kem::MlKem768 | Kem::MlKem1024 => 32,
            other => other.kdf().output_len(),
        }
    }

    /// `Nsk`: the length of a private key and of the randomness an encapsulation draws. An
    /// ML-KEM private key is its 64-byte seed `d || z`.
    pub fn n_sk(self) -> usize {
        match self {
            Kem::X25519 | Kem::P256 | Kem::XWing => 32,
            Kem::P384 => 48,
            Kem::P521 => 66,
            Kem::X448 => 56,
            Kem::MlKem768 | Kem::MlKem1024 => 64,
        }
    }

    /// `Npk`: an encoded public key (uncompressed SEC1 points for the NIST curves).
    pub fn n_pk(self) -> usize {
        match self {
            Kem::X25519 => 32,
            Kem::P256 => 65,
            Kem::P384 => 97,
            Kem::P521 => 133,
            Kem::X448 => 56,
            Kem::XWing => 1216,
            Kem::MlKem768 => 1184,
            Kem::MlKem1024 => 1568,
        }
    }

    /// `Nenc`: an encapsulation (`kem_output`); a DHKEM's is an ephemeral public key.
    pub fn n_enc(self) -> usize {
        match self {
            Kem::XWing => 1120,
            Kem::MlKem768 => 1088,
            Kem::MlKem1024 => 1568,
            other => other.n_pk(),
        }
    }
}

/// The signature scheme of a suite (RFC 9420 §5.1.2, TLS SignatureScheme names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    /// `ed25519` (RFC 8032).
    Ed25519,
    /// `ecdsa_secp256r1_sha256`, DER-encoded signatures.
    EcdsaP256Sha256,
    /// `ecdsa_secp384r1_sha384`, DER-encoded signatures.
    EcdsaP384Sha384,
    /// `ecdsa_secp521r1_sha512`, DER-encoded signatures.
    EcdsaP521Sha512,
    /// `ed448` (RFC 8032).
    Ed448,
}

impl SignatureScheme {
    /// The name counters and errors use.
    pub fn name(self) -> &'static str {
        match self {
            SignatureScheme::Ed25519 => "Ed25519",
            SignatureScheme::EcdsaP256Sha256 => "ECDSA P-256/SHA-256",
            SignatureScheme::EcdsaP384Sha384 => "ECDSA P-384/SHA-384",
            SignatureScheme::EcdsaP521Sha512 => "ECDSA P-521/SHA-512",
            SignatureScheme::Ed448 => "Ed448",
        }
    }

    /// The length of a private key as MLS encodes it: the seed for EdDSA, the scalar for
    /// ECDSA.
    pub fn private_key_len(self) -> usize {
        match self {
            SignatureScheme::Ed25519 | SignatureScheme::EcdsaP256Sha256 => 32,
            SignatureScheme::EcdsaP384Sha384 => 48,
            SignatureScheme::EcdsaP521Sha512 => 66,
            SignatureScheme::Ed448 => 57,
        }
    }

    /// The length of every signature of the scheme, or `None` for ECDSA, whose DER
    /// encoding varies in length with its integers.
    pub fn fixed_signature_len(self) -> Option<usize> {
        match self {
            SignatureScheme::Ed25519 => Some(64),
            SignatureScheme::Ed448 => Some(114),
            SignatureScheme::EcdsaP256Sha256
            | SignatureScheme::EcdsaP384Sha384
            | SignatureScheme::EcdsaP521Sha512 => None,
        }
    }

    /// The length of a signature, or for ECDSA (DER-encoded, of varying length) that of one
    /// with both integers at full length: what a simulated signature occupies.
    pub fn typical_signature_len(self) -> usize {
        match self {
            SignatureScheme::Ed25519 => 64,
            // SEQUENCE { INTEGER r, INTEGER s }, each integer with a sign byte half the time.
            SignatureScheme::EcdsaP256Sha256 => 71,
            SignatureScheme::EcdsaP384Sha384 => 103,
            SignatureScheme::EcdsaP521Sha512 => 139,
            SignatureScheme::Ed448 => 114,
        }
    }
}

impl CipherSuite {
    /// Every supported suite, in code-point order.
    pub const ALL: &'static [CipherSuite] = &[
        CipherSuite::Mls128X25519Aes128GcmSha256Ed25519,
        CipherSuite::Mls128P256Aes128GcmSha256P256,
        CipherSuite::Mls128X25519ChaCha20Poly1305Sha256Ed25519,
        CipherSuite::Mls256X448Aes256GcmSha512Ed448,
        CipherSuite::Mls256P521Aes256GcmSha512P521,
        CipherSuite::Mls256X448ChaCha20Poly1305Sha512Ed448,
        CipherSuite::Mls256P384Aes256GcmSha384P384,
        CipherSuite::MlsXWingChaCha20Poly1305Sha256Ed25519,
        CipherSuite::MlsMlKem768Aes128GcmSha256Ed25519,
        CipherSuite::MlsMlKem1024Aes256GcmSha384P384,
    ];

    /// The suite with this RFC 9420 code point, if Canopy implements it.
    pub fn from_u16(id: u16) -> Option<Self> {
        CipherSuite::ALL.iter().copied().find(|s| s.id() == id)
    }

    /// The RFC 9420 code point (or, for an experimental suite, the one its source uses).
    pub fn id(self) -> u16 {
        self as u16
    }

    /// Whether the suite is experimental: not in the RFC 9420 registry, its code point and
    /// algorithms taken from a draft or a peer that may still change them (0x004D, 0xFDEA,
    /// 0xFDEB).
    pub fn is_experimental(self) -> bool {
        self.id() > 7
    }

    /// The suite's KEM.
    pub fn kem(self) -> Kem {
        match self {
            CipherSuite::Mls128X25519Aes128GcmSha256Ed25519
            | CipherSuite::Mls128X25519ChaCha20Poly1305Sha256Ed25519 => Kem::X25519,
            CipherSuite::Mls128P256Aes128GcmSha256P256 => Kem::P256,
            CipherSuite::Mls256P384Aes256GcmSha384P384 => Kem::P384,
            CipherSuite::Mls256P521Aes256GcmSha512P521 => Kem::P521,
            CipherSuite::Mls256X448Aes256GcmSha512Ed448
            | CipherSuite::Mls256X448ChaCha20Poly1305Sha512Ed448 => Kem::X448,
            CipherSuite::MlsXWingChaCha20Poly1305Sha256Ed25519 => Kem::XWing,
            CipherSuite::MlsMlKem768Aes128GcmSha256Ed25519 => Kem::MlKem768,
            CipherSuite::MlsMlKem1024Aes256GcmSha384P384 => Kem::MlKem1024,
        }
    }

    /// The suite's signature scheme.
    pub fn signature_scheme(self) -> SignatureScheme {
        match self {
            CipherSuite::Mls128X25519Aes128GcmSha256Ed25519
            | CipherSuite::Mls128X25519ChaCha20Poly1305Sha256Ed25519
            | CipherSuite::MlsXWingChaCha20Poly1305Sha256Ed25519
            | CipherSuite::MlsMlKem768Aes128GcmSha256Ed25519 => SignatureScheme::Ed25519,
            CipherSuite::Mls128P256Aes128GcmSha256P256 => SignatureScheme::EcdsaP256Sha256,
            CipherSuite::Mls256P384Aes256GcmSha384P384
            | CipherSuite::MlsMlKem1024Aes256GcmSha384P384 => SignatureScheme::EcdsaP384Sha384,
            CipherSuite::Mls256P521Aes256GcmSha512P521 => SignatureScheme::EcdsaP521Sha512,
            CipherSuite::Mls256X448Aes256GcmSha512Ed448
            | CipherSuite::Mls256X448ChaCha20Poly1305Sha512Ed448 => SignatureScheme::Ed448,
        }
    }

    /// The hash of the suite's KDF, MAC and transcript (and of its HPKE KDF).
    pub(crate) fn hash(self) -> HashAlg {
        match self {
            CipherSuite::Mls128X25519Aes128GcmSha256Ed25519
            | CipherSuite::Mls128X25519ChaCha20Poly1305Sha256Ed25519
            | CipherSuite::Mls128P256Aes128GcmSha256P256
            | CipherSuite::MlsXWingChaCha20Poly1305Sha256Ed25519
            | CipherSuite::MlsMlKem768Aes128GcmSha256Ed25519 => HashAlg::Sha256,
            CipherSuite::Mls256P384Aes256GcmSha384P384
            | CipherSuite::MlsMlKem1024Aes256GcmSha384P384 => HashAlg::Sha384,
            CipherSuite::Mls256P521Aes256GcmSha512P521
            | CipherSuite::Mls256X448Aes256GcmSha512Ed448
            | CipherSuite::Mls256X448ChaCha20Poly1305Sha512Ed448 => HashAlg::Sha512,
        }
    }

    pub(crate) fn aead(self) -> Aead {
        match self {
            CipherSuite::Mls128X25519Aes128GcmSha256Ed25519
            | CipherSuite::Mls128P256Aes128GcmSha256P256
            | CipherSuite::MlsMlKem768Aes128GcmSha256Ed25519 => Aead::Aes128Gcm,
            CipherSuite::Mls256P521Aes256GcmSha512P521
            | CipherSuite::Mls256P384Aes256GcmSha384P384
            | CipherSuite::MlsMlKem1024Aes256GcmSha384P384
            | CipherSuite::Mls256X448Aes256GcmSha512Ed448 => Aead::Aes256Gcm,
            CipherSuite::Mls128X25519ChaCha20Poly1305Sha256Ed25519
            | CipherSuite::Mls256X448ChaCha20Poly1305Sha512Ed448
            | CipherSuite::MlsXWingChaCha20Poly1305Sha256Ed25519 => Aead::ChaCha20Poly1305,
        }
    }

    /// The name of the suite's hash (`"SHA-256"`, `"SHA-384"`, `"SHA-512"`), which its KDF,
    /// MAC and transcript use: with [`CipherSuite::aead_name`], what decides the cost of its
    /// symmetric work.
    pub fn hash_name(self) -> &'static str {
        match self.hash() {
            HashAlg::Sha256 => "SHA-256",
            HashAlg::Sha384 => "SHA-384",
            HashAlg::Sha512 => "SHA-512",
        }
    }

    /// The name of the suite's AEAD (`"AES-128-GCM"`, `"AES-256-GCM"`,
    /// `"ChaCha20-Poly1305"`).
    pub fn aead_name(self) -> &'static str {
        match self.aead() {
            Aead::Aes128Gcm => "AES-128-GCM",
            Aead::Aes256Gcm => "AES-256-GCM",
            Aead::ChaCha20Poly1305 => "ChaCha20-Poly1305",
        }
    }

    /// The HPKE KDF identifier (RFC 9180 §7.2).
    pub(crate) fn hpke_kdf_id(self) -> u16 {
        match self.hash() {
            HashAlg::Sha256 => 0x0001,
            HashAlg::Sha384 => 0x0002,
            HashAlg::Sha512 => 0x0003,
        }
    }

    /// The HPKE AEAD identifier (RFC 9180 §7.3).
    pub(crate) fn hpke_aead(self) -> hpke_rs_crypto::types::AeadAlgorithm {
        match self.aead() {
            Aead::Aes128Gcm => hpke_rs_crypto::types::AeadAlgorithm::Aes128Gcm,
            Aead::Aes256Gcm => hpke_rs_crypto::types::AeadAlgorithm::Aes256Gcm,
            Aead::ChaCha20Poly1305 => hpke_rs_crypto::types::AeadAlgorithm::ChaCha20Poly1305,
        }
    }

    /// The RFC 9420 name.
    pub fn name(self) -> &'static str {
        match self {
            CipherSuite::Mls128X25519Aes128GcmSha256Ed25519 => {
                "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519"
            }
            CipherSuite::Mls128P256Aes128GcmSha256P256 => "MLS_128_DHKEMP256_AES128GCM_SHA256_P256",
            CipherSuite::Mls128X25519ChaCha20Poly1305Sha256Ed25519 => {
                "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519"
            }
            CipherSuite::Mls256X448Aes256GcmSha512Ed448 => {
                "MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448"
            }
            CipherSuite::Mls256P521Aes256GcmSha512P521 => "MLS_256_DHKEMP521_AES256GCM_SHA512_P521",
            CipherSuite::Mls256X448ChaCha20Poly1305Sha512Ed448 => {
                "MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448"
            }
            CipherSuite::Mls256P384Aes256GcmSha384P384 => "MLS_256_DHKEMP384_AES256GCM_SHA384_P384",
            CipherSuite::MlsXWingChaCha20Poly1305Sha256Ed25519 => {
                "MLS_256_XWING_CHACHA20POLY1305_SHA256_Ed25519"
            }
            CipherSuite::MlsMlKem768Aes128GcmSha256Ed25519 => {
                "MLS_128_MLKEM768_AES128GCM_SHA256_Ed25519"
            }
            CipherSuite::MlsMlKem1024Aes256GcmSha384P384 => {
                "MLS_256_MLKEM1024_AES256GCM_SHA384_P384"
            }
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
        f.write_str(self.name())
    }
}
