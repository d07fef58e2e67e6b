//! Cost profiles: what one unit of each primitive the engine counts costs on one device, so
//! that exact counts ([`canopy_engine::metrics`]) become CPU time without timing the work
//! itself.
//!
//! A [`CostProfile`] gives, for every field of [`Counts`], a cost in nanoseconds per unit
//! (an operation, a byte or a leaf slot, [`unit_of`]). [`calibrate()`] measures one on this
//! host (`canopy calibrate`); `canopy plan --profile FILE` prices a simulation with a profile
//! from any device. The file format is documented in `docs/plan-schema.md` (schema
//! [`PROFILE_SCHEMA`], version [`PROFILE_VERSION`]).
//!
//! Costs are **marginal**: one HPKE seal also counts its X25519 operations, HKDF calls, hashed
//! and AEAD bytes, so the profile's `hpke_seal` is what a seal costs beyond those. Then
//! Σ counts × costs is the cost of any work, with nothing counted twice.
//!
//! - [`host`]: CPU clocks, host metadata, the load average.
//! - [`mod@calibrate`]: the measurement.

pub mod calibrate;
pub mod host;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, ensure, Context, Result};
use canopy_engine::metrics::Counts;
use serde::{Deserialize, Serialize};

pub use calibrate::{calibrate, calibrate_lanes, Calibration, LANE_COUNTERS};
pub use host::{process_cpu_ns, thread_cpu_ns, HostInfo, LoadSource};

/// Name of the cost-profile schema.
pub const PROFILE_SCHEMA: &str = "canopy-cost-profile";

/// Version of the cost-profile schema: bumped on any incompatible change.
pub const PROFILE_VERSION: u32 = 1;

/// Engine counts by counter name (the names of [`Counts::fields`]); sums over sampled and
/// extrapolated work, so not whole numbers in general.
pub type Work = BTreeMap<String, f64>;

/// Add `scale` × `counts` to `work`.
pub fn add_counts(work: &mut Work, counts: &Counts, scale: f64) {
    for (name, v) in counts.fields() {
        *work.entry(name.to_string()).or_default() += v as f64 * scale;
    }
}

/// Add `scale` × `other` to `work`.
pub fn add_work(work: &mut Work, other: &Work, scale: f64) {
    for (name, v) in other {
        *work.entry(name.clone()).or_default() += v * scale;
    }
}

/// What one unit of a counter is: `operation`, `byte` or `slot` (a leaf slot visited by a
/// whole-tree walk). `None` for a name that is not a counter.
pub fn unit_of(counter: &str) -> Option<&'static str> {
    Some(match counter {
        "x25519_dh" | "x25519_base" | "ed25519_sign" | "ed25519_verify" | "hkdf_expand"
        | "hpke_seal" | "hpke_open" | "p256_dh" | "p256_base" | "p384_dh" | "p384_base"
        | "p521_dh" | "p521_base" | "x448_dh" | "x448_base" | "ecdsa_p256_sign"
        | "ecdsa_p256_verify" | "ecdsa_p384_sign" | "ecdsa_p384_verify" | "ecdsa_p521_sign"
        | "ecdsa_p521_verify" | "ed448_sign" | "ed448_verify" | "mlkem768_keygen"
        | "mlkem768_encaps" | "mlkem768_decaps" | "mlkem1024_keygen" | "mlkem1024_encaps"
        | "mlkem1024_decaps" => "operation",
        "hash_bytes" | "aead_bytes" | "ed25519_msg_bytes" | "ed448_msg_bytes" => "byte",
        "leaf_walk_slots" => "slot",
        _ => return None,
    })
}

/// The cost of one unit of a counter.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Cost {
    /// Nanoseconds of one thread's CPU time per unit, beyond the counters the unit also
    /// increments.
    pub ns: f64,
    /// The unit: `operation`, `byte` or `slot` ([`unit_of`]).
    pub per: String,
}

/// A cost profile: per counted primitive, its cost on one host.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CostProfile {
    /// Always [`PROFILE_SCHEMA`].
    pub schema: String,
    /// [`PROFILE_VERSION`].
    pub schema_version: u32,
    /// UTC date of the calibration (`YYYY-MM-DD`).
    pub date: String,
    /// The host it was measured on.
    pub host: HostInfo,
    /// How the costs were measured, in words.
    pub method: String,
    /// Repetitions per primitive (each cost is their median).
    pub repetitions: u32,
    /// Every counter of the engine, by name, measured with suite 1's primitives.
    pub costs: BTreeMap<String, Cost>,
    /// Per suite (by code point, in decimal) whose hash or AEAD is not suite 1's: the costs
    /// of the counters that depend on them ([`SYMMETRIC_COUNTERS`]) with that suite's own
    /// primitives. [`CostProfile::for_suite`] prices a run on the suite with them. Empty in
    /// profiles written before suites had their own symmetric costs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub suites: BTreeMap<String, BTreeMap<String, Cost>>,
}

