//! Comparison of a run against the baseline, and the markdown report.

use std::fmt::Write as _;

use serde::Serialize;

use super::baseline::{Baseline, InstructionBaseline, ValgrindBaseline};
use super::scenarios::Counts;

/// Which tier a finding belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Exact primitive counts and message sizes (blocking).
    Exact,
    /// Instruction counts, from Valgrind or `perf stat` (blocking where either works).
    Instructions,
}

/// The outcome of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// More work than the baseline allows: fails the gate.
    Regression,
    /// A baseline metric this run did not produce: fails (update the baseline deliberately).
    Missing,
    /// Less work than the baseline: reported, suggest updating the baseline.
    Improvement,
    /// Exactly the baseline.
    Unchanged,
    /// Changed by less than the threshold (instruction tier).
    Within,
    /// Not in the baseline yet: reported, not gated.
    New,
    /// Could not be compared (e.g. baseline from another CPU): reported, not gated.
    Skipped,
}

impl Verdict {
    /// Whether this outcome fails the gate.
    pub fn fails(self) -> bool {
        matches!(self, Verdict::Regression | Verdict::Missing)
    }

    fn label(self) -> &'static str {
        match self {
            Verdict::Regression => "**REGRESSION**",
            Verdict::Missing => "**MISSING**",
            Verdict::Improvement => "improved",
            Verdict::Unchanged => "same",
            Verdict::Within => "within threshold",
            Verdict::New => "new (not gated)",
            Verdict::Skipped => "skipped",
        }
    }
}

/// One compared metric of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Scenario name.
    pub scenario: String,
    /// Tier.
    pub tier: Tier,
    /// Counter name (`hash_bytes`, `instructions`, …).
    pub metric: String,
    /// Baseline value, if any.
    pub baseline: Option<u64>,
    /// This run's value, if any.
    pub current: Option<u64>,
    /// Outcome.
    pub verdict: Verdict,
    /// Extra explanation (threshold, reason for skipping).
    pub note: String,
}

impl Finding {
    /// Relative change in percent, where both values exist.
    pub fn change_pct(&self) -> Option<f64> {
        match (self.baseline, self.current) {
            (Some(b), Some(c)) if b > 0 => Some((c as f64 - b as f64) / b as f64 * 100.0),
            (Some(0), Some(c)) if c > 0 => Some(f64::INFINITY),
            (Some(_), Some(_)) => Some(0.0),
            _ => None,
        }
    }
}

/// Every finding of one gate run, plus notes (tiers that did not run and why).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Compared metrics.
    pub findings: Vec<Finding>,
    /// Free-text notes printed above the table.
    pub notes: Vec<String>,
}

impl Report {
    /// Whether any finding fails the gate.
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.verdict.fails())
    }

    /// The failing findings.
    pub fn failures(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.verdict.fails())
    }

    /// The report as markdown: notes, then a table of every metric that is not exactly the
    /// baseline, sorted by change (largest increase first; missing metrics on top), then a
    /// count of unchanged metrics and the verdict.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        for line in self.notes.iter().flat_map(|n| n.lines()) {
            let _ = writeln!(s, "> {line}");
        }
        if !self.notes.is_empty() {
            s.push('\n');
        }
        let mut shown: Vec<&Finding> = self
            .findings
            .iter()
            .filter(|f| f.verdict != Verdict::Unchanged)
            .collect();
        let key = |f: &Finding| match f.verdict {
            Verdict::Missing => f64::INFINITY,
            _ => f.change_pct().unwrap_or(f64::NEG_INFINITY),
        };
        shown.sort_by(|a, b| key(b).total_cmp(&key(a)));
        let unchanged = self.findings.len() - shown.len();
        if !shown.is_empty() {
            s.push_str("| scenario | tier | metric | baseline | current | change | verdict |\n");
            s.push_str("|---|---|---|---:|---:|---:|---|\n");
            for f in &shown {
                let v = |x: Option<u64>| x.map_or("—".to_string(), |v| v.to_string());
                let change = f.change_pct().map_or("—".to_string(), |c| {
                    if c.is_infinite() {
                        "+∞".to_string()
                    } else if c != 0.0 && c.abs() < 0.01 {
                        // Instruction counts under Valgrind move by parts per million.
                        format!("{c:+.5}%")
                    } else {
                        format!("{c:+.3}%")
                    }
                });
                let note = if f.note.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", f.note)
                };
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {}{} |",
                    f.scenario,
                    match f.tier {
                        Tier::Exact => "exact",
                        Tier::Instructions => "instructions",
                    },
                    f.metric,
                    v(f.baseline),
                    v(f.current),
                    change,
                    f.verdict.label(),
                    note
                );
            }
            s.push('\n');
        }
        let scenarios: std::collections::BTreeSet<&str> =
            self.findings.iter().map(|f| f.scenario.as_str()).collect();
        let _ = writeln!(
            s,
            "{} metrics over {} scenarios; {} exactly at the baseline.",
            self.findings.len(),
            scenarios.len(),
            unchanged
        );
        let failures: Vec<String> = self
            .failures()
            .map(|f| format!("{} {}", f.scenario, f.metric))
            .collect();
        if failures.is_empty() {
            s.push_str("perf-gate: PASS\n");
            if self
                .findings
                .iter()
                .any(|f| matches!(f.verdict, Verdict::Improvement | Verdict::New))
            {
                s.push_str(
                    "Improvements or new metrics: consider `scripts/perf-gate --update` to lock \
                     them in.\n",
                );
            }
        } else {
            let _ = writeln!(
                s,
                "perf-gate: FAIL — {} regression(s): {}",
                failures.len(),
                failures.join(", ")
            );
            s.push_str(
                "If the extra work is intended, accept it with `scripts/perf-gate --update \
                 --reason \"why\"` and commit the baseline with that reason.\n",
            );
        }
        s
    }
}

