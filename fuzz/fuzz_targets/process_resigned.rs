//! Structure-aware fuzzing behind authentication. The live group of
//! `canopy_fuzz::resigned` (every member re-based onto epoch secrets the harness knows)
//! gives a genuine commit (UpdatePath, Add, Remove, PreSharedKey) and genuine standalone
//! proposals. The input is a script of edits to their decoded *content* — proposal list
//! entries, proposal types, leaf indices, KeyPackage and leaf node fields, extension lists,
//! PSK ids, the UpdatePath's nodes, keys, ciphertexts, leaf and parent hash, the sender —
//! after which the harness re-signs every leaf it holds the key for (path leaf, Update
//! leaves, KeyPackages), signs the content with the sender's real signature key and computes
//! the membership tag (or encrypts it as a PrivateMessage), so the message passes
//! authentication and the validation behind it runs.
//!
//! By default a commit keeps the genuine confirmation tag, so an edited commit fails there at
//! the latest, after the proposal rules, the path checks, the path decryption and the key
//! schedule have run on it. The edit "seal" has the harness model the new epoch (`seal`:
//! proposals applied to a copy of the tree, a fresh UpdatePath generated with the edited
//! path leaf as template, PSKs resolved) and compute the confirmation tag, so edited commits
//! that are still valid are *accepted* and the code after the tag check runs too.
//!
//! Contract checked on every input, for the receiver, a second member (the witness) and the
//! member the genuine commit removes, which all get the same messages: `Group::process` never
//! panics; an error leaves `state_digest()` unchanged (for a PrivateMessage, which consumes
//! its ratchet generation once it decrypts and verifies: the epoch, context, tree, exported
//! secret and removed flag); an accepted proposal keeps the epoch, an accepted commit moves to
//! the next epoch; if the receiver and the witness both accept a commit they agree on the
//! epoch authenticator and the tree; if the removed member takes the commit as its removal,
//! the receiver accepts it or rejects it only for what the removed member cannot check (the
//! path decryption, the confirmation tag; see `removed_member_cannot_check`).
//!
//! Input layout. Byte 0: bit 0 send a standalone proposal before the commit, bits 1-3 which
//! genuine proposal (Update, Add, Remove, PreSharedKey, GroupContextExtensions, modulo 5),
//! bit 4 the commit as a PrivateMessage, bit 5 the proposal as a PrivateMessage, bit 6 send no
//! commit, bit 7 keep stale leaf and KeyPackage signatures (edited leaves are not re-signed).
//! Then edits until the input ends: one byte, bit 7 set for the standalone proposal, clear for
//! the commit, the rest choosing the edit (commit, modulo 11: remove / duplicate / swap
//! entries, insert a new proposal, insert a reference (to the standalone proposal as sent, or
//! raw), edit an entry, drop or restore the path, edit the path, change the sender, change the
//! authenticated data, seal; proposal, modulo 4: edit (twice as likely), change the sender,
//! change the authenticated data); operands follow (see `Script`). A missing operand reads as
//! 0, so every input is a valid script, and the empty script sends the genuine commit.
//!
//! A hand-written byte reader rather than `arbitrary`: the edits apply to one fixed, real
//! message, so the input is a short program, not a value; the codec types are foreign and do
//! not implement `Arbitrary` (deriving it would mean mirroring every type, and random whole
//! values would mostly fail the leaf and KeyPackage rules the genuine ones pass); and with
//! one byte per opcode libFuzzer's byte mutations map directly onto inserting, deleting and
//! changing single edits, and seeds can be written by hand (`seed_corpus.py`).
#![no_main]

use canopy_engine::codec::{
    self, Add, AuthenticatedContent, Capabilities, Certificate, CipherSuiteId, Commit, Credential,
    CredentialType, Extension, ExtensionType, ExternalInit, ExternalPub, ExternalSender,
    FramedContent, FramedContentAuthData, FramedContentBody, GroupContext, GroupContextExtensions,
    HashReference, HpkePublicKey, KeyPackage, KeyPackageTbs, LeafNode, LeafNodeSourceData,
    LeafNodeTbs, Lifetime, Mac, MlsMessage, MlsMessageBody, PreSharedKey, PreSharedKeyId, Proposal,
    ProposalOrRef, ProposalType, ProtocolVersion, PskSource, PublicMessage, ReInit, Remove,
    RequiredCapabilities, ResumptionPskUsage, Sender, SignaturePublicKey, Update, UpdatePath,
    WireFormat,
};
use canopy_engine::crypto::Secret;
use canopy_engine::framing::{sign_content, EpochFraming};
use canopy_engine::group::{Group, ProcessOutcome};
use canopy_engine::kem::{generate_update_path, Ephemeral, PathParams};
use canopy_engine::schedule::{self, EpochSecrets};
use canopy_engine::tree::LeafIndex;
use canopy_engine::Error;
use canopy_engine::{ApiMisuse, PeerMisbehaved};
use canopy_fuzz::live::{self, NOW};
use canopy_fuzz::resigned::{
    resigned, Resigned, COMMITTER, PROPOSER, PSK_ID, PSK_VALUE, RECEIVER, VICTIM,
};
use libfuzzer_sys::fuzz_target;

