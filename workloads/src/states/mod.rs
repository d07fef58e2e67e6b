//! Seeded large group states: the ratchet trees the comparison workloads start from.
//!
//! [`generate`] turns a [`StateConfig`] (kind, member count, seed, cipher suite, clock) into a
//! [`GeneratedState`]: a ratchet tree that passes full RFC 9420 validation
//! ([`RatchetTree::validate`]: leaf signatures, parent hashes, unmerged leaves, key
//! uniqueness) plus everything needed to rebuild any member's private keys
//! ([`GeneratedState::member_keys`]). The same (seed, members, kind, suite, now) always gives
//! byte-identical trees, whatever the number of rayon threads.
//!
//! Kinds ([`StateKind`]):
//! - `populated`: every parent node that a commit could set is set, as if the members had
//!   committed in descending leaf order, so that each parent was last written by the leftmost
//!   leaf of its subtree.
//! - `removes10` / `removes50`: `populated`, then 10% / 50% of the members removed in commits
//!   of [`REMOVE_BATCH`] Removes, each committed with a path by a random remaining member.
//! - `fresh`: right after member 0 added everybody in one commit with a path: every leaf set,
//!   only leaf 0's direct path set.
//! - `unmerged`: `removes50`, then add-only commits of [`ADD_BATCH`] Adds (no path) until the
//!   group is back to `members` members, so many parent nodes list unmerged leaves.
//!
//! # Internal documentation
//!
//! - `seeds`: every seeded key, secret and random choice, derived from one master secret.
//! - `keys`: which private key each node holds (seeded by generation, or written by a
//!   commit), and a member's keys.
//! - `chains`: the `populated` and `fresh` trees, built chain by chain in parallel.
//! - `commits`: what follows the build: the remove commits of `removes*` and `unmerged`
//!   (each with an UpdatePath), and the add-only refill of `unmerged`.

mod chains;
mod commits;
mod keys;
mod seeds;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use anyhow::{anyhow, ensure, Result};
use canopy_engine::codec::{
    CipherSuiteId, GroupContext, ProtocolVersion, RatchetTree as WireTree, VLBytes,
};
use canopy_engine::crypto::{CipherSuite, HpkePrivateKey, Provider, Secret, SignaturePrivateKey};
use canopy_engine::key_package::default_lifetime;
use canopy_engine::tree::{LeafIndex, NodeIndex, RatchetTree};

use chains::build_chains;
use seeds::{nh, Seeds};

/// Removes per commit in the `removes*` kinds (and in the first part of `unmerged`).
pub const REMOVE_BATCH: usize = 100;

/// Adds per (path-less) commit in the `unmerged` refill.
pub const ADD_BATCH: usize = 100;

/// The shape of a generated state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateKind {
    /// Every parent node set, as if every member had committed.
    Populated,
    /// `Populated`, then 10% of the members removed in batches committed with paths.
    Removes10,
    /// `Populated`, then 50% of the members removed in batches committed with paths.
    Removes50,
    /// Right after a bulk add by member 0: only leaf 0's direct path set.
    Fresh,
    /// `Removes50`, then add-only commits refilling the blank leaves (many unmerged leaves).
    Unmerged,
}

impl StateKind {
    /// Every kind, in the order of the comparison tables.
    pub const ALL: &'static [StateKind] = &[
        StateKind::Populated,
        StateKind::Removes10,
        StateKind::Removes50,
        StateKind::Fresh,
        StateKind::Unmerged,
    ];

    /// The kind's name (`populated`, `removes10`, `removes50`, `fresh`, `unmerged`).
    pub fn name(self) -> &'static str {
        match self {
            StateKind::Populated => "populated",
            StateKind::Removes10 => "removes10",
            StateKind::Removes50 => "removes50",
            StateKind::Fresh => "fresh",
            StateKind::Unmerged => "unmerged",
        }
    }

    /// Percentage of the members removed after the populated start, if any.
    fn removed_percent(self) -> Option<u32> {
        match self {
            StateKind::Removes10 => Some(10),
            StateKind::Removes50 | StateKind::Unmerged => Some(50),
            StateKind::Populated | StateKind::Fresh => None,
        }
    }
}

impl fmt::Display for StateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StateKind {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        StateKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                anyhow!(
                    "unknown state kind {s:?} (expected populated, removes10, removes50, fresh \
                     or unmerged)"
                )
            })
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateConfig {
    /// Shape of the tree.
    pub kind: StateKind,
    /// Number of members before any removal (and after the `unmerged` refill).
    pub members: u32,
    /// Seed of every key and every random choice.
    pub seed: u64,
    /// Cipher suite: any Canopy implements.
    pub suite: CipherSuite,
    /// The time leaf lifetimes are centred on (seconds since the Unix epoch): key_package
    /// leaves carry `default_lifetime(now)`.
    pub now: u64,
}

impl StateConfig {
    /// `kind` with `members` members from `seed`, suite 1, `now` = today (the system time
    /// rounded down to the day, so the output is the same all day).
    pub fn new(kind: StateKind, members: u32, seed: u64) -> Self {
        StateConfig {
            kind,
            members,
            seed,
            suite: CipherSuite::Mls128X25519Aes128GcmSha256Ed25519,
            now: today(),
        }
    }
}

/// The system time rounded down to the day (0 if the clock is before 1970).
pub fn today() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    now - now % 86_400
}

