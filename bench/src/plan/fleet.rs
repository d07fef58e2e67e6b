//! The fleet: from a distribution of group sizes to "how many delivery-service cores and how
//! much egress for all our groups", "how many groups of size N fit on one server" and "how
//! big can a group get before a metric passes a threshold" (`canopy plan --fleet FILE`).
//!
//! Method (also written into every report, [`METHOD`]): a few representative group sizes
//! are simulated for real, each with the fleet's template workload scaled to its size (churn
//! rates, waves and reorganisations in proportion to members, so every size sees the same
//! turnover fraction). Every per-group figure of a size that was not simulated is
//! interpolated linearly in log(size)–log(figure) between the two nearest simulated sizes,
//! and extrapolated along the nearest segment outside them; such figures are marked. Fleet
//! totals are Σ over the size classes of count × the per-group figure.
//!
//! Simulating every size class would be exact and is what happens when a fleet names at
//! most [`MAX_REPRESENTATIVES`] distinct sizes; the interpolation exists for fleets with
//! long tails of sizes, where costs are smooth in the size (they grow with the tree's depth
//! and its resolutions, both monotone in the member count).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, ensure, Context, Result};
use canopy_workloads::churn::Workload;
use serde::{Deserialize, Serialize};

use super::compare;
use super::report::{point_key, Point, Report};

/// Distinct sizes simulated by default; a fleet with more size classes interpolates.
pub const MAX_REPRESENTATIVES: usize = 6;

/// Seconds in a day.
const DAY_S: f64 = 86_400.0;

/// How the fleet's figures are obtained, in words (stored in every fleet summary).
pub const METHOD: &str = "Each representative group size is simulated with the template \
    workload scaled to that size (joins, leaves, waves and reorganisations in proportion to \
    members). A size class that was not simulated takes its per-group figures from the two \
    nearest simulated sizes, linearly in log(size) and log(figure) (extrapolated along the \
    nearest segment outside them, and marked so). Fleet totals are the sum over size classes \
    of count times the per-group figure; per-day figures are means over the simulated days. \
    Delivery-service cores are CPU seconds per day divided by 86,400 and by the target \
    utilisation; groups per server take the smaller of the CPU and the egress bounds.";

/// A fleet file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSpec {
    /// Name in result files.
    #[serde(default)]
    pub name: Option<String>,
    /// The template workload (built-in name or file): the churn every group sees, scaled to
    /// its size.
    #[serde(default = "default_template")]
    pub workload: String,
    /// Simulated days per representative size (default: the template's).
    #[serde(default)]
    pub days: Option<f64>,
    /// Users of the whole service.
    pub users: u64,
    /// Devices per user (a mean; each device is a member of every group its user is in).
    pub devices_per_user: f64,
    /// Size classes.
    pub groups: Vec<GroupClass>,
    /// Sizes to simulate (default: every distinct size if there are at most
    /// [`MAX_REPRESENTATIVES`], else that many spread evenly in log(size)).
    #[serde(default)]
    pub representatives: Option<Vec<u32>>,
    /// One delivery-service server.
    #[serde(default)]
    pub server: Server,
    /// Thresholds to find the largest group under, e.g. `"commit_p99_ms=50"` (metric names
    /// of the sweep comparison, as `--slo` takes).
    #[serde(default)]
    pub limits: Vec<String>,
}

fn default_template() -> String {
    "enterprise-50k".into()
}

/// Groups of one size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupClass {
    /// Members (devices) per group.
    pub members: u32,
    /// How many such groups.
    pub count: u64,
}

/// One delivery-service server.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Cores.
    pub cores: f64,
    /// Target utilisation of cores and network, in (0, 1].
    pub utilisation: f64,
    /// Egress capacity, Gbit/s.
    pub egress_gbit_s: f64,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            cores: 32.0,
            utilisation: 0.6,
            egress_gbit_s: 10.0,
        }
    }
}

