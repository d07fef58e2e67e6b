//! Unit tests: malformed and tampered UpdatePaths are rejected with typed errors and leave the
//! tree untouched; new leaves are excluded; seals are order-independent.

use crate::error::{ApiMisuse, PeerMisbehaved};
use serde_json::Value;

use super::*;
use crate::codec::Node;
use crate::codec::{CipherSuiteId, ProtocolVersion, RatchetTree as WireTree};
use crate::crypto::{CipherSuite, CryptoError, HpkePrivateKey};

/// The 8-member, suite-1 case of `treekem.json` (every leaf's private state given).
const CASE: usize = 6;

struct Fixture {
    p: Provider,
    tree: RatchetTree,
    context: GroupContext,
    members: Vec<(TreeKemPrivate, SignaturePrivateKey)>,
}

fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap()).unwrap()
}

fn fixture() -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test_vectors/mls/treekem.json");
    let json: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let case = &json[CASE];
    assert_eq!(case["cipher_suite"], 1);
    let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let wire: WireTree = codec::decode(&hex_field(case, "ratchet_tree")).unwrap();
    let tree = RatchetTree::from_wire(wire, p.hash_len()).unwrap();
    let context = GroupContext {
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuiteId(1),
        group_id: hex_field(case, "group_id").into(),
        epoch: case["epoch"].as_u64().unwrap(),
        tree_hash: Vec::new().into(),
        confirmed_transcript_hash: hex_field(case, "confirmed_transcript_hash").into(),
        extensions: Vec::new(),
    };
    let members = case["leaves_private"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let leaf = LeafIndex(m["index"].as_u64().unwrap() as u32);
            let mut private =
                TreeKemPrivate::new(leaf, HpkePrivateKey::new(hex_field(m, "encryption_priv")));
            for ps in m["path_secrets"].as_array().unwrap() {
                let node = NodeIndex(ps["node"].as_u64().unwrap() as u32);
                let secret = Secret::new(hex_field(ps, "path_secret"));
                private.insert_path_secret(&p, node, &secret).unwrap();
            }
            let signer = SignaturePrivateKey::from_bytes(p.signature_scheme(), &hex_field(m, "signature_priv")).unwrap();
            (private, signer)
        })
        .collect();
    Fixture {
        p,
        tree,
        context,
        members,
    }
}

impl Fixture {
    fn private(&self, leaf: u32) -> &TreeKemPrivate {
        &self.members[leaf as usize].0
    }

    /// A fresh UpdatePath from `sender`, seeded, generated on a clone of the tree.
    fn generate(&self, sender: u32, new_leaves: &[LeafIndex]) -> (UpdatePath, GeneratedPath) {
        let leaf_secret = Secret::new(vec![7; 32]);
        let params = PathParams {
            sender: LeafIndex(sender),
            leaf_secret: &leaf_secret,
            signer: &self.members[sender as usize].1,
            leaf_template: None,
            new_leaves,
        };
        let mut tree = self.tree.clone();
        let g = generate_update_path(
            &self.p,
            &mut tree,
            &params,
            &self.context,
            &Ephemeral::Seeded(Secret::new(vec![9; 32])),
        )
        .unwrap();
        (g.update_path.clone(), g)
    }

    /// Process `path` from `sender` as `receiver` on a clone of the tree; assert the clone is
    /// unchanged on error.
    fn process(
        &self,
        receiver: u32,
        sender: u32,
        path: &UpdatePath,
        new_leaves: &[LeafIndex],
    ) -> Result<ProcessedPath> {
        let mut tree = self.tree.clone();
        let before = snapshot(&self.p, &mut tree);
        let out = process_update_path(
            &self.p,
            &mut tree,
            self.private(receiver),
            LeafIndex(sender),
            path,
            new_leaves,
            &self.context,
        );
        if out.is_err() {
            assert_eq!(
                snapshot(&self.p, &mut tree),
                before,
                "tree changed on error"
            );
        }
        out
    }
}

/// The public state of a tree: its wire form and its tree hash.
fn snapshot(p: &Provider, tree: &mut RatchetTree) -> (WireTree, Vec<u8>) {
    (tree.to_wire(), tree.tree_hash(p).unwrap())
}

