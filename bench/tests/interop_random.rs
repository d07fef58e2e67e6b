//! Seeded random interop: a 100+-member Canopy group (a generated `populated` state) in which
//! several members are live peer clients (openmls, or mls-rs) and several are live Canopy
//! members, driven for 200+ epochs. At every epoch a seeded-random live member (Canopy or
//! peer) commits a seeded-random operation — empty / update with a path, add k, add k with a
//! path, remove k, removes and adds mixed — every other live member processes it, joiners
//! join from the Welcome (Canopy members from peers' Welcomes and peers from Canopy's, with
//! the tree in the Welcome or out of band), and every live member must agree on the epoch,
//! the epoch authenticator and an exported secret. Application messages (PrivateMessage) are
//! sent by random live members every few epochs and decrypted by all the others.
//!
//! The other members are generated Canopy members that never act, plus the members added
//! on the way (from Canopy- and peer-made KeyPackages); removes take them.
//!
//! Each peer runs [`EPOCHS`] epochs in suite 1 and in suite 2, and [`SHORT_EPOCHS`] in every
//! other suite it runs (openmls: 3; mls-rs: 3, 5, 7), the generated group in that suite.

use canopy_engine::JoinOptions;
use canopy_engine::{PathPolicy, TreeDelivery};
use std::time::Instant;

use canopy_bench::peers::{new_member_in, CommitOp, PeerKind, PeerMember};
use canopy_engine::codec::{self, MlsMessage, MlsMessageBody, ProtocolVersion};
use canopy_engine::crypto::{CipherSuite, Provider};
use canopy_engine::group::{CommitOptions, Group, GroupConfig, ProcessOutcome};
use canopy_engine::key_package::{key_package, Clock, KeyPackageSecrets};
use canopy_engine::tree::LeafIndex;
use canopy_workloads::states::{generate, StateConfig, StateKind};

/// Epochs driven per peer in suites 1 and 2.
const EPOCHS: u32 = 200;
/// Epochs driven per peer in the other suites it runs: enough for every op kind and joins
/// both ways, at a quarter of the time.
const SHORT_EPOCHS: u32 = 50;
/// Members of the generated state the run starts from.
const START_MEMBERS: u32 = 100;
/// The group is kept between these sizes (adds are preferred below, removes above).
const MIN_MEMBERS: usize = 100;
const MAX_MEMBERS: usize = 130;
/// Live members of each implementation at most (joiners stop being made live beyond).
const MAX_LIVE_CANOPY: usize = 6;
const MAX_LIVE_PEERS: usize = 5;

/// splitmix64: the test's own seeded choices (no crypto randomness depends on it).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

enum Live {
    Canopy(Box<Group>),
    Peer(Box<dyn PeerMember>),
}

impl Live {
    fn name(&self) -> String {
        match self {
            Live::Canopy(g) => format!("canopy@{}", g.own_leaf().0),
            Live::Peer(p) => format!("{}@{}", p.kind(), p.own_leaf()),
        }
    }

    fn leaf(&self) -> u32 {
        match self {
            Live::Canopy(g) => g.own_leaf().0,
            Live::Peer(p) => p.own_leaf(),
        }
    }

    fn epoch(&self) -> u64 {
        match self {
            Live::Canopy(g) => g.epoch(),
            Live::Peer(p) => p.epoch(),
        }
    }

    fn authenticator(&self) -> Vec<u8> {
        match self {
            Live::Canopy(g) => g.epoch_authenticator().as_bytes().to_vec(),
            Live::Peer(p) => p.epoch_authenticator(),
        }
    }

    fn exported(&self, context: &[u8]) -> Vec<u8> {
        match self {
            Live::Canopy(g) => g
                .export_secret(b"interop random", context, 32)
                .unwrap()
                .as_bytes()
                .to_vec(),
            Live::Peer(p) => p.export_secret("interop random", context, 32).unwrap(),
        }
    }

