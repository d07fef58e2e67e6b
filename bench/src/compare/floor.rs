//! Canopy's crypto floor: the time an operation would take if it did nothing but its
//! public-key crypto, hashing and AEAD, spread perfectly over every core — its exact primitive
//! counts ([`canopy_engine::crypto::counters`]) times per-primitive costs measured at the
//! start of the same run, divided by the number of worker threads. The costs come from the
//! same calibration as `canopy calibrate` ([`crate::costs`]), which measures every suite's
//! public-key primitives (X25519, P-256, P-384, P-521 and X448 DH and key derivation; Ed25519,
//! ECDSA on each curve and Ed448; ML-KEM-768 and ML-KEM-1024); the hash, HKDF and AEAD costs
//! are those of the compared suite.

use anyhow::{anyhow, Result};
use canopy_engine::crypto::{counters, CipherSuite, Provider, X25519Backend};
use serde::Serialize;

use crate::costs::{calibrate, calibrate_lanes, Calibration, CostProfile, LoadSource};

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
    /// One P-256 ECDH.
    pub p256_dh: f64,
    /// One P-256 public-key derivation.
    pub p256_base: f64,
    /// One P-384 ECDH.
    pub p384_dh: f64,
    /// One P-384 public-key derivation.
    pub p384_base: f64,
    /// One P-521 ECDH.
    pub p521_dh: f64,
    /// One P-521 public-key derivation.
    pub p521_base: f64,
    /// One X448 Diffie-Hellman.
    pub x448_dh: f64,
    /// One X448 public-key derivation.
    pub x448_base: f64,
    /// One ECDSA P-256/SHA-256 signature.
    pub ecdsa_p256_sign: f64,
    /// One ECDSA P-256/SHA-256 verification.
    pub ecdsa_p256_verify: f64,
    /// One ECDSA P-384/SHA-384 signature.
    pub ecdsa_p384_sign: f64,
    /// One ECDSA P-384/SHA-384 verification.
    pub ecdsa_p384_verify: f64,
    /// One ECDSA P-521/SHA-512 signature.
    pub ecdsa_p521_sign: f64,
    /// One ECDSA P-521/SHA-512 verification.
    pub ecdsa_p521_verify: f64,
    /// One Ed448 signature.
    pub ed448_sign: f64,
    /// One Ed448 verification.
    pub ed448_verify: f64,
    /// One ML-KEM-768 key generation from a seed (X-Wing, 0xFDEA).
    pub mlkem768_keygen: f64,
    /// One ML-KEM-768 encapsulation.
    pub mlkem768_encaps: f64,
    /// One ML-KEM-768 decapsulation.
    pub mlkem768_decaps: f64,
    /// One ML-KEM-1024 key generation from a seed (0xFDEB).
    pub mlkem1024_keygen: f64,
    /// One ML-KEM-1024 encapsulation.
    pub mlkem1024_encaps: f64,
    /// One ML-KEM-1024 decapsulation.
    pub mlkem1024_decaps: f64,
    /// Ed25519's SHA-512 over one KiB of a signed or verified message (a signature hashes its
    /// message twice).
    pub ed25519_msg_per_kib: f64,
    /// Ed448's SHAKE256 over one KiB of a signed or verified message.
    pub ed448_msg_per_kib: f64,
    /// The suite's hash over one KiB.
    pub hash_per_kib: f64,
    /// One HKDF-Expand call with the suite's hash.
    pub hkdf_expand: f64,
    /// The suite's AEAD over one KiB.
    pub aead_per_kib: f64,
}

/// What the primitives an X25519 backend runs its own way cost per call in full batches
/// (µs of one thread's CPU time; [`crate::costs::calibrate_lanes`]): X25519 public keys and
/// DH in canopy-simd's lanes, Ed25519 verification on the verifier that goes with the backend.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LaneCosts {
    /// The backend (`avx2`, `avx512`), as the rows' `crypto` names it.
    pub crypto: &'static str,
    /// One X25519 public-key derivation.
    pub x25519_base: f64,
    /// One X25519 Diffie-Hellman.
    pub x25519_dh: f64,
    /// One Ed25519 verification.
    pub ed25519_verify: f64,
}

impl PrimitiveCosts {
    /// Measure each primitive on this machine, now, for a floor in `suite`: the quick
    /// cost-profile calibration ([`crate::costs::calibrate()`], thread CPU time, median of
    /// repetitions), in µs, with the suite's own hash, HKDF and AEAD costs
    /// ([`CostProfile::for_suite`]).
    pub fn measure(suite: CipherSuite) -> Result<Self> {
        Ok(Self::measure_with_lanes(suite, &[])?.0)
    }

