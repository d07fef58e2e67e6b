//! `messages.json`: every RFC 9420 wire struct decodes and re-encodes byte for byte
//! (mls-implementations test-vectors.md, "Messages").

use serde_json::Value;

use super::util::{cases, hex_field};
use super::Tally;
use crate::codec::{
    self, Add, Commit, ExternalInit, GroupContextExtensions, GroupSecrets, MlsMessage,
    PreSharedKey, RatchetTree, ReInit, Remove, Update, WireFormat,
};

/// Run every case: each of the 17 fields is one check.
pub fn run(json: &Value) -> Tally {
    let mut tally = Tally::default();
    for (i, case) in cases(json).iter().enumerate() {
        tally.case(format_args!("case {i}"), || run_case(case));
    }
    tally
}

/// Decode `bytes` as `T` and require the re-encoding to be identical.
fn round_trip<T: tls_codec::Deserialize + tls_codec::Serialize>(
    name: &str,
    bytes: &[u8],
) -> Result<T, String> {
    let v: T = codec::decode(bytes).map_err(|e| format!("{name}: decode: {e}"))?;
    let again = codec::encode(&v).map_err(|e| format!("{name}: encode: {e}"))?;
    if again != bytes {
        return Err(format!(
            "{name}: re-encoding differs ({} vs {} bytes)",
            again.len(),
            bytes.len()
        ));
    }
    Ok(v)
}

/// An `MLSMessage` field that must carry `wire_format`.
fn message(case: &Value, name: &str, wire_format: WireFormat) -> Result<MlsMessage, String> {
    let m: MlsMessage = round_trip(name, &hex_field(case, name)?)?;
    if m.wire_format() != wire_format {
        return Err(format!(
            "{name}: wire_format {:?}, want {wire_format:?}",
            m.wire_format()
        ));
    }
    Ok(m)
}

fn field<T: tls_codec::Deserialize + tls_codec::Serialize>(
    case: &Value,
    name: &str,
) -> Result<usize, String> {
    round_trip::<T>(name, &hex_field(case, name)?).map(|_| 1)
}

fn public_content_type(
    case: &Value,
    name: &str,
    want: codec::ContentType,
) -> Result<usize, String> {
    match message(case, name, WireFormat::PublicMessage)?.body {
        codec::MlsMessageBody::PublicMessage(pm) if pm.content.content_type() == want => Ok(1),
        codec::MlsMessageBody::PublicMessage(pm) => Err(format!(
            "{name}: content_type {:?}, want {want:?}",
            pm.content.content_type()
        )),
        _ => Err(format!("{name}: not a PublicMessage")),
    }
}

fn run_case(case: &Value) -> Result<usize, String> {
    use codec::ContentType as C;
    let mut checks = 0;
    message(case, "mls_welcome", WireFormat::Welcome)?;
    message(case, "mls_group_info", WireFormat::GroupInfo)?;
    message(case, "mls_key_package", WireFormat::KeyPackage)?;
    checks += 3;
    checks += field::<RatchetTree>(case, "ratchet_tree")?;
    checks += field::<GroupSecrets>(case, "group_secrets")?;
    checks += field::<Add>(case, "add_proposal")?;
    checks += field::<Update>(case, "update_proposal")?;
    checks += field::<Remove>(case, "remove_proposal")?;
    checks += field::<PreSharedKey>(case, "pre_shared_key_proposal")?;
    checks += field::<ReInit>(case, "re_init_proposal")?;
    checks += field::<ExternalInit>(case, "external_init_proposal")?;
    checks += field::<GroupContextExtensions>(case, "group_context_extensions_proposal")?;
    checks += field::<Commit>(case, "commit")?;
    checks += public_content_type(case, "public_message_application", C::Application)?;
    checks += public_content_type(case, "public_message_proposal", C::Proposal)?;
    checks += public_content_type(case, "public_message_commit", C::Commit)?;
    message(case, "private_message", WireFormat::PrivateMessage)?;
    checks += 1;
    Ok(checks)
}
