//! Framing tests: round trips, and every tampering or misuse failing with a typed error.

use crate::error::{ApiMisuse, PeerMisbehaved};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::codec::{
    CipherSuiteId, CodecError, FramedContentBody, MlsMessage, MlsMessageBody, PrivateMessage,
    ProtocolVersion, PublicMessage, Remove,
};
use crate::crypto::{CipherSuite, CryptoError};
use crate::schedule::secret_tree::{sender_data_key_nonce, RatchetKind};
use crate::tree::math::LeafIndex;

const SENDER: Sender = Sender::Member { leaf_index: 1 };

struct Fixture {
    provider: Provider,
    group_context: GroupContext,
    sk: SignaturePrivateKey,
    pk: Vec<u8>,
}

fn fixture(suite: CipherSuite) -> Fixture {
    let provider = Provider::new(suite);
    let (sk, pk) = provider
        .derive_signature_key_pair(&[7; 32])
        .expect("32-byte seed");
    Fixture {
        provider,
        group_context: GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: CipherSuiteId(suite.id()),
            group_id: b"group".to_vec().into(),
            epoch: 42,
            tree_hash: vec![1; 32].into(),
            confirmed_transcript_hash: vec![2; 32].into(),
            extensions: Vec::new(),
        },
        sk,
        pk,
    }
}

impl Fixture {
    fn framing(&self) -> EpochFraming {
        EpochFraming::new(
            self.provider,
            self.group_context.clone(),
            Secret::new(vec![3; 32]),
            Secret::new(vec![4; 32]),
            Secret::new(vec![5; 32]),
            4,
        )
    }

    fn content(&self, sender: Sender, body: FramedContentBody) -> FramedContent {
        FramedContent {
            group_id: self.group_context.group_id.clone(),
            epoch: self.group_context.epoch,
            sender,
            authenticated_data: b"aad".to_vec().into(),
            content: body,
        }
    }

    fn signed(
        &self,
        wire_format: WireFormat,
        sender: Sender,
        body: FramedContentBody,
    ) -> AuthenticatedContent {
        let tag = matches!(body, FramedContentBody::Commit(_)).then(|| Mac(vec![9; 32].into()));
        authenticate(
            &self.provider,
            &self.sk,
            wire_format,
            self.content(sender, body),
            &self.group_context,
            tag,
        )
        .expect("sign")
    }

    fn key<'a>(&'a self) -> impl Fn(&Sender) -> Option<&'a [u8]> + 'a {
        |s: &Sender| {
            (*s == SENDER || matches!(s, Sender::External { sender_index: 0 }))
                .then_some(self.pk.as_slice())
        }
    }
}

fn app(data: &[u8]) -> FramedContentBody {
    FramedContentBody::Application {
        application_data: data.to_vec().into(),
    }
}

fn proposal() -> FramedContentBody {
    FramedContentBody::Proposal(crate::codec::Proposal::Remove(Remove { removed: 2 }))
}

fn framing_err(r: Result<AuthenticatedContent>) -> PeerMisbehaved {
    match r {
        Err(Error::PeerMisbehaved(e)) => e,
        other => panic!("expected a framing error, got {other:?}"),
    }
}

fn both_suites() -> impl Iterator<Item = Fixture> {
    CipherSuite::ALL.iter().map(|s| fixture(*s))
}