/// The counters whose cost depends on the suite's hash or AEAD (the public-key counters name
/// their primitive, so a suite's own are always in [`CostProfile::costs`]).
pub const SYMMETRIC_COUNTERS: [&str; 3] = ["hash_bytes", "aead_bytes", "hkdf_expand"];

/// Whether `suite` hashes and encrypts with suite 1's primitives (SHA-256, AES-128-GCM), which
/// [`CostProfile::costs`] prices.
pub fn symmetric_as_suite_1(suite: canopy_engine::crypto::CipherSuite) -> bool {
    use canopy_engine::crypto::CipherSuite;
    let one = CipherSuite::Mls128X25519Aes128GcmSha256Ed25519;
    (suite.hash_name(), suite.aead_name()) == (one.hash_name(), one.aead_name())
}

impl CostProfile {
    /// A profile with `ns(counter)` per unit of every counter (for tests and what-if
    /// pricing).
    pub fn from_costs(host: HostInfo, ns: impl Fn(&str) -> f64) -> Self {
        let costs = Counts::default()
            .fields()
            .into_iter()
            .map(|(name, _)| {
                let per = unit_of(name).unwrap_or("operation").to_string();
                (name.to_string(), Cost { ns: ns(name), per })
            })
            .collect();
        CostProfile {
            schema: PROFILE_SCHEMA.into(),
            schema_version: PROFILE_VERSION,
            date: crate::plan::report::today(),
            host,
            method: "given".into(),
            repetitions: 0,
            costs,
            suites: BTreeMap::new(),
        }
    }

    /// The profile that prices a run on `suite`: this one, with the symmetric costs of
    /// [`CostProfile::suites`] for the suite in place of suite 1's; and a warning if the suite
    /// hashes or encrypts with other primitives than suite 1 but the profile has no costs for
    /// them (its hash and AEAD bytes are then priced at suite 1's rates).
    pub fn for_suite(&self, suite: u16) -> (CostProfile, Option<String>) {
        let mut profile = self.clone();
        if let Some(own) = self.suites.get(&suite.to_string()) {
            profile.costs.extend(own.clone());
            return (profile, None);
        }
        let warning = canopy_engine::crypto::CipherSuite::from_u16(suite)
            .filter(|s| !symmetric_as_suite_1(*s))
            .map(|s| {
                format!(
                    "the cost profile has no symmetric costs for suite {suite} ({}, {}): its \
                     hashing, HKDF and AEAD work is priced at suite 1's rates (SHA-256, \
                     AES-128-GCM); `canopy calibrate` writes them",
                    s.hash_name(),
                    s.aead_name()
                )
            });
        (profile, warning)
    }

