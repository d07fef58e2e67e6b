//! The lifecycle of a member's secrets, through the public API and serialized messages:
//!
//! - a copy of a group state ([`Group::clone`]) has the exact ratchet state of the original,
//!   so a message the original has already decrypted is a replay to the copy too;
//! - a copy cannot send a `PrivateMessage` in the current epoch (it cannot know which
//!   generations the original uses), checked on the decrypt side: no two messages share a
//!   generation's key and nonce;
//! - once an epoch is set up (by create, commit, process or join) the group holds none of the
//!   key-schedule secrets RFC 9420 §9.2 says are consumed by then;
//! - the secret tree deletes each node secret, ratchet secret and key once consumed.
//!
//! To know an epoch's secrets, the test either re-bases a live group onto a joiner secret it
//! chose ([`Group::from_parts`]) or, for a commit with a Welcome, opens the Welcome with the
//! new member's KeyPackage secrets ([`welcome::join`]).

mod common;

use canopy_engine::codec::{
    self, ContentType, KeyPackage, MlsMessage, MlsMessageBody, PrivateMessage, SenderData,
    SenderDataAad,
};
use canopy_engine::crypto::{CipherSuite, Provider, Secret, SignaturePrivateKey};
use canopy_engine::group::{CommitOptions, Group, GroupConfig, ProcessOutcome, Randomness};
use canopy_engine::key_package::{
    default_lifetime, key_package_from_seed, Clock, KeyPackageSecrets,
};
use canopy_engine::schedule::secret_tree::sender_data_key_nonce;
use canopy_engine::schedule::{EpochSecrets, RatchetKind, SecretTree};
use canopy_engine::tree::LeafIndex;
use canopy_engine::Protection;
use canopy_engine::{welcome, Error};
use canopy_engine::{ApiMisuse, PeerMisbehaved};

/// A fixed time, so KeyPackage lifetimes are reproducible.
const NOW: u64 = 1_800_000_000;
/// Members of the live group (leaves 0..MEMBERS).
const MEMBERS: u32 = 4;

fn provider() -> Provider {
    Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519)
}

fn config(seed: u8) -> GroupConfig {
    GroupConfig {
        clock: Clock::Fixed(NOW),
        randomness: Randomness::Seeded(Secret::new(vec![seed; 32])),
        ..GroupConfig::default()
    }
}

fn kp(p: &Provider, i: u32) -> (KeyPackage, KeyPackageSecrets) {
    let mut seed = [0x5e; 32];
    seed[..4].copy_from_slice(&i.to_be_bytes());
    key_package_from_seed(
        p,
        format!("member-{i}").as_bytes(),
        &seed,
        default_lifetime(NOW),
    )
    .unwrap()
}

/// A live group of [`MEMBERS`] built with real commits and Welcomes (member i at leaf i),
/// with every member's signer.
fn live() -> (Provider, Vec<Group>, Vec<SignaturePrivateKey>) {
    let p = provider();
    let (signer, _) = p.signature_key_pair_from_seed(&[3; 32]).unwrap();
    let mut creator = Group::create(p, b"lifecycle", b"m0", signer.clone(), config(1)).unwrap();
    let kps: Vec<_> = (1..MEMBERS).map(|i| kp(&p, i)).collect();
    let out = creator
        .commit(
            &CommitOptions::new()
                .adds(kps.iter().map(|(k, _)| k.clone()))
                .with_path()
                .ratchet_tree_in_welcome(),
        )
        .unwrap();
    let mut members = vec![creator];
    let mut signers = vec![signer];
    for (i, (k, s)) in kps.iter().enumerate() {
        let g = Group::join(p, out.welcome.as_ref().unwrap(), k, s, config(10 + i as u8)).unwrap();
        assert_eq!(g.own_leaf().0, i as u32 + 1);
        members.push(g);
        signers.push(s.signer.clone());
    }
    (p, members, signers)
}

/// The live group re-based onto a joiner secret the test chose (same tree, context and
/// private keys; `seed` varies each member's randomness), with the epoch's full key schedule.
fn known_epoch(seed: u8) -> (Provider, Vec<Group>, EpochSecrets) {
    let (p, members, signers) = live();
    let (members, secrets) = common::rebase(
        p,
        &members,
        &signers,
        Secret::new(vec![0x42; p.hash_len()]),
        |i| config(seed.wrapping_add(i as u8)),
    );
    assert_eq!(
        secrets.epoch_authenticator.as_bytes(),
        members[0].epoch_authenticator().as_bytes()
    );
    (p, members, secrets)
}

