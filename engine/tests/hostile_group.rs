//! Hostile inputs to group processing, one test per class. Every input is derived from a real
//! message of a live 5-member group (a commit with an UpdatePath, an Add and a Remove, or
//! its Welcome), mutated, and — where the class targets a check behind the signature and
//! membership tag — re-signed by the committer and re-tagged with the epoch's membership key,
//! so that exactly the check under test is the one that fails.
//!
//! For every input: [`Group::process`] (or [`Group::join`]) must return the specific typed
//! error naming the failed check, never panic, and leave the receiver byte-identical (epoch,
//! epoch authenticator, serialized group context, ratchet tree, an exported secret). After
//! each class the genuine message is processed and the receiver agrees with the committer.
//!
//! To forge re-signed messages the test needs the epoch's membership key: the live group is
//! built with real commits and Welcomes, then every member is re-based (same tree, context
//! and private keys) onto a joiner secret the test knows ([`Group::from_parts`]), so the test
//! can run the key schedule itself.

use canopy_engine::codec::{
    self, Add, FramedContentAuthData, FramedContentBody, KeyPackage, KeyPackageTbs,
    LeafNodeSourceData, LeafNodeTbs, Mac, MlsMessage, MlsMessageBody, Proposal, ProposalOrRef,
    ProtocolVersion, PublicMessage, Remove, WireFormat,
};
use canopy_engine::crypto::{CipherSuite, CryptoError, Provider, Secret, SignaturePrivateKey};
use canopy_engine::framing::sign_content;
use canopy_engine::group::{
    CommitOptions, CredentialCheck, Group, GroupConfig, OmitReason, ProcessOutcome, ProposalRule,
    Randomness,
};
use canopy_engine::key_package::{
    default_lifetime, key_package_from_seed, Clock, KeyPackageSecrets,
};
use canopy_engine::schedule::EpochSecrets;
use canopy_engine::tree::LeafIndex;
use canopy_engine::Error;
use canopy_engine::ExternalJoinOptions;
use canopy_engine::JoinOptions;
use canopy_engine::Protection;
use canopy_engine::TreeDelivery;
use canopy_engine::{ApiMisuse, PeerMisbehaved, TreeError, Unsupported};

mod common;
use common::commit_mut;

/// A fixed time, so KeyPackage lifetimes are reproducible.
const NOW: u64 = 1_800_000_000;
const MEMBERS: u32 = 5;
/// The committer of the genuine messages and the receiver under attack.
const COMMITTER: usize = 1;
const RECEIVER: usize = 3;
/// The leaf the genuine commit removes.
const VICTIM: u32 = 4;

fn provider() -> Provider {
    Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519)
}

fn config(seed: u8) -> GroupConfig {
    GroupConfig {
        clock: Clock::Fixed(NOW),
        randomness: Randomness::Seeded(Secret::new(vec![seed; 32])),
        ..GroupConfig::default()
    }
}

fn kp(p: &Provider, i: u32) -> (KeyPackage, KeyPackageSecrets) {
    let mut seed = [0x77; 32];
    seed[..4].copy_from_slice(&i.to_be_bytes());
    key_package_from_seed(
        p,
        format!("member-{i}").as_bytes(),
        &seed,
        default_lifetime(NOW),
    )
    .unwrap()
}

/// The live group in one epoch whose secrets the test knows.
struct Fixture {
    p: Provider,
    /// Member at leaf i.
    members: Vec<Group>,
    /// Signature key of leaf i.
    signers: Vec<SignaturePrivateKey>,
    secrets: EpochSecrets,
    /// A KeyPackage (and its secrets) for the genuine commit to add.
    joiner: (KeyPackage, KeyPackageSecrets),
    /// The genuine commit (path, Remove of VICTIM, Add of `joiner`) from COMMITTER.
    commit: Vec<u8>,
    /// Its Welcome (tree inside).
    welcome: Vec<u8>,
    /// The committer after its commit.
    committer_after: Group,
    /// A pristine copy of the member at VICTIM.
    victim: Group,
}

fn fixture() -> Fixture {
    let p = provider();
    let (creator_signer, _) = p.signature_key_pair_from_seed(&[1; 32]).unwrap();
    let mut creator =
        Group::create(p, b"hostile", b"creator", creator_signer.clone(), config(1)).unwrap();
    let kps: Vec<_> = (1..MEMBERS).map(|i| kp(&p, i)).collect();
    let out = creator
        .commit(
            &CommitOptions::new()
                .adds(kps.iter().map(|(k, _)| k.clone()))
                .with_path()
                .ratchet_tree_in_welcome(),
        )
        .unwrap();
    let mut members = vec![creator];
    let mut signers = vec![creator_signer];
    for (i, (k, s)) in kps.iter().enumerate() {
        let g = Group::join(p, out.welcome.as_ref().unwrap(), k, s, config(10 + i as u8)).unwrap();
        assert_eq!(g.own_leaf().0, i as u32 + 1);
        members.push(g);
        signers.push(s.signer.clone());
    }
    // One more real epoch with a path from another member, so the tree has several
    // populated paths.
    let out = members[2]
        .commit(&CommitOptions::new().with_path())
        .unwrap();
    for (i, m) in members.iter_mut().enumerate() {
        if i != 2 {
            m.process(&out.commit).unwrap();
        }
    }

    // Re-base every member onto a joiner secret the test knows.
    let joiner_secret = Secret::new(vec![0x42; p.hash_len()]);
    let context = members[0].context().clone();
    let members: Vec<Group> = members
        .iter()
        .zip(&signers)
        .enumerate()
        .map(|(i, (g, s))| {
            Group::from_parts(
                p,
                context.clone(),
                g.tree().clone(),
                g.private().clone(),
                s.clone(),
                joiner_secret.clone(),
                config(30 + i as u8),
            )
            .unwrap()
        })
        .collect();
    let secrets = EpochSecrets::from_joiner(
        &p,
        joiner_secret,
        &vec![0; p.hash_len()],
        &codec::encode(&context).unwrap(),
    )
    .unwrap();
    assert_eq!(
        secrets.epoch_authenticator.as_bytes(),
        members[RECEIVER].epoch_authenticator().as_bytes()
    );

    let joiner = kp(&p, 100);
    let mut committer_after = members[COMMITTER].clone();
    let out = committer_after
        .commit(
            &CommitOptions::new()
                .adds(vec![joiner.0.clone()])
                .removes(vec![LeafIndex(VICTIM)])
                .with_path()
                .ratchet_tree_in_welcome(),
        )
        .unwrap();
    let victim = members[VICTIM as usize].clone();
    Fixture {
        victim,
        p,
        members,
        signers,
        secrets,
        joiner,
        commit: out.commit,
        welcome: out.welcome.unwrap(),
        committer_after,
    }
}

/// Everything that must not change when an input is rejected.
fn snapshot(g: &Group) -> Vec<Vec<u8>> {
    vec![
        g.epoch().to_be_bytes().to_vec(),
        g.epoch_authenticator().as_bytes().to_vec(),
        codec::encode(g.context()).unwrap(),
        g.ratchet_tree_bytes().unwrap(),
        g.export_secret(b"hostile", b"ctx", 32)
            .unwrap()
            .as_bytes()
            .to_vec(),
        vec![u8::from(g.is_removed())],
        g.state_digest().unwrap(),
    ]
}

/// Whether a receiver's error is one that the member the commit removes cannot detect: it
/// cannot decrypt the path or derive the confirmation key of an epoch it is not in.
fn victim_cannot_check(e: &Error) -> bool {
    is_peer(e, |f| matches!(f, PeerMisbehaved::InvalidConfirmationTag))
        || is_peer(e, |t| {
            matches!(t, PeerMisbehaved::PathSecretDecryption { .. })
        })
}

fn decode_public(bytes: &[u8]) -> PublicMessage {
    match codec::decode::<MlsMessage>(bytes).unwrap().body {
        MlsMessageBody::PublicMessage(pm) => pm,
        _ => panic!("not a PublicMessage"),
    }
}

fn encode_public(pm: PublicMessage) -> Vec<u8> {
    codec::encode(&MlsMessage {
        version: ProtocolVersion::MLS10,
        body: MlsMessageBody::PublicMessage(pm),
    })
    .unwrap()
}

impl Fixture {
    /// The genuine commit, decoded.
    fn public(&self) -> PublicMessage {
        decode_public(&self.commit)
    }

    /// Re-sign `pm`'s content with `signer` over the current group context (or `context`
    /// if given), keep its confirmation tag, and recompute the membership tag.
    fn reframe_with(
        &self,
        mut pm: PublicMessage,
        signer: &SignaturePrivateKey,
        context: Option<&codec::GroupContext>,
    ) -> Vec<u8> {
        let ctx = context.unwrap_or(self.members[RECEIVER].context()).clone();
        pm.auth.signature = sign_content(
            &self.p,
            signer,
            WireFormat::PublicMessage,
            &pm.content,
            &ctx,
        )
        .unwrap();
        self.retag(pm, &ctx)
    }

    fn reframe(&self, pm: PublicMessage) -> Vec<u8> {
        self.reframe_with(pm, &self.signers[COMMITTER], None)
    }

