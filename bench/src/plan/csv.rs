//! CSV export of a report's series (`canopy plan --csv`, `canopy merge --csv`): every run's
//! per-commit series and per-day figures, one row per commit or day, beside the JSON file as
//! `<result>-commits.csv` and `<result>-days.csv` (columns in `docs/plan-schema.md`).
//!
//! Every row starts with `point` (index into the report's `points`), `run` (index into
//! `runs`), `workload` and `seed`, so the rows of a sweep's runs can be told apart; the other
//! columns carry the JSON's names and values. Numbers are written in their shortest exact
//! form, so a reader parses back the JSON's values bit for bit. The days' histograms stay in
//! the JSON.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::report::{point_key, CommitSeries, Day, Report, Run};

/// Columns of the per-commit file after the run columns: the fields of `commits`.
pub const COMMIT_COLUMNS: [&str; 15] = [
    "time_s",
    "create_ns",
    "process_ns",
    "create_cost_ns",
    "process_cost_ns",
    "create_cpu_ns",
    "process_cpu_ns",
    "hpke_seals",
    "bytes",
    "blank_fraction",
    "members",
    "online",
    "proposals",
    "proposal_bytes",
    "real_crypto",
];

/// Columns of the per-day file after the run columns: the fields of `days[]` except the
/// day's histograms (`create_ns`, `process_ns`) and its per-role breakdown (`roles`, nested
/// objects of counts that stay in the JSON).
pub const DAY_COLUMNS: [&str; 29] = [
    "day",
    "commits",
    "adds",
    "removes",
    "updates",
    "members_end",
    "blank_fraction_end",
    "blank_fraction_mean",
    "blank_fraction_max",
    "committer_cpu_s",
    "joiners_cpu_s",
    "member_cpu_s",
    "measured_member_cpu_s",
    "ds_fanout_bytes",
    "hpke_seals",
    "commit_bytes",
    "ds_ingress_bytes",
    "ds_egress_bytes",
    "ds_messages_in",
    "ds_messages_out",
    "app_messages",
    "app_ingress_bytes",
    "app_egress_bytes",
    "app_member_cpu_s",
    "key_package_uploads",
    "key_package_fetches",
    "key_package_ingress_bytes",
    "key_package_egress_bytes",
    "ds_cpu_s",
];

/// The columns that say which run a row belongs to.
pub const RUN_COLUMNS: [&str; 4] = ["point", "run", "workload", "seed"];

/// The CSV paths beside a result file `<stem>.json`: `<stem>-commits.csv`, `<stem>-days.csv`.
pub fn paths(json: &Path) -> [PathBuf; 2] {
    let stem = json
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let beside = |suffix: &str| json.with_file_name(format!("{stem}-{suffix}.csv"));
    [beside("commits"), beside("days")]
}

/// Write both CSV files beside `json` (each to a temporary name, then renamed); returns
/// their paths.
pub fn write(report: &Report, json: &Path) -> Result<[PathBuf; 2]> {
    let [commits, days] = paths(json);
    super::write_atomically(&commits, commits_csv(report)?.as_bytes())?;
    super::write_atomically(&days, days_csv(report)?.as_bytes())?;
    Ok([commits, days])
}

/// The per-commit CSV: a header, then one row per commit of every run.
pub fn commits_csv(report: &Report) -> Result<String> {
    let mut out = header(&COMMIT_COLUMNS);
    for (r, run) in report.runs.iter().enumerate() {
        let prefix = run_prefix(report, r, run);
        let c: &CommitSeries = &run.commits;
        for i in 0..c.time_s.len() {
            let at = |v: &[u64]| {
                v.get(i)
                    .copied()
                    .context("commit series of unequal lengths")
            };
            // Columns added later are empty in older files: their cells stay empty.
            let later = |v: &[u64]| {
                if v.is_empty() {
                    Ok(String::new())
                } else {
                    at(v).map(|x| x.to_string())
                }
            };
            let fields = [
                c.time_s[i].to_string(),
                at(&c.create_ns)?.to_string(),
                at(&c.process_ns)?.to_string(),
                at(&c.create_cost_ns)?.to_string(),
                at(&c.process_cost_ns)?.to_string(),
                at(&c.create_cpu_ns)?.to_string(),
                at(&c.process_cpu_ns)?.to_string(),
                at(&c.hpke_seals)?.to_string(),
                at(&c.bytes)?.to_string(),
                c.blank_fraction
                    .get(i)
                    .context("commit series of unequal lengths")?
                    .to_string(),
                at(&c.members)?.to_string(),
                later(&c.online)?,
                later(&c.proposals)?,
                later(&c.proposal_bytes)?,
                // Files written before fast mode have no column: every commit was real.
                c.real_crypto.get(i).copied().unwrap_or(1).to_string(),
            ];
            row(&mut out, &prefix, &fields)?;
        }
    }
    Ok(out)
}

