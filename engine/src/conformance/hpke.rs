//! RFC 9180 `test-vectors.json`: DeriveKeyPair, deterministic Encap, the Seal/Open sequence
//! and Export, in all four modes, through hpke-rs over both Canopy's aws-lc back end and the
//! independent RustCrypto back end.
//!
//! Both back ends get their ephemeral randomness from [`HpkeRng::fixed`]`(ikmE)`, so `enc`
//! and every ciphertext must equal the vector byte for byte. For vectors of an MLS suite
//! Canopy implements (base mode, X25519, HKDF-SHA256, AES-128-GCM or ChaCha20-Poly1305) the
//! provider's own `hpke_seal_with_ikm` / `hpke_open` are checked as well. The base-mode
//! vectors of the other MLS suites' KEMs (P-256, P-521, X448; RFC 9180 has none for P-384)
//! run through Canopy's own HPKE only (`run_own`), as hpke-rs's aws-lc back end here runs
//! X25519 alone.

use hpke_rs::{Hpke, HpkePrivateKey as RsPrivateKey, HpkePublicKey as RsPublicKey, Mode};
use hpke_rs_crypto::types::{AeadAlgorithm, KdfAlgorithm, KemAlgorithm};
use hpke_rs_crypto::HpkeCrypto;
use hpke_rs_rust_crypto::HpkeRustCrypto;
use serde_json::Value;

use super::util::{cases, expect_eq, hex_field, u64_field};
use super::Tally;
use crate::crypto::hpke_backend::derive_x25519_key_pair;
use crate::crypto::{CipherSuite, HpkeAwsLc, HpkeRng, Provider, WithHpkeRng};

/// Run every vector whose (kem, kdf, aead) the aws-lc back end supports; skip the others.
pub fn run(json: &Value) -> Tally {
    let mut tally = Tally::default();
    for (i, v) in cases(json).iter().enumerate() {
        let ids = ["mode", "kem_id", "kdf_id", "aead_id"].map(|k| {
            v.get(k)
                .and_then(Value::as_u64)
                .and_then(|x| u16::try_from(x).ok())
                .unwrap_or(0)
        });
        let [mode, kem, kdf, aead] = ids;
        let name = format!("vector {i} (mode {mode}, kem 0x{kem:04x}, kdf {kdf}, aead {aead})");
        match (algorithms(kem, kdf, aead), mls_suite(kem, kdf, aead)) {
            (Some(algs), _) => tally.case(name, || run_vector(v, algs)),
            (None, Some(suite)) if mode == 0 => tally.case(name, || run_own(v, suite)),
            (None, Some(_)) => tally.skip(format_args!(
                "kem/kdf/aead 0x{kem:04x}/{kdf}/{aead} in mode {mode}: MLS uses only base mode, \
                 and Canopy runs this KEM only through its own base-mode HPKE"
            )),
            (None, None) => tally.skip(format_args!(
                "kem/kdf/aead 0x{kem:04x}/{kdf}/{aead} not supported"
            )),
        }
    }
    tally
}

type Algorithms = (KemAlgorithm, KdfAlgorithm, AeadAlgorithm);

/// The MLS suite whose HPKE is (kem, kdf, aead), if Canopy implements it.
fn mls_suite(kem: u16, kdf: u16, aead: u16) -> Option<CipherSuite> {
    CipherSuite::ALL
        .iter()
        .copied()
        .find(|s| s.kem().id() == kem && s.hpke_kdf_id() == kdf && s.aead().hpke_id() == aead)
}

/// A base-mode vector of an MLS suite whose KEM hpke-rs's aws-lc back end does not run
/// (P-256, P-521, X448): Canopy's own HPKE through the provider: `DeriveKeyPair(ikmR)`,
/// `DeriveKeyPair(ikmE)` (as the ephemeral key of the seal), the first Seal and Open (the
/// single-shot HPKE MLS uses; later encryptions use sequence numbers MLS never reaches), and
/// every Export on the receiving side.
fn run_own(v: &Value, suite: CipherSuite) -> Result<usize, String> {
    let p = Provider::new(suite);
    let mut checks = 0;
    let (sk_r, pk_r) = p
        .derive_hpke_key_pair(&hex_field(v, "ikmR")?)
        .map_err(|e| format!("DeriveKeyPair(ikmR): {e}"))?;
    checks += expect_eq("DeriveKeyPair(ikmR).pk", &pk_r, &hex_field(v, "pkRm")?)?;
    checks += expect_eq(
        "DeriveKeyPair(ikmR).sk",
        sk_r.as_bytes(),
        &hex_field(v, "skRm")?,
    )?;
    let (sk_e, pk_e) = p
        .derive_hpke_key_pair(&hex_field(v, "ikmE")?)
        .map_err(|e| format!("DeriveKeyPair(ikmE): {e}"))?;
    checks += expect_eq("DeriveKeyPair(ikmE).pk", &pk_e, &hex_field(v, "pkEm")?)?;
    checks += expect_eq(
        "DeriveKeyPair(ikmE).sk",
        sk_e.as_bytes(),
        &hex_field(v, "skEm")?,
    )?;
    let (first, info, aad, pt) = first_encryption(v)?;
    let (enc, ct) = p
        .hpke_seal_with_ikm(&pk_r, &info, &aad, &pt, &hex_field(v, "ikmE")?)
        .map_err(|e| format!("seal: {e}"))?;
    checks += expect_eq("enc", &enc, &hex_field(v, "enc")?)?;
    checks += expect_eq("ct 0", &ct, &hex_field(first, "ct")?)?;
    let opened = p
        .hpke_open(&sk_r, &enc, &info, &aad, &ct)
        .map_err(|e| format!("open: {e}"))?;
    checks += expect_eq("pt 0", &opened, &pt)?;
    for (i, (ctx, len, want)) in exports(v)?.into_iter().enumerate() {
        let got = p
            .hpke_receiver_export(&sk_r, &enc, &info, &ctx, len)
            .map_err(|e| format!("export {i}: {e}"))?;
        checks += expect_eq(&format!("receiver export {i}"), got.as_bytes(), &want)?;
    }
    Ok(checks)
}

