//! `canopy plan` and `canopy merge`: capacity planning over churn workloads.
//!
//! - [`sim`]: the simulation (real commits, Welcomes and joins; sampled receivers; checks).
//! - [`report`]: the versioned result file, lossless merging, the summary table.
//! - [`html`]: the offline HTML report with inline SVG plots.
//! - [`svg`]: the plots of the HTML report (axes, round ticks, legends, annotations).
//! - [`compare`]: the comparison of a sweep's points and the SLO thresholds (`--slo`).
//! - [`csv`]: the per-commit and per-day series as CSV files beside the JSON (`--csv`).
//! - [`ds`]: the delivery service's traffic per hour and per peak minute, commit bursts,
//!   storage, application and KeyPackage traffic.
//! - [`device`]: the per-device view (a typical online device's day, its state, joining and
//!   catch-up after k days offline).
//!
//! Sweeps: a sweep is a list of points (workloads with overrides) times `repeats` seeds; its
//! jobs are numbered point-major and shard `i/n` runs the jobs `j` with `j % n == i`.
//! `canopy merge` concatenates shard files and re-merges each point's runs (histograms added,
//! not averaged). See `docs/sweeps.md` for Kubernetes Indexed Jobs and Slurm job arrays.

pub mod compare;
pub mod csv;
pub mod device;
pub mod ds;
pub mod fleet;
pub mod html;
pub mod report;
pub mod sim;
pub mod svg;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, ensure, Context, Result};
use canopy_workloads::churn::{builtin, Workload, BUILTIN_NAMES, DAY};

use crate::costs::{calibrate, Calibration, CostProfile, LoadSource, ProfileUsed};

pub use report::Report;
pub use sim::{simulate, simulate_to_end, Mode, SimOptions, DEFAULT_REAL_COMMITS};

/// Sampled receivers by default: each processes every commit (~0.6-1 ms at 50,000 members),
/// so 8 of them cost about as much as creating the commit, and give every commit's
/// processing-time mean from 8 independent tree positions.
pub const DEFAULT_RECEIVERS: usize = 8;

/// Real joins by default: a join validates the whole tree (~1-2 s at 50,000 members), so 20
/// spread over the run keep joins under a tenth of the 10-minute budget.
pub const DEFAULT_JOINERS: usize = 20;

