//! Seeded derivations: every key, secret and random choice of a generated state comes from
//! one master secret, so the same seed gives the same state.
//!
//! Every key is derived from one master secret, `Extract("canopy-workloads states v1",
//! seed)`, with `ExpandWithLabel(master, label, node_index || generation, len)`:
//! - the HPKE key of node `x` (leaf or parent) at generation `g`: `DeriveKeyPair` of
//!   `ExpandWithLabel(master, "state node key", x || g, Nh)`;
//! - the signature key of the leaf at node `x`, generation `g`: the suite's signature key
//!   derived (`Provider::derive_signature_key_pair`) from
//!   `ExpandWithLabel(master, "state signature key", x || g, 32)`.
//!
//! The generation of a node starts at 0 and is bumped when a new member takes over a blank
//! leaf (the `unmerged` refill), so the new member's keys differ from the old member's.

use anyhow::Result;
use canopy_engine::codec::{self, LeafNodeSourceData, Lifetime};
use canopy_engine::crypto::{HpkePrivateKey, Provider, Secret, SignaturePrivateKey};
use canopy_engine::key_package::signed_leaf_node;
use canopy_engine::tree::NodeIndex;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

const MASTER_LABEL: &[u8] = b"canopy-workloads states v1";

/// The master secret and the derivations from it.
#[derive(Clone)]
pub(super) struct Seeds {
    /// The state's provider.
    pub(super) provider: Provider,
    master: Secret,
}

pub(super) fn nh(provider: &Provider) -> u16 {
    // At most 64 (SHA-512), far below u16::MAX.
    provider.hash_len() as u16
}

fn node_context(x: NodeIndex, generation: u32) -> [u8; 8] {
    let mut c = [0u8; 8];
    c[..4].copy_from_slice(&x.0.to_be_bytes());
    c[4..].copy_from_slice(&generation.to_be_bytes());
    c
}

impl Seeds {
    pub(super) fn new(provider: Provider, seed: u64) -> Self {
        Seeds {
            provider,
            master: provider.extract(MASTER_LABEL, &seed.to_be_bytes()),
        }
    }

    pub(super) fn secret(&self, label: &[u8], context: &[u8], len: u16) -> Result<Secret> {
        Ok(self
            .provider
            .expand_with_label(self.master.as_bytes(), label, context, len)?)
    }

    pub(super) fn bytes(&self, label: &[u8], context: &[u8], len: u16) -> Result<Vec<u8>> {
        Ok(self.secret(label, context, len)?.as_bytes().to_vec())
    }

    pub(super) fn rng(&self, label: &[u8]) -> Result<ChaCha20Rng> {
        let s = self.secret(label, &[], 32)?;
        let mut seed = [0u8; 32];
        seed.copy_from_slice(s.as_bytes());
        Ok(ChaCha20Rng::from_seed(seed))
    }

    pub(super) fn node_key_pair(
        &self,
        x: NodeIndex,
        generation: u32,
    ) -> Result<(HpkePrivateKey, Vec<u8>)> {
        let nh = nh(&self.provider);
        let ikm = self.secret(b"state node key", &node_context(x, generation), nh)?;
        Ok(self.provider.derive_hpke_key_pair(ikm.as_bytes())?)
    }

    /// The private half of [`Seeds::node_key_pair`], without computing the public key.
    pub(super) fn node_private_key(&self, x: NodeIndex, generation: u32) -> Result<HpkePrivateKey> {
        let nh = nh(&self.provider);
        let ikm = self.secret(b"state node key", &node_context(x, generation), nh)?;
        Ok(self.provider.derive_hpke_private_key(ikm.as_bytes())?)
    }

    pub(super) fn signer(&self, x: NodeIndex, generation: u32) -> Result<SignaturePrivateKey> {
        let seed = self.secret(b"state signature key", &node_context(x, generation), 32)?;
        Ok(self.provider.derive_signature_key_pair(seed.as_bytes())?.0)
    }

    pub(super) fn stale_parent_hash(&self, x: NodeIndex) -> Result<Vec<u8>> {
        let nh = nh(&self.provider);
        self.bytes(b"state stale parent hash", &node_context(x, 0), nh)
    }
}

pub(super) fn identity(serial: u32) -> Vec<u8> {
    format!("member-{serial}").into_bytes()
}

/// The key_package leaf of member `serial` at node `x`, generation `generation`.
pub(super) fn seeded_key_package_leaf(
    seeds: &Seeds,
    x: NodeIndex,
    generation: u32,
    serial: u32,
    lifetime: Lifetime,
) -> Result<codec::LeafNode> {
    let signer = seeds.signer(x, generation)?;
    let (_, public) = seeds.node_key_pair(x, generation)?;
    Ok(signed_leaf_node(
        &seeds.provider,
        &signer,
        &identity(serial),
        public,
        LeafNodeSourceData::KeyPackage { lifetime },
        None,
    )?)
}
