//! Byte-level adapters around the peer MLS implementations: **openmls 0.9.2** (with
//! `openmls_rust_crypto` 0.6) and **mls-rs 0.57** (with `mls-rs-crypto-awslc` 0.27, `rayon` on).
//!
//! A [`PeerMember`] is ONE member of ONE group, held by a peer implementation. Everything that
//! crosses the trait is serialized RFC 9420 bytes: KeyPackages, Welcomes, commits, proposals and
//! application messages as `MLSMessage`, the ratchet tree as the TLS-serialized `RatchetTree`
//! (`optional<Node> nodes<V>`, §12.4.3.3). No peer struct ever leaves its adapter, so Canopy, an
//! openmls member and an mls-rs member can be mixed freely in one group.
//!
//! Every member is bound to one cipher suite: [`new_member`] makes suite 1
//! (`MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519`), [`new_member_in`] any suite the peer's
//! crypto provider runs, as the provider itself says ([`PeerKind::supports_suite`]):
//!
//! | suite | openmls (`openmls_rust_crypto` 0.6) | mls-rs (`mls-rs-crypto-awslc` 0.27) |
//! |---|---|---|
//! | 1 `MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519` | yes | yes |
//! | 2 `MLS_128_DHKEMP256_AES128GCM_SHA256_P256` | yes | yes |
//! | 3 `MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519` | yes | yes |
//! | 4 `MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448` | no | no |
//! | 5 `MLS_256_DHKEMP521_AES256GCM_SHA512_P521` | no | yes |
//! | 6 `MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448` | no | no |
//! | 7 `MLS_256_DHKEMP384_AES256GCM_SHA384_P384` | no | yes |
//! | 0x004D `MLS_256_XWING_CHACHA20POLY1305_SHA256_Ed25519` (experimental) | yes, on `openmls_libcrux_crypto` 0.4 | no |
//! | 0xFDEA `MLS_128_MLKEM768_AES128GCM_SHA256_Ed25519` (experimental, mls-rs's `ML_KEM_768`) | no | yes, feature `post-quantum` |
//! | 0xFDEB `MLS_256_MLKEM1024_AES256GCM_SHA384_P384` (experimental, mls-rs's `ML_KEM_1024`) | no | yes, feature `post-quantum` |
//!
//! Protocol version mls10 and basic credentials (identity given by the caller) are used.
//!
//! # Design
//!
//! - **One trait, boxed.** [`new_member`] returns `Box<dyn PeerMember>`; the benchmark and the
//!   interop tests drive both peers through the same calls. A member is `Send` (not `Sync`):
//!   one thread drives it at a time.
//! - **Own commits are merged at once.** [`PeerMember::commit`] creates the commit and applies
//!   it locally (openmls `merge_pending_commit`, mls-rs `apply_pending_commit`), as if the
//!   delivery service had accepted it. [`PeerMember::process`] fully applies another member's
//!   commit, or stores its proposal for the next commit.
//! - **What each [`CommitOp`] puts on the wire** (identical for both peers, so numbers compare):
//!   `Empty` and `Update` are both a commit with no proposals and an UpdatePath — RFC 9420
//!   §12.2 forbids a committer to commit its own Update proposal, so "update my leaf" *is* a
//!   path-only commit; the two names are kept for the callers' labels. `Add` is adds only and
//!   **no** path (path optional for adds, §12.4; mls-rs's default, while openmls's
//!   `add_members` convenience would add a path). `AddWithPath` is adds plus an UpdatePath
//!   (openmls's `add_members`). `Remove` always carries a path (required by §12.4), and so
//!   does `Mixed` (removes and adds in one commit). Proposals
//!   received earlier in the epoch (via [`PeerMember::process`]) are committed by reference.
//! - **`tree_in_welcome` is the peer's group configuration for that commit** (openmls
//!   `use_ratchet_tree_extension`, mls-rs `CommitOptions::ratchet_tree_extension`). It is
//!   applied to every commit, not only adds, because that is how the peers behave when so
//!   configured: with it on, *both* peers build a GroupInfo carrying the whole ratchet tree for
//!   every commit (openmls returns it in [`CommitOutput::group_info`]), i.e. they encode the
//!   whole tree per commit. With it off, a commit that adds members returns the tree out of
//!   band in [`CommitOutput::ratchet_tree`]; other commits return no tree and the adapter
//!   serializes nothing.
//! - **No per-call overhead in the adapter.** Incoming bytes are decoded once, straight into
//!   the peer's own types; outgoing messages are encoded once. The whole tree is only encoded
//!   when asked ([`PeerMember::ratchet_tree`]) or when a Welcome needs it out of band.
//! - **[`PeerMember::fork`]** deep-copies a member (group state, private keys, unused
//!   KeyPackages) so a benchmark can re-run one operation from the same start state. openmls
//!   keeps its whole state in its `MemoryStorage`: the fork copies the storage map and
//!   re-loads the group from it. mls-rs keeps the state in the `Group` value: the fork writes
//!   a snapshot of a clone into a fresh in-memory storage and loads it with a fresh client, so
//!   the fork shares nothing mutable with its origin (commit options, storages). Forking costs
//!   a full state (de)serialization in both peers; do it outside timed regions.
//! - **Errors** are `anyhow` errors whose context names the peer and the step
//!   (`"mls-rs: commit: build"`).
//!
//! # What each peer demands of a KeyPackage (so Canopy-made ones are accepted)
//!
//! Both peers take the KeyPackage as an `MLSMessage` (`wire_format = mls_key_package`,
//! `version = mls10`) and check the KeyPackage and leaf-node signatures. Beyond that:
//!
//! **openmls 0.9.2** (`KeyPackageIn::validate`, then the commit's leaf-node validation):
//! - `version` = mls10 and `cipher_suite` = the group's suite;
//! - `init_key` ≠ `leaf_node.encryption_key`;
//! - `leaf_node_source` = `key_package` with a `Lifetime`; the lifetime must hold **now** on
//!   the wall clock (`not_before <= now < not_after`, seconds) — when the KeyPackage is
//!   validated before the commit, and again for every never-updated leaf in the tree when a
//!   member joins. No maximum range is enforced. openmls's own KeyPackages use
//!   `now - 1h .. now + 84 days`;
//! - `capabilities.versions` ∋ mls10 and `capabilities.cipher_suites` ∋ the group's suite
//!   (checked when the leaf enters the group);
//! - `capabilities.credentials` ∋ basic (its own credential type), and ⊇ the credential types
//!   of all current members (and every member must support this leaf's type);
//! - every non-default extension type used in `KeyPackage.extensions` or
//!   `leaf_node.extensions` listed in `capabilities.extensions` (default types 1–5 need not be
//!   listed; listing them is tolerated). `leaf_node.extensions` must not contain
//!   ratchet_tree, required_capabilities, external_pub, external_senders or last_resort;
//!   `KeyPackage.extensions` must not contain ratchet_tree, required_capabilities,
//!   external_pub or external_senders (application_id, last_resort and unknown types pass);
//! - capabilities ⊇ the group's `required_capabilities`, if any;
//! - signature key and encryption key unique among members and the commit's proposals, init
//!   key unique among the proposals (identities may repeat).
//!
//! **mls-rs 0.57** (`CommitBuilder::add_member`/commit validation):
//! - `version` = mls10, `cipher_suite` = the group's suite, `init_key` a valid key of the
//!   suite's KEM and ≠ `leaf_node.encryption_key`;
//! - `leaf_node_source` = `key_package`; its lifetime is checked against the **committer's**
//!   wall clock when mls-rs builds the commit (`not_before <= now <= not_after`); receivers
//!   and joiners do not re-check it (no time is passed). mls-rs's own KeyPackages use
//!   `now .. now + 365 days` (no back-dating, so a peer whose clock is behind rejects them);
//! - `capabilities.extensions` and `capabilities.proposals` must **not** list default types
//!   (extensions 1–5, proposals 1–7): mls-rs rejects the leaf with `DefaultValueListed`;
//! - every extension in `leaf_node.extensions` listed in `capabilities.extensions`, and the
//!   group's non-default context extensions and `required_capabilities` supported;
//! - `capabilities.credentials` ⊇ the credential types in use, and every member supports this
//!   leaf's type (basic);
//! - **unique identity**: the basic credential's identity, the signature key and the
//!   encryption key must each be unique in the group (`DuplicateLeafData`) — 50,000 members
//!   need 50,000 distinct identities;
//! - `capabilities.versions` / `cipher_suites` are *not* checked by mls-rs.
//!
//! # Peer quirks found
//!
//! - **openmls sends and accepts only PrivateMessage handshakes by default**
//!   (`PURE_CIPHERTEXT_WIRE_FORMAT_POLICY`); mls-rs sends PublicMessage commits. The openmls
//!   adapter uses `MIXED_PLAINTEXT_WIRE_FORMAT_POLICY` (send commits/proposals as
//!   PublicMessage, accept both); application messages are PrivateMessage either way.
//! - **mls-rs keeps every prior epoch in memory until `write_to_storage`** (feature
//!   `prior_epoch`, part of its default `rfc_compliant`): each epoch record holds all
//!   members' signature keys (one `Option<Vec<u8>>` per leaf: an estimated 3–4 MB at 50,000
//!   members). The adapter flushes (`write_to_storage_without_ratchet_tree`, which trims to
//!   the in-memory storage's 3 retained epochs) every [`MLS_RS_FLUSH_EVERY`] epochs, and on
//!   [`PeerMember::trim_history`]. A flush clones the tree inside mls-rs (0.3 s at 50,001
//!   members); call `trim_history` outside timed regions to keep it out of them.
//! - **mls-rs clones the whole tree in every commit** it creates, and builds, signs, encodes
//!   and AEAD-encrypts a Welcome GroupInfo for every commit even when nobody is added (read
//!   in `group/commit.rs`, not timed). Configured with the tree in the Welcome, that
//!   GroupInfo carries the whole tree (9 MB at 50,001 members) — prefer
//!   `tree_in_welcome = false` for mls-rs commits that add nobody.
//! - **openmls writes its whole tree to storage on every merge** (`PublicGroup::store` →
//!   `write_tree`, serde_json into the default `MemoryStorage`), and the staged commit when a
//!   commit is staged: part of its per-commit cost in large groups (not measured separately).
//!   The adapter keeps this default provider.
//! - openmls checks leaf-node lifetimes of all never-updated leaves against the wall clock when
//!   joining (the RFC's "SHOULD"); a group built from KeyPackages that have since expired can
//!   no longer be joined by openmls. mls-rs does not check them on join.
//! - Welcomes whose commit carried an UpdatePath with nodes encrypted to nobody (zero
//!   `encrypted_path_secret` entries: a creator alone adding members with a path) are accepted
//!   by both peers, in both directions (tested).
//! - **External commits** (`bench/tests/interop_protocol.rs`): openmls's
//!   `ExternalCommitBuilder` adds the resync Remove by itself, for the leaf that carries the
//!   joiner's signature key, and offers no way to choose it (the adapter checks the wire);
//!   mls-rs takes it from `with_removal`. Both accept Canopy's external commits, resync
//!   included, and Canopy theirs.
//! - **ReInit in openmls 0.9.2 is receive-only**: it processes a ReInit commit (same epoch
//!   secrets as the committer), but has no API to make a ReInit proposal, and one handed to
//!   its commit builder is silently dropped (`ProposalQueue::filter_proposals` keeps none), so
//!   the adapter refuses [`PeerMember::commit_reinit`]. It does not close the old group after a
//!   ReInit (it still commits there), and it cannot start or join a successor: both its
//!   group builder and its Welcome processing resolve resumption PSKs from a fresh, empty
//!   store ("The PSK could not be found in the store"). mls-rs does all of it
//!   (`CommitBuilder::reinit`, `Group::get_reinit_client`, which consumes the old group;
//!   `ReinitClient::commit` returns only the Welcome), and checks that a successor has as
//!   many leaves as the old group and only its identities.
//!
//! # Scale (measured, debug-test profile with dependencies at opt-level 3, 2 shared cores)
//!
//! From `scale_add_batch` in `bench/tests/peers.rs` (an ignored probe: one commit adding N
//! members, half of each peer, to a one-member group; then joins, an update, a fork):
//!
//! | step | openmls | mls-rs |
//! |---|---|---|
//! | commit adding 2,000 / 10,000 / 50,000 | 3.9 s / 146 s / — | 0.9 s / 2.4 s / 17 s |
//! | join a 10,001 / 20,001 / 50,001-member group | ~2.4 s / 17 s / 173 s | 0.7 s / 1.9 s / 4.8 s |
//! | process the update after 50,000 adds | 1.6 s | 0.5 s |
//! | fork / `trim_history` of a 50,001-member member | — | 0.55 s / 0.31 s |
//!
//! Both openmls columns grow quadratically. Joining: openmls validates every leaf's
//! capabilities against every other leaf (`PublicGroup::validate_leaf_node_capabilities` is
//! 43% of a 20,001-member join profile). Batch adds: its tree diff recomputes copath
//! resolutions per added leaf (`TreeSyncDiff::resolution` and the diff's B-tree lookups
//! dominate). Building a 50,000-member group by openmls commits is impractical; build it
//! elsewhere (Canopy, mls-rs) — and budget ~3 minutes per openmls member joining it. The first
//! path commit after a batch of adds encrypts to every new leaf (parents blank): mls-rs 4.9 s
//! at 50,001 members.
//!
//! # Clocks
//!
//! Both peers read the real clock (`SystemTime::now`) for KeyPackage lifetimes; nothing here
//! fakes it. KeyPackages made by another implementation must be valid at the time of the
//! commit (both peers) and, for leaves never updated since, at the time an openmls member
//! joins.

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Result};
use canopy_engine::crypto::CipherSuite;

