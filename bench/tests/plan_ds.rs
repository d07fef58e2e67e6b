//! The delivery-service model of `canopy plan`: hourly traffic that adds up to the days and to
//! the per-day fan-out, a peak minute that an office week raises, application messages of the
//! engine's exact size, storage figures that are the engine's encodings, a backlog that the
//! retention bounds, KeyPackages of the real joiners.

mod common;
use common::{counting, sim_options};

use canopy_bench::plan::ds::DsReport;
use canopy_bench::plan::report::{hist_decode, Run};
use canopy_bench::plan::{simulate, simulate_to_end};
use canopy_engine::codec::{
    self, ExtensionType, MlsMessage, MlsMessageBody, ProtocolVersion, Size,
};
use canopy_engine::crypto::Secret;
use canopy_engine::group::{GroupConfig, Randomness};
use canopy_engine::key_package::{default_lifetime, key_package_from_seed, Clock};
use canopy_engine::tree::LeafIndex;
use canopy_engine::TreeDelivery;
use canopy_workloads::churn::{builtin, ArrivalProfile, UpdatePolicy, Workload};
use canopy_workloads::{generate, StateConfig};

/// The smoke workload (3 days, Monday to Wednesday, a fifth of the persons long offline).
fn smoke() -> Workload {
    builtin("smoke").unwrap()
}

/// Simulate `w` (the caller holds the counter lock: every test here also runs the engine
/// itself, which other tests' counts must not see).
fn run(w: &Workload) -> Run {
    simulate(w, None, &sim_options()).unwrap()
}

/// The sum of `series` over the hours of day `d`.
fn day_sum(series: &[u64], d: usize) -> u64 {
    series.iter().skip(24 * d).take(24).sum()
}

/// Every hourly series has one value per hour of the run.
fn assert_hours(ds: &DsReport, w: &Workload) {
    let hours = (w.days * 24.0).ceil() as usize;
    assert_eq!(ds.hours, hours as u64);
    let h = &ds.hourly;
    for s in [
        &h.ingress_bytes,
        &h.egress_bytes,
        &h.messages_in,
        &h.messages_out,
        &h.commit_egress_bytes,
        &h.app_messages,
        &h.held_bytes,
        &h.backlog_bytes,
    ] {
        assert_eq!(s.len(), hours);
    }
}

/// The hours of each day add up to the day's totals exactly, and the commit-related egress of
/// a day is the day's `ds_fanout_bytes`, which the simulation counts apart (per commit, and
/// per Update proposal on the day it was sent). Checked with defaults, and with application
/// messages, kept KeyPackages and Update proposals batched across midnight.
#[test]
fn hourly_sums_equal_the_daily_totals() {
    let _counting = counting();
    let busy = Workload {
        app_messages_per_member_day: 40.0,
        key_packages_per_device: 2,
        update_interval_days: 0.5,
        update_policy: UpdatePolicy::Batched,
        update_batch_minutes: 180.0,
        arrival_profile: ArrivalProfile::Office,
        ..smoke()
    };
    for w in [smoke(), busy] {
        let r = run(&w);
        let ds = &r.ds;
        assert_hours(ds, &w);
        let h = &ds.hourly;
        for (d, day) in r.days.iter().enumerate() {
            let at = format!("{} day {d}", w.name);
            assert_eq!(
                day_sum(&h.commit_egress_bytes, d),
                day.ds_fanout_bytes,
                "{at}"
            );
            assert_eq!(day_sum(&h.ingress_bytes, d), day.ds_ingress_bytes, "{at}");
            assert_eq!(day_sum(&h.egress_bytes, d), day.ds_egress_bytes, "{at}");
            assert_eq!(day_sum(&h.messages_in, d), day.ds_messages_in, "{at}");
            assert_eq!(day_sum(&h.messages_out, d), day.ds_messages_out, "{at}");
            assert_eq!(day_sum(&h.app_messages, d), day.app_messages, "{at}");
            // Egress is the commits' fan-out, the application messages and the KeyPackages.
            assert_eq!(
                day.ds_egress_bytes,
                day.ds_fanout_bytes + day.app_egress_bytes + day.key_package_egress_bytes,
                "{at}"
            );
            // Every commit is received once, every joiner's KeyPackage is fetched once.
            assert!(day.ds_messages_in >= day.commits + day.app_messages, "{at}");
            assert_eq!(day.key_package_fetches, day.adds, "{at}");
            let k = u64::from(w.key_packages_per_device);
            let uploads = if k == 0 { 1 } else { k + 1 };
            assert_eq!(day.key_package_uploads, uploads * day.adds, "{at}");
        }
        let t = &r.totals;
        let ingress: u64 = r.days.iter().map(|d| d.ds_ingress_bytes).sum();
        let commit_bytes: u64 = r.days.iter().map(|d| d.commit_bytes).sum();
        let app: u64 = r.days.iter().map(|d| d.app_ingress_bytes).sum();
        let kps: u64 = r.days.iter().map(|d| d.key_package_ingress_bytes).sum();
        // Plus the Welcomes, which are not in the totals.
        assert!(ingress > commit_bytes + t.proposal_bytes + app + kps);
        // The burst histogram has one value per commit, partitioned by kind.
        let burst = hist_decode(&r.histograms["ds_commit_burst_bytes"]).unwrap();
        assert_eq!(burst.len(), t.commits);
        let by_kind: u64 = ["update", "add", "remove", "mixed"]
            .iter()
            .map(|k| {
                hist_decode(&r.histograms[&format!("ds_commit_burst_bytes.{k}")])
                    .unwrap()
                    .len()
            })
            .sum();
        assert_eq!(by_kind, t.commits);
    }
}

