//! UpdatePath generation and processing (RFC 9420 §7.4–§7.6, §7.9, §12.4.2).

use super::private::{next_path_secret, node_key_pairs, node_private_keys_for};
use super::TreeKemPrivate;
use crate::error::{ApiMisuse, PeerMisbehaved};
use crate::batch::{self, Executor};
use crate::codec::{
    self, GroupContext, HpkeCiphertext, HpkePublicKey, LeafNode, LeafNodeSourceData, LeafNodeTbs,
    ParentHashInput, ParentNode, UpdatePath, UpdatePathNode, VLBytes,
};
use crate::crypto::hpke_batch::{SEAL_BLOCK_MAX, SEAL_CUTOFF};
use crate::crypto::{OpenContext, Provider, SealContext, SealRequest, Secret, SignaturePrivateKey};
use crate::error::{Error, Result};
use crate::tree::{math, LeafIndex, NodeIndex, RatchetTree, StoredNode};

/// Label of the engine's own (non-RFC) derivation of deterministic HPKE ephemeral keys.
const EPHEMERAL_LABEL: &[u8] = b"canopy treekem ephemeral";

/// One node of the sender's filtered direct path (RFC 9420 §4.1.2) with its copath child and
/// the resolution of that child minus the leaves added by the same commit (§7.6): the nodes
/// the path secret is encrypted to, in order.
#[derive(Debug, Clone)]
struct PathStep {
    node: NodeIndex,
    copath: NodeIndex,
    resolution: Vec<NodeIndex>,
}

/// The filtered direct path of `sender`, with the resolutions of the copath children minus
/// `new_leaves`. The filtering itself counts new leaves (they are in the tree, §4.1.2); only
/// the encryption excludes them (§7.6), so a step may have an empty resolution.
fn path_steps(tree: &RatchetTree, sender: LeafIndex, new_leaves: &[LeafIndex]) -> Vec<PathStep> {
    tree.filtered_direct_path(sender)
        .into_iter()
        .map(|(node, copath)| {
            let mut resolution = tree.resolution(copath);
            if !new_leaves.is_empty() {
                resolution.retain(|r| !r.leaf().is_some_and(|l| new_leaves.contains(&l)));
            }
            PathStep {
                node,
                copath,
                resolution,
            }
        })
        .collect()
}

/// The parent nodes of the filtered direct path after the merge (RFC 9420 §7.5): the given
/// public keys, no unmerged leaves, and parent hashes computed from the root down (§7.9).
/// Returns the nodes bottom-up and the parent hash the sender's leaf must carry.
///
/// The first non-blank ancestor of `steps[i - 1]` after the merge is `steps[i]` (the nodes in
/// between are blanked), and the sibling on the other side is `steps[i].copath`, whose subtree
/// the merge does not touch and whose "original" tree hash equals its tree hash because the
/// new parent has no unmerged leaves. So this is computed on the unmerged tree.
fn path_parent_nodes(
    provider: &Provider,
    tree: &mut RatchetTree,
    steps: &[PathStep],
    public_keys: impl DoubleEndedIterator<Item = Vec<u8>> + ExactSizeIterator,
) -> Result<(Vec<ParentNode>, Vec<u8>)> {
    let mut parents = Vec::with_capacity(steps.len());
    // The root's parent hash, and that of the top node of a filtered direct path that stops
    // below the root, is empty (§7.9).
    let mut parent_hash = Vec::new();
    for (step, key) in steps.iter().zip(public_keys).rev() {
        let original_sibling_tree_hash = tree.node_tree_hash(step.copath, provider)?;
        let input = ParentHashInput {
            encryption_key: &key,
            parent_hash: &parent_hash,
            original_sibling_tree_hash: &original_sibling_tree_hash,
        };
        let hash = provider.hash(&codec::encode(&input)?);
        parents.push(ParentNode {
            encryption_key: HpkePublicKey(key.into()),
            parent_hash: core::mem::replace(&mut parent_hash, hash).into(),
            unmerged_leaves: Vec::new(),
        });
    }
    parents.reverse();
    Ok((parents, parent_hash))
}

// -------------------------------------------------------------------------------------------
// The public merge, shared by committer and receiver