/// A vector's first encryption, `info`, and the encryption's `aad` and `pt`.
type FirstEncryption<'a> = (&'a Value, Vec<u8>, Vec<u8>, Vec<u8>);

/// An export of a vector: `exporter_context`, `L`, `exported_value`.
type Export = (Vec<u8>, usize, Vec<u8>);

/// A vector's `info` and its first encryption: (the encryption, `info`, `aad`, `pt`).
fn first_encryption(v: &Value) -> Result<FirstEncryption<'_>, String> {
    let first = v
        .get("encryptions")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .ok_or("no encryptions")?;
    Ok((
        first,
        hex_field(v, "info")?,
        hex_field(first, "aad")?,
        hex_field(first, "pt")?,
    ))
}

/// A vector's exports: (`exporter_context`, `L`, `exported_value`) of each, in order.
fn exports(v: &Value) -> Result<Vec<Export>, String> {
    v.get("exports")
        .and_then(Value::as_array)
        .ok_or("no exports")?
        .iter()
        .map(|x| {
            Ok((
                hex_field(x, "exporter_context")?,
                usize::try_from(u64_field(x, "L")?).map_err(|e| e.to_string())?,
                hex_field(x, "exported_value")?,
            ))
        })
        .collect()
}

/// The algorithms, if Canopy's back end implements all three.
fn algorithms(kem: u16, kdf: u16, aead: u16) -> Option<Algorithms> {
    let kem = KemAlgorithm::try_from(kem).ok()?;
    let kdf = KdfAlgorithm::try_from(kdf).ok()?;
    let aead = AeadAlgorithm::try_from(aead).ok()?;
    HpkeAwsLc::supports_kem(kem).ok()?;
    HpkeAwsLc::supports_kdf(kdf).ok()?;
    HpkeAwsLc::supports_aead(aead).ok()?;
    Some((kem, kdf, aead))
}

fn run_vector(v: &Value, algs: Algorithms) -> Result<usize, String> {
    let mut checks = run_backend::<HpkeAwsLc>(v, algs).map_err(|e| format!("[aws-lc] {e}"))?;
    checks += run_backend::<WithHpkeRng<HpkeRustCrypto>>(v, algs)
        .map_err(|e| format!("[RustCrypto] {e}"))?;
    checks += run_provider(v, algs).map_err(|e| format!("[Provider] {e}"))?;
    Ok(checks)
}

/// Optional hex field (`psk`, `psk_id`, `ikmS`, ...).
fn opt_hex(v: &Value, key: &str) -> Result<Option<Vec<u8>>, String> {
    if v.get(key).is_some() {
        hex_field(v, key).map(Some)
    } else {
        Ok(None)
    }
}

