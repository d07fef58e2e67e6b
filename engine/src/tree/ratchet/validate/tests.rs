//! Serial and parallel validation give the same tree hash or the same error, and both agree
//! with the whole-tree oracle (`oracle`), on trees at structural boundaries
//! (2^k and 2^k ± 1 leaves, blanks, unmerged leaves) and on broken variants of each.
//!
//! Under `cfg(test)` the subtree cutoff is tiny, so these small trees do split.

use super::*;
use crate::codec::{self, Node, RatchetTree as WireTree, VLBytes};
use crate::crypto::CipherSuite;
use crate::crypto::Secret;
use crate::group::{CommitOptions, Group, GroupConfig, Randomness};
use crate::key_package::{default_lifetime, key_package_from_seed, Clock};

const NOW: u64 = 1_800_000_000;

fn provider() -> Provider {
    Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519)
}

fn config() -> GroupConfig {
    GroupConfig {
        clock: Clock::Fixed(NOW),
        executor: Executor::Serial,
        randomness: Randomness::Seeded(Secret::new(vec![0x3c; 32])),
        ..GroupConfig::default()
    }
}

fn kp(p: &Provider, i: u32) -> crate::codec::KeyPackage {
    let mut seed = [0x77; 32];
    seed[..4].copy_from_slice(&i.to_be_bytes());
    key_package_from_seed(p, format!("m{i}").as_bytes(), &seed, default_lifetime(NOW))
        .unwrap()
        .0
}

/// Trees of `n` members as the creator sees them: after the bulk add with a path (every
/// other parent blank), after removing a few members (blanks among the leaves), and after
/// adding members back without a path (unmerged leaves on the creator's path).
fn trees(n: u32) -> Vec<(WireTree, Vec<u8>)> {
    let p = provider();
    let (signer, _) = p.signature_key_pair_from_seed(&[1; 32]).unwrap();
    let mut g = Group::create(p, b"boundary", b"creator", signer, config()).unwrap();
    let mut out = Vec::new();
    let gid = b"boundary".to_vec();
    g.commit(&CommitOptions::new().adds((1..n).map(|i| kp(&p, i))).with_path())
    .unwrap();
    out.push((g.tree().to_wire(), gid.clone()));
    if n > 3 {
        let removes: Vec<LeafIndex> = (1..n).step_by(3).map(LeafIndex).collect();
        g.commit(&CommitOptions::new().removes(removes))
        .unwrap();
        out.push((g.tree().to_wire(), gid.clone()));
        g.commit(&CommitOptions::new().adds((1000..1000 + n / 2).map(|i| kp(&p, i))))
        .unwrap();
        out.push((g.tree().to_wire(), gid.clone()));
    }
    out
}

/// The published tree-validation vectors (suite 1).
fn vector_trees() -> Vec<(WireTree, Vec<u8>)> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("test_vectors/mls/tree-validation.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .filter(|c| c["cipher_suite"] == 1)
        .map(|c| {
            let tree = codec::decode(&hex::decode(c["tree"].as_str().unwrap()).unwrap()).unwrap();
            (tree, hex::decode(c["group_id"].as_str().unwrap()).unwrap())
        })
        .collect()
}

