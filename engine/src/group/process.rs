//! Processing another member's commit (RFC 9420 §12.4.2).

use super::proposals::inline;
use super::{decode_message, Group, GroupError, NextEpoch};
use crate::codec::{self, FramedContentBody, GroupContext, MlsMessageBody, Sender, WireFormat};
use crate::crypto::Secret;
use crate::error::Result;
use crate::framing::verify_confirmation_tag;
use crate::kem::process_update_path;
use crate::schedule::{self, EpochSecrets};
use crate::tree::LeafIndex;

/// The result of [`Group::process`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProcessOutcome {
    /// The commit was applied; the group is in the new epoch.
    Committed {
        /// The new epoch.
        epoch: u64,
        /// The committer.
        committer: LeafIndex,
    },
    /// The commit removed this member: the state is frozen at the last epoch.
    Removed,
}

impl Group {
    /// Process an MLSMessage carrying another member's commit as a PublicMessage: verify
    /// it, apply its proposals and path, run the key schedule and check the confirmation tag
    /// (RFC 9420 §12.4.2). On any error the state is unchanged.
    pub fn process(&mut self, bytes: &[u8]) -> Result<ProcessOutcome> {
        if self.removed {
            return Err(GroupError::NotAMember.into());
        }
        let message = decode_message(bytes)?;
        let MlsMessageBody::PublicMessage(public) = message.body else {
            return Err(GroupError::UnexpectedMessage("a commit must be a PublicMessage").into());
        };
        let tree = &self.tree;
        let auth = self
            .framing
            .unprotect_public(public, |sender| match sender {
                Sender::Member { leaf_index } => tree
                    .leaf(LeafIndex(*leaf_index))
                    .map(|l| l.signature_key.as_slice().to_vec()),
                _ => None,
            })?;
        let Sender::Member { leaf_index } = auth.content.sender else {
            return Err(GroupError::UnexpectedMessage("commit from a non-member").into());
        };
        let committer = LeafIndex(leaf_index);
        if committer == self.own_leaf() {
            return Err(GroupError::OwnCommit.into());
        }
        let FramedContentBody::Commit(commit) = &auth.content.content else {
            return Err(GroupError::UnexpectedMessage("not a commit").into());
        };
        let tag = auth
            .auth
            .confirmation_tag
            .as_ref()
            .map(|t| t.as_slice().to_vec())
            .unwrap_or_default();

        let proposals = inline(&commit.proposals)?;
        let me = self.own_leaf().0;
        if proposals
            .iter()
            .any(|p| matches!(p, codec::Proposal::Remove(r) if r.removed == me))
        {
            // The commit is authenticated (signature, membership tag); a removed member
            // cannot derive the new epoch, so it stops here with its state unchanged.
            self.removed = true;
            return Ok(ProcessOutcome::Removed);
        }

        let next = self.transact(|g| {
            let applied = g.apply_proposals(committer, &proposals)?;
            if applied.path_required && commit.path.is_none() {
                return Err(GroupError::PathRequired.into());
            }
            let new_leaves: Vec<LeafIndex> = applied.added.iter().map(|&(l, _)| l).collect();
            let provider = g.provider;
            let nh = provider.hash_len();
            let mut provisional = GroupContext {
                epoch: g.context.epoch + 1,
                ..g.context.clone()
            };
            let (private, commit_secret) = match &commit.path {
                Some(path) => {
                    let processed = process_update_path(
                        &provider,
                        &mut g.tree,
                        &g.private,
                        committer,
                        path,
                        &new_leaves,
                        &provisional,
                    )?;
                    drop(processed.undo);
                    // §7.3: the committer's new leaf and path keys must be new to the tree.
                    let leaf = &path.leaf_node;
                    if g.tree.encryption_key_count(leaf.encryption_key.as_slice()) > 1
                        || path
                            .nodes
                            .iter()
                            .any(|n| g.tree.encryption_key_count(n.encryption_key.as_slice()) > 1)
                    {
                        return Err(GroupError::DuplicateKey {
                            what: "encryption key",
                            leaf: committer.0,
                        }
                        .into());
                    }
                    if g.tree.signature_key_count(leaf.signature_key.as_slice()) > 1 {
                        return Err(GroupError::DuplicateKey {
                            what: "signature key",
                            leaf: committer.0,
                        }
                        .into());
                    }
                    provisional.tree_hash = processed.tree_hash.into();
                    let mut private = processed.private;
                    private.prune(&g.tree);
                    (private, processed.commit_secret)
                }
                None => {
                    provisional.tree_hash = g.tree.tree_hash(&provider)?.into();
                    let mut private = g.private.clone();
                    private.prune(&g.tree);
                    (private, Secret::new(vec![0; nh]))
                }
            };
            let confirmed = schedule::confirmed_transcript_hash(
                &provider,
                &g.interim_transcript_hash,
                WireFormat::PublicMessage,
                &auth.content,
                auth.auth.signature.as_slice(),
            )?;
            let mut context = provisional;
            context.confirmed_transcript_hash = confirmed.clone().into();
            let secrets = EpochSecrets::derive(
                &provider,
                g.secrets.init_secret.as_bytes(),
                commit_secret.as_bytes(),
                &vec![0u8; nh],
                &codec::encode(&context)?,
            )?;
            verify_confirmation_tag(&provider, &secrets.confirmation_key, &confirmed, &tag)?;
            let interim = schedule::interim_transcript_hash(&provider, &confirmed, &tag)?;
            Ok(NextEpoch {
                context,
                private,
                secrets,
                interim_transcript_hash: interim,
            })
        })?;
        self.advance(next);
        Ok(ProcessOutcome::Committed {
            epoch: self.context.epoch,
            committer,
        })
    }
}
