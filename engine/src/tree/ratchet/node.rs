//! Nodes as the tree stores them: each non-blank node is its own wire encoding (`Node`:
//! `node_type`, then the `LeafNode` or `ParentNode`), one allocation of exactly those bytes.
//!
//! # Why encoded
//!
//! Decoded, a leaf is a 272-byte struct with seven small heap allocations of its own (keys,
//! identity, capability lists, signature) and a parent node three, and every slot of the
//! array, blank or not, is as wide as the widest node. At 50,000 members that was 45 MiB for
//! a tree whose wire form is 12.1 MiB. Encoded, a node is its wire bytes plus one allocation
//! header, and a slot is a 16-byte pointer.
//!
//! The bytes are also what the tree's work needs most: a tree hash input is a node's
//! encoding behind a few header bytes, the `ratchet_tree` extension is the nodes'
//! encodings behind presence bytes, and a LeafNodeTBS starts with the leaf's encoding minus
//! its signature. The fields that are read often (encryption and signature keys, a parent's
//! parent hash and unmerged leaves, a leaf's credential type) are read in place by the views
//! [`LeafRef`] and [`ParentRef`], which skip from field to field by the length headers; the
//! rest decodes on demand ([`LeafRef::decode`]).
//!
//! # Invariant
//!
//! A [`StoredNode`] is only made by encoding a [`Node`] ([`StoredNode::encode`] and its
//! siblings), or from the bytes a [`Node`] was just decoded from
//! ([`StoredNode::decoded_from`]), which are the same bytes: the codec decodes only minimal
//! encodings (minimal length headers, presence bytes 0 and 1, known enum values), so
//! decoding then encoding gives back the input. Either way its bytes are a well-formed
//! encoding that the codec decodes back to the same node. The views rely on that: a malformed
//! length header cannot occur, and the few places that would meet one say so.

use core::ops::Range;

use crate::codec::{self, CodecError, LeafNode, LeafNodeSource, Node, NodeType, ParentNode};

/// One non-blank node of a tree: the wire encoding of a [`Node`] (its `node_type` first).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredNode(Box<[u8]>);

impl core::fmt::Debug for StoredNode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("StoredNode").field(&self.view()).finish()
    }
}

impl StoredNode {
    /// `node`, encoded.
    pub fn encode(node: &Node) -> Result<Self, CodecError> {
        Ok(StoredNode(codec::encode(node)?.into_boxed_slice()))
    }

    /// A node as the bytes `wire` it was just decoded from (`node_type` first; the decoded node
    /// is asked for so that no other bytes are passed): what [`StoredNode::encode`] gives
    /// (module docs), without encoding it again. `engine/tests/tree_from_bytes.rs` holds the
    /// two equal on every vector tree and thousands of mutated ones; checking it here, even in
    /// debug builds only, would cost the encoding this saves in the gate's measured build.
    pub fn decoded_from(_decoded: &Node, wire: &[u8]) -> Self {
        StoredNode(wire.into())
    }

    /// The leaf node `leaf`, encoded (no copy of the struct).
    pub fn encode_leaf(leaf: &LeafNode) -> Result<Self, CodecError> {
        Self::with_type(NodeType::Leaf, leaf)
    }

    /// The parent node `parent`, encoded.
    pub fn encode_parent(parent: &ParentNode) -> Result<Self, CodecError> {
        Self::with_type(NodeType::Parent, parent)
    }

    fn with_type<T: codec::Serialize>(t: NodeType, body: &T) -> Result<Self, CodecError> {
        let mut out = Vec::with_capacity(1 + body.tls_serialized_len());
        codec::encode_into(&t, &mut out)?;
        codec::encode_into(body, &mut out)?;
        Ok(StoredNode(out.into_boxed_slice()))
    }

    /// The wire encoding of the node (`node_type`, then the node).
    pub fn encoded(&self) -> &[u8] {
        &self.0
    }

