//! Canopy's errors, sorted by cause in the manner of rustls (`rustls/src/error/mod.rs`): one
//! `#[non_exhaustive]` [`Error`] whose variants say *whose* problem it is — bytes that do not
//! parse, a peer that broke a rule (and which check caught it), a ratchet tree that fails
//! validation, a cryptographic failure, the application calling the API wrongly, something
//! Canopy does not support, or a bug in Canopy.
//!
//! Every enum that describes a failure lives here, so the error types depend on the
//! protocol's value types (indices, wire formats) and never on the modules that raise them:
//! no error wraps [`Error`] again.

use thiserror::Error as ThisError;

use crate::codec::{Sender, WireFormat};
use crate::tree::NodeIndex;

/// Every fallible engine operation returns this. A failed operation leaves the state it was
/// called on unchanged.
#[derive(Debug, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// Malformed input: bytes that do not decode as the RFC 9420 structure they claim to be.
    #[error("invalid message: {0}")]
    InvalidMessage(#[from] CodecError),
    /// Input from other members — a message, KeyPackage, Welcome, GroupInfo or proposal —
    /// decodes but fails an RFC 9420 check; the variant names the check. The same checks
    /// apply to the proposals an application passes to a commit (a Remove of a leaf that is
    /// not a member is refused with [`PeerMisbehaved::RemoveNonMember`] either way).
    #[error("peer misbehaved: {0}")]
    PeerMisbehaved(#[from] PeerMisbehaved),
    /// A ratchet tree that fails RFC 9420 validation (§7.9.2, §12.4.3.1), or an edit it
    /// cannot take.
    #[error("invalid tree: {0}")]
    InvalidTree(#[from] TreeError),
    /// A cryptographic operation failed: a bad signature, an AEAD or HPKE open failure, a
    /// bad key.
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    /// The application called the API in a way it does not allow.
    #[error("API misuse: {0}")]
    ApiMisuse(#[from] ApiMisuse),
    /// Something valid that Canopy does not implement (a cipher suite, a proposal type, a
    /// protocol version).
    #[error("unsupported: {0}")]
    Unsupported(#[from] Unsupported),
    /// An invariant the engine relies on did not hold: a bug in Canopy.
    #[error("internal error (a bug in Canopy): {0}")]
    Internal(&'static str),
}

/// Shorthand used across the engine.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Why bytes failed to decode (or a value failed to encode).
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum CodecError {
    /// The input ended in the middle of a structure (including a vector whose length header
    /// claims more bytes than remain).
    #[error("input truncated")]
    Truncated,
    /// A complete structure was decoded but bytes were left over.
    #[error("{remaining} trailing bytes after the structure")]
    TrailingBytes {
        /// How many bytes were left.
        remaining: usize,
    },
    /// A vector length header that RFC 9420 §2.1.2 forbids: the `0b11` prefix or a
    /// non-minimal encoding.
    #[error("invalid variable-length integer")]
    InvalidVarint,
    /// A length that does not fit the 30-bit MLS varint (only when encoding; any decodable
    /// header is at most 2^30 - 1).
    #[error("vector length too large for an MLS varint")]
    LengthTooLarge,
    /// An enumerated value this implementation does not know.
    #[error("unknown {field}: {value}")]
    UnknownValue {
        /// The RFC 9420 field, e.g. `wire_format`.
        field: &'static str,
        /// The value read.
        value: u64,
    },
    /// `PrivateMessageContent` padding that is not all zeros (RFC 9420 §6.3.1).
    #[error("non-zero padding")]
    InvalidPadding,
    /// A value that cannot be encoded because its parts disagree (e.g. a commit without a
    /// confirmation tag, a member-sent `PublicMessage` without a membership tag).
    #[error("inconsistent structure: {0}")]
    Inconsistent(&'static str),
    /// An extension type that appears twice in one extension list (RFC 9420 §13.4).
    #[error("extension type {extension_type} appears twice in one list")]
    DuplicateExtension {
        /// The repeated type.
        extension_type: u16,
    },
    /// Any other error reported by tls_codec (e.g. an `optional` presence byte other than 0/1).
    #[error("decode error: {0}")]
    Other(String),
}

/// The RFC 9420 check that a peer's input failed. Each variant names the section it comes
/// from; the ones about framing, UpdatePaths, KeyPackages, Welcomes and commits are grouped
/// below in that order.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum PeerMisbehaved {
    // --- Framing (§6) -------------------------------------------------------------------
    /// The message's `group_id` is not this group's.
    #[error("message for another group")]
    WrongGroup,
    /// The message's `epoch` is not the current epoch.
    #[error("message for epoch {got}, current epoch is {expected}")]
    WrongEpoch {
        /// The current epoch.
        expected: u64,
        /// The message's epoch.
        got: u64,
    },
    /// The content was authenticated for a different wire format than the one it is being
    /// protected as (the wire format is covered by the signature, §6.1).
    #[error("content authenticated for wire format {0:?}")]
    WrongWireFormat(WireFormat),
    /// Application data in a `PublicMessage`: §6 requires `PrivateMessage`.
    #[error("application message sent as PublicMessage")]
    ApplicationAsPublicMessage,
    /// A `PrivateMessage` whose sender is not a member (§6.3.2).
    #[error("PrivateMessage sender must be a member")]
    NonMemberSender,
    /// The sender is not in the group (blank or out-of-range leaf, unknown external sender).
    #[error("unknown sender {0:?}")]
    UnknownSender(Sender),
    /// The `membership_tag` is missing, present for a non-member sender, or does not verify
    /// (§6.2).
    #[error("invalid membership tag")]
    InvalidMembershipTag,
    /// `confirmation_tag` is not `MAC(confirmation_key, confirmed_transcript_hash)` (§6.1).
    #[error("invalid confirmation tag")]
    InvalidConfirmationTag,
    /// `encrypted_sender_data` did not decrypt (§6.3.2).
    #[error("sender data did not decrypt")]
    SenderDataDecryption,
    /// `ciphertext` did not decrypt (§6.3.1).
    #[error("content did not decrypt")]
    ContentDecryption,
    /// The generation's key has already been used or deleted (§9.2): a replay or a message
    /// too far out of order.
    #[error("generation {generation} already consumed")]
    GenerationConsumed {
        /// The message's generation.
        generation: u32,
    },
    /// The generation is further ahead of the ratchet than the configured maximum.
    #[error("generation {generation} too far ahead (next is {next})")]
    GenerationTooFar {
        /// The message's generation.
        generation: u32,
        /// The ratchet's next unused generation.
        next: u32,
    },

    // --- UpdatePath (§7.5, §7.6, §12.4.2) -----------------------------------------------
    /// §7.6: an `encrypted_path_secret` vector whose length differs from the size of the
    /// copath child's resolution (new leaves excluded).
    #[error("UpdatePath node for {node:?}: {got} ciphertexts, resolution has {expected}")]
    PathCiphertextCount {
        /// The filtered-direct-path node.
        node: NodeIndex,
        /// Size of the resolution of its copath child, new leaves excluded.
        expected: usize,
        /// Ciphertexts sent.
        got: usize,
    },
    /// §7.5: the path secret for `node` could not be decrypted.
    #[error("cannot decrypt the path secret for {node:?}: {source}")]
    PathSecretDecryption {
        /// The filtered-direct-path node whose secret was sent.
        node: NodeIndex,
        /// What HPKE reported.
        source: CryptoError,
    },
    /// §7.3, §12.4.2: the UpdatePath leaf's signature over LeafNodeTBS does not verify.
    #[error("the UpdatePath leaf node signature is invalid")]
    PathLeafSignature,
    /// §12.4.2: the UpdatePath's leaf node has a `leaf_node_source` other than `commit`.
    #[error("the UpdatePath leaf node source is not commit")]
    PathLeafSource,
    /// §7.5: the receiver holds no private key for any node of the resolution the path
    /// secret was encrypted to (it is not in the group, or was added by this very commit).
    #[error("no private key for the resolution of the copath node {copath:?}")]
    NoPrivateKey {
        /// The copath child whose resolution was searched.
        copath: NodeIndex,
    },
    /// §7.5, §7.9.2: the UpdatePath leaf's `parent_hash` differs from the recomputed one.
    #[error("the UpdatePath leaf parent_hash does not match the recomputed parent hash")]
    ParentHashMismatch,
    /// §7.6: the UpdatePath has a node count different from the filtered direct path's.
    #[error("UpdatePath has {got} nodes, the filtered direct path has {expected}")]
    PathLength {
        /// Length of the sender's filtered direct path.
        expected: usize,
        /// Nodes sent.
        got: usize,
    },
    /// A private key derived from a path secret a peer sent (in an UpdatePath or a Welcome)
    /// does not match the public key in the tree at `node`, or the node is blank.
    #[error("private key for {node:?} does not match the tree")]
    PrivateKeyMismatch {
        /// The node.
        node: NodeIndex,
    },
    /// §7.5 step 6: a public key derived from the decrypted path secret differs from the one
    /// in the UpdatePath.
    #[error("derived public key for {node:?} differs from the UpdatePath's")]
    PathPublicKeyMismatch {
        /// The filtered-direct-path node.
        node: NodeIndex,
    },
    /// An UpdatePath that names the receiver as its sender.
    #[error("the receiver is the UpdatePath's sender")]
    ReceiverIsSender,
    /// The sender's leaf is blank in the tree.
    #[error("sender leaf {leaf} is blank")]
    SenderLeafBlank {
        /// The sender's leaf index.
        leaf: u32,
    },

    // --- KeyPackages and leaf nodes (§10.1, §7.3) ----------------------------------------
    /// A KeyPackage, Welcome or GroupInfo for another cipher suite than the group's or the
    /// provider's.
    #[error("cipher suite mismatch: {got} where {expected} was expected")]
    CipherSuiteMismatch {
        /// The suite in use.
        expected: u16,
        /// The suite found.
        got: u16,
    },
    /// A KeyPackage's leaf node does not have source `key_package`.
    #[error("the key package's leaf node does not have source key_package")]
    WrongLeafSource,
    /// A leaf's lifetime `[not_before, not_after]` does not contain the clock's time.
    #[error("lifetime [{not_before}, {not_after}] does not contain {now}")]
    Expired {
        /// Start of validity.
        not_before: u64,
        /// End of validity.
        not_after: u64,
        /// The clock's time.
        now: u64,
    },
    /// A KeyPackage's `init_key` equals its leaf's `encryption_key` (§10.1 forbids it).
    #[error("init_key equals the leaf encryption_key")]
    InitKeyIsEncryptionKey,
    /// A leaf's capabilities do not list the cipher suite or protocol version in use.
    #[error("leaf capabilities do not list the cipher suite / version in use")]
    CapabilitiesMissingSuite,
    /// A leaf (an existing member, or a new one when `leaf` is `None`) does not support an
    /// extension, proposal or credential type the group context uses or requires (§11.1,
    /// §12.1.7).
    #[error("leaf {leaf:?} does not support {what} type {value}")]
    UnsupportedCapability {
        /// The leaf, if already in the tree.
        leaf: Option<u32>,
        /// "extension", "proposal" or "credential".
        what: &'static str,
        /// The type number.
        value: u16,
    },
    /// The application's credential policy (`CredentialValidator`) refused a credential.
    #[error("credential rejected ({check}) for leaf {leaf:?}")]
    CredentialRejected {
        /// Which change was refused.
        check: CredentialCheck,
        /// The leaf concerned, if it is in the tree.
        leaf: Option<u32>,
    },
    /// An Update or a commit's path leaf keeps the leaf's encryption key (§7.3, §12.1.2,
    /// §12.4.2), or a resync's path leaf keeps the removed leaf's.
    #[error("the new leaf node of leaf {leaf} keeps its encryption key")]
    EncryptionKeyUnchanged {
        /// The leaf.
        leaf: u32,
    },
    /// A new key is already in the tree (§7.3, §12.2).
    #[error("{what} of leaf {leaf} is already in use")]
    DuplicateKey {
        /// Which key.
        what: &'static str,
        /// The leaf that brought it.
        leaf: u32,
    },

    // --- Proposals and commits (§12) -----------------------------------------------------
    /// A commit references a proposal that is not in this epoch's proposal cache.
    #[error("commit references an unknown proposal")]
    UnknownProposalRef,
    /// The commit's proposal list breaks a rule of §12.2 (or a per-proposal rule of §12.1
    /// that has its own name).
    #[error("invalid proposal list: {0}")]
    InvalidProposalList(ProposalRule),
    /// A PreSharedKey proposal or a Welcome names a PSK this member does not hold.
    #[error("unknown pre-shared key")]
    MissingPsk,
    /// The GroupInfo for an external join lacks the `external_pub` extension.
    #[error("the GroupInfo has no external_pub extension")]
    MissingExternalPub,
    /// A Remove of a blank or out-of-range leaf.
    #[error("remove of leaf {0}, which is not a member")]
    RemoveNonMember(u32),
    /// Two proposals affect the same leaf (§12.2).
    #[error("two proposals affect leaf {0}")]
    ConflictingProposals(u32),
    /// The committer removes itself (§12.2).
    #[error("the committer cannot remove itself")]
    CommitterRemovesSelf,
    /// An Update by value in a commit (§12.4: the committer updates via the path; other
    /// members' Updates come by reference).
    #[error("Update proposal by value in a commit")]
    UpdateByValue,
    /// The commit needs an UpdatePath (§12.4) and has none.
    #[error("the commit needs a path and has none")]
    PathRequired,
    /// A proposal from a sender this proposal type may not come from (§12.1.8).
    #[error("a {sender} may not send a proposal of type {proposal_type}")]
    ProposalSender {
        /// "member", "external sender" or "new member".
        sender: &'static str,
        /// The proposal type.
        proposal_type: u16,
    },
    /// The epoch counter would overflow (a forged epoch near 2^64).
    #[error("epoch counter exhausted")]
    EpochExhausted,

    // --- Welcome and resumption (§12.4.3.1, §11.2, §11.3) -------------------------------
    /// No entry of the Welcome's `secrets` is for our KeyPackage.
    #[error("no encrypted group secrets for this key package")]
    NoMatchingKeyPackage,
    /// More than one resumption PSK with usage `reinit` or `branch`.
    #[error("more than one reinit/branch resumption PSK")]
    MultipleReinitOrBranchPsks,
    /// A reinit / branch resumption PSK in a GroupInfo whose epoch is not 1.
    #[error("reinit/branch PSK but the new group's epoch is {0}, not 1")]
    ReinitOrBranchEpoch(u64),
    /// The GroupInfo `signer` has no signature key (blank or out-of-range leaf).
    #[error("GroupInfo signer {0} is unknown")]
    UnknownSigner(u32),
    /// The joiner's leaf is not in the tree the Welcome gives.
    #[error("our leaf node is not in the tree")]
    OwnLeafMissing,
    /// A group joined as the successor or branch of another does not match it (§11.2,
    /// §11.3); the check that failed.
    #[error("resumed group does not match the old group: {0}")]
    ResumptionMismatch(&'static str),
}

/// The §12.2 (and §12.1) proposal-list rules, each named, for
/// [`PeerMisbehaved::InvalidProposalList`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProposalRule {
    /// The committer's own Update is in its commit (it updates through the path).
    CommitterUpdate,
    /// Two Adds carry KeyPackages with the same signature key.
    DuplicateAddSignatureKey,
    /// Two PreSharedKey proposals name the same PSK.
    DuplicatePsk,
    /// More than one GroupContextExtensions proposal.
    MultipleGroupContextExtensions,
    /// A ReInit together with any other proposal.
    ReInitNotAlone,
    /// An ExternalInit in a member's commit (or sent standalone).
    ExternalInitInMemberCommit,
    /// An Update whose leaf node's source is not `update` (§12.1.2).
    UpdateLeafSource,
    /// A PSK nonce whose length is not `KDF.Nh` (§12.1.4).
    PskNonceLength,
    /// A resumption PSK with a usage other than `application` in a regular commit (§8.4).
    PskUsage,
    /// An external commit whose proposals are not one ExternalInit, at most one Remove and
    /// PSKs, all by value (§12.2).
    ExternalCommitProposals,
}

impl core::fmt::Display for ProposalRule {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ProposalRule::CommitterUpdate => "the committer's own Update is committed",
            ProposalRule::DuplicateAddSignatureKey => "two Adds with the same signature key",
            ProposalRule::DuplicatePsk => "the same PSK twice",
            ProposalRule::MultipleGroupContextExtensions => {
                "more than one GroupContextExtensions proposal"
            }
            ProposalRule::ReInitNotAlone => "a ReInit with other proposals",
            ProposalRule::ExternalInitInMemberCommit => {
                "an ExternalInit outside an external commit"
            }
            ProposalRule::UpdateLeafSource => "an Update leaf node whose source is not update",
            ProposalRule::PskNonceLength => "a PSK nonce whose length is not Nh",
            ProposalRule::PskUsage => "a resumption PSK whose usage is not application",
            ProposalRule::ExternalCommitProposals => {
                "external commit proposals other than ExternalInit, one Remove and PSKs by value"
            }
        })
    }
}

/// Which kind of credential change the application's policy refused, for
/// [`PeerMisbehaved::CredentialRejected`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialCheck {
    /// A new member's credential (Add).
    Add,
    /// A changed credential (Update proposal or path leaf).
    Update,
    /// An external joiner's credential.
    ExternalJoin,
    /// A resync Remove whose removed leaf is not the joiner's (§12.4.3.2).
    Resync,
    /// A member of a tree being joined.
    Existing,
}

impl core::fmt::Display for CredentialCheck {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            CredentialCheck::Add => "new member",
            CredentialCheck::Update => "changed credential",
            CredentialCheck::ExternalJoin => "external joiner",
            CredentialCheck::Resync => "resync removes another participant's leaf",
            CredentialCheck::Existing => "member of the joined tree",
        })
    }
}