    fn tree(&self) -> Vec<u8> {
        match self {
            Live::Canopy(g) => g.ratchet_tree_bytes().unwrap(),
            Live::Peer(p) => p.ratchet_tree().unwrap(),
        }
    }

    fn process(&mut self, commit: &[u8]) {
        let name = self.name();
        match self {
            Live::Canopy(g) => match g.process(commit) {
                Ok(ProcessOutcome::Committed { .. }) => {}
                other => panic!("{name} processing: {other:?}"),
            },
            Live::Peer(p) => p
                .process(commit)
                .unwrap_or_else(|e| panic!("{name} processing: {e:#}")),
        }
    }

    fn protect(&mut self, data: &[u8]) -> Vec<u8> {
        match self {
            Live::Canopy(g) => g.protect_application(data).unwrap(),
            Live::Peer(p) => p.protect(data).unwrap(),
        }
    }

    fn unprotect(&mut self, message: &[u8]) -> Vec<u8> {
        let name = self.name();
        match self {
            Live::Canopy(g) => g
                .unprotect_application(message)
                .unwrap_or_else(|e| panic!("{name} decrypting: {e}")),
            Live::Peer(p) => p
                .unprotect(message)
                .unwrap_or_else(|e| panic!("{name} decrypting: {e:#}")),
        }
    }
}

fn kp_message(kp: &codec::KeyPackage) -> Vec<u8> {
    codec::encode(&MlsMessage {
        version: ProtocolVersion::MLS10,
        body: MlsMessageBody::KeyPackage(kp.clone()),
    })
    .unwrap()
}

fn decode_kp(bytes: &[u8]) -> codec::KeyPackage {
    match codec::decode::<MlsMessage>(bytes).unwrap().body {
        MlsMessageBody::KeyPackage(kp) => kp,
        _ => panic!("not a KeyPackage"),
    }
}

/// A member to be added, and what happens to it once added.
enum Joiner {
    /// A Canopy KeyPackage whose holder joins and becomes live.
    Canopy(Box<(codec::KeyPackage, KeyPackageSecrets)>),
    /// A peer member that joins and becomes live.
    Peer(Box<dyn PeerMember>),
    /// A member (Canopy- or peer-made KeyPackage) that is added and never acts.
    Passive,
}

/// What the run did, to assert that the random mix covered everything.
#[derive(Debug, Default)]
struct Tally {
    canopy_commits: u32,
    peer_commits: u32,
    by_op: [u32; 6],
    added: u32,
    removed: u32,
    canopy_joins_from_peer_welcome: u32,
    peer_joins_from_canopy_welcome: u32,
    tree_out_of_band_joins: u32,
    app_messages: u32,
    max_members: usize,
    min_members: usize,
    agreements: u32,
}

const OP_NAMES: [&str; 6] = ["empty", "update", "add", "add+path", "remove", "remove+add"];

struct Run {
    kind: PeerKind,
    suite: u16,
    provider: Provider,
    config: GroupConfig,
    rng: Rng,
    live: Vec<Live>,
    serial: u32,
    tally: Tally,
}

impl Run {
    fn check_agreement(&mut self, with_tree: bool) {
        self.tally.agreements += 1;
        let first = &self.live[0];
        let epoch = first.epoch();
        let auth = first.authenticator();
        let exported = first.exported(&epoch.to_be_bytes());
        let tree = with_tree.then(|| first.tree());
        for m in &self.live[1..] {
            assert_eq!(m.epoch(), epoch, "{} vs {}", m.name(), first.name());
            assert_eq!(m.authenticator(), auth, "{} at epoch {epoch}", m.name());
            assert_eq!(
                m.exported(&epoch.to_be_bytes()),
                exported,
                "{} at epoch {epoch}",
                m.name()
            );
            if let Some(tree) = &tree {
                assert_eq!(&m.tree(), tree, "{} tree at epoch {epoch}", m.name());
            }
        }
    }