    /// A view of the node's fields.
    pub fn view(&self) -> NodeRef<'_> {
        NodeRef::of(&self.0)
    }

    /// True for a leaf node.
    pub fn is_leaf(&self) -> bool {
        self.0.first() == Some(&(NodeType::Leaf.value()))
    }

    /// The node decoded.
    pub fn to_node(&self) -> Node {
        match self.view() {
            NodeRef::Leaf(l) => Node::Leaf(Box::new(l.decode())),
            NodeRef::Parent(p) => Node::Parent(p.decode()),
        }
    }
}

/// A stored node, borrowed: a leaf or a parent.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum NodeRef<'a> {
    /// A leaf node.
    Leaf(LeafRef<'a>),
    /// A parent node.
    Parent(ParentRef<'a>),
}

impl core::fmt::Debug for NodeRef<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NodeRef::Leaf(l) => l.fmt(f),
            NodeRef::Parent(p) => p.fmt(f),
        }
    }
}

impl<'a> NodeRef<'a> {
    /// The view of `encoded`, a [`StoredNode`]'s bytes.
    fn of(encoded: &'a [u8]) -> Self {
        if encoded.first() == Some(&(NodeType::Leaf.value())) {
            NodeRef::Leaf(LeafRef { node: encoded })
        } else {
            NodeRef::Parent(ParentRef { node: encoded })
        }
    }

    /// The wire encoding of the node (`node_type`, then the node).
    pub fn encoded(&self) -> &'a [u8] {
        match self {
            NodeRef::Leaf(l) => l.node,
            NodeRef::Parent(p) => p.node,
        }
    }

    /// The node's HPKE public key.
    pub fn encryption_key(&self) -> &'a [u8] {
        match self {
            NodeRef::Leaf(l) => l.encryption_key(),
            NodeRef::Parent(p) => p.encryption_key(),
        }
    }

    /// The node decoded.
    pub fn to_node(self) -> Node {
        match self {
            NodeRef::Leaf(l) => Node::Leaf(Box::new(l.decode())),
            NodeRef::Parent(p) => Node::Parent(p.decode()),
        }
    }
}

/// A stored leaf node, borrowed. Its fields are read from the encoding in place.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LeafRef<'a> {
    /// `node_type` (leaf), then the `LeafNode`.
    node: &'a [u8],
}

impl core::fmt::Debug for LeafRef<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.decode().fmt(f)
    }
}

impl<'a> LeafRef<'a> {
    /// The `LeafNode` encoding.
    pub fn body(&self) -> &'a [u8] {
        &self.node[1..]
    }

    /// Every field's place, found in one pass over the length headers: for code that reads
    /// more than the keys (validation reads most fields).
    pub fn parse(&self) -> ParsedLeaf<'a> {
        let b = self.body();
        let encryption_key = vl_content(b, 0);
        let signature_key = vl_content(b, encryption_key.end);
        let credential_start = signature_key.end;
        // The credential: its type, then one vector (a basic identity or x509's certificates).
        let credential = credential_start..vl_content(b, credential_start + 2).end;
        // Capabilities: versions, cipher_suites, extensions, proposals, credentials.
        let versions = vl_content(b, credential.end);
        let cipher_suites = vl_content(b, versions.end);
        let capability_extensions = vl_content(b, cipher_suites.end);
        let capability_proposals = vl_content(b, capability_extensions.end);
        let capability_credentials = vl_content(b, capability_proposals.end);
        let mut at = capability_credentials.end;
        let source = b[at];
        at += 1;
        let parent_hash = if source == LeafNodeSource::KeyPackage.value() {
            // A lifetime: two uint64.
            at += 16;
            None
        } else if source == LeafNodeSource::Commit.value() {
            let r = vl_content(b, at);
            at = r.end;
            Some(r)
        } else {
            None
        };
        let extensions = vl_content(b, at);
        ParsedLeaf {
            body: b,
            encryption_key,
            signature_key,
            credential,
            capability_extensions,
            capability_proposals,
            capability_credentials,
            source,
            parent_hash,
            signature: vl_content(b, extensions.end),
            extensions,
        }
    }

    /// The HPKE public key.
    pub fn encryption_key(&self) -> &'a [u8] {
        &self.body()[vl_content(self.body(), 0)]
    }

    /// The signature public key.
    pub fn signature_key(&self) -> &'a [u8] {
        let b = self.body();
        &b[vl_content(b, vl_content(b, 0).end)]
    }

    /// The credential's type.
    pub fn credential_type(&self) -> u16 {
        let b = self.body();
        let at = vl_content(b, vl_content(b, 0).end).end;
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    /// Whether the leaf's capabilities list credential type `t`.
    pub fn supports_credential(&self, t: u16) -> bool {
        self.parse().supports_credential(t)
    }

    /// The credential, decoded (the rest of the leaf is not).
    pub fn credential(&self) -> codec::Credential {
        self.parse().credential()
    }

    /// The `parent_hash` of a leaf whose source is `commit`; `None` for other sources.
    pub fn parent_hash(&self) -> Option<&'a [u8]> {
        self.parse().parent_hash()
    }

    /// The leaf node decoded.
    pub fn decode(&self) -> LeafNode {
        // A stored leaf is an encoding the tree made from a `LeafNode` (module invariant), so
        // it decodes.
        codec::decode(self.body()).expect("a stored leaf decodes")
    }
}

