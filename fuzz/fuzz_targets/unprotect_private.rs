//! Feed PrivateMessages to one fixed epoch's `EpochFraming::unprotect_private` (the keys of
//! `message-protection.json` case 0; leaf 1 of two is the only known sender) and check the
//! ratchet bookkeeping against a model.
//!
//! The input is a script. Its first byte picks the out-of-order tolerance (0-3); then each
//! operation starts with a byte choosing one of:
//!
//! - raw bytes decoded as a `PrivateMessage` (or an `MLSMessage` carrying one);
//! - a bit-flipped copy of one of the vector's genuine PrivateMessages;
//! - a genuine message of leaf 1 at a chosen generation (signed with leaf 1's key and
//!   encrypted under its ratchet), later replayable;
//! - a replay of an earlier genuine message;
//! - a member's forgery: correctly encrypted under leaf 1's key but signed with another key;
//! - valid sender data (any leaf, any generation) around garbage content, as any member can
//!   make with the sender-data secret;
//! - a correctly encrypted but arbitrary plaintext.
//!
//! Nothing may panic, and a genuine message must be accepted exactly when the model says its
//! generation is still available (unused, not skipped beyond the tolerance, and within the
//! forward distance), whatever forged traffic came before it: a message that fails must
//! never consume a generation.
#![no_main]

use canopy_engine::PeerMisbehaved;
use std::collections::BTreeSet;

use canopy_engine::codec::{
    self, AuthenticatedContent, ContentType, FramedContent, FramedContentBody, MlsMessage,
    MlsMessageBody, PrivateContentAad, PrivateMessage, PrivateMessageContent, Proposal, Remove,
    Sender, SenderData, SenderDataAad, WireFormat,
};
use canopy_engine::crypto::{CryptoError, Secret, SignaturePrivateKey};
use canopy_engine::framing::{self, EpochFraming};
use canopy_engine::schedule::secret_tree::sender_data_key_nonce;
use canopy_engine::schedule::{RatchetKind, SecretTree};
use canopy_engine::tree::LeafIndex;
use canopy_engine::Error;
use canopy_fuzz::{protection, Protection};
use libfuzzer_sys::fuzz_target;

const SENDER_LEAF: u32 = 1;
const N_LEAVES: u32 = 2;
const MAX_FORWARD: u32 = 64;
const MAX_OPS: usize = 24;

/// Reads the script.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

/// What the model expects for a message of leaf 1 at a generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Available,
    Consumed,
    TooFar,
}

/// The receiver's ratchets of leaf 1, as the engine should keep them.
#[derive(Debug)]
struct Model {
    tolerance: u32,
    next: [u32; 2],
    retained: [BTreeSet<u32>; 2],
}

fn slot(kind: RatchetKind) -> usize {
    match kind {
        RatchetKind::Handshake => 0,
        RatchetKind::Application => 1,
    }
}

impl Model {
    fn expect(&self, kind: RatchetKind, g: u32) -> Expect {
        let (next, retained) = (self.next[slot(kind)], &self.retained[slot(kind)]);
        if g < next && !retained.contains(&g) {
            Expect::Consumed
        } else if g >= next && g - next > MAX_FORWARD {
            Expect::TooFar
        } else {
            Expect::Available
        }
    }

    fn commit(&mut self, kind: RatchetKind, g: u32) {
        let s = slot(kind);
        let next = self.next[s];
        if g >= next {
            let keep_from = g.saturating_sub(self.tolerance);
            self.retained[s].extend(next.max(keep_from)..g);
            self.next[s] = g + 1;
            self.retained[s].retain(|x| *x >= keep_from);
        } else {
            assert!(
                self.retained[s].remove(&g),
                "model: committed a missing key"
            );
        }
    }