/// The per-day CSV: a header, then one row per day of every run.
pub fn days_csv(report: &Report) -> Result<String> {
    let mut out = header(&DAY_COLUMNS);
    for (r, run) in report.runs.iter().enumerate() {
        let prefix = run_prefix(report, r, run);
        for d in &run.days {
            row(&mut out, &prefix, &day_fields(d))?;
        }
    }
    Ok(out)
}

fn day_fields(d: &Day) -> [String; 29] {
    [
        d.day.to_string(),
        d.commits.to_string(),
        d.adds.to_string(),
        d.removes.to_string(),
        d.updates.to_string(),
        d.members_end.to_string(),
        d.blank_fraction_end.to_string(),
        d.blank_fraction_mean.to_string(),
        d.blank_fraction_max.to_string(),
        d.committer_cpu_s.to_string(),
        d.joiners_cpu_s.to_string(),
        d.member_cpu_s.to_string(),
        d.measured_member_cpu_s.to_string(),
        d.ds_fanout_bytes.to_string(),
        d.hpke_seals.to_string(),
        d.commit_bytes.to_string(),
        d.ds_ingress_bytes.to_string(),
        d.ds_egress_bytes.to_string(),
        d.ds_messages_in.to_string(),
        d.ds_messages_out.to_string(),
        d.app_messages.to_string(),
        d.app_ingress_bytes.to_string(),
        d.app_egress_bytes.to_string(),
        d.app_member_cpu_s.to_string(),
        d.key_package_uploads.to_string(),
        d.key_package_fetches.to_string(),
        d.key_package_ingress_bytes.to_string(),
        d.key_package_egress_bytes.to_string(),
        d.ds_cpu_s.to_string(),
    ]
}

fn header(columns: &[&str]) -> String {
    let mut out = RUN_COLUMNS.join(",");
    for c in columns {
        out.push(',');
        out.push_str(c);
    }
    out.push('\n');
    out
}

/// `point,run,workload,seed` of run `r` (the point's index is empty if no point has the
/// run's key, which `assemble` never produces).
fn run_prefix(report: &Report, r: usize, run: &Run) -> String {
    let key = point_key(&run.workload);
    let point = report
        .points
        .iter()
        .position(|p| p.key == key)
        .map_or_else(String::new, |p| p.to_string());
    format!(
        "{point},{r},{},{}",
        quote(&run.workload.name),
        run.workload.seed
    )
}

fn row(out: &mut String, prefix: &str, fields: &[String]) -> Result<()> {
    write!(out, "{prefix}")?;
    for f in fields {
        write!(out, ",{f}")?;
    }
    out.push('\n');
    Ok(())
}

/// A text field as RFC 4180 wants it: quoted (with doubled quotes) when it holds a comma, a
/// quote or a line break.
fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_fields_are_quoted_only_when_needed() {
        assert_eq!(quote("smoke"), "smoke");
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn csv_files_sit_beside_the_json() {
        let [c, d] = paths(Path::new("/r/plan-x-20260101T000000Z.json"));
        assert_eq!(c, Path::new("/r/plan-x-20260101T000000Z-commits.csv"));
        assert_eq!(d, Path::new("/r/plan-x-20260101T000000Z-days.csv"));
    }
}