/// Why a ratchet tree was rejected or an edit on it could not be applied. Each variant
/// names the RFC 9420 check that failed and the node concerned.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum TreeError {
    /// A leaf or node index beyond the tree.
    #[error("index {index} out of range for a tree of {width} nodes")]
    IndexOutOfRange {
        /// The index asked for.
        index: u32,
        /// The tree's width in nodes.
        width: u32,
    },
    /// The tree has more leaves than the engine supports (2^30).
    #[error("tree too large")]
    TooLarge,
    /// A node the tree was given does not encode (a field longer than a vector can hold),
    /// and the tree stores each node as its encoding.
    #[error("node {index} does not encode")]
    NodeEncoding {
        /// The node.
        index: u32,
    },
    /// A ratchet tree with no nodes (§12.4.3.3).
    #[error("empty ratchet tree")]
    Empty,
    /// The last node of a transmitted tree is blank (§12.4.3.3).
    #[error("the last node of the transmitted tree is blank")]
    LastNodeBlank,
    /// A leaf node at a parent position or vice versa.
    #[error("node {index} has the wrong type for its position")]
    WrongNodeType {
        /// The node.
        index: u32,
    },
    /// An operation needs a non-blank node that is blank.
    #[error("node {index} is blank")]
    BlankNode {
        /// The node.
        index: u32,
    },
    /// §7.9.2: a non-blank parent node is not covered by exactly one parent-hash chain.
    #[error("parent node {index} is not parent-hash valid (§7.9.2)")]
    ParentHashInvalid {
        /// The node.
        index: u32,
    },
    /// §7.1: unmerged_leaves must be sorted in increasing order.
    #[error("unmerged_leaves of node {index} not strictly increasing")]
    UnmergedLeavesUnsorted {
        /// The node.
        index: u32,
    },
    /// §12.4.3.1: an unmerged leaf that is blank, not a descendant, or missing from an
    /// intermediate node's list.
    #[error("node {index}: unmerged leaf {leaf} violates §12.4.3.1")]
    BadUnmergedLeaf {
        /// The parent node.
        index: u32,
        /// The unmerged leaf.
        leaf: u32,
    },
    /// §7.3: two leaves share a signature key.
    #[error("duplicate signature key at node {index}")]
    DuplicateSignatureKey {
        /// The second node with the key.
        index: u32,
    },
    /// §7.3, §12.4.3.1: two nodes share an encryption key.
    #[error("duplicate encryption key at node {index}")]
    DuplicateEncryptionKey {
        /// The second node with the key.
        index: u32,
    },
    /// §7.3: a non-default extension not listed in the leaf's capabilities.
    #[error("leaf uses extension {extension_type} not listed in its capabilities")]
    UnsupportedExtension {
        /// The extension type.
        extension_type: u16,
    },
    /// §7.3: a credential type in use that a leaf does not support.
    #[error("credential type {credential_type} not supported by a leaf")]
    UnsupportedCredential {
        /// The credential type.
        credential_type: u16,
    },
    /// The tree does not hash to the value the group agreed on (the GroupInfo's, or the
    /// GroupContext's).
    #[error("tree hash mismatch")]
    TreeHashMismatch,
}

