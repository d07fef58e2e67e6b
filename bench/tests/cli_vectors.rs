//! `canopy vectors` as a user runs it: files outside the repo, renamed files (recognised by
//! shape), Wycheproof files dispatched on their algorithm, a corrupted vector (must fail),
//! and the closing line's shape.

use std::path::PathBuf;
use std::process::Command;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../engine/test_vectors")
}

fn run(args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_canopy"))
        .arg("vectors")
        .args(args)
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("canopy-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn renamed_file_is_recognised_by_shape() {
    let dir = temp_dir("renamed");
    let file = dir.join("my-tree-ops.json");
    std::fs::copy(vectors_dir().join("mls/tree-operations.json"), &file).unwrap();
    let (ok, out) = run(&[file.as_os_str()]);
    assert!(ok, "{out}");
    assert!(
        out.contains("[tree-operations] 5 passed, 0 failed"),
        "{out}"
    );
    assert_eq!(out.lines().last(), Some("5 passed, 0 failed, 0 skipped"));
}

#[test]
fn corrupted_vector_fails_with_nonzero_exit() {
    let dir = temp_dir("corrupt");
    let file = dir.join("key-schedule.json");
    let text = std::fs::read_to_string(vectors_dir().join("mls/key-schedule.json")).unwrap();
    // Change the first expected joiner_secret: its first hex digit flips.
    let at = text.find("\"joiner_secret\": \"").unwrap() + "\"joiner_secret\": \"".len();
    let mut bytes = text.into_bytes();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&file, bytes).unwrap();
    let (ok, out) = run(&[file.as_os_str()]);
    assert!(!ok, "a corrupted vector must fail: {out}");
    assert!(out.contains("FAIL"), "{out}");
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("6 passed, 1 failed"),
        "{out}"
    );
    // The per-suite line names the failing suite (the first case is suite 1's).
    assert!(
        out.contains(
            "suite 1: 0 passed, 1 failed; suite 2: 1 passed; suite 3: 1 passed; suite 4: 1 \
             passed; suite 5: 1 passed; suite 6: 1 passed; suite 7: 1 passed"
        ),
        "{out}"
    );
}

#[test]
fn unknown_named_file_is_an_error() {
    let dir = temp_dir("unknown");
    let file = dir.join("notes.json");
    std::fs::write(&file, b"[{\"hello\": 1}]").unwrap();
    let (ok, out) = run(&[file.as_os_str()]);
    assert!(!ok);
    assert!(out.contains("not a vector file Canopy recognises"), "{out}");
}

/// `CANOPY_CRYPTO` as the CLI sees it: the Wycheproof Ed25519 cases pass on every setting the
/// host runs (on the implementation named where it runs, else on aws-lc); a setting
/// that names no backend, or one whose instructions the CPU lacks, stops `canopy` before any
/// work with exit code 2 and the reason.
#[test]
fn crypto_backend_setting_is_honoured_or_refused() {
    use canopy_engine::crypto::backend::{
        resolve, CryptoBackend, DalekBuild, HostFeatures, Setting,
    };

    let file = vectors_dir().join("wycheproof/ed25519_test.json");
    let canopy = |setting: &str| {
        Command::new(env!("CARGO_BIN_EXE_canopy"))
            .env("CANOPY_CRYPTO", setting)
            .arg("vectors")
            .arg(&file)
            .output()
            .unwrap()
    };
    let mut refused = vec!["bogus"];
    let mut ran = 0;
    for b in CryptoBackend::ALL {
        let runs = resolve(
            Setting::Exactly(b),
            HostFeatures::detect(),
            DalekBuild::current(),
        );
        if runs.is_err() {
            refused.push(b.name());
            continue;
        }
        let out = canopy(b.name());
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(out.status.success(), "{}: {stdout}", b.name());
        assert_eq!(
            stdout.lines().last(),
            Some("151 passed, 0 failed, 0 skipped")
        );
        ran += 1;
    }
    assert!(ran >= 1, "portable always runs");
    for setting in refused {
        let out = canopy(setting);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{setting}: {stderr}");
        assert!(out.stdout.is_empty(), "{setting}");
        // The X25519 backend reads the variable first and names it; either way the message
        // names the variable and the value.
        assert!(stderr.starts_with("canopy: "), "{stderr}");
        assert!(
            stderr.contains("CANOPY_CRYPTO") && stderr.contains(setting),
            "{stderr}"
        );
    }
}