    /// [`PrimitiveCosts::measure`], and the [`LaneCosts`] of each of `backends` that has
    /// lanes (`portable` has none), measured against those costs.
    pub fn measure_with_lanes(
        suite: CipherSuite,
        backends: &[X25519Backend],
    ) -> Result<(Self, Vec<LaneCosts>)> {
        let base = CipherSuite::Mls128X25519Aes128GcmSha256Ed25519;
        let profile = calibrate(&Provider::new(base), &Calibration::QUICK, &LoadSource::Proc)?;
        let mut lanes = Vec::new();
        for &backend in backends.iter().filter(|b| b.simd().is_some()) {
            // Against suite 1's symmetric costs: the probes run suite 1.
            let costs = calibrate_lanes(backend, &profile, &Calibration::QUICK)?;
            let us = |name: &str| {
                costs
                    .get(name)
                    .map(|c| c.ns / 1000.0)
                    .ok_or_else(|| anyhow!("internal: no lane cost of {name}"))
            };
            lanes.push(LaneCosts {
                crypto: backend.name(),
                x25519_base: us("x25519_base")?,
                x25519_dh: us("x25519_dh")?,
                ed25519_verify: us("ed25519_verify")?,
            });
        }
        // The calibration measures every suite's symmetric primitives, so no warning.
        let (profile, _) = profile.for_suite(suite.id());
        Ok((Self::from_profile(&profile), lanes))
    }

    /// These costs with each primitive that `lanes`' backend runs its own way priced at the
    /// cheaper of one call ([`PrimitiveCosts`]) and one lane of a full batch ([`LaneCosts`]):
    /// the costs of that backend's floor. A lower bound: an operation whose few calls cannot
    /// fill a batch does not reach it.
    pub fn with_lanes(&self, lanes: &LaneCosts) -> Self {
        PrimitiveCosts {
            x25519_base: self.x25519_base.min(lanes.x25519_base),
            x25519_dh: self.x25519_dh.min(lanes.x25519_dh),
            ed25519_verify: self.ed25519_verify.min(lanes.ed25519_verify),
            ..*self
        }
    }

    /// The floor's costs from a cost profile (ns per unit) in µs and µs per KiB.
    pub fn from_profile(profile: &CostProfile) -> Self {
        let us = |name: &str| profile.ns_per(name) / 1000.0;
        PrimitiveCosts {
            x25519_dh: us("x25519_dh"),
            x25519_base: us("x25519_base"),
            ed25519_sign: us("ed25519_sign"),
            ed25519_verify: us("ed25519_verify"),
            p256_dh: us("p256_dh"),
            p256_base: us("p256_base"),
            p384_dh: us("p384_dh"),
            p384_base: us("p384_base"),
            p521_dh: us("p521_dh"),
            p521_base: us("p521_base"),
            x448_dh: us("x448_dh"),
            x448_base: us("x448_base"),
            ecdsa_p256_sign: us("ecdsa_p256_sign"),
            ecdsa_p256_verify: us("ecdsa_p256_verify"),
            ecdsa_p384_sign: us("ecdsa_p384_sign"),
            ecdsa_p384_verify: us("ecdsa_p384_verify"),
            ecdsa_p521_sign: us("ecdsa_p521_sign"),
            ecdsa_p521_verify: us("ecdsa_p521_verify"),
            ed448_sign: us("ed448_sign"),
            ed448_verify: us("ed448_verify"),
            mlkem768_keygen: us("mlkem768_keygen"),
            mlkem768_encaps: us("mlkem768_encaps"),
            mlkem768_decaps: us("mlkem768_decaps"),
            mlkem1024_keygen: us("mlkem1024_keygen"),
            mlkem1024_encaps: us("mlkem1024_encaps"),
            mlkem1024_decaps: us("mlkem1024_decaps"),
            ed25519_msg_per_kib: us("ed25519_msg_bytes") * 1024.0,
            ed448_msg_per_kib: us("ed448_msg_bytes") * 1024.0,
            hash_per_kib: us("hash_bytes") * 1024.0,
            hkdf_expand: us("hkdf_expand"),
            aead_per_kib: us("aead_bytes") * 1024.0,
        }
    }