/// Recompute the parent hashes of `plan` for `keys` (the path's public keys), set the leaf's
/// parent hash to `leaf_parent_hash` (or the recomputed one), re-sign, merge into a clone of
/// the tree and seal: the UpdatePath a (malicious) sender with these keys would send.
fn restage(
    f: &Fixture,
    mut plan: PathPlan,
    keys: Vec<Vec<u8>>,
    leaf_parent_hash: Option<Vec<u8>>,
) -> UpdatePath {
    let mut tree = f.tree.clone();
    let (parents, recomputed) =
        path_parent_nodes(&f.p, &mut tree, &plan.staged.steps, keys.into_iter()).unwrap();
    plan.staged.parents = parents;
    let sender = plan.staged.sender;
    let leaf = &mut plan.staged.leaf_node;
    leaf.leaf_node_source = LeafNodeSourceData::Commit {
        parent_hash: leaf_parent_hash.unwrap_or(recomputed).into(),
    };
    let group_id = f.context.group_id.as_slice();
    let tbs = codec::encode(&LeafNodeTbs::in_group(leaf, group_id, sender.0)).unwrap();
    let signer = &f.members[sender.0 as usize].1;
    leaf.signature =
        f.p.sign_with_label(signer, b"LeafNodeTBS", &tbs)
            .unwrap()
            .into();
    plan.merge(&mut tree).unwrap();
    let context = with_tree_hash(&f.context, &tree.tree_hash(&f.p).unwrap()).unwrap();
    plan.seal(&f.p, &context, &Ephemeral::Random, Executor::Serial)
        .unwrap()
}

fn plan(f: &Fixture, sender: u32) -> PathPlan {
    let leaf_secret = Secret::new(vec![3; 32]);
    let params = PathParams {
        sender: LeafIndex(sender),
        leaf_secret: &leaf_secret,
        signer: &f.members[sender as usize].1,
        leaf_template: None,
        new_leaves: &[],
    };
    let group_id = f.context.group_id.as_slice();
    plan_update_path(&f.p, &mut f.tree.clone(), &params, group_id).unwrap()
}

#[test]
fn fresh_path_round_trips() {
    let f = fixture();
    let (path, g) = f.generate(0, &[]);
    // Leaf 0 of 8: the filtered direct path is the full direct path 1, 3, 7.
    assert_eq!(path.nodes.len(), 3);
    for receiver in 1..8 {
        let out = f.process(receiver, 0, &path, &[]).unwrap();
        assert_eq!(out.commit_secret, g.commit_secret);
        assert_eq!(out.tree_hash, g.tree_hash);
    }
    let out = f.process(5, 0, &path, &[]).unwrap();
    assert_eq!(out.path_secret_node, NodeIndex(7));
    // Node 7 is shared; 1 and 3 are not on leaf 5's direct path; 11 stays.
    let nodes: Vec<_> = out.private.path_nodes().collect();
    assert_eq!(nodes, vec![NodeIndex(7), NodeIndex(9), NodeIndex(11)]);
}

#[test]
fn truncated_path() {
    let f = fixture();
    let (mut path, _) = f.generate(0, &[]);
    path.nodes.pop();
    assert!(matches!(
        f.process(1, 0, &path, &[]),
        Err(Error::PeerMisbehaved(PeerMisbehaved::PathLength {
            expected: 3,
            got: 2
        }))
    ));
}

#[test]
fn wrong_ciphertext_count() {
    let f = fixture();
    let (mut path, _) = f.generate(0, &[]);
    // Node 3's copath child is node 5, whose resolution is {5}.
    path.nodes[1].encrypted_path_secret.push(HpkeCiphertext {
        kem_output: vec![1; 32].into(),
        ciphertext: vec![2; 48].into(),
    });
    assert!(matches!(
        f.process(1, 0, &path, &[]),
        Err(Error::PeerMisbehaved(PeerMisbehaved::PathCiphertextCount {
            node: NodeIndex(3),
            expected: 1,
            got: 2
        }))
    ));
}

