//! The mls-rs 0.57 adapter (crypto: `mls-rs-crypto-awslc` 0.27; identity: basic; storage:
//! in memory; `rayon` on). A member is bound to one cipher suite, chosen when it is made.

use std::convert::Infallible;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use ::mls_rs::client_builder::{
    BaseConfig, WithCryptoProvider, WithGroupStateStorage, WithIdentityProvider,
    WithKeyPackageRepo, WithMlsRules,
};
use ::mls_rs::crypto::{SignaturePublicKey, SignatureSecretKey};
use ::mls_rs::group::{ExportedTree, ReceivedMessage, ReinitClient, Roster};
use ::mls_rs::identity::basic::{BasicCredential, BasicIdentityProvider};
use ::mls_rs::identity::SigningIdentity;
use ::mls_rs::mls_rs_codec::MlsDecode as _;
use ::mls_rs::mls_rules::{
    CommitDirection, CommitOptions, CommitSource, DefaultMlsRules, EncryptionOptions,
    ProposalBundle,
};
use ::mls_rs::storage_provider::in_memory::{InMemoryGroupStateStorage, InMemoryKeyPackageStorage};
use ::mls_rs::{
    CipherSuite, CipherSuiteProvider as _, Client, CryptoProvider as _, ExtensionList, Group,
    GroupStateStorage, MlsMessage, MlsRules, ProtocolVersion,
};
use anyhow::{anyhow, bail, Context, Result};
use mls_rs_core::group::{EpochRecord, GroupContext, GroupState};
use mls_rs_crypto_awslc::AwsLcCryptoProvider;
use zeroize::Zeroizing;

use super::{CommitOp, CommitOutput, PeerKind, PeerMember};

/// The mls-rs suite with RFC 9420 code point `suite`, if `mls-rs-crypto-awslc` runs it (its
/// own answer: enabled, and it builds a provider for the suite).
pub(crate) fn supported_suite(suite: u16) -> Option<CipherSuite> {
    let suite = CipherSuite::new(suite);
    let crypto = AwsLcCryptoProvider::new();
    (crypto.supported_cipher_suites().contains(&suite)
        && crypto.cipher_suite_provider(suite).is_some())
    .then_some(suite)
}

/// After this many epochs without a flush, the adapter flushes mls-rs's in-memory prior-epoch
/// records to its storage (which keeps the last 3); see the module docs of `peers`.
pub const MLS_RS_FLUSH_EVERY: u32 = 16;

type Config = WithMlsRules<
    Rules,
    WithGroupStateStorage<
        SwitchStorage,
        WithKeyPackageRepo<
            InMemoryKeyPackageStorage,
            WithIdentityProvider<
                BasicIdentityProvider,
                WithCryptoProvider<AwsLcCryptoProvider, BaseConfig>,
            >,
        >,
    >,
>;

/// mls-rs's default rules, except that the commit options are chosen per commit by the
/// adapter (path or not, tree in the Welcome or not). Each member has its own.
#[derive(Clone, Debug, Default)]
struct Rules {
    default: DefaultMlsRules,
    commit_options: Arc<Mutex<CommitOptions>>,
}

impl Rules {
    fn set(&self, options: CommitOptions) {
        *lock(&self.commit_options) = options;
    }
}

/// Lock, ignoring poisoning: the guarded values are plain data, valid after any panic.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl MlsRules for Rules {
    type Error = Infallible;

    fn filter_proposals(
        &self,
        direction: CommitDirection,
        source: CommitSource,
        current_roster: &Roster,
        current_context: &GroupContext,
        proposals: ProposalBundle,
    ) -> Result<ProposalBundle, Infallible> {
        self.default.filter_proposals(
            direction,
            source,
            current_roster,
            current_context,
            proposals,
        )
    }

    fn commit_options(
        &self,
        _: &Roster,
        _: &GroupContext,
        _: &ProposalBundle,
    ) -> Result<CommitOptions, Infallible> {
        Ok(*lock(&self.commit_options))
    }

    fn encryption_options(
        &self,
        roster: &Roster,
        context: &GroupContext,
    ) -> Result<EncryptionOptions, Infallible> {
        self.default.encryption_options(roster, context)
    }
}

/// mls-rs's in-memory group state storage behind a switch, so a fork can write a clone's
/// snapshot into a fresh storage without touching the original's (a cloned `Group` shares its
/// config, storage included, with the original).
#[derive(Clone, Debug, Default)]
struct SwitchStorage(Arc<Mutex<InMemoryGroupStateStorage>>);