/// Arguments of `canopy plan`.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// Built-in workload name or config file (TOML, or JSON if it ends in .json).
    #[arg(long, default_value = "enterprise-50k")]
    pub workload: String,
    /// Replay a trace (CSV or JSON lines: time, operation, person, device) instead of the
    /// workload's generated stream; the workload still gives the start state and policies.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Members at the start (overrides the workload).
    #[arg(long)]
    pub members: Option<u32>,
    /// MLS cipher suite by code point (overrides the workload's `suite`): 1 to 7, or the
    /// experimental post-quantum suites 77 (0x004D, X-Wing), 65002 (0xFDEA, ML-KEM-768) and
    /// 65003 (0xFDEB, ML-KEM-1024).
    #[arg(long)]
    pub suite: Option<u16>,
    /// Simulated days (overrides the workload; for a trace, default its span).
    #[arg(long)]
    pub days: Option<f64>,
    /// Seed (overrides the workload).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output directory.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Sampled receivers processing every commit.
    #[arg(long, default_value_t = DEFAULT_RECEIVERS)]
    pub receivers: usize,
    /// Real joins (spread evenly over the run).
    #[arg(long, default_value_t = DEFAULT_JOINERS)]
    pub joiners: usize,
    /// A sweep file (TOML: optional `name`, `repeats`, `[[points]]` with `workload` and
    /// overrides).
    #[arg(long, conflicts_with = "fleet")]
    pub sweep: Option<PathBuf>,
    /// A fleet file (TOML: group sizes and counts, users, devices per user, a server, size
    /// limits): simulates representative group sizes and answers for the whole fleet (see
    /// docs/capacity-planning.md).
    #[arg(long, conflicts_with_all = ["trace", "members"])]
    pub fleet: Option<PathBuf>,
    /// Seeds per point (seed, seed+1, …); default 1, or n with `--shard i/n` and no sweep.
    #[arg(long)]
    pub repeats: Option<u32>,
    /// Run one shard of the sweep: `i/n` (0-based), or `env` to read the index from
    /// JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID (Slurm array),
    /// and the count from CANOPY_SHARDS or SLURM_ARRAY_TASK_COUNT.
    #[arg(long)]
    pub shard: Option<String>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Cost profile (written by `canopy calibrate`, on this host or another device) that
    /// prices the engine's exact counts; default: a quick calibration on this host at the
    /// start.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Where the load average is read (`/proc/loadavg`; tests plant a value).
    #[arg(skip)]
    pub load: LoadSource,
    /// Also write the per-commit and per-day series as CSV (`<result>-commits.csv`,
    /// `<result>-days.csv`).
    #[arg(long)]
    pub csv: bool,
    /// SLO thresholds checked on every point after the run, e.g.
    /// `commit_p99_ms=50,join_p50_ms=2000` (names in docs/capacity-planning.md); any breach
    /// exits non-zero after the result files are written.
    #[arg(long)]
    pub slo: Option<String>,
    /// The point (0-based, in the order of the report's `points`, which is the sweep file's)
    /// the comparison's deltas are relative to.
    #[arg(long, default_value_t = 0)]
    pub baseline_point: usize,
    /// Days offline the per-device view prices a catch-up for, e.g. `1,7,30` (each a whole
    /// number of days; those longer than the run are left out).
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_CATCH_UP_DAYS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub catch_up_days: Vec<u32>,
    /// Fast mode: real crypto for a sample of the commits (`--real-commits` of each kind,
    /// and every commit a sampled join joins from), simulated crypto with the same counts,
    /// bytes and tree for the others. Default: fast above 100,000 member-days (members ×
    /// days), full below.
    #[arg(long, conflicts_with = "full")]
    pub fast: bool,
    /// Full mode: every commit with real crypto, whatever the run's size.
    #[arg(long)]
    pub full: bool,
    /// In fast mode, commits of each kind made with real crypto, spread over the run.
    #[arg(long, default_value_t = DEFAULT_REAL_COMMITS)]
    pub real_commits: usize,
}

impl PlanArgs {
    /// The mode the flags ask for.
    pub fn mode(&self) -> Mode {
        match (self.fast, self.full) {
            (true, _) => Mode::Fast,
            (_, true) => Mode::Full,
            _ => Mode::Auto,
        }
    }
}

/// Catch-up windows by default: a day (a phone off overnight and through the next day) and a
/// week (a holiday); both fit the built-in workloads, the smoke workload's 3 days excepted.
pub const DEFAULT_CATCH_UP_DAYS: [u32; 2] = [1, 7];

/// Arguments of `canopy merge`.
#[derive(Debug, Clone, clap::Args)]
pub struct MergeArgs {
    /// Result files to merge (shard outputs).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output directory.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Name in the output file name (default: the sweep's name recorded in the inputs).
    #[arg(long)]
    pub name: Option<String>,
    /// Merge runs measured on different hosts (CPU model or core count): their latency
    /// histograms and measured CPU times are then not one machine's.
    #[arg(long)]
    pub allow_mixed_hosts: bool,
    /// Also write the per-commit and per-day series as CSV (`<result>-commits.csv`,
    /// `<result>-days.csv`).
    #[arg(long)]
    pub csv: bool,
    /// SLO thresholds checked on every point after the run, e.g.
    /// `commit_p99_ms=50,join_p50_ms=2000` (names in docs/capacity-planning.md); any breach
    /// exits non-zero after the result files are written.
    #[arg(long)]
    pub slo: Option<String>,
    /// The point (0-based, in the order of the report's `points`, which is the sweep file's)
    /// the comparison's deltas are relative to.
    #[arg(long, default_value_t = 0)]
    pub baseline_point: usize,
}

