//! Tree validation split by subtree (the real cutoffs: these trees are large enough to split)
//! gives the same tree hash, or the same error, on the serial reference and on rayon, for the
//! generated states at structural boundaries (2^k and 2^k ± 1 members; blanks from removes;
//! unmerged leaves; the all-blank `fresh` tree) and for broken variants of them.

use canopy_engine::batch::Executor;
use canopy_engine::codec::{Node, RatchetTree as WireTree, VLBytes};
use canopy_engine::tree::RatchetTree;
use canopy_workloads::states::{generate, StateConfig, StateKind};

fn run(wire: &WireTree, hash_len: usize, gid: &[u8], executor: Executor) -> String {
    let provider = canopy_engine::crypto::Provider::new(
        canopy_engine::crypto::CipherSuite::from_u16(1).unwrap(),
    );
    let mut t = RatchetTree::from_wire(wire.clone(), hash_len).unwrap();
    format!("{:?}", t.validate_with(&provider, gid, executor))
}

fn flip(v: &VLBytes) -> VLBytes {
    let mut b = v.as_slice().to_vec();
    match b.first_mut() {
        Some(x) => *x ^= 1,
        None => b.push(0),
    }
    VLBytes::new(b)
}

#[test]
fn serial_and_parallel_validation_agree_at_structural_boundaries() {
    for members in [511, 512, 513, 1023, 1024, 1025] {
        for kind in [
            StateKind::Populated,
            StateKind::Removes10,
            StateKind::Fresh,
            StateKind::Unmerged,
        ] {
            let mut cfg = StateConfig::new(kind, members, 7);
            cfg.now = 1_800_000_000;
            let state = generate(&cfg).unwrap();
            let hl = state.provider.hash_len();
            let gid = state.group_id.clone();
            let wire = state.tree.to_wire();
            let ok = run(&wire, hl, &gid, Executor::Serial);
            assert_eq!(ok, format!("Ok({:?})", state.tree_hash), "{kind} {members}");
            assert_eq!(run(&wire, hl, &gid, Executor::Parallel), ok);

            // Broken variants: the last parent's and a middle parent's parent hash, the last
            // leaf's signature, an encryption key repeated far away, an unmerged list unsorted.
            let n = wire.0.len();
            let parents: Vec<usize> = (0..n)
                .filter(|&i| matches!(wire.0[i], Some(Node::Parent(_))))
                .collect();
            let leaves: Vec<usize> = (0..n)
                .filter(|&i| matches!(wire.0[i], Some(Node::Leaf(_))))
                .collect();
            let mut bad = Vec::new();
            for &i in [parents.last(), parents.get(parents.len() / 2)]
                .into_iter()
                .flatten()
            {
                let mut w = wire.clone();
                if let Some(Node::Parent(p)) = w.0[i].as_mut() {
                    p.parent_hash = flip(&p.parent_hash);
                }
                bad.push(w);
            }
            let last = *leaves.last().unwrap();
            let mut w = wire.clone();
            if let Some(Node::Leaf(l)) = w.0[last].as_mut() {
                l.signature = flip(&l.signature);
            }
            bad.push(w);
            let mut w = wire.clone();
            let Some(Node::Leaf(first)) = wire.0[leaves[0]].clone() else {
                unreachable!()
            };
            if let Some(Node::Leaf(l)) = w.0[last].as_mut() {
                l.encryption_key = first.encryption_key;
            }
            bad.push(w);
            if let Some(i) = parents.iter().copied().find(
                |&i| matches!(&wire.0[i], Some(Node::Parent(p)) if p.unmerged_leaves.len() >= 2),
            ) {
                let mut w = wire.clone();
                if let Some(Node::Parent(p)) = w.0[i].as_mut() {
                    p.unmerged_leaves.swap(0, 1);
                }
                bad.push(w);
            }
            for w in bad {
                let serial = run(&w, hl, &gid, Executor::Serial);
                assert!(serial.starts_with("Err("), "{kind} {members}: {serial}");
                assert_eq!(
                    run(&w, hl, &gid, Executor::Parallel),
                    serial,
                    "{kind} {members}"
                );
            }
        }
    }
}