/// Why a cryptographic operation failed.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum CryptoError {
    /// A signature did not verify (RFC 9420 §5.1.2 `VerifyWithLabel`).
    #[error("invalid signature")]
    InvalidSignature,
    /// An AEAD ciphertext did not authenticate.
    #[error("AEAD open failed")]
    AeadOpenFailed,
    /// An HPKE ciphertext did not authenticate (RFC 9180 `OpenError`).
    #[error("HPKE open failed")]
    HpkeOpenFailed,
    /// A public key of the wrong length or encoding.
    #[error("invalid public key")]
    InvalidPublicKey,
    /// A private key of the wrong length or encoding.
    #[error("invalid private key")]
    InvalidPrivateKey,
    /// X25519 produced the all-zero shared secret (a low-order public key), which RFC 9180
    /// §7.1.4 requires DHKEM(X25519) to reject.
    #[error("Diffie-Hellman shared secret is all zero")]
    ZeroSharedSecret,
    /// An X25519 public key of small order (RFC 7748 §7): every Diffie-Hellman with it gives
    /// the all-zero secret, so no one can seal to it. Rejected where the key enters the
    /// group, before any member has to seal to it.
    #[error("public key of small order")]
    SmallOrderPublicKey,
    /// An input or requested output of the wrong length.
    #[error("invalid length: {0}")]
    InvalidLength(&'static str),
    /// Any other failure reported by aws-lc-rs or hpke-rs, or a crypto backend setting
    /// (`CANOPY_CRYPTO`) that names no backend or one this host cannot run.
    #[error("crypto back end: {0}")]
    Backend(String),
}

