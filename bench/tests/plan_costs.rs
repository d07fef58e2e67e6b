//! Cost profiles in `canopy plan`: the headline CPU figures are exactly the engine's counts
//! times the profile, `canopy calibrate` writes a complete profile that loads back, bad
//! profiles are refused by file and field, high load is flagged, and `canopy merge` keeps
//! hosts apart.

mod common;
use common::{counting, plan_args, sim_options, tmp};

use std::path::{Path, PathBuf};

use canopy_bench::costs::{
    calibrate_main, symmetric_as_suite_1, CalibrateArgs, CostProfile, HostInfo, LoadSource,
    CALIBRATED_AT_START,
};
use canopy_bench::plan::report::{Roles, Run};
use canopy_bench::plan::{merge, plan, simulate, MergeArgs, PlanArgs};
use canopy_engine::crypto::CipherSuite;
use canopy_engine::metrics::Counts;
use canopy_workloads::churn::{builtin, UpdatePolicy, Workload};

fn args(out: PathBuf) -> PlanArgs {
    PlanArgs {
        load: LoadSource::Fixed([0.0; 3]),
        ..plan_args(out)
    }
}

/// Cost of one X25519 DH in the planted profile; every other counter costs nothing.
const DH_NS: f64 = 1000.0;

/// A profile file with [`DH_NS`] per X25519 DH and 0 for everything else.
fn dh_only_profile(dir: &Path) -> PathBuf {
    let profile = CostProfile::from_costs(HostInfo::default(), |name| {
        if name == "x25519_dh" {
            DH_NS
        } else {
            0.0
        }
    });
    let path = dir.join("dh-only.json");
    profile.save(&path).unwrap();
    path
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-9)
}

/// Every role's profile CPU is its X25519 DH count × the DH cost.
fn assert_dh_priced(roles: &Roles, what: &str) {
    for (role, r) in [
        ("committer", &roles.committer),
        ("receivers", &roles.receivers),
        ("joiners", &roles.joiners),
        ("delivery_service", &roles.delivery_service),
    ] {
        let dh = r.counts.get("x25519_dh").copied().unwrap_or(0.0);
        assert!(
            close(r.cpu_s, dh * DH_NS * 1e-9),
            "{what} {role}: {} s for {dh} DH",
            r.cpu_s
        );
    }
}

