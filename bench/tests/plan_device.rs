//! The per-device view of `canopy plan`: each figure recomputed here from the run's own
//! series (the commits' bytes, proposals and online members, the sampled processing costs),
//! the seeds of a point averaged (not summed), and CPU linear in the cost profile.

mod common;
use common::{counting, sim_options};

use canopy_bench::costs::{CostProfile, HostInfo, ProfileUsed};
use canopy_bench::plan::device::{Device, DeviceDay, MESSAGE_CLASSES};
use canopy_bench::plan::report::{assemble, Run};
use canopy_bench::plan::{simulate, SimOptions};
use canopy_engine::group::{GroupConfig, Protection};
use canopy_engine::key_package::Clock;
use canopy_engine::tree::LeafIndex;
use canopy_workloads::churn::{builtin, UpdatePolicy, Workload, DAY};
use canopy_workloads::{generate, StateConfig};

fn run(w: &Workload, opts: &SimOptions) -> Run {
    let _counting = counting();
    simulate(w, None, opts).unwrap()
}

fn device(r: &Run) -> &Device {
    r.device.as_ref().expect("every run has a per-device view")
}

/// `a` and `b` agree to the last few bits (sums of the same terms in another order).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-300)
}

fn assert_close(a: f64, b: f64, what: &str) {
    assert!(close(a, b), "{what}: {a} vs {b}");
}

/// The smoke workload (a fifth of its persons long offline) with Update proposals.
fn smoke_proposals() -> Workload {
    Workload {
        update_interval_days: 0.5,
        update_policy: UpdatePolicy::Proposal,
        update_batch_minutes: 60.0,
        ..builtin("smoke").unwrap()
    }
}

/// Online members before each commit, from the series: at the start, then after the
/// previous commit.
fn online_before(r: &Run) -> Vec<u64> {
    let start = device(r).online_start as u64;
    std::iter::once(start)
        .chain(r.commits.online.iter().copied())
        .take(r.commits.online.len())
        .collect()
}

/// ∫ `before`-members dt over the run, in days, from the commit times.
fn member_days(r: &Run, before: &[u64], at_end: u64) -> f64 {
    let mut seconds = 0.0;
    let mut last = 0.0;
    for (&t, &m) in r.commits.time_s.iter().zip(before) {
        seconds += m as f64 * (t - last);
        last = t;
    }
    seconds += at_end as f64 * (r.workload.days * DAY - last);
    seconds / DAY
}

/// A typical online device's bytes down per day are the commits' and proposals' fan-out to
/// online members (every online member but the sender gets each) over the online
/// member-days; its wake-ups count those messages; what it sends is every commit and
/// proposal over the same member-days (only online members send). All recomputed from the
/// per-commit series and the workload's own list of offline persons.
#[test]
fn bytes_down_per_day_are_the_fan_out_over_online_member_days() {
    for w in [builtin("smoke").unwrap(), smoke_proposals()] {
        let r = run(&w, &sim_options());
        let d = device(&r);
        let c = &r.commits;
        let n = c.time_s.len();
        assert!(n > 10 && c.online.len() == n && c.proposals.len() == n);

        // Online at the start: the initial persons that are not long offline.
        let (_, offline) = w.ops_and_offline().unwrap();
        let k = w.devices_per_person;
        let online_start = (0..w.members / k).filter(|&p| !offline[p as usize]).count() as u32 * k;
        assert_eq!(d.online_start, f64::from(online_start));
        assert!(
            d.online_start < f64::from(w.members),
            "smoke has offline members"
        );

        let before = online_before(&r);
        let online_days = member_days(&r, &before, *c.online.last().unwrap());
        assert_close(d.online_member_days, online_days, "online member-days");
        let members_before: Vec<u64> = std::iter::once(r.totals.members_start)
            .chain(c.members.iter().copied())
            .take(n)
            .collect();
        let all_days = member_days(&r, &members_before, *c.members.last().unwrap());
        assert_close(d.member_days, all_days, "member-days");

        let mut down = 0.0;
        let mut wakeups = 0.0;
        for (i, b) in before.iter().enumerate() {
            let to = (b - 1) as f64;
            down += (c.bytes[i] + c.proposal_bytes[i]) as f64 * to;
            wakeups += (1 + c.proposals[i]) as f64 * to;
        }
        assert!(down > 0.0);
        assert_close(d.per_day.bytes_down, down / online_days, "bytes down");
        assert_close(d.per_day.wakeups, wakeups / online_days, "wake-ups");

        let commit = &d.messages["commit"];
        let sent: u64 = c.bytes.iter().sum();
        assert_close(commit.sent, n as f64 / online_days, "commits sent");
        assert_close(
            commit.sent_bytes,
            sent as f64 / online_days,
            "commit bytes up",
        );
        let proposal = &d.messages["update_proposal"];
        let proposals: u64 = c.proposals.iter().sum();
        assert_eq!(proposals, r.totals.update_proposals);
        assert_close(
            proposal.sent_bytes,
            r.totals.proposal_bytes as f64 / online_days,
            "proposal bytes up",
        );
        if w.update_policy == UpdatePolicy::Proposal {
            assert!(proposals > 10, "{:?}", r.totals);
        }
        // The day's totals are the sums over the classes.
        let classes: f64 = MESSAGE_CLASSES
            .iter()
            .map(|m| d.messages[*m].sent_bytes)
            .sum();
        assert_close(d.per_day.bytes_up, classes, "bytes up");
        assert!(d.messages["welcome"].sent_bytes > 0.0 && d.joining.welcome_bytes > 0.0);
    }
}