mod mls_rs;
mod openmls;

pub use self::mls_rs::MLS_RS_FLUSH_EVERY;

/// The cipher suite of [`new_member`] (RFC 9420 suite 1); [`new_member_in`] takes any suite
/// the peer supports.
pub const CIPHER_SUITE: u16 = 1;

/// Which peer implementation holds a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerKind {
    /// openmls 0.9.2 with the `openmls_rust_crypto` provider.
    OpenMls,
    /// mls-rs 0.57 with the aws-lc crypto provider.
    MlsRs,
}

impl PeerKind {
    /// Every peer, in a fixed order.
    pub const ALL: [PeerKind; 2] = [PeerKind::OpenMls, PeerKind::MlsRs];

    /// The peer's name: `"openmls"` or `"mls-rs"`.
    pub fn name(self) -> &'static str {
        match self {
            PeerKind::OpenMls => "openmls",
            PeerKind::MlsRs => "mls-rs",
        }
    }

    /// Whether this peer's crypto provider runs the cipher suite with RFC 9420 code point
    /// `suite`, as the provider itself answers (`openmls_rust_crypto`'s
    /// `OpenMlsCrypto::supports`; `mls-rs-crypto-awslc`'s enabled suites and
    /// `cipher_suite_provider`), so that [`new_member_in`] succeeds for exactly these. The
    /// module docs list the answers.
    pub fn supports_suite(self, suite: u16) -> bool {
        match self {
            PeerKind::OpenMls => openmls::supported_suite(suite).is_some(),
            PeerKind::MlsRs => mls_rs::supported_suite(suite).is_some(),
        }
    }

    /// The suites Canopy implements ([`CipherSuite::ALL`]) that this peer runs, in code-point
    /// order.
    pub fn suites(self) -> Vec<u16> {
        CipherSuite::ALL
            .iter()
            .map(|s| s.id())
            .filter(|&s| self.supports_suite(s))
            .collect()
    }

    /// The provider's crate and version, for messages that say why a suite is not run.
    pub fn crypto_provider(self) -> &'static str {
        match self {
            PeerKind::OpenMls => "openmls_rust_crypto 0.6 / openmls_libcrux_crypto 0.4",
            PeerKind::MlsRs => "mls-rs-crypto-awslc 0.27",
        }
    }
}

