//! Tree validation must reject what it should: each test takes a valid tree from
//! `tree-validation.json`, breaks one thing, and checks the typed error names the check.

use std::path::PathBuf;

use canopy_engine::codec::{self, Node, RatchetTree as WireTree, VLBytes};
use canopy_engine::crypto::{CipherSuite, Provider};
use canopy_engine::tree::{RatchetTree, TreeError};
use canopy_engine::Error;
use serde_json::Value;

/// (wire tree, group id) of every suite-1 case.
fn suite1_trees() -> Vec<(WireTree, Vec<u8>)> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test_vectors/mls/tree-validation.json");
    let json: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
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

fn validate(wire: WireTree, group_id: &[u8]) -> Result<Vec<u8>, Error> {
    let provider = Provider::new(CipherSuite::from_u16(1).unwrap());
    let mut tree = RatchetTree::from_wire(wire, provider.hash_len())?;
    tree.validate(&provider, group_id)
}

#[test]
fn every_valid_tree_validates() {
    let trees = suite1_trees();
    assert_eq!(trees.len(), 14);
    for (wire, gid) in trees {
        validate(wire, &gid).unwrap();
    }
}

#[test]
fn corrupted_parent_hash_is_rejected() {
    let mut tried = 0;
    for (wire, gid) in suite1_trees() {
        for i in 0..wire.0.len() {
            let mut bad = wire.clone();
            let Some(Some(Node::Parent(p))) = bad.0.get_mut(i) else {
                continue;
            };
            let mut ph = p.parent_hash.as_slice().to_vec();
            if ph.is_empty() {
                ph.push(0);
            } else {
                ph[0] ^= 1;
            }
            p.parent_hash = VLBytes::new(ph);
            let err = validate(bad, &gid).unwrap_err();
            assert!(
                matches!(err, Error::InvalidTree(TreeError::ParentHashInvalid { .. })),
                "node {i}: {err}"
            );
            tried += 1;
        }
    }
    assert!(tried > 50, "only {tried} parent nodes mutated");
}

#[test]
fn corrupted_leaf_signature_is_rejected() {
    let (wire, gid) = suite1_trees().remove(3);
    let mut bad = wire.clone();
    let Some(Some(Node::Leaf(l))) = bad.0.get_mut(2) else {
        panic!("leaf 1 blank")
    };
    let mut sig = l.signature.as_slice().to_vec();
    sig[5] ^= 0x40;
    l.signature = VLBytes::new(sig);
    assert!(matches!(validate(bad, &gid).unwrap_err(), Error::Crypto(_)));
    // The wrong group id breaks every commit-sourced leaf's signature.
    assert!(matches!(
        validate(wire, b"another group").unwrap_err(),
        Error::Crypto(_)
    ));
}

#[test]
fn duplicate_keys_are_rejected() {
    let (wire, gid) = suite1_trees().remove(3);
    let leaf = |w: &WireTree, i: usize| match &w.0[i] {
        Some(Node::Leaf(l)) => l.clone(),
        _ => panic!("not a leaf"),
    };
    let mut bad = wire.clone();
    let mut l1 = leaf(&bad, 2);
    l1.encryption_key = leaf(&bad, 0).encryption_key;
    bad.0[2] = Some(Node::Leaf(l1));
    assert!(matches!(
        validate(bad, &gid).unwrap_err(),
        Error::InvalidTree(TreeError::DuplicateEncryptionKey { .. })
    ));
    let mut bad = wire.clone();
    let mut l1 = leaf(&bad, 2);
    l1.signature_key = leaf(&bad, 0).signature_key;
    bad.0[2] = Some(Node::Leaf(l1));
    assert!(matches!(
        validate(bad, &gid).unwrap_err(),
        Error::InvalidTree(TreeError::DuplicateSignatureKey { .. })
    ));
}

#[test]
fn structural_errors_are_typed() {
    let (wire, _) = suite1_trees().remove(0);
    let mut trailing_blank = wire.clone();
    trailing_blank.0.push(None);
    assert_eq!(
        RatchetTree::from_wire(trailing_blank, 32).unwrap_err(),
        TreeError::LastNodeBlank
    );
    assert_eq!(
        RatchetTree::from_wire(WireTree(vec![]), 32).unwrap_err(),
        TreeError::Empty
    );
    // A list ending in a parent (found by the tree_from_wire_validate fuzz target, which
    // round-trips every tree it builds): the tree is extended to the right with a blank leaf,
    // never cut before the parent. Before, a blank leaf and a parent became a one-leaf tree
    // with the parent dropped.
    let Some(Some(Node::Leaf(first))) = wire.0.first().cloned() else {
        panic!("the first node of the test tree is a leaf");
    };
    let Some(parent) = wire
        .0
        .iter()
        .find(|n| matches!(n, Some(Node::Parent(_))))
        .cloned()
    else {
        panic!("the test tree has a parent node");
    };
    for nodes in [
        vec![None, parent.clone()],
        vec![Some(Node::Leaf(first)), parent.clone()],
    ] {
        let tree = RatchetTree::from_wire(WireTree(nodes.clone()), 32).unwrap();
        assert_eq!(tree.n_leaves(), 2);
        assert_eq!(tree.to_wire(), WireTree(nodes));
    }
    let mut swapped = wire.clone();
    swapped.0.swap(0, 1);
    assert!(matches!(
        RatchetTree::from_wire(swapped, 32).unwrap_err(),
        TreeError::WrongNodeType { .. }
    ));
}

#[test]
fn unmerged_leaf_rules_are_enforced() {
    // The last suite-1 case has unmerged leaves; remove one from a list to break §12.4.3.1 or
    // the parent-hash condition on resolutions.
    let (wire, gid) = suite1_trees().pop().unwrap();
    let mut changed = 0;
    for i in 0..wire.0.len() {
        let mut bad = wire.clone();
        let Some(Some(Node::Parent(p))) = bad.0.get_mut(i) else {
            continue;
        };
        if p.unmerged_leaves.is_empty() {
            continue;
        }
        p.unmerged_leaves.push(u32::MAX);
        let e = validate(bad, &gid).unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidTree(TreeError::BadUnmergedLeaf { leaf: u32::MAX, .. })
            ),
            "node {i}: {e:?}"
        );
        changed += 1;
    }
    assert!(changed > 0, "no node with unmerged leaves in the last case");
}
