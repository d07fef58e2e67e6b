//! `canopy gate`: the performance-regression gate (`scripts/perf-gate`).
//!
//! Three tiers, over fixed seeded scenarios ([`scenarios::SCENARIOS`], each a catalogue
//! measurement, [`crate::catalogue`]: the creator's commit and its processing on populated and
//! fresh states, join with the tree, build (bulk add), the creator's add one and remove one,
//! 1,000 members, suite 1):
//!
//! - **Exact (blocking).** Every engine primitive counted ([`canopy_engine::crypto::counters`]:
//!   X25519 DH and base multiplications, Ed25519 signs and verifies, bytes hashed, HKDF-Expand
//!   calls, AEAD bytes, HPKE seals and opens) plus the bytes of every message, compared with
//!   the committed baseline ([`baseline`]). Any increase fails; decreases are reported as
//!   improvements. Counts are exact, so there is no threshold.
//! - **Instructions (blocking where Valgrind is installed).** Instructions of each
//!   scenario's operation alone, single-threaded, after a warm-up run, counted by Callgrind
//!   with aws-lc's CPU dispatch pinned ([`valgrind`], the default `--counter valgrind`), so
//!   the count is the same on any machine, with or without hardware counters; or by `perf
//!   stat -e instructions:u` where the machine has a PMU (`--counter perf`, [`perf`]). The
//!   median of `--repeat` runs may exceed the baseline's by at most the scenario's
//!   `threshold_pct`. Where the counter is unavailable the gate says why and runs the exact
//!   tier alone.
//! - **Wall time (advisory).** `canopy gate wall`: criterion's saved baselines side by side
//!   ([`wall`]); never blocks.
//!
//! `canopy gate --update --reason "…"` rewrites the baseline; accepting a regression is a
//! commit of the rewritten baseline saying why.

pub mod baseline;
pub mod check;
pub mod perf;
pub mod scenarios;
pub mod valgrind;
pub mod wall;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use canopy_engine::batch::Executor;
use clap::{Args, Subcommand, ValueEnum};

use baseline::{
    valgrind_threshold_pct, Baseline, InstructionBaseline, ScenarioBaseline, ValgrindBaseline,
    DEFAULT_THRESHOLD_PCT,
};
use check::{check_exact, check_instructions, check_valgrind, Report, ValgrindKey};
use scenarios::{Prepared, Scenario, States, SCENARIOS};

/// Default location of the baseline, relative to the repository root.
pub const DEFAULT_BASELINE: &str = "results/baseline/gate.json";

/// Arguments of `canopy gate`.
#[derive(Debug, Args)]
pub struct GateArgs {
    #[command(subcommand)]
    command: Option<GateCommand>,
    /// Baseline file.
    #[arg(long, default_value = DEFAULT_BASELINE)]
    baseline: PathBuf,
    /// Rewrite the baseline with this run's figures (after printing the comparison).
    #[arg(long)]
    update: bool,
    /// Why the baseline is rewritten (stored in it; say it in the commit too).
    #[arg(long, default_value = "")]
    reason: String,
    /// Instruction tier: `auto` runs it where the counter works, `off` never, `require`
    /// fails if it does not.
    #[arg(long, value_enum, default_value = "auto")]
    instructions: InstructionMode,
    /// What counts instructions: Valgrind (any machine) or perf (hardware counters).
    #[arg(long, value_enum, default_value = "valgrind")]
    counter: Counter,
    /// Runs per scenario in the instruction tier (the median is compared). Default: 3 with
    /// perf; with Valgrind (repeatable to parts per million) 1, and 5 with `--update`, whose spread sets the
    /// thresholds.
    #[arg(long)]
    repeat: Option<usize>,
    /// Only these scenarios (comma-separated); default all.
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Also write the report as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Testing only: turn on the planted regression (extra hashing in every commit). Needs a
    /// build with the `planted-regression` feature.
    #[arg(long, hide = true, global = true)]
    plant_regression: bool,
}

/// When to run the instruction tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InstructionMode {
    /// Where the counter (`--counter`) works.
    Auto,
    /// Never.
    Off,
    /// Always; fail if the counter is unavailable.
    Require,
}

/// What counts the instruction tier's instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Counter {
    /// Callgrind, with aws-lc's CPU dispatch pinned: machine-independent, repeatable to a
    /// few parts per million.
    Valgrind,
    /// `perf stat -e instructions:u`: needs a hardware counter.
    Perf,
}

