//! External joins (RFC 9420 §12.4.3.2): a GroupInfo with the `external_pub` extension
//! (§8.3) exported by a member, the external commit a new member builds from it (an
//! ExternalInit, optionally a Remove of its old leaf, an UpdatePath from the leftmost free
//! leaf), and its processing by the members.

use super::credentials::CredentialChange;
use super::process::Processed;
use super::proposals::{check_leaf_supports, required_capabilities, Applied, Entry};
use super::staged::PendingCommit;
use super::ProposalRule;
use super::{decode_message, encode_message, Group, GroupConfig, NextEpoch, Rng, TreeDelivery};
use crate::codec::{
    self, AuthenticatedContent, Commit, ExtensionType, ExternalInit, ExternalPub, FramedContent,
    FramedContentAuthData, FramedContentBody, GroupInfo, HpkePublicKey, Mac, MlsMessageBody,
    Proposal, ProposalOrRef, PublicMessage, Remove, Sender, WireFormat,
};
use crate::crypto::{Provider, Secret, SignaturePrivateKey};
use crate::error::Result;
use crate::error::{ApiMisuse, PeerMisbehaved, TreeError};
use crate::framing::sign_content;
use crate::kem::{plan_update_path, PathParams};
use crate::key_package::{default_lifetime, signed_leaf_node};
use crate::schedule::{self, EpochSecrets};
use crate::tree::{check_leaf_contents, LeafIndex};
use crate::welcome::{sign_group_info, verify_group_info};

/// The HPKE exporter context of the external init secret (RFC 9420 §8.3).
const EXTERNAL_INIT_LABEL: &[u8] = b"MLS 1.0 external init secret";

/// How to join by external commit ([`Group::join_external`]): the new member's identity
/// and signing key, where the tree comes from, the old leaf of a member rejoining, and the
/// new member's settings.
///
/// ```
/// # use canopy_engine::{CipherSuite, ExternalJoinOptions, LeafIndex, Provider};
/// # let provider = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
/// let (signer, _) = provider.generate_signature_key_pair();
/// let options = ExternalJoinOptions::new(b"bob".to_vec(), signer).resync(LeafIndex(4));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExternalJoinOptions<'a> {
    /// The identity of the new member's basic credential.
    pub identity: Vec<u8>,
    /// The new member's signing key.
    pub signer: SignaturePrivateKey,
    /// The serialized tree when the GroupInfo does not carry it.
    pub ratchet_tree: Option<&'a [u8]>,
    /// The joiner's own old leaf, removed by the commit (a member rejoining, RFC 9420 §12.2).
    pub resync: Option<LeafIndex>,
    /// The new member's settings.
    pub config: GroupConfig,
}

impl<'a> ExternalJoinOptions<'a> {
    /// A new member with a basic credential for `identity`, signing with `signer`; the tree
    /// from the GroupInfo, no resync, the default [`GroupConfig`].
    pub fn new(identity: impl Into<Vec<u8>>, signer: SignaturePrivateKey) -> Self {
        ExternalJoinOptions {
            identity: identity.into(),
            signer,
            ratchet_tree: None,
            resync: None,
            config: GroupConfig::default(),
        }
    }

    /// The serialized tree, for a GroupInfo without the `ratchet_tree` extension (`None`:
    /// the GroupInfo carries it).
    pub fn ratchet_tree(mut self, tree: impl Into<Option<&'a [u8]>>) -> Self {
        self.ratchet_tree = tree.into();
        self
    }

    /// Rejoin: the commit removes the joiner's own old leaf `old` (`None`: a new member).
    pub fn resync(mut self, old: impl Into<Option<LeafIndex>>) -> Self {
        self.resync = old.into();
        self
    }

    /// The new member's settings.
    pub fn config(mut self, config: GroupConfig) -> Self {
        self.config = config;
        self
    }
}

impl Group {
    /// This epoch's GroupInfo as an MLSMessage (RFC 9420 §12.4.3), signed by this member,
    /// with the `external_pub` extension (§8.3) so a new member can join by external commit,
    /// and with the `ratchet_tree` extension if `tree` is [`TreeDelivery::Included`].
    pub fn group_info(&self, tree: TreeDelivery) -> Result<Vec<u8>> {
        let mut extensions = vec![codec::Extension {
            extension_type: ExtensionType::EXTERNAL_PUB,
            extension_data: codec::encode(&ExternalPub {
                external_pub: HpkePublicKey(self.secrets.external_pub(&self.provider)?.into()),
            })?
            .into(),
        }];
        if tree == TreeDelivery::Included {
            extensions.push(self.ratchet_tree_extension()?);
        }
        let tag = self.secrets.confirmation_tag(
            &self.provider,
            self.context.confirmed_transcript_hash.as_slice(),
        );
        let mut gi = GroupInfo {
            group_context: self.context.clone(),
            extensions,
            confirmation_tag: Mac(tag.into()),
            signer: self.own_leaf().0,
            signature: Vec::new().into(),
        };
        sign_group_info(&self.provider, &self.signer, &mut gi)?;
        encode_message(MlsMessageBody::GroupInfo(gi))
    }