    /// Recompute only the membership tag (for the group context `ctx`).
    fn retag(&self, pm: PublicMessage, ctx: &codec::GroupContext) -> Vec<u8> {
        let auth = codec::AuthenticatedContent {
            wire_format: WireFormat::PublicMessage,
            content: pm.content,
            auth: FramedContentAuthData {
                signature: pm.auth.signature,
                confirmation_tag: pm.auth.confirmation_tag,
            },
        };
        let n_leaves = self.members[RECEIVER].tree().n_leaves();
        common::membership_tagged(self.p, ctx, &self.secrets, n_leaves, auth)
    }

    /// Run every input against the receiver: each must fail with an error `expect` accepts
    /// and leave the receiver unchanged. The member the genuine commit removes (VICTIM) gets
    /// every input too and must reject it with the same error, unchanged, unless the receiver's
    /// failure is one a removed member cannot see (path decryption, confirmation tag): then
    /// it may take the commit as its removal. Then the genuine commit must still be
    /// processed. Returns the number of inputs.
    fn attack(
        &mut self,
        class: &str,
        inputs: &[Vec<u8>],
        mut expect: impl FnMut(&Error) -> bool,
    ) -> usize {
        let before = snapshot(&self.members[RECEIVER]);
        let mut victim_before = snapshot(&self.members[VICTIM as usize]);
        for (i, input) in inputs.iter().enumerate() {
            assert_ne!(input, &self.commit, "{class} #{i}: not mutated");
            let e = match self.members[RECEIVER].process(input) {
                Ok(o) => panic!("{class} #{i}: accepted ({o:?})"),
                Err(e) => e,
            };
            assert!(expect(&e), "{class} #{i}: wrong error: {e:?}");
            assert_eq!(
                snapshot(&self.members[RECEIVER]),
                before,
                "{class} #{i}: state changed"
            );
            let victim = &mut self.members[VICTIM as usize];
            match victim.process(input) {
                Err(ve) => {
                    assert!(
                        victim_cannot_check(&e) || format!("{ve:?}") == format!("{e:?}"),
                        "{class} #{i}: the victim rejects with {ve:?}, the receiver with {e:?}"
                    );
                    assert_eq!(
                        snapshot(victim),
                        victim_before,
                        "{class} #{i}: victim state changed"
                    );
                }
                Ok(ProcessOutcome::Removed) if victim_cannot_check(&e) => {
                    // Undo the removal for the next input: a fresh copy of the victim.
                    self.members[VICTIM as usize] = self.victim.clone();
                    victim_before = snapshot(&self.members[VICTIM as usize]);
                }
                Ok(o) => panic!("{class} #{i}: the victim accepted ({o:?}); receiver: {e:?}"),
            }
        }
        self.genuine_still_works();
        eprintln!("{class}: {} inputs rejected", inputs.len());
        inputs.len()
    }

    fn genuine_still_works(&self) {
        let mut receiver = self.members[RECEIVER].clone();
        receiver.process(&self.commit).unwrap();
        assert_eq!(
            receiver.epoch_authenticator().as_bytes(),
            self.committer_after.epoch_authenticator().as_bytes()
        );
        assert_eq!(
            receiver.ratchet_tree_bytes().unwrap(),
            self.committer_after.ratchet_tree_bytes().unwrap()
        );
        // The member it removes takes it as its removal, and then refuses everything.
        let mut victim = self.members[VICTIM as usize].clone();
        assert_eq!(
            victim.process(&self.commit).unwrap(),
            ProcessOutcome::Removed
        );
        let frozen = snapshot(&victim);
        let e = victim.process(&self.commit).unwrap_err();
        assert!(
            matches!(e, Error::ApiMisuse(ApiMisuse::NotAMember)),
            "{e:?}"
        );
        assert_eq!(snapshot(&victim), frozen);
    }

    /// Re-sign the UpdatePath leaf node of `pm` (after the caller edited it) with `signer`.
    fn resign_path_leaf(&self, pm: &mut PublicMessage, signer: &SignaturePrivateKey) {
        let group_id = self.members[RECEIVER]
            .context()
            .group_id
            .as_slice()
            .to_vec();
        common::resign_path_leaf(&self.p, pm, &group_id, COMMITTER as u32, signer);
    }

    /// A valid KeyPackage signed by `signer` whose leaf has `encryption_key`.
    fn key_package_with(
        &self,
        signer: &SignaturePrivateKey,
        encryption_key: Vec<u8>,
        init_seed: u8,
    ) -> KeyPackage {
        let mut kp = kp(&self.p, 200 + u32::from(init_seed)).0;
        kp.leaf_node.encryption_key = codec::HpkePublicKey(encryption_key.into());
        kp.leaf_node.signature_key = codec::SignaturePublicKey(signer.public_key().into());
        let tbs = codec::encode(&LeafNodeTbs::key_package(&kp.leaf_node)).unwrap();
        kp.leaf_node.signature = self
            .p
            .sign_with_label(signer, b"LeafNodeTBS", &tbs)
            .unwrap()
            .into();
        let tbs = codec::encode(&KeyPackageTbs { key_package: &kp }).unwrap();
        kp.signature = self
            .p
            .sign_with_label(signer, b"KeyPackageTBS", &tbs)
            .unwrap()
            .into();
        kp
    }

    /// The genuine commit with its proposal list replaced, re-signed.
    fn with_proposals(&self, proposals: Vec<Proposal>) -> Vec<u8> {
        let mut pm = self.public();
        commit_mut(&mut pm).proposals =
            proposals.into_iter().map(ProposalOrRef::Proposal).collect();
        self.reframe(pm)
    }
}

fn is_codec(e: &Error) -> bool {
    matches!(e, Error::InvalidMessage(_))
}

/// Whether `e` is a peer's failed check that `want` accepts.
fn is_peer(e: &Error, want: impl Fn(&PeerMisbehaved) -> bool) -> bool {
    matches!(e, Error::PeerMisbehaved(p) if want(p))
}

fn is_bad_signature(e: &Error) -> bool {
    matches!(e, Error::Crypto(CryptoError::InvalidSignature))
}

#[test]
fn truncation_at_every_byte_offset() {
    let mut f = fixture();
    let inputs: Vec<Vec<u8>> = (0..f.commit.len())
        .map(|n| f.commit[..n].to_vec())
        .collect();
    f.attack("truncated commit", &inputs, is_codec);
    // The Welcome too, at every offset: the joiner gets a codec error.
    let (kp, secrets) = f.joiner.clone();
    for n in 0..f.welcome.len() {
        let r = Group::join(f.p, &f.welcome[..n], &kp, &secrets, config(99));
        assert!(matches!(r, Err(Error::InvalidMessage(_))), "welcome[..{n}]");
    }
    eprintln!("truncated welcome: {} inputs rejected", f.welcome.len());
}

#[test]
fn bit_flips_anywhere() {
    let mut f = fixture();
    let mut inputs = Vec::new();
    for byte in 0..f.commit.len() {
        for bit in 0..8 {
            let mut m = f.commit.clone();
            m[byte] ^= 1 << bit;
            inputs.push(m);
        }
    }
    // A flip lands in a header (codec, version, wire format), the group id or epoch
    // (framing), the sender (unknown sender / own commit / signature), or anywhere else
    // covered by the membership tag.
    let mut tally = std::collections::BTreeMap::<String, usize>::new();
    let n = f.attack("bit flip", &inputs, |e| {
        let kind = match e {
            Error::InvalidMessage(_) => "codec",
            Error::PeerMisbehaved(PeerMisbehaved::WrongGroup) => "wrong group",
            Error::PeerMisbehaved(PeerMisbehaved::WrongEpoch { .. }) => "wrong epoch",
            Error::PeerMisbehaved(PeerMisbehaved::InvalidMembershipTag) => "membership tag",
            Error::PeerMisbehaved(PeerMisbehaved::UnknownSender(_)) => "unknown sender",
            Error::Crypto(CryptoError::InvalidSignature) => "signature",
            Error::Unsupported(Unsupported::ProtocolVersion(_)) => "version",
            Error::ApiMisuse(ApiMisuse::UnexpectedMessage(_)) => "not a commit message",
            Error::ApiMisuse(ApiMisuse::OwnCommit) => "own commit",
            _ => return false,
        };
        *tally.entry(kind.to_string()).or_default() += 1;
        true
    });
    eprintln!("bit flips by error: {tally:?}");
    assert_eq!(n, f.commit.len() * 8);
    assert!(tally["membership tag"] > n / 2, "{tally:?}");
}

#[test]
fn wrong_epoch() {
    let mut f = fixture();
    let epoch = f.members[RECEIVER].epoch();
    let mut inputs = Vec::new();
    for e in [0, epoch - 1, epoch + 1, epoch + 2, 1 << 32, u64::MAX] {
        let mut pm = f.public();
        pm.content.epoch = e;
        let ctx = codec::GroupContext {
            epoch: e,
            ..f.members[RECEIVER].context().clone()
        };
        inputs.push(f.reframe_with(pm, &f.signers[COMMITTER], Some(&ctx)));
    }
    f.attack("wrong epoch (re-signed)", &inputs, |e| {
        is_peer(e, |f| matches!(f, PeerMisbehaved::WrongEpoch { .. }))
    });
    // A genuine commit replayed in the next epoch.
    let mut receiver = f.members[RECEIVER].clone();
    receiver.process(&f.commit).unwrap();
    let before = snapshot(&receiver);
    let e = receiver.process(&f.commit).unwrap_err();
    assert!(is_peer(&e, |f| matches!(
        f,
        PeerMisbehaved::WrongEpoch { .. }
    )));
    assert_eq!(snapshot(&receiver), before);
}

