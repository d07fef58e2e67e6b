//! A delivery service's observer of the public state ([`PublicGroup`]) through the wire: it
//! follows a live group through random epochs (adds, removes, self-updates, Update proposals
//! committed by reference, external joins, external senders' proposals) and agrees with
//! every member after each; it refuses hostile commits and proposals with the error the
//! members give, unchanged; and one built from a GroupInfo equals one copied from a member.

use canopy_engine::codec::{
    self, Credential, ExternalSender, FramedContent, FramedContentAuthData, FramedContentBody,
    LeafNodeSourceData, MlsMessage, MlsMessageBody, Proposal, ProposalOrRef, ProtocolVersion,
    PublicMessage, Remove, Sender, SignaturePublicKey, WireFormat,
};
use canopy_engine::crypto::{Provider, Secret, SignaturePrivateKey};
use canopy_engine::framing::sign_content;
use canopy_engine::group::external_senders::{external_proposal, external_senders_extension};
use canopy_engine::group::{CommitOptions, Group, GroupConfig, ProcessOutcome};
use canopy_engine::schedule::EpochSecrets;
use canopy_engine::tree::LeafIndex;
use canopy_engine::{
    ApiMisuse, CryptoError, Error, ExternalJoinOptions, PeerMisbehaved, Protection, PublicGroup,
    TreeDelivery, TreeError,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

mod common;
use common::{commit_mut, config, key_package, provider};

/// The seed byte of this file's KeyPackages and signers.
const ROUND: u8 = 0x0b;

fn ds_signer(p: &Provider) -> SignaturePrivateKey {
    p.signature_key_pair_from_seed(&[0xd5; 32]).unwrap().0
}

/// The `external_senders` extension naming the delivery service as sender 0.
fn ds_extension(p: &Provider) -> codec::Extension {
    let ds = ExternalSender {
        signature_key: SignaturePublicKey(ds_signer(p).public_key().to_vec().into()),
        credential: Credential::Basic {
            identity: b"delivery-service".to_vec().into(),
        },
    };
    external_senders_extension(&[ds]).unwrap()
}

/// The observer's view of the epoch equals `member`'s: GroupContext (epoch, tree hash,
/// confirmed transcript hash), encoded tree, member count, and the whole public state
/// (interim transcript hash, confirmation tag, proposal cache) by digest.
fn assert_agrees(ds: &PublicGroup, member: &Group, what: &str) {
    assert_eq!(ds.context(), member.context(), "{what}: GroupContext");
    assert_eq!(ds.epoch(), member.epoch(), "{what}: epoch");
    assert_eq!(
        ds.tree_hash(),
        member.context().tree_hash.as_slice(),
        "{what}: tree hash"
    );
    assert_eq!(
        ds.ratchet_tree_bytes().unwrap(),
        member.ratchet_tree_bytes().unwrap(),
        "{what}: encoded tree"
    );
    assert_eq!(ds.member_count(), member.member_count(), "{what}: members");
    assert_eq!(
        ds.state_digest().unwrap(),
        member.public_group().state_digest().unwrap(),
        "{what}: public state"
    );
}

/// The live group of the random walk: its members, the observer, the next identity.
struct Walk {
    p: Provider,
    members: Vec<Group>,
    ds: PublicGroup,
    next_id: u32,
    rng: ChaCha20Rng,
    /// How many epochs of each kind ran: add, remove, update, proposals, external join,
    /// external sender.
    kinds: [u32; 6],
    /// External joins that were a member rejoining.
    rejoins: u32,
}

impl Walk {
    fn pick(&mut self) -> usize {
        self.rng.random_range(0..self.members.len())
    }

    /// Deliver a proposal or commit to every member but `sender` and to the observer; a
    /// member the commit removes leaves the walk. Returns the observer's outcome.
    fn deliver(&mut self, sender: Option<usize>, bytes: &[u8]) -> ProcessOutcome {
        let mut i = 0;
        let mut index = 0;
        while i < self.members.len() {
            if Some(index) == sender {
                i += 1;
                index += 1;
                continue;
            }
            match self.members[i].process(bytes).unwrap() {
                ProcessOutcome::Removed => {
                    self.members.remove(i);
                }
                _ => i += 1,
            }
            index += 1;
        }
        self.ds.process(bytes).unwrap()
    }

    fn key_package(&mut self) -> (codec::KeyPackage, canopy_engine::KeyPackageSecrets) {
        self.next_id += 1;
        key_package(&self.p, self.next_id, ROUND)
    }

    /// One random epoch.
    fn step(&mut self) {
        let kind = self.rng.random_range(0..6usize);
        // Keep the group between 3 and 12 members.
        let kind = match (kind, self.members.len()) {
            (1, n) if n <= 3 => 0,
            (0 | 4, n) if n >= 12 => 1,
            (k, _) => k,
        };
        self.kinds[kind] += 1;
        let committer = self.pick();
        match kind {
            0 => {
                let (kp, secrets) = self.key_package();
                let out = self.members[committer]
                    .commit(
                        &CommitOptions::new()
                            .add_member(kp.clone())
                            .ratchet_tree_in_welcome(),
                    )
                    .unwrap();
                let outcome = self.deliver(Some(committer), &out.commit);
                assert!(matches!(outcome, ProcessOutcome::Committed { .. }));
                let seed = self.next_id as u8;
                let joined = Group::join(
                    self.p,
                    out.welcome.as_ref().unwrap(),
                    &kp,
                    &secrets,
                    config(seed),
                )
                .unwrap();
                self.members.push(joined);
            }
            1 => {
                let mut victim = self.pick();
                if victim == committer {
                    victim = (victim + 1) % self.members.len();
                }
                let leaf = self.members[victim].own_leaf();
                let out = self.members[committer]
                    .commit(&CommitOptions::new().remove_member(leaf))
                    .unwrap();
                self.deliver(Some(committer), &out.commit);
            }
            2 => {
                let out = self.members[committer]
                    .commit(&CommitOptions::new().with_path())
                    .unwrap();
                self.deliver(Some(committer), &out.commit);
            }
            3 => {
                // One or two members propose Updates; another commits them by reference.
                let n = self.rng.random_range(1..=2usize);
                let mut proposers = Vec::new();
                for _ in 0..n {
                    let p = self.pick();
                    if p != committer && !proposers.contains(&p) {
                        proposers.push(p);
                    }
                }
                for &p in &proposers {
                    let bytes = self.members[p].propose_update(Protection::Public).unwrap();
                    let outcome = self.deliver(Some(p), &bytes);
                    assert!(matches!(outcome, ProcessOutcome::Proposal { .. }));
                }
                assert_eq!(self.ds.pending_proposals().count(), proposers.len());
                let out = self.members[committer]
                    .commit(&CommitOptions::new())
                    .unwrap();
                self.deliver(Some(committer), &out.commit);
            }
            4 => {
                // A new member joins by external commit from a member's GroupInfo; sometimes
                // a member rejoins, removing its old leaf.
                let info = self.members[committer]
                    .group_info(TreeDelivery::Included)
                    .unwrap();
                self.next_id += 1;
                let mut seed = [ROUND; 32];
                seed[..4].copy_from_slice(&self.next_id.to_be_bytes());
                let signer = self.p.signature_key_pair_from_seed(&seed).unwrap().0;
                let rejoin =
                    (self.rng.random_range(0..3u32) == 0 && self.members.len() > 3).then(|| {
                        let r = self.pick();
                        (r, self.members[r].own_leaf())
                    });
                // A member rejoining keeps its identity (the credential policy refuses a
                // resync that changes it).
                let identity = match rejoin {
                    Some((r, leaf)) => match &self.members[r]
                        .tree()
                        .leaf(leaf)
                        .unwrap()
                        .decode()
                        .credential
                    {
                        Credential::Basic { identity } => identity.as_slice().to_vec(),
                        other => panic!("a basic credential, not {other:?}"),
                    },
                    None => format!("external-{}", self.next_id).into_bytes(),
                };
                let mut options =
                    ExternalJoinOptions::new(identity, signer).config(config(seed[3]));
                if let Some((_, leaf)) = rejoin {
                    options = options.resync(leaf);
                }
                let (joined, commit) = Group::join_external(self.p, &info, options).unwrap();
                if let Some((r, _)) = rejoin {
                    // The old state is gone: it rejoined.
                    self.members.remove(r);
                    self.rejoins += 1;
                }
                let outcome = self.deliver(None, &commit);
                assert!(matches!(outcome, ProcessOutcome::Committed { .. }));
                self.members.push(joined);
            }
            _ => {
                // The delivery service itself, as external sender 0, proposes removing a
                // member or adding a new one; a member commits it by reference.
                let ds = ds_signer(&self.p);
                let gid = self.ds.context().group_id.as_slice().to_vec();
                let epoch = self.ds.epoch();
                let (proposal, joiner) = if self.members.len() > 3 && self.rng.random_bool(0.5) {
                    let mut victim = self.pick();
                    if victim == committer {
                        victim = (victim + 1) % self.members.len();
                    }
                    let removed = self.members[victim].own_leaf().0;
                    (Proposal::Remove(Remove { removed }), None)
                } else {
                    let (kp, secrets) = self.key_package();
                    (
                        Proposal::Add(codec::Add {
                            key_package: kp.clone(),
                        }),
                        Some((kp, secrets)),
                    )
                };
                let bytes = external_proposal(&self.p, &ds, 0, &gid, epoch, proposal).unwrap();
                let outcome = self.deliver(None, &bytes);
                assert!(matches!(outcome, ProcessOutcome::Proposal { .. }));
                let out = self.members[committer]
                    .commit(&CommitOptions::new().ratchet_tree_in_welcome())
                    .unwrap();
                self.deliver(Some(committer), &out.commit);
                if let Some((kp, secrets)) = joiner {
                    let joined = Group::join(
                        self.p,
                        out.welcome.as_ref().unwrap(),
                        &kp,
                        &secrets,
                        config(self.next_id as u8),
                    )
                    .unwrap();
                    self.members.push(joined);
                }
            }
        }
    }
}

#[test]
fn observer_follows_sixty_random_epochs() {
    let p = provider();
    let (members, _) = common::group(p, b"observed", 5, ROUND, Some(vec![ds_extension(&p)]));
    let info = members[0].group_info(TreeDelivery::Included).unwrap();
    let ds = PublicGroup::from_group_info(p, &info, None, config(0xd5)).unwrap();
    let mut walk = Walk {
        p,
        members,
        ds,
        next_id: 100,
        rng: ChaCha20Rng::seed_from_u64(0x0b5e),
        kinds: [0; 6],
        rejoins: 0,
    };
    let start = walk.ds.epoch();
    for step in 0..64 {
        walk.step();
        let epoch = walk.ds.epoch();
        assert_eq!(epoch, start + step + 1, "one epoch per step");
        for (i, m) in walk.members.iter().enumerate() {
            assert_agrees(&walk.ds, m, &format!("epoch {epoch}, member {i}"));
        }
    }
    // Every kind of epoch happened.
    assert!(walk.kinds.iter().all(|&k| k > 0), "{:?}", walk.kinds);
    assert!(walk.rejoins > 0);
}

// -------------------------------------------------------------------------------------------
// Hostile input: the observer refuses what the members refuse, with the same error.

const COMMITTER: usize = 1;
const RECEIVER: usize = 2;
/// The leaf the genuine commit removes.
const VICTIM: u32 = 3;

/// A 4-member group re-based onto a known key schedule (to re-tag forged messages), the
/// observer copied from the receiver, and a genuine commit (path, Remove of VICTIM) from the
/// committer.
struct Hostile {
    p: Provider,
    members: Vec<Group>,
    signers: Vec<SignaturePrivateKey>,
    secrets: EpochSecrets,
    ds: PublicGroup,
    commit: Vec<u8>,
}

fn hostile() -> Hostile {
    let p = provider();
    let (members, signers) = common::group(p, b"hostile-ds", 4, ROUND, None);
    let (members, secrets) = common::rebase(
        p,
        &members,
        &signers,
        Secret::new(vec![0x42; p.hash_len()]),
        |i| config(40 + i as u8),
    );
    let ds = members[RECEIVER].public_group().clone();
    let out = members[COMMITTER]
        .clone()
        .commit(
            &CommitOptions::new()
                .remove_member(LeafIndex(VICTIM))
                .with_path(),
        )
        .unwrap();
    Hostile {
        p,
        members,
        signers,
        secrets,
        ds,
        commit: out.commit,
    }
}

fn decode_public(bytes: &[u8]) -> PublicMessage {
    match codec::decode::<MlsMessage>(bytes).unwrap().body {
        MlsMessageBody::PublicMessage(pm) => pm,
        _ => panic!("not a PublicMessage"),
    }
}

impl Hostile {
    /// Frame `content` as a member's PublicMessage: signed by `signer` over the epoch's
    /// context, with the membership tag of the epoch's key (what a member checks first).
    fn frame(
        &self,
        content: FramedContent,
        signer: &SignaturePrivateKey,
        confirmation_tag: Option<codec::Mac>,
    ) -> Vec<u8> {
        let context = self.members[RECEIVER].context().clone();
        let signature = sign_content(
            &self.p,
            signer,
            WireFormat::PublicMessage,
            &content,
            &context,
        )
        .unwrap();
        self.tag(codec::AuthenticatedContent {
            wire_format: WireFormat::PublicMessage,
            content,
            auth: FramedContentAuthData {
                signature,
                confirmation_tag,
            },
        })
    }

    /// Add the membership tag of the epoch's key, keeping the signature.
    fn tag(&self, auth: codec::AuthenticatedContent) -> Vec<u8> {
        let member = &self.members[RECEIVER];
        let n_leaves = member.tree().n_leaves();
        common::membership_tagged(self.p, member.context(), &self.secrets, n_leaves, auth)
    }

    /// The genuine commit edited by `edit`, re-signed by the committer and re-tagged.
    fn forged(&self, edit: impl FnOnce(&mut PublicMessage, &Self)) -> Vec<u8> {
        let mut pm = decode_public(&self.commit);
        edit(&mut pm, self);
        self.frame(
            pm.content,
            &self.signers[COMMITTER],
            pm.auth.confirmation_tag,
        )
    }

    /// Re-sign the commit's path leaf with the committer's key.
    fn resign_path_leaf(&self, pm: &mut PublicMessage) {
        let gid = self.members[RECEIVER]
            .context()
            .group_id
            .as_slice()
            .to_vec();
        let signer = &self.signers[COMMITTER];
        common::resign_path_leaf(&self.p, pm, &gid, COMMITTER as u32, signer);
    }

    /// `input` is refused by the receiver and by the observer with the same error, which
    /// `expect` accepts, and neither changes.
    fn refused(&mut self, class: &str, input: &[u8], expect: impl Fn(&Error) -> bool) {
        let member_before = self.members[RECEIVER].state_digest().unwrap();
        let ds_before = self.ds.state_digest().unwrap();
        let member = self.members[RECEIVER].process(input).unwrap_err();
        let ds = self.ds.process(input).unwrap_err();
        assert!(expect(&member), "{class}: the member's error {member:?}");
        assert_eq!(
            format!("{ds:?}"),
            format!("{member:?}"),
            "{class}: the observer's error differs from the member's"
        );
        assert_eq!(
            self.members[RECEIVER].state_digest().unwrap(),
            member_before
        );
        assert_eq!(
            self.ds.state_digest().unwrap(),
            ds_before,
            "{class}: the observer's state changed"
        );
    }
}

fn peer(e: &Error, f: impl Fn(&PeerMisbehaved) -> bool) -> bool {
    matches!(e, Error::PeerMisbehaved(p) if f(p))
}

#[test]
fn hostile_commits_are_refused_with_the_members_error() {
    let mut h = hostile();

    // A wrong signature on the commit.
    let mut pm = decode_public(&h.commit);
    let mut signature = pm.auth.signature.as_slice().to_vec();
    signature[7] ^= 1;
    pm.auth.signature = signature.into();
    let bad_signature = h.tag(codec::AuthenticatedContent {
        wire_format: WireFormat::PublicMessage,
        content: pm.content,
        auth: pm.auth,
    });
    h.refused("wrong signature", &bad_signature, |e| {
        matches!(e, Error::Crypto(CryptoError::InvalidSignature))
    });

    // A path leaf whose parent hash is not the path's (re-signed, so only the hash is wrong).
    let bad_parent_hash = h.forged(|pm, h| {
        let leaf = &mut commit_mut(pm).path.as_mut().unwrap().leaf_node;
        let LeafNodeSourceData::Commit { parent_hash } = &mut leaf.leaf_node_source else {
            panic!("a path leaf's source is commit");
        };
        let mut bytes = parent_hash.as_slice().to_vec();
        bytes[0] ^= 1;
        *parent_hash = bytes.into();
        h.resign_path_leaf(pm);
    });
    h.refused("bad parent hash", &bad_parent_hash, |e| {
        peer(e, |p| matches!(p, PeerMisbehaved::ParentHashMismatch))
    });

    // A path leaf with a broken signature.
    let bad_leaf_signature = h.forged(|pm, _| {
        let leaf = &mut commit_mut(pm).path.as_mut().unwrap().leaf_node;
        let mut signature = leaf.signature.as_slice().to_vec();
        signature[3] ^= 1;
        leaf.signature = signature.into();
    });
    h.refused("bad leaf signature", &bad_leaf_signature, |e| {
        peer(e, |p| matches!(p, PeerMisbehaved::PathLeafSignature))
    });

    // A path leaf bringing another member's encryption key (re-signed): the key-uniqueness
    // check on the merged tree (§7.3).
    let taken = h.members[RECEIVER]
        .tree()
        .leaf(LeafIndex(0))
        .unwrap()
        .decode()
        .encryption_key;
    let duplicate_key = h.forged(|pm, h| {
        commit_mut(pm)
            .path
            .as_mut()
            .unwrap()
            .leaf_node
            .encryption_key = taken;
        h.resign_path_leaf(pm);
    });
    h.refused("a duplicate key in the path", &duplicate_key, |e| {
        peer(e, |p| {
            matches!(
                p,
                PeerMisbehaved::DuplicateKey {
                    what: "encryption key",
                    ..
                }
            )
        })
    });

    // A sender that is not a member (a leaf past the tree).
    let non_member = h.forged(|pm, _| {
        pm.content.sender = Sender::Member { leaf_index: 77 };
    });
    h.refused("non-member sender", &non_member, |e| {
        peer(e, |p| matches!(p, PeerMisbehaved::UnknownSender(_)))
    });

    // Proposal lists a member refuses: the committer removing itself, one leaf removed
    // twice.
    let removes_self = h.forged(|pm, _| {
        commit_mut(pm)
            .proposals
            .push(ProposalOrRef::Proposal(Proposal::Remove(Remove {
                removed: COMMITTER as u32,
            })));
    });
    h.refused("committer removes itself", &removes_self, |e| {
        peer(e, |p| matches!(p, PeerMisbehaved::CommitterRemovesSelf))
    });
    let removed_twice = h.forged(|pm, _| {
        commit_mut(pm)
            .proposals
            .push(ProposalOrRef::Proposal(Proposal::Remove(Remove {
                removed: VICTIM,
            })));
    });
    h.refused("a leaf removed twice", &removed_twice, |e| {
        peer(
            e,
            |p| matches!(p, PeerMisbehaved::ConflictingProposals(l) if *l == VICTIM),
        )
    });

    // A standalone proposal a member refuses: the Remove of a leaf that is not a member.
    let context = h.members[RECEIVER].context().clone();
    let remove_stranger = h.frame(
        FramedContent {
            group_id: context.group_id.clone(),
            epoch: context.epoch,
            sender: Sender::Member {
                leaf_index: COMMITTER as u32,
            },
            authenticated_data: Vec::new().into(),
            content: FramedContentBody::Proposal(Proposal::Remove(Remove { removed: 55 })),
        },
        &h.signers[COMMITTER].clone(),
        None,
    );
    h.refused("Remove of a non-member", &remove_stranger, |e| {
        peer(e, |p| matches!(p, PeerMisbehaved::RemoveNonMember(55)))
    });

    // The genuine commit still goes through both, and they agree.
    h.members[RECEIVER].process(&h.commit).unwrap();
    h.ds.process(&h.commit).unwrap();
    assert_agrees(&h.ds, &h.members[RECEIVER], "after the genuine commit");
}

#[test]
fn what_needs_the_epoch_secrets_is_left_to_the_members() {
    let mut h = hostile();
    // A wrong membership tag: only a member holds the membership key (RFC 9420 §6.2).
    let mut pm = decode_public(&h.commit);
    let mut tag = pm.membership_tag.clone().unwrap().as_slice().to_vec();
    tag[0] ^= 1;
    pm.membership_tag = Some(codec::Mac(tag.into()));
    let bad_membership = codec::encode(&MlsMessage {
        version: ProtocolVersion::MLS10,
        body: MlsMessageBody::PublicMessage(pm),
    })
    .unwrap();
    let e = h.members[RECEIVER].process(&bad_membership).unwrap_err();
    assert!(
        peer(&e, |p| matches!(p, PeerMisbehaved::InvalidMembershipTag)),
        "{e:?}"
    );
    // A PrivateMessage cannot be read without the epoch's keys.
    let private = h.members[COMMITTER]
        .commit(
            &CommitOptions::new()
                .with_path()
                .protection(Protection::Private),
        )
        .unwrap();
    let before = h.ds.state_digest().unwrap();
    let e = h.ds.process(&private.commit).unwrap_err();
    assert!(
        matches!(e, Error::ApiMisuse(ApiMisuse::UnexpectedMessage(_))),
        "{e:?}"
    );
    assert_eq!(h.ds.state_digest().unwrap(), before);

    // The observer takes the commit with the forged membership tag: the members refuse it.
    let ds_view = h.ds.process(&bad_membership).unwrap();
    assert!(matches!(ds_view, ProcessOutcome::Committed { .. }));
    // A wrong confirmation tag, likewise (it needs the new epoch's confirmation key, §8.2).
    let mut h = hostile();
    let bad_confirmation = h.forged(|pm, _| {
        let mut tag: Vec<u8> = pm.auth.confirmation_tag.take().unwrap().0.into();
        tag[0] ^= 1;
        pm.auth.confirmation_tag = Some(codec::Mac(tag.into()));
    });
    let e = h.members[RECEIVER].process(&bad_confirmation).unwrap_err();
    assert!(
        peer(&e, |p| matches!(p, PeerMisbehaved::InvalidConfirmationTag)),
        "{e:?}"
    );
    assert!(h.ds.process(&bad_confirmation).is_ok());
}

// -------------------------------------------------------------------------------------------
// Construction.

#[test]
fn an_observer_from_a_group_info_equals_one_from_a_group() {
    let p = provider();
    let (mut members, _) = common::group(p, b"constructed", 4, ROUND, None);
    // A few epochs first, so the transcript is not the creation's.
    let out = members[2]
        .commit(&CommitOptions::new().with_path())
        .unwrap();
    for i in [0, 1, 3] {
        members[i].process(&out.commit).unwrap();
    }
    let out = members[0]
        .commit(&CommitOptions::new().remove_member(LeafIndex(3)))
        .unwrap();
    for i in [1, 2] {
        members[i].process(&out.commit).unwrap();
    }
    members.truncate(3);

    let copied = members[1].public_group().clone();
    let with_tree = PublicGroup::from_group_info(
        p,
        &members[0].group_info(TreeDelivery::Included).unwrap(),
        None,
        GroupConfig::default(),
    )
    .unwrap();
    let tree = members[0].ratchet_tree_bytes().unwrap();
    let out_of_band = PublicGroup::from_group_info(
        p,
        &members[2].group_info(TreeDelivery::OutOfBand).unwrap(),
        Some(&tree),
        GroupConfig::default(),
    )
    .unwrap();
    for ds in [&with_tree, &out_of_band] {
        assert_eq!(ds.state_digest().unwrap(), copied.state_digest().unwrap());
        assert_eq!(ds.context(), copied.context());
        assert_eq!(ds.confirmation_tag(), copied.confirmation_tag());
        assert_eq!(ds.ratchet_tree_size().unwrap(), tree.len());
        assert_eq!(
            ds.group_info(TreeDelivery::Included).unwrap(),
            copied.group_info(TreeDelivery::Included).unwrap()
        );
    }
    // The GroupInfo an observer knows is the member's without its signature and
    // `external_pub`.
    let MlsMessageBody::GroupInfo(signed) =
        codec::decode::<MlsMessage>(&members[0].group_info(TreeDelivery::OutOfBand).unwrap())
            .unwrap()
            .body
    else {
        panic!("not a GroupInfo");
    };
    let known = with_tree.group_info(TreeDelivery::OutOfBand).unwrap();
    assert_eq!(&known.group_context, members[0].context());
    assert_eq!(known.confirmation_tag, signed.confirmation_tag.as_slice());
    assert!(known.extensions.is_empty());

    // Both follow the next commit alike.
    let out = members[0]
        .commit(&CommitOptions::new().with_path())
        .unwrap();
    let mut copied = copied;
    let mut with_tree = with_tree;
    copied.process(&out.commit).unwrap();
    with_tree.process(&out.commit).unwrap();
    assert_eq!(
        copied.state_digest().unwrap(),
        with_tree.state_digest().unwrap()
    );
    assert_agrees(&with_tree, &members[0], "after a commit");
}

#[test]
fn a_group_info_is_checked_as_an_external_joiner_checks_it() {
    let p = provider();
    let (mut members, _) = common::group(p, b"checked", 3, ROUND, None);
    let old_tree = members[0].ratchet_tree_bytes().unwrap();
    let out = members[1]
        .commit(&CommitOptions::new().with_path())
        .unwrap();
    members[0].process(&out.commit).unwrap();
    let info = members[0].group_info(TreeDelivery::Included).unwrap();
    let mut message = codec::decode::<MlsMessage>(&info).unwrap();
    let MlsMessageBody::GroupInfo(gi) = &mut message.body else {
        panic!("not a GroupInfo");
    };
    let mut signature = gi.signature.as_slice().to_vec();
    signature[5] ^= 1;
    gi.signature = signature.into();
    let forged = codec::encode(&message).unwrap();
    let ds = PublicGroup::from_group_info(p, &forged, None, GroupConfig::default()).unwrap_err();
    let signer = p.signature_key_pair_from_seed(&[9; 32]).unwrap().0;
    let joiner = Group::join_external(p, &forged, ExternalJoinOptions::new(b"x".to_vec(), signer))
        .unwrap_err();
    assert!(
        matches!(ds, Error::Crypto(CryptoError::InvalidSignature)),
        "{ds:?}"
    );
    assert_eq!(format!("{ds:?}"), format!("{joiner:?}"));

    // Without the tree anywhere.
    let bare = members[0].group_info(TreeDelivery::OutOfBand).unwrap();
    let e = PublicGroup::from_group_info(p, &bare, None, GroupConfig::default()).unwrap_err();
    assert!(
        matches!(e, Error::ApiMisuse(ApiMisuse::MissingRatchetTree)),
        "{e:?}"
    );
    // A valid tree, but the previous epoch's.
    let e = PublicGroup::from_group_info(p, &bare, Some(&old_tree), GroupConfig::default())
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidTree(TreeError::TreeHashMismatch)),
        "{e:?}"
    );
}