/// The public changes of an UpdatePath, checked and computed but not yet applied to the tree
/// (RFC 9420 §7.5, "merges UpdatePath into the tree").
#[derive(Debug, Clone)]
pub struct StagedPath {
    sender: LeafIndex,
    n_leaves: u32,
    leaf_node: LeafNode,
    steps: Vec<PathStep>,
    parents: Vec<ParentNode>,
    /// The new leaf's signature check, when staged with [`StagedPath::stage_deferred`] and
    /// not yet taken ([`StagedPath::take_leaf_signature`]).
    leaf_signature: Option<PendingLeafSignature>,
}

/// The check of an UpdatePath leaf's signature over its LeafNodeTBS, with everything it reads
/// copied out, to run beside other work ([`StagedPath::stage_deferred`]).
#[derive(Debug, Clone)]
pub struct PendingLeafSignature {
    tbs: Vec<u8>,
    key: Vec<u8>,
    signature: Vec<u8>,
}

impl PendingLeafSignature {
    /// `VerifyWithLabel(signature_key, "LeafNodeTBS", LeafNodeTBS, signature)`; a failure is
    /// [`PeerMisbehaved::PathLeafSignature`].
    pub fn check(&self, provider: &Provider) -> Result<()> {
        provider
            .verify_with_label(&self.key, b"LeafNodeTBS", &self.tbs, &self.signature)
            .map_err(|_| PeerMisbehaved::PathLeafSignature)?;
        Ok(())
    }
}

impl StagedPath {
    /// The sender's leaf index.
    pub fn sender(&self) -> LeafIndex {
        self.sender
    }

    /// The sender's new leaf node.
    pub fn leaf_node(&self) -> &LeafNode {
        &self.leaf_node
    }

    /// The sender's filtered direct path, bottom-up.
    pub fn filtered_direct_path(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.steps.iter().map(|s| s.node)
    }

    /// Merge into `tree` (RFC 9420 §7.5): blank the sender's direct path, set the filtered
    /// direct path's new parent nodes (public key, parent hash, no unmerged leaves) and the
    /// sender's new leaf. `tree` must be the tree the path was staged against. On error the
    /// tree is as it was. The merge writes O(log n) nodes, and under an open tree journal
    /// ([`RatchetTree::begin_journal`]) a rollback undoes it.
    pub fn merge(&self, tree: &mut RatchetTree) -> Result<()> {
        if tree.n_leaves() != self.n_leaves {
            return Err(ApiMisuse::InvalidArgument("UpdatePath merged into a tree of another width").into());
        }
        let leaf_x = self.sender.node();
        let mut parents = self.steps.iter().zip(&self.parents).peekable();
        tree.all_or_nothing(|tree| {
            for x in math::direct_path(leaf_x, self.n_leaves) {
                let node = match parents.peek() {
                    Some((step, _)) if step.node == x => parents
                        .next()
                        .map(|(_, p)| StoredNode::encode_parent(p))
                        .transpose()?,
                    _ => None,
                };
                tree.set_stored(x, node)?;
            }
            tree.set_stored(leaf_x, Some(StoredNode::encode_leaf(&self.leaf_node)?))?;
            Ok(())
        })
    }

    /// Check an UpdatePath from `sender` against `tree` and compute its merge, without
    /// changing the tree's public state (RFC 9420 §7.5, §7.6, §12.4.2):
    ///
    /// - the sender's leaf is not blank;
    /// - the path has one node per filtered-direct-path node, each with one ciphertext per
    ///   member of the copath child's resolution minus `new_leaves`;
    /// - the new leaf's source is `commit` and its signature over LeafNodeTBS (with
    ///   `group_id` and `sender`) verifies;
    /// - its `parent_hash` equals the parent hash recomputed over the merged path.
    ///
    /// The rest of §7.3 leaf validation (capabilities, lifetime, key uniqueness) is the
    /// caller's.
    pub fn stage(
        provider: &Provider,
        tree: &mut RatchetTree,
        sender: LeafIndex,
        path: &UpdatePath,
        new_leaves: &[LeafIndex],
        group_id: &[u8],
    ) -> Result<Self> {
        Self::stage_with(provider, tree, sender, path, new_leaves, group_id, false)
    }

