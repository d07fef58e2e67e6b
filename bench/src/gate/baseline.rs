//! The committed baseline (`results/baseline/gate.json`) and its schema.
//!
//! ```json
//! {
//!   "schema": 1,
//!   "reason": "why this baseline was last written (the accepting commit says it too)",
//!   "scenarios": {
//!     "commit-populated-1000": {
//!       "counts": { "aead_bytes": 0, "commit_bytes": 1695, "ed25519_sign": 1, ... },
//!       "instructions": {
//!         "median": 123456789, "runs": [123456700, 123456789, 123456900],
//!         "threshold_pct": 1.0, "host": "CPU model name", "profile": "dev"
//!       },
//!       "valgrind": {
//!         "median": 123456789, "runs": [123456789, 123456789, 123456789, 123456789, 123456789],
//!         "spread_pct": 0.0, "threshold_pct": 0.1,
//!         "method": "valgrind-3.19.0 callgrind --toggle-collect=*measured_operation*",
//!         "pin": "OPENSSL_ia32cap=~0x…:~0x…",
//!         "cpu": "x86_64: sse4.2 aes pclmulqdq avx avx2 bmi2",
//!         "profile": "dev", "host": "CPU model name"
//!       }
//!     }
//!   }
//! }
//! ```
//!
//! - `counts`: exact per-run work of the scenario — every engine counter
//!   ([`canopy_engine::crypto::counters::Counts::fields`]) plus `commit_bytes`,
//!   `welcome_bytes` and `message_bytes` (their sum). Any increase fails the gate.
//! - `instructions`: user-space instructions of the scenario's operation (`perf stat -e
//!   instructions:u`, single thread), or absent where the baseline was written on a machine
//!   without hardware counters. Only compared on a host with the same `host` string (CPU
//!   model) and build `profile`, since instruction counts depend on the CPU's code paths
//!   (aws-lc picks ADX / SHA-NI code at run time). A run fails if its median exceeds
//!   `median * (1 + threshold_pct / 100)`.
//! - `valgrind`: instructions of the scenario's operation counted by Callgrind (see
//!   [`super::valgrind`]), the tier that runs on machines without hardware counters. Kept
//!   apart from `instructions` because the two counts differ (Valgrind counts guest
//!   instructions of a synthetic CPU with aws-lc's dispatch pinned; perf counts the real
//!   CPU's). Compared only when `method` (Valgrind version and tool), `pin` (the CPU-dispatch
//!   pin), `cpu` (the features the program sees under Valgrind) and `profile` all match;
//!   `host` is where it was measured, for the record only — under Valgrind with the pin the
//!   count does not depend on it. `spread_pct` is (max − min) / median of `runs`, and
//!   `threshold_pct` was set from it when the baseline was written:
//!   max([`MIN_VALGRIND_THRESHOLD_PCT`], [`SPREAD_FACTOR`] × spread).
//!
//! Both instruction entries are optional and independent; files without `valgrind` (older
//! baselines) still load.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::scenarios::Counts;

/// The version of the schema above.
pub const SCHEMA: u32 = 1;

/// Default instruction threshold of a new scenario, in percent.
pub const DEFAULT_THRESHOLD_PCT: f64 = 1.0;

/// Floor of a Valgrind instruction threshold, in percent. Counts under Valgrind repeat to
/// within a few parts per million (at most 0.0022% measured), so the spread alone would
/// allow a threshold of a few thousandths of a percent; the floor keeps
/// incidental changes (a few instructions from an unrelated code change, a different
/// compiler) from failing the gate, while anything that adds 0.1% of a scenario's work
/// fails it. The exact tier catches smaller changes in counted primitives.
pub const MIN_VALGRIND_THRESHOLD_PCT: f64 = 0.1;

/// A Valgrind threshold is at least this many times the measured run-to-run spread.
pub const SPREAD_FACTOR: f64 = 10.0;

/// The Valgrind threshold justified by a measured spread (both in percent).
pub fn valgrind_threshold_pct(spread_pct: f64) -> f64 {
    MIN_VALGRIND_THRESHOLD_PCT.max(SPREAD_FACTOR * spread_pct)
}

/// The whole baseline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Schema version ([`SCHEMA`]).
    pub schema: u32,
    /// Why the baseline was last written.
    #[serde(default)]
    pub reason: String,
    /// Per scenario, by name.
    pub scenarios: BTreeMap<String, ScenarioBaseline>,
}

/// One scenario's recorded figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioBaseline {
    /// Exact counts (see the module documentation).
    pub counts: Counts,
    /// Instruction counts, where they could be measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<InstructionBaseline>,
    /// Instruction counts under Valgrind, where it was available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valgrind: Option<ValgrindBaseline>,
}

/// A scenario's instruction count under Valgrind, and what it is keyed to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValgrindBaseline {
    /// Median over `runs`.
    pub median: u64,
    /// Every run.
    pub runs: Vec<u64>,
    /// (max − min) / median of `runs`, in percent.
    pub spread_pct: f64,
    /// Allowed increase of the median, in percent ([`valgrind_threshold_pct`] of the spread).
    pub threshold_pct: f64,
    /// Valgrind version, tool and toggle ([`super::valgrind::method`]).
    pub method: String,
    /// The CPU-dispatch pin ([`super::valgrind::PIN`]).
    pub pin: String,
    /// CPU features the program sees under Valgrind.
    pub cpu: String,
    /// Cargo profile of the measured binary.
    pub profile: String,
    /// CPU model of the machine it was measured on (informational, not compared).
    pub host: String,
}

/// A scenario's recorded instruction count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstructionBaseline {
    /// Median over `runs`.
    pub median: u64,
    /// Every run, for the spread.
    pub runs: Vec<u64>,
    /// Allowed increase of the median, in percent.
    pub threshold_pct: f64,
    /// CPU model the figures were measured on.
    pub host: String,
    /// Cargo profile of the measured binary.
    pub profile: String,
}

impl Default for Baseline {
    fn default() -> Self {
        Baseline {
            schema: SCHEMA,
            reason: String::new(),
            scenarios: BTreeMap::new(),
        }
    }
}

impl Baseline {
    /// Read a baseline file.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let b: Baseline = serde_json::from_str(&text)
            .with_context(|| format!("parsing baseline {}", path.display()))?;
        if b.schema != SCHEMA {
            bail!(
                "{}: baseline schema {} is not the supported {}",
                path.display(),
                b.schema,
                SCHEMA
            );
        }
        Ok(b)
    }

    /// Write the baseline (pretty JSON, keys sorted, trailing newline).
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self)? + "\n")
            .with_context(|| format!("writing {}", path.display()))
    }
}
