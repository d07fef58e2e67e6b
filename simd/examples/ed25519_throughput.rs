//! Microseconds per Ed25519 verification's group arithmetic: aws-lc's whole verification one
//! at a time against `ed25519_double_base_batch` on each backend of canopy-simd, in one
//! process, one thread, with the ratio to aws-lc.
//!
//! ```sh
//! cargo run --release -p canopy-simd --example ed25519_throughput
//! cargo run --release -p canopy-simd --example ed25519_throughput -- 2.0   # seconds per row
//! ```
//!
//! aws-lc's figure includes its SHA-512 of a 200-byte message (one compression pass over
//! R ‖ A ‖ M, about 2–3% of a verification); the batch's does not, since its caller hashes.
//! Each row is the median of five timed runs; on a shared host read the ratios as rough.

use std::time::Duration;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use canopy_simd::{
    ed25519_double_base_batch, host_features, sha512_batch, Backend, DoubleBaseInput, SHA512_LEN,
};

#[path = "common/timing.rs"]
mod timing;
use timing::ns_per_op;

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("seconds per row"))
        .unwrap_or(1.0);
    let budget = Duration::from_secs_f64(secs);
    let n = 64;
    let msg = [0x5au8; 200];
    let mut keys = Vec::new();
    let mut sigs = Vec::new();
    let mut inputs = Vec::new();
    for i in 0..n {
        let mut seed = [0u8; 32];
        seed[0] = i as u8;
        seed[1] = 1;
        let kp = Ed25519KeyPair::from_seed_unchecked(&seed).expect("seed");
        let pk: [u8; 32] = kp.public_key().as_ref().try_into().expect("32 bytes");
        let sig = kp.sign(&msg);
        let mut s = [0u8; 32];
        s.copy_from_slice(&sig.as_ref()[32..]);
        // Any k below ℓ costs the same; a real one would need the caller's mod-ℓ reduction.
        let mut k = [0u8; 32];
        k.copy_from_slice(&sig.as_ref()[..32]);
        k[31] &= 0x0f;
        inputs.push(DoubleBaseInput { key: pk, k, s });
        keys.push(pk);
        sigs.push(sig);
    }
    println!("host: {}", host_features());
    let awslc = ns_per_op(budget, n, || {
        for (pk, sig) in keys.iter().zip(&sigs) {
            UnparsedPublicKey::new(&ED25519, pk)
                .verify(&msg, sig.as_ref())
                .expect("honest signature");
        }
    });
    println!(
        "aws-lc verify, one at a time          {:8.2} µs",
        awslc / 1e3
    );
    for backend in Backend::ALL {
        if !backend.is_available() {
            println!("{backend:<38} skipped (not on this host)");
            continue;
        }
        if backend == Backend::Avx2 {
            println!("canopy-simd avx2                        no Ed25519 lanes (runs the serial reference)");
            continue;
        }
        let mut out = vec![None; n];
        let t = ns_per_op(budget, n, || {
            ed25519_double_base_batch(backend, &inputs, &mut out).expect("available");
        });
        println!(
            "canopy-simd {:<25} {:8.2} µs  ({:.2}× aws-lc's time)",
            backend.name(),
            t / 1e3,
            t / awslc
        );
    }

    // Rule 4's hash, k = SHA-512(R ‖ A ‖ M), for the same 64 signatures.
    let parts: Vec<[&[u8]; 3]> = keys
        .iter()
        .zip(&sigs)
        .map(|(pk, sig)| [&sig.as_ref()[..32], pk.as_slice(), msg.as_slice()])
        .collect();
    let hash_awslc = ns_per_op(budget, n, || {
        for p in &parts {
            let mut h = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA512);
            for part in p {
                h.update(part);
            }
            std::hint::black_box(h.finish());
        }
    });
    println!(
        "SHA-512 of R ‖ A ‖ M ({} bytes), aws-lc {:8.2} µs",
        64 + msg.len(),
        hash_awslc / 1e3
    );
    let messages: Vec<&[&[u8]]> = parts.iter().map(|p| p.as_slice()).collect();
    for backend in [Backend::Portable, Backend::Avx512Ifma] {
        if !backend.is_available() {
            println!("{backend:<38} skipped (not on this host)");
            continue;
        }
        let mut out = vec![[0u8; SHA512_LEN]; n];
        let t = ns_per_op(budget, n, || {
            sha512_batch(backend, &messages, &mut out).expect("available");
        });
        println!(
            "SHA-512 lanes, {:<22} {:8.2} µs  ({:.2}× aws-lc's time)",
            backend.name(),
            t / 1e3,
            t / hash_awslc
        );
    }
}
