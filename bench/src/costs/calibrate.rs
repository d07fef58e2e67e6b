//! Measuring a cost profile on this host: one probe per counter, single-threaded, timed with
//! the thread's CPU clock ([`thread_cpu_ns`]), several repetitions, the median.
//!
//! Each probe runs a primitive the way the engine calls it and reads the engine's counters
//! around it. A probe usually increments other counters too (a signature hashes its message,
//! an HPKE seal runs two X25519 operations, HKDF and AEAD): its counter's cost is the
//! probe's time minus what those other counters cost, divided by its own count. The probes
//! run in an order where every other counter a probe touches is already known, so
//! Σ counts × costs reproduces each probe's own time exactly.

use std::collections::BTreeMap;

use anyhow::{anyhow, ensure, Result};
use canopy_engine::crypto::{
    awslc, CipherSuite, OpenContext, Provider, SealContext, SealRequest, X25519Backend,
};
use canopy_engine::key_package::{default_lifetime, key_package_from_seed};
use canopy_engine::metrics::{snapshot, Counts};
use canopy_engine::tree::RatchetTree;

use super::host::{thread_cpu_ns, HostInfo, LoadSource};
use super::{unit_of, Cost, CostProfile, PROFILE_SCHEMA, PROFILE_VERSION};

/// How long a calibration measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calibration {
    /// Repetitions of each probe; each cost is the median.
    pub repetitions: u32,
    /// Multiplies every probe's iteration count.
    pub scale: u32,
}

impl Calibration {
    /// The quick calibration `canopy plan` and `canopy compare` run at their start: a few
    /// hundred milliseconds in a release build.
    pub const QUICK: Calibration = Calibration {
        repetitions: 5,
        scale: 1,
    };
    /// `canopy calibrate`: longer probes, more repetitions (a few seconds).
    pub const FULL: Calibration = Calibration {
        repetitions: 9,
        scale: 6,
    };
}

/// Leaves of the tree the leaf-walk probe walks: large enough that the per-walk overhead is
/// noise beside the per-slot cost.
const WALK_LEAVES: u32 = 4096;

/// One probe: `iterations` calls of `run` per repetition, for the cost of `counter`.
struct Probe<'a> {
    counter: &'static str,
    iterations: u32,
    run: Box<dyn FnMut() -> Result<()> + 'a>,
}

/// The median of `v` (not empty).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Run `probe`: (median CPU ns per iteration, counts per iteration).
fn run_probe(probe: &mut Probe<'_>, cal: &Calibration) -> Result<(f64, Vec<(&'static str, f64)>)> {
    let n = probe.iterations.max(1) * cal.scale.max(1);
    (probe.run)()?;
    let mut times = Vec::with_capacity(cal.repetitions as usize);
    let mut counts = Counts::default();
    for _ in 0..cal.repetitions.max(1) {
        let before = snapshot();
        let t0 = thread_cpu_ns();
        for _ in 0..n {
            (probe.run)()?;
        }
        let t1 = thread_cpu_ns();
        counts = snapshot() - before;
        times.push(t1.saturating_sub(t0) as f64 / f64::from(n));
    }
    let per_iteration = counts
        .fields()
        .into_iter()
        .map(|(k, v)| (k, v as f64 / f64::from(n)))
        .collect();
    Ok((median(times), per_iteration))
}

