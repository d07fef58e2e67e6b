//! Table-driven runners for the published conformance vectors: RFC 9420 (mlswg
//! `mls-implementations`), RFC 9180 (HPKE) and Wycheproof.
//!
//! Each runner takes the parsed JSON of one vector file and returns a [`Tally`]: how many cases
//! passed, failed or were skipped (a case is skipped only for an unsupported cipher suite, and
//! the tally says why), plus how many individual values were compared. The engine's tests and
//! the `canopy vectors` command both go through [`run_file`], so the command checks exactly
//! what the tests check, on any file a user points it at.

use std::fmt;
use std::path::Path;

use serde_json::Value;

use crate::crypto::awslc::HashAlg;
use crate::crypto::primitives::{ecdh, ecdsa, mldsa, mlkem};

pub mod crypto_basics;
pub mod deserialization;
pub mod hpke;
pub mod message_protection;
pub mod messages;
pub mod passive_client;
pub mod schedule;
pub mod transcript_hashes;
pub mod tree;
pub mod tree_math;
pub mod treekem;
pub mod welcome;
pub mod wycheproof;

/// Outcome counts for one vector file.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Cases whose every check passed.
    pub passed: usize,
    /// Cases with at least one failed check.
    pub failed: usize,
    /// Cases not run (unsupported cipher suite), with the reason in `notes`.
    pub skipped: usize,
    /// Cases not run because no runner is meant for them (a Wycheproof group whose
    /// algorithm or parameters are not those of the file's runner), with the reason in
    /// `notes`. Neither passed nor failed.
    pub unrecognised: usize,
    /// Individual values compared or operations checked across all cases.
    pub checks: usize,
    /// One line per failure or skip reason (deduplicated for skips).
    pub notes: Vec<String>,
    /// For files indexed by cipher suite: per suite code point, its cases (an empty map for
    /// the others).
    pub suites: std::collections::BTreeMap<u16, SuiteTally>,
}

/// The cases of one cipher suite in a suite-indexed vector file.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SuiteTally {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Cases not run (a suite Canopy does not implement).
    pub skipped: usize,
}

