//! Canopy ↔ openmls / mls-rs interop of the protocol features beyond plain commits, over
//! serialized bytes only, with agreement (epoch, epoch authenticator, an exported secret and
//! the ratchet tree) checked after every step:
//!
//! - external commits (RFC 9420 §12.4.3.2) made by each side from the other's GroupInfo,
//!   including a resync (an external commit that removes the joiner's own old leaf), in every
//!   cipher suite each peer runs;
//! - proposals from an external sender listed in the group context (§12.1.8.1): a Remove and
//!   an Add made by Canopy's `external_proposal` and by openmls's `ExternalProposal`,
//!   processed by every member and committed by reference by either side; the added member
//!   joins from the Welcome;
//! - ReInit (§11.2): a ReInit committed by either side, the successor group started by the
//!   side that committed it or by the one that processed it, the other joining it from its
//!   Welcome with the resumption PSK of the old group.
//!
//! External senders and ReInit run in suite 1.
//!
//! What a peer cannot do is stated where the test stops short, and asserted (so a change in
//! the peer shows up here).

use canopy_bench::peers::{new_member, new_member_in, CommitOp, PeerKind, PeerMember};
use canopy_engine::codec::{
    self, CipherSuiteId, Credential, ExternalSender, MlsMessage, MlsMessageBody, Proposal,
    ProtocolVersion, ReInit, Remove, SignaturePublicKey,
};
use canopy_engine::crypto::{CipherSuite, Provider, SignaturePrivateKey};
use canopy_engine::group::external_senders::{external_proposal, external_senders_extension};
use canopy_engine::group::{CommitOptions, Group, GroupConfig, ProcessOutcome, ProposalSender};
use canopy_engine::key_package::key_package;
use canopy_engine::tree::LeafIndex;
use canopy_engine::ApiMisuse;
use canopy_engine::Error;
use canopy_engine::ExternalJoinOptions;
use canopy_engine::JoinOptions;
use canopy_engine::TreeDelivery;

fn provider() -> Provider {
    Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519)
}

/// Every (peer, suite) the peer runs: the cases of the suite-parametrised tests.
fn peer_suites() -> Vec<(PeerKind, CipherSuite)> {
    let cases: Vec<(PeerKind, CipherSuite)> = PeerKind::ALL
        .into_iter()
        .flat_map(|k| {
            k.suites().into_iter().map(move |s| {
                (
                    k,
                    CipherSuite::from_u16(s).expect("a suite Canopy implements"),
                )
            })
        })
        .collect();
    // openmls runs 4 suites (X-Wing among them) and mls-rs 7 (its two ML-KEM suites among
    // them; bench/tests/peers.rs pins which).
    assert_eq!(cases.len(), 11);
    cases
}

fn signer(p: &Provider) -> SignaturePrivateKey {
    p.generate_signature_key_pair().0
}

/// Every peer member agrees with `canopy`: epoch, epoch authenticator, an exported secret and
/// the whole ratchet tree.
fn agree(step: &str, canopy: &Group, peers: &[&dyn PeerMember]) {
    let auth = canopy.epoch_authenticator().as_bytes().to_vec();
    let export = canopy.export_secret(b"interop", b"ctx", 32).unwrap();
    let tree = canopy.ratchet_tree_bytes().unwrap();
    for p in peers {
        let who = format!("{step}: {}", p.kind());
        assert_eq!(p.epoch(), canopy.epoch(), "{who}: epoch");
        assert_eq!(p.epoch_authenticator(), auth, "{who}: epoch authenticator");
        assert_eq!(
            p.export_secret("interop", b"ctx", 32).unwrap(),
            export.as_bytes(),
            "{who}: exported secret"
        );
        assert_eq!(p.ratchet_tree().unwrap(), tree, "{who}: ratchet tree");
    }
}

/// Two Canopy members agree.
fn agree_canopy(step: &str, a: &Group, b: &Group) {
    assert_eq!(a.epoch(), b.epoch(), "{step}: epoch");
    assert_eq!(
        a.epoch_authenticator().as_bytes(),
        b.epoch_authenticator().as_bytes(),
        "{step}: epoch authenticator"
    );
    assert_eq!(
        a.export_secret(b"interop", b"ctx", 32).unwrap().as_bytes(),
        b.export_secret(b"interop", b"ctx", 32).unwrap().as_bytes(),
        "{step}: exported secret"
    );
}

