//! `treekem.json`: UpdatePath processing and generation (RFC 9420 §7.4–§7.6, §7.9;
//! mls-implementations test-vectors.md, "TreeKEM").
//!
//! Per case: every member's private state is imported and checked against the tree; each
//! published UpdatePath is merged (parent-hash validity and `tree_hash_after` checked) and
//! processed by every other member (decrypted path secret, `commit_secret`, tree hash, and the
//! member's new private state against the merged tree); then the sender generates a fresh
//! UpdatePath, which must be reproducible from its seeds, parent-hash valid, and processed by
//! every other member to the same `commit_secret` and tree.

use serde_json::Value;

use super::util::{cases, expect_eq, hex_field, u64_field};
use super::Tally;
use crate::codec::{self, CipherSuiteId, GroupContext, ProtocolVersion, UpdatePath};
use crate::crypto::{
    CipherSuite, HpkePrivateKey, Provider, Secret, SignaturePrivateKey, SignatureScheme,
};
use crate::kem::{
    generate_update_path, process_update_path, Ephemeral, PathParams, StagedPath, TreeKemPrivate,
};
use crate::tree::{LeafIndex, NodeIndex, RatchetTree};

/// Run every case whose suite Canopy implements; skip the others.
pub fn run(json: &Value) -> Tally {
    let mut tally = Tally::default();
    for (i, case) in cases(json).iter().enumerate() {
        let id = case
            .get("cipher_suite")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        match u16::try_from(id).ok().and_then(CipherSuite::from_u16) {
            Some(suite) => tally.case(format_args!("case {i} (suite {id})"), || {
                run_case(suite, i, case)
            }),
            None => tally.skip(format_args!("cipher suite {id} not supported")),
        }
    }
    tally
}

/// One member of `leaves_private`.
struct Member {
    private: TreeKemPrivate,
    signer: SignaturePrivateKey,
}

fn err<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e}")
}

fn array<'a>(v: &'a Value, key: &str) -> Result<&'a [Value], String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| format!("missing array {key}"))
}

fn u32_field(v: &Value, key: &str) -> Result<u32, String> {
    u32::try_from(u64_field(v, key)?).map_err(|e| format!("{key}: {e}"))
}

