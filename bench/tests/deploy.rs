//! The cluster path end to end with the real `canopy` binary: a tiny sweep run as Kubernetes
//! shards and as Slurm shards (each from its scheduler's environment variables), merged, equals
//! the unsharded run in every exact figure; the Slurm scripts run from any directory; the
//! Kubernetes manifests' commands run and merge; the CSV files hold the JSON's series; the
//! container build names the binary and the Rust release the README names.
//!
//! Every run is a separate process, so the engine's process-wide counters need no lock here.
//! The scripts under test are bash scripts for Linux clusters, so the file is Unix-only.
#![cfg(unix)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use canopy_bench::plan::csv::{COMMIT_COLUMNS, DAY_COLUMNS, RUN_COLUMNS};
use canopy_bench::plan::report::{point_key, Report};
use serde_json::Value;

const CANOPY: &str = env!("CARGO_BIN_EXE_canopy");

/// Three points of the smoke workload, two seeds each: six jobs of a fraction of a second. The
/// last has an office week, application messages, kept KeyPackages and a short retention, so
/// that the delivery service's figures are compared too.
const SWEEP: &str = r#"
name = "tiny"
repeats = 2

[[points]]
workload = "smoke"
members = 30
days = 1

[[points]]
workload = "smoke"
members = 40
days = 1
committer = "admin"

[[points]]
workload = "smoke"
members = 24
days = 1
commit_policy = "every_change"
arrival_profile = "office"
app_messages_per_member_day = 200
key_packages_per_device = 2
ds_retention_days = 0.25
"#;

/// Jobs in [`SWEEP`].
const JOBS: usize = 6;

/// Few receivers and joiners keep each job short.
const SMALL: [&str; 5] = ["--quiet", "--receivers", "2", "--joiners", "2"];

