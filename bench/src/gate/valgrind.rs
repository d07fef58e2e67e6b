//! The instruction tier under Valgrind: machine-independent instruction counts on machines
//! without hardware counters (VMs without a PMU, most CI runners), the way rustls's CI
//! benchmarks count instructions.
//!
//! Each run is one process, `canopy gate scenario NAME --valgrind`, under
//!
//! ```text
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect=*measured_operation*
//! ```
//!
//! with `RAYON_NUM_THREADS=1` and [`Executor::Serial`](canopy_engine::batch::Executor::Serial)
//! (one thread: Valgrind serialises threads anyway, and the serial path is what the exact tier
//! proves equivalent), and aws-lc's CPU dispatch pinned by [`PIN`].
//!
//! **Why Callgrind with a toggle, not Cachegrind minus a setup-only run.** Collection starts
//! off and is switched on for the duration of
//! [`measured_operation`](super::scenarios::measured_operation) — the non-inlined function
//! that runs the operation and nothing else — so state generation, process start-up and the
//! uncounted warm-up run (which goes around that function) are excluded by construction, in
//! one run per measurement. Cachegrind would need two runs per measurement (whole process,
//! and the same process stopping before the operation) and a subtraction, doubling the time
//! of the slowest part of the gate for the same number. The workspace forbids unsafe code,
//! so Valgrind's client requests (which would start and stop collection from the program)
//! are not an option; the toggle needs none. If the function were inlined or renamed,
//! Callgrind would count 0 instructions: [`measure`] treats that as an error.
//!
//! **What the count depends on.** Valgrind runs the program on a synthetic CPU: `cpuid`
//! returns one of a few canned models chosen by what the host supports (on any host with
//! AVX2, including AVX-512 ones, a Haswell without AVX-512 or SHA-NI). What the program sees
//! is recorded as `cpu` ([`cpu_view`]) and compared; `host` is recorded for the record only.
//! aws-lc's dispatch is pinned below the weakest of those models, so the crypto takes the
//! same code path under every model, and Valgrind's lack of AVX-512 support never matters.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// aws-lc's CPU-dispatch pin, as the environment variable it reads once at start-up
/// (`OPENSSL_cpuid_setup` in aws-lc's `crypto/fipsmodule/cpucap/cpu_intel.c`).
///
/// Format: `[~|]VALUE1[:[~|]VALUE2]`, each a 64-bit number (`0x` for hex). `~` clears the
/// given bits from what `cpuid` reported (it can only remove features, never claim absent
/// ones; a value without a prefix replaces the word and aborts if it names a missing
/// feature). VALUE1 is `cpuid(1)` EDX in bits 0–31 and ECX in bits 32–63; VALUE2 is `cpuid(7)`
/// EBX in bits 0–31 and ECX in bits 32–63.
///
/// - VALUE1 `~0x7c40100000000000` clears from `cpuid(1)` ECX: FMA (bit 12), MOVBE (22),
///   XSAVE (26), OSXSAVE (27), AVX (28), F16C (29) and RDRAND (30). No AVX means none of
///   aws-lc's AVX code (AVX SHA-256, AVX AES-GCM, which also needs MOVBE); no RDRAND means
///   its RNG does not mix in the hardware generator. Clearing MOVBE together with XSAVE
///   keeps aws-lc from taking the no-XSAVE-but-MOVBE CPU for a Silvermont.
/// - VALUE2 `~0xffffffffffffffff` clears every `cpuid(7)` feature: BMI1/BMI2 and ADX (the
///   s2n-bignum X25519/Ed25519 field code falls back to its portable `_alt` versions), AVX2,
///   SHA-NI, every AVX-512 flag, VAES and VPCLMULQDQ.
///
/// What is left — SSE2 to SSE4.2, SSSE3, AES-NI, PCLMULQDQ — is present in every Valgrind
/// CPU model since Westmere, so every machine runs the same SSSE3 SHA-256, AES-NI/CLMUL
/// AES-GCM and portable field arithmetic. Only leaf bits aws-lc reads are cleared in
/// VALUE1; the rest of `cpuid(1)` (SSE levels, the hyper-threading and Intel bits) is the
/// same in those models.
pub const PIN: &str = "OPENSSL_ia32cap=~0x7c40100000000000:~0xffffffffffffffff";

