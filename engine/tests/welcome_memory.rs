//! What a forged Welcome can make a joiner allocate. Anyone who holds a member's KeyPackage can
//! send it a Welcome whose GroupInfo carries any ratchet tree: the tree is decoded and
//! expanded before anything vouches for it (the GroupInfo signature is checked with a key
//! from that very tree). A blank node costs one byte on the wire and a slot, hash and counters
//! in memory, so the peak allocation of a join must stay within a fixed multiple of the
//! Welcome's size. This binary tracks every allocation (its own global allocator, `cap`'s
//! counting wrapper around the system allocator) and checks that bound on blank-heavy trees of
//! several sizes.

use std::alloc::System;

use canopy_engine::codec::{
    self, CipherSuiteId, Extension, ExtensionType, GroupContext, GroupInfo, Mac, MlsMessage,
    MlsMessageBody, Node, ProtocolVersion, Welcome,
};
use canopy_engine::crypto::{CipherSuite, Provider, Secret};
use canopy_engine::group::{Group, GroupConfig};
use canopy_engine::key_package::{default_lifetime, key_package_from_seed, Clock};
use canopy_engine::welcome::{self, JoinerSecrets};
use cap::Cap;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// The bound: bytes a join may allocate per byte of Welcome, beyond a fixed allowance.
/// A blank node is one wire byte and ~110 bytes in memory (tree slot, cached hash, counters);
/// a tree whose leaf count is just past a power of two is padded to the next one, which
/// doubles that. The measured worst case is ~225 (see the test's output).
const BYTES_PER_WELCOME_BYTE: usize = 256;
const FIXED: usize = 4 << 20;

#[test]
fn forged_welcome_allocation_is_bounded_by_its_size() {
    let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let now = 1_800_000_000;
    let (kp, secrets) =
        key_package_from_seed(&p, b"victim", &[0x61; 32], default_lifetime(now)).unwrap();
    let mut checked = 0;
    for (log_leaves, extra) in [(12u32, 0usize), (16, 0), (16, 1), (19, 1)] {
        // A leaf at each end and blank nodes between: the largest tree per wire byte; one
        // leaf past a power of two makes the engine pad the tree to twice the width.
        let width = 2 * ((1usize << log_leaves) + extra) - 1;
        let mut nodes: Vec<Option<Node>> = vec![None; width];
        nodes[0] = Some(Node::Leaf(Box::new(kp.leaf_node.clone())));
        nodes[width - 1] = Some(Node::Leaf(Box::new(kp.leaf_node.clone())));
        let tree = codec::encode(&codec::RatchetTree(nodes)).unwrap();
        let gi = GroupInfo {
            group_context: GroupContext {
                version: ProtocolVersion::MLS10,
                cipher_suite: CipherSuiteId(1),
                group_id: b"forged".to_vec().into(),
                epoch: 1,
                tree_hash: vec![0; 32].into(),
                confirmed_transcript_hash: vec![0; 32].into(),
                extensions: Vec::new(),
            },
            extensions: vec![Extension {
                extension_type: ExtensionType::RATCHET_TREE,
                extension_data: tree.into(),
            }],
            confirmation_tag: Mac(vec![0; 32].into()),
            signer: 0,
            signature: vec![0; 64].into(),
        };
        let joiner = JoinerSecrets {
            joiner_secret: Secret::new(vec![0x62; 32]),
            path_secret: None,
            psks: Vec::new(),
        };
        let ws =
            welcome::welcome_secret(&p, &joiner.joiner_secret, &Secret::new(vec![0; 32])).unwrap();
        let encrypted = welcome::encrypt_group_info(&p, &gi, &ws).unwrap();
        let entry = welcome::encrypt_group_secrets(&p, &kp, encrypted.as_slice(), &joiner).unwrap();
        let bytes = codec::encode(&MlsMessage {
            version: ProtocolVersion::MLS10,
            body: MlsMessageBody::Welcome(Welcome {
                cipher_suite: CipherSuiteId(1),
                secrets: vec![entry],
                encrypted_group_info: encrypted.as_slice().to_vec().into(),
            }),
        })
        .unwrap();
        drop(gi);

        let config = GroupConfig {
            clock: Clock::Fixed(now),
            ..GroupConfig::default()
        };
        // Sizes grow, so the all-time maximum after this join is this join's peak.
        let base = ALLOCATOR.allocated();
        let result = Group::join(p, &bytes, &kp, &secrets, config);
        let peak = ALLOCATOR.max_allocated() - base;
        assert!(result.is_err(), "a forged Welcome was accepted");
        let bound = BYTES_PER_WELCOME_BYTE * bytes.len() + FIXED;
        eprintln!(
            "2^{log_leaves} + {extra} leaves: Welcome {} bytes, peak {} bytes ({:.1} per byte), bound {bound}",
            bytes.len(),
            peak,
            peak as f64 / bytes.len() as f64
        );
        assert!(peak <= bound, "peak {peak} above {bound}");
        checked += 1;
    }
    assert_eq!(checked, 4);
}
