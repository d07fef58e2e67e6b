//! KeyPackages (RFC 9420 §10): creation for members that want to be added, and validation
//! against a clock the caller controls.
//!
//! Lifetimes are checked against a [`Clock`] passed in, never read from the system inside the
//! validation, so tests can pin the time (the published vectors carry lifetimes that have
//! long expired) and a simulation can run on simulated days.

use crate::error::{PeerMisbehaved, Unsupported};
use std::collections::HashSet;

use crate::codec::{
    self, Capabilities, CipherSuiteId, Credential, CredentialType, HpkePublicKey, KeyPackage,
    KeyPackageTbs, LeafNode, LeafNodeSourceData, LeafNodeTbs, Lifetime, ProtocolVersion,
    SignaturePublicKey,
};
use crate::crypto::{labels, HpkePrivateKey, Provider, SignaturePrivateKey};
use crate::error::Result;
use crate::tree::{check_leaf_contents, validate_leaf_node};

/// The time against which lifetimes are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The system clock (seconds since the Unix epoch).
    System,
    /// A fixed time, in seconds since the Unix epoch.
    Fixed(u64),
    /// Do not check lifetimes (tests of other properties, replay of old transcripts).
    Unchecked,
}

impl Clock {
    /// The current time, or `None` for [`Clock::Unchecked`].
    pub fn now(self) -> Option<u64> {
        match self {
            Clock::System => Some(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            ),
            Clock::Fixed(t) => Some(t),
            Clock::Unchecked => None,
        }
    }
}

/// Check a leaf's lifetime (RFC 9420 §7.3) if it has one (source `key_package`).
pub fn check_lifetime(leaf: &LeafNode, clock: Clock) -> Result<()> {
    if let (LeafNodeSourceData::KeyPackage { lifetime }, Some(now)) =
        (&leaf.leaf_node_source, clock.now())
    {
        if now < lifetime.not_before || now > lifetime.not_after {
            return Err(PeerMisbehaved::Expired {
                not_before: lifetime.not_before,
                not_after: lifetime.not_after,
                now,
            }
            .into());
        }
    }
    Ok(())
}

/// Validate a KeyPackage for a group using `provider`'s suite (RFC 9420 §10.1): version,
/// suite, the KeyPackage signature by the leaf's signature key, the leaf node (§7.3:
/// signature, capabilities, lifetime against `clock`, source `key_package`) and
/// `init_key != encryption_key`. `credentials_in_use` are the credential types of the
/// group's members, which the new leaf must support.
pub fn validate_key_package(
    provider: &Provider,
    kp: &KeyPackage,
    clock: Clock,
    credentials_in_use: &HashSet<u16>,
) -> Result<()> {
    check_before_signatures(provider, kp, clock)?;
    let leaf = &kp.leaf_node;
    provider.verify_with_label(
        leaf.signature_key.as_slice(),
        b"KeyPackageTBS",
        &codec::encode(&KeyPackageTbs { key_package: kp })?,
        kp.signature.as_slice(),
    )?;
    validate_leaf_node(provider, leaf, None, credentials_in_use)
}

/// [`validate_key_package`] of many KeyPackages: one result per KeyPackage, in order, each
/// what `validate_key_package` returns for it. The two signatures of every KeyPackage (its
/// own and its leaf's) are verified as one batch ([`Provider::verify_labeled_batch`]), which
/// is what makes a bulk add cheaper where the Ed25519 lanes run.
pub(crate) fn validate_key_packages(
    provider: &Provider,
    kps: &[&KeyPackage],
    clock: Clock,
    credentials_in_use: &HashSet<u16>,
) -> Vec<Result<()>> {
    // The SignContents of the KeyPackage and of its leaf, for those that pass the checks
    // before the signatures (the order of `validate_key_package`).
    let signed: Vec<Result<[Vec<u8>; 2]>> = kps
        .iter()
        .map(|kp| {
            check_before_signatures(provider, kp, clock)?;
            Ok([
                labels::labeled_pair(
                    b"KeyPackageTBS",
                    &codec::encode(&KeyPackageTbs { key_package: kp })?,
                )?,
                labels::labeled_pair(
                    b"LeafNodeTBS",
                    &codec::encode(&LeafNodeTbs::key_package(&kp.leaf_node))?,
                )?,
            ])
        })
        .collect();
    let mut items: Vec<(&[u8], &[u8], &[u8])> = Vec::with_capacity(2 * kps.len());
    for (kp, signed) in kps.iter().zip(&signed) {
        if let Ok([kp_content, leaf_content]) = signed {
            let leaf = &kp.leaf_node;
            let key = leaf.signature_key.as_slice();
            items.push((key, kp_content, kp.signature.as_slice()));
            items.push((key, leaf_content, leaf.signature.as_slice()));
        }
    }
    let mut verdicts = provider.verify_labeled_batch(&items).into_iter();
    kps.iter()
        .zip(signed)
        .map(|(kp, signed)| {
            signed?;
            // Two verdicts per KeyPackage that reached its signatures, in order; both are
            // taken before either is looked at, so the next KeyPackage gets its own.
            let mut next = || {
                verdicts
                    .next()
                    .unwrap_or(Err(crate::crypto::CryptoError::InvalidSignature))
            };
            let (own, leaf) = (next(), next());
            own?;
            leaf?;
            check_leaf_contents(provider, &kp.leaf_node, credentials_in_use)
        })
        .collect()
}

