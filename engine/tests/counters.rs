//! The primitive counters count exactly what an operation does (one test per binary: the
//! counters are process-wide).

use canopy_engine::batch::Executor;
use canopy_engine::crypto::{
    backend, counters, CipherSuite, OpenContext, Provider, SealContext, Secret,
};
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
            ..GroupConfig::default()
        };
        let (signer, _) = p.signature_key_pair_from_seed(&[9; 32]).unwrap();
        let mut g = Group::create(p, b"g", b"c", signer, config).unwrap();
        let before = counters::snapshot();
        let out = g
            .commit(&CommitOptions::new().adds(kps.clone()).with_path())
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
        // Each seal parses its ephemeral private key once, which yields both its public key
        // and the key the DH runs with (aws-lc computes the public key on every parse, so a
        // second parse for the DH would be a second, uncounted, base multiplication).
        assert_eq!(d.x25519_base, 6, "{d:?}");
        assert!(d.hash_bytes > 0 && d.aead_bytes > 0 && d.hkdf_expand > 0);
    }

    // One HPKE seal and one open, in the batched and in the single-shot (hpke-rs) paths: a
    // seal is one fixed-base multiplication (the ephemeral key pair) and one DH; an open is
    // one DH plus one fixed-base multiplication (the recipient's public key for the KEM
    // context, from the same parse of its private key).
    let (sk, pk) = p.derive_hpke_key_pair(&[5; 32]).unwrap();
    let seal = SealContext::new(&p, b"label", b"context").unwrap();
    let open = OpenContext::new(&p, b"label", b"context").unwrap();
    let before = counters::snapshot();
    let (kem_output, ct) = seal.seal(&pk, b"plaintext", Some(&[6; 32])).unwrap();
    let d = counters::snapshot() - before;
    assert_eq!((d.x25519_base, d.x25519_dh), (1, 1), "seal {d:?}");
    let before = counters::snapshot();
    assert_eq!(open.open(&sk, &kem_output, &ct).unwrap(), b"plaintext");
    let d = counters::snapshot() - before;
    assert_eq!((d.x25519_base, d.x25519_dh), (1, 1), "open {d:?}");
    // A bare DH parses the private key: one base multiplication and the DH.
    let before = counters::snapshot();
    canopy_engine::crypto::awslc::x25519(sk.as_bytes(), &pk).unwrap();
    let d = counters::snapshot() - before;
    assert_eq!((d.x25519_base, d.x25519_dh), (1, 1), "dh {d:?}");

    // An Ed25519 verification counts once, with its message's bytes hashed, on every backend
    // this host runs and whatever the outcome: the gate's exact tier must not depend on
    // `CANOPY_CRYPTO`.
    let (ssk, spk) = p.signature_key_pair_from_seed(&[4; 32]).unwrap();
    let sig = p.sign_labeled(&ssk, b"signed content").unwrap();
    let mut ran = 0;
    for b in backend::CryptoBackend::ALL {
        if b.check_available().is_err() {
            continue;
        }
        ran += 1;
        for (msg, ok) in [
            (&b"signed content"[..], true),
            (&b"other content!"[..], false),
        ] {
            let before = counters::snapshot();
            let got = backend::ed25519_verify_with(b, &spk, msg, &sig);
            let d = counters::snapshot() - before;
            assert_eq!(got.is_ok(), ok, "{b:?}");
            assert_eq!(
                (d.ed25519_verify, d.ed25519_msg_bytes, d.hash_bytes),
                (1, 14, 0),
                "{b:?} {d:?}"
            );
        }
    }
    assert!(ran >= 1);
    let before = counters::snapshot();
    p.verify_labeled(&spk, b"signed content", &sig).unwrap();
    let d = counters::snapshot() - before;
    assert_eq!(
        (d.ed25519_verify, d.ed25519_msg_bytes, d.hash_bytes),
        (1, 14, 0),
        "selected backend {d:?}"
    );
}
