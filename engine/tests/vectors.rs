//! The published conformance vectors, one test per file, through the same runners as
//! `canopy vectors`. Each test checks the exact number of cases so that a runner that
//! silently checks nothing fails.

use std::path::PathBuf;

use canopy_engine::conformance::{run_file, Kind};

fn vector(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("test_vectors")
        .join(rel)
}

/// Run a file and require `passed` passes, no failures and `skipped` skips.
fn check(rel: &str, kind: Kind, passed: usize, skipped: usize) {
    let report = run_file(&vector(rel)).unwrap_or_else(|e| panic!("{e}"));
    let t = &report.tally;
    println!(
        "{rel}: {} passed, {} failed, {} skipped, {} checks",
        t.passed, t.failed, t.skipped, t.checks
    );
    for note in &t.notes {
        println!("  {note}");
    }
    assert_eq!(report.kind, kind);
    assert_eq!(
        t.unrecognised, 0,
        "{rel}: unrecognised groups: {:#?}",
        t.notes
    );
    assert_eq!(t.failed, 0, "{rel}: failures: {:#?}", t.notes);
    assert_eq!(
        (t.passed, t.skipped),
        (passed, skipped),
        "{rel}: case counts changed"
    );
    assert!(t.checks >= passed, "{rel}: fewer checks than cases");
}

#[test]
fn tree_math() {
    check("mls/tree-math.json", Kind::TreeMath, 10, 0);
}

#[test]
fn crypto_basics() {
    // One case per suite, all seven.
    check("mls/crypto-basics.json", Kind::CryptoBasics, 7, 0);
}

#[test]
fn hpke_rfc9180() {
    // The 32 DHKEM(X25519) vectors (KDF 1 and 3 × AEAD 1, 2, 3, export-only × 4 modes),
    // and the base-mode vectors of suites 2, 4, 5 and 6 (P-256, X448, P-521; RFC 9180 has
    // none for suite 7's P-384) through Canopy's own HPKE. Skipped: the other 92 P-256,
    // P-521 and X448 vectors (other modes, or KDF/AEAD pairs no MLS suite uses).
    check("hpke/test-vectors.json", Kind::Hpke, 36, 92);
}

#[test]
fn wycheproof_x25519() {
    check(
        "wycheproof/x25519_test.json",
        Kind::WycheproofX25519,
        518,
        0,
    );
}

#[test]
fn wycheproof_ed25519() {
    check(
        "wycheproof/ed25519_test.json",
        Kind::WycheproofEd25519,
        151,
        0,
    );
}

#[test]
fn wycheproof_aes_gcm() {
    // 197 tests with 96-bit IVs (key sizes 128/192/256) plus 6 invalid empty-IV tests run;
    // the 113 valid tests with other IV sizes are skipped.
    check(
        "wycheproof/aes_gcm_test.json",
        Kind::WycheproofAesGcm,
        203,
        113,
    );
}

#[test]
fn wycheproof_chacha20_poly1305() {
    // 316 tests with 96-bit nonces plus 9 invalid other-size nonces, all run.
    check(
        "wycheproof/chacha20_poly1305_test.json",
        Kind::WycheproofChaCha20Poly1305,
        325,
        0,
    );
}

#[test]
fn wycheproof_hkdf_sha256() {
    check(
        "wycheproof/hkdf_sha256_test.json",
        Kind::WycheproofHkdfSha256,
        86,
        0,
    );
}

#[test]
fn wycheproof_hmac_sha256() {
    check(
        "wycheproof/hmac_sha256_test.json",
        Kind::WycheproofHmacSha256,
        174,
        0,
    );
}

#[test]
fn wycheproof_x448() {
    // Every test runs: the 11 all-zero shared secrets (acceptable) must be rejected, the
    // other acceptable ones (twist, non-canonical and special points) accepted.
    check("wycheproof/x448_test.json", Kind::WycheproofX448, 510, 0);
}

#[test]
fn wycheproof_ed448() {
    check("wycheproof/ed448_test.json", Kind::WycheproofEd448, 87, 0);
}

#[test]
fn wycheproof_ecdh_p256() {
    // The 230 acceptable tests are public-key encodings MLS never carries (SPKI variants,
    // compressed points): skipped and counted.
    check(
        "wycheproof/ecdh_secp256r1_test.json",
        Kind::WycheproofEcdhP256,
        382,
        230,
    );
}

