//! Canopy's crypto floor: the time an operation would take if it did nothing but its
//! public-key crypto, hashing and AEAD, spread perfectly over every core — its exact primitive
//! counts ([`canopy_engine::crypto::counters`]) times per-primitive costs measured at the
//! start of the same run, divided by the number of worker threads.

use std::time::Instant;

use anyhow::Result;
use canopy_engine::crypto::{counters, Provider, SealContext};
use serde::Serialize;

/// Per-primitive costs measured at the start of the run (µs, one thread).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PrimitiveCosts {
    /// One X25519 Diffie-Hellman.
    pub x25519_dh: f64,
    /// One X25519 public-key derivation.
    pub x25519_base: f64,
    /// One Ed25519 signature.
    pub ed25519_sign: f64,
    /// One Ed25519 verification.
    pub ed25519_verify: f64,
    /// SHA-256 over one KiB.
    pub hash_per_kib: f64,
    /// One HKDF-Expand call.
    pub hkdf_expand: f64,
    /// AEAD over one KiB.
    pub aead_per_kib: f64,
}

impl PrimitiveCosts {
    /// Time each primitive on this machine, now.
    pub fn measure(p: &Provider) -> Result<Self> {
        fn per<F: FnMut() -> Result<()>>(n: u32, mut f: F) -> Result<f64> {
            f()?;
            let t = Instant::now();
            for _ in 0..n {
                f()?;
            }
            Ok(t.elapsed().as_secs_f64() * 1e6 / f64::from(n))
        }
        let (sk, pk) = p.derive_hpke_key_pair(&[7; 32])?;
        let (ssk, spk) = p.signature_key_pair_from_seed(&[8; 32])?;
        let sig = p.sign_with_label(&ssk, b"l", b"m")?;
        let kib = vec![0u8; 1 << 20];
        // SealContext::seal without the DH and base multiplication is not separable; the DH
        // is measured through the provider's aws-lc wrapper.
        let _ = SealContext::new(p, b"x", b"y")?;
        // aws-lc parses a private key with a fixed-base multiplication (counted as
        // `x25519_base`, see `awslc::x25519_private`), so a DH alone is the difference.
        let x25519_base = per(400, || {
            canopy_engine::crypto::awslc::x25519_public(sk.as_bytes())?;
            Ok(())
        })?;
        let x25519_dh_and_base = per(400, || {
            canopy_engine::crypto::awslc::x25519(sk.as_bytes(), &pk)?;
            Ok(())
        })?;
        Ok(PrimitiveCosts {
            x25519_dh: x25519_dh_and_base - x25519_base,
            x25519_base,
            ed25519_sign: per(400, || {
                p.sign_with_label(&ssk, b"l", b"m")?;
                Ok(())
            })?,
            ed25519_verify: per(400, || {
                p.verify_with_label(&spk, b"l", b"m", &sig)?;
                Ok(())
            })?,
            hash_per_kib: per(8, || {
                p.hash(&kib);
                Ok(())
            })? / 1024.0,
            hkdf_expand: per(2000, || {
                p.expand(&[1; 32], b"info", 32)?;
                Ok(())
            })?,
            aead_per_kib: per(8, || {
                p.aead_seal(&[0; 16], &[0; 12], &[], &kib)?;
                Ok(())
            })? / 1024.0,
        })
    }

    /// The floor, in ms, of work `c` on `threads` threads.
    pub fn floor_ms(&self, c: &counters::Counts, threads: usize) -> f64 {
        let us = c.x25519_dh as f64 * self.x25519_dh
            + c.x25519_base as f64 * self.x25519_base
            + c.ed25519_sign as f64 * self.ed25519_sign
            + c.ed25519_verify as f64 * self.ed25519_verify
            + c.hash_bytes as f64 / 1024.0 * self.hash_per_kib
            + c.hkdf_expand as f64 * self.hkdf_expand
            + c.aead_bytes as f64 / 1024.0 * self.aead_per_kib;
        us / 1000.0 / threads.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The floor is linear in every count and divided by the threads.
    #[test]
    fn floor_is_counts_times_costs_over_threads() {
        let costs = PrimitiveCosts {
            x25519_dh: 50.0,
            x25519_base: 10.0,
            ed25519_sign: 20.0,
            ed25519_verify: 40.0,
            hash_per_kib: 1.0,
            hkdf_expand: 0.5,
            aead_per_kib: 2.0,
        };
        let c = counters::Counts {
            x25519_dh: 10,
            x25519_base: 2,
            ed25519_sign: 1,
            ed25519_verify: 3,
            hash_bytes: 4096,
            hkdf_expand: 100,
            aead_bytes: 2048,
            ..counters::Counts::default()
        };
        // 500 + 20 + 20 + 120 + 4 + 50 + 4 = 718 µs.
        assert!((costs.floor_ms(&c, 1) - 0.718).abs() < 1e-12);
        assert!((costs.floor_ms(&c, 2) - 0.359).abs() < 1e-12);
        // Zero threads is one.
        assert_eq!(costs.floor_ms(&c, 0), costs.floor_ms(&c, 1));
    }
}
