//! `passive-client-welcome.json`, `passive-client-handling-commit.json` and
//! `passive-client-random.json` (mls-implementations test-vectors.md, "Passive Client
//! Scenarios"): join from a Welcome (tree in it or given, external PSKs), then follow the
//! group through every epoch's proposals (cached, referenced by the commit) and commit,
//! checking the `epoch_authenticator` after the join and after each commit.
//!
//! Everything goes through the public group API ([`Group::join`] with
//! [`JoinOptions`],
//! [`Group::process`]) over the vector's bytes. The vectors' KeyPackages have expired
//! lifetimes, so the group's clock is [`Clock::Unchecked`].
//!
//! A delivery service's observer of the public state ([`PublicGroup`], copied from the
//! member once it has joined) processes the same messages, every one of them a PublicMessage,
//! and must cache each proposal and reach the member's public state after each commit.

use serde_json::Value;

use super::util::{expect_eq, hex_field};
use super::Tally;
use crate::codec::{self, KeyPackage, MlsMessage, MlsMessageBody};
use crate::crypto::{CipherSuite, HpkePrivateKey, Provider, Secret, SignaturePrivateKey};
use crate::group::{Group, GroupConfig, JoinOptions, ProcessOutcome, PublicGroup, Randomness};
use crate::key_package::{Clock, KeyPackageSecrets};

/// Run every case whose suite Canopy implements; skip the others. `checks` counts the key
/// pair checks, the initial epoch authenticator, every proposal cached and every epoch's
/// authenticator.
pub fn run(json: &Value) -> Tally {
    super::util::for_each_supported_suite(json, run_case)
}

fn run_case(suite: CipherSuite, case: &Value) -> Result<usize, String> {
    let p = Provider::new(suite);
    let kp_bytes = hex_field(case, "key_package")?;
    // The KeyPackage is published as an MLSMessage; accept a bare one too.
    let key_package: KeyPackage = match codec::decode::<MlsMessage>(&kp_bytes) {
        Ok(MlsMessage {
            body: MlsMessageBody::KeyPackage(kp),
            ..
        }) => kp,
        _ => codec::decode(&kp_bytes).map_err(|e| format!("key_package: {e}"))?,
    };
    let signer =
        SignaturePrivateKey::from_bytes(p.signature_scheme(), &hex_field(case, "signature_priv")?)
            .map_err(|e| format!("signature_priv: {e}"))?;
    let leaf_key = HpkePrivateKey::new(hex_field(case, "encryption_priv")?);
    let init_key = HpkePrivateKey::new(hex_field(case, "init_priv")?);

    let mut checks = 0;
    checks += expect_eq(
        "signature key",
        signer.public_key().as_slice(),
        key_package.leaf_node.signature_key.as_slice(),
    )?;
    let pk = |k: &HpkePrivateKey| p.hpke_public_key(k).map_err(|e| e.to_string());
    checks += expect_eq(
        "encryption key",
        pk(&leaf_key)?.as_slice(),
        key_package.leaf_node.encryption_key.as_slice(),
    )?;
    checks += expect_eq(
        "init key",
        pk(&init_key)?.as_slice(),
        key_package.init_key.as_slice(),
    )?;

    let psks = case
        .get("external_psks")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|e| Ok((hex_field(e, "psk_id")?, Secret::new(hex_field(e, "psk")?))))
        .collect::<Result<Vec<_>, String>>()?;
    let ratchet_tree = match case.get("ratchet_tree") {
        Some(Value::Null) | None => None,
        Some(_) => Some(hex_field(case, "ratchet_tree")?),
    };
    let config = GroupConfig {
        clock: Clock::Unchecked,
        randomness: Randomness::System,
        ..GroupConfig::default()
    };
    let secrets = KeyPackageSecrets {
        init_key,
        leaf_key,
        signer,
    };
    let mut options = JoinOptions::from(config).ratchet_tree(ratchet_tree.as_deref());
    options.external_psks = psks;
    let mut group = Group::join(
        p,
        &hex_field(case, "welcome")?,
        &key_package,
        &secrets,
        options,
    )
    .map_err(|e| format!("join: {e}"))?;
    checks += expect_eq(
        "initial_epoch_authenticator",
        group.epoch_authenticator().as_bytes(),
        hex_field(case, "initial_epoch_authenticator")?.as_slice(),
    )?;

    let mut ds: PublicGroup = group.public_group().clone();
    let epochs = case
        .get("epochs")
        .and_then(Value::as_array)
        .ok_or("missing epochs")?;
    for (n, epoch) in epochs.iter().enumerate() {
        let proposals = epoch
            .get("proposals")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("epoch {n}: missing proposals"))?;
        for (i, proposal) in proposals.iter().enumerate() {
            let bytes = hex::decode(proposal.as_str().ok_or("proposal not a string")?)
                .map_err(|e| format!("epoch {n} proposal {i}: bad hex: {e}"))?;
            match group.process(&bytes) {
                Ok(ProcessOutcome::Proposal { .. }) => checks += 1,
                Ok(other) => return Err(format!("epoch {n} proposal {i}: {other:?}")),
                Err(e) => return Err(format!("epoch {n} proposal {i}: {e}")),
            }
            match ds.process(&bytes) {
                Ok(ProcessOutcome::Proposal { .. }) => {}
                other => return Err(format!("epoch {n} proposal {i}, observer: {other:?}")),
            }
        }
        let commit = hex_field(epoch, "commit")?;
        match group.process(&commit) {
            Ok(ProcessOutcome::Committed { .. }) => {}
            Ok(other) => return Err(format!("epoch {n} commit: {other:?}")),
            Err(e) => return Err(format!("epoch {n} commit: {e}")),
        }
        match ds.process(&commit) {
            Ok(ProcessOutcome::Committed { .. }) => {}
            other => return Err(format!("epoch {n} commit, observer: {other:?}")),
        }
        let digest = |p: &PublicGroup| p.state_digest().map_err(|e| e.to_string());
        if digest(&ds)? != digest(group.public_group())? {
            return Err(format!(
                "epoch {n}: the observer's public state differs from the member's"
            ));
        }
        checks += expect_eq(
            &format!("epoch {n} epoch_authenticator"),
            group.epoch_authenticator().as_bytes(),
            hex_field(epoch, "epoch_authenticator")?.as_slice(),
        )?;
    }
    Ok(checks)
}
