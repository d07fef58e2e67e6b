//! Generate a seeded group state and print how long it took and what it holds.
//!
//! ```sh
//! cargo run --release -p canopy-workloads --example gen_state -- \
//!     --kind populated --members 50000 [--seed 1] [--suite 1|3] [--now SECS] [--validate]
//! ```
//! `--kind all` runs every kind in turn. Prints wall and CPU time (all threads) per kind.

use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use canopy_engine::crypto::CipherSuite;
use canopy_engine::tree::NodeIndex;
use canopy_workloads::states::{generate, StateConfig, StateKind};

fn main() -> Result<()> {
    let mut kinds = vec![StateKind::Populated];
    let mut members = 50_000u32;
    let mut seed = 1u64;
    let mut suite = CipherSuite::Mls128X25519Aes128GcmSha256Ed25519;
    let mut now = None;
    let mut validate = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| anyhow!("{a} needs a value"));
        match a.as_str() {
            "--kind" => {
                let v = value()?;
                kinds = if v == "all" {
                    StateKind::ALL.to_vec()
                } else {
                    vec![v.parse()?]
                };
            }
            "--members" => members = value()?.parse().context("--members")?,
            "--seed" => seed = value()?.parse().context("--seed")?,
            "--suite" => {
                let id: u16 = value()?.parse().context("--suite")?;
                suite = CipherSuite::try_from(id)?;
            }
            "--now" => now = Some(value()?.parse().context("--now")?),
            "--validate" => validate = true,
            other => bail!("unknown argument {other}"),
        }
    }
    println!(
        "rayon threads: {}, suite {}",
        rayon::current_num_threads(),
        suite.id()
    );
    for kind in kinds {
        let mut cfg = StateConfig::new(kind, members, seed);
        cfg.suite = suite;
        if let Some(now) = now {
            cfg.now = now;
        }
        let (t, cpu) = (Instant::now(), cpu_seconds());
        let state = generate(&cfg)?;
        let gen_time = t.elapsed();
        let gen_cpu = cpu_seconds() - cpu;
        let tree = &state.tree;
        let (mut parents, mut unmerged) = (0usize, 0usize);
        for x in 0..tree.width() {
            if let Some(p) = tree.parent_node(NodeIndex(x)) {
                parents += 1;
                unmerged += p.unmerged_leaves().len();
            }
        }
        let wire = tree.wire_len();
        print!(
            "{kind:>9}: {gen_time:>8.2?} (cpu {gen_cpu:.2}s)  members {} / {} leaves, {parents} non-blank parents, \
             {unmerged} unmerged entries, epoch {}, ratchet_tree {:.1} MB",
            state.member_count(),
            tree.n_leaves(),
            state.epoch,
            wire as f64 / 1e6,
        );
        if validate {
            let (t, cpu) = (Instant::now(), cpu_seconds());
            let th = state
                .tree
                .clone()
                .validate(&state.provider, &state.group_id)?;
            if th != state.tree_hash {
                bail!("validated tree hash differs");
            }
            print!(
                "  validate {:.2?} (cpu {:.2}s)",
                t.elapsed(),
                cpu_seconds() - cpu
            );
        }
        println!();
    }
    Ok(())
}

/// User + system CPU time of the whole process (all threads), from `/proc/self/stat` (Linux,
/// in clock ticks of 1/100 s); 0 where unavailable. On a shared machine this is steadier than
/// the wall time.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
