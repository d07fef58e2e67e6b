//! Wycheproof (C2SP `testvectors_v1`) files for the primitives under Canopy's suites: X25519,
//! Ed25519, AES-GCM, ChaCha20-Poly1305, HKDF-SHA256 and HMAC-SHA256, run through the aws-lc
//! primitives the provider uses.
//!
//! Every Wycheproof test is one case. `valid` must be accepted with the right output, `invalid`
//! must be rejected, `acceptable` may go either way, except that an X25519 all-zero shared
//! secret (flag `ZeroSharedSecret`) must be rejected, as RFC 9180 §7.1.4 requires of MLS.
//! AEAD tests with a nonce other than 96 bits are skipped when `valid` (MLS only uses 96-bit
//! nonces and the provider rejects every other length) and run when `invalid` (they must be,
//! and are, rejected).

use serde_json::Value;

use super::util::{expect_eq, hex_field, u64_field};
use super::Tally;
use crate::crypto::awslc::{self, AeadAlg};
use crate::crypto::backend;
use crate::crypto::{CipherSuite, CryptoError, Provider};

/// What the implementation made of one test.
enum Verdict {
    /// It succeeded and produced the expected output (or verified the input).
    Accepted,
    /// It rejected the input (or computed something other than the test's value).
    Rejected(String),
}

/// Run every test of a Wycheproof file: `skip` gives a reason to skip a (group, test), and
/// `check` runs it. A hard error from `check` fails the case whatever the expected result.
fn run_tests(
    json: &Value,
    skip: impl Fn(&Value, &Value) -> Option<String>,
    check: impl Fn(&Value, &Value) -> Result<Verdict, String>,
) -> Tally {
    let mut tally = Tally::default();
    let mut seen = 0u64;
    let groups = json
        .get("testGroups")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for group in groups {
        let tests = group
            .get("tests")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for test in tests {
            seen += 1;
            let id = test.get("tcId").and_then(Value::as_u64).unwrap_or(0);
            if let Some(why) = skip(group, test) {
                tally.skip(why);
                continue;
            }
            tally.case(format_args!("tcId {id}"), || {
                let result = test.get("result").and_then(Value::as_str).unwrap_or("");
                match (result, check(group, test)?) {
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

/// `x25519_test.json` through [`awslc::x25519`], the DH of the HPKE back end.
pub fn run_x25519(json: &Value) -> Tally {
    run_tests(json, no_skip, |_, t| {
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
            Ok(shared) => expect_eq("shared", shared.as_bytes(), &want).map(|_| Verdict::Accepted),
            Err(e) => Ok(Verdict::Rejected(e.to_string())),
        }
    })
}

/// `ed25519_test.json` through the verifier behind `VerifyWithLabel`: the backend
/// `CANOPY_CRYPTO` selects (aws-lc unless told otherwise).
pub fn run_ed25519(json: &Value) -> Tally {
    run_tests(json, no_skip, |g, t| {
        let pk = g.get("publicKey").ok_or("missing publicKey")?;
        let pk = hex_field(pk, "pk")?;
        Ok(
            match backend::ed25519_verify(&pk, &hex_field(t, "msg")?, &hex_field(t, "sig")?) {
                Ok(()) => Verdict::Accepted,
                Err(e) => Verdict::Rejected(e.to_string()),
            },
        )
    })
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
    run_tests(json, skip_unsupported_iv("AES-GCM"), move |g, t| {
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
    })
}

/// `chacha20_poly1305_test.json` through the suite-3 provider.
pub fn run_chacha20_poly1305(json: &Value) -> Tally {
    let p = Provider::new(CipherSuite::Mls128X25519ChaCha20Poly1305Sha256Ed25519);
    run_tests(
        json,
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
    run_tests(json, no_skip, move |_, t| {
        let prk = p.extract(&hex_field(t, "salt")?, &hex_field(t, "ikm")?);
        let size = usize::try_from(u64_field(t, "size")?).map_err(|e| e.to_string())?;
        match p.expand(prk.as_bytes(), &hex_field(t, "info")?, size) {
            Ok(okm) => {
                expect_eq("okm", okm.as_bytes(), &hex_field(t, "okm")?).map(|_| Verdict::Accepted)
            }
            Err(e) => Ok(Verdict::Rejected(e.to_string())),
        }
    })
}

/// `hmac_sha256_test.json` through the provider's `mac`; a truncated tag is compared with the
/// same-length prefix of the full MAC.
pub fn run_hmac_sha256(json: &Value) -> Tally {
    let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    run_tests(json, no_skip, move |g, t| {
        let tag_bytes = usize::try_from(u64_field(g, "tagSize")? / 8).map_err(|e| e.to_string())?;
        let mac = p.mac(&hex_field(t, "key")?, &hex_field(t, "msg")?);
        let tag = hex_field(t, "tag")?;
        Ok(
            if tag.len() == tag_bytes && mac.get(..tag_bytes) == Some(tag.as_slice()) {
                Verdict::Accepted
            } else {
                Verdict::Rejected("tag mismatch".into())
            },
        )
    })
}
