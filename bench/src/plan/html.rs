//! The HTML report: one self-contained file (inline CSS and SVG, no scripts, no network),
//! viewable offline in any browser.

use std::fmt::Write as _;

use anyhow::Result;

use super::compare::{fmt_ci, fmt_delta, fmt_value, Comparison, SloCheck, METRICS};
use super::report::{fmt_bytes, hist_decode, summary_table, Point, Report, Run};

/// Escape text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One line series of a plot.
#[derive(Debug)]
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Stroke colour.
    pub color: &'a str,
    /// (x, y) points.
    pub points: Vec<(f64, f64)>,
}

/// A line plot as an inline SVG element (linear axes from 0, or log10 y if `log_y`).
pub fn line_plot(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_y: bool,
) -> String {
    let (w, h) = (640.0, 300.0);
    let (ml, mr, mt, mb) = (70.0, 20.0, 30.0, 45.0);
    let pw = w - ml - mr;
    let ph = h - mt - mb;
    let all = series.iter().flat_map(|s| s.points.iter());
    let x_max = all.clone().map(|p| p.0).fold(0.0f64, f64::max).max(1e-9);
    let ty = |y: f64| if log_y { y.max(1e-12).log10() } else { y };
    let ys: Vec<f64> = all.clone().map(|p| ty(p.1)).collect();
    let (mut y_min, mut y_max) = if log_y {
        (
            ys.iter().copied().fold(f64::INFINITY, f64::min).floor(),
            ys.iter().copied().fold(f64::NEG_INFINITY, f64::max).ceil(),
        )
    } else {
        (0.0, ys.iter().copied().fold(0.0f64, f64::max) * 1.05)
    };
    if !y_min.is_finite() || !y_max.is_finite() || y_max <= y_min {
        y_min = if log_y { y_min.min(0.0) } else { 0.0 };
        y_max = y_min + 1.0;
        if !y_min.is_finite() {
            y_min = 0.0;
            y_max = 1.0;
        }
    }
    let sx = |x: f64| ml + x / x_max * pw;
    let sy = |y: f64| mt + ph - (ty(y) - y_min) / (y_max - y_min) * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" \
         height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\
         <rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\
         <text x=\"{}\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        ml,
        esc(title)
    );
    // Axes and ticks.
    let _ = write!(
        s,
        "<line x1=\"{ml}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>\
         <line x1=\"{ml}\" y1=\"{mt}\" x2=\"{ml}\" y2=\"{}\" stroke=\"#333\"/>",
        mt + ph,
        ml + pw,
        mt + ph,
        mt + ph
    );
    for i in 0..=5 {
        let f = f64::from(i) / 5.0;
        let xv = f * x_max;
        let yv = y_min + f * (y_max - y_min);
        let label_y = if log_y {
            format_num(10f64.powf(yv))
        } else {
            format_num(yv)
        };
        let gy = mt + ph - f * ph;
        let _ = write!(
            s,
            "<line x1=\"{ml}\" y1=\"{gy:.1}\" x2=\"{}\" y2=\"{gy:.1}\" stroke=\"#eee\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            ml + pw,
            ml - 5.0,
            gy + 4.0,
            label_y,
            sx(xv),
            mt + ph + 15.0,
            format_num(xv)
        );
    }
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
         <text x=\"14\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {:.1})\">{}</text>",
        ml + pw / 2.0,
        h - 8.0,
        esc(x_label),
        mt + ph / 2.0,
        mt + ph / 2.0,
        esc(y_label)
    );
    for (i, se) in series.iter().enumerate() {
        if se.points.is_empty() {
            continue;
        }
        let mut d = String::new();
        for (j, &(x, y)) in se.points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if j == 0 { "M" } else { "L" },
                sx(x),
                sy(y)
            );
        }
        let _ = write!(
            s,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"/>\
             <rect x=\"{:.1}\" y=\"{}\" width=\"10\" height=\"3\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{}\">{}</text>",
            se.color,
            ml + 10.0 + 120.0 * i as f64,
            mt + 2.0,
            se.color,
            ml + 24.0 + 120.0 * i as f64,
            mt + 6.0,
            esc(se.label)
        );
    }
    s.push_str("</svg>");
    s
}