/// Variables a scheduler or these scripts read: cleared from every child so that the test's
/// own environment (a CI job that is itself a Slurm task, say) cannot leak in.
const SCHEDULER_VARS: [&str; 12] = [
    "JOB_COMPLETION_INDEX",
    "CANOPY_SHARDS",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_JOB_ID",
    "SLURM_SUBMIT_DIR",
    "SLURM_CPUS_PER_TASK",
    "CANOPY_BIN",
    "CANOPY_SWEEP",
    "CANOPY_OUT",
    "CANOPY_CSV",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("canopy-deploy-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Run `program args` in `cwd` with `env` on top of a scheduler-free environment; panics with
/// its output unless it succeeds.
fn run(program: &str, args: &[&str], env: &[(&str, String)], cwd: &Path) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(cwd);
    for v in SCHEDULER_VARS {
        cmd.env_remove(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} with {env:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn canopy(args: &[&str], env: &[(&str, String)], cwd: &Path) -> Output {
    run(CANOPY, args, env, cwd)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The `.json` files in `dir` whose names start with `prefix` and contain `part`, sorted.
fn json_files(dir: &Path, prefix: &str, part: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with(prefix) && n.contains(part) && n.ends_with(".json")
        })
        .collect();
    found.sort();
    found
}

/// The single merged report in `dir`, named after the sweep.
fn merged_file(dir: &Path) -> PathBuf {
    let found = json_files(dir, "plan-tiny-merged-", "");
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A report without what depends on the clock or the machine: wall and CPU times and the
/// time histograms and percentiles (`*_ns*`), the file's date and kind, and which shard a run
/// came from. What remains (workloads, counts, bytes, seals, blank fractions, members, the
/// other histograms) is exact and must not depend on how the sweep was split.
fn exact_figures(report: &Value) -> Value {
    /// Drop what depends on the machine and the moment — times, measured and profile-priced
    /// CPU (each shard calibrates its own profile) — at every depth, keeping the counts.
    fn strip_times(v: &mut Value) {
        match v {
            Value::Object(o) => {
                o.retain(|k, _| {
                    !(matches!(k.as_str(), "generation_seconds" | "wall_seconds" | "cpu_s")
                        || k.ends_with("_cpu_s")
                        || k.contains("_ns"))
                });
                o.values_mut().for_each(strip_times);
            }
            Value::Array(a) => a.iter_mut().for_each(strip_times),
            _ => {}
        }
    }
    let mut v = report.clone();
    let o = v.as_object_mut().unwrap();
    o.retain(|k, _| k == "runs" || k == "points" || k == "name");
    for run in o["runs"].as_array_mut().unwrap() {
        let r = run.as_object_mut().unwrap();
        // The host, the profile and the load are the machine's, not the workload's.
        r.retain(|k, _| {
            matches!(
                k.as_str(),
                "workload"
                    | "trace"
                    | "sampling"
                    | "totals"
                    | "histograms"
                    | "days"
                    | "commits"
                    | "ds"
            )
        });
        strip_times(run);
    }
    for point in o["points"].as_array_mut().unwrap() {
        strip_times(point);
    }
    v
}

/// The JSON path of the first difference between `a` and `b`, with both values there.
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => first_difference(p, q, &format!("{at}.{k}")),
                (p, q) => Some(format!("{at}.{k}: {p:?} vs {q:?}")),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, &format!("{at}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{at}: {a} vs {b}")),
    }
}

/// `a` and `b` hold the same exact figures.
fn assert_same_figures(a: &Value, b: &Value, what: &str) {
    let (a, b) = (exact_figures(a), exact_figures(b));
    if let Some(d) = first_difference(&a, &b, "") {
        panic!("{what}: {d}");
    }
}

/// The sweep run in one process, with CSV files.
fn unsharded(dir: &Path, sweep: &Path) -> PathBuf {
    let out = dir.join("whole");
    let mut args = vec!["plan", "--sweep", s(sweep), "--out", s(&out), "--csv"];
    args.extend(SMALL);
    canopy(&args, &[], dir);
    let found = json_files(&out, "plan-tiny-", "");
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

/// Run shard `index` of the sweep from the scheduler's environment `env`.
fn shard_from_env(dir: &Path, sweep: &Path, out: &Path, env: &[(&str, String)]) {
    let mut args = vec![
        "plan",
        "--sweep",
        s(sweep),
        "--shard",
        "env",
        "--out",
        s(out),
    ];
    args.extend(SMALL);
    canopy(&args, env, dir);
}

/// `canopy merge` over the shard files in `out`, into `out`; returns the merged file and the
/// command's stderr.
fn merge_shards(dir: &Path, out: &Path) -> (PathBuf, String) {
    let shards = json_files(out, "plan-tiny-", "-shard-");
    let mut args = vec!["merge".to_string()];
    args.extend(shards.iter().map(|p| s(p).to_string()));
    args.extend(["--out".into(), s(out).into(), "--csv".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = canopy(&args, &[], dir);
    (
        merged_file(out),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The shard pairs `[i, n]` a report covers.
fn shards_of(report: &Value) -> Vec<[u64; 2]> {
    report["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| [p[0].as_u64().unwrap(), p[1].as_u64().unwrap()])
        .collect()
}

/// The shard/merge flow with each scheduler's own variables: Kubernetes Indexed Job
/// (`JOB_COMPLETION_INDEX`, `CANOPY_SHARDS`) and Slurm array (`SLURM_ARRAY_TASK_ID` from 1,
/// `SLURM_ARRAY_TASK_MIN`, `SLURM_ARRAY_TASK_COUNT`). Each merged file holds exactly the runs
/// of the unsharded run, with the same exact figures, and is named after the sweep.
#[test]
fn kubernetes_and_slurm_shards_merge_to_the_unsharded_run() {
    let dir = tmp("schedulers");
    let sweep = dir.join("tiny.toml");
    std::fs::write(&sweep, SWEEP).unwrap();
    let whole = read(&unsharded(&dir, &sweep));
    assert_eq!(whole["runs"].as_array().unwrap().len(), JOBS);
    assert_eq!(whole["name"], "tiny");
    // The delivery service's figures are there to compare: the office point's application
    // messages, backlog and KeyPackages.
    let office = whole["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"].as_str().unwrap().contains("office"))
        .unwrap();
    let sum = |v: &Value| -> u64 {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .sum()
    };
    assert!(sum(&office["ds"]["hourly"]["app_messages"]) > 0);
    assert!(sum(&office["ds"]["hourly"]["backlog_bytes"]) > 0);
    assert!(
        office["ds"]["storage"]["key_package_bytes_end"]
            .as_u64()
            .unwrap()
            > 0
    );

    // Kubernetes: four pods, indices 0..4.
    let k8s = dir.join("k8s");
    for i in 0..4 {
        let env = [
            ("JOB_COMPLETION_INDEX", i.to_string()),
            ("CANOPY_SHARDS", "4".to_string()),
        ];
        shard_from_env(&dir, &sweep, &k8s, &env);
    }
    // Slurm: --array=1-3, so ids 1, 2, 3 are shards 0, 1, 2 of 3.
    let slurm = dir.join("slurm");
    for id in 1..=3 {
        let env = [
            ("SLURM_ARRAY_TASK_ID", id.to_string()),
            ("SLURM_ARRAY_TASK_MIN", "1".to_string()),
            ("SLURM_ARRAY_TASK_COUNT", "3".to_string()),
        ];
        shard_from_env(&dir, &sweep, &slurm, &env);
    }

    for (out, n) in [(&k8s, 4u64), (&slurm, 3)] {
        // Each shard file holds its own shard's jobs (j % n == i) and says which shard it is.
        let shard_files = json_files(out, "plan-tiny-", "-shard-");
        assert_eq!(shard_files.len() as u64, n, "{shard_files:?}");
        for f in &shard_files {
            let r = read(f);
            let [[i, count]] = shards_of(&r)[..] else {
                panic!("{f:?}: {:?}", r["shards"])
            };
            assert_eq!(count, n);
            let want = (0..JOBS as u64).filter(|j| j % n == i).count();
            assert_eq!(r["runs"].as_array().unwrap().len(), want, "{f:?}");
            assert!(
                f.to_string_lossy()
                    .ends_with(&format!("-shard-{i}-of-{n}.json")),
                "{f:?}"
            );
        }
        let (merged_path, stderr) = merge_shards(&dir, out);
        assert!(!stderr.contains("missing"), "{stderr}");
        let merged = read(&merged_path);
        assert_eq!(merged["kind"], "merged");
        assert_eq!(
            shards_of(&merged),
            (0..n).map(|i| [i, n]).collect::<Vec<_>>()
        );
        assert_same_figures(&merged, &whole, &format!("{merged_path:?} vs unsharded"));
    }
}

/// `canopy merge` names its file after the sweep recorded in the shard files, not after the
/// first point's workload; `--name` still overrides it; an existing file is never replaced.
#[test]
fn merged_files_are_named_after_the_sweep() {
    let dir = tmp("names");
    let sweep = dir.join("capacity-what-if.toml");
    // A sweep without `name`: its file stem names it.
    std::fs::write(&sweep, SWEEP.replace("name = \"tiny\"\n", "")).unwrap();
    let out = dir.join("out");
    for i in 0..2 {
        let mut args = vec!["plan", "--sweep", s(&sweep), "--out", s(&out)];
        let shard = format!("{i}/2");
        args.extend(["--shard", &shard]);
        args.extend(SMALL);
        canopy(&args, &[], &dir);
    }
    let shards = json_files(&out, "plan-capacity-what-if-", "-shard-");
    assert_eq!(shards.len(), 2, "{shards:?}");
    let merge = |extra: &[&str]| {
        let mut args = vec!["merge", s(&shards[0]), s(&shards[1]), "--out", s(&out)];
        args.extend(extra);
        canopy(&args, &[], &dir);
    };
    merge(&[]);
    merge(&[]);
    let merged = json_files(&out, "plan-capacity-what-if-merged-", "");
    // Two merges (possibly in the same second) give two files.
    assert_eq!(merged.len(), 2, "{merged:?}");
    assert_eq!(read(&merged[0])["name"], "capacity-what-if");
    assert!(json_files(&out, "plan-smoke", "").is_empty());
    merge(&["--name", "q3-review"]);
    assert_eq!(json_files(&out, "plan-q3-review-merged-", "").len(), 1);
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".partial")), "{names:?}");

    // A sweep's `name` must be usable in a file name; the error names the file and the field.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, SWEEP.replace("\"tiny\"", "\"a/b\"")).unwrap();
    let o = Command::new(CANOPY)
        .args(["plan", "--sweep", s(&bad), "--out", s(&out), "--quiet"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.toml") && err.contains("`name`"), "{err}");
}

/// Parse one CSV line (RFC 4180: fields quoted when they hold a comma or a quote).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// `cell` is exactly the JSON number `want` (integers as integers, floats to the bit).
fn assert_same_number(cell: &str, want: &Value, what: &str) {
    if let Some(u) = want.as_u64() {
        assert_eq!(
            cell.parse::<u64>().ok(),
            Some(u),
            "{what}: {cell} vs {want}"
        );
    } else {
        let f = want.as_f64().unwrap_or_else(|| panic!("{what}: {want}"));
        let got: f64 = cell
            .parse()
            .unwrap_or_else(|e| panic!("{what}: {cell}: {e}"));
        assert_eq!(got.to_bits(), f.to_bits(), "{what}: {cell} vs {want}");
    }
}

/// The CSV files beside `json` hold every run's `commits` and `days` series, row for row and
/// value for value, and name each row's point, run, workload and seed.
fn check_csv(json: &Path) {
    let v = read(json);
    let report: Report = serde_json::from_value(v.clone()).unwrap();
    let stem = json.file_stem().unwrap().to_string_lossy().into_owned();
    let runs = v["runs"].as_array().unwrap();
    for (suffix, series, columns) in [
        ("commits", "commits", &COMMIT_COLUMNS[..]),
        ("days", "days", &DAY_COLUMNS[..]),
    ] {
        let path = json.with_file_name(format!("{stem}-{suffix}.csv"));
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let header = csv_fields(lines.next().unwrap());
        let want_header: Vec<&str> = RUN_COLUMNS.iter().chain(columns).copied().collect();
        assert_eq!(header, want_header, "{path:?}");
        // Every series of the JSON is a column (the days' histograms and per-role objects stay
        // in the JSON).
        let json_columns: BTreeSet<&str> = match series {
            "commits" => runs[0]["commits"].as_object().unwrap().keys(),
            _ => runs[0]["days"][0].as_object().unwrap().keys(),
        }
        .map(String::as_str)
        .filter(|k| !matches!(*k, "create_ns" | "process_ns" | "roles") || series == "commits")
        .collect();
        assert_eq!(json_columns, columns.iter().copied().collect(), "{path:?}");

        let rows: Vec<Vec<String>> = lines.map(csv_fields).collect();
        let mut at = 0;
        for (r, run) in runs.iter().enumerate() {
            let workload = &report.runs[r].workload;
            let point = report
                .points
                .iter()
                .position(|p| p.key == point_key(workload))
                .unwrap();
            let len = match series {
                "commits" => run["commits"]["time_s"].as_array().unwrap().len(),
                _ => run["days"].as_array().unwrap().len(),
            };
            assert!(len > 0, "run {r} has no {series}");
            for i in 0..len {
                let row = &rows[at];
                at += 1;
                assert_eq!(row.len(), header.len(), "{path:?} row {at}");
                let ids = [
                    point.to_string(),
                    r.to_string(),
                    workload.name.clone(),
                    workload.seed.to_string(),
                ];
                assert_eq!(row[..4], ids, "{path:?} row {at}");
                for (c, name) in columns.iter().enumerate() {
                    let want = match series {
                        "commits" => &run["commits"][name][i],
                        _ => &run["days"][i][name],
                    };
                    let what = format!("{path:?} row {at} {name}");
                    assert_same_number(&row[4 + c], want, &what);
                }
            }
        }
        assert_eq!(at, rows.len(), "{path:?}: rows beyond the JSON's series");
    }
}

/// `--csv` writes the per-commit and per-day series exactly as the JSON holds them, for a
/// sweep run (`canopy plan --csv`) and for a merge of its shards (`canopy merge --csv`).
#[test]
fn csv_rows_equal_the_json_series() {
    let dir = tmp("csv");
    let sweep = dir.join("tiny.toml");
    // A workload name with a comma checks the quoting.
    let workload = dir.join("smoke, small.toml");
    std::fs::write(
        &workload,
        toml::to_string(&canopy_workloads::churn::builtin("smoke").unwrap())
            .unwrap()
            .replace("name = \"smoke\"", "name = \"smoke, small\""),
    )
    .unwrap();
    std::fs::write(
        &sweep,
        SWEEP.replacen(
            "workload = \"smoke\"",
            "workload = \"smoke, small.toml\"",
            1,
        ),
    )
    .unwrap();
    let whole = unsharded(&dir, &sweep);
    check_csv(&whole);
    assert!(std::fs::read_to_string(&whole)
        .unwrap()
        .contains("smoke, small"));
    let out = dir.join("shards");
    for i in 0..2 {
        let shard = format!("{i}/2");
        let mut args = vec![
            "plan",
            "--sweep",
            s(&sweep),
            "--shard",
            &shard,
            "--out",
            s(&out),
        ];
        args.extend(SMALL);
        canopy(&args, &[], &dir);
    }
    // Without --csv, no CSV.
    assert!(std::fs::read_dir(&out).unwrap().all(|e| !e
        .unwrap()
        .path()
        .to_string_lossy()
        .ends_with(".csv")));
    let (merged, _) = merge_shards(&dir, &out);
    check_csv(&merged);
}

/// A directory of stand-ins for Slurm's commands: `srun` runs its command (as it does inside
/// an allocation), `sbatch` logs its arguments and prints a job id, and `canopy` is the binary
/// under test (for the scripts' "canopy on PATH" fallback).
fn fake_slurm(dir: &Path) -> String {
    let bin = dir.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = |name: &str, body: &str| {
        let p = bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        run("chmod", &["+x", s(&p)], &[], dir);
    };
    script("srun", "exec \"$@\"");
    let log = dir.join("sbatch.log");
    let count = dir.join("sbatch.count");
    script(
        "sbatch",
        &format!(
            "echo \"$*\" >> '{log}'\n\
             n=$(($(cat '{count}' 2>/dev/null || echo 100) + 1)); echo $n > '{count}'\n\
             echo \"$n;cluster\"",
            log = s(&log),
            count = s(&count)
        ),
    );
    std::os::unix::fs::symlink(CANOPY, bin.join("canopy")).unwrap();
    format!("{}:{}", s(&bin), std::env::var("PATH").unwrap_or_default())
}

/// `deploy/slurm/plan-sweep.sbatch` run as every task of its `#SBATCH --array` (SLURM_*
/// variables set, the binary from CANOPY_BIN, the sweep given relative to the submit
/// directory, the working directory elsewhere, the sampling flags passed through), then `plan-merge.sbatch` with the array's job
/// id (the binary from PATH): the shard files and the merged report land under the submit
/// directory, nothing in the working directory, and the merge equals the unsharded run.
#[test]
fn slurm_scripts_run_from_any_directory() {
    let dir = tmp("slurm-script");
    let submit = dir.join("submit");
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&submit).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(submit.join("tiny.toml"), SWEEP).unwrap();
    let path = fake_slurm(&dir);
    let slurm = root().join("deploy/slurm");
    let sweep_script = slurm.join("plan-sweep.sbatch");
    let text = std::fs::read_to_string(&sweep_script).unwrap();
    let array = text
        .lines()
        .find_map(|l| l.strip_prefix("#SBATCH --array="))
        .unwrap();
    let (a, b) = array.trim().split_once('-').unwrap();
    let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
    for id in a..=b {
        let env = [
            ("PATH", path.clone()),
            ("SLURM_SUBMIT_DIR", s(&submit).to_string()),
            ("SLURM_ARRAY_JOB_ID", "4242".to_string()),
            ("SLURM_ARRAY_TASK_ID", id.to_string()),
            ("SLURM_ARRAY_TASK_MIN", a.to_string()),
            ("SLURM_ARRAY_TASK_COUNT", (b - a + 1).to_string()),
            ("SLURM_CPUS_PER_TASK", "1".to_string()),
            ("CANOPY_BIN", CANOPY.to_string()),
            ("CANOPY_SWEEP", "tiny.toml".to_string()),
        ];
        let mut args = vec![s(&sweep_script)];
        args.extend(&SMALL[1..]);
        run("bash", &args, &env, &elsewhere);
    }
    let out = submit.join("results/sweep/4242");
    let n = u64::from(b - a + 1);
    assert_eq!(
        json_files(&out, "plan-tiny-", "-shard-").len() as u64,
        n,
        "one shard file per array task"
    );
    let env = [
        ("PATH", path.clone()),
        ("SLURM_SUBMIT_DIR", s(&submit).to_string()),
        ("CANOPY_CSV", "1".to_string()),
    ];
    run(
        "bash",
        &[s(&slurm.join("plan-merge.sbatch")), "4242"],
        &env,
        &elsewhere,
    );
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "the working directory stays untouched"
    );
    let merged_path = merged_file(&out);
    check_csv(&merged_path);
    let merged = read(&merged_path);
    assert_eq!(
        shards_of(&merged),
        (0..n).map(|i| [i, n]).collect::<Vec<_>>()
    );
    let whole = read(&unsharded(&dir, &submit.join("tiny.toml")));
    assert_same_figures(&merged, &whole, "Slurm scripts' merge vs unsharded");

    // Without an array job id or CANOPY_OUT the merge script refuses, and says why.
    let o = Command::new("bash")
        .arg(slurm.join("plan-merge.sbatch"))
        .env("PATH", &path)
        .env("SLURM_SUBMIT_DIR", &submit)
        .env_remove("CANOPY_OUT")
        .current_dir(&elsewhere)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("job id"));
}

/// `deploy/slurm/submit-sweep.sh` submits the array, then the merge with
/// `--dependency=afterok:<array job id>` and that id as the merge script's argument.
#[test]
fn slurm_submission_chains_the_merge_after_the_array() {
    let dir = tmp("slurm-submit");
    let path = fake_slurm(&dir);
    let script = root().join("deploy/slurm/submit-sweep.sh");
    let o = run(
        "bash",
        &[s(&script), "--array=0-3"],
        &[("PATH", path)],
        &dir,
    );
    let log = std::fs::read_to_string(dir.join("sbatch.log")).unwrap();
    let calls: Vec<&str> = log.lines().collect();
    assert_eq!(calls.len(), 2, "{log}");
    assert!(calls[0].starts_with("--parsable --array=0-3 "), "{log}");
    assert!(calls[0].ends_with("/plan-sweep.sbatch"), "{log}");
    // The fake sbatch hands out 101 to the array ("101;cluster", as --parsable prints on a
    // multi-cluster site) and 102 to the merge.
    assert!(
        calls[1].starts_with("--parsable --dependency=afterok:101 ")
            && calls[1].ends_with("/plan-merge.sbatch 101"),
        "{log}"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("merge job 102"));
}

/// The string items of a YAML flow sequence `[...]` that starts on the line beginning with
/// `key` (and may continue over several lines).
fn yaml_flow_list(text: &str, key: &str) -> Vec<String> {
    let start = text
        .lines()
        .position(|l| l.trim_start().starts_with(key))
        .unwrap_or_else(|| panic!("no {key}"));
    let mut list = String::new();
    for l in text.lines().skip(start) {
        list.push_str(l.split_once(key).map_or(l, |(_, rest)| rest));
        if l.contains(']') {
            break;
        }
    }
    serde_json::from_str(list.trim()).unwrap_or_else(|e| panic!("{key} {list}: {e}"))
}

/// The `mountPath` of the volume named `results` in a manifest.
fn results_mount(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.contains("name: results,") && l.contains("mountPath:"))
        .unwrap();
    let path = line.split("mountPath:").nth(1).unwrap();
    path.trim().trim_end_matches('}').trim().to_string()
}

/// The Kubernetes manifests' own commands, run with the binary: the Indexed Job's command for
/// every completion index (`JOB_COMPLETION_INDEX`, the manifest's `CANOPY_SHARDS`), with the
/// ConfigMap and the volume replaced by directories and the example sweep made tiny by flags,
/// then the merge Job's shell command over the same volume. The merge finds every shard
/// file and names the result after the example sweep.
#[test]
fn kubernetes_manifests_run_end_to_end() {
    let dir = tmp("k8s");
    let k8s = root().join("deploy/k8s");
    let job = std::fs::read_to_string(k8s.join("plan-sweep-job.yaml")).unwrap();
    let merge = std::fs::read_to_string(k8s.join("plan-merge-job.yaml")).unwrap();
    let mount = results_mount(&job);
    assert_eq!(results_mount(&merge), mount);
    let volume = dir.join("volume");
    std::fs::create_dir_all(&volume).unwrap();
    let on_volume = |arg: &str| arg.replace(&mount, s(&volume));

    let command = yaml_flow_list(&job, "command:");
    assert_eq!(command[0], "canopy");
    let sweep_at = command.iter().position(|a| a == "--sweep").unwrap() + 1;
    let sweep_file = Path::new(&command[sweep_at]).file_name().unwrap();
    let mut args: Vec<String> = command[1..].iter().map(|a| on_volume(a)).collect();
    args[sweep_at - 1] = s(&root().join("deploy").join(sweep_file)).to_string();
    // The example's 10,000-member points, cut to a few seconds in all.
    args.extend(
        [
            "--members",
            "30",
            "--days",
            "1",
            "--receivers",
            "1",
            "--joiners",
            "1",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let completions: u32 = job
        .lines()
        .find_map(|l| l.trim().strip_prefix("completions:"))
        .unwrap()
        .split('#')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let shards = job.split("name: CANOPY_SHARDS").nth(1).unwrap();
    let shards = shards
        .lines()
        .find_map(|l| l.split_once("value:"))
        .unwrap()
        .1;
    let shards = shards.trim().trim_matches('"').to_string();
    for i in 0..completions {
        let env = [
            ("JOB_COMPLETION_INDEX", i.to_string()),
            ("CANOPY_SHARDS", shards.clone()),
        ];
        canopy(&args, &env, &dir);
    }

    // The merge Job: `sh -c "<script>"`, with the image's `canopy` being the binary here.
    assert_eq!(yaml_flow_list(&merge, "command:"), ["/bin/sh", "-c"]);
    let script = merge
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("args:"))
        .nth(1)
        .unwrap()
        .trim()
        .strip_prefix("- ")
        .unwrap();
    let script = on_volume(script).replace("exec canopy ", &format!("exec '{CANOPY}' "));
    let o = run("sh", &["-c", &script], &[], &dir);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("missing"), "{stderr}");
    let out_dir = args[args.iter().position(|a| *a == "--out").unwrap() + 1];
    let merged = json_files(Path::new(out_dir), "plan-sweep-example-merged-", "");
    assert_eq!(merged.len(), 1, "{stderr}");
    let report = read(&merged[0]);
    let example = std::fs::read_to_string(root().join("deploy/sweep-example.toml")).unwrap();
    let jobs = canopy_bench::plan::sweep_jobs(&example, None, None).unwrap();
    assert_eq!(report["runs"].as_array().unwrap().len(), jobs.len());
    let n = u64::from(completions);
    assert_eq!(
        shards_of(&report),
        (0..n).map(|i| [i, n]).collect::<Vec<_>>()
    );
    check_csv(&merged[0]);
}

/// The Rust release in `ARG RUST_VERSION=` of the Containerfile.
fn containerfile_rust(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("ARG RUST_VERSION="))
        .unwrap()
        .trim()
        .to_string()
}