    /// Check the profile: schema and version, every counter of the engine present with its
    /// unit, no unknown names, every cost finite and not negative. Errors name the field.
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.schema == PROFILE_SCHEMA,
            "schema: {:?}, expected {PROFILE_SCHEMA:?}",
            self.schema
        );
        ensure!(
            self.schema_version == PROFILE_VERSION,
            "schema_version: {}, expected {PROFILE_VERSION}",
            self.schema_version
        );
        for (name, _) in Counts::default().fields() {
            let cost = self
                .costs
                .get(name)
                .ok_or_else(|| anyhow!("costs.{name}: missing (every counter needs a cost)"))?;
            let unit = unit_of(name).ok_or_else(|| {
                anyhow!("internal: the counter {name} has no unit in costs::unit_of")
            })?;
            ensure!(
                cost.ns.is_finite() && cost.ns >= 0.0,
                "costs.{name}.ns: {} is not a finite number of nanoseconds >= 0",
                cost.ns
            );
            ensure!(
                cost.per == unit,
                "costs.{name}.per: {:?}, expected {unit:?}",
                cost.per
            );
        }
        let known: Vec<&str> = Counts::default().fields().iter().map(|f| f.0).collect();
        if let Some(extra) = self.costs.keys().find(|k| !known.contains(&k.as_str())) {
            bail!(
                "costs.{extra}: not a counter of this engine (known: {})",
                known.join(", ")
            );
        }
        for (suite, costs) in &self.suites {
            ensure!(
                suite
                    .parse::<u16>()
                    .ok()
                    .and_then(canopy_engine::crypto::CipherSuite::from_u16)
                    .is_some(),
                "suites.{suite}: not the code point of a suite Canopy implements"
            );
            for name in SYMMETRIC_COUNTERS {
                let cost = costs
                    .get(name)
                    .ok_or_else(|| anyhow!("suites.{suite}.{name}: missing"))?;
                ensure!(
                    cost.ns.is_finite() && cost.ns >= 0.0,
                    "suites.{suite}.{name}.ns: {} is not a finite number of nanoseconds >= 0",
                    cost.ns
                );
                let unit = unit_of(name).unwrap_or("operation");
                ensure!(
                    cost.per == unit,
                    "suites.{suite}.{name}.per: {:?}, expected {unit:?}",
                    cost.per
                );
            }
            if let Some(extra) = costs
                .keys()
                .find(|k| !SYMMETRIC_COUNTERS.contains(&k.as_str()))
            {
                bail!(
                    "suites.{suite}.{extra}: not a symmetric counter (known: {})",
                    SYMMETRIC_COUNTERS.join(", ")
                );
            }
        }
        Ok(())
    }

    /// Read and check a profile file; errors name the file and the field.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the cost profile {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("cost profile {}", path.display()))
    }

    /// Parse and check a profile; errors name the field (serde alone names only a line and
    /// column for a value of the wrong type).
    pub fn parse(text: &str) -> Result<Self> {
        let v: serde_json::Value = serde_json::from_str(text).context("not JSON")?;
        let obj = v.as_object().ok_or_else(|| anyhow!("not a JSON object"))?;
        fn field<T: serde::de::DeserializeOwned>(
            obj: &serde_json::Map<String, serde_json::Value>,
            path: &str,
            name: &str,
        ) -> Result<T> {
            let v = obj
                .get(name)
                .ok_or_else(|| anyhow!("{path}{name}: missing"))?;
            serde_json::from_value(v.clone()).with_context(|| format!("{path}{name}: {v}"))
        }
        let costs_v = obj
            .get("costs")
            .and_then(|c| c.as_object())
            .ok_or_else(|| anyhow!("costs: missing or not an object"))?;
        let mut costs = BTreeMap::new();
        for (name, c) in costs_v {
            let c = c
                .as_object()
                .ok_or_else(|| anyhow!("costs.{name}: not an object"))?;
            let path = format!("costs.{name}.");
            costs.insert(
                name.clone(),
                Cost {
                    ns: field(c, &path, "ns")?,
                    per: field(c, &path, "per")?,
                },
            );
        }
        let suites = match obj.get("suites") {
            None => BTreeMap::new(),
            Some(v) => serde_json::from_value(v.clone()).with_context(|| format!("suites: {v}"))?,
        };
        let profile = CostProfile {
            schema: field(obj, "", "schema")?,
            schema_version: field(obj, "", "schema_version")?,
            date: field(obj, "", "date")?,
            host: field(obj, "", "host")?,
            method: field(obj, "", "method")?,
            repetitions: field(obj, "", "repetitions")?,
            costs,
            suites,
        };
        profile.validate()?;
        Ok(profile)
    }

    /// Write the profile as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self)? + "\n")
            .with_context(|| format!("writing {}", path.display()))
    }

    /// The cost of one unit of `counter` in ns (0 for a name the profile lacks; a loaded
    /// profile has them all).
    pub fn ns_per(&self, counter: &str) -> f64 {
        self.costs.get(counter).map_or(0.0, |c| c.ns)
    }

    /// The cost of `work` in nanoseconds: Σ counts × costs.
    pub fn ns(&self, work: &Work) -> f64 {
        work.iter().map(|(k, v)| v * self.ns_per(k)).sum()
    }

    /// The cost of `counts` in nanoseconds.
    pub fn ns_of_counts(&self, counts: &Counts) -> f64 {
        counts
            .fields()
            .into_iter()
            .map(|(k, v)| v as f64 * self.ns_per(k))
            .sum()
    }

    /// The costs as a table, one line per counter.
    pub fn table(&self) -> String {
        let mut s = format!("{:<18} {:>14}  per\n", "counter", "ns");
        for (name, c) in &self.costs {
            s.push_str(&format!("{name:<18} {:>14.3}  {}\n", c.ns, c.per));
        }
        for (suite, costs) in &self.suites {
            for (name, c) in costs {
                let name = format!("{name}@{suite}");
                s.push_str(&format!("{name:<18} {:>14.3}  {}\n", c.ns, c.per));
            }
        }
        s
    }
}

/// A profile as a run used it: where it came from and the profile itself.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProfileUsed {
    /// The profile's file name, or `calibrated at start`.
    pub source: String,
    /// The profile.
    pub profile: CostProfile,
}

/// What [`ProfileUsed::source`] says for a quick calibration at the start of the run.
pub const CALIBRATED_AT_START: &str = "calibrated at start";

/// Arguments of `canopy calibrate`.
#[derive(Debug, Clone, clap::Args)]
pub struct CalibrateArgs {
    /// Where to write the profile (JSON).
    #[arg(long, default_value = "cost-profile.json")]
    pub out: PathBuf,
    /// Repetitions per primitive (the cost is their median).
    #[arg(long, default_value_t = Calibration::FULL.repetitions)]
    pub repetitions: u32,
}

/// `canopy calibrate`: measure this host's profile, print it and write it.
pub fn calibrate_main(args: &CalibrateArgs) -> Result<CostProfile> {
    let provider = canopy_engine::crypto::Provider::new(
        canopy_engine::crypto::CipherSuite::Mls128X25519Aes128GcmSha256Ed25519,
    );
    let cal = Calibration {
        repetitions: args.repetitions.max(1),
        ..Calibration::FULL
    };
    let profile = calibrate(&provider, &cal, &LoadSource::Proc)?;
    print!("{}", profile.table());
    profile.save(&args.out)?;
    eprintln!(
        "wrote {} ({}; {} {} build)",
        args.out.display(),
        profile.host.label(),
        profile.host.git_revision,
        profile.host.build_profile
    );
    Ok(profile)
}
