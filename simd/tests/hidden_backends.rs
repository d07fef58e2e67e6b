//! `CANOPY_SIMD_HIDE` takes backends away as if the CPU lacked them: choosing one is then an
//! error naming it and the host's features, and the batch functions refuse it. The only test
//! in its binary, and it sets the variable before anything detects the CPU.

use canopy_simd::{host_features, x25519_batch, Backend, Error, HIDE_ENV};

#[test]
fn hidden_backends_are_unavailable_and_choosing_them_is_an_error() {
    std::env::set_var(HIDE_ENV, "avx2, AVX512, sse9");
    assert_eq!(Backend::available(), [Backend::Portable]);
    assert_eq!(Backend::detect(), Backend::Portable);
    assert_eq!(Backend::from_choice("auto"), Ok(Backend::Portable));
    let features = host_features();
    // The hidden names are listed as given, the typo included.
    assert!(
        features.contains("hidden by CANOPY_SIMD_HIDE=avx2,avx512,sse9"),
        "{features}"
    );
    assert!(!features.contains(" avx512ifma"), "{features}");
    for b in [Backend::Avx2, Backend::Avx512Ifma] {
        let expected = Error::Unavailable {
            backend: b,
            features: features.clone(),
        };
        assert_eq!(Backend::from_choice(b.name()), Err(expected.clone()));
        let batch = x25519_batch(b, &[[1; 32]], &[[9; 32]], &mut [[0; 32]]);
        assert_eq!(batch, Err(expected.clone()));
        let text = expected.to_string();
        assert!(
            text.contains(b.name()) && text.contains(&features),
            "{text}"
        );
    }
    // Portable still works.
    let mut out = [[0u8; 32]];
    let zero = x25519_batch(Backend::Portable, &[[1; 32]], &[[9; 32]], &mut out).unwrap();
    assert!(zero.is_empty());
}
