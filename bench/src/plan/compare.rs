//! Reading a sweep: the comparison of its points (mean over seeds, 95% confidence interval,
//! delta against a baseline point) and SLO thresholds evaluated per point.
//!
//! Both use one table of metrics, [`METRICS`]: the comparison shows every metric, `--slo`
//! accepts exactly their names.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{anyhow, bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

use super::report::{hist_decode, point_key, Point, Report, Run};

/// Where a metric's value comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// A quantile of a histogram, divided by `scale` (ns → ms: 1e6; bytes: 1).
    Quantile(&'static str, f64, f64),
    /// The mean over the days of a per-day figure.
    PerDay(fn(&super::report::Day) -> f64),
    /// A delivery-service figure (absent from files written before the model).
    Ds(fn(&super::ds::DsReport) -> f64),
}

/// One headline metric of a point.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// Name in the comparison, the JSON and `--slo`.
    pub name: &'static str,
    /// What it is, with its unit.
    pub description: &'static str,
    source: Source,
}

/// The headline metrics, in the order the comparison shows them. Latencies are wall-clock
/// times on the measuring host; CPU is profile-based (exact engine counts × cost profile).
pub const METRICS: &[Metric] = &[
    Metric {
        name: "commit_p50_ms",
        description: "commit creation latency p50, ms",
        source: Source::Quantile("commit_create_ns", 0.5, 1e6),
    },
    Metric {
        name: "commit_p99_ms",
        description: "commit creation latency p99, ms",
        source: Source::Quantile("commit_create_ns", 0.99, 1e6),
    },
    Metric {
        name: "process_p50_ms",
        description: "commit processing latency per receiver p50, ms",
        source: Source::Quantile("commit_process_ns", 0.5, 1e6),
    },
    Metric {
        name: "process_p99_ms",
        description: "commit processing latency per receiver p99, ms",
        source: Source::Quantile("commit_process_ns", 0.99, 1e6),
    },
    Metric {
        name: "join_p50_ms",
        description: "join latency p50, ms",
        source: Source::Quantile("join_ns", 0.5, 1e6),
    },
    Metric {
        name: "commit_bytes_p50",
        description: "commit size p50, bytes",
        source: Source::Quantile("commit_bytes", 0.5, 1.0),
    },
    Metric {
        name: "commit_bytes_p99",
        description: "commit size p99, bytes",
        source: Source::Quantile("commit_bytes", 0.99, 1.0),
    },
    Metric {
        name: "welcome_bytes_p50",
        description: "Welcome size (with the tree) p50, bytes",
        source: Source::Quantile("welcome_with_tree_bytes", 0.5, 1.0),
    },
    Metric {
        name: "ds_fanout_bytes_per_day",
        description: "delivery-service fan-out per day, bytes",
        source: Source::PerDay(|d| d.ds_fanout_bytes as f64),
    },
    Metric {
        name: "member_cpu_s_per_day",
        description: "all members' CPU per day (profile-based), s",
        source: Source::PerDay(|d| d.member_cpu_s),
    },
    Metric {
        name: "ds_ingress_bytes_per_day",
        description: "delivery-service ingress per day (all traffic), bytes",
        source: Source::PerDay(|d| d.ds_ingress_bytes as f64),
    },
    Metric {
        name: "ds_egress_bytes_per_day",
        description: "delivery-service egress per day (all traffic), bytes",
        source: Source::PerDay(|d| d.ds_egress_bytes as f64),
    },
    Metric {
        name: "ds_peak_minute_egress_bytes",
        description: "delivery-service egress in the busiest minute, bytes",
        source: Source::Ds(|d| d.peak_minute.egress_bytes as f64),
    },
    Metric {
        name: "ds_commit_burst_bytes_p99",
        description: "delivery-service egress of one commit's fan-out p99, bytes",
        source: Source::Quantile("ds_commit_burst_bytes", 0.99, 1.0),
    },
    Metric {
        name: "ds_backlog_peak_bytes",
        description: "delivery-service backlog held for long-offline devices, peak, bytes",
        source: Source::Ds(|d| d.storage.backlog_bytes_peak as f64),
    },
    Metric {
        name: "ds_cpu_s_per_day",
        description: "the delivery service's CPU per day (profile-based), s",
        source: Source::PerDay(|d| d.ds_cpu_s),
    },
];