impl Tally {
    /// Record one case: `f` returns `Ok(checks)` with the number of values it compared, or a
    /// description of the first mismatch. A panic inside `f` is caught and counted as a
    /// failure, so one bad case cannot hide the rest.
    pub fn case(&mut self, label: impl fmt::Display, f: impl FnOnce() -> Result<usize, String>) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .unwrap_or_else(|_| Err("panicked".to_string()));
        match outcome {
            Ok(n) => {
                self.passed += 1;
                self.checks += n;
            }
            Err(why) => {
                self.failed += 1;
                self.notes.push(format!("FAIL {label}: {why}"));
            }
        }
    }

    /// Record a skipped case (only for a cipher suite Canopy does not support).
    pub fn skip(&mut self, why: impl fmt::Display) {
        self.skipped += 1;
        let line = format!("skip: {why}");
        if !self.notes.contains(&line) {
            self.notes.push(line);
        }
    }

    /// Record `n` cases that no runner is meant for.
    pub fn refuse(&mut self, n: usize, why: impl fmt::Display) {
        self.unrecognised += n;
        let line = format!("unrecognised: {why}");
        if !self.notes.contains(&line) {
            self.notes.push(line);
        }
    }

    /// Add another tally's counts to this one.
    pub fn absorb(&mut self, other: Tally) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.unrecognised += other.unrecognised;
        self.checks += other.checks;
        self.notes.extend(other.notes);
        for (suite, s) in other.suites {
            let mine = self.suites.entry(suite).or_default();
            mine.passed += s.passed;
            mine.failed += s.failed;
            mine.skipped += s.skipped;
        }
    }

    /// The per-suite counts as one line, e.g. `suite 1: 11 passed; suite 2: 11 passed`,
    /// naming failures and skips where there are any; empty for a file not indexed by suite.
    pub fn suite_line(&self) -> String {
        self.suites
            .iter()
            .map(|(id, s)| {
                let mut part = format!("suite {id}: {} passed", s.passed);
                if s.failed > 0 {
                    part.push_str(&format!(", {} failed", s.failed));
                }
                if s.skipped > 0 {
                    part.push_str(&format!(", {} skipped", s.skipped));
                }
                part
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The vector files Canopy knows how to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// `tree-math.json` (RFC 9420 Appendix C).
    TreeMath,
    /// `crypto-basics.json` (RFC 9420 §5.1, §5.2, §8).
    CryptoBasics,
    /// RFC 9180 `test-vectors.json`.
    Hpke,
    /// Wycheproof `x25519_test.json`.
    WycheproofX25519,
    /// Wycheproof `ed25519_test.json`.
    WycheproofEd25519,
    /// Wycheproof `aes_gcm_test.json`.
    WycheproofAesGcm,
    /// Wycheproof `chacha20_poly1305_test.json`.
    WycheproofChaCha20Poly1305,
    /// Wycheproof `hkdf_sha256_test.json`.
    WycheproofHkdfSha256,
    /// Wycheproof `hmac_sha256_test.json`.
    WycheproofHmacSha256,
    /// `messages.json` (RFC 9420 wire formats, encode/decode round trips).
    Messages,
    /// `deserialization.json` (RFC 9420 §2.1.2 variable-length integers).
    Deserialization,
    /// `key-schedule.json` (RFC 9420 §8).
    KeySchedule,
    /// `psk_secret.json` (§8.4).
    PskSecret,
    /// `secret-tree.json` (§9).
    SecretTree,
    /// `tree-validation.json` (§4.1.1, §7.8, §7.9.2).
    TreeValidation,
    /// `tree-operations.json` (§12.1).
    TreeOperations,
    /// `message-protection.json` (RFC 9420 §6.1-§6.3).
    MessageProtection,
    /// `welcome.json` (RFC 9420 §12.4.3.1).
    Welcome,
    /// `transcript-hashes.json` (RFC 9420 §8.2).
    TranscriptHashes,
    /// `treekem.json` (RFC 9420 §7.4–§7.6, §7.9).
    TreeKem,
    /// `passive-client-welcome.json` (joins, including external PSKs).
    PassiveClientWelcome,
    /// `passive-client-handling-commit.json` (one kind of commit per case).
    PassiveClientHandlingCommit,
    /// `passive-client-random.json` (long random histories).
    PassiveClientRandom,
    /// Wycheproof `x448_test.json`.
    WycheproofX448,
    /// Wycheproof `ed448_test.json`.
    WycheproofEd448,
    /// Wycheproof `ecdh_secp256r1_test.json`.
    WycheproofEcdhP256,
    /// Wycheproof `ecdh_secp384r1_test.json`.
    WycheproofEcdhP384,
    /// Wycheproof `ecdh_secp521r1_test.json`.
    WycheproofEcdhP521,
    /// Wycheproof `ecdsa_secp256r1_sha256_test.json`.
    WycheproofEcdsaP256Sha256,
    /// Wycheproof `ecdsa_secp384r1_sha384_test.json`.
    WycheproofEcdsaP384Sha384,
    /// Wycheproof `ecdsa_secp521r1_sha512_test.json`.
    WycheproofEcdsaP521Sha512,
    /// Wycheproof `hkdf_sha384_test.json`.
    WycheproofHkdfSha384,
    /// Wycheproof `hkdf_sha512_test.json`.
    WycheproofHkdfSha512,
    /// Wycheproof `hmac_sha384_test.json`.
    WycheproofHmacSha384,
    /// Wycheproof `hmac_sha512_test.json`.
    WycheproofHmacSha512,
    /// Wycheproof `mlkem_768_test.json`.
    WycheproofMlKem768,
    /// Wycheproof `mlkem_1024_test.json`.
    WycheproofMlKem1024,
    /// Wycheproof `mldsa_65_verify_test.json`.
    WycheproofMlDsa65,
    /// Wycheproof `mldsa_87_verify_test.json`.
    WycheproofMlDsa87,
}

impl Kind {
    /// Every kind, for listing.
    pub const ALL: &'static [Kind] = &[
        Kind::TreeMath,
        Kind::CryptoBasics,
        Kind::Hpke,
        Kind::WycheproofX25519,
        Kind::WycheproofEd25519,
        Kind::WycheproofAesGcm,
        Kind::WycheproofChaCha20Poly1305,
        Kind::WycheproofHkdfSha256,
        Kind::WycheproofHmacSha256,
        Kind::Messages,
        Kind::Deserialization,
        Kind::KeySchedule,
        Kind::PskSecret,
        Kind::SecretTree,
        Kind::TreeValidation,
        Kind::TreeOperations,
        Kind::MessageProtection,
        Kind::Welcome,
        Kind::TranscriptHashes,
        Kind::TreeKem,
        Kind::PassiveClientWelcome,
        Kind::PassiveClientHandlingCommit,
        Kind::PassiveClientRandom,
        Kind::WycheproofX448,
        Kind::WycheproofEd448,
        Kind::WycheproofEcdhP256,
        Kind::WycheproofEcdhP384,
        Kind::WycheproofEcdhP521,
        Kind::WycheproofEcdsaP256Sha256,
        Kind::WycheproofEcdsaP384Sha384,
        Kind::WycheproofEcdsaP521Sha512,
        Kind::WycheproofHkdfSha384,
        Kind::WycheproofHkdfSha512,
        Kind::WycheproofHmacSha384,
        Kind::WycheproofHmacSha512,
        Kind::WycheproofMlKem768,
        Kind::WycheproofMlKem1024,
        Kind::WycheproofMlDsa65,
        Kind::WycheproofMlDsa87,
    ];

    /// The upstream file name this kind is published under (without `.json`).
    pub fn file_stem(self) -> &'static str {
        match self {
            Kind::TreeMath => "tree-math",
            Kind::CryptoBasics => "crypto-basics",
            Kind::Hpke => "test-vectors",
            Kind::WycheproofX25519 => "x25519_test",
            Kind::WycheproofEd25519 => "ed25519_test",
            Kind::WycheproofAesGcm => "aes_gcm_test",
            Kind::WycheproofChaCha20Poly1305 => "chacha20_poly1305_test",
            Kind::WycheproofHkdfSha256 => "hkdf_sha256_test",
            Kind::WycheproofHmacSha256 => "hmac_sha256_test",
            Kind::Messages => "messages",
            Kind::Deserialization => "deserialization",
            Kind::KeySchedule => "key-schedule",
            Kind::PskSecret => "psk_secret",
            Kind::SecretTree => "secret-tree",
            Kind::TreeValidation => "tree-validation",
            Kind::TreeOperations => "tree-operations",
            Kind::MessageProtection => "message-protection",
            Kind::Welcome => "welcome",
            Kind::TranscriptHashes => "transcript-hashes",
            Kind::TreeKem => "treekem",
            Kind::PassiveClientWelcome => "passive-client-welcome",
            Kind::PassiveClientHandlingCommit => "passive-client-handling-commit",
            Kind::PassiveClientRandom => "passive-client-random",
            Kind::WycheproofX448 => "x448_test",
            Kind::WycheproofEd448 => "ed448_test",
            Kind::WycheproofEcdhP256 => "ecdh_secp256r1_test",
            Kind::WycheproofEcdhP384 => "ecdh_secp384r1_test",
            Kind::WycheproofEcdhP521 => "ecdh_secp521r1_test",
            Kind::WycheproofEcdsaP256Sha256 => "ecdsa_secp256r1_sha256_test",
            Kind::WycheproofEcdsaP384Sha384 => "ecdsa_secp384r1_sha384_test",
            Kind::WycheproofEcdsaP521Sha512 => "ecdsa_secp521r1_sha512_test",
            Kind::WycheproofHkdfSha384 => "hkdf_sha384_test",
            Kind::WycheproofHkdfSha512 => "hkdf_sha512_test",
            Kind::WycheproofHmacSha384 => "hmac_sha384_test",
            Kind::WycheproofHmacSha512 => "hmac_sha512_test",
            Kind::WycheproofMlKem768 => "mlkem_768_test",
            Kind::WycheproofMlKem1024 => "mlkem_1024_test",
            Kind::WycheproofMlDsa65 => "mldsa_65_verify_test",
            Kind::WycheproofMlDsa87 => "mldsa_87_verify_test",
        }
    }

    /// Run a parsed vector file of this kind.
    pub fn run(self, json: &Value) -> Tally {
        match self {
            Kind::TreeMath => tree_math::run(json),
            Kind::CryptoBasics => crypto_basics::run(json),
            Kind::Hpke => hpke::run(json),
            Kind::WycheproofX25519 => wycheproof::run_x25519(json),
            Kind::WycheproofEd25519 => wycheproof::run_ed25519(json),
            Kind::WycheproofAesGcm => wycheproof::run_aes_gcm(json),
            Kind::WycheproofChaCha20Poly1305 => wycheproof::run_chacha20_poly1305(json),
            Kind::WycheproofHkdfSha256 => wycheproof::run_hkdf_sha256(json),
            Kind::WycheproofHmacSha256 => wycheproof::run_hmac_sha256(json),
            Kind::Messages => messages::run(json),
            Kind::Deserialization => deserialization::run(json),
            Kind::KeySchedule => schedule::run_key_schedule(json),
            Kind::PskSecret => schedule::run_psk_secret(json),
            Kind::SecretTree => schedule::run_secret_tree(json),
            Kind::TreeValidation => tree::run_validation(json),
            Kind::TreeOperations => tree::run_operations(json),
            Kind::MessageProtection => message_protection::run(json),
            Kind::Welcome => welcome::run(json),
            Kind::TranscriptHashes => transcript_hashes::run(json),
            Kind::TreeKem => treekem::run(json),
            Kind::PassiveClientWelcome
            | Kind::PassiveClientHandlingCommit
            | Kind::PassiveClientRandom => passive_client::run(json),
            Kind::WycheproofX448 => wycheproof::run_x448(json),
            Kind::WycheproofEd448 => wycheproof::run_ed448(json),
            Kind::WycheproofEcdhP256 => wycheproof::run_ecdh(json, self, ecdh::Curve::P256),
            Kind::WycheproofEcdhP384 => wycheproof::run_ecdh(json, self, ecdh::Curve::P384),
            Kind::WycheproofEcdhP521 => wycheproof::run_ecdh(json, self, ecdh::Curve::P521),
            Kind::WycheproofEcdsaP256Sha256 => {
                wycheproof::run_ecdsa(json, self, ecdsa::Scheme::P256Sha256)
            }
            Kind::WycheproofEcdsaP384Sha384 => {
                wycheproof::run_ecdsa(json, self, ecdsa::Scheme::P384Sha384)
            }
            Kind::WycheproofEcdsaP521Sha512 => {
                wycheproof::run_ecdsa(json, self, ecdsa::Scheme::P521Sha512)
            }
            Kind::WycheproofHkdfSha384 => wycheproof::run_hkdf(json, self, HashAlg::Sha384),
            Kind::WycheproofHkdfSha512 => wycheproof::run_hkdf(json, self, HashAlg::Sha512),
            Kind::WycheproofHmacSha384 => wycheproof::run_hmac(json, self, HashAlg::Sha384),
            Kind::WycheproofHmacSha512 => wycheproof::run_hmac(json, self, HashAlg::Sha512),
            Kind::WycheproofMlKem768 => {
                wycheproof::run_mlkem(json, self, mlkem::ParameterSet::MlKem768)
            }
            Kind::WycheproofMlKem1024 => {
                wycheproof::run_mlkem(json, self, mlkem::ParameterSet::MlKem1024)
            }
            Kind::WycheproofMlDsa65 => {
                wycheproof::run_mldsa(json, self, mldsa::ParameterSet::MlDsa65)
            }
            Kind::WycheproofMlDsa87 => {
                wycheproof::run_mldsa(json, self, mldsa::ParameterSet::MlDsa87)
            }
        }
    }

    /// Recognise a vector file by its shape (the keys of its first case), for files renamed by
    /// the user.
    fn from_shape(json: &Value) -> Option<Kind> {
        // Wycheproof files are one object naming their algorithm: dispatched on it and their
        // groups' parameters alone.
        if json.get("algorithm").is_some() {
            return wycheproof::classify(json).ok();
        }
        let first = json.as_array()?.first()?.as_object()?;
        let has = |k: &str| first.contains_key(k);
        if has("n_leaves") && has("parent") && has("sibling") {
            return Some(Kind::TreeMath);
        }
        if has("ref_hash") && has("expand_with_label") && has("encrypt_with_label") {
            return Some(Kind::CryptoBasics);
        }
        if has("kem_id") && has("ikmE") && has("encryptions") {
            return Some(Kind::Hpke);
        }
        if has("mls_welcome") && has("commit") && has("private_message") {
            return Some(Kind::Messages);
        }
        if has("vlbytes_header") && has("length") {
            return Some(Kind::Deserialization);
        }
        if has("initial_init_secret") && has("epochs") {
            return Some(Kind::KeySchedule);
        }
        if has("psks") && has("psk_secret") {
            return Some(Kind::PskSecret);
        }
        if has("sender_data") && has("leaves") && has("encryption_secret") {
            return Some(Kind::SecretTree);
        }
        if has("tree") && has("resolutions") && has("tree_hashes") {
            return Some(Kind::TreeValidation);
        }
        if has("tree_before") && has("proposal") && has("tree_after") {
            return Some(Kind::TreeOperations);
        }
        if has("membership_key") && has("proposal_priv") && has("application_priv") {
            return Some(Kind::MessageProtection);
        }
        // The passive-client files share these keys but also carry `epochs`.
        if has("init_priv") && has("key_package") && has("welcome") && !has("epochs") {
            return Some(Kind::Welcome);
        }
        if has("init_priv") && has("welcome") && has("epochs") && has("external_psks") {
            // The three passive-client files have the same shape: tell them apart by their
            // contents (no epochs at all; one long history; short histories).
            let cases = json.as_array()?;
            let epochs = |c: &Value| {
                c.get("epochs")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
            };
            let most = cases.iter().map(epochs).max().unwrap_or(0);
            return Some(if most == 0 {
                Kind::PassiveClientWelcome
            } else if most > 20 {
                Kind::PassiveClientRandom
            } else {
                Kind::PassiveClientHandlingCommit
            });
        }
        if has("authenticated_content") && has("interim_transcript_hash_before") {
            return Some(Kind::TranscriptHashes);
        }
        if has("leaves_private") && has("update_paths") {
            return Some(Kind::TreeKem);
        }
        None
    }
}

