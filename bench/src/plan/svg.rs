//! Inline SVG plots for the HTML report. One [`Plot`] draws every plot of the report: a title
//! tagged with what kind of figure it shows, round ticks in the data's unit (KiB/MiB for
//! bytes, µs/ms/s for times, k/M for counts), axis labels, the legend beside the data area
//! (never over it), one `<path>` per series and dashed vertical annotations (onboarding waves,
//! reorganisations). The output is a pure function of the input: the same plot gives the same
//! bytes.

use std::fmt::Write as _;

/// Width of every plot, px.
const WIDTH: f64 = 800.0;
/// Height of every plot, px.
const HEIGHT: f64 = 330.0;
/// Left margin: room for tick labels such as "1.25 MiB" and the rotated axis label.
const MARGIN_LEFT: f64 = 80.0;
/// Right margin: the legend column.
const MARGIN_RIGHT: f64 = 190.0;
/// Top margin: the title, the note and two rows of annotation labels.
const MARGIN_TOP: f64 = 60.0;
/// Bottom margin: tick labels and the axis label.
const MARGIN_BOTTOM: f64 = 46.0;
/// At most this many intervals between ticks: about one tick per 90 px of the data area.
const MAX_INTERVALS: usize = 6;
/// Characters of a legend line: what fits the right margin at 11 px.
const LEGEND_CHARS: usize = 26;
/// Annotation labels closer than this (px) to the previous label of a row go to the next row.
const LABEL_GAP: f64 = 72.0;

/// Lines of at most this many points get a marker at each point.
const MAX_MARKED_POINTS: usize = 24;

/// Escape text for HTML and SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What the values of an axis are, which decides its round ticks and their labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes: ticks at powers of two, labelled in B, KiB, MiB, GiB, TiB.
    Bytes,
    /// Plain numbers (counts, days, fractions): ticks at 1, 2, 5 × 10^k, large values with
    /// k, M, G.
    Count,
    /// Nanoseconds: ticks at 1, 2, 5 × 10^k ns, labelled in ns, µs, ms, s.
    Nanos,
    /// Percentiles as "nines": x = −log10(1 − q), so 0 is the minimum, 1 the 90th
    /// percentile, 2 the 99th, 4 the 99.99th (the HdrHistogram percentile-distribution axis).
    Nines,
}

/// How values map to positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Linear, from 0 (or the axis range's start).
    Linear,
    /// log10, from the power of ten below the smallest value to the one above the largest.
    Log,
}

/// An axis: its label (with its unit in words), unit, scale and, if fixed, its range.
#[derive(Debug, Clone, Copy)]
pub struct Axis<'a> {
    /// Axis label, e.g. "day" or "commit size".
    pub label: &'a str,
    /// Unit of the values.
    pub unit: Unit,
    /// Scale.
    pub scale: Scale,
    /// Fixed range (for example 0 to the workload's days); else from the data, extended to
    /// the next round tick.
    pub range: Option<(f64, f64)>,
}

impl<'a> Axis<'a> {
    /// A linear axis with the range from the data.
    pub fn linear(label: &'a str, unit: Unit) -> Self {
        Axis {
            label,
            unit,
            scale: Scale::Linear,
            range: None,
        }
    }

    /// A log axis with the range from the data.
    pub fn log(label: &'a str, unit: Unit) -> Self {
        Axis {
            label,
            unit,
            scale: Scale::Log,
            range: None,
        }
    }

    /// The time axis of a run: days 0 to `days`.
    pub fn days(days: f64) -> Self {
        Axis {
            label: "day (since the start of the run)",
            unit: Unit::Count,
            scale: Scale::Linear,
            range: Some((0.0, days.max(1e-9))),
        }
    }

    /// The percentile axis of a latency distribution: 0 to the 99.99th percentile.
    pub fn percentiles() -> Self {
        Axis {
            label: "percentile (log scale of 1 / (1 − p))",
            unit: Unit::Nines,
            scale: Scale::Linear,
            range: Some((0.0, 4.0)),
        }
    }
}

