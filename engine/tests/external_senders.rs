//! External proposals through the wire (RFC 9420 §12.1.8): a delivery service listed in the
//! group's `external_senders` extension removes and adds members, and a would-be member
//! proposes its own Add; members cache them, a member's commit covers them by reference, and
//! everyone agrees. Proposals an external sender may not send, unknown senders, wrong keys and
//! invalid content are refused with the check that failed, the state unchanged. (A membership
//! tag cannot be put on an external sender's PublicMessage: the wire format has no field for
//! it.)

use canopy_engine::codec::{
    self, Credential, ExternalSender, MlsMessage, MlsMessageBody, Proposal, Remove,
    SignaturePublicKey,
};
use canopy_engine::crypto::{CryptoError, Provider, SignaturePrivateKey};
use canopy_engine::group::external_senders::{
    external_proposal, external_senders_extension, new_member_proposal,
};
use canopy_engine::group::{CommitOptions, Group, ProcessOutcome, ProposalSender};
use canopy_engine::tree::LeafIndex;
use canopy_engine::Error;
use canopy_engine::PeerMisbehaved;

mod common;
use common::{agree, config, key_package, provider};

fn kp(
    p: &Provider,
    i: u32,
) -> (
    codec::KeyPackage,
    canopy_engine::key_package::KeyPackageSecrets,
) {
    key_package(p, i, 0x52)
}

fn ds_signer(p: &Provider) -> SignaturePrivateKey {
    p.signature_key_pair_from_seed(&[0xd5; 32]).unwrap().0
}

/// A 4-member group whose context lists the delivery service as external sender 0.
fn group() -> Vec<Group> {
    let p = provider();
    let ds = ExternalSender {
        signature_key: SignaturePublicKey(ds_signer(&p).public_key().to_vec().into()),
        credential: Credential::Basic {
            identity: b"delivery-service".to_vec().into(),
        },
    };
    let extensions = vec![external_senders_extension(&[ds]).unwrap()];
    common::group(p, b"ext-senders", 4, 0x52, Some(extensions)).0
}

#[test]
fn delivery_service_removes_and_adds() {
    let p = provider();
    let mut m = group();
    let gid = m[0].context().group_id.as_slice().to_vec();
    let ds = ds_signer(&p);
    let remove = external_proposal(
        &p,
        &ds,
        0,
        &gid,
        m[0].epoch(),
        Proposal::Remove(Remove { removed: 2 }),
    )
    .unwrap();
    for g in m.iter_mut() {
        assert_eq!(
            g.process(&remove).unwrap(),
            ProcessOutcome::Proposal {
                sender: ProposalSender::External(0),
                proposal_type: codec::ProposalType::REMOVE,
            }
        );
    }
    let out = m[1].commit(&CommitOptions::default()).unwrap();
    assert!(out.omitted.is_empty());
    for i in [0, 3] {
        m[i].process(&out.commit).unwrap();
    }
    assert_eq!(m[2].process(&out.commit).unwrap(), ProcessOutcome::Removed);
    agree(&[&m[0], &m[1], &m[3]]);
    assert!(m[0].tree().leaf(LeafIndex(2)).is_none());

    // The delivery service adds a new hire; the Welcome lets it in.
    let (new_kp, new_secrets) = kp(&p, 20);
    let add = external_proposal(
        &p,
        &ds,
        0,
        &gid,
        m[0].epoch(),
        Proposal::Add(codec::Add {
            key_package: new_kp.clone(),
        }),
    )
    .unwrap();
    for i in [0, 1, 3] {
        m[i].process(&add).unwrap();
    }
    let out = m[3]
        .commit(&CommitOptions::new().ratchet_tree_in_welcome())
        .unwrap();
    for i in [0, 1] {
        m[i].process(&out.commit).unwrap();
    }
    let joined = Group::join(
        p,
        out.welcome.as_ref().unwrap(),
        &new_kp,
        &new_secrets,
        config(30),
    )
    .unwrap();
    agree(&[&m[0], &m[1], &m[3], &joined]);

    // A would-be member proposes its own Add.
    let (self_kp, self_secrets) = kp(&p, 21);
    let self_signer = self_secrets.signer.clone();
    let proposal =
        new_member_proposal(&p, &self_signer, &gid, m[0].epoch(), self_kp.clone()).unwrap();
    for g in m[..2].iter_mut() {
        assert!(matches!(
            g.process(&proposal).unwrap(),
            ProcessOutcome::Proposal {
                sender: ProposalSender::NewMember,
                ..
            }
        ));
    }
    let out = m[0]
        .commit(&CommitOptions::new().ratchet_tree_in_welcome())
        .unwrap();
    m[1].process(&out.commit).unwrap();
    let me = Group::join(
        p,
        out.welcome.as_ref().unwrap(),
        &self_kp,
        &self_secrets,
        config(31),
    )
    .unwrap();
    agree(&[&m[0], &m[1], &me]);
}