#[test]
fn wrong_group_id() {
    let mut f = fixture();
    let gid = f.members[RECEIVER].context().group_id.as_slice().to_vec();
    let mut variants = vec![Vec::new(), vec![0; gid.len()], [&gid[..], b"x"].concat()];
    variants.push(gid[..gid.len() - 1].to_vec());
    let mut flipped = gid.clone();
    flipped[0] ^= 1;
    variants.push(flipped);
    let inputs: Vec<Vec<u8>> = variants
        .into_iter()
        .map(|g| {
            let mut pm = f.public();
            pm.content.group_id = g.clone().into();
            let ctx = codec::GroupContext {
                group_id: g.into(),
                ..f.members[RECEIVER].context().clone()
            };
            f.reframe_with(pm, &f.signers[COMMITTER], Some(&ctx))
        })
        .collect();
    f.attack("wrong group id (re-signed)", &inputs, |e| {
        is_peer(e, |f| matches!(f, PeerMisbehaved::WrongGroup))
    });
}

#[test]
fn forged_signature() {
    let mut f = fixture();
    let outsider = f.p.signature_key_pair_from_seed(&[9; 32]).unwrap().0;
    let mut inputs = vec![
        // Signed by a key that is not in the group.
        f.reframe_with(f.public(), &outsider, None),
        // Signed by another member, claiming to be the committer.
        f.reframe_with(f.public(), &f.signers[2], None),
    ];
    // Signed by the committer over another group context (e.g. a stale epoch's), membership
    // tag recomputed for the real one.
    let ctx = f.members[RECEIVER].context().clone();
    let mut pm = f.public();
    let stale = codec::GroupContext {
        tree_hash: vec![0; 32].into(),
        ..ctx.clone()
    };
    pm.auth.signature = sign_content(
        &f.p,
        &f.signers[COMMITTER],
        WireFormat::PublicMessage,
        &pm.content,
        &stale,
    )
    .unwrap();
    inputs.push(f.retag(pm, &ctx));
    // Every signature bit flipped, membership tag recomputed over the flipped signature.
    let sig_len = f.public().auth.signature.as_slice().len();
    for byte in 0..sig_len {
        for bit in [0, 5] {
            let mut pm = f.public();
            let mut sig = pm.auth.signature.as_slice().to_vec();
            sig[byte] ^= 1 << bit;
            pm.auth.signature = sig.into();
            let ctx = f.members[RECEIVER].context().clone();
            inputs.push(f.retag(pm, &ctx));
        }
    }
    // Content changed after signing (authenticated data), membership tag recomputed.
    let mut pm = f.public();
    pm.content.authenticated_data = b"injected".to_vec().into();
    let ctx = f.members[RECEIVER].context().clone();
    inputs.push(f.retag(pm, &ctx));
    f.attack("forged signature", &inputs, is_bad_signature);
}

/// A member checks a commit's signature beside its processing (on another thread): a commit
/// whose signature is bad and that would also fail a later check (its proposals, its path's
/// shape or ciphertexts, its confirmation tag) is still refused for its signature, the first
/// check, and a commit that fails only later is refused for that, with a good signature; the
/// state stays unchanged either way.
#[test]
fn bad_signature_wins_over_a_later_failure() {
    let mut f = fixture();
    let outsider = f.p.signature_key_pair_from_seed(&[9; 32]).unwrap().0;
    let broken: Vec<PublicMessage> = {
        let mut out = Vec::new();
        // A Remove of a leaf that is not a member.
        let mut pm = f.public();
        commit_mut(&mut pm).proposals =
            vec![ProposalOrRef::Proposal(Proposal::Remove(codec::Remove {
                removed: 999,
            }))];
        out.push(pm);
        // A ciphertext too few on the first path node.
        let mut pm = f.public();
        commit_mut(&mut pm).path.as_mut().unwrap().nodes[0]
            .encrypted_path_secret
            .pop();
        out.push(pm);
        // Every path ciphertext's last byte flipped: the receiver's does not open.
        let mut pm = f.public();
        for node in &mut commit_mut(&mut pm).path.as_mut().unwrap().nodes {
            for ct in &mut node.encrypted_path_secret {
                let mut c = ct.ciphertext.as_slice().to_vec();
                *c.last_mut().unwrap() ^= 1;
                ct.ciphertext = c.into();
            }
        }
        out.push(pm);
        // Another confirmation tag.
        let mut pm = f.public();
        pm.auth.confirmation_tag = Some(Mac(vec![0x55; 32].into()));
        out.push(pm);
        out
    };
    let bad_signature: Vec<Vec<u8>> = broken
        .iter()
        .map(|pm| f.reframe_with(pm.clone(), &outsider, None))
        .collect();
    f.attack(
        "bad signature and a later failure",
        &bad_signature,
        is_bad_signature,
    );
    let good_signature: Vec<Vec<u8>> = broken.into_iter().map(|pm| f.reframe(pm)).collect();
    f.attack("good signature and a later failure", &good_signature, |e| {
        !is_bad_signature(e) && !matches!(e, Error::Internal(_))
    });
}

/// The path leaf's signature is checked beside the path's decryption and the key schedule:
/// a commit whose path leaf is badly signed and that would also fail one of those later
/// checks (a path ciphertext that does not open, a wrong confirmation tag) is refused for the
/// leaf's signature, as when the checks ran one after the other.
#[test]
fn bad_path_leaf_signature_wins_over_a_later_failure() {
    let mut f = fixture();
    let break_leaf = |pm: &mut PublicMessage| {
        let leaf = &mut commit_mut(pm).path.as_mut().unwrap().leaf_node;
        let mut sig = leaf.signature.as_slice().to_vec();
        sig[3] ^= 0x10;
        leaf.signature = sig.into();
    };
    let mut inputs = Vec::new();
    let mut pm = f.public();
    break_leaf(&mut pm);
    for node in &mut commit_mut(&mut pm).path.as_mut().unwrap().nodes {
        for ct in &mut node.encrypted_path_secret {
            let mut c = ct.ciphertext.as_slice().to_vec();
            *c.last_mut().unwrap() ^= 1;
            ct.ciphertext = c.into();
        }
    }
    inputs.push(f.reframe(pm));
    let mut pm = f.public();
    break_leaf(&mut pm);
    pm.auth.confirmation_tag = Some(Mac(vec![0x55; 32].into()));
    inputs.push(f.reframe(pm));
    let mut pm = f.public();
    break_leaf(&mut pm);
    inputs.push(f.reframe(pm));
    f.attack(
        "bad path leaf signature and a later failure",
        &inputs,
        |e| is_peer(e, |p| matches!(p, PeerMisbehaved::PathLeafSignature)),
    );
}

#[test]
fn bad_membership_tag() {
    let mut f = fixture();
    let pm = f.public();
    let tag = pm.membership_tag.clone().unwrap().0.as_slice().to_vec();
    let mut inputs = Vec::new();
    for byte in 0..tag.len() {
        for bit in 0..8 {
            let mut t = tag.clone();
            t[byte] ^= 1 << bit;
            let mut m = pm.clone();
            m.membership_tag = Some(Mac(t.into()));
            inputs.push(encode_public(m));
        }
    }
    for t in [
        vec![],
        vec![0; tag.len()],
        tag[..16].to_vec(),
        [&tag[..], &[0]].concat(),
    ] {
        let mut m = pm.clone();
        m.membership_tag = Some(Mac(t.into()));
        inputs.push(encode_public(m));
    }
    // Tagged with another epoch's membership key.
    let other = f.p.mac(&[7; 32], b"whatever");
    let mut m = pm.clone();
    m.membership_tag = Some(Mac(other.into()));
    inputs.push(encode_public(m));
    f.attack("bad membership tag", &inputs, |e| {
        is_peer(e, |f| matches!(f, PeerMisbehaved::InvalidMembershipTag))
    });
}

#[test]
fn bad_confirmation_tag() {
    let mut f = fixture();
    let pm = f.public();
    let ctx = f.members[RECEIVER].context().clone();
    let tag = pm
        .auth
        .confirmation_tag
        .clone()
        .unwrap()
        .0
        .as_slice()
        .to_vec();
    let mut variants = Vec::new();
    for byte in 0..tag.len() {
        for bit in [0, 3, 7] {
            let mut t = tag.clone();
            t[byte] ^= 1 << bit;
            variants.push(t);
        }
    }
    variants.extend([
        vec![],
        vec![0; tag.len()],
        tag[..tag.len() - 1].to_vec(),
        [&tag[..], &[0]].concat(),
    ]);
    // The confirmation tag is not covered by the signature (§6.1), only by the membership
    // tag: recompute that, so the confirmation check is what fails.
    let inputs: Vec<Vec<u8>> = variants
        .into_iter()
        .map(|t| {
            let mut m = pm.clone();
            m.auth.confirmation_tag = Some(Mac(t.into()));
            f.retag(m, &ctx)
        })
        .collect();
    f.attack("bad confirmation tag", &inputs, |e| {
        is_peer(e, |f| matches!(f, PeerMisbehaved::InvalidConfirmationTag))
    });
}

