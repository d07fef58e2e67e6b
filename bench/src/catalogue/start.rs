//! The start state of every operation but `build`: the generated group, its creator and last
//! member, and the guests (the joiner, then the peers) that joined it.
//!
//! After [`Start::new`], [`Start::add_joiner`] and any [`Start::join_peer`] calls, every system
//! is a member of the same group in the same epoch; each measured operation starts from a copy
//! (`Group::clone`, [`PeerMember::fork`]) of that state.

use anyhow::{anyhow, bail, ensure, Result};
use canopy_engine::codec::{self, KeyPackage, MlsMessage, MlsMessageBody, ProtocolVersion};
use canopy_engine::crypto::{CipherSuite, Provider};
use canopy_engine::group::{CommitOptions, Group, GroupConfig};
use canopy_engine::key_package::{default_lifetime, key_package_from_seed, KeyPackageSecrets};
use canopy_engine::tree::LeafIndex;
use canopy_workloads::states::{generate, GeneratedState, StateConfig, StateKind};

use super::{Role, JOINER_KP};
use crate::peers::{new_member_in, PeerKind, PeerMember};

/// The generated group, the Canopy members that act in it and any joined peers.
pub struct Start {
    /// The suite's provider (the group's cipher suite: [`Start::suite`]).
    pub provider: Provider,
    /// The generated state everything starts from.
    pub state: GeneratedState,
    /// The member at the first leaf ([`Role::Creator`]).
    pub creator: Group,
    /// The member at the last leaf of the generated state ([`Role::Last`]).
    pub last: Group,
    /// The joiner ([`Role::Joiner`]), once [`Start::add_joiner`] has run.
    pub joiner: Option<Group>,
    /// Peers that joined, with the member each holds.
    pub peers: Vec<(PeerKind, Box<dyn PeerMember>)>,
    /// Group configuration of every Canopy member built here (and of joiners).
    pub config: GroupConfig,
    /// The time KeyPackages made here are valid around (seconds since the Unix epoch).
    pub now: u64,
}

impl std::fmt::Debug for Start {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Start")
            .field("members", &self.creator.member_count())
            .field("epoch", &self.creator.epoch())
            .field("joiner", &self.joiner.as_ref().map(Group::own_leaf))
            .field(
                "peers",
                &self.peers.iter().map(|(k, _)| k.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// A peer member added to the group (the commit processed by everyone in) that has not yet
/// joined from its Welcome: [`Start::invite_peer`], then [`PeerMember::join`], then
/// [`Start::seat_peer`].
pub struct Invitation {
    /// The peer.
    pub kind: PeerKind,
    /// Its member, not yet in the group.
    pub member: Box<dyn PeerMember>,
    /// The Welcome (with the tree) to join from.
    pub welcome: Vec<u8>,
}

impl std::fmt::Debug for Invitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invitation")
            .field("kind", &self.kind)
            .field("welcome_bytes", &self.welcome.len())
            .finish_non_exhaustive()
    }
}

impl Start {
    /// Generate a `shape` state of `members` members from `seed` in cipher suite 1, centred on
    /// `now`, and build the creator and the last member with `config`.
    pub fn new(
        shape: StateKind,
        members: u32,
        seed: u64,
        now: u64,
        config: GroupConfig,
    ) -> Result<Self> {
        Self::new_in(
            CipherSuite::Mls128X25519Aes128GcmSha256Ed25519,
            shape,
            members,
            seed,
            now,
            config,
        )
    }

    /// [`Start::new`] in `suite`: the generated group, and every member and KeyPackage made
    /// here later (the joiner's, the peers', those of the operations), are of that suite.
    pub fn new_in(
        suite: CipherSuite,
        shape: StateKind,
        members: u32,
        seed: u64,
        now: u64,
        config: GroupConfig,
    ) -> Result<Self> {
        let mut state_cfg = StateConfig::new(shape, members.max(2), seed);
        state_cfg.suite = suite;
        state_cfg.now = now;
        let state = generate(&state_cfg)?;
        let leaves: Vec<LeafIndex> = state.members().collect();
        let first = *leaves.first().ok_or_else(|| anyhow!("empty state"))?;
        let last = *leaves.last().unwrap_or(&first);
        let creator = state.member_group(first, config.clone())?;
        let last = state.member_group(last, config.clone())?;
        Ok(Start {
            provider: state.provider,
            state,
            creator,
            last,
            joiner: None,
            peers: Vec::new(),
            config,
            now,
        })
    }

    /// The group's cipher suite.
    pub fn suite(&self) -> CipherSuite {
        self.provider.suite()
    }

    /// The Canopy member acting as `role`.
    pub fn member(&self, role: Role) -> Result<&Group> {
        match role {
            Role::Creator => Ok(&self.creator),
            Role::Last => Ok(&self.last),
            Role::Joiner => self
                .joiner
                .as_ref()
                .ok_or_else(|| anyhow!("the joiner has not joined (Start::add_joiner)")),
            Role::NewMember | Role::NewGroupCreator => {
                bail!("the {} is not a member of the start state", role.name())
            }
        }
    }

