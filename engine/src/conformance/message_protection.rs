//! `message-protection.json`: PublicMessage and PrivateMessage protection (RFC 9420 §6.1-§6.3;
//! mls-implementations test-vectors.md, "Message Protection").
//!
//! For each of the proposal, commit and application: unprotect the given messages (leaf 1 of
//! a two-leaf secret tree is the sender) and compare the content with the raw value, then
//! protect the raw value ourselves and unprotect the result. Protecting the application as a
//! PublicMessage must fail.

use crate::error::PeerMisbehaved;
use serde_json::Value;

use super::util::{expect_eq, hex_field, u64_field};
use super::Tally;
use crate::codec::{
    self, CipherSuiteId, FramedContent, FramedContentBody, GroupContext, Mac, MlsMessage,
    MlsMessageBody, PrivateMessage, ProtocolVersion, PublicMessage, Sender, WireFormat,
};
use crate::crypto::{CipherSuite, Provider, Secret, SignaturePrivateKey};
use crate::framing::{self, EpochFraming};
use crate::Error;

/// Run every case whose suite Canopy implements; skip the others.
pub fn run(json: &Value) -> Tally {
    super::util::for_each_supported_suite(json, run_case)
}

/// The sender of every message in the vectors.
const SENDER: Sender = Sender::Member { leaf_index: 1 };

/// Padding for our own PrivateMessages (any length must round-trip).
const PADDING: usize = 13;

struct Ctx {
    provider: Provider,
    group_context: GroupContext,
    membership_key: Vec<u8>,
    sender_data_secret: Vec<u8>,
    encryption_secret: Vec<u8>,
    sk: SignaturePrivateKey,
    pk: Vec<u8>,
}

impl Ctx {
    /// A fresh framing state: a two-leaf secret tree from `encryption_secret`.
    fn framing(&self) -> EpochFraming {
        EpochFraming::new(
            self.provider,
            self.group_context.clone(),
            Secret::from_slice(&self.membership_key),
            Secret::from_slice(&self.sender_data_secret),
            Secret::from_slice(&self.encryption_secret),
            2,
        )
    }

    /// The signature key of a sender: only leaf 1 is known.
    fn key<'a>(&'a self) -> impl Fn(&Sender) -> Option<&'a [u8]> + 'a {
        |s: &Sender| (*s == SENDER).then_some(self.pk.as_slice())
    }
}

fn decode_message(case: &Value, name: &str) -> Result<MlsMessage, String> {
    codec::decode(&hex_field(case, name)?).map_err(|e| format!("{name}: decode: {e}"))
}

fn public_message(case: &Value, name: &str) -> Result<PublicMessage, String> {
    match decode_message(case, name)?.body {
        MlsMessageBody::PublicMessage(m) => Ok(m),
        other => Err(format!(
            "{name}: {:?}, not a PublicMessage",
            other.wire_format()
        )),
    }
}

fn private_message(case: &Value, name: &str) -> Result<PrivateMessage, String> {
    match decode_message(case, name)?.body {
        MlsMessageBody::PrivateMessage(m) => Ok(m),
        other => Err(format!(
            "{name}: {:?}, not a PrivateMessage",
            other.wire_format()
        )),
    }
}

/// Encode as an `MLSMessage` and decode again, as a receiver would see it.
fn over_the_wire(body: MlsMessageBody) -> Result<MlsMessageBody, String> {
    let bytes = codec::encode(&MlsMessage {
        version: ProtocolVersion::MLS10,
        body,
    })
    .map_err(|e| format!("encode MLSMessage: {e}"))?;
    codec::decode::<MlsMessage>(&bytes)
        .map(|m| m.body)
        .map_err(|e| format!("decode our MLSMessage: {e}"))
}

fn run_case(suite: CipherSuite, case: &Value) -> Result<usize, String> {
    let provider = Provider::new(suite);
    let sk = SignaturePrivateKey::from_bytes(
        provider.signature_scheme(),
        &hex_field(case, "signature_priv")?,
    )
    .map_err(|e| format!("signature_priv: {e}"))?;
    let ctx = Ctx {
        provider,
        group_context: GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: CipherSuiteId(suite.id()),
            group_id: hex_field(case, "group_id")?.into(),
            epoch: u64_field(case, "epoch")?,
            tree_hash: hex_field(case, "tree_hash")?.into(),
            confirmed_transcript_hash: hex_field(case, "confirmed_transcript_hash")?.into(),
            extensions: Vec::new(),
        },
        membership_key: hex_field(case, "membership_key")?,
        sender_data_secret: hex_field(case, "sender_data_secret")?,
        encryption_secret: hex_field(case, "encryption_secret")?,
        pk: hex_field(case, "signature_pub")?,
        sk,
    };
    let mut checks = expect_eq("signature_pub", ctx.sk.public_key(), ctx.pk.clone())?;

    let proposal = codec::decode(&hex_field(case, "proposal")?)
        .map_err(|e| format!("proposal: decode: {e}"))?;
    let commit =
        codec::decode(&hex_field(case, "commit")?).map_err(|e| format!("commit: decode: {e}"))?;
    let application = hex_field(case, "application")?;
    let bodies = [
        ("proposal", FramedContentBody::Proposal(proposal)),
        ("commit", FramedContentBody::Commit(commit)),
        (
            "application",
            FramedContentBody::Application {
                application_data: application.into(),
            },
        ),
    ];
    for (name, body) in bodies {
        checks += check_body(&ctx, case, name, body)?;
    }
    Ok(checks)
}

