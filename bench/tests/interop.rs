//! Canopy ↔ openmls / mls-rs interop over serialized bytes only: a Canopy group with peer
//! members (joined from Canopy's Welcome, with and without the tree in it), commits from
//! Canopy and from the peers processed by everyone, and agreement on the epoch authenticator
//! and an exported secret at every epoch; application messages both ways. Both directions run
//! in every cipher suite a peer runs, with every peer that runs it (`<scenario>_suite_<n>`;
//! suite 1 keeps the scenarios' first names).

use canopy_bench::peers::{new_member_in, CommitOp, PeerKind, PeerMember};
use canopy_engine::codec::{self, MlsMessage, MlsMessageBody, ProtocolVersion};
use canopy_engine::crypto::{CipherSuite, Provider};
use canopy_engine::group::{CommitOptions, Group, GroupConfig};
use canopy_engine::key_package::key_package;
use canopy_engine::tree::LeafIndex;
use canopy_engine::JoinOptions;
use canopy_engine::TreeDelivery;

fn agree(canopy: &Group, peers: &[Box<dyn PeerMember>]) {
    let auth = canopy.epoch_authenticator().as_bytes().to_vec();
    let export = canopy.export_secret(b"interop", b"ctx", 32).unwrap();
    for p in peers {
        assert_eq!(p.epoch(), canopy.epoch(), "{}", p.kind());
        assert_eq!(p.epoch_authenticator(), auth, "{}", p.kind());
        assert_eq!(
            p.export_secret("interop", b"ctx", 32).unwrap(),
            export.as_bytes(),
            "{}",
            p.kind()
        );
        assert_eq!(
            p.ratchet_tree().unwrap(),
            canopy.ratchet_tree_bytes().unwrap()
        );
    }
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

/// The suites a peer runs, each with its peers: the table every suite's tests come from.
const SUITES: [(u16, &[PeerKind]); 8] = [
    (1, &[PeerKind::OpenMls, PeerKind::MlsRs]),
    (2, &[PeerKind::OpenMls, PeerKind::MlsRs]),
    (3, &[PeerKind::OpenMls, PeerKind::MlsRs]),
    (5, &[PeerKind::MlsRs]),
    (7, &[PeerKind::MlsRs]),
    // The experimental X-Wing suite (0x004D), which openmls runs on its libcrux back end.
    (77, &[PeerKind::OpenMls]),
    // mls-rs's experimental ML-KEM suites (0xFDEA, 0xFDEB).
    (65002, &[PeerKind::MlsRs]),
    (65003, &[PeerKind::MlsRs]),
];

/// The peers that run `suite` according to [`SUITES`]; the peers must say the same.
fn peers_of(suite: u16) -> &'static [PeerKind] {
    let peers = SUITES
        .iter()
        .find(|(s, _)| *s == suite)
        .unwrap_or_else(|| panic!("suite {suite} is not in the table"))
        .1;
    for kind in PeerKind::ALL {
        assert_eq!(
            kind.supports_suite(suite),
            peers.contains(&kind),
            "{kind} {suite}"
        );
    }
    peers
}

fn provider(suite: u16) -> Provider {
    Provider::new(CipherSuite::from_u16(suite).expect("Canopy implements every table suite"))
}

/// Every suite some peer runs has both directions tested, and no other: the table is the
/// peers' own answer.
#[test]
fn every_suite_a_peer_runs_is_in_the_table() {
    let run_by_a_peer: Vec<u16> = CipherSuite::ALL
        .iter()
        .map(|s| s.id())
        .filter(|&s| PeerKind::ALL.iter().any(|k| k.supports_suite(s)))
        .collect();
    let table: Vec<u16> = SUITES.iter().map(|(s, _)| *s).collect();
    assert_eq!(run_by_a_peer, table);
    for (suite, _) in SUITES {
        peers_of(suite);
    }
}