/// The metric called `name`.
pub fn metric(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.name == name)
}

impl Metric {
    fn value(
        &self,
        histograms: &BTreeMap<String, String>,
        days: &[super::report::Day],
        ds: &super::ds::DsReport,
    ) -> Result<Option<f64>> {
        Ok(match self.source {
            Source::Quantile(h, q, scale) => match histograms.get(h) {
                None => None,
                Some(enc) => {
                    let h = hist_decode(enc)?;
                    if h.is_empty() {
                        None
                    } else {
                        Some(h.value_at_quantile(q) as f64 / scale)
                    }
                }
            },
            Source::PerDay(f) => {
                if days.is_empty() {
                    None
                } else {
                    Some(days.iter().map(f).sum::<f64>() / days.len() as f64)
                }
            }
            Source::Ds(f) => (ds.hours > 0).then(|| f(ds)),
        })
    }

    /// The metric of one run (`None` if the run recorded nothing for it, e.g. no joins).
    pub fn of_run(&self, run: &Run) -> Result<Option<f64>> {
        self.value(&run.histograms, &run.days, &run.ds)
    }

    /// The metric of a point: quantiles of its merged histograms (every seed's values
    /// pooled), per-day figures from its days (each the mean over the seeds), delivery-service
    /// figures from its `ds` (the mean over the seeds).
    pub fn of_point(&self, p: &Point) -> Result<Option<f64>> {
        self.value(&p.histograms, &p.days, &p.ds)
    }
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom (two-sided 95%).
pub fn t_975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        31..=40 => 2.021,
        41..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
}

/// Mean and half-width of the 95% confidence interval (Student's t over the values; `None`
/// with fewer than two values).
pub fn mean_ci(values: &[f64]) -> (f64, Option<f64>) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, None);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, None);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, Some(t_975(n - 1) * (var / n as f64).sqrt()))
}

/// One metric of one point across its seeds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stat {
    /// The per-seed values (runs without a value, e.g. no joins, left out).
    pub values: Vec<f64>,
    /// Their mean.
    pub mean: f64,
    /// Half-width of the 95% confidence interval (Student's t); absent with one value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci95: Option<f64>,
    /// (mean − baseline mean) / baseline mean × 100; absent for a zero or missing baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_pct: Option<f64>,
}

/// One point of the comparison.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Row {
    /// The point's key (as in `points`).
    pub key: String,
    /// The fields that differ from the first point's workload (`members=10000
    /// commit_policy="batch"`), or `baseline` for the first point.
    pub label: String,
    /// Members at the start.
    pub members: u64,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// By metric name ([`METRICS`]).
    pub metrics: BTreeMap<String, Stat>,
}

/// The comparison of a report's points.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Comparison {
    /// Index in `points` of the point the deltas are relative to.
    pub baseline: usize,
    /// One row per point, in the order of `points`.
    pub rows: Vec<Row>,
}

/// The fields of `w` (the point's workload as JSON) that differ from `base`'s, seed left out.
fn overrides(w: &serde_json::Value, base: &serde_json::Value) -> String {
    let (Some(w), Some(b)) = (w.as_object(), base.as_object()) else {
        return String::new();
    };
    let mut parts = Vec::new();
    for (k, v) in w {
        if k == "seed" || b.get(k) == Some(v) {
            continue;
        }
        let shown = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        parts.push(format!("{k}={shown}"));
    }
    // Fields left out at their defaults (`arrival_profile`, …) that the baseline sets.
    for k in b.keys().filter(|k| !w.contains_key(*k)) {
        parts.push(format!("{k}=default"));
    }
    parts.join(" ")
}