/// Which kind of figure a plot shows, printed beside its title (the report's banner says
/// what each means).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figures {
    /// Counts, bytes, seals, fractions: the same for a workload and seed on any host.
    Exact,
    /// Wall-clock latencies or measured CPU time: depend on the host and its load.
    Measured,
    /// Exact engine counts priced by a cost profile.
    ProfileBased,
}

impl Figures {
    /// The tag printed beside a title, also the `data-figures` attribute of the plot.
    pub fn tag(self) -> &'static str {
        match self {
            Figures::Exact => "exact",
            Figures::Measured => "measured",
            Figures::ProfileBased => "profile-based",
        }
    }

    fn color(self) -> &'static str {
        match self {
            Figures::Exact => "#1a7f37",
            Figures::Measured => "#b35900",
            Figures::ProfileBased => "#0b5cad",
        }
    }
}

/// One line of a plot.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Stroke colour.
    pub color: &'static str,
    /// (x, y) points in the axes' units.
    pub points: Vec<(f64, f64)>,
}

/// What an annotation marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A reorganisation (`[[reorgs]]`).
    Reorg,
    /// An onboarding wave (`[[waves]]`).
    Wave,
}

impl Mark {
    fn class(self) -> &'static str {
        match self {
            Mark::Reorg => "reorg",
            Mark::Wave => "wave",
        }
    }

    fn legend(self) -> &'static str {
        match self {
            Mark::Reorg => "reorganisation",
            Mark::Wave => "onboarding wave",
        }
    }

    fn color(self) -> &'static str {
        match self {
            Mark::Reorg => "#c0392b",
            Mark::Wave => "#2a9d4b",
        }
    }
}

/// A vertical line at `x` (on the x axis's scale) with a short label above the data area.
#[derive(Debug, Clone)]
pub struct Annotation {
    /// Position on the x axis.
    pub x: f64,
    /// What it marks.
    pub mark: Mark,
    /// Label, e.g. "+500".
    pub label: String,
}

/// A tick: its value and label.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// Value on the axis.
    pub value: f64,
    /// Label with its unit.
    pub label: String,
}

/// An axis laid out over data: its range and ticks.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Start of the axis.
    pub lo: f64,
    /// End of the axis.
    pub hi: f64,
    /// Ticks inside [lo, hi].
    pub ticks: Vec<Tick>,
}

impl Axis<'_> {
    /// The axis over data from `data_lo` to `data_hi`: a fixed range is kept, a linear one
    /// starts at 0 and ends at the first round tick at or above the data, a log one spans
    /// whole decades.
    pub fn layout(&self, data_lo: f64, data_hi: f64) -> Layout {
        match self.scale {
            Scale::Linear => {
                let (lo, hi) = self.range.unwrap_or((0.0, data_hi.max(0.0)));
                let hi = if hi > lo {
                    hi
                } else {
                    lo + min_span(self.unit)
                };
                let step = nice_step(self.unit, hi - lo);
                let hi = if self.range.is_some() {
                    hi
                } else {
                    lo + ((hi - lo) / step - 1e-9).ceil().max(1.0) * step
                };
                let first = (lo / step - 1e-9).ceil() as i64;
                let ticks = (first..)
                    .map(|k| k as f64 * step)
                    .take_while(|v| *v <= hi * (1.0 + 1e-9) + 1e-12)
                    .map(|value| Tick {
                        value,
                        label: label(self.unit, value),
                    })
                    .collect();
                Layout { lo, hi, ticks }
            }
            Scale::Log => {
                let (dlo, dhi) = self.range.unwrap_or((data_lo, data_hi));
                let floor = min_span(self.unit);
                let lo_e = dlo.max(floor).log10().floor() as i32;
                let hi_e = (dhi.max(floor).log10().ceil() as i32).max(lo_e + 1);
                let mut ticks = Vec::new();
                // Two decades or less: 2 and 5 between the powers of ten too.
                let mantissas: &[f64] = if hi_e - lo_e <= 2 {
                    &[1.0, 2.0, 5.0]
                } else {
                    &[1.0]
                };
                for e in lo_e..=hi_e {
                    for &m in mantissas {
                        if e == hi_e && m > 1.0 {
                            break;
                        }
                        let value = m * 10f64.powi(e);
                        ticks.push(Tick {
                            value,
                            label: label(self.unit, value),
                        });
                    }
                }
                Layout {
                    lo: 10f64.powi(lo_e),
                    hi: 10f64.powi(hi_e),
                    ticks,
                }
            }
        }
    }
}

