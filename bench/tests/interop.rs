//! Canopy ↔ openmls / mls-rs interop over serialized bytes only: a Canopy group with peer
//! members (joined from Canopy's Welcome, with and without the tree in it), commits from
//! Canopy and from the peers processed by everyone, and agreement on the epoch authenticator
//! and an exported secret at every epoch; application messages both ways.

use canopy_bench::peers::{new_member, CommitOp, PeerKind, PeerMember};
use canopy_engine::codec::{self, MlsMessage, MlsMessageBody, ProtocolVersion};
use canopy_engine::crypto::{CipherSuite, Provider};
use canopy_engine::group::{CommitOptions, Group, GroupConfig};
use canopy_engine::key_package::key_package;
use canopy_engine::tree::LeafIndex;

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

#[test]
fn canopy_group_with_openmls_and_mls_rs_members() {
    for tree_in_welcome in [true, false] {
        let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
        let signer = p.generate_signature_key_pair().0;
        let mut canopy =
            Group::create(p, b"interop", b"canopy", signer, GroupConfig::default()).unwrap();
        let mut peers: Vec<Box<dyn PeerMember>> = PeerKind::ALL
            .iter()
            .map(|&k| new_member(k, format!("peer-{k}").as_bytes()).unwrap())
            .collect();
        // Canopy adds both peers (and two Canopy-made members) in one commit.
        let mut adds: Vec<codec::KeyPackage> = peers
            .iter_mut()
            .map(|m| decode_kp(&m.key_package().unwrap()))
            .collect();
        adds.push(key_package(&p, b"extra-1").unwrap().0);
        adds.push(key_package(&p, b"extra-2").unwrap().0);
        let out = canopy
            .commit(&CommitOptions {
                adds,
                force_path: true,
                ratchet_tree_in_welcome: tree_in_welcome,
                ..CommitOptions::default()
            })
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
        let peer_kp = new_member(PeerKind::MlsRs, b"mls-rs-kp-maker")
            .unwrap()
            .key_package()
            .unwrap();
        for options in [
            CommitOptions {
                force_path: true,
                ..CommitOptions::default()
            },
            CommitOptions {
                adds: vec![decode_kp(&peer_kp)],
                ratchet_tree_in_welcome: true,
                ..CommitOptions::default()
            },
            CommitOptions {
                removes: vec![LeafIndex(3)],
                ..CommitOptions::default()
            },
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
            let victim = canopy
                .tree()
                .leaves()
                .map(|(l, _)| l.0)
                .filter(|&l| l != 0 && l != peers[0].own_leaf() && l != peers[1].own_leaf())
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
        assert_eq!(epochs, 10);
    }
}
