//! Which private key each node of a generated state holds: a seeded key of the node's
//! generation (bumped when a new member takes over a blank leaf), or the key a commit's
//! UpdatePath wrote there; and the keys a member holds.

use anyhow::{anyhow, ensure, Result};
use canopy_engine::crypto::{HpkePrivateKey, SignaturePrivateKey};
use canopy_engine::tree::{math, LeafIndex, NodeIndex};

use super::{GeneratedState, MemberKeys};

impl GeneratedState {
    /// The private keys of the member at `leaf`: leaf key, signature key, and the key of every
    /// non-blank direct-path node that does not list `leaf` as unmerged.
    pub fn member_keys(&self, leaf: LeafIndex) -> Result<MemberKeys> {
        let node = self
            .tree
            .leaf(leaf)
            .ok_or_else(|| anyhow!("{leaf:?} is not a member"))?;
        let signer = self.signer(leaf)?;
        ensure!(
            signer.public_key().as_slice() == node.signature_key(),
            "internal: derived signature key of {leaf:?} does not match the tree"
        );
        let leaf_key = self.node_private_key(leaf.node())?;
        let mut path_keys = Vec::new();
        for x in math::direct_path(leaf.node(), self.tree.n_leaves()) {
            let Some(p) = self.tree.parent_node(x) else {
                continue;
            };
            if p.unmerged_leaves().contains(leaf.0) {
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

    pub(super) fn generation(&self, x: NodeIndex) -> u32 {
        self.generations.get(x.0 as usize).copied().unwrap_or(0)
    }

    pub(super) fn bump_generation(&mut self, x: NodeIndex) -> u32 {
        let i = x.0 as usize;
        if self.generations.len() <= i {
            self.generations.resize(i + 1, 0);
        }
        self.generations[i] += 1;
        self.generations[i]
    }

    pub(super) fn signer(&self, leaf: LeafIndex) -> Result<SignaturePrivateKey> {
        let x = leaf.node();
        self.seeds.signer(x, self.generation(x))
    }

    fn node_private_key(&self, x: NodeIndex) -> Result<HpkePrivateKey> {
        match self.committed_keys.get(&x) {
            Some(k) => Ok(k.clone()),
            // The tree holds the public key: derive only the private one.
            None => self.seeds.node_private_key(x, self.generation(x)),
        }
    }
}
