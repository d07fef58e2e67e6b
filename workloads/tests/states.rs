//! Generated states: full RFC 9420 validation, member keys, determinism and the expected
//! structure of each kind, at sizes on structural boundaries; and validation catching a
//! corrupted state.

use std::collections::BTreeSet;

use canopy_engine::codec::{LeafNodeSourceData, LeafNodeTbs, Node, ParentHashInput, VLBytes};
use canopy_engine::crypto::CipherSuite;
use canopy_engine::key_package::{check_lifetime, Clock};
use canopy_engine::tree::{math, LeafIndex, NodeIndex, RatchetTree, TreeError};
use canopy_engine::Error;
use canopy_workloads::states::{
    generate, GeneratedState, StateConfig, StateKind, ADD_BATCH, REMOVE_BATCH,
};

/// A fixed clock, so the tests do not depend on the day they run.
const NOW: u64 = 1_750_000_000;
const SEED: u64 = 0x5eed;

fn config(kind: StateKind, members: u32, seed: u64) -> StateConfig {
    StateConfig {
        now: NOW,
        ..StateConfig::new(kind, members, seed)
    }
}

fn wire(tree: &RatchetTree) -> Vec<u8> {
    canopy_engine::codec::encode(&tree.to_wire()).unwrap()
}

fn parents(tree: &RatchetTree) -> Vec<NodeIndex> {
    (0..tree.width())
        .map(NodeIndex)
        .filter(|&x| tree.parent_node(x).is_some())
        .collect()
}

fn unmerged_entries(tree: &RatchetTree) -> usize {
    parents(tree)
        .iter()
        .map(|&x| tree.parent_node(x).unwrap().decode().unmerged_leaves.len())
        .sum()
}

fn is_commit_leaf(tree: &RatchetTree, leaf: LeafIndex) -> bool {
    matches!(
        tree.leaf(leaf).unwrap().decode().leaf_node_source,
        LeafNodeSourceData::Commit { .. }
    )
}

/// Full validation (the tree hash it returns is the state's), lifetimes at the configured
/// clock, and the GroupContext.
fn check_valid(st: &GeneratedState) {
    let mut tree = st.tree.clone();
    tree.check_unmerged_leaves().unwrap();
    tree.check_key_uniqueness().unwrap();
    let th = tree.validate(&st.provider, &st.group_id).unwrap();
    assert_eq!(th, st.tree_hash);
    assert_eq!(
        st.tree.clone().tree_hash(&st.provider).unwrap(),
        st.tree_hash
    );
    for (_, leaf) in st.tree.leaves() {
        check_lifetime(&leaf.decode(), Clock::Fixed(st.config.now)).unwrap();
    }
    let gc = st.group_context();
    assert_eq!(gc.epoch, st.epoch);
    assert_eq!(gc.tree_hash.as_slice(), st.tree_hash.as_slice());
    assert_eq!(gc.group_id.as_slice(), st.group_id.as_slice());
    assert_eq!(st.confirmed_transcript_hash.len(), st.provider.hash_len());
    assert_eq!(st.joiner_secret.len(), st.provider.hash_len());
}

/// Every member's keys match the tree: leaf key, signature key, and exactly the non-blank
/// direct-path nodes that do not list the member as unmerged.
fn check_member_keys(st: &GeneratedState) {
    let p = &st.provider;
    let tree = &st.tree;
    for m in st.members() {
        let keys = st.member_keys(m).unwrap();
        assert_eq!(keys.leaf, m);
        let leaf = tree.leaf(m).unwrap().decode();
        assert_eq!(
            p.hpke_public_key(&keys.leaf_key).unwrap(),
            leaf.encryption_key.as_slice()
        );
        assert_eq!(keys.signer.public_key(), leaf.signature_key.as_slice());
        let expected: Vec<NodeIndex> = math::direct_path(m.node(), tree.n_leaves())
            .into_iter()
            .filter(|&x| {
                tree.parent_node(x)
                    .is_some_and(|pn| !pn.unmerged_leaves().contains(m.0))
            })
            .collect();
        let got: Vec<NodeIndex> = keys.path_keys.iter().map(|(x, _)| *x).collect();
        assert_eq!(got, expected, "path keys of {m:?}");
        for (x, sk) in &keys.path_keys {
            assert_eq!(
                Some(p.hpke_public_key(sk).unwrap().as_slice()),
                tree.encryption_key(*x),
                "key of {x:?} held by {m:?}"
            );
        }
    }
    let outside = LeafIndex(tree.n_leaves());
    assert!(st.member_keys(outside).is_err());
}

