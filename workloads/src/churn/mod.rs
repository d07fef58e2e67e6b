//! Churn workloads: what happens to a group over simulated days, as a reproducible stream of
//! operations, and the commits a commit policy turns them into.
//!
//! A [`Workload`] is a config (TOML or JSON, [`Workload::from_toml`] / [`Workload::from_json`])
//! with a seed. [`Workload::ops`] turns it into a time-ordered list of [`Op`]s (join, leave,
//! update of one device), [`plan_commits`] groups them into [`PlannedCommit`]s and
//! [`apply_update_policy`] turns updates into Update proposals if the workload says so. All are
//! pure functions of the config: the same config and seed give the same stream on every
//! machine. No engine state is involved (who commits a membership change under the
//! `most_blanks` policy depends on the tree, so the simulator decides that).
//!
//! Models (combine freely in one config):
//! - **steady enterprise churn**: persons join and leave as Poisson processes
//!   (`joins_per_day`, `leaves_per_day`); every online device updates its leaf every
//!   `update_interval_days` (post-compromise security) at a seeded phase;
//! - **onboarding waves** (`[[waves]]`): `persons` joins at `day`, committed together;
//! - **reorganisations** (`[[reorgs]]`): `persons` random members leave at `day`, together;
//! - **multi-device users**: `devices_per_person = k`, a person's k devices join and leave
//!   together (one unit, one commit);
//! - **long-offline members**: `offline_fraction` of the persons never update, so the nodes
//!   their commits would refresh stay as others left them, and they never propose;
//! - **adversarial** (`adversarial = true`): leaves take the initial members in bit-reversed
//!   order of their leaf (spreading the blanked direct paths over every subtree, so
//!   resolutions grow fastest) and nobody updates;
//! - **arrival profiles** (`arrival_profile`, `hourly_weights`, `weekday_weights`): joins,
//!   leaves, updates and application messages follow a daily and weekly shape (an office
//!   week, or explicit weights) with the same weekly totals; see [`arrival`];
//! - **external joins** (`external_join_fraction`): that fraction of the joining devices join
//!   by external commit, each in a commit of its own at the time it joins.
//!
//! A **warm-up** (`warmup_days`) starts the stream that many days before day 0 (operations
//! at negative times), with the same models, rates and arrival profile, so a simulation can
//! age the start state before it records anything.
//!
//! Fields the simulation reads beside the stream (the stream does not depend on them):
//! application messages (`app_messages_per_member_day`, `app_message_bytes`), KeyPackages kept
//! on the delivery service (`key_packages_per_device`) and how long it holds messages for
//! devices that do not fetch them (`ds_retention_days`).
//!
//! A trace (a directory log of a real deployment) replaces the generated stream: see
//! [`crate::trace`].
//!
//! # Internal documentation
//!
//! Initial members are the leaves of the generated start state ([`crate::generate`]): leaf
//! `i` is device `i % k` of person `i / k`. Persons created later get the next ids. Every
//! random choice comes from one ChaCha20 stream seeded by `seed`, consumed in event order.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use anyhow::{bail, ensure, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};

use crate::states::StateKind;

pub mod arrival;
mod builtin;

pub use arrival::{ArrivalProfile, ArrivalShape};
pub use builtin::{builtin, BUILTIN_NAMES};

/// Seconds per simulated day.
pub const DAY: f64 = 86_400.0;

/// When membership changes are committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitPolicy {
    /// Changes accumulate and are committed together at the end of each
    /// `batch_interval_minutes` window.
    Batch,
    /// Every change (a person's join or leave with all its devices, a wave, a reorg) is its
    /// own commit.
    EveryChange,
}

/// Who commits membership changes (and the Update proposals of the `proposal` and `batched`
/// update policies; a self-committed update is committed by the updating member).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitterPolicy {
    /// A fixed administrator device (`admin`, an initial member's leaf).
    Admin,
    /// The online member with the most blank nodes on its direct path (its path commit heals
    /// the most), ties to the lowest leaf.
    MostBlanks,
    /// The member who proposed the (first) change.
    Proposer,
}

/// How a device's leaf update reaches the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdatePolicy {
    /// Each update is its own commit with a path, by the updating member.
    #[default]
    SelfCommit,
    /// The updating member sends an Update proposal (RFC 9420 §12.1.2); the next commit,
    /// whatever it is, includes it by reference. With `update_batch_minutes` > 0, a proposal
    /// waits at most that long: then the committer commits the waiting proposals alone.
    Proposal,
    /// Update proposals are committed together by the committer at the end of each
    /// `update_batch_minutes` window (a membership commit inside the window includes the
    /// proposals waiting so far, since they would not survive its epoch change). With
    /// `update_batch_minutes = 0` every update is committed at once, which is `self_commit`.
    Batched,
}

/// An onboarding wave: `persons` persons join at `day`, in one unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wave {
    /// Simulated day (fractional) of the wave.
    pub day: f64,
    /// Persons joining.
    pub persons: u32,
}

/// A reorganisation: `persons` random present persons leave at `day`, in one unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reorg {
    /// Simulated day (fractional) of the reorganisation.
    pub day: f64,
    /// Persons leaving.
    pub persons: u32,
}

/// A churn workload (see the module documentation for the models).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Workload {
    /// Name used in reports and file names.
    pub name: String,
    /// Seed of every random choice (and of the start state's keys).
    pub seed: u64,
    /// Members (devices) at the start.
    pub members: u32,
    /// Shape of the start state (`populated`, `removes10`, `removes50`, `fresh`, `unmerged`).
    pub initial_state: String,
    /// Devices per person (k): a person's devices join and leave together.
    pub devices_per_person: u32,
    /// Simulated days.
    pub days: f64,
    /// Fraction of persons (initial and joining) that are long offline: they never update
    /// and never propose or commit.
    pub offline_fraction: f64,
    /// Persons joining per day (Poisson process; 0 = none).
    pub joins_per_day: f64,
    /// Persons leaving per day (Poisson process; 0 = none).
    pub leaves_per_day: f64,
    /// Each online device updates its leaf every this many days (0 = never).
    pub update_interval_days: f64,
    /// When membership changes are committed.
    pub commit_policy: CommitPolicy,
    /// Window of the `batch` policy, in minutes.
    pub batch_interval_minutes: f64,
    /// Who commits membership changes (and, under the `proposal` and `batched` update
    /// policies, the Update proposals).
    pub committer: CommitterPolicy,
    /// How leaf updates reach the group.
    pub update_policy: UpdatePolicy,
    /// Longest wait of an Update proposal (`proposal`) or the update window (`batched`), in
    /// minutes; 0 = no bound (`proposal`) or no batching (`batched`).
    pub update_batch_minutes: f64,
    /// Leaf of the administrator device (`admin` policy): an initial, online member.
    pub admin: u32,
    /// Membership commits carry an UpdatePath even when only adding (RFC 9420 §12.4 makes it
    /// optional): the committer's path is refreshed and joiners get path secrets.
    pub path_on_add: bool,
    /// Welcomes carry the ratchet tree (else joiners fetch it out of band).
    pub ratchet_tree_in_welcome: bool,
    /// Onboarding waves.
    pub waves: Vec<Wave>,
    /// Reorganisations.
    pub reorgs: Vec<Reorg>,
    /// Adversarial leave order (see the module documentation) and no updates.
    pub adversarial: bool,
    /// When in the day and week joins, leaves, updates and application messages happen
    /// (`flat`, the default, or `office`); see [`arrival`].
    #[serde(skip_serializing_if = "is_default")]
    pub arrival_profile: ArrivalProfile,
    /// 24 relative weights, one per hour from 00:00, replacing the profile's (empty: the
    /// profile's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hourly_weights: Vec<f64>,
    /// 7 relative weights, one per day from Monday (simulated time 0 is Monday 00:00),
    /// replacing the profile's (empty: the profile's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub weekday_weights: Vec<f64>,
    /// Application messages each online device sends per day (a weekly mean, shaped by the
    /// arrival profile); each goes to every other member. 0 = none.
    #[serde(skip_serializing_if = "is_default")]
    pub app_messages_per_member_day: f64,
    /// Plaintext bytes of one application message.
    #[serde(skip_serializing_if = "is_default_app_message_bytes")]
    pub app_message_bytes: u32,
    /// KeyPackages each device keeps uploaded to the delivery service, replenished when one
    /// is used; 0 = a joining device uploads just the one its join uses.
    #[serde(skip_serializing_if = "is_default")]
    pub key_packages_per_device: u32,
    /// Days the delivery service holds a message for a device that has not fetched it
    /// (long-offline devices never do), after which it is dropped.
    #[serde(skip_serializing_if = "is_default_retention")]
    pub ds_retention_days: f64,
    /// Days of churn before day 0 (the same models, rates and arrival profile), applied to
    /// the start state but not recorded, so that day 0 starts from a tree with the blanks and
    /// unmerged leaves of a long-lived group; 0 = start from the generated state.
    #[serde(skip_serializing_if = "is_default")]
    pub warmup_days: f64,
    /// Fraction of the joining devices that join by external commit (RFC 9420 §12.4.3.2,
    /// from a published GroupInfo, one commit each at the time they join) instead of being
    /// added by a member's commit with a Welcome; 0 = none.
    #[serde(skip_serializing_if = "is_default")]
    pub external_join_fraction: f64,
    /// The group's MLS cipher suite, by code point: 1–7 of RFC 9420, or an experimental
    /// post-quantum suite: 77 (0x004D, X-Wing), 65002 (0xFDEA, ML-KEM-768), 65003 (0xFDEB,
    /// ML-KEM-1024) (see `canopy_engine::crypto::CipherSuite`).
    #[serde(skip_serializing_if = "is_default_suite")]
    pub suite: u16,
}

