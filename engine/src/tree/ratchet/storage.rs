//! Node storage: building a tree (a new group's, or one received on the wire), the wire form,
//! reading nodes, and writing them.
//!
//! Every node write goes through [`RatchetTree::write`], and every change of width through
//! [`RatchetTree::resize`], so the structures derived from the nodes cannot drift from them:
//! the journal records the old node, the key index and the fill counts follow, the blank-leaf
//! hint is lowered, and the node's tree hash and its ancestors' are marked stale.

use super::journal::JournalEntry;
use super::node::{self, LeafRef, NodeRef, ParentRef, StoredNode};
use super::RatchetTree;
use crate::codec::{self, LeafNode, Node, RatchetTree as WireTree};
use crate::tree::math::{self, LeafIndex, NodeIndex};
use crate::tree::TreeError;

impl RatchetTree {
    /// Build a tree from the wire form (the `ratchet_tree` extension, RFC 9420 §12.4.3.3):
    /// trailing blank nodes were omitted, so pad to the full width; the last node sent must be
    /// non-blank, leaves must sit at even and parents at odd indices.
    pub fn from_wire(wire: WireTree, hash_len: usize) -> Result<Self, TreeError> {
        let mut building = FromWire::default();
        for n in wire.0 {
            building.push(n);
        }
        building.finish(hash_len)
    }

    /// [`RatchetTree::from_wire`] of the serialized wire form (the `ratchet_tree` extension's
    /// body), decoding each node and storing it before decoding the next: the same checks and
    /// errors as `from_wire(codec::decode(bytes)?)`, but the decoded tree is never held whole.
    /// At 50,000 members that would be about 45 MiB of structs, allocated and freed beside the
    /// 12 MiB the stored nodes take.
    pub fn from_wire_bytes(bytes: &[u8], hash_len: usize) -> crate::Result<Self> {
        let mut building = FromWire::default();
        // Each node is stored as the bytes it was decoded from (after its presence byte), which
        // are its encoding: a 50,000-member tree's 100,000 nodes are not encoded again.
        codec::decode_vec_each_with_bytes(bytes, |n: Option<Node>, wire| {
            building.push_with(n, |node| Ok(StoredNode::decoded_from(node, &wire[1..])))
        })?;
        Ok(building.finish(hash_len)?)
    }

    fn from_full_nodes(nodes: Vec<Option<StoredNode>>, n_leaves: u32, hash_len: usize) -> Self {
        let width = nodes.len();
        let filled = subtree_fill_counts(&nodes);
        let mut tree = RatchetTree {
            nodes,
            n_leaves,
            hash_len,
            hashes: vec![0; width * hash_len],
            hash_valid: vec![false; width],
            filled,
            first_blank_hint: 0,
            credential_types: Vec::new(),
            journal: None,
            key_index: None,
        };
        for i in 0..tree.nodes.len() {
            tree.count_credential(NodeIndex(i as u32), true);
        }
        tree
    }

    /// A one-member tree holding `leaf` (a new group, RFC 9420 §11).
    pub fn new(leaf: &LeafNode, hash_len: usize) -> Result<Self, codec::CodecError> {
        Ok(Self::from_full_nodes(
            vec![Some(StoredNode::encode_leaf(leaf)?)],
            1,
            hash_len,
        ))
    }