#[track_caller]
fn assert_framing(result: Result<impl std::fmt::Debug, Error>, want: PeerMisbehaved) {
    match result {
        Err(Error::PeerMisbehaved(got)) => assert_eq!(got, want),
        other => panic!("expected framing error {want:?}, got {other:?}"),
    }
}

#[track_caller]
fn assert_send_from_copy(result: Result<impl std::fmt::Debug, Error>) {
    match result {
        Err(Error::ApiMisuse(ApiMisuse::SendFromCopy)) => {}
        other => panic!("expected SendFromCopy, got {other:?}"),
    }
}

// ----- (a) a copy rejects replays of what the original has received -----

#[test]
fn copy_rejects_replayed_application_message() {
    let (_, mut m, _) = live();
    let msg = m[1].protect_application(b"one").unwrap();
    let mut before = m[0].clone();
    assert_eq!(m[0].unprotect_application(&msg).unwrap(), b"one");
    let mut after = m[0].clone();

    assert_framing(
        after.unprotect_application(&msg),
        PeerMisbehaved::GenerationConsumed { generation: 0 },
    );
    assert_framing(
        m[0].unprotect_application(&msg),
        PeerMisbehaved::GenerationConsumed { generation: 0 },
    );
    // A copy taken before the original decrypted has the state of that moment: once.
    assert_eq!(before.unprotect_application(&msg).unwrap(), b"one");
    assert_framing(
        before.unprotect_application(&msg),
        PeerMisbehaved::GenerationConsumed { generation: 0 },
    );
    // The copy still receives what comes next, like the original.
    let next = m[1].protect_application(b"two").unwrap();
    assert_eq!(after.unprotect_application(&next).unwrap(), b"two");
    assert_eq!(m[0].unprotect_application(&next).unwrap(), b"two");
    // A copy of a copy too.
    assert_framing(
        after.clone().unprotect_application(&next),
        PeerMisbehaved::GenerationConsumed { generation: 1 },
    );
}

#[test]
fn copy_rejects_replayed_private_proposal() {
    let (_, mut m, _) = live();
    let proposal = m[1]
        .propose_remove(LeafIndex(3), Protection::Private)
        .unwrap();
    assert!(matches!(
        m[0].process(&proposal).unwrap(),
        ProcessOutcome::Proposal { sender, .. } if sender == canopy_engine::group::ProposalSender::Member(LeafIndex(1))
    ));
    let mut copy = m[0].clone();
    assert_framing(
        copy.process(&proposal),
        PeerMisbehaved::GenerationConsumed { generation: 0 },
    );
    // The copy kept the cached proposal: it can commit it (as a PublicMessage).
    assert_eq!(copy.pending_proposals().count(), 1);
    let out = copy.commit(&CommitOptions::default()).unwrap();
    assert_eq!(copy.member_count(), MEMBERS as usize - 1);
    assert!(matches!(
        m[2].process(&proposal).unwrap(),
        ProcessOutcome::Proposal { .. }
    ));
    assert!(matches!(
        m[2].process(&out.commit).unwrap(),
        ProcessOutcome::Committed { .. }
    ));
    assert_eq!(
        m[2].epoch_authenticator().as_bytes(),
        copy.epoch_authenticator().as_bytes()
    );
}

#[test]
fn copy_rejects_replayed_private_commit() {
    let (_, mut m, _) = live();
    let epoch = m[0].epoch();
    let out = m[1]
        .commit(
            &CommitOptions::new()
                .with_path()
                .protection(Protection::Private),
        )
        .unwrap();
    assert!(matches!(
        m[0].process(&out.commit).unwrap(),
        ProcessOutcome::Committed { .. }
    ));
    let mut copy = m[0].clone();
    assert_framing(
        copy.process(&out.commit),
        PeerMisbehaved::WrongEpoch {
            expected: epoch + 1,
            got: epoch,
        },
    );
    // A handshake message within the epoch, replayed after a copy was taken.
    let proposal = m[1]
        .propose_remove(LeafIndex(3), Protection::Private)
        .unwrap();
    m[0].process(&proposal).unwrap();
    let mut copy = m[0].clone();
    assert_framing(
        copy.process(&proposal),
        PeerMisbehaved::GenerationConsumed { generation: 0 },
    );
}