#[test]
fn wrong_parent_hash() {
    let mut f = fixture();
    let genuine = match &f.public().content.content {
        FramedContentBody::Commit(c) => {
            match &c.path.as_ref().unwrap().leaf_node.leaf_node_source {
                LeafNodeSourceData::Commit { parent_hash } => parent_hash.as_slice().to_vec(),
                other => panic!("{other:?}"),
            }
        }
        _ => unreachable!(),
    };
    let mut variants = vec![vec![], vec![0; genuine.len()], genuine[1..].to_vec()];
    for byte in [0, genuine.len() / 2, genuine.len() - 1] {
        let mut h = genuine.clone();
        h[byte] ^= 0x80;
        variants.push(h);
    }
    let inputs: Vec<Vec<u8>> = variants
        .into_iter()
        .map(|h| {
            let mut pm = f.public();
            commit_mut(&mut pm)
                .path
                .as_mut()
                .unwrap()
                .leaf_node
                .leaf_node_source = LeafNodeSourceData::Commit {
                parent_hash: h.into(),
            };
            let signer = f.signers[COMMITTER].clone();
            f.resign_path_leaf(&mut pm, &signer);
            f.reframe(pm)
        })
        .collect();
    f.attack("wrong parent hash (leaf re-signed)", &inputs, |e| {
        is_peer(e, |t| matches!(t, PeerMisbehaved::ParentHashMismatch))
    });
}

#[test]
fn duplicate_keys() {
    let mut f = fixture();
    let receiver_leaf = f.members[RECEIVER]
        .tree()
        .leaf(LeafIndex(2))
        .unwrap()
        .decode();
    let existing_enc = receiver_leaf.encryption_key.as_slice().to_vec();
    let fresh_signer = f.p.signature_key_pair_from_seed(&[33; 32]).unwrap().0;
    let fresh_enc = f.p.derive_hpke_key_pair(&[34; 32]).unwrap().1;
    let remove = Proposal::Remove(Remove { removed: VICTIM });
    let add = |kp: KeyPackage| Proposal::Add(Add { key_package: kp });
    // Adds whose KeyPackage repeats a key of the group.
    let dup_sig = [
        // A member's own signature key (its KeyPackage re-made with a fresh HPKE key).
        f.with_proposals(vec![
            remove.clone(),
            add(f.key_package_with(&f.signers[2], fresh_enc.clone(), 1)),
        ]),
        // The KeyPackage the member at leaf 1 joined with (already in the group).
        f.with_proposals(vec![remove.clone(), add(kp(&f.p, 1).0)]),
    ];
    let dup_enc = [
        // Another member's leaf encryption key with a fresh signature key.
        f.with_proposals(vec![
            remove.clone(),
            add(f.key_package_with(&fresh_signer, existing_enc.clone(), 2)),
        ]),
    ];
    let n1 = f.attack("duplicate signature key in an Add", &dup_sig, |e| {
        is_peer(
            e,
            |g| matches!(g, PeerMisbehaved::DuplicateKey { what, .. } if *what == "signature key"),
        )
    });
    // The same KeyPackage twice in one commit: the RFC 9420 §12.2 proposal-list rule
    // (two Adds with one signature key) names it before the tree's key-uniqueness check runs.
    let twice = [f.with_proposals(vec![
        remove.clone(),
        add(f.joiner.0.clone()),
        add(f.joiner.0.clone()),
    ])];
    let n_twice = f.attack("the same KeyPackage added twice", &twice, |e| {
        is_peer(e, |g| {
            matches!(
                g,
                PeerMisbehaved::InvalidProposalList(ProposalRule::DuplicateAddSignatureKey)
            )
        })
    });
    let n2 = f.attack("duplicate encryption key in an Add", &dup_enc, |e| {
        is_peer(
            e,
            |g| matches!(g, PeerMisbehaved::DuplicateKey { what, .. } if *what == "encryption key"),
        )
    });

    // UpdatePath leaf with another member's encryption key (re-signed by the committer).
    let mut pm = f.public();
    commit_mut(&mut pm)
        .path
        .as_mut()
        .unwrap()
        .leaf_node
        .encryption_key = codec::HpkePublicKey(existing_enc.clone().into());
    let signer = f.signers[COMMITTER].clone();
    f.resign_path_leaf(&mut pm, &signer);
    let path_enc = [f.reframe(pm)];
    // UpdatePath leaf with another member's signature key (signed by that member's key).
    let mut pm = f.public();
    let other = f.signers[2].clone();
    f.resign_path_leaf(&mut pm, &other);
    let path_sig = [f.reframe(pm)];
    // The UpdatePath's path secrets are sealed with the provisional GroupContext, whose tree
    // hash covers the new leaf (§7.6, §12.4.2), so any change to the leaf also makes the
    // receiver's HPKE open fail. The key-uniqueness check runs on the merged tree before the
    // decryption: the receiver names the duplicate key, as the member the commit removes and
    // a delivery service tracking the public state (neither can decrypt) do.
    let duplicate = |what: &'static str| {
        move |e: &Error| {
            is_peer(
                e,
                |g| matches!(g, PeerMisbehaved::DuplicateKey { what: w, .. } if *w == what),
            )
        }
    };
    let n3 = f.attack(
        "duplicate encryption key in the UpdatePath leaf",
        &path_enc,
        duplicate("encryption key"),
    );
    let n4 = f.attack(
        "duplicate signature key in the UpdatePath leaf",
        &path_sig,
        duplicate("signature key"),
    );
    assert_eq!(n1 + n_twice + n2 + n3 + n4, 6);
}

#[test]
fn ciphertext_count_not_matching_the_resolution() {
    let mut f = fixture();
    let path_len = match &f.public().content.content {
        FramedContentBody::Commit(c) => c.path.as_ref().unwrap().nodes.len(),
        _ => unreachable!(),
    };
    assert!(path_len >= 2);
    let mut inputs = Vec::new();
    for node in 0..path_len {
        for edit in 0..3 {
            let mut pm = f.public();
            let cts =
                &mut commit_mut(&mut pm).path.as_mut().unwrap().nodes[node].encrypted_path_secret;
            match edit {
                0 if !cts.is_empty() => {
                    cts.pop();
                }
                1 if !cts.is_empty() => {
                    let c = cts[0].clone();
                    cts.push(c);
                }
                2 => {
                    cts.clear();
                    if f.public() == pm {
                        continue;
                    }
                }
                _ => continue,
            }
            inputs.push(f.reframe(pm));
        }
    }
    f.attack("ciphertext count != resolution size", &inputs, |e| {
        is_peer(e, |t| {
            matches!(t, PeerMisbehaved::PathCiphertextCount { .. })
        })
    });
}

/// Offsets where a QUIC-style varint length header could start, with its size in bytes.
fn varint_headers(bytes: &[u8]) -> Vec<(usize, usize, u64)> {
    let mut out = Vec::new();
    for i in 0..bytes.len() {
        let size = 1usize << (bytes[i] >> 6);
        if size > 4 || i + size > bytes.len() {
            continue;
        }
        let mut v = u64::from(bytes[i] & 0x3f);
        for b in &bytes[i + 1..i + size] {
            v = (v << 8) | u64::from(*b);
        }
        if v as usize <= bytes.len() - i - size {
            out.push((i, size, v));
        }
    }
    out
}

#[test]
fn oversized_length_prefixes() {
    let mut f = fixture();
    // At every offset that reads as a varint length header whose length fits the message,
    // write a 4-byte header claiming more bytes than remain (and, separately, the 1-, 2- or
    // 4-byte maximum). At a real header that is a codec error; elsewhere the mutation is some
    // other corruption that a later check must reject.
    let mut inputs = Vec::new();
    for (i, size, _) in varint_headers(&f.commit) {
        let rest = f.commit.len() - i - size;
        for claim in [rest as u64 + 1, 0x3fff_ffff] {
            let mut m = f.commit[..i].to_vec();
            m.extend_from_slice(&(0x8000_0000u32 | claim as u32).to_be_bytes());
            m.extend_from_slice(&f.commit[i + size..]);
            inputs.push(m);
        }
        let max: &[u8] = match size {
            1 => &[0x3f],
            2 => &[0x7f, 0xff],
            _ => &[0xbf, 0xff, 0xff, 0xff],
        };
        let mut m = f.commit.clone();
        m[i..i + size].copy_from_slice(max);
        if m != f.commit {
            inputs.push(m);
        }
    }
    let mut codec_errors = 0;
    let n = f.attack("oversized length prefix", &inputs, |e| {
        codec_errors += usize::from(is_codec(e));
        true
    });
    // Inputs that do not decode must be reported as codec errors.
    let undecodable = inputs
        .iter()
        .filter(|m| codec::decode::<MlsMessage>(m).is_err())
        .count();
    eprintln!("oversized length prefix: {n} inputs, {undecodable} undecodable, {codec_errors} codec errors");
    assert_eq!(codec_errors, undecodable);
    assert!(undecodable * 2 > n);
}

#[test]
fn conflicting_and_invalid_proposals() {
    let mut f = fixture();
    let remove = |l: u32| Proposal::Remove(Remove { removed: l });
    let conflicting = [
        f.with_proposals(vec![remove(VICTIM), remove(VICTIM)]),
        f.with_proposals(vec![remove(2), remove(VICTIM), remove(2)]),
    ];
    f.attack("two removes of the same leaf", &conflicting, |e| {
        is_peer(e, |g| matches!(g, PeerMisbehaved::ConflictingProposals(_)))
    });
    let self_remove = [f.with_proposals(vec![remove(COMMITTER as u32)])];
    f.attack("committer removes itself", &self_remove, |e| {
        is_peer(e, |g| matches!(g, PeerMisbehaved::CommitterRemovesSelf))
    });
    let non_member = [
        f.with_proposals(vec![remove(MEMBERS + 1)]),
        f.with_proposals(vec![remove(u32::MAX)]),
    ];
    f.attack("remove of a non-member", &non_member, |e| {
        is_peer(e, |g| matches!(g, PeerMisbehaved::RemoveNonMember(_)))
    });
    // A Remove without the UpdatePath it requires (§12.4).
    let mut pm = f.public();
    commit_mut(&mut pm).path = None;
    let no_path = [f.reframe(pm)];
    f.attack("remove without a path", &no_path, |e| {
        is_peer(e, |g| matches!(g, PeerMisbehaved::PathRequired))
    });
}