/// A stored leaf with the place of every field found ([`LeafRef::parse`]): each accessor is
/// a slice. Vector fields are the vector's content, without its header.
#[derive(Debug, Clone)]
pub struct ParsedLeaf<'a> {
    /// The `LeafNode` encoding.
    body: &'a [u8],
    encryption_key: Range<usize>,
    signature_key: Range<usize>,
    /// The whole credential: its type and its vector.
    credential: Range<usize>,
    capability_extensions: Range<usize>,
    capability_proposals: Range<usize>,
    capability_credentials: Range<usize>,
    /// The `leaf_node_source` tag.
    source: u8,
    /// The source's `parent_hash`, for a `commit` leaf.
    parent_hash: Option<Range<usize>>,
    extensions: Range<usize>,
    signature: Range<usize>,
}

impl<'a> ParsedLeaf<'a> {
    /// The HPKE public key.
    pub fn encryption_key(&self) -> &'a [u8] {
        &self.body[self.encryption_key.clone()]
    }

    /// The signature public key.
    pub fn signature_key(&self) -> &'a [u8] {
        &self.body[self.signature_key.clone()]
    }

    /// The credential's type.
    pub fn credential_type(&self) -> u16 {
        let at = self.credential.start;
        u16::from_be_bytes([self.body[at], self.body[at + 1]])
    }

    /// The credential, decoded (the rest of the leaf is not).
    pub fn credential(&self) -> codec::Credential {
        // A stored leaf is an encoding the tree made from a `LeafNode` (module invariant), so
        // its credential decodes.
        codec::decode(&self.body[self.credential.clone()])
            .expect("a stored leaf's credential decodes")
    }

    /// Whether the capabilities list extension type `t`.
    pub fn supports_extension(&self, t: u16) -> bool {
        u16s(&self.body[self.capability_extensions.clone()]).any(|x| x == t)
    }

    /// Whether the capabilities list proposal type `t`.
    pub fn supports_proposal(&self, t: u16) -> bool {
        u16s(&self.body[self.capability_proposals.clone()]).any(|x| x == t)
    }

    /// Whether the capabilities list credential type `t`.
    pub fn supports_credential(&self, t: u16) -> bool {
        u16s(&self.body[self.capability_credentials.clone()]).any(|x| x == t)
    }

    /// The `leaf_node_source` tag.
    pub fn source(&self) -> Option<LeafNodeSource> {
        LeafNodeSource::from_value(self.source)
    }

    /// The `parent_hash` of a leaf whose source is `commit`; `None` for other sources.
    pub fn parent_hash(&self) -> Option<&'a [u8]> {
        self.parent_hash.clone().map(|r| &self.body[r])
    }

    /// The types of the leaf's extensions, in order.
    pub fn extension_types(&self) -> impl Iterator<Item = u16> + 'a {
        let list = &self.body[self.extensions.clone()];
        let mut at = 0;
        core::iter::from_fn(move || {
            let t = list.get(at..at + 2)?;
            // Each entry: its type, then its data as a vector.
            at = vl_content(list, at + 2).end;
            Some(u16::from_be_bytes([t[0], t[1]]))
        })
    }

    /// Every field of the `LeafNode` encoding before `signature`: how a `LeafNodeTBS`
    /// begins.
    pub fn unsigned_body(&self) -> &'a [u8] {
        &self.body[..self.extensions.end]
    }

    /// The signature.
    pub fn signature(&self) -> &'a [u8] {
        &self.body[self.signature.clone()]
    }
}

