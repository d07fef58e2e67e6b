//! What one member's group state holds after a join, against what the tree it holds weighs on
//! the wire. A member keeps the ratchet tree and, derived from it, a tree hash per node, fill
//! counts and a key index; the rest of its state (context, epoch secrets, private keys) is a
//! few KiB. Storing each node as its encoding makes the tree's share its wire size plus a
//! pointer per slot, so the whole state stays within a small multiple of the wire size,
//! where decoded nodes (a 272-byte struct per leaf with seven allocations of its own, and
//! every slot as wide as a parent node) took about three and a half times it.
//!
//! This binary counts every allocation (its own global allocator, `cap`'s counting wrapper
//! around the system allocator), so it measures requested bytes: allocator size classes and
//! headers come on top in a real process (`bench/examples/member_live_bytes.rs`).

use std::alloc::System;

use anyhow::{anyhow, Result};
use canopy_engine::crypto::{CipherSuite, Provider};
use canopy_engine::group::{CommitOptions, Group, GroupConfig, Randomness};
use canopy_engine::key_package::{default_lifetime, key_package_from_seed, Clock};
use canopy_engine::tree::LeafIndex;
use canopy_workloads::states::{generate, StateConfig, StateKind};
use cap::Cap;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

const NOW: u64 = 1_750_000_000;

/// The held bytes allowed per byte of the tree's wire form. At 3,000 members (a 4,096-leaf
/// tree) the state measures ~1.6×: the tree's nodes (their encodings), 16-byte slots, a
/// tree hash and a validity flag per slot, fill counts and the key index.
const MAX_BYTES_PER_WIRE_BYTE: f64 = 2.0;

fn config() -> GroupConfig {
    GroupConfig {
        clock: Clock::Fixed(NOW),
        randomness: Randomness::System,
        ..GroupConfig::default()
    }
}

#[test]
fn a_joined_members_state_is_within_twice_the_trees_wire_size() -> Result<()> {
    let provider = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let (kp, secrets) =
        key_package_from_seed(&provider, b"joiner", &[0x6d; 32], default_lifetime(NOW))?;
    for kind in [StateKind::Populated, StateKind::Fresh] {
        let welcome = {
            let mut cfg = StateConfig::new(kind, 3000, 1);
            cfg.now = NOW;
            let state = generate(&cfg)?;
            let mut admin = state.member_group(LeafIndex(0), config())?;
            let out = admin.commit(
                &CommitOptions::new()
                    .adds(vec![kp.clone()])
                    .ratchet_tree_in_welcome(),
            )?;
            out.welcome.ok_or_else(|| anyhow!("no Welcome"))?
        };
        // Both readings with the Welcome held: its bytes count on neither side.
        let before = ALLOCATOR.allocated();
        let group = Group::join(provider, &welcome, &kp, &secrets, config())?;
        let held = ALLOCATOR.allocated() - before;
        let wire = group.tree().wire_len();
        let ratio = held as f64 / wire as f64;
        println!(
            "{kind:?}: {} members, tree {wire} bytes on the wire, state {held} bytes held \
             ({ratio:.2}× the wire size)",
            group.member_count()
        );
        assert!(
            ratio <= MAX_BYTES_PER_WIRE_BYTE,
            "{kind:?}: the state holds {held} bytes, {ratio:.2}× the tree's {wire} wire bytes"
        );
        drop(group);
        drop(welcome);
    }
    Ok(())
}