/// How the application called the API wrongly.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum ApiMisuse {
    /// A commit was created with `Group::create_commit` and is neither merged nor cleared.
    #[error("this member's commit is pending: merge or clear it first")]
    CommitPending,
    /// `Group::merge_pending_commit` without a pending commit.
    #[error("no pending commit to merge")]
    NoPendingCommit,
    /// The message is this member's own commit echoed back: merge the pending commit instead.
    #[error("own commit received")]
    OwnCommit,
    /// This member has been removed from the group; its state takes no further operations.
    #[error("this member is no longer in the group")]
    NotAMember,
    /// A ReInit was committed: this group takes no further commits or proposals (RFC 9420
    /// §11.2); the members move to the new group.
    #[error("the group has been reinitialised")]
    ReInitialized,
    /// The message is not of the kind this call handles (e.g. a Welcome passed to
    /// `Group::process`).
    #[error("unexpected message: {0}")]
    UnexpectedMessage(&'static str),
    /// A Welcome with no `ratchet_tree` extension, and no tree given out of band.
    #[error("no ratchet tree: neither in the Welcome nor given")]
    MissingRatchetTree,
    /// A copied state ([`Clone`] of a group) cannot send `PrivateMessage`s in this epoch:
    /// the original may use (or have used) any of its generations, and sending again would
    /// reuse a key and nonce.
    #[error("a copied state cannot send PrivateMessages in this epoch")]
    SendFromCopy,
    /// The signature key given does not match the leaf it is to sign for.
    #[error("the signer does not match the leaf node's signature key")]
    SignerMismatch,
    /// An argument outside what the call accepts; the text names it.
    #[error("{0}")]
    InvalidArgument(&'static str),
}

/// Something valid that Canopy does not implement.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum Unsupported {
    /// A cipher suite Canopy does not implement.
    #[error("cipher suite {0}")]
    CipherSuite(u16),
    /// A proposal type the engine does not process.
    #[error("proposal type {0}")]
    ProposalType(u16),
    /// A protocol version other than mls10.
    #[error("protocol version {0}")]
    ProtocolVersion(u16),
}
