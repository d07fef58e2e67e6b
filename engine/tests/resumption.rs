//! ReInit and branching through the wire (RFC 9420 §11.2, §11.3): a group is closed by a
//! ReInit and its members move to the successor with another cipher suite; a subgroup is
//! branched off; joiners resolve the resumption PSK from their state in the old group and
//! check the new group against it. A joiner without the old group, a subgroup with a
//! stranger, and a forged epoch are refused with the check that failed.

use canopy_engine::codec::{
    self, CipherSuiteId, Credential, Mac, MlsMessage, MlsMessageBody, ProtocolVersion, ReInit,
};
use canopy_engine::crypto::{CipherSuite, Provider, Secret, SignaturePrivateKey};
use canopy_engine::group::{CommitOptions, Group};
use canopy_engine::key_package::{default_lifetime, key_package_from_seed};
use canopy_engine::schedule::EpochSecrets;
use canopy_engine::welcome;
use canopy_engine::Error;
use canopy_engine::JoinOptions;
use canopy_engine::PeerMisbehaved;

mod common;
use common::{agree, config, key_package as kp, NOW};

const SUITE1: CipherSuite = CipherSuite::Mls128X25519Aes128GcmSha256Ed25519;
const SUITE3: CipherSuite = CipherSuite::Mls128X25519ChaCha20Poly1305Sha256Ed25519;

/// `n` members of one group, re-based onto a joiner secret the test knows (so it can compute
/// the epoch's resumption PSK), with their signers.
fn group(n: u32) -> (Vec<Group>, Vec<SignaturePrivateKey>, EpochSecrets) {
    let p = Provider::new(SUITE1);
    let (members, signers) = common::group(p, b"old-group", n, 0x41, None);
    let (members, secrets) =
        common::rebase(p, &members, &signers, Secret::new(vec![0x24; 32]), |i| {
            config(20 + i as u8)
        });
    (members, signers, secrets)
}

#[test]
fn reinit_into_another_cipher_suite() {
    let (mut m, signers, _) = group(3);
    let reinit = ReInit {
        group_id: b"successor".to_vec().into(),
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuiteId(SUITE3.id()),
        extensions: Vec::new(),
    };
    let out = m[1]
        .commit(&CommitOptions::new().reinit(reinit.clone()))
        .unwrap();
    for i in [0, 2] {
        m[i].process(&out.commit).unwrap();
    }
    agree(&[&m[0], &m[1], &m[2]]);
    let p3 = Provider::new(SUITE3);
    let kps: Vec<_> = (1..3).map(|i| kp(&p3, i, 0x42)).collect();
    // Before a ReInit, there is no successor to start.
    let (fresh, ..) = group(2);
    assert!(matches!(
        fresh[0].reinit_successor(signers[0].clone(), Vec::new(), config(49)),
        Err(Error::ApiMisuse(_))
    ));
    let (new0, out) = m[0]
        .reinit_successor(
            signers[0].clone(),
            kps.iter().map(|(k, _)| k.clone()).collect(),
            config(50),
        )
        .unwrap();
    assert_eq!(new0.epoch(), 1);
    assert_eq!(new0.context().group_id.as_slice(), b"successor");
    assert_eq!(new0.provider().suite(), SUITE3);
    let welcome = out.welcome.unwrap();
    let joined: Vec<Group> = kps
        .iter()
        .enumerate()
        .map(|(i, (k, s))| {
            Group::join(
                p3,
                &welcome,
                k,
                s,
                JoinOptions::from(config(51 + i as u8)).resuming(&m[i + 1]),
            )
            .unwrap()
        })
        .collect();
    agree(&[&new0, &joined[0], &joined[1]]);

    // Without its state in the old group, a KeyPackage holder cannot join.
    let e = Group::join(p3, &welcome, &kps[0].0, &kps[0].1, config(60)).unwrap_err();
    assert!(
        matches!(e, Error::PeerMisbehaved(PeerMisbehaved::MissingPsk)),
        "{e:?}"
    );
    // Nor with another group's state as the "old group".
    let e = Group::join(
        p3,
        &welcome,
        &kps[0].0,
        &kps[0].1,
        JoinOptions::from(config(61)).resuming(&fresh[1]),
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::PeerMisbehaved(PeerMisbehaved::MissingPsk)),
        "{e:?}"
    );
    // A reinit or branch PSK cannot be proposed in a running group.
    let e = joined[0]
        .clone()
        .commit(&CommitOptions::new().psks(vec![codec::PreSharedKeyId {
            source: codec::PskSource::Resumption {
                usage: codec::ResumptionPskUsage::Reinit,
                psk_group_id: b"old-group".to_vec().into(),
                psk_epoch: m[0].epoch(),
            },
            psk_nonce: vec![0; 32].into(),
        }]))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::PeerMisbehaved(PeerMisbehaved::InvalidProposalList(
                canopy_engine::group::ProposalRule::PskUsage
            ))
        ),
        "{e:?}"
    );
}