/// The cipher suite by default: RFC 9420's mandatory one.
pub const DEFAULT_SUITE: u16 = 1;

fn is_default_suite(v: &u16) -> bool {
    *v == DEFAULT_SUITE
}

/// Plaintext size of an application message by default: a short chat message with some
/// metadata.
pub const DEFAULT_APP_MESSAGE_BYTES: u32 = 200;

/// The delivery service's retention by default: a month.
pub const DEFAULT_DS_RETENTION_DAYS: f64 = 30.0;

// The fields added after the first result files are left out of a workload's serialization
// at their defaults, so that a run that does not use them keeps its exact JSON (and its
// sweep point key).
fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn is_default_app_message_bytes(v: &u32) -> bool {
    *v == DEFAULT_APP_MESSAGE_BYTES
}

fn is_default_retention(v: &f64) -> bool {
    *v == DEFAULT_DS_RETENTION_DAYS
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            name: "custom".into(),
            seed: 1,
            members: 1000,
            initial_state: "populated".into(),
            devices_per_person: 1,
            days: 30.0,
            offline_fraction: 0.0,
            joins_per_day: 0.0,
            leaves_per_day: 0.0,
            update_interval_days: 0.0,
            commit_policy: CommitPolicy::Batch,
            batch_interval_minutes: 60.0,
            committer: CommitterPolicy::Proposer,
            update_policy: UpdatePolicy::SelfCommit,
            update_batch_minutes: 0.0,
            admin: 0,
            path_on_add: true,
            ratchet_tree_in_welcome: true,
            waves: Vec::new(),
            reorgs: Vec::new(),
            adversarial: false,
            arrival_profile: ArrivalProfile::Flat,
            hourly_weights: Vec::new(),
            weekday_weights: Vec::new(),
            app_messages_per_member_day: 0.0,
            app_message_bytes: DEFAULT_APP_MESSAGE_BYTES,
            key_packages_per_device: 0,
            ds_retention_days: DEFAULT_DS_RETENTION_DAYS,
            warmup_days: 0.0,
            external_join_fraction: 0.0,
            suite: DEFAULT_SUITE,
        }
    }
}

/// A device: the unit that holds a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MemberId {
    /// The person.
    pub person: u32,
    /// The device of that person (0-based).
    pub device: u32,
}

/// What happens to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// The device joins the group.
    Join,
    /// The device leaves (is removed).
    Leave,
    /// The device refreshes its leaf (how: the workload's [`UpdatePolicy`]).
    Update,
}

/// One operation of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Seconds since the start of the simulation.
    pub time: f64,
    /// What happens.
    pub kind: OpKind,
    /// To whom.
    pub member: MemberId,
    /// Ops with the same nonzero unit are committed together (a person's devices, a wave,
    /// a reorganisation); 0 = on its own.
    pub unit: u64,
    /// The device that proposed the change, if known (generated streams: a random online
    /// member; traces: none).
    pub proposer: Option<MemberId>,
}

/// One commit to make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedCommit {
    /// Seconds since the start.
    pub time: f64,
    /// `Some(m)`: `m` commits its own update (no proposals). Otherwise a membership commit.
    pub update: Option<MemberId>,
    /// Devices to add.
    pub adds: Vec<MemberId>,
    /// Devices to remove.
    pub removes: Vec<MemberId>,
    /// Proposer of the first change, if known.
    pub proposer: Option<MemberId>,
    /// Update proposals this commit includes by reference (the `proposal` and `batched`
    /// update policies), each with the time it was sent, in sending order. A commit with
    /// proposals and no Adds or Removes is an update commit by the committer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub update_proposals: Vec<(MemberId, f64)>,
    /// `Some(m)`: `m` joins by external commit (its own commit, nothing else in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_join: Option<MemberId>,
}

impl Workload {
    /// Parse a TOML config.
    pub fn from_toml(text: &str) -> Result<Self> {
        let w: Workload = toml::from_str(text).context("workload config (TOML)")?;
        w.validate()?;
        Ok(w)
    }

    /// Parse a JSON config.
    pub fn from_json(text: &str) -> Result<Self> {
        let w: Workload = serde_json::from_str(text).context("workload config (JSON)")?;
        w.validate()?;
        Ok(w)
    }

