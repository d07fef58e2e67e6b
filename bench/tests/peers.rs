//! The peer adapters interoperating through bytes only: openmls and mls-rs members in one
//! group, both roles each way, Welcomes with the tree inside and out of band, update / add /
//! remove commits, application messages, and `fork` independence; which cipher suites each
//! peer runs.

use std::collections::HashSet;

use canopy_bench::peers::{
    new_member, new_member_in, CommitOp, PeerKind, PeerMember, CIPHER_SUITE, MLS_RS_FLUSH_EVERY,
};
use canopy_engine::codec::{self, MlsMessage, MlsMessageBody};
use canopy_engine::crypto::{CipherSuite, Provider};
use canopy_engine::key_package::{validate_key_package, Clock};

type Member = Box<dyn PeerMember>;

/// The `wire_format` of an `MLSMessage` (after `version = mls10`).
fn wire_format(message: &[u8]) -> u16 {
    assert_eq!(message[..2], [0, 1], "MLSMessage version mls10");
    u16::from_be_bytes([message[2], message[3]])
}
const PUBLIC_MESSAGE: u16 = 1;
const PRIVATE_MESSAGE: u16 = 2;
const WELCOME: u16 = 3;
const KEY_PACKAGE: u16 = 5;

fn member(kind: PeerKind, name: &str) -> Member {
    new_member(kind, name.as_bytes()).unwrap()
}

/// Every member is in the same epoch with the same secrets and the same tree.
fn assert_agree(members: &[&Member]) {
    let first = members[0];
    let auth = first.epoch_authenticator();
    assert_eq!(auth.len(), 32, "{} epoch_authenticator", first.kind());
    let secret = first.export_secret("canopy test", b"ctx", 32).unwrap();
    let tree = first.ratchet_tree().unwrap();
    for m in &members[1..] {
        let who = format!("{} (leaf {}) vs {}", m.kind(), m.own_leaf(), first.kind());
        assert_eq!(m.epoch(), first.epoch(), "epoch: {who}");
        assert_eq!(m.epoch_authenticator(), auth, "epoch_authenticator: {who}");
        assert_eq!(
            m.export_secret("canopy test", b"ctx", 32).unwrap(),
            secret,
            "exported secret: {who}"
        );
        assert_eq!(m.ratchet_tree().unwrap(), tree, "ratchet tree: {who}");
    }
    // A different label gives a different secret (the export is not a constant).
    assert_ne!(
        first.export_secret("canopy other", b"ctx", 32).unwrap(),
        secret
    );
}

/// `sender` encrypts, every other member decrypts the same text.
fn assert_messages(sender: &mut Member, receivers: &mut [&mut Member]) {
    let text = format!("hello from {} at leaf {}", sender.kind(), sender.own_leaf());
    let ct = sender.protect(text.as_bytes()).unwrap();
    assert_eq!(wire_format(&ct), PRIVATE_MESSAGE);
    assert!(!ct.windows(text.len()).any(|w| w == text.as_bytes()));
    for r in receivers.iter_mut() {
        assert_eq!(r.unprotect(&ct).unwrap(), text.as_bytes(), "{}", r.kind());
    }
}

