//! The public ratchet tree (RFC 9420 §4, §7): node storage, resolutions, tree hashes cached per
//! node, parent hashes, full validation and the Add/Update/Remove edits.
//
// # Internal documentation
//
// The tree is always full (RFC 9420 §7.8): `n_leaves` is a power of two and `nodes` holds
// `2 * n_leaves - 1` entries in array (in-order) layout. Blank nodes are `None`. A non-blank
// node is stored as its wire encoding in one allocation (`node`), so a slot is a 16-byte
// pointer and a node costs its wire size: 20 MiB for a 50,000-member tree, hash cache and key
// index included, where decoded nodes in 72-byte slots took 45 MiB.
//
// Beside the nodes, the tree keeps structures derived from them: per-subtree fill counts,
// the tree-hash cache, the key index, a blank-leaf hint and, while open, the journal. Each
// concept is one submodule of `impl RatchetTree` blocks over the fields defined here:
//
// - `node`: a node as stored (its encoding) and the views that read its fields in place;
// - `storage`: building a tree, its wire form, reading nodes, and `write`, the one place a
//   node is written, which keeps every derived structure in step;
// - `resolution`: resolutions and filtered direct paths (§4.1);
// - `hashes`: the tree-hash cache and its recomputation (§7.8);
// - `parent_hash`: parent hashes and their verification (§7.9);
// - `edits`: Add, Update, Remove and the node writes of an UpdatePath merge (§7.7, §12.1);
// - `journal`: all-or-nothing edits (rollback, redo);
// - `key_index`: the keys in the tree, for uniqueness checks without a scan (§7.3);
// - `validate`: full validation of a received tree (§7.9.2, §12.4.3.1), serial or parallel;
// - `leaf`: validation of one LeafNode (§7.3).

mod edits;
mod hashes;
mod journal;
mod key_index;
mod leaf;
mod node;
mod parent_hash;
mod resolution;
mod storage;
mod validate;

pub use edits::RESERVE_MIN_LEAVES;
pub use journal::TreeRedo;
pub(crate) use leaf::{check_leaf_contents, LeafFields};
pub use leaf::validate_leaf_node;
pub use node::{LeafRef, NodeRef, ParentRef, ParsedLeaf, StoredNode, UnmergedLeaves};

use journal::JournalEntry;
use key_index::KeyIndex;

/// Subtrees of at most this many nodes are processed by one task in the subtree recursions of
/// validation (tree hashes, parent-hash structure): a tree hash is about a microsecond of work
/// per node, so a task carries a few hundred microseconds. (Tiny under `cfg(test)`, so that
/// small test trees split too.)
const SUBTREE_CUTOFF_NODES: usize = if cfg!(test) { 3 } else { 511 };
/// Items per task for the cheap per-node checks of validation (unmerged leaves, parent-hash
/// candidates).
const NODE_CUTOFF: usize = if cfg!(test) { 2 } else { 1024 };

/// The public state of a ratchet tree, with cached tree hashes.
#[derive(Clone)]
pub struct RatchetTree {
    /// The nodes in array (in-order) layout, `2 * n_leaves - 1` of them; blank is `None`.
    nodes: Vec<Option<StoredNode>>,
    /// A power of two (the tree is full, §7.8); trailing leaves may be blank.
    n_leaves: u32,
    /// The suite's hash length: the bytes of one cached tree hash.
    hash_len: usize,
    /// The cached tree hash of every node, `hash_len` bytes each (see `hashes`).
    hashes: Vec<u8>,
    /// Which cached tree hashes are current.
    hash_valid: Vec<bool>,
    /// Number of non-blank nodes in the subtree of each node, kept by `write` and `resize`,
    /// so "is this resolution empty?" is one look-up instead of a walk over a blank subtree
    /// (at 50,001 members the tree is 65,536 leaves wide, and without the counts every
    /// filtered direct path of a leaf on the left would walk the ~15,500 blank leaves on the
    /// right).
    filled: Vec<u32>,
    /// Every leaf below this index is non-blank (see [`RatchetTree::add_leaf`]).
    first_blank_hint: u32,
    /// How many leaves have each credential type, by type (a handful of entries), kept by
    /// `write`: the credential types in use without a walk over the leaves, which every
    /// commit that adds or updates a leaf needs (RFC 9420 §7.3).
    credential_types: Vec<(u16, u32)>,
    /// Open journal of edits, newest last (see [`RatchetTree::begin_journal`]).
    journal: Option<Vec<JournalEntry>>,
    /// Index of the keys in the tree: built when a tree is decoded, on first use for a tree
    /// made with [`RatchetTree::new`], and kept in step by `write` from then on.
    key_index: Option<KeyIndex>,
}

impl core::fmt::Debug for RatchetTree {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let filled = self.nodes.iter().filter(|n| n.is_some()).count();
        f.debug_struct("RatchetTree")
            .field("n_leaves", &self.n_leaves)
            .field("non_blank_nodes", &filled)
            .finish()
    }
}