/// A shard: index `i` of `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Shard {
    /// Parse `i/n`, or `env` via [`Shard::from_env`] with `env`.
    pub fn parse(s: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard> {
        if s == "env" {
            return Shard::from_env(env);
        }
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| anyhow!("--shard {s:?}: expected i/n (e.g. 0/4) or env"))?;
        let index: u32 = i
            .trim()
            .parse()
            .with_context(|| format!("--shard index {i:?}"))?;
        let count: u32 = n
            .trim()
            .parse()
            .with_context(|| format!("--shard count {n:?}"))?;
        ensure!(count >= 1, "--shard: the shard count must be at least 1");
        ensure!(
            index < count,
            "--shard {index}/{count}: the index is 0-based, below the count"
        );
        Ok(Shard { index, count })
    }

    /// The shard from a batch system's environment (`env` looks a variable up):
    /// - Kubernetes Indexed Job: `JOB_COMPLETION_INDEX` (0-based), count from
    ///   `CANOPY_SHARDS` (set it to `.spec.completions` in the manifest);
    /// - Slurm job array: `SLURM_ARRAY_TASK_ID` minus `SLURM_ARRAY_TASK_MIN` (if set), count
    ///   from `CANOPY_SHARDS` or `SLURM_ARRAY_TASK_COUNT`.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Shard> {
        let num = |name: &str| -> Result<Option<u32>> {
            match env(name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .with_context(|| format!("{name}={v:?} is not a number")),
            }
        };
        let (index, count) = if let Some(i) = num("JOB_COMPLETION_INDEX")? {
            let n = num("CANOPY_SHARDS")?.ok_or_else(|| {
                anyhow!("JOB_COMPLETION_INDEX is set but CANOPY_SHARDS is not (set it to the Job's completions)")
            })?;
            (i, n)
        } else if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let n = match num("CANOPY_SHARDS")? {
                Some(n) => n,
                None => num("SLURM_ARRAY_TASK_COUNT")?
                    .ok_or_else(|| anyhow!("SLURM_ARRAY_TASK_COUNT and CANOPY_SHARDS are unset"))?,
            };
            ensure!(
                id >= min,
                "SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}"
            );
            (id - min, n)
        } else {
            bail!("--shard env: neither JOB_COMPLETION_INDEX nor SLURM_ARRAY_TASK_ID is set");
        };
        ensure!(
            count >= 1 && index < count,
            "shard {index} of {count} is out of range"
        );
        Ok(Shard { index, count })
    }
}

/// One job of a sweep: a resolved workload (seed included).
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The workload to simulate.
    pub workload: Workload,
    /// The position of the job's point in its sweep file or fleet (0-based); `None` for a
    /// single workload. Reports list their points in this order ([`report::Run::point`]).
    pub point: Option<u32>,
}

impl Job {
    /// `repeats` jobs of workload `w` at `point`, with seeds `w.seed`, `w.seed + 1`, ….
    fn repeated(w: &Workload, repeats: u32, point: Option<u32>) -> impl Iterator<Item = Job> + '_ {
        (0..repeats).map(move |r| {
            let mut workload = w.clone();
            workload.seed += u64::from(r);
            Job { workload, point }
        })
    }
}

/// A built-in name or a config file.
pub fn load_workload(spec: &str, base: Option<&Path>) -> Result<Workload> {
    if BUILTIN_NAMES.contains(&spec) {
        return builtin(spec);
    }
    let path = match base {
        Some(dir) if Path::new(spec).is_relative() => dir.join(spec),
        _ => PathBuf::from(spec),
    };
    if !path.exists() {
        bail!(
            "workload {spec:?} is neither a built-in ({}) nor a file",
            BUILTIN_NAMES.join(", ")
        );
    }
    Workload::from_file(&path)
}

/// The `name` of a sweep file, if it has one: it names the result files and is recorded in
/// them, so that `canopy merge` names the merged file after the sweep.
pub fn sweep_name(text: &str) -> Result<Option<String>> {
    let v: toml::Table = toml::from_str(text).context("sweep file (TOML)")?;
    let Some(name) = v.get("name") else {
        return Ok(None);
    };
    let name = name
        .as_str()
        .ok_or_else(|| anyhow!("sweep file: `name` must be a string"))?;
    ensure!(
        !name.is_empty() && name == file_name_part(name),
        "sweep file: `name` {name:?} must be non-empty and use only letters, digits, `.`, `_`, \
         `+` and `-` (it goes into file names)"
    );
    Ok(Some(name.to_string()))
}

