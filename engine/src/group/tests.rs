//! Group operations end to end over bytes: create, bulk add with Welcome, join (tree in the
//! Welcome or out of band), commits with and without path, removes, processing by every
//! member; serial and parallel executors byte-identical; failed operations change nothing.

use crate::group::{PathPolicy, TreeDelivery};
use crate::error::{ApiMisuse, PeerMisbehaved};
use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::crypto::CipherSuite;
use crate::key_package::{key_package_from_seed, KeyPackageSecrets};

pub(super) fn provider() -> Provider {
    Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519)
}

/// A fixed time (2027-01-15), so that seeded runs are reproducible across seconds.
pub(super) const NOW: u64 = 1_800_000_000;

pub(super) fn seeded(executor: Executor, seed: u32) -> GroupConfig {
    let mut bytes = vec![0xc4; 32];
    bytes[..4].copy_from_slice(&seed.to_be_bytes());
    GroupConfig {
        clock: Clock::Fixed(NOW),
        executor,
        randomness: Randomness::Seeded(Secret::new(bytes)),
        ..GroupConfig::default()
    }
}

pub(super) fn kp(p: &Provider, i: u32) -> (codec::KeyPackage, KeyPackageSecrets) {
    let mut seed = [0x5a; 32];
    seed[..4].copy_from_slice(&i.to_be_bytes());
    key_package_from_seed(
        p,
        format!("member-{i}").as_bytes(),
        &seed,
        default_lifetime(NOW),
    )
    .unwrap()
}

pub(super) fn creator(p: &Provider, config: GroupConfig) -> Group {
    // The seed itself for Ed25519; a key derived from it for the other schemes.
    let (signer, _) = p.derive_signature_key_pair(&[1; 32]).unwrap();
    Group::create(*p, b"group", b"creator", signer, config).unwrap()
}

/// Everything a member's view of the epoch must agree on.
pub(super) fn fingerprint(g: &Group) -> (u64, Vec<u8>, Vec<u8>, Vec<u8>) {
    (
        g.epoch(),
        g.epoch_authenticator().as_bytes().to_vec(),
        g.export_secret(b"test", b"ctx", 16)
            .unwrap()
            .as_bytes()
            .to_vec(),
        codec::encode(g.context()).unwrap(),
    )
}

/// The full observable state, to check that a failed operation changed nothing.
pub(super) fn snapshot(g: &Group) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<usize>) {
    let mut t = g.tree().clone();
    (
        codec::encode(&g.tree().to_wire()).unwrap(),
        t.tree_hash(g.provider()).unwrap(),
        codec::encode(g.context()).unwrap(),
        vec![g.private().path_nodes().count()],
    )
}

/// Build a group of `n` members: the creator adds `n - 1` in one commit; all join.
pub(super) fn build(n: u32, executor: Executor, tree_in_welcome: bool) -> (Group, Vec<Group>) {
    let p = provider();
    let mut alice = creator(&p, seeded(executor, 9));
    let kps: Vec<_> = (1..n).map(|i| kp(&p, i)).collect();
    let out = alice
        .commit(&CommitOptions::new().adds(kps.iter().map(|(k, _)| k.clone())).ratchet_tree(if tree_in_welcome { TreeDelivery::Included } else { TreeDelivery::OutOfBand }))
        .unwrap();
    assert_eq!(alice.epoch(), 1);
    let tree = alice.ratchet_tree_bytes().unwrap();
    let oob = (!tree_in_welcome).then_some(tree.as_slice());
    // Every member gets its own seed: members sharing one would derive equal keys (which
    // the duplicate-key checks then reject).
    let members = kps
        .iter()
        .enumerate()
        .map(|(i, (k, s))| {
            Group::join(p, out.welcome.as_ref().unwrap(), k, s, JoinOptions::from(seeded(executor, 10 + i as u32)).ratchet_tree(oob))
            .unwrap()
        })
        .collect();
    (alice, members)
}

pub(super) fn all_agree(groups: &[&Group]) {
    let want = fingerprint(groups[0]);
    for g in groups {
        assert_eq!(fingerprint(g), want, "member {:?} disagrees", g.own_leaf());
    }
}

