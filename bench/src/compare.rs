//! `canopy compare`: Canopy and the peers, side by side on the same group state.
//!
//! Canopy generates the state (`canopy_workloads::states`) and hands it to each peer the way a
//! real group would: a Canopy member adds the peer's KeyPackage in a commit whose Welcome
//! carries the ratchet tree, the peer joins from that Welcome (an interop test at scale), and
//! every member processes every setup commit. All systems then start each operation from the
//! same epoch of the same group. Operations run interleaved (Canopy, peer 1, peer 2, Canopy,
//! …), each sample from a fresh copy of the start state (copying is not timed).
//!
//! Canopy's crypto floor for an operation is its exact primitive counts
//! ([`canopy_engine::crypto::counters`]) times per-primitive costs measured in the same run,
//! divided by the number of worker threads: the time the operation would take if it did
//! nothing but its public-key crypto, hashing and AEAD, spread perfectly over every core.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use canopy_engine::codec::{self, FramedContentBody, MlsMessage, MlsMessageBody, ProtocolVersion};
use canopy_engine::crypto::{counters, CipherSuite, Provider, SealContext};
use canopy_engine::group::{CommitOptions, Group, GroupConfig, Randomness};
use canopy_engine::key_package::{
    default_lifetime, key_package_from_seed, Clock, KeyPackageSecrets,
};
use canopy_engine::tree::LeafIndex;
use canopy_workloads::states::{generate, today, GeneratedState, StateConfig, StateKind};
use serde::Serialize;

use crate::peers::{new_member, CommitOp, PeerKind, PeerMember};

/// The operations `canopy compare` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Create a group of N members in one commit (bulk add, Welcome with the tree).
    Build,
    /// Join from a Welcome carrying the ratchet tree.
    Join,
    /// Commit with path (no proposals), by a member that joined at the end of the tree just
    /// before the peers, so that every system commits from neighbouring leaves.
    Commit,
    /// Canopy only: commit with path by the creator (leaf 0). On the `fresh` state its whole
    /// copath is blank: one HPKE seal per other member, the worst case.
    #[value(name = "commit-creator")]
    #[serde(rename = "commit-creator")]
    CommitCreator,
    /// Process that commit as another member.
    Process,
    /// Add one member, Welcome with the tree.
    Add1,
    /// Remove one member (commit with path).
    Remove1,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Build => "build",
            Op::Join => "join",
            Op::Commit => "commit",
            Op::CommitCreator => "commit-creator",
            Op::Process => "process",
            Op::Add1 => "add1",
            Op::Remove1 => "remove1",
        }
    }
}

/// Settings of one comparison.
#[derive(Debug, Clone)]
pub struct CompareConfig {
    pub members: u32,
    pub state: StateKind,
    pub ops: Vec<Op>,
    pub peers: Vec<PeerKind>,
    pub samples: usize,
    pub seed: u64,
    /// A peer operation (one sample) that takes longer is abandoned and reported as such.
    pub peer_time_limit: Duration,
}

/// One measured (operation, system).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub op: &'static str,
    pub system: &'static str,
    /// Median over the samples, `None` if the system did not finish.
    pub median_ms: Option<f64>,
    /// Bytes on the wire the operation produced (commit + Welcome + out-of-band tree) or
    /// consumed (process: the commit; join: the Welcome).
    pub bytes: Option<u64>,
    /// HPKE seals (counted in the messages themselves, so the same way for every system).
    pub seals: Option<u64>,
    /// Canopy only: the crypto floor in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor_ms: Option<f64>,
    /// Samples taken.
    pub samples: usize,
    /// Why there is no figure, if there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// The JSON written by `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub members: u32,
    pub state: String,
    pub threads: usize,
    pub samples: usize,
    pub primitive_costs_us: PrimitiveCosts,
    pub rows: Vec<Row>,
}

/// Per-primitive costs measured at the start of the run (µs, one thread).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PrimitiveCosts {
    pub x25519_dh: f64,
    pub x25519_base: f64,
    pub ed25519_sign: f64,
    pub ed25519_verify: f64,
    pub hash_per_kib: f64,
    pub hkdf_expand: f64,
    pub aead_per_kib: f64,
}