#[test]
fn welcome_for_another_key_package() {
    let f = fixture();
    let mut n = 0;
    // KeyPackages that were not added: a fresh one, a group member's, another seed's.
    for i in [101, 1, 2, 300] {
        let (kp, secrets) = kp(&f.p, i);
        for tree in [None, Some(f.committer_after.ratchet_tree_bytes().unwrap())] {
            let e = Group::join(
                f.p,
                &f.welcome,
                &kp,
                &secrets,
                JoinOptions::from(config(1)).ratchet_tree(tree.as_deref()),
            )
            .unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::PeerMisbehaved(PeerMisbehaved::NoMatchingKeyPackage)
                ),
                "{e:?}"
            );
            n += 1;
        }
    }
    // The right KeyPackage with another KeyPackage's private keys: the GroupSecrets do not
    // open.
    let (kp, _) = f.joiner.clone();
    let (_, wrong) = kp_for_other(&f.p);
    let e = Group::join(f.p, &f.welcome, &kp, &wrong, config(1)).unwrap_err();
    assert!(
        matches!(e, Error::Crypto(CryptoError::HpkeOpenFailed)),
        "{e:?}"
    );
    n += 1;
    // And the genuine join works.
    let (kp, secrets) = f.joiner.clone();
    let g = Group::join(f.p, &f.welcome, &kp, &secrets, config(1)).unwrap();
    assert_eq!(
        g.epoch_authenticator().as_bytes(),
        f.committer_after.epoch_authenticator().as_bytes()
    );
    eprintln!("welcome for another key package: {n} inputs rejected");
}

fn kp_for_other(p: &Provider) -> (KeyPackage, KeyPackageSecrets) {
    kp(p, 555)
}

// ---------------------------------------------------------------------------------------------
// Eviction, proposal poisoning and leaf validation.

fn decode_group_info(bytes: &[u8]) -> codec::GroupInfo {
    match codec::decode::<MlsMessage>(bytes).unwrap().body {
        MlsMessageBody::GroupInfo(gi) => gi,
        _ => panic!("not a GroupInfo"),
    }
}

fn encode_group_info(gi: codec::GroupInfo) -> Vec<u8> {
    codec::encode(&MlsMessage {
        version: ProtocolVersion::MLS10,
        body: MlsMessageBody::GroupInfo(gi),
    })
    .unwrap()
}

impl Fixture {
    /// Every member processes `input` on a copy of its state: all must reject it with an
    /// error `expect` accepts and stay byte-identical. Returns the number of members asked.
    fn all_reject(&self, class: &str, input: &[u8], expect: impl Fn(&Error) -> bool) -> usize {
        for (i, m) in self.members.iter().enumerate() {
            let mut m = m.clone();
            let before = snapshot(&m);
            match m.process(input) {
                Ok(o) => panic!("{class}: member {i} accepted ({o:?})"),
                Err(e) => assert!(expect(&e), "{class}: member {i}: wrong error {e:?}"),
            }
            assert_eq!(snapshot(&m), before, "{class}: member {i} changed");
        }
        self.members.len()
    }

    /// A standalone proposal from the member at `sender`, signed with its key and tagged with
    /// the epoch's membership key, as that member could send it.
    fn forge_proposal(&self, sender: usize, proposal: Proposal) -> Vec<u8> {
        let ctx = self.members[RECEIVER].context().clone();
        let content = codec::FramedContent {
            group_id: ctx.group_id.clone(),
            epoch: ctx.epoch,
            sender: codec::Sender::Member {
                leaf_index: sender as u32,
            },
            authenticated_data: Vec::new().into(),
            content: FramedContentBody::Proposal(proposal),
        };
        let signature = sign_content(
            &self.p,
            &self.signers[sender],
            WireFormat::PublicMessage,
            &content,
            &ctx,
        )
        .unwrap();
        self.retag(
            PublicMessage {
                content,
                auth: FramedContentAuthData {
                    signature,
                    confirmation_tag: None,
                },
                membership_tag: None,
            },
            &ctx,
        )
    }

    /// The leaf of member `i` as an Update would carry it: source `update`, changed by `edit`,
    /// signed by `signer` at position `i`.
    fn update_leaf(
        &self,
        i: usize,
        signer: &SignaturePrivateKey,
        edit: impl FnOnce(&mut codec::LeafNode),
    ) -> codec::LeafNode {
        let g = &self.members[RECEIVER];
        let mut leaf = g.tree().leaf(LeafIndex(i as u32)).unwrap().decode();
        leaf.leaf_node_source = LeafNodeSourceData::Update;
        leaf.encryption_key = codec::HpkePublicKey(
            self.p
                .derive_hpke_key_pair(&[0x90 + i as u8; 32])
                .unwrap()
                .1
                .into(),
        );
        edit(&mut leaf);
        let tbs = LeafNodeTbs::in_group(&leaf, g.context().group_id.as_slice(), i as u32);
        leaf.signature = self
            .p
            .sign_with_label(signer, b"LeafNodeTBS", &codec::encode(&tbs).unwrap())
            .unwrap()
            .into();
        leaf
    }

    /// The signature key of `kp(p, i)` (derived from its seed as `key_package_from_seed`
    /// does).
    fn kp_signer(&self, i: u32) -> SignaturePrivateKey {
        let mut seed = [0x77; 32];
        seed[..4].copy_from_slice(&i.to_be_bytes());
        let sig_seed = self
            .p
            .expand_with_label(&seed, b"canopy kp signature", &[], 32)
            .unwrap();
        self.p
            .signature_key_pair_from_seed(sig_seed.as_bytes())
            .unwrap()
            .0
    }

    /// `kp` with its leaf edited by `edit`, re-signed (leaf and KeyPackage) by `signer`.
    fn resign_key_package(
        &self,
        mut kp: KeyPackage,
        signer: &SignaturePrivateKey,
        edit: impl FnOnce(&mut KeyPackage),
    ) -> KeyPackage {
        edit(&mut kp);
        let tbs = codec::encode(&LeafNodeTbs::key_package(&kp.leaf_node)).unwrap();
        kp.leaf_node.signature = self
            .p
            .sign_with_label(signer, b"LeafNodeTBS", &tbs)
            .unwrap()
            .into();
        let tbs = codec::encode(&KeyPackageTbs { key_package: &kp }).unwrap();
        kp.signature = self
            .p
            .sign_with_label(signer, b"KeyPackageTBS", &tbs)
            .unwrap()
            .into();
        kp
    }
}

/// RFC 9420 §12.4.3.2: the Remove of an external commit removes the joiner's own old leaf.
/// An outsider holding a GroupInfo forges a resync that removes another member: every member,
/// the victim included, rejects it with the credential check that failed and stays
/// byte-identical. A real resync by the same participant is accepted by all (the removed old
/// leaf sees its removal), and so is a plain external join.
#[test]
fn outsider_cannot_evict_with_an_external_commit() {
    let f = fixture();
    let gi = f.members[0].group_info(TreeDelivery::Included).unwrap();
    let mallory = f.p.signature_key_pair_from_seed(&[0x66; 32]).unwrap().0;
    let mut asked = 0;
    for target in [VICTIM, 0, RECEIVER as u32] {
        let (_, forged) = Group::join_external(
            f.p,
            &gi,
            ExternalJoinOptions::new(b"mallory".to_vec(), mallory.clone())
                .resync(LeafIndex(target))
                .config(config(70)),
        )
        .unwrap();
        asked += f.all_reject("forged resync", &forged, |e| {
            is_peer(e, |g| {
                matches!(
                    g,
                    PeerMisbehaved::CredentialRejected {
                        check: CredentialCheck::Resync,
                        leaf: Some(l),
                    } if *l == target
                )
            })
        });
    }
    assert_eq!(asked, 3 * MEMBERS as usize);

    // The participant at VICTIM ("member-4") rejoins from a new device key.
    let fresh = f.p.signature_key_pair_from_seed(&[0x67; 32]).unwrap().0;
    let (rejoined, commit) = Group::join_external(
        f.p,
        &gi,
        ExternalJoinOptions::new(b"member-4".to_vec(), fresh)
            .resync(LeafIndex(VICTIM))
            .config(config(71)),
    )
    .unwrap();
    for (i, m) in f.members.iter().enumerate() {
        let mut m = m.clone();
        let outcome = m.process(&commit).unwrap();
        if i == VICTIM as usize {
            assert_eq!(outcome, ProcessOutcome::Removed);
        } else {
            assert!(matches!(outcome, ProcessOutcome::Committed { .. }));
            assert_eq!(
                m.epoch_authenticator().as_bytes(),
                rejoined.epoch_authenticator().as_bytes()
            );
        }
    }
    // Mallory may join (basic credentials are accepted by default); it just cannot remove.
    let (joined, commit) = Group::join_external(
        f.p,
        &gi,
        ExternalJoinOptions::new(b"mallory".to_vec(), mallory).config(config(72)),
    )
    .unwrap();
    let mut m = f.members[VICTIM as usize].clone();
    assert!(matches!(
        m.process(&commit).unwrap(),
        ProcessOutcome::Committed { .. }
    ));
    assert_eq!(
        m.epoch_authenticator().as_bytes(),
        joined.epoch_authenticator().as_bytes()
    );
}

