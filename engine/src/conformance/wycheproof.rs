//! Wycheproof (C2SP `testvectors_v1`) files for the primitives under the MLS cipher suites,
//! run through the aws-lc primitives the provider uses (suites 1 and 3: X25519, Ed25519,
//! AES-GCM, ChaCha20-Poly1305, HKDF-SHA256, HMAC-SHA256) and through the self-contained
//! primitives of the other suites (`crate::crypto::primitives`: ECDH and ECDSA on P-256,
//! P-384 and P-521, X448, Ed448, ML-KEM-768/1024, ML-DSA-65/87; HKDF and HMAC with SHA-384
//! and SHA-512 through the aws-lc functions the provider already has).
//!
//! A file is dispatched on its content, never its name: its `algorithm` and each group's
//! `type` and parameters (curve, hash, parameter set) must be those of one runner's [`Spec`].
//! A file no runner claims is not run at all (`super::run_file` reports it unrecognised), and
//! a group whose parameters differ from its file's runner is counted as unrecognised, test by
//! test, and not run: an X448 file can never go through the X25519 runner.
//!
//! Every Wycheproof test is one case. `valid` must be accepted with the right output, `invalid`
//! must be rejected. `acceptable` is decided per runner:
//! - X25519, Ed25519, the AEADs, HKDF-SHA256, HMAC-SHA256: either way, except that an X25519
//!   all-zero shared secret (flag `ZeroSharedSecret`) must be rejected, as RFC 9180 §7.1.4
//!   requires of MLS.
//! - X448: accepted with the right output, except an all-zero shared secret (flag
//!   `ZeroSharedSecret`, or an all-zero `shared`), which must be rejected.
//! - ECDH: every `acceptable` test is about a public-key encoding MLS never carries (an
//!   explicit-parameters, BER or otherwise unusual SubjectPublicKeyInfo, or a compressed
//!   point: flags in [`ECDH_ENCODING_FLAGS`]); those are skipped and counted. An `acceptable`
//!   test with any other flag fails the file, so a new kind is noticed.
//!
//! Skips, each counted in the tally: AEAD tests with a nonce other than 96 bits when `valid`
//! (MLS only uses 96-bit nonces and the provider rejects every other length; `invalid` ones
//! are run and rejected); ECDH `acceptable` encodings above; ML-DSA tests with a non-empty
//! context string (MLS signs with the empty context, the only one aws-lc-rs offers).

use serde_json::Value;

use super::util::{expect_eq, hex_field, u64_field};
use super::{Kind, Tally};
use crate::crypto::awslc::{self, AeadAlg, HashAlg};
use crate::crypto::backend;
use crate::crypto::primitives::{ecdh, ecdsa, ed448, mldsa, mlkem, x448, PrimitiveError};
use crate::crypto::{CipherSuite, CryptoError, Provider};

/// What a runner accepts: the file's `algorithm`, its groups' `type`, and the values of group
/// fields (`publicKey.curve` reads a nested field).
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The file's `algorithm`.
    pub algorithm: &'static str,
    /// Every group's `type`.
    pub group_type: &'static str,
    /// `(field, value)` every group must carry.
    pub params: &'static [(&'static str, &'static str)],
}

impl Spec {
    const fn new(
        algorithm: &'static str,
        group_type: &'static str,
        params: &'static [(&'static str, &'static str)],
    ) -> Spec {
        Spec {
            algorithm,
            group_type,
            params,
        }
    }

    fn matches_group(&self, group: &Value) -> bool {
        str_at(group, "type") == Some(self.group_type)
            && self
                .params
                .iter()
                .all(|&(field, value)| str_at(group, field) == Some(value))
    }
}

/// A string field, `a.b` reading the field `b` of the object `a`.
fn str_at<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    path.split('.')
        .try_fold(v, |v, key| v.get(key))
        .and_then(Value::as_str)
}