#[derive(Debug, Subcommand)]
enum GateCommand {
    /// List the scenarios.
    List,
    /// Run one scenario once and print its exact counts as JSON (used by the instruction
    /// tier under Callgrind with `--valgrind`, or under perf stat with the control FIFOs).
    Scenario {
        /// Scenario name.
        name: String,
        /// perf's control FIFO: enable the counter around the operation only.
        #[arg(long, requires = "perf_ack")]
        perf_ctl: Option<PathBuf>,
        /// perf's acknowledgement FIFO.
        #[arg(long, requires = "perf_ctl")]
        perf_ack: Option<PathBuf>,
        /// Run the batched crypto serially (the default under perf).
        #[arg(long)]
        serial: bool,
        /// Under Callgrind: warm up, then run the operation once inside
        /// `measured_operation` (the toggled function), serially; print the CPU view.
        #[arg(long, conflicts_with = "perf_ctl")]
        valgrind: bool,
    },
    /// Wall time (advisory): compare criterion's saved baselines.
    Wall {
        /// Criterion's output directory.
        #[arg(long, default_value = "target/criterion")]
        dir: PathBuf,
        /// Baseline name to compare from.
        #[arg(long, default_value = "base")]
        base: String,
        /// Baseline name to compare to.
        #[arg(long, default_value = "new")]
        new: String,
    },
}

/// Turn the planted regression on if asked (and compiled in).
pub fn plant_regression(on: bool) -> Result<()> {
    if !on {
        return Ok(());
    }
    #[cfg(feature = "planted-regression")]
    {
        canopy_engine::testing::set_planted_regression(true);
        Ok(())
    }
    #[cfg(not(feature = "planted-regression"))]
    bail!("--plant-regression needs a build with `--features planted-regression`")
}

/// The scenarios named (all if none).
pub fn select(names: &[String]) -> Result<Vec<Scenario>> {
    if names.is_empty() {
        return Ok(SCENARIOS.to_vec());
    }
    names.iter().map(|n| scenarios::find(n)).collect()
}

/// Run the exact tier over `scenarios` and compare with `baseline`: the counts by scenario
/// name, and the findings.
pub fn exact_tier(
    baseline: &Baseline,
    scenarios: &[Scenario],
    executor: Executor,
) -> Result<(Vec<(String, scenarios::Counts)>, Report)> {
    let counts: Vec<(String, scenarios::Counts)> = scenarios::run_exact(scenarios, executor)?
        .into_iter()
        .map(|(s, c)| (s.name.to_string(), c))
        .collect();
    let report = Report {
        findings: check_exact(baseline, &counts),
        notes: vec![catalogue_note(scenarios)],
    };
    Ok((counts, report))
}

/// The report's note saying which catalogue measurement each scenario is, one per line.
fn catalogue_note(scenarios: &[Scenario]) -> String {
    let mut note = "Scenarios (catalogue operations, docs/operations.md):".to_string();
    for s in scenarios {
        note.push_str(&format!("\n- {}: {}", s.name, s.measures.describe()));
    }
    note
}