impl PrimitiveCosts {
    fn measure(p: &Provider) -> Result<Self> {
        fn per<F: FnMut() -> Result<()>>(n: u32, mut f: F) -> Result<f64> {
            f()?;
            let t = Instant::now();
            for _ in 0..n {
                f()?;
            }
            Ok(t.elapsed().as_secs_f64() * 1e6 / f64::from(n))
        }
        let (sk, pk) = p.derive_hpke_key_pair(&[7; 32])?;
        let (ssk, spk) = p.signature_key_pair_from_seed(&[8; 32])?;
        let sig = p.sign_with_label(&ssk, b"l", b"m")?;
        let kib = vec![0u8; 1 << 20];
        // SealContext::seal without the DH and base multiplication is not separable; the DH
        // is measured through the provider's aws-lc wrapper.
        let _ = SealContext::new(p, b"x", b"y")?;
        // aws-lc parses a private key with a fixed-base multiplication (counted as
        // `x25519_base`, see `awslc::x25519_private`), so a DH alone is the difference.
        let x25519_base = per(400, || {
            canopy_engine::crypto::awslc::x25519_public(sk.as_bytes())?;
            Ok(())
        })?;
        let x25519_dh_and_base = per(400, || {
            canopy_engine::crypto::awslc::x25519(sk.as_bytes(), &pk)?;
            Ok(())
        })?;
        Ok(PrimitiveCosts {
            x25519_dh: x25519_dh_and_base - x25519_base,
            x25519_base,
            ed25519_sign: per(400, || {
                p.sign_with_label(&ssk, b"l", b"m")?;
                Ok(())
            })?,
            ed25519_verify: per(400, || {
                p.verify_with_label(&spk, b"l", b"m", &sig)?;
                Ok(())
            })?,
            hash_per_kib: per(8, || {
                p.hash(&kib);
                Ok(())
            })? / 1024.0,
            hkdf_expand: per(2000, || {
                p.expand(&[1; 32], b"info", 32)?;
                Ok(())
            })?,
            aead_per_kib: per(8, || {
                p.aead_seal(&[0; 16], &[0; 12], &[], &kib)?;
                Ok(())
            })? / 1024.0,
        })
    }

    /// The floor, in ms, of work `c` on `threads` threads.
    fn floor_ms(&self, c: &counters::Counts, threads: usize) -> f64 {
        let us = c.x25519_dh as f64 * self.x25519_dh
            + c.x25519_base as f64 * self.x25519_base
            + c.ed25519_sign as f64 * self.ed25519_sign
            + c.ed25519_verify as f64 * self.ed25519_verify
            + c.hash_bytes as f64 / 1024.0 * self.hash_per_kib
            + c.hkdf_expand as f64 * self.hkdf_expand
            + c.aead_bytes as f64 / 1024.0 * self.aead_per_kib;
        us / 1000.0 / threads.max(1) as f64
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// HPKE ciphertexts in an MLSMessage: UpdatePath entries of a commit, GroupSecrets of a
/// Welcome.
fn seals_in(message: &[u8]) -> Result<u64> {
    let m: MlsMessage = codec::decode(message)?;
    Ok(match m.body {
        MlsMessageBody::PublicMessage(pm) => match pm.content.content {
            FramedContentBody::Commit(c) => c.path.map_or(0, |p| {
                p.nodes
                    .iter()
                    .map(|n| n.encrypted_path_secret.len() as u64)
                    .sum()
            }),
            _ => 0,
        },
        MlsMessageBody::Welcome(w) => w.secrets.len() as u64,
        _ => 0,
    })
}

fn kp_message(kp: &codec::KeyPackage) -> Result<Vec<u8>> {
    Ok(codec::encode(&MlsMessage {
        version: ProtocolVersion::MLS10,
        body: MlsMessageBody::KeyPackage(kp.clone()),
    })?)
}

/// The comparison's shared setup: the generated state, Canopy members, joined peers.
struct Setup {
    provider: Provider,
    state: GeneratedState,
    admin: Group,
    receiver: Group,
    /// A Canopy member that joined right before the peers (its leaf neighbours theirs): the
    /// committer of `commit`, `add1` and `remove1`, so every system commits from the same
    /// region of the tree.
    committer: Option<Group>,
    peers: Vec<(PeerKind, Box<dyn PeerMember>)>,
    config: GroupConfig,
    kp_counter: u32,
    now: u64,
}

impl Setup {
    fn fresh_kp(&mut self) -> Result<(codec::KeyPackage, KeyPackageSecrets)> {
        self.kp_counter += 1;
        let mut seed = [0xa7; 32];
        seed[..4].copy_from_slice(&self.kp_counter.to_be_bytes());
        Ok(key_package_from_seed(
            &self.provider,
            format!("joiner-{}", self.kp_counter).as_bytes(),
            &seed,
            default_lifetime(self.now),
        )?)
    }
}

/// Run `f` on a thread, waiting at most `limit`. A timed-out thread is left to finish on its
/// own (its result is dropped); the caller stops giving that peer work.
fn with_limit<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<Option<T>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(r) => r.map(Some),
        Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
        Err(mpsc::RecvTimeoutError::Disconnected) => bail!("peer thread panicked"),
    }
}

