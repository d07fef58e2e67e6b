//! The instruction tier: user-space instruction counts from `perf stat -e instructions:u`.
//!
//! Each scenario runs in its own process (`canopy gate scenario NAME`), single-threaded
//! (`RAYON_NUM_THREADS=1`, [`Executor::Serial`](canopy_engine::batch::Executor::Serial)),
//! under `perf stat -x, -e instructions:u --delay=-1 --control fifo:CTL,ACK`: perf starts
//! with the counter disabled, and the scenario process enables it right before the operation
//! and disables it right after, by writing `enable` / `disable` to the control FIFO and
//! waiting for perf's `ack` (perf ≥ 5.10). So state generation, the warm-up run (which also
//! warms aws-lc's RNG and the allocator) and process start-up are not counted.
//!
//! Where the counter does not work (`perf` missing, `perf_event_paranoid`, or a VM without a
//! PMU, where perf prints `<not supported>`), [`probe`] says why and the gate runs the exact
//! tier alone.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};

use super::valgrind::REFERENCE_X25519;

/// The event counted.
pub const EVENT: &str = "instructions:u";

/// What `perf stat -x,` reported for the instruction event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// Instructions counted (summed over PMUs on hybrid CPUs).
    Count(u64),
    /// perf printed `<not supported>` or `<not counted>`: no usable counter.
    Unsupported(String),
}

/// Parse the CSV output of `perf stat -x, -e instructions:u` (stderr, or the `-o` file).
///
/// Each counter line is `value,unit,event,run-time,percentage,metric,metric-unit`; `value` is
/// a number or `<not supported>` / `<not counted>`. Other lines (comments, `Events enabled`)
/// are ignored. Hybrid CPUs print one line per core type (`cpu_core/instructions/u`,
/// `cpu_atom/instructions/u`): counted values are summed.
pub fn parse_stat(output: &str) -> Result<Reading> {
    let mut total: Option<u64> = None;
    let mut unsupported = None;
    for line in output.lines() {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() < 3 || !fields[2].contains("instructions") {
            continue;
        }
        let value = fields[0].trim();
        if value.starts_with('<') {
            unsupported.get_or_insert_with(|| value.to_string());
            continue;
        }
        let n: u64 = value
            .parse()
            .with_context(|| format!("perf stat: unreadable count {value:?} in {line:?}"))?;
        total = Some(total.unwrap_or(0) + n);
    }
    match (total, unsupported) {
        (Some(n), _) => Ok(Reading::Count(n)),
        (None, Some(u)) => Ok(Reading::Unsupported(u)),
        (None, None) => bail!("perf stat printed no {EVENT} line:\n{output}"),
    }
}

