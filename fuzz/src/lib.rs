//! Shared helpers of the canopy-engine fuzz targets (see `fuzz_targets/` and README.md
//! "Fuzzing").

use std::fmt::Debug;
use std::sync::OnceLock;

use canopy_engine::codec::{
    self, CipherSuiteId, Deserialize, GroupContext, ProtocolVersion, Serialize,
};
use canopy_engine::crypto::{CipherSuite, Provider, SignaturePrivateKey};

/// Decode `data` as a `T`; if that succeeds, the value must re-encode to exactly `data`
/// (the codec accepts only canonical encodings). Returns the value.
pub fn round_trip<T: Deserialize + Serialize + Debug>(data: &[u8]) -> Option<T> {
    let value = codec::decode::<T>(data).ok()?;
    let again = match codec::encode(&value) {
        Ok(bytes) => bytes,
        Err(e) => panic!("decoded value does not re-encode: {e:?}\n{value:?}"),
    };
    assert!(
        again == data,
        "re-encoding changed the bytes\n in: {}\nout: {}\n{value:?}",
        hex::encode(data),
        hex::encode(&again)
    );
    Some(value)
}

/// Case 0 (suite 1) of `message-protection.json`: the fixed epoch the `unprotect_private`
/// target unprotects against. Leaf 1 of a two-leaf secret tree is the sender.
#[derive(Debug)]
pub struct Protection {
    /// Suite 1.
    pub provider: Provider,
    /// The epoch's group context.
    pub group_context: GroupContext,
    /// `membership_key`.
    pub membership_key: Vec<u8>,
    /// `sender_data_secret`.
    pub sender_data_secret: Vec<u8>,
    /// `encryption_secret`.
    pub encryption_secret: Vec<u8>,
    /// Leaf 1's signature key.
    pub signer: SignaturePrivateKey,
    /// Leaf 1's public signature key.
    pub signer_pub: Vec<u8>,
    /// Another key (a member forging leaf 1's messages).
    pub forger: SignaturePrivateKey,
    /// The vector's PrivateMessages (`MLSMessage` encoding): proposal, commit, application.
    pub messages: Vec<Vec<u8>>,
}

const MESSAGE_PROTECTION: &str =
    include_str!("../../engine/test_vectors/mls/message-protection.json");

/// The fixed [`Protection`] (parsed once).
pub fn protection() -> &'static Protection {
    static P: OnceLock<Protection> = OnceLock::new();
    P.get_or_init(|| {
        let json: serde_json::Value =
            serde_json::from_str(MESSAGE_PROTECTION).expect("message-protection.json parses");
        let case = &json[0];
        assert_eq!(case["cipher_suite"], 1, "case 0 is suite 1");
        let hex = |k: &str| hex::decode(case[k].as_str().expect(k)).expect(k);
        let provider = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
        let signer = SignaturePrivateKey::from_seed(&hex("signature_priv")).expect("seed");
        let forger = SignaturePrivateKey::from_seed(&[0x42; 32]).expect("seed");
        Protection {
            provider,
            group_context: GroupContext {
                version: ProtocolVersion::MLS10,
                cipher_suite: CipherSuiteId(1),
                group_id: hex("group_id").into(),
                epoch: case["epoch"].as_u64().expect("epoch"),
                tree_hash: hex("tree_hash").into(),
                confirmed_transcript_hash: hex("confirmed_transcript_hash").into(),
                extensions: Vec::new(),
            },
            membership_key: hex("membership_key"),
            sender_data_secret: hex("sender_data_secret"),
            encryption_secret: hex("encryption_secret"),
            signer,
            signer_pub: hex("signature_pub"),
            forger,
            messages: ["proposal_priv", "commit_priv", "application_priv"]
                .iter()
                .map(|k| hex(k))
                .collect(),
        }
    })
}

/// A small live group for the `process_live` and `join_live` targets: four members built
/// with real commits and Welcomes from seeded randomness and a fixed clock, so every run
/// (and `seed_corpus.py`) gets the same group, byte for byte.
pub mod live {
    use std::sync::OnceLock;

    use canopy_engine::codec::{self, KeyPackage};
    use canopy_engine::crypto::{CipherSuite, Provider, Secret};
    use canopy_engine::group::{CommitOptions, Group, GroupConfig, Randomness};
    use canopy_engine::key_package::{
        default_lifetime, key_package_from_seed, Clock, KeyPackageSecrets,
    };
    use canopy_engine::tree::LeafIndex;