/// Run the comparison; returns the report (also printed as a table by the caller).
pub fn run(cfg: &CompareConfig) -> Result<Report> {
    let now = today();
    let threads = rayon::current_num_threads();
    let provider = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    eprintln!("measuring primitive costs…");
    let costs = PrimitiveCosts::measure(&provider)?;
    eprintln!(
        "generating {} state with {} members (seed {})…",
        cfg.state, cfg.members, cfg.seed
    );
    let mut state_cfg = StateConfig::new(cfg.state, cfg.members.max(2), cfg.seed);
    state_cfg.now = now;
    let state = generate(&state_cfg)?;
    // The peers make their KeyPackages valid from "now" on the wall clock, so the group
    // checks lifetimes against the wall clock too.
    let config = GroupConfig {
        clock: Clock::System,
        randomness: Randomness::System,
        ..GroupConfig::default()
    };
    let leaves: Vec<LeafIndex> = state.members().collect();
    let admin = state.member_group(leaves[0], config.clone())?;
    let receiver = state.member_group(*leaves.last().unwrap_or(&leaves[0]), config.clone())?;
    let mut setup = Setup {
        provider,
        state,
        admin,
        receiver,
        committer: None,
        peers: Vec::new(),
        config,
        kp_counter: 0,
        now,
    };
    let mut rows = Vec::new();

    // Hand the group to each peer: a Welcome with the tree, joined by the peer.
    let needs_member = cfg.ops.iter().any(|o| *o != Op::Build);
    let mut failed_peers = Vec::new();
    if needs_member {
        eprintln!("a Canopy member joins at the end of the tree…");
        setup.committer = Some(join_canopy_member(&mut setup)?);
        for &kind in &cfg.peers {
            eprintln!(
                "{kind} joins the {}-member group…",
                setup.admin.member_count()
            );
            match join_peer(&mut setup, kind, cfg.peer_time_limit) {
                Ok(Some(p)) => setup.peers.push((kind, p)),
                Ok(None) => failed_peers.push((
                    kind,
                    "join during setup exceeded the time limit".to_string(),
                )),
                Err(e) => failed_peers.push((kind, format!("join during setup failed: {e:#}"))),
            }
        }
    }

    for &op in &cfg.ops {
        eprintln!("{}…", op.name());
        rows.extend(measure(&mut setup, op, cfg, &costs, threads)?);
        for (kind, why) in &failed_peers {
            if op != Op::Build && op != Op::CommitCreator {
                rows.push(Row {
                    op: op.name(),
                    system: kind.name(),
                    median_ms: None,
                    bytes: None,
                    seals: None,
                    floor_ms: None,
                    samples: 0,
                    status: Some(why.clone()),
                });
            }
        }
    }
    Ok(Report {
        members: cfg.members,
        state: cfg.state.to_string(),
        threads,
        samples: cfg.samples,
        primitive_costs_us: costs,
        rows,
    })
}

/// Add a Canopy member at the end of the tree (a commit with a Welcome carrying the tree,
/// like a peer's), processed by the receiver.
fn join_canopy_member(setup: &mut Setup) -> Result<Group> {
    let (kp, secrets) = setup.fresh_kp()?;
    let out = setup.admin.commit(
        &CommitOptions::new()
            .adds(vec![kp.clone()])
            .ratchet_tree_in_welcome(),
    )?;
    setup.receiver.process(&out.commit)?;
    let welcome = out.welcome.ok_or_else(|| anyhow!("no Welcome"))?;
    Ok(Group::join(
        setup.provider,
        &welcome,
        &kp,
        &secrets,
        None,
        setup.config.clone(),
    )?)
}