    /// The member removed by `remove1` and `remove1-creator`: the second member.
    pub fn victim(&self) -> LeafIndex {
        self.state.members().nth(1).unwrap_or(LeafIndex(0))
    }

    /// A Welcome (with the tree) that adds `kp` to a copy of the group, made by the creator;
    /// the group itself is not advanced.
    pub fn welcome_for(&self, kp: KeyPackage) -> Result<Vec<u8>> {
        let out = self.creator.clone().commit(
            &CommitOptions::new()
                .adds(vec![kp])
                .ratchet_tree_in_welcome(),
        )?;
        out.welcome
            .ok_or_else(|| anyhow!("commit adding a member made no Welcome"))
    }

    /// The creator adds `kp` (one Add, tree in the Welcome, no path) and every member already
    /// in processes the commit; returns the Welcome.
    fn admit(&mut self, kp: KeyPackage) -> Result<Vec<u8>> {
        let out = self.creator.commit(
            &CommitOptions::new()
                .adds(vec![kp])
                .ratchet_tree_in_welcome(),
        )?;
        self.last.process(&out.commit)?;
        if let Some(j) = self.joiner.as_mut() {
            j.process(&out.commit)?;
        }
        for (_, p) in self.peers.iter_mut() {
            p.process(&out.commit)?;
        }
        out.welcome.ok_or_else(|| anyhow!("no Welcome"))
    }

    /// The joiner joins: the first guest, before any peer.
    pub fn add_joiner(&mut self) -> Result<()> {
        ensure!(self.joiner.is_none(), "the joiner has joined already");
        ensure!(
            self.peers.is_empty(),
            "the joiner joins before the peers, so that it sits next to them"
        );
        let (kp, secrets) = numbered_kp(&self.provider, JOINER_KP, self.now)?;
        let welcome = self.admit(kp.clone())?;
        let joiner = Group::join(self.provider, &welcome, &kp, &secrets, self.config.clone())?;
        self.joiner = Some(joiner);
        Ok(())
    }

    /// Add a `kind` peer member of the group's suite: the creator's commit adds its KeyPackage
    /// and everyone in processes it. The peer joins from the returned Welcome (however long
    /// the caller lets it take), then [`Start::seat_peer`].
    pub fn invite_peer(&mut self, kind: PeerKind) -> Result<Invitation> {
        let mut member = new_member_in(kind, self.suite().id(), format!("peer-{kind}").as_bytes())?;
        let kp = key_package_of(&member.key_package()?)?;
        let welcome = self.admit(kp)?;
        Ok(Invitation {
            kind,
            member,
            welcome,
        })
    }

    /// Seat a peer member that joined from its invitation's Welcome: it must agree on the
    /// epoch authenticator.
    pub fn seat_peer(&mut self, kind: PeerKind, member: Box<dyn PeerMember>) -> Result<()> {
        if member.epoch_authenticator() != self.creator.epoch_authenticator().as_bytes() {
            bail!("{kind} joined but disagrees on the epoch authenticator");
        }
        self.peers.push((kind, member));
        Ok(())
    }

    /// Invite a `kind` peer, join it and seat it.
    pub fn join_peer(&mut self, kind: PeerKind) -> Result<()> {
        let mut invitation = self.invite_peer(kind)?;
        invitation.member.join(&invitation.welcome, None)?;
        self.seat_peer(kind, invitation.member)
    }

    /// A copy of the joined `kind` peer member.
    pub fn peer(&self, kind: PeerKind) -> Result<Box<dyn PeerMember>> {
        self.peers
            .iter()
            .find(|(k, _)| *k == kind)
            .ok_or_else(|| anyhow!("{kind} is not in the group"))?
            .1
            .fork()
    }
}

/// KeyPackage number `n` (identity `joiner-n`, keys derived from `n`), valid around `now`.
pub fn numbered_kp(
    provider: &Provider,
    n: u32,
    now: u64,
) -> Result<(KeyPackage, KeyPackageSecrets)> {
    let mut seed = [0xa7; 32];
    seed[..4].copy_from_slice(&n.to_be_bytes());
    Ok(key_package_from_seed(
        provider,
        format!("joiner-{n}").as_bytes(),
        &seed,
        default_lifetime(now),
    )?)
}

/// An `MLSMessage(KeyPackage)` around `kp`: the form the peers take KeyPackages in.
pub fn kp_message(kp: &KeyPackage) -> Result<Vec<u8>> {
    Ok(codec::encode(&MlsMessage {
        version: ProtocolVersion::MLS10,
        body: MlsMessageBody::KeyPackage(kp.clone()),
    })?)
}

/// The KeyPackage inside an `MLSMessage(KeyPackage)`.
pub fn key_package_of(message: &[u8]) -> Result<KeyPackage> {
    match codec::decode::<MlsMessage>(message)?.body {
        MlsMessageBody::KeyPackage(kp) => Ok(kp),
        _ => bail!("not an MLSMessage(KeyPackage)"),
    }
}