/// Compare the points of `report` against point `baseline` (an index into `points`).
pub fn compare(report: &Report, baseline: usize) -> Result<Comparison> {
    ensure!(
        baseline < report.points.len(),
        "--baseline-point {baseline}: the report has {} points (0-based)",
        report.points.len()
    );
    let runs_of = |p: &Point| -> Vec<&Run> {
        report
            .runs
            .iter()
            .filter(|r| point_key(&r.workload) == p.key)
            .collect()
    };
    let workload_json = |p: &Point| -> Result<serde_json::Value> {
        let r = runs_of(p)
            .first()
            .copied()
            .ok_or_else(|| anyhow!("point {} has no runs", p.key))?;
        Ok(serde_json::to_value(&r.workload)?)
    };
    let first = match report.points.first() {
        Some(p) => workload_json(p)?,
        None => return Ok(Comparison::default_for(baseline)),
    };
    let mut rows = Vec::new();
    for p in &report.points {
        let label = overrides(&workload_json(p)?, &first);
        let mut metrics = BTreeMap::new();
        for m in METRICS {
            let mut values = Vec::new();
            for r in runs_of(p) {
                if let Some(v) = m.of_run(r)? {
                    values.push(v);
                }
            }
            if values.is_empty() {
                continue;
            }
            let (mean, ci95) = mean_ci(&values);
            metrics.insert(
                m.name.to_string(),
                Stat {
                    values,
                    mean,
                    ci95,
                    delta_pct: None,
                },
            );
        }
        rows.push(Row {
            key: p.key.clone(),
            label: if label.is_empty() {
                "baseline".into()
            } else {
                label
            },
            members: p.totals.members_start,
            seeds: p.seeds.clone(),
            metrics,
        });
    }
    let base: BTreeMap<String, f64> = rows[baseline]
        .metrics
        .iter()
        .map(|(k, s)| (k.clone(), s.mean))
        .collect();
    for row in &mut rows {
        for (k, s) in &mut row.metrics {
            s.delta_pct = base
                .get(k)
                .filter(|b| **b != 0.0)
                .map(|b| (s.mean - b) / b * 100.0);
        }
    }
    Ok(Comparison { baseline, rows })
}

impl Comparison {
    fn default_for(baseline: usize) -> Self {
        Comparison {
            baseline,
            rows: Vec::new(),
        }
    }

    /// The comparison as text: one block per metric, a line per point.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let base = self
            .rows
            .get(self.baseline)
            .map_or("", |r| r.label.as_str());
        let _ = writeln!(
            out,
            "comparison (mean over seeds ± 95% CI, Student's t; delta vs point {} [{base}])",
            self.baseline
        );
        let width = self
            .rows
            .iter()
            .map(|r| r.label.len())
            .max()
            .unwrap_or(0)
            .max(8);
        for m in METRICS {
            if !self.rows.iter().any(|r| r.metrics.contains_key(m.name)) {
                continue;
            }
            let _ = writeln!(out, "{} ({})", m.name, m.description);
            for (i, r) in self.rows.iter().enumerate() {
                let Some(s) = r.metrics.get(m.name) else {
                    let _ = writeln!(out, "  {i:>2} {:<width$} {:>14}", r.label, "-");
                    continue;
                };
                let _ = writeln!(
                    out,
                    "  {i:>2} {:<width$} {:>14} {:>16} {:>9}",
                    r.label,
                    fmt_value(s.mean),
                    fmt_ci(s),
                    fmt_delta(s.delta_pct, i == self.baseline)
                );
            }
        }
        out
    }
}

/// A value with about four significant figures.
pub fn fmt_value(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// `± half-width`, or `n=1` when the point has a single seed.
pub fn fmt_ci(s: &Stat) -> String {
    match s.ci95 {
        Some(h) => format!("± {}", fmt_value(h)),
        None => format!("n={}", s.values.len()),
    }
}

/// The delta in percent (`base` for the baseline point itself).
pub fn fmt_delta(d: Option<f64>, is_base: bool) -> String {
    if is_base {
        return "base".into();
    }
    d.map_or("-".into(), |d| format!("{d:+.1}%"))
}

/// One threshold: the metric must not exceed `max`.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    /// Metric name ([`METRICS`]).
    pub name: String,
    /// The largest value that passes.
    pub max: f64,
}