impl FleetSpec {
    /// Read a fleet file (TOML); errors name the file, and TOML's name the line and field.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let spec: FleetSpec =
            toml::from_str(&text).with_context(|| format!("fleet file {}", path.display()))?;
        spec.validate()
            .with_context(|| format!("fleet file {}", path.display()))?;
        Ok(spec)
    }

    /// Check the fields.
    pub fn validate(&self) -> Result<()> {
        ensure!(
            !self.groups.is_empty(),
            "`groups`: at least one [[groups]] entry"
        );
        for (i, g) in self.groups.iter().enumerate() {
            ensure!(g.members >= 2, "groups[{i}].members: at least 2");
            ensure!(g.count >= 1, "groups[{i}].count: at least 1");
        }
        ensure!(self.users >= 1, "`users`: at least 1");
        ensure!(
            self.devices_per_user.is_finite() && self.devices_per_user >= 1.0,
            "`devices_per_user`: at least 1"
        );
        if let Some(d) = self.days {
            ensure!(d.is_finite() && d > 0.0, "`days`: must be > 0");
        }
        let s = &self.server;
        ensure!(
            s.cores.is_finite() && s.cores > 0.0,
            "server.cores: must be > 0"
        );
        ensure!(
            s.utilisation > 0.0 && s.utilisation <= 1.0,
            "server.utilisation: must be in (0, 1]"
        );
        ensure!(
            s.egress_gbit_s.is_finite() && s.egress_gbit_s > 0.0,
            "server.egress_gbit_s: must be > 0"
        );
        if let Some(r) = &self.representatives {
            ensure!(!r.is_empty(), "`representatives`: at least one size");
            for &m in r {
                ensure!(m >= 2, "`representatives`: sizes of at least 2");
            }
        }
        self.parsed_limits()?;
        Ok(())
    }

    fn parsed_limits(&self) -> Result<Vec<compare::Slo>> {
        if self.limits.is_empty() {
            return Ok(Vec::new());
        }
        compare::parse_slos("`limits`", &self.limits.join(","))
    }

    /// The sizes simulated, ascending.
    pub fn representative_sizes(&self) -> Vec<u32> {
        let mut sizes: Vec<u32> = match &self.representatives {
            Some(r) => r.clone(),
            None => self.groups.iter().map(|g| g.members).collect(),
        };
        sizes.sort_unstable();
        sizes.dedup();
        if self.representatives.is_some() || sizes.len() <= MAX_REPRESENTATIVES {
            return sizes;
        }
        // Evenly spread in log(size), always including the smallest and the largest, each
        // snapped to the nearest size class so that those classes are exact.
        let (lo, hi) = ((sizes[0] as f64).ln(), (sizes[sizes.len() - 1] as f64).ln());
        let n = MAX_REPRESENTATIVES;
        let mut picked: Vec<u32> = (0..n)
            .map(|i| {
                let target = lo + (hi - lo) * i as f64 / (n - 1) as f64;
                *sizes
                    .iter()
                    .min_by(|a, b| {
                        let da = ((**a as f64).ln() - target).abs();
                        let db = ((**b as f64).ln() - target).abs();
                        da.total_cmp(&db)
                    })
                    .expect("sizes is not empty")
            })
            .collect();
        picked.dedup();
        picked
    }

    /// The template workload scaled to `members`: churn, waves and reorganisations in
    /// proportion, so that every size sees the same turnover fraction.
    pub fn workload_for(&self, template: &Workload, members: u32) -> Result<Workload> {
        let mut w = template.clone();
        let ratio = f64::from(members) / f64::from(template.members);
        // Keep whole persons: a group's size must be a multiple of its devices per person.
        let k = w.devices_per_person;
        w.members = (members / k).max(2) * k;
        w.admin = w.admin.min(w.members - 1);
        w.joins_per_day *= ratio;
        w.leaves_per_day *= ratio;
        for wave in &mut w.waves {
            wave.persons = (f64::from(wave.persons) * ratio).round() as u32;
        }
        for r in &mut w.reorgs {
            r.persons = (f64::from(r.persons) * ratio).round() as u32;
        }
        w.waves.retain(|x| x.persons > 0);
        w.reorgs.retain(|x| x.persons > 0);
        if let Some(d) = self.days {
            w.days = d;
        }
        w.name = format!("{}-fleet-{members}", template.name);
        w.validate()
            .with_context(|| format!("the template workload scaled to {members} members"))?;
        Ok(w)
    }
}

