//! A member's private TreeKEM state (RFC 9420 §7.4, §7.5): the leaf's HPKE private key and
//! the private keys of the non-blank nodes on the leaf's direct path.

use crate::error::{PeerMisbehaved, Result};
use std::collections::BTreeMap;

use crate::crypto::{HpkePrivateKey, Provider, Secret};
use crate::tree::{LeafIndex, NodeIndex, RatchetTree};

/// The private TreeKEM state of the member at one leaf.
///
/// Every key is an [`HpkePrivateKey`], zeroized when dropped; `Debug` prints the leaf and the
/// node indices only. The tree invariant (RFC 9420 §4.1) is that a member holds the private
/// key of a node exactly when the node is on its direct path and not blank.
#[derive(Clone)]
pub struct TreeKemPrivate {
    leaf: LeafIndex,
    leaf_key: HpkePrivateKey,
    path_keys: BTreeMap<NodeIndex, HpkePrivateKey>,
}

impl core::fmt::Debug for TreeKemPrivate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TreeKemPrivate")
            .field("leaf", &self.leaf)
            .field("path_nodes", &self.path_keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// `node_secret = DeriveSecret(path_secret, "node")`, `(node_priv, node_pub) =
/// KEM.DeriveKeyPair(node_secret)` (RFC 9420 §7.4).
pub(super) fn node_key_pair(
    provider: &Provider,
    path_secret: &Secret,
) -> Result<(HpkePrivateKey, Vec<u8>)> {
    let node_secret = provider.derive_secret(path_secret.as_bytes(), b"node")?;
    Ok(provider.derive_hpke_key_pair(node_secret.as_bytes())?)
}

/// [`node_key_pair`] of every path secret, in order, with the public keys computed as one
/// batch ([`Provider::derive_hpke_key_pairs`]).
pub(super) fn node_key_pairs<'a>(
    provider: &Provider,
    path_secrets: impl IntoIterator<Item = &'a Secret>,
) -> Result<Vec<(HpkePrivateKey, Vec<u8>)>> {
    let node_secrets = path_secrets
        .into_iter()
        .map(|s| provider.derive_secret(s.as_bytes(), b"node"))
        .collect::<Result<Vec<_>, _>>()?;
    let ikms: Vec<&[u8]> = node_secrets.iter().map(Secret::as_bytes).collect();
    Ok(provider.derive_hpke_key_pairs(&ikms)?)
}

/// The private keys of [`node_key_pair`] of every path secret, in order, each `Some` if its
/// public key is the one given (a receiver's check of the sender's path), `None` if not. The
/// public keys are computed as one batch ([`Provider::derive_hpke_key_pairs`]); a simulated
/// provider takes them on trust ([`Provider::derive_hpke_private_key_for`]).
pub(super) fn node_private_keys_for<'a>(
    provider: &Provider,
    path_secrets: impl IntoIterator<Item = &'a Secret>,
    publics: &[&[u8]],
) -> Result<Vec<Option<HpkePrivateKey>>> {
    if provider.is_simulated() {
        return path_secrets
            .into_iter()
            .zip(publics)
            .map(|(s, public)| {
                let node_secret = provider.derive_secret(s.as_bytes(), b"node")?;
                Ok(provider.derive_hpke_private_key_for(node_secret.as_bytes(), public)?)
            })
            .collect();
    }
    Ok(node_key_pairs(provider, path_secrets)?
        .into_iter()
        .zip(publics)
        .map(|((sk, pk), public)| (pk.as_slice() == *public).then_some(sk))
        .collect())
}

/// `path_secret[n] = DeriveSecret(path_secret[n-1], "path")` (RFC 9420 §7.4); also the step
/// from the last path secret to the `commit_secret` (§8).
pub(super) fn next_path_secret(provider: &Provider, path_secret: &Secret) -> Result<Secret> {
    Ok(provider.derive_secret(path_secret.as_bytes(), b"path")?)
}