/// Canopy creates a `suite` group and adds every peer that runs the suite (and two Canopy
/// members) in one commit; the peers join from Canopy's Welcome (tree in it, then out of
/// band); Canopy commits, then each peer commits, everyone follows; agreement at every epoch;
/// application messages both ways. Returns the groups checked (one per tree placement).
fn canopy_creates(suite: u16) -> usize {
    let kinds = peers_of(suite);
    let mut checked = 0;
    for tree_in_welcome in [true, false] {
        let p = provider(suite);
        let signer = p.generate_signature_key_pair().0;
        let mut canopy =
            Group::create(p, b"interop", b"canopy", signer, GroupConfig::default()).unwrap();
        let mut peers: Vec<Box<dyn PeerMember>> = kinds
            .iter()
            .map(|&k| new_member_in(k, suite, format!("peer-{k}").as_bytes()).unwrap())
            .collect();
        // Canopy adds the peers (and two Canopy-made members) in one commit.
        let mut adds: Vec<codec::KeyPackage> = peers
            .iter_mut()
            .map(|m| decode_kp(&m.key_package().unwrap()))
            .collect();
        adds.push(key_package(&p, b"extra-1").unwrap().0);
        adds.push(key_package(&p, b"extra-2").unwrap().0);
        let out =
            canopy
                .commit(&CommitOptions::new().adds(adds).with_path().ratchet_tree(
                    if tree_in_welcome {
                        TreeDelivery::Included
                    } else {
                        TreeDelivery::OutOfBand
                    },
                ))
                .unwrap();
        let tree = canopy.ratchet_tree_bytes().unwrap();
        for m in peers.iter_mut() {
            m.join(
                out.welcome.as_ref().unwrap(),
                (!tree_in_welcome).then_some(&tree[..]),
            )
            .unwrap();
        }
        agree(&canopy, &peers);
        let mut epochs = 1;

        // Canopy commits: a path, an add of a peer-made KeyPackage, a remove.
        let maker = kinds[kinds.len() - 1];
        let peer_kp = new_member_in(maker, suite, format!("{maker}-kp-maker").as_bytes())
            .unwrap()
            .key_package()
            .unwrap();
        for options in [
            CommitOptions::new().with_path(),
            CommitOptions::new()
                .adds(vec![decode_kp(&peer_kp)])
                .ratchet_tree_in_welcome(),
            CommitOptions::new().removes(vec![LeafIndex(3)]),
        ] {
            let out = canopy.commit(&options).unwrap();
            for m in peers.iter_mut() {
                m.process(&out.commit).unwrap();
            }
            agree(&canopy, &peers);
            epochs += 1;
        }

        // Each peer commits: path only, an add of a Canopy KeyPackage, a remove; Canopy and
        // the other peer follow.
        for i in 0..peers.len() {
            let extra = key_package(&p, format!("by-peer-{i}").as_bytes())
                .unwrap()
                .0;
            let live: Vec<u32> = peers.iter().map(|m| m.own_leaf()).collect();
            let victim = canopy
                .tree()
                .leaves()
                .map(|(l, _)| l.0)
                .filter(|&l| l != 0 && !live.contains(&l))
                .last()
                .unwrap();
            for op in [
                CommitOp::Empty,
                CommitOp::Add(vec![kp_bytes(&extra)]),
                CommitOp::Remove(vec![victim]),
            ] {
                let out = peers[i].commit(op, tree_in_welcome).unwrap();
                canopy.process(&out.commit).unwrap();
                for (j, m) in peers.iter_mut().enumerate() {
                    if j != i {
                        m.process(&out.commit).unwrap();
                    }
                }
                agree(&canopy, &peers);
                epochs += 1;
            }
        }

        // Application messages both ways.
        let msg = canopy.protect_application(b"from canopy").unwrap();
        for m in peers.iter_mut() {
            assert_eq!(m.unprotect(&msg).unwrap(), b"from canopy");
        }
        for m in peers.iter_mut() {
            let msg = m.protect(b"from a peer").unwrap();
            assert_eq!(canopy.unprotect_application(&msg).unwrap(), b"from a peer");
        }
        assert_eq!(epochs, 4 + 3 * kinds.len());
        assert!(peers.iter().all(|m| m.suite() == suite));
        checked += 1;
    }
    checked
}

#[test]
fn canopy_group_with_openmls_and_mls_rs_members() {
    assert_eq!(canopy_creates(1), 2);
}