fn kp_bytes(kp: &codec::KeyPackage) -> Vec<u8> {
    codec::encode(&MlsMessage {
        version: ProtocolVersion::MLS10,
        body: MlsMessageBody::KeyPackage(kp.clone()),
    })
    .unwrap()
}

fn decode_kp(bytes: &[u8]) -> codec::KeyPackage {
    match codec::decode::<MlsMessage>(bytes).unwrap().body {
        MlsMessageBody::KeyPackage(kp) => kp,
        _ => panic!("not a KeyPackage"),
    }
}

/// The Remove proposals inlined in a commit (`MLSMessage(PublicMessage)` bytes), by leaf.
fn inline_removes(commit: &[u8]) -> Vec<u32> {
    let MlsMessageBody::PublicMessage(pm) = codec::decode::<MlsMessage>(commit).unwrap().body
    else {
        panic!("not a PublicMessage")
    };
    let codec::FramedContentBody::Commit(c) = pm.content.content else {
        panic!("not a commit")
    };
    c.proposals
        .iter()
        .filter_map(|p| match p {
            codec::ProposalOrRef::Proposal(Proposal::Remove(r)) => Some(r.removed),
            _ => None,
        })
        .collect()
}

/// The types of the proposals inlined in a commit (`MLSMessage(PublicMessage)` bytes).
fn inline_proposal_types(commit: &[u8]) -> Vec<codec::ProposalType> {
    let MlsMessageBody::PublicMessage(pm) = codec::decode::<MlsMessage>(commit).unwrap().body
    else {
        panic!("not a PublicMessage")
    };
    let codec::FramedContentBody::Commit(c) = pm.content.content else {
        panic!("not a commit")
    };
    c.proposals
        .iter()
        .filter_map(|p| match p {
            codec::ProposalOrRef::Proposal(p) => Some(p.proposal_type()),
            _ => None,
        })
        .collect()
}

fn committed(outcome: ProcessOutcome) {
    assert!(
        matches!(outcome, ProcessOutcome::Committed { .. }),
        "{outcome:?}"
    );
}

/// Application messages both ways between `canopy` and `peer`.
fn talk(canopy: &mut Group, peer: &mut dyn PeerMember) {
    let msg = canopy.protect_application(b"from canopy").unwrap();
    assert_eq!(peer.unprotect(&msg).unwrap(), b"from canopy");
    let msg = peer.protect(b"from the peer").unwrap();
    assert_eq!(
        canopy.unprotect_application(&msg).unwrap(),
        b"from the peer"
    );
}

// ---------------------------------------------------------------------------------------------
// External commits
// ---------------------------------------------------------------------------------------------

