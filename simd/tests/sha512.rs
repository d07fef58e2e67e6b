//! SHA-512 of many messages against aws-lc's: every backend the host runs, messages of every
//! length around the block boundaries and random ones, split into parts at random points, in
//! batches whose lanes have different numbers of blocks (a lane that finishes early must keep
//! its digest while its neighbours go on). And FIPS 180-4's own examples.

mod common;

use aws_lc_rs::digest;
use canopy_simd::{sha512_batch, Backend, Error, SHA512_LEN};
use common::{backends_under_test, rng};
use rand::Rng;

fn awslc(message: &[u8]) -> [u8; SHA512_LEN] {
    digest::digest(&digest::SHA512, message)
        .as_ref()
        .try_into()
        .expect("64 bytes")
}

/// `message` cut into up to three parts at random points.
fn parts<'a>(r: &mut impl Rng, message: &'a [u8]) -> Vec<&'a [u8]> {
    let mut cuts = [
        r.random_range(0..=message.len()),
        r.random_range(0..=message.len()),
    ];
    cuts.sort_unstable();
    vec![
        &message[..cuts[0]],
        &message[cuts[0]..cuts[1]],
        &message[cuts[1]..],
    ]
}

#[test]
fn fips_examples_in_every_backend() {
    let abc = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
               2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
    let two_block = "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018\
                     501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909";
    let long: &[u8] = b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn\
                        hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    for backend in backends_under_test("sha512") {
        let messages: [&[&[u8]]; 3] = [&[b"abc"], &[b"a", b"", b"bc"], &[long]];
        let mut out = [[0u8; SHA512_LEN]; 3];
        sha512_batch(backend, &messages, &mut out).unwrap();
        assert_eq!(hex::encode(out[0]), abc, "{backend}");
        assert_eq!(hex::encode(out[1]), abc, "{backend}");
        assert_eq!(hex::encode(out[2]), two_block, "{backend}");
    }
}

#[test]
fn every_length_near_the_block_boundaries_and_random_ones_equal_awslc() {
    let mut r = rng(5);
    let mut lengths: Vec<usize> = (0..=300).collect();
    lengths.extend((0..200).map(|_| r.random_range(0..2_000)));
    let messages: Vec<Vec<u8>> = lengths
        .iter()
        .map(|&n| (0..n).map(|_| r.random()).collect())
        .collect();
    let want: Vec<[u8; SHA512_LEN]> = messages.iter().map(|m| awslc(m)).collect();
    let mut compared = 0;
    for backend in backends_under_test("sha512") {
        // Shuffled into batches of varied sizes, so lanes of one register differ in blocks.
        let mut order: Vec<usize> = (0..messages.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, r.random_range(0..=i));
        }
        let split: Vec<Vec<&[u8]>> = order.iter().map(|&i| parts(&mut r, &messages[i])).collect();
        let mut start = 0;
        while start < order.len() {
            let len = r.random_range(1..=20).min(order.len() - start);
            let batch: Vec<&[&[u8]]> = split[start..start + len]
                .iter()
                .map(|p| p.as_slice())
                .collect();
            let mut out = vec![[0u8; SHA512_LEN]; len];
            sha512_batch(backend, &batch, &mut out).unwrap();
            for (k, o) in out.iter().enumerate() {
                let i = order[start + k];
                assert_eq!(*o, want[i], "{backend}: message of {} bytes", lengths[i]);
                compared += 1;
            }
            start += len;
        }
    }
    println!("sha512: {compared} digests compared");
    assert!(compared >= 501);
}

#[test]
fn length_mismatch_is_an_error() {
    let mut out = [[0u8; SHA512_LEN]; 1];
    assert!(matches!(
        sha512_batch(Backend::Portable, &[], &mut out),
        Err(Error::LengthMismatch { .. })
    ));
}