/// A placeholder ProposalRef that the harness replaces by the reference of the standalone
/// proposal as it was sent (known only once its content is final and signed).
const STANDALONE_REF: &[u8] = b"\xffstandalone proposal ref";

/// A second honest receiver (the proposer's leaf): when it and the receiver both accept a
/// commit, they must be in the same epoch.
const WITNESS: usize = PROPOSER;

/// The byte reader (see the module doc for why not `arbitrary`).
struct Script<'a> {
    data: &'a [u8],
    fixture: &'a Resigned,
    /// Set by the commit edit "seal": recompute the commit's path and confirmation tag.
    seal: bool,
}

impl Script<'_> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        (u64::from(self.u32()) << 32) | u64::from(self.u32())
    }

    /// A value below `n` (n ≤ 256).
    fn below(&mut self, n: usize) -> usize {
        usize::from(self.u8()) % n.max(1)
    }

    /// Up to 64 raw bytes.
    fn bytes(&mut self) -> Vec<u8> {
        let n = (usize::from(self.u8()) % 65).min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head.to_vec()
    }

    /// A leaf index: mostly small (in and just beyond the tree), sometimes any u32.
    fn leaf_index(&mut self) -> u32 {
        match self.u8() {
            b @ 0..=0xef => u32::from(b % 8),
            _ => self.u32(),
        }
    }

    /// An index into a list of `len` (or just past it, for insertion).
    fn index(&mut self, len: usize) -> usize {
        self.below(len + 1)
    }

    /// A byte string of a length interesting to a 32-byte field: 0, 31, 32, 33 or raw.
    fn sized(&mut self) -> Vec<u8> {
        let fill = self.u8();
        match self.below(5) {
            0 => Vec::new(),
            1 => vec![fill; 31],
            2 => vec![fill; 32],
            3 => vec![fill; 33],
            _ => self.bytes(),
        }
    }

    /// An HPKE public key: a fresh valid one, one already in the tree, raw bytes.
    fn hpke_key(&mut self) -> HpkePublicKey {
        let tree = self.fixture.members[RECEIVER].tree();
        let key = match self.below(3) {
            0 => {
                let seed = [self.u8(); 32];
                self.fixture
                    .provider
                    .derive_hpke_key_pair(&seed)
                    .map(|(_, public)| public)
                    .unwrap_or_default()
            }
            1 => {
                let x = self.below(tree.width() as usize) as u32;
                tree.encryption_key(canopy_engine::tree::NodeIndex(x))
                    .unwrap_or_default()
                    .to_vec()
            }
            _ => self.sized(),
        };
        HpkePublicKey(key.into())
    }

    /// A signature public key: one the harness holds the private key for, or raw bytes.
    fn signature_key(&mut self) -> SignaturePublicKey {
        let pubs = &self.fixture.signer_pubs;
        let key = match self.below(pubs.len() + 1) {
            i if i < pubs.len() => pubs[i].clone(),
            _ => self.sized(),
        };
        SignaturePublicKey(key.into())
    }

    fn extension_type(&mut self) -> ExtensionType {
        ExtensionType(match self.below(8) {
            t @ 0..=5 => t as u16, // 0 is reserved; 1..=5 the RFC's
            6 => 0x0a0a,           // GREASE
            _ => self.u16(),
        })
    }

    fn proposal_type(&mut self) -> ProposalType {
        ProposalType(match self.below(10) {
            t @ 0..=7 => t as u16,
            8 => 0x0a0a,
            _ => self.u16(),
        })
    }

    fn credential_type(&mut self) -> CredentialType {
        CredentialType(match self.below(4) {
            t @ 0..=2 => t as u16,
            _ => self.u16(),
        })
    }

    fn small_u16(&mut self) -> u16 {
        match self.below(5) {
            t @ 0..=3 => t as u16,
            _ => self.u16(),
        }
    }

    /// An extension: raw body, or a well-formed body of a type the engine reads.
    fn extension(&mut self) -> Extension {
        let extension_type = self.extension_type();
        let data = match self.below(5) {
            0 => {
                let mut rc = RequiredCapabilities::default();
                for _ in 0..self.below(3) {
                    rc.extension_types.push(self.extension_type());
                }
                for _ in 0..self.below(3) {
                    rc.proposal_types.push(self.proposal_type());
                }
                for _ in 0..self.below(3) {
                    rc.credential_types.push(self.credential_type());
                }
                codec::encode(&rc).unwrap_or_default()
            }
            1 => codec::encode(&ExternalPub {
                external_pub: self.hpke_key(),
            })
            .unwrap_or_default(),
            2 => codec::encode(&vec![ExternalSender {
                signature_key: self.signature_key(),
                credential: self.credential(),
            }])
            .unwrap_or_default(),
            3 => codec::encode(&codec::VLBytes::new(self.bytes())).unwrap_or_default(),
            _ => self.bytes(),
        };
        Extension {
            extension_type,
            extension_data: data.into(),
        }
    }

    fn edit_extensions(&mut self, list: &mut Vec<Extension>) {
        match self.below(4) {
            0 => {
                let at = self.index(list.len());
                let e = self.extension();
                list.insert(at, e);
            }
            1 if !list.is_empty() => {
                let at = self.below(list.len());
                list.remove(at);
            }
            2 if !list.is_empty() => {
                let at = self.below(list.len());
                list.push(list[at].clone());
            }
            _ => list.clear(),
        }
    }

    fn credential(&mut self) -> Credential {
        match self.below(4) {
            0 => Credential::Basic {
                identity: self.bytes().into(),
            },
            // Another member's identity (`live::key_package` names member i "m{i}").
            1 => Credential::Basic {
                identity: format!("m{}", self.below(4)).into_bytes().into(),
            },
            2 => Credential::X509 {
                certificates: Vec::new(),
            },
            _ => Credential::X509 {
                certificates: vec![Certificate {
                    cert_data: self.bytes().into(),
                }],
            },
        }
    }

    fn edit_capabilities(&mut self, c: &mut Capabilities) {
        match self.below(7) {
            0 => c.versions.push(ProtocolVersion(self.small_u16())),
            1 => c.cipher_suites.push(CipherSuiteId(self.small_u16())),
            2 => {
                let t = self.extension_type();
                c.extensions.push(t)
            }
            3 => {
                let t = self.proposal_type();
                c.proposals.push(t)
            }
            4 => {
                let t = self.credential_type();
                c.credentials.push(t)
            }
            5 => match self.below(5) {
                0 => c.versions.clear(),
                1 => c.cipher_suites.clear(),
                2 => c.extensions.clear(),
                3 => c.proposals.clear(),
                _ => c.credentials.clear(),
            },
            _ => *c = Capabilities::default(),
        }
    }

    fn lifetime(&mut self) -> Lifetime {
        let (not_before, not_after) = match self.below(5) {
            0 => (0, u64::MAX),
            1 => (NOW + 1_000, NOW + 2_000),
            2 => (0, NOW - 1),
            3 => (NOW + 10, NOW - 10),
            _ => (self.u64(), self.u64()),
        };
        Lifetime {
            not_before,
            not_after,
        }
    }

    fn edit_leaf(&mut self, leaf: &mut LeafNode) {
        match self.below(8) {
            0 => leaf.encryption_key = self.hpke_key(),
            1 => leaf.signature_key = self.signature_key(),
            2 => leaf.credential = self.credential(),
            3 => self.edit_capabilities(&mut leaf.capabilities),
            4 => {
                leaf.leaf_node_source = match self.below(3) {
                    0 => LeafNodeSourceData::KeyPackage {
                        lifetime: self.lifetime(),
                    },
                    1 => LeafNodeSourceData::Update,
                    _ => LeafNodeSourceData::Commit {
                        parent_hash: self.sized().into(),
                    },
                }
            }
            5 => self.edit_extensions(&mut leaf.extensions),
            6 => self.edit_parent_hash(leaf),
            _ => {
                if let LeafNodeSourceData::KeyPackage { lifetime } = &mut leaf.leaf_node_source {
                    *lifetime = self.lifetime();
                }
            }
        }
    }

    fn edit_parent_hash(&mut self, leaf: &mut LeafNode) {
        if let LeafNodeSourceData::Commit { parent_hash } = &mut leaf.leaf_node_source {
            let mut h = parent_hash.as_slice().to_vec();
            match self.below(3) {
                0 if !h.is_empty() => {
                    let at = self.below(h.len());
                    h[at] ^= self.u8() | 1;
                }
                1 => h.clear(),
                _ => h = self.sized(),
            }
            *parent_hash = h.into();
        }
    }

    fn edit_key_package(&mut self, kp: &mut KeyPackage) {
        match self.below(6) {
            0 => kp.version = ProtocolVersion(self.small_u16()),
            1 => kp.cipher_suite = CipherSuiteId(self.small_u16()),
            2 => kp.init_key = self.hpke_key(),
            3 => kp.init_key = kp.leaf_node.encryption_key.clone(),
            4 => self.edit_extensions(&mut kp.extensions),
            _ => self.edit_leaf(&mut kp.leaf_node),
        }
    }

    fn psk_id(&mut self) -> PreSharedKeyId {
        let context = self.fixture.members[RECEIVER].context();
        let source = match self.below(3) {
            0 => PskSource::External {
                psk_id: PSK_ID.to_vec().into(),
            },
            1 => PskSource::External {
                psk_id: self.bytes().into(),
            },
            _ => PskSource::Resumption {
                usage: match self.below(3) {
                    0 => ResumptionPskUsage::Application,
                    1 => ResumptionPskUsage::Reinit,
                    _ => ResumptionPskUsage::Branch,
                },
                psk_group_id: if self.below(2) == 0 {
                    context.group_id.clone()
                } else {
                    self.bytes().into()
                },
                psk_epoch: match self.below(3) {
                    0 => context.epoch,
                    1 => context.epoch.wrapping_sub(1),
                    _ => self.u64(),
                },
            },
        };
        PreSharedKeyId {
            source,
            psk_nonce: self.sized().into(),
        }
    }

    fn edit_psk(&mut self, id: &mut PreSharedKeyId) {
        match self.below(3) {
            0 => id.psk_nonce = self.sized().into(),
            1 => *id = self.psk_id(),
            _ => {
                let nonce = id.psk_nonce.clone();
                *id = self.psk_id();
                id.psk_nonce = nonce;
            }
        }
    }

    /// A new proposal of a type the input picks, valid where the harness can make it so.
    fn new_proposal(&mut self) -> Proposal {
        let f = self.fixture;
        match self.below(8) {
            0 => Proposal::Add(Add {
                key_package: f.key_packages[self.below(f.key_packages.len())].clone(),
            }),
            1 => {
                let tree = f.members[RECEIVER].tree();
                let at = LeafIndex(self.below(4) as u32);
                let mut leaf = tree
                    .leaf(at)
                    .map(|l| l.decode())
                    .unwrap_or_else(|| f.key_packages[0].leaf_node.clone());
                leaf.leaf_node_source = LeafNodeSourceData::Update;
                leaf.encryption_key = self.hpke_key();
                Proposal::Update(Update { leaf_node: leaf })
            }
            2 => Proposal::Remove(Remove {
                removed: self.leaf_index(),
            }),
            3 => Proposal::PreSharedKey(PreSharedKey { psk: self.psk_id() }),
            4 => Proposal::ReInit(ReInit {
                group_id: self.bytes().into(),
                version: ProtocolVersion(self.small_u16()),
                cipher_suite: CipherSuiteId(self.small_u16()),
                extensions: Vec::new(),
            }),
            5 => Proposal::ExternalInit(ExternalInit {
                kem_output: self.sized().into(),
            }),
            6 => Proposal::GroupContextExtensions(GroupContextExtensions {
                extensions: Vec::new(),
            }),
            _ => {
                let (_, pm) = &f.proposals[self.below(f.proposals.len())];
                match &pm.content.content {
                    FramedContentBody::Proposal(p) => p.clone(),
                    _ => unreachable!("a genuine proposal"),
                }
            }
        }
    }

    fn edit_proposal(&mut self, p: &mut Proposal) {
        if self.below(4) == 0 {
            *p = self.new_proposal();
            return;
        }
        match p {
            Proposal::Add(a) => self.edit_key_package(&mut a.key_package),
            Proposal::Update(u) => self.edit_leaf(&mut u.leaf_node),
            Proposal::Remove(r) => r.removed = self.leaf_index(),
            Proposal::PreSharedKey(k) => self.edit_psk(&mut k.psk),
            Proposal::ReInit(r) => match self.below(4) {
                0 => r.group_id = self.bytes().into(),
                1 => r.version = ProtocolVersion(self.small_u16()),
                2 => r.cipher_suite = CipherSuiteId(self.small_u16()),
                _ => self.edit_extensions(&mut r.extensions),
            },
            Proposal::ExternalInit(e) => e.kem_output = self.sized().into(),
            Proposal::GroupContextExtensions(g) => self.edit_extensions(&mut g.extensions),
        }
    }

    fn edit_path(&mut self, path: &mut UpdatePath) {
        let n = path.nodes.len();
        match self.below(12) {
            0 if n > 0 => {
                let at = self.below(n);
                path.nodes.remove(at);
            }
            1 if n > 0 => {
                let at = self.below(n);
                let to = self.index(n);
                path.nodes.insert(to, path.nodes[at].clone());
            }
            2 if n > 1 => {
                let (a, b) = (self.below(n), self.below(n));
                path.nodes.swap(a, b);
            }
            3 if n > 0 => {
                let at = self.below(n);
                path.nodes[at].encryption_key = self.hpke_key();
            }
            4 if n > 1 => {
                let (a, b) = (self.below(n), self.below(n));
                path.nodes[a].encryption_key = path.nodes[b].encryption_key.clone();
            }
            5 if n > 0 => {
                let at = self.below(n);
                let cts = &mut path.nodes[at].encrypted_path_secret;
                match self.below(4) {
                    0 if !cts.is_empty() => {
                        let i = self.below(cts.len());
                        cts.remove(i);
                    }
                    1 if !cts.is_empty() => {
                        let i = self.below(cts.len());
                        cts.push(cts[i].clone());
                    }
                    2 => cts.clear(),
                    _ if !cts.is_empty() => {
                        let i = self.below(cts.len());
                        cts.truncate(i);
                    }
                    _ => {}
                }
            }
            6 if n > 0 => {
                let at = self.below(n);
                let cts = &mut path.nodes[at].encrypted_path_secret;
                if !cts.is_empty() {
                    let i = self.below(cts.len());
                    let which = self.below(2);
                    let field = if which == 0 {
                        &mut cts[i].kem_output
                    } else {
                        &mut cts[i].ciphertext
                    };
                    let mut v = field.as_slice().to_vec();
                    match self.below(3) {
                        0 if !v.is_empty() => {
                            let j = self.below(v.len());
                            v[j] ^= self.u8() | 1;
                        }
                        1 => v.truncate(self.below(v.len() + 1)),
                        _ => v = self.sized(),
                    }
                    *field = v.into();
                }
            }
            7 if n > 1 => {
                let (a, b) = (self.below(n), self.below(n));
                let ct = path.nodes[b].encrypted_path_secret.clone();
                path.nodes[a].encrypted_path_secret = ct;
            }
            8 => path.leaf_node.encryption_key = self.hpke_key(),
            9 => self.edit_parent_hash(&mut path.leaf_node),
            _ => self.edit_leaf(&mut path.leaf_node),
        }
    }

    fn edit_sender(&mut self, sender: &mut Sender) {
        *sender = match self.below(4) {
            0..=2 => Sender::Member {
                leaf_index: self.leaf_index(),
            },
            _ => Sender::External {
                sender_index: self.u8().into(),
            },
        };
    }

    /// One commit edit, of kind `kind`.
    fn edit_commit(&mut self, pm: &mut PublicMessage, kind: u8) {
        let sender = &mut pm.content.sender;
        let aad = &mut pm.content.authenticated_data;
        let FramedContentBody::Commit(c) = &mut pm.content.content else {
            return;
        };
        let n = c.proposals.len();
        match kind % 11 {
            0 if n > 0 => {
                let at = self.below(n);
                c.proposals.remove(at);
            }
            1 if n > 0 => {
                let at = self.below(n);
                let to = self.index(n);
                c.proposals.insert(to, c.proposals[at].clone());
            }
            2 if n > 1 => {
                let (a, b) = (self.below(n), self.below(n));
                c.proposals.swap(a, b);
            }
            3 => {
                let to = self.index(n);
                let p = self.new_proposal();
                c.proposals.insert(to, ProposalOrRef::Proposal(p));
            }
            4 => {
                let to = self.index(n);
                let r = match self.below(3) {
                    0 | 1 => STANDALONE_REF.to_vec(),
                    _ => self.sized(),
                };
                c.proposals
                    .insert(to, ProposalOrRef::Reference(HashReference(r.into())));
            }
            5 if n > 0 => {
                let at = self.below(n);
                match &mut c.proposals[at] {
                    ProposalOrRef::Proposal(p) => self.edit_proposal(p),
                    ProposalOrRef::Reference(r) => *r = HashReference(self.sized().into()),
                }
            }
            6 => {
                c.path = match c.path.take() {
                    Some(_) => None,
                    None => match &self.fixture.commit.content.content {
                        FramedContentBody::Commit(g) => g.path.clone(),
                        _ => None,
                    },
                }
            }
            7 => {
                if let Some(path) = &mut c.path {
                    self.edit_path(path);
                }
            }
            8 => self.edit_sender(sender),
            9 => *aad = self.bytes().into(),
            _ => self.seal = true,
        }
    }

    /// One standalone-proposal edit, of kind `kind`.
    fn edit_standalone(&mut self, pm: &mut PublicMessage, kind: u8) {
        match kind % 4 {
            0 | 1 => {
                if let FramedContentBody::Proposal(p) = &mut pm.content.content {
                    self.edit_proposal(p);
                }
            }
            2 => self.edit_sender(&mut pm.content.sender),
            _ => pm.content.authenticated_data = self.bytes().into(),
        }
    }
}

