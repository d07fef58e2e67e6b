//! Long horizons: fast mode (simulated crypto for most commits) counts every commit exactly
//! as a full run does; a warm-up before day 0 ages the start tree; external joins are a
//! commit kind of their own.

mod common;

use canopy_bench::costs::{CostProfile, HostInfo, ProfileUsed};
use canopy_bench::plan::report::{hist_decode, summary_table, Run};
use canopy_bench::plan::sim::COMMIT_KINDS;
use canopy_bench::plan::{simulate, Mode, SimOptions};
use canopy_engine::metrics::Counts;
use canopy_workloads::churn::{builtin, UpdatePolicy, Workload};
use common::{counting, sim_options};

/// The options of `mode`, with a profile that charges `ns(counter)` per unit.
fn options(mode: Mode, ns: impl Fn(&str) -> f64) -> SimOptions {
    SimOptions {
        mode,
        // Few real commits: most of a fast run is simulated.
        real_commits: 2,
        profile: ProfileUsed {
            source: "test".into(),
            profile: CostProfile::from_costs(HostInfo::default(), ns),
        },
        ..sim_options()
    }
}

/// Smoke with Update proposals and external joins: every kind of commit and message.
fn everything() -> Workload {
    Workload {
        name: "everything".into(),
        update_policy: UpdatePolicy::Proposal,
        update_batch_minutes: 90.0,
        external_join_fraction: 0.3,
        ..builtin("smoke").unwrap()
    }
}

/// Every figure of two runs that does not come from a clock: the per-commit series (seals,
/// bytes, tree, membership, the profile-priced creation and processing), the size, seal and
/// resolution histograms, every day's counts and bytes and every role's exact counts, the
/// kinds, and the totals.
fn assert_same_counts(full: &Run, fast: &Run, what: &str) {
    let (a, b) = (&full.commits, &fast.commits);
    assert_eq!(a.time_s, b.time_s, "{what}: commit times");
    for (name, x, y) in [
        ("hpke_seals", &a.hpke_seals, &b.hpke_seals),
        ("bytes", &a.bytes, &b.bytes),
        ("members", &a.members, &b.members),
        ("create_cost_ns", &a.create_cost_ns, &b.create_cost_ns),
        ("process_cost_ns", &a.process_cost_ns, &b.process_cost_ns),
    ] {
        for (i, (x, y)) in x.iter().zip(y).enumerate() {
            assert_eq!(x, y, "{what}: commit {i} {name}");
        }
        assert_eq!(x.len(), y.len(), "{what}: {name}");
    }
    assert_eq!(
        a.blank_fraction, b.blank_fraction,
        "{what}: blank fractions"
    );
    for h in [
        "commit_bytes",
        "welcome_with_tree_bytes",
        "welcome_without_tree_bytes",
        "group_info_bytes",
        "group_info_with_tree_bytes",
        "hpke_seals_per_commit",
        "resolution_size",
    ] {
        assert_eq!(
            hist_decode(&full.histograms[h]).unwrap(),
            hist_decode(&fast.histograms[h]).unwrap(),
            "{what}: {h}"
        );
    }
    assert_eq!(full.days.len(), fast.days.len());
    for (x, y) in full.days.iter().zip(&fast.days) {
        let d = x.day;
        assert_eq!(
            (x.commits, x.adds, x.removes, x.updates, x.members_end),
            (y.commits, y.adds, y.removes, y.updates, y.members_end),
            "{what}: day {d}"
        );
        assert_eq!(
            (x.ds_fanout_bytes, x.hpke_seals, x.commit_bytes),
            (y.ds_fanout_bytes, y.hpke_seals, y.commit_bytes),
            "{what}: day {d}"
        );
        assert_eq!(
            x.roles.committer.counts, y.roles.committer.counts,
            "{what}: day {d}"
        );
        assert_eq!(
            x.roles.receivers.counts, y.roles.receivers.counts,
            "{what}: day {d}"
        );
        assert_eq!(
            x.roles.joiners.counts, y.roles.joiners.counts,
            "{what}: day {d}"
        );
        assert_eq!(x.member_cpu_s, y.member_cpu_s, "{what}: day {d}");
    }
    assert_eq!(full.kinds.len(), fast.kinds.len());
    for (kind, x) in &full.kinds {
        let y = &fast.kinds[kind];
        assert_eq!(x.commits, y.commits, "{what}: {kind}");
        assert_eq!(
            x.roles.committer.counts, y.roles.committer.counts,
            "{what}: {kind}"
        );
        assert_eq!(
            x.roles.receivers.counts, y.roles.receivers.counts,
            "{what}: {kind}"
        );
        assert_eq!(
            x.roles.joiners.counts, y.roles.joiners.counts,
            "{what}: {kind}"
        );
    }
    let mut t = fast.totals.clone();
    t.real_commits = full.totals.real_commits;
    t.wall_seconds = full.totals.wall_seconds;
    t.generation_seconds = full.totals.generation_seconds;
    assert_eq!(t, full.totals, "{what}: totals");
}

