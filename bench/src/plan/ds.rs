//! The delivery service's traffic and storage: what the DS of the simulated group receives
//! and sends per hour and in its busiest minute, the burst of each commit, what it stores,
//! and the application and KeyPackage traffic beside the commits.
//!
//! The simulation hands every message it makes to a [`Recorder`] at the time the DS gets it:
//! each commit (fanned out to every other member at the time), each Update proposal (at the
//! time it was sent), each Welcome (one copy per joiner) and the tree for joiners when
//! Welcomes do not carry it, and the KeyPackages of every joining device. Application
//! messages do not change the group, so they are not sent one by one: their number per
//! minute follows the arrival profile and the online membership of that minute (see
//! [`Recorder::finish`]), and each is the size of one real PrivateMessage encrypted by the
//! engine at the run's settings ([`AppMessage`]). The model is documented in
//! `docs/capacity-planning.md`, the fields in `docs/plan-schema.md`.
//!
//! # Internal documentation
//!
//! Traffic is kept per minute (a sparse map of the minutes with messages), and
//! [`Recorder::finish`] walks every minute of the run once: it adds the minute's application
//! messages, sums minutes into hours and days, finds the peak minute and slides the
//! retention window over the bytes held for long-offline devices.

use std::collections::{BTreeMap, VecDeque};

use anyhow::{anyhow, Result};
use canopy_workloads::churn::{ArrivalShape, Workload, DAY};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::report::hist_encode;
use super::sim::COMMIT_KINDS;
use crate::costs::{add_work, Work};

/// Seconds per minute.
const MINUTE: f64 = 60.0;

/// The delivery service's figures of a run (or, in a point, the mean over its runs).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DsReport {
    /// Length of every hourly series: the run's hours, `ceil(days × 24)` (hour `h` is
    /// `[h, h + 1)` hours from the start, Monday 00:00). 0 in files written before the model.
    pub hours: u64,
    /// Per-hour series, each `hours` long.
    pub hourly: Hourly,
    /// The busiest minute of the run: the most bytes sent.
    pub peak_minute: PeakMinute,
    /// What the DS stores.
    pub storage: Storage,
    /// One application message: its sizes and its members' work.
    pub app_message: AppMessage,
}

/// Per-hour series (bytes and messages over the hour).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Hourly {
    /// Bytes members send to the DS: commits, Update proposals, Welcomes, application
    /// messages and KeyPackages.
    pub ingress_bytes: Vec<u64>,
    /// Bytes the DS sends: each commit, proposal and application message to every other
    /// member, each Welcome (and tree, when Welcomes do not carry it) to each joiner, each
    /// KeyPackage to the committer that adds its device.
    pub egress_bytes: Vec<u64>,
    /// Messages members send.
    pub messages_in: Vec<u64>,
    /// Copies the DS sends.
    pub messages_out: Vec<u64>,
    /// The part of `egress_bytes` that is commits, proposals, Welcomes and trees: per day,
    /// the day's `ds_fanout_bytes`.
    pub commit_egress_bytes: Vec<u64>,
    /// Application messages sent.
    pub app_messages: Vec<u64>,
    /// Bytes queued for long-offline devices (copies they never fetch).
    pub held_bytes: Vec<u64>,
    /// Bytes held for long-offline devices at the end of the hour (the last
    /// `ds_retention_days` of `held_bytes`, by the minute).
    pub backlog_bytes: Vec<u64>,
}

/// The busiest minute (most bytes sent; the earliest of equals).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PeakMinute {
    /// The minute, counted from the start (Monday 00:00), of each run: one in a run, one
    /// per seed in a point.
    pub minutes: Vec<u64>,
    /// Bytes received in that minute.
    pub ingress_bytes: u64,
    /// Bytes sent in that minute.
    pub egress_bytes: u64,
    /// Messages received.
    pub messages_in: u64,
    /// Copies sent.
    pub messages_out: u64,
}

/// What the DS stores.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Storage {
    /// How long a message is held for a device that has not fetched it, days.
    pub retention_days: f64,
    /// The ratchet tree (the `ratchet_tree` extension's body) at the start and the end.
    pub tree_bytes_start: u64,
    /// See `tree_bytes_start`.
    pub tree_bytes_end: u64,
    /// The GroupInfo as published for external joins (an MLSMessage with `external_pub` and
    /// the tree), at the start and the end.
    pub group_info_bytes_start: u64,
    /// See `group_info_bytes_start`.
    pub group_info_bytes_end: u64,
    /// KeyPackages kept on the DS (`key_packages_per_device` per present device).
    pub key_package_bytes_start: u64,
    /// See `key_package_bytes_start`.
    pub key_package_bytes_end: u64,
    /// The largest backlog held for long-offline devices, bytes.
    pub backlog_bytes_peak: u64,
    /// The minute of that peak, per run (one per seed in a point).
    pub backlog_peak_minutes: Vec<u64>,
    /// The backlog at the end of the run.
    pub backlog_bytes_end: u64,
}

