//! No secret in `Debug` output: every public type that holds a secret is built from known
//! secret bytes (and, where the type derives further secrets, those are collected too), then
//! `{:?}` and `{:#?}` are searched for the bytes as hex and as Rust's `[1, 2, 3` list form
//! (any 4-byte window, ignoring whitespace, so the pretty multi-line form is caught as well).

use canopy_engine::codec::{
    self, CipherSuiteId, GroupContext, GroupInfo, GroupSecrets, Lifetime, Mac, PathSecret,
    ProtocolVersion, SecretBytes,
};
use canopy_engine::crypto::{CipherSuite, HpkePrivateKey, Provider, Secret, SignaturePrivateKey};
use canopy_engine::framing::EpochFraming;
use canopy_engine::kem::{
    generate_update_path, plan_update_path, process_update_path, Ephemeral, PathParams,
    TreeKemPrivate,
};
use canopy_engine::key_package::{self, KeyPackageSecrets};
use canopy_engine::schedule::{EpochSecrets, RatchetKind, SecretTree};
use canopy_engine::tree::{LeafIndex, NodeIndex, RatchetTree};
use canopy_engine::welcome::{JoinedEpoch, JoinerSecrets};

/// Distinctive secret bytes: `n` bytes starting from `tag`, no run of equal bytes.
fn known(tag: u8, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| tag.wrapping_add((i as u8).wrapping_mul(37)))
        .collect()
}

fn provider() -> Provider {
    Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519)
}

fn group_context() -> GroupContext {
    GroupContext {
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuiteId(1),
        group_id: b"group".to_vec().into(),
        epoch: 7,
        tree_hash: vec![1; 32].into(),
        confirmed_transcript_hash: vec![2; 32].into(),
        extensions: Vec::new(),
    }
}

/// Assert neither `{:?}` nor `{:#?}` of `value` shows any of `secrets`.
#[track_caller]
fn assert_redacted<T: std::fmt::Debug>(what: &str, value: &T, secrets: &[&[u8]]) {
    for out in [format!("{value:?}"), format!("{value:#?}")] {
        let compact: String = out.chars().filter(|c| !c.is_whitespace()).collect();
        let lower = compact.to_ascii_lowercase();
        for secret in secrets {
            assert!(
                secret.len() >= 8,
                "{what}: test secrets must be long enough"
            );
            for w in secret.windows(4) {
                let list = w
                    .iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join(",");
                assert!(
                    !compact.contains(&list),
                    "{what} leaks secret bytes as a list ({list}):\n{out}"
                );
            }
            for w in secret.windows(8) {
                let hex = hex::encode(w);
                assert!(
                    !lower.contains(&hex),
                    "{what} leaks secret bytes as hex ({hex}):\n{out}"
                );
            }
        }
    }
}

/// Prints its text as is (the `Debug` of a `String` would escape the newlines of `{:#?}`).
struct Raw(String);

impl std::fmt::Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The checker itself: it must catch every form.
#[test]
fn checker_catches_leaks() {
    let s = known(11, 32);
    for leaky in [
        format!("x{s:?}"),
        format!("Key {{ bytes: {:#?} }}", &s[3..9]),
        hex::encode(&s[10..20]).to_uppercase(),
        hex::encode(&s),
    ] {
        let caught =
            std::panic::catch_unwind(|| assert_redacted("leaky", &Raw(leaky.clone()), &[&s]));
        assert!(caught.is_err(), "not caught: {leaky}");
    }
    assert_redacted("clean", &Raw(format!("Secret({} bytes)", s.len())), &[&s]);
}

#[test]
fn crypto_keys() {
    let bytes = known(3, 32);
    assert_redacted("Secret", &Secret::new(bytes.clone()), &[&bytes]);
    assert_redacted(
        "HpkePrivateKey",
        &HpkePrivateKey::new(bytes.clone()),
        &[&bytes],
    );
    let sk = SignaturePrivateKey::from_seed(&bytes).unwrap();
    assert_redacted("SignaturePrivateKey", &sk, &[&bytes]);
    assert_redacted(
        "Option<Secret>",
        &Some(Secret::new(bytes.clone())),
        &[&bytes],
    );
}