#[test]
fn canopy_group_with_peer_members_suite_2() {
    assert_eq!(canopy_creates(2), 2);
}

#[test]
fn canopy_group_with_peer_members_suite_3() {
    assert_eq!(canopy_creates(3), 2);
}

#[test]
fn canopy_group_with_peer_members_suite_5() {
    assert_eq!(canopy_creates(5), 2);
}

#[test]
fn canopy_group_with_peer_members_suite_7() {
    assert_eq!(canopy_creates(7), 2);
}

/// Every live member agrees with `canopy` (epoch, authenticator, exporter, tree).
fn agree_all(canopy: &Group, peers: &[&dyn PeerMember]) {
    let auth = canopy.epoch_authenticator().as_bytes().to_vec();
    let export = canopy.export_secret(b"interop", b"ctx", 32).unwrap();
    let tree = canopy.ratchet_tree_bytes().unwrap();
    for p in peers {
        assert_eq!(p.epoch(), canopy.epoch(), "{}", p.kind());
        assert_eq!(p.epoch_authenticator(), auth, "{}", p.kind());
        assert_eq!(
            p.export_secret("interop", b"ctx", 32).unwrap(),
            export.as_bytes(),
            "{}",
            p.kind()
        );
        assert_eq!(p.ratchet_tree().unwrap(), tree, "{}", p.kind());
    }
}

/// The PEER creates a `suite` group and adds a Canopy member (and another
/// peer member, and passive members from Canopy- and peer-made KeyPackages); Canopy joins
/// from the peer's Welcome (tree in it, or out of band); the peer members commit with and
/// without a path — empty, update, add, add with path, remove, removes and adds mixed — and
/// Canopy follows; then Canopy commits and the peers follow. Agreement at every epoch;
/// application messages both ways. Every peer that runs the suite creates; returns the groups
/// checked (peers × tree placements).
fn peer_creates(suite: u16) -> usize {
    let p = provider(suite);
    let mut checked = 0;
    for &kind in peers_of(suite) {
        for tree_in_welcome in [true, false] {
            let mut creator = new_member_in(kind, suite, b"creator").unwrap();
            creator.create_group(b"peer-made group").unwrap();
            let mut other = new_member_in(kind, suite, b"other peer").unwrap();
            let (kp, secrets) = key_package(&p, b"canopy").unwrap();
            let passive_peer = new_member_in(kind, suite, b"passive peer")
                .unwrap()
                .key_package()
                .unwrap();
            let passive: Vec<Vec<u8>> = (0..3)
                .map(|i| {
                    kp_bytes(
                        &key_package(&p, format!("passive-{i}").as_bytes())
                            .unwrap()
                            .0,
                    )
                })
                .collect();
            let mut adds = vec![kp_bytes(&kp), other.key_package().unwrap(), passive_peer];
            adds.extend(passive);
            let out = creator
                .commit(CommitOp::Add(adds), tree_in_welcome)
                .unwrap();
            let welcome = out.welcome.unwrap();
            assert_eq!(out.ratchet_tree.is_some(), !tree_in_welcome);
            let mut canopy = Group::join(
                p,
                &welcome,
                &kp,
                &secrets,
                JoinOptions::from(GroupConfig::default()).ratchet_tree(out.ratchet_tree.as_deref()),
            )
            .unwrap();
            other.join(&welcome, out.ratchet_tree.as_deref()).unwrap();
            agree_all(&canopy, &[&*creator, &*other]);
            assert_eq!(canopy.member_count(), 7);
            let mut epochs = 1;

            // The peers commit; Canopy (and the other peer) follow.
            let fresh = |name: &str| kp_bytes(&key_package(&p, name.as_bytes()).unwrap().0);
            let passive_leaf = |canopy: &Group, avoid: &[u32]| {
                canopy
                    .tree()
                    .leaves()
                    .map(|(l, _)| l.0)
                    .filter(|l| !avoid.contains(l))
                    .last()
                    .unwrap()
            };
            let live = [0, canopy.own_leaf().0, other.own_leaf()];
            for (who, step) in [
                (0, "empty"),
                (0, "update"),
                (0, "add"),
                (1, "add+path"),
                (0, "remove"),
                (1, "mixed"),
                (1, "empty"),
            ] {
                let op = match step {
                    "empty" => CommitOp::Empty,
                    "update" => CommitOp::Update,
                    "add" => CommitOp::Add(vec![fresh("a1"), fresh("a2")]),
                    "add+path" => CommitOp::AddWithPath(vec![fresh("a3")]),
                    "remove" => CommitOp::Remove(vec![passive_leaf(&canopy, &live)]),
                    _ => CommitOp::Mixed {
                        adds: vec![fresh("a4")],
                        removes: vec![passive_leaf(&canopy, &live)],
                    },
                };
                let (committer, follower) = if who == 0 {
                    (&mut creator, &mut other)
                } else {
                    (&mut other, &mut creator)
                };
                let out = committer.commit(op, tree_in_welcome).unwrap();
                canopy.process(&out.commit).unwrap();
                follower.process(&out.commit).unwrap();
                agree_all(&canopy, &[&*creator, &*other]);
                epochs += 1;
            }

            // Canopy commits (path, add of a peer KeyPackage, remove); the peers follow.
            let peer_kp = new_member_in(kind, suite, b"late peer")
                .unwrap()
                .key_package()
                .unwrap();
            for options in [
                CommitOptions::new().with_path(),
                CommitOptions::new()
                    .adds(vec![decode_kp(&peer_kp)])
                    .ratchet_tree(if tree_in_welcome {
                        TreeDelivery::Included
                    } else {
                        TreeDelivery::OutOfBand
                    }),
                CommitOptions::new().removes(vec![LeafIndex(passive_leaf(&canopy, &live))]),
            ] {
                let out = canopy.commit(&options).unwrap();
                creator.process(&out.commit).unwrap();
                other.process(&out.commit).unwrap();
                agree_all(&canopy, &[&*creator, &*other]);
                epochs += 1;
            }

            // Application messages both ways.
            let msg = creator.protect(b"from the creator").unwrap();
            assert_eq!(
                canopy.unprotect_application(&msg).unwrap(),
                b"from the creator"
            );
            let msg = canopy.protect_application(b"from canopy").unwrap();
            assert_eq!(creator.unprotect(&msg).unwrap(), b"from canopy");
            assert_eq!(other.unprotect(&msg).unwrap(), b"from canopy");
            assert_eq!(epochs, 11);
            assert_eq!(canopy.epoch(), 11);
            assert_eq!(canopy.provider().suite().id(), suite);
            checked += 1;
        }
    }
    checked
}

