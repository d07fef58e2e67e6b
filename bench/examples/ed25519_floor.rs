//! Why a join does not use batched Ed25519 verification, measured on this machine.
//!
//! ```sh
//! cargo run --release -p canopy-bench --example ed25519_floor -- [N] [--json FILE]
//! ```
//!
//! A joiner verifies one leaf signature per member (RFC 9420 §7.9.2, §12.4.3.1): 50,001
//! at 50,000 members. Canopy verifies with aws-lc, like mls-rs; openmls uses ed25519-dalek's
//! `verify`. All three are *cofactorless* single verifications: accept iff
//! `encode([s]B - [h]A) == R`. Canopy may batch verification only if the batch's acceptance rule
//! equals single verification, since otherwise members could disagree on a tree and fork.
//!
//! Batched verification checks one random linear combination `Σ zᵢ([sᵢ]B - Rᵢ - [hᵢ]Aᵢ) = 0`.
//! With a small-order (torsion) component in `Rᵢ` or `Aᵢ`, the term of signature `i` is a
//! non-zero torsion point that the single check rejects, while the combination vanishes with
//! probability ≥ 1/8 (cofactorless batch) or always (cofactored batch, which ed25519-dalek's
//! `verify_batch` is). Part 1 below shows this on crafted signatures. The only way to make the
//! batch agree with single verification is to prove every `Rᵢ` and `Aᵢ` torsion-free first — a
//! subgroup check, `[ℓ]P = 0` — and part 2 measures what that costs next to single
//! verification: a batch plus two subgroup checks per signature costs more than verifying the
//! signature alone. Hence the join floor stays `N × single verify ÷ cores`.
//!
//! Part 3 times the engine's own verification on each backend `CANOPY_CRYPTO` can select in this
//! process (aws-lc, curve25519-dalek's AVX2 backend, canopy-simd's AVX-512 IFMA lanes; the others
//! are named as not run), all signatures handed over as one batch
//! (`backend::ed25519_verify_batch_with`, which only the lanes share registers in), and prints
//! each one's ratio to aws-lc. The lanes decide exactly as single verification does: they are
//! not the batched verification of parts 1 and 2.
//!
//! Messages are 250 bytes (a basic-credential LeafNodeTBS is ~230–260 bytes); keys and
//! messages come from a fixed seed. Timings are single-threaded, best of 3 rounds.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use canopy_engine::crypto::awslc::ed25519_verify;
use canopy_engine::crypto::backend::{ed25519_verify_batch_with, CryptoBackend};
use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha512};

const MSG_LEN: usize = 250;
const MEMBERS_50K: f64 = 50_001.0;

struct Item {
    pk: [u8; 32],
    msg: Vec<u8>,
    sig: [u8; 64],
}

fn honest(rng: &mut ChaCha20Rng, n: usize) -> Vec<Item> {
    (0..n)
        .map(|_| {
            let mut seed = [0u8; 32];
            rng.fill_bytes(&mut seed);
            let sk = SigningKey::from_bytes(&seed);
            let mut msg = vec![0u8; MSG_LEN];
            rng.fill_bytes(&mut msg);
            let sig = sk.sign(&msg).to_bytes();
            Item {
                pk: sk.verifying_key().to_bytes(),
                msg,
                sig,
            }
        })
        .collect()
}