/// The smallest span of an axis in `unit` (an axis over all-zero data spans this).
fn min_span(unit: Unit) -> f64 {
    match unit {
        Unit::Bytes | Unit::Nanos | Unit::Nines => 1.0,
        Unit::Count => 1e-3,
    }
}

/// The tick step for `span`: the smallest round step giving at most six intervals.
pub fn nice_step(unit: Unit, span: f64) -> f64 {
    let raw = (span / MAX_INTERVALS as f64).max(min_span(unit) * 1e-3);
    match unit {
        Unit::Nines => 1.0,
        // Powers of two: 256 KiB, 1 MiB, 8 GiB are round in the units bytes are shown in.
        Unit::Bytes => 2f64.powi(raw.log2().ceil().max(0.0) as i32),
        Unit::Count | Unit::Nanos => {
            let e = raw.log10().floor() as i32;
            let base = 10f64.powi(e);
            let m = [1.0, 2.0, 5.0, 10.0]
                .into_iter()
                .find(|m| m * base >= raw * (1.0 - 1e-12))
                .unwrap_or(10.0);
            let step = m * base;
            if unit == Unit::Nanos {
                step.max(1.0)
            } else {
                step
            }
        }
    }
}

/// `v` with at most `decimals` decimals, trailing zeros dropped.
fn trim(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// `v` in the largest of `units` (factor, name) it reaches whose value has at most two
/// decimals, so a power-of-two byte tick is "768 KiB" or "1.25 MiB", never "0.75 MiB" or
/// "1.126 MiB".
fn in_units(v: f64, units: &[(f64, &str)]) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    for &(f, name) in units.iter().rev() {
        let x = a / f;
        let hundredths = x * 100.0;
        if x >= 1.0 && (hundredths - hundredths.round()).abs() <= 1e-6 * hundredths.max(1.0) {
            return format!("{} {name}", trim(v / f, 2));
        }
    }
    let (f, name) = units[0];
    format!("{} {name}", trim(v / f, 3))
}

/// The label of `value` in `unit`.
pub fn label(unit: Unit, value: f64) -> String {
    match unit {
        Unit::Bytes => in_units(
            value,
            &[
                (1.0, "B"),
                (1024.0, "KiB"),
                (1024.0 * 1024.0, "MiB"),
                (1024.0 * 1024.0 * 1024.0, "GiB"),
                (1024.0 * 1024.0 * 1024.0 * 1024.0, "TiB"),
            ],
        ),
        Unit::Nanos => in_units(value, &[(1.0, "ns"), (1e3, "µs"), (1e6, "ms"), (1e9, "s")]),
        Unit::Count => {
            let a = value.abs();
            if a >= 1e9 {
                format!("{}G", trim(value / 1e9, 3))
            } else if a >= 1e6 {
                format!("{}M", trim(value / 1e6, 3))
            } else if a >= 1e4 {
                format!("{}k", trim(value / 1e3, 3))
            } else {
                trim(value, 4)
            }
        }
        Unit::Nines => format!("{}%", trim(100.0 * (1.0 - 10f64.powf(-value)), 4)),
    }
}

/// A plot: title, the kind of figures, axes, lines, annotations and an optional note under
/// the title (for example how a series was binned).
#[derive(Debug, Clone)]
pub struct Plot<'a> {
    /// Title.
    pub title: String,
    /// What kind of figures it shows.
    pub figures: Figures,
    /// A line under the title, if any.
    pub note: Option<String>,
    /// The x axis.
    pub x: Axis<'a>,
    /// The y axis.
    pub y: Axis<'a>,
    /// The lines (empty ones are left out).
    pub series: Vec<Series>,
    /// Vertical annotations (those outside the x axis are left out).
    pub annotations: &'a [Annotation],
}

