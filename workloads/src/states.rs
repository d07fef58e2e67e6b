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
//! Every key is derived from one master secret, `Extract("canopy-workloads states v1",
//! seed)`, with `ExpandWithLabel(master, label, node_index || generation, len)`:
//! - the HPKE key of node `x` (leaf or parent) at generation `g`: `DeriveKeyPair` of
//!   `ExpandWithLabel(master, "state node key", x || g, Nh)`;
//! - the signature key of the leaf at node `x`, generation `g`: the Ed25519 seed
//!   `ExpandWithLabel(master, "state signature key", x || g, 32)`.
//!
//! The generation of a node starts at 0 and is bumped when a new member takes over a blank
//! leaf (the `unmerged` refill). Keys written by a commit's UpdatePath (the `removes*` kinds)
//! follow RFC 9420 §7.4 from a seeded `leaf_secret` (`"state commit leaf secret"`, commit
//! number), exactly as the engine's [`plan_update_path`](canopy_engine::kem::plan_update_path)
//! would; those private keys are kept in [`GeneratedState`] (a few per commit), the seeded
//! ones are re-derived on demand.
//!
//! ## The `populated` construction (n - 1 node key derivations, not n/2 full commits)
//!
//! The notional history: member 0 creates the group and adds everybody (the `fresh` state),
//! then every member with a right neighbour under a common parent (the even leaves L with
//! L + 1 < n) commits a full UpdatePath, in *descending* leaf order. A parent node P is then
//! last written by the lowest such leaf of its subtree, its leftmost leaf L, and the nodes L
//! wrote last form a chain up L's left spine: L's ancestors whose leftmost leaf is L, except
//! those whose copath child (right subtree) holds no member, which are never on a filtered
//! direct path and stay blank (only on the right edge of a tree whose member count is not a
//! power of two). The other members never committed: their leaves keep source `key_package`.
//!
//! Each chain is a valid parent-hash chain (RFC 9420 §7.9.2) because when L committed, the
//! subtrees hanging to the right of its chain (the copath children) were already final: only
//! higher leaves, which committed earlier, wrote them. So the tree is built recursively: for a
//! node X, finish every subtree hanging to the right of X's left spine (in parallel, each is
//! again a chain top), then walk the spine top-down computing
//! `parent_hash(D) = Hash(ParentHashInput { key(Q), Q.parent_hash, tree_hash(sibling of D) })`
//! for each chain node D with chain parent Q, sign the bottom leaf (source `commit`) and hash
//! the spine bottom-up. All HPKE key derivations and the `key_package` leaf signatures run
//! first, in parallel.
//!
//! The top T of a chain that stops below the root has a *stale* `parent_hash`: in the
//! notional history L also wrote T's parent P, which a lower leaf overwrote since, so T's
//! `parent_hash` is the hash of a ParentHashInput over a version of P that no longer exists.
//! Nobody can recompute it, and §7.9.2 never checks it against P (P must be covered by exactly
//! one chain, and the chain of its left child covers it). It is only an *input*: of the parent
//! hashes of T's own chain below it, and of T's tree hash, which the chain to the left hashes
//! as the sibling of P's left child. Both are computed after T's value is fixed, so any value
//! is consistent (the test `a_chain_top_parent_hash_is_free` changes one, recomputes both
//! chains and validates). We store a seeded `Nh`-byte value (`"state stale parent hash"`, T):
//! indistinguishable from such a hash and reproducible. It is deliberately not empty: an empty
//! `parent_hash` would claim that T's filtered direct path ended at T, impossible with a
//! non-blank P above. The root's `parent_hash` is empty.
//!
//! `fresh` is the same construction with only leaf 0's direct path to set: one chain from leaf
//! 0 to the root, every other leaf a `key_package` leaf under blank parents.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use anyhow::{anyhow, bail, ensure, Context, Result};
use canopy_engine::codec::{
    self, CipherSuiteId, GroupContext, HpkePublicKey, LeafNodeHashInput, LeafNodeSourceData,
    LeafNodeTbs, Lifetime, Node, ParentHashInput, ParentNode, ParentNodeHashInput, ProtocolVersion,
    RatchetTree as WireTree, TreeHashInput, VLBytes,
};
use canopy_engine::crypto::{CipherSuite, HpkePrivateKey, Provider, Secret, SignaturePrivateKey};
use canopy_engine::key_package::{default_lifetime, signed_leaf_node};
use canopy_engine::tree::{math, LeafIndex, NodeIndex, RatchetTree};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;