/// One application message, encrypted by the engine at the run's settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AppMessage {
    /// Plaintext bytes (`app_message_bytes`).
    pub plaintext_bytes: u64,
    /// The MLSMessage(PrivateMessage) as sent (no padding: the engine pads none).
    pub wire_bytes: u64,
    /// The sender's engine counts for `Group::protect_application`.
    pub send_counts: Work,
    /// One receiver's engine counts for `Group::unprotect_application`.
    pub receive_counts: Work,
    /// `send_counts` priced by the run's cost profile, ns.
    pub send_cost_ns: f64,
    /// `receive_counts` priced by the run's cost profile, ns.
    pub receive_cost_ns: f64,
}

/// A day's delivery-service totals (copied into the report's `days[]`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DayTraffic {
    /// Σ of the day's hourly `ingress_bytes`.
    pub ingress_bytes: u64,
    /// Σ of the day's hourly `egress_bytes`.
    pub egress_bytes: u64,
    /// Σ of the day's hourly `messages_in`.
    pub messages_in: u64,
    /// Σ of the day's hourly `messages_out`.
    pub messages_out: u64,
    /// Application messages sent.
    pub app_messages: u64,
    /// Their bytes received.
    pub app_ingress_bytes: u64,
    /// Their copies' bytes sent.
    pub app_egress_bytes: u64,
    /// Members' CPU for them (profile-based): each sender's encryption and every other
    /// member's decryption, seconds.
    pub app_member_cpu_s: f64,
    /// KeyPackages uploaded.
    pub key_package_uploads: u64,
    /// KeyPackages fetched (one per joining device).
    pub key_package_fetches: u64,
    /// Bytes of the uploads.
    pub key_package_ingress_bytes: u64,
    /// Bytes of the fetches.
    pub key_package_egress_bytes: u64,
}

/// Traffic of one minute.
#[derive(Debug, Clone, Copy, Default)]
struct Traffic {
    ingress_bytes: u64,
    egress_bytes: u64,
    messages_in: u64,
    messages_out: u64,
    commit_egress_bytes: u64,
    held_bytes: u64,
    app_messages: u64,
    app_ingress_bytes: u64,
    app_egress_bytes: u64,
    key_package_uploads: u64,
    key_package_fetches: u64,
    key_package_ingress_bytes: u64,
    key_package_egress_bytes: u64,
}

impl Traffic {
    fn add(&mut self, o: &Traffic) {
        self.ingress_bytes += o.ingress_bytes;
        self.egress_bytes += o.egress_bytes;
        self.messages_in += o.messages_in;
        self.messages_out += o.messages_out;
        self.commit_egress_bytes += o.commit_egress_bytes;
        self.held_bytes += o.held_bytes;
        self.app_messages += o.app_messages;
        self.app_ingress_bytes += o.app_ingress_bytes;
        self.app_egress_bytes += o.app_egress_bytes;
        self.key_package_uploads += o.key_package_uploads;
        self.key_package_fetches += o.key_package_fetches;
        self.key_package_ingress_bytes += o.key_package_ingress_bytes;
        self.key_package_egress_bytes += o.key_package_egress_bytes;
    }
}

/// The figures of a finished run: the report, the days' totals, the burst histograms.
#[derive(Debug)]
pub struct Finished {
    /// The run's `ds`.
    pub report: DsReport,
    /// One per simulated day.
    pub days: Vec<DayTraffic>,
    /// Histograms by name (`ds_commit_burst_bytes` and one per commit kind), encoded.
    pub histograms: Vec<(String, String)>,
}

/// Collects a run's delivery-service traffic as the simulation makes its messages.
#[derive(Debug)]
pub struct Recorder {
    /// Traffic by minute from the start (only minutes with commit-related messages).
    minutes: BTreeMap<u64, Traffic>,
    /// (time, present devices, of which online) from the start and after each commit.
    membership: Vec<(f64, u64, u64)>,
    /// Egress bytes of each commit's fan-out: all commits, then by [`COMMIT_KINDS`].
    burst: Histogram<u64>,
    burst_kind: [Histogram<u64>; COMMIT_KINDS.len()],
}