/// `creator` (held by one peer) builds a group with members of the `other` peer, and back.
fn interop(creator_kind: PeerKind, other_kind: PeerKind) {
    let mut a = member(creator_kind, "alice");
    a.create_group(b"canopy interop group").unwrap();
    assert_eq!((a.epoch(), a.own_leaf()), (0, 0));

    // 1. a adds b (other peer) with the tree in the Welcome.
    let mut b = member(other_kind, "bob");
    let kp = b.key_package().unwrap();
    assert_eq!(wire_format(&kp), KEY_PACKAGE);
    let out = a.commit(CommitOp::Add(vec![kp]), true).unwrap();
    assert_eq!(wire_format(&out.commit), PUBLIC_MESSAGE);
    assert_eq!(wire_format(out.welcome.as_deref().unwrap()), WELCOME);
    assert!(out.ratchet_tree.is_none(), "tree was to be in the Welcome");
    b.join(out.welcome.as_deref().unwrap(), None).unwrap();
    assert_eq!((a.epoch(), b.epoch(), b.own_leaf()), (1, 1, 1));
    assert_agree(&[&a, &b]);
    assert_messages(&mut a, &mut [&mut b]);
    assert_messages(&mut b, &mut [&mut a]);

    // 2. b commits an update; a processes it.
    let before = a.epoch_authenticator();
    let out = b.commit(CommitOp::Update, false).unwrap();
    assert!(out.welcome.is_none() && out.ratchet_tree.is_none());
    a.process(&out.commit).unwrap();
    assert_eq!(a.epoch(), 2);
    assert_ne!(a.epoch_authenticator(), before);
    assert_agree(&[&a, &b]);

    // 3. b adds c (creator's peer) with the tree out of band; a processes, c joins.
    let mut c = member(creator_kind, "carol");
    let kp = c.key_package().unwrap();
    let out = b.commit(CommitOp::Add(vec![kp]), false).unwrap();
    let tree = out.ratchet_tree.clone().expect("out-of-band tree");
    assert_eq!(tree, b.ratchet_tree().unwrap());
    assert_eq!(wire_format(&out.commit), PUBLIC_MESSAGE);
    a.process(&out.commit).unwrap();
    // The tree is really not in the Welcome: joining without it fails (on a fork: openmls
    // consumes the KeyPackage even when the join fails).
    let mut c_without_tree = c.fork().unwrap();
    assert!(c_without_tree
        .join(out.welcome.as_deref().unwrap(), None)
        .is_err());
    c.join(out.welcome.as_deref().unwrap(), Some(&tree))
        .unwrap();
    assert_eq!(c.own_leaf(), 2);
    assert_agree(&[&a, &b, &c]);

    // 4. a adds d (other peer) and e (creator's peer) in one commit with a path.
    let mut d = member(other_kind, "dave");
    let mut e = member(creator_kind, "erin");
    let kps = vec![d.key_package().unwrap(), e.key_package().unwrap()];
    let out = a.commit(CommitOp::AddWithPath(kps), true).unwrap();
    b.process(&out.commit).unwrap();
    c.process(&out.commit).unwrap();
    d.join(out.welcome.as_deref().unwrap(), None).unwrap();
    e.join(out.welcome.as_deref().unwrap(), None).unwrap();
    assert_eq!((d.own_leaf(), e.own_leaf()), (3, 4));
    assert_eq!(a.epoch(), 4);
    assert_agree(&[&a, &b, &c, &d, &e]);

    // 5. d removes c; everyone left processes; c's leaf is gone from the tree.
    let tree_before = a.ratchet_tree().unwrap();
    let out = d
        .commit(CommitOp::Remove(vec![c.own_leaf()]), false)
        .unwrap();
    for m in [&mut a, &mut b, &mut e] {
        m.process(&out.commit).unwrap();
    }
    assert_ne!(a.ratchet_tree().unwrap(), tree_before);
    assert_agree(&[&a, &b, &d, &e]);
    // The removed member cannot follow the new epoch.
    let ct = a.protect(b"after the removal").unwrap();
    assert!(c.unprotect(&ct).is_err());

    // 6. An empty commit by e, then messages both ways across peers.
    let out = e.commit(CommitOp::Empty, false).unwrap();
    for m in [&mut a, &mut b, &mut d] {
        m.process(&out.commit).unwrap();
    }
    assert_eq!(a.epoch(), 6);
    assert_agree(&[&a, &b, &d, &e]);
    assert_messages(&mut a, &mut [&mut b, &mut d, &mut e]);
    assert_messages(&mut b, &mut [&mut a, &mut d, &mut e]);
    assert_messages(&mut d, &mut [&mut a, &mut b, &mut e]);
}

#[test]
fn openmls_creates_mls_rs_joins() {
    interop(PeerKind::OpenMls, PeerKind::MlsRs);
}

#[test]
fn mls_rs_creates_openmls_joins() {
    interop(PeerKind::MlsRs, PeerKind::OpenMls);
}

/// A creator alone commits adds with a path: every UpdatePath node is encrypted to nobody
/// (the only copath member is new, so excluded). The joiner of the other peer must accept it.
#[test]
fn welcome_after_path_encrypted_to_nobody() {
    for (creator, joiner) in [
        (PeerKind::OpenMls, PeerKind::MlsRs),
        (PeerKind::MlsRs, PeerKind::OpenMls),
    ] {
        for tree_in_welcome in [true, false] {
            let mut a = member(creator, "alice");
            a.create_group(b"lonely").unwrap();
            let mut b = member(joiner, "bob");
            let kp = b.key_package().unwrap();
            let out = a
                .commit(CommitOp::AddWithPath(vec![kp]), tree_in_welcome)
                .unwrap();
            b.join(out.welcome.as_deref().unwrap(), out.ratchet_tree.as_deref())
                .unwrap_or_else(|e| panic!("{joiner} joining {creator}: {e:#}"));
            assert_agree(&[&a, &b]);
        }
    }
}

