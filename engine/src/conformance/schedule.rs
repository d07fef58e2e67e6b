//! `key-schedule.json`, `psk_secret.json` and `secret-tree.json`: the key schedule (RFC 9420
//! §8), the PSK secret (§8.4) and the secret tree with its ratchets (§9).

use serde_json::Value;

use super::util::{expect_eq, hex_field, u64_field};
use super::Tally;
use crate::codec::{
    self, CipherSuiteId, GroupContext, PreSharedKeyId, ProtocolVersion, PskSource, VLBytes,
};
use crate::crypto::{Provider, Secret};
use crate::schedule::{self, secret_tree, EpochSecrets, RatchetKind, SecretTree};
use crate::tree::LeafIndex;

/// Run every case of a per-suite file with a provider for its suite.
pub(crate) fn per_suite(
    json: &Value,
    f: impl Fn(&Provider, &Value) -> Result<usize, String>,
) -> Tally {
    super::util::for_each_supported_suite(json, |suite, case| f(&Provider::new(suite), case))
}

fn e<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |err| format!("{what}: {err}")
}

/// `key-schedule.json`: five chained epochs per suite.
pub fn run_key_schedule(json: &Value) -> Tally {
    per_suite(json, |provider, case| {
        let group_id = hex_field(case, "group_id")?;
        let mut init_secret = hex_field(case, "initial_init_secret")?;
        let epochs = case
            .get("epochs")
            .and_then(Value::as_array)
            .ok_or("missing epochs")?;
        let mut checks = 0;
        for (n, ep) in epochs.iter().enumerate() {
            let gc = GroupContext {
                version: ProtocolVersion::MLS10,
                cipher_suite: CipherSuiteId(provider.suite().id()),
                group_id: VLBytes::new(group_id.clone()),
                epoch: n as u64,
                tree_hash: VLBytes::new(hex_field(ep, "tree_hash")?),
                confirmed_transcript_hash: VLBytes::new(hex_field(
                    ep,
                    "confirmed_transcript_hash",
                )?),
                extensions: vec![],
            };
            let gc_bytes = codec::encode(&gc).map_err(e("encode group context"))?;
            checks += expect_eq("group_context", &gc_bytes, &hex_field(ep, "group_context")?)?;
            let s = EpochSecrets::derive(
                provider,
                &init_secret,
                &hex_field(ep, "commit_secret")?,
                &hex_field(ep, "psk_secret")?,
                &gc_bytes,
            )
            .map_err(e("key schedule"))?;
            let fields: [(&str, &Secret); 11] = [
                ("joiner_secret", &s.joiner_secret),
                ("welcome_secret", &s.welcome_secret),
                ("init_secret", &s.init_secret),
                ("sender_data_secret", &s.sender_data_secret),
                ("encryption_secret", &s.encryption_secret),
                ("exporter_secret", &s.exporter_secret),
                ("epoch_authenticator", &s.epoch_authenticator),
                ("external_secret", &s.external_secret),
                ("confirmation_key", &s.confirmation_key),
                ("membership_key", &s.membership_key),
                ("resumption_psk", &s.resumption_psk),
            ];
            for (name, got) in fields {
                checks += expect_eq(
                    &format!("epoch {n} {name}"),
                    got.as_bytes(),
                    &hex_field(ep, name)?[..],
                )?;
            }
            let external_pub = s.external_pub(provider).map_err(e("external_pub"))?;
            checks += expect_eq("external_pub", external_pub, hex_field(ep, "external_pub")?)?;
            let exp = ep.get("exporter").ok_or("missing exporter")?;
            let label = exp
                .get("label")
                .and_then(Value::as_str)
                .ok_or("missing exporter.label")?;
            let length = u16::try_from(u64_field(exp, "length")?).map_err(e("exporter length"))?;
            let secret = s
                .export(
                    provider,
                    label.as_bytes(),
                    &hex_field(exp, "context")?,
                    length,
                )
                .map_err(e("exporter"))?;
            checks += expect_eq(
                "exporter.secret",
                secret.as_bytes(),
                &hex_field(exp, "secret")?[..],
            )?;
            init_secret = s.init_secret.as_bytes().to_vec();
        }
        Ok(checks)
    })
}

/// `psk_secret.json`: 0 to 10 external PSKs.
pub fn run_psk_secret(json: &Value) -> Tally {
    per_suite(json, |provider, case| {
        let psks = case
            .get("psks")
            .and_then(Value::as_array)
            .ok_or("missing psks")?;
        let mut list = Vec::with_capacity(psks.len());
        for p in psks {
            let id = PreSharedKeyId {
                source: PskSource::External {
                    psk_id: VLBytes::new(hex_field(p, "psk_id")?),
                },
                psk_nonce: VLBytes::new(hex_field(p, "psk_nonce")?),
            };
            list.push((id, Secret::new(hex_field(p, "psk")?)));
        }
        let got = schedule::psk_secret(provider, &list).map_err(e("psk_secret"))?;
        expect_eq(
            "psk_secret",
            got.as_bytes(),
            &hex_field(case, "psk_secret")?[..],
        )
    })
}

/// `secret-tree.json`: sender-data key/nonce and every listed generation of every leaf.
pub fn run_secret_tree(json: &Value) -> Tally {
    per_suite(json, |provider, case| {
        let sd = case.get("sender_data").ok_or("missing sender_data")?;
        let (key, nonce) = secret_tree::sender_data_key_nonce(
            provider,
            &hex_field(sd, "sender_data_secret")?,
            &hex_field(sd, "ciphertext")?,
        )
        .map_err(e("sender data"))?;
        let mut checks = expect_eq(
            "sender_data.key",
            key.as_bytes(),
            &hex_field(sd, "key")?[..],
        )?;
        checks += expect_eq(
            "sender_data.nonce",
            nonce.as_bytes(),
            &hex_field(sd, "nonce")?[..],
        )?;
        let leaves = case
            .get("leaves")
            .and_then(Value::as_array)
            .ok_or("missing leaves")?;
        let mut tree = SecretTree::new(
            Secret::new(hex_field(case, "encryption_secret")?),
            leaves.len() as u32,
        );
        for (i, gens) in leaves.iter().enumerate() {
            for g in gens.as_array().ok_or("leaf entry not an array")? {
                let generation =
                    u32::try_from(u64_field(g, "generation")?).map_err(e("generation"))?;
                for (kind, k, n) in [
                    (RatchetKind::Handshake, "handshake_key", "handshake_nonce"),
                    (
                        RatchetKind::Application,
                        "application_key",
                        "application_nonce",
                    ),
                ] {
                    let rk = tree
                        .key(provider, LeafIndex(i as u32), kind, generation)
                        .map_err(e("ratchet"))?;
                    checks += expect_eq(
                        &format!("leaf {i} gen {generation} {k}"),
                        rk.key.as_bytes(),
                        &hex_field(g, k)?[..],
                    )?;
                    checks += expect_eq(
                        &format!("leaf {i} gen {generation} {n}"),
                        rk.nonce.as_bytes(),
                        &hex_field(g, n)?[..],
                    )?;
                }
            }
        }
        Ok(checks)
    })
}