/// Compare exact counts of the scenarios run against the baseline. Scenarios in the baseline
/// that were not run are not compared (a partial run); a scenario run but absent from the
/// baseline is reported as new.
pub fn check_exact(baseline: &Baseline, current: &[(String, Counts)]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (name, counts) in current {
        let Some(base) = baseline.scenarios.get(name) else {
            for (metric, &v) in counts {
                out.push(Finding {
                    scenario: name.clone(),
                    tier: Tier::Exact,
                    metric: metric.clone(),
                    baseline: None,
                    current: Some(v),
                    verdict: Verdict::New,
                    note: "scenario not in the baseline".into(),
                });
            }
            continue;
        };
        for (metric, &b) in &base.counts {
            let c = counts.get(metric).copied();
            let verdict = match c {
                None => Verdict::Missing,
                Some(c) if c > b => Verdict::Regression,
                Some(c) if c < b => Verdict::Improvement,
                Some(_) => Verdict::Unchanged,
            };
            out.push(Finding {
                scenario: name.clone(),
                tier: Tier::Exact,
                metric: metric.clone(),
                baseline: Some(b),
                current: c,
                verdict,
                note: String::new(),
            });
        }
        for (metric, &c) in counts {
            if !base.counts.contains_key(metric) {
                out.push(Finding {
                    scenario: name.clone(),
                    tier: Tier::Exact,
                    metric: metric.clone(),
                    baseline: None,
                    current: Some(c),
                    verdict: Verdict::New,
                    note: "counter not in the baseline".into(),
                });
            }
        }
    }
    out
}

/// The median of `runs` (the lower middle one for an even count), `None` if empty.
pub fn median(runs: &[u64]) -> Option<u64> {
    let mut v = runs.to_vec();
    v.sort_unstable();
    v.get(v.len().saturating_sub(1) / 2).copied()
}

/// Relative spread of `runs`: (max − min) / median, in percent.
pub fn spread_pct(runs: &[u64]) -> Option<f64> {
    let m = median(runs)?;
    let (lo, hi) = (runs.iter().min()?, runs.iter().max()?);
    (m > 0).then(|| (hi - lo) as f64 / m as f64 * 100.0)
}

/// Compare one scenario's instruction runs against its baseline. `host` and `profile` describe
/// this run; a baseline from another CPU or build profile is not comparable (skipped).
pub fn check_instructions(
    scenario: &str,
    base: Option<&InstructionBaseline>,
    runs: &[u64],
    host: &str,
    profile: &str,
) -> Finding {
    let current = median(runs);
    let spread = spread_pct(runs).map_or(String::new(), |s| format!("spread {s:.3}%"));
    let mut f = Finding {
        scenario: scenario.to_string(),
        tier: Tier::Instructions,
        metric: "instructions".into(),
        baseline: base.map(|b| b.median),
        current,
        verdict: Verdict::New,
        note: spread.clone(),
    };
    let Some(base) = base else {
        f.note = format!("no instruction baseline; {spread}");
        return f;
    };
    if base.host != host || base.profile != profile {
        f.verdict = Verdict::Skipped;
        f.note = format!(
            "baseline from {:?} ({}), this run {:?} ({})",
            base.host, base.profile, host, profile
        );
        return f;
    }
    within_threshold(f, current, base.median, base.threshold_pct, &spread)
}

/// What a Valgrind run is keyed to: the baseline is compared only when all of it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValgrindKey {
    /// Valgrind version, tool and toggle.
    pub method: String,
    /// The CPU-dispatch pin.
    pub pin: String,
    /// What the program saw of the CPU under Valgrind.
    pub cpu: String,
    /// Cargo profile.
    pub profile: String,
}

