//! Validation of one LeafNode (RFC 9420 §7.3), on its own: KeyPackages, Update proposals,
//! UpdatePath leaves and every leaf of a received tree go through it.

use std::collections::HashSet;

use crate::codec::{self, LeafNode, LeafNodeTbs};
use crate::crypto::Provider;
use crate::error::Result;
use crate::tree::math::LeafIndex;
use crate::tree::TreeError;

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

/// The checks of [`validate_leaf_node`] other than the signature, for leaves whose signature
/// was verified elsewhere (an UpdatePath's leaf is verified when the path is staged).
pub(crate) fn check_leaf_contents(
    provider: &Provider,
    leaf: &LeafNode,
    credential_types_in_use: &HashSet<u16>,
) -> Result<()> {
    provider.check_hpke_public_key(leaf.encryption_key.as_slice())?;
    codec::check_unique_extensions(&leaf.extensions)?;
    // Extension types 1..=5 are RFC 9420's "default" ones (§7.2), which MUST NOT be listed.
    for ext in &leaf.extensions {
        let t = ext.extension_type;
        if !(1..=5).contains(&t.0) && !leaf.capabilities.extensions.contains(&t) {
            return Err(TreeError::UnsupportedExtension {
                extension_type: t.0,
            }
            .into());
        }
    }
    let caps: HashSet<u16> = leaf.capabilities.credentials.iter().map(|c| c.0).collect();
    for t in credential_types_in_use
        .iter()
        .chain([&leaf.credential.credential_type().0])
    {
        if !caps.contains(t) {
            return Err(TreeError::UnsupportedCredential {
                credential_type: *t,
            }
            .into());
        }
    }
    Ok(())
}