/// Measure every counter's cost on this host (single-threaded, thread CPU time). `load` is
/// where the host's load average is read.
pub fn calibrate(p: &Provider, cal: &Calibration, load: &LoadSource) -> Result<CostProfile> {
    let mut host = HostInfo::probe(load);
    let (sk, pk) = p.derive_hpke_key_pair(&[7; 32])?;
    let (ssk, spk) = p.derive_signature_key_pair(&[8; 32])?;
    let sig = p.sign_with_label(&ssk, b"label", b"content")?;
    let mib = vec![0u8; 1 << 20];
    // A tree of WALK_LEAVES occupied leaves, as a whole-tree walk meets in a full group.
    let (kp, _) = key_package_from_seed(p, b"calibration", &[9; 32], default_lifetime(0))?;
    let mut tree = RatchetTree::new(&kp.leaf_node, p.hash_len())?;
    for _ in 1..WALK_LEAVES {
        tree.add_leaf(&kp.leaf_node)?;
    }
    // An HPKE context over a GroupInfo-sized context, sealing a GroupSecrets-sized plaintext,
    // as a Welcome does; opening what it sealed, as a joiner does.
    let seal_ctx = SealContext::new(p, b"Welcome", &[3; 512])?;
    let open_ctx = OpenContext::new(p, b"Welcome", &[3; 512])?;
    let (enc, ct) = seal_ctx.seal(&pk, &[5; 100], Some(&[6; 32]))?;

    // In dependency order: every other counter a probe increments is measured before it.
    let mut probes: Vec<Probe<'_>> = vec![Probe {
        counter: "leaf_walk_slots",
        iterations: 64,
        run: Box::new(|| {
            std::hint::black_box(tree.leaves().count());
            Ok(())
        }),
    }];
    probes.extend(symmetric_probes(p, &mib));
    probes.extend([
        Probe {
            counter: "x25519_base",
            iterations: 100,
            run: Box::new(|| {
                std::hint::black_box(awslc::x25519_public(sk.as_bytes())?);
                Ok(())
            }),
        },
        // aws-lc parses a private key with a fixed-base multiplication (counted as
        // `x25519_base`), so a DH is measured together with one and the base subtracted.
        Probe {
            counter: "x25519_dh",
            iterations: 100,
            run: Box::new(|| {
                std::hint::black_box(awslc::x25519(sk.as_bytes(), &pk)?);
                Ok(())
            }),
        },
        Probe {
            counter: "ed25519_sign",
            iterations: 100,
            run: Box::new(|| {
                std::hint::black_box(p.sign_with_label(&ssk, b"label", b"content")?);
                Ok(())
            }),
        },
        Probe {
            counter: "ed25519_verify",
            iterations: 100,
            run: Box::new(|| {
                p.verify_with_label(&spk, b"label", b"content", &sig)?;
                Ok(())
            }),
        },
        Probe {
            counter: "hpke_seal",
            iterations: 100,
            run: Box::new(|| {
                std::hint::black_box(seal_ctx.seal(&pk, &[5; 100], Some(&[6; 32]))?);
                Ok(())
            }),
        },
        Probe {
            counter: "hpke_open",
            iterations: 100,
            run: Box::new(|| {
                std::hint::black_box(open_ctx.open(&sk, &enc, &ct)?);
                Ok(())
            }),
        },
    ]);

    probes.extend(other_suite_probes()?);

    let mut profile = CostProfile {
        schema: PROFILE_SCHEMA.into(),
        schema_version: PROFILE_VERSION,
        date: crate::plan::report::today(),
        host: HostInfo::default(),
        method: format!(
            "One probe per counter, run the way the engine calls the primitive; thread CPU \
             time (CLOCK_THREAD_CPUTIME_ID) of one thread, median of {} repetitions. A \
             probe's cost is its time minus the costs of the other counters it increments \
             (measured first), per unit of its own counter: costs are marginal, so Σ counts \
             × costs prices any work without counting a part twice.",
            cal.repetitions.max(1)
        ),
        repetitions: cal.repetitions.max(1),
        costs: Default::default(),
        suites: Default::default(),
    };
    // EdDSA's message hashing first: every signature probe counts some.
    measure_eddsa_message_bytes(cal, &mut profile.costs)?;
    measure_probes(&mut probes, cal, &mut profile.costs)?;
    // The symmetric costs of every suite whose hash or AEAD is not suite 1's, measured once
    // per (hash, AEAD) pair and recorded for each suite that has it.
    let mut measured: BTreeMap<(&str, &str), BTreeMap<String, Cost>> = BTreeMap::new();
    for &suite in CipherSuite::ALL {
        if super::symmetric_as_suite_1(suite) {
            continue;
        }
        let key = (suite.hash_name(), suite.aead_name());
        let costs = match measured.entry(key) {
            std::collections::btree_map::Entry::Occupied(e) => e.get().clone(),
            std::collections::btree_map::Entry::Vacant(e) => e
                .insert(calibrate_symmetric(&Provider::new(suite), cal)?)
                .clone(),
        };
        profile.suites.insert(suite.id().to_string(), costs);
    }
    host.finish(load);
    profile.host = host;
    profile.validate()?;
    Ok(profile)
}

