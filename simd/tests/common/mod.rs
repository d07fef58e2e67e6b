//! Shared by the integration tests: the backends to run, hex, seeded randomness and aws-lc.

#![allow(dead_code)] // each test binary uses a different part of this module

use canopy_simd::{host_features, Backend};
use rand::RngCore;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// The backends this host runs. Every backend it cannot run is printed as untested (visible
/// with `--nocapture`, and in the captured output of a failing test), so a host without
/// AVX-512 never passes the AVX-512 tests silently.
pub(crate) fn backends_under_test(test: &str) -> Vec<Backend> {
    for b in Backend::ALL {
        if !b.is_available() {
            println!(
                "{test}: UNTESTED backend {b} (not available on this host: {})",
                host_features()
            );
        }
    }
    Backend::available()
}

pub(crate) fn hex32(s: &str) -> [u8; 32] {
    let v = hex::decode(s).expect("test vector is hex");
    v.try_into().expect("test vector is 32 bytes")
}

/// A deterministic generator per test and seed, so a failure reproduces.
pub(crate) fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub(crate) fn random32(rng: &mut ChaCha20Rng) -> [u8; 32] {
    let mut b = [0u8; 32];
    rng.fill_bytes(&mut b);
    b
}

/// X25519 by aws-lc: `None` when aws-lc refuses (it rejects an all-zero output).
pub(crate) fn awslc_x25519(scalar: &[u8; 32], point: &[u8; 32]) -> Option<[u8; 32]> {
    use aws_lc_rs::agreement;
    let sk = agreement::PrivateKey::from_private_key(&agreement::X25519, scalar).ok()?;
    let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, point);
    agreement::agree(&sk, peer, (), |s| {
        let mut out = [0u8; 32];
        out.copy_from_slice(s);
        Ok(out)
    })
    .ok()
}

/// The public key aws-lc derives for a scalar (its fixed-base multiplication).
pub(crate) fn awslc_public(scalar: &[u8; 32]) -> [u8; 32] {
    use aws_lc_rs::agreement;
    let sk = agreement::PrivateKey::from_private_key(&agreement::X25519, scalar)
        .expect("every 32-byte string is an X25519 private key");
    let pk = sk.compute_public_key().expect("public key of a parsed key");
    pk.as_ref().try_into().expect("32 bytes")
}
