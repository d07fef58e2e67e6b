//! # canopy-engine
//!
//! A high-throughput RFC 9420 (MLS) group-operations engine: the wire codec, a crypto provider
//! bound to one cipher suite (aws-lc-rs primitives, HPKE through hpke-rs), the ratchet tree,
//! TreeKEM and the key schedule.
//!
//! Module map:
//! - [`codec`]: RFC 9420 wire structs in the TLS presentation language (varint vectors).
//! - [`crypto`]: the cipher-suite provider (hash, HKDF, labels, AEAD, Ed25519, HPKE).
//! - [`tree`]: array-tree math and the ratchet tree (resolutions, tree and parent hashes,
//!   validation, Add/Update/Remove).
//! - [`kem`]: TreeKEM: UpdatePath generation (plan, then independent seal jobs) and
//!   processing.
//! - [`schedule`]: key schedule, PSK secret, transcript hashes, secret tree.
//! - [`framing`]: PublicMessage and PrivateMessage protection.
//! - [`group`]: group operations over bytes: create, commit, process, join.
//! - [`key_package`]: KeyPackage creation and validation against a settable [`key_package::Clock`].
//! - [`welcome`]: Welcome and GroupInfo decryption and verification.
//! - `conformance` (feature `conformance`): table-driven runners for the published vectors.
//! - `testing` (feature `planted-regression`): a run-time switch planting extra work in the
//!   commit path, so the performance-regression gate can be shown to fail.
#![forbid(unsafe_code)]

pub mod batch;
pub mod codec;
pub mod crypto;
pub mod error;
pub mod framing;
pub mod group;
pub mod kem;
pub mod key_package;
pub mod schedule;
pub mod tree;
pub mod welcome;

#[cfg(feature = "conformance")]
pub mod conformance;

#[cfg(feature = "planted-regression")]
pub mod testing;

pub use error::{
    ApiMisuse, CodecError, CredentialCheck, CryptoError, PeerMisbehaved, ProposalRule, TreeError,
    Unsupported,
};
pub use error::{Error, Result};
