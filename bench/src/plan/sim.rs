//! The churn simulation: one live group state driven through a workload with real commits,
//! real Welcomes and real joins, checked as it goes.
//!
//! # Method
//!
//! Holding 50,000 live [`Group`]s is impossible (each holds the whole tree), so the
//! simulator holds **one** group state (the *carrier*) and every member's private keys:
//! the start state's seeded keys ([`GeneratedState::member_keys`]), the KeyPackage keys of
//! every joiner, and every key a commit writes (the committer's new leaf and path keys, read
//! from its state after the commit). When member Y must commit, the carrier is handed to Y
//! ([`Group::into_member`]: Y's leaf key and the keys of the non-blank nodes on its direct
//! path that do not list it as unmerged, checked against the tree), and Y commits for real.
//!
//! A sample of receivers are full, separate [`Group`]s that process every commit and must
//! reach the committer's `epoch_authenticator`; a sample of the joiners join from the real
//! Welcome and must reach it too. Seal counts and resolution sizes of every commit are
//! recomputed from the tree by [`independent_counts`] (its own resolution walk) and must
//! equal the engine's [`OpCounts`](canopy_engine::group::OpCounts) and the X25519 counter of
//! the crypto provider.
//!
//! The delivery service is simulated too: one observer of the group's public state
//! ([`PublicGroup`]), copied from the carrier at the start, processes every commit and every
//! standalone proposal for real (signatures, proposal rules, parent hashes, tree hash,
//! transcript hashes: no secret), and after each commit its tree hash must equal the
//! committer's.
//!
//! Only engine work is measured: `Group::commit`, `Group::process`, `Group::join` and the
//! observer's `PublicGroup::process`. Around each the engine's exact counters are read (the counters are process-wide and the
//! simulation is sequential, so the difference is exactly the operation's work on all
//! threads), along with the process's CPU time (all threads) and the wall-clock latency.
//! The counts priced by the cost profile give the headline CPU figures; the measured CPU
//! time is reported apart, and the latencies fill the latency histograms.
//!
//! In fast mode ([`Mode::Fast`]) the carrier and the receivers switch to simulated crypto
//! (`Group::set_simulated_crypto`) for every commit but a sample: the same commits on the same
//! tree, the same counts and message lengths, the same checks; only the sample is timed. A
//! warm-up (`warmup_days`) runs the commits before day 0 that way, with no receivers and
//! nothing recorded. An external join hands the state to the joiner's new group.

use canopy_engine::{ExternalJoinOptions, JoinOptions, PathPolicy, TreeDelivery};
use std::collections::{BTreeSet, HashMap};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use canopy_engine::codec::{
    self, GroupInfo, KeyPackage, MlsMessage, MlsMessageBody, ProtocolVersion, Size,
};
use canopy_engine::crypto::{
    counters, HpkePrivateKey, Provider, Secret, SignaturePrivateKey, SignatureScheme,
};
use canopy_engine::group::{
    CommitOptions, CommitOutput, Group, GroupConfig, ProcessOutcome, Protection, PublicGroup,
    Randomness,
};
use canopy_engine::kem::TreeKemPrivate;
use canopy_engine::key_package::{
    default_lifetime, key_package_from_seed, Clock, KeyPackageSecrets,
};
use canopy_engine::tree::{math, LeafIndex, NodeIndex, NodeRef, RatchetTree};
use canopy_workloads::churn::{
    plan_workload, CommitterPolicy, MemberId, Op, OpKind, PlannedCommit, Workload, DAY,
};
use canopy_workloads::{generate, GeneratedState, StateConfig};
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::device::{DeviceAcc, StateSize};
use super::ds::{AppMessage, Recorder, Storage};
use super::report::{
    hist_encode, CommitFigures, CommitSeries, Day, KindCost, RoleCost, Run, Sampling, Totals,
    FAST_METHOD, METHOD,
};
use crate::costs::{add_counts, add_work, process_cpu_ns, HostInfo, LoadSource, ProfileUsed, Work};

/// How a simulation makes its commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// [`Mode::Fast`] for long runs (more than [`FAST_ABOVE_MEMBER_DAYS`] member-days),
    /// [`Mode::Full`] otherwise.
    #[default]
    Auto,
    /// Every commit, proposal, processing and join with real crypto.
    Full,
    /// Real crypto for a sample of the commits (`real_commits` per kind, spread over the run,
    /// and every commit a sampled join joins from); simulated crypto for the others, with the
    /// same counts, bytes and tree (see `docs/capacity-planning.md`).
    Fast,
}

/// Above this many member-days (members at the start × simulated days) [`Mode::Auto`] runs
/// fast. Below it a full run takes a few minutes at most on 2 cores (10,000 members for 10
/// days: ~6,000 commits); above it the Welcomes with the tree and every receiver's real
/// processing make full runs of tens of minutes (the default 50,000 members for 30 days is
/// 1,500,000 member-days).
pub const FAST_ABOVE_MEMBER_DAYS: f64 = 100_000.0;

/// Commits of each kind made with real crypto in fast mode, by default: their latencies fill
/// the latency histograms (× the receivers for processing), and 30 per kind keep the real
/// work (Welcomes with the tree of ~120 ms each at 50,000 members) to seconds.
pub const DEFAULT_REAL_COMMITS: usize = 30;

impl Mode {
    /// Whether `w` runs fast under this mode.
    pub fn fast_for(self, w: &Workload) -> bool {
        match self {
            Mode::Full => false,
            Mode::Fast => true,
            Mode::Auto => f64::from(w.members) * w.days > FAST_ABOVE_MEMBER_DAYS,
        }
    }
}

/// Sampling and display options of one simulation.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Full, fast, or chosen by the run's size.
    pub mode: Mode,
    /// In fast mode, commits of each kind made with real crypto (spread evenly over the run).
    pub real_commits: usize,
    /// Receivers processing every commit in full.
    pub receivers: usize,
    /// Joiners that really join (spread evenly over the simulated time).
    pub joiners: usize,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// The cost profile that prices the engine's counts.
    pub profile: ProfileUsed,
    /// Where the host's load average is read (at the start and the end of the run).
    pub load: LoadSource,
    /// The days offline the per-device view prices a catch-up for (those longer than the
    /// run are left out).
    pub catch_up_days: Vec<u32>,
}

/// Per-day accumulators.
struct DayAcc {
    day: Day,
    create: Histogram<u64>,
    process: Histogram<u64>,
    joiners: u64,
    blank_sum: f64,
}

/// The kinds of commit the report breaks times down by: an update (a self-update, or a commit of
/// Update proposals without Adds or Removes, whoever commits it), Adds only (a Welcome),
/// Removes only, both (a membership commit that also carries Update proposals is of its
/// membership kind), and a new member's external commit (RFC 9420 §12.4.3.2).
pub const COMMIT_KINDS: [&str; 5] = ["update", "add", "remove", "mixed", "external_join"];

/// The number of [`COMMIT_KINDS`].
const KINDS: usize = COMMIT_KINDS.len();

/// The index in [`COMMIT_KINDS`] of an external join.
const EXTERNAL_JOIN: usize = 4;

/// The index in [`COMMIT_KINDS`] of a member's commit.
fn commit_kind(update: bool, adds: bool, removes: bool) -> usize {
    match (update, adds, removes) {
        (true, _, _) => 0,
        (false, true, false) => 1,
        (false, false, true) => 2,
        _ => 3,
    }
}

/// Record `v` (at least 1), growing the histogram as needed (`saturating_record` would clamp
/// to the current, auto-resizing range).
fn rec(h: &mut Histogram<u64>, v: u64) -> Result<()> {
    rec_n(h, v, 1)
}

/// Record `v` (at least 1) `n` times.
fn rec_n(h: &mut Histogram<u64>, v: u64, n: u64) -> Result<()> {
    h.record_n(v.max(1), n)
        .map_err(|e| anyhow!("recording {v} in a histogram: {e:?}"))
}

fn hist() -> Histogram<u64> {
    // Auto-resizing, 3 significant figures: values from 1 up, no fixed ceiling.
    Histogram::new(3).expect("3 significant figures is a valid histogram precision")
}

/// The resolution of `x` (RFC 9420 §4.1.1), recomputed from the nodes: a non-blank node and
/// its unmerged leaves, a blank leaf nothing, a blank parent its children's resolutions.
fn resolution(
    tree: &RatchetTree,
    x: NodeIndex,
    occupied: Option<&[bool]>,
    out: &mut Vec<NodeIndex>,
) {
    // A subtree without a member holds no non-blank node (removing a member blanks its
    // direct path): with the simulator's own occupancy, such a subtree is not walked.
    if occupied.is_some_and(|o| !o.get(x.0 as usize).copied().unwrap_or(false)) {
        return;
    }
    match tree.node(x) {
        Some(NodeRef::Leaf(_)) => out.push(x),
        Some(NodeRef::Parent(p)) => {
            out.push(x);
            out.extend(p.unmerged_leaves().iter().map(|l| LeafIndex(l).node()));
        }
        None => {
            if let (Some(l), Some(r)) = (x.left(), x.right()) {
                if l.0 < tree.width() {
                    resolution(tree, l, occupied, out);
                }
                if r.0 < tree.width() {
                    resolution(tree, r, occupied, out);
                }
            }
        }
    }
}

/// Independent counts of a path commit by `committer`, from the tree after the commit (the
/// merge leaves every copath subtree as it was): the filtered direct path, and for each of
/// its nodes the size of the copath child's resolution without the leaves added by this
/// commit (they get the path secret in the Welcome, RFC 9420 §12.4.1). Returns (path nodes,
/// resolution sizes).
pub fn independent_counts(
    tree: &RatchetTree,
    committer: LeafIndex,
    new_leaves: &[LeafIndex],
) -> (u64, Vec<u64>) {
    counts_with(tree, committer, new_leaves, None)
}

/// [`independent_counts`], skipping the subtrees `occupied` (per node: whether its subtree
/// holds a member) says are empty.
fn counts_with(
    tree: &RatchetTree,
    committer: LeafIndex,
    new_leaves: &[LeafIndex],
    occupied: Option<&[bool]>,
) -> (u64, Vec<u64>) {
    let n = tree.n_leaves();
    let mut x = committer.node();
    let mut sizes = Vec::new();
    let mut buf = Vec::new();
    while let Some(p) = math::parent(x, n) {
        let Some(c) = math::sibling(x, n) else { break };
        buf.clear();
        resolution(tree, c, occupied, &mut buf);
        if !buf.is_empty() {
            let excluded = buf
                .iter()
                .filter(|y| y.leaf().is_some_and(|l| new_leaves.contains(&l)))
                .count();
            sizes.push((buf.len() - excluded) as u64);
        }
        x = p;
    }
    (sizes.len() as u64, sizes)
}

/// Blank fraction of the parent nodes that matter: those with a member in both subtrees
/// (exactly the nodes that can be on a filtered direct path; parents over an empty subtree,
/// such as the right edge past the last member, are blank by construction and not counted).
fn blank_fraction(tree: &RatchetTree) -> f64 {
    /// Whether the subtree of `x` holds a member; counts (eligible, blank) parents below.
    fn walk(tree: &RatchetTree, x: NodeIndex, counts: &mut (u64, u64)) -> bool {
        if x.0 >= tree.width() {
            return false;
        }
        match (x.left(), x.right()) {
            (Some(l), Some(r)) => {
                let left = walk(tree, l, counts);
                let right = walk(tree, r, counts);
                if left && right {
                    counts.0 += 1;
                    counts.1 += u64::from(tree.is_blank(x));
                }
                left || right
            }
            _ => !tree.is_blank(x),
        }
    }
    let mut counts = (0, 0);
    walk(tree, tree.root(), &mut counts);
    if counts.0 == 0 {
        0.0
    } else {
        counts.1 as f64 / counts.0 as f64
    }
}

/// The leaves `adds` Adds take (RFC 9420 §12.1.1: the leftmost blank leaf after the Removes,
/// else past the end): the smallest of the blank leaves and the removed ones below
/// `n_leaves`, then `n_leaves`, `n_leaves + 1`, …. Reads only the first `adds` blank leaves.
fn predict_add_leaves(
    blank_leaves: &BTreeSet<u32>,
    removed: &[LeafIndex],
    n_leaves: u32,
    adds: usize,
) -> Vec<LeafIndex> {
    if adds == 0 {
        return Vec::new();
    }
    let mut removed: Vec<u32> = removed.iter().map(|l| l.0).collect();
    removed.sort_unstable();
    let mut blank = blank_leaves.iter().copied().peekable();
    let mut gone = removed.into_iter().peekable();
    let mut out = Vec::with_capacity(adds);
    while out.len() < adds {
        let next = match (blank.peek(), gone.peek()) {
            (Some(&a), Some(&b)) if a == b => {
                gone.next();
                blank.next()
            }
            (Some(&a), Some(&b)) if b < a => gone.next(),
            (Some(_), _) => blank.next(),
            (None, _) => gone.next(),
        };
        match next {
            Some(l) if l < n_leaves => out.push(LeafIndex(l)),
            _ => break,
        }
    }
    let mut past = n_leaves;
    while out.len() < adds {
        out.push(LeafIndex(past));
        past += 1;
    }
    out
}

