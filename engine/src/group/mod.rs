//! Group operations over RFC 9420 bytes: create a group, propose (Add, Remove, Update, PSK,
//! GroupContextExtensions) and commit (proposals by value and by reference, a path, PSKs,
//! ReInit, as PublicMessage or PrivateMessage), process other members' proposals and
//! commits, join from a Welcome (with external PSKs) or by external commit.
//!
//! # Design
//!
//! A [`Group`] is one member's state in one epoch. Every operation that changes it works on
//! the ratchet tree in place under the tree's journal ([`RatchetTree::begin_journal`]) and
//! computes everything else (the next epoch's context, key schedule, private keys, transcript
//! hashes) into a separate `NextEpoch` value. Only when every check has passed is the
//! journal committed and the `NextEpoch` moved in; on any error the journal is rolled back,
//! so a failed operation leaves the state as it was, byte for byte, without cloning the tree.
//!
//! Work is proportional to the change: the tree keeps per-node tree hashes and recomputes
//! only edited paths, key uniqueness uses the tree's incremental key index, and the
//! independent crypto of an operation (HPKE seals of an UpdatePath and of a Welcome,
//! KeyPackage signature checks) runs as a batch on the group's [`Executor`].

/// The PSK stores of the member `$group` ([`proposals::MemberPsks`]), borrowed field by field
/// so that the group's public state can be borrowed mutably beside them.
macro_rules! member_psks {
    ($group:expr) => {
        $crate::group::proposals::MemberPsks {
            current: &$group.secrets.resumption_psk,
            external: &$group.external_psks,
            resumption: &$group.resumption_psks,
            linked: $group.linked_psk.as_ref(),
        }
    };
}

mod commit;
pub mod credentials;
mod external;
pub mod external_senders;
mod join;
pub mod multi;
mod process;
mod proposals;
mod propose;
#[cfg(test)]
mod protocol_tests;
mod public;
mod resumption;
mod staged;
#[cfg(test)]
mod tests;

use crate::error::{ApiMisuse, PeerMisbehaved, Unsupported};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::batch::Executor;
use crate::codec::{
    self, CipherSuiteId, GroupContext, MlsMessage, MlsMessageBody, ProtocolVersion,
    WireFormat,
};
use crate::crypto::{Provider, Secret, SignaturePrivateKey, X25519Backend, X25519BackendError};
use crate::error::{Error, Result};
use crate::framing::EpochFraming;
use crate::kem::TreeKemPrivate;
use crate::key_package::{default_lifetime, signed_leaf_node, Clock};
use crate::schedule::{self, EpochSecrets, RetainedSecrets};
use crate::tree::{LeafIndex, RatchetTree, TreeRedo};

pub use commit::{
    CommitOptions, CommitOutput, OmitReason, OmittedProposal, OpCounts, PathPolicy, Protection,
    TreeDelivery,
};
pub use credentials::{
    BasicCredentialValidator, CredentialChange, CredentialCheck, CredentialValidator,
};
pub use external::ExternalJoinOptions;
pub use join::JoinOptions;
pub use process::ProcessOutcome;
pub use proposals::ProposalSender;
pub use public::{PublicGroup, UnsignedGroupInfo};
pub use propose::CachedProposalView;
pub use external_senders::{external_proposal, external_senders_extension, new_member_proposal};
pub use multi::commit_many;
pub use staged::{CommitSummary, Staged, StagedCommit};

pub use crate::error::ProposalRule;

/// How many past epochs' `resumption_psk` a member keeps (RFC 9420 §8.6).
pub const RESUMPTION_PSK_EPOCHS: usize = 16;

/// Where randomness comes from: the system, or (tests, benchmarks, simulations) a seed, so
/// that runs are reproducible and the serial and parallel paths produce identical bytes.
#[derive(Debug, Clone)]
pub enum Randomness {
    /// Fresh system randomness.
    System,
    /// Derived from a seed: `ExpandWithLabel(seed, "canopy rng", label || counter, n)`.
    Seeded(Secret),
}