    /// Read a config file: JSON if it ends in `.json`, else TOML.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading workload {}", path.display()))?;
        if path.extension().is_some_and(|e| e == "json") {
            Self::from_json(&text)
        } else {
            Self::from_toml(&text)
        }
        .with_context(|| format!("in {}", path.display()))
    }

    /// The start state's kind.
    pub fn state_kind(&self) -> Result<StateKind> {
        self.initial_state.parse()
    }

    /// The cipher suite.
    pub fn cipher_suite(&self) -> Result<canopy_engine::crypto::CipherSuite> {
        canopy_engine::crypto::CipherSuite::from_u16(self.suite).ok_or_else(|| {
            anyhow::anyhow!(
                "suite: {} is not a cipher suite Canopy implements (1 to 7, 77, 65002 or 65003)",
                self.suite
            )
        })
    }

    /// Check the config for values that cannot be simulated.
    pub fn validate(&self) -> Result<()> {
        self.state_kind()?;
        self.cipher_suite()?;
        ensure!(self.members >= 2, "a workload needs at least 2 members");
        ensure!(
            self.devices_per_person >= 1,
            "devices_per_person must be at least 1"
        );
        ensure!(
            self.members.is_multiple_of(self.devices_per_person),
            "members ({}) must be a multiple of devices_per_person ({})",
            self.members,
            self.devices_per_person
        );
        ensure!(
            self.days.is_finite() && self.days > 0.0 && self.days <= 3650.0,
            "days must be in (0, 3650]"
        );
        ensure!(
            (0.0..1.0).contains(&self.offline_fraction),
            "offline_fraction must be in [0, 1)"
        );
        for (what, v) in [
            ("joins_per_day", self.joins_per_day),
            ("leaves_per_day", self.leaves_per_day),
            ("update_interval_days", self.update_interval_days),
            ("update_batch_minutes", self.update_batch_minutes),
            (
                "app_messages_per_member_day",
                self.app_messages_per_member_day,
            ),
        ] {
            ensure!(v.is_finite() && v >= 0.0, "{what} must be finite and >= 0");
        }
        ensure!(
            self.batch_interval_minutes.is_finite() && self.batch_interval_minutes > 0.0,
            "batch_interval_minutes must be > 0"
        );
        ensure!(
            self.admin < self.members,
            "admin must be an initial member's leaf"
        );
        ensure!(
            self.warmup_days.is_finite() && (0.0..=3650.0).contains(&self.warmup_days),
            "warmup_days must be in [0, 3650]"
        );
        ensure!(
            (0.0..=1.0).contains(&self.external_join_fraction),
            "external_join_fraction must be in [0, 1]"
        );
        for w in &self.waves {
            ensure!(w.day.is_finite() && w.day >= 0.0, "wave day must be >= 0");
        }
        for r in &self.reorgs {
            ensure!(r.day.is_finite() && r.day >= 0.0, "reorg day must be >= 0");
        }
        self.arrival_shape()?;
        ensure!(
            self.ds_retention_days.is_finite()
                && self.ds_retention_days > 0.0
                && self.ds_retention_days <= 3650.0,
            "ds_retention_days must be in (0, 3650]"
        );
        Ok(())
    }

    /// The arrival shape of `arrival_profile`, `hourly_weights` and `weekday_weights`.
    pub fn arrival_shape(&self) -> Result<ArrivalShape> {
        ArrivalShape::new(
            self.arrival_profile,
            &self.hourly_weights,
            &self.weekday_weights,
        )
    }

    /// The operation stream, time-ordered (ties in generation order).
    pub fn ops(&self) -> Result<Vec<Op>> {
        Ok(self.ops_and_offline()?.0)
    }

    /// The operation stream, and for every person (initial and joined) whether it is offline.
    pub fn ops_and_offline(&self) -> Result<(Vec<Op>, Vec<bool>)> {
        self.validate()?;
        Generator::new(self)?.run()
    }
}

/// A pending event of the generator.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Event {
    Join,
    Leave,
    Wave(usize),
    Reorg(usize),
    /// Update of (person, device) scheduled while the person had this incarnation.
    Update(MemberId, u32),
}

#[derive(Debug)]
struct Queued {
    time: f64,
    seq: u64,
    event: Event,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    /// Reversed: the earliest (then first queued) event is the heap's maximum.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .time
            .total_cmp(&self.time)
            .then(other.seq.cmp(&self.seq))
    }
}

struct Generator<'a> {
    w: &'a Workload,
    /// Events are drawn in the shape's mean time and happen at its real time.
    shape: ArrivalShape,
    rng: ChaCha20Rng,
    queue: BinaryHeap<Queued>,
    seq: u64,
    /// Present persons, for uniform choice (swap-remove), and each one's position.
    present: Vec<u32>,
    position: HashMap<u32, usize>,
    /// Present online persons (proposers), same structure.
    online: Vec<u32>,
    online_position: HashMap<u32, usize>,
    offline: Vec<bool>,
    /// Incarnation per person (bumped on leave) to drop stale updates.
    alive: HashMap<u32, u32>,
    next_person: u32,
    next_unit: u64,
    /// Adversarial leave order: initial persons, bit-reversed.
    adversarial_order: Vec<u32>,
    ops: Vec<Op>,
}

fn exp_sample(rng: &mut ChaCha20Rng, rate_per_second: f64) -> f64 {
    // Inverse transform: -ln(U) / rate, U in (0, 1].
    let u: f64 = 1.0 - rng.random::<f64>();
    -u.ln() / rate_per_second
}

fn swap_insert(v: &mut Vec<u32>, pos: &mut HashMap<u32, usize>, p: u32) {
    pos.insert(p, v.len());
    v.push(p);
}

fn swap_remove(v: &mut Vec<u32>, pos: &mut HashMap<u32, usize>, p: u32) {
    if let Some(i) = pos.remove(&p) {
        v.swap_remove(i);
        if let Some(&moved) = v.get(i) {
            pos.insert(moved, i);
        }
    }
}

impl<'a> Generator<'a> {
    fn new(w: &'a Workload) -> Result<Self> {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&w.seed.to_be_bytes());
        seed[8..24].copy_from_slice(b"canopy churn v1 ");
        Ok(Generator {
            w,
            shape: w.arrival_shape()?,
            rng: ChaCha20Rng::from_seed(seed),
            queue: BinaryHeap::new(),
            seq: 0,
            present: Vec::new(),
            position: HashMap::new(),
            online: Vec::new(),
            online_position: HashMap::new(),
            offline: Vec::new(),
            alive: HashMap::new(),
            next_person: 0,
            next_unit: 1,
            adversarial_order: Vec::new(),
            ops: Vec::new(),
        })
    }

    fn push(&mut self, time: f64, event: Event) {
        self.seq += 1;
        self.queue.push(Queued {
            time,
            seq: self.seq,
            event,
        });
    }

    /// The end of the run, in mean time.
    fn end(&self) -> f64 {
        self.shape.to_mean_time(self.w.days * DAY)
    }

    /// When the stream starts, in mean time: day 0, or the start of the warm-up before it.
    fn start(&self) -> f64 {
        self.shape.to_mean_time(-self.w.warmup_days * DAY)
    }

    /// A new person (initial or joining): online or not, present, updates scheduled (`now`
    /// is mean time).
    fn add_person(&mut self, now: f64, initial: bool) -> u32 {
        let p = self.next_person;
        self.next_person += 1;
        let admin_person = self.w.admin / self.w.devices_per_person;
        let offline = !(initial && p == admin_person)
            && self.w.offline_fraction > 0.0
            && self.rng.random::<f64>() < self.w.offline_fraction;
        self.offline.push(offline);
        swap_insert(&mut self.present, &mut self.position, p);
        if !offline {
            swap_insert(&mut self.online, &mut self.online_position, p);
        }
        self.alive.insert(p, 0);
        if !offline && !self.w.adversarial && self.w.update_interval_days > 0.0 {
            let interval = self.w.update_interval_days * DAY;
            for d in 0..self.w.devices_per_person {
                // Initial devices: a uniform phase in the first interval; joiners: one
                // interval after joining, plus the same kind of phase.
                let phase = self.rng.random::<f64>() * interval;
                let first = if initial {
                    self.start() + phase
                } else {
                    now + interval
                };
                self.push(
                    first,
                    Event::Update(
                        MemberId {
                            person: p,
                            device: d,
                        },
                        0,
                    ),
                );
            }
        }
        p
    }

    fn random_online(&mut self, except: Option<u32>) -> Option<MemberId> {
        let candidates = self.online.len()
            - usize::from(except.is_some_and(|e| self.online_position.contains_key(&e)));
        if candidates == 0 {
            return None;
        }
        loop {
            let p = self.online[self.rng.random_range(0..self.online.len())];
            if Some(p) != except {
                let device = self.rng.random_range(0..self.w.devices_per_person);
                return Some(MemberId { person: p, device });
            }
        }
    }