/// The blank fraction of [`blank_fraction`], kept up to date along the direct paths a commit
/// changes instead of recomputed over the whole tree (a commit changes nodes only on the
/// direct paths of its committer, its removed and added leaves and the senders of the Update
/// proposals it commits; a tree that changes width is recounted).
struct BlankCount {
    /// The tree's width in nodes when last recounted.
    width: u32,
    /// Per node: whether its subtree holds a member.
    occupied: Vec<bool>,
    /// Per parent node: 1 if it counts (a member in both subtrees), 2 if it also is blank.
    state: Vec<u8>,
    eligible: u64,
    blank: u64,
}

impl BlankCount {
    fn new(tree: &RatchetTree) -> Self {
        let width = tree.width();
        let mut c = BlankCount {
            width,
            occupied: vec![false; width as usize],
            state: vec![0; width as usize],
            eligible: 0,
            blank: 0,
        };
        // Leaves, then parents level by level: children before parents.
        for level in 0..=tree.root().level() {
            let step = 1u32 << (level + 1);
            let mut x = (1u32 << level) - 1;
            while x < width {
                c.refresh(tree, NodeIndex(x));
                x += step;
            }
        }
        c
    }

    /// Recompute node `x` from its children (or, for a leaf, from the tree).
    fn refresh(&mut self, tree: &RatchetTree, x: NodeIndex) {
        let i = x.0 as usize;
        let (occupied, state) = match (x.left(), x.right()) {
            (Some(l), Some(r)) => {
                let left = self.occupied.get(l.0 as usize).copied().unwrap_or(false);
                let right = self.occupied.get(r.0 as usize).copied().unwrap_or(false);
                let counts = left && right;
                let state = u8::from(counts) + 2 * u8::from(counts && tree.is_blank(x));
                (left || right, state)
            }
            _ => (!tree.is_blank(x), 0),
        };
        let old = self.state[i];
        self.eligible = self.eligible - u64::from(old & 1) + u64::from(state & 1);
        self.blank = self.blank - u64::from(old >> 1) + u64::from(state >> 1);
        self.state[i] = state;
        self.occupied[i] = occupied;
    }

    /// Bring the count up to date after a commit that changed the direct paths of `leaves`.
    fn update(&mut self, tree: &RatchetTree, leaves: impl IntoIterator<Item = LeafIndex>) {
        if tree.width() != self.width {
            *self = Self::new(tree);
            return;
        }
        let n = tree.n_leaves();
        for leaf in leaves {
            let mut x = leaf.node();
            if x.0 >= self.width {
                continue;
            }
            self.refresh(tree, x);
            while let Some(p) = math::parent(x, n) {
                self.refresh(tree, p);
                x = p;
            }
        }
    }

    fn fraction(&self) -> f64 {
        if self.eligible == 0 {
            0.0
        } else {
            self.blank as f64 / self.eligible as f64
        }
    }
}

/// Number of blank nodes on each leaf's direct path, for the `most_blanks` policy: computed
/// top-down in one pass over the tree.
fn blanks_on_direct_path(tree: &RatchetTree) -> Vec<u32> {
    let n = tree.n_leaves();
    let width = tree.width().max(1);
    let mut above = vec![0u32; math::node_width(n) as usize];
    // Parents from the root down: a node's count is its parent's count plus the parent's
    // blankness.
    let root = math::root(n);
    let mut stack = vec![root];
    while let Some(x) = stack.pop() {
        if let (Some(l), Some(r)) = (x.left(), x.right()) {
            let here = above[x.0 as usize] + u32::from(x.0 >= width || tree.is_blank(x));
            for c in [l, r] {
                if (c.0 as usize) < above.len() {
                    above[c.0 as usize] = here;
                    stack.push(c);
                }
            }
        }
    }
    (0..n).map(|l| above[(2 * l) as usize]).collect()
}

/// The encoded length of a variable-length vector of `n` bytes (RFC 9420 §2.1.2), by the
/// engine's codec.
fn vl_len(n: usize) -> usize {
    // Invariant: every length here (a tree, a GroupInfo) is far below the 2^30 limit.
    codec::vl_length(n).expect("a vector shorter than 2^30 bytes")
}

/// The length of the encrypted GroupInfo of an MLSMessage(Welcome), read from the headers
/// without copying the message (it holds the tree, ~12 MB at 50,000 members): the version
/// and wire format, the cipher suite, the secrets (a vector), then the encrypted GroupInfo,
/// the last field.
fn welcome_group_info_len(welcome: &[u8]) -> Result<usize> {
    let secrets = welcome
        .get(6..)
        .ok_or_else(|| anyhow!("internal: a truncated Welcome"))?;
    let (n, header) = codec::decode_varint_length(secrets)?;
    let rest = secrets
        .get(header + n as usize..)
        .ok_or_else(|| anyhow!("internal: a truncated Welcome"))?;
    let (n, header) = codec::decode_varint_length(rest)?;
    ensure!(
        rest.len() == header + n as usize,
        "internal: the Welcome's encrypted GroupInfo is not its last field"
    );
    Ok(n as usize)
}

/// What the suite's AEAD adds to a plaintext: the length of the engine's encryption of
/// nothing.
fn aead_expansion(provider: &Provider) -> Result<usize> {
    let key = vec![0u8; provider.aead_key_len()];
    let nonce = vec![0u8; provider.aead_nonce_len()];
    Ok(provider.aead_seal(&key, &nonce, &[], &[])?.len())
}

/// The seed of the KeyPackage of a joining device.
fn key_package_seed(seed: u64, m: MemberId) -> Vec<u8> {
    let mut s = b"canopy plan key package".to_vec();
    s.extend_from_slice(&seed.to_be_bytes());
    s.extend_from_slice(&m.person.to_be_bytes());
    s.extend_from_slice(&m.device.to_be_bytes());
    s
}

struct Receiver {
    member: MemberId,
    group: Group,
}

/// The simulation state.
struct Sim<'a> {
    w: &'a Workload,
    opts: &'a SimOptions,
    provider: Provider,
    /// Bytes the suite's AEAD adds to a plaintext (its tag), from the engine's provider.
    aead_expansion: usize,
    config: GroupConfig,
    now: u64,
    state: GeneratedState,
    carrier: Option<Group>,
    /// Leaf of each present device, and the device at each leaf.
    leaf_of: HashMap<MemberId, LeafIndex>,
    member_at: HashMap<LeafIndex, MemberId>,
    /// Blank leaves below `n_leaves` (where the next Adds go, leftmost first).
    blank_leaves: BTreeSet<u32>,
    /// The tree's blank fraction, kept up to date.
    blanks: BlankCount,
    /// Devices that are still at their start-state leaf (their untouched keys are seeded).
    initial: BTreeSet<MemberId>,
    /// Keys written since the start (commit paths, joiners' leaves): the latest per node.
    written: HashMap<NodeIndex, HpkePrivateKey>,
    /// Signature keys of joined devices.
    signers: HashMap<MemberId, SignaturePrivateKey>,
    offline: Vec<bool>,
    receivers: Vec<Receiver>,
    /// The delivery service's observer of the public state.
    observer: PublicGroup,
    rng: ChaCha20Rng,
    // Results.
    totals: Totals,
    days: Vec<DayAcc>,
    h_create: Histogram<u64>,
    h_process: Histogram<u64>,
    /// Creation and processing times by commit kind ([`COMMIT_KINDS`]): the hourly membership
    /// commits that ship a Welcome and the updates are different populations.
    h_create_kind: [Histogram<u64>; KINDS],
    h_process_kind: [Histogram<u64>; KINDS],
    h_join: Histogram<u64>,
    /// The delivery service's processing of each commit (wall clock).
    h_ds: Histogram<u64>,
    h_commit_bytes: Histogram<u64>,
    h_welcome_tree: Histogram<u64>,
    h_welcome_no_tree: Histogram<u64>,
    h_gi: Histogram<u64>,
    h_gi_tree: Histogram<u64>,
    h_seals: Histogram<u64>,
    h_resolution: Histogram<u64>,
    series: CommitSeries,
    next_join_sample: f64,
    join_sample_every: f64,
    last_process: Option<ProcessMean>,
    /// Work by commit kind ([`COMMIT_KINDS`]) and the joiners of each kind's commits.
    kinds: [KindCost; KINDS],
    kind_joiners: [u64; KINDS],
    /// Σ over the sampled joins of their counts and measured CPU time.
    join_work: Work,
    join_cpu_ns: u64,
    /// The delivery service's traffic.
    ds: Recorder,
    /// Present devices that are long offline.
    offline_present: u64,
    /// Bytes of a KeyPackage by the length of its identity (every other field has a fixed
    /// size), for the KeyPackages kept on the DS.
    key_package_sizes: HashMap<usize, u64>,
    /// The per-device view's accumulators.
    device: DeviceAcc,
    /// Fast mode: commits with simulated crypto but a sample (see [`Mode::Fast`]).
    fast: bool,
    /// Fast mode: per kind, the time from which its next commit is made with real crypto, and
    /// the interval between those commits.
    next_real: [f64; KINDS],
    real_every: f64,
    /// Per kind, the measured CPU time and the profile-based cost (ns) of the real commits so
    /// far, in pairs: creation, processing by a receiver, processing by the delivery service
    /// ([`CREATE`], [`PROCESS`], [`DS`]). Fast mode extrapolates a simulated commit's
    /// measured CPU time as its cost × measured / cost of its kind.
    measured: [[Measured; 3]; KINDS],
    /// The sampled receivers' processing latencies of the commit being delivered.
    process_samples: Vec<u64>,
    /// Per kind, the commits made with simulated crypto since its last real one, and that
    /// real one's latencies: fast mode weighs each real commit's latencies by the commits of
    /// its kind it stands for, so the histograms' percentiles are those of every commit.
    stands_for: [u64; KINDS],
    last_real: [Option<LatencySample>; KINDS],
}

/// The latencies of a real commit: creation, each sampled receiver's processing, and the
/// delivery service's.
#[derive(Debug, Clone)]
struct LatencySample {
    day: usize,
    create_ns: u64,
    process_ns: Vec<u64>,
    ds_ns: u64,
}

/// Whether a commit is made with real crypto, and whether a sampled join joins from it.
#[derive(Debug, Clone, Copy)]
struct Crypto {
    real: bool,
    join_due: bool,
}

/// Measured CPU time and profile-based cost (ns) summed over the real commits of a kind.
#[derive(Debug, Clone, Copy, Default)]
struct Measured {
    cpu_ns: f64,
    cost_ns: f64,
}

impl Measured {
    /// Measured ns per ns of cost, 0 before the kind's first real commit.
    fn ratio(&self) -> f64 {
        if self.cost_ns > 0.0 {
            self.cpu_ns / self.cost_ns
        } else {
            0.0
        }
    }
}

/// The indices in [`Sim::measured`]: creating a commit or proposal, a receiver processing
/// one, the delivery service processing one.
const CREATE: usize = 0;
const PROCESS: usize = 1;
const DS: usize = 2;

/// A commit's CPU time as recorded, ns: measured for a real commit, extrapolated for a
/// simulated one ([`Sim::cpu_ns`]).
#[derive(Debug, Clone, Copy, Default)]
struct CommitCpu {
    create_ns: f64,
    /// A sampled receiver's mean.
    process_ns: f64,
    /// The Update proposals it includes: the proposers' sum, and a receiver's mean
    /// processing of one.
    proposal_create_ns: f64,
    proposal_process_ns: f64,
    /// The delivery service: the commit, and the proposals summed.
    ds_ns: f64,
    ds_proposals_ns: f64,
}

/// The sampled receivers' mean processing of one commit.
#[derive(Debug, Clone)]
struct ProcessMean {
    /// Wall-clock seconds.
    wall_s: f64,
    /// Process CPU nanoseconds.
    cpu_ns: f64,
    /// Engine counts.
    work: Work,
}