fn run_case(suite: CipherSuite, case_index: usize, case: &Value) -> Result<usize, String> {
    let p = Provider::new(suite);
    let mut checks = 0;

    let wire: codec::RatchetTree =
        codec::decode(&hex_field(case, "ratchet_tree")?).map_err(err("ratchet_tree"))?;
    let tree = RatchetTree::from_wire(wire, p.hash_len()).map_err(err("ratchet_tree"))?;
    let group_id = hex_field(case, "group_id")?;
    // The tree hash is filled in with that of the merged tree by generation and processing.
    let context = GroupContext {
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuiteId(suite.id()),
        group_id: group_id.clone().into(),
        epoch: u64_field(case, "epoch")?,
        tree_hash: Vec::new().into(),
        confirmed_transcript_hash: hex_field(case, "confirmed_transcript_hash")?.into(),
        extensions: Vec::new(),
    };

    let mut members = Vec::new();
    for m in array(case, "leaves_private")? {
        let leaf = LeafIndex(u32_field(m, "index")?);
        let mut private =
            TreeKemPrivate::new(leaf, HpkePrivateKey::new(hex_field(m, "encryption_priv")?));
        for ps in array(m, "path_secrets")? {
            let node = NodeIndex(u32_field(ps, "node")?);
            let secret = Secret::new(hex_field(ps, "path_secret")?);
            private
                .insert_path_secret(&p, node, &secret)
                .map_err(err("path secret"))?;
        }
        checks += private
            .check_against(&p, &tree)
            .map_err(err("leaves_private"))?;
        let signer =
            SignaturePrivateKey::from_bytes(p.signature_scheme(), &hex_field(m, "signature_priv")?)
                .map_err(err("signature_priv"))?;
        let want_key = tree.leaf(leaf).map(|l| l.signature_key().to_vec());
        checks += expect_eq("signature key", Some(signer.public_key()), want_key)?;
        members.push(Member { private, signer });
    }

    for (u, up) in array(case, "update_paths")?.iter().enumerate() {
        let sender = LeafIndex(u32_field(up, "sender")?);
        let label = |what: &str| format!("update_paths[{u}] {what}");
        let path: UpdatePath =
            codec::decode(&hex_field(up, "update_path")?).map_err(err("update_path"))?;
        let path_secrets = array(up, "path_secrets")?;
        let commit_secret = hex_field(up, "commit_secret")?;
        let tree_hash_after = hex_field(up, "tree_hash_after")?;

        // The merged tree is parent-hash valid and has the published hash.
        let mut merged = tree.clone();
        let staged = StagedPath::stage(&p, &mut merged, sender, &path, &[], &group_id)
            .map_err(|e| format!("{}: {e}", label("stage")))?;
        staged.merge(&mut merged).map_err(err("merge"))?;
        merged
            .verify_parent_hashes(&p)
            .map_err(|e| format!("{}: {e}", label("parent hashes")))?;
        checks += 1;
        let hash = merged.tree_hash(&p).map_err(err("tree hash"))?;
        checks += expect_eq(&label("tree_hash_after"), &hash, &tree_hash_after)?;

        for m in members.iter().filter(|m| m.private.leaf() != sender) {
            let leaf = m.private.leaf();
            let mut t = tree.clone();
            let out = process_update_path(&p, &mut t, &m.private, sender, &path, &[], &context)
                .map_err(|e| format!("{} by {leaf:?}: {e}", label("process")))?;
            let want = path_secrets
                .get(leaf.0 as usize)
                .and_then(Value::as_str)
                .ok_or_else(|| label("missing path secret"))?;
            checks += expect_eq(
                &label("path secret"),
                hex::encode(out.path_secret.as_bytes()),
                want.to_string(),
            )?;
            checks += expect_eq(
                &label("commit_secret"),
                out.commit_secret.as_bytes(),
                &commit_secret,
            )?;
            checks += expect_eq(&label("tree hash"), &out.tree_hash, &tree_hash_after)?;
            checks += out
                .private
                .check_against(&p, &t)
                .map_err(|e| format!("{} of {leaf:?}: {e}", label("private state")))?;
        }

        // A fresh UpdatePath from the same sender, with seeded randomness.
        let Some(me) = members.iter().find(|m| m.private.leaf() == sender) else {
            return Err(label("sender not in leaves_private"));
        };
        let seed = |what: &str| {
            Secret::new(p.hash(format!("treekem case {case_index} path {u} {what}").as_bytes()))
        };
        let leaf_secret = seed("leaf");
        let ephemeral = Ephemeral::Seeded(seed("ephemeral"));
        let params = PathParams {
            sender,
            leaf_secret: &leaf_secret,
            signer: &me.signer,
            leaf_template: None,
            new_leaves: &[],
        };
        let mut t = tree.clone();
        let gen = generate_update_path(&p, &mut t, &params, &context, &ephemeral)
            .map_err(|e| format!("{}: {e}", label("generate")))?;
        let bytes = codec::encode(&gen.update_path).map_err(err("encode"))?;
        let again = generate_update_path(&p, &mut tree.clone(), &params, &context, &ephemeral)
            .map_err(|e| format!("{}: {e}", label("generate")))?;
        // ECDSA draws a fresh nonce per signature, and the new leaf's signature enters the
        // tree hash and so the context every path secret is encrypted under: only EdDSA
        // suites can give the same UpdatePath twice.
        if matches!(
            p.signature_scheme(),
            SignatureScheme::Ed25519 | SignatureScheme::Ed448
        ) {
            checks += expect_eq(
                &label("reproducible UpdatePath"),
                codec::encode(&again.update_path).map_err(err("encode"))?,
                bytes.clone(),
            )?;
        }
        t.verify_parent_hashes(&p)
            .map_err(|e| format!("{}: {e}", label("generated parent hashes")))?;
        checks += 1;
        checks += gen
            .private
            .check_against(&p, &t)
            .map_err(|e| format!("{}: {e}", label("committer private state")))?;
        let fresh: UpdatePath = codec::decode(&bytes).map_err(err("decode"))?;
        for m in members.iter().filter(|m| m.private.leaf() != sender) {
            let leaf = m.private.leaf();
            let mut t2 = tree.clone();
            let out = process_update_path(&p, &mut t2, &m.private, sender, &fresh, &[], &context)
                .map_err(|e| format!("{} by {leaf:?}: {e}", label("process fresh")))?;
            checks += expect_eq(
                &label("fresh commit_secret"),
                &out.commit_secret,
                &gen.commit_secret,
            )?;
            checks += expect_eq(&label("fresh tree hash"), &out.tree_hash, &gen.tree_hash)?;
            checks += expect_eq(&label("fresh tree"), t2.to_wire(), t.to_wire())?;
            checks += out
                .private
                .check_against(&p, &t2)
                .map_err(|e| format!("{} of {leaf:?}: {e}", label("fresh private state")))?;
        }
    }
    Ok(checks)
}