/// The signer whose public key is `key`, if the harness holds it.
fn signer_for<'a>(
    f: &'a Resigned,
    key: &SignaturePublicKey,
) -> Option<&'a canopy_engine::crypto::SignaturePrivateKey> {
    f.signer_pubs
        .iter()
        .position(|p| p.as_slice() == key.as_slice())
        .map(|i| &f.signers[i])
}

/// Re-sign `leaf` (as the leaf at `index`) with the key its `signature_key` names, if held.
fn resign_leaf(f: &Resigned, leaf: &mut LeafNode, index: u32) {
    let Some(signer) = signer_for(f, &leaf.signature_key) else {
        return;
    };
    let group_id = f.members[RECEIVER].context().group_id.as_slice();
    if let Ok(tbs) = codec::encode(&LeafNodeTbs::in_group(leaf, group_id, index)) {
        if let Ok(sig) = f.provider.sign_with_label(signer, b"LeafNodeTBS", &tbs) {
            leaf.signature = sig.into();
        }
    }
}

/// Re-sign a KeyPackage's leaf and the KeyPackage itself.
fn resign_key_package(f: &Resigned, kp: &mut KeyPackage) {
    resign_leaf(f, &mut kp.leaf_node, 0);
    let Some(signer) = signer_for(f, &kp.leaf_node.signature_key) else {
        return;
    };
    if let Ok(tbs) = codec::encode(&KeyPackageTbs { key_package: kp }) {
        if let Ok(sig) = f.provider.sign_with_label(signer, b"KeyPackageTBS", &tbs) {
            kp.signature = sig.into();
        }
    }
}

