//! The openmls 0.9.2 adapter (provider: `openmls_rust_crypto` 0.6's `RustCrypto` with the
//! default `MemoryStorage`).

use std::fmt;

use ::openmls::prelude::tls_codec::{DeserializeBytes as _, Serialize as _};
use ::openmls::prelude::{
    BasicCredential, Ciphersuite, CredentialWithKey, GroupId, KeyPackage, LeafNodeIndex, MlsGroup,
    MlsGroupJoinConfig, MlsMessageBodyIn, MlsMessageIn, MlsMessageOut, ProcessedMessageContent,
    ProtocolVersion, RatchetTreeIn, StagedWelcome, MIXED_PLAINTEXT_WIRE_FORMAT_POLICY,
};
use anyhow::{anyhow, bail, Context, Result};
use openmls_basic_credential::SignatureKeyPair;
use openmls_rust_crypto::{MemoryStorage, RustCrypto};
use openmls_traits::OpenMlsProvider;

use super::{CommitOp, CommitOutput, PeerKind, PeerMember};

const SUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

/// `OpenMlsRustCrypto` with its fields reachable, so a fork can copy the storage
/// (`OpenMlsRustCrypto` is only `Clone` under openmls's `test-utils`).
#[derive(Debug, Default)]
struct Provider {
    crypto: RustCrypto,
    storage: MemoryStorage,
}

impl OpenMlsProvider for Provider {
    type CryptoProvider = RustCrypto;
    type RandProvider = RustCrypto;
    type StorageProvider = MemoryStorage;

    fn storage(&self) -> &MemoryStorage {
        &self.storage
    }

    fn crypto(&self) -> &RustCrypto {
        &self.crypto
    }

    fn rand(&self) -> &RustCrypto {
        &self.crypto
    }
}

/// One member held by openmls.
pub(crate) struct OpenMlsMember {
    provider: Provider,
    signer: SignatureKeyPair,
    credential: CredentialWithKey,
    group: Option<MlsGroup>,
}

impl fmt::Debug for OpenMlsMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenMlsMember")
            .field("epoch", &self.epoch())
            .field("own_leaf", &self.own_leaf())
            .finish_non_exhaustive()
    }
}

/// Commits and proposals go out as PublicMessage and both wire formats come in: openmls's
/// default (`PURE_CIPHERTEXT`) would neither send nor accept the PublicMessage commits the
/// other peers and Canopy send.
fn join_config() -> MlsGroupJoinConfig {
    MlsGroupJoinConfig::builder()
        .wire_format_policy(MIXED_PLAINTEXT_WIRE_FORMAT_POLICY)
        .build()
}

fn decode(bytes: &[u8], step: &str) -> Result<MlsMessageIn> {
    MlsMessageIn::tls_deserialize_exact_bytes(bytes)
        .map_err(|e| anyhow!("openmls: {step}: decoding MLSMessage: {e}"))
}

fn encode(message: &MlsMessageOut, step: &str) -> Result<Vec<u8>> {
    message
        .tls_serialize_detached()
        .map_err(|e| anyhow!("openmls: {step}: encoding MLSMessage: {e}"))
}

impl OpenMlsMember {
    pub(crate) fn new(identity: &[u8]) -> Result<Self> {
        let signer = SignatureKeyPair::new(SUITE.signature_algorithm())
            .map_err(|e| anyhow!("openmls: new member: signature key: {e:?}"))?;
        let credential = CredentialWithKey {
            credential: BasicCredential::new(identity.to_vec()).into(),
            signature_key: signer.to_public_vec().into(),
        };
        Ok(Self {
            provider: Provider::default(),
            signer,
            credential,
            group: None,
        })
    }

    fn group(&self, step: &str) -> Result<&MlsGroup> {
        self.group
            .as_ref()
            .ok_or_else(|| anyhow!("openmls: {step}: not in a group"))
    }

    fn key_package_in(&self, bytes: &[u8]) -> Result<KeyPackage> {
        let body = decode(bytes, "commit: key package")?.extract();
        let MlsMessageBodyIn::KeyPackage(kp) = body else {
            bail!("openmls: commit: key package: MLSMessage is not a KeyPackage");
        };
        kp.validate(self.provider.crypto(), ProtocolVersion::Mls10)
            .context("openmls: commit: key package: validation")
    }
}