/// A Canopy group (two Canopy members); the peer joins by external commit from Canopy's
/// GroupInfo (tree in it, or out of band) and both Canopy members process the commit; the
/// joiner then commits and Canopy commits (the joiner's state is usable); then the peer
/// resyncs: a second external commit that removes its own old leaf (openmls adds that Remove
/// on its own, for the leaf with its signature key; mls-rs with `with_removal`). In every
/// suite each peer runs.
#[test]
fn peer_joins_canopy_group_by_external_commit_and_resyncs() {
    let mut checked = 0;
    for (kind, suite) in peer_suites() {
        let p = Provider::new(suite);
        for with_tree in [true, false] {
            let step = |s: &str| {
                format!(
                    "{kind}, suite {}, tree in GroupInfo {with_tree}: {s}",
                    suite.id()
                )
            };
            let mut canopy = Group::create(
                p,
                b"external-into-canopy",
                b"canopy",
                signer(&p),
                GroupConfig::default(),
            )
            .unwrap();
            let (kp, secrets) = key_package(&p, b"canopy-2").unwrap();
            let out = canopy
                .commit(
                    &CommitOptions::new()
                        .adds(vec![kp.clone()])
                        .ratchet_tree_in_welcome(),
                )
                .unwrap();
            let mut canopy2 = Group::join(
                p,
                out.welcome.as_ref().unwrap(),
                &kp,
                &secrets,
                GroupConfig::default(),
            )
            .unwrap();

            // The peer joins.
            let mut peer = new_member_in(kind, suite.id(), b"peer").unwrap();
            let gi = canopy
                .group_info(if with_tree {
                    TreeDelivery::Included
                } else {
                    TreeDelivery::OutOfBand
                })
                .unwrap();
            let tree = canopy.ratchet_tree_bytes().unwrap();
            let commit = peer
                .join_external(&gi, (!with_tree).then_some(&tree[..]), None)
                .unwrap();
            assert!(inline_removes(&commit).is_empty());
            committed(canopy.process(&commit).unwrap());
            committed(canopy2.process(&commit).unwrap());
            agree(&step("external join"), &canopy, &[&*peer]);
            agree_canopy(&step("external join"), &canopy, &canopy2);
            assert_eq!(canopy.member_count(), 3);
            assert_eq!(peer.own_leaf(), 2);

            // The joiner commits; then Canopy does.
            let out = peer.commit(CommitOp::Update, false).unwrap();
            committed(canopy.process(&out.commit).unwrap());
            committed(canopy2.process(&out.commit).unwrap());
            agree(&step("joiner's commit"), &canopy, &[&*peer]);
            let out = canopy.commit(&CommitOptions::new().with_path()).unwrap();
            peer.process(&out.commit).unwrap();
            committed(canopy2.process(&out.commit).unwrap());
            agree(&step("Canopy's commit"), &canopy, &[&*peer]);
            talk(&mut canopy, &mut *peer);

            // The peer resyncs from a GroupInfo made by the other Canopy member.
            let old_leaf = peer.own_leaf();
            let gi = canopy2
                .group_info(if with_tree {
                    TreeDelivery::Included
                } else {
                    TreeDelivery::OutOfBand
                })
                .unwrap();
            let tree = canopy2.ratchet_tree_bytes().unwrap();
            let epoch = canopy.epoch();
            let commit = peer
                .join_external(&gi, (!with_tree).then_some(&tree[..]), Some(old_leaf))
                .unwrap();
            assert_eq!(inline_removes(&commit), vec![old_leaf]);
            committed(canopy.process(&commit).unwrap());
            committed(canopy2.process(&commit).unwrap());
            assert_eq!(canopy.epoch(), epoch + 1);
            agree(&step("resync"), &canopy, &[&*peer]);
            agree_canopy(&step("resync"), &canopy, &canopy2);
            assert_eq!(canopy.member_count(), 3);
            // The freed leaf is the leftmost free one: the joiner is back in it.
            assert_eq!(peer.own_leaf(), old_leaf);
            let out = peer.commit(CommitOp::Empty, false).unwrap();
            committed(canopy.process(&out.commit).unwrap());
            committed(canopy2.process(&out.commit).unwrap());
            agree(&step("after the resync"), &canopy, &[&*peer]);
            talk(&mut canopy, &mut *peer);
            checked += 1;
        }
    }
    assert_eq!(checked, 22);
}

/// A peer group (two members of the peer); Canopy joins by external commit from the peer's
/// GroupInfo (tree in it, or out of band) and both peer members process the commit; Canopy
/// and the peer commit; then Canopy resyncs (removing its own old leaf, same identity and
/// signature key) from a GroupInfo made by the other peer member. In every suite each peer
/// runs.
#[test]
fn canopy_joins_peer_group_by_external_commit_and_resyncs() {
    let mut checked = 0;
    for (kind, suite) in peer_suites() {
        let p = Provider::new(suite);
        for with_tree in [true, false] {
            let step = |s: &str| {
                format!(
                    "{kind}, suite {}, tree in GroupInfo {with_tree}: {s}",
                    suite.id()
                )
            };
            let mut creator = new_member_in(kind, suite.id(), b"creator").unwrap();
            creator.create_group(b"external-into-peer").unwrap();
            let mut other = new_member_in(kind, suite.id(), b"other").unwrap();
            let out = creator
                .commit(CommitOp::Add(vec![other.key_package().unwrap()]), true)
                .unwrap();
            other.join(out.welcome.as_ref().unwrap(), None).unwrap();

            // Canopy joins.
            let key = signer(&p);
            let gi = creator.group_info(with_tree).unwrap();
            let tree = creator.ratchet_tree().unwrap();
            let (mut canopy, commit) = Group::join_external(
                p,
                &gi,
                ExternalJoinOptions::new(b"canopy".to_vec(), key.clone())
                    .ratchet_tree((!with_tree).then_some(&tree[..]))
                    .config(GroupConfig::default()),
            )
            .unwrap();
            creator.process(&commit).unwrap();
            other.process(&commit).unwrap();
            agree(&step("external join"), &canopy, &[&*creator, &*other]);
            assert_eq!(canopy.member_count(), 3);
            assert_eq!(canopy.own_leaf(), LeafIndex(2));

            // Canopy commits; then the peer does.
            let out = canopy.commit(&CommitOptions::new().with_path()).unwrap();
            creator.process(&out.commit).unwrap();
            other.process(&out.commit).unwrap();
            agree(&step("joiner's commit"), &canopy, &[&*creator, &*other]);
            let out = creator.commit(CommitOp::Update, false).unwrap();
            committed(canopy.process(&out.commit).unwrap());
            other.process(&out.commit).unwrap();
            agree(&step("peer's commit"), &canopy, &[&*creator, &*other]);
            talk(&mut canopy, &mut *creator);

            // Canopy resyncs.
            let old_leaf = canopy.own_leaf();
            let gi = other.group_info(with_tree).unwrap();
            let tree = other.ratchet_tree().unwrap();
            let (mut canopy, commit) = Group::join_external(
                p,
                &gi,
                ExternalJoinOptions::new(b"canopy".to_vec(), key.clone())
                    .ratchet_tree((!with_tree).then_some(&tree[..]))
                    .resync(old_leaf)
                    .config(GroupConfig::default()),
            )
            .unwrap();
            assert_eq!(inline_removes(&commit), vec![old_leaf.0]);
            creator.process(&commit).unwrap();
            other.process(&commit).unwrap();
            agree(&step("resync"), &canopy, &[&*creator, &*other]);
            assert_eq!(canopy.member_count(), 3);
            assert_eq!(canopy.own_leaf(), old_leaf);
            let out = other.commit(CommitOp::Empty, false).unwrap();
            committed(canopy.process(&out.commit).unwrap());
            creator.process(&out.commit).unwrap();
            agree(&step("after the resync"), &canopy, &[&*creator, &*other]);
            talk(&mut canopy, &mut *other);
            checked += 1;
        }
    }
    assert_eq!(checked, 22);
}