// ----- (b) a copy never sends with a key the original used -----

/// What a receiver that knows the epoch's secrets reads from a PrivateMessage: the sender,
/// ratchet and generation from the sender data, and the AEAD key and guarded nonce the
/// content was encrypted under.
#[derive(Debug, PartialEq, Eq)]
struct KeyUse {
    leaf: u32,
    kind: RatchetKind,
    generation: u32,
    key: Vec<u8>,
    nonce: Vec<u8>,
}

fn key_use(p: &Provider, secrets: &EpochSecrets, n_leaves: u32, bytes: &[u8]) -> KeyUse {
    let message: MlsMessage = codec::decode(bytes).unwrap();
    let MlsMessageBody::PrivateMessage(pm) = message.body else {
        panic!("not a PrivateMessage");
    };
    let PrivateMessage {
        group_id,
        epoch,
        content_type,
        encrypted_sender_data,
        ciphertext,
        ..
    } = pm;
    let (sd_key, sd_nonce) = sender_data_key_nonce(
        p,
        secrets.sender_data_secret.as_bytes(),
        ciphertext.as_slice(),
    )
    .unwrap();
    let aad = codec::encode(&SenderDataAad {
        group_id: group_id.as_slice(),
        epoch,
        content_type,
    })
    .unwrap();
    let sender_data: SenderData = codec::decode(
        &p.aead_open(
            sd_key.as_bytes(),
            sd_nonce.as_bytes(),
            &aad,
            encrypted_sender_data.as_slice(),
        )
        .unwrap(),
    )
    .unwrap();
    let kind = match content_type {
        ContentType::Application => RatchetKind::Application,
        _ => RatchetKind::Handshake,
    };
    // A fresh tree: every generation's key is still there.
    let key = SecretTree::new(secrets.encryption_secret.clone(), n_leaves)
        .key(
            p,
            LeafIndex(sender_data.leaf_index),
            kind,
            sender_data.generation,
        )
        .unwrap();
    let mut nonce = key.nonce.as_bytes().to_vec();
    for (b, g) in nonce.iter_mut().zip(sender_data.reuse_guard) {
        *b ^= g;
    }
    KeyUse {
        leaf: sender_data.leaf_index,
        kind,
        generation: sender_data.generation,
        key: key.key.as_bytes().to_vec(),
        nonce,
    }
}

/// Pairs of messages encrypted under the same ratchet generation, or the same key.
fn shared_keys(uses: &[KeyUse]) -> Vec<(usize, usize)> {
    let mut shared = Vec::new();
    for (i, a) in uses.iter().enumerate() {
        for (j, b) in uses.iter().enumerate().skip(i + 1) {
            if (a.leaf, a.kind, a.generation) == (b.leaf, b.kind, b.generation) || a.key == b.key {
                shared.push((i, j));
            }
        }
    }
    shared
}

