//! `canopy plan` end to end on small workloads: the report agrees with the engine's own
//! counts, shards merge losslessly, traces replay, the HTML is self-contained.

mod common;
use common::{counting, plan_args, sim_options, tmp};

use std::path::PathBuf;

use canopy_bench::plan::html::run_hourly;
use canopy_bench::plan::report::{hist_decode, Report};
use canopy_bench::plan::sim::independent_counts;
use canopy_bench::plan::{merge, plan, simulate, MergeArgs, PlanArgs};
use canopy_engine::group::{CommitOptions, GroupConfig};
use canopy_engine::key_package::Clock;
use canopy_engine::tree::LeafIndex;
use canopy_workloads::churn::builtin;
use canopy_workloads::{generate, StateConfig, StateKind};

fn args(out: PathBuf) -> PlanArgs {
    plan_args(out)
}

/// The report's figures are the engine's: per-commit seals sum to the totals and the days,
/// every commit was checked (engine OpCounts = tree recomputation = X25519 counter, inside
/// the simulation), receivers agreed on every commit, membership adds up.
#[test]
fn smoke_run_matches_the_engine_counts() {
    let _counting = counting();
    let w = builtin("smoke").unwrap();
    let run = simulate(&w, None, &sim_options()).unwrap();
    let t = &run.totals;
    assert!(t.commits > 10, "{t:?}");
    assert!(t.update_commits > 0 && t.adds > 0 && t.removes > 0, "{t:?}");
    assert_eq!(t.seal_checks, t.commits);
    assert_eq!(run.commits.hpke_seals.len() as u64, t.commits);
    assert_eq!(run.commits.hpke_seals.iter().sum::<u64>(), t.hpke_seals);
    assert_eq!(
        run.days.iter().map(|d| d.hpke_seals).sum::<u64>(),
        t.hpke_seals
    );
    assert_eq!(run.days.iter().map(|d| d.commits).sum::<u64>(), t.commits);
    assert_eq!(t.members_end, t.members_start + t.adds - t.removes);
    assert_eq!(*run.commits.members.last().unwrap(), t.members_end);
    assert!(t.receiver_checks >= t.commits, "{t:?}");
    assert!(t.joins_sampled >= 1, "{t:?}");
    let seals = hist_decode(&run.histograms["hpke_seals_per_commit"]).unwrap();
    assert_eq!(seals.len(), t.commits);
    let create = hist_decode(&run.histograms["commit_create_ns"]).unwrap();
    assert_eq!(create.len(), t.commits);
    let join = hist_decode(&run.histograms["join_ns"]).unwrap();
    assert_eq!(join.len(), t.joins_sampled);
    // Reproducible: the same workload gives the same counts and bytes.
    let again = simulate(&w, None, &sim_options()).unwrap();
    assert_eq!(again.commits.hpke_seals, run.commits.hpke_seals);
    assert_eq!(again.commits.bytes, run.commits.bytes);
    assert_eq!(again.commits.blank_fraction, run.commits.blank_fraction);
}

/// The independent seal count agrees with the engine on trees with blanks and unmerged
/// leaves, and would catch an off-by-one (the engine's count is not an input).
#[test]
fn independent_counts_match_the_engine() {
    let _counting = counting();
    for kind in [
        StateKind::Populated,
        StateKind::Removes50,
        StateKind::Unmerged,
    ] {
        let cfg = StateConfig {
            now: 1_800_000_000,
            ..StateConfig::new(kind, 77, 3)
        };
        let state = generate(&cfg).unwrap();
        let config = GroupConfig {
            clock: Clock::Fixed(cfg.now),
            ..GroupConfig::default()
        };
        for leaf in state.members().step_by(9) {
            let mut g = state.member_group(leaf, config.clone()).unwrap();
            let out = g.commit(&CommitOptions::new().with_path()).unwrap();
            let (nodes, sizes) = independent_counts(g.tree(), leaf, &[]);
            assert_eq!(out.counts.path_nodes, nodes, "{kind:?} {leaf:?}");
            assert_eq!(
                out.counts.hpke_seals,
                sizes.iter().sum::<u64>(),
                "{kind:?} {leaf:?}"
            );
        }
    }
    // A new leaf is excluded from the resolutions.
    let cfg = StateConfig {
        now: 1_800_000_000,
        ..StateConfig::new(StateKind::Removes50, 40, 5)
    };
    let state = generate(&cfg).unwrap();
    let with_all = independent_counts(&state.tree, LeafIndex(0), &[]);
    let members: Vec<LeafIndex> = state.members().collect();
    let far = *members.last().unwrap();
    let without = independent_counts(&state.tree, LeafIndex(0), &[far]);
    assert_eq!(
        with_all.1.iter().sum::<u64>(),
        without.1.iter().sum::<u64>() + 1
    );
}