/// Application messages: every one has the wire size of a real application message the
/// engine encrypts at the run's settings (a state of the same start group), so their bytes
/// are count × size; each is sent to every other member; their number follows the rate of
/// the online devices.
#[test]
fn app_message_bytes_are_count_times_the_exact_wire_size() {
    let _counting = counting();
    let w = Workload {
        app_messages_per_member_day: 100.0,
        app_message_bytes: 321,
        ..smoke()
    };
    let r = run(&w);
    let app = &r.ds.app_message;
    // The size, from the engine directly: the start state's administrator encrypts 321 bytes.
    let cfg = StateConfig {
        now: 1_800_000_000 - 1_800_000_000 % 86_400,
        ..StateConfig::new(w.state_kind().unwrap(), w.members, w.seed)
    };
    let state = generate(&cfg).unwrap();
    let config = GroupConfig {
        clock: Clock::Fixed(cfg.now),
        randomness: Randomness::Seeded(Secret::new(vec![7; 32])),
        ..GroupConfig::default()
    };
    let mut g = state.member_group(LeafIndex(w.admin), config).unwrap();
    let sent = g.protect_application(&[0u8; 321]).unwrap();
    assert_eq!(app.wire_bytes, sent.len() as u64);
    assert_eq!(app.plaintext_bytes, 321);
    // One signature to send, one verification to receive, and the plaintext encrypted and
    // decrypted.
    assert_eq!(app.send_counts["ed25519_sign"], 1.0);
    assert_eq!(app.receive_counts["ed25519_verify"], 1.0);
    assert!(app.send_counts["aead_bytes"] >= 321.0);
    assert!(app.receive_counts["aead_bytes"] >= 321.0);
    // The test profile prices every unit at 1 ns.
    let units = |w: &std::collections::BTreeMap<String, f64>| w.values().sum::<f64>();
    assert_eq!(app.send_cost_ns, units(&app.send_counts));

    let min_members = *r.commits.members.iter().min().unwrap().min(&60);
    let max_members = *r.commits.members.iter().max().unwrap().max(&60);
    let mut total = 0;
    for (d, day) in r.days.iter().enumerate() {
        assert!(day.app_messages > 0, "day {d}");
        assert_eq!(day.app_ingress_bytes, day.app_messages * app.wire_bytes);
        assert_eq!(day.app_egress_bytes % app.wire_bytes, 0);
        let copies = day.app_egress_bytes / app.wire_bytes;
        assert!(copies >= day.app_messages * (min_members - 1), "day {d}");
        assert!(copies <= day.app_messages * (max_members - 1), "day {d}");
        assert!(day.app_member_cpu_s > 0.0);
        total += day.app_messages;
    }
    // About 100 per online device per day: roughly four fifths of ~60 devices, 3 days.
    let expected = 100.0 * 0.8 * 60.0 * 3.0;
    assert!(
        (total as f64 - expected).abs() < 0.25 * expected,
        "{total} vs {expected}"
    );
    // The default run sends none but still sizes one (200 bytes of plaintext).
    let quiet = run(&smoke());
    assert_eq!(quiet.ds.app_message.plaintext_bytes, 200);
    assert_eq!(
        quiet.ds.app_message.wire_bytes + 121,
        app.wire_bytes,
        "121 more plaintext bytes, 121 more on the wire"
    );
    assert!(quiet.days.iter().all(|d| d.app_messages == 0));
}

