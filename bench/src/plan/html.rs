//! The HTML report: one self-contained file (inline CSS and SVG, no scripts, no network),
//! viewable offline in any browser, and a pure function of the report (the same JSON gives
//! the same bytes). Per point: the latency distributions by commit kind, latency by day, the
//! hourly series, the per-day and per-kind tables, and the first run's per-commit plots; the
//! workload's waves and reorganisations are marked on every plot over days.
//!
//! # Internal documentation
//!
//! Every plot is a [`super::svg::Plot`]. A new per-hour series (one value per hour from the
//! start of the run) is one [`super::svg::hourly_plot`] call: it bins long runs, marks the
//! annotations and says how it binned.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use canopy_workloads::churn::{Workload, DAY};
use hdrhistogram::Histogram;

use super::compare::{fmt_ci, fmt_delta, fmt_value, Comparison, SloCheck, METRICS};
use super::device::{fmt_secs, Device, MESSAGE_CLASSES};
use super::report::{
    fmt_bytes, fmt_minute, hist_decode, point_key, quantiles, summary_table, Point, Report, Run,
};
use super::sim::COMMIT_KINDS;
use super::svg::{
    bin_hourly, esc, hourly_plot, Annotation, Axis, Figures, Hourly, Mark, Plot, Series, Unit,
};

/// Colours of the commit kinds' lines, in the order of [`COMMIT_KINDS`], after "all".
const KIND_COLORS: [&str; COMMIT_KINDS.len() + 1] = [
    "#222222", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e",
];

/// Nines between two points of a percentile curve: 81 points from 0 to 4.
const CURVE_STEP: f64 = 0.05;

/// Commits averaged into one point of the per-commit plots: at most this many points.
const COMMIT_BUCKETS: usize = 300;

/// The annotations of a workload: a line at each onboarding wave (+persons) and
/// reorganisation (−persons), on the day axis.
pub fn annotations(w: &Workload) -> Vec<Annotation> {
    let waves = w.waves.iter().map(|v| Annotation {
        x: v.day,
        mark: Mark::Wave,
        label: format!("+{}", v.persons),
    });
    let reorgs = w.reorgs.iter().map(|r| Annotation {
        x: r.day,
        mark: Mark::Reorg,
        label: format!("−{}", r.persons),
    });
    waves.chain(reorgs).collect()
}

/// The percentile distribution of a histogram, HdrHistogram style: (nines, value) every
/// 0.05 nines from 0 (the minimum) to 4 (the 99.99th percentile), where nines =
/// −log10(1 − q). Empty for an empty histogram.
pub fn percentile_curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let steps = (4.0 / CURVE_STEP).round() as u32;
    (0..=steps)
        .map(|i| {
            let x = f64::from(i) * CURVE_STEP;
            // The quantile a hair low: 1 − 10^−x carries rounding error, and one ulp above
            // q × count would move the rank (rounded up) to the next recorded value.
            let q = if i == 0 {
                0.0
            } else {
                1.0 - 10f64.powf(-x) - 1e-12
            };
            (x, h.value_at_quantile(q) as f64)
        })
        .collect()
}

/// The latency distributions of a point, all commits and each kind: creation, or processing
/// per sampled receiver.
fn distribution_plot(p: &Point, process: bool) -> Result<Plot<'static>> {
    let name = if process {
        "commit_process_ns"
    } else {
        "commit_create_ns"
    };
    let mut series = Vec::new();
    let keys = std::iter::once((name.to_string(), "all commits"))
        .chain(COMMIT_KINDS.iter().map(|k| (format!("{name}.{k}"), *k)));
    for ((key, label), color) in keys.zip(KIND_COLORS) {
        let Some(enc) = p.histograms.get(&key) else {
            continue;
        };
        let h = hist_decode(enc).with_context(|| format!("histogram {key}"))?;
        if h.is_empty() {
            continue;
        }
        series.push(Series {
            label: format!("{label} (n={})", h.len()),
            color,
            points: percentile_curve(&h),
        });
    }
    Ok(Plot {
        title: if process {
            "Commit processing latency per receiver by commit kind: percentile distribution"
        } else {
            "Commit creation latency by commit kind: percentile distribution"
        }
        .into(),
        figures: Figures::Measured,
        note: Some("wall-clock on the measuring host; every seed of the point pooled".into()),
        x: Axis::percentiles(),
        y: Axis::log("latency", Unit::Nanos),
        series,
        annotations: &[],
    })
}

/// Daily latency percentiles of a point.
fn latency_plot<'a>(
    p: &Point,
    process: bool,
    days: f64,
    marks: &'a [Annotation],
) -> Result<Plot<'a>> {
    let mut q = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for d in &p.days {
        let enc = if process { &d.process_ns } else { &d.create_ns };
        let h = hist_decode(enc).with_context(|| format!("day {} latency histogram", d.day))?;
        if h.is_empty() {
            continue;
        }
        let x = f64::from(d.day) + 0.5;
        for (i, qq) in [0.5, 0.9, 0.99].into_iter().enumerate() {
            q[i].push((x, h.value_at_quantile(qq) as f64));
        }
        q[3].push((x, h.max() as f64));
    }
    let series = q
        .into_iter()
        .zip([
            ("p50", "#1f77b4"),
            ("p90", "#2ca02c"),
            ("p99", "#ff7f0e"),
            ("max", "#d62728"),
        ])
        .map(|(points, (label, color))| Series {
            label: label.into(),
            color,
            points,
        })
        .collect();
    Ok(Plot {
        title: if process {
            "Commit processing latency per receiver (wall-clock), by day"
        } else {
            "Commit creation latency (wall-clock), by day"
        }
        .into(),
        figures: Figures::Measured,
        note: None,
        x: Axis::days(days),
        y: Axis::log("latency", Unit::Nanos),
        series,
        annotations: marks,
    })
}

