//! Reading a sweep: the comparison of its points (means over seeds, confidence intervals,
//! deltas against a baseline point, cost-versus-members plots) and SLO thresholds that fail
//! the process.

mod common;
use common::{counting, plan_args, tmp};

use std::path::{Path, PathBuf};
use std::process::Command;

use canopy_bench::costs::{CostProfile, HostInfo};
use canopy_bench::plan::compare::{fmt_ci, mean_ci, parse_slos, t_975, METRICS};
use canopy_bench::plan::report::{hist_decode, Report, Run};
use canopy_bench::plan::{merge, plan, MergeArgs, PlanArgs};

/// A fixed cost profile (these tests check figures and structure, not prices), so that no
/// run calibrates.
fn profile(dir: &Path) -> PathBuf {
    let path = dir.join("profile.json");
    CostProfile::from_costs(HostInfo::default(), |_| 1.0)
        .save(&path)
        .unwrap();
    path
}

fn args(out: PathBuf, sweep: PathBuf, profile: PathBuf) -> PlanArgs {
    PlanArgs {
        sweep: Some(sweep),
        profile: Some(profile),
        ..plan_args(out)
    }
}

/// p99 of a run's commit creation latency in ms, computed here from the histogram.
fn commit_p99_ms(r: &Run) -> f64 {
    hist_decode(&r.histograms["commit_create_ns"])
        .unwrap()
        .value_at_quantile(0.99) as f64
        / 1e6
}

/// Mean over a run's days of its DS fan-out.
fn fanout_per_day(r: &Run) -> f64 {
    r.days.iter().map(|d| d.ds_fanout_bytes as f64).sum::<f64>() / r.days.len() as f64
}

/// `canopy merge` of `files` into `out`, everything else at its default.
fn merge_args(files: Vec<PathBuf>, out: PathBuf) -> MergeArgs {
    MergeArgs {
        files,
        out,
        name: None,
        allow_mixed_hosts: false,
        csv: false,
        slo: None,
        baseline_point: 0,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext) && p.starts_with(dir))
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("profile")
        })
        .collect();
    v.sort();
    v
}