    /// Join by external commit (RFC 9420 §12.4.3.2) from an MLSMessage(GroupInfo) carrying
    /// `external_pub` (and the tree, unless the options give it). The new member gets a
    /// basic credential for its identity and takes the leftmost free leaf; a resync removes
    /// its own old leaf (a member rejoining). Returns the new member's state in the new
    /// epoch and the commit (a PublicMessage) for the members.
    ///
    /// Validates the tree (as a Welcome join does), its hash against the GroupInfo and the
    /// GroupInfo's signature by its signer's leaf.
    pub fn join_external(
        provider: Provider,
        group_info_bytes: &[u8],
        options: ExternalJoinOptions<'_>,
    ) -> Result<(Self, Vec<u8>)> {
        let ExternalJoinOptions {
            identity,
            signer,
            ratchet_tree,
            resync,
            config,
        } = options;
        let identity = identity.as_slice();
        let message = decode_message(group_info_bytes)?;
        let MlsMessageBody::GroupInfo(gi) = message.body else {
            return Err(ApiMisuse::UnexpectedMessage("not a GroupInfo").into());
        };
        if gi.group_context.cipher_suite.0 != provider.suite().id() {
            return Err(ApiMisuse::UnexpectedMessage("GroupInfo for another cipher suite").into());
        }
        let mut tree = super::join::load_tree(&provider, &gi, ratchet_tree)?;
        let tree_hash = tree.validate_with(
            &provider,
            gi.group_context.group_id.as_slice(),
            config.executor,
        )?;
        if tree_hash.as_slice() != gi.group_context.tree_hash.as_slice() {
            return Err(TreeError::TreeHashMismatch.into());
        }
        let signer_key = tree
            .leaf(LeafIndex(gi.signer))
            .map(|l| l.signature_key.as_slice().to_vec())
            .ok_or(crate::error::PeerMisbehaved::UnknownSigner(gi.signer))?;
        verify_group_info(&provider, &gi, &signer_key)?;
        super::join::check_joined_group(&config, &tree, &gi)?;
        let external_pub = gi
            .extensions
            .iter()
            .find(|e| e.extension_type == ExtensionType::EXTERNAL_PUB)
            .ok_or(PeerMisbehaved::MissingExternalPub)?;
        let external_pub: ExternalPub = codec::decode(external_pub.extension_data.as_slice())?;
        let nh = provider.hash_len();
        let (kem_output, init_secret) = provider.hpke_send_export(
            external_pub.external_pub.as_slice(),
            &[],
            EXTERNAL_INIT_LABEL,
            nh,
        )?;

        let context = gi.group_context.clone();
        let interim_before = schedule::interim_transcript_hash(
            &provider,
            context.confirmed_transcript_hash.as_slice(),
            gi.confirmation_tag.as_slice(),
        )?;
        let mut rng = Rng {
            source: config.randomness.clone(),
            counter: 0,
        };

        let mut proposals = vec![Proposal::ExternalInit(ExternalInit {
            kem_output: kem_output.into(),
        })];
        if let Some(old) = resync {
            if tree.leaf(old).is_none() {
                return Err(PeerMisbehaved::RemoveNonMember(old.0).into());
            }
            tree.remove_leaf(old)?;
            proposals.push(Proposal::Remove(Remove { removed: old.0 }));
        }
        // The new leaf, placed as an Add would place it; the path replaces its keys.
        let placeholder_ikm = rng.secret(&provider, b"external leaf", nh)?;
        let (_, placeholder_pub) = provider.derive_hpke_key_pair(placeholder_ikm.as_bytes())?;
        let now = config.clock.now().unwrap_or(0);
        let template = signed_leaf_node(
            &provider,
            &signer,
            identity,
            placeholder_pub,
            codec::LeafNodeSourceData::KeyPackage {
                lifetime: default_lifetime(now),
            },
            None,
        )?;
        let me = tree.add_leaf(template);
        if tree.signature_key_count(signer.public_key().as_slice()) > 1 {
            return Err(PeerMisbehaved::DuplicateKey {
                what: "signature key",
                leaf: me.0,
            }
            .into());
        }
        let leaf_secret = rng.secret(&provider, b"leaf secret", nh)?;
        let group_id = context.group_id.as_slice().to_vec();
        let plan = plan_update_path(
            &provider,
            &mut tree,
            &PathParams {
                sender: me,
                leaf_secret: &leaf_secret,
                signer: &signer,
                leaf_template: None,
                new_leaves: &[],
            },
            &group_id,
        )?;
        plan.merge(&mut tree)?;
        let mut provisional = codec::GroupContext {
            epoch: super::next_epoch(context.epoch)?,
            ..context.clone()
        };
        provisional.tree_hash = tree.tree_hash(&provider)?.into();
        let context_bytes = codec::encode(&provisional)?;

        // Seal the path through a temporary member state holding the new tree, so that the
        // ephemeral keys come from the joiner's randomness exactly as in a member's commit
        // (`Group::seal_path`).
        let secrets = EpochSecrets::from_joiner(
            &provider,
            Secret::new(vec![0; nh]),
            &vec![0; nh],
            &context_bytes,
        )?;
        let mut group = Self::assemble(
            provider,
            tree,
            signer,
            NextEpoch {
                context: context.clone(),
                private: plan.private().clone(),
                secrets,
                interim_transcript_hash: interim_before.clone(),
            },
            config,
            rng,
        );
        let mut counts = super::commit::OpCounts::default();
        let path = group.seal_path(&plan, &context_bytes, &mut counts)?;
        let content = FramedContent {
            group_id: context.group_id.clone(),
            epoch: context.epoch,
            sender: Sender::NewMemberCommit,
            authenticated_data: Vec::new().into(),
            content: FramedContentBody::Commit(Commit {
                proposals: proposals.into_iter().map(ProposalOrRef::Proposal).collect(),
                path: Some(path),
            }),
        };
        let signature = sign_content(
            &provider,
            &group.signer,
            WireFormat::PublicMessage,
            &content,
            &context,
        )?;
        let confirmed = schedule::confirmed_transcript_hash(
            &provider,
            &interim_before,
            WireFormat::PublicMessage,
            &content,
            signature.as_slice(),
        )?;
        let mut new_context = provisional;
        new_context.confirmed_transcript_hash = confirmed.clone().into();
        let secrets = EpochSecrets::derive(
            &provider,
            init_secret.as_bytes(),
            plan.commit_secret().as_bytes(),
            &vec![0u8; nh],
            &codec::encode(&new_context)?,
        )?;
        let tag = secrets.confirmation_tag(&provider, &confirmed);
        let interim = schedule::interim_transcript_hash(&provider, &confirmed, &tag)?;
        let commit = encode_message(MlsMessageBody::PublicMessage(PublicMessage {
            content,
            auth: FramedContentAuthData {
                signature,
                confirmation_tag: Some(Mac(tag.into())),
            },
            membership_tag: None,
        }))?;
        let mut private = plan.into_secrets().0;
        private.prune(&group.tree);
        // Replace the temporary epoch with the real one (the resumption PSK of the
        // temporary epoch is meaningless: drop it).
        group.advance(NextEpoch {
            context: new_context,
            private,
            secrets,
            interim_transcript_hash: interim,
        });
        group.resumption_psks.clear();
        Ok((group, commit))
    }

