//! `canopy compare` on tiny groups: every catalogue operation produces a sane row, the peers
//! run the same operations on the same messages, and compare measures what the gate measures
//! for the same catalogue operation.

use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use canopy_bench::catalogue::{self, Operation};
use canopy_bench::compare::{run, CompareConfig, Report, Row};
use canopy_bench::costs::calibrate::calibrate_symmetric;
use canopy_bench::costs::Calibration;
use canopy_bench::gate::scenarios::{run_exact, Scenario, GATE_SEED};
use canopy_bench::peers::PeerKind;
use canopy_engine::batch::Executor;
use canopy_engine::crypto::{CipherSuite, Provider, X25519Backend};
use canopy_workloads::states::StateKind;

/// The engine's counters are process-wide, and a comparison reads them (its calibration
/// checks which counters each probe moves): comparisons in this process must not overlap
/// when the harness runs the tests as threads.
static COUNTING: Mutex<()> = Mutex::new(());

fn counting() -> MutexGuard<'static, ()> {
    COUNTING.lock().unwrap_or_else(|e| e.into_inner())
}

fn config(members: u32, ops: &[Operation], peers: &[PeerKind]) -> CompareConfig {
    CompareConfig {
        members,
        state: StateKind::Populated,
        ops: ops.to_vec(),
        peers: peers.to_vec(),
        skipped: Vec::new(),
        suite: CipherSuite::Mls128X25519Aes128GcmSha256Ed25519,
        samples: 1,
        seed: GATE_SEED,
        peer_time_limit: Duration::from_secs(120),
        crypto: Vec::new(),
    }
}

fn row<'a>(report: &'a Report, op: Operation, system: &str) -> &'a Row {
    report
        .rows
        .iter()
        .find(|r| r.op == op.name() && r.system == system)
        .unwrap_or_else(|| panic!("no {system} row for {op}: {:#?}", report.rows))
}

/// Every operation, Canopy alone at 64 members: one row each, with a time, a floor, bytes
/// and the seals the operation must make.
#[test]
fn every_operation_gives_a_sane_canopy_row() {
    let _counting = counting();
    let report = run(&config(64, Operation::ALL, &[])).unwrap();
    assert_eq!(report.rows.len(), Operation::ALL.len());
    for &op in Operation::ALL {
        let r = row(&report, op, "canopy");
        assert_eq!(r.status, None, "{op}");
        assert_eq!(r.samples, 1, "{op}");
        assert!(r.median_ms.is_some_and(|m| m > 0.0), "{op}: {r:?}");
        assert!(r.floor_ms.is_some_and(|f| f > 0.0), "{op}: {r:?}");
        assert!(r.bytes.is_some_and(|b| b > 0), "{op}: {r:?}");
    }
    let seals = |op| row(&report, op, "canopy").seals.unwrap();
    assert_eq!(
        seals(Operation::Build),
        63,
        "one GroupSecrets per added member"
    );
    assert_eq!(seals(Operation::Join), 0);
    assert_eq!(seals(Operation::Add1), 1, "one GroupSecrets, no path");
    assert_eq!(seals(Operation::Add1Creator), 1);
    // A populated tree of 64 members and the joiner at leaf 64, alone in the right half of
    // a 128-leaf tree: the creator seals to one node per level of the left half and to the
    // joiner's leaf; the joiner to the left half's root only.
    assert_eq!(seals(Operation::CommitCreator), 7);
    assert_eq!(seals(Operation::Commit), 1);
    // Process processes the creator's commit: the same message.
    let bytes = |op| row(&report, op, "canopy").bytes.unwrap();
    assert_eq!(bytes(Operation::Process), bytes(Operation::CommitCreator));
    assert_eq!(seals(Operation::Process), seals(Operation::CommitCreator));
    assert!(report.table().contains(Operation::Remove1Creator.summary()));
}