/// Compare one scenario's Valgrind runs against its baseline; a baseline measured another
/// way (Valgrind version, pin, synthetic CPU, profile) is not comparable (skipped).
pub fn check_valgrind(
    scenario: &str,
    base: Option<&ValgrindBaseline>,
    runs: &[u64],
    key: &ValgrindKey,
) -> Finding {
    let current = median(runs);
    // Spreads under Valgrind are a few instructions in millions: absolute and in percent.
    let spread = match (runs.iter().min(), runs.iter().max(), spread_pct(runs)) {
        (Some(lo), Some(hi), Some(pct)) if runs.len() > 1 => {
            format!("spread {} ({pct:.5}%)", hi - lo)
        }
        _ => "one run".to_string(),
    };
    let mut f = Finding {
        scenario: scenario.to_string(),
        tier: Tier::Instructions,
        metric: "instructions".into(),
        baseline: base.map(|b| b.median),
        current,
        verdict: Verdict::New,
        note: format!("valgrind; {spread}"),
    };
    let Some(base) = base else {
        f.note = format!("no valgrind baseline; {spread}");
        return f;
    };
    let mut differ = Vec::new();
    for (what, b, c) in [
        ("method", &base.method, &key.method),
        ("pin", &base.pin, &key.pin),
        ("cpu", &base.cpu, &key.cpu),
        ("profile", &base.profile, &key.profile),
    ] {
        if b != c {
            differ.push(format!("{what}: baseline {b:?}, this run {c:?}"));
        }
    }
    if !differ.is_empty() {
        f.verdict = Verdict::Skipped;
        f.note = format!("valgrind baseline not comparable: {}", differ.join("; "));
        return f;
    }
    within_threshold(f, current, base.median, base.threshold_pct, &spread)
}

/// The verdict of `current` against `base` ± `threshold_pct`.
fn within_threshold(
    mut f: Finding,
    current: Option<u64>,
    base: u64,
    threshold_pct: f64,
    spread: &str,
) -> Finding {
    let Some(c) = current else {
        f.verdict = Verdict::Missing;
        f.note = "no run measured".into();
        return f;
    };
    // base ± base·pct/100, in that order: `base * (1 + pct / 100)` rounds 1,000,000 at 0.1%
    // to 1,000,999.999…, making a run exactly at the threshold a regression.
    let margin = base as f64 * threshold_pct / 100.0;
    let limit = base as f64 + margin;
    let floor = base as f64 - margin;
    f.verdict = if c as f64 > limit {
        Verdict::Regression
    } else if (c as f64) < floor {
        Verdict::Improvement
    } else if c == base {
        Verdict::Unchanged
    } else {
        Verdict::Within
    };
    f.note = format!("threshold {threshold_pct}%; {spread}");
    f
}

#[cfg(test)]
mod tests {
    use super::super::baseline::ScenarioBaseline;
    use super::*;

    fn counts(pairs: &[(&str, u64)]) -> Counts {
        pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect()
    }

    fn baseline(pairs: &[(&str, u64)]) -> Baseline {
        let mut b = Baseline::default();
        b.scenarios.insert(
            "s".into(),
            ScenarioBaseline {
                counts: counts(pairs),
                instructions: None,
                valgrind: None,
            },
        );
        b
    }

    #[test]
    fn any_increase_fails_and_decrease_is_an_improvement() {
        let b = baseline(&[("hash_bytes", 100), ("x25519_dh", 10), ("aead_bytes", 5)]);
        let run = vec![(
            "s".to_string(),
            counts(&[("hash_bytes", 101), ("x25519_dh", 9), ("aead_bytes", 5)]),
        )];
        let r = Report {
            findings: check_exact(&b, &run),
            notes: vec![],
        };
        assert!(r.failed());
        let fails: Vec<_> = r.failures().map(|f| f.metric.as_str()).collect();
        assert_eq!(fails, ["hash_bytes"]);
        let dh = r.findings.iter().find(|f| f.metric == "x25519_dh").unwrap();
        assert_eq!(dh.verdict, Verdict::Improvement);
        let md = r.markdown();
        assert!(md.contains("| s | exact | hash_bytes | 100 | 101 | +1.000% | **REGRESSION** |"));
        assert!(md.contains("FAIL"));
        // Sorted by change: the regression row comes before the improvement row.
        assert!(md.find("hash_bytes").unwrap() < md.find("x25519_dh").unwrap());
    }

