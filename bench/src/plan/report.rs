//! The `canopy plan` result file (schema `canopy-plan`, version [`SCHEMA_VERSION`]), the
//! lossless merge of shard outputs, and the printed summary table.
//!
//! The schema is documented field by field in `docs/plan-schema.md`. Histograms are
//! HdrHistogram V2 serialized with DEFLATE (the compressed form every HdrHistogram reader
//! decodes: Java's `decodeFromCompressedByteBuffer`, Python's `HdrHistogram.decode`) and
//! base64-encoded, so merging shards adds the recorded counts exactly instead of averaging
//! percentiles; every point also carries plain percentiles for readers without one.

use std::collections::BTreeMap;

use anyhow::{bail, ensure, Context, Result};
use base64::Engine as _;
use canopy_workloads::churn::Workload;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::device::Device;
use super::ds::{DayTraffic, DsReport};
use crate::costs::{add_work, CostProfile, HostInfo, ProfileUsed, Work};

/// Name of the schema.
pub const SCHEMA: &str = "canopy-plan";

/// Version of the schema: bumped on any incompatible change. Version 2: the CPU figures
/// (`committer_cpu_s`, `joiners_cpu_s`, `member_cpu_s`) are exact counts × a cost profile
/// instead of wall-clock times, and every run records its host and profile.
pub const SCHEMA_VERSION: u32 = 2;

/// How member costs are obtained (copied into every run).
pub const METHOD: &str = "Every commit is created for real by its committer (one group state handed to \
whichever member commits, with that member's own keys), with the engine's exact primitive counts \
read around it. A uniform random sample of online members (the receivers) processes every commit in \
full; each must reach the committer's epoch authenticator. Work of all members = committer's exact \
counts + for each commit the mean counts of the sampled receivers x the members that process it (all \
members after the commit except the committer and the members it added; long-offline members count, \
they process the backlog when they return) + joiners x the mean counts of the sampled real joins \
(spread evenly over the run). The headline CPU figures are that work priced by a cost profile \
(counts x nanoseconds per primitive, calibrated on this host at the start or given with --profile); \
the process CPU time measured around each operation (all threads) is extrapolated the same way and \
shown apart as measured. Seal counts and resolution sizes are recomputed from the tree for every commit \
and must equal the engine's counts and the crypto provider's X25519 counter.";

/// How fast mode differs (appended to [`METHOD`] in fast runs).
pub const FAST_METHOD: &str = "Fast mode: only a sample of the commits (a number of each kind \
spread over the run, and every commit a sampled join joins from) is made with real crypto; the \
others are made, processed by the sampled receivers and checked in the same way with simulated \
crypto, which counts every primitive exactly as real crypto does and produces messages of the real \
lengths and the real tree, but skips the Diffie-Hellman of HPKE, signature verification and a \
GroupInfo's signature and encryption. Counts, bytes, seals, the tree and every figure priced by \
the profile are those of a full run; latency histograms hold the real commits only, and the \
measured CPU time of a simulated commit is its profile-based cost times the measured/profile-based \
ratio of the real commits of its kind.";

/// Encode a histogram: V2 with DEFLATE, base64. (Files written with uncompressed V2 still
/// decode: [`hist_decode`] reads both cookies.)
pub fn hist_encode(h: &Histogram<u64>) -> Result<String> {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .map_err(|e| anyhow::anyhow!("serializing a histogram: {e:?}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(buf))
}

/// Decode a histogram written by [`hist_encode`].
pub fn hist_decode(s: &str) -> Result<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .context("histogram: not base64")?;
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| anyhow::anyhow!("histogram: {e:?}"))?;
    h.auto(true);
    Ok(h)
}

/// Merge encoded histograms losslessly.
pub fn hist_merge<'a>(items: impl IntoIterator<Item = &'a String>) -> Result<String> {
    let mut acc: Histogram<u64> = Histogram::new(3).context("histogram")?;
    for s in items {
        let h = hist_decode(s)?;
        acc.add(&h)
            .map_err(|e| anyhow::anyhow!("merging histograms: {e:?}"))?;
    }
    hist_encode(&acc)
}

/// The first fields of a result file, read before the rest to refuse other versions with a
/// clear message.
#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    /// [`SCHEMA`] for a plan report.
    pub schema: String,
    /// Its version.
    pub schema_version: u32,
}

/// A result file: one or more runs, and per sweep point the runs merged.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `run` (one `canopy plan`), `shard` (one shard of a sweep) or `merged` (`canopy merge`).
    pub kind: String,
    /// UTC date the file was written (`YYYY-MM-DD`).
    pub date: String,
    /// `canopy` version that wrote it.
    pub canopy_version: String,
    /// What ran: the sweep's name (its `name`, else the sweep file's stem) or the workload's;
    /// for a merge, the name of its file. Absent in files written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Shards this file covers (`[i, n]` each); empty for a plain run.
    pub shards: Vec<[u32; 2]>,
    /// The runs, sorted by point then seed.
    pub runs: Vec<Run>,
    /// Per sweep point (workload without its seed), the runs merged.
    pub points: Vec<Point>,
    /// Whether `canopy merge --allow-mixed-hosts` merged runs measured on different hosts
    /// (their measured times and latency histograms are then not one machine's).
    #[serde(default)]
    pub mixed_hosts: bool,
    /// The points compared (mean over seeds, 95% confidence interval, delta against a
    /// baseline point); written for sweeps and merges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<super::compare::Comparison>,
    /// SLO thresholds (`--slo`) evaluated on every point.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slo: Vec<super::compare::SloCheck>,
    /// The fleet file of `canopy plan --fleet` and its answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<super::fleet::Fleet>,
}