/// `s` made safe inside a file name: anything but ASCII letters, digits, `.`, `_`, `+` and
/// `-` becomes `-` (names come from sweep files, workload files and result files).
fn file_name_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The jobs of a sweep file: every point, `repeats` seeds each, point-major.
pub fn sweep_jobs(text: &str, base: Option<&Path>, repeats_flag: Option<u32>) -> Result<Vec<Job>> {
    let v: toml::Table = toml::from_str(text).context("sweep file (TOML)")?;
    for k in v.keys() {
        ensure!(
            k == "name" || k == "repeats" || k == "points",
            "sweep file: unknown key {k:?} (expected name, repeats and [[points]])"
        );
    }
    let repeats = match (repeats_flag, v.get("repeats")) {
        (Some(r), _) => r,
        (None, Some(r)) => r
            .as_integer()
            .and_then(|r| u32::try_from(r).ok())
            .ok_or_else(|| anyhow!("sweep file: repeats must be a positive integer"))?,
        (None, None) => 1,
    };
    ensure!(repeats >= 1, "repeats must be at least 1");
    let points = v
        .get("points")
        .and_then(|p| p.as_array())
        .ok_or_else(|| anyhow!("sweep file: no [[points]]"))?;
    let mut jobs = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let t = p
            .as_table()
            .ok_or_else(|| anyhow!("sweep point {i} is not a table"))?;
        let spec = t
            .get("workload")
            .and_then(|w| w.as_str())
            .ok_or_else(|| anyhow!("sweep point {i}: `workload` (name or file) is required"))?;
        let w = load_workload(spec, base).with_context(|| format!("sweep point {i}"))?;
        let mut merged = toml::Table::try_from(&w)?;
        for (k, val) in t {
            if k != "workload" {
                merged.insert(k.clone(), val.clone());
            }
        }
        let w: Workload = merged
            .try_into()
            .with_context(|| format!("sweep point {i}: overrides"))?;
        w.validate().with_context(|| format!("sweep point {i}"))?;
        jobs.extend(Job::repeated(&w, repeats, Some(i as u32)));
    }
    Ok(jobs)
}

/// The jobs of shard `shard` (all if `None`).
pub fn shard_jobs(jobs: Vec<Job>, shard: Option<Shard>) -> Vec<Job> {
    match shard {
        None => jobs,
        Some(s) => jobs
            .into_iter()
            .enumerate()
            .filter(|(j, _)| *j as u32 % s.count == s.index)
            .map(|(_, job)| job)
            .collect(),
    }
}

/// Write `report` as `<out>/<stem>.json` and `.html`; returns the paths.
pub fn write_report(report: &Report, out: &Path, stem: &str) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    // Never overwrite an earlier result: two runs in the same second get `-2`, `-3`, ….
    let taken = |s: &str| {
        let json = out.join(format!("{s}.json"));
        let [commits, days] = csv::paths(&json);
        [json, out.join(format!("{s}.html")), commits, days]
            .iter()
            .any(|p| p.exists())
    };
    let mut unique = stem.to_string();
    let mut k = 1;
    while taken(&unique) {
        k += 1;
        unique = format!("{stem}-{k}");
    }
    let stem = unique;
    let json = out.join(format!("{stem}.json"));
    let html = out.join(format!("{stem}.html"));
    write_atomically(
        &json,
        (serde_json::to_string_pretty(report)? + "\n").as_bytes(),
    )?;
    write_atomically(&html, html::render(report)?.as_bytes())?;
    Ok((json, html))
}

/// Write `bytes` to a temporary name beside `path` and rename it into place, so that a failed
/// or interrupted run never leaves a half-written result under the real name.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

/// The name of a result file: what ran (workload or sweep), the command-line overrides, the
/// seeds, and the UTC time it was written, so that what-if runs on one day never collide.
fn result_stem(name: &str, args: &PlanArgs, seeds: &[u64]) -> String {
    let mut stem = format!("plan-{}", file_name_part(name));
    if let Some(m) = args.members {
        stem.push_str(&format!("-members{m}"));
    }
    if let Some(s) = args.suite {
        stem.push_str(&format!("-suite{s}"));
    }
    if let Some(d) = args.days {
        stem.push_str(&format!("-days{d}"));
    }
    match seeds {
        [] => {}
        [s] => stem.push_str(&format!("-seed{s}")),
        [first, .., last] => stem.push_str(&format!("-seeds{first}-{last}")),
    }
    stem.push('-');
    stem.push_str(&report::now_stamp());
    stem
}

