//! Commits of many independent groups: one by one (each commit's own batches parallel) versus
//! one job pool across groups (`canopy_engine::group::multi::commit_many`).
//!
//! ```sh
//! cargo bench -p canopy-bench --bench multi_group
//! ```

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};

use canopy_engine::batch::Executor;
use canopy_engine::crypto::{CipherSuite, Provider, Secret};
use canopy_engine::group::multi::{commit_many, commit_many_with};
use canopy_engine::group::{CommitOptions, Group, GroupConfig, Randomness};
use canopy_engine::key_package::{default_lifetime, key_package_from_seed, Clock};

const NOW: u64 = 1_800_000_000;

/// `count` groups of `members` members each (one bulk add by the creator).
fn groups(count: u32, members: u32) -> Vec<Group> {
    let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    (0..count)
        .map(|g| {
            let mut seed = vec![0x6e; 32];
            seed[..4].copy_from_slice(&g.to_be_bytes());
            let config = GroupConfig {
                clock: Clock::Fixed(NOW),
                executor: Executor::Parallel,
                randomness: Randomness::Seeded(Secret::new(seed)),
                ..GroupConfig::default()
            };
            let (signer, _) = p
                .signature_key_pair_from_seed(&[g as u8; 32])
                .expect("seeded signer");
            let mut group =
                Group::create(p, &g.to_be_bytes(), b"creator", signer, config).expect("create");
            let adds: Vec<_> = (1..members)
                .map(|i| {
                    let mut s = [0x1f; 32];
                    s[..4].copy_from_slice(&g.to_be_bytes());
                    s[4..8].copy_from_slice(&i.to_be_bytes());
                    key_package_from_seed(&p, b"member", &s, default_lifetime(NOW))
                        .expect("key package")
                        .0
                })
                .collect();
            group
                .commit(&CommitOptions::new().adds(adds))
                .expect("bulk add");
            group
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let options = CommitOptions::new().with_path();
    let mut group = c.benchmark_group("multi_group_commit");
    group.sample_size(10);
    for (count, members) in [(64u32, 16u32), (16, 1000)] {
        let base = groups(count, members);
        let id = format!("{count}x{members}");
        group.bench_function(BenchmarkId::new("one_by_one", &id), |b| {
            b.iter_batched(
                || base.clone(),
                |mut gs| {
                    for g in gs.iter_mut() {
                        g.commit(&options).expect("commit");
                    }
                    gs
                },
                BatchSize::LargeInput,
            )
        });
        group.bench_function(BenchmarkId::new("commit_many", &id), |b| {
            b.iter_batched(
                || base.clone(),
                |mut gs| {
                    for r in commit_many(&mut gs, &options) {
                        r.expect("commit");
                    }
                    gs
                },
                BatchSize::LargeInput,
            )
        });
        group.bench_function(BenchmarkId::new("commit_many_serial", &id), |b| {
            b.iter_batched(
                || base.clone(),
                |mut gs| {
                    for r in commit_many_with(&mut gs, &options, Executor::Serial) {
                        r.expect("commit");
                    }
                    gs
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