// ---------------------------------------------------------------------------------------------
// External senders
// ---------------------------------------------------------------------------------------------

/// openmls's external-proposal API (`ExternalProposal::new_remove` / `new_add`), signing as
/// the delivery service at `sender_index` with an openmls key pair.
mod openmls_ds {
    use openmls::prelude::tls_codec::{DeserializeBytes as _, Serialize as _};
    use openmls::prelude::{
        ExternalProposal, GroupEpoch, GroupId, LeafNodeIndex, MlsMessageBodyIn, MlsMessageIn,
        ProtocolVersion, SenderExtensionIndex, SignatureScheme,
    };
    use openmls_basic_credential::SignatureKeyPair;
    use openmls_rust_crypto::OpenMlsRustCrypto;
    use openmls_traits::OpenMlsProvider as _;

    pub(crate) struct Ds {
        pub key: SignatureKeyPair,
        pub index: u32,
    }

    impl Ds {
        pub(crate) fn new(index: u32) -> Self {
            Ds {
                key: SignatureKeyPair::new(SignatureScheme::ED25519).unwrap(),
                index,
            }
        }

        pub(crate) fn public_key(&self) -> Vec<u8> {
            self.key.to_public_vec()
        }

        pub(crate) fn remove(&self, group_id: &[u8], epoch: u64, leaf: u32) -> Vec<u8> {
            ExternalProposal::new_remove::<OpenMlsRustCrypto>(
                LeafNodeIndex::new(leaf),
                GroupId::from_slice(group_id),
                GroupEpoch::from(epoch),
                &self.key,
                SenderExtensionIndex::new(self.index),
            )
            .unwrap()
            .tls_serialize_detached()
            .unwrap()
        }

        pub(crate) fn add(&self, group_id: &[u8], epoch: u64, key_package: &[u8]) -> Vec<u8> {
            let provider = OpenMlsRustCrypto::default();
            let MlsMessageBodyIn::KeyPackage(kp) =
                MlsMessageIn::tls_deserialize_exact_bytes(key_package)
                    .unwrap()
                    .extract()
            else {
                panic!("not a KeyPackage")
            };
            let kp = kp
                .validate(provider.crypto(), ProtocolVersion::Mls10)
                .unwrap();
            ExternalProposal::new_add::<OpenMlsRustCrypto>(
                kp,
                GroupId::from_slice(group_id),
                GroupEpoch::from(epoch),
                &self.key,
                SenderExtensionIndex::new(self.index),
            )
            .unwrap()
            .tls_serialize_detached()
            .unwrap()
        }
    }
}

