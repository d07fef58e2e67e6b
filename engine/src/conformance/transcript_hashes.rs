//! `transcript-hashes.json`: confirmed and interim transcript hashes and the confirmation
//! tag (RFC 9420 §6.1, §8.2; mls-implementations test-vectors.md, "Transcript Hashes").

use serde_json::Value;

use super::util::{expect_eq, hex_field};
use super::Tally;
use crate::codec::{self, AuthenticatedContent, ContentType};
use crate::crypto::{CipherSuite, Provider, Secret};
use crate::framing;
use crate::schedule;

/// Run every case whose suite Canopy implements; skip the others.
pub fn run(json: &Value) -> Tally {
    super::util::for_each_supported_suite(json, run_case)
}

fn run_case(suite: CipherSuite, case: &Value) -> Result<usize, String> {
    let p = Provider::new(suite);
    let confirmation_key = Secret::new(hex_field(case, "confirmation_key")?);
    let content: AuthenticatedContent =
        codec::decode(&hex_field(case, "authenticated_content")?)
            .map_err(|e| format!("authenticated_content: decode: {e}"))?;
    let interim_before = hex_field(case, "interim_transcript_hash_before")?;
    let confirmed_after = hex_field(case, "confirmed_transcript_hash_after")?;
    let interim_after = hex_field(case, "interim_transcript_hash_after")?;

    let mut checks = expect_eq(
        "content_type",
        content.content.content_type(),
        ContentType::Commit,
    )?;
    let tag = content
        .auth
        .confirmation_tag
        .as_ref()
        .ok_or("commit without confirmation_tag")?
        .as_slice();
    framing::verify_confirmation_tag(&p, &confirmation_key, &confirmed_after, tag)
        .map_err(|e| format!("confirmation_tag: {e}"))?;
    checks += 1;

    let confirmed = schedule::confirmed_transcript_hash(
        &p,
        &interim_before,
        content.wire_format,
        &content.content,
        content.auth.signature.as_slice(),
    )
    .map_err(|e| e.to_string())?;
    checks += expect_eq(
        "confirmed_transcript_hash_after",
        &confirmed,
        &confirmed_after,
    )?;
    let interim =
        schedule::interim_transcript_hash(&p, &confirmed, tag).map_err(|e| e.to_string())?;
    checks += expect_eq("interim_transcript_hash_after", &interim, &interim_after)?;
    Ok(checks)
}