/// Parse `--slo name=value,name=value`; `flag` names the flag in errors.
pub fn parse_slos(flag: &str, s: &str) -> Result<Vec<Slo>> {
    let mut out = Vec::new();
    for item in s.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (name, value) = item
            .split_once('=')
            .ok_or_else(|| anyhow!("{flag}: {item:?} is not name=value"))?;
        let (name, value) = (name.trim(), value.trim());
        if metric(name).is_none() {
            bail!(
                "{flag}: {item:?}: unknown SLO {name:?} (known: {})",
                METRICS
                    .iter()
                    .map(|m| m.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let max: f64 = value
            .parse()
            .with_context(|| format!("{flag}: {item:?}: {value:?} is not a number"))?;
        ensure!(
            max.is_finite() && max >= 0.0,
            "{flag}: {item:?}: the threshold must be a finite number ≥ 0"
        );
        ensure!(
            !out.iter().any(|s: &Slo| s.name == name),
            "{flag}: {item:?}: {name} is given twice"
        );
        out.push(Slo {
            name: name.into(),
            max,
        });
    }
    ensure!(!out.is_empty(), "{flag}: no thresholds given");
    Ok(out)
}

/// One SLO evaluated on one point.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SloCheck {
    /// Index in `points`.
    pub point: usize,
    /// The point's label (as in the comparison).
    pub label: String,
    /// Metric name.
    pub name: String,
    /// Threshold (largest passing value).
    pub max: f64,
    /// The point's value (absent if the point recorded none, e.g. no joins: that fails).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Whether `value` ≤ `max`.
    pub pass: bool,
}

/// Evaluate every SLO on every point of `report`. Point values pool every seed (quantiles
/// of the merged histograms; per-day figures the mean over days of the seeds' means), so a
/// tail across seeds counts.
pub fn evaluate(report: &Report, slos: &[Slo], labels: &[String]) -> Result<Vec<SloCheck>> {
    let mut out = Vec::new();
    for (i, p) in report.points.iter().enumerate() {
        for s in slos {
            let m = metric(&s.name).ok_or_else(|| anyhow!("unknown SLO {}", s.name))?;
            let value = m.of_point(p)?;
            out.push(SloCheck {
                point: i,
                label: labels.get(i).cloned().unwrap_or_default(),
                name: s.name.clone(),
                max: s.max,
                value,
                pass: value.is_some_and(|v| v <= s.max),
            });
        }
    }
    Ok(out)
}

/// The SLO checks as a PASS/FAIL table.
pub fn slo_table(checks: &[SloCheck]) -> String {
    let mut out = String::from("SLOs (value of each point ≤ threshold)\n");
    let width = checks
        .iter()
        .map(|c| c.label.len())
        .max()
        .unwrap_or(0)
        .max(8);
    for c in checks {
        let _ = writeln!(
            out,
            "  {} {:>2} {:<width$} {:<24} {:>14} ≤ {:<12}",
            if c.pass { "PASS" } else { "FAIL" },
            c.point,
            c.label,
            c.name,
            c.value.map_or("none".into(), fmt_value),
            fmt_value(c.max)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slo_parsing_names_the_item() {
        let s = parse_slos("--slo", "commit_p99_ms=50, join_p50_ms=2000").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].max, 2000.0);
        for (bad, item) in [
            ("bogus_ms=3", "bogus_ms=3"),
            ("commit_p99_ms=fast", "commit_p99_ms=fast"),
            ("commit_p99_ms", "commit_p99_ms"),
            ("commit_p99_ms=-1", "commit_p99_ms=-1"),
        ] {
            let e = format!("{:#}", parse_slos("--slo", bad).unwrap_err());
            assert!(e.contains("--slo") && e.contains(item), "{bad}: {e}");
        }
    }
}