impl Sim<'_> {
    fn day(&mut self, time: f64) -> &mut DayAcc {
        let d = self.day_index(time);
        &mut self.days[d]
    }

    fn day_index(&self, time: f64) -> usize {
        ((time / DAY).floor().max(0.0) as usize).min(self.days.len() - 1)
    }

    /// The CPU time (ns) to record for work of `slot` ([`CREATE`], [`PROCESS`], [`DS`]) in a
    /// commit of kind `kind`: as measured with real crypto; with simulated crypto, the
    /// work's cost × measured / cost of the kind's real commits so far.
    fn cpu_ns(
        &self,
        kind: usize,
        slot: usize,
        crypto: Crypto,
        measured_ns: u64,
        work: &Work,
    ) -> f64 {
        if crypto.real {
            measured_ns as f64
        } else {
            self.opts.profile.profile.ns(work) * self.measured[kind][slot].ratio()
        }
    }

    /// Record the latencies of a real commit of kind `kind`, `weight` times: in the run's, its
    /// kind's and its day's histograms, and the delivery service's.
    fn record_latencies(&mut self, kind: usize, s: &LatencySample, weight: u64) -> Result<()> {
        rec_n(&mut self.h_ds, s.ds_ns, weight)?;
        rec_n(&mut self.h_create, s.create_ns, weight)?;
        rec_n(&mut self.h_create_kind[kind], s.create_ns, weight)?;
        rec_n(&mut self.days[s.day].create, s.create_ns, weight)?;
        for &v in &s.process_ns {
            rec_n(&mut self.h_process, v, weight)?;
            rec_n(&mut self.h_process_kind[kind], v, weight)?;
            rec_n(&mut self.days[s.day].process, v, weight)?;
        }
        Ok(())
    }

    fn is_online(&self, m: MemberId) -> bool {
        !self
            .offline
            .get(m.person as usize)
            .copied()
            .unwrap_or(false)
    }

    fn tree(&self) -> &RatchetTree {
        self.carrier
            .as_ref()
            .expect("the carrier is always present between steps")
            .tree()
    }

    /// Member `m`'s private TreeKEM state and signer, from the key store.
    fn member_keys(&self, m: MemberId) -> Result<(TreeKemPrivate, SignaturePrivateKey)> {
        let leaf = *self
            .leaf_of
            .get(&m)
            .ok_or_else(|| anyhow!("internal: {m:?} is not a member"))?;
        let seeded = if self.initial.contains(&m) {
            Some(self.state.member_keys(leaf)?)
        } else {
            None
        };
        let leaf_key = match (self.written.get(&leaf.node()), &seeded) {
            (Some(k), _) => k.clone(),
            (None, Some(s)) => s.leaf_key.clone(),
            (None, None) => bail!("internal: no leaf key for {m:?}"),
        };
        let signer = match (self.signers.get(&m), &seeded) {
            (Some(s), _) => s.clone(),
            (None, Some(s)) => s.signer.clone(),
            (None, None) => bail!("internal: no signer for {m:?}"),
        };
        let tree = self.tree();
        let mut private = TreeKemPrivate::new(leaf, leaf_key);
        for x in math::direct_path(leaf.node(), tree.n_leaves()) {
            let Some(p) = tree.parent_node(x) else {
                continue;
            };
            if p.unmerged_leaves().contains(leaf.0) {
                continue;
            }
            let key = match self.written.get(&x) {
                Some(k) => k.clone(),
                None => seeded
                    .as_ref()
                    .and_then(|s| s.path_keys.iter().find(|(y, _)| *y == x))
                    .map(|(_, k)| k.clone())
                    .ok_or_else(|| anyhow!("internal: no key for {x:?} on {m:?}'s path"))?,
            };
            private.insert_path_key(x, key);
        }
        Ok((private, signer))
    }

    /// A random present, online device not in `exclude`.
    fn random_online(&mut self, exclude: &[MemberId]) -> Option<MemberId> {
        let mut candidates: Vec<MemberId> = self
            .leaf_of
            .keys()
            .copied()
            .filter(|m| self.is_online(*m) && !exclude.contains(m))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        candidates.sort();
        Some(candidates[self.rng.random_range(0..candidates.len())])
    }

    fn choose_committer(&mut self, c: &PlannedCommit, removes: &[MemberId]) -> Result<MemberId> {
        let ok = |s: &Self, m: MemberId| {
            s.leaf_of.contains_key(&m) && s.is_online(m) && !removes.contains(&m)
        };
        let pick = match self.w.committer {
            CommitterPolicy::Proposer => c.proposer.filter(|&p| ok(self, p)),
            CommitterPolicy::Admin => {
                let admin = MemberId {
                    person: self.w.admin / self.w.devices_per_person,
                    device: self.w.admin % self.w.devices_per_person,
                };
                Some(admin).filter(|&a| ok(self, a))
            }
            CommitterPolicy::MostBlanks => {
                let blanks = blanks_on_direct_path(self.tree());
                let mut best: Option<(u32, LeafIndex)> = None;
                for (&leaf, &m) in &self.member_at {
                    if !ok(self, m) {
                        continue;
                    }
                    let b = blanks[leaf.0 as usize];
                    if best.is_none_or(|(bb, bl)| b > bb || (b == bb && leaf < bl)) {
                        best = Some((b, leaf));
                    }
                }
                best.map(|(_, l)| self.member_at[&l])
            }
        };
        match pick {
            Some(p) => Ok(p),
            None => {
                self.totals.committer_fallbacks += 1;
                self.random_online(removes)
                    .ok_or_else(|| anyhow!("no online member left to commit"))
            }
        }
    }

    /// Hand the carrier to `m` (no-op if it already is `m`).
    fn become_member(&mut self, m: MemberId) -> Result<()> {
        let leaf = self.leaf_of[&m];
        let carrier = self.carrier.take().expect("carrier present");
        if carrier.own_leaf() == leaf && !carrier.is_removed() {
            self.carrier = Some(carrier);
            return Ok(());
        }
        // Keys are read from the tree held by the carrier: put it back for member_keys.
        self.carrier = Some(carrier);
        let (private, signer) = self.member_keys(m)?;
        let carrier = self.carrier.take().expect("carrier present");
        self.carrier = Some(
            carrier
                .into_member(private, signer)
                .with_context(|| format!("handing the state to {m:?}"))?,
        );
        Ok(())
    }

    fn key_package(&self, m: MemberId) -> Result<(KeyPackage, KeyPackageSecrets)> {
        let identity = identity(m);
        Ok(key_package_from_seed(
            &self.provider,
            identity.as_bytes(),
            &key_package_seed(self.w.seed, m),
            default_lifetime(self.now),
        )?)
    }

    /// One planned commit, in its phases: resolve it against the membership, make it, apply
    /// its membership changes, check its seals, measure its messages, deliver it to the
    /// sampled receivers, sample a join, record it.
    fn step(&mut self, c: &PlannedCommit) -> Result<()> {
        let Some(resolved) = self.resolve(c)? else {
            return Ok(());
        };
        let crypto = self.choose_crypto(c.time, &resolved);
        let proposals = self.send_proposals(c.time, &resolved, crypto)?;
        let made = self.make_commit(c, resolved, proposals, crypto)?;
        let ds = self.observe(&made)?;
        let placed = self.apply_membership(&made)?;
        let seals = self.check_seals(&made, &placed)?;
        let sizes = self.measure_messages(&made)?;
        let process = self.deliver(&made, &sizes)?;
        self.sample_join(&made, &sizes)?;
        self.record(&made, seals, &sizes, process, &ds)
    }

    /// Phase 1: the planned commit against the current membership. Owns the choice of
    /// committer and the count of skipped operations: an update by a device that has left,
    /// Adds of devices already in and Removes of devices already out are skipped; `None` if
    /// nothing is left to commit.
    fn resolve(&mut self, c: &PlannedCommit) -> Result<Option<Resolved>> {
        if let Some(m) = c.external_join {
            if self.leaf_of.contains_key(&m) {
                self.totals.skipped_ops += 1;
                return Ok(None);
            }
            return Ok(Some(Resolved {
                committer: m,
                adds: Vec::new(),
                removes: Vec::new(),
                proposals: Vec::new(),
                proposal_times: Vec::new(),
                external: true,
            }));
        }
        if let Some(m) = c.update {
            if !self.leaf_of.contains_key(&m) {
                self.totals.skipped_ops += 1;
                self.totals.updates_dropped += 1;
                return Ok(None);
            }
            self.totals.updates_committed += 1;
            return Ok(Some(Resolved {
                committer: m,
                adds: Vec::new(),
                removes: Vec::new(),
                proposals: Vec::new(),
                proposal_times: Vec::new(),
                external: false,
            }));
        }
        let adds: Vec<MemberId> = c
            .adds
            .iter()
            .copied()
            .filter(|m| !self.leaf_of.contains_key(m))
            .collect();
        let removes: Vec<MemberId> = c
            .removes
            .iter()
            .copied()
            .filter(|m| self.leaf_of.contains_key(m))
            .collect();
        self.totals.skipped_ops +=
            (c.adds.len() - adds.len() + c.removes.len() - removes.len()) as u64;
        // Update proposals: a device that left (or leaves in this commit) has none (RFC 9420
        // §12.2 forbids an Update and a Remove of one leaf), and of two proposals by one
        // device in one epoch the later replaces the earlier.
        let mut proposals: Vec<MemberId> = Vec::new();
        let mut proposal_times: Vec<f64> = Vec::new();
        for (i, &(m, sent)) in c.update_proposals.iter().enumerate() {
            let replaced = c.update_proposals[i + 1..].iter().any(|p| p.0 == m);
            if replaced || !self.leaf_of.contains_key(&m) || removes.contains(&m) {
                self.totals.updates_dropped += 1;
            } else {
                proposals.push(m);
                proposal_times.push(sent);
            }
        }
        if adds.is_empty() && removes.is_empty() && proposals.is_empty() {
            return Ok(None);
        }
        if removes.len() + 1 >= self.leaf_of.len() {
            bail!("commit at t={} would remove every member", c.time);
        }
        let committer = self.choose_committer(c, &removes)?;
        // The committer does not commit its own Update proposal (RFC 9420 §12.2): its path
        // refreshes its leaf instead, so it never sends it.
        self.totals.updates_committed += proposals.len() as u64;
        let (proposals, proposal_times) = proposals
            .into_iter()
            .zip(proposal_times)
            .filter(|&(m, _)| m != committer)
            .unzip();
        Ok(Some(Resolved {
            committer,
            adds,
            removes,
            proposals,
            proposal_times,
            external: false,
        }))
    }

    /// A commit of the warm-up: resolved, made (with simulated crypto), observed by the
    /// delivery service, applied and checked like any other, but neither measured nor
    /// recorded; there are no receivers yet.
    fn warm_up(&mut self, c: &PlannedCommit) -> Result<()> {
        let Some(resolved) = self.resolve(c)? else {
            return Ok(());
        };
        let crypto = Crypto {
            real: false,
            join_due: false,
        };
        let proposals = self.send_proposals(c.time, &resolved, crypto)?;
        let made = self.make_commit(c, resolved, proposals, crypto)?;
        self.observe(&made)?;
        let placed = self.apply_membership(&made)?;
        self.check_seals(&made, &placed)?;
        self.totals.warmup_commits += 1;
        Ok(())
    }

    /// Phase 1a: real or simulated crypto. Owns the choice of the commits made with real
    /// crypto (every one in full mode; in fast mode those due by the per-kind schedule and
    /// those a sampled join joins from) and switches the carrier, the receivers and the
    /// delivery service's observer to it.
    fn choose_crypto(&mut self, time: f64, r: &Resolved) -> Crypto {
        let kind = r.kind();
        let join_due = !r.adds.is_empty()
            && time >= self.next_join_sample
            && self.totals.joins_sampled < self.opts.joiners as u64;
        let scheduled = time >= self.next_real[kind];
        if self.fast && scheduled {
            self.next_real[kind] = time + self.real_every;
        }
        let real = !self.fast || join_due || scheduled;
        self.set_crypto(real);
        Crypto { real, join_due }
    }

    /// Switch the carrier, every receiver and the observer to real or simulated crypto.
    fn set_crypto(&mut self, real: bool) {
        if let Some(c) = self.carrier.as_mut() {
            c.set_simulated_crypto(!real);
        }
        self.observer.set_simulated_crypto(!real);
        for r in &mut self.receivers {
            r.group.set_simulated_crypto(!real);
        }
    }

    /// Phase 1b: the Update proposals the commit will include. Owns sending them: each
    /// proposer (the carrier handed to it) creates its proposal, whose new leaf key goes to
    /// the key store once committed, the delivery service checks it, and every sampled
    /// receiver but the proposer processes it (counted, to extrapolate every member's
    /// processing).
    fn send_proposals(&mut self, time: f64, r: &Resolved, crypto: Crypto) -> Result<Proposals> {
        let kind = r.kind();
        let mut out = Proposals::default();
        let mut process_n = 0u32;
        let mut process_work = Work::new();
        let mut process_cpu = 0u64;
        let mut received = Vec::new();
        for (&p, &sent) in r.proposals.iter().zip(&r.proposal_times) {
            // The handover is the simulation's, not the proposer's work: counted after it.
            self.become_member(p)?;
            let before = counters::snapshot();
            let cpu0 = process_cpu_ns();
            let group = self.carrier.as_mut().expect("carrier present");
            let bytes = group
                .propose_update(Protection::Public)
                .with_context(|| format!("Update proposal by {p:?} at t={time:.0}s"))?;
            let reference = group
                .pending_proposals()
                .last()
                .ok_or_else(|| anyhow!("internal: the proposal was not cached"))?
                .to_vec();
            let key = group
                .pending_update_key(&reference)
                .ok_or_else(|| anyhow!("internal: no key for the Update proposal"))?
                .clone();
            let create_cpu_ns = process_cpu_ns().saturating_sub(cpu0);
            let mut create_work = Work::new();
            add_counts(&mut create_work, &(counters::snapshot() - before), 1.0);
            out.create_cpu_ns += create_cpu_ns;
            add_work(&mut out.create_work, &create_work, 1.0);
            let create_ns = self.cpu_ns(kind, CREATE, crypto, create_cpu_ns, &create_work);
            if let Some(acc) = self.device.receiver(p) {
                acc.send(bytes.len() as u64, &create_work, create_ns);
            }
            // The delivery service checks the proposal before fanning it out.
            let before = counters::snapshot();
            let cpu0 = process_cpu_ns();
            let outcome = self
                .observer
                .process(&bytes)
                .with_context(|| format!("the delivery service processing {p:?}'s proposal"))?;
            out.ds_cpu_ns += process_cpu_ns().saturating_sub(cpu0);
            add_counts(&mut out.ds_work, &(counters::snapshot() - before), 1.0);
            ensure!(
                matches!(outcome, ProcessOutcome::Proposal { .. }),
                "the delivery service did not cache {p:?}'s proposal"
            );
            // A sampled proposer continues as the state that proposed (it alone holds the new
            // key), having received the proposals sent before its own. Its own copy does not
            // propose: copies share the carrier's seeded randomness, and would draw the keys
            // the carrier draws later.
            if let Some(i) = self.receivers.iter().position(|x| x.member == p) {
                let mut group = self.carrier.as_ref().expect("carrier present").clone();
                for (q, earlier, _) in &out.messages {
                    group
                        .process(earlier)
                        .with_context(|| format!("proposer {p:?} processing {q:?}'s proposal"))?;
                }
                self.receivers[i].group = group;
            }
            for x in self.receivers.iter_mut().filter(|x| x.member != p) {
                let before = counters::snapshot();
                let cpu0 = process_cpu_ns();
                let outcome = x.group.process(&bytes).with_context(|| {
                    format!("receiver {:?} processing {p:?}'s proposal", x.member)
                })?;
                let cpu = process_cpu_ns().saturating_sub(cpu0);
                let work = counters::snapshot() - before;
                process_cpu += cpu;
                add_counts(&mut process_work, &work, 1.0);
                process_n += 1;
                received.push((x.member, work, cpu));
                ensure!(
                    matches!(outcome, ProcessOutcome::Proposal { .. }),
                    "receiver {:?}: {p:?}'s proposal was not cached",
                    x.member
                );
            }
            for (m, work, cpu) in received.drain(..) {
                let ns = self.cpu_ns(kind, PROCESS, crypto, cpu, &counts_work(&work));
                if let Some(acc) = self.device.receiver(m) {
                    acc.receive(bytes.len() as u64, &work, ns as u64);
                }
            }
            out.bytes += bytes.len() as u64;
            out.messages.push((p, bytes, key));
            out.times.push(sent);
        }
        if process_n > 0 {
            let n = f64::from(process_n);
            crate::costs::add_work(&mut out.process_work, &process_work, 1.0 / n);
            out.process_cpu_ns = process_cpu as f64 / n;
        }
        Ok(out)
    }

    /// Phase 2: the commit itself. Owns handing the carrier to the committer, the KeyPackages
    /// of the joiners, the leaves the Adds will take, and the one timed call,
    /// `Group::commit`, with the primitive counters read around it.
    fn make_commit(
        &mut self,
        c: &PlannedCommit,
        r: Resolved,
        proposals: Proposals,
        crypto: Crypto,
    ) -> Result<Made> {
        if r.external {
            return self.make_external_join(c, r, crypto);
        }
        self.become_member(r.committer)?;
        // The committer has received the proposals (its copy of the carrier has not).
        for (p, bytes, _) in &proposals.messages {
            let outcome = self
                .carrier
                .as_mut()
                .expect("carrier present")
                .process(bytes)
                .with_context(|| format!("the committer processing {p:?}'s proposal"))?;
            ensure!(
                matches!(outcome, ProcessOutcome::Proposal { .. }),
                "the committer did not cache {p:?}'s proposal"
            );
        }
        let committer_leaf = self.leaf_of[&r.committer];
        let members_before = self.leaf_of.len() as u64;
        let is_update = r.is_update();
        let kind = r.kind();
        let offline_before = self.offline_present;
        let offline_adds = r.adds.iter().filter(|&&m| !self.is_online(m)).count() as u64;
        let online_before = self.device.online;
        self.device.advance(c.time, members_before, online_before);

        // Key packages and the leaves the Adds will take (RFC 9420 §12.1.1: leftmost blank
        // leaf after the Removes, else extend the tree).
        let kps: Vec<(KeyPackage, KeyPackageSecrets)> = r
            .adds
            .iter()
            .map(|&m| self.key_package(m))
            .collect::<Result<_>>()?;
        let remove_leaves: Vec<LeafIndex> = r.removes.iter().map(|m| self.leaf_of[m]).collect();
        let n_leaves = self.tree().n_leaves();
        let predicted =
            predict_add_leaves(&self.blank_leaves, &remove_leaves, n_leaves, r.adds.len());

        let options = CommitOptions::new()
            .adds(kps.iter().map(|(kp, _)| kp.clone()))
            .removes(remove_leaves.clone())
            .path(if is_update || self.w.path_on_add {
                PathPolicy::Always
            } else {
                PathPolicy::WhenRequired
            })
            .ratchet_tree(if self.w.ratchet_tree_in_welcome {
                TreeDelivery::Included
            } else {
                TreeDelivery::OutOfBand
            });
        let before = counters::snapshot();
        let cpu0 = process_cpu_ns();
        let t0 = Instant::now();
        let out = self
            .carrier
            .as_mut()
            .expect("carrier present")
            .commit(&options)
            .with_context(|| format!("commit by {:?} at t={:.0}s", r.committer, c.time))?;
        let create = t0.elapsed();
        let create_cpu_ns = process_cpu_ns().saturating_sub(cpu0);
        let primitive = counters::snapshot() - before;
        Ok(Made {
            external: None,
            time: c.time,
            is_update,
            kind,
            crypto,
            committer: r.committer,
            committer_leaf,
            members_before,
            offline_before,
            offline_adds,
            online_before,
            n_leaves_before: n_leaves,
            // Removes and Updates require a path (RFC 9420 §12.4).
            has_path: (options.path == PathPolicy::Always)
                || !r.removes.is_empty()
                || !proposals.messages.is_empty(),
            proposals,
            adds: r.adds,
            removes: r.removes,
            remove_leaves,
            predicted,
            kps,
            out,
            create,
            create_cpu_ns,
            primitive,
        })
    }

    /// Phase 2b: the delivery service. Owns the observer of the public state: it processes
    /// the commit (timed, counted; with the commit's crypto, real or simulated), and its tree
    /// hash and epoch must then equal the committer's.
    fn observe(&mut self, made: &Made) -> Result<Observed> {
        let before = counters::snapshot();
        let cpu0 = process_cpu_ns();
        let t0 = Instant::now();
        let outcome = self
            .observer
            .process(&made.out.commit)
            .with_context(|| format!("the delivery service processing t={:.0}s", made.time))?;
        let wall = t0.elapsed();
        let cpu_ns = process_cpu_ns().saturating_sub(cpu0);
        let counts = counters::snapshot() - before;
        let carrier = self.carrier.as_ref().expect("carrier present");
        ensure!(
            matches!(outcome, ProcessOutcome::Committed { .. })
                && self.observer.epoch() == carrier.epoch()
                && self.observer.tree_hash() == carrier.context().tree_hash.as_slice(),
            "the delivery service disagrees with the committer at t={:.0}s: epoch {} vs {}",
            made.time,
            self.observer.epoch(),
            carrier.epoch()
        );
        self.totals.ds_checks += 1;
        Ok(Observed {
            work: counts_work(&counts),
            cpu_ns,
            wall_ns: wall.as_nanos() as u64,
        })
    }

    /// Phase 2 of an external join: the new device joins by external commit (RFC 9420
    /// §12.4.3.2) from this epoch's GroupInfo, exported by the member holding the state
    /// (with the tree, or with the tree out of band when Welcomes do not carry it), and its
    /// new state takes over. `Group::join_external` (tree validation, the external commit) is
    /// the one timed call, with the counters read around it: the joiner's work is the
    /// committer's.
    fn make_external_join(
        &mut self,
        c: &PlannedCommit,
        r: Resolved,
        crypto: Crypto,
    ) -> Result<Made> {
        let m = r.committer;
        let carrier = self.carrier.as_ref().expect("carrier present");
        let delivery = if self.w.ratchet_tree_in_welcome {
            TreeDelivery::Included
        } else {
            TreeDelivery::OutOfBand
        };
        let group_info = carrier.group_info(delivery)?;
        let tree = match delivery {
            TreeDelivery::Included => None,
            TreeDelivery::OutOfBand => Some(carrier.ratchet_tree_bytes()?),
        };
        let members_before = self.leaf_of.len() as u64;
        let n_leaves_before = carrier.tree().n_leaves();
        let offline_before = self.offline_present;
        let offline_adds = u64::from(!self.is_online(m));
        let online_before = self.device.online;
        self.device.advance(c.time, members_before, online_before);
        // The device's own signing key and randomness, from the seed and its identity (a
        // shared stream would give every external joiner the same path keys).
        let seed = key_package_seed(self.w.seed, m);
        let signer = self
            .provider
            .derive_signature_key_pair(
                self.provider
                    .extract(b"canopy plan external joiner", &seed)
                    .as_bytes(),
            )?
            .0;
        let randomness = Randomness::Seeded(
            self.provider
                .extract(b"canopy plan external joiner randomness", &seed),
        );
        let options = ExternalJoinOptions::new(identity(m), signer.clone())
            .ratchet_tree(tree.as_deref())
            .config(GroupConfig {
                randomness,
                ..self.config.clone()
            });
        let provider = self.provider.with_simulated_crypto(!crypto.real);
        let before = counters::snapshot();
        let cpu0 = process_cpu_ns();
        let t0 = Instant::now();
        let (group, commit) = Group::join_external(provider, &group_info, options)
            .with_context(|| format!("external join of {m:?} at t={:.0}s", c.time))?;
        let create = t0.elapsed();
        let create_cpu_ns = process_cpu_ns().saturating_sub(cpu0);
        let primitive = counters::snapshot() - before;
        let committer_leaf = group.own_leaf();
        self.carrier = Some(group);
        self.signers.insert(m, signer);
        Ok(Made {
            external: Some(ExternalJoin {
                group_info_bytes: group_info.len() as u64,
                tree_bytes: tree.map_or(0, |t| t.len() as u64),
            }),
            time: c.time,
            is_update: false,
            kind: EXTERNAL_JOIN,
            crypto,
            committer: m,
            committer_leaf,
            members_before,
            offline_before,
            offline_adds,
            online_before,
            n_leaves_before,
            has_path: true,
            proposals: Proposals::default(),
            adds: Vec::new(),
            removes: Vec::new(),
            remove_leaves: Vec::new(),
            predicted: Vec::new(),
            kps: Vec::new(),
            out: CommitOutput {
                commit,
                welcome: None,
                counts: Default::default(),
                omitted: Vec::new(),
            },
            create,
            create_cpu_ns,
            primitive,
        })
    }

    /// Phase 3: the membership after the commit. Owns the leaf maps, the blank leaves and the
    /// key store: removed devices leave, added devices take their leaves (with their
    /// KeyPackage keys), and a commit with a path stores the committer's new keys. Returns
    /// the leaves the Adds took, in the order of the Adds.
    fn apply_membership(&mut self, made: &Made) -> Result<Vec<LeafIndex>> {
        self.offline_present = self.offline_present + made.offline_adds
            - made.removes.iter().filter(|&&m| !self.is_online(m)).count() as u64;
        for (m, l) in made.removes.iter().zip(&made.remove_leaves) {
            if self.is_online(*m) {
                self.device.online -= 1;
            }
            self.leaf_of.remove(m);
            self.member_at.remove(l);
            self.initial.remove(m);
            self.blank_leaves.insert(l.0);
        }
        let mut placed = Vec::with_capacity(made.adds.len());
        {
            let tree = self.carrier.as_ref().expect("carrier present").tree();
            for ((m, (kp, secrets)), &predicted) in
                made.adds.iter().zip(&made.kps).zip(&made.predicted)
            {
                // The prediction misses only when the Removes truncated the tree; then look.
                let encoded = codec::encode(&kp.leaf_node)?;
                let slot = if tree.leaf(predicted).is_some_and(|l| l.body() == encoded) {
                    predicted
                } else {
                    tree.leaves()
                        .find(|(_, l)| l.body() == encoded)
                        .map(|(i, _)| i)
                        .ok_or_else(|| anyhow!("internal: {m:?} is not in the tree"))?
                };
                placed.push(slot);
                if !self
                    .offline
                    .get(m.person as usize)
                    .copied()
                    .unwrap_or(false)
                {
                    self.device.online += 1;
                }
                self.blank_leaves.remove(&slot.0);
                self.leaf_of.insert(*m, slot);
                self.member_at.insert(slot, *m);
                self.written.insert(slot.node(), secrets.leaf_key.clone());
                self.signers.insert(*m, secrets.signer.clone());
            }
        }
        if made.external.is_some() {
            let leaf = made.committer_leaf;
            if self.is_online(made.committer) {
                self.device.online += 1;
            }
            self.blank_leaves.remove(&leaf.0);
            self.leaf_of.insert(made.committer, leaf);
            self.member_at.insert(leaf, made.committer);
        }
        // Committed Updates: each proposer's leaf now holds the key it proposed.
        for (p, _, key) in &made.proposals.messages {
            self.written.insert(self.leaf_of[p].node(), key.clone());
        }
        let carrier = self.carrier.as_ref().expect("carrier present");
        let private = carrier.private();
        if made.has_path {
            self.written
                .insert(made.committer_leaf.node(), private.leaf_key().clone());
            for x in private.path_nodes() {
                if let Some(k) = private.private_key(x) {
                    self.written.insert(x, k.clone());
                }
            }
        }
        let changed = made
            .remove_leaves
            .iter()
            .chain(&placed)
            .copied()
            .chain([made.committer_leaf])
            .chain(
                made.proposals
                    .messages
                    .iter()
                    .map(|(p, _, _)| self.leaf_of[p]),
            );
        self.blanks.update(carrier.tree(), changed);
        debug_assert_eq!(
            self.blanks.fraction().to_bits(),
            blank_fraction(carrier.tree()).to_bits(),
            "the kept blank fraction is the recounted one"
        );
        // The tree may have grown (new blank leaves past the old end) or been truncated.
        let n_now = carrier.tree().n_leaves();
        self.blank_leaves.retain(|&l| l < n_now);
        for l in made.n_leaves_before..n_now {
            if carrier.tree().leaf(LeafIndex(l)).is_none() {
                self.blank_leaves.insert(l);
            }
        }
        Ok(placed)
    }

    /// Phase 4: the seal check. Owns recomputing the commit's seals and resolution sizes from
    /// the tree ([`independent_counts`]), requiring them to equal the engine's counts and the
    /// X25519 counter, and the seal and resolution histograms. Returns the seals.
    fn check_seals(&mut self, made: &Made, placed: &[LeafIndex]) -> Result<u64> {
        let carrier = self.carrier.as_ref().expect("carrier present");
        let (path_nodes, sizes) = if made.has_path {
            counts_with(
                carrier.tree(),
                made.committer_leaf,
                placed,
                Some(&self.blanks.occupied),
            )
        } else {
            (0, Vec::new())
        };
        let seals = sizes.iter().sum::<u64>() + made.adds.len() as u64;
        let kem = self.provider.kem();
        let encapsulations = made.primitive.encapsulations(kem);
        if made.external.is_some() {
            // `join_external` reports no OpCounts; its encapsulations are the seals and the
            // ExternalInit's KEM.
            ensure!(
                encapsulations == seals + 1,
                "seal count check failed at t={:.0}s: {encapsulations} {} encapsulations, \
                 {seals} seals and the external init",
                made.time,
                kem.name(),
            );
            self.totals.seal_checks += 1;
            for &s in &sizes {
                rec(&mut self.h_resolution, s.max(1))?;
            }
            rec(&mut self.h_seals, seals.max(1))?;
            return Ok(seals);
        }
        ensure!(
            made.out.counts.hpke_seals == seals && made.out.counts.path_nodes == path_nodes,
            "seal count check failed at t={:.0}s: engine {:?}, tree {seals} seals over \
             {path_nodes} path nodes",
            made.time,
            made.out.counts,
        );
        ensure!(
            encapsulations == seals,
            "seal count check failed at t={:.0}s: {encapsulations} {} encapsulations, {seals} \
             seals",
            made.time,
            kem.name(),
        );
        self.totals.seal_checks += 1;
        for &s in &sizes {
            rec(&mut self.h_resolution, s.max(1))?;
        }
        rec(&mut self.h_seals, seals.max(1))?;
        Ok(seals)
    }

    /// Phase 5: the messages. Owns the size histograms (commit, GroupInfo, Welcome with and
    /// without the tree) and the delivery service's fan-out: the commit to every other member,
    /// each Welcome to each joiner, and the tree to each joiner when Welcomes do not carry it.
    ///
    /// Every size is an encoding by the engine's codec of the message itself: the GroupInfo a
    /// Welcome of this epoch carries (RFC 9420 §12.4.3.1: the new epoch's context, the
    /// commit's confirmation tag, signed by the committer), with and without the
    /// `ratchet_tree` extension, and the commit's real Welcome with its encrypted GroupInfo
    /// swapped for one of the other variant's length. On a commit with a Welcome the real
    /// encrypted GroupInfo must be the matching GroupInfo plus the engine's AEAD expansion.
    fn measure_messages(&mut self, made: &Made) -> Result<Messages> {
        let carrier = self.carrier.as_ref().expect("carrier present");
        let commit_bytes = made.out.commit.len() as u64;
        rec(&mut self.h_commit_bytes, commit_bytes)?;
        let auth = match codec::decode::<MlsMessage>(&made.out.commit)?.body {
            MlsMessageBody::PublicMessage(m) => m.auth,
            _ => bail!("internal: the commit is not a PublicMessage"),
        };
        let group_info = GroupInfo {
            group_context: carrier.context().clone(),
            extensions: Vec::new(),
            confirmation_tag: auth
                .confirmation_tag
                .ok_or_else(|| anyhow!("internal: a commit without a confirmation tag"))?,
            signer: made.committer_leaf.0,
            // The committer's signature on the commit: the same key and scheme sign the
            // GroupInfo, so the same length; the value does not change the size.
            signature: auth.signature,
        };
        let group_info_bytes = group_info.tls_serialized_len();
        rec(&mut self.h_gi, group_info_bytes as u64)?;
        let epoch_authenticator = carrier.epoch_authenticator().as_bytes().to_vec();

        // The commit goes to every member but the committer (the Update proposals, to every
        // member but their senders, are counted when they are sent). An external commit goes
        // to every member, and the joiner fetched the GroupInfo (and the tree beside it).
        let (mut fanout, mut joiner_download_bytes) = match &made.external {
            Some(x) => (
                commit_bytes * made.members_before + x.group_info_bytes + x.tree_bytes,
                x.group_info_bytes + x.tree_bytes,
            ),
            None => (commit_bytes * (made.members_before - 1), 0),
        };
        let mut welcome_bytes = 0;
        let mut tree_bytes = 0;
        if let Some(welcome) = &made.out.welcome {
            // The GroupInfo with the `ratchet_tree` extension: its (so far empty) extension
            // vector holds one extension, the type (2 bytes) and the tree as opaque bytes.
            let t = carrier.tree().wire_len();
            let with_tree_bytes = group_info_bytes - vl_len(0) + vl_len(2 + vl_len(t));
            let (carried, other) = if self.w.ratchet_tree_in_welcome {
                (with_tree_bytes, group_info_bytes)
            } else {
                (group_info_bytes, with_tree_bytes)
            };
            let encrypted = welcome_group_info_len(welcome)?;
            debug_assert!(matches!(
                codec::decode::<MlsMessage>(welcome).map(|m| m.body),
                Ok(MlsMessageBody::Welcome(w)) if w.encrypted_group_info.as_slice().len() == encrypted
            ));
            // ECDSA signatures are DER and vary by a few bytes from one signature to the next
            // (an integer's leading zero byte), so the GroupInfo's may differ from the
            // commit's by that much; EdDSA signatures have one length.
            let slack = match self.provider.signature_scheme() {
                SignatureScheme::Ed25519 | SignatureScheme::Ed448 => 0,
                _ => 4,
            };
            ensure!(
                encrypted.abs_diff(carried + self.aead_expansion) <= slack,
                "GroupInfo size check failed: the Welcome's encrypted GroupInfo is {encrypted} \
                 bytes, the encoding {carried} + {} of AEAD expansion",
                self.aead_expansion
            );
            // The other Welcome differs only in its last field, the encrypted GroupInfo.
            let w_len = welcome.len();
            let other_welcome = w_len - vl_len(encrypted) + vl_len(other + self.aead_expansion);
            let (with, without) = if self.w.ratchet_tree_in_welcome {
                (w_len, other_welcome)
            } else {
                (other_welcome, w_len)
            };
            rec(&mut self.h_welcome_tree, with as u64)?;
            rec(&mut self.h_welcome_no_tree, without as u64)?;
            rec(&mut self.h_gi_tree, with_tree_bytes as u64)?;
            fanout += w_len as u64 * made.adds.len() as u64;
            welcome_bytes = w_len as u64;
            tree_bytes = t as u64;
            joiner_download_bytes = w_len as u64;
            if !self.w.ratchet_tree_in_welcome {
                fanout += t as u64 * made.adds.len() as u64;
                joiner_download_bytes += t as u64;
            }
        }
        let key_package_bytes = made
            .kps
            .iter()
            .map(|(kp, _)| key_package_wire_len(kp))
            .sum();
        Ok(Messages {
            commit_bytes,
            fanout,
            welcome_bytes,
            tree_bytes,
            epoch_authenticator,
            joiner_download_bytes,
            key_package_bytes,
        })
    }

    /// Phase 6: the fan-out to the sampled receivers. Owns the receivers: each processes the
    /// commit (timed) and must reach the committer's epoch authenticator; a removed receiver
    /// is replaced by a random online member built from the key store. Returns the mean
    /// processing (latency, CPU time, counts) of this commit, or of the last commit that had
    /// one.
    ///
    /// A commit made with simulated crypto is processed the same way, in turn (the counters
    /// are process-wide, and the per-device view reads each receiver's own counts), but not
    /// timed: its measured CPU time is extrapolated from the real commits of its kind.
    fn deliver(&mut self, made: &Made, messages: &Messages) -> Result<Option<ProcessMean>> {
        let mut process_sum = Duration::ZERO;
        let mut cpu_sum = 0u64;
        let mut work_sum = Work::new();
        let mut process_n = 0u32;
        let mut i = 0;
        while i < self.receivers.len() {
            let r = &mut self.receivers[i];
            if r.member == made.committer {
                // Its own commit: it continues as the committer's state.
                r.group = self.carrier.as_ref().expect("carrier present").clone();
                i += 1;
                continue;
            }
            let before = counters::snapshot();
            let cpu0 = process_cpu_ns();
            let t0 = Instant::now();
            let outcome = r.group.process(&made.out.commit).with_context(|| {
                format!("receiver {:?} processing t={:.0}s", r.member, made.time)
            })?;
            let dt = t0.elapsed();
            let cpu = process_cpu_ns().saturating_sub(cpu0);
            let work = counters::snapshot() - before;
            match outcome {
                ProcessOutcome::Committed { .. } => {
                    ensure!(
                        r.group.epoch_authenticator().as_bytes()
                            == messages.epoch_authenticator.as_slice(),
                        "receiver {:?} disagrees with the committer at t={:.0}s",
                        r.member,
                        made.time
                    );
                    self.totals.receiver_checks += 1;
                    if made.crypto.real {
                        self.process_samples.push(dt.as_nanos() as u64);
                        process_sum += dt;
                    }
                    let cpu =
                        self.cpu_ns(made.kind, PROCESS, made.crypto, cpu, &counts_work(&work));
                    cpu_sum += cpu as u64;
                    add_counts(&mut work_sum, &work, 1.0);
                    process_n += 1;
                    let member = self.receivers[i].member;
                    if let Some(acc) = self.device.receiver(member) {
                        acc.receive(made.out.commit.len() as u64, &work, cpu as u64);
                    }
                    i += 1;
                }
                _ => {
                    // Removed: no longer a member for the whole run.
                    let member = self.receivers[i].member;
                    self.device.receiver_left(member);
                    self.receivers.swap_remove(i);
                    self.totals.receivers_removed += 1;
                }
            }
        }
        self.replace_receivers()?;
        Ok(self.process_mean(process_n, process_sum, cpu_sum, &work_sum))
    }

    /// Replace removed receivers by random online members, built from the key store.
    fn replace_receivers(&mut self) -> Result<()> {
        while self.receivers.len() < self.opts.receivers {
            let exclude: Vec<MemberId> = self.receivers.iter().map(|r| r.member).collect();
            let Some(m) = self.random_online(&exclude) else {
                break;
            };
            let (private, signer) = self.member_keys(m)?;
            let group = self
                .carrier
                .as_ref()
                .expect("carrier present")
                .clone()
                .into_member(private, signer)?;
            self.receivers.push(Receiver { member: m, group });
        }
        Ok(())
    }

    /// The mean processing of a commit by the `process_n` receivers that processed it, or the
    /// last commit's when none did.
    fn process_mean(
        &mut self,
        process_n: u32,
        process_sum: Duration,
        cpu_sum: u64,
        work_sum: &Work,
    ) -> Option<ProcessMean> {
        if process_n > 0 {
            let n = f64::from(process_n);
            let mut work = Work::new();
            crate::costs::add_work(&mut work, work_sum, 1.0 / n);
            let m = ProcessMean {
                wall_s: process_sum.as_secs_f64() / n,
                cpu_ns: cpu_sum as f64 / n,
                work,
            };
            self.last_process = Some(m.clone());
            Some(m)
        } else {
            self.totals.commits_without_sample += 1;
            self.last_process.clone()
        }
    }

    /// Phase 7: the sampled join. Owns the join histogram: when a sample is due (joins are
    /// spread evenly over the simulated time), one random joiner of a commit with Adds joins
    /// from the real Welcome (timed) and must reach the committer's epoch authenticator.
    fn sample_join(&mut self, made: &Made, messages: &Messages) -> Result<()> {
        let (Some(welcome), true) = (&made.out.welcome, made.crypto.join_due) else {
            return Ok(());
        };
        self.next_join_sample = made.time + self.join_sample_every;
        let pick = self.rng.random_range(0..made.adds.len());
        let (kp, secrets) = &made.kps[pick];
        let tree = if self.w.ratchet_tree_in_welcome {
            None
        } else {
            Some(self.tree().wire_bytes()?)
        };
        let before = counters::snapshot();
        let cpu0 = process_cpu_ns();
        let t0 = Instant::now();
        let g = Group::join(
            self.provider,
            welcome,
            kp,
            secrets,
            JoinOptions::from(self.config.clone()).ratchet_tree(tree.as_deref()),
        )
        .with_context(|| format!("sampled join of {:?}", made.adds[pick]))?;
        let dt = t0.elapsed();
        self.join_cpu_ns += process_cpu_ns().saturating_sub(cpu0);
        add_counts(&mut self.join_work, &(counters::snapshot() - before), 1.0);
        ensure!(
            g.epoch_authenticator().as_bytes() == messages.epoch_authenticator.as_slice(),
            "joiner {:?} disagrees with the committer",
            made.adds[pick]
        );
        rec(&mut self.h_join, dt.as_nanos() as u64)?;
        self.totals.joins_sampled += 1;
        Ok(())
    }

    /// Phase 8: the record. Owns the creation-time histograms, the tree's health (blank
    /// fraction), the day's accounting (commits, membership, the work of the committer, of
    /// every member that processes the commit and of the delivery service, priced and
    /// measured, fan-out, seals, bytes), the work by commit kind, the run's totals and the
    /// per-commit series.
    fn record(
        &mut self,
        made: &Made,
        seals: u64,
        messages: &Messages,
        process: Option<ProcessMean>,
        ds: &Observed,
    ) -> Result<()> {
        let profile = &self.opts.profile.profile;
        let committer_work = counts_work(&made.primitive);
        let process_work = process.as_ref().map(|p| p.work.clone()).unwrap_or_default();
        let create_cost_ns = profile.ns(&committer_work);
        let process_cost_ns = profile.ns(&process_work);
        let ds_cost_ns = profile.ns(&ds.work);
        // Measured CPU time: a real commit's as measured; a simulated one's extrapolated from
        // the real commits of its kind (its cost × their measured / cost).
        let m = &mut self.measured[made.kind];
        if made.crypto.real {
            let process_cpu_ns = process.as_ref().map_or(0.0, |p| p.cpu_ns);
            for (slot, cpu_ns, cost_ns) in [
                (CREATE, made.create_cpu_ns as f64, create_cost_ns),
                (PROCESS, process_cpu_ns, process_cost_ns),
                (DS, ds.cpu_ns as f64, ds_cost_ns),
            ] {
                m[slot].cpu_ns += cpu_ns;
                m[slot].cost_ns += cost_ns;
            }
        }
        let crypto = made.crypto;
        let proposals = &made.proposals;
        let cpu = CommitCpu {
            create_ns: self.cpu_ns(
                made.kind,
                CREATE,
                crypto,
                made.create_cpu_ns,
                &committer_work,
            ),
            process_ns: if crypto.real {
                process.as_ref().map_or(0.0, |p| p.cpu_ns)
            } else {
                process_cost_ns * self.measured[made.kind][PROCESS].ratio()
            },
            proposal_create_ns: self.cpu_ns(
                made.kind,
                CREATE,
                crypto,
                proposals.create_cpu_ns,
                &proposals.create_work,
            ),
            proposal_process_ns: if crypto.real {
                proposals.process_cpu_ns
            } else {
                profile.ns(&proposals.process_work) * self.measured[made.kind][PROCESS].ratio()
            },
            ds_ns: self.cpu_ns(made.kind, DS, crypto, ds.cpu_ns, &ds.work),
            ds_proposals_ns: self.cpu_ns(
                made.kind,
                DS,
                crypto,
                proposals.ds_cpu_ns,
                &proposals.ds_work,
            ),
        };
        let create_cpu_s = cpu.create_ns * 1e-9;
        let process_cpu_s = cpu.process_ns * 1e-9;
        let ds_cpu_s = cpu.ds_ns * 1e-9;
        let ds_proposals_s = cpu.ds_proposals_ns * 1e-9;
        let proposal_create_s = cpu.proposal_create_ns * 1e-9;
        let proposal_process_s = cpu.proposal_process_ns * 1e-9;
        let blank = self.blanks.fraction();
        let members = self.leaf_of.len() as u64;
        let processors = members - 1 - made.adds.len() as u64;
        let create_ns = made.create.as_nanos() as u64;
        if crypto.real {
            // A real commit's latencies stand for the simulated commits of its kind since the
            // kind's previous real one (the rest after the last is added at the end).
            let weight = std::mem::take(&mut self.stands_for[made.kind]) + 1;
            let sample = LatencySample {
                day: self.day_index(made.time),
                create_ns,
                process_ns: std::mem::take(&mut self.process_samples),
                ds_ns: ds.wall_ns,
            };
            self.record_latencies(made.kind, &sample, weight)?;
            self.last_real[made.kind] = Some(sample);
            self.totals.real_commits += 1;
        } else {
            self.stands_for[made.kind] += 1;
        }
        let day = self.day(made.time);
        let added = made.adds.len() as u64 + u64::from(made.external.is_some());
        day.day.commits += 1;
        day.day.adds += added;
        day.day.removes += made.removes.len() as u64;
        day.day.updates += u64::from(made.is_update);
        day.day.members_end = members;
        day.day.blank_fraction_end = blank;
        day.day.blank_fraction_max = day.day.blank_fraction_max.max(blank);
        day.blank_sum += blank;
        day.day
            .roles
            .committer
            .add(&committer_work, 1.0, create_cpu_s, profile);
        day.day
            .roles
            .receivers
            .add(&process_work, processors as f64, process_cpu_s, profile);
        day.joiners += made.adds.len() as u64;
        // The delivery service's work is exact: one observer processed everything.
        day.day
            .roles
            .delivery_service
            .add(&ds.work, 1.0, ds_cpu_s, profile);
        day.day
            .roles
            .delivery_service
            .add(&proposals.ds_work, 1.0, ds_proposals_s, profile);
        // The proposers' work is a sender's work, like the committer's; every member but the
        // proposer processes each proposal.
        let n_proposals = proposals.messages.len() as f64;
        let proposal_processors = n_proposals * (made.members_before - 1) as f64;
        if n_proposals > 0.0 {
            day.day
                .roles
                .committer
                .add(&proposals.create_work, 1.0, proposal_create_s, profile);
            day.day.roles.receivers.add(
                &proposals.process_work,
                proposal_processors,
                proposal_process_s,
                profile,
            );
        }
        day.day.ds_fanout_bytes += messages.fanout;
        day.day.hpke_seals += seals;
        day.day.commit_bytes += messages.commit_bytes;
        self.record_ds(made, messages)?;

        let kind = &mut self.kinds[made.kind];
        kind.commits += 1;
        kind.roles
            .committer
            .add(&committer_work, 1.0, create_cpu_s, profile);
        kind.roles
            .receivers
            .add(&process_work, processors as f64, process_cpu_s, profile);
        if n_proposals > 0.0 {
            kind.roles
                .committer
                .add(&proposals.create_work, 1.0, proposal_create_s, profile);
            kind.roles.receivers.add(
                &proposals.process_work,
                proposal_processors,
                proposal_process_s,
                profile,
            );
        }
        kind.roles
            .delivery_service
            .add(&ds.work, 1.0, ds_cpu_s, profile);
        kind.roles
            .delivery_service
            .add(&proposals.ds_work, 1.0, ds_proposals_s, profile);
        self.kind_joiners[made.kind] += made.adds.len() as u64;
        self.record_device(made, messages, &committer_work, &process_work, &cpu);
        self.totals.update_proposals += made.proposals.messages.len() as u64;
        self.totals.proposal_bytes += made.proposals.bytes;

        self.totals.commits += 1;
        self.totals.update_commits += u64::from(made.is_update);
        self.totals.adds += added;
        self.totals.external_joins += u64::from(made.external.is_some());
        self.totals.removes += made.removes.len() as u64;
        self.totals.hpke_seals += seals;
        // A simulated commit was not timed: its latency and measured columns are 0.
        let real = crypto.real;
        self.series.push(&CommitFigures {
            time: made.time,
            create_ns: if real { create_ns } else { 0 },
            process_mean_s: process.as_ref().map(|p| p.wall_s).filter(|_| real),
            create_cost_ns,
            process_cost_ns,
            create_cpu_ns: if real { made.create_cpu_ns } else { 0 },
            process_cpu_ns: if real { cpu.process_ns } else { 0.0 },
            seals,
            bytes: messages.commit_bytes,
            blank,
            members,
            online: self.device.online,
            proposals: made.proposals.messages.len() as u64,
            proposal_bytes: made.proposals.bytes,
            real,
        });
        Ok(())
    }

    /// Phase 8, the per-device part: what a typical online device receives, sends and
    /// processes with this commit, its backlog for a device that is offline, and the
    /// sampled receivers' own sending. Committers and proposers are online members; every
    /// other online member before the commit receives the commit and each proposal; the
    /// online members after it but the committer and those it added process the commit
    /// (a removed member's processing is not counted, as for the receivers role). A device
    /// joining by external commit is its committer, and was not a member before it.
    fn record_device(
        &mut self,
        made: &Made,
        messages: &Messages,
        committer_work: &Work,
        process_work: &Work,
        cpu: &CommitCpu,
    ) {
        let profile = &self.opts.profile.profile;
        let external = made.external.is_some();
        let online_added = made
            .adds
            .iter()
            .chain(external.then_some(&made.committer))
            .filter(|m| self.is_online(**m))
            .count() as u64;
        let committer_before = u64::from(!external);
        let receivers = made.online_before.saturating_sub(committer_before) as f64;
        let processors = self
            .device
            .online
            .saturating_sub(committer_before + online_added) as f64;
        let commit_bytes = messages.commit_bytes as f64;
        let process_cpu_s = cpu.process_ns * 1e-9;
        let c = self.device.class("commit");
        c.received += receivers;
        c.received_bytes += commit_bytes * receivers;
        c.processing
            .add(process_work, processors, process_cpu_s, profile);
        c.sent += 1.0;
        c.sent_bytes += commit_bytes;
        c.sending
            .add(committer_work, 1.0, cpu.create_ns * 1e-9, profile);

        let proposals = &made.proposals;
        let n_proposals = proposals.messages.len() as f64;
        if n_proposals > 0.0 {
            let p = self.device.class("update_proposal");
            p.received += n_proposals * receivers;
            p.received_bytes += proposals.bytes as f64 * receivers;
            p.processing.add(
                &proposals.process_work,
                n_proposals * receivers,
                cpu.proposal_process_ns * 1e-9,
                profile,
            );
            p.sent += n_proposals;
            p.sent_bytes += proposals.bytes as f64;
            p.sending.add(
                &proposals.create_work,
                1.0,
                cpu.proposal_create_ns * 1e-9,
                profile,
            );
        }
        if messages.welcome_bytes > 0 {
            let w = self.device.class("welcome");
            w.sent += 1.0;
            w.sent_bytes += messages.welcome_bytes as f64;
            let joiners = made.adds.len() as u64;
            self.device.joined(
                joiners,
                (messages.joiner_download_bytes * joiners) as f64,
                messages.key_package_bytes as f64,
            );
        }

        // A device offline through this commit processes it and its proposals on return.
        let mut backlog_work = process_work.clone();
        add_work(&mut backlog_work, &proposals.process_work, n_proposals);
        self.device.backlog(
            made.time,
            1.0 + n_proposals,
            commit_bytes + proposals.bytes as f64,
            backlog_work,
            cpu.process_ns + n_proposals * cpu.proposal_process_ns,
        );

        if let Some(acc) = self.device.receiver(made.committer) {
            acc.send(messages.commit_bytes, committer_work, cpu.create_ns);
            if messages.welcome_bytes > 0 {
                acc.send(messages.welcome_bytes, &Work::new(), 0.0);
            }
        }
    }
}

