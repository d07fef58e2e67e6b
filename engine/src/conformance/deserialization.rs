//! `deserialization.json`: RFC 9420 §2.1.2 variable-length vector headers
//! (mls-implementations test-vectors.md, "Vector Deserialization").

use serde_json::Value;

use super::util::{cases, expect_eq, hex_field, u64_field};
use super::Tally;
use crate::codec;

/// Run every case: the header is decoded by Canopy's varint reader and by tls_codec's vector
/// length reader (two checks), and must be consumed exactly.
pub fn run(json: &Value) -> Tally {
    let mut tally = Tally::default();
    for (i, case) in cases(json).iter().enumerate() {
        tally.case(format_args!("case {i}"), || run_case(case));
    }
    tally
}

fn run_case(case: &Value) -> Result<usize, String> {
    let header = hex_field(case, "vlbytes_header")?;
    let want = u64_field(case, "length")?;
    let (len, used) = codec::decode_varint_length(&header).map_err(|e| e.to_string())?;
    let mut checks = expect_eq("length", u64::from(len), want)?;
    checks += expect_eq("header size", used, header.len())?;
    let mut r = header.as_slice();
    let (tls_len, _) = tls_codec::vlen::read_length(&mut r).map_err(|e| e.to_string())?;
    checks += expect_eq("tls_codec length", tls_len as u64, want)?;
    checks += expect_eq("tls_codec leftover", r.len(), 0)?;
    let mut again = Vec::new();
    codec::encode_varint_length(len as usize, &mut again).map_err(|e| e.to_string())?;
    checks += expect_eq("re-encoding", again, header)?;
    Ok(checks)
}
