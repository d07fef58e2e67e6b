//! Creating a commit (RFC 9420 §12.4.1) and its Welcome (§12.4.3).

use super::proposals::{CachedProposal, Entry, ProposalSender};
use super::staged::PendingCommit;
use super::{encode_message, Group, NextEpoch};
use crate::codec::{
    self, Add, AuthenticatedContent, Commit, Extension, FramedContent, FramedContentAuthData,
    FramedContentBody, GroupContext, GroupContextExtensions, GroupInfo, HashReference, KeyPackage,
    Mac, MlsMessageBody,
    PreSharedKey, PreSharedKeyId, Proposal, ProposalOrRef, ProposalType, ReInit, Remove, Sender,
    UpdatePath, Welcome, WireFormat,
};
use crate::error::ApiMisuse;
use crate::key_package::{check_lifetime, Clock};
use std::collections::HashSet;

use crate::batch::lane_block;
use crate::crypto::hpke_batch::{SealContext, SealRequest, SEAL_BLOCK_MAX, SEAL_CUTOFF};
use crate::crypto::Secret;
use crate::error::{Error, Result};
use crate::framing::sign_content;
use crate::kem::{plan_update_path, Ephemeral, PathParams, PathPlan};
use crate::schedule::{self, EpochSecrets};
use crate::tree::{math, LeafIndex};
use crate::welcome::{
    encrypt_group_info, encrypted_group_secrets, group_secrets_plaintext, seal_group_info_with_tree,
    sign_group_info,
};

/// The "node position" of Welcome seals in [`Ephemeral::ikm`] (UpdatePath seals use the
/// filtered-direct-path index, far below this).
const WELCOME_POSITION: u32 = u32::MAX;

/// What to commit, built with [`CommitOptions::new`] and its methods:
///
/// ```
/// # use canopy_engine::{CommitOptions, LeafIndex, Protection};
/// let options = CommitOptions::new()
///     .remove_member(LeafIndex(3))
///     .ratchet_tree_in_welcome()
///     .protection(Protection::Private);
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CommitOptions {
    /// KeyPackages to add (Add proposals by value).
    pub adds: Vec<KeyPackage>,
    /// Leaves to remove (Remove proposals by value).
    pub removes: Vec<LeafIndex>,
    /// Whether the commit carries an UpdatePath when its proposals do not require one.
    pub path: PathPolicy,
    /// Where joiners get the ratchet tree from.
    pub ratchet_tree: TreeDelivery,
    /// PSKs to inject (PreSharedKey proposals by value, RFC 9420 §12.1.4): external PSKs
    /// from [`Group::add_external_psk`] or resumption PSKs of this group's retained epochs.
    pub psks: Vec<PreSharedKeyId>,
    /// New group context extensions (a GroupContextExtensions proposal by value, §12.1.7).
    pub group_context_extensions: Option<Vec<Extension>>,
    /// Commit a ReInit (§12.1.5), alone: the group then takes no further commits.
    pub reinit: Option<ReInit>,
    /// How the commit is framed.
    pub protection: Protection,
}

/// Whether a commit carries an UpdatePath (RFC 9420 §12.4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PathPolicy {
    /// Only when the proposals require one (removes, updates, an empty proposal list).
    #[default]
    WhenRequired,
    /// Always: a full "update" commit that refreshes the committer's path.
    Always,
}

/// Where a new member gets the ratchet tree from: the members that a Welcome adds, or one
/// joining by external commit from a published GroupInfo ([`Group::group_info`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TreeDelivery {
    /// Out of band: joiners pass it in [`JoinOptions::ratchet_tree`](crate::JoinOptions::ratchet_tree) or
    /// [`ExternalJoinOptions::ratchet_tree`](crate::ExternalJoinOptions::ratchet_tree) ([`Group::ratchet_tree_bytes`] gives it).
    #[default]
    OutOfBand,
    /// In the GroupInfo (its `ratchet_tree` extension): the Welcome's, or the published one.
    Included,
}