/// Add a peer member to the group through a Canopy commit and Welcome (with the tree); every
/// member already in processes the commit.
fn join_peer(
    setup: &mut Setup,
    kind: PeerKind,
    limit: Duration,
) -> Result<Option<Box<dyn PeerMember>>> {
    let mut peer = new_member(kind, format!("peer-{kind}").as_bytes())?;
    let kp_bytes = peer.key_package()?;
    let MlsMessageBody::KeyPackage(kp) = codec::decode::<MlsMessage>(&kp_bytes)?.body else {
        bail!("{kind} KeyPackage is not an MLSMessage(KeyPackage)");
    };
    let out = setup.admin.commit(
        &CommitOptions::new()
            .adds(vec![kp])
            .ratchet_tree_in_welcome(),
    )?;
    setup.receiver.process(&out.commit)?;
    if let Some(c) = setup.committer.as_mut() {
        c.process(&out.commit)?;
    }
    for (_, p) in setup.peers.iter_mut() {
        p.process(&out.commit)?;
    }
    let welcome = out.welcome.ok_or_else(|| anyhow!("no Welcome"))?;
    let joined = with_limit(limit, move || {
        peer.join(&welcome, None)?;
        Ok(peer)
    })?;
    if let Some(p) = &joined {
        if p.epoch_authenticator() != setup.admin.epoch_authenticator().as_bytes() {
            bail!("{kind} joined but disagrees on the epoch authenticator");
        }
    }
    Ok(joined)
}

struct Sample {
    ms: f64,
    bytes: u64,
    seals: u64,
    floor_ms: Option<f64>,
}

fn measure(
    setup: &mut Setup,
    op: Op,
    cfg: &CompareConfig,
    costs: &PrimitiveCosts,
    threads: usize,
) -> Result<Vec<Row>> {
    let mut canopy = Vec::new();
    let mut peer_samples: Vec<(PeerKind, Vec<Sample>, Option<String>)> = cfg
        .peers
        .iter()
        .filter(|_| op != Op::CommitCreator)
        .filter(|k| op == Op::Build || setup.peers.iter().any(|(p, _)| p == *k))
        .map(|&k| (k, Vec::new(), None))
        .collect();
    // Inputs shared by every system for this op.
    let process_input = if op == Op::Process {
        Some(
            setup
                .admin
                .clone()
                .commit(&CommitOptions::new().with_path())?
                .commit,
        )
    } else {
        None
    };
    let build_kps: Vec<(codec::KeyPackage, Vec<u8>)> = if op == Op::Build {
        (1..cfg.members)
            .map(|_| {
                let (kp, _) = setup.fresh_kp()?;
                let bytes = kp_message(&kp)?;
                Ok((kp, bytes))
            })
            .collect::<Result<_>>()?
    } else {
        Vec::new()
    };
    let victim = setup.state.members().nth(1).unwrap_or(LeafIndex(0));

    for _ in 0..cfg.samples {
        canopy.push(canopy_sample(
            setup,
            op,
            process_input.as_deref(),
            &build_kps,
            victim,
            costs,
            threads,
        )?);
        for (kind, samples, status) in peer_samples.iter_mut() {
            if status.is_some() {
                continue;
            }
            match peer_sample(
                setup,
                *kind,
                op,
                process_input.as_deref(),
                &build_kps,
                victim,
                cfg.peer_time_limit,
            ) {
                Ok(Some(s)) => samples.push(s),
                Ok(None) => {
                    *status = Some(format!(
                        "did not finish within {} s",
                        cfg.peer_time_limit.as_secs()
                    ))
                }
                Err(e) => *status = Some(format!("failed: {e:#}")),
            }
        }
    }
    let row = |system: &'static str, s: &[Sample], status: Option<String>| Row {
        op: op.name(),
        system,
        median_ms: if status.is_some() {
            None
        } else {
            median(s.iter().map(|x| x.ms).collect())
        },
        bytes: s.first().map(|x| x.bytes),
        seals: s.first().map(|x| x.seals),
        floor_ms: median(s.iter().filter_map(|x| x.floor_ms).collect()),
        samples: s.len(),
        status,
    };
    let mut rows = vec![row("canopy", &canopy, None)];
    for (kind, samples, status) in peer_samples {
        rows.push(row(kind.name(), &samples, status));
    }
    Ok(rows)
}

