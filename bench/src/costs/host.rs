//! What a measurement ran on, and the clocks it is measured with.
//!
//! - [`thread_cpu_ns`] / [`process_cpu_ns`]: `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` (the
//!   calling thread) and `CLOCK_PROCESS_CPUTIME_ID` (every thread of the process: the rayon
//!   workers an operation fans out to included).
//! - [`HostInfo`]: CPU model, cores, rayon threads, build profile, version, git revision, OS
//!   and load average, recorded in cost profiles and plan reports.
//! - [`LoadSource`]: where the load average is read (`/proc/loadavg`, or a fixed value that
//!   tests plant).

use std::path::PathBuf;

use rustix::time::{clock_gettime, ClockId};
use serde::{Deserialize, Serialize};

fn clock_ns(clock: ClockId) -> u64 {
    let ts = clock_gettime(clock);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CPU time of the calling thread, in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    clock_ns(ClockId::ThreadCPUTime)
}

/// CPU time of the whole process (all threads), in nanoseconds.
pub fn process_cpu_ns() -> u64 {
    clock_ns(ClockId::ProcessCPUTime)
}

/// Where the load average comes from.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum LoadSource {
    /// `/proc/loadavg` (none where it does not exist).
    #[default]
    Proc,
    /// A file in `/proc/loadavg`'s format.
    File(PathBuf),
    /// A fixed 1-, 5- and 15-minute load average.
    Fixed([f64; 3]),
}

impl LoadSource {
    /// The 1-, 5- and 15-minute load averages, if known.
    pub fn read(&self) -> Option<[f64; 3]> {
        let text = match self {
            LoadSource::Fixed(v) => return Some(*v),
            LoadSource::Proc => std::fs::read_to_string("/proc/loadavg").ok()?,
            LoadSource::File(p) => std::fs::read_to_string(p).ok()?,
        };
        let mut it = text.split_whitespace().map(|v| v.parse::<f64>().ok());
        Some([it.next()??, it.next()??, it.next()??])
    }
}

/// The machine and build a measurement ran on.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HostInfo {
    /// `model name` of the first processor in `/proc/cpuinfo` ("unknown" elsewhere).
    pub cpu_model: String,
    /// Logical cores the process may use.
    pub logical_cores: u32,
    /// Threads of rayon's global pool (the engine's parallel work runs there).
    pub rayon_threads: u32,
    /// `debug` or `release` (whether debug assertions were compiled in).
    pub build_profile: String,
    /// `canopy` version.
    pub canopy_version: String,
    /// `git rev-parse --short HEAD` at build time, or "unknown".
    pub git_revision: String,
    /// Operating system and kernel release.
    pub os: String,
    /// 1-, 5- and 15-minute load average when the measurement started (absent if unknown).
    pub load_average_start: Option<[f64; 3]>,
    /// The same when it ended.
    pub load_average_end: Option<[f64; 3]>,
    /// Warnings about the measurement's conditions (a load average above the core count).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl HostInfo {
    /// This host now, with the load average from `load` as the start load.
    pub fn probe(load: &LoadSource) -> Self {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| format!(" {}", s.trim()))
            .unwrap_or_default();
        let mut host = HostInfo {
            cpu_model,
            logical_cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            rayon_threads: rayon::current_num_threads() as u32,
            build_profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .into(),
            canopy_version: env!("CARGO_PKG_VERSION").into(),
            git_revision: env!("CANOPY_GIT_REVISION").into(),
            os: format!("{}{kernel}", std::env::consts::OS),
            load_average_start: load.read(),
            load_average_end: None,
            warnings: Vec::new(),
        };
        host.check_load("start", host.load_average_start);
        host
    }

    /// Record the load average at the end (from `load`), warning if it is too high.
    pub fn finish(&mut self, load: &LoadSource) {
        self.load_average_end = load.read();
        self.check_load("end", self.load_average_end);
    }

    /// Warn (on stderr and in [`HostInfo::warnings`]) when the 1-minute load average
    /// exceeds the logical cores: other work then competes for them, measured times inflate
    /// and measured CPU time may too (caches, frequency).
    fn check_load(&mut self, when: &str, load: Option<[f64; 3]>) {
        let Some([one, _, _]) = load else { return };
        if one > f64::from(self.logical_cores) {
            let w = format!(
                "load average {one:.2} at the {when} exceeds the {} logical cores: measured \
                 times are inflated by other work (profile-based figures are exact counts \
                 times the profile's costs)",
                self.logical_cores
            );
            eprintln!("warning: {w}");
            self.warnings.push(w);
        }
    }

    /// The host in a few words: CPU model and cores (what decides whether two measurements
    /// are comparable).
    pub fn label(&self) -> String {
        format!("{}, {} logical cores", self.cpu_model, self.logical_cores)
    }

    /// Whether measurements from `self` and `other` are from the same kind of host (same CPU
    /// model and core count).
    pub fn same_machine(&self, other: &HostInfo) -> bool {
        self.cpu_model == other.cpu_model && self.logical_cores == other.logical_cores
    }
}