#[test]
fn bulk_add_and_join_with_and_without_tree_in_welcome() {
    for n in [2, 3, 4, 5, 8, 9, 17] {
        for in_welcome in [true, false] {
            let (alice, members) = build(n, Executor::default(), in_welcome);
            let mut all: Vec<&Group> = vec![&alice];
            all.extend(members.iter());
            all_agree(&all);
            assert_eq!(alice.member_count(), n as usize);
        }
    }
}

#[test]
fn missing_tree_is_a_typed_error() {
    let p = provider();
    let mut alice = creator(&p, seeded(Executor::Serial, 1));
    let (k, s) = kp(&p, 1);
    let out = alice
        .commit(&CommitOptions::new().adds(vec![k.clone()]))
        .unwrap();
    let err = Group::join(p, &out.welcome.unwrap(), &k, &s, GroupConfig::default());
    assert!(matches!(
        err,
        Err(Error::ApiMisuse(ApiMisuse::MissingRatchetTree))
    ));
}

/// A seeded random run: random committers add, remove and update; every member processes
/// every commit and all agree at every epoch.
#[test]
fn random_churn_keeps_every_member_in_agreement() {
    let p = provider();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let (alice, members) = build(6, Executor::default(), true);
    let mut groups: Vec<Group> = core::iter::once(alice).chain(members).collect();
    let mut next_kp = 1000;
    let mut joiner_seed = 1_000_000;
    let mut epochs = 0;
    for _ in 0..40 {
        let c = rng.random_range(0..groups.len());
        let committer_leaf = groups[c].own_leaf();
        let mut options = CommitOptions::new().ratchet_tree(if rng.random_bool(0.5) { TreeDelivery::Included } else { TreeDelivery::OutOfBand });
        let mut new_kps = Vec::new();
        match rng.random_range(0..4) {
            0 => {
                for _ in 0..rng.random_range(1..4) {
                    next_kp += 1;
                    new_kps.push(kp(&p, next_kp));
                }
                options.adds = new_kps.iter().map(|(k, _)| k.clone()).collect();
                options.path = if rng.random_bool(0.5) { PathPolicy::Always } else { PathPolicy::WhenRequired };
            }
            1 if groups.len() > 2 => {
                let victims: Vec<LeafIndex> = groups
                    .iter()
                    .map(Group::own_leaf)
                    .filter(|&l| l != committer_leaf)
                    .take(rng.random_range(1..3))
                    .collect();
                options.removes = victims;
            }
            _ => options.path = PathPolicy::Always,
        }
        let out = groups[c].commit(&options).unwrap();
        let removed = options.removes.clone();
        for (i, g) in groups.iter_mut().enumerate() {
            if i == c {
                continue;
            }
            let outcome = g.process(&out.commit).unwrap();
            if removed.contains(&g.own_leaf()) {
                assert_eq!(outcome, ProcessOutcome::Removed);
                assert!(g.is_removed());
            }
        }
        groups.retain(|g| !g.is_removed());
        let tree = groups[0].ratchet_tree_bytes().unwrap();
        for (k, s) in &new_kps {
            let oob = (options.ratchet_tree == TreeDelivery::OutOfBand).then_some(tree.as_slice());
            let joined = Group::join(p, out.welcome.as_ref().unwrap(), k, s, JoinOptions::from(seeded(Executor::default(), { joiner_seed += 1; joiner_seed })).ratchet_tree(oob))
            .unwrap();
            groups.push(joined);
        }
        let refs: Vec<&Group> = groups.iter().collect();
        all_agree(&refs);
        for g in &groups {
            assert!(g.private().check_against(&p, g.tree()).unwrap() >= 1);
        }
        epochs += 1;
    }
    assert_eq!(epochs, 40);
}