    fn emit_person(
        &mut self,
        time: f64,
        kind: OpKind,
        p: u32,
        unit: u64,
        proposer: Option<MemberId>,
    ) {
        for d in 0..self.w.devices_per_person {
            self.ops.push(Op {
                time,
                kind,
                member: MemberId {
                    person: p,
                    device: d,
                },
                unit,
                proposer,
            });
        }
    }

    fn unit(&mut self) -> u64 {
        let u = self.next_unit;
        self.next_unit += 1;
        u
    }

    /// A person joins at mean time `now`, real time `time`.
    fn join(&mut self, now: f64, time: f64, unit: u64, proposer: Option<MemberId>) {
        let p = self.add_person(now, false);
        self.emit_person(time, OpKind::Join, p, unit, proposer);
    }

    fn leave(&mut self, time: f64, p: u32, unit: u64, proposer: Option<MemberId>) {
        swap_remove(&mut self.present, &mut self.position, p);
        swap_remove(&mut self.online, &mut self.online_position, p);
        if let Some(a) = self.alive.get_mut(&p) {
            *a += 1;
        }
        self.emit_person(time, OpKind::Leave, p, unit, proposer);
    }

    /// The next leaver: uniform among present persons, or the adversarial order. The admin
    /// never leaves.
    fn pick_leaver(&mut self) -> Option<u32> {
        let admin_person = self.w.admin / self.w.devices_per_person;
        if self.w.adversarial {
            while let Some(p) = self.adversarial_order.pop() {
                if p != admin_person && self.position.contains_key(&p) {
                    return Some(p);
                }
            }
        }
        if self.present.len() <= 2 {
            return None;
        }
        loop {
            let p = self.present[self.rng.random_range(0..self.present.len())];
            if p != admin_person {
                return Some(p);
            }
        }
    }

    fn run(mut self) -> Result<(Vec<Op>, Vec<bool>)> {
        let persons = self.w.members / self.w.devices_per_person;
        for _ in 0..persons {
            self.add_person(0.0, true);
        }
        if self.w.adversarial {
            // Bit-reversed order of the initial persons, popped from the back.
            let bits = 32 - persons.saturating_sub(1).leading_zeros();
            let mut order: Vec<u32> = (0..persons).collect();
            order.sort_by_key(|&p| {
                if bits == 0 {
                    0
                } else {
                    p.reverse_bits() >> (32 - bits)
                }
            });
            order.reverse();
            self.adversarial_order = order;
        }
        let end = self.end();
        let start = self.start();
        if self.w.joins_per_day > 0.0 {
            let t = start + exp_sample(&mut self.rng, self.w.joins_per_day / DAY);
            self.push(t, Event::Join);
        }
        if self.w.leaves_per_day > 0.0 {
            let t = start + exp_sample(&mut self.rng, self.w.leaves_per_day / DAY);
            self.push(t, Event::Leave);
        }
        // Waves and reorganisations happen at their day whatever the profile: queued at its
        // mean time, emitted at the day itself.
        for (i, w) in self.w.waves.iter().enumerate() {
            let t = self.shape.to_mean_time(w.day * DAY);
            self.push(t, Event::Wave(i));
        }
        for (i, r) in self.w.reorgs.iter().enumerate() {
            let t = self.shape.to_mean_time(r.day * DAY);
            self.push(t, Event::Reorg(i));
        }
        let real_end = self.w.days * DAY;
        while let Some(Queued { time, event, .. }) = self.queue.pop() {
            // A wave or reorganisation in hours of weight 0 at the end of the run has the
            // end's mean time, but happens before the end.
            let done = match event {
                Event::Wave(i) => self.w.waves[i].day * DAY >= real_end,
                Event::Reorg(i) => self.w.reorgs[i].day * DAY >= real_end,
                _ => time >= end,
            };
            if done {
                continue;
            }
            // `time` is mean time; ops carry the real time.
            let real = self.shape.to_real_time(time);
            match event {
                Event::Join => {
                    let proposer = self.random_online(None);
                    let unit = self.unit();
                    self.join(time, real, unit, proposer);
                    let t = time + exp_sample(&mut self.rng, self.w.joins_per_day / DAY);
                    self.push(t, Event::Join);
                }
                Event::Leave => {
                    if let Some(p) = self.pick_leaver() {
                        let proposer = self.random_online(Some(p));
                        let unit = self.unit();
                        self.leave(real, p, unit, proposer);
                    }
                    let t = time + exp_sample(&mut self.rng, self.w.leaves_per_day / DAY);
                    self.push(t, Event::Leave);
                }
                Event::Wave(i) => {
                    let proposer = self.random_online(None);
                    let unit = self.unit();
                    let day = self.w.waves[i].day * DAY;
                    for _ in 0..self.w.waves[i].persons {
                        self.join(time, day, unit, proposer);
                    }
                }
                Event::Reorg(i) => {
                    let unit = self.unit();
                    let mut leavers = Vec::new();
                    for _ in 0..self.w.reorgs[i].persons {
                        let Some(p) = self.pick_leaver() else { break };
                        // Gone now, so the next pick is among the remaining persons.
                        swap_remove(&mut self.present, &mut self.position, p);
                        swap_remove(&mut self.online, &mut self.online_position, p);
                        if let Some(a) = self.alive.get_mut(&p) {
                            *a += 1;
                        }
                        leavers.push(p);
                    }
                    // The proposer stays (it is drawn among the remaining online persons).
                    let proposer = self.random_online(None);
                    let day = self.w.reorgs[i].day * DAY;
                    for p in leavers {
                        self.emit_person(day, OpKind::Leave, p, unit, proposer);
                    }
                }
                Event::Update(m, incarnation) => {
                    if self.alive.get(&m.person) == Some(&incarnation)
                        && self.position.contains_key(&m.person)
                    {
                        self.ops.push(Op {
                            time: real,
                            kind: OpKind::Update,
                            member: m,
                            unit: 0,
                            proposer: Some(m),
                        });
                        let next = time + self.w.update_interval_days * DAY;
                        self.push(next, Event::Update(m, incarnation));
                    }
                }
            }
        }
        if !self.shape.is_flat() {
            // A wave's exact day and a warped time can be out of order by a rounding error.
            // Stable, so the ops of one unit (one time) stay together and in order.
            self.ops.sort_by(|a, b| a.time.total_cmp(&b.time));
        }
        Ok((self.ops, self.offline))
    }
}