impl PeerMember for OpenMlsMember {
    fn kind(&self) -> PeerKind {
        PeerKind::OpenMls
    }

    fn key_package(&mut self) -> Result<Vec<u8>> {
        let bundle = KeyPackage::builder()
            .build(SUITE, &self.provider, &self.signer, self.credential.clone())
            .context("openmls: key package: build")?;
        let message: MlsMessageOut = bundle.key_package().clone().into();
        encode(&message, "key package")
    }

    fn create_group(&mut self, group_id: &[u8]) -> Result<()> {
        let group = MlsGroup::builder()
            .with_group_id(GroupId::from_slice(group_id))
            .ciphersuite(SUITE)
            .with_wire_format_policy(MIXED_PLAINTEXT_WIRE_FORMAT_POLICY)
            .use_ratchet_tree_extension(false)
            .replace_old_group()
            .build(&self.provider, &self.signer, self.credential.clone())
            .context("openmls: create group")?;
        self.group = Some(group);
        Ok(())
    }

    fn join(&mut self, welcome: &[u8], ratchet_tree: Option<&[u8]>) -> Result<()> {
        let MlsMessageBodyIn::Welcome(welcome) = decode(welcome, "join")?.extract() else {
            bail!("openmls: join: MLSMessage is not a Welcome");
        };
        let mut builder =
            StagedWelcome::build_from_welcome(&self.provider, &join_config(), welcome)
                .context("openmls: join: processing the Welcome")?
                .replace_old_group();
        if let Some(tree) = ratchet_tree {
            let tree = RatchetTreeIn::tls_deserialize_exact_bytes(tree)
                .map_err(|e| anyhow!("openmls: join: decoding the ratchet tree: {e}"))?;
            builder = builder.with_ratchet_tree(tree);
        }
        let group = builder
            .build()
            .context("openmls: join: staging the Welcome")?
            .into_group(&self.provider)
            .context("openmls: join: creating the group")?;
        self.group = Some(group);
        Ok(())
    }

