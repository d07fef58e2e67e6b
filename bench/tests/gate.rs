//! The performance-regression gate: the committed baseline is current, counts do not depend
//! on the executor, and a planted regression makes the gate fail naming the scenario and the
//! counter.

use std::path::PathBuf;
use std::sync::Mutex;

use canopy_bench::gate::baseline::Baseline;
use canopy_bench::gate::check::Verdict;
use canopy_bench::gate::exact_tier;
use canopy_bench::gate::scenarios::{run_exact, Action, Scenario, SCENARIOS};
use canopy_engine::batch::Executor;
use canopy_workloads::states::StateKind;

/// The engine's counters are process-wide: tests that count must not overlap when the
/// harness runs them as threads of one process (`cargo test`; nextest uses processes).
static COUNTING: Mutex<()> = Mutex::new(());

fn baseline_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../results/baseline/gate.json")
}

/// Every gate scenario counts exactly what the committed baseline says: the gate passes on
/// it, and the baseline has been updated for every intended change (improvements included).
#[test]
fn committed_baseline_is_current() {
    let _lock = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
    let baseline = Baseline::load(&baseline_path()).unwrap();
    for s in SCENARIOS {
        assert!(
            baseline.scenarios.contains_key(s.name),
            "scenario {} is not in the baseline: run scripts/perf-gate --update",
            s.name
        );
    }
    let (_, report) = exact_tier(&baseline, SCENARIOS, Executor::default()).unwrap();
    let md = report.markdown();
    assert!(!report.failed(), "the gate fails on the baseline:\n{md}");
    let stale: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.verdict != Verdict::Unchanged)
        .collect();
    assert!(
        stale.is_empty(),
        "the baseline is not current (run scripts/perf-gate --update and commit it with the \
         reason):\n{md}"
    );
}

/// Counts and message sizes are identical on the serial reference executor and on rayon,
/// and from one run to the next (small groups, every action).
#[test]
fn counts_are_deterministic_and_executor_independent() {
    let _lock = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
    let small: Vec<Scenario> = [
        (Action::Commit, StateKind::Populated),
        (Action::Process, StateKind::Populated),
        (Action::Commit, StateKind::Fresh),
        (Action::Process, StateKind::Fresh),
        (Action::Join, StateKind::Populated),
        (Action::BulkAdd, StateKind::Populated),
        (Action::Add1, StateKind::Populated),
        (Action::Remove1, StateKind::Populated),
    ]
    .into_iter()
    .map(|(action, state)| Scenario {
        name: "small",
        action,
        state,
        members: 70,
    })
    .collect();
    let serial = run_exact(&small, Executor::Serial).unwrap();
    let parallel = run_exact(&small, Executor::Parallel).unwrap();
    let again = run_exact(&small, Executor::Parallel).unwrap();
    for ((s, a), ((_, b), (_, c))) in serial.iter().zip(parallel.iter().zip(&again)) {
        assert_eq!(a, b, "{:?} on {}: serial vs parallel", s.action, s.state);
        assert_eq!(b, c, "{:?} on {}: run to run", s.action, s.state);
        assert!(a["message_bytes"] > 0, "{:?}: no message", s.action);
        assert!(a["hash_bytes"] > 0, "{:?}: nothing hashed", s.action);
    }
    // The counters see the work they claim to: a commit with path seals, a join opens.
    let commit = &serial[0].1;
    assert!(commit["hpke_seal"] > 0 && commit["ed25519_sign"] >= 1);
    let join = &serial[4].1;
    assert_eq!(join["hpke_open"], 1, "a join opens its GroupSecrets");
}

/// With the planted regression on (extra hashing in every commit), `canopy gate` exits 1 and
/// names the commit scenario and the `hash_bytes` counter; the process scenario stays clean.
#[cfg(feature = "planted-regression")]
#[test]
fn planted_regression_fails_the_gate() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_canopy"))
        .args([
            "gate",
            "--instructions",
            "off",
            "--scenarios",
            "commit-fresh-1000,process-fresh-1000",
            "--plant-regression",
            "--baseline",
        ])
        .arg(baseline_path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "gate should fail:\n{stdout}\n{stderr}"
    );
    let planted = canopy_engine::testing::PLANTED_HASH_BYTES;
    assert!(
        stdout.contains("| commit-fresh-1000 | exact | hash_bytes |")
            && stdout.contains("**REGRESSION**")
            && stdout.contains("FAIL — 1 regression(s): commit-fresh-1000 hash_bytes"),
        "the failure must name the scenario and the counter:\n{stdout}"
    );
    // Exactly the planted bytes more.
    let baseline = Baseline::load(&baseline_path()).unwrap();
    let base = baseline.scenarios["commit-fresh-1000"].counts["hash_bytes"];
    assert!(
        stdout.contains(&format!("| {base} | {} |", base + planted as u64)),
        "{stdout}"
    );
}

/// Without the feature the switch does not exist; the test shows up as ignored.
#[cfg(not(feature = "planted-regression"))]
#[test]
#[ignore = "needs --features planted-regression (scripts/test builds with --all-features)"]
fn planted_regression_fails_the_gate() {}