/// The HTML's hourly commit fan-out is the simulation's: in a run without joins (so without
/// Welcomes) and with self-committed updates (so without proposals) every fanned-out byte is a
/// commit's, and the hours add up to the days' `ds_fanout_bytes` exactly. With joins the
/// Welcomes come on top.
#[test]
fn hourly_commit_fan_out_adds_up_to_the_days() {
    let _counting = counting();
    let mut w = builtin("smoke").unwrap();
    w.joins_per_day = 0.0;
    w.waves.clear();
    let run = simulate(&w, None, &sim_options()).unwrap();
    assert_eq!(run.totals.adds, 0);
    assert!(run.totals.removes > 0 && run.totals.update_commits > 0);
    let hourly = run_hourly(&run);
    assert_eq!(hourly.commits.len(), 3 * 24);
    assert_eq!(
        hourly.commits.iter().sum::<f64>(),
        run.totals.commits as f64
    );
    let days: u64 = run.days.iter().map(|d| d.ds_fanout_bytes).sum();
    assert_eq!(hourly.commit_fanout_bytes.iter().sum::<f64>(), days as f64);

    let with_joins = simulate(&builtin("smoke").unwrap(), None, &sim_options()).unwrap();
    assert!(with_joins.totals.adds > 0);
    let hours: f64 = run_hourly(&with_joins).commit_fanout_bytes.iter().sum();
    let days: u64 = with_joins.days.iter().map(|d| d.ds_fanout_bytes).sum();
    assert!(hours < days as f64, "{hours} {days}");
}