/// With 1000 ns per DH and 0 for the rest, every CPU figure of the smoke run is exactly its
/// DH count × 1000 ns: per commit, per day, per role and per commit kind, and the
/// committers' DH count is the run's exact seal count (checked against the tree).
#[test]
fn profile_prices_exact_counts() {
    let _counting = counting();
    let dir = tmp("costs", "priced");
    let mut a = args(dir.clone());
    a.profile = Some(dh_only_profile(&dir));
    let report = plan(&a).unwrap();
    let run: &Run = &report.runs[0];
    assert_eq!(run.profile.source, "dh-only.json");
    let t = &run.totals;
    assert!(t.commits > 10 && t.joins_sampled > 0, "{t:?}");

    // Per commit: the committer's DHs are its seals.
    assert_eq!(run.commits.create_cost_ns.len() as u64, t.commits);
    for (cost, seals) in run
        .commits
        .create_cost_ns
        .iter()
        .zip(&run.commits.hpke_seals)
    {
        assert_eq!(*cost, seals * DH_NS as u64);
    }
    assert!(run.commits.process_cost_ns.iter().any(|&c| c > 0));

    // Per day and per role.
    let mut committer_dh = 0.0;
    for d in &run.days {
        assert_dh_priced(&d.roles, &format!("day {}", d.day));
        assert!(close(d.committer_cpu_s, d.roles.committer.cpu_s));
        assert!(close(d.joiners_cpu_s, d.roles.joiners.cpu_s));
        assert!(close(d.member_cpu_s, d.roles.cpu_s()), "day {}", d.day);
        assert!(close(d.measured_member_cpu_s, d.roles.measured_cpu_s()));
        committer_dh += d.roles.committer.counts["x25519_dh"];
        // Every counter of the engine is reported.
        for (name, _) in Counts::default().fields() {
            assert!(d.roles.committer.counts.contains_key(name), "{name}");
        }
    }
    assert_eq!(committer_dh, t.hpke_seals as f64);
    let committer_s: f64 = run.days.iter().map(|d| d.committer_cpu_s).sum();
    assert!(close(committer_s, t.hpke_seals as f64 * DH_NS * 1e-9));
    let receivers_s: f64 = run.days.iter().map(|d| d.roles.receivers.cpu_s).sum();
    let joiners_s: f64 = run.days.iter().map(|d| d.joiners_cpu_s).sum();
    assert!(receivers_s > 0.0 && joiners_s > 0.0);

    // Per commit kind: the kinds partition the commits and the work.
    let kinds = &run.kinds;
    assert_eq!(kinds.values().map(|k| k.commits).sum::<u64>(), t.commits);
    assert_eq!(kinds["update"].commits, t.update_commits);
    for (name, k) in kinds {
        assert_dh_priced(&k.roles, name);
    }
    let by_kind = |f: fn(&Roles) -> f64| kinds.values().map(|k| f(&k.roles)).sum::<f64>();
    assert!(close(by_kind(|r| r.committer.cpu_s), committer_s));
    assert!(close(by_kind(|r| r.receivers.cpu_s), receivers_s));
    assert!(close(by_kind(|r| r.joiners.cpu_s), joiners_s));
    assert_eq!(report.points[0].kinds, run.kinds);

    // The text and the HTML say where the figures come from; no load warning at load 0.
    assert!(run.host.warnings.is_empty(), "{:?}", run.host.warnings);
    let summary = canopy_bench::plan::report::summary_table(&report, &report.points[0]).unwrap();
    assert!(summary.contains("profile-based") && summary.contains("dh-only.json"));
    assert!(summary.contains("measured apart"), "{summary}");
    let html = read_html(&dir);
    assert!(html.contains("CPU figures are profile-based") && html.contains("dh-only.json"));
    assert!(!html.contains("Warning:"));
}

fn read_html(dir: &Path) -> String {
    let html: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect();
    assert_eq!(html.len(), 1, "{html:?}");
    std::fs::read_to_string(&html[0]).unwrap()
}

/// `canopy calibrate` writes a profile with every counter, positive costs and the host;
/// it loads back; `canopy plan` without `--profile` calibrates at the start and says so.
#[test]
fn calibrate_writes_a_complete_profile() {
    let _counting = counting();
    let dir = tmp("costs", "calibrate");
    let out = dir.join("profiles").join("here.json");
    let written = calibrate_main(&CalibrateArgs {
        out: out.clone(),
        repetitions: 3,
    })
    .unwrap();
    let back = CostProfile::load(&out).unwrap();
    // (A float may differ in its last digit after a JSON round trip.)
    assert_eq!(back.host, written.host);
    for (name, c) in &written.costs {
        assert!(close(back.costs[name].ns, c.ns), "{name}");
        assert_eq!(back.costs[name].per, c.per);
    }
    for (name, _) in Counts::default().fields() {
        let c = &back.costs[name];
        // HPKE's own cost is the small remainder beside its X25519, HKDF and AEAD parts: on a
        // busy host the parts can measure more than the whole, and the remainder is then 0.
        if matches!(name, "hpke_seal" | "hpke_open") {
            assert!(c.ns >= 0.0 && c.ns.is_finite(), "{name}: {c:?}");
        } else {
            assert!(c.ns > 0.0 && c.ns.is_finite(), "{name}: {c:?}");
        }
    }
    assert_eq!(back.costs.len(), Counts::default().fields().len());
    // Every suite whose hash or AEAD is not suite 1's has its own symmetric costs, the same
    // for suites that share them; suites that hash and encrypt as suite 1 have none.
    let mut own = 0;
    for &suite in CipherSuite::ALL {
        let entry = back.suites.get(&suite.id().to_string());
        if symmetric_as_suite_1(suite) {
            assert!(entry.is_none(), "suite {}", suite.id());
            continue;
        }
        let entry = entry.unwrap_or_else(|| panic!("suite {}: no symmetric costs", suite.id()));
        let names: Vec<&str> = entry.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["aead_bytes", "hash_bytes", "hkdf_expand"],
            "{}",
            suite.id()
        );
        for (name, c) in entry {
            let w = &written.suites[&suite.id().to_string()][name];
            assert!(close(c.ns, w.ns) && c.ns > 0.0 && c.per == w.per, "{name}");
        }
        own += 1;
    }
    // 3, 4, 5, 6, 7, 0x004D, 0xFDEB.
    assert_eq!(own, 7);
    assert_eq!(back.suites["4"], back.suites["5"]);
    assert_eq!(back.suites["7"], back.suites["65003"]);
    let h = &back.host;
    assert!(!h.cpu_model.is_empty() && h.logical_cores > 0 && h.rayon_threads > 0);
    assert!(h.build_profile == "debug" || h.build_profile == "release");
    assert!(!h.git_revision.is_empty() && !h.os.is_empty());
    assert_eq!(h.canopy_version, env!("CARGO_PKG_VERSION"));
    assert!(h.load_average_start.is_some() && h.load_average_end.is_some());
    // A DH costs more than hashing a byte: the probes measure what they name.
    assert!(back.costs["x25519_dh"].ns > 100.0 * back.costs["hash_bytes"].ns);

    let report = plan(&args(dir.join("plan"))).unwrap();
    assert_eq!(report.runs[0].profile.source, CALIBRATED_AT_START);
    assert!(report.runs[0].days.iter().any(|d| d.member_cpu_s > 0.0));
}