impl Plot<'_> {
    /// Whether any line has two points or more (a plot without one is not drawn).
    pub fn has_data(&self) -> bool {
        self.series.iter().any(|s| s.points.len() >= 2)
    }

    /// The plot as an inline `<svg>` element.
    pub fn render(&self) -> String {
        let pw = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
        let ph = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;
        let (ml, mt) = (MARGIN_LEFT, MARGIN_TOP);
        let points = || self.series.iter().flat_map(|s| s.points.iter());
        let extent = |f: fn(&(f64, f64)) -> f64, positive: bool| {
            points()
                .map(f)
                .filter(|v| v.is_finite() && (!positive || *v > 0.0))
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(v), b.max(v))
                })
        };
        let (xlo, xhi) = extent(|p| p.0, self.x.scale == Scale::Log);
        let (ylo, yhi) = extent(|p| p.1, self.y.scale == Scale::Log);
        let fix = |(lo, hi): (f64, f64)| {
            if lo.is_finite() {
                (lo, hi)
            } else {
                (0.0, 0.0)
            }
        };
        let (xlo, xhi) = fix((xlo, xhi));
        let (ylo, yhi) = fix((ylo, yhi));
        let xl = self.x.layout(xlo, xhi);
        let yl = self.y.layout(ylo, yhi);
        let pos = |axis: &Axis, l: &Layout, v: f64| -> f64 {
            let f = match axis.scale {
                Scale::Linear => (v - l.lo) / (l.hi - l.lo),
                Scale::Log => (v.max(l.lo).log10() - l.lo.log10()) / (l.hi.log10() - l.lo.log10()),
            };
            f.clamp(0.0, 1.0)
        };
        let sx = |v: f64| ml + pos(&self.x, &xl, v) * pw;
        let sy = |v: f64| mt + ph - pos(&self.y, &yl, v) * ph;

        let mut s = String::new();
        let _ = write!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
             width=\"{WIDTH}\" height=\"{HEIGHT}\" font-family=\"sans-serif\" font-size=\"11\" \
             data-figures=\"{tag}\"><rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"white\"/>\
             <text x=\"{ml}\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{title}</text>\
             <text x=\"{tx}\" y=\"18\" text-anchor=\"end\" fill=\"{tc}\" font-weight=\"bold\">\
             {tag}</text>",
            tag = self.figures.tag(),
            title = esc(&self.title),
            tx = WIDTH - 8.0,
            tc = self.figures.color(),
        );
        if let Some(note) = &self.note {
            let _ = write!(
                s,
                "<text x=\"{ml}\" y=\"33\" fill=\"#555\">{}</text>",
                esc(note)
            );
        }
        // Grid and ticks.
        for t in &yl.ticks {
            let y = sy(t.value);
            let _ = write!(
                s,
                "<line x1=\"{ml}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                ml + pw,
                ml - 5.0,
                y + 4.0,
                esc(&t.label)
            );
        }
        for t in &xl.ticks {
            let x = sx(t.value);
            let _ = write!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{mt}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#f3f3f3\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                mt + ph,
                mt + ph + 15.0,
                esc(&t.label)
            );
        }
        let _ = write!(
            s,
            "<line x1=\"{ml}\" y1=\"{b:.1}\" x2=\"{r:.1}\" y2=\"{b:.1}\" stroke=\"#333\"/>\
             <line x1=\"{ml}\" y1=\"{mt}\" x2=\"{ml}\" y2=\"{b:.1}\" stroke=\"#333\"/>\
             <text x=\"{cx:.1}\" y=\"{xy:.1}\" text-anchor=\"middle\">{xlab}</text>\
             <text x=\"14\" y=\"{cy:.1}\" text-anchor=\"middle\" \
             transform=\"rotate(-90 14 {cy:.1})\">{ylab}</text>",
            b = mt + ph,
            r = ml + pw,
            cx = ml + pw / 2.0,
            xy = HEIGHT - 8.0,
            xlab = esc(&axis_label(&self.x)),
            cy = mt + ph / 2.0,
            ylab = esc(&axis_label(&self.y)),
        );
        // Annotations, under the lines; labels above the data area, on the first of two rows
        // where they do not run into the previous label.
        let mut marks: Vec<&Annotation> = self
            .annotations
            .iter()
            .filter(|a| a.x >= xl.lo && a.x <= xl.hi)
            .collect();
        marks.sort_by(|a, b| a.x.total_cmp(&b.x));
        let mut row_end = [f64::NEG_INFINITY; 2];
        for a in &marks {
            let x = sx(a.x);
            let row = row_end
                .iter()
                .position(|&e| x - e >= LABEL_GAP)
                .unwrap_or(usize::from(row_end[1] < row_end[0]));
            row_end[row] = x;
            let _ = write!(
                s,
                "<line class=\"annotation {c}\" data-x=\"{}\" x1=\"{x:.1}\" y1=\"{mt}\" \
                 x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{col}\" stroke-dasharray=\"4 3\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\" \
                 fill=\"{col}\">{}</text>",
                trim(a.x, 4),
                mt + ph,
                mt - 16.0 + 11.0 * row as f64,
                esc(&a.label),
                c = a.mark.class(),
                col = a.mark.color(),
            );
        }
        // The lines: one path each; the legend in the right margin, beside the data area.
        let mut legend: Vec<(Option<Mark>, &str, &str)> = Vec::new();
        for se in self.series.iter().filter(|s| !s.points.is_empty()) {
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
                "<path d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"/>",
                se.color
            );
            // A line of few points (a sweep's sizes) marks them, so that the reader sees where
            // the data is and what is drawn between; dense series stay plain lines.
            if se.points.len() <= MAX_MARKED_POINTS {
                for &(x, y) in &se.points {
                    let _ = write!(
                        s,
                        "<circle class=\"point\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{}\"/>",
                        sx(x),
                        sy(y),
                        se.color
                    );
                }
            }
            legend.push((None, se.color, &se.label));
        }
        for mark in [Mark::Wave, Mark::Reorg] {
            if marks.iter().any(|a| a.mark == mark) {
                legend.push((Some(mark), mark.color(), mark.legend()));
            }
        }
        let lx = ml + pw + 14.0;
        let mut y = mt + 6.0;
        for (mark, color, text) in legend {
            if mark.is_some() {
                let _ = write!(
                    s,
                    "<line x1=\"{lx:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" \
                     stroke=\"{color}\" stroke-dasharray=\"4 3\"/>",
                    lx + 14.0
                );
            } else {
                let _ = write!(
                    s,
                    "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"14\" height=\"3\" fill=\"{color}\"/>",
                    y - 1.5
                );
            }
            let lines = wrap(text, LEGEND_CHARS);
            for (j, line) in lines.iter().enumerate() {
                let _ = write!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                    lx + 20.0,
                    y + 4.0 + 12.0 * j as f64,
                    esc(line)
                );
            }
            y += 4.0 + 12.0 * lines.len() as f64;
        }
        s.push_str("</svg>");
        s
    }
}