/// Per-group settings that are not part of the protocol state.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// How lifetimes of KeyPackages are checked.
    pub clock: Clock,
    /// Where the batched crypto runs.
    pub executor: Executor,
    /// Randomness source.
    pub randomness: Randomness,
    /// The application's credential policy, asked about every credential that enters or
    /// changes in the group ([`BasicCredentialValidator`] by default).
    pub credential_validator: Arc<dyn CredentialValidator>,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            clock: Clock::System,
            executor: Executor::default(),
            randomness: Randomness::System,
            credential_validator: Arc::new(BasicCredentialValidator),
        }
    }
}

/// A stream of random secrets (see [`Randomness`]).
#[derive(Debug, Clone)]
struct Rng {
    source: Randomness,
    counter: u64,
}

impl Rng {
    /// `n` random bytes for the purpose `label`.
    fn secret(&mut self, provider: &Provider, label: &[u8], n: usize) -> Result<Secret> {
        match &self.source {
            Randomness::System => Ok(Secret::new(provider.random_bytes(n))),
            Randomness::Seeded(seed) => {
                self.counter += 1;
                let mut context = label.to_vec();
                context.extend_from_slice(&self.counter.to_be_bytes());
                let n = u16::try_from(n).map_err(|_| {
                    Error::ApiMisuse(ApiMisuse::InvalidArgument("random request too long"))
                })?;
                Ok(provider.expand_with_label(seed.as_bytes(), b"canopy rng", &context, n)?)
            }
        }
    }
}

/// The state an operation computes for the next epoch, moved into the [`Group`] only when
/// the operation has succeeded.
#[derive(Debug, Clone)]
struct NextEpoch {
    context: GroupContext,
    private: TreeKemPrivate,
    secrets: EpochSecrets,
    interim_transcript_hash: Vec<u8>,
    /// The confirmation tag of the commit (or GroupInfo) that starts the epoch.
    confirmation_tag: Vec<u8>,
}

/// One member's state of an MLS group in one epoch.
///
/// `Clone` gives an independent copy (what a benchmark replaying one operation from the same
/// state needs) with the exact message-ratchet state of the original: a message the original
/// has already decrypted is a replay to the copy too. The copy cannot send `PrivateMessage`s
/// (application data, or proposals and commits framed privately) in the current epoch
/// ([`ApiMisuse::SendFromCopy`]): whichever generation it picked, the
/// original may use it as well, and two messages under one key and nonce break the AEAD.
/// `PublicMessage` proposals and commits are unaffected, and once the copy enters a new epoch
/// it sends normally. (Two copies that then process the same commit share that epoch's
/// secrets, as any two restores of one saved state would: keep one of them live.)
///
/// # Example: commit, process, stage
///
/// Alice and Bob share a group; Bob refreshes his keys with an update commit, which Alice
/// processes. Then Alice stages Bob's removal, looks at what it does, and merges it.
///
/// ```
/// use canopy_engine::{
///     key_package, CipherSuite, CommitOptions, Group, GroupConfig, JoinOptions, LeafIndex,
///     ProcessOutcome, Provider, Staged,
/// };
///
/// # fn main() -> Result<(), canopy_engine::Error> {
/// let provider = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
/// let (signer, _) = provider.generate_signature_key_pair();
/// let mut alice = Group::create(provider, b"g", b"alice", signer, GroupConfig::default())?;
/// let (kp, secrets) = key_package(&provider, b"bob")?;
/// let added = alice.commit(&CommitOptions::new().add_member(kp.clone()))?;
/// // The tree goes out of band here: Bob gets it from Alice's state.
/// let tree = alice.ratchet_tree_bytes()?;
/// let welcome = added.welcome.expect("a Welcome for Bob");
/// let options = JoinOptions::new().ratchet_tree(&tree[..]);
/// let mut bob = Group::join(provider, &welcome, &kp, &secrets, options)?;
///
/// // Bob commits an update (a new path); Alice processes the commit bytes.
/// let update = bob.commit(&CommitOptions::new().with_path())?;
/// let outcome = alice.process(&update.commit)?;
/// assert!(matches!(outcome, ProcessOutcome::Committed { epoch: 2, .. }));
/// assert_eq!(alice.epoch_authenticator(), bob.epoch_authenticator());
///
/// // A staged commit: Alice removes Bob, and Bob looks before he applies it.
/// let removal = alice.commit(&CommitOptions::new().remove_member(LeafIndex(1)))?;
/// match bob.process_staged(&removal.commit)? {
///     Staged::Commit(staged) => {
///         assert!(staged.summary().removes_me);
///         staged.merge();
///     }
///     _ => unreachable!("a commit"),
/// }
/// assert!(bob.is_removed());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Group {
    /// The group's public state (context, tree, transcript hashes, proposal cache, ReInit)
    /// and the settings of the checks that need no secret: what a delivery service tracking
    /// the group holds too ([`Group::public_group`]).
    public: PublicGroup,
    private: TreeKemPrivate,
    signer: SignaturePrivateKey,
    /// The key-schedule secrets kept for the epoch; those consumed at set-up are not here
    /// (RFC 9420 §9.2, see [`EpochFraming::from_epoch_secrets`]).
    secrets: RetainedSecrets,
    framing: EpochFraming,
    rng: Rng,
    /// Set when a processed commit removed this member.
    removed: bool,
    /// Private keys of this member's own Updates in the cache.
    pending_updates: Vec<proposals::PendingUpdate>,
    /// External PSKs by `psk_id` (RFC 9420 §8.4).
    external_psks: HashMap<Vec<u8>, Secret>,
    /// `resumption_psk` of up to [`RESUMPTION_PSK_EPOCHS`] past epochs, oldest first.
    resumption_psks: VecDeque<(u64, Secret)>,
    /// This member's own commit, created and not yet merged or cleared.
    pending_commit: Option<staged::PendingCommit>,
    /// The resumption PSK (group id, epoch, secret) of the group this one resumes, held by the
    /// creator of a ReInit successor or branch for its first commit only.
    linked_psk: Option<(Vec<u8>, u64, Secret)>,
}

