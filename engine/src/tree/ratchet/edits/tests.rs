//! `reserve_leaves` reserves exactly what the adds need and changes nothing else.

use super::*;
use crate::codec::{LeafNodeSourceData, Lifetime};
use crate::crypto::{CipherSuite, Provider};
use crate::key_package::signed_leaf_node;

fn leaf(p: &Provider, i: u32) -> LeafNode {
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&i.to_be_bytes());
    let (signer, _) = p.signature_key_pair_from_seed(&seed).unwrap();
    seed[31] = 1;
    let (_, enc) = p.derive_hpke_key_pair(&seed).unwrap();
    let lifetime = Lifetime {
        not_before: 0,
        not_after: u64::MAX,
    };
    signed_leaf_node(
        p,
        &signer,
        format!("m{i}").as_bytes(),
        enc,
        LeafNodeSourceData::KeyPackage { lifetime },
        None,
    )
    .unwrap()
}

fn capacities(t: &RatchetTree) -> [usize; 4] {
    [
        t.nodes.capacity(),
        t.filled.capacity(),
        t.hash_valid.capacity(),
        t.hashes.capacity(),
    ]
}

/// After `reserve_leaves(k)`, `k` adds never reallocate, and the tree is the one built
/// without the reservation: from a 1-leaf tree, from a full power-of-two tree, and from a
/// tree with blank leaves (which adds fill first).
#[test]
fn reserved_adds_do_not_reallocate_and_change_nothing() {
    let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let leaves: Vec<LeafNode> = (0..400).map(|i| leaf(&p, i)).collect();
    let hl = p.hash_len();
    let start_trees = |kind: u8| {
        let mut t = RatchetTree::new(&leaves[0], hl).unwrap();
        let n = match kind {
            0 => 1,
            1 => 64,
            _ => 100,
        };
        for l in &leaves[1..n] {
            t.add_leaf(l).unwrap();
        }
        if kind == 2 {
            for i in [3, 10, 11, 50, 99] {
                t.remove_leaf(LeafIndex(i)).unwrap();
            }
        }
        t
    };
    for kind in 0..3u8 {
        for k in [RESERVE_MIN_LEAVES, 100, 129, 290] {
            let mut plain = start_trees(kind);
            let mut reserved = start_trees(kind);
            reserved.reserve_leaves(k);
            let before = capacities(&reserved);
            for (a, l) in leaves[100..100 + k].iter().enumerate() {
                plain.add_leaf(l).unwrap();
                reserved.add_leaf(l).unwrap();
                assert_eq!(capacities(&reserved), before, "kind {kind} k {k} add {a}");
            }
            assert!(reserved.nodes.len() * 2 > before[0], "over-reserved");
            assert_eq!(reserved.to_wire(), plain.to_wire(), "kind {kind} k {k}");
            assert_eq!(
                reserved.tree_hash(&p).unwrap(),
                plain.tree_hash(&p).unwrap()
            );
        }
    }
}
