//! The `canopy` command: conformance vectors today; comparisons, capacity planning and the
//! regression gate as they land (see README.md for what is finished).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use canopy_engine::conformance::{self, Tally};
use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "canopy",
    version,
    about = "High-throughput MLS (RFC 9420) engine and benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run conformance vector files (RFC 9420, RFC 9180 HPKE, Wycheproof) against the engine.
    ///
    /// Each PATH is a vector file, recognised by its upstream name or by its shape (a
    /// Wycheproof file by its `algorithm` and its groups' parameters alone), or a directory
    /// searched recursively for `.json` files. Prints one line per file (files and groups
    /// without a runner are listed as unrecognised, not run) and ends with
    /// `N passed, N failed, N skipped`; exits non-zero if anything failed.
    Vectors {
        /// Vector files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print every failure and skip reason, not only the first few per file.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Run Canopy and the peers (openmls, mls-rs) side by side on the same group state and
    /// print, per operation, each system's median, the ratio peer/Canopy, bytes on the wire,
    /// HPKE seals and Canopy's ratio to its crypto floor.
    Compare(canopy_bench::compare::CompareArgs),
    /// Performance-regression gate: exact primitive counts (and instruction counts where perf
    /// counters work) of fixed seeded scenarios against results/baseline/gate.json.
    Gate(canopy_bench::gate::GateArgs),
    /// Capacity planning: simulate a churn workload (default `enterprise-50k`, 30 days) with
    /// real commits, Welcomes and joins, print p50/p90/p99/max of times, sizes and seals,
    /// CPU-seconds and delivery-service bytes per day, and write
    /// `results/plan-<name>-<date>.json` and `.html`.
    Plan(canopy_bench::plan::PlanArgs),
    /// Merge `canopy plan --shard` outputs into one report (histograms added losslessly).
    Merge(canopy_bench::plan::MergeArgs),
    /// Measure this host's cost profile: per primitive the engine counts, its cost in ns per
    /// operation or byte (thread CPU time, median of repetitions), with the host's metadata.
    /// Pass the file to `canopy plan --profile` (also on another machine).
    Calibrate(canopy_bench::costs::CalibrateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // CANOPY_CRYPTO chooses the X25519 backend of every provider and the Ed25519 verifier of
    // the process: a value this host cannot run is reported here, once, before any work, not
    // as an error at the first provider or the first verification.
    let chosen = canopy_engine::crypto::X25519Backend::process_default()
        .map_err(|e| e.to_string())
        .and_then(|_| canopy_engine::crypto::backend::selected().map_err(|e| e.to_string()));
    if let Err(e) = chosen {
        eprintln!("canopy: {e}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Gate(args) => canopy_bench::gate::main(args),
        Command::Vectors { paths, verbose } => vectors(&paths, verbose),
        Command::Compare(args) => canopy_bench::compare::main(&args),
        Command::Plan(args) => canopy_bench::plan::plan(&args).map(slo_exit),
        Command::Merge(args) => canopy_bench::plan::merge(&args).map(slo_exit),
        Command::Calibrate(args) => {
            canopy_bench::costs::calibrate_main(&args).map(|_| ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("canopy: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Notes printed per file unless `--verbose`.
const NOTES_SHOWN: usize = 5;

fn vectors(paths: &[PathBuf], verbose: bool) -> Result<ExitCode> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            collect_json(p, &mut files).with_context(|| format!("reading {}", p.display()))?;
        } else if p.exists() {
            files.push((p.clone(), true));
        } else {
            bail!("{}: no such file or directory", p.display());
        }
    }
    let mut total = Tally::default();
    let mut unreadable = 0usize;
    let mut unrecognised_files = 0usize;
    for (file, named) in files {
        match conformance::run_file(&file) {
            Ok(report) => {
                let t = &report.tally;
                // Only a file with groups no runner is meant for gets the extra count, so the
                // line of every fully recognised file keeps its shape.
                let unrecognised = if t.unrecognised > 0 {
                    format!(", {} unrecognised", t.unrecognised)
                } else {
                    String::new()
                };
                println!(
                    "{}: {} [{}] {} passed, {} failed, {} skipped{unrecognised}, {} checks",
                    if t.failed == 0 { "ok  " } else { "FAIL" },
                    file.display(),
                    report.kind.file_stem(),
                    t.passed,
                    t.failed,
                    t.skipped,
                    t.checks
                );
                let suites = t.suite_line();
                if !suites.is_empty() {
                    println!("      {suites}");
                }
                let shown = if verbose { t.notes.len() } else { NOTES_SHOWN };
                for note in t.notes.iter().take(shown) {
                    println!("      {note}");
                }
                if t.notes.len() > shown {
                    println!("      … {} more (use --verbose)", t.notes.len() - shown);
                }
                total.absorb(report.tally);
            }
            // A file the user named explicitly must be understood; a file found while walking a
            // directory that Canopy does not recognise is listed (so gaps stay visible) but not
            // counted as a failure.
            Err(e) if named => {
                println!("FAIL: {e}");
                unreadable += 1;
            }
            Err(e) => {
                println!("----: {e}");
                unrecognised_files += 1;
            }
        }
    }
    if unrecognised_files > 0 || total.unrecognised > 0 {
        println!(
            "unrecognised (no runner, not run): {unrecognised_files} files, {} tests in \
             recognised files",
            total.unrecognised
        );
    }
    let failed = total.failed + unreadable;
    println!(
        "{} passed, {} failed, {} skipped",
        total.passed, failed, total.skipped
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every `.json` file below `dir`, sorted, marked as not explicitly named.
fn collect_json(dir: &Path, out: &mut Vec<(PathBuf, bool)>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            collect_json(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push((path, false));
        }
    }
    Ok(())
}

/// Failure when an SLO of the written report was breached (the files are written first).
fn slo_exit(report: canopy_bench::plan::Report) -> ExitCode {
    if canopy_bench::plan::slo_breached(&report) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
