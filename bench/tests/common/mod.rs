//! Fixtures shared by the planner's integration tests.
// Each test binary uses its own subset.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use canopy_bench::costs::{CostProfile, HostInfo, LoadSource, ProfileUsed};
use canopy_bench::plan::{Mode, PlanArgs, SimOptions, DEFAULT_CATCH_UP_DAYS, DEFAULT_REAL_COMMITS};

/// The engine's counters are process-wide and every plan run reads them: runs must not
/// overlap when the harness runs tests as threads of one process (`cargo test`; nextest uses
/// processes).
static COUNTING: Mutex<()> = Mutex::new(());

/// Hold while a test counts.
pub(crate) fn counting() -> MutexGuard<'static, ()> {
    COUNTING.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh, empty directory for one test: `<tmp>/canopy-<suite>-test-<pid>-<name>`.
pub(crate) fn tmp(suite: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("canopy-{suite}-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Simulation options with a fixed profile (for tests that check counts, not prices).
pub(crate) fn sim_options() -> SimOptions {
    SimOptions {
        mode: Mode::Full,
        real_commits: DEFAULT_REAL_COMMITS,
        receivers: 3,
        joiners: 4,
        progress: false,
        profile: ProfileUsed {
            source: "test".into(),
            profile: CostProfile::from_costs(HostInfo::default(), |_| 1.0),
        },
        load: LoadSource::Proc,
        catch_up_days: vec![1, 2],
    }
}

/// `canopy plan` arguments for the smoke workload, written to `out`, quiet, with the CLI's
/// defaults otherwise (mode chosen by the run's size, which is full for the smoke
/// workload). Tests change the fields they need with `PlanArgs { .., ..plan_args(out) }`,
/// so a new argument is added here alone.
pub(crate) fn plan_args(out: PathBuf) -> PlanArgs {
    PlanArgs {
        workload: "smoke".into(),
        trace: None,
        members: None,
        suite: None,
        days: None,
        seed: None,
        out,
        receivers: 3,
        joiners: 4,
        sweep: None,
        fleet: None,
        repeats: None,
        shard: None,
        quiet: true,
        profile: None,
        load: LoadSource::Proc,
        csv: false,
        slo: None,
        baseline_point: 0,
        catch_up_days: DEFAULT_CATCH_UP_DAYS.to_vec(),
        fast: false,
        full: false,
        real_commits: DEFAULT_REAL_COMMITS,
    }
}
