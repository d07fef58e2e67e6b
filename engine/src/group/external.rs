//! External joins (RFC 9420 §12.4.3.2): a GroupInfo with the `external_pub` extension
//! (§8.3) exported by a member, the external commit a new member builds from it (an
//! ExternalInit, optionally a Remove of its old leaf, an UpdatePath from the leftmost free
//! leaf), and its processing by the members.

use super::process::{decrypt_path, finish_epoch, Processed};
use super::public::{commit_of, confirmation_tag};
use super::staged::PendingCommit;
use super::{encode_message, Group, GroupConfig, NextEpoch, PublicGroup, Rng, TreeDelivery};
use crate::codec::{
    self, Commit, ExtensionType, ExternalInit, ExternalPub, FramedContent, FramedContentAuthData,
    FramedContentBody, GroupInfo, HpkePublicKey, Mac, MlsMessageBody, Proposal, ProposalOrRef,
    PublicMessage, Remove, Sender, WireFormat,
};
use crate::crypto::{Provider, Secret, SignaturePrivateKey};
use crate::error::PeerMisbehaved;
use crate::error::Result;
use crate::framing::sign_content;
use crate::kem::{plan_update_path, PathParams};
use crate::key_package::{default_lifetime, signed_leaf_node};
use crate::schedule::{self, EpochSecrets};
use crate::tree::LeafIndex;
use crate::welcome::sign_group_info;

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
                external_pub: HpkePublicKey(self.secrets.external_pub(&self.public.provider)?.into()),
            })?
            .into(),
        }];
        if tree == TreeDelivery::Included {
            extensions.push(self.ratchet_tree_extension()?);
        }
        let tag = self.secrets.confirmation_tag(
            &self.public.provider,
            self.public.context.confirmed_transcript_hash.as_slice(),
        );
        let mut gi = GroupInfo {
            group_context: self.public.context.clone(),
            extensions,
            confirmation_tag: Mac(tag.into()),
            signer: self.own_leaf().0,
            signature: Vec::new().into(),
        };
        sign_group_info(&self.public.provider, &self.signer, &mut gi)?;
        encode_message(MlsMessageBody::GroupInfo(gi))
    }

    /// Join by external commit (RFC 9420 §12.4.3.2) from an MLSMessage(GroupInfo) carrying
    /// `external_pub` (and the tree, unless the options give it). The new member gets a
    /// basic credential for its identity and takes the leftmost free leaf; a resync removes
    /// its own old leaf (a member rejoining). Returns the new member's state in the new
    /// epoch and the commit (a PublicMessage) for the members.
    ///
    /// Validates the GroupInfo and the tree as [`PublicGroup::from_group_info`] does: the
    /// tree (as a Welcome join does), its hash against the GroupInfo and the GroupInfo's
    /// signature by its signer's leaf.
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
        // The GroupInfo and tree checked as an observer checks them.
        let (public, extensions) =
            PublicGroup::open_group_info(provider, group_info_bytes, ratchet_tree, &config)?;
        let PublicGroup {
            context,
            mut tree,
            interim_transcript_hash: interim_before,
            confirmation_tag: group_info_tag,
            ..
        } = public;
        let external_pub = extensions
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
        let me = tree.add_leaf(&template)?;
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
                confirmation_tag: group_info_tag,
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
                confirmation_tag: Some(Mac(tag.clone().into())),
            },
            membership_tag: None,
        }))?;
        let mut private = plan.into_secrets().0;
        private.prune(&group.public.tree);
        // Replace the temporary epoch with the real one (the resumption PSK of the
        // temporary epoch is meaningless: drop it).
        group.advance(NextEpoch {
            context: new_context,
            private,
            secrets,
            interim_transcript_hash: interim,
            confirmation_tag: tag,
        });
        group.resumption_psks.clear();
        Ok((group, commit))
    }

    /// Process an external commit (RFC 9420 §12.4.3.2): its proposals and leaf checked as
    /// an observer of the public state checks them ([`PublicGroup::open_external_commit`],
    /// [`PublicGroup::apply_external_commit`]); the init secret from the ExternalInit's KEM
    /// output and this epoch's external key pair; the path decrypted.
    pub(super) fn process_external_commit(
        &mut self,
        public: PublicMessage,
        staged: bool,
    ) -> Result<Processed> {
        let framing = &self.framing;
        let (auth, parsed) = self
            .public
            .open_external_commit(public, |m, key| framing.unprotect_public(m, |_| Some(key)))?;
        let commit = commit_of(&auth)?;
        let me = self.own_leaf().0;
        let tag = confirmation_tag(&auth);
        let provider = self.public.provider;
        let (external_priv, _) =
            provider.derive_hpke_key_pair(self.secrets.external_secret.as_bytes())?;
        let init_secret = provider.hpke_receiver_export(
            &external_priv,
            &parsed.kem_output,
            &[],
            EXTERNAL_INIT_LABEL,
            provider.hash_len(),
        )?;
        let old_credential = parsed
            .removed
            .filter(|_| staged)
            .and_then(|r| self.public.tree.leaf(r).map(|l| l.decode().credential));
        let psks = member_psks!(self);
        // A member the commit removes runs the public checks only and stops: it cannot
        // decrypt the path, but it must not drop out on a commit that the others reject.
        if parsed.removed == Some(LeafIndex(me)) {
            let summary = self.public.dry_run(|p| {
                let c = p.apply_external_commit(commit, &parsed, Some(&psks))?;
                Ok(staged.then(|| p.summarize(&c, true, old_credential, true)))
            })?;
            return Ok(Processed::Commit {
                apply: None,
                committer: LeafIndex(u32::MAX),
                summary: summary.map(Box::new),
            });
        }
        let private = &self.private;
        let ((next, committer, summary), redo) = self.public.run_edit(staged, |p| {
            let c = p.apply_external_commit(commit, &parsed, Some(&psks))?;
            let (private, commit_secret) = decrypt_path(p, commit, &c, private.clone())?;
            let psk_secret = psks.secret(p, &c.applied.psks)?;
            let summary = staged.then(|| Box::new(p.summarize(&c, true, old_credential, false)));
            let committer = c.committer;
            let next = finish_epoch(
                p,
                &auth,
                c.context,
                private,
                &commit_secret,
                &psk_secret,
                init_secret,
                &tag,
            )?;
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