/// The costs of `ed25519_msg_bytes` and `ed448_msg_bytes`: what one more message byte adds to
/// an EdDSA signature (its hash, run twice). Every signature also counts its fixed cost
/// (`ed25519_sign`, `ed448_sign`), which is measured after this, so the per-byte cost comes
/// from two signatures that differ only in their message's length: a 64-byte one and a 1-MiB
/// one, `(t_long - t_short) / (bytes_long - bytes_short)`.
fn measure_eddsa_message_bytes(
    cal: &Calibration,
    costs: &mut BTreeMap<String, Cost>,
) -> Result<()> {
    let short = vec![0u8; 64];
    let long = vec![0u8; 1 << 20];
    for (suite, counter) in [
        (
            CipherSuite::Mls128X25519Aes128GcmSha256Ed25519,
            "ed25519_msg_bytes",
        ),
        (
            CipherSuite::Mls256X448Aes256GcmSha512Ed448,
            "ed448_msg_bytes",
        ),
    ] {
        let p = Provider::new(suite);
        let (sk, _) = p.derive_signature_key_pair(&[8; 32])?;
        let mut measured = Vec::with_capacity(2);
        for (message, iterations) in [(&short, 50), (&long, 2)] {
            let sk = &sk;
            let mut probe = Probe {
                counter,
                iterations,
                run: Box::new(move || {
                    std::hint::black_box(p.sign_labeled(sk, message)?);
                    Ok(())
                }),
            };
            let (ns, counts) = run_probe(&mut probe, cal)?;
            let bytes = counts
                .iter()
                .find(|(k, _)| *k == counter)
                .map_or(0.0, |(_, v)| *v);
            measured.push((ns, bytes));
        }
        let [(t_short, b_short), (t_long, b_long)] = [measured[0], measured[1]];
        ensure!(
            b_long > b_short,
            "internal: signing a longer message does not count more {counter}"
        );
        let per = unit_of(counter).ok_or_else(|| anyhow!("internal: {counter} has no unit"))?;
        costs.insert(
            counter.to_string(),
            Cost {
                ns: ((t_long - t_short) / (b_long - b_short)).max(0.0),
                per: per.into(),
            },
        );
    }
    Ok(())
}

/// The costs of the symmetric primitives with `p`'s hash and AEAD: `hash_bytes`,
/// `aead_bytes` and `hkdf_expand`, in ns per unit, measured as [`calibrate`] measures them
/// for the provider it is given. A profile holds one cost per counter, so a suite whose hash
/// (SHA-384, SHA-512) or AEAD (AES-256-GCM, ChaCha20-Poly1305) is not the profile's has its
/// own measured here (the crypto floor of `canopy compare --suite`).
pub fn calibrate_symmetric(p: &Provider, cal: &Calibration) -> Result<BTreeMap<String, Cost>> {
    let mib = vec![0u8; 1 << 20];
    let mut costs = BTreeMap::new();
    measure_probes(&mut symmetric_probes(p, &mib), cal, &mut costs)?;
    Ok(costs)
}