#[test]
fn tampered_ciphertext() {
    let f = fixture();
    let (mut path, _) = f.generate(0, &[]);
    let mut ct = path.nodes[0].encrypted_path_secret[0]
        .ciphertext
        .as_slice()
        .to_vec();
    ct[0] ^= 1;
    path.nodes[0].encrypted_path_secret[0].ciphertext = ct.into();
    // The path merges (the tree is changed), then decryption fails: the tree is restored.
    assert!(matches!(
        f.process(1, 0, &path, &[]),
        Err(Error::PeerMisbehaved(
            PeerMisbehaved::PathSecretDecryption {
                node: NodeIndex(1),
                source: CryptoError::HpkeOpenFailed
            }
        ))
    ));
    // Members decrypting other ciphertexts are not affected.
    assert!(f.process(2, 0, &path, &[]).is_ok());
}

#[test]
fn wrong_public_key_in_path() {
    let f = fixture();
    let plan = plan(&f, 0);
    let mut keys: Vec<_> = plan
        .staged
        .parents
        .iter()
        .map(|p| p.encryption_key.as_slice().to_vec())
        .collect();
    // A consistent path (parent hashes and signature match) whose root key is not the one
    // derived from the root's path secret.
    keys[2] = f.p.derive_hpke_key_pair(&[5; 32]).unwrap().1;
    let path = restage(&f, plan, keys, None);
    for receiver in [1, 2, 4] {
        assert!(matches!(
            f.process(receiver, 0, &path, &[]),
            Err(Error::PeerMisbehaved(
                PeerMisbehaved::PathPublicKeyMismatch { node: NodeIndex(7) }
            ))
        ));
    }
}

#[test]
fn wrong_parent_hash() {
    let f = fixture();
    let plan = plan(&f, 0);
    let keys = plan
        .staged
        .parents
        .iter()
        .map(|p| p.encryption_key.as_slice().to_vec())
        .collect();
    let path = restage(&f, plan, keys, Some(vec![0; 32]));
    assert!(matches!(
        f.process(1, 0, &path, &[]),
        Err(Error::PeerMisbehaved(PeerMisbehaved::ParentHashMismatch))
    ));
}

#[test]
fn public_key_change_breaks_parent_hash() {
    // Swapping a key in a signed path without recomputing the parent hashes is caught by the
    // parent hash before any decryption.
    let f = fixture();
    let (mut path, _) = f.generate(0, &[]);
    path.nodes[2].encryption_key =
        HpkePublicKey(f.p.derive_hpke_key_pair(&[5; 32]).unwrap().1.into());
    assert!(matches!(
        f.process(1, 0, &path, &[]),
        Err(Error::PeerMisbehaved(PeerMisbehaved::ParentHashMismatch))
    ));
}

#[test]
fn bad_leaf_signature_and_source() {
    let f = fixture();
    let (path, _) = f.generate(0, &[]);
    let mut bad = path.clone();
    let mut sig = bad.leaf_node.signature.as_slice().to_vec();
    sig[0] ^= 1;
    bad.leaf_node.signature = sig.into();
    assert!(matches!(
        f.process(1, 0, &bad, &[]),
        Err(Error::PeerMisbehaved(PeerMisbehaved::PathLeafSignature))
    ));
    let mut bad = path;
    bad.leaf_node.leaf_node_source = LeafNodeSourceData::Update;
    assert!(matches!(
        f.process(1, 0, &bad, &[]),
        Err(Error::PeerMisbehaved(PeerMisbehaved::PathLeafSource))
    ));
}