/// Every suite end to end: a bulk add with the tree in the Welcome, every member joins, then
/// commits with path, adds (tree in the Welcome or out of band) and removes by random
/// members, each processed by every other member, all in agreement at every epoch, with the
/// private state matching the tree; and an application message each way.
#[test]
fn every_suite_builds_churns_and_agrees() {
    let mut suites = 0;
    for &suite in CipherSuite::ALL {
        let p = Provider::new(suite);
        let mut rng = ChaCha8Rng::seed_from_u64(u64::from(suite.id()));
        let mut alice = creator(&p, seeded(Executor::default(), 9));
        let kps: Vec<_> = (1..5).map(|i| kp(&p, i)).collect();
        let out = alice
            .commit(
                &CommitOptions::new()
                    .adds(kps.iter().map(|(k, _)| k.clone()))
                    .ratchet_tree(TreeDelivery::Included),
            )
            .unwrap();
        let mut groups = vec![alice];
        for (i, (k, s)) in kps.iter().enumerate() {
            let config = seeded(Executor::default(), 10 + i as u32);
            groups.push(Group::join(p, out.welcome.as_ref().unwrap(), k, s, config).unwrap());
        }
        let mut next_kp = 100;
        for epoch in 0..8 {
            let c = rng.random_range(0..groups.len());
            let mut options = CommitOptions::new().ratchet_tree(if epoch % 2 == 0 {
                TreeDelivery::Included
            } else {
                TreeDelivery::OutOfBand
            });
            let mut new_kps = Vec::new();
            match epoch % 3 {
                0 => {
                    next_kp += 1;
                    new_kps.push(kp(&p, next_kp));
                    options.adds = new_kps.iter().map(|(k, _)| k.clone()).collect();
                }
                1 if groups.len() > 3 => {
                    let me = groups[c].own_leaf();
                    let victim = groups.iter().map(Group::own_leaf).find(|&l| l != me);
                    options.removes = victim.into_iter().collect();
                }
                _ => options.path = PathPolicy::Always,
            }
            let out = groups[c].commit(&options).unwrap();
            for (i, g) in groups.iter_mut().enumerate() {
                if i != c {
                    g.process(&out.commit).unwrap();
                }
            }
            groups.retain(|g| !g.is_removed());
            let tree = groups[0].ratchet_tree_bytes().unwrap();
            for (k, s) in &new_kps {
                let oob =
                    (options.ratchet_tree == TreeDelivery::OutOfBand).then_some(tree.as_slice());
                let config = seeded(Executor::default(), 1000 + next_kp);
                let joined = Group::join(
                    p,
                    out.welcome.as_ref().unwrap(),
                    k,
                    s,
                    JoinOptions::from(config).ratchet_tree(oob),
                )
                .unwrap();
                groups.push(joined);
            }
            let refs: Vec<&Group> = groups.iter().collect();
            all_agree(&refs);
            for g in &groups {
                assert!(g.private().check_against(&p, g.tree()).unwrap() >= 1);
            }
        }
        let (first, rest) = groups.split_at_mut(1);
        let msg = first[0].protect_application(b"hello").unwrap();
        assert_eq!(rest[0].unprotect_application(&msg).unwrap(), b"hello");
        let reply = rest[0].protect_application(b"hi").unwrap();
        assert_eq!(first[0].unprotect_application(&reply).unwrap(), b"hi");
        suites += 1;
    }
    assert_eq!(suites, CipherSuite::ALL.len());
}

/// The serial reference and the parallel executor produce the same bytes for the same
/// seed, at sizes around powers of two, with blanks and unmerged leaves.
#[test]
fn serial_and_parallel_commits_are_byte_identical() {
    let p = provider();
    for n in [2u32, 3, 4, 5, 16, 17, 33] {
        let mut outputs = Vec::new();
        for executor in [Executor::Serial, Executor::Parallel] {
            let (mut alice, _) = build(n, executor, true);
            let mut bytes = Vec::new();
            // Blanks (removes), unmerged leaves (add without path), then a full path.
            if n > 3 {
                let out = alice
                    .commit(&CommitOptions::new().removes(vec![LeafIndex(1), LeafIndex(n / 2)]))
                    .unwrap();
                bytes.push(out.commit);
            }
            let out = alice
                .commit(&CommitOptions::new().adds(vec![kp(&p, 5000).0, kp(&p, 5001).0]))
                .unwrap();
            bytes.push(out.commit);
            bytes.push(out.welcome.unwrap());
            let out = alice
                .commit(&CommitOptions::new().with_path())
                .unwrap();
            bytes.push(out.commit);
            outputs.push(bytes);
        }
        assert_eq!(outputs[0], outputs[1], "n = {n}");
    }
}