/// Same seed, same bytes; another seed, other bytes.
fn check_determinism(st: &GeneratedState) {
    let again = generate(&st.config).unwrap();
    assert_eq!(wire(&again.tree), wire(&st.tree));
    assert_eq!(again.tree_hash, st.tree_hash);
    assert_eq!(again.group_id, st.group_id);
    assert_eq!(again.epoch, st.epoch);
    assert_eq!(again.joiner_secret, st.joiner_secret);
    assert_eq!(
        again.confirmed_transcript_hash,
        st.confirmed_transcript_hash
    );
    let other = generate(&StateConfig {
        seed: st.config.seed + 1,
        ..st.config
    })
    .unwrap();
    assert_ne!(wire(&other.tree), wire(&st.tree));
    assert_ne!(other.joiner_secret, st.joiner_secret);
}

fn removed(n: u32, percent: u32) -> u32 {
    n * percent / 100
}

fn check_structure(st: &GeneratedState) {
    let n = st.config.members;
    let tree = &st.tree;
    let members: Vec<u32> = st.members().map(|l| l.0).collect();
    match st.config.kind {
        StateKind::Populated => {
            assert_eq!(members, (0..n).collect::<Vec<_>>());
            assert_eq!(tree.n_leaves(), n.next_power_of_two());
            // A parent is set iff a member sits in its right subtree: all of them when n is a
            // power of two, n - 1 in every case.
            for x in (1..tree.width()).step_by(2).map(NodeIndex) {
                let right_first_leaf = x.0 / 2 + 1;
                assert_eq!(tree.is_blank(x), right_first_leaf >= n, "{x:?}");
            }
            assert_eq!(parents(tree).len() as u32, n - 1);
            if n.is_power_of_two() {
                assert_eq!(parents(tree).len() as u32, tree.n_leaves() - 1);
            }
            // Chain bottoms: left children under a set parent.
            for l in 0..n {
                let bottom = l % 2 == 0 && l + 1 < n;
                assert_eq!(is_commit_leaf(tree, LeafIndex(l)), bottom, "leaf {l}");
            }
            assert_eq!(unmerged_entries(tree), 0);
            assert_eq!(st.epoch, 1 + u64::from(n / 2));
        }
        StateKind::Fresh => {
            assert_eq!(members, (0..n).collect::<Vec<_>>());
            let path = math::direct_path(NodeIndex(0), tree.n_leaves());
            assert_eq!(parents(tree), {
                let mut p = path.clone();
                p.sort();
                p
            });
            for l in 0..n {
                assert_eq!(is_commit_leaf(tree, LeafIndex(l)), l == 0 && n > 1);
            }
            assert_eq!(unmerged_entries(tree), 0);
            assert_eq!(st.epoch, 1);
        }
        StateKind::Removes10 | StateKind::Removes50 => {
            let percent = if st.config.kind == StateKind::Removes10 {
                10
            } else {
                50
            };
            let r = removed(n, percent);
            assert_eq!(members.len() as u32, n - r);
            let commits = u64::from(r).div_ceil(REMOVE_BATCH as u64);
            assert_eq!(st.epoch, 1 + u64::from(n / 2) + commits);
            assert_eq!(u64::from(st.remove_commits), commits);
            assert_eq!(unmerged_entries(tree), 0);
            // Blank leaves lie below the last member only (the tree is truncated).
            let last = *members.last().unwrap();
            assert!(tree.n_leaves() == 1 || last >= tree.n_leaves() / 2);
            if r > 0 {
                // Removals blanked parents: fewer than a populated tree of this many members.
                assert!((parents(tree).len() as u32) < n - 1);
            }
        }
        StateKind::Unmerged => {
            // The refill takes exactly the leaves removes50 blanked: the leftmost blanks.
            assert_eq!(members, (0..n).collect::<Vec<_>>());
            let before = generate(&StateConfig {
                kind: StateKind::Removes50,
                ..st.config
            })
            .unwrap();
            let added: BTreeSet<u32> = (0..n)
                .filter(|&l| before.tree.leaf(LeafIndex(l)).is_none())
                .collect();
            assert_eq!(added.len() as u32, removed(n, 50));
            // Add-only commits change no parent node but its unmerged leaves: each lists the
            // added leaves below it.
            assert_eq!(parents(tree), parents(&before.tree));
            for x in parents(tree) {
                let now = tree.parent_node(x).unwrap().decode();
                let was = before.tree.parent_node(x).unwrap().decode();
                assert_eq!(now.encryption_key, was.encryption_key);
                assert_eq!(now.parent_hash, was.parent_hash);
                let expected: Vec<u32> = added
                    .iter()
                    .copied()
                    .filter(|&l| math::in_subtree(LeafIndex(l).node(), x))
                    .collect();
                assert_eq!(now.unmerged_leaves, expected, "{x:?}");
            }
            for &l in &added {
                assert!(!is_commit_leaf(tree, LeafIndex(l)));
            }
            let adds = u64::from(removed(n, 50)).div_ceil(ADD_BATCH as u64);
            assert_eq!(st.epoch, before.epoch + adds);
            if n >= 5 {
                assert!(unmerged_entries(tree) > 0);
            }
        }
    }
}

