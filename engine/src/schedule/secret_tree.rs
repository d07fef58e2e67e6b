//! The secret tree and its hash ratchets (RFC 9420 §9).
//!
//! # Internal documentation
//!
//! Looking up a key ([`SecretTree::peek_key`]) changes nothing that loses information: it may
//! derive a leaf's ratchets from its node secret (splitting nodes keeps both children), but
//! the ratchet's position, its secret and any retained keys are untouched until
//! [`SecretTree::commit_key`]. A receiver commits only once the message has authenticated, so
//! an unauthenticated message (e.g. forged sender data naming a far-ahead generation) cannot
//! burn generations.
//!
//! Node secrets are derived lazily, top-down, only along the paths to leaves that are used,
//! and a node's secret is deleted once both children have been derived (§9.2 "Deletion
//! Schedule"), so a 50,000-member group holds O(log n) secrets per active sender rather than
//! 100,000. A leaf's secret is deleted once its two ratchets are derived, a ratchet secret
//! once the ratchet has moved past it, and a key once used. The root, which is the epoch's
//! `encryption_secret`, is split as soon as the epoch is set up ([`SecretTree::split_root`]),
//! since the key schedule consumes that value then. Each split derives everything it
//! produces before it deletes anything, so a failure loses no secret.

use crate::error::ApiMisuse;
use std::collections::{BTreeMap, HashMap};

use crate::crypto::{Provider, Secret};
use crate::error::{Error, Result};
use crate::tree::math::{self, LeafIndex, NodeIndex};

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
    /// The next unused generation.
    generation: u32,
    /// The ratchet secret of `generation`.
    secret: Secret,
    /// Keys of skipped, unused generations kept for out-of-order messages: only those within
    /// the tree's `out_of_order_tolerance` below the last generation used.
    retained: BTreeMap<u32, RatchetKey>,
}

/// A ratchet key looked up with [`SecretTree::peek_key`] without changing the ratchet.
///
/// Nothing is consumed until [`SecretTree::commit_key`] is called with it, after the message
/// it protects has been authenticated (for a received `PrivateMessage`: after the content
/// AEAD opened). Dropping it leaves the ratchet as it was; its secrets are zeroized.
#[derive(Debug)]
pub struct PendingKey {
    leaf: u32,
    kind: RatchetKind,
    key: RatchetKey,
    source: PendingSource,
}

#[derive(Debug)]
enum PendingSource {
    /// A key retained for a skipped generation: committing deletes it.
    Retained,
    /// A generation at or beyond the ratchet's next one: committing moves the ratchet from
    /// `base` to `key.generation + 1`, keeping `retained` (skipped generations within the
    /// tolerance).
    Advance {
        base: u32,
        next_secret: Secret,
        retained: Vec<RatchetKey>,
    },
}

impl PendingKey {
    /// The key and nonce.
    pub fn key(&self) -> &RatchetKey {
        &self.key
    }

    /// The generation.
    pub fn generation(&self) -> u32 {
        self.key.generation
    }
}

/// The secret tree of one epoch.
#[derive(Debug, Clone)]
pub struct SecretTree {
    n_leaves: u32,
    /// Secrets of derived-but-not-yet-split nodes.
    nodes: HashMap<u32, Secret>,
    ratchets: HashMap<(u32, RatchetKind), Ratchet>,
    /// How many skipped generations below a ratchet's next one keep their keys.
    out_of_order_tolerance: u32,
}

impl SecretTree {
    /// A secret tree over `n_leaves` leaves rooted at `encryption_secret`. No keys of skipped
    /// generations are kept (see [`SecretTree::with_out_of_order_tolerance`]).
    pub fn new(encryption_secret: Secret, n_leaves: u32) -> Self {
        let n_leaves = math::full_leaf_count(n_leaves);
        let mut nodes = HashMap::new();
        nodes.insert(math::root(n_leaves).0, encryption_secret);
        SecretTree {
            n_leaves,
            nodes,
            ratchets: HashMap::new(),
            out_of_order_tolerance: 0,
        }
    }

    /// Keep the keys of skipped generations up to `tolerance` below the last generation used
    /// on each ratchet (RFC 9420 §9.2 allows keeping them "for some time"), so messages that
    /// arrive out of order within that window still decrypt; each such key is deleted once
    /// used, and falls out of the window as the ratchet moves on. `0` (the default) keeps
    /// none: once a generation is used, earlier ones are gone.
    pub fn with_out_of_order_tolerance(mut self, tolerance: u32) -> Self {
        self.out_of_order_tolerance = tolerance;
        self
    }

