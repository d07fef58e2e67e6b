//! The performance-regression gate: the committed baseline is current, counts do not depend
//! on the executor, and a planted regression makes the gate fail naming the scenario and the
//! counter — in the exact tier and in the instruction tier under Valgrind.

use std::path::PathBuf;
use std::sync::Mutex;

use canopy_bench::catalogue::{self, Operation};
use canopy_bench::gate::baseline::Baseline;
use canopy_bench::gate::check::Verdict;
use canopy_bench::gate::exact_tier;
use canopy_bench::gate::scenarios::{run_exact, Scenario, SCENARIOS};
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
/// and from one run to the next (small groups, every operation the gate measures).
#[test]
fn counts_are_deterministic_and_executor_independent() {
    let _lock = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
    let small: Vec<Scenario> = [
        (Operation::CommitCreator, StateKind::Populated),
        (Operation::Process, StateKind::Populated),
        (Operation::CommitCreator, StateKind::Fresh),
        (Operation::Process, StateKind::Fresh),
        (Operation::Join, StateKind::Populated),
        (Operation::Build, StateKind::Populated),
        (Operation::Add1Creator, StateKind::Populated),
        (Operation::Remove1Creator, StateKind::Populated),
    ]
    .into_iter()
    .map(|(operation, shape)| Scenario {
        name: "small",
        measures: catalogue::Scenario {
            operation,
            shape,
            members: 70,
        },
    })
    .collect();
    let serial = run_exact(&small, Executor::Serial).unwrap();
    let parallel = run_exact(&small, Executor::Parallel).unwrap();
    let again = run_exact(&small, Executor::Parallel).unwrap();
    for ((s, a), ((_, b), (_, c))) in serial.iter().zip(parallel.iter().zip(&again)) {
        let what = s.measures.describe();
        assert_eq!(a, b, "{what}: serial vs parallel");
        assert_eq!(b, c, "{what}: run to run");
        assert!(a["message_bytes"] > 0, "{what}: no message");
        assert!(a["hash_bytes"] > 0, "{what}: nothing hashed");
    }
    // The counters see the work they claim to: a commit with path seals, a join opens.
    let commit = &serial[0].1;
    assert!(commit["hpke_seal"] > 0 && commit["ed25519_sign"] >= 1);
    let join = &serial[4].1;
    assert_eq!(join["hpke_open"], 1, "a join opens its GroupSecrets");
}

/// Every gate scenario is a catalogue measurement the gate's states can start (no joiner:
/// its states have no guests), at the gate's size.
#[test]
fn scenarios_are_catalogue_measurements_without_guests() {
    for s in SCENARIOS {
        assert!(!s.measures.operation.needs_joiner(), "{}", s.name);
        assert_eq!(s.measures.members, 1000, "{}", s.name);
        let op = s.measures.operation.name();
        let stem = op.trim_end_matches("-creator");
        assert!(
            s.name.starts_with(stem) || (op == "build" && s.name.starts_with("bulk-add")),
            "{} measures {op}",
            s.name
        );
    }
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

/// Run `canopy gate ARGS`; the exit code and stdout (stderr appended on failure messages).
#[cfg(feature = "planted-regression")]
fn gate(args: &[&str], baseline: &std::path::Path) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_canopy"))
        .arg("gate")
        .args(args)
        .arg("--baseline")
        .arg(baseline)
        .output()
        .unwrap();
    let text = format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The instruction tier under Valgrind sees the planted extra work (one 64-byte hash per
/// commit, ≈ 5,000 instructions in the ≈ 547 million of `commit-fresh-1000`).
///
/// That is far below the committed 0.1% threshold floor — catching single extra primitives
/// is the exact tier's job — so the test measures this binary's own baseline of the scenario
/// (3 runs), sets the threshold to what the spread alone justifies (10 × spread, no floor),
/// and checks that the planted run is then an instruction REGRESSION: the extra work is
/// counted, and it stands out from run-to-run noise by more than that factor. Needs
/// Valgrind; `scripts/test` installs it, or sets `CANOPY_GATE_SKIP_VALGRIND=1` after saying
/// it could not, and only then is this test skipped (loudly).
#[cfg(feature = "planted-regression")]
#[test]
fn planted_regression_fails_the_valgrind_instruction_tier() {
    use canopy_bench::gate::baseline::SPREAD_FACTOR;

    if std::env::var_os("CANOPY_GATE_SKIP_VALGRIND").is_some() {
        eprintln!("SKIPPED: CANOPY_GATE_SKIP_VALGRIND is set (no valgrind on this machine)");
        return;
    }
    let scenario = "commit-fresh-1000";
    let path = std::env::temp_dir().join(format!("canopy-gate-test-{}.json", std::process::id()));
    std::fs::copy(baseline_path(), &path).unwrap();

    // This binary's figures (the committed ones come from a build without the feature).
    let (code, text) = gate(
        &[
            "--instructions",
            "require",
            "--scenarios",
            scenario,
            "--repeat",
            "3",
            "--update",
            "--reason",
            "test",
        ],
        &path,
    );
    assert_eq!(code, Some(0), "{text}");
    let mut baseline = Baseline::load(&path).unwrap();
    let vg = baseline
        .scenarios
        .get_mut(scenario)
        .unwrap()
        .valgrind
        .as_mut()
        .expect("the update measured the scenario under valgrind");
    assert_eq!(vg.runs.len(), 3);
    vg.threshold_pct = SPREAD_FACTOR * vg.spread_pct;
    let median = vg.median;
    let spread = vg.runs.iter().max().unwrap() - vg.runs.iter().min().unwrap();
    baseline.save(&path).unwrap();

    let (code, text) = gate(
        &[
            "--instructions",
            "require",
            "--scenarios",
            scenario,
            "--plant-regression",
        ],
        &path,
    );
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, Some(1), "gate should fail:\n{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with(&format!("| {scenario} | instructions | instructions |")))
        .unwrap_or_else(|| panic!("no instruction row for {scenario}:\n{text}"));
    assert!(row.contains("**REGRESSION**"), "{row}\n{text}");
    let current: u64 = row.split('|').nth(5).unwrap().trim().parse().unwrap();
    let extra = current - median;
    eprintln!(
        "planted regression under valgrind: +{extra} instructions over {median} \
         (run-to-run spread {spread})"
    );
    assert!(extra > SPREAD_FACTOR as u64 * spread, "{text}");
    assert!(
        text.contains(&format!(
            "FAIL — 2 regression(s): {scenario} hash_bytes, {scenario} instructions"
        )) || text.contains(&format!(
            "FAIL — 2 regression(s): {scenario} instructions, {scenario} hash_bytes"
        )),
        "both tiers must name the scenario:\n{text}"
    );
}