/// The member an external commit removes checks everything it can before it drops out: an
/// external commit removing it with a broken path (wrong node count) is rejected by it as by
/// the others.
#[test]
fn removed_member_checks_an_external_commit_first() {
    let f = fixture();
    let gi = f.members[0].group_info(TreeDelivery::Included).unwrap();
    let fresh = f.p.signature_key_pair_from_seed(&[0x68; 32]).unwrap().0;
    let (_, commit) = Group::join_external(
        f.p,
        &gi,
        ExternalJoinOptions::new(b"member-4".to_vec(), fresh.clone())
            .resync(LeafIndex(VICTIM))
            .config(config(73)),
    )
    .unwrap();
    let mut pm = decode_public(&commit);
    commit_mut(&mut pm).path.as_mut().unwrap().nodes.pop();
    let ctx = f.members[RECEIVER].context().clone();
    pm.auth.signature =
        sign_content(&f.p, &fresh, WireFormat::PublicMessage, &pm.content, &ctx).unwrap();
    let n = f.all_reject(
        "external resync with a short path",
        &encode_public(pm),
        |e| is_peer(e, |t| matches!(t, PeerMisbehaved::PathLength { .. })),
    );
    assert_eq!(n, MEMBERS as usize);
}

/// §12.2 for external commits, `MissingExternalPub` and a GroupInfo whose tree does not hash
/// to its context, each through the wire.
#[test]
fn external_commit_and_group_info_rules() {
    let f = fixture();
    let gi_bytes = f.members[0].group_info(TreeDelivery::Included).unwrap();
    let joiner = f.p.signature_key_pair_from_seed(&[0x69; 32]).unwrap().0;
    let (_, commit) = Group::join_external(
        f.p,
        &gi_bytes,
        ExternalJoinOptions::new(b"newcomer".to_vec(), joiner.clone()).config(config(74)),
    )
    .unwrap();
    let ctx = f.members[RECEIVER].context().clone();
    let resign = |edit: &dyn Fn(&mut codec::Commit)| {
        let mut pm = decode_public(&commit);
        edit(commit_mut(&mut pm));
        pm.auth.signature =
            sign_content(&f.p, &joiner, WireFormat::PublicMessage, &pm.content, &ctx).unwrap();
        encode_public(pm)
    };
    let init = match &decode_public(&commit).content.content {
        FramedContentBody::Commit(c) => c.proposals[0].clone(),
        _ => unreachable!(),
    };
    let bad_lists = [
        // An Add in an external commit.
        resign(&|c| {
            c.proposals.push(ProposalOrRef::Proposal(Proposal::Add(Add {
                key_package: kp(&f.p, 150).0,
            })))
        }),
        // Two ExternalInits.
        resign(&|c| c.proposals.push(init.clone())),
        // No ExternalInit.
        resign(&|c| c.proposals.clear()),
        // Two Removes.
        resign(&|c| {
            c.proposals
                .push(ProposalOrRef::Proposal(Proposal::Remove(Remove {
                    removed: 1,
                })));
            c.proposals
                .push(ProposalOrRef::Proposal(Proposal::Remove(Remove {
                    removed: 2,
                })));
        }),
        // A proposal by reference.
        resign(&|c| {
            c.proposals
                .push(ProposalOrRef::Reference(codec::HashReference(
                    vec![1; 32].into(),
                )))
        }),
    ];
    let mut n = 0;
    for input in &bad_lists {
        n += f.all_reject("external commit proposal list", input, |e| {
            is_peer(e, |g| {
                matches!(
                    g,
                    PeerMisbehaved::InvalidProposalList(ProposalRule::ExternalCommitProposals)
                )
            })
        });
    }
    assert_eq!(n, bad_lists.len() * MEMBERS as usize);

    // A GroupInfo without external_pub, re-signed by its signer.
    let mut gi = decode_group_info(&gi_bytes);
    gi.extensions
        .retain(|e| e.extension_type != codec::ExtensionType::EXTERNAL_PUB);
    canopy_engine::welcome::sign_group_info(&f.p, &f.signers[gi.signer as usize], &mut gi).unwrap();
    let e = Group::join_external(
        f.p,
        &encode_group_info(gi),
        ExternalJoinOptions::new(b"newcomer".to_vec(), joiner.clone()).config(config(75)),
    )
    .unwrap_err();
    assert!(
        is_peer(&e, |g| matches!(g, PeerMisbehaved::MissingExternalPub)),
        "{e:?}"
    );

    // A GroupInfo whose tree is not the one its context hashes (the tree of the epoch before).
    let mut gi = decode_group_info(&gi_bytes);
    gi.group_context.tree_hash = vec![0x55; 32].into();
    canopy_engine::welcome::sign_group_info(&f.p, &f.signers[gi.signer as usize], &mut gi).unwrap();
    let e = Group::join_external(
        f.p,
        &encode_group_info(gi),
        ExternalJoinOptions::new(b"newcomer".to_vec(), joiner.clone()).config(config(76)),
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::InvalidTree(TreeError::TreeHashMismatch)),
        "{e:?}"
    );

    // A forged epoch of 2^64 - 1: the next epoch does not wrap.
    let mut gi = decode_group_info(&gi_bytes);
    gi.group_context.epoch = u64::MAX;
    canopy_engine::welcome::sign_group_info(&f.p, &f.signers[gi.signer as usize], &mut gi).unwrap();
    let e = Group::join_external(
        f.p,
        &encode_group_info(gi),
        ExternalJoinOptions::new(b"newcomer".to_vec(), joiner.clone()).config(config(77)),
    )
    .unwrap_err();
    assert!(
        is_peer(&e, |g| matches!(g, PeerMisbehaved::EpochExhausted)),
        "{e:?}"
    );

    // A signer index beyond any tree (2^31 and more would wrap when doubled to a node index).
    for signer in [MEMBERS + 10, 1 << 31, u32::MAX] {
        let mut gi = decode_group_info(&gi_bytes);
        gi.signer = signer;
        let e = Group::join_external(
            f.p,
            &encode_group_info(gi),
            ExternalJoinOptions::new(b"newcomer".to_vec(), joiner.clone()).config(config(78)),
        )
        .unwrap_err();
        assert!(
            matches!(e, Error::PeerMisbehaved(PeerMisbehaved::UnknownSigner(s)) if s == signer),
            "{e:?}"
        );
    }
}