/// `canopy gate …`.
pub fn main(args: GateArgs) -> Result<ExitCode> {
    plant_regression(args.plant_regression)?;
    match args.command {
        Some(GateCommand::List) => {
            for s in SCENARIOS {
                println!("{}\t{}", s.name, s.measures.describe());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(GateCommand::Scenario {
            name,
            perf_ctl,
            perf_ack,
            serial,
            valgrind,
        }) => run_scenario(&name, perf_ctl.zip(perf_ack), serial, valgrind),
        Some(GateCommand::Wall { dir, base, new }) => {
            let rows = wall::collect(&dir, &base, &new)?;
            print!("{}", wall::markdown(&rows, &base, &new));
            Ok(ExitCode::SUCCESS)
        }
        None => gate(&args),
    }
}

fn run_scenario(
    name: &str,
    perf: Option<(PathBuf, PathBuf)>,
    serial: bool,
    valgrind: bool,
) -> Result<ExitCode> {
    let scenario = scenarios::find(name)?;
    let executor = if serial || perf.is_some() || valgrind {
        Executor::Serial
    } else {
        Executor::default()
    };
    let mut states = States::new(executor);
    let prepared = Prepared::new(scenario, &mut states)?;
    if valgrind {
        // Warm-up, as under perf: one-time initialisation (aws-lc's CPU-capability setup
        // and RNG, lazily built tables, the allocator's pools) happens in an uncounted run,
        // which does not go through `measured_operation`. Then the counted run.
        let _ = canopy_engine::crypto::awslc::fill_random(&mut [0u8; 32]);
        prepared.exact_counts()?;
        prepared.run_measured()?;
        println!("{}{}", valgrind::CPU_VIEW_PREFIX, valgrind::cpu_view());
        return Ok(ExitCode::SUCCESS);
    }
    match perf {
        Some((ctl, ack)) => {
            // Warm-up: the RNG, the allocator's pools and every lazily initialised table are
            // set up by one uncounted run.
            let _ = canopy_engine::crypto::awslc::fill_random(&mut [0u8; 32]);
            prepared.exact_counts()?;
            let control = std::cell::RefCell::new(perf::Control::open(&ctl, &ack)?);
            prepared.run_with(&mut || control.borrow_mut().send("enable"), &mut || {
                control.borrow_mut().send("disable")
            })?;
        }
        None => {
            let counts = prepared.exact_counts()?;
            println!("{}", serde_json::to_string_pretty(&counts)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn gate(args: &GateArgs) -> Result<ExitCode> {
    let selected = select(&args.scenarios)?;
    let baseline = match Baseline::load(&args.baseline) {
        Ok(b) => b,
        Err(e) if args.update && !args.baseline.exists() => {
            eprintln!("{e:#}: starting a new baseline");
            Baseline::default()
        }
        Err(e) => return Err(e),
    };

    eprintln!("perf-gate: exact tier, {} scenarios…", selected.len());
    let (counts, mut report) = exact_tier(&baseline, &selected, Executor::default())?;

    // Instruction tier.
    let tier = instruction_tier(args, &baseline, &selected, &mut report)?;

    print!("{}", report.markdown());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
    }

    if args.update {
        let mut next = baseline.clone();
        next.reason = args.reason.clone();
        for (name, c) in counts {
            let old = next.scenarios.remove(&name);
            let runs = tier.runs.iter().find(|(n, _)| *n == name).map(|(_, r)| r);
            let mut instructions = old.as_ref().and_then(|o| o.instructions.clone());
            let mut valgrind = old.as_ref().and_then(|o| o.valgrind.clone());
            match (&tier.measured, runs) {
                (Some(Measured::Perf { host }), Some(runs)) => {
                    instructions = Some(InstructionBaseline {
                        median: check::median(runs).unwrap_or(0),
                        runs: runs.clone(),
                        threshold_pct: instructions
                            .as_ref()
                            .map_or(DEFAULT_THRESHOLD_PCT, |i| i.threshold_pct),
                        host: host.clone(),
                        profile: perf::profile().to_string(),
                    });
                }
                (Some(Measured::Valgrind { key, host }), Some(runs)) => {
                    // The threshold comes from this update's spread; with a single run
                    // there is none, so the previous threshold (or the floor) stays.
                    let spread = check::spread_pct(runs).unwrap_or(0.0);
                    let threshold_pct = if runs.len() >= 2 {
                        valgrind_threshold_pct(spread)
                    } else {
                        valgrind
                            .as_ref()
                            .map_or_else(|| valgrind_threshold_pct(0.0), |v| v.threshold_pct)
                    };
                    valgrind = Some(ValgrindBaseline {
                        median: check::median(runs).unwrap_or(0),
                        runs: runs.clone(),
                        spread_pct: spread,
                        threshold_pct,
                        method: key.method.clone(),
                        pin: key.pin.clone(),
                        cpu: key.cpu.clone(),
                        profile: key.profile.clone(),
                        host: host.clone(),
                    });
                }
                _ => {}
            }
            next.scenarios.insert(
                name,
                ScenarioBaseline {
                    counts: c,
                    instructions,
                    valgrind,
                },
            );
        }
        next.save(&args.baseline)?;
        eprintln!(
            "perf-gate: wrote {} — commit it with the reason for the change",
            args.baseline.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    Ok(if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// How the instruction tier measured this run, if it ran.
#[derive(Debug, Clone)]
enum Measured {
    /// `perf stat` on this CPU model.
    Perf { host: String },
    /// Callgrind, keyed as recorded.
    Valgrind { key: ValgrindKey, host: String },
}

/// The instruction tier's measurements: how, and the runs by scenario name.
#[derive(Debug, Default)]
struct TierRuns {
    measured: Option<Measured>,
    runs: Vec<(String, Vec<u64>)>,
}

/// Run the instruction tier with the chosen counter, adding its findings and a note saying
/// how it ran (or plainly that it did not, and why) to `report`.
fn instruction_tier(
    args: &GateArgs,
    baseline: &Baseline,
    selected: &[Scenario],
    report: &mut Report,
) -> Result<TierRuns> {
    if args.instructions == InstructionMode::Off {
        report
            .notes
            .push("Instruction tier: off (--instructions off).".into());
        return Ok(TierRuns::default());
    }
    let available = match args.counter {
        Counter::Valgrind => valgrind::probe().map(Some),
        Counter::Perf => perf::probe().map(|()| None),
    };
    let version = match available {
        Ok(v) => v,
        Err(why) => {
            if args.instructions == InstructionMode::Require {
                bail!("instruction tier required but unavailable: {why}");
            }
            report.notes.push(format!(
                "Instruction tier NOT RUN: {why}. Only the exact tier gated this run."
            ));
            return Ok(TierRuns::default());
        }
    };
    let exe = std::env::current_exe()?;
    let host = perf::host();
    let profile = perf::profile();
    match version {
        None => {
            let repeat = args.repeat.unwrap_or(3).max(1);
            let mut runs_by_name = Vec::new();
            for s in selected {
                eprintln!("perf-gate: instructions of {} ×{repeat}…", s.name);
                let runs = (0..repeat)
                    .map(|i| perf::measure(&exe, s.name, i, args.plant_regression))
                    .collect::<Result<Vec<u64>>>()?;
                let base = baseline
                    .scenarios
                    .get(s.name)
                    .and_then(|b| b.instructions.as_ref());
                report
                    .findings
                    .push(check_instructions(s.name, base, &runs, &host, profile));
                runs_by_name.push((s.name.to_string(), runs));
            }
            report.notes.push(format!(
                "Instruction tier: perf stat -e {} on {host:?}, {profile} build, median of \
                 {repeat} runs per scenario.",
                perf::EVENT,
            ));
            Ok(TierRuns {
                measured: Some(Measured::Perf { host }),
                runs: runs_by_name,
            })
        }
        Some(version) => {
            let repeat = args
                .repeat
                .unwrap_or(if args.update { 5 } else { 1 })
                .max(1);
            let started = std::time::Instant::now();
            eprintln!(
                "perf-gate: instructions under valgrind (callgrind), {} scenarios ×{repeat}…",
                selected.len()
            );
            let jobs: Vec<(Scenario, usize)> = selected
                .iter()
                .flat_map(|&s| (0..repeat).map(move |i| (s, i)))
                .collect();
            let results = run_parallel(&jobs, |&(s, i)| {
                valgrind::measure(&exe, s.name, i, args.plant_regression)
            });
            let mut cpu: Option<String> = None;
            let mut runs_by_name: Vec<(String, Vec<u64>)> = Vec::new();
            for ((s, _), r) in jobs.iter().zip(results) {
                let r = r?;
                match &cpu {
                    None => cpu = Some(r.cpu.clone()),
                    Some(c) if *c != r.cpu => {
                        bail!(
                            "runs under valgrind saw different CPUs: {c:?} and {:?}",
                            r.cpu
                        )
                    }
                    Some(_) => {}
                }
                match runs_by_name.iter_mut().find(|(n, _)| n == s.name) {
                    Some((_, v)) => v.push(r.instructions),
                    None => runs_by_name.push((s.name.to_string(), vec![r.instructions])),
                }
            }
            let key = ValgrindKey {
                method: valgrind::method(&version),
                pin: valgrind::PIN.to_string(),
                cpu: cpu.unwrap_or_default(),
                profile: profile.to_string(),
            };
            for (name, runs) in &runs_by_name {
                let base = baseline
                    .scenarios
                    .get(name)
                    .and_then(|b| b.valgrind.as_ref());
                report.findings.push(check_valgrind(name, base, runs, &key));
            }
            let skipped = report
                .findings
                .iter()
                .filter(|f| f.tier == check::Tier::Instructions)
                .filter(|f| f.verdict == check::Verdict::Skipped)
                .count();
            if skipped > 0 {
                report.notes.push(format!(
                    "Instruction tier did NOT gate {skipped} scenario(s): their Valgrind \
                     baseline was measured differently (see the rows); `--update` on this \
                     setup records comparable figures."
                ));
            }
            report.notes.push(format!(
                "Instruction tier: {} with {}, single thread, {profile} build, synthetic CPU \
                 {:?}; median of {repeat} run(s) per scenario; {:.0} s.",
                key.method,
                key.pin,
                key.cpu,
                started.elapsed().as_secs_f64()
            ));
            Ok(TierRuns {
                measured: Some(Measured::Valgrind { key, host }),
                runs: runs_by_name,
            })
        }
    }
}

/// `f` over `jobs` on as many threads as the machine has cores, results in job order. Each
/// job is a child process under Valgrind, which counts instructions, not time, so running
/// them side by side changes no count and divides the tier's wall time.
fn run_parallel<J: Sync, R: Send>(jobs: &[J], f: impl Fn(&J) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<R>>> =
        jobs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let r = f(job);
                *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every job ran")
        })
        .collect()
}
