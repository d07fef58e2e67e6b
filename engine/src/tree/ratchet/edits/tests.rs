//! `reserve_leaves` reserves exactly what the adds need and changes nothing else; the
//! credential-type counts follow every edit.

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

/// The credential types the tree reports are those a scan of its leaves finds, after adds,
/// updates, removes (with truncation), a rollback and a redo, with a second credential type
/// coming and going.
#[test]
fn credential_types_follow_every_edit() {
    let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let x509 = |i: u32| {
        let mut l = leaf(&p, i);
        l.credential = crate::codec::Credential::X509 {
            certificates: vec![crate::codec::Certificate {
                cert_data: vec![i as u8; 20].into(),
            }],
        };
        l
    };
    let scan = |t: &RatchetTree| {
        let mut types: Vec<u16> = t.leaves().map(|(_, l)| l.credential_type()).collect();
        types.sort_unstable();
        types.dedup();
        types
    };
    let check = |t: &RatchetTree, expected: &[u16]| {
        assert_eq!(t.credential_types().collect::<Vec<_>>(), expected);
        assert_eq!(scan(t), expected);
    };
    let mut t = RatchetTree::new(&leaf(&p, 0), p.hash_len()).unwrap();
    for i in 1..6 {
        t.add_leaf(&leaf(&p, i)).unwrap();
    }
    check(&t, &[1]);
    let a = t.add_leaf(&x509(6)).unwrap();
    let b = t.add_leaf(&x509(7)).unwrap();
    check(&t, &[1, 2]);
    t.remove_leaf(a).unwrap();
    check(&t, &[1, 2]);
    t.update_leaf(b, &leaf(&p, 8)).unwrap();
    check(&t, &[1]);
    t.begin_journal().unwrap();
    t.update_leaf(LeafIndex(1), &x509(9)).unwrap();
    t.remove_leaf(LeafIndex(2)).unwrap();
    check(&t, &[1, 2]);
    let redo = t.rollback_with_redo();
    check(&t, &[1]);
    t.redo(redo);
    check(&t, &[1, 2]);
    // Removing every leaf but the first truncates the tree; the counts go with the leaves.
    for l in 1..t.n_leaves() {
        if t.leaf(LeafIndex(l)).is_some() {
            t.remove_leaf(LeafIndex(l)).unwrap();
        }
    }
    check(&t, &[1]);
    assert_eq!(t.n_leaves(), 1);
}