/// Removes per commit in the `removes*` kinds (and in the first part of `unmerged`).
pub const REMOVE_BATCH: usize = 100;

/// Adds per (path-less) commit in the `unmerged` refill.
pub const ADD_BATCH: usize = 100;

/// Subtrees of at least 2^PAR_LEVEL leaves are built as separate rayon tasks.
const PAR_LEVEL: u32 = 4;

const MASTER_LABEL: &[u8] = b"canopy-workloads states v1";

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
    /// Cipher suite (1 or 3).
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

    /// The private keys of the member at `leaf`: leaf key, signature key, and the key of every
    /// non-blank direct-path node that does not list `leaf` as unmerged.
    pub fn member_keys(&self, leaf: LeafIndex) -> Result<MemberKeys> {
        let node = self
            .tree
            .leaf(leaf)
            .ok_or_else(|| anyhow!("{leaf:?} is not a member"))?;
        let signer = self.signer(leaf)?;
        ensure!(
            signer.public_key().as_slice() == node.signature_key.as_slice(),
            "internal: derived signature key of {leaf:?} does not match the tree"
        );
        let leaf_key = self.node_private_key(leaf.node())?;
        let mut path_keys = Vec::new();
        for x in math::direct_path(leaf.node(), self.tree.n_leaves()) {
            let Some(p) = self.tree.parent_node(x) else {
                continue;
            };
            if p.unmerged_leaves.binary_search(&leaf.0).is_ok() {
                continue;
            }
            path_keys.push((x, self.node_private_key(x)?));
        }
        Ok(MemberKeys {
            leaf,
            leaf_key,
            signer,
            path_keys,
        })
    }

    fn generation(&self, x: NodeIndex) -> u32 {
        self.generations.get(x.0 as usize).copied().unwrap_or(0)
    }

    fn bump_generation(&mut self, x: NodeIndex) -> u32 {
        let i = x.0 as usize;
        if self.generations.len() <= i {
            self.generations.resize(i + 1, 0);
        }
        self.generations[i] += 1;
        self.generations[i]
    }

    fn signer(&self, leaf: LeafIndex) -> Result<SignaturePrivateKey> {
        let x = leaf.node();
        self.seeds.signer(x, self.generation(x))
    }

    fn node_private_key(&self, x: NodeIndex) -> Result<HpkePrivateKey> {
        match self.committed_keys.get(&x) {
            Some(k) => Ok(k.clone()),
            None => Ok(self.seeds.node_key_pair(x, self.generation(x))?.0),
        }
    }

    /// Remove `percent`% of the members (rounded down) in commits of [`REMOVE_BATCH`]
    /// Removes, each committed with an UpdatePath by a random remaining member.
    fn remove_churn(&mut self, percent: u32) -> Result<()> {
        let n = self.config.members;
        let removed = (u64::from(n) * u64::from(percent) / 100) as usize;
        let mut rng = self.seeds.rng(b"state remove churn")?;
        // A random permutation of the members: the first `removed` go, in batches; after each
        // batch the members still present are exactly the rest of the permutation.
        let mut order: Vec<u32> = (0..n).collect();
        order.shuffle(&mut rng);
        let mut gone = 0;
        while gone < removed {
            let batch = (removed - gone).min(REMOVE_BATCH);
            for &l in &order[gone..gone + batch] {
                let leaf = LeafIndex(l);
                self.forget_path_keys(leaf);
                self.tree.remove_leaf(leaf)?;
            }
            gone += batch;
            // At most half of the members are removed, so `gone < n`.
            let committer = LeafIndex(order[rng.random_range(gone..order.len())]);
            self.commit_path(committer)?;
            self.remove_commits += 1;
            self.epoch += 1;
        }
        Ok(())
    }

    /// Drop the UpdatePath keys of `leaf` and its direct path (they are about to be blanked
    /// or replaced).
    fn forget_path_keys(&mut self, leaf: LeafIndex) {
        self.committed_keys.remove(&leaf.node());
        for x in math::direct_path(leaf.node(), self.tree.n_leaves()) {
            self.committed_keys.remove(&x);
        }
    }

    /// The seeded `leaf_secret` of remove commit number `commit`.
    fn commit_leaf_secret(&self, commit: u32) -> Result<Secret> {
        let nh = nh(&self.provider);
        self.seeds
            .secret(b"state commit leaf secret", &commit.to_be_bytes(), nh)
    }

    /// `committer` re-sets its filtered direct path: what the engine's
    /// [`plan_update_path`](canopy_engine::kem::plan_update_path) plus [`PathPlan::merge`](canopy_engine::kem::PathPlan::merge) do with a seeded
    /// `leaf_secret` (RFC 9420 §7.4 derivations, §7.9 parent hashes, the leaf re-signed with
    /// source `commit`), without the resolutions and recipient keys the engine gathers for
    /// encryption, which cost ~10 ms per commit at 50,000 members and are not needed here.
    /// The unit test `keys_only_commit_matches_the_engine` checks that both give the same
    /// tree and keys.
    fn commit_path(&mut self, committer: LeafIndex) -> Result<()> {
        let provider = self.provider;
        let leaf_secret = self.commit_leaf_secret(self.remove_commits)?;
        let signer = self.signer(committer)?;
        let path = self.tree.filtered_direct_path(committer);

        // §7.4: leaf key from DeriveSecret(leaf_secret, "node"); path_secret[0] =
        // DeriveSecret(leaf_secret, "path"), each next one DeriveSecret(previous, "path"),
        // node keys DeriveKeyPair(DeriveSecret(path_secret, "node")).
        let leaf_node_secret = provider.derive_secret(leaf_secret.as_bytes(), b"node")?;
        let (leaf_key, leaf_public) = provider.derive_hpke_key_pair(leaf_node_secret.as_bytes())?;
        let mut path_secret = leaf_secret;
        let mut keys = Vec::with_capacity(path.len());
        for _ in &path {
            path_secret = provider.derive_secret(path_secret.as_bytes(), b"path")?;
            let node_secret = provider.derive_secret(path_secret.as_bytes(), b"node")?;
            keys.push(provider.derive_hpke_key_pair(node_secret.as_bytes())?);
        }

        // §7.9, top-down: the top node's parent hash is empty. Each copath subtree is left
        // untouched by the merge and the new nodes have no unmerged leaves, so the original
        // sibling tree hash is the copath child's current tree hash.
        let mut parents = Vec::with_capacity(path.len());
        let mut parent_hash = Vec::new();
        for (&(x, copath), (_, public)) in path.iter().zip(&keys).rev() {
            let sibling_hash = self.tree.node_tree_hash(copath, &provider)?;
            let below = provider.hash(&codec::encode(&ParentHashInput {
                encryption_key: public,
                parent_hash: &parent_hash,
                original_sibling_tree_hash: &sibling_hash,
            })?);
            parents.push((
                x,
                ParentNode {
                    encryption_key: HpkePublicKey(public.clone().into()),
                    parent_hash: core::mem::replace(&mut parent_hash, below).into(),
                    unmerged_leaves: Vec::new(),
                },
            ));
        }

        // The leaf keeps its credential, capabilities and signature key.
        let mut leaf = self
            .tree
            .leaf(committer)
            .cloned()
            .ok_or_else(|| anyhow!("internal: committer {committer:?} is blank"))?;
        leaf.encryption_key = HpkePublicKey(leaf_public.into());
        leaf.leaf_node_source = LeafNodeSourceData::Commit {
            parent_hash: parent_hash.into(),
        };
        let tbs = codec::encode(&LeafNodeTbs::in_group(&leaf, &self.group_id, committer.0))?;
        leaf.signature = provider
            .sign_with_label(&signer, b"LeafNodeTBS", &tbs)?
            .into();

        // Merge (§7.5): blank the direct path, set the filtered direct path and the leaf.
        self.forget_path_keys(committer);
        for x in math::direct_path(committer.node(), self.tree.n_leaves()) {
            self.tree.set_node(x, None)?;
        }
        for ((x, node), (key, _)) in parents.into_iter().zip(keys.into_iter().rev()) {
            self.tree.set_node(x, Some(Node::Parent(node)))?;
            self.committed_keys.insert(x, key);
        }
        self.tree
            .set_node(committer.node(), Some(Node::Leaf(Box::new(leaf))))?;
        self.committed_keys.insert(committer.node(), leaf_key);
        Ok(())
    }

    /// Add-only commits of [`ADD_BATCH`] new members each (key_package leaves, next
    /// generation of the slot they land in) until the group has `members` members again.
    ///
    /// Add-only commits change nothing but the leaves they fill and the `unmerged_leaves` of
    /// the non-blank ancestors, so all the Adds are applied at once ([`add_leaves`]) with the
    /// leaves built in parallel; the unit test `bulk_adds_match_add_leaf` checks that this is
    /// what the engine's `RatchetTree::add_leaf` gives one by one.
    fn refill(&mut self, lifetime: Lifetime) -> Result<()> {
        let target = self.config.members as usize;
        let need = target.saturating_sub(self.member_count());
        if need == 0 {
            return Ok(());
        }
        // RFC 9420 §12.1.1 / `add_leaf`: each Add takes the leftmost blank leaf, else extends
        // the tree, whose new leaves are blank: the slots are the first `need` blank leaves
        // counting past the end.
        let n_leaves = self.tree.n_leaves();
        let slots: Vec<LeafIndex> = (0..)
            .map(LeafIndex)
            .filter(|&l| l.0 >= n_leaves || self.tree.leaf(l).is_none())
            .take(need)
            .collect();
        let generations: Vec<u32> = slots
            .iter()
            .map(|l| {
                self.committed_keys.remove(&l.node());
                self.bump_generation(l.node())
            })
            .collect();
        let first_serial = self.config.members;
        let seeds = &self.seeds;
        let leaves = slots
            .par_iter()
            .zip(&generations)
            .enumerate()
            .map(|(j, (l, &g))| {
                let leaf =
                    seeded_key_package_leaf(seeds, l.node(), g, first_serial + j as u32, lifetime)?;
                Ok((*l, leaf))
            })
            .collect::<Result<Vec<_>>>()?;
        self.tree = add_leaves(&self.tree, self.provider.hash_len(), leaves)?;
        let commits = need.div_ceil(ADD_BATCH) as u32;
        self.add_commits += commits;
        self.epoch += u64::from(commits);
        Ok(())
    }
}