/// `text` in lines of at most `width` characters, broken at spaces (a longer word stays whole).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// The axis label with how its ticks are scaled.
fn axis_label(axis: &Axis) -> String {
    if axis.scale == Scale::Log {
        format!("{} (log scale)", axis.label)
    } else {
        axis.label.to_string()
    }
}

/// Per-hour sums: `values[i]` is added to the hour of `times_s[i]`, over `hours` hours (an
/// event at or after the end counts in the last hour, one before the start in the first).
pub fn bin_hourly(
    times_s: &[f64],
    values: impl IntoIterator<Item = f64>,
    hours: usize,
) -> Vec<f64> {
    let mut bins = vec![0.0; hours.max(1)];
    let last = bins.len() - 1;
    for (&t, v) in times_s.iter().zip(values) {
        let h = (t / 3600.0).floor().max(0.0) as usize;
        bins[h.min(last)] += v;
    }
    bins
}

/// Bin widths (hours) an hourly plot may use, smallest first: divisors of a day, then days
/// and weeks, so bins line up with the day ticks.
const BIN_HOURS: [usize; 12] = [1, 2, 3, 4, 6, 8, 12, 24, 48, 72, 168, 336];

/// Points an hourly line keeps: about two per pixel of the 530-px data area.
pub const MAX_HOURLY_POINTS: usize = 1000;