#[test]
fn epoch_secrets() {
    let p = provider();
    let init = known(5, 32);
    let commit = known(6, 32);
    let secrets = EpochSecrets::derive(&p, &init, &commit, &[0; 32], b"context").unwrap();
    let all: Vec<&[u8]> = vec![
        &init,
        &commit,
        secrets.joiner_secret.as_bytes(),
        secrets.welcome_secret.as_bytes(),
        secrets.epoch_secret.as_bytes(),
        secrets.sender_data_secret.as_bytes(),
        secrets.encryption_secret.as_bytes(),
        secrets.exporter_secret.as_bytes(),
        secrets.external_secret.as_bytes(),
        secrets.confirmation_key.as_bytes(),
        secrets.membership_key.as_bytes(),
        secrets.resumption_psk.as_bytes(),
        secrets.epoch_authenticator.as_bytes(),
        secrets.init_secret.as_bytes(),
    ];
    assert_redacted("EpochSecrets", &secrets, &all);
    let (retained, encryption) = secrets.clone().into_retained();
    assert_redacted("RetainedSecrets", &retained, &all);
    assert_redacted("encryption_secret", &encryption, &all);
}

#[test]
fn secret_tree_and_framing() {
    let p = provider();
    let root = known(7, 32);
    let mut tree = SecretTree::new(Secret::new(root.clone()), 4);
    let key = tree
        .key(&p, LeafIndex(1), RatchetKind::Application, 3)
        .unwrap();
    let pending = tree
        .peek_key(&p, LeafIndex(2), RatchetKind::Handshake, 1)
        .unwrap();
    let (k, n) = (key.key.clone(), key.nonce.clone());
    let (pk, pn) = (pending.key().key.clone(), pending.key().nonce.clone());
    let all: Vec<&[u8]> = vec![&root, k.as_bytes(), pk.as_bytes()];
    assert_redacted("RatchetKey", &key, &all);
    assert_redacted("PendingKey", &pending, &all);
    assert_redacted("SecretTree", &tree, &all);
    // Nonces are not secret, but are derived from the ratchet secret: not printed either.
    assert_redacted("RatchetKey nonce", &key, &[n.as_bytes(), pn.as_bytes()]);

    let membership = known(8, 32);
    let sender_data = known(9, 32);
    let encryption = known(10, 32);
    let mut framing = EpochFraming::new(
        p,
        group_context(),
        Secret::new(membership.clone()),
        Secret::new(sender_data.clone()),
        Secret::new(encryption.clone()),
        4,
    )
    .with_out_of_order_tolerance(4);
    assert_redacted(
        "EpochFraming",
        &framing,
        &[&membership, &sender_data, &encryption],
    );
    // With ratchets derived and retained keys in the tree.
    let sk = SignaturePrivateKey::from_seed(&known(12, 32)).unwrap();
    let content = codec::FramedContent {
        group_id: b"group".to_vec().into(),
        epoch: 7,
        sender: codec::Sender::Member { leaf_index: 0 },
        authenticated_data: Vec::new().into(),
        content: codec::FramedContentBody::Application {
            application_data: b"hi".to_vec().into(),
        },
    };
    let signed = framing
        .authenticate(&sk, codec::WireFormat::PrivateMessage, content, None)
        .unwrap();
    framing.protect_private(&signed, 0).unwrap();
    assert_redacted(
        "EpochFraming (used)",
        &framing,
        &[&membership, &sender_data, &encryption],
    );
    assert_redacted(
        "EpochFraming (receiving copy)",
        &framing.receiving_copy(),
        &[&membership, &sender_data, &encryption],
    );
}

#[test]
fn group_secrets_and_join() {
    let joiner = known(13, 32);
    let path = known(14, 32);
    let gs = GroupSecrets {
        joiner_secret: SecretBytes::from(joiner.as_slice()),
        path_secret: Some(PathSecret {
            path_secret: SecretBytes::from(path.as_slice()),
        }),
        psks: Vec::new(),
    };
    // Decoded from the wire, as a joiner gets it.
    let decoded: GroupSecrets = codec::decode(&codec::encode(&gs).unwrap()).unwrap();
    assert_eq!(decoded, gs);
    assert_redacted("GroupSecrets", &decoded, &[&joiner, &path]);
    assert_redacted(
        "PathSecret",
        decoded.path_secret.as_ref().unwrap(),
        &[&path],
    );
    assert_redacted("SecretBytes", &decoded.joiner_secret, &[&joiner]);

    let secrets = JoinerSecrets::from(decoded);
    assert_redacted("JoinerSecrets", &secrets, &[&joiner, &path]);

    let p = provider();
    let epoch_secrets =
        EpochSecrets::from_joiner(&p, secrets.joiner_secret.clone(), &[0; 32], b"ctx").unwrap();
    let joined = JoinedEpoch {
        group_info: GroupInfo {
            group_context: group_context(),
            extensions: Vec::new(),
            confirmation_tag: Mac(vec![3; 32].into()),
            signer: 0,
            signature: vec![4; 64].into(),
        },
        path_secret: secrets.path_secret.clone(),
        psks: Vec::new(),
        epoch_secrets: epoch_secrets.clone(),
        interim_transcript_hash: vec![5; 32],
    };
    assert_redacted(
        "JoinedEpoch",
        &joined,
        &[
            &joiner,
            &path,
            epoch_secrets.epoch_secret.as_bytes(),
            epoch_secrets.encryption_secret.as_bytes(),
            epoch_secrets.init_secret.as_bytes(),
        ],
    );
}