/// The tree after Adds of `additions` (increasing leaf indices, each the leftmost blank leaf
/// at its turn, extending the tree past its end): what `RatchetTree::add_leaf` gives one by
/// one, in O(additions x log n) instead of a scan for the leftmost blank leaf per Add. The
/// tree hash cache starts empty.
fn add_leaves(
    tree: &RatchetTree,
    hash_len: usize,
    additions: Vec<(LeafIndex, codec::LeafNode)>,
) -> Result<RatchetTree> {
    let Some(&(last, _)) = additions.last() else {
        return Ok(tree.clone());
    };
    // Doubling until the last slot fits.
    let n_leaves = tree.n_leaves().max(math::full_leaf_count(last.0 + 1));
    let mut nodes = tree.to_wire().0;
    nodes.resize(math::node_width(n_leaves) as usize, None);
    let mut previous = None;
    for (slot, leaf) in additions {
        ensure!(
            previous < Some(slot),
            "internal: Adds not in increasing leaf order"
        );
        previous = Some(slot);
        let x = slot.node();
        let entry = &mut nodes[x.0 as usize];
        ensure!(entry.is_none(), "internal: Add into non-blank {slot:?}");
        *entry = Some(Node::Leaf(Box::new(leaf)));
        for a in math::direct_path(x, n_leaves) {
            if let Some(Node::Parent(p)) = &mut nodes[a.0 as usize] {
                if let Err(pos) = p.unmerged_leaves.binary_search(&slot.0) {
                    p.unmerged_leaves.insert(pos, slot.0);
                }
            }
        }
    }
    let end = nodes.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
    nodes.truncate(end);
    Ok(RatchetTree::from_wire(WireTree(nodes), hash_len)?)
}

