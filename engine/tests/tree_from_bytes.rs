//! `RatchetTree::from_wire_bytes`, which decodes a serialized tree one node at a time, must
//! decide every input exactly as decoding the whole tree and then `RatchetTree::from_wire`
//! does: the same tree for every valid input, the same error for every invalid one. Checked
//! on every tree of the public vectors, on crafted structural errors, and on seeded random
//! mutations of valid trees, as an attacker would send them.

use std::path::PathBuf;

use canopy_engine::codec::{self, RatchetTree as WireTree};
use canopy_engine::crypto::{CipherSuite, Provider};
use canopy_engine::tree::{LeafIndex, RatchetTree, TreeError};
use canopy_engine::Error;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// Every serialized tree of the vectors: (bytes, hash length of its suite).
fn vector_trees() -> Vec<(Vec<u8>, usize)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test_vectors/mls");
    let mut trees = Vec::new();
    for (file, fields) in [
        ("tree-validation.json", &["tree"][..]),
        ("treekem.json", &["ratchet_tree"][..]),
        ("tree-operations.json", &["tree_before", "tree_after"][..]),
    ] {
        let json: Value = serde_json::from_slice(&std::fs::read(dir.join(file)).unwrap()).unwrap();
        for case in json.as_array().unwrap() {
            let suite = CipherSuite::from_u16(case["cipher_suite"].as_u64().unwrap() as u16);
            let Some(suite) = suite else { continue };
            let hash_len = Provider::new(suite).hash_len();
            for field in fields {
                trees.push((
                    hex::decode(case[field].as_str().unwrap()).unwrap(),
                    hash_len,
                ));
            }
        }
    }
    trees
}

/// The reference: decode the whole tree, then build it.
fn reference(bytes: &[u8], hash_len: usize) -> Result<RatchetTree, Error> {
    let wire: WireTree = codec::decode(bytes)?;
    Ok(RatchetTree::from_wire(wire, hash_len)?)
}

/// Both paths on `bytes` give the same tree or the same error; true if it was a tree.
fn agree(bytes: &[u8], hash_len: usize) -> bool {
    match (
        RatchetTree::from_wire_bytes(bytes, hash_len),
        reference(bytes, hash_len),
    ) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.n_leaves(), b.n_leaves());
            assert_eq!(a.wire_bytes().unwrap(), b.wire_bytes().unwrap());
            true
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string(), "{bytes:02x?}");
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
            false
        }
        (a, b) => panic!(
            "the paths disagree on {bytes:02x?}: {:?} against {:?}",
            a.map(|_| "a tree"),
            b.map(|_| "a tree")
        ),
    }
}

#[test]
fn every_vector_tree_builds_the_same_tree() {
    let trees = vector_trees();
    assert_eq!(trees.len(), 98 + 77 + 2 * 5);
    let mut suites = std::collections::BTreeSet::new();
    for (bytes, hash_len) in &trees {
        assert!(agree(bytes, *hash_len), "a vector tree is valid");
        // The tree it built writes back the bytes it was given.
        let tree = RatchetTree::from_wire_bytes(bytes, *hash_len).unwrap();
        assert_eq!(&tree.wire_bytes().unwrap(), bytes);
        suites.insert(hash_len);
    }
    assert_eq!(suites.len(), 3, "SHA-256, SHA-384 and SHA-512 suites");
}

#[test]
fn structural_errors_are_the_same() {
    let (bytes, hash_len) = vector_trees().swap_remove(0);
    let wire: WireTree = codec::decode(&bytes).unwrap();
    let encode = |w: &WireTree| codec::encode(w).unwrap();
    let mut cases: Vec<(&str, Vec<u8>, Option<Error>)> = Vec::new();
    cases.push(("empty vector", vec![0], Some(TreeError::Empty.into())));
    let mut trailing_blank = wire.clone();
    trailing_blank.0.push(None);
    cases.push((
        "last node blank",
        encode(&trailing_blank),
        Some(TreeError::LastNodeBlank.into()),
    ));
    let mut swapped = wire.clone();
    swapped.0.swap(0, 1);
    cases.push(("leaf and parent swapped", encode(&swapped), None));
    let mut trailing = bytes.clone();
    trailing.push(0);
    cases.push(("a byte after the vector", trailing, None));
    cases.push(("truncated", bytes[..bytes.len() - 1].to_vec(), None));
    cases.push(("no header", Vec::new(), None));
    let mut presence = bytes.clone();
    // The first node's presence byte, after a header of 1, 2 or 4 bytes.
    presence[1usize << (bytes[0] >> 6)] = 2;
    cases.push(("presence byte 2", presence, None));
    // A header one byte longer than it needs to be.
    let (len, header) = codec::decode_varint_length(&bytes).unwrap();
    if header < 4 {
        let mut long = Vec::new();
        let wide = if header == 1 { 0x4000u32 } else { 0x8000_0000 };
        long.extend_from_slice(&(wide | len).to_be_bytes()[4 - 2 * header..]);
        long.extend_from_slice(&bytes[header..]);
        cases.push(("non-minimal length header", long, None));
    }
    let mut checked = 0;
    for (name, input, expected) in &cases {
        assert!(!agree(input, hash_len), "{name}: rejected");
        if let Some(expected) = expected {
            let got = RatchetTree::from_wire_bytes(input, hash_len).unwrap_err();
            assert_eq!(format!("{got:?}"), format!("{expected:?}"), "{name}");
        }
        checked += 1;
    }
    assert_eq!(checked, cases.len());
    assert!(checked >= 7);
}

