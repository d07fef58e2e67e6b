//! The per-device view of a run: what one member's device pays per day (bytes down and up,
//! messages delivered to it, CPU under the cost profile), what joining costs it once, the
//! size of its state, and what it costs to catch up after k days offline.
//!
//! A **typical online device** is the mean over the members that are not long offline, each
//! weighted by the time it is a member: every per-day figure is a sum over the run divided
//! by the run's online member-days (∫ online members dt, in days). Long-offline members are
//! left out because they never send; they receive the same messages, later (their backlog is
//! what [`CatchUp`] prices). The sampled receivers that were members for the whole run are
//! real devices whose own exact figures give the spread ([`Spread`]).
//!
//! The terms are kept per class of message ([`MESSAGE_CLASSES`]): for each, what the device
//! receives (messages, bytes, the CPU of processing them) and what it sends (messages, bytes,
//! the CPU of creating them). A day's totals are sums over the classes ([`DeviceDay::of`]),
//! so another kind of traffic is one more class, accumulated where the simulation handles
//! those messages.
//!
//! # Internal documentation
//!
//! The simulation feeds a [`DeviceAcc`] as it goes (run sums, not yet per day) and calls
//! [`DeviceAcc::finish`] at the end; [`Device::merge`] combines the runs of a sweep point
//! (means over the seeds, receivers pooled, worst windows the worst of any seed).

use std::collections::BTreeMap;

use canopy_workloads::churn::{MemberId, DAY};
use serde::{Deserialize, Serialize};

use super::report::{fmt_bytes, RoleCost};
use crate::costs::{add_counts, add_work, CostProfile, Work};

/// The classes of message a device receives or sends, in the order reports show them:
/// commits (received: every other member's; sent: its own), standalone Update proposals,
/// and the Welcome a committer uploads with a commit that adds members (a joiner's own
/// Welcome is in [`Joining`]).
pub const MESSAGE_CLASSES: [&str; 3] = ["commit", "update_proposal", "welcome"];

/// One class of message, for a typical online device: per day in a [`Device`], summed over
/// the run in a [`DeviceAcc`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MessageClass {
    /// Messages delivered to the device.
    pub received: f64,
    /// Their bytes.
    pub received_bytes: f64,
    /// Messages the device sends.
    pub sent: f64,
    /// Their bytes.
    pub sent_bytes: f64,
    /// Processing the received messages: counts, profile-based and measured CPU.
    pub processing: RoleCost,
    /// Creating the sent messages.
    pub sending: RoleCost,
}

impl MessageClass {
    /// Add `scale` × `other`.
    fn absorb(&mut self, other: &MessageClass, scale: f64) {
        self.received += other.received * scale;
        self.received_bytes += other.received_bytes * scale;
        self.sent += other.sent * scale;
        self.sent_bytes += other.sent_bytes * scale;
        self.processing.absorb(&other.processing, scale);
        self.sending.absorb(&other.sending, scale);
    }
}

/// A device's day: the sums over its message classes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DeviceDay {
    /// Bytes delivered to the device.
    pub bytes_down: f64,
    /// Bytes it sends.
    pub bytes_up: f64,
    /// Messages delivered to it: each wakes it (an upper bound where the delivery service
    /// batches messages).
    pub wakeups: f64,
    /// Messages it sends.
    pub sent: f64,
    /// CPU seconds, profile-based (the engine's exact counts × the cost profile).
    pub cpu_s: f64,
    /// CPU seconds measured (process CPU time, all threads, on the measuring host).
    pub measured_cpu_s: f64,
}

impl DeviceDay {
    /// The totals of `classes`.
    pub fn of(classes: &BTreeMap<String, MessageClass>) -> Self {
        let mut d = DeviceDay::default();
        for c in classes.values() {
            d.bytes_down += c.received_bytes;
            d.bytes_up += c.sent_bytes;
            d.wakeups += c.received;
            d.sent += c.sent;
            d.cpu_s += c.processing.cpu_s + c.sending.cpu_s;
            d.measured_cpu_s += c.processing.measured_cpu_s + c.sending.measured_cpu_s;
        }
        d
    }

    /// The figures in a fixed order (for percentiles figure by figure).
    fn figures(&self) -> [f64; 6] {
        [
            self.bytes_down,
            self.bytes_up,
            self.wakeups,
            self.sent,
            self.cpu_s,
            self.measured_cpu_s,
        ]
    }