/// The probes of `hash_bytes`, `aead_bytes` and `hkdf_expand` through `p` (over `mib`, one
/// MiB), in dependency order.
fn symmetric_probes<'a>(p: &'a Provider, mib: &'a [u8]) -> Vec<Probe<'a>> {
    let key = vec![0u8; p.aead_key_len()];
    let nonce = vec![0u8; p.aead_nonce_len()];
    let prk = vec![1u8; p.hash_len()];
    vec![
        Probe {
            counter: "hash_bytes",
            iterations: 2,
            run: Box::new(move || {
                std::hint::black_box(p.hash(mib));
                Ok(())
            }),
        },
        Probe {
            counter: "aead_bytes",
            iterations: 2,
            run: Box::new(move || {
                std::hint::black_box(p.aead_seal(&key, &nonce, &[], mib)?);
                Ok(())
            }),
        },
        Probe {
            counter: "hkdf_expand",
            iterations: 500,
            run: Box::new(move || {
                std::hint::black_box(p.expand(&prk, b"info", 32)?);
                Ok(())
            }),
        },
    ]
}

/// Run `probes` in order and insert each one's marginal cost into `costs`: its time minus
/// the costs of the other counters it increments (which must be in `costs` already), per
/// unit of its own counter.
fn measure_probes(
    probes: &mut [Probe<'_>],
    cal: &Calibration,
    costs: &mut BTreeMap<String, Cost>,
) -> Result<()> {
    for probe in probes {
        let (ns, counts) = run_probe(probe, cal)?;
        let own = counts
            .iter()
            .find(|(k, _)| *k == probe.counter)
            .map_or(0.0, |(_, v)| *v);
        ensure!(
            own > 0.0,
            "internal: the {} probe does not increment its counter",
            probe.counter
        );
        let mut others = 0.0;
        for (k, v) in &counts {
            if *k == probe.counter || *v == 0.0 {
                continue;
            }
            let cost = costs.get(*k).ok_or_else(|| {
                anyhow!(
                    "internal: the {} probe also counts {k}, which is measured after it",
                    probe.counter
                )
            })?;
            others += v * cost.ns;
        }
        // Noise can make the parts exceed the whole by a little; a cost is never negative.
        // Only HPKE's remainder (its key schedule and framing, beside its two X25519
        // operations, HKDF calls and AEAD bytes) is small enough for that; say so.
        if ns < others {
            eprintln!(
                "calibrate: {}: its counted parts measured {:.0} ns, more than the whole \
                 ({:.0} ns) on this busy host; its own cost is set to 0",
                probe.counter, others, ns
            );
        }
        let marginal = ((ns - others) / own).max(0.0);
        let per = unit_of(probe.counter)
            .ok_or_else(|| anyhow!("internal: {} has no unit", probe.counter))?;
        costs.insert(
            probe.counter.to_string(),
            Cost {
                ns: marginal,
                per: per.into(),
            },
        );
    }
    Ok(())
}

/// Keys, signatures and seals in one batch of a lane probe: eight registers of eight lanes.
const LANE_BATCH: u8 = 64;

/// The primitives an X25519 backend runs its own way: [`calibrate_lanes`] measures these.
pub const LANE_COUNTERS: [&str; 3] = ["x25519_base", "x25519_dh", "ed25519_verify"];

/// What one X25519 public key, one X25519 DH and one Ed25519 verification cost on `backend`
/// when the engine runs them in full batches: the public keys and the DHs of an HPKE seal
/// batch in canopy-simd's lanes, the verifications on the verifier that goes with the
/// backend (eight AVX-512 IFMA lanes, curve25519-dalek's AVX2, or aws-lc: see
/// `canopy_engine::crypto::backend::ed25519_for_x25519`). Probes of 64 keys, seals and
/// signatures, timed like [`calibrate`]'s; each cost is marginal against `base`'s costs of the
/// other counters a probe increments, with the public key's cost on `backend` measured
/// first, since the DH probe (a batch of seals) derives public keys too. On `portable` every
/// batch is a loop of aws-lc calls, so these are aws-lc's costs measured again.
///
/// Returns the [`LANE_COUNTERS`]' costs only.
pub fn calibrate_lanes(
    backend: X25519Backend,
    base: &CostProfile,
    cal: &Calibration,
) -> Result<BTreeMap<String, Cost>> {
    let suite = CipherSuite::Mls128X25519Aes128GcmSha256Ed25519;
    let p = Provider::new(suite).with_x25519_backend(backend)?;
    let keys = (0..LANE_BATCH)
        .map(|i| p.derive_hpke_key_pair(&[i; 32]))
        .collect::<Result<Vec<_>, _>>()?;
    let sks: Vec<_> = keys.iter().map(|(sk, _)| sk).collect();
    let seal_ctx = SealContext::new(&p, b"Welcome", &[3; 512])?;
    let ikms: Vec<[u8; 32]> = (0..LANE_BATCH).map(|i| [i ^ 0x55; 32]).collect();
    let plaintext = [5u8; 100];
    let requests: Vec<SealRequest<'_>> = keys
        .iter()
        .zip(&ikms)
        .map(|((_, pk), ikm)| SealRequest {
            pk_r: pk,
            plaintext: &plaintext,
            ikm_e: Some(ikm),
        })
        .collect();
    let signed = (0..LANE_BATCH)
        .map(|i| {
            let (ssk, spk) = p.derive_signature_key_pair(&[i ^ 0xaa; 32])?;
            let content = vec![i; 64];
            let sig = p.sign_labeled(&ssk, &content)?;
            Ok((spk, content, sig))
        })
        .collect::<Result<Vec<_>>>()?;
    let items: Vec<(&[u8], &[u8], &[u8])> = signed
        .iter()
        .map(|(pk, content, sig)| (pk.as_slice(), content.as_slice(), sig.as_slice()))
        .collect();
    let mut probes: Vec<Probe<'_>> = vec![
        Probe {
            counter: "x25519_base",
            iterations: 4,
            run: Box::new(|| {
                std::hint::black_box(p.hpke_public_keys(&sks)?);
                Ok(())
            }),
        },
        Probe {
            counter: "x25519_dh",
            iterations: 4,
            run: Box::new(|| {
                for sealed in seal_ctx.seal_batch(&requests) {
                    std::hint::black_box(sealed?);
                }
                Ok(())
            }),
        },
        Probe {
            counter: "ed25519_verify",
            iterations: 4,
            run: Box::new(|| {
                for verified in p.verify_labeled_batch(&items) {
                    verified?;
                }
                Ok(())
            }),
        },
    ];
    let mut costs = base.costs.clone();
    measure_probes(&mut probes, cal, &mut costs)?;
    Ok(costs
        .into_iter()
        .filter(|(k, _)| LANE_COUNTERS.contains(&k.as_str()))
        .collect())
}