    /// Check the outcome of a message of leaf 1 whose content is (`genuine`) or is not
    /// validly signed, and update the model.
    fn check(
        &mut self,
        kind: RatchetKind,
        g: u32,
        genuine: bool,
        result: &Result<AuthenticatedContent, Error>,
    ) {
        let expect = self.expect(kind, g);
        match (expect, result) {
            (
                Expect::Consumed,
                Err(Error::PeerMisbehaved(PeerMisbehaved::GenerationConsumed { generation })),
            ) => {
                assert_eq!(*generation, g);
            }
            (
                Expect::TooFar,
                Err(Error::PeerMisbehaved(PeerMisbehaved::GenerationTooFar { generation, next })),
            ) => {
                assert_eq!((*generation, *next), (g, self.next[slot(kind)]));
            }
            (Expect::Available, Ok(_)) => self.commit(kind, g),
            (Expect::Available, Err(e)) if !genuine => {
                // Anything but a generation error: the key was there.
                assert!(
                    !matches!(
                        e,
                        Error::PeerMisbehaved(
                            PeerMisbehaved::GenerationConsumed { .. }
                                | PeerMisbehaved::GenerationTooFar { .. }
                        )
                    ),
                    "generation {g} ({kind:?}) refused as {e:?}; model {self:?}"
                );
            }
            (expect, result) => panic!(
                "generation {g} ({kind:?}, genuine {genuine}): expected {expect:?}, got \
                 {result:?}; model {self:?}"
            ),
        }
    }
}

fn kind_of(content_type: ContentType) -> RatchetKind {
    match content_type {
        ContentType::Application => RatchetKind::Application,
        _ => RatchetKind::Handshake,
    }
}

/// Application data or a Remove proposal, by the low bit of `flags`.
fn content_type_of(flags: u8) -> ContentType {
    if flags & 1 == 0 {
        ContentType::Application
    } else {
        ContentType::Proposal
    }
}

/// A PrivateMessage around content ciphertext `ct`, with sender data validly encrypted under
/// the epoch's sender-data secret.
fn wrap(
    p: &Protection,
    content_type: ContentType,
    sender_data: SenderData,
    ct: Vec<u8>,
) -> PrivateMessage {
    let provider = &p.provider;
    let group_id = p.group_context.group_id.as_slice();
    let epoch = p.group_context.epoch;
    let (key, nonce) =
        sender_data_key_nonce(provider, &p.sender_data_secret, &ct).expect("sender data key");
    let aad = codec::encode(&SenderDataAad {
        group_id,
        epoch,
        content_type,
    })
    .expect("encode");
    let esd = provider
        .aead_seal(
            key.as_bytes(),
            nonce.as_bytes(),
            &aad,
            &codec::encode(&sender_data).expect("encode"),
        )
        .expect("seal");
    PrivateMessage {
        group_id: group_id.to_vec().into(),
        epoch,
        content_type,
        authenticated_data: Vec::new().into(),
        encrypted_sender_data: esd.into(),
        ciphertext: ct.into(),
    }
}

/// Encrypt `plaintext` under `leaf`'s ratchet key for `generation` (as any member can).
fn seal(
    p: &Protection,
    content_type: ContentType,
    leaf: u32,
    generation: u32,
    reuse_guard: [u8; 4],
    plaintext: &[u8],
) -> PrivateMessage {
    let provider = &p.provider;
    let mut tree = SecretTree::new(Secret::from_slice(&p.encryption_secret), N_LEAVES);
    let key = tree
        .key(provider, LeafIndex(leaf), kind_of(content_type), generation)
        .expect("ratchet key");
    let mut nonce = key.nonce.as_bytes().to_vec();
    for (b, g) in nonce.iter_mut().zip(reuse_guard) {
        *b ^= g;
    }
    let aad = codec::encode(&PrivateContentAad {
        group_id: p.group_context.group_id.as_slice(),
        epoch: p.group_context.epoch,
        content_type,
        authenticated_data: b"",
    })
    .expect("encode");
    let ct = provider
        .aead_seal(key.key.as_bytes(), &nonce, &aad, plaintext)
        .expect("seal");
    let sender_data = SenderData {
        leaf_index: leaf,
        generation,
        reuse_guard,
    };
    wrap(p, content_type, sender_data, ct)
}

