//! Joining, and observing from a GroupInfo, with a tree large enough (800 members, about
//! 140 KiB) that the GroupInfo's signature is checked beside the tree's decoding, with the
//! signer's key skimmed from the tree's bytes: the joins succeed on both executors, and a
//! GroupInfo that is not its signer's is refused with the error a small tree gets.

use canopy_engine::batch::Executor;
use canopy_engine::codec::{self, MlsMessage, MlsMessageBody};
use canopy_engine::group::{CommitOptions, Group, GroupConfig};
use canopy_engine::{CryptoError, Error, PeerMisbehaved, PublicGroup, TreeDelivery};

mod common;
use common::{config, key_package, provider};

const ROUND: u8 = 0x3c;

/// The creator of an `n`-member group, the Welcome that added the others, and the
/// KeyPackages and secrets of those added.
fn grown(
    n: u32,
) -> (
    Group,
    Vec<u8>,
    Vec<(codec::KeyPackage, canopy_engine::KeyPackageSecrets)>,
) {
    let p = provider();
    let (signer, _) = p.signature_key_pair_from_seed(&[ROUND; 32]).unwrap();
    let mut creator = Group::create(p, b"large", b"member-0", signer, config(1)).unwrap();
    let kps: Vec<_> = (1..n).map(|i| key_package(&p, i, ROUND)).collect();
    let out = creator
        .commit(
            &CommitOptions::new()
                .adds(kps.iter().map(|(k, _)| k.clone()))
                .ratchet_tree_in_welcome(),
        )
        .unwrap();
    (creator, out.welcome.unwrap(), kps)
}

/// `gi` (an MLSMessage(GroupInfo)) with `edit` applied, encoded again.
fn edited(gi: &[u8], edit: impl FnOnce(&mut codec::GroupInfo)) -> Vec<u8> {
    let mut message: MlsMessage = codec::decode(gi).unwrap();
    let MlsMessageBody::GroupInfo(info) = &mut message.body else {
        panic!("not a GroupInfo");
    };
    edit(info);
    codec::encode(&message).unwrap()
}

fn observe(gi: &[u8], executor: Executor) -> Result<PublicGroup, Error> {
    let config = GroupConfig {
        executor,
        ..config(7)
    };
    PublicGroup::from_group_info(provider(), gi, None, config)
}

#[test]
fn large_trees_join_and_refuse_a_group_info_not_signed_by_its_signer() {
    for (members, large) in [(800, true), (8, false)] {
        let (creator, welcome, kps) = grown(members);
        let gi = creator.group_info(TreeDelivery::Included).unwrap();
        let tree = creator.ratchet_tree_bytes().unwrap();
        assert_eq!(tree.len() >= 128 * 1024, large, "{} bytes", tree.len());
        for executor in [Executor::Parallel, Executor::Serial] {
            // The last member added joins from the Welcome and agrees with the creator.
            let (kp, secrets) = kps.last().unwrap();
            let joined = Group::join(
                provider(),
                &welcome,
                kp,
                secrets,
                GroupConfig {
                    executor,
                    ..config(9)
                },
            )
            .unwrap();
            assert_eq!(
                joined.epoch_authenticator().as_bytes(),
                creator.epoch_authenticator().as_bytes()
            );
            // An observer opens the GroupInfo.
            let ds = observe(&gi, executor).unwrap();
            assert_eq!(ds.context(), creator.context());

            // Signed by its signer, but naming another member as the signer: the other
            // member's key (skimmed and confirmed) does not verify it.
            let other = edited(&gi, |info| info.signer = members - 1);
            let e = observe(&other, executor).unwrap_err();
            assert!(
                matches!(e, Error::Crypto(CryptoError::InvalidSignature)),
                "{members}, {executor:?}: {e:?}"
            );
            // A signature changed in one bit.
            let forged = edited(&gi, |info| {
                let mut sig = info.signature.as_slice().to_vec();
                sig[10] ^= 1;
                info.signature = sig.into();
            });
            let e = observe(&forged, executor).unwrap_err();
            assert!(
                matches!(e, Error::Crypto(CryptoError::InvalidSignature)),
                "{members}, {executor:?}: {e:?}"
            );
            // A signer past the tree's last leaf is unknown.
            let beyond = edited(&gi, |info| info.signer = 4 * members);
            let e = observe(&beyond, executor).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::PeerMisbehaved(PeerMisbehaved::UnknownSigner(s)) if s == 4 * members
                ),
                "{members}, {executor:?}: {e:?}"
            );
        }
    }
}