fn canopy_sample(
    setup: &mut Setup,
    op: Op,
    process_input: Option<&[u8]>,
    build_kps: &[(codec::KeyPackage, Vec<u8>)],
    victim: LeafIndex,
    costs: &PrimitiveCosts,
    threads: usize,
) -> Result<Sample> {
    let timed = |f: &mut dyn FnMut() -> Result<(u64, u64)>| -> Result<Sample> {
        let c0 = counters::snapshot();
        let t = Instant::now();
        let (bytes, seals) = f()?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let work = counters::snapshot() - c0;
        Ok(Sample {
            ms,
            bytes,
            seals,
            floor_ms: Some(costs.floor_ms(&work, threads)),
        })
    };
    let commit_bytes = |out: &canopy_engine::group::CommitOutput| {
        (out.commit.len() + out.welcome.as_ref().map_or(0, Vec::len)) as u64
    };
    match op {
        Op::Build => {
            let (signer, _) = setup.provider.signature_key_pair_from_seed(&[0x42; 32])?;
            let mut g = Group::create(
                setup.provider,
                b"canopy-build",
                b"creator",
                signer,
                setup.config.clone(),
            )?;
            // The options are built outside the timed closure: copying 49,999 KeyPackages is
            // the harness's work, not the commit's.
            let options = CommitOptions::new()
                .adds(build_kps.iter().map(|(k, _)| k.clone()))
                .ratchet_tree_in_welcome();
            timed(&mut || {
                let out = g.commit(&options)?;
                Ok((commit_bytes(&out), out.counts.hpke_seals))
            })
        }
        Op::Commit | Op::CommitCreator | Op::Add1 | Op::Remove1 => {
            let mut g = match (&setup.committer, op) {
                (Some(c), Op::Commit | Op::Add1 | Op::Remove1) => c.clone(),
                _ => setup.admin.clone(),
            };
            let options = match op {
                Op::Commit | Op::CommitCreator => CommitOptions::new().with_path(),
                Op::Add1 => CommitOptions::new()
                    .adds(vec![setup.fresh_kp()?.0])
                    .ratchet_tree_in_welcome(),
                _ => CommitOptions::new().removes(vec![victim]),
            };
            timed(&mut || {
                let out = g.commit(&options)?;
                Ok((commit_bytes(&out), out.counts.hpke_seals))
            })
        }
        Op::Process => {
            let mut g = setup.receiver.clone();
            let msg = process_input.ok_or_else(|| anyhow!("no commit to process"))?;
            timed(&mut || {
                g.process(msg)?;
                Ok((msg.len() as u64, seals_in(msg)?))
            })
        }
        Op::Join => {
            let (kp, secrets) = setup.fresh_kp()?;
            let out = setup.admin.clone().commit(
                &CommitOptions::new()
                    .adds(vec![kp.clone()])
                    .ratchet_tree_in_welcome(),
            )?;
            let welcome = out.welcome.ok_or_else(|| anyhow!("no Welcome"))?;
            let config = setup.config.clone();
            let provider = setup.provider;
            timed(&mut || {
                Group::join(provider, &welcome, &kp, &secrets, None, config.clone())?;
                Ok((welcome.len() as u64, 0))
            })
        }
    }
}

