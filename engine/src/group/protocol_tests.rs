//! The protocol around the core: proposals by reference (Add, Remove, Update with the
//! proposer's pending key, PSK, GroupContextExtensions), the RFC 9420 §12.2 rules each
//! rejected with its typed error and no state change, PSK injection (external, resumption,
//! in a Welcome), ReInit, and commits / proposals as PrivateMessage.

use crate::group::Protection;
use super::proposals::Entry;
use super::tests::{all_agree, build, fingerprint, kp, provider, seeded, snapshot};
use super::*;
use crate::codec::{
    Extension, PreSharedKeyId, Proposal, ProposalOrRef, PskSource, RequiredCapabilities,
    ResumptionPskUsage,
};
use crate::error::{ApiMisuse, PeerMisbehaved};

/// Everything [`snapshot`] covers plus the protocol state around it.
fn full_state(g: &Group) -> impl PartialEq + core::fmt::Debug {
    (
        snapshot(g),
        fingerprint(g),
        g.pending_proposals()
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>(),
        g.pending_updates.len(),
        g.public.reinit.clone(),
        g.removed,
        g.provider()
            .hpke_public_key(g.private().leaf_key())
            .unwrap(),
    )
}

fn external_psk(id: &[u8], nonce: u8) -> PreSharedKeyId {
    PreSharedKeyId {
        source: PskSource::External {
            psk_id: id.to_vec().into(),
        },
        psk_nonce: vec![nonce; 32].into(),
    }
}

fn process_all(members: &mut [&mut Group], message: &[u8]) {
    for m in members.iter_mut() {
        m.process(message).unwrap();
    }
}

#[test]
fn add_and_remove_by_reference_round_trip() {
    let p = provider();
    let (mut alice, mut members) = build(4, Executor::default(), true);
    let [bob, carol, dave] = &mut members[..] else {
        unreachable!()
    };
    // Bob proposes adding Erin (as a PublicMessage), Carol proposes removing Dave (as a
    // PrivateMessage); everyone else caches both.
    let (erin_kp, erin_secrets) = kp(&p, 50);
    let add = bob.propose_add(erin_kp.clone(), Protection::Public).unwrap();
    let remove = carol.propose_remove(dave.own_leaf(), Protection::Private).unwrap();
    for m in [&mut alice, &mut *carol, &mut *dave] {
        assert!(matches!(
            m.process(&add).unwrap(),
            ProcessOutcome::Proposal {
                proposal_type: codec::ProposalType::ADD,
                ..
            }
        ));
    }
    for m in [&mut alice, &mut *bob, &mut *dave] {
        m.process(&remove).unwrap();
    }
    assert_eq!(alice.pending_proposals().count(), 2);
    assert_eq!(
        bob.pending_proposals().collect::<Vec<_>>(),
        alice.pending_proposals().collect::<Vec<_>>()
    );

    // Alice commits both by reference.
    let out = alice
        .commit(&CommitOptions::new().ratchet_tree_in_welcome())
        .unwrap();
    assert_eq!(alice.pending_proposals().count(), 0);
    let commit: MlsMessage = codec::decode(&out.commit).unwrap();
    let MlsMessageBody::PublicMessage(pm) = commit.body else {
        panic!("not public")
    };
    let codec::FramedContentBody::Commit(c) = pm.content.content else {
        panic!("not a commit")
    };
    assert_eq!(c.proposals.len(), 2);
    assert!(c
        .proposals
        .iter()
        .all(|p| matches!(p, ProposalOrRef::Reference(_))));

    assert_eq!(dave.process(&out.commit).unwrap(), ProcessOutcome::Removed);
    process_all(&mut [&mut *bob, &mut *carol], &out.commit);
    let erin = Group::join(p, out.welcome.as_ref().unwrap(), &erin_kp, &erin_secrets, seeded(Executor::default(), 60))
    .unwrap();
    all_agree(&[&alice, bob, carol, &erin]);
    assert_eq!(alice.member_count(), 4);
}

