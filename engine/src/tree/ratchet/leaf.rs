//! Validation of one LeafNode (RFC 9420 §7.3), on its own: KeyPackages, Update proposals,
//! UpdatePath leaves and every leaf of a received tree go through it, decoded
//! ([`validate_leaf_node`]) or as the tree stores it ([`validate_stored_leaf`]).

use std::collections::HashSet;

use super::node::{LeafRef, ParsedLeaf};
use crate::codec::{self, CodecError, LeafNode, LeafNodeSource, LeafNodeTbs};
use crate::crypto::{labels, Provider};
use crate::error::Result;
use crate::tree::math::LeafIndex;
use crate::tree::TreeError;

/// The fields of a leaf node that the checks of §7.3 read, from a decoded [`LeafNode`] or a
/// stored one ([`LeafRef`], read in place), so that both go through the same checks.
pub(crate) trait LeafFields {
    /// The HPKE public key.
    fn encryption_key(&self) -> &[u8];
    /// The credential's type.
    fn credential_type(&self) -> u16;
    /// The types of the leaf's extensions, in order.
    fn extension_types(&self) -> impl Iterator<Item = u16> + '_;
    /// Whether its capabilities list extension type `t`.
    fn supports_extension(&self, t: u16) -> bool;
    /// Whether its capabilities list proposal type `t`.
    fn supports_proposal(&self, t: u16) -> bool;
    /// Whether its capabilities list credential type `t`.
    fn supports_credential(&self, t: u16) -> bool;
}

impl LeafFields for LeafNode {
    fn encryption_key(&self) -> &[u8] {
        self.encryption_key.as_slice()
    }
    fn credential_type(&self) -> u16 {
        self.credential.credential_type().0
    }
    fn extension_types(&self) -> impl Iterator<Item = u16> + '_ {
        self.extensions.iter().map(|e| e.extension_type.0)
    }
    fn supports_extension(&self, t: u16) -> bool {
        self.capabilities.extensions.iter().any(|e| e.0 == t)
    }
    fn supports_proposal(&self, t: u16) -> bool {
        self.capabilities.proposals.iter().any(|p| p.0 == t)
    }
    fn supports_credential(&self, t: u16) -> bool {
        self.capabilities.credentials.iter().any(|c| c.0 == t)
    }
}

impl LeafFields for ParsedLeaf<'_> {
    fn encryption_key(&self) -> &[u8] {
        ParsedLeaf::encryption_key(self)
    }
    fn credential_type(&self) -> u16 {
        ParsedLeaf::credential_type(self)
    }
    fn extension_types(&self) -> impl Iterator<Item = u16> + '_ {
        ParsedLeaf::extension_types(self)
    }
    fn supports_extension(&self, t: u16) -> bool {
        ParsedLeaf::supports_extension(self, t)
    }
    fn supports_proposal(&self, t: u16) -> bool {
        ParsedLeaf::supports_proposal(self, t)
    }
    fn supports_credential(&self, t: u16) -> bool {
        ParsedLeaf::supports_credential(self, t)
    }
}

/// Validate one LeafNode (RFC 9420 §7.3): signature over LeafNodeTBS (with the group id and
/// leaf index for `update` and `commit` sources), an encryption key valid for the suite, no
/// extension type twice (§13.4), non-default extensions listed in its
/// capabilities, its credential type listed in its capabilities and every credential type in
/// use supported. The lifetime is not checked here (the caller owns the clock).
pub fn validate_leaf_node(
    provider: &Provider,
    leaf: &LeafNode,
    position: Option<(&[u8], LeafIndex)>,
    credential_types_in_use: &HashSet<u16>,
) -> Result<()> {
    let tbs = match position {
        Some((group_id, i)) => LeafNodeTbs::in_group(leaf, group_id, i.0),
        None => LeafNodeTbs::key_package(leaf),
    };
    provider.verify_with_label(
        leaf.signature_key.as_slice(),
        b"LeafNodeTBS",
        &codec::encode(&tbs)?,
        leaf.signature.as_slice(),
    )?;
    check_leaf_contents(provider, leaf, credential_types_in_use)
}