fn hist() -> Histogram<u64> {
    Histogram::new(3).expect("3 significant figures is a valid histogram precision")
}

fn minute_of(time: f64) -> u64 {
    (time / MINUTE).floor().max(0.0) as u64
}

impl Recorder {
    /// A recorder for a group of `present` devices, `online` of them not long offline.
    pub fn new(present: u64, online: u64) -> Self {
        Recorder {
            minutes: BTreeMap::new(),
            membership: vec![(0.0, present, online)],
            burst: hist(),
            burst_kind: std::array::from_fn(|_| hist()),
        }
    }

    fn at(&mut self, time: f64) -> &mut Traffic {
        self.minutes.entry(minute_of(time)).or_default()
    }

    /// A message a member sends at `time` and the DS fans out: `copies` copies, of which
    /// `held` go to long-offline devices.
    pub fn fan_out(&mut self, time: f64, bytes: u64, copies: u64, held: u64) {
        let t = self.at(time);
        t.ingress_bytes += bytes;
        t.messages_in += 1;
        t.egress_bytes += bytes * copies;
        t.messages_out += copies;
        t.commit_egress_bytes += bytes * copies;
        t.held_bytes += bytes * held;
    }

    /// Something the DS keeps and serves `copies` times at `time` (the tree to joiners when
    /// Welcomes do not carry it): egress only.
    pub fn serve(&mut self, time: f64, bytes: u64, copies: u64) {
        let t = self.at(time);
        t.egress_bytes += bytes * copies;
        t.messages_out += copies;
        t.commit_egress_bytes += bytes * copies;
    }

    /// A joining device's KeyPackages at `time`: `uploads` uploads of `bytes` each, and one
    /// fetched by the committer that adds it.
    pub fn key_packages(&mut self, time: f64, bytes: u64, uploads: u64) {
        let t = self.at(time);
        t.ingress_bytes += bytes * uploads;
        t.messages_in += uploads;
        t.egress_bytes += bytes;
        t.messages_out += 1;
        t.key_package_uploads += uploads;
        t.key_package_fetches += 1;
        t.key_package_ingress_bytes += bytes * uploads;
        t.key_package_egress_bytes += bytes;
    }

    /// The egress of one commit's fan-out (commit, Welcomes, trees), of kind `kind` (an
    /// index in [`COMMIT_KINDS`]).
    pub fn burst(&mut self, kind: usize, bytes: u64) -> Result<()> {
        for h in [&mut self.burst, &mut self.burst_kind[kind]] {
            h.record(bytes.max(1))
                .map_err(|e| anyhow!("recording {bytes} in a histogram: {e:?}"))?;
        }
        Ok(())
    }

    /// The membership after a commit at `time`.
    pub fn membership(&mut self, time: f64, present: u64, online: u64) {
        self.membership.push((time, present, online));
    }