/// How a handshake message (a proposal or a commit) is framed (RFC 9420 §6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Protection {
    /// A signed `PublicMessage` with a membership tag, readable by the delivery service.
    #[default]
    Public,
    /// An encrypted `PrivateMessage`.
    Private,
}

impl CommitOptions {
    /// A commit of the cached proposals only (no path unless they require one).
    pub fn new() -> Self {
        Self::default()
    }

    /// Add the member of `key_package`.
    pub fn add_member(mut self, key_package: KeyPackage) -> Self {
        self.adds.push(key_package);
        self
    }

    /// Add the members of `key_packages`.
    pub fn adds(mut self, key_packages: impl IntoIterator<Item = KeyPackage>) -> Self {
        self.adds.extend(key_packages);
        self
    }

    /// Remove the member at `leaf`.
    pub fn remove_member(mut self, leaf: LeafIndex) -> Self {
        self.removes.push(leaf);
        self
    }

    /// Remove the members at `leaves`.
    pub fn removes(mut self, leaves: impl IntoIterator<Item = LeafIndex>) -> Self {
        self.removes.extend(leaves);
        self
    }

    /// Always include an UpdatePath ([`PathPolicy::Always`]).
    pub fn with_path(self) -> Self {
        self.path(PathPolicy::Always)
    }

    /// Set the [`PathPolicy`].
    pub fn path(mut self, policy: PathPolicy) -> Self {
        self.path = policy;
        self
    }

    /// Put the ratchet tree in the Welcome ([`TreeDelivery::Included`]).
    pub fn ratchet_tree_in_welcome(self) -> Self {
        self.ratchet_tree(TreeDelivery::Included)
    }

    /// Set where joiners get the ratchet tree from.
    pub fn ratchet_tree(mut self, delivery: TreeDelivery) -> Self {
        self.ratchet_tree = delivery;
        self
    }

    /// Inject the PSK `psk`.
    pub fn psk(mut self, psk: PreSharedKeyId) -> Self {
        self.psks.push(psk);
        self
    }

    /// Inject the PSKs `psks`.
    pub fn psks(mut self, psks: impl IntoIterator<Item = PreSharedKeyId>) -> Self {
        self.psks.extend(psks);
        self
    }

    /// Replace the group context extensions (a `Vec`, or an `Option` where `None` leaves
    /// them as they are).
    pub fn group_context_extensions(
        mut self,
        extensions: impl Into<Option<Vec<Extension>>>,
    ) -> Self {
        self.group_context_extensions = extensions.into();
        self
    }

    /// Commit a ReInit (alone).
    pub fn reinit(mut self, reinit: ReInit) -> Self {
        self.reinit = Some(reinit);
        self
    }

    /// Set how the commit is framed.
    pub fn protection(mut self, protection: Protection) -> Self {
        self.protection = protection;
        self
    }
}

/// Work counts of one operation, for reports and the regression gate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// HPKE seals performed (UpdatePath and Welcome).
    pub hpke_seals: u64,
    /// Nodes of the committer's filtered direct path.
    pub path_nodes: u64,
}

/// The messages a commit produces.
#[derive(Debug, Clone)]
pub struct CommitOutput {
    /// MLSMessage(PublicMessage) carrying the commit, for every member.
    pub commit: Vec<u8>,
    /// MLSMessage(Welcome) for the added members, if any.
    pub welcome: Option<Vec<u8>>,
    /// Work done.
    pub counts: OpCounts,
    /// Cached proposals the commit left out, with the reason.
    pub omitted: Vec<OmittedProposal>,
}

/// A cached proposal that a commit left out, and why (RFC 9420 §12.2 lets the committer
/// settle conflicts; a proposal that has become invalid is left out rather than sinking the
/// commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OmittedProposal {
    /// Its ProposalRef.
    pub reference: Vec<u8>,
    /// Who proposed it.
    pub sender: ProposalSender,
    /// Its type.
    pub proposal_type: ProposalType,
    /// Why it was left out.
    pub reason: OmitReason,
}