impl Sim<'_> {
    /// Phase 8b: the delivery service's view of the commit. Owns the DS recorder: each Update
    /// proposal at the time it was sent and the commit, its Welcome and the tree (when
    /// Welcomes do not carry it) now, each to its recipients (long-offline ones held), the
    /// joiners' KeyPackages, the commit's burst, and the membership after it. The proposals'
    /// fan-out goes into the day they were sent; a proposal sent in the warm-up was fanned
    /// out before day 0, which is not recorded. An external commit goes to every member, and
    /// its joiner fetched the GroupInfo (and the tree beside it).
    fn record_ds(&mut self, made: &Made, messages: &Messages) -> Result<()> {
        let others = made.members_before - u64::from(made.external.is_none());
        let offline = made.offline_before;
        for ((_, bytes, _), &sent) in made.proposals.messages.iter().zip(&made.proposals.times) {
            if sent < 0.0 {
                continue;
            }
            let bytes = bytes.len() as u64;
            self.ds.fan_out(sent, bytes, others, offline);
            self.day(sent).day.ds_fanout_bytes += bytes * others;
        }
        self.ds
            .fan_out(made.time, messages.commit_bytes, others, offline);
        if let Some(x) = &made.external {
            self.ds.serve(made.time, x.group_info_bytes, 1);
            if x.tree_bytes > 0 {
                self.ds.serve(made.time, x.tree_bytes, 1);
            }
        }
        let joiners = made.adds.len() as u64;
        if joiners > 0 {
            self.ds.fan_out(
                made.time,
                messages.welcome_bytes,
                joiners,
                made.offline_adds,
            );
            if !self.w.ratchet_tree_in_welcome {
                self.ds.serve(made.time, messages.tree_bytes, joiners);
            }
        }
        // A joining device uploads the KeyPackage its join uses (with a stock of k kept on
        // the DS: the k, then one to replace the one used) and the committer fetches it.
        let k = u64::from(self.w.key_packages_per_device);
        let uploads = if k == 0 { 1 } else { k + 1 };
        for (kp, _) in &made.kps {
            self.ds
                .key_packages(made.time, key_package_wire_len(kp), uploads);
        }
        self.ds.burst(made.kind, messages.fanout)?;
        let members = self.leaf_of.len() as u64;
        self.ds
            .membership(made.time, members, members - self.offline_present);
        Ok(())
    }

    /// Bytes of the KeyPackages kept on the DS for the present devices
    /// (`key_packages_per_device` each; 0 if none are kept). A KeyPackage's size depends on
    /// its identity's length alone, so one real KeyPackage per length sizes them all.
    fn key_package_storage(&mut self) -> Result<u64> {
        let k = u64::from(self.w.key_packages_per_device);
        if k == 0 {
            return Ok(0);
        }
        let mut members: Vec<MemberId> = self.leaf_of.keys().copied().collect();
        members.sort();
        let mut total = 0;
        for m in members {
            let len = identity(m).len();
            let size = match self.key_package_sizes.get(&len) {
                Some(&s) => s,
                None => {
                    let s = key_package_wire_len(&self.key_package(m)?.0);
                    self.key_package_sizes.insert(len, s);
                    s
                }
            };
            total += k * size;
        }
        Ok(total)
    }
}

