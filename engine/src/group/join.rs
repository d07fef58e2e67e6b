//! Joining from a Welcome (RFC 9420 §12.4.3.1), with the tree from the `ratchet_tree`
//! extension or supplied out of band.

use super::credentials::CredentialChange;
use super::proposals::{check_leaf_supports, required_capabilities};
use super::{decode_message, Group, GroupConfig, NextEpoch, Rng};
use crate::codec::{
    self, ExtensionType, GroupInfo, KeyPackage, MlsMessageBody, PreSharedKeyId, PskSource,
};
use crate::crypto::{Provider, Secret};
use crate::error::Result;
use crate::error::{ApiMisuse, PeerMisbehaved, TreeError};
use crate::kem::TreeKemPrivate;
use crate::key_package::KeyPackageSecrets;
use crate::tree::{math, LeafIndex, RatchetTree};
use crate::welcome;

/// How to join from a Welcome ([`Group::join`]): where the tree comes from, the external
/// PSKs on offer, the group a ReInit or branch resumes, and the new member's settings.
///
/// A [`GroupConfig`] converts into the options of the common case (tree in the Welcome, no
/// PSKs, nothing resumed):
///
/// ```
/// # use canopy_engine::{GroupConfig, JoinOptions, Secret};
/// # let tree_bytes: Vec<u8> = Vec::new();
/// let options = JoinOptions::from(GroupConfig::default())
///     .ratchet_tree(&tree_bytes[..])
///     .external_psk(b"psk id".to_vec(), Secret::new(vec![0x42; 32]));
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct JoinOptions<'a> {
    /// The serialized tree (the `ratchet_tree` extension's body) when the Welcome does not
    /// carry it.
    pub ratchet_tree: Option<&'a [u8]>,
    /// External PSKs `(psk_id, psk)` for the PSKs the Welcome's GroupSecrets name (RFC 9420
    /// §8.4); they stay in the new member's store ([`Group::add_external_psk`]) for later
    /// PreSharedKey proposals.
    pub external_psks: Vec<(Vec<u8>, Secret)>,
    /// The group that this one resumes (a ReInit successor or a branched subgroup).
    pub resumed: Option<&'a Group>,
    /// The new member's settings.
    pub config: GroupConfig,
}

impl<'a> JoinOptions<'a> {
    /// The options of the common case, with the default [`GroupConfig`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The serialized tree, for a Welcome without the `ratchet_tree` extension (`None`: the
    /// Welcome carries it).
    pub fn ratchet_tree(mut self, tree: impl Into<Option<&'a [u8]>>) -> Self {
        self.ratchet_tree = tree.into();
        self
    }

    /// Offer an external PSK `(psk_id, psk)`.
    pub fn external_psk(mut self, psk_id: impl Into<Vec<u8>>, psk: Secret) -> Self {
        self.external_psks.push((psk_id.into(), psk));
        self
    }

    /// Join a group that resumes `old` (a ReInit successor or a branched subgroup): the
    /// Welcome's `reinit` or `branch` resumption PSK is taken from `old`, and the new group
    /// is checked against the old one (RFC 9420 §11.2, §11.3): for a ReInit, its group id,
    /// version, cipher suite and extensions are the ReInit's; for a branch, its version and
    /// cipher suite are the old group's and every member of the new group has the credential
    /// of a member of the old one; either way the new group is in epoch 1
    /// ([`PeerMisbehaved::ReinitOrBranchEpoch`]).
    pub fn resuming(mut self, old: &'a Group) -> Self {
        self.resumed = Some(old);
        self
    }

    /// The new member's settings.
    pub fn config(mut self, config: GroupConfig) -> Self {
        self.config = config;
        self
    }
}

impl From<GroupConfig> for JoinOptions<'_> {
    fn from(config: GroupConfig) -> Self {
        JoinOptions {
            config,
            ..JoinOptions::default()
        }
    }
}