/// The checks of [`validate_key_package`] before the two signatures, in its order.
fn check_before_signatures(provider: &Provider, kp: &KeyPackage, clock: Clock) -> Result<()> {
    if kp.version != ProtocolVersion::MLS10 {
        return Err(Unsupported::ProtocolVersion(kp.version.0).into());
    }
    let expected = provider.suite().id();
    if kp.cipher_suite.0 != expected {
        return Err(PeerMisbehaved::CipherSuiteMismatch {
            expected,
            got: kp.cipher_suite.0,
        }
        .into());
    }
    let leaf = &kp.leaf_node;
    if !matches!(leaf.leaf_node_source, LeafNodeSourceData::KeyPackage { .. }) {
        return Err(PeerMisbehaved::WrongLeafSource.into());
    }
    provider.check_hpke_public_key(kp.init_key.as_slice())?;
    codec::check_unique_extensions(&kp.extensions)?;
    if kp.init_key.as_slice() == leaf.encryption_key.as_slice() {
        return Err(PeerMisbehaved::InitKeyIsEncryptionKey.into());
    }
    let caps = &leaf.capabilities;
    if !caps.cipher_suites.contains(&kp.cipher_suite)
        || !caps.versions.contains(&ProtocolVersion::MLS10)
    {
        return Err(PeerMisbehaved::CapabilitiesMissingSuite.into());
    }
    check_lifetime(leaf, clock)
}

/// The capabilities Canopy advertises: mls10, the provider's suite, basic credentials, no
/// non-default extensions or proposals.
pub fn default_capabilities(provider: &Provider) -> Capabilities {
    Capabilities {
        versions: vec![ProtocolVersion::MLS10],
        cipher_suites: vec![CipherSuiteId(provider.suite().id())],
        extensions: Vec::new(),
        proposals: Vec::new(),
        credentials: vec![CredentialType::BASIC],
    }
}

/// A lifetime from an hour before `now` to 90 days after it (clock skew on one side, the
/// usual KeyPackage rotation on the other).
pub fn default_lifetime(now: u64) -> Lifetime {
    Lifetime {
        not_before: now.saturating_sub(3600),
        not_after: now.saturating_add(90 * 24 * 3600),
    }
}

/// The private halves of a KeyPackage: the HPKE `init_key` (opens the Welcome), the leaf's
/// HPKE key and the signature key. All zeroized on drop.
#[derive(Debug, Clone)]
pub struct KeyPackageSecrets {
    /// Private `init_key`.
    pub init_key: HpkePrivateKey,
    /// Private leaf `encryption_key`.
    pub leaf_key: HpkePrivateKey,
    /// Signature key of the leaf.
    pub signer: SignaturePrivateKey,
}

