//! TreeKEM (RFC 9420 §7.4–§7.6, §7.9, §12.4.2): creating an UpdatePath as a committer and
//! processing one as a receiver, plus a member's private TreeKEM state.
//!
//! - [`TreeKemPrivate`]: a member's leaf HPKE private key and the private keys of the nodes on
//!   its direct path (zeroized on drop, never printed).
//! - Committer: [`plan_update_path`] derives the path secrets, key pairs, parent hashes and the
//!   signed leaf ([`PathPlan`]); the caller merges it into the tree ([`PathPlan::merge`]),
//!   computes the provisional GroupContext with the new tree hash, and seals the path secrets
//!   ([`PathPlan::seal`]: one batch of independent HPKE seals on an
//!   [`Executor`](crate::Executor), the GroupContext hashed once for all of them).
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