/// From one start state (forked), `Add` commits carry no UpdatePath and `AddWithPath` ones do
/// (a LeafNode plus HPKE ciphertexts: hundreds of bytes more); both are accepted by the other
/// peer's members.
#[test]
fn add_with_and_without_path() {
    for (kind, other) in [
        (PeerKind::OpenMls, PeerKind::MlsRs),
        (PeerKind::MlsRs, PeerKind::OpenMls),
    ] {
        let mut a = member(kind, "alice");
        a.create_group(b"paths").unwrap();
        let (mut b, mut c) = (member(other, "bob"), member(kind, "carol"));
        let kps = vec![b.key_package().unwrap(), c.key_package().unwrap()];
        let out = a.commit(CommitOp::AddWithPath(kps), true).unwrap();
        b.join(out.welcome.as_deref().unwrap(), None).unwrap();
        c.join(out.welcome.as_deref().unwrap(), None).unwrap();

        let mut a2 = a.fork().unwrap();
        let mut b2 = b.fork().unwrap();
        let mut d = member(other, "dave");
        let kp = d.key_package().unwrap();
        let mut d2 = d.fork().unwrap();
        let plain = a.commit(CommitOp::Add(vec![kp.clone()]), true).unwrap();
        let with_path = a2.commit(CommitOp::AddWithPath(vec![kp]), true).unwrap();
        assert!(
            with_path.commit.len() > plain.commit.len() + 200,
            "{kind}: add commit {} B, add-with-path commit {} B",
            plain.commit.len(),
            with_path.commit.len()
        );
        b.process(&plain.commit).unwrap();
        b2.process(&with_path.commit).unwrap();
        d.join(plain.welcome.as_deref().unwrap(), None).unwrap();
        d2.join(with_path.welcome.as_deref().unwrap(), None)
            .unwrap();
        assert_agree(&[&a, &b, &d]);
        assert_agree(&[&a2, &b2, &d2]);
        assert_ne!(a.epoch_authenticator(), a2.epoch_authenticator());
        // Then an empty (path-only) commit by the other peer.
        let empty = b.commit(CommitOp::Empty, false).unwrap();
        for m in [&mut a, &mut d] {
            m.process(&empty.commit).unwrap();
        }
        assert_agree(&[&a, &b, &d]);
    }
}

#[test]
fn fork_is_independent() {
    for kind in PeerKind::ALL {
        let other = if kind == PeerKind::OpenMls {
            PeerKind::MlsRs
        } else {
            PeerKind::OpenMls
        };
        let mut a = member(kind, "alice");
        a.create_group(b"fork group").unwrap();
        let mut b = member(other, "bob");
        let out = a
            .commit(CommitOp::Add(vec![b.key_package().unwrap()]), true)
            .unwrap();
        b.join(out.welcome.as_deref().unwrap(), None).unwrap();

        // Fork, commit on the fork: the original stays in its epoch.
        let mut a2 = a.fork().unwrap();
        assert_eq!(a2.kind(), kind);
        assert_agree(&[&a, &a2]);
        let from_fork = a2.commit(CommitOp::Update, false).unwrap();
        assert_eq!(a2.epoch(), 2);
        assert_eq!(
            a.epoch(),
            1,
            "{kind}: commit on the fork moved the original"
        );

        // The original commits differently from the same start state.
        let from_original = a.commit(CommitOp::Update, false).unwrap();
        assert_eq!(a.epoch(), 2);
        assert_ne!(a.epoch_authenticator(), a2.epoch_authenticator());

        // b forked before processing: each copy follows one branch.
        let mut b2 = b.fork().unwrap();
        b.process(&from_original.commit).unwrap();
        b2.process(&from_fork.commit).unwrap();
        assert_agree(&[&a, &b]);
        assert_agree(&[&a2, &b2]);
        assert_messages(&mut a2, &mut [&mut b2]);
        assert_messages(&mut a, &mut [&mut b]);

        // A fork keeps unused KeyPackages' private keys: the fork joins with its original's
        // KeyPackage.
        let mut c = member(other, "carol");
        let kp = c.key_package().unwrap();
        let mut c2 = c.fork().unwrap();
        let out = a.commit(CommitOp::Add(vec![kp]), true).unwrap();
        c2.join(out.welcome.as_deref().unwrap(), None).unwrap();
        assert_eq!(
            c.epoch(),
            0,
            "{other}: joining on the fork moved the original"
        );
        b.process(&out.commit).unwrap();
        assert_agree(&[&a, &b, &c2]);
    }
}