/// A generated group state: the public tree and epoch data, plus what is needed to derive any
/// member's private keys.
#[derive(Clone)]
pub struct GeneratedState {
    /// The group's crypto provider.
    pub provider: Provider,
    /// The configuration it was generated from.
    pub config: StateConfig,
    /// Group id (seeded, 16 bytes).
    pub group_id: Vec<u8>,
    /// Epoch: 1 after the initial bulk add (`fresh`), + `members / 2` for `populated` (the
    /// commits of its notional history), + one per remove or add commit.
    pub epoch: u64,
    /// The ratchet tree: valid, tree hash cached.
    pub tree: RatchetTree,
    /// Its tree hash.
    pub tree_hash: Vec<u8>,
    /// Seeded joiner secret of the epoch (the engine runs the key schedule from it).
    pub joiner_secret: Secret,
    /// Seeded confirmed transcript hash (`Nh` bytes).
    pub confirmed_transcript_hash: Vec<u8>,
    /// Remove commits made (`removes*`, `unmerged`).
    pub remove_commits: u32,
    /// Add-only commits made (`unmerged`).
    pub add_commits: u32,
    seeds: Seeds,
    /// Generation of the seeded key of each node (indexed by node; missing = 0).
    generations: Vec<u32>,
    /// Private keys written by a commit's UpdatePath, for nodes whose current key is one.
    committed_keys: HashMap<NodeIndex, HpkePrivateKey>,
}

impl fmt::Debug for GeneratedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedState")
            .field("config", &self.config)
            .field("epoch", &self.epoch)
            .field("tree", &self.tree)
            .finish_non_exhaustive()
    }
}

/// The private keys a member holds.
#[derive(Debug, Clone)]
pub struct MemberKeys {
    /// The member's leaf.
    pub leaf: LeafIndex,
    /// Private key of the leaf's `encryption_key`.
    pub leaf_key: HpkePrivateKey,
    /// Private key of the leaf's `signature_key`.
    pub signer: SignaturePrivateKey,
    /// Private key of every non-blank node on the member's direct path that the member holds
    /// (not those listing it as unmerged), bottom-up.
    pub path_keys: Vec<(NodeIndex, HpkePrivateKey)>,
}

/// Generate the state described by `cfg`.
pub fn generate(cfg: &StateConfig) -> Result<GeneratedState> {
    ensure!(cfg.members >= 1, "a group has at least one member");
    ensure!(
        cfg.members <= 1 << 30,
        "at most 2^30 members ({} asked)",
        cfg.members
    );
    let provider = Provider::new(cfg.suite);
    let seeds = Seeds::new(provider, cfg.seed);
    let group_id = seeds.bytes(b"state group id", &[], 16)?;
    let n = cfg.members;
    let lifetime = default_lifetime(cfg.now);
    let (built, epoch) = match cfg.kind {
        // Only leaf 0's direct path; every node of it has a member to its right.
        StateKind::Fresh => (
            build_chains(&seeds, &group_id, n, lifetime, |x| {
                x.0 == (1 << x.level()) - 1
            })?,
            1,
        ),
        // A parent is set iff its right subtree holds a member: its leftmost leaf, node x + 1
        // (leaf (x + 1) / 2 = x / 2 + 1 for odd x), is below n.
        _ => (
            build_chains(&seeds, &group_id, n, lifetime, |x| x.0 / 2 + 1 < n)?,
            1 + u64::from(n / 2),
        ),
    };
    let mut tree = RatchetTree::from_wire(WireTree(built.nodes), provider.hash_len())?;
    ensure!(
        tree.tree_hash(&provider)? == built.tree_hash,
        "internal: tree hash of the built tree differs from the construction's"
    );
    let mut state = GeneratedState {
        provider,
        config: *cfg,
        group_id,
        epoch,
        tree,
        tree_hash: Vec::new(),
        joiner_secret: Secret::default(),
        confirmed_transcript_hash: Vec::new(),
        remove_commits: 0,
        add_commits: 0,
        seeds,
        generations: Vec::new(),
        committed_keys: HashMap::new(),
    };
    if let Some(percent) = cfg.kind.removed_percent() {
        state.remove_churn(percent)?;
    }
    if cfg.kind == StateKind::Unmerged {
        state.refill(lifetime)?;
    }
    state.committed_keys.retain(|x, _| x.0 < state.tree.width());
    state.tree_hash = state.tree.tree_hash(&provider)?;
    let mut ctx = cfg.kind.name().as_bytes().to_vec();
    ctx.extend_from_slice(&state.epoch.to_be_bytes());
    let nh = nh(&provider);
    state.joiner_secret = state.seeds.secret(b"state joiner secret", &ctx, nh)?;
    state.confirmed_transcript_hash =
        state
            .seeds
            .bytes(b"state confirmed transcript hash", &ctx, nh)?;
    Ok(state)
}

impl GeneratedState {
    /// The members' leaves, in increasing order.
    pub fn members(&self) -> impl Iterator<Item = LeafIndex> + '_ {
        self.tree.leaves().map(|(i, _)| i)
    }

    /// Number of members.
    pub fn member_count(&self) -> usize {
        self.tree.leaves().count()
    }

    /// The GroupContext of the epoch (no extensions).
    pub fn group_context(&self) -> GroupContext {
        GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: CipherSuiteId(self.provider.suite().id()),
            group_id: VLBytes::from(self.group_id.clone()),
            epoch: self.epoch,
            tree_hash: VLBytes::from(self.tree_hash.clone()),
            confirmed_transcript_hash: VLBytes::from(self.confirmed_transcript_hash.clone()),
            extensions: Vec::new(),
        }
    }
}
