//! Staged commits through the wire: a committer's commit stays pending until the delivery
//! service's verdict (merge, or clear when another commit won), and a receiver sees what a
//! commit does before it merges it. The two-step paths must give exactly the state the
//! one-step `commit` / `process` give (same `state_digest`), and a discarded or cleared
//! commit must leave the group as it was.

use canopy_engine::codec::Credential;
use canopy_engine::crypto::Provider;
use canopy_engine::group::{CommitOptions, Group, ProcessOutcome, Staged};
use canopy_engine::tree::LeafIndex;
use canopy_engine::ApiMisuse;
use canopy_engine::Error;
use canopy_engine::ExternalJoinOptions;
use canopy_engine::TreeDelivery;

mod common;
use common::{config, group as build, key_package, provider};

fn kp(
    p: &Provider,
    i: u32,
) -> (
    canopy_engine::codec::KeyPackage,
    canopy_engine::key_package::KeyPackageSecrets,
) {
    key_package(p, i, 0x31)
}

/// A 4-member group, built the same way on every call (so two calls give byte-identical
/// members to compare one-step and two-step paths).
fn group() -> Vec<Group> {
    build(provider(), b"staged", 4, 0x31, None).0
}

fn digest(g: &Group) -> Vec<u8> {
    g.state_digest().unwrap()
}

#[test]
fn pending_commit_merged_equals_commit_at_once() {
    let options = CommitOptions::new()
        .adds(vec![kp(&provider(), 50).0])
        .removes(vec![LeafIndex(2)]);
    let mut direct = group();
    let mut staged = group();
    let out_direct = direct[1].commit(&options).unwrap();
    let before = digest(&staged[1]);
    let out_staged = staged[1].create_commit(&options).unwrap();
    assert_eq!(out_direct.commit, out_staged.commit);
    assert_eq!(out_direct.welcome, out_staged.welcome);
    assert!(staged[1].has_pending_commit());
    // Pending: still the old epoch, tree unchanged; no second commit.
    assert_eq!(staged[1].epoch(), direct[0].epoch());
    assert_eq!(
        staged[1].ratchet_tree_bytes().unwrap(),
        staged[0].ratchet_tree_bytes().unwrap()
    );
    assert_ne!(digest(&staged[1]), before);
    let e = staged[1].commit(&CommitOptions::default()).unwrap_err();
    assert!(
        matches!(e, Error::ApiMisuse(ApiMisuse::CommitPending)),
        "{e:?}"
    );
    staged[1].merge_pending_commit().unwrap();
    assert!(!staged[1].has_pending_commit());
    assert_eq!(digest(&staged[1]), digest(&direct[1]));
    let e = staged[1].merge_pending_commit().unwrap_err();
    assert!(
        matches!(e, Error::ApiMisuse(ApiMisuse::NoPendingCommit)),
        "{e:?}"
    );

    // Receivers: process_staged + merge gives what process gives.
    for i in [0, 3] {
        direct[i].process(&out_direct.commit).unwrap();
        match staged[i].process_staged(&out_staged.commit).unwrap() {
            Staged::Commit(c) => {
                let s = c.summary().clone();
                assert_eq!(s.committer, LeafIndex(1));
                assert!(!s.external && !s.removes_me);
                assert_eq!(s.added.len(), 1);
                assert_eq!(
                    s.added[0].1,
                    Credential::Basic {
                        identity: b"member-50".to_vec().into()
                    }
                );
                assert_eq!(
                    s.removed,
                    vec![(
                        LeafIndex(2),
                        Credential::Basic {
                            identity: b"member-2".to_vec().into()
                        }
                    )]
                );
                assert!(matches!(c.merge(), ProcessOutcome::Committed { .. }));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(digest(&staged[i]), digest(&direct[i]));
    }
    // The removed member sees its removal in the summary and only on merge.
    let before = digest(&staged[2]);
    match staged[2].process_staged(&out_staged.commit).unwrap() {
        Staged::Commit(c) => {
            assert!(c.summary().removes_me);
            c.discard();
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(digest(&staged[2]), before);
    assert!(!staged[2].is_removed());
    match staged[2].process_staged(&out_staged.commit).unwrap() {
        Staged::Commit(c) => assert_eq!(c.merge(), ProcessOutcome::Removed),
        other => panic!("{other:?}"),
    }
    assert!(staged[2].is_removed());
}

#[test]
fn losing_the_race_clears_the_pending_commit() {
    let mut m = group();
    let before_tree = m[1].ratchet_tree_bytes().unwrap();
    let before_auth = m[1].epoch_authenticator().as_bytes().to_vec();
    let mine = m[1]
        .create_commit(&CommitOptions::new().with_path())
        .unwrap();
    let theirs = m[2].commit(&CommitOptions::new().with_path()).unwrap();
    // Explicit clear, on an identical copy of the group built afresh (a clone does not carry
    // a pending commit): the group is as it was before the commit.
    let mut cleared = group().remove(1);
    cleared
        .create_commit(&CommitOptions::new().with_path())
        .unwrap();
    assert!(cleared.clear_pending_commit());
    assert!(!cleared.clear_pending_commit());
    assert_eq!(cleared.ratchet_tree_bytes().unwrap(), before_tree);
    assert_eq!(cleared.epoch_authenticator().as_bytes(), before_auth);
    // Our own commit echoed back is refused (merge it instead).
    let e = m[1].process(&mine.commit).unwrap_err();
    assert!(matches!(e, Error::ApiMisuse(ApiMisuse::OwnCommit)), "{e:?}");
    // Processing the winner drops ours and follows the group.
    m[1].process(&theirs.commit).unwrap();
    assert!(!m[1].has_pending_commit());
    m[0].process(&theirs.commit).unwrap();
    assert_eq!(
        m[1].epoch_authenticator().as_bytes(),
        m[0].epoch_authenticator().as_bytes()
    );
    assert_eq!(
        m[1].epoch_authenticator().as_bytes(),
        m[2].epoch_authenticator().as_bytes()
    );
    // The losing commit no longer applies anywhere.
    assert!(m[0].process(&mine.commit).is_err());
    // After clearing, the member commits normally again.
    cleared.process(&theirs.commit).unwrap();
    let out = cleared.commit(&CommitOptions::default()).unwrap();
    m[0].process(&out.commit).unwrap();
    assert_eq!(
        cleared.epoch_authenticator().as_bytes(),
        m[0].epoch_authenticator().as_bytes()
    );
}

#[test]
fn external_commit_staged() {
    let p = provider();
    let mut m = group();
    let gi = m[0].group_info(TreeDelivery::Included).unwrap();
    let (signer, _) = p.signature_key_pair_from_seed(&[0x44; 32]).unwrap();
    let (joined, commit) = Group::join_external(
        p,
        &gi,
        ExternalJoinOptions::new(b"newcomer".to_vec(), signer).config(config(40)),
    )
    .unwrap();
    let before = digest(&m[3]);
    let staged = match m[3].process_staged(&commit).unwrap() {
        Staged::Commit(c) => c,
        other => panic!("{other:?}"),
    };
    let s = staged.summary().clone();
    assert!(s.external);
    assert_eq!(
        s.committer_credential,
        Some(Credential::Basic {
            identity: b"newcomer".to_vec().into()
        })
    );
    staged.discard();
    assert_eq!(digest(&m[3]), before);
    match m[3].process_staged(&commit).unwrap() {
        Staged::Commit(c) => assert!(matches!(c.merge(), ProcessOutcome::Committed { .. })),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        m[3].epoch_authenticator().as_bytes(),
        joined.epoch_authenticator().as_bytes()
    );
}
