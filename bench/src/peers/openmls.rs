//! The openmls 0.9.2 adapter (provider: `openmls_rust_crypto` 0.6's `RustCrypto` with the
//! default `MemoryStorage`). A member is bound to one cipher suite, chosen when it is made.

use std::fmt;

use ::openmls::prelude::tls_codec::{DeserializeBytes as _, Serialize as _};
use ::openmls::prelude::{
    BasicCredential, Ciphersuite, CredentialWithKey, GroupId, KeyPackage, LeafNodeIndex, MlsGroup,
    MlsGroupJoinConfig, MlsMessageBodyIn, MlsMessageIn, MlsMessageOut, ProcessedMessageContent,
    Proposal, ProtocolVersion, RatchetTreeIn, ReInitProposal, StagedWelcome,
    MIXED_PLAINTEXT_WIRE_FORMAT_POLICY,
};
use anyhow::{anyhow, bail, Context, Result};
use openmls_basic_credential::SignatureKeyPair;
use openmls_rust_crypto::{MemoryStorage, RustCrypto};
use openmls_traits::crypto::OpenMlsCrypto;
use openmls_traits::random::OpenMlsRand;
use openmls_traits::OpenMlsProvider;

use super::{CommitOp, CommitOutput, PeerKind, PeerMember};

/// The openmls suite with code point `suite`, if one of the member's crypto back ends runs it
/// (their own answer: `OpenMlsCrypto::supports`): `openmls_rust_crypto` for the RFC 9420
/// suites it has, `openmls_libcrux_crypto` for the X-Wing suite 0x004D, which RustCrypto does
/// not run.
pub(crate) fn supported_suite(suite: u16) -> Option<Ciphersuite> {
    let suite = Ciphersuite::try_from(suite).ok()?;
    let rust = RustCrypto::default().supports(suite).is_ok();
    let libcrux = suite == XWING && LibcruxCrypto::make().is_ok_and(|c| c.supports(suite).is_ok());
    (rust || libcrux).then_some(suite)
}

/// openmls's X-Wing suite (ML-KEM-768 + X25519, ChaCha20-Poly1305, SHA-256, Ed25519), run by
/// its libcrux back end.
pub(crate) const XWING: Ciphersuite = Ciphersuite::MLS_256_XWING_CHACHA20POLY1305_SHA256_Ed25519;

type LibcruxCrypto = openmls_libcrux_crypto::CryptoProvider;

/// A crypto back end of the openmls member: `RustCrypto` for the RFC 9420 suites, libcrux for
/// the X-Wing suite. The member is the same code over either.
pub(crate) trait Backend: OpenMlsCrypto + OpenMlsRand + Sized + 'static {
    /// A fresh back end.
    fn make() -> Result<Self>;
}

impl Backend for RustCrypto {
    fn make() -> Result<Self> {
        Ok(RustCrypto::default())
    }
}

impl Backend for LibcruxCrypto {
    fn make() -> Result<Self> {
        LibcruxCrypto::new().map_err(|e| anyhow!("openmls: libcrux crypto provider: {e:?}"))
    }
}

/// A new member of `suite` on the back end that runs it.
pub(crate) fn new_member(suite: u16, identity: &[u8]) -> Result<Box<dyn PeerMember>> {
    Ok(if Ciphersuite::try_from(suite).ok() == Some(XWING) {
        Box::new(OpenMlsMember::<LibcruxCrypto>::new(suite, identity)?)
    } else {
        Box::new(OpenMlsMember::<RustCrypto>::new(suite, identity)?)
    })
}

/// openmls's provider with its fields reachable, so a fork can copy the storage
/// (`OpenMlsRustCrypto` is only `Clone` under openmls's `test-utils`, and the libcrux
/// provider's fields are private).
#[derive(Debug)]
struct Provider<C> {
    crypto: C,
    storage: MemoryStorage,
}

impl<C: Backend> OpenMlsProvider for Provider<C> {
    type CryptoProvider = C;
    type RandProvider = C;
    type StorageProvider = MemoryStorage;

    fn storage(&self) -> &MemoryStorage {
        &self.storage
    }

    fn crypto(&self) -> &C {
        &self.crypto
    }

    fn rand(&self) -> &C {
        &self.crypto
    }
}

/// One member held by openmls, on the crypto back end `C`.
pub(crate) struct OpenMlsMember<C: Backend> {
    suite: Ciphersuite,
    provider: Provider<C>,
    signer: SignatureKeyPair,
    credential: CredentialWithKey,
    group: Option<MlsGroup>,
}