/// Build and sign a KeyPackage with a basic credential for `identity`, keys derived from
/// `seed` (≥ 32 bytes of secret randomness; reproducible for tests and workloads) and the
/// given lifetime.
pub fn key_package_from_seed(
    provider: &Provider,
    identity: &[u8],
    seed: &[u8],
    lifetime: Lifetime,
) -> Result<(KeyPackage, KeyPackageSecrets)> {
    let nh = provider.hash_len() as u16;
    let sig_seed = provider.expand_with_label(seed, b"canopy kp signature", &[], 32)?;
    // For Ed25519 the key whose seed is `sig_seed`; for the other schemes one derived from it.
    let (signer, _) = provider.derive_signature_key_pair(sig_seed.as_bytes())?;
    let init_ikm = provider.expand_with_label(seed, b"canopy kp init", &[], nh)?;
    let (init_key, init_pub) = provider.derive_hpke_key_pair(init_ikm.as_bytes())?;
    let leaf_ikm = provider.expand_with_label(seed, b"canopy kp leaf", &[], nh)?;
    let (leaf_key, leaf_pub) = provider.derive_hpke_key_pair(leaf_ikm.as_bytes())?;
    let leaf = signed_leaf_node(
        provider,
        &signer,
        identity,
        leaf_pub,
        LeafNodeSourceData::KeyPackage { lifetime },
        None,
    )?;
    let mut kp = KeyPackage {
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuiteId(provider.suite().id()),
        init_key: HpkePublicKey(init_pub.into()),
        leaf_node: leaf,
        extensions: Vec::new(),
        signature: Vec::new().into(),
    };
    let tbs = codec::encode(&KeyPackageTbs { key_package: &kp })?;
    kp.signature = provider
        .sign_with_label(&signer, b"KeyPackageTBS", &tbs)?
        .into();
    Ok((
        kp,
        KeyPackageSecrets {
            init_key,
            leaf_key,
            signer,
        },
    ))
}

/// A fresh KeyPackage (random keys) valid from now for 90 days.
pub fn key_package(
    provider: &Provider,
    identity: &[u8],
) -> Result<(KeyPackage, KeyPackageSecrets)> {
    let seed = provider.random_bytes(32);
    let now = Clock::System.now().unwrap_or(0);
    key_package_from_seed(provider, identity, &seed, default_lifetime(now))
}