#[test]
fn public_round_trip_and_tampering() {
    for f in both_suites() {
        let signed = f.signed(WireFormat::PublicMessage, SENDER, proposal());
        let msg = f.framing().protect_public(signed.clone()).unwrap();
        assert!(msg.membership_tag.is_some());
        assert_eq!(
            f.framing().unprotect_public(msg.clone(), f.key()).unwrap(),
            signed
        );

        // Membership tag.
        let mut bad = msg.clone();
        let mut tag = bad.membership_tag.take().unwrap().0.as_slice().to_vec();
        tag[0] ^= 1;
        bad.membership_tag = Some(Mac(tag.into()));
        assert_eq!(
            framing_err(f.framing().unprotect_public(bad, f.key())),
            PeerMisbehaved::InvalidMembershipTag
        );
        let mut bad = msg.clone();
        bad.membership_tag = None;
        assert_eq!(
            framing_err(f.framing().unprotect_public(bad, f.key())),
            PeerMisbehaved::InvalidMembershipTag
        );

        // A different membership key.
        let other = EpochFraming::new(
            f.provider,
            f.group_context.clone(),
            Secret::new(vec![0xee; 32]),
            Secret::new(vec![4; 32]),
            Secret::new(vec![5; 32]),
            4,
        );
        assert_eq!(
            framing_err(other.unprotect_public(msg.clone(), f.key())),
            PeerMisbehaved::InvalidMembershipTag
        );

        // Signature: re-tag a message with a broken signature so only the signature fails.
        let mut forged = signed.clone();
        let mut sig = forged.auth.signature.as_slice().to_vec();
        sig[5] ^= 0x40;
        forged.auth.signature = sig.into();
        let forged_msg = f.framing().protect_public(forged).unwrap();
        assert!(matches!(
            f.framing().unprotect_public(forged_msg, f.key()),
            Err(Error::Crypto(CryptoError::InvalidSignature))
        ));

        // Unknown sender, wrong epoch, wrong group.
        assert_eq!(
            framing_err(f.framing().unprotect_public(msg.clone(), |_| None::<&[u8]>)),
            PeerMisbehaved::UnknownSender(SENDER)
        );
        let mut bad = msg.clone();
        bad.content.epoch += 1;
        assert_eq!(
            framing_err(f.framing().unprotect_public(bad, f.key())),
            PeerMisbehaved::WrongEpoch {
                expected: 42,
                got: 43
            }
        );
        let mut bad = msg;
        bad.content.group_id = b"other".to_vec().into();
        assert_eq!(
            framing_err(f.framing().unprotect_public(bad, f.key())),
            PeerMisbehaved::WrongGroup
        );
    }
}