    /// The fixed time KeyPackage lifetimes are checked against.
    pub const NOW: u64 = 1_800_000_000;

    /// The member whose state the targets attack (leaf 2).
    pub const RECEIVER: usize = 2;

    /// The live group and genuine messages of its current epoch.
    pub struct Live {
        /// The provider (suite 1).
        pub provider: Provider,
        /// The member at each leaf, all in the same epoch.
        pub members: Vec<Group>,
        /// Genuine `MLSMessage`s of the current epoch for the receiver: commits by other
        /// members (path only, add, remove, add + remove with path) and application messages.
        pub messages: Vec<(&'static str, Vec<u8>)>,
        /// A KeyPackage the add commit adds, with its secrets (for `join_live`).
        pub joiner: (KeyPackage, KeyPackageSecrets),
        /// The Welcome of the add commit for `joiner` (tree inside).
        pub welcome: Vec<u8>,
    }

    /// Group config with seeded randomness `seed` and the fixed clock.
    pub fn config(seed: u8) -> GroupConfig {
        GroupConfig {
            clock: Clock::Fixed(NOW),
            randomness: Randomness::Seeded(Secret::new(vec![seed; 32])),
            ..GroupConfig::default()
        }
    }

    /// A seeded KeyPackage for member `i`.
    pub fn key_package(p: &Provider, i: u32) -> (KeyPackage, KeyPackageSecrets) {
        let mut seed = [0x3c; 32];
        seed[..4].copy_from_slice(&i.to_be_bytes());
        key_package_from_seed(p, format!("m{i}").as_bytes(), &seed, default_lifetime(NOW))
            .expect("seeded key package")
    }

    fn build() -> Live {
        let provider = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
        let p = provider;
        let (signer, _) = p.signature_key_pair_from_seed(&[1; 32]).expect("seed");
        let mut creator = Group::create(p, b"fuzz-live", b"m0", signer, config(1)).expect("create");
        let kps: Vec<_> = (1..4).map(|i| key_package(&p, i)).collect();
        let out = creator
            .commit(
                &CommitOptions::new()
                    .adds(kps.iter().map(|(k, _)| k.clone()))
                    .ratchet_tree_in_welcome(),
            )
            .expect("add commit");
        let welcome = out.welcome.expect("welcome");
        let mut members = vec![creator];
        for (i, (k, s)) in kps.iter().enumerate() {
            members.push(Group::join(p, &welcome, k, s, config(2 + i as u8)).expect("join"));
        }
        // One path commit so parent nodes are populated.
        let out = members[1]
            .commit(&CommitOptions::new().with_path())
            .expect("path commit");
        for (i, m) in members.iter_mut().enumerate() {
            if i != 1 {
                m.process(&out.commit).expect("process");
            }
        }
        let joiner = key_package(&p, 10);
        let mut messages = Vec::new();
        let commit =
            |g: &Group, options: CommitOptions| g.clone().commit(&options).expect("commit");
        messages.push((
            "path",
            commit(&members[0], CommitOptions::new().with_path()).commit,
        ));
        let add = commit(
            &members[3],
            CommitOptions::new()
                .adds(vec![joiner.0.clone()])
                .ratchet_tree_in_welcome(),
        );
        messages.push(("add", add.commit));
        messages.push((
            "remove",
            commit(
                &members[1],
                CommitOptions::new().removes(vec![LeafIndex(3)]),
            )
            .commit,
        ));
        messages.push((
            "add_remove_path",
            commit(
                &members[0],
                CommitOptions::new()
                    .adds(vec![key_package(&p, 11).0])
                    .removes(vec![LeafIndex(1)])
                    .with_path(),
            )
            .commit,
        ));
        // Sent by the member itself: a copy of its state cannot send PrivateMessages.
        let app = members[1].protect_application(b"hello").expect("protect");
        messages.push(("application", app));
        Live {
            provider,
            members,
            messages,
            joiner,
            welcome: add.welcome.expect("welcome"),
        }
    }