    /// [`StagedPath::stage`] but for the leaf's signature check, which is left in the result
    /// for the caller to take ([`StagedPath::take_leaf_signature`]) and run beside its next
    /// work. Every other check runs, in the same order; a check after the signature that
    /// fails here is reported only once the signature is known good (a bad signature is
    /// reported instead), so the errors are those of [`StagedPath::stage`].
    pub fn stage_deferred(
        provider: &Provider,
        tree: &mut RatchetTree,
        sender: LeafIndex,
        path: &UpdatePath,
        new_leaves: &[LeafIndex],
        group_id: &[u8],
    ) -> Result<Self> {
        Self::stage_with(provider, tree, sender, path, new_leaves, group_id, true)
    }

    /// The leaf signature check that [`StagedPath::stage_deferred`] left, once.
    pub fn take_leaf_signature(&mut self) -> Option<PendingLeafSignature> {
        self.leaf_signature.take()
    }

    /// The leaf signature check still pending, if any.
    pub fn leaf_signature(&self) -> Option<&PendingLeafSignature> {
        self.leaf_signature.as_ref()
    }

    fn stage_with(
        provider: &Provider,
        tree: &mut RatchetTree,
        sender: LeafIndex,
        path: &UpdatePath,
        new_leaves: &[LeafIndex],
        group_id: &[u8],
        defer: bool,
    ) -> Result<Self> {
        if tree.leaf(sender).is_none() {
            return Err(PeerMisbehaved::SenderLeafBlank { leaf: sender.0 }.into());
        }
        let steps = path_steps(tree, sender, new_leaves);
        if path.nodes.len() != steps.len() {
            return Err(PeerMisbehaved::PathLength {
                expected: steps.len(),
                got: path.nodes.len(),
            }.into());
        }
        for (step, node) in steps.iter().zip(&path.nodes) {
            if node.encrypted_path_secret.len() != step.resolution.len() {
                return Err(PeerMisbehaved::PathCiphertextCount {
                    node: step.node,
                    expected: step.resolution.len(),
                    got: node.encrypted_path_secret.len(),
                }.into());
            }
        }
        // Every new key must be one a member can seal to (a small-order point would make
        // every later commit whose path covers it fail).
        for key in path
            .nodes
            .iter()
            .map(|n| &n.encryption_key)
            .chain([&path.leaf_node.encryption_key])
        {
            provider
                .check_hpke_public_key(key.as_slice())
                ?;
        }
        let leaf = &path.leaf_node;
        let LeafNodeSourceData::Commit {
            parent_hash: claimed,
        } = &leaf.leaf_node_source
        else {
            return Err(PeerMisbehaved::PathLeafSource.into());
        };
        let signature = PendingLeafSignature {
            tbs: codec::encode(&LeafNodeTbs::in_group(leaf, group_id, sender.0))?,
            key: leaf.signature_key.as_slice().to_vec(),
            signature: leaf.signature.as_slice().to_vec(),
        };
        if !defer {
            signature.check(provider)?;
        }
        let keys = path
            .nodes
            .iter()
            .map(|n| n.encryption_key.as_slice().to_vec());
        let parents = path_parent_nodes(provider, tree, &steps, keys).and_then(
            |(parents, leaf_parent_hash)| {
                if claimed.as_slice() == leaf_parent_hash.as_slice() {
                    Ok(parents)
                } else {
                    Err(PeerMisbehaved::ParentHashMismatch.into())
                }
            },
        );
        let parents = match parents {
            Ok(p) => p,
            Err(e) => {
                if defer {
                    signature.check(provider)?;
                }
                return Err(e);
            }
        };
        Ok(StagedPath {
            sender,
            n_leaves: tree.n_leaves(),
            leaf_node: leaf.clone(),
            steps,
            parents,
            leaf_signature: defer.then_some(signature),
        })
    }