#[test]
fn wycheproof_ecdh_p384() {
    check(
        "wycheproof/ecdh_secp384r1_test.json",
        Kind::WycheproofEcdhP384,
        817,
        230,
    );
}

#[test]
fn wycheproof_ecdh_p521() {
    check(
        "wycheproof/ecdh_secp521r1_test.json",
        Kind::WycheproofEcdhP521,
        688,
        228,
    );
}

#[test]
fn wycheproof_ecdsa_p256_sha256() {
    check(
        "wycheproof/ecdsa_secp256r1_sha256_test.json",
        Kind::WycheproofEcdsaP256Sha256,
        484,
        0,
    );
}

#[test]
fn wycheproof_ecdsa_p384_sha384() {
    check(
        "wycheproof/ecdsa_secp384r1_sha384_test.json",
        Kind::WycheproofEcdsaP384Sha384,
        504,
        0,
    );
}

#[test]
fn wycheproof_ecdsa_p521_sha512() {
    check(
        "wycheproof/ecdsa_secp521r1_sha512_test.json",
        Kind::WycheproofEcdsaP521Sha512,
        542,
        0,
    );
}

#[test]
fn wycheproof_hkdf_sha384() {
    check(
        "wycheproof/hkdf_sha384_test.json",
        Kind::WycheproofHkdfSha384,
        83,
        0,
    );
}

#[test]
fn wycheproof_hkdf_sha512() {
    check(
        "wycheproof/hkdf_sha512_test.json",
        Kind::WycheproofHkdfSha512,
        83,
        0,
    );
}

#[test]
fn wycheproof_hmac_sha384() {
    check(
        "wycheproof/hmac_sha384_test.json",
        Kind::WycheproofHmacSha384,
        174,
        0,
    );
}

#[test]
fn wycheproof_hmac_sha512() {
    check(
        "wycheproof/hmac_sha512_test.json",
        Kind::WycheproofHmacSha512,
        174,
        0,
    );
}

#[test]
fn wycheproof_mlkem_768() {
    check(
        "wycheproof/mlkem_768_test.json",
        Kind::WycheproofMlKem768,
        193,
        0,
    );
}

#[test]
fn wycheproof_mlkem_1024() {
    check(
        "wycheproof/mlkem_1024_test.json",
        Kind::WycheproofMlKem1024,
        193,
        0,
    );
}

#[test]
fn wycheproof_mldsa_65() {
    // The 7 tests with a non-empty context string (2 valid, 5 invalid) are skipped: MLS
    // signs with the empty context.
    check(
        "wycheproof/mldsa_65_verify_test.json",
        Kind::WycheproofMlDsa65,
        203,
        7,
    );
}

#[test]
fn wycheproof_mldsa_87() {
    check(
        "wycheproof/mldsa_87_verify_test.json",
        Kind::WycheproofMlDsa87,
        234,
        7,
    );
}

#[test]
fn messages() {
    check("mls/messages.json", Kind::Messages, 300, 0);
}

#[test]
fn deserialization() {
    check("mls/deserialization.json", Kind::Deserialization, 14, 0);
}

#[test]
fn key_schedule() {
    check("mls/key-schedule.json", Kind::KeySchedule, 7, 0);
}

#[test]
fn psk_secret() {
    check("mls/psk_secret.json", Kind::PskSecret, 77, 0);
}

#[test]
fn secret_tree() {
    check("mls/secret-tree.json", Kind::SecretTree, 21, 0);
}

#[test]
fn tree_validation() {
    check("mls/tree-validation.json", Kind::TreeValidation, 98, 0);
}

#[test]
fn tree_operations() {
    check("mls/tree-operations.json", Kind::TreeOperations, 5, 0);
}

#[test]
fn message_protection() {
    // One case per suite, all seven.
    check("mls/message-protection.json", Kind::MessageProtection, 7, 0);
}

#[test]
fn welcome() {
    check("mls/welcome.json", Kind::Welcome, 7, 0);
}

#[test]
fn transcript_hashes() {
    check("mls/transcript-hashes.json", Kind::TranscriptHashes, 7, 0);
}

#[test]
fn treekem() {
    // 11 cases per suite, all seven.
    check("mls/treekem.json", Kind::TreeKem, 77, 0);
}