/// A stored parent node, borrowed. Its fields are read from the encoding in place.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ParentRef<'a> {
    /// `node_type` (parent), then the `ParentNode`.
    node: &'a [u8],
}

impl core::fmt::Debug for ParentRef<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.decode().fmt(f)
    }
}

impl<'a> ParentRef<'a> {
    /// The `ParentNode` encoding.
    pub fn body(&self) -> &'a [u8] {
        &self.node[1..]
    }

    /// The HPKE public key.
    pub fn encryption_key(&self) -> &'a [u8] {
        &self.body()[vl_content(self.body(), 0)]
    }

    /// The parent hash.
    pub fn parent_hash(&self) -> &'a [u8] {
        let b = self.body();
        &b[vl_content(b, vl_content(b, 0).end)]
    }

    /// The unmerged leaves, in their (increasing) order.
    pub fn unmerged_leaves(&self) -> UnmergedLeaves<'a> {
        let b = self.body();
        let r = vl_content(b, vl_content(b, vl_content(b, 0).end).end);
        UnmergedLeaves(&b[r])
    }

    /// The parent node decoded.
    pub fn decode(&self) -> ParentNode {
        // A stored parent is an encoding the tree made from a `ParentNode` (module
        // invariant), so it decodes.
        codec::decode(self.body()).expect("a stored parent node decodes")
    }
}

/// A parent node's `unmerged_leaves`, read in place (big-endian `uint32`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnmergedLeaves<'a>(&'a [u8]);