/// What the report records of a fleet: its file, and (once every size has run: not in a
/// shard) the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fleet {
    /// The fleet file as read.
    pub spec: FleetSpec,
    /// The answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
}

/// Per-group figures of one size (per day unless named otherwise).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupFigures {
    /// Members per group.
    pub members: u32,
    /// Simulated (`simulated`), interpolated or extrapolated.
    pub source: String,
    /// Commits per day.
    pub commits_per_day: f64,
    /// Delivery-service egress (fan-out), bytes per day.
    pub ds_egress_bytes_per_day: f64,
    /// Delivery-service CPU (profile-based), seconds per day; `None` when the runs did not
    /// record the delivery-service role.
    pub ds_cpu_s_per_day: Option<f64>,
    /// All members' CPU (profile-based), seconds per day.
    pub member_cpu_s_per_day: f64,
    /// Commit creation latency p99, ms (measured on the simulating host).
    pub commit_p99_ms: Option<f64>,
}

/// A size class with its figures and its share of the fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassFigures {
    /// Groups of this size.
    pub count: u64,
    /// Per group.
    pub per_group: GroupFigures,
    /// Groups of this size that fit on one server.
    pub groups_per_server: f64,
    /// What bounds it: `cpu` or `egress`.
    pub bound_by: String,
}

/// The largest group under one threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limit {
    /// The threshold as written (`commit_p99_ms=50`).
    pub threshold: String,
    /// The metric's value at each simulated size, ascending by size.
    pub values: Vec<(u32, Option<f64>)>,
    /// The largest size under the threshold: interpolated between the last simulated size
    /// under it and the first over it; `None` if even the smallest is over.
    pub max_members: Option<f64>,
    /// How `max_members` was found (`interpolated`, `extrapolated` beyond the largest
    /// simulated size, `below smallest`, `no data`).
    pub how: String,
}

/// The fleet's answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// [`METHOD`].
    pub method: String,
    /// Per size class, ascending by size.
    pub classes: Vec<ClassFigures>,
    /// Groups in the fleet.
    pub groups: u64,
    /// Σ members over groups: memberships of devices.
    pub memberships: u64,
    /// Groups each device is in, on average (memberships ÷ users × devices per user).
    pub groups_per_device: f64,
    /// Delivery-service CPU, seconds per day (profile-based), if recorded.
    pub ds_cpu_s_per_day: Option<f64>,
    /// Delivery-service cores at the target utilisation (daily mean load).
    pub ds_cores: Option<f64>,
    /// Servers needed (the larger of the CPU and the egress bounds).
    pub servers: f64,
    /// Delivery-service egress, bytes per day.
    pub ds_egress_bytes_per_day: f64,
    /// Mean egress, Gbit/s.
    pub ds_egress_gbit_s: f64,
    /// Members' CPU over the fleet, seconds per day.
    pub member_cpu_s_per_day: f64,
    /// One device's share: bytes down per day over all its groups (mean device).
    pub device_bytes_down_per_day: f64,
    /// One device's CPU per day over all its groups (mean device, profile-based).
    pub device_cpu_s_per_day: f64,
    /// The largest group under each limit.
    pub limits: Vec<Limit>,
}

/// Figures of a simulated point.
fn point_figures(members: u32, p: &Point) -> Result<GroupFigures> {
    let days = p.days.len().max(1) as f64;
    let mean = |f: &dyn Fn(&super::report::Day) -> f64| p.days.iter().map(f).sum::<f64>() / days;
    let p99 = compare::metric("commit_p99_ms").ok_or_else(|| anyhow!("metric commit_p99_ms"))?;
    Ok(GroupFigures {
        members,
        source: "simulated".into(),
        commits_per_day: mean(&|d| d.commits as f64),
        ds_egress_bytes_per_day: mean(&|d| d.ds_fanout_bytes as f64),
        ds_cpu_s_per_day: ds_cpu(p),
        member_cpu_s_per_day: mean(&|d| d.member_cpu_s),
        commit_p99_ms: p99.of_point(p)?,
    })
}