/// The `suites` entry of a profile with `ns` for each symmetric counter.
fn symmetric(ns: f64) -> serde_json::Value {
    serde_json::json!({
        "aead_bytes": {"ns": ns, "per": "byte"},
        "hash_bytes": {"ns": ns, "per": "byte"},
        "hkdf_expand": {"ns": ns, "per": "operation"},
    })
}

/// A run on a suite prices its hashing, HKDF and AEAD work at the suite's own costs from the
/// profile (here planted, 7 ns per hashed byte on suite 7 against 1 ns on suite 1), and a
/// profile without them for a suite that needs them prices at suite 1's rates with a warning
/// (what [`CostProfile::for_suite`] returns).
#[test]
fn a_suite_is_priced_at_its_own_symmetric_costs() {
    let _counting = counting();
    let dir = tmp("costs", "suite-symmetric");
    let hash_only = |ns: f64| {
        CostProfile::from_costs(HostInfo::default(), |name| {
            if name == "hash_bytes" {
                ns
            } else {
                0.0
            }
        })
    };
    let mut profile = hash_only(1.0);
    let mut own =
        serde_json::from_value::<std::collections::BTreeMap<_, _>>(symmetric(0.0)).unwrap();
    own.insert(
        "hash_bytes".to_string(),
        canopy_bench::costs::Cost {
            ns: 7.0,
            per: "byte".into(),
        },
    );
    profile.suites.insert("7".into(), own);
    let path = dir.join("suite-7.json");
    profile.save(&path).unwrap();
    assert_eq!(CostProfile::load(&path).unwrap(), profile);

    let (for_7, warning) = profile.for_suite(7);
    assert!(warning.is_none());
    assert_eq!(for_7.ns_per("hash_bytes"), 7.0);
    let (for_1, warning) = profile.for_suite(1);
    assert!(warning.is_none());
    assert_eq!(for_1.ns_per("hash_bytes"), 1.0);
    // Suite 2 hashes and encrypts as suite 1: nothing to warn about.
    assert!(profile.for_suite(2).1.is_none());
    let (for_5, warning) = profile.for_suite(5);
    assert_eq!(for_5.ns_per("hash_bytes"), 1.0);
    let warning = warning.unwrap();
    assert!(
        warning.contains("suite 5 (SHA-512, AES-256-GCM)"),
        "{warning}"
    );

    // A plan on suite 7: every figure is the run's hashed bytes × 7 ns.
    let mut a = args(dir.clone());
    a.profile = Some(path);
    a.suite = Some(7);
    let report = plan(&a).unwrap();
    let run: &Run = &report.runs[0];
    assert_eq!(run.profile.profile.ns_per("hash_bytes"), 7.0);
    let mut checked = 0;
    for d in &run.days {
        let hashed = d.roles.committer.counts["hash_bytes"];
        assert!(
            close(d.roles.committer.cpu_s, hashed * 7.0 * 1e-9),
            "day {}",
            d.day
        );
        checked += 1;
    }
    assert!(checked > 0);
}

