//! `welcome.json`: joining from a Welcome (RFC 9420 §12.4.3.1; mls-implementations
//! test-vectors.md, "Welcome").
//!
//! Find our entry by KeyPackageRef, decrypt the GroupSecrets with `init_priv`, decrypt the
//! GroupInfo, verify its signature with `signer_pub` and its confirmation tag with the key
//! schedule of the joiner secret (no PSKs).

use serde_json::Value;

use super::util::{expect_eq, hex_field};
use super::Tally;
use crate::codec::{self, KeyPackage, MlsMessage, MlsMessageBody, Welcome};
use crate::crypto::{CipherSuite, HpkePrivateKey, Provider};
use crate::welcome;

/// Run every case whose suite Canopy implements; skip the others.
pub fn run(json: &Value) -> Tally {
    super::util::for_each_supported_suite(json, run_case)
}

fn run_case(suite: CipherSuite, case: &Value) -> Result<usize, String> {
    let p = Provider::new(suite);
    let init_priv = HpkePrivateKey::new(hex_field(case, "init_priv")?);
    let signer_pub = hex_field(case, "signer_pub")?;
    let key_package: KeyPackage = match decode(case, "key_package")?.body {
        MlsMessageBody::KeyPackage(kp) => kp,
        other => return Err(format!("key_package: {:?}", other.wire_format())),
    };
    let welcome_msg: Welcome = match decode(case, "welcome")?.body {
        MlsMessageBody::Welcome(w) => w,
        other => return Err(format!("welcome: {:?}", other.wire_format())),
    };
    let mut checks = 0;

    // Step by step, counting each verified value.
    let kp_ref = welcome::key_package_ref(&p, &key_package).map_err(|e| e.to_string())?;
    welcome::find_secrets(&welcome_msg, &kp_ref).map_err(|e| format!("find secrets: {e}"))?;
    checks += 1;
    let secrets = welcome::decrypt_group_secrets(&p, &welcome_msg, &key_package, &init_priv)
        .map_err(|e| format!("decrypt group secrets: {e}"))?;
    checks += expect_eq("psks", secrets.psks.len(), 0)?;
    let psk_secret = crate::schedule::psk_secret(&p, &[]).map_err(|e| e.to_string())?;
    let welcome_secret = welcome::welcome_secret(&p, &secrets.joiner_secret, &psk_secret)
        .map_err(|e| e.to_string())?;
    let group_info = welcome::decrypt_group_info(&p, &welcome_msg, &welcome_secret)
        .map_err(|e| format!("decrypt group info: {e}"))?;
    checks += 1;
    welcome::verify_group_info(&p, &group_info, &signer_pub)
        .map_err(|e| format!("group info signature: {e}"))?;
    checks += 1;

    // The whole procedure, which also checks the confirmation tag.
    let joined = welcome::join(
        &p,
        &welcome_msg,
        &key_package,
        &init_priv,
        |_| None,
        |_| Some(&signer_pub),
    )
    .map_err(|e| format!("join: {e}"))?;
    checks += expect_eq("group info", &joined.group_info, &group_info)?;
    checks += expect_eq(
        "confirmation_tag",
        joined.epoch_secrets.confirmation_tag(
            &p,
            group_info
                .group_context
                .confirmed_transcript_hash
                .as_slice(),
        ),
        group_info.confirmation_tag.as_slice().to_vec(),
    )?;

    // A wrong signer key is rejected.
    let (_, wrong_pub) = p.generate_signature_key_pair();
    let wrong = welcome::join(
        &p,
        &welcome_msg,
        &key_package,
        &init_priv,
        |_| None,
        |_| Some(&wrong_pub),
    );
    if wrong.is_ok() {
        return Err("join accepted a wrong signer key".to_string());
    }
    checks += 1;
    Ok(checks)
}

fn decode(case: &Value, name: &str) -> Result<MlsMessage, String> {
    codec::decode(&hex_field(case, name)?).map_err(|e| format!("{name}: decode: {e}"))
}