fn format_num(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// Daily latency percentiles (ms) of a point.
fn latency_plot(p: &Point, process: bool) -> Result<String> {
    let mut q = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for d in &p.days {
        let h = hist_decode(if process { &d.process_ns } else { &d.create_ns })?;
        if h.is_empty() {
            continue;
        }
        let x = f64::from(d.day) + 0.5;
        for (i, qq) in [0.5, 0.9, 0.99].into_iter().enumerate() {
            q[i].push((x, h.value_at_quantile(qq) as f64 / 1e6));
        }
        q[3].push((x, h.max() as f64 / 1e6));
    }
    let [p50, p90, p99, max] = q;
    Ok(line_plot(
        if process {
            "Commit processing latency per receiver (wall-clock), by day"
        } else {
            "Commit creation latency (wall-clock), by day"
        },
        "day",
        "ms (log scale)",
        &[
            Series {
                label: "p50",
                color: "#1f77b4",
                points: p50,
            },
            Series {
                label: "p90",
                color: "#2ca02c",
                points: p90,
            },
            Series {
                label: "p99",
                color: "#ff7f0e",
                points: p99,
            },
            Series {
                label: "max",
                color: "#d62728",
                points: max,
            },
        ],
        true,
    ))
}

/// Points of a plotted series: (day, value).
type Points = Vec<(f64, f64)>;

/// Per-commit series averaged into at most `buckets` buckets of consecutive commits: (day of
/// the bucket's middle, mean, max).
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
        let x = run.commits.time_s[mid] / 86_400.0;
        mean.push((x, chunk.iter().sum::<f64>() / chunk.len() as f64));
        max.push((x, chunk.iter().copied().fold(0.0, f64::max)));
    }
    (mean, max)
}

/// The blank-fraction plot of a run.
pub fn blank_plot(run: &Run) -> String {
    let mut pts = vec![(0.0, run.totals.blank_fraction_start)];
    pts.extend(
        run.commits
            .time_s
            .iter()
            .zip(&run.commits.blank_fraction)
            .map(|(&t, &b)| (t / 86_400.0, b)),
    );
    // At most ~1000 points: keep every k-th.
    let k = (pts.len() / 1000).max(1);
    let pts: Vec<(f64, f64)> = pts.into_iter().step_by(k).collect();
    line_plot(
        "Blank parent nodes (fraction of parents with members on both sides)",
        "day",
        "blank fraction",
        &[Series {
            label: "after each commit",
            color: "#9467bd",
            points: pts,
        }],
        false,
    )
}

