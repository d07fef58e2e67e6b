//! `Backend::from_env` reads `CANOPY_CRYPTO`. The only test in its binary, so setting the
//! variable races with nothing.

use canopy_simd::{Backend, Error, BACKEND_ENV};

#[test]
fn canopy_crypto_chooses_the_backend() {
    std::env::remove_var(BACKEND_ENV);
    assert_eq!(Backend::from_env(), Ok(Backend::detect()));
    for (value, expected) in [
        ("auto", Ok(Backend::detect())),
        ("portable", Ok(Backend::Portable)),
        ("PORTABLE", Ok(Backend::Portable)),
        (
            "neon",
            Err(Error::UnknownBackend {
                value: "neon".into(),
            }),
        ),
    ] {
        std::env::set_var(BACKEND_ENV, value);
        assert_eq!(Backend::from_env(), expected, "{BACKEND_ENV}={value}");
    }
    for b in [Backend::Avx2, Backend::Avx512Ifma] {
        std::env::set_var(BACKEND_ENV, b.name());
        match Backend::from_env() {
            Ok(chosen) => {
                assert!(b.is_available());
                assert_eq!(chosen, b);
            }
            Err(Error::Unavailable { backend, features }) => {
                assert!(!b.is_available());
                assert_eq!(backend, b);
                assert_eq!(features, canopy_simd::host_features());
            }
            Err(other) => panic!("{BACKEND_ENV}={}: {other}", b.name()),
        }
    }
    std::env::remove_var(BACKEND_ENV);
}