/// One simulation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Run {
    /// The workload, fully resolved (flags applied).
    pub workload: Workload,
    /// Trace file name if the run replayed a trace.
    pub trace: Option<String>,
    /// `[i, n]` if the run came from a shard.
    pub shard: Option<[u32; 2]>,
    /// The position of the run's point in its sweep file or fleet (0-based): a report lists
    /// its points in this order, so that the first point of the file is the comparison's
    /// baseline. Absent for a single workload and in files written before it was added:
    /// those points follow the others, in key order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point: Option<u32>,
    /// How members' costs are obtained.
    pub sampling: Sampling,
    /// Counts over the run.
    pub totals: Totals,
    /// Histograms over the run (names in `docs/plan-schema.md`), V2 + base64.
    pub histograms: BTreeMap<String, String>,
    /// One entry per simulated day.
    pub days: Vec<Day>,
    /// Per-commit series (columns).
    pub commits: CommitSeries,
    /// The host the run was measured on.
    pub host: HostInfo,
    /// The cost profile that priced the run's work.
    pub profile: ProfileUsed,
    /// Work and CPU by commit kind (`update`, `add`, `remove`, `mixed`), over the run.
    pub kinds: BTreeMap<String, KindCost>,
    /// The delivery service: traffic per hour and in the peak minute, storage, the
    /// application message (absent in files written before the model: empty).
    #[serde(default)]
    pub ds: DsReport,
    /// The per-device view (absent in files written before it was added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
}

/// One role's work: the engine's exact counts (for receivers and joiners extrapolated from
/// the samples to every member), their cost under the profile, and the measured CPU time.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RoleCost {
    /// Engine counts by counter name.
    pub counts: Work,
    /// Σ counts × the profile's cost per unit, seconds.
    pub cpu_s: f64,
    /// Process CPU time (all threads) measured around the operations, extrapolated the
    /// same way, seconds.
    pub measured_cpu_s: f64,
}

impl RoleCost {
    /// Add `scale` × (`work`, priced by `profile`, and `measured_s`).
    pub fn add(&mut self, work: &Work, scale: f64, measured_s: f64, profile: &CostProfile) {
        add_work(&mut self.counts, work, scale);
        self.cpu_s += profile.ns(work) * 1e-9 * scale;
        self.measured_cpu_s += measured_s * scale;
    }

    /// Add another role's figures.
    pub fn absorb(&mut self, other: &RoleCost, scale: f64) {
        add_work(&mut self.counts, &other.counts, scale);
        self.cpu_s += other.cpu_s * scale;
        self.measured_cpu_s += other.measured_cpu_s * scale;
    }
}

/// The roles: the committers, every member processing commits (extrapolated from the
/// sampled receivers), the joiners (extrapolated from the sampled joins), and the delivery
/// service tracking the group's public state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Roles {
    /// Committers: exact, every commit was made for real.
    pub committer: RoleCost,
    /// Every member that processes a commit.
    pub receivers: RoleCost,
    /// Every joiner.
    pub joiners: RoleCost,
    /// The delivery service: exact, one observer of the public state processed every commit
    /// and every standalone proposal for real. Infrastructure, not a member: not in
    /// [`Roles::cpu_s`].
    #[serde(default)]
    pub delivery_service: RoleCost,
}

impl Roles {
    /// Σ over the members' roles (committers, receivers, joiners) of the profile-based CPU
    /// seconds; the delivery service's is apart.
    pub fn cpu_s(&self) -> f64 {
        self.committer.cpu_s + self.receivers.cpu_s + self.joiners.cpu_s
    }

    /// Σ over the members' roles of the measured CPU seconds.
    pub fn measured_cpu_s(&self) -> f64 {
        self.committer.measured_cpu_s + self.receivers.measured_cpu_s + self.joiners.measured_cpu_s
    }

    fn absorb(&mut self, other: &Roles, scale: f64) {
        self.committer.absorb(&other.committer, scale);
        self.receivers.absorb(&other.receivers, scale);
        self.joiners.absorb(&other.joiners, scale);
        self.delivery_service.absorb(&other.delivery_service, scale);
    }
}

/// The commits of one kind and their work.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct KindCost {
    /// Commits of this kind.
    pub commits: u64,
    /// Their work by role.
    pub roles: Roles,
}

/// Sampling of the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Sampling {
    /// Receivers processing every commit.
    pub receivers: u64,
    /// Their leaves at the start.
    pub initial_receiver_leaves: Vec<u32>,
    /// Joins performed for real (at most).
    pub joiners: u64,
    /// The extrapolation method, in words.
    pub method: String,
    /// `full` (every commit with real crypto) or `fast` (real crypto for a sample of the
    /// commits, simulated crypto with the same counts and bytes for the others). Files
    /// written before fast mode are `full`.
    #[serde(default = "full_mode")]
    pub mode: String,
    /// Fast mode: commits of each kind made with real crypto, spread over the run (besides
    /// those a sampled join joins from); 0 in full mode.
    #[serde(default)]
    pub real_commits_per_kind: u64,
}

fn full_mode() -> String {
    "full".into()
}