/// With no member offline, every member is a typical online device: its CPU over the member-days is
/// exactly the committer and receivers roles of the days (the same counts, another order
/// of sums), profile-based and measured.
#[test]
fn device_cpu_is_the_roles_cpu_when_nobody_is_offline() {
    for policy in [UpdatePolicy::SelfCommit, UpdatePolicy::Proposal] {
        let w = Workload {
            offline_fraction: 0.0,
            update_policy: policy,
            update_batch_minutes: 60.0,
            ..builtin("smoke").unwrap()
        };
        let r = run(&w, &sim_options());
        let d = device(&r);
        assert_close(d.online_member_days, d.member_days, "member-days");
        let roles = |f: fn(&canopy_bench::plan::report::Roles) -> f64| {
            r.days.iter().map(|day| f(&day.roles)).sum::<f64>()
        };
        let cpu = roles(|x| x.committer.cpu_s + x.receivers.cpu_s);
        let measured = roles(|x| x.committer.measured_cpu_s + x.receivers.measured_cpu_s);
        assert!(cpu > 0.0);
        let days = d.online_member_days;
        assert!(
            (d.per_day.cpu_s * days - cpu).abs() <= 1e-9 * cpu,
            "{policy:?}"
        );
        assert!((d.per_day.measured_cpu_s * days - measured).abs() <= 1e-9 * measured);
    }
}

/// Catch-up after k days offline: over every k-day window starting at a whole day, the
/// commits' bytes and their sampled processing cost, recomputed from the per-commit series
/// (one sampled receiver and 1 ns per counted unit, so each commit's cost is the receiver's
/// exact integer count and every sum is exact).
#[test]
fn catch_up_is_the_backlog_of_each_window() {
    let w = Workload {
        days: 2.0,
        ..builtin("smoke").unwrap()
    };
    let opts = SimOptions {
        receivers: 1,
        catch_up_days: vec![1, 2, 3],
        ..sim_options()
    };
    let r = run(&w, &opts);
    let d = device(&r);
    let c = &r.commits;
    assert_eq!(r.totals.update_proposals, 0);
    // A 2-day run has no 3-day window.
    let ks: Vec<u32> = d.catch_up.iter().map(|x| x.days).collect();
    assert_eq!(ks, [1, 2]);

    let window = |from: f64, to: f64| {
        let mut messages = 0.0;
        let mut bytes = 0.0;
        let mut ns = 0.0;
        for i in 0..c.time_s.len() {
            if c.time_s[i] >= from * DAY && c.time_s[i] < to * DAY {
                messages += 1.0;
                bytes += c.bytes[i] as f64;
                ns += c.process_cost_ns[i] as f64;
            }
        }
        (messages, bytes, ns * 1e-9)
    };
    let one = &d.catch_up[0];
    assert_eq!(one.windows, 2);
    let (a, b) = (window(0.0, 1.0), window(1.0, 2.0));
    assert!(a.0 > 0.0 && b.0 > 0.0 && a.2 > 0.0);
    assert_eq!(one.mean.messages, (a.0 + b.0) / 2.0);
    assert_eq!(one.mean.bytes, (a.1 + b.1) / 2.0);
    assert_eq!(one.mean.cpu_s, (a.2 + b.2) / 2.0);
    assert_eq!(one.worst.messages, a.0.max(b.0));
    assert_eq!(one.worst.bytes, a.1.max(b.1));
    assert_eq!(one.worst.cpu_s, a.2.max(b.2));
    let two = &d.catch_up[1];
    let all = window(0.0, 2.0);
    assert_eq!(two.windows, 1);
    assert_eq!(
        (two.mean.messages, two.mean.bytes, two.mean.cpu_s),
        (all.0, all.1, all.2)
    );
    assert_eq!(two.worst, two.mean);
}