#[test]
fn public_misuse() {
    let f = fixture(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let framing = f.framing();
    // Application data cannot be a PublicMessage, in either direction.
    let signed = f.signed(WireFormat::PublicMessage, SENDER, app(b"hi"));
    assert!(matches!(
        framing.protect_public(signed.clone()),
        Err(Error::PeerMisbehaved(
            PeerMisbehaved::ApplicationAsPublicMessage
        ))
    ));
    let msg = PublicMessage {
        content: signed.content,
        auth: signed.auth,
        membership_tag: Some(Mac(vec![0; 32].into())),
    };
    assert_eq!(
        framing_err(framing.unprotect_public(msg, f.key())),
        PeerMisbehaved::ApplicationAsPublicMessage
    );
    // Content signed for the other wire format.
    let signed = f.signed(WireFormat::PrivateMessage, SENDER, proposal());
    assert!(matches!(
        framing.protect_public(signed),
        Err(Error::PeerMisbehaved(PeerMisbehaved::WrongWireFormat(
            WireFormat::PrivateMessage
        )))
    ));
    // A commit without a confirmation tag cannot even be signed through `authenticate`.
    let commit = crate::codec::Commit {
        proposals: Vec::new(),
        path: None,
    };
    assert!(matches!(
        authenticate(
            &f.provider,
            &f.sk,
            WireFormat::PublicMessage,
            f.content(SENDER, FramedContentBody::Commit(commit)),
            &f.group_context,
            None,
        ),
        Err(Error::ApiMisuse(_))
    ));
}

#[test]
fn external_sender_public_message() {
    let f = fixture(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let external = Sender::External { sender_index: 0 };
    let signed = f.signed(WireFormat::PublicMessage, external, proposal());
    let msg = f.framing().protect_public(signed.clone()).unwrap();
    assert!(msg.membership_tag.is_none());
    assert_eq!(
        f.framing().unprotect_public(msg.clone(), f.key()).unwrap(),
        signed
    );
    // A membership tag on a non-member message is rejected.
    let mut bad = msg;
    bad.membership_tag = Some(Mac(vec![0; 32].into()));
    assert_eq!(
        framing_err(f.framing().unprotect_public(bad, f.key())),
        PeerMisbehaved::InvalidMembershipTag
    );
}

#[test]
fn private_round_trip_generations_and_padding() {
    for f in both_suites() {
        let mut sender = f.framing();
        let mut receiver = f.framing();
        for (i, padding) in [0usize, 1, 100, 4096].into_iter().enumerate() {
            let body = if i % 2 == 0 {
                app(b"hello")
            } else {
                proposal()
            };
            let signed = f.signed(WireFormat::PrivateMessage, SENDER, body);
            let msg = sender.protect_private(&signed, padding).unwrap();
            let got = receiver.unprotect_private(&msg, f.key()).unwrap();
            assert_eq!(got, signed);
        }
    }
}

#[test]
fn private_tampering() {
    let f = fixture(CipherSuite::Mls128X25519ChaCha20Poly1305Sha256Ed25519);
    let signed = f.signed(WireFormat::PrivateMessage, SENDER, app(&[0x61; 80]));
    let msg = f.framing().protect_private(&signed, 8).unwrap();
    let open = |m: &PrivateMessage| framing_err(f.framing().unprotect_private(m, f.key()));

    // The first Nh ciphertext bytes key the sender data; later bytes only the content.
    let mut bad = msg.clone();
    let mut ct = bad.ciphertext.as_slice().to_vec();
    ct[0] ^= 1;
    bad.ciphertext = ct.into();
    assert_eq!(open(&bad), PeerMisbehaved::SenderDataDecryption);
    let mut bad = msg.clone();
    let mut ct = bad.ciphertext.as_slice().to_vec();
    let last = ct.len() - 1;
    ct[last] ^= 1;
    bad.ciphertext = ct.into();
    assert_eq!(open(&bad), PeerMisbehaved::ContentDecryption);

    let mut bad = msg.clone();
    let mut sd = bad.encrypted_sender_data.as_slice().to_vec();
    sd[3] ^= 0x80;
    bad.encrypted_sender_data = sd.into();
    assert_eq!(open(&bad), PeerMisbehaved::SenderDataDecryption);

    // authenticated_data is in the content AAD only; content_type in both.
    let mut bad = msg.clone();
    bad.authenticated_data = b"aae".to_vec().into();
    assert_eq!(open(&bad), PeerMisbehaved::ContentDecryption);
    let mut bad = msg.clone();
    bad.content_type = ContentType::Proposal;
    assert_eq!(open(&bad), PeerMisbehaved::SenderDataDecryption);

    let mut bad = msg.clone();
    bad.epoch = 41;
    assert_eq!(
        open(&bad),
        PeerMisbehaved::WrongEpoch {
            expected: 42,
            got: 41
        }
    );

    // Unknown sender (e.g. a blank leaf) is refused before its ratchet is touched.
    assert_eq!(
        framing_err(f.framing().unprotect_private(&msg, |_| None::<Vec<u8>>)),
        PeerMisbehaved::UnknownSender(SENDER)
    );

    // A valid encryption of a bad signature.
    let mut forged = signed.clone();
    let mut sig = forged.auth.signature.as_slice().to_vec();
    sig[10] ^= 2;
    forged.auth.signature = sig.into();
    let forged_msg = f.framing().protect_private(&forged, 0).unwrap();
    assert!(matches!(
        f.framing().unprotect_private(&forged_msg, f.key()),
        Err(Error::Crypto(CryptoError::InvalidSignature))
    ));

    // Replay.
    let mut receiver = f.framing();
    receiver.unprotect_private(&msg, f.key()).unwrap();
    assert_eq!(
        framing_err(receiver.unprotect_private(&msg, f.key())),
        PeerMisbehaved::GenerationConsumed { generation: 0 }
    );
}

#[test]
fn private_forward_distance() {
    let f = fixture(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let signed = f.signed(WireFormat::PrivateMessage, SENDER, app(b"x"));
    let mut sender = f.framing();
    let mut msgs = Vec::new();
    for _ in 0..4 {
        msgs.push(sender.protect_private(&signed, 0).unwrap());
    }
    let mut receiver = f.framing().with_max_forward_distance(2);
    assert_eq!(
        framing_err(receiver.unprotect_private(&msgs[3], f.key())),
        PeerMisbehaved::GenerationTooFar {
            generation: 3,
            next: 0
        }
    );
    // Skipping within the bound is fine; earlier generations are then gone.
    receiver.unprotect_private(&msgs[2], f.key()).unwrap();
    assert_eq!(
        framing_err(receiver.unprotect_private(&msgs[1], f.key())),
        PeerMisbehaved::GenerationConsumed { generation: 1 }
    );
    receiver.unprotect_private(&msgs[3], f.key()).unwrap();
}

#[test]
fn private_misuse() {
    let f = fixture(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let mut framing = f.framing();
    let signed = f.signed(WireFormat::PublicMessage, SENDER, app(b"x"));
    assert!(matches!(
        framing.protect_private(&signed, 0),
        Err(Error::PeerMisbehaved(PeerMisbehaved::WrongWireFormat(
            WireFormat::PublicMessage
        )))
    ));
    let signed = f.signed(
        WireFormat::PrivateMessage,
        Sender::External { sender_index: 0 },
        proposal(),
    );
    assert!(matches!(
        framing.protect_private(&signed, 0),
        Err(Error::PeerMisbehaved(PeerMisbehaved::NonMemberSender))
    ));
}

#[test]
fn receiving_copy_receives_exactly_and_never_sends() {
    let f = fixture(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let mut sender = f.framing();
    let mut receiver = f.framing();
    let first = sender
        .protect_private(&f.signed(WireFormat::PrivateMessage, SENDER, app(b"1")), 0)
        .unwrap();
    receiver.unprotect_private(&first, f.key()).unwrap();
    let mut copy = receiver.receiving_copy();
    assert!(copy.is_receiving_copy() && !receiver.is_receiving_copy());
    assert_eq!(
        framing_err(copy.unprotect_private(&first, f.key())),
        PeerMisbehaved::GenerationConsumed { generation: 0 }
    );
    let second = sender
        .protect_private(&f.signed(WireFormat::PrivateMessage, SENDER, app(b"2")), 0)
        .unwrap();
    copy.unprotect_private(&second, f.key()).unwrap();
    receiver.unprotect_private(&second, f.key()).unwrap();
    // No sending on any ratchet, the copy's own leaf or another; the original still sends.
    for (sender, body) in [
        (SENDER, app(b"x")),
        (SENDER, proposal()),
        (Sender::Member { leaf_index: 0 }, app(b"x")),
    ] {
        let signed = f.signed(WireFormat::PrivateMessage, sender, body);
        assert!(matches!(
            copy.protect_private(&signed, 0),
            Err(Error::ApiMisuse(ApiMisuse::SendFromCopy))
        ));
        receiver.protect_private(&signed, 0).unwrap();
    }
    // PublicMessages use no ratchet.
    let signed = f.signed(WireFormat::PublicMessage, SENDER, proposal());
    copy.protect_public(signed).unwrap();
}

/// Encrypt `plaintext` as leaf 1's generation-0 handshake message, by hand.
fn hand_encrypt(
    f: &Fixture,
    content_type: ContentType,
    leaf_index: u32,
    plaintext: &[u8],
) -> PrivateMessage {
    let p = &f.provider;
    let mut tree = SecretTree::new(Secret::new(vec![5; 32]), 4);
    let key = tree
        .key(p, LeafIndex(1), RatchetKind::Handshake, 0)
        .unwrap();
    let aad = codec::encode(&codec::PrivateContentAad {
        group_id: b"group",
        epoch: 42,
        content_type,
        authenticated_data: b"",
    })
    .unwrap();
    let ct = p
        .aead_seal(key.key.as_bytes(), key.nonce.as_bytes(), &aad, plaintext)
        .unwrap();
    with_sender_data(f, content_type, leaf_index, 0, b"", ct)
}

/// A PrivateMessage around the content ciphertext `ct` whose sender data (`leaf_index`,
/// `generation`, a zero reuse guard) is validly encrypted, as any member can do with the
/// sender-data secret.
fn with_sender_data(
    f: &Fixture,
    content_type: ContentType,
    leaf_index: u32,
    generation: u32,
    authenticated_data: &[u8],
    ct: Vec<u8>,
) -> PrivateMessage {
    let p = &f.provider;
    let (sk, sn) = sender_data_key_nonce(p, &[4; 32], &ct).unwrap();
    let sd = codec::encode(&codec::SenderData {
        leaf_index,
        generation,
        reuse_guard: [0; 4],
    })
    .unwrap();
    let sd_aad = codec::encode(&codec::SenderDataAad {
        group_id: b"group",
        epoch: 42,
        content_type,
    })
    .unwrap();
    let esd = p
        .aead_seal(sk.as_bytes(), sn.as_bytes(), &sd_aad, &sd)
        .unwrap();
    PrivateMessage {
        group_id: b"group".to_vec().into(),
        epoch: 42,
        content_type,
        authenticated_data: authenticated_data.to_vec().into(),
        encrypted_sender_data: esd.into(),
        ciphertext: ct.into(),
    }
}

/// The next generation of leaf 1's application ratchet in `framing`.
fn next_app_generation(f: &Fixture, framing: &mut EpochFraming) -> u32 {
    framing
        .secret_tree
        .next_generation(&f.provider, LeafIndex(1), RatchetKind::Application)
        .unwrap()
}

/// A forged PrivateMessage (valid sender data naming a far-ahead generation, content that
/// does not decrypt) fails with `ContentDecryption` and leaves the sender's ratchet as it
/// was: the genuine next message still decrypts, and a replay of it is refused.
#[test]
fn forged_private_message_does_not_burn_ratchet() {
    for f in both_suites() {
        let signed = f.signed(WireFormat::PrivateMessage, SENDER, app(b"genuine"));
        let mut sender = f.framing();
        let mut receiver = f.framing();
        let m0 = sender.protect_private(&signed, 0).unwrap();
        let m1 = sender.protect_private(&signed, 0).unwrap();
        receiver.unprotect_private(&m0, f.key()).unwrap();
        assert_eq!(next_app_generation(&f, &mut receiver), 1);

        // Generation g + 500 (g = 0, the last one received), garbage content.
        let forged = with_sender_data(&f, ContentType::Application, 1, 500, b"aad", vec![0xa5; 80]);
        for _ in 0..3 {
            assert_eq!(
                framing_err(receiver.unprotect_private(&forged, f.key())),
                PeerMisbehaved::ContentDecryption
            );
        }
        assert_eq!(next_app_generation(&f, &mut receiver), 1);

        // The genuine g + 1 still decrypts; then it is consumed.
        assert_eq!(receiver.unprotect_private(&m1, f.key()).unwrap(), signed);
        assert_eq!(next_app_generation(&f, &mut receiver), 2);
        assert_eq!(
            framing_err(receiver.unprotect_private(&m1, f.key())),
            PeerMisbehaved::GenerationConsumed { generation: 1 }
        );
        assert_eq!(
            framing_err(receiver.unprotect_private(&m0, f.key())),
            PeerMisbehaved::GenerationConsumed { generation: 0 }
        );
    }
}

/// A member can derive every leaf's ratchet keys, so it can forge a message that decrypts
/// under the sender's key; only the signature fails. That must not burn generations either.
#[test]
fn member_forged_private_message_does_not_burn_ratchet() {
    let f = fixture(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let (forger_sk, _) = f.provider.derive_signature_key_pair(&[8; 32]).unwrap();
    let content = f.content(SENDER, app(b"forged"));
    let forged = authenticate(
        &f.provider,
        &forger_sk,
        WireFormat::PrivateMessage,
        content,
        &f.group_context,
        None,
    )
    .unwrap();
    let mut forger = f.framing();
    forger
        .secret_tree
        .key(&f.provider, LeafIndex(1), RatchetKind::Application, 499)
        .unwrap();
    let forged_msg = forger.protect_private(&forged, 0).unwrap();

    let mut receiver = f.framing();
    assert!(matches!(
        receiver.unprotect_private(&forged_msg, f.key()),
        Err(Error::Crypto(CryptoError::InvalidSignature))
    ));
    assert_eq!(next_app_generation(&f, &mut receiver), 0);
    // Bad padding inside a valid encryption: refused, nothing consumed either.
    let mut pt = codec::encode(&crate::codec::Proposal::Remove(Remove { removed: 2 })).unwrap();
    pt.extend_from_slice(&[0, 0, 0, 1]);
    let bad = hand_encrypt(&f, ContentType::Proposal, 1, &pt);
    assert!(matches!(
        receiver.unprotect_private(&bad, f.key()),
        Err(Error::InvalidMessage(CodecError::InvalidPadding))
    ));
    assert!(receiver
        .secret_tree
        .is_available(&f.provider, LeafIndex(1), RatchetKind::Handshake, 0)
        .unwrap());

    let signed = f.signed(WireFormat::PrivateMessage, SENDER, app(b"genuine"));
    let genuine = f.framing().protect_private(&signed, 0).unwrap();
    assert_eq!(
        receiver.unprotect_private(&genuine, f.key()).unwrap(),
        signed
    );
    assert_eq!(
        framing_err(receiver.unprotect_private(&genuine, f.key())),
        PeerMisbehaved::GenerationConsumed { generation: 0 }
    );
}

/// With an out-of-order tolerance, skipped generations within it stay usable (once each);
/// older ones are deleted; a forged message at a retained generation does not delete it.
#[test]
fn private_out_of_order_tolerance() {
    let f = fixture(CipherSuite::Mls128X25519ChaCha20Poly1305Sha256Ed25519);
    let signed = f.signed(WireFormat::PrivateMessage, SENDER, app(b"x"));
    let mut sender = f.framing();
    let msgs: Vec<_> = (0..8)
        .map(|_| sender.protect_private(&signed, 0).unwrap())
        .collect();
    let mut receiver = f.framing().with_out_of_order_tolerance(2);
    let consumed = |generation| PeerMisbehaved::GenerationConsumed { generation };

    receiver.unprotect_private(&msgs[4], f.key()).unwrap();
    // 2 and 3 are retained; 0 and 1 are gone.
    assert_eq!(
        framing_err(receiver.unprotect_private(&msgs[1], f.key())),
        consumed(1)
    );
    assert_eq!(
        framing_err(receiver.unprotect_private(&msgs[0], f.key())),
        consumed(0)
    );
    let forged = with_sender_data(&f, ContentType::Application, 1, 3, b"aad", vec![7; 64]);
    assert_eq!(
        framing_err(receiver.unprotect_private(&forged, f.key())),
        PeerMisbehaved::ContentDecryption
    );
    receiver.unprotect_private(&msgs[3], f.key()).unwrap();
    assert_eq!(
        framing_err(receiver.unprotect_private(&msgs[3], f.key())),
        consumed(3)
    );
    assert_eq!(
        framing_err(receiver.unprotect_private(&msgs[4], f.key())),
        consumed(4)
    );
    // Jumping to 7 keeps 5 and 6 and drops 2, still unused but now outside the window.
    receiver.unprotect_private(&msgs[7], f.key()).unwrap();
    assert_eq!(
        framing_err(receiver.unprotect_private(&msgs[2], f.key())),
        consumed(2)
    );
    receiver.unprotect_private(&msgs[5], f.key()).unwrap();
    receiver.unprotect_private(&msgs[6], f.key()).unwrap();
    assert_eq!(
        framing_err(receiver.unprotect_private(&msgs[6], f.key())),
        consumed(6)
    );
}

#[test]
fn private_bad_padding_and_bad_plaintext() {
    let f = fixture(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    // A Remove proposal, an empty signature, then padding with a non-zero byte.
    let mut pt = codec::encode(&crate::codec::Proposal::Remove(Remove { removed: 2 })).unwrap();
    pt.extend_from_slice(&[0, 0, 0, 1]);
    let msg = hand_encrypt(&f, ContentType::Proposal, 1, &pt);
    assert!(matches!(
        f.framing().unprotect_private(&msg, f.key()),
        Err(Error::InvalidMessage(CodecError::InvalidPadding))
    ));
    // Garbage plaintext.
    let msg = hand_encrypt(&f, ContentType::Proposal, 1, &[0xff; 20]);
    assert!(matches!(
        f.framing().unprotect_private(&msg, f.key()),
        Err(Error::InvalidMessage(_))
    ));
    // Sender data naming a leaf beyond the tree.
    let msg = hand_encrypt(&f, ContentType::Proposal, 1000, &pt);
    assert_eq!(
        framing_err(f.framing().unprotect_private(&msg, f.key())),
        PeerMisbehaved::UnknownSender(Sender::Member { leaf_index: 1000 })
    );
}

#[test]
fn confirmation_tag() {
    let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let key = Secret::new(vec![1; 32]);
    let tag = p.mac(key.as_bytes(), b"hash");
    verify_confirmation_tag(&p, &key, b"hash", &tag).unwrap();
    assert!(matches!(
        verify_confirmation_tag(&p, &key, b"hasH", &tag),
        Err(Error::PeerMisbehaved(
            PeerMisbehaved::InvalidConfirmationTag
        ))
    ));
    assert!(matches!(
        verify_confirmation_tag(&p, &key, b"hash", &tag[..31]),
        Err(Error::PeerMisbehaved(
            PeerMisbehaved::InvalidConfirmationTag
        ))
    ));
}

/// Random garbage and bit flips: every outcome is an error or a verified message, never a
/// panic.
#[test]
fn garbage_never_panics() {
    let f = fixture(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let mut rng = ChaCha8Rng::seed_from_u64(9420);
    let mut random = |n: usize| (0..n).map(|_| rng.random::<u8>()).collect::<Vec<u8>>();

    // Structurally valid PrivateMessages with random fields, including empty ones.
    for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 100] {
        for sd_len in [0usize, 4, 12, 28, 40] {
            let msg = PrivateMessage {
                group_id: b"group".to_vec().into(),
                epoch: 42,
                content_type: ContentType::Application,
                authenticated_data: Vec::new().into(),
                encrypted_sender_data: random(sd_len).into(),
                ciphertext: random(len).into(),
            };
            assert!(matches!(
                f.framing().unprotect_private(&msg, f.key()),
                Err(Error::PeerMisbehaved(PeerMisbehaved::SenderDataDecryption))
            ));
        }
    }

    // Bit flips in encoded messages.
    let private = f
        .framing()
        .protect_private(&f.signed(WireFormat::PrivateMessage, SENDER, proposal()), 3)
        .unwrap();
    let public = f
        .framing()
        .protect_public(f.signed(WireFormat::PublicMessage, SENDER, proposal()))
        .unwrap();
    for body in [
        MlsMessageBody::PrivateMessage(private),
        MlsMessageBody::PublicMessage(public),
    ] {
        let bytes = codec::encode(&MlsMessage {
            version: ProtocolVersion::MLS10,
            body,
        })
        .unwrap();
        let mut accepted = 0;
        for i in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[i / 8] ^= 1 << (i % 8);
            let Ok(m) = codec::decode::<MlsMessage>(&b) else {
                continue;
            };
            let ok = match m.body {
                MlsMessageBody::PrivateMessage(m) => {
                    f.framing().unprotect_private(&m, f.key()).is_ok()
                }
                MlsMessageBody::PublicMessage(m) => {
                    f.framing().unprotect_public(m, f.key()).is_ok()
                }
                _ => false,
            };
            accepted += usize::from(ok);
        }
        // Only the protocol version byte is outside every MAC / AEAD / signature.
        assert!(accepted <= 16, "{accepted} bit flips accepted");
    }
}