#[test]
fn peer_creates_group_and_canopy_joins_from_its_welcome() {
    assert_eq!(peer_creates(1), 4);
}

#[test]
fn canopy_group_with_peer_members_suite_77_xwing() {
    assert_eq!(canopy_creates(77), 2);
}

#[test]
fn peer_creates_group_and_canopy_joins_suite_77_xwing() {
    assert_eq!(peer_creates(77), 2);
}

#[test]
fn peer_creates_group_and_canopy_joins_suite_2() {
    assert_eq!(peer_creates(2), 4);
}

#[test]
fn peer_creates_group_and_canopy_joins_suite_3() {
    assert_eq!(peer_creates(3), 4);
}

#[test]
fn peer_creates_group_and_canopy_joins_suite_5() {
    assert_eq!(peer_creates(5), 2);
}

#[test]
fn peer_creates_group_and_canopy_joins_suite_7() {
    assert_eq!(peer_creates(7), 2);
}

#[test]
fn canopy_group_with_peer_members_suite_65002_mlkem768() {
    assert_eq!(canopy_creates(65002), 2);
}

#[test]
fn peer_creates_group_and_canopy_joins_suite_65002_mlkem768() {
    assert_eq!(peer_creates(65002), 2);
}

#[test]
fn canopy_group_with_peer_members_suite_65003_mlkem1024() {
    assert_eq!(canopy_creates(65003), 2);
}

#[test]
fn peer_creates_group_and_canopy_joins_suite_65003_mlkem1024() {
    assert_eq!(peer_creates(65003), 2);
}