impl fmt::Display for PeerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PeerKind {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "openmls" => Ok(PeerKind::OpenMls),
            "mls-rs" | "mls_rs" => Ok(PeerKind::MlsRs),
            other => bail!("unknown peer {other:?} (expected \"openmls\" or \"mls-rs\")"),
        }
    }
}

/// The proposals a [`PeerMember::commit`] commits by value. See the module docs for what each
/// puts on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOp {
    /// A commit with no proposals and an UpdatePath.
    Empty,
    /// Update the committer's own leaf: a commit with an UpdatePath (on the wire the same as
    /// [`CommitOp::Empty`]; a committer cannot commit its own Update proposal).
    Update,
    /// Add the members of these KeyPackages (each an `MLSMessage(KeyPackage)`); no UpdatePath.
    Add(Vec<Vec<u8>>),
    /// Add the members of these KeyPackages and include an UpdatePath.
    AddWithPath(Vec<Vec<u8>>),
    /// Remove the members at these leaf indices; with an UpdatePath.
    Remove(Vec<u32>),
    /// Remove the members at these leaf indices and add the members of these KeyPackages in
    /// one commit, with an UpdatePath.
    Mixed {
        /// KeyPackages to add (each an `MLSMessage(KeyPackage)`).
        adds: Vec<Vec<u8>>,
        /// Leaf indices to remove.
        removes: Vec<u32>,
    },
}