/// A point's per-device view is the mean over its seeds, not their sum: per-day figures,
/// classes, state and catch-up means are the runs' means, catch-up worsts the worst of
/// any run, and the sampled receivers are pooled.
#[test]
fn merged_seeds_are_averaged() {
    let w = builtin("smoke").unwrap();
    let a = run(&w, &sim_options());
    let b = run(
        &Workload {
            seed: w.seed + 1,
            ..w.clone()
        },
        &sim_options(),
    );
    let report = assemble("run", Vec::new(), vec![a.clone(), b.clone()]).unwrap();
    assert_eq!(report.points.len(), 1);
    let p = report.points[0].device.as_ref().unwrap();
    let (da, db) = (device(&a), device(&b));
    let mean = |x: f64, y: f64| (x + y) / 2.0;
    let day = |f: fn(&DeviceDay) -> f64, what: &str| {
        let (x, y) = (f(&da.per_day), f(&db.per_day));
        assert!(x > 0.0 && y > 0.0, "{what}");
        assert_close(f(&p.per_day), mean(x, y), what);
    };
    day(|d| d.bytes_down, "bytes_down");
    day(|d| d.bytes_up, "bytes_up");
    day(|d| d.wakeups, "wakeups");
    day(|d| d.sent, "sent");
    day(|d| d.cpu_s, "cpu_s");
    day(|d| d.measured_cpu_s, "measured_cpu_s");
    for name in MESSAGE_CLASSES {
        let (x, y, m) = (&da.messages[name], &db.messages[name], &p.messages[name]);
        assert_close(
            m.received_bytes,
            mean(x.received_bytes, y.received_bytes),
            name,
        );
        assert_close(m.sent_bytes, mean(x.sent_bytes, y.sent_bytes), name);
        assert_close(
            m.processing.cpu_s,
            mean(x.processing.cpu_s, y.processing.cpu_s),
            name,
        );
    }
    assert_close(
        p.online_member_days,
        mean(da.online_member_days, db.online_member_days),
        "online member-days",
    );
    assert_close(p.state.bytes, mean(da.state.bytes, db.state.bytes), "state");
    assert_close(
        p.joining.welcome_bytes,
        mean(da.joining.welcome_bytes, db.joining.welcome_bytes),
        "Welcome",
    );
    assert_eq!(p.catch_up.len(), da.catch_up.len());
    for ((m, x), y) in p.catch_up.iter().zip(&da.catch_up).zip(&db.catch_up) {
        assert!(x.mean.bytes > 0.0 && y.mean.bytes > 0.0);
        assert_close(m.mean.bytes, mean(x.mean.bytes, y.mean.bytes), "catch-up");
        assert_close(
            m.mean.cpu_s,
            mean(x.mean.cpu_s, y.mean.cpu_s),
            "catch-up CPU",
        );
        assert_eq!(m.worst.bytes, x.worst.bytes.max(y.worst.bytes));
        assert_eq!(m.windows, x.windows);
    }
    assert_eq!(p.receivers.len(), da.receivers.len() + db.receivers.len());
    assert_eq!(
        p.receiver_spread.as_ref().unwrap().receivers as usize,
        p.receivers.len()
    );
    // The text and the HTML show the view.
    let text = canopy_bench::plan::report::summary_table(&report, &report.points[0]).unwrap();
    assert!(text.contains("per device") && text.contains("catch-up after 1 day"));
    let html = canopy_bench::plan::html::render(&report).unwrap();
    assert!(html.contains("id=\"device\"") && html.contains("id=\"catch-up\""));
}