    /// The inverse of [`DeviceDay::figures`].
    fn from_figures(f: [f64; 6]) -> Self {
        DeviceDay {
            bytes_down: f[0],
            bytes_up: f[1],
            wakeups: f[2],
            sent: f[3],
            cpu_s: f[4],
            measured_cpu_s: f[5],
        }
    }
}

/// The spread of the sampled receivers' own days: each figure's percentile on its own
/// (nearest rank), so the p50 of one figure and of another may be different receivers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Spread {
    /// Receivers behind the percentiles.
    pub receivers: u64,
    /// Median.
    pub p50: DeviceDay,
    /// 99th percentile (the largest value below 100 receivers).
    pub p99: DeviceDay,
}

/// The nearest-rank `q` quantile of each figure of `days` (`None` if empty).
fn spread(days: &[DeviceDay]) -> Option<Spread> {
    if days.is_empty() {
        return None;
    }
    let at = |q: f64| {
        let mut out = [0.0; 6];
        for (i, o) in out.iter_mut().enumerate() {
            let mut v: Vec<f64> = days.iter().map(|d| d.figures()[i]).collect();
            v.sort_by(f64::total_cmp);
            let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
            *o = v[rank - 1];
        }
        DeviceDay::from_figures(out)
    };
    Some(Spread {
        receivers: days.len() as u64,
        p50: at(0.5),
        p99: at(0.99),
    })
}

/// What joining costs a device, once.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Joining {
    /// Devices that joined in the run (in a point: the mean over its runs).
    pub joiners: f64,
    /// Bytes down per joiner: its Welcome, and the ratchet tree when Welcomes do not carry it.
    pub welcome_bytes: f64,
    /// Bytes up per joiner: its KeyPackage (an MLSMessage).
    pub key_package_bytes: f64,
    /// One join (`Group::join`): the mean of the sampled real joins.
    pub join: RoleCost,
}

/// A device's state at the end of the run: what it must keep to stay a member, encoded.
/// The in-memory state is larger (the tree's hash cache and key index; see the
/// `member_live_bytes` example).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StateSize {
    /// The sum of the parts below.
    pub bytes: f64,
    /// The ratchet tree in its wire form (the `ratchet_tree` extension body).
    pub tree_bytes: f64,
    /// The group context, encoded.
    pub group_context_bytes: f64,
    /// Its private keys: the HPKE keys of its leaf and of the direct-path nodes it holds,
    /// and its signature key (mean over the sampled receivers).
    pub private_key_bytes: f64,
}

impl StateSize {
    /// A state from its parts.
    pub fn new(tree_bytes: f64, group_context_bytes: f64, private_key_bytes: f64) -> Self {
        StateSize {
            bytes: tree_bytes + group_context_bytes + private_key_bytes,
            tree_bytes,
            group_context_bytes,
            private_key_bytes,
        }
    }
}

/// The backlog of a window: what a device that was offline through it receives and
/// processes when it returns.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Backlog {
    /// Messages (commits and the Update proposals they include).
    pub messages: f64,
    /// Their bytes.
    pub bytes: f64,
    /// Processing them in order, profile-based: for each commit the sampled receivers' mean
    /// exact counts × the profile.
    pub cpu_s: f64,
    /// The same, measured.
    pub measured_cpu_s: f64,
}

/// Catch-up after `days` days offline.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CatchUp {
    /// Days offline.
    pub days: u32,
    /// Windows of a run: every `days`-day window starting at a whole day and ending within
    /// the run.
    pub windows: u64,
    /// Each figure's mean over the windows (in a point: the mean over its runs).
    pub mean: Backlog,
    /// Each figure's largest value over the windows (in a point: over every run's windows).
    pub worst: Backlog,
}

/// The per-device view of a run or a point (docs/plan-schema.md, `device`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Device {
    /// Online members at the start.
    pub online_start: f64,
    /// ∫ members dt over the run, in days.
    pub member_days: f64,
    /// ∫ online members dt over the run, in days: the denominator of the per-day figures.
    pub online_member_days: f64,
    /// A typical online device's day: the sums of `messages`.
    pub per_day: DeviceDay,
    /// A typical online device's day by message class ([`MESSAGE_CLASSES`]).
    pub messages: BTreeMap<String, MessageClass>,
    /// The days of the sampled receivers that were members for the whole run, each from its
    /// own exact work and messages.
    pub receivers: Vec<DeviceDay>,
    /// Their spread (absent without such receivers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver_spread: Option<Spread>,
    /// Joining, once.
    pub joining: Joining,
    /// The state at the end of the run.
    pub state: StateSize,
    /// Catch-up after k days offline, for each k asked for that fits in the run.
    pub catch_up: Vec<CatchUp>,
}