    /// The floor, in ms, of work `c` on `threads` threads.
    pub fn floor_ms(&self, c: &counters::Counts, threads: usize) -> f64 {
        let public_key = [
            (c.x25519_dh, self.x25519_dh),
            (c.x25519_base, self.x25519_base),
            (c.ed25519_sign, self.ed25519_sign),
            (c.ed25519_verify, self.ed25519_verify),
            (c.p256_dh, self.p256_dh),
            (c.p256_base, self.p256_base),
            (c.p384_dh, self.p384_dh),
            (c.p384_base, self.p384_base),
            (c.p521_dh, self.p521_dh),
            (c.p521_base, self.p521_base),
            (c.x448_dh, self.x448_dh),
            (c.x448_base, self.x448_base),
            (c.ecdsa_p256_sign, self.ecdsa_p256_sign),
            (c.ecdsa_p256_verify, self.ecdsa_p256_verify),
            (c.ecdsa_p384_sign, self.ecdsa_p384_sign),
            (c.ecdsa_p384_verify, self.ecdsa_p384_verify),
            (c.ecdsa_p521_sign, self.ecdsa_p521_sign),
            (c.ecdsa_p521_verify, self.ecdsa_p521_verify),
            (c.ed448_sign, self.ed448_sign),
            (c.ed448_verify, self.ed448_verify),
            (c.mlkem768_keygen, self.mlkem768_keygen),
            (c.mlkem768_encaps, self.mlkem768_encaps),
            (c.mlkem768_decaps, self.mlkem768_decaps),
            (c.mlkem1024_keygen, self.mlkem1024_keygen),
            (c.mlkem1024_encaps, self.mlkem1024_encaps),
            (c.mlkem1024_decaps, self.mlkem1024_decaps),
        ];
        let us = public_key
            .iter()
            .map(|&(n, cost)| n as f64 * cost)
            .sum::<f64>()
            + c.ed25519_msg_bytes as f64 / 1024.0 * self.ed25519_msg_per_kib
            + c.ed448_msg_bytes as f64 / 1024.0 * self.ed448_msg_per_kib
            + c.hash_bytes as f64 / 1024.0 * self.hash_per_kib
            + c.hkdf_expand as f64 * self.hkdf_expand
            + c.aead_bytes as f64 / 1024.0 * self.aead_per_kib;
        us / 1000.0 / threads.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::costs::HostInfo;

    fn costs() -> PrimitiveCosts {
        // A distinct power of two per primitive, so that each one's share of a sum is visible.
        let profile = CostProfile::from_costs(HostInfo::default(), |name| {
            let rank = counters::Counts::default()
                .fields()
                .iter()
                .position(|(n, _)| *n == name)
                .unwrap();
            1000.0 * (1u64 << rank) as f64
        });
        PrimitiveCosts::from_profile(&profile)
    }

    /// The floor is linear in every count and divided by the threads.
    #[test]
    fn floor_is_counts_times_costs_over_threads() {
        let costs = PrimitiveCosts {
            x25519_dh: 50.0,
            x25519_base: 10.0,
            ed25519_sign: 20.0,
            ed25519_verify: 40.0,
            p256_dh: 3.0,
            ecdsa_p256_verify: 7.0,
            hash_per_kib: 1.0,
            hkdf_expand: 0.5,
            aead_per_kib: 2.0,
            ed25519_msg_per_kib: 3.0,
            ed448_msg_per_kib: 5.0,
            ..PrimitiveCosts::from_profile(&CostProfile::from_costs(HostInfo::default(), |_| 0.0))
        };
        let c = counters::Counts {
            x25519_dh: 10,
            x25519_base: 2,
            ed25519_sign: 1,
            ed25519_verify: 3,
            p256_dh: 4,
            ecdsa_p256_verify: 2,
            hash_bytes: 4096,
            hkdf_expand: 100,
            aead_bytes: 2048,
            ed25519_msg_bytes: 1024,
            ed448_msg_bytes: 2048,
            ..counters::Counts::default()
        };
        // 500 + 20 + 20 + 120 + 12 + 14 + 4 + 50 + 4 + 3 + 10 = 757 µs.
        assert!((costs.floor_ms(&c, 1) - 0.757).abs() < 1e-12);
        assert!((costs.floor_ms(&c, 2) - 0.3785).abs() < 1e-12);
        // Zero threads is one.
        assert_eq!(costs.floor_ms(&c, 0), costs.floor_ms(&c, 1));
    }

    /// A backend's costs are the floor's with X25519 and Ed25519 verification at the cheaper
    /// of one call and one lane, and nothing else changed.
    #[test]
    fn lanes_price_their_primitives_at_the_cheaper_cost() {
        let single = costs();
        let lanes = LaneCosts {
            crypto: "avx512",
            x25519_base: single.x25519_base / 4.0,
            x25519_dh: single.x25519_dh * 4.0,
            ed25519_verify: single.ed25519_verify / 2.0,
        };
        let own = single.with_lanes(&lanes);
        assert_eq!(own.x25519_base, lanes.x25519_base);
        assert_eq!(own.x25519_dh, single.x25519_dh, "a lane dearer than a call");
        assert_eq!(own.ed25519_verify, lanes.ed25519_verify);
        let unchanged = PrimitiveCosts {
            x25519_base: single.x25519_base,
            ed25519_verify: single.ed25519_verify,
            ..own
        };
        assert_eq!(unchanged, single);
        // So a backend's floor is never above the floor.
        let c = counters::Counts {
            x25519_base: 3,
            x25519_dh: 2,
            ed25519_verify: 5,
            hkdf_expand: 7,
            ..Default::default()
        };
        let saved = 3.0 * (single.x25519_base - lanes.x25519_base)
            + 5.0 * (single.ed25519_verify - lanes.ed25519_verify);
        let (floor, lanes_floor) = (single.floor_ms(&c, 1), own.floor_ms(&c, 1));
        assert!((floor - lanes_floor - saved / 1000.0).abs() <= 1e-9 * floor);
    }

    /// The counters the floor leaves out by design: HPKE's framing remainder and whole-tree
    /// leaf walks are not crypto; hashed, signed and AEAD bytes are priced per KiB (tested
    /// apart).
    const NOT_PER_UNIT: [&str; 7] = [
        "hpke_seal",
        "hpke_open",
        "leaf_walk_slots",
        "hash_bytes",
        "aead_bytes",
        "ed25519_msg_bytes",
        "ed448_msg_bytes",
    ];

    /// Every other counter (every suite's public-key primitives, ML-KEM's included, and
    /// HKDF-Expand) is priced at its own cost: one unit of it alone gives a floor of exactly
    /// its cost in the profile. The list comes from the counters themselves, so a counter
    /// added to the engine fails here until the floor prices it or says why not.
    #[test]
    fn the_floor_prices_every_suites_public_key_primitives() {
        let costs = costs();
        let priced: Vec<&str> = counters::Counts::default()
            .fields()
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| !NOT_PER_UNIT.contains(name))
            .collect();
        assert!(priced.len() >= 27, "{priced:?}");
        let mut checked = 0;
        for (rank, (name, _)) in counters::Counts::default().fields().iter().enumerate() {
            if !priced.contains(name) {
                continue;
            }
            let mut c = counters::Counts::default();
            set(&mut c, name, 1);
            let expected_ms = (1u64 << rank) as f64 / 1000.0;
            assert_eq!(costs.floor_ms(&c, 1), expected_ms, "{name}");
            checked += 1;
        }
        assert_eq!(checked, priced.len());
        // JSON carries one cost per priced primitive, plus the per-KiB hash and AEAD.
        let json = serde_json::to_value(costs).unwrap();
        for name in &priced {
            assert!(json[name].as_f64().is_some_and(|v| v > 0.0), "{name}");
        }
    }

