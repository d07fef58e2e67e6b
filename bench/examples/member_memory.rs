//! How much memory one member's group state takes at N members: the resident-set growth of
//! a fresh process across `Group::join` (Welcome with the ratchet tree), read while the Welcome
//! bytes are still held (the tree's key index included: it is built when the tree is decoded), plus a
//! structural estimate of the ratchet tree's heap. `member_live_bytes` gives the exact live
//! heap.
//!
//! ```sh
//! cargo run --release -p canopy-bench --example member_memory -- [MEMBERS] [populated|fresh|…]
//! ```
//!
//! The parent process generates the state and the Welcome and writes it to a temporary file;
//! a child process (this binary again) measures VmRSS (`/proc/self/status`) before the join
//! and after it, both with the Welcome held. Freed transient allocations the allocator keeps count
//! towards the figure, so it is an upper bound on the state's size. The child runs a second
//! time with glibc's mmap threshold pinned (see `main`), which returns large freed buffers
//! and so comes closer to the live state. Linux only.

use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use canopy_engine::crypto::CipherSuite;
use canopy_engine::crypto::Provider;
use canopy_engine::group::{CommitOptions, Group, GroupConfig, Randomness};
use canopy_engine::key_package::{default_lifetime, key_package_from_seed, Clock};
use canopy_engine::tree::{LeafIndex, StoredNode};
use canopy_workloads::states::{generate, StateConfig, StateKind};

const NOW: u64 = 1_800_000_000;
const SEED: [u8; 32] = [0x6d; 32];

fn rss_kib() -> Result<u64> {
    status_kib("VmRSS:")
}

/// A `/proc/self/status` figure in KiB: `VmRSS:` now, `VmHWM:` the peak so far.
fn status_kib(field: &str) -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .ok_or_else(|| anyhow!("no {field}"))?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| anyhow!("bad {field}"))?
        .parse()?)
}

fn config() -> GroupConfig {
    GroupConfig {
        clock: Clock::Fixed(NOW),
        randomness: Randomness::System,
        ..GroupConfig::default()
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let provider = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let (kp, secrets) =
        key_package_from_seed(&provider, b"measured-joiner", &SEED, default_lifetime(NOW))?;
    if args.get(1).map(String::as_str) == Some("--child") {
        let path = args.get(2).ok_or_else(|| anyhow!("no file"))?;
        let welcome = std::fs::read(path)?;
        let before = rss_kib()?;
        let t = Instant::now();
        let group = Group::join(provider, &welcome, &kp, &secrets, config())?;
        let join_ms = t.elapsed().as_secs_f64() * 1e3;
        // Read before the Welcome is dropped: freeing it can return its pages (glibc maps a
        // block this large on its own), which would take them off the growth measured.
        let after = rss_kib()?;
        // The peak includes the join's transient buffers (the opened GroupInfo, the tree's
        // bytes being decoded), which the growth above does not.
        let peak = status_kib("VmHWM:")?;
        drop(welcome);
        let tree = group.tree();
        let width = tree.width() as usize;
        // Each node is stored as its encoding, one allocation each.
        let node_heap: usize = (0..tree.width())
            .filter_map(|x| tree.node(canopy_engine::tree::NodeIndex(x)))
            .map(|n| n.encoded().len())
            .sum();
        let slots = width * core::mem::size_of::<Option<StoredNode>>();
        let hashes = width * (provider.hash_len() + 1);
        println!(
            "members {} join {join_ms:.0} ms; RSS growth across join {:.1} MiB (upper bound); \
             tree estimate {:.1} MiB = node slots {:.1} + node contents (encoded) {:.1} + \
             hash cache {:.1}; peak RSS growth during join {:.1} MiB",
            group.member_count(),
            (after.saturating_sub(before)) as f64 / 1024.0,
            (slots + node_heap + hashes) as f64 / (1 << 20) as f64,
            slots as f64 / (1 << 20) as f64,
            node_heap as f64 / (1 << 20) as f64,
            hashes as f64 / (1 << 20) as f64,
            (peak.saturating_sub(before)) as f64 / 1024.0,
        );
        // The key index is part of this figure: it is built when the tree is decoded.
        return Ok(());
    }
    let members: u32 = args.get(1).map_or(Ok(50_000), |s| s.parse())?;
    let kind: StateKind = args
        .get(2)
        .map_or(Ok(StateKind::Populated), |s| s.parse())?;
    let mut cfg = StateConfig::new(kind, members, 1);
    cfg.now = NOW;
    let state = generate(&cfg)?;
    let mut admin = state.member_group(LeafIndex(0), config())?;
    let out = admin.commit(
        &CommitOptions::new()
            .adds(vec![kp])
            .ratchet_tree_in_welcome(),
    )?;
    let welcome = out.welcome.ok_or_else(|| anyhow!("no Welcome"))?;
    let path =
        std::env::temp_dir().join(format!("canopy-member-memory-{}.bin", std::process::id()));
    std::fs::write(&path, &welcome)?;
    // Twice: as configured, then with glibc's mmap threshold pinned at its default (128 KiB).
    // Freeing a large block raises that threshold dynamically, after which large transient
    // buffers of the join come from the heap and stay in the RSS once freed; the pinned run
    // returns them, so its figure is much closer to the live state.
    let runs: [(&str, Option<&str>); 2] = [
        ("as configured", None),
        (
            "mmap threshold pinned",
            Some("glibc.malloc.mmap_threshold=131072"),
        ),
    ];
    let mut result = Ok(());
    for (label, tunables) in runs {
        println!("-- {label}");
        let mut child = std::process::Command::new(std::env::current_exe()?);
        child.arg("--child").arg(&path);
        if let Some(t) = tunables {
            child.env("GLIBC_TUNABLES", t);
        }
        let status = child.status().context("running the measuring child")?;
        if !status.success() {
            result = Err(anyhow!("child failed: {status}"));
            break;
        }
    }
    let _ = std::fs::remove_file(&path);
    result
}