/// Breaks one field of a profile's JSON.
type Breaker = Box<dyn Fn(&mut serde_json::Value)>;

/// A malformed profile is refused with an error naming the file and the field.
#[test]
fn malformed_profiles_name_the_file_and_field() {
    let dir = tmp("costs", "malformed");
    let good = serde_json::to_value(CostProfile::from_costs(HostInfo::default(), |_| 5.0)).unwrap();
    let cases: Vec<(&str, Breaker)> = vec![
        (
            "costs.hpke_seal",
            Box::new(|v| {
                v["costs"].as_object_mut().unwrap().remove("hpke_seal");
            }),
        ),
        (
            "costs.x25519_dh.ns",
            Box::new(|v| v["costs"]["x25519_dh"]["ns"] = (-1.0).into()),
        ),
        (
            "costs.ed25519_sign.ns",
            Box::new(|v| v["costs"]["ed25519_sign"]["ns"] = "fast".into()),
        ),
        (
            "costs.hash_bytes.per",
            Box::new(|v| v["costs"]["hash_bytes"]["per"] = "operation".into()),
        ),
        (
            "costs.bogus",
            Box::new(|v| v["costs"]["bogus"] = v["costs"]["x25519_dh"].clone()),
        ),
        (
            "schema_version",
            Box::new(|v| v["schema_version"] = 99.into()),
        ),
        ("host", Box::new(|v| v["host"] = 3.into())),
        (
            "suites.8",
            Box::new(|v| v["suites"] = serde_json::json!({"8": symmetric(1.0)})),
        ),
        (
            "suites.7.hkdf_expand",
            Box::new(|v| {
                let mut costs = symmetric(1.0);
                costs.as_object_mut().unwrap().remove("hkdf_expand");
                v["suites"] = serde_json::json!({ "7": costs });
            }),
        ),
        (
            "suites.7.x25519_dh",
            Box::new(|v| {
                let mut costs = symmetric(1.0);
                costs["x25519_dh"] = serde_json::json!({"ns": 1.0, "per": "operation"});
                v["suites"] = serde_json::json!({ "7": costs });
            }),
        ),
        (
            "suites.7.aead_bytes.ns",
            Box::new(|v| {
                let mut costs = symmetric(1.0);
                costs["aead_bytes"]["ns"] = (-2.0).into();
                v["suites"] = serde_json::json!({ "7": costs });
            }),
        ),
    ];
    for (i, (field, break_it)) in cases.iter().enumerate() {
        let mut v = good.clone();
        break_it(&mut v);
        let path = dir.join(format!("bad-{i}.json"));
        std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
        let err = format!("{:#}", CostProfile::load(&path).unwrap_err());
        assert!(err.contains(&format!("bad-{i}.json")), "{field}: {err}");
        assert!(err.contains(field), "{field}: {err}");
        // `canopy plan --profile` refuses it before simulating anything.
        let mut a = args(dir.join("out"));
        a.profile = Some(path);
        let err = format!("{:#}", plan(&a).unwrap_err());
        assert!(err.contains(field), "{field}: {err}");
    }
    let ok = dir.join("ok.json");
    std::fs::write(&ok, serde_json::to_string(&good).unwrap()).unwrap();
    assert!(CostProfile::load(&ok).is_ok());
}