/// `canopy plan`.
pub fn plan(args: &PlanArgs) -> Result<Report> {
    let slos = parse_slo_flag(args.slo.as_deref())?;
    let shard = args
        .shard
        .as_deref()
        .map(|s| Shard::parse(s, |k| std::env::var(k).ok()))
        .transpose()?;
    let apply = |mut w: Workload| -> Result<Workload> {
        if let Some(m) = args.members {
            w.members = m;
            w.admin = w.admin.min(m.saturating_sub(1));
        }
        if let Some(d) = args.days {
            w.days = d;
        }
        if let Some(s) = args.seed {
            w.seed = s;
        }
        if let Some(s) = args.suite {
            w.suite = s;
        }
        w.validate()?;
        Ok(w)
    };
    let fleet_spec = args
        .fleet
        .as_deref()
        .map(fleet::FleetSpec::load)
        .transpose()?;
    let (jobs, name) = match (&args.sweep, &fleet_spec) {
        (None, Some(spec)) => {
            let path = args.fleet.as_deref().expect("fleet_spec comes from it");
            let template = load_workload(&spec.workload, path.parent())
                .with_context(|| format!("fleet file {}: `workload`", path.display()))?;
            let repeats = args.repeats.unwrap_or(1);
            let mut jobs = Vec::new();
            for (i, m) in spec.representative_sizes().into_iter().enumerate() {
                let w = apply(spec.workload_for(&template, m)?)?;
                jobs.extend(Job::repeated(&w, repeats, Some(i as u32)));
            }
            let name = spec.name.clone().unwrap_or_else(|| {
                path.file_stem()
                    .map_or("fleet".into(), |s| s.to_string_lossy().into_owned())
            });
            (jobs, name)
        }
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let in_file = || format!("in {}", path.display());
            let jobs = sweep_jobs(&text, path.parent(), args.repeats)
                .with_context(in_file)?
                .into_iter()
                .map(|j| {
                    Ok(Job {
                        workload: apply(j.workload)?,
                        point: j.point,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let name = match sweep_name(&text).with_context(in_file)? {
                Some(name) => name,
                None => path
                    .file_stem()
                    .map_or("sweep".into(), |s| s.to_string_lossy().into_owned()),
            };
            (jobs, name)
        }
        (None, None) => {
            let mut w = apply(load_workload(&args.workload, None)?)?;
            let trace_ops = None::<()>;
            let _ = trace_ops;
            if let Some(t) = &args.trace {
                if args.days.is_none() {
                    let persons = w.members / w.devices_per_person;
                    let tr = canopy_workloads::trace::read(t, persons, w.devices_per_person)?;
                    w.days = (tr.span_seconds / DAY).floor() + 1.0;
                }
                w.name = format!(
                    "trace-{}",
                    t.file_stem()
                        .map_or("trace".into(), |s| s.to_string_lossy().into_owned())
                );
            }
            let repeats = args.repeats.unwrap_or(if args.trace.is_none() {
                shard.map_or(1, |s| s.count)
            } else {
                1
            });
            let jobs = Job::repeated(&w, repeats, None).collect();
            (jobs, w.name.clone())
        }
    };
    let mine = shard_jobs(jobs, shard);
    // Checked before any simulation: a bad baseline would otherwise fail after the runs.
    let points = mine
        .iter()
        .map(|j| report::point_key(&j.workload))
        .collect::<BTreeSet<_>>()
        .len();
    ensure!(
        args.baseline_point == 0 || args.baseline_point < points,
        "--baseline-point {}: this run has {points} points (0-based)",
        args.baseline_point
    );
    if !args.quiet {
        for k in &args.catch_up_days {
            if mine.iter().any(|j| f64::from(*k) > j.workload.days) {
                eprintln!("note: --catch-up-days {k}: left out of the runs shorter than {k} days");
            }
        }
    }
    let profile = profile_for(args)?;
    if !args.quiet {
        eprintln!(
            "cost profile: {} ({}, {} build)",
            profile.source,
            profile.profile.host.label(),
            profile.profile.host.build_profile
        );
    }
    let opts = SimOptions {
        mode: args.mode(),
        real_commits: args.real_commits,
        receivers: args.receivers,
        joiners: args.joiners,
        progress: !args.quiet,
        profile,
        load: args.load.clone(),
        catch_up_days: args.catch_up_days.clone(),
    };
    let mut runs = Vec::new();
    for (k, job) in mine.iter().enumerate() {
        let w = &job.workload;
        if !args.quiet {
            eprintln!(
                "[{}/{}] {}: {} members, {} days, seed {}",
                k + 1,
                mine.len(),
                w.name,
                w.members,
                w.days,
                w.seed
            );
        }
        let trace = match &args.trace {
            Some(t) => Some(canopy_workloads::trace::read(
                t,
                w.members / w.devices_per_person,
                w.devices_per_person,
            )?),
            None => None,
        };
        // Price the run's symmetric work with its suite's own hash and AEAD costs.
        let (suite_profile, warning) = opts.profile.profile.for_suite(w.suite);
        if let Some(warning) = warning {
            eprintln!("warning ({}, seed {}): {warning}", w.name, w.seed);
        }
        let run_opts = SimOptions {
            profile: ProfileUsed {
                source: opts.profile.source.clone(),
                profile: suite_profile,
            },
            ..opts.clone()
        };
        let mut run = simulate(w, trace.as_ref().map(|t| t.ops.as_slice()), &run_opts)
            .with_context(|| format!("simulating {} (seed {})", w.name, w.seed))?;
        run.trace = args.trace.as_ref().map(|t| {
            t.file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned())
        });
        run.shard = shard.map(|s| [s.index, s.count]);
        run.point = job.point;
        runs.push(run);
    }
    let shards = shard.map(|s| vec![[s.index, s.count]]).unwrap_or_default();
    let kind = if shard.is_some() { "shard" } else { "run" };
    let mut report = report::assemble(kind, shards, runs)?;
    report.name = Some(name.clone());
    let seeds: Vec<u64> = mine.iter().map(|j| j.workload.seed).collect();
    let base = result_stem(&name, args, if args.sweep.is_some() { &[] } else { &seeds });
    let stem = match shard {
        Some(s) => format!("{base}-shard-{}-of-{}", s.index, s.count),
        None => base,
    };
    for p in &report.points {
        println!("{}", report::summary_table(&report, p)?);
    }
    read_sweep(
        &mut report,
        &slos,
        args.baseline_point,
        args.sweep.is_some() || fleet_spec.is_some(),
    )?;
    if let Some(spec) = fleet_spec {
        report.fleet = Some(fleet_answers(&report, spec, shard.is_none())?);
    }
    let (json, html) = write_report(&report, &args.out, &stem)?;
    eprintln!("wrote {} and {}", json.display(), html.display());
    if args.csv {
        let [commits, days] = csv::write(&report, &json)?;
        eprintln!("wrote {} and {}", commits.display(), days.display());
    }
    Ok(report)
}

/// The profile `args` ask for: the file given with `--profile`, or a quick calibration on
/// this host now.
pub fn profile_for(args: &PlanArgs) -> Result<ProfileUsed> {
    Ok(match &args.profile {
        Some(path) => ProfileUsed {
            source: path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            ),
            profile: CostProfile::load(path)?,
        },
        None => {
            let provider = canopy_engine::crypto::Provider::new(
                canopy_engine::crypto::CipherSuite::Mls128X25519Aes128GcmSha256Ed25519,
            );
            ProfileUsed {
                source: crate::costs::CALIBRATED_AT_START.into(),
                profile: calibrate(&provider, &Calibration::QUICK, &args.load)
                    .context("calibrating the cost profile")?,
            }
        }
    })
}

/// Refuse to merge runs measured on different hosts (CPU model or logical cores) unless
/// `allow`: their latency histograms and measured CPU times would mix two machines. Returns
/// whether hosts are mixed.
fn check_hosts(files: &[PathBuf], reports: &[Report], allow: bool) -> Result<bool> {
    let mut first: Option<(&PathBuf, &crate::costs::HostInfo)> = None;
    let mut mixed = false;
    for (f, r) in files.iter().zip(reports) {
        if r.mixed_hosts {
            mixed = true;
        }
        for run in &r.runs {
            let Some((f0, h0)) = first else {
                first = Some((f, &run.host));
                continue;
            };
            if h0.same_machine(&run.host) {
                continue;
            }
            if !allow {
                bail!(
                    "{} was measured on {} and {} on {}: their latency histograms and \
                     measured CPU times are not comparable (pass --allow-mixed-hosts to merge \
                     them anyway)",
                    f0.display(),
                    h0.label(),
                    f.display(),
                    run.host.label()
                );
            }
            mixed = true;
        }
    }
    if mixed {
        eprintln!("warning: merging runs measured on different hosts (--allow-mixed-hosts)");
    }
    Ok(mixed)
}

fn parse_slo_flag(s: Option<&str>) -> Result<Vec<compare::Slo>> {
    s.map_or(Ok(Vec::new()), |s| compare::parse_slos("--slo", s))
}

/// Compare the points of `report` (recorded when `record`: sweeps and merges) and evaluate
/// `slos` on them; prints both tables.
fn read_sweep(
    report: &mut Report,
    slos: &[compare::Slo],
    baseline: usize,
    record: bool,
) -> Result<()> {
    if report.points.is_empty() {
        return Ok(());
    }
    let comparison = compare::compare(report, baseline)?;
    if record {
        println!("{}", comparison.table());
    }
    let labels: Vec<String> = comparison.rows.iter().map(|r| r.label.clone()).collect();
    report.slo = compare::evaluate(report, slos, &labels)?;
    if !report.slo.is_empty() {
        println!("{}", compare::slo_table(&report.slo));
    }
    report.comparison = record.then_some(comparison);
    Ok(())
}

/// Whether any SLO of `report` failed; names each breach on stderr (for CI logs).
pub fn slo_breached(report: &Report) -> bool {
    let mut breached = false;
    for c in report.slo.iter().filter(|c| !c.pass) {
        breached = true;
        eprintln!(
            "SLO breach: point {} ({}): {} = {} > {}",
            c.point,
            c.label,
            c.name,
            c.value.map_or("none".into(), compare::fmt_value),
            compare::fmt_value(c.max)
        );
    }
    breached
}

/// `canopy merge`.
pub fn merge(args: &MergeArgs) -> Result<Report> {
    let slos = parse_slo_flag(args.slo.as_deref())?;
    let mut reports = Vec::new();
    for f in &args.files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let header: report::Header =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", f.display()))?;
        ensure!(
            header.schema == report::SCHEMA && header.schema_version == report::SCHEMA_VERSION,
            "{}: schema {} v{}, expected {} v{} (reports of other versions price CPU \
             differently and cannot be merged)",
            f.display(),
            header.schema,
            header.schema_version,
            report::SCHEMA,
            report::SCHEMA_VERSION
        );
        let r: Report =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", f.display()))?;
        reports.push(r);
    }
    let mixed = check_hosts(&args.files, &reports, args.allow_mixed_hosts)?;
    let name = match &args.name {
        Some(n) => n.clone(),
        None => merged_name(&reports),
    };
    let fleets: Vec<&fleet::Fleet> = reports.iter().filter_map(|r| r.fleet.as_ref()).collect();
    let fleet_spec = match fleets.first() {
        None => None,
        Some(first) => {
            ensure!(
                fleets.len() == reports.len(),
                "some inputs ran a fleet file and some did not"
            );
            for f in &fleets[1..] {
                fleet::same(first, f)?;
            }
            Some(first.spec.clone())
        }
    };
    let mut merged = report::merge(reports)?;
    merged.mixed_hosts = mixed;
    merged.name = Some(name.clone());
    for p in &merged.points {
        println!("{}", report::summary_table(&merged, p)?);
    }
    read_sweep(&mut merged, &slos, args.baseline_point, true)?;
    if let Some(spec) = fleet_spec {
        merged.fleet = Some(fleet_answers(&merged, spec, true)?);
    }
    let stem = format!(
        "plan-{}-merged-{}",
        file_name_part(&name),
        report::now_stamp()
    );
    let (json, html) = write_report(&merged, &args.out, &stem)?;
    eprintln!("wrote {} and {}", json.display(), html.display());
    if args.csv {
        let [commits, days] = csv::write(&merged, &json)?;
        eprintln!("wrote {} and {}", commits.display(), days.display());
    }
    Ok(merged)
}