/// Recognise a vector file. A Wycheproof file (one object with an `algorithm`) by its content
/// alone: its algorithm and its groups' parameters, whatever its name. Any other file by its
/// file name first, else by the shape of its JSON; a name never selects a Wycheproof runner
/// for a file that is not a Wycheproof file.
pub fn detect(path: &Path, json: &Value) -> Option<Kind> {
    if json.get("algorithm").is_some() {
        return wycheproof::classify(json).ok();
    }
    let by_name = path.file_stem().and_then(|s| s.to_str()).and_then(|stem| {
        Kind::ALL
            .iter()
            .copied()
            .filter(|k| wycheproof::spec(*k).is_none())
            .find(|k| k.file_stem() == stem)
    });
    by_name.or_else(|| Kind::from_shape(json))
}

/// Result of running one file.
#[derive(Debug)]
pub struct FileReport {
    /// Which runner was used.
    pub kind: Kind,
    /// Its counts.
    pub tally: Tally,
}

/// Read, recognise and run one vector file.
pub fn run_file(path: &Path) -> Result<FileReport, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    let kind = match json.get("algorithm") {
        Some(_) => {
            wycheproof::classify(&json).map_err(|why| format!("{}: {why}", path.display()))?
        }
        None => detect(path, &json)
            .ok_or_else(|| format!("{}: not a vector file Canopy recognises", path.display()))?,
    };
    Ok(FileReport {
        kind,
        tally: kind.run(&json),
    })
}