#[test]
fn confidence_interval_of_planted_values() {
    assert_eq!(t_975(1), 12.706);
    assert_eq!(t_975(4), 2.776);
    let (mean, half) = mean_ci(&[1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(mean, 3.0);
    // Sample variance 2.5, n = 5, t(0.975, 4) = 2.776.
    assert!(close(half.unwrap(), 2.776 * (2.5f64 / 5.0).sqrt()));
    let (mean, half) = mean_ci(&[10.0, 14.0]);
    assert_eq!(mean, 12.0);
    // Sample variance 8, n = 2, t(0.975, 1) = 12.706.
    assert!(close(half.unwrap(), 12.706 * (8.0f64 / 2.0).sqrt()));
    assert_eq!(mean_ci(&[7.0]), (7.0, None));
}

#[test]
fn sweep_comparison_names_points_and_matches_the_runs() {
    let _counting = counting();
    let dir = tmp("sweeps", "compare");
    let sweep = dir.join("sizes.toml");
    std::fs::write(
        &sweep,
        "name = \"sizes\"\nrepeats = 2\n[[points]]\nworkload = \"smoke\"\nmembers = 40\n\
         [[points]]\nworkload = \"smoke\"\nmembers = 60\n[[points]]\nworkload = \"smoke\"\n\
         members = 80\n",
    )
    .unwrap();
    let out = dir.join("out");
    let report = plan(&args(out.clone(), sweep, profile(&dir))).unwrap();
    assert_eq!(report.points.len(), 3);
    let c = report
        .comparison
        .as_ref()
        .expect("a sweep records its comparison");
    assert_eq!(c.baseline, 0);
    assert_eq!(c.rows.len(), 3);
    let base_members = c.rows[0].members;
    let mut seen_members = Vec::new();
    for (i, row) in c.rows.iter().enumerate() {
        assert_eq!(row.key, report.points[i].key);
        if i == 0 {
            assert_eq!(row.label, "baseline");
        } else {
            assert_ne!(row.members, base_members);
            assert_eq!(row.label, format!("members={}", row.members));
        }
        seen_members.push(row.members);
        let runs: Vec<&Run> = report
            .runs
            .iter()
            .filter(|r| u64::from(r.workload.members) == row.members)
            .collect();
        assert_eq!(runs.len(), 2, "two seeds per point");
        let values: Vec<f64> = runs.iter().map(|r| commit_p99_ms(r)).collect();
        let s = &row.metrics["commit_p99_ms"];
        assert_eq!(s.values, values);
        assert!(close(s.mean, (values[0] + values[1]) / 2.0));
        let fan: Vec<f64> = runs.iter().map(|r| fanout_per_day(r)).collect();
        let f = &row.metrics["ds_fanout_bytes_per_day"];
        assert!(close(f.mean, (fan[0] + fan[1]) / 2.0));
        assert!(f.ci95.is_some(), "two seeds give an interval");
        for m in METRICS {
            assert!(row.metrics.contains_key(m.name), "{}", m.name);
        }
    }
    seen_members.sort_unstable();
    assert_eq!(seen_members, vec![40, 60, 80]);
    // Deltas are relative to the baseline point's mean.
    for row in &c.rows {
        for (name, s) in &row.metrics {
            let b = c.rows[0].metrics[name].mean;
            if b != 0.0 {
                assert!(
                    close(s.delta_pct.unwrap(), (s.mean - b) / b * 100.0),
                    "{name}"
                );
            }
        }
    }
    let fan_base = c.rows[0].metrics["ds_fanout_bytes_per_day"].mean;
    assert!(fan_base > 0.0);
    // The result files: the JSON records the comparison, the HTML has the table and one
    // cost-versus-members plot per metric group.
    let json = files_with(&out, "json");
    assert_eq!(json.len(), 1, "{json:?}");
    let on_disk: Report =
        serde_json::from_str(&std::fs::read_to_string(&json[0]).unwrap()).unwrap();
    assert_eq!(on_disk.comparison, report.comparison);
    let html = std::fs::read_to_string(&files_with(&out, "html")[0]).unwrap();
    assert!(html.contains("id=\"comparison\""));
    for title in [
        "Commit creation latency vs members",
        "Commit processing latency vs members",
        "Join latency vs members",
        "Message sizes vs members",
        "DS egress per day vs members",
    ] {
        assert_eq!(html.matches(title).count(), 1, "{title}");
    }
    // After a merge, against another baseline point.
    let merged_dir = dir.join("merged");
    let merged = merge(&MergeArgs {
        baseline_point: 1,
        ..merge_args(json, merged_dir)
    })
    .unwrap();
    let mc = merged.comparison.unwrap();
    assert_eq!(mc.baseline, 1);
    for row in &mc.rows {
        let s = &row.metrics["ds_fanout_bytes_per_day"];
        let b = mc.rows[1].metrics["ds_fanout_bytes_per_day"].mean;
        assert!(close(s.delta_pct.unwrap(), (s.mean - b) / b * 100.0));
    }
    assert_eq!(mc.rows[1].metrics["commit_p99_ms"].delta_pct, Some(0.0));
}

/// A report lists its points in the sweep file's order, not in the order of their keys, also
/// after its shards are merged, so that the file's first point is the baseline; a point
/// written twice keeps its first place. Files without the order list their points in key
/// order.
#[test]
fn points_follow_the_sweep_file_order_through_shards_and_merge() {
    let _counting = counting();
    let dir = tmp("sweeps", "file-order");
    let sweep = dir.join("order.toml");
    // Key order would be 40, 60, 80 (the keys differ only in `members`).
    std::fs::write(
        &sweep,
        "name = \"order\"\n[[points]]\nworkload = \"smoke\"\ndays = 1\nmembers = 80\n\
         [[points]]\nworkload = \"smoke\"\ndays = 1\nmembers = 40\n\
         [[points]]\nworkload = \"smoke\"\ndays = 1\nmembers = 60\n\
         [[points]]\nworkload = \"smoke\"\ndays = 1\nmembers = 80\nseed = 1000\n",
    )
    .unwrap();
    let members = |r: &Report| -> Vec<u64> {
        r.comparison
            .as_ref()
            .expect("a sweep compares")
            .rows
            .iter()
            .map(|row| row.members)
            .collect()
    };
    let whole = plan(&args(dir.join("whole"), sweep.clone(), profile(&dir))).unwrap();
    assert_eq!(members(&whole), [80, 40, 60]);
    let c = whole.comparison.as_ref().unwrap();
    let labels: Vec<&str> = c.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["baseline", "members=40", "members=60"]);
    // The point written twice (another seed) is one point with two runs, in its first place.
    let seeds = &whole.points[0].seeds;
    assert!(seeds.len() == 2 && seeds[1] == 1000, "{seeds:?}");
    let places: Vec<Option<u32>> = whole.runs.iter().map(|r| r.point).collect();
    assert_eq!(places, [Some(0), Some(3), Some(1), Some(2)]);

    // Two shards (jobs 0 and 2 in one, 1 and 3 in the other), merged in either order.
    let shards = dir.join("shards");
    for i in 0..2 {
        let mut a = args(shards.clone(), sweep.clone(), profile(&dir));
        a.shard = Some(format!("{i}/2"));
        plan(&a).unwrap();
    }
    let mut files = files_with(&shards, "json");
    assert_eq!(files.len(), 2);
    files.reverse();
    let merged = merge(&merge_args(files.clone(), dir.join("merged"))).unwrap();
    assert_eq!(members(&merged), [80, 40, 60]);
    assert_eq!(&merged.points[0].seeds, seeds);

    // Shards written before runs recorded their place: key order.
    let old = dir.join("old");
    std::fs::create_dir_all(&old).unwrap();
    for f in &files {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        for run in v["runs"].as_array_mut().unwrap() {
            assert!(run.as_object_mut().unwrap().remove("point").is_some());
        }
        std::fs::write(old.join(f.file_name().unwrap()), v.to_string()).unwrap();
    }
    let merged_old = merge(&merge_args(
        files_with(&old, "json"),
        dir.join("merged-old"),
    ))
    .unwrap();
    assert_eq!(members(&merged_old), [40, 60, 80]);
}

#[test]
fn one_seed_says_n_1() {
    let _counting = counting();
    let dir = tmp("sweeps", "one-seed");
    let sweep = dir.join("one.toml");
    std::fs::write(&sweep, "[[points]]\nworkload = \"smoke\"\n").unwrap();
    let mut bad = args(dir.join("bad"), sweep.clone(), profile(&dir));
    bad.baseline_point = 1;
    let e = format!("{:#}", plan(&bad).unwrap_err());
    assert!(e.contains("--baseline-point 1"), "{e}");
    assert!(!dir.join("bad").exists(), "refused before running");
    let report = plan(&args(dir.join("out"), sweep, profile(&dir))).unwrap();
    let c = report.comparison.unwrap();
    let s = &c.rows[0].metrics["commit_p99_ms"];
    assert_eq!(s.ci95, None);
    assert_eq!(fmt_ci(s), "n=1");
    assert!(c.table().contains("n=1"));
}

fn canopy(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_canopy"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn slo_thresholds_pass_fail_and_reject_malformed_items() {
    let dir = tmp("sweeps", "slo");
    let prof = profile(&dir);
    let prof = prof.to_str().unwrap();
    let run = |out: &Path, slo: &str| {
        canopy(&[
            "plan",
            "--workload",
            "smoke",
            "--receivers",
            "3",
            "--joiners",
            "4",
            "--quiet",
            "--profile",
            prof,
            "--out",
            out.to_str().unwrap(),
            "--slo",
            slo,
        ])
    };
    // Generous: passes.
    let pass_dir = dir.join("pass");
    let o = run(
        &pass_dir,
        "commit_p99_ms=1e9,process_p99_ms=1e9,join_p50_ms=1e9,commit_bytes_p99=1e12",
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("PASS") && !stdout.contains("FAIL"),
        "{stdout}"
    );
    let r: Report =
        serde_json::from_str(&std::fs::read_to_string(&files_with(&pass_dir, "json")[0]).unwrap())
            .unwrap();
    assert_eq!(r.slo.len(), 4);
    assert!(r.slo.iter().all(|c| c.pass));

    // Tight: fails after writing the files, naming the breach.
    let fail_dir = dir.join("fail");
    let o = run(&fail_dir, "commit_p99_ms=1e9,commit_bytes_p99=1");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("SLO breach") && stderr.contains("commit_bytes_p99"),
        "{stderr}"
    );
    assert!(!stderr.contains("commit_p99_ms ="), "{stderr}");
    let json = files_with(&fail_dir, "json");
    assert_eq!(json.len(), 1);
    assert_eq!(files_with(&fail_dir, "html").len(), 1);
    let r: Report = serde_json::from_str(&std::fs::read_to_string(&json[0]).unwrap()).unwrap();
    let bytes = r.slo.iter().find(|c| c.name == "commit_bytes_p99").unwrap();
    assert!(!bytes.pass && bytes.value.unwrap() > 1.0);
    let html = std::fs::read_to_string(&files_with(&fail_dir, "html")[0]).unwrap();
    assert!(html.contains("id=\"slo\"") && html.contains("FAIL"));

    // The same flag on merge.
    let merged_dir = dir.join("merged");
    let o = canopy(&[
        "merge",
        json[0].to_str().unwrap(),
        "--out",
        merged_dir.to_str().unwrap(),
        "--slo",
        "commit_bytes_p99=1",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(files_with(&merged_dir, "json").len(), 1);
    let o = canopy(&[
        "merge",
        json[0].to_str().unwrap(),
        "--out",
        merged_dir.to_str().unwrap(),
        "--slo",
        "commit_bytes_p99=1e12",
    ]);
    assert!(o.status.success());

    // Malformed: rejected before any run, naming the flag and the item.
    for bad in ["commit_p99_ms=fast", "latency=3", "commit_p99_ms"] {
        let bad_dir = dir.join("bad");
        let o = run(&bad_dir, &format!("join_p50_ms=5,{bad}"));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success());
        assert!(
            stderr.contains("--slo") && stderr.contains(bad),
            "{bad}: {stderr}"
        );
        assert!(!bad_dir.exists() || files_with(&bad_dir, "json").is_empty());
    }
    assert!(parse_slos("--slo", "").is_err());
}

/// A suite axis: the same workload on suite 1, the NIST P-256 suite and the experimental
/// post-quantum X-Wing suite, as points of one sweep. Each run is on its suite (every
/// commit's seal-count check counted that suite's KEM), the comparison labels the points by
/// suite, and the bytes follow the KEM: a P-256 key and encapsulation are 65 bytes against
/// X25519's 32, X-Wing's 1,216 and 1,120, so every commit and Welcome grows in that order.
#[test]
fn sweep_over_suites_compares_post_quantum_with_suite_1() {
    let _counting = counting();
    let dir = tmp("sweeps", "suites");
    let sweep = dir.join("suites.toml");
    std::fs::write(
        &sweep,
        "name = \"suites\"\n[[points]]\nworkload = \"smoke\"\ndays = 1\n\
         [[points]]\nworkload = \"smoke\"\ndays = 1\nsuite = 2\n\
         [[points]]\nworkload = \"smoke\"\ndays = 1\nsuite = 77\n",
    )
    .unwrap();
    let report = plan(&args(dir.join("out"), sweep, profile(&dir))).unwrap();
    let c = report.comparison.as_ref().expect("a sweep compares");
    assert_eq!(c.rows.len(), 3);
    // Points are in the sweep file's order; the first is the baseline, the others are
    // labelled by how they differ from it.
    let seen: Vec<u16> = c.rows.iter().map(|r| row_suite(&r.key)).collect();
    assert_eq!(seen, [1, 2, 77]);
    let labels: Vec<&str> = c.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["baseline", "suite=2", "suite=77"]);
    let mut means = Vec::new();
    for suite in [1u16, 2, 77] {
        let runs: Vec<&Run> = report
            .runs
            .iter()
            .filter(|r| r.workload.suite == suite)
            .collect();
        assert_eq!(runs.len(), 1, "suite {suite}");
        let r = runs[0];
        assert!(r.totals.seal_checks > 0, "suite {suite}: no commit checked");
        assert_eq!(r.totals.seal_checks, r.totals.commits, "suite {suite}");
        let commit = hist_decode(&r.histograms["commit_bytes"]).unwrap().mean();
        let welcome = hist_decode(&r.histograms["welcome_with_tree_bytes"])
            .unwrap()
            .mean();
        means.push((commit, welcome));
    }
    assert!(
        means[0].0 < means[1].0 && means[1].0 < means[2].0,
        "{means:?}"
    );
    assert!(
        means[0].1 < means[1].1 && means[1].1 < means[2].1,
        "{means:?}"
    );
}

/// The `suite` of a comparison row's key (`name: {workload JSON}`); 1 when absent (the
/// default is not serialized).
fn row_suite(key: &str) -> u16 {
    let json = &key[key.find('{').unwrap()..];
    let w: serde_json::Value = serde_json::from_str(json).unwrap();
    w.get("suite").and_then(|s| s.as_u64()).unwrap_or(1) as u16
}
