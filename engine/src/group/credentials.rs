//! The application's say over credentials (RFC 9420 §5.3.1): every credential that enters the
//! group or changes in it is shown to a [`CredentialValidator`] from the group's
//! configuration before it is accepted.
//!
//! MLS authenticates that a message was signed with a leaf's key; whether that key and its
//! credential belong to the participant they claim to be is the application's decision (the
//! Authentication Service of RFC 9420 §5.3). The engine asks at every point where a
//! credential is new to the group or replaces another, including the one that matters for
//! external commits: the Remove in a resync must remove the joiner's own old leaf
//! (§12.4.3.2), which only the application can judge for non-basic credentials.

use crate::codec::Credential;
use crate::tree::LeafIndex;

/// A credential the group is about to accept, and why.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum CredentialChange<'a> {
    /// A new member from an Add proposal's KeyPackage.
    Add {
        /// The new member's credential.
        credential: &'a Credential,
    },
    /// A member replaces its leaf (an Update proposal, or the committer's path leaf) with a
    /// different credential. Not called when the credential is unchanged.
    Update {
        /// The member's leaf.
        leaf: LeafIndex,
        /// The credential it had.
        old: &'a Credential,
        /// The credential it now presents.
        new: &'a Credential,
    },
    /// A new member joins by external commit.
    ExternalJoin {
        /// The joiner's credential.
        credential: &'a Credential,
    },
    /// An external commit removes `removed` (a resync, RFC 9420 §12.4.3.2): the joiner must be
    /// the same participant as the member whose leaf it removes.
    Resync {
        /// The leaf removed.
        leaf: LeafIndex,
        /// The credential of the removed leaf.
        removed: &'a Credential,
        /// The joiner's credential.
        joiner: &'a Credential,
    },
    /// A member of a tree this member joins (from a Welcome or for an external commit).
    Existing {
        /// The member's leaf.
        leaf: LeafIndex,
        /// Its credential.
        credential: &'a Credential,
    },
}

/// The application's credential policy. Implementations must be deterministic: every member
/// of a group must reach the same verdict on the same change, or their states fork.
pub trait CredentialValidator: core::fmt::Debug + Send + Sync {
    /// Whether the group may accept `change`.
    fn accept(&self, change: &CredentialChange<'_>) -> bool;
}

/// The default policy: basic credentials only; a member that changes its credential (an
/// Update or a path leaf) and a joiner that removes an old leaf in a resync keep the same
/// identity bytes.
///
/// Basic credentials carry no proof of identity, so this is as much as the engine can check
/// on its own. An identity that may change, or X.509 credentials, need an application
/// validator.
#[derive(Debug, Clone, Copy, Default)]
pub struct BasicCredentialValidator;

fn basic_identity(c: &Credential) -> Option<&[u8]> {
    match c {
        Credential::Basic { identity } => Some(identity.as_slice()),
        _ => None,
    }
}

impl CredentialValidator for BasicCredentialValidator {
    fn accept(&self, change: &CredentialChange<'_>) -> bool {
        match *change {
            CredentialChange::Add { credential }
            | CredentialChange::ExternalJoin { credential }
            | CredentialChange::Existing { credential, .. } => basic_identity(credential).is_some(),
            CredentialChange::Update { old, new, .. } => {
                matches!((basic_identity(old), basic_identity(new)), (Some(a), Some(b)) if a == b)
            }
            CredentialChange::Resync {
                removed, joiner, ..
            } => {
                matches!((basic_identity(removed), basic_identity(joiner)), (Some(a), Some(b)) if a == b)
            }
        }
    }
}

pub use crate::error::CredentialCheck;

impl CredentialChange<'_> {
    /// The check this change is put to.
    pub fn check(&self) -> CredentialCheck {
        match self {
            CredentialChange::Add { .. } => CredentialCheck::Add,
            CredentialChange::Update { .. } => CredentialCheck::Update,
            CredentialChange::ExternalJoin { .. } => CredentialCheck::ExternalJoin,
            CredentialChange::Resync { .. } => CredentialCheck::Resync,
            CredentialChange::Existing { .. } => CredentialCheck::Existing,
        }
    }

    /// The leaf concerned, if it is in the tree.
    pub fn leaf(&self) -> Option<LeafIndex> {
        match *self {
            CredentialChange::Update { leaf, .. }
            | CredentialChange::Resync { leaf, .. }
            | CredentialChange::Existing { leaf, .. } => Some(leaf),
            _ => None,
        }
    }
}