/// Helpers shared by the runners.
pub(crate) mod util {
    use serde_json::Value;

    /// Decode a hex string field.
    pub(crate) fn hex_field(v: &Value, key: &str) -> Result<Vec<u8>, String> {
        let s = v
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("missing field {key}"))?;
        hex::decode(s).map_err(|e| format!("field {key}: bad hex: {e}"))
    }

    /// Read an unsigned integer field.
    pub(crate) fn u64_field(v: &Value, key: &str) -> Result<u64, String> {
        v.get(key)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("missing integer field {key}"))
    }

    /// Compare two values, naming the field on mismatch.
    pub(crate) fn expect_eq<T: PartialEq + std::fmt::Debug>(
        what: &str,
        got: T,
        want: T,
    ) -> Result<usize, String> {
        if got == want {
            Ok(1)
        } else {
            Err(format!("{what}: got {got:?}, want {want:?}"))
        }
    }

    /// Run `f` on every case whose `cipher_suite` Canopy implements; skip (and say so) the
    /// others. The one loop every per-suite MLS runner shares.
    pub(crate) fn for_each_supported_suite(
        json: &Value,
        f: impl Fn(crate::crypto::CipherSuite, &Value) -> Result<usize, String>,
    ) -> super::Tally {
        let mut tally = super::Tally::default();
        for (i, case) in cases(json).iter().enumerate() {
            let id = case
                .get("cipher_suite")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let id16 = u16::try_from(id).unwrap_or(u16::MAX);
            match crate::crypto::CipherSuite::from_u16(id16) {
                Some(suite) => {
                    let passed = tally.passed;
                    tally.case(format_args!("case {i} (suite {id})"), || f(suite, case));
                    let s = tally.suites.entry(id16).or_default();
                    if tally.passed > passed {
                        s.passed += 1;
                    } else {
                        s.failed += 1;
                    }
                }
                None => {
                    tally.skip(format_args!("cipher suite {id} not supported"));
                    tally.suites.entry(id16).or_default().skipped += 1;
                }
            }
        }
        tally
    }

    /// The cases of a vector file (every file is a JSON array of objects).
    pub(crate) fn cases(json: &Value) -> &[Value] {
        json.as_array().map(Vec::as_slice).unwrap_or(&[])
    }
}
