//! `tree-math.json`: array-tree index math (RFC 9420 Appendix C).

use serde_json::Value;

use super::util::{cases, expect_eq, u64_field};
use super::Tally;
use crate::tree::math::{self, NodeIndex};

/// Run every case: each index of `left`, `right`, `parent` and `sibling` is checked.
pub fn run(json: &Value) -> Tally {
    let mut tally = Tally::default();
    for (i, case) in cases(json).iter().enumerate() {
        tally.case(format_args!("case {i}"), || run_case(case));
    }
    tally
}

fn run_case(case: &Value) -> Result<usize, String> {
    let n_leaves = u32::try_from(u64_field(case, "n_leaves")?).map_err(|e| e.to_string())?;
    let n_nodes = u32::try_from(u64_field(case, "n_nodes")?).map_err(|e| e.to_string())?;
    let mut checks = expect_eq("n_nodes", math::node_width(n_leaves), n_nodes)?;
    checks += expect_eq(
        "root",
        u64::from(math::root(n_leaves).0),
        u64_field(case, "root")?,
    )?;
    type Op = fn(NodeIndex, u32) -> Option<NodeIndex>;
    let ops: [(&str, Op); 4] = [
        ("left", |x, _| x.left()),
        ("right", |x, _| x.right()),
        ("parent", math::parent),
        ("sibling", math::sibling),
    ];
    for (name, op) in ops {
        let want = case
            .get(name)
            .and_then(Value::as_array)
            .ok_or(format!("missing {name}"))?;
        expect_eq(&format!("{name} length"), want.len(), n_nodes as usize)?;
        for (x, w) in want.iter().enumerate() {
            let got = op(NodeIndex(x as u32), n_leaves).map(|n| u64::from(n.0));
            checks += expect_eq(&format!("{name}({x})"), got, w.as_u64())?;
        }
    }
    Ok(checks)
}