/// The profile prices exact counts: with every cost doubled, every profile-based CPU figure
/// of the per-device view doubles exactly, and the counts do not move.
#[test]
fn a_doubled_profile_doubles_device_cpu() {
    let w = smoke_proposals();
    let priced = |scale: f64| {
        let profile = CostProfile::from_costs(HostInfo::default(), |name| {
            scale * (name.len() as f64 + 0.37)
        });
        let opts = SimOptions {
            profile: ProfileUsed {
                source: format!("x{scale}"),
                profile,
            },
            ..sim_options()
        };
        run(&w, &opts).device.unwrap()
    };
    let (one, two) = (priced(1.0), priced(2.0));
    assert!(one.per_day.cpu_s > 0.0);
    assert_eq!(two.per_day.cpu_s, 2.0 * one.per_day.cpu_s);
    for name in MESSAGE_CLASSES {
        let (x, y) = (&one.messages[name], &two.messages[name]);
        assert_eq!(y.processing.cpu_s, 2.0 * x.processing.cpu_s, "{name}");
        assert_eq!(y.sending.cpu_s, 2.0 * x.sending.cpu_s, "{name}");
        assert_eq!(y.processing.counts, x.processing.counts, "{name}");
    }
    assert!(!one.receivers.is_empty());
    for (x, y) in one.receivers.iter().zip(&two.receivers) {
        assert_eq!(y.cpu_s, 2.0 * x.cpu_s);
    }
    for (x, y) in one.catch_up.iter().zip(&two.catch_up) {
        assert_eq!(y.mean.cpu_s, 2.0 * x.mean.cpu_s);
        assert_eq!(y.worst.cpu_s, 2.0 * x.worst.cpu_s);
    }
    assert_eq!(two.joining.join.cpu_s, 2.0 * one.joining.join.cpu_s);
}

/// What a proposer sends is its Update proposal alone: the work of handing the simulation's
/// state to the proposer is not charged to it, nor the delivery service's check of the
/// proposal (a signature verification the proposer does not make). Each proposal costs what
/// `Group::propose_update` counts on a group of its own.
#[test]
fn a_proposal_costs_its_sender_the_proposal_alone() {
    let _counting = counting();
    let cfg = StateConfig {
        now: 1_800_000_000,
        ..StateConfig::new(canopy_workloads::StateKind::Populated, 60, 3)
    };
    let state = generate(&cfg).unwrap();
    let config = GroupConfig {
        clock: Clock::Fixed(cfg.now),
        ..GroupConfig::default()
    };
    let mut g = state.member_group(LeafIndex(5), config).unwrap();
    let before = canopy_engine::crypto::counters::snapshot();
    g.propose_update(Protection::Public).unwrap();
    let one = canopy_engine::crypto::counters::snapshot() - before;
    drop(_counting);
    assert!(one.x25519_base > 0 && one.ed25519_sign > 0);

    let r = run(&smoke_proposals(), &sim_options());
    let d = device(&r);
    let proposals = r.totals.update_proposals as f64;
    assert!(proposals > 10.0);
    let sending = &d.messages["update_proposal"].sending.counts;
    for (name, per_proposal) in [
        ("x25519_base", one.x25519_base),
        ("ed25519_sign", one.ed25519_sign),
        ("x25519_dh", one.x25519_dh),
        ("ed25519_verify", one.ed25519_verify),
    ] {
        let total = sending.get(name).copied().unwrap_or(0.0) * d.online_member_days;
        assert!(
            (total - proposals * per_proposal as f64).abs() <= 1e-6 * proposals,
            "{name}: {total} for {proposals} proposals of {per_proposal}"
        );
    }
}