impl Group {
    /// Join a group from an MLSMessage(Welcome) for `key_package` (whose private keys are
    /// `secrets`), with `options` (a [`GroupConfig`] alone for the common case).
    ///
    /// Validates the whole tree (RFC 9420 §12.4.3.1: unmerged leaves, key uniqueness, every
    /// leaf signature, parent hashes, the tree hash against the GroupInfo), the GroupInfo
    /// signature by its signer's leaf, the confirmation tag, and the private keys derived
    /// from the path secret against the tree; for a resumption
    /// ([`JoinOptions::resuming`]), the new group against the old one.
    pub fn join<'a>(
        provider: Provider,
        welcome_bytes: &[u8],
        key_package: &KeyPackage,
        secrets: &KeyPackageSecrets,
        options: impl Into<JoinOptions<'a>>,
    ) -> Result<Self> {
        let JoinOptions {
            ratchet_tree,
            external_psks,
            resumed,
            config,
        } = options.into();
        Self::join_inner(
            provider,
            welcome_bytes,
            key_package,
            secrets,
            ratchet_tree,
            config,
            &external_psks,
            resumed,
        )
    }

    /// A join with external PSKs, and with resumption PSKs (and the resumption checks) of
    /// `resumed` if given.
    #[allow(clippy::too_many_arguments)]
    fn join_inner(
        provider: Provider,
        welcome_bytes: &[u8],
        key_package: &KeyPackage,
        secrets: &KeyPackageSecrets,
        ratchet_tree: Option<&[u8]>,
        config: GroupConfig,
        external_psks: &[(Vec<u8>, Secret)],
        resumed: Option<&Group>,
    ) -> Result<Self> {
        let message = decode_message(welcome_bytes)?;
        let MlsMessageBody::Welcome(w) = message.body else {
            return Err(ApiMisuse::UnexpectedMessage("not a Welcome").into());
        };

        // The signer's key is looked up in the tree, which may come from the GroupInfo: the
        // closure decodes and stashes it (validation follows once the GroupInfo is known).
        let mut tree_slot: Option<Result<RatchetTree>> = None;
        let joined = welcome::join_with_owned(
            &provider,
            w,
            key_package,
            &secrets.init_key,
            |id: &PreSharedKeyId| match &id.source {
                PskSource::External { psk_id } => external_psks
                    .iter()
                    .find(|(i, _)| i.as_slice() == psk_id.as_slice())
                    .map(|(_, s)| s.clone()),
                PskSource::Resumption { .. } => resumed.and_then(|old| old.psk_value(id)),
            },
            |gi: &GroupInfo| {
                let (tree, signed) = load_signed_tree(&provider, gi, ratchet_tree, &config);
                tree_slot = Some(tree);
                signed
            },
        );
        let mut tree = match tree_slot {
            Some(t) => t?,
            None => {
                joined?;
                return Err(crate::Error::Internal(
                    "welcome::join did not ask for the signer",
                ));
            }
        };
        let joined = joined?;
        let context = joined.group_info.group_context.clone();
        let psks = joined.psks.clone();

        validate_joined_tree(&provider, &mut tree, &joined.group_info, &config)?;
        let own_leaf = codec::encode(&key_package.leaf_node)?;
        let me = tree
            .leaves()
            .find(|(_, l)| l.body() == own_leaf.as_slice())
            .map(|(i, _)| i)
            .ok_or(PeerMisbehaved::OwnLeafMissing)?;

        let mut private = TreeKemPrivate::new(me, secrets.leaf_key.clone());
        if let Some(path_secret) = &joined.path_secret {
            // §12.4.3.1: the path secret is that of the lowest common ancestor of our leaf
            // and the signer's; the secrets of the non-blank nodes above it follow by
            // DeriveSecret(., "path").
            let signer = LeafIndex(joined.group_info.signer);
            let lca = math::common_ancestor(me.node(), signer.node());
            let n = tree.n_leaves();
            let mut current = path_secret.clone();
            let mut nodes = Vec::new();
            for x in core::iter::once(lca).chain(math::direct_path(lca, n)) {
                if tree.parent_node(x).is_none() {
                    continue;
                }
                if !nodes.is_empty() {
                    current = provider.derive_secret(current.as_bytes(), b"path")?;
                }
                nodes.push((x, current.clone()));
            }
            // The key pairs as one batch (their public keys are checked just below).
            private.insert_path_secrets(&provider, &nodes)?;
        }
        private.check_against(&provider, &tree)?;

        let rng = Rng {
            source: config.randomness.clone(),
            counter: 0,
        };
        let mut group = Self::assemble(
            provider,
            tree,
            secrets.signer.clone(),
            NextEpoch {
                context,
                private,
                secrets: joined.epoch_secrets,
                interim_transcript_hash: joined.interim_transcript_hash,
                confirmation_tag: joined.group_info.confirmation_tag.as_slice().to_vec(),
            },
            config,
            rng,
        );
        for (id, psk) in external_psks {
            group.add_external_psk(id, psk.clone());
        }
        if let Some(old) = resumed {
            group.check_resumption(old, &psks)?;
        }
        Ok(group)
    }
}

