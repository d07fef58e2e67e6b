//! Long horizons: fast mode (simulated crypto for most commits) counts every commit exactly
//! as a full run does, the delivery service's and the devices' figures too; a warm-up before
//! day 0 ages the start tree and records nothing before day 0; external joins are a commit
//! kind of their own.

mod common;

use canopy_bench::costs::{CostProfile, HostInfo, ProfileUsed};
use canopy_bench::plan::device::{Device, DeviceDay};
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
        assert_eq!(
            x.roles.delivery_service.counts, y.roles.delivery_service.counts,
            "{what}: day {d}"
        );
        assert_eq!(x.member_cpu_s, y.member_cpu_s, "{what}: day {d}");
        assert_eq!(x.ds_cpu_s, y.ds_cpu_s, "{what}: day {d}");
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
        assert_eq!(
            x.roles.delivery_service.counts, y.roles.delivery_service.counts,
            "{what}: {kind}"
        );
    }
    // The delivery service's traffic, bursts and storage.
    assert_eq!(full.ds, fast.ds, "{what}: ds");
    assert_eq!(
        hist_decode(&full.histograms["ds_commit_burst_bytes"]).unwrap(),
        hist_decode(&fast.histograms["ds_commit_burst_bytes"]).unwrap(),
        "{what}: ds_commit_burst_bytes"
    );
    assert_same_device(
        full.device.as_ref().unwrap(),
        fast.device.as_ref().unwrap(),
        what,
    );
    let mut t = fast.totals.clone();
    t.real_commits = full.totals.real_commits;
    t.wall_seconds = full.totals.wall_seconds;
    t.generation_seconds = full.totals.generation_seconds;
    assert_eq!(t, full.totals, "{what}: totals");
}