/// Engine counts as a [`Work`].
fn counts_work(counts: &counters::Counts) -> Work {
    let mut work = Work::new();
    add_counts(&mut work, counts, 1.0);
    work
}

/// The identity in a device's credential.
fn identity(m: MemberId) -> String {
    format!("person-{}-device-{}", m.person, m.device)
}

/// Bytes of a KeyPackage as uploaded: an MLSMessage(KeyPackage).
fn key_package_wire_len(kp: &KeyPackage) -> u64 {
    MlsMessage {
        version: ProtocolVersion::MLS10,
        body: MlsMessageBody::KeyPackage(kp.clone()),
    }
    .tls_serialized_len() as u64
}

/// One application message sent by the carrier's member and received by another member
/// (a sampled receiver, or one built from the start state), on states apart from the run's so
/// the run is unchanged: the exact wire size, and each side's engine counts priced by
/// `profile`. The sender is a second state of the carrier's member built from the start state
/// (a copy of a state may not send in its epoch), the receiver a copy.
fn measure_app_message(sim: &Sim<'_>, profile: &crate::costs::CostProfile) -> Result<AppMessage> {
    let carrier = sim.carrier.as_ref().expect("carrier present");
    let sender = *sim
        .member_at
        .get(&carrier.own_leaf())
        .ok_or_else(|| anyhow!("internal: the carrier is not a member"))?;
    let mut sender_group = sim
        .state
        .member_group(carrier.own_leaf(), sim.config.clone())?;
    let mut receiver = match sim.receivers.iter().find(|r| r.member != sender) {
        Some(r) => r.group.clone(),
        None => {
            let m = sim
                .leaf_of
                .keys()
                .copied()
                .filter(|&m| m != sender)
                .min()
                .ok_or_else(|| anyhow!("internal: no member to receive"))?;
            sim.state
                .member_group(sim.leaf_of[&m], sim.config.clone())?
        }
    };
    let plaintext = vec![0x61; sim.w.app_message_bytes as usize];
    let before = counters::snapshot();
    let bytes = sender_group
        .protect_application(&plaintext)
        .context("encrypting an application message")?;
    let sent = counters::snapshot() - before;
    let before = counters::snapshot();
    let opened = receiver
        .unprotect_application(&bytes)
        .context("decrypting an application message")?;
    let received = counters::snapshot() - before;
    ensure!(
        opened == plaintext,
        "the application message did not decrypt to its plaintext"
    );
    let mut send_counts = Work::new();
    add_counts(&mut send_counts, &sent, 1.0);
    let mut receive_counts = Work::new();
    add_counts(&mut receive_counts, &received, 1.0);
    Ok(AppMessage {
        plaintext_bytes: plaintext.len() as u64,
        wire_bytes: bytes.len() as u64,
        send_cost_ns: profile.ns(&send_counts),
        receive_cost_ns: profile.ns(&receive_counts),
        send_counts,
        receive_counts,
    })
}