/// Counts over a run (or, in a point, summed over its runs; start/end figures of the first).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Totals {
    /// Members at the start.
    pub members_start: u64,
    /// Members at the end.
    pub members_end: u64,
    /// Blank fraction of parent nodes at the start.
    pub blank_fraction_start: f64,
    /// Commits made.
    pub commits: u64,
    /// Of which update commits (a member's own commit with a path).
    pub update_commits: u64,
    /// Devices added.
    pub adds: u64,
    /// Devices removed.
    pub removes: u64,
    /// HPKE seals (UpdatePath and Welcome).
    pub hpke_seals: u64,
    /// Operations dropped (a leave of a device not in the group, …).
    pub skipped_ops: u64,
    /// Membership commits whose policy's committer was unavailable (a random online member
    /// committed instead).
    pub committer_fallbacks: u64,
    /// Real joins performed.
    pub joins_sampled: u64,
    /// (commit, receiver) pairs that agreed on the epoch authenticator.
    pub receiver_checks: u64,
    /// Commits whose seal counts were checked against the tree.
    pub seal_checks: u64,
    /// Commits after which the delivery service's tree hash and epoch were checked against
    /// the committer's.
    #[serde(default)]
    pub ds_checks: u64,
    /// Receivers that were removed (and replaced).
    pub receivers_removed: u64,
    /// Commits no sampled receiver processed (the previous mean was used).
    pub commits_without_sample: u64,
    /// Leaf updates planned before the end of the run (every update policy).
    #[serde(default)]
    pub updates: u64,
    /// Of which committed: self-commits, committed Update proposals, and proposals of a
    /// committer that its own commit's path covered.
    #[serde(default)]
    pub updates_committed: u64,
    /// Of which dropped: the device left before the commit (or in it), or a later update of
    /// the same device replaced it in the same epoch.
    #[serde(default)]
    pub updates_dropped: u64,
    /// Of which still waiting for a commit when the run ended.
    #[serde(default)]
    pub updates_pending_end: u64,
    /// Update proposals sent (standalone PublicMessages, `proposal` and `batched` policies).
    #[serde(default)]
    pub update_proposals: u64,
    /// Their bytes (each is also fanned out to every other member).
    #[serde(default)]
    pub proposal_bytes: u64,
    /// Commits made with real crypto (all of them in full mode; the sample in fast mode).
    /// Absent in files written before fast mode (all their commits are real).
    #[serde(default)]
    pub real_commits: u64,
    /// Commits of the warm-up before day 0 (simulated crypto, not recorded).
    #[serde(default)]
    pub warmup_commits: u64,
    /// Devices that joined by external commit (also in `adds`).
    #[serde(default)]
    pub external_joins: u64,
    /// Seconds spent generating the start state.
    pub generation_seconds: f64,
    /// Wall seconds of the whole run.
    pub wall_seconds: f64,
}

/// One simulated day.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Day {
    /// Day number from 0.
    pub day: u32,
    /// Commits.
    pub commits: u64,
    /// Devices added.
    pub adds: u64,
    /// Devices removed.
    pub removes: u64,
    /// Update commits.
    pub updates: u64,
    /// Members at the end of the day.
    pub members_end: u64,
    /// Blank fraction of parent nodes at the end of the day.
    pub blank_fraction_end: f64,
    /// Mean over the day's commits.
    pub blank_fraction_mean: f64,
    /// Max over the day's commits.
    pub blank_fraction_max: f64,
    /// CPU seconds of the committers (profile-based: exact counts × the profile).
    pub committer_cpu_s: f64,
    /// CPU seconds of the joiners (profile-based, extrapolated).
    pub joiners_cpu_s: f64,
    /// CPU seconds of all members (profile-based): committers + processing (extrapolated) +
    /// joiners.
    pub member_cpu_s: f64,
    /// All members' measured CPU seconds (process CPU time, extrapolated the same way).
    pub measured_member_cpu_s: f64,
    /// CPU seconds of the delivery service (profile-based, exact), apart from the members'.
    #[serde(default)]
    pub ds_cpu_s: f64,
    /// The day's work by role: counts, profile-based and measured CPU.
    pub roles: Roles,
    /// Bytes the delivery service sends: each commit to every other member, each Welcome
    /// to each joiner (and the tree, when Welcomes do not carry it).
    pub ds_fanout_bytes: u64,
    /// HPKE seals.
    pub hpke_seals: u64,
    /// Commit bytes (sum).
    pub commit_bytes: u64,
    /// Bytes members sent to the delivery service (commits, proposals, Welcomes,
    /// application messages, KeyPackages); the day's hours of `ds.hourly.ingress_bytes`.
    #[serde(default)]
    pub ds_ingress_bytes: u64,
    /// Bytes the delivery service sent: `ds_fanout_bytes`, application messages to every
    /// other member, KeyPackages to committers; the day's hours of `ds.hourly.egress_bytes`.
    #[serde(default)]
    pub ds_egress_bytes: u64,
    /// Messages members sent to the delivery service.
    #[serde(default)]
    pub ds_messages_in: u64,
    /// Copies the delivery service sent.
    #[serde(default)]
    pub ds_messages_out: u64,
    /// Application messages sent.
    #[serde(default)]
    pub app_messages: u64,
    /// Their bytes, as received by the delivery service.
    #[serde(default)]
    pub app_ingress_bytes: u64,
    /// Their copies' bytes, as sent by the delivery service.
    #[serde(default)]
    pub app_egress_bytes: u64,
    /// Members' CPU for the application messages (profile-based: each sender's encryption,
    /// every other member's decryption); not in `member_cpu_s`.
    #[serde(default)]
    pub app_member_cpu_s: f64,
    /// KeyPackages uploaded to the delivery service.
    #[serde(default)]
    pub key_package_uploads: u64,
    /// KeyPackages fetched from it (one per joining device).
    #[serde(default)]
    pub key_package_fetches: u64,
    /// Bytes of the uploads.
    #[serde(default)]
    pub key_package_ingress_bytes: u64,
    /// Bytes of the fetches.
    #[serde(default)]
    pub key_package_egress_bytes: u64,
    /// Commit creation times of the day (V2 + base64).
    pub create_ns: String,
    /// Commit processing times of the day's sampled receivers (V2 + base64).
    pub process_ns: String,
}

impl Day {
    /// Copy a day's delivery-service totals in.
    pub fn set_ds(&mut self, t: &DayTraffic) {
        self.ds_ingress_bytes = t.ingress_bytes;
        self.ds_egress_bytes = t.egress_bytes;
        self.ds_messages_in = t.messages_in;
        self.ds_messages_out = t.messages_out;
        self.app_messages = t.app_messages;
        self.app_ingress_bytes = t.app_ingress_bytes;
        self.app_egress_bytes = t.app_egress_bytes;
        self.app_member_cpu_s = t.app_member_cpu_s;
        self.key_package_uploads = t.key_package_uploads;
        self.key_package_fetches = t.key_package_fetches;
        self.key_package_ingress_bytes = t.key_package_ingress_bytes;
        self.key_package_egress_bytes = t.key_package_egress_bytes;
    }
}