    /// The live group (built once). The genuine messages are checked (the commits are
    /// processed by the receiver, the Welcome joins). When `CANOPY_FUZZ_SEEDS` names a
    /// directory, they are written there as seeds (`<dir>/process_live/live_*`,
    /// `<dir>/join_live/live_welcome`; `seed_corpus.py` does this).
    pub fn live() -> &'static Live {
        static L: OnceLock<Live> = OnceLock::new();
        L.get_or_init(|| {
            let l = build();
            for (name, m) in &l.messages {
                let r = l.members[RECEIVER].clone().process(m);
                assert_eq!(r.is_ok(), *name != "application", "{name}: {r:?}");
            }
            let (kp, s) = &l.joiner;
            Group::join(l.provider, &l.welcome, kp, s, config(9)).expect("join");
            if let Ok(dir) = std::env::var("CANOPY_FUZZ_SEEDS") {
                let dir = std::path::Path::new(&dir);
                let welcome = vec![("welcome", l.welcome.clone())];
                for (target, items) in [("process_live", &l.messages), ("join_live", &welcome)] {
                    std::fs::create_dir_all(dir.join(target)).expect("mkdir");
                    for (name, m) in items {
                        std::fs::write(dir.join(target).join(format!("live_{name}")), m)
                            .expect("write seed");
                    }
                }
            }
            l
        })
    }

    /// What must not change when an input is rejected.
    pub fn snapshot(g: &Group) -> Vec<Vec<u8>> {
        vec![
            g.epoch().to_be_bytes().to_vec(),
            g.epoch_authenticator().as_bytes().to_vec(),
            codec::encode(g.context()).expect("context encodes"),
            g.ratchet_tree_bytes().expect("tree encodes"),
            g.export_secret(b"fuzz", b"", 32)
                .expect("export")
                .as_bytes()
                .to_vec(),
            vec![u8::from(g.is_removed())],
        ]
    }
}

/// The live group of [`live`] re-based onto epoch secrets the harness knows, for the
/// `process_resigned` target: with the membership key and every member's signature key, a
/// mutated commit or proposal can be re-signed by its (real) sender and re-tagged, so it gets
/// past authentication to the validation behind it.
///
/// Every member is rebuilt with [`Group::from_parts`] (same tree, context and private keys,
/// a joiner secret of `0x42` bytes), so the harness can run the key schedule itself.
pub mod resigned {
    use std::sync::OnceLock;

    use canopy_engine::codec::{
        self, KeyPackage, MlsMessage, MlsMessageBody, PreSharedKeyId, PskSource, PublicMessage,
    };
    use canopy_engine::crypto::{Provider, Secret, SignaturePrivateKey};
    use canopy_engine::group::{CommitOptions, Group, ProcessOutcome};
    use canopy_engine::schedule::EpochSecrets;
    use canopy_engine::tree::LeafIndex;
    use canopy_engine::Protection;

    use super::live::{self, config};

    /// The sender of the genuine commit.
    pub const COMMITTER: usize = 0;
    /// The sender of the genuine standalone proposals.
    pub const PROPOSER: usize = 1;
    /// The member whose state the target attacks.
    pub const RECEIVER: usize = live::RECEIVER;
    /// The member the genuine commit removes.
    pub const VICTIM: usize = 3;
    /// An external PSK every member holds (so PreSharedKey proposals can succeed).
    pub const PSK_ID: &[u8] = b"fuzz-psk";
    /// Its value.
    pub const PSK_VALUE: [u8; 32] = [0x77; 32];

    /// The re-based group, its epoch's framing secrets and genuine messages.
    pub struct Resigned {
        /// Suite 1.
        pub provider: Provider,
        /// Member at leaf i, re-based.
        pub members: Vec<Group>,
        /// Every signature key the harness holds: the members' (index = leaf), then the
        /// KeyPackages' of `key_packages` (same order), then one that is nobody's.
        pub signers: Vec<SignaturePrivateKey>,
        /// Their public keys, same order.
        pub signer_pubs: Vec<Vec<u8>>,
        /// The epoch's secrets (the members' key schedule, run by the harness).
        pub secrets: EpochSecrets,
        /// The members' interim transcript hash (as `Group::from_parts` computes it).
        pub interim_transcript_hash: Vec<u8>,
        /// The genuine commit by COMMITTER: UpdatePath, Add of `key_packages[0]`, Remove of
        /// VICTIM, PreSharedKey of PSK_ID.
        pub commit: PublicMessage,
        /// Genuine standalone proposals by PROPOSER: Update, Add of `key_packages[1]`,
        /// Remove of VICTIM, PreSharedKey, GroupContextExtensions.
        pub proposals: Vec<(&'static str, PublicMessage)>,
        /// Valid KeyPackages of non-members (their signers are in `signers`).
        pub key_packages: Vec<KeyPackage>,
    }

    fn public(bytes: &[u8]) -> PublicMessage {
        match codec::decode::<MlsMessage>(bytes)
            .expect("genuine message")
            .body
        {
            MlsMessageBody::PublicMessage(pm) => pm,
            _ => panic!("not a PublicMessage"),
        }
    }

