//! `canopy plan --fleet`: the fleet's totals are the size classes' per-group figures times
//! their counts, recomputed here from the simulated points; an unsimulated class lies on the
//! log–log line between its neighbours; a size limit on an exact metric is found between the
//! sizes that straddle it; shards merge to the unsharded answers; bad fleet files name the
//! file and the field.

mod common;
use common::{counting, plan_args, tmp};

use std::path::{Path, PathBuf};

use canopy_bench::costs::{CostProfile, HostInfo, LoadSource};
use canopy_bench::plan::fleet::{FleetSpec, Summary};
use canopy_bench::plan::report::{point_key, Report};
use canopy_bench::plan::{merge, plan, MergeArgs, PlanArgs};

fn args(out: PathBuf, fleet: PathBuf, profile: PathBuf) -> PlanArgs {
    PlanArgs {
        receivers: 2,
        joiners: 2,
        fleet: Some(fleet),
        profile: Some(profile),
        load: LoadSource::Fixed([0.0; 3]),
        ..plan_args(out)
    }
}

/// A small fleet on the smoke workload: four size classes, three simulated.
const FLEET: &str = r#"
name = "tiny-fleet"
workload = "smoke"
days = 1
users = 500
devices_per_user = 2
representatives = [20, 60, 120]
limits = ["commit_bytes_p99=LIMIT"]
[server]
cores = 8
utilisation = 0.5
egress_gbit_s = 1
[[groups]]
members = 20
count = 30
[[groups]]
members = 40
count = 10
[[groups]]
members = 60
count = 4
[[groups]]
members = 120
count = 1
"#;

fn setup(dir: &Path, limit: f64) -> (PathBuf, PathBuf) {
    let fleet = dir.join("fleet.toml");
    std::fs::write(&fleet, FLEET.replace("LIMIT", &limit.to_string())).unwrap();
    let profile = dir.join("profile.json");
    CostProfile::from_costs(HostInfo::default(), |_| 1.0)
        .save(&profile)
        .unwrap();
    (fleet, profile)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-9)
}

/// The per-day mean of the DS fan-out of the point that simulated `members`.
fn egress_per_day(r: &Report, members: u32) -> f64 {
    let run = r
        .runs
        .iter()
        .find(|x| x.workload.members == members)
        .unwrap();
    let p = r
        .points
        .iter()
        .find(|p| p.key == point_key(&run.workload))
        .unwrap();
    p.days.iter().map(|d| d.ds_fanout_bytes as f64).sum::<f64>() / p.days.len() as f64
}

fn commit_bytes_p99(r: &Report, members: u32) -> f64 {
    let run = r
        .runs
        .iter()
        .find(|x| x.workload.members == members)
        .unwrap();
    let p = r
        .points
        .iter()
        .find(|p| p.key == point_key(&run.workload))
        .unwrap();
    p.percentiles["commit_bytes"].p99 as f64
}

fn summary(r: &Report) -> &Summary {
    r.fleet.as_ref().unwrap().summary.as_ref().unwrap()
}