/// Many epochs in a row (past mls-rs's prior-epoch flush point) and a batch of adds from
/// both peers in one commit.
#[test]
fn many_epochs_and_batch_add() {
    for kind in PeerKind::ALL {
        let mut a = member(kind, "alice");
        a.create_group(b"busy group").unwrap();
        let mut joiners: Vec<Member> = (0..12)
            .map(|i| member(PeerKind::ALL[i % 2], &format!("member {i}")))
            .collect();
        let kps = joiners
            .iter_mut()
            .map(|m| m.key_package().unwrap())
            .collect();
        let out = a.commit(CommitOp::Add(kps), false).unwrap();
        for m in &mut joiners {
            m.join(out.welcome.as_deref().unwrap(), out.ratchet_tree.as_deref())
                .unwrap();
        }
        let mut all = vec![a];
        all.extend(joiners);
        let rounds = MLS_RS_FLUSH_EVERY as usize + 4;
        for round in 0..rounds {
            let committer = round % all.len();
            let out = all[committer].commit(CommitOp::Update, false).unwrap();
            for (i, m) in all.iter_mut().enumerate() {
                if i != committer {
                    m.process(&out.commit).unwrap();
                }
            }
        }
        assert_eq!(all[0].epoch(), 1 + rounds as u64);
        all[1].trim_history().unwrap();
        let refs: Vec<&Member> = all.iter().collect();
        assert_agree(&refs);
        let (first, rest) = all.split_at_mut(1);
        let mut receivers: Vec<&mut Member> = rest.iter_mut().collect();
        assert_messages(&mut first[0], &mut receivers);
    }
}

#[test]
fn errors_name_peer_and_step() {
    for kind in PeerKind::ALL {
        let mut a = member(kind, "alice");
        let err = format!("{:#}", a.commit(CommitOp::Empty, false).unwrap_err());
        assert!(err.starts_with(&format!("{kind}: commit")), "{err}");
        a.create_group(b"g").unwrap();
        let err = format!("{:#}", a.process(b"not an MLS message").unwrap_err());
        assert!(err.starts_with(&format!("{kind}: process")), "{err}");
        let err = format!("{:#}", a.join(b"junk", None).unwrap_err());
        assert!(err.starts_with(&format!("{kind}: join")), "{err}");
    }
}

/// Each peer runs the suites its crypto provider runs (read in the providers' sources:
/// `openmls_rust_crypto` 0.6 `RustCrypto::supports`, and `openmls_libcrux_crypto` 0.4 for the
/// X-Wing suite 0x004D = 77; `mls-rs-crypto-awslc` 0.27
/// `supported_classical_cipher_suites`, and with its `post-quantum` feature the ML-KEM suites
/// 65002 and 65003 of `supported_pq_cipher_suites` that Canopy implements), and a member of a suite makes KeyPackages of that
/// suite signed with the suite's scheme; asking for another suite is an error naming the peer
/// and the suite.
#[test]
fn peers_run_the_suites_their_providers_run() {
    let expected = [
        (PeerKind::OpenMls, vec![1, 2, 3, 77]),
        (PeerKind::MlsRs, vec![1, 2, 3, 5, 7, 65002, 65003]),
    ];
    let mut made = 0;
    for (kind, suites) in expected {
        assert_eq!(kind.suites(), suites, "{kind}");
        for suite in CipherSuite::ALL {
            let id = suite.id();
            assert_eq!(kind.supports_suite(id), suites.contains(&id), "{kind} {id}");
            match new_member_in(kind, id, b"suite probe") {
                Ok(mut m) => {
                    assert!(suites.contains(&id), "{kind} made a member of suite {id}");
                    assert_eq!((m.kind(), m.suite()), (kind, id));
                    let message: MlsMessage = codec::decode(&m.key_package().unwrap()).unwrap();
                    let MlsMessageBody::KeyPackage(kp) = message.body else {
                        panic!("{kind} {id}: not a KeyPackage");
                    };
                    assert_eq!(kp.cipher_suite.0, id, "{kind}");
                    // The leaf verifies under the suite's own signature scheme.
                    validate_key_package(
                        &Provider::new(*suite),
                        &kp,
                        Clock::System,
                        &HashSet::from([1]),
                    )
                    .unwrap_or_else(|e| panic!("{kind} {id}: {e}"));
                    made += 1;
                }
                Err(e) => {
                    assert!(!suites.contains(&id), "{kind} {id}: {e:#}");
                    let e = format!("{e:#}");
                    assert!(
                        e.starts_with(&format!("{kind} does not run cipher suite {id} (")),
                        "{e}"
                    );
                }
            }
        }
    }
    assert_eq!(made, 11);
    for kind in PeerKind::ALL {
        assert!(kind.supports_suite(CIPHER_SUITE));
        assert_eq!(new_member(kind, b"default").unwrap().suite(), CIPHER_SUITE);
        for unknown in [0, 8, 0xffff] {
            assert!(!kind.supports_suite(unknown), "{kind} {unknown}");
        }
    }
}