/// Why a commit left a cached proposal out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OmitReason {
    /// The committer's own Update: it updates through its path instead (§12.4).
    OwnUpdate,
    /// A Remove of the committer (§12.2).
    RemovesCommitter,
    /// Another proposal in the commit wins: a Remove over an Update of the same leaf, a
    /// second Remove or Update of a leaf, an Add or Update bringing a key another brings, a
    /// PSK injected already, a second GroupContextExtensions, or anything beside a ReInit.
    Superseded,
    /// The KeyPackage's lifetime has ended since the Add arrived (§10.1).
    Expired,
}

/// The cached proposals a commit covers (RFC 9420 §12.2: the committer resolves conflicts
/// among the proposals it received), and the ones it leaves out with the reason. Left out:
/// this member's own Updates (it updates through the path) and Removes of itself; anything
/// when `by_value` holds a ReInit; a ReInit with anything else; a second Remove of a leaf; an
/// Update of a leaf that is removed or already updated (a Remove wins); an Add or Update
/// whose signature or encryption key another Add or Update brings; a PSK already injected;
/// a GroupContextExtensions after another; an Add whose KeyPackage has expired.
///
/// Every cached proposal was validated on its own when it arrived, and within an epoch the
/// tree does not change, so the clock is the only thing that can have made one invalid
/// since.
fn select_cached<'a>(
    cache: &'a [CachedProposal],
    me: LeafIndex,
    by_value: &[Proposal],
    clock: Clock,
) -> (Vec<&'a CachedProposal>, Vec<OmittedProposal>) {
    let omit = |c: &CachedProposal, reason| OmittedProposal {
        reference: c.reference.clone(),
        sender: c.sender,
        proposal_type: c.proposal.proposal_type(),
        reason,
    };
    if by_value.iter().any(|p| matches!(p, Proposal::ReInit(_))) {
        let omitted = cache
            .iter()
            .map(|c| omit(c, OmitReason::Superseded))
            .collect();
        return (Vec::new(), omitted);
    }
    let mut removed: HashSet<u32> = HashSet::new();
    let mut signature_keys: HashSet<&[u8]> = HashSet::new();
    let mut encryption_keys: HashSet<&[u8]> = HashSet::new();
    let mut psks: Vec<&PreSharedKeyId> = Vec::new();
    let mut gce = false;
    for p in by_value {
        match p {
            Proposal::Remove(r) => {
                removed.insert(r.removed);
            }
            Proposal::Add(a) => {
                signature_keys.insert(a.key_package.leaf_node.signature_key.as_slice());
                encryption_keys.insert(a.key_package.leaf_node.encryption_key.as_slice());
            }
            Proposal::PreSharedKey(k) => psks.push(&k.psk),
            Proposal::GroupContextExtensions(_) => gce = true,
            _ => {}
        }
    }
    // Removes first, so that a Remove wins over an Update of the same leaf.
    let mut chosen_removes = Vec::new();
    for c in cache {
        if let Proposal::Remove(r) = &c.proposal {
            if r.removed != me.0 && removed.insert(r.removed) {
                chosen_removes.push(c.reference.as_slice());
            }
        }
    }
    let mut updated: HashSet<u32> = HashSet::new();
    let mut out = Vec::new();
    let mut omitted = Vec::new();
    for c in cache {
        let verdict = match &c.proposal {
            Proposal::Remove(r) if r.removed == me.0 => Err(OmitReason::RemovesCommitter),
            Proposal::Remove(_) => {
                if chosen_removes.contains(&c.reference.as_slice()) {
                    Ok(())
                } else {
                    Err(OmitReason::Superseded)
                }
            }
            Proposal::Update(_) if c.sender.leaf() == me => Err(OmitReason::OwnUpdate),
            Proposal::Update(u) => {
                let leaf = &u.leaf_node;
                let sender = c.sender.leaf().0;
                if !removed.contains(&sender)
                    && !updated.contains(&sender)
                    && !signature_keys.contains(leaf.signature_key.as_slice())
                    && !encryption_keys.contains(leaf.encryption_key.as_slice())
                {
                    updated.insert(sender);
                    signature_keys.insert(leaf.signature_key.as_slice());
                    encryption_keys.insert(leaf.encryption_key.as_slice());
                    Ok(())
                } else {
                    Err(OmitReason::Superseded)
                }
            }
            Proposal::Add(a) => {
                let leaf = &a.key_package.leaf_node;
                if check_lifetime(leaf, clock).is_err() {
                    Err(OmitReason::Expired)
                } else if !signature_keys.contains(leaf.signature_key.as_slice())
                    && !encryption_keys.contains(leaf.encryption_key.as_slice())
                {
                    signature_keys.insert(leaf.signature_key.as_slice());
                    encryption_keys.insert(leaf.encryption_key.as_slice());
                    Ok(())
                } else {
                    Err(OmitReason::Superseded)
                }
            }
            Proposal::PreSharedKey(k) => {
                if psks.contains(&&k.psk) {
                    Err(OmitReason::Superseded)
                } else {
                    psks.push(&k.psk);
                    Ok(())
                }
            }
            Proposal::GroupContextExtensions(_) => {
                if std::mem::replace(&mut gce, true) {
                    Err(OmitReason::Superseded)
                } else {
                    Ok(())
                }
            }
            Proposal::ReInit(_) => {
                if cache.len() == 1 && by_value.is_empty() {
                    Ok(())
                } else {
                    Err(OmitReason::Superseded)
                }
            }
            // Never cached: refused when it arrives.
            Proposal::ExternalInit(_) => Err(OmitReason::Superseded),
        };
        match verdict {
            Ok(()) => out.push(c),
            Err(reason) => omitted.push(omit(c, reason)),
        }
    }
    (out, omitted)
}