    fn commit(&mut self, op: CommitOp, tree_in_welcome: bool) -> Result<CommitOutput> {
        let key_packages = op
            .key_packages()
            .iter()
            .map(|kp| self.key_package_in(kp))
            .collect::<Result<Vec<_>>>()?;
        let adds = !key_packages.is_empty();
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| anyhow!("openmls: commit: not in a group"))?;
        let builder = group.commit_builder();
        let builder = match op {
            CommitOp::Empty | CommitOp::Update => builder.force_self_update(true),
            CommitOp::Add(_) => builder.propose_adds(key_packages),
            CommitOp::AddWithPath(_) => builder.propose_adds(key_packages).force_self_update(true),
            CommitOp::Remove(leaves) => builder
                .propose_removals(leaves.into_iter().map(LeafNodeIndex::new))
                .force_self_update(true),
            CommitOp::Mixed { removes, .. } => builder
                .propose_removals(removes.into_iter().map(LeafNodeIndex::new))
                .propose_adds(key_packages)
                .force_self_update(true),
        };
        let bundle = builder
            .load_psks(self.provider.storage())
            .context("openmls: commit: loading PSKs")?
            .use_ratchet_tree_extension(tree_in_welcome)
            .build(
                self.provider.rand(),
                self.provider.crypto(),
                &self.signer,
                |_| true,
            )
            .context("openmls: commit: build")?
            .stage_commit(&self.provider)
            .context("openmls: commit: stage")?;
        let (commit, welcome, group_info) = bundle.into_messages();
        group
            .merge_pending_commit(&self.provider)
            .context("openmls: commit: merge")?;
        let ratchet_tree = if adds && !tree_in_welcome {
            let tree = group.export_ratchet_tree();
            Some(
                tree.tls_serialize_detached()
                    .map_err(|e| anyhow!("openmls: commit: encoding the ratchet tree: {e}"))?,
            )
        } else {
            None
        };
        Ok(CommitOutput {
            commit: encode(&commit, "commit")?,
            welcome: welcome.map(|w| encode(&w, "commit: welcome")).transpose()?,
            ratchet_tree,
            group_info: group_info
                .map(|gi| encode(&gi, "commit: group info"))
                .transpose()?,
        })
    }

    fn process(&mut self, message: &[u8]) -> Result<()> {
        let message = decode(message, "process")?
            .try_into_protocol_message()
            .context("openmls: process: not a handshake message")?;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| anyhow!("openmls: process: not in a group"))?;
        let processed = group
            .process_message(&self.provider, message)
            .context("openmls: process")?;
        match processed.into_content() {
            ProcessedMessageContent::StagedCommitMessage(staged) => group
                .merge_staged_commit(&self.provider, *staged)
                .context("openmls: process: merging the commit"),
            ProcessedMessageContent::ProposalMessage(proposal) => group
                .store_pending_proposal(self.provider.storage(), *proposal)
                .context("openmls: process: storing the proposal"),
            ProcessedMessageContent::ExternalJoinProposalMessage(proposal) => group
                .store_pending_proposal(self.provider.storage(), *proposal)
                .context("openmls: process: storing the proposal"),
            ProcessedMessageContent::ApplicationMessage(_) => {
                bail!("openmls: process: got an application message (use unprotect)")
            }
            _ => bail!("openmls: process: got this member's own message"),
        }
    }

    fn protect(&mut self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| anyhow!("openmls: protect: not in a group"))?;
        let message = group
            .create_message(&self.provider, &self.signer, plaintext)
            .context("openmls: protect")?;
        encode(&message, "protect")
    }

    fn unprotect(&mut self, message: &[u8]) -> Result<Vec<u8>> {
        let message = decode(message, "unprotect")?
            .try_into_protocol_message()
            .context("openmls: unprotect: not a PrivateMessage")?;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| anyhow!("openmls: unprotect: not in a group"))?;
        let processed = group
            .process_message(&self.provider, message)
            .context("openmls: unprotect")?;
        match processed.into_content() {
            ProcessedMessageContent::ApplicationMessage(m) => Ok(m.into_bytes()),
            _ => bail!("openmls: unprotect: not an application message"),
        }
    }

    fn epoch(&self) -> u64 {
        self.group.as_ref().map_or(0, |g| g.epoch().as_u64())
    }

    fn own_leaf(&self) -> u32 {
        self.group.as_ref().map_or(0, |g| g.own_leaf_index().u32())
    }

    fn epoch_authenticator(&self) -> Vec<u8> {
        self.group
            .as_ref()
            .map(|g| g.epoch_authenticator().as_slice().to_vec())
            .unwrap_or_default()
    }

    fn export_secret(&self, label: &str, context: &[u8], len: usize) -> Result<Vec<u8>> {
        self.group("export secret")?
            .export_secret(self.provider.crypto(), label, context, len)
            .context("openmls: export secret")
    }

    fn ratchet_tree(&self) -> Result<Vec<u8>> {
        self.group("ratchet tree")?
            .export_ratchet_tree()
            .tls_serialize_detached()
            .map_err(|e| anyhow!("openmls: ratchet tree: encoding: {e}"))
    }

    fn fork(&self) -> Result<Box<dyn PeerMember>> {
        // openmls writes every state change through to its storage, so the storage map is the
        // member's whole state (group, key material, unused KeyPackage bundles).
        let storage = MemoryStorage::default();
        {
            let source = self
                .provider
                .storage
                .values
                .read()
                .map_err(|_| anyhow!("openmls: fork: storage lock poisoned"))?;
            let mut target = storage
                .values
                .write()
                .map_err(|_| anyhow!("openmls: fork: storage lock poisoned"))?;
            target.clone_from(&source);
        }
        let provider = Provider {
            crypto: RustCrypto::default(),
            storage,
        };
        let group = match &self.group {
            Some(g) => Some(
                MlsGroup::load(provider.storage(), g.group_id())
                    .context("openmls: fork: loading the group")?
                    .ok_or_else(|| anyhow!("openmls: fork: group missing from storage"))?,
            ),
            None => None,
        };
        Ok(Box::new(OpenMlsMember {
            provider,
            signer: self.signer.clone(),
            credential: self.credential.clone(),
            group,
        }))
    }

    fn trim_history(&mut self) -> Result<()> {
        // openmls keeps no past epochs (`max_past_epochs` is 0 by default).
        Ok(())
    }
}
