//! Shared helpers of the canopy-engine fuzz targets (see `fuzz_targets/` and README.md
//! "Fuzzing").

use std::fmt::Debug;
use std::sync::OnceLock;

use canopy_engine::codec::{
    self, CipherSuiteId, Deserialize, GroupContext, ProtocolVersion, Serialize,
};
use canopy_engine::crypto::{CipherSuite, Provider, SignaturePrivateKey};

/// Decode `data` as a `T`; if that succeeds, the value must re-encode to exactly `data`
/// (the codec accepts only canonical encodings). Returns the value.
pub fn round_trip<T: Deserialize + Serialize + Debug>(data: &[u8]) -> Option<T> {
    let value = codec::decode::<T>(data).ok()?;
    let again = match codec::encode(&value) {
        Ok(bytes) => bytes,
        Err(e) => panic!("decoded value does not re-encode: {e:?}\n{value:?}"),
    };
    assert!(
        again == data,
        "re-encoding changed the bytes\n in: {}\nout: {}\n{value:?}",
        hex::encode(data),
        hex::encode(&again)
    );
    Some(value)
}

/// Case 0 (suite 1) of `message-protection.json`: the fixed epoch the `unprotect_private`
/// target unprotects against. Leaf 1 of a two-leaf secret tree is the sender.
#[derive(Debug)]
pub struct Protection {
    /// Suite 1.
    pub provider: Provider,
    /// The epoch's group context.
    pub group_context: GroupContext,
    /// `membership_key`.
    pub membership_key: Vec<u8>,
    /// `sender_data_secret`.
    pub sender_data_secret: Vec<u8>,
    /// `encryption_secret`.
    pub encryption_secret: Vec<u8>,
    /// Leaf 1's signature key.
    pub signer: SignaturePrivateKey,
    /// Leaf 1's public signature key.
    pub signer_pub: Vec<u8>,
    /// Another key (a member forging leaf 1's messages).
    pub forger: SignaturePrivateKey,
    /// The vector's PrivateMessages (`MLSMessage` encoding): proposal, commit, application.
    pub messages: Vec<Vec<u8>>,
}

const MESSAGE_PROTECTION: &str =
    include_str!("../../engine/test_vectors/mls/message-protection.json");

/// The fixed [`Protection`] (parsed once).
pub fn protection() -> &'static Protection {
    static P: OnceLock<Protection> = OnceLock::new();
    P.get_or_init(|| {
        let json: serde_json::Value =
            serde_json::from_str(MESSAGE_PROTECTION).expect("message-protection.json parses");
        let case = &json[0];
        assert_eq!(case["cipher_suite"], 1, "case 0 is suite 1");
        let hex = |k: &str| hex::decode(case[k].as_str().expect(k)).expect(k);
        let provider = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
        let signer = SignaturePrivateKey::from_seed(&hex("signature_priv")).expect("seed");
        let forger = SignaturePrivateKey::from_seed(&[0x42; 32]).expect("seed");
        Protection {
            provider,
            group_context: GroupContext {
                version: ProtocolVersion::MLS10,
                cipher_suite: CipherSuiteId(1),
                group_id: hex("group_id").into(),
                epoch: case["epoch"].as_u64().expect("epoch"),
                tree_hash: hex("tree_hash").into(),
                confirmed_transcript_hash: hex("confirmed_transcript_hash").into(),
                extensions: Vec::new(),
            },
            membership_key: hex("membership_key"),
            sender_data_secret: hex("sender_data_secret"),
            encryption_secret: hex("encryption_secret"),
            signer,
            signer_pub: hex("signature_pub"),
            forger,
            messages: ["proposal_priv", "commit_priv", "application_priv"]
                .iter()
                .map(|k| hex(k))
                .collect(),
        }
    })
}