/// Per-hour series of a run or a point, one value per hour from the start.
#[derive(Debug, Clone, PartialEq)]
pub struct HourlySeries {
    /// Commits.
    pub commits: Vec<f64>,
    /// Bytes of commits the delivery service sends: each commit to every other member at
    /// the time (removed members included). Welcomes and Update proposals, which the
    /// per-day `ds_fanout_bytes` also counts, are not in the per-commit series.
    pub commit_fanout_bytes: Vec<f64>,
}

/// The hours a run covers: its days, or longer if a commit came later.
fn run_hours(run: &Run) -> usize {
    let days = (run.workload.days * 24.0).ceil().max(1.0) as usize;
    let last = run
        .commits
        .time_s
        .last()
        .map_or(0, |t| (t / 3600.0).floor().max(0.0) as usize + 1);
    days.max(last)
}

/// The per-hour series of a run, binned from its per-commit series.
pub fn run_hourly(run: &Run) -> HourlySeries {
    let hours = run_hours(run);
    let c = &run.commits;
    let ones = std::iter::repeat_n(1.0, c.time_s.len());
    // Each commit goes to the members before it (the previous commit's members, or the
    // start's) but its committer.
    let before = std::iter::once(run.totals.members_start).chain(c.members.iter().copied());
    let fanout = c
        .bytes
        .iter()
        .zip(before)
        .map(|(&b, m)| (b * m.saturating_sub(1)) as f64);
    HourlySeries {
        commits: bin_hourly(&c.time_s, ones, hours),
        commit_fanout_bytes: bin_hourly(&c.time_s, fanout, hours),
    }
}

/// The per-hour series of a point: each hour the mean over its runs (like the point's
/// days; a run shorter than the longest counts 0 in the hours it lacks).
pub fn point_hourly(runs: &[&Run]) -> HourlySeries {
    let all: Vec<HourlySeries> = runs.iter().map(|r| run_hourly(r)).collect();
    let hours = all.iter().map(|h| h.commits.len()).max().unwrap_or(0);
    let k = all.len().max(1) as f64;
    let mean = |f: fn(&HourlySeries) -> &Vec<f64>| {
        (0..hours)
            .map(|i| all.iter().filter_map(|h| f(h).get(i)).sum::<f64>() / k)
            .collect()
    };
    HourlySeries {
        commits: mean(|h| &h.commits),
        commit_fanout_bytes: mean(|h| &h.commit_fanout_bytes),
    }
}

/// The hourly plots of a point: commits per hour, and commit bytes the DS fans out per hour.
fn hourly_plots<'a>(runs: &[&Run], days: f64, marks: &'a [Annotation]) -> Vec<Plot<'a>> {
    let h = point_hourly(runs);
    let seeds = if runs.len() > 1 {
        format!(", mean over {} seeds", runs.len())
    } else {
        String::new()
    };
    [
        (
            format!("Commits per hour{seeds}"),
            Axis::linear("commits per hour", Unit::Count),
            "commits",
            &h.commits,
        ),
        (
            format!("Commit bytes fanned out by the DS per hour{seeds}"),
            Axis::linear("bytes per hour", Unit::Bytes),
            "commits × other members",
            &h.commit_fanout_bytes,
        ),
    ]
    .into_iter()
    .map(|(title, y, label, values)| {
        hourly_plot(
            title,
            Figures::Exact,
            y,
            days,
            &[Hourly {
                label,
                color: "#1f77b4",
                peak_color: "#d62728",
                values,
            }],
            marks,
        )
    })
    .collect()
}

/// Points of a plotted line: (x, y).
type Points = Vec<(f64, f64)>;

/// Per-commit series averaged into at most `buckets` buckets of consecutive commits: (day of
/// the bucket's middle, mean) and (day, max).
fn bucketed(run: &Run, values: &[f64], buckets: usize) -> (Points, Points) {
    let n = values.len();
    let mut mean = Vec::new();
    let mut max = Vec::new();
    if n == 0 {
        return (mean, max);
    }
    let size = n.div_ceil(buckets.max(1));
    for (b, chunk) in values.chunks(size).enumerate() {
        let mid = (b * size + chunk.len() / 2).min(n - 1);
        let x = run.commits.time_s[mid] / DAY;
        mean.push((x, chunk.iter().sum::<f64>() / chunk.len() as f64));
        max.push((x, chunk.iter().copied().fold(0.0, f64::max)));
    }
    (mean, max)
}

/// The blank-fraction plot of a run.
pub fn blank_plot<'a>(run: &Run, marks: &'a [Annotation]) -> Plot<'a> {
    let mut pts = vec![(0.0, run.totals.blank_fraction_start)];
    pts.extend(
        run.commits
            .time_s
            .iter()
            .zip(&run.commits.blank_fraction)
            .map(|(&t, &b)| (t / DAY, b)),
    );
    // At most ~1000 points: keep every k-th.
    let k = (pts.len() / 1000).max(1);
    let pts: Vec<(f64, f64)> = pts.into_iter().step_by(k).collect();
    Plot {
        title: "Blank parent nodes (fraction of parents with members on both sides)".into(),
        figures: Figures::Exact,
        note: (k > 1).then(|| format!("every {k}th commit")),
        x: Axis::days(run.workload.days),
        y: Axis::linear("blank fraction of parents", Unit::Count),
        series: vec![Series {
            label: "after each commit".into(),
            color: "#9467bd",
            points: pts,
        }],
        annotations: marks,
    }
}