    /// Decrypt the path secret meant for `private`'s member and derive the rest of the chain
    /// (RFC 9420 §7.5, "decrypts the path secrets"): find the filtered-direct-path node whose
    /// copath child holds the member, a node of that child's resolution the member has a
    /// private key for, decrypt with `group_context` (the serialized provisional
    /// GroupContext), derive the secrets of the nodes above, and check every derived public
    /// key against the path. Returns the decrypted path secret and its node, the member's new
    /// private state and the `commit_secret`.
    pub fn decrypt(
        &self,
        provider: &Provider,
        path: &UpdatePath,
        private: &TreeKemPrivate,
        group_context: &[u8],
    ) -> Result<DecryptedPath> {
        let me = private.leaf().node();
        if private.leaf() == self.sender {
            return Err(PeerMisbehaved::ReceiverIsSender.into());
        }
        let sender_x = self.sender.node();
        let copath = math::copath(sender_x, self.n_leaves)
            .into_iter()
            .find(|&c| math::in_subtree(me, c))
            .ok_or(Error::ApiMisuse(ApiMisuse::InvalidArgument("receiver leaf outside the tree")))?;
        let i = self
            .steps
            .iter()
            .position(|s| s.copath == copath)
            .ok_or(PeerMisbehaved::NoPrivateKey { copath })?;
        let step = &self.steps[i];
        let (j, key) = step
            .resolution
            .iter()
            .enumerate()
            .find_map(|(j, &r)| private.private_key(r).map(|k| (j, k)))
            .ok_or(PeerMisbehaved::NoPrivateKey { copath })?;
        let ciphertext = path
            .nodes
            .get(i)
            .and_then(|n| n.encrypted_path_secret.get(j))
            .ok_or(Error::ApiMisuse(ApiMisuse::InvalidArgument("UpdatePath differs from the staged one")))?;
        // `OpenContext` decapsulates with one parse of the private key (a fixed-base
        // multiplication) where the provider's one-shot path parses it twice, once for the DH
        // and once for the recipient's public key: the same bytes and errors.
        let opened = OpenContext::new(provider, b"UpdatePathNode", group_context).and_then(|c| {
            c.open(
                key,
                ciphertext.kem_output.as_slice(),
                ciphertext.ciphertext.as_slice(),
            )
        });
        let path_secret = Secret::new(opened.map_err(|source| {
            PeerMisbehaved::PathSecretDecryption {
                node: step.node,
                source,
            }
        })?);

        // The keys of the sender's direct path are replaced or blanked by the merge.
        let mut new_private = private.clone();
        for x in math::direct_path(sender_x, self.n_leaves) {
            new_private.remove_path_key(x);
        }
        // The secrets of the nodes from the common ancestor up, then their key pairs as one
        // batch, checked against the path bottom-up (the lowest mismatch is reported).
        let above: Vec<_> = self.steps.iter().zip(&path.nodes).skip(i).collect();
        let mut secrets = Vec::with_capacity(above.len());
        let mut current = path_secret.clone();
        for k in 0..above.len() {
            if k > 0 {
                current = next_path_secret(provider, &current)?;
            }
            secrets.push(current.clone());
        }
        let publics: Vec<&[u8]> = above
            .iter()
            .map(|(_, node)| node.encryption_key.as_slice())
            .collect();
        let keys = node_private_keys_for(provider, &secrets, &publics)?;
        for ((step, _), sk) in above.into_iter().zip(keys) {
            let sk = sk.ok_or(PeerMisbehaved::PathPublicKeyMismatch { node: step.node })?;
            new_private.insert_path_key(step.node, sk);
        }
        Ok(DecryptedPath {
            commit_secret: next_path_secret(provider, &current)?,
            path_secret,
            path_secret_node: step.node,
            private: new_private,
        })
    }
}

/// The receiver's result of [`StagedPath::decrypt`].
#[derive(Debug)]
pub struct DecryptedPath {
    /// `commit_secret = DeriveSecret(path_secret[last], "path")` (RFC 9420 §8).
    pub commit_secret: Secret,
    /// The path secret decrypted from the UpdatePath (that of the lowest common ancestor of
    /// sender and receiver).
    pub path_secret: Secret,
    /// The node `path_secret` belongs to.
    pub path_secret_node: NodeIndex,
    /// The receiver's private state after the merge.
    pub private: TreeKemPrivate,
}

/// The receiver's result of [`process_update_path`].
#[derive(Debug)]
pub struct ProcessedPath {
    /// The `commit_secret` (RFC 9420 §8).
    pub commit_secret: Secret,
    /// The decrypted path secret, at [`ProcessedPath::path_secret_node`].
    pub path_secret: Secret,
    /// The lowest common ancestor of sender and receiver in the sender's filtered direct path.
    pub path_secret_node: NodeIndex,
    /// The receiver's private state for the merged tree.
    pub private: TreeKemPrivate,
    /// The tree hash of the merged tree (the provisional GroupContext's `tree_hash`).
    pub tree_hash: Vec<u8>,
}