/// The runner of every Wycheproof kind.
pub fn spec(kind: Kind) -> Option<Spec> {
    const CURVE: &str = "curve";
    const PK_CURVE: &str = "publicKey.curve";
    Some(match kind {
        Kind::WycheproofX25519 => Spec::new("XDH", "XdhComp", &[(CURVE, "curve25519")]),
        Kind::WycheproofX448 => Spec::new("XDH", "XdhComp", &[(CURVE, "curve448")]),
        Kind::WycheproofEd25519 => Spec::new("EDDSA", "EddsaVerify", &[(PK_CURVE, "edwards25519")]),
        Kind::WycheproofEd448 => Spec::new("EDDSA", "EddsaVerify", &[(PK_CURVE, "edwards448")]),
        Kind::WycheproofAesGcm => Spec::new("AES-GCM", "AeadTest", &[]),
        Kind::WycheproofChaCha20Poly1305 => Spec::new("CHACHA20-POLY1305", "AeadTest", &[]),
        Kind::WycheproofHkdfSha256 => Spec::new("HKDF-SHA-256", "HkdfTest", &[]),
        Kind::WycheproofHkdfSha384 => Spec::new("HKDF-SHA-384", "HkdfTest", &[]),
        Kind::WycheproofHkdfSha512 => Spec::new("HKDF-SHA-512", "HkdfTest", &[]),
        Kind::WycheproofHmacSha256 => Spec::new("HMACSHA256", "MacTest", &[]),
        Kind::WycheproofHmacSha384 => Spec::new("HMACSHA384", "MacTest", &[]),
        Kind::WycheproofHmacSha512 => Spec::new("HMACSHA512", "MacTest", &[]),
        Kind::WycheproofEcdhP256 => Spec::new(
            "ECDH",
            "EcdhTest",
            &[(CURVE, "secp256r1"), ("encoding", "asn")],
        ),
        Kind::WycheproofEcdhP384 => Spec::new(
            "ECDH",
            "EcdhTest",
            &[(CURVE, "secp384r1"), ("encoding", "asn")],
        ),
        Kind::WycheproofEcdhP521 => Spec::new(
            "ECDH",
            "EcdhTest",
            &[(CURVE, "secp521r1"), ("encoding", "asn")],
        ),
        Kind::WycheproofEcdsaP256Sha256 => Spec::new(
            "ECDSA",
            "EcdsaVerify",
            &[(PK_CURVE, "secp256r1"), ("sha", "SHA-256")],
        ),
        Kind::WycheproofEcdsaP384Sha384 => Spec::new(
            "ECDSA",
            "EcdsaVerify",
            &[(PK_CURVE, "secp384r1"), ("sha", "SHA-384")],
        ),
        Kind::WycheproofEcdsaP521Sha512 => Spec::new(
            "ECDSA",
            "EcdsaVerify",
            &[(PK_CURVE, "secp521r1"), ("sha", "SHA-512")],
        ),
        Kind::WycheproofMlKem768 => {
            Spec::new("ML-KEM", "MLKEMTest", &[("parameterSet", "ML-KEM-768")])
        }
        Kind::WycheproofMlKem1024 => {
            Spec::new("ML-KEM", "MLKEMTest", &[("parameterSet", "ML-KEM-1024")])
        }
        Kind::WycheproofMlDsa65 => Spec::new("ML-DSA-65", "MlDsaVerify", &[]),
        Kind::WycheproofMlDsa87 => Spec::new("ML-DSA-87", "MlDsaVerify", &[]),
        _ => return None,
    })
}

