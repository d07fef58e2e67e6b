//! The keys in the tree, indexed: how many nodes hold a given HPKE key, and how many leaves a
//! given signature key, without scanning the tree (RFC 9420 §7.3: keys must be unique).
//!
//! A commit or a processed commit checks every new key against the tree; with the index that
//! is a hash look-up each, not an O(n) scan per commit. The index is built when a tree is
//! decoded (or on first use for a new group's tree) and kept in step by every node write.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::node::{NodeRef, StoredNode};
use super::RatchetTree;
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
            // Sized once: growing would rehash every entry from its node's key again.
            let nodes = self.nodes.iter().flatten().count();
            let leaves = self.nodes.iter().flatten().filter(|n| n.is_leaf()).count();
            let mut index = KeyIndex {
                state: RandomState::new(),
                enc: HashTable::with_capacity(nodes),
                sig: HashTable::with_capacity(leaves),
                first_repeat: None,
            };
            let mut first_repeat = None;
            for (i, n) in self.nodes.iter().enumerate() {
                if n.is_some() {
                    let repeats = index.insert_with(&self.nodes, NodeIndex(i as u32), true);
                    if first_repeat.is_none() {
                        first_repeat = repeats.map(|kind| (i as u32, kind));
                    }
                }
            }
            index.first_repeat = Some(first_repeat);
            self.key_index = Some(index);
        }
    }

    /// The first node, in node order, whose key repeats an earlier node's, as
    /// [`RatchetTree::check_key_uniqueness`] defines it: `(node, 0)` for a signature key,
    /// `(node, 1)` for an encryption key. Known only from building the index until the first
    /// edit, which is when a decoded tree is validated; `None` when not known.
    pub(super) fn first_key_repeat_at_build(&self) -> Option<Option<(u32, u8)>> {
        self.key_index.as_ref().and_then(|index| index.first_repeat)
    }

    /// Forget what building the index found, as an edit does: for holding the scan that then
    /// runs equal to it.
    #[cfg(test)]
    pub(super) fn forget_key_repeats(&mut self) {
        if let Some(index) = self.key_index.as_mut() {
            index.first_repeat = None;
        }
    }
}

/// Which key of a node an index look-up is about.
#[derive(Debug, Clone, Copy)]
pub(super) enum KeyKind {
    /// The HPKE encryption key (leaves and parents).
    Encryption,
    /// The signature key (leaves only).
    Signature,
}

impl KeyKind {
    fn of(self, node: &StoredNode) -> Option<&[u8]> {
        match (self, node.view()) {
            (KeyKind::Encryption, n) => Some(n.encryption_key()),
            (KeyKind::Signature, NodeRef::Leaf(l)) => Some(l.signature_key()),
            (KeyKind::Signature, NodeRef::Parent(_)) => None,
        }
    }
}

/// Multiset of the keys in the tree, as the positions of the nodes holding them.
///
/// Each table holds bare node positions (4 bytes and a control byte per slot), placed by a
/// 64-bit hash of the key the node at that position holds, keyed per index with a random
/// [`RandomState`] so that members cannot aim keys at one bucket. Nothing of the key is
/// stored: the hash is recomputed from the node when the table grows, and every hit is
/// confirmed against the node's key, so counts are exact whatever collides, and the same key
/// twice is two entries. At 50,000 members (~100,000 encryption and ~50,000 signature keys)
/// that is under 1 MiB, where maps from a stored 64-bit hash to a position took 3.8 MiB.
#[derive(Debug, Clone, Default)]
pub(super) struct KeyIndex {
    state: RandomState,
    enc: HashTable<u32>,
    sig: HashTable<u32>,
    /// While the index holds what [`RatchetTree::build_index`] put in it, the first key
    /// repeat it met (see [`RatchetTree::first_key_repeat_at_build`]): validating a decoded
    /// tree then needs no second pass over its keys. `None` after any insert or removal.
    first_repeat: Option<Option<(u32, u8)>>,
}

impl KeyIndex {
    fn table(&self, kind: KeyKind) -> &HashTable<u32> {
        match kind {
            KeyKind::Encryption => &self.enc,
            KeyKind::Signature => &self.sig,
        }
    }

    /// Number of nodes in `nodes` holding `key` as their `kind` key.
    fn count(&self, kind: KeyKind, key: &[u8], nodes: &[Option<StoredNode>]) -> u32 {
        let h = self.state.hash_one(key);
        self.table(kind)
            .iter_hash(h)
            .filter(|&&x| key_at(nodes, kind, x) == Some(key))
            .count() as u32
    }

    /// Index the keys of the node at `x`, which `nodes` already holds.
    pub(super) fn insert(&mut self, nodes: &[Option<StoredNode>], x: NodeIndex) {
        self.insert_with(nodes, x, false);
    }

    /// [`KeyIndex::insert`], and with `note_repeats` whether a key of the node was already
    /// indexed: `Some(0)` if its signature key was (a leaf's), else `Some(1)` if its encryption
    /// key was. Building the index notes them; an edit does not pay for the look-up.
    fn insert_with(
        &mut self,
        nodes: &[Option<StoredNode>],
        x: NodeIndex,
        note_repeats: bool,
    ) -> Option<u8> {
        self.first_repeat = None;
        let node = nodes.get(x.0 as usize).and_then(Option::as_ref)?;
        let state = &self.state;
        let mut repeats = None;
        for (kind, table, repeat) in [
            (KeyKind::Encryption, &mut self.enc, 1),
            (KeyKind::Signature, &mut self.sig, 0),
        ] {
            let Some(key) = kind.of(node) else { continue };
            let h = state.hash_one(key);
            if note_repeats
                && table
                    .find(h, |&v| key_at(nodes, kind, v) == Some(key))
                    .is_some()
            {
                repeats = Some(repeats.map_or(repeat, |r: u8| r.min(repeat)));
            }
            // Growing the table rehashes every entry from the key its node holds now; every
            // indexed position holds a node (the caller removes a node's entries before it
            // blanks or replaces it).
            table.insert_unique(h, x.0, |&v| {
                key_at(nodes, kind, v).map_or(0, |k| state.hash_one(k))
            });
        }
        repeats
    }

    /// Drop the entries of `node`, which `nodes` holds at `x`.
    pub(super) fn remove(&mut self, node: &StoredNode, x: NodeIndex) {
        self.first_repeat = None;
        for (kind, table) in [
            (KeyKind::Encryption, &mut self.enc),
            (KeyKind::Signature, &mut self.sig),
        ] {
            let Some(key) = kind.of(node) else { continue };
            if let Ok(entry) = table.find_entry(self.state.hash_one(key), |&v| v == x.0) {
                entry.remove();
            }
        }
    }
}

/// The `kind` key of the node at position `x`, if any.
fn key_at(nodes: &[Option<StoredNode>], kind: KeyKind, x: u32) -> Option<&[u8]> {
    nodes.get(x as usize)?.as_ref().and_then(|n| kind.of(n))
}