/// Fast mode makes most commits with simulated crypto, and still every commit's counts (each
/// counter of the creation and of the sampled processing, priced one counter at a time),
/// bytes, seals and tree are those of the full run; only the real commits are timed.
#[test]
fn fast_mode_counts_every_commit_like_full_mode() {
    let _counting = counting();
    let w = everything();
    let counters: Vec<&str> = Counts::default()
        .fields()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    for counter in &counters {
        let price = |name: &str| if name == *counter { 1.0 } else { 0.0 };
        let full = simulate(&w, None, &options(Mode::Full, price)).unwrap();
        let fast = simulate(&w, None, &options(Mode::Fast, price)).unwrap();
        assert_same_counts(&full, &fast, counter);
    }
    let full = simulate(&w, None, &options(Mode::Full, |_| 1.0)).unwrap();
    let fast = simulate(&w, None, &options(Mode::Fast, |_| 1.0)).unwrap();
    assert_same_counts(&full, &fast, "all counters");
    assert_eq!(full.sampling.mode, "full");
    assert_eq!(fast.sampling.mode, "fast");
    assert!(
        full.kinds["external_join"].commits > 0,
        "external joins ran"
    );
    assert!(full.totals.update_proposals > 0, "proposals ran");
    // Every full commit is real; most fast ones are not, and only the real ones are timed.
    assert_eq!(full.totals.real_commits, full.totals.commits);
    assert!(full.commits.real_crypto.iter().all(|&r| r == 1));
    let real = fast.commits.real_crypto.iter().filter(|&&r| r == 1).count() as u64;
    assert_eq!(real, fast.totals.real_commits);
    assert!(
        real > 0 && 3 * real < fast.totals.commits,
        "{real} real commits"
    );
    for (i, &r) in fast.commits.real_crypto.iter().enumerate() {
        assert_eq!(fast.commits.create_ns[i] > 0, r == 1, "commit {i}");
    }
    // Each real commit's latency stands for the commits of its kind: the histograms count
    // every commit, kind by kind, with the real commits' values only.
    let timed = hist_decode(&fast.histograms["commit_create_ns"]).unwrap();
    assert_eq!(timed.len(), fast.totals.commits);
    for (kind, k) in &fast.kinds {
        let h = hist_decode(&fast.histograms[&format!("commit_create_ns.{kind}")]).unwrap();
        assert_eq!(h.len(), k.commits, "{kind}");
    }
    let real_values: std::collections::BTreeSet<u64> = fast
        .commits
        .create_ns
        .iter()
        .filter(|&&v| v > 0)
        .map(|&v| timed.highest_equivalent(v))
        .collect();
    for v in timed.iter_recorded() {
        let value = v.value_iterated_to();
        assert!(real_values.contains(&value), "{value}");
    }
    // Sampled joins join from real Welcomes in both modes.
    assert_eq!(full.totals.joins_sampled, fast.totals.joins_sampled);
    assert!(fast.totals.joins_sampled > 0);
}

/// The mode the run's size picks, and the report says which mode produced it.
#[test]
fn auto_mode_runs_long_horizons_fast_and_the_report_says_so() {
    assert!(Mode::Auto.fast_for(&builtin("enterprise-50k").unwrap()));
    assert!(!Mode::Auto.fast_for(&builtin("smoke").unwrap()));
    let mut year = builtin("smoke").unwrap();
    year.members = 400;
    year.days = 365.0;
    assert!(Mode::Auto.fast_for(&year));
    assert!(!Mode::Full.fast_for(&year));
    assert!(Mode::Fast.fast_for(&builtin("smoke").unwrap()));

    let _counting = counting();
    let w = builtin("smoke").unwrap();
    for (mode, line) in [(Mode::Fast, "mode: fast: "), (Mode::Full, "mode: full: ")] {
        let run = simulate(&w, None, &options(mode, |_| 1.0)).unwrap();
        let report = canopy_bench::plan::report::assemble("run", Vec::new(), vec![run]).unwrap();
        let table = summary_table(&report, &report.points[0]).unwrap();
        assert!(table.contains(line), "{table}");
        let html = canopy_bench::plan::html::render(&report).unwrap();
        let name = if mode == Mode::Fast { "fast" } else { "full" };
        assert!(html.contains(&format!("Mode: <b>{name}</b>")), "{name}");
    }
}

/// Smoke with more churn and `warmup_days` of it before day 0.
fn warmed(seed: u64, warmup_days: f64) -> Workload {
    Workload {
        seed,
        warmup_days,
        joins_per_day: 6.0,
        leaves_per_day: 6.0,
        ..builtin("smoke").unwrap()
    }
}