/// A leaf node with a basic credential for `identity` and [`default_capabilities`], signed
/// over LeafNodeTBS; `position` = (group id, leaf index) for `update` / `commit` sources.
pub fn signed_leaf_node(
    provider: &Provider,
    signer: &SignaturePrivateKey,
    identity: &[u8],
    encryption_key: Vec<u8>,
    source: LeafNodeSourceData,
    position: Option<(&[u8], u32)>,
) -> Result<LeafNode> {
    let mut leaf = LeafNode {
        encryption_key: HpkePublicKey(encryption_key.into()),
        signature_key: SignaturePublicKey(signer.public_key().into()),
        credential: Credential::Basic {
            identity: identity.to_vec().into(),
        },
        capabilities: default_capabilities(provider),
        leaf_node_source: source,
        extensions: Vec::new(),
        signature: Vec::new().into(),
    };
    let tbs = match position {
        Some((group_id, index)) => LeafNodeTbs::in_group(&leaf, group_id, index),
        None => LeafNodeTbs::key_package(&leaf),
    };
    leaf.signature = provider
        .sign_with_label(signer, b"LeafNodeTBS", &codec::encode(&tbs)?)?
        .into();
    Ok(leaf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{CipherSuite, CryptoError};
    use crate::Error;

    fn provider() -> Provider {
        Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519)
    }

    fn none() -> HashSet<u16> {
        HashSet::new()
    }

    #[test]
    fn fresh_key_package_validates_and_round_trips() {
        let p = provider();
        let (kp, secrets) = key_package(&p, b"alice").unwrap();
        validate_key_package(&p, &kp, Clock::System, &none()).unwrap();
        let bytes = codec::encode(&kp).unwrap();
        assert_eq!(codec::decode::<KeyPackage>(&bytes).unwrap(), kp);
        assert_eq!(
            p.hpke_public_key(&secrets.init_key).unwrap(),
            kp.init_key.as_slice()
        );
        assert_eq!(
            secrets.signer.public_key(),
            kp.leaf_node.signature_key.as_slice()
        );
    }

    #[test]
    fn seeded_key_packages_are_reproducible() {
        let p = provider();
        let life = default_lifetime(1_000_000);
        let a = key_package_from_seed(&p, b"a", &[7; 32], life).unwrap().0;
        let b = key_package_from_seed(&p, b"a", &[7; 32], life).unwrap().0;
        let c = key_package_from_seed(&p, b"a", &[8; 32], life).unwrap().0;
        assert_eq!(a, b);
        assert_ne!(a.init_key, c.init_key);
    }

    #[test]
    fn lifetime_is_checked_against_the_clock() {
        let p = provider();
        let life = Lifetime {
            not_before: 100,
            not_after: 200,
        };
        let (kp, _) = key_package_from_seed(&p, b"a", &[1; 32], life).unwrap();
        for ok in [100, 150, 200] {
            validate_key_package(&p, &kp, Clock::Fixed(ok), &none()).unwrap();
        }
        for bad in [0, 99, 201, u64::MAX] {
            assert!(matches!(
                validate_key_package(&p, &kp, Clock::Fixed(bad), &none()),
                Err(Error::PeerMisbehaved(PeerMisbehaved::Expired { now, .. })) if now == bad
            ));
        }
        validate_key_package(&p, &kp, Clock::Unchecked, &none()).unwrap();
    }

    /// The batch gives each KeyPackage exactly what it gets alone, whatever its neighbours:
    /// good ones, and ones failing before, at and after their two signatures, in every
    /// position of the lanes' registers.
    #[test]
    fn a_batch_validates_each_key_package_as_alone() {
        let p = provider();
        let mut kps = Vec::new();
        for i in 0..24u8 {
            let (mut kp, _) = key_package_from_seed(&p, &[i], &[i; 32], default_lifetime(0))
                .unwrap();
            let flip = |v: &tls_codec::VLBytes, at: usize| {
                let mut b = v.as_slice().to_vec();
                b[at] ^= 1;
                tls_codec::VLBytes::from(b)
            };
            match i % 6 {
                1 => kp.signature = flip(&kp.signature, 3),
                2 => kp.leaf_node.signature = flip(&kp.leaf_node.signature, 40),
                3 => kp.version = ProtocolVersion(2),
                4 => kp.leaf_node.signature_key.0 = flip(&kp.leaf_node.signature_key.0, 0),
                5 => kp.leaf_node.capabilities.credentials.clear(),
                _ => {}
            }
            kps.push(kp);
        }
        let alone: Vec<String> = kps
            .iter()
            .map(|kp| format!("{:?}", validate_key_package(&p, kp, Clock::Unchecked, &none())))
            .collect();
        assert_eq!(alone.iter().filter(|r| *r == "Ok(())").count(), 4);
        for skip in [0, 1, 5] {
            let refs: Vec<&KeyPackage> = kps.iter().skip(skip).collect();
            let batch: Vec<String> = validate_key_packages(&p, &refs, Clock::Unchecked, &none())
                .iter()
                .map(|r| format!("{r:?}"))
                .collect();
            assert_eq!(batch, alone[skip..], "batch starting at {skip}");
        }
    }

    #[test]
    fn each_rule_is_enforced_with_its_own_error() {
        let p = provider();
        let (kp, _) = key_package(&p, b"a").unwrap();
        let check = |kp: &KeyPackage| validate_key_package(&p, kp, Clock::System, &none());

        let mut bad = kp.clone();
        bad.version = ProtocolVersion(2);
        assert!(matches!(
            check(&bad),
            Err(Error::Unsupported(Unsupported::ProtocolVersion(2)))
        ));

        let mut bad = kp.clone();
        bad.cipher_suite = CipherSuiteId(3);
        assert!(matches!(
            check(&bad),
            Err(Error::PeerMisbehaved(PeerMisbehaved::CipherSuiteMismatch {
                got: 3,
                ..
            }))
        ));

        let mut bad = kp.clone();
        bad.init_key = bad.leaf_node.encryption_key.clone();
        assert!(matches!(
            check(&bad),
            Err(Error::PeerMisbehaved(
                PeerMisbehaved::InitKeyIsEncryptionKey
            ))
        ));

        let mut bad = kp.clone();
        bad.leaf_node.leaf_node_source = LeafNodeSourceData::Update;
        assert!(matches!(
            check(&bad),
            Err(Error::PeerMisbehaved(PeerMisbehaved::WrongLeafSource))
        ));

        let mut bad = kp.clone();
        bad.leaf_node.capabilities.cipher_suites.clear();
        assert!(matches!(
            check(&bad),
            Err(Error::PeerMisbehaved(
                PeerMisbehaved::CapabilitiesMissingSuite
            ))
        ));

        let mut bad = kp.clone();
        bad.extensions.push(codec::Extension {
            extension_type: codec::ExtensionType(0xff00),
            extension_data: Vec::new().into(),
        });
        assert!(matches!(
            check(&bad),
            Err(Error::Crypto(CryptoError::InvalidSignature))
        ));

        let mut bad = kp.clone();
        bad.leaf_node.credential = Credential::Basic {
            identity: b"mallory".to_vec().into(),
        };
        assert!(matches!(
            check(&bad),
            Err(Error::Crypto(CryptoError::InvalidSignature))
        ));

        // A group whose members use x509 credentials needs the joiner to support them.
        let x509: HashSet<u16> = [CredentialType::X509.0].into();
        assert!(matches!(
            validate_key_package(&p, &kp, Clock::System, &x509),
            Err(Error::InvalidTree(
                crate::tree::TreeError::UnsupportedCredential { credential_type: 2 }
            ))
        ));
    }
}