/// The delivery-service CPU per day of a point (profile-based: the observer's exact counts
/// priced by the profile), if its runs recorded the role (files written before the observer
/// have no `ds_checks`).
fn ds_cpu(p: &Point) -> Option<f64> {
    if p.totals.ds_checks == 0 || p.days.is_empty() {
        return None;
    }
    Some(p.days.iter().map(|d| d.ds_cpu_s).sum::<f64>() / p.days.len() as f64)
}

/// `f` at `x` from the points `(xs[i], ys[i])` (ascending xs), linearly in log–log; the
/// nearest segment outside them. Values ≤ 0 interpolate linearly (a log would not exist).
fn loglog(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    debug_assert_eq!(xs.len(), ys.len());
    if xs.len() == 1 {
        // One size: scale in proportion to the members (the churn does).
        return ys[0] * x / xs[0];
    }
    let i = match xs.iter().position(|&v| v >= x) {
        Some(0) => 0,
        Some(i) => i - 1,
        None => xs.len() - 2,
    };
    let (x0, x1, y0, y1) = (xs[i], xs[i + 1], ys[i], ys[i + 1]);
    if y0 > 0.0 && y1 > 0.0 {
        let t = (x.ln() - x0.ln()) / (x1.ln() - x0.ln());
        (y0.ln() + t * (y1.ln() - y0.ln())).exp()
    } else {
        let t = (x - x0) / (x1 - x0);
        y0 + t * (y1 - y0)
    }
}

/// Figures of a size that was not simulated, from the simulated ones (ascending).
fn interpolate(members: u32, sim: &[GroupFigures]) -> GroupFigures {
    let x = f64::from(members);
    let xs: Vec<f64> = sim.iter().map(|g| f64::from(g.members)).collect();
    let at = |f: &dyn Fn(&GroupFigures) -> f64| {
        let ys: Vec<f64> = sim.iter().map(f).collect();
        loglog(&xs, &ys, x)
    };
    let opt = |f: &dyn Fn(&GroupFigures) -> Option<f64>| -> Option<f64> {
        let pts: Vec<(f64, f64)> = sim
            .iter()
            .filter_map(|g| f(g).map(|y| (f64::from(g.members), y)))
            .collect();
        if pts.is_empty() {
            return None;
        }
        let (xs, ys): (Vec<f64>, Vec<f64>) = pts.into_iter().unzip();
        Some(loglog(&xs, &ys, x))
    };
    let inside = x >= xs[0] && x <= xs[xs.len() - 1];
    GroupFigures {
        members,
        source: if inside {
            "interpolated"
        } else {
            "extrapolated"
        }
        .into(),
        commits_per_day: at(&|g| g.commits_per_day),
        ds_egress_bytes_per_day: at(&|g| g.ds_egress_bytes_per_day),
        ds_cpu_s_per_day: opt(&|g| g.ds_cpu_s_per_day),
        member_cpu_s_per_day: at(&|g| g.member_cpu_s_per_day),
        commit_p99_ms: opt(&|g| g.commit_p99_ms),
    }
}

/// The largest size whose metric stays at or under `max`, from the simulated values.
fn largest_under(values: &[(u32, Option<f64>)], max: f64) -> (Option<f64>, String) {
    let pts: Vec<(f64, f64)> = values
        .iter()
        .filter_map(|(m, v)| v.map(|v| (f64::from(*m), v)))
        .collect();
    if pts.is_empty() {
        return (None, "no data".into());
    }
    if pts[0].1 > max {
        return (None, "below smallest".into());
    }
    // The first crossing; costs grow with size, but noise in measured ones may not.
    let solve = |(x0, y0): (f64, f64), (x1, y1): (f64, f64)| -> Option<f64> {
        if y1 <= y0 {
            return None;
        }
        if y0 > 0.0 {
            let t = (max.ln() - y0.ln()) / (y1.ln() - y0.ln());
            Some((x0.ln() + t * (x1.ln() - x0.ln())).exp())
        } else {
            Some(x0 + (max - y0) / (y1 - y0) * (x1 - x0))
        }
    };
    for w in pts.windows(2) {
        if w[1].1 > max {
            return match solve(w[0], w[1]) {
                Some(x) => (Some(x), "interpolated".into()),
                None => (Some(w[0].0), "interpolated".into()),
            };
        }
    }
    if pts.len() >= 2 {
        let n = pts.len();
        if let Some(x) = solve(pts[n - 2], pts[n - 1]) {
            return (Some(x), "extrapolated".into());
        }
    }
    (
        Some(pts[pts.len() - 1].0),
        "at least the largest simulated size (the metric does not grow there)".into(),
    )
}