/// Process an UpdatePath from `sender` as the member holding `private` (RFC 9420 §7.5,
/// §12.4.2): check and stage it ([`StagedPath::stage`]), merge it into `tree`, compute the
/// tree hash, and decrypt with `provisional_context` whose `tree_hash` is replaced by it
/// ([`StagedPath::decrypt`]). On any error `tree` is left as it was.
pub fn process_update_path(
    provider: &Provider,
    tree: &mut RatchetTree,
    private: &TreeKemPrivate,
    sender: LeafIndex,
    path: &UpdatePath,
    new_leaves: &[LeafIndex],
    provisional_context: &GroupContext,
) -> Result<ProcessedPath> {
    let group_id = provisional_context.group_id.as_slice();
    let staged = StagedPath::stage(provider, tree, sender, path, new_leaves, group_id)?;
    tree.all_or_nothing(|tree| {
        staged.merge(tree)?;
        let tree_hash = tree.tree_hash(provider)?;
        let context = with_tree_hash(provisional_context, &tree_hash)?;
        let d = staged.decrypt(provider, path, private, &context)?;
        Ok(ProcessedPath {
            commit_secret: d.commit_secret,
            path_secret: d.path_secret,
            path_secret_node: d.path_secret_node,
            private: d.private,
            tree_hash,
        })
    })
}

/// `context` with `tree_hash` replaced, serialized.
fn with_tree_hash(context: &GroupContext, tree_hash: &[u8]) -> Result<Vec<u8>> {
    let mut gc = context.clone();
    gc.tree_hash = VLBytes::from(tree_hash.to_vec());
    Ok(codec::encode(&gc)?)
}

// -------------------------------------------------------------------------------------------
// Generation (the committer)

/// Source of the HPKE ephemeral keys used to seal path secrets.
#[derive(Debug, Clone)]
pub enum Ephemeral {
    /// Fresh randomness per seal (production).
    Random,
    /// `ikm_e = ExpandWithLabel(seed, "canopy treekem ephemeral", node_position ||
    /// recipient_position, Nsk)` (positions as big-endian `uint32`): reproducible output for
    /// tests and benchmarks, independent of the order the seals run in. Never use a seed twice
    /// outside tests.
    Seeded(Secret),
}

impl Ephemeral {
    /// The `ikm_e` for the seal at (`node_position`, `recipient_position`), `None` for fresh
    /// randomness.
    pub fn ikm(
        &self,
        provider: &Provider,
        node_position: u32,
        recipient_position: u32,
    ) -> Result<Option<Secret>> {
        match self {
            Ephemeral::Random => Ok(None),
            Ephemeral::Seeded(seed) => {
                let mut context = [0u8; 8];
                context[..4].copy_from_slice(&node_position.to_be_bytes());
                context[4..].copy_from_slice(&recipient_position.to_be_bytes());
                // Nsk is 32 for X25519, well inside u16.
                let len = provider.hpke_private_key_len() as u16;
                Ok(Some(provider.expand_with_label(
                    seed.as_bytes(),
                    EPHEMERAL_LABEL,
                    &context,
                    len,
                )?))
            }
        }
    }
}

/// The committer's inputs to [`plan_update_path`].
#[derive(Debug, Clone, Copy)]
pub struct PathParams<'a> {
    /// The committer's leaf.
    pub sender: LeafIndex,
    /// Fresh randomness of `KDF.Nh` bytes: `DeriveSecret(leaf_secret, "node")` seeds the new
    /// leaf key pair and `path_secret[0] = DeriveSecret(leaf_secret, "path")` (RFC 9420 §7.4).
    pub leaf_secret: &'a Secret,
    /// Signs the new leaf node; must match its `signature_key`.
    pub signer: &'a SignaturePrivateKey,
    /// The new leaf's credential, capabilities, extensions and signature key; `None` keeps
    /// those of the current leaf. Its encryption key, source and signature are replaced.
    pub leaf_template: Option<&'a LeafNode>,
    /// Leaves added by the same commit: excluded from every resolution (§7.6).
    pub new_leaves: &'a [LeafIndex],
}