/// Plots of one run: seals and bytes per commit.
fn per_commit_plots<'a>(run: &Run, marks: &'a [Annotation]) -> Vec<Plot<'a>> {
    let seals: Vec<f64> = run.commits.hpke_seals.iter().map(|&v| v as f64).collect();
    let bytes: Vec<f64> = run.commits.bytes.iter().map(|&v| v as f64).collect();
    let mut plots = Vec::new();
    for (title, y, values) in [
        (
            "HPKE seals per commit (buckets of consecutive commits)",
            Axis::linear("seals per commit", Unit::Count),
            &seals,
        ),
        (
            "Commit size (buckets of consecutive commits)",
            Axis::linear("commit size", Unit::Bytes),
            &bytes,
        ),
    ] {
        let (mean, max) = bucketed(run, values, COMMIT_BUCKETS);
        let per = values.len().div_ceil(COMMIT_BUCKETS).max(1);
        plots.push(Plot {
            title: title.into(),
            figures: Figures::Exact,
            note: Some(format!("{} commits, {per} per bucket", values.len())),
            x: Axis::days(run.workload.days),
            y,
            series: vec![
                Series {
                    label: "mean".into(),
                    color: "#1f77b4",
                    points: mean,
                },
                Series {
                    label: "max".into(),
                    color: "#d62728",
                    points: max,
                },
            ],
            annotations: marks,
        });
    }
    plots
}

/// The delivery service of a point: its figures, the burst per commit kind, the hourly
/// traffic and the backlog.
fn ds_section(p: &Point, days: f64, marks: &[Annotation]) -> Result<String> {
    let ds = &p.ds;
    let mut h = String::from("<h3>Delivery service</h3>");
    if ds.hours == 0 {
        h.push_str("<p>Not recorded (a file written before the delivery-service model).</p>");
        return Ok(h);
    }
    let n_days = p.days.len().max(1) as f64;
    let per_day = |f: fn(&super::report::Day) -> u64| {
        fmt_bytes(p.days.iter().map(|d| f(d) as f64).sum::<f64>() / n_days)
    };
    let count_per_day = |f: fn(&super::report::Day) -> u64| {
        format!(
            "{:.1}",
            p.days.iter().map(|d| f(d) as f64).sum::<f64>() / n_days
        )
    };
    let pm = &ds.peak_minute;
    let st = &ds.storage;
    let app = &ds.app_message;
    let when = |m: &[u64]| {
        esc(&m
            .iter()
            .map(|&x| fmt_minute(x))
            .collect::<Vec<_>>()
            .join(", "))
    };
    let rows: Vec<(String, String)> = vec![
        ("ingress per day".into(), per_day(|d| d.ds_ingress_bytes)),
        ("egress per day".into(), per_day(|d| d.ds_egress_bytes)),
        (
            "of which commits, proposals, Welcomes per day".into(),
            per_day(|d| d.ds_fanout_bytes),
        ),
        (
            "application messages per day".into(),
            count_per_day(|d| d.app_messages),
        ),
        (
            "application ingress / egress per day".into(),
            format!(
                "{} / {}",
                per_day(|d| d.app_ingress_bytes),
                per_day(|d| d.app_egress_bytes)
            ),
        ),
        (
            "application message (plaintext → wire)".into(),
            format!(
                "{} → {}; sender {:.1} µs, each receiver {:.1} µs (profile-based)",
                fmt_bytes(app.plaintext_bytes as f64),
                fmt_bytes(app.wire_bytes as f64),
                app.send_cost_ns / 1e3,
                app.receive_cost_ns / 1e3
            ),
        ),
        (
            "KeyPackages uploaded / fetched per day".into(),
            format!(
                "{} ({}) / {} ({})",
                count_per_day(|d| d.key_package_uploads),
                per_day(|d| d.key_package_ingress_bytes),
                count_per_day(|d| d.key_package_fetches),
                per_day(|d| d.key_package_egress_bytes)
            ),
        ),
        (
            format!("peak minute ({})", when(&pm.minutes)),
            format!(
                "egress {}, ingress {}, {} messages in, {} copies out",
                fmt_bytes(pm.egress_bytes as f64),
                fmt_bytes(pm.ingress_bytes as f64),
                pm.messages_in,
                pm.messages_out
            ),
        ),
        (
            "ratchet tree (start → end)".into(),
            format!(
                "{} → {}",
                fmt_bytes(st.tree_bytes_start as f64),
                fmt_bytes(st.tree_bytes_end as f64)
            ),
        ),
        (
            "GroupInfo with the tree (start → end)".into(),
            format!(
                "{} → {}",
                fmt_bytes(st.group_info_bytes_start as f64),
                fmt_bytes(st.group_info_bytes_end as f64)
            ),
        ),
        (
            "KeyPackages kept (start → end)".into(),
            format!(
                "{} → {}",
                fmt_bytes(st.key_package_bytes_start as f64),
                fmt_bytes(st.key_package_bytes_end as f64)
            ),
        ),
        (
            format!(
                "backlog for long-offline devices, peak ({}), retention {} days",
                when(&st.backlog_peak_minutes),
                st.retention_days
            ),
            format!(
                "{} (end {})",
                fmt_bytes(st.backlog_bytes_peak as f64),
                fmt_bytes(st.backlog_bytes_end as f64)
            ),
        ),
    ];
    h.push_str("<table id=\"ds\">");
    for (k, v) in rows {
        // Row labels are escaped where they are built (`when`) or are plain text.
        let _ = write!(
            h,
            "<tr><td style=\"text-align:left\">{k}</td><td>{}</td></tr>",
            esc(&v)
        );
    }
    h.push_str("</table>");
    h.push_str(
        "<h4>Egress of one commit's fan-out (commit, Welcomes, trees)</h4><table>\
         <tr><th>kind</th><th>commits</th><th>p50</th><th>p99</th><th>max</th></tr>",
    );
    let mut kinds = vec![("all".to_string(), "ds_commit_burst_bytes".to_string())];
    for k in super::sim::COMMIT_KINDS {
        kinds.push((k.to_string(), format!("ds_commit_burst_bytes.{k}")));
    }
    for (kind, name) in kinds {
        let Some(enc) = p.histograms.get(&name) else {
            continue;
        };
        let Some([p50, _, p99, max]) = quantiles(enc)? else {
            continue;
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&kind),
            hist_decode(enc)?.len(),
            fmt_bytes(p50 as f64),
            fmt_bytes(p99 as f64),
            fmt_bytes(max as f64)
        );
    }
    h.push_str("</table>");
    let as_f64 = |v: &[u64]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let (egress, ingress, backlog) = (
        as_f64(&ds.hourly.egress_bytes),
        as_f64(&ds.hourly.ingress_bytes),
        as_f64(&ds.hourly.backlog_bytes),
    );
    emit(
        &mut h,
        &hourly_plot(
            "Delivery-service traffic per hour".into(),
            Figures::Exact,
            Axis::linear("bytes per hour", Unit::Bytes),
            days,
            &[
                Hourly {
                    label: "egress",
                    color: "#d62728",
                    peak_color: "#ff9896",
                    values: &egress,
                },
                Hourly {
                    label: "ingress",
                    color: "#1f77b4",
                    peak_color: "#aec7e8",
                    values: &ingress,
                },
            ],
            marks,
        ),
    );
    if backlog.iter().any(|&b| b > 0.0) {
        emit(
            &mut h,
            &hourly_plot(
                "Backlog held for long-offline devices (end of each hour)".into(),
                Figures::Exact,
                Axis::linear("bytes held", Unit::Bytes),
                days,
                &[Hourly {
                    label: "backlog",
                    color: "#9467bd",
                    peak_color: "#c5b0d5",
                    values: &backlog,
                }],
                marks,
            ),
        );
    }
    Ok(h)
}