impl CommitOp {
    /// The KeyPackages this op adds, if any.
    pub fn key_packages(&self) -> &[Vec<u8>] {
        match self {
            CommitOp::Add(kps) | CommitOp::AddWithPath(kps) => kps,
            CommitOp::Mixed { adds, .. } => adds,
            _ => &[],
        }
    }
}

/// What a commit produced, all as serialized bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitOutput {
    /// `MLSMessage(PublicMessage)` carrying the Commit.
    pub commit: Vec<u8>,
    /// `MLSMessage(Welcome)` for the added members, if the commit added any.
    pub welcome: Option<Vec<u8>>,
    /// The TLS-serialized `RatchetTree` after the commit, when members were added and the tree
    /// is not in the Welcome (`tree_in_welcome == false`); `None` otherwise.
    pub ratchet_tree: Option<Vec<u8>>,
    /// `MLSMessage(GroupInfo)` if the peer produced one (openmls does whenever it puts the
    /// tree in the GroupInfo); mls-rs produces none (no external commits configured).
    pub group_info: Option<Vec<u8>>,
}

/// ONE member of ONE group held by a peer implementation, driven with RFC 9420 bytes only.
pub trait PeerMember: Send {
    /// Which peer holds this member.
    fn kind(&self) -> PeerKind;

