//! `crypto-basics.json`: RefHash, ExpandWithLabel, DeriveSecret, DeriveTreeSecret,
//! Sign/VerifyWithLabel and Encrypt/DecryptWithLabel (RFC 9420 §5.1, §5.2, §8, §9.1).

use serde_json::Value;

use super::util::{expect_eq, hex_field, u64_field};
use super::Tally;
use crate::crypto::{CipherSuite, HpkePrivateKey, Provider, SignatureScheme};

/// Run every case whose suite Canopy implements; skip the others.
pub fn run(json: &Value) -> Tally {
    super::util::for_each_supported_suite(json, run_case)
}

fn obj<'a>(case: &'a Value, key: &str) -> Result<&'a Value, String> {
    case.get(key).ok_or_else(|| format!("missing {key}"))
}

fn str_field<'a>(v: &'a Value, key: &str) -> Result<&'a [u8], String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::as_bytes)
        .ok_or_else(|| format!("missing {key}"))
}

fn u16_field(v: &Value, key: &str) -> Result<u16, String> {
    u16::try_from(u64_field(v, key)?).map_err(|e| format!("{key}: {e}"))
}

fn run_case(suite: CipherSuite, case: &Value) -> Result<usize, String> {
    let p = Provider::new(suite);
    let e = |e: crate::crypto::CryptoError| e.to_string();
    let mut checks = 0;

    let v = obj(case, "ref_hash")?;
    let got = p
        .ref_hash(str_field(v, "label")?, &hex_field(v, "value")?)
        .map_err(e)?;
    checks += expect_eq("ref_hash", got, hex_field(v, "out")?)?;

    let v = obj(case, "expand_with_label")?;
    let got = p
        .expand_with_label(
            &hex_field(v, "secret")?,
            str_field(v, "label")?,
            &hex_field(v, "context")?,
            u16_field(v, "length")?,
        )
        .map_err(e)?;
    checks += expect_eq("expand_with_label", got.as_bytes(), &hex_field(v, "out")?)?;

    let v = obj(case, "derive_secret")?;
    let got = p
        .derive_secret(&hex_field(v, "secret")?, str_field(v, "label")?)
        .map_err(e)?;
    checks += expect_eq("derive_secret", got.as_bytes(), &hex_field(v, "out")?)?;

    let v = obj(case, "derive_tree_secret")?;
    let generation = u32::try_from(u64_field(v, "generation")?).map_err(|e| e.to_string())?;
    let got = p
        .derive_tree_secret(
            &hex_field(v, "secret")?,
            str_field(v, "label")?,
            generation,
            u16_field(v, "length")?,
        )
        .map_err(e)?;
    checks += expect_eq("derive_tree_secret", got.as_bytes(), &hex_field(v, "out")?)?;

    // SignWithLabel: verify the published signature, re-sign and verify our own; EdDSA is
    // deterministic, so there our signature must also equal the published one (ECDSA draws a
    // fresh nonce per signature).
    let v = obj(case, "sign_with_label")?;
    let (label, content) = (str_field(v, "label")?, hex_field(v, "content")?);
    let (sk, pk) = p
        .signature_key_pair_from_seed(&hex_field(v, "priv")?)
        .map_err(e)?;
    checks += expect_eq("sign_with_label pub", &pk, &hex_field(v, "pub")?)?;
    let want_sig = hex_field(v, "signature")?;
    p.verify_with_label(&pk, label, &content, &want_sig)
        .map_err(|err| format!("verify published signature: {err}"))?;
    checks += 1;
    let sig = p.sign_with_label(&sk, label, &content).map_err(e)?;
    if matches!(
        p.signature_scheme(),
        SignatureScheme::Ed25519 | SignatureScheme::Ed448
    ) {
        checks += expect_eq("sign_with_label signature", &sig, &want_sig)?;
    }
    p.verify_with_label(&pk, label, &content, &sig)
        .map_err(|err| format!("verify own signature: {err}"))?;
    checks += 1;
    let mut bad = sig.clone();
    bad[0] ^= 1;
    if p.verify_with_label(&pk, label, &content, &bad).is_ok() {
        return Err("tampered signature verified".into());
    }
    checks += 1;

    // EncryptWithLabel: decrypt the published ciphertext, then round-trip a fresh one.
    let v = obj(case, "encrypt_with_label")?;
    let (label, context) = (str_field(v, "label")?, hex_field(v, "context")?);
    let sk = HpkePrivateKey::new(hex_field(v, "priv")?);
    let pk = hex_field(v, "pub")?;
    let plaintext = hex_field(v, "plaintext")?;
    checks += expect_eq(
        "encrypt_with_label pub",
        &p.hpke_public_key(&sk).map_err(e)?,
        &pk,
    )?;
    let got = p
        .decrypt_with_label(
            &sk,
            label,
            &context,
            &hex_field(v, "kem_output")?,
            &hex_field(v, "ciphertext")?,
        )
        .map_err(|err| format!("decrypt published ciphertext: {err}"))?;
    checks += expect_eq("decrypt_with_label", &got, &plaintext)?;
    let (kem_output, ct) = p
        .encrypt_with_label(&pk, label, &context, &plaintext)
        .map_err(e)?;
    let got = p
        .decrypt_with_label(&sk, label, &context, &kem_output, &ct)
        .map_err(e)?;
    checks += expect_eq("encrypt/decrypt round trip", &got, &plaintext)?;
    Ok(checks)
}