// -------------------------------------------------------------------------------------------
// Seeded derivations

/// The master secret and the derivations from it.
#[derive(Clone)]
struct Seeds {
    provider: Provider,
    master: Secret,
}

fn nh(provider: &Provider) -> u16 {
    // Nh is 32 for every supported suite.
    provider.hash_len() as u16
}

fn node_context(x: NodeIndex, generation: u32) -> [u8; 8] {
    let mut c = [0u8; 8];
    c[..4].copy_from_slice(&x.0.to_be_bytes());
    c[4..].copy_from_slice(&generation.to_be_bytes());
    c
}

impl Seeds {
    fn new(provider: Provider, seed: u64) -> Self {
        Seeds {
            provider,
            master: provider.extract(MASTER_LABEL, &seed.to_be_bytes()),
        }
    }

    fn secret(&self, label: &[u8], context: &[u8], len: u16) -> Result<Secret> {
        Ok(self
            .provider
            .expand_with_label(self.master.as_bytes(), label, context, len)?)
    }

    fn bytes(&self, label: &[u8], context: &[u8], len: u16) -> Result<Vec<u8>> {
        Ok(self.secret(label, context, len)?.as_bytes().to_vec())
    }

    fn rng(&self, label: &[u8]) -> Result<ChaCha20Rng> {
        let s = self.secret(label, &[], 32)?;
        let mut seed = [0u8; 32];
        seed.copy_from_slice(s.as_bytes());
        Ok(ChaCha20Rng::from_seed(seed))
    }