    /// The number of nodes the wire form carries: up to the last non-blank one.
    fn sent_width(&self) -> usize {
        self.nodes
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |i| i + 1)
    }

    /// The wire form: the nodes with trailing blanks removed, decoded.
    pub fn to_wire(&self) -> WireTree {
        WireTree(
            self.nodes[..self.sent_width()]
                .iter()
                .map(|n| n.as_ref().map(StoredNode::to_node))
                .collect(),
        )
    }

    /// The wire form serialized (the body of the `ratchet_tree` extension): the same bytes
    /// as `codec::encode(&self.to_wire())`, but each node is stored as its encoding, so this
    /// is the vector header and, per node, a presence byte and a copy of those bytes.
    pub fn wire_bytes(&self) -> Result<Vec<u8>, codec::CodecError> {
        let mut out = Vec::with_capacity(self.wire_len());
        self.write_wire(&mut out)?;
        Ok(out)
    }

    /// Append [`RatchetTree::wire_bytes`] to `out` (for a message that carries the tree, so
    /// that the tree is written once, into the message); returns the bytes written.
    pub fn write_wire(&self, out: &mut Vec<u8>) -> Result<usize, codec::CodecError> {
        let nodes = &self.nodes[..self.sent_width()];
        let content: usize = nodes.iter().map(|n| node::optional_len(n.as_ref())).sum();
        out.reserve(codec::vl_length(content)?);
        let header = codec::encode_varint_length(content, out)?;
        for n in nodes {
            match n {
                Some(n) => {
                    out.push(1);
                    out.extend_from_slice(n.encoded());
                }
                None => out.push(0),
            }
        }
        Ok(header + content)
    }

    /// The length of [`RatchetTree::wire_bytes`], without encoding the tree.
    pub fn wire_len(&self) -> usize {
        let content: usize = self.nodes[..self.sent_width()]
            .iter()
            .map(|n| node::optional_len(n.as_ref()))
            .sum();
        // A tree is at most 2^31 nodes of bounded size, so its length always has a header.
        codec::vl_length(content).unwrap_or(content)
    }

    /// Number of leaves (a power of two; trailing leaves may be blank).
    pub fn n_leaves(&self) -> u32 {
        self.n_leaves
    }

    /// Number of nodes, `2 * n_leaves - 1`.
    pub fn width(&self) -> u32 {
        self.nodes.len() as u32
    }

    /// The root's node index.
    pub fn root(&self) -> NodeIndex {
        math::root(self.n_leaves)
    }

    /// The node at `x`, `None` if blank or out of range.
    pub fn node(&self, x: NodeIndex) -> Option<NodeRef<'_>> {
        self.stored(x).map(StoredNode::view)
    }

    /// The stored node at `x`, `None` if blank or out of range.
    pub(super) fn stored(&self, x: NodeIndex) -> Option<&StoredNode> {
        self.nodes.get(x.0 as usize).and_then(Option::as_ref)
    }

    /// True if `x` is blank (or out of range).
    pub fn is_blank(&self, x: NodeIndex) -> bool {
        self.stored(x).is_none()
    }

    /// The leaf node at `leaf`, if any.
    pub fn leaf(&self, leaf: LeafIndex) -> Option<LeafRef<'_>> {
        match self.node(leaf.node()) {
            Some(NodeRef::Leaf(l)) => Some(l),
            _ => None,
        }
    }

    /// The parent node at `x`, if any.
    pub fn parent_node(&self, x: NodeIndex) -> Option<ParentRef<'_>> {
        match self.node(x) {
            Some(NodeRef::Parent(p)) => Some(p),
            _ => None,
        }
    }

    /// The HPKE public key held at `x`, if the node is not blank.
    pub fn encryption_key(&self, x: NodeIndex) -> Option<&[u8]> {
        self.node(x).map(|n| n.encryption_key())
    }

    /// Iterate over the non-blank leaves.
    pub fn leaves(&self) -> impl Iterator<Item = (LeafIndex, LeafRef<'_>)> + '_ {
        crate::crypto::counters::leaf_walk(self.n_leaves);
        self.nodes
            .iter()
            .step_by(2)
            .enumerate()
            .filter_map(|(i, n)| match n.as_ref().map(StoredNode::view) {
                Some(NodeRef::Leaf(l)) => Some((LeafIndex(i as u32), l)),
                _ => None,
            })
    }

    /// `Ok` if `x` is a node of the tree, else [`TreeError::IndexOutOfRange`].
    pub(super) fn check_index(&self, x: NodeIndex) -> Result<(), TreeError> {
        if (x.0 as usize) < self.nodes.len() {
            Ok(())
        } else {
            Err(TreeError::IndexOutOfRange {
                index: x.0,
                width: self.width(),
            })
        }
    }

    /// The one place a node is written: keeps the journal, the key index, the blank-leaf hint
    /// and the hash cache in step. The old node moves into the open journal (no copy), or is
    /// dropped when no journal is open.
    pub(super) fn write(&mut self, x: NodeIndex, node: Option<StoredNode>) {
        if let (Some(index), Some(old)) = (self.key_index.as_mut(), &self.nodes[x.0 as usize]) {
            index.remove(old, x);
        }
        self.count_credential(x, false);
        if node.is_none() && x.is_leaf() {
            self.first_blank_hint = self.first_blank_hint.min(x.0 / 2);
        }
        let old = core::mem::replace(&mut self.nodes[x.0 as usize], node);
        if let Some(index) = self.key_index.as_mut() {
            index.insert(&self.nodes, x);
        }
        self.count_credential(x, true);
        match (old.is_some(), self.nodes[x.0 as usize].is_some()) {
            (false, true) => self.adjust_filled(x, true),
            (true, false) => self.adjust_filled(x, false),
            _ => {}
        }
        self.record(JournalEntry::Node(x, old));
        self.touch(x);
    }

    /// Count the credential type of the leaf at `x`, if any, in or (without `add`) out of
    /// the credential-type counts.
    fn count_credential(&mut self, x: NodeIndex, add: bool) {
        let Some(NodeRef::Leaf(l)) = self.node(x) else {
            return;
        };
        let t = l.credential_type();
        match self.credential_types.binary_search_by_key(&t, |&(k, _)| k) {
            Ok(i) if add => self.credential_types[i].1 += 1,
            Ok(i) => {
                self.credential_types[i].1 -= 1;
                if self.credential_types[i].1 == 0 {
                    self.credential_types.remove(i);
                }
            }
            Err(i) if add => self.credential_types.insert(i, (t, 1)),
            Err(_) => {}
        }
    }

    /// The credential types of the leaves (RFC 9420 §7.3's "credential types in use"),
    /// in increasing order, without a walk over the leaves.
    pub fn credential_types(&self) -> impl Iterator<Item = u16> + '_ {
        self.credential_types.iter().map(|&(t, _)| t)
    }

    /// Add or take one non-blank node at `x` in the counts of `x` and its ancestors.
    fn adjust_filled(&mut self, x: NodeIndex, filled: bool) {
        let mut cur = Some(x);
        while let Some(c) = cur {
            if let Some(n) = self.filled.get_mut(c.0 as usize) {
                *n = if filled { *n + 1 } else { n.saturating_sub(1) };
            }
            cur = math::parent(c, self.n_leaves);
        }
    }

    /// Set the leaf count (a power of two), growing with blank nodes or dropping the nodes
    /// beyond the new width (which the caller has checked are blank).
    pub(super) fn resize(&mut self, n_leaves: u32) {
        let old_root = self.root();
        let new_root = math::root(n_leaves);
        if n_leaves < self.n_leaves
            && self.filled.get(old_root.0 as usize) != self.filled.get(new_root.0 as usize)
        {
            // Non-blank nodes beyond the new width (only a tree with a non-blank parent above
            // blank leaves has them): blank them through `write`, so the journal records them
            // and a rollback or redo is exact, and the key index stays right.
            let new_width = math::node_width(n_leaves) as usize;
            for x in new_width..self.nodes.len() {
                if self.nodes[x].is_some() {
                    self.write(NodeIndex(x as u32), None);
                }
            }
        }
        self.record(JournalEntry::Width(self.n_leaves));
        let old_width = self.nodes.len();
        self.n_leaves = n_leaves;
        let width = math::node_width(n_leaves) as usize;
        self.nodes.resize(width, None);
        // Shrinking drops only blank nodes and keeps whole subtrees, so the kept counts stay
        // right. Growing adds blank nodes: the new right subtrees count 0 and every new
        // ancestor of the old root counts what the old root does.
        self.filled.resize(width, 0);
        if width > old_width {
            let below = self.filled[old_root.0 as usize];
            let mut cur = math::parent(old_root, n_leaves);
            while let Some(a) = cur {
                self.filled[a.0 as usize] = below;
                cur = math::parent(a, n_leaves);
            }
        }
        self.hashes.resize(width * self.hash_len, 0);
        // New positions are stale.
        self.hash_valid.resize(width, false);
    }
}

