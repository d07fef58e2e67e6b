//! Criterion benches: one group per operation, with Canopy, openmls (openmls_rust_crypto) and
//! mls-rs (mls-rs-crypto-awslc, rayon) as the functions and the group size as the parameter.
//!
//! Every system works on the same group: Canopy generates a populated state
//! (`canopy_workloads` seed 1) and each peer joins it from a Canopy Welcome carrying the
//! ratchet tree ([`canopy_bench::setup::Shared`], the setup `canopy compare` uses). Each
//! iteration starts from a copy of that start state (`Group::clone`, `PeerMember::fork`),
//! made outside the timed region (`iter_batched`), and every routine returns the state it
//! worked on, so that criterion drops it outside the timed region too: dropping a 10,000-member
//! state takes milliseconds, more than a Canopy commit, and was timed before.
//!
//! Operations: `join` (from a Welcome with the tree), `commit` (no proposals, with path),
//! `process` (that commit, as another member), `add1` (one add, tree in the Welcome),
//! `remove1` (commit with path), and `build` (a new group of N members in one commit; at
//! 1,000 members only).
//!
//! ```text
//! cargo bench --bench ops                                   # 1,000 and 10,000 members
//! CANOPY_BENCH_MEMBERS=1000 cargo bench --bench ops -- commit
//! CANOPY_BENCH_MEMBERS=20 cargo bench --bench ops -- --test # smoke: each bench once
//! CANOPY_BENCH_PEERS=mls-rs cargo bench --bench ops         # Canopy and mls-rs only
//! ```

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::time::Duration;

use anyhow::Result;
use canopy_bench::peers::{new_member, CommitOp, PeerKind};
use canopy_bench::setup::{key_package_of, kp_message, Shared};
use canopy_engine::codec::KeyPackage;
use canopy_engine::group::{CommitOptions, Group, GroupConfig, Randomness};
use canopy_engine::key_package::Clock;
use canopy_workloads::states::{today, StateKind};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};

/// Largest size at which `build` is benchmarked.
const BUILD_MAX: u32 = 1000;

fn sizes() -> Vec<u32> {
    std::env::var("CANOPY_BENCH_MEMBERS")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn peer_kinds() -> Vec<PeerKind> {
    std::env::var("CANOPY_BENCH_PEERS")
        .unwrap_or_else(|_| "openmls,mls-rs".into())
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse()
                .expect("CANOPY_BENCH_PEERS: openmls, mls-rs")
        })
        .collect()
}

/// Panic with the whole error chain: a bench cannot return errors.
fn ok<T, E: Into<anyhow::Error>>(r: std::result::Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => {
            let e: anyhow::Error = e.into();
            panic!("{e:#}")
        }
    }
}

fn setup(members: u32, peers: &[PeerKind]) -> Result<Shared> {
    // The peers make their KeyPackages valid from "now" on the wall clock, so the group
    // checks lifetimes against the wall clock too (as in `canopy compare`).
    let config = GroupConfig {
        clock: Clock::System,
        randomness: Randomness::System,
        ..GroupConfig::default()
    };
    eprintln!("ops: generating a populated group of {members} members…");
    let mut shared = Shared::new(StateKind::Populated, members, 1, today(), config)?;
    for &kind in peers {
        eprintln!("ops: {kind} joins the {members}-member group…");
        shared.join_peer(kind)?;
    }
    Ok(shared)
}

fn canopy_commit(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: BenchmarkId,
    group: &Group,
    options: CommitOptions,
) {
    c.bench_function(id, |b| {
        b.iter_batched(
            || group.clone(),
            |mut g| {
                let out = ok(g.commit(&options));
                (g, out)
            },
            BatchSize::PerIteration,
        )
    });
}

/// The peer counterpart of [`canopy_commit`]: `kind`'s member in `shared` commits `op()`
/// (with the tree in the Welcome if `with_tree`), from a fresh fork each iteration.
fn peer_commit(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: BenchmarkId,
    shared: &Shared,
    kind: PeerKind,
    op: impl Fn() -> CommitOp,
    with_tree: bool,
) {
    c.bench_function(id, |b| {
        b.iter_batched(
            || ok(shared.peer(kind)),
            |mut m| {
                let out = ok(m.commit(op(), with_tree));
                (m, out)
            },
            BatchSize::PerIteration,
        )
    });
}