/// Per-commit series, as columns.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CommitSeries {
    /// Seconds since the start.
    pub time_s: Vec<f64>,
    /// Creation latency (wall-clock ns).
    pub create_ns: Vec<u64>,
    /// Mean processing latency of the sampled receivers (wall-clock ns; 0 if none).
    pub process_ns: Vec<u64>,
    /// Creation cost under the profile (ns).
    pub create_cost_ns: Vec<u64>,
    /// Mean processing cost of the sampled receivers under the profile (ns; the previous
    /// commit's if none processed this one).
    pub process_cost_ns: Vec<u64>,
    /// Measured process CPU time of the creation (ns, all threads).
    pub create_cpu_ns: Vec<u64>,
    /// Mean measured process CPU time of the sampled receivers' processing (ns).
    pub process_cpu_ns: Vec<u64>,
    /// HPKE seals.
    pub hpke_seals: Vec<u64>,
    /// Commit bytes.
    pub bytes: Vec<u64>,
    /// Blank fraction after the commit.
    pub blank_fraction: Vec<f64>,
    /// Members after the commit.
    pub members: Vec<u64>,
    /// Online members (not long offline) after the commit (empty in files written before
    /// it was added).
    #[serde(default)]
    pub online: Vec<u64>,
    /// Update proposals the commit includes (empty in older files).
    #[serde(default)]
    pub proposals: Vec<u64>,
    /// Their bytes (empty in older files).
    #[serde(default)]
    pub proposal_bytes: Vec<u64>,
    /// 1 if the commit was made with real crypto (every commit of a full run), 0 if with
    /// simulated crypto (fast mode: not timed, latency and measured columns 0). Absent in
    /// files written before fast mode, whose commits are all real.
    #[serde(default)]
    pub real_crypto: Vec<u8>,
}

/// One commit's figures for [`CommitSeries::push`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CommitFigures {
    /// Seconds since the start.
    pub time: f64,
    /// Creation latency (wall-clock ns).
    pub create_ns: u64,
    /// Mean sampled processing latency (wall-clock seconds), if any receiver processed it.
    pub process_mean_s: Option<f64>,
    /// Creation cost under the profile (ns).
    pub create_cost_ns: f64,
    /// Mean processing cost under the profile (ns).
    pub process_cost_ns: f64,
    /// Measured process CPU time of the creation (ns).
    pub create_cpu_ns: u64,
    /// Mean measured process CPU time of the processing (ns).
    pub process_cpu_ns: f64,
    /// HPKE seals.
    pub seals: u64,
    /// Commit bytes.
    pub bytes: u64,
    /// Blank fraction after the commit.
    pub blank: f64,
    /// Members after the commit.
    pub members: u64,
    /// Online members after the commit.
    pub online: u64,
    /// Update proposals the commit includes.
    pub proposals: u64,
    /// Their bytes.
    pub proposal_bytes: u64,
    /// Made with real crypto.
    pub real: bool,
}

impl CommitSeries {
    /// Append one commit.
    pub fn push(&mut self, c: &CommitFigures) {
        let CommitFigures {
            time,
            create_ns,
            process_mean_s,
            seals,
            bytes,
            blank,
            members,
            online,
            proposals,
            proposal_bytes,
            ..
        } = *c;
        self.time_s.push(time);
        self.create_ns.push(create_ns);
        self.process_ns
            .push(process_mean_s.map_or(0, |s| (s * 1e9) as u64));
        self.create_cost_ns.push(c.create_cost_ns.round() as u64);
        self.process_cost_ns.push(c.process_cost_ns.round() as u64);
        self.create_cpu_ns.push(c.create_cpu_ns);
        self.process_cpu_ns.push(c.process_cpu_ns.round() as u64);
        self.hpke_seals.push(seals);
        self.bytes.push(bytes);
        self.blank_fraction.push(blank);
        self.members.push(members);
        self.online.push(online);
        self.proposals.push(proposals);
        self.proposal_bytes.push(proposal_bytes);
        self.real_crypto.push(u8::from(c.real));
    }
}

/// A sweep point: the runs of one workload (all seeds) merged.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Point {
    /// The point's key: the workload name and every setting except the seed.
    pub key: String,
    /// Seeds of its runs.
    pub seeds: Vec<u64>,
    /// Counts summed over the runs (start figures of the first run).
    pub totals: Totals,
    /// Histograms merged over the runs.
    pub histograms: BTreeMap<String, String>,
    /// Plain percentiles of every histogram, by the same name (absent in files written
    /// before they were added).
    #[serde(default)]
    pub percentiles: BTreeMap<String, Percentiles>,
    /// Days merged over the runs: every figure the mean over the runs, histograms merged.
    pub days: Vec<Day>,
    /// Work and CPU by commit kind, summed over the runs.
    pub kinds: BTreeMap<String, KindCost>,
    /// The delivery service: every figure the mean over the runs (absent in files written
    /// before the model: empty).
    #[serde(default)]
    pub ds: DsReport,
    /// The per-device view over the runs that have one: figures the mean over the runs,
    /// receivers pooled ([`Device::merge`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
}

/// The percentiles of one histogram, in its unit (ns, bytes or a count).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest value.
    pub max: u64,
}