    /// Process an external commit (RFC 9420 §12.4.3.2): exactly one ExternalInit, at most
    /// one Remove and PSKs, all by value; a path; the new leaf at the leftmost free
    /// position; the init secret from the ExternalInit's KEM output and this epoch's
    /// external key pair.
    pub(super) fn process_external_commit(
        &mut self,
        public: PublicMessage,
        staged: bool,
    ) -> Result<Processed> {
        if self.reinit.is_some() {
            return Err(ApiMisuse::ReInitialized.into());
        }
        let FramedContentBody::Commit(commit) = &public.content.content else {
            return Err(
                ApiMisuse::UnexpectedMessage("new_member_commit sender on a non-commit").into(),
            );
        };
        let path = commit.path.clone().ok_or(PeerMisbehaved::PathRequired)?;
        let key = path.leaf_node.signature_key.as_slice().to_vec();
        let auth: AuthenticatedContent = self.framing.unprotect_public(public, |s| {
            matches!(s, Sender::NewMemberCommit).then_some(key)
        })?;
        let FramedContentBody::Commit(commit) = &auth.content.content else {
            return Err(ApiMisuse::UnexpectedMessage("not a commit").into());
        };
        // §12.2, external commits.
        let mut kem_output = None;
        let mut removes = 0;
        let mut entries = Vec::new();
        for p in &commit.proposals {
            let ProposalOrRef::Proposal(p) = p else {
                return Err(PeerMisbehaved::InvalidProposalList(
                    ProposalRule::ExternalCommitProposals,
                )
                .into());
            };
            match p {
                Proposal::ExternalInit(e) if kem_output.is_none() => {
                    kem_output = Some(e.kem_output.as_slice().to_vec())
                }
                Proposal::Remove(_) if removes == 0 => {
                    removes += 1;
                    entries.push(p);
                }
                Proposal::PreSharedKey(_) => entries.push(p),
                _ => {
                    return Err(PeerMisbehaved::InvalidProposalList(
                        ProposalRule::ExternalCommitProposals,
                    )
                    .into())
                }
            }
        }
        let kem_output = kem_output.ok_or(PeerMisbehaved::InvalidProposalList(
            ProposalRule::ExternalCommitProposals,
        ))?;
        let me = self.own_leaf().0;
        let removed = entries.iter().find_map(|p| match p {
            Proposal::Remove(r) => Some(LeafIndex(r.removed)),
            _ => None,
        });
        let tag = auth
            .auth
            .confirmation_tag
            .as_ref()
            .map(|t| t.as_slice().to_vec())
            .unwrap_or_default();
        let provider = self.provider;
        let (external_priv, _) =
            provider.derive_hpke_key_pair(self.secrets.external_secret.as_bytes())?;
        let init_secret = provider.hpke_receiver_export(
            &external_priv,
            &kem_output,
            &[],
            EXTERNAL_INIT_LABEL,
            provider.hash_len(),
        )?;
        // Everything but the path decryption and the key schedule, on the tree under the
        // journal. A member the commit removes runs exactly this and stops: it cannot decrypt
        // the path, but it must not drop out on a commit that the others reject.
        let check = |g: &mut Self| -> Result<(Applied, LeafIndex, codec::GroupContext)> {
            let leaf = &path.leaf_node;
            match removed {
                // §12.2: a resync removes the joiner's own old leaf. The path leaf must meet
                // the criteria of an Update of that leaf, its credential among them.
                Some(old) => {
                    let old_leaf = g
                        .tree
                        .leaf(old)
                        .ok_or(PeerMisbehaved::RemoveNonMember(old.0))?;
                    g.check_replacement_leaf(old, old_leaf, leaf, true)?;
                }
                None => {
                    let in_use = g.credential_types_in_use();
                    check_leaf_contents(&provider, leaf, &in_use)?;
                    g.check_credential_supported(
                        leaf.credential.credential_type().0,
                        &in_use,
                        None,
                    )?;
                    g.check_credential(CredentialChange::ExternalJoin {
                        credential: &leaf.credential,
                    })?;
                }
            }
            // The Remove and PSKs go through the shared rules; the committer is not yet a
            // member, so no leaf of the tree is "the committer".
            let resolved: Vec<Entry<'_>> = entries
                .iter()
                .map(|p| Entry {
                    proposal: p,
                    sender: LeafIndex(u32::MAX),
                    reference: None,
                })
                .collect();
            let applied: Applied = g.apply_proposals(LeafIndex(u32::MAX), &resolved)?;
            let committer = g.tree.add_leaf(leaf.clone());
            let provisional = g.provisional_context(&applied)?;
            let required = required_capabilities(&provisional.extensions)?;
            check_leaf_supports(
                leaf,
                Some(committer),
                &provisional.extensions,
                required.as_ref(),
            )?;
            Ok((applied, committer, provisional))
        };
        let old_credential = removed
            .filter(|_| staged)
            .and_then(|r| self.tree.leaf(r).map(|l| l.credential.clone()));
        if removed == Some(LeafIndex(me)) {
            let summary = self.dry_run(|g| {
                let (applied, committer, provisional) = check(g)?;
                let epoch = provisional.epoch;
                let base = g.private.clone();
                g.apply_path(commit, committer, &applied, base, provisional, false)?;
                Ok(staged
                    .then(|| g.summarize(committer, true, epoch, &applied, old_credential, true)))
            })?;
            return Ok(Processed::Commit {
                apply: None,
                committer: LeafIndex(u32::MAX),
                summary: summary.map(Box::new),
            });
        }
        let ((next, committer, summary), redo) = self.run_edit(staged, |g| {
            let (applied, committer, provisional) = check(g)?;
            let base = g.private.clone();
            let (private, commit_secret, provisional) =
                g.apply_path(commit, committer, &applied, base, provisional, true)?;
            let psk_secret = g.psk_secret(&applied.psks)?;
            let next = g.finish_epoch(
                &auth,
                provisional,
                private,
                &commit_secret,
                &psk_secret,
                init_secret,
                &tag,
            )?;
            let summary = staged.then(|| {
                Box::new(g.summarize(
                    committer,
                    true,
                    next.context.epoch,
                    &applied,
                    old_credential,
                    false,
                ))
            });
            Ok((next, committer, summary))
        })?;
        Ok(Processed::Commit {
            apply: Some(Box::new(PendingCommit {
                redo: redo.unwrap_or_default(),
                next,
                reinit: None,
            })),
            committer,
            summary,
        })
    }
}