    /// The member's cipher suite (RFC 9420 code point).
    fn suite(&self) -> u16;

    /// A fresh KeyPackage as `MLSMessage` bytes; its private keys are kept for [`join`].
    ///
    /// [`join`]: PeerMember::join
    fn key_package(&mut self) -> Result<Vec<u8>>;

    /// Create a one-member group with this group id (replacing any group held before).
    fn create_group(&mut self, group_id: &[u8]) -> Result<()>;

    /// Join from an `MLSMessage(Welcome)` made for one of this member's KeyPackages.
    /// `ratchet_tree` is the TLS-serialized `RatchetTree` given out of band; `None` if the
    /// Welcome's GroupInfo carries the `ratchet_tree` extension.
    fn join(&mut self, welcome: &[u8], ratchet_tree: Option<&[u8]>) -> Result<()>;

    /// Create a commit AND merge it locally. `tree_in_welcome` configures the peer to put the
    /// ratchet tree into its GroupInfo/Welcome (see the module docs).
    fn commit(&mut self, op: CommitOp, tree_in_welcome: bool) -> Result<CommitOutput>;

    /// Apply another member's commit (fully: the epoch advances), or store its proposal for
    /// this member's next commit.
    fn process(&mut self, message: &[u8]) -> Result<()>;

    /// Encrypt an application message: `MLSMessage(PrivateMessage)` bytes.
    fn protect(&mut self, plaintext: &[u8]) -> Result<Vec<u8>>;

    /// Decrypt another member's application message.
    fn unprotect(&mut self, message: &[u8]) -> Result<Vec<u8>>;

    /// The current epoch (0 before any group exists).
    fn epoch(&self) -> u64;

    /// This member's leaf index (0 before any group exists).
    fn own_leaf(&self) -> u32;

    /// The current epoch's `epoch_authenticator` (empty before any group exists).
    fn epoch_authenticator(&self) -> Vec<u8>;

    /// `MLS-Exporter(label, context, len)` of the current epoch.
    fn export_secret(&self, label: &str, context: &[u8], len: usize) -> Result<Vec<u8>>;

    /// The current TLS-serialized `RatchetTree` (encodes the whole tree).
    fn ratchet_tree(&self) -> Result<Vec<u8>>;

