//! Ratchet-tree structures and their signed / hashed inputs (RFC 9420 §§7.1–7.9, 12.4.3.3).

use std::io::{Read, Write};

use tls_codec::{
    Deserialize, Error, Serialize, Size, TlsDeserialize, TlsSerialize, TlsSize, VLByteSlice,
    VLBytes,
};

use super::SignaturePublicKey;
use super::{Capabilities, Credential, Extension, HpkePublicKey, Lifetime};

/// Size of `opaque x<V>` holding `s`.
#[inline]
pub(crate) fn vl_len(s: &[u8]) -> usize {
    VLByteSlice(s).tls_serialized_len()
}

/// Write `s` as `opaque x<V>`.
#[inline]
pub(crate) fn vl_write<W: Write>(s: &[u8], w: &mut W) -> Result<usize, Error> {
    VLByteSlice(s).tls_serialize(w)
}

wire_enum! {
    /// `LeafNodeSource` (RFC 9420 §7.2): the tag of [`LeafNodeSourceData`].
    pub enum LeafNodeSource: u8, Field::LeafNodeSource {
        /// `key_package`.
        KeyPackage = 1,
        /// `update`.
        Update = 2,
        /// `commit`.
        Commit = 3,
    }
}

/// The `leaf_node_source` field of a `LeafNode` with its `select` arm (RFC 9420 §7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeafNodeSourceData {
    /// `key_package`: the key package's lifetime.
    KeyPackage {
        /// Validity window.
        lifetime: Lifetime,
    },
    /// `update`.
    Update,
    /// `commit`: the parent hash.
    Commit {
        /// The parent hash of the leaf's parent.
        parent_hash: VLBytes,
    },
}

impl LeafNodeSourceData {
    /// The tag.
    pub fn source(&self) -> LeafNodeSource {
        match self {
            LeafNodeSourceData::KeyPackage { .. } => LeafNodeSource::KeyPackage,
            LeafNodeSourceData::Update => LeafNodeSource::Update,
            LeafNodeSourceData::Commit { .. } => LeafNodeSource::Commit,
        }
    }
}

impl Size for LeafNodeSourceData {
    fn tls_serialized_len(&self) -> usize {
        1 + match self {
            LeafNodeSourceData::KeyPackage { lifetime } => lifetime.tls_serialized_len(),
            LeafNodeSourceData::Update => 0,
            LeafNodeSourceData::Commit { parent_hash } => parent_hash.tls_serialized_len(),
        }
    }
}

impl Serialize for LeafNodeSourceData {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        let n = self.source().tls_serialize(w)?;
        Ok(n + match self {
            LeafNodeSourceData::KeyPackage { lifetime } => lifetime.tls_serialize(w)?,
            LeafNodeSourceData::Update => 0,
            LeafNodeSourceData::Commit { parent_hash } => parent_hash.tls_serialize(w)?,
        })
    }
}

impl Deserialize for LeafNodeSourceData {
    fn tls_deserialize<R: Read>(r: &mut R) -> Result<Self, Error> {
        Ok(match LeafNodeSource::tls_deserialize(r)? {
            LeafNodeSource::KeyPackage => LeafNodeSourceData::KeyPackage {
                lifetime: Lifetime::tls_deserialize(r)?,
            },
            LeafNodeSource::Update => LeafNodeSourceData::Update,
            LeafNodeSource::Commit => LeafNodeSourceData::Commit {
                parent_hash: VLBytes::tls_deserialize(r)?,
            },
        })
    }
}

/// `LeafNode` (RFC 9420 §7.2).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct LeafNode {
    /// HPKE key for TreeKEM.
    pub encryption_key: HpkePublicKey,
    /// Signature key of the member.
    pub signature_key: SignaturePublicKey,
    /// The member's credential.
    pub credential: Credential,
    /// What the member supports.
    pub capabilities: Capabilities,
    /// How the leaf was created, with the source-specific field.
    pub leaf_node_source: LeafNodeSourceData,
    /// Leaf extensions.
    pub extensions: Vec<Extension>,
    /// `SignWithLabel(., "LeafNodeTBS", LeafNodeTBS)`.
    pub signature: VLBytes,
}

