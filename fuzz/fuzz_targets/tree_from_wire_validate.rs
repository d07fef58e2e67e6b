//! Decode a `ratchet_tree` (RFC 9420 §12.4.3.3), build the tree (`RatchetTree::from_wire`)
//! and run every validation step: nothing may panic, whatever the tree.
//!
//! Input: one byte `n`, then `n` bytes of group id (for the leaf signatures), then the
//! encoded tree.
#![no_main]

use canopy_engine::codec;
use canopy_engine::crypto::{CipherSuite, Provider};
use canopy_engine::tree::{LeafIndex, NodeIndex, RatchetTree};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (group_id, tree_bytes) = rest.split_at(usize::from(n).min(rest.len()));
    let Some(wire) = canopy_fuzz::round_trip::<codec::RatchetTree>(tree_bytes) else {
        return;
    };
    let provider = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let Ok(mut tree) = RatchetTree::from_wire(wire, provider.hash_len()) else {
        return;
    };
    // The wire form of the built tree is the input again.
    assert_eq!(
        codec::encode(&tree.to_wire()).expect("encode"),
        tree_bytes,
        "to_wire(from_wire(t)) != t"
    );
    let _ = tree.check_unmerged_leaves();
    let _ = tree.check_key_uniqueness();
    for x in 0..tree.width() {
        let _ = tree.resolution(NodeIndex(x));
    }
    for l in 0..tree.n_leaves() {
        let _ = tree.filtered_direct_path(LeafIndex(l));
    }
    let _ = tree.verify_parent_hashes(&provider);
    let _ = tree.tree_hash(&provider);
    let _ = tree.validate(&provider, group_id);
});