#[test]
fn receiver_is_sender_and_wrong_private_key() {
    let f = fixture();
    let (path, _) = f.generate(0, &[]);
    assert!(matches!(
        f.process(0, 0, &path, &[]),
        Err(Error::PeerMisbehaved(PeerMisbehaved::ReceiverIsSender))
    ));
    // Leaf 1 with the wrong leaf key: decryption fails.
    let mut tree = f.tree.clone();
    let before = snapshot(&f.p, &mut tree);
    let wrong = TreeKemPrivate::new(LeafIndex(1), HpkePrivateKey::new(vec![4; 32]));
    let r = process_update_path(
        &f.p,
        &mut tree,
        &wrong,
        LeafIndex(0),
        &path,
        &[],
        &f.context,
    );
    assert!(matches!(
        r,
        Err(Error::PeerMisbehaved(
            PeerMisbehaved::PathSecretDecryption { .. }
        ))
    ));
    // Leaf 5 holding no key at all for the resolution of node 11 ({11}).
    let keyless = TreeKemPrivate::new(LeafIndex(5), HpkePrivateKey::new(vec![4; 32]));
    let r = process_update_path(
        &f.p,
        &mut tree,
        &keyless,
        LeafIndex(0),
        &path,
        &[],
        &f.context,
    );
    assert!(matches!(
        r,
        Err(Error::PeerMisbehaved(PeerMisbehaved::NoPrivateKey {
            copath: NodeIndex(11)
        }))
    ));
    assert_eq!(snapshot(&f.p, &mut tree), before);
}

#[test]
fn new_leaves_are_excluded() {
    let f = fixture();
    // Pretend leaf 1 was added by this commit: node 1's copath resolution {leaf 1} is empty
    // after exclusion, but node 1 stays in the filtered direct path.
    let new = [LeafIndex(1)];
    let (path, g) = f.generate(0, &new);
    assert_eq!(path.nodes.len(), 3);
    assert!(path.nodes[0].encrypted_path_secret.is_empty());
    for receiver in 2..8 {
        let out = f.process(receiver, 0, &path, &new).unwrap();
        assert_eq!(out.commit_secret, g.commit_secret);
    }
    assert!(matches!(
        f.process(1, 0, &path, &new),
        Err(Error::PeerMisbehaved(PeerMisbehaved::NoPrivateKey {
            copath: NodeIndex(2)
        }))
    ));
    // A receiver that does not know about the new leaf expects one more ciphertext.
    assert!(matches!(
        f.process(2, 0, &path, &[]),
        Err(Error::PeerMisbehaved(PeerMisbehaved::PathCiphertextCount {
            node: NodeIndex(1),
            expected: 1,
            got: 0
        }))
    ));
}

/// The batched seal gives the same UpdatePath on either executor and every X25519 backend,
/// the same as the plain path (`SealJob::seal`, one job at a time), and the same as the jobs
/// sealed one by one in reverse order through hpke-rs (the provider's reference HPKE).
#[test]
fn seal_jobs_are_order_independent() {
    let f = fixture();
    let plan = plan(&f, 3);
    let context = vec![1, 2, 3];
    let ephemeral = Ephemeral::Seeded(Secret::new(vec![8; 32]));
    let serial = plan
        .seal(&f.p, &context, &ephemeral, Executor::Serial)
        .unwrap();
    let mut backends = 0;
    for backend in crate::crypto::X25519Backend::available() {
        let p = f.p.with_x25519_backend(backend).unwrap();
        for executor in [Executor::Serial, Executor::Parallel] {
            let path = plan.seal(&p, &context, &ephemeral, executor).unwrap();
            assert_eq!(path, serial, "{backend} {executor:?}");
        }
        backends += 1;
    }
    assert!(backends >= 2, "aws-lc and canopy-simd's portable lane run everywhere");
    let seal_context = SealContext::new(&f.p, b"UpdatePathNode", &context).unwrap();
    let plain: Vec<_> = plan
        .seal_jobs()
        .iter()
        .map(|j| j.seal(&f.p, &seal_context, &ephemeral).unwrap())
        .collect();
    assert_eq!(plan.assemble(plain).unwrap(), serial);
    let jobs = plan.seal_jobs();
    assert!(jobs.len() > 2, "{}", jobs.len());
    let mut reversed: Vec<_> = jobs
        .iter()
        .rev()
        .map(|j| {
            let ikm = ephemeral
                .ikm(&f.p, j.node_position, j.recipient_position)
                .unwrap()
                .unwrap();
            let (kem_output, ciphertext) =
                f.p.encrypt_with_label_with_ikm(
                    j.recipient_key(),
                    b"UpdatePathNode",
                    &context,
                    j.path_secret().as_bytes(),
                    ikm.as_bytes(),
                )
                .unwrap();
            HpkeCiphertext {
                kem_output: kem_output.into(),
                ciphertext: ciphertext.into(),
            }
        })
        .collect();
    reversed.reverse();
    assert_eq!(plan.assemble(reversed).unwrap(), serial);
    assert!(plan.assemble(Vec::new()).is_err());
}