/// The simulated point of each representative size in `report`.
fn simulated(report: &Report, sizes: &[u32]) -> Result<Vec<GroupFigures>> {
    let by_key: BTreeMap<&str, &Point> =
        report.points.iter().map(|p| (p.key.as_str(), p)).collect();
    let mut out = Vec::new();
    for &m in sizes {
        let run = report
            .runs
            .iter()
            .find(|r| r.workload.members == m)
            .ok_or_else(|| anyhow!("the report has no run of {m} members"))?;
        let key = point_key(&run.workload);
        let p = by_key
            .get(key.as_str())
            .ok_or_else(|| anyhow!("the report has no point {key}"))?;
        out.push(point_figures(m, p)?);
    }
    Ok(out)
}

/// Answer the fleet's questions from the report of its representative sizes.
pub fn summarise(report: &Report, spec: &FleetSpec, sizes: &[u32]) -> Result<Summary> {
    let sim = simulated(report, sizes)?;
    let server = spec.server;
    let egress_bytes_per_day = server.egress_gbit_s * 1e9 / 8.0 * DAY_S;
    let mut classes: Vec<ClassFigures> = Vec::new();
    let mut sorted = spec.groups.clone();
    sorted.sort_by_key(|g| g.members);
    for g in &sorted {
        let per_group = match sim.iter().find(|s| s.members == g.members) {
            Some(s) => s.clone(),
            None => interpolate(g.members, &sim),
        };
        let by_egress =
            egress_bytes_per_day * server.utilisation / per_group.ds_egress_bytes_per_day.max(1.0);
        let (groups_per_server, bound_by) = match per_group.ds_cpu_s_per_day {
            Some(cpu) if cpu > 0.0 => {
                let by_cpu = server.cores * server.utilisation * DAY_S / cpu;
                if by_cpu <= by_egress {
                    (by_cpu, "cpu")
                } else {
                    (by_egress, "egress")
                }
            }
            _ => (by_egress, "egress"),
        };
        classes.push(ClassFigures {
            count: g.count,
            per_group,
            groups_per_server,
            bound_by: bound_by.into(),
        });
    }
    let total = |f: &dyn Fn(&GroupFigures) -> f64| -> f64 {
        classes
            .iter()
            .map(|c| c.count as f64 * f(&c.per_group))
            .sum()
    };
    let ds_cpu_s_per_day = classes
        .iter()
        .map(|c| c.per_group.ds_cpu_s_per_day.map(|v| v * c.count as f64))
        .sum::<Option<f64>>();
    let ds_egress_bytes_per_day = total(&|g| g.ds_egress_bytes_per_day);
    let member_cpu_s_per_day = total(&|g| g.member_cpu_s_per_day);
    let ds_cores = ds_cpu_s_per_day.map(|s| s / DAY_S / server.utilisation);
    let servers_egress = ds_egress_bytes_per_day / (egress_bytes_per_day * server.utilisation);
    let servers = ds_cores.map_or(servers_egress, |c| (c / server.cores).max(servers_egress));
    let groups: u64 = classes.iter().map(|c| c.count).sum();
    let memberships: u64 = sorted.iter().map(|g| g.count * u64::from(g.members)).sum();
    let devices = spec.users as f64 * spec.devices_per_user;
    let mut limits = Vec::new();
    for slo in spec.parsed_limits()? {
        let values: Vec<(u32, Option<f64>)> = sizes
            .iter()
            .zip(&sim)
            .map(|(&m, _)| {
                let run = report
                    .runs
                    .iter()
                    .find(|r| r.workload.members == m)
                    .expect("simulated() found it");
                let key = point_key(&run.workload);
                let p = report
                    .points
                    .iter()
                    .find(|p| p.key == key)
                    .expect("simulated() found it");
                let metric = compare::metric(&slo.name).expect("parse_slos checked the name");
                metric.of_point(p).map(|v| (m, v))
            })
            .collect::<Result<_>>()?;
        let (max_members, how) = largest_under(&values, slo.max);
        limits.push(Limit {
            threshold: format!("{}={}", slo.name, compare::fmt_value(slo.max)),
            values,
            max_members,
            how,
        });
    }
    // Receivers' bytes: every member but the sender receives each commit's fan-out share;
    // a device's share is the fleet's egress over its devices.
    Ok(Summary {
        method: METHOD.into(),
        groups,
        memberships,
        groups_per_device: memberships as f64 / devices,
        ds_cpu_s_per_day,
        ds_cores,
        servers,
        ds_egress_bytes_per_day,
        ds_egress_gbit_s: ds_egress_bytes_per_day * 8.0 / 1e9 / DAY_S,
        member_cpu_s_per_day,
        device_bytes_down_per_day: ds_egress_bytes_per_day / devices,
        device_cpu_s_per_day: member_cpu_s_per_day / devices,
        classes,
        limits,
    })
}