impl Device {
    /// The view of a sweep point from its runs' views: every figure the mean over the runs
    /// (a run is one possible month of the same group, so a sum would grow with the number
    /// of seeds), the receivers pooled, each worst window the worst of any run, and the
    /// joining figures the mean over the runs that had joiners.
    pub fn merge(runs: &[&Device]) -> Device {
        if runs.is_empty() {
            return Device::default();
        }
        let k = runs.len() as f64;
        let mean = |f: fn(&Device) -> f64| runs.iter().map(|d| f(d)).sum::<f64>() / k;
        let mut messages: BTreeMap<String, MessageClass> = BTreeMap::new();
        for d in runs {
            for (name, c) in &d.messages {
                messages.entry(name.clone()).or_default().absorb(c, 1.0 / k);
            }
        }
        let receivers: Vec<DeviceDay> = runs
            .iter()
            .flat_map(|d| d.receivers.iter().cloned())
            .collect();
        let joined: Vec<&&Device> = runs.iter().filter(|d| d.joining.joiners > 0.0).collect();
        let mut joining = Joining {
            joiners: mean(|d| d.joining.joiners),
            ..Joining::default()
        };
        for d in &joined {
            let s = 1.0 / joined.len() as f64;
            joining.welcome_bytes += d.joining.welcome_bytes * s;
            joining.key_package_bytes += d.joining.key_package_bytes * s;
            joining.join.absorb(&d.joining.join, s);
        }
        let mut catch_up: Vec<CatchUp> = Vec::new();
        let mut ks: Vec<u32> = runs
            .iter()
            .flat_map(|d| d.catch_up.iter().map(|c| c.days))
            .collect();
        ks.sort_unstable();
        ks.dedup();
        for days in ks {
            let those: Vec<&CatchUp> = runs
                .iter()
                .filter_map(|d| d.catch_up.iter().find(|c| c.days == days))
                .collect();
            let n = those.len() as f64;
            let mut c = CatchUp {
                days,
                windows: those[0].windows,
                ..CatchUp::default()
            };
            for x in &those {
                c.mean.messages += x.mean.messages / n;
                c.mean.bytes += x.mean.bytes / n;
                c.mean.cpu_s += x.mean.cpu_s / n;
                c.mean.measured_cpu_s += x.mean.measured_cpu_s / n;
                c.worst.messages = c.worst.messages.max(x.worst.messages);
                c.worst.bytes = c.worst.bytes.max(x.worst.bytes);
                c.worst.cpu_s = c.worst.cpu_s.max(x.worst.cpu_s);
                c.worst.measured_cpu_s = c.worst.measured_cpu_s.max(x.worst.measured_cpu_s);
            }
            catch_up.push(c);
        }
        Device {
            online_start: mean(|d| d.online_start),
            member_days: mean(|d| d.member_days),
            online_member_days: mean(|d| d.online_member_days),
            per_day: DeviceDay::of(&messages),
            messages,
            receiver_spread: spread(&receivers),
            receivers,
            joining,
            state: StateSize::new(
                mean(|d| d.state.tree_bytes),
                mean(|d| d.state.group_context_bytes),
                mean(|d| d.state.private_key_bytes),
            ),
            catch_up,
        }
    }
}