/// A group of Canopy (creator), the peer and a Canopy member to be removed, whose context
/// (set by Canopy's first commit) lists two external senders: a delivery service signing with
/// Canopy's `external_proposal` (index 0) and one signing with openmls's `ExternalProposal`
/// (index 1).
///
/// Round 1: delivery service 0 proposes the Remove of the Canopy member and the Add of a
/// Canopy KeyPackage; every member processes both; the PEER commits them by reference;
/// Canopy processes the commit, the removed member learns it is out, and the new member
/// joins from the peer's Welcome.
///
/// Round 2: delivery service 1 (openmls's API) proposes the Remove of that new member and the
/// Add of a KeyPackage of the peer's implementation; everyone processes both; CANOPY commits
/// them by reference; the peer processes the commit and the new peer member joins from
/// Canopy's Welcome.
#[test]
fn external_sender_remove_and_add_committed_by_either_side() {
    let p = provider();
    for kind in PeerKind::ALL {
        let step = |s: &str| format!("{kind}: {s}");
        let ds0 = signer(&p);
        let ds1 = openmls_ds::Ds::new(1);
        let senders = [
            ExternalSender {
                signature_key: SignaturePublicKey(ds0.public_key().into()),
                credential: Credential::Basic {
                    identity: b"delivery-service-0".to_vec().into(),
                },
            },
            ExternalSender {
                signature_key: SignaturePublicKey(ds1.public_key().into()),
                credential: Credential::Basic {
                    identity: b"delivery-service-1".to_vec().into(),
                },
            },
        ];
        let mut canopy = Group::create(
            p,
            b"external-senders",
            b"canopy",
            signer(&p),
            GroupConfig::default(),
        )
        .unwrap();
        let mut peer = new_member(kind, b"peer").unwrap();
        let (victim_kp, victim_secrets) = key_package(&p, b"victim").unwrap();
        let out = canopy
            .commit(
                &CommitOptions::new()
                    .adds(vec![
                        decode_kp(&peer.key_package().unwrap()),
                        victim_kp.clone(),
                    ])
                    .group_context_extensions(vec![external_senders_extension(&senders).unwrap()])
                    .ratchet_tree_in_welcome(),
            )
            .unwrap();
        peer.join(out.welcome.as_ref().unwrap(), None).unwrap();
        let mut victim = Group::join(
            p,
            out.welcome.as_ref().unwrap(),
            &victim_kp,
            &victim_secrets,
            GroupConfig::default(),
        )
        .unwrap();
        agree(&step("group with external senders"), &canopy, &[&*peer]);
        agree_canopy(&step("group with external senders"), &canopy, &victim);
        let gid = canopy.context().group_id.as_slice().to_vec();

        // Round 1: Canopy-made external proposals, committed by the peer.
        let victim_leaf = victim.own_leaf().0;
        let (new_kp, new_secrets) = key_package(&p, b"new-canopy").unwrap();
        let remove = external_proposal(
            &p,
            &ds0,
            0,
            &gid,
            canopy.epoch(),
            Proposal::Remove(Remove {
                removed: victim_leaf,
            }),
        )
        .unwrap();
        let add = external_proposal(
            &p,
            &ds0,
            0,
            &gid,
            canopy.epoch(),
            Proposal::Add(codec::Add {
                key_package: new_kp.clone(),
            }),
        )
        .unwrap();
        for (proposal, ty) in [
            (&remove, codec::ProposalType::REMOVE),
            (&add, codec::ProposalType::ADD),
        ] {
            for g in [&mut canopy, &mut victim] {
                assert_eq!(
                    g.process(proposal).unwrap(),
                    ProcessOutcome::Proposal {
                        sender: ProposalSender::External(0),
                        proposal_type: ty,
                    }
                );
            }
            peer.process(proposal).unwrap();
        }
        let out = peer.commit(CommitOp::Empty, true).unwrap();
        committed(canopy.process(&out.commit).unwrap());
        assert_eq!(
            victim.process(&out.commit).unwrap(),
            ProcessOutcome::Removed
        );
        agree(&step("peer commits DS 0's proposals"), &canopy, &[&*peer]);
        let newcomer = Group::join(
            p,
            out.welcome
                .as_ref()
                .expect("a Welcome for the external Add"),
            &new_kp,
            &new_secrets,
            JoinOptions::from(GroupConfig::default()).ratchet_tree(out.ratchet_tree.as_deref()),
        )
        .unwrap();
        agree_canopy(&step("newcomer joins"), &canopy, &newcomer);
        assert_eq!(canopy.member_count(), 3);
        let mut identities: Vec<Vec<u8>> = canopy
            .tree()
            .leaves()
            .map(|(_, l)| match &l.decode().credential {
                Credential::Basic { identity } => identity.as_slice().to_vec(),
                _ => unreachable!(),
            })
            .collect();
        identities.sort();
        assert_eq!(
            identities,
            [&b"canopy"[..], b"new-canopy", b"peer"].map(|s| s.to_vec())
        );

        // Round 2: openmls-made external proposals, committed by Canopy.
        let mut newcomer = newcomer;
        let newcomer_leaf = newcomer.own_leaf().0;
        let mut new_peer = new_member(kind, b"new-peer").unwrap();
        let new_peer_kp = new_peer.key_package().unwrap();
        let remove = ds1.remove(&gid, canopy.epoch(), newcomer_leaf);
        let add = ds1.add(&gid, canopy.epoch(), &new_peer_kp);
        for (proposal, ty) in [
            (&remove, codec::ProposalType::REMOVE),
            (&add, codec::ProposalType::ADD),
        ] {
            for g in [&mut canopy, &mut newcomer] {
                assert_eq!(
                    g.process(proposal).unwrap(),
                    ProcessOutcome::Proposal {
                        sender: ProposalSender::External(1),
                        proposal_type: ty,
                    }
                );
            }
            peer.process(proposal).unwrap();
        }
        let out = canopy
            .commit(&CommitOptions::new().ratchet_tree_in_welcome())
            .unwrap();
        assert!(out.omitted.is_empty());
        peer.process(&out.commit).unwrap();
        assert_eq!(
            newcomer.process(&out.commit).unwrap(),
            ProcessOutcome::Removed
        );
        new_peer
            .join(out.welcome.as_ref().expect("a Welcome"), None)
            .unwrap();
        agree(
            &step("Canopy commits DS 1's proposals"),
            &canopy,
            &[&*peer, &*new_peer],
        );
        assert_eq!(canopy.member_count(), 3);
        talk(&mut canopy, &mut *new_peer);
    }
}

