//! Unit tests for the hand-written parts of the codec.

use super::*;

fn vl(b: &[u8]) -> VLBytes {
    VLBytes::from(b)
}

fn leaf(source: LeafNodeSourceData) -> LeafNode {
    LeafNode {
        encryption_key: HpkePublicKey(vl(&[1; 32])),
        signature_key: SignaturePublicKey(vl(&[2; 32])),
        credential: Credential::Basic {
            identity: vl(b"alice"),
        },
        capabilities: Capabilities {
            versions: vec![ProtocolVersion::MLS10],
            cipher_suites: vec![CipherSuiteId(1)],
            extensions: vec![],
            proposals: vec![ProposalType(0x0a0a)],
            credentials: vec![CredentialType::BASIC],
        },
        leaf_node_source: source,
        extensions: vec![],
        signature: vl(&[3; 64]),
    }
}

fn content(sender: Sender, body: FramedContentBody) -> FramedContent {
    FramedContent {
        group_id: vl(b"group"),
        epoch: 7,
        sender,
        authenticated_data: vl(b""),
        content: body,
    }
}

fn group_context() -> GroupContext {
    GroupContext {
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuiteId(1),
        group_id: vl(b"group"),
        epoch: 7,
        tree_hash: vl(&[4; 32]),
        confirmed_transcript_hash: vl(&[5; 32]),
        extensions: vec![],
    }
}

/// `tls_serialized_len` must equal the encoded length.
fn sized<T: Serialize>(v: &T) -> Vec<u8> {
    let bytes = encode(v).expect("encodes");
    assert_eq!(bytes.len(), v.tls_serialized_len());
    bytes
}

#[test]
fn unknown_values_name_their_field() {
    fn unknown<T>(field: &'static str, value: u64) -> Result<T, CodecError> {
        Err(CodecError::UnknownValue { field, value })
    }
    assert_eq!(
        decode::<MlsMessage>(&[0, 1, 0, 9]),
        unknown("wire_format", 9)
    );
    assert_eq!(
        decode::<Proposal>(&[0x0a, 0x0a]),
        unknown("proposal_type", 0x0a0a)
    );
    assert_eq!(
        decode::<Credential>(&[0, 3, 0]),
        unknown("credential_type", 3)
    );
    assert_eq!(decode::<Sender>(&[7]), unknown("sender_type", 7));
    assert_eq!(
        decode::<FramedContentBody>(&[0]),
        unknown("content_type", 0)
    );
    assert_eq!(decode::<Node>(&[3]), unknown("node_type", 3));
    assert_eq!(
        decode::<LeafNodeSourceData>(&[4]),
        unknown("leaf_node_source", 4)
    );
    assert_eq!(decode::<PskSource>(&[3]), unknown("psktype", 3));
    assert_eq!(
        decode::<PskSource>(&[2, 9]),
        unknown("resumption_psk_usage", 9)
    );
    assert_eq!(
        decode::<ProposalOrRef>(&[0]),
        unknown("proposal_or_ref_type", 0)
    );
    // optional<T> presence byte other than 0/1.
    assert!(matches!(
        decode::<Option<PathSecret>>(&[2]),
        Err(CodecError::Other(_))
    ));
}

#[test]
fn private_message_content_padding() {
    let pmc = PrivateMessageContent {
        content: FramedContentBody::Application {
            application_data: vl(b"hi"),
        },
        auth: FramedContentAuthData {
            signature: vl(&[9; 4]),
            confirmation_tag: None,
        },
        padding_len: 300,
    };
    let bytes = sized(&pmc);
    assert_eq!(bytes.len(), 3 + 5 + 300);
    assert_eq!(
        PrivateMessageContent::decode(ContentType::Application, &bytes),
        Ok(pmc)
    );
    let mut bad = bytes.clone();
    bad[200] = 1;
    assert_eq!(
        PrivateMessageContent::decode(ContentType::Application, &bad),
        Err(CodecError::InvalidPadding)
    );
    // Read as a commit it lacks a well-formed body.
    assert!(PrivateMessageContent::decode(ContentType::Commit, &bytes).is_err());
    assert_eq!(
        PrivateMessageContent::decode(ContentType::Application, &bytes[..4]),
        Err(CodecError::Truncated)
    );
}