impl SwitchStorage {
    fn current(&self) -> InMemoryGroupStateStorage {
        // Clones of the in-memory storage share one map.
        lock(&self.0).clone()
    }

    fn switch(&self, to: InMemoryGroupStateStorage) -> InMemoryGroupStateStorage {
        std::mem::replace(&mut *lock(&self.0), to)
    }
}

impl GroupStateStorage for SwitchStorage {
    type Error = Infallible;

    fn state(&self, group_id: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, Infallible> {
        self.current().state(group_id)
    }

    fn epoch(
        &self,
        group_id: &[u8],
        epoch_id: u64,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, Infallible> {
        self.current().epoch(group_id, epoch_id)
    }

    fn write(
        &mut self,
        state: GroupState,
        epoch_inserts: Vec<EpochRecord>,
        epoch_updates: Vec<EpochRecord>,
    ) -> Result<(), Infallible> {
        self.current().write(state, epoch_inserts, epoch_updates)
    }

    fn max_epoch_id(&self, group_id: &[u8]) -> Result<Option<u64>, Infallible> {
        self.current().max_epoch_id(group_id)
    }
}

/// One member held by mls-rs.
pub(crate) struct MlsRsMember {
    suite: CipherSuite,
    signing_identity: SigningIdentity,
    signer: SignatureSecretKey,
    rules: Rules,
    storage: SwitchStorage,
    key_packages: InMemoryKeyPackageStorage,
    client: Client<Config>,
    group: Option<Group<Config>>,
    /// After a ReInit: the client that creates or joins the successor (mls-rs makes it from
    /// the old group, which it consumes). Not copied by [`PeerMember::fork`].
    reinit: Option<ReinitClient<Config>>,
    /// Epochs since the last flush of prior-epoch records.
    unflushed: u32,
}

impl fmt::Debug for MlsRsMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MlsRsMember")
            .field("epoch", &self.epoch())
            .field("own_leaf", &self.own_leaf())
            .finish_non_exhaustive()
    }
}

fn decode(bytes: &[u8], step: &str) -> Result<MlsMessage> {
    MlsMessage::from_bytes(bytes).with_context(|| format!("mls-rs: {step}: decoding MLSMessage"))
}

fn encode(message: &MlsMessage, step: &str) -> Result<Vec<u8>> {
    message
        .to_bytes()
        .with_context(|| format!("mls-rs: {step}: encoding MLSMessage"))
}

impl MlsRsMember {
    /// A member of `suite` (an RFC 9420 code point) with a fresh signature key of the suite's
    /// scheme.
    pub(crate) fn new(suite: u16, identity: &[u8]) -> Result<Self> {
        let cipher_suite = supported_suite(suite).ok_or_else(|| {
            anyhow!("mls-rs: new member: cipher suite {suite} unsupported by mls-rs-crypto-awslc")
        })?;
        let provider = AwsLcCryptoProvider::new()
            .cipher_suite_provider(cipher_suite)
            .ok_or_else(|| anyhow!("mls-rs: new member: cipher suite {suite} unsupported"))?;
        let (signer, public): (SignatureSecretKey, SignaturePublicKey) = provider
            .signature_key_generate()
            .map_err(|e| anyhow!("mls-rs: new member: signature key: {e:?}"))?;
        let signing_identity = SigningIdentity::new(
            BasicCredential::new(identity.to_vec()).into_credential(),
            public,
        );
        Ok(Self::with_state(
            cipher_suite,
            signing_identity,
            signer,
            SwitchStorage::default(),
            InMemoryKeyPackageStorage::new(),
        ))
    }

    fn with_state(
        suite: CipherSuite,
        signing_identity: SigningIdentity,
        signer: SignatureSecretKey,
        storage: SwitchStorage,
        key_packages: InMemoryKeyPackageStorage,
    ) -> Self {
        let rules = Rules::default();
        let client = Client::builder()
            .crypto_provider(AwsLcCryptoProvider::new())
            .identity_provider(BasicIdentityProvider::new())
            .key_package_repo(key_packages.clone())
            .group_state_storage(storage.clone())
            .mls_rules(rules.clone())
            .signing_identity(signing_identity.clone(), signer.clone(), suite)
            .build();
        Self {
            suite,
            signing_identity,
            signer,
            rules,
            storage,
            key_packages,
            client,
            group: None,
            reinit: None,
            unflushed: 0,
        }
    }