/// Two shards of a two-seed sweep, merged, equal the unsharded run in every deterministic
/// figure, and the merged histograms are the exact sums of the shards'.
#[test]
fn shards_merge_losslessly() {
    let _counting = counting();
    let dir = tmp("plan", "shards");
    let mut a = args(dir.clone());
    a.repeats = Some(2);
    let whole = plan(&a).unwrap();
    let mut s0 = args(dir.clone());
    s0.shard = Some("0/2".into());
    let r0 = plan(&s0).unwrap();
    let mut s1 = args(dir.clone());
    s1.shard = Some("1/2".into());
    let r1 = plan(&s1).unwrap();
    assert_eq!(r0.runs.len(), 1);
    assert_eq!(r1.runs.len(), 1);
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("-shard-") && p.extension().unwrap() == "json")
        .collect();
    assert_eq!(files.len(), 2);
    let merged = merge(&MergeArgs {
        files,
        out: dir.clone(),
        name: Some("smoke-merged".into()),
        allow_mixed_hosts: false,
        csv: false,
        slo: None,
        baseline_point: 0,
    })
    .unwrap();
    assert_eq!(merged.kind, "merged");
    assert_eq!(merged.runs.len(), 2);
    assert_eq!(merged.points.len(), 1);
    for (m, w) in merged.runs.iter().zip(&whole.runs) {
        assert_eq!(m.workload, w.workload);
        assert_eq!(m.commits.hpke_seals, w.commits.hpke_seals);
        assert_eq!(m.commits.bytes, w.commits.bytes);
        assert_eq!(m.totals.hpke_seals, w.totals.hpke_seals);
    }
    let p = &merged.points[0];
    assert_eq!(
        p.totals.commits,
        r0.runs[0].totals.commits + r1.runs[0].totals.commits
    );
    // Per day, a point is the mean of its runs (seeds), never their sum: otherwise per-member
    // figures would grow with the number of seeds.
    let (d0, d1) = (&r0.runs[0].days, &r1.runs[0].days);
    assert_eq!(p.days.len(), d0.len().max(d1.len()));
    for (d, (a, b)) in p.days.iter().zip(d0.iter().zip(d1)) {
        let mean = |x: u64, y: u64| ((x + y) as f64 / 2.0).round() as u64;
        assert_eq!(d.commits, mean(a.commits, b.commits), "day {}", d.day);
        assert_eq!(d.members_end, mean(a.members_end, b.members_end));
        assert_eq!(
            d.ds_fanout_bytes,
            mean(a.ds_fanout_bytes, b.ds_fanout_bytes)
        );
        assert_eq!(d.hpke_seals, mean(a.hpke_seals, b.hpke_seals));
        let cpu = (a.member_cpu_s + b.member_cpu_s) / 2.0;
        assert!(
            (d.member_cpu_s - cpu).abs() <= 1e-9 * cpu.max(1.0),
            "day {}",
            d.day
        );
    }
    // The delivery service's figures of a point are means over its seeds too: the hourly
    // series hour by hour, the peak minute's and the storage's figures, each seed's peak
    // minute listed.
    let (a, b) = (&r0.runs[0].ds, &r1.runs[0].ds);
    let mean = |x: u64, y: u64| ((x + y) as f64 / 2.0).round() as u64;
    assert!(a.hours > 0 && a.hours == p.ds.hours);
    for (series, pa, pb) in [
        (
            &p.ds.hourly.egress_bytes,
            &a.hourly.egress_bytes,
            &b.hourly.egress_bytes,
        ),
        (
            &p.ds.hourly.ingress_bytes,
            &a.hourly.ingress_bytes,
            &b.hourly.ingress_bytes,
        ),
        (
            &p.ds.hourly.messages_out,
            &a.hourly.messages_out,
            &b.hourly.messages_out,
        ),
        (
            &p.ds.hourly.backlog_bytes,
            &a.hourly.backlog_bytes,
            &b.hourly.backlog_bytes,
        ),
    ] {
        assert_eq!(series.len() as u64, p.ds.hours);
        for (i, &v) in series.iter().enumerate() {
            assert_eq!(v, mean(pa[i], pb[i]), "hour {i}");
        }
    }
    assert_eq!(
        p.ds.peak_minute.minutes,
        [a.peak_minute.minutes[0], b.peak_minute.minutes[0]]
    );
    assert_eq!(
        p.ds.peak_minute.egress_bytes,
        mean(a.peak_minute.egress_bytes, b.peak_minute.egress_bytes)
    );
    assert_eq!(
        p.ds.storage.backlog_bytes_peak,
        mean(a.storage.backlog_bytes_peak, b.storage.backlog_bytes_peak)
    );
    assert_eq!(
        p.ds.storage.tree_bytes_end,
        mean(a.storage.tree_bytes_end, b.storage.tree_bytes_end)
    );
    for (d, (x, y)) in p.days.iter().zip(d0.iter().zip(d1)) {
        assert_eq!(
            d.ds_egress_bytes,
            mean(x.ds_egress_bytes, y.ds_egress_bytes)
        );
        assert_eq!(
            d.key_package_uploads,
            mean(x.key_package_uploads, y.key_package_uploads)
        );
    }
    // And the merged runs carry the unsharded runs' figures.
    for (m, w) in merged.runs.iter().zip(&whole.runs) {
        assert_eq!(m.ds.hourly, w.ds.hourly);
        assert_eq!(m.ds.peak_minute, w.ds.peak_minute);
        assert_eq!(m.ds.storage, w.ds.storage);
        assert_eq!(m.ds.app_message.wire_bytes, w.ds.app_message.wire_bytes);
    }
    // The per-device view too: each figure the mean of the shards' runs (not their sum),
    // the sampled receivers pooled, and the exact figures those of the unsharded run.
    let device = |r: &Report| r.runs[0].device.clone().unwrap();
    let (v0, v1) = (device(&r0), device(&r1));
    let pd = p.device.as_ref().unwrap();
    for (what, m, a, b) in [
        (
            "bytes_down",
            pd.per_day.bytes_down,
            v0.per_day.bytes_down,
            v1.per_day.bytes_down,
        ),
        (
            "wakeups",
            pd.per_day.wakeups,
            v0.per_day.wakeups,
            v1.per_day.wakeups,
        ),
        (
            "cpu_s",
            pd.per_day.cpu_s,
            v0.per_day.cpu_s,
            v1.per_day.cpu_s,
        ),
        ("state", pd.state.bytes, v0.state.bytes, v1.state.bytes),
        (
            "catch-up",
            pd.catch_up[0].mean.bytes,
            v0.catch_up[0].mean.bytes,
            v1.catch_up[0].mean.bytes,
        ),
    ] {
        assert!(a > 0.0 && b > 0.0, "{what}");
        let mean = (a + b) / 2.0;
        assert!((m - mean).abs() <= 1e-12 * mean, "{what}: {m} vs {mean}");
    }
    assert_eq!(pd.receivers.len(), v0.receivers.len() + v1.receivers.len());
    let wd = whole.points[0].device.as_ref().unwrap();
    assert_eq!(pd.per_day.bytes_down, wd.per_day.bytes_down);
    assert_eq!(pd.per_day.wakeups, wd.per_day.wakeups);
    assert_eq!(pd.state, wd.state);
    for (name, enc) in &p.histograms {
        let mut sum = hist_decode(&r0.runs[0].histograms[name]).unwrap();
        sum.add(hist_decode(&r1.runs[0].histograms[name]).unwrap())
            .unwrap();
        assert_eq!(hist_decode(enc).unwrap(), sum, "{name}");
    }
    // The merged file round-trips and is the schema version we write.
    let merged_file = |ext: &str| {
        let found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy().into_owned();
                n.starts_with("plan-smoke-merged-merged-") && n.ends_with(ext)
            })
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        found[0].clone()
    };
    let text = std::fs::read_to_string(merged_file(".json")).unwrap();
    // Exactly, floats included: `canopy merge` reads its inputs back the same way, so a lossy
    // float parser would change merged figures in the last bit.
    let back: Report = serde_json::from_str(&text).unwrap();
    assert!(back == merged, "the merged file does not read back exactly");
    assert_eq!(back.points[0].histograms, merged.points[0].histograms);
    assert_eq!(
        back.points[0].totals.hpke_seals,
        merged.points[0].totals.hpke_seals
    );
    assert_eq!(
        back.runs[1].commits.hpke_seals,
        merged.runs[1].commits.hpke_seals
    );
    let html = std::fs::read_to_string(merged_file(".html")).unwrap();
    // Self-contained: inline SVG, no scripts, nothing fetched.
    assert!(html.contains("<svg") && !html.contains("<script"));
    assert!(!html.contains("src=") && !html.contains("href="));
    // Overlapping shards are refused.
    assert!(canopy_bench::plan::report::merge(vec![r0.clone(), r0]).is_err());
}