    fn canopy_view(&self) -> &Group {
        self.live
            .iter()
            .find_map(|m| match m {
                Live::Canopy(g) => Some(&**g),
                Live::Peer(_) => None,
            })
            .expect("a live Canopy member")
    }

    fn live_count(&self, canopy: bool) -> usize {
        self.live
            .iter()
            .filter(|m| matches!(m, Live::Canopy(_)) == canopy)
            .count()
    }

    /// `k` new members: KeyPackages (as MLSMessage bytes) and what becomes of them.
    /// `live_joiner` asks for one that becomes a live member of the implementation other
    /// than the committer's, when the caps allow.
    fn new_members(&mut self, k: usize, committer_is_canopy: bool) -> (Vec<Vec<u8>>, Vec<Joiner>) {
        let mut kps = Vec::new();
        let mut joiners = Vec::new();
        for i in 0..k {
            self.serial += 1;
            let identity = format!("random-{}-{}", self.kind, self.serial);
            let make_live = i == 0 && self.rng.chance(30);
            if make_live && committer_is_canopy && self.live_count(false) < MAX_LIVE_PEERS {
                let mut peer = new_member_in(self.kind, self.suite, identity.as_bytes()).unwrap();
                kps.push(peer.key_package().unwrap());
                joiners.push(Joiner::Peer(peer));
            } else if make_live && !committer_is_canopy && self.live_count(true) < MAX_LIVE_CANOPY {
                let (kp, secrets) = key_package(&self.provider, identity.as_bytes()).unwrap();
                kps.push(kp_message(&kp));
                joiners.push(Joiner::Canopy(Box::new((kp, secrets))));
            } else if self.rng.chance(50) {
                kps.push(kp_message(
                    &key_package(&self.provider, identity.as_bytes()).unwrap().0,
                ));
                joiners.push(Joiner::Passive);
            } else {
                let mut maker = new_member_in(self.kind, self.suite, identity.as_bytes()).unwrap();
                kps.push(maker.key_package().unwrap());
                joiners.push(Joiner::Passive);
            }
        }
        (kps, joiners)
    }

    /// `k` distinct members that are not live (never the committer or a live member).
    fn victims(&mut self, k: usize) -> Vec<u32> {
        let live: Vec<u32> = self.live.iter().map(Live::leaf).collect();
        let mut candidates: Vec<u32> = self
            .canopy_view()
            .tree()
            .leaves()
            .map(|(l, _)| l.0)
            .filter(|l| !live.contains(l))
            .collect();
        let mut out = Vec::new();
        for _ in 0..k.min(candidates.len()) {
            let i = self.rng.below(candidates.len());
            out.push(candidates.swap_remove(i));
        }
        out
    }

