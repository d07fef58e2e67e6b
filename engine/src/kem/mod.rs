//! TreeKEM (RFC 9420 §7.4–§7.6, §7.9, §12.4.2): creating an UpdatePath as a committer and
//! processing one as a receiver, plus a member's private TreeKEM state.
//!
//! - [`TreeKemPrivate`]: a member's leaf HPKE private key and the private keys of the nodes on
//!   its direct path (zeroized on drop, never printed).
//! - Committer: [`plan_update_path`] derives the path secrets, key pairs, parent hashes and the
//!   signed leaf ([`PathPlan`]); the caller merges it into the tree ([`PathPlan::merge`]),
//!   computes the provisional GroupContext with the new tree hash, and seals the path secrets
//!   ([`PathPlan::seal`]: one batch of independent HPKE seals on an
//!   [`Executor`](crate::batch::Executor), the GroupContext hashed once for all of them).
//!   This is the one seal path: a group's commit and [`generate_update_path`], which does all
//!   of the above in one call, both use it.
//! - Receiver: [`StagedPath::stage`] checks an UpdatePath against the tree and computes the
//!   merge; [`process_update_path`] merges it, decrypts the path secret and
//!   returns the `commit_secret` and the receiver's new private state. A failure leaves the
//!   tree as it was.
//!
// # Internal documentation
//
// Merging an UpdatePath only touches the sender's leaf and direct path, and the copath
// subtrees it hashes are never modified by it. So every public value of the merge (the new
// parent nodes and their parent hashes) is computed against the unmodified tree, then written
// in one step under the tree's journal (`RatchetTree::all_or_nothing`), which keeps the
// O(log n) nodes it replaces; a later failure puts them back. No O(n) clone of the tree is
// made, and a group's commit, whose journal is already open, undoes the merge with the rest.
//
// Seeds for the HPKE ephemeral keys, when made deterministic, are derived from the position
// (filtered-direct-path index, recipient index), never from a shared stream, so the order in
// which parallel seal jobs run cannot change the output bytes.

mod private;
mod update_path;

pub use private::TreeKemPrivate;
pub use update_path::{
    generate_update_path, plan_update_path, process_update_path, DecryptedPath, Ephemeral,
    GeneratedPath, PathParams, PathPlan, ProcessedPath, SealJob, StagedPath,
};

use thiserror::Error as ThisError;

use crate::crypto::CryptoError;
use crate::tree::NodeIndex;

/// Why an UpdatePath could not be created or processed. Each variant names the RFC 9420 step
/// that failed.
#[derive(Debug, ThisError)]
#[non_exhaustive]
pub enum TreeKemError {
    /// §7.6: an `encrypted_path_secret` vector whose length differs from the size of the
    /// copath child's resolution (new leaves excluded).
    #[error("UpdatePath node for {node:?}: {got} ciphertexts, resolution has {expected}")]
    CiphertextCount {
        /// The filtered-direct-path node.
        node: NodeIndex,
        /// Size of the resolution of its copath child, new leaves excluded.
        expected: usize,
        /// Ciphertexts sent.
        got: usize,
    },
    /// §7.5: the path secret for `node` could not be decrypted.
    #[error("cannot decrypt the path secret for {node:?}: {source}")]
    Decryption {
        /// The filtered-direct-path node whose secret was sent.
        node: NodeIndex,
        /// What HPKE reported.
        source: CryptoError,
    },
    /// A codec, crypto or tree error from the layers below.
    #[error(transparent)]
    Engine(#[from] crate::Error),
    /// §7.3, §12.4.2: the new leaf's signature over LeafNodeTBS does not verify.
    #[error("the UpdatePath leaf node signature is invalid")]
    LeafSignature,
    /// §12.4.2: the UpdatePath's leaf node has a `leaf_node_source` other than `commit`.
    #[error("the UpdatePath leaf node source is not commit")]
    LeafSource,
    /// §7.5: the receiver holds no private key for any node of the resolution the path secret
    /// was encrypted to (it is not in the group, or was added by this very commit).
    #[error("no private key for the resolution of the copath node {copath:?}")]
    NoPrivateKey {
        /// The copath child whose resolution was searched.
        copath: NodeIndex,
    },
    /// §7.5, §7.9.2: the leaf's `parent_hash` differs from the recomputed one.
    #[error("the UpdatePath leaf parent_hash does not match the recomputed parent hash")]
    ParentHashMismatch,
    /// §7.6: the UpdatePath has a node count different from the filtered direct path's length.
    #[error("UpdatePath has {got} nodes, the filtered direct path has {expected}")]
    PathLength {
        /// Length of the sender's filtered direct path.
        expected: usize,
        /// Nodes sent.
        got: usize,
    },
    /// A private key of the member's state does not match the public key in the tree at
    /// `node` (or the node is blank).
    #[error("private key for {node:?} does not match the tree")]
    PrivateKeyMismatch {
        /// The node.
        node: NodeIndex,
    },
    /// §7.5 step 6: a public key derived from the decrypted path secret differs from the one
    /// in the UpdatePath.
    #[error("derived public key for {node:?} differs from the UpdatePath's")]
    PublicKeyMismatch {
        /// The filtered-direct-path node.
        node: NodeIndex,
    },
    /// A member cannot process its own UpdatePath.
    #[error("the receiver is the UpdatePath's sender")]
    ReceiverIsSender,
    /// The sender's leaf is blank in the tree.
    #[error("sender leaf {leaf} is blank")]
    SenderLeafBlank {
        /// The sender's leaf index.
        leaf: u32,
    },
    /// The signature private key given to sign the new leaf does not match its
    /// `signature_key`.
    #[error("the signer does not match the leaf node's signature key")]
    SignerMismatch,
}

impl From<CryptoError> for TreeKemError {
    fn from(e: CryptoError) -> Self {
        TreeKemError::Engine(e.into())
    }
}

impl From<crate::codec::CodecError> for TreeKemError {
    fn from(e: crate::codec::CodecError) -> Self {
        TreeKemError::Engine(e.into())
    }
}

impl From<crate::tree::TreeError> for TreeKemError {
    fn from(e: crate::tree::TreeError) -> Self {
        TreeKemError::Engine(e.into())
    }
}
