//! Criterion benches: one group per catalogue operation (`canopy_bench::catalogue`,
//! docs/operations.md), with Canopy, openmls (openmls_rust_crypto) and mls-rs
//! (mls-rs-crypto-awslc, rayon) as the functions and the group size as the parameter.
//!
//! The operations are the ones `canopy compare` compares by default, defined by the catalogue
//! as in compare and the gate: `build` (at 1,000 members at most), `join`, `commit`, `process`,
//! `add1`, `remove1`. Every system works on the same start state ([`Start`]): Canopy generates
//! a populated state (`canopy_workloads` seed 1), the joiner (a Canopy member) joins at the end
//! of the tree, then each peer joins from a Canopy Welcome carrying the ratchet tree. Each
//! iteration starts from a copy of that start state (`Group::clone`, `PeerMember::fork`),
//! made outside the timed region (`iter_batched`), and every routine returns the state it
//! worked on, so that criterion drops it outside the timed region too: dropping a 10,000-member
//! state takes milliseconds, more than a Canopy commit.
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
use canopy_bench::catalogue::canopy::Prepared;
use canopy_bench::catalogue::peer::PeerPrepared;
use canopy_bench::catalogue::{Operation, Start};
use canopy_bench::peers::PeerKind;
use canopy_engine::group::{GroupConfig, Randomness};
use canopy_engine::key_package::Clock;
use canopy_workloads::states::{today, StateKind};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};

/// Largest size at which `build` is benchmarked: openmls needs minutes for it at 10,000.
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

/// The start state of every operation at `members` members: populated, the joiner, the peers.
fn start(members: u32, peers: &[PeerKind]) -> Result<Start> {
    // The peers make their KeyPackages valid from "now" on the wall clock, so the group
    // checks lifetimes against the wall clock too (as in `canopy compare`).
    let config = GroupConfig {
        clock: Clock::System,
        randomness: Randomness::System,
        ..GroupConfig::default()
    };
    eprintln!("ops: generating a populated group of {members} members…");
    let mut start = Start::new(StateKind::Populated, members, 1, today(), config)?;
    start.add_joiner()?;
    for &kind in peers {
        eprintln!("ops: {kind} joins the {members}-member group…");
        start.join_peer(kind)?;
    }
    Ok(start)
}

fn benches(c: &mut Criterion) {
    let peers = peer_kinds();
    let starts: Vec<(u32, Start)> = sizes()
        .into_iter()
        .map(|n| (n, ok(start(n, &peers))))
        .collect();

    for &op in Operation::COMPARED {
        let mut g = c.benchmark_group(op.name());
        for (n, start) in starts
            .iter()
            .filter(|(n, _)| op != Operation::Build || *n <= BUILD_MAX)
        {
            let canopy = ok(Prepared::new(op, start));
            g.bench_function(BenchmarkId::new("canopy", *n), |b| {
                b.iter_batched(
                    || canopy.input(),
                    |mut input| {
                        let ran = ok(input.run());
                        (input, ran)
                    },
                    BatchSize::PerIteration,
                )
            });
            for &kind in &peers {
                let peer = ok(PeerPrepared::new(kind, &canopy));
                g.bench_function(BenchmarkId::new(kind.name(), *n), |b| {
                    b.iter_batched(
                        || ok(peer.input(start)),
                        |mut input| {
                            let ran = ok(input.run());
                            (input, ran)
                        },
                        BatchSize::PerIteration,
                    )
                });
            }
        }
        g.finish();
    }
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