/// The comparison of a sweep's points: a table (metrics × points) and, when the points
/// differ in members, the cost-versus-members plots.
fn comparison_section(c: &Comparison) -> String {
    let mut h = String::from(
        "<h2>Comparison of the points</h2><p>Mean over seeds ± half-width of the 95% \
         confidence interval (Student's t over the per-seed values; <i>n=1</i>: one seed), and \
         the change against the baseline point.</p><table id=\"comparison\"><tr><th>#</th>\
         <th>point</th><th>seeds</th>",
    );
    let shown: Vec<_> = METRICS
        .iter()
        .filter(|m| c.rows.iter().any(|r| r.metrics.contains_key(m.name)))
        .collect();
    for m in &shown {
        let _ = write!(
            h,
            "<th title=\"{}\">{}</th>",
            esc(m.description),
            esc(m.name)
        );
    }
    h.push_str("</tr>");
    for (i, r) in c.rows.iter().enumerate() {
        let _ = write!(
            h,
            "<tr><td>{i}</td><td style=\"text-align:left\">{}</td><td>{}</td>",
            esc(&r.label),
            r.seeds.len()
        );
        for m in &shown {
            match r.metrics.get(m.name) {
                Some(s) => {
                    let _ = write!(
                        h,
                        "<td>{}<br>{}<br>{}</td>",
                        esc(&fmt_value(s.mean)),
                        esc(&fmt_ci(s)),
                        esc(&fmt_delta(s.delta_pct, i == c.baseline))
                    );
                }
                None => h.push_str("<td>-</td>"),
            }
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    let mut members: Vec<u64> = c.rows.iter().map(|r| r.members).collect();
    members.sort_unstable();
    members.dedup();
    if members.len() > 1 {
        h.push_str(&cost_plots(c));
    }
    h
}

/// Cost against members: one plot per group of metrics, each line the means over seeds.
fn cost_plots(c: &Comparison) -> String {
    const COLORS: [&str; 3] = ["#1f77b4", "#ff7f0e", "#2ca02c"];
    // Latency metrics are in ms, plotted in ns so that the axis picks µs, ms or s.
    let groups: [(&str, Figures, Axis, f64, &[&str]); 5] = [
        (
            "Commit creation latency vs members",
            Figures::Measured,
            Axis::linear("latency", Unit::Nanos),
            1e6,
            &["commit_p50_ms", "commit_p99_ms"],
        ),
        (
            "Commit processing latency vs members",
            Figures::Measured,
            Axis::linear("latency", Unit::Nanos),
            1e6,
            &["process_p50_ms", "process_p99_ms"],
        ),
        (
            "Join latency vs members",
            Figures::Measured,
            Axis::linear("latency", Unit::Nanos),
            1e6,
            &["join_p50_ms"],
        ),
        (
            "Message sizes vs members",
            Figures::Exact,
            Axis::linear("message size", Unit::Bytes),
            1.0,
            &["commit_bytes_p50", "commit_bytes_p99", "welcome_bytes_p50"],
        ),
        (
            "DS egress per day vs members",
            Figures::Exact,
            Axis::linear("bytes per day", Unit::Bytes),
            1.0,
            &["ds_fanout_bytes_per_day", "ds_egress_bytes_per_day"],
        ),
    ];
    let mut rows: Vec<_> = c.rows.iter().collect();
    rows.sort_by_key(|r| r.members);
    let mut h = String::new();
    for (title, figures, y, scale, names) in groups {
        let series: Vec<Series> = names
            .iter()
            .zip(COLORS)
            .map(|(name, color)| Series {
                label: (*name).to_string(),
                color,
                points: rows
                    .iter()
                    .filter_map(|r| {
                        r.metrics
                            .get(*name)
                            .map(|s| (r.members as f64, s.mean * scale))
                    })
                    .collect(),
            })
            // A line needs two points: a metric only one point recorded is left out.
            .filter(|s| s.points.len() >= 2)
            .collect();
        if !series.is_empty() {
            emit(
                &mut h,
                &Plot {
                    title: title.into(),
                    figures,
                    note: Some("mean over seeds at each point".into()),
                    x: Axis::linear("members at the start", Unit::Count),
                    y,
                    series,
                    annotations: &[],
                },
            );
        }
    }
    h
}

/// The per-device view of a point: a typical online device's day by message class, the
/// sampled receivers' spread, joining, the state and the catch-up after k days offline.
fn device_section(d: &Device) -> String {
    let secs = |s: f64| esc(&fmt_secs(s));
    let bytes = |b: f64| esc(&fmt_bytes(b));
    let mut h = format!(
        "<h3>Per device</h3><p>A typical online device: the mean over the members that are not \
         long offline, weighted by the time each is a member ({:.1} online member-days). CPU \
         is profile-based (exact counts × the cost profile); measured CPU apart.</p>\
         <table id=\"device\"><tr><th>per day</th><th>received</th><th>bytes down</th>\
         <th>processing CPU</th><th>sent</th><th>bytes up</th><th>sending CPU</th>\
         <th>measured CPU</th></tr>",
        d.online_member_days
    );
    for name in MESSAGE_CLASSES {
        let Some(c) = d.messages.get(name) else {
            continue;
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            esc(name),
            c.received,
            bytes(c.received_bytes),
            secs(c.processing.cpu_s),
            c.sent,
            bytes(c.sent_bytes),
            secs(c.sending.cpu_s),
            secs(c.processing.measured_cpu_s + c.sending.measured_cpu_s)
        );
    }
    let t = &d.per_day;
    let processing: f64 = d.messages.values().map(|c| c.processing.cpu_s).sum();
    let sending: f64 = d.messages.values().map(|c| c.sending.cpu_s).sum();
    let _ = write!(
        h,
        "<tr><th>total</th><th>{:.2}</th><th>{}</th><th>{}</th><th>{:.3}</th><th>{}</th>\
         <th>{}</th><th>{}</th></tr><tr><th>CPU</th><td colspan=\"7\">{} profile-based \
         (processing + sending), {} measured</td></tr></table>",
        t.wakeups,
        bytes(t.bytes_down),
        secs(processing),
        t.sent,
        bytes(t.bytes_up),
        secs(sending),
        secs(t.measured_cpu_s),
        secs(t.cpu_s),
        secs(t.measured_cpu_s)
    );
    if let Some(s) = &d.receiver_spread {
        let _ = write!(
            h,
            "<p>Sampled receivers that were members for the whole run ({}), each from its own \
             exact work, per day:</p><table><tr><th></th><th>bytes down</th><th>bytes up</th>\
             <th>wake-ups</th><th>CPU</th><th>measured CPU</th></tr>",
            s.receivers
        );
        for (label, x) in [("p50", &s.p50), ("p99", &s.p99)] {
            let _ = write!(
                h,
                "<tr><td>{label}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td></tr>",
                bytes(x.bytes_down),
                bytes(x.bytes_up),
                x.wakeups,
                secs(x.cpu_s),
                secs(x.measured_cpu_s)
            );
        }
        h.push_str("</table>");
    }
    let j = &d.joining;
    if j.joiners > 0.0 {
        let _ = write!(
            h,
            "<p>Joining, once: Welcome {} down, KeyPackage {} up, join CPU {} (measured {}).</p>",
            bytes(j.welcome_bytes),
            bytes(j.key_package_bytes),
            secs(j.join.cpu_s),
            secs(j.join.measured_cpu_s)
        );
    }
    let st = &d.state;
    let _ = write!(
        h,
        "<p>State at the end, encoded: {} (ratchet tree {}, group context {}, private keys \
         {}).</p>",
        bytes(st.bytes),
        bytes(st.tree_bytes),
        bytes(st.group_context_bytes),
        bytes(st.private_key_bytes)
    );
    if !d.catch_up.is_empty() {
        h.push_str(
            "<table id=\"catch-up\"><tr><th>catch-up after</th><th>windows</th>\
             <th>messages</th><th>bytes</th><th>CPU</th><th>measured CPU</th>\
             <th>worst messages</th><th>worst bytes</th><th>worst CPU</th></tr>",
        );
        for c in &d.catch_up {
            let _ = write!(
                h,
                "<tr><td>{} d</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{:.0}</td><td>{}</td><td>{}</td></tr>",
                c.days,
                c.windows,
                c.mean.messages,
                bytes(c.mean.bytes),
                secs(c.mean.cpu_s),
                secs(c.mean.measured_cpu_s),
                c.worst.messages,
                bytes(c.worst.bytes),
                secs(c.worst.cpu_s)
            );
        }
        h.push_str("</table>");
    }
    h
}

/// The SLO checks as a PASS/FAIL table.
fn slo_section(checks: &[SloCheck]) -> String {
    let failed = checks.iter().filter(|c| !c.pass).count();
    let mut h = format!(
        "<h2>SLOs</h2><p>{} of {} checks failed.</p><table id=\"slo\"><tr><th>result</th>\
         <th>#</th><th>point</th><th>metric</th><th>value</th><th>threshold</th></tr>",
        failed,
        checks.len()
    );
    for c in checks {
        let _ = write!(
            h,
            "<tr><td style=\"color:{}\"><b>{}</b></td><td>{}</td><td style=\"text-align:left\">{}</td>\
             <td>{}</td><td>{}</td><td>≤ {}</td></tr>",
            if c.pass { "#080" } else { "#c00" },
            if c.pass { "PASS" } else { "FAIL" },
            c.point,
            esc(&c.label),
            esc(&c.name),
            c.value.map_or("none".into(), fmt_value),
            fmt_value(c.max)
        );
    }
    h.push_str("</table>");
    h
}

/// The fleet's answers (`canopy plan --fleet`): per size class and for the whole fleet,
/// with the method; the text table as printed, so the two never disagree.
fn fleet_section(f: &super::fleet::Fleet) -> String {
    match &f.summary {
        None => "<h2>Fleet</h2><p>This file is one shard: merge the shards for the fleet's \
                 answers.</p>"
            .into(),
        Some(s) => format!(
            "<h2>Fleet</h2><p>{}</p><pre id=\"fleet\">{}</pre>",
            esc(&s.method),
            esc(&super::fleet::table(s))
        ),
    }
}

/// The banner: how the CPU figures are obtained, the cost profiles and the hosts the runs
/// were measured on (with load warnings).
fn banner(report: &Report) -> String {
    let mut h = String::from(
        "<div id=\"figures\" style=\"border:1px solid #99c;background:#f4f6ff;padding:0.5em 1em\">\
         <p>Which figures are exact and which are measured (each plot says which it shows, \
         at its top right):</p><ul>\
         <li><b style=\"color:#1a7f37\">exact</b>: commit, update, device and member counts, \
         message sizes (commits, Welcomes, GroupInfos), delivery-service fan-out bytes, HPKE \
         seals and resolution sizes, blank fractions, and the engine's primitive counts. They \
         follow from the workload and its seed and are the same on any host.</li>\
         <li><b style=\"color:#0b5cad\">profile-based</b>: <b>CPU figures are profile-based</b>: \
         the engine's exact primitive counts of every commit, sampled processing and sampled \
         join, times a cost profile (ns per operation or byte). The committers' counts are \
         exact; every member's processing and the joiners' are extrapolated from the sampled \
         receivers and joins (method below).</li>\
         <li><b style=\"color:#b35900\">measured</b>: latencies (wall-clock) and measured CPU \
         (process CPU time, all threads). They depend on the host below, its load and its \
         threads, and are shown apart.</li></ul>",
    );
    let mut seen: Vec<String> = Vec::new();
    for run in &report.runs {
        let line = format!(
            "<p>Cost profile: <b>{}</b> (calibrated {} on {}, {} build, canopy {} {})</p>",
            esc(&run.profile.source),
            esc(&run.profile.profile.date),
            esc(&run.profile.profile.host.label()),
            esc(&run.profile.profile.host.build_profile),
            esc(&run.profile.profile.host.canopy_version),
            esc(&run.profile.profile.host.git_revision),
        );
        if !seen.contains(&line) {
            h.push_str(&line);
            seen.push(line);
        }
        let x = &run.host;
        let load = |l: Option<[f64; 3]>| {
            l.map_or("unknown".to_string(), |[a, b, c]| {
                format!("{a:.2} {b:.2} {c:.2}")
            })
        };
        let line = format!(
            "<p>Measured on: {} ({} logical cores, {} rayon threads), {} build, canopy {} {}, \
             {}; load average at start {}, at end {}</p>",
            esc(&x.cpu_model),
            x.logical_cores,
            x.rayon_threads,
            esc(&x.build_profile),
            esc(&x.canopy_version),
            esc(&x.git_revision),
            esc(&x.os),
            load(x.load_average_start),
            load(x.load_average_end),
        );
        if !seen.contains(&line) {
            h.push_str(&line);
            seen.push(line);
        }
        for w in x.warnings.iter().chain(&run.profile.profile.host.warnings) {
            let line = format!("<p style=\"color:#a00\"><b>Warning:</b> {}</p>", esc(w));
            if !seen.contains(&line) {
                h.push_str(&line);
                seen.push(line);
            }
        }
    }
    if report.mixed_hosts {
        h.push_str(
            "<p style=\"color:#a00\"><b>Warning:</b> merged from runs on different hosts \
             (--allow-mixed-hosts): latencies and measured CPU mix machines.</p>",
        );
    }
    h.push_str("</div>");
    h
}

/// Append `plot`, or where it has no line of two points a sentence saying so (a plot without
/// data would only look like a broken one).
fn emit(h: &mut String, plot: &Plot) {
    if plot.has_data() {
        h.push_str(&plot.render());
    } else {
        let _ = write!(
            h,
            "<p class=\"no-data\">{}: no data in this run.</p>",
            esc(&plot.title)
        );
    }
}

/// The whole report as one HTML document.
pub fn render(report: &Report) -> Result<String> {
    let mut h = String::new();
    let title = report
        .points
        .iter()
        .map(|p| p.key.split(':').next().unwrap_or("").to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>canopy plan: {}</title><style>\
         body{{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}}\
         pre{{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:12px}}\
         table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
         svg{{display:block;margin:1em 0;border:1px solid #ddd}}.no-data{{color:#777}}</style></head><body>\
         <h1>Capacity plan: {}</h1><p>Written {} by canopy {} (schema {} v{}, kind {}).</p>",
        esc(&title),
        esc(&title),
        esc(&report.date),
        esc(&report.canopy_version),
        esc(&report.schema),
        report.schema_version,
        esc(&report.kind)
    );
    h.push_str(&banner(report));
    if let Some(c) = &report.comparison {
        h.push_str(&comparison_section(c));
    }
    if !report.slo.is_empty() {
        h.push_str(&slo_section(&report.slo));
    }
    if let Some(f) = &report.fleet {
        h.push_str(&fleet_section(f));
    }
    for p in &report.points {
        let name = p.key.split(':').next().unwrap_or("");
        let _ = write!(
            h,
            "<h2>{}</h2><pre>{}</pre>",
            esc(name),
            esc(&summary_table(report, p)?)
        );
        let runs: Vec<&Run> = report
            .runs
            .iter()
            .filter(|r| point_key(&r.workload) == p.key)
            .collect();
        // Every run of a point has the same workload but for its seed: one set of annotations.
        let marks = runs
            .first()
            .map(|r| annotations(&r.workload))
            .unwrap_or_default();
        let days = runs
            .iter()
            .map(|r| r.workload.days)
            .fold(p.days.len() as f64, f64::max);
        h.push_str("<h3>Latency distributions</h3>");
        for process in [false, true] {
            emit(&mut h, &distribution_plot(p, process)?);
        }
        h.push_str("<h3>Over time</h3>");
        for process in [false, true] {
            emit(&mut h, &latency_plot(p, process, days, &marks)?);
        }
        for plot in hourly_plots(&runs, days, &marks) {
            emit(&mut h, &plot);
        }
        // Per-day table.
        h.push_str(
            "<h3>Per day</h3><table><tr><th>day</th><th>commits</th><th>+dev</th><th>-dev</th>\
             <th>updates</th><th>members</th><th>blank</th><th>committer CPU-s</th>\
             <th>all members CPU-s</th><th>measured all members CPU-s</th><th>DS CPU-s</th>\
             <th>DS fan-out</th></tr>",
        );
        for d in &p.days {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{:.3}</td><td>{:.2}</td><td>{:.1}</td><td>{:.1}</td><td>{:.2}</td>\
                 <td>{}</td></tr>",
                d.day,
                d.commits,
                d.adds,
                d.removes,
                d.updates,
                d.members_end,
                d.blank_fraction_end,
                d.committer_cpu_s,
                d.member_cpu_s,
                d.measured_member_cpu_s,
                d.ds_cpu_s,
                fmt_bytes(d.ds_fanout_bytes as f64)
            );
        }
        h.push_str("</table>");
        h.push_str(
            "<h3>By commit kind (per commit)</h3><table><tr><th>kind</th><th>commits</th>\
             <th>committer</th><th>all receivers</th><th>joiners</th><th>delivery service</th>\
             <th>measured committer</th><th>measured all receivers</th>\
             <th>measured delivery service</th></tr>",
        );
        for (kind, kc) in p.kinds.iter().filter(|(_, k)| k.commits > 0) {
            let per = |s: f64| format!("{:.3} ms", s / kc.commits as f64 * 1e3);
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(kind),
                kc.commits,
                per(kc.roles.committer.cpu_s),
                per(kc.roles.receivers.cpu_s),
                per(kc.roles.joiners.cpu_s),
                per(kc.roles.delivery_service.cpu_s),
                per(kc.roles.committer.measured_cpu_s),
                per(kc.roles.receivers.measured_cpu_s),
                per(kc.roles.delivery_service.measured_cpu_s),
            );
        }
        h.push_str("</table>");
        h.push_str(&ds_section(p, days, &marks)?);
        if let Some(d) = &p.device {
            h.push_str(&device_section(d));
        }
        for run in runs.iter().take(1) {
            let _ = write!(
                h,
                "<h3>Seed {} (first run of the point)</h3>",
                run.workload.seed
            );
            emit(&mut h, &blank_plot(run, &marks));
            for plot in per_commit_plots(run, &marks) {
                emit(&mut h, &plot);
            }
            let _ = write!(
                h,
                "<h3>Method</h3><p>{}</p><p>Mode: <b>{}</b> ({} of {} commits made with real \
                 crypto). Sampled receivers: {}; real joins: {} of {} joiners.</p>\
                 <h3>Workload</h3><pre>{}</pre>",
                esc(&run.sampling.method),
                esc(&run.sampling.mode),
                run.totals.real_commits,
                run.totals.commits,
                run.sampling.receivers,
                run.totals.joins_sampled,
                run.totals.adds,
                esc(&toml::to_string(&run.workload).unwrap_or_default())
            );
        }
    }
    h.push_str("</body></html>\n");
    Ok(h)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use canopy_workloads::churn::{Reorg, Wave};

    use super::*;
    use crate::costs::{CostProfile, HostInfo, ProfileUsed};
    use crate::plan::report::{assemble, hist_encode, CommitSeries, Day, Sampling, Totals};

    /// A run of `days` days with `per_day` commits a day, every figure a fixed function of
    /// the commit's index (no simulation): a wave on day 1.5 and a reorganisation on day 2.5.
    fn synthetic_run(days: u32, per_day: u64) -> Run {
        let workload = Workload {
            name: "synthetic".into(),
            days: f64::from(days),
            waves: vec![Wave {
                day: 1.5,
                persons: 5,
            }],
            reorgs: vec![Reorg {
                day: 2.5,
                persons: 4,
            }],
            ..Workload::default()
        };
        let n = u64::from(days) * per_day;
        let mut commits = CommitSeries::default();
        let mut all: Histogram<u64> = Histogram::new(3).unwrap();
        let mut kinds: Vec<Histogram<u64>> = (0..4).map(|_| Histogram::new(3).unwrap()).collect();
        let mut day_h: Vec<Histogram<u64>> =
            (0..days).map(|_| Histogram::new(3).unwrap()).collect();
        for i in 0..n {
            let t = (i as f64 + 0.5) * 86_400.0 / per_day as f64;
            let ns = 100_000 + (i * 7_919) % 5_000_000;
            commits.time_s.push(t);
            commits.create_ns.push(ns);
            commits.process_ns.push(ns / 2);
            commits.hpke_seals.push(i % 40);
            commits.bytes.push(1_000 + (i * 31) % 20_000);
            commits.blank_fraction.push((i % 100) as f64 / 1000.0);
            commits.members.push(1000);
            all.record(ns).unwrap();
            kinds[(i % 4) as usize].record(ns).unwrap();
            day_h[(t / 86_400.0) as usize].record(ns).unwrap();
        }
        let mut histograms = BTreeMap::new();
        for name in ["commit_create_ns", "commit_process_ns"] {
            histograms.insert(name.to_string(), hist_encode(&all).unwrap());
            for (k, h) in COMMIT_KINDS.iter().zip(&kinds) {
                histograms.insert(format!("{name}.{k}"), hist_encode(h).unwrap());
            }
        }
        let days = day_h
            .iter()
            .enumerate()
            .map(|(d, h)| Day {
                day: d as u32,
                commits: per_day,
                create_ns: hist_encode(h).unwrap(),
                process_ns: hist_encode(h).unwrap(),
                ..Day::default()
            })
            .collect();
        Run {
            workload,
            trace: None,
            shard: None,
            point: None,
            sampling: Sampling::default(),
            totals: Totals {
                members_start: 1000,
                members_end: 1000,
                commits: n,
                ..Totals::default()
            },
            histograms,
            days,
            commits,
            host: HostInfo::default(),
            profile: ProfileUsed {
                source: "test".into(),
                profile: CostProfile::from_costs(HostInfo::default(), |_| 1.0),
            },
            kinds: BTreeMap::new(),
            device: None,
            ds: Default::default(),
        }
    }

    fn plots(html: &str) -> Vec<&str> {
        html.split("<svg").skip(1).collect()
    }

    #[test]
    fn percentile_curve_of_a_planted_histogram() {
        // 1..=1000 once each: exact in a 3-significant-figure histogram, so the value at
        // quantile q is the (q × 1000)-th value.
        let mut h: Histogram<u64> = Histogram::new(3).unwrap();
        for v in 1..=1000 {
            h.record(v).unwrap();
        }
        let curve = percentile_curve(&h);
        assert_eq!(curve.len(), 81);
        let at = |nines: f64| {
            curve
                .iter()
                .find(|p| (p.0 - nines).abs() < 1e-9)
                .map(|p| p.1)
                .unwrap()
        };
        assert_eq!(at(0.0), 1.0, "minimum");
        assert_eq!(at(1.0), 900.0, "p90");
        assert_eq!(at(2.0), 990.0, "p99");
        assert_eq!(at(3.0), 999.0, "p99.9");
        assert_eq!(at(4.0), 1000.0, "p99.99: the largest of 1000 values");
        // 1 − 10^−0.5 = 0.6838: the 684th value.
        assert_eq!(at(0.5), 684.0);
        assert!(curve
            .windows(2)
            .all(|w| w[0].1 <= w[1].1 && w[0].0 < w[1].0));
        assert!(percentile_curve(&Histogram::<u64>::new(3).unwrap()).is_empty());
    }

    #[test]
    fn hourly_binning_of_a_planted_commit_series() {
        let mut run = synthetic_run(1, 1);
        run.workload.days = 3.0 / 24.0;
        run.totals.members_start = 10;
        run.commits = CommitSeries {
            time_s: vec![10.0, 20.0, 3700.0, 7300.0],
            bytes: vec![100, 200, 300, 400],
            // After each commit: a join, two leaves, nothing.
            members: vec![10, 11, 9, 9],
            ..CommitSeries::default()
        };
        let h = run_hourly(&run);
        assert_eq!(h.commits, [2.0, 1.0, 1.0]);
        // Each commit to the members before it but its committer: 9, 9, 10, 8 recipients.
        assert_eq!(h.commit_fanout_bytes, [900.0 + 1800.0, 3000.0, 3200.0]);
        // The sums are the totals.
        assert_eq!(h.commits.iter().sum::<f64>(), 4.0);
        let total: u64 = [(100, 9), (200, 9), (300, 10), (400, 8)]
            .iter()
            .map(|(b, m)| b * m)
            .sum();
        assert_eq!(h.commit_fanout_bytes.iter().sum::<f64>(), total as f64);
        // Over several runs, each hour is the mean.
        let mut other = run.clone();
        other.commits.time_s = vec![10.0, 3700.0, 3800.0, 3900.0];
        let p = point_hourly(&[&run, &other]);
        assert_eq!(p.commits, [1.5, 2.0, 0.5]);
    }

    #[test]
    fn rendering_is_deterministic_and_annotated() {
        let report = assemble("run", Vec::new(), vec![synthetic_run(4, 50)]).unwrap();
        let a = render(&report).unwrap();
        assert_eq!(a, render(&report.clone()).unwrap());
        // Read back from its JSON, the report renders to the same bytes.
        let back: Report = serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
        assert_eq!(a, render(&back).unwrap());
        // The new plots are there, with data.
        for title in [
            "Commit creation latency by commit kind: percentile distribution",
            "Commit processing latency per receiver by commit kind: percentile distribution",
            "Commits per hour",
            "Commit bytes fanned out by the DS per hour",
        ] {
            assert_eq!(a.matches(title).count(), 1, "{title}");
        }
        assert!(a.contains("update (n=50)") && a.contains("all commits (n=200)"));
        assert!(!a.contains("no data in this run"));
        // Every plot on the day axis marks the wave and the reorganisation; the others none.
        let svgs = plots(&a);
        let on_days = svgs
            .iter()
            .filter(|s| s.contains("day (since the start of the run)"))
            .count();
        assert_eq!(on_days, 7, "two latency, two hourly, blank, seals, bytes");
        for s in &svgs {
            let (waves, reorgs) = (
                s.matches("class=\"annotation wave\" data-x=\"1.5\"")
                    .count(),
                s.matches("class=\"annotation reorg\" data-x=\"2.5\"")
                    .count(),
            );
            if s.contains("day (since the start of the run)") {
                assert_eq!((waves, reorgs), (1, 1));
                assert!(s.contains(">+5</text>") && s.contains(">−4</text>"));
            } else {
                assert_eq!((waves, reorgs), (0, 0));
            }
            // Every plot says what kind of figure it shows.
            assert!(s.contains("data-figures=\""));
        }
        // The banner names what is exact and what is measured.
        assert!(a.contains("id=\"figures\"") && a.contains("are the same on any host"));
    }

    /// A year-long run with the default workload's commit rate (about 520 a day) stays far
    /// below 2 MB: the hourly series are binned, the per-commit ones bucketed.
    #[test]
    fn a_year_long_report_stays_small() {
        let report = assemble("run", Vec::new(), vec![synthetic_run(365, 520)]).unwrap();
        let html = render(&report).unwrap();
        assert!(html.len() < 2_000_000, "{} bytes", html.len());
        assert!(html.contains("8760 hours shown in 12-hour bins"));
        let month =
            render(&assemble("run", Vec::new(), vec![synthetic_run(30, 520)]).unwrap()).unwrap();
        assert!(month.contains("one point per hour"));
        eprintln!(
            "HTML report: 30 days {} bytes, 365 days {} bytes",
            month.len(),
            html.len()
        );
    }
}