/// [`validate_leaf_node`] of leaves as the tree stores them, each at its index in the group:
/// the same checks on the same bytes (a LeafNodeTBS is the stored encoding up to the
/// signature, then the group id and index), without decoding them. The signatures are
/// verified as one batch ([`Provider::verify_labeled_batch`]), then each leaf's result is taken
/// in order, so the error is the lowest failing leaf's, as leaf-by-leaf validation gives.
pub(crate) fn validate_stored_leaves(
    provider: &Provider,
    leaves: &[(LeafIndex, LeafRef<'_>)],
    group_id: &[u8],
    credential_types_in_use: &HashSet<u16>,
) -> Result<()> {
    let parsed: Vec<ParsedLeaf<'_>> = leaves.iter().map(|(_, leaf)| leaf.parse()).collect();
    // The group id's length header, the same in every LeafNodeTBS of a leaf in the group; its
    // error (a group id of 2^30 bytes or more) is each such leaf's, in leaf order.
    let group_id_header = {
        let mut header = Vec::with_capacity(4);
        codec::encode_varint_length(group_id.len(), &mut header).map(|_| header)
    };
    let contents: Vec<Result<Vec<u8>>> = leaves
        .iter()
        .zip(&parsed)
        .map(|(&(i, _), leaf)| {
            let unsigned = leaf.unsigned_body();
            let in_group = leaf.source() != Some(LeafNodeSource::KeyPackage);
            let tbs_len = if in_group {
                let header = group_id_header.as_ref().map_err(Clone::clone)?;
                unsigned.len() + header.len() + group_id.len() + 4
            } else {
                unsigned.len()
            };
            // `labeled_pair("LeafNodeTBS", tbs)` in one buffer: no buffer of the TBS's own to
            // build and copy, for each of up to 50,000 leaves.
            let mut content = labels::labeled_pair_header(b"LeafNodeTBS", tbs_len)?;
            content.extend_from_slice(unsigned);
            if let (true, Ok(header)) = (in_group, &group_id_header) {
                content.extend_from_slice(header);
                content.extend_from_slice(group_id);
                content.extend_from_slice(&i.0.to_be_bytes());
            }
            Ok(content)
        })
        .collect();
    let items: Vec<(&[u8], &[u8], &[u8])> = parsed
        .iter()
        .zip(&contents)
        .filter_map(|(leaf, content)| {
            let content = content.as_ref().ok()?;
            Some((leaf.signature_key(), content.as_slice(), leaf.signature()))
        })
        .collect();
    let mut verdicts = provider.verify_labeled_batch(&items).into_iter();
    for (leaf, content) in parsed.iter().zip(contents) {
        content?;
        // Invariant: one verdict per leaf whose content was built, in order.
        verdicts
            .next()
            .ok_or(crate::crypto::CryptoError::InvalidSignature)??;
        check_leaf_contents(provider, leaf, credential_types_in_use)?;
    }
    Ok(())
}

/// The checks of [`validate_leaf_node`] other than the signature, for leaves whose signature
/// was verified elsewhere (an UpdatePath's leaf is verified when the path is staged).
pub(crate) fn check_leaf_contents<L: LeafFields>(
    provider: &Provider,
    leaf: &L,
    credential_types_in_use: &HashSet<u16>,
) -> Result<()> {
    provider.check_hpke_public_key(leaf.encryption_key())?;
    check_unique_types(leaf.extension_types())?;
    // Extension types 1..=5 are RFC 9420's "default" ones (§7.2), which MUST NOT be listed.
    for t in leaf.extension_types() {
        if !(1..=5).contains(&t) && !leaf.supports_extension(t) {
            return Err(TreeError::UnsupportedExtension { extension_type: t }.into());
        }
    }
    for t in credential_types_in_use
        .iter()
        .chain([&leaf.credential_type()])
    {
        if !leaf.supports_credential(*t) {
            return Err(TreeError::UnsupportedCredential {
                credential_type: *t,
            }
            .into());
        }
    }
    Ok(())
}

/// RFC 9420 §13.4 on a list of extension types: [`codec::check_unique_extensions`]'s rule
/// and error.
fn check_unique_types(types: impl Iterator<Item = u16>) -> Result<(), CodecError> {
    let mut types: Vec<u16> = types.collect();
    if types.len() < 2 {
        return Ok(());
    }
    types.sort_unstable();
    match types.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(CodecError::DuplicateExtension {
            extension_type: w[0],
        }),
        None => Ok(()),
    }
}
