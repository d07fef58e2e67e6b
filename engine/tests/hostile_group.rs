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
use canopy_engine::framing::{sign_content, EpochFraming, FramingError};
use canopy_engine::group::{
    CommitOptions, Group, GroupConfig, GroupError, ProposalRule, Randomness,
};
use canopy_engine::kem::TreeKemError;
use canopy_engine::key_package::{
    default_lifetime, key_package_from_seed, Clock, KeyPackageSecrets,
};
use canopy_engine::schedule::EpochSecrets;
use canopy_engine::tree::LeafIndex;
use canopy_engine::welcome::WelcomeError;
use canopy_engine::Error;

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
}

fn fixture() -> Fixture {
    let p = provider();
    let (creator_signer, _) = p.signature_key_pair_from_seed(&[1; 32]).unwrap();
    let mut creator =
        Group::create(p, b"hostile", b"creator", creator_signer.clone(), config(1)).unwrap();
    let kps: Vec<_> = (1..MEMBERS).map(|i| kp(&p, i)).collect();
    let out = creator
        .commit(&CommitOptions {
            adds: kps.iter().map(|(k, _)| k.clone()).collect(),
            force_path: true,
            ratchet_tree_in_welcome: true,
            ..CommitOptions::default()
        })
        .unwrap();
    let mut members = vec![creator];
    let mut signers = vec![creator_signer];
    for (i, (k, s)) in kps.iter().enumerate() {
        let g = Group::join(
            p,
            out.welcome.as_ref().unwrap(),
            k,
            s,
            None,
            config(10 + i as u8),
        )
        .unwrap();
        assert_eq!(g.own_leaf().0, i as u32 + 1);
        members.push(g);
        signers.push(s.signer.clone());
    }
    // One more real epoch with a path from another member, so the tree has several
    // populated paths.
    let out = members[2]
        .commit(&CommitOptions {
            force_path: true,
            ..CommitOptions::default()
        })
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
        .commit(&CommitOptions {
            adds: vec![joiner.0.clone()],
            removes: vec![LeafIndex(VICTIM)],
            force_path: true,
            ratchet_tree_in_welcome: true,
            ..CommitOptions::default()
        })
        .unwrap();
    Fixture {
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
    ]
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
        let framing = EpochFraming::new(
            self.p,
            ctx.clone(),
            self.secrets.membership_key.clone(),
            self.secrets.sender_data_secret.clone(),
            self.secrets.encryption_secret.clone(),
            self.members[RECEIVER].tree().n_leaves(),
        );
        let pm = framing
            .protect_public(codec::AuthenticatedContent {
                wire_format: WireFormat::PublicMessage,
                content: pm.content,
                auth: FramedContentAuthData {
                    signature: pm.auth.signature,
                    confirmation_tag: pm.auth.confirmation_tag,
                },
            })
            .unwrap();
        encode_public(pm)
    }

    /// Run every input against the receiver: each must fail with an error `expect` accepts
    /// and leave the receiver unchanged. Then the genuine commit must still be processed.
    /// Returns the number of inputs.
    fn attack(
        &mut self,
        class: &str,
        inputs: &[Vec<u8>],
        mut expect: impl FnMut(&Error) -> bool,
    ) -> usize {
        let before = snapshot(&self.members[RECEIVER]);
        for (i, input) in inputs.iter().enumerate() {
            assert_ne!(input, &self.commit, "{class} #{i}: not mutated");
            match self.members[RECEIVER].process(input) {
                Ok(o) => panic!("{class} #{i}: accepted ({o:?})"),
                Err(e) => assert!(expect(&e), "{class} #{i}: wrong error: {e:?}"),
            }
            assert_eq!(
                snapshot(&self.members[RECEIVER]),
                before,
                "{class} #{i}: state changed"
            );
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
    }

    /// A Commit's proposals and path, mutably.
    fn edit_commit(pm: &mut PublicMessage) -> &mut codec::Commit {
        match &mut pm.content.content {
            FramedContentBody::Commit(c) => c,
            _ => panic!("not a commit"),
        }
    }

    /// Re-sign the UpdatePath leaf node of `pm` (after the caller edited it) with `signer`.
    fn resign_path_leaf(&self, pm: &mut PublicMessage, signer: &SignaturePrivateKey) {
        let group_id = self.members[RECEIVER]
            .context()
            .group_id
            .as_slice()
            .to_vec();
        let leaf = &mut Self::edit_commit(pm).path.as_mut().unwrap().leaf_node;
        leaf.signature_key = codec::SignaturePublicKey(signer.public_key().into());
        let tbs = codec::encode(&LeafNodeTbs::in_group(leaf, &group_id, COMMITTER as u32)).unwrap();
        leaf.signature = self
            .p
            .sign_with_label(signer, b"LeafNodeTBS", &tbs)
            .unwrap()
            .into();
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
        Self::edit_commit(&mut pm).proposals =
            proposals.into_iter().map(ProposalOrRef::Proposal).collect();
        self.reframe(pm)
    }
}

fn is_codec(e: &Error) -> bool {
    matches!(e, Error::InvalidMessage(_))
}

fn is_framing(e: &Error, want: impl Fn(&FramingError) -> bool) -> bool {
    matches!(e, Error::Framing(f) if want(f))
}

fn is_group(e: &Error, want: impl Fn(&GroupError) -> bool) -> bool {
    matches!(e, Error::Group(g) if want(g))
}