/// One member's bad proposal must not stop every commit. Invalid proposals are refused on
/// receipt with the check that failed and are not cached (state unchanged); an Add whose
/// KeyPackage expires between receipt and commit is left out of the commit and reported;
/// the application can list and drop cached proposals.
#[test]
fn invalid_proposals_are_refused_and_expired_ones_left_out() {
    let f = fixture();
    let sender = 2;
    let expired = key_package_from_seed(
        &f.p,
        b"late",
        &[0x71; 32],
        codec::Lifetime {
            not_before: NOW - 1000,
            not_after: NOW - 1,
        },
    )
    .unwrap()
    .0;
    let kp_signer = f.signers[1].clone();
    let add = |kp: KeyPackage| Proposal::Add(Add { key_package: kp });
    let small_order = f.resign_key_package(kp(&f.p, 160).0, &f.kp_signer(160), |k| {
        k.init_key = codec::HpkePublicKey(vec![0; 32].into())
    });
    let dup_ext = f.resign_key_package(kp(&f.p, 161).0, &f.kp_signer(161), |k| {
        let e = codec::Extension {
            extension_type: codec::ExtensionType(0xff00),
            extension_data: Vec::new().into(),
        };
        k.extensions = vec![e.clone(), e];
    });
    let member_key = f.key_package_with(
        &kp_signer,
        f.p.derive_hpke_key_pair(&[0x72; 32]).unwrap().1,
        3,
    );
    type Expect = Box<dyn Fn(&Error) -> bool>;
    let cases: Vec<(&str, Proposal, Expect)> = vec![
        (
            "Add of an expired KeyPackage",
            add(expired),
            Box::new(|e| matches!(e, Error::PeerMisbehaved(PeerMisbehaved::Expired { .. }))),
        ),
        (
            "Add with a small-order init key",
            add(small_order),
            Box::new(|e| matches!(e, Error::Crypto(CryptoError::SmallOrderPublicKey))),
        ),
        (
            "Add with an extension type twice",
            add(dup_ext),
            Box::new(|e| {
                matches!(
                    e,
                    Error::InvalidMessage(codec::CodecError::DuplicateExtension {
                        extension_type: 0xff00
                    })
                )
            }),
        ),
        (
            "Add with a member's signature key",
            add(member_key),
            Box::new(|e| {
                is_peer(
                    e,
                    |g| matches!(g, PeerMisbehaved::DuplicateKey { what, .. } if *what == "signature key"),
                )
            }),
        ),
        (
            "Update keeping the encryption key",
            Proposal::Update(codec::Update {
                leaf_node: f.update_leaf(sender, &f.signers[sender], |l| {
                    l.encryption_key = f.members[RECEIVER]
                        .tree()
                        .leaf(LeafIndex(sender as u32))
                        .unwrap()
                        .decode()
                        .encryption_key
                }),
            }),
            Box::new(|e| {
                is_peer(e, |g| {
                    matches!(g, PeerMisbehaved::EncryptionKeyUnchanged { leaf: 2 })
                })
            }),
        ),
        (
            "Update to another identity",
            Proposal::Update(codec::Update {
                leaf_node: f.update_leaf(sender, &f.signers[sender], |l| {
                    l.credential = codec::Credential::Basic {
                        identity: b"member-1".to_vec().into(),
                    }
                }),
            }),
            Box::new(|e| {
                is_peer(e, |g| {
                    matches!(
                        g,
                        PeerMisbehaved::CredentialRejected {
                            check: CredentialCheck::Update,
                            leaf: Some(2)
                        }
                    )
                })
            }),
        ),
        (
            "Update with a small-order encryption key",
            Proposal::Update(codec::Update {
                leaf_node: f.update_leaf(sender, &f.signers[sender], |l| {
                    l.encryption_key = codec::HpkePublicKey(
                        vec![1; 1]
                            .into_iter()
                            .chain([0; 31])
                            .collect::<Vec<u8>>()
                            .into(),
                    )
                }),
            }),
            Box::new(|e| matches!(e, Error::Crypto(CryptoError::SmallOrderPublicKey))),
        ),
        (
            "GroupContextExtensions with an extension type twice",
            Proposal::GroupContextExtensions(codec::GroupContextExtensions {
                extensions: vec![
                    codec::Extension {
                        extension_type: codec::ExtensionType(0xff01),
                        extension_data: Vec::new().into(),
                    };
                    2
                ],
            }),
            Box::new(|e| {
                matches!(
                    e,
                    Error::InvalidMessage(codec::CodecError::DuplicateExtension {
                        extension_type: 0xff01
                    })
                )
            }),
        ),
        (
            "GroupContextExtensions no member supports",
            Proposal::GroupContextExtensions(codec::GroupContextExtensions {
                extensions: vec![codec::Extension {
                    extension_type: codec::ExtensionType(0xff02),
                    extension_data: Vec::new().into(),
                }],
            }),
            Box::new(|e| {
                is_peer(e, |g| {
                    matches!(
                        g,
                        PeerMisbehaved::UnsupportedCapability {
                            what: "extension",
                            value: 0xff02,
                            ..
                        }
                    )
                })
            }),
        ),
    ];
    let mut n = 0;
    for (class, proposal, expect) in &cases {
        // Sent by the member at `sender` (as itself: the signature and tag are genuine).
        let input = f.forge_proposal(sender, proposal.clone());
        for (i, m) in f.members.iter().enumerate() {
            if i == sender {
                continue;
            }
            let mut m = m.clone();
            let before = snapshot(&m);
            let e = m.process(&input).unwrap_err();
            assert!(expect(&e), "{class}: member {i}: {e:?}");
            assert_eq!(snapshot(&m), before, "{class}: member {i} changed");
            assert_eq!(m.cached_proposals().count(), 0);
            n += 1;
        }
    }
    assert_eq!(n, cases.len() * (MEMBERS as usize - 1));

    // An honest Add whose KeyPackage expires before the commit: cached, then left out.
    let short = key_package_from_seed(
        &f.p,
        b"short-lived",
        &[0x73; 32],
        codec::Lifetime {
            not_before: NOW - 10,
            not_after: NOW + 10,
        },
    )
    .unwrap()
    .0;
    let mut proposer = f.members[sender].clone();
    let add_msg = proposer.propose_add(short, Protection::Public).unwrap();
    let remove_msg = proposer
        .propose_remove(LeafIndex(VICTIM), Protection::Public)
        .unwrap();
    let mut committer = f.members[RECEIVER].clone();
    assert!(matches!(
        committer.process(&add_msg).unwrap(),
        ProcessOutcome::Proposal { .. }
    ));
    committer.process(&remove_msg).unwrap();
    let cached: Vec<Vec<u8>> = committer
        .cached_proposals()
        .map(|c| c.reference.to_vec())
        .collect();
    assert_eq!(cached.len(), 2);
    committer.set_clock(Clock::Fixed(NOW + 100));
    let out = committer.commit(&CommitOptions::default()).unwrap();
    assert_eq!(out.omitted.len(), 1);
    assert_eq!(out.omitted[0].reference, cached[0]);
    assert_eq!(
        out.omitted[0].sender,
        canopy_engine::group::ProposalSender::Member(LeafIndex(sender as u32))
    );
    assert_eq!(out.omitted[0].reason, OmitReason::Expired);
    assert!(out.welcome.is_none());
    // A member that saw both proposals follows the commit, which covers the Remove only.
    let mut other = f.members[0].clone();
    other.process(&add_msg).unwrap();
    other.process(&remove_msg).unwrap();
    other.process(&out.commit).unwrap();
    assert_eq!(
        other.epoch_authenticator().as_bytes(),
        committer.epoch_authenticator().as_bytes()
    );
    assert!(other.tree().leaf(LeafIndex(VICTIM)).is_none());

    // Listing and dropping: after discarding the Remove, a commit covers nothing of it.
    let mut committer = f.members[RECEIVER].clone();
    committer.process(&remove_msg).unwrap();
    let reference = committer
        .cached_proposals()
        .next()
        .unwrap()
        .reference
        .to_vec();
    assert!(committer.discard_proposal(&reference));
    assert!(!committer.discard_proposal(&reference));
    assert_eq!(committer.cached_proposals().count(), 0);
    let out = committer.commit(&CommitOptions::new().with_path()).unwrap();
    assert!(out.omitted.is_empty());
    assert!(committer.tree().leaf(LeafIndex(VICTIM)).is_some());
}

/// RFC 9420 §7.3 and §12.4.2 for the committer's UpdatePath leaf, each case re-signed by the
/// committer (leaf and content): it must change the encryption key, carry a key valid for
/// the suite, list no extension twice, support its own extensions and credential type, keep
/// its identity (the default credential policy), and every UpdatePath node key must be valid.
#[test]
fn path_leaf_validation() {
    let mut f = fixture();
    let committer_key = f.members[RECEIVER]
        .tree()
        .leaf(LeafIndex(COMMITTER as u32))
        .unwrap()
        .decode()
        .encryption_key;
    let signer = f.signers[COMMITTER].clone();
    let edited = |f: &Fixture, edit: &dyn Fn(&mut codec::LeafNode)| {
        let mut pm = f.public();
        edit(&mut commit_mut(&mut pm).path.as_mut().unwrap().leaf_node);
        f.resign_path_leaf(&mut pm, &signer);
        f.reframe(pm)
    };
    let ext = |t: u16| codec::Extension {
        extension_type: codec::ExtensionType(t),
        extension_data: Vec::new().into(),
    };
    let mut n = 0;
    let input = [edited(&f, &|l| l.encryption_key = committer_key.clone())];
    n += f.attack("path leaf keeps the encryption key", &input, |e| {
        is_peer(e, |g| {
            matches!(g, PeerMisbehaved::EncryptionKeyUnchanged { leaf } if *leaf == COMMITTER as u32)
        })
    });
    let input = [edited(&f, &|l| {
        l.encryption_key = codec::HpkePublicKey(vec![0; 32].into())
    })];
    n += f.attack("path leaf with a small-order key", &input, |e| {
        matches!(e, Error::Crypto(CryptoError::SmallOrderPublicKey))
    });
    let input = [edited(&f, &|l| {
        l.capabilities.extensions.push(codec::ExtensionType(0xff20));
        l.extensions = vec![ext(0xff20), ext(0xff20)];
    })];
    n += f.attack("path leaf with an extension twice", &input, |e| {
        matches!(
            e,
            Error::InvalidMessage(codec::CodecError::DuplicateExtension {
                extension_type: 0xff20
            })
        )
    });
    let input = [edited(&f, &|l| l.extensions = vec![ext(0xff21)])];
    n += f.attack(
        "path leaf with an extension it does not list",
        &input,
        |e| {
            matches!(
                e,
                Error::InvalidTree(canopy_engine::tree::TreeError::UnsupportedExtension {
                    extension_type: 0xff21
                })
            )
        },
    );
    let input = [edited(&f, &|l| {
        l.capabilities.credentials = vec![codec::CredentialType::X509]
    })];
    n += f.attack("path leaf not supporting basic credentials", &input, |e| {
        matches!(
            e,
            Error::InvalidTree(canopy_engine::tree::TreeError::UnsupportedCredential {
                credential_type: 1
            })
        )
    });
    let input = [edited(&f, &|l| {
        l.credential = codec::Credential::Basic {
            identity: b"member-3".to_vec().into(),
        }
    })];
    n += f.attack("path leaf under another identity", &input, |e| {
        is_peer(e, |g| {
            matches!(
                g,
                PeerMisbehaved::CredentialRejected {
                    check: CredentialCheck::Update,
                    leaf: Some(1)
                }
            )
        })
    });
    // A small-order key on an UpdatePath node (covered by the parent hash, which the
    // committer re-signs through the leaf: the key check comes first).
    let mut bad = f.public();
    let mut one = [0u8; 32];
    one[0] = 1;
    commit_mut(&mut bad).path.as_mut().unwrap().nodes[0].encryption_key =
        codec::HpkePublicKey(one.to_vec().into());
    let input = [f.reframe(bad)];
    n += f.attack("UpdatePath node with a small-order key", &input, |e| {
        matches!(e, Error::Crypto(CryptoError::SmallOrderPublicKey))
    });
    assert_eq!(n, 7);
}