#[test]
fn wycheproof_file_runs_by_its_algorithm_and_unknown_ones_are_listed_unrecognised() {
    let dir = temp_dir("wycheproof");
    // The X448 file under the X25519 file's name still runs as X448.
    std::fs::copy(
        vectors_dir().join("wycheproof/x448_test.json"),
        dir.join("x25519_test.json"),
    )
    .unwrap();
    std::fs::write(
        dir.join("slh_dsa_test.json"),
        br#"{"algorithm": "SLH-DSA-SHA2-128s", "numberOfTests": 2, "testGroups": [
            {"type": "SlhDsaVerify", "tests": [
                {"tcId": 1, "msg": "", "sig": "", "result": "valid"},
                {"tcId": 2, "msg": "", "sig": "", "result": "invalid"}]}]}"#,
    )
    .unwrap();
    let (ok, out) = run(&[dir.as_os_str()]);
    assert!(ok, "{out}");
    assert!(
        out.contains("x25519_test.json [x448_test] 510 passed, 0 failed, 0 skipped, 510 checks"),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.starts_with("----: ")
            && l.contains("slh_dsa_test.json")
            && l.contains("\"SLH-DSA-SHA2-128s\"")
            && l.contains("unrecognised (2 tests not run)")),
        "{out}"
    );
    assert!(
        out.contains("unrecognised (no runner, not run): 1 files, 0 tests in recognised files"),
        "{out}"
    );
    assert_eq!(out.lines().last(), Some("510 passed, 0 failed, 0 skipped"));

    // Named explicitly, a file without a runner is an error.
    let (ok, out) = run(&[dir.join("slh_dsa_test.json").as_os_str()]);
    assert!(!ok, "{out}");
    assert!(out.starts_with("FAIL: "), "{out}");
}

#[test]
fn group_without_a_runner_is_counted_on_the_files_line() {
    let dir = temp_dir("wycheproof-group");
    let text =
        std::fs::read_to_string(vectors_dir().join("wycheproof/hmac_sha384_test.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    // Retype one group: its tests are no HMAC tests any more.
    let group = &mut json["testGroups"][0];
    let in_group = group["tests"].as_array().unwrap().len();
    group["type"] = "CmacTest".into();
    let file = dir.join("hmac_sha384_test.json");
    std::fs::write(&file, serde_json::to_vec(&json).unwrap()).unwrap();
    let (ok, out) = run(&[file.as_os_str()]);
    assert!(ok, "{out}");
    let passed = 174 - in_group;
    assert!(
        out.contains(&format!(
            "[hmac_sha384_test] {passed} passed, 0 failed, 0 skipped, {in_group} unrecognised, {passed} checks"
        )),
        "{out}"
    );
    assert!(out.contains("unrecognised: group 0"), "{out}");
}

/// A case of a suite Canopy does not implement is skipped, and the per-suite line says for
/// which suite.
#[test]
fn unknown_suite_is_skipped_and_named_per_suite() {
    let dir = temp_dir("unknown-suite");
    let file = dir.join("transcript-hashes.json");
    let text = std::fs::read_to_string(vectors_dir().join("mls/transcript-hashes.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json[6]["cipher_suite"] = serde_json::json!(9);
    std::fs::write(&file, serde_json::to_string(&json).unwrap()).unwrap();
    let (ok, out) = run(&[file.as_os_str()]);
    assert!(ok, "{out}");
    assert!(
        out.contains("[transcript-hashes] 6 passed, 0 failed, 1 skipped"),
        "{out}"
    );
    assert!(
        out.contains("suite 6: 1 passed; suite 9: 0 passed, 1 skipped"),
        "{out}"
    );
    assert!(out.contains("skip: cipher suite 9 not supported"), "{out}");
}