// ---------------------------------------------------------------------------------------------
// ReInit
// ---------------------------------------------------------------------------------------------

fn reinit_to(group_id: &[u8]) -> ReInit {
    ReInit {
        group_id: group_id.to_vec().into(),
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuiteId(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519.id()),
        extensions: Vec::new(),
    }
}

/// A Canopy group with one peer member (joined from Canopy's Welcome).
fn canopy_and_peer(
    kind: PeerKind,
    group_id: &[u8],
) -> (Group, SignaturePrivateKey, Box<dyn PeerMember>) {
    let p = provider();
    let key = signer(&p);
    let mut canopy =
        Group::create(p, group_id, b"canopy", key.clone(), GroupConfig::default()).unwrap();
    let mut peer = new_member(kind, b"peer").unwrap();
    let out = canopy
        .commit(
            &CommitOptions::new()
                .adds(vec![decode_kp(&peer.key_package().unwrap())])
                .ratchet_tree_in_welcome(),
        )
        .unwrap();
    peer.join(out.welcome.as_ref().unwrap(), None).unwrap();
    (canopy, key, peer)
}

/// Canopy commits a ReInit; the peer processes it. Canopy starts the successor
/// (`reinit_successor`) with the peer's successor KeyPackage; the peer joins it from the
/// Welcome (mls-rs: `ReinitClient::join`, which checks the new group against the ReInit and
/// the old roster).
///
/// openmls 0.9.2 processes the ReInit commit (agreement checked) but cannot join the
/// successor: it joins from a Welcome with a fresh, empty resumption-PSK store (the old
/// group's resumption secret is never consulted), so the Welcome's `reinit` resumption PSK
/// is not found (`PskError::KeyNotFound`). Nor does it close the old group: it still commits
/// there (Canopy refuses that commit, `ApiMisuse::ReInitialized`). Both asserted.
#[test]
fn reinit_committed_by_canopy_successor_started_by_canopy() {
    for kind in PeerKind::ALL {
        let step = |s: &str| format!("{kind}: {s}");
        let (mut canopy, key, mut peer) = canopy_and_peer(kind, b"reinit-by-canopy");
        let out = canopy
            .commit(&CommitOptions::new().reinit(reinit_to(b"successor-of-canopy")))
            .unwrap();
        peer.process(&out.commit).unwrap();
        agree(&step("ReInit committed"), &canopy, &[&*peer]);

        let kp = peer.reinit_key_package().unwrap();
        let (mut successor, out) = canopy
            .reinit_successor(key.clone(), vec![decode_kp(&kp)], GroupConfig::default())
            .unwrap();
        assert_eq!(successor.epoch(), 1);
        assert_eq!(
            successor.context().group_id.as_slice(),
            b"successor-of-canopy"
        );
        let welcome = out.welcome.unwrap();
        let joined = peer.join_reinit(&welcome, None);
        match kind {
            PeerKind::MlsRs => {
                joined.unwrap();
                agree(&step("successor"), &successor, &[&*peer]);
                assert_eq!(successor.member_count(), 2);
                talk(&mut successor, &mut *peer);
                let out = peer.commit(CommitOp::Update, false).unwrap();
                committed(successor.process(&out.commit).unwrap());
                agree(&step("successor, peer's commit"), &successor, &[&*peer]);
            }
            PeerKind::OpenMls => {
                let e = format!("{:#}", joined.unwrap_err());
                assert!(e.contains("PSK could not be found"), "{e}");
                // Nor does openmls close the old group after the ReInit: it still commits
                // there, and Canopy, for which that group is closed, refuses the commit.
                let out = peer.commit(CommitOp::Empty, false).unwrap();
                let e = canopy.process(&out.commit).unwrap_err();
                assert!(
                    matches!(e, Error::ApiMisuse(ApiMisuse::ReInitialized)),
                    "{e:?}"
                );
            }
        }
    }
}