impl Fixture {
    /// The genuine Welcome with its GroupInfo edited by `edit`, re-signed by the committer,
    /// its confirmation tag recomputed for the edited context, and the joiner's GroupSecrets
    /// re-sealed (their HPKE context is the encrypted GroupInfo): what a committer that
    /// lies about the group could send.
    fn forge_welcome(&self, edit: impl FnOnce(&mut codec::GroupInfo)) -> Vec<u8> {
        use canopy_engine::welcome;
        let mut w = match codec::decode::<MlsMessage>(&self.welcome).unwrap().body {
            MlsMessageBody::Welcome(w) => w,
            _ => unreachable!(),
        };
        let (kp, secrets) = &self.joiner;
        let gs = welcome::decrypt_group_secrets(&self.p, &w, kp, &secrets.init_key).unwrap();
        let zero = Secret::new(vec![0; self.p.hash_len()]);
        let ws = welcome::welcome_secret(&self.p, &gs.joiner_secret, &zero).unwrap();
        let mut gi = welcome::decrypt_group_info(&self.p, &w, &ws).unwrap();
        edit(&mut gi);
        let epoch = EpochSecrets::from_joiner(
            &self.p,
            gs.joiner_secret.clone(),
            zero.as_bytes(),
            &codec::encode(&gi.group_context).unwrap(),
        )
        .unwrap();
        gi.confirmation_tag = Mac(epoch
            .confirmation_tag(
                &self.p,
                gi.group_context.confirmed_transcript_hash.as_slice(),
            )
            .into());
        welcome::sign_group_info(&self.p, &self.signers[COMMITTER], &mut gi).unwrap();
        w.encrypted_group_info = welcome::encrypt_group_info(&self.p, &gi, &ws)
            .unwrap()
            .as_slice()
            .to_vec()
            .into();
        w.secrets = vec![welcome::encrypt_group_secrets(
            &self.p,
            kp,
            w.encrypted_group_info.as_slice(),
            &gs,
        )
        .unwrap()];
        codec::encode(&MlsMessage {
            version: ProtocolVersion::MLS10,
            body: MlsMessageBody::Welcome(w),
        })
        .unwrap()
    }
}

/// RFC 9420 §12.4.3.1 and §13.4 for a new member, each through `Group::join` with a Welcome
/// a lying committer could send: the GroupContext's extensions and required capabilities
/// must be supported by every member (the joiner included), no extension list may repeat a
/// type, the tree must hash to the context, and the joiner's leaf must be in it.
#[test]
fn join_validation() {
    let f = fixture();
    let (joiner_kp, secrets) = f.joiner.clone();
    let join = |welcome: &[u8], tree: Option<&[u8]>| {
        Group::join(
            f.p,
            welcome,
            &joiner_kp,
            &secrets,
            JoinOptions::from(config(99)).ratchet_tree(tree),
        )
        .unwrap_err()
    };
    // Sanity: the forging itself yields a Welcome that joins.
    Group::join(
        f.p,
        &f.forge_welcome(|_| {}),
        &joiner_kp,
        &secrets,
        config(99),
    )
    .unwrap();
    let ext = |t: u16, data: Vec<u8>| codec::Extension {
        extension_type: codec::ExtensionType(t),
        extension_data: data.into(),
    };
    let mut n = 0;
    let e = join(
        &f.forge_welcome(|gi| gi.group_context.extensions = vec![ext(0xff30, vec![])]),
        None,
    );
    assert!(
        is_peer(&e, |g| matches!(
            g,
            PeerMisbehaved::UnsupportedCapability {
                what: "extension",
                value: 0xff30,
                ..
            }
        )),
        "{e:?}"
    );
    n += 1;
    let required = codec::encode(&codec::RequiredCapabilities {
        extension_types: vec![],
        proposal_types: vec![codec::ProposalType(0xff31)],
        credential_types: vec![],
    })
    .unwrap();
    let e = join(
        &f.forge_welcome(|gi| {
            gi.group_context.extensions =
                vec![ext(codec::ExtensionType::REQUIRED_CAPABILITIES.0, required)]
        }),
        None,
    );
    assert!(
        is_peer(&e, |g| matches!(
            g,
            PeerMisbehaved::UnsupportedCapability {
                what: "proposal",
                value: 0xff31,
                ..
            }
        )),
        "{e:?}"
    );
    n += 1;
    let e = join(
        &f.forge_welcome(|gi| {
            let tree = gi.extensions[0].clone();
            gi.extensions.push(tree);
        }),
        None,
    );
    assert!(
        matches!(
            e,
            Error::InvalidMessage(codec::CodecError::DuplicateExtension { .. })
        ),
        "{e:?}"
    );
    n += 1;
    let e = join(
        &f.forge_welcome(|gi| {
            gi.group_context.extensions = vec![
                ext(codec::ExtensionType::REQUIRED_CAPABILITIES.0, vec![0, 0, 0]),
                ext(codec::ExtensionType::REQUIRED_CAPABILITIES.0, vec![0, 0, 0]),
            ]
        }),
        None,
    );
    assert!(
        matches!(
            e,
            Error::InvalidMessage(codec::CodecError::DuplicateExtension { .. })
        ),
        "{e:?}"
    );
    n += 1;

    // The tree of the epoch before, given out of band with a Welcome that carries none.
    let old_tree = f.members[RECEIVER].ratchet_tree_bytes().unwrap();
    let no_tree = f.forge_welcome(|gi| gi.extensions.clear());
    let e = join(&no_tree, Some(&old_tree));
    assert!(
        matches!(e, Error::InvalidTree(TreeError::TreeHashMismatch)),
        "{e:?}"
    );
    n += 1;
    let e = join(&no_tree, None);
    assert!(
        matches!(e, Error::ApiMisuse(ApiMisuse::MissingRatchetTree)),
        "{e:?}"
    );
    n += 1;

    // Tree edits caught before any hash: unmerged-leaf rules and leaf extensions.
    let tree_bytes = f.committer_after.ratchet_tree_bytes().unwrap();
    let tree: codec::RatchetTree = codec::decode(&tree_bytes).unwrap();
    let parent = tree
        .0
        .iter()
        .position(|n| matches!(n, Some(codec::Node::Parent(_))))
        .unwrap();
    let with_unmerged = |leaves: Vec<u32>| {
        let mut t = tree.clone();
        if let Some(codec::Node::Parent(p)) = &mut t.0[parent] {
            p.unmerged_leaves = leaves;
        }
        codec::encode(&t).unwrap()
    };
    let e = join(&no_tree, Some(&with_unmerged(vec![2, 0])));
    assert!(
        matches!(
            e,
            Error::InvalidTree(canopy_engine::tree::TreeError::UnmergedLeavesUnsorted { .. })
        ),
        "{e:?}"
    );
    n += 1;
    let e = join(&no_tree, Some(&with_unmerged(vec![MEMBERS + 3])));
    assert!(
        matches!(
            e,
            Error::InvalidTree(canopy_engine::tree::TreeError::BadUnmergedLeaf { .. })
        ),
        "{e:?}"
    );
    n += 1;
    // Leaf 2 with an extension it does not list, re-signed by its owner.
    let mut t = tree.clone();
    if let Some(codec::Node::Leaf(l)) = &mut t.0[4] {
        l.extensions = vec![ext(0xff32, vec![])];
        let gid = f.members[RECEIVER].context().group_id.clone();
        let tbs = LeafNodeTbs::in_group(l, gid.as_slice(), 2);
        l.signature =
            f.p.sign_with_label(&f.signers[2], b"LeafNodeTBS", &codec::encode(&tbs).unwrap())
                .unwrap()
                .into();
    }
    let e = join(&no_tree, Some(&codec::encode(&t).unwrap()));
    assert!(
        matches!(
            e,
            Error::InvalidTree(canopy_engine::tree::TreeError::UnsupportedExtension {
                extension_type: 0xff32
            })
        ),
        "{e:?}"
    );
    n += 1;

    // A Welcome entry for a KeyPackage whose leaf is not in the tree: the joiner's
    // GroupSecrets re-sealed to another KeyPackage.
    let (other_kp, other_secrets) = kp(&f.p, 170);
    let mut w = match codec::decode::<MlsMessage>(&f.welcome).unwrap().body {
        MlsMessageBody::Welcome(w) => w,
        _ => unreachable!(),
    };
    let gs = canopy_engine::welcome::decrypt_group_secrets(&f.p, &w, &joiner_kp, &secrets.init_key)
        .unwrap();
    let entry = canopy_engine::welcome::encrypt_group_secrets(
        &f.p,
        &other_kp,
        w.encrypted_group_info.as_slice(),
        &gs,
    )
    .unwrap();
    w.secrets.push(entry);
    let forged = codec::encode(&MlsMessage {
        version: ProtocolVersion::MLS10,
        body: MlsMessageBody::Welcome(w),
    })
    .unwrap();
    let e = Group::join(f.p, &forged, &other_kp, &other_secrets, config(98)).unwrap_err();
    assert!(
        is_peer(&e, |g| matches!(g, PeerMisbehaved::OwnLeafMissing)),
        "{e:?}"
    );
    n += 1;
    assert_eq!(n, 10);
}