#[test]
fn copy_cannot_send_private_messages_in_the_epoch() {
    let (p, mut m, secrets) = known_epoch(40);
    let n_leaves = m[0].tree().n_leaves();
    let epoch = m[0].epoch();
    let mut sent = vec![
        m[0].protect_application(b"before the copy").unwrap(),
        m[0].propose_remove(LeafIndex(3), Protection::Private)
            .unwrap(),
    ];
    let mut copy = m[0].clone();

    // Every way of sending a PrivateMessage fails on the copy, with the state unchanged.
    assert_send_from_copy(copy.protect_application(b"from the copy"));
    assert_send_from_copy(copy.propose_remove(LeafIndex(2), Protection::Private));
    assert_send_from_copy(copy.propose_update(Protection::Private));
    assert_send_from_copy(
        copy.commit(
            &CommitOptions::new()
                .with_path()
                .protection(Protection::Private),
        ),
    );
    assert_eq!(copy.epoch(), epoch);
    assert_eq!(copy.pending_proposals().count(), 1);
    // The original goes on sending.
    sent.push(m[0].protect_application(b"after the copy").unwrap());
    sent.push(
        m[0].propose_remove(LeafIndex(2), Protection::Private)
            .unwrap(),
    );
    sent.push(m[0].protect_application(b"and more").unwrap());

    // Every message sent in the epoch, read with the epoch's secrets: no generation and no
    // key used twice, and each generation is the next of its ratchet.
    let uses: Vec<KeyUse> = sent
        .iter()
        .map(|b| key_use(&p, &secrets, n_leaves, b))
        .collect();
    assert_eq!(shared_keys(&uses), []);
    let generations: Vec<(RatchetKind, u32)> =
        uses.iter().map(|u| (u.kind, u.generation)).collect();
    assert_eq!(
        generations,
        [
            (RatchetKind::Application, 0),
            (RatchetKind::Handshake, 0),
            (RatchetKind::Application, 1),
            (RatchetKind::Handshake, 1),
            (RatchetKind::Application, 2),
        ]
    );
    // The receivers accept them all, in order.
    for (i, b) in sent.iter().enumerate() {
        if i % 2 == 0 {
            m[1].unprotect_application(b).unwrap();
        } else {
            m[1].process(b).unwrap();
        }
    }

    // A PublicMessage commit is still possible from the copy (it commits the proposal the
    // original sent before the copy was taken), and in its new epoch the copy sends normally.
    let mut receiver = m[2].clone();
    receiver.process(&sent[1]).unwrap();
    let out = copy.commit(&CommitOptions::new().with_path()).unwrap();
    let app = copy.protect_application(b"new epoch").unwrap();
    receiver.process(&out.commit).unwrap();
    assert_eq!(receiver.unprotect_application(&app).unwrap(), b"new epoch");
}

/// The check above can fail: two states restored from one saved state (what a copy that
/// restarts its ratchets amounts to) with the same seeded randomness send under the same
/// generation, key and nonce.
#[test]
fn key_reuse_check_detects_restored_states() {
    let (p, a, secrets) = known_epoch(40);
    let (_, b, _) = known_epoch(40);
    let n_leaves = a[0].tree().n_leaves();
    let (mut a, mut b) = (a.into_iter().next().unwrap(), b.into_iter().next().unwrap());
    let uses = [
        key_use(
            &p,
            &secrets,
            n_leaves,
            &a.protect_application(b"a").unwrap(),
        ),
        key_use(
            &p,
            &secrets,
            n_leaves,
            &b.protect_application(b"b").unwrap(),
        ),
    ];
    assert_eq!(shared_keys(&uses), [(0, 1)]);
    assert_eq!(uses[0], uses[1]);
}

// ----- (c) the group keeps no consumed key-schedule secret -----

