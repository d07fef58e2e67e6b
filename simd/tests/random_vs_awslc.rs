//! Random inputs: every lane of every backend equals aws-lc's X25519 and the portable reference.
//! 20,000 variable-base and 2,000 fixed-base cases in the suite; 1,000,000 and 100,000 in the
//! `#[ignore]`d long run. Batch lengths vary (1 to three registers and a tail) so every lane
//! position and tail length is exercised.

mod common;

use canopy_simd::{x25519_base_batch, x25519_batch, Backend};
use common::{awslc_public, awslc_x25519, backends_under_test, random32, rng};
use rand::Rng;

/// Checks `n` random (scalar, point) cases in every backend against aws-lc; returns the number
/// of lanes compared.
fn variable_base(n: usize, seed: u64) -> usize {
    let mut r = rng(seed);
    let scalars: Vec<[u8; 32]> = (0..n).map(|_| random32(&mut r)).collect();
    let points: Vec<[u8; 32]> = (0..n).map(|_| random32(&mut r)).collect();
    // aws-lc refuses an all-zero output; X25519's output is then zero.
    let expected: Vec<[u8; 32]> = scalars
        .iter()
        .zip(&points)
        .map(|(k, u)| awslc_x25519(k, u).unwrap_or([0; 32]))
        .collect();
    let mut portable = vec![[0u8; 32]; n];
    let _ = x25519_batch(Backend::Portable, &scalars, &points, &mut portable).unwrap();
    let mut compared = 0;
    for backend in backends_under_test("random_variable_base") {
        let mut start = 0;
        while start < n {
            let len = r.random_range(1..=3 * backend.lanes() + 1).min(n - start);
            let range = start..start + len;
            let mut out = vec![[0u8; 32]; len];
            let zero = x25519_batch(
                backend,
                &scalars[range.clone()],
                &points[range.clone()],
                &mut out,
            )
            .unwrap();
            for (lane, case) in range.enumerate() {
                let what = format!("{backend}: case {case} (seed {seed}), lane {lane} of {len}");
                assert_eq!(out[lane], expected[case], "{what}: aws-lc");
                assert_eq!(out[lane], portable[case], "{what}: portable reference");
                assert_eq!(zero.contains(lane), expected[case] == [0; 32], "{what}");
                compared += 1;
            }
            start += len;
        }
    }
    compared
}

/// Checks `n` random scalars' public keys in every backend against aws-lc.
fn fixed_base(n: usize, seed: u64) -> usize {
    let mut r = rng(seed);
    let scalars: Vec<[u8; 32]> = (0..n).map(|_| random32(&mut r)).collect();
    let expected: Vec<[u8; 32]> = scalars.iter().map(awslc_public).collect();
    let mut compared = 0;
    for backend in backends_under_test("random_fixed_base") {
        let mut out = vec![[0u8; 32]; n];
        x25519_base_batch(backend, &scalars, &mut out)
            .unwrap()
            .into_result()
            .unwrap();
        for (i, (o, e)) in out.iter().zip(&expected).enumerate() {
            assert_eq!(
                o, e,
                "{backend}: public key of random scalar {i} (seed {seed})"
            );
            compared += 1;
        }
    }
    compared
}

#[test]
fn twenty_thousand_random_cases_equal_awslc_in_every_backend() {
    let compared = variable_base(20_000, 1);
    println!("random_variable_base: {compared} lanes equal aws-lc and the portable reference");
    assert_eq!(compared, 20_000 * Backend::available().len());
}

#[test]
fn two_thousand_random_public_keys_equal_awslc_in_every_backend() {
    let compared = fixed_base(2_000, 2);
    println!("random_fixed_base: {compared} public keys equal aws-lc");
    assert_eq!(compared, 2_000 * Backend::available().len());
}

/// Scalars whose radix-16 digits sit at the comb's edges: all zero (before clamping), every
/// digit −8 (bytes 0x88) or 7 (0x77), a carry through every window (0xff), one nonzero byte,
/// alternating nibbles; each in every position of an 11-lane batch (a full register of eight
/// and a padded tail) among random neighbours, against aws-lc and the portable ladder.
#[test]
fn crafted_scalars_give_the_same_public_keys_in_every_backend_and_position() {
    let mut crafted: Vec<[u8; 32]> = vec![[0; 32], [0xff; 32], [0x88; 32], [0x77; 32], [0x80; 32]];
    crafted.extend([[0x08; 32], [0xf0; 32], [0x0f; 32], [0x5a; 32], [0xa5; 32]]);
    for i in [0usize, 1, 15, 16, 30, 31] {
        let mut k = [0u8; 32];
        k[i] = 0xff;
        crafted.push(k);
        let mut k = [0xffu8; 32];
        k[i] = 0;
        crafted.push(k);
    }
    let mut r = rng(3);
    let mut compared = 0;
    for backend in backends_under_test("crafted_fixed_base") {
        for k in &crafted {
            for pos in 0..11 {
                let mut scalars: Vec<[u8; 32]> = (0..11).map(|_| random32(&mut r)).collect();
                scalars[pos] = *k;
                let mut out = vec![[0u8; 32]; 11];
                x25519_base_batch(backend, &scalars, &mut out)
                    .unwrap()
                    .into_result()
                    .unwrap();
                for (i, (o, s)) in out.iter().zip(&scalars).enumerate() {
                    assert_eq!(*o, awslc_public(s), "{backend}: scalar {s:02x?} at {i}");
                    let mut portable = [[0u8; 32]];
                    let nine = {
                        let mut u = [0u8; 32];
                        u[0] = 9;
                        u
                    };
                    let _ = x25519_batch(Backend::Portable, &[*s], &[nine], &mut portable).unwrap();
                    assert_eq!(
                        *o, portable[0],
                        "{backend}: scalar {s:02x?} at {i}, portable"
                    );
                    compared += 1;
                }
            }
        }
    }
    println!("crafted_fixed_base: {compared} public keys equal aws-lc and the portable ladder");
    assert_eq!(
        compared,
        crafted.len() * 11 * 11 * Backend::available().len()
    );
}

#[test]
#[ignore = "a million cases per backend: minutes; run with --ignored"]
fn a_million_random_cases_equal_awslc_in_every_backend() {
    let mut compared = 0;
    // In chunks, so memory stays small and a failure names its seed.
    for seed in 100..110 {
        compared += variable_base(100_000, seed);
    }
    compared += fixed_base(100_000, 200);
    println!("random (long): {compared} lanes equal aws-lc");
    assert_eq!(compared, 1_100_000 * Backend::available().len());
}