/// mls-rs commits a ReInit (`CommitBuilder::reinit`); Canopy processes it and agrees. mls-rs
/// then starts the successor (`ReinitClient::commit`) with Canopy's KeyPackage and Canopy
/// joins it with `JoinOptions::resuming`, resolving the resumption PSK from its old group; both commit
/// in the successor.
///
/// openmls 0.9.2 cannot commit a ReInit: it has no API that makes one, and a ReInit given to
/// its commit builder (`add_proposal`) is silently dropped (`ProposalQueue::filter_proposals`
/// keeps none), leaving an empty commit. The adapter refuses to send that; the refusal, and
/// that openmls's group is left as it was, are asserted. (It cannot start a successor either:
/// its group builder resolves resumption PSKs from a fresh, empty store.)
#[test]
fn reinit_committed_by_peer_successor_started_by_peer() {
    let p = provider();
    for kind in PeerKind::ALL {
        let step = |s: &str| format!("{kind}: {s}");
        let mut creator = new_member(kind, b"peer").unwrap();
        creator.create_group(b"reinit-by-peer").unwrap();
        let (kp, secrets) = key_package(&p, b"canopy").unwrap();
        let out = creator
            .commit(CommitOp::Add(vec![kp_bytes(&kp)]), true)
            .unwrap();
        let mut canopy = Group::join(
            p,
            out.welcome.as_ref().unwrap(),
            &kp,
            &secrets,
            GroupConfig::default(),
        )
        .unwrap();
        agree(&step("group"), &canopy, &[&*creator]);

        let reinit = creator.commit_reinit(b"successor-of-peer");
        if kind == PeerKind::OpenMls {
            let e = format!("{:#}", reinit.unwrap_err());
            assert!(e.contains("dropped the ReInit"), "{e}");
            agree(&step("no ReInit"), &canopy, &[&*creator]);
            let e = format!("{:#}", creator.reinit_successor(Vec::new()).unwrap_err());
            assert!(e.contains("unsupported"), "{e}");
            // The group is still usable.
            let out = creator.commit(CommitOp::Empty, false).unwrap();
            committed(canopy.process(&out.commit).unwrap());
            agree(&step("after the refused ReInit"), &canopy, &[&*creator]);
            continue;
        }
        let out = reinit.unwrap();
        assert_eq!(
            inline_proposal_types(&out.commit),
            [codec::ProposalType::REINIT],
            "{kind}"
        );
        committed(canopy.process(&out.commit).unwrap());
        agree(&step("ReInit committed"), &canopy, &[&*creator]);
        // Neither side goes on in the old group.
        assert!(canopy.commit(&CommitOptions::new().with_path()).is_err());
        assert!(creator.commit(CommitOp::Empty, false).is_err());

        let (kp, secrets) = key_package(&p, b"canopy").unwrap();
        let out = creator.reinit_successor(vec![kp_bytes(&kp)]).unwrap();
        let mut successor = Group::join(
            p,
            out.welcome.as_ref().unwrap(),
            &kp,
            &secrets,
            JoinOptions::from(GroupConfig::default())
                .resuming(&canopy)
                .ratchet_tree(out.ratchet_tree.as_deref()),
        )
        .unwrap();
        assert_eq!(successor.epoch(), 1);
        assert_eq!(
            successor.context().group_id.as_slice(),
            b"successor-of-peer"
        );
        assert_eq!(successor.member_count(), 2);
        agree(&step("successor"), &successor, &[&*creator]);
        talk(&mut successor, &mut *creator);
        let out = successor.commit(&CommitOptions::new().with_path()).unwrap();
        creator.process(&out.commit).unwrap();
        agree(
            &step("successor, Canopy's commit"),
            &successor,
            &[&*creator],
        );
        let out = creator.commit(CommitOp::Update, false).unwrap();
        committed(successor.process(&out.commit).unwrap());
        agree(&step("successor, peer's commit"), &successor, &[&*creator]);
    }
}

