//! A dudect-style timing test (Reparaz, Balasch, Verbauwhede, "Dude, is my code constant
//! time?", DATE 2017): time one register of lanes with a fixed scalar (zero before clamping, so
//! the clamped scalar has a single bit set) against random scalars, the two classes interleaved
//! at random, and compare the two timing distributions with Welch's t-test. A |t| far above a
//! few means the time depends on the scalar.
//!
//! The suite runs ~20,000 measurements per backend with a loose threshold (|t| < 10), so a
//! shared, noisy 2-core VM does not make it flake; the `#[ignore]`d run takes 500,000 per
//! backend. `harness_detects_a_scalar_dependent_function` shows the harness does catch a leak
//! of the kind it looks for. Timing is by `std::time::Instant` (tens of ns of resolution against
//! tens of µs per measurement).

mod common;

use std::time::Instant;

use canopy_simd::{x25519_base_batch, x25519_batch};
use common::{backends_under_test, random32, rng};
use rand::Rng;

/// Loose on purpose: dudect's own "definitely leaking" line, with room for VM noise.
const T_LIMIT: f64 = 10.0;

/// Welch's t statistic of two samples.
fn welch_t(a: &[f64], b: &[f64]) -> f64 {
    let stats = |x: &[f64]| {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (n, mean, var)
    };
    let (na, ma, va) = stats(a);
    let (nb, mb, vb) = stats(b);
    (ma - mb) / (va / na + vb / nb).sqrt()
}

/// The largest |t| over dudect's crops: all samples, and those below the 99th and 90th
/// percentile of both classes together (long interruptions of a shared host land in the tail).
fn max_abs_t(samples: &[(bool, f64)]) -> f64 {
    let mut pooled: Vec<f64> = samples.iter().map(|s| s.1).collect();
    pooled.sort_by(f64::total_cmp);
    let mut worst: f64 = 0.0;
    for pct in [100usize, 99, 90] {
        let cut = pooled[(pooled.len() * pct / 100).min(pooled.len() - 1)];
        let class = |c: bool| -> Vec<f64> {
            samples
                .iter()
                .filter(|s| s.0 == c && s.1 <= cut)
                .map(|s| s.1)
                .collect()
        };
        let t = welch_t(&class(true), &class(false));
        worst = worst.max(t.abs());
    }
    worst
}

/// Times `n` calls of `f` on a fixed input (class true) or a random one (class false), chosen at
/// random per call; inputs are prepared before each timed call.
fn measure(n: usize, seed: u64, lanes: usize, mut f: impl FnMut(&[[u8; 32]])) -> Vec<(bool, f64)> {
    let mut r = rng(seed);
    let fixed = vec![[0u8; 32]; lanes];
    for _ in 0..n / 20 {
        f(&fixed); // warm-up
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let class = r.random_bool(0.5);
        // Both classes draw random inputs, and the fixed class then overwrites them, so that
        // preparing an input touches the same memory in both: a fixed input copied while a
        // random one is generated shifted a short operation's time by a few nanoseconds
        // (cache lines the generator evicts), which 20,000 samples can tell apart.
        let mut input: Vec<[u8; 32]> = (0..lanes).map(|_| random32(&mut r)).collect();
        if class {
            input.clone_from_slice(&fixed);
        }
        let start = Instant::now();
        f(&input);
        samples.push((class, start.elapsed().as_nanos() as f64));
    }
    samples
}

fn check_backends(n: usize) {
    for backend in backends_under_test("constant_time") {
        let lanes = backend.lanes();
        let mut r = rng(99);
        let points: Vec<[u8; 32]> = (0..lanes).map(|_| random32(&mut r)).collect();
        let mut out = vec![[0u8; 32]; lanes];
        let samples = measure(n, 5, lanes, |scalars| {
            let _ = x25519_batch(backend, scalars, &points, &mut out).unwrap();
            std::hint::black_box(&out);
        });
        let t = max_abs_t(&samples);
        println!("constant_time/{backend}: {n} measurements, max |t| = {t:.2}");
        assert!(
            t < T_LIMIT,
            "{backend}: timing depends on the scalar (|t| = {t:.2})"
        );
    }
}

/// The same for fixed-base X25519, which the AVX-512 IFMA backend computes by a comb rather
/// than the ladder: the fixed scalar's radix-16 digits are nearly all zero, so a digit-0
/// shortcut or a digit-indexed table read would show.
fn check_fixed_base(n: usize) {
    for backend in backends_under_test("constant_time_fixed_base") {
        let lanes = backend.lanes();
        let mut out = vec![[0u8; 32]; lanes];
        let samples = measure(n, 7, lanes, |scalars| {
            let _ = x25519_base_batch(backend, scalars, &mut out).unwrap();
            std::hint::black_box(&out);
        });
        let t = max_abs_t(&samples);
        println!("constant_time_fixed_base/{backend}: {n} measurements, max |t| = {t:.2}");
        assert!(
            t < T_LIMIT,
            "{backend}: fixed-base timing depends on the scalar (|t| = {t:.2})"
        );
    }
}

#[test]
fn fixed_and_random_scalars_take_the_same_time_in_every_backend() {
    check_backends(20_000);
}

#[test]
fn fixed_base_takes_the_same_time_for_fixed_and_random_scalars_in_every_backend() {
    check_fixed_base(20_000);
}

#[test]
#[ignore = "500,000 measurements per backend; run with --ignored on a quiet host"]
fn fixed_base_takes_the_same_time_long() {
    check_fixed_base(500_000);
}

#[test]
#[ignore = "500,000 measurements per backend; run with --ignored on a quiet host"]
fn fixed_and_random_scalars_take_the_same_time_long() {
    check_backends(500_000);
}

#[test]
fn harness_detects_a_scalar_dependent_function() {
    // A ladder-sized amount of work per set scalar bit: the fixed scalar (no bit set) is fast.
    let samples = measure(4_000, 6, 1, |scalars| {
        let ones: u32 = scalars[0].iter().map(|b| b.count_ones()).sum();
        let mut x = 0u64;
        for i in 0..ones * 200 {
            x = std::hint::black_box(
                x.wrapping_mul(6364136223846793005)
                    .wrapping_add(u64::from(i)),
            );
        }
        std::hint::black_box(x);
    });
    let t = max_abs_t(&samples);
    println!("constant_time/leaky: max |t| = {t:.2}");
    assert!(t > T_LIMIT, "the harness missed a leak (|t| = {t:.2})");
}