fn check(kind: StateKind, members: u32) {
    let st = generate(&config(kind, members, SEED)).unwrap();
    assert_eq!(st.config.kind, kind);
    check_valid(&st);
    check_structure(&st);
    check_member_keys(&st);
    check_determinism(&st);
}

macro_rules! kind_tests {
    ($($module:ident => $kind:expr),* $(,)?) => {$(
        mod $module {
            use super::*;
            #[test] fn m1() { check($kind, 1) }
            #[test] fn m2() { check($kind, 2) }
            #[test] fn m3() { check($kind, 3) }
            #[test] fn m4() { check($kind, 4) }
            #[test] fn m5() { check($kind, 5) }
            #[test] fn m7() { check($kind, 7) }
            #[test] fn m8() { check($kind, 8) }
            #[test] fn m9() { check($kind, 9) }
            #[test] fn m31() { check($kind, 31) }
            #[test] fn m32() { check($kind, 32) }
            #[test] fn m33() { check($kind, 33) }
            #[test] fn m100() { check($kind, 100) }
            #[test] fn m1000() { check($kind, 1000) }
        }
    )*};
}

kind_tests! {
    populated => StateKind::Populated,
    removes10 => StateKind::Removes10,
    removes50 => StateKind::Removes50,
    fresh => StateKind::Fresh,
    unmerged => StateKind::Unmerged,
}

#[test]
fn kind_names_round_trip() {
    for &k in StateKind::ALL {
        assert_eq!(k.to_string().parse::<StateKind>().unwrap(), k);
    }
    assert_eq!(
        "removes10".parse::<StateKind>().unwrap(),
        StateKind::Removes10
    );
    assert!("removes".parse::<StateKind>().is_err());
}

#[test]
fn zero_members_is_an_error() {
    assert!(generate(&config(StateKind::Populated, 0, SEED)).is_err());
}

/// Every kind generates a valid state in every suite (its KEM's keys, its signature scheme,
/// its hash length), different from suite 1's.
#[test]
fn every_suite_states_validate() {
    let mut checked = 0;
    for &suite in &CipherSuite::ALL[1..] {
        for &kind in StateKind::ALL {
            let cfg = StateConfig {
                suite,
                ..config(kind, 33, SEED)
            };
            let st = generate(&cfg).unwrap();
            assert_eq!(st.provider.suite(), suite);
            assert_eq!(st.group_context().cipher_suite.0, suite.id());
            check_valid(&st);
            check_member_keys(&st);
            let suite1 = generate(&config(kind, 33, SEED)).unwrap();
            assert_ne!(wire(&st.tree), wire(&suite1.tree));
            checked += 1;
        }
    }
    assert_eq!(checked, (CipherSuite::ALL.len() - 1) * StateKind::ALL.len());
    assert!(checked >= 6 * 5);
}