/// An office week concentrates the same traffic into working hours: on the same seed its
/// busiest minute carries at least the flat run's, and its busiest hour of application
/// messages far more.
#[test]
fn office_profile_raises_the_peak_minute() {
    let _counting = counting();
    let flat = Workload {
        app_messages_per_member_day: 1000.0,
        ..smoke()
    };
    let office = Workload {
        arrival_profile: ArrivalProfile::Office,
        ..flat.clone()
    };
    let f = run(&flat);
    let o = run(&office);
    assert!(
        o.ds.peak_minute.egress_bytes >= f.ds.peak_minute.egress_bytes,
        "office {:?} vs flat {:?}",
        o.ds.peak_minute,
        f.ds.peak_minute
    );
    let busiest = |r: &Run| *r.ds.hourly.app_messages.iter().max().unwrap();
    assert!(
        busiest(&o) > 2 * busiest(&f),
        "{} vs {}",
        busiest(&o),
        busiest(&f)
    );
    // The peak minute is one of the run's minutes, with its traffic.
    for r in [&f, &o] {
        let pm = &r.ds.peak_minute;
        assert_eq!(pm.minutes.len(), 1);
        let hour = (pm.minutes[0] / 60) as usize;
        assert!(pm.egress_bytes <= r.ds.hourly.egress_bytes[hour]);
        assert!(pm.ingress_bytes <= r.ds.hourly.ingress_bytes[hour]);
        assert!(pm.egress_bytes > 0 && pm.messages_out > 0);
    }
    // Office nights are quiet: 03:00 on Tuesday sends a small fraction of 10:00's messages.
    let h = &o.ds.hourly.app_messages;
    assert!(
        h[24 + 3] * 10 < h[24 + 10],
        "{} vs {}",
        h[24 + 3],
        h[24 + 10]
    );
}

/// Storage: the tree and the GroupInfo (with `external_pub` and the tree, as published for
/// external joins) at the start are the engine's encodings of the start state, and at the end
/// those of the final state, whose tree holds the run's final members; KeyPackages kept on
/// the DS are the real KeyPackages of the devices' identities.
#[test]
fn storage_equals_the_engine_encodings() {
    let w = Workload {
        key_packages_per_device: 3,
        ..smoke()
    };
    let _counting = counting();
    let (r, end) = simulate_to_end(&w, None, &sim_options()).unwrap();
    let st = &r.ds.storage;
    let cfg = StateConfig {
        now: 1_800_000_000 - 1_800_000_000 % 86_400,
        ..StateConfig::new(w.state_kind().unwrap(), w.members, w.seed)
    };
    let state = generate(&cfg).unwrap();
    let config = GroupConfig {
        clock: Clock::Fixed(cfg.now),
        ..GroupConfig::default()
    };
    let start = state.member_group(LeafIndex(w.admin), config).unwrap();
    let start_epoch = start.context().epoch;
    assert_eq!(
        st.tree_bytes_start,
        start.ratchet_tree_bytes().unwrap().len() as u64
    );
    assert_eq!(
        st.group_info_bytes_start,
        start.group_info(TreeDelivery::Included).unwrap().len() as u64
    );
    let tree = end.ratchet_tree_bytes().unwrap();
    let gi = end.group_info(TreeDelivery::Included).unwrap();
    assert_eq!(st.tree_bytes_end, tree.len() as u64);
    assert_eq!(st.group_info_bytes_end, gi.len() as u64);
    assert_ne!(st.tree_bytes_end, st.tree_bytes_start, "the tree changed");
    // The GroupInfo carries that very tree, and the tree the run's final members.
    let MlsMessageBody::GroupInfo(info) = codec::decode::<MlsMessage>(&gi).unwrap().body else {
        panic!("not a GroupInfo");
    };
    let carried = info
        .extensions
        .iter()
        .find(|e| e.extension_type == ExtensionType::RATCHET_TREE)
        .unwrap();
    assert_eq!(carried.extension_data.as_slice(), tree.as_slice());
    assert_eq!(end.tree().leaves().count() as u64, r.totals.members_end);
    assert_eq!(info.group_context.epoch, start_epoch + r.totals.commits);
    // KeyPackages: 3 real ones per initial device at the start.
    let provider = state.provider;
    let mut kp_start = 0;
    for leaf in 0..w.members {
        let (person, device) = (leaf / w.devices_per_person, leaf % w.devices_per_person);
        let identity = format!("person-{person}-device-{device}");
        let (kp, _) = key_package_from_seed(
            &provider,
            identity.as_bytes(),
            &[9; 32],
            default_lifetime(cfg.now),
        )
        .unwrap();
        let m = MlsMessage {
            version: ProtocolVersion::MLS10,
            body: MlsMessageBody::KeyPackage(kp),
        };
        kp_start += 3 * m.tls_serialized_len() as u64;
    }
    assert_eq!(st.key_package_bytes_start, kp_start);
    assert!(st.key_package_bytes_end > 0);
    // Without kept KeyPackages, none are stored.
    let plain = run(&smoke());
    assert_eq!(plain.ds.storage.key_package_bytes_start, 0);
    assert_eq!(plain.ds.storage.key_package_bytes_end, 0);
}