#[test]
fn passive_client_welcome() {
    // 8 cases per suite (tree in the Welcome or out of band, with and without external
    // PSKs), all seven suites.
    check(
        "mls/passive-client-welcome.json",
        Kind::PassiveClientWelcome,
        56,
        0,
    );
}

#[test]
fn passive_client_handling_commit() {
    // 13 cases per suite, each one kind of commit (by value, by reference, PSKs, Updates,
    // path or not), all seven suites.
    check(
        "mls/passive-client-handling-commit.json",
        Kind::PassiveClientHandlingCommit,
        91,
        0,
    );
}

#[test]
fn passive_client_random() {
    // One suite-1 case: 200 epochs, 1,542 proposals by reference.
    check(
        "mls/passive-client-random.json",
        Kind::PassiveClientRandom,
        1,
        0,
    );
}

#[test]
fn passive_client_files_are_recognised_by_shape() {
    // `canopy vectors` on a renamed copy must pick the same runner as on the upstream name.
    for (rel, kind) in [
        (
            "mls/passive-client-welcome.json",
            Kind::PassiveClientWelcome,
        ),
        (
            "mls/passive-client-handling-commit.json",
            Kind::PassiveClientHandlingCommit,
        ),
        ("mls/passive-client-random.json", Kind::PassiveClientRandom),
    ] {
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(vector(rel)).unwrap()).unwrap();
        let renamed = std::path::Path::new("renamed.json");
        assert_eq!(
            canopy_engine::conformance::detect(renamed, &json),
            Some(kind),
            "{rel}"
        );
    }
}

fn load(rel: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(vector(rel)).unwrap()).unwrap()
}

#[test]
fn wycheproof_files_are_dispatched_on_their_algorithm_not_their_name() {
    // The X448 and Ed448 files share `algorithm` (XDH, EDDSA) and schema with X25519 and
    // Ed25519: their curve decides, whatever the file is called.
    for (rel, kind) in [
        ("wycheproof/x448_test.json", Kind::WycheproofX448),
        ("wycheproof/ed448_test.json", Kind::WycheproofEd448),
        ("wycheproof/x25519_test.json", Kind::WycheproofX25519),
        (
            "wycheproof/ecdsa_secp384r1_sha384_test.json",
            Kind::WycheproofEcdsaP384Sha384,
        ),
        ("wycheproof/mlkem_1024_test.json", Kind::WycheproofMlKem1024),
    ] {
        let json = load(rel);
        for name in ["x25519_test.json", "ed25519_test.json", "renamed.json"] {
            assert_eq!(
                canopy_engine::conformance::detect(std::path::Path::new(name), &json),
                Some(kind),
                "{rel} named {name}"
            );
        }
    }
}

#[test]
fn x448_and_ed448_files_cannot_run_through_the_25519_runners() {
    // Handed straight to the X25519 / Ed25519 runner, every group is refused as
    // unrecognised: nothing passes and nothing is run.
    for (rel, kind, tests) in [
        ("wycheproof/x448_test.json", Kind::WycheproofX25519, 510),
        ("wycheproof/ed448_test.json", Kind::WycheproofEd25519, 87),
        ("wycheproof/x25519_test.json", Kind::WycheproofX448, 518),
        (
            "wycheproof/ecdsa_secp521r1_sha512_test.json",
            Kind::WycheproofEcdsaP256Sha256,
            542,
        ),
    ] {
        let t = kind.run(&load(rel));
        assert_eq!(
            (t.passed, t.failed, t.skipped, t.unrecognised),
            (0, 0, 0, tests),
            "{rel} through {kind:?}: {:#?}",
            t.notes
        );
        assert!(
            t.notes.iter().all(|n| n.starts_with("unrecognised: ")),
            "{:#?}",
            t.notes
        );
    }
}

#[test]
fn unknown_wycheproof_algorithm_is_reported_unrecognised() {
    let dir = std::env::temp_dir().join(format!("canopy-wycheproof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Named like a file Canopy runs, but of an algorithm it has no runner for.
    let file = dir.join("x25519_test.json");
    std::fs::write(
        &file,
        br#"{"algorithm": "SLH-DSA-SHA2-128s", "numberOfTests": 1, "testGroups": [
            {"type": "SlhDsaVerify", "tests": [{"tcId": 1, "msg": "", "sig": "", "result": "valid"}]}]}"#,
    )
    .unwrap();
    let err = run_file(&file).unwrap_err();
    assert!(err.contains("SLH-DSA-SHA2-128s"), "{err}");
    assert!(err.contains("unrecognised (1 tests not run)"), "{err}");
    // A known algorithm with a curve no runner has is refused the same way.
    let json: serde_json::Value = serde_json::from_str(
        r#"{"algorithm": "XDH", "numberOfTests": 0, "testGroups": [
            {"type": "XdhComp", "curve": "curve41417", "tests": []}]}"#,
    )
    .unwrap();
    assert_eq!(
        canopy_engine::conformance::detect(std::path::Path::new("x448_test.json"), &json),
        None
    );
}