    fn epoch(&mut self, n: u32) {
        let members = self.canopy_view().member_count();
        self.tally.max_members = self.tally.max_members.max(members);
        self.tally.min_members = self.tally.min_members.min(members);
        let who = self.rng.below(self.live.len());
        let committer_is_canopy = matches!(self.live[who], Live::Canopy(_));
        let mut op = self.rng.below(OP_NAMES.len());
        let k = 1 + self.rng.below(3);
        // Keep the group within [MIN_MEMBERS, MAX_MEMBERS]: net-removing ops become adds
        // near the floor and adds become removes near the ceiling.
        if (op == 4 || op == 5) && members < MIN_MEMBERS + 4 {
            op = 3;
        } else if (op == 2 || op == 3) && members + k > MAX_MEMBERS {
            op = 4;
        }
        let mixed_adds = self.rng.below(k + 1);
        let (kps, joiners) = match op {
            2 | 3 => self.new_members(k, committer_is_canopy),
            5 => self.new_members(mixed_adds, committer_is_canopy),
            _ => (Vec::new(), Vec::new()),
        };
        let removes = match op {
            4 | 5 => self.victims(k),
            _ => Vec::new(),
        };
        let tree_in_welcome = self.rng.chance(50);
        self.tally.by_op[op] += 1;
        self.tally.added += kps.len() as u32;
        self.tally.removed += removes.len() as u32;

        // Commit.
        let (commit, welcome, tree) = match &mut self.live[who] {
            Live::Canopy(g) => {
                self.tally.canopy_commits += 1;
                let out = g
                    .commit(
                        &CommitOptions::new()
                            .adds(kps.iter().map(|b| decode_kp(b)))
                            .removes(removes.iter().map(|&l| LeafIndex(l)))
                            .path(if op != 2 {
                                PathPolicy::Always
                            } else {
                                PathPolicy::WhenRequired
                            })
                            .ratchet_tree(if tree_in_welcome {
                                TreeDelivery::Included
                            } else {
                                TreeDelivery::OutOfBand
                            }),
                    )
                    .unwrap_or_else(|e| panic!("canopy commit {} at {n}: {e}", OP_NAMES[op]));
                let tree = (!tree_in_welcome).then(|| g.ratchet_tree_bytes().unwrap());
                (out.commit, out.welcome, tree)
            }
            Live::Peer(p) => {
                self.tally.peer_commits += 1;
                let op = match op {
                    0 => CommitOp::Empty,
                    1 => CommitOp::Update,
                    2 => CommitOp::Add(kps.clone()),
                    3 => CommitOp::AddWithPath(kps.clone()),
                    4 => CommitOp::Remove(removes.clone()),
                    _ => CommitOp::Mixed {
                        adds: kps.clone(),
                        removes: removes.clone(),
                    },
                };
                let label = format!("{op:?}").chars().take(40).collect::<String>();
                let out = p
                    .commit(op, tree_in_welcome)
                    .unwrap_or_else(|e| panic!("{} commit {label} at {n}: {e:#}", p.kind()));
                (out.commit, out.welcome, out.ratchet_tree)
            }
        };
        for (i, m) in self.live.iter_mut().enumerate() {
            if i != who {
                m.process(&commit);
            }
        }

        // Joiners.
        if !kps.is_empty() {
            let welcome = welcome.expect("a Welcome for the added members");
            assert_eq!(tree.is_some(), !tree_in_welcome);
            for j in joiners {
                match j {
                    Joiner::Passive => {}
                    Joiner::Canopy(boxed) => {
                        let (kp, secrets) = *boxed;
                        let g = Group::join(
                            self.provider,
                            &welcome,
                            &kp,
                            &secrets,
                            JoinOptions::from(self.config.clone()).ratchet_tree(tree.as_deref()),
                        )
                        .unwrap_or_else(|e| panic!("canopy join at {n}: {e}"));
                        assert!(!committer_is_canopy);
                        self.tally.canopy_joins_from_peer_welcome += 1;
                        self.tally.tree_out_of_band_joins += u32::from(tree.is_some());
                        self.live.push(Live::Canopy(Box::new(g)));
                    }
                    Joiner::Peer(mut p) => {
                        p.join(&welcome, tree.as_deref())
                            .unwrap_or_else(|e| panic!("{} join at {n}: {e:#}", self.kind));
                        assert!(committer_is_canopy);
                        self.tally.peer_joins_from_canopy_welcome += 1;
                        self.tally.tree_out_of_band_joins += u32::from(tree.is_some());
                        self.live.push(Live::Peer(p));
                    }
                }
            }
        }
        self.check_agreement(n.is_multiple_of(10));

        // Application messages, both ways over the run.
        if n.is_multiple_of(4) {
            let from = self.rng.below(self.live.len());
            let text = format!("epoch {n} from {}", self.live[from].name());
            let message = self.live[from].protect(text.as_bytes());
            for (i, m) in self.live.iter_mut().enumerate() {
                if i != from {
                    assert_eq!(m.unprotect(&message), text.as_bytes(), "{}", m.name());
                }
            }
            self.tally.app_messages += 1;
        }
    }
}