/// The fleet's record in `report`: its file, and its answers once every representative size
/// has run (`complete`: not a shard), which are printed.
fn fleet_answers(report: &Report, spec: fleet::FleetSpec, complete: bool) -> Result<fleet::Fleet> {
    let summary = if complete {
        let sizes: Vec<u32> = {
            let mut s: Vec<u32> = report.runs.iter().map(|r| r.workload.members).collect();
            s.sort_unstable();
            s.dedup();
            s
        };
        let summary = fleet::summarise(report, &spec, &sizes)?;
        println!("{}", fleet::table(&summary));
        Some(summary)
    } else {
        None
    };
    Ok(fleet::Fleet { spec, summary })
}

/// The name of a merge: the sweep name its inputs record (the shards of one sweep share it);
/// the names joined by `+` when they differ; `sweep` when no input records one (files
/// written before the name was recorded).
fn merged_name(reports: &[Report]) -> String {
    let names: BTreeSet<&str> = reports.iter().filter_map(|r| r.name.as_deref()).collect();
    if names.len() > 1 {
        eprintln!("warning: merging different sweeps {names:?}; --name names the result");
    }
    if names.is_empty() {
        "sweep".into()
    } else {
        names.into_iter().collect::<Vec<_>>().join("+")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn shard_flags_and_env_mapping() {
        assert_eq!(
            Shard::parse("2/5", env(&[])).unwrap(),
            Shard { index: 2, count: 5 }
        );
        assert!(Shard::parse("5/5", env(&[])).is_err());
        assert!(Shard::parse("1", env(&[])).is_err());
        assert!(Shard::parse("env", env(&[])).is_err());
        // Kubernetes Indexed Job.
        let k8s = env(&[("JOB_COMPLETION_INDEX", "3"), ("CANOPY_SHARDS", "4")]);
        assert_eq!(
            Shard::parse("env", k8s).unwrap(),
            Shard { index: 3, count: 4 }
        );
        assert!(Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "3")])).is_err());
        assert!(Shard::from_env(env(&[
            ("JOB_COMPLETION_INDEX", "4"),
            ("CANOPY_SHARDS", "4")
        ]))
        .is_err());
        // Slurm array --array=1-8: ids 1..=8, min 1, count 8.
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "8"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "8"),
        ]);
        assert_eq!(
            Shard::from_env(slurm).unwrap(),
            Shard { index: 7, count: 8 }
        );
        let slurm0 = env(&[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ]);
        assert_eq!(
            Shard::from_env(slurm0).unwrap(),
            Shard { index: 0, count: 2 }
        );
        assert!(Shard::from_env(env(&[("SLURM_ARRAY_TASK_ID", "x")])).is_err());
    }

    #[test]
    fn shards_partition_the_jobs() {
        let text = "repeats = 3\n[[points]]\nworkload = \"smoke\"\n[[points]]\nworkload = \
                    \"smoke\"\ncommitter = \"admin\"\nmembers = 40\n";
        let jobs = sweep_jobs(text, None, None).unwrap();
        assert_eq!(jobs.len(), 6);
        assert_eq!(jobs[4].workload.members, 40);
        assert_eq!(jobs[5].workload.seed, jobs[3].workload.seed + 2);
        let mut seen = Vec::new();
        for i in 0..4 {
            let s = Shard { index: i, count: 4 };
            seen.extend(shard_jobs(jobs.clone(), Some(s)));
        }
        assert_eq!(seen.len(), jobs.len());
        for j in &jobs {
            assert_eq!(seen.iter().filter(|x| *x == j).count(), 1);
        }
        assert!(sweep_jobs("[[points]]\nworkload = \"smoke\"\nbogus = 1\n", None, None).is_err());
        assert!(sweep_jobs("[[points]]\nworkload = \"nope\"\n", None, None).is_err());
    }

    #[test]
    fn sweep_names_are_file_name_safe() {
        let points = "[[points]]\nworkload = \"smoke\"\n";
        let named = format!("name = \"q3-what_if.2\"\n{points}");
        assert_eq!(sweep_name(&named).unwrap().as_deref(), Some("q3-what_if.2"));
        assert_eq!(sweep_jobs(&named, None, None).unwrap().len(), 1);
        assert_eq!(sweep_name(points).unwrap(), None);
        for bad in ["\"a/b\"", "\"\"", "\"x y\"", "3"] {
            let err = sweep_name(&format!("name = {bad}\n{points}")).unwrap_err();
            assert!(err.to_string().contains("`name`"), "{bad}: {err}");
        }
        assert_eq!(file_name_part("trace-log 1/2"), "trace-log-1-2");
    }
}