impl Group {
    /// Create a commit with `options`, merge it into this member's state, and return the
    /// messages to send (RFC 9420 §12.4.1). On error the state is unchanged.
    ///
    /// The commit covers, by reference, the proposals cached in this epoch (RFC 9420
    /// §12.4: received with [`Group::process`] or sent with the `propose_*` methods) minus
    /// those that conflict (see `select_cached`: own Updates, a second Remove of a leaf, an
    /// Update of a removed leaf, duplicate Adds or PSKs, ...), then the proposals of
    /// `options` by value.
    ///
    /// This merges at once, for a committer whose delivery service orders commits before
    /// they are sent (and for simulations); [`Group::create_commit`] leaves the commit
    /// pending until the delivery service has accepted it.
    pub fn commit(&mut self, options: &CommitOptions) -> Result<CommitOutput> {
        let (output, pending) = self.make_commit(options, false)?;
        self.advance(pending.next);
        self.public.reinit = pending.reinit;
        Ok(output)
    }

    /// Create a commit with `options` (as [`Group::commit`] does) and keep it pending: the
    /// group stays in its epoch until [`Group::merge_pending_commit`] (the delivery service
    /// accepted the commit) or [`Group::clear_pending_commit`] (another member's commit won;
    /// processing that commit clears it too). Standalone proposals may still be sent and
    /// processed meanwhile; another commit may not be created.
    pub fn create_commit(&mut self, options: &CommitOptions) -> Result<CommitOutput> {
        let (output, pending) = self.make_commit(options, true)?;
        self.pending_commit = Some(pending);
        Ok(output)
    }

    /// Merge the commit [`Group::create_commit`] left pending: move to its epoch.
    pub fn merge_pending_commit(&mut self) -> Result<()> {
        let pending = self
            .pending_commit
            .take()
            .ok_or(ApiMisuse::NoPendingCommit)?;
        self.public.tree.redo(pending.redo);
        self.advance(pending.next);
        self.public.reinit = pending.reinit;
        Ok(())
    }