/// The probes of the other suites' public-key primitives (each suite's KEM and signature
/// scheme), run through a provider of that suite the way the engine calls them. They
/// increment only their own counter and `hash_bytes`, which is measured before them.
fn other_suite_probes() -> Result<Vec<Probe<'static>>> {
    use canopy_engine::crypto::CipherSuite as S;
    // (suite, [base, dh, sign, verify] counters)
    let suites: [(S, [&'static str; 4]); 4] = [
        (
            S::Mls128P256Aes128GcmSha256P256,
            [
                "p256_base",
                "p256_dh",
                "ecdsa_p256_sign",
                "ecdsa_p256_verify",
            ],
        ),
        (
            S::Mls256P384Aes256GcmSha384P384,
            [
                "p384_base",
                "p384_dh",
                "ecdsa_p384_sign",
                "ecdsa_p384_verify",
            ],
        ),
        (
            S::Mls256P521Aes256GcmSha512P521,
            [
                "p521_base",
                "p521_dh",
                "ecdsa_p521_sign",
                "ecdsa_p521_verify",
            ],
        ),
        (
            S::Mls256X448Aes256GcmSha512Ed448,
            ["x448_base", "x448_dh", "ed448_sign", "ed448_verify"],
        ),
    ];
    let mut probes = Vec::new();
    for (suite, [base, dh, sign, verify]) in suites {
        let p = Provider::try_new(suite)?;
        let (sk, pk) = p.derive_hpke_key_pair(&[7; 32])?;
        let (ssk, spk) = p.derive_signature_key_pair(&[8; 32])?;
        let signature = p.sign_with_label(&ssk, b"label", b"content")?;
        let base_sk = sk.clone();
        probes.push(Probe {
            counter: base,
            iterations: 50,
            run: Box::new(move || {
                std::hint::black_box(p.hpke_public_key(&base_sk)?);
                Ok(())
            }),
        });
        // As for X25519: a DH is measured together with the parse of the private key and the
        // base multiplication subtracted.
        probes.push(Probe {
            counter: dh,
            iterations: 50,
            run: Box::new(move || {
                std::hint::black_box(p.hpke_dh(&sk, &pk)?);
                Ok(())
            }),
        });
        probes.push(Probe {
            counter: sign,
            iterations: 50,
            run: Box::new(move || {
                std::hint::black_box(p.sign_with_label(&ssk, b"label", b"content")?);
                Ok(())
            }),
        });
        probes.push(Probe {
            counter: verify,
            iterations: 50,
            run: Box::new(move || {
                p.verify_with_label(&spk, b"label", b"content", &signature)?;
                Ok(())
            }),
        });
    }
    // X-Wing's ML-KEM-768 parts, through the X-Wing primitive the engine runs: each probe
    // also counts its X25519 operations, which are measured before.
    use canopy_engine::crypto::primitives::xwing;
    let seed = [5u8; xwing::SEED_LEN];
    let expanded = xwing::Expanded::from_seed(&seed)?;
    let xwing_pk = expanded.public_key().to_vec();
    let (xwing_ct, _) = xwing::encapsulate(&xwing_pk)?;
    let encaps_pk = xwing_pk.clone();
    probes.push(Probe {
        counter: "mlkem768_keygen",
        iterations: 50,
        run: Box::new(move || {
            std::hint::black_box(xwing::Expanded::from_seed(&seed)?);
            Ok(())
        }),
    });
    probes.push(Probe {
        counter: "mlkem768_encaps",
        iterations: 50,
        run: Box::new(move || {
            std::hint::black_box(xwing::encapsulate(&encaps_pk)?);
            Ok(())
        }),
    });
    probes.push(Probe {
        counter: "mlkem768_decaps",
        iterations: 50,
        run: Box::new(move || {
            std::hint::black_box(expanded.decapsulate(&xwing_ct)?);
            Ok(())
        }),
    });
    // ML-KEM-1024 (suite 0xFDEB), through the engine's ML-KEM primitive: key generation from
    // the seed (libcrux), encapsulation and decapsulation (aws-lc), as the suite runs them.
    use canopy_engine::crypto::primitives::mlkem::{self, ParameterSet};
    let set = ParameterSet::MlKem1024;
    let seed1024 = [6u8; mlkem::SEED_LEN];
    let key1024 = mlkem::PrivateKey::from_seed(set, &seed1024)?;
    let pk1024 = key1024.public_key().to_vec();
    let (ct1024, _) = mlkem::encapsulate(set, &pk1024)?;
    probes.push(Probe {
        counter: "mlkem1024_keygen",
        iterations: 50,
        run: Box::new(move || {
            std::hint::black_box(mlkem::PrivateKey::from_seed(set, &seed1024)?);
            Ok(())
        }),
    });
    probes.push(Probe {
        counter: "mlkem1024_encaps",
        iterations: 50,
        run: Box::new(move || {
            std::hint::black_box(mlkem::encapsulate(set, &pk1024)?);
            Ok(())
        }),
    });
    probes.push(Probe {
        counter: "mlkem1024_decaps",
        iterations: 50,
        run: Box::new(move || {
            std::hint::black_box(key1024.decapsulate(&ct1024)?);
            Ok(())
        }),
    });
    Ok(probes)
}
