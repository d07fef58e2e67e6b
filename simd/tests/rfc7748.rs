//! RFC 7748's test vectors through every backend: §5.2 (two single multiplications, then the
//! iterated vector after 1, 1,000 and — `#[ignore]`d — 1,000,000 rounds) and §6.1 (the
//! Diffie-Hellman example). Each vector is placed in every lane of a batch whose length is not a
//! multiple of the register width, so full registers and the padded tail are both covered.

mod common;

use canopy_simd::{x25519_base_batch, x25519_batch, Backend, Error};
use common::{backends_under_test, hex32};

/// RFC 7748 §5.2: (scalar, u-coordinate, output).
const SECTION_5_2: [(&str, &str, &str); 2] = [
    (
        "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
        "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
    ),
    (
        "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
        "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
        "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
    ),
];

/// RFC 7748 §5.2, the iterated vector: k = u = 9, then (k, u) = (X25519(k, u), k).
const AFTER_1: &str = "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079";
const AFTER_1000: &str = "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51";
const AFTER_1000000: &str = "7c3911e0ab2586fd864497297e575e6f3bc601c0883c30df5f4dd2d24f665424";

/// A batch length that is neither a register width nor a multiple of one: a full register of
/// every backend plus a tail.
const BATCH: usize = 11;

#[test]
fn section_5_2_vectors_in_every_lane_of_every_backend() {
    let mut checked = 0;
    for backend in backends_under_test("section_5_2") {
        for (k, u, expected) in SECTION_5_2 {
            let (k, u, expected) = (hex32(k), hex32(u), hex32(expected));
            // All lanes hold the vector.
            let mut out = [[0u8; 32]; BATCH];
            let zero = x25519_batch(backend, &[k; BATCH], &[u; BATCH], &mut out).unwrap();
            assert!(zero.is_empty(), "{backend}");
            for (lane, o) in out.iter().enumerate() {
                assert_eq!(*o, expected, "{backend}, lane {lane}");
                checked += 1;
            }
            // And a batch of one.
            let mut one = [[0u8; 32]; 1];
            let zero = x25519_batch(backend, &[k], &[u], &mut one).unwrap();
            assert!(zero.is_empty());
            assert_eq!(one[0], expected, "{backend}, batch of one");
            checked += 1;
        }
    }
    println!("section_5_2: {checked} lanes checked");
}

/// Runs the iterated vector for `rounds` rounds in every lane of a batch of `len` at once (each
/// lane iterates the same chain) and checks every lane at each checkpoint.
fn iterate(backend: Backend, len: usize, rounds: usize, checkpoints: &[(usize, &str)]) {
    let nine = canopy_simd::BASE_POINT;
    let mut k = vec![nine; len];
    let mut u = vec![nine; len];
    let mut next = vec![[0u8; 32]; len];
    for round in 1..=rounds {
        let zero = x25519_batch(backend, &k, &u, &mut next).unwrap();
        assert!(zero.is_empty(), "{backend}, round {round}");
        std::mem::swap(&mut u, &mut k);
        std::mem::swap(&mut k, &mut next);
        if let Some((_, expected)) = checkpoints.iter().find(|(r, _)| *r == round) {
            for (lane, kl) in k.iter().enumerate() {
                assert_eq!(
                    *kl,
                    hex32(expected),
                    "{backend}, lane {lane}, after {round} rounds"
                );
            }
        }
    }
}

#[test]
fn iterated_vector_after_1_and_1000_rounds_in_every_backend() {
    for backend in backends_under_test("iterated_1000") {
        iterate(backend, BATCH, 1000, &[(1, AFTER_1), (1000, AFTER_1000)]);
    }
}

#[test]
#[ignore = "1,000,000 sequential rounds: minutes per backend; run with --ignored"]
fn iterated_vector_after_1000000_rounds_in_every_backend() {
    for backend in backends_under_test("iterated_1000000") {
        // One register: every lane runs the chain, no padding lanes.
        iterate(
            backend,
            backend.lanes(),
            1_000_000,
            &[(1, AFTER_1), (1000, AFTER_1000), (1_000_000, AFTER_1000000)],
        );
    }
}

#[test]
fn section_6_1_diffie_hellman_in_every_backend() {
    let alice = hex32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    let alice_public = hex32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    let bob = hex32("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    let bob_public = hex32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    let shared = hex32("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    for backend in backends_under_test("section_6_1") {
        // Alternate the two parties across the lanes.
        let scalars: Vec<[u8; 32]> = (0..BATCH)
            .map(|i| if i % 2 == 0 { alice } else { bob })
            .collect();
        let mut public = vec![[0u8; 32]; BATCH];
        x25519_base_batch(backend, &scalars, &mut public)
            .unwrap()
            .into_result()
            .unwrap();
        for (i, p) in public.iter().enumerate() {
            let expected = if i % 2 == 0 { alice_public } else { bob_public };
            assert_eq!(*p, expected, "{backend}, public key in lane {i}");
        }
        let peers: Vec<[u8; 32]> = (0..BATCH)
            .map(|i| if i % 2 == 0 { bob_public } else { alice_public })
            .collect();
        let mut out = vec![[0u8; 32]; BATCH];
        x25519_batch(backend, &scalars, &peers, &mut out)
            .unwrap()
            .into_result()
            .unwrap();
        for (i, o) in out.iter().enumerate() {
            assert_eq!(*o, shared, "{backend}, shared secret in lane {i}");
        }
    }
}

#[test]
fn empty_batches_and_mismatched_lengths() {
    for backend in backends_under_test("lengths") {
        let zero = x25519_batch(backend, &[], &[], &mut []).unwrap();
        assert!(zero.is_empty());
        let err = x25519_batch(backend, &[[1; 32]; 2], &[[9; 32]; 3], &mut [[0; 32]; 2]);
        assert_eq!(
            err,
            Err(Error::LengthMismatch {
                scalars: 2,
                points: 3,
                outputs: 2
            })
        );
        let err = x25519_base_batch(backend, &[[1; 32]; 2], &mut [[0; 32]; 1]);
        assert!(matches!(err, Err(Error::LengthMismatch { .. })), "{err:?}");
    }
}