    /// The run's figures. Walks every minute of the run: application messages are added
    /// minute by minute, `app_messages_per_member_day` per online device (the rate a weekly
    /// mean, shaped by `shape`) with the membership at the minute's start; the count of a
    /// minute is the whole messages the running expected total gained (`⌊E(m+1)⌋ − ⌊E(m)⌋`),
    /// so every count is exact, deterministic, and they add up to the run's expected total.
    /// Each goes to every other present device; copies to long-offline devices are held
    /// `ds_retention_days`, then dropped.
    pub fn finish(
        self,
        w: &Workload,
        shape: &ArrivalShape,
        app: AppMessage,
        mut storage: Storage,
    ) -> Result<Finished> {
        let end = w.days * DAY;
        let total_minutes = (end / MINUTE).ceil().max(1.0) as u64;
        let hours = (end / 3600.0).ceil().max(1.0) as usize;
        let days_n = w.days.ceil().max(1.0) as usize;
        let retention = ((w.ds_retention_days * DAY / MINUTE).round() as u64).max(1);
        let rate = w.app_messages_per_member_day / DAY;
        let wire = app.wire_bytes;
        let app_cpu = |count: u64, recipients: u64| {
            (app.send_cost_ns + recipients as f64 * app.receive_cost_ns) * count as f64 * 1e-9
        };

        let mut hourly = Hourly::default();
        for v in [
            &mut hourly.ingress_bytes,
            &mut hourly.egress_bytes,
            &mut hourly.messages_in,
            &mut hourly.messages_out,
            &mut hourly.commit_egress_bytes,
            &mut hourly.app_messages,
            &mut hourly.held_bytes,
            &mut hourly.backlog_bytes,
        ] {
            *v = vec![0; hours];
        }
        let mut days = vec![DayTraffic::default(); days_n];
        let mut peak: Option<(u64, Traffic)> = None;
        let mut window: VecDeque<u64> = VecDeque::new();
        let mut backlog = 0u64;
        let mut backlog_peak = (0u64, 0u64);
        let mut expected = 0.0f64;
        let mut sent = 0u64;
        let mut membership = self.membership.iter().peekable();
        let (mut present, mut online) = (0u64, 0u64);
        let mut events = self.minutes.into_iter().peekable();
        for m in 0..total_minutes {
            let t0 = m as f64 * MINUTE;
            let t1 = ((m + 1) as f64 * MINUTE).min(end);
            while let Some(&&(t, p, o)) = membership.peek() {
                if t > t0 {
                    break;
                }
                (present, online) = (p, o);
                membership.next();
            }
            let mut traffic = Traffic::default();
            while let Some((em, _)) = events.peek() {
                if *em > m {
                    break;
                }
                // Messages are only recorded before the end, so never past the last minute.
                let (_, t) = events.next().expect("peeked");
                traffic.add(&t);
            }
            if rate > 0.0 {
                expected +=
                    online as f64 * rate * (shape.to_mean_time(t1) - shape.to_mean_time(t0));
                let count = (expected.floor() as u64).saturating_sub(sent);
                sent += count;
                let recipients = present.saturating_sub(1);
                let app_traffic = Traffic {
                    ingress_bytes: count * wire,
                    egress_bytes: count * wire * recipients,
                    messages_in: count,
                    messages_out: count * recipients,
                    held_bytes: count * wire * (present - online),
                    app_messages: count,
                    app_ingress_bytes: count * wire,
                    app_egress_bytes: count * wire * recipients,
                    ..Traffic::default()
                };
                traffic.add(&app_traffic);
                let d = ((m / 1440) as usize).min(days_n - 1);
                days[d].app_member_cpu_s += app_cpu(count, recipients);
            }
            let h = ((m / 60) as usize).min(hours - 1);
            hourly.ingress_bytes[h] += traffic.ingress_bytes;
            hourly.egress_bytes[h] += traffic.egress_bytes;
            hourly.messages_in[h] += traffic.messages_in;
            hourly.messages_out[h] += traffic.messages_out;
            hourly.commit_egress_bytes[h] += traffic.commit_egress_bytes;
            hourly.app_messages[h] += traffic.app_messages;
            hourly.held_bytes[h] += traffic.held_bytes;
            let d = &mut days[((m / 1440) as usize).min(days_n - 1)];
            d.ingress_bytes += traffic.ingress_bytes;
            d.egress_bytes += traffic.egress_bytes;
            d.messages_in += traffic.messages_in;
            d.messages_out += traffic.messages_out;
            d.app_messages += traffic.app_messages;
            d.app_ingress_bytes += traffic.app_ingress_bytes;
            d.app_egress_bytes += traffic.app_egress_bytes;
            d.key_package_uploads += traffic.key_package_uploads;
            d.key_package_fetches += traffic.key_package_fetches;
            d.key_package_ingress_bytes += traffic.key_package_ingress_bytes;
            d.key_package_egress_bytes += traffic.key_package_egress_bytes;
            if peak.is_none_or(|(_, p)| traffic.egress_bytes > p.egress_bytes) {
                peak = Some((m, traffic));
            }
            // The backlog: what was held in the last `retention` minutes.
            backlog += traffic.held_bytes;
            window.push_back(traffic.held_bytes);
            if window.len() as u64 > retention {
                backlog -= window.pop_front().expect("longer than the retention");
            }
            if backlog > backlog_peak.0 {
                backlog_peak = (backlog, m);
            }
            hourly.backlog_bytes[h] = backlog;
        }
        let (peak_m, peak_t) = peak.unwrap_or_default();
        storage.retention_days = w.ds_retention_days;
        storage.backlog_bytes_peak = backlog_peak.0;
        storage.backlog_peak_minutes = vec![backlog_peak.1];
        storage.backlog_bytes_end = backlog;
        let mut histograms = vec![(
            "ds_commit_burst_bytes".to_string(),
            hist_encode(&self.burst)?,
        )];
        for (i, kind) in COMMIT_KINDS.iter().enumerate() {
            histograms.push((
                format!("ds_commit_burst_bytes.{kind}"),
                hist_encode(&self.burst_kind[i])?,
            ));
        }
        Ok(Finished {
            report: DsReport {
                hours: hours as u64,
                hourly,
                peak_minute: PeakMinute {
                    minutes: vec![peak_m],
                    ingress_bytes: peak_t.ingress_bytes,
                    egress_bytes: peak_t.egress_bytes,
                    messages_in: peak_t.messages_in,
                    messages_out: peak_t.messages_out,
                },
                storage,
                app_message: app,
            },
            days,
            histograms,
        })
    }
}