#[test]
fn fleet_totals_interpolation_and_limits() {
    let _c = counting();
    let dir = tmp("fleet", "totals");
    // A first run finds the commit sizes; the limit is then set between two sizes' p99.
    let (fleet, profile) = setup(&dir, 1e12);
    let first = plan(&args(dir.join("a"), fleet, profile)).unwrap();
    let (b20, b60) = (commit_bytes_p99(&first, 20), commit_bytes_p99(&first, 60));
    assert!(b20 < b60, "commits grow with the tree: {b20} vs {b60}");
    let limit = (b20 * b60).sqrt();
    let (fleet, profile) = setup(&dir, limit);
    let r = plan(&args(dir.join("b"), fleet.clone(), profile.clone())).unwrap();
    let s = summary(&r);

    // Only the three representatives ran.
    let mut sizes: Vec<u32> = r.runs.iter().map(|x| x.workload.members).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, vec![20, 60, 120]);
    assert_eq!(s.classes.len(), 4);
    assert_eq!(s.groups, 45);
    assert_eq!(s.memberships, 30 * 20 + 10 * 40 + 4 * 60 + 120);

    // Simulated classes carry their point's figures; the fleet sums count × figure.
    let mut want_egress = 0.0;
    for c in &s.classes {
        let m = c.per_group.members;
        let e = if m == 40 {
            assert_eq!(c.per_group.source, "interpolated");
            // On the log–log line between 20 and 60.
            let (e20, e60) = (egress_per_day(&r, 20), egress_per_day(&r, 60));
            let t = (40f64.ln() - 20f64.ln()) / (60f64.ln() - 20f64.ln());
            let want = (e20.ln() + t * (e60.ln() - e20.ln())).exp();
            assert!(close(c.per_group.ds_egress_bytes_per_day, want));
            want
        } else {
            assert_eq!(c.per_group.source, "simulated");
            let e = egress_per_day(&r, m);
            assert!(close(c.per_group.ds_egress_bytes_per_day, e), "{m}");
            e
        };
        want_egress += c.count as f64 * e;
        // Groups per server: the egress bound (1 Gbit/s at 50 %) unless CPU binds first.
        let by_egress = 1e9 / 8.0 * 86_400.0 * 0.5 / e;
        assert!(c.groups_per_server <= by_egress * (1.0 + 1e-9));
        if c.bound_by == "egress" {
            assert!(close(c.groups_per_server, by_egress));
        }
    }
    assert!(close(s.ds_egress_bytes_per_day, want_egress));
    // The delivery service's CPU: the observer's per-day CPU of each simulated size, and the
    // cores at the server's utilisation.
    let mut want_cpu = 0.0;
    for c in &s.classes {
        let cpu = c.per_group.ds_cpu_s_per_day.unwrap();
        assert!(cpu > 0.0);
        if c.per_group.source == "simulated" {
            let run = r
                .runs
                .iter()
                .find(|x| x.workload.members == c.per_group.members)
                .unwrap();
            let p = r
                .points
                .iter()
                .find(|p| p.key == point_key(&run.workload))
                .unwrap();
            let mean = p.days.iter().map(|d| d.ds_cpu_s).sum::<f64>() / p.days.len() as f64;
            assert!(close(cpu, mean));
        }
        want_cpu += c.count as f64 * cpu;
    }
    assert!(close(s.ds_cpu_s_per_day.unwrap(), want_cpu));
    assert!(close(s.ds_cores.unwrap(), want_cpu / 86_400.0 / 0.5));
    assert!(close(s.device_bytes_down_per_day, want_egress / 1000.0));
    assert!(close(
        s.ds_egress_gbit_s,
        want_egress * 8.0 / 1e9 / 86_400.0
    ));
    assert!(close(s.groups_per_device, s.memberships as f64 / 1000.0));

    // The limit lies between 20 and 60 members, where the p99 crosses it.
    let l = &s.limits[0];
    assert_eq!(l.how, "interpolated");
    let m = l.max_members.unwrap();
    assert!(m > 20.0 && m < 60.0, "{m}");

    // The report records the fleet, and the HTML shows its table.
    let html = std::fs::read_dir(dir.join("b"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "html"))
        .unwrap();
    let html = std::fs::read_to_string(html).unwrap();
    assert!(html.contains("<h2>Fleet</h2>") && html.contains("id=\"fleet\""));

    // Shards: each records the fleet without answers; their merge answers as the whole run.
    let mut files = Vec::new();
    for i in 0..2 {
        let out = dir.join(format!("shard{i}"));
        let mut a = args(out.clone(), fleet.clone(), profile.clone());
        a.shard = Some(format!("{i}/2"));
        let part = plan(&a).unwrap();
        assert!(part.fleet.as_ref().unwrap().summary.is_none());
        files.extend(
            std::fs::read_dir(&out)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "json")),
        );
    }
    let merged = merge(&MergeArgs {
        files,
        out: dir.join("merged"),
        name: None,
        allow_mixed_hosts: false,
        csv: false,
        slo: None,
        baseline_point: 0,
    })
    .unwrap();
    let ms = summary(&merged);
    assert!(close(ms.ds_egress_bytes_per_day, s.ds_egress_bytes_per_day));
    assert!(close(ms.member_cpu_s_per_day, s.member_cpu_s_per_day));
    assert_eq!(ms.limits[0].max_members, s.limits[0].max_members);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_fleet_files_are_named() {
    let dir = tmp("fleet", "bad");
    let path = dir.join("broken-fleet.toml");
    std::fs::write(
        &path,
        "users = 10\ndevices_per_user = 1\n[[groups]]\nmembers = 1\ncount = 3\n",
    )
    .unwrap();
    let err = format!("{:#}", FleetSpec::load(&path).unwrap_err());
    assert!(
        err.contains("broken-fleet.toml") && err.contains("groups[0].members"),
        "{err}"
    );
    std::fs::write(&path, "users = 10\ndevices_per_user = 1\ngroup = 3\n").unwrap();
    let err = format!("{:#}", FleetSpec::load(&path).unwrap_err());
    assert!(
        err.contains("broken-fleet.toml") && err.contains("group") && err.contains("line"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_example_fleet_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/fleet-example.toml");
    let spec = FleetSpec::load(&path).unwrap();
    let sizes = spec.representative_sizes();
    assert_eq!(sizes.len(), 6, "{sizes:?}");
    assert_eq!((sizes[0], sizes[5]), (3, 50_000));
    let template = canopy_workloads::churn::builtin(&spec.workload).unwrap();
    for m in sizes {
        assert_eq!(spec.workload_for(&template, m).unwrap().members, m);
    }
}

/// `--fast` reaches every representative size: each runs in fast mode, and the fleet's exact
/// figures (egress, the members' and the delivery service's profile-based CPU, the device's
/// bytes) are those of the full runs.
#[test]
fn fast_fleet_runs_every_size_fast_with_the_full_figures() {
    let _c = counting();
    let dir = tmp("fleet", "fast");
    let (fleet, profile) = setup(&dir, 1e12);
    let full = plan(&PlanArgs {
        full: true,
        ..args(dir.join("full"), fleet.clone(), profile.clone())
    })
    .unwrap();
    let fast = plan(&PlanArgs {
        fast: true,
        ..args(dir.join("fast"), fleet, profile)
    })
    .unwrap();
    for (r, mode) in [(&full, "full"), (&fast, "fast")] {
        assert_eq!(r.runs.len(), 3);
        assert!(r.runs.iter().all(|x| x.sampling.mode == mode), "{mode}");
    }
    let (a, b) = (summary(&full), summary(&fast));
    assert_eq!(a.ds_egress_bytes_per_day, b.ds_egress_bytes_per_day);
    assert_eq!(a.member_cpu_s_per_day, b.member_cpu_s_per_day);
    assert_eq!(a.ds_cpu_s_per_day, b.ds_cpu_s_per_day);
    assert_eq!(a.device_bytes_down_per_day, b.device_bytes_down_per_day);
}