/// The summary as a text table.
pub fn table(s: &Summary) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Fleet: {} groups, {} memberships, {:.2} groups per device",
        s.groups, s.memberships, s.groups_per_device
    );
    let _ = writeln!(
        o,
        "{:>9} {:>9} {:>13} {:>12} {:>14} {:>14} {:>11} {:>14}  figures",
        "members",
        "groups",
        "commits/day",
        "p99 ms",
        "DS egress/day",
        "DS CPU-s/day",
        "per server",
        "bound",
    );
    for c in &s.classes {
        let g = &c.per_group;
        let _ = writeln!(
            o,
            "{:>9} {:>9} {:>13.1} {:>12} {:>14} {:>14} {:>11.0} {:>14}  {}",
            g.members,
            c.count,
            g.commits_per_day,
            g.commit_p99_ms.map_or("-".into(), compare::fmt_value),
            human_bytes(g.ds_egress_bytes_per_day),
            g.ds_cpu_s_per_day.map_or("-".into(), compare::fmt_value),
            c.groups_per_server,
            c.bound_by,
            g.source
        );
    }
    let _ = writeln!(
        o,
        "DS egress: {}/day ({:.3} Gbit/s mean); DS CPU: {}; servers: {:.2}",
        human_bytes(s.ds_egress_bytes_per_day),
        s.ds_egress_gbit_s,
        match (s.ds_cpu_s_per_day, s.ds_cores) {
            (Some(cpu), Some(cores)) =>
                format!("{} CPU-s/day, {cores:.2} cores", compare::fmt_value(cpu)),
            _ => "not recorded".into(),
        },
        s.servers
    );
    let _ = writeln!(
        o,
        "Mean device: {}/day down, {} CPU-s/day (profile-based) over {:.2} groups",
        human_bytes(s.device_bytes_down_per_day),
        compare::fmt_value(s.device_cpu_s_per_day),
        s.groups_per_device
    );
    for l in &s.limits {
        let _ = writeln!(
            o,
            "Largest group with {}: {} ({})",
            l.threshold,
            l.max_members
                .map_or("none".into(), |m| format!("{m:.0} members")),
            l.how
        );
    }
    o
}

/// `b` bytes in binary units.
pub fn human_bytes(b: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = b;
    let mut u = 0;
    while v.abs() >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.2} {}", UNITS[u])
    }
}