#[test]
fn update_by_reference_switches_the_proposer_key() {
    let (mut alice, mut members) = build(3, Executor::default(), true);
    let [bob, carol] = &mut members[..] else {
        unreachable!()
    };
    let old_key = bob
        .tree()
        .leaf(bob.own_leaf())
        .unwrap()
        .encryption_key()
        .to_vec();
    let update = bob.propose_update(Protection::Public).unwrap();
    alice.process(&update).unwrap();
    carol.process(&update).unwrap();
    // An Update requires a path.
    let out = alice.commit(&CommitOptions::default()).unwrap();
    process_all(&mut [&mut *bob, &mut *carol], &out.commit);
    all_agree(&[&alice, bob, carol]);
    let new_key = bob
        .tree()
        .leaf(bob.own_leaf())
        .unwrap()
        .encryption_key()
        .to_vec();
    assert_ne!(old_key, new_key);
    assert_eq!(
        bob.provider()
            .hpke_public_key(bob.private().leaf_key())
            .unwrap(),
        new_key.as_slice()
    );
    // Bob can still decrypt path secrets to his new key: Carol commits with a path.
    let out = carol
        .commit(&CommitOptions::new().with_path())
        .unwrap();
    process_all(&mut [&mut alice, &mut *bob], &out.commit);
    all_agree(&[&alice, bob, carol]);

    // A proposer's own Update is not committed by itself (it updates through its path).
    let update = bob.propose_update(Protection::Public).unwrap();
    alice.process(&update).unwrap();
    carol.process(&update).unwrap();
    let out = bob.commit(&CommitOptions::default()).unwrap();
    process_all(&mut [&mut alice, &mut *carol], &out.commit);
    all_agree(&[&alice, bob, carol]);
}

#[test]
fn unknown_reference_is_rejected_without_state_change() {
    let p = provider();
    let (mut alice, mut members) = build(3, Executor::default(), true);
    let [bob, carol] = &mut members[..] else {
        unreachable!()
    };
    let add = bob.propose_add(kp(&p, 70).0, Protection::Public).unwrap();
    alice.process(&add).unwrap();
    // Carol never sees the proposal.
    let out = alice.commit(&CommitOptions::default()).unwrap();
    let before = full_state(carol);
    let err = carol.process(&out.commit).unwrap_err();
    assert!(
        matches!(
            err,
            Error::PeerMisbehaved(PeerMisbehaved::UnknownProposalRef)
        ),
        "{err}"
    );
    assert_eq!(full_state(carol), before);
    // Bob saw it: fine.
    bob.process(&out.commit).unwrap();
    all_agree(&[&alice, bob]);
}

/// Run `apply_proposals` on `g` under its journal (as commit and process do) and require
/// the error `want` and an unchanged state.
fn rejects(g: &mut Group, committer: LeafIndex, entries: &[Entry<'_>], want: PeerMisbehaved) {
    let before = full_state(g);
    let err = g
        .run_edit(false, |g| {
            let psks = member_psks!(g);
            g.public.apply_proposals(committer, entries, Some(&psks)).map(|_| ())
        })
        .unwrap_err();
    match err {
        Error::PeerMisbehaved(e) => assert_eq!(e, want),
        other => panic!("want {want:?}, got {other}"),
    }
    assert_eq!(full_state(g), before);
}

fn by_value(p: &Proposal, sender: LeafIndex) -> Entry<'_> {
    Entry {
        proposal: p,
        sender,
        reference: None,
    }
}

fn by_ref<'a>(p: &'a Proposal, sender: LeafIndex, r: &'a [u8]) -> Entry<'a> {
    Entry {
        proposal: p,
        sender,
        reference: Some(r),
    }
}

