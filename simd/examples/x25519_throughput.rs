//! Nanoseconds per X25519 shared secret: aws-lc one at a time against each backend of
//! canopy-simd in batches, in one process, with the ratio to aws-lc.
//!
//! ```sh
//! cargo run --release -p canopy-simd --example x25519_throughput
//! cargo run --release -p canopy-simd --example x25519_throughput -- 2.0   # seconds per row
//! ```
//!
//! Each row is the median of five timed runs of about a fifth of the given time (default 1 s) on
//! one thread. On a shared or frequency-scaling host the figures move by tens of percent from
//! run to run: read the ratios as rough. A backend the host lacks is printed as skipped.

use std::time::Duration;

use aws_lc_rs::agreement;
use canopy_simd::{host_features, x25519_base_batch, x25519_batch, Backend};

#[path = "common/timing.rs"]
mod timing;
use timing::ns_per_op;

/// Deterministic distinct 32-byte strings (no RNG dependency for an example).
fn inputs(n: usize, salt: u8) -> Vec<[u8; 32]> {
    (0..n)
        .map(|i| {
            let mut b = [0u8; 32];
            for (j, x) in b.iter_mut().enumerate() {
                *x = (i as u8)
                    .wrapping_mul(31)
                    .wrapping_add(j as u8 * 7)
                    .wrapping_add(salt)
                    ^ (i >> 8) as u8;
            }
            b
        })
        .collect()
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("seconds per row, e.g. 1.5"))
        .unwrap_or(1.0);
    let budget = Duration::from_secs_f64(seconds);
    println!("host: {}", host_features());
    println!(
        "{:<34} {:>12} {:>10}",
        "variable base (DH)", "ns/secret", "vs aws-lc"
    );

    let scalars = inputs(64, 1);
    let points = inputs(64, 2);
    let keys: Vec<agreement::PrivateKey> = scalars
        .iter()
        .map(|k| agreement::PrivateKey::from_private_key(&agreement::X25519, k).unwrap())
        .collect();
    let peers: Vec<[u8; 32]> = keys
        .iter()
        .map(|k| k.compute_public_key().unwrap().as_ref().try_into().unwrap())
        .collect();
    let mut i = 0;
    let awslc = ns_per_op(budget, 1, || {
        let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, &peers[i % 64]);
        agreement::agree(&keys[i % 64], peer, (), |s| {
            std::hint::black_box(s);
            Ok(())
        })
        .unwrap();
        i += 1;
    });
    println!(
        "{:<34} {:>12.0} {:>10}",
        "aws-lc agree (parsed key), single", awslc, "1.00"
    );

    let mut out = vec![[0u8; 32]; 64];
    for backend in Backend::ALL {
        if !backend.is_available() {
            println!("{:<34} skipped: not available on this host", backend.name());
            continue;
        }
        let sizes: &[usize] = if backend == Backend::Portable {
            &[1, 64]
        } else {
            &[8, 16, 64]
        };
        for &n in sizes {
            let ns = ns_per_op(budget, n, || {
                let zero = x25519_batch(backend, &scalars[..n], &points[..n], &mut out[..n]);
                zero.unwrap().into_result().unwrap();
            });
            println!(
                "{:<34} {:>12.0} {:>10.2}",
                format!("{backend}, batch of {n}"),
                ns,
                awslc / ns
            );
        }
    }

    println!(
        "\n{:<34} {:>12} {:>10}",
        "fixed base (public key)", "ns/key", "vs aws-lc"
    );
    let mut j = 0;
    let awslc_base = ns_per_op(budget, 1, || {
        let k =
            agreement::PrivateKey::from_private_key(&agreement::X25519, &scalars[j % 64]).unwrap();
        std::hint::black_box(k.compute_public_key().unwrap());
        j += 1;
    });
    println!(
        "{:<34} {:>12.0} {:>10}",
        "aws-lc parse + public key, single", awslc_base, "1.00"
    );
    for backend in Backend::available() {
        let n = 64;
        let ns = ns_per_op(budget, n, || {
            let zero = x25519_base_batch(backend, &scalars[..n], &mut out[..n]);
            zero.unwrap().into_result().unwrap();
        });
        println!(
            "{:<34} {:>12.0} {:>10.2}",
            format!("{backend}, batch of {n}"),
            ns,
            awslc_base / ns
        );
    }
    println!("\n(vs aws-lc = aws-lc's ns ÷ this row's ns: above 1 is faster than aws-lc)");
}