    fn group(&self, step: &str) -> Result<&Group<Config>> {
        self.group
            .as_ref()
            .ok_or_else(|| anyhow!("mls-rs: {step}: not in a group"))
    }

    fn group_mut(&mut self, step: &str) -> Result<&mut Group<Config>> {
        self.group
            .as_mut()
            .ok_or_else(|| anyhow!("mls-rs: {step}: not in a group"))
    }

    /// The successor client of a committed ReInit, made from (and consuming) the old group
    /// the first time it is needed.
    fn reinit_client(&mut self, step: &str) -> Result<&mut ReinitClient<Config>> {
        if self.reinit.is_none() {
            let group = self
                .group
                .take()
                .ok_or_else(|| anyhow!("mls-rs: {step}: not in a group"))?;
            self.reinit = Some(
                group
                    .get_reinit_client(None, None)
                    .with_context(|| format!("mls-rs: {step}: reinit client"))?,
            );
        }
        self.reinit
            .as_mut()
            .ok_or_else(|| anyhow!("mls-rs: {step}: no reinit client"))
    }

    fn take_reinit_client(&mut self, step: &str) -> Result<ReinitClient<Config>> {
        self.reinit_client(step)?;
        self.reinit
            .take()
            .ok_or_else(|| anyhow!("mls-rs: {step}: no reinit client"))
    }

    /// Count a new epoch; flush the prior-epoch records every [`MLS_RS_FLUSH_EVERY`] epochs.
    fn new_epoch(&mut self) -> Result<()> {
        self.unflushed += 1;
        if self.unflushed >= MLS_RS_FLUSH_EVERY {
            self.trim_history()?;
        }
        Ok(())
    }
}

impl PeerMember for MlsRsMember {
    fn kind(&self) -> PeerKind {
        PeerKind::MlsRs
    }

    fn suite(&self) -> u16 {
        self.suite.raw_value()
    }

    fn key_package(&mut self) -> Result<Vec<u8>> {
        let message = self
            .client
            .generate_key_package_message(ExtensionList::new(), ExtensionList::new(), None)
            .context("mls-rs: key package")?;
        encode(&message, "key package")
    }

    fn create_group(&mut self, group_id: &[u8]) -> Result<()> {
        let group = self
            .client
            .create_group_with_id(
                group_id.to_vec(),
                ExtensionList::new(),
                ExtensionList::new(),
                None,
            )
            .context("mls-rs: create group")?;
        self.group = Some(group);
        self.reinit = None;
        self.unflushed = 0;
        Ok(())
    }

    fn join(&mut self, welcome: &[u8], ratchet_tree: Option<&[u8]>) -> Result<()> {
        let welcome = decode(welcome, "join")?;
        let tree = ratchet_tree
            .map(|mut bytes| {
                ExportedTree::mls_decode(&mut bytes)
                    .map_err(|e| anyhow!("mls-rs: join: decoding the ratchet tree: {e}"))
                    .and_then(|tree| {
                        if bytes.is_empty() {
                            Ok(tree)
                        } else {
                            bail!("mls-rs: join: trailing bytes after the ratchet tree")
                        }
                    })
            })
            .transpose()?;
        let (group, _) = self
            .client
            .join_group(tree, &welcome, None)
            .context("mls-rs: join")?;
        self.group = Some(group);
        self.reinit = None;
        self.unflushed = 0;
        Ok(())
    }