    /// Drop the pending commit (it lost the delivery service's race); returns whether there
    /// was one. The group stays in its epoch, as if the commit had not been made.
    pub fn clear_pending_commit(&mut self) -> bool {
        self.pending_commit.take().is_some()
    }

    /// Whether a commit made with [`Group::create_commit`] awaits merging.
    pub fn has_pending_commit(&self) -> bool {
        self.pending_commit.is_some()
    }

    fn make_commit(
        &mut self,
        options: &CommitOptions,
        staged: bool,
    ) -> Result<(CommitOutput, PendingCommit)> {
        if self.removed {
            return Err(ApiMisuse::NotAMember.into());
        }
        if self.public.reinit.is_some() {
            return Err(ApiMisuse::ReInitialized.into());
        }
        if self.pending_commit.is_some() {
            return Err(ApiMisuse::CommitPending.into());
        }
        let cache = std::mem::take(&mut self.public.proposal_cache);
        let result = self.run_edit(staged, |g| g.build_commit(options, &cache));
        self.public.proposal_cache = cache;
        let ((output, next, reinit), redo) = result?;
        Ok((
            output,
            PendingCommit {
                redo: redo.unwrap_or_default(),
                next,
                reinit,
            },
        ))
    }

    fn build_commit(
        &mut self,
        options: &CommitOptions,
        cache: &[CachedProposal],
    ) -> Result<(CommitOutput, NextEpoch, Option<ReInit>)> {
        let provider = self.public.provider;
        let me = self.own_leaf();
        let by_value: Vec<Proposal> = options
            .group_context_extensions
            .iter()
            .map(|e| {
                Proposal::GroupContextExtensions(GroupContextExtensions {
                    extensions: e.clone(),
                })
            })
            .chain(
                options
                    .removes
                    .iter()
                    .map(|r| Proposal::Remove(Remove { removed: r.0 })),
            )
            .chain(options.adds.iter().map(|kp| {
                Proposal::Add(Add {
                    key_package: kp.clone(),
                })
            }))
            .chain(
                options
                    .psks
                    .iter()
                    .map(|id| Proposal::PreSharedKey(PreSharedKey { psk: id.clone() })),
            )
            .chain(options.reinit.iter().map(|r| Proposal::ReInit(r.clone())))
            .collect();
        let (cached, omitted) = select_cached(cache, me, &by_value, self.public.clock);
        let entries: Vec<Entry<'_>> = cached
            .iter()
            .map(|c| Entry {
                proposal: &c.proposal,
                sender: c.sender.leaf(),
                reference: Some(c.reference.as_slice()),
            })
            .chain(by_value.iter().map(|p| Entry {
                proposal: p,
                sender: me,
                reference: None,
            }))
            .collect();
        let psks = member_psks!(self);
        let applied = self.public.apply_proposals(me, &entries, Some(&psks))?;
        drop(entries);
        let new_leaves: Vec<LeafIndex> = applied.added.iter().map(|&(l, _)| l).collect();
        let mut counts = OpCounts::default();
        #[cfg(feature = "planted-regression")]
        crate::testing::plant(&provider);

        let mut provisional = self.public.provisional_context(&applied)?;
        let nh = provider.hash_len();
        let (path, plan, commit_secret) = if options.path == PathPolicy::Always || applied.path_required {
            let leaf_secret = self.rng.secret(&provider, b"leaf secret", nh)?;
            let group_id = self.public.context.group_id.as_slice().to_vec();
            let plan = plan_update_path(
                &provider,
                &mut self.public.tree,
                &PathParams {
                    sender: me,
                    leaf_secret: &leaf_secret,
                    signer: &self.signer,
                    leaf_template: None,
                    new_leaves: &new_leaves,
                },
                &group_id,
            )?;
            // Under the commit's journal: a failure rolls the merge back with the rest.
            plan.merge(&mut self.public.tree)?;
            provisional.tree_hash = self.public.tree.tree_hash(&provider)?.into();
            let context_bytes = codec::encode(&provisional)?;
            let path = self.seal_path(&plan, &context_bytes, &mut counts)?;
            let commit_secret = plan.commit_secret().clone();
            (Some(path), Some(plan), commit_secret)
        } else {
            provisional.tree_hash = self.public.tree.tree_hash(&provider)?.into();
            (None, None, Secret::new(vec![0; nh]))
        };

        // `entries` was `cached` then `by_value`, and so is this list: an index into one is an
        // index into the other. The by-value proposals move into the Commit (49,999 KeyPackages
        // in a bulk add are not copied again), and the Welcome borrows them from there.
        let proposals: Vec<ProposalOrRef> = cached
            .iter()
            .map(|c| ProposalOrRef::Reference(HashReference(c.reference.clone().into())))
            .chain(by_value.into_iter().map(ProposalOrRef::Proposal))
            .collect();
        let content = FramedContent {
            group_id: self.public.context.group_id.clone(),
            epoch: self.public.context.epoch,
            sender: Sender::Member { leaf_index: me.0 },
            authenticated_data: Vec::new().into(),
            content: FramedContentBody::Commit(Commit { proposals, path }),
        };
        let wire_format = if options.protection == Protection::Private {
            WireFormat::PrivateMessage
        } else {
            WireFormat::PublicMessage
        };
        let signature = sign_content(
            &provider,
            &self.signer,
            wire_format,
            &content,
            &self.public.context,
        )?;
        let confirmed = schedule::confirmed_transcript_hash(
            &provider,
            &self.public.interim_transcript_hash,
            wire_format,
            &content,
            signature.as_slice(),
        )?;
        let mut context = provisional;
        context.confirmed_transcript_hash = confirmed.clone().into();
        let psk_secret = member_psks!(self).secret(&self.public, &applied.psks)?;
        let secrets = EpochSecrets::derive(
            &provider,
            self.secrets.init_secret.as_bytes(),
            commit_secret.as_bytes(),
            psk_secret.as_bytes(),
            &codec::encode(&context)?,
        )?;
        let tag = secrets.confirmation_tag(&provider, &confirmed);
        let interim = schedule::interim_transcript_hash(&provider, &confirmed, &tag)?;

        let auth = AuthenticatedContent {
            wire_format,
            content,
            auth: FramedContentAuthData {
                signature,
                confirmation_tag: Some(Mac(tag.clone().into())),
            },
        };
        let FramedContentBody::Commit(commit_body) = &auth.content.content else {
            return Err(Error::Internal("commit content is not a Commit"));
        };
        let added: Vec<(LeafIndex, &KeyPackage)> = applied
            .added
            .iter()
            .filter_map(|&(l, i)| {
                let proposal = match cached.get(i) {
                    Some(c) => &c.proposal,
                    None => match commit_body.proposals.get(i) {
                        Some(ProposalOrRef::Proposal(p)) => p,
                        _ => return None,
                    },
                };
                match proposal {
                    Proposal::Add(a) => Some((l, &a.key_package)),
                    _ => None,
                }
            })
            .collect();
        // The Welcome is built before the Commit is framed, which consumes `auth`.
        let welcome = if added.is_empty() {
            None
        } else {
            let w = self.build_welcome(
                options,
                &added,
                &applied.psks,
                plan.as_ref(),
                &context,
                &secrets,
                &tag,
                &mut counts,
            )?;
            Some(encode_message(MlsMessageBody::Welcome(w))?)
        };
        drop(added);
        let commit = self.frame_handshake(auth, options.protection)?;

        let private = match plan {
            Some(plan) => plan.into_secrets().0,
            None => {
                let mut p = self.private.clone();
                p.prune(&self.public.tree);
                p
            }
        };
        Ok((
            CommitOutput {
                commit,
                welcome,
                counts,
                omitted,
            },
            NextEpoch {
                context,
                private,
                secrets,
                interim_transcript_hash: interim,
                confirmation_tag: tag,
            },
            applied.reinit,
        ))
    }