/// A planned UpdatePath (RFC 9420 §7.4, §7.5): every derivation done, the tree not yet
/// changed and nothing sealed. Merge it ([`PathPlan::merge`]), compute the provisional
/// GroupContext with the merged tree's hash, then seal ([`PathPlan::seal`]).
#[derive(Debug)]
pub struct PathPlan {
    staged: StagedPath,
    path_secrets: Vec<Secret>,
    /// Public keys of each step's resolution, read before the merge (the copath subtrees are
    /// not changed by it).
    recipient_keys: Vec<Vec<Vec<u8>>>,
    private: TreeKemPrivate,
    commit_secret: Secret,
}

/// One HPKE seal of an UpdatePath: the path secret of filtered-direct-path node
/// `node_position` to resolution member `recipient_position`. Jobs are independent and
/// `Send + Sync`, so they can run in parallel.
#[derive(Debug, Clone, Copy)]
pub struct SealJob<'a> {
    /// Index in the filtered direct path.
    pub node_position: u32,
    /// Index in the copath child's resolution (new leaves excluded).
    pub recipient_position: u32,
    recipient_key: &'a [u8],
    path_secret: &'a Secret,
}

impl SealJob<'_> {
    /// The recipient's HPKE public key.
    pub fn recipient_key(&self) -> &[u8] {
        self.recipient_key
    }

    /// The path secret to seal.
    pub fn path_secret(&self) -> &Secret {
        self.path_secret
    }

    /// `EncryptWithLabel(pk, "UpdatePathNode", group_context, path_secret)` (RFC 9420 §7.6),
    /// where `context` is the [`SealContext`] of that label and the serialized provisional
    /// GroupContext, with the ephemeral key `ephemeral` chooses for this job's position.
    pub fn seal(
        &self,
        provider: &Provider,
        context: &SealContext,
        ephemeral: &Ephemeral,
    ) -> Result<HpkeCiphertext> {
        let ikm = ephemeral.ikm(provider, self.node_position, self.recipient_position)?;
        let (kem_output, ciphertext) = context.seal(
            self.recipient_key,
            self.path_secret.as_bytes(),
            ikm.as_ref().map(Secret::as_bytes),
        )?;
        Ok(HpkeCiphertext {
            kem_output: kem_output.into(),
            ciphertext: ciphertext.into(),
        })
    }
}