fn random_scalar(rng: &mut ChaCha20Rng) -> Scalar {
    let mut wide = [0u8; 64];
    rng.fill_bytes(&mut wide);
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// A signature whose nonce point carries an order-8 component: `R = [r]B + T₈`,
/// `s = r + h·a` with `h = H(R ‖ A ‖ M)`. Then `[s]B - [h]A = R - T₈ ≠ R`: every
/// cofactorless single verifier must reject it, while `[8]([s]B - R - [h]A) = 0`.
fn torsion_nonce(rng: &mut ChaCha20Rng) -> Item {
    let a = random_scalar(rng);
    let pk = EdwardsPoint::mul_base(&a).compress().to_bytes();
    let r = random_scalar(rng);
    let big_r = (EdwardsPoint::mul_base(&r) + EIGHT_TORSION[1])
        .compress()
        .to_bytes();
    let mut msg = vec![0u8; MSG_LEN];
    rng.fill_bytes(&mut msg);
    let h = Sha512::new()
        .chain_update(big_r)
        .chain_update(pk)
        .chain_update(&msg)
        .finalize();
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&h);
    let s = r + Scalar::from_bytes_mod_order_wide(&wide) * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&big_r);
    sig[32..].copy_from_slice(s.as_bytes());
    Item { pk, msg, sig }
}

/// Keys, signatures and messages in the shape `ed25519_dalek::verify_batch` takes.
type DalekBatch<'a> = (Vec<VerifyingKey>, Vec<Signature>, Vec<&'a [u8]>);

fn dalek_parts(items: &[Item]) -> Result<DalekBatch<'_>> {
    let mut vks = Vec::with_capacity(items.len());
    for it in items {
        vks.push(VerifyingKey::from_bytes(&it.pk).context("verifying key")?);
    }
    let sigs = items
        .iter()
        .map(|it| Signature::from_bytes(&it.sig))
        .collect();
    let msgs = items.iter().map(|it| it.msg.as_slice()).collect();
    Ok((vks, sigs, msgs))
}

/// `[ℓ]P` in variable time: `[ℓ - 1]P + P` (ℓ itself reduces to 0 as a `Scalar`). This is the
/// cheapest subgroup check curve25519-dalek offers (its `is_torsion_free` is constant-time and
/// slower); it costs about one variable-base scalar multiplication.
fn vartime_times_ell(p: &EdwardsPoint) -> EdwardsPoint {
    EdwardsPoint::vartime_double_scalar_mul_basepoint(&(-Scalar::ONE), p, &Scalar::ZERO) + p
}

/// Best of 3 rounds, µs per item.
fn per_item_us(n: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    Ok(best)
}

