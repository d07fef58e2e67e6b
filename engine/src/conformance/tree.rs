//! `tree-validation.json` and `tree-operations.json`: resolutions, per-node tree hashes,
//! parent-hash and leaf-signature validation (RFC 9420 §4.1.1, §7.8, §7.9.2, §7.3), and the
//! Add/Update/Remove edits (§12.1).

use serde_json::Value;

use super::schedule::per_suite;
use super::util::{expect_eq, hex_field, u64_field};
use super::Tally;
use crate::codec::{self, Proposal, RatchetTree as WireTree};
use crate::crypto::Provider;
use crate::tree::{LeafIndex, NodeIndex, RatchetTree};

fn load_tree(provider: &Provider, case: &Value, key: &str) -> Result<RatchetTree, String> {
    let wire: WireTree =
        codec::decode(&hex_field(case, key)?).map_err(|err| format!("{key}: decode: {err}"))?;
    RatchetTree::from_wire(wire, provider.hash_len()).map_err(|err| format!("{key}: {err}"))
}

/// `tree-validation.json`.
pub fn run_validation(json: &Value) -> Tally {
    per_suite(json, |provider, case| {
        let mut tree = load_tree(provider, case, "tree")?;
        let group_id = hex_field(case, "group_id")?;
        let resolutions = case
            .get("resolutions")
            .and_then(Value::as_array)
            .ok_or("missing resolutions")?;
        let hashes = case
            .get("tree_hashes")
            .and_then(Value::as_array)
            .ok_or("missing tree_hashes")?;
        let mut checks = expect_eq("node count", resolutions.len(), tree.width() as usize)?;
        checks += expect_eq("tree hash count", hashes.len(), tree.width() as usize)?;
        for (i, want) in resolutions.iter().enumerate() {
            let want: Vec<u64> = want
                .as_array()
                .ok_or("resolution not an array")?
                .iter()
                .map(|v| v.as_u64().ok_or("resolution entry"))
                .collect::<Result<_, _>>()?;
            let got: Vec<u64> = tree
                .resolution(NodeIndex(i as u32))
                .iter()
                .map(|n| u64::from(n.0))
                .collect();
            checks += expect_eq(&format!("resolution({i})"), got, want)?;
        }
        for (i, want) in hashes.iter().enumerate() {
            let want = hex::decode(want.as_str().ok_or("tree hash not a string")?)
                .map_err(|err| err.to_string())?;
            let got = tree
                .node_tree_hash(NodeIndex(i as u32), provider)
                .map_err(|err| format!("tree hash {i}: {err}"))?;
            checks += expect_eq(&format!("tree_hash({i})"), got, want)?;
        }
        tree.verify_parent_hashes(provider)
            .map_err(|err| format!("parent hashes: {err}"))?;
        checks += 1;
        tree.validate(provider, &group_id)
            .map_err(|err| format!("validate: {err}"))?;
        checks += tree.leaves().count();
        Ok(checks)
    })
}

/// `tree-operations.json`.
pub fn run_operations(json: &Value) -> Tally {
    per_suite(json, |provider, case| {
        let mut tree = load_tree(provider, case, "tree_before")?;
        let before = tree.tree_hash(provider).map_err(|err| err.to_string())?;
        let mut checks = expect_eq(
            "tree_hash_before",
            before,
            hex_field(case, "tree_hash_before")?,
        )?;
        let proposal: Proposal = codec::decode(&hex_field(case, "proposal")?)
            .map_err(|err| format!("proposal: {err}"))?;
        let sender = LeafIndex(
            u32::try_from(u64_field(case, "proposal_sender")?).map_err(|err| err.to_string())?,
        );
        match proposal {
            Proposal::Add(add) => {
                tree.add_leaf(&add.key_package.leaf_node)
                    .map_err(|err| err.to_string())?;
            }
            Proposal::Update(update) => tree
                .update_leaf(sender, &update.leaf_node)
                .map_err(|err| err.to_string())?,
            Proposal::Remove(remove) => tree
                .remove_leaf(LeafIndex(remove.removed))
                .map_err(|err| err.to_string())?,
            other => return Err(format!("unexpected proposal {:?}", other.proposal_type())),
        }
        let after = codec::encode(&tree.to_wire()).map_err(|err| err.to_string())?;
        checks += expect_eq("tree_after", after, hex_field(case, "tree_after")?)?;
        let hash = tree.tree_hash(provider).map_err(|err| err.to_string())?;
        checks += expect_eq("tree_hash_after", hash, hex_field(case, "tree_hash_after")?)?;
        Ok(checks)
    })
}