/// The other way round: the side that did NOT commit the ReInit starts the successor, from the
/// ReInit it processed. Canopy commits and mls-rs starts the successor (Canopy joins with
/// `JoinOptions::resuming`); mls-rs commits and Canopy starts it (`reinit_successor`; mls-rs joins with
/// `ReinitClient::join`). mls-rs only: openmls can neither commit a ReInit nor start or join a
/// successor (see the two tests above).
#[test]
fn reinit_successor_started_by_the_member_that_processed_it() {
    let p = provider();
    let kind = PeerKind::MlsRs;

    // Canopy commits; mls-rs starts the successor.
    let (mut canopy, _, mut peer) = canopy_and_peer(kind, b"reinit-cross-1");
    let out = canopy
        .commit(&CommitOptions::new().reinit(reinit_to(b"successor-cross-1")))
        .unwrap();
    peer.process(&out.commit).unwrap();
    agree("Canopy's ReInit", &canopy, &[&*peer]);
    let (kp, secrets) = key_package(&p, b"canopy").unwrap();
    let out = peer.reinit_successor(vec![kp_bytes(&kp)]).unwrap();
    let mut successor = Group::join(
        p,
        out.welcome.as_ref().unwrap(),
        &kp,
        &secrets,
        JoinOptions::from(GroupConfig::default())
            .resuming(&canopy)
            .ratchet_tree(out.ratchet_tree.as_deref()),
    )
    .unwrap();
    assert_eq!(successor.epoch(), 1);
    assert_eq!(
        successor.context().group_id.as_slice(),
        b"successor-cross-1"
    );
    agree("successor started by mls-rs", &successor, &[&*peer]);
    talk(&mut successor, &mut *peer);

    // mls-rs commits; Canopy starts the successor.
    let mut creator = new_member(kind, b"peer").unwrap();
    creator.create_group(b"reinit-cross-2").unwrap();
    let (kp, secrets) = key_package(&p, b"canopy").unwrap();
    let out = creator
        .commit(CommitOp::Add(vec![kp_bytes(&kp)]), false)
        .unwrap();
    let mut canopy = Group::join(
        p,
        out.welcome.as_ref().unwrap(),
        &kp,
        &secrets,
        JoinOptions::from(GroupConfig::default()).ratchet_tree(out.ratchet_tree.as_deref()),
    )
    .unwrap();
    let out = creator.commit_reinit(b"successor-cross-2").unwrap();
    committed(canopy.process(&out.commit).unwrap());
    agree("mls-rs's ReInit", &canopy, &[&*creator]);
    let kp = creator.reinit_key_package().unwrap();
    let (mut successor, out) = canopy
        .reinit_successor(
            secrets.signer.clone(),
            vec![decode_kp(&kp)],
            GroupConfig::default(),
        )
        .unwrap();
    creator
        .join_reinit(out.welcome.as_ref().unwrap(), None)
        .unwrap();
    assert_eq!(
        successor.context().group_id.as_slice(),
        b"successor-cross-2"
    );
    agree("successor started by Canopy", &successor, &[&*creator]);
    talk(&mut successor, &mut *creator);
    let out = creator.commit(CommitOp::Update, false).unwrap();
    committed(successor.process(&out.commit).unwrap());
    agree("successor, mls-rs's commit", &successor, &[&*creator]);
}