#[test]
fn tag_presence_is_checked_when_encoding() {
    let commit = FramedContentBody::Commit(Commit {
        proposals: vec![],
        path: None,
    });
    let msg = PublicMessage {
        content: content(Sender::Member { leaf_index: 1 }, commit.clone()),
        auth: FramedContentAuthData {
            signature: vl(&[1]),
            confirmation_tag: None,
        },
        membership_tag: Some(Mac(vl(&[2]))),
    };
    assert_eq!(
        encode(&msg),
        Err(CodecError::Inconsistent(framing::NO_CONFIRMATION_TAG))
    );
    let mut ok = msg.clone();
    ok.auth.confirmation_tag = Some(Mac(vl(&[3])));
    let bytes = sized(&ok);
    assert_eq!(decode::<PublicMessage>(&bytes), Ok(ok.clone()));
    let mut no_tag = ok.clone();
    no_tag.membership_tag = None;
    assert_eq!(
        encode(&no_tag),
        Err(CodecError::Inconsistent(framing::NO_MEMBERSHIP_TAG))
    );
    let mut external = ok;
    external.content.sender = Sender::External { sender_index: 0 };
    assert_eq!(
        encode(&external),
        Err(CodecError::Inconsistent(framing::STRAY_MEMBERSHIP_TAG))
    );
    external.membership_tag = None;
    let bytes = sized(&external);
    assert_eq!(decode::<PublicMessage>(&bytes), Ok(external));
}

#[test]
fn leaf_node_tbs() {
    let kp_leaf = leaf(LeafNodeSourceData::KeyPackage {
        lifetime: Lifetime {
            not_before: 0,
            not_after: u64::MAX,
        },
    });
    let full = sized(&kp_leaf);
    let tbs = sized(&LeafNodeTbs::key_package(&kp_leaf));
    // The TBS of a key-package leaf is the leaf without its signature.
    assert_eq!(tbs, full[..full.len() - 66]);
    assert_eq!(sized(&LeafNodeTbs::in_group(&kp_leaf, b"g", 5)), tbs);

    let commit_leaf = leaf(LeafNodeSourceData::Commit {
        parent_hash: vl(&[7; 32]),
    });
    let full = sized(&commit_leaf);
    let tbs = sized(&LeafNodeTbs::in_group(&commit_leaf, b"g", 5));
    let mut want = full[..full.len() - 66].to_vec();
    want.extend_from_slice(&[1, b'g', 0, 0, 0, 5]);
    assert_eq!(tbs, want);
    assert_eq!(decode::<LeafNode>(&full), Ok(commit_leaf));
}

#[test]
fn framed_content_tbs_and_transcript_inputs() {
    let ctx = group_context();
    let ctx_bytes = sized(&ctx);
    let member = content(
        Sender::Member { leaf_index: 3 },
        FramedContentBody::Application {
            application_data: vl(b"x"),
        },
    );
    let content_bytes = sized(&member);
    let tbs = FramedContentTbs::new(WireFormat::PrivateMessage, &member, &ctx);
    let bytes = sized(&tbs);
    let mut want = vec![0, 1, 0, 2];
    want.extend_from_slice(&content_bytes);
    want.extend_from_slice(&ctx_bytes);
    assert_eq!(bytes, want);

    let external = content(Sender::NewMemberProposal, member.content.clone());
    let tbs = FramedContentTbs::new(WireFormat::PublicMessage, &external, &ctx);
    assert!(tbs.group_context.is_none());
    assert_eq!(sized(&tbs).len(), 4 + external.tls_serialized_len());
    let wrong = FramedContentTbs {
        group_context: Some(&ctx),
        ..tbs
    };
    assert_eq!(
        encode(&wrong),
        Err(CodecError::Inconsistent(framing::STRAY_GROUP_CONTEXT))
    );

    let auth = FramedContentAuthData {
        signature: vl(&[1; 3]),
        confirmation_tag: None,
    };
    let tbm = AuthenticatedContentTbm {
        content_tbs: FramedContentTbs::new(WireFormat::PublicMessage, &member, &ctx),
        auth: &auth,
    };
    assert_eq!(
        sized(&tbm).len(),
        4 + content_bytes.len() + ctx_bytes.len() + 4
    );

    let cth = ConfirmedTranscriptHashInput {
        wire_format: WireFormat::PublicMessage,
        content: &member,
        signature: &[1, 2],
    };
    assert_eq!(sized(&cth)[..2], [0, 1]);
    assert_eq!(
        sized(&InterimTranscriptHashInput {
            confirmation_tag: &[5; 32]
        })[0],
        32
    );

    let ac = AuthenticatedContent {
        wire_format: WireFormat::PublicMessage,
        content: member,
        auth,
    };
    assert_eq!(decode::<AuthenticatedContent>(&sized(&ac)), Ok(ac));
}

