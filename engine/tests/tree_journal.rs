//! The ratchet tree's journal restores the tree exactly (nodes, width, tree hash, key index),
//! and the blank-leaf hint and key index agree with a plain scan after arbitrary edits.

use canopy_engine::codec::{self, LeafNodeSourceData, Lifetime, Node, ParentNode};
use canopy_engine::crypto::{CipherSuite, Provider};
use canopy_engine::key_package::signed_leaf_node;
use canopy_engine::tree::{LeafIndex, NodeIndex, RatchetTree};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn provider() -> Provider {
    Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519)
}

fn leaf(p: &Provider, i: u32) -> codec::LeafNode {
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

fn parent(p: &Provider, tag: u32) -> Node {
    let mut seed = [9u8; 32];
    seed[..4].copy_from_slice(&tag.to_be_bytes());
    let (_, enc) = p.derive_hpke_key_pair(&seed).unwrap();
    Node::Parent(ParentNode {
        encryption_key: codec::HpkePublicKey(enc.into()),
        parent_hash: Vec::new().into(),
        unmerged_leaves: Vec::new(),
    })
}

fn wire(t: &RatchetTree) -> Vec<u8> {
    codec::encode(&t.to_wire()).unwrap()
}

/// Apply one random edit (add, remove, set a parent node).
fn random_edit(p: &Provider, t: &mut RatchetTree, rng: &mut ChaCha8Rng, counter: &mut u32) {
    *counter += 1;
    match rng.random_range(0..3) {
        0 => {
            t.add_leaf(&leaf(p, *counter)).unwrap();
        }
        1 => {
            let occupied: Vec<LeafIndex> = t.leaves().map(|(i, _)| i).collect();
            if occupied.len() > 1 {
                let l = occupied[rng.random_range(0..occupied.len())];
                t.remove_leaf(l).unwrap();
            }
        }
        _ => {
            if t.n_leaves() > 1 {
                let x = NodeIndex(2 * rng.random_range(0..t.n_leaves() - 1) + 1);
                t.set_node(x, Some(&parent(p, *counter + 10_000))).unwrap();
            }
        }
    }
}

#[test]
fn rollback_restores_everything() {
    let p = provider();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut checked = 0;
    for start_size in [1u32, 2, 3, 4, 5, 8, 9, 17] {
        let mut t = RatchetTree::new(&leaf(&p, 0), p.hash_len()).unwrap();
        let mut counter = 100 * start_size;
        for i in 1..start_size {
            t.add_leaf(&leaf(&p, i)).unwrap();
        }
        for _ in 0..5 {
            random_edit(&p, &mut t, &mut rng, &mut counter);
        }
        let before = wire(&t);
        let hash_before = t.tree_hash(&p).unwrap();
        let n_before = t.n_leaves();
        let key = t.leaf(LeafIndex(0)).unwrap().signature_key().to_vec();
        let sig_count = t.signature_key_count(&key);

        t.begin_journal().unwrap();
        assert!(t.begin_journal().is_err(), "nested journals are refused");
        for _ in 0..rng.random_range(1..12) {
            random_edit(&p, &mut t, &mut rng, &mut counter);
        }
        t.tree_hash(&p).unwrap();
        t.rollback();

        assert!(!t.journal_open());
        assert_eq!(wire(&t), before);
        assert_eq!(t.n_leaves(), n_before);
        assert_eq!(t.tree_hash(&p).unwrap(), hash_before);
        assert_eq!(t.signature_key_count(&key), sig_count);
        // The key index matches a fresh scan.
        let mut fresh = RatchetTree::from_wire(t.to_wire(), p.hash_len()).unwrap();
        for (_, l) in t.clone().leaves() {
            assert_eq!(
                t.encryption_key_count(l.encryption_key()),
                fresh.encryption_key_count(l.encryption_key())
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 8);
}

#[test]
fn committed_journal_keeps_edits_and_hint_finds_leftmost_blank() {
    let p = provider();
    let mut t = RatchetTree::new(&leaf(&p, 0), p.hash_len()).unwrap();
    for i in 1..10 {
        assert_eq!(t.add_leaf(&leaf(&p, i)).unwrap(), LeafIndex(i));
    }
    t.begin_journal().unwrap();
    t.remove_leaf(LeafIndex(6)).unwrap();
    t.remove_leaf(LeafIndex(2)).unwrap();
    t.commit_journal();
    assert!(t.leaf(LeafIndex(2)).is_none());
    // Leftmost blank first, then the next, then extend past the end.
    assert_eq!(t.add_leaf(&leaf(&p, 100)).unwrap(), LeafIndex(2));
    assert_eq!(t.add_leaf(&leaf(&p, 101)).unwrap(), LeafIndex(6));
    assert_eq!(t.add_leaf(&leaf(&p, 102)).unwrap(), LeafIndex(10));
    let new = leaf(&p, 103);
    assert_eq!(t.signature_key_count(new.signature_key.as_slice()), 0);
    t.add_leaf(&new).unwrap();
    assert_eq!(t.signature_key_count(new.signature_key.as_slice()), 1);
    assert_eq!(t.encryption_key_count(new.encryption_key.as_slice()), 1);
}

/// Empty-resolution answers (kept as per-subtree counts of non-blank nodes) against a plain
/// scan of every subtree, after every edit, after rollbacks (which shrink and regrow the
/// tree) and on a tree rebuilt from the wire.
#[test]
fn empty_resolutions_match_a_subtree_scan() {
    fn scan_empty(t: &RatchetTree, x: NodeIndex) -> bool {
        let half = (1u32 << x.level()) - 1;
        (x.0 - half..=x.0 + half).all(|i| t.node(NodeIndex(i)).is_none())
    }
    fn check(t: &RatchetTree) -> usize {
        let width = 2 * t.n_leaves() - 1;
        for i in 0..width {
            let x = NodeIndex(i);
            assert_eq!(
                t.resolution_is_empty(x),
                scan_empty(t, x),
                "node {i} of {width}"
            );
        }
        width as usize
    }
    let p = provider();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut counter = 0;
    let mut nodes_checked = 0;
    for start_size in [1u32, 2, 3, 5, 8, 9, 16, 17, 33] {
        let mut t = RatchetTree::new(&leaf(&p, 0), p.hash_len()).unwrap();
        for i in 1..start_size {
            t.add_leaf(&leaf(&p, 1000 + i)).unwrap();
        }
        nodes_checked += check(&t);
        for round in 0..6 {
            let journal = round % 2 == 1;
            if journal {
                t.begin_journal().unwrap();
            }
            for _ in 0..rng.random_range(1..10) {
                random_edit(&p, &mut t, &mut rng, &mut counter);
                nodes_checked += check(&t);
            }
            if journal {
                t.rollback();
                nodes_checked += check(&t);
            }
        }
        let rebuilt = RatchetTree::from_wire(t.to_wire(), p.hash_len()).unwrap();
        nodes_checked += check(&rebuilt);
    }
    assert!(nodes_checked > 1000, "checked {nodes_checked} nodes");
}

/// Truncation after a Remove (which skips entirely blank subtrees using the per-subtree
/// counts) against the plain rule: while no leaf of the right half is non-blank, halve the
/// tree. Random trees include non-blank parents over blank leaves (from `set_node`), so the
/// right half can be non-blank without holding a member; removes run with and without an
/// open journal, and after rollbacks.
#[test]
fn truncation_matches_a_leaf_scan() {
    /// The leaf count the plain rule leaves after removing `removed` from a tree of `n`
    /// leaves whose non-blank leaves are `occupied`.
    fn scan_truncate(mut n: u32, occupied: &[u32], removed: u32) -> u32 {
        let non_blank = |l: u32| l != removed && occupied.contains(&l);
        while n > 1 {
            let half = n / 2;
            if (half..n).any(non_blank) {
                break;
            }
            n = half;
        }
        n
    }
    let p = provider();
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let mut counter = 0;
    let (mut shrunk, mut kept) = (0, 0);
    for start_size in [2u32, 3, 4, 5, 8, 9, 16, 17, 33] {
        let mut t = RatchetTree::new(&leaf(&p, 0), p.hash_len()).unwrap();
        for i in 1..start_size {
            t.add_leaf(&leaf(&p, 2000 + i)).unwrap();
        }
        for round in 0..8 {
            let journal = round % 3 == 1;
            if journal {
                t.begin_journal().unwrap();
            }
            for _ in 0..rng.random_range(1..8) {
                random_edit(&p, &mut t, &mut rng, &mut counter);
                let occupied: Vec<u32> = t.leaves().map(|(i, _)| i.0).collect();
                if occupied.len() < 2 {
                    continue;
                }
                let removed = occupied[rng.random_range(0..occupied.len())];
                let n = t.n_leaves();
                let expected = scan_truncate(n, &occupied, removed);
                t.remove_leaf(LeafIndex(removed)).unwrap();
                assert_eq!(t.n_leaves(), expected, "removed {removed} of {n} leaves");
                if expected < n {
                    shrunk += 1;
                } else {
                    kept += 1;
                }
            }
            if journal {
                t.rollback();
            }
        }
    }
    assert!(shrunk > 10 && kept > 10, "shrunk {shrunk}, kept {kept}");
}

/// Key counts from the key index (positions of key holders, confirmed against the nodes)
/// against a plain count over the nodes, after every edit, with repeated parent keys (the
/// index's list of further holders), across rollbacks and truncations.
#[test]
fn key_counts_match_a_node_scan() {
    fn scan(t: &RatchetTree, key: &[u8], signature: bool) -> u32 {
        (0..t.width())
            .filter_map(|i| t.node(NodeIndex(i)).map(|n| n.to_node()))
            .filter(|n| match n {
                Node::Leaf(l) if signature => l.signature_key.as_slice() == key,
                Node::Leaf(l) => l.encryption_key.as_slice() == key,
                Node::Parent(p) => !signature && p.encryption_key.as_slice() == key,
            })
            .count() as u32
    }
    fn check(t: &mut RatchetTree, p: &Provider) -> usize {
        let mut keys: Vec<(Vec<u8>, bool)> = (0..t.width())
            .filter_map(|i| t.node(NodeIndex(i)).map(|n| n.to_node()))
            .flat_map(|n| match n {
                Node::Leaf(l) => vec![
                    (l.encryption_key.as_slice().to_vec(), false),
                    (l.signature_key.as_slice().to_vec(), true),
                    // An encryption key asked as a signature key and the other way round.
                    (l.encryption_key.as_slice().to_vec(), true),
                    (l.signature_key.as_slice().to_vec(), false),
                ],
                Node::Parent(q) => vec![(q.encryption_key.as_slice().to_vec(), false)],
            })
            .collect();
        // Keys of parents that may have been overwritten or dropped, and of no node.
        for tag in 0..4 {
            if let Node::Parent(q) = parent(p, tag) {
                keys.push((q.encryption_key.as_slice().to_vec(), false));
            }
        }
        keys.push((vec![7; 32], false));
        for (key, signature) in &keys {
            let counted = if *signature {
                t.signature_key_count(key)
            } else {
                t.encryption_key_count(key)
            };
            assert_eq!(counted, scan(t, key, *signature));
        }
        keys.len()
    }
    let p = provider();
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let mut counter = 0;
    let (mut checked, mut repeated) = (0, 0);
    for start_size in [1u32, 2, 3, 5, 8, 9, 17] {
        let mut t = RatchetTree::new(&leaf(&p, 0), p.hash_len()).unwrap();
        for i in 1..start_size {
            t.add_leaf(&leaf(&p, 3000 + i)).unwrap();
        }
        checked += check(&mut t, &p);
        for round in 0..6 {
            let journal = round % 2 == 1;
            if journal {
                t.begin_journal().unwrap();
            }
            for _ in 0..rng.random_range(1..8) {
                if t.n_leaves() > 1 && rng.random_range(0..3) == 0 {
                    // A parent key from a small set, so keys repeat across nodes.
                    let x = NodeIndex(2 * rng.random_range(0..t.n_leaves() - 1) + 1);
                    t.set_node(x, Some(&parent(&p, rng.random_range(0..4))))
                        .unwrap();
                } else {
                    random_edit(&p, &mut t, &mut rng, &mut counter);
                }
                let Node::Parent(q) = parent(&p, 0) else {
                    unreachable!()
                };
                if scan(&t, q.encryption_key.as_slice(), false) > 1 {
                    repeated += 1;
                }
                checked += check(&mut t, &p);
            }
            if journal {
                t.rollback();
                checked += check(&mut t, &p);
            }
        }
    }
    assert!(
        checked > 1000 && repeated > 5,
        "checked {checked}, repeated {repeated}"
    );
}

/// `rollback_with_redo` restores the tree exactly as `rollback` does, and `redo` then gives
/// exactly the tree the edits made (wire bytes, width, tree hash, key counts), from trees of
/// several sizes with random edits that grow, shrink and rewrite the tree.
#[test]
fn redo_reapplies_exactly_what_was_rolled_back() {
    let p = provider();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut checked = 0;
    for start_size in [1u32, 2, 3, 4, 5, 8, 9, 17] {
        for _ in 0..4 {
            let mut t = RatchetTree::new(&leaf(&p, 0), p.hash_len()).unwrap();
            let mut counter = 1000 * start_size + checked;
            for i in 1..start_size {
                t.add_leaf(&leaf(&p, i)).unwrap();
            }
            for _ in 0..5 {
                random_edit(&p, &mut t, &mut rng, &mut counter);
            }
            let before = wire(&t);
            let hash_before = t.tree_hash(&p).unwrap();
            t.begin_journal().unwrap();
            for _ in 0..rng.random_range(1..12) {
                random_edit(&p, &mut t, &mut rng, &mut counter);
            }
            let after = wire(&t);
            let hash_after = t.tree_hash(&p).unwrap();
            let n_after = t.n_leaves();
            let redo = t.rollback_with_redo();
            assert!(!t.journal_open());
            assert_eq!(wire(&t), before);
            assert_eq!(t.tree_hash(&p).unwrap(), hash_before);
            t.redo(redo);
            assert_eq!(wire(&t), after);
            assert_eq!(t.n_leaves(), n_after);
            assert_eq!(t.tree_hash(&p).unwrap(), hash_after);
            let mut fresh = RatchetTree::from_wire(t.to_wire(), p.hash_len()).unwrap();
            for (_, l) in t.clone().leaves() {
                assert_eq!(
                    t.encryption_key_count(l.encryption_key()),
                    fresh.encryption_key_count(l.encryption_key())
                );
                assert_eq!(
                    t.signature_key_count(l.signature_key()),
                    fresh.signature_key_count(l.signature_key())
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 32);
}