    fn commit(&mut self, op: CommitOp, tree_in_welcome: bool) -> Result<CommitOutput> {
        let path_required = !matches!(op, CommitOp::Add(_));
        self.rules.set(
            CommitOptions::new()
                .with_path_required(path_required)
                .with_ratchet_tree_extension(tree_in_welcome),
        );
        let group = self.group_mut("commit")?;
        let mut builder = group.commit_builder();
        match op {
            CommitOp::Empty | CommitOp::Update => {}
            CommitOp::Add(kps) | CommitOp::AddWithPath(kps) => {
                for kp in &kps {
                    builder = builder
                        .add_member(decode(kp, "commit: key package")?)
                        .context("mls-rs: commit: add")?;
                }
            }
            CommitOp::Remove(leaves) => {
                for leaf in leaves {
                    builder = builder
                        .remove_member(leaf)
                        .context("mls-rs: commit: remove")?;
                }
            }
            CommitOp::Mixed { adds, removes } => {
                for leaf in removes {
                    builder = builder
                        .remove_member(leaf)
                        .context("mls-rs: commit: remove")?;
                }
                for kp in &adds {
                    builder = builder
                        .add_member(decode(kp, "commit: key package")?)
                        .context("mls-rs: commit: add")?;
                }
            }
        }
        let output = builder.build().context("mls-rs: commit: build")?;
        group
            .apply_pending_commit()
            .context("mls-rs: commit: apply")?;
        let welcome = match output.welcome_messages.as_slice() {
            [] => None,
            [welcome] => Some(encode(welcome, "commit: welcome")?),
            _ => bail!("mls-rs: commit: expected one Welcome for all new members"),
        };
        // mls-rs returns the out-of-band tree for every commit when the tree is not in the
        // Welcome; encode it only when someone joins with it.
        let ratchet_tree = match (&welcome, output.ratchet_tree) {
            (Some(_), Some(tree)) => Some(
                tree.to_bytes()
                    .context("mls-rs: commit: encoding the tree")?,
            ),
            _ => None,
        };
        let out = CommitOutput {
            commit: encode(&output.commit_message, "commit")?,
            welcome,
            ratchet_tree,
            group_info: output
                .external_commit_group_info
                .as_ref()
                .map(|gi| encode(gi, "commit: group info"))
                .transpose()?,
        };
        self.new_epoch()?;
        Ok(out)
    }

    fn process(&mut self, message: &[u8]) -> Result<()> {
        let message = decode(message, "process")?;
        let received = self
            .group_mut("process")?
            .process_incoming_message(message)
            .context("mls-rs: process")?;
        match received {
            ReceivedMessage::Commit(_) => self.new_epoch(),
            ReceivedMessage::Proposal(_) => Ok(()),
            ReceivedMessage::ApplicationMessage(_) => {
                bail!("mls-rs: process: got an application message (use unprotect)")
            }
            _ => bail!("mls-rs: process: not a commit or proposal"),
        }
    }

    fn protect(&mut self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let message = self
            .group_mut("protect")?
            .encrypt_application_message(plaintext, Vec::new())
            .context("mls-rs: protect")?;
        encode(&message, "protect")
    }

    fn unprotect(&mut self, message: &[u8]) -> Result<Vec<u8>> {
        let message = decode(message, "unprotect")?;
        match self
            .group_mut("unprotect")?
            .process_incoming_message(message)
            .context("mls-rs: unprotect")?
        {
            ReceivedMessage::ApplicationMessage(m) => Ok(m.data().to_vec()),
            _ => bail!("mls-rs: unprotect: not an application message"),
        }
    }

    fn epoch(&self) -> u64 {
        self.group.as_ref().map_or(0, |g| g.current_epoch())
    }

    fn own_leaf(&self) -> u32 {
        self.group.as_ref().map_or(0, |g| g.current_member_index())
    }

    fn epoch_authenticator(&self) -> Vec<u8> {
        // `Group::epoch_authenticator` cannot fail in mls-rs 0.57 (it clones a stored secret).
        self.group
            .as_ref()
            .and_then(|g| g.epoch_authenticator().ok())
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_default()
    }

    fn export_secret(&self, label: &str, context: &[u8], len: usize) -> Result<Vec<u8>> {
        let secret = self
            .group("export secret")?
            .export_secret(label.as_bytes(), context, len)
            .context("mls-rs: export secret")?;
        Ok(secret.as_bytes().to_vec())
    }

    fn ratchet_tree(&self) -> Result<Vec<u8>> {
        self.group("ratchet tree")?
            .export_tree()
            .to_bytes()
            .context("mls-rs: ratchet tree: encoding")
    }

    fn fork(&self) -> Result<Box<dyn PeerMember>> {
        let key_packages = InMemoryKeyPackageStorage::new();
        for (id, data) in self.key_packages.key_packages() {
            key_packages.insert(id, data);
        }
        let storage = SwitchStorage::default();
        let mut fork = Self::with_state(
            self.suite,
            self.signing_identity.clone(),
            self.signer.clone(),
            storage.clone(),
            key_packages,
        );
        if let Some(group) = &self.group {
            // A clone shares the original's config (storage included): point the original's
            // storage switch at the fork's storage while the clone writes its snapshot there
            // (the prior-epoch records it still holds go along), then switch back.
            let mut clone = group.clone();
            let own = self.storage.switch(storage.current());
            let written = clone.write_to_storage();
            self.storage.switch(own);
            written.context("mls-rs: fork: writing the snapshot")?;
            fork.group = Some(
                fork.client
                    .load_group(group.group_id())
                    .context("mls-rs: fork: loading the snapshot")?,
            );
            fork.unflushed = 0;
        }
        Ok(Box::new(fork))
    }