/// The checks of a GroupInfo and its tree that need no secret, as a new member joining by
/// external commit and an observer of the public state run them: the tree from the GroupInfo
/// or `out_of_band`, the GroupInfo's signature by its signer's leaf, and
/// [`validate_joined_tree`]. Returns the tree.
pub(super) fn open_group_info(
    provider: &Provider,
    gi: &GroupInfo,
    out_of_band: Option<&[u8]>,
    config: &GroupConfig,
) -> Result<RatchetTree> {
    let (tree, signed) = load_signed_tree(provider, gi, out_of_band, config);
    let mut tree = tree?;
    signed?;
    validate_joined_tree(provider, &mut tree, gi, config)?;
    Ok(tree)
}

/// A joined tree against its GroupInfo (RFC 9420 §12.4.3.1): the tree valid (unmerged
/// leaves, key uniqueness, every leaf signature, parent hashes), its hash the GroupContext's,
/// and [`check_joined_group`].
fn validate_joined_tree(
    provider: &Provider,
    tree: &mut RatchetTree,
    gi: &GroupInfo,
    config: &GroupConfig,
) -> Result<()> {
    let context = &gi.group_context;
    let tree_hash = tree.validate_with(provider, context.group_id.as_slice(), config.executor)?;
    if tree_hash.as_slice() != context.tree_hash.as_slice() {
        return Err(TreeError::TreeHashMismatch.into());
    }
    check_joined_group(config, tree, gi)
}

/// What a new member checks of a group beyond the tree's own validity (RFC 9420 §12.4.3.1,
/// §13.4): no extension type twice in the GroupInfo or the GroupContext; every member —
/// the joiner included — supports the GroupContext's extensions and `required_capabilities`;
/// and the application accepts every member's credential.
fn check_joined_group(
    config: &GroupConfig,
    tree: &RatchetTree,
    gi: &GroupInfo,
) -> Result<()> {
    codec::check_unique_extensions(&gi.extensions)?;
    let extensions = &gi.group_context.extensions;
    codec::check_unique_extensions(extensions)?;
    let required = required_capabilities(extensions)?;
    for (i, leaf) in tree.leaves() {
        let leaf = leaf.parse();
        check_leaf_supports(&leaf, Some(i), extensions, required.as_ref())?;
        let credential = leaf.credential();
        let change = CredentialChange::Existing {
            leaf: i,
            credential: &credential,
        };
        if !config.credential_validator.accept(&change) {
            return Err(PeerMisbehaved::CredentialRejected {
                check: change.check(),
                leaf: Some(i.0),
            }
            .into());
        }
    }
    Ok(())
}

/// The tree size from which [`load_signed_tree`] checks the GroupInfo's signature beside the
/// decoding: 500 to 750 members (a tree with and without its parents). Below it both take
/// less than handing a job to a worker can (tens of µs on a 2-core VM, `pool_wake` example).
const SIGNED_BESIDE_MIN_BYTES: usize = 128 * 1024;

/// The tree from the GroupInfo's `ratchet_tree` extension, else from `out_of_band`, and the
/// check of the GroupInfo's signature by the key of its signer's leaf in that tree
/// ([`PeerMisbehaved::UnknownSigner`] if there is none), which fails if the tree does.
///
/// With the tree in it, a GroupInfo is as large as the tree (12.7 MB at 50,000 members), and
/// checking its signature is one SHA-512 over all of it: about as long as decoding the tree,
/// and neither can be split. So with a large tree the signature is checked beside the
/// decoding, with the signer's key skimmed from the tree's bytes
/// ([`codec::skim_leaf_signature_key`]). The key is a guess until the decoded tree confirms
/// it; if the tree's key differs, the signature is checked again with that one, so the result
/// is always that of checking with the tree's key after decoding.
fn load_signed_tree(
    provider: &Provider,
    gi: &GroupInfo,
    out_of_band: Option<&[u8]>,
    config: &GroupConfig,
) -> (Result<RatchetTree>, Result<()>) {
    let unknown = || PeerMisbehaved::UnknownSigner(gi.signer).into();
    let in_welcome = gi
        .extensions
        .iter()
        .find(|e| e.extension_type == ExtensionType::RATCHET_TREE)
        .map(|e| e.extension_data.as_slice());
    let Some(bytes) = in_welcome.or(out_of_band) else {
        return (Err(ApiMisuse::MissingRatchetTree.into()), Err(unknown()));
    };
    let load = || RatchetTree::from_wire_bytes(bytes, provider.hash_len());
    let signer = LeafIndex(gi.signer);
    let guess = signer
        .0
        .checked_mul(2)
        .filter(|_| bytes.len() >= SIGNED_BESIDE_MIN_BYTES)
        .and_then(|node| codec::skim_leaf_signature_key(bytes, node));
    let (tree, guessed) = match guess {
        Some(key) => {
            let (tree, signed) = config
                .executor
                .beside(load, || welcome::verify_group_info(provider, gi, key));
            (tree, Some((key, signed)))
        }
        None => (load(), None),
    };
    let key = tree
        .as_ref()
        .ok()
        .and_then(|t| t.leaf(signer))
        .map(|l| l.signature_key());
    let signed = signed_by(provider, gi, key, guessed);
    (tree, signed)
}