#[test]
fn every_proposal_list_rule_has_its_typed_error() {
    use ProposalRule as R;
    let p = provider();
    let (mut alice, members) = build(4, Executor::default(), true);
    let me = alice.own_leaf();
    let bob = LeafIndex(1);
    let carol = LeafIndex(2);
    let invalid = |r| PeerMisbehaved::InvalidProposalList(r);
    let remove = |l: LeafIndex| Proposal::Remove(codec::Remove { removed: l.0 });
    let add = |i: u32| {
        Proposal::Add(codec::Add {
            key_package: kp(&p, i).0,
        })
    };
    alice.add_external_psk(b"ext", Secret::new(vec![9; 32]));
    let psk = |id: PreSharedKeyId| Proposal::PreSharedKey(codec::PreSharedKey { psk: id });
    let gce = |e: Vec<Extension>| {
        Proposal::GroupContextExtensions(codec::GroupContextExtensions { extensions: e })
    };
    let update_of = |g: &Group| {
        let leaf = g.tree().leaf(g.own_leaf()).unwrap().decode();
        Proposal::Update(codec::Update { leaf_node: leaf })
    };
    let r1 = vec![1u8; 32];
    let r2 = vec![2u8; 32];

    // Remove of the committer; of a non-member; twice the same leaf.
    rejects(
        &mut alice,
        me,
        &[by_value(&remove(me), me)],
        PeerMisbehaved::CommitterRemovesSelf,
    );
    rejects(
        &mut alice,
        me,
        &[by_value(&remove(LeafIndex(40)), me)],
        PeerMisbehaved::RemoveNonMember(40),
    );
    rejects(
        &mut alice,
        me,
        &[by_value(&remove(carol), me), by_value(&remove(carol), me)],
        PeerMisbehaved::ConflictingProposals(carol.0),
    );
    // Update and Remove of the same leaf.
    let mut bob_update = update_of(&members[0]);
    if let Proposal::Update(u) = &mut bob_update {
        u.leaf_node.leaf_node_source = codec::LeafNodeSourceData::Update;
    }
    rejects(
        &mut alice,
        me,
        &[by_ref(&bob_update, bob, &r1), by_value(&remove(bob), me)],
        PeerMisbehaved::ConflictingProposals(bob.0),
    );
    // Update by value; the committer's own Update; an Update leaf without source update.
    rejects(
        &mut alice,
        me,
        &[by_value(&bob_update, bob)],
        PeerMisbehaved::UpdateByValue,
    );
    rejects(
        &mut alice,
        bob,
        &[by_ref(&bob_update, bob, &r1)],
        invalid(R::CommitterUpdate),
    );
    let stale = update_of(&members[1]);
    rejects(
        &mut alice,
        me,
        &[by_ref(&stale, carol, &r2)],
        invalid(R::UpdateLeafSource),
    );
    // Two Adds with the same signature key; an Add of a key already in the tree.
    rejects(
        &mut alice,
        me,
        &[by_value(&add(70), me), by_value(&add(70), me)],
        invalid(R::DuplicateAddSignatureKey),
    );
    rejects(
        &mut alice,
        me,
        &[by_value(&add(1), me)],
        PeerMisbehaved::DuplicateKey {
            what: "signature key",
            leaf: 4,
        },
    );
    // PSKs: twice the same; unknown; wrong nonce length; a reinit resumption PSK.
    let ext = psk(external_psk(b"ext", 1));
    rejects(
        &mut alice,
        me,
        &[by_value(&ext, me), by_value(&ext, me)],
        invalid(R::DuplicatePsk),
    );
    rejects(
        &mut alice,
        me,
        &[by_value(&psk(external_psk(b"nope", 1)), me)],
        PeerMisbehaved::MissingPsk,
    );
    let mut short = external_psk(b"ext", 1);
    short.psk_nonce = vec![1; 8].into();
    rejects(
        &mut alice,
        me,
        &[by_value(&psk(short), me)],
        invalid(R::PskNonceLength),
    );
    let reinit_psk = PreSharedKeyId {
        source: PskSource::Resumption {
            usage: ResumptionPskUsage::Reinit,
            psk_group_id: b"group".to_vec().into(),
            psk_epoch: 1,
        },
        psk_nonce: vec![3; 32].into(),
    };
    rejects(
        &mut alice,
        me,
        &[by_value(&psk(reinit_psk), me)],
        invalid(R::PskUsage),
    );
    // Two GroupContextExtensions; an extension no member supports.
    rejects(
        &mut alice,
        me,
        &[by_value(&gce(vec![]), me), by_value(&gce(vec![]), me)],
        invalid(R::MultipleGroupContextExtensions),
    );
    let unsupported = Extension {
        extension_type: codec::ExtensionType(0xff0a),
        extension_data: Vec::new().into(),
    };
    rejects(
        &mut alice,
        me,
        &[by_value(&gce(vec![unsupported]), me)],
        PeerMisbehaved::UnsupportedCapability {
            leaf: Some(0),
            what: "extension",
            value: 0xff0a,
        },
    );
    // ReInit with another proposal; ExternalInit in a member's commit.
    let reinit = Proposal::ReInit(codec::ReInit {
        group_id: b"next".to_vec().into(),
        version: codec::ProtocolVersion::MLS10,
        cipher_suite: alice.context().cipher_suite,
        extensions: Vec::new(),
    });
    rejects(
        &mut alice,
        me,
        &[by_value(&reinit, me), by_value(&remove(carol), me)],
        invalid(R::ReInitNotAlone),
    );
    let external_init = Proposal::ExternalInit(codec::ExternalInit {
        kem_output: vec![0; 32].into(),
    });
    rejects(
        &mut alice,
        me,
        &[by_value(&external_init, me)],
        invalid(R::ExternalInitInMemberCommit),
    );

    // A commit after all those refusals still works and everyone agrees.
    let mut members = members;
    let out = alice
        .commit(&CommitOptions::new().with_path())
        .unwrap();
    for m in members.iter_mut() {
        m.process(&out.commit).unwrap();
    }
    all_agree(&[&alice, &members[0], &members[1], &members[2]]);
}