impl Percentiles {
    /// The percentiles of `h` (HdrHistogram's value at each quantile: the highest value
    /// equivalent to the recorded ones, within 3 significant figures).
    pub fn of(h: &Histogram<u64>) -> Self {
        Percentiles {
            count: h.len(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// The point key of a workload: its config without the seed, as canonical JSON.
pub fn point_key(w: &Workload) -> String {
    let mut v = serde_json::to_value(w).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("seed");
    }
    format!("{}: {}", w.name, v)
}

fn run_key(r: &Run) -> (String, u64, Option<String>) {
    (point_key(&r.workload), r.workload.seed, r.trace.clone())
}

/// Build a report from runs: sort them and merge them per point. Points come in the order of
/// their sweep file ([`Run::point`]; a point written twice takes its first place), then those
/// without a place in key order; a point's runs by seed.
pub fn assemble(kind: &str, shards: Vec<[u32; 2]>, mut runs: Vec<Run>) -> Result<Report> {
    let mut place: BTreeMap<String, u32> = BTreeMap::new();
    for r in &runs {
        let p = place.entry(point_key(&r.workload)).or_insert(u32::MAX);
        *p = (*p).min(r.point.unwrap_or(u32::MAX));
    }
    runs.sort_by_cached_key(|r| {
        let (key, seed, trace) = run_key(r);
        (place[&key], key, seed, trace)
    });
    for w in runs.windows(2) {
        ensure!(
            run_key(&w[0]) != run_key(&w[1]),
            "run {} (seed {}) appears twice (overlapping shards?)",
            w[0].workload.name,
            w[0].workload.seed
        );
    }
    let mut points: Vec<Point> = Vec::new();
    let mut i = 0;
    while i < runs.len() {
        let key = point_key(&runs[i].workload);
        let mut j = i;
        while j < runs.len() && point_key(&runs[j].workload) == key {
            j += 1;
        }
        points.push(merge_point(key, &runs[i..j])?);
        i = j;
    }
    Ok(Report {
        schema: SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        kind: kind.into(),
        date: today(),
        canopy_version: env!("CARGO_PKG_VERSION").into(),
        name: None,
        shards,
        runs,
        points,
        mixed_hosts: false,
        comparison: None,
        slo: Vec::new(),
        fleet: None,
    })
}

fn merge_point(key: String, runs: &[Run]) -> Result<Point> {
    let first = &runs[0];
    let mut totals = first.totals.clone();
    for r in &runs[1..] {
        let t = &r.totals;
        totals.commits += t.commits;
        totals.update_commits += t.update_commits;
        totals.adds += t.adds;
        totals.removes += t.removes;
        totals.hpke_seals += t.hpke_seals;
        totals.skipped_ops += t.skipped_ops;
        totals.committer_fallbacks += t.committer_fallbacks;
        totals.joins_sampled += t.joins_sampled;
        totals.receiver_checks += t.receiver_checks;
        totals.seal_checks += t.seal_checks;
        totals.receivers_removed += t.receivers_removed;
        totals.ds_checks += t.ds_checks;
        totals.commits_without_sample += t.commits_without_sample;
        totals.updates += t.updates;
        totals.updates_committed += t.updates_committed;
        totals.updates_dropped += t.updates_dropped;
        totals.updates_pending_end += t.updates_pending_end;
        totals.update_proposals += t.update_proposals;
        totals.proposal_bytes += t.proposal_bytes;
        totals.real_commits += t.real_commits;
        totals.warmup_commits += t.warmup_commits;
        totals.external_joins += t.external_joins;
        totals.generation_seconds += t.generation_seconds;
        totals.wall_seconds += t.wall_seconds;
    }
    let mut histograms = BTreeMap::new();
    for name in first.histograms.keys() {
        let merged = hist_merge(runs.iter().filter_map(|r| r.histograms.get(name)))?;
        histograms.insert(name.clone(), merged);
    }
    let n_days = runs.iter().map(|r| r.days.len()).max().unwrap_or(0);
    let mut days = Vec::with_capacity(n_days);
    for d in 0..n_days {
        let those: Vec<&Day> = runs.iter().filter_map(|r| r.days.get(d)).collect();
        let k = those.len() as f64;
        let mut m = Day {
            day: d as u32,
            ..Day::default()
        };
        // Every figure of a day is the mean over the runs (seeds): a run is one possible
        // month of the same group, so summing them would multiply per-member figures by the
        // number of seeds. Counts are rounded to the nearest integer.
        let mean = |f: fn(&Day) -> f64| those.iter().map(|x| f(x)).sum::<f64>() / k;
        let mean_count = |f: fn(&Day) -> u64| {
            (those.iter().map(|x| f(x) as f64).sum::<f64>() / k).round() as u64
        };
        m.commits = mean_count(|x| x.commits);
        m.adds = mean_count(|x| x.adds);
        m.removes = mean_count(|x| x.removes);
        m.updates = mean_count(|x| x.updates);
        m.members_end = mean_count(|x| x.members_end);
        m.blank_fraction_end = mean(|x| x.blank_fraction_end);
        m.blank_fraction_mean = mean(|x| x.blank_fraction_mean);
        m.blank_fraction_max = those
            .iter()
            .map(|x| x.blank_fraction_max)
            .fold(0.0, f64::max);
        m.committer_cpu_s = mean(|x| x.committer_cpu_s);
        m.joiners_cpu_s = mean(|x| x.joiners_cpu_s);
        m.member_cpu_s = mean(|x| x.member_cpu_s);
        m.measured_member_cpu_s = mean(|x| x.measured_member_cpu_s);
        m.ds_cpu_s = mean(|x| x.ds_cpu_s);
        for x in &those {
            m.roles.absorb(&x.roles, 1.0 / k);
        }
        m.ds_fanout_bytes = mean_count(|x| x.ds_fanout_bytes);
        m.hpke_seals = mean_count(|x| x.hpke_seals);
        m.commit_bytes = mean_count(|x| x.commit_bytes);
        m.ds_ingress_bytes = mean_count(|x| x.ds_ingress_bytes);
        m.ds_egress_bytes = mean_count(|x| x.ds_egress_bytes);
        m.ds_messages_in = mean_count(|x| x.ds_messages_in);
        m.ds_messages_out = mean_count(|x| x.ds_messages_out);
        m.app_messages = mean_count(|x| x.app_messages);
        m.app_ingress_bytes = mean_count(|x| x.app_ingress_bytes);
        m.app_egress_bytes = mean_count(|x| x.app_egress_bytes);
        m.app_member_cpu_s = mean(|x| x.app_member_cpu_s);
        m.key_package_uploads = mean_count(|x| x.key_package_uploads);
        m.key_package_fetches = mean_count(|x| x.key_package_fetches);
        m.key_package_ingress_bytes = mean_count(|x| x.key_package_ingress_bytes);
        m.key_package_egress_bytes = mean_count(|x| x.key_package_egress_bytes);
        m.create_ns = hist_merge(those.iter().map(|x| &x.create_ns))?;
        m.process_ns = hist_merge(those.iter().map(|x| &x.process_ns))?;
        days.push(m);
    }
    let mut kinds: BTreeMap<String, KindCost> = BTreeMap::new();
    for r in runs {
        for (name, kc) in &r.kinds {
            let acc = kinds.entry(name.clone()).or_default();
            acc.commits += kc.commits;
            acc.roles.absorb(&kc.roles, 1.0);
        }
    }
    let percentiles = histograms
        .iter()
        .map(|(name, enc)| Ok((name.clone(), Percentiles::of(&hist_decode(enc)?))))
        .collect::<Result<_>>()?;
    let devices: Vec<&Device> = runs.iter().filter_map(|r| r.device.as_ref()).collect();
    Ok(Point {
        key,
        seeds: runs.iter().map(|r| r.workload.seed).collect(),
        totals,
        histograms,
        percentiles,
        days,
        kinds,
        ds: super::ds::merge(&runs.iter().map(|r| &r.ds).collect::<Vec<_>>()),
        device: (!devices.is_empty()).then(|| Device::merge(&devices)),
    })
}

/// Merge result files (shards of one sweep, or any reports): all their runs, points
/// recomputed. Refuses other schemas and overlapping runs.
pub fn merge(reports: Vec<Report>) -> Result<Report> {
    ensure!(!reports.is_empty(), "nothing to merge");
    let mut runs = Vec::new();
    let mut shards = Vec::new();
    for r in reports {
        if r.schema != SCHEMA || r.schema_version != SCHEMA_VERSION {
            bail!(
                "cannot merge {} v{} (expected {SCHEMA} v{SCHEMA_VERSION})",
                r.schema,
                r.schema_version
            );
        }
        shards.extend(r.shards);
        runs.extend(r.runs);
    }
    shards.sort();
    shards.dedup();
    if let Some(&[_, n]) = shards.first() {
        ensure!(
            shards.iter().all(|s| s[1] == n),
            "shards of different sweeps (different shard counts)"
        );
        let missing: Vec<u32> = (0..n)
            .filter(|i| !shards.iter().any(|s| s[0] == *i))
            .collect();
        if !missing.is_empty() {
            eprintln!("warning: shards {missing:?} of {n} are missing from the merge");
        }
    }
    assemble("merged", shards, runs)
}

/// The current UTC time as `YYYYMMDDTHHMMSSZ`, for result file names.
pub fn now_stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let date = civil(secs / 86_400).replace('-', "");
    let s = secs % 86_400;
    format!("{date}T{:02}{:02}{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

/// Today's UTC date, `YYYY-MM-DD`.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    civil(secs / 86_400)
}

/// The civil date of a day number since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// p50, p90, p99, max of an encoded histogram, or `None` if empty.
pub fn quantiles(encoded: &str) -> Result<Option<[u64; 4]>> {
    let h = hist_decode(encoded)?;
    if h.is_empty() {
        return Ok(None);
    }
    Ok(Some([
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.9),
        h.value_at_quantile(0.99),
        h.max(),
    ]))
}

fn fmt_ns(ns: u64) -> String {
    let s = ns as f64 / 1e9;
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

/// Human-readable bytes (powers of 1024).
pub fn fmt_bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `day D HH:MM` of a minute counted from the start (Monday 00:00).
pub fn fmt_minute(m: u64) -> String {
    const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let day = m / 1440;
    format!(
        "day {day} ({}) {:02}:{:02}",
        WEEKDAYS[(day % 7) as usize],
        m % 1440 / 60,
        m % 60
    )
}

/// The delivery-service lines of the summary of point `p`.
fn ds_summary(out: &mut String, p: &Point) -> Result<()> {
    use std::fmt::Write as _;
    let days = p.days.len().max(1) as f64;
    let per_day = |f: fn(&Day) -> u64| p.days.iter().map(|d| f(d) as f64).sum::<f64>() / days;
    let ds = &p.ds;
    writeln!(
        out,
        "DS per day: ingress {}, egress {} (commits, proposals, Welcomes {}), {:.0} messages in, \
         {:.0} copies out",
        fmt_bytes(per_day(|d| d.ds_ingress_bytes)),
        fmt_bytes(per_day(|d| d.ds_egress_bytes)),
        fmt_bytes(per_day(|d| d.ds_fanout_bytes)),
        per_day(|d| d.ds_messages_in),
        per_day(|d| d.ds_messages_out),
    )?;
    let app = &ds.app_message;
    writeln!(
        out,
        "  application: {:.0} messages per day of {} ({} plaintext), ingress {}, egress {}; per \
         message, profile-based: sender {}, each receiver {}",
        per_day(|d| d.app_messages),
        fmt_bytes(app.wire_bytes as f64),
        fmt_bytes(app.plaintext_bytes as f64),
        fmt_bytes(per_day(|d| d.app_ingress_bytes)),
        fmt_bytes(per_day(|d| d.app_egress_bytes)),
        fmt_ns(app.send_cost_ns.round() as u64),
        fmt_ns(app.receive_cost_ns.round() as u64),
    )?;
    writeln!(
        out,
        "  KeyPackages: {:.1} uploaded ({}) and {:.1} fetched ({}) per day",
        per_day(|d| d.key_package_uploads),
        fmt_bytes(per_day(|d| d.key_package_ingress_bytes)),
        per_day(|d| d.key_package_fetches),
        fmt_bytes(per_day(|d| d.key_package_egress_bytes)),
    )?;
    let when = |minutes: &[u64]| {
        minutes
            .iter()
            .map(|&m| fmt_minute(m))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let pm = &ds.peak_minute;
    writeln!(
        out,
        "DS peak minute ({}): egress {}, ingress {}, {} messages in, {} copies out",
        when(&pm.minutes),
        fmt_bytes(pm.egress_bytes as f64),
        fmt_bytes(pm.ingress_bytes as f64),
        pm.messages_in,
        pm.messages_out
    )?;
    let st = &ds.storage;
    writeln!(
        out,
        "DS storage (start -> end): tree {} -> {}, GroupInfo with tree {} -> {}, KeyPackages {} \
         -> {}; backlog for long-offline devices peak {} ({}), end {}, retention {} days",
        fmt_bytes(st.tree_bytes_start as f64),
        fmt_bytes(st.tree_bytes_end as f64),
        fmt_bytes(st.group_info_bytes_start as f64),
        fmt_bytes(st.group_info_bytes_end as f64),
        fmt_bytes(st.key_package_bytes_start as f64),
        fmt_bytes(st.key_package_bytes_end as f64),
        fmt_bytes(st.backlog_bytes_peak as f64),
        when(&st.backlog_peak_minutes),
        fmt_bytes(st.backlog_bytes_end as f64),
        st.retention_days
    )?;
    Ok(())
}

/// The summary table of one point of `report`, as text.
pub fn summary_table(report: &Report, p: &Point) -> Result<String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    let t = &p.totals;
    let name = p.key.split(':').next().unwrap_or("");
    writeln!(
        out,
        "{name} (seeds {:?}): {} commits ({} updates), +{} / -{} devices, members {} -> {}",
        p.seeds, t.commits, t.update_commits, t.adds, t.removes, t.members_start, t.members_end
    )?;
    writeln!(
        out,
        "checks: {} receiver epoch-authenticator agreements, {} commits' seal counts, {} real \
         joins, {} delivery-service tree-hash agreements",
        t.receiver_checks, t.seal_checks, t.joins_sampled, t.ds_checks
    )?;
    let fast = report
        .runs
        .iter()
        .any(|r| point_key(&r.workload) == p.key && r.sampling.mode == "fast");
    if fast {
        writeln!(
            out,
            "mode: fast: {} of {} commits made with real crypto (the latency rows), the others \
             with simulated crypto; counts, bytes and profile-based CPU of every commit exact",
            t.real_commits, t.commits
        )?;
    } else {
        writeln!(out, "mode: full: every commit made with real crypto")?;
    }
    if t.warmup_commits > 0 {
        writeln!(
            out,
            "warm-up: {} commits over {} days before day 0 (simulated crypto, not recorded)",
            t.warmup_commits,
            report
                .runs
                .iter()
                .find(|r| point_key(&r.workload) == p.key)
                .map_or(0.0, |r| r.workload.warmup_days)
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<30} {:>11} {:>11} {:>11} {:>11} {:>8}",
        "metric", "p50", "p90", "p99", "max", "count"
    )?;
    // The latency rows are wall-clock times on the measuring host (see the host line).
    let rows: [(&str, &str, bool); 12] = [
        ("commit create (latency)", "commit_create_ns", true),
        ("commit process (latency)", "commit_process_ns", true),
        ("DS commit process (latency)", "ds_commit_process_ns", true),
        ("join (latency)", "join_ns", true),
        ("commit bytes", "commit_bytes", false),
        (
            "Welcome bytes (with tree)",
            "welcome_with_tree_bytes",
            false,
        ),
        (
            "Welcome bytes (without tree)",
            "welcome_without_tree_bytes",
            false,
        ),
        ("GroupInfo bytes", "group_info_bytes", false),
        (
            "GroupInfo bytes (with tree)",
            "group_info_with_tree_bytes",
            false,
        ),
        ("HPKE seals per commit", "hpke_seals_per_commit", false),
        ("resolution size", "resolution_size", false),
        (
            "DS burst per commit (egress)",
            "ds_commit_burst_bytes",
            false,
        ),
    ];
    // The two time histograms and the DS burst again by commit kind, where the run had such
    // commits.
    let kinds: Vec<(String, String, bool)> = [
        ("commit_create_ns", "create"),
        ("commit_process_ns", "process"),
        ("ds_commit_burst_bytes", "burst"),
    ]
    .iter()
    .flat_map(|&(h, what)| {
        crate::plan::sim::COMMIT_KINDS.iter().map(move |k| {
            (
                format!("  {what}: {k}"),
                format!("{h}.{k}"),
                h.ends_with("_ns"),
            )
        })
    })
    .collect();
    let rows = rows
        .iter()
        .map(|&(l, k, t)| (l.to_string(), k.to_string(), t))
        .chain(kinds);
    for (label, key, time) in rows {
        let (label, key) = (label.as_str(), key.as_str());
        let Some(enc) = p.histograms.get(key) else {
            continue;
        };
        if key.contains('.') && hist_decode(enc)?.is_empty() {
            continue;
        }
        let h = hist_decode(enc)?;
        let Some(q) = quantiles(enc)? else {
            writeln!(out, "{label:<30} {:>11}", "-")?;
            continue;
        };
        let f = |v: u64| {
            if time {
                fmt_ns(v)
            } else if key.contains("bytes") {
                fmt_bytes(v as f64)
            } else {
                v.to_string()
            }
        };
        writeln!(
            out,
            "{label:<30} {:>11} {:>11} {:>11} {:>11} {:>8}",
            f(q[0]),
            f(q[1]),
            f(q[2]),
            f(q[3]),
            h.len()
        )?;
    }
    writeln!(out)?;
    let days = p.days.len().max(1) as f64;
    let sum = |f: fn(&Day) -> f64| p.days.iter().map(f).sum::<f64>();
    let fanout = sum(|d| d.ds_fanout_bytes as f64);
    let runs = p.seeds.len().max(1) as f64;
    let point_runs: Vec<&Run> = report
        .runs
        .iter()
        .filter(|r| point_key(&r.workload) == p.key)
        .collect();
    let mut sources: Vec<String> = point_runs
        .iter()
        .map(|r| {
            format!(
                "{} ({}, {} build, {})",
                r.profile.source,
                r.profile.profile.host.label(),
                r.profile.profile.host.build_profile,
                r.profile.profile.date
            )
        })
        .collect();
    sources.dedup();
    let mut threads: Vec<String> = point_runs
        .iter()
        .map(|r| format!("{}, {} rayon threads", r.host.label(), r.host.rayon_threads))
        .collect();
    threads.dedup();
    writeln!(
        out,
        "CPU per day (mean over {} days{}), profile-based: exact engine counts x cost profile {}",
        p.days.len(),
        if runs > 1.0 {
            ", each day the mean over runs"
        } else {
            ""
        },
        sources.join("; ")
    )?;
    writeln!(
        out,
        "  committers {:.2} s, receivers (every member processing) {:.1} s, joiners {:.1} s, \
         all members {:.1} s",
        sum(|d| d.roles.committer.cpu_s) / days,
        sum(|d| d.roles.receivers.cpu_s) / days,
        sum(|d| d.roles.joiners.cpu_s) / days,
        sum(|d| d.member_cpu_s) / days,
    )?;
    writeln!(
        out,
        "  measured apart (process CPU time, all threads; {}): committers {:.2} s, receivers \
         {:.1} s, joiners {:.1} s, all members {:.1} s",
        threads.join("; "),
        sum(|d| d.roles.committer.measured_cpu_s) / days,
        sum(|d| d.roles.receivers.measured_cpu_s) / days,
        sum(|d| d.roles.joiners.measured_cpu_s) / days,
        sum(|d| d.measured_member_cpu_s) / days,
    )?;
    writeln!(
        out,
        "  delivery service (checks every commit and proposal on the public state; not a \
         member): {:.2} s profile-based, {:.2} s measured",
        sum(|d| d.roles.delivery_service.cpu_s) / days,
        sum(|d| d.roles.delivery_service.measured_cpu_s) / days,
    )?;
    for (kind, kc) in p.kinds.iter().filter(|(_, k)| k.commits > 0) {
        let n = kc.commits as f64;
        writeln!(
            out,
            "  {kind:<7} {:>6} commits: per commit, profile-based: committer {}, all receivers \
             {}, joiners {}, delivery service {}; measured: committer {}, delivery service {}",
            kc.commits,
            fmt_ns((kc.roles.committer.cpu_s / n * 1e9) as u64),
            fmt_ns((kc.roles.receivers.cpu_s / n * 1e9) as u64),
            fmt_ns((kc.roles.joiners.cpu_s / n * 1e9) as u64),
            fmt_ns((kc.roles.delivery_service.cpu_s / n * 1e9) as u64),
            fmt_ns((kc.roles.committer.measured_cpu_s / n * 1e9) as u64),
            fmt_ns((kc.roles.delivery_service.measured_cpu_s / n * 1e9) as u64),
        )?;
    }
    writeln!(out, "DS fan-out per day {}", fmt_bytes(fanout / days))?;
    if p.ds.hours > 0 {
        ds_summary(&mut out, p)?;
    }
    if let Some(device) = &p.device {
        out.push_str(&device.summary()?);
    }
    for r in &point_runs {
        for w in &r.host.warnings {
            writeln!(out, "warning (seed {}): {w}", r.workload.seed)?;
        }
        // The profile's own host, when it was measured: its costs are inflated too.
        for w in &r.profile.profile.host.warnings {
            writeln!(
                out,
                "warning (seed {}, cost profile {}): {w}",
                r.workload.seed, r.profile.source
            )?;
        }
    }
    let peak = p
        .days
        .iter()
        .max_by(|a, b| a.member_cpu_s.total_cmp(&b.member_cpu_s));
    if let Some(d) = peak {
        writeln!(
            out,
            "busiest day {}: all members {:.1} CPU-s profile-based ({:.3} per member), DS fan-out {}",
            d.day,
            d.member_cpu_s,
            d.member_cpu_s / d.members_end.max(1) as f64,
            fmt_bytes(d.ds_fanout_bytes as f64)
        )?;
    }
    write!(
        out,
        "blank fraction (parents): start {:.3}",
        t.blank_fraction_start
    )?;
    for d in p.days.iter().step_by((p.days.len() / 6).max(1)) {
        write!(out, ", day {} {:.3}", d.day, d.blank_fraction_end)?;
    }
    if let Some(d) = p.days.last() {
        write!(out, ", end {:.3}", d.blank_fraction_end)?;
    }
    writeln!(out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_round_trip_and_merge_exactly() {
        let mut a: Histogram<u64> = Histogram::new(3).unwrap();
        let mut b: Histogram<u64> = Histogram::new(3).unwrap();
        for v in 1..1000u64 {
            a.record(v * 1_000).unwrap();
            b.record(v * 7_919 + 3).unwrap();
        }
        let ea = hist_encode(&a).unwrap();
        assert_eq!(hist_decode(&ea).unwrap(), a);
        let m = hist_decode(&hist_merge([&ea, &hist_encode(&b).unwrap()]).unwrap()).unwrap();
        let mut sum = a.clone();
        sum.add(&b).unwrap();
        assert_eq!(m, sum);
        assert_eq!(m.len(), 1998);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), "1970-01-01");
        assert_eq!(civil(20_819), "2027-01-01");
        assert_eq!(civil(11_016), "2000-02-29");
    }
}