/// The backlog held for long-offline devices is, at the end of every hour, exactly what was
/// held in the last `ds_retention_days` (12 hours here): never more, so the retention bounds
/// it. With the default 30 days nothing expires in 3 days.
#[test]
fn backlog_is_bounded_by_the_retention() {
    let _counting = counting();
    let short = Workload {
        app_messages_per_member_day: 50.0,
        ds_retention_days: 0.5,
        ..smoke()
    };
    let r = run(&short);
    let h = &r.ds.hourly;
    let window = 12;
    let mut largest_window = 0;
    for hour in 0..h.backlog_bytes.len() {
        let from = (hour + 1).saturating_sub(window);
        let held: u64 = h.held_bytes[from..=hour].iter().sum();
        assert_eq!(h.backlog_bytes[hour], held, "hour {hour}");
        largest_window = largest_window.max(held);
    }
    let st = &r.ds.storage;
    let total_held: u64 = h.held_bytes.iter().sum();
    assert!(st.backlog_bytes_peak > 0);
    assert!(st.backlog_bytes_peak >= largest_window);
    assert!(
        st.backlog_bytes_peak < total_held,
        "retention drops old messages"
    );
    assert_eq!(st.backlog_bytes_end, *h.backlog_bytes.last().unwrap());
    assert_eq!(st.retention_days, 0.5);
    // Thirty days keep everything of three.
    let long = run(&Workload {
        ds_retention_days: 30.0,
        ..short.clone()
    });
    let held: u64 = long.ds.hourly.held_bytes.iter().sum();
    assert_eq!(long.ds.storage.backlog_bytes_end, held);
    assert_eq!(long.ds.storage.backlog_bytes_peak, held);
    // No long-offline devices, no backlog.
    let online = run(&Workload {
        offline_fraction: 0.0,
        ..short
    });
    assert_eq!(online.ds.storage.backlog_bytes_peak, 0);
    assert!(online.ds.hourly.held_bytes.iter().all(|&b| b == 0));
}

/// The example sweep compares a flat week, an office week, and an office week with
/// application messages and kept KeyPackages, on the same churn.
#[test]
fn delivery_service_sweep_example_parses() {
    use canopy_bench::plan::sweep_jobs;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("deploy/sweep-delivery-service.toml")).unwrap();
    let jobs = sweep_jobs(&text, None, None).unwrap();
    let mut seen: Vec<(ArrivalProfile, u64, u32)> = jobs
        .iter()
        .map(|j| {
            let w = &j.workload;
            assert_eq!((w.members, w.days), (10_000, 14.0));
            (
                w.arrival_profile,
                w.app_messages_per_member_day as u64,
                w.key_packages_per_device,
            )
        })
        .collect();
    seen.dedup();
    assert_eq!(
        seen,
        vec![
            (ArrivalProfile::Flat, 0, 0),
            (ArrivalProfile::Office, 0, 0),
            (ArrivalProfile::Office, 20, 5),
        ]
    );
}