fn resign_proposal(f: &Resigned, p: &mut Proposal, sender: u32) {
    match p {
        Proposal::Add(a) => resign_key_package(f, &mut a.key_package),
        Proposal::Update(u) => resign_leaf(f, &mut u.leaf_node, sender),
        _ => {}
    }
}

/// The member leaf index of `sender` (`u32::MAX` for any other sender type).
fn sender_leaf(sender: &Sender) -> u32 {
    match sender {
        Sender::Member { leaf_index } => *leaf_index,
        _ => u32::MAX,
    }
}

/// Re-sign every leaf and KeyPackage of `pm`'s content whose key the harness holds.
fn resign_leaves(f: &Resigned, pm: &mut PublicMessage) {
    let sender = sender_leaf(&pm.content.sender);
    match &mut pm.content.content {
        FramedContentBody::Proposal(p) => resign_proposal(f, p, sender),
        FramedContentBody::Commit(c) => {
            for entry in &mut c.proposals {
                if let ProposalOrRef::Proposal(p) = entry {
                    resign_proposal(f, p, sender);
                }
            }
            if let Some(path) = &mut c.path {
                resign_leaf(f, &mut path.leaf_node, sender);
            }
        }
        FramedContentBody::Application { .. } => {}
    }
}

/// What the confirmation tag of a sealed commit needs besides its signed content.
struct Sealing {
    /// The new epoch's GroupContext but for the confirmed transcript hash.
    provisional: GroupContext,
    commit_secret: Secret,
    psk_secret: Secret,
}