/// A load average above the logical cores is warned about (in the run's host and the
/// HTML), one at or below them is not.
#[test]
fn load_warning_follows_the_injected_load() {
    let _counting = counting();
    let cores = HostInfo::probe(&LoadSource::Fixed([0.0; 3])).logical_cores as f64;
    let high = LoadSource::Fixed([cores + 1.5, 1.0, 1.0]);
    let at_cores = LoadSource::Fixed([cores, cores + 5.0, cores + 5.0]);
    assert!(HostInfo::probe(&at_cores).warnings.is_empty());
    let warned = HostInfo::probe(&high);
    assert_eq!(warned.warnings.len(), 1, "{:?}", warned.warnings);
    assert!(warned.warnings[0].contains("load average"));
    // A file in /proc/loadavg's format is read too.
    let dir = tmp("costs", "load");
    let file = dir.join("loadavg");
    std::fs::write(&file, format!("{} 0.5 0.5 1/100 4242\n", cores + 3.0)).unwrap();
    assert_eq!(
        LoadSource::File(file.clone()).read(),
        Some([cores + 3.0, 0.5, 0.5])
    );
    assert_eq!(HostInfo::probe(&LoadSource::File(file)).warnings.len(), 1);

    let mut a = args(dir.join("out"));
    a.profile = Some(dh_only_profile(&dir));
    a.load = high;
    let report = plan(&a).unwrap();
    let host = &report.runs[0].host;
    // Warned at the start and at the end of the run.
    assert_eq!(host.warnings.len(), 2, "{:?}", host.warnings);
    assert_eq!(host.load_average_start.unwrap()[0], cores + 1.5);
    let html = read_html(&dir.join("out"));
    assert!(html.contains("Warning:") && html.contains("exceeds the"));
}

/// `canopy merge` refuses shards measured on different hosts, naming both files and hosts,
/// and merges them with `--allow-mixed-hosts`, marking the result.
#[test]
fn merge_refuses_mixed_hosts() {
    let _counting = counting();
    let dir = tmp("costs", "hosts");
    let profile = dh_only_profile(&dir);
    let mut files = Vec::new();
    for i in 0..2 {
        let out = dir.join(format!("shard{i}"));
        let mut a = args(out.clone());
        a.profile = Some(profile.clone());
        a.shard = Some(format!("{i}/2"));
        plan(&a).unwrap();
        let json: Vec<PathBuf> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.push(json[0].clone());
    }
    // The second shard ran on another machine.
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[1]).unwrap()).unwrap();
    let model = v["runs"][0]["host"]["cpu_model"]
        .as_str()
        .unwrap()
        .to_string();
    v["runs"][0]["host"]["cpu_model"] = "Phone-class ARM board".into();
    std::fs::write(&files[1], serde_json::to_string(&v).unwrap()).unwrap();
    let merge_args = |allow: bool| MergeArgs {
        files: files.clone(),
        out: dir.join("merged"),
        name: None,
        allow_mixed_hosts: allow,
        csv: false,
        slo: None,
        baseline_point: 0,
    };
    let err = format!("{:#}", merge(&merge_args(false)).unwrap_err());
    for needle in [
        files[0].display().to_string(),
        files[1].display().to_string(),
        model.clone(),
        "Phone-class ARM board".to_string(),
        "--allow-mixed-hosts".to_string(),
    ] {
        assert!(err.contains(&needle), "{needle:?} not in {err}");
    }
    let merged = merge(&merge_args(true)).unwrap();
    assert!(merged.mixed_hosts);
    assert_eq!(merged.runs.len(), 2);
    // Another core count is another host too.
    v["runs"][0]["host"]["cpu_model"] = model.into();
    v["runs"][0]["host"]["logical_cores"] = 512.into();
    std::fs::write(&files[1], serde_json::to_string(&v).unwrap()).unwrap();
    assert!(merge(&merge_args(false)).is_err());
    // The same host merges without the flag.
    v["runs"][0]["host"]["logical_cores"] =
        serde_json::to_value(HostInfo::probe(&LoadSource::Fixed([0.0; 3])).logical_cores).unwrap();
    std::fs::write(&files[1], serde_json::to_string(&v).unwrap()).unwrap();
    assert!(!merge(&merge_args(false)).unwrap().mixed_hosts);
}

