//! `CANOPY_CRYPTO` chooses the X25519 backend of every `Provider::new`, read once per process.
//! Each case runs in a child process (this binary, filtered to the child test) with its own
//! environment, so no test changes the environment of a running process.

use std::process::Command;

use canopy_engine::crypto::{CipherSuite, Provider, X25519Backend};

const SUITE: CipherSuite = CipherSuite::Mls128X25519Aes128GcmSha256Ed25519;

/// Set in the child processes only.
const CHILD: &str = "CANOPY_X25519_ENV_CHILD";

/// In a child: print the backend `Provider::new` takes, or the error and the panic message.
#[test]
fn child_reports_the_default_backend() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    match Provider::try_new(SUITE) {
        Ok(p) => {
            println!("\nreport: backend={}", p.x25519_backend());
            // Read once: the same backend again.
            assert_eq!(Provider::new(SUITE).x25519_backend(), p.x25519_backend());
        }
        Err(e) => {
            println!("\nreport: error={e}");
            let panic = std::panic::catch_unwind(|| Provider::new(SUITE)).unwrap_err();
            let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            println!("\nreport: panic={message}");
        }
    }
}

/// The child's report for an environment of `vars` (`None` removes the variable).
fn child(vars: &[(&str, Option<&str>)]) -> Vec<String> {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_reports_the_default_backend",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, "1")
    .env_remove("CANOPY_CRYPTO")
    .env_remove("CANOPY_SIMD_HIDE");
    for (name, value) in vars {
        match value {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{vars:?}: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("report: "))
        .map(str::to_owned)
        .collect()
}

fn backend(b: X25519Backend) -> Vec<String> {
    vec![format!("backend={b}")]
}

#[test]
fn canopy_crypto_chooses_the_default_backend() {
    assert_eq!(child(&[]), backend(X25519Backend::auto()), "unset is auto");
    assert_eq!(
        child(&[("CANOPY_CRYPTO", Some("auto"))]),
        backend(X25519Backend::auto())
    );
    assert_eq!(
        child(&[("CANOPY_CRYPTO", Some("portable"))]),
        backend(X25519Backend::AwsLc),
        "portable is aws-lc"
    );
    for b in [X25519Backend::Avx2, X25519Backend::Avx512Ifma] {
        let report = child(&[("CANOPY_CRYPTO", Some(b.name()))]);
        if b.is_available() {
            assert_eq!(report, backend(b));
        } else {
            assert!(report[0].contains(b.name()), "{report:?}");
        }
    }

    // A host without AVX-512 (canopy-simd's testing aid hides it): `auto` keeps aws-lc even
    // where AVX2 runs, and asking for AVX-512 is an error naming it, never a fallback.
    let hidden = ("CANOPY_SIMD_HIDE", Some("avx512"));
    assert_eq!(child(&[hidden]), backend(X25519Backend::AwsLc));
    let report = child(&[hidden, ("CANOPY_CRYPTO", Some("avx512"))]);
    assert_eq!(report.len(), 2, "{report:?}");
    assert!(
        report[0].starts_with("error=CANOPY_CRYPTO: the avx512 X25519 backend does not run"),
        "{report:?}"
    );
    assert_eq!(report[1], report[0].replacen("error=", "panic=", 1));

    let report = child(&[("CANOPY_CRYPTO", Some("neon"))]);
    assert_eq!(
        report,
        [
            "error=CANOPY_CRYPTO: \"neon\" names no X25519 backend: expected one of auto, \
             portable, avx2, avx512",
            "panic=CANOPY_CRYPTO: \"neon\" names no X25519 backend: expected one of auto, \
             portable, avx2, avx512",
        ]
    );
}