fn peer_sample(
    setup: &mut Setup,
    kind: PeerKind,
    op: Op,
    process_input: Option<&[u8]>,
    build_kps: &[(codec::KeyPackage, Vec<u8>)],
    victim: LeafIndex,
    limit: Duration,
) -> Result<Option<Sample>> {
    let out_bytes = |o: &crate::peers::CommitOutput| {
        (o.commit.len()
            + o.welcome.as_ref().map_or(0, Vec::len)
            + o.ratchet_tree.as_ref().map_or(0, Vec::len)) as u64
    };
    let seals_of = |o: &crate::peers::CommitOutput| -> Result<u64> {
        Ok(seals_in(&o.commit)? + o.welcome.as_deref().map_or(Ok(0), seals_in)?)
    };
    let member = || -> Result<Box<dyn PeerMember>> {
        setup
            .peers
            .iter()
            .find(|(k, _)| *k == kind)
            .ok_or_else(|| anyhow!("{kind} is not in the group"))?
            .1
            .fork()
    };
    match op {
        Op::Build => {
            let kps: Vec<Vec<u8>> = build_kps.iter().map(|(_, b)| b.clone()).collect();
            let mut creator = new_member(kind, b"peer-creator")?;
            creator.create_group(b"peer-build")?;
            with_limit(limit, move || {
                let t = Instant::now();
                let out = creator.commit(CommitOp::Add(kps), true)?;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                Ok(Sample {
                    ms,
                    bytes: out_bytes(&out),
                    seals: seals_of(&out)?,
                    floor_ms: None,
                })
            })
        }
        Op::CommitCreator => bail!("commit-creator is measured for Canopy only"),
        Op::Commit | Op::Add1 | Op::Remove1 => {
            let mut m = member()?;
            let op = match op {
                Op::Commit => CommitOp::Empty,
                Op::Add1 => CommitOp::Add(vec![kp_message(&setup.fresh_kp()?.0)?]),
                _ => CommitOp::Remove(vec![victim.0]),
            };
            let tree_in_welcome = matches!(op, CommitOp::Add(_));
            with_limit(limit, move || {
                let t = Instant::now();
                let out = m.commit(op, tree_in_welcome)?;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                Ok(Sample {
                    ms,
                    bytes: out_bytes(&out),
                    seals: seals_of(&out)?,
                    floor_ms: None,
                })
            })
        }
        Op::Process => {
            let mut m = member()?;
            let msg = process_input
                .ok_or_else(|| anyhow!("no commit to process"))?
                .to_vec();
            with_limit(limit, move || {
                let t = Instant::now();
                m.process(&msg)?;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                Ok(Sample {
                    ms,
                    bytes: msg.len() as u64,
                    seals: seals_in(&msg)?,
                    floor_ms: None,
                })
            })
        }
        Op::Join => {
            let mut joiner =
                new_member(kind, format!("peer-joiner-{}", setup.kp_counter).as_bytes())?;
            setup.kp_counter += 1;
            let kp_bytes = joiner.key_package()?;
            let MlsMessageBody::KeyPackage(kp) = codec::decode::<MlsMessage>(&kp_bytes)?.body
            else {
                bail!("not a KeyPackage");
            };
            let out = setup.admin.clone().commit(
                &CommitOptions::new()
                    .adds(vec![kp])
                    .ratchet_tree_in_welcome(),
            )?;
            let welcome = out.welcome.ok_or_else(|| anyhow!("no Welcome"))?;
            with_limit(limit, move || {
                let t = Instant::now();
                joiner.join(&welcome, None)?;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                Ok(Sample {
                    ms,
                    bytes: welcome.len() as u64,
                    seals: 0,
                    floor_ms: None,
                })
            })
        }
    }
    .context(format!("{kind} {}", op.name()))
}

/// Print the report as a table: per operation, each system's median, the ratio peer/Canopy,
/// bytes, seals and Canopy's ratio to its floor.
pub fn print_table(report: &Report) {
    println!(
        "canopy compare: {} members, state {}, {} threads, {} samples (medians)",
        report.members, report.state, report.threads, report.samples
    );
    println!(
        "{:<8} {:<8} {:>12} {:>10} {:>12} {:>8} {:>10} {:>9}",
        "op", "system", "median ms", "vs canopy", "bytes", "seals", "floor ms", "÷ floor"
    );
    for row in &report.rows {
        let canopy = report
            .rows
            .iter()
            .find(|r| r.op == row.op && r.system == "canopy")
            .and_then(|r| r.median_ms);
        let ratio = match (row.median_ms, canopy) {
            (Some(m), Some(c)) if row.system != "canopy" && c > 0.0 => format!("{:.2}×", m / c),
            _ => String::new(),
        };
        let f = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.3}"));
        let over_floor = match (row.median_ms, row.floor_ms) {
            (Some(m), Some(fl)) if fl > 0.0 => format!("{:.2}×", m / fl),
            _ => String::new(),
        };
        println!(
            "{:<8} {:<8} {:>12} {:>10} {:>12} {:>8} {:>10} {:>9}{}",
            row.op,
            row.system,
            f(row.median_ms),
            ratio,
            row.bytes.map_or("—".into(), |b| b.to_string()),
            row.seals.map_or("—".into(), |s| s.to_string()),
            f(row.floor_ms),
            over_floor,
            row.status
                .as_ref()
                .map_or(String::new(), |s| format!("  ({s})")),
        );
    }
}