    #[test]
    fn identical_counts_pass_and_new_or_missing_metrics_are_reported() {
        let b = baseline(&[("hash_bytes", 100)]);
        let same = vec![("s".to_string(), counts(&[("hash_bytes", 100)]))];
        let r = Report {
            findings: check_exact(&b, &same),
            notes: vec![],
        };
        assert!(!r.failed());
        assert!(r.markdown().contains("PASS"));

        let extra = vec![(
            "s".to_string(),
            counts(&[("hash_bytes", 100), ("hpke_seal", 3)]),
        )];
        let f = check_exact(&b, &extra);
        assert!(f
            .iter()
            .any(|f| f.metric == "hpke_seal" && f.verdict == Verdict::New));
        assert!(!f.iter().any(|f| f.verdict.fails()));

        let lost = vec![("s".to_string(), counts(&[]))];
        let f = check_exact(&b, &lost);
        assert_eq!(f[0].verdict, Verdict::Missing);

        let new_scenario = vec![("t".to_string(), counts(&[("hash_bytes", 1)]))];
        let f = check_exact(&b, &new_scenario);
        assert_eq!(f[0].verdict, Verdict::New);
    }

    fn ib(median: u64, thr: f64) -> InstructionBaseline {
        InstructionBaseline {
            median,
            runs: vec![median],
            threshold_pct: thr,
            host: "cpu".into(),
            profile: "dev".into(),
        }
    }

    #[test]
    fn instruction_threshold() {
        let b = ib(1_000_000, 1.0);
        let at = |runs: &[u64]| check_instructions("s", Some(&b), runs, "cpu", "dev").verdict;
        assert_eq!(at(&[1_010_000]), Verdict::Within);
        assert_eq!(at(&[1_010_001]), Verdict::Regression);
        assert_eq!(at(&[990_000]), Verdict::Within);
        assert_eq!(at(&[989_999]), Verdict::Improvement);
        // The median decides: one outlier run does not.
        assert_eq!(at(&[1_000_100, 2_000_000, 999_900]), Verdict::Within);
        assert_eq!(at(&[1_020_000, 1_030_000, 999_900]), Verdict::Regression);
        // Another CPU or profile: not comparable.
        let other = check_instructions("s", Some(&b), &[5_000_000], "other cpu", "dev");
        assert_eq!(other.verdict, Verdict::Skipped);
        let none = check_instructions("s", None, &[5], "cpu", "dev");
        assert_eq!(none.verdict, Verdict::New);
    }

    #[test]
    fn valgrind_threshold_and_key() {
        let key = ValgrindKey {
            method: "valgrind-3.19.0 callgrind".into(),
            pin: "OPENSSL_ia32cap=~0x1:~0x2".into(),
            cpu: "x86_64: sse4.2".into(),
            profile: "dev".into(),
        };
        let b = ValgrindBaseline {
            median: 1_000_000,
            runs: vec![1_000_000; 5],
            spread_pct: 0.0,
            threshold_pct: 0.1,
            method: key.method.clone(),
            pin: key.pin.clone(),
            cpu: key.cpu.clone(),
            profile: key.profile.clone(),
            host: "anywhere".into(),
        };
        let at = |runs: &[u64], key: &ValgrindKey| check_valgrind("s", Some(&b), runs, key);
        assert_eq!(at(&[1_000_000], &key).verdict, Verdict::Unchanged);
        assert_eq!(at(&[1_001_000], &key).verdict, Verdict::Within);
        assert_eq!(at(&[1_001_001], &key).verdict, Verdict::Regression);
        assert_eq!(at(&[998_999], &key).verdict, Verdict::Improvement);
        // The host is not part of the key; the pin, the synthetic CPU and the profile are.
        for change in [
            |k: &mut ValgrindKey| k.pin = "none".into(),
            |k: &mut ValgrindKey| k.cpu = "x86_64: avx512f".into(),
            |k: &mut ValgrindKey| k.profile = "release".into(),
            |k: &mut ValgrindKey| k.method = "valgrind-3.22.0 callgrind".into(),
        ] {
            let mut other = key.clone();
            change(&mut other);
            assert_eq!(at(&[5], &other).verdict, Verdict::Skipped);
        }
        assert_eq!(check_valgrind("s", None, &[5], &key).verdict, Verdict::New);
        assert_eq!(
            crate::gate::baseline::valgrind_threshold_pct(0.0),
            crate::gate::baseline::MIN_VALGRIND_THRESHOLD_PCT
        );
        assert_eq!(crate::gate::baseline::valgrind_threshold_pct(0.05), 0.5);
    }

    #[test]
    fn median_and_spread() {
        assert_eq!(median(&[3, 1, 2]), Some(2));
        assert_eq!(median(&[4, 1, 3, 2]), Some(2));
        assert_eq!(median(&[]), None);
        assert_eq!(spread_pct(&[99, 100, 101]), Some(2.0));
    }
}