fn run_backend<C>(v: &Value, (kem, kdf, aead): Algorithms) -> Result<usize, String>
where
    C: HpkeCrypto<HpkePrng = HpkeRng> + 'static,
{
    let mode_id = u8::try_from(u64_field(v, "mode")?).map_err(|e| e.to_string())?;
    let mode = Mode::try_from(mode_id).map_err(|e| e.to_string())?;
    let mut hpke =
        Hpke::<C>::new_with_rng(mode, kem, kdf, aead, HpkeRng::fixed(&hex_field(v, "ikmE")?));
    let mut checks = 0;

    // DeriveKeyPair (RFC 9180 §7.1.3) for the recipient, the ephemeral and the sender keys.
    let mut derive = |ikm: &str, sk: &str, pk: &str| -> Result<Option<RsPrivateKey>, String> {
        let Some(ikm_bytes) = opt_hex(v, ikm)? else {
            return Ok(None);
        };
        let kp = hpke
            .derive_key_pair(&ikm_bytes)
            .map_err(|e| format!("derive {ikm}: {e}"))?;
        checks += expect_eq(pk, kp.public_key().as_slice(), &hex_field(v, pk)?)?;
        // hpke-rs keeps private-key bytes private; compare in constant time through its `Eq`.
        let want = RsPrivateKey::new(hex_field(v, sk)?);
        if kp.private_key() != &want {
            return Err(format!("{sk}: derived private key differs"));
        }
        checks += 1;
        Ok(Some(want))
    };
    let sk_r = derive("ikmR", "skRm", "pkRm")?.ok_or("missing ikmR")?;
    derive("ikmE", "skEm", "pkEm")?;
    let sk_s = derive("ikmS", "skSm", "pkSm")?;
    let pk_r = RsPublicKey::new(hex_field(v, "pkRm")?);
    let pk_s = opt_hex(v, "pkSm")?.map(RsPublicKey::new);
    let psk = opt_hex(v, "psk")?;
    let psk_id = opt_hex(v, "psk_id")?;
    let info = hex_field(v, "info")?;

    // Encap with the ephemeral key DeriveKeyPair(ikmE), then the key schedule on both sides.
    let (enc, mut sender) = hpke
        .setup_sender(
            &pk_r,
            &info,
            psk.as_deref(),
            psk_id.as_deref(),
            sk_s.as_ref(),
        )
        .map_err(|e| format!("setup_sender: {e}"))?;
    checks += expect_eq("enc", &enc, &hex_field(v, "enc")?)?;
    let mut receiver = hpke
        .setup_receiver(
            &enc,
            &sk_r,
            &info,
            psk.as_deref(),
            psk_id.as_deref(),
            pk_s.as_ref(),
        )
        .map_err(|e| format!("setup_receiver: {e}"))?;

    // Seal and Open every encryption in order: the sequence number is the index.
    let encryptions = v
        .get("encryptions")
        .and_then(Value::as_array)
        .ok_or("no encryptions")?;
    for (seq, e) in encryptions.iter().enumerate() {
        let (aad, pt, ct) = (
            hex_field(e, "aad")?,
            hex_field(e, "pt")?,
            hex_field(e, "ct")?,
        );
        let sealed = sender
            .seal(&aad, &pt)
            .map_err(|err| format!("seal {seq}: {err}"))?;
        checks += expect_eq(&format!("ct {seq}"), &sealed, &ct)?;
        let opened = receiver
            .open(&aad, &ct)
            .map_err(|err| format!("open {seq}: {err}"))?;
        checks += expect_eq(&format!("pt {seq}"), &opened, &pt)?;
    }

    for (i, (ctx, len, want)) in exports(v)?.into_iter().enumerate() {
        let got = sender
            .export(&ctx, len)
            .map_err(|e| format!("export {i}: {e}"))?;
        checks += expect_eq(&format!("sender export {i}"), &got, &want)?;
        let got = receiver
            .export(&ctx, len)
            .map_err(|e| format!("export {i}: {e}"))?;
        checks += expect_eq(&format!("receiver export {i}"), &got, &want)?;
    }
    Ok(checks)
}

/// The provider's own API: `derive_hpke_key_pair` for every X25519 vector, and for base-mode
/// vectors of an MLS suite, `hpke_seal_with_ikm` and `hpke_open` on the first encryption.
fn run_provider(v: &Value, (kem, kdf, aead): Algorithms) -> Result<usize, String> {
    let mut checks = 0;
    if kem != KemAlgorithm::DhKem25519 {
        return Ok(0);
    }
    let (sk_r, pk_r) = derive_x25519_key_pair(&hex_field(v, "ikmR")?).map_err(|e| e.to_string())?;
    checks += expect_eq("DeriveKeyPair(ikmR).pk", &pk_r, &hex_field(v, "pkRm")?)?;
    checks += expect_eq(
        "DeriveKeyPair(ikmR).sk",
        sk_r.as_bytes(),
        &hex_field(v, "skRm")?,
    )?;

    let suite = match aead {
        AeadAlgorithm::Aes128Gcm => CipherSuite::Mls128X25519Aes128GcmSha256Ed25519,
        AeadAlgorithm::ChaCha20Poly1305 => CipherSuite::Mls128X25519ChaCha20Poly1305Sha256Ed25519,
        _ => return Ok(checks),
    };
    if kdf != KdfAlgorithm::HkdfSha256 || u64_field(v, "mode")? != 0 {
        return Ok(checks);
    }
    let p = Provider::new(suite);
    let (sk, pk) = p
        .derive_hpke_key_pair(&hex_field(v, "ikmR")?)
        .map_err(|e| e.to_string())?;
    checks += expect_eq("provider pk", &pk, &pk_r)?;
    let (first, info, aad, pt) = first_encryption(v)?;
    let (enc, ct) = p
        .hpke_seal_with_ikm(&pk, &info, &aad, &pt, &hex_field(v, "ikmE")?)
        .map_err(|e| e.to_string())?;
    checks += expect_eq("provider enc", &enc, &hex_field(v, "enc")?)?;
    checks += expect_eq("provider ct 0", &ct, &hex_field(first, "ct")?)?;
    let opened = p
        .hpke_open(&sk, &enc, &info, &aad, &ct)
        .map_err(|e| e.to_string())?;
    checks += expect_eq("provider open", &opened, &pt)?;
    Ok(checks)
}
