//! The wall-time tier (advisory, never blocks): criterion's saved estimates of two baselines
//! compared in one table.
//!
//! Criterion keeps, per benchmark, `target/criterion/<group>/<function>/<param>/<baseline>/
//! estimates.json`: `new` is the latest run and `base` the run before it (or any name given to
//! `--save-baseline`). Typical use:
//!
//! ```text
//! git checkout main   && cargo bench --bench ops -- --save-baseline main
//! git checkout branch && cargo bench --bench ops -- --save-baseline branch
//! canopy gate wall --base main --new branch
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// One benchmark present in both baselines.
#[derive(Debug, Clone, PartialEq)]
pub struct WallRow {
    /// Benchmark id (`commit/canopy/1000`).
    pub id: String,
    /// Median of the base run, ns.
    pub base_ns: f64,
    /// Median of the new run, ns.
    pub new_ns: f64,
}

impl WallRow {
    /// Change of the median, percent.
    pub fn change_pct(&self) -> f64 {
        if self.base_ns > 0.0 {
            (self.new_ns - self.base_ns) / self.base_ns * 100.0
        } else {
            0.0
        }
    }
}

/// The median point estimate (ns) in a criterion `estimates.json`.
pub fn median_ns(estimates_json: &str) -> Result<f64> {
    let v: serde_json::Value = serde_json::from_str(estimates_json)?;
    v["median"]["point_estimate"]
        .as_f64()
        .context("estimates.json has no median.point_estimate")
}

/// Every benchmark under `dir` with estimates for both `base` and `new`, sorted by change
/// (largest slow-down first).
pub fn collect(dir: &Path, base: &str, new: &str) -> Result<Vec<WallRow>> {
    let mut rows = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() && p.file_name().is_some_and(|n| n != "report") {
                stack.push(p);
            }
        }
        let (b, n): (PathBuf, PathBuf) = (
            d.join(base).join("estimates.json"),
            d.join(new).join("estimates.json"),
        );
        if b.is_file() && n.is_file() {
            let id = d
                .strip_prefix(dir)
                .unwrap_or(&d)
                .to_string_lossy()
                .into_owned();
            let read = |p: &Path| -> Result<f64> {
                median_ns(&std::fs::read_to_string(p)?)
                    .with_context(|| format!("reading {}", p.display()))
            };
            rows.push(WallRow {
                id,
                base_ns: read(&b)?,
                new_ns: read(&n)?,
            });
        }
    }
    rows.sort_by(|a, b| b.change_pct().total_cmp(&a.change_pct()));
    Ok(rows)
}

/// The rows as a markdown table.
pub fn markdown(rows: &[WallRow], base: &str, new: &str) -> String {
    let mut s = format!(
        "Wall time (advisory, never blocks): criterion medians, `{base}` → `{new}`\n\n\
         | benchmark | {base} | {new} | change |\n|---|---:|---:|---:|\n"
    );
    let fmt = |ns: f64| {
        if ns >= 1e6 {
            format!("{:.3} ms", ns / 1e6)
        } else {
            format!("{:.3} µs", ns / 1e3)
        }
    };
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:+.1}% |",
            r.id,
            fmt(r.base_ns),
            fmt(r.new_ns),
            r.change_pct()
        );
    }
    if rows.is_empty() {
        s.push_str("| (no benchmark has both estimates) | | | |\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_saved_estimates() {
        let dir = std::env::temp_dir().join(format!("canopy-wall-{}", std::process::id()));
        let est = |median: f64| {
            format!(
                r#"{{"mean":{{"point_estimate":{median}}},"median":{{"point_estimate":{median},"standard_error":1.0}}}}"#
            )
        };
        for (id, b, n) in [
            ("commit/canopy/1000", 100.0, 110.0),
            ("join/x/1", 50.0, 40.0),
        ] {
            for (name, v) in [("base", b), ("new", n)] {
                let d = dir.join(id).join(name);
                std::fs::create_dir_all(&d).unwrap();
                std::fs::write(d.join("estimates.json"), est(v)).unwrap();
            }
        }
        let rows = collect(&dir, "base", "new").unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id, "commit/canopy/1000");
        assert!((rows[0].change_pct() - 10.0).abs() < 1e-9);
        assert!((rows[1].change_pct() + 20.0).abs() < 1e-9);
        let md = markdown(&rows, "base", "new");
        assert!(md.contains("| commit/canopy/1000 | 0.100 µs | 0.110 µs | +10.0% |"));
    }
}
