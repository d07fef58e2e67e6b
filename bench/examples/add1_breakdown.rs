//! Where the time of "add one member, Welcome with the ratchet tree" goes at N members: the
//! serial steps every system must take on the ~13 MB GroupInfo, timed one by one.
//!
//! ```sh
//! cargo run --release -p canopy-bench --example add1_breakdown -- [MEMBERS]
//! ```
//!
//! Prints the median of 5 runs of: encoding the tree (straight from node storage, and via a
//! copied wire form), the Ed25519 signature over a message of the GroupInfo's size (RFC 8032
//! signing hashes the message twice with SHA-512, and neither pass can be split), SHA-256 of
//! it (HPKE's key schedule hashes the Welcome context once), AES-128-GCM of it (the
//! encrypted GroupInfo), and the whole add1 commit.

use std::time::Instant;

use anyhow::Result;
use canopy_engine::codec;
use canopy_engine::crypto::{CipherSuite, Provider};
use canopy_engine::group::{CommitOptions, GroupConfig, Randomness};
use canopy_engine::key_package::{default_lifetime, key_package_from_seed, Clock};
use canopy_engine::tree::LeafIndex;
use canopy_workloads::states::{generate, StateConfig, StateKind};

const NOW: u64 = 1_800_000_000;

fn median_ms(mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut v = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        f()?;
        v.push(t.elapsed().as_secs_f64() * 1e3);
    }
    v.sort_by(f64::total_cmp);
    Ok(v[2])
}

fn main() -> Result<()> {
    let members: u32 = std::env::args().nth(1).map_or(Ok(50_000), |s| s.parse())?;
    let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let mut cfg = StateConfig::new(StateKind::Populated, members, 1);
    cfg.now = NOW;
    let state = generate(&cfg)?;
    let config = GroupConfig {
        clock: Clock::Fixed(NOW),
        randomness: Randomness::System,
        ..GroupConfig::default()
    };
    let admin = state.member_group(LeafIndex(0), config)?;
    let tree = admin.tree();
    let bytes = tree.wire_bytes()?;
    println!("members {members}: tree {} bytes", bytes.len());
    let t_direct = median_ms(|| {
        tree.wire_bytes()?;
        Ok(())
    })?;
    let t_copy = median_ms(|| {
        codec::encode(&tree.to_wire())?;
        Ok(())
    })?;
    let (sk, _) = p.signature_key_pair_from_seed(&[3; 32])?;
    let t_sign = median_ms(|| {
        p.sign_with_label(&sk, b"GroupInfoTBS", &bytes)?;
        Ok(())
    })?;
    let t_sha256 = median_ms(|| {
        p.hash(&bytes);
        Ok(())
    })?;
    let t_aead = median_ms(|| {
        p.aead_seal(&[0; 16], &[0; 12], &[], &bytes)?;
        Ok(())
    })?;
    let mut k = 0u32;
    let t_add1 = median_ms(|| {
        k += 1;
        let mut seed = [0x99; 32];
        seed[..4].copy_from_slice(&k.to_be_bytes());
        let (kp, _) = key_package_from_seed(&p, b"new", &seed, default_lifetime(NOW))?;
        let mut g = admin.clone();
        let t = Instant::now();
        g.commit(
            &CommitOptions::new()
                .adds(vec![kp])
                .ratchet_tree_in_welcome(),
        )?;
        let _ = t;
        Ok(())
    })?;
    let t_clone = median_ms(|| {
        let _g = admin.clone();
        Ok(())
    })?;
    println!("encode tree from storage  {t_direct:8.1} ms");
    println!("encode via copied wire    {t_copy:8.1} ms");
    println!("Ed25519 sign (2x SHA-512) {t_sign:8.1} ms");
    println!("SHA-256                   {t_sha256:8.1} ms");
    println!("AES-128-GCM               {t_aead:8.1} ms");
    println!("group clone (not in add1) {t_clone:8.1} ms");
    println!(
        "add1 commit incl. clone   {t_add1:8.1} ms  => add1 ~ {:.1} ms",
        t_add1 - t_clone
    );
    Ok(())
}