impl<C: Backend> fmt::Debug for OpenMlsMember<C> {
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

impl<C: Backend> OpenMlsMember<C> {
    /// A member of `suite` (an RFC 9420 code point) with a fresh signature key of the suite's
    /// scheme.
    pub(crate) fn new(suite: u16, identity: &[u8]) -> Result<Self> {
        let suite = supported_suite(suite).ok_or_else(|| {
            anyhow!("openmls: new member: cipher suite {suite} unsupported by openmls_rust_crypto")
        })?;
        let signer = SignatureKeyPair::new(suite.signature_algorithm())
            .map_err(|e| anyhow!("openmls: new member: signature key: {e:?}"))?;
        let credential = CredentialWithKey {
            credential: BasicCredential::new(identity.to_vec()).into(),
            signature_key: signer.to_public_vec().into(),
        };
        Ok(Self {
            suite,
            provider: Provider {
                crypto: C::make()?,
                storage: MemoryStorage::default(),
            },
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

    fn ratchet_tree_in(bytes: Option<&[u8]>, step: &str) -> Result<Option<RatchetTreeIn>> {
        bytes
            .map(|tree| {
                RatchetTreeIn::tls_deserialize_exact_bytes(tree)
                    .map_err(|e| anyhow!("openmls: {step}: decoding the ratchet tree: {e}"))
            })
            .transpose()
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

impl<C: Backend> PeerMember for OpenMlsMember<C> {
    fn kind(&self) -> PeerKind {
        PeerKind::OpenMls
    }

    fn suite(&self) -> u16 {
        self.suite.into()
    }

    fn key_package(&mut self) -> Result<Vec<u8>> {
        let bundle = KeyPackage::builder()
            .build(
                self.suite,
                &self.provider,
                &self.signer,
                self.credential.clone(),
            )
            .context("openmls: key package: build")?;
        let message: MlsMessageOut = bundle.key_package().clone().into();
        encode(&message, "key package")
    }

    fn create_group(&mut self, group_id: &[u8]) -> Result<()> {
        let group = MlsGroup::builder()
            .with_group_id(GroupId::from_slice(group_id))
            .ciphersuite(self.suite)
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
            crypto: C::make()?,
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
        Ok(Box::new(OpenMlsMember::<C> {
            suite: self.suite,
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

    fn group_info(&self, with_tree: bool) -> Result<Vec<u8>> {
        let message = self
            .group("group info")?
            .export_group_info(self.provider.crypto(), &self.signer, with_tree)
            .context("openmls: group info")?;
        encode(&message, "group info")
    }

    fn join_external(
        &mut self,
        group_info: &[u8],
        ratchet_tree: Option<&[u8]>,
        resync: Option<u32>,
    ) -> Result<Vec<u8>> {
        let MlsMessageBodyIn::GroupInfo(gi) = decode(group_info, "join external")?.extract() else {
            bail!("openmls: join external: MLSMessage is not a GroupInfo");
        };
        let mut builder = MlsGroup::external_commit_builder().with_config(join_config());
        if let Some(tree) = Self::ratchet_tree_in(ratchet_tree, "join external")? {
            builder = builder.with_ratchet_tree(tree);
        }
        let (group, bundle) = builder
            .build_group(&self.provider, gi, self.credential.clone())
            .context("openmls: join external: building the group")?
            .load_psks(self.provider.storage())
            .context("openmls: join external: loading PSKs")?
            .build(
                self.provider.rand(),
                self.provider.crypto(),
                &self.signer,
                |_| true,
            )
            .context("openmls: join external: build")?
            .finalize(&self.provider)
            .context("openmls: join external: finalize")?;
        // openmls adds the resync Remove on its own (for the leaf with this member's signature
        // key) and offers no way to choose it: check that it did what the caller asked.
        let commit = bundle.into_commit();
        let bytes = encode(&commit, "join external")?;
        let removed = removed_in_external_commit(&bytes)?;
        if removed != resync {
            bail!(
                "openmls: join external: asked to remove {resync:?}, openmls removed {removed:?}"
            );
        }
        self.group = Some(group);
        Ok(bytes)
    }

    fn commit_reinit(&mut self, group_id: &[u8]) -> Result<CommitOutput> {
        // openmls 0.9.2 has no API that makes a ReInit proposal and `ReInitProposal`'s fields
        // are private; it is TLS-decodable, so the adapter builds it from its RFC 9420
        // encoding (made with Canopy's codec) and hands it to the commit builder's
        // `add_proposal`. openmls then drops it: `ProposalQueue::filter_proposals` keeps no
        // ReInit (an open to-do in openmls), and the commit goes out without it. The adapter
        // checks the wire and refuses to send that commit (an empty commit is not a ReInit).
        use canopy_engine::codec;
        let encoded = codec::encode(&codec::ReInit {
            group_id: group_id.to_vec().into(),
            version: codec::ProtocolVersion::MLS10,
            cipher_suite: codec::CipherSuiteId(u16::from(self.suite)),
            extensions: Vec::new(),
        })
        .map_err(|e| anyhow!("openmls: commit reinit: encoding the ReInit: {e}"))?;
        let reinit = ReInitProposal::tls_deserialize_exact_bytes(&encoded)
            .map_err(|e| anyhow!("openmls: commit reinit: decoding the ReInit: {e}"))?;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| anyhow!("openmls: commit reinit: not in a group"))?;
        let bundle = group
            .commit_builder()
            .add_proposal(Proposal::ReInit(Box::new(reinit)))
            .load_psks(self.provider.storage())
            .context("openmls: commit reinit: loading PSKs")?
            .build(
                self.provider.rand(),
                self.provider.crypto(),
                &self.signer,
                |_| true,
            )
            .context("openmls: commit reinit: build")?
            .stage_commit(&self.provider)
            .context("openmls: commit reinit: stage")?;
        let (commit, _, _) = bundle.into_messages();
        let commit = encode(&commit, "commit reinit")?;
        let carries_reinit = {
            let message: codec::MlsMessage = codec::decode(&commit)
                .map_err(|e| anyhow!("openmls: commit reinit: reading the commit: {e}"))?;
            match message.body {
                codec::MlsMessageBody::PublicMessage(pm) => match pm.content.content {
                    codec::FramedContentBody::Commit(c) => c.proposals.iter().any(|p| {
                        matches!(
                            p,
                            codec::ProposalOrRef::Proposal(codec::Proposal::ReInit(_))
                        )
                    }),
                    _ => false,
                },
                _ => false,
            }
        };
        if !carries_reinit {
            group
                .clear_pending_commit(self.provider.storage())
                .map_err(|e| anyhow!("openmls: commit reinit: clearing the commit: {e:?}"))?;
            bail!(
                "openmls: commit reinit: unsupported by openmls 0.9.2 \
                 (its commit builder dropped the ReInit proposal)"
            );
        }
        group
            .merge_pending_commit(&self.provider)
            .context("openmls: commit reinit: merge")?;
        Ok(CommitOutput {
            commit,
            ..CommitOutput::default()
        })
    }

    fn reinit_key_package(&mut self) -> Result<Vec<u8>> {
        // The successor has the same cipher suite: an ordinary KeyPackage serves.
        self.key_package()
    }

    fn reinit_successor(&mut self, _key_packages: Vec<Vec<u8>>) -> Result<CommitOutput> {
        // `MlsGroupBuilder` resolves resumption PSKs from a fresh, empty store (and has no
        // public way to take PSK ids), and nothing keeps the old group's resumption secret
        // for a new group: openmls 0.9.2 cannot start a ReInit successor.
        bail!("openmls: reinit successor: unsupported by openmls 0.9.2")
    }

    fn join_reinit(&mut self, welcome: &[u8], ratchet_tree: Option<&[u8]>) -> Result<()> {
        // openmls joins from a Welcome with a fresh, empty resumption-PSK store (it never
        // looks at the old group), so a Welcome carrying the `reinit` resumption PSK fails
        // with `PskError::KeyNotFound`. Tried anyway, so the error is the peer's own.
        self.join(welcome, ratchet_tree)
    }
}

/// The leaf the Remove of an external commit (`MLSMessage(PublicMessage)` bytes) removes, if
/// it has one. Read from the wire with Canopy's codec (openmls's inbound message body is not
/// public).
fn removed_in_external_commit(commit: &[u8]) -> Result<Option<u32>> {
    use canopy_engine::codec::{self, FramedContentBody, MlsMessage, MlsMessageBody, Proposal};
    let message: MlsMessage =
        codec::decode(commit).map_err(|e| anyhow!("openmls: join external: reading: {e}"))?;
    let MlsMessageBody::PublicMessage(pm) = message.body else {
        bail!("openmls: join external: the commit is not a PublicMessage");
    };
    let FramedContentBody::Commit(commit) = pm.content.content else {
        bail!("openmls: join external: not a commit");
    };
    Ok(commit.proposals.iter().find_map(|p| match p {
        codec::ProposalOrRef::Proposal(Proposal::Remove(r)) => Some(r.removed),
        _ => None,
    }))
}
