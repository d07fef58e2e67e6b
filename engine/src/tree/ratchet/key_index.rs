//! The keys in the tree, indexed: how many nodes hold a given HPKE key, and how many leaves a
//! given signature key, without scanning the tree (RFC 9420 §7.3: keys must be unique).
//!
//! A commit or a processed commit checks every new key against the tree; with the index that
//! is a hash look-up each, not an O(n) scan per commit. The index is built when a tree is
//! decoded (or on first use for a new group's tree) and kept in step by every node write.

use std::collections::hash_map::{Entry, RandomState};
use std::collections::HashMap;
use std::hash::BuildHasher;

use super::RatchetTree;
use crate::codec::Node;
use crate::tree::math::NodeIndex;

impl RatchetTree {
    /// How many nodes hold HPKE public key `key` (0 or 1 in a valid tree). The index is built
    /// when a tree is decoded ([`RatchetTree::from_wire`]) or on first use (one pass over the
    /// tree), and then kept up to date by every edit.
    pub fn encryption_key_count(&mut self, key: &[u8]) -> u32 {
        self.build_index();
        match &self.key_index {
            Some(index) => index.count(KeyKind::Encryption, key, &self.nodes),
            None => unreachable!(),
        }
    }

    /// How many leaves hold signature key `key` (0 or 1 in a valid tree).
    pub fn signature_key_count(&mut self, key: &[u8]) -> u32 {
        self.build_index();
        match &self.key_index {
            Some(index) => index.count(KeyKind::Signature, key, &self.nodes),
            None => unreachable!(),
        }
    }

    /// Build the index if there is none: one pass over the tree.
    pub(super) fn build_index(&mut self) {
        if self.key_index.is_none() {
            let mut index = KeyIndex::default();
            for (i, n) in self.nodes.iter().enumerate() {
                if let Some(n) = n {
                    index.insert(n, NodeIndex(i as u32));
                }
            }
            self.key_index = Some(index);
        }
    }
}

/// Which key of a node an index look-up is about.
#[derive(Debug, Clone, Copy)]
enum KeyKind {
    /// The HPKE encryption key (leaves and parents).
    Encryption,
    /// The signature key (leaves only).
    Signature,
}

impl KeyKind {
    fn of(self, node: &Node) -> Option<&[u8]> {
        match (self, node) {
            (KeyKind::Encryption, Node::Leaf(l)) => Some(l.encryption_key.as_slice()),
            (KeyKind::Encryption, Node::Parent(p)) => Some(p.encryption_key.as_slice()),
            (KeyKind::Signature, Node::Leaf(l)) => Some(l.signature_key.as_slice()),
            (KeyKind::Signature, Node::Parent(_)) => None,
        }
    }
}

/// Multiset of the keys in the tree, as the positions of the nodes holding them.
///
/// The maps hold a 64-bit hash of each key (keyed per index with a random [`RandomState`],
/// so members cannot aim keys at one bucket) and the node index of one holder; every hit is
/// confirmed against the key stored in the node, so counts are exact whatever collides.
/// Further nodes with the same hash (the same key twice, or a 64-bit collision) go to the
/// rarely used `more` lists. That is 16 bytes per key and no allocation, where a map of
/// owned keys would cost ~24 bytes plus a ~48-byte key allocation per key (~12 MB at 50,000
/// members, for ~100,000 encryption and ~50,000 signature keys).
#[derive(Debug, Clone, Default)]
pub(super) struct KeyIndex {
    state: RandomState,
    enc: HashMap<u64, u32>,
    sig: HashMap<u64, u32>,
    more_enc: HashMap<u64, Vec<u32>>,
    more_sig: HashMap<u64, Vec<u32>>,
}

impl KeyIndex {
    fn maps(&mut self, kind: KeyKind) -> (&mut HashMap<u64, u32>, &mut HashMap<u64, Vec<u32>>) {
        match kind {
            KeyKind::Encryption => (&mut self.enc, &mut self.more_enc),
            KeyKind::Signature => (&mut self.sig, &mut self.more_sig),
        }
    }

    /// Number of nodes in `nodes` holding `key` as their `kind` key.
    fn count(&self, kind: KeyKind, key: &[u8], nodes: &[Option<Node>]) -> u32 {
        let (first, more) = match kind {
            KeyKind::Encryption => (&self.enc, &self.more_enc),
            KeyKind::Signature => (&self.sig, &self.more_sig),
        };
        let h = self.state.hash_one(key);
        let holds = |x: &u32| {
            nodes
                .get(*x as usize)
                .and_then(Option::as_ref)
                .and_then(|n| kind.of(n))
                == Some(key)
        };
        let extra = more
            .get(&h)
            .map_or(0, |v| v.iter().filter(|x| holds(x)).count());
        u32::from(first.get(&h).is_some_and(holds)) + extra as u32
    }

    pub(super) fn insert(&mut self, node: &Node, x: NodeIndex) {
        for kind in [KeyKind::Encryption, KeyKind::Signature] {
            let Some(key) = kind.of(node) else { continue };
            let h = self.state.hash_one(key);
            let (first, more) = self.maps(kind);
            match first.entry(h) {
                Entry::Vacant(e) => {
                    e.insert(x.0);
                }
                Entry::Occupied(_) => more.entry(h).or_default().push(x.0),
            }
        }
    }

    pub(super) fn remove(&mut self, node: &Node, x: NodeIndex) {
        for kind in [KeyKind::Encryption, KeyKind::Signature] {
            let Some(key) = kind.of(node) else { continue };
            let h = self.state.hash_one(key);
            let (first, more) = self.maps(kind);
            let mut extra = match more.entry(h) {
                Entry::Occupied(e) => Some(e),
                Entry::Vacant(_) => None,
            };
            if first.get(&h) == Some(&x.0) {
                // Promote another holder of the hash, if any.
                match extra.as_mut().and_then(|e| e.get_mut().pop()) {
                    Some(y) => {
                        first.insert(h, y);
                    }
                    None => {
                        first.remove(&h);
                    }
                }
            } else if let Some(e) = extra.as_mut() {
                if let Some(pos) = e.get().iter().position(|&y| y == x.0) {
                    e.get_mut().swap_remove(pos);
                }
            }
            if let Some(e) = extra {
                if e.get().is_empty() {
                    e.remove();
                }
            }
        }
    }
}
