//! The live heap bytes of one member's group state at N members, exactly: jemalloc's
//! `stats.allocated` (bytes in live allocations, not pages) before `Group::join` and after it,
//! both read while the Welcome is alive, so that its bytes count on neither side.
//!
//! ```sh
//! cargo run --release -p canopy-bench --example member_live_bytes -- [MEMBERS] [populated|fresh|…] [SUITE]
//! ```
//!
//! `SUITE` is a cipher suite's code point (default 1). Beside the state it prints the sizes a
//! joiner meets: the Welcome with the ratchet tree, the Welcome without it (the tree then comes
//! out of band) and the encoded tree itself.
//!
//! `member_memory` measures resident-set growth, an upper bound that also counts freed
//! buffers the allocator keeps. This example counts what the state holds: the ratchet tree
//! (nodes, hash cache, counts, key index, which is built when the tree is decoded), the
//! member's secrets and the group context. jemalloc is used here only because it reports live
//! bytes through a safe API; the `canopy` binary uses mimalloc.

use std::time::Instant;

use anyhow::{anyhow, Result};
use canopy_engine::crypto::{CipherSuite, Provider};
use canopy_engine::group::{CommitOptions, Group, GroupConfig, Randomness, TreeDelivery};
use canopy_engine::key_package::{default_lifetime, key_package_from_seed, Clock};
use canopy_engine::tree::LeafIndex;
use canopy_workloads::states::{generate, StateConfig, StateKind};
use tikv_jemalloc_ctl::{epoch, stats};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const NOW: u64 = 1_800_000_000;
const SEED: [u8; 32] = [0x6d; 32];

fn allocated() -> Result<usize> {
    epoch::advance().map_err(|e| anyhow!("jemalloc epoch: {e}"))?;
    stats::allocated::read().map_err(|e| anyhow!("jemalloc stats: {e}"))
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / f64::from(1u32 << 20)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let members: u32 = args.get(1).map_or(Ok(50_000), |s| s.parse())?;
    let kind: StateKind = args
        .get(2)
        .map_or(Ok(StateKind::Populated), |s| s.parse())?;
    let suite: u16 = args.get(3).map_or(Ok(1), |s| s.parse())?;
    let suite = CipherSuite::try_from(suite)?;
    let provider = Provider::new(suite);
    let config = || GroupConfig {
        clock: Clock::Fixed(NOW),
        randomness: Randomness::System,
        ..GroupConfig::default()
    };
    let (kp, secrets) =
        key_package_from_seed(&provider, b"measured-joiner", &SEED, default_lifetime(NOW))?;
    let (welcome, without_tree_len, tree_len) = {
        let mut cfg = StateConfig::new(kind, members, 1);
        cfg.now = NOW;
        cfg.suite = suite;
        let state = generate(&cfg)?;
        // The same add twice from the same state: with the tree in the Welcome, and without.
        let mut without = state.member_group(LeafIndex(0), config())?;
        let out = without.commit(
            &CommitOptions::new()
                .adds(vec![kp.clone()])
                .ratchet_tree(TreeDelivery::OutOfBand),
        )?;
        let without_len = out.welcome.ok_or_else(|| anyhow!("no Welcome"))?.len();
        let tree_len = without.ratchet_tree_bytes()?.len();
        drop(without);
        let mut admin = state.member_group(LeafIndex(0), config())?;
        let out = admin.commit(
            &CommitOptions::new()
                .adds(vec![kp.clone()])
                .ratchet_tree_in_welcome(),
        )?;
        (
            out.welcome.ok_or_else(|| anyhow!("no Welcome"))?,
            without_len,
            tree_len,
        )
    };
    let welcome_len = welcome.len();
    let before = allocated()?;
    let t = Instant::now();
    let group = Group::join(provider, &welcome, &kp, &secrets, config())?;
    let join_ms = t.elapsed().as_secs_f64() * 1e3;
    // Read before the Welcome is dropped: `before` holds its allocation (a size class above
    // its length), and subtracting it from a figure taken without it would under-count the
    // state by that much.
    let state = allocated()?.saturating_sub(before);
    drop(welcome);

    println!(
        "suite {} ({suite}), members {} ({kind:?}), Welcome {:.1} MiB ({welcome_len} B; \
         without the tree {without_tree_len} B; the tree {tree_len} B), join {join_ms:.0} ms; \
         live heap of the member's state, key index included, {:.1} MiB ({:.1} MB)",
        suite.id(),
        group.member_count(),
        mib(welcome_len),
        mib(state),
        state as f64 / 1e6,
    );
    Ok(())
}