/// The output does not depend on the number of rayon threads.
#[test]
fn output_is_independent_of_thread_count() {
    for kind in [StateKind::Populated, StateKind::Unmerged] {
        let cfg = config(kind, 300, SEED);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let serial = pool.install(|| generate(&cfg)).unwrap();
        let parallel = generate(&cfg).unwrap();
        assert_eq!(wire(&serial.tree), wire(&parallel.tree));
    }
}

/// Another `now` changes the lifetimes and nothing else.
#[test]
fn now_sets_the_lifetimes() {
    let a = generate(&config(StateKind::Fresh, 9, SEED)).unwrap();
    let b = generate(&StateConfig {
        now: NOW + 86_400,
        ..config(StateKind::Fresh, 9, SEED)
    })
    .unwrap();
    assert_ne!(wire(&a.tree), wire(&b.tree));
    let leaf = b.tree.leaf(LeafIndex(3)).unwrap().decode();
    assert!(check_lifetime(&leaf, Clock::Fixed(NOW + 86_400)).is_ok());
    for (x, _) in a.tree.leaves() {
        assert_eq!(
            a.tree.leaf(x).unwrap().decode().encryption_key,
            b.tree.leaf(x).unwrap().decode().encryption_key
        );
    }
}

// -------------------------------------------------------------------------------------------
// Validation has teeth

fn parent_hash_flipped(tree: &RatchetTree, x: NodeIndex) -> RatchetTree {
    let mut t = tree.clone();
    let mut p = t.parent_node(x).unwrap().decode();
    let mut ph = p.parent_hash.as_slice().to_vec();
    ph[0] ^= 1;
    p.parent_hash = VLBytes::from(ph);
    t.set_node(x, Some(&Node::Parent(p))).unwrap();
    t
}

fn validate(st: &GeneratedState, mut tree: RatchetTree) -> Result<Vec<u8>, Error> {
    tree.validate(&st.provider, &st.group_id)
}

#[test]
fn a_flipped_parent_hash_is_rejected() {
    let st = generate(&config(StateKind::Populated, 33, SEED)).unwrap();
    // Node 1 sits in leaf 0's chain: its parent hash links it to node 3, and leaf 0's parent
    // hash (computed over node 1's) links leaf 0 to node 1. Both links break.
    let bad = parent_hash_flipped(&st.tree, NodeIndex(1));
    assert!(matches!(
        validate(&st, bad),
        Err(Error::InvalidTree(TreeError::ParentHashInvalid { .. }))
    ));
    // Same in a churned tree: every parent hash that covers a node.
    let st = generate(&config(StateKind::Removes10, 100, SEED)).unwrap();
    let mut rejected = 0;
    for x in parents(&st.tree) {
        if st
            .tree
            .parent_node(x)
            .unwrap()
            .decode()
            .parent_hash
            .as_slice()
            .is_empty()
        {
            continue;
        }
        if validate(&st, parent_hash_flipped(&st.tree, x)).is_err() {
            rejected += 1;
        }
    }
    assert!(rejected > 0);
}

fn parent_hash(st: &GeneratedState, tree: &mut RatchetTree, p: NodeIndex, s: NodeIndex) -> Vec<u8> {
    let pn = tree.parent_node(p).unwrap().decode();
    let sibling = tree.node_tree_hash(s, &st.provider).unwrap();
    st.provider.hash(
        &canopy_engine::codec::encode(&ParentHashInput {
            encryption_key: pn.encryption_key.as_slice(),
            parent_hash: pn.parent_hash.as_slice(),
            original_sibling_tree_hash: &sibling,
        })
        .unwrap(),
    )
}

/// Set the parent hash of `x` (a parent node, or a commit leaf, re-signed) to the parent hash
/// of `p` with copath child `s`.
fn relink(st: &GeneratedState, tree: &mut RatchetTree, x: NodeIndex, p: NodeIndex, s: NodeIndex) {
    let ph = VLBytes::from(parent_hash(st, tree, p, s));
    let node = match tree.node(x).unwrap().to_node() {
        Node::Parent(mut pn) => {
            pn.parent_hash = ph;
            Node::Parent(pn)
        }
        Node::Leaf(mut leaf) => {
            let index = x.leaf().unwrap();
            leaf.leaf_node_source = LeafNodeSourceData::Commit { parent_hash: ph };
            let tbs = LeafNodeTbs::in_group(&leaf, &st.group_id, index.0);
            let signer = st.member_keys(index).unwrap().signer;
            leaf.signature = st
                .provider
                .sign_with_label(
                    &signer,
                    b"LeafNodeTBS",
                    &canopy_engine::codec::encode(&tbs).unwrap(),
                )
                .unwrap()
                .into();
            Node::Leaf(leaf)
        }
    };
    tree.set_node(x, Some(&node)).unwrap();
}