/// A planned commit resolved against the membership ([`Sim::resolve`]).
struct Resolved {
    committer: MemberId,
    /// Devices to add (not yet members).
    adds: Vec<MemberId>,
    /// Devices to remove (members).
    removes: Vec<MemberId>,
    /// Devices whose Update proposals the commit includes (members, not the committer).
    proposals: Vec<MemberId>,
    /// When each of them sent its proposal.
    proposal_times: Vec<f64>,
    /// The committer is a new device joining by external commit.
    external: bool,
}

impl Resolved {
    /// An update commit (no Adds or Removes).
    fn is_update(&self) -> bool {
        !self.external && self.adds.is_empty() && self.removes.is_empty()
    }

    /// Its index in [`COMMIT_KINDS`].
    fn kind(&self) -> usize {
        if self.external {
            return EXTERNAL_JOIN;
        }
        commit_kind(
            self.is_update(),
            !self.adds.is_empty(),
            !self.removes.is_empty(),
        )
    }
}

/// The Update proposals of a commit ([`Sim::send_proposals`]).
#[derive(Default)]
struct Proposals {
    /// Proposer, the proposal as sent, and the leaf key it proposes.
    messages: Vec<(MemberId, Vec<u8>, HpkePrivateKey)>,
    /// When each was sent (the workload's time of the update).
    times: Vec<f64>,
    /// Their bytes, summed.
    bytes: u64,
    /// The proposers' counts and process CPU time, summed.
    create_work: Work,
    create_cpu_ns: u64,
    /// The sampled receivers' mean processing of one proposal (counts, CPU ns).
    process_work: Work,
    process_cpu_ns: f64,
    /// The delivery service's processing of the proposals (counts, CPU ns), summed.
    ds_work: Work,
    ds_cpu_ns: u64,
}