#[test]
fn a_failed_commit_or_process_changes_nothing() {
    let p = provider();
    let (mut alice, mut members) = build(5, Executor::default(), true);
    let bob = &mut members[0];

    // Invalid proposals: remove a non-member, remove self, duplicate KeyPackage.
    let before = snapshot(&alice);
    let fp = fingerprint(&alice);
    type Expect = fn(&PeerMisbehaved) -> bool;
    let cases: [(CommitOptions, Expect); 5] = [
        (
            CommitOptions::new().removes(vec![LeafIndex(40)]),
            |e| matches!(e, PeerMisbehaved::RemoveNonMember(40)),
        ),
        (
            CommitOptions::new().removes(vec![alice.own_leaf()]),
            |e| matches!(e, PeerMisbehaved::CommitterRemovesSelf),
        ),
        (
            CommitOptions::new().removes(vec![LeafIndex(2), LeafIndex(2)]),
            |e| matches!(e, PeerMisbehaved::ConflictingProposals(2)),
        ),
        (
            CommitOptions::new().adds(vec![kp(&p, 1).0]),
            |e| {
                matches!(
                    e,
                    PeerMisbehaved::DuplicateKey {
                        what: "signature key",
                        ..
                    }
                )
            },
        ),
        (
            CommitOptions::new().adds(vec![kp(&p, 77).0, kp(&p, 77).0]),
            |e| {
                matches!(
                    e,
                    PeerMisbehaved::InvalidProposalList(ProposalRule::DuplicateAddSignatureKey)
                )
            },
        ),
    ];
    for (options, expected) in cases {
        match alice.commit(&options) {
            Err(Error::PeerMisbehaved(e)) => assert!(expected(&e), "{e:?}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(snapshot(&alice), before);
        assert_eq!(fingerprint(&alice), fp);
    }

    // A tampered commit: every single-byte flip in a region is rejected and leaves bob as
    // he was; the genuine commit then still processes.
    let out = alice
        .commit(&CommitOptions::new().removes(vec![LeafIndex(3)]).adds(vec![kp(&p, 99).0]))
        .unwrap();
    let before = snapshot(bob);
    let fp = fingerprint(bob);
    let mut rejected = 0;
    for i in (0..out.commit.len()).step_by(7) {
        let mut bad = out.commit.clone();
        bad[i] ^= 0x01;
        assert!(bob.process(&bad).is_err(), "flip at {i} accepted");
        assert_eq!(snapshot(bob), before);
        assert_eq!(fingerprint(bob), fp);
        rejected += 1;
    }
    assert!(rejected > 50);
    bob.process(&out.commit).unwrap();
    assert_eq!(fingerprint(bob), fingerprint(&alice));
    // Replaying it is an epoch error.
    assert!(bob.process(&out.commit).is_err_and(|e| matches!(
        e,
        Error::PeerMisbehaved(crate::error::PeerMisbehaved::WrongEpoch { .. })
    )));
}

#[test]
fn application_messages_flow() {
    let (mut alice, mut members) = build(3, Executor::default(), true);
    let msg = alice.protect_application(b"hello").unwrap();
    for m in members.iter_mut() {
        assert_eq!(m.unprotect_application(&msg).unwrap(), b"hello");
    }
    let reply = members[1].protect_application(b"hi alice").unwrap();
    assert_eq!(alice.unprotect_application(&reply).unwrap(), b"hi alice");
}

/// The GroupInfo a Welcome carries, signed with the tree written straight into the signed
/// content, is byte for byte the one built the plain way: the tree as an extension (after
/// any others), `sign_group_info`, then the encoding. With no other extension and with two,
/// on trees of several widths (blank leaves included after a remove).
#[test]
fn group_info_signed_with_the_tree_in_place_matches_the_plain_encoding() {
    use crate::welcome::{sign_group_info, sign_group_info_with_tree};
    let p = provider();
    let mut alice = creator(&p, seeded(Executor::Serial, 7));
    let others = vec![
        codec::Extension {
            extension_type: codec::ExtensionType(0xff01),
            extension_data: vec![1; 70].into(),
        },
        codec::Extension {
            extension_type: codec::ExtensionType::EXTERNAL_PUB,
            extension_data: vec![2; 33].into(),
        },
    ];
    let mut checked = 0;
    for (round, adds) in [1u32, 2, 5, 9].into_iter().enumerate() {
        let kps = (0..adds).map(|i| kp(&p, 100 * round as u32 + i).0);
        alice.commit(&CommitOptions::new().adds(kps)).unwrap();
        if round == 2 {
            alice
                .commit(&CommitOptions::new().remove_member(LeafIndex(2)))
                .unwrap();
        }
        for extensions in [Vec::new(), others.clone()] {
            let base = codec::GroupInfo {
                group_context: alice.context().clone(),
                extensions,
                confirmation_tag: codec::Mac(vec![0x7a; p.hash_len()].into()),
                signer: 0,
                signature: Vec::new().into(),
            };
            let mut plain = base.clone();
            plain
                .extensions
                .push(alice.public.ratchet_tree_extension().unwrap());
            sign_group_info(&p, &alice.signer, &mut plain).unwrap();
            let in_place =
                sign_group_info_with_tree(&p, &alice.signer, &base, &alice.public.tree).unwrap();
            assert_eq!(in_place.bytes(), &codec::encode(&plain).unwrap()[..]);
            checked += 1;
        }
    }
    assert_eq!(checked, 8);
}

/// A Welcome's GroupInfo with the tree, signed, encrypted and hashed as HPKE context with the
/// signing beside the rest (`seal_group_info_with_tree`), is the reference's: in every suite,
/// on both executors, the ciphertext opens (with aws-lc's one-shot AEAD) to a GroupInfo
/// whose signature verifies and which carries the tree; for the schemes whose signatures are
/// deterministic (Ed25519, Ed448) the ciphertext is byte for byte that of signing, then
/// encrypting; and the HPKE context seals exactly as `SealContext::new` over that
/// ciphertext does.
#[test]
fn group_info_sealed_beside_its_signature_matches_the_serial_steps() {
    use crate::welcome::{
        decrypt_group_info, encrypt_encoded_group_info, seal_group_info_with_tree,
        sign_group_info_with_tree, verify_group_info,
    };
    let mut checked = 0;
    for &suite in CipherSuite::ALL {
        let p = Provider::new(suite);
        let (_, signer_pub) = p.derive_signature_key_pair(&[1; 32]).unwrap();
        let mut alice = creator(&p, seeded(Executor::Serial, 11));
        let kps: Vec<_> = (0..6).map(|i| kp(&p, i).0).collect();
        let init_key = kps[0].init_key.clone();
        alice.commit(&CommitOptions::new().adds(kps)).unwrap();
        let base = codec::GroupInfo {
            group_context: alice.context().clone(),
            extensions: Vec::new(),
            confirmation_tag: codec::Mac(vec![0x7a; p.hash_len()].into()),
            signer: 0,
            signature: Vec::new().into(),
        };
        let welcome_secret = Secret::new(vec![0x33; p.hash_len()]);
        for executor in [Executor::Serial, Executor::Parallel] {
            let tree = &alice.public.tree;
            let (encrypted, context) =
                seal_group_info_with_tree(&p, executor, &alice.signer, &base, tree, &welcome_secret)
                    .unwrap();
            let welcome = codec::Welcome {
                cipher_suite: suite.id().into(),
                secrets: Vec::new(),
                encrypted_group_info: encrypted.clone().into(),
            };
            let opened = decrypt_group_info(&p, &welcome, &welcome_secret).unwrap();
            verify_group_info(&p, &opened, &signer_pub).unwrap();
            assert_eq!(
                opened.extensions,
                vec![alice.public.ratchet_tree_extension().unwrap()],
                "{suite:?}"
            );
            if p.signature_scheme().fixed_signature_len().is_some() {
                let signed = sign_group_info_with_tree(&p, &alice.signer, &base, tree).unwrap();
                let reference =
                    encrypt_encoded_group_info(&p, signed.bytes(), &welcome_secret).unwrap();
                assert_eq!(encrypted.as_slice(), reference.as_slice(), "{suite:?}");
            }
            let reference =
                crate::crypto::SealContext::new(&p, b"Welcome", encrypted.as_slice()).unwrap();
            let ikm = vec![0x44; p.kem().n_sk()];
            assert_eq!(
                context.seal(init_key.as_slice(), b"secrets", Some(&ikm)).unwrap(),
                reference.seal(init_key.as_slice(), b"secrets", Some(&ikm)).unwrap(),
                "{suite:?}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * CipherSuite::ALL.len());
}