/// `epochs` seeded-random epochs of `kind` with Canopy in `suite`, from `seed`.
fn run(kind: PeerKind, suite: u16, seed: u64, epochs: u32) {
    let started = Instant::now();
    let mut state_config = StateConfig::new(StateKind::Populated, START_MEMBERS, seed);
    state_config.suite = CipherSuite::from_u16(suite).expect("a suite Canopy implements");
    let state = generate(&state_config).unwrap();
    let provider = state.provider;
    // The peers make KeyPackages valid from "now" on the wall clock (see peers/mod.rs), so
    // Canopy checks lifetimes against it too.
    let config = GroupConfig {
        clock: Clock::System,
        ..GroupConfig::default()
    };
    let leaves: Vec<LeafIndex> = state.members().collect();
    let mut rng = Rng(seed ^ 0x1234_5678);
    // Three live Canopy members from the generated state, at seeded-random leaves.
    let mut live = vec![Live::Canopy(Box::new(
        state.member_group(leaves[0], config.clone()).unwrap(),
    ))];
    for _ in 0..2 {
        let leaf = leaves[1 + rng.below(leaves.len() - 1)];
        if live.iter().all(|m| m.leaf() != leaf.0) {
            live.push(Live::Canopy(Box::new(
                state.member_group(leaf, config.clone()).unwrap(),
            )));
        }
    }
    let mut run = Run {
        kind,
        suite,
        provider,
        config,
        rng,
        live,
        serial: 0,
        tally: Tally {
            min_members: usize::MAX,
            ..Tally::default()
        },
    };
    // Three live peer members join from one Canopy Welcome carrying the tree.
    let mut peers: Vec<Box<dyn PeerMember>> = (0..3)
        .map(|i| new_member_in(kind, suite, format!("live-{kind}-{i}").as_bytes()).unwrap())
        .collect();
    let kps: Vec<codec::KeyPackage> = peers
        .iter_mut()
        .map(|p| decode_kp(&p.key_package().unwrap()))
        .collect();
    let Live::Canopy(admin) = &mut run.live[0] else {
        unreachable!()
    };
    let out = admin
        .commit(&CommitOptions::new().adds(kps).ratchet_tree_in_welcome())
        .unwrap();
    for m in run.live[1..].iter_mut() {
        m.process(&out.commit);
    }
    for mut p in peers.drain(..) {
        p.join(out.welcome.as_ref().unwrap(), None).unwrap();
        run.live.push(Live::Peer(p));
    }
    run.check_agreement(true);
    let setup = started.elapsed();

    for n in 1..=epochs {
        run.epoch(n);
    }
    run.check_agreement(true);
    let t = &run.tally;
    eprintln!(
        "{kind} suite {suite}: {epochs} epochs in {:.1?} (setup {:.1?}); live {} canopy + {} \
         {kind}; members {}..{}; ops {:?}; {t:?}",
        started.elapsed(),
        setup,
        run.live_count(true),
        run.live_count(false),
        t.min_members,
        t.max_members,
        OP_NAMES.iter().zip(t.by_op).collect::<Vec<_>>(),
    );
    // The run must have exercised what it claims (a seed that does not is a test bug): at
    // 200 epochs ≥ 20 commits from each side and every op ≥ 10 times, in proportion below.
    assert!(
        t.canopy_commits >= epochs / 10 && t.peer_commits >= epochs / 10,
        "{t:?}"
    );
    assert!(t.by_op.iter().all(|&c| c >= epochs / 20), "{t:?}");
    assert!(t.canopy_joins_from_peer_welcome >= 1, "{t:?}");
    assert!(t.peer_joins_from_canopy_welcome >= 1, "{t:?}");
    assert!(t.tree_out_of_band_joins >= 1, "{t:?}");
    assert!(t.min_members >= MIN_MEMBERS, "{t:?}");
    assert!(run.live.len() >= 6);
    assert_eq!(
        t.agreements,
        epochs + 2,
        "agreement after setup and every epoch"
    );
    assert_eq!(run.live[0].epoch(), 1 + state.epoch + u64::from(epochs));
    assert_eq!(run.canopy_view().provider().suite().id(), suite);
}