/// The delivery service's processing of one commit ([`Sim::observe`]).
struct Observed {
    /// Engine counts.
    work: Work,
    /// Process CPU nanoseconds.
    cpu_ns: u64,
    /// Wall-clock nanoseconds.
    wall_ns: u64,
}

/// What an external join publishes to its joiner ([`Sim::make_external_join`]).
struct ExternalJoin {
    /// The GroupInfo message the joiner joins from.
    group_info_bytes: u64,
    /// The tree sent beside it (0 when the GroupInfo carries it).
    tree_bytes: u64,
}

/// A commit as made ([`Sim::make_commit`]): what the later phases read.
struct Made {
    /// An external join's publication (`None` for a member's commit).
    external: Option<ExternalJoin>,
    /// Simulated time (seconds from the start).
    time: f64,
    /// An update commit (no Adds or Removes).
    is_update: bool,
    /// Index in [`COMMIT_KINDS`].
    kind: usize,
    /// Real or simulated crypto.
    crypto: Crypto,
    committer: MemberId,
    committer_leaf: LeafIndex,
    /// Members before the commit.
    members_before: u64,
    /// Of which long offline.
    offline_before: u64,
    /// Devices added that are long offline.
    offline_adds: u64,
    /// Online members (not long offline) before the commit.
    online_before: u64,
    /// Leaves of the tree before the commit.
    n_leaves_before: u32,
    /// Whether the commit carries an UpdatePath.
    has_path: bool,
    adds: Vec<MemberId>,
    removes: Vec<MemberId>,
    /// The leaves of `removes`.
    remove_leaves: Vec<LeafIndex>,
    /// The leaves the Adds are expected to take.
    predicted: Vec<LeafIndex>,
    /// The joiners' KeyPackages and their secrets, in the order of `adds`.
    kps: Vec<(KeyPackage, KeyPackageSecrets)>,
    out: CommitOutput,
    /// Wall-clock time of `Group::commit`.
    create: Duration,
    /// Process CPU time of `Group::commit` (all threads), ns.
    create_cpu_ns: u64,
    /// Primitives counted during `Group::commit`.
    primitive: counters::Counts,
    /// The Update proposals it includes.
    proposals: Proposals,
}

/// The messages of a commit ([`Sim::measure_messages`]).
struct Messages {
    commit_bytes: u64,
    /// Bytes the delivery service sends for this commit: the commit to every other member,
    /// the Welcome to each joiner and the tree to each joiner when Welcomes do not carry it
    /// (the Update proposals it includes were fanned out when sent).
    fanout: u64,
    /// The Welcome's bytes (0 without Adds).
    welcome_bytes: u64,
    /// The encoded tree's bytes after the commit, for commits with a Welcome (0 otherwise).
    tree_bytes: u64,
    /// The committer's epoch authenticator, which receivers and joiners must reach.
    epoch_authenticator: Vec<u8>,
    /// What each joiner downloads: the Welcome, and the tree when the Welcome lacks it.
    joiner_download_bytes: u64,
    /// The joiners' KeyPackages as MLSMessages, summed.
    key_package_bytes: u64,
}

/// Run `workload` (or, with `ops`, a trace's operations on the workload's start state).
pub fn simulate(w: &Workload, trace_ops: Option<&[Op]>, opts: &SimOptions) -> Result<Run> {
    Ok(simulate_to_end(w, trace_ops, opts)?.0)
}