impl Clone for Group {
    fn clone(&self) -> Self {
        Group {
            public: self.public.clone(),
            private: self.private.clone(),
            signer: self.signer.clone(),
            secrets: self.secrets.clone(),
            framing: self.framing.receiving_copy(),
            rng: self.rng.clone(),
            removed: self.removed,
            pending_updates: self.pending_updates.clone(),
            external_psks: self.external_psks.clone(),
            resumption_psks: self.resumption_psks.clone(),
            // A pending commit is this member's own send; a copy cannot send in this epoch,
            // so it does not get one to merge.
            pending_commit: None,
            linked_psk: self.linked_psk.clone(),
        }
    }
}

impl Group {
    /// Create a one-member group (RFC 9420 §11) with a basic credential for `identity`,
    /// signing with `signer`. The leaf's HPKE key and the first epoch secret come from the
    /// configured randomness.
    pub fn create(
        provider: Provider,
        group_id: &[u8],
        identity: &[u8],
        signer: SignaturePrivateKey,
        config: GroupConfig,
    ) -> Result<Self> {
        let mut rng = Rng {
            source: config.randomness.clone(),
            counter: 0,
        };
        let nh = provider.hash_len();
        let leaf_ikm = rng.secret(&provider, b"leaf", nh)?;
        let (leaf_key, leaf_pub) = provider.derive_hpke_key_pair(leaf_ikm.as_bytes())?;
        let now = config.clock.now().unwrap_or(0);
        let leaf = signed_leaf_node(
            &provider,
            &signer,
            identity,
            leaf_pub,
            codec::LeafNodeSourceData::KeyPackage {
                lifetime: default_lifetime(now),
            },
            None,
        )?;
        let mut tree = RatchetTree::new(&leaf, nh)?;
        let tree_hash = tree.tree_hash(&provider)?;
        let context = GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: CipherSuiteId(provider.suite().id()),
            group_id: group_id.to_vec().into(),
            epoch: 0,
            tree_hash: tree_hash.into(),
            confirmed_transcript_hash: Vec::new().into(),
            extensions: Vec::new(),
        };
        // §11: a fresh random epoch secret. A random joiner secret gives one (the epoch
        // secret is a PRF output of it), through the same code path as every later epoch.
        let joiner = rng.secret(&provider, b"epoch", nh)?;
        let private = TreeKemPrivate::new(LeafIndex(0), leaf_key);
        Self::from_joiner_secret(
            provider, context, tree, private, signer, joiner, config, rng,
        )
    }

    /// A member's state from its parts, for states built outside the protocol flow (the
    /// workload generators build 50,000-member trees directly). `tree` must be valid and
    /// `context.tree_hash` its hash; `private` must match it.
    #[cfg(feature = "unstable-internals")]
    pub fn from_parts(
        provider: Provider,
        context: GroupContext,
        tree: RatchetTree,
        private: TreeKemPrivate,
        signer: SignaturePrivateKey,
        joiner_secret: Secret,
        config: GroupConfig,
    ) -> Result<Self> {
        let rng = Rng {
            source: config.randomness.clone(),
            counter: 0,
        };
        Self::from_joiner_secret(
            provider,
            context,
            tree,
            private,
            signer,
            joiner_secret,
            config,
            rng,
        )
    }

    /// The same epoch as another member sees it: this state's context, tree and epoch
    /// secrets with `private` and `signer` in place of this member's, without copying the
    /// tree. For simulations that hold every member's keys but only one tree (the capacity
    /// planner lets whichever member commits next take over). `private` is checked against
    /// the tree and `signer` against the leaf's signature key; on error nothing is returned.
    /// Like a clone, the result cannot send `PrivateMessage`s in the current epoch.
    #[cfg(feature = "unstable-internals")]
    pub fn into_member(self, private: TreeKemPrivate, signer: SignaturePrivateKey) -> Result<Self> {
        // Simulated crypto takes the keys on trust (the check derives every public key); the
        // next real operation with them fails if one is wrong.
        if !self.public.provider.is_simulated() {
            private.check_against(&self.public.provider, &self.public.tree)?;
        }
        let leaf = self
            .public
            .tree
            .leaf(private.leaf())
            .ok_or(PeerMisbehaved::OwnLeafMissing)?;
        if leaf.signature_key() != signer.public_key().as_slice() {
            return Err(Error::ApiMisuse(ApiMisuse::InvalidArgument(
                "signer does not match the member's leaf",
            )));
        }
        // The framing keeps its exact receive state, but the new member's sending ratchets
        // there only reflect what this state received from it: it may have sent more, so
        // this state does not send PrivateMessages in this epoch.
        let framing = self.framing.into_receiving_copy();
        Ok(Group {
            public: PublicGroup {
                proposal_cache: Vec::new(),
                reinit: None,
                ..self.public
            },
            private,
            signer,
            framing,
            removed: false,
            pending_updates: Vec::new(),
            external_psks: HashMap::new(),
            resumption_psks: VecDeque::new(),
            ..self
        })
    }

    /// The epoch whose key schedule starts from `joiner_secret` (no PSKs), with the interim
    /// transcript hash from `context`'s confirmed transcript hash (§8.2, §11).
    #[allow(clippy::too_many_arguments)]
    fn from_joiner_secret(
        provider: Provider,
        context: GroupContext,
        tree: RatchetTree,
        private: TreeKemPrivate,
        signer: SignaturePrivateKey,
        joiner_secret: Secret,
        config: GroupConfig,
        rng: Rng,
    ) -> Result<Self> {
        let zero = vec![0u8; provider.hash_len()];
        let secrets =
            EpochSecrets::from_joiner(&provider, joiner_secret, &zero, &codec::encode(&context)?)?;
        let tag = secrets.confirmation_tag(&provider, context.confirmed_transcript_hash.as_slice());
        let interim_transcript_hash = schedule::interim_transcript_hash(
            &provider,
            context.confirmed_transcript_hash.as_slice(),
            &tag,
        )?;
        Ok(Self::assemble(
            provider,
            tree,
            signer,
            NextEpoch {
                context,
                private,
                secrets,
                interim_transcript_hash,
                confirmation_tag: tag,
            },
            config,
            rng,
        ))
    }

    fn assemble(
        provider: Provider,
        tree: RatchetTree,
        signer: SignaturePrivateKey,
        next: NextEpoch,
        config: GroupConfig,
        rng: Rng,
    ) -> Self {
        // Consumes the set-up secrets (§9.2): the Group keeps only the retained ones.
        let (framing, secrets) = EpochFraming::from_epoch_secrets(
            provider,
            next.context.clone(),
            next.secrets,
            tree.n_leaves(),
        );
        Group {
            public: PublicGroup::new(
                provider,
                next.context,
                tree,
                next.interim_transcript_hash,
                next.confirmation_tag,
                &config,
            ),
            private: next.private,
            signer,
            secrets,
            framing,
            rng,
            removed: false,
            pending_updates: Vec::new(),
            external_psks: HashMap::new(),
            resumption_psks: VecDeque::new(),
            pending_commit: None,
            linked_psk: None,
        }
    }

    /// Move the next epoch in (after the tree journal was committed).
    fn advance(&mut self, next: NextEpoch) {
        if self.resumption_psks.len() == RESUMPTION_PSK_EPOCHS {
            self.resumption_psks.pop_front();
        }
        self.resumption_psks
            .push_back((self.public.context.epoch, self.secrets.resumption_psk.clone()));
        self.pending_updates.clear();
        // A commit of ours that was not merged belongs to the epoch just left.
        self.pending_commit = None;
        // Consumes the set-up secrets (§9.2); the previous epoch's secrets, its `init_secret`
        // included, are dropped (zeroized) as they are replaced.
        let (framing, secrets) = EpochFraming::from_epoch_secrets(
            self.public.provider,
            next.context.clone(),
            next.secrets,
            self.public.tree.n_leaves(),
        );
        self.framing = framing;
        self.public.enter_epoch(
            next.context,
            next.interim_transcript_hash,
            next.confirmation_tag,
        );
        self.private = next.private;
        self.secrets = secrets;
    }

    /// The secret of a PSK this member holds ([`proposals::MemberPsks::value`]).
    pub(super) fn psk_value(&self, id: &codec::PreSharedKeyId) -> Option<Secret> {
        member_psks!(self).value(&self.public.context, id)
    }

    /// [`run_journaled`] on this member's tree.
    fn run_edit<T>(
        &mut self,
        staged: bool,
        op: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<(T, Option<TreeRedo>)> {
        run_journaled(self, |g| &mut g.public.tree, staged, op)
    }

    /// A SHA-256 digest of this member's whole state: group context, tree, private TreeKEM
    /// keys, epoch secrets, transcript hash, message ratchets, proposal cache, pending
    /// Updates, PSK stores, the removed and ReInit flags and the randomness counter. Two
    /// states with the same digest behave identically; tests use it to show that a rejected
    /// message left nothing changed. The digest is a hash of high-entropy secrets and reveals
    /// none of them.
    pub fn state_digest(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let field = digest_field;
        self.public.digest_into(&mut out)?;
        let mut private = Vec::new();
        self.private.digest_into(&mut private);
        field(&mut out, &private);
        self.secrets
            .for_each_secret(&mut |s| out.extend_from_slice(s.as_bytes()));
        self.framing.digest_into(&mut out);
        for u in &self.pending_updates {
            field(&mut out, &u.reference);
            field(&mut out, u.leaf_key.as_bytes());
        }
        out.push(0xff);
        let mut psks: Vec<_> = self.external_psks.iter().collect();
        psks.sort_by(|a, b| a.0.cmp(b.0));
        for (id, psk) in psks {
            field(&mut out, id);
            field(&mut out, psk.as_bytes());
        }
        out.push(0xff);
        for (epoch, psk) in &self.resumption_psks {
            field(&mut out, &epoch.to_be_bytes());
            field(&mut out, psk.as_bytes());
        }
        out.push(0xff);
        out.push(u8::from(self.removed));
        out.extend_from_slice(&self.rng.counter.to_be_bytes());
        match &self.pending_commit {
            Some(p) => field(&mut out, &codec::encode(&p.next.context)?),
            None => out.push(0),
        }
        if let Some((group, epoch, psk)) = &self.linked_psk {
            field(&mut out, group);
            field(&mut out, &epoch.to_be_bytes());
            field(&mut out, psk.as_bytes());
        }
        let digest = self.public.provider.hash(&out);
        zeroize::Zeroize::zeroize(&mut out);
        Ok(digest)
    }

    /// The group's public state, as a delivery service tracking the group holds it: clone
    /// it for an observer that follows the group from this epoch on
    /// ([`PublicGroup::process`]).
    pub fn public_group(&self) -> &PublicGroup {
        &self.public
    }

    /// Replace the executor (e.g. force the serial reference path).
    pub fn set_executor(&mut self, executor: Executor) {
        self.public.set_executor(executor);
    }

    /// Replace the clock that KeyPackage lifetimes are checked against.
    pub fn set_clock(&mut self, clock: Clock) {
        self.public.set_clock(clock);
    }

    /// Compute the batched X25519 on `backend` from now on (e.g. force the aws-lc reference,
    /// or compare backends): [`PublicGroup::set_x25519_backend`].
    pub fn set_x25519_backend(
        &mut self,
        backend: X25519Backend,
    ) -> core::result::Result<(), X25519BackendError> {
        self.public.set_x25519_backend(backend)?;
        self.framing.set_provider(self.public.provider);
        Ok(())
    }

    /// Switch this member's crypto to simulated or back to real (see
    /// [`Provider::with_simulated_crypto`]), for the operations that follow. A simulated
    /// commit is processed by simulated members only.
    #[cfg(feature = "simulated-crypto")]
    pub fn set_simulated_crypto(&mut self, on: bool) {
        self.public.set_simulated_crypto(on);
        self.framing.set_provider(self.public.provider);
    }

    /// The provider (cipher suite).
    pub fn provider(&self) -> &Provider {
        self.public.provider()
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.public.epoch()
    }

    /// The current GroupContext.
    pub fn context(&self) -> &GroupContext {
        self.public.context()
    }

    /// This member's leaf.
    pub fn own_leaf(&self) -> LeafIndex {
        self.private.leaf()
    }

    /// The public ratchet tree.
    #[cfg(feature = "unstable-internals")]
    pub fn tree(&self) -> &RatchetTree {
        self.public.tree()
    }

    /// This member's private TreeKEM state.
    #[cfg(feature = "unstable-internals")]
    pub fn private(&self) -> &TreeKemPrivate {
        &self.private
    }

    /// Number of members (non-blank leaves).
    pub fn member_count(&self) -> usize {
        self.public.member_count()
    }

    /// True once a processed commit has removed this member.
    pub fn is_removed(&self) -> bool {
        self.removed
    }

    /// `epoch_authenticator` of the current epoch (RFC 9420 §8.7).
    pub fn epoch_authenticator(&self) -> &Secret {
        &self.secrets.epoch_authenticator
    }

    /// Whether any key-schedule or secret-tree secret this state holds equals `value`
    /// (compared in constant time): the retained epoch secrets, the framing keys, every node
    /// and ratchet secret and retained key of the secret tree, and the kept PSKs. For tests of
    /// the deletion schedule (RFC 9420 §9.2): a consumed value, such as this epoch's
    /// `joiner_secret` or `encryption_secret`, must not be found.
    #[doc(hidden)]
    #[cfg(feature = "unstable-internals")]
    pub fn holds_secret(&self, value: &[u8]) -> bool {
        // Exhaustive, so that a field added later has to be placed on one side or the other.
        let Group {
            // Holds no secret (see `PublicGroup`).
            public: _,
            // TreeKEM private keys (leaf and direct-path nodes), never a key-schedule value.
            private: _,
            signer: _,
            secrets,
            framing,
            rng: _,
            removed: _,
            pending_updates: _,
            external_psks,
            resumption_psks,
            pending_commit,
            linked_psk,
        } = self;
        let mut found = false;
        let mut check = |s: &Secret| found |= schedule::secret_matches(s, value);
        if let Some(p) = pending_commit {
            // The next epoch's whole key schedule, until the commit is merged.
            let n = &p.next.secrets;
            for s in [
                &n.joiner_secret,
                &n.welcome_secret,
                &n.epoch_secret,
                &n.sender_data_secret,
                &n.encryption_secret,
                &n.exporter_secret,
                &n.external_secret,
                &n.confirmation_key,
                &n.membership_key,
                &n.resumption_psk,
                &n.epoch_authenticator,
                &n.init_secret,
            ] {
                check(s);
            }
        }
        if let Some((_, _, s)) = linked_psk {
            check(s);
        }
        secrets.for_each_secret(&mut check);
        framing.for_each_secret(&mut check);
        external_psks.values().for_each(&mut check);
        resumption_psks.iter().for_each(|(_, s)| check(s));
        found
    }

    /// `MLS-Exporter(label, context, length)` (RFC 9420 §8.5).
    pub fn export_secret(&self, label: &[u8], context: &[u8], length: u16) -> Result<Secret> {
        self.secrets.export(&self.public.provider, label, context, length)
    }

    /// The ratchet tree in its wire form (the `ratchet_tree` extension body), serialized.
    pub fn ratchet_tree_bytes(&self) -> Result<Vec<u8>> {
        self.public.ratchet_tree_bytes()
    }

    /// Protect application data as an MLSMessage(PrivateMessage) (RFC 9420 §6.3).
    pub fn protect_application(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let content = codec::FramedContent {
            group_id: self.public.context.group_id.clone(),
            epoch: self.public.context.epoch,
            sender: codec::Sender::Member {
                leaf_index: self.own_leaf().0,
            },
            authenticated_data: Vec::new().into(),
            content: codec::FramedContentBody::Application {
                application_data: data.to_vec().into(),
            },
        };
        let auth =
            self.framing
                .authenticate(&self.signer, WireFormat::PrivateMessage, content, None)?;
        let reuse_guard = self.rng.secret(&self.public.provider, b"reuse guard", 4)?;
        let mut guard = [0u8; 4];
        guard.copy_from_slice(reuse_guard.as_bytes());
        let message = self
            .framing
            .protect_private_with_reuse_guard(&auth, 0, guard)?;
        encode_message(MlsMessageBody::PrivateMessage(message))
    }

    /// Decrypt an MLSMessage(PrivateMessage) carrying application data; returns the data.
    pub fn unprotect_application(&mut self, bytes: &[u8]) -> Result<Vec<u8>> {
        let message = decode_message(bytes)?;
        let MlsMessageBody::PrivateMessage(pm) = message.body else {
            return Err(ApiMisuse::UnexpectedMessage("not a PrivateMessage").into());
        };
        let tree = &self.public.tree;
        let auth = self.framing.unprotect_private(&pm, |sender| match sender {
            codec::Sender::Member { leaf_index } => tree
                .leaf(LeafIndex(*leaf_index))
                .map(|l| l.signature_key().to_vec()),
            _ => None,
        })?;
        match auth.content.content {
            codec::FramedContentBody::Application { application_data } => {
                Ok(application_data.into())
            }
            _ => Err(ApiMisuse::UnexpectedMessage("PrivateMessage is not application data").into()),
        }
    }

    /// Whether the GroupInfo of this epoch should carry the given extension type. Only
    /// `ratchet_tree` is produced today.
    fn ratchet_tree_extension(&self) -> Result<codec::Extension> {
        self.public.ratchet_tree_extension()
    }
}

