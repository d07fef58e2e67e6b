//! Shared setup of a measured group: Canopy generates the state, its members are built from
//! it, and the peers (openmls, mls-rs) join it from a Canopy Welcome carrying the ratchet
//! tree — the same way `canopy compare` sets up its comparison ([`crate::compare`]). Used by
//! the criterion benches (`bench/benches/ops.rs`) and the regression gate ([`crate::gate`]).
//!
//! After [`Shared::new`] and any [`Shared::join_peer`] calls, every system is a member of the
//! same group in the same epoch; each measured operation starts from a copy (`Group::clone`,
//! [`PeerMember::fork`]) of that start state.

use anyhow::{anyhow, bail, Result};
use canopy_engine::codec::{self, KeyPackage, MlsMessage, MlsMessageBody, ProtocolVersion};
use canopy_engine::crypto::Provider;
use canopy_engine::group::{CommitOptions, CommitOutput, Group, GroupConfig};
use canopy_engine::key_package::{default_lifetime, key_package_from_seed, KeyPackageSecrets};
use canopy_engine::tree::LeafIndex;
use canopy_workloads::states::{generate, GeneratedState, StateConfig, StateKind};

use crate::peers::{new_member, PeerKind, PeerMember};

/// The generated group, two Canopy members of it and any joined peers.
pub struct Shared {
    /// The suite's provider.
    pub provider: Provider,
    /// The generated state everything starts from.
    pub state: GeneratedState,
    /// The committer: the member at the first leaf.
    pub admin: Group,
    /// The receiver of commits: the member at the last leaf.
    pub receiver: Group,
    /// Peers that joined, with the member each holds.
    pub peers: Vec<(PeerKind, Box<dyn PeerMember>)>,
    /// Group configuration of every Canopy member built here (and of joiners).
    pub config: GroupConfig,
    /// The time KeyPackages made here are valid around (seconds since the Unix epoch).
    pub now: u64,
    kp_counter: u32,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("members", &self.admin.member_count())
            .field("epoch", &self.admin.epoch())
            .field(
                "peers",
                &self.peers.iter().map(|(k, _)| k.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Generate a `kind` state of `members` members from `seed`, centred on `now`, and build
    /// the admin and receiver members with `config`.
    pub fn new(
        kind: StateKind,
        members: u32,
        seed: u64,
        now: u64,
        config: GroupConfig,
    ) -> Result<Self> {
        let mut state_cfg = StateConfig::new(kind, members.max(2), seed);
        state_cfg.now = now;
        let state = generate(&state_cfg)?;
        let leaves: Vec<LeafIndex> = state.members().collect();
        let first = *leaves.first().ok_or_else(|| anyhow!("empty state"))?;
        let last = *leaves.last().unwrap_or(&first);
        let admin = state.member_group(first, config.clone())?;
        let receiver = state.member_group(last, config.clone())?;
        Ok(Shared {
            provider: state.provider,
            state,
            admin,
            receiver,
            peers: Vec::new(),
            config,
            now,
            kp_counter: 0,
        })
    }

    /// A new KeyPackage (and its secrets): [`numbered_kp`] of a counter, so the n-th call
    /// gives the same KeyPackage on every run with the same `now`.
    pub fn fresh_kp(&mut self) -> Result<(KeyPackage, KeyPackageSecrets)> {
        self.kp_counter += 1;
        numbered_kp(&self.provider, self.kp_counter, self.now)
    }

    /// The member removed by the remove-one operation: the second member.
    pub fn victim(&self) -> LeafIndex {
        self.state.members().nth(1).unwrap_or(LeafIndex(0))
    }

    /// A Welcome (with the tree) that adds `kp` to a copy of the group; the group itself is
    /// not advanced.
    pub fn welcome_for(&self, kp: KeyPackage) -> Result<Vec<u8>> {
        let out = self.admin.clone().commit(
            &CommitOptions::new()
                .adds(vec![kp])
                .ratchet_tree_in_welcome(),
        )?;
        out.welcome
            .ok_or_else(|| anyhow!("commit adding a member made no Welcome"))
    }

    /// Add a `kind` peer member through an admin commit whose Welcome carries the tree; the
    /// receiver and earlier peers process the commit, and the new peer must agree on the
    /// epoch authenticator.
    pub fn join_peer(&mut self, kind: PeerKind) -> Result<()> {
        let mut peer = new_member(kind, format!("peer-{kind}").as_bytes())?;
        let kp = key_package_of(&peer.key_package()?)?;
        let out = self.admin.commit(
            &CommitOptions::new()
                .adds(vec![kp])
                .ratchet_tree_in_welcome(),
        )?;
        self.receiver.process(&out.commit)?;
        for (_, p) in self.peers.iter_mut() {
            p.process(&out.commit)?;
        }
        let welcome = out.welcome.ok_or_else(|| anyhow!("no Welcome"))?;
        peer.join(&welcome, None)?;
        if peer.epoch_authenticator() != self.admin.epoch_authenticator().as_bytes() {
            bail!("{kind} joined but disagrees on the epoch authenticator");
        }
        self.peers.push((kind, peer));
        Ok(())
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

/// Bytes a Canopy commit put on the wire: the commit plus the Welcome, if any.
pub fn commit_bytes(out: &CommitOutput) -> u64 {
    (out.commit.len() + out.welcome.as_ref().map_or(0, Vec::len)) as u64
}