/// `canopy compare --crypto portable,auto`: one Canopy row per backend and operation, each
/// naming its backend in `crypto` (`portable` is aws-lc; `auto` is AVX-512 IFMA where the CPU
/// has it, else aws-lc), the same messages on both; and a backend the host lacks is an error
/// naming it.
#[test]
fn compare_runs_each_x25519_backend_as_rows() {
    let dir = std::env::temp_dir().join(format!("canopy-compare-crypto-{}", std::process::id()));
    let json = dir.join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_canopy"))
        .args([
            "compare",
            "--members",
            "24",
            "--ops",
            "commit-creator,process,add1-creator",
            "--peers",
            "",
            "--samples",
            "1",
            "--crypto",
            "portable,auto",
            "--json",
        ])
        .arg(&json)
        .env_remove("CANOPY_CRYPTO")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let rows = report["rows"].as_array().unwrap();
    let auto = X25519Backend::auto().name();
    assert_eq!(rows.len(), 3 * 2, "{rows:#?}");
    let mut lanes_floors = 0;
    for pair in rows.chunks(2) {
        let op = &pair[0]["op"];
        assert_eq!(pair[1]["op"], *op);
        assert_eq!(
            [&pair[0]["system"], &pair[1]["system"]],
            ["canopy", "canopy"]
        );
        assert_eq!(
            [&pair[0]["crypto"], &pair[1]["crypto"]],
            ["portable", auto],
            "{op}"
        );
        for key in ["bytes", "seals"] {
            assert_eq!(pair[0][key], pair[1][key], "{op}: {key}");
        }
        assert!(pair.iter().all(|r| r["median_ms"].is_number()), "{op}");
        // Only a backend with lanes has its own floor: at most the floor, as its costs are
        // the floor's with some primitives made cheaper.
        assert!(pair[0].get("lanes_floor_ms").is_none(), "{op}");
        if auto != "portable" {
            let own = pair[1]["lanes_floor_ms"].as_f64().unwrap();
            let floor = pair[1]["floor_ms"].as_f64().unwrap();
            assert!(own > 0.0 && own <= floor, "{op}: {own} against {floor}");
            lanes_floors += 1;
        }
    }
    // The costs the lanes floors priced: one entry per backend with lanes.
    let lanes = report["lane_costs_us"].as_array();
    if auto == "portable" {
        assert!(lanes.is_none(), "{report:#}");
    } else {
        assert_eq!(lanes_floors, 3);
        let lanes = lanes.unwrap();
        assert_eq!(lanes.len(), 1, "{lanes:?}");
        assert_eq!(lanes[0]["crypto"], auto);
        for key in ["x25519_base", "x25519_dh", "ed25519_verify"] {
            assert!(lanes[0][key].as_f64().is_some_and(|c| c > 0.0), "{key}");
        }
    }
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("÷ lanes"), "{table}");
    assert!(table.contains("  portable\n"), "{table}");
    assert!(table.contains(&format!("  {auto}\n")), "{table}");

    // As on a host without AVX-512: asking for it fails, naming it, before any work.
    let out = Command::new(env!("CARGO_BIN_EXE_canopy"))
        .args(["compare", "--peers", "", "--crypto", "portable,avx512"])
        .env("CANOPY_SIMD_HIDE", "avx512")
        .env_remove("CANOPY_CRYPTO")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("canopy: --crypto avx512: the avx512 X25519 backend does not run"),
        "{stderr}"
    );
    // So is a CANOPY_CRYPTO that names no backend, for every command.
    let out = Command::new(env!("CARGO_BIN_EXE_canopy"))
        .args(["compare", "--peers", ""])
        .env("CANOPY_CRYPTO", "neon")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("canopy: CANOPY_CRYPTO: \"neon\" names no X25519 backend"),
        "{stderr}"
    );
}

/// For the same catalogue operation, shape, size and seed, `canopy compare` (Canopy alone)
/// and the gate put the same bytes on the wire: they measure the same thing.
#[test]
fn compare_and_gate_measure_the_same_operations() {
    let ops: Vec<Operation> = Operation::ALL
        .iter()
        .copied()
        .filter(|o| !o.needs_joiner())
        .collect();
    let _counting = counting();
    let report = run(&config(64, &ops, &[])).unwrap();
    let scenarios: Vec<Scenario> = ops
        .iter()
        .map(|&operation| Scenario {
            name: "tiny",
            measures: catalogue::Scenario {
                operation,
                shape: StateKind::Populated,
                members: 64,
            },
        })
        .collect();
    for (s, counts) in run_exact(&scenarios, Executor::default()).unwrap() {
        let op = s.measures.operation;
        assert_eq!(
            row(&report, op, "canopy").bytes,
            Some(counts["message_bytes"]),
            "{op}"
        );
    }
}

/// Both peers run every compared operation at 8 members, on the same messages as Canopy.
#[test]
fn peers_run_the_compared_operations() {
    let peers = [PeerKind::OpenMls, PeerKind::MlsRs];
    let _counting = counting();
    let report = run(&config(8, Operation::COMPARED, &peers)).unwrap();
    assert_eq!(report.rows.len(), Operation::COMPARED.len() * 3);
    for &op in Operation::COMPARED {
        let canopy = row(&report, op, "canopy");
        for kind in peers {
            let r = row(&report, op, kind.name());
            assert_eq!(r.status, None, "{kind} {op}");
            assert!(r.median_ms.is_some_and(|m| m > 0.0), "{kind} {op}");
            assert_eq!(r.floor_ms, None, "{kind} {op}: the floor is Canopy's");
            if matches!(op, Operation::Process | Operation::Add1 | Operation::Build) {
                // The same message processed; the same single GroupSecrets; one per member.
                assert_eq!(r.seals, canopy.seals, "{kind} {op}");
            }
            if op == Operation::Process {
                assert_eq!(r.bytes, canopy.bytes, "{kind}: the same commit");
            }
        }
    }
}