/// The point's `ds`: every figure the mean over the runs (counts rounded to the nearest
/// integer, element by element for the hourly series), the peak minutes listed per run.
pub fn merge(runs: &[&DsReport]) -> DsReport {
    let runs: Vec<&DsReport> = runs.iter().copied().filter(|r| r.hours > 0).collect();
    let Some(first) = runs.first() else {
        return DsReport::default();
    };
    let k = runs.len() as f64;
    let mean = |f: &dyn Fn(&DsReport) -> u64| {
        (runs.iter().map(|r| f(r) as f64).sum::<f64>() / k).round() as u64
    };
    let series = |f: &dyn Fn(&Hourly) -> &Vec<u64>| -> Vec<u64> {
        let len = runs.iter().map(|r| f(&r.hourly).len()).max().unwrap_or(0);
        (0..len)
            .map(|i| {
                let those: Vec<u64> = runs
                    .iter()
                    .filter_map(|r| f(&r.hourly).get(i).copied())
                    .collect();
                (those.iter().map(|&v| v as f64).sum::<f64>() / those.len() as f64).round() as u64
            })
            .collect()
    };
    let mut send_counts = Work::new();
    let mut receive_counts = Work::new();
    for r in &runs {
        add_work(&mut send_counts, &r.app_message.send_counts, 1.0 / k);
        add_work(&mut receive_counts, &r.app_message.receive_counts, 1.0 / k);
    }
    DsReport {
        hours: runs.iter().map(|r| r.hours).max().unwrap_or(0),
        hourly: Hourly {
            ingress_bytes: series(&|h| &h.ingress_bytes),
            egress_bytes: series(&|h| &h.egress_bytes),
            messages_in: series(&|h| &h.messages_in),
            messages_out: series(&|h| &h.messages_out),
            commit_egress_bytes: series(&|h| &h.commit_egress_bytes),
            app_messages: series(&|h| &h.app_messages),
            held_bytes: series(&|h| &h.held_bytes),
            backlog_bytes: series(&|h| &h.backlog_bytes),
        },
        peak_minute: PeakMinute {
            minutes: runs
                .iter()
                .flat_map(|r| r.peak_minute.minutes.clone())
                .collect(),
            ingress_bytes: mean(&|r| r.peak_minute.ingress_bytes),
            egress_bytes: mean(&|r| r.peak_minute.egress_bytes),
            messages_in: mean(&|r| r.peak_minute.messages_in),
            messages_out: mean(&|r| r.peak_minute.messages_out),
        },
        storage: Storage {
            retention_days: first.storage.retention_days,
            tree_bytes_start: mean(&|r| r.storage.tree_bytes_start),
            tree_bytes_end: mean(&|r| r.storage.tree_bytes_end),
            group_info_bytes_start: mean(&|r| r.storage.group_info_bytes_start),
            group_info_bytes_end: mean(&|r| r.storage.group_info_bytes_end),
            key_package_bytes_start: mean(&|r| r.storage.key_package_bytes_start),
            key_package_bytes_end: mean(&|r| r.storage.key_package_bytes_end),
            backlog_bytes_peak: mean(&|r| r.storage.backlog_bytes_peak),
            backlog_peak_minutes: runs
                .iter()
                .flat_map(|r| r.storage.backlog_peak_minutes.clone())
                .collect(),
            backlog_bytes_end: mean(&|r| r.storage.backlog_bytes_end),
        },
        app_message: AppMessage {
            plaintext_bytes: mean(&|r| r.app_message.plaintext_bytes),
            wire_bytes: mean(&|r| r.app_message.wire_bytes),
            send_counts,
            receive_counts,
            send_cost_ns: runs.iter().map(|r| r.app_message.send_cost_ns).sum::<f64>() / k,
            receive_cost_ns: runs
                .iter()
                .map(|r| r.app_message.receive_cost_ns)
                .sum::<f64>()
                / k,
        },
    }
}