fn lifetime() -> Lifetime {
    Lifetime {
        not_before: 0,
        not_after: u64::MAX,
    }
}

#[test]
fn key_package_secrets() {
    let p = provider();
    let (_, secrets) =
        key_package::key_package_from_seed(&p, b"alice", &known(15, 32), lifetime()).unwrap();
    let all: Vec<&[u8]> = vec![
        secrets.init_key.as_bytes(),
        secrets.leaf_key.as_bytes(),
        secrets.signer.as_bytes(),
    ];
    assert_redacted("KeyPackageSecrets", &secrets, &all);
    let built = KeyPackageSecrets {
        init_key: HpkePrivateKey::new(known(16, 32)),
        leaf_key: HpkePrivateKey::new(known(17, 32)),
        signer: SignaturePrivateKey::from_seed(&known(18, 32)).unwrap(),
    };
    assert_redacted(
        "KeyPackageSecrets (built)",
        &built,
        &[&known(16, 32), &known(17, 32), &known(18, 32)],
    );
}

#[test]
fn treekem_state() {
    let p = provider();
    let leaf_key = known(19, 32);
    let mut private = TreeKemPrivate::new(LeafIndex(0), HpkePrivateKey::new(leaf_key.clone()));
    let path_secret = known(20, 32);
    private
        .insert_path_secret(&p, NodeIndex(1), &Secret::new(path_secret.clone()))
        .unwrap();
    let node_key = private
        .private_key(NodeIndex(1))
        .unwrap()
        .as_bytes()
        .to_vec();
    assert_redacted(
        "TreeKemPrivate",
        &private,
        &[&leaf_key, &path_secret, &node_key],
    );

    // A two-member group: alice (leaf 0) commits with a path, bob (leaf 1) processes it.
    let (kp_a, a) =
        key_package::key_package_from_seed(&p, b"alice", &known(21, 32), lifetime()).unwrap();
    let (kp_b, b) =
        key_package::key_package_from_seed(&p, b"bob", &known(22, 32), lifetime()).unwrap();
    let mut tree = RatchetTree::new(&kp_a.leaf_node, p.hash_len()).unwrap();
    let bob = tree.add_leaf(&kp_b.leaf_node).unwrap();
    let leaf_secret = known(23, 32);
    let leaf_secret_s = Secret::new(leaf_secret.clone());
    let seed = known(24, 32);
    let params = PathParams {
        sender: LeafIndex(0),
        leaf_secret: &leaf_secret_s,
        signer: &a.signer,
        leaf_template: None,
        new_leaves: &[],
    };
    let context = group_context();

    let plan = plan_update_path(&p, &mut tree.clone(), &params, b"group").unwrap();
    let plan_commit = plan.commit_secret().as_bytes().to_vec();
    let all: Vec<&[u8]> = vec![&leaf_secret, &plan_commit, a.leaf_key.as_bytes()];
    assert_redacted("PathPlan", &plan, &all);

    let mut alice_tree = tree.clone();
    let generated = generate_update_path(
        &p,
        &mut alice_tree,
        &params,
        &context,
        &Ephemeral::Seeded(Secret::new(seed.clone())),
    )
    .unwrap();
    let commit = generated.commit_secret.as_bytes().to_vec();
    let alice_path_key = generated
        .private
        .private_key(NodeIndex(1))
        .unwrap()
        .as_bytes()
        .to_vec();
    assert_redacted(
        "GeneratedPath",
        &generated,
        &[&leaf_secret, &seed, &commit, &alice_path_key],
    );
    assert_redacted(
        "Ephemeral",
        &Ephemeral::Seeded(Secret::new(seed.clone())),
        &[&seed],
    );

    let bob_private = TreeKemPrivate::new(bob, b.leaf_key.clone());
    let processed = process_update_path(
        &p,
        &mut tree,
        &bob_private,
        LeafIndex(0),
        &generated.update_path,
        &[],
        &context,
    )
    .unwrap();
    assert_eq!(processed.commit_secret.as_bytes(), commit.as_slice());
    let path_secret = processed.path_secret.as_bytes().to_vec();
    assert_redacted(
        "ProcessedPath",
        &processed,
        &[
            &commit,
            &path_secret,
            b.leaf_key.as_bytes(),
            &alice_path_key,
        ],
    );
}