impl LeafNode {
    /// Size of every field but `signature`.
    fn unsigned_len(&self) -> usize {
        self.encryption_key.tls_serialized_len()
            + self.signature_key.tls_serialized_len()
            + self.credential.tls_serialized_len()
            + self.capabilities.tls_serialized_len()
            + self.leaf_node_source.tls_serialized_len()
            + self.extensions.tls_serialized_len()
    }

    /// Write every field but `signature`.
    fn write_unsigned<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        Ok(self.encryption_key.tls_serialize(w)?
            + self.signature_key.tls_serialize(w)?
            + self.credential.tls_serialize(w)?
            + self.capabilities.tls_serialize(w)?
            + self.leaf_node_source.tls_serialize(w)?
            + self.extensions.tls_serialize(w)?)
    }
}

/// `LeafNodeTBS` (RFC 9420 §7.2), borrowing the leaf. `group_id` and `leaf_index` are
/// written only when the leaf's source is `update` or `commit` (pass anything, e.g. `&[]`
/// and 0, for a `key_package` leaf).
#[derive(Debug, Clone, Copy)]
pub struct LeafNodeTbs<'a> {
    /// The leaf (its `signature` is not covered).
    pub leaf_node: &'a LeafNode,
    /// The group the leaf belongs to (update/commit leaves only).
    pub group_id: &'a [u8],
    /// The leaf's index (update/commit leaves only).
    pub leaf_index: u32,
}

impl<'a> LeafNodeTbs<'a> {
    /// TBS for a leaf in a key package.
    pub fn key_package(leaf_node: &'a LeafNode) -> Self {
        LeafNodeTbs {
            leaf_node,
            group_id: &[],
            leaf_index: 0,
        }
    }

    /// TBS for a leaf in a group (update/commit source).
    pub fn in_group(leaf_node: &'a LeafNode, group_id: &'a [u8], leaf_index: u32) -> Self {
        LeafNodeTbs {
            leaf_node,
            group_id,
            leaf_index,
        }
    }

    fn has_group_part(&self) -> bool {
        self.leaf_node.leaf_node_source.source() != LeafNodeSource::KeyPackage
    }
}

impl Size for LeafNodeTbs<'_> {
    fn tls_serialized_len(&self) -> usize {
        let tail = if self.has_group_part() {
            vl_len(self.group_id) + 4
        } else {
            0
        };
        self.leaf_node.unsigned_len() + tail
    }
}

impl Serialize for LeafNodeTbs<'_> {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        let mut n = self.leaf_node.write_unsigned(w)?;
        if self.has_group_part() {
            n += vl_write(self.group_id, w)?;
            n += self.leaf_index.tls_serialize(w)?;
        }
        Ok(n)
    }
}

/// `ParentNode` (RFC 9420 §7.1).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct ParentNode {
    /// HPKE key of the node.
    pub encryption_key: HpkePublicKey,
    /// Hash of this node's parent.
    pub parent_hash: VLBytes,
    /// Leaves added below the node since it was last set.
    pub unmerged_leaves: Vec<u32>,
}

wire_enum! {
    /// `NodeType` (RFC 9420 §7.8, §12.4.3.3).
    pub enum NodeType: u8, Field::NodeType {
        /// `leaf`.
        Leaf = 1,
        /// `parent`.
        Parent = 2,
    }
}

/// `Node` (RFC 9420 §12.4.3.3).
///
/// The leaf is boxed: a decoded `ratchet_tree` holds one `Option<Node>` per node sent, at most
/// about half of them leaves. Inline, every slot (parent or blank too) would pay for a
/// `LeafNode` (272 bytes); boxed, a slot is the size of a `ParentNode` (72 bytes). (A
/// [`crate::tree::RatchetTree`] does not keep decoded nodes: it stores each node's encoding,
/// see `tree::ratchet::node`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// `leaf`.
    Leaf(Box<LeafNode>),
    /// `parent`.
    Parent(ParentNode),
}

impl Node {
    /// The `node_type`.
    pub fn node_type(&self) -> NodeType {
        match self {
            Node::Leaf(_) => NodeType::Leaf,
            Node::Parent(_) => NodeType::Parent,
        }
    }
}