#[test]
fn branch_a_subgroup() {
    let (m, signers, secrets) = group(4);
    let p = Provider::new(SUITE1);
    let kps: Vec<_> = [2u32, 3].iter().map(|&i| kp(&p, i, 0x43)).collect();
    let (sub1, out) = m[1]
        .branch(
            b"subgroup",
            signers[1].clone(),
            kps.iter().map(|(k, _)| k.clone()).collect(),
            config(70),
        )
        .unwrap();
    let welcome = out.welcome.unwrap();
    let sub2 = Group::join(
        p,
        &welcome,
        &kps[0].0,
        &kps[0].1,
        JoinOptions::from(config(71)).resuming(&m[2]),
    )
    .unwrap();
    let sub3 = Group::join(
        p,
        &welcome,
        &kps[1].0,
        &kps[1].1,
        JoinOptions::from(config(72)).resuming(&m[3]),
    )
    .unwrap();
    agree(&[&sub1, &sub2, &sub3]);
    assert_eq!(sub1.member_count(), 3);

    // A subgroup with a stranger: the members that join see it.
    let stranger =
        key_package_from_seed(&p, b"stranger", &[0x99; 32], default_lifetime(NOW)).unwrap();
    let kp2 = kp(&p, 2, 0x44);
    let (_, out) = m[1]
        .branch(
            b"subgroup-2",
            signers[1].clone(),
            vec![kp2.0.clone(), stranger.0],
            config(73),
        )
        .unwrap();
    let e = Group::join(
        p,
        out.welcome.as_ref().unwrap(),
        &kp2.0,
        &kp2.1,
        JoinOptions::from(config(74)).resuming(&m[2]),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::PeerMisbehaved(PeerMisbehaved::ResumptionMismatch(
                "a subgroup member who is not a member of the old group"
            ))
        ),
        "{e:?}"
    );

    // A branch Welcome whose GroupInfo claims epoch 2 (re-signed by the creator, tag
    // recomputed): the new group of a branch starts at epoch 1.
    let mut w = match codec::decode::<MlsMessage>(&welcome).unwrap().body {
        MlsMessageBody::Welcome(w) => w,
        _ => unreachable!(),
    };
    let (k, s) = &kps[0];
    let gs = welcome::decrypt_group_secrets(&p, &w, k, &s.init_key).unwrap();
    let psk_secret = canopy_engine::schedule::psk_secret(
        &p,
        &[(gs.psks[0].clone(), secrets.resumption_psk.clone())],
    )
    .unwrap();
    let ws = welcome::welcome_secret(&p, &gs.joiner_secret, &psk_secret).unwrap();
    let mut gi = welcome::decrypt_group_info(&p, &w, &ws).unwrap();
    gi.group_context.epoch = 2;
    let epoch = EpochSecrets::from_joiner(
        &p,
        gs.joiner_secret.clone(),
        psk_secret.as_bytes(),
        &codec::encode(&gi.group_context).unwrap(),
    )
    .unwrap();
    gi.confirmation_tag = Mac(epoch
        .confirmation_tag(&p, gi.group_context.confirmed_transcript_hash.as_slice())
        .into());
    welcome::sign_group_info(&p, &signers[1], &mut gi).unwrap();
    w.encrypted_group_info = welcome::encrypt_group_info(&p, &gi, &ws)
        .unwrap()
        .as_slice()
        .to_vec()
        .into();
    w.secrets = vec![
        welcome::encrypt_group_secrets(&p, k, w.encrypted_group_info.as_slice(), &gs).unwrap(),
    ];
    let forged = codec::encode(&MlsMessage {
        version: ProtocolVersion::MLS10,
        body: MlsMessageBody::Welcome(w),
    })
    .unwrap();
    let e = Group::join(
        p,
        &forged,
        k,
        s,
        JoinOptions::from(config(75)).resuming(&m[2]),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::PeerMisbehaved(PeerMisbehaved::ReinitOrBranchEpoch(2))
        ),
        "{e:?}"
    );
    // The subgroup keeps the members' identities.
    for (_, leaf) in sub2.tree().leaves() {
        assert!(matches!(leaf.decode().credential, Credential::Basic { .. }));
    }
}