#[test]
fn aad_sender_data_and_hash_inputs() {
    let aad = SenderDataAad {
        group_id: b"g",
        epoch: 1,
        content_type: ContentType::Commit,
    };
    assert_eq!(sized(&aad), [1, b'g', 0, 0, 0, 0, 0, 0, 0, 1, 3]);
    let aad = PrivateContentAad {
        group_id: b"g",
        epoch: 1,
        content_type: ContentType::Proposal,
        authenticated_data: b"ad",
    };
    assert_eq!(
        sized(&aad),
        [1, b'g', 0, 0, 0, 0, 0, 0, 0, 1, 2, 2, b'a', b'd']
    );
    let sd = SenderData {
        leaf_index: 1,
        generation: 2,
        reuse_guard: [9; 4],
    };
    assert_eq!(decode::<SenderData>(&sized(&sd)), Ok(sd));

    let l = leaf(LeafNodeSourceData::Update);
    let leaf_bytes = sized(&l);
    let h = sized(&TreeHashInput::Leaf(LeafNodeHashInput {
        leaf_index: 2,
        leaf_node: Some(&l),
    }));
    assert_eq!(h[..6], [1, 0, 0, 0, 2, 1]);
    assert_eq!(h[6..], leaf_bytes[..]);
    let blank = sized(&TreeHashInput::Leaf(LeafNodeHashInput {
        leaf_index: 2,
        leaf_node: None,
    }));
    assert_eq!(blank, [1, 0, 0, 0, 2, 0]);
    let p = ParentNode {
        encryption_key: HpkePublicKey(vl(&[1; 2])),
        parent_hash: vl(b""),
        unmerged_leaves: vec![1, 2],
    };
    let ph = sized(&TreeHashInput::Parent(ParentNodeHashInput {
        parent_node: Some(&p),
        left_hash: &[0xaa],
        right_hash: &[],
    }));
    let mut want = vec![2, 1];
    want.extend_from_slice(&sized(&p));
    want.extend_from_slice(&[1, 0xaa, 0]);
    assert_eq!(ph, want);
    let phi = ParentHashInput {
        encryption_key: &[1],
        parent_hash: &[],
        original_sibling_tree_hash: &[2, 3],
    };
    assert_eq!(sized(&phi), [1, 1, 0, 2, 2, 3]);

    let id = PreSharedKeyId {
        source: PskSource::Resumption {
            usage: ResumptionPskUsage::Branch,
            psk_group_id: vl(b"g"),
            psk_epoch: 4,
        },
        psk_nonce: vl(&[0; 2]),
    };
    let id_bytes = sized(&id);
    assert_eq!(decode::<PreSharedKeyId>(&id_bytes), Ok(id.clone()));
    let label = sized(&PskLabel {
        id: &id,
        index: 1,
        count: 2,
    });
    assert_eq!(label[..id_bytes.len()], id_bytes[..]);
    assert_eq!(label[id_bytes.len()..], [0, 1, 0, 2]);
}