impl TreeKemPrivate {
    /// Append every key of this state, with its position, to `out` (for a state digest; the
    /// caller hashes it).
    pub(crate) fn digest_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.leaf.0.to_be_bytes());
        out.extend_from_slice(self.leaf_key.as_bytes());
        for (node, key) in &self.path_keys {
            out.extend_from_slice(&node.0.to_be_bytes());
            out.extend_from_slice(key.as_bytes());
        }
    }

    /// The state of a member holding only its leaf key (e.g. just after joining by Add).
    pub fn new(leaf: LeafIndex, leaf_key: HpkePrivateKey) -> Self {
        TreeKemPrivate {
            leaf,
            leaf_key,
            path_keys: BTreeMap::new(),
        }
    }

    /// The member's leaf index.
    pub fn leaf(&self) -> LeafIndex {
        self.leaf
    }

    /// The leaf's HPKE private key.
    pub fn leaf_key(&self) -> &HpkePrivateKey {
        &self.leaf_key
    }

    /// The private key held for node `x`: the leaf key for the member's own leaf, else the key
    /// of a direct-path node, if held.
    pub fn private_key(&self, x: NodeIndex) -> Option<&HpkePrivateKey> {
        if x == self.leaf.node() {
            Some(&self.leaf_key)
        } else {
            self.path_keys.get(&x)
        }
    }

    /// The direct-path nodes whose private keys are held, bottom-up.
    pub fn path_nodes(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.path_keys.keys().copied()
    }

    /// Store the key pair derived from `path_secret` at `node` (RFC 9420 §7.4); returns the
    /// public key.
    pub fn insert_path_secret(
        &mut self,
        provider: &Provider,
        node: NodeIndex,
        path_secret: &Secret,
    ) -> Result<Vec<u8>> {
        let (sk, pk) = node_key_pair(provider, path_secret)?;
        self.path_keys.insert(node, sk);
        Ok(pk)
    }

    /// [`TreeKemPrivate::insert_path_secret`] for every `(node, path_secret)`, with the key
    /// pairs derived as one batch; returns the public keys in order.
    pub fn insert_path_secrets(
        &mut self,
        provider: &Provider,
        nodes: &[(NodeIndex, Secret)],
    ) -> Result<Vec<Vec<u8>>> {
        let key_pairs = node_key_pairs(provider, nodes.iter().map(|(_, s)| s))?;
        Ok(nodes
            .iter()
            .zip(key_pairs)
            .map(|((node, _), (sk, pk))| {
                self.path_keys.insert(*node, sk);
                pk
            })
            .collect())
    }

    /// Store the private key of direct-path node `node` (for states built outside the
    /// protocol flow, e.g. generated workloads).
    pub fn insert_path_key(&mut self, node: NodeIndex, key: HpkePrivateKey) {
        self.path_keys.insert(node, key);
    }

    /// Forget the key of `node`.
    pub fn remove_path_key(&mut self, node: NodeIndex) {
        self.path_keys.remove(&node);
    }

    /// Forget the keys of nodes that are blank in `tree` or beyond it (after Removes blanked
    /// or truncated them), keeping the invariant of [`TreeKemPrivate`].
    pub fn prune(&mut self, tree: &RatchetTree) {
        self.path_keys.retain(|&x, _| !tree.is_blank(x));
    }

    /// Check the state against `tree` (the consistency condition of the TreeKEM test vectors
    /// and the tree invariant, RFC 9420 §4.1): for every key held, the node is not blank and
    /// holds the matching public key. Returns how many keys were checked.
    pub fn check_against(&self, provider: &Provider, tree: &RatchetTree) -> Result<usize> {
        let keys: Vec<(NodeIndex, &HpkePrivateKey)> =
            core::iter::once((self.leaf.node(), &self.leaf_key))
                .chain(self.path_keys.iter().map(|(&x, k)| (x, k)))
                .collect();
        // One batch of public keys, compared in the same order as one at a time.
        let sks: Vec<&HpkePrivateKey> = keys.iter().map(|&(_, sk)| sk).collect();
        let publics = provider.hpke_public_keys(&sks)?;
        for (&(x, _), public) in keys.iter().zip(&publics) {
            if tree.encryption_key(x) != Some(public.as_slice()) {
                return Err(PeerMisbehaved::PrivateKeyMismatch { node: x }.into());
            }
        }
        Ok(keys.len())
    }
}