    fn node_key_pair(&self, x: NodeIndex, generation: u32) -> Result<(HpkePrivateKey, Vec<u8>)> {
        let nh = nh(&self.provider);
        let ikm = self.secret(b"state node key", &node_context(x, generation), nh)?;
        Ok(self.provider.derive_hpke_key_pair(ikm.as_bytes())?)
    }

    fn signer(&self, x: NodeIndex, generation: u32) -> Result<SignaturePrivateKey> {
        let seed = self.secret(b"state signature key", &node_context(x, generation), 32)?;
        Ok(self
            .provider
            .signature_key_pair_from_seed(seed.as_bytes())?
            .0)
    }

    fn stale_parent_hash(&self, x: NodeIndex) -> Result<Vec<u8>> {
        let nh = nh(&self.provider);
        self.bytes(b"state stale parent hash", &node_context(x, 0), nh)
    }
}

fn identity(serial: u32) -> Vec<u8> {
    format!("member-{serial}").into_bytes()
}

/// The key_package leaf of member `serial` at node `x`, generation `generation`.
fn seeded_key_package_leaf(
    seeds: &Seeds,
    x: NodeIndex,
    generation: u32,
    serial: u32,
    lifetime: Lifetime,
) -> Result<codec::LeafNode> {
    let signer = seeds.signer(x, generation)?;
    let (_, public) = seeds.node_key_pair(x, generation)?;
    Ok(signed_leaf_node(
        &seeds.provider,
        &signer,
        &identity(serial),
        public,
        LeafNodeSourceData::KeyPackage { lifetime },
        None,
    )?)
}