fn digest(g: &Group) -> Vec<u8> {
    g.state_digest().unwrap()
}

#[test]
fn external_proposals_that_must_be_refused() {
    let p = provider();
    let m = group();
    let gid = m[0].context().group_id.as_slice().to_vec();
    let epoch = m[0].epoch();
    let ds = ds_signer(&p);
    let remove = Proposal::Remove(Remove { removed: 1 });
    type Expect = Box<dyn Fn(&Error) -> bool>;
    let mut cases: Vec<(&str, Vec<u8>, Expect)> = Vec::new();
    // Index 1 is not in the extension.
    cases.push((
        "unknown external sender",
        external_proposal(&p, &ds, 1, &gid, epoch, remove.clone()).unwrap(),
        Box::new(|e| matches!(e, Error::PeerMisbehaved(PeerMisbehaved::UnknownSender(_)))),
    ));
    // Signed by another key.
    let other = p.signature_key_pair_from_seed(&[0xd6; 32]).unwrap().0;
    cases.push((
        "wrong key",
        external_proposal(&p, &other, 0, &gid, epoch, remove.clone()).unwrap(),
        Box::new(|e| matches!(e, Error::Crypto(CryptoError::InvalidSignature))),
    ));
    // An Update from an external sender (built by hand: the API refuses to make one).
    let update = Proposal::Update(codec::Update {
        leaf_node: kp(&p, 40).0.leaf_node,
    });
    assert!(matches!(
        external_proposal(&p, &ds, 0, &gid, epoch, update.clone()),
        Err(Error::PeerMisbehaved(PeerMisbehaved::ProposalSender { .. }))
    ));
    let mut forged = external_proposal(&p, &ds, 0, &gid, epoch, remove.clone()).unwrap();
    {
        let mut msg: MlsMessage = codec::decode(&forged).unwrap();
        if let MlsMessageBody::PublicMessage(pm) = &mut msg.body {
            pm.content.content = codec::FramedContentBody::Proposal(update);
            pm.auth.signature = canopy_engine::framing::sign_content(
                &p,
                &ds,
                codec::WireFormat::PublicMessage,
                &pm.content,
                m[0].context(),
            )
            .unwrap();
        }
        forged = codec::encode(&msg).unwrap();
    }
    cases.push((
        "Update from an external sender",
        forged,
        Box::new(|e| {
            matches!(
                e,
                Error::PeerMisbehaved(PeerMisbehaved::ProposalSender {
                    sender: "external sender",
                    ..
                })
            )
        }),
    ));
    // A new member's Add signed by someone else than the KeyPackage's leaf key.
    let (new_kp, _) = kp(&p, 41);
    cases.push((
        "new member proposal with another key",
        new_member_proposal(&p, &ds, &gid, epoch, new_kp).unwrap(),
        Box::new(|e| matches!(e, Error::Crypto(CryptoError::InvalidSignature))),
    ));
    // A Remove of a non-member from the delivery service.
    cases.push((
        "external Remove of a non-member",
        external_proposal(
            &p,
            &ds,
            0,
            &gid,
            epoch,
            Proposal::Remove(Remove { removed: 9 }),
        )
        .unwrap(),
        Box::new(|e| matches!(e, Error::PeerMisbehaved(PeerMisbehaved::RemoveNonMember(9)))),
    ));
    let mut n = 0;
    for (class, input, expect) in &cases {
        for (i, g) in m.iter().enumerate() {
            let mut g = g.clone();
            let before = digest(&g);
            let e = g.process(input).unwrap_err();
            assert!(expect(&e), "{class}: member {i}: {e:?}");
            assert_eq!(digest(&g), before, "{class}: member {i} changed");
            n += 1;
        }
    }
    assert_eq!(n, cases.len() * 4);
}