fn main() -> Result<()> {
    let mut n = 20_000usize;
    let mut json = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => json = Some(args.next().context("--json FILE")?),
            s => n = s.parse().with_context(|| format!("not a count: {s}"))?,
        }
    }
    let mut rng = ChaCha20Rng::from_seed([0x25; 32]);

    // Part 1: acceptance. Every crafted signature must be rejected by both single verifiers;
    // count how often the batch accepts it (hidden among 63 honest signatures).
    let trials = 64;
    let mut batch_accepts = 0;
    for _ in 0..trials {
        let mut items = honest(&mut rng, 63);
        let bad = torsion_nonce(&mut rng);
        if ed25519_verify(&bad.pk, &bad.msg, &bad.sig).is_ok() {
            bail!("aws-lc accepted a torsion-nonce signature");
        }
        let (vk, sig, _) = dalek_parts(std::slice::from_ref(&bad))?;
        if vk[0].verify(&bad.msg, &sig[0]).is_ok() {
            bail!("ed25519-dalek verify accepted a torsion-nonce signature");
        }
        items.push(bad);
        let (vks, sigs, msgs) = dalek_parts(&items)?;
        if ed25519_dalek::verify_batch(&msgs, &sigs, &vks).is_ok() {
            batch_accepts += 1;
        }
    }
    println!(
        "acceptance: {trials} batches of 63 honest + 1 torsion-nonce signature; \
         aws-lc single and dalek single rejected all {trials}; dalek verify_batch accepted {batch_accepts}"
    );

    // Part 2: cost.
    let items = honest(&mut rng, n);
    let (vks, sigs, msgs) = dalek_parts(&items)?;
    let aws = per_item_us(n, || {
        for it in &items {
            ed25519_verify(&it.pk, &it.msg, &it.sig)?;
        }
        Ok(())
    })?;
    let dalek_single = per_item_us(n, || {
        for ((vk, sig), msg) in vks.iter().zip(&sigs).zip(&msgs) {
            vk.verify(msg, sig)?;
        }
        Ok(())
    })?;
    let dalek_batch = per_item_us(n, || Ok(ed25519_dalek::verify_batch(&msgs, &sigs, &vks)?))?;
    let mut points = Vec::with_capacity(2 * n);
    for it in &items {
        for enc in [&it.pk[..], &it.sig[..32]] {
            let c = CompressedEdwardsY::from_slice(enc)?;
            points.push(c.decompress().context("decompress")?);
        }
    }
    let subgroup = per_item_us(points.len(), || {
        for p in &points {
            if vartime_times_ell(p) != EdwardsPoint::default() {
                bail!("honest point not torsion-free");
            }
        }
        Ok(())
    })?;
    // Sanity: the check does flag a torsion component.
    if vartime_times_ell(&(ED25519_BASEPOINT_POINT + EIGHT_TORSION[1])) == EdwardsPoint::default() {
        bail!("[ℓ]P missed a torsion component");
    }
    let safe_batch = dalek_batch + 2.0 * subgroup;
    let single = aws.min(dalek_single);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get()) as f64;
    let floor_ms = MEMBERS_50K * single / cores / 1e3;

    println!("cost per signature, {n} signatures of {MSG_LEN} bytes, one thread, best of 3:");
    println!("  aws-lc single verify (Canopy, mls-rs)      {aws:8.2} µs");
    println!("  ed25519-dalek single verify (openmls)      {dalek_single:8.2} µs");
    println!("  ed25519-dalek verify_batch                 {dalek_batch:8.2} µs");
    println!("  subgroup check [ℓ]P, vartime, per point    {subgroup:8.2} µs");
    println!(
        "  batch + subgroup checks of R and A         {safe_batch:8.2} µs  ({:.2}× single)",
        safe_batch / single
    );
    println!(
        "join floor at 50,001 leaves: 50,001 × {single:.2} µs ÷ {cores} cores = {floor_ms:.0} ms"
    );
    // Part 3: the engine's backends, on the same signatures.
    println!("engine verify by backend (CANOPY_CRYPTO), same signatures, one batch:");
    let batch: Vec<(&[u8], &[u8], &[u8])> = items
        .iter()
        .map(|it| (&it.pk[..], &it.msg[..], &it.sig[..]))
        .collect();
    let mut engine = serde_json::Map::new();
    let mut portable_ns = None;
    for b in CryptoBackend::ALL {
        if let Err(e) = b.check_available() {
            println!("  {:<9} not run here: {e}", b.name());
            continue;
        }
        let ns = 1e3
            * per_item_us(n, || {
                for r in ed25519_verify_batch_with(b, &batch) {
                    r?;
                }
                Ok(())
            })?;
        // `ALL` lists aws-lc (`portable`, always available) first: the reference.
        let reference = *portable_ns.get_or_insert(ns);
        println!(
            "  {:<9} {ns:8.0} ns  (aws-lc ÷ this: {:.2})",
            b.name(),
            reference / ns
        );
        engine.insert(b.name().into(), serde_json::json!(ns));
    }
    if let Some(path) = json {
        let out = serde_json::json!({
            "command": format!("cargo run --release -p canopy-bench --example ed25519_floor -- {n} --json {path}"),
            "signatures": n,
            "message_bytes": MSG_LEN,
            "torsion_trials": trials,
            "torsion_batch_accepts": batch_accepts,
            "us_per_sig": {
                "awslc_single": aws,
                "dalek_single": dalek_single,
                "dalek_batch": dalek_batch,
                "subgroup_check_per_point": subgroup,
                "batch_plus_subgroup_checks": safe_batch,
            },
            "engine_backend_ns_per_sig": engine,
            "cores": cores,
            "join_floor_ms_50001": floor_ms,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&out)? + "\n")?;
        println!("wrote {path}");
    }
    Ok(())
}