    /// The ephemeral-key source of one batch of seals: fresh randomness, or with seeded
    /// randomness one seed per batch from which each seal derives its key by position, so
    /// the output does not depend on the order the seals run in.
    fn ephemeral(&mut self, label: &[u8]) -> Result<Ephemeral> {
        Ok(match &self.rng.source {
            super::Randomness::System => Ephemeral::Random,
            super::Randomness::Seeded(_) => {
                let n = self.public.provider.hash_len();
                Ephemeral::Seeded(self.rng.secret(&self.public.provider, label, n)?)
            }
        })
    }

    /// Seal every path secret of `plan` to its copath resolution as one batch on the
    /// group's executor ([`PathPlan::seal`]), with this group's ephemeral-key source.
    pub(super) fn seal_path(
        &mut self,
        plan: &PathPlan,
        context_bytes: &[u8],
        counts: &mut OpCounts,
    ) -> Result<UpdatePath> {
        let ephemeral = self.ephemeral(b"path ephemeral")?;
        let path = plan.seal(
            &self.public.provider,
            context_bytes,
            &ephemeral,
            self.public.executor,
        )?;
        let seals: usize = path
            .nodes
            .iter()
            .map(|n| n.encrypted_path_secret.len())
            .sum();
        counts.hpke_seals += seals as u64;
        counts.path_nodes += plan.staged().filtered_direct_path().count() as u64;
        Ok(path)
    }