fn is_treekem(e: &Error, want: impl Fn(&TreeKemError) -> bool) -> bool {
    matches!(e, Error::TreeKem(t) if want(t))
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
        let r = Group::join(f.p, &f.welcome[..n], &kp, &secrets, None, config(99));
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
            Error::Framing(FramingError::WrongGroup) => "wrong group",
            Error::Framing(FramingError::WrongEpoch { .. }) => "wrong epoch",
            Error::Framing(FramingError::InvalidMembershipTag) => "membership tag",
            Error::Framing(FramingError::UnknownSender(_)) => "unknown sender",
            Error::Crypto(CryptoError::InvalidSignature) => "signature",
            Error::Group(GroupError::UnsupportedVersion(_)) => "version",
            Error::Group(GroupError::UnexpectedMessage(_)) => "not a commit message",
            Error::Group(GroupError::OwnCommit) => "own commit",
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
        is_framing(e, |f| matches!(f, FramingError::WrongEpoch { .. }))
    });
    // A genuine commit replayed in the next epoch.
    let mut receiver = f.members[RECEIVER].clone();
    receiver.process(&f.commit).unwrap();
    let before = snapshot(&receiver);
    let e = receiver.process(&f.commit).unwrap_err();
    assert!(is_framing(&e, |f| matches!(
        f,
        FramingError::WrongEpoch { .. }
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
        is_framing(e, |f| matches!(f, FramingError::WrongGroup))
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
        is_framing(e, |f| matches!(f, FramingError::InvalidMembershipTag))
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
        is_framing(e, |f| matches!(f, FramingError::InvalidConfirmationTag))
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
            Fixture::edit_commit(&mut pm)
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
        is_treekem(e, |t| matches!(t, TreeKemError::ParentHashMismatch))
    });
}

#[test]
fn duplicate_keys() {
    let mut f = fixture();
    let receiver_leaf = f.members[RECEIVER]
        .tree()
        .leaf(LeafIndex(2))
        .unwrap()
        .clone();
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
        is_group(
            e,
            |g| matches!(g, GroupError::DuplicateKey { what, .. } if *what == "signature key"),
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
        is_group(e, |g| {
            matches!(
                g,
                GroupError::InvalidProposalList(ProposalRule::DuplicateAddSignatureKey)
            )
        })
    });
    let n2 = f.attack("duplicate encryption key in an Add", &dup_enc, |e| {
        is_group(
            e,
            |g| matches!(g, GroupError::DuplicateKey { what, .. } if *what == "encryption key"),
        )
    });

    // UpdatePath leaf with another member's encryption key (re-signed by the committer).
    let mut pm = f.public();
    Fixture::edit_commit(&mut pm)
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
    // hash covers the new leaf (§7.6, §12.4.2): any change to the leaf — a duplicate key
    // included — makes the receiver's HPKE open fail before the duplicate-key check (which
    // only a committer encrypting to the altered context would reach). Both classes are
    // rejected with the typed decryption error naming the path node.
    let decryption = |e: &Error| is_treekem(e, |t| matches!(t, TreeKemError::Decryption { .. }));
    let n3 = f.attack(
        "duplicate encryption key in the UpdatePath leaf",
        &path_enc,
        decryption,
    );
    let n4 = f.attack(
        "duplicate signature key in the UpdatePath leaf",
        &path_sig,
        decryption,
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
            let cts = &mut Fixture::edit_commit(&mut pm).path.as_mut().unwrap().nodes[node]
                .encrypted_path_secret;
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
        is_treekem(e, |t| matches!(t, TreeKemError::CiphertextCount { .. }))
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
        is_group(e, |g| matches!(g, GroupError::ConflictingProposals(_)))
    });
    let self_remove = [f.with_proposals(vec![remove(COMMITTER as u32)])];
    f.attack("committer removes itself", &self_remove, |e| {
        is_group(e, |g| matches!(g, GroupError::CommitterRemovesSelf))
    });
    let non_member = [
        f.with_proposals(vec![remove(MEMBERS + 1)]),
        f.with_proposals(vec![remove(u32::MAX)]),
    ];
    f.attack("remove of a non-member", &non_member, |e| {
        is_group(e, |g| matches!(g, GroupError::RemoveNonMember(_)))
    });
    // A Remove without the UpdatePath it requires (§12.4).
    let mut pm = f.public();
    Fixture::edit_commit(&mut pm).path = None;
    let no_path = [f.reframe(pm)];
    f.attack("remove without a path", &no_path, |e| {
        is_group(e, |g| matches!(g, GroupError::PathRequired))
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
            let e = Group::join(f.p, &f.welcome, &kp, &secrets, tree.as_deref(), config(1))
                .unwrap_err();
            assert!(
                matches!(e, Error::Welcome(WelcomeError::NoMatchingKeyPackage)),
                "{e:?}"
            );
            n += 1;
        }
    }
    // The right KeyPackage with another KeyPackage's private keys: the GroupSecrets do not
    // open.
    let (kp, _) = f.joiner.clone();
    let (_, wrong) = kp_for_other(&f.p);
    let e = Group::join(f.p, &f.welcome, &kp, &wrong, None, config(1)).unwrap_err();
    assert!(
        matches!(e, Error::Crypto(CryptoError::HpkeOpenFailed)),
        "{e:?}"
    );
    n += 1;
    // And the genuine join works.
    let (kp, secrets) = f.joiner.clone();
    let g = Group::join(f.p, &f.welcome, &kp, &secrets, None, config(1)).unwrap();
    assert_eq!(
        g.epoch_authenticator().as_bytes(),
        f.committer_after.epoch_authenticator().as_bytes()
    );
    eprintln!("welcome for another key package: {n} inputs rejected");
}

fn kp_for_other(p: &Provider) -> (KeyPackage, KeyPackageSecrets) {
    kp(p, 555)
}