/// Skimming a valid tree for each node's signature key finds the decoded tree's: a leaf's
/// key, nothing for a blank node, a parent or a node past the end. Returns the leaves found.
fn skim_agrees(bytes: &[u8], hash_len: usize) -> u32 {
    let tree = RatchetTree::from_wire_bytes(bytes, hash_len).unwrap();
    let mut found = 0;
    for node in 0..2 * tree.n_leaves() + 2 {
        let skimmed = codec::skim_leaf_signature_key(bytes, node);
        let decoded = (node % 2 == 0)
            .then(|| tree.leaf(LeafIndex(node / 2)))
            .flatten()
            .map(|l| l.signature_key());
        assert_eq!(skimmed, decoded, "node {node}");
        found += u32::from(decoded.is_some());
    }
    found
}

#[test]
fn skimming_finds_every_leafs_signature_key() {
    let mut found = 0;
    for (bytes, hash_len) in vector_trees() {
        found += skim_agrees(&bytes, hash_len);
    }
    assert!(found > 1000, "{found} leaves");
    println!("{found} leaves' signature keys skimmed alike");
}

/// Seeded random mutations of every vector tree: a byte changed, a range cut out or
/// repeated, the length header rewritten. Every one is decided alike.
#[test]
fn mutated_trees_are_decided_alike() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x7265_6573);
    let trees = vector_trees();
    let (mut valid, mut invalid, mut skimmed) = (0u32, 0u32, 0u32);
    for (bytes, hash_len) in &trees {
        for _ in 0..40 {
            let mut m = bytes.clone();
            match rng.random_range(0..5) {
                0 => {
                    let i = rng.random_range(0..m.len());
                    m[i] = rng.random();
                }
                1 => {
                    let i = rng.random_range(0..m.len());
                    m[i] ^= 1 << rng.random_range(0..8);
                }
                2 => {
                    let i = rng.random_range(0..m.len());
                    let j = rng.random_range(i..m.len().min(i + 64) + 1);
                    m.drain(i..j);
                }
                3 => {
                    let i = rng.random_range(0..m.len());
                    let j = rng.random_range(i..m.len().min(i + 64) + 1);
                    let copy = m[i..j].to_vec();
                    m.splice(j..j, copy);
                }
                _ => {
                    // A header for a length near the real one.
                    let (len, header) = codec::decode_varint_length(&m).unwrap();
                    let new_len = (len as i64 + rng.random_range(-3..=3)).max(0) as usize;
                    let mut out = Vec::new();
                    codec::encode_varint_length(new_len, &mut out).unwrap();
                    out.extend_from_slice(&m[header..]);
                    m = out;
                }
            }
            if agree(&m, *hash_len) {
                valid += 1;
                skimmed += skim_agrees(&m, *hash_len);
            } else {
                invalid += 1;
                // Whatever it finds in bytes that do not decode, skimming does not panic.
                for node in 0..64 {
                    let _ = codec::skim_leaf_signature_key(&m, node);
                }
            }
        }
    }
    assert_eq!(valid + invalid, trees.len() as u32 * 40);
    assert!(skimmed > 10_000, "{skimmed} leaves skimmed");
    // Enough of each kind that both paths were exercised.
    assert!(invalid > 3000, "{invalid} rejected");
    assert!(valid > 100, "{valid} accepted");
    println!("{valid} mutated trees accepted alike, {invalid} rejected alike");
}