/// Model the new epoch of `commit` from `committer` the way a receiver computes it, so that
/// its confirmation tag can be recomputed: the resolved proposals applied to a copy of the
/// receiver's tree (Updates in list order, then Removes in leaf order, then Adds in list
/// order; GroupContextExtensions to the context), a fresh UpdatePath generated for the result
/// with the (edited) path leaf as the template of the new leaf — its credential,
/// capabilities, extensions and signature key survive, the path's structure edits do not —
/// and the PSKs resolved as the members hold them. `cached` is the standalone proposal the
/// receiver accepted (reference, proposal, sender). `None` where the model has no answer (an
/// unknown reference or PSK, a failing tree operation): the genuine tag stays. The model does
/// not have to match the engine on every list: where it differs, the tag is wrong and the
/// commit fails at the tag, as it would unsealed.
fn seal(
    f: &Resigned,
    commit: &mut Commit,
    committer: u32,
    cached: Option<(&[u8], &Proposal, u32)>,
) -> Option<Sealing> {
    let p = f.provider;
    let g = &f.members[RECEIVER];
    let ctx = g.context();
    let mut tree = g.tree().clone();
    let mut provisional = GroupContext {
        epoch: ctx.epoch.checked_add(1)?,
        ..ctx.clone()
    };
    let (mut removes, mut adds, mut psks) = (Vec::new(), Vec::new(), Vec::new());
    for entry in &commit.proposals {
        let (proposal, sender) = match entry {
            ProposalOrRef::Proposal(proposal) => (proposal, committer),
            ProposalOrRef::Reference(r) => match cached {
                Some((reference, proposal, sender)) if r.as_slice() == reference => {
                    (proposal, sender)
                }
                _ => return None,
            },
        };
        match proposal {
            Proposal::Update(u) => tree.update_leaf(LeafIndex(sender), &u.leaf_node).ok()?,
            Proposal::Remove(r) => removes.push(r.removed),
            Proposal::Add(a) => adds.push(a.key_package.leaf_node.clone()),
            Proposal::PreSharedKey(k) => psks.push(k.psk.clone()),
            Proposal::GroupContextExtensions(e) => provisional.extensions = e.extensions.clone(),
            Proposal::ReInit(_) | Proposal::ExternalInit(_) => {}
        }
    }
    removes.sort_unstable();
    for r in removes {
        tree.remove_leaf(LeafIndex(r)).ok()?;
    }
    let new_leaves: Vec<LeafIndex> = adds
        .iter()
        .map(|l| tree.add_leaf(l).ok())
        .collect::<Option<_>>()?;
    let commit_secret = match &mut commit.path {
        Some(path) => {
            let template = path.leaf_node.clone();
            let signer = signer_for(f, &template.signature_key).unwrap_or(&f.signers[COMMITTER]);
            let leaf_secret = Secret::new(vec![0x5e; p.hash_len()]);
            let params = PathParams {
                sender: LeafIndex(committer),
                leaf_secret: &leaf_secret,
                signer,
                leaf_template: Some(&template),
                new_leaves: &new_leaves,
            };
            let ephemeral = Ephemeral::Seeded(Secret::new(vec![0x5f; 32]));
            let generated =
                generate_update_path(&p, &mut tree, &params, &provisional, &ephemeral).ok()?;
            *path = generated.update_path;
            provisional.tree_hash = generated.tree_hash.into();
            generated.commit_secret
        }
        None => {
            provisional.tree_hash = tree.tree_hash(&p).ok()?.into();
            Secret::new(vec![0; p.hash_len()])
        }
    };
    let mut values = Vec::new();
    for id in psks {
        let value = match &id.source {
            PskSource::External { psk_id } if psk_id.as_slice() == PSK_ID => {
                Secret::new(PSK_VALUE.to_vec())
            }
            PskSource::Resumption {
                psk_group_id,
                psk_epoch,
                ..
            } if psk_group_id.as_slice() == ctx.group_id.as_slice() && *psk_epoch == ctx.epoch => {
                f.secrets.resumption_psk.clone()
            }
            _ => return None,
        };
        values.push((id, value));
    }
    let psk_secret = schedule::psk_secret(&p, &values).ok()?;
    Some(Sealing {
        provisional,
        commit_secret,
        psk_secret,
    })
}