/// A trace replays on the start state: its joins, leaves and updates become commits.
#[test]
fn trace_replays() {
    let _counting = counting();
    let dir = tmp("plan", "trace");
    let trace = dir.join("log.csv");
    std::fs::write(
        &trace,
        "time,operation,person,device\n\
         2026-03-02T09:00:00Z,join,alice,laptop\n\
         2026-03-02T09:00:00Z,join,alice,phone\n\
         2026-03-02T10:30:00Z,update,bob,laptop\n\
         2026-03-02T11:00:00Z,leave,carol,laptop\n\
         2026-03-03T12:00:00Z,leave,alice,phone\n",
    )
    .unwrap();
    let mut a = args(dir.clone());
    a.trace = Some(trace);
    let r = plan(&a).unwrap();
    let t = &r.runs[0].totals;
    assert_eq!(r.runs[0].trace.as_deref(), Some("log.csv"));
    assert_eq!(t.adds, 2);
    assert_eq!(t.removes, 2);
    assert_eq!(t.update_commits, 1);
    assert_eq!(r.runs[0].days.len(), 2);
}

/// The example manifests map the batch system's index variables onto every shard exactly
/// once, the merge steps read what the shards write, and the example sweep parses.
#[test]
fn deploy_examples_map_every_shard() {
    let _counting = counting();
    use canopy_bench::plan::{shard_jobs, sweep_jobs, Shard};
    use std::collections::HashMap;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let sweep = std::fs::read_to_string(root.join("deploy/sweep-example.toml")).unwrap();
    let jobs = sweep_jobs(&sweep, None, None).unwrap();
    assert_eq!(jobs.len(), 8);

    // Kubernetes: completions = CANOPY_SHARDS, index 0..completions.
    let k8s = std::fs::read_to_string(root.join("deploy/k8s/plan-sweep-job.yaml")).unwrap();
    assert!(k8s.contains("completionMode: Indexed") && k8s.contains("\"--shard\", \"env\""));
    let field = |text: &str, key: &str| -> u32 {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap();
        let v = line.split(':').nth(1).unwrap().split('#').next().unwrap();
        v.trim().trim_matches('"').parse().unwrap()
    };
    let completions = field(&k8s, "completions:");
    let after = k8s.split("name: CANOPY_SHARDS").nth(1).unwrap();
    let shards: u32 = after
        .lines()
        .find(|l| l.contains("value:"))
        .unwrap()
        .split(':')
        .nth(1)
        .unwrap()
        .trim()
        .trim_matches('"')
        .parse()
        .unwrap();
    assert_eq!(completions, shards);
    let mut covered = Vec::new();
    for i in 0..completions {
        let env: HashMap<&str, String> = [
            ("JOB_COMPLETION_INDEX", i.to_string()),
            ("CANOPY_SHARDS", shards.to_string()),
        ]
        .into();
        let s = Shard::from_env(|k| env.get(k).cloned()).unwrap();
        covered.extend(shard_jobs(jobs.clone(), Some(s)));
    }
    assert_eq!(covered.len(), jobs.len());

    // The shard files go to a ReadWriteMany claim that the merge Job mounts too, and the merge
    // Job reads the directory the shards write, with the file names the sweep's name gives.
    let pvc = std::fs::read_to_string(root.join("deploy/k8s/plan-results-pvc.yaml")).unwrap();
    assert!(pvc.contains("kind: PersistentVolumeClaim") && pvc.contains("ReadWriteMany"));
    let claim = pvc
        .lines()
        .find_map(|l| l.trim().strip_prefix("name: "))
        .unwrap()
        .trim();
    let merge_job = std::fs::read_to_string(root.join("deploy/k8s/plan-merge-job.yaml")).unwrap();
    for manifest in [&k8s, &merge_job] {
        assert!(
            manifest.contains(&format!("claimName: {claim} }}")),
            "{claim}"
        );
    }
    assert!(!merge_job.contains("completionMode"));
    let out = k8s.split("\"--out\", \"").nth(1).unwrap();
    let out = out.split('"').next().unwrap();
    let name = canopy_bench::plan::sweep_name(&sweep).unwrap().unwrap();
    let glob = format!("{out}/plan-{name}-*-shard-*-of-*.json --out {out}");
    assert!(
        merge_job.contains(&format!("canopy merge {glob}")),
        "{glob}"
    );

    // Slurm: --array=A-B gives ids A..=B, MIN = A, COUNT = B - A + 1.
    let sbatch = std::fs::read_to_string(root.join("deploy/slurm/plan-sweep.sbatch")).unwrap();
    assert!(sbatch.contains("--shard env"));
    let array = sbatch
        .lines()
        .find_map(|l| l.strip_prefix("#SBATCH --array="))
        .unwrap();
    let (a, b) = array.trim().split_once('-').unwrap();
    let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
    let mut indices = Vec::new();
    for id in a..=b {
        let env: HashMap<&str, String> = [
            ("SLURM_ARRAY_TASK_ID", id.to_string()),
            ("SLURM_ARRAY_TASK_MIN", a.to_string()),
            ("SLURM_ARRAY_TASK_COUNT", (b - a + 1).to_string()),
        ]
        .into();
        indices.push(Shard::from_env(|k| env.get(k).cloned()).unwrap().index);
    }
    assert_eq!(indices, (0..b - a + 1).collect::<Vec<_>>());
    // The merge job reads where the array writes by default: results/sweep/<array job id>.
    let merge = std::fs::read_to_string(root.join("deploy/slurm/plan-merge.sbatch")).unwrap();
    assert!(sbatch.contains("results/sweep/${SLURM_ARRAY_JOB_ID"));
    assert!(merge.contains("results/sweep/$1") && merge.contains("merge \"${shards[@]}\""));
}