fn version(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse().unwrap()).collect()
}

/// Docker is not available where the tests run, so the image is not built here. The
/// Containerfile is checked instead: a Rust builder of the release the README names (and a
/// `rust-toolchain` file, if one appears), at least the workspace's `rust-version`, building
/// `canopy` with the lock file; a slim Debian runtime with that binary, a non-root user and
/// `canopy` as the entrypoint; a .dockerignore that keeps build output out but the sources in.
#[test]
fn container_build_names_the_binary_and_the_rust_release() {
    let root = root();
    let file = std::fs::read_to_string(root.join("deploy/Containerfile")).unwrap();
    let rust = containerfile_rust(&file);

    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let named = readme
        .split("Containerfile`")
        .nth(1)
        .and_then(|after| after.split("with Rust ").nth(1))
        .and_then(|v| v.split(|c: char| !c.is_ascii_digit() && c != '.').next())
        .map(|v| v.trim_end_matches('.').to_string())
        .expect("README.md names the Containerfile's Rust release");
    assert_eq!(rust, named, "README.md and deploy/Containerfile");
    for toolchain in ["rust-toolchain", "rust-toolchain.toml"] {
        if let Ok(t) = std::fs::read_to_string(root.join(toolchain)) {
            let channel = t
                .lines()
                .find_map(|l| l.trim().strip_prefix("channel"))
                .map_or(t.trim(), |v| v.trim_start_matches([' ', '=']).trim())
                .trim_matches('"');
            assert!(
                channel.starts_with(&rust),
                "{toolchain}: {channel} vs {rust}"
            );
        }
    }
    let cargo = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let msrv = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    assert!(
        version(&rust) >= version(msrv),
        "{rust} < rust-version {msrv}"
    );

    // Stages: `FROM … AS <name>`, in order.
    let stages: Vec<(&str, &str)> = file
        .lines()
        .filter_map(|l| l.strip_prefix("FROM "))
        .map(|l| {
            let (image, name) = l.split_once(" AS ").unwrap();
            (image.trim(), name.trim())
        })
        .collect();
    assert_eq!(stages.len(), 2, "{stages:?}");
    let (builder_image, builder) = stages[0];
    assert!(
        builder_image.contains("rust:${RUST_VERSION}"),
        "{builder_image}"
    );
    let (runtime_image, runtime) = stages[1];
    assert!(
        runtime_image.contains("debian:") && runtime_image.ends_with("-slim"),
        "{runtime_image}"
    );
    let section = |name: &str| {
        file.split(&format!(" AS {name}\n"))
            .nth(1)
            .unwrap()
            .split("\nFROM ")
            .next()
            .unwrap()
            .to_string()
    };
    let build = section(builder);
    assert!(
        build.contains("cargo build --release --locked -p canopy-bench --bin canopy"),
        "{build}"
    );
    assert!(build.contains("target/release/canopy"), "{build}");
    let run_stage = section(runtime);
    let copy = run_stage
        .lines()
        .find(|l| l.starts_with(&format!("COPY --from={builder} ")))
        .expect("the runtime copies from the builder");
    assert!(copy.ends_with("/canopy"), "{copy}");
    assert_eq!(
        run_stage.lines().filter(|l| l.starts_with("COPY")).count(),
        1,
        "the runtime holds the binary only"
    );
    let user = run_stage
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("USER");
    let uid = user.split(':').next().unwrap().trim();
    assert!(uid != "root" && uid != "0", "{user}");
    assert!(run_stage.contains("ENTRYPOINT [\"canopy\"]"), "{run_stage}");

    // .dockerignore: no build output or measurements in the context, but every workspace
    // member and the lock file.
    let ignore = std::fs::read_to_string(root.join(".dockerignore")).unwrap();
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for excluded in ["target/", "results/"] {
        assert!(patterns.contains(&excluded), "{excluded} {patterns:?}");
    }
    for needed in ["Cargo.toml", "Cargo.lock", "engine", "workloads", "bench"] {
        assert!(
            patterns
                .iter()
                .all(|p| p.trim_end_matches('/') != needed && *p != "*"),
            "{needed} is excluded: {patterns:?}"
        );
    }
}