// -------------------------------------------------------------------------------------------
// Chain construction (`populated`, `fresh`)

/// The output of [`build_chains`]: the wire nodes (trailing blanks dropped) and the tree hash.
struct Built {
    nodes: Vec<Option<Node>>,
    tree_hash: Vec<u8>,
}

/// Shared, write-once state of the construction: each node is finished exactly once, by the
/// task that owns its subtree.
struct Chains<'a> {
    provider: Provider,
    seeds: &'a Seeds,
    group_id: &'a [u8],
    root: NodeIndex,
    /// Public keys of the parent nodes to set (`None`: stays blank), indexed by node.
    parent_keys: Vec<Option<Vec<u8>>>,
    /// Signer and encryption key of the chain-bottom leaves, signed once their parent hash is
    /// known; indexed by leaf.
    pending: Vec<Option<(SignaturePrivateKey, Vec<u8>)>>,
    /// The finished nodes, indexed by node.
    nodes: Vec<OnceLock<Node>>,
}

/// Build a tree of `n` members in which exactly the parents `set` are
/// non-blank, each written together with its left spine by its leftmost leaf (see the module
/// documentation). `set` must be closed under "left child": the left child of a set parent is
/// a leaf or a set parent.
fn build_chains(
    seeds: &Seeds,
    group_id: &[u8],
    n: u32,
    lifetime: Lifetime,
    set: impl Fn(NodeIndex) -> bool + Sync,
) -> Result<Built> {
    let provider = seeds.provider;
    let n_leaves = math::full_leaf_count(n);
    let width = math::node_width(n_leaves);
    let root = math::root(n_leaves);
    let is_set = |x: NodeIndex| !x.is_leaf() && set(x);

    // Pass 1 (parallel): every key, and the key_package leaves.
    let parent_keys = (0..width)
        .into_par_iter()
        .map(|x| {
            let x = NodeIndex(x);
            if is_set(x) {
                Ok(Some(seeds.node_key_pair(x, 0)?.1))
            } else {
                Ok(None)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let nodes: Vec<OnceLock<Node>> = (0..width).map(|_| OnceLock::new()).collect();
    let pending = (0..n)
        .into_par_iter()
        .map(|l| {
            let x = LeafIndex(l).node();
            let chain_bottom = math::parent(x, n_leaves).is_some_and(|p| x < p && is_set(p));
            if chain_bottom {
                let signer = seeds.signer(x, 0)?;
                let (_, public) = seeds.node_key_pair(x, 0)?;
                Ok(Some((signer, public)))
            } else {
                let leaf = seeded_key_package_leaf(seeds, x, 0, l, lifetime)?;
                nodes[x.0 as usize]
                    .set(Node::Leaf(Box::new(leaf)))
                    .map_err(|_| anyhow!("internal: leaf {l} built twice"))?;
                Ok(None)
            }
        })
        .collect::<Result<Vec<_>>>()?;

    // Pass 2: parent hashes, commit leaves and tree hashes, chain by chain.
    let chains = Chains {
        provider,
        seeds,
        group_id,
        root,
        parent_keys,
        pending,
        nodes,
    };
    let tree_hash = chains.solve(root, None)?;
    let mut nodes: Vec<Option<Node>> = chains.nodes.into_iter().map(OnceLock::into_inner).collect();
    // Every node after the last member's leaf is blank: a parent there has no member in its
    // right subtree.
    nodes.truncate(math::node_width(n) as usize);
    Ok(Built { nodes, tree_hash })
}

impl Chains<'_> {
    /// Finish the subtree of `top` and return its tree hash. `ph_in` is the parent hash `top`
    /// must carry if its parent is in the same chain; `None` if `top` starts a chain (a right
    /// child, the root, or below a blank node).
    fn solve(&self, top: NodeIndex, ph_in: Option<Vec<u8>>) -> Result<Vec<u8>> {
        // The left spine of `top`, top-down, and the subtrees hanging to its right.
        let mut spine = Vec::new();
        let mut hanging = Vec::new();
        let mut cur = top;
        while let (Some(l), Some(r)) = (cur.left(), cur.right()) {
            spine.push(cur);
            hanging.push(r);
            cur = l;
        }
        let leaf_x = cur;

        // Every hanging subtree is final before the spine's parent hashes are computed.
        let hanging_hashes: Vec<Vec<u8>> = if top.level() > PAR_LEVEL {
            hanging
                .par_iter()
                .map(|&r| self.solve(r, None))
                .collect::<Result<_>>()?
        } else {
            hanging
                .iter()
                .map(|&r| self.solve(r, None))
                .collect::<Result<_>>()?
        };

        // Top-down: parent hashes along the chain.
        let mut ph = ph_in;
        for (&p, sibling_hash) in spine.iter().zip(&hanging_hashes) {
            let Some(key) = &self.parent_keys[p.0 as usize] else {
                ensure!(
                    ph.is_none(),
                    "internal: blank {p:?} inside a chain (the set of parents is not closed \
                     under left child)"
                );
                continue;
            };
            let own = match ph.take() {
                Some(h) => h,
                None if p == self.root => Vec::new(),
                None => self.seeds.stale_parent_hash(p)?,
            };
            let below = self.provider.hash(&codec::encode(&ParentHashInput {
                encryption_key: key,
                parent_hash: &own,
                original_sibling_tree_hash: sibling_hash,
            })?);
            ph = Some(below);
            self.finish(
                p,
                Node::Parent(ParentNode {
                    encryption_key: HpkePublicKey(key.clone().into()),
                    parent_hash: own.into(),
                    unmerged_leaves: Vec::new(),
                }),
            )?;
        }

        // The bottom leaf: a commit leaf if the chain reaches it.
        let leaf_index = leaf_x.0 / 2;
        let pending = self
            .pending
            .get(leaf_index as usize)
            .and_then(Option::as_ref);
        match (ph, pending) {
            (Some(parent_hash), Some((signer, public))) => {
                let leaf = signed_leaf_node(
                    &self.provider,
                    signer,
                    &identity(leaf_index),
                    public.clone(),
                    LeafNodeSourceData::Commit {
                        parent_hash: parent_hash.into(),
                    },
                    Some((self.group_id, leaf_index)),
                )?;
                self.finish(leaf_x, Node::Leaf(Box::new(leaf)))?;
            }
            (None, None) => {}
            _ => bail!("internal: chain bottom mismatch at leaf {leaf_index}"),
        }

        // Bottom-up: tree hashes along the spine.
        let mut th = self
            .provider
            .hash(&codec::encode(&TreeHashInput::Leaf(LeafNodeHashInput {
                leaf_index,
                leaf_node: match self.nodes[leaf_x.0 as usize].get() {
                    Some(Node::Leaf(l)) => Some(l),
                    _ => None,
                },
            }))?);
        for (&p, right_hash) in spine.iter().zip(&hanging_hashes).rev() {
            let parent_node = match self.nodes[p.0 as usize].get() {
                Some(Node::Parent(pn)) => Some(pn),
                _ => None,
            };
            th = self.provider.hash(&codec::encode(&TreeHashInput::Parent(
                ParentNodeHashInput {
                    parent_node,
                    left_hash: &th,
                    right_hash,
                },
            ))?);
        }
        Ok(th)
    }

    fn finish(&self, x: NodeIndex, node: Node) -> Result<()> {
        self.nodes[x.0 as usize]
            .set(node)
            .map_err(|_| anyhow!("internal: {x:?} finished twice"))
            .context("chain construction")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use canopy_engine::kem::{plan_update_path, PathParams};

    /// The keys-only commit in `commit_path` gives the same tree and private keys as the
    /// engine's `plan_update_path` + `merge` with the same `leaf_secret`.
    #[test]
    fn keys_only_commit_matches_the_engine() {
        for (members, removed, committer) in [(2, 0, 1), (9, 2, 8), (33, 5, 7), (100, 30, 64)] {
            let cfg = StateConfig {
                now: 1_700_000_000,
                ..StateConfig::new(StateKind::Populated, members, 42)
            };
            let mut ours = generate(&cfg).unwrap();
            for l in (0..members).rev().step_by(3).take(removed) {
                if l != committer {
                    ours.forget_path_keys(LeafIndex(l));
                    ours.tree.remove_leaf(LeafIndex(l)).unwrap();
                }
            }
            let committer = LeafIndex(committer);
            let mut engine_tree = ours.tree.clone();
            ours.commit_path(committer).unwrap();

            let leaf_secret = ours.commit_leaf_secret(0).unwrap();
            let signer = ours.signer(committer).unwrap();
            let params = PathParams {
                sender: committer,
                leaf_secret: &leaf_secret,
                signer: &signer,
                leaf_template: None,
                new_leaves: &[],
            };
            let plan = plan_update_path(&ours.provider, &mut engine_tree, &params, &ours.group_id)
                .unwrap();
            plan.merge(&mut engine_tree).unwrap();
            assert_eq!(
                ours.tree.to_wire(),
                engine_tree.to_wire(),
                "{members} members"
            );

            let private = plan.private();
            assert_eq!(&ours.committed_keys[&committer.node()], private.leaf_key());
            let mut n = 0;
            for x in private.path_nodes() {
                assert_eq!(Some(&ours.committed_keys[&x]), private.private_key(x));
                n += 1;
            }
            assert_eq!(n, ours.tree.filtered_direct_path(committer).len());
            ours.tree.validate(&ours.provider, &ours.group_id).unwrap();
        }
    }

    /// `add_leaves` (the bulk refill) gives the same tree as the engine's `add_leaf` one by
    /// one, including Adds that extend the tree.
    #[test]
    fn bulk_adds_match_add_leaf() {
        let lifetime = default_lifetime(1_700_000_000);
        for members in [1, 2, 3, 5, 9, 33, 100, 300] {
            let cfg = StateConfig {
                now: 1_700_000_000,
                ..StateConfig::new(StateKind::Removes50, members, 3)
            };
            let before = generate(&cfg).unwrap();
            // Refill, and also add some members past the original size (extension).
            let mut bulk = before.clone();
            bulk.config.members = members * 2 + 3;
            bulk.refill(lifetime).unwrap();
            let mut tree = before.tree.clone();
            let added = bulk.member_count() - before.member_count();
            let mut seen = 0;
            for l in 0..bulk.tree.n_leaves() {
                let l = LeafIndex(l);
                if before.tree.leaf(l).is_none() {
                    if let Some(leaf) = bulk.tree.leaf(l) {
                        assert_eq!(tree.add_leaf(leaf.clone()), l);
                        seen += 1;
                    }
                }
            }
            assert_eq!(seen, added);
            assert!(tree.n_leaves() > before.tree.n_leaves());
            assert_eq!(tree.to_wire(), bulk.tree.to_wire(), "{members} members");
            assert_eq!(
                tree.tree_hash(&bulk.provider).unwrap(),
                bulk.tree.tree_hash(&bulk.provider).unwrap()
            );
            bulk.tree.validate(&bulk.provider, &bulk.group_id).unwrap();
        }
    }
}
