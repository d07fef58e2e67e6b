//! The `populated` and `fresh` trees, built chain by chain.
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

use std::sync::OnceLock;

use anyhow::{anyhow, bail, ensure, Context, Result};
use canopy_engine::codec::{
    self, HpkePublicKey, LeafNodeHashInput, LeafNodeSourceData, Lifetime, Node, ParentHashInput,
    ParentNode, ParentNodeHashInput, TreeHashInput,
};
use canopy_engine::crypto::{Provider, SignaturePrivateKey};
use canopy_engine::key_package::signed_leaf_node;
use canopy_engine::tree::{math, LeafIndex, NodeIndex};
use rayon::prelude::*;

use super::seeds::{identity, seeded_key_package_leaf, Seeds};

/// Subtrees of at least 2^PAR_LEVEL leaves are built as separate rayon tasks.
const PAR_LEVEL: u32 = 4;

/// The output of [`build_chains`]: the wire nodes (trailing blanks dropped) and the tree hash.
pub(super) struct Built {
    pub(super) nodes: Vec<Option<Node>>,
    pub(super) tree_hash: Vec<u8>,
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
pub(super) fn build_chains(
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