/// The check of `gi`'s signature by `key`, its signer's key in the decoded tree (`None`: the
/// tree failed or has no such leaf), given the check made beside the decoding with a guessed
/// key, if one was: that check stands only if the guess was the key.
fn signed_by(
    provider: &Provider,
    gi: &GroupInfo,
    key: Option<&[u8]>,
    guessed: Option<(&[u8], Result<()>)>,
) -> Result<()> {
    match (key, guessed) {
        (None, _) => Err(PeerMisbehaved::UnknownSigner(gi.signer).into()),
        (Some(key), Some((guess, signed))) if guess == key => signed,
        (Some(key), _) => welcome::verify_group_info(provider, gi, key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::VLBytes;
    use crate::crypto::CipherSuite;

    /// A GroupInfo signed by `sk`.
    fn signed_group_info(p: &Provider, sk: &crate::crypto::SignaturePrivateKey) -> GroupInfo {
        let mut gi = GroupInfo {
            group_context: codec::GroupContext {
                version: codec::ProtocolVersion::MLS10,
                cipher_suite: codec::CipherSuiteId(p.suite().id()),
                group_id: VLBytes::new(b"group".to_vec()),
                epoch: 1,
                tree_hash: VLBytes::new(vec![1; 32]),
                confirmed_transcript_hash: VLBytes::new(vec![2; 32]),
                extensions: Vec::new(),
            },
            extensions: Vec::new(),
            confirmation_tag: codec::Mac(VLBytes::new(vec![3; 32])),
            signer: 5,
            signature: VLBytes::new(Vec::new()),
        };
        welcome::sign_group_info(p, sk, &mut gi).unwrap();
        gi
    }

    /// The check beside the decoding counts only when its key is the tree's: a guess that is
    /// not the signer's key is checked again with the tree's, whatever it gave.
    #[test]
    fn a_wrong_guess_is_checked_again_with_the_trees_key() {
        let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
        let (signer_sk, signer) = p.derive_signature_key_pair(&[1; 32]).unwrap();
        let (other_sk, other) = p.derive_signature_key_pair(&[2; 32]).unwrap();
        let by_signer = signed_group_info(&p, &signer_sk);
        let by_other = signed_group_info(&p, &other_sk);
        let bad = || -> Result<()> { Err(PeerMisbehaved::UnknownSigner(99).into()) };
        let mut checked = 0;
        // The guess is the tree's key: its check is the answer, good or bad.
        assert!(signed_by(&p, &by_signer, Some(&signer), Some((&signer, Ok(())))).is_ok());
        assert!(signed_by(&p, &by_signer, Some(&signer), Some((&signer, bad()))).is_err());
        checked += 2;
        // A wrong guess whose check passed (an attacker's GroupInfo signed by the guessed key)
        // is not accepted: the tree's key decides.
        let e = signed_by(&p, &by_other, Some(&signer), Some((&other, Ok(())))).unwrap_err();
        assert!(matches!(
            e,
            crate::Error::Crypto(crate::CryptoError::InvalidSignature)
        ), "{e:?}");
        // A wrong guess whose check failed does not fail a GroupInfo the signer signed.
        assert!(signed_by(&p, &by_signer, Some(&signer), Some((&other, bad()))).is_ok());
        // No guess: checked with the tree's key.
        assert!(signed_by(&p, &by_signer, Some(&signer), None).is_ok());
        assert!(signed_by(&p, &by_other, Some(&signer), None).is_err());
        checked += 4;
        // No key in the tree: the signer is unknown, whatever was guessed.
        for guessed in [None, Some((&signer[..], Ok(())))] {
            let e = signed_by(&p, &by_signer, None, guessed).unwrap_err();
            assert!(matches!(
                e,
                crate::Error::PeerMisbehaved(PeerMisbehaved::UnknownSigner(5))
            ), "{e:?}");
            checked += 1;
        }
        assert_eq!(checked, 8);
    }
}