    /// Set the field of `c` named `name` (as `Counts::fields` names it).
    fn set(c: &mut counters::Counts, name: &str, v: u64) {
        let field = match name {
            "x25519_dh" => &mut c.x25519_dh,
            "x25519_base" => &mut c.x25519_base,
            "ed25519_sign" => &mut c.ed25519_sign,
            "ed25519_verify" => &mut c.ed25519_verify,
            "p256_dh" => &mut c.p256_dh,
            "p256_base" => &mut c.p256_base,
            "p384_dh" => &mut c.p384_dh,
            "p384_base" => &mut c.p384_base,
            "p521_dh" => &mut c.p521_dh,
            "p521_base" => &mut c.p521_base,
            "x448_dh" => &mut c.x448_dh,
            "x448_base" => &mut c.x448_base,
            "ecdsa_p256_sign" => &mut c.ecdsa_p256_sign,
            "ecdsa_p256_verify" => &mut c.ecdsa_p256_verify,
            "ecdsa_p384_sign" => &mut c.ecdsa_p384_sign,
            "ecdsa_p384_verify" => &mut c.ecdsa_p384_verify,
            "ecdsa_p521_sign" => &mut c.ecdsa_p521_sign,
            "ecdsa_p521_verify" => &mut c.ecdsa_p521_verify,
            "ed448_sign" => &mut c.ed448_sign,
            "ed448_verify" => &mut c.ed448_verify,
            "mlkem768_keygen" => &mut c.mlkem768_keygen,
            "mlkem768_encaps" => &mut c.mlkem768_encaps,
            "mlkem768_decaps" => &mut c.mlkem768_decaps,
            "mlkem1024_keygen" => &mut c.mlkem1024_keygen,
            "mlkem1024_encaps" => &mut c.mlkem1024_encaps,
            "mlkem1024_decaps" => &mut c.mlkem1024_decaps,
            "hkdf_expand" => &mut c.hkdf_expand,
            other => panic!("no field {other}"),
        };
        *field = v;
    }
}