/// The JSON's histograms decode in a standard HdrHistogram reader (Python's `hdrhistogram`
/// package), to the same count, percentiles and maximum as the plain percentiles next to
/// them. Requires `python3` with `hdrh` (`scripts/test` installs it); set
/// `CANOPY_SKIP_PYTHON_HDR=1` to skip explicitly where it cannot be installed.
#[test]
fn histograms_decode_in_python_hdrhistogram() {
    let _counting = counting();
    if std::env::var_os("CANOPY_SKIP_PYTHON_HDR").is_some() {
        eprintln!("SKIP: CANOPY_SKIP_PYTHON_HDR is set");
        return;
    }
    let dir = tmp("plan", "python-hdr");
    let report = plan(&args(dir)).unwrap();
    let p = &report.points[0];
    let input: String = p
        .histograms
        .iter()
        .map(|(name, enc)| format!("{name} {enc}\n"))
        .collect();
    let script = r#"
import sys
from hdrh.histogram import HdrHistogram
for line in sys.stdin:
    name, enc = line.split()
    h = HdrHistogram.decode(enc)
    print(name, h.get_total_count(), h.get_value_at_percentile(50.0),
          h.get_value_at_percentile(99.0), h.get_max_value())
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (set CANOPY_SKIP_PYTHON_HDR=1 to skip)");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python hdrhistogram failed (pip install hdrhistogram, or set CANOPY_SKIP_PYTHON_HDR=1): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut checked = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let want = &p.percentiles[f[0]];
        let got: Vec<u64> = f[1..].iter().map(|v| v.parse().unwrap()).collect();
        // Python rounds a percentile's rank to the nearest value (int(q * n + 0.5)), Rust up
        // (ceil(q * n)): compare the p99 at Python's rank, taken from the Rust histogram.
        let h = hist_decode(&p.histograms[f[0]]).unwrap();
        let n = h.len() as f64;
        let p99_python_rank = h.value_at_quantile((0.99 * n + 0.5).floor() / n);
        assert_eq!(
            got,
            [want.count, want.p50, p99_python_rank, want.max],
            "{}",
            f[0]
        );
        // Smoke has every kind of commit but external joins.
        assert!(
            want.count > 0 || f[0].ends_with(".external_join"),
            "{}",
            f[0]
        );
        checked += 1;
    }
    assert_eq!(checked, p.histograms.len());
    assert!(checked >= 5);
}