fn groups(json: &Value) -> &[Value] {
    json.get("testGroups")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn tests(group: &Value) -> &[Value] {
    group
        .get("tests")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A group's type and parameters, for messages: `XdhComp curve=curve448`.
fn describe_group(group: &Value) -> String {
    let mut out = str_at(group, "type").unwrap_or("(no type)").to_string();
    for field in [
        "curve",
        "publicKey.curve",
        "sha",
        "parameterSet",
        "encoding",
    ] {
        if let Some(v) = str_at(group, field) {
            out.push_str(&format!(" {field}={v}"));
        }
    }
    out
}

/// The Wycheproof runner for a file, from its content alone: the kind whose [`Spec`] has the
/// file's `algorithm` and claims the most groups (a file's groups normally all agree). `Err`
/// says why none does, for the unrecognised report.
pub fn classify(json: &Value) -> Result<Kind, String> {
    let algorithm = json
        .get("algorithm")
        .and_then(Value::as_str)
        .ok_or("no algorithm field")?;
    let groups = groups(json);
    let best = Kind::ALL
        .iter()
        .filter_map(|&k| spec(k).map(|s| (k, s)))
        .filter(|(_, s)| s.algorithm == algorithm)
        .map(|(k, s)| (k, groups.iter().filter(|g| s.matches_group(g)).count()))
        .filter(|&(_, n)| n > 0)
        .max_by_key(|&(_, n)| n);
    match best {
        Some((kind, _)) => Ok(kind),
        None => {
            let mut kinds: Vec<String> = groups.iter().map(describe_group).collect();
            kinds.dedup();
            let tests: usize = groups.iter().map(|g| tests(g).len()).sum();
            Err(format!(
                "Wycheproof algorithm {algorithm:?} with groups [{}]: no runner for it in \
                 Canopy, unrecognised ({tests} tests not run)",
                kinds.join(", ")
            ))
        }
    }
}

/// What the implementation made of one test.
enum Verdict {
    /// It succeeded and produced the expected output (or verified the input).
    Accepted,
    /// It rejected the input (or computed something other than the test's value).
    Rejected(String),
}

/// How a runner treats `acceptable` tests.
#[derive(Clone, Copy)]
enum Acceptable {
    /// Either outcome passes (and a hard error from the check still fails).
    EitherWay,
    /// The runner decides from the test: `Ok(true)` must be accepted, `Ok(false)` rejected,
    /// `Err` means the runner has no decision for these flags, which fails the case.
    Decided(fn(&Value) -> Result<bool, String>),
}

/// Run every test of a Wycheproof file with the runner of `kind`: `skip` gives a reason to
/// skip a (group, test), and `check` runs it. A hard error from `check` fails the case
/// whatever the expected result. A file of another algorithm, or a group of other
/// parameters, is counted as unrecognised and not run.
fn run_tests(
    json: &Value,
    kind: Kind,
    acceptable: Acceptable,
    skip: impl Fn(&Value, &Value) -> Option<String>,
    check: impl Fn(&Value, &Value) -> Result<Verdict, String>,
) -> Tally {
    let mut tally = Tally::default();
    let mut seen = 0u64;
    let Some(spec) = spec(kind) else {
        tally.failed += 1;
        tally
            .notes
            .push(format!("FAIL {kind:?} has no Wycheproof runner"));
        return tally;
    };
    let algorithm = json.get("algorithm").and_then(Value::as_str);
    for (index, group) in groups(json).iter().enumerate() {
        let tests = tests(group);
        seen += tests.len() as u64;
        if algorithm != Some(spec.algorithm) || !spec.matches_group(group) {
            tally.refuse(
                tests.len(),
                format_args!(
                    "group {index} ({} {}) is not {} {}: not run",
                    algorithm.unwrap_or("(no algorithm)"),
                    describe_group(group),
                    spec.algorithm,
                    kind.file_stem(),
                ),
            );
            continue;
        }
        for test in tests {
            let id = test.get("tcId").and_then(Value::as_u64).unwrap_or(0);
            if let Some(why) = skip(group, test) {
                tally.skip(why);
                continue;
            }
            tally.case(format_args!("tcId {id}"), || {
                let result = test.get("result").and_then(Value::as_str).unwrap_or("");
                let verdict = check(group, test)?;
                let result = match (result, acceptable) {
                    ("acceptable", Acceptable::Decided(decide)) => {
                        if decide(test)? {
                            "valid"
                        } else {
                            "invalid"
                        }
                    }
                    (other, _) => other,
                };
                match (result, verdict) {
                    ("valid", Verdict::Accepted)
                    | ("invalid", Verdict::Rejected(_))
                    | ("acceptable", _) => Ok(1),
                    ("valid", Verdict::Rejected(why)) => Err(format!("valid test rejected: {why}")),
                    ("invalid", Verdict::Accepted) => Err("invalid test accepted".into()),
                    (other, _) => Err(format!("unknown result {other:?}")),
                }
            });
        }
    }
    let declared = json.get("numberOfTests").and_then(Value::as_u64);
    if declared != Some(seen) {
        tally.failed += 1;
        tally.notes.push(format!(
            "FAIL numberOfTests {declared:?} but {seen} tests found"
        ));
    }
    tally
}

fn no_skip(_: &Value, _: &Value) -> Option<String> {
    None
}

fn has_flag(test: &Value, flag: &str) -> bool {
    test.get("flags")
        .and_then(Value::as_array)
        .is_some_and(|flags| flags.iter().any(|f| f.as_str() == Some(flag)))
}

fn flags(test: &Value) -> Vec<&str> {
    test.get("flags")
        .and_then(Value::as_array)
        .map(|f| f.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// `x25519_test.json` through [`awslc::x25519`], the DH of the HPKE back end.
pub fn run_x25519(json: &Value) -> Tally {
    run_tests(
        json,
        Kind::WycheproofX25519,
        Acceptable::EitherWay,
        no_skip,
        |_, t| {
            let (sk, pk, want) = (
                hex_field(t, "private")?,
                hex_field(t, "public")?,
                hex_field(t, "shared")?,
            );
            let got = awslc::x25519(&sk, &pk);
            // The small-order list that keeps such keys out of a group must agree with every
            // case: a key on it gives the all-zero secret, and every all-zero case's key is on it.
            let zero = has_flag(t, "ZeroSharedSecret") || want.iter().all(|&b| b == 0);
            if zero != awslc::x25519_is_small_order(&pk) {
                return Err(format!(
                    "small-order list disagrees: all-zero secret {zero}, listed {}",
                    !zero
                ));
            }
            if zero {
                return match got {
                    Err(CryptoError::ZeroSharedSecret) => Ok(Verdict::Rejected("zero".into())),
                    other => Err(format!("all-zero shared secret not rejected: {other:?}")),
                };
            }
            match got {
                Ok(shared) => {
                    expect_eq("shared", shared.as_bytes(), &want).map(|_| Verdict::Accepted)
                }
                Err(e) => Ok(Verdict::Rejected(e.to_string())),
            }
        },
    )
}

/// `ed25519_test.json` through the verifier behind `VerifyWithLabel`: the backend
/// `CANOPY_CRYPTO` selects (aws-lc unless told otherwise).
pub fn run_ed25519(json: &Value) -> Tally {
    run_tests(
        json,
        Kind::WycheproofEd25519,
        Acceptable::EitherWay,
        no_skip,
        |g, t| {
            let pk = g.get("publicKey").ok_or("missing publicKey")?;
            let pk = hex_field(pk, "pk")?;
            Ok(
                match backend::ed25519_verify(&pk, &hex_field(t, "msg")?, &hex_field(t, "sig")?) {
                    Ok(()) => Verdict::Accepted,
                    Err(e) => Verdict::Rejected(e.to_string()),
                },
            )
        },
    )
}

fn iv_bits(g: &Value) -> u64 {
    g.get("ivSize").and_then(Value::as_u64).unwrap_or(0)
}

fn skip_unsupported_iv(name: &'static str) -> impl Fn(&Value, &Value) -> Option<String> {
    move |g, t| {
        let bits = iv_bits(g);
        let valid = t.get("result").and_then(Value::as_str) != Some("invalid");
        (bits != 96 && valid)
            .then(|| format!("{name} with a {bits}-bit IV not supported (MLS uses 96-bit nonces)"))
    }
}

/// Seal and open one AEAD test. `seal` / `open` take (key, nonce, aad, data).
fn aead_test(
    t: &Value,
    seal: impl Fn(&[u8], &[u8], &[u8], &[u8]) -> Result<Vec<u8>, CryptoError>,
    open: impl Fn(&[u8], &[u8], &[u8], &[u8]) -> Result<Vec<u8>, CryptoError>,
) -> Result<Verdict, String> {
    let (key, iv, aad) = (
        hex_field(t, "key")?,
        hex_field(t, "iv")?,
        hex_field(t, "aad")?,
    );
    let msg = hex_field(t, "msg")?;
    let mut ct_tag = hex_field(t, "ct")?;
    ct_tag.extend_from_slice(&hex_field(t, "tag")?);
    match open(&key, &iv, &aad, &ct_tag) {
        Err(e) => Ok(Verdict::Rejected(e.to_string())),
        Ok(pt) => {
            expect_eq("decrypted msg", &pt, &msg)?;
            let sealed = seal(&key, &iv, &aad, &msg).map_err(|e| format!("seal: {e}"))?;
            expect_eq("ct || tag", &sealed, &ct_tag)?;
            Ok(Verdict::Accepted)
        }
    }
}

/// `aes_gcm_test.json`: AES-128-GCM through the suite-1 provider, AES-192/256-GCM through
/// the aws-lc primitives directly.
pub fn run_aes_gcm(json: &Value) -> Tally {
    let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    run_tests(
        json,
        Kind::WycheproofAesGcm,
        Acceptable::EitherWay,
        skip_unsupported_iv("AES-GCM"),
        move |g, t| {
            let alg = match u64_field(g, "keySize")? {
                128 => None,
                192 => Some(AeadAlg::Aes192Gcm),
                256 => Some(AeadAlg::Aes256Gcm),
                other => return Err(format!("unexpected key size {other}")),
            };
            match alg {
                None => aead_test(
                    t,
                    |k, n, a, m| p.aead_seal(k, n, a, m),
                    |k, n, a, c| p.aead_open(k, n, a, c),
                ),
                Some(alg) => aead_test(
                    t,
                    |k, n, a, m| awslc::aead_seal(alg, k, n, a, m),
                    |k, n, a, c| awslc::aead_open(alg, k, n, a, c),
                ),
            }
        },
    )
}

/// `chacha20_poly1305_test.json` through the suite-3 provider.
pub fn run_chacha20_poly1305(json: &Value) -> Tally {
    let p = Provider::new(CipherSuite::Mls128X25519ChaCha20Poly1305Sha256Ed25519);
    run_tests(
        json,
        Kind::WycheproofChaCha20Poly1305,
        Acceptable::EitherWay,
        skip_unsupported_iv("ChaCha20-Poly1305"),
        move |_, t| {
            aead_test(
                t,
                |k, n, a, m| p.aead_seal(k, n, a, m),
                |k, n, a, c| p.aead_open(k, n, a, c),
            )
        },
    )
}

/// `hkdf_sha256_test.json` through the provider's `extract` and `expand`.
pub fn run_hkdf_sha256(json: &Value) -> Tally {
    let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    run_tests(
        json,
        Kind::WycheproofHkdfSha256,
        Acceptable::EitherWay,
        no_skip,
        move |_, t| {
            let prk = p.extract(&hex_field(t, "salt")?, &hex_field(t, "ikm")?);
            hkdf_expand_test(t, |info, size| p.expand(prk.as_bytes(), info, size))
        },
    )
}

/// `hkdf_sha384_test.json` / `hkdf_sha512_test.json` through [`awslc::hkdf_extract`] and
/// [`awslc::hkdf_expand`], the functions the provider's KDF calls with SHA-256.
pub fn run_hkdf(json: &Value, kind: Kind, alg: HashAlg) -> Tally {
    run_tests(json, kind, Acceptable::EitherWay, no_skip, move |_, t| {
        let prk = awslc::hkdf_extract(alg, &hex_field(t, "salt")?, &hex_field(t, "ikm")?);
        hkdf_expand_test(t, |info, size| {
            awslc::hkdf_expand(alg, prk.as_bytes(), info, size)
        })
    })
}

fn hkdf_expand_test(
    t: &Value,
    expand: impl Fn(&[u8], usize) -> Result<crate::crypto::Secret, CryptoError>,
) -> Result<Verdict, String> {
    let size = usize::try_from(u64_field(t, "size")?).map_err(|e| e.to_string())?;
    match expand(&hex_field(t, "info")?, size) {
        Ok(okm) => {
            expect_eq("okm", okm.as_bytes(), &hex_field(t, "okm")?).map(|_| Verdict::Accepted)
        }
        Err(e) => Ok(Verdict::Rejected(e.to_string())),
    }
}

/// `hmac_sha256_test.json` through the provider's `mac`; a truncated tag is compared with the
/// same-length prefix of the full MAC.
pub fn run_hmac_sha256(json: &Value) -> Tally {
    let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    run_tests(
        json,
        Kind::WycheproofHmacSha256,
        Acceptable::EitherWay,
        no_skip,
        move |g, t| hmac_test(g, t, |key, msg| p.mac(key, msg)),
    )
}

/// `hmac_sha384_test.json` / `hmac_sha512_test.json` through [`awslc::hmac`]; truncated tags
/// as for SHA-256.
pub fn run_hmac(json: &Value, kind: Kind, alg: HashAlg) -> Tally {
    run_tests(json, kind, Acceptable::EitherWay, no_skip, move |g, t| {
        hmac_test(g, t, |key, msg| awslc::hmac(alg, key, msg))
    })
}

fn hmac_test(
    g: &Value,
    t: &Value,
    mac: impl Fn(&[u8], &[u8]) -> Vec<u8>,
) -> Result<Verdict, String> {
    let tag_bytes = usize::try_from(u64_field(g, "tagSize")? / 8).map_err(|e| e.to_string())?;
    let mac = mac(&hex_field(t, "key")?, &hex_field(t, "msg")?);
    let tag = hex_field(t, "tag")?;
    Ok(
        if tag.len() == tag_bytes && mac.get(..tag_bytes) == Some(tag.as_slice()) {
            Verdict::Accepted
        } else {
            Verdict::Rejected("tag mismatch".into())
        },
    )
}

fn verdict<T>(result: Result<T, PrimitiveError>) -> Verdict {
    match result {
        Ok(_) => Verdict::Accepted,
        Err(e) => Verdict::Rejected(e.to_string()),
    }
}

/// Whether an X448 test's expected shared secret is the all-zero one.
fn zero_shared(t: &Value) -> bool {
    has_flag(t, "ZeroSharedSecret")
        || hex_field(t, "shared").is_ok_and(|s| s.iter().all(|&b| b == 0))
}

/// `x448_test.json` through [`x448::dh`]. `acceptable` tests (twist points, non-canonical
/// and special public keys) must be accepted with the right output, except an all-zero
/// shared secret, which must be rejected.
pub fn run_x448(json: &Value) -> Tally {
    run_tests(
        json,
        Kind::WycheproofX448,
        Acceptable::Decided(|t| Ok(!zero_shared(t))),
        no_skip,
        |_, t| {
            let (sk, pk, want) = (
                hex_field(t, "private")?,
                hex_field(t, "public")?,
                hex_field(t, "shared")?,
            );
            match x448::dh(&sk, &pk) {
                Ok(shared) if zero_shared(t) => Err(format!(
                    "all-zero shared secret not rejected: got {:?}",
                    shared.as_bytes()
                )),
                Ok(shared) => {
                    expect_eq("shared", shared.as_bytes(), &want).map(|_| Verdict::Accepted)
                }
                Err(e) => Ok(Verdict::Rejected(e.to_string())),
            }
        },
    )
}

/// `ed448_test.json` through [`ed448::verify`].
pub fn run_ed448(json: &Value) -> Tally {
    run_tests(
        json,
        Kind::WycheproofEd448,
        Acceptable::EitherWay,
        no_skip,
        |g, t| {
            let pk = hex_field(g.get("publicKey").ok_or("missing publicKey")?, "pk")?;
            Ok(verdict(ed448::verify(
                &pk,
                &hex_field(t, "msg")?,
                &hex_field(t, "sig")?,
            )))
        },
    )
}

/// The flags of ECDH `acceptable` tests, all about how the public key is wrapped: MLS carries
/// the bare uncompressed point, so a test of these is skipped.
pub const ECDH_ENCODING_FLAGS: &[&str] = &[
    "InvalidAsn",
    "CompressedPublic",
    "CompressedPoint",
    "UnnamedCurve",
    "UnusedParam",
    "ModifiedGenerator",
    "ModifiedCofactor",
    "NoCofactor",
    "ModifiedCurveParameter",
    "WrongOrder",
];

/// The DER prefix of a SubjectPublicKeyInfo for `curve` with its named-curve OID and an
/// uncompressed point (RFC 5480): everything before the point's `0x04`.
fn spki_prefix(curve: ecdh::Curve) -> &'static str {
    match curve {
        ecdh::Curve::P256 => "3059301306072a8648ce3d020106082a8648ce3d030107034200",
        ecdh::Curve::P384 => "3076301006072a8648ce3d020106052b81040022036200",
        ecdh::Curve::P521 => "30819b301006072a8648ce3d020106052b8104002303818600",
    }
}

/// The uncompressed point of a named-curve SubjectPublicKeyInfo in exactly the DER form,
/// which is how Wycheproof's `asn` files carry the point MLS carries bare. Anything else is
/// refused here, before the primitive.
fn spki_point(curve: ecdh::Curve, spki: &[u8]) -> Option<&[u8]> {
    let prefix = hex::decode(spki_prefix(curve)).ok()?;
    spki.strip_prefix(prefix.as_slice())
        .filter(|point| point.len() == curve.public_key_len())
}

/// A Wycheproof private scalar (big-endian, sometimes with a leading zero byte or short) as
/// the fixed-length scalar MLS uses.
fn fixed_scalar(curve: ecdh::Curve, bytes: &[u8]) -> Option<Vec<u8>> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let digits = &bytes[start..];
    let len = curve.scalar_len();
    (digits.len() <= len).then(|| {
        let mut out = vec![0u8; len - digits.len()];
        out.extend_from_slice(digits);
        out
    })
}

fn skip_ecdh_encodings(_: &Value, t: &Value) -> Option<String> {
    let flags = flags(t);
    (t.get("result").and_then(Value::as_str) == Some("acceptable")
        && !flags.is_empty()
        && flags.iter().all(|f| ECDH_ENCODING_FLAGS.contains(f)))
    .then(|| {
        "ECDH acceptable public-key encodings (SubjectPublicKeyInfo variants, compressed \
         points): MLS carries only the uncompressed point"
            .to_string()
    })
}

/// `ecdh_secp{256,384,521}r1_test.json` through [`ecdh::dh`].
pub fn run_ecdh(json: &Value, kind: Kind, curve: ecdh::Curve) -> Tally {
    run_tests(
        json,
        kind,
        Acceptable::Decided(|t| {
            Err(format!(
                "acceptable ECDH test with flags {:?} has no decided outcome",
                flags(t)
            ))
        }),
        skip_ecdh_encodings,
        move |_, t| {
            let Some(pk) = spki_point(curve, &hex_field(t, "public")?).map(<[u8]>::to_vec) else {
                return Ok(Verdict::Rejected(
                    "not a named-curve SubjectPublicKeyInfo with an uncompressed point".into(),
                ));
            };
            let Some(sk) = fixed_scalar(curve, &hex_field(t, "private")?) else {
                return Ok(Verdict::Rejected("private scalar too long".into()));
            };
            match ecdh::dh(curve, &sk, &pk) {
                Ok(shared) => expect_eq("shared", shared.as_bytes(), &hex_field(t, "shared")?)
                    .map(|_| Verdict::Accepted),
                Err(e) => Ok(Verdict::Rejected(e.to_string())),
            }
        },
    )
}

/// `ecdsa_secp256r1_sha256_test.json` and its P-384 and P-521 siblings through
/// [`ecdsa::verify`], with the group's uncompressed public key and the DER signature.
pub fn run_ecdsa(json: &Value, kind: Kind, scheme: ecdsa::Scheme) -> Tally {
    run_tests(json, kind, Acceptable::EitherWay, no_skip, move |g, t| {
        let pk = hex_field(
            g.get("publicKey").ok_or("missing publicKey")?,
            "uncompressed",
        )?;
        Ok(verdict(ecdsa::verify(
            scheme,
            &pk,
            &hex_field(t, "msg")?,
            &hex_field(t, "sig")?,
        )))
    })
}

/// `mlkem_768_test.json` / `mlkem_1024_test.json`: each seed expanded by
/// [`mlkem::PrivateKey::from_seed`] must give the test's encapsulation key, and the
/// ciphertext must decapsulate to the test's secret (implicit rejection included). A valid
/// test's key also takes an encapsulation whose secret its own key decapsulates.
pub fn run_mlkem(json: &Value, kind: Kind, set: mlkem::ParameterSet) -> Tally {
    run_tests(json, kind, Acceptable::EitherWay, no_skip, move |_, t| {
        let key = match mlkem::PrivateKey::from_seed(set, &hex_field(t, "seed")?) {
            Ok(key) => key,
            Err(e) => return Ok(Verdict::Rejected(e.to_string())),
        };
        let ek = hex_field(t, "ek")?;
        if !ek.is_empty() {
            expect_eq("ek", key.public_key(), ek.as_slice())?;
        }
        let shared = match key.decapsulate(&hex_field(t, "c")?) {
            Ok(shared) => shared,
            Err(e) => return Ok(Verdict::Rejected(e.to_string())),
        };
        expect_eq("K", shared.as_bytes(), &hex_field(t, "K")?)?;
        let (ct, sent) = mlkem::encapsulate(set, key.public_key()).map_err(|e| e.to_string())?;
        let received = key.decapsulate(&ct).map_err(|e| e.to_string())?;
        expect_eq("encapsulated secret", received.as_bytes(), sent.as_bytes())?;
        Ok(Verdict::Accepted)
    })
}

fn skip_mldsa_context(_: &Value, t: &Value) -> Option<String> {
    let ctx = t.get("ctx").and_then(Value::as_str).unwrap_or("");
    (!ctx.is_empty()).then(|| {
        "ML-DSA with a non-empty context string: MLS signs with the empty context".to_string()
    })
}

/// `mldsa_65_verify_test.json` / `mldsa_87_verify_test.json` through [`mldsa::verify`].
pub fn run_mldsa(json: &Value, kind: Kind, set: mldsa::ParameterSet) -> Tally {
    run_tests(
        json,
        kind,
        Acceptable::EitherWay,
        skip_mldsa_context,
        move |g, t| {
            let pk = hex_field(g, "publicKey")?;
            Ok(verdict(mldsa::verify(
                set,
                &pk,
                &hex_field(t, "msg")?,
                &hex_field(t, "sig")?,
            )))
        },
    )
}
