//! Canopy's crypto floor: the time an operation would take if it did nothing but its
//! public-key crypto, hashing and AEAD, spread perfectly over every core — its exact primitive
//! counts ([`canopy_engine::crypto::counters`]) times per-primitive costs measured at the
//! start of the same run, divided by the number of worker threads. The costs come from the
//! same calibration as `canopy calibrate` ([`crate::costs`]).

use anyhow::Result;
use canopy_engine::crypto::{counters, Provider};
use serde::Serialize;

use crate::costs::{calibrate, Calibration, CostProfile, LoadSource};

/// Per-primitive costs measured at the start of the run (µs of one thread's CPU time).
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
    /// Measure each primitive on this machine, now: the quick cost-profile calibration
    /// ([`crate::costs::calibrate()`], thread CPU time, median of repetitions), in µs.
    pub fn measure(p: &Provider) -> Result<Self> {
        let profile = calibrate(p, &Calibration::QUICK, &LoadSource::Proc)?;
        Ok(Self::from_profile(&profile))
    }

    /// The floor's costs from a cost profile (ns per unit) in µs and µs per KiB.
    pub fn from_profile(profile: &CostProfile) -> Self {
        let us = |name: &str| profile.ns_per(name) / 1000.0;
        PrimitiveCosts {
            x25519_dh: us("x25519_dh"),
            x25519_base: us("x25519_base"),
            ed25519_sign: us("ed25519_sign"),
            ed25519_verify: us("ed25519_verify"),
            hash_per_kib: us("hash_bytes") * 1024.0,
            hkdf_expand: us("hkdf_expand"),
            aead_per_kib: us("aead_bytes") * 1024.0,
        }
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