#[test]
fn peer_kind_names() {
    for kind in PeerKind::ALL {
        assert_eq!(kind.to_string().parse::<PeerKind>().unwrap(), kind);
    }
    assert_eq!(PeerKind::MlsRs.to_string(), "mls-rs");
    assert_eq!(PeerKind::OpenMls.to_string(), "openmls");
    assert!("canopy".parse::<PeerKind>().is_err());
}

/// Scale probe, not part of the normal run: one commit adding `CANOPY_PEERS_SCALE` (default
/// 2000) members, half from each peer, then a join with the out-of-band tree and one update.
/// `CANOPY_PEERS_COMMITTER=openmls|mls-rs` limits it to one committing peer.
/// `cargo test -p canopy-bench --test peers -- --ignored --nocapture scale`
#[test]
#[ignore = "slow; a probe for large batches"]
fn scale_add_batch() {
    use std::time::Instant;
    let n: usize = std::env::var("CANOPY_PEERS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let committers: Vec<PeerKind> = match std::env::var("CANOPY_PEERS_COMMITTER") {
        Ok(name) => vec![name.parse().unwrap()],
        Err(_) => PeerKind::ALL.to_vec(),
    };
    for kind in committers {
        let mut a = member(kind, "alice");
        a.create_group(b"scale").unwrap();
        let t = Instant::now();
        let mut joiners: Vec<Member> = (0..n)
            .map(|i| member(PeerKind::ALL[i % 2], &format!("member {i}")))
            .collect();
        let kps: Vec<Vec<u8>> = joiners
            .iter_mut()
            .map(|m| m.key_package().unwrap())
            .collect();
        eprintln!("{kind}: {n} key packages made in {:?}", t.elapsed());
        let t = Instant::now();
        let out = a.commit(CommitOp::Add(kps), false).unwrap();
        eprintln!(
            "{kind}: add {n} in one commit: {:?} (commit {} B, welcome {} B, tree {} B)",
            t.elapsed(),
            out.commit.len(),
            out.welcome.as_ref().map_or(0, Vec::len),
            out.ratchet_tree.as_ref().map_or(0, Vec::len),
        );
        for j in [0, 1] {
            let t = Instant::now();
            joiners[j]
                .join(out.welcome.as_deref().unwrap(), out.ratchet_tree.as_deref())
                .unwrap();
            eprintln!("{kind}: {} joins: {:?}", joiners[j].kind(), t.elapsed());
        }
        let t = Instant::now();
        let up = a.commit(CommitOp::Update, false).unwrap();
        eprintln!("{kind}: update commit: {:?}", t.elapsed());
        for j in [0, 1] {
            let t = Instant::now();
            joiners[j].process(&up.commit).unwrap();
            eprintln!(
                "{kind}: {} processes it: {:?}",
                joiners[j].kind(),
                t.elapsed()
            );
        }
        let t = Instant::now();
        let f = a.fork().unwrap();
        eprintln!("{kind}: fork: {:?}", t.elapsed());
        let t = Instant::now();
        a.trim_history().unwrap();
        eprintln!("{kind}: trim_history: {:?}", t.elapsed());
        assert_agree(&[&a, &joiners[0], &joiners[1], &f]);
    }
}