impl<'a> UnmergedLeaves<'a> {
    /// How many.
    pub fn len(&self) -> usize {
        self.0.len() / 4
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `i`-th.
    pub fn get(&self, i: usize) -> Option<u32> {
        let b = self.0.get(4 * i..4 * i + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// In order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + 'a {
        self.0
            .chunks_exact(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Binary search, as [`slice::binary_search`] on the list (meaningful on a sorted list,
    /// which a valid tree's are).
    pub fn binary_search(&self, leaf: u32) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid).map(|v| v.cmp(&leaf)) {
                Some(core::cmp::Ordering::Less) => lo = mid + 1,
                Some(core::cmp::Ordering::Greater) => hi = mid,
                _ => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// Whether `leaf` is in the (sorted) list.
    pub fn contains(&self, leaf: u32) -> bool {
        self.binary_search(leaf).is_ok()
    }

    /// As a vector.
    pub fn to_vec(self) -> Vec<u32> {
        self.iter().collect()
    }
}

/// A list of big-endian `uint16`s.
fn u16s(b: &[u8]) -> impl Iterator<Item = u16> + '_ {
    b.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]))
}

/// The content of the variable-length vector whose header starts at `at` in `b` (RFC 9420
/// §2.1.2: the top two bits of the first byte give the header's size, 1, 2 or 4 bytes).
/// Stored nodes are well-formed, minimal encodings (module invariant), so the header is
/// read without the checks of [`codec::decode_varint_length`], which decoding the node in
/// the first place made; a malformed one would index out of the node and panic.
#[inline]
fn vl_content(b: &[u8], at: usize) -> Range<usize> {
    let first = b[at];
    let low = usize::from(first & 0x3f);
    let (len, head) = match first >> 6 {
        0 => (low, 1),
        1 => ((low << 8) | usize::from(b[at + 1]), 2),
        _ => (
            (low << 24)
                | (usize::from(b[at + 1]) << 16)
                | (usize::from(b[at + 2]) << 8)
                | usize::from(b[at + 3]),
            4,
        ),
    };
    let start = at + head;
    start..start + len
}

/// The bytes of a `optional<Node>` in a `ratchet_tree` vector: presence, then the node.
pub(super) fn optional_len(node: Option<&StoredNode>) -> usize {
    1 + node.map_or(0, |n| n.0.len())
}

/// `TreeHashInput` (RFC 9420 §7.8) of the leaf slot `leaf_index` holding `node`, written to
/// `out`: the same bytes as encoding `TreeHashInput::Leaf`, from the stored encoding.
pub(super) fn leaf_hash_input(leaf_index: u32, node: Option<&StoredNode>, out: &mut Vec<u8>) {
    out.clear();
    out.reserve(6 + node.map_or(0, |n| n.0.len()));
    out.push(NodeType::Leaf.value());
    out.extend_from_slice(&leaf_index.to_be_bytes());
    push_optional_body(node, out);
}

/// `TreeHashInput` (RFC 9420 §7.8) of a parent slot holding `node` with child tree hashes
/// `left` and `right`, written to `out`: the same bytes as encoding `TreeHashInput::Parent`.
pub(super) fn parent_hash_input(
    node: Option<&StoredNode>,
    left: &[u8],
    right: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    out.clear();
    out.reserve(10 + node.map_or(0, |n| n.0.len()) + left.len() + right.len());
    out.push(NodeType::Parent.value());
    push_optional_body(node, out);
    for h in [left, right] {
        codec::encode_varint_length(h.len(), out)?;
        out.extend_from_slice(h);
    }
    Ok(())
}

/// `optional<LeafNode>` or `optional<ParentNode>`: presence, then the node without its type.
fn push_optional_body(node: Option<&StoredNode>, out: &mut Vec<u8>) {
    match node {
        Some(n) => {
            out.push(1);
            out.extend_from_slice(&n.0[1..]);
        }
        None => out.push(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{
        Capabilities, CipherSuiteId, Credential, CredentialType, Extension, ExtensionType,
        HpkePublicKey, LeafNodeSourceData, Lifetime, ProtocolVersion, SignaturePublicKey,
    };

    fn leaf(source: LeafNodeSourceData, credential: Credential) -> LeafNode {
        LeafNode {
            encryption_key: HpkePublicKey(vec![1; 32].into()),
            signature_key: SignaturePublicKey(vec![2; 57].into()),
            credential,
            capabilities: Capabilities {
                versions: vec![ProtocolVersion::MLS10],
                cipher_suites: vec![CipherSuiteId(1), CipherSuiteId(7)],
                extensions: vec![ExtensionType(0xff00)],
                proposals: vec![codec::ProposalType(0x0a0a)],
                credentials: vec![CredentialType::BASIC, CredentialType::X509],
            },
            leaf_node_source: source,
            extensions: vec![
                Extension {
                    extension_type: ExtensionType(0xff00),
                    extension_data: vec![9; 70].into(),
                },
                Extension {
                    extension_type: ExtensionType(0xff01),
                    extension_data: vec![10; 300].into(),
                },
            ],
            signature: vec![3; 114].into(),
        }
    }

    /// Every field a view reads in place equals the decoded node's, for every leaf source,
    /// both credential kinds and key lengths other than 32, and every stored node decodes to
    /// the node it was made from.
    #[test]
    fn views_read_the_fields_of_the_encoding() {
        let sources = [
            LeafNodeSourceData::KeyPackage {
                lifetime: Lifetime {
                    not_before: 1,
                    not_after: 2,
                },
            },
            LeafNodeSourceData::Update,
            LeafNodeSourceData::Commit {
                parent_hash: vec![4; 48].into(),
            },
        ];
        let credentials = [
            Credential::Basic {
                identity: vec![5; 300].into(),
            },
            Credential::X509 {
                certificates: vec![
                    codec::Certificate {
                        cert_data: vec![6; 20].into(),
                    };
                    3
                ],
            },
        ];
        for source in &sources {
            for credential in &credentials {
                let l = leaf(source.clone(), credential.clone());
                let stored = StoredNode::encode_leaf(&l).unwrap();
                assert_eq!(stored, StoredNode::encode(&Node::Leaf(Box::new(l.clone()))).unwrap());
                assert!(stored.is_leaf());
                let NodeRef::Leaf(v) = stored.view() else {
                    panic!("a leaf")
                };
                assert_eq!(v.decode(), l);
                assert_eq!(v.encryption_key(), l.encryption_key.as_slice());
                assert_eq!(v.signature_key(), l.signature_key.as_slice());
                assert_eq!(v.credential_type(), l.credential.credential_type().0);
                assert!(v.supports_credential(CredentialType::X509.0));
                assert!(!v.supports_credential(3));
                assert_eq!(v.credential(), l.credential);
                let expected_ph = match &l.leaf_node_source {
                    LeafNodeSourceData::Commit { parent_hash } => Some(parent_hash.as_slice()),
                    _ => None,
                };
                assert_eq!(v.parent_hash(), expected_ph);
                let pl = v.parse();
                assert_eq!(pl.encryption_key(), l.encryption_key.as_slice());
                assert_eq!(pl.signature_key(), l.signature_key.as_slice());
                assert_eq!(pl.credential_type(), l.credential.credential_type().0);
                assert_eq!(pl.credential(), l.credential);
                assert_eq!(pl.source(), Some(l.leaf_node_source.source()));
                assert_eq!(pl.parent_hash(), expected_ph);
                assert_eq!(
                    pl.extension_types().collect::<Vec<_>>(),
                    l.extensions.iter().map(|e| e.extension_type.0).collect::<Vec<_>>()
                );
                for t in [0u16, 1, 2, 3, 0xff00, 0xff01] {
                    let has = |list: &[_]| list.iter().any(|x: &codec::ExtensionType| x.0 == t);
                    assert_eq!(pl.supports_extension(t), has(&l.capabilities.extensions));
                    assert_eq!(
                        pl.supports_proposal(t),
                        l.capabilities.proposals.iter().any(|x| x.0 == t)
                    );
                    assert_eq!(
                        pl.supports_credential(t),
                        l.capabilities.credentials.iter().any(|x| x.0 == t)
                    );
                }
                assert_eq!(pl.signature(), l.signature.as_slice());
                let full = codec::encode(&l).unwrap();
                let signature = codec::encode(&l.signature).unwrap();
                assert_eq!(pl.unsigned_body(), &full[..full.len() - signature.len()]);
                assert_eq!(v.body(), &full[..]);
                assert_eq!(stored.to_node(), Node::Leaf(Box::new(l)));
            }
        }
        for unmerged in [vec![], vec![3], vec![1, 5, 9, 70_000]] {
            let p = ParentNode {
                encryption_key: HpkePublicKey(vec![7; 56].into()),
                parent_hash: vec![8; 64].into(),
                unmerged_leaves: unmerged.clone(),
            };
            let stored = StoredNode::encode_parent(&p).unwrap();
            assert!(!stored.is_leaf());
            let NodeRef::Parent(v) = stored.view() else {
                panic!("a parent")
            };
            assert_eq!(v.encryption_key(), p.encryption_key.as_slice());
            assert_eq!(stored.view().encryption_key(), p.encryption_key.as_slice());
            assert_eq!(v.parent_hash(), p.parent_hash.as_slice());
            assert_eq!(v.unmerged_leaves().to_vec(), unmerged);
            assert_eq!(v.unmerged_leaves().len(), unmerged.len());
            for probe in 0..80_000 {
                assert_eq!(
                    v.unmerged_leaves().binary_search(probe),
                    unmerged.binary_search(&probe),
                    "{probe}"
                );
            }
            assert_eq!(v.decode(), p);
            assert_eq!(stored.to_node(), Node::Parent(p));
        }
    }
}