/// Run `op` on `state` with the ratchet tree that `tree` picks out of it under the tree's
/// journal. With `staged`, a success leaves the tree as it was and returns the edits to redo
/// when the result is merged; otherwise the edits are kept. A failure restores the tree
/// exactly either way.
fn run_journaled<S, T>(
    state: &mut S,
    tree: fn(&mut S) -> &mut RatchetTree,
    staged: bool,
    op: impl FnOnce(&mut S) -> Result<T>,
) -> Result<(T, Option<TreeRedo>)> {
    tree(state).begin_journal()?;
    match op(state) {
        Ok(v) if staged => Ok((v, Some(tree(state).rollback_with_redo()))),
        Ok(v) => {
            tree(state).commit_journal();
            Ok((v, None))
        }
        Err(e) => {
            tree(state).rollback();
            Err(e)
        }
    }
}

/// Append `bytes` to a state digest's input, length first.
fn digest_field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// The epoch after `epoch`. Epochs come from the wire (a GroupInfo), so a forged one near
/// 2^64 must fail instead of wrapping.
fn next_epoch(epoch: u64) -> Result<u64> {
    epoch
        .checked_add(1)
        .ok_or_else(|| PeerMisbehaved::EpochExhausted.into())
}

/// Serialize an MLSMessage with version mls10.
fn encode_message(body: MlsMessageBody) -> Result<Vec<u8>> {
    Ok(codec::encode(&MlsMessage {
        version: ProtocolVersion::MLS10,
        body,
    })?)
}

/// Decode an MLSMessage and check its version.
fn decode_message(bytes: &[u8]) -> Result<MlsMessage> {
    let message: MlsMessage = codec::decode(bytes)?;
    if message.version != ProtocolVersion::MLS10 {
        return Err(Unsupported::ProtocolVersion(message.version.0).into());
    }
    Ok(message)
}