/// The per-device figures of two runs that do not come from a clock: messages, bytes, counts
/// and profile-based CPU per class, per sampled receiver, joining, state and catch-up.
fn assert_same_device(full: &Device, fast: &Device, what: &str) {
    let exact = |d: &DeviceDay| (d.bytes_down, d.bytes_up, d.wakeups, d.sent, d.cpu_s);
    assert_eq!(
        (full.online_start, full.member_days, full.online_member_days),
        (fast.online_start, fast.member_days, fast.online_member_days),
        "{what}: device"
    );
    assert_eq!(
        exact(&full.per_day),
        exact(&fast.per_day),
        "{what}: per day"
    );
    assert_eq!(full.messages.len(), fast.messages.len(), "{what}");
    for (name, x) in &full.messages {
        let y = &fast.messages[name];
        assert_eq!(
            (x.received, x.received_bytes, x.sent, x.sent_bytes),
            (y.received, y.received_bytes, y.sent, y.sent_bytes),
            "{what}: device {name}"
        );
        for (a, b) in [(&x.processing, &y.processing), (&x.sending, &y.sending)] {
            assert_eq!(a.counts, b.counts, "{what}: device {name}");
            assert_eq!(a.cpu_s, b.cpu_s, "{what}: device {name}");
        }
    }
    let receivers = |d: &Device| d.receivers.iter().map(exact).collect::<Vec<_>>();
    assert_eq!(receivers(full), receivers(fast), "{what}: receivers");
    assert_eq!(
        (full.joining.joiners, full.joining.welcome_bytes),
        (fast.joining.joiners, fast.joining.welcome_bytes),
        "{what}: joining"
    );
    assert_eq!(full.state, fast.state, "{what}: state");
    let catch_up = |d: &Device| {
        d.catch_up
            .iter()
            .map(|c| {
                (
                    c.days,
                    c.windows,
                    (c.mean.messages, c.mean.bytes, c.mean.cpu_s),
                    (c.worst.messages, c.worst.bytes, c.worst.cpu_s),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(catch_up(full), catch_up(fast), "{what}: catch-up");
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

/// In fast mode the delivery service's observer follows the simulated commits with simulated
/// crypto: it still agrees with the committer's tree hash after every commit (external joins
/// and Update proposals included), and its counts, priced figures and traffic are the full
/// run's; its measured CPU time is extrapolated from the real commits, never 0 where the full
/// run measured some.
#[test]
fn fast_mode_runs_the_delivery_service_like_full_mode() {
    let _counting = counting();
    let w = everything();
    let full = simulate(&w, None, &options(Mode::Full, |_| 1.0)).unwrap();
    let fast = simulate(&w, None, &options(Mode::Fast, |_| 1.0)).unwrap();
    assert!(fast.totals.real_commits < fast.totals.commits);
    for run in [&full, &fast] {
        assert_eq!(
            run.totals.ds_checks, run.totals.commits,
            "{}",
            run.sampling.mode
        );
    }
    let ds_counts = |r: &Run| {
        let mut counts = std::collections::BTreeMap::new();
        for d in &r.days {
            for (k, v) in &d.roles.delivery_service.counts {
                *counts.entry(k.clone()).or_insert(0.0) += v;
            }
        }
        counts
    };
    assert!(!ds_counts(&full).is_empty());
    assert_eq!(ds_counts(&full), ds_counts(&fast));
    for (x, y) in full.days.iter().zip(&fast.days) {
        assert_eq!(x.ds_cpu_s, y.ds_cpu_s, "day {}", x.day);
        assert_eq!(x.ds_egress_bytes, y.ds_egress_bytes, "day {}", x.day);
    }
    let measured = |r: &Run| -> f64 {
        r.days
            .iter()
            .map(|d| d.roles.delivery_service.measured_cpu_s)
            .sum()
    };
    assert!(measured(&full) > 0.0 && measured(&fast) > 0.0);
    assert_eq!(full.ds, fast.ds);
    // The external joins went through the observer: their kind has delivery-service work.
    let external = &fast.kinds["external_join"];
    assert!(external.commits > 0);
    assert_eq!(
        external.roles.delivery_service.counts,
        full.kinds["external_join"].roles.delivery_service.counts
    );
    assert!(external.roles.delivery_service.cpu_s > 0.0);
    // Its latency histogram counts every commit, from the real ones' values.
    let h = hist_decode(&fast.histograms["ds_commit_process_ns"]).unwrap();
    assert_eq!(h.len(), fast.totals.commits);
}

/// A warm-up's commits and proposals go through the delivery service (it stays on the
/// committer's tree) but none of its traffic is recorded: the traffic starts at day 0, every
/// burst and check is a commit of the run, the hourly series add up to the days, and an Update
/// proposal sent in the warm-up but committed after day 0 was not fanned out in the run.
#[test]
fn warm_up_records_no_delivery_service_traffic_before_day_zero() {
    let _counting = counting();
    let w = Workload {
        joins_per_day: 0.0,
        waves: Vec::new(),
        update_interval_days: 0.5,
        update_policy: UpdatePolicy::Proposal,
        update_batch_minutes: 240.0,
        ..warmed(7, 3.0)
    };
    for mode in [Mode::Full, Mode::Fast] {
        let run = simulate(&w, None, &options(mode, |_| 1.0)).unwrap();
        let t = &run.totals;
        assert!(t.warmup_commits > 0, "{mode:?}");
        assert_eq!(t.ds_checks, t.commits, "{mode:?}");
        let bursts = hist_decode(&run.histograms["ds_commit_burst_bytes"]).unwrap();
        assert_eq!(bursts.len(), t.commits, "{mode:?}");
        let timed = hist_decode(&run.histograms["ds_commit_process_ns"]).unwrap();
        assert_eq!(timed.len(), t.commits, "{mode:?}");
        let hourly = &run.ds.hourly;
        assert_eq!(run.ds.hours as f64, w.days * 24.0);
        let fanout: u64 = run.days.iter().map(|d| d.ds_fanout_bytes).sum();
        assert_eq!(
            hourly.commit_egress_bytes.iter().sum::<u64>(),
            fanout,
            "{mode:?}"
        );
        // No joins and no application messages: members send commits and proposals only, one
        // message each. Some proposals of the run's first commits were sent in the warm-up.
        let messages_in: u64 = hourly.messages_in.iter().sum();
        assert!(
            messages_in > t.commits && messages_in < t.commits + t.update_proposals,
            "{mode:?}: {messages_in} messages in, {} commits, {} proposals",
            t.commits,
            t.update_proposals
        );
    }
}

/// A fast run whose last commit was simulated hands back a real member: the state returned
/// with the report signs, seals and verifies for real.
#[test]
fn a_fast_run_hands_back_a_real_member() {
    let w = everything();
    let _counting = counting();
    let (run, end) =
        canopy_bench::plan::simulate_to_end(&w, None, &options(Mode::Fast, |_| 1.0)).unwrap();
    // The case this covers: the last commit of the run was made with simulated crypto.
    assert_eq!(
        run.commits.real_crypto.last(),
        Some(&0),
        "last commit simulated"
    );
    assert!(!end.provider().is_simulated());
}