    fn trim_history(&mut self) -> Result<()> {
        if let Some(group) = &mut self.group {
            group
                .write_to_storage_without_ratchet_tree()
                .context("mls-rs: trim history: flushing prior epochs")?;
        }
        self.unflushed = 0;
        Ok(())
    }

    fn group_info(&self, with_tree: bool) -> Result<Vec<u8>> {
        let message = self
            .group("group info")?
            .group_info_message_allowing_ext_commit(with_tree)
            .context("mls-rs: group info")?;
        encode(&message, "group info")
    }

    fn join_external(
        &mut self,
        group_info: &[u8],
        ratchet_tree: Option<&[u8]>,
        resync: Option<u32>,
    ) -> Result<Vec<u8>> {
        let group_info = decode(group_info, "join external")?;
        let mut builder = self
            .client
            .external_commit_builder()
            .context("mls-rs: join external: builder")?;
        if let Some(tree) = ratchet_tree {
            builder = builder.with_tree_data(
                ExportedTree::from_bytes(tree)
                    .context("mls-rs: join external: decoding the ratchet tree")?,
            );
        }
        if let Some(leaf) = resync {
            builder = builder.with_removal(leaf);
        }
        let (group, commit) = builder.build(group_info).context("mls-rs: join external")?;
        self.group = Some(group);
        self.reinit = None;
        self.unflushed = 0;
        encode(&commit, "join external")
    }

    fn commit_reinit(&mut self, group_id: &[u8]) -> Result<CommitOutput> {
        let suite = self.suite;
        self.rules
            .set(CommitOptions::new().with_path_required(true));
        let group = self.group_mut("commit reinit")?;
        let output = group
            .commit_builder()
            .reinit(
                Some(group_id.to_vec()),
                ProtocolVersion::MLS_10,
                suite,
                ExtensionList::new(),
            )
            .context("mls-rs: commit reinit: proposal")?
            .build()
            .context("mls-rs: commit reinit: build")?;
        group
            .apply_pending_commit()
            .context("mls-rs: commit reinit: apply")?;
        self.new_epoch()?;
        Ok(CommitOutput {
            commit: encode(&output.commit_message, "commit reinit")?,
            ..CommitOutput::default()
        })
    }

    fn reinit_key_package(&mut self) -> Result<Vec<u8>> {
        let message = self
            .reinit_client("reinit key package")?
            .generate_key_package(None)
            .context("mls-rs: reinit key package")?;
        encode(&message, "reinit key package")
    }

    fn reinit_successor(&mut self, key_packages: Vec<Vec<u8>>) -> Result<CommitOutput> {
        let key_packages = key_packages
            .iter()
            .map(|kp| decode(kp, "reinit successor: key package"))
            .collect::<Result<Vec<_>>>()?;
        // The successor's first commit is made with this member's rules: tree in the Welcome.
        self.rules.set(
            CommitOptions::new()
                .with_path_required(true)
                .with_ratchet_tree_extension(true),
        );
        let (group, welcomes) = self
            .take_reinit_client("reinit successor")?
            .commit(key_packages, ExtensionList::new(), None)
            .context("mls-rs: reinit successor")?;
        let welcome = match welcomes.as_slice() {
            [] => None,
            [welcome] => Some(encode(welcome, "reinit successor: welcome")?),
            _ => bail!("mls-rs: reinit successor: expected one Welcome for all new members"),
        };
        self.group = Some(group);
        self.unflushed = 0;
        // mls-rs returns only the Welcome: nobody else is in the new group to process the
        // commit, so `commit` stays empty.
        Ok(CommitOutput {
            welcome,
            ..CommitOutput::default()
        })
    }

    fn join_reinit(&mut self, welcome: &[u8], ratchet_tree: Option<&[u8]>) -> Result<()> {
        let welcome = decode(welcome, "join reinit")?;
        let tree = ratchet_tree
            .map(|t| ExportedTree::from_bytes(t).context("mls-rs: join reinit: decoding the tree"))
            .transpose()?;
        let (group, _) = self
            .take_reinit_client("join reinit")?
            .join(&welcome, tree, None)
            .context("mls-rs: join reinit")?;
        self.group = Some(group);
        self.unflushed = 0;
        Ok(())
    }
}
