//! The safe API: choosing a backend (and refusing one the host lacks), and reporting all-zero
//! outputs lane by lane.

mod common;

use canopy_simd::{host_features, x25519_base_batch, x25519_batch, Backend, Error};
use common::{backends_under_test, hex32, random32, rng};

#[test]
fn detection_prefers_the_widest_available_backend() {
    let available = Backend::available();
    assert_eq!(available[0], Backend::Portable);
    assert_eq!(Backend::detect(), *available.last().unwrap());
    for b in Backend::ALL {
        assert_eq!(available.contains(&b), b.is_available(), "{b}");
    }
    // What CANOPY_SIMD_HIDE hides is gone whatever the CPU has (tests/hidden_backends.rs
    // sets it; here it is whatever the caller's environment says).
    let hide = std::env::var(canopy_simd::HIDE_ENV).unwrap_or_default();
    if hide.contains("avx512") {
        assert!(!Backend::Avx512Ifma.is_available());
    }
    if hide.contains("avx2") {
        assert!(!Backend::Avx2.is_available());
    }
    if !cfg!(target_arch = "x86_64") {
        assert_eq!(available, [Backend::Portable]);
    }
    println!("host: {}; backends: {available:?}", host_features());
}

#[test]
fn choices_parse_and_unavailable_ones_are_errors_naming_backend_and_host() {
    assert_eq!(Backend::from_choice("auto"), Ok(Backend::detect()));
    assert_eq!(Backend::from_choice(""), Ok(Backend::detect()));
    assert_eq!(Backend::from_choice(" Portable "), Ok(Backend::Portable));
    let err = Backend::from_choice("sse2").unwrap_err();
    assert_eq!(
        err,
        Error::UnknownBackend {
            value: "sse2".into()
        }
    );
    assert!(err.to_string().contains("CANOPY_CRYPTO=\"sse2\""), "{err}");

    for b in [Backend::Avx2, Backend::Avx512Ifma] {
        let chosen = Backend::from_choice(b.name());
        let batch = x25519_batch(b, &[[1; 32]], &[[9; 32]], &mut [[0; 32]]);
        if b.is_available() {
            assert_eq!(chosen, Ok(b));
            assert!(batch.is_ok());
        } else {
            let expected = Error::Unavailable {
                backend: b,
                features: host_features(),
            };
            assert_eq!(chosen, Err(expected.clone()));
            assert_eq!(batch, Err(expected.clone()));
            let text = expected.to_string();
            assert!(
                text.contains(b.name()) && text.contains(&host_features()),
                "{text}"
            );
            println!("{b} unavailable, as expected here: {text}");
        }
    }
    assert_eq!(
        Backend::from_choice("AVX512"),
        Backend::from_choice("avx512ifma")
    );
}

/// u-coordinates whose X25519 output is zero for every scalar: 0, 1, and a point of order 8
/// (RFC 7748's small-order points, as listed by Wycheproof's `LowOrderPublic` cases).
fn small_order_points() -> [[u8; 32]; 3] {
    let mut one = [0u8; 32];
    one[0] = 1;
    [
        [0u8; 32],
        one,
        hex32("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    ]
}

#[test]
fn all_zero_outputs_are_reported_per_lane_in_every_backend() {
    let small = small_order_points();
    for backend in backends_under_test("zero_lanes") {
        let mut r = rng(7);
        // Two registers and a tail; small-order points at the first, a middle, the last lane
        // of a register, and in the tail.
        let len = 2 * backend.lanes() + 3;
        let zero_at: Vec<usize> = {
            let mut v = vec![0, backend.lanes() / 2, backend.lanes() - 1, len - 2];
            v.sort_unstable();
            v.dedup();
            v
        };
        let scalars: Vec<[u8; 32]> = (0..len).map(|_| random32(&mut r)).collect();
        let mut points: Vec<[u8; 32]> = (0..len).map(|_| random32(&mut r)).collect();
        for (n, &lane) in zero_at.iter().enumerate() {
            points[lane] = small[n % small.len()];
        }
        let mut out = vec![[0xaau8; 32]; len];
        let zero = x25519_batch(backend, &scalars, &points, &mut out).unwrap();
        assert_eq!(zero.lanes(), zero_at.as_slice(), "{backend}");
        for (lane, o) in out.iter().enumerate() {
            assert_eq!(zero.contains(lane), zero_at.contains(&lane), "{backend}");
            // The output is written either way, and is exactly zero in the flagged lanes.
            assert_eq!(*o == [0; 32], zero_at.contains(&lane), "{backend}");
        }
        assert!(!zero.is_empty());
        let err = zero.into_result().unwrap_err();
        assert_eq!(
            err,
            Error::ZeroSharedSecret {
                lanes: zero_at.clone()
            }
        );
        assert!(err.to_string().contains("all-zero"), "{err}");

        // No small-order point: nothing flagged.
        let points: Vec<[u8; 32]> = (0..len).map(|_| random32(&mut r)).collect();
        let zero = x25519_batch(backend, &scalars, &points, &mut out).unwrap();
        assert!(zero.is_empty(), "{backend}");
        assert_eq!(zero.into_result(), Ok(()));
        // Fixed-base outputs are never zero (the base point has order ℓ).
        let zero = x25519_base_batch(backend, &scalars, &mut out).unwrap();
        assert!(zero.is_empty(), "{backend}");
    }
}

/// Batches longer than one call into a backend, whose registers share one inversion there: a
/// small-order point must zero its own lane and leave every other output as the portable
/// reference computes it, wherever it sits (first and last lane of a call, a whole register,
/// the padded tail).
#[test]
fn small_order_points_in_long_batches_spoil_no_other_lane() {
    let small = small_order_points();
    let mut r = rng(11);
    for len in [64, 65, 131, 197] {
        let scalars: Vec<[u8; 32]> = (0..len).map(|_| random32(&mut r)).collect();
        let mut points: Vec<[u8; 32]> = (0..len).map(|_| random32(&mut r)).collect();
        let mut zero_at: Vec<usize> = vec![0, 31, 32, 63, 64, len - 1];
        zero_at.extend(16..24);
        zero_at.retain(|&l| l < len);
        zero_at.sort_unstable();
        zero_at.dedup();
        for (n, &lane) in zero_at.iter().enumerate() {
            points[lane] = small[n % small.len()];
        }
        let mut want = vec![[0u8; 32]; len];
        let want_zero = x25519_batch(Backend::Portable, &scalars, &points, &mut want).unwrap();
        assert_eq!(want_zero.lanes(), zero_at.as_slice());
        let mut want_public = vec![[0u8; 32]; len];
        let _ = x25519_base_batch(Backend::Portable, &scalars, &mut want_public).unwrap();
        for backend in backends_under_test("zero_lanes_long") {
            let mut out = vec![[0xaau8; 32]; len];
            let zero = x25519_batch(backend, &scalars, &points, &mut out).unwrap();
            assert_eq!(zero.lanes(), zero_at.as_slice(), "{backend}: {len}");
            for (lane, (o, w)) in out.iter().zip(&want).enumerate() {
                assert_eq!(o, w, "{backend}: lane {lane} of {len}");
            }
            let zero = x25519_base_batch(backend, &scalars, &mut out).unwrap();
            assert!(zero.is_empty(), "{backend}");
            assert_eq!(out, want_public, "{backend}: public keys, {len}");
        }
    }
}
