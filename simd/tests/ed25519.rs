//! The Ed25519 double-base lanes against the serial reference: every backend the host runs
//! computes the same `[s]B − [k]A` (or the same refusal of the key) as the portable code, on
//! random keys, honest keys, the eight small-order points, non-canonical and negative-zero
//! encodings, and scalars at the edges. Batch lengths vary so every lane position and tail
//! length is exercised. The engine's `ed25519_agreement` tests take the whole verification
//! (these lanes included) against aws-lc case by case.

mod common;

use canopy_simd::{ed25519_double_base_batch, Backend, DoubleBaseInput};
use common::{backends_under_test, hex32, random32, rng};
use rand::Rng;

/// ℓ − 1, little-endian: the largest scalar a caller passes.
const ELL_MINUS_1: &str = "ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";

/// The eight points of small order (their canonical encodings), from "Taming the many EdDSAs".
const SMALL_ORDER: [&str; 8] = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
];

fn scalar(r: &mut impl Rng) -> [u8; 32] {
    let mut s = [0u8; 32];
    r.fill_bytes(&mut s);
    match r.random_range(0..8) {
        0 => hex32(ELL_MINUS_1),
        1 => [0; 32],
        2 => {
            let mut one = [0; 32];
            one[0] = 1;
            one
        }
        _ => {
            s[31] &= 0x0f; // below 2^252 < ℓ
            s
        }
    }
}

fn key(r: &mut rand_chacha::ChaCha20Rng) -> [u8; 32] {
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
    match r.random_range(0..10) {
        0..=3 => {
            let seed = random32(r);
            let kp = Ed25519KeyPair::from_seed_unchecked(&seed).expect("any seed");
            kp.public_key().as_ref().try_into().expect("32 bytes")
        }
        4 => hex32(SMALL_ORDER[r.random_range(0..8)]),
        5 => {
            // y ≥ p (non-canonical), with either sign.
            let mut y = [0xff; 32];
            y[0] = 0xed + r.random_range(0..19u8);
            y[31] = if r.random_bool(0.5) { 0x7f } else { 0xff };
            y
        }
        6 => {
            // Negative zeros and their positive twins.
            let mut y = hex32(SMALL_ORDER[r.random_range(0..2)]);
            if r.random_bool(0.5) {
                y[31] |= 0x80;
            }
            y
        }
        _ => random32(r), // about half decode
    }
}

fn check(n: usize, seed: u64) -> usize {
    let mut r = rng(seed);
    let inputs: Vec<DoubleBaseInput> = (0..n)
        .map(|_| DoubleBaseInput {
            key: key(&mut r),
            k: scalar(&mut r),
            s: scalar(&mut r),
        })
        .collect();
    let mut want = vec![None; n];
    ed25519_double_base_batch(Backend::Portable, &inputs, &mut want).unwrap();
    assert!(want.iter().any(|w| w.is_none()) && want.iter().any(|w| w.is_some()));
    let mut compared = 0;
    for backend in backends_under_test("ed25519_double_base") {
        let mut start = 0;
        while start < n {
            let len = r.random_range(1..=3 * backend.lanes() + 1).min(n - start);
            let mut out = vec![None; len];
            ed25519_double_base_batch(backend, &inputs[start..start + len], &mut out).unwrap();
            for (i, o) in out.iter().enumerate() {
                assert_eq!(
                    *o,
                    want[start + i],
                    "{backend}: case {} {:x?}",
                    start + i,
                    inputs[start + i]
                );
                compared += 1;
            }
            start += len;
        }
    }
    compared
}

#[test]
fn lanes_equal_the_reference() {
    let compared = check(600, 1);
    println!("ed25519 double-base: {compared} lanes compared");
    assert!(compared >= 600);
}

/// Batches longer than one call into a backend (several registers share one inversion there):
/// every length around the boundaries of registers and calls, with undecodable keys (whose
/// lanes carry points off the curve into the shared inversion) scattered and filling a whole
/// register.
#[test]
fn long_batches_equal_the_reference() {
    let mut r = rng(3);
    let mut compared = 0;
    for len in [63, 64, 65, 127, 128, 129, 197] {
        let mut inputs: Vec<DoubleBaseInput> = (0..len)
            .map(|_| DoubleBaseInput {
                key: key(&mut r),
                k: scalar(&mut r),
                s: scalar(&mut r),
            })
            .collect();
        // y ≥ p: refused by every backend.
        for input in inputs.iter_mut().skip(8).take(8) {
            input.key = [0xff; 32];
        }
        let mut want = vec![None; len];
        ed25519_double_base_batch(Backend::Portable, &inputs, &mut want).unwrap();
        assert!(want[8..16].iter().all(Option::is_none));
        assert!(want.iter().filter(|w| w.is_some()).count() > len / 4);
        for backend in backends_under_test("ed25519_long_batches") {
            let mut out = vec![None; len];
            ed25519_double_base_batch(backend, &inputs, &mut out).unwrap();
            for (i, (o, w)) in out.iter().zip(&want).enumerate() {
                assert_eq!(o, w, "{backend}: case {i} of {len}");
                compared += 1;
            }
        }
    }
    println!("ed25519 double-base, long batches: {compared} lanes compared");
    assert!(compared >= 773);
}

/// The long run: `cargo test -p canopy-simd --release --test ed25519 -- --ignored`.
#[test]
#[ignore]
fn lanes_equal_the_reference_at_scale() {
    let compared = check(200_000, 2);
    println!("ed25519 double-base: {compared} lanes compared");
}

#[test]
fn length_mismatch_is_an_error() {
    let input = DoubleBaseInput {
        key: [0; 32],
        k: [0; 32],
        s: [0; 32],
    };
    let mut out = vec![None; 2];
    assert!(ed25519_double_base_batch(Backend::Portable, &[input], &mut out).is_err());
}