/// The confirmation tag of a sealed commit (RFC 9420 §8: confirmed transcript hash over the
/// signed content, key schedule of the new epoch, MAC).
fn confirmation_tag(
    f: &Resigned,
    sealing: Sealing,
    wire_format: WireFormat,
    content: &FramedContent,
    signature: &[u8],
) -> Option<Mac> {
    let p = &f.provider;
    let confirmed = schedule::confirmed_transcript_hash(
        p,
        &f.interim_transcript_hash,
        wire_format,
        content,
        signature,
    )
    .ok()?;
    let mut context = sealing.provisional;
    context.confirmed_transcript_hash = confirmed.clone().into();
    let secrets = EpochSecrets::derive(
        p,
        f.secrets.init_secret.as_bytes(),
        sealing.commit_secret.as_bytes(),
        sealing.psk_secret.as_bytes(),
        &codec::encode(&context).ok()?,
    )
    .ok()?;
    Some(Mac(secrets.confirmation_tag(p, &confirmed).into()))
}

/// Sign `pm`'s content as its sender (its real key) and frame it for the epoch, with the
/// confirmation tag of `sealing` if given: the `MLSMessage` bytes and the
/// AuthenticatedContent as sent (for its ProposalRef). `None` if the harness cannot frame it
/// (e.g. a PrivateMessage from a leaf outside the tree).
fn frame(
    f: &Resigned,
    framing: &mut EpochFraming,
    pm: PublicMessage,
    private: bool,
    sealing: Option<Sealing>,
) -> Option<(Vec<u8>, AuthenticatedContent)> {
    let sender = sender_leaf(&pm.content.sender);
    // A sender that is no member is signed for by the committer (the framing layer rejects
    // it, which is fine).
    let signer = f
        .signers
        .get(sender as usize)
        .filter(|_| (sender as usize) < f.members.len())
        .unwrap_or(&f.signers[COMMITTER]);
    let ctx = f.members[RECEIVER].context();
    let wire_format = if private {
        WireFormat::PrivateMessage
    } else {
        WireFormat::PublicMessage
    };
    let signature = sign_content(&f.provider, signer, wire_format, &pm.content, ctx).ok()?;
    let confirmation_tag = match sealing {
        Some(sealing) => Some(confirmation_tag(
            f,
            sealing,
            wire_format,
            &pm.content,
            signature.as_slice(),
        )?),
        None => pm.auth.confirmation_tag,
    };
    let auth = AuthenticatedContent {
        wire_format,
        content: pm.content,
        auth: FramedContentAuthData {
            signature,
            confirmation_tag,
        },
    };
    let body = if private {
        MlsMessageBody::PrivateMessage(
            framing
                .protect_private_with_reuse_guard(&auth, 0, [0; 4])
                .ok()?,
        )
    } else {
        MlsMessageBody::PublicMessage(framing.protect_public(auth.clone()).ok()?)
    };
    let bytes = codec::encode(&MlsMessage {
        version: ProtocolVersion::MLS10,
        body,
    })
    .ok()?;
    Some((bytes, auth))
}