    fn psk(nonce: u8) -> PreSharedKeyId {
        PreSharedKeyId {
            source: PskSource::External {
                psk_id: PSK_ID.to_vec().into(),
            },
            psk_nonce: vec![nonce; 32].into(),
        }
    }

    fn build() -> Resigned {
        let l = live::live();
        let p = l.provider;
        let mut signers = vec![p.signature_key_pair_from_seed(&[1; 32]).expect("seed").0];
        for i in 1..l.members.len() as u32 {
            signers.push(live::key_package(&p, i).1.signer);
        }
        let kps: Vec<_> = (20..22).map(|i| live::key_package(&p, i)).collect();
        signers.extend(kps.iter().map(|(_, s)| s.signer.clone()));
        signers.push(p.signature_key_pair_from_seed(&[0x55; 32]).expect("seed").0);
        let signer_pubs: Vec<Vec<u8>> = signers.iter().map(|s| s.public_key()).collect();

        let joiner_secret = Secret::new(vec![0x42; p.hash_len()]);
        let context = l.members[0].context().clone();
        let members: Vec<Group> = l
            .members
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let leaf = g.tree().leaf(LeafIndex(i as u32)).expect("own leaf");
                assert_eq!(leaf.signature_key(), signer_pubs[i], "signer {i}");
                let mut g = Group::from_parts(
                    p,
                    context.clone(),
                    g.tree().clone(),
                    g.private().clone(),
                    signers[i].clone(),
                    joiner_secret.clone(),
                    config(40 + i as u8),
                )
                .expect("re-base");
                g.add_external_psk(PSK_ID, Secret::new(PSK_VALUE.to_vec()));
                g
            })
            .collect();
        let secrets = EpochSecrets::from_joiner(
            &p,
            joiner_secret,
            &vec![0; p.hash_len()],
            &codec::encode(&context).expect("context"),
        )
        .expect("key schedule");
        assert_eq!(
            secrets.epoch_authenticator.as_bytes(),
            members[RECEIVER].epoch_authenticator().as_bytes()
        );
        let interim_transcript_hash = canopy_engine::schedule::interim_transcript_hash(
            &p,
            context.confirmed_transcript_hash.as_slice(),
            &secrets.confirmation_tag(&p, context.confirmed_transcript_hash.as_slice()),
        )
        .expect("interim transcript hash");

        let commit = members[COMMITTER]
            .clone()
            .commit(
                &CommitOptions::new()
                    .adds(vec![kps[0].0.clone()])
                    .removes(vec![LeafIndex(VICTIM as u32)])
                    .psks(vec![psk(1)])
                    .with_path(),
            )
            .expect("genuine commit")
            .commit;
        let mut r = members[RECEIVER].clone();
        let out = r
            .process(&commit)
            .expect("receiver takes the genuine commit");
        assert!(matches!(out, ProcessOutcome::Committed { .. }), "{out:?}");
        let mut v = members[VICTIM].clone();
        assert_eq!(v.process(&commit).expect("victim"), ProcessOutcome::Removed);

        let proposer = || members[PROPOSER].clone();
        let proposals = vec![
            ("update", proposer().propose_update(Protection::Public)),
            (
                "add",
                proposer().propose_add(kps[1].0.clone(), Protection::Public),
            ),
            (
                "remove",
                proposer().propose_remove(LeafIndex(VICTIM as u32), Protection::Public),
            ),
            ("psk", proposer().propose_psk(psk(2), Protection::Public)),
            (
                "gce",
                proposer().propose_group_context_extensions(Vec::new(), Protection::Public),
            ),
        ];
        let proposals = proposals
            .into_iter()
            .map(|(name, m)| {
                let m = m.unwrap_or_else(|e| panic!("{name}: {e:?}"));
                let out = members[RECEIVER].clone().process(&m);
                assert!(
                    matches!(out, Ok(ProcessOutcome::Proposal { .. })),
                    "{name}: {out:?}"
                );
                (name, public(&m))
            })
            .collect();
        Resigned {
            provider: p,
            members,
            signers,
            signer_pubs,
            secrets,
            interim_transcript_hash,
            commit: public(&commit),
            proposals,
            key_packages: kps.into_iter().map(|(k, _)| k).collect(),
        }
    }

    /// The fixture (built once).
    pub fn resigned() -> &'static Resigned {
        static R: OnceLock<Resigned> = OnceLock::new();
        R.get_or_init(build)
    }
}