#[test]
fn the_committer_resolves_conflicting_cached_proposals() {
    // Bob and Carol both propose removing Dave, Dave proposes an Update, Bob and Carol
    // both propose GroupContextExtensions: the committer keeps one Remove (which wins over
    // the Update) and one GroupContextExtensions, and every member follows.
    let (mut alice, mut members) = build(4, Executor::default(), true);
    let dave = members[2].own_leaf();
    let msgs = [
        members[0].propose_remove(dave, Protection::Public).unwrap(),
        members[1].propose_remove(dave, Protection::Private).unwrap(),
        members[2].propose_update(Protection::Public).unwrap(),
        members[0]
            .propose_group_context_extensions(Vec::new(), Protection::Public)
            .unwrap(),
        members[1]
            .propose_group_context_extensions(Vec::new(), Protection::Public)
            .unwrap(),
    ];
    let senders = [0, 1, 2, 0, 1];
    for (m, s) in msgs.iter().zip(senders) {
        alice.process(m).unwrap();
        for (i, g) in members.iter_mut().enumerate() {
            if i != s {
                g.process(m).unwrap();
            }
        }
    }
    let out = alice.commit(&CommitOptions::default()).unwrap();
    let commit: MlsMessage = codec::decode(&out.commit).unwrap();
    let MlsMessageBody::PublicMessage(pm) = commit.body else {
        panic!("not public")
    };
    let codec::FramedContentBody::Commit(c) = pm.content.content else {
        panic!("not a commit")
    };
    assert_eq!(c.proposals.len(), 2);
    assert_eq!(
        members[2].process(&out.commit).unwrap(),
        ProcessOutcome::Removed
    );
    members[0].process(&out.commit).unwrap();
    members[1].process(&out.commit).unwrap();
    all_agree(&[&alice, &members[0], &members[1]]);
    assert_eq!(alice.member_count(), 3);
}