/// Generating a path under an open tree journal, then rolling the journal back, restores
/// the tree: the journal is how a merge is undone.
#[test]
fn rollback_restores_the_tree() {
    let f = fixture();
    let (_, g) = f.generate(2, &[]);
    let mut tree = f.tree.clone();
    let before = snapshot(&f.p, &mut tree);
    let leaf_secret = Secret::new(vec![7; 32]);
    let params = PathParams {
        sender: LeafIndex(2),
        leaf_secret: &leaf_secret,
        signer: &f.members[2].1,
        leaf_template: None,
        new_leaves: &[],
    };
    tree.begin_journal().unwrap();
    let again =
        generate_update_path(&f.p, &mut tree, &params, &f.context, &Ephemeral::Random).unwrap();
    assert_eq!(again.tree_hash, g.tree_hash);
    assert!(tree.journal_open());
    assert_ne!(snapshot(&f.p, &mut tree), before);
    tree.rollback();
    assert_eq!(snapshot(&f.p, &mut tree), before);
}

/// A path that merges and then fails to decrypt, processed under a journal that already
/// holds an edit, undoes its own merge only: the earlier edit and the journal stay.
#[test]
fn a_failure_under_an_open_journal_undoes_only_its_own_edits() {
    let f = fixture();
    let (mut path, _) = f.generate(0, &[]);
    let mut ct = path.nodes[0].encrypted_path_secret[0]
        .ciphertext
        .as_slice()
        .to_vec();
    ct[0] ^= 1;
    path.nodes[0].encrypted_path_secret[0].ciphertext = ct.into();

    let mut tree = f.tree.clone();
    let before = snapshot(&f.p, &mut tree);
    tree.begin_journal().unwrap();
    // An earlier edit on the sender's direct path, which the merge then overwrites.
    let key = f.p.derive_hpke_key_pair(&[6; 32]).unwrap().1;
    tree.set_node(
        NodeIndex(3),
        Some(&Node::Parent(ParentNode {
            encryption_key: HpkePublicKey(key.into()),
            parent_hash: Vec::new().into(),
            unmerged_leaves: Vec::new(),
        })),
    )
    .unwrap();
    let edited = snapshot(&f.p, &mut tree);
    assert_ne!(edited, before);
    let r = process_update_path(
        &f.p,
        &mut tree,
        f.private(1),
        LeafIndex(0),
        &path,
        &[],
        &f.context,
    );
    assert!(matches!(r, Err(Error::PeerMisbehaved(PeerMisbehaved::PathSecretDecryption { .. }))));
    assert!(tree.journal_open());
    assert_eq!(snapshot(&f.p, &mut tree), edited);
    tree.rollback();
    assert_eq!(snapshot(&f.p, &mut tree), before);
}

#[test]
fn signer_must_match_leaf() {
    let f = fixture();
    let leaf_secret = Secret::new(vec![7; 32]);
    let params = PathParams {
        sender: LeafIndex(0),
        leaf_secret: &leaf_secret,
        signer: &f.members[1].1,
        leaf_template: None,
        new_leaves: &[],
    };
    let r = plan_update_path(&f.p, &mut f.tree.clone(), &params, b"g");
    assert!(matches!(
        r,
        Err(Error::ApiMisuse(ApiMisuse::SignerMismatch))
    ));
}

#[test]
fn private_state_debug_hides_keys() {
    let f = fixture();
    let private = f.private(0);
    let shown = format!("{private:?}");
    assert!(shown.contains("leaf 0"), "{shown}");
    let key = hex::encode(private.leaf_key().as_bytes());
    assert!(!shown.contains(&key[..8]), "{shown}");
    assert!(!shown.contains(&format!("{:?}", &private.leaf_key().as_bytes()[..4])));
}