/// [`simulate`], and the group state at the end of the run (the last committer's, or the
/// administrator's if nobody committed): what the delivery service's storage figures encode.
pub fn simulate_to_end(
    w: &Workload,
    trace_ops: Option<&[Op]>,
    opts: &SimOptions,
) -> Result<(Run, Group)> {
    w.validate()?;
    let fast = opts.mode.fast_for(w);
    let wall = Instant::now();
    let mut host = HostInfo::probe(&opts.load);
    let kind = w.state_kind()?;
    // Fixed clock: lifetimes are checked against the start, whatever day the run is on.
    let now = 1_800_000_000 - 1_800_000_000 % 86_400;
    let cfg = StateConfig {
        now,
        suite: w.cipher_suite()?,
        ..StateConfig::new(kind, w.members, w.seed)
    };
    let t0 = Instant::now();
    let state = generate(&cfg).context("generating the start state")?;
    let generation_seconds = t0.elapsed().as_secs_f64();
    let provider = state.provider;
    let seed_secret = Secret::new(
        provider
            .extract(b"canopy plan randomness", &w.seed.to_be_bytes())
            .as_bytes()
            .to_vec(),
    );
    let config = GroupConfig {
        clock: Clock::Fixed(now),
        randomness: Randomness::Seeded(seed_secret),
        ..GroupConfig::default()
    };

    let (ops, offline) = match trace_ops {
        Some(t) => (t.to_vec(), Vec::new()),
        None => w.ops_and_offline()?,
    };
    let commits = plan_workload(w, &ops)?;

    let k = w.devices_per_person;
    let mut leaf_of = HashMap::new();
    let mut member_at = HashMap::new();
    let mut initial = BTreeSet::new();
    for leaf in state.members() {
        let m = MemberId {
            person: leaf.0 / k,
            device: leaf.0 % k,
        };
        leaf_of.insert(m, leaf);
        member_at.insert(leaf, m);
        initial.insert(m);
    }
    let blank_leaves = (0..state.tree.n_leaves())
        .filter(|&l| state.tree.leaf(LeafIndex(l)).is_none())
        .collect();
    let admin = LeafIndex(w.admin);
    let carrier = state
        .member_group(admin, config.clone())
        .context("the administrator's group")?;
    // The delivery service tracks the group from the start state's public part.
    let observer = carrier.public_group().clone();
    let blanks = BlankCount::new(carrier.tree());
    let mut rng_seed = [0u8; 32];
    rng_seed[..8].copy_from_slice(&w.seed.to_be_bytes());
    rng_seed[8..24].copy_from_slice(b"canopy plan sim ");
    let days_n = w.days.ceil().max(1.0) as usize;
    let mut sim = Sim {
        w,
        opts,
        provider,
        aead_expansion: aead_expansion(&provider)?,
        config: config.clone(),
        now,
        state,
        carrier: Some(carrier),
        leaf_of,
        member_at,
        blanks,
        blank_leaves,
        initial,
        written: HashMap::new(),
        signers: HashMap::new(),
        offline,
        receivers: Vec::new(),
        observer,
        rng: ChaCha20Rng::from_seed(rng_seed),
        totals: Totals::default(),
        days: (0..days_n)
            .map(|d| DayAcc {
                day: Day {
                    day: d as u32,
                    ..Day::default()
                },
                create: hist(),
                process: hist(),
                joiners: 0,
                blank_sum: 0.0,
            })
            .collect(),
        h_create: hist(),
        h_process: hist(),
        h_create_kind: std::array::from_fn(|_| hist()),
        h_process_kind: std::array::from_fn(|_| hist()),
        h_join: hist(),
        h_ds: hist(),
        h_commit_bytes: hist(),
        h_welcome_tree: hist(),
        h_welcome_no_tree: hist(),
        h_gi: hist(),
        h_gi_tree: hist(),
        h_seals: hist(),
        h_resolution: hist(),
        series: CommitSeries::default(),
        next_join_sample: 0.0,
        join_sample_every: w.days * DAY / opts.joiners.max(1) as f64,
        last_process: None,
        kinds: Default::default(),
        kind_joiners: [0; KINDS],
        join_work: Work::new(),
        join_cpu_ns: 0,
        ds: Recorder::new(0, 0),
        offline_present: 0,
        key_package_sizes: HashMap::new(),
        device: DeviceAcc::default(),
        fast,
        next_real: [0.0; KINDS],
        real_every: w.days * DAY / opts.real_commits.max(1) as f64,
        measured: Default::default(),
        process_samples: Vec::new(),
        stands_for: [0; KINDS],
        last_real: Default::default(),
    };
    sim.offline_present = sim.leaf_of.keys().filter(|&&m| !sim.is_online(m)).count() as u64;
    let online = sim.leaf_of.keys().filter(|m| sim.is_online(**m)).count() as u64;
    // The warm-up keeps the count of online members (Adds and Removes change it).
    sim.device = DeviceAcc::new(online, []);
    let mut bar = Progress::new(opts.progress, commits.len(), w.days);
    // Warm-up: the commits before day 0, with simulated crypto, applied (the carrier, the
    // delivery service's observer, the membership and the key store follow them) but not
    // recorded. The application message is measured before it, between two states of the
    // start (a state handed over from the carrier cannot send in its epoch).
    let warmup = commits.iter().take_while(|c| c.time < 0.0).count();
    let mut app_message = None;
    if warmup > 0 {
        app_message = Some(measure_app_message(&sim, &opts.profile.profile)?);
        sim.set_crypto(false);
        for (i, c) in commits[..warmup].iter().enumerate() {
            sim.warm_up(c)?;
            bar.tick(i + 1, c.time / DAY);
        }
        sim.totals = Totals {
            warmup_commits: sim.totals.warmup_commits,
            ..Totals::default()
        };
        sim.h_seals = hist();
        sim.h_resolution = hist();
        sim.h_ds = hist();
    }
    let members_start = sim.leaf_of.len() as u64;
    sim.ds = Recorder::new(members_start, members_start - sim.offline_present);

    // Receivers: uniform among online devices (after a warm-up, built from the key store).
    let start_blank = sim.blanks.fraction();
    while sim.receivers.len() < opts.receivers {
        let exclude: Vec<MemberId> = sim.receivers.iter().map(|r| r.member).collect();
        let Some(m) = sim.random_online(&exclude) else {
            break;
        };
        let group = if warmup == 0 {
            sim.state.member_group(sim.leaf_of[&m], config.clone())?
        } else {
            let (private, signer) = sim.member_keys(m)?;
            sim.carrier
                .as_ref()
                .expect("carrier present")
                .clone()
                .into_member(private, signer)?
        };
        sim.receivers.push(Receiver { member: m, group });
    }
    let initial_receivers: Vec<u32> = sim
        .receivers
        .iter()
        .map(|r| sim.leaf_of[&r.member].0)
        .collect();
    // The delivery service's view at the start (before anything is counted: the GroupInfo's
    // signature and the KeyPackages sized here are not the members' work).
    let app_message = match app_message {
        Some(a) => a,
        None => measure_app_message(&sim, &opts.profile.profile)?,
    };
    let mut storage = Storage {
        tree_bytes_start: sim
            .carrier
            .as_ref()
            .expect("carrier present")
            .ratchet_tree_bytes()?
            .len() as u64,
        group_info_bytes_start: sim
            .carrier
            .as_ref()
            .expect("carrier present")
            .group_info(TreeDelivery::Included)?
            .len() as u64,
        key_package_bytes_start: sim.key_package_storage()?,
        ..Storage::default()
    };
    // The per-device view starts at day 0, after the warm-up.
    let online = sim.leaf_of.keys().filter(|m| sim.is_online(**m)).count() as u64;
    sim.device = DeviceAcc::new(online, sim.receivers.iter().map(|r| r.member));

    let end = w.days * DAY;
    // The updates of the run: those planned in it, and those proposed in the warm-up that a
    // commit of the run carries.
    sim.totals.updates = (ops
        .iter()
        .filter(|o| o.kind == OpKind::Update && o.time >= 0.0 && o.time < end)
        .count()
        + commits
            .iter()
            .filter(|c| c.time >= 0.0)
            .flat_map(|c| &c.update_proposals)
            .filter(|p| p.1 < 0.0)
            .count()) as u64;
    sim.totals.updates_pending_end = commits
        .iter()
        .filter(|c| c.time >= end)
        .map(|c| c.update_proposals.len() as u64 + u64::from(c.update.is_some()))
        .sum();
    for (i, c) in commits.iter().enumerate().skip(warmup) {
        if c.time >= end {
            break;
        }
        sim.step(c)?;
        bar.tick(i + 1, c.time / DAY);
    }
    bar.finish();
    // The simulated commits after each kind's last real one.
    for kind in 0..KINDS {
        let weight = sim.stands_for[kind];
        if let (Some(s), true) = (sim.last_real[kind].take(), weight > 0) {
            sim.record_latencies(kind, &s, weight)?;
        }
    }
    storage.key_package_bytes_end = sim.key_package_storage()?;
    // The per-device view's state size reads the carrier, which the run then hands back.
    let state = state_size(&sim)?;
    let mut final_state = sim.carrier.take().expect("carrier present");
    // The last commit may have been simulated: the state handed back is a real member again
    // (its GroupInfo signed, its seals real), whatever the mode of the run.
    final_state.set_simulated_crypto(false);
    storage.tree_bytes_end = final_state.ratchet_tree_bytes()?.len() as u64;
    storage.group_info_bytes_end = final_state.group_info(TreeDelivery::Included)?.len() as u64;
    let ds = std::mem::replace(&mut sim.ds, Recorder::new(0, 0)).finish(
        w,
        &w.arrival_shape()?,
        app_message,
        storage,
    )?;

    // Joins: every joiner's work from the mean sampled join.
    let profile = &opts.profile.profile;
    let joins = sim.totals.joins_sampled;
    let mut join_work = Work::new();
    let mut join_cpu_s = 0.0;
    if joins > 0 {
        crate::costs::add_work(&mut join_work, &sim.join_work, 1.0 / joins as f64);
        join_cpu_s = sim.join_cpu_ns as f64 * 1e-9 / joins as f64;
    }
    // One join, for the per-device view.
    let mut join = RoleCost::default();
    if joins > 0 {
        join.add(&join_work, 1.0, join_cpu_s, profile);
    }
    let device = std::mem::take(&mut sim.device).finish(
        w.days,
        sim.leaf_of.len() as u64,
        profile,
        &opts.catch_up_days,
        join,
        state,
    );
    // Days without commits carry the previous day's membership and tree health.
    let mut prev_members = members_start;
    let mut prev_blank = start_blank;
    let mut days = Vec::with_capacity(days_n);
    for (acc, traffic) in sim.days.into_iter().zip(&ds.days) {
        let mut d = acc.day;
        d.set_ds(traffic);
        if d.commits == 0 {
            d.members_end = prev_members;
            d.blank_fraction_end = prev_blank;
            d.blank_fraction_max = prev_blank;
            d.blank_fraction_mean = prev_blank;
        } else {
            d.blank_fraction_mean = acc.blank_sum / d.commits as f64;
        }
        prev_members = d.members_end;
        prev_blank = d.blank_fraction_end;
        d.roles
            .joiners
            .add(&join_work, acc.joiners as f64, join_cpu_s, profile);
        d.committer_cpu_s = d.roles.committer.cpu_s;
        d.joiners_cpu_s = d.roles.joiners.cpu_s;
        d.ds_cpu_s = d.roles.delivery_service.cpu_s;
        d.member_cpu_s = d.roles.cpu_s();
        d.measured_member_cpu_s = d.roles.measured_cpu_s();
        d.create_ns = hist_encode(&acc.create)?;
        d.process_ns = hist_encode(&acc.process)?;
        days.push(d);
    }
    let mut totals = sim.totals;
    totals.members_start = members_start;
    totals.members_end = sim.leaf_of.len() as u64;
    totals.blank_fraction_start = start_blank;
    totals.generation_seconds = generation_seconds;
    totals.wall_seconds = wall.elapsed().as_secs_f64();
    let mut histograms = std::collections::BTreeMap::new();
    for (name, h) in [
        ("commit_create_ns", &sim.h_create),
        ("commit_process_ns", &sim.h_process),
        ("join_ns", &sim.h_join),
        ("ds_commit_process_ns", &sim.h_ds),
        ("commit_bytes", &sim.h_commit_bytes),
        ("welcome_with_tree_bytes", &sim.h_welcome_tree),
        ("welcome_without_tree_bytes", &sim.h_welcome_no_tree),
        ("group_info_bytes", &sim.h_gi),
        ("group_info_with_tree_bytes", &sim.h_gi_tree),
        ("hpke_seals_per_commit", &sim.h_seals),
        ("resolution_size", &sim.h_resolution),
    ] {
        histograms.insert(name.to_string(), hist_encode(h)?);
    }
    for (i, kind) in COMMIT_KINDS.iter().enumerate() {
        histograms.insert(
            format!("commit_create_ns.{kind}"),
            hist_encode(&sim.h_create_kind[i])?,
        );
        histograms.insert(
            format!("commit_process_ns.{kind}"),
            hist_encode(&sim.h_process_kind[i])?,
        );
    }
    histograms.extend(ds.histograms);
    let mut kinds = std::collections::BTreeMap::new();
    for (i, name) in COMMIT_KINDS.iter().enumerate() {
        let mut k = std::mem::take(&mut sim.kinds[i]);
        k.roles
            .joiners
            .add(&join_work, sim.kind_joiners[i] as f64, join_cpu_s, profile);
        kinds.insert(name.to_string(), k);
    }
    host.finish(&opts.load);
    let run = Run {
        workload: w.clone(),
        trace: None,
        shard: None,
        point: None,
        sampling: Sampling {
            receivers: opts.receivers as u64,
            initial_receiver_leaves: initial_receivers,
            joiners: opts.joiners as u64,
            method: if fast {
                format!("{METHOD} {FAST_METHOD}")
            } else {
                METHOD.to_string()
            },
            mode: if fast { "fast" } else { "full" }.into(),
            real_commits_per_kind: if fast { opts.real_commits as u64 } else { 0 },
        },
        totals,
        histograms,
        days,
        commits: sim.series,
        host,
        profile: opts.profile.clone(),
        kinds,
        ds: ds.report,
        device: Some(device),
    };
    Ok((run, final_state))
}

/// A member's state at the end of the run, encoded: the ratchet tree, the group context, and
/// the private keys (mean over the sampled receivers, each its own HPKE keys and signature
/// key).
fn state_size(sim: &Sim) -> Result<StateSize> {
    let carrier = sim.carrier.as_ref().expect("carrier present");
    let tree = carrier.ratchet_tree_bytes()?.len() as f64;
    let context = codec::encode(carrier.context())?.len() as f64;
    let mut private = 0.0;
    for r in &sim.receivers {
        let p = r.group.private();
        let hpke: usize = std::iter::once(p.leaf_key())
            .chain(p.path_nodes().filter_map(|x| p.private_key(x)))
            .map(|k| k.as_bytes().len())
            .sum();
        let (_, signer) = sim.member_keys(r.member)?;
        private += (hpke + signer.as_bytes().len()) as f64;
    }
    if !sim.receivers.is_empty() {
        private /= sim.receivers.len() as f64;
    }
    Ok(StateSize::new(tree, context, private))
}

/// A simple progress bar on stderr (redrawn in place on a terminal, every 10% otherwise).
struct Progress {
    on: bool,
    tty: bool,
    total: usize,
    days: f64,
    start: Instant,
    last: Instant,
    last_decile: usize,
}

impl Progress {
    fn new(on: bool, total: usize, days: f64) -> Self {
        Progress {
            on,
            tty: std::io::stderr().is_terminal(),
            total: total.max(1),
            days,
            start: Instant::now(),
            last: Instant::now(),
            last_decile: 0,
        }
    }

    fn tick(&mut self, done: usize, day: f64) {
        if !self.on {
            return;
        }
        let decile = done * 10 / self.total;
        let due = if self.tty {
            self.last.elapsed() >= Duration::from_millis(200) || done == self.total
        } else {
            decile > self.last_decile
        };
        if !due {
            return;
        }
        self.last = Instant::now();
        self.last_decile = decile;
        let frac = done as f64 / self.total as f64;
        let width = 30;
        let filled = (frac * width as f64) as usize;
        let elapsed = self.start.elapsed().as_secs_f64();
        let eta = if frac > 0.0 {
            elapsed / frac - elapsed
        } else {
            0.0
        };
        let line = format!(
            "[{}{}] {:3.0}%  day {:5.1}/{}  commit {}/{}  {:.0}s elapsed, ~{:.0}s left",
            "#".repeat(filled),
            ".".repeat(width - filled),
            frac * 100.0,
            day,
            self.days,
            done,
            self.total,
            elapsed,
            eta
        );
        let mut err = std::io::stderr();
        if self.tty {
            let _ = write!(err, "\r{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    fn finish(&mut self) {
        if self.on && self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use canopy_engine::codec::VLBytes;

    /// The length formula is the codec's, at every boundary of the length's size.
    #[test]
    fn variable_length_vectors_are_sized_like_the_codec() {
        for n in [0, 1, 63, 64, 65, 16383, 16384, 16385, 1 << 20] {
            let encoded = codec::encode(&VLBytes::new(vec![0; n])).unwrap();
            assert_eq!(vl_len(n), encoded.len(), "{n} bytes");
        }
    }

    /// Adds take the leftmost blank leaves, the removed ones among them, then extend.
    #[test]
    fn adds_are_predicted_leftmost_first() {
        let blank: BTreeSet<u32> = [3, 6, 9].into_iter().collect();
        let removed = [LeafIndex(5), LeafIndex(1), LeafIndex(6)];
        let leaves = |n: usize| -> Vec<u32> {
            predict_add_leaves(&blank, &removed, 8, n)
                .into_iter()
                .map(|l| l.0)
                .collect()
        };
        assert_eq!(leaves(0), Vec::<u32>::new());
        assert_eq!(leaves(3), [1, 3, 5]);
        // 9 is past the tree's 8 leaves: the tree grows from 8.
        assert_eq!(leaves(6), [1, 3, 5, 6, 8, 9]);
    }
}