    /// A deep copy of this member's whole state (group, private keys, unused KeyPackages);
    /// operations on the copy never affect the original and vice versa.
    fn fork(&self) -> Result<Box<dyn PeerMember>>;

    /// Drop state the peer keeps about past epochs, beyond what it needs. A no-op for
    /// openmls (it keeps no past epochs by default); for mls-rs it flushes the prior-epoch
    /// records it accumulates in memory (see the module docs). Call it outside timed regions.
    fn trim_history(&mut self) -> Result<()>;

    /// This epoch's `MLSMessage(GroupInfo)`, signed by this member, with the `external_pub`
    /// extension (so a new member can join by external commit) and, if `with_tree`, the
    /// `ratchet_tree` extension.
    fn group_info(&self, with_tree: bool) -> Result<Vec<u8>>;

    /// Join by external commit (RFC 9420 §12.4.3.2) from an `MLSMessage(GroupInfo)` carrying
    /// `external_pub` (and the tree, unless `ratchet_tree` gives it), replacing any group held
    /// before. `resync` is this member's own old leaf to remove in the same commit (a member
    /// rejoining). Returns the commit (a PublicMessage) for the members; this member is in the
    /// new epoch.
    ///
    /// openmls decides the resync itself: it removes the leaf carrying this member's signature
    /// key whenever there is one, so `resync` must name that leaf (the adapter checks it) or be
    /// `None` with no such leaf.
    fn join_external(
        &mut self,
        group_info: &[u8],
        ratchet_tree: Option<&[u8]>,
        resync: Option<u32>,
    ) -> Result<Vec<u8>>;

    /// Commit (by value) a ReInit proposal (RFC 9420 §12.1.5) to a group `group_id` with the
    /// same version and cipher suite and no extensions, and merge it.
    fn commit_reinit(&mut self, group_id: &[u8]) -> Result<CommitOutput>;

    /// After a ReInit was committed in this member's group: a KeyPackage for the successor
    /// group (its private keys kept for [`join_reinit`]).
    ///
    /// [`join_reinit`]: PeerMember::join_reinit
    fn reinit_key_package(&mut self) -> Result<Vec<u8>>;

    /// After a ReInit was committed in this member's group: create the successor group, this
    /// member as creator, with a first commit adding `key_packages` (from
    /// [`reinit_key_package`] or other implementations) and injecting the old group's
    /// resumption PSK (usage `reinit`). The Welcome carries the ratchet tree.
    ///
    /// [`reinit_key_package`]: PeerMember::reinit_key_package
    fn reinit_successor(&mut self, key_packages: Vec<Vec<u8>>) -> Result<CommitOutput>;

    /// After a ReInit was committed in this member's group: join the successor from its
    /// Welcome, resolving the resumption PSK from the old group; the successor replaces the
    /// old group.
    fn join_reinit(&mut self, welcome: &[u8], ratchet_tree: Option<&[u8]>) -> Result<()>;
}

/// A new suite-1 member held by `kind`, with a fresh Ed25519 signature key and a basic
/// credential carrying `identity`. No group yet: call [`PeerMember::create_group`] or
/// [`PeerMember::key_package`] then [`PeerMember::join`].
///
/// Fallible (unlike a constructor could be) because both peers' key generation is.
pub fn new_member(kind: PeerKind, identity: &[u8]) -> Result<Box<dyn PeerMember>> {
    new_member_in(kind, CIPHER_SUITE, identity)
}

/// A new member held by `kind` in cipher suite `suite` (RFC 9420 code point), with a fresh
/// signature key of the suite's scheme and a basic credential carrying `identity`; its
/// KeyPackages and groups are of that suite. An error naming the peer and the suite if the
/// peer does not run it ([`PeerKind::supports_suite`]).
pub fn new_member_in(kind: PeerKind, suite: u16, identity: &[u8]) -> Result<Box<dyn PeerMember>> {
    if !kind.supports_suite(suite) {
        bail!(
            "{kind} does not run cipher suite {suite} ({} runs {})",
            kind.crypto_provider(),
            kind.suites()
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(match kind {
        PeerKind::OpenMls => openmls::new_member(suite, identity)?,
        PeerKind::MlsRs => Box::new(mls_rs::MlsRsMember::new(suite, identity)?),
    })
}