#[test]
fn key_package_and_group_info_tbs() {
    let kp = KeyPackage {
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuiteId(1),
        init_key: HpkePublicKey(vl(&[8; 32])),
        leaf_node: leaf(LeafNodeSourceData::KeyPackage {
            lifetime: Lifetime {
                not_before: 1,
                not_after: 2,
            },
        }),
        extensions: vec![Extension {
            extension_type: ExtensionType(0xff00),
            extension_data: vl(b"").into(),
        }],
        signature: vl(&[6; 64]),
    };
    let full = sized(&kp);
    assert_eq!(
        sized(&KeyPackageTbs { key_package: &kp }),
        full[..full.len() - 66]
    );
    let msg = MlsMessage {
        version: ProtocolVersion::MLS10,
        body: MlsMessageBody::KeyPackage(kp),
    };
    assert_eq!(decode::<MlsMessage>(&sized(&msg)), Ok(msg));

    let gi = GroupInfo {
        group_context: group_context(),
        extensions: vec![],
        confirmation_tag: Mac(vl(&[1; 32])),
        signer: 3,
        signature: vl(&[2; 64]),
    };
    let full = sized(&gi);
    assert_eq!(
        sized(&GroupInfoTbs { group_info: &gi }),
        full[..full.len() - 66]
    );
}

/// `decode_group_info_owned` is `decode::<GroupInfo>`: the same GroupInfo, or the same error,
/// for GroupInfos with large extensions in every position (below, at and above the size from
/// which one is kept) and for seeded mutations of an encoding (bit flips, truncations, inserted
/// and deleted bytes, most of them in the headers around the large extension). Where the
/// largest extension is 64 KiB or more, its data is the handed-over buffer itself.
#[test]
fn owned_group_info_decoding_is_decoding() {
    use rand::{Rng, SeedableRng};
    let big = |n: usize, seed: u8| Extension {
        extension_type: ExtensionType::RATCHET_TREE,
        extension_data: (0..n)
            .map(|i| (i as u8).wrapping_mul(seed))
            .collect::<Vec<_>>()
            .into(),
    };
    let small = |t: u16| Extension {
        extension_type: ExtensionType(t),
        extension_data: vl(&[t as u8; 5]).into(),
    };
    let group_info = |extensions| GroupInfo {
        group_context: group_context(),
        extensions,
        confirmation_tag: Mac(vl(&[1; 32])),
        signer: 3,
        signature: vl(&[2; 64]),
    };
    let lists = vec![
        vec![],
        vec![small(4)],
        vec![big(70_000, 3)],
        vec![small(4), big(70_000, 3)],
        vec![big(70_000, 3), small(4)],
        vec![small(5), big(100_000, 7), small(4)],
        vec![big(70_000, 3), big(100_000, 7)],
        vec![big(100_000, 7), big(70_000, 3)],
        vec![big(65_535, 1)],
        vec![big(65_536, 1)],
    ];
    let mut kept = 0;
    for extensions in lists {
        let gi = group_info(extensions);
        let handed = encode(&gi).unwrap();
        let buffer = handed.as_ptr();
        let got = decode_group_info_owned(handed).unwrap();
        assert_eq!(got, gi);
        let largest = gi
            .extensions
            .iter()
            .map(|e| e.extension_data.as_slice().len())
            .max()
            .unwrap_or(0);
        let in_buffer = got
            .extensions
            .iter()
            .filter(|e| e.extension_data.as_slice().as_ptr() == buffer)
            .count();
        assert_eq!(in_buffer, usize::from(largest >= 64 << 10), "{largest}");
        kept += in_buffer;
    }
    assert_eq!(kept, 7);

    let base = encode(&group_info(vec![small(5), big(100_000, 7), small(4)])).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
    let (mut decoded, mut refused) = (0, 0);
    for _ in 0..4_000 {
        let mut m = base.clone();
        // Mostly the first 300 bytes (group context and the headers up to the large data's)
        // and the last 300 (the data's end, the extension after it, tag, signer, signature).
        let at = match rng.random_range(0..4) {
            0 => rng.random_range(0..300),
            1 => m.len() - rng.random_range(1..300),
            _ => rng.random_range(0..m.len()),
        };
        match rng.random_range(0..5) {
            0 | 1 => m[at] ^= 1 << rng.random_range(0..8),
            2 => m.truncate(at),
            3 => m.insert(at, rng.random()),
            _ => {
                m.remove(at);
            }
        }
        let expected = decode::<GroupInfo>(&m);
        match &expected {
            Ok(_) => decoded += 1,
            Err(_) => refused += 1,
        }
        assert_eq!(decode_group_info_owned(m), expected);
    }
    eprintln!("owned GroupInfo decoding: {decoded} mutations decoded alike, {refused} refused alike");
    assert!(decoded > 100 && refused > 100, "{decoded} {refused}");
}