#[test]
fn external_and_resumption_psks_round_trip() {
    let p = provider();
    let (mut alice, mut members) = build(3, Executor::default(), true);
    for g in std::iter::once(&mut alice).chain(members.iter_mut()) {
        g.add_external_psk(b"shared", Secret::new(vec![0x42; 32]));
    }
    // External PSK by value, and a PSK proposal by reference from Bob.
    let out = alice
        .commit(&CommitOptions::new().psks(vec![external_psk(b"shared", 1)]))
        .unwrap();
    for m in members.iter_mut() {
        m.process(&out.commit).unwrap();
    }
    all_agree(&[&alice, &members[0], &members[1]]);

    let resumption = PreSharedKeyId {
        source: PskSource::Resumption {
            usage: ResumptionPskUsage::Application,
            psk_group_id: alice.context().group_id.clone(),
            psk_epoch: 1,
        },
        psk_nonce: vec![7; 32].into(),
    };
    let prop = members[0].propose_psk(resumption, Protection::Public).unwrap();
    alice.process(&prop).unwrap();
    members[1].process(&prop).unwrap();
    let out = alice.commit(&CommitOptions::default()).unwrap();
    for m in members.iter_mut() {
        m.process(&out.commit).unwrap();
    }
    all_agree(&[&alice, &members[0], &members[1]]);

    // A member without the PSK cannot follow, and is left as it was.
    let mut lonely = members[1].clone();
    lonely.external_psks.clear();
    let out = alice
        .commit(&CommitOptions::new().psks(vec![external_psk(b"shared", 2)]))
        .unwrap();
    let before = full_state(&lonely);
    let err = lonely.process(&out.commit).unwrap_err();
    assert!(
        matches!(err, Error::PeerMisbehaved(PeerMisbehaved::MissingPsk)),
        "{err}"
    );
    assert_eq!(full_state(&lonely), before);
    members[0].process(&out.commit).unwrap();

    // A Welcome carrying a PSK: the joiner needs it.
    let (erin_kp, erin_secrets) = kp(&p, 80);
    let out = alice
        .commit(&CommitOptions::new().adds(vec![erin_kp.clone()]).psks(vec![external_psk(b"shared", 3)]).ratchet_tree_in_welcome())
        .unwrap();
    let welcome = out.welcome.unwrap();
    assert!(Group::join(p, &welcome, &erin_kp, &erin_secrets, seeded(Executor::default(), 81))
    .is_err_and(|e| matches!(
        e,
        Error::PeerMisbehaved(crate::error::PeerMisbehaved::MissingPsk)
    )));
    let erin = Group::join(
        p,
        &welcome,
        &erin_kp,
        &erin_secrets,
        JoinOptions::from(seeded(Executor::default(), 81))
            .external_psk(b"shared".to_vec(), Secret::new(vec![0x42; 32])),
    )
    .unwrap();
    members[0].process(&out.commit).unwrap();
    all_agree(&[&alice, &members[0], &erin]);
}

#[test]
fn private_message_commits_and_proposals() {
    let p = provider();
    let (mut alice, mut members) = build(3, Executor::default(), true);
    let update = members[0].propose_update(Protection::Private).unwrap();
    alice.process(&update).unwrap();
    members[1].process(&update).unwrap();
    let (erin_kp, erin_secrets) = kp(&p, 90);
    let out = alice
        .commit(&CommitOptions::new().adds(vec![erin_kp.clone()]).protection(Protection::Private).ratchet_tree_in_welcome())
        .unwrap();
    let message: MlsMessage = codec::decode(&out.commit).unwrap();
    assert!(matches!(message.body, MlsMessageBody::PrivateMessage(_)));
    for m in members.iter_mut() {
        m.process(&out.commit).unwrap();
    }
    let erin = Group::join(p, out.welcome.as_ref().unwrap(), &erin_kp, &erin_secrets, seeded(Executor::default(), 91))
    .unwrap();
    all_agree(&[&alice, &members[0], &members[1], &erin]);
    // A replayed PrivateMessage commit is refused (wrong epoch now).
    assert!(members[0].process(&out.commit).is_err_and(|e| matches!(
        e,
        Error::PeerMisbehaved(crate::error::PeerMisbehaved::WrongEpoch { .. })
    )));
}

#[test]
fn group_context_extensions_and_required_capabilities() {
    let p = provider();
    let (mut alice, mut members) = build(3, Executor::default(), true);
    let required = |creds: Vec<codec::CredentialType>| Extension {
        extension_type: codec::ExtensionType::REQUIRED_CAPABILITIES,
        extension_data: codec::encode(&RequiredCapabilities {
            credential_types: creds,
            ..RequiredCapabilities::default()
        })
        .unwrap()
        .into(),
    };
    // Every member supports basic credentials.
    let out = alice
        .commit(&CommitOptions::new().group_context_extensions(vec![required(vec![codec::CredentialType::BASIC])]))
        .unwrap();
    for m in members.iter_mut() {
        m.process(&out.commit).unwrap();
    }
    all_agree(&[&alice, &members[0], &members[1]]);
    assert_eq!(alice.context().extensions.len(), 1);
    // Nobody supports x509: refused, nothing changes.
    let before = full_state(&alice);
    let err = alice
        .commit(&CommitOptions::new().group_context_extensions(vec![required(vec![codec::CredentialType::X509])]))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::PeerMisbehaved(PeerMisbehaved::UnsupportedCapability {
                what: "credential",
                ..
            })
        ),
        "{err}"
    );
    assert_eq!(full_state(&alice), before);
    // A KeyPackage is checked against the required capabilities too: a fresh one is fine.
    let out = alice
        .commit(&CommitOptions::new().adds(vec![kp(&p, 95).0]))
        .unwrap();
    members[0].process(&out.commit).unwrap();
}

