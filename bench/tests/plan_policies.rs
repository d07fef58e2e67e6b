//! `canopy plan` under each update policy: Update proposals are really sent, processed and
//! committed by reference, every check of the simulation passes, and the update totals add
//! up.

mod common;
use common::{counting, sim_options};

use canopy_bench::plan::report::Run;
use canopy_bench::plan::simulate;
use canopy_workloads::churn::{builtin, UpdatePolicy, Workload};

/// The smoke workload with more frequent updates, under `policy`.
fn smoke(policy: UpdatePolicy, minutes: f64) -> Workload {
    Workload {
        update_interval_days: 0.5,
        update_policy: policy,
        update_batch_minutes: minutes,
        ..builtin("smoke").unwrap()
    }
}

fn run(w: &Workload) -> Run {
    let _counting = counting();
    simulate(w, None, &sim_options()).unwrap()
}

/// The checks every run must pass, whatever the policy.
fn assert_checked(run: &Run) {
    let t = &run.totals;
    assert!(t.commits > 10, "{t:?}");
    assert_eq!(
        t.seal_checks, t.commits,
        "every commit's seals were recomputed"
    );
    assert!(t.receiver_checks > 0);
    assert_eq!(
        t.updates,
        t.updates_committed + t.updates_dropped + t.updates_pending_end,
        "{t:?}"
    );
    let kinds: u64 = run.kinds.values().map(|k| k.commits).sum();
    assert_eq!(kinds, t.commits, "the kinds partition the commits");
    assert_eq!(run.kinds["update"].commits, t.update_commits);
    let days: u64 = run.days.iter().map(|d| d.commits).sum();
    assert_eq!(days, t.commits);
}

#[test]
fn self_commit_updates_are_commits_without_proposals() {
    let r = run(&smoke(UpdatePolicy::SelfCommit, 0.0));
    assert_checked(&r);
    let t = &r.totals;
    assert_eq!((t.update_proposals, t.proposal_bytes), (0, 0));
    assert_eq!(t.updates_pending_end, 0);
    assert_eq!(t.update_commits, t.updates_committed);
    // `batched` with no window is the same run.
    let b0 = run(&smoke(UpdatePolicy::Batched, 0.0));
    assert_eq!(b0.totals.commits, t.commits);
    assert_eq!(b0.totals.hpke_seals, t.hpke_seals);
    assert_eq!(b0.commits.hpke_seals, r.commits.hpke_seals);
}

#[test]
fn proposals_are_committed_by_the_next_commit() {
    let base = run(&smoke(UpdatePolicy::SelfCommit, 0.0));
    let r = run(&smoke(UpdatePolicy::Proposal, 0.0));
    assert_checked(&r);
    let t = &r.totals;
    assert_eq!(t.updates, base.totals.updates, "the same stream");
    assert!(t.update_proposals > 10, "{t:?}");
    assert!(t.proposal_bytes > t.update_proposals * 100, "{t:?}");
    // Without a bound no commit carries proposals alone: there are no update commits, and
    // the membership commits are those of the self-commit run.
    assert_eq!(t.update_commits, 0);
    assert_eq!(t.commits, base.totals.commits - base.totals.update_commits);
    // Every proposal is fanned out to every member but its sender, on top of each commit to
    // every member but the committer (members before each commit: the previous commit's).
    let fanout: u64 = r.days.iter().map(|d| d.ds_fanout_bytes).sum();
    let before: Vec<u64> = std::iter::once(t.members_start)
        .chain(r.commits.members.iter().copied())
        .take(r.commits.bytes.len())
        .collect();
    let commits_out: u64 = r
        .commits
        .bytes
        .iter()
        .zip(&before)
        .map(|(b, m)| b * (m - 1))
        .sum();
    let fewest = *before.iter().min().unwrap();
    assert!(
        fanout >= commits_out + t.proposal_bytes * (fewest - 1),
        "{fanout} {commits_out} {}",
        t.proposal_bytes
    );
}

#[test]
fn batched_updates_are_fewer_larger_commits() {
    let b5 = run(&smoke(UpdatePolicy::Batched, 5.0));
    let b60 = run(&smoke(UpdatePolicy::Batched, 60.0));
    let bounded = run(&smoke(UpdatePolicy::Proposal, 60.0));
    for r in [&b5, &b60, &bounded] {
        assert_checked(r);
        assert!(r.totals.update_commits > 0, "{:?}", r.totals);
        assert!(r.totals.update_proposals > 0, "{:?}", r.totals);
    }
    assert!(
        b60.totals.commits < b5.totals.commits,
        "{:?} {:?}",
        b60.totals,
        b5.totals
    );
    assert!(b60.totals.update_commits < b5.totals.update_commits);
}

/// The example sweep compares every policy, with update windows of 0, 5 and 60 minutes.
#[test]
fn update_policy_sweep_example_parses() {
    use canopy_bench::plan::sweep_jobs;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("deploy/sweep-update-policies.toml")).unwrap();
    let jobs = sweep_jobs(&text, None, None).unwrap();
    let mut seen: Vec<(UpdatePolicy, u64)> = jobs
        .iter()
        .map(|j| {
            let w = &j.workload;
            (w.update_policy, w.update_batch_minutes as u64)
        })
        .collect();
    seen.dedup();
    assert_eq!(
        seen,
        vec![
            (UpdatePolicy::SelfCommit, 0),
            (UpdatePolicy::Proposal, 0),
            (UpdatePolicy::Batched, 0),
            (UpdatePolicy::Batched, 5),
            (UpdatePolicy::Batched, 60),
        ]
    );
}