/// Result files are named after what ran (workload, overrides, seeds) and when, never
/// overwrite one another, and leave no partial file behind.
#[test]
fn result_files_have_unique_names() {
    let _counting = counting();
    let dir = tmp("plan", "names");
    let mut a = args(dir.clone());
    a.members = Some(40);
    a.seed = Some(9);
    plan(&a).unwrap();
    plan(&a).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 4, "{names:?}");
    for n in &names {
        assert!(n.starts_with("plan-smoke-members40-seed9-"), "{n}");
        assert!(n.ends_with(".json") || n.ends_with(".html"), "{n}");
        assert!(!n.contains(".partial"), "{n}");
    }
    let jsons: Vec<&String> = names.iter().filter(|n| n.ends_with(".json")).collect();
    assert_ne!(jsons[0], jsons[1]);
}

/// Commit times are broken down by commit kind (update, Adds, Removes, both): the kinds
/// partition the commits and the receivers' processing, and each kind is counted where the
/// run had it.
#[test]
fn commit_times_by_kind_partition_the_commits() {
    let _counting = counting();
    let dir = tmp("plan", "kinds");
    let report = plan(&args(dir)).unwrap();
    let run = &report.runs[0];
    let count = |name: &str| hist_decode(&run.histograms[name]).unwrap().len();
    for what in ["commit_create_ns", "commit_process_ns"] {
        let by_kind: u64 = canopy_bench::plan::sim::COMMIT_KINDS
            .iter()
            .map(|k| count(&format!("{what}.{k}")))
            .sum();
        assert_eq!(by_kind, count(what), "{what}");
    }
    assert_eq!(
        count("commit_create_ns.update"),
        run.totals.update_commits,
        "update commits"
    );
    assert!(count("commit_create_ns.add") + count("commit_create_ns.mixed") > 0);
    let p = &report.points[0];
    assert_eq!(
        p.percentiles["commit_create_ns.update"].count,
        run.totals.update_commits
    );
}