impl Size for Node {
    fn tls_serialized_len(&self) -> usize {
        1 + match self {
            Node::Leaf(l) => l.tls_serialized_len(),
            Node::Parent(p) => p.tls_serialized_len(),
        }
    }
}

impl Serialize for Node {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        let n = self.node_type().tls_serialize(w)?;
        Ok(n + match self {
            Node::Leaf(l) => l.tls_serialize(w)?,
            Node::Parent(p) => p.tls_serialize(w)?,
        })
    }
}

impl Deserialize for Node {
    fn tls_deserialize<R: Read>(r: &mut R) -> Result<Self, Error> {
        Ok(match NodeType::tls_deserialize(r)? {
            NodeType::Leaf => Node::Leaf(Box::new(LeafNode::tls_deserialize(r)?)),
            NodeType::Parent => Node::Parent(ParentNode::tls_deserialize(r)?),
        })
    }
}

/// `optional<Node> ratchet_tree<V>` (RFC 9420 §12.4.3.3), in array-tree order.
#[derive(Debug, Clone, PartialEq, Eq, Default, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct RatchetTree(pub Vec<Option<Node>>);

/// The `signature_key` of the leaf at node `node` of a serialized `optional<Node>
/// ratchet_tree<V>` (the `ratchet_tree` extension's body), found by stepping over the nodes
/// before it by their length headers, without decoding them: about a millisecond for a
/// 50,000-member tree, where decoding takes tens. `None` if the bytes up to that leaf do not
/// have the shape of RFC 9420's `Node`s, or the node is blank or a parent.
///
/// A guess, not a check: far less is verified here than by the decoder, so a caller that acts
/// on the key must confirm it against the decoded tree (the GroupInfo's signer, checked
/// beside the tree's decoding, is).
pub fn skim_leaf_signature_key(tree: &[u8], node: u32) -> Option<&[u8]> {
    /// The content of the vector at `*pos`, moving `*pos` past it.
    fn vector<'a>(b: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
        let (len, header) = super::decode_varint_length(b.get(*pos..)?).ok()?;
        let start = *pos + header;
        let content = b.get(start..start.checked_add(len as usize)?)?;
        *pos = start + content.len();
        Some(content)
    }
    let mut pos = 0;
    let nodes = vector(tree, &mut pos)?;
    let mut pos = 0;
    for i in 0..=node {
        let present = *nodes.get(pos)?;
        pos += 1;
        match present {
            0 if i == node => return None,
            0 => continue,
            1 => {}
            _ => return None,
        }
        let node_type = *nodes.get(pos)?;
        pos += 1;
        if node_type == NodeType::Parent.value() {
            // encryption_key, parent_hash, unmerged_leaves.
            for _ in 0..3 {
                vector(nodes, &mut pos)?;
            }
            if i == node {
                return None;
            }
            continue;
        }
        if node_type != NodeType::Leaf.value() {
            return None;
        }
        vector(nodes, &mut pos)?;
        let signature_key = vector(nodes, &mut pos)?;
        if i == node {
            return Some(signature_key);
        }
        // The credential: its type, then one vector (a basic identity or x509 certificates).
        pos = pos.checked_add(2)?;
        vector(nodes, &mut pos)?;
        // Capabilities: versions, cipher suites, extensions, proposals, credentials.
        for _ in 0..5 {
            vector(nodes, &mut pos)?;
        }
        let source = *nodes.get(pos)?;
        pos += 1;
        match source {
            // A lifetime: two uint64.
            s if s == LeafNodeSource::KeyPackage.value() => pos = pos.checked_add(16)?,
            s if s == LeafNodeSource::Update.value() => {}
            s if s == LeafNodeSource::Commit.value() => {
                vector(nodes, &mut pos)?;
            }
            _ => return None,
        }
        // Extensions and the signature.
        vector(nodes, &mut pos)?;
        vector(nodes, &mut pos)?;
    }
    None
}

/// `HPKECiphertext` (RFC 9420 §7.6).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct HpkeCiphertext {
    /// HPKE encapsulated key.
    pub kem_output: VLBytes,
    /// AEAD ciphertext.
    pub ciphertext: VLBytes,
}