/// Whether `perf stat -e instructions:u` counts on this machine: `Ok(())`, or why not.
pub fn probe() -> Result<(), String> {
    let out = Command::new("perf")
        .args(["stat", "-x,", "-e", EVENT, "--", "true"])
        .output()
        .map_err(|e| format!("`perf` could not be run ({e}); install linux-perf"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let first = stderr.lines().next().unwrap_or("").trim();
        return Err(format!(
            "`perf stat -e {EVENT} true` failed ({}): {first} (check \
             /proc/sys/kernel/perf_event_paranoid)",
            out.status
        ));
    }
    match parse_stat(&stderr) {
        Ok(Reading::Count(_)) => Ok(()),
        Ok(Reading::Unsupported(v)) => Err(format!(
            "`perf stat -e {EVENT} true` prints {v}: this machine (likely a VM without a \
             virtual PMU) has no usable instruction counter"
        )),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// The CPU model (`model name` in /proc/cpuinfo), which instruction counts depend on.
pub fn host() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The build profile of this binary (instruction counts depend on it).
pub fn profile() -> &'static str {
    if cfg!(debug_assertions) {
        "dev"
    } else {
        "release"
    }
}

/// Run scenario `name` once under perf stat, as a child `exe gate scenario NAME` (with the
/// planted regression if `planted`), and return its instruction count.
pub fn measure(exe: &Path, name: &str, run: usize, planted: bool) -> Result<u64> {
    let dir =
        std::env::temp_dir().join(format!("canopy-gate-{}-{}-{run}", std::process::id(), name));
    std::fs::create_dir_all(&dir)?;
    let result = measure_in(&dir, exe, name, planted);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure_in(dir: &Path, exe: &Path, name: &str, planted: bool) -> Result<u64> {
    let ctl = dir.join("ctl");
    let ack = dir.join("ack");
    let stat = dir.join("stat.csv");
    for fifo in [&ctl, &ack] {
        let st = Command::new("mkfifo")
            .arg(fifo)
            .status()
            .context("running mkfifo")?;
        if !st.success() {
            bail!("mkfifo {} failed", fifo.display());
        }
    }
    let out = Command::new("perf")
        .args(["stat", "-x,", "-e", EVENT, "--delay=-1", "--control"])
        .arg(format!("fifo:{},{}", ctl.display(), ack.display()))
        .arg("-o")
        .arg(&stat)
        .arg("--")
        .arg(exe)
        .args(["gate", "scenario", name, "--perf-ctl"])
        .arg(&ctl)
        .arg("--perf-ack")
        .arg(&ack)
        .args(planted.then_some("--plant-regression"))
        .env("RAYON_NUM_THREADS", "1")
        .env(REFERENCE_X25519.0, REFERENCE_X25519.1)
        .output()
        .context("running perf stat")?;
    if !out.status.success() {
        bail!(
            "perf stat of scenario {name} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = std::fs::read_to_string(&stat).context("reading perf stat output")?;
    match parse_stat(&text)? {
        Reading::Count(n) => Ok(n),
        Reading::Unsupported(v) => Err(anyhow!("perf stat reported {v} for scenario {name}")),
    }
}

/// The scenario side of perf's control FIFOs: enable / disable the counter and wait for
/// perf's acknowledgement each time.
#[derive(Debug)]
pub struct Control {
    ctl: File,
    ack: File,
}

impl Control {
    /// Open the control FIFO (for writing) and the acknowledgement FIFO (for reading).
    pub fn open(ctl: &PathBuf, ack: &PathBuf) -> Result<Self> {
        let ctl = OpenOptions::new()
            .write(true)
            .open(ctl)
            .with_context(|| format!("opening {}", ctl.display()))?;
        let ack = File::open(ack).with_context(|| format!("opening {}", ack.display()))?;
        Ok(Control { ctl, ack })
    }

    /// Send `command` (`enable` or `disable`) and wait for `ack`.
    pub fn send(&mut self, command: &str) -> Result<()> {
        self.ctl.write_all(format!("{command}\n").as_bytes())?;
        self.ctl.flush()?;
        let mut got = Vec::new();
        let mut buf = [0u8; 16];
        while !String::from_utf8_lossy(&got).contains("ack") {
            let n = self.ack.read(&mut buf)?;
            if n == 0 {
                bail!("perf closed the ack FIFO before acknowledging {command:?}");
            }
            got.extend_from_slice(&buf[..n]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured `perf stat -x, -e instructions:u --delay=-1 --control …` output on a machine
    /// with counters (perf 6.1, -o file): control messages, then the CSV counter line.
    const COUNTED: &str = "# started on Mon Nov 23 02:41:07 2026\n\n\
        Events disabled\nEvents enabled\nEvents disabled\n\
        48213377,,instructions:u,5021376,100.00,,\n";

    /// What this machine printed for `perf stat -x, -e instructions:u true`.
    const NOT_SUPPORTED: &str = "<not supported>,,instructions:u,0,100.00,,\n";

    /// A hybrid CPU: one line per core type.
    const HYBRID: &str = "1000,,cpu_core/instructions/u,100,100.00,,\n\
                          <not counted>,,cpu_atom/instructions/u,0,0.00,,\n\
                          20,,cpu_atom/instructions/u,5,100.00,,\n";

    #[test]
    fn parses_counted_unsupported_and_hybrid_output() {
        assert_eq!(parse_stat(COUNTED).unwrap(), Reading::Count(48_213_377));
        assert_eq!(
            parse_stat(NOT_SUPPORTED).unwrap(),
            Reading::Unsupported("<not supported>".into())
        );
        assert_eq!(parse_stat(HYBRID).unwrap(), Reading::Count(1020));
        assert!(parse_stat("Events enabled\n").is_err());
        assert!(parse_stat("12x,,instructions:u,1,100.00,,\n").is_err());
    }
}