/// The number of non-blank nodes in the subtree of every node of a full (2^k − 1 wide) node
/// array, bottom-up by level: a node at level `l` has its children `2^(l−1)` to each side.
fn subtree_fill_counts(nodes: &[Option<StoredNode>]) -> Vec<u32> {
    let mut filled: Vec<u32> = nodes.iter().map(|n| u32::from(n.is_some())).collect();
    let mut level = 1u32;
    while (1usize << level) <= nodes.len() {
        let half = 1usize << (level - 1);
        let mut x = (1usize << level) - 1;
        while x < nodes.len() {
            filled[x] += filled[x - half] + filled.get(x + half).copied().unwrap_or(0);
            x += 1usize << (level + 1);
        }
        level += 1;
    }
    filled
}

/// A tree being built from its wire form, one node at a time ([`RatchetTree::from_wire`]).
/// Each node is stored as it comes; the checks that need the whole tree, and the order in
/// which their errors are reported, are [`FromWire::finish`]'s.
#[derive(Default)]
struct FromWire {
    stored: Vec<Option<StoredNode>>,
    /// The first node at a position of the other type.
    wrong_type: Option<u32>,
    /// The first node that does not encode.
    not_encoded: Option<u32>,
}

impl FromWire {
    fn push(&mut self, n: Option<Node>) {
        self.push_with(n, StoredNode::encode);
    }

