//! The secret tree and its hash ratchets (RFC 9420 §9).
//!
//! # Internal documentation
//!
//! Node secrets are derived lazily, top-down, only along the paths to leaves that are used,
//! and a node's secret is deleted once both children have been derived (§9.2 "Deletion
//! Schedule"), so a 50,000-member group holds O(log n) secrets per active sender rather than
//! 100,000.

use std::collections::HashMap;

use crate::crypto::{Provider, Secret};
use crate::error::{Error, Result};
use crate::tree::math::{self, LeafIndex};

/// Which of a leaf's two ratchets (RFC 9420 §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RatchetKind {
    /// Handshake messages (proposals, commits) sent as PrivateMessage.
    Handshake,
    /// Application messages.
    Application,
}

/// One generation's AEAD key and nonce.
#[derive(Debug, Clone)]
pub struct RatchetKey {
    /// The generation.
    pub generation: u32,
    /// AEAD key.
    pub key: Secret,
    /// AEAD nonce (before the reuse guard is applied).
    pub nonce: Secret,
}

#[derive(Debug, Clone)]
struct Ratchet {
    generation: u32,
    secret: Secret,
}

/// The secret tree of one epoch.
#[derive(Debug, Clone)]
pub struct SecretTree {
    n_leaves: u32,
    /// Secrets of derived-but-not-yet-split nodes.
    nodes: HashMap<u32, Secret>,
    ratchets: HashMap<(u32, RatchetKind), Ratchet>,
}

impl SecretTree {
    /// A secret tree over `n_leaves` leaves rooted at `encryption_secret`.
    pub fn new(encryption_secret: Secret, n_leaves: u32) -> Self {
        let n_leaves = math::full_leaf_count(n_leaves);
        let mut nodes = HashMap::new();
        nodes.insert(math::root(n_leaves).0, encryption_secret);
        SecretTree {
            n_leaves,
            nodes,
            ratchets: HashMap::new(),
        }
    }

    fn leaf_secret(&mut self, provider: &Provider, leaf: LeafIndex) -> Result<Secret> {
        let target = leaf.node();
        if target.0 >= math::node_width(self.n_leaves) {
            return Err(Error::ApiMisuse("secret tree: leaf out of range"));
        }
        // Find the lowest derived ancestor-or-self, then split down to the leaf.
        let mut path = vec![target];
        path.extend(math::direct_path(target, self.n_leaves));
        let start = path
            .iter()
            .position(|x| self.nodes.contains_key(&x.0))
            .ok_or(Error::ApiMisuse(
                "secret tree: leaf secret already consumed",
            ))?;
        let nh = provider.hash_len() as u16;
        for i in (1..=start).rev() {
            let x = path[i];
            let secret = self
                .nodes
                .remove(&x.0)
                .ok_or(Error::Internal("secret tree path"))?;
            let (l, r) = match (x.left(), x.right()) {
                (Some(l), Some(r)) => (l, r),
                _ => return Err(Error::Internal("secret tree: leaf on a parent position")),
            };
            let ls = provider.expand_with_label(secret.as_bytes(), b"tree", b"left", nh)?;
            let rs = provider.expand_with_label(secret.as_bytes(), b"tree", b"right", nh)?;
            self.nodes.insert(l.0, ls);
            self.nodes.insert(r.0, rs);
        }
        self.nodes
            .remove(&target.0)
            .ok_or(Error::Internal("secret tree leaf"))
    }

    fn ratchet(
        &mut self,
        provider: &Provider,
        leaf: LeafIndex,
        kind: RatchetKind,
    ) -> Result<&mut Ratchet> {
        if !self
            .ratchets
            .contains_key(&(leaf.0, RatchetKind::Handshake))
        {
            let leaf_secret = self.leaf_secret(provider, leaf)?;
            let nh = provider.hash_len() as u16;
            for (k, label) in [
                (RatchetKind::Handshake, &b"handshake"[..]),
                (RatchetKind::Application, b"application"),
            ] {
                let secret = provider.expand_with_label(leaf_secret.as_bytes(), label, &[], nh)?;
                self.ratchets.insert(
                    (leaf.0, k),
                    Ratchet {
                        generation: 0,
                        secret,
                    },
                );
            }
        }
        self.ratchets
            .get_mut(&(leaf.0, kind))
            .ok_or(Error::Internal("ratchet just inserted"))
    }

    /// The key and nonce of `generation` for `leaf`'s ratchet, advancing the ratchet past it
    /// (keys of earlier generations are gone: forward secrecy, §9.2).
    pub fn key(
        &mut self,
        provider: &Provider,
        leaf: LeafIndex,
        kind: RatchetKind,
        generation: u32,
    ) -> Result<RatchetKey> {
        let nh = provider.hash_len() as u16;
        let (nk, nn) = (
            provider.aead_key_len() as u16,
            provider.aead_nonce_len() as u16,
        );
        let r = self.ratchet(provider, leaf, kind)?;
        if generation < r.generation {
            return Err(Error::ApiMisuse("secret tree: generation already consumed"));
        }
        // Checked before anything changes, so an exhausted ratchet is left as it was.
        let next = generation.checked_add(1).ok_or(Error::ApiMisuse(
            "secret tree: generation counter exhausted",
        ))?;
        while r.generation < generation {
            r.secret =
                provider.derive_tree_secret(r.secret.as_bytes(), b"secret", r.generation, nh)?;
            r.generation += 1;
        }
        let key = provider.derive_tree_secret(r.secret.as_bytes(), b"key", generation, nk)?;
        let nonce = provider.derive_tree_secret(r.secret.as_bytes(), b"nonce", generation, nn)?;
        r.secret = provider.derive_tree_secret(r.secret.as_bytes(), b"secret", generation, nh)?;
        r.generation = next;
        Ok(RatchetKey {
            generation,
            key,
            nonce,
        })
    }

    /// The next unused generation of `leaf`'s ratchet (for sending).
    pub fn next_generation(
        &mut self,
        provider: &Provider,
        leaf: LeafIndex,
        kind: RatchetKind,
    ) -> Result<u32> {
        Ok(self.ratchet(provider, leaf, kind)?.generation)
    }

    /// Leaf count the tree was built for.
    pub fn n_leaves(&self) -> u32 {
        self.n_leaves
    }
}

/// `sender_data_key` and `sender_data_nonce` (RFC 9420 §6.3.2) from the ciphertext sample
/// (the first `Nh` bytes of the PrivateMessage ciphertext, or all of it if shorter).
pub fn sender_data_key_nonce(
    provider: &Provider,
    sender_data_secret: &[u8],
    ciphertext: &[u8],
) -> Result<(Secret, Secret)> {
    let sample = &ciphertext[..ciphertext.len().min(provider.hash_len())];
    super::aead_key_nonce(provider, sender_data_secret, sample)
}