    /// A simulated provider's signed and encrypted GroupInfo (see
    /// `Provider::with_simulated_crypto`): the signature and the encryption counted over the
    /// real lengths, with the `ratchet_tree` extension when `tree_included`, which is sized
    /// but not built (the ~10 MB tree is neither encoded nor hashed); zeros of the real
    /// ciphertext's length.
    fn simulated_group_info(
        &self,
        provider: &crate::crypto::Provider,
        group_info: &mut GroupInfo,
        tree_included: bool,
        secrets: &EpochSecrets,
    ) -> Result<tls_codec::VLBytes> {
        // The extension vector, empty here, would hold the extension: its type (2 bytes) and
        // the tree as opaque bytes.
        let extra = if tree_included {
            let extension = 2 + codec::vl_length(self.public.tree.wire_len())?;
            codec::vl_length(extension)? - codec::vl_length(0)?
        } else {
            0
        };
        let tbs_len = codec::Size::tls_serialized_len(&codec::GroupInfoTbs {
            group_info: &*group_info,
        }) + extra;
        let sign_content_len =
            crate::crypto::labels::labeled_pair_header(b"GroupInfoTBS", tbs_len)?.len() + tbs_len;
        group_info.signature = provider.sign_labeled_counted(sign_content_len).into();
        // The welcome key and nonce as the real encryption derives them (and counts them).
        schedule::welcome_key_nonce(provider, secrets.welcome_secret.as_bytes())?;
        let len = codec::Size::tls_serialized_len(&*group_info) + extra;
        Ok(provider.aead_seal_counted(len).into())
    }