    /// [`FromWire::push`] with `store` making the stored node.
    fn push_with(
        &mut self,
        n: Option<Node>,
        store: impl FnOnce(&Node) -> Result<StoredNode, codec::CodecError>,
    ) {
        let i = self.stored.len() as u32;
        let leaf_slot = i.is_multiple_of(2);
        if let Some(n) = &n {
            if matches!(n, Node::Leaf(_)) != leaf_slot {
                self.wrong_type.get_or_insert(i);
            }
        }
        let stored = n.as_ref().map(store);
        self.stored.push(match stored {
            None => None,
            Some(Ok(s)) => Some(s),
            Some(Err(_)) => {
                self.not_encoded.get_or_insert(i);
                None
            }
        });
    }

    fn finish(self, hash_len: usize) -> Result<RatchetTree, TreeError> {
        let mut stored = self.stored;
        match stored.last() {
            None => return Err(TreeError::Empty),
            Some(None) if self.not_encoded != Some(stored.len() as u32 - 1) => {
                return Err(TreeError::LastNodeBlank)
            }
            _ => {}
        }
        if stored.len() > (1usize << 31) {
            return Err(TreeError::TooLarge);
        }
        if let Some(index) = self.wrong_type {
            return Err(TreeError::WrongNodeType { index });
        }
        // RFC 9420 §12.4.3.3: the receiver extends the list to the right to the smallest
        // 2^(d+1) − 1 nodes. The last node may be a parent (odd index): the leaf to its right
        // is then blank, and the tree has one leaf more than the nodes sent. Counting
        // ⌈len / 2⌉ leaves there would size the tree one node short and drop that parent.
        let sent_leaves = stored.len() as u32 / 2 + 1;
        let n_leaves = math::full_leaf_count(sent_leaves);
        // Every later computation turns unmerged leaf indices into node indices: reject
        // out-of-range ones here, at the trust boundary, so that math cannot overflow. (A node
        // that did not encode is not looked at: a node decoded from the wire always encodes.)
        for (i, n) in stored.iter().enumerate() {
            if let Some(NodeRef::Parent(p)) = n.as_ref().map(StoredNode::view) {
                if let Some(leaf) = p.unmerged_leaves().iter().find(|&u| u >= n_leaves) {
                    return Err(TreeError::BadUnmergedLeaf {
                        index: i as u32,
                        leaf,
                    });
                }
            }
        }
        if let Some(index) = self.not_encoded {
            return Err(TreeError::NodeEncoding { index });
        }
        stored.resize(math::node_width(n_leaves) as usize, None);
        let mut tree = RatchetTree::from_full_nodes(stored, n_leaves, hash_len);
        // Build the key index now, in a pass that is O(n) anyway: built on first use, it would
        // cost the first commit the member makes or processes ~30 ms at 50,000 members, and
        // every clone of a state taken before that commit would pay it again.
        tree.build_index();
        Ok(tree)
    }
}