/// [`SealJob::seal`] of every job of `block`, as one [`SealContext::seal_batch`]: the
/// results in job order, or the error of the first job that fails.
fn seal_block(
    provider: &Provider,
    context: &SealContext,
    ephemeral: &Ephemeral,
    block: &[SealJob<'_>],
) -> Result<Vec<HpkeCiphertext>> {
    let ikms = block
        .iter()
        .map(|job| ephemeral.ikm(provider, job.node_position, job.recipient_position))
        .collect::<Result<Vec<_>>>()?;
    let requests: Vec<SealRequest<'_>> = block
        .iter()
        .zip(&ikms)
        .map(|(job, ikm)| SealRequest {
            pk_r: job.recipient_key,
            plaintext: job.path_secret.as_bytes(),
            ikm_e: ikm.as_ref().map(Secret::as_bytes),
        })
        .collect();
    context
        .seal_batch(&requests)
        .into_iter()
        .map(|sealed| {
            let (kem_output, ciphertext) = sealed?;
            Ok(HpkeCiphertext {
                kem_output: kem_output.into(),
                ciphertext: ciphertext.into(),
            })
        })
        .collect()
}

/// Plan an UpdatePath for the committer (RFC 9420 §7.4, §7.5): derive the path secrets over
/// the filtered direct path, the node key pairs, the parent nodes with their parent hashes,
/// and the new leaf (source `commit`, signed over LeafNodeTBS with `group_id` and the sender's
/// index, §7.2). Reads `tree` only (and fills its hash cache).
pub fn plan_update_path(
    provider: &Provider,
    tree: &mut RatchetTree,
    params: &PathParams<'_>,
    group_id: &[u8],
) -> Result<PathPlan> {
    let sender = params.sender;
    let current = tree
        .leaf(sender)
        .ok_or(PeerMisbehaved::SenderLeafBlank { leaf: sender.0 })?;
    let mut leaf = match params.leaf_template {
        Some(t) => t.clone(),
        None => current.decode(),
    };
    if params.signer.public_key().as_slice() != leaf.signature_key.as_slice() {
        return Err(ApiMisuse::SignerMismatch.into());
    }
    let steps = path_steps(tree, sender, params.new_leaves);

    // The chain is serial; each key pair depends on its path secret only, so the leaf's and
    // every node's key pair are derived as one batch.
    let mut path_secrets = Vec::with_capacity(steps.len());
    let mut current_secret = params.leaf_secret.clone();
    for _ in &steps {
        current_secret = next_path_secret(provider, &current_secret)?;
        path_secrets.push(current_secret.clone());
    }
    let commit_secret = next_path_secret(provider, &current_secret)?;
    let mut key_pairs = node_key_pairs(
        provider,
        core::iter::once(params.leaf_secret).chain(&path_secrets),
    )?
    .into_iter();
    let (leaf_key, leaf_public) = key_pairs
        .next()
        .ok_or(Error::Internal("no leaf key pair derived"))?;
    let mut private = TreeKemPrivate::new(sender, leaf_key);
    let mut public_keys = Vec::with_capacity(steps.len());
    for (step, (sk, pk)) in steps.iter().zip(key_pairs) {
        private.insert_path_key(step.node, sk);
        public_keys.push(pk);
    }

    let (parents, leaf_parent_hash) =
        path_parent_nodes(provider, tree, &steps, public_keys.into_iter())?;
    leaf.encryption_key = HpkePublicKey(leaf_public.into());
    leaf.leaf_node_source = LeafNodeSourceData::Commit {
        parent_hash: leaf_parent_hash.into(),
    };
    let tbs = codec::encode(&LeafNodeTbs::in_group(&leaf, group_id, sender.0))?;
    leaf.signature = provider
        .sign_with_label(params.signer, b"LeafNodeTBS", &tbs)?
        .into();

    let recipient_keys = steps
        .iter()
        .map(|s| {
            s.resolution
                .iter()
                .map(|&r| {
                    tree.encryption_key(r)
                        .map(<[u8]>::to_vec)
                        // Invariant: a resolution holds non-blank nodes only.
                        .ok_or(Error::Internal("blank node in a resolution"))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;

    Ok(PathPlan {
        staged: StagedPath {
            sender,
            n_leaves: tree.n_leaves(),
            leaf_node: leaf,
            steps,
            parents,
            leaf_signature: None,
        },
        path_secrets,
        recipient_keys,
        private,
        commit_secret,
    })
}

impl PathPlan {
    /// The public merge this plan makes.
    pub fn staged(&self) -> &StagedPath {
        &self.staged
    }

    /// Merge the plan into `tree` ([`StagedPath::merge`]).
    pub fn merge(&self, tree: &mut RatchetTree) -> Result<()> {
        self.staged.merge(tree)
    }

    /// The committer's private state after the commit: the new leaf key and the key of every
    /// filtered-direct-path node.
    pub fn private(&self) -> &TreeKemPrivate {
        &self.private
    }

    /// The path secret of filtered-direct-path node `node`, if it is on the path (what a
    /// new member whose lowest common ancestor with the committer is `node` receives in its
    /// GroupSecrets, RFC 9420 §12.4.3.1).
    pub fn path_secret_at(&self, node: NodeIndex) -> Option<&Secret> {
        let i = self.staged.steps.iter().position(|s| s.node == node)?;
        self.path_secrets.get(i)
    }

    /// `commit_secret = DeriveSecret(path_secret[last], "path")` (RFC 9420 §8).
    pub fn commit_secret(&self) -> &Secret {
        &self.commit_secret
    }

    /// The seals to perform, in UpdatePath order (node by node, each in resolution order).
    pub fn seal_jobs(&self) -> Vec<SealJob<'_>> {
        let mut jobs = Vec::with_capacity(self.recipient_keys.iter().map(Vec::len).sum());
        for (i, (keys, secret)) in self
            .recipient_keys
            .iter()
            .zip(&self.path_secrets)
            .enumerate()
        {
            for (j, key) in keys.iter().enumerate() {
                jobs.push(SealJob {
                    // Positions fit in u32: a tree has at most 2^31 nodes.
                    node_position: i as u32,
                    recipient_position: j as u32,
                    recipient_key: key,
                    path_secret: secret,
                });
            }
        }
        jobs
    }

    /// Build the UpdatePath from the ciphertexts of [`PathPlan::seal_jobs`], in job order.
    pub fn assemble(&self, ciphertexts: Vec<HpkeCiphertext>) -> Result<UpdatePath> {
        let expected: usize = self.recipient_keys.iter().map(Vec::len).sum();
        if ciphertexts.len() != expected {
            return Err(ApiMisuse::InvalidArgument("ciphertext count differs from the seal jobs").into());
        }
        let mut ciphertexts = ciphertexts.into_iter();
        let nodes = self
            .staged
            .parents
            .iter()
            .zip(&self.recipient_keys)
            .map(|(parent, keys)| UpdatePathNode {
                encryption_key: parent.encryption_key.clone(),
                encrypted_path_secret: ciphertexts.by_ref().take(keys.len()).collect(),
            })
            .collect();
        Ok(UpdatePath {
            leaf_node: self.staged.leaf_node.clone(),
            nodes,
        })
    }

    /// Seal every path secret to its copath resolution as one batch on `executor` and
    /// assemble the UpdatePath (RFC 9420 §7.6). `group_context` is the serialized provisional
    /// GroupContext (its `tree_hash` that of the merged tree); it is hashed into HPKE's key
    /// schedule once for the whole batch ([`SealContext`]). Each seal's ephemeral key comes
    /// from `ephemeral` by position, so the bytes do not depend on the executor. The seals run
    /// in blocks of `SEAL_CUTOFF` to `SEAL_BLOCK_MAX` seals (`batch::lane_block`), each one
    /// [`SealContext::seal_batch`] (its X25519 in SIMD lanes on the provider's backend);
    /// [`SealJob::seal`] is the plain path, one seal at a time, with the same output.
    ///
    /// Errors are the engine's: [`Error::Crypto`] for a seal that fails.
    pub fn seal(
        &self,
        provider: &Provider,
        group_context: &[u8],
        ephemeral: &Ephemeral,
        executor: Executor,
    ) -> Result<UpdatePath> {
        let jobs = self.seal_jobs();
        let context = SealContext::new(provider, b"UpdatePathNode", group_context)?;
        let block = batch::lane_block(jobs.len(), SEAL_CUTOFF, SEAL_BLOCK_MAX);
        let ciphertexts = executor.try_map_blocks(&jobs, block, |_, block| {
            seal_block(provider, &context, ephemeral, block)
        })?;
        self.assemble(ciphertexts)
    }

    /// The committer's private state and `commit_secret`, consuming the plan (and with it the
    /// path secrets, zeroized).
    pub fn into_secrets(self) -> (TreeKemPrivate, Secret) {
        (self.private, self.commit_secret)
    }
}

/// The committer's result of [`generate_update_path`].
#[derive(Debug)]
pub struct GeneratedPath {
    /// The UpdatePath to send.
    pub update_path: UpdatePath,
    /// The committer's private state for the merged tree.
    pub private: TreeKemPrivate,
    /// The `commit_secret` (RFC 9420 §8).
    pub commit_secret: Secret,
    /// The tree hash of the merged tree (the provisional GroupContext's `tree_hash`).
    pub tree_hash: Vec<u8>,
}

/// Plan, merge into `tree` and seal an UpdatePath in one call: [`plan_update_path`] with the
/// group id of `provisional_context`, [`PathPlan::merge`], then [`PathPlan::seal`] (on the
/// default [`Executor`]) under `provisional_context` with its `tree_hash` replaced by the
/// merged tree's. On any error `tree` is left as it was.
pub fn generate_update_path(
    provider: &Provider,
    tree: &mut RatchetTree,
    params: &PathParams<'_>,
    provisional_context: &GroupContext,
    ephemeral: &Ephemeral,
) -> Result<GeneratedPath> {
    let group_id = provisional_context.group_id.as_slice();
    let plan = plan_update_path(provider, tree, params, group_id)?;
    let (update_path, tree_hash) = tree.all_or_nothing(|tree| {
        plan.merge(tree)?;
        let tree_hash = tree.tree_hash(provider)?;
        let context = with_tree_hash(provisional_context, &tree_hash)?;
        let path = plan.seal(provider, &context, ephemeral, Executor::default())?;
        Ok::<_, Error>((path, tree_hash))
    })?;
    let (private, commit_secret) = plan.into_secrets();
    Ok(GeneratedPath {
        update_path,
        private,
        commit_secret,
        tree_hash,
    })
}

#[cfg(test)]
mod tests;
