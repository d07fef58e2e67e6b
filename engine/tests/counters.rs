//! The primitive counters count exactly what an operation does (one test per binary: the
//! counters are process-wide).

use canopy_engine::batch::Executor;
use canopy_engine::crypto::counters;
use canopy_engine::crypto::{CipherSuite, Provider, Secret};
use canopy_engine::group::{CommitOptions, Group, GroupConfig, Randomness};
use canopy_engine::key_package::{default_lifetime, key_package_from_seed, Clock};

#[test]
fn a_bulk_add_commit_counts_exactly() {
    let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let now = 1_800_000_000;
    let kps: Vec<_> = (1..=3u8)
        .map(|i| {
            key_package_from_seed(&p, &[i], &[i; 32], default_lifetime(now))
                .unwrap()
                .0
        })
        .collect();
    for executor in [Executor::Serial, Executor::Parallel] {
        let config = GroupConfig {
            clock: Clock::Fixed(now),
            executor,
            randomness: Randomness::Seeded(Secret::new(vec![3; 32])),
        };
        let (signer, _) = p.signature_key_pair_from_seed(&[9; 32]).unwrap();
        let mut g = Group::create(p, b"g", b"c", signer, config).unwrap();
        let before = counters::snapshot();
        let out = g
            .commit(&CommitOptions {
                adds: kps.clone(),
                force_path: true,
                ..CommitOptions::default()
            })
            .unwrap();
        let d = counters::snapshot() - before;
        // Three Welcome seals; the path has no one to encrypt to (new leaves are excluded).
        assert_eq!(out.counts.hpke_seals, 3);
        assert_eq!(d.x25519_dh, 3, "{d:?}");
        // Each KeyPackage: its own signature and its leaf's.
        assert_eq!(d.ed25519_verify, 6, "{d:?}");
        // The new leaf, the commit, the GroupInfo.
        assert_eq!(d.ed25519_sign, 3, "{d:?}");
        // Ephemeral keys of 3 seals + the new leaf key + 2 path nodes (4 leaves: 2 levels).
        assert_eq!(d.x25519_base, 6, "{d:?}");
        assert!(d.hash_bytes > 0 && d.aead_bytes > 0 && d.hkdf_expand > 0);
    }
}