/// Whether two fleets are the same file (a merge needs every input to agree).
pub fn same(a: &Fleet, b: &Fleet) -> Result<()> {
    if a.spec != b.spec {
        bail!("the inputs ran different fleet files");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loglog_is_exact_on_power_laws_and_at_the_points() {
        // y = 3 x^1.5 is a line in log–log: interpolation and extrapolation are exact.
        let xs = [10.0, 100.0, 1000.0];
        let ys: Vec<f64> = xs.iter().map(|x: &f64| 3.0 * x.powf(1.5)).collect();
        for x in [10.0, 31.0, 100.0, 500.0, 1000.0, 5000.0, 2.0] {
            let want = 3.0 * f64::powf(x, 1.5);
            let got = loglog(&xs, &ys, x);
            assert!((got - want).abs() / want < 1e-9, "{x}: {got} vs {want}");
        }
        // Zero values interpolate linearly instead.
        assert_eq!(loglog(&[1.0, 3.0], &[0.0, 4.0], 2.0), 2.0);
    }

    #[test]
    fn largest_under_finds_the_crossing() {
        // y = x / 100 ms: 50 ms at 5,000 members.
        let v = vec![
            (1000, Some(10.0)),
            (10_000, Some(100.0)),
            (50_000, Some(500.0)),
        ];
        let (m, how) = largest_under(&v, 50.0);
        assert!((m.unwrap() - 5000.0).abs() < 1e-6, "{m:?}");
        assert_eq!(how, "interpolated");
        let (m, how) = largest_under(&v, 1000.0);
        assert!((m.unwrap() - 100_000.0).abs() < 1e-6, "{m:?}");
        assert_eq!(how, "extrapolated");
        assert_eq!(largest_under(&v, 5.0), (None, "below smallest".into()));
        assert_eq!(largest_under(&[(10, None)], 5.0).1, "no data");
    }

    #[test]
    fn representatives_cover_the_range_and_keep_exact_classes() {
        let mut spec: FleetSpec = toml::from_str(
            "users = 10\ndevices_per_user = 1\n[[groups]]\nmembers = 8\ncount = 1\n",
        )
        .unwrap();
        spec.groups = [3, 8, 20, 50, 100, 400, 1000, 5000, 20_000, 50_000]
            .iter()
            .map(|&m| GroupClass {
                members: m,
                count: 1,
            })
            .collect();
        let r = spec.representative_sizes();
        assert!(r.len() <= MAX_REPRESENTATIVES);
        assert_eq!(r[0], 3);
        assert_eq!(*r.last().unwrap(), 50_000);
        assert!(r
            .iter()
            .all(|m| spec.groups.iter().any(|g| g.members == *m)));
        spec.groups.truncate(4);
        assert_eq!(spec.representative_sizes(), vec![3, 8, 20, 50]);
    }

    #[test]
    fn scaling_keeps_turnover_and_whole_persons() {
        let spec: FleetSpec = toml::from_str(
            "users = 10\ndevices_per_user = 1\n[[groups]]\nmembers = 8\ncount = 1\n",
        )
        .unwrap();
        let t = canopy_workloads::churn::builtin("onboarding-10k").unwrap();
        let w = spec.workload_for(&t, 1000).unwrap();
        assert_eq!(w.members, 1000);
        assert!((w.joins_per_day - t.joins_per_day / 10.0).abs() < 1e-12);
        assert_eq!(w.waves[0].persons, t.waves[0].persons / 10);
        let mut t3 = t.clone();
        t3.devices_per_person = 3;
        t3.members = 9999;
        assert_eq!(spec.workload_for(&t3, 100).unwrap().members, 99);
    }

    #[test]
    fn bad_fleet_files_name_the_field() {
        let bad = [
            ("users = 1\ndevices_per_user = 1\ngroups = []\n", "groups"),
            (
                "users = 1\ndevices_per_user = 1\n[[groups]]\nmembers = 1\ncount = 1\n",
                "groups[0].members",
            ),
            (
                "users = 1\ndevices_per_user = 1\nlimits = [\"nope=3\"]\n[[groups]]\nmembers = 4\ncount = 1\n",
                "nope",
            ),
            (
                "users = 1\ndevices_per_user = 1\n[server]\ncores = 0\nutilisation = 0.5\negress_gbit_s = 1\n[[groups]]\nmembers = 4\ncount = 1\n",
                "server.cores",
            ),
        ];
        for (text, field) in bad {
            let spec: FleetSpec = toml::from_str(text).unwrap();
            let err = format!("{:#}", spec.validate().unwrap_err());
            assert!(err.contains(field), "{field}: {err}");
        }
        let unknown = toml::from_str::<FleetSpec>(
            "users = 1\ndevices_per_user = 1\nbogus = 2\ngroups = []\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            unknown.contains("bogus") && unknown.contains("line"),
            "{unknown}"
        );
    }
}