/// The bin width (hours) for a series of `hours` hours: the smallest of 1, 2, 3, 4, 6, 8, 12,
/// 24, 48, 72, 168 and 336 hours (beyond, whatever is needed) that keeps at most
/// [`MAX_HOURLY_POINTS`] bins.
pub fn hourly_bin(hours: usize) -> usize {
    BIN_HOURS
        .into_iter()
        .find(|k| hours.div_ceil(*k) <= MAX_HOURLY_POINTS)
        .unwrap_or_else(|| hours.div_ceil(MAX_HOURLY_POINTS))
}

/// One per-hour series for [`hourly_plot`]: label, colour and one value per hour from the
/// start.
#[derive(Debug, Clone, Copy)]
pub struct Hourly<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Stroke colour.
    pub color: &'static str,
    /// Second colour: the busiest hour of each bin, when the series is binned.
    pub peak_color: &'static str,
    /// Value per hour.
    pub values: &'a [f64],
}

/// A plot of per-hour series against the day, with the annotations. Up to
/// [`MAX_HOURLY_POINTS`] hours each hour is a point; longer series are binned to k hours
/// ([`hourly_bin`]), each bin drawn as its mean per hour and, in a second line, its busiest
/// hour, and the note says so.
pub fn hourly_plot<'a>(
    title: String,
    figures: Figures,
    y: Axis<'a>,
    days: f64,
    series: &[Hourly],
    annotations: &'a [Annotation],
) -> Plot<'a> {
    let hours = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let k = hourly_bin(hours);
    let mut lines = Vec::new();
    for h in series {
        let mut mean = Vec::new();
        let mut peak = Vec::new();
        for (b, chunk) in h.values.chunks(k).enumerate() {
            let x = (b * k) as f64 / 24.0 + chunk.len() as f64 / 48.0;
            mean.push((x, chunk.iter().sum::<f64>() / chunk.len() as f64));
            peak.push((x, chunk.iter().copied().fold(f64::NEG_INFINITY, f64::max)));
        }
        if k == 1 {
            lines.push(Series {
                label: h.label.to_string(),
                color: h.color,
                points: mean,
            });
        } else {
            lines.push(Series {
                label: format!("{} (mean hour)", h.label),
                color: h.color,
                points: mean,
            });
            lines.push(Series {
                label: format!("{} (busiest hour)", h.label),
                color: h.peak_color,
                points: peak,
            });
        }
    }
    Plot {
        title,
        figures,
        note: Some(if k == 1 {
            "one point per hour".to_string()
        } else {
            format!(
                "{hours} hours shown in {k}-hour bins: each bin's mean per hour and its busiest hour"
            )
        }),
        x: Axis::days(days.max(hours as f64 / 24.0)),
        y,
        series: lines,
        annotations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(l: &Layout) -> Vec<&str> {
        l.ticks.iter().map(|t| t.label.as_str()).collect()
    }

    #[test]
    fn byte_ticks_are_round_kib_and_mib() {
        let l = Axis::linear("size", Unit::Bytes).layout(0.0, 1_234_567.0);
        assert_eq!(
            labels(&l),
            ["0", "256 KiB", "512 KiB", "768 KiB", "1 MiB", "1.25 MiB"]
        );
        assert_eq!(l.hi, 1.25 * 1024.0 * 1024.0);
        for t in &l.ticks {
            assert_eq!(t.value % (256.0 * 1024.0), 0.0, "{t:?}");
        }
        // Small and large ranges keep whole units.
        let l = Axis::linear("size", Unit::Bytes).layout(0.0, 100.0);
        assert_eq!(labels(&l), ["0", "32 B", "64 B", "96 B", "128 B"]);
        let l = Axis::linear("size", Unit::Bytes).layout(0.0, 37.0 * 1024f64.powi(3));
        assert_eq!(
            labels(&l),
            ["0", "8 GiB", "16 GiB", "24 GiB", "32 GiB", "40 GiB"]
        );
        // A tick that is not a whole hundredth of the larger unit stays in the smaller.
        assert_eq!(label(Unit::Bytes, 1152.0 * 1024.0), "1152 KiB");
    }

    #[test]
    fn time_and_count_ticks_are_round() {
        let l = Axis::linear("latency", Unit::Nanos).layout(0.0, 2_700_000.0);
        assert_eq!(
            labels(&l),
            ["0", "500 µs", "1 ms", "1.5 ms", "2 ms", "2.5 ms", "3 ms"]
        );
        let l = Axis::log("latency", Unit::Nanos).layout(3_000.0, 2.5e9);
        assert_eq!(
            labels(&l),
            ["1 µs", "10 µs", "100 µs", "1 ms", "10 ms", "100 ms", "1 s", "10 s"]
        );
        // Within two decades the log axis adds 2 and 5.
        let l = Axis::log("latency", Unit::Nanos).layout(150_000.0, 4_000_000.0);
        assert_eq!(
            labels(&l),
            ["100 µs", "200 µs", "500 µs", "1 ms", "2 ms", "5 ms", "10 ms"]
        );
        let l = Axis::linear("commits", Unit::Count).layout(0.0, 47_000.0);
        assert_eq!(labels(&l), ["0", "10k", "20k", "30k", "40k", "50k"]);
        let l = Axis::linear("fraction", Unit::Count).layout(0.0, 0.071);
        assert_eq!(labels(&l), ["0", "0.02", "0.04", "0.06", "0.08"]);
        // A fixed range keeps its end and only the ticks inside it.
        let l = Axis::days(30.0).layout(0.0, 12.0);
        assert_eq!((l.lo, l.hi), (0.0, 30.0));
        assert_eq!(labels(&l), ["0", "5", "10", "15", "20", "25", "30"]);
        let l = Axis::days(365.0).layout(0.0, 365.0);
        assert_eq!(labels(&l), ["0", "100", "200", "300"]);
    }

    #[test]
    fn the_percentile_axis_runs_from_0_to_99_99() {
        let l = Axis::percentiles().layout(0.0, 4.0);
        assert_eq!(labels(&l), ["0%", "90%", "99%", "99.9%", "99.99%"]);
    }

    #[test]
    fn hourly_binning_keeps_the_total() {
        // Planted: 5 events in hour 0, 1 in hour 2, 2 at or after the end (last hour).
        let times = [
            0.0,
            1.0,
            3599.9,
            100.0,
            2000.0,
            2.0 * 3600.0 + 5.0,
            4.0 * 3600.0,
            9e9,
        ];
        let values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let bins = bin_hourly(&times, values, 4);
        assert_eq!(bins, [15.0, 0.0, 6.0, 15.0]);
        assert_eq!(bins.iter().sum::<f64>(), values.iter().sum::<f64>());
    }

    #[test]
    fn long_hourly_series_are_binned_and_say_so() {
        assert_eq!(hourly_bin(720), 1);
        assert_eq!(hourly_bin(1000), 1);
        assert_eq!(hourly_bin(1001), 2);
        assert_eq!(hourly_bin(365 * 24), 12);
        assert_eq!(hourly_bin(3650 * 24), 168);
        let values: Vec<f64> = (0..365 * 24).map(|h| f64::from(h % 24)).collect();
        let svg = hourly_plot(
            "per hour".into(),
            Figures::Exact,
            Axis::linear("commits per hour", Unit::Count),
            365.0,
            &[Hourly {
                label: "commits",
                color: "#000",
                peak_color: "#888",
                values: &values,
            }],
            &[],
        )
        .render();
        assert!(svg.contains("in 12-hour bins"), "{svg}");
        assert!(svg.contains("commits (busiest hour)"));
        // Two lines of 730 points.
        let lines: Vec<usize> = svg
            .split("<path d=\"")
            .skip(1)
            .map(|p| p[..p.find('"').unwrap()].matches(['M', 'L']).count())
            .collect();
        assert_eq!(lines, [730, 730]);
        assert!(
            !svg.contains("<circle class=\"point\""),
            "dense lines are not marked"
        );
    }

    #[test]
    fn few_points_are_marked() {
        let series = vec![Series {
            label: "ds_egress_bytes_per_day".into(),
            color: "#000",
            points: vec![
                (1000.0, 1.0),
                (5000.0, 2.0),
                (20000.0, 8.0),
                (50000.0, 30.0),
            ],
        }];
        let svg = Plot {
            title: "DS egress per day vs members".into(),
            figures: Figures::Exact,
            note: None,
            x: Axis::linear("members at the start", Unit::Count),
            y: Axis::linear("bytes per day", Unit::Bytes),
            series,
            annotations: &[],
        }
        .render();
        assert_eq!(svg.matches("<circle class=\"point\"").count(), 4, "{svg}");
    }

    #[test]
    fn long_legend_labels_wrap_inside_the_margin() {
        assert_eq!(
            wrap(
                "DS ingress per hour (busiest hour of the bin)",
                LEGEND_CHARS
            ),
            ["DS ingress per hour", "(busiest hour of the bin)"]
        );
        assert_eq!(wrap("short", LEGEND_CHARS), ["short"]);
        // 26 characters of 11-px sans-serif (~6 px each) fit the legend column.
        assert!(LEGEND_CHARS as f64 * 6.0 <= MARGIN_RIGHT - 14.0 - 20.0);
    }

    #[test]
    fn annotations_and_legend_stay_out_of_the_data_area() {
        let marks = [
            Annotation {
                x: 1.0,
                mark: Mark::Wave,
                label: "+5".into(),
            },
            Annotation {
                x: 1.01,
                mark: Mark::Reorg,
                label: "−4".into(),
            },
            Annotation {
                x: 99.0,
                mark: Mark::Reorg,
                label: "after the end".into(),
            },
        ];
        let svg = Plot {
            title: "t".into(),
            figures: Figures::Measured,
            note: None,
            x: Axis::days(3.0),
            y: Axis::linear("y", Unit::Count),
            series: vec![Series {
                label: "line".into(),
                color: "#000",
                points: vec![(0.0, 1.0), (3.0, 2.0)],
            }],
            annotations: &marks,
        }
        .render();
        assert_eq!(svg.matches("class=\"annotation wave\"").count(), 1);
        assert_eq!(svg.matches("class=\"annotation reorg\"").count(), 1);
        assert!(!svg.contains("after the end"));
        assert!(svg.contains("onboarding wave") && svg.contains("reorganisation"));
        assert!(svg.contains("data-figures=\"measured\""));
        // The two close labels are on different rows, above the data area.
        let label_y = |text: &str| -> f64 {
            let at = svg.find(&format!(">{text}</text>")).unwrap();
            let tag = svg[..at].rfind("<text ").unwrap();
            let y = svg[tag..at].find(" y=\"").unwrap() + tag + " y=\"".len();
            svg[y..].split('"').next().unwrap().parse().unwrap()
        };
        let (wave, reorg) = (label_y("+5"), label_y("−4"));
        assert!(wave != reorg && wave < MARGIN_TOP && reorg < MARGIN_TOP);
        // Every legend entry starts right of the data area.
        let right = WIDTH - MARGIN_RIGHT;
        for entry in ["line", "onboarding wave", "reorganisation"] {
            let at = svg.find(&format!(">{entry}</text>")).unwrap();
            let x_attr = svg[..at].rfind("<text x=\"").unwrap() + "<text x=\"".len();
            let x: f64 = svg[x_attr..].split('"').next().unwrap().parse().unwrap();
            assert!(x > right, "{entry} at x={x}");
        }
    }
}