/// Group `ops` (time-ordered) into commits under `policy` (see [`CommitPolicy`]). Updates are
/// always the updating member's own commit. Under `batch`, a leave of a device whose join is
/// still pending in the same window cancels both.
pub fn plan_commits(
    ops: &[Op],
    policy: CommitPolicy,
    batch_interval_minutes: f64,
) -> Result<Vec<PlannedCommit>> {
    let mut out = Vec::new();
    let mut i = 0;
    let window = batch_interval_minutes * 60.0;
    // Batch state: the current window's end and its pending changes (in arrival order).
    let mut pending: BTreeMap<MemberId, (usize, OpKind)> = BTreeMap::new();
    let mut arrival = 0usize;
    let mut pending_proposer: Option<Option<MemberId>> = None;
    // Windows are aligned on day 0; a stream with a warm-up starts before it.
    let mut window_end = match ops.first() {
        Some(o) if o.time < 0.0 => ((o.time / window).floor() + 1.0) * window,
        _ => window,
    };
    let flush = |out: &mut Vec<PlannedCommit>,
                 pending: &mut BTreeMap<MemberId, (usize, OpKind)>,
                 proposer: &mut Option<Option<MemberId>>,
                 time: f64| {
        if pending.is_empty() {
            *proposer = None;
            return;
        }
        let mut items: Vec<(usize, MemberId, OpKind)> =
            pending.iter().map(|(m, &(a, k))| (a, *m, k)).collect();
        items.sort_by_key(|x| x.0);
        out.push(PlannedCommit {
            time,
            update: None,
            adds: items
                .iter()
                .filter(|x| x.2 == OpKind::Join)
                .map(|x| x.1)
                .collect(),
            removes: items
                .iter()
                .filter(|x| x.2 == OpKind::Leave)
                .map(|x| x.1)
                .collect(),
            proposer: proposer.take().flatten(),
            update_proposals: Vec::new(),
            external_join: None,
        });
        pending.clear();
    };
    while i < ops.len() {
        let op = ops[i];
        ensure!(
            i == 0 || ops[i - 1].time <= op.time,
            "ops are not time-ordered at {i}"
        );
        if policy == CommitPolicy::Batch {
            while op.time >= window_end {
                flush(&mut out, &mut pending, &mut pending_proposer, window_end);
                window_end += window;
                if pending.is_empty() && op.time >= window_end {
                    // Skip empty windows in one step.
                    window_end += ((op.time - window_end) / window).floor() * window;
                }
            }
        }
        if op.kind == OpKind::Update {
            out.push(PlannedCommit {
                time: op.time,
                update: Some(op.member),
                adds: Vec::new(),
                removes: Vec::new(),
                proposer: Some(op.member),
                update_proposals: Vec::new(),
                external_join: None,
            });
            i += 1;
            continue;
        }
        // The unit: this op and the following ones with the same nonzero unit.
        let mut j = i + 1;
        if op.unit != 0 {
            while j < ops.len() && ops[j].unit == op.unit {
                j += 1;
            }
        }
        let unit = &ops[i..j];
        match policy {
            CommitPolicy::EveryChange => {
                let mut adds = Vec::new();
                let mut removes = Vec::new();
                for o in unit {
                    match o.kind {
                        OpKind::Join => adds.push(o.member),
                        OpKind::Leave => removes.push(o.member),
                        OpKind::Update => bail!("an update inside a unit of membership changes"),
                    }
                }
                out.push(PlannedCommit {
                    time: op.time,
                    update: None,
                    adds,
                    removes,
                    proposer: op.proposer,
                    update_proposals: Vec::new(),
                    external_join: None,
                });
            }
            CommitPolicy::Batch => {
                for o in unit {
                    if pending_proposer.is_none() {
                        pending_proposer = Some(o.proposer);
                    }
                    match (o.kind, pending.get(&o.member).map(|x| x.1)) {
                        (OpKind::Leave, Some(OpKind::Join)) => {
                            pending.remove(&o.member);
                        }
                        (OpKind::Join, Some(OpKind::Leave)) => {
                            bail!(
                                "{:?} rejoins in the window it left; use distinct devices",
                                o.member
                            )
                        }
                        (kind, Some(k)) if kind == k => {
                            bail!("{:?} {kind:?} twice in one window", o.member)
                        }
                        (OpKind::Update, _) => bail!("an update inside a unit"),
                        (kind, _) => {
                            pending.insert(o.member, (arrival, kind));
                            arrival += 1;
                        }
                    }
                }
            }
        }
        i = j;
    }
    if policy == CommitPolicy::Batch {
        let last = window_end;
        flush(&mut out, &mut pending, &mut pending_proposer, last);
    }
    // Flushes happen at window ends, after updates inside the window: keep time order.
    out.sort_by(|a, b| a.time.total_cmp(&b.time));
    Ok(out)
}

/// Apply `policy` to the commits of [`plan_commits`] (time-ordered, updates as self-commits):
/// under `proposal` and `batched` each update becomes an Update proposal carried by a later
/// commit (see [`UpdatePolicy`]). Proposals that no commit carries (the stream ends first)
/// are put in a last commit at time infinity, which no simulation reaches.
pub fn apply_update_policy(
    commits: Vec<PlannedCommit>,
    policy: UpdatePolicy,
    update_batch_minutes: f64,
) -> Vec<PlannedCommit> {
    let window = update_batch_minutes * 60.0;
    if policy == UpdatePolicy::SelfCommit || (policy == UpdatePolicy::Batched && window <= 0.0) {
        return commits;
    }
    let mut out = Vec::with_capacity(commits.len());
    let mut pending: Vec<(MemberId, f64)> = Vec::new();
    // When the waiting proposals are committed alone, if nothing else commits them first.
    let deadline = |pending: &[(MemberId, f64)]| -> f64 {
        match (pending.first(), policy) {
            (None, _) => f64::INFINITY,
            (Some(_), _) if window <= 0.0 => f64::INFINITY,
            (Some(&(_, t)), UpdatePolicy::Proposal) => t + window,
            // The end of the window holding the oldest proposal.
            (Some(&(_, t)), _) => ((t / window).floor() + 1.0) * window,
        }
    };
    let flush_alone = |out: &mut Vec<PlannedCommit>, pending: &mut Vec<(MemberId, f64)>, time| {
        out.push(PlannedCommit {
            time,
            update: None,
            adds: Vec::new(),
            removes: Vec::new(),
            proposer: pending.first().map(|p| p.0),
            update_proposals: std::mem::take(pending),
            external_join: None,
        });
    };
    for mut c in commits {
        // A commit at the deadline itself carries the proposals (and so ends their wait).
        while deadline(&pending) < c.time {
            let d = deadline(&pending);
            let (due, later): (Vec<_>, Vec<_>) = pending.iter().partition(|p| p.1 <= d);
            pending = due;
            flush_alone(&mut out, &mut pending, d);
            pending = later;
        }
        match c.update {
            Some(m) => pending.push((m, c.time)),
            None => {
                c.update_proposals = std::mem::take(&mut pending);
                out.push(c);
            }
        }
    }
    if !pending.is_empty() {
        let d = deadline(&pending);
        flush_alone(&mut out, &mut pending, d);
    }
    out
}

/// The commits of workload `w` for `ops`: [`plan_commits`] under its commit policy, then
/// [`apply_update_policy`] under its update policy.
pub fn plan_workload(w: &Workload, ops: &[Op]) -> Result<Vec<PlannedCommit>> {
    let (external, ops) = external_joins(w, ops);
    let commits = plan_commits(&ops, w.commit_policy, w.batch_interval_minutes)?;
    let mut commits = apply_update_policy(commits, w.update_policy, w.update_batch_minutes);
    if !external.is_empty() {
        // Each external join is its own commit, at the time the device joins (after the
        // commits of the same instant). It carries no Update proposals (RFC 9420
        // §12.4.3.2 allows none by reference); waiting ones ride on the next member commit.
        commits.extend(external.iter().map(|o| PlannedCommit {
            time: o.time,
            update: None,
            adds: Vec::new(),
            removes: Vec::new(),
            proposer: Some(o.member),
            update_proposals: Vec::new(),
            external_join: Some(o.member),
        }));
        commits.sort_by(|a, b| a.time.total_cmp(&b.time));
    }
    Ok(commits)
}

