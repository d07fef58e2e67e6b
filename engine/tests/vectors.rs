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
    // Suites 1 and 3 run; 2, 4, 5, 6 and 7 are not implemented.
    check("mls/crypto-basics.json", Kind::CryptoBasics, 2, 5);
}

#[test]
fn hpke_rfc9180() {
    // The 32 DHKEM(X25519) vectors (KDF 1 and 3 × AEAD 1, 2, 3, export-only × 4 modes);
    // the 96 P-256, P-521 and X448 vectors are skipped.
    check("hpke/test-vectors.json", Kind::Hpke, 32, 96);
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
fn messages() {
    check("mls/messages.json", Kind::Messages, 300, 0);
}

#[test]
fn deserialization() {
    check("mls/deserialization.json", Kind::Deserialization, 14, 0);
}

#[test]
fn key_schedule() {
    check("mls/key-schedule.json", Kind::KeySchedule, 2, 5);
}

#[test]
fn psk_secret() {
    check("mls/psk_secret.json", Kind::PskSecret, 22, 55);
}

#[test]
fn secret_tree() {
    check("mls/secret-tree.json", Kind::SecretTree, 6, 15);
}

#[test]
fn tree_validation() {
    check("mls/tree-validation.json", Kind::TreeValidation, 28, 70);
}

#[test]
fn tree_operations() {
    check("mls/tree-operations.json", Kind::TreeOperations, 5, 0);
}

#[test]
fn message_protection() {
    // Suites 1 and 3 run; 2, 4, 5, 6 and 7 are not implemented.
    check("mls/message-protection.json", Kind::MessageProtection, 2, 5);
}

#[test]
fn welcome() {
    check("mls/welcome.json", Kind::Welcome, 2, 5);
}

#[test]
fn transcript_hashes() {
    check("mls/transcript-hashes.json", Kind::TranscriptHashes, 2, 5);
}

#[test]
fn treekem() {
    // 11 cases per suite: suites 1 and 3 run; 2, 4, 5, 6 and 7 are not implemented.
    check("mls/treekem.json", Kind::TreeKem, 22, 55);
}

#[test]
fn passive_client_welcome() {
    // 8 cases per suite (tree in the Welcome or out of band, with and without external
    // PSKs): suites 1 and 3 run; 2, 4, 5, 6 and 7 are not implemented.
    check(
        "mls/passive-client-welcome.json",
        Kind::PassiveClientWelcome,
        16,
        40,
    );
}

#[test]
fn passive_client_handling_commit() {
    // 13 cases per suite, each one kind of commit (by value, by reference, PSKs, Updates,
    // path or not); suites 1 and 3 run.
    check(
        "mls/passive-client-handling-commit.json",
        Kind::PassiveClientHandlingCommit,
        26,
        65,
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