/// `canopy compare --suite 2`: every row says suite 2, both peers run every compared
/// operation on the same messages as Canopy, Canopy's floor is positive and no row names an
/// X25519 backend (suite 2 has none). `--suite 7` skips openmls, saying why, and runs mls-rs.
#[test]
fn compare_runs_in_the_chosen_suite() {
    let dir = std::env::temp_dir().join(format!("canopy-compare-suite-{}", std::process::id()));
    let json = dir.join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_canopy"))
        .args([
            "compare",
            "--members",
            "8",
            "--samples",
            "1",
            "--suite",
            "2",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["suite"], 2);
    assert_eq!(
        report["suite_name"],
        "MLS_128_DHKEMP256_AES128GCM_SHA256_P256"
    );
    assert!(report.get("skipped").is_none(), "{report:#}");
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), Operation::COMPARED.len() * 3, "{rows:#?}");
    let mut checked = 0;
    for &op in Operation::COMPARED {
        let of = |system: &str| {
            rows.iter()
                .find(|r| r["op"] == op.name() && r["system"] == system)
                .unwrap_or_else(|| panic!("no {system} row for {op}: {rows:#?}"))
        };
        let canopy = of("canopy");
        assert!(canopy["floor_ms"].as_f64().is_some_and(|f| f > 0.0), "{op}");
        assert!(canopy.get("crypto").is_none(), "{op}: {canopy}");
        for system in ["canopy", "openmls", "mls-rs"] {
            let r = of(system);
            assert_eq!(r["suite"], 2, "{system} {op}");
            assert!(r.get("status").is_none(), "{system} {op}: {r}");
            assert!(
                r["median_ms"].as_f64().is_some_and(|m| m > 0.0),
                "{system} {op}"
            );
            if matches!(op, Operation::Process | Operation::Add1 | Operation::Build) {
                assert_eq!(r["seals"], canopy["seals"], "{system} {op}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, Operation::COMPARED.len() * 3);
    let costs = &report["primitive_costs_us"];
    for primitive in [
        "p256_dh",
        "p256_base",
        "ecdsa_p256_sign",
        "ecdsa_p256_verify",
    ] {
        assert!(
            costs[primitive].as_f64().is_some_and(|c| c > 0.0),
            "{primitive}"
        );
    }
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.starts_with(
            "canopy compare: 8 members, state populated, suite 2 \
             (MLS_128_DHKEMP256_AES128GCM_SHA256_P256), "
        ),
        "{table}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_canopy"))
        .args([
            "compare",
            "--members",
            "8",
            "--samples",
            "1",
            "--suite",
            "7",
        ])
        .args(["--ops", "commit", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let systems: Vec<&str> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["system"].as_str().unwrap())
        .collect();
    assert_eq!(systems, ["canopy", "mls-rs"]);
    assert_eq!(report["skipped"][0]["system"], "openmls");
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.lines().nth(1).unwrap().starts_with(
            "openmls skipped: openmls_rust_crypto 0.6 / openmls_libcrux_crypto 0.4 does not \
                 run cipher suite 7"
        ),
        "{table}"
    );

    // Naming a peer that does not run the suite is an error, before any work.
    let out = Command::new(env!("CARGO_BIN_EXE_canopy"))
        .args(["compare", "--suite", "7", "--peers", "openmls"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("canopy: --peers openmls: openmls_rust_crypto 0.6 / openmls_libcrux_crypto 0.4 does not run"),
        "{stderr}"
    );
}

/// The floor prices each suite's own hash, HKDF and AEAD: they are measured through the
/// suite's provider (its AEAD key and nonce lengths, its hash's PRK length) in every suite.
#[test]
fn symmetric_costs_are_measured_in_every_suite() {
    let _counting = counting();
    let mut measured = 0;
    for &suite in CipherSuite::ALL {
        let costs = calibrate_symmetric(&Provider::new(suite), &Calibration::QUICK)
            .unwrap_or_else(|e| panic!("suite {}: {e:#}", suite.id()));
        let units: Vec<(&str, &str)> = costs
            .iter()
            .map(|(k, c)| (k.as_str(), c.per.as_str()))
            .collect();
        assert_eq!(
            units,
            [
                ("aead_bytes", "byte"),
                ("hash_bytes", "byte"),
                ("hkdf_expand", "operation")
            ],
            "suite {}",
            suite.id()
        );
        assert!(costs.values().all(|c| c.ns.is_finite() && c.ns >= 0.0));
        assert!(costs["hash_bytes"].ns > 0.0 && costs["aead_bytes"].ns > 0.0);
        measured += 1;
    }
    assert!(measured >= 7 && measured == CipherSuite::ALL.len());
}