    /// Append the whole state (node secrets, every ratchet's generation, secret and retained
    /// keys, in a fixed order) to `out`, for a state digest.
    pub(crate) fn digest_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.n_leaves.to_be_bytes());
        out.extend_from_slice(&self.out_of_order_tolerance.to_be_bytes());
        let mut nodes: Vec<_> = self.nodes.iter().collect();
        nodes.sort_by_key(|(x, _)| **x);
        for (x, secret) in nodes {
            out.extend_from_slice(&x.to_be_bytes());
            out.extend_from_slice(secret.as_bytes());
        }
        out.push(0xff);
        let mut ratchets: Vec<_> = self.ratchets.iter().collect();
        ratchets.sort_by_key(|((leaf, kind), _)| (*leaf, matches!(kind, RatchetKind::Application)));
        for ((leaf, kind), r) in ratchets {
            out.extend_from_slice(&leaf.to_be_bytes());
            out.push(u8::from(matches!(kind, RatchetKind::Application)));
            out.extend_from_slice(&r.generation.to_be_bytes());
            out.extend_from_slice(r.secret.as_bytes());
            for (g, k) in &r.retained {
                out.extend_from_slice(&g.to_be_bytes());
                out.extend_from_slice(k.key.as_bytes());
                out.extend_from_slice(k.nonce.as_bytes());
            }
            out.push(0xff);
        }
    }

    /// The configured out-of-order tolerance.
    pub fn out_of_order_tolerance(&self) -> u32 {
        self.out_of_order_tolerance
    }

    /// Replace the secret of parent node `x` by its children's (§9.1 `tree_node_[left]`,
    /// `tree_node_[right]`), deleting it (§9.2). Both children are derived before anything
    /// changes, so a failure leaves the tree as it was.
    fn split_node(&mut self, provider: &Provider, x: NodeIndex) -> Result<()> {
        let (l, r) = match (x.left(), x.right()) {
            (Some(l), Some(r)) => (l, r),
            _ => return Err(Error::Internal("secret tree: leaf on a parent position")),
        };
        let secret = self
            .nodes
            .get(&x.0)
            .ok_or(Error::Internal("secret tree path"))?;
        let nh = provider.hash_len() as u16;
        let ls = provider.expand_with_label(secret.as_bytes(), b"tree", b"left", nh)?;
        let rs = provider.expand_with_label(secret.as_bytes(), b"tree", b"right", nh)?;
        self.nodes.remove(&x.0);
        self.nodes.insert(l.0, ls);
        self.nodes.insert(r.0, rs);
        Ok(())
    }

    /// Split the nodes above `leaf` down to it, so that the leaf's own node secret is held.
    fn split_down_to(&mut self, provider: &Provider, leaf: LeafIndex) -> Result<NodeIndex> {
        let target = leaf.node();
        if target.0 >= math::node_width(self.n_leaves) {
            return Err(Error::ApiMisuse(ApiMisuse::InvalidArgument(
                "secret tree: leaf out of range",
            )));
        }
        // Find the lowest derived ancestor-or-self, then split down to the leaf.
        let mut path = vec![target];
        path.extend(math::direct_path(target, self.n_leaves));
        let start = path
            .iter()
            .position(|x| self.nodes.contains_key(&x.0))
            .ok_or(Error::ApiMisuse(ApiMisuse::InvalidArgument(
                "secret tree: leaf secret already consumed",
            )))?;
        for i in (1..=start).rev() {
            self.split_node(provider, path[i])?;
        }
        Ok(target)
    }

    /// Derive what lies directly below the root now, deleting the root secret, which is the
    /// epoch's `encryption_secret`: the key schedule consumes that value when the epoch is set
    /// up (§9.2), so it is not kept until the first message. Splitting the root loses nothing:
    /// both children are kept (for a one-leaf tree, both of the leaf's ratchets). Does nothing
    /// if the root has been split already.
    pub fn split_root(&mut self, provider: &Provider) -> Result<()> {
        let root = math::root(self.n_leaves);
        if !self.nodes.contains_key(&root.0) {
            return Ok(());
        }
        match root.leaf() {
            Some(leaf) => self
                .ratchet(provider, leaf, RatchetKind::Handshake)
                .map(|_| ()),
            None => self.split_node(provider, root),
        }
    }

    /// How many node secrets the tree holds: secrets of nodes derived from their parent and
    /// not yet split into their children (or, for a leaf, into its two ratchets).
    pub fn node_secret_count(&self) -> usize {
        self.nodes.len()
    }

    /// How many ratchets have been derived (two per leaf that has sent or been read from).
    pub fn ratchet_count(&self) -> usize {
        self.ratchets.len()
    }

    /// Whether any secret the tree holds (a node secret, a ratchet secret, or a retained key
    /// or nonce) equals `value`, compared in constant time. For tests of the deletion
    /// schedule (§9.2): a value that has been consumed must not be found.
    #[doc(hidden)]
    pub fn holds_secret(&self, value: &[u8]) -> bool {
        let mut found = false;
        self.for_each_secret(&mut |s| found |= super::secret_matches(s, value));
        found
    }

    /// Every secret held. The destructuring is exhaustive so that a field added later cannot
    /// be missed.
    pub(crate) fn for_each_secret(&self, f: &mut dyn FnMut(&Secret)) {
        let SecretTree {
            n_leaves: _,
            nodes,
            ratchets,
            out_of_order_tolerance: _,
        } = self;
        nodes.values().for_each(&mut *f);
        for r in ratchets.values() {
            let Ratchet {
                generation: _,
                secret,
                retained,
            } = r;
            f(secret);
            for k in retained.values() {
                f(&k.key);
                f(&k.nonce);
            }
        }
    }

    /// `leaf`'s ratchet, derived on first use. Deriving a leaf's ratchets only replaces
    /// node secrets by their children's (§9.2 deletion schedule): no key is lost, so it is
    /// safe to do for an unauthenticated message.
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
            let node = self.split_down_to(provider, leaf)?;
            let leaf_secret = self
                .nodes
                .get(&node.0)
                .ok_or(Error::Internal("secret tree leaf"))?;
            let nh = provider.hash_len() as u16;
            let handshake =
                provider.expand_with_label(leaf_secret.as_bytes(), b"handshake", &[], nh)?;
            let application =
                provider.expand_with_label(leaf_secret.as_bytes(), b"application", &[], nh)?;
            // Both ratchets exist now: the leaf secret is consumed (§9.2).
            self.nodes.remove(&node.0);
            for (kind, secret) in [
                (RatchetKind::Handshake, handshake),
                (RatchetKind::Application, application),
            ] {
                self.ratchets.insert(
                    (leaf.0, kind),
                    Ratchet {
                        generation: 0,
                        secret,
                        retained: BTreeMap::new(),
                    },
                );
            }
        }
        self.ratchets
            .get_mut(&(leaf.0, kind))
            .ok_or(Error::Internal("ratchet just inserted"))
    }

    /// Whether the key of `generation` is available: at or beyond the ratchet's next
    /// generation, or a retained skipped generation. `false` means it was used or deleted
    /// (§9.2).
    pub fn is_available(
        &mut self,
        provider: &Provider,
        leaf: LeafIndex,
        kind: RatchetKind,
        generation: u32,
    ) -> Result<bool> {
        let r = self.ratchet(provider, leaf, kind)?;
        Ok(generation >= r.generation || r.retained.contains_key(&generation))
    }

    /// The key and nonce of `generation` for `leaf`'s ratchet, without consuming anything:
    /// the ratchet is only moved (and the key deleted) by [`SecretTree::commit_key`]. A
    /// generation ahead of the ratchet costs one derivation per skipped generation; the
    /// caller bounds the distance.
    pub fn peek_key(
        &mut self,
        provider: &Provider,
        leaf: LeafIndex,
        kind: RatchetKind,
        generation: u32,
    ) -> Result<PendingKey> {
        let nh = provider.hash_len() as u16;
        let (nk, nn) = (
            provider.aead_key_len() as u16,
            provider.aead_nonce_len() as u16,
        );
        let tolerance = self.out_of_order_tolerance;
        let r = self.ratchet(provider, leaf, kind)?;
        if generation < r.generation {
            let key = r
                .retained
                .get(&generation)
                .ok_or(Error::ApiMisuse(ApiMisuse::InvalidArgument(
                    "secret tree: generation already consumed",
                )))?
                .clone();
            return Ok(PendingKey {
                leaf: leaf.0,
                kind,
                key,
                source: PendingSource::Retained,
            });
        }
        // The ratchet after this generation; checked first, so an exhausted ratchet fails
        // cleanly.
        generation
            .checked_add(1)
            .ok_or(Error::ApiMisuse(ApiMisuse::InvalidArgument(
                "secret tree: generation counter exhausted",
            )))?;
        let keep_from = generation.saturating_sub(tolerance);
        let base = r.generation;
        let mut retained = Vec::new();
        // `secret` starts as a copy of the ratchet secret; the ratchet itself is untouched.
        let mut secret = r.secret.clone();
        for g in base..generation {
            if g >= keep_from {
                retained.push(RatchetKey {
                    generation: g,
                    key: provider.derive_tree_secret(secret.as_bytes(), b"key", g, nk)?,
                    nonce: provider.derive_tree_secret(secret.as_bytes(), b"nonce", g, nn)?,
                });
            }
            secret = provider.derive_tree_secret(secret.as_bytes(), b"secret", g, nh)?;
        }
        let key = RatchetKey {
            generation,
            key: provider.derive_tree_secret(secret.as_bytes(), b"key", generation, nk)?,
            nonce: provider.derive_tree_secret(secret.as_bytes(), b"nonce", generation, nn)?,
        };
        let next_secret =
            provider.derive_tree_secret(secret.as_bytes(), b"secret", generation, nh)?;
        Ok(PendingKey {
            leaf: leaf.0,
            kind,
            key,
            source: PendingSource::Advance {
                base,
                next_secret,
                retained,
            },
        })
    }

    /// Consume a key from [`SecretTree::peek_key`]: delete it and, for a generation at or
    /// beyond the ratchet's next one, move the ratchet past it, keeping the keys of skipped
    /// generations within the out-of-order tolerance and deleting older ones (forward
    /// secrecy, §9.2). Fails, changing nothing, if the ratchet has changed since the peek
    /// (the key was consumed meanwhile, or the ratchet moved).
    pub fn commit_key(&mut self, pending: PendingKey) -> Result<RatchetKey> {
        let tolerance = self.out_of_order_tolerance;
        let r = self
            .ratchets
            .get_mut(&(pending.leaf, pending.kind))
            .ok_or(Error::ApiMisuse(ApiMisuse::InvalidArgument(
                "secret tree: pending key of another tree",
            )))?;
        let generation = pending.key.generation;
        match pending.source {
            PendingSource::Retained => {
                r.retained.remove(&generation).ok_or(Error::ApiMisuse(
                    ApiMisuse::InvalidArgument("secret tree: generation already consumed"),
                ))?;
            }
            PendingSource::Advance {
                base,
                next_secret,
                retained,
            } => {
                if r.generation != base {
                    return Err(Error::ApiMisuse(ApiMisuse::InvalidArgument(
                        "secret tree: ratchet moved since the peek",
                    )));
                }
                r.secret = next_secret;
                // `peek_key` checked `generation + 1` does not overflow.
                r.generation = generation.saturating_add(1);
                r.retained
                    .extend(retained.into_iter().map(|k| (k.generation, k)));
                // Keep only the `tolerance` generations just below the one used.
                let floor = generation.saturating_sub(tolerance);
                r.retained = r.retained.split_off(&floor);
            }
        }
        Ok(pending.key)
    }

    /// The key and nonce of `generation` for `leaf`'s ratchet, consumed at once:
    /// [`SecretTree::peek_key`] then [`SecretTree::commit_key`]. For senders and for keys
    /// whose use cannot fail; a receiver commits only after the message authenticates.
    pub fn key(
        &mut self,
        provider: &Provider,
        leaf: LeafIndex,
        kind: RatchetKind,
        generation: u32,
    ) -> Result<RatchetKey> {
        let pending = self.peek_key(provider, leaf, kind, generation)?;
        self.commit_key(pending)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::CipherSuite;

    const LEAF: LeafIndex = LeafIndex(2);
    const KIND: RatchetKind = RatchetKind::Application;

    fn setup() -> (Provider, SecretTree) {
        let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
        (p, SecretTree::new(Secret::new(vec![5; 32]), 4))
    }

    #[test]
    fn peek_consumes_nothing() {
        let (p, mut tree) = setup();
        let mut reference = tree.clone();
        let peeked = tree.peek_key(&p, LEAF, KIND, 500).unwrap();
        assert_eq!(peeked.generation(), 500);
        drop(peeked);
        assert_eq!(tree.next_generation(&p, LEAF, KIND).unwrap(), 0);
        // Same keys as a tree that never saw the peek.
        for g in [0, 1, 500] {
            let a = tree.key(&p, LEAF, KIND, g).unwrap();
            let b = reference.key(&p, LEAF, KIND, g).unwrap();
            assert_eq!((a.key, a.nonce), (b.key, b.nonce));
        }
        assert_eq!(tree.next_generation(&p, LEAF, KIND).unwrap(), 501);
    }

    #[test]
    fn commit_matches_key_and_rejects_stale() {
        let (p, mut tree) = setup();
        let mut reference = tree.clone();
        let pending = tree.peek_key(&p, LEAF, KIND, 3).unwrap();
        let stale = tree.peek_key(&p, LEAF, KIND, 7).unwrap();
        let got = tree.commit_key(pending).unwrap();
        let want = reference.key(&p, LEAF, KIND, 3).unwrap();
        assert_eq!((got.key, got.nonce), (want.key, want.nonce));
        // The ratchet moved since `stale` was taken: refused, nothing changes.
        assert!(matches!(tree.commit_key(stale), Err(Error::ApiMisuse(_))));
        assert_eq!(tree.next_generation(&p, LEAF, KIND).unwrap(), 4);
        // Used and skipped generations are gone without a tolerance.
        for g in [2, 3] {
            assert!(!tree.is_available(&p, LEAF, KIND, g).unwrap());
            assert!(matches!(
                tree.peek_key(&p, LEAF, KIND, g),
                Err(Error::ApiMisuse(_))
            ));
        }
        // The other ratchet of the leaf is independent.
        assert_eq!(
            tree.next_generation(&p, LEAF, RatchetKind::Handshake)
                .unwrap(),
            0
        );
    }

    #[test]
    fn retained_keys_are_used_once() {
        let (p, tree) = setup();
        let mut tree = tree.with_out_of_order_tolerance(3);
        let mut reference = tree.clone();
        tree.key(&p, LEAF, KIND, 10).unwrap();
        let available: Vec<u32> = (0..12)
            .filter(|g| tree.is_available(&p, LEAF, KIND, *g).unwrap())
            .collect();
        assert_eq!(available, [7, 8, 9, 11]);
        let a = tree.peek_key(&p, LEAF, KIND, 8).unwrap();
        let b = tree.peek_key(&p, LEAF, KIND, 8).unwrap();
        let got = tree.commit_key(a).unwrap();
        assert!(matches!(tree.commit_key(b), Err(Error::ApiMisuse(_))));
        let want = reference.key(&p, LEAF, KIND, 8).unwrap();
        assert_eq!((got.key, got.nonce), (want.key, want.nonce));
        assert!(!tree.is_available(&p, LEAF, KIND, 8).unwrap());
        // Moving on drops what falls out of the window.
        tree.key(&p, LEAF, KIND, 11).unwrap();
        let available: Vec<u32> = (0..13)
            .filter(|g| tree.is_available(&p, LEAF, KIND, *g).unwrap())
            .collect();
        assert_eq!(available, [9, 12]);
    }

    #[test]
    fn split_root_of_one_leaf_tree_derives_its_ratchets() {
        let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
        let root = Secret::new(vec![9; 32]);
        let mut tree = SecretTree::new(root.clone(), 1);
        let mut reference = tree.clone();
        assert!(tree.holds_secret(root.as_bytes()));
        tree.split_root(&p).unwrap();
        assert!(!tree.holds_secret(root.as_bytes()));
        assert_eq!((tree.node_secret_count(), tree.ratchet_count()), (0, 2));
        // Idempotent, and the keys are those of a tree that split lazily.
        tree.split_root(&p).unwrap();
        let a = tree.key(&p, LeafIndex(0), KIND, 0).unwrap();
        let b = reference.key(&p, LeafIndex(0), KIND, 0).unwrap();
        assert_eq!((a.key, a.nonce), (b.key, b.nonce));
    }

    #[test]
    fn exhausted_counter_changes_nothing() {
        let (p, mut tree) = setup();
        assert!(matches!(
            tree.peek_key(&p, LEAF, KIND, u32::MAX),
            Err(Error::ApiMisuse(_))
        ));
        assert_eq!(tree.next_generation(&p, LEAF, KIND).unwrap(), 0);
    }
}