/// The engine's X25519 backend in both instruction tiers: aws-lc, the reference, whatever
/// the caller's `CANOPY_CRYPTO` and whatever lanes the CPU has. The lanes change how many
/// instructions a multiplication takes, not how many multiplications run (the exact tier
/// counts those on every backend), so the instruction counts follow one path everywhere,
/// as the aws-lc dispatch pin makes them do.
pub const REFERENCE_X25519: (&str, &str) = ("CANOPY_CRYPTO", "portable");

/// The Callgrind toggle: the function whose calls are counted, with everything they call.
pub const TOGGLE: &str = "*measured_operation*";

/// Prefix of the line on which `canopy gate scenario --valgrind` reports [`cpu_view`].
pub const CPU_VIEW_PREFIX: &str = "canopy-gate-cpu-view: ";

/// Whether Valgrind can be run: its version (`valgrind-3.19.0`), or why not.
pub fn probe() -> Result<String, String> {
    let out = Command::new("valgrind")
        .arg("--version")
        .output()
        .map_err(|e| {
            format!(
                "`valgrind` could not be run ({e}); install it (Debian: apt-get install \
                 valgrind)"
            )
        })?;
    if !out.status.success() {
        return Err(format!("`valgrind --version` failed ({})", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The measuring method, as recorded in the baseline: Valgrind version, tool and toggle.
pub fn method(version: &str) -> String {
    format!("{version} callgrind --toggle-collect={TOGGLE}")
}

/// The pinned environment variable's name and value.
fn pin_env() -> (&'static str, &'static str) {
    PIN.split_once('=').expect("PIN is NAME=VALUE")
}

/// The CPU features this process sees (under Valgrind: the synthetic CPU's), those that
/// decide code paths outside aws-lc's pinned dispatch (the standard library, glibc's
/// string functions) or that the pin should have hidden. With the architecture.
pub fn cpu_view() -> String {
    #[allow(unused_mut)]
    let mut features: Vec<&str> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! detect {
            ($($f:tt),*) => {
                $(if std::is_x86_feature_detected!($f) { features.push($f); })*
            };
        }
        detect!(
            "ssse3",
            "sse4.1",
            "sse4.2",
            "popcnt",
            "aes",
            "pclmulqdq",
            "avx",
            "fma",
            "avx2",
            "bmi1",
            "bmi2",
            "adx",
            "sha",
            "avx512f"
        );
    }
    format!("{}: {}", std::env::consts::ARCH, features.join(" "))
}

/// One measured run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Instructions executed inside `measured_operation`.
    pub instructions: u64,
    /// What the program saw of the CPU ([`cpu_view`] under Valgrind).
    pub cpu: String,
}

/// The instruction total of a Callgrind output file (`totals:`, or `summary:`).
pub fn parse_totals(text: &str) -> Result<u64> {
    let line = text
        .lines()
        .find(|l| l.starts_with("totals:"))
        .or_else(|| text.lines().find(|l| l.starts_with("summary:")))
        .context("callgrind output has no totals: or summary: line")?;
    let value = line.split_once(':').map_or("", |(_, v)| v).trim();
    // One event (Ir) is collected, so the line holds one number.
    let first = value.split_whitespace().next().unwrap_or("");
    first
        .parse()
        .with_context(|| format!("callgrind: unreadable total {line:?}"))
}

/// Run scenario `name` once under Callgrind, as a child `exe gate scenario NAME --valgrind`
/// (with the planted regression if `planted`), and return its count.
pub fn measure(exe: &Path, name: &str, run: usize, planted: bool) -> Result<Run> {
    let dir = std::env::temp_dir().join(format!(
        "canopy-gate-vg-{}-{}-{run}",
        std::process::id(),
        name
    ));
    std::fs::create_dir_all(&dir)?;
    let result = measure_in(&dir, exe, name, planted);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure_in(dir: &Path, exe: &Path, name: &str, planted: bool) -> Result<Run> {
    let out_file = dir.join("callgrind.out");
    let (pin_name, pin_value) = pin_env();
    let out = Command::new("valgrind")
        .args([
            "--tool=callgrind",
            "--collect-atstart=no",
            &format!("--toggle-collect={TOGGLE}"),
            "--error-exitcode=3",
        ])
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg("--")
        .arg(exe)
        .args(["gate", "scenario", name, "--valgrind"])
        .args(planted.then_some("--plant-regression"))
        .env("RAYON_NUM_THREADS", "1")
        .env(pin_name, pin_value)
        .env(REFERENCE_X25519.0, REFERENCE_X25519.1)
        .output()
        .context("running valgrind")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "valgrind --tool=callgrind of scenario {name} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let cpu = stdout
        .lines()
        .find_map(|l| l.strip_prefix(CPU_VIEW_PREFIX))
        .with_context(|| format!("scenario {name} under valgrind did not report its CPU view"))?
        .to_string();
    let text = std::fs::read_to_string(&out_file).context("reading callgrind output")?;
    let instructions = parse_totals(&text)?;
    if instructions == 0 {
        bail!(
            "callgrind counted 0 instructions in {TOGGLE} for scenario {name}: the toggle \
             function was not found (inlined or renamed?)"
        );
    }
    Ok(Run { instructions, cpu })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head and tail of a real `--collect-atstart=no --toggle-collect` output file.
    const OUT: &str = "# callgrind format\nversion: 1\ncreator: callgrind-3.19.0\n\
        events: Ir\nsummary: 12345678\n\nfn=(1) foo\n3 10\n\ntotals: 12345678\n";

    #[test]
    fn parses_callgrind_totals() {
        assert_eq!(parse_totals(OUT).unwrap(), 12_345_678);
        assert_eq!(parse_totals("events: Ir\nsummary: 42\n").unwrap(), 42);
        assert!(parse_totals("events: Ir\n").is_err());
        assert!(parse_totals("totals: x\n").is_err());
    }

    /// The instruction tiers' X25519 setting is the variable the engine reads, naming the
    /// aws-lc reference on every host.
    #[test]
    fn instruction_tiers_run_the_reference_x25519() {
        use canopy_engine::crypto::{x25519::CRYPTO_ENV, X25519Backend};
        assert_eq!(REFERENCE_X25519.0, CRYPTO_ENV);
        assert_eq!(
            X25519Backend::from_choice(REFERENCE_X25519.1),
            Ok(X25519Backend::AwsLc)
        );
    }

    #[test]
    fn pin_is_a_clearing_mask_for_both_words() {
        let (name, value) = pin_env();
        assert_eq!(name, "OPENSSL_ia32cap");
        let (w01, w23) = value.split_once(':').unwrap();
        // `~` only clears bits: the pin can never ask for a feature the CPU lacks (which
        // would make aws-lc abort).
        assert!(w01.starts_with("~0x") && w23.starts_with("~0x"));
        let w01 = u64::from_str_radix(&w01[3..], 16).unwrap();
        let ecx = (w01 >> 32) as u32;
        for bit in [12, 22, 26, 27, 28, 29, 30] {
            assert_ne!(
                ecx & (1 << bit),
                0,
                "cpuid(1) ECX bit {bit} must be cleared"
            );
        }
        // AES-NI (25), PCLMULQDQ (1), SSSE3 (9), SSE4.1 (19) stay.
        for bit in [1, 9, 19, 25] {
            assert_eq!(ecx & (1 << bit), 0, "cpuid(1) ECX bit {bit} must stay");
        }
        assert_eq!(w01 as u32, 0, "cpuid(1) EDX is left alone");
        assert_eq!(u64::from_str_radix(&w23[3..], 16).unwrap(), u64::MAX);
    }
}