/// Plots of one run: seals and bytes per commit.
fn per_commit_plots(run: &Run) -> String {
    let seals: Vec<f64> = run.commits.hpke_seals.iter().map(|&v| v as f64).collect();
    let bytes: Vec<f64> = run
        .commits
        .bytes
        .iter()
        .map(|&v| v as f64 / 1024.0)
        .collect();
    let (sm, sx) = bucketed(run, &seals, 300);
    let (bm, bx) = bucketed(run, &bytes, 300);
    let mut s = line_plot(
        "HPKE seals per commit (buckets of consecutive commits)",
        "day",
        "seals",
        &[
            Series {
                label: "mean",
                color: "#1f77b4",
                points: sm,
            },
            Series {
                label: "max",
                color: "#d62728",
                points: sx,
            },
        ],
        false,
    );
    s.push_str(&line_plot(
        "Commit size (buckets of consecutive commits)",
        "day",
        "KiB",
        &[
            Series {
                label: "mean",
                color: "#1f77b4",
                points: bm,
            },
            Series {
                label: "max",
                color: "#d62728",
                points: bx,
            },
        ],
        false,
    ));
    s
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
    let groups: [(&str, &str, &[&str]); 5] = [
        (
            "Commit creation latency vs members",
            "ms",
            &["commit_p50_ms", "commit_p99_ms"],
        ),
        (
            "Commit processing latency vs members",
            "ms",
            &["process_p50_ms", "process_p99_ms"],
        ),
        ("Join latency vs members", "ms", &["join_p50_ms"]),
        (
            "Message sizes vs members",
            "bytes",
            &["commit_bytes_p50", "commit_bytes_p99", "welcome_bytes_p50"],
        ),
        (
            "DS egress per day vs members",
            "bytes per day",
            &["ds_fanout_bytes_per_day"],
        ),
    ];
    let mut rows: Vec<_> = c.rows.iter().collect();
    rows.sort_by_key(|r| r.members);
    let mut h = String::new();
    for (title, unit, names) in groups {
        let series: Vec<Series> = names
            .iter()
            .zip(COLORS)
            .map(|(name, color)| Series {
                label: name,
                color,
                points: rows
                    .iter()
                    .filter_map(|r| r.metrics.get(*name).map(|s| (r.members as f64, s.mean)))
                    .collect(),
            })
            // A line needs two points: a metric only one point recorded is left out.
            .filter(|s| s.points.len() >= 2)
            .collect();
        if !series.is_empty() {
            h.push_str(&line_plot(title, "members", unit, &series, false));
        }
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

/// The banner: how the CPU figures are obtained, the cost profiles and the hosts the runs
/// were measured on (with load warnings).
fn banner(report: &Report) -> String {
    let mut h = String::from(
        "<div style=\"border:1px solid #99c;background:#f4f6ff;padding:0.5em 1em\">\
         <p><b>CPU figures are profile-based</b>: the engine's exact primitive counts of every \
         commit, sampled processing and sampled join, times a cost profile (ns per \
         operation or byte). Measured CPU (process CPU time, all threads) and the latency \
         histograms (wall-clock) are shown apart and depend on the host below.</p>",
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
         svg{{display:block;margin:1em 0;border:1px solid #ddd}}</style></head><body>\
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
    for p in &report.points {
        let name = p.key.split(':').next().unwrap_or("");
        let _ = write!(
            h,
            "<h2>{}</h2><pre>{}</pre>",
            esc(name),
            esc(&summary_table(report, p)?)
        );
        h.push_str(&latency_plot(p, false)?);
        h.push_str(&latency_plot(p, true)?);
        // Per-day table.
        h.push_str(
            "<h3>Per day</h3><table><tr><th>day</th><th>commits</th><th>+dev</th><th>-dev</th>\
             <th>updates</th><th>members</th><th>blank</th><th>committer CPU-s</th>\
             <th>all members CPU-s</th><th>measured all members CPU-s</th><th>DS fan-out</th></tr>",
        );
        for d in &p.days {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{:.3}</td><td>{:.2}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td></tr>",
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
                fmt_bytes(d.ds_fanout_bytes as f64)
            );
        }
        h.push_str("</table>");
        h.push_str(
            "<h3>By commit kind (per commit)</h3><table><tr><th>kind</th><th>commits</th>\
             <th>committer</th><th>all receivers</th><th>joiners</th>\
             <th>measured committer</th><th>measured all receivers</th></tr>",
        );
        for (kind, kc) in p.kinds.iter().filter(|(_, k)| k.commits > 0) {
            let per = |s: f64| format!("{:.3} ms", s / kc.commits as f64 * 1e3);
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td></tr>",
                esc(kind),
                kc.commits,
                per(kc.roles.committer.cpu_s),
                per(kc.roles.receivers.cpu_s),
                per(kc.roles.joiners.cpu_s),
                per(kc.roles.committer.measured_cpu_s),
                per(kc.roles.receivers.measured_cpu_s),
            );
        }
        h.push_str("</table>");
        for run in report
            .runs
            .iter()
            .filter(|r| super::report::point_key(&r.workload) == p.key)
            .take(1)
        {
            let _ = write!(
                h,
                "<h3>Seed {} (first run of the point)</h3>",
                run.workload.seed
            );
            h.push_str(&blank_plot(run));
            h.push_str(&per_commit_plots(run));
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