/// `UpdatePathNode` (RFC 9420 §7.6).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct UpdatePathNode {
    /// New public key of the node.
    pub encryption_key: HpkePublicKey,
    /// The path secret, encrypted to each resolution member of the copath child.
    pub encrypted_path_secret: Vec<HpkeCiphertext>,
}

/// `UpdatePath` (RFC 9420 §7.6).
#[derive(Debug, Clone, PartialEq, Eq, TlsSize, TlsSerialize, TlsDeserialize)]
pub struct UpdatePath {
    /// The committer's new leaf.
    pub leaf_node: LeafNode,
    /// One entry per filtered direct-path node.
    pub nodes: Vec<UpdatePathNode>,
}

/// `LeafNodeHashInput` (RFC 9420 §7.8), borrowing the leaf.
#[derive(Debug, Clone, Copy)]
pub struct LeafNodeHashInput<'a> {
    /// Leaf index.
    pub leaf_index: u32,
    /// The leaf, if not blank.
    pub leaf_node: Option<&'a LeafNode>,
}

/// `ParentNodeHashInput` (RFC 9420 §7.8), borrowing the node and child hashes.
#[derive(Debug, Clone, Copy)]
pub struct ParentNodeHashInput<'a> {
    /// The node, if not blank.
    pub parent_node: Option<&'a ParentNode>,
    /// Tree hash of the left child.
    pub left_hash: &'a [u8],
    /// Tree hash of the right child.
    pub right_hash: &'a [u8],
}

/// `TreeHashInput` (RFC 9420 §7.8).
#[derive(Debug, Clone, Copy)]
pub enum TreeHashInput<'a> {
    /// `leaf`.
    Leaf(LeafNodeHashInput<'a>),
    /// `parent`.
    Parent(ParentNodeHashInput<'a>),
}

#[inline]
fn opt_len<T: Size>(v: Option<&T>) -> usize {
    1 + v.map_or(0, Size::tls_serialized_len)
}

#[inline]
fn opt_write<T: Serialize, W: Write>(v: Option<&T>, w: &mut W) -> Result<usize, Error> {
    match v {
        Some(v) => Ok(1u8.tls_serialize(w)? + v.tls_serialize(w)?),
        None => 0u8.tls_serialize(w),
    }
}

impl Size for TreeHashInput<'_> {
    fn tls_serialized_len(&self) -> usize {
        1 + match self {
            TreeHashInput::Leaf(l) => 4 + opt_len(l.leaf_node),
            TreeHashInput::Parent(p) => {
                opt_len(p.parent_node) + vl_len(p.left_hash) + vl_len(p.right_hash)
            }
        }
    }
}

impl Serialize for TreeHashInput<'_> {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        match self {
            TreeHashInput::Leaf(l) => Ok(NodeType::Leaf.tls_serialize(w)?
                + l.leaf_index.tls_serialize(w)?
                + opt_write(l.leaf_node, w)?),
            TreeHashInput::Parent(p) => Ok(NodeType::Parent.tls_serialize(w)?
                + opt_write(p.parent_node, w)?
                + vl_write(p.left_hash, w)?
                + vl_write(p.right_hash, w)?),
        }
    }
}

/// `ParentHashInput` (RFC 9420 §7.9), borrowing its inputs.
#[derive(Debug, Clone, Copy)]
pub struct ParentHashInput<'a> {
    /// The parent's HPKE public key.
    pub encryption_key: &'a [u8],
    /// The parent's own parent hash.
    pub parent_hash: &'a [u8],
    /// Tree hash of the sibling, with the sibling's unmerged leaves removed.
    pub original_sibling_tree_hash: &'a [u8],
}

impl Size for ParentHashInput<'_> {
    fn tls_serialized_len(&self) -> usize {
        vl_len(self.encryption_key)
            + vl_len(self.parent_hash)
            + vl_len(self.original_sibling_tree_hash)
    }
}

impl Serialize for ParentHashInput<'_> {
    fn tls_serialize<W: Write>(&self, w: &mut W) -> Result<usize, Error> {
        Ok(vl_write(self.encryption_key, w)?
            + vl_write(self.parent_hash, w)?
            + vl_write(self.original_sibling_tree_hash, w)?)
    }
}