/// The delivery service's role over a run: its counts summed over the days (which the kinds
/// partition too).
fn ds_counts(run: &Run, counter: &str) -> f64 {
    let count = |roles: &Roles| {
        let counts = &roles.delivery_service.counts;
        counts.get(counter).copied().unwrap_or(0.0)
    };
    let days: f64 = run.days.iter().map(|d| count(&d.roles)).sum();
    let kinds: f64 = run.kinds.values().map(|k| count(&k.roles)).sum();
    assert_eq!(
        days, kinds,
        "{counter}: the kinds partition the delivery service's work"
    );
    days
}

fn simulated(w: &Workload) -> Run {
    let _counting = counting();
    simulate(w, None, &sim_options()).unwrap()
}

/// The delivery service processes every commit and proposal for real: its Ed25519
/// verifications are exactly one per message (the framing signature), one per UpdatePath
/// (the path leaf), two per Add (the KeyPackage and its leaf) and two more per Update
/// proposal (its leaf when it arrives and again when it is committed), counted from the run's
/// own totals; it decrypts nothing; its tree hash was checked after every commit; and its
/// CPU is apart from the members'.
#[test]
fn delivery_service_counts_are_exact() {
    // Adds without a path (the path leaf is then verified on the other commits only), no
    // Update proposals.
    let w = Workload {
        path_on_add: false,
        ..builtin("smoke").unwrap()
    };
    let run = simulated(&w);
    let t = &run.totals;
    assert!(
        t.commits > 10 && t.adds > 0 && t.update_proposals == 0,
        "{t:?}"
    );
    assert_eq!(t.ds_checks, t.commits);
    let with_path = t.commits - run.kinds["add"].commits;
    assert!(
        with_path < t.commits,
        "some commits only add: {:?}",
        run.kinds
    );
    assert_eq!(
        ds_counts(&run, "ed25519_verify"),
        (t.commits + with_path + 2 * t.adds) as f64
    );
    for secret_work in ["x25519_dh", "hpke_open", "hpke_seal", "ed25519_sign"] {
        assert_eq!(ds_counts(&run, secret_work), 0.0, "{secret_work}");
    }
    for d in &run.days {
        let ds = &d.roles.delivery_service;
        assert!(close(d.ds_cpu_s, ds.cpu_s), "day {}", d.day);
        // Every unit costs 1 ns in the test profile.
        assert!(close(ds.cpu_s, ds.counts.values().sum::<f64>() * 1e-9));
        // Not a member: the members' total leaves it out.
        assert!(close(d.member_cpu_s, d.roles.cpu_s()));
        assert!(
            close(
                d.roles.cpu_s(),
                d.roles.committer.cpu_s + d.roles.receivers.cpu_s + d.roles.joiners.cpu_s
            ),
            "day {}",
            d.day
        );
    }
    assert!(run.days.iter().any(|d| d.ds_cpu_s > 0.0));
    assert!(run.histograms.contains_key("ds_commit_process_ns"));

    // Update proposals, every commit with a path.
    let w = Workload {
        update_interval_days: 0.5,
        update_policy: UpdatePolicy::Proposal,
        ..builtin("smoke").unwrap()
    };
    let run = simulated(&w);
    let t = &run.totals;
    assert!(t.update_proposals > 10, "{t:?}");
    assert_eq!(t.ds_checks, t.commits);
    assert_eq!(
        ds_counts(&run, "ed25519_verify"),
        (2 * t.commits + 2 * t.adds + 3 * t.update_proposals) as f64
    );
}

/// A run without commits gives the delivery service nothing to do.
#[test]
fn delivery_service_is_idle_without_commits() {
    let w = Workload {
        name: "quiet".into(),
        members: 20,
        days: 1.0,
        ..Workload::default()
    };
    let run = simulated(&w);
    assert_eq!((run.totals.commits, run.totals.ds_checks), (0, 0));
    for d in &run.days {
        let ds = &d.roles.delivery_service;
        assert!(ds.counts.values().all(|&c| c == 0.0), "{:?}", ds.counts);
        assert_eq!((ds.cpu_s, ds.measured_cpu_s, d.ds_cpu_s), (0.0, 0.0, 0.0));
    }
}