/// A warm-up leaves the start tree with blanks (day 0 starts from an aged group, not the
/// generated full one), runs with simulated crypto before real commits on the same tree, and
/// is the same for the same seed.
#[test]
fn warm_up_ages_the_start_tree_deterministically() {
    let _counting = counting();
    let opts = options(Mode::Full, |_| 1.0);
    let cold = simulate(&warmed(7, 0.0), None, &opts).unwrap();
    assert_eq!(
        cold.totals.blank_fraction_start, 0.0,
        "a generated populated tree"
    );
    assert_eq!(cold.totals.warmup_commits, 0);

    let a = simulate(&warmed(7, 6.0), None, &opts).unwrap();
    assert!(a.totals.warmup_commits > 0);
    assert!(
        a.totals.blank_fraction_start > 0.0,
        "blank fraction at day 0: {}",
        a.totals.blank_fraction_start
    );
    // Day 0 is the first recorded day; the warm-up's commits are not in the run.
    assert!(a.commits.time_s.iter().all(|&t| t >= 0.0));
    assert_eq!(a.totals.commits as usize, a.commits.time_s.len());
    assert_eq!(
        a.totals.real_commits, a.totals.commits,
        "full mode after the warm-up"
    );
    let b = simulate(&warmed(7, 6.0), None, &opts).unwrap();
    assert_same_counts(&a, &b, "same seed");
    assert_eq!(a.totals.blank_fraction_start, b.totals.blank_fraction_start);
    let c = simulate(&warmed(8, 6.0), None, &opts).unwrap();
    assert_ne!(
        a.commits.time_s, c.commits.time_s,
        "another seed, another history"
    );
}

/// `warmup_days = 0` is the run as it was before warm-ups existed: the same workload file,
/// and the same commits (their count, times and membership, as the smoke run produced them
/// before).
#[test]
fn no_warm_up_is_the_run_as_before() {
    let w = builtin("smoke").unwrap();
    let explicit = Workload::from_toml(&format!(
        "warmup_days = 0\nexternal_join_fraction = 0\n{}",
        toml::to_string(&w).unwrap()
    ))
    .unwrap();
    assert_eq!(explicit, w);
    let json = serde_json::to_string(&explicit).unwrap();
    assert!(
        !json.contains("warmup_days") && !json.contains("external_join"),
        "{json}"
    );

    let _counting = counting();
    let run = simulate(&explicit, None, &options(Mode::Full, |_| 1.0)).unwrap();
    let c = &run.commits;
    assert_eq!(c.time_s.len(), 89);
    assert_eq!(
        c.time_s.iter().sum::<f64>().to_bits(),
        11337941.012547666f64.to_bits()
    );
    assert_eq!(c.members.iter().sum::<u64>(), 5858);
}

/// Smoke where every joining device joins by external commit and nobody updates.
fn external_only() -> Workload {
    Workload {
        name: "external-only".into(),
        update_interval_days: 0.0,
        external_join_fraction: 1.0,
        waves: Vec::new(),
        ..builtin("smoke").unwrap()
    }
}

/// External joins are commits of their own kind, in every breakdown: the kinds still
/// partition the commits (and their timed creations and processings); a workload whose
/// devices all join externally has only external joins and removals.
#[test]
fn external_joins_are_a_commit_kind() {
    let _counting = counting();
    let opts = options(Mode::Full, |_| 1.0);
    for w in [everything(), external_only()] {
        let run = simulate(&w, None, &opts).unwrap();
        let by_kind: u64 = run.kinds.values().map(|k| k.commits).sum();
        assert_eq!(by_kind, run.totals.commits, "{}", w.name);
        for what in ["commit_create_ns", "commit_process_ns"] {
            let whole = hist_decode(&run.histograms[what]).unwrap().len();
            let parts: u64 = COMMIT_KINDS
                .iter()
                .map(|k| {
                    hist_decode(&run.histograms[&format!("{what}.{k}")])
                        .unwrap()
                        .len()
                })
                .sum();
            assert_eq!(parts, whole, "{}: {what}", w.name);
        }
        let external = &run.kinds["external_join"];
        assert!(external.commits > 0, "{}", w.name);
        assert_eq!(external.commits, run.totals.external_joins, "{}", w.name);
        assert!(external.roles.committer.cpu_s > 0.0 && external.roles.receivers.cpu_s > 0.0);
    }

    let run = simulate(&external_only(), None, &opts).unwrap();
    let kinds: Vec<&str> = run
        .kinds
        .iter()
        .filter(|(_, k)| k.commits > 0)
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(kinds, ["external_join", "remove"]);
    assert_eq!(run.totals.adds, run.totals.external_joins);
    assert_eq!(run.totals.joins_sampled, 0, "no Welcome to join from");
    assert!(hist_decode(&run.histograms["welcome_with_tree_bytes"])
        .unwrap()
        .is_empty());
}
