//! Fixtures shared by the protocol integration tests: a fixed clock, seeded configurations,
//! seeded KeyPackages and a small group built with real commits and Welcomes.
// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

use canopy_engine::codec::{
    self, AuthenticatedContent, Commit, Extension, FramedContentBody, GroupContext, KeyPackage,
    LeafNodeTbs, MlsMessage, MlsMessageBody, ProtocolVersion, PublicMessage,
};
use canopy_engine::crypto::{CipherSuite, Provider, Secret, SignaturePrivateKey};
use canopy_engine::framing::EpochFraming;
use canopy_engine::group::{CommitOptions, Group, GroupConfig, Randomness};
use canopy_engine::key_package::{
    default_lifetime, key_package_from_seed, Clock, KeyPackageSecrets,
};
use canopy_engine::schedule::EpochSecrets;

/// The fixed time every KeyPackage lifetime is checked against.
pub(crate) const NOW: u64 = 1_800_000_000;

pub(crate) fn provider() -> Provider {
    Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519)
}

/// Fixed clock, randomness seeded by `seed`.
pub(crate) fn config(seed: u8) -> GroupConfig {
    GroupConfig {
        clock: Clock::Fixed(NOW),
        randomness: Randomness::Seeded(Secret::new(vec![seed; 32])),
        ..GroupConfig::default()
    }
}

/// The KeyPackage of "member-`i`" from seed byte `round` (another round, another KeyPackage
/// of the same identity).
pub(crate) fn key_package(p: &Provider, i: u32, round: u8) -> (KeyPackage, KeyPackageSecrets) {
    let mut seed = [round; 32];
    seed[..4].copy_from_slice(&i.to_be_bytes());
    key_package_from_seed(
        p,
        format!("member-{i}").as_bytes(),
        &seed,
        default_lifetime(NOW),
    )
    .unwrap()
}

/// `n` members of group `group_id` ("member-0" creates it and adds the others in one commit,
/// with `extensions` as its GroupContext extensions; they join from the Welcome), and their
/// signers. Built the same way on every call.
pub(crate) fn group(
    p: Provider,
    group_id: &[u8],
    n: u32,
    round: u8,
    extensions: Option<Vec<Extension>>,
) -> (Vec<Group>, Vec<SignaturePrivateKey>) {
    let (signer, _) = p.signature_key_pair_from_seed(&[round; 32]).unwrap();
    let mut creator = Group::create(p, group_id, b"member-0", signer.clone(), config(1)).unwrap();
    let kps: Vec<_> = (1..n).map(|i| key_package(&p, i, round)).collect();
    let out = creator
        .commit(
            &CommitOptions::new()
                .adds(kps.iter().map(|(k, _)| k.clone()))
                .group_context_extensions(extensions)
                .ratchet_tree_in_welcome(),
        )
        .unwrap();
    let mut members = vec![creator];
    let mut signers = vec![signer];
    for (i, (k, s)) in kps.iter().enumerate() {
        members.push(
            Group::join(p, out.welcome.as_ref().unwrap(), k, s, config(10 + i as u8)).unwrap(),
        );
        signers.push(s.signer.clone());
    }
    (members, signers)
}

/// Every group's epoch authenticator is the first's.
pub(crate) fn agree(groups: &[&Group]) {
    for g in groups {
        assert_eq!(
            g.epoch_authenticator().as_bytes(),
            groups[0].epoch_authenticator().as_bytes()
        );
    }
}

/// `members` re-based onto `joiner_secret` (same context, tree and private keys, member `i`
/// with `config(i)`), so a test knows the epoch's whole key schedule, which is returned too:
/// the membership key to re-tag forged messages, the resumption PSK, and so on.
pub(crate) fn rebase(
    p: Provider,
    members: &[Group],
    signers: &[SignaturePrivateKey],
    joiner_secret: Secret,
    config: impl Fn(usize) -> GroupConfig,
) -> (Vec<Group>, canopy_engine::schedule::EpochSecrets) {
    let context = members[0].context().clone();
    let rebased = members
        .iter()
        .zip(signers)
        .enumerate()
        .map(|(i, (g, s))| {
            Group::from_parts(
                p,
                context.clone(),
                g.tree().clone(),
                g.private().clone(),
                s.clone(),
                joiner_secret.clone(),
                config(i),
            )
            .unwrap()
        })
        .collect();
    let secrets = canopy_engine::schedule::EpochSecrets::from_joiner(
        &p,
        joiner_secret,
        &vec![0; p.hash_len()],
        &canopy_engine::codec::encode(&context).unwrap(),
    )
    .unwrap();
    (rebased, secrets)
}

/// The Commit of `pm`, to edit.
pub(crate) fn commit_mut(pm: &mut PublicMessage) -> &mut Commit {
    match &mut pm.content.content {
        FramedContentBody::Commit(c) => c,
        _ => panic!("not a commit"),
    }
}

/// Give the UpdatePath leaf of the commit `pm` (after the caller edited it) `signer`'s
/// signature key and re-sign it as the leaf at `leaf` of group `group_id`.
pub(crate) fn resign_path_leaf(
    p: &Provider,
    pm: &mut PublicMessage,
    group_id: &[u8],
    leaf: u32,
    signer: &SignaturePrivateKey,
) {
    let node = &mut commit_mut(pm).path.as_mut().unwrap().leaf_node;
    node.signature_key = codec::SignaturePublicKey(signer.public_key().into());
    let tbs = codec::encode(&LeafNodeTbs::in_group(node, group_id, leaf)).unwrap();
    node.signature = p
        .sign_with_label(signer, b"LeafNodeTBS", &tbs)
        .unwrap()
        .into();
}

/// `auth` as an MLSMessage(PublicMessage) of the epoch of `context` (a tree of `n_leaves`
/// leaves) whose key schedule is `secrets`: with a member sender's membership tag, as a
/// member checks it before anything else.
pub(crate) fn membership_tagged(
    p: Provider,
    context: &GroupContext,
    secrets: &EpochSecrets,
    n_leaves: u32,
    auth: AuthenticatedContent,
) -> Vec<u8> {
    let framing = EpochFraming::new(
        p,
        context.clone(),
        secrets.membership_key.clone(),
        secrets.sender_data_secret.clone(),
        secrets.encryption_secret.clone(),
        n_leaves,
    );
    let pm = framing.protect_public(auth).unwrap();
    codec::encode(&MlsMessage {
        version: ProtocolVersion::MLS10,
        body: MlsMessageBody::PublicMessage(pm),
    })
    .unwrap()
}