/// Whether to print every outcome (`CANOPY_FUZZ_TRACE` set): to see which checks the
/// corpus reaches (`cargo fuzz run process_resigned <files> -- -runs=0`).
fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("CANOPY_FUZZ_TRACE").is_some())
}

/// Give `bytes` to `g` and check the contract (see the module doc).
fn deliver(g: &mut Group, bytes: &[u8], private: bool, who: &str) -> Result<ProcessOutcome, Error> {
    let digest = g.state_digest().expect("state digest");
    let snapshot = live::snapshot(g);
    let epoch = g.epoch();
    let result = g.process(bytes);
    if trace() {
        eprintln!("{who}: {result:?}");
    }
    match &result {
        Ok(outcome) => {
            g.state_digest()
                .expect("state digest after an accepted message");
            match outcome {
                ProcessOutcome::Proposal { .. } => {
                    assert_eq!(g.epoch(), epoch, "{who}: a proposal changed the epoch")
                }
                ProcessOutcome::Committed { epoch: e, .. } => {
                    assert_eq!(*e, epoch + 1, "{who}: commit outcome epoch");
                    assert_eq!(g.epoch(), epoch + 1, "{who}: commit did not advance");
                }
                ProcessOutcome::Removed => assert!(g.is_removed(), "{who}: removed flag"),
                _ => {}
            }
        }
        Err(e) => {
            if private {
                assert!(
                    live::snapshot(g) == snapshot,
                    "{who}: rejected PrivateMessage ({e:?}) changed the state"
                );
            } else {
                assert!(
                    g.state_digest().expect("state digest") == digest,
                    "{who}: rejected message ({e:?}) changed the state digest"
                );
            }
        }
    }
    result
}

