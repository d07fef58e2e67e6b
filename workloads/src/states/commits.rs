//! What follows the build of a `removes*` or `unmerged` state: the remove commits, each with
//! an UpdatePath by a random remaining member, and the add-only refill of `unmerged`.
//!
//! Keys written by a commit's UpdatePath follow RFC 9420 §7.4 from a seeded `leaf_secret`
//! (`"state commit leaf secret"`, commit number), exactly as the engine's
//! [`plan_update_path`](canopy_engine::kem::plan_update_path) would; those private keys are
//! kept in [`GeneratedState`] (a few per commit), the seeded ones are re-derived on demand.

use anyhow::{anyhow, ensure, Result};
use canopy_engine::codec::{
    self, HpkePublicKey, LeafNodeSourceData, LeafNodeTbs, Lifetime, Node, ParentHashInput,
    ParentNode, RatchetTree as WireTree,
};
use canopy_engine::crypto::Secret;
use canopy_engine::tree::{math, LeafIndex, RatchetTree};
use rand::seq::SliceRandom;
use rand::Rng;
use rayon::prelude::*;

use super::seeds::{nh, seeded_key_package_leaf};
use super::{GeneratedState, ADD_BATCH, REMOVE_BATCH};

impl GeneratedState {
    /// Remove `percent`% of the members (rounded down) in commits of [`REMOVE_BATCH`]
    /// Removes, each committed with an UpdatePath by a random remaining member.
    pub(super) fn remove_churn(&mut self, percent: u32) -> Result<()> {
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
            .map(|l| l.decode())
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
            self.tree.set_node(x, Some(&Node::Parent(node)))?;
            self.committed_keys.insert(x, key);
        }
        self.tree
            .set_node(committer.node(), Some(&Node::Leaf(Box::new(leaf))))?;
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
    pub(super) fn refill(&mut self, lifetime: Lifetime) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use canopy_engine::kem::{plan_update_path, PathParams};
    use canopy_engine::key_package::default_lifetime;

    use super::*;
    use crate::states::{generate, StateConfig, StateKind};

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
                        assert_eq!(tree.add_leaf(&leaf.decode()).unwrap(), l);
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