/// CPU seconds for reading: s, ms or µs.
pub fn fmt_secs(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

impl Device {
    /// The view as lines of text (the summary table's per-device part).
    pub fn summary(&self) -> Result<String, std::fmt::Error> {
        use std::fmt::Write as _;
        let mut out = String::new();
        let d = &self.per_day;
        writeln!(
            out,
            "per device (a typical online device: mean over {:.1} online member-days; CPU \
             profile-based, measured apart), per day:",
            self.online_member_days
        )?;
        writeln!(
            out,
            "  down {} in {:.1} messages (wake-ups), up {} in {:.2} messages, CPU {} \
             (measured {})",
            fmt_bytes(d.bytes_down),
            d.wakeups,
            fmt_bytes(d.bytes_up),
            d.sent,
            fmt_secs(d.cpu_s),
            fmt_secs(d.measured_cpu_s)
        )?;
        for name in MESSAGE_CLASSES {
            let Some(c) = self.messages.get(name) else {
                continue;
            };
            if c.received == 0.0 && c.sent == 0.0 {
                continue;
            }
            writeln!(
                out,
                "    {name:<16} received {:>9.2} {:>10} processing {:>9} | sent {:>7.3} \
                 {:>10} sending {:>9}",
                c.received,
                fmt_bytes(c.received_bytes),
                fmt_secs(c.processing.cpu_s),
                c.sent,
                fmt_bytes(c.sent_bytes),
                fmt_secs(c.sending.cpu_s)
            )?;
        }
        if let Some(s) = &self.receiver_spread {
            writeln!(
                out,
                "  sampled receivers that were members all along ({}): down p50 {} p99 {}, up \
                 p50 {} p99 {}, wake-ups p50 {:.1} p99 {:.1}, CPU p50 {} p99 {}",
                s.receivers,
                fmt_bytes(s.p50.bytes_down),
                fmt_bytes(s.p99.bytes_down),
                fmt_bytes(s.p50.bytes_up),
                fmt_bytes(s.p99.bytes_up),
                s.p50.wakeups,
                s.p99.wakeups,
                fmt_secs(s.p50.cpu_s),
                fmt_secs(s.p99.cpu_s)
            )?;
        }
        let j = &self.joining;
        if j.joiners > 0.0 {
            writeln!(
                out,
                "  joining, once: Welcome {} down, KeyPackage {} up, join CPU {} (measured {})",
                fmt_bytes(j.welcome_bytes),
                fmt_bytes(j.key_package_bytes),
                fmt_secs(j.join.cpu_s),
                fmt_secs(j.join.measured_cpu_s)
            )?;
        }
        let st = &self.state;
        writeln!(
            out,
            "  state at the end, encoded: {} (ratchet tree {}, group context {}, private keys {})",
            fmt_bytes(st.bytes),
            fmt_bytes(st.tree_bytes),
            fmt_bytes(st.group_context_bytes),
            fmt_bytes(st.private_key_bytes)
        )?;
        for c in &self.catch_up {
            writeln!(
                out,
                "  catch-up after {} day{} offline ({} window{}): mean {:.1} messages, {}, CPU \
                 {}; worst {:.0} messages, {}, CPU {}",
                c.days,
                if c.days == 1 { "" } else { "s" },
                c.windows,
                if c.windows == 1 { "" } else { "s" },
                c.mean.messages,
                fmt_bytes(c.mean.bytes),
                fmt_secs(c.mean.cpu_s),
                c.worst.messages,
                fmt_bytes(c.worst.bytes),
                fmt_secs(c.worst.cpu_s)
            )?;
        }
        Ok(out)
    }
}

/// One sampled receiver's own messages and work over the run.
#[derive(Debug, Clone, Default)]
pub struct ReceiverAcc {
    /// Messages delivered to it.
    pub received: f64,
    /// Their bytes.
    pub received_bytes: f64,
    /// Messages it sent.
    pub sent: f64,
    /// Their bytes.
    pub sent_bytes: f64,
    /// Its exact counts: processing, and creating its own commits and proposals.
    pub work: Work,
    /// Its measured CPU time, ns.
    pub measured_ns: f64,
}

impl ReceiverAcc {
    /// Count a message delivered to it, processed with `work` in `measured_ns`.
    pub fn receive(&mut self, bytes: u64, work: &canopy_engine::metrics::Counts, ns: u64) {
        self.received += 1.0;
        self.received_bytes += bytes as f64;
        add_counts(&mut self.work, work, 1.0);
        self.measured_ns += ns as f64;
    }

    /// Count a message it sent, created with `work` in `measured_ns`.
    pub fn send(&mut self, bytes: u64, work: &Work, measured_ns: f64) {
        self.sent += 1.0;
        self.sent_bytes += bytes as f64;
        add_work(&mut self.work, work, 1.0);
        self.measured_ns += measured_ns;
    }
}

/// One commit's backlog for a device that was offline: the commit and the proposals it
/// includes.
#[derive(Debug, Clone)]
struct BacklogEntry {
    time: f64,
    messages: f64,
    bytes: f64,
    work: Work,
    measured_ns: f64,
}

/// The per-device accumulators of one simulation.
#[derive(Debug, Clone, Default)]
pub struct DeviceAcc {
    /// Run sums per class for the typical online device (divided by the online member-days
    /// at the end).
    messages: BTreeMap<String, MessageClass>,
    /// Online members now (present and not long offline).
    pub online: u64,
    online_start: u64,
    /// ∫ members dt and ∫ online members dt so far, in seconds, up to `last_time`.
    member_seconds: f64,
    online_seconds: f64,
    last_time: f64,
    /// The sampled receivers chosen at the start that are still members.
    receivers: BTreeMap<MemberId, ReceiverAcc>,
    backlog: Vec<BacklogEntry>,
    joiners: u64,
    welcome_bytes: f64,
    key_package_bytes: f64,
}

impl DeviceAcc {
    /// Start with `online` online members and the sampled receivers `receivers`.
    pub fn new(online: u64, receivers: impl IntoIterator<Item = MemberId>) -> Self {
        DeviceAcc {
            messages: MESSAGE_CLASSES
                .iter()
                .map(|c| (c.to_string(), MessageClass::default()))
                .collect(),
            online,
            online_start: online,
            receivers: receivers
                .into_iter()
                .map(|m| (m, ReceiverAcc::default()))
                .collect(),
            ..DeviceAcc::default()
        }
    }

    /// The membership was `members` (`online` of them online) from the last call to `time`.
    pub fn advance(&mut self, time: f64, members: u64, online: u64) {
        let dt = (time - self.last_time).max(0.0);
        self.member_seconds += members as f64 * dt;
        self.online_seconds += online as f64 * dt;
        self.last_time = self.last_time.max(time);
    }

    /// The run sums of the class `name` (one of [`MESSAGE_CLASSES`]).
    pub fn class(&mut self, name: &str) -> &mut MessageClass {
        self.messages.entry(name.to_string()).or_default()
    }

    /// The accumulator of sampled receiver `m`, if it was sampled at the start and is still a
    /// member.
    pub fn receiver(&mut self, m: MemberId) -> Option<&mut ReceiverAcc> {
        self.receivers.get_mut(&m)
    }

    /// Sampled receiver `m` left the group: it was not a member for the whole run.
    pub fn receiver_left(&mut self, m: MemberId) {
        self.receivers.remove(&m);
    }

    /// A commit at `time` that a returning device receives: `messages` messages (the commit
    /// and the proposals it includes) of `bytes` bytes, processed with `work` (the sampled
    /// receivers' mean) in `measured_ns`.
    pub fn backlog(&mut self, time: f64, messages: f64, bytes: f64, work: Work, measured_ns: f64) {
        self.backlog.push(BacklogEntry {
            time,
            messages,
            bytes,
            work,
            measured_ns,
        });
    }

    /// A commit added `joiners` devices, each downloading `welcome_bytes` and having uploaded
    /// `key_package_bytes` (sums over the joiners).
    pub fn joined(&mut self, joiners: u64, welcome_bytes: f64, key_package_bytes: f64) {
        self.joiners += joiners;
        self.welcome_bytes += welcome_bytes;
        self.key_package_bytes += key_package_bytes;
    }

    /// The view of the run: `days` simulated days ending with `members` members (`online`
    /// online), priced by `profile`; catch-up for each of `catch_up_days` that fits.
    #[allow(clippy::too_many_arguments)]
    pub fn finish(
        mut self,
        days: f64,
        members: u64,
        profile: &CostProfile,
        catch_up_days: &[u32],
        join: RoleCost,
        state: StateSize,
    ) -> Device {
        let online = self.online;
        self.advance(days * DAY, members, online);
        let member_days = self.member_seconds / DAY;
        let online_member_days = self.online_seconds / DAY;
        let per = if online_member_days > 0.0 {
            1.0 / online_member_days
        } else {
            0.0
        };
        let mut messages = BTreeMap::new();
        for (name, c) in &self.messages {
            let mut m = MessageClass::default();
            m.absorb(c, per);
            messages.insert(name.clone(), m);
        }
        let receivers: Vec<DeviceDay> = self
            .receivers
            .values()
            .map(|r| DeviceDay {
                bytes_down: r.received_bytes / days,
                bytes_up: r.sent_bytes / days,
                wakeups: r.received / days,
                sent: r.sent / days,
                cpu_s: profile.ns(&r.work) * 1e-9 / days,
                measured_cpu_s: r.measured_ns * 1e-9 / days,
            })
            .collect();
        let joiners = self.joiners as f64;
        let joining = if self.joiners > 0 {
            Joining {
                joiners,
                welcome_bytes: self.welcome_bytes / joiners,
                key_package_bytes: self.key_package_bytes / joiners,
                join,
            }
        } else {
            Joining::default()
        };
        let catch_up = catch_up_days
            .iter()
            .filter_map(|&k| catch_up(&self.backlog, days, k, profile))
            .collect();
        Device {
            online_start: self.online_start as f64,
            member_days,
            online_member_days,
            per_day: DeviceDay::of(&messages),
            messages,
            receiver_spread: spread(&receivers),
            receivers,
            joining,
            state,
            catch_up,
        }
    }
}

/// Catch-up after `k` days offline over a run of `days` days: every `k`-day window starting
/// at a whole day and ending within the run (`None` if none fits).
fn catch_up(entries: &[BacklogEntry], days: f64, k: u32, profile: &CostProfile) -> Option<CatchUp> {
    let k_days = f64::from(k);
    if k == 0 || k_days > days {
        return None;
    }
    let windows = (days - k_days).floor() as u64 + 1;
    let mut mean = Backlog::default();
    let mut worst = Backlog::default();
    for d in 0..windows {
        let start = d as f64 * DAY;
        let end = start + k_days * DAY;
        let mut w = Backlog::default();
        let mut ns = 0.0;
        let mut measured_ns = 0.0;
        for e in entries.iter().filter(|e| e.time >= start && e.time < end) {
            w.messages += e.messages;
            w.bytes += e.bytes;
            ns += profile.ns(&e.work);
            measured_ns += e.measured_ns;
        }
        w.cpu_s = ns * 1e-9;
        w.measured_cpu_s = measured_ns * 1e-9;
        mean.messages += w.messages;
        mean.bytes += w.bytes;
        mean.cpu_s += w.cpu_s;
        mean.measured_cpu_s += w.measured_cpu_s;
        worst.messages = worst.messages.max(w.messages);
        worst.bytes = worst.bytes.max(w.bytes);
        worst.cpu_s = worst.cpu_s.max(w.cpu_s);
        worst.measured_cpu_s = worst.measured_cpu_s.max(w.measured_cpu_s);
    }
    let n = windows as f64;
    mean.messages /= n;
    mean.bytes /= n;
    mean.cpu_s /= n;
    mean.measured_cpu_s /= n;
    Some(CatchUp {
        days: k,
        windows,
        mean,
        worst,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::costs::HostInfo;

    fn entry(time: f64, bytes: f64, dh: f64) -> BacklogEntry {
        BacklogEntry {
            time,
            messages: 1.0,
            bytes,
            work: [("x25519_dh".to_string(), dh)].into(),
            measured_ns: 0.0,
        }
    }

    #[test]
    fn catch_up_windows_start_on_whole_days_and_end_in_the_run() {
        let profile = CostProfile::from_costs(HostInfo::default(), |_| 1.0);
        let entries = [
            entry(0.0, 10.0, 1.0),
            entry(0.5 * DAY, 20.0, 2.0),
            entry(DAY, 40.0, 4.0),
            entry(2.9 * DAY, 80.0, 8.0),
        ];
        // 3 days: windows [0,1), [1,2), [2,3) for k = 1; [0,2), [1,3) for k = 2.
        let one = catch_up(&entries, 3.0, 1, &profile).unwrap();
        assert_eq!(one.windows, 3);
        assert_eq!(one.mean.bytes, (30.0 + 40.0 + 80.0) / 3.0);
        assert_eq!(one.worst.bytes, 80.0);
        assert_eq!(one.worst.messages, 2.0);
        assert_eq!(one.worst.cpu_s, 8e-9);
        let two = catch_up(&entries, 3.0, 2, &profile).unwrap();
        assert_eq!(two.windows, 2);
        assert_eq!(two.mean.bytes, (70.0 + 120.0) / 2.0);
        assert!(catch_up(&entries, 3.0, 4, &profile).is_none());
        assert!(catch_up(&entries, 2.5, 3, &profile).is_none());
        assert_eq!(catch_up(&entries, 2.5, 1, &profile).unwrap().windows, 2);
    }

    #[test]
    fn spread_is_nearest_rank_per_figure() {
        let days: Vec<DeviceDay> = (1..=8)
            .map(|i| DeviceDay {
                bytes_down: f64::from(i),
                cpu_s: f64::from(9 - i),
                ..DeviceDay::default()
            })
            .collect();
        let s = spread(&days).unwrap();
        assert_eq!(s.receivers, 8);
        assert_eq!(s.p50.bytes_down, 4.0);
        assert_eq!(s.p99.bytes_down, 8.0);
        assert_eq!(s.p50.cpu_s, 4.0);
        assert_eq!(s.p99.cpu_s, 8.0);
        assert!(spread(&[]).is_none());
    }
}