/// Leaf 1's content of `content_type`, signed with `sk`, as PrivateMessage plaintext.
fn signed_plaintext(
    p: &Protection,
    sk: &SignaturePrivateKey,
    content_type: ContentType,
    data: u8,
    padding_len: usize,
) -> Vec<u8> {
    let body = match content_type {
        ContentType::Application => FramedContentBody::Application {
            application_data: vec![data; 3].into(),
        },
        _ => FramedContentBody::Proposal(Proposal::Remove(Remove {
            removed: u32::from(data),
        })),
    };
    let content = FramedContent {
        group_id: p.group_context.group_id.clone(),
        epoch: p.group_context.epoch,
        sender: Sender::Member {
            leaf_index: SENDER_LEAF,
        },
        authenticated_data: Vec::new().into(),
        content: body,
    };
    let signed = framing::authenticate(
        &p.provider,
        sk,
        WireFormat::PrivateMessage,
        content,
        &p.group_context,
        None,
    )
    .expect("sign");
    codec::encode(&PrivateMessageContent {
        content: signed.content.content,
        auth: signed.auth,
        padding_len,
    })
    .expect("encode")
}

fuzz_target!(|data: &[u8]| {
    let p = protection();
    let mut input = Input(data);
    let Some(first) = input.u8() else {
        return;
    };
    let tolerance = u32::from(first % 4);
    let mut framing = EpochFraming::new(
        p.provider,
        p.group_context.clone(),
        Secret::from_slice(&p.membership_key),
        Secret::from_slice(&p.sender_data_secret),
        Secret::from_slice(&p.encryption_secret),
        N_LEAVES,
    )
    .with_max_forward_distance(MAX_FORWARD)
    .with_out_of_order_tolerance(tolerance);
    let signer_pub = p.signer_pub.as_slice();
    let key = |s: &Sender| {
        (*s == Sender::Member {
            leaf_index: SENDER_LEAF,
        })
        .then_some(signer_pub)
    };
    let mut model = Some(Model {
        tolerance,
        next: [0; 2],
        retained: [BTreeSet::new(), BTreeSet::new()],
    });
    let mut sent: Vec<(PrivateMessage, RatchetKind, u32)> = Vec::new();

    for _ in 0..MAX_OPS {
        let Some(op) = input.u8() else {
            break;
        };
        match op % 7 {
            // Raw bytes: a PrivateMessage, or an MLSMessage carrying one.
            0 => {
                let n = u16::from_be_bytes([input.u8().unwrap_or(0), input.u8().unwrap_or(0)]);
                let bytes = input.bytes(usize::from(n));
                let msg = match codec::decode::<PrivateMessage>(bytes) {
                    Ok(m) => m,
                    Err(_) => match codec::decode::<MlsMessage>(bytes).map(|m| m.body) {
                        Ok(MlsMessageBody::PrivateMessage(m)) => m,
                        _ => continue,
                    },
                };
                if framing.unprotect_private(&msg, key).is_ok() {
                    // Cannot tell which generation it used: stop checking.
                    model = None;
                }
            }
            // A bit flip (or none) in a genuine PrivateMessage of the vector.
            1 => {
                let which = usize::from(input.u8().unwrap_or(0)) % p.messages.len();
                let mut bytes = p.messages[which].clone();
                let at = usize::from(input.u8().unwrap_or(0)) * 4;
                let mask = input.u8().unwrap_or(0);
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= mask;
                }
                let Ok(MlsMessage {
                    body: MlsMessageBody::PrivateMessage(msg),
                    ..
                }) = codec::decode::<MlsMessage>(&bytes)
                else {
                    continue;
                };
                // The vector's messages are all generation 0 or 1 of leaf 1; they decrypt
                // (or not) under the model's rules only if untouched, so just stop checking
                // after an accepted one.
                if framing.unprotect_private(&msg, key).is_ok() {
                    model = None;
                }
            }
            // A genuine message of leaf 1.
            2 => {
                let flags = input.u8().unwrap_or(0);
                let g = u32::from(input.u8().unwrap_or(0));
                let padding = usize::from(input.u8().unwrap_or(0) % 32);
                let ct = content_type_of(flags);
                let pt = signed_plaintext(p, &p.signer, ct, flags, padding);
                let msg = seal(p, ct, SENDER_LEAF, g, [flags; 4], &pt);
                let result = framing.unprotect_private(&msg, key);
                if let Some(m) = model.as_mut() {
                    m.check(kind_of(ct), g, true, &result);
                }
                if sent.len() < 16 {
                    sent.push((msg, kind_of(ct), g));
                }
            }
            // Replay an earlier genuine message.
            3 => {
                if sent.is_empty() {
                    continue;
                }
                let i = usize::from(input.u8().unwrap_or(0)) % sent.len();
                let (msg, kind, g) = &sent[i];
                let result = framing.unprotect_private(msg, key);
                if let Some(m) = model.as_mut() {
                    m.check(*kind, *g, true, &result);
                }
            }
            // A member's forgery: right encryption, wrong signature key.
            4 => {
                let flags = input.u8().unwrap_or(0);
                let g = u32::from(input.u8().unwrap_or(0));
                let ct = content_type_of(flags);
                let pt = signed_plaintext(p, &p.forger, ct, flags, 0);
                let msg = seal(p, ct, SENDER_LEAF, g, [0; 4], &pt);
                let result = framing.unprotect_private(&msg, key);
                if let Some(m) = model.as_mut() {
                    if m.expect(kind_of(ct), g) == Expect::Available {
                        assert!(
                            matches!(result, Err(Error::Crypto(CryptoError::InvalidSignature))),
                            "forgery at {g}: {result:?}"
                        );
                    }
                    m.check(kind_of(ct), g, false, &result);
                }
            }
            // Valid sender data (any leaf, any generation), garbage content.
            5 => {
                let flags = input.u8().unwrap_or(0);
                let leaf = u32::from(flags >> 5);
                let g = u32::from(input.u8().unwrap_or(0)) | (u32::from(flags & 0x10) << 20);
                let n = usize::from(input.u8().unwrap_or(0));
                let ct_bytes = input.bytes(n).to_vec();
                let ct = content_type_of(flags);
                let sender_data = SenderData {
                    leaf_index: leaf,
                    generation: g,
                    reuse_guard: [flags; 4],
                };
                let msg = wrap(p, ct, sender_data, ct_bytes);
                let result = framing.unprotect_private(&msg, key);
                let Some(m) = model.as_mut() else { continue };
                if leaf != SENDER_LEAF {
                    assert!(
                        matches!(
                            result,
                            Err(Error::PeerMisbehaved(PeerMisbehaved::UnknownSender(_)))
                        ),
                        "leaf {leaf}: {result:?}"
                    );
                    continue;
                }
                if m.expect(kind_of(ct), g) == Expect::Available {
                    assert!(
                        matches!(
                            result,
                            Err(Error::PeerMisbehaved(PeerMisbehaved::ContentDecryption))
                        ),
                        "garbage at {g}: {result:?}"
                    );
                }
                m.check(kind_of(ct), g, false, &result);
            }
            // A correctly encrypted arbitrary plaintext.
            _ => {
                let flags = input.u8().unwrap_or(0);
                let g = u32::from(input.u8().unwrap_or(0));
                let n = usize::from(input.u8().unwrap_or(0));
                let pt = input.bytes(n);
                let ct = content_type_of(flags);
                let msg = seal(p, ct, SENDER_LEAF, g, [flags; 4], pt);
                let result = framing.unprotect_private(&msg, key);
                if let Some(m) = model.as_mut() {
                    m.check(kind_of(ct), g, false, &result);
                }
            }
        }
    }
});