/// A chain top's parent hash is stale by construction (see the module documentation of
/// `states`): RFC 9420 §7.9.2 never checks it against the node above. It is an input of the
/// chain below it and of the tree hash the chain to its left hashes as a sibling, so
/// changing it breaks those; recompute both chains and any value validates.
#[test]
fn a_chain_top_parent_hash_is_free() {
    let st = generate(&config(StateKind::Populated, 4, SEED)).unwrap();
    // Node 5 (leaves 2..3) tops leaf 2's chain: a right child under the root, node 3, which
    // leaf 0's chain (node 1, leaf 0) covers.
    let top = NodeIndex(5);
    let p = st.tree.parent_node(top).unwrap().decode();
    assert_eq!(p.parent_hash.as_slice().len(), st.provider.hash_len());
    let mut tree = parent_hash_flipped(&st.tree, top);
    assert!(validate(&st, tree.clone()).is_err());

    relink(&st, &mut tree, NodeIndex(4), top, NodeIndex(6));
    relink(&st, &mut tree, NodeIndex(1), NodeIndex(3), top);
    relink(&st, &mut tree, NodeIndex(0), NodeIndex(1), NodeIndex(2));
    validate(&st, tree).unwrap();

    // The root's parent hash is empty.
    let root = st.tree.root();
    assert!(st
        .tree
        .parent_node(root)
        .unwrap()
        .decode()
        .parent_hash
        .as_slice()
        .is_empty());
}

#[test]
fn a_corrupted_leaf_signature_is_rejected() {
    let st = generate(&config(StateKind::Fresh, 9, SEED)).unwrap();
    for l in [0, 5] {
        let mut tree = st.tree.clone();
        let mut leaf = tree.leaf(LeafIndex(l)).unwrap().decode();
        let mut sig = leaf.signature.as_slice().to_vec();
        sig[10] ^= 1;
        leaf.signature = VLBytes::from(sig);
        tree.set_node(LeafIndex(l).node(), Some(&Node::Leaf(Box::new(leaf))))
            .unwrap();
        assert!(matches!(validate(&st, tree), Err(Error::Crypto(_))));
    }
}

#[test]
fn a_missing_unmerged_leaf_is_rejected() {
    let st = generate(&config(StateKind::Unmerged, 100, SEED)).unwrap();
    // A node listing unmerged leaves, with a non-blank ancestor listing them too.
    let x = parents(&st.tree)
        .into_iter()
        .find(|&x| {
            let pn = st.tree.parent_node(x).unwrap().decode();
            !pn.unmerged_leaves.is_empty()
                && math::direct_path(x, st.tree.n_leaves())
                    .iter()
                    .any(|&a| st.tree.parent_node(a).is_some())
        })
        .expect("a nested node with unmerged leaves");
    let mut tree = st.tree.clone();
    let mut pn = tree.parent_node(x).unwrap().decode();
    pn.unmerged_leaves.remove(0);
    tree.set_node(x, Some(&Node::Parent(pn))).unwrap();
    assert!(validate(&st, tree).is_err());
}

#[test]
fn a_duplicate_encryption_key_is_rejected() {
    let st = generate(&config(StateKind::Populated, 8, SEED)).unwrap();
    let mut tree = st.tree.clone();
    let mut pn = tree.parent_node(NodeIndex(5)).unwrap().decode();
    pn.encryption_key = tree
        .parent_node(NodeIndex(9))
        .unwrap()
        .decode()
        .encryption_key
        .clone();
    tree.set_node(NodeIndex(5), Some(&Node::Parent(pn)))
        .unwrap();
    assert!(matches!(
        validate(&st, tree),
        Err(Error::InvalidTree(TreeError::DuplicateEncryptionKey { .. }))
    ));
}