/// The join operations of `ops` that join by external commit (each with probability
/// `external_join_fraction`, from a stream of its own so that the rest of the workload does
/// not change), and the other operations.
fn external_joins(w: &Workload, ops: &[Op]) -> (Vec<Op>, Vec<Op>) {
    if w.external_join_fraction <= 0.0 {
        return (Vec::new(), ops.to_vec());
    }
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&w.seed.to_be_bytes());
    seed[8..24].copy_from_slice(b"canopy ext join ");
    let mut rng = ChaCha20Rng::from_seed(seed);
    let mut external = Vec::new();
    let mut rest = Vec::with_capacity(ops.len());
    for o in ops {
        if o.kind == OpKind::Join && rng.random::<f64>() < w.external_join_fraction {
            external.push(*o);
        } else {
            rest.push(*o);
        }
    }
    (external, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steady() -> Workload {
        Workload {
            members: 300,
            days: 10.0,
            joins_per_day: 5.0,
            leaves_per_day: 5.0,
            update_interval_days: 3.0,
            offline_fraction: 0.2,
            ..Workload::default()
        }
    }

    #[test]
    fn streams_are_reproducible_and_seed_dependent() {
        let w = steady();
        assert_eq!(w.ops().unwrap(), w.ops().unwrap());
        let other = Workload {
            seed: 2,
            ..steady()
        };
        assert_ne!(w.ops().unwrap(), other.ops().unwrap());
    }

    #[test]
    fn steady_churn_rates_are_plausible() {
        let w = Workload {
            members: 2000,
            days: 100.0,
            joins_per_day: 10.0,
            leaves_per_day: 10.0,
            update_interval_days: 10.0,
            offline_fraction: 0.5,
            ..Workload::default()
        };
        let ops = w.ops().unwrap();
        let joins = ops.iter().filter(|o| o.kind == OpKind::Join).count() as f64;
        let leaves = ops.iter().filter(|o| o.kind == OpKind::Leave).count() as f64;
        let updates = ops.iter().filter(|o| o.kind == OpKind::Update).count() as f64;
        // Poisson(1000): 5 sigma is ~160.
        assert!((840.0..1160.0).contains(&joins), "{joins}");
        assert!((840.0..1160.0).contains(&leaves), "{leaves}");
        // About half of ~2000 devices online, 10 updates each over 100 days.
        assert!((8_000.0..12_000.0).contains(&updates), "{updates}");
        assert!(ops.windows(2).all(|p| p[0].time <= p[1].time));
    }

    #[test]
    fn offline_members_never_update_or_propose() {
        let w = steady();
        let (ops, offline) = w.ops_and_offline().unwrap();
        for o in &ops {
            if o.kind == OpKind::Update {
                assert!(!offline[o.member.person as usize]);
            }
            if let Some(p) = o.proposer {
                assert!(!offline[p.person as usize]);
            }
        }
        assert!(offline.iter().any(|&o| o));
    }

    #[test]
    fn multi_device_persons_move_together() {
        let w = Workload {
            devices_per_person: 3,
            members: 300,
            ..steady()
        };
        let ops = w.ops().unwrap();
        let commits = plan_commits(&ops, CommitPolicy::EveryChange, 60.0).unwrap();
        for c in commits.iter().filter(|c| c.update.is_none()) {
            assert_eq!(c.adds.len() % 3, 0);
            assert_eq!(c.removes.len() % 3, 0);
            assert!(c.adds.len() + c.removes.len() == 3);
        }
    }

    #[test]
    fn batching_groups_changes_per_window() {
        let w = Workload {
            joins_per_day: 200.0,
            leaves_per_day: 200.0,
            update_interval_days: 0.0,
            ..steady()
        };
        let ops = w.ops().unwrap();
        let every = plan_commits(&ops, CommitPolicy::EveryChange, 60.0).unwrap();
        let batch = plan_commits(&ops, CommitPolicy::Batch, 60.0).unwrap();
        assert_eq!(every.len(), ops.len());
        assert!(batch.len() <= 24 * 10 + 1, "{}", batch.len());
        for c in &batch {
            assert!(
                (c.time / 3600.0).fract().abs() < 1e-9,
                "flush at window end"
            );
        }
        let moved: usize = batch.iter().map(|c| c.adds.len() + c.removes.len()).sum();
        assert!(moved <= ops.len());
    }

    /// A warm-up starts the same kind of stream before day 0, windows stay aligned on day 0,
    /// and without one nothing happens before day 0.
    #[test]
    fn warm_up_starts_the_stream_before_day_zero() {
        let cold = steady();
        assert!(cold.ops().unwrap().iter().all(|o| o.time >= 0.0));
        let w = Workload {
            warmup_days: 4.0,
            ..steady()
        };
        let ops = w.ops().unwrap();
        assert!(ops.first().unwrap().time >= -4.0 * DAY);
        let before = ops.iter().filter(|o| o.time < 0.0).count();
        assert!(
            before > 0 && before < ops.len(),
            "{before} of {}",
            ops.len()
        );
        for kind in [OpKind::Join, OpKind::Leave, OpKind::Update] {
            assert!(
                ops.iter().any(|o| o.time < 0.0 && o.kind == kind),
                "{kind:?}"
            );
        }
        let commits = plan_workload(&w, &ops).unwrap();
        assert!(commits.windows(2).all(|c| c[0].time <= c[1].time));
        for c in commits.iter().filter(|c| c.update.is_none()) {
            assert_eq!(
                (c.time / 3600.0).fract().abs(),
                0.0,
                "a window end: {}",
                c.time
            );
        }
        assert_eq!(w.ops().unwrap(), ops, "reproducible");
    }

    /// Under an arrival profile a warm-up starts `warmup_days` before day 0 in real time, as
    /// without one (the stream's start is warped like its other times).
    #[test]
    fn warm_up_under_a_profile_starts_its_days_before_day_zero() {
        // Two days before Monday 00:00 is Saturday 00:00, after a busy working week: the
        // mean time of that instant is much later than two days of mean time before day 0.
        let w = Workload {
            warmup_days: 2.0,
            arrival_profile: ArrivalProfile::Office,
            joins_per_day: 50.0,
            leaves_per_day: 50.0,
            ..steady()
        };
        let ops = w.ops().unwrap();
        let first = ops.first().unwrap().time;
        assert!(
            (-2.0 * DAY - 1e-6..0.0).contains(&first),
            "first operation at {first} s"
        );
    }

    /// External joins take joining devices out of the batches, one commit each at the time
    /// they join; with none, the plan is the one without the field.
    #[test]
    fn external_joins_are_commits_of_their_own() {
        let w = Workload {
            joins_per_day: 30.0,
            ..steady()
        };
        let ops = w.ops().unwrap();
        let plain = plan_workload(&w, &ops).unwrap();
        assert!(plain.iter().all(|c| c.external_join.is_none()));
        let half = Workload {
            external_join_fraction: 0.5,
            ..w.clone()
        };
        let commits = plan_workload(&half, &ops).unwrap();
        let external: Vec<&PlannedCommit> = commits
            .iter()
            .filter(|c| c.external_join.is_some())
            .collect();
        assert!(!external.is_empty());
        for c in &external {
            assert!(c.adds.is_empty() && c.removes.is_empty() && c.update.is_none());
            let m = c.external_join.unwrap();
            assert!(ops
                .iter()
                .any(|o| o.kind == OpKind::Join && o.member == m && o.time == c.time));
        }
        let added = |cs: &[PlannedCommit]| -> usize {
            cs.iter()
                .map(|c| c.adds.len() + usize::from(c.external_join.is_some()))
                .sum()
        };
        // A join and a leave in one batch window cancel out; an external join has happened by
        // then, so it can only add joins.
        assert!(added(&commits) >= added(&plain));
        let joins = ops.iter().filter(|o| o.kind == OpKind::Join).count();
        assert!(added(&commits) <= joins, "no join twice");
        let all = Workload {
            external_join_fraction: 1.0,
            ..w
        };
        let commits = plan_workload(&all, &ops).unwrap();
        assert!(commits.iter().all(|c| c.adds.is_empty()));
    }

    #[test]
    fn waves_and_reorgs_are_single_commits() {
        let w = Workload {
            joins_per_day: 0.0,
            leaves_per_day: 0.0,
            update_interval_days: 0.0,
            waves: vec![Wave {
                day: 1.0,
                persons: 120,
            }],
            reorgs: vec![Reorg {
                day: 2.0,
                persons: 80,
            }],
            ..steady()
        };
        let ops = w.ops().unwrap();
        let commits = plan_commits(&ops, CommitPolicy::EveryChange, 60.0).unwrap();
        assert_eq!(commits.len(), 2);
        assert_eq!(commits[0].adds.len(), 120);
        assert_eq!(commits[1].removes.len(), 80);
        let p = commits[1].proposer.unwrap();
        assert!(!commits[1].removes.contains(&p));
    }

    #[test]
    fn adversarial_leaves_spread_over_the_tree() {
        let w = Workload {
            members: 64,
            leaves_per_day: 4.0,
            adversarial: true,
            ..steady()
        };
        let ops = w.ops().unwrap();
        let first: Vec<u32> = ops
            .iter()
            .filter(|o| o.kind == OpKind::Leave)
            .take(4)
            .map(|o| o.member.person)
            .collect();
        assert!(ops.iter().all(|o| o.kind != OpKind::Update));
        // Bit-reversed order (leaf 0 is the admin and skipped): 32, 16, 48, 8.
        assert_eq!(first, vec![32, 16, 48, 8]);
    }

    #[test]
    fn configs_parse_from_toml_and_json_and_reject_bad_values() {
        let t = Workload::from_toml(
            "name = \"x\"\nmembers = 100\ncommit_policy = \"every_change\"\ncommitter = \
             \"most_blanks\"\n[[waves]]\nday = 1.5\npersons = 10\n",
        )
        .unwrap();
        assert_eq!(t.committer, CommitterPolicy::MostBlanks);
        assert_eq!(t.waves.len(), 1);
        let j = Workload::from_json(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(j, t);
        assert!(Workload::from_toml("members = 1").is_err());
        assert!(Workload::from_toml("bogus = 1").is_err());
        assert!(Workload::from_toml("offline_fraction = 1.5").is_err());
        assert!(Workload::from_toml("members = 10\ndevices_per_person = 3").is_err());
    }

    /// The flat profile is the stream generated before profiles existed: explicit uniform
    /// weights (which take the warping path) give the same operations in the same order at
    /// the same times up to rounding.
    #[test]
    fn flat_profile_is_the_unwarped_stream() {
        let w = Workload {
            waves: vec![Wave {
                day: 2.5,
                persons: 7,
            }],
            reorgs: vec![Reorg {
                day: 6.0,
                persons: 5,
            }],
            ..steady()
        };
        assert!(w.arrival_shape().unwrap().is_flat());
        let flat = w.ops().unwrap();
        let uniform = Workload {
            hourly_weights: vec![2.0; 24],
            weekday_weights: vec![0.5; 7],
            ..w.clone()
        };
        assert!(!uniform.arrival_shape().unwrap().is_flat());
        let warped = uniform.ops().unwrap();
        assert_eq!(flat.len(), warped.len());
        assert!(flat.len() > 100, "{}", flat.len());
        for (a, b) in flat.iter().zip(&warped) {
            assert!((a.time - b.time).abs() < 1e-6, "{a:?} {b:?}");
            assert_eq!(
                (a.kind, a.member, a.unit, a.proposer),
                (b.kind, b.member, b.unit, b.proposer)
            );
        }
    }

    /// Under the office profile, joins per hour of the week follow the weights: each of the
    /// 168 hours' counts over four weeks is within 5 standard deviations (+1) of its Poisson
    /// mean (a false alarm in any of them has probability below 1e-4), and the total is
    /// within 5 standard deviations of the flat rate's.
    #[test]
    fn office_arrivals_follow_the_weights() {
        let w = Workload {
            members: 2000,
            days: 28.0,
            joins_per_day: 1000.0,
            leaves_per_day: 0.0,
            update_interval_days: 0.0,
            arrival_profile: ArrivalProfile::Office,
            ..Workload::default()
        };
        let shape = w.arrival_shape().unwrap();
        let ops = w.ops().unwrap();
        let mut counts = [0u64; 168];
        for o in &ops {
            counts[arrival::hour_of_week(o.time)] += 1;
        }
        let total = ops.len() as f64;
        let expected_total = 28_000.0;
        assert!(
            (total - expected_total).abs() <= 5.0 * expected_total.sqrt(),
            "{total}"
        );
        for (h, &c) in counts.iter().enumerate() {
            let mean = 4.0 * 1000.0 / 24.0 * shape.intensity(h as f64 * 3600.0 + 1.0);
            let c = c as f64;
            assert!(
                (c - mean).abs() <= 5.0 * mean.sqrt() + 1.0,
                "hour {h} of the week: {c} joins, expected {mean:.1}"
            );
        }
        // The shape is visible: a working hour holds many times a night hour's joins.
        assert!(counts[10] > 10 * counts[3].max(1), "{counts:?}");
        // Flat on the same seed: the same weekly total in expectation, spread evenly.
        let flat = Workload {
            arrival_profile: ArrivalProfile::Flat,
            ..w.clone()
        };
        let mut flat_counts = [0u64; 168];
        for o in &flat.ops().unwrap() {
            flat_counts[arrival::hour_of_week(o.time)] += 1;
        }
        let busiest = |c: &[u64; 168]| *c.iter().max().unwrap();
        assert!(busiest(&counts) > 2 * busiest(&flat_counts));
    }

    /// Updates and leaves follow the profile too, and waves and reorganisations stay at
    /// their day.
    #[test]
    fn profiles_shape_updates_and_leaves_but_not_waves() {
        let mut hourly = vec![1.0; 24];
        hourly[..8].fill(0.0);
        let w = Workload {
            members: 600,
            days: 14.0,
            joins_per_day: 20.0,
            leaves_per_day: 20.0,
            update_interval_days: 1.0,
            hourly_weights: hourly,
            weekday_weights: vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0],
            waves: vec![Wave {
                day: 5.0,
                persons: 3,
            }],
            reorgs: vec![Reorg {
                day: 12.25,
                persons: 2,
            }],
            ..steady()
        };
        let ops = w.ops().unwrap();
        assert!(ops.windows(2).all(|p| p[0].time <= p[1].time));
        let mut units: BTreeMap<u64, usize> = BTreeMap::new();
        for o in ops.iter().filter(|o| o.unit != 0) {
            *units.entry(o.unit).or_default() += 1;
        }
        for o in &ops {
            let day = (o.time / DAY) as u64;
            let hour = (o.time / 3600.0) as u64 % 24;
            let wave = o.time == 5.0 * DAY || o.time == 12.25 * DAY;
            if !wave {
                assert!(hour >= 8 && day % 7 < 5, "{o:?} at day {day} hour {hour}");
            }
        }
        assert_eq!(ops.iter().filter(|o| o.time == 5.0 * DAY).count(), 3);
        assert_eq!(ops.iter().filter(|o| o.time == 12.25 * DAY).count(), 2);
        assert!(ops.iter().filter(|o| o.kind == OpKind::Update).count() > 1000);
        assert!(ops.iter().filter(|o| o.kind == OpKind::Leave).count() > 100);
        // A unit's ops stay together.
        let commits = plan_commits(&ops, CommitPolicy::EveryChange, 60.0).unwrap();
        assert!(!commits.is_empty());
        // Profile fields parse, and a bad one is named.
        let t =
            Workload::from_toml("arrival_profile = \"office\"\napp_messages_per_member_day = 20\n")
                .unwrap();
        assert_eq!(t.arrival_profile, ArrivalProfile::Office);
        let e = Workload::from_toml("hourly_weights = [1, 2]").unwrap_err();
        assert!(format!("{e:#}").contains("hourly_weights"), "{e:#}");
        let e = Workload::from_toml("ds_retention_days = 0").unwrap_err();
        assert!(format!("{e:#}").contains("ds_retention_days"), "{e:#}");
        let e = Workload::from_toml("app_messages_per_member_day = -1").unwrap_err();
        assert!(
            format!("{e:#}").contains("app_messages_per_member_day"),
            "{e:#}"
        );
    }

    /// A workload that leaves the new fields at their defaults serializes as before they
    /// existed (its result files and sweep point keys do not change), and they round-trip.
    #[test]
    fn default_delivery_fields_are_not_serialized() {
        let json = serde_json::to_value(Workload::default()).unwrap();
        for k in [
            "arrival_profile",
            "hourly_weights",
            "weekday_weights",
            "app_messages_per_member_day",
            "app_message_bytes",
            "key_packages_per_device",
            "ds_retention_days",
        ] {
            assert!(json.get(k).is_none(), "{k}");
        }
        let w = Workload {
            arrival_profile: ArrivalProfile::Office,
            weekday_weights: vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5],
            app_messages_per_member_day: 30.0,
            app_message_bytes: 1000,
            key_packages_per_device: 5,
            ds_retention_days: 14.0,
            // Tables before the new plain fields: TOML must still write them.
            waves: vec![Wave {
                day: 1.0,
                persons: 3,
            }],
            ..Workload::default()
        };
        let back = Workload::from_json(&serde_json::to_string(&w).unwrap()).unwrap();
        assert_eq!(back, w);
        let back = Workload::from_toml(&toml::to_string(&w).unwrap()).unwrap();
        assert_eq!(back, w);
    }

    fn policy_workload(policy: UpdatePolicy, minutes: f64) -> Workload {
        Workload {
            members: 200,
            days: 5.0,
            joins_per_day: 4.0,
            leaves_per_day: 4.0,
            update_interval_days: 1.0,
            commit_policy: CommitPolicy::EveryChange,
            update_policy: policy,
            update_batch_minutes: minutes,
            ..steady()
        }
    }

    /// (commits, update-only commits, proposals carried, self-commit updates).
    fn shape(commits: &[PlannedCommit]) -> (usize, usize, usize, usize) {
        let alone = commits
            .iter()
            .filter(|c| c.update.is_none() && c.adds.is_empty() && c.removes.is_empty())
            .count();
        let proposals = commits.iter().map(|c| c.update_proposals.len()).sum();
        let selfs = commits.iter().filter(|c| c.update.is_some()).count();
        (commits.len(), alone, proposals, selfs)
    }

    #[test]
    fn update_policy_defaults_to_self_commits_and_batch_zero_is_the_same() {
        let w = policy_workload(UpdatePolicy::SelfCommit, 0.0);
        assert_eq!(Workload::default().update_policy, UpdatePolicy::SelfCommit);
        let ops = w.ops().unwrap();
        let base = plan_commits(&ops, w.commit_policy, w.batch_interval_minutes).unwrap();
        assert_eq!(plan_workload(&w, &ops).unwrap(), base);
        let b0 = policy_workload(UpdatePolicy::Batched, 0.0);
        assert_eq!(
            b0.ops().unwrap(),
            ops,
            "the policy does not change the stream"
        );
        assert_eq!(plan_workload(&b0, &ops).unwrap(), base);
        let updates = ops.iter().filter(|o| o.kind == OpKind::Update).count();
        assert!(updates > 100, "{updates}");
        assert_eq!(shape(&base).3, updates);
    }

    #[test]
    fn proposals_ride_on_the_next_commit() {
        let w = policy_workload(UpdatePolicy::Proposal, 0.0);
        let ops = w.ops().unwrap();
        let updates: Vec<(MemberId, f64)> = ops
            .iter()
            .filter(|o| o.kind == OpKind::Update)
            .map(|o| (o.member, o.time))
            .collect();
        let membership = ops.iter().filter(|o| o.kind != OpKind::Update).count();
        let commits = plan_workload(&w, &ops).unwrap();
        let (n, alone, proposals, selfs) = shape(&commits);
        assert_eq!(selfs, 0);
        assert_eq!(proposals, updates.len(), "every update is carried once");
        // Membership commits, plus one last commit for what waits at the end.
        let tail = commits.last().unwrap();
        assert_eq!(alone, usize::from(tail.time.is_infinite()));
        assert_eq!(n, membership + alone);
        let carried: Vec<(MemberId, f64)> = commits
            .iter()
            .flat_map(|c| c.update_proposals.clone())
            .collect();
        assert_eq!(carried, updates, "in sending order");
        for c in &commits {
            for &(_, t) in &c.update_proposals {
                assert!(t <= c.time, "a proposal is committed after it was sent");
            }
        }
        // With a bound, no proposal waits longer than it.
        let bounded = policy_workload(UpdatePolicy::Proposal, 30.0);
        let commits = plan_workload(&bounded, &ops).unwrap();
        assert_eq!(shape(&commits).2, updates.len());
        for c in &commits {
            for &(_, t) in &c.update_proposals {
                assert!(c.time - t <= 1800.0 + 1e-6, "{} waited {}", t, c.time - t);
            }
        }
        assert!(shape(&commits).1 > 0, "some proposals are committed alone");
    }

    #[test]
    fn batched_updates_make_fewer_larger_commits_per_window() {
        let w5 = policy_workload(UpdatePolicy::Batched, 5.0);
        let w60 = policy_workload(UpdatePolicy::Batched, 60.0);
        let ops = w5.ops().unwrap();
        let updates = ops.iter().filter(|o| o.kind == OpKind::Update).count();
        let c0 = plan_workload(&policy_workload(UpdatePolicy::Batched, 0.0), &ops).unwrap();
        let c5 = plan_workload(&w5, &ops).unwrap();
        let c60 = plan_workload(&w60, &ops).unwrap();
        for (c, minutes) in [(&c5, 5.0), (&c60, 60.0)] {
            let (_, alone, proposals, selfs) = shape(c);
            assert_eq!(selfs, 0);
            assert_eq!(proposals, updates);
            assert!(alone > 0);
            for x in c
                .iter()
                .filter(|x| x.adds.is_empty() && x.removes.is_empty())
            {
                let w = minutes * 60.0;
                assert!(
                    ((x.time / w).round() * w - x.time).abs() < 1e-6,
                    "window end"
                );
            }
        }
        assert!(c60.len() < c5.len() && c5.len() < c0.len());
        let largest = |c: &[PlannedCommit]| c.iter().map(|x| x.update_proposals.len()).max();
        assert!(largest(&c60) > largest(&c5));
        // Parse the fields, and reject a negative window naming the field.
        let t =
            Workload::from_toml("update_policy = \"batched\"\nupdate_batch_minutes = 5\n").unwrap();
        assert_eq!(
            (t.update_policy, t.update_batch_minutes),
            (UpdatePolicy::Batched, 5.0)
        );
        let e = Workload::from_toml("update_batch_minutes = -1").unwrap_err();
        assert!(format!("{e:#}").contains("update_batch_minutes"), "{e:#}");
    }
}