/// Every check for one of proposal / commit / application.
fn check_body(
    ctx: &Ctx,
    case: &Value,
    name: &str,
    body: FramedContentBody,
) -> Result<usize, String> {
    let mut checks = 0;
    let is_commit = matches!(body, FramedContentBody::Commit(_));
    let is_application = matches!(body, FramedContentBody::Application { .. });

    // The given PrivateMessage.
    let priv_msg = private_message(case, &format!("{name}_priv"))?;
    let got = ctx
        .framing()
        .unprotect_private(&priv_msg, ctx.key())
        .map_err(|e| format!("{name}_priv: unprotect: {e}"))?;
    checks += expect_eq(&format!("{name}_priv sender"), got.content.sender, SENDER)?;
    checks += expect_eq(&format!("{name}_priv content"), &got.content.content, &body)?;
    // The commit's confirmation tag is opaque here (the vectors do not give the key).
    let tag = got.auth.confirmation_tag.clone();
    let authenticated_data = got.content.authenticated_data.clone();

    // The given PublicMessage (none for the application).
    if !is_application {
        let pub_msg = public_message(case, &format!("{name}_pub"))?;
        let got = ctx
            .framing()
            .unprotect_public(pub_msg, ctx.key())
            .map_err(|e| format!("{name}_pub: unprotect: {e}"))?;
        checks += expect_eq(&format!("{name}_pub sender"), got.content.sender, SENDER)?;
        checks += expect_eq(&format!("{name}_pub content"), &got.content.content, &body)?;
    }

    let content = FramedContent {
        group_id: ctx.group_context.group_id.clone(),
        epoch: ctx.group_context.epoch,
        sender: SENDER,
        authenticated_data,
        content: body,
    };
    let tag = match (is_commit, tag) {
        (true, Some(tag)) => Some(tag),
        (true, None) => Some(Mac(vec![0xa5; 32].into())),
        (false, _) => None,
    };

    // Our PublicMessage verifies (or, for the application, cannot be made).
    let framing = ctx.framing();
    let signed = framing::authenticate(
        &ctx.provider,
        &ctx.sk,
        WireFormat::PublicMessage,
        content.clone(),
        &ctx.group_context,
        tag.clone(),
    )
    .map_err(|e| format!("{name}: sign: {e}"))?;
    match framing.protect_public(signed.clone()) {
        Ok(msg) if !is_application => {
            let MlsMessageBody::PublicMessage(msg) =
                over_the_wire(MlsMessageBody::PublicMessage(msg))?
            else {
                return Err(format!("{name}: our PublicMessage changed wire format"));
            };
            let got = ctx
                .framing()
                .unprotect_public(msg, ctx.key())
                .map_err(|e| format!("{name}: our PublicMessage: unprotect: {e}"))?;
            checks += expect_eq(&format!("{name}: our PublicMessage"), &got, &signed)?;
        }
        Ok(_) => return Err("application protected as a PublicMessage".to_string()),
        Err(Error::PeerMisbehaved(PeerMisbehaved::ApplicationAsPublicMessage))
            if is_application =>
        {
            checks += 1;
        }
        Err(e) => return Err(format!("{name}: protect as PublicMessage: {e}")),
    }

    // Our PrivateMessage decrypts with a separate receiver's secret tree.
    let signed = framing::authenticate(
        &ctx.provider,
        &ctx.sk,
        WireFormat::PrivateMessage,
        content,
        &ctx.group_context,
        tag,
    )
    .map_err(|e| format!("{name}: sign: {e}"))?;
    let mut sender = ctx.framing();
    let mut receiver = ctx.framing();
    for round in 0..2 {
        let msg = sender
            .protect_private(&signed, PADDING)
            .map_err(|e| format!("{name}: protect as PrivateMessage: {e}"))?;
        let MlsMessageBody::PrivateMessage(msg) =
            over_the_wire(MlsMessageBody::PrivateMessage(msg))?
        else {
            return Err(format!("{name}: our PrivateMessage changed wire format"));
        };
        let got = receiver
            .unprotect_private(&msg, ctx.key())
            .map_err(|e| format!("{name}: our PrivateMessage {round}: unprotect: {e}"))?;
        checks += expect_eq(
            &format!("{name}: our PrivateMessage {round}"),
            &got,
            &signed,
        )?;
    }
    Ok(checks)
}