fn benches(c: &mut Criterion) {
    let peers = peer_kinds();
    let sizes = sizes();
    let mut states: Vec<(u32, Shared)> = sizes.iter().map(|&n| (n, ok(setup(n, &peers)))).collect();

    // join: a member joins from a Welcome carrying the tree.
    let mut g = c.benchmark_group("join");
    for (n, s) in states.iter_mut() {
        let (kp, secrets) = ok(s.fresh_kp());
        let welcome = ok(s.welcome_for(kp.clone()));
        let (provider, config) = (s.provider, s.config.clone());
        g.bench_function(BenchmarkId::new("canopy", *n), |b| {
            b.iter_batched(
                || config.clone(),
                |config| ok(Group::join(provider, &welcome, &kp, &secrets, None, config)),
                BatchSize::PerIteration,
            )
        });
        for &kind in &peers {
            let s = &*s;
            g.bench_function(BenchmarkId::new(kind.name(), *n), |b| {
                b.iter_batched(
                    || {
                        let mut joiner = ok(new_member(kind, b"bench-joiner"));
                        let kp = ok(key_package_of(&ok(joiner.key_package())));
                        (joiner, ok(s.welcome_for(kp)))
                    },
                    |(mut joiner, welcome)| {
                        ok(joiner.join(&welcome, None));
                        joiner
                    },
                    BatchSize::PerIteration,
                )
            });
        }
    }
    g.finish();

    // commit: no proposals, with an UpdatePath.
    let mut g = c.benchmark_group("commit");
    for (n, s) in &states {
        let options = CommitOptions::new().with_path();
        canopy_commit(&mut g, BenchmarkId::new("canopy", *n), &s.admin, options);
        for &kind in &peers {
            let id = BenchmarkId::new(kind.name(), *n);
            peer_commit(&mut g, id, s, kind, || CommitOp::Empty, false);
        }
    }
    g.finish();

    // process: the admin's commit, processed by another member.
    let mut g = c.benchmark_group("process");
    for (n, s) in &states {
        let commit = ok(s.admin.clone().commit(&CommitOptions::new().with_path())).commit;
        g.bench_function(BenchmarkId::new("canopy", *n), |b| {
            b.iter_batched(
                || s.receiver.clone(),
                |mut r| {
                    ok(r.process(&commit));
                    r
                },
                BatchSize::PerIteration,
            )
        });
        for &kind in &peers {
            g.bench_function(BenchmarkId::new(kind.name(), *n), |b| {
                b.iter_batched(
                    || ok(s.peer(kind)),
                    |mut m| {
                        ok(m.process(&commit));
                        m
                    },
                    BatchSize::PerIteration,
                )
            });
        }
    }
    g.finish();

    // add1: one Add, the tree in the Welcome.
    let mut g = c.benchmark_group("add1");
    for (n, s) in states.iter_mut() {
        let (kp, _) = ok(s.fresh_kp());
        let kp_bytes = ok(kp_message(&kp));
        let options = CommitOptions::new()
            .adds(vec![kp])
            .ratchet_tree_in_welcome();
        canopy_commit(&mut g, BenchmarkId::new("canopy", *n), &s.admin, options);
        for &kind in &peers {
            let id = BenchmarkId::new(kind.name(), *n);
            let add = || CommitOp::Add(vec![kp_bytes.clone()]);
            peer_commit(&mut g, id, s, kind, add, true);
        }
    }
    g.finish();

    // remove1: one Remove, with path.
    let mut g = c.benchmark_group("remove1");
    for (n, s) in &states {
        let victim = s.victim();
        let options = CommitOptions::new().removes(vec![victim]);
        canopy_commit(&mut g, BenchmarkId::new("canopy", *n), &s.admin, options);
        for &kind in &peers {
            let id = BenchmarkId::new(kind.name(), *n);
            peer_commit(
                &mut g,
                id,
                s,
                kind,
                || CommitOp::Remove(vec![victim.0]),
                false,
            );
        }
    }
    g.finish();

    // build: a new group of N members in one commit (bulk add, tree in the Welcome).
    let mut g = c.benchmark_group("build");
    for (n, s) in states.iter_mut().filter(|(n, _)| *n <= BUILD_MAX) {
        let kps: Vec<KeyPackage> = (1..*n).map(|_| ok(s.fresh_kp()).0).collect();
        let kp_bytes: Vec<Vec<u8>> = kps.iter().map(|k| ok(kp_message(k))).collect();
        let (provider, config) = (s.provider, s.config.clone());
        let (signer, _) = ok(provider.signature_key_pair_from_seed(&[0x42; 32]));
        let creator = ok(Group::create(
            provider,
            b"canopy-build",
            b"creator",
            signer,
            config,
        ));
        canopy_commit(
            &mut g,
            BenchmarkId::new("canopy", *n),
            &creator,
            CommitOptions::new().adds(kps).ratchet_tree_in_welcome(),
        );
        for &kind in &peers {
            g.bench_function(BenchmarkId::new(kind.name(), *n), |b| {
                b.iter_batched(
                    || {
                        let mut m = ok(new_member(kind, b"peer-creator"));
                        ok(m.create_group(b"peer-build"));
                        m
                    },
                    |mut m| {
                        let out = ok(m.commit(CommitOp::Add(kp_bytes.clone()), true));
                        (m, out)
                    },
                    BatchSize::PerIteration,
                )
            });
        }
    }
    g.finish();
}

fn config() -> Criterion {
    // Operations take milliseconds to seconds: few samples, short warm-up.
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
}

criterion_group! {
    name = ops;
    config = config();
    targets = benches
}
criterion_main!(ops);