#[test]
fn group_with_other_parameters_is_unrecognised_and_not_run() {
    let mut json = load("wycheproof/ecdsa_secp256r1_sha256_test.json");
    let group = &mut json["testGroups"][0];
    let in_group = group["tests"].as_array().unwrap().len();
    group["sha"] = "SHA-512".into();
    let t = Kind::WycheproofEcdsaP256Sha256.run(&json);
    assert_eq!(t.failed, 0, "{:#?}", t.notes);
    assert_eq!(t.unrecognised, in_group);
    assert_eq!(t.passed, 484 - in_group);
    assert!(
        t.notes
            .iter()
            .any(|n| n.contains("group 0") && n.contains("sha=SHA-512")),
        "{:#?}",
        t.notes
    );
}

#[test]
fn every_new_wycheproof_runner_fails_a_corrupted_valid_test() {
    // Flip one hex digit of one value of the first `valid` test: the runner must notice.
    for (rel, kind, field) in [
        ("wycheproof/x448_test.json", Kind::WycheproofX448, "shared"),
        ("wycheproof/ed448_test.json", Kind::WycheproofEd448, "sig"),
        (
            "wycheproof/ecdh_secp256r1_test.json",
            Kind::WycheproofEcdhP256,
            "shared",
        ),
        (
            "wycheproof/ecdh_secp521r1_test.json",
            Kind::WycheproofEcdhP521,
            "shared",
        ),
        (
            "wycheproof/ecdsa_secp384r1_sha384_test.json",
            Kind::WycheproofEcdsaP384Sha384,
            "sig",
        ),
        (
            "wycheproof/hkdf_sha512_test.json",
            Kind::WycheproofHkdfSha512,
            "okm",
        ),
        (
            "wycheproof/hmac_sha384_test.json",
            Kind::WycheproofHmacSha384,
            "tag",
        ),
        (
            "wycheproof/mlkem_768_test.json",
            Kind::WycheproofMlKem768,
            "K",
        ),
        (
            "wycheproof/mlkem_1024_test.json",
            Kind::WycheproofMlKem1024,
            "ek",
        ),
        (
            "wycheproof/mldsa_87_verify_test.json",
            Kind::WycheproofMlDsa87,
            "sig",
        ),
    ] {
        let mut json = load(rel);
        let clean = kind.run(&json);
        let test = json["testGroups"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .flat_map(|g| g["tests"].as_array_mut().unwrap().iter_mut())
            .find(|t| t["result"] == "valid" && t[field].as_str().is_some_and(|v| v.len() > 2))
            .unwrap();
        let mut value = test[field].as_str().unwrap().to_string();
        let flipped = if value.starts_with('0') { "1" } else { "0" };
        value.replace_range(..1, flipped);
        test[field] = value.into();
        let t = kind.run(&json);
        assert_eq!(
            (t.passed, t.failed),
            (clean.passed - 1, 1),
            "{rel}: corrupting {field} went unnoticed"
        );
    }
}

#[test]
fn acceptable_ecdh_test_outside_the_encoding_flags_fails_the_file() {
    // Only public-key encodings MLS never carries may be skipped; an `acceptable` test of any
    // other kind has no decided outcome and must be noticed, not waved through.
    let mut json = load("wycheproof/ecdh_secp384r1_test.json");
    let test = json["testGroups"][0]["tests"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["result"] == "acceptable")
        .unwrap();
    test["flags"] = serde_json::json!(["EdgeCaseDoubling"]);
    let t = Kind::WycheproofEcdhP384.run(&json);
    assert_eq!((t.failed, t.skipped), (1, 229), "{:#?}", t.notes);
    assert!(
        t.notes.iter().any(|n| n.contains("no decided outcome")),
        "{:#?}",
        t.notes
    );
}