/// The secrets consumed once an epoch is set up (RFC 9420 §9.2).
fn consumed(s: &EpochSecrets) -> [(&'static str, &Secret); 4] {
    [
        ("joiner_secret", &s.joiner_secret),
        ("welcome_secret", &s.welcome_secret),
        ("epoch_secret", &s.epoch_secret),
        ("encryption_secret", &s.encryption_secret),
    ]
}

/// The secrets kept for the epoch.
fn retained(s: &EpochSecrets) -> [(&'static str, &Secret); 8] {
    [
        ("sender_data_secret", &s.sender_data_secret),
        ("exporter_secret", &s.exporter_secret),
        ("external_secret", &s.external_secret),
        ("confirmation_key", &s.confirmation_key),
        ("membership_key", &s.membership_key),
        ("resumption_psk", &s.resumption_psk),
        ("epoch_authenticator", &s.epoch_authenticator),
        ("init_secret", &s.init_secret),
    ]
}

fn tree_child(p: &Provider, secret: &Secret, side: &[u8]) -> Secret {
    p.expand_with_label(secret.as_bytes(), b"tree", side, p.hash_len() as u16)
        .unwrap()
}

/// `g` is in the epoch of `s` and holds exactly what it should of it.
#[track_caller]
fn assert_epoch_secrets_held(who: &str, p: &Provider, g: &Group, s: &EpochSecrets) {
    assert_eq!(
        g.epoch_authenticator().as_bytes(),
        s.epoch_authenticator.as_bytes(),
        "{who}: not in this epoch"
    );
    for (name, secret) in consumed(s) {
        assert!(
            !g.holds_secret(secret.as_bytes()),
            "{who} still holds {name}"
        );
    }
    for (name, secret) in retained(s) {
        assert!(g.holds_secret(secret.as_bytes()), "{who} lost {name}");
    }
    // The secret tree is searched too: the root's children are there until used.
    let left = tree_child(p, &s.encryption_secret, b"left");
    let right = tree_child(p, &s.encryption_secret, b"right");
    assert!(
        g.holds_secret(left.as_bytes()) || g.holds_secret(right.as_bytes()),
        "{who}: the secret tree's top nodes are not found"
    );
}

/// No secret of the epoch `s` at all (a past epoch).
#[track_caller]
fn assert_epoch_secrets_gone(who: &str, g: &Group, s: &EpochSecrets) {
    for (name, secret) in consumed(s).into_iter().chain(retained(s)) {
        // The resumption PSK of past epochs is kept on purpose (RFC 9420 §8.6).
        if name != "resumption_psk" {
            assert!(
                !g.holds_secret(secret.as_bytes()),
                "{who} still holds the past epoch's {name}"
            );
        }
    }
}

#[test]
fn epoch_set_up_deletes_consumed_secrets() {
    let (p, mut m, first) = known_epoch(60);
    // Set up from a joiner secret (the path of create and of every join).
    for (i, g) in m.iter().enumerate() {
        assert_epoch_secrets_held(&format!("member {i} (from_parts)"), &p, g, &first);
    }

    // Commit with an Add and a path, processed by the others, joined by the new member.
    let (new_kp, new_secrets) = kp(&p, 99);
    let out = m[0]
        .commit(
            &CommitOptions::new()
                .adds(vec![new_kp.clone()])
                .with_path()
                .ratchet_tree_in_welcome(),
        )
        .unwrap();
    for g in m.iter_mut().skip(1) {
        g.process(&out.commit).unwrap();
    }
    let welcome_bytes = out.welcome.unwrap();
    let joiner = Group::join(p, &welcome_bytes, &new_kp, &new_secrets, config(70)).unwrap();
    let MlsMessageBody::Welcome(w) = codec::decode::<MlsMessage>(&welcome_bytes).unwrap().body
    else {
        panic!("not a Welcome");
    };
    let second = welcome::join(
        &p,
        &w,
        &new_kp,
        &new_secrets.init_key,
        |_| None,
        |gi: &codec::GroupInfo| {
            m[0].tree()
                .leaf(LeafIndex(gi.signer))
                .map(|l| l.signature_key().to_vec())
        },
    )
    .unwrap()
    .epoch_secrets;
    assert_epoch_secrets_held("committer", &p, &m[0], &second);
    for (i, g) in m.iter().enumerate().skip(1) {
        assert_epoch_secrets_held(&format!("member {i} (process)"), &p, g, &second);
        assert_epoch_secrets_gone(&format!("member {i} (process)"), g, &first);
    }
    assert_epoch_secrets_held("joiner", &p, &joiner, &second);
    assert_epoch_secrets_gone("committer", &m[0], &first);
    // A copy holds no more than the original.
    assert_epoch_secrets_held("copy", &p, &m[0].clone(), &second);

    // Messages change nothing about the key-schedule secrets; the keys they used are gone.
    let msg = m[1].protect_application(b"hello").unwrap();
    let mut joiner = joiner;
    assert_eq!(joiner.unprotect_application(&msg).unwrap(), b"hello");
    let used = SecretTree::new(second.encryption_secret.clone(), m[1].tree().n_leaves())
        .key(&p, LeafIndex(1), RatchetKind::Application, 0)
        .unwrap();
    for (who, g) in [("sender", &m[1]), ("receiver", &joiner)] {
        assert_epoch_secrets_held(who, &p, g, &second);
        assert!(
            !g.holds_secret(used.key.as_bytes()),
            "{who} kept the used key"
        );
        assert!(
            !g.holds_secret(used.nonce.as_bytes()),
            "{who} kept the used nonce"
        );
    }
}

// ----- (d) the secret tree deletes consumed node secrets, ratchet secrets and keys -----

#[test]
fn secret_tree_deletes_what_it_consumed() {
    let p = provider();
    let nh = p.hash_len() as u16;
    let nk = p.aead_key_len() as u16;
    let left = |s: &Secret| tree_child(&p, s, b"left");
    let right = |s: &Secret| tree_child(&p, s, b"right");
    // Eight leaves: root 7; leaf 2 is node 4 under 5 under 3.
    let encryption_secret = Secret::new((0..32).map(|i| i * 7 + 1).collect());
    let n7 = encryption_secret.clone();
    let (n3, n11) = (left(&n7), right(&n7));
    let (n1, n5) = (left(&n3), right(&n3));
    let (n4, n6) = (left(&n5), right(&n5));
    let ratchet = |s: &Secret, label: &[u8]| p.expand_with_label(s.as_bytes(), label, &[], nh);
    let hr0 = ratchet(&n4, b"handshake").unwrap();
    // Application ratchet secrets AR0..AR5 of leaf 2, and the key of each generation.
    let mut ar = vec![ratchet(&n4, b"application").unwrap()];
    for g in 0..5u32 {
        let next = p
            .derive_tree_secret(ar[g as usize].as_bytes(), b"secret", g, nh)
            .unwrap();
        ar.push(next);
    }
    let k: Vec<Secret> = (0..5u32)
        .map(|g| {
            p.derive_tree_secret(ar[g as usize].as_bytes(), b"key", g, nk)
                .unwrap()
        })
        .collect();

    let mut tree = SecretTree::new(encryption_secret, 8).with_out_of_order_tolerance(2);
    assert_eq!(tree.node_secret_count(), 1);
    assert!(tree.holds_secret(n7.as_bytes()));
    tree.split_root(&p).unwrap();
    assert_eq!(tree.node_secret_count(), 2);
    assert!(!tree.holds_secret(n7.as_bytes()), "encryption_secret kept");
    assert!(tree.holds_secret(n3.as_bytes()) && tree.holds_secret(n11.as_bytes()));

    // Generation 3 of leaf 2's application ratchet: the path to the leaf and the ratchet up
    // to AR3 are consumed; the siblings off the path, the handshake ratchet, AR4 and the keys
    // of the two skipped generations within the tolerance remain.
    let key3 = tree
        .key(&p, LeafIndex(2), RatchetKind::Application, 3)
        .unwrap();
    assert_eq!(key3.key, k[3]);
    let held = |tree: &SecretTree, s: &Secret| tree.holds_secret(s.as_bytes());
    for (name, s) in [("n3", &n3), ("n5", &n5), ("leaf 2", &n4)] {
        assert!(!held(&tree, s), "node secret {name} kept after its split");
    }
    for (name, s) in [("n11", &n11), ("n1", &n1), ("n6", &n6), ("HR0", &hr0)] {
        assert!(held(&tree, s), "{name} deleted before use");
    }
    assert_eq!(tree.node_secret_count(), 3);
    assert_eq!(tree.ratchet_count(), 2);
    for (g, s) in ar.iter().enumerate().take(4) {
        assert!(!held(&tree, s), "AR{g} kept after the ratchet moved");
    }
    assert!(held(&tree, &ar[4]));
    assert!(!held(&tree, &k[0]), "key 0 kept beyond the tolerance");
    assert!(held(&tree, &k[1]) && held(&tree, &k[2]));
    assert!(!held(&tree, &k[3]), "used key kept");

    // A retained key is deleted once used.
    tree.key(&p, LeafIndex(2), RatchetKind::Application, 2)
        .unwrap();
    assert!(!held(&tree, &k[2]) && held(&tree, &k[1]));
    // Moving on drops what falls out of the window.
    tree.key(&p, LeafIndex(2), RatchetKind::Application, 4)
        .unwrap();
    assert!(!held(&tree, &k[1]) && !held(&tree, &k[4]) && !held(&tree, &ar[4]));
    assert!(held(&tree, &ar[5]));

    // Leaf 3 (node 6) splits into its ratchets: its node secret goes.
    tree.key(&p, LeafIndex(3), RatchetKind::Handshake, 0)
        .unwrap();
    assert!(!held(&tree, &n6));
    assert_eq!(tree.node_secret_count(), 2);
    assert_eq!(tree.ratchet_count(), 4);
}