/// Every run: peer, suite, seed, epochs. Every suite each peer runs has one.
const RUNS: [(PeerKind, u16, u64, u32); 11] = [
    (PeerKind::OpenMls, 1, 4242, EPOCHS),
    (PeerKind::MlsRs, 1, 4243, EPOCHS),
    (PeerKind::OpenMls, 2, 4244, EPOCHS),
    (PeerKind::MlsRs, 2, 4245, EPOCHS),
    (PeerKind::OpenMls, 3, 4246, SHORT_EPOCHS),
    (PeerKind::MlsRs, 3, 4247, SHORT_EPOCHS),
    (PeerKind::MlsRs, 5, 4248, SHORT_EPOCHS),
    (PeerKind::MlsRs, 7, 4249, SHORT_EPOCHS),
    // The experimental X-Wing suite, which openmls runs on its libcrux back end.
    (PeerKind::OpenMls, 77, 4250, SHORT_EPOCHS),
    // mls-rs's experimental ML-KEM suites.
    (PeerKind::MlsRs, 65002, 4251, SHORT_EPOCHS),
    (PeerKind::MlsRs, 65003, 4252, SHORT_EPOCHS),
];

/// The run of `kind` in `suite` from [`RUNS`].
fn run_case(kind: PeerKind, suite: u16) {
    let &(_, _, seed, epochs) = RUNS
        .iter()
        .find(|(k, s, _, _)| *k == kind && *s == suite)
        .unwrap_or_else(|| panic!("no run of {kind} in suite {suite}"));
    run(kind, suite, seed, epochs);
}

#[test]
fn every_suite_each_peer_runs_has_a_run() {
    let mut pairs: Vec<(PeerKind, u16)> = PeerKind::ALL
        .iter()
        .flat_map(|&k| k.suites().into_iter().map(move |s| (k, s)))
        .collect();
    let mut runs: Vec<(PeerKind, u16)> = RUNS.iter().map(|&(k, s, _, _)| (k, s)).collect();
    pairs.sort();
    runs.sort();
    assert_eq!(runs, pairs);
}

#[test]
fn random_interop_openmls() {
    run_case(PeerKind::OpenMls, 1);
}

#[test]
fn random_interop_mls_rs() {
    run_case(PeerKind::MlsRs, 1);
}

#[test]
fn random_interop_openmls_suite_2() {
    run_case(PeerKind::OpenMls, 2);
}

#[test]
fn random_interop_mls_rs_suite_2() {
    run_case(PeerKind::MlsRs, 2);
}

#[test]
fn random_interop_openmls_suite_3() {
    run_case(PeerKind::OpenMls, 3);
}

#[test]
fn random_interop_mls_rs_suite_3() {
    run_case(PeerKind::MlsRs, 3);
}

#[test]
fn random_interop_openmls_suite_77_xwing() {
    run_case(PeerKind::OpenMls, 77);
}

#[test]
fn random_interop_mls_rs_suite_5() {
    run_case(PeerKind::MlsRs, 5);
}

#[test]
fn random_interop_mls_rs_suite_7() {
    run_case(PeerKind::MlsRs, 7);
}

#[test]
fn random_interop_mls_rs_suite_65002_mlkem768() {
    run_case(PeerKind::MlsRs, 65002);
}

#[test]
fn random_interop_mls_rs_suite_65003_mlkem1024() {
    run_case(PeerKind::MlsRs, 65003);
}