/// Broken variants: each parent hash flipped, each leaf signature flipped, a repeated
/// encryption key and signature key, an unsorted unmerged list.
fn mutations(wire: &WireTree) -> Vec<WireTree> {
    let mut out = Vec::new();
    let flip = |v: &VLBytes| {
        let mut b = v.as_slice().to_vec();
        match b.first_mut() {
            Some(x) => *x ^= 1,
            None => b.push(0),
        }
        VLBytes::new(b)
    };
    for i in 0..wire.0.len() {
        let mut bad = wire.clone();
        match bad.0[i].as_mut() {
            Some(Node::Parent(p)) => p.parent_hash = flip(&p.parent_hash),
            Some(Node::Leaf(l)) => l.signature = flip(&l.signature),
            None => continue,
        }
        out.push(bad);
    }
    let keyed: Vec<usize> = (0..wire.0.len()).filter(|&i| wire.0[i].is_some()).collect();
    if keyed.len() >= 2 {
        for (a, b) in [
            (keyed[0], keyed[keyed.len() - 1]),
            (keyed[1], keyed[keyed.len() / 2]),
        ] {
            let key = match wire.0[a].as_ref().unwrap() {
                Node::Leaf(l) => l.encryption_key.clone(),
                Node::Parent(p) => p.encryption_key.clone(),
            };
            let mut bad = wire.clone();
            match bad.0[b].as_mut().unwrap() {
                Node::Leaf(l) => l.encryption_key = key,
                Node::Parent(p) => p.encryption_key = key,
            }
            out.push(bad);
        }
    }
    let leaves: Vec<usize> = (0..wire.0.len())
        .step_by(2)
        .filter(|&i| wire.0[i].is_some())
        .collect();
    if leaves.len() >= 2 {
        let Some(Node::Leaf(first)) = wire.0[leaves[0]].clone() else {
            unreachable!()
        };
        let mut bad = wire.clone();
        if let Some(Node::Leaf(l)) = bad.0[*leaves.last().unwrap()].as_mut() {
            l.signature_key = first.signature_key;
        }
        out.push(bad);
    }
    for i in 0..wire.0.len() {
        if let Some(Node::Parent(p)) = &wire.0[i] {
            if p.unmerged_leaves.len() >= 2 {
                let mut bad = wire.clone();
                if let Some(Node::Parent(q)) = bad.0[i].as_mut() {
                    q.unmerged_leaves.swap(0, 1);
                }
                out.push(bad);
                break;
            }
        }
    }
    out
}

/// Validate `wire`: `how` 0 by the oracle, 1 serial, 2 parallel, 3 parallel without what
/// building the key index found.
fn run(wire: &WireTree, gid: &[u8], how: u8) -> String {
    let p = provider();
    let mut t = RatchetTree::from_wire(wire.clone(), p.hash_len()).unwrap();
    let r = match how {
        0 => t.oracle_validate(&p, gid),
        1 => t.validate_with(&p, gid, Executor::Serial),
        2 => t.validate_with(&p, gid, Executor::Parallel),
        // Without what building the key index found: the keys' own pass.
        _ => {
            t.forget_key_repeats();
            t.validate_with(&p, gid, Executor::Parallel)
        }
    };
    format!("{r:?}")
}

fn check_all(cases: Vec<(WireTree, Vec<u8>)>) -> usize {
    let mut checked = 0;
    for (wire, gid) in cases {
        let good = run(&wire, &gid, 1);
        assert!(good.starts_with("Ok("), "{good}");
        for w in std::iter::once(wire.clone()).chain(mutations(&wire)) {
            let oracle = run(&w, &gid, 0);
            assert_eq!(run(&w, &gid, 1), oracle);
            assert_eq!(run(&w, &gid, 2), oracle);
            assert_eq!(run(&w, &gid, 3), oracle);
            checked += 1;
        }
    }
    checked
}

#[test]
fn serial_parallel_and_oracle_agree_on_the_vectors() {
    assert!(check_all(vector_trees()) > 14);
}

#[test]
fn serial_parallel_and_oracle_agree_at_structural_boundaries() {
    let mut checked = 0;
    for n in [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33] {
        if n == 1 {
            continue;
        }
        checked += check_all(trees(n));
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn the_tree_hash_matches_the_incremental_one() {
    let p = provider();
    for (wire, gid) in trees(17) {
        let mut a = RatchetTree::from_wire(wire.clone(), p.hash_len()).unwrap();
        let mut b = a.clone();
        let via_validate = a.validate_with(&p, &gid, Executor::Parallel).unwrap();
        assert_eq!(b.tree_hash(&p).unwrap(), via_validate);
    }
}

#[test]
fn wire_bytes_equal_the_encoded_wire_form() {
    let p = provider();
    for (wire, _) in trees(17).into_iter().chain(trees(4)) {
        let t = RatchetTree::from_wire(wire.clone(), p.hash_len()).unwrap();
        assert_eq!(
            t.wire_bytes().unwrap(),
            codec::encode(&t.to_wire()).unwrap()
        );
        assert_eq!(t.wire_bytes().unwrap(), codec::encode(&wire).unwrap());
        assert_eq!(t.wire_len(), t.wire_bytes().unwrap().len());
    }
}