    /// The Welcome for the members `applied` added (RFC 9420 §12.4.3): the signed GroupInfo
    /// of the new epoch encrypted under the welcome secret, and per new member the
    /// GroupSecrets (joiner secret, and the path secret of its lowest common ancestor with
    /// the committer if the commit has a path) sealed to its init key with the encrypted
    /// GroupInfo as HPKE context. That context (the whole tree when `ratchet_tree` is
    /// included, ~10 MB at 50,000 members) is hashed once for all recipients.
    #[allow(clippy::too_many_arguments)]
    fn build_welcome(
        &mut self,
        options: &CommitOptions,
        added: &[(LeafIndex, &KeyPackage)],
        psks: &[PreSharedKeyId],
        plan: Option<&PathPlan>,
        context: &GroupContext,
        secrets: &EpochSecrets,
        tag: &[u8],
        counts: &mut OpCounts,
    ) -> Result<Welcome> {
        let provider = self.public.provider;
        let tree_included = options.ratchet_tree == TreeDelivery::Included;
        // The ratchet tree extension, when included, is written by
        // `sign_group_info_with_tree` (or only sized, when simulated).
        let mut group_info = GroupInfo {
            group_context: context.clone(),
            extensions: Vec::new(),
            confirmation_tag: Mac(tag.to_vec().into()),
            signer: self.own_leaf().0,
            signature: Vec::new().into(),
        };
        let (encrypted_group_info, seal) = if provider.is_simulated() {
            let encrypted =
                self.simulated_group_info(&provider, &mut group_info, tree_included, secrets)?;
            let seal = SealContext::counted(&provider, b"Welcome", encrypted.as_slice().len())?;
            (encrypted, seal)
        } else if tree_included {
            seal_group_info_with_tree(
                &provider,
                self.public.executor,
                &self.signer,
                &group_info,
                &self.public.tree,
                &secrets.welcome_secret,
            )?
        } else {
            sign_group_info(&provider, &self.signer, &mut group_info)?;
            let encrypted = encrypt_group_info(&provider, &group_info, &secrets.welcome_secret)?;
            let seal = SealContext::new(&provider, b"Welcome", encrypted.as_slice())?;
            (encrypted, seal)
        };
        drop(group_info);

        let me = self.own_leaf().node();
        let joiner_secret = &secrets.joiner_secret;
        let jobs: Vec<(u32, LeafIndex, &KeyPackage)> = added
            .iter()
            .enumerate()
            .map(|(position, &(leaf, kp))| (position as u32, leaf, kp))
            .collect();
        let ephemeral = self.ephemeral(b"welcome ephemeral")?;
        // One `seal_batch` per block of SEAL_CUTOFF to SEAL_BLOCK_MAX new members
        // (`seal_group_secrets` is the plain path, one member at a time, with the same output).
        let block = lane_block(jobs.len(), SEAL_CUTOFF, SEAL_BLOCK_MAX);
        let entries = self
            .public
            .executor
            .try_map_blocks(&jobs, block, |_, block| {
                let mut plaintexts = Vec::with_capacity(block.len());
                let mut ikms = Vec::with_capacity(block.len());
                for (position, leaf, _) in block {
                    let path_secret = plan.and_then(|p| {
                        let lca = math::common_ancestor(me, leaf.node());
                        p.path_secret_at(lca)
                    });
                    plaintexts.push(group_secrets_plaintext(joiner_secret, path_secret, psks)?);
                    ikms.push(ephemeral.ikm(&provider, WELCOME_POSITION, *position)?);
                }
                let requests: Vec<SealRequest<'_>> = block
                    .iter()
                    .zip(plaintexts.iter().zip(&ikms))
                    .map(|((_, _, kp), (plaintext, ikm))| SealRequest {
                        pk_r: kp.init_key.as_slice(),
                        plaintext: plaintext.as_bytes(),
                        ikm_e: ikm.as_ref().map(Secret::as_bytes),
                    })
                    .collect();
                seal
                    .seal_batch(&requests)
                    .into_iter()
                    .zip(block)
                    .map(|(sealed, (_, _, kp))| encrypted_group_secrets(&provider, kp, sealed?))
                    .collect::<Result<Vec<_>>>()
            })?;
        counts.hpke_seals += entries.len() as u64;
        Ok(Welcome {
            cipher_suite: context.cipher_suite,
            secrets: entries,
            encrypted_group_info: encrypted_group_info.into(),
        })
    }
}
