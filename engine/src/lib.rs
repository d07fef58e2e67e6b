//! # canopy-engine
//!
//! A high-throughput RFC 9420 (MLS) group-operations engine. One [`Group`] is one member's
//! state in one epoch; every operation takes and returns RFC 9420 bytes, so a Canopy member
//! talks to any other MLS implementation over the wire.
//!
//! The cryptographic work of an operation (the HPKE seals of an UpdatePath and a Welcome,
//! the signature checks of a joined tree) runs as a batch on the group's [`Executor`], in
//! parallel on rayon by default, with a serial path that produces the same bytes.
//!
//! # A two-member group
//!
//! Alice creates a group and adds Bob from his KeyPackage; Bob joins from the Welcome; they
//! then exchange an application message.
//!
//! ```
//! use canopy_engine::{key_package, CipherSuite, CommitOptions, Group, GroupConfig, Provider};
//!
//! # fn main() -> Result<(), canopy_engine::Error> {
//! let provider = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
//!
//! // Alice: a one-member group, signing with a fresh Ed25519 key.
//! let (alice_signer, _) = provider.generate_signature_key_pair();
//! let mut alice = Group::create(
//!     provider.clone(),
//!     b"team chat",
//!     b"alice",
//!     alice_signer,
//!     GroupConfig::default(),
//! )?;
//!
//! // Bob publishes a KeyPackage and keeps its private part.
//! let (bob_kp, bob_secrets) = key_package(&provider, b"bob")?;
//!
//! // Alice commits an Add; the Welcome goes to Bob, the commit to the other members.
//! let out = alice.commit(&CommitOptions::new().add_member(bob_kp.clone()).ratchet_tree_in_welcome())?;
//! let welcome = out.welcome.expect("an Add produces a Welcome");
//! let config = GroupConfig::default();
//! let mut bob = Group::join(provider.clone(), &welcome, &bob_kp, &bob_secrets, config)?;
//! assert_eq!(alice.epoch(), bob.epoch());
//! assert_eq!(alice.member_count(), 2);
//!
//! // Both now share the epoch's secrets.
//! let sealed = alice.protect_application(b"hello, Bob")?;
//! assert_eq!(bob.unprotect_application(&sealed)?, b"hello, Bob");
//! # Ok(())
//! # }
//! ```
//!
//! # What is public
//!
//! The crate root is the API an application needs: [`Group`] and its options and outcomes,
//! [`PublicGroup`] (a delivery service's view of a group: its public state, followed without
//! any secret), KeyPackages, the [`Provider`] and [`CipherSuite`], and the errors. Everything else — the
//! codec, the ratchet tree, TreeKEM, the key schedule, framing, the batched executor's
//! internals — is private. The benches, workload generators and fuzz targets of this
//! repository reach those through the `unstable-internals` feature, which carries no
//! stability promise; the exact operation counters sit behind the `metrics` feature.
//!
//! # Errors
//!
//! Every fallible operation returns [`Error`], whose variants say whose problem it is
//! (malformed bytes, a peer that broke a rule and which check caught it, an invalid tree, a
//! crypto failure, API misuse, something unsupported, a bug in Canopy). A failed operation
//! leaves the group's state unchanged, byte for byte ([`Group::state_digest`]).
#![forbid(unsafe_code)]
// Without `unstable-internals` the internal modules are private, and the `pub` items in them
// are exactly what that feature exposes to the benches, workloads and fuzz targets; the lint
// would ask for them to be `pub(crate)`, which would hide them from those too.
#![cfg_attr(not(feature = "unstable-internals"), allow(unreachable_pub))]

/// Declares the internal modules: public (and unstable) with `unstable-internals`, private
/// without it.
macro_rules! internal_modules {
    ($($(#[$meta:meta])* $name:ident;)*) => {
        $(
            $(#[$meta])*
            #[cfg(feature = "unstable-internals")]
            pub mod $name;
            $(#[$meta])*
            // What only the benches, workloads and tests use is dead or unused here; builds
            // with the feature (every test and bench build) still report the rest.
            #[cfg(not(feature = "unstable-internals"))]
            #[allow(dead_code, unused_imports)]
            mod $name;
        )*
    };
}

internal_modules! {
    batch;
    codec;
    crypto;
    framing;
    group;
    kem;
    key_package;
    schedule;
    tree;
    welcome;
}

mod error;

/// Exact counts of the primitives the engine runs, for reports and the performance gate.
#[cfg(feature = "metrics")]
pub mod metrics {
    pub use crate::crypto::counters::{snapshot, Counts};
}

#[cfg(feature = "conformance")]
pub mod conformance;

#[cfg(feature = "planted-regression")]
pub mod testing;

pub use batch::Executor;
pub use codec::{
    Credential, Extension, ExtensionType, GroupContext, KeyPackage, PreSharedKeyId, ProposalType,
    ReInit,
};
pub use crypto::{
    CipherSuite, Kem, Provider, Secret, SignaturePrivateKey, SignatureScheme, X25519Backend,
    X25519BackendError,
};
pub use error::{
    ApiMisuse, CodecError, CredentialCheck, CryptoError, Error, PeerMisbehaved, ProposalRule,
    Result, TreeError, Unsupported,
};
pub use group::{
    commit_many, external_proposal, external_senders_extension, new_member_proposal,
    BasicCredentialValidator, CachedProposalView, CommitOptions, CommitOutput, CommitSummary,
    CredentialChange, CredentialValidator, ExternalJoinOptions, Group, GroupConfig, JoinOptions,
    OmitReason, OmittedProposal, OpCounts, PathPolicy, ProcessOutcome, ProposalSender, Protection,
    PublicGroup, Randomness, Staged, StagedCommit, TreeDelivery, UnsignedGroupInfo,
};
pub use key_package::{key_package, Clock, KeyPackageSecrets};
pub use tree::LeafIndex;