#[test]
fn reinit_closes_the_group() {
    let (mut alice, mut members) = build(2, Executor::default(), true);
    let reinit = codec::ReInit {
        group_id: b"group-v2".to_vec().into(),
        version: codec::ProtocolVersion::MLS10,
        cipher_suite: alice.context().cipher_suite,
        extensions: Vec::new(),
    };
    let out = alice
        .commit(&CommitOptions::new().reinit(reinit.clone()))
        .unwrap();
    members[0].process(&out.commit).unwrap();
    all_agree(&[&alice, &members[0]]);
    assert_eq!(alice.reinit(), Some(&reinit));
    assert_eq!(members[0].reinit(), Some(&reinit));
    for g in [&mut alice, &mut members[0]] {
        let err = g.commit(&CommitOptions::default()).unwrap_err();
        assert!(matches!(err, Error::ApiMisuse(ApiMisuse::ReInitialized)));
        assert!(g
            .propose_update(Protection::Public)
            .is_err_and(|e| matches!(e, Error::ApiMisuse(ApiMisuse::ReInitialized))));
    }
}

#[test]
fn external_commit_round_trip() {
    let p = provider();
    let (mut alice, mut members) = build(3, Executor::default(), true);
    // A new member joins from a GroupInfo carrying the tree.
    let gi = members[0].group_info(TreeDelivery::Included).unwrap();
    let (signer, _) = p.signature_key_pair_from_seed(&[0x77; 32]).unwrap();
    let (mut zed, commit) = Group::join_external(p, &gi, ExternalJoinOptions::new(b"zed".to_vec(), signer).config(seeded(Executor::default(), 100)))
    .unwrap();
    assert_eq!(zed.own_leaf(), LeafIndex(3));

    // A tampered copy is rejected without a state change.
    let before = full_state(&alice);
    let mut bad = commit.clone();
    let n = bad.len();
    bad[n - 40] ^= 1;
    assert!(alice.process(&bad).is_err());
    assert_eq!(full_state(&alice), before);

    assert_eq!(
        alice.process(&commit).unwrap(),
        ProcessOutcome::Committed {
            epoch: 2,
            committer: LeafIndex(3)
        }
    );
    for m in members.iter_mut() {
        m.process(&commit).unwrap();
    }
    all_agree(&[&alice, &members[0], &members[1], &zed]);

    // The new member commits like any other.
    let out = zed
        .commit(&CommitOptions::new().with_path())
        .unwrap();
    alice.process(&out.commit).unwrap();
    for m in members.iter_mut() {
        m.process(&out.commit).unwrap();
    }
    all_agree(&[&alice, &members[0], &members[1], &zed]);

    // A member resyncs: it rejoins with a new key, removing its old leaf; the tree comes
    // out of band.
    let gi = alice.group_info(TreeDelivery::OutOfBand).unwrap();
    let tree = alice.ratchet_tree_bytes().unwrap();
    let (signer, _) = p.signature_key_pair_from_seed(&[0x78; 32]).unwrap();
    let old = members[1].own_leaf();
    let (carol, commit) = Group::join_external(p, &gi, ExternalJoinOptions::new(b"member-2".to_vec(), signer).ratchet_tree(&tree[..]).resync(old).config(seeded(Executor::default(), 101)))
    .unwrap();
    assert_eq!(
        members[1].process(&commit).unwrap(),
        ProcessOutcome::Removed
    );
    process_all(&mut [&mut alice, &mut members[0], &mut zed], &commit);
    all_agree(&[&alice, &members[0], &zed, &carol]);
    assert_eq!(alice.member_count(), 4);

    // A GroupInfo of a past epoch gives a commit the members refuse (wrong epoch).
    let (signer, _) = p.signature_key_pair_from_seed(&[0x79; 32]).unwrap();
    let (_, stale) = Group::join_external(p, &gi, ExternalJoinOptions::new(b"late".to_vec(), signer).ratchet_tree(&tree[..]).config(seeded(Executor::default(), 102)))
    .unwrap();
    assert!(alice.process(&stale).is_err_and(|e| matches!(
        e,
        Error::PeerMisbehaved(crate::error::PeerMisbehaved::WrongEpoch { .. })
    )));
}