/// Whether the receiver's rejection of a commit is one the member the commit removes cannot
/// see: that member skips the path decryption (and so everything that needs the decrypted
/// path secrets) and the confirmation tag; it is not the receiver (its own commit) and holds no
/// pending Update of the receiver's.
fn removed_member_cannot_check(e: &Error) -> bool {
    match e {
        Error::PeerMisbehaved(
            PeerMisbehaved::InvalidConfirmationTag
            | PeerMisbehaved::UnknownProposalRef
            | PeerMisbehaved::PathSecretDecryption { .. }
            | PeerMisbehaved::NoPrivateKey { .. }
            | PeerMisbehaved::PrivateKeyMismatch { .. }
            | PeerMisbehaved::PathPublicKeyMismatch { .. },
        ) => true,
        Error::ApiMisuse(ApiMisuse::OwnCommit) => true,
        // Failures inside the path decryption and key derivation (a signature is checked by
        // the removed member too).
        Error::Crypto(c) => !matches!(c, canopy_engine::CryptoError::InvalidSignature),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let f = resigned();
    if trace() {
        eprintln!("input {}", hex::encode(data));
    }
    let Some((&header, ops)) = data.split_first() else {
        return;
    };
    let send_proposal = header & 1 != 0;
    let choice = usize::from((header >> 1) & 7) % f.proposals.len();
    let commit_private = header & 0x10 != 0;
    let proposal_private = header & 0x20 != 0;
    let send_commit = header & 0x40 == 0;
    let resign = header & 0x80 == 0;

    let mut standalone = f.proposals[choice].1.clone();
    let mut commit = f.commit.clone();
    let mut script = Script {
        data: ops,
        fixture: f,
        seal: false,
    };
    while !script.data.is_empty() {
        let op = script.u8();
        if op & 0x80 != 0 {
            script.edit_standalone(&mut standalone, op & 0x7f);
        } else {
            script.edit_commit(&mut commit, op);
        }
    }
    let sealed = script.seal;

    let ctx = f.members[RECEIVER].context().clone();
    let mut framing = EpochFraming::new(
        f.provider,
        ctx,
        f.secrets.membership_key.clone(),
        f.secrets.sender_data_secret.clone(),
        f.secrets.encryption_secret.clone(),
        f.members[RECEIVER].tree().n_leaves(),
    );
    let mut receiver = f.members[RECEIVER].clone();
    let mut witness = f.members[WITNESS].clone();
    let mut victim = f.members[VICTIM].clone();

    // The standalone proposal as the receiver cached it: reference, proposal, sender.
    let mut cached: Option<(Vec<u8>, Proposal, u32)> = None;
    let mut standalone_ref = STANDALONE_REF.to_vec();
    if send_proposal {
        if resign {
            resign_leaves(f, &mut standalone);
        }
        if let Some((bytes, auth)) = frame(f, &mut framing, standalone, proposal_private, None) {
            let reference = codec::encode(&auth).ok().and_then(|encoded| {
                f.provider
                    .ref_hash(b"MLS 1.0 Proposal Reference", &encoded)
                    .ok()
            });
            if let Some(r) = &reference {
                standalone_ref = r.clone();
            }
            let accepted = deliver(
                &mut receiver,
                &bytes,
                proposal_private,
                "receiver (proposal)",
            );
            let _ = deliver(&mut witness, &bytes, proposal_private, "witness (proposal)");
            let _ = deliver(&mut victim, &bytes, proposal_private, "victim (proposal)");
            if let (Ok(ProcessOutcome::Proposal { .. }), Some(r)) = (accepted, reference) {
                if let FramedContentBody::Proposal(p) = auth.content.content {
                    cached = Some((r, p, sender_leaf(&auth.content.sender)));
                }
            }
        }
    }
    if !send_commit {
        return;
    }
    if resign {
        resign_leaves(f, &mut commit);
    }
    let committer = sender_leaf(&commit.content.sender);
    let mut sealing = None;
    if let FramedContentBody::Commit(c) = &mut commit.content.content {
        for entry in &mut c.proposals {
            if let ProposalOrRef::Reference(r) = entry {
                if r.as_slice() == STANDALONE_REF {
                    *r = HashReference(standalone_ref.clone().into());
                }
            }
        }
        if sealed {
            let cached = cached.as_ref().map(|(r, p, s)| (r.as_slice(), p, *s));
            sealing = seal(f, c, committer, cached);
        }
    }
    if let Some((bytes, _)) = frame(f, &mut framing, commit, commit_private, sealing) {
        let r = deliver(&mut receiver, &bytes, commit_private, "receiver (commit)");
        let w = deliver(&mut witness, &bytes, commit_private, "witness (commit)");
        let v = deliver(&mut victim, &bytes, commit_private, "victim (commit)");
        // The engine's promise to a member a commit removes: it runs every check that does not
        // need the new epoch's secrets, so a commit the other members reject for anything else
        // cannot eject it.
        if let (Ok(ProcessOutcome::Removed), Err(e)) = (&v, &r) {
            assert!(
                removed_member_cannot_check(e),
                "the victim took a commit as its removal that the receiver rejects with {e:?}"
            );
        }
        // Two members that both accept a commit are in the same new epoch.
        if let (Ok(ProcessOutcome::Committed { .. }), Ok(ProcessOutcome::Committed { .. })) = (r, w)
        {
            assert!(
                receiver.epoch_authenticator().as_bytes()
                    == witness.epoch_authenticator().as_bytes(),
                "receiver and witness accepted the commit into different epochs"
            );
            assert_eq!(
                receiver.ratchet_tree_bytes().expect("tree"),
                witness.ratchet_tree_bytes().expect("tree"),
                "receiver and witness accepted the commit into different trees"
            );
        }
    }
});
