//! `canopy gate`: the performance-regression gate (`scripts/perf-gate`).
//!
//! Three tiers, over fixed seeded scenarios ([`scenarios::SCENARIOS`]: commit create and
//! process on populated and fresh states, join with the tree, bulk add, add one, remove one,
//! 1,000 members, suite 1):
//!
//! - **Exact (blocking).** Every engine primitive counted ([`canopy_engine::crypto::counters`]:
//!   X25519 DH and base multiplications, Ed25519 signs and verifies, bytes hashed, HKDF-Expand
//!   calls, AEAD bytes, HPKE seals and opens) plus the bytes of every message, compared with
//!   the committed baseline ([`baseline`]). Any increase fails; decreases are reported as
//!   improvements. Counts are exact, so there is no threshold.
//! - **Instructions (blocking where the machine has counters).** `perf stat -e
//!   instructions:u` of each scenario's operation, single-threaded, after a warm-up run
//!   ([`perf`]); the median of `--repeat` runs may exceed the baseline's by at most the
//!   scenario's `threshold_pct`. Where counters are unavailable the gate says why and runs the
//!   exact tier alone.
//! - **Wall time (advisory).** `canopy gate wall`: criterion's saved baselines side by side
//!   ([`wall`]); never blocks.
//!
//! `canopy gate --update --reason "…"` rewrites the baseline; accepting a regression is a
//! commit of the rewritten baseline saying why.

pub mod baseline;
pub mod check;
pub mod perf;
pub mod scenarios;
pub mod wall;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use canopy_engine::batch::Executor;
use clap::{Args, Subcommand, ValueEnum};

use baseline::{Baseline, InstructionBaseline, ScenarioBaseline, DEFAULT_THRESHOLD_PCT};
use check::{check_exact, check_instructions, Report};
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
    /// Instruction tier: `auto` runs it where perf counters work, `off` never, `require`
    /// fails if they do not.
    #[arg(long, value_enum, default_value = "auto")]
    instructions: InstructionMode,
    /// Runs per scenario in the instruction tier (the median is compared).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
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
    /// Where `perf stat -e instructions:u` works.
    Auto,
    /// Never.
    Off,
    /// Always; fail if counters are unavailable.
    Require,
}

#[derive(Debug, Subcommand)]
enum GateCommand {
    /// List the scenarios.
    List,
    /// Run one scenario once and print its exact counts as JSON (used under perf stat by
    /// the instruction tier, with the control FIFOs).
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
        notes: Vec::new(),
    };
    Ok((counts, report))
}

/// `canopy gate …`.
pub fn main(args: GateArgs) -> Result<ExitCode> {
    plant_regression(args.plant_regression)?;
    match args.command {
        Some(GateCommand::List) => {
            for s in SCENARIOS {
                println!("{}", s.name);
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(GateCommand::Scenario {
            name,
            perf_ctl,
            perf_ack,
            serial,
        }) => run_scenario(&name, perf_ctl.zip(perf_ack), serial),
        Some(GateCommand::Wall { dir, base, new }) => {
            let rows = wall::collect(&dir, &base, &new)?;
            print!("{}", wall::markdown(&rows, &base, &new));
            Ok(ExitCode::SUCCESS)
        }
        None => gate(&args),
    }
}

fn run_scenario(name: &str, perf: Option<(PathBuf, PathBuf)>, serial: bool) -> Result<ExitCode> {
    let scenario = scenarios::find(name)?;
    let executor = if serial || perf.is_some() {
        Executor::Serial
    } else {
        Executor::default()
    };
    let mut states = States::new(executor);
    let prepared = Prepared::new(scenario, &mut states)?;
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
    let mut instructions: Vec<(String, Vec<u64>)> = Vec::new();
    let host = perf::host();
    let profile = perf::profile();
    match args.instructions {
        InstructionMode::Off => report
            .notes
            .push("Instruction tier: off (--instructions off).".into()),
        mode => match perf::probe() {
            Err(why) => {
                if mode == InstructionMode::Require {
                    bail!("instruction tier required but unavailable: {why}");
                }
                report.notes.push(format!(
                    "Instruction tier NOT RUN: {why}. Only the exact tier gated this run."
                ));
            }
            Ok(()) => {
                let exe = std::env::current_exe()?;
                for s in &selected {
                    eprintln!("perf-gate: instructions of {} ×{}…", s.name, args.repeat);
                    let runs = (0..args.repeat.max(1))
                        .map(|i| perf::measure(&exe, s.name, i, args.plant_regression))
                        .collect::<Result<Vec<u64>>>()?;
                    let base = baseline
                        .scenarios
                        .get(s.name)
                        .and_then(|b| b.instructions.as_ref());
                    report
                        .findings
                        .push(check_instructions(s.name, base, &runs, &host, profile));
                    instructions.push((s.name.to_string(), runs));
                }
                report.notes.push(format!(
                    "Instruction tier: perf stat -e {} on {host:?}, {profile} build, median of \
                     {} runs per scenario.",
                    perf::EVENT,
                    args.repeat.max(1)
                ));
            }
        },
    }

    print!("{}", report.markdown());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
    }

    if args.update {
        let mut next = baseline.clone();
        next.reason = args.reason.clone();
        for (name, c) in counts {
            let old = next.scenarios.remove(&name);
            let measured = instructions
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, runs)| InstructionBaseline {
                    median: check::median(runs).unwrap_or(0),
                    runs: runs.clone(),
                    threshold_pct: old
                        .as_ref()
                        .and_then(|o| o.instructions.as_ref())
                        .map_or(DEFAULT_THRESHOLD_PCT, |i| i.threshold_pct),
                    host: host.clone(),
                    profile: profile.to_string(),
                });
            let instructions = measured.or_else(|| old.and_then(|o| o.instructions));
            next.scenarios.insert(
                name,
                ScenarioBaseline {
                    counts: c,
                    instructions,
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
